//! The `echo` scenario: C connections, each keeping W acked `echo` emits in flight
//! with a 64-byte JSON argument; over WebSocket, over long-polling, or as plain
//! WebSocket echoes against the raw echo server (the upper limit, no Socket.IO).
//!
//! A connection answers every ack it has received with a new emit, all of them in one
//! write, as an application that emits from its ack callbacks would.
//!
//! The measured window runs from the moment every connection is up to the last ack:
//! the server's CPU time over exactly that window, divided by the acks counted in it,
//! is its CPU per ack. Connections close after the window.

use crate::cpu::{self, CpuSample};
use crate::frames::FrameStream;
use crate::polling::PollingSession;
use crate::report::{Latencies, Tally};
use crate::session::Link;
use crate::wire::{EventTemplate, Parser};
use sockeye_protocol::socket::Packet;
use sockeye_protocol::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// How the load generator talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// Socket.IO over WebSocket.
    Websocket,
    /// Socket.IO over Engine.IO long-polling.
    Polling,
    /// Plain WebSocket text echoes (for the raw echo server).
    Raw,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Websocket => "websocket",
            Transport::Polling => "polling",
            Transport::Raw => "raw",
        }
    }
}

/// No ack for this long means the server has stopped answering.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection kept open past the measured window, to be closed after it.
enum Open {
    Link(Link),
    Frames(FrameStream),
    Polling(PollingSession),
}

impl Open {
    async fn close(self) {
        match self {
            Open::Link(link) => link.close().await,
            Open::Frames(stream) => stream.close().await,
            Open::Polling(session) => session.close().await,
        }
    }
}

/// Runs the scenario and returns its JSON line.
pub async fn run(
    url: &str,
    transport: Transport,
    parser: Parser,
    connections: usize,
    in_flight: usize,
    duration: Duration,
    pid: Option<u32>,
) -> Result<String, String> {
    if parser != Parser::Json && transport != Transport::Websocket {
        return Err(format!(
            "--parser {} is for --transport websocket only",
            parser.name()
        ));
    }
    let connections = connections.max(1);
    let in_flight = in_flight.max(1);
    let start = Arc::new(Barrier::new(connections + 1));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let start = start.clone();
        let task = match transport {
            Transport::Websocket => {
                let link = Link::connect(url, parser).await?;
                tokio::spawn(over_websocket(link, parser, in_flight, start, duration))
            }
            Transport::Polling => {
                let session = PollingSession::connect(url).await?;
                tokio::spawn(over_polling(session, in_flight, start, duration))
            }
            Transport::Raw => {
                let ws_url = format!("{}/", url.trim_end_matches('/').replacen("http", "ws", 1));
                let stream = FrameStream::connect(&ws_url).await?;
                tokio::spawn(raw(stream, in_flight, start, duration))
            }
        };
        tasks.push(task);
    }
    // Everyone starts measuring together, once all connections are up.
    start.wait().await;
    let server_cpu = CpuSample::server(pid)?;
    let bench_cpu = CpuSample::take(None)?;
    let began = Instant::now();
    let mut tallies = Vec::with_capacity(connections);
    let mut open = Vec::with_capacity(connections);
    for task in tasks {
        let (tally, connection) = task.await.map_err(|e| e.to_string())??;
        tallies.push(tally);
        open.push(connection);
    }
    // The window ends with the last ack: the closes that follow are not measured.
    let elapsed = began.elapsed().as_secs_f64();
    let (server_used, bench_cpu) = (cpu::used(&server_cpu)?, bench_cpu.percent()?);
    let closing: Vec<_> = open
        .into_iter()
        .map(|connection| tokio::spawn(connection.close()))
        .collect();
    for close in closing {
        let _ = close.await;
    }
    let acks: u64 = tallies.iter().map(|t| t.count).sum();
    let min = tallies.iter().map(|t| t.count).min().unwrap_or(0);
    let max = tallies.iter().map(|t| t.count).max().unwrap_or(0);
    let latencies = Latencies::merge(tallies.into_iter().map(|t| t.latencies));
    let line = serde_json::json!({
        "scenario": if transport == Transport::Polling { "polling-echo" } else { "echo" },
        "transport": transport.name(),
        "parser": parser.name(),
        "connections": connections,
        "in_flight": in_flight,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "acks": acks,
        "acks_per_sec": (acks as f64 / elapsed).round(),
        "p50_ms": latencies.percentile(0.50),
        "p99_ms": latencies.percentile(0.99),
        "max_ms": latencies.percentile(1.0),
        "fairness": if max == 0 { 0.0 } else { (min as f64 / max as f64 * 1000.0).round() / 1000.0 },
        "server_cpu": null,
        "bench_cpu": bench_cpu,
    });
    // The server's CPU per ack (per echo, for the raw echo server).
    Ok(cpu::with_server_figures(line, server_used, acks))
}

/// The argument of every echo: 64 bytes of JSON.
fn payload() -> Value {
    json!({"data": "x".repeat(52)})
}

/// Ack ids are sequential: a multiplicative hash spreads them at a fraction of the
/// cost of the default SipHash (which showed in the load generator's profile).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 ids are hashed")
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Emits in flight, by ack id, with their send times.
struct InFlight {
    sent: HashMap<u64, Instant, BuildHasherDefault<IdHasher>>,
    next_id: u64,
    deadline: Instant,
}

