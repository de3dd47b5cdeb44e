//! Flood control: token buckets on the events a client sends, per socket and per event.
//!
//! A packet past a limit is dropped before any middleware, catch-all or handler sees
//! it; its ack, if it asked for one, is answered with `{"error": "rate limited"}`. A
//! socket that keeps flooding (more than [`FloodLimit::max_drops`] drops within
//! [`FloodLimit::window`]) is disconnected. `docs/bounds.md` says what a client sees.

use crate::hash::Map;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A token bucket's settings: `burst` packets at once, refilled at `rate` per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    rate: f64,
    burst: u32,
}

impl RateLimit {
    /// `n` packets a second, in bursts of up to `n` (change it with [`RateLimit::burst`]).
    pub fn per_second(n: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(n),
            burst: n.max(1),
        }
    }

    /// `n` packets a minute, in bursts of up to `n`.
    pub fn per_minute(n: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(n) / 60.0,
            burst: n.max(1),
        }
    }

    /// How many packets may come at once after a quiet spell (at least 1).
    pub fn burst(mut self, burst: u32) -> RateLimit {
        self.burst = burst.max(1);
        self
    }

    /// Packets a second, sustained.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The bucket's size.
    pub fn burst_size(&self) -> u32 {
        self.burst
    }
}

/// When a rate-limited socket counts as flooding and is disconnected: more than
/// `max_drops` of its packets dropped within one `window` (a window starts at the first
/// drop after the previous window ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimit {
    /// Drops allowed within a window; one more disconnects.
    pub max_drops: u32,
    /// The window's length.
    pub window: Duration,
}

impl Default for FloodLimit {
    /// 100 drops within 10 seconds: a client past its limit by a little now and then
    /// (a double click, a burst after a reconnect) stays; one that ignores the drops
    /// does not.
    fn default() -> Self {
        FloodLimit {
            max_drops: 100,
            window: Duration::from_secs(10),
        }
    }
}

/// The limits a namespace's sockets get: one over all events and one per event.
#[derive(Debug, Default, Clone)]
pub(crate) struct Limits {
    pub(crate) socket: Option<RateLimit>,
    pub(crate) events: Map<String, RateLimit>,
}

impl Limits {
    pub(crate) fn is_empty(&self) -> bool {
        self.socket.is_none() && self.events.is_empty()
    }
}

/// One bucket: its tokens and when they were last counted.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: &RateLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(limit.burst),
            at: now,
        }
    }

    /// Whether a token is there now (after the refill since the last count).
    fn ready(&mut self, limit: &RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.rate).min(f64::from(limit.burst));
        self.at = now;
        self.tokens >= 1.0
    }
}

/// What [`Flood::admit`] decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limits: handle it.
    Pass,
    /// Past a limit: drop it.
    Drop,
    /// Past a limit, and past the flood limit: drop it and disconnect the socket.
    Disconnect,
}

/// One socket's buckets and drop count.
#[derive(Debug)]
pub(crate) struct Flood {
    limits: Arc<Limits>,
    flood: Option<FloodLimit>,
    socket: Option<Bucket>,
    /// Only events that have a limit get a bucket, so a client cannot grow this map by
    /// inventing event names.
    events: Map<String, Bucket>,
    drops: u32,
    window_start: Instant,
}

impl Flood {
    pub(crate) fn new(limits: Arc<Limits>, flood: Option<FloodLimit>, now: Instant) -> Flood {
        Flood {
            socket: limits.socket.as_ref().map(|l| Bucket::full(l, now)),
            limits,
            flood,
            events: Map::default(),
            drops: 0,
            window_start: now,
        }
    }

