//! The client manager's rules, driven in memory: the test plays the transports and the
//! server (packets written as their Engine.IO text, `"2probe"`, `"0/chat,{...}"`) and
//! the clock, and checks what the manager asks the driver to do, in order.

use sockeye_protocol::client::{
    encode_uri_component, engine_url, Emit, ManagerClient, ManagerConfig, ManagerEvent,
    ManagerOutput, SocketEvent, TransportEvent, TransportId, TransportKind,
};
use sockeye_protocol::engine::{CloseReason, OpenPacket, Packet as EnginePacket};
use sockeye_protocol::socket::Args;
use sockeye_protocol::{json, Backoff, Value};
use std::time::Duration;

const ORIGIN: &str = "http://h:1";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn t(n: u64) -> TransportId {
    TransportId(n)
}

/// Engine.IO packets from their text form.
fn packets(texts: &[&str]) -> Vec<EnginePacket> {
    texts
        .iter()
        .map(|text| EnginePacket::decode_text(text).expect("a valid packet"))
        .collect()
}

fn handshake(upgrades: &[&str]) -> TransportEvent {
    TransportEvent::Packet(EnginePacket::Open(OpenPacket {
        sid: "s1".into(),
        upgrades: upgrades.iter().map(|u| u.to_string()).collect(),
        ping_interval: 25_000,
        ping_timeout: 20_000,
        max_payload: 1_000_000,
    }))
}

fn packet(text: &str) -> TransportEvent {
    TransportEvent::Packet(EnginePacket::decode_text(text).expect("a valid packet"))
}

fn open(id: u64, kind: TransportKind, url: &str) -> ManagerOutput {
    ManagerOutput::Open {
        transport: t(id),
        kind,
        url: url.into(),
    }
}

fn write(id: u64, texts: &[&str]) -> ManagerOutput {
    ManagerOutput::Write {
        transport: t(id),
        packets: packets(texts),
    }
}

fn close(id: u64) -> ManagerOutput {
    ManagerOutput::Close { transport: t(id) }
}

fn event(event: ManagerEvent) -> ManagerOutput {
    ManagerOutput::Event(event)
}

fn socket(namespace: &str, event: SocketEvent) -> ManagerOutput {
    ManagerOutput::Socket {
        namespace: namespace.into(),
        event,
    }
}

fn connected(namespace: &str, sid: &str) -> ManagerOutput {
    socket(
        namespace,
        SocketEvent::Connect {
            sid: sid.into(),
            recovered: false,
        },
    )
}

fn connect_error(namespace: &str, message: &str) -> ManagerOutput {
    socket(
        namespace,
        SocketEvent::ConnectError {
            message: message.into(),
            data: None,
        },
    )
}

fn disconnected(namespace: &str, reason: &str) -> ManagerOutput {
    socket(
        namespace,
        SocketEvent::Disconnect {
            reason: reason.into(),
        },
    )
}

fn args(values: Vec<Value>) -> Args {
    values.into()
}

const POLLING: &str = "http://h:1/socket.io/?EIO=4&transport=polling";
const PROBE: &str = "ws://h:1/socket.io/?EIO=4&transport=websocket&sid=s1";

/// A manager and the test's clock.
struct Client {
    m: ManagerClient,
    now: Duration,
}

impl Client {
    fn new(config: ManagerConfig) -> Client {
        Client {
            m: ManagerClient::new(ORIGIN, config, 7),
            now: Duration::ZERO,
        }
    }

    /// Everything the manager asked for since the last call.
    fn out(&mut self) -> Vec<ManagerOutput> {
        std::iter::from_fn(|| self.m.poll_output()).collect()
    }

    fn at(&mut self, now: u64) -> &mut Self {
        self.now = ms(now);
        self
    }

    fn on(&mut self, id: u64, event: TransportEvent) -> Vec<ManagerOutput> {
        self.m.on_transport(t(id), event, self.now);
        self.out()
    }

    fn connect(&mut self, namespace: &str) -> Vec<ManagerOutput> {
        self.m.connect(namespace, self.now);
        self.out()
    }

