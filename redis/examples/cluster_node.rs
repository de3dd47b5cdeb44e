//! One node of the cluster the Redis suite drives (`tests/js/cluster/`): the same
//! contract as `tests/js/cluster/node-server.mjs`, the Node socket.io node beside it.
//!
//! ```text
//! PORT=0 cargo run -p sockeye-redis --example cluster_node -- --redis-url redis://127.0.0.1:6379/ --name a
//! ```
//!
//! On namespace `/`, every socket gets `data = {node, user}` (`user` from its auth) and
//! joins the room its auth names. Events, each acked when the work is handed over:
//! `join room`, `to room event payload`, `to-with-ack room event payload` (acks
//! `{err, responses}` of a broadcast with acks, 3 s timeout), `except room event payload`,
//! `local event payload`, `sockets-join target room`, `sockets-leave target room`,
//! `disconnect-sockets target`, `fetch target` (acks `[{id, rooms, data}]`),
//! `rooms` (acks every room of the cluster), `servers` (acks the number of nodes),
//! `sse event payload` (acks
//! `{err, responses}` of a server-side emit with a 3 s timeout),
//! `notify payload` (a server-side emit of `notify`, no ack). Server-side listeners:
//! `hello` answers `{node, payload}`; `notify` emits `notified {node, payload}` to this
//! node's sockets.
//!
//! It prints `listening on 127.0.0.1:<port>` once its channels are subscribed.

// The feature examples' serve loop (listen on $PORT, print the address, stop on SIGTERM).
#[path = "../../server/examples/common/mod.rs"]
mod common;

