//! A client's membership in one namespace: the `socket` of socket.io.

pub(crate) mod hooks;
pub(crate) mod observer;

use crate::adapter::{BroadcastOptions, Room, Sid};
use crate::args::{IntoAck, IntoArgs};
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::engine::{EngineSocket, Frame};
use crate::error::{AckError, DisconnectReason, EmitError};
use crate::hash::Map;
use crate::namespace::Namespace;
use crate::namespace::NsInner;
use crate::socket::hooks::{
    AnyListener, ErrorHandler, EventPacket, Hooks, ListenerId, MiddlewareError, PacketMiddleware,
};
use crate::Handshake;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sockeye_protocol::engine::PacketType as EnginePacketType;
use sockeye_protocol::event::{Event, Request};
use sockeye_protocol::socket::{Args, FromArgs, Packet, Parser, RESERVED_EVENTS};
use sockeye_protocol::Value;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// A registered handler: called with the socket, the event's name, its arguments and
/// its ack id.
pub(crate) type EventHandler =
    Arc<dyn Fn(Socket, &str, Args, Option<u64>) -> BoxFuture<'static, ()> + Send + Sync>;
type DisconnectHandler =
    Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<'static, ()> + Send + Sync>;

/// The namespaces one Engine.IO connection has joined, by namespace name.
#[derive(Default)]
pub(crate) struct ConnSockets {
    pub(crate) by_namespace: Mutex<Map<String, Socket>>,
    /// The connect timeout's timer: aborted at the first join or at the close, so
    /// that a connected socket does not carry a sleeping task.
    pub(crate) join_timer: Mutex<Option<tokio::task::AbortHandle>>,
}

impl ConnSockets {
    /// Makes every socket of the connection leave, for `reason`.
    pub(crate) fn close_all(&self, reason: DisconnectReason) {
        let sockets: Vec<Socket> = self
            .by_namespace
            .lock()
            .expect("conn sockets lock")
            .values()
            .cloned()
            .collect();
        for socket in sockets {
            socket.close(reason);
        }
    }

    /// Stops the connect timeout's timer, if it still runs.
    pub(crate) fn stop_join_timer(&self) {
        if let Some(timer) = self.join_timer.lock().expect("join timer lock").take() {
            timer.abort();
        }
    }
}

/// One client in one namespace. Cheap to clone; every clone is the same socket.
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    pub(crate) id: Sid,
    /// The private session id of connection state recovery (only when it is on).
    pub(crate) pid: Option<Sid>,
    recovered: AtomicBool,
    pub(crate) ns: Arc<NsInner>,
    pub(crate) engine: EngineSocket,
    auth: Value,
    handlers: RwLock<Map<String, EventHandler>>,
    disconnect_handler: Mutex<Option<DisconnectHandler>>,
    acks: Mutex<Map<u64, oneshot::Sender<Args>>>,
    next_ack_id: AtomicU64,
    extensions: Mutex<http::Extensions>,
    data: Mutex<Value>,
    connected: AtomicBool,
    conn: Weak<ConnSockets>,
    /// Packet middlewares, catch-alls and flood control.
    pub(crate) hooks: Hooks,
}

/// Encodes a Socket.IO packet once, in the server's parser's format, into the frame
/// every recipient gets.
pub(crate) fn frame_of(parser: Parser, packet: &Packet) -> Frame {
    if parser == Parser::MsgPack {
        return Frame::Binary(sockeye_protocol::socket::msgpack::encode(packet).into());
    }
    // An Engine.IO message carrying the Socket.IO packet.
    let encoded = packet.encode_with_prefix(EnginePacketType::Message.bare());
    if encoded.attachments.is_empty() {
        return Frame::Text(encoded.text.into());
    }
    let mut frames = Vec::with_capacity(1 + encoded.attachments.len());
    frames.push(Frame::Text(encoded.text.into()));
    frames.extend(encoded.attachments.into_iter().map(Frame::Binary));
    Frame::Group(frames.into())
}

pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

impl Socket {
    /// A new socket; `restored` gives it the id and private id of a recovered session.
    pub(crate) fn new(
        ns: Arc<NsInner>,
        engine: EngineSocket,
        auth: Value,
        conn: Weak<ConnSockets>,
        restored: Option<(Sid, Sid)>,
    ) -> Socket {
        let recovered = restored.is_some();
        let (id, pid) = match restored {
            Some((sid, pid)) => (sid, Some(pid)),
            None => (
                Sid::from(crate::id::generate()),
                ns.recovery
                    .is_some()
                    .then(|| Sid::from(crate::id::generate())),
            ),
        };
        let flood = ns
            .handlers
            .limits(ns.shared.config.rate_limit)
            .map(|limits| {
                crate::rate_limit::Flood::new(
                    limits,
                    ns.shared.config.flood_limit,
                    std::time::Instant::now(),
                )
            });
        Socket {
            inner: Arc::new(SocketInner {
                hooks: Hooks::new(flood),
                id,
                pid,
                recovered: AtomicBool::new(recovered),
                ns,
                engine,
                auth,
                handlers: RwLock::new(Map::default()),
                disconnect_handler: Mutex::new(None),
                acks: Mutex::new(Map::default()),
                next_ack_id: AtomicU64::new(0),
                extensions: Mutex::new(http::Extensions::new()),
                data: Mutex::new(Value::Object(Vec::new())),
                connected: AtomicBool::new(false),
                conn,
            }),
        }
    }

