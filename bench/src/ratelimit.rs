//! The `ratelimit` scenario: does flood control keep a flooding client from slowing
//! everyone else? C clients each send one acked `echo` every `interval` and measure its
//! round trip, first on a quiet server, then while one more client floods it with
//! `echo` packets as fast as its own thread can write them, or `--flood-rate` a second
//! (every 64th with an ack, to see the answers: echoed, or `{"error":"rate limited"}`;
//! their count times 64 is how many of the flooder's packets the server read, handled
//! or refused, reported a second over the flood's time).
//!
//! The server must limit the flooder: `sockeye-bench-server --rate-limit N` gives every
//! socket N events a second (bursts of 2N) and never disconnects for flooding, so the
//! flooder stays limited, not evicted, for the whole run. Its socket limit pauses the
//! flooder's connection while the bucket is empty, so the flooder's writes wait (TCP
//! backpressure) and the server reads and decodes only N packets a second of it. The
//! line reports both phases' p50/p99 and their ratio (the goal: the flooded p99 within
//! 2× the quiet one).

use crate::report::{Latencies, Tally};
use crate::session::Link;
use crate::wire::{EventTemplate, Parser};
use sockeye_protocol::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// How long the measuring clients wait for their last acks after a phase.
const DRAIN: Duration = Duration::from_secs(5);
/// Flood packets written per flush.
const BATCH: u64 = 256;
/// One flood packet in this many asks for an ack.
const ACKED_EVERY: u64 = 64;

fn payload() -> Value {
    json!({"data": "x".repeat(52)})
}

/// Runs the scenario and returns its JSON line.
pub async fn run(
    url: &str,
    clients: usize,
    interval: Duration,
    duration: Duration,
    flood_rate: Option<f64>,
) -> Result<String, String> {
    let clients = clients.max(1);
    let mut links = Vec::with_capacity(clients);
    for _ in 0..clients {
        links.push(Link::connect(url, Parser::Json).await?);
    }
    let (quiet, links) = phase(links, interval, duration).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let (url, stop) = (url.to_owned(), stop.clone());
        // A thread of its own: flooding from the measuring clients' thread would slow
        // the clients, not the server.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(flood(&url, &stop, flood_rate))
        })
    };
    // Let the flood reach the server before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flooded = phase(links, interval, duration).await;
    stop.store(true, Ordering::Release);
    let flood = flooder
        .join()
        .map_err(|_| "the flooder panicked".to_string())??;
    let (flooded, links) = flooded?;
    for link in links {
        link.close().await;
    }
    let (quiet_p99, flooded_p99) = (quiet.percentile(0.99), flooded.percentile(0.99));
    let read = (flood.acks.echoed + flood.acks.limited) * ACKED_EVERY;
    let line = json!({
        "scenario": "ratelimit",
        "clients": clients,
        "interval_ms": interval.as_millis() as u64,
        "seconds": duration.as_secs_f64(),
        "quiet": {"echoes": quiet.count(), "p50_ms": quiet.percentile(0.5), "p99_ms": quiet_p99},
        "flooded": {"echoes": flooded.count(), "p50_ms": flooded.percentile(0.5), "p99_ms": flooded_p99},
        "p99_ratio": if quiet_p99 > 0.0 { ((flooded_p99 / quiet_p99) * 100.0).round() / 100.0 } else { 0.0 },
        "flooder": {
            "rate": flood_rate,
            "sent": flood.sent,
            "sent_per_sec": (flood.sent as f64 / flood.seconds).round(),
            "read_per_sec": (read as f64 / flood.seconds).round(),
            "acks_echoed": flood.acks.echoed,
            "acks_rate_limited": flood.acks.limited,
            "disconnected": flood.disconnected,
        },
    });
    serde_json::to_string(&line).map_err(|e| e.to_string())
}

/// Every client's echoes for `duration`, then their latencies together.
async fn phase(
    links: Vec<Link>,
    interval: Duration,
    duration: Duration,
) -> Result<(Latencies, Vec<Link>), String> {
    let start = Arc::new(Barrier::new(links.len()));
    let tasks: Vec<_> = links
        .into_iter()
        .map(|link| tokio::spawn(measure(link, interval, duration, start.clone())))
        .collect();
    let mut tallies = Vec::new();
    let mut links = Vec::new();
    for task in tasks {
        let (tally, link) = task.await.map_err(|e| e.to_string())??;
        tallies.push(tally.latencies);
        links.push(link);
    }
    Ok((Latencies::merge(tallies), links))
}

