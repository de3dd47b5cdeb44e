//! Flood control's socket limit paces a connection: once a socket's bucket is empty the
//! server stops reading that connection until the bucket has a token again, so a
//! flooder is read at its rate (its excess is neither read nor decoded), its acks are
//! answered in turn rather than refused, sustained flooding disconnects it
//! ("flooding"), and other connections are not held back by its pauses.
//!
//! Bounds are generous on purpose: the counts are checked against what the token
//! bucket allows in the time that passed (times 1.5, plus slack), never against a
//! deadline, and time is only ever checked from below (load only makes things later).

mod common;

use common::{next, start, within, Polling, Sio};
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine as eio;
use sockeye_protocol::json;
use sockeye_protocol::socket::{Decoder, Packet};
use sockeye_server::{Args, DisconnectReason, FloodLimit, MiddlewareError, RateLimit, SocketIo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// What the server's handlers saw.
#[derive(Default)]
struct Seen {
    /// `flood` packets handled.
    handled: AtomicU64,
    /// Packets dropped by flood control (its `on_error` reports).
    dropped: AtomicU64,
}

/// A server whose sockets may send `limit` events; `flood` is counted, `echo` acked
/// with its arguments; disconnect reasons are reported.
async fn server(
    limit: RateLimit,
    flood_limit: Option<FloodLimit>,
) -> (
    std::net::SocketAddr,
    Arc<Seen>,
    UnboundedReceiver<DisconnectReason>,
) {
    let io = SocketIo::builder()
        .rate_limit(limit)
        .flood_limit(flood_limit)
        .build();
    let seen = Arc::new(Seen::default());
    let (tx, reasons) = unbounded_channel();
    let counts = seen.clone();
    io.of("/").on_connection(move |socket| {
        let (counts, tx) = (counts.clone(), tx.clone());
        async move {
            let handled = counts.clone();
            socket.on("flood", move |_socket, _args: Args| {
                handled.handled.fetch_add(1, Ordering::Relaxed);
                async {}
            });
            socket.on("echo", |_socket, args: Args| async move { args });
            socket.on_error(move |_socket, error: MiddlewareError| {
                assert!(error.is_rate_limited());
                counts.dropped.fetch_add(1, Ordering::Relaxed);
                async {}
            });
            socket.on_disconnect(move |_socket, reason| {
                tx.send(reason).ok();
                async {}
            });
        }
    });
    (start(&io).await, seen, reasons)
}

/// A client that joins `/`, then writes `flood` events as fast as its connection takes
/// them until told to stop; counts what it wrote. The read half watches for the
/// server's DISCONNECT of `/`.
struct Flooder {
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    disconnected: tokio::task::JoinHandle<bool>,
}

async fn flood(addr: std::net::SocketAddr) -> Flooder {
    let (client, _) = Sio::connect(addr).await;
    let (mut write, mut read) = client.ws.stream.split();
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (count, halt) = (sent.clone(), stop.clone());
    tokio::spawn(async move {
        let frame = Packet::event("/", "flood", Args::from(vec![json!(1)]), None)
            .encode_with_prefix("4")
            .text;
        while !halt.load(Ordering::Relaxed) {
            for _ in 0..64 {
                if write.feed(WsMessage::text(frame.clone())).await.is_err() {
                    return;
                }
            }
            if write.flush().await.is_err() {
                return;
            }
            count.fetch_add(64, Ordering::Relaxed);
        }
    });
    let disconnected = tokio::spawn(async move {
        let mut decoder = Decoder::default();
        while let Some(Ok(message)) = read.next().await {
            let WsMessage::Text(text) = message else {
                continue;
            };
            if let Ok(eio::Packet::Message(data)) = eio::Packet::decode_text(&text) {
                if let Ok(Some(Packet::Disconnect { .. })) = decoder.decode_text(data) {
                    return true;
                }
            }
        }
        false
    });
    Flooder {
        sent,
        stop,
        disconnected,
    }
}

/// Waits until the server has handled at least `n` flood packets.
async fn handled_at_least(seen: &Seen, n: u64) {
    within("the flood to be handled", async {
        while seen.handled.load(Ordering::Relaxed) < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_websocket_client_is_read_at_its_rate() {
    const RATE: u32 = 50;
    const BURST: u32 = 10;
    let (addr, seen, _) = server(RateLimit::per_second(RATE).burst(BURST), None).await;
    let began = Instant::now();
    let flooder = flood(addr).await;
    // A second of flood at the rate, and then some.
    handled_at_least(&seen, u64::from(BURST + RATE)).await;
    let elapsed = began.elapsed().as_secs_f64();
    let handled = seen.handled.load(Ordering::Relaxed);
    let dropped = seen.dropped.load(Ordering::Relaxed);
    let sent = flooder.sent.load(Ordering::Relaxed);
    flooder.stop.store(true, Ordering::Relaxed);
    // Everything the server read of the flood it handled: none read only to be dropped,
    // and no more than the bucket allows in the time that passed.
    let allowed = f64::from(BURST) + f64::from(RATE) * elapsed * 1.5 + 10.0;
    assert_eq!(dropped, 0, "packets read past the limit and dropped");
    assert!(
        (handled + dropped) as f64 <= allowed,
        "{handled} handled and {dropped} dropped in {elapsed:.2} s: more than {allowed:.0}"
    );
    // The client wrote far more than that: the rest waits unread (or in its buffers).
    assert!(
        sent >= 4 * (handled + dropped),
        "the flooder wrote only {sent} packets"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_flooding_is_disconnected_once_held_back_for_the_window() {
    let window = Duration::from_secs(1);
    let (addr, seen, mut reasons) = server(
        RateLimit::per_second(20).burst(5),
        // Drops alone would never disconnect it: only the held-back time can.
        Some(FloodLimit {
            max_drops: u32::MAX,
            window,
        }),
    )
    .await;
    let began = Instant::now();
    let flooder = flood(addr).await;
    assert_eq!(next(&mut reasons).await, DisconnectReason::Flooding);
    // Held back for a whole window first (only a lower bound: load makes it later).
    assert!(
        began.elapsed() >= window,
        "disconnected after {:?}",
        began.elapsed()
    );
    assert!(seen.handled.load(Ordering::Relaxed) >= 5 + 20 / 2);
    assert!(
        within("the flooder's DISCONNECT", flooder.disconnected)
            .await
            .unwrap(),
        "the flooder saw no DISCONNECT of /"
    );
    flooder.stop.store(true, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooders_pauses_do_not_hold_back_another_connection() {
    // A slow limit: a pause that held every connection would cost each of the other
    // client's echoes one of the flooder's tokens (a second each).
    let (addr, seen, mut reasons) = server(RateLimit::per_second(1).burst(10), None).await;
    let flooder = flood(addr).await;
    // The flooder used its burst and is paused now.
    handled_at_least(&seen, 11).await;
    let (mut other, _) = Sio::connect(addr).await;
    let before = seen.handled.load(Ordering::Relaxed);
    for id in 0..10 {
        assert_eq!(other.call("echo", vec![json!(id)], id).await, [json!(id)]);
    }
    let during = seen.handled.load(Ordering::Relaxed) - before;
    // Ten echoes take milliseconds; 5 flooder tokens would be 5 seconds of stall.
    assert!(
        during < 5,
        "the flooder got {during} packets in while the other client echoed: its pauses held the other back"
    );
    assert_eq!(seen.dropped.load(Ordering::Relaxed), 0);
    assert!(reasons.try_recv().is_err(), "nobody is disconnected");
    flooder.stop.store(true, Ordering::Relaxed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_socket_limit_acks_are_answered_in_turn_not_refused() {
    const RATE: u32 = 20;
    const BURST: u32 = 10;
    const N: u64 = 30;
    let (addr, seen, _) = server(RateLimit::per_second(RATE).burst(BURST), None).await;
    let (mut client, _) = Sio::connect(addr).await;
    let began = Instant::now();
    for id in 0..N {
        client.emit("echo", vec![json!(id)], Some(id)).await;
    }
    for id in 0..N {
        match client.recv().await {
            Packet::Ack { id: got, args, .. } => {
                assert_eq!(got, id);
                assert_eq!(common::values(args), [json!(id)], "ack {id}");
            }
            other => panic!("expected ack {id}, got {other:?}"),
        }
    }
    // The 20 past the burst came at the rate: a second at least.
    let least = Duration::from_secs_f64((N - u64::from(BURST)) as f64 / f64::from(RATE) * 0.9);
    assert!(
        began.elapsed() >= least,
        "all acks after {:?}",
        began.elapsed()
    );
    assert_eq!(seen.dropped.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_post_past_the_socket_limit_is_answered_once_its_packets_are_taken() {
    const RATE: u32 = 20;
    const BURST: u32 = 10;
    const N: u64 = 30;
    let (addr, seen, _) = server(RateLimit::per_second(RATE).burst(BURST), None).await;
    let (polling, _) = Polling::open(addr).await;
    polling
        .post_sio(&Packet::Connect {
            namespace: "/".into(),
            data: None,
        })
        .await;
    let mut decoder = Decoder::default();
    let mut acks = Vec::new();
    let mut joined = false;
    while !joined {
        for packet in common::decode_sio(&mut decoder, polling.get().await) {
            joined |= matches!(packet, Packet::Connect { .. });
        }
    }
    let packets: Vec<eio::Packet> = (0..N)
        .map(|id| {
            let text = Packet::event("/", "echo", Args::from(vec![json!(id)]), Some(id))
                .encode()
                .text;
            eio::Packet::Message(text)
        })
        .collect();
    let began = Instant::now();
    polling.post(&packets).await;
    // The POST waited for its last packet, at the rate.
    let least = Duration::from_secs_f64((N - u64::from(BURST)) as f64 / f64::from(RATE) * 0.9);
    assert!(
        began.elapsed() >= least,
        "POST answered after {:?}",
        began.elapsed()
    );
    while (acks.len() as u64) < N {
        for packet in common::decode_sio(&mut decoder, polling.get().await) {
            if let Packet::Ack { id, args, .. } = packet {
                acks.push((id, common::values(args)));
            }
        }
    }
    let expected: Vec<_> = (0..N).map(|id| (id, vec![json!(id)])).collect();
    assert_eq!(acks, expected);
    assert_eq!(seen.dropped.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_limit_still_drops_and_answers_the_ack() {
    // The socket limit paces; an event's limit drops (pausing the connection for one
    // event would hold back its others).
    let io = SocketIo::builder().flood_limit(None).build();
    io.of("/").rate_limit("echo", RateLimit::per_minute(1));
    io.of("/").on_connection(|socket| async move {
        socket.on("echo", |_socket, args: Args| async move { args });
        socket.on("other", |_socket, args: Args| async move { args });
    });
    let addr = start(&io).await;
    let (mut client, _) = Sio::connect(addr).await;
    assert_eq!(client.call("echo", vec![json!(1)], 1).await, [json!(1)]);
    assert_eq!(
        client.call("echo", vec![json!(2)], 2).await,
        [json!({"error": "rate limited"})]
    );
    assert_eq!(client.call("other", vec![json!(3)], 3).await, [json!(3)]);
}
