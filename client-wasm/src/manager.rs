//! The manager: one Engine.IO connection and the namespace sockets multiplexed on it
//! (socket.io-client's `Manager`).
//!
//! Every rule comes from `sockeye-protocol`: [`EngineClient`] for the handshake and the
//! heartbeat, [`SocketClient`] per namespace for joins, acks and buffering,
//! [`Reconnection`] for the backoff, [`Decoder`] for binary attachments. This module
//! only moves packets between those state machines, the transports and the timers.
//!
//! All state sits in one `RefCell`. Nothing calls out to application code while it is
//! borrowed: work that would (listeners, ack callbacks, auth functions) is collected as
//! [`Effects`] and run after the borrow ends, so a listener may call back in freely.

use crate::browser::{now, random, Timer};
use crate::options::Options;
use crate::transport::{PollingTransport, Sink, TransportEvent, WsTransport};
use sockeye_protocol::client::{
    Emit, EngineClient, EngineOutput, Probe, Reconnection, SocketClient, SocketEvent, SocketOutput,
};
use sockeye_protocol::engine::Packet as EnginePacket;
use sockeye_protocol::socket::{Args, Decoder, Packet};
use sockeye_protocol::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// Work to run once the state is no longer borrowed.
type Effects = Vec<Box<dyn FnOnce()>>;

/// What a manager tells its listener (socket.io-client's Manager events).
#[derive(Debug, Clone, PartialEq)]
pub enum ManagerEvent {
    /// The Engine.IO connection is open.
    Open,
    /// The connection closed, for this reason.
    Close(String),
    /// Opening the connection failed ("websocket error", "xhr poll error", "timeout").
    Error(String),
    /// Reconnection attempt number n starts.
    ReconnectAttempt(u32),
    /// Reconnected after n attempts.
    Reconnect(u32),
    /// A reconnection attempt failed.
    ReconnectError(String),
    /// Every allowed attempt failed.
    ReconnectFailed,
    /// The connection moved from polling to WebSocket (engine.io-client's `upgrade`).
    Upgrade,
}

/// What a socket tells its listener.
pub enum Notice {
    /// Joined the namespace.
    Connect,
    /// The join failed: refused by the server (with its data), or the connection failed.
    ConnectError {
        /// The server's message, or the connection error.
        message: String,
        /// The server's data.
        data: Option<Value>,
    },
    /// Left the namespace ("io server disconnect", "transport close", ...).
    Disconnect(String),
    /// An event from the server; answer through `ack` when the server asked for one.
    Event {
        /// The event name.
        name: String,
        /// Its arguments, as they came (read them with [`Args::values`] or
        /// [`Args::deserialize`]).
        args: Args,
        /// The answer, when the server waits for one.
        ack: Option<AckResponder>,
    },
}

/// Why an ack did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the timeout.
    Timeout,
    /// The connection was lost after the emit was sent.
    Disconnected,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // socket.io-client's messages.
        f.write_str(match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
        })
    }
}

impl std::error::Error for AckError {}

/// The callback waiting for an ack: the answer's arguments as they came.
pub type AckCallback = Box<dyn FnOnce(Result<Args, AckError>)>;

/// Supplies the auth payload of a join, possibly later (socket.io-client's `auth`
/// function takes a callback).
pub type AuthProvider = Rc<dyn Fn(Box<dyn FnOnce(Option<Value>)>)>;

/// Answers one event the server sent with an ack id.
pub struct AckResponder {
    manager: Weak<RefCell<State>>,
    namespace: String,
    id: u64,
}

