//! Namespaces: separate channels on one connection, each with its own handlers.
//! Namespaces matching a rule can also be created on first use.
//!
//! ```js
//! const orders = io("http://127.0.0.1:3000/orders");
//! const admin = io("http://127.0.0.1:3000/admin");     // same connection as /orders
//! orders.emit("whoami", (ns) => console.log(ns));       // "/orders"
//! const team = io("http://127.0.0.1:3000/team-blue");   // made on first join
//! team.emit("whoami", (ns) => console.log(ns));         // "/team-blue"
//! ```
//!
//! `cargo run -p sockeye-server --example namespaces`

mod common;

use sockeye_server::{Cors, SocketIo};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    for name in ["/orders", "/admin"] {
        io.of(name).on_connection(|socket| async move {
            socket.on("whoami", |socket, (): ()| async move {
                socket.namespace().to_owned()
            });
        });
    }
    // Any `/team-*` namespace exists as soon as a client joins it.
    io.dynamic(|name| name.starts_with("/team-"))
        .on_connection(|socket| async move {
            socket.on("whoami", |socket, (): ()| async move {
                socket.namespace().to_owned()
            });
        });
    common::serve(io, axum::Router::new()).await;
}
