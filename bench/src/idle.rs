//! The `idle` scenario: C sockets connected to `/` and left idle; the server's resident
//! memory (RSS of its pid) before and after, per socket.

use crate::cpu::{rss_kib, CpuSample};
use crate::session::{open_websocket, Session};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::watch;

/// How many connections are opened at once.
const CONCURRENT_OPENS: usize = 100;

/// Runs the scenario and returns its JSON line.
///
/// With `raw`, the sockets are plain WebSockets to the raw echo server.
pub async fn run(
    url: &str,
    raw: bool,
    sockets: usize,
    settle: Duration,
    pid: u32,
) -> Result<String, String> {
    let sockets = sockets.max(1);
    let before = rss_kib(pid)?;
    // CPU over the whole scenario: mostly handshakes, then idle pings.
    let (server_cpu, bench_cpu) = (CpuSample::take(Some(pid))?, CpuSample::take(None)?);
    let (stop_tx, stop) = watch::channel(false);
    let mut holders = Vec::with_capacity(sockets);
    let mut opened = 0;
    while opened < sockets {
        let batch = CONCURRENT_OPENS.min(sockets - opened);
        let mut connecting = Vec::with_capacity(batch);
        for _ in 0..batch {
            let url = url.to_owned();
            connecting.push(tokio::spawn(async move {
                if raw {
                    open_websocket(&url.replacen("http", "ws", 1))
                        .await
                        .map(Held::Raw)
                } else {
                    Session::connect(&url).await.map(Held::SocketIo)
                }
            }));
        }
        for task in connecting {
            let held = task.await.map_err(|e| e.to_string())??;
            holders.push(tokio::spawn(hold(held, stop.clone())));
        }
        opened += batch;
    }
    // Let the server finish what connecting left behind (timers, buffers) first.
    tokio::time::sleep(settle).await;
    let after = rss_kib(pid)?;
    let (server_cpu, bench_cpu) = (server_cpu.percent()?, bench_cpu.percent()?);
    let _ = stop_tx.send(true);
    for holder in holders {
        holder.await.map_err(|e| e.to_string())?;
    }
    Ok(serde_json::json!({
        "scenario": "idle",
        "transport": if raw { "raw" } else { "websocket" },
        "sockets": sockets,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "bytes_per_socket": ((after.saturating_sub(before)) * 1024) / sockets as u64,
        "server_cpu": server_cpu,
        "bench_cpu": bench_cpu,
    })
    .to_string())
}

/// A connection kept open.
enum Held {
    SocketIo(Session),
    Raw(crate::session::Ws),
}

/// Keeps a connection open, answering pings (its engine does), until told to stop.
async fn hold(held: Held, mut stop: watch::Receiver<bool>) {
    match held {
        Held::SocketIo(mut session) => {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    read = session.read() => if session.handle(read).await.is_err() { return },
                }
            }
            session.close().await;
        }
        Held::Raw(mut ws) => {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    read = ws.next() => if !matches!(read, Some(Ok(_))) { return },
                }
            }
            crate::session::close_websocket(ws).await;
        }
    }
}