    /// The socket id (distinct from the Engine.IO session id).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.inner.ns.name
    }

    /// The `auth` payload the client sent when it joined (`{}` when it sent none).
    pub fn auth(&self) -> &Value {
        &self.inner.auth
    }

    /// The HTTP request that opened the connection.
    pub fn handshake(&self) -> &Handshake {
        self.inner.engine.handshake()
    }

    /// The Engine.IO session id of the underlying connection.
    pub fn engine_sid(&self) -> &str {
        self.inner.engine.sid()
    }

    /// The transport the connection uses now.
    pub fn transport(&self) -> crate::engine::Transport {
        self.inner.engine.transport()
    }

    /// Whether this socket is a recovered session (connection state recovery): same id,
    /// rooms and data as before the cut, with the missed packets sent.
    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    /// The session could not be given back after all (it expired while the client
    /// joined): the socket keeps its id but starts afresh.
    pub(crate) fn not_recovered(&self) {
        self.inner.recovered.store(false, Ordering::Release);
    }

    /// Whether the socket is still in its namespace.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Handles `event`. The handler gets the socket and the arguments as its own type
    /// `A`: a tuple with one serde type per argument (`(String, u32)`, `(T,)` for one,
    /// `()` for none), `Vec<Value>` for all of them as values, or [`Args`] to keep them
    /// as they came (to forward them without parsing). The arguments are parsed once,
    /// straight from the packet. What the handler returns is sent as the ack when the
    /// client asked for one (return `()` for no ack).
    ///
    /// Arguments that do not fit `A` are a bad packet: as socket.io does with a packet
    /// it cannot decode, the connection is closed ("parse error"), with one log line.
    /// A handler that panics ends its own connection the same way ("io server
    /// disconnect" for the client); every other connection goes on.
    ///
    /// Handlers of one socket start in the order events arrive and run concurrently
    /// once they wait on something.
    pub fn on<A, F, Fut, R>(&self, event: &str, handler: F)
    where
        A: FromArgs + Send + 'static,
        F: Fn(Socket, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoAck + 'static,
    {
        let handler: EventHandler = Arc::new(move |socket: Socket, event: &str, args, ack_id| {
            let args = match A::from_args(args) {
                Ok(args) => args,
                Err(e) => {
                    tracing::info!(sid = %socket.id(), event, error = %e, "arguments do not fit the handler: closing");
                    socket.close_for_bad_packet();
                    return Box::pin(async {});
                }
            };
            let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| {
                handler(socket.clone(), args)
            })) {
                Ok(fut) => fut,
                Err(_) => {
                    socket.close_after_panic(event);
                    return Box::pin(async {});
                }
            };
            Box::pin(async move {
                let Ok(answer) = AssertUnwindSafe(fut).catch_unwind().await else {
                    socket.close_after_panic("");
                    return;
                };
                let ack = answer.into_ack(socket.parser());
                let (Some(id), Some(ack)) = (ack_id, ack) else {
                    return;
                };
                let args = match ack {
                    Ok(args) => args,
                    Err(e) => {
                        tracing::warn!(sid = %socket.id(), error = %e, "ack not serializable: not sent");
                        return;
                    }
                };
                if let Err(e) = socket.send_ack(id, args) {
                    tracing::debug!(sid = %socket.id(), error = %e, "ack not sent");
                }
            })
        });
        self.inner
            .handlers
            .write()
            .expect("handlers lock")
            .insert(event.to_owned(), handler);
    }

    /// Handles the typed event `E` (the same type a Sockeye client emits), as
    /// [`Socket::on`] with `E::Args`.
    pub fn on_event<E, F, Fut>(&self, handler: F)
    where
        E: Event + 'static,
        E::Args: Send,
        F: Fn(Socket, E::Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on(E::NAME, handler);
    }

    /// Handles the typed request `E`: what the handler returns is the ack.
    pub fn on_request<E, F, Fut>(&self, handler: F)
    where
        E: Request + 'static,
        E::Args: Send,
        E::Ack: Send,
        F: Fn(Socket, E::Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = E::Ack> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.on(E::NAME, move |socket, args: E::Args| {
            let answer = handler(socket, args);
            async move { Some(Typed(answer.await)) }
        });
    }

    /// Sends the typed event `E` to this client.
    pub fn emit_event<E: Event>(&self, args: E::Args) -> Result<(), EmitError> {
        self.emit(E::NAME, Typed(args))
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        self.inner
            .handlers
            .write()
            .expect("handlers lock")
            .remove(event);
    }

    /// Called once when the socket leaves its namespace, with the reason.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: DisconnectHandler =
            Arc::new(move |socket, reason| Box::pin(handler(socket, reason)));
        *self
            .inner
            .disconnect_handler
            .lock()
            .expect("disconnect handler lock") = Some(handler);
    }

    /// Adds a packet middleware (socket.io's `socket.use`): it runs for every event the
    /// client sends, before the event's handler, in the order middlewares were added.
    /// It gets the [`EventPacket`] (name, arguments, ack) and passes it on with
    /// `Ok(packet)`, possibly changed, or refuses it with `Err`: the packet is dropped,
    /// the later middlewares and the handler do not run, and the [`Socket::on_error`]
    /// handler gets the error. As in socket.io, the socket stays connected and the
    /// client is told nothing (its ack is not answered) unless the error handler
    /// disconnects it or the middleware answers with [`EventPacket::ack`].
    ///
    /// Acks the client sends back are not events and do not go through middlewares. The
    /// `on_any` listeners run before the middlewares, as in socket.io.
    pub fn middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket, EventPacket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<EventPacket, MiddlewareError>> + Send + 'static,
    {
        let middleware: PacketMiddleware =
            Arc::new(move |socket, packet| Box::pin(middleware(socket, packet)));
        self.inner.hooks.add_middleware(middleware);
    }

    /// Handles the errors packet middlewares refuse packets with (socket.io's
    /// `socket.on("error")`), and the drops of flood control
    /// ([`MiddlewareError::is_rate_limited`]; not the drop that disconnects the
    /// socket for flooding, which its disconnect handler hears of). Replaces the
    /// previous handler. Without one, a refusal is a debug log line.
    ///
    /// An event the client itself names `"error"` is an ordinary event: it goes to
    /// `socket.on("error", ..)`, not here.
    pub fn on_error<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, MiddlewareError) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ErrorHandler = Arc::new(move |socket, error| Box::pin(handler(socket, error)));
        self.inner.hooks.set_error_handler(handler);
    }

    /// Adds a catch-all listener (socket.io's `socket.onAny`): called with the name and
    /// arguments of every event the client sends, whether or not it has a handler,
    /// before the packet middlewares. Not called for acks, nor for packets dropped by
    /// flood control. It runs on the connection's task: keep it short (spawn anything
    /// that waits).
    pub fn on_any<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        let listener: AnyListener = Arc::new(listener);
        self.inner.hooks.add_any(listener, false)
    }

    /// Like [`Socket::on_any`], called before the listeners added so far (socket.io's
    /// `prependAny`).
    pub fn prepend_any<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        let listener: AnyListener = Arc::new(listener);
        self.inner.hooks.add_any(listener, true)
    }

    /// Removes one catch-all listener (socket.io's `offAny(listener)`).
    pub fn off_any(&self, id: ListenerId) {
        self.inner.hooks.remove_any(Some(id));
    }

    /// Removes every catch-all listener (socket.io's `offAny()`).
    pub fn off_any_all(&self) {
        self.inner.hooks.remove_any(None);
    }

    /// Adds a listener of every event sent to this client (socket.io's
    /// `socket.onAnyOutgoing`): emits on this socket, with or without an ack, volatile
    /// or not, and every broadcast that reaches it, from this node or another. Not
    /// called for the acks the server answers with. It runs in the emitter's call:
    /// keep it short.
    pub fn on_any_outgoing<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        let listener: AnyListener = Arc::new(listener);
        self.inner.hooks.add_any_outgoing(listener, false)
    }

    /// Like [`Socket::on_any_outgoing`], called before the listeners added so far
    /// (socket.io's `prependAnyOutgoing`).
    pub fn prepend_any_outgoing<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        let listener: AnyListener = Arc::new(listener);
        self.inner.hooks.add_any_outgoing(listener, true)
    }

    /// Removes one outgoing catch-all listener (socket.io's `offAnyOutgoing(listener)`).
    pub fn off_any_outgoing(&self, id: ListenerId) {
        self.inner.hooks.remove_any_outgoing(Some(id));
    }

    /// Removes every outgoing catch-all listener (socket.io's `offAnyOutgoing()`).
    pub fn off_any_outgoing_all(&self) {
        self.inner.hooks.remove_any_outgoing(None);
    }

    /// Sends `event` with `args` to this client.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        check_event(event)?;
        let packet = Packet::event(
            &self.inner.ns.name,
            event,
            args.into_args(self.parser())?,
            None,
        );
        if self.inner.ns.recovery.is_some() {
            // `deliver_local` calls the outgoing listeners.
            // Through the store, as socket.io does: the packet gets an offset and is
            // kept, so that a socket cut right now still gets it when it comes back.
            let opts = BroadcastOptions {
                rooms: vec![self.inner.id.clone()],
                except: vec![],
            };
            if self.inner.ns.adapter_numbers() {
                // The adapter numbers it (socket.io broadcasts it to the socket's room).
                self.inner.ns.adapter.remote_broadcast(&packet, &opts);
            } else {
                self.inner.ns.deliver_local(&packet, &opts);
            }
            return Ok(());
        }
        self.notify_outgoing(&packet);
        self.send_packet(&packet)
    }

    /// Sends `event` unless the client already has a backlog (socket.io's
    /// `socket.volatile.emit`): for updates a newer one replaces, such as positions.
    /// Returns whether it was queued.
    pub fn emit_volatile(&self, event: &str, args: impl IntoArgs) -> Result<bool, EmitError> {
        check_event(event)?;
        let packet = Packet::event(
            &self.inner.ns.name,
            event,
            args.into_args(self.parser())?,
            None,
        );
        self.notify_outgoing(&packet);
        Ok(self
            .inner
            .engine
            .send_volatile(frame_of(self.parser(), &packet)))
    }

    /// Sends the unnamed `message` event (`socket.send` in socket.io).
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Sends `event` and waits for the client's ack, for at most the configured
    /// `ack_timeout`. The answer's arguments come as they were sent: read them with
    /// [`Args::deserialize`] or [`Args::values`].
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Args, AckError>> + Send + 'static {
        let timeout = self.inner.ns.shared.config.ack_timeout;
        self.timeout(timeout).emit_with_ack(event, args)
    }

    /// Sets the ack timeout of the next `emit_with_ack`.
    pub fn timeout(&self, timeout: Duration) -> TimeoutSocket<'_> {
        TimeoutSocket {
            socket: self,
            timeout,
        }
    }

    /// Adds the socket to rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        if self.connected() {
            let rooms = rooms.into_rooms();
            self.inner.ns.adapter.join(&self.inner.id, &rooms);
            if let Some(observer) = self.inner.ns.shared.observer() {
                for room in &rooms {
                    observer.joined(&self.inner.ns.name, room, &self.inner.id);
                }
            }
        }
    }

    /// Removes the socket from rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        let observer = self.inner.ns.shared.observer();
        for room in rooms.into_rooms() {
            self.inner.ns.adapter.leave(&self.inner.id, &room);
            if let Some(observer) = observer {
                observer.left(&self.inner.ns.name, &room, &self.inner.id);
            }
        }
    }

    /// Removes the socket from every room but its own.
    pub fn leave_all(&self) {
        let own = &self.inner.id;
        let rooms: Vec<Room> = self.rooms().into_iter().filter(|r| **r != **own).collect();
        self.leave(rooms);
    }

    /// The namespace this socket is in.
    pub fn ns(&self) -> Namespace {
        Namespace {
            inner: self.inner.ns.clone(),
        }
    }

    /// The rooms the socket is in, its own id included.
    pub fn rooms(&self) -> Vec<Room> {
        self.inner.ns.adapter.rooms_of(&self.inner.id)
    }

    /// A broadcast to rooms, leaving this socket out.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// A broadcast leaving out these rooms and this socket.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// A broadcast to the whole namespace, leaving this socket out.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.inner.ns.clone(),
            BroadcastOptions {
                rooms: vec![],
                except: vec![self.inner.id.clone()],
            },
        )
    }

    /// Removes the socket from its namespace, or closes its whole connection (see
    /// [`Disconnect`]); the client sees "io server disconnect" either way (socket.io's
    /// `socket.disconnect(close)`).
    pub fn disconnect(&self, how: Disconnect) {
        self.disconnect_for(DisconnectReason::ServerNamespaceDisconnect);
        if how == Disconnect::Connection {
            self.inner
                .engine
                .close(crate::engine::CloseReason::ForcedClose);
        }
    }

    /// Removes the socket from its namespace with a DISCONNECT ("io server disconnect"
    /// for the client); its disconnect handler gets `reason`.
    pub(crate) fn disconnect_for(&self, reason: DisconnectReason) {
        let packet = Packet::Disconnect {
            namespace: self.inner.ns.name.clone(),
        };
        let _ = self.send_packet(&packet);
        self.close(reason);
    }

    /// Closes the whole connection because the client sent a packet that cannot be
    /// handled: its sockets leave with "parse error".
    pub(crate) fn close_for_bad_packet(&self) {
        if let Some(conn) = self.inner.conn.upgrade() {
            conn.close_all(DisconnectReason::ParseError);
        }
        self.inner
            .engine
            .close(crate::engine::CloseReason::TransportError);
    }

    /// Ends the connection of a socket whose handler panicked (a bug in that handler):
    /// one log line, the client told "io server disconnect", the connection closed;
    /// every other connection goes on.
    pub(crate) fn close_after_panic(&self, event: &str) {
        tracing::error!(sid = %self.id(), ns = %self.namespace(), event, "a handler panicked: its connection is closed");
        self.disconnect(Disconnect::Connection);
    }

    /// The parser whose format this socket's client speaks.
    pub(crate) fn parser(&self) -> Parser {
        self.inner.ns.shared.config.parser
    }

    /// Closes the underlying connection without a DISCONNECT (socket.io's
    /// `socket.conn.close()`): the client sees a lost connection and reconnects, and
    /// with connection state recovery on, its session is kept for it ("forced close").
    pub fn close_transport(&self) {
        self.inner
            .engine
            .close(crate::engine::CloseReason::ForcedClose);
    }

    /// Stores per-socket data (a session), replacing any value of the same type.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.inner
            .extensions
            .lock()
            .expect("extensions lock")
            .insert(value)
    }

    /// A copy of the per-socket data of type `T`.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner
            .extensions
            .lock()
            .expect("extensions lock")
            .get::<T>()
            .cloned()
    }

    /// Removes and returns the per-socket data of type `T`.
    pub fn remove_extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner
            .extensions
            .lock()
            .expect("extensions lock")
            .remove::<T>()
    }

    /// Sets `socket.data`: JSON that other nodes see in `fetch_sockets` (typed
    /// per-socket data that stays on this node goes in an extension instead).
    pub fn set_data(&self, data: impl Into<Value>) {
        *self.inner.data.lock().expect("data lock") = data.into();
    }

    /// A copy of `socket.data` (`{}` until set).
    pub fn data(&self) -> Value {
        self.inner.data.lock().expect("data lock").clone()
    }

    /// The shared application state of type `T` given to the builder.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.ns.shared.state.get::<T>()
    }

    pub(crate) fn send_packet(&self, packet: &Packet) -> Result<(), EmitError> {
        Ok(self.inner.engine.send(frame_of(self.parser(), packet))?)
    }

    /// What handles `event` as it arrives: the event's handler, or, when middlewares,
    /// catch-alls or rate limits are set, the dispatch through them.
    pub(crate) fn handler(&self, event: &str) -> Option<EventHandler> {
        if self.inner.hooks.hooked() {
            return Some(crate::socket::hooks::hooked_handler());
        }
        self.own_handler(event)
    }

    /// The handler registered for `event` with [`Socket::on`].
    pub(crate) fn own_handler(&self, event: &str) -> Option<EventHandler> {
        self.inner
            .handlers
            .read()
            .expect("handlers lock")
            .get(event)
            .cloned()
    }

    /// Answers the client's ack `id`.
    pub(crate) fn send_ack(&self, id: u64, args: Args) -> Result<(), EmitError> {
        self.send_packet(&Packet::Ack {
            namespace: self.inner.ns.name.clone(),
            args,
            id,
        })
    }

    /// Calls the `on_any_outgoing` listeners for an event sent to this socket.
    pub(crate) fn notify_outgoing(&self, packet: &Packet) {
        if let Packet::Event { name, args, .. } = packet {
            self.inner.hooks.notify_outgoing(self, name, args);
        }
    }

    pub(crate) fn on_ack(&self, id: u64, args: Args) {
        let waiter = self.inner.acks.lock().expect("acks lock").remove(&id);
        match waiter {
            Some(tx) => {
                let _ = tx.send(args);
            }
            None => tracing::debug!(sid = %self.id(), id, "ack for no pending emit"),
        }
    }

    pub(crate) fn mark_connected(&self) {
        self.inner.connected.store(true, Ordering::Release);
    }

    /// Leaves the namespace for `reason`: unregisters, drops pending acks, and runs the
    /// disconnect handler. Only the first call does anything.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        if let (Some(store), Some(pid)) = (&self.inner.ns.recovery, &self.inner.pid) {
            let rooms = reason.is_recoverable().then(|| self.rooms());
            let mut store = store.lock().expect("recovery lock");
            store.gone(pid, &self.inner.id);
            let adapter = &self.inner.ns.adapter;
            if let Some(rooms) = rooms.as_ref().filter(|_| adapter.recovers_sessions()) {
                // The adapter keeps it, for whichever node the client comes back to.
                adapter.persist_session(crate::adapter::Session {
                    sid: self.inner.id.clone(),
                    pid: pid.clone(),
                    rooms: rooms.clone(),
                    data: self.data(),
                });
            } else if let Some(rooms) = rooms {
                store.persist(
                    self.inner.id.clone(),
                    pid.clone(),
                    rooms,
                    self.data(),
                    std::time::Instant::now(),
                );
            }
        }
        if let Some(conn) = self.inner.conn.upgrade() {
            let mut map = conn.by_namespace.lock().expect("conn sockets lock");
            if map
                .get(&self.inner.ns.name)
                .is_some_and(|s| Arc::ptr_eq(&s.inner, &self.inner))
            {
                map.remove(&self.inner.ns.name);
            }
        }
        self.inner.ns.remove(&self.inner.id);
        self.inner.acks.lock().expect("acks lock").clear();
        let handler = self
            .inner
            .disconnect_handler
            .lock()
            .expect("disconnect handler lock")
            .take();
        if let Some(observer) = self.inner.ns.shared.observer() {
            observer.disconnected(self, reason);
        }
        tracing::debug!(sid = %self.id(), ns = %self.namespace(), reason = reason.as_str(), "socket disconnected");
        if let Some(handler) = handler {
            tokio::spawn(handler(self.clone(), reason));
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("namespace", &self.inner.ns.name)
            .finish()
    }
}