impl AckResponder {
    /// Sends the ack with `args` (a `Vec<Value>` or [`Args`]). Does nothing if the
    /// socket is no longer connected.
    pub fn send(self, args: impl Into<Args>) {
        let args = args.into();
        let Some(inner) = self.manager.upgrade() else {
            return;
        };
        with(&inner, |s, fx| {
            let Some(slot) = s.sockets.get(&self.namespace) else {
                return;
            };
            if slot.client.connected() {
                let packet = slot.client.ack(self.id, args);
                s.write_socket(&packet, fx);
            }
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadyState {
    Closed,
    Opening,
    Open,
}

enum Transport {
    Polling(PollingTransport),
    WebSocket(WsTransport),
}

impl Transport {
    fn name(&self) -> &'static str {
        match self {
            Transport::Polling(_) => "polling",
            Transport::WebSocket(_) => "websocket",
        }
    }

    /// Writes one batch of the engine's packets: true when done at once (a WebSocket),
    /// false when [`TransportEvent::Written`] follows (polling).
    fn write(&self, packets: &[EnginePacket]) -> bool {
        match self {
            Transport::Polling(t) => {
                t.write(packets);
                false
            }
            Transport::WebSocket(t) => {
                packets.iter().for_each(|packet| t.send(packet));
                true
            }
        }
    }

    fn close(&self) {
        match self {
            Transport::Polling(t) => t.close(),
            Transport::WebSocket(t) => t.close(),
        }
    }
}

/// One namespace's socket, kept inside the manager's state.
struct Slot {
    client: SocketClient,
    listener: Option<Rc<dyn Fn(Notice)>>,
    acks: HashMap<u64, AckCallback>,
    auth: Option<AuthProvider>,
}

/// A connection the client closed, still writing what was sent on it before the close
/// packet goes (engine.io-client's "closing"). The manager has moved on; this only ends.
struct Draining {
    /// The generation its transport reports with.
    generation: u64,
    engine: EngineClient,
    transport: Transport,
}

struct State {
    me: Weak<RefCell<State>>,
    /// `http://host:port` or `https://...`.
    origin: String,
    opts: Options,
    ready: ReadyState,
    engine: EngineClient,
    transport: Option<Transport>,
    /// Bumped for every transport, so events of a discarded one are ignored.
    generation: u64,
    /// Bumped for every connection attempt, so late answers (auth, timers) of an
    /// earlier one are ignored.
    attempt: u64,
    /// Upgrade probes started, and the one under way.
    probes: u64,
    probe: Option<(u64, WsTransport)>,
    draining: Vec<Draining>,
    decoder: Decoder,
    sockets: BTreeMap<String, Slot>,
    reconnection: Reconnection,
    reconnecting: bool,
    skip_reconnect: bool,
    open_timer: Option<Timer>,
    reconnect_timer: Option<Timer>,
    tick: Option<(Duration, Timer)>,
    listener: Option<Rc<dyn Fn(ManagerEvent)>>,
}

/// Borrows the state for `f`, then runs the effects `f` left and re-arms the timer.
fn with<R>(inner: &Rc<RefCell<State>>, f: impl FnOnce(&mut State, &mut Effects) -> R) -> R {
    let mut effects = Effects::new();
    let result = {
        let mut state = inner.borrow_mut();
        let result = f(&mut state, &mut effects);
        state.reschedule();
        result
    };
    for effect in effects {
        effect();
    }
    result
}

/// Like [`with`], for callbacks that hold only a weak reference.
fn with_weak(weak: &Weak<RefCell<State>>, f: impl FnOnce(&mut State, &mut Effects)) {
    if let Some(inner) = weak.upgrade() {
        with(&inner, f);
    }
}

/// A connection to one Socket.IO server, shared by the sockets of its namespaces.
#[derive(Clone)]
pub struct Manager {
    inner: Rc<RefCell<State>>,
}

impl Manager {
    /// A manager for the server at `origin` (`http://host:port`; `ws:` and `wss:` are
    /// taken as `http:` and `https:`). It connects when a socket does, or on
    /// [`Manager::open`].
    pub fn new(origin: &str, opts: Options) -> Manager {
        let origin = origin.trim_end_matches('/');
        let origin = if let Some(rest) = origin.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = origin.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            origin.to_owned()
        };
        let reconnection = Reconnection::new(opts.backoff, opts.reconnection_attempts);
        let inner = Rc::new_cyclic(|me| {
            RefCell::new(State {
                me: me.clone(),
                origin,
                opts,
                ready: ReadyState::Closed,
                engine: EngineClient::new(),
                transport: None,
                generation: 0,
                attempt: 0,
                probes: 0,
                probe: None,
                draining: Vec::new(),
                decoder: Decoder::default(),
                sockets: BTreeMap::new(),
                reconnection,
                reconnecting: false,
                skip_reconnect: false,
                open_timer: None,
                reconnect_timer: None,
                tick: None,
                listener: None,
            })
        });
        Manager { inner }
    }

    /// The options in force.
    pub fn options(&self) -> Options {
        self.inner.borrow().opts.clone()
    }

    /// Changes the options (socket.io-client's `reconnection(false)` and friends); the
    /// new reconnection settings apply from the next attempt.
    pub fn set_options(&self, opts: Options) {
        let mut s = self.inner.borrow_mut();
        let attempts = s.reconnection.attempts();
        s.reconnection = Reconnection::new(opts.backoff, opts.reconnection_attempts);
        s.reconnection.set_attempts(attempts);
        s.opts = opts;
    }

    /// Sets the listener of the manager's events.
    pub fn set_listener(&self, listener: impl Fn(ManagerEvent) + 'static) {
        self.inner.borrow_mut().listener = Some(Rc::new(listener));
    }

    /// Opens the connection if it is closed.
    pub fn open(&self) {
        with(&self.inner, |s, fx| {
            s.skip_reconnect = false;
            s.open(fx);
        });
    }

    /// Closes the connection and stops reconnecting.
    pub fn close(&self) {
        with(&self.inner, |s, fx| s.close_by_client(fx));
    }

    /// Drops the Engine.IO connection as a network cut would (socket.io-client's
    /// `socket.io.engine.close()`): the sockets see "forced close", and the manager
    /// reconnects as after any loss.
    pub fn close_engine(&self) {
        with(&self.inner, |s, fx| {
            // The close packet tells the server, as engine.io-client's does.
            s.close_engine_by_client();
            s.on_close("forced close", fx)
        });
    }

    /// The transport in use ("polling" or "websocket"), if connected.
    pub fn transport(&self) -> Option<&'static str> {
        self.inner.borrow().transport.as_ref().map(Transport::name)
    }

    /// The Engine.IO session id, if connected.
    pub fn engine_id(&self) -> Option<String> {
        let s = self.inner.borrow();
        s.engine.handshake().map(|h| h.sid.clone())
    }

    /// Whether the manager is between reconnection attempts.
    pub fn reconnecting(&self) -> bool {
        self.inner.borrow().reconnecting
    }

    /// The socket of `namespace` on this connection (made on first use).
    pub fn socket(&self, namespace: &str) -> Socket {
        let namespace = if namespace.starts_with('/') {
            namespace.to_owned()
        } else {
            format!("/{namespace}")
        };
        self.inner
            .borrow_mut()
            .sockets
            .entry(namespace.clone())
            .or_insert_with(|| Slot {
                client: SocketClient::new(&namespace),
                listener: None,
                acks: HashMap::new(),
                auth: None,
            });
        Socket {
            manager: self.clone(),
            namespace,
        }
    }

    /// Whether `namespace` already has a socket here (socket.io-client then makes a
    /// new manager for a second `io()` to it).
    pub fn has_socket(&self, namespace: &str) -> bool {
        self.inner.borrow().sockets.contains_key(namespace)
    }
}

/// One namespace on a [`Manager`]'s connection.
#[derive(Clone)]
pub struct Socket {
    manager: Manager,
    namespace: String,
}

impl Socket {
    fn with<R>(&self, f: impl FnOnce(&mut State, &mut Effects) -> R) -> R {
        with(&self.manager.inner, f)
    }

