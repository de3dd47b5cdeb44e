//! `sockeye-bench`: a Socket.IO v5 load generator over WebSocket, built on
//! `sockeye-protocol` (the same codec the server and the browser client use).
//!
//! Scenarios print one JSON line each. So far: `echo`, where C connections each keep W
//! acked `echo` emits in flight (64-byte JSON argument). It reports acks per second,
//! latency percentiles and fairness (the slowest connection's acks against the
//! fastest's). The server must ack `echo` with its arguments, as the `sockeye` demo
//! binary does on `/`.
//!
//! `cargo run --release -p sockeye-bench -- echo --url http://127.0.0.1:8080 -c 100 -w 16 -d 10`

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
        } => {
            echo::run(
                &url,
                connections,
                in_flight,
                Duration::from_secs_f64(duration.clamp(0.1, 600.0)),
            )
            .await
        }
    };
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("sockeye-bench: {e}");
            std::process::exit(1);
        }
    }
}
