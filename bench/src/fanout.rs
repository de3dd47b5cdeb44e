//! The `fanout` scenario: C receivers in `/`, one sender keeping W acked `broadcast`
//! emits in flight; the server sends each to every receiver as `fanout`. Each emit
//! carries its send time, so a receiver measures the latency from the sender's emit
//! to its own delivery (one process, one clock).
//!
//! Receivers only scan a delivery for its time stamp: with one core for a thousand
//! connections, decoding every delivery would make the load generator the bottleneck.

use crate::cpu::{self, CpuSample};
use crate::frames::FrameStream;
use crate::report::{Latencies, Tally};
use crate::session::{connect_frames, Session};
use crate::wire::stamp_of;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long deliveries may trail the last ack before the rest count as lost.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs the scenario and returns its JSON line.
pub async fn run(
    url: &str,
    receivers: usize,
    in_flight: usize,
    duration: Duration,
    pid: Option<u32>,
) -> Result<String, String> {
    let receivers = receivers.max(1);
    let in_flight = in_flight.max(1);
    let epoch = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = Vec::with_capacity(receivers);
    for _ in 0..receivers {
        let stream = connect_frames(url).await?;
        tasks.push(tokio::spawn(receive(
            stream,
            epoch,
            delivered.clone(),
            stop.clone(),
        )));
    }
    let mut sender = Session::connect(url).await?;
    // The rates and CPU shares cover the sending window only: a snapshot at its end,
    // taken while the sender waits for its last acks.
    let window = tokio::spawn({
        let delivered = delivered.clone();
        let (server_cpu, bench_cpu) = (CpuSample::server(pid)?, CpuSample::take(None)?);
        let began = Instant::now();
        async move {
            tokio::time::sleep(duration).await;
            let count = delivered.load(Ordering::Relaxed);
            let elapsed = began.elapsed().as_secs_f64();
            let (server_cpu, bench_cpu) = (cpu::percent(&server_cpu)?, bench_cpu.percent()?);
            Ok::<_, String>((count, elapsed, server_cpu, bench_cpu))
        }
    });
    let (broadcasts, in_window, ack_latencies) =
        send(&mut sender, in_flight, duration, epoch).await?;
    let (delivered_in_window, elapsed, server_cpu, bench_cpu) =
        window.await.map_err(|e| e.to_string())??;
    // Every acked broadcast is due at every receiver; wait a bounded time for the
    // stragglers before counting the rest as lost.
    let expected = broadcasts * receivers as u64;
    let drain_until = Instant::now() + DRAIN;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop_tx.send(true);
    let mut tallies = Vec::with_capacity(receivers);
    for task in tasks {
        tallies.push(task.await.map_err(|e| e.to_string())??);
    }
    sender.close().await;
    let received: u64 = tallies.iter().map(|t| t.count).sum();
    let latencies = Latencies::merge(tallies.into_iter().map(|t| t.latencies));
    Ok(serde_json::json!({
        "scenario": "fanout",
        "transport": "websocket",
        "receivers": receivers,
        "in_flight": in_flight,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "broadcasts": broadcasts,
        "broadcasts_per_sec": (in_window as f64 / elapsed).round(),
        "deliveries": received,
        "deliveries_per_sec": (delivered_in_window as f64 / elapsed).round(),
        "lost": expected.saturating_sub(received),
        "p50_ms": latencies.percentile(0.50),
        "p99_ms": latencies.percentile(0.99),
        "max_ms": latencies.percentile(1.0),
        "ack_p99_ms": ack_latencies.percentile(0.99),
        "server_cpu": server_cpu,
        "bench_cpu": bench_cpu,
    })
    .to_string())
}

/// Keeps `in_flight` broadcasts going until `duration` has passed, then waits for the
/// last acks. Returns how many were acked in all and within the window, and the ack
/// latencies.
async fn send(
    sender: &mut Session,
    in_flight: usize,
    duration: Duration,
    epoch: Instant,
) -> Result<(u64, u64, Latencies), String> {
    let deadline = Instant::now() + duration;
    let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(in_flight);
    let mut next_id = 0u64;
    let mut acked = Tally::default();
    let mut in_window = 0;
    let mut broadcast = |sent: &mut HashMap<u64, Instant>| {
        let now = Instant::now();
        let stamp = epoch.elapsed().as_micros() as u64;
        sent.insert(next_id, now);
        let packet = Packet::event("/", "broadcast", vec![stamped(stamp)], Some(next_id));
        next_id += 1;
        packet
    };
    for _ in 0..in_flight {
        sender.feed(&broadcast(&mut sent)).await?;
    }
    sender.flush().await?;
    while !sent.is_empty() {
        let packet = tokio::time::timeout(Duration::from_secs(30), sender.next())
            .await
            .map_err(|_| "no broadcast ack within 30 s".to_string())??;
        let Packet::Ack { id, .. } = packet else {
            continue;
        };
        let Some(at) = sent.remove(&id) else { continue };
        acked.record(at.elapsed());
        if Instant::now() < deadline {
            in_window += 1;
            sender.send(&broadcast(&mut sent)).await?;
        }
    }
    Ok((acked.count, in_window, Latencies::merge([acked.latencies])))
}

/// A 64-byte JSON argument holding its send time in microseconds.
fn stamped(micros: u64) -> Value {
    let stamp = micros.to_string();
    json!({"t": micros, "data": "x".repeat(48usize.saturating_sub(stamp.len()))})
}

/// Counts `fanout` deliveries and their latencies until told to stop.
async fn receive(
    mut stream: FrameStream,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    loop {
        let mut count = 0;
        let mut ping = false;
        let mut read_at = None;
        {
            let mut on_text = |text: &[u8]| {
                // One clock reading per burst: the deliveries of a burst were all
                // there when it was read.
                let now = *read_at.get_or_insert_with(|| epoch.elapsed().as_micros() as u64);
                if let Some(stamp) = stamp_of(text, "fanout") {
                    tally.record(Duration::from_micros(now.saturating_sub(stamp)));
                    count += 1;
                } else if text == b"2" {
                    ping = true;
                }
            };
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                read = stream.read_texts(&mut on_text) => read?,
            };
            stream.try_read_texts(&mut on_text)?;
        }
        delivered.fetch_add(count, Ordering::Relaxed);
        if ping {
            stream.feed_text(b"3");
        }
        // Also carries the pongs of any WebSocket pings read.
        stream.flush().await?;
    }
    stream.close().await;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_is_64_bytes_and_its_stamp_is_found() {
        let text = format!("42[\"fanout\",{}]", stamped(1234567).to_json());
        assert_eq!(stamp_of(text.as_bytes(), "fanout"), Some(1234567));
        assert_eq!(stamped(1234567).to_json().to_string().len(), 64);
    }
}
