//! Emitting from background work: a tokio task ticks every second and pushes to every
//! client, and an ordinary HTTP route pushes whatever it is sent. Neither is a Socket.IO
//! handler: `SocketIo` is a cheap handle to clone anywhere.
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("tick", (n) => console.log("tick", n));
//! socket.on("job-done", (job) => console.log(job));
//! // elsewhere: curl -X POST -d 'report.pdf' http://127.0.0.1:3000/jobs
//! ```
//!
//! `cargo run -p sockeye-server --example background_emit` (TICK_MS sets the period)

mod common;

use axum::routing::post;
use sockeye_server::{json, Cors, SocketIo};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    io.of("/").on_connection(|_socket| async {});

    let period = std::env::var("TICK_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(1));
    let ticker = io.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        for n in 0u64.. {
            interval.tick().await;
            ticker.emit("tick", n).ok();
        }
    });

    // A finished job, reported over HTTP by some other program.
    let jobs = io.clone();
    let routes = axum::Router::new().route(
        "/jobs",
        post(move |name: String| {
            let io = jobs.clone();
            async move {
                io.emit("job-done", json!({"job": name})).ok();
                "ok"
            }
        }),
    );
    common::serve(io, routes).await;
}