    fn read<R>(&self, f: impl FnOnce(&Slot) -> R) -> R {
        f(&self.manager.inner.borrow().sockets[&self.namespace])
    }

    /// The manager (socket.io-client's `socket.io`).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Sets the listener of this socket's notices.
    pub fn set_listener(&self, listener: impl Fn(Notice) + 'static) {
        let listener: Rc<dyn Fn(Notice)> = Rc::new(listener);
        self.with(|s, _| s.slot(&self.namespace).listener = Some(listener));
    }

    /// Sets where the auth payload of each join comes from.
    pub fn set_auth(&self, auth: Option<AuthProvider>) {
        self.with(|s, _| s.slot(&self.namespace).auth = auth);
    }

    /// The socket id while connected.
    pub fn id(&self) -> Option<String> {
        self.read(|slot| slot.client.id().map(str::to_owned))
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        self.read(|slot| slot.client.connected())
    }

    /// Whether the last join got back the session that was cut (connection state
    /// recovery on the server): same id and rooms, missed packets delivered first.
    pub fn recovered(&self) -> bool {
        self.read(|slot| slot.client.recovered())
    }

    /// Whether the socket wants to be connected (it reconnects on its own).
    pub fn active(&self) -> bool {
        self.read(|slot| slot.client.active())
    }

