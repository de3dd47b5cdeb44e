//! A client that disconnects while a long-polling POST is still on its way, driven in
//! memory: the DISCONNECT it wrote and the close packet must both reach the server, in
//! that order and in separate POSTs, so the server's peers hear "client namespace
//! disconnect" and not "transport close".

use sockeye_protocol::client::{Emit, EngineClient, EngineOutput, SocketClient, SocketOutput};
use sockeye_protocol::engine::{payload, OpenPacket, Packet as EnginePacket};
use sockeye_protocol::socket::Packet;
use std::time::Duration;

/// A client driver over an in-memory polling transport: one POST at a time, and the
/// server answers a POST only when the test says so.
struct Client {
    engine: EngineClient,
    socket: SocketClient,
    /// The bodies of the POSTs sent, in order; the last is in flight while `in_flight`.
    posts: Vec<String>,
    in_flight: bool,
    /// The transport ended (after the close packet was handed to it).
    transport_closed: bool,
}

impl Client {
    fn connected() -> Client {
        let mut c = Client {
            engine: EngineClient::new(),
            socket: SocketClient::new("/"),
            posts: Vec::new(),
            in_flight: false,
            transport_closed: false,
        };
        let handshake = OpenPacket {
            sid: "s".into(),
            upgrades: Vec::new(),
            ping_interval: 300,
            ping_timeout: 400,
            max_payload: 1_000_000,
        };
        let out = c.engine.on_packet(EnginePacket::Open(handshake), now());
        c.engine_outputs(out);
        c.socket.activate();
        let join = c.socket.join(None, now(), Duration::from_secs(5));
        c.send(&join);
        c.answer_post();
        let connect = Packet::Connect {
            namespace: "/".into(),
            data: Some(sockeye_protocol::json!({"sid": "a"})),
        };
        c.socket.on_packet(connect);
        assert!(c.socket.connected());
        c
    }

    fn send(&mut self, packet: &Packet) {
        let encoded = packet.encode();
        let out = self.engine.send(EnginePacket::Message(encoded.text));
        self.engine_outputs(out);
    }

    fn engine_outputs(&mut self, outputs: Vec<EngineOutput>) {
        for output in outputs {
            match output {
                EngineOutput::Write(packets) => {
                    assert!(!self.in_flight, "one POST at a time");
                    assert!(!self.transport_closed, "written after the transport ended");
                    self.posts.push(payload::encode(&packets));
                    self.in_flight = true;
                }
                EngineOutput::Closed(_) => self.transport_closed = true,
                EngineOutput::Open(_) | EngineOutput::Message(_) => {}
            }
        }
    }

    /// The server answers the POST in flight.
    fn answer_post(&mut self) {
        assert!(self.in_flight);
        self.in_flight = false;
        // Like the browser driver: a transport that ended reports nothing more.
        if !self.transport_closed {
            let out = self.engine.on_written();
            self.engine_outputs(out);
        }
    }

    /// socket.io-client's `socket.disconnect()` on the manager's only socket: the
    /// DISCONNECT, then the connection closes.
    fn disconnect(&mut self) {
        for output in self.socket.disconnect() {
            if let SocketOutput::Send(packet) = output {
                self.send(&packet);
            }
        }
        let out = self.engine.close_by_client();
        self.engine_outputs(out);
    }
}

fn now() -> Duration {
    Duration::ZERO
}

/// What a server's peers hear when this client leaves, read the way the official
/// socket.io server reads POSTs: a close packet ends the session at once, while the
/// Socket.IO packets of the same POST are handled on the next tick (too late).
fn peers_hear(posts: &[String]) -> &'static str {
    for body in posts {
        let packets = payload::decode(body, usize::MAX).expect("a valid payload");
        if packets.contains(&EnginePacket::Close) {
            return "transport close";
        }
        // The Socket.IO DISCONNECT of "/" is the Engine.IO message "1" (on the wire, "41").
        if packets.contains(&EnginePacket::Message("1".into())) {
            return "client namespace disconnect";
        }
    }
    "nothing"
}

#[test]
fn disconnect_with_a_post_in_flight_sends_disconnect_then_close() {
    let mut c = Client::connected();
    let (emit, _) = c
        .socket
        .emit("hello", vec!["there".into()].into(), Emit::default(), now());
    c.send(&emit.expect("connected: sent at once"));
    assert!(c.in_flight, "the emit's POST is on its way");

    let sent = c.posts.len();
    c.disconnect();
    assert_eq!(
        c.posts.len(),
        sent,
        "the DISCONNECT waits for the POST in flight"
    );
    assert!(!c.transport_closed);
    c.answer_post();
    assert!(c.in_flight, "the DISCONNECT follows in the next POST");
    c.answer_post();

    let last: Vec<&str> = c
        .posts
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(last, ["42[\"hello\",\"there\"]", "41", "1"]);
    assert!(c.transport_closed);
    assert_eq!(peers_hear(&c.posts), "client namespace disconnect");
}

#[test]
fn disconnect_with_nothing_in_flight_still_sends_close_after_disconnect() {
    let mut c = Client::connected();
    c.disconnect();
    assert_eq!(c.posts.last().map(String::as_str), Some("41"));
    c.answer_post();
    assert_eq!(c.posts.last().map(String::as_str), Some("1"));
    assert_eq!(peers_hear(&c.posts), "client namespace disconnect");
}
