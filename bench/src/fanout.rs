//! The `fanout` scenario: C receivers in `/`, one sender keeping W acked `broadcast`
//! emits in flight, or (`--rate`) emitting R broadcasts a second with at most W in
//! flight; the server sends each to every receiver as `fanout`. Each emit carries its
//! send time, so a receiver measures the latency from the sender's emit to its own
//! delivery (one process, one clock).
//!
//! Receivers only scan a delivery for its time stamp: with one core for a thousand
//! connections, decoding every delivery would make the load generator the bottleneck.
//!
//! The measured window is the sending window: the server's CPU time over it, divided
//! by the deliveries counted in it, is its CPU per delivery.

use crate::cpu::{self, CpuSample};
use crate::report::{Latencies, Tally};
use crate::session::Link;
use crate::wire::Parser;
use sockeye_protocol::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long deliveries may trail the last ack before the rest count as lost.
const DRAIN: Duration = Duration::from_secs(5);
/// No ack for this long means the server has stopped answering.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the scenario and returns its JSON line.
pub async fn run(
    url: &str,
    parser: Parser,
    receivers: usize,
    in_flight: usize,
    rate: Option<f64>,
    duration: Duration,
    pid: Option<u32>,
) -> Result<String, String> {
    let receivers = receivers.max(1);
    let in_flight = in_flight.max(1);
    if let Some(rate) = rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("--rate must be a positive number, not {rate}"));
        }
    }
    let epoch = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = Vec::with_capacity(receivers);
    for _ in 0..receivers {
        let link = Link::connect(url, parser).await?;
        tasks.push(tokio::spawn(receive(
            link,
            parser,
            epoch,
            delivered.clone(),
            stop.clone(),
        )));
    }
    let mut sender = Link::connect(url, parser).await?;
    // The rates and CPU figures cover the sending window only: a snapshot at its end,
    // taken while the sender waits for its last acks.
    let window = tokio::spawn({
        let delivered = delivered.clone();
        let (server_cpu, bench_cpu) = (CpuSample::server(pid)?, CpuSample::take(None)?);
        let began = Instant::now();
        async move {
            tokio::time::sleep(duration).await;
            let count = delivered.load(Ordering::Relaxed);
            let elapsed = began.elapsed().as_secs_f64();
            let (server_used, bench_cpu) = (cpu::used(&server_cpu)?, bench_cpu.percent()?);
            Ok::<_, String>((count, elapsed, server_used, bench_cpu))
        }
    });
    let sent = send(&mut sender, parser, in_flight, rate, duration, epoch).await?;
    let (delivered_in_window, elapsed, server_used, bench_cpu) =
        window.await.map_err(|e| e.to_string())??;
    // Every acked broadcast is due at every receiver; wait a bounded time for the
    // stragglers before counting the rest as lost.
    let expected = sent.acked * receivers as u64;
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
    let line = serde_json::json!({
        "scenario": "fanout",
        "transport": "websocket",
        "parser": parser.name(),
        "receivers": receivers,
        "in_flight": in_flight,
        "rate": rate,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "broadcasts": sent.acked,
        "broadcasts_per_sec": (sent.in_window as f64 / elapsed).round(),
        // What the sender offered over its window: with --rate, the pace it kept.
        "sent_per_sec": (sent.sent as f64 / duration.as_secs_f64()).round(),
        "max_in_flight": sent.max_in_flight,
        "deliveries": received,
        "deliveries_in_window": delivered_in_window,
        "deliveries_per_sec": (delivered_in_window as f64 / elapsed).round(),
        "lost": expected.saturating_sub(received),
        "p50_ms": latencies.percentile(0.50),
        "p99_ms": latencies.percentile(0.99),
        "max_ms": latencies.percentile(1.0),
        "ack_p99_ms": sent.latencies.percentile(0.99),
        "server_cpu": null,
        "bench_cpu": bench_cpu,
    });
    // The server's CPU per delivery.
    Ok(cpu::with_server_figures(
        line,
        server_used,
        delivered_in_window,
    ))
}

/// What the sender sent.
struct Sent {
    /// Broadcasts sent.
    sent: u64,
    /// The most unacked at once.
    max_in_flight: usize,
    /// Broadcasts acked, in all.
    acked: u64,
    /// Acks received within the sending window.
    in_window: u64,
    /// The ack latencies.
    latencies: Latencies,
}

