//! Bad input replayed against a live server: the known-bad inputs of
//! `server/tests/corpus/` and the fuzzers' seeds (`fuzz/seeds/*/`). Each is sent by a
//! client of its own, as a WebSocket text frame, as a WebSocket binary frame and as a
//! long-polling POST body, while a well-behaved client is served throughout.
//!
//! Each corpus file has its expected outcome in [`EXPECTED`], for each of the three
//! ways: the connection is kept (the input is valid), or it is closed with exactly this
//! disconnect reason; over polling also the POST's HTTP status. The fuzz seeds are
//! checked more loosely: no panic, the good client served, and a closed connection
//! closed with a reason from [`SEED_REASONS`].

mod common;

use common::{decode_sio, report_disconnects, within, Polling, Read, Sio};
use futures_util::SinkExt;
use sockeye_protocol::engine::{payload, Packet as EioPacket};
use sockeye_protocol::json;
use sockeye_protocol::socket::{Decoder, Packet};
use sockeye_protocol::Value;
use sockeye_server::{DisconnectReason, SocketIo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// What became of a connection after it sent an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Still served: it answers an echo afterwards.
    Kept,
    /// Closed; its socket left with this reason.
    Closed(DisconnectReason),
}

use DisconnectReason::{ForcedServerClose, ParseError, TransportError};
use Outcome::{Closed, Kept};

/// What one input did, sent each of the three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcomes {
    /// As a WebSocket text frame (bytes that are not UTF-8 are sent as U+FFFD: a text
    /// frame must be UTF-8).
    text: Outcome,
    /// As a WebSocket binary frame.
    binary: Outcome,
    /// As a polling POST body: the HTTP status of that POST, then the session's fate.
    polling: (u16, Outcome),
}

const fn expect(text: Outcome, binary: Outcome, status: u16, polling: Outcome) -> Outcomes {
    Outcomes {
        text,
        binary,
        polling: (status, polling),
    }
}

/// "parse error": the Socket.IO packet in a valid Engine.IO message cannot be decoded.
const PARSE: Outcome = Closed(ParseError);
/// "transport error": the Engine.IO layer refused the frame or the polling body.
const TRANSPORT: Outcome = Closed(TransportError);
/// "forced server close": a valid packet against the namespace state (socket.io's
/// "invalid state" in `Client.ondecoded`) closed the whole connection.
const STATE: Outcome = Closed(ForcedServerClose);