/// One client: an acked echo every `interval`, each ack's round trip recorded.
async fn measure(
    mut link: Link,
    interval: Duration,
    duration: Duration,
    start: Arc<Barrier>,
) -> Result<(Tally, Link), String> {
    let template = EventTemplate::new(Parser::Json, "echo", vec![payload()]);
    let mut emit = Vec::with_capacity(128);
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut tally = Tally::default();
    let mut next_id = 0;
    start.wait().await;
    let end = Instant::now() + duration;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = Instant::now();
        if now >= end + DRAIN || (now >= end && sent.is_empty()) {
            break;
        }
        tokio::select! {
            _ = tick.tick(), if now < end => {
                template.write_with_id(next_id, &mut emit);
                sent.insert(next_id, Instant::now());
                next_id += 1;
                link.feed_message(false, &emit);
                link.flush().await?;
            }
            read = link.read(|message, at| match Parser::Json.ack_id(message) {
                Some(id) => {
                    if let Some(at_send) = sent.remove(&id) {
                        tally.record(at.duration_since(at_send));
                    }
                    true
                }
                None => false,
            }) => {
                read?;
                // Pongs.
                link.flush().await?;
            }
            _ = tokio::time::sleep_until((end + DRAIN).into()) => {}
        }
    }
    if !sent.is_empty() {
        return Err(format!("{} echoes got no ack", sent.len()));
    }
    Ok((tally, link))
}

/// What the flooder saw.
struct Flood {
    sent: u64,
    seconds: f64,
    acks: Acks,
    disconnected: bool,
}

/// The answers to the flooder's acked packets.
#[derive(Default)]
struct Acks {
    echoed: u64,
    limited: u64,
}

impl Acks {
    /// Counts a message if it is an ack; whether it was.
    fn count(&mut self, message: crate::frames::Message<'_>) -> bool {
        if Parser::Json.ack_id(message).is_none() {
            return false;
        }
        if let crate::frames::Message::Text(text) = message {
            if text.windows(12).any(|w| w == b"rate limited") {
                self.limited += 1;
            } else {
                self.echoed += 1;
            }
        }
        true
    }
}

/// Writes `echo` packets as fast as the connection takes them until `stop`.
/// With `rate`, paced to that many packets a second.
async fn flood(url: &str, stop: &AtomicBool, rate: Option<f64>) -> Result<Flood, String> {
    let mut link = Link::connect(url, Parser::Json).await?;
    let acked = EventTemplate::new(Parser::Json, "echo", vec![payload()]);
    let mut plain = Vec::new();
    Parser::Json.write_event("echo", vec![payload()], None, &mut plain);
    let mut emit = Vec::with_capacity(128);
    let began = Instant::now();
    let mut sent = 0u64;
    let mut acks = Acks::default();
    let mut disconnected = false;
    while !stop.load(Ordering::Acquire) {
        if let Some(rate) = rate {
            let due = began + Duration::from_secs_f64(sent as f64 / rate.max(1.0));
            tokio::time::sleep_until(due.into()).await;
        }
        for _ in 0..BATCH {
            // Not the first of a batch: after the pause between paced batches the
            // bucket has a few tokens, which the first packets of each batch take.
            if sent % ACKED_EVERY == ACKED_EVERY - 1 {
                acked.write_with_id(sent, &mut emit);
                link.feed_message(false, &emit);
            } else {
                link.feed_message(false, &plain);
            }
            sent += 1;
        }
        // A paced flooder's writes wait while the server does not read it: the stop
        // must not wait for them.
        let flushed = tokio::select! {
            flushed = link.flush() => flushed,
            () = stopped(stop) => break,
        };
        if flushed.is_err() {
            disconnected = true;
            break;
        }
        // Whatever came back meanwhile, without waiting for more.
        let read = link.read(|message, _| acks.count(message));
        if let Ok(Err(_)) = tokio::time::timeout(Duration::ZERO, read).await {
            disconnected = true;
            break;
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    // The answers that came while a write waited (a paced flooder's writes wait most
    // of the time).
    if !disconnected {
        let read = link.read(|message, _| acks.count(message));
        let _ = tokio::time::timeout(Duration::ZERO, read).await;
    }
    // Dropped, not closed: a close frame would wait behind the flood the server has not
    // read (at its rate, minutes of it).
    drop(link);
    Ok(Flood {
        sent,
        seconds,
        acks,
        disconnected,
    })
}

/// Resolves once `stop` is set (looked at every 10 ms).
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
