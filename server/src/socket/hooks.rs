//! What sees a socket's packets besides its handlers: packet middlewares
//! (socket.io's `socket.use`), catch-all listeners (`onAny`, `onAnyOutgoing`), the
//! error handler middlewares report to, and flood control.
//!
//! A socket with none of them pays one atomic load per packet: [`Socket::handler`]
//! goes straight to the event's handler unless something is hooked.

use crate::args::IntoArgs;
use crate::error::{DisconnectReason, EmitError};
use crate::rate_limit::{Flood, Verdict};
use crate::socket::{EventHandler, Socket};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sockeye_protocol::socket::{Args, Packet};
use sockeye_protocol::Value;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// An incoming event as a packet middleware sees it: socket.io's `[event, ...args]`,
/// with the ack the client asked for, if any.
pub struct EventPacket {
    socket: Socket,
    event: String,
    args: Args,
    ack_id: Option<u64>,
}

impl EventPacket {
    /// The event's name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The arguments, as they came (read them with [`Args::deserialize`] or
    /// [`Args::values`]).
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Replaces the arguments the handler will get (a middleware may rewrite the
    /// packet, as in socket.io, where it is the array itself).
    pub fn set_args(&mut self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.args = args.into_args(self.socket.parser())?;
        Ok(())
    }

    /// Whether the client waits for an ack that nobody has sent yet.
    pub fn has_ack(&self) -> bool {
        self.ack_id.is_some()
    }

    /// Answers the client's ack now (socket.io's middleware calling the packet's last
    /// element). The ack is sent once: afterwards the handler sees no ack to answer,
    /// and what it returns is not sent. Does nothing when there is no ack.
    pub fn ack(&mut self, args: impl IntoArgs) -> Result<(), EmitError> {
        let Some(id) = self.ack_id.take() else {
            return Ok(());
        };
        self.socket
            .send_ack(id, args.into_args(self.socket.parser())?)
    }
}

impl std::fmt::Debug for EventPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventPacket")
            .field("event", &self.event)
            .field("args", &self.args)
            .field("ack", &self.ack_id.is_some())
            .finish()
    }
}

/// A packet middleware's refusal (socket.io's `next(err)`): the packet is dropped, and
/// the socket's [`Socket::on_error`] handler gets the error. The client is told
/// nothing unless that handler (or the middleware, with [`EventPacket::ack`]) says so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MiddlewareError {
    /// What went wrong.
    pub message: String,
    /// Extra data for the error handler.
    pub data: Option<Value>,
}

impl MiddlewareError {
    /// The message the built-in flood control reports a dropped packet with.
    pub const RATE_LIMITED: &'static str = "rate limited";

    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        MiddlewareError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data.
    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Whether this is flood control's drop of a packet past a rate limit (the event's
    /// name is in `data`, as `{"event": name}`).
    pub fn is_rate_limited(&self) -> bool {
        self.message == Self::RATE_LIMITED
    }
}

/// Names a catch-all listener, to remove it with [`Socket::off_any`] or
/// [`Socket::off_any_outgoing`] (a Rust closure has no identity to remove it by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

pub(crate) type PacketMiddleware = Arc<
    dyn Fn(Socket, EventPacket) -> BoxFuture<'static, Result<EventPacket, MiddlewareError>>
        + Send
        + Sync,
>;
pub(crate) type AnyListener = Arc<dyn Fn(&Socket, &str, &Args) + Send + Sync>;
pub(crate) type ErrorHandler =
    Arc<dyn Fn(Socket, MiddlewareError) -> BoxFuture<'static, ()> + Send + Sync>;

/// One socket's hooks. `incoming` / `outgoing` are the only fields read when nothing
/// is hooked.
#[derive(Default)]
pub(crate) struct Hooks {
    /// Whether anything must see incoming events before their handler.
    incoming: AtomicBool,
    /// Whether any `on_any_outgoing` listener is set.
    outgoing: AtomicBool,
    middlewares: RwLock<Vec<PacketMiddleware>>,
    any: RwLock<Vec<(ListenerId, AnyListener)>>,
    any_outgoing: RwLock<Vec<(ListenerId, AnyListener)>>,
    error: RwLock<Option<ErrorHandler>>,
    flood: Option<Mutex<Flood>>,
    next_id: AtomicU64,
}

