//! One Engine.IO connection, client side.

use crate::engine::{ClientHeartbeat, Handshake, Packet};
use std::time::Duration;

/// What the client driver must do after feeding the [`EngineClient`].
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutput {
    /// The handshake arrived: the connection is open.
    Open(Handshake),
    /// Send this packet to the server.
    Send(Packet),
    /// A message for the Socket.IO layer (a `Message` or `Binary` packet).
    Message(Packet),
    /// The connection is over, for this reason ("ping timeout", "transport close", ...).
    Closed(&'static str),
}

/// The client's view of one Engine.IO connection.
#[derive(Debug, Clone, Default)]
pub struct EngineClient {
    handshake: Option<Handshake>,
    heartbeat: Option<ClientHeartbeat>,
    closed: bool,
}

impl EngineClient {
    /// A connection waiting for its handshake.
    pub fn new() -> Self {
        EngineClient::default()
    }

    /// The handshake, once it arrived.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// Whether the connection is open (handshake in, not closed).
    pub fn is_open(&self) -> bool {
        self.handshake.is_some() && !self.closed
    }

    /// Feeds one packet received at `now`.
    pub fn on_packet(&mut self, packet: Packet, now: Duration) -> Vec<EngineOutput> {
        if self.closed {
            return Vec::new();
        }
        if let Some(hb) = self.heartbeat.as_mut() {
            // Any packet shows the server is alive.
            hb.on_ping(now);
        }
        match packet {
            Packet::Open(handshake) => {
                self.heartbeat = Some(ClientHeartbeat::new(
                    Duration::from_millis(handshake.ping_interval),
                    Duration::from_millis(handshake.ping_timeout),
                    now,
                ));
                self.handshake = Some(handshake.clone());
                vec![EngineOutput::Open(handshake)]
            }
            Packet::Ping(data) => vec![EngineOutput::Send(Packet::Pong(data))],
            Packet::Message(_) | Packet::Binary(_) if self.handshake.is_some() => {
                vec![EngineOutput::Message(packet)]
            }
            Packet::Close => self.close("transport close"),
            Packet::Message(_) | Packet::Binary(_) => self.close("parse error"),
            Packet::Pong(_) | Packet::Upgrade | Packet::Noop => Vec::new(),
        }
    }

    /// The transport failed or closed under the client.
    pub fn on_transport_close(&mut self, error: bool) -> Vec<EngineOutput> {
        self.close(if error {
            "transport error"
        } else {
            "transport close"
        })
    }

    /// The application closes the connection: the packet to send, if open.
    pub fn close_by_client(&mut self) -> Option<Packet> {
        let was_open = self.is_open();
        self.closed = true;
        was_open.then_some(Packet::Close)
    }

    /// When [`EngineClient::poll`] has something to do.
    pub fn deadline(&self) -> Option<Duration> {
        match (&self.heartbeat, self.closed) {
            (Some(hb), false) => Some(hb.deadline()),
            _ => None,
        }
    }

    /// Advances the clock: a server silent for too long is gone ("ping timeout").
    pub fn poll(&mut self, now: Duration) -> Vec<EngineOutput> {
        match &self.heartbeat {
            Some(hb) if !self.closed && hb.is_expired(now) => self.close("ping timeout"),
            _ => Vec::new(),
        }
    }

    fn close(&mut self, reason: &'static str) -> Vec<EngineOutput> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        vec![EngineOutput::Closed(reason)]
    }
}

/// The upgrade probe on a new WebSocket: send `2probe`, expect `3probe`; then the
/// driver pauses polling and sends `5` over the WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probe;

impl Probe {
    /// The packet that starts the probe.
    pub fn start() -> Packet {
        Packet::Ping("probe".into())
    }

    /// Whether the server's answer passes the probe.
    pub fn passed(answer: &Packet) -> bool {
        matches!(answer, Packet::Pong(data) if data == "probe")
    }

    /// The packet that completes the upgrade once polling is paused.
    pub fn finish() -> Packet {
        Packet::Upgrade
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn handshake() -> Handshake {
        Handshake {
            sid: "s".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 300,
            ping_timeout: 200,
            max_payload: 1000,
        }
    }

    #[test]
    fn opens_answers_pings_and_times_out() {
        let mut c = EngineClient::new();
        assert_eq!(c.deadline(), None);
        let out = c.on_packet(Packet::Open(handshake()), ms(0));
        assert_eq!(out, vec![EngineOutput::Open(handshake())]);
        assert_eq!(c.deadline(), Some(ms(500)));
        let out = c.on_packet(Packet::Ping(String::new()), ms(300));
        assert_eq!(out, vec![EngineOutput::Send(Packet::Pong(String::new()))]);
        assert_eq!(c.deadline(), Some(ms(800)));
        assert!(c.poll(ms(799)).is_empty());
        assert_eq!(c.poll(ms(800)), vec![EngineOutput::Closed("ping timeout")]);
        assert!(c.poll(ms(900)).is_empty());
        assert!(!c.is_open());
    }

    #[test]
    fn messages_and_close() {
        let mut c = EngineClient::new();
        assert_eq!(
            c.on_packet(Packet::Message("0".into()), ms(0)),
            vec![EngineOutput::Closed("parse error")]
        );
        let mut c = EngineClient::new();
        c.on_packet(Packet::Open(handshake()), ms(0));
        assert_eq!(
            c.on_packet(Packet::Message("2[\"a\"]".into()), ms(1)),
            vec![EngineOutput::Message(Packet::Message("2[\"a\"]".into()))]
        );
        assert_eq!(
            c.on_packet(Packet::Close, ms(2)),
            vec![EngineOutput::Closed("transport close")]
        );
        assert!(c.on_transport_close(true).is_empty());
    }

    #[test]
    fn client_close_sends_close_once() {
        let mut c = EngineClient::new();
        c.on_packet(Packet::Open(handshake()), ms(0));
        assert_eq!(c.close_by_client(), Some(Packet::Close));
        assert_eq!(c.close_by_client(), None);
    }

    #[test]
    fn probe_packets() {
        assert_eq!(Probe::start().encode_text(), "2probe");
        assert!(Probe::passed(&Packet::Pong("probe".into())));
        assert!(!Probe::passed(&Packet::Pong(String::new())));
        assert_eq!(Probe::finish().encode_text(), "5");
    }
}
