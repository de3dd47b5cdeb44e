//! sockeye-redis's metrics: `sockeye_adapter_link_up` follows Redis going away, and
//! `sockeye_cluster_requests_total{kind, direction}` counts the requests between two
//! nodes on one redis-server of the test's own (on a unix socket in a fresh folder).

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use sockeye_redis::RedisAdapter;
use sockeye_server::SocketIo;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Every counter and gauge by its series (`name{label=value,...}`); a gauge holds the
/// bits of its f64, as `metrics` stores it in an `AtomicU64`.
static SERIES: LazyLock<Mutex<HashMap<String, Arc<AtomicU64>>>> = LazyLock::new(Default::default);

fn series_of(key: &Key) -> Arc<AtomicU64> {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    let name = format!("{}{{{}}}", key.name(), labels.join(","));
    SERIES.lock().unwrap().entry(name).or_default().clone()
}

fn counter(series: &str) -> u64 {
    let all = SERIES.lock().unwrap();
    all.get(series)
        .map_or(0, |v| v.load(std::sync::atomic::Ordering::Relaxed))
}

fn gauge(series: &str) -> Option<f64> {
    let all = SERIES.lock().unwrap();
    all.get(series)
        .map(|v| f64::from_bits(v.load(std::sync::atomic::Ordering::Relaxed)))
}

struct TestRecorder;

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(series_of(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(series_of(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// A redis-server on a unix socket in a folder of its own; stopped and removed on drop.
struct Redis {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Redis {
    fn start() -> Redis {
        let dir = std::env::temp_dir().join(format!(
            "sockeye-redis-metrics-{}-{}",
            std::process::id(),
            sockeye_redis_random()
        ));
        std::fs::create_dir(&dir).expect("a fresh folder");
        let socket = dir.join("redis.sock");
        let child = Command::new(std::env::var("REDIS_SERVER").unwrap_or("redis-server".into()))
            .arg("--port")
            .arg("0")
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let url = format!("unix://{}", socket.display());
        Redis { child, dir, url }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A distinct folder name for each run.
fn sockeye_redis_random() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A node: a server with its namespace `/` on the Redis adapter, subscribed.
async fn node(url: &str) -> (SocketIo, String) {
    let adapter = RedisAdapter::connect(url).await.expect("connect to Redis");
    let io = SocketIo::builder().adapter(adapter.clone()).build();
    io.of("/");
    adapter.subscribed().await;
    (io, adapter.uid().to_owned())
}

/// A link's `sockeye_adapter_link_up` series.
fn link_up(uid: &str) -> Option<f64> {
    gauge(&format!("sockeye_adapter_link_up{{uid={uid}}}"))
}

/// Waits, bounded, until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const FETCH_OUT: &str = "sockeye_cluster_requests_total{direction=out,kind=fetch_sockets}";
const FETCH_IN: &str = "sockeye_cluster_requests_total{direction=in,kind=fetch_sockets}";
const EMIT_OUT: &str = "sockeye_cluster_requests_total{direction=out,kind=server_side_emit}";
const EMIT_IN: &str = "sockeye_cluster_requests_total{direction=in,kind=server_side_emit}";

/// One test, so that the recorder is installed before anything records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_state_and_cluster_requests_are_recorded() {
    metrics::set_global_recorder(TestRecorder).expect("the only recorder");
    let mut redis = Redis::start();
    let (a, a_uid) = node(&redis.url).await;
    let (b, b_uid) = node(&redis.url).await;
    // One series per link: two nodes in one process do not share one.
    assert_ne!(a_uid, b_uid);
    assert_eq!(link_up(&a_uid), Some(1.0));
    assert_eq!(link_up(&b_uid), Some(1.0));

    // Node a asks; node b answers (a skips its own request, and is not counted for it).
    let sockets = a.of("/").broadcast().fetch_sockets().await.expect("fetch");
    assert!(sockets.is_empty());
    assert_eq!(counter(FETCH_OUT), 1);
    assert_eq!(counter(FETCH_IN), 1);
    a.of("/")
        .server_side_emit("hello", "b")
        .expect("server-side emit");
    assert_eq!(counter(EMIT_OUT), 1);
    eventually("b to get the server-side emit", || counter(EMIT_IN) == 1).await;

    // Redis goes away: the subscribers see their connections drop.
    redis.stop();
    eventually("both links to be reported down", || {
        link_up(&a_uid) == Some(0.0) && link_up(&b_uid) == Some(0.0)
    })
    .await;
    drop(b);
}