impl Hooks {
    pub(crate) fn new(flood: Option<Flood>) -> Hooks {
        Hooks {
            incoming: AtomicBool::new(flood.is_some()),
            flood: flood.map(Mutex::new),
            ..Hooks::default()
        }
    }

    pub(crate) fn hooked(&self) -> bool {
        self.incoming.load(Ordering::Acquire)
    }

    fn mark_incoming(&self) {
        self.incoming.store(true, Ordering::Release);
    }

    fn id(&self) -> ListenerId {
        ListenerId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn add_middleware(&self, middleware: PacketMiddleware) {
        self.middlewares
            .write()
            .expect("middlewares lock")
            .push(middleware);
        self.mark_incoming();
    }

    pub(crate) fn set_error_handler(&self, handler: ErrorHandler) {
        *self.error.write().expect("error handler lock") = Some(handler);
    }

    pub(crate) fn add_any(&self, listener: AnyListener, prepend: bool) -> ListenerId {
        let id = self.id();
        let mut any = self.any.write().expect("any listeners lock");
        if prepend {
            any.insert(0, (id, listener));
        } else {
            any.push((id, listener));
        }
        self.mark_incoming();
        id
    }

    pub(crate) fn remove_any(&self, id: Option<ListenerId>) {
        let mut any = self.any.write().expect("any listeners lock");
        match id {
            Some(id) => any.retain(|(i, _)| *i != id),
            None => any.clear(),
        }
    }

    pub(crate) fn add_any_outgoing(&self, listener: AnyListener, prepend: bool) -> ListenerId {
        let id = self.id();
        let mut any = self.any_outgoing.write().expect("any listeners lock");
        if prepend {
            any.insert(0, (id, listener));
        } else {
            any.push((id, listener));
        }
        self.outgoing.store(true, Ordering::Release);
        id
    }

    pub(crate) fn remove_any_outgoing(&self, id: Option<ListenerId>) {
        let mut any = self.any_outgoing.write().expect("any listeners lock");
        match id {
            Some(id) => any.retain(|(i, _)| *i != id),
            None => any.clear(),
        }
        self.outgoing.store(!any.is_empty(), Ordering::Release);
    }

    /// Calls the `on_any_outgoing` listeners (a snapshot: a listener may add or remove
    /// listeners, as in socket.io, without a lock held).
    pub(crate) fn notify_outgoing(&self, socket: &Socket, event: &str, args: &Args) {
        if !self.outgoing.load(Ordering::Acquire) {
            return;
        }
        let listeners: Vec<AnyListener> = self
            .any_outgoing
            .read()
            .expect("any listeners lock")
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for listener in listeners {
            listener(socket, event, args);
        }
    }

    pub(crate) fn has_outgoing(&self) -> bool {
        self.outgoing.load(Ordering::Acquire)
    }
}

/// The handler [`Socket::handler`] gives for every event of a hooked socket: flood
/// control, then the `on_any` listeners, then the middlewares, then the event's own
/// handler (socket.io's `onevent` and `dispatch` in that order).
pub(crate) fn hooked_handler() -> EventHandler {
    static HANDLER: std::sync::LazyLock<EventHandler> = std::sync::LazyLock::new(|| {
        Arc::new(
            |socket: Socket, event: &str, args: Args, ack_id: Option<u64>| {
                dispatch(socket, event, args, ack_id)
            },
        )
    });
    HANDLER.clone()
}

fn dispatch(
    socket: Socket,
    event: &str,
    args: Args,
    ack_id: Option<u64>,
) -> BoxFuture<'static, ()> {
    let hooks = &socket.inner.hooks;
    if let Some(flood) = &hooks.flood {
        let engine = &socket.inner.engine;
        let held_back = engine.input_held_back();
        let (verdict, resume_at) = {
            let mut flood = flood.lock().expect("flood lock");
            let verdict = flood.admit(event, Instant::now(), held_back);
            (verdict, flood.resume_at())
        };
        // The socket's bucket is empty: the connection's input waits for its next
        // token, unread (the client's writes wait behind it).
        if let Some(until) = resume_at {
            engine.pause_input(until);
            crate::metrics::rate_limit_paused();
        }
        if verdict != Verdict::Pass {
            return rate_limited(socket, event, ack_id, verdict);
        }
    }
    let any: Vec<AnyListener> = {
        let any = hooks.any.read().expect("any listeners lock");
        any.iter().map(|(_, l)| l.clone()).collect()
    };
    for listener in any {
        if std::panic::catch_unwind(AssertUnwindSafe(|| listener(&socket, event, &args))).is_err() {
            socket.close_after_panic(event);
            return Box::pin(async {});
        }
    }
    let middlewares = hooks.middlewares.read().expect("middlewares lock").clone();
    if middlewares.is_empty() {
        return run_handler(socket, event, args, ack_id);
    }
    let packet = EventPacket {
        socket: socket.clone(),
        event: event.to_owned(),
        args,
        ack_id,
    };
    Box::pin(async move {
        let mut packet = packet;
        for middleware in middlewares {
            let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| {
                middleware(socket.clone(), packet)
            })) {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            match outcome {
                Ok(Ok(next)) => packet = next,
                Ok(Err(error)) => {
                    report(&socket, error).await;
                    return;
                }
                Err(_) => {
                    socket.close_after_panic("middleware");
                    return;
                }
            }
        }
        // socket.io drops a packet that cleared its middlewares after the socket left.
        if !socket.connected() {
            return;
        }
        let EventPacket {
            event,
            args,
            ack_id,
            ..
        } = packet;
        run_handler(socket, &event, args, ack_id).await;
    })
}

