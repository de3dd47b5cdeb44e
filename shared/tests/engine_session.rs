//! The client's and the server's Engine.IO state machines talking to each other in
//! memory: the client's `ManagerClient` (its engine, the upgrade, reconnection) against
//! the server's `ServerSession` and `UpgradeProbe`, through a simulated network (long
//! polling with one pending GET, WebSockets), on a fake clock. No sockets, no sleeps:
//! every run is the same.
//!
//! The simulated server does what the tokio driver does and nothing more: it queues
//! what the machine wants sent behind the application's frames, hands a pending GET
//! everything queued, drops a noop on a WebSocket, and tells a polling client of a
//! close with the machine's farewell.

use sockeye_protocol::client::{
    ManagerClient, ManagerConfig, ManagerEvent, ManagerOutput, TransportEvent, TransportId,
    TransportKind,
};
use sockeye_protocol::engine::{
    CloseReason, Packet, ProbeStep, Received, ServerSession, SessionConfig, Transport, UpgradeProbe,
};
use sockeye_protocol::Backoff;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(200);

fn server_config() -> SessionConfig {
    SessionConfig {
        ping_interval: PING_INTERVAL,
        ping_timeout: PING_TIMEOUT,
        upgrade_timeout: ms(1000),
        max_payload: 100_000,
    }
}

/// One server session and what the simulated driver keeps beside it.
struct Session {
    sid: String,
    machine: ServerSession,
    /// Frames waiting for the transport: the application's and the machine's.
    outbox: VecDeque<Packet>,
    /// The client's polling transport, and its WebSocket once upgraded.
    polling: Option<TransportId>,
    websocket: Option<TransportId>,
    /// The upgrade under way: the client's new WebSocket and the probe's rules.
    probe: Option<(TransportId, UpgradeProbe)>,
    /// What the application got.
    received: Vec<String>,
}

/// A transport as the client's driver sees it.
#[derive(Debug, Clone)]
struct Wire {
    kind: TransportKind,
    sid: String,
    /// Polling: a GET waits at the server.
    get_pending: bool,
    /// Polling: the client asked to pause; no new GET.
    pausing: bool,
}

/// The network between one client and the server, with the clock.
struct Net {
    now: Duration,
    client: ManagerClient,
    wires: BTreeMap<TransportId, Wire>,
    sessions: BTreeMap<String, Session>,
    /// How the sessions that ended ended, in order.
    ended: Vec<(String, CloseReason)>,
    /// Sessions still open when the client closed their transport under them.
    cut_off: Vec<String>,
    /// What the client's manager told the application, with the time.
    events: Vec<(Duration, ManagerEvent)>,
    /// The server takes no connections (it is down).
    down: bool,
    /// Nothing gets through in either direction (a cut cable).
    cut: bool,
    next_sid: u32,
}

impl Net {
    fn new(config: ManagerConfig) -> Net {
        Net {
            now: Duration::ZERO,
            client: ManagerClient::new("http://server", config, 7),
            wires: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ended: Vec::new(),
            cut_off: Vec::new(),
            events: Vec::new(),
            down: false,
            cut: false,
            next_sid: 0,
        }
    }

    /// A client that opens on polling and upgrades, as socket.io-client does.
    fn open() -> Net {
        let mut net = Net::new(config());
        net.client.open(net.now);
        net.settle();
        net
    }

    /// The one live session.
    fn session(&mut self) -> &mut Session {
        assert_eq!(self.sessions.len(), 1, "one live session");
        self.sessions.values_mut().next().expect("a session")
    }

