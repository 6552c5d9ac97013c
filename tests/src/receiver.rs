//! A webhook consumer: records every request it gets. It answers 503 to the first
//! `fail_first` requests, so tests see the dispatcher's retries at work.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// What we answered.
    pub status: u16,
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<AtomicUsize>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    handle: actix_web::dev::ServerHandle,
}

async fn post_any(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let failing = shared.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name.as_str().as_bytes()), http::HeaderValue::from_bytes(value.as_bytes()))
        {
            headers.append(name, value);
        }
    }
    let status = if failing { 503 } else { 200 };
    if let Ok(mut list) = shared.received.lock() {
        list.push(Received { headers, body: body.to_vec(), status });
    }
    if failing { HttpResponse::ServiceUnavailable().finish() } else { HttpResponse::Ok().finish() }
}

impl Receiver {
    pub fn start(fail_first: usize) -> anyhow::Result<Self> {
        let shared = Shared { failures_left: Arc::new(AtomicUsize::new(fail_first)), ..Shared::default() };
        let data = web::Data::new(shared.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::post().to(post_any)))
                .workers(1)
                .disable_signals()
                .listen(listener)?
                .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { addr, shared, handle })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}