    /// Connects: opens the manager's connection if needed and joins the namespace.
    pub fn connect(&self) {
        self.with(|s, fx| {
            let slot = s.slot(&self.namespace);
            if slot.client.connected() {
                return;
            }
            // An active socket whose connection is down (lost, with reconnection off)
            // reopens it; the opened connection joins every active socket.
            let was_active = slot.client.active();
            slot.client.activate();
            if !s.reconnecting {
                s.skip_reconnect = false;
                s.open(fx);
            }
            if s.ready == ReadyState::Open && !was_active {
                s.join(&self.namespace, fx);
            }
        });
    }

    /// Leaves the namespace ("io client disconnect"); the connection closes when no
    /// socket uses it any more.
    pub fn disconnect(&self) {
        self.with(|s, fx| {
            let outputs = s.slot(&self.namespace).client.disconnect();
            s.socket_outputs(&self.namespace, outputs, fx);
            s.maybe_close(fx);
        });
    }

    /// Emits `name` with `args`. With `ack`, the callback gets the answer or an
    /// [`AckError`]; `how.timeout` bounds the wait. `args` is a `Vec<Value>` or [`Args`].
    pub fn emit(&self, name: &str, args: impl Into<Args>, how: Emit, ack: Option<AckCallback>) {
        let args = args.into();
        self.with(|s, fx| {
            let how = Emit {
                ack: ack.is_some(),
                ..how
            };
            let slot = s.slot(&self.namespace);
            let (packet, id) = slot.client.emit(name, args, how, now());
            if let (Some(id), Some(ack)) = (id, ack) {
                slot.acks.insert(id, ack);
            }
            if let Some(packet) = packet {
                s.write_socket(&packet, fx);
            }
        });
    }
}

impl State {
    fn slot(&mut self, namespace: &str) -> &mut Slot {
        self.sockets
            .get_mut(namespace)
            .expect("a Socket exists only for a namespace with a slot")
    }

    fn notify(&self, event: ManagerEvent, fx: &mut Effects) {
        if let Some(listener) = self.listener.clone() {
            fx.push(Box::new(move || listener(event)));
        }
    }

    fn notify_socket(&self, namespace: &str, notice: Notice, fx: &mut Effects) {
        if let Some(listener) = self.sockets.get(namespace).and_then(|s| s.listener.clone()) {
            fx.push(Box::new(move || listener(notice)));
        }
    }

    /// A callback for transport events, bound to one transport generation.
    fn sink(&self, generation: u64, probe: bool) -> Sink {
        let weak = self.me.clone();
        Rc::new(move |event| {
            with_weak(&weak, |s, fx| {
                if probe {
                    s.on_probe_event(generation, event, fx)
                } else if generation == s.generation {
                    s.on_transport_event(event, fx)
                } else {
                    s.on_draining_event(generation, event)
                }
            })
        })
    }

    fn engine_url(&self, websocket: bool, sid: Option<&str>) -> String {
        let origin = if websocket {
            match self.origin.strip_prefix("https://") {
                Some(rest) => format!("wss://{rest}"),
                None => format!("ws://{}", self.origin.trim_start_matches("http://")),
            }
        } else {
            self.origin.clone()
        };
        let transport = if websocket { "websocket" } else { "polling" };
        let mut url = format!("{origin}{}?EIO=4&transport={transport}", self.opts.path);
        for (key, value) in &self.opts.query {
            url.push('&');
            url.push_str(&encode_component(key));
            url.push('=');
            url.push_str(&encode_component(value));
        }
        if let Some(sid) = sid {
            url.push_str("&sid=");
            url.push_str(&encode_component(sid));
        }
        url
    }