    fn events(&self) -> Vec<ManagerEvent> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }

    fn tell_client(&mut self, id: TransportId, event: TransportEvent) {
        self.client.on_transport(id, event, self.now);
    }

    /// Runs until nothing moves without the clock.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(output) = self.client.poll_output() {
                moved = true;
                self.on_client_output(output);
            }
            moved |= self.server_flush();
            if !moved {
                return;
            }
        }
        panic!("the machines never settle");
    }

    /// Advances the clock to `until`, stopping at every deadline on the way.
    fn run_until(&mut self, until: Duration) {
        loop {
            self.settle();
            let server = self.sessions.values().flat_map(|s| {
                let probe = s.probe.as_ref().map(|(_, p)| p.deadline());
                s.machine.poll_timeout().into_iter().chain(probe)
            });
            let next = server.chain(self.client.deadline()).min();
            match next {
                Some(next) if next <= until => {
                    self.now = self.now.max(next);
                    let now = self.now;
                    self.client.poll(now);
                    for s in self.sessions.values_mut() {
                        s.machine.handle_timeout(now);
                        if let Some((_, probe)) = s.probe.as_mut() {
                            if probe.handle_timeout(now) == Some(ProbeStep::Failed) {
                                s.machine.on_upgrade_failed();
                            }
                        }
                    }
                    let failed: Vec<(TransportId, String)> = self
                        .sessions
                        .values()
                        .filter(|s| s.machine.transport() == Transport::Polling)
                        .filter_map(|s| s.probe.as_ref().map(|(id, _)| (*id, s.sid.clone())))
                        .collect();
                    for (id, sid) in failed {
                        self.sessions.get_mut(&sid).expect("live").probe = None;
                        self.wires.remove(&id);
                        self.tell_client(id, TransportEvent::Closed { error: false });
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        self.settle();
    }

    fn new_session(&mut self, transport: Transport) -> String {
        self.next_sid += 1;
        let sid = format!("s{}", self.next_sid);
        let machine = ServerSession::new(server_config(), transport, self.now);
        self.sessions.insert(
            sid.clone(),
            Session {
                sid: sid.clone(),
                machine,
                outbox: VecDeque::new(),
                polling: None,
                websocket: None,
                probe: None,
                received: Vec::new(),
            },
        );
        sid
    }

    fn on_client_output(&mut self, output: ManagerOutput) {
        match output {
            ManagerOutput::Open {
                transport,
                kind,
                url,
            } => self.open_transport(transport, kind, &url),
            ManagerOutput::Write { transport, packets } => {
                if self.cut {
                    return;
                }
                self.client_wrote(transport, packets);
            }
            ManagerOutput::Pause { transport } => {
                let Some(wire) = self.wires.get_mut(&transport) else {
                    return;
                };
                wire.pausing = true;
                if !wire.get_pending {
                    self.tell_client(transport, TransportEvent::Paused);
                }
            }
            ManagerOutput::Resume { transport } => {
                if let Some(wire) = self.wires.get_mut(&transport) {
                    wire.pausing = false;
                    wire.get_pending = true;
                }
            }
            ManagerOutput::Close { transport } => self.client_closed(transport),
            ManagerOutput::Event(event) => self.events.push((self.now, event)),
            ManagerOutput::Socket { .. } | ManagerOutput::Auth { .. } => {}
        }
    }

    fn open_transport(&mut self, id: TransportId, kind: TransportKind, url: &str) {
        if self.down || self.cut {
            self.tell_client(id, TransportEvent::Closed { error: true });
            return;
        }
        let sid = url.split("&sid=").nth(1).map(str::to_owned);
        match (kind, sid) {
            (TransportKind::Polling, None) => {
                // The handshake GET: its answer is the open packet; the next GET waits.
                let sid = self.new_session(Transport::Polling);
                let session = self.sessions.get_mut(&sid).expect("new");
                session.polling = Some(id);
                let open = session.machine.open_packet(&sid);
                self.wires.insert(
                    id,
                    Wire {
                        kind,
                        sid,
                        get_pending: true,
                        pausing: false,
                    },
                );
                self.tell_client(id, TransportEvent::Packet(open));
            }
            (TransportKind::WebSocket, None) => {
                let sid = self.new_session(Transport::WebSocket);
                let session = self.sessions.get_mut(&sid).expect("new");
                session.websocket = Some(id);
                let open = session.machine.open_packet(&sid);
                self.wires.insert(
                    id,
                    Wire {
                        kind,
                        sid,
                        get_pending: false,
                        pausing: false,
                    },
                );
                self.tell_client(id, TransportEvent::Opened);
                self.tell_client(id, TransportEvent::Packet(open));
            }
            (TransportKind::WebSocket, Some(sid)) => {
                let now = self.now;
                let Some(session) = self.sessions.get_mut(&sid) else {
                    self.tell_client(id, TransportEvent::Closed { error: true });
                    return;
                };
                if !session.machine.begin_upgrade() {
                    self.tell_client(id, TransportEvent::Closed { error: false });
                    return;
                }
                let timeout = session.machine.config().upgrade_timeout;
                session.probe = Some((id, UpgradeProbe::new(timeout, now)));
                self.wires.insert(
                    id,
                    Wire {
                        kind,
                        sid,
                        get_pending: false,
                        pausing: false,
                    },
                );
                self.tell_client(id, TransportEvent::Opened);
            }
            (TransportKind::Polling, Some(_)) => unreachable!("the client opens polling once"),
        }
    }

    fn client_wrote(&mut self, id: TransportId, packets: Vec<Packet>) {
        let Some(wire) = self.wires.get(&id).cloned() else {
            return;
        };
        let now = self.now;
        let Some(session) = self.sessions.get_mut(&wire.sid) else {
            // The session is gone: a POST gets HTTP 400, a WebSocket is closed.
            self.wires.remove(&id);
            self.tell_client(id, TransportEvent::Closed { error: true });
            return;
        };
        let mut answers = Vec::new();
        if session
            .probe
            .as_ref()
            .is_some_and(|(probe, _)| *probe == id)
        {
            for packet in packets {
                let (_, probe) = session.probe.as_mut().expect("probing");
                match probe.on_packet(Some(packet)) {
                    ProbeStep::Answer(answer) => answers.push(answer),
                    ProbeStep::Probed { answer, flush } => {
                        answers.push(answer);
                        session.outbox.push_back(flush);
                    }
                    ProbeStep::Upgraded => {
                        session.probe = None;
                        let get_pending = session
                            .polling
                            .and_then(|p| self.wires.get(&p))
                            .is_some_and(|w| w.get_pending);
                        session.machine.on_upgraded(get_pending);
                        session.websocket = Some(id);
                        pump(session);
                    }
                    ProbeStep::Failed => {
                        session.probe = None;
                        session.machine.on_upgrade_failed();
                        self.wires.remove(&id);
                        self.tell_client(id, TransportEvent::Closed { error: false });
                        return;
                    }
                }
            }
        } else {
            for packet in packets {
                match session.machine.on_packet(packet, now) {
                    Received::Text(text) => session.received.push(text),
                    Received::Binary(_) | Received::Control => {}
                    Received::Closed(_) => break,
                }
            }
        }
        for answer in answers {
            self.tell_client(id, TransportEvent::Packet(answer));
        }
        if wire.kind == TransportKind::Polling {
            self.tell_client(id, TransportEvent::Written);
        }
    }

    fn client_closed(&mut self, id: TransportId) {
        let Some(wire) = self.wires.remove(&id) else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&wire.sid) else {
            return;
        };
        let current = session.websocket == Some(id)
            || (session.polling == Some(id) && session.machine.transport().polls());
        if current && session.machine.closed().is_none() {
            self.cut_off.push(wire.sid.clone());
        }
        if session
            .probe
            .as_ref()
            .is_some_and(|(probe, _)| *probe == id)
        {
            session.probe = None;
            session.machine.on_upgrade_failed();
        } else if session.websocket == Some(id) {
            session.machine.on_transport_close(false);
        } else if wire.get_pending && session.machine.transport().polls() {
            // A client that gives up on its pending GET has gone away.
            session.machine.close(CloseReason::TransportClose);
        }
    }

    /// The server's side of the network: queues what the machines want sent, hands it
    /// to the transports, and ends closed sessions. Whether anything moved.
    fn server_flush(&mut self) -> bool {
        let mut moved = false;
        let sids: Vec<String> = self.sessions.keys().cloned().collect();
        for sid in sids {
            let session = self.sessions.get_mut(&sid).expect("live");
            pump(session);
            let closed = session.machine.closed();
            if closed.is_some() {
                let polling = session.polling;
                let get_pending = polling
                    .and_then(|p| self.wires.get(&p))
                    .is_some_and(|w| w.get_pending);
                if let Some(last) = session.machine.farewell(|| get_pending) {
                    session.outbox.push_back(last);
                }
            }
            if !self.cut {
                moved |= self.deliver(&sid);
            }
            if let Some(reason) = closed {
                let session = self.sessions.remove(&sid).expect("live");
                self.ended.push((sid.clone(), reason));
                moved = true;
                if let Some((probe, _)) = session.probe {
                    self.wires.remove(&probe);
                    self.tell_client(probe, TransportEvent::Closed { error: false });
                }
                // A WebSocket gets its close frame.
                if let Some(ws) = session.websocket {
                    if !self.cut && self.wires.remove(&ws).is_some() {
                        self.tell_client(ws, TransportEvent::Closed { error: false });
                    }
                }
            }
        }
        // A GET for a session that is gone gets HTTP 400.
        let orphans: Vec<TransportId> = self
            .wires
            .iter()
            .filter(|(_, w)| w.get_pending && !self.sessions.contains_key(&w.sid))
            .map(|(id, _)| *id)
            .collect();
        if !self.cut {
            for id in orphans {
                self.wires.remove(&id);
                self.tell_client(id, TransportEvent::Closed { error: true });
                moved = true;
            }
        }
        moved
    }

    /// Hands what is queued to the session's transport; whether anything went.
    fn deliver(&mut self, sid: &str) -> bool {
        let session = self.sessions.get_mut(sid).expect("live");
        if session.outbox.is_empty() {
            return false;
        }
        let on_websocket = session.machine.transport() == Transport::WebSocket;
        if let (true, Some(ws)) = (on_websocket, session.websocket) {
            let packets: Vec<Packet> = session.outbox.drain(..).collect();
            for packet in packets {
                // A noop only ends a pending GET; it means nothing on a WebSocket.
                if packet != Packet::Noop {
                    self.tell_client(ws, TransportEvent::Packet(packet));
                }
            }
            return true;
        }
        let Some(polling) = session.polling else {
            return false;
        };
        let Some(wire) = self.wires.get_mut(&polling) else {
            return false;
        };
        if !wire.get_pending {
            return false;
        }
        // The pending GET returns with everything queued; the client polls again
        // unless it is pausing for the upgrade.
        let packets: Vec<Packet> = session.outbox.drain(..).collect();
        wire.get_pending = false;
        for packet in packets {
            self.tell_client(polling, TransportEvent::Packet(packet));
        }
        if let Some(wire) = self.wires.get_mut(&polling) {
            if wire.pausing {
                self.tell_client(polling, TransportEvent::Paused);
            } else {
                wire.get_pending = true;
            }
        }
        true
    }

    /// The server's application sends a message to the session.
    fn server_send(&mut self, text: &str) {
        self.session()
            .outbox
            .push_back(Packet::Message(text.into()));
        self.settle();
    }

    /// The client's application sends a message (an engine-level one, through the
    /// manager's socket would need a namespace; a CONNECT is one).
    fn client_connects(&mut self) {
        let now = self.now;
        self.client.connect("/", now);
        self.settle();
    }
}

/// Queues the control packets the machine wants sent, behind what is queued.
fn pump(session: &mut Session) {
    while let Some(packet) = session.machine.poll_transmit() {
        session.outbox.push_back(packet);
    }
}

fn config() -> ManagerConfig {
    ManagerConfig {
        backoff: Backoff {
            min: ms(100),
            max: ms(400),
            factor: 2.0,
            jitter: 0.0,
        },
        timeout: ms(5000),
        ..ManagerConfig::default()
    }
}

#[test]
fn opens_on_polling_and_upgrades_at_once() {
    let net = Net::open();
    assert_eq!(net.events(), [ManagerEvent::Open, ManagerEvent::Upgrade]);
    // The probe, the noop that returns the pending GET, and the upgrade packet all
    // happen without the clock moving: nothing waits for a ping to end the GET.
    assert!(net.events.iter().all(|(at, _)| *at == Duration::ZERO));
    let session = net.sessions.values().next().expect("a session");
    assert_eq!(session.machine.transport(), Transport::WebSocket);
    assert_eq!(net.client.transport(), Some(TransportKind::WebSocket));
    // Polling is over: its transport was closed, and no GET was left behind.
    assert_eq!(net.wires.len(), 1);
}

#[test]
fn messages_go_both_ways_after_the_upgrade() {
    let mut net = Net::open();
    net.client_connects();
    assert_eq!(net.session().received, ["0"]);
    net.server_send("0{\"sid\":\"a\"}");
    net.run_until(ms(1));
    assert!(net.client.socket_client("/").expect("made").connected());
}

#[test]
fn a_polling_client_without_upgrade_gets_the_server_messages() {
    let mut net = Net::new(ManagerConfig {
        upgrade: false,
        ..config()
    });
    net.client.connect("/", Duration::ZERO);
    net.settle();
    assert_eq!(net.session().machine.transport(), Transport::Polling);
    assert_eq!(net.session().received, ["0"]);
    net.server_send("0{\"sid\":\"a\"}");
    assert!(net.client.socket_client("/").expect("made").connected());
}

#[test]
fn the_heartbeat_keeps_both_ends_open() {
    for upgrade in [false, true] {
        let mut net = Net::new(ManagerConfig {
            upgrade,
            ..config()
        });
        net.client.open(Duration::ZERO);
        net.run_until(PING_INTERVAL * 20);
        assert!(net.ended.is_empty(), "upgrade {upgrade}: {:?}", net.ended);
        assert!(net.client.is_open());
        assert!(!net
            .events()
            .iter()
            .any(|e| matches!(e, ManagerEvent::Close(_))));
    }
}

#[test]
fn a_silent_peer_times_out_on_both_sides() {
    for upgrade in [false, true] {
        let mut net = Net::new(ManagerConfig {
            upgrade,
            reconnection: false,
            ..config()
        });
        net.client.open(Duration::ZERO);
        net.run_until(PING_INTERVAL + ms(10));
        net.cut = true;
        net.run_until(PING_INTERVAL * 10);
        // The server pinged at 600 ms and got no pong: closed at 800 ms.
        assert_eq!(net.ended, [("s1".to_owned(), CloseReason::PingTimeout)]);
        // The client's last ping came at 300 ms: it gives up at 300 + 300 + 200 ms.
        let closes: Vec<_> = net
            .events
            .iter()
            .filter(|(_, e)| matches!(e, ManagerEvent::Close(_)))
            .cloned()
            .collect();
        assert_eq!(
            closes,
            [(ms(800), ManagerEvent::Close(CloseReason::PingTimeout))],
            "upgrade {upgrade}"
        );
    }
}

#[test]
fn the_server_closes_and_the_client_hears_it() {
    for upgrade in [false, true] {
        let mut net = Net::new(ManagerConfig {
            upgrade,
            reconnection: false,
            ..config()
        });
        net.client.open(Duration::ZERO);
        net.settle();
        net.session().machine.close(CloseReason::ForcedClose);
        net.settle();
        assert_eq!(net.ended, [("s1".to_owned(), CloseReason::ForcedClose)]);
        // On polling the pending GET returns the close packet; on a WebSocket the close
        // frame ends it. Either way the client sees "transport close".
        assert_eq!(
            net.events().last(),
            Some(&ManagerEvent::Close(CloseReason::TransportClose)),
            "upgrade {upgrade}"
        );
    }
}

#[test]
fn the_client_closes_and_the_server_hears_it() {
    for upgrade in [false, true] {
        let mut net = Net::new(ManagerConfig {
            upgrade,
            ..config()
        });
        net.client.open(Duration::ZERO);
        net.settle();
        net.client.close(net.now);
        net.run_until(ms(2000));
        // The close packet reached the server, and closed the session, before the
        // transport ended.
        assert_eq!(
            net.ended,
            [("s1".to_owned(), CloseReason::TransportClose)],
            "upgrade {upgrade}"
        );
        assert!(
            net.cut_off.is_empty(),
            "upgrade {upgrade}: {:?}",
            net.cut_off
        );
        assert_eq!(
            net.events().last(),
            Some(&ManagerEvent::Close(CloseReason::ForcedClose))
        );
        assert!(net.wires.is_empty(), "every transport ended");
        // And no reconnection follows a close the client asked for.
        assert!(net.sessions.is_empty());
    }
}

#[test]
fn the_client_reconnects_after_the_server_drops() {
    let mut net = Net::open();
    // The server goes away: its session ends, and new connections are refused.
    net.down = true;
    net.session().machine.close(CloseReason::ServerShuttingDown);
    net.settle();
    assert_eq!(
        net.events().last(),
        Some(&ManagerEvent::Close(CloseReason::TransportClose))
    );
    // Attempts fail while it is down (100 ms, then 200 ms, then 400 ms apart).
    net.run_until(ms(750));
    assert_eq!(
        net.events()[3..],
        [
            ManagerEvent::ReconnectAttempt(1),
            ManagerEvent::Error("xhr poll error".into()),
            ManagerEvent::ReconnectError("xhr poll error".into()),
            ManagerEvent::ReconnectAttempt(2),
            ManagerEvent::Error("xhr poll error".into()),
            ManagerEvent::ReconnectError("xhr poll error".into()),
            ManagerEvent::ReconnectAttempt(3),
            ManagerEvent::Error("xhr poll error".into()),
            ManagerEvent::ReconnectError("xhr poll error".into()),
        ]
    );
    // Back up: the next attempt opens a new session, and upgrades it too.
    net.down = false;
    net.run_until(ms(1200));
    let events = net.events();
    assert_eq!(
        events[events.len() - 4..],
        [
            ManagerEvent::ReconnectAttempt(4),
            ManagerEvent::Open,
            ManagerEvent::Reconnect(4),
            ManagerEvent::Upgrade,
        ]
    );
    assert_eq!(net.session().sid, "s2");
    assert_eq!(net.session().machine.transport(), Transport::WebSocket);
}

#[test]
fn an_upgrade_that_never_completes_leaves_polling_alone() {
    let mut net = Net::new(config());
    net.client.open(Duration::ZERO);
    // Let the handshake through, then lose the probe's WebSocket answers: the server
    // gives the upgrade up after its timeout, and the session goes on polling.
    while let Some(output) = net.client.poll_output() {
        let probe = matches!(
            output,
            ManagerOutput::Open {
                kind: TransportKind::WebSocket,
                ..
            }
        );
        net.on_client_output(output);
        if probe {
            break;
        }
    }
    let (probe, _) = net
        .wires
        .iter()
        .find(|(_, w)| w.kind == TransportKind::WebSocket)
        .map(|(id, w)| (*id, w.clone()))
        .expect("the probe's WebSocket");
    // The client's probe never arrives.
    net.wires.get_mut(&probe).expect("probe").sid = "lost".into();
    net.run_until(ms(1500));
    assert_eq!(net.session().machine.transport(), Transport::Polling);
    assert!(net.ended.is_empty());
    assert!(net.client.is_open());
}

#[test]
fn a_websocket_only_client_opens_pings_and_closes() {
    let mut net = Net::new(ManagerConfig {
        transports: vec![TransportKind::WebSocket],
        reconnection: false,
        ..config()
    });
    net.client.connect("/", Duration::ZERO);
    net.settle();
    assert_eq!(net.events(), [ManagerEvent::Open]);
    assert_eq!(net.session().machine.transport(), Transport::WebSocket);
    assert_eq!(net.session().received, ["0"]);
    net.run_until(PING_INTERVAL * 5);
    assert!(net.ended.is_empty());
    // The network drops the WebSocket under both ends.
    let ws = net.session().websocket.expect("a websocket");
    net.client_closed(ws);
    net.tell_client(ws, TransportEvent::Closed { error: true });
    net.settle();
    assert_eq!(net.ended, [("s1".to_owned(), CloseReason::TransportClose)]);
    assert_eq!(
        net.events().last(),
        Some(&ManagerEvent::Close(CloseReason::TransportError))
    );
}

#[test]
fn a_second_upgrade_is_refused_and_the_first_goes_on() {
    let mut net = Net::new(config());
    net.client.open(Duration::ZERO);
    net.settle();
    let session = net.session();
    assert_eq!(session.machine.transport(), Transport::WebSocket);
    assert!(!session.machine.begin_upgrade());
    assert_eq!(session.machine.transport(), Transport::WebSocket);
}
