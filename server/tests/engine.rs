//! Engine.IO over real sockets: handshakes, upgrade, heartbeat, HTTP errors, limits, CORS.

mod common;

use common::{within, Http, Polling, Read, Ws};
use sockeye_protocol::engine::Packet;
use sockeye_server::{Builder, Cors, SocketIo};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

async fn start(builder: Builder) -> (SocketIo, SocketAddr) {
    let io = builder.build();
    let addr = common::serve(axum::Router::new().merge(io.router())).await;
    (io, addr)
}

/// Short pings, with a generous timeout so that answered pongs are always in time.
fn fast_heartbeat() -> Builder {
    SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(1500))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_handshake_has_the_protocol_fields() {
    let (_io, addr) = start(
        SocketIo::builder()
            .ping_interval(Duration::from_millis(12_345))
            .ping_timeout(Duration::from_millis(6_789))
            .max_payload(54_321),
    )
    .await;
    let reply = Http::new(addr).get("transport=polling").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.starts_with("0{"), "{:?}", reply.body);
    let json: serde_json::Value = serde_json::from_str(&reply.body[1..]).unwrap();
    let sid = json["sid"].as_str().expect("sid");
    assert_eq!(sid.len(), 20);
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(json["pingInterval"], 12_345);
    assert_eq!(json["pingTimeout"], 6_789);
    assert_eq!(json["maxPayload"], 54_321);

    // Two handshakes get two sessions.
    let (other, _) = Polling::open(addr).await;
    assert_ne!(other.sid, sid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_only_handshake_sends_open_first() {
    let (_io, addr) = start(SocketIo::builder()).await;
    let mut ws = Ws::connect(addr, "").await;
    let text = match ws.read().await {
        Read::Text(text) => text,
        other => panic!("first frame: {other:?}"),
    };
    let handshake = match Packet::decode_text(&text) {
        Ok(Packet::Open(h)) => h,
        other => panic!("not an open packet: {other:?}"),
    };
    assert!(handshake.upgrades.is_empty());
    assert_eq!(handshake.sid.len(), 20);
    assert_eq!(handshake.ping_interval, 25_000);
    assert_eq!(handshake.ping_timeout, 20_000);
    assert_eq!(handshake.max_payload, 1_000_000);
    // Traffic flows: join the main namespace.
    ws.send_text("40").await;
    match ws.recv().await {
        Packet::Message(m) => assert!(m.starts_with("0{\"sid\":"), "{m:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_upgrades_to_websocket() {
    let (io, addr) = start(SocketIo::builder()).await;
    io.of("/").on_connection(|socket| async move {
        socket.on(
            "echo",
            |_socket, args: sockeye_server::Args| async move { args },
        );
    });
    let (polling, _) = Polling::open(addr).await;
    // Join over polling first, as the official client does.
    polling.post(&[Packet::Message("0".into())]).await;
    match polling.get().await.as_slice() {
        [Packet::Message(m)] => assert!(m.starts_with("0{\"sid\":"), "{m:?}"),
        other => panic!("{other:?}"),
    }

    // A GET waits while the probe goes on.
    let pending = tokio::spawn({
        let polling = polling.clone();
        async move { polling.get().await }
    });
    let mut ws = Ws::connect(addr, &format!("&sid={}", polling.sid)).await;
    ws.send_text("2probe").await;
    assert_eq!(ws.recv().await, Packet::Pong("probe".into()));
    let flushed = within("the pending GET", pending).await.unwrap();
    assert_eq!(flushed, vec![Packet::Noop]);
    ws.send_text("5").await;

    // Traffic now flows over the WebSocket.
    ws.send_text(r#"421["echo","over ws"]"#).await;
    assert_eq!(ws.recv().await, Packet::Message(r#"31["over ws"]"#.into()));
    io.emit("pushed", "hello").unwrap();
    assert_eq!(
        ws.recv().await,
        Packet::Message(r#"2["pushed","hello"]"#.into())
    );

    // Polling is over for this session.
    polling.get_raw().await.assert_error(400, 3);
    polling.post_raw("6").await.assert_error(400, 3);
    // A second WebSocket for the same session is accepted and closed at once, as
    // engine.io does; the first one keeps working.
    let url = common::ws_url(addr, &format!("&sid={}", polling.sid));
    let (mut second, _) = within("a second websocket", tokio_tungstenite::connect_async(url))
        .await
        .expect("the handshake succeeds");
    use futures_util::StreamExt;
    match within("the second websocket closing", second.next()).await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None => {}
        other => panic!("second websocket: {other:?}"),
    }
    ws.send_text(r#"422["echo","still here"]"#).await;
    assert_eq!(
        ws.recv().await,
        Packet::Message(r#"32["still here"]"#.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_heartbeat_pings_and_times_out() {
    let (io, addr) = start(fast_heartbeat()).await;
    let before = Instant::now();
    let (polling, handshake) = Polling::open(addr).await;
    assert_eq!(handshake.ping_interval, 300);
    assert_eq!(handshake.ping_timeout, 1500);

    // Pings keep coming as long as they are answered.
    for _ in 0..2 {
        assert_eq!(polling.get().await, vec![Packet::Ping(String::new())]);
        polling.post(&[Packet::Pong(String::new())]).await;
    }
    assert_eq!(polling.get().await, vec![Packet::Ping(String::new())]);
    // No pong: the session closes after the timeout and is forgotten.
    polling.wait_gone().await;
    assert!(before.elapsed() >= Duration::from_millis(3 * 300 + 1500));
    polling.post_raw("3").await.assert_error(400, 1);
    assert_eq!(io.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_heartbeat_pings_and_times_out() {
    let (_io, addr) = start(fast_heartbeat()).await;
    let before = Instant::now();
    let (mut ws, handshake) = Ws::open(addr).await;
    assert_eq!(handshake.ping_interval, 300);
    for _ in 0..2 {
        assert_eq!(ws.recv().await, Packet::Ping(String::new()));
        ws.send_text("3").await;
    }
    assert_eq!(ws.recv().await, Packet::Ping(String::new()));
    let rest = ws.expect_closed().await;
    assert!(rest.is_empty(), "frames after the last ping: {rest:?}");
    assert!(before.elapsed() >= Duration::from_millis(3 * 300 + 1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_carry_engine_io_codes() {
    let (_io, addr) = start(SocketIo::builder()).await;
    let http = Http::new(addr);
    let url = |q: &str| format!("http://{addr}/socket.io/?{q}");

    let reply = http
        .request(http.client.get(url("EIO=3&transport=polling")))
        .await;
    reply.assert_error(400, 5);
    assert_eq!(reply.error().1, "Unsupported protocol version");
    http.request(http.client.get(url("transport=polling")))
        .await
        .assert_error(400, 5);

    let reply = http.get("transport=carrier-pigeon").await;
    reply.assert_error(400, 0);
    assert_eq!(reply.error().1, "Transport unknown");
    http.get("").await.assert_error(400, 0);

    let reply = http.get("transport=polling&sid=nope").await;
    reply.assert_error(400, 1);
    assert_eq!(reply.error().1, "Session ID unknown");
    http.post("transport=polling&sid=nope", "6")
        .await
        .assert_error(400, 1);

    let reply = http.post("transport=polling", "6").await;
    reply.assert_error(400, 2);
    assert_eq!(reply.error().1, "Bad handshake method");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_get_closes_the_session() {
    let (io, addr) = start(SocketIo::builder()).await;
    let (polling, _) = Polling::open(addr).await;
    // Nothing is queued, so whichever GET comes first waits; the other is refused.
    let first = tokio::spawn({
        let polling = polling.clone();
        async move { polling.get_raw().await }
    });
    let second = tokio::spawn({
        let polling = polling.clone();
        async move { polling.get_raw().await }
    });
    let (a, b) = (
        within("first GET", first).await.unwrap(),
        within("second GET", second).await.unwrap(),
    );
    let (refused, waited) = if a.status == 400 { (a, b) } else { (b, a) };
    refused.assert_error(400, 3);
    // The waiting GET is released by the close.
    assert_eq!(waited.status, 200, "{waited:?}");
    assert_eq!(waited.body, "1");
    polling.wait_gone().await;
    assert_eq!(io.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_over_max_payload_is_413_and_closes() {
    let (_io, addr) = start(SocketIo::builder().max_payload(1000)).await;
    let (polling, _) = Polling::open(addr).await;
    // Exactly maxPayload is fine (a pong with padding: harmless to the session).
    let ok = format!("3{}", "x".repeat(999));
    assert_eq!(polling.post_raw(ok).await.status, 200);
    let big = format!("4{}", "x".repeat(2000));
    let reply = polling.post_raw(big).await;
    reply.assert_error(413, 3);
    polling.wait_gone().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_message_over_max_payload_closes_that_socket() {
    let (io, addr) = start(SocketIo::builder().max_payload(1000)).await;
    io.of("/").on_connection(|socket| async move {
        socket.on(
            "echo",
            |_socket, args: sockeye_server::Args| async move { args },
        );
    });
    let (mut other, _) = Ws::open(addr).await;
    let (mut ws, _) = Ws::open(addr).await;
    ws.send_text(&format!("4{}", "x".repeat(2000))).await;
    ws.expect_closed().await;
    // The other client is unaffected.
    other.send_text("40").await;
    match other.recv().await {
        Packet::Message(m) => assert!(m.starts_with("0{"), "{m:?}"),
        p => panic!("{p:?}"),
    }
    other.send_text(r#"427["echo",1]"#).await;
    assert_eq!(other.recv().await, Packet::Message("37[1]".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_with_a_list_of_origins() {
    let (_io, addr) =
        start(SocketIo::builder().cors(Cors::Origins(vec!["http://allowed.test".into()]))).await;
    let http = Http::new(addr);
    let reply = http
        .get_with("transport=polling", &[("Origin", "http://allowed.test")])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://allowed.test")
    );
    let reply = http
        .get_with("transport=polling", &[("Origin", "http://evil.test")])
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);

    // A preflight for a POST from the allowed origin.
    let preflight = http
        .client
        .request(
            reqwest::Method::OPTIONS,
            common::http_url(addr, "transport=polling"),
        )
        .header("Origin", "http://allowed.test")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type");
    let reply = http.request(preflight).await;
    assert!(reply.status < 300, "{reply:?}");
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://allowed.test")
    );
    let methods = reply.header("access-control-allow-methods").unwrap_or("");
    assert!(methods.contains("POST"), "{methods:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_with_any_origin() {
    let (_io, addr) = start(SocketIo::builder().cors(Cors::Any)).await;
    let reply = Http::new(addr)
        .get_with("transport=polling", &[("Origin", "http://anywhere.test")])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));

    // The default is same-origin only: no CORS headers, and another site's page is
    // refused (tests/origins.rs has the rest of that rule).
    let (_io, addr) = start(SocketIo::builder()).await;
    let reply = Http::new(addr)
        .get_with("transport=polling", &[("Origin", "http://anywhere.test")])
        .await;
    reply.assert_error(403, 4);
    assert_eq!(reply.header("access-control-allow-origin"), None);
}