    fn open(&mut self, fx: &mut Effects) {
        if self.ready != ReadyState::Closed {
            return;
        }
        self.ready = ReadyState::Opening;
        self.attempt += 1;
        self.engine = EngineClient::new();
        self.decoder = Decoder::default();
        self.generation += 1;
        let sink = self.sink(self.generation, false);
        let websocket_first = self.opts.transports.first().map(String::as_str) == Some("websocket");
        if websocket_first {
            match WsTransport::open(&self.engine_url(true, None), sink) {
                Ok(t) => {
                    self.engine.use_websocket();
                    self.transport = Some(Transport::WebSocket(t));
                }
                Err(_) => return self.open_failed("websocket error", fx),
            }
        } else {
            let url = self.engine_url(false, None);
            self.transport = Some(Transport::Polling(PollingTransport::open(&url, sink)));
        }
        if !self.opts.timeout.is_zero() {
            let weak = self.me.clone();
            let attempt = self.attempt;
            self.open_timer = Some(Timer::once(self.opts.timeout, move || {
                with_weak(&weak, |s, fx| {
                    if s.attempt == attempt && s.ready == ReadyState::Opening {
                        s.open_failed("timeout", fx);
                    }
                })
            }));
        }
    }

    /// Opening failed before the handshake: tell everyone, then maybe try again. The
    /// order is socket.io-client's: the sockets' `connect_error`, the manager's `error`;
    /// during a reconnection, the next attempt is scheduled (or `reconnect_failed`)
    /// before `reconnect_error`.
    fn open_failed(&mut self, error: &str, fx: &mut Effects) {
        self.discard_transports();
        self.ready = ReadyState::Closed;
        let waiting: Vec<String> = self
            .sockets
            .iter()
            .filter(|(_, slot)| slot.client.active() && !slot.client.connected())
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in waiting {
            let notice = Notice::ConnectError {
                message: error.to_owned(),
                data: None,
            };
            self.notify_socket(&ns, notice, fx);
        }
        self.notify(ManagerEvent::Error(error.to_owned()), fx);
        if self.reconnecting {
            self.reconnecting = false;
            self.reconnect(fx);
            self.notify(ManagerEvent::ReconnectError(error.to_owned()), fx);
        } else if self.reconnection_wanted() && self.reconnection.attempts() == 0 {
            self.reconnect(fx);
        }
    }

    fn reconnection_wanted(&self) -> bool {
        self.opts.reconnection && !self.skip_reconnect
    }

    fn discard_transports(&mut self) {
        self.generation += 1;
        if let Some(t) = self.transport.take() {
            t.close();
        }
        if let Some((_, probe)) = self.probe.take() {
            probe.close();
        }
        self.open_timer = None;
        self.tick = None;
    }

    fn on_transport_event(&mut self, event: TransportEvent, fx: &mut Effects) {
        match event {
            TransportEvent::Open => {}
            TransportEvent::Packet(packet) => {
                let outputs = self.engine.on_packet(packet, now());
                self.engine_outputs(outputs, fx);
            }
            TransportEvent::Written => {
                let outputs = self.engine.on_written();
                self.engine_outputs(outputs, fx);
            }
            TransportEvent::Close { error } => {
                if self.ready == ReadyState::Opening {
                    let error = match self.transport {
                        Some(Transport::WebSocket(_)) => "websocket error",
                        _ => "xhr poll error",
                    };
                    self.open_failed(error, fx);
                } else {
                    let outputs = self.engine.on_transport_close(error);
                    self.engine_outputs(outputs, fx);
                }
            }
        }
    }

    fn engine_outputs(&mut self, outputs: Vec<EngineOutput>, fx: &mut Effects) {
        for output in outputs {
            match output {
                EngineOutput::Open(handshake) => self.on_open(&handshake.upgrades, fx),
                EngineOutput::Write(packets) => {
                    if self.transport.as_ref().is_some_and(|t| t.write(&packets)) {
                        let outputs = self.engine.on_written();
                        self.engine_outputs(outputs, fx);
                    }
                }
                EngineOutput::Message(packet) => self.on_message(packet, fx),
                EngineOutput::Closed(reason) => self.on_close(reason, fx),
            }
        }
    }

    fn on_open(&mut self, upgrades: &[String], fx: &mut Effects) {
        self.ready = ReadyState::Open;
        self.open_timer = None;
        self.notify(ManagerEvent::Open, fx);
        let active: Vec<String> = self
            .sockets
            .iter()
            .filter(|(_, slot)| slot.client.active())
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in active {
            self.join(&ns, fx);
        }
        if self.reconnecting {
            self.reconnecting = false;
            let attempts = self.reconnection.attempts();
            self.reconnection.reset();
            self.notify(ManagerEvent::Reconnect(attempts), fx);
        } else {
            self.reconnection.reset();
        }
        let can_upgrade = matches!(self.transport, Some(Transport::Polling(_)))
            && self.opts.upgrade
            && self.opts.transports.iter().any(|t| t == "websocket")
            && upgrades.iter().any(|u| u == "websocket");
        if can_upgrade {
            self.start_probe();
        }
    }

