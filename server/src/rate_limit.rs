//! Flood control: token buckets on the events a client sends, per socket and per event.
//!
//! The socket's bucket paces the connection: when it runs empty, the connection's
//! input is paused until the bucket has a token again (the Engine.IO session stops
//! reading it: [`EngineSocket::pause_input`](crate::engine::EngineSocket::pause_input)),
//! so a client sending faster than its limit is slowed to it, and what it sends beyond
//! it is neither read nor decoded. A socket whose input stays held back for a whole
//! [`FloodLimit::window`] is disconnected.
//!
//! An event's bucket drops: a packet past it is dropped before any middleware,
//! catch-all or handler sees it, and its ack, if it asked for one, is answered with
//! `{"error": "rate limited"}` (pausing the whole connection for one event would hold
//! back its other events). A socket with more than [`FloodLimit::max_drops`] drops
//! within a window is disconnected. `docs/bounds.md` says what a client sees.

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

/// When a rate-limited socket counts as flooding and is disconnected: its input held
/// back by its socket limit for a whole `window` without a break (it kept sending
/// faster than its limit all that time), or more than `max_drops` of its packets
/// dropped by event limits within one `window` (a window starts at the first drop
/// after the previous window ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimit {
    /// Drops (by event limits) allowed within a window; one more disconnects.
    pub max_drops: u32,
    /// The window's length; also how long a socket's input may stay held back.
    pub window: Duration,
}

impl Default for FloodLimit {
    /// 100 drops within 10 seconds, or input held back for 10 seconds: a client past
    /// its limit by a little now and then (a double click, a burst after a reconnect)
    /// stays; one that ignores the limit does not.
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

    /// When the bucket has a token again, if it has none as last counted.
    fn refilled_at(&self, limit: &RateLimit) -> Option<Instant> {
        if self.tokens >= 1.0 {
            return None;
        }
        // A microsecond more, so that rounding cannot leave the token a hair short; a
        // bucket that never refills waits a day (the heartbeat ends that connection).
        let wait = (1.0 - self.tokens) / limit.rate + 1e-6;
        let wait = Duration::try_from_secs_f64(wait)
            .unwrap_or(NEVER)
            .min(NEVER);
        Some(self.at + wait)
    }
}

