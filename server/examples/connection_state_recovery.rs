//! Connection state recovery: a client that loses its connection for a moment comes
//! back with the same id, its rooms, and every packet it missed.
//!
//! ```text
//! cargo run -p sockeye-server --example connection_state_recovery
//! ```
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("connect", () => console.log("recovered?", socket.recovered));
//! socket.on("tick", (n, offset) => console.log("tick", n)); // the offset rides last
//! socket.emit("join", "news");
//! socket.io.engine.close(); // a cut: the client reconnects and gets the missed ticks
//! ```
//!
//! Events on `/`: `join room` (acks the socket's rooms), `tick room n` (emits `tick i`
//! for i in 1..=n to the room), `tick-socket id n` (the same through the `Socket`
//! handle of that id, kept since it connected, even while it is cut off), `members
//! room` (acks how many sockets are in the room on this node). Each socket gets
//! `hello {id, recovered}` when it connects. A middleware refuses `auth: {token:
//! "refuse"}`; a recovered socket skips it (`skip_middlewares`, the default). Listens on
//! `PORT` (default 3000).

mod common;

use sockeye_server::{ConnectError, Cors, Recovery, Socket, SocketIo, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most ticks one event asks for.
const MAX_TICKS: u64 = 10_000;

#[tokio::main]
async fn main() {
    let io = SocketIo::builder()
        .cors(Cors::Any)
        .connection_state_recovery(Recovery {
            max_disconnection_duration: Duration::from_secs(120),
            ..Recovery::default()
        })
        .build();
    let ns = io.of("/");
    ns.middleware(|socket| async move {
        match socket.auth().get("token").and_then(Value::as_str) {
            Some("refuse") => Err(ConnectError::new("refused")),
            _ => Ok(()),
        }
    });
    let main = ns.clone();
    // Every socket handle seen, as a background task would hold one (an app would
    // drop the handles it no longer needs; this one serves a test).
    let handles: Arc<Mutex<HashMap<String, Socket>>> = Arc::default();
    ns.on_connection(move |socket| {
        let (ns, handles) = (main.clone(), handles.clone());
        async move {
            handles
                .lock()
                .expect("handles lock")
                .insert(socket.id().to_owned(), socket.clone());
            let hello = Value::Object(vec![
                ("id".into(), socket.id().into()),
                ("recovered".into(), socket.recovered().into()),
            ]);
            socket.emit("hello", hello).ok();
            socket.on("join", |socket, (room,): (String,)| async move {
                socket.join(room);
                let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                rooms.sort();
                Value::from(rooms)
            });
            let to_room = ns.clone();
            socket.on("tick", move |_, (room, n): (String, u64)| {
                let ns = to_room.clone();
                async move {
                    for i in 1..=n.min(MAX_TICKS) {
                        ns.to(room.as_str()).emit("tick", i).ok();
                    }
                    true
                }
            });
            socket.on("tick-socket", move |_, (id, n): (String, u64)| {
                let handles = handles.clone();
                async move {
                    let target = handles.lock().expect("handles lock").get(&id).cloned();
                    let Some(target) = target else {
                        return false;
                    };
                    for i in 1..=n.min(MAX_TICKS) {
                        target.emit("tick", i).ok();
                    }
                    true
                }
            });
            socket.on("members", move |_, (room,): (String,)| {
                let ns = ns.clone();
                async move { ns.to(room).local().sockets().len() as u64 }
            });
        }
    });

    common::serve(io, axum::Router::new()).await;
}