    /// Takes a token from the socket's bucket and the event's (both or neither).
    pub(crate) fn admit(&mut self, event: &str, now: Instant) -> Verdict {
        let socket_ok = match (&mut self.socket, &self.limits.socket) {
            (Some(bucket), Some(limit)) => bucket.ready(limit, now),
            _ => true,
        };
        let event_limit = self.limits.events.get(event);
        let event_ok = match event_limit {
            Some(limit) => self
                .events
                .entry(event.to_owned())
                .or_insert_with(|| Bucket::full(limit, now))
                .ready(limit, now),
            None => true,
        };
        if socket_ok && event_ok {
            if let Some(bucket) = &mut self.socket {
                bucket.tokens -= 1.0;
            }
            if event_limit.is_some() {
                if let Some(bucket) = self.events.get_mut(event) {
                    bucket.tokens -= 1.0;
                }
            }
            return Verdict::Pass;
        }
        let Some(flood) = self.flood else {
            return Verdict::Drop;
        };
        // A window starts at the first drop after the last one ended.
        if self.drops == 0 || now.saturating_duration_since(self.window_start) > flood.window {
            self.window_start = now;
            self.drops = 0;
        }
        self.drops += 1;
        if self.drops > flood.max_drops {
            Verdict::Disconnect
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flood(socket: Option<RateLimit>, events: &[(&str, RateLimit)], max_drops: u32) -> Flood {
        let limits = Limits {
            socket,
            events: events.iter().map(|(e, l)| (e.to_string(), *l)).collect(),
        };
        Flood::new(
            Arc::new(limits),
            Some(FloodLimit {
                max_drops,
                window: Duration::from_secs(10),
            }),
            Instant::now(),
        )
    }

    #[test]
    fn a_burst_passes_then_the_rate_refills() {
        let mut f = flood(Some(RateLimit::per_second(10).burst(3)), &[], 1000);
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(f.admit("a", t), Verdict::Pass);
        }
        assert_eq!(f.admit("a", t), Verdict::Drop);
        // 100 ms at 10/s is one token.
        let later = t + Duration::from_millis(100);
        assert_eq!(f.admit("a", later), Verdict::Pass);
        assert_eq!(f.admit("a", later), Verdict::Drop);
        // A long quiet spell refills up to the burst, no more.
        let much_later = t + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(f.admit("a", much_later), Verdict::Pass);
        }
        assert_eq!(f.admit("a", much_later), Verdict::Drop);
    }

    #[test]
    fn an_event_limit_leaves_other_events_alone() {
        let mut f = flood(None, &[("chat", RateLimit::per_second(1))], 1000);
        let t = Instant::now();
        assert_eq!(f.admit("chat", t), Verdict::Pass);
        assert_eq!(f.admit("chat", t), Verdict::Drop);
        for _ in 0..100 {
            assert_eq!(f.admit("move", t), Verdict::Pass);
        }
    }

    #[test]
    fn a_drop_by_one_bucket_takes_no_token_from_the_other() {
        let mut f = flood(
            Some(RateLimit::per_second(1).burst(2)),
            &[("chat", RateLimit::per_second(1))],
            1000,
        );
        let t = Instant::now();
        assert_eq!(f.admit("chat", t), Verdict::Pass);
        // The event's bucket is empty: the socket's keeps its second token.
        assert_eq!(f.admit("chat", t), Verdict::Drop);
        assert_eq!(f.admit("other", t), Verdict::Pass);
        assert_eq!(f.admit("other", t), Verdict::Drop);
    }

    #[test]
    fn sustained_drops_disconnect_and_drops_in_old_windows_do_not_count() {
        let mut f = flood(Some(RateLimit::per_second(1)), &[], 3);
        let t = Instant::now();
        assert_eq!(f.admit("a", t), Verdict::Pass);
        for _ in 0..3 {
            assert_eq!(f.admit("a", t), Verdict::Drop);
        }
        // Eleven seconds on, a new window: three more drops are allowed again.
        let next = t + Duration::from_secs(11);
        assert_eq!(f.admit("a", next), Verdict::Pass);
        for _ in 0..3 {
            assert_eq!(f.admit("a", next), Verdict::Drop);
        }
        assert_eq!(f.admit("a", next), Verdict::Disconnect);
    }

    #[test]
    fn unknown_events_get_no_bucket() {
        let mut f = flood(None, &[("chat", RateLimit::per_second(1))], 3);
        let t = Instant::now();
        for i in 0..1000 {
            f.admit(&format!("e{i}"), t);
        }
        assert!(f.events.is_empty());
    }
}
