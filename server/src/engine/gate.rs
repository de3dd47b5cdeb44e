//! Backpressure on a session's input: the application asks the session to take no more
//! of the client's input until some instant, and the session's task stops reading.
//!
//! On WebSocket the task leaves the TCP stream unread: the kernel's buffers fill, and
//! the client's writes wait. Over polling it takes no more packets of the POST it holds
//! (and no new POST), and answers that POST only once all its packets are taken, so a
//! client (which sends one POST at a time) waits for the answer. Either way a client
//! that sends faster than the application takes its input is slowed to that pace, and
//! what it sends beyond it costs the server nothing: it is neither read nor decoded.
//! Flood control pauses a connection while a socket's bucket is empty.
//!
//! The gate also says how long the client's input has waited at it without a break:
//! since the first pause after which input was waiting every time the task looked. A
//! client that keeps sending faster than it is read shows as a wait that keeps growing;
//! one that caught up (no input waiting when a pause ended, or when a batch of reads
//! ran dry) resets it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One session's input gate, shared by the session's task (which reads) and its
/// handles (which pause it).
#[derive(Default)]
pub(crate) struct InputGate {
    /// Set by the first pause: a session never paused pays one load per read.
    used: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// No input is taken before this instant.
    until: Option<Instant>,
    /// When the current pause began.
    paused_at: Option<Instant>,
    /// Since when input has waited at the gate without a break.
    held_since: Option<Instant>,
}

impl InputGate {
    fn state(&self) -> Option<std::sync::MutexGuard<'_, State>> {
        if !self.used.load(Ordering::Acquire) {
            return None;
        }
        Some(self.state.lock().expect("input gate lock"))
    }

    /// Takes no input before `until` (a later pause already set wins).
    pub(crate) fn pause(&self, now: Instant, until: Instant) {
        if until <= now {
            return;
        }
        let mut state = self.state.lock().expect("input gate lock");
        self.used.store(true, Ordering::Release);
        if state.until.is_none_or(|u| u < until) {
            state.until = Some(until);
        }
        state.paused_at.get_or_insert(now);
    }

    /// The instant input may be taken again, if that is later than `now`.
    pub(crate) fn paused(&self, now: Instant) -> Option<Instant> {
        self.state()?.until.filter(|&until| until > now)
    }

    /// A pause has ended (`paused` says none now); `backlog` says whether input was
    /// waiting when it did. Returns false if the gate was not paused.
    pub(crate) fn resumed(&self, backlog: bool) -> bool {
        let Some(mut state) = self.state() else {
            return false;
        };
        let paused_at = state.paused_at.take();
        state.until = None;
        if backlog {
            state.held_since = state.held_since.or(paused_at);
        } else {
            state.held_since = None;
        }
        paused_at.is_some()
    }

    /// The reader found no input waiting: the client has caught up.
    pub(crate) fn drained(&self) {
        if let Some(mut state) = self.state() {
            state.held_since = None;
        }
    }

    /// How long input has waited at the gate without a break (zero when it does not).
    pub(crate) fn held_back(&self, now: Instant) -> Duration {
        self.state()
            .and_then(|state| state.held_since)
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_ends_and_the_latest_wins() {
        let gate = InputGate::default();
        let t = Instant::now();
        assert_eq!(gate.paused(t), None);
        gate.pause(t, t + Duration::from_millis(10));
        gate.pause(t, t + Duration::from_millis(5));
        assert_eq!(gate.paused(t), Some(t + Duration::from_millis(10)));
        assert_eq!(gate.paused(t + Duration::from_millis(10)), None);
        // A pause into the past is none.
        gate.resumed(false);
        gate.pause(t + Duration::from_secs(1), t);
        assert_eq!(gate.paused(t), None);
    }

    #[test]
    fn input_held_back_counts_from_the_first_pause_until_the_client_catches_up() {
        let gate = InputGate::default();
        let t = Instant::now();
        let ms = Duration::from_millis;
        gate.pause(t, t + ms(10));
        assert!(gate.resumed(true));
        gate.pause(t + ms(10), t + ms(20));
        assert!(gate.resumed(true));
        assert_eq!(gate.held_back(t + ms(20)), ms(20));
        // A batch of reads ran dry: the client caught up.
        gate.drained();
        assert_eq!(gate.held_back(t + ms(30)), Duration::ZERO);
        // Nothing was waiting when a pause ended: no backlog either.
        gate.pause(t + ms(30), t + ms(40));
        assert!(gate.resumed(false));
        assert_eq!(gate.held_back(t + ms(50)), Duration::ZERO);
    }
}