    /// Sends the CONNECT for `namespace`, once its auth payload is known.
    fn join(&mut self, namespace: &str, fx: &mut Effects) {
        let timeout = self.opts.timeout.max(Duration::from_millis(1));
        match self.slot(namespace).auth.clone() {
            None => {
                let packet = self.slot(namespace).client.join(None, now(), timeout);
                self.write_socket(&packet, fx);
            }
            Some(provider) => {
                let weak = self.me.clone();
                let ns = namespace.to_owned();
                let attempt = self.attempt;
                let done = Box::new(move |auth: Option<Value>| {
                    with_weak(&weak, |s, fx| {
                        // Stale if the connection changed while the auth was computed.
                        if s.attempt != attempt || s.ready != ReadyState::Open {
                            return;
                        }
                        let slot = s.slot(&ns);
                        if slot.client.active() && !slot.client.connected() {
                            let packet = slot.client.join(auth, now(), timeout);
                            s.write_socket(&packet, fx);
                        }
                    })
                });
                fx.push(Box::new(move || provider(done)));
            }
        }
    }

    fn start_probe(&mut self) {
        let sid = self.engine.handshake().map(|h| h.sid.clone());
        self.probes += 1;
        let url = self.engine_url(true, sid.as_deref());
        if let Ok(ws) = WsTransport::open(&url, self.sink(self.probes, true)) {
            self.probe = Some((self.probes, ws));
        }
    }

    fn on_probe_event(&mut self, probe: u64, event: TransportEvent, fx: &mut Effects) {
        let current = matches!(&self.probe, Some((id, _)) if *id == probe);
        if !current || self.ready != ReadyState::Open {
            return;
        }
        match event {
            TransportEvent::Open => {
                if let Some((_, ws)) = &self.probe {
                    ws.send(&Probe::start());
                }
            }
            TransportEvent::Packet(packet) if Probe::passed(&packet) => {
                let Some(Transport::Polling(polling)) = &self.transport else {
                    return;
                };
                // Writes wait while polling drains; the pause must run unborrowed,
                // since it may finish at once.
                self.engine.pause();
                let polling = polling.clone();
                let weak = self.me.clone();
                fx.push(Box::new(move || {
                    polling.pause(move || {
                        with_weak(&weak, |s, fx| s.finish_upgrade(probe, fx));
                    })
                }));
            }
            TransportEvent::Written => {}
            TransportEvent::Packet(_) | TransportEvent::Close { .. } => {
                // The probe failed: stay on polling.
                if let Some((_, ws)) = self.probe.take() {
                    ws.close();
                }
                if let Some(Transport::Polling(polling)) = &self.transport {
                    polling.resume();
                }
                let outputs = self.engine.resume();
                self.engine_outputs(outputs, fx);
            }
        }
    }

    fn finish_upgrade(&mut self, probe: u64, fx: &mut Effects) {
        let current = matches!(&self.probe, Some((id, _)) if *id == probe);
        if !current || self.ready != ReadyState::Open {
            return;
        }
        let (_, ws) = self.probe.take().expect("checked above");
        ws.send(&Probe::finish());
        // From here on the WebSocket is the transport; the old one's events are stale.
        self.generation += 1;
        ws.set_sink(self.sink(self.generation, false));
        if let Some(old) = self.transport.replace(Transport::WebSocket(ws)) {
            old.close();
        }
        self.engine.use_websocket();
        let outputs = self.engine.resume();
        self.engine_outputs(outputs, fx);
        self.notify(ManagerEvent::Upgrade, fx);
    }

    fn write_socket(&mut self, packet: &Packet, fx: &mut Effects) {
        let encoded = packet.encode();
        let mut outputs = self.engine.send(EnginePacket::Message(encoded.text));
        for attachment in encoded.attachments {
            outputs.extend(self.engine.send(EnginePacket::Binary(attachment)));
        }
        self.engine_outputs(outputs, fx);
    }

