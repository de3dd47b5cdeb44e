//! `sockeye-bench`: a Socket.IO v5 load generator over WebSocket and long-polling,
//! built on `sockeye-protocol`: the same codecs the server and the browser client use,
//! and the same client state machines (`EngineClient` for the handshake, pongs, the
//! heartbeat and close; `SocketClient` for joins, ack ids and session recovery). Only
//! the hot loops' emits and the acks and deliveries they count are written and scanned
//! in place (`wire`), to keep the load generator faster than the server it measures.
//!
//! Each scenario prints one JSON line. With `--pid` (the server's process id) it also
//! reports the server's CPU beside the load generator's own share, so a run bound by
//! the load generator shows as such: `server_cpu` (% of one core), `server_cpu_s` (CPU
//! seconds, utime + stime of all the server's threads from `/proc/<pid>/stat`, over the
//! measured window) and `server_us_per_msg` (that CPU time in µs over the messages
//! counted in the same window: acks, echoes, deliveries or connect cycles); all null
//! without a pid. A CPU or memory figure that cannot be read from `/proc` fails the
//! run (exit 1), never reads as 0. The servers must follow the contract of
//! `bench/src/bin/sockeye-bench-server.rs` (`echo`, `broadcast` → `fanout`).
//! - `echo`: C connections each keep W acked `echo` emits in flight (64-byte JSON
//!   argument): acks/s, latency percentiles, fairness (the slowest connection's acks
//!   over the fastest's). `--transport polling` runs it over long-polling;
//!   `--transport raw` sends plain WebSocket echoes to `raw-ws-echo`.
//! - `fanout`: C receivers, one sender keeping W broadcasts in flight (or, with
//!   `--rate R`, emitting R a second with at most W in flight): deliveries/s,
//!   end-to-end latency, lost deliveries.
//! - `echo` and `fanout` over WebSocket speak socket.io-parser's JSON packets, or with
//!   `--parser msgpack` socket.io-msgpack-parser's (the server must be started with the
//!   same parser).
//! - `idle`: C idle sockets: the server's RSS per socket (needs `--pid`).
//! - `connect`: W workers repeat connect, join `/`, close: cycles/s.
//! - `ratelimit`: C clients' acked echoes every few ms, p50/p99 on a quiet server and
//!   again while one more client floods it (against `sockeye-bench-server
//!   --rate-limit N`): flood control keeps the others' latency.
//! - `soak`: chaos (connections cut at random while broadcasts and acked emits flow)
//!   against `sockeye-bench-server --recovery` on one node or several (`--url` repeated,
//!   on one Redis): lost, duplicated and out-of-order broadcasts per client.
//!
//! `cargo run --release -p sockeye-bench -- echo --url http://127.0.0.1:8080 -c 100 -w 16 -d 10`

mod connect;
mod cpu;
mod echo;
mod engine;
mod fanout;
mod frames;
mod idle;
mod msgpack;
mod polling;
mod ratelimit;
mod report;
mod session;
mod soak;
mod wire;

