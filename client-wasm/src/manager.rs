//! The manager: one Engine.IO connection and the namespace sockets multiplexed on it
//! (socket.io-client's `Manager`), in the browser.
//!
//! Every rule is `sockeye-protocol`'s [`ManagerClient`]: which transport to open, the
//! upgrade, joins, timeouts, reconnection, a close that loses nothing. This module is
//! its driver: it opens the transports and timer the machine asks for, feeds it their
//! events and the application's calls, and hands its events to the listeners, ack
//! callbacks and auth functions.
//!
//! All state sits in one `RefCell`. Nothing calls out to application code while it is
//! borrowed: work that would (listeners, ack callbacks, auth functions) is collected as
//! [`Effects`] and run after the borrow ends, so a listener may call back in freely.

use crate::browser::{at_one_time, now, random, Timer};
use crate::options::Options;
use crate::transport::{PollingTransport, Sink, TransportEvent, WsTransport};
pub use sockeye_protocol::client::ManagerEvent;
use sockeye_protocol::client::{
    Emit, ManagerClient, ManagerConfig, ManagerOutput, SocketEvent, TransportId, TransportKind,
};
use sockeye_protocol::engine::Packet as EnginePacket;
use sockeye_protocol::socket::Args;
use sockeye_protocol::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// A socket's listener: its notices in order, those that arrived together (the packets
/// of one polling response) in one call.
type NoticeListener = Rc<dyn Fn(Vec<Notice>)>;

/// Work to run once the state is no longer borrowed, in order.
#[derive(Default)]
struct Effects(Vec<Effect>);

enum Effect {
    Run(Box<dyn FnOnce()>),
    /// Notices for one listener, delivered in one call.
    Notices(NoticeListener, Vec<Notice>),
}

impl Effects {
    fn run(&mut self, f: impl FnOnce() + 'static) {
        self.0.push(Effect::Run(Box::new(f)));
    }

    /// Adds `notice` to the notices for `listener` that come last, if any: one call for
    /// a run of them (a glue that crosses into JavaScript once per call, not per event).
    fn notice(&mut self, listener: &NoticeListener, notice: Notice) {
        if let Some(Effect::Notices(last, notices)) = self.0.last_mut() {
            if Rc::ptr_eq(last, listener) {
                notices.push(notice);
                return;
            }
        }
        self.0.push(Effect::Notices(listener.clone(), vec![notice]));
    }

    fn apply(self) {
        for effect in self.0 {
            match effect {
                Effect::Run(f) => f(),
                Effect::Notices(listener, notices) => listener(notices),
            }
        }
    }
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

/// Why an emit that waited for the server's ack got none (the server crate's
/// `AckError` is the other direction: the client's ack to a server emit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAckError {
    /// No answer within the timeout.
    Timeout,
    /// The connection was lost after the emit was sent.
    Disconnected,
}

impl fmt::Display for ServerAckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // socket.io-client's messages.
        f.write_str(match self {
            ServerAckError::Timeout => "operation has timed out",
            ServerAckError::Disconnected => "socket has been disconnected",
        })
    }
}

impl std::error::Error for ServerAckError {}

/// The callback waiting for an ack: the answer's arguments as they came.
pub type AckCallback = Box<dyn FnOnce(Result<Args, ServerAckError>)>;

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
        with(&inner, |s, _| {
            s.machine.ack(&self.namespace, self.id, args, now());
        });
    }
}

enum Transport {
    Polling(PollingTransport),
    WebSocket(WsTransport),
}

impl Transport {
    /// Writes one batch of packets (one POST when polling, which reports
    /// [`TransportEvent::Written`] when done).
    fn write(&self, packets: &[EnginePacket]) {
        match self {
            Transport::Polling(t) => t.write(packets),
            Transport::WebSocket(t) => packets.iter().for_each(|packet| t.send(packet)),
        }
    }

    fn close(&self) {
        match self {
            Transport::Polling(t) => t.close(),
            Transport::WebSocket(t) => t.close(),
        }
    }
}