    fn on_message(&mut self, packet: EnginePacket, fx: &mut Effects) {
        let decoded = match packet {
            EnginePacket::Message(text) => self.decoder.decode_text(text),
            EnginePacket::Binary(data) => self.decoder.decode_binary(data),
            _ => return,
        };
        match decoded {
            Ok(Some(packet)) => {
                let ns = packet.namespace().to_owned();
                if let Some(slot) = self.sockets.get_mut(&ns) {
                    let outputs = slot.client.on_packet(packet);
                    self.socket_outputs(&ns, outputs, fx);
                    self.maybe_close(fx);
                }
            }
            Ok(None) => {}
            // socket.io-client closes the connection on a packet it cannot read.
            Err(_) => {
                self.close_engine_by_client();
                self.on_close("parse error", fx);
            }
        }
    }

    fn socket_outputs(&mut self, ns: &str, outputs: Vec<SocketOutput>, fx: &mut Effects) {
        for output in outputs {
            match output {
                SocketOutput::Send(packet) => self.write_socket(&packet, fx),
                SocketOutput::Event(event) => self.socket_event(ns, event, fx),
            }
        }
    }

    fn socket_event(&mut self, ns: &str, event: SocketEvent, fx: &mut Effects) {
        let notice = match event {
            SocketEvent::Connect { .. } => Notice::Connect,
            SocketEvent::ConnectError { message, data } => Notice::ConnectError { message, data },
            SocketEvent::Disconnect { reason } => Notice::Disconnect(reason),
            SocketEvent::Event { name, args, ack } => Notice::Event {
                name,
                args,
                ack: ack.map(|id| AckResponder {
                    manager: self.me.clone(),
                    namespace: ns.to_owned(),
                    id,
                }),
            },
            SocketEvent::Ack { id, args } => return self.ack_result(ns, id, Ok(args), fx),
            SocketEvent::AckTimeout { id } => {
                return self.ack_result(ns, id, Err(AckError::Timeout), fx)
            }
            SocketEvent::AckDisconnected { id } => {
                return self.ack_result(ns, id, Err(AckError::Disconnected), fx)
            }
        };
        self.notify_socket(ns, notice, fx);
    }

    fn ack_result(&mut self, ns: &str, id: u64, result: Result<Args, AckError>, fx: &mut Effects) {
        if let Some(callback) = self.slot(ns).acks.remove(&id) {
            fx.push(Box::new(move || callback(result)));
        }
    }

    /// The connection closed under the sockets: tell them, then maybe reconnect.
    fn on_close(&mut self, reason: &str, fx: &mut Effects) {
        if self.ready == ReadyState::Closed {
            return;
        }
        self.discard_transports();
        self.ready = ReadyState::Closed;
        let namespaces: Vec<String> = self.sockets.keys().cloned().collect();
        for ns in namespaces {
            let outputs = self.slot(&ns).client.on_engine_close(reason);
            self.socket_outputs(&ns, outputs, fx);
        }
        self.notify(ManagerEvent::Close(reason.to_owned()), fx);
        if self.reconnection_wanted() {
            self.reconnect(fx);
        }
    }

    /// Schedules the next reconnection attempt, or gives up.
    fn reconnect(&mut self, fx: &mut Effects) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        let Some(delay) = self.reconnection.next_delay(random()) else {
            self.reconnection.reset();
            self.notify(ManagerEvent::ReconnectFailed, fx);
            return;
        };
        self.reconnecting = true;
        let weak = self.me.clone();
        self.reconnect_timer = Some(Timer::once(delay, move || {
            with_weak(&weak, |s, fx| {
                s.reconnect_timer = None;
                if s.skip_reconnect {
                    return;
                }
                s.notify(
                    ManagerEvent::ReconnectAttempt(s.reconnection.attempts()),
                    fx,
                );
                s.open(fx);
            })
        }));
    }

    /// Closes the connection once no socket wants it (socket.io-client's `_destroy`).
    fn maybe_close(&mut self, fx: &mut Effects) {
        if self.sockets.values().any(|slot| slot.client.active()) {
            return;
        }
        self.close_by_client(fx);
    }

