//! Event arguments end to end, over real connections: typed handlers and their acks,
//! arguments that do not fit a handler (the connection is closed), arguments forwarded
//! as the bytes they came as, and the msgpack parser.

mod common;

use bytes::Bytes;
use common::{next, report_disconnect, start, values, within, Polling, Read, Sio, Ws};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sockeye_protocol::engine::Packet as EioPacket;
use sockeye_protocol::json;
use sockeye_protocol::socket::{msgpack, Args, Decoder, Packet, Parser};
use sockeye_server::{AckError, DisconnectReason, Socket, SocketIo};
use std::net::SocketAddr;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The next text frame (pings answered on the way).
async fn read_text(ws: &mut Ws) -> String {
    loop {
        match ws.read().await {
            Read::Text(text) if text == "2" => ws.send_text("3").await,
            Read::Text(text) => return text,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next binary frame.
async fn read_binary(ws: &mut Ws) -> Bytes {
    loop {
        match ws.read().await {
            Read::Text(text) if text == "2" => ws.send_text("3").await,
            Read::Binary(data) => return data,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

/// Sends a binary packet's text, then its attachments.
async fn send_with_parts(ws: &mut Ws, text: &str, parts: &[&[u8]]) {
    ws.send_text(text).await;
    for part in parts {
        ws.send_binary(part).await;
    }
}

/// Reads until the server ends the WebSocket, and asserts a clean ending: a close
/// frame, then the end of the stream (no reset). Returns the data frames before it.
async fn expect_clean_close(ws: &mut Ws) -> Vec<Read> {
    within("the server's close", async {
        let mut seen = Vec::new();
        loop {
            match ws.stream.next().await {
                Some(Ok(WsMessage::Text(text))) => seen.push(Read::Text(text.as_str().to_owned())),
                Some(Ok(WsMessage::Binary(data))) => seen.push(Read::Binary(data)),
                Some(Ok(WsMessage::Close(_))) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("no close frame ({e}) after {seen:?}"),
                None => panic!("no close frame (end of stream) after {seen:?}"),
            }
        }
        loop {
            match ws.stream.next().await {
                None => return seen,
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the stream failed after the close frame: {e}"),
            }
        }
    })
    .await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note {
    title: String,
    tags: Vec<String>,
}

/// `say`: a room and a count, read as the handler's own types; the returned tuple is
/// the ack, one argument per element.
fn on_say(socket: &Socket, seen: UnboundedSender<(String, u32)>) {
    socket.on("say", move |_socket, (room, n): (String, u32)| {
        let seen = seen.clone();
        async move {
            seen.send((room.clone(), n)).ok();
            (format!("said in {room}"), n + 1)
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_handler_gets_its_values_and_its_tuple_is_the_ack() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            on_say(&socket, tx);
            socket.on("note", |_socket, (room, note): (String, Note)| async move {
                let title = note.title.to_uppercase();
                (room, Note { title, ..note })
            });
        }
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;

    // The values, and the ack exactly as it travels.
    client.ws.send_text(r#"421["say","lobby",7]"#).await;
    assert_eq!(next(&mut seen).await, ("lobby".to_owned(), 7));
    assert_eq!(read_text(&mut client.ws).await, r#"431["said in lobby",8]"#);

    // Arguments past the tuple's length are ignored, as a JavaScript listener does.
    assert_eq!(
        client
            .call("say", vec![json!("hall"), json!(0), json!("extra")], 2)
            .await,
        vec![json!("said in hall"), json!(1)]
    );
    assert_eq!(next(&mut seen).await, ("hall".to_owned(), 0));

    // A struct is one argument; the ack carries one back.
    let note = Note {
        title: "hello".into(),
        tags: vec!["a".into(), "b".into()],
    };
    let args = Args::serialize(Parser::Json, &("r1", &note)).unwrap();
    let ack = client.call_args("note", args, 3).await;
    assert_eq!(
        ack.deserialize::<(String, Note)>().unwrap(),
        (
            "r1".to_owned(),
            Note {
                title: "HELLO".into(),
                ..note
            }
        )
    );
    assert_eq!(
        values(ack),
        vec![json!("r1"), json!({"title": "HELLO", "tags": ["a", "b"]})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_do_not_fit_the_handler_close_only_that_connection() {
    let io = SocketIo::new();
    let (tx, mut seen) = unbounded_channel();
    let (reasons_tx, mut reasons) = unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let (tx, reasons_tx) = (tx.clone(), reasons_tx.clone());
        async move {
            on_say(&socket, tx);
            report_disconnect(&socket, reasons_tx);
        }
    });
    let addr = start(&io).await;
    let (mut good, good_sid) = Sio::connect(addr).await;

    let cases = [
        ("a number where a String is expected", r#"421["say",1,2]"#),
        ("too few arguments", r#"422["say","lobby"]"#),
        ("no arguments", r#"42["say"]"#),
        ("a negative number for a u32", r#"423["say","lobby",-1]"#),
        (
            "a string where a number is expected",
            r#"42["say","lobby","7"]"#,
        ),
    ];
    for (i, (what, text)) in cases.into_iter().enumerate() {
        let (mut bad, sid) = Sio::connect(addr).await;
        bad.ws.send_text(text).await;
        // No ack, no event: the engine closes the WebSocket cleanly.
        let before = expect_clean_close(&mut bad.ws).await;
        assert!(before.is_empty(), "{what}: {before:?}");
        assert_eq!(
            next(&mut reasons).await,
            (sid, DisconnectReason::ParseError),
            "after {what}"
        );
        // The other connection is served; the handler never ran for the bad one (the
        // next value it saw is the good client's).
        let n = i as u32 + 100;
        assert_eq!(
            good.call("say", vec![json!("ok"), json!(n)], n.into())
                .await,
            vec![json!("said in ok"), json!(n + 1)],
            "after {what}"
        );
        assert_eq!(next(&mut seen).await, ("ok".to_owned(), n), "after {what}");
    }

    // Over polling: the session is closed too.
    let (polling, _) = Polling::open(addr).await;
    polling.post(&[EioPacket::Message("0".into())]).await;
    let sid = match common::decode_sio(&mut Decoder::default(), polling.get().await).as_slice() {
        [Packet::Connect { data: Some(d), .. }] => d.get("sid").unwrap().as_str().unwrap().into(),
        other => panic!("{other:?}"),
    };
    polling
        .post(&[EioPacket::Message(r#"21["say",1,2]"#.into())])
        .await;
    let reply = polling.get_raw().await;
    if reply.status == 200 {
        assert_eq!(reply.body, "1", "only the close packet");
        polling.wait_gone().await;
    } else {
        reply.assert_error(400, 1);
    }
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::ParseError)
    );

    assert_eq!(
        good.call("say", vec![json!("still"), json!(1)], 1).await,
        vec![json!("said in still"), json!(2)]
    );
    assert_eq!(next(&mut seen).await, ("still".to_owned(), 1));
    assert_eq!(io.of("/").sockets().len(), 1);
    assert!(io.of("/").socket(&good_sid).is_some());
    assert_eq!(io.connection_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_arguments_go_out_as_the_bytes_that_came() {
    let io = SocketIo::new();
    io.of("/").on_connection(|socket| async move {
        socket.on("echo", |socket, args: Args| async move {
            socket.emit("echo", args).unwrap();
        });
        socket.on("echo-ack", |_socket, args: Args| async move { args });
        socket.on("relay", |socket, args: Args| async move {
            socket.broadcast().emit("relay", args).unwrap();
        });
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;
    let (mut other, _) = Sio::connect(addr).await;

    // Odd spacing and number formats that a parse and re-encode would change.
    let odd = r#"{"b":1,  "a":[1.50,"x"]}"#;
    client.ws.send_text(&format!(r#"42["echo",{odd}]"#)).await;
    let echo = read_text(&mut client.ws).await;
    assert!(echo.contains(odd), "{echo}");
    assert_eq!(echo, format!(r#"42["echo",{odd}]"#));
    // Several arguments: what is between them is kept too.
    client.ws.send_text(r#"42["echo", 1.0 ,"y" ,1e2]"#).await;
    assert_eq!(
        read_text(&mut client.ws).await,
        r#"42["echo",1.0 ,"y" ,1e2]"#
    );
    // As an ack.
    client
        .ws
        .send_text(&format!(r#"425["echo-ack",{odd}, -0.0]"#))
        .await;
    assert_eq!(
        read_text(&mut client.ws).await,
        format!(r#"435[{odd}, -0.0]"#)
    );
    // As a broadcast, to another client.
    client.ws.send_text(&format!(r#"42["relay",{odd}]"#)).await;
    assert_eq!(
        read_text(&mut other.ws).await,
        format!(r#"42["relay",{odd}]"#)
    );

    // Binary attachments come back unchanged, after the same text.
    let data = r#"{"_placeholder":true,"num":0},{"k":[ {"_placeholder":true,"num":1} ]}"#;
    let parts: [&[u8]; 2] = [b"\x00\xff\x01", b"second part"];
    send_with_parts(&mut client.ws, &format!(r#"452-["echo",{data}]"#), &parts).await;
    assert_eq!(
        read_text(&mut client.ws).await,
        format!(r#"452-["echo",{data}]"#)
    );
    for part in parts {
        assert_eq!(read_binary(&mut client.ws).await, part);
    }
    send_with_parts(
        &mut client.ws,
        &format!(r#"452-6["echo-ack",{data}]"#),
        &parts,
    )
    .await;
    assert_eq!(read_text(&mut client.ws).await, format!(r#"462-6[{data}]"#));
    for part in parts {
        assert_eq!(read_binary(&mut client.ws).await, part);
    }
    send_with_parts(&mut client.ws, &format!(r#"452-["relay",{data}]"#), &parts).await;
    assert_eq!(
        read_text(&mut other.ws).await,
        format!(r#"452-["relay",{data}]"#)
    );
    for part in parts {
        assert_eq!(read_binary(&mut other.ws).await, part);
    }
}

/// Sends a Socket.IO packet in socket.io-msgpack-parser's format: one binary message.
async fn send_msgpack(ws: &mut Ws, packet: &Packet) {
    ws.send_binary(&msgpack::encode(packet)).await;
}

/// The next Socket.IO packet, which must come as one msgpack binary message.
async fn recv_msgpack(ws: &mut Ws) -> Packet {
    let message = read_binary(ws).await;
    msgpack::decode(message.clone())
        .unwrap_or_else(|e| panic!("not a msgpack packet {message:?}: {e}"))
}

/// Opens a WebSocket session and joins `/` with the msgpack parser; returns the socket
/// id.
async fn connect_msgpack(addr: SocketAddr) -> (Ws, String) {
    let (mut ws, _) = Ws::open(addr).await;
    send_msgpack(
        &mut ws,
        &Packet::Connect {
            namespace: "/".into(),
            data: None,
        },
    )
    .await;
    match recv_msgpack(&mut ws).await {
        Packet::Connect {
            namespace,
            data: Some(data),
        } if namespace == "/" => {
            let sid = data.get("sid").and_then(|s| s.as_str()).expect("a sid");
            (ws, sid.to_owned())
        }
        other => panic!("join answered with {other:?}"),
    }
}

fn msgpack_args<T: Serialize>(list: &T) -> Args {
    Args::serialize(Parser::MsgPack, list).expect("serializable arguments")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_msgpack_parser_end_to_end() {
    let io = SocketIo::builder().parser(Parser::MsgPack).build();
    let (tx, mut seen) = unbounded_channel();
    let (reasons_tx, mut reasons) = unbounded_channel();
    let (answers_tx, mut answers) = unbounded_channel::<Result<Args, AckError>>();
    io.of("/").on_connection(move |socket| {
        let (tx, reasons_tx, answers_tx) = (tx.clone(), reasons_tx.clone(), answers_tx.clone());
        async move {
            on_say(&socket, tx);
            socket.on("echo", |_socket, args: Args| async move { args });
            socket.on("ask", move |socket, (question,): (String,)| {
                let answers_tx = answers_tx.clone();
                async move {
                    let blob = Bytes::from_static(b"\x00\x01\xff");
                    let answer = socket.emit_with_ack("question", (question, blob)).await;
                    answers_tx.send(answer).ok();
                }
            });
            report_disconnect(&socket, reasons_tx);
        }
    });
    let addr = start(&io).await;
    let (mut client, sid) = connect_msgpack(addr).await;
    let (mut other, _) = connect_msgpack(addr).await;

    // An event with an ack: typed values in, the tuple back as the ack.
    send_msgpack(
        &mut client,
        &Packet::event("/", "say", msgpack_args(&("lobby", 7)), Some(1)),
    )
    .await;
    assert_eq!(next(&mut seen).await, ("lobby".to_owned(), 7));
    match recv_msgpack(&mut client).await {
        Packet::Ack {
            namespace,
            args,
            id,
        } => {
            assert_eq!((namespace.as_str(), id), ("/", 1));
            assert_eq!(args.parser(), Parser::MsgPack);
            assert_eq!(
                args.deserialize::<(String, u32)>().unwrap(),
                ("said in lobby".to_owned(), 8)
            );
        }
        other => panic!("expected the ack, got {other:?}"),
    }

    // Binary travels inline, and forwarded arguments are the same bytes.
    let sent = msgpack_args(&("bin", Bytes::from_static(b"\x00\xff"), json!({"k": [1.5]})));
    send_msgpack(
        &mut client,
        &Packet::event("/", "echo", sent.clone(), Some(2)),
    )
    .await;
    match recv_msgpack(&mut client).await {
        Packet::Ack { args, id: 2, .. } => {
            assert_eq!(args, sent);
            assert_eq!(
                values(args),
                vec![
                    json!("bin"),
                    sockeye_protocol::Value::Binary(Bytes::from_static(b"\x00\xff")),
                    json!({"k": [1.5]})
                ]
            );
        }
        other => panic!("expected the ack, got {other:?}"),
    }

    // The server asks, the client answers its ack.
    send_msgpack(
        &mut client,
        &Packet::event("/", "ask", msgpack_args(&("why?",)), None),
    )
    .await;
    let id = match recv_msgpack(&mut client).await {
        Packet::Event { name, args, id, .. } if name == "question" => {
            assert_eq!(
                args.deserialize::<(String, Bytes)>().unwrap(),
                ("why?".to_owned(), Bytes::from_static(b"\x00\x01\xff"))
            );
            id.expect("the server waits for an ack")
        }
        other => panic!("expected the question, got {other:?}"),
    };
    send_msgpack(
        &mut client,
        &Packet::Ack {
            namespace: "/".into(),
            args: msgpack_args(&("because", 42)),
            id,
        },
    )
    .await;
    let answer = next(&mut answers).await.expect("the answer");
    assert_eq!(
        answer.deserialize::<(String, u32)>().unwrap(),
        ("because".to_owned(), 42)
    );

    // A text Socket.IO packet is not this server's format: the connection is closed.
    client.send_text(r#"421["say","lobby",7]"#).await;
    let before = expect_clean_close(&mut client).await;
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(
        next(&mut reasons).await,
        (sid, DisconnectReason::ParseError)
    );
    // The other client goes on.
    send_msgpack(
        &mut other,
        &Packet::event("/", "say", msgpack_args(&("hall", 1)), Some(9)),
    )
    .await;
    match recv_msgpack(&mut other).await {
        Packet::Ack { args, id: 9, .. } => assert_eq!(
            args.deserialize::<(String, u32)>().unwrap(),
            ("said in hall".to_owned(), 2)
        ),
        other => panic!("expected the ack, got {other:?}"),
    }
    assert_eq!(next(&mut seen).await, ("hall".to_owned(), 1));
    assert_eq!(io.connection_count(), 1);
}

/// A handler that panics is a bug in that handler: its connection ends (the client is
/// told "io server disconnect", then a clean close) and its socket leaves; every other
/// connection goes on. Before, the panic unwound the session's task: no close, and the
/// socket stayed registered in its namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_ends_only_its_connection() {
    let io = SocketIo::new();
    let (reasons_tx, mut reasons) = unbounded_channel();
    io.of("/").on_connection(move |socket| {
        let reasons_tx = reasons_tx.clone();
        async move {
            report_disconnect(&socket, reasons_tx);
            socket.on("boom", |_socket, (when,): (String,)| async move {
                if when == "later" {
                    tokio::task::yield_now().await;
                }
                assert!(when.is_empty(), "a bug in the boom handler ({when})");
            });
            // Panics before it returns its future.
            socket.on("check", |_socket, (n,): (u32,)| {
                assert!(n < 10, "a bug in the check handler");
                async move { n }
            });
            socket.on("echo", |_socket, args: Args| async move { args });
        }
    });
    let addr = start(&io).await;
    let (mut good, good_sid) = Sio::connect(addr).await;
    for text in [
        r#"42["boom","now"]"#,
        r#"42["boom","later"]"#,
        r#"421["check",11]"#,
    ] {
        let (mut bad, sid) = Sio::connect(addr).await;
        bad.ws.send_text(text).await;
        let before = expect_clean_close(&mut bad.ws).await;
        assert!(
            matches!(before.as_slice(), [Read::Text(t)] if t == "41"),
            "{text}: {before:?}"
        );
        assert_eq!(
            next(&mut reasons).await,
            (sid, DisconnectReason::ServerNamespaceDisconnect),
            "{text}"
        );
        assert_eq!(
            good.call("echo", vec![json!(text)], 1).await,
            vec![json!(text)]
        );
    }
    assert_eq!(io.of("/").sockets().len(), 1);
    assert!(io.of("/").socket(&good_sid).is_some());
    within("the closed connections to be gone", async {
        while io.connection_count() != 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}