impl InFlight {
    fn new(capacity: usize, duration: Duration) -> InFlight {
        InFlight {
            sent: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            next_id: 0,
            deadline: Instant::now() + duration,
        }
    }

    /// The ack id of the next emit, registered as in flight.
    fn emit(&mut self, now: Instant) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.sent.insert(id, now);
        id
    }

    /// Counts the ack `id`; whether a new emit should replace it (the window is still
    /// open).
    fn ack(&mut self, id: u64, tally: &mut Tally, now: Instant) -> bool {
        let Some(at) = self.sent.remove(&id) else {
            return false;
        };
        tally.record(now.duration_since(at));
        now < self.deadline
    }
}

/// The ack id of a decoded packet, if it is an ack.
fn ack_of(packet: Packet) -> Option<u64> {
    match packet {
        Packet::Ack { id, .. } => Some(id),
        _ => None,
    }
}

async fn over_websocket(
    mut link: Link,
    parser: Parser,
    in_flight: usize,
    start: Arc<Barrier>,
    duration: Duration,
) -> Result<(Tally, Open), String> {
    let template = EventTemplate::new(parser, "echo", vec![payload()]);
    let binary = parser.binary();
    let mut emit = Vec::with_capacity(128);
    start.wait().await;
    let mut window = InFlight::new(in_flight, duration);
    let mut tally = Tally::default();
    let now = Instant::now();
    for _ in 0..in_flight {
        template.write_with_id(window.emit(now), &mut emit);
        link.feed_message(binary, &emit);
    }
    link.flush().await?;
    while !window.sent.is_empty() {
        // A server that stops acking, or stops pinging, has stopped answering.
        let limit = Instant::now() + ACK_TIMEOUT;
        let until = link.deadline().map_or(limit, |d| d.min(limit));
        let mut replies = 0;
        // Acks are only scanned for their id (see `wire`): the bench must outrun the
        // server, and decoding every ack's JSON would make it the bottleneck. The rest
        // (pings, a close) is the engine's.
        let read = link.read(|message, at| match parser.ack_id(message) {
            Some(id) => {
                replies += usize::from(window.ack(id, &mut tally, at));
                true
            }
            None => false,
        });
        let now = match tokio::time::timeout_at(until.into(), read).await {
            Ok(read) => read?,
            Err(_) => {
                link.poll(Instant::now())?;
                return Err("no ack within 30 s".into());
            }
        };
        for _ in 0..replies {
            template.write_with_id(window.emit(now), &mut emit);
            link.feed_message(binary, &emit);
        }
        // Also carries the engine's pongs.
        link.flush().await?;
    }
    Ok((tally, Open::Link(link)))
}

async fn over_polling(
    mut session: PollingSession,
    in_flight: usize,
    start: Arc<Barrier>,
    duration: Duration,
) -> Result<(Tally, Open), String> {
    let payload = payload();
    start.wait().await;
    let mut window = InFlight::new(in_flight, duration);
    let mut tally = Tally::default();
    let now = Instant::now();
    let emit = |window: &mut InFlight, now| {
        Packet::event(
            "/",
            "echo",
            vec![payload.clone()].into(),
            Some(window.emit(now)),
        )
    };
    let first: Vec<Packet> = (0..in_flight).map(|_| emit(&mut window, now)).collect();
    session.post(&first).await?;
    while !window.sent.is_empty() {
        let packet = tokio::time::timeout(ACK_TIMEOUT, session.next())
            .await
            .map_err(|_| "no ack within 30 s".to_string())??;
        let now = Instant::now();
        let mut replies =
            usize::from(ack_of(packet).is_some_and(|id| window.ack(id, &mut tally, now)));
        while let Some(packet) = session.try_next().await? {
            replies +=
                usize::from(ack_of(packet).is_some_and(|id| window.ack(id, &mut tally, now)));
        }
        if replies > 0 {
            let emits: Vec<Packet> = (0..replies).map(|_| emit(&mut window, now)).collect();
            session.post(&emits).await?;
        }
    }
    Ok((tally, Open::Polling(session)))
}

/// Plain WebSocket echoes: the same 64 bytes, answered in order (a FIFO of send times
/// stands in for ack ids).
async fn raw(
    mut stream: FrameStream,
    in_flight: usize,
    start: Arc<Barrier>,
    duration: Duration,
) -> Result<(Tally, Open), String> {
    let text = payload().to_json().to_string();
    start.wait().await;
    let deadline = Instant::now() + duration;
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(in_flight);
    let mut tally = Tally::default();
    let now = Instant::now();
    for _ in 0..in_flight {
        stream.feed_text(text.as_bytes());
        sent.push_back(now);
    }
    stream.flush().await?;
    while !sent.is_empty() {
        let read = stream.read_texts(|_| {});
        let mut echoes = tokio::time::timeout(ACK_TIMEOUT, read)
            .await
            .map_err(|_| "no echo within 30 s".to_string())??;
        echoes += stream.try_read_texts(|_| {})?;
        let now = Instant::now();
        for _ in 0..echoes {
            let at = sent.pop_front().ok_or("more echoes than messages sent")?;
            tally.record(now.duration_since(at));
        }
        if now < deadline {
            for _ in 0..echoes {
                stream.feed_text(text.as_bytes());
                sent.push_back(now);
            }
        }
        // Also carries the pongs of any pings read.
        stream.flush().await?;
    }
    Ok((tally, Open::Frames(stream)))
}
