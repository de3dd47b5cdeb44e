//! One client connection and the namespaces multiplexed on it (socket.io-client's
//! `Manager`), without I/O.
//!
//! [`ManagerClient`] owns the [`EngineClient`] of the connection, a [`SocketClient`] per
//! namespace, the [`Reconnection`] backoff and the packet [`Decoder`], and decides
//! everything between them: which transport to open and when (first, the upgrade probe,
//! the switch or the fall back to polling), joining every active namespace once the
//! connection is open, the open timeout, reconnecting after a loss, and finishing the
//! writes of a connection the client closed. A driver feeds it the application's calls,
//! the transports' events (each tagged with the [`TransportId`] the manager gave the
//! transport) and the clock, and does what [`ManagerClient::poll_output`] says.
//!
//! Time comes in as `now` (any monotonic origin), randomness as the seed of
//! [`ManagerClient::new`]: the same inputs give the same outputs.

use super::{
    Emit, EngineClient, EngineOutput, Probe, Reconnection, SocketClient, SocketEvent, SocketOutput,
};
use crate::engine::{CloseReason, Packet as EnginePacket};
use crate::socket::{Args, Decoder, Packet};
use crate::{Backoff, Value};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

/// Which kind of transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The protocol's name for it (`transport=` in the URL).
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    /// The kind of this name, if it is one.
    pub fn from_name(name: &str) -> Option<TransportKind> {
        match name {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names one transport the manager asked the driver to open. Never reused, so an event
/// of a transport the manager has let go of is recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransportId(pub u64);

/// What a transport reports to the manager.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportEvent {
    /// It is ready to carry packets (a WebSocket's `open`).
    Opened,
    /// A packet arrived.
    Packet(EnginePacket),
    /// The last [`ManagerOutput::Write`] on a polling transport is done (its POST was
    /// answered). A WebSocket's writes are done once handed over: it reports none.
    Written,
    /// After [`ManagerOutput::Pause`]: no request is on its way any more.
    Paused,
    /// It closed; `error` when it failed rather than closed cleanly. Also reported when
    /// it could not be opened at all.
    Closed {
        /// Whether it failed.
        error: bool,
    },
}

/// What a manager tells the application (socket.io-client's Manager events).
#[derive(Debug, Clone, PartialEq)]
pub enum ManagerEvent {
    /// The Engine.IO connection is open.
    Open,
    /// The connection closed, for this reason.
    Close(CloseReason),
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

/// What the driver must do, in this order.
#[derive(Debug, Clone, PartialEq)]
pub enum ManagerOutput {
    /// Open a transport to `url` and report its events with `transport`.
    Open {
        /// The id its events carry.
        transport: TransportId,
        /// Polling or WebSocket.
        kind: TransportKind,
        /// The Engine.IO URL (see [`engine_url`]).
        url: String,
    },
    /// Write these packets in one go (one POST when polling; one frame each on a
    /// WebSocket). Polling reports [`TransportEvent::Written`] when done.
    Write {
        /// The transport.
        transport: TransportId,
        /// The packets, in order.
        packets: Vec<EnginePacket>,
    },
    /// Stop polling (an upgrade is under way) and report [`TransportEvent::Paused`] once
    /// neither a GET nor a POST is on its way: a POST still out when the server switches
    /// to the WebSocket would be refused, and its packets lost. The report may come at
    /// once, so the driver must be able to take it.
    Pause {
        /// The polling transport.
        transport: TransportId,
    },
    /// Poll again after a [`ManagerOutput::Pause`] (the upgrade failed).
    Resume {
        /// The polling transport.
        transport: TransportId,
    },
    /// Close the transport; the manager ignores whatever it reports from now on.
    Close {
        /// The transport.
        transport: TransportId,
    },
    /// Tell the manager's listener.
    Event(ManagerEvent),
    /// Tell the socket of `namespace` (its acks' answers and failures included).
    Socket {
        /// The namespace.
        namespace: String,
        /// What happened.
        event: SocketEvent,
    },
    /// The socket of `namespace` joins and needs its auth payload: answer with
    /// [`ManagerClient::auth`], `attempt` included (an answer for an older connection
    /// is ignored). Only for sockets marked by [`ManagerClient::set_auth`].
    Auth {
        /// The namespace.
        namespace: String,
        /// The connection attempt the answer is for.
        attempt: u64,
    },
}

/// The settings of a manager (socket.io-client's option names in comments).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    /// The Engine.IO path, with a trailing slash (`path`).
    pub path: String,
    /// Extra query parameters of every Engine.IO request (`query`).
    pub query: Vec<(String, String)>,
    /// The transports allowed, the first one used to open (`transports`).
    pub transports: Vec<TransportKind>,
    /// Whether to upgrade from polling to WebSocket (`upgrade`).
    pub upgrade: bool,
    /// Whether to reconnect after losing the connection (`reconnection`).
    pub reconnection: bool,
    /// Attempts before giving up, unbounded if `None` (`reconnectionAttempts`).
    pub reconnection_attempts: Option<u32>,
    /// The delays between attempts.
    pub backoff: Backoff,
    /// How long opening the connection, or a join, may take; zero: no bound for opening
    /// (`timeout`).
    pub timeout: Duration,
}

impl Default for ManagerConfig {
    /// socket.io-client's defaults.
    fn default() -> Self {
        ManagerConfig {
            path: "/socket.io/".into(),
            query: Vec::new(),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            reconnection: true,
            reconnection_attempts: None,
            backoff: Backoff::default(),
            timeout: Duration::from_millis(20_000),
        }
    }
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as UTF-8 `%XX`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `origin` as the manager keeps it: no trailing slash, `ws:`/`wss:` taken as
/// `http:`/`https:`.
pub fn http_origin(origin: &str) -> String {
    let origin = origin.trim_end_matches('/');
    if let Some(rest) = origin.strip_prefix("ws://") {
        format!("http://{rest}")
    } else if let Some(rest) = origin.strip_prefix("wss://") {
        format!("https://{rest}")
    } else {
        origin.to_owned()
    }
}

/// The Engine.IO URL of a transport: `origin` (`http://host:port`; `ws:`/`wss:` for a
/// WebSocket), the path, `EIO=4`, the transport, the configured query and, for an
/// upgrade, the session id.
pub fn engine_url(
    origin: &str,
    config: &ManagerConfig,
    kind: TransportKind,
    sid: Option<&str>,
) -> String {
    let origin = http_origin(origin);
    let origin = match kind {
        TransportKind::Polling => origin,
        TransportKind::WebSocket => match origin.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", origin.trim_start_matches("http://")),
        },
    };
    let mut url = format!("{origin}{}?EIO=4&transport={kind}", config.path);
    for (key, value) in &config.query {
        url.push('&');
        url.push_str(&encode_uri_component(key));
        url.push('=');
        url.push_str(&encode_uri_component(value));
    }
    if let Some(sid) = sid {
        url.push_str("&sid=");
        url.push_str(&encode_uri_component(sid));
    }
    url
}

/// The URL of one long-polling request on `url` (an [`engine_url`]): numbered so no
/// cache answers it, with the session id once the handshake gave one.
pub fn polling_request_url(url: &str, request: u64, sid: Option<&str>) -> String {
    let mut url = format!("{url}&t={request}");
    if let Some(sid) = sid {
        url.push_str("&sid=");
        url.push_str(&encode_uri_component(sid));
    }
    url
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadyState {
    Closed,
    Opening,
    Open,
}

/// One namespace's socket.
#[derive(Debug, Clone)]
struct Slot {
    client: SocketClient,
    /// Ask the application for the auth payload before each join.
    auth: bool,
}

/// The upgrade probe under way.
#[derive(Debug, Clone, Copy)]
struct ProbeState {
    transport: TransportId,
    /// The server answered the probe; polling is pausing.
    passed: bool,
}

/// A connection the client closed, still writing what was sent on it before the close
/// packet goes (engine.io-client's "closing"). The manager has moved on; this only ends.
#[derive(Debug, Clone)]
struct Draining {
    transport: TransportId,
    kind: TransportKind,
    engine: EngineClient,
}

/// The client's connection to one server and its namespace sockets: see the module
/// documentation.
#[derive(Debug)]
pub struct ManagerClient {
    origin: String,
    config: ManagerConfig,
    ready: ReadyState,
    engine: EngineClient,
    transport: Option<(TransportId, TransportKind)>,
    /// The last transport id given out.
    transports: u64,
    /// Bumped for every connection attempt, so a late auth answer of an earlier one is
    /// ignored.
    attempt: u64,
    probe: Option<ProbeState>,
    draining: Vec<Draining>,
    decoder: Decoder,
    sockets: BTreeMap<String, Slot>,
    reconnection: Reconnection,
    reconnecting: bool,
    skip_reconnect: bool,
    open_deadline: Option<Duration>,
    reconnect_deadline: Option<Duration>,
    /// The time of the input being handled.
    now: Duration,
    /// splitmix64 state, for the backoff's jitter.
    random: u64,
    outputs: VecDeque<ManagerOutput>,
}

impl ManagerClient {
    /// A manager for the server at `origin` (`http://host:port`; `ws:` and `wss:` are
    /// taken as `http:` and `https:`), closed. `seed` drives the backoff's jitter.
    pub fn new(origin: &str, config: ManagerConfig, seed: u64) -> Self {
        let reconnection = Reconnection::new(config.backoff, config.reconnection_attempts);
        ManagerClient {
            origin: http_origin(origin),
            config,
            ready: ReadyState::Closed,
            engine: EngineClient::new(),
            transport: None,
            transports: 0,
            attempt: 0,
            probe: None,
            draining: Vec::new(),
            decoder: Decoder::default(),
            sockets: BTreeMap::new(),
            reconnection,
            reconnecting: false,
            skip_reconnect: false,
            open_deadline: None,
            reconnect_deadline: None,
            now: Duration::ZERO,
            random: seed,
            outputs: VecDeque::new(),
        }
    }

    // ---- what the application asks ----

    /// The settings in force.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    /// Changes the settings (socket.io-client's `reconnection(false)` and friends); the
    /// new reconnection settings apply from the next attempt.
    pub fn set_config(&mut self, config: ManagerConfig) {
        let attempts = self.reconnection.attempts();
        self.reconnection = Reconnection::new(config.backoff, config.reconnection_attempts);
        self.reconnection.set_attempts(attempts);
        self.config = config;
    }

    /// Opens the connection if it is closed.
    pub fn open(&mut self, now: Duration) {
        self.now = now;
        self.skip_reconnect = false;
        self.open_engine();
    }

    /// Closes the connection and stops reconnecting.
    pub fn close(&mut self, now: Duration) {
        self.now = now;
        self.close_by_client();
    }

    /// Drops the Engine.IO connection as a network cut would (socket.io-client's
    /// `socket.io.engine.close()`): the sockets see "forced close", and the manager
    /// reconnects as after any loss. The close packet still tells the server.
    pub fn close_engine(&mut self, now: Duration) {
        self.now = now;
        self.close_engine_by_client();
        self.on_close(CloseReason::ForcedClose);
    }

    /// The socket of `namespace` (made on first use); returns the namespace as kept
    /// (with its leading `/`).
    pub fn socket(&mut self, namespace: &str) -> String {
        let namespace = if namespace.starts_with('/') {
            namespace.to_owned()
        } else {
            format!("/{namespace}")
        };
        self.sockets
            .entry(namespace.clone())
            .or_insert_with(|| Slot {
                client: SocketClient::new(&namespace),
                auth: false,
            });
        namespace
    }

    /// Whether `namespace` has a socket here.
    pub fn has_socket(&self, namespace: &str) -> bool {
        self.sockets.contains_key(namespace)
    }

    /// The socket of `namespace`, if made.
    pub fn socket_client(&self, namespace: &str) -> Option<&SocketClient> {
        self.sockets.get(namespace).map(|slot| &slot.client)
    }

    /// Whether each join of `namespace` first asks for its auth payload
    /// ([`ManagerOutput::Auth`]); if not, it joins without one.
    pub fn set_auth(&mut self, namespace: &str, ask: bool) {
        let namespace = self.socket(namespace);
        self.slot(&namespace).auth = ask;
    }

    /// Connects the socket of `namespace`: opens the connection if needed and joins.
    pub fn connect(&mut self, namespace: &str, now: Duration) {
        self.now = now;
        let namespace = self.socket(namespace);
        let slot = self.slot(&namespace);
        if slot.client.connected() {
            return;
        }
        // An active socket whose connection is down (lost, with reconnection off)
        // reopens it; the opened connection joins every active socket.
        let was_active = slot.client.active();
        slot.client.activate();
        if !self.reconnecting {
            self.skip_reconnect = false;
            self.open_engine();
        }
        if self.ready == ReadyState::Open && !was_active {
            self.join(&namespace);
        }
    }

    /// Leaves `namespace` ("io client disconnect"); the connection closes when no
    /// socket uses it any more.
    pub fn disconnect(&mut self, namespace: &str, now: Duration) {
        self.now = now;
        let Some(slot) = self.sockets.get_mut(namespace) else {
            return;
        };
        let outputs = slot.client.disconnect();
        self.socket_outputs(namespace, outputs);
        self.maybe_close();
    }

    /// Emits `name` on `namespace`; returns the ack id when `how.ack` asks for one (its
    /// answer comes as a [`SocketEvent::Ack`], or its failure).
    pub fn emit(
        &mut self,
        namespace: &str,
        name: &str,
        args: Args,
        how: Emit,
        now: Duration,
    ) -> Option<u64> {
        self.now = now;
        let slot = self.sockets.get_mut(namespace)?;
        let (packet, id) = slot.client.emit(name, args, how, now);
        if let Some(packet) = packet {
            self.write_socket(&packet);
        }
        id
    }

    /// Answers the server's event `id` on `namespace`; dropped unless the socket is
    /// still connected.
    pub fn ack(&mut self, namespace: &str, id: u64, args: Args, now: Duration) {
        self.now = now;
        let Some(slot) = self.sockets.get(namespace) else {
            return;
        };
        if slot.client.connected() {
            let packet = slot.client.ack(id, args);
            self.write_socket(&packet);
        }
    }

    /// The auth payload asked for by [`ManagerOutput::Auth`]: joins, unless the
    /// connection changed since it was asked or the socket no longer waits to join.
    pub fn auth(&mut self, namespace: &str, attempt: u64, auth: Option<Value>, now: Duration) {
        self.now = now;
        if attempt != self.attempt || self.ready != ReadyState::Open {
            return;
        }
        let timeout = self.join_timeout();
        let Some(slot) = self.sockets.get_mut(namespace) else {
            return;
        };
        if slot.client.active() && !slot.client.connected() {
            let packet = slot.client.join(auth, now, timeout);
            self.write_socket(&packet);
        }
    }

    // ---- what the driver reports ----

    /// An event of transport `id`; events of transports the manager let go of are
    /// ignored.
    pub fn on_transport(&mut self, id: TransportId, event: TransportEvent, now: Duration) {
        self.now = now;
        if self.transport.is_some_and(|(current, _)| current == id) {
            self.on_transport_event(event);
        } else if self.probe.is_some_and(|p| p.transport == id) {
            self.on_probe_event(event);
        } else {
            self.on_draining_event(id, event);
        }
    }

    /// When [`ManagerClient::poll`] has something to do: the open timeout, the next
    /// reconnection attempt, the heartbeat, a join, an ack, a close that cannot finish.
    pub fn deadline(&self) -> Option<Duration> {
        let engine = (self.ready == ReadyState::Open)
            .then(|| self.engine.deadline())
            .flatten();
        let open = self
            .open_deadline
            .filter(|_| self.ready == ReadyState::Opening);
        self.sockets
            .values()
            .filter_map(|slot| slot.client.deadline())
            .chain(self.draining.iter().filter_map(|d| d.engine.deadline()))
            .chain(engine)
            .chain(open)
            .chain(self.reconnect_deadline)
            .min()
    }

    /// Advances the clock to `now`: does what is due.
    pub fn poll(&mut self, now: Duration) {
        self.now = now;
        if self.ready == ReadyState::Opening && self.open_deadline.is_some_and(|d| now >= d) {
            self.open_deadline = None;
            self.open_failed("timeout");
        }
        if self.reconnect_deadline.is_some_and(|d| now >= d) {
            self.reconnect_deadline = None;
            if !self.skip_reconnect {
                let attempt = self.reconnection.attempts();
                self.notify(ManagerEvent::ReconnectAttempt(attempt));
                self.open_engine();
            }
        }
        if self.ready == ReadyState::Open {
            let outputs = self.engine.poll(now);
            self.engine_outputs(outputs);
        }
        let namespaces: Vec<String> = self.sockets.keys().cloned().collect();
        for ns in namespaces {
            let outputs = self.slot(&ns).client.poll(now);
            self.socket_outputs(&ns, outputs);
        }
        // A close that cannot finish its writes ends with the heartbeat.
        // (Backwards: an entry that ends is swapped with the last, already polled.)
        for i in (0..self.draining.len()).rev() {
            let d = &mut self.draining[i];
            let (id, outputs) = (d.transport, d.engine.poll(now));
            self.drain_outputs(id, outputs);
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<ManagerOutput> {
        self.outputs.pop_front()
    }

    // ---- what the driver may read ----

    /// The transport in use, if any.
    pub fn transport(&self) -> Option<TransportKind> {
        self.transport.map(|(_, kind)| kind)
    }

    /// The Engine.IO session id, once the handshake gave one.
    pub fn engine_id(&self) -> Option<&str> {
        self.engine.open_packet().map(|h| h.sid.as_str())
    }

    /// Whether the connection is open.
    pub fn is_open(&self) -> bool {
        self.ready == ReadyState::Open
    }

    /// Whether the manager is between reconnection attempts.
    pub fn reconnecting(&self) -> bool {
        self.reconnecting
    }

    /// The connection attempts made (the attempt an [`ManagerOutput::Auth`] names).
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    /// The [`engine_url`] of a transport of this manager.
    pub fn engine_url(&self, kind: TransportKind, sid: Option<&str>) -> String {
        engine_url(&self.origin, &self.config, kind, sid)
    }

    // ---- the rules ----

    fn slot(&mut self, namespace: &str) -> &mut Slot {
        self.sockets
            .get_mut(namespace)
            .expect("namespaces come from the socket map")
    }

    fn notify(&mut self, event: ManagerEvent) {
        self.outputs.push_back(ManagerOutput::Event(event));
    }

    fn notify_socket(&mut self, namespace: &str, event: SocketEvent) {
        self.outputs.push_back(ManagerOutput::Socket {
            namespace: namespace.to_owned(),
            event,
        });
    }

    fn next_random(&mut self) -> f64 {
        // splitmix64; the top 53 bits as a fraction in [0, 1).
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn new_transport(&mut self, kind: TransportKind, sid: Option<&str>) -> TransportId {
        self.transports += 1;
        let id = TransportId(self.transports);
        let url = self.engine_url(kind, sid);
        self.outputs.push_back(ManagerOutput::Open {
            transport: id,
            kind,
            url,
        });
        id
    }

    fn close_transport(&mut self, transport: TransportId) {
        self.outputs.push_back(ManagerOutput::Close { transport });
    }

    fn write(&mut self, transport: TransportId, packets: Vec<EnginePacket>) {
        self.outputs
            .push_back(ManagerOutput::Write { transport, packets });
    }

    fn join_timeout(&self) -> Duration {
        self.config.timeout.max(Duration::from_millis(1))
    }

    fn reconnection_wanted(&self) -> bool {
        self.config.reconnection && !self.skip_reconnect
    }

    fn open_engine(&mut self) {
        if self.ready != ReadyState::Closed {
            return;
        }
        self.ready = ReadyState::Opening;
        self.attempt += 1;
        self.engine = EngineClient::new();
        self.decoder = Decoder::default();
        let kind = match self.config.transports.first() {
            Some(TransportKind::WebSocket) => {
                self.engine.use_websocket();
                TransportKind::WebSocket
            }
            _ => TransportKind::Polling,
        };
        let id = self.new_transport(kind, None);
        self.transport = Some((id, kind));
        self.open_deadline =
            (!self.config.timeout.is_zero()).then(|| self.now + self.config.timeout);
    }

    /// Opening failed before the handshake: tell everyone, then maybe try again. The
    /// order is socket.io-client's: the sockets' `connect_error`, the manager's `error`;
    /// during a reconnection, the next attempt is scheduled (or `reconnect_failed`)
    /// before `reconnect_error`.
    fn open_failed(&mut self, error: &str) {
        self.discard_transports();
        self.ready = ReadyState::Closed;
        let waiting: Vec<String> = self
            .sockets
            .iter()
            .filter(|(_, slot)| slot.client.active() && !slot.client.connected())
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in waiting {
            let event = SocketEvent::ConnectError {
                message: error.to_owned(),
                data: None,
            };
            self.notify_socket(&ns, event);
        }
        self.notify(ManagerEvent::Error(error.to_owned()));
        if self.reconnecting {
            self.reconnecting = false;
            self.reconnect();
            self.notify(ManagerEvent::ReconnectError(error.to_owned()));
        } else if self.reconnection_wanted() && self.reconnection.attempts() == 0 {
            self.reconnect();
        }
    }

    /// Lets go of the transport and the probe (a draining connection goes on).
    fn discard_transports(&mut self) {
        if let Some((id, _)) = self.transport.take() {
            self.close_transport(id);
        }
        if let Some(probe) = self.probe.take() {
            self.close_transport(probe.transport);
        }
        self.open_deadline = None;
    }

    fn on_transport_event(&mut self, event: TransportEvent) {
        match event {
            TransportEvent::Opened => {}
            TransportEvent::Packet(packet) => {
                let outputs = self.engine.on_packet(packet, self.now);
                self.engine_outputs(outputs);
            }
            TransportEvent::Written => {
                let outputs = self.engine.on_written();
                self.engine_outputs(outputs);
            }
            TransportEvent::Paused => self.finish_upgrade(),
            TransportEvent::Closed { error } => {
                if self.ready == ReadyState::Opening {
                    let error = match self.transport {
                        Some((_, TransportKind::WebSocket)) => "websocket error",
                        _ => "xhr poll error",
                    };
                    self.open_failed(error);
                } else {
                    let outputs = self.engine.on_transport_close(error);
                    self.engine_outputs(outputs);
                }
            }
        }
    }

    fn engine_outputs(&mut self, outputs: Vec<EngineOutput>) {
        for output in outputs {
            match output {
                EngineOutput::Open(handshake) => self.on_open(&handshake.upgrades),
                EngineOutput::Write(packets) => {
                    let Some((id, kind)) = self.transport else {
                        continue;
                    };
                    self.write(id, packets);
                    // A WebSocket takes a write at once.
                    if kind == TransportKind::WebSocket {
                        let outputs = self.engine.on_written();
                        self.engine_outputs(outputs);
                    }
                }
                EngineOutput::Message(packet) => self.on_message(packet),
                EngineOutput::Closed(reason) => self.on_close(reason),
            }
        }
    }

    fn on_open(&mut self, upgrades: &[String]) {
        self.ready = ReadyState::Open;
        self.open_deadline = None;
        self.notify(ManagerEvent::Open);
        let active: Vec<String> = self
            .sockets
            .iter()
            .filter(|(_, slot)| slot.client.active())
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in active {
            self.join(&ns);
        }
        if self.reconnecting {
            self.reconnecting = false;
            let attempts = self.reconnection.attempts();
            self.reconnection.reset();
            self.notify(ManagerEvent::Reconnect(attempts));
        } else {
            self.reconnection.reset();
        }
        let can_upgrade = matches!(self.transport, Some((_, TransportKind::Polling)))
            && self.config.upgrade
            && self.config.transports.contains(&TransportKind::WebSocket)
            && upgrades
                .iter()
                .any(|u| u == TransportKind::WebSocket.name());
        if can_upgrade {
            self.start_probe();
        }
    }

    /// Sends the CONNECT for `namespace`, or first asks for its auth payload.
    fn join(&mut self, namespace: &str) {
        let (now, timeout, attempt) = (self.now, self.join_timeout(), self.attempt);
        let slot = self.slot(namespace);
        if slot.auth {
            self.outputs.push_back(ManagerOutput::Auth {
                namespace: namespace.to_owned(),
                attempt,
            });
        } else {
            let packet = slot.client.join(None, now, timeout);
            self.write_socket(&packet);
        }
    }

    fn start_probe(&mut self) {
        let sid = self.engine.open_packet().map(|h| h.sid.clone());
        let transport = self.new_transport(TransportKind::WebSocket, sid.as_deref());
        self.probe = Some(ProbeState {
            transport,
            passed: false,
        });
    }

    fn on_probe_event(&mut self, event: TransportEvent) {
        let Some(probe) = self.probe else {
            return;
        };
        if self.ready != ReadyState::Open {
            return;
        }
        match event {
            TransportEvent::Opened => self.write(probe.transport, vec![Probe::start()]),
            TransportEvent::Packet(packet) if Probe::passed(&packet) => {
                let Some((polling, TransportKind::Polling)) = self.transport else {
                    return;
                };
                // Writes wait while polling drains.
                self.engine.pause();
                self.probe = Some(ProbeState {
                    passed: true,
                    ..probe
                });
                self.outputs
                    .push_back(ManagerOutput::Pause { transport: polling });
            }
            TransportEvent::Written | TransportEvent::Paused => {}
            TransportEvent::Packet(_) | TransportEvent::Closed { .. } => {
                // The probe failed: stay on polling.
                self.probe = None;
                self.close_transport(probe.transport);
                if let Some((polling, TransportKind::Polling)) = self.transport {
                    if probe.passed {
                        self.outputs
                            .push_back(ManagerOutput::Resume { transport: polling });
                    }
                }
                let outputs = self.engine.resume();
                self.engine_outputs(outputs);
            }
        }
    }

    /// Polling is paused: the probe's WebSocket becomes the transport.
    fn finish_upgrade(&mut self) {
        let Some(probe) = self.probe.filter(|p| p.passed) else {
            return;
        };
        if self.ready != ReadyState::Open {
            return;
        }
        self.probe = None;
        self.write(probe.transport, vec![Probe::finish()]);
        if let Some((old, _)) = self
            .transport
            .replace((probe.transport, TransportKind::WebSocket))
        {
            self.close_transport(old);
        }
        self.engine.use_websocket();
        let outputs = self.engine.resume();
        self.engine_outputs(outputs);
        self.notify(ManagerEvent::Upgrade);
    }

    fn write_socket(&mut self, packet: &Packet) {
        let encoded = packet.encode();
        let mut outputs = self.engine.send(EnginePacket::Message(encoded.text));
        for attachment in encoded.attachments {
            outputs.extend(self.engine.send(EnginePacket::Binary(attachment)));
        }
        self.engine_outputs(outputs);
    }

    fn on_message(&mut self, packet: EnginePacket) {
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
                    self.socket_outputs(&ns, outputs);
                    self.maybe_close();
                }
            }
            Ok(None) => {}
            // socket.io-client closes the connection on a packet it cannot read.
            Err(_) => {
                self.close_engine_by_client();
                self.on_close(CloseReason::ParseError);
            }
        }
    }

    fn socket_outputs(&mut self, namespace: &str, outputs: Vec<SocketOutput>) {
        for output in outputs {
            match output {
                SocketOutput::Send(packet) => self.write_socket(&packet),
                SocketOutput::Event(event) => self.notify_socket(namespace, event),
            }
        }
    }

    /// The connection closed under the sockets: tell them, then maybe reconnect.
    fn on_close(&mut self, reason: CloseReason) {
        if self.ready == ReadyState::Closed {
            return;
        }
        self.discard_transports();
        self.ready = ReadyState::Closed;
        let namespaces: Vec<String> = self.sockets.keys().cloned().collect();
        for ns in namespaces {
            let outputs = self.slot(&ns).client.on_engine_close(reason.as_str());
            self.socket_outputs(&ns, outputs);
        }
        self.notify(ManagerEvent::Close(reason));
        if self.reconnection_wanted() {
            self.reconnect();
        }
    }

    /// Schedules the next reconnection attempt, or gives up.
    fn reconnect(&mut self) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        let random = self.next_random();
        let Some(delay) = self.reconnection.next_delay(random) else {
            self.reconnection.reset();
            self.notify(ManagerEvent::ReconnectFailed);
            return;
        };
        self.reconnecting = true;
        self.reconnect_deadline = Some(self.now + delay);
    }

    /// Closes the connection once no socket wants it (socket.io-client's `_destroy`).
    fn maybe_close(&mut self) {
        if self.sockets.values().any(|slot| slot.client.active()) {
            return;
        }
        self.close_by_client();
    }

    fn close_by_client(&mut self) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.reconnect_deadline = None;
        self.reconnection.reset();
        self.close_engine_by_client();
        if self.ready == ReadyState::Opening {
            self.discard_transports();
            self.ready = ReadyState::Closed;
        }
        self.on_close(CloseReason::ForcedClose);
    }

    /// Closes the connection the way the client does, without losing what was sent on
    /// it: its engine and transport finish the writes and the close packet on their own
    /// ([`Draining`]), while the manager moves on at once (as socket.io-client's does).
    fn close_engine_by_client(&mut self) {
        let Some((transport, kind)) = self.transport.take() else {
            return;
        };
        let mut engine = std::mem::take(&mut self.engine);
        let outputs = engine.close_by_client();
        // From here on, this transport's events go to the draining engine.
        self.draining.push(Draining {
            transport,
            kind,
            engine,
        });
        self.drain_outputs(transport, outputs);
    }

    fn on_draining_event(&mut self, id: TransportId, event: TransportEvent) {
        let now = self.now;
        let Some(d) = self.draining.iter_mut().find(|d| d.transport == id) else {
            return;
        };
        let outputs = match event {
            TransportEvent::Written => d.engine.on_written(),
            TransportEvent::Packet(packet) => d.engine.on_packet(packet, now),
            TransportEvent::Closed { error } => d.engine.on_transport_close(error),
            TransportEvent::Opened | TransportEvent::Paused => Vec::new(),
        };
        self.drain_outputs(id, outputs);
    }

    /// Does what the draining engine of transport `id` says.
    fn drain_outputs(&mut self, id: TransportId, outputs: Vec<EngineOutput>) {
        for output in outputs {
            let Some(i) = self.draining.iter().position(|d| d.transport == id) else {
                return;
            };
            match output {
                EngineOutput::Write(packets) => {
                    self.write(id, packets);
                    if self.draining[i].kind == TransportKind::WebSocket {
                        let outputs = self.draining[i].engine.on_written();
                        self.drain_outputs(id, outputs);
                    }
                }
                // Everything is written (or can no longer be): the transport ends.
                EngineOutput::Closed(_) => {
                    self.draining.swap_remove(i);
                    self.close_transport(id);
                }
                EngineOutput::Open(_) | EngineOutput::Message(_) => {}
            }
        }
    }
}
