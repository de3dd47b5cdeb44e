//! `/stream`: text streamed one character at a time (`start_stream` → `new_char`...,
//! then `stream_end`). Each stream is its own task that sleeps between characters, so
//! thousands of streams cost timers, not threads, and never block other clients.

use sockeye_server::{json, SocketIo, Value};
use std::time::Duration;

/// What is streamed when the client sends no text of its own.
const TEXT: &str = "Sockeye streams this sentence to you one character at a time, \
from a tokio task that sleeps between characters and never blocks the server.";
/// Bounds on what a client may ask for.
const MAX_TEXT: usize = 5000;
const DEFAULT_DELAY: Duration = Duration::from_millis(30);
const MAX_DELAY_MS: u64 = 1000;

/// Sets up `/stream` on `io`.
pub fn mount(io: &SocketIo) {
    io.of("/stream").on_connection(|socket| async move {
        socket.on("start_stream", |socket, args| async move {
            let options = args.first().cloned().unwrap_or(Value::Null);
            let text: String = options
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or(TEXT)
                .chars()
                .take(MAX_TEXT)
                .collect();
            let delay = options
                .get("delay_ms")
                .and_then(|d| d.deserialize::<u64>().ok())
                .map(|ms| Duration::from_millis(ms.min(MAX_DELAY_MS)))
                .unwrap_or(DEFAULT_DELAY);
            let id = next_stream_id().to_string();
            let ack = json!({"id": id.clone()});
            tokio::spawn(async move {
                for c in text.chars() {
                    // A disconnected client ends its stream.
                    if socket
                        .emit("new_char", (id.as_str(), c.to_string()))
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                }
                socket
                    .emit(
                        "stream_end",
                        json!({"id": id, "length": text.chars().count()}),
                    )
                    .ok();
            });
            // The ack tells the page which stream the characters belong to.
            ack
        });
    });
}

/// A small id so a page can tell its concurrent streams apart.
fn next_stream_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
