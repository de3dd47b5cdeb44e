//! What the admin UI's dashboard charts (`server_stats`): the open sessions, those on
//! polling, and the sessions opened and closed and packets and bytes moved since the
//! last look. Process-wide, as the metrics are: one server per process is the rule.
//!
//! The session counts are always kept (an atomic add per open, upgrade and close). The
//! traffic is counted only once [`enable`] is called (by `SocketIo::instrument`): until
//! then each batch pays one relaxed load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

static ENABLED: AtomicBool = AtomicBool::new(false);
static SESSIONS: AtomicU64 = AtomicU64::new(0);
static POLLING: AtomicU64 = AtomicU64::new(0);
static OPENED: AtomicU64 = AtomicU64::new(0);
static PACKETS_IN: AtomicU64 = AtomicU64::new(0);
static PACKETS_OUT: AtomicU64 = AtomicU64::new(0);
static BYTES_IN: AtomicU64 = AtomicU64::new(0);
static BYTES_OUT: AtomicU64 = AtomicU64::new(0);
/// Sessions closed, by reason (a handful of fixed words).
static CLOSED: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());

// Read by the admin UI only.
#[cfg_attr(not(feature = "admin-ui"), allow(dead_code))]
/// Starts counting the traffic.
pub(crate) fn enable() {
    ENABLED.store(true, Relaxed);
}

// Read by the admin UI only.
#[cfg_attr(not(feature = "admin-ui"), allow(dead_code))]
/// Open Engine.IO sessions, and those of them still on polling.
pub(crate) fn sessions() -> (u64, u64) {
    (SESSIONS.load(Relaxed), POLLING.load(Relaxed))
}

pub(crate) fn session_opened(websocket: bool) {
    SESSIONS.fetch_add(1, Relaxed);
    if !websocket {
        POLLING.fetch_add(1, Relaxed);
    }
    if ENABLED.load(Relaxed) {
        OPENED.fetch_add(1, Relaxed);
    }
}

pub(crate) fn session_upgraded() {
    POLLING.fetch_sub(1, Relaxed);
}

pub(crate) fn session_dropped(websocket: bool) {
    SESSIONS.fetch_sub(1, Relaxed);
    if !websocket {
        POLLING.fetch_sub(1, Relaxed);
    }
}

/// A session closed for `reason` (engine.io's words: "transport close", ...).
pub(crate) fn session_closed(reason: &'static str) {
    if ENABLED.load(Relaxed) {
        let mut closed = CLOSED.lock().expect("traffic lock");
        match closed.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => closed.push((reason, 1)),
        }
    }
}

pub(crate) fn packets_in(packets: u64, bytes: u64) {
    if ENABLED.load(Relaxed) {
        PACKETS_IN.fetch_add(packets, Relaxed);
        BYTES_IN.fetch_add(bytes, Relaxed);
    }
}

pub(crate) fn packets_out(packets: u64, bytes: u64) {
    if ENABLED.load(Relaxed) {
        PACKETS_OUT.fetch_add(packets, Relaxed);
        BYTES_OUT.fetch_add(bytes, Relaxed);
    }
}

// Read by the admin UI only.
#[cfg_attr(not(feature = "admin-ui"), allow(dead_code))]
/// What happened since the last call, as (type, subtype, count), in the admin UI's
/// words (`rawConnection`, `rawDisconnection` by reason, `packetsIn`, `bytesOut`, ...);
/// counts of zero left out.
pub(crate) fn take() -> Vec<(&'static str, Option<&'static str>, u64)> {
    let mut events = Vec::new();
    for (name, counter) in [
        ("rawConnection", &OPENED),
        ("packetsIn", &PACKETS_IN),
        ("packetsOut", &PACKETS_OUT),
        ("bytesIn", &BYTES_IN),
        ("bytesOut", &BYTES_OUT),
    ] {
        let n = counter.swap(0, Relaxed);
        if n > 0 {
            events.push((name, None, n));
        }
    }
    let closed = std::mem::take(&mut *CLOSED.lock().expect("traffic lock"));
    events.extend(
        closed
            .into_iter()
            .map(|(reason, n)| ("rawDisconnection", Some(reason), n)),
    );
    events
}
