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
    pub at: chrono::DateTime<chrono::Utc>,
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 302 with this Location.
    Redirect(String),
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<AtomicUsize>,
    /// Answers for the first requests, in order; 200 once it runs out (unless `forever` is set).
    plan: Arc<Mutex<std::collections::VecDeque<Reply>>>,
    forever: Arc<Mutex<Option<Reply>>>,
    /// Events (array items) in requests answered 2xx, for waiting on large counts cheaply.
    events_ok: Arc<AtomicUsize>,
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
    let planned = shared.plan.lock().ok().and_then(|mut p| p.pop_front());
    let forever = shared.forever.lock().ok().and_then(|f| f.clone());
    let reply = match (failing, planned, forever) {
        (true, _, _) => Reply::Status(503),
        (false, Some(reply), _) | (false, None, Some(reply)) => reply,
        (false, None, None) => Reply::Status(200),
    };
    let status = match &reply {
        Reply::Status(code) => *code,
        Reply::Redirect(_) => 302,
    };
    if (200..300).contains(&status) {
        let items = serde_json::from_slice::<Vec<serde_json::Value>>(&body).map_or(0, |a| a.len());
        shared.events_ok.fetch_add(items, Ordering::SeqCst);
    }
    if let Ok(mut list) = shared.received.lock() {
        list.push(Received { headers, body: body.to_vec(), status, at: chrono::Utc::now() });
    }
    let code = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(code);
    if let Reply::Redirect(location) = reply {
        response.insert_header(("Location", location));
    }
    response.body("ok")
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

    /// Answers the next requests with `replies`, in order.
    pub fn plan(&self, replies: Vec<Reply>) {
        if let Ok(mut plan) = self.shared.plan.lock() {
            plan.extend(replies);
        }
    }

    /// Answers every request (after any planned ones) with `reply`.
    pub fn always(&self, reply: Reply) {
        if let Ok(mut forever) = self.shared.forever.lock() {
            *forever = Some(reply);
        }
    }

    /// Events received in requests answered 2xx.
    pub fn events_ok(&self) -> usize {
        self.shared.events_ok.load(Ordering::SeqCst)
    }

    /// Back to answering 200 (after any planned replies).
    pub fn recover(&self) {
        if let Ok(mut forever) = self.shared.forever.lock() {
            *forever = None;
        }
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
