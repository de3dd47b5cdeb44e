//! Socket.IO over real sockets: namespaces, middlewares, events, acks, rooms,
//! broadcasts, server-side emits, state, slow clients, malformed input and shutdown.

mod common;

use axum::routing::post;
use bytes::Bytes;
use common::{
    decode_sio, next, report_disconnects, start, values, within, Http, Polling, Read, Sio, Ws,
};
use sockeye_protocol::engine::Packet as EioPacket;
use sockeye_protocol::socket::{Args, Decoder, Packet, Parser};
use sockeye_protocol::{json, Value};
use sockeye_server::{AckError, ConnectError, Disconnect, DisconnectReason, EmitError, SocketIo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc::unbounded_channel;

fn strings(args: &[Value]) -> Vec<String> {
    args.iter()
        .map(|v| v.as_str().expect("string argument").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_the_main_namespace_gives_a_sid() {
    let io = SocketIo::new();
    let addr = start(&io).await;
    let (client, sid) = Sio::connect(addr).await;
    assert_eq!(sid.len(), 20);
    assert_ne!(sid, client.handshake.sid, "socket id is not the engine sid");
    let socket = io.of("/").socket(&sid).expect("socket registered");
    assert_eq!(socket.engine_sid(), client.handshake.sid);
    assert_eq!(socket.namespace(), "/");
    assert!(socket.connected());
    assert_eq!(socket.auth(), &json!({}));
    assert_eq!(io.connection_count(), 1);

    // The same over polling.
    let (polling, _) = Polling::open(addr).await;
    polling.post(&[EioPacket::Message("0".into())]).await;
    let packets = decode_sio(&mut Decoder::default(), polling.get().await);
    match packets.as_slice() {
        [Packet::Connect {
            namespace,
            data: Some(data),
        }] => {
            assert_eq!(namespace, "/");
            let sid = data.get("sid").and_then(Value::as_str).expect("sid");
            assert!(io.of("/").socket(sid).is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_namespace_is_refused() {
    let io = SocketIo::new();
    let addr = start(&io).await;
    let mut client = Sio::open(addr).await;
    assert_eq!(
        client.try_join("/nowhere", None).await,
        Packet::ConnectError {
            namespace: "/nowhere".into(),
            data: json!({"message": "Invalid namespace"}),
        }
    );
    // The connection stays usable.
    client.join("/", None).await;
}

type Seen = (Value, Option<String>, Option<String>, Option<SocketAddr>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middlewares_see_the_handshake_and_can_refuse() {
    let io = SocketIo::new();
    let secure = io.of("/secure");
    let (seen_tx, mut seen) = unbounded_channel::<Seen>();
    secure.middleware(move |socket| {
        let seen_tx = seen_tx.clone();
        async move {
            let h = socket.handshake();
            let header = h
                .headers
                .get("x-custom")
                .map(|v| v.to_str().unwrap().to_owned());
            seen_tx
                .send((
                    socket.auth().clone(),
                    header,
                    h.query.get("tenant").cloned(),
                    h.address,
                ))
                .ok();
            Ok(())
        }
    });
    secure.middleware(|socket| async move {
        match socket.auth().get("token").and_then(Value::as_str) {
            Some("good") => Ok(()),
            _ => Err(ConnectError::new("not authorized").with_data(json!({"code": 42}))),
        }
    });
    let (joined_tx, mut joined) = unbounded_channel();
    secure.on_connection(move |socket| {
        let joined_tx = joined_tx.clone();
        async move {
            joined_tx.send(socket.id().to_owned()).ok();
        }
    });
    let addr = common::serve_with_connect_info(axum::Router::new().merge(io.router())).await;

    let ws = Ws::connect_with(addr, "&tenant=t1", &[("x-custom", "abc")]).await;
    let mut client = Sio::from_fresh_ws(ws).await;
    let refusal = client
        .try_join("/secure", Some(json!({"token": "bad"})))
        .await;
    assert_eq!(
        refusal,
        Packet::ConnectError {
            namespace: "/secure".into(),
            data: json!({"message": "not authorized", "data": {"code": 42}}),
        }
    );
    let (auth, header, tenant, address) = next(&mut seen).await;
    assert_eq!(auth, json!({"token": "bad"}));
    assert_eq!(header.as_deref(), Some("abc"));
    assert_eq!(tenant.as_deref(), Some("t1"));
    let address = address.expect("remote address with connect info");
    assert!(address.ip().is_loopback());
    assert_ne!(address.port(), addr.port());

    // Same connection, right token: admitted, and only now the handler runs.
    let sid = client.join("/secure", Some(json!({"token": "good"}))).await;
    assert_eq!(next(&mut joined).await, sid);
    assert_eq!(next(&mut seen).await.0, json!({"token": "good"}));
    assert!(
        joined.try_recv().is_err(),
        "the refused join ran the handler"
    );

    // Without connect info there is no address.
    let (tx, mut rx) = unbounded_channel();
    let plain = SocketIo::new();
    plain.of("/").middleware(move |socket| {
        let tx = tx.clone();
        async move {
            tx.send(socket.handshake().address).ok();
            Ok(())
        }
    });
    let (_client, _) = Sio::connect(start(&plain).await).await;
    assert_eq!(next(&mut rx).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_namespaces_are_created_on_first_join() {
    let io = SocketIo::new();
    let parent = io.dynamic(|name| name.starts_with("/dyn-"));
    parent.middleware(|socket| async move {
        if socket.auth().get("deny").is_some() {
            Err(ConnectError::new("denied"))
        } else {
            Ok(())
        }
    });
    parent.on_connection(|socket| async move {
        let name = socket.namespace().to_owned();
        socket.emit("where", name).unwrap();
    });
    let addr = start(&io).await;
    let mut client = Sio::open(addr).await;
    for ns in ["/dyn-a", "/dyn-b"] {
        client.join(ns, None).await;
        assert_eq!(
            client.recv().await,
            Packet::event(ns, "where", vec![json!(ns)].into(), None)
        );
    }
    assert_eq!(
        client.try_join("/dyn-c", Some(json!({"deny": true}))).await,
        Packet::ConnectError {
            namespace: "/dyn-c".into(),
            data: json!({"message": "denied"}),
        }
    );
    assert_eq!(
        client.try_join("/other", None).await,
        Packet::ConnectError {
            namespace: "/other".into(),
            data: json!({"message": "Invalid namespace"}),
        }
    );
    // The created namespace is a real one.
    let dyn_a = io.of("/dyn-a");
    assert_eq!(dyn_a.sockets().len(), 1);
    dyn_a.emit("hello", 1).unwrap();
    assert_eq!(
        client.recv().await,
        Packet::event("/dyn-a", "hello", vec![json!(1)].into(), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_joins_nothing_is_closed() {
    let io = SocketIo::builder()
        .connect_timeout(Duration::from_millis(300))
        .build();
    let addr = start(&io).await;
    let mut idle = Sio::open(addr).await;
    assert!(idle.ws.expect_closed().await.is_empty());

    let (polling, _) = Polling::open(addr).await;
    // The GET waits for the close packet (unless the session is already gone), then
    // the session is forgotten.
    let reply = polling.get_raw().await;
    if reply.status == 200 {
        assert_eq!(reply.body, "1");
        polling.wait_gone().await;
    } else {
        reply.assert_error(400, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_handlers_get_the_reason() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;

    // The client leaves the namespace; the connection stays.
    let (mut client, sid) = Sio::connect(addr).await;
    client
        .send(&Packet::Disconnect {
            namespace: "/".into(),
        })
        .await;
    assert_eq!(
        next(&mut reasons).await,
        (sid.clone(), DisconnectReason::ClientNamespaceDisconnect)
    );
    assert!(io.of("/").socket(&sid).is_none());
    let again = client.join("/", None).await;
    assert_ne!(again, sid);

    // The client closes the WebSocket.
    client.ws.close().await;
    assert_eq!(
        next(&mut reasons).await,
        (again.clone(), DisconnectReason::TransportClose)
    );
    assert_eq!(
        DisconnectReason::TransportClose.to_string(),
        "transport close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_answering_pings_is_disconnected() {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(1500))
        .build();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    // Pings are answered while joining; afterwards the client reads nothing.
    let (mut client, sid) = Sio::connect(addr).await;
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::PingTimeout)
    );
    client.answer_pings = false;
    // Whatever was queued (pings), then the socket closes.
    let rest = client.ws.expect_closed().await;
    assert!(
        rest.iter().all(|r| matches!(r, Read::Text(t) if t == "2")),
        "{rest:?}"
    );
}

/// `chat` with a room and a text: one type for the emitter and the handler.
struct Chat;
impl sockeye_protocol::event::Event for Chat {
    const NAME: &'static str = "chat";
    type Args = (String, String);
}

/// `add`: two numbers in, their sum back as the ack.
struct Add;
impl sockeye_protocol::event::Event for Add {
    const NAME: &'static str = "add";
    type Args = (i64, i64);
}
impl sockeye_protocol::event::Request for Add {
    type Ack = (i64,);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_events_and_requests() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on_event::<Chat, _, _>(|socket, (room, text)| async move {
                socket
                    .emit_event::<Chat>((room, text.to_uppercase()))
                    .unwrap();
            });
            socket.on_request::<Add, _, _>(|_socket, (a, b)| async move { (a + b,) });
            socket.on_disconnect(move |socket, reason| {
                let tx = tx.clone();
                async move {
                    tx.send((socket.id().to_owned(), reason)).ok();
                }
            });
        }
    });
    let addr = start(&io).await;
    let (mut client, sid) = Sio::connect(addr).await;
    let (mut other, _) = Sio::connect(addr).await;
    client
        .emit("chat", vec![json!("lobby"), json!("hi")], None)
        .await;
    assert_eq!(
        client.expect_event("chat").await,
        vec![json!("lobby"), json!("HI")]
    );
    assert_eq!(
        client.call("add", vec![json!(40), json!(2)], 1).await,
        vec![json!(42)]
    );
    // Arguments of the wrong types are a bad packet: no ack, and the connection is
    // closed with "parse error"; another connection is not touched.
    client.emit("add", vec![json!("x")], Some(2)).await;
    let seen = client.ws.expect_closed().await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::ParseError)
    );
    assert_eq!(
        other.call("add", vec![json!(1), json!(1)], 3).await,
        vec![json!(2)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_json_arguments_and_acks() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on("echo", |_socket, args: Args| async move { args });
            let tx = tx.clone();
            socket.on("no-ack", move |_socket, args: Vec<Value>| {
                let tx = tx.clone();
                async move {
                    tx.send(args).ok();
                }
            });
            socket.on("message", |socket, args: Args| async move {
                socket.send(args).unwrap();
            });
            socket.on("sum", |_socket, args: Vec<Value>| async move {
                let total: i64 = args
                    .iter()
                    .filter_map(|a| a.deserialize::<i64>().ok())
                    .sum();
                ("sum", total)
            });
        }
    });
    let addr = start(&io).await;
    let (mut client, sid) = Sio::connect(addr).await;

    let args = vec![
        json!(1),
        json!("two"),
        json!({"three": [3, {"four": null}]}),
        json!(null),
        json!(true),
        json!(2.5),
    ];
    assert_eq!(client.call("echo", args.clone(), 1).await, args);
    assert_eq!(
        client
            .call("sum", vec![json!(1), json!(2), json!(39)], 2)
            .await,
        vec![json!("sum"), json!(42)]
    );

    // The unnamed `message` event.
    client
        .emit("message", vec![json!("hi"), json!({"n": 1})], None)
        .await;
    assert_eq!(
        client.expect_event("message").await,
        vec![json!("hi"), json!({"n": 1})]
    );

    // A handler returning () sends no ack, even when asked for one.
    client.emit("no-ack", vec![json!("x")], Some(3)).await;
    assert_eq!(next(&mut seen).await, vec![json!("x")]);
    assert_eq!(
        client.call("echo", vec![json!("marker")], 4).await,
        vec![json!("marker")]
    );

    // An event without a handler is ignored.
    client.emit("nobody-listens", vec![], Some(5)).await;
    assert_eq!(client.call("echo", vec![], 6).await, vec![]);

    // Reserved names cannot be emitted.
    let socket = io.of("/").socket(&sid).unwrap();
    assert_eq!(
        socket.emit("disconnect", ()),
        Err(EmitError::ReservedEvent("disconnect".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_arguments_are_reassembled_at_any_depth() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on("bin", move |_socket, args: Vec<Value>| {
                let tx = tx.clone();
                async move {
                    tx.send(args.clone()).ok();
                    args
                }
            });
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    let args = vec![
        Value::Binary(Bytes::from_static(&[1, 2, 3])),
        json!("text"),
        Value::Object(vec![(
            "nested".into(),
            Value::Array(vec![
                json!(1),
                Value::Object(vec![(
                    "deep".into(),
                    Value::Binary(Bytes::from_static(b"\x00\xffdeep")),
                )]),
            ]),
        )]),
    ];
    client.emit("bin", args.clone(), Some(9)).await;
    assert_eq!(next(&mut seen).await, args, "the handler's view");
    // The ack goes back as a BINARY_ACK: a text frame announcing 2 attachments.
    let header = match client.ws.read().await {
        Read::Text(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(header.starts_with("462-9["), "{header}");
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder
            .decode_text(Bytes::copy_from_slice(&header.as_bytes()[1..]))
            .unwrap(),
        None
    );
    let mut parts = Vec::new();
    for _ in 0..2 {
        match client.ws.read().await {
            Read::Binary(b) => parts.push(b),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(parts[0], Bytes::from_static(&[1, 2, 3]));
    assert_eq!(decoder.decode_binary(parts[0].clone()).unwrap(), None);
    let ack = decoder.decode_binary(parts[1].clone()).unwrap().unwrap();
    assert_eq!(
        ack,
        Packet::Ack {
            namespace: "/".into(),
            args: args.clone().into(),
            id: 9
        }
    );

    // Server to client, as a broadcast.
    io.emit("blob", Bytes::from_static(b"blob")).unwrap();
    assert_eq!(
        client.expect_event("blob").await,
        vec![Value::Binary(Bytes::from_static(b"blob"))]
    );

    // Over polling, attachments travel as base64 records.
    let (polling, _) = Polling::open(addr).await;
    let mut decoder = Decoder::default();
    polling.post(&[EioPacket::Message("0".into())]).await;
    assert!(matches!(
        decode_sio(&mut decoder, polling.get().await).as_slice(),
        [Packet::Connect { .. }]
    ));
    polling
        .post_sio(&Packet::event("/", "bin", args.clone().into(), Some(1)))
        .await;
    assert_eq!(next(&mut seen).await, args);
    let reply = polling.get_raw().await;
    assert!(reply.body.starts_with("462-1["), "{:?}", reply.body);
    assert!(reply.body.contains("\x1ebAQID"), "{:?}", reply.body);
    let packets = sockeye_protocol::engine::payload::decode(&reply.body, 16).unwrap();
    assert_eq!(
        decode_sio(&mut decoder, packets),
        vec![Packet::Ack {
            namespace: "/".into(),
            args: args.into(),
            id: 1
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_waits_for_client_acks() {
    let io = SocketIo::new();
    let (tx, mut results) = unbounded_channel::<Result<Args, AckError>>();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let t = tx.clone();
            socket.on("ask-me", move |socket, args: Args| {
                let t = t.clone();
                async move {
                    t.send(socket.emit_with_ack("question", args).await).ok();
                }
            });
            let t = tx.clone();
            socket.on("ask-me-briefly", move |socket, args: Args| {
                let t = t.clone();
                async move {
                    let answer = socket
                        .timeout(Duration::from_millis(200))
                        .emit_with_ack("question", args)
                        .await;
                    t.send(answer).ok();
                }
            });
            socket.on("echo", |_socket, args: Args| async move { args });
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    client.emit("ask-me", vec![json!("q1")], None).await;
    let (name, args, id) = client.recv_event().await;
    assert_eq!((name.as_str(), args), ("question", vec![json!("q1")]));
    let id = id.expect("the server asks for an ack");
    client
        .send(&Packet::Ack {
            namespace: "/".into(),
            args: vec![json!("a1"), json!({"ok": true})].into(),
            id,
        })
        .await;
    assert_eq!(
        next(&mut results).await.map(values),
        Ok(vec![json!("a1"), json!({"ok": true})])
    );

    // No answer: the emit times out.
    client.emit("ask-me-briefly", vec![json!("q2")], None).await;
    let (_, _, late_id) = client.recv_event().await;
    assert_eq!(next(&mut results).await, Err(AckError::Timeout));
    // A late answer is ignored and the connection goes on.
    client
        .send(&Packet::Ack {
            namespace: "/".into(),
            args: Args::empty(Parser::Json),
            id: late_id.unwrap(),
        })
        .await;
    assert_eq!(client.call("echo", vec![json!(1)], 1).await, vec![json!(1)]);

    // Leaving the namespace fails a pending emit at once.
    client.emit("ask-me", vec![json!("q3")], None).await;
    client.recv_event().await;
    client
        .send(&Packet::Disconnect {
            namespace: "/".into(),
        })
        .await;
    assert_eq!(next(&mut results).await, Err(AckError::Disconnected));
}

/// Reads events and checks their names, in order.
async fn expect_names(client: &mut Sio, names: &[&str]) {
    for name in names {
        let (got, args, _) = client.recv_event().await;
        assert_eq!(&got, name, "args {args:?}");
    }
}

/// Sends `mark` to everyone: every client's next event, which proves that nothing
/// else was queued for it before.
async fn mark(io: &SocketIo, clients: &mut [&mut Sio], expected: &[&[&str]]) {
    io.emit("mark", ()).unwrap();
    for (client, names) in clients.iter_mut().zip(expected) {
        let mut names = names.to_vec();
        names.push("mark");
        expect_names(client, &names).await;
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_broadcasts() {
    let io = SocketIo::new();
    let main = io.of("/");
    io.of("/").on_connection(move |socket| {
        let main = main.clone();
        async move {
            socket.on("join", |socket, args: Vec<Value>| async move {
                socket.join(strings(&args));
                true
            });
            socket.on("leave", |socket, args: Vec<Value>| async move {
                socket.leave(args[0].as_str().unwrap());
                true
            });
            socket.on("leave_all", |socket, _: Args| async move {
                socket.leave_all();
                true
            });
            socket.on("rooms", |socket, _: Args| async move {
                let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                Value::from(sorted(rooms))
            });
            socket.on("to", |socket, args: Vec<Value>| async move {
                socket.to(strings(&args)).emit("to", "x").unwrap();
                true
            });
            socket.on("except", |socket, args: Vec<Value>| async move {
                socket.except(strings(&args)).emit("except", "x").unwrap();
                true
            });
            socket.on("broadcast", |socket, _: Args| async move {
                socket.broadcast().emit("broadcast", "x").unwrap();
                true
            });
            socket.on("everyone", move |_socket, _: Args| {
                let main = main.clone();
                async move {
                    main.emit("everyone", "x").unwrap();
                    true
                }
            });
        }
    });
    let addr = start(&io).await;
    let (mut a, a_sid) = Sio::connect(addr).await;
    let (mut b, b_sid) = Sio::connect(addr).await;
    let (mut c, c_sid) = Sio::connect(addr).await;
    a.call("join", vec![json!("red")], 1).await;
    b.call("join", vec![json!("red"), json!("blue")], 1).await;
    c.call("join", vec![json!("blue")], 1).await;

    // Every socket is in its own room.
    assert_eq!(
        a.call("rooms", vec![], 2).await,
        vec![json!(sorted(vec![a_sid.clone(), "red".into()]))]
    );
    assert_eq!(
        b.call("rooms", vec![], 2).await,
        vec![json!(sorted(vec![
            b_sid.clone(),
            "red".into(),
            "blue".into()
        ]))]
    );
    let ids = |op: sockeye_server::BroadcastOperator| {
        sorted(op.sockets().iter().map(|s| s.id().to_owned()).collect())
    };
    assert_eq!(
        ids(io.to("red")),
        sorted(vec![a_sid.clone(), b_sid.clone()])
    );

    // One room, from outside any handler.
    io.to("red").emit("red", ()).unwrap();
    mark(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[&["red"], &["red"], &[]],
    )
    .await;
    // Several rooms: each socket once, even when in both.
    io.to(["red", "blue"]).emit("both", ()).unwrap();
    mark(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[&["both"], &["both"], &["both"]],
    )
    .await;
    // A room minus another.
    io.to("blue")
        .except("red")
        .emit("blue-not-red", ())
        .unwrap();
    mark(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[&[], &[], &["blue-not-red"]],
    )
    .await;
    // A socket's own room.
    io.to(b_sid.as_str()).emit("direct", ()).unwrap();
    mark(&io, &mut [&mut a, &mut b, &mut c], &[&[], &["direct"], &[]]).await;
    // The whole namespace except a room.
    io.of("/").except("blue").emit("not-blue", ()).unwrap();
    mark(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[&["not-blue"], &[], &[]],
    )
    .await;

    // From a socket: `to` leaves the sender out, even when it is in the room.
    a.call("to", vec![json!("red"), json!("blue")], 3).await;
    mark(&io, &mut [&mut a, &mut b, &mut c], &[&[], &["to"], &["to"]]).await;
    // `except` leaves out the rooms and the sender.
    a.call("except", vec![json!("red")], 4).await;
    mark(&io, &mut [&mut a, &mut b, &mut c], &[&[], &[], &["except"]]).await;
    // `broadcast` is everyone but the sender.
    b.call("broadcast", vec![], 5).await;
    mark(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[&["broadcast"], &[], &["broadcast"]],
    )
    .await;
    // The namespace's emit includes the sender: its event comes before its ack.
    c.emit("everyone", vec![], Some(6)).await;
    expect_names(&mut c, &["everyone"]).await;
    assert!(matches!(c.recv().await, Packet::Ack { id: 6, .. }));
    mark(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[&["everyone"], &["everyone"], &[]],
    )
    .await;

    // Leave one room.
    a.call("leave", vec![json!("red")], 7).await;
    assert_eq!(a.call("rooms", vec![], 8).await, vec![json!([a_sid])]);
    io.to("red").emit("red", ()).unwrap();
    mark(&io, &mut [&mut a, &mut b, &mut c], &[&[], &["red"], &[]]).await;
    // Leave all rooms but its own.
    b.call("leave_all", vec![], 9).await;
    assert_eq!(b.call("rooms", vec![], 10).await, vec![json!([b_sid])]);
    io.to(["red", "blue"]).emit("both", ()).unwrap();
    mark(&io, &mut [&mut a, &mut b, &mut c], &[&[], &[], &["both"]]).await;
    io.to(b_sid.as_str()).emit("direct", ()).unwrap();
    mark(&io, &mut [&mut a, &mut b, &mut c], &[&[], &["direct"], &[]]).await;

    // A socket that leaves the namespace leaves its rooms.
    let (tx, mut left) = unbounded_channel();
    io.of("/")
        .socket(&c_sid)
        .unwrap()
        .on_disconnect(move |_, reason| {
            let tx = tx.clone();
            async move {
                tx.send(reason).ok();
            }
        });
    c.send(&Packet::Disconnect {
        namespace: "/".into(),
    })
    .await;
    next(&mut left).await;
    assert!(io.to("blue").sockets().is_empty());
    assert!(io.to(c_sid.as_str()).sockets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_from_outside_handlers() {
    let io = SocketIo::new();
    let app = axum::Router::new()
        .route(
            "/push",
            post({
                let io = io.clone();
                move |body: String| {
                    let io = io.clone();
                    async move {
                        io.emit("pushed", body).unwrap();
                        "pushed"
                    }
                }
            }),
        )
        .merge(io.router());
    let addr = common::serve(app).await;
    let (mut a, _) = Sio::connect(addr).await;
    let (mut b, _) = Sio::connect(addr).await;

    // A spawned task with a clone of the server.
    let task = tokio::spawn({
        let io = io.clone();
        async move { io.emit("from-task", ("tick", 1)) }
    });
    within("the task", task).await.unwrap().unwrap();
    for client in [&mut a, &mut b] {
        assert_eq!(
            client.expect_event("from-task").await,
            vec![json!("tick"), json!(1)]
        );
    }

    // An ordinary HTTP route of the same app.
    let reply = common::Http::new(addr)
        .request(
            reqwest::Client::new()
                .post(format!("http://{addr}/push"))
                .body("hello"),
        )
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "pushed"));
    for client in [&mut a, &mut b] {
        assert_eq!(client.expect_event("pushed").await, vec![json!("hello")]);
    }
}

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
struct User(String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_socket_extensions_and_shared_state() {
    let io = SocketIo::builder()
        .state(AppState { greeting: "hello" })
        .build();
    io.of("/").on_connection(|socket| async move {
        let name = socket
            .auth()
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("anonymous")
            .to_owned();
        assert_eq!(socket.insert_extension(User(name)), None);
        socket.on("whoami", |socket, _: Args| async move {
            let greeting = socket.state::<AppState>().expect("state").greeting;
            let user = socket.extension::<User>().map(|u| u.0);
            (greeting, user, socket.state::<u32>().is_none())
        });
        socket.on("rename", |socket, args: Vec<Value>| async move {
            let new = User(args[0].as_str().unwrap().to_owned());
            socket.insert_extension(new).map(|u| u.0)
        });
        socket.on("forget", |socket, _: Args| async move {
            socket.remove_extension::<User>().map(|u| u.0)
        });
    });
    let addr = start(&io).await;
    let mut alice = Sio::open(addr).await;
    alice.join("/", Some(json!({"name": "alice"}))).await;
    let mut bob = Sio::open(addr).await;
    bob.join("/", Some(json!({"name": "bob"}))).await;

    assert_eq!(
        alice.call("whoami", vec![], 1).await,
        vec![json!("hello"), json!("alice"), json!(true)]
    );
    assert_eq!(
        bob.call("whoami", vec![], 1).await,
        vec![json!("hello"), json!("bob"), json!(true)]
    );
    assert_eq!(
        alice.call("rename", vec![json!("carol")], 2).await,
        vec![json!("alice")]
    );
    assert_eq!(
        alice.call("whoami", vec![], 3).await,
        vec![json!("hello"), json!("carol"), json!(true)]
    );
    assert_eq!(bob.call("forget", vec![], 2).await, vec![json!("bob")]);
    assert_eq!(
        bob.call("whoami", vec![], 3).await,
        vec![json!("hello"), json!(null), json!(true)]
    );
    // `forget` with nothing stored returns None: no ack at all.
    bob.emit("forget", vec![], Some(4)).await;
    assert_eq!(
        bob.call("whoami", vec![], 5).await,
        vec![json!("hello"), json!(null), json!(true)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_disconnected() {
    let io = SocketIo::builder().max_buffered_frames(8).build();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (mut fast, _) = Sio::connect(addr).await;
    let mut slow = Sio::from_fresh_ws(Ws::connect_small_buffer(addr).await).await;
    let slow_sid = slow.join("/", None).await;

    // The slow client reads nothing from now on; the fast one reads every event
    // before the next is sent, so its queue never holds more than one.
    let big = "x".repeat(64 * 1024);
    let mut sent = 0;
    let reason = loop {
        assert!(sent < 2000, "the slow client was never disconnected");
        io.emit("big", big.as_str()).unwrap();
        sent += 1;
        assert_eq!(fast.expect_event("big").await, vec![json!(big.as_str())]);
        if let Ok(reason) = reasons.try_recv() {
            break reason;
        }
    };
    assert_eq!(reason, (slow_sid, DisconnectReason::TransportError));
    // The fast client keeps receiving.
    io.emit("after", 1).unwrap();
    assert_eq!(fast.expect_event("after").await, vec![json!(1)]);
    assert_eq!(fast.call("echo", vec![json!(2)], 1).await, vec![json!(2)]);
    assert_eq!(io.of("/").sockets().len(), 1);
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_closes_only_that_connection() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (mut good, good_sid) = Sio::connect(addr).await;

    let mut expected = HashMap::new();
    // Not an Engine.IO packet.
    let (mut bad, sid) = Sio::connect(addr).await;
    bad.ws.send_text("hello, garbage").await;
    bad.ws.expect_closed().await;
    expected.insert(sid, DisconnectReason::TransportError);
    // An Engine.IO message that is no Socket.IO packet.
    let (mut bad, sid) = Sio::connect(addr).await;
    bad.ws.send_text(r#"4{"bad"#).await;
    bad.ws.expect_closed().await;
    expected.insert(sid, DisconnectReason::ParseError);
    // A CONNECT_ERROR with broken JSON.
    let (mut bad, sid) = Sio::connect(addr).await;
    bad.ws.send_text(r#"44{"bad"#).await;
    bad.ws.expect_closed().await;
    expected.insert(sid, DisconnectReason::ParseError);
    // A valid header with broken JSON.
    let (mut bad, sid) = Sio::connect(addr).await;
    bad.ws.send_text(r#"42["event","#).await;
    bad.ws.expect_closed().await;
    expected.insert(sid, DisconnectReason::ParseError);
    // A binary frame when no binary packet waits for it.
    let (mut bad, sid) = Sio::connect(addr).await;
    bad.ws.send_binary(&[1, 2, 3]).await;
    bad.ws.expect_closed().await;
    expected.insert(sid, DisconnectReason::ParseError);
    // A garbage polling POST.
    let (polling, _) = Polling::open(addr).await;
    polling.post(&[EioPacket::Message("0".into())]).await;
    let sid = match decode_sio(&mut Decoder::default(), polling.get().await).as_slice() {
        [Packet::Connect { data: Some(d), .. }] => d.get("sid").unwrap().as_str().unwrap().into(),
        other => panic!("{other:?}"),
    };
    polling.post_raw("garbage").await.assert_error(400, 3);
    polling.wait_gone().await;
    expected.insert(sid, DisconnectReason::TransportError);

    let mut got = HashMap::new();
    while got.len() < expected.len() {
        let (sid, reason) = next(&mut reasons).await;
        got.insert(sid, reason);
    }
    assert_eq!(got, expected);
    // The well-behaved client never noticed.
    assert_eq!(
        good.call("echo", vec![json!("ok")], 1).await,
        vec![json!("ok")]
    );
    assert_eq!(io.of("/").sockets().len(), 1);
    assert!(io.of("/").socket(&good_sid).is_some());
    assert_eq!(io.connection_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_delivers_queued_packets_then_closes() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (mut ws_client, ws_sid) = Sio::connect(addr).await;
    let (polling, _) = Polling::open(addr).await;
    polling.post(&[EioPacket::Message("0".into())]).await;
    let polling_sid = match decode_sio(&mut Decoder::default(), polling.get().await).as_slice() {
        [Packet::Connect { data: Some(d), .. }] => d.get("sid").unwrap().as_str().unwrap().into(),
        other => panic!("{other:?}"),
    };

    io.emit("bye", "queued").unwrap();
    let closing = tokio::spawn(io.close());
    // The polling client, polling while the close goes on, gets the queued event and
    // the close packet.
    let collect = tokio::spawn(async move {
        let mut received = Vec::new();
        while received.last() != Some(&EioPacket::Close) {
            received.extend(polling.get().await);
        }
        polling.wait_gone().await;
        received
    });

    // The WebSocket client reads the queued event, then a close frame; reading on
    // answers it (the closing handshake), and the server ends the connection.
    assert_eq!(ws_client.expect_event("bye").await, vec![json!("queued")]);
    assert!(matches!(ws_client.ws.read().await, Read::CloseFrame));
    assert!(matches!(ws_client.ws.read().await, Read::Closed));
    let received = within("the polling client", collect).await.unwrap();
    assert_eq!(
        received,
        vec![
            EioPacket::Message(r#"2["bye","queued"]"#.into()),
            EioPacket::Close
        ]
    );

    within("io.close()", closing).await.unwrap();
    assert_eq!(io.connection_count(), 0);
    // A client reconnecting during the shutdown is not handed a doomed session.
    let refused = Http::new(addr).get("EIO=4&transport=polling").await;
    refused.assert_error(503, 3);
    let mut got = HashMap::new();
    for _ in 0..2 {
        let (sid, reason) = next(&mut reasons).await;
        got.insert(sid, reason);
    }
    assert_eq!(
        got,
        HashMap::from([
            (ws_sid, DisconnectReason::ServerShuttingDown),
            (polling_sid, DisconnectReason::ServerShuttingDown)
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_an_upgrade_closes_the_new_websocket() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (polling, _) = Polling::open(addr).await;
    polling.post(&[EioPacket::Message("0".into())]).await;
    let sid = match decode_sio(&mut Decoder::default(), polling.get().await).as_slice() {
        [Packet::Connect { data: Some(d), .. }] => d.get("sid").unwrap().as_str().unwrap().into(),
        other => panic!("{other:?}"),
    };
    // The probe succeeds, then the server starts shutting down before the client
    // sends its upgrade packet.
    let mut ws = Ws::connect(addr, &format!("&sid={}", polling.sid)).await;
    ws.send_text("2probe").await;
    assert_eq!(ws.recv().await, EioPacket::Pong("probe".into()));
    let closing = tokio::spawn(io.close());
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::ServerShuttingDown)
    );
    ws.send_text("5").await;
    // The client now listens on the WebSocket only: it must get a close frame there,
    // not a silent socket that it can only give up on at its ping timeout.
    assert!(matches!(ws.read().await, Read::CloseFrame));
    within("io.close()", closing).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_forever_for_a_client_that_does_not_read() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let mut slow = Sio::from_fresh_ws(Ws::connect_small_buffer(addr).await).await;
    let slow_sid = slow.join("/", None).await;
    // 12.8 MB: more than the TCP buffers hold, far less than the queue's bound, so
    // the session's writes block without the queue ever filling up.
    let big = "x".repeat(64 * 1024);
    for _ in 0..200 {
        io.to(slow_sid.as_str()).emit("big", big.as_str()).unwrap();
    }
    within("io.close()", io.close()).await;
    assert_eq!(io.connection_count(), 0);
    assert_eq!(
        next(&mut reasons).await,
        (slow_sid, DisconnectReason::ServerShuttingDown)
    );
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_joined_twice_at_once_leaves_no_stray_socket() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    // The first join waits in a middleware until the test opens its gate, so the second
    // CONNECT surely comes while it is pending: once `/` is joined, a CONNECT to it
    // closes the connection. Packets are handled in order, so once a join of `/other`
    // sent after both is answered, the second CONNECT to `/` has been seen.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let held = gate.clone();
    io.of("/").middleware(move |_socket| {
        let held = held.clone();
        async move {
            held.acquire().await.expect("the gate").forget();
            Ok(())
        }
    });
    io.of("/other");
    let addr = start(&io).await;
    let mut client = Sio::open(addr).await;
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    client.ws.stream.feed(Message::text("40")).await.unwrap();
    client.ws.stream.feed(Message::text("40")).await.unwrap();
    client
        .ws
        .stream
        .feed(Message::text("40/other,"))
        .await
        .unwrap();
    within("a flush", client.ws.stream.flush()).await.unwrap();
    match client.recv().await {
        Packet::Connect {
            namespace,
            data: Some(_),
        } if namespace == "/other" => {}
        other => panic!("expected the join of /other first, got {other:?}"),
    }
    gate.add_permits(1);
    let sid = match client.recv().await {
        Packet::Connect {
            namespace,
            data: Some(d),
        } if namespace == "/" => d.get("sid").unwrap().as_str().unwrap().to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(client.call("echo", vec![json!(1)], 1).await, vec![json!(1)]);
    assert_eq!(io.of("/").sockets().len(), 1, "one socket per namespace");
    client.ws.close().await;
    // Only `/` reports its sockets (report_disconnects listens there).
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::TransportClose)
    );
    assert!(io.of("/").sockets().is_empty());
}

/// socket.io-parser puts attachments back only in BINARY_EVENT and BINARY_ACK: in a
/// plain EVENT or ACK an object shaped like a placeholder is the client's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_object_in_a_plain_event_is_data() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;
    let placeholder = json!({"_placeholder": true, "num": 0});
    client
        .ws
        .send_text(r#"427["echo",{"_placeholder":true,"num":0}]"#)
        .await;
    assert_eq!(
        client.recv().await,
        Packet::Ack {
            namespace: "/".into(),
            args: vec![placeholder.clone()].into(),
            id: 7
        }
    );

    // Over polling too.
    let (polling, _) = Polling::open(addr).await;
    let mut decoder = Decoder::default();
    polling.post(&[EioPacket::Message("0".into())]).await;
    assert!(matches!(
        decode_sio(&mut decoder, polling.get().await).as_slice(),
        [Packet::Connect { .. }]
    ));
    polling
        .post(&[EioPacket::Message(
            r#"28["echo",{"a":[{"_placeholder":true,"num":3}]}]"#.into(),
        )])
        .await;
    assert_eq!(
        decode_sio(&mut decoder, polling.get().await),
        vec![Packet::Ack {
            namespace: "/".into(),
            args: vec![json!({"a": [{"_placeholder": true, "num": 3}]})].into(),
            id: 8
        }]
    );

    // In a binary packet a placeholder still names an attachment, and one that names
    // a missing attachment is still refused.
    let (mut bad, sid) = Sio::connect(addr).await;
    bad.ws
        .send_text(r#"451-["echo",{"_placeholder":true,"num":1}]"#)
        .await;
    bad.ws.send_binary(b"x").await;
    bad.ws.expect_closed().await;
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::ParseError)
    );
    assert_eq!(
        client.call("echo", vec![json!("still")], 9).await,
        vec![json!("still")]
    );
}

/// Reports the disconnects of `/` (see [`report_disconnects`]) and of `/admin`, whose
/// sockets leave it when they emit `leave`.
fn report_two_namespaces(
    io: &SocketIo,
    tx: tokio::sync::mpsc::UnboundedSender<(String, DisconnectReason)>,
) {
    report_disconnects(io, tx.clone());
    io.of("/admin").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on("leave", |socket, _args: Args| async move {
                socket.disconnect(Disconnect::Namespace)
            });
            socket.on_disconnect(move |socket, reason| {
                let tx = tx.clone();
                async move {
                    tx.send((socket.id().to_owned(), reason)).ok();
                }
            });
        }
    });
}

/// socket.io's `Client.ondecoded` ("invalid state"): a CONNECT to a namespace the
/// connection is in, any other packet for a namespace it is not in, and a
/// CONNECT_ERROR (only a server sends one) close the whole connection; every socket on
/// it leaves with "forced server close". Other connections are not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_against_the_namespace_state_closes_the_connection() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_two_namespaces(&io, tx);
    let addr = start(&io).await;
    let (mut good, _) = Sio::connect(addr).await;

    // Whole Engine.IO message frames.
    let cases = [
        ("a second CONNECT to /", "40"),
        ("a second CONNECT to /admin", "40/admin,"),
        ("an EVENT for /other", r#"42/other,["echo"]"#),
        (
            "an EVENT with an ack id for /other",
            r#"42/other,5["echo"]"#,
        ),
        ("an ACK for /other", "43/other,1[]"),
        ("a DISCONNECT for /other", "41/other,"),
        (
            "a BINARY_EVENT for /other",
            r#"451-/other,["echo",{"_placeholder":true,"num":0}]"#,
        ),
        ("a CONNECT_ERROR", r#"44{"message":"no"}"#),
        ("a CONNECT_ERROR for /admin", r#"44/admin,{"message":"no"}"#),
    ];
    for (i, (what, text)) in cases.into_iter().enumerate() {
        let (mut bad, main_sid) = Sio::connect(addr).await;
        let admin_sid = bad.join("/admin", None).await;
        bad.ws.send_text(text).await;
        if text.starts_with("45") {
            bad.ws.send_binary(b"x").await;
        }
        bad.ws.expect_closed().await;
        let mut got = HashMap::new();
        while got.len() < 2 {
            let (sid, reason) = next(&mut reasons).await;
            got.insert(sid, reason);
        }
        assert_eq!(
            got,
            HashMap::from([
                (main_sid, DisconnectReason::ForcedServerClose),
                (admin_sid, DisconnectReason::ForcedServerClose),
            ]),
            "after {what}"
        );
        let n = json!(i);
        assert_eq!(good.call("echo", vec![n.clone()], i as u64).await, vec![n]);
    }
    assert_eq!(io.of("/").sockets().len(), 1);
    assert!(io.of("/admin").sockets().is_empty());
    assert_eq!(
        DisconnectReason::ForcedServerClose.as_str(),
        "forced server close"
    );
}

/// A client's packet for a namespace the server has just made it leave is, as in
/// socket.io (the socket is gone from `client.nsps`), a packet for a namespace it is
/// not in: the connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_for_a_namespace_the_server_left_closes_the_connection() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_two_namespaces(&io, tx);
    let addr = start(&io).await;
    let (mut client, main_sid) = Sio::connect(addr).await;
    let admin_sid = client.join("/admin", None).await;
    client
        .send(&Packet::event(
            "/admin",
            "leave",
            Args::empty(Parser::Json),
            None,
        ))
        .await;
    assert_eq!(
        client.recv().await,
        Packet::Disconnect {
            namespace: "/admin".into()
        }
    );
    assert_eq!(
        next(&mut reasons).await,
        (admin_sid, DisconnectReason::ServerNamespaceDisconnect)
    );
    // Still served on `/`.
    assert_eq!(client.call("echo", vec![json!(1)], 1).await, vec![json!(1)]);
    // Sent before it saw the DISCONNECT, as far as the server can tell.
    client
        .send(&Packet::event(
            "/admin",
            "leave",
            Args::empty(Parser::Json),
            None,
        ))
        .await;
    client.ws.expect_closed().await;
    assert_eq!(
        next(&mut reasons).await,
        (main_sid, DisconnectReason::ForcedServerClose)
    );
}

/// Over polling, the packets after the one that closed the connection, in the same
/// body, are not handled (engine.io drops the packets of a closing socket).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_after_a_closing_packet_is_handled() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let (seen_tx, mut seen) = unbounded_channel();
    io.of("/late").on_connection(move |socket| {
        let seen_tx = seen_tx.clone();
        async move {
            seen_tx.send(socket.id().to_owned()).ok();
        }
    });
    let addr = start(&io).await;
    let (polling, _) = Polling::open(addr).await;
    polling.post(&[EioPacket::Message("0".into())]).await;
    let sid = match decode_sio(&mut Decoder::default(), polling.get().await).as_slice() {
        [Packet::Connect { data: Some(d), .. }] => {
            d.get("sid").unwrap().as_str().unwrap().to_owned()
        }
        other => panic!("{other:?}"),
    };
    polling
        .post(&[
            EioPacket::Message(r#"2/other,["echo"]"#.into()),
            EioPacket::Message("0/late,".into()),
        ])
        .await;
    polling.wait_gone().await;
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::ForcedServerClose)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        seen.try_recv().is_err(),
        "a packet after the close was handled"
    );
    assert!(io.of("/late").sockets().is_empty());
}