use sockeye_redis::RedisAdapter;
use sockeye_server::{json, Cors, SocketIo, Value};
use std::time::Duration;

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or_default()
}

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sockeye_server=info,sockeye_redis=info".into()),
        )
        .init();
    let url = flag("--redis-url").unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let node = flag("--name").unwrap_or_else(|| "sockeye".into());
    let adapter = match RedisAdapter::connect(&url).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cluster_node: cannot reach Redis at {url}: {e}");
            std::process::exit(1);
        }
    };
    let io = SocketIo::builder()
        .cors(Cors::Any)
        .adapter(adapter.clone())
        .build();
    let ns = io.of("/");
    let name = node.clone();
    ns.on_server_side("hello", move |args| {
        let node = name.clone();
        async move { json!({"node": node, "payload": arg(&args, 0).to_json()}) }
    });
    let (name, local) = (node.clone(), ns.clone());
    ns.on_server_side("notify", move |args| {
        let (node, ns) = (name.clone(), local.clone());
        async move {
            let notified = Value::Object(vec![
                ("node".into(), node.into()),
                ("payload".into(), arg(&args, 0)),
            ]);
            ns.broadcast().local().emit("notified", notified).ok();
        }
    });
    let (name, main) = (node.clone(), ns.clone());
    ns.on_connection(move |socket| {
        let (node, ns) = (name.clone(), main.clone());
        async move {
            let user = socket.auth().get("user").cloned().unwrap_or_default();
            socket.set_data(Value::Object(vec![
                ("node".into(), node.into()),
                ("user".into(), user),
            ]));
            if let Some(room) = socket.auth().get("room").and_then(Value::as_str) {
                socket.join(room);
            }
            // Each event's arguments as a tuple: rooms and event names are strings, a
            // payload any value.
            socket.on("join", |socket, (room,): (String,)| async move {
                socket.join(room);
                true
            });
            let n = ns.clone();
            socket.on(
                "to",
                move |_, (room, event, payload): (String, String, Value)| {
                    let ns = n.clone();
                    async move { ns.to(room).emit(&event, payload).is_ok() }
                },
            );
            let n = ns.clone();
            socket.on(
                "to-with-ack",
                move |_, (room, event, payload): (String, String, Value)| {
                    let ns = n.clone();
                    async move {
                        let acks = ns
                            .to(room)
                            .timeout(Duration::from_secs(3))
                            .emit_with_ack(&event, payload);
                        match acks.await {
                            Ok(responses) => Value::Object(vec![
                                ("err".into(), Value::Null),
                                ("responses".into(), Value::Array(responses)),
                            ]),
                            Err(e) => Value::Object(vec![
                                ("err".into(), "operation has timed out".into()),
                                ("responses".into(), Value::Array(e.responses)),
                            ]),
                        }
                    }
                },
            );
            let n = ns.clone();
            socket.on(
                "except",
                move |_, (room, event, payload): (String, String, Value)| {
                    let ns = n.clone();
                    async move { ns.except(room).emit(&event, payload).is_ok() }
                },
            );
            let n = ns.clone();
            socket.on("local", move |_, (event, payload): (String, Value)| {
                let ns = n.clone();
                async move { ns.broadcast().local().emit(&event, payload).is_ok() }
            });
            let n = ns.clone();
            socket.on(
                "sockets-join",
                move |_, (target, room): (String, String)| {
                    let ns = n.clone();
                    async move {
                        ns.to(target).join(room);
                        true
                    }
                },
            );
            let n = ns.clone();
            socket.on(
                "sockets-leave",
                move |_, (target, room): (String, String)| {
                    let ns = n.clone();
                    async move {
                        ns.to(target).leave(room);
                        true
                    }
                },
            );
            let n = ns.clone();
            socket.on("disconnect-sockets", move |_, (target,): (String,)| {
                let ns = n.clone();
                async move {
                    ns.to(target).disconnect();
                    true
                }
            });
            let n = ns.clone();
            socket.on("fetch", move |_, (target,): (String,)| {
                let ns = n.clone();
                async move {
                    match ns.to(target).fetch_sockets().await {
                        Ok(sockets) => Value::Array(
                            sockets
                                .iter()
                                .map(|s| {
                                    let mut rooms: Vec<String> =
                                        s.rooms().iter().map(|r| r.to_string()).collect();
                                    rooms.sort();
                                    Value::Object(vec![
                                        ("id".into(), s.id().into()),
                                        ("rooms".into(), rooms.into()),
                                        ("data".into(), s.data().clone()),
                                        ("handshake".into(), s.handshake().clone()),
                                    ])
                                })
                                .collect(),
                        ),
                        Err(e) => json!({"error": e.to_string()}),
                    }
                }
            });
            let n = ns.clone();
            socket.on("rooms", move |_, (): ()| {
                let ns = n.clone();
                async move {
                    match ns.all_rooms().await {
                        Ok(rooms) => {
                            let mut rooms: Vec<String> =
                                rooms.iter().map(|r| r.to_string()).collect();
                            rooms.sort();
                            Value::from(rooms)
                        }
                        Err(e) => json!({"error": e.to_string()}),
                    }
                }
            });
            let n = ns.clone();
            socket.on("servers", move |_, (): ()| {
                let ns = n.clone();
                async move {
                    ns.server_count()
                        .await
                        .map_or(Value::Null, |n| Value::from(n as u64))
                }
            });
            let n = ns.clone();
            socket.on("sse", move |_, (event, payload): (String, Value)| {
                let ns = n.clone();
                async move {
                    let sent =
                        ns.server_side_emit_with_ack(&event, payload, Duration::from_secs(3));
                    match sent.await {
                        Ok(responses) => Value::Object(vec![
                            ("err".into(), Value::Null),
                            ("responses".into(), Value::Array(responses)),
                        ]),
                        Err(e) => json!({"err": e.to_string(), "responses": []}),
                    }
                }
            });
            let n = ns.clone();
            socket.on("notify", move |_, (payload,): (Value,)| {
                let ns = n.clone();
                async move { ns.server_side_emit("notify", payload).is_ok() }
            });
        }
    });
    adapter.subscribed().await;

    common::serve(io, axum::Router::new()).await;
}