/// How [`Socket::disconnect`] leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// Leave this namespace only; the connection and its other namespaces stay.
    Namespace,
    /// Close the whole connection, every namespace on it included.
    Connection,
}

/// A serde value sent as an argument list (a tuple), or as an ack: what typed events
/// and requests serialize through.
struct Typed<T>(T);

impl<T: serde::Serialize> IntoArgs for Typed<T> {
    fn into_args(self, parser: Parser) -> Result<Args, sockeye_protocol::socket::ArgsError> {
        Args::serialize(parser, &self.0)
    }
}

impl<T: serde::Serialize> IntoAck for Typed<T> {
    fn into_ack(self, parser: Parser) -> Option<Result<Args, sockeye_protocol::socket::ArgsError>> {
        Some(self.into_args(parser))
    }
}

/// A socket with an ack timeout set, from [`Socket::timeout`].
pub struct TimeoutSocket<'a> {
    socket: &'a Socket,
    timeout: Duration,
}

impl TimeoutSocket<'_> {
    /// Sends `event` and waits for the client's ack, at most the timeout.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Args, AckError>> + Send + 'static {
        let socket = self.socket.clone();
        let timeout = self.timeout;
        let sent = (|| {
            check_event(event)?;
            let inner = &socket.inner;
            let (tx, rx) = oneshot::channel();
            let id = {
                let mut acks = inner.acks.lock().expect("acks lock");
                if acks.len() >= inner.ns.shared.config.max_pending_acks {
                    return Err(AckError::TooManyPending);
                }
                let id = inner.next_ack_id.fetch_add(1, Ordering::Relaxed);
                acks.insert(id, tx);
                id
            };
            let args = match args.into_args(socket.parser()) {
                Ok(args) => args,
                Err(e) => {
                    inner.acks.lock().expect("acks lock").remove(&id);
                    return Err(EmitError::from(e).into());
                }
            };
            let packet = Packet::event(&inner.ns.name, event, args, Some(id));
            socket.notify_outgoing(&packet);
            if let Err(e) = socket.send_packet(&packet) {
                inner.acks.lock().expect("acks lock").remove(&id);
                return Err(e.into());
            }
            Ok((id, rx))
        })();
        async move {
            let (id, rx) = sent?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(args)) => Ok(args),
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => {
                    crate::metrics::ack_timeout();
                    socket.inner.acks.lock().expect("acks lock").remove(&id);
                    Err(AckError::Timeout)
                }
            }
        }
    }
}
