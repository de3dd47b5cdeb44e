//! `soak`: chaos while broadcasts and acked emits flow. C clients (spread over one or
//! more nodes) receive the numbered broadcasts of one sender that is never cut, and each
//! sends acked `echo`s; meanwhile connections are cut at random:
//! - abrupt: the client drops its TCP connection (no WebSocket close);
//! - stall: the client stops reading for a while (the server may drop it when its queue
//!   fills or its pings go unanswered);
//! - kick: the server closes the connection under the client (`kick` event).
//!
//! A cut client reconnects after a short random delay, naming its session and the last
//! offset it processed (with `roam`, to a node picked at random, as a load balancer may
//! send it: for a cluster whose adapter recovers sessions on every node; a node that
//! cannot be reached is skipped for another): its socket is the protocol crate's `SocketClient`, as in
//! socket.io-client, and so are its ack ids. At the end every client is checked
//! against the full sequence: with recovery on, each must have every broadcast exactly
//! once and in order, and the chaos must have happened ([`judge_with_recovery`]); with
//! it off, the losses are counted. One JSON line.

use crate::session::{Session, Socket};
use crate::wire::Parser;
use sockeye_protocol::client::{SocketEvent, SocketOutput};
use sockeye_protocol::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How a connection is cut.
#[derive(Debug, Clone, Copy)]
enum Cut {
    Abrupt,
    Stall(Duration),
    Kick,
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Broadcast numbers in arrival order.
    seqs: Vec<u64>,
    joins: u64,
    recovered: u64,
    not_recovered: u64,
    acks: u64,
    acks_lost: u64,
    cuts_abrupt: u64,
    cuts_stall: u64,
    cuts_kick: u64,
    dropped_by_server: u64,
    /// What the client was doing last (for the report of a client that lost packets).
    state: &'static str,
}