/// What the browser side keeps of one namespace's socket (the protocol side is the
/// machine's).
#[derive(Default)]
struct Slot {
    listener: Option<NoticeListener>,
    acks: HashMap<u64, AckCallback>,
    auth: Option<AuthProvider>,
}

struct State {
    me: Weak<RefCell<State>>,
    machine: ManagerClient,
    opts: Options,
    /// The transports the machine opened and has not closed yet.
    transports: HashMap<TransportId, Transport>,
    slots: BTreeMap<String, Slot>,
    /// The one `setTimeout`, for the machine's deadline.
    timer: Option<(Duration, Timer)>,
    listener: Option<Rc<dyn Fn(ManagerEvent)>>,
}

/// Borrows the state for `f`, does what the machine asks, re-arms the timer, then runs
/// the effects left.
fn with<R>(inner: &Rc<RefCell<State>>, f: impl FnOnce(&mut State, &mut Effects) -> R) -> R {
    let mut effects = Effects::default();
    let result = {
        let mut state = inner.borrow_mut();
        let result = f(&mut state, &mut effects);
        state.drive(&mut effects);
        state.reschedule();
        result
    };
    effects.apply();
    result
}

/// Like [`with`], for callbacks that hold only a weak reference.
fn with_weak(weak: &Weak<RefCell<State>>, f: impl FnOnce(&mut State, &mut Effects)) {
    if let Some(inner) = weak.upgrade() {
        with(&inner, f);
    }
}

