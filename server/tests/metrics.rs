//! The counters a demo client cannot move (cli/tests/metrics.rs has the others):
//! volatile drops, slow-consumer disconnects, ack timeouts (a cluster broadcast's
//! too), rate-limited packets and rate-limit pauses, recorded by a recorder of this
//! test's own through the `metrics` facade.

mod common;

use common::{start, within, Sio};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use sockeye_protocol::json;
use sockeye_protocol::socket::Packet;
use sockeye_server::{
    Adapter, AdapterFactory, Args, BroadcastOptions, LocalAdapter, NamespaceRef, RateLimit, Room,
    Sid, Socket, SocketIo, Value,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// Counters by name (labels left out: the ones checked here have none); gauges and
/// histograms are not recorded.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

static COUNTERS: LazyLock<Counters> = LazyLock::new(Counters::default);

impl Counters {
    fn get(&self, name: &str) -> u64 {
        let counters = self.0.lock().unwrap();
        counters.get(name).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

struct TestRecorder;

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = COUNTERS.0.lock().unwrap();
        let counter = counters.entry(key.name().to_owned()).or_default();
        Counter::from_arc(counter.clone())
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// One test, so that the recorder is installed before the server records anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_drops_slow_consumers_and_ack_timeouts_are_counted() {
    metrics::set_global_recorder(TestRecorder).expect("the only recorder");
    let mut config = sockeye_server::Config::default();
    // Volatile frames are dropped once 32 / 16 = 2 frames wait.
    config.engine.max_buffered_frames = 32;
    let io = SocketIo::builder().config(config).build();
    io.of("/").on_connection(|socket: Socket| async move {
        // Handlers run in the session's task, so nothing is written while they run:
        // the frames they queue stay queued until they return.
        socket.on("volatile", |socket: Socket, _: Args| async move {
            for i in 0..3 {
                socket.emit("kept", i).unwrap();
            }
            for i in 0..5 {
                assert!(!socket.emit_volatile("dropped", i).unwrap());
            }
        });
        socket.on("limited", |_: Socket, _: Args| async move { "ok" });
        socket.on("other", |_: Socket, _: Args| async move { "ok" });
        socket.on("flood", |socket: Socket, _: Args| async move {
            for i in 0..100 {
                let _ = socket.emit("flood", i);
            }
        });
    });
    // One "limited" event a minute per socket (set before any socket joins).
    io.of("/").rate_limit("limited", RateLimit::per_minute(1));
    let addr = start(&io).await;

    let (mut client, _) = Sio::connect(addr).await;
    client.emit("volatile", vec![], None).await;
    for _ in 0..3 {
        client.expect_event("kept").await;
    }
    assert_eq!(COUNTERS.get("sockeye_volatile_dropped_total"), 5);

    // A client whose queue overflows is closed, and counted once.
    let (mut flooded, _) = Sio::connect(addr).await;
    flooded.emit("flood", vec![], None).await;
    let mut counted = 0;
    for _ in 0..300 {
        counted = COUNTERS.get("sockeye_slow_consumer_disconnects_total");
        if counted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counted, 1);

    // An ack the client never sends.
    let (_silent, sid) = Sio::connect(addr).await;
    let socket = io.of("/").socket(&sid).expect("socket");
    let answer = within(
        "the ack timeout",
        socket
            .timeout(Duration::from_millis(50))
            .emit_with_ack("question", 1),
    )
    .await;
    assert!(
        matches!(answer, Err(sockeye_server::AckError::Timeout)),
        "{answer:?}"
    );
    assert_eq!(COUNTERS.get("sockeye_ack_timeouts_total"), 1);
    assert_eq!(COUNTERS.get("sockeye_slow_consumer_disconnects_total"), 1);

    // Packets past a rate limit: the first "limited" passes, the next two are dropped
    // (their acks say so), and each drop is counted.
    let (mut limited, _) = Sio::connect(addr).await;
    assert_eq!(limited.call("limited", vec![], 1).await, [json!("ok")]);
    for id in 2..4 {
        assert_eq!(
            limited.call("limited", vec![], id).await,
            [json!({"error": "rate limited"})]
        );
    }
    assert_eq!(COUNTERS.get("sockeye_rate_limited_packets_total"), 2);

    // Past a socket's limit nothing is refused: the connection's input is paused, and
    // each pause is counted. One packet a minute: the first empties the bucket.
    assert_eq!(COUNTERS.get("sockeye_rate_limit_pauses_total"), 0);
    io.of("/").socket_rate_limit(RateLimit::per_minute(1));
    let (mut paced, _) = Sio::connect(addr).await;
    assert_eq!(paced.call("other", vec![], 1).await, [json!("ok")]);
    assert_eq!(COUNTERS.get("sockeye_rate_limit_pauses_total"), 1);
    assert_eq!(COUNTERS.get("sockeye_rate_limited_packets_total"), 2);

    // A broadcast with acks whose other nodes' clients did not all answer: counted once
    // on this node (each node counts its own sockets' timeouts).
    let cluster = SocketIo::builder().adapter(PeersTimeOut).build();
    let before = COUNTERS.get("sockeye_ack_timeouts_total");
    let answer = within(
        "the cluster broadcast",
        cluster
            .of("/")
            .broadcast()
            .timeout(Duration::from_millis(50))
            .emit_with_ack("question", 1),
    )
    .await;
    assert!(answer.is_err(), "{answer:?}");
    assert_eq!(COUNTERS.get("sockeye_ack_timeouts_total"), before + 1);
}

/// An adapter whose other nodes never get all their clients' answers in time.
struct PeersTimeOut;

impl AdapterFactory for PeersTimeOut {
    fn create(&self, _namespace: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(PeersTimeOutAdapter(LocalAdapter::default()))
    }
}

struct PeersTimeOutAdapter(LocalAdapter);

impl Adapter for PeersTimeOutAdapter {
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        self.0.join(sid, rooms);
    }
    fn leave(&self, sid: &Sid, room: &str) {
        self.0.leave(sid, room);
    }
    fn leave_all(&self, sid: &Sid) {
        self.0.leave_all(sid);
    }
    fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        self.0.rooms_of(sid)
    }
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.0.sockets(opts)
    }
    fn rooms(&self) -> Vec<Room> {
        self.0.rooms()
    }
    fn remote_broadcast_with_ack(
        &self,
        _packet: &Packet,
        _opts: &BroadcastOptions,
        _timeout: Duration,
    ) -> futures_util::future::BoxFuture<'static, (Vec<Value>, bool)> {
        Box::pin(async { (vec![json!("one answer")], false) })
    }
}
