//! CPU time of a process from `/proc`, to tell a server-bound run from one bound by
//! the load generator (each result reports the CPU share of both sides), and to say
//! what the server spent per message: `/proc/<pid>/stat`'s utime + stime, which for a
//! process cover all its threads (those already gone too), taken at both ends of the
//! measured window. The kernel counts them in clock ticks (10 ms at 100 Hz): over a
//! 3 s window at full load that is ±0.3 %.

use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`; 100 on every
/// Linux seen, but the kernel's ABI says to ask).
fn ticks_per_second() -> Result<f64, String> {
    // SAFETY: sysconf only reads a configuration value.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if tck > 0 {
        Ok(tck as f64)
    } else {
        Err("cannot read the clock tick rate (sysconf(_SC_CLK_TCK))".into())
    }
}

/// A process's CPU time at one instant.
pub struct CpuSample {
    pid: Option<u32>,
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    /// Samples process `pid`, or this process when `None`. A process whose CPU time
    /// cannot be read (gone, no `/proc`) is an error: a share of 0 would be a lie.
    pub fn take(pid: Option<u32>) -> Result<CpuSample, String> {
        Ok(CpuSample {
            pid,
            ticks: ticks(pid)?,
            at: Instant::now(),
        })
    }

    /// Samples the server when its pid is known; `None` (no figure) otherwise.
    pub fn server(pid: Option<u32>) -> Result<Option<CpuSample>, String> {
        pid.map(|pid| CpuSample::take(Some(pid))).transpose()
    }

    /// The share of one core used since this sample, in percent.
    pub fn percent(&self) -> Result<f64, String> {
        Ok(self.used()?.percent())
    }

    /// The CPU time used since this sample, and the time since: a second sample.
    pub fn used(&self) -> Result<CpuUsed, String> {
        let used = ticks(self.pid)?.saturating_sub(self.ticks) as f64;
        Ok(CpuUsed {
            seconds: used / ticks_per_second()?,
            elapsed: self.at.elapsed().as_secs_f64(),
        })
    }
}

/// What a sample that may be absent used since (`None` stays `None`).
pub fn used(sample: &Option<CpuSample>) -> Result<Option<CpuUsed>, String> {
    sample.as_ref().map(CpuSample::used).transpose()
}

/// A process's CPU time over a window.
#[derive(Debug, Clone, Copy)]
pub struct CpuUsed {
    /// CPU seconds (user + system, all threads).
    pub seconds: f64,
    /// Wall-clock seconds of the window.
    pub elapsed: f64,
}

impl CpuUsed {
    /// The share of one core, in percent (one decimal).
    pub fn percent(&self) -> f64 {
        (self.seconds / self.elapsed.max(1e-3) * 1000.0).round() / 10.0
    }

    /// Microseconds of CPU per message, for `messages` counted in the same window
    /// (three decimals); `None` when none was counted.
    pub fn micros_per(&self, messages: u64) -> Option<f64> {
        (messages > 0).then(|| (self.seconds * 1e9 / messages as f64).round() / 1000.0)
    }
}

/// The server's figures of a result line, from its CPU time over the window in which
/// `messages` were counted: `server_cpu` (% of one core), `server_cpu_s` (CPU seconds)
/// and `server_us_per_msg` (µs of CPU per message); all null without a pid.
pub fn server_figures(
    used: Option<CpuUsed>,
    messages: u64,
) -> [(&'static str, serde_json::Value); 3] {
    [
        ("server_cpu", used.map(|u| u.percent()).into()),
        (
            "server_cpu_s",
            used.map(|u| (u.seconds * 1000.0).round() / 1000.0).into(),
        ),
        (
            "server_us_per_msg",
            used.and_then(|u| u.micros_per(messages)).into(),
        ),
    ]
}

/// Adds [`server_figures`] to a result line (a JSON object).
pub fn with_server_figures(
    mut line: serde_json::Value,
    used: Option<CpuUsed>,
    messages: u64,
) -> String {
    if let Some(object) = line.as_object_mut() {
        for (key, value) in server_figures(used, messages) {
            object.insert(key.to_owned(), value);
        }
    }
    line.to_string()
}

/// The `stat` file of a process.
fn stat_path(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    }
}

/// User plus system ticks of a process.
fn ticks(pid: Option<u32>) -> Result<u64, String> {
    let path = stat_path(pid);
    let whose = pid.map_or("this process".to_owned(), |pid| format!("process {pid}"));
    let stat = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the CPU time of {whose} ({path}): {e}"))?;
    parse_ticks(&stat).ok_or_else(|| format!("cannot parse the CPU time in {path}: {stat:?}"))
}

/// utime + stime of a `/proc/*/stat` line.
fn parse_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces: fields are counted after its closing paren.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The resident set size of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the memory of process {pid} ({path}): {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no VmRSS in {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let sample = CpuSample::take(None).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(sample.percent().unwrap() >= 0.0);
        let used = sample.used().unwrap();
        assert!(used.seconds >= 0.0 && used.elapsed > 0.0);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn figures_per_message() {
        let used = CpuUsed {
            seconds: 2.5,
            elapsed: 3.0,
        };
        assert_eq!(used.percent(), 83.3);
        assert_eq!(used.micros_per(1_000_000), Some(2.5));
        assert_eq!(used.micros_per(3), Some(833_333.333));
        assert_eq!(used.micros_per(0), None);
        let line = with_server_figures(serde_json::json!({"acks": 3}), Some(used), 5_000_000);
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(line["server_cpu"], 83.3);
        assert_eq!(line["server_cpu_s"], 2.5);
        assert_eq!(line["server_us_per_msg"], 0.5);
        let line = with_server_figures(serde_json::json!({}), None, 5);
        assert!(line.contains("\"server_us_per_msg\":null"), "{line}");
    }

    #[test]
    fn an_unreadable_process_is_an_error() {
        // Above the kernel's pid_max (at most 2^22): never a process.
        let gone = 1 << 30;
        let err = CpuSample::take(Some(gone)).err().expect("an error");
        assert!(err.contains(&format!("/proc/{gone}/stat")), "{err}");
        assert!(rss_kib(gone).is_err());
        assert!(CpuSample::server(None).unwrap().is_none());
        assert!(CpuSample::server(Some(gone)).is_err());
        assert!(used(&None).unwrap().is_none());
    }

    #[test]
    fn parses_stat_lines() {
        let line = "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_ticks(line), Some(300));
        assert_eq!(parse_ticks("42 (cut"), None);
        assert_eq!(parse_ticks("42 (x) S 1 2"), None);
    }
}