/// Until `duration` has passed, keeps `in_flight` broadcasts going, or with a `rate`
/// emits on a schedule: one at the start, then one every 1/rate seconds until
/// `duration`, at most `in_flight` unacked (a broadcast due while the bound holds waits
/// for an ack to make room). Broadcasts due within the window that the sender could
/// only send after it (its own core busy with the receivers) go out at once then. Then
/// waits for the last acks.
async fn send(
    sender: &mut Link,
    parser: Parser,
    in_flight: usize,
    rate: Option<f64>,
    duration: Duration,
    epoch: Instant,
) -> Result<Sent, String> {
    let began = Instant::now();
    let deadline = began + duration;
    // Paced: how many broadcasts are due by `at` (the schedule ends at the deadline).
    let scheduled = |rate: f64, at: Instant| {
        let by = at.min(deadline).duration_since(began).as_secs_f64();
        ((by * rate) as u64 + 1).min((duration.as_secs_f64() * rate).ceil() as u64)
    };
    let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(in_flight);
    let mut next_id = 0u64;
    let mut max_in_flight = 0;
    let mut acked = Tally::default();
    let mut in_window = 0;
    let mut emit = Vec::with_capacity(128);
    let mut sending = true;
    loop {
        let now = Instant::now();
        if sending {
            let due = match rate {
                Some(rate) => scheduled(rate, now),
                None if now < deadline => u64::MAX,
                None => 0,
            };
            while next_id < due && sent.len() < in_flight {
                let stamp = epoch.elapsed().as_micros() as u64;
                parser.write_event("broadcast", vec![stamped(stamp)], Some(next_id), &mut emit);
                sender.feed_message(parser.binary(), &emit);
                sent.insert(next_id, Instant::now());
                next_id += 1;
            }
            max_in_flight = max_in_flight.max(sent.len());
            sender.flush().await?;
            sending = now < deadline;
        }
        if !sending && sent.is_empty() {
            break;
        }
        // Paced and below the bound: wake for the next broadcast due, if no ack first.
        let next_due = match rate {
            Some(rate) if sending && sent.len() < in_flight => {
                Some(began + Duration::from_secs_f64(next_id as f64 / rate))
            }
            _ => None,
        };
        // A server that stops acking, or stops pinging, has stopped answering.
        let limit = Instant::now() + ACK_TIMEOUT;
        let until = sender.deadline().map_or(limit, |d| d.min(limit));
        // Acks are only scanned for their id (see `wire`); the rest is the engine's.
        let read = sender.read(|message, at| {
            let Some(id) = parser.ack_id(message) else {
                return false;
            };
            if let Some(sent_at) = sent.remove(&id) {
                acked.record(at.duration_since(sent_at));
                if at < deadline {
                    in_window += 1;
                }
            }
            true
        });
        tokio::select! {
            read = tokio::time::timeout_at(until.into(), read) => match read {
                Ok(read) => read.map(drop)?,
                Err(_) => {
                    sender.poll(Instant::now())?;
                    return Err("no broadcast ack within 30 s".into());
                }
            },
            () = tokio::time::sleep_until(next_due.unwrap_or(deadline).into()), if next_due.is_some() => {}
        }
        // The engine's pongs (when sending, the next round's flush would carry them).
        sender.flush().await?;
    }
    Ok(Sent {
        sent: next_id,
        max_in_flight,
        acked: acked.count,
        in_window,
        latencies: Latencies::merge([acked.latencies]),
    })
}

/// A 64-byte JSON argument holding its send time in microseconds.
fn stamped(micros: u64) -> Value {
    let stamp = micros.to_string();
    json!({"t": micros, "data": "x".repeat(48usize.saturating_sub(stamp.len()))})
}

/// Counts `fanout` deliveries and their latencies until told to stop.
async fn receive(
    mut link: Link,
    parser: Parser,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    // The heartbeat deadline: one timer, moved only when a ping moves the deadline
    // (a timer per read would cost the thousand receivers' loop more).
    let far = || Instant::now() + Duration::from_secs(86_400);
    let mut deadline = link.deadline();
    let heartbeat = tokio::time::sleep_until(deadline.unwrap_or_else(far).into());
    tokio::pin!(heartbeat);
    loop {
        let mut count = 0;
        let mut now_us = None;
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            // Deliveries are only scanned for their time stamp (see `wire`); the rest
            // (pings, a close) is the engine's.
            read = link.read(|message, at| {
                let Some(stamp) = parser.stamp_of(message, "fanout") else {
                    return false;
                };
                let now = *now_us.get_or_insert_with(|| at.duration_since(epoch).as_micros() as u64);
                tally.record(Duration::from_micros(now.saturating_sub(stamp)));
                count += 1;
                true
            }) => {
                read?;
            }
            () = &mut heartbeat => link.poll(Instant::now())?,
        };
        delivered.fetch_add(count, Ordering::Relaxed);
        // Also carries the engine's pongs, and those of any WebSocket pings read.
        link.flush().await?;
        if link.deadline() != deadline {
            deadline = link.deadline();
            heartbeat
                .as_mut()
                .reset(deadline.unwrap_or_else(far).into());
        }
    }
    link.close().await;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::Message;

    #[test]
    fn the_argument_is_64_bytes_and_its_stamp_is_found() {
        let text = format!("42[\"fanout\",{}]", stamped(1234567).to_json());
        let found = Parser::Json.stamp_of(Message::Text(text.as_bytes()), "fanout");
        assert_eq!(found, Some(1234567));
        assert_eq!(stamped(1234567).to_json().to_string().len(), 64);
        // The same argument in a msgpack broadcast.
        let mut bytes = Vec::new();
        Parser::Msgpack.write_event("fanout", vec![stamped(1234567)], None, &mut bytes);
        let found = Parser::Msgpack.stamp_of(Message::Binary(&bytes), "fanout");
        assert_eq!(found, Some(1234567));
    }
}
