//! The `echo` scenario: C connections, each keeping W acked `echo` emits in flight.

use crate::session::Session;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// What one connection measured.
struct Tally {
    acks: u64,
    /// Ack latencies, in microseconds.
    latencies: Vec<u32>,
}

/// Runs the scenario and returns its JSON line.
pub async fn run(
    url: &str,
    connections: usize,
    in_flight: usize,
    duration: Duration,
) -> Result<String, String> {
    let connections = connections.max(1);
    let in_flight = in_flight.max(1);
    // A 64-byte JSON argument, as in the benchmark table.
    let payload = json!({"data": "x".repeat(52)});
    let start = Arc::new(Barrier::new(connections + 1));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let session = Session::connect(url).await?;
        let (start, payload) = (start.clone(), payload.clone());
        tasks.push(tokio::spawn(connection(
            session, in_flight, payload, start, duration,
        )));
    }
    // Everyone starts measuring together, once all connections are up.
    start.wait().await;
    let began = Instant::now();
    let mut tallies = Vec::with_capacity(connections);
    for task in tasks {
        tallies.push(task.await.map_err(|e| e.to_string())??);
    }
    let elapsed = began.elapsed().as_secs_f64();
    let acks: u64 = tallies.iter().map(|t| t.acks).sum();
    let mut latencies: Vec<u32> = tallies
        .iter()
        .flat_map(|t| t.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[i]) / 1000.0
    };
    let min = tallies.iter().map(|t| t.acks).min().unwrap_or(0);
    let max = tallies.iter().map(|t| t.acks).max().unwrap_or(0);
    Ok(serde_json::json!({
        "scenario": "echo",
        "transport": "websocket",
        "connections": connections,
        "in_flight": in_flight,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "acks": acks,
        "acks_per_sec": (acks as f64 / elapsed).round(),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": percentile(1.0),
        "fairness": if max == 0 { 0.0 } else { (min as f64 / max as f64 * 1000.0).round() / 1000.0 },
    })
    .to_string())
}

async fn connection(
    mut session: Session,
    in_flight: usize,
    payload: Value,
    start: Arc<Barrier>,
    duration: Duration,
) -> Result<Tally, String> {
    start.wait().await;
    let deadline = Instant::now() + duration;
    let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(in_flight);
    let mut next_id = 0u64;
    let mut tally = Tally {
        acks: 0,
        latencies: Vec::new(),
    };
    let echo = |id: u64| Packet::event("/", "echo", vec![payload.clone()], Some(id));
    for _ in 0..in_flight {
        session.feed(&echo(next_id)).await?;
        sent.insert(next_id, Instant::now());
        next_id += 1;
    }
    session.flush().await?;
    while !sent.is_empty() {
        let packet = tokio::time::timeout(Duration::from_secs(30), session.next())
            .await
            .map_err(|_| "no ack within 30 s".to_string())??;
        let Packet::Ack { id, .. } = packet else {
            continue;
        };
        let Some(at) = sent.remove(&id) else { continue };
        let now = Instant::now();
        tally.acks += 1;
        tally
            .latencies
            .push(now.duration_since(at).as_micros().min(u32::MAX as u128) as u32);
        // Keep W in flight until the deadline, then let the last ones drain.
        if now < deadline {
            session.send(&echo(next_id)).await?;
            sent.insert(next_id, now);
            next_id += 1;
        }
    }
    Ok(tally)
}