use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// C connections, each with W acked echoes in flight.
    Echo {
        #[command(flatten)]
        server: Server,
        /// Socket.IO over websocket or polling, or raw WebSocket echoes.
        #[arg(long, value_enum, default_value = "websocket")]
        transport: echo::Transport,
        /// The Socket.IO packet format (msgpack: websocket only).
        #[arg(long, value_enum, default_value = "json")]
        parser: wire::Parser,
        /// Connections.
        #[arg(short = 'c', long, default_value_t = 100)]
        connections: usize,
        /// Acks in flight per connection.
        #[arg(short = 'w', long, default_value_t = 16)]
        in_flight: usize,
        /// Measured seconds (after all connections are up).
        #[arg(short = 'd', long, default_value_t = 10.0)]
        duration: f64,
    },
    /// C receivers of the broadcasts of one sender with W in flight.
    Fanout {
        #[command(flatten)]
        server: Server,
        /// Receivers.
        #[arg(short = 'c', long, default_value_t = 1000)]
        receivers: usize,
        /// Broadcasts in flight (with --rate: the most unacked at once).
        #[arg(short = 'w', long, default_value_t = 16)]
        in_flight: usize,
        /// Broadcasts per second, paced (default: as many as the in-flight bound allows).
        #[arg(long)]
        rate: Option<f64>,
        /// The Socket.IO packet format.
        #[arg(long, value_enum, default_value = "json")]
        parser: wire::Parser,
        /// Seconds of sending.
        #[arg(short = 'd', long, default_value_t = 10.0)]
        duration: f64,
    },
    /// C idle sockets: the server's memory per socket.
    Idle {
        #[command(flatten)]
        server: Server,
        /// Plain WebSockets to the raw echo server instead of Socket.IO sockets.
        #[arg(long)]
        raw: bool,
        /// Sockets.
        #[arg(short = 'c', long, default_value_t = 5000)]
        sockets: usize,
        /// Seconds to wait after the last connect before reading the memory.
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
    },
    /// Connections cut at random while numbered broadcasts and acked emits flow.
    Soak {
        /// The nodes, `http://host:port` (repeat for several; clients are spread over
        /// them, the sender is on the first).
        #[arg(long = "url", required = true)]
        urls: Vec<String>,
        /// Clients.
        #[arg(short = 'c', long, default_value_t = 200)]
        clients: usize,
        /// Seconds of broadcasting and cutting.
        #[arg(short = 'd', long, default_value_t = 30.0)]
        duration: f64,
        /// Broadcasts per second.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// Milliseconds between two cuts.
        #[arg(long, default_value_t = 50)]
        cut_every_ms: u64,
        /// Seed of the random cuts.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Fail (exit 1) unless every client got every broadcast once and in order,
        /// every reconnect recovered its session, and broadcasts, acks, cuts of each
        /// kind and recoveries all happened.
        #[arg(long)]
        expect_no_loss: bool,
        /// A cut client comes back to a node picked at random (a cluster whose adapter
        /// recovers sessions on every node: the Redis Streams adapter).
        #[arg(long)]
        roam: bool,
    },
    /// C clients' echo latency, quiet and beside a flooding client.
    Ratelimit {
        #[command(flatten)]
        server: Server,
        /// Measuring clients.
        #[arg(short = 'c', long, default_value_t = 20)]
        clients: usize,
        /// Milliseconds between two echoes of one client (keep it under the server's
        /// rate limit: 20 ms is 50 a second).
        #[arg(long, default_value_t = 20)]
        interval_ms: u64,
        /// Measured seconds of each phase.
        #[arg(short = 'd', long, default_value_t = 5.0)]
        duration: f64,
        /// The flooder's packets a second (default: as fast as it can write).
        #[arg(long)]
        flood_rate: Option<f64>,
    },
    /// W workers repeating connect, join, close.
    Connect {
        #[command(flatten)]
        server: Server,
        /// Concurrent workers.
        #[arg(short = 'w', long, default_value_t = 50)]
        workers: usize,
        /// Seconds.
        #[arg(short = 'd', long, default_value_t = 10.0)]
        duration: f64,
    },
}

/// The server under load.
#[derive(clap::Args)]
struct Server {
    /// The server, `http://host:port` (loopback only).
    #[arg(long)]
    url: String,
    /// The server's process id, to report its CPU share (and memory, for `idle`).
    #[arg(long)]
    pid: Option<u32>,
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.1, 600.0))
}

// One thread: the load generator is pinned to one core, where a work-stealing runtime only
// adds cross-thread wakeups.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.scenario {
        Scenario::Echo {
            server,
            transport,
            parser,
            connections,
            in_flight,
            duration,
        } => {
            echo::run(
                &server.url,
                transport,
                parser,
                connections,
                in_flight,
                seconds(duration),
                server.pid,
            )
            .await
        }
        Scenario::Fanout {
            server,
            receivers,
            in_flight,
            rate,
            parser,
            duration,
        } => {
            fanout::run(
                &server.url,
                parser,
                receivers,
                in_flight,
                rate,
                seconds(duration),
                server.pid,
            )
            .await
        }
        Scenario::Idle {
            server,
            raw,
            sockets,
            settle,
        } => match server.pid {
            Some(pid) => idle::run(&server.url, raw, sockets, seconds(settle), pid).await,
            None => Err("idle needs --pid, the server's process id".into()),
        },
        Scenario::Ratelimit {
            server,
            clients,
            interval_ms,
            duration,
            flood_rate,
        } => {
            ratelimit::run(
                &server.url,
                clients,
                Duration::from_millis(interval_ms.max(1)),
                seconds(duration),
                flood_rate,
            )
            .await
        }
        Scenario::Connect {
            server,
            workers,
            duration,
        } => connect::run(&server.url, workers, seconds(duration), server.pid).await,
        Scenario::Soak {
            urls,
            clients,
            duration,
            rate,
            cut_every_ms,
            seed,
            expect_no_loss,
            roam,
        } => soak::run(
            &urls,
            clients,
            seconds(duration),
            rate,
            Duration::from_millis(cut_every_ms.max(1)),
            seed,
            roam,
        )
        .await
        .and_then(|line| {
            let figures: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| format!("soak line: {e}"))?;
            match soak::judge_with_recovery(&figures) {
                Err(wrong) if expect_no_loss => {
                    Err(format!("soak with recovery on: {wrong}: {line}"))
                }
                _ => Ok(line),
            }
        }),
    };
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("sockeye-bench: {e}");
            std::process::exit(1);
        }
    }
}
