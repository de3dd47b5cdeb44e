//! The Socket.IO endpoint as a tower layer: an app's own axum `Router` with
//! `.layer(io.layer())`, instead of merging `io.router()`. Requests to `/socket.io/` are
//! Sockeye's; every other request goes on to the app's routes.
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.emit("hello", "layer", (reply) => console.log(reply)); // "hello, layer"
//! ```
//!
//! `curl http://127.0.0.1:3000/health` answers `ok` from the app's own route.
//!
//! `cargo run -p sockeye-server --example layer`

mod common;

use axum::routing::get;
use axum::Router;
use sockeye_server::{Cors, SocketIo};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    io.of("/").on_connection(|socket| async move {
        socket.on("hello", |_, (name,): (String,)| async move {
            format!("hello, {name}")
        });
    });
    // The layer wraps every route of the router (and its fallback), so the endpoint
    // answers although the router has no route at its path.
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .layer(io.layer());
    common::serve_app(io, app).await;
}
