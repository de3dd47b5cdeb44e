//! `sockeye-bench`: a Socket.IO v5 load generator over WebSocket, built on
//! `sockeye-protocol` (the same codec the server and the browser client use).
//!
//! Scenarios print one JSON line each. So far:
//! - `echo`: C connections each keep W acked `echo` emits in flight (64-byte JSON
//!   argument); acks per second, latency percentiles and fairness (the slowest
//!   connection's acks against the fastest's). The server must ack `echo` with its
//!   arguments, as the `sockeye` demo binary does on `/`.
//! - `connect`: W workers repeat connect, join `/`, close; cycles per second.
//!
//! `cargo run --release -p sockeye-bench -- echo --url http://127.0.0.1:8080 -c 100 -w 16 -d 10`

mod connect;
mod echo;
mod session;

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
        /// The server, `http://host:port` (loopback only).
        #[arg(long)]
        url: String,
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
    /// W workers repeating connect, join, close.
    Connect {
        /// The server, `http://host:port` (loopback only).
        #[arg(long)]
        url: String,
        /// Concurrent workers.
        #[arg(short = 'w', long, default_value_t = 50)]
        workers: usize,
        /// Seconds.
        #[arg(short = 'd', long, default_value_t = 10.0)]
        duration: f64,
    },
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.1, 600.0))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.scenario {
        Scenario::Echo {
            url,
            connections,
            in_flight,
            duration,
        } => echo::run(&url, connections, in_flight, seconds(duration)).await,
        Scenario::Connect {
            url,
            workers,
            duration,
        } => connect::run(&url, workers, seconds(duration)).await,
    };
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("sockeye-bench: {e}");
            std::process::exit(1);
        }
    }
}