    fn emit(&mut self, namespace: &str, name: &str) -> Vec<ManagerOutput> {
        self.m
            .emit(namespace, name, args(vec![]), Emit::default(), self.now);
        self.out()
    }

    fn poll(&mut self, now: u64) -> Vec<ManagerOutput> {
        self.now = ms(now);
        self.m.poll(self.now);
        self.out()
    }

    /// "/" connected on polling (transport 1), no write under way.
    fn connected_on_polling(config: ManagerConfig, upgrades: &[&str]) -> Client {
        let mut c = Client::new(config);
        assert_eq!(
            c.connect("/"),
            vec![open(1, TransportKind::Polling, POLLING)]
        );
        let out = c.on(1, handshake(upgrades));
        assert_eq!(out[..2], [event(ManagerEvent::Open), write(1, &["40"])]);
        assert!(c.on(1, TransportEvent::Written).is_empty());
        assert_eq!(
            c.on(1, packet(r#"40{"sid":"a"}"#)),
            vec![connected("/", "a")]
        );
        c
    }
}

fn no_jitter(attempts: Option<u32>) -> ManagerConfig {
    ManagerConfig {
        reconnection_attempts: attempts,
        backoff: Backoff {
            jitter: 0.0,
            ..Backoff::default()
        },
        ..ManagerConfig::default()
    }
}

#[test]
fn upgrade_probes_pauses_polling_drains_and_switches() {
    let mut c = Client::new(ManagerConfig::default());
    c.connect("/");
    let out = c.on(1, handshake(&["websocket"]));
    // Open, join, then the probe on a WebSocket naming the session.
    assert_eq!(
        out,
        vec![
            event(ManagerEvent::Open),
            write(1, &["40"]),
            open(2, TransportKind::WebSocket, PROBE),
        ]
    );
    assert!(c.on(1, TransportEvent::Written).is_empty());
    assert_eq!(
        c.on(1, packet(r#"40{"sid":"a"}"#)),
        vec![connected("/", "a")]
    );
    assert_eq!(c.on(2, TransportEvent::Opened), vec![write(2, &["2probe"])]);
    // A POST is on its way when the probe passes.
    assert_eq!(c.emit("/", "first"), vec![write(1, &[r#"42["first"]"#])]);
    assert_eq!(
        c.on(2, packet("3probe")),
        vec![ManagerOutput::Pause { transport: t(1) }]
    );
    // Writes wait while polling pauses; the POST's answer does not release them.
    assert!(c.emit("/", "second").is_empty());
    assert!(c.on(1, TransportEvent::Written).is_empty());
    assert_eq!(c.m.transport(), Some(TransportKind::Polling));
    // Paused: the upgrade packet, polling closed, what waited goes on the WebSocket.
    assert_eq!(
        c.on(1, TransportEvent::Paused),
        vec![
            write(2, &["5"]),
            close(1),
            write(2, &[r#"42["second"]"#]),
            event(ManagerEvent::Upgrade),
        ]
    );
    assert_eq!(c.m.transport(), Some(TransportKind::WebSocket));
    // A WebSocket takes each write at once.
    assert_eq!(c.emit("/", "third"), vec![write(2, &[r#"42["third"]"#])]);
    assert_eq!(c.emit("/", "fourth"), vec![write(2, &[r#"42["fourth"]"#])]);
    // The WebSocket's packets reach the sockets; polling's late ones do not.
    assert!(c.on(1, packet(r#"42["stale"]"#)).is_empty());
    let out = c.on(2, packet(r#"42["hello",1]"#));
    assert!(
        matches!(&out[..], [ManagerOutput::Socket { namespace, event: SocketEvent::Event { name, .. } }]
            if namespace == "/" && name == "hello"),
        "{out:?}"
    );
}

#[test]
fn a_failed_probe_falls_back_to_polling() {
    // Fails after passing: polling resumes and gets what waited.
    let mut c = Client::connected_on_polling(ManagerConfig::default(), &["websocket"]);
    c.on(2, TransportEvent::Opened);
    c.on(2, packet("3probe"));
    assert!(c.emit("/", "waiting").is_empty());
    assert_eq!(
        c.on(2, TransportEvent::Closed { error: true }),
        vec![
            close(2),
            ManagerOutput::Resume { transport: t(1) },
            write(1, &[r#"42["waiting"]"#]),
        ]
    );
    // A late pause report does not upgrade.
    assert!(c.on(1, TransportEvent::Paused).is_empty());
    assert_eq!(c.m.transport(), Some(TransportKind::Polling));

    // Fails before passing (a wrong answer): polling was never paused.
    let mut c = Client::connected_on_polling(ManagerConfig::default(), &["websocket"]);
    c.on(2, TransportEvent::Opened);
    assert_eq!(c.on(2, packet("3nope")), vec![close(2)]);
    assert!(c.on(2, packet("3probe")).is_empty(), "the probe is gone");
    assert_eq!(c.emit("/", "x"), vec![write(1, &[r#"42["x"]"#])]);
    assert_eq!(c.m.transport(), Some(TransportKind::Polling));
}

#[test]
fn no_probe_without_the_servers_offer_or_with_upgrade_off() {
    let c = Client::connected_on_polling(ManagerConfig::default(), &[]);
    assert_eq!(c.m.transport(), Some(TransportKind::Polling));
    let mut c = Client::new(ManagerConfig {
        upgrade: false,
        ..ManagerConfig::default()
    });
    c.connect("/");
    let out = c.on(1, handshake(&["websocket"]));
    assert!(!out.iter().any(|o| matches!(o, ManagerOutput::Open { .. })));
}

#[test]
fn namespaces_share_one_engine_with_a_join_each() {
    let mut c = Client::new(ManagerConfig::default());
    c.m.socket("/");
    c.m.set_auth("chat", true);
    assert_eq!(
        c.connect("/"),
        vec![open(1, TransportKind::Polling, POLLING)]
    );
    assert!(c.connect("/chat").is_empty(), "one connection");
    let out = c.on(1, handshake(&[]));
    assert_eq!(
        out,
        vec![
            event(ManagerEvent::Open),
            write(1, &["40"]),
            ManagerOutput::Auth {
                namespace: "/chat".into(),
                attempt: 1
            },
        ]
    );
    // A stale answer (an earlier attempt) is ignored; the right one joins once the POST
    // under way is done.
    c.m.auth("/chat", 0, Some(json!({"token": "old"})), c.now);
    c.m.auth("/chat", 1, Some(json!({"token": "t"})), c.now);
    assert!(c.out().is_empty());
    assert_eq!(
        c.on(1, TransportEvent::Written),
        vec![write(1, &[r#"40/chat,{"token":"t"}"#])]
    );
    c.on(1, TransportEvent::Written);
    // Each namespace hears its own packets.
    let out = c.on(1, packet(r#"40/chat,{"sid":"b"}"#));
    assert_eq!(out, vec![connected("/chat", "b")]);
    let out = c.on(1, packet(r#"40{"sid":"a"}"#));
    assert_eq!(out, vec![connected("/", "a")]);
    let out = c.on(1, packet(r#"42/chat,["news"]"#));
    assert!(
        matches!(&out[..], [ManagerOutput::Socket { namespace, event: SocketEvent::Event { name, .. } }]
            if namespace == "/chat" && name == "news"),
        "{out:?}"
    );
    assert_eq!(
        c.emit("/chat", "say"),
        vec![write(1, &[r#"42/chat,["say"]"#])]
    );
    // Leaving one namespace keeps the connection for the other.
    c.on(1, TransportEvent::Written);
    let out = {
        c.m.disconnect("/chat", c.now);
        c.out()
    };
    assert_eq!(
        out,
        vec![
            write(1, &["41/chat,"]),
            disconnected("/chat", "io client disconnect"),
        ]
    );
    assert!(c.m.is_open());
}

#[test]
fn reconnects_with_backoff_in_socket_io_clients_order() {
    let mut c = Client::connected_on_polling(no_jitter(None), &[]);
    c.at(10);
    assert_eq!(
        c.on(1, TransportEvent::Closed { error: false }),
        vec![
            close(1),
            disconnected("/", "transport close"),
            event(ManagerEvent::Close(CloseReason::TransportClose)),
        ]
    );
    assert!(c.m.reconnecting());
    assert_eq!(c.m.deadline(), Some(ms(1010)));
    assert!(c.poll(1009).is_empty());
    assert_eq!(
        c.poll(1010),
        vec![
            event(ManagerEvent::ReconnectAttempt(1)),
            open(2, TransportKind::Polling, POLLING),
        ]
    );
    // The attempt fails: connect_error, error, (the next attempt scheduled),
    // reconnect_error.
    c.at(1020);
    assert_eq!(
        c.on(2, TransportEvent::Closed { error: true }),
        vec![
            close(2),
            connect_error("/", "xhr poll error"),
            event(ManagerEvent::Error("xhr poll error".into())),
            event(ManagerEvent::ReconnectError("xhr poll error".into())),
        ]
    );
    // Twice the first delay.
    assert_eq!(c.m.deadline(), Some(ms(3020)));
    assert!(c.poll(3019).is_empty());
    assert_eq!(
        c.poll(3020),
        vec![
            event(ManagerEvent::ReconnectAttempt(2)),
            open(3, TransportKind::Polling, POLLING),
        ]
    );
    // Stale events of the earlier transports change nothing.
    assert!(c.on(1, handshake(&[])).is_empty());
    assert!(c.on(2, handshake(&[])).is_empty());
    assert_eq!(
        c.on(3, handshake(&[])),
        vec![
            event(ManagerEvent::Open),
            write(3, &["40"]),
            event(ManagerEvent::Reconnect(2)),
        ]
    );
    assert!(!c.m.reconnecting());
    // The next loss starts from the first delay again.
    c.on(3, TransportEvent::Written);
    c.on(3, packet(r#"40{"sid":"a2"}"#));
    c.at(5000);
    c.on(3, TransportEvent::Closed { error: true });
    assert_eq!(c.m.deadline(), Some(ms(6000)));
}

#[test]
fn gives_up_after_the_maximum_attempts() {
    let mut c = Client::new(no_jitter(Some(2)));
    c.connect("/");
    // The first open fails: no reconnect_error, but reconnection starts.
    assert_eq!(
        c.on(1, TransportEvent::Closed { error: true }),
        vec![
            close(1),
            connect_error("/", "xhr poll error"),
            event(ManagerEvent::Error("xhr poll error".into())),
        ]
    );
    assert_eq!(c.m.deadline(), Some(ms(1000)));
    assert_eq!(c.poll(1000)[0], event(ManagerEvent::ReconnectAttempt(1)));
    let out = c.on(2, TransportEvent::Closed { error: true });
    assert_eq!(
        out.last(),
        Some(&event(ManagerEvent::ReconnectError(
            "xhr poll error".into()
        )))
    );
    assert_eq!(c.m.deadline(), Some(ms(3000)));
    assert_eq!(c.poll(3000)[0], event(ManagerEvent::ReconnectAttempt(2)));
    assert_eq!(
        c.on(3, TransportEvent::Closed { error: true }),
        vec![
            close(3),
            connect_error("/", "xhr poll error"),
            event(ManagerEvent::Error("xhr poll error".into())),
            event(ManagerEvent::ReconnectFailed),
            event(ManagerEvent::ReconnectError("xhr poll error".into())),
        ]
    );
    assert_eq!(c.m.deadline(), None);
    assert!(!c.m.reconnecting());
    assert!(c.poll(100_000).is_empty());
}

#[test]
fn opening_times_out() {
    let mut c = Client::new(ManagerConfig {
        timeout: ms(500),
        ..no_jitter(None)
    });
    c.connect("/");
    assert_eq!(c.m.deadline(), Some(ms(500)));
    assert!(c.poll(499).is_empty());
    assert_eq!(
        c.poll(500),
        vec![
            close(1),
            connect_error("/", "timeout"),
            event(ManagerEvent::Error("timeout".into())),
        ]
    );
    // The handshake that comes too late is not taken.
    assert!(c.on(1, handshake(&[])).is_empty());
    assert!(!c.m.is_open());
    // Reconnection takes over: the next attempt has its own timeout.
    assert_eq!(c.m.deadline(), Some(ms(1500)));
    c.poll(1500);
    assert_eq!(c.m.deadline(), Some(ms(2000)));
    assert!(!c.on(2, handshake(&[])).is_empty());
    assert!(c.m.is_open());
    assert_eq!(c.m.deadline(), Some(ms(2000)), "the join's timeout");
}

#[test]
fn a_client_close_drains_what_was_sent_before_the_close_packet() {
    let mut c = Client::connected_on_polling(no_jitter(None), &[]);
    assert_eq!(c.emit("/", "a"), vec![write(1, &[r#"42["a"]"#])]);
    assert!(c.emit("/", "b").is_empty(), "waits for the POST under way");
    // Leaving the last namespace closes the connection: the manager is closed at once,
    // the transport finishes the writes first.
    c.m.disconnect("/", c.now);
    assert_eq!(
        c.out(),
        vec![
            disconnected("/", "io client disconnect"),
            event(ManagerEvent::Close(CloseReason::ForcedClose)),
        ]
    );
    assert!(!c.m.is_open());
    assert_eq!(c.m.transport(), None);
    assert_eq!(
        c.on(1, TransportEvent::Written),
        vec![write(1, &[r#"42["b"]"#, "41"])]
    );
    // What the server sends meanwhile is not the application's.
    assert!(c.on(1, packet(r#"42["late"]"#)).is_empty());
    // The close packet alone, then the transport ends.
    assert_eq!(
        c.on(1, TransportEvent::Written),
        vec![write(1, &["1"]), close(1)]
    );
    assert!(c.on(1, TransportEvent::Written).is_empty());
    assert_eq!(c.m.deadline(), None, "no reconnection after a client close");
    // The socket can connect again, on a new transport.
    assert_eq!(
        c.connect("/"),
        vec![open(2, TransportKind::Polling, POLLING)]
    );
}

#[test]
fn a_client_close_that_cannot_finish_ends_with_the_heartbeat() {
    let mut c = Client::connected_on_polling(no_jitter(None), &[]);
    c.emit("/", "a");
    c.m.close(c.now);
    c.out();
    // The POST never returns: the draining connection ends at the heartbeat deadline.
    assert_eq!(c.m.deadline(), Some(ms(45_000)));
    assert_eq!(c.poll(45_000), vec![close(1)]);
    assert_eq!(c.m.deadline(), None);
}

#[test]
fn close_engine_is_a_cut_the_manager_reconnects_from() {
    let mut c = Client::connected_on_polling(no_jitter(None), &[]);
    c.m.close_engine(c.now);
    assert_eq!(
        c.out(),
        vec![
            write(1, &["1"]),
            close(1),
            disconnected("/", "forced close"),
            event(ManagerEvent::Close(CloseReason::ForcedClose)),
        ]
    );
    assert!(c.m.reconnecting());
    assert_eq!(c.poll(1000)[0], event(ManagerEvent::ReconnectAttempt(1)));
}

#[test]
fn websocket_first_and_acks() {
    let mut c = Client::new(ManagerConfig {
        transports: vec![TransportKind::WebSocket],
        ..ManagerConfig::default()
    });
    assert_eq!(
        c.connect("/"),
        vec![open(
            1,
            TransportKind::WebSocket,
            "ws://h:1/socket.io/?EIO=4&transport=websocket"
        )]
    );
    c.on(1, TransportEvent::Opened);
    // No probe on a WebSocket, and no Written to wait for.
    assert_eq!(
        c.on(1, handshake(&[])),
        vec![event(ManagerEvent::Open), write(1, &["40"])]
    );
    c.on(1, packet(r#"40{"sid":"a"}"#));
    let how = Emit {
        ack: true,
        timeout: Some(ms(100)),
        ..Emit::default()
    };
    let id = c.m.emit("/", "q", args(vec![]), how, c.now);
    assert_eq!(id, Some(0));
    let second = c.m.emit("/", "q", args(vec![]), how, c.now);
    assert_eq!(
        c.out(),
        vec![write(1, &[r#"420["q"]"#]), write(1, &[r#"421["q"]"#])]
    );
    let out = c.on(1, packet(r#"430["yes"]"#));
    assert_eq!(
        out,
        vec![socket(
            "/",
            SocketEvent::Ack {
                id: 0,
                args: args(vec![json!("yes")])
            }
        )]
    );
    assert_eq!(c.m.deadline(), Some(ms(100)));
    assert_eq!(
        c.poll(100),
        vec![socket(
            "/",
            SocketEvent::AckTimeout {
                id: second.unwrap()
            }
        )]
    );
    // An answer to the server's event.
    c.m.ack("/", 7, args(vec![json!("ok")]), c.now);
    assert_eq!(c.out(), vec![write(1, &[r#"437["ok"]"#])]);
}

#[test]
fn urls() {
    assert_eq!(
        encode_uri_component("a b&c=d/é~*'()!"),
        "a%20b%26c%3Dd%2F%C3%A9~*'()!"
    );
    let config = ManagerConfig {
        path: "/io/".into(),
        query: vec![("token".into(), "x y".into())],
        ..ManagerConfig::default()
    };
    assert_eq!(
        engine_url("https://h/", &config, TransportKind::WebSocket, Some("s+1")),
        "wss://h/io/?EIO=4&transport=websocket&token=x%20y&sid=s%2B1"
    );
    assert_eq!(
        engine_url("wss://h", &config, TransportKind::Polling, None),
        "https://h/io/?EIO=4&transport=polling&token=x%20y"
    );
}

#[test]
fn an_auth_answer_for_an_earlier_connection_is_ignored() {
    let mut c = Client::new(no_jitter(None));
    c.m.set_auth("/", true);
    c.connect("/");
    let out = c.on(1, handshake(&[]));
    let asked = ManagerOutput::Auth {
        namespace: "/".into(),
        attempt: 1,
    };
    assert_eq!(out, vec![event(ManagerEvent::Open), asked]);
    // The connection is lost before the auth function answers; the answer comes while
    // the next connection is up and has asked again.
    c.on(1, TransportEvent::Closed { error: false });
    c.poll(1000);
    let out = c.on(2, handshake(&[]));
    assert_eq!(
        out[1],
        ManagerOutput::Auth {
            namespace: "/".into(),
            attempt: 2
        }
    );
    c.m.auth("/", 1, Some(json!({"token": "old"})), c.now);
    assert!(c.out().is_empty(), "stale");
    c.m.auth("/", 2, Some(json!({"token": "new"})), c.now);
    assert_eq!(c.out(), vec![write(2, &[r#"40{"token":"new"}"#])]);
}

#[test]
fn one_deadline_the_earliest_of_all() {
    let mut c = Client::connected_on_polling(no_jitter(None), &[]);
    // The heartbeat (45 s), then an ack timeout that comes sooner.
    assert_eq!(c.m.deadline(), Some(ms(45_000)));
    let how = Emit {
        ack: true,
        timeout: Some(ms(3_000)),
        ..Emit::default()
    };
    c.m.emit("/", "q", args(vec![]), how, c.now);
    c.out();
    assert_eq!(c.m.deadline(), Some(ms(3_000)));
    assert_eq!(
        c.poll(3_000),
        vec![socket("/", SocketEvent::AckTimeout { id: 0 })]
    );
    assert_eq!(c.m.deadline(), Some(ms(45_000)));
    // A silent server: the heartbeat closes the connection, then reconnection's delay.
    let out = c.poll(45_000);
    assert_eq!(
        out.last(),
        Some(&event(ManagerEvent::Close(CloseReason::PingTimeout)))
    );
    assert_eq!(c.m.deadline(), Some(ms(46_000)));
}
