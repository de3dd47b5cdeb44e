//! The server's bounds under pressure: too many connections, and a client that stops
//! reading (volatile packets dropped first, then the client dropped, with memory flat
//! and the other clients served).

mod common;

use common::{report_disconnects, within, Http, Polling, Sio, Ws};
use sockeye_protocol::{json, Value};
use sockeye_server::{DisconnectReason, SocketIo};
use std::net::SocketAddr;
use tokio::sync::mpsc::unbounded_channel;

async fn start(io: &SocketIo) -> SocketAddr {
    common::serve(axum::Router::new().merge(io.router())).await
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_bound_are_refused_with_503() {
    let io = SocketIo::builder().max_connections(2).build();
    let addr = start(&io).await;
    let (polling, _) = Polling::open(addr).await;
    let (_ws, _) = Ws::open(addr).await;
    // A WebSocket session is counted once its task runs, just after the open packet.
    within("two sessions", async {
        while io.connection_count() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let refused = Http::new(addr).get("EIO=4&transport=polling").await;
    refused.assert_error(503, 3);
    assert_eq!(refused.error().1, "Too many connections");
    // A WebSocket handshake is refused the same way, before the upgrade.
    let ws = tokio_tungstenite::connect_async(common::ws_url(addr, "")).await;
    match ws {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected a 503, got {:?}", other.map(|_| ())),
    }
    // Room again once a session is gone.
    polling.post_raw("1").await;
    polling.wait_gone().await;
    let (_again, _) = Polling::open(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_loses_volatile_packets_first_then_is_dropped() {
    const BOUND: usize = 512;
    let io = SocketIo::builder().max_buffered_frames(BOUND).build();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let mut slow = Sio::from_fresh_ws(Ws::connect_small_buffer(addr).await).await;
    let slow_sid = slow.join("/", None).await;
    let (mut fast, _) = Sio::connect(addr).await;
    let socket = io.of("/").socket(&slow_sid).expect("the slow socket");
    let payload = Value::from("x".repeat(4096));
    let before = rss();

    // Volatile: once the slow client has a backlog, they are dropped, and it stays.
    let (mut queued, mut dropped) = (0u32, 0u32);
    for round in 0..20 {
        for _ in 0..1000 {
            match socket.emit_volatile("position", payload.clone()) {
                Ok(true) => queued += 1,
                Ok(false) => dropped += 1,
                Err(e) => panic!("volatile emit failed: {e}"),
            }
        }
        // The others are served meanwhile.
        assert_eq!(
            fast.call("echo", vec![json!(round)], round).await,
            vec![json!(round)]
        );
    }
    assert!(dropped > 10_000, "queued {queued}, dropped {dropped}");
    assert!(
        socket.connected(),
        "volatile packets never cost the client its connection"
    );

    // Packets it must get: past the bound it is disconnected, the others untouched.
    let mut sent = 0u32;
    while socket.emit("update", payload.clone()).is_ok() && socket.connected() {
        sent += 1;
        assert!(sent < 100_000, "the slow client was never disconnected");
        if sent.is_multiple_of(500) {
            tokio::task::yield_now().await;
        }
    }
    let reason = within("the slow client's disconnect", async {
        loop {
            let (sid, reason) = reasons.recv().await.expect("reasons");
            if sid == slow_sid {
                return reason;
            }
        }
    })
    .await;
    assert_eq!(reason, DisconnectReason::TransportError);
    assert_eq!(
        fast.call("echo", vec![json!("after")], 99).await,
        vec![json!("after")]
    );
    // The queue took at most its bound, plus what the writer moved on into the
    // socket's buffers (the kernel's send buffer holds a few MiB of a client that
    // reads nothing): unbounded, the loop above would have run to its guard.
    assert!(
        (sent as usize) < BOUND + 2048,
        "{sent} packets were accepted for a client that read nothing"
    );
    // And memory: 20 000 volatile and {sent} regular 4 KiB packets went to a client
    // that read nothing. The allocator keeps freed memory per thread, so the figure
    // is loose; a queue that kept them all would be far past it.
    let grown = rss().saturating_sub(before);
    eprintln!(
        "accepted {sent} regular packets; memory grew by {} KiB",
        grown / 1024
    );
    assert!(
        grown < 256 * 1024 * 1024,
        "memory grew by {} KiB for a client that read nothing",
        grown / 1024
    );
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_past_the_bound_fail_at_once() {
    let config = sockeye_server::Config {
        max_pending_acks: 2,
        ..Default::default()
    };
    let io = SocketIo::builder().config(config).build();
    let addr = start(&io).await;
    let (_client, sid) = Sio::connect(addr).await;
    let socket = io.of("/").socket(&sid).expect("socket");
    // The client never answers: two acks wait, the third is refused at once.
    let first = socket.emit_with_ack("question", 1);
    let second = socket.emit_with_ack("question", 2);
    let third = within("the refusal", socket.emit_with_ack("question", 3)).await;
    assert!(
        matches!(third, Err(sockeye_server::AckError::TooManyPending)),
        "{third:?}"
    );
    drop((first, second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_announcing_too_many_attachments_closes_its_connection() {
    let config = sockeye_server::Config {
        max_attachments: 2,
        ..Default::default()
    };
    let io = SocketIo::builder().config(config).build();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (mut within_bound, _) = Sio::connect(addr).await;
    within_bound
        .ws
        .send_text(r#"452-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await;
    within_bound.ws.send_binary(&[1]).await;
    within_bound.ws.send_binary(&[2]).await;
    let (mut over, sid) = Sio::connect(addr).await;
    over.ws
        .send_text(r#"453-["e",{"_placeholder":true,"num":0}]"#)
        .await;
    over.ws.expect_closed().await;
    let (gone, reason) = within("the disconnect", reasons.recv())
        .await
        .expect("reason");
    assert_eq!((gone, reason), (sid, DisconnectReason::ParseError));
    assert_eq!(
        io.of("/").sockets().len(),
        1,
        "the packet within the bound was fine"
    );
}
