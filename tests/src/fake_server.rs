//! Fakes of the systems around ffsec (recognition service, video manager, Genetec Web SDK): an
//! actix server on a random loopback port sharing one state with the test.

use std::net::SocketAddr;

use actix_web::{App, HttpServer, web};

/// Serves `routes`, each handler reading `state` as `web::Data<T>`; stopped by the returned handle.
pub fn serve<T: Send + Sync + 'static>(
    state: T,
    workers: usize,
    routes: fn(&mut web::ServiceConfig),
) -> anyhow::Result<(SocketAddr, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
        .workers(workers)
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((addr, handle))
}
