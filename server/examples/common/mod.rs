//! What every feature example shares: listen on 127.0.0.1:$PORT (3000 by default, 0 for
//! any), print `listening on ADDR`, serve until Ctrl-C or SIGTERM, then close gracefully.

use sockeye_server::SocketIo;
use std::net::SocketAddr;

/// Serves `io` (and `extra` routes) until a shutdown signal.
#[allow(dead_code)] // the `layer` example mounts the endpoint itself, with `serve_app`
pub async fn serve(io: SocketIo, extra: axum::Router) {
    let app = extra.merge(io.router());
    serve_app(io, app).await;
}

/// Serves `app`, which mounts `io` itself, until a shutdown signal; then closes `io`.
pub async fn serve_app(io: SocketIo, app: axum::Router) {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind 127.0.0.1:$PORT");
    println!(
        "listening on {}",
        listener.local_addr().expect("local address")
    );
    let closing = io.clone();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        closing.close().await;
    })
    .await
    .expect("serve");
}
