//! The server the interop suite drives with the official socket.io-client
//! (`tests/js/interop/FIXTURE.md` is its contract).
//!
//! ```text
//! PORT=0 cargo run -p sockeye-server --example interop_fixture
//! ```
//!
//! It prints `listening on 127.0.0.1:<port>` when ready and shuts down gracefully on
//! SIGTERM or Ctrl-C.

use axum::routing::post;
use axum::Json;
use sockeye_server::{json, ConnectError, Cors, Socket, SocketIo, Value};
use std::time::Duration;

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or_default()
}

fn room(args: &[Value], i: usize) -> String {
    args.get(i)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn welcome(socket: &Socket) {
    let welcome = Value::Object(vec![
        ("id".into(), socket.id().into()),
        ("auth".into(), socket.auth().clone()),
        ("namespace".into(), socket.namespace().into()),
    ]);
    let _ = socket.emit("welcome", welcome);
}

async fn ask(socket: Socket, args: Vec<Value>, timeout: Duration) -> Value {
    match socket
        .timeout(timeout)
        .emit_with_ack("question", arg(&args, 0))
        .await
    {
        Ok(answer) => Value::Object(vec![(
            "answer".into(),
            answer.into_iter().next().unwrap_or_default(),
        )]),
        Err(_) => json!({"error": "timeout"}),
    }
}

fn main_namespace(io: &SocketIo) {
    let main = io.of("/");
    main.middleware(|socket| async move {
        if socket.auth().get("token").and_then(Value::as_str) == Some("reject") {
            return Err(ConnectError::new("not authorized")
                .with_data(json!({"code": 42, "reason": "bad token"})));
        }
        Ok(())
    });
    let ns = main.clone();
    main.on_connection(move |socket| {
        let ns = ns.clone();
        async move {
            welcome(&socket);
            // Departures go to the socket's group only (FIXTURE.md), so tests do not
            // hear each other's.
            if let Some(group) = socket.auth().get("group").and_then(Value::as_str) {
                let group = group.to_owned();
                socket.join(group.as_str());
                let peers = ns.clone();
                socket.on_disconnect(move |socket, reason| {
                    let (peers, group) = (peers.clone(), group.clone());
                    async move {
                        let _ = peers.to(group.as_str()).emit(
                            "peer-left",
                            json!({"id": socket.id(), "reason": reason.as_str()}),
                        );
                    }
                });
            }
            socket.on("echo", |socket, args| async move {
                let _ = socket.emit("echo", args);
            });
            socket.on("echo-ack", |_, args| async move { args });
            socket.on("message", |socket, args| async move {
                let _ = socket.send(args);
            });
            socket.on("join", |socket, args| async move {
                let room = room(&args, 0);
                socket.join(room.as_str());
                ("joined", room)
            });
            socket.on("leave", |socket, args| async move {
                let room = room(&args, 0);
                socket.leave(&room);
                ("left", room)
            });
            let n = ns.clone();
            socket.on("to-room", move |_, args| {
                let n = n.clone();
                async move {
                    let _ = n
                        .to(room(&args, 0))
                        .emit("room-msg", vec![arg(&args, 0), arg(&args, 1)]);
                }
            });
            socket.on("to-room-others", |socket, args| async move {
                let _ = socket
                    .to(room(&args, 0))
                    .emit("room-msg", vec![arg(&args, 0), arg(&args, 1)]);
            });
            let n = ns.clone();
            socket.on("to-rooms-except", move |_, args| {
                let n = n.clone();
                async move {
                    let rooms: Vec<String> = match arg(&args, 0) {
                        Value::Array(items) => items
                            .iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect(),
                        _ => vec![],
                    };
                    let _ = n
                        .to(rooms)
                        .except(room(&args, 1))
                        .emit("room-msg", vec![Value::from("multi"), arg(&args, 2)]);
                }
            });
            let n = ns.clone();
            socket.on("broadcast", move |_, args| {
                let n = n.clone();
                async move {
                    let _ = n.emit("bcast", arg(&args, 0));
                }
            });
            socket.on("broadcast-others", |socket, args| async move {
                let _ = socket.broadcast().emit("bcast", arg(&args, 0));
            });
            socket.on("ask-client", |socket, args| {
                ask(socket, args, Duration::from_secs(5))
            });
            socket.on("ask-client-timeout", |socket, args| {
                ask(socket, args, Duration::from_millis(200))
            });
            socket.on("server-disconnect", |socket, _| async move {
                socket.disconnect();
            });
            socket.on("rooms", |socket, _| async move {
                let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                rooms.sort();
                Value::from(rooms)
            });
        }
    });
}

fn custom_namespace(io: &SocketIo) {
    let custom = io.of("/custom");
    let ns = custom.clone();
    custom.on_connection(move |socket| {
        let ns = ns.clone();
        async move {
            welcome(&socket);
            socket.on("echo-ack", |_, mut args| async move {
                args.insert(0, Value::from("custom"));
                args
            });
            socket.on("broadcast", move |_, args| {
                let ns = ns.clone();
                async move {
                    let _ = ns.emit("bcast", arg(&args, 0));
                }
            });
        }
    });
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(400))
        .cors(Cors::Any)
        .build();
    main_namespace(&io);
    custom_namespace(&io);

    let push_io = io.clone();
    let app = axum::Router::new()
        .route(
            "/push",
            post(move |Json(body): Json<serde_json::Value>| {
                let io = push_io.clone();
                async move {
                    let ns = io.of(body["namespace"].as_str().unwrap_or("/"));
                    let event = body["event"].as_str().unwrap_or("push").to_owned();
                    let data = Value::from(body["data"].clone());
                    let target = match body["room"].as_str() {
                        Some(room) => ns.to(room),
                        None => ns.broadcast(),
                    };
                    let _ = target.emit(&event, data);
                    Json(serde_json::json!({"ok": true}))
                }
            }),
        )
        .merge(io.router());
    let port = std::env::var("PORT").unwrap_or_else(|_| "0".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind");
    println!(
        "listening on {}",
        listener.local_addr().expect("local addr")
    );
    let closing = io.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            closing.close().await;
        })
        .await
        .expect("serve");
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
