//! The Engine.IO layer: sessions over HTTP long-polling and WebSocket.
//!
//! [`EngineIo`] answers the Engine.IO HTTP endpoint (handshake, polling GET and POST,
//! WebSocket and the polling-to-WebSocket upgrade) and runs one task per session. The
//! task drives the session's state machine (`ServerSession` from `sockeye-protocol`,
//! which holds the protocol's rules) and hands every message to the [`Connection`] that
//! an [`EngineHandler`] made for it; the upgrade's task drives its `UpgradeProbe`.
//! The Socket.IO layer is one such handler; a bare echo endpoint is another.

mod admission;
mod config;
mod error;
mod gate;
mod http;
mod outbox;
mod session;
mod websocket;
mod ws;

pub use admission::{AllowRequest, ConnectionError, OnConnectionError, Refusal, RequestInfo};
pub use error::EngineError;
pub use session::{CloseReason, EngineSocket, Frame, Message, SendError, Transport};
/// The text of a [`Frame::Text`]: a string that is cheap to clone and share.
pub use tungstenite::Utf8Bytes;

pub use config::{Cors, EngineConfig};
use session::Session;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

/// Makes the per-session [`Connection`] when a client opens a session.
pub trait EngineHandler: Send + Sync + 'static {
    /// The per-session state and logic.
    type Connection: Connection;

    /// A session opened; `socket` sends to it and closes it.
    fn on_open(&self, socket: EngineSocket) -> Self::Connection;
}

/// One session's application side, driven by the session's task.
pub trait Connection: Send + 'static {
    /// A message arrived from the client.
    fn on_message(&mut self, message: Message);

    /// The session closed; no more calls follow.
    fn on_close(&mut self, reason: CloseReason);

    /// The session moved from polling to WebSocket.
    fn on_upgrade(&mut self) {}

    /// Drives work the connection started (for example event handlers in flight).
    /// Called by the session task whenever it wakes. `Ready` means some work finished
    /// (and may have queued frames): the task then looks at its queue again at once.
    /// `Pending` means nothing is left to do now.
    fn poll_work(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// An Engine.IO server: its configuration, handler and live sessions.
pub struct EngineIo<H: EngineHandler> {
    inner: Arc<Inner<H>>,
}

impl<H: EngineHandler> Clone for EngineIo<H> {
    fn clone(&self) -> Self {
        EngineIo {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct Inner<H> {
    pub(crate) config: EngineConfig,
    pub(crate) handler: H,
    pub(crate) sessions: RwLock<HashMap<Arc<str>, Arc<Session>>>,
    /// Wakes `close_all` each time a session ends, and each time a closing handshake
    /// ends.
    pub(crate) session_ended: tokio::sync::Notify,
    /// WebSockets in their closing handshake (`ws::close`), their session already
    /// ended. `close_all` waits for them too: a shutdown must not cut a close frame off.
    pub(crate) closing_sockets: std::sync::atomic::AtomicUsize,
    /// Set by `close_all`: no new sessions from then on, so clients reconnecting during
    /// a graceful shutdown are not handed a session that is about to die.
    pub(crate) closing: std::sync::atomic::AtomicBool,
}

impl<H> Inner<H> {
    /// Counts a WebSocket in its closing handshake until the guard is dropped.
    pub(crate) fn closing_socket(&self) -> ClosingSocket<'_, H> {
        self.closing_sockets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        ClosingSocket(self)
    }
}

/// A WebSocket in its closing handshake, as `close_all` sees it.
pub(crate) struct ClosingSocket<'a, H>(&'a Inner<H>);

impl<H> Drop for ClosingSocket<'_, H> {
    fn drop(&mut self) {
        self.0
            .closing_sockets
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.session_ended.notify_waiters();
    }
}

impl<H: EngineHandler> EngineIo<H> {
    /// An Engine.IO server that hands each new session to `handler`.
    pub fn new(config: EngineConfig, handler: H) -> Self {
        EngineIo {
            inner: Arc::new(Inner {
                config,
                handler,
                sessions: RwLock::new(HashMap::new()),
                session_ended: tokio::sync::Notify::new(),
                closing_sockets: std::sync::atomic::AtomicUsize::new(0),
                closing: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.read().expect("sessions lock").len()
    }

    /// An axum `Router` that serves the endpoint at the configured path, with CORS.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        http::router(self.inner.clone())
    }

    /// Refuses new sessions from now on, closes every session with `reason` (sending
    /// what is queued first) and resolves when all of them have ended, their
    /// WebSockets' closing handshakes included (each bounded by a few seconds).
    pub fn close_all(&self, reason: CloseReason) -> impl Future<Output = ()> + Send + 'static {
        self.inner
            .closing
            .store(true, std::sync::atomic::Ordering::Release);
        let inner = self.inner.clone();
        async move {
            loop {
                let ended = inner.session_ended.notified();
                let sessions: Vec<_> = inner
                    .sessions
                    .read()
                    .expect("sessions lock")
                    .values()
                    .cloned()
                    .collect();
                let closing = inner
                    .closing_sockets
                    .load(std::sync::atomic::Ordering::Acquire);
                if sessions.is_empty() && closing == 0 {
                    return;
                }
                for s in &sessions {
                    s.request_close(reason);
                }
                ended.await;
            }
        }
    }
}
