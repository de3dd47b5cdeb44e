//! The `connect` scenario: W workers each repeat connect → join `/` → close, as fast as
//! the server lets them; reports completed cycles per second, and the server's CPU per
//! cycle.

use crate::cpu::{self, CpuSample};
use crate::session::Session;
use std::time::{Duration, Instant};

/// Runs the scenario and returns its JSON line.
pub async fn run(
    url: &str,
    workers: usize,
    duration: Duration,
    pid: Option<u32>,
) -> Result<String, String> {
    let workers = workers.max(1);
    let server_cpu = CpuSample::server(pid)?;
    let bench_cpu = CpuSample::take(None)?;
    let began = Instant::now();
    let deadline = began + duration;
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut cycles = 0u64;
            while Instant::now() < deadline {
                Session::connect(&url).await?.close().await;
                cycles += 1;
            }
            Ok::<u64, String>(cycles)
        }));
    }
    let mut cycles = 0;
    for task in tasks {
        cycles += task.await.map_err(|e| e.to_string())??;
    }
    let elapsed = began.elapsed().as_secs_f64();
    let (server_used, bench_cpu) = (cpu::used(&server_cpu)?, bench_cpu.percent()?);
    let line = serde_json::json!({
        "scenario": "connect",
        "transport": "websocket",
        "workers": workers,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "cycles": cycles,
        "cycles_per_sec": (cycles as f64 / elapsed).round(),
        "server_cpu": null,
        "bench_cpu": bench_cpu,
    });
    Ok(cpu::with_server_figures(line, server_used, cycles))
}