/// A small deterministic generator: the soak's choices repeat for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Runs the soak. `urls`: the nodes (clients are spread over them; the sender is on the
/// first). `rate`: broadcasts per second. `cut_every`: time between cuts. `roam`: a
/// client comes back to any node.
pub async fn run(
    urls: &[String],
    clients: usize,
    duration: Duration,
    rate: u32,
    cut_every: Duration,
    seed: u64,
    roam: bool,
) -> Result<String, String> {
    let (stop_tx, stop) = watch::channel(false);
    let mut seen = Vec::with_capacity(clients);
    let mut cutters = Vec::with_capacity(clients);
    let mut tasks = Vec::with_capacity(clients);
    let (joined_tx, mut joined_rx) = mpsc::unbounded_channel();
    for i in 0..clients {
        let stats = Arc::new(Mutex::new(Seen::default()));
        let (cut_tx, cut_rx) = mpsc::unbounded_channel();
        let home = i % urls.len();
        // Without roaming a client has one node; with it, every node, its own first.
        let nodes: Vec<String> = if roam {
            urls[home..].iter().chain(&urls[..home]).cloned().collect()
        } else {
            vec![urls[home].clone()]
        };
        tasks.push(tokio::spawn(client(
            nodes,
            stats.clone(),
            cut_rx,
            stop.clone(),
            joined_tx.clone(),
            seed.wrapping_add(i as u64 * 7919) | 1,
        )));
        seen.push(stats);
        cutters.push(cut_tx);
    }
    // Everyone is in before the first broadcast: each must then see all of them.
    for _ in 0..clients {
        tokio::time::timeout(Duration::from_secs(60), joined_rx.recv())
            .await
            .map_err(|_| "not every client joined within 60 s".to_string())?;
    }

    let started = Instant::now();
    let sender = tokio::spawn(sender(urls[0].clone(), rate, duration));
    let mut rng = Rng(seed | 1);
    let mut cuts = tokio::time::interval(cut_every);
    cuts.tick().await;
    while started.elapsed() < duration {
        cuts.tick().await;
        let who = rng.below(clients as u64) as usize;
        let cut = match rng.below(3) {
            0 => Cut::Abrupt,
            1 => Cut::Stall(Duration::from_millis(200 + rng.below(2500))),
            _ => Cut::Kick,
        };
        let _ = cutters[who].send(cut);
    }
    let sent = sender.await.map_err(|e| format!("sender task: {e}"))??;
    // Let every client catch up (reconnect, recover, drain) before judging.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(10) {
        let done = seen.iter().all(|s| {
            s.lock()
                .expect("stats lock")
                .seqs
                .last()
                .is_some_and(|&last| last + 1 >= sent)
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }

    let (mut lost, mut duplicated, mut out_of_order, mut deliveries) = (0u64, 0u64, 0u64, 0u64);
    let (mut cuts_abrupt, mut cuts_stall, mut cuts_kick, mut dropped) = (0, 0, 0, 0);
    let (mut recovered, mut not_recovered, mut acks, mut acks_lost) = (0, 0, 0, 0);
    let mut clients_with_loss = 0u64;
    let mut examples = Vec::new();
    for stats in &seen {
        let s = stats.lock().expect("stats lock");
        let unique: HashSet<u64> = s.seqs.iter().copied().collect();
        let missing = (0..sent).filter(|n| !unique.contains(n)).count() as u64;
        lost += missing;
        clients_with_loss += u64::from(missing > 0);
        if missing > 0 && examples.len() < 5 {
            // Where the first gap is, and how the client fared: for the report.
            let first_missing = (0..sent).find(|n| !unique.contains(n));
            examples.push(serde_json::json!({
                "joins": s.joins,
                "recovered": s.recovered,
                "missing": missing,
                "first_missing": first_missing,
                "last_seen": s.seqs.last(),
                "received": s.seqs.len(),
                "state": s.state,
            }));
        }
        duplicated += s.seqs.len() as u64 - unique.len() as u64;
        out_of_order += s.seqs.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        deliveries += s.seqs.len() as u64;
        cuts_abrupt += s.cuts_abrupt;
        cuts_stall += s.cuts_stall;
        cuts_kick += s.cuts_kick;
        dropped += s.dropped_by_server;
        recovered += s.recovered;
        not_recovered += s.not_recovered;
        acks += s.acks;
        acks_lost += s.acks_lost;
    }
    Ok(serde_json::json!({
        "scenario": "soak",
        "nodes": urls.len(),
        "clients": clients,
        "seconds": duration.as_secs_f64(),
        "broadcasts": sent,
        "deliveries": deliveries,
        "cuts": cuts_abrupt + cuts_stall + cuts_kick,
        "cuts_abrupt": cuts_abrupt,
        "cuts_stall": cuts_stall,
        "cuts_kick": cuts_kick,
        "dropped_by_server": dropped,
        "reconnects_recovered": recovered,
        "reconnects_not_recovered": not_recovered,
        "lost": lost,
        "clients_with_loss": clients_with_loss,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "acks": acks,
        "acks_lost_in_cuts": acks_lost,
        "lossy_clients": examples,
    })
    .to_string())
}

/// The verdict on a soak with recovery on (its JSON line's figures): every client got
/// every broadcast exactly once and in order, every reconnect got its session back,
/// and the chaos really happened: broadcasts, acked echoes, cuts of each kind and
/// recovered reconnects, none of them zero (an idle soak loses nothing, and proves
/// nothing).
pub fn judge_with_recovery(figures: &serde_json::Value) -> Result<(), String> {
    let figure = |key: &str| {
        figures[key]
            .as_u64()
            .ok_or_else(|| format!("the soak line has no figure {key:?}"))
    };
    let mut wrong = Vec::new();
    for key in [
        "lost",
        "duplicated",
        "out_of_order",
        "reconnects_not_recovered",
    ] {
        if figure(key)? != 0 {
            wrong.push(format!("{key} is {}", figure(key)?));
        }
    }
    for key in [
        "broadcasts",
        "deliveries",
        "acks",
        "cuts_abrupt",
        "cuts_stall",
        "cuts_kick",
        "reconnects_recovered",
    ] {
        if figure(key)? == 0 {
            wrong.push(format!("no {key}"));
        }
    }
    let expected = figure("broadcasts")? * figure("clients")?;
    if figure("deliveries")? != expected {
        wrong.push(format!(
            "{} deliveries, not broadcasts x clients = {expected}",
            figure("deliveries")?
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join(", "))
    }
}

/// The sender: `broadcast {seq}` at `rate` per second, each acked before it counts.
/// Returns how many broadcasts went out.
async fn sender(url: String, rate: u32, duration: Duration) -> Result<u64, String> {
    let mut socket = Socket::new(Parser::Json);
    let (mut session, _) = Session::open(&url, &mut socket).await?;
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    let started = Instant::now();
    let mut seq = 0u64;
    while started.elapsed() < duration {
        pace.tick().await;
        let payload = Value::Object(vec![("seq".into(), Value::Number(seq.into()))]);
        let (Some(message), Some(id)) = socket.emit("broadcast", vec![payload], true) else {
            return Err("the sender's socket is not joined".into());
        };
        session.send(message).await?;
        // The ack says the server has handed it to every target: the next one follows.
        'acked: loop {
            for output in socket.on_message(session.next_message().await?)? {
                if matches!(output, SocketOutput::Event(SocketEvent::Ack { id: acked, .. }) if acked == id)
                {
                    break 'acked;
                }
            }
        }
        seq += 1;
    }
    Ok(seq)
}

/// One client: joins, reads, echoes, and comes back after each cut.
async fn client(
    nodes: Vec<String>,
    stats: Arc<Mutex<Seen>>,
    mut cuts: mpsc::UnboundedReceiver<Cut>,
    mut stop: watch::Receiver<bool>,
    joined: mpsc::UnboundedSender<()>,
    seed: u64,
) {
    let mut rng = Rng(seed);
    // One socket for every connection: a rejoin names its session and last offset.
    let mut socket = Socket::new(Parser::Json);
    let mut first = true;
    let mut node = 0usize;
    let set = |state: &'static str| stats.lock().expect("stats lock").state = state;
    while !*stop.borrow() {
        set("connecting");
        let url = &nodes[node];
        // Whether the session to recover (if the server offers recovery) is there.
        let rejoin = !first && socket.offered_recovery();
        let (mut session, replayed) = match Session::open(url, &mut socket).await {
            Ok(opened) => opened,
            Err(_) => {
                socket.on_connection_lost("transport error");
                // That node may be down: the next attempt goes to another.
                node = (node + 1) % nodes.len();
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        {
            let mut s = stats.lock().expect("stats lock");
            s.joins += 1;
            if rejoin {
                if socket.recovered() {
                    s.recovered += 1;
                } else {
                    s.not_recovered += 1;
                }
            }
        }
        if first {
            let _ = joined.send(());
            first = false;
        }
        for output in replayed {
            tally(&stats, output);
        }
        let mut echo = tokio::time::interval(Duration::from_millis(100 + rng.below(100)));
        let mut echo_id = 0u64;
        let ended_by_us = loop {
            set("reading");
            tokio::select! {
                // Only the read races the others: what it got is handled whole.
                read = session.read() => match session.handle(read).await {
                    Ok(None) => {}
                    Ok(Some(message)) => match socket.on_message(message) {
                        Ok(outputs) => outputs.into_iter().for_each(|output| tally(&stats, output)),
                        Err(_) => break false,
                    },
                    Err(_) => break false,
                },
                _ = echo.tick() => {
                    set("sending an echo");
                    let (message, _) = socket.emit("echo", vec![Value::Number(echo_id.into())], true);
                    echo_id += 1;
                    if let Some(message) = message {
                        if session.send(message).await.is_err() {
                            break false;
                        }
                    }
                }
                cut = cuts.recv() => match cut {
                    Some(Cut::Abrupt) => {
                        stats.lock().expect("stats lock").cuts_abrupt += 1;
                        break true;
                    }
                    Some(Cut::Stall(pause)) => {
                        stats.lock().expect("stats lock").cuts_stall += 1;
                        // Not reading: what the server sends piles up in its queue.
                        set("stalled");
                        tokio::time::sleep(pause).await;
                    }
                    Some(Cut::Kick) => {
                        stats.lock().expect("stats lock").cuts_kick += 1;
                        let (message, _) = socket.emit("kick", Vec::new(), false);
                        if let Some(message) = message {
                            if session.send(message).await.is_err() {
                                break false;
                            }
                        }
                    }
                    None => return,
                },
                _ = stop.changed() => return,
            }
        };
        // The acks still awaited are lost with the connection.
        for output in socket.on_connection_lost("transport close") {
            tally(&stats, output);
        }
        if !ended_by_us {
            stats.lock().expect("stats lock").dropped_by_server += 1;
        }
        // Dropping the session closes the TCP connection without a WebSocket close.
        drop(session);
        if nodes.len() > 1 {
            node = rng.below(nodes.len() as u64) as usize;
        }
        set("waiting to reconnect");
        tokio::time::sleep(Duration::from_millis(50 + rng.below(150))).await;
    }
}

/// Counts what a client's socket says: broadcasts (by number), acks, acks lost.
fn tally(stats: &Mutex<Seen>, output: SocketOutput) {
    let SocketOutput::Event(event) = output else {
        return;
    };
    let mut s = stats.lock().expect("stats lock");
    match event {
        SocketEvent::Event { name, args, .. } if name == "fanout" => {
            let args = args.values().unwrap_or_default();
            if let Some(Value::Number(n)) = args.first().and_then(|p| p.get("seq")) {
                if let Some(seq) = n.as_u64() {
                    s.seqs.push(seq);
                }
            }
        }
        SocketEvent::Ack { .. } => s.acks += 1,
        SocketEvent::AckDisconnected { .. } => s.acks_lost += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(overrides: &[(&str, u64)]) -> serde_json::Value {
        let mut figures = serde_json::json!({
            "clients": 100, "broadcasts": 200, "deliveries": 20_000,
            "cuts_abrupt": 40, "cuts_stall": 40, "cuts_kick": 40,
            "reconnects_recovered": 70, "reconnects_not_recovered": 0,
            "lost": 0, "duplicated": 0, "out_of_order": 0, "acks": 4000,
        });
        for (key, value) in overrides {
            figures[*key] = (*value).into();
        }
        figures
    }

    #[test]
    fn a_clean_busy_soak_passes() {
        assert_eq!(judge_with_recovery(&figures(&[])), Ok(()));
    }

    #[test]
    fn an_idle_soak_fails() {
        let idle = figures(&[
            ("broadcasts", 0),
            ("deliveries", 0),
            ("cuts_abrupt", 0),
            ("cuts_stall", 0),
            ("cuts_kick", 0),
            ("reconnects_recovered", 0),
            ("acks", 0),
        ]);
        let verdict = judge_with_recovery(&idle).unwrap_err();
        for key in ["broadcasts", "cuts_abrupt", "cuts_stall", "cuts_kick"] {
            assert!(verdict.contains(&format!("no {key}")), "{verdict}");
        }
        assert!(verdict.contains("no reconnects_recovered"), "{verdict}");
    }

    #[test]
    fn each_missing_figure_fails_alone() {
        for key in ["broadcasts", "acks", "cuts_stall", "reconnects_recovered"] {
            assert!(judge_with_recovery(&figures(&[(key, 0)])).is_err(), "{key}");
        }
        for key in [
            "lost",
            "duplicated",
            "out_of_order",
            "reconnects_not_recovered",
        ] {
            assert!(judge_with_recovery(&figures(&[(key, 1)])).is_err(), "{key}");
        }
        assert!(judge_with_recovery(&figures(&[("deliveries", 19_999)])).is_err());
        assert!(judge_with_recovery(&serde_json::json!({})).is_err());
    }
}
