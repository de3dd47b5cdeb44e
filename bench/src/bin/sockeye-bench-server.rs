//! The Sockeye side of the benchmark: the contract every peer server in `bench/peers/`
//! implements the same way, on 127.0.0.1 and default settings.
//!
//! - `echo` (with an ack): acks with the same arguments.
//! - `broadcast` (with an ack): emits `fanout` with the same arguments to every other
//!   socket of `/`, then acks with no arguments.
//! - `flood` (count, payload), with an ack: emits `flood` with `payload` `count` times
//!   (at most 1000) to this socket, then acks with no arguments.
//! - `kick`: closes this socket's connection under it (no DISCONNECT), for the soak.
//!
//! The soak's options (not used by the peer comparison): `--recovery` (connection
//! state recovery), `--redis-url` (a node of a cluster; `--adapter streams` for the
//! Redis Streams adapter instead of the classic one), `--ping-interval-ms`,
//! `--ping-timeout-ms`, `--max-buffered-frames`. `--parser msgpack` speaks
//! socket.io-msgpack-parser's format.
//!
//! `sockeye-bench-server --port 0` prints `listening on ADDR` and serves until SIGTERM.

use axum::serve::ListenerExt;
use clap::Parser;
use sockeye_protocol::Value;
use sockeye_redis::{RedisAdapter, RedisStreamsAdapter};
use sockeye_server::{Args, SocketIo};
use std::future::IntoFuture;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Sockeye's benchmark server (echo, broadcast, flood on /)")]
struct Cli {
    /// The port on 127.0.0.1; 0 lets the OS choose.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Connection state recovery on.
    #[arg(long)]
    recovery: bool,
    /// Join a cluster through this Redis.
    #[arg(long)]
    redis_url: Option<String>,
    /// The Redis adapter: `classic` (pub/sub) or `streams`.
    #[arg(long, default_value = "classic", value_parser = ["classic", "streams"])]
    adapter: String,
    /// Time between pings, in ms (default: the official 25 000).
    #[arg(long)]
    ping_interval_ms: Option<u64>,
    /// Time allowed for a pong, in ms (default: the official 20 000).
    #[arg(long)]
    ping_timeout_ms: Option<u64>,
    /// Bound of each connection's outbound queue, in frames.
    #[arg(long)]
    max_buffered_frames: Option<usize>,
    /// The packet format: `json` (socket.io-parser) or `msgpack`
    /// (socket.io-msgpack-parser).
    #[arg(long, default_value = "json", value_parser = ["json", "msgpack"])]
    parser: String,
    /// Flood control: every socket may send N events a second (bursts of 2N); past
    /// it the connection is not read until the bucket refills, and a flooder is never
    /// disconnected (the `ratelimit` scenario measures it limited, not evicted).
    #[arg(long)]
    rate_limit: Option<u32>,
}

/// The most `flood` events one request asks for.
const FLOOD_MAX: u64 = 1000;

fn main() {
    // On one core (the benchmark pins the server with taskset) a current-thread
    // runtime: its run queue is one FIFO, so a broadcast's thousand woken sockets are
    // served in turn. The multi-threaded scheduler's per-worker queue holds 256 tasks
    // and spills the rest to a queue it looks at rarely, which starved some receivers
    // for hundreds of milliseconds.
    let one_core = std::thread::available_parallelism().map_or(true, |n| n.get() == 1);
    let mut runtime = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime
        .enable_all()
        .build()
        .expect("the tokio runtime")
        .block_on(serve());
}

async fn serve() {
    let cli = Cli::parse();
    // Quiet unless asked (RUST_LOG): logging must not cost the measured server.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .init();
    let mut builder = SocketIo::builder();
    if cli.parser == "msgpack" {
        builder = builder.parser(sockeye_server::Parser::MsgPack);
    }
    if let Some(n) = cli.rate_limit {
        builder = builder
            .rate_limit(sockeye_server::RateLimit::per_second(n).burst(n.saturating_mul(2)))
            .flood_limit(None);
    }
    if cli.recovery {
        builder = builder.connection_state_recovery(sockeye_server::Recovery::default());
    }
    if let Some(ms) = cli.ping_interval_ms {
        builder = builder.ping_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = cli.ping_timeout_ms {
        builder = builder.ping_timeout(Duration::from_millis(ms));
    }
    if let Some(frames) = cli.max_buffered_frames {
        builder = builder.max_buffered_frames(frames);
    }
    let (mut adapter, mut streams) = (None, None);
    let unreachable = |url: &str, e: sockeye_redis::RedisError| -> ! {
        eprintln!("cannot reach Redis at {url}: {e}");
        std::process::exit(1);
    };
    match &cli.redis_url {
        Some(url) if cli.adapter == "streams" => {
            let redis = RedisStreamsAdapter::connect(url)
                .await
                .unwrap_or_else(|e| unreachable(url, e));
            builder = builder.adapter(redis.clone());
            streams = Some(redis);
        }
        Some(url) => {
            let redis = RedisAdapter::connect(url)
                .await
                .unwrap_or_else(|e| unreachable(url, e));
            builder = builder.adapter(redis.clone());
            adapter = Some(redis);
        }
        None => {}
    }
    let io = builder.build();
    io.of("/").on_connection(|socket| async move {
        // `Args`: the arguments as they came, passed on without being parsed.
        socket.on(
            "kick",
            |socket, _: Args| async move { socket.close_transport() },
        );
        socket.on("echo", |_, args: Args| async move { args });
        socket.on("broadcast", |socket, args: Args| async move {
            if let Err(e) = socket.broadcast().emit("fanout", args) {
                eprintln!("broadcast: {e}");
            }
            Vec::<Value>::new()
        });
        socket.on("flood", |socket, args: Vec<Value>| async move {
            let count = match args.first() {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                _ => 0,
            };
            let payload = args.get(1).cloned().unwrap_or(Value::Null);
            for _ in 0..count.min(FLOOD_MAX) {
                if socket.emit("flood", payload.clone()).is_err() {
                    break;
                }
            }
            Vec::<Value>::new()
        });
    });
    if let Some(adapter) = adapter {
        adapter.subscribed().await;
    }
    if let Some(streams) = &streams {
        streams.ready().await;
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
        .await
        .expect("bind 127.0.0.1");
    println!("listening on {}", listener.local_addr().expect("address"));
    let closing = io.clone();
    // Served from a task rather than from `main`'s own thread: on one core, an accept
    // loop on a thread apart from the worker costs a context switch per connection.
    // Small frames go out at once, as engine.io's `ws` does (`setNoDelay`): with
    // Nagle's algorithm a frame written while an earlier one is unacknowledged
    // waits for the peer's delayed ACK, tens of milliseconds.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("TCP_NODELAY: {e}");
        }
    });
    let serve = axum::serve(listener, io.router())
        .with_graceful_shutdown(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            closing.close().await;
            // The sessions the shutdown kept are in Redis before the process exits.
            if let Some(streams) = streams {
                streams.flushed().await;
            }
        })
        .into_future();
    tokio::spawn(serve)
        .await
        .expect("serve task")
        .expect("serve");
}