/// The expected outcome of every file of `server/tests/corpus/`.
///
/// Every corpus file sent as a WebSocket binary frame is an attachment no binary
/// packet announced: a parse error, as in socket.io-parser ("got binary data when not
/// reconstructing a packet"). Where the official server (socket.io 4.8 / engine.io 6)
/// differs, the note says so; socket.io reports its own Socket.IO decode errors as
/// "forced close" where Sockeye says "parse error" (its docs give both reasons the
/// same meaning: an invalid packet from the client). For an invalid state Sockeye says
/// "forced server close", the reason socket.io's `Client.close()` gives; socket.io
/// 4.8's sockets see it only when the engine close waits (polling, no GET pending),
/// and "forced close" when the engine closes at once (WebSocket).
#[rustfmt::skip]
const EXPECTED: &[(&str, Outcomes)] = &[
    // file                                    WS text    WS binary  POST  polling
    // An ack id past 64 bits. (socket.io-parser reads it as an inexact float and
    // accepts it; the protocol's ack id is an integer, and Sockeye's is a u64.)
    ("ack-id-overflow.txt",             expect(PARSE,     PARSE,     200,  PARSE)),
    // 65 attachments announced, the bound is 64.
    ("attachments-over-limit.txt",      expect(PARSE,     PARSE,     200,  PARSE)),
    // Valid: the packet waits for its one attachment; the next text message (the
    // probe) is then the error ("got plaintext data when reconstructing a packet").
    ("binary-event-no-placeholder.txt", expect(PARSE,     PARSE,     200,  PARSE)),
    // A binary packet announcing no attachment ("Illegal attachments").
    ("binary-event-zero-attachments.txt", expect(PARSE,   PARSE,     200,  PARSE)),
    // CONNECT data must be an object.
    ("connect-auth-not-object.txt",     expect(PARSE,     PARSE,     200,  PARSE)),
    // CONNECT data that is not JSON.
    ("connect-bad-auth.txt",            expect(PARSE,     PARSE,     200,  PARSE)),
    // Only a server sends CONNECT_ERROR: an invalid state.
    ("connect-error-from-client.txt",   expect(STATE,     PARSE,     200,  STATE)),
    // JSON nested past serde_json's depth bound (128). (JSON.parse takes the balanced
    // 3000 levels of deep-balanced.txt.)
    ("deep-array.txt",                  expect(PARSE,     PARSE,     200,  PARSE)),
    ("deep-balanced.txt",               expect(PARSE,     PARSE,     200,  PARSE)),
    ("deep-object.txt",                 expect(PARSE,     PARSE,     200,  PARSE)),
    // An empty frame or body is no Engine.IO packet. (engine.io: "parse error", and
    // the POST answered 200.)
    ("empty.txt",                       expect(TRANSPORT, PARSE,     400,  TRANSPORT)),
    // An Engine.IO upgrade packet on an open transport: ignored, as engine.io does.
    ("engine-noop-upgrade.txt",         expect(Kept,      PARSE,     200,  Kept)),
    // An EVENT for a namespace the connection is not in: an invalid state.
    ("event-for-unjoined-namespace.txt", expect(STATE,    PARSE,     200,  STATE)),
    // Valid: socket.io-parser accepts a numeric event name.
    ("event-name-not-string.txt",       expect(Kept,      PARSE,     200,  Kept)),
    // EVENT data must be an array.
    ("event-not-array.txt",             expect(PARSE,     PARSE,     200,  PARSE)),
    ("huge-attachment-count.txt",       expect(PARSE,     PARSE,     200,  PARSE)),
    // A number past f64's range. Arguments are framed, not parsed, and the syntax is
    // valid: kept, as JSON.parse keeps it (as Infinity). A handler that reads it into a
    // number type closes the connection with "parse error".
    ("huge-number.txt",                 expect(Kept,      PARSE,     200,  Kept)),
    // Over WebSocket the bad bytes arrive as U+FFFD and the event is valid; a polling
    // body that is not UTF-8 is refused. (engine.io decodes it with U+FFFD: 200.)
    ("invalid-utf8.bin",                expect(Kept,      PARSE,     400,  TRANSPORT)),
    // A lone surrogate has no place in a Rust string, but arguments are framed, not
    // parsed: kept, as JSON.parse accepts it, until a handler reads it as a string
    // (then "parse error").
    ("lone-surrogate.txt",              expect(Kept,      PARSE,     200,  Kept)),
    // The namespace runs to the end: an EVENT with no data. (socket.io-parser accepts
    // an EVENT without data; socket.io then closes for the namespace `/chat["e"]`,
    // not joined: an invalid state.)
    ("namespace-without-comma.txt",     expect(PARSE,     PARSE,     200,  PARSE)),
    ("negative-attachments.txt",        expect(PARSE,     PARSE,     200,  PARSE)),
    // Raw control characters inside JSON strings are invalid JSON.
    ("nul-bytes.txt",                   expect(PARSE,     PARSE,     200,  PARSE)),
    // An empty Socket.IO packet.
    ("only-prefix.txt",                 expect(PARSE,     PARSE,     200,  PARSE)),
    // Valid: a placeholder-shaped object in a plain EVENT is data; only binary
    // packets have placeholders (socket.io-parser's `Decoder.add`).
    ("placeholder-without-attachments.txt", expect(Kept,  PARSE,     200,  Kept)),
    // Not an Engine.IO packet (first byte 0x0b), and not UTF-8 as a polling body.
    // (engine.io: "parse error".)
    ("random.bin",                      expect(TRANSPORT, PARSE,     400,  TRANSPORT)),
    // A CONNECT to `/`, which the connection is in already: an invalid state.
    ("second-connect.txt",              expect(STATE,     PARSE,     200,  STATE)),
    // Socket.IO packet type 9 does not exist.
    ("unknown-packet-type.txt",         expect(PARSE,     PARSE,     200,  PARSE)),
    // A pong no ping asked for: harmless, as in engine.io.
    ("unsolicited-pong.txt",            expect(Kept,      PARSE,     200,  Kept)),
];

/// The reasons a fuzz seed may close its connection with.
const SEED_REASONS: &[DisconnectReason] = &[
    ParseError,
    TransportError,
    // The Engine.IO close packet ("1") is a client leaving.
    DisconnectReason::TransportClose,
    // A valid packet against the namespace state.
    ForcedServerClose,
];

