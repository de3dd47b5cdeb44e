//! Metrics, recorded through the [`metrics`] facade.
//!
//! The library only records: the application installs a recorder (the `sockeye`
//! binary installs Prometheus's, `--metrics-addr`) and, without one, every call here
//! is a no-op. The names follow Prometheus's conventions (docs/server.md, "Metrics"):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `sockeye_engine_sessions` | gauge | `transport` (`polling`, `websocket`) |
//! | `sockeye_sockets` | gauge | `namespace` |
//! | `sockeye_packets_total` | counter | `direction` (`in`, `out`) |
//! | `sockeye_bytes_total` | counter | `direction` (`in`, `out`) |
//! | `sockeye_volatile_dropped_total` | counter | |
//! | `sockeye_slow_consumer_disconnects_total` | counter | |
//! | `sockeye_ack_timeouts_total` | counter | |
//! | `sockeye_rate_limited_packets_total` | counter | |
//! | `sockeye_rate_limit_pauses_total` | counter | |
//! | `sockeye_handshakes_refused_total` | counter | `reason` |
//!
//! The hot paths (packets and bytes, once per frame batch) use handles looked up once
//! and kept for the process's life: a lookup by name costs a hash and a lock in the
//! recorder, an increment through a handle one atomic add. The handles bind to the
//! recorder installed when they are first used, so an application installs its
//! recorder before it serves.

use ::metrics::{counter, describe_counter, describe_gauge, gauge, Counter, Gauge};
use std::sync::OnceLock;

/// The handles the per-packet and per-session paths use.
struct Handles {
    packets_in: Counter,
    packets_out: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    sessions_polling: Gauge,
    sessions_websocket: Gauge,
    volatile_dropped: Counter,
    slow_consumer_disconnects: Counter,
    ack_timeouts: Counter,
    rate_limited: Counter,
    rate_limit_pauses: Counter,
}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| {
        describe();
        Handles {
            packets_in: counter!("sockeye_packets_total", "direction" => "in"),
            packets_out: counter!("sockeye_packets_total", "direction" => "out"),
            bytes_in: counter!("sockeye_bytes_total", "direction" => "in"),
            bytes_out: counter!("sockeye_bytes_total", "direction" => "out"),
            sessions_polling: gauge!("sockeye_engine_sessions", "transport" => "polling"),
            sessions_websocket: gauge!("sockeye_engine_sessions", "transport" => "websocket"),
            volatile_dropped: counter!("sockeye_volatile_dropped_total"),
            slow_consumer_disconnects: counter!("sockeye_slow_consumer_disconnects_total"),
            ack_timeouts: counter!("sockeye_ack_timeouts_total"),
            rate_limited: counter!("sockeye_rate_limited_packets_total"),
            rate_limit_pauses: counter!("sockeye_rate_limit_pauses_total"),
        }
    })
}

/// The help text of each metric (Prometheus's `# HELP`), told the recorder once.
fn describe() {
    describe_gauge!(
        "sockeye_engine_sessions",
        "Open Engine.IO sessions, by transport"
    );
    describe_gauge!(
        "sockeye_sockets",
        "Connected Socket.IO sockets, by namespace"
    );
    describe_counter!(
        "sockeye_packets_total",
        "Engine.IO packets received (in) and sent (out)"
    );
    describe_counter!(
        "sockeye_bytes_total",
        "Bytes of Engine.IO packets received (in) and sent (out)"
    );
    describe_counter!(
        "sockeye_volatile_dropped_total",
        "Volatile packets dropped because the client had a backlog"
    );
    describe_counter!(
        "sockeye_slow_consumer_disconnects_total",
        "Sessions closed because the client did not keep up"
    );
    describe_counter!(
        "sockeye_ack_timeouts_total",
        "Acknowledgements not received within their timeout (a cluster broadcast's other nodes count once)"
    );
    describe_counter!(
        "sockeye_rate_limited_packets_total",
        "Packets refused by the rate limit"
    );
    describe_counter!(
        "sockeye_rate_limit_pauses_total",
        "Times a socket's rate limit paused its connection's input until its next token"
    );
    describe_counter!(
        "sockeye_handshakes_refused_total",
        "Engine.IO requests refused, by reason"
    );
}

