//! CPU time of a process from `/proc`, to tell a server-bound run from one bound by
//! the load generator: each result reports the CPU share of both sides.

use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`; 100 on every
/// Linux seen, but the kernel's ABI says to ask).
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if tck > 0 {
        tck as f64
    } else {
        100.0
    }
}

/// A process's CPU time at one instant.
pub struct CpuSample {
    pid: Option<u32>,
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    /// Samples process `pid`, or this process when `None`.
    pub fn take(pid: Option<u32>) -> CpuSample {
        CpuSample {
            pid,
            ticks: ticks(pid).unwrap_or(0),
            at: Instant::now(),
        }
    }

    /// The share of one core used since this sample, in percent.
    pub fn percent(&self) -> f64 {
        let used = ticks(self.pid)
            .unwrap_or(self.ticks)
            .saturating_sub(self.ticks) as f64;
        let elapsed = self.at.elapsed().as_secs_f64().max(1e-3);
        (used / ticks_per_second() / elapsed * 1000.0).round() / 10.0
    }
}

/// User plus system ticks of a process.
fn ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces: fields are counted after its closing paren.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The resident set size of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let sample = CpuSample::take(None);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(sample.percent() >= 0.0);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
