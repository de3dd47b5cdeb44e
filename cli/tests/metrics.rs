//! `sockeye --metrics-addr`: a client opens a session on polling, joins `/chat`, moves
//! to WebSocket and chats, and a refused handshake comes in; the scrapes before, during
//! and after show each of those in its series.

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The `sockeye` binary, killed when the test ends (passing or not).
struct Server {
    child: Child,
    /// `HOST:PORT` of the Socket.IO endpoint.
    addr: String,
    /// The metrics URL it printed.
    metrics: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sockeye` on free ports and reads the addresses it prints.
fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .args(["--port", "0", "--metrics-addr", "127.0.0.1:0"])
        .args([
            "--log-level",
            "warn",
            "--static-dir",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sockeye");
    let stdout = child.stdout.take().expect("stdout");
    let mut server = Server {
        child,
        addr: String::new(),
        metrics: String::new(),
    };
    // The output is read to its end, so that the server never writes into a closed pipe.
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
        if let Some(addr) = line.strip_prefix("listening on ") {
            server.addr = addr.to_owned();
        } else if let Some(url) = line.strip_prefix("metrics at ") {
            server.metrics = url.to_owned();
            break;
        }
    }
    assert!(!server.addr.is_empty(), "sockeye printed no address");
    assert!(!server.metrics.is_empty(), "sockeye printed no metrics URL");
    server
}

/// One scrape: each sample's value by its series (`name{labels}`).
async fn scrape(http: &reqwest::Client, server: &Server) -> HashMap<String, f64> {
    let response = http.get(&server.metrics).send().await.expect("scrape");
    assert!(response.status().is_success());
    let body = response.text().await.expect("scrape body");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// A series' value; an absent series is 0 (a counter not yet touched).
fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// Asserts that each series moved by exactly `by` between two scrapes.
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &[(&str, f64)]) {
    for (name, by) in series {
        let (a, b) = (value(before, name), value(after, name));
        assert_eq!(b - a, *by, "{name}: {a} -> {b}");
    }
}

/// Asserts that each series grew between two scrapes.
fn grew(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &[&str]) {
    for name in series {
        let (a, b) = (value(before, name), value(after, name));
        assert!(b > a, "{name} did not grow: {a} -> {b}");
    }
}

const SESSIONS_POLLING: &str = r#"sockeye_engine_sessions{transport="polling"}"#;
const SESSIONS_WEBSOCKET: &str = r#"sockeye_engine_sessions{transport="websocket"}"#;
const SOCKETS_CHAT: &str = r#"sockeye_sockets{namespace="/chat"}"#;
const PACKETS_IN: &str = r#"sockeye_packets_total{direction="in"}"#;
const PACKETS_OUT: &str = r#"sockeye_packets_total{direction="out"}"#;
const BYTES_IN: &str = r#"sockeye_bytes_total{direction="in"}"#;
const BYTES_OUT: &str = r#"sockeye_bytes_total{direction="out"}"#;
const REFUSED_TRANSPORT: &str = r#"sockeye_handshakes_refused_total{reason="unknown_transport"}"#;
const REFUSED_ORIGIN: &str = r#"sockeye_handshakes_refused_total{reason="origin"}"#;

/// The next text frame on the WebSocket, within a few seconds.
async fn next_text<S>(ws: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            return text.to_string();
        }
    }
}

#[tokio::test]
async fn the_counters_move_with_a_client() {
    let server = start();
    let http = reqwest::Client::new();
    let base = format!("http://{}/socket.io/?EIO=4", server.addr);
    let start = scrape(&http, &server).await;

    // A handshake with a transport that does not exist is refused, and counted by why.
    let refused = http
        .get(format!("{base}&transport=carrier-pigeon"))
        .send()
        .await
        .expect("refused handshake");
    assert_eq!(refused.status(), 400);
    // A page of another site, refused by the default same-origin rule.
    let forged = http
        .get(format!("{base}&transport=polling"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("cross-origin handshake");
    assert_eq!(forged.status(), 403);

    // A polling session joins /chat.
    let open = http
        .get(format!("{base}&transport=polling"))
        .send()
        .await
        .expect("handshake")
        .text()
        .await
        .expect("open packet");
    let handshake: serde_json::Value =
        serde_json::from_str(open.strip_prefix('0').expect("an open packet")).expect("JSON");
    let sid = handshake["sid"].as_str().expect("sid").to_owned();
    let polling = format!("{base}&transport=polling&sid={sid}");
    let connect = r#"40/chat,{"name":"metrics"}"#;
    let posted = http
        .post(&polling)
        .body(connect)
        .send()
        .await
        .expect("connect to /chat");
    assert!(posted.status().is_success());
    let joined = http
        .get(&polling)
        .send()
        .await
        .expect("poll")
        .text()
        .await
        .expect("poll body");
    assert!(
        joined.starts_with("40/chat,"),
        "no connect answer: {joined}"
    );
    let on_polling = scrape(&http, &server).await;
    // On polling the count is exact: the open packet and the records of the GET went
    // out, the POST's one record came in; the refused request counts no packet.
    let records = joined.split('\u{1e}').count() as f64;
    moved(
        &start,
        &on_polling,
        &[
            (REFUSED_TRANSPORT, 1.0),
            (REFUSED_ORIGIN, 1.0),
            (SESSIONS_POLLING, 1.0),
            (SESSIONS_WEBSOCKET, 0.0),
            (SOCKETS_CHAT, 1.0),
            (PACKETS_IN, 1.0),
            (BYTES_IN, connect.len() as f64),
            (PACKETS_OUT, 1.0 + records),
            (BYTES_OUT, (open.len() + joined.len()) as f64),
        ],
    );

    // The upgrade: the session moves from polling to WebSocket.
    let ws_url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&sid={sid}",
        server.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .expect("websocket");
    ws.send(Message::text("2probe")).await.expect("probe");
    assert_eq!(next_text(&mut ws).await, "3probe");
    ws.send(Message::text("5")).await.expect("upgrade");
    // Chat in the lobby over the WebSocket; the message comes back to us.
    let mut chatted = false;
    for _ in 0..3 {
        ws.send(Message::text(r#"42/chat,["chat message","lobby","hello"]"#))
            .await
            .expect("chat message");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !chatted {
            chatted = next_text(&mut ws).await.contains("hello");
        }
    }
    assert!(chatted, "the chat message did not come back");
    let on_websocket = scrape(&http, &server).await;
    moved(
        &on_polling,
        &on_websocket,
        &[
            (SESSIONS_POLLING, -1.0),
            (SESSIONS_WEBSOCKET, 1.0),
            (SOCKETS_CHAT, 0.0),
            (REFUSED_TRANSPORT, 0.0),
        ],
    );
    grew(
        &on_polling,
        &on_websocket,
        &[PACKETS_IN, PACKETS_OUT, BYTES_IN, BYTES_OUT],
    );

    // Gone: the session and the socket are no longer counted.
    ws.close(None).await.expect("close");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(&http, &server).await;
        let settled = value(&now, SESSIONS_WEBSOCKET) == value(&start, SESSIONS_WEBSOCKET)
            && value(&now, SOCKETS_CHAT) == value(&start, SOCKETS_CHAT);
        if settled {
            moved(&start, &now, &[(SESSIONS_POLLING, 0.0)]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed session is still counted: {:?} {:?}",
            value(&now, SESSIONS_WEBSOCKET),
            value(&now, SOCKETS_CHAT)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
