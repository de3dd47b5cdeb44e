//! The server the interop suite drives with the official socket.io-client
//! (`tests/js/interop/FIXTURE.md` is its contract).
//!
//! ```text
//! PORT=0 cargo run -p sockeye-server --example interop_fixture
//! PORT=0 cargo run -p sockeye-server --example interop_fixture -- --parser msgpack
//! ```
//!
//! `--parser msgpack` speaks socket.io-msgpack-parser's format instead of the default
//! parser's (`--parser json`). It prints `listening on 127.0.0.1:<port>` when ready and
//! shuts down gracefully on SIGTERM or Ctrl-C.

use axum::routing::post;
use axum::Json;
use sockeye_server::{json, Args, ConnectError, Cors, Disconnect, Parser, Socket, SocketIo, Value};
use sockeye_server::{EventPacket, FloodLimit, MiddlewareError, RateLimit};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server the interop suite drives (tests/js/interop/FIXTURE.md).
#[derive(clap::Parser)]
struct Cli {
    /// The Socket.IO packet format; every client must use the same.
    #[arg(long, value_enum, default_value_t = ParserArg::Json)]
    parser: ParserArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ParserArg {
    /// socket.io-parser, the default: JSON text, binary parts as attachments.
    Json,
    /// socket.io-msgpack-parser: each packet one msgpack message.
    Msgpack,
}

fn welcome(socket: &Socket) {
    let welcome = Value::Object(vec![
        ("id".into(), socket.id().into()),
        ("auth".into(), socket.auth().clone()),
        ("namespace".into(), socket.namespace().into()),
    ]);
    let _ = socket.emit("welcome", welcome);
}

/// Asks the client `question` with `payload` and answers with its reply's first
/// argument (`null` when it sent none), or with `{error: "timeout"}`.
async fn ask(socket: Socket, payload: Value, timeout: Duration) -> Value {
    match socket
        .timeout(timeout)
        .emit_with_ack("question", payload)
        .await
    {
        Ok(answer) => {
            let first = answer
                .deserialize::<(Value,)>()
                .map_or(Value::Null, |(first,)| first);
            Value::Object(vec![("answer".into(), first)])
        }
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
            // Echoes pass the arguments on as they came (`Args`): never parsed.
            socket.on("echo", |socket, args: Args| async move {
                let _ = socket.emit("echo", args);
            });
            socket.on("echo-ack", |_, args: Args| async move { args });
            socket.on("message", |socket, args: Args| async move {
                let _ = socket.send(args);
            });
            socket.on("join", |socket, (room,): (String,)| async move {
                socket.join(room.as_str());
                ("joined", room)
            });
            socket.on("leave", |socket, (room,): (String,)| async move {
                socket.leave(room.as_str());
                ("left", room)
            });
            // The other events' arguments come as tuples of their types; a message or
            // payload may be anything (`Value`, binary parts included).
            let n = ns.clone();
            socket.on("to-room", move |_, (room, msg): (String, Value)| {
                let n = n.clone();
                async move {
                    let _ = n.to(room.as_str()).emit("room-msg", (room, msg));
                }
            });
            socket.on(
                "to-room-others",
                |socket, (room, msg): (String, Value)| async move {
                    let _ = socket.to(room.as_str()).emit("room-msg", (room, msg));
                },
            );
            let n = ns.clone();
            socket.on(
                "to-rooms-except",
                move |_, (rooms, except, msg): (Vec<String>, String, Value)| {
                    let n = n.clone();
                    async move {
                        let _ = n.to(rooms).except(except).emit("room-msg", ("multi", msg));
                    }
                },
            );
            let n = ns.clone();
            socket.on("broadcast", move |_, (msg,): (Value,)| {
                let n = n.clone();
                async move {
                    let _ = n.emit("bcast", msg);
                }
            });
            socket.on("broadcast-others", |socket, (msg,): (Value,)| async move {
                let _ = socket.broadcast().emit("bcast", msg);
            });
            socket.on("ask-client", |socket, (payload,): (Value,)| {
                ask(socket, payload, Duration::from_secs(5))
            });
            socket.on("ask-client-timeout", |socket, (payload,): (Value,)| {
                ask(socket, payload, Duration::from_millis(200))
            });
            socket.on("server-disconnect", |socket, (): ()| async move {
                socket.disconnect(Disconnect::Namespace);
            });
            socket.on("rooms", |socket, (): ()| async move {
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
            // Any arguments, with one more in front: dynamic, so values.
            socket.on("echo-ack", |_, mut args: Vec<Value>| async move {
                args.insert(0, Value::from("custom"));
                args
            });
            socket.on("broadcast", move |_, (msg,): (Value,)| {
                let ns = ns.clone();
                async move {
                    let _ = ns.emit("bcast", msg);
                }
            });
        }
    });
}

/// `/guarded`: packet middlewares, catch-alls and a rate limit (FIXTURE.md).
fn guarded_namespace(io: &SocketIo) {
    let guarded = io.of("/guarded");
    guarded.rate_limit("limited", RateLimit::per_minute(3));
    guarded.on_connection(|socket| async move {
        // What the socket received and was sent, by event name, for `seen`.
        let seen = Arc::new(Mutex::new((Vec::<String>::new(), Vec::<String>::new())));
        let incoming = seen.clone();
        socket.on_any(move |_, event, _| incoming.lock().unwrap().0.push(event.to_owned()));
        let outgoing = seen.clone();
        socket
            .on_any_outgoing(move |_, event, _| outgoing.lock().unwrap().1.push(event.to_owned()));
        socket.middleware(|_, packet: EventPacket| async move {
            match packet.event() {
                "forbidden" => Err(MiddlewareError::new("unauthorized event")),
                "forbidden-disconnect" => Err(MiddlewareError::new("disconnect me")),
                _ => Ok(packet),
            }
        });
        socket.on_error(|socket, error: MiddlewareError| async move {
            let _ = socket.emit("refused", error.message.as_str());
            if error.message == "disconnect me" {
                socket.disconnect(Disconnect::Namespace);
            }
        });
        welcome(&socket);
        socket.on("echo-ack", |_, args: Args| async move { args });
        socket.on("forbidden", |_, ()| async { "the handler ran" });
        socket.on("limited", |_, (n,): (Value,)| async move { n });
        socket.on("seen", move |_, ()| {
            let (incoming, outgoing) = seen.lock().unwrap().clone();
            async move { json!({"incoming": incoming, "outgoing": outgoing}) }
        });
    });
}

#[tokio::main]
async fn main() {
    let cli = <Cli as clap::Parser>::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let parser = match cli.parser {
        ParserArg::Json => Parser::Json,
        ParserArg::Msgpack => Parser::MsgPack,
    };
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(400))
        .cors(Cors::Any)
        .parser(parser)
        .flood_limit(Some(FloodLimit {
            max_drops: 5,
            window: Duration::from_secs(60),
        }))
        .build();
    main_namespace(&io);
    custom_namespace(&io);
    guarded_namespace(&io);

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
