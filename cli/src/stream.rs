//! `/stream`: text streamed one character at a time (`start_stream` → `new_char`...,
//! then `stream_end`). Each stream is its own task that sleeps between characters, so
//! thousands of streams cost timers, not threads, and never block other clients.

use serde::Deserialize;
use sockeye_server::{json, Socket, SocketIo};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What is streamed when the client sends no text of its own.
const TEXT: &str = "Sockeye streams this sentence to you one character at a time, \
from a tokio task that sleeps between characters and never blocks the server.";
/// Bounds on what a client may ask for. The smallest delay keeps a long text from
/// arriving as one burst that would fill the connection's outbound queue.
const MAX_TEXT: usize = 5000;
const DEFAULT_DELAY: Duration = Duration::from_millis(30);
const MIN_DELAY_MS: u64 = 1;
const MAX_DELAY_MS: u64 = 1000;
/// Streams one socket may run at once: each is a task, so a client may not start
/// them without limit.
const MAX_STREAMS_PER_SOCKET: usize = 32;

/// The number of streams a socket is running, kept in its extensions.
#[derive(Clone, Default)]
struct Running(Arc<AtomicUsize>);

/// One slot of [`Running`], given back when the stream's task ends however it ends.
struct Slot(Arc<AtomicUsize>);

impl Running {
    fn take_slot(&self) -> Option<Slot> {
        let taken = self.0.fetch_add(1, Ordering::AcqRel);
        if taken >= MAX_STREAMS_PER_SOCKET {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self.0.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `start_stream`'s argument: `{text?, delay_ms?}`, both optional.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Options {
    text: Option<String>,
    delay_ms: Option<u64>,
}

/// What a stream runs: the options, bounded.
struct Request {
    text: String,
    delay: Duration,
}

impl Request {
    fn new(options: Options) -> Request {
        let text = options
            .text
            .as_deref()
            .unwrap_or(TEXT)
            .chars()
            .take(MAX_TEXT)
            .collect();
        let delay = options
            .delay_ms
            .map(|ms| Duration::from_millis(ms.clamp(MIN_DELAY_MS, MAX_DELAY_MS)))
            .unwrap_or(DEFAULT_DELAY);
        Request { text, delay }
    }
}

/// Sets up `/stream` on `io`.
pub fn mount(io: &SocketIo) {
    io.of("/stream").on_connection(|socket| async move {
        socket.insert_extension(Running::default());
        // The options object arrives as a serde type, the one element of the tuple.
        socket.on("start_stream", |socket, (options,): (Options,)| async move {
            let running = socket.extension::<Running>().unwrap_or_default();
            let Some(slot) = running.take_slot() else {
                return json!({"error": format!("at most {MAX_STREAMS_PER_SOCKET} streams at once")});
            };
            let id = next_stream_id().to_string();
            tokio::spawn(run(socket, id.clone(), Request::new(options), slot));
            // The ack tells the page which stream the characters belong to.
            json!({"id": id})
        });
    });
}

/// Streams `request.text` to `socket`, one `new_char` per character, then `stream_end`.
async fn run(socket: Socket, id: String, request: Request, _slot: Slot) {
    for c in request.text.chars() {
        // A client that left the namespace (its connection may live on for other
        // namespaces) or dropped its connection ends its stream.
        if !socket.connected()
            || socket
                .emit("new_char", (id.as_str(), c.to_string()))
                .is_err()
        {
            return;
        }
        tokio::time::sleep(request.delay).await;
    }
    let length = request.text.chars().count();
    socket
        .emit("stream_end", json!({"id": id, "length": length}))
        .ok();
}

/// A small id so a page can tell its concurrent streams apart.
fn next_stream_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_server::{Args, Parser};

    #[test]
    fn a_socket_runs_a_bounded_number_of_streams() {
        let running = Running::default();
        let slots: Vec<Slot> = (0..MAX_STREAMS_PER_SOCKET)
            .map(|_| running.take_slot().expect("a free slot"))
            .collect();
        assert!(running.take_slot().is_none());
        drop(slots);
        assert!(running.take_slot().is_some());
    }

    #[test]
    fn requests_are_bounded() {
        // As the handler gets them: one argument, read as a one-element tuple.
        let options = |value: sockeye_server::Value| {
            let args = Args::serialize(Parser::Json, &(value,)).unwrap();
            args.deserialize::<(Options,)>().unwrap().0
        };
        let r = Request::new(options(json!({})));
        assert_eq!((r.text.as_str(), r.delay), (TEXT, DEFAULT_DELAY));
        let long = "x".repeat(MAX_TEXT + 10);
        let r = Request::new(options(json!({"text": long, "delay_ms": 0})));
        assert_eq!(r.text.chars().count(), MAX_TEXT);
        assert_eq!(r.delay, Duration::from_millis(MIN_DELAY_MS));
        let r = Request::new(options(json!({"delay_ms": 99_999})));
        assert_eq!(r.delay, Duration::from_millis(MAX_DELAY_MS));
    }
}