/// The longest pause a bucket asks for.
const NEVER: Duration = Duration::from_secs(86_400);

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
    /// Whether the socket's bucket ran empty at the last packet (and so paused the
    /// connection's input).
    pausing: bool,
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
            pausing: false,
        }
    }

    /// When the connection's input may be taken again: set while the socket's bucket
    /// is empty, at the instant it has a token again.
    pub(crate) fn resume_at(&self) -> Option<Instant> {
        match (&self.socket, &self.limits.socket) {
            (Some(bucket), Some(limit)) => bucket.refilled_at(limit),
            _ => None,
        }
    }

    /// Takes a token from the socket's bucket and the event's (both or neither).
    /// `held_back` is how long the connection's input has waited on pauses without a
    /// break ([`Flood::resume_at`]).
    pub(crate) fn admit(&mut self, event: &str, now: Instant, held_back: Duration) -> Verdict {
        if let Some(flood) = self.flood {
            // The pauses this socket asked for held the client back for a whole
            // window: it keeps sending faster than its limit.
            if self.pausing && held_back >= flood.window {
                return Verdict::Disconnect;
            }
        }
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
            self.pausing = self.resume_at().is_some();
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
            assert_eq!(f.admit("a", t, Duration::ZERO), Verdict::Pass);
        }
        assert_eq!(f.admit("a", t, Duration::ZERO), Verdict::Drop);
        // 100 ms at 10/s is one token.
        let later = t + Duration::from_millis(100);
        assert_eq!(f.admit("a", later, Duration::ZERO), Verdict::Pass);
        assert_eq!(f.admit("a", later, Duration::ZERO), Verdict::Drop);
        // A long quiet spell refills up to the burst, no more.
        let much_later = t + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(f.admit("a", much_later, Duration::ZERO), Verdict::Pass);
        }
        assert_eq!(f.admit("a", much_later, Duration::ZERO), Verdict::Drop);
    }

    #[test]
    fn an_event_limit_leaves_other_events_alone() {
        let mut f = flood(None, &[("chat", RateLimit::per_second(1))], 1000);
        let t = Instant::now();
        assert_eq!(f.admit("chat", t, Duration::ZERO), Verdict::Pass);
        assert_eq!(f.admit("chat", t, Duration::ZERO), Verdict::Drop);
        for _ in 0..100 {
            assert_eq!(f.admit("move", t, Duration::ZERO), Verdict::Pass);
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
        assert_eq!(f.admit("chat", t, Duration::ZERO), Verdict::Pass);
        // The event's bucket is empty: the socket's keeps its second token.
        assert_eq!(f.admit("chat", t, Duration::ZERO), Verdict::Drop);
        assert_eq!(f.admit("other", t, Duration::ZERO), Verdict::Pass);
        assert_eq!(f.admit("other", t, Duration::ZERO), Verdict::Drop);
    }

    #[test]
    fn sustained_drops_disconnect_and_drops_in_old_windows_do_not_count() {
        let mut f = flood(Some(RateLimit::per_second(1)), &[], 3);
        let t = Instant::now();
        assert_eq!(f.admit("a", t, Duration::ZERO), Verdict::Pass);
        for _ in 0..3 {
            assert_eq!(f.admit("a", t, Duration::ZERO), Verdict::Drop);
        }
        // Eleven seconds on, a new window: three more drops are allowed again.
        let next = t + Duration::from_secs(11);
        assert_eq!(f.admit("a", next, Duration::ZERO), Verdict::Pass);
        for _ in 0..3 {
            assert_eq!(f.admit("a", next, Duration::ZERO), Verdict::Drop);
        }
        assert_eq!(f.admit("a", next, Duration::ZERO), Verdict::Disconnect);
    }

    #[test]
    fn an_empty_socket_bucket_says_when_it_has_a_token_again() {
        let mut f = flood(Some(RateLimit::per_second(10).burst(2)), &[], 1000);
        let t = Instant::now();
        assert_eq!(f.admit("a", t, Duration::ZERO), Verdict::Pass);
        assert_eq!(f.resume_at(), None);
        assert_eq!(f.admit("a", t, Duration::ZERO), Verdict::Pass);
        // Empty: one token comes back in 100 ms.
        let at = f.resume_at().expect("a pause");
        let wait = at - t;
        assert!(wait >= Duration::from_millis(100) && wait < Duration::from_millis(101));
        // At that instant the token is there.
        assert_eq!(f.admit("a", at, Duration::ZERO), Verdict::Pass);
        // An event's bucket never pauses the connection.
        let mut f = flood(None, &[("chat", RateLimit::per_second(1))], 1000);
        assert_eq!(f.admit("chat", t, Duration::ZERO), Verdict::Pass);
        assert_eq!(f.resume_at(), None);
    }

    #[test]
    fn input_held_back_for_a_window_disconnects_the_socket_that_paused_it() {
        let mut f = flood(Some(RateLimit::per_second(10).burst(1)), &[], 1000);
        let t = Instant::now();
        let window = Duration::from_secs(10);
        // Held back for a window, but this socket's bucket was not what paused it.
        assert_eq!(f.admit("a", t, window), Verdict::Pass);
        // Now it is: its bucket ran empty at the last packet.
        let at = f.resume_at().expect("a pause");
        assert_eq!(
            f.admit("a", at, window - Duration::from_millis(1)),
            Verdict::Pass
        );
        let at = f.resume_at().expect("a pause");
        assert_eq!(f.admit("a", at, window), Verdict::Disconnect);
    }

    #[test]
    fn unknown_events_get_no_bucket() {
        let mut f = flood(None, &[("chat", RateLimit::per_second(1))], 3);
        let t = Instant::now();
        for i in 0..1000 {
            f.admit(&format!("e{i}"), t, Duration::ZERO);
        }
        assert!(f.events.is_empty());
    }
}