/// The files of one directory, sorted: (file name, bytes).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().expect("file name").to_string_lossy();
            let bytes = std::fs::read(&path).expect("read corpus file");
            (name.into_owned(), bytes)
        })
        .collect()
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"))
}

/// The fuzzers' seeds, named `<target>/<seed>`.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut targets: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    targets.sort();
    let mut seeds = Vec::new();
    for target in targets {
        let prefix = target.file_name().expect("dir name").to_string_lossy();
        for (name, bytes) in files(&target) {
            seeds.push((format!("{prefix}/{name}"), bytes));
        }
    }
    seeds
}

/// The disconnect reasons reported by the server, by socket id; reports may arrive in
/// any order.
struct Reasons {
    rx: UnboundedReceiver<(String, DisconnectReason)>,
    early: HashMap<String, DisconnectReason>,
}

impl Reasons {
    async fn of(&mut self, sid: &str, what: &str) -> DisconnectReason {
        within(&format!("the disconnect of {what}"), async {
            loop {
                if let Some(reason) = self.early.remove(sid) {
                    return reason;
                }
                let (gone, reason) = self.rx.recv().await.expect("reasons");
                assert!(
                    self.early.insert(gone.clone(), reason).is_none(),
                    "{gone} left twice"
                );
            }
        })
        .await
    }
}

/// The server under test, a client that must be served throughout, and the reasons.
struct Bench {
    io: SocketIo,
    addr: std::net::SocketAddr,
    good: Sio,
    reasons: Reasons,
    calls: u64,
}

impl Bench {
    async fn start() -> Bench {
        let io = SocketIo::new();
        let (tx, rx) = unbounded_channel();
        report_disconnects(&io, tx);
        let addr = common::serve(axum::Router::new().merge(io.router())).await;
        let (good, _) = Sio::connect(addr).await;
        Bench {
            io,
            addr,
            good,
            reasons: Reasons {
                rx,
                early: HashMap::new(),
            },
            calls: 0,
        }
    }

    /// The good client's echo still works.
    async fn good_served(&mut self, after: &str) {
        self.calls += 1;
        let arg = json!(after.to_owned());
        assert_eq!(
            self.good.call("echo", vec![arg.clone()], self.calls).await,
            vec![arg],
            "the good client after {after}"
        );
    }

    /// Sends `bytes` every way; each connection that is kept is then closed by its
    /// client, which must be reported as a transport close.
    async fn replay(&mut self, name: &str, bytes: &[u8]) -> Outcomes {
        let text = self.websocket(name, bytes, false).await;
        let binary = self.websocket(name, bytes, true).await;
        let polling = self.polling(name, bytes).await;
        Outcomes {
            text,
            binary,
            polling,
        }
    }

    async fn websocket(&mut self, name: &str, bytes: &[u8], as_binary: bool) -> Outcome {
        let what = format!("{name} (WebSocket, binary: {as_binary})");
        let (mut bad, sid) = Sio::connect(self.addr).await;
        if as_binary {
            bad.ws.send_binary(bytes).await;
        } else {
            bad.ws.send_text(&String::from_utf8_lossy(bytes)).await;
        }
        let outcome = if ws_alive(&mut bad).await {
            bad.ws.close().await;
            bad.ws.expect_closed().await;
            let reason = self.reasons.of(&sid, &what).await;
            assert_eq!(
                reason,
                DisconnectReason::TransportClose,
                "{what}: kept, then closed by the client"
            );
            Kept
        } else {
            Closed(self.reasons.of(&sid, &what).await)
        };
        self.good_served(&what).await;
        outcome
    }

    async fn polling(&mut self, name: &str, bytes: &[u8]) -> (u16, Outcome) {
        let what = format!("{name} (polling)");
        let (polling, _) = Polling::open(self.addr).await;
        polling.post(&[EioPacket::Message("0".into())]).await;
        let sid = match decode_sio(&mut Decoder::default(), polling.get().await).as_slice() {
            [Packet::Connect {
                data: Some(data), ..
            }] => data
                .get("sid")
                .and_then(Value::as_str)
                .expect("CONNECT carries a sid")
                .to_owned(),
            other => panic!("polling join answered with {other:?}"),
        };
        let reply = polling.post_raw(bytes.to_vec()).await;
        if reply.status != 200 {
            // An error must be engine.io's JSON error.
            let _ = reply.error();
        }
        let outcome = if polling_alive(&polling).await {
            let bye = polling.post_raw("1").await;
            assert_eq!(bye.status, 200, "{what}: the close packet: {bye:?}");
            polling.wait_gone().await;
            let reason = self.reasons.of(&sid, &what).await;
            assert_eq!(
                reason,
                DisconnectReason::TransportClose,
                "{what}: kept, then closed by the client"
            );
            Kept
        } else {
            polling.wait_gone().await;
            Closed(self.reasons.of(&sid, &what).await)
        };
        self.good_served(&what).await;
        (reply.status, outcome)
    }
}