/// Engine.IO packets received from clients (WebSocket frames, records of a polling
/// POST), and their bytes on the wire.
pub(crate) fn packets_in(packets: u64, bytes: u64) {
    let h = handles();
    h.packets_in.increment(packets);
    h.bytes_in.increment(bytes);
    crate::traffic::packets_in(packets, bytes);
}

/// Engine.IO packets sent to clients (WebSocket frames, records of a polling GET's
/// answer, open packets), and their bytes on the wire.
pub(crate) fn packets_out(packets: u64, bytes: u64) {
    let h = handles();
    h.packets_out.increment(packets);
    h.bytes_out.increment(bytes);
    crate::traffic::packets_out(packets, bytes);
}

/// A volatile packet was not queued: its client already had a backlog.
pub(crate) fn volatile_dropped() {
    handles().volatile_dropped.increment(1);
}

/// A session was closed because its client did not keep up: its outbound queue filled
/// up, or a write took no bytes for a heartbeat round.
pub(crate) fn slow_consumer_disconnect() {
    handles().slow_consumer_disconnects.increment(1);
}

/// An `emit_with_ack` got no answer within its timeout.
pub(crate) fn ack_timeout() {
    handles().ack_timeouts.increment(1);
}

/// A packet from a client was refused by the rate limit (`sockeye_rate_limited_packets_total`).
/// For the rate limiter to call, once per refused packet.
pub(crate) fn rate_limited() {
    handles().rate_limited.increment(1);
}

/// A socket's rate limit paused its connection's input (`sockeye_rate_limit_pauses_total`):
/// past a socket's limit nothing is refused, so this is what shows a client being paced.
pub(crate) fn rate_limit_paused() {
    handles().rate_limit_pauses.increment(1);
}

/// An Engine.IO request was refused (`sockeye_handshakes_refused_total{reason}`).
/// `reason` is a short snake_case word from a fixed set (`unknown_transport`,
/// `origin`, ...): every value makes a series of its own, so never pass client input.
/// Refusals are rare, so the series is looked up by name each time.
pub(crate) fn handshake_refused(reason: &'static str) {
    handles(); // the help texts
    counter!("sockeye_handshakes_refused_total", "reason" => reason).increment(1);
}

/// The `sockeye_sockets{namespace}` gauge of one namespace, kept by the namespace.
pub(crate) fn sockets(namespace: &str) -> Gauge {
    handles(); // the help texts
    gauge!("sockeye_sockets", "namespace" => namespace.to_owned())
}

/// One open session in `sockeye_engine_sessions{transport}`: counted when made, moved
/// to `websocket` by [`SessionGauge::upgraded`], uncounted when dropped. The session's
/// task owns it, so the gauge follows the task and cannot drift.
pub(crate) struct SessionGauge {
    websocket: bool,
}

impl SessionGauge {
    /// Counts a session that opened on `websocket` or on polling.
    pub(crate) fn open(websocket: bool) -> SessionGauge {
        Self::of(websocket).increment(1.0);
        crate::traffic::session_opened(websocket);
        SessionGauge { websocket }
    }

    /// The session moved from polling to WebSocket.
    pub(crate) fn upgraded(&mut self) {
        if !self.websocket {
            Self::of(false).decrement(1.0);
            Self::of(true).increment(1.0);
            crate::traffic::session_upgraded();
            self.websocket = true;
        }
    }

    fn of(websocket: bool) -> &'static Gauge {
        let h = handles();
        if websocket {
            &h.sessions_websocket
        } else {
            &h.sessions_polling
        }
    }
}

impl Drop for SessionGauge {
    fn drop(&mut self) {
        Self::of(self.websocket).decrement(1.0);
        crate::traffic::session_dropped(self.websocket);
    }
}
