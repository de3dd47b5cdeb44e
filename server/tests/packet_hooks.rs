//! Packet middlewares (`socket.use`), catch-all listeners (`onAny`, `onAnyOutgoing`)
//! and flood control, with a raw client over a real WebSocket.

mod common;

use common::{next, start, Sio};
use sockeye_protocol::json;
use sockeye_protocol::socket::{Args, Packet};
use sockeye_server::{
    DisconnectReason, EventPacket, FloodLimit, MiddlewareError, RateLimit, SocketIo,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::unbounded_channel;

fn first_string(args: &Args) -> String {
    args.values()
        .ok()
        .and_then(|v| v.into_iter().next())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middlewares_run_in_order_and_a_refusal_goes_to_the_error_handler() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel::<String>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let log = tx.clone();
            socket.middleware(move |_socket, packet: EventPacket| {
                log.send(format!("mw1 {}", packet.event())).ok();
                async move { Ok(packet) }
            });
            let log = tx.clone();
            socket.middleware(move |_socket, mut packet: EventPacket| {
                log.send(format!("mw2 {}", packet.event())).ok();
                async move {
                    match packet.event() {
                        "forbidden" => Err(MiddlewareError::new("unauthorized event")
                            .with_data(json!({"event": "forbidden"}))),
                        // A middleware may rewrite the arguments ...
                        "rewrite" => {
                            packet.set_args(("rewritten",)).unwrap();
                            Ok(packet)
                        }
                        // ... or answer the ack itself, and the handler's answer is
                        // then not sent.
                        "answered" => {
                            packet.ack(("from the middleware",)).unwrap();
                            Ok(packet)
                        }
                        _ => Ok(packet),
                    }
                }
            });
            let log = tx.clone();
            socket.on_error(move |_socket, error: MiddlewareError| {
                let log = log.clone();
                async move {
                    log.send(format!("error {} {:?}", error.message, error.data))
                        .ok();
                }
            });
            for event in ["echo", "forbidden", "rewrite", "answered"] {
                socket.on(event, |_socket, args: Args| async move { args });
            }
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    assert_eq!(client.call("echo", vec![json!("a")], 1).await, [json!("a")]);
    assert_eq!(next(&mut seen).await, "mw1 echo");
    assert_eq!(next(&mut seen).await, "mw2 echo");

    // Refused: the handler does not run, its ack is not answered, the error handler
    // gets the error, and the socket stays connected (socket.io's semantics).
    client.emit("forbidden", vec![json!("x")], Some(2)).await;
    assert_eq!(next(&mut seen).await, "mw1 forbidden");
    assert_eq!(next(&mut seen).await, "mw2 forbidden");
    assert_eq!(
        next(&mut seen).await,
        format!(
            "error unauthorized event {:?}",
            Some(json!({"event": "forbidden"}))
        )
    );
    // The next answer the client gets is ack 3's, not ack 2's.
    assert_eq!(client.call("echo", vec![json!("b")], 3).await, [json!("b")]);

    assert_eq!(
        client.call("rewrite", vec![json!("original")], 4).await,
        [json!("rewritten")]
    );
    assert_eq!(
        client.call("answered", vec![json!("x")], 5).await,
        [json!("from the middleware")]
    );
    // Only one answer to ack 5: the next packet is ack 6.
    assert_eq!(client.call("echo", vec![json!("c")], 6).await, [json!("c")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_sees_every_event_before_the_middlewares() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel::<String>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let log = tx.clone();
            socket.on_any(move |_socket, event, args| {
                log.send(format!("any {event} {}", first_string(args))).ok();
            });
            let log = tx.clone();
            socket.prepend_any(move |_socket, event, _args| {
                log.send(format!("prepended {event}")).ok();
            });
            let log = tx.clone();
            socket.middleware(move |_socket, packet: EventPacket| {
                log.send(format!("mw {}", packet.event())).ok();
                async move { Err(MiddlewareError::new("everything refused")) }
            });
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    // Even an event nobody handles, and one the middleware refuses.
    client.emit("anything", vec![json!("v")], None).await;
    assert_eq!(next(&mut seen).await, "prepended anything");
    assert_eq!(next(&mut seen).await, "any anything v");
    assert_eq!(next(&mut seen).await, "mw anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_any_removes_one_listener_and_off_any_all_every_one() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel::<String>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let log = tx.clone();
            let first = socket.on_any(move |_socket, event, _| {
                log.send(format!("first {event}")).ok();
            });
            let log = tx.clone();
            socket.on_any(move |_socket, event, _| {
                log.send(format!("second {event}")).ok();
            });
            socket.on("off-first", move |socket, ()| async move {
                socket.off_any(first);
            });
            socket.on("off-all", |socket, ()| async move { socket.off_any_all() });
            socket.on("ping", |_socket, ()| async { "pong" });
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    client.call("ping", vec![], 1).await;
    assert_eq!(next(&mut seen).await, "first ping");
    assert_eq!(next(&mut seen).await, "second ping");
    client.emit("off-first", vec![], None).await;
    assert_eq!(next(&mut seen).await, "first off-first");
    assert_eq!(next(&mut seen).await, "second off-first");
    client.call("ping", vec![], 2).await;
    assert_eq!(next(&mut seen).await, "second ping");
    client.emit("off-all", vec![], None).await;
    assert_eq!(next(&mut seen).await, "second off-all");
    client.call("ping", vec![], 3).await;
    assert!(seen.try_recv().is_err(), "no listener is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_outgoing_sees_emits_and_broadcasts_but_not_acks() {
    let io = SocketIo::new();
    let outgoing = Arc::new(Mutex::new(Vec::<String>::new()));
    let (tx, mut ready) = unbounded_channel::<String>();
    let log = outgoing.clone();
    io.of("/").on_connection(move |socket| {
        let log = log.clone();
        let tx = tx.clone();
        async move {
            let first = log.clone();
            socket.on_any_outgoing(move |_socket, event, args| {
                first
                    .lock()
                    .unwrap()
                    .push(format!("{event} {}", first_string(args)));
            });
            let prepended = log.clone();
            let id = socket.prepend_any_outgoing(move |_socket, event, _| {
                prepended.lock().unwrap().push(format!("prepended {event}"));
            });
            socket.on("go", move |socket, ()| async move {
                socket.emit("direct", ("d",)).unwrap();
                socket.emit_volatile("volatile", ("v",)).unwrap();
                socket.off_any_outgoing(id);
                socket.ns().emit("everyone", ("e",)).unwrap();
                // The answer to the client's ack is not an outgoing event.
                "acked"
            });
            tx.send(socket.id().to_owned()).ok();
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;
    next(&mut ready).await;
    client.emit("go", vec![], Some(1)).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(client.recv().await);
    }
    assert!(got.iter().any(|p| matches!(p, Packet::Ack { id: 1, .. })));
    assert_eq!(
        *outgoing.lock().unwrap(),
        [
            "prepended direct",
            "direct d",
            "prepended volatile",
            "volatile v",
            "everyone e"
        ]
    );
    // A broadcast from outside any handler reaches the listener too.
    io.emit("from-outside", ("o",)).unwrap();
    client.expect_event("from-outside").await;
    assert_eq!(outgoing.lock().unwrap().last().unwrap(), "from-outside o");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_past_an_event_rate_limit_is_dropped_and_its_ack_answered() {
    let io = SocketIo::builder().flood_limit(None).build();
    io.of("/")
        .rate_limit("chat", RateLimit::per_minute(2).burst(2));
    let (tx, mut seen) = unbounded_channel::<String>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let log = tx.clone();
            socket.on_error(move |_socket, error: MiddlewareError| {
                let log = log.clone();
                async move {
                    assert!(error.is_rate_limited());
                    log.send(format!("{} {:?}", error.message, error.data)).ok();
                }
            });
            socket.on("chat", |_socket, args: Args| async move { args });
            socket.on("other", |_socket, args: Args| async move { args });
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    assert_eq!(client.call("chat", vec![json!(1)], 1).await, [json!(1)]);
    assert_eq!(client.call("chat", vec![json!(2)], 2).await, [json!(2)]);
    // The third within the minute: dropped, and the ack says why.
    assert_eq!(
        client.call("chat", vec![json!(3)], 3).await,
        [json!({"error": "rate limited"})]
    );
    assert_eq!(
        next(&mut seen).await,
        format!("rate limited {:?}", Some(json!({"event": "chat"})))
    );
    // Other events are not limited.
    for id in 4..20 {
        assert_eq!(client.call("other", vec![json!(id)], id).await, [json!(id)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_keeps_flooding_an_event_is_disconnected() {
    // An event's limit drops (the socket's paces instead: tests/flood_gate.rs).
    let io = SocketIo::builder()
        .flood_limit(Some(FloodLimit {
            max_drops: 3,
            window: Duration::from_secs(60),
        }))
        .build();
    io.of("/").rate_limit("flood", RateLimit::per_minute(5));
    let (tx, mut reasons) = unbounded_channel::<DisconnectReason>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on("flood", |_socket, ()| async {});
            socket.on("echo", |_socket, args: Args| async move { args });
            socket.on_disconnect(move |_socket, reason| {
                let tx = tx.clone();
                async move {
                    tx.send(reason).ok();
                }
            });
        }
    });
    let addr = start(&io).await;
    let (mut flooder, _) = Sio::connect(addr).await;
    let (mut other, _) = Sio::connect(addr).await;

    // 5 pass, 3 are dropped, the 4th drop disconnects.
    for _ in 0..9 {
        flooder.emit("flood", vec![], None).await;
    }
    match flooder.recv().await {
        Packet::Disconnect { namespace } => assert_eq!(namespace, "/"),
        other => panic!("expected a DISCONNECT, got {other:?}"),
    }
    assert_eq!(next(&mut reasons).await, DisconnectReason::Flooding);
    assert_eq!(DisconnectReason::Flooding.as_str(), "flooding");

    // Every socket has its own buckets: the other client was not limited.
    assert_eq!(
        other.call("echo", vec![json!("ok")], 1).await,
        [json!("ok")]
    );
    assert!(reasons.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_socket_limit_replaces_the_servers() {
    let io = SocketIo::builder()
        .rate_limit(RateLimit::per_minute(1).burst(1))
        .flood_limit(None)
        .build();
    io.of("/roomy")
        .socket_rate_limit(RateLimit::per_minute(100));
    for name in ["/", "/roomy"] {
        io.of(name).on_connection(|socket| async move {
            socket.on("echo", |_socket, args: Args| async move { args });
        });
    }
    let addr = start(&io).await;
    let mut client = Sio::open(addr).await;
    client.join("/roomy", None).await;
    for id in 0..10 {
        client
            .send(&Packet::event(
                "/roomy",
                "echo",
                Args::from(vec![json!(id)]),
                Some(id),
            ))
            .await;
        match client.recv().await {
            Packet::Ack { id: got, args, .. } => {
                assert_eq!(got, id);
                assert_eq!(args.values().unwrap(), [json!(id)]);
            }
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    client.join("/", None).await;
    assert_eq!(client.call("echo", vec![json!(1)], 20).await, [json!(1)]);
    // The builder's limit holds `/` to one packet a minute: the next one is not read
    // for a minute (nor answered, nor refused).
    client.emit("echo", vec![json!(2)], Some(21)).await;
    let answer = tokio::time::timeout(Duration::from_secs(1), client.recv()).await;
    assert!(answer.is_err(), "answered at once: {answer:?}");
}