    fn close_by_client(&mut self, fx: &mut Effects) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.reconnect_timer = None;
        self.reconnection.reset();
        self.close_engine_by_client();
        if self.ready == ReadyState::Opening {
            self.discard_transports();
            self.ready = ReadyState::Closed;
        }
        self.on_close("forced close", fx);
    }

    /// Closes the connection the way the client does, without losing what was sent on
    /// it: its engine and transport finish the writes and the close packet on their own
    /// ([`Draining`]), while the manager moves on at once (as socket.io-client's does).
    fn close_engine_by_client(&mut self) {
        let Some(transport) = self.transport.take() else {
            return;
        };
        let mut engine = std::mem::take(&mut self.engine);
        let outputs = engine.close_by_client();
        let generation = self.generation;
        // From here on, this transport's events go to the draining engine.
        self.generation += 1;
        self.draining.push(Draining {
            generation,
            engine,
            transport,
        });
        self.drain_outputs(generation, outputs);
    }

    fn on_draining_event(&mut self, generation: u64, event: TransportEvent) {
        let Some(d) = self
            .draining
            .iter_mut()
            .find(|d| d.generation == generation)
        else {
            return;
        };
        let outputs = match event {
            TransportEvent::Written => d.engine.on_written(),
            TransportEvent::Packet(packet) => d.engine.on_packet(packet, now()),
            TransportEvent::Close { error } => d.engine.on_transport_close(error),
            TransportEvent::Open => Vec::new(),
        };
        self.drain_outputs(generation, outputs);
    }

    /// Does what the draining engine of `generation` says.
    fn drain_outputs(&mut self, generation: u64, outputs: Vec<EngineOutput>) {
        for output in outputs {
            let Some(i) = self
                .draining
                .iter()
                .position(|d| d.generation == generation)
            else {
                return;
            };
            match output {
                EngineOutput::Write(packets) => {
                    let d = &mut self.draining[i];
                    if d.transport.write(&packets) {
                        let outputs = d.engine.on_written();
                        self.drain_outputs(generation, outputs);
                    }
                }
                // Everything is written (or can no longer be): the transport ends.
                EngineOutput::Closed(_) => self.draining.swap_remove(i).transport.close(),
                EngineOutput::Open(_) | EngineOutput::Message(_) => {}
            }
        }
    }

    /// Re-arms the one timer for the earliest deadline: the heartbeat, a join, an ack.
    fn reschedule(&mut self) {
        let engine = (self.ready == ReadyState::Open)
            .then(|| self.engine.deadline())
            .flatten();
        let draining = self.draining.iter().filter_map(|d| d.engine.deadline());
        let deadline = self
            .sockets
            .values()
            .filter_map(|slot| slot.client.deadline())
            .chain(engine)
            .chain(draining)
            .min();
        let Some(deadline) = deadline else {
            self.tick = None;
            return;
        };
        // A timer due no later than needed stays: it fires, `on_tick` does what is due
        // and arms the next. Re-arming on every packet (each one moves the heartbeat
        // deadline) cost a closure and a setTimeout per event received.
        if matches!(&self.tick, Some((at, _)) if *at <= deadline) {
            return;
        }
        let weak = self.me.clone();
        let delay = deadline.saturating_sub(now());
        self.tick = Some((
            deadline,
            Timer::once(delay, move || {
                with_weak(&weak, |s, fx| {
                    s.tick = None;
                    s.on_tick(fx)
                })
            }),
        ));
    }

    fn on_tick(&mut self, fx: &mut Effects) {
        let now = now();
        if self.ready == ReadyState::Open {
            let outputs = self.engine.poll(now);
            self.engine_outputs(outputs, fx);
        }
        let namespaces: Vec<String> = self.sockets.keys().cloned().collect();
        for ns in namespaces {
            let outputs = self.slot(&ns).client.poll(now);
            self.socket_outputs(&ns, outputs, fx);
        }
        // A close that cannot finish its writes ends with the heartbeat.
        // (Backwards: an entry that ends is swapped with the last, already polled.)
        for i in (0..self.draining.len()).rev() {
            let d = &mut self.draining[i];
            let (generation, outputs) = (d.generation, d.engine.poll(now));
            self.drain_outputs(generation, outputs);
        }
    }
}

/// `encodeURIComponent`.
fn encode_component(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}