fn run_handler(
    socket: Socket,
    event: &str,
    args: Args,
    ack_id: Option<u64>,
) -> BoxFuture<'static, ()> {
    match socket.own_handler(event) {
        Some(handler) => handler(socket, event, args, ack_id),
        None => {
            tracing::trace!(event, "no handler");
            Box::pin(async {})
        }
    }
}

/// Hands a middleware's error to the socket's error handler; without one, a log line
/// (socket.io prints "Missing error handler on `socket`").
async fn report(socket: &Socket, error: MiddlewareError) {
    let handler = socket
        .inner
        .hooks
        .error
        .read()
        .expect("error handler lock")
        .clone();
    match handler {
        Some(handler) => {
            if AssertUnwindSafe(handler(socket.clone(), error))
                .catch_unwind()
                .await
                .is_err()
            {
                socket.close_after_panic("error");
            }
        }
        None => {
            tracing::debug!(sid = %socket.id(), error = %error.message, "packet refused by a middleware (no on_error handler)");
        }
    }
}

/// A packet past a rate limit (an event's; the socket's paces the input instead, so
/// its bucket has a token whenever a packet is read): dropped, its ack answered with
/// `{"error": "rate limited"}`, the error handler told; past the flood limit, the
/// socket disconnected instead (its disconnect handler, not the error handler, hears
/// of it: the socket is gone by then).
fn rate_limited(
    socket: Socket,
    event: &str,
    ack_id: Option<u64>,
    verdict: Verdict,
) -> BoxFuture<'static, ()> {
    tracing::trace!(sid = %socket.id(), event, "packet over the rate limit: dropped");
    crate::metrics::rate_limited();
    if let Some(id) = ack_id {
        let answer = sockeye_protocol::json!({"error": MiddlewareError::RATE_LIMITED});
        match answer.into_args(socket.parser()) {
            Ok(args) => {
                let _ = socket.send_ack(id, args);
            }
            Err(e) => tracing::debug!(error = %e, "rate-limit answer not serializable"),
        }
    }
    if verdict == Verdict::Disconnect {
        tracing::warn!(sid = %socket.id(), ns = %socket.namespace(), event, "flooding past the rate limit: disconnected");
        socket.disconnect_for(DisconnectReason::Flooding);
        return Box::pin(async {});
    }
    let has_handler = socket
        .inner
        .hooks
        .error
        .read()
        .expect("error handler lock")
        .is_some();
    if !has_handler {
        return Box::pin(async {});
    }
    let error = MiddlewareError::new(MiddlewareError::RATE_LIMITED)
        .with_data(sockeye_protocol::json!({"event": event}));
    Box::pin(async move { report(&socket, error).await })
}

/// The outgoing listeners of the sockets a broadcast reached, called after the
/// broadcast let go of its locks (a listener may emit).
pub(crate) fn notify_outgoing_all(sockets: &[Socket], packet: &Packet) {
    if let Packet::Event { name, args, .. } = packet {
        for socket in sockets {
            socket.inner.hooks.notify_outgoing(socket, name, args);
        }
    }
}