/// The ack id of the probes: no input of the corpus uses it.
const PROBE: &str = r#"99999["echo","probe"]"#;

/// Whether the connection still answers an echo (it may first get answers of its own,
/// or be closed).
async fn ws_alive(client: &mut Sio) -> bool {
    // The server may have closed the socket already: a failed send means closed too.
    let probe = WsMessage::text(format!("42{PROBE}"));
    if within("the probe", client.ws.stream.send(probe))
        .await
        .is_err()
    {
        return false;
    }
    loop {
        match client.ws.read().await {
            Read::Text(text) if text.starts_with("4399999") => return true,
            Read::Text(text) if text == "2" => client.ws.send_text("3").await,
            Read::Text(_) | Read::Binary(_) => {}
            Read::Closed | Read::CloseFrame => return false,
        }
    }
}

/// Whether the polling session still answers an echo: GETs until the answer, the
/// close packet, or the session is unknown.
async fn polling_alive(polling: &Polling) -> bool {
    let probe = polling.post_raw(format!("42{PROBE}")).await;
    if probe.status != 200 {
        // Refused only because the session is gone.
        probe.assert_error(400, 1);
        return false;
    }
    loop {
        let reply = polling.get_raw().await;
        if reply.status == 400 {
            reply.assert_error(400, 1);
            return false;
        }
        assert_eq!(reply.status, 200, "unexpected GET reply {reply:?}");
        let packets = payload::decode(&reply.body, usize::MAX)
            .unwrap_or_else(|e| panic!("bad payload {:?}: {e}", reply.body));
        for packet in packets {
            match packet {
                EioPacket::Message(text) if text.starts_with("399999") => return true,
                EioPacket::Close => return false,
                EioPacket::Ping(data) => polling.post(&[EioPacket::Pong(data)]).await,
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_corpus_input_has_exactly_its_expected_outcome() {
    let mut bench = Bench::start().await;
    let corpus = corpus();
    let mut unexpected = Vec::new();
    for (name, bytes) in &corpus {
        let Some((_, expected)) = EXPECTED.iter().find(|(file, _)| file == name) else {
            unexpected.push(format!("{name}: no expected outcome in EXPECTED"));
            continue;
        };
        let seen = bench.replay(name, bytes).await;
        if seen != *expected {
            unexpected.push(format!(
                "{name}:\n    expected {expected:?}\n    seen     {seen:?}"
            ));
        }
    }
    for (file, _) in EXPECTED {
        if !corpus.iter().any(|(name, _)| name == file) {
            unexpected.push(format!("{file}: in EXPECTED but not in the corpus"));
        }
    }
    assert!(
        unexpected.is_empty(),
        "outcomes differ from EXPECTED:\n{}",
        unexpected.join("\n")
    );
    // Every bad client is gone; only the good one is left.
    assert_eq!(bench.io.of("/").sockets().len(), 1);
    assert!(bench.reasons.early.is_empty(), "{:?}", bench.reasons.early);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_seeds_close_only_the_connection_that_sent_them() {
    let mut bench = Bench::start().await;
    let seeds = seeds();
    assert!(
        seeds.len() > 20,
        "the fuzz seeds are missing: {}",
        seeds.len()
    );
    for (name, bytes) in &seeds {
        let seen = bench.replay(name, bytes).await;
        for outcome in [seen.text, seen.binary, seen.polling.1] {
            if let Closed(reason) = outcome {
                assert!(SEED_REASONS.contains(&reason), "{name}: {seen:?}");
            }
        }
        assert!(
            matches!(seen.polling.0, 200 | 400 | 413),
            "{name} over polling: {seen:?}"
        );
        // A polling body the server refused must have closed the session.
        if seen.polling.0 != 200 {
            assert_ne!(seen.polling.1, Kept, "{name}: {seen:?}");
        }
    }
    assert_eq!(bench.io.of("/").sockets().len(), 1);
    assert!(bench.reasons.early.is_empty(), "{:?}", bench.reasons.early);
}
