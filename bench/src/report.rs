//! What a connection counts while it runs, and the figures made from it.

use std::time::Duration;

/// One connection's count and latencies.
#[derive(Default)]
pub struct Tally {
    /// Acks, echoes or deliveries counted.
    pub count: u64,
    /// Their latencies.
    pub latencies: Latencies,
}

impl Tally {
    /// Counts one with its latency.
    pub fn record(&mut self, latency: Duration) {
        self.count += 1;
        self.latencies.push(latency);
    }
}

/// Latencies in microseconds.
#[derive(Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    /// Adds one latency.
    pub fn push(&mut self, latency: Duration) {
        self.0
            .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    /// All of them together, sorted for percentiles.
    pub fn merge(all: impl IntoIterator<Item = Latencies>) -> Latencies {
        let mut merged: Vec<u32> = all.into_iter().flat_map(|l| l.0).collect();
        merged.sort_unstable();
        Latencies(merged)
    }

    /// How many latencies there are.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The `p` quantile (0..=1) in milliseconds, after [`Latencies::merge`]; 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.0[i]) / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_tallies() {
        let mut a = Tally::default();
        let mut b = Tally::default();
        for ms in [1, 2, 3] {
            a.record(Duration::from_millis(ms));
        }
        for ms in [4, 5] {
            b.record(Duration::from_millis(ms));
        }
        let all = Latencies::merge([a.latencies, b.latencies]);
        assert_eq!(all.percentile(0.0), 1.0);
        assert_eq!(all.percentile(0.5), 3.0);
        assert_eq!(all.percentile(1.0), 5.0);
        assert_eq!(Latencies::default().percentile(0.99), 0.0);
    }
}