/// The machine's settings from the options.
fn config(opts: &Options) -> ManagerConfig {
    ManagerConfig {
        path: opts.path.clone(),
        query: opts.query.clone(),
        transports: opts
            .transports
            .iter()
            .filter_map(|t| TransportKind::from_name(t))
            .collect(),
        upgrade: opts.upgrade,
        reconnection: opts.reconnection,
        reconnection_attempts: opts.reconnection_attempts,
        backoff: opts.backoff,
        timeout: opts.timeout,
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
        // The backoff's jitter comes from the machine's generator, seeded here.
        let seed = (random() * (1u64 << 53) as f64) as u64;
        let machine = ManagerClient::new(origin, config(&opts), seed);
        let inner = Rc::new_cyclic(|me| {
            RefCell::new(State {
                me: me.clone(),
                machine,
                opts,
                transports: HashMap::new(),
                slots: BTreeMap::new(),
                timer: None,
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
        s.machine.set_config(config(&opts));
        s.opts = opts;
    }

    /// Sets the listener of the manager's events.
    pub fn set_listener(&self, listener: impl Fn(ManagerEvent) + 'static) {
        self.inner.borrow_mut().listener = Some(Rc::new(listener));
    }

    /// Opens the connection if it is closed.
    pub fn open(&self) {
        with(&self.inner, |s, _| s.machine.open(now()));
    }

    /// Closes the connection and stops reconnecting.
    pub fn close(&self) {
        with(&self.inner, |s, _| s.machine.close(now()));
    }

    /// Drops the Engine.IO connection as a network cut would (socket.io-client's
    /// `socket.io.engine.close()`): the sockets see "forced close", and the manager
    /// reconnects as after any loss.
    pub fn close_engine(&self) {
        with(&self.inner, |s, _| s.machine.close_engine(now()));
    }

    /// The transport in use ("polling" or "websocket"), if connected.
    pub fn transport(&self) -> Option<&'static str> {
        self.inner
            .borrow()
            .machine
            .transport()
            .map(TransportKind::name)
    }

    /// The Engine.IO session id, if connected.
    pub fn engine_id(&self) -> Option<String> {
        self.inner.borrow().machine.engine_id().map(str::to_owned)
    }

    /// Whether the manager is between reconnection attempts.
    pub fn reconnecting(&self) -> bool {
        self.inner.borrow().machine.reconnecting()
    }

    /// The socket of `namespace` on this connection (made on first use).
    pub fn socket(&self, namespace: &str) -> Socket {
        let mut s = self.inner.borrow_mut();
        let namespace = s.machine.socket(namespace);
        s.slots.entry(namespace.clone()).or_default();
        drop(s);
        Socket {
            manager: self.clone(),
            namespace,
        }
    }

    /// Whether `namespace` already has a socket here (socket.io-client then makes a
    /// new manager for a second `io()` to it).
    pub fn has_socket(&self, namespace: &str) -> bool {
        self.inner.borrow().machine.has_socket(namespace)
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

    fn read<R>(&self, f: impl FnOnce(&sockeye_protocol::client::SocketClient) -> R) -> R {
        let s = self.manager.inner.borrow();
        f(s.machine
            .socket_client(&self.namespace)
            .expect("a Socket exists only for a namespace the machine has"))
    }

    /// The manager (socket.io-client's `socket.io`).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Sets the listener of this socket's notices: it gets them in order, several in
    /// one call when they arrived together (the events of one polling response).
    pub fn set_listener(&self, listener: impl Fn(Vec<Notice>) + 'static) {
        let listener: NoticeListener = Rc::new(listener);
        self.with(|s, _| s.slot(&self.namespace).listener = Some(listener));
    }

    /// Sets where the auth payload of each join comes from.
    pub fn set_auth(&self, auth: Option<AuthProvider>) {
        self.with(|s, _| {
            s.machine.set_auth(&self.namespace, auth.is_some());
            s.slot(&self.namespace).auth = auth;
        });
    }

    /// The socket id while connected.
    pub fn id(&self) -> Option<String> {
        self.read(|client| client.id().map(str::to_owned))
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        self.read(|client| client.connected())
    }

    /// Whether the last join got back the session that was cut (connection state
    /// recovery on the server): same id and rooms, missed packets delivered first.
    pub fn recovered(&self) -> bool {
        self.read(|client| client.recovered())
    }

    /// Whether the socket wants to be connected (it reconnects on its own).
    pub fn active(&self) -> bool {
        self.read(|client| client.active())
    }

    /// Connects: opens the manager's connection if needed and joins the namespace.
    pub fn connect(&self) {
        self.with(|s, _| s.machine.connect(&self.namespace, now()));
    }

    /// Leaves the namespace ("io client disconnect"); the connection closes when no
    /// socket uses it any more.
    pub fn disconnect(&self) {
        self.with(|s, _| s.machine.disconnect(&self.namespace, now()));
    }

    /// Emits `name` with `args`. With `ack`, the callback gets the answer or an
    /// [`ServerAckError`]; `how.timeout` bounds the wait. `args` is a `Vec<Value>` or [`Args`].
    pub fn emit(&self, name: &str, args: impl Into<Args>, how: Emit, ack: Option<AckCallback>) {
        let args = args.into();
        self.with(|s, _| {
            let how = Emit {
                ack: ack.is_some(),
                ..how
            };
            let id = s.machine.emit(&self.namespace, name, args, how, now());
            if let (Some(id), Some(ack)) = (id, ack) {
                s.slot(&self.namespace).acks.insert(id, ack);
            }
        });
    }
}

impl State {
    fn slot(&mut self, namespace: &str) -> &mut Slot {
        self.slots.entry(namespace.to_owned()).or_default()
    }

    /// Does what the machine asks, in order: transport I/O at once, application code as
    /// effects.
    fn drive(&mut self, fx: &mut Effects) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                ManagerOutput::Open {
                    transport,
                    kind,
                    url,
                } => self.open_transport(transport, kind, &url),
                ManagerOutput::Write { transport, packets } => {
                    if let Some(t) = self.transports.get(&transport) {
                        t.write(&packets);
                    }
                }
                ManagerOutput::Pause { transport } => {
                    if let Some(Transport::Polling(polling)) = self.transports.get(&transport) {
                        // The pause may be done at once and report it: unborrowed.
                        let polling = polling.clone();
                        fx.run(move || polling.pause());
                    }
                }
                ManagerOutput::Resume { transport } => {
                    if let Some(Transport::Polling(polling)) = self.transports.get(&transport) {
                        polling.resume();
                    }
                }
                ManagerOutput::Close { transport } => {
                    if let Some(t) = self.transports.remove(&transport) {
                        t.close();
                    }
                }
                ManagerOutput::Event(event) => self.notify(event, fx),
                ManagerOutput::Socket { namespace, event } => {
                    self.socket_event(&namespace, event, fx)
                }
                ManagerOutput::Auth { namespace, attempt } => self.ask_auth(namespace, attempt, fx),
            }
        }
    }

    fn open_transport(&mut self, id: TransportId, kind: TransportKind, url: &str) {
        let sink = self.sink(id);
        let transport = match kind {
            TransportKind::Polling => Transport::Polling(PollingTransport::open(url, sink)),
            TransportKind::WebSocket => match WsTransport::open(url, sink) {
                Ok(ws) => Transport::WebSocket(ws),
                Err(_) => {
                    let failed = TransportEvent::Closed { error: true };
                    return self.machine.on_transport(id, failed, now());
                }
            },
        };
        self.transports.insert(id, transport);
    }

    /// A callback for the events of transport `id`. The events of one batch are handled
    /// in one borrow, each followed by the I/O it asks for; the application hears of all
    /// of them afterwards, so a socket's listener gets a response's events in one call.
    /// They happened at one time: the clock is read once for them (`performance.now()`
    /// per packet was a measurable share of receiving), not for the listeners after.
    fn sink(&self, id: TransportId) -> Sink {
        let weak = self.me.clone();
        Rc::new(move |events| {
            with_weak(&weak, |s, fx| {
                at_one_time(|| {
                    for event in events {
                        s.machine.on_transport(id, event, now());
                        s.drive(fx);
                    }
                })
            });
        })
    }

    /// Asks the socket's auth function for a join's payload; the answer, whenever it
    /// comes, goes to the machine tagged with the attempt it was asked for.
    fn ask_auth(&mut self, namespace: String, attempt: u64, fx: &mut Effects) {
        let Some(provider) = self.slot(&namespace).auth.clone() else {
            return self.machine.auth(&namespace, attempt, None, now());
        };
        let weak = self.me.clone();
        let done = Box::new(move |auth: Option<Value>| {
            with_weak(&weak, |s, _| {
                s.machine.auth(&namespace, attempt, auth, now())
            });
        });
        fx.run(move || provider(done));
    }

    fn notify(&self, event: ManagerEvent, fx: &mut Effects) {
        if let Some(listener) = self.listener.clone() {
            fx.run(move || listener(event));
        }
    }

    fn notify_socket(&self, namespace: &str, notice: Notice, fx: &mut Effects) {
        if let Some(listener) = self.slots.get(namespace).and_then(|s| s.listener.as_ref()) {
            fx.notice(listener, notice);
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
                return self.ack_result(ns, id, Err(ServerAckError::Timeout), fx)
            }
            SocketEvent::AckDisconnected { id } => {
                return self.ack_result(ns, id, Err(ServerAckError::Disconnected), fx)
            }
        };
        self.notify_socket(ns, notice, fx);
    }

    fn ack_result(
        &mut self,
        ns: &str,
        id: u64,
        result: Result<Args, ServerAckError>,
        fx: &mut Effects,
    ) {
        if let Some(callback) = self.slot(ns).acks.remove(&id) {
            fx.run(move || callback(result));
        }
    }

    /// Arms the one timer for the machine's earliest deadline.
    fn reschedule(&mut self) {
        let Some(deadline) = self.machine.deadline() else {
            self.timer = None;
            return;
        };
        // A timer due no later than needed stays: it fires, the machine does what is due
        // and the next one is armed. Re-arming on every packet (each one moves the
        // heartbeat deadline) cost a closure and a setTimeout per event received.
        if matches!(&self.timer, Some((at, _)) if *at <= deadline) {
            return;
        }
        let weak = self.me.clone();
        // Whole milliseconds, rounded up: a timer that fires early finds nothing due.
        let delay = deadline.saturating_sub(now());
        let delay = Duration::from_millis(delay.as_micros().div_ceil(1000) as u64);
        self.timer = Some((
            deadline,
            Timer::once(delay, move || {
                with_weak(&weak, |s, _| {
                    s.timer = None;
                    s.machine.poll(now());
                })
            }),
        ));
    }
}
