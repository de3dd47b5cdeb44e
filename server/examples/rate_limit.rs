//! Flood control: token-bucket rate limits per socket and per event. Past the socket's
//! limit the server stops reading the client until the bucket refills (the client is
//! slowed, nothing is dropped); a packet past an event's limit is dropped, and the
//! client's ack (when it asked for one) is answered with `{ error: "rate limited" }`. A
//! client that keeps flooding (held back for 10 s, or more than 100 drops in 10 s, by
//! default) is disconnected ("io server disconnect"). docs/bounds.md has the details.
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! for (let i = 1; i <= 4; i++) {
//!   socket.emit("chat message", `hi ${i}`, (ack) => console.log(ack));
//! }
//! // "sent", "sent", "sent", { error: "rate limited" }
//! ```
//!
//! `cargo run -p sockeye-server --example rate_limit`

mod common;

use sockeye_server::{Cors, RateLimit, SocketIo};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder()
        .cors(Cors::Any)
        // Every socket: 20 events a second, all events together, in bursts of 40.
        .rate_limit(RateLimit::per_second(20).burst(40))
        .build();
    // And at most one chat message a second, in bursts of 3.
    io.of("/")
        .rate_limit("chat message", RateLimit::per_second(1).burst(3));
    io.of("/").on_connection(|socket| async move {
        socket.on("chat message", |socket, (text,): (String,)| async move {
            socket.broadcast().emit("chat message", text).ok();
            "sent"
        });
        socket.on_disconnect(|socket, reason| async move {
            eprintln!("{} left: {reason}", socket.id());
        });
    });
    common::serve(io, axum::Router::new()).await;
}
