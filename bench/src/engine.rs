//! The Engine.IO side of every bench connection: `sockeye-protocol`'s [`EngineClient`]
//! (the handshake, pongs, the heartbeat deadline, the write buffer, close) with a clock,
//! for drivers that cannot act on its outputs at once.
//!
//! A hot loop reads frames while its socket is borrowed: what the engine wants written
//! (a pong) waits in [`Engine::take_write`] until the loop writes its own answers, and
//! a close (by the server, or "ping timeout") waits in [`Engine::check`]. Messages a
//! hot loop recognizes itself (acks, deliveries: see `wire`) never come here; the rest
//! is decoded and fed to the engine.

use crate::frames::Message;
use bytes::Bytes;
use sockeye_protocol::client::{EngineClient, EngineOutput};
use sockeye_protocol::engine::{OpenPacket, Packet};
use std::time::Instant;

/// One connection's [`EngineClient`], its clock, and the outputs not acted on yet.
pub struct Engine {
    client: EngineClient,
    /// The engine counts time from here.
    epoch: Instant,
    /// The write the engine handed out, until the driver takes it.
    write: Option<Vec<Packet>>,
    /// Why the connection is over, once it is.
    closed: Option<String>,
}

impl Engine {
    /// A connection waiting for its handshake.
    pub fn new() -> Engine {
        Engine {
            client: EngineClient::new(),
            epoch: Instant::now(),
            write: None,
            closed: None,
        }
    }

    /// The open packet, once it arrived.
    pub fn open_packet(&self) -> Option<&OpenPacket> {
        self.client.open_packet()
    }

    /// Feeds a WebSocket message received at `at`; returns it if it is a message for
    /// the Socket.IO layer. A message that is no Engine.IO packet closes the connection.
    pub fn on_frame(&mut self, message: Message<'_>, at: Instant) -> Option<Packet> {
        let packet = match message {
            Message::Text(text) => match std::str::from_utf8(text)
                .map_err(|e| e.to_string())
                .and_then(|text| Packet::decode_text(text).map_err(|e| e.to_string()))
            {
                Ok(packet) => packet,
                Err(e) => {
                    self.fail(format!("bad Engine.IO packet: {e}"));
                    return None;
                }
            },
            Message::Binary(data) => Packet::decode_binary(Bytes::copy_from_slice(data)),
        };
        self.on_packet(packet, at)
    }

    /// Feeds a packet received at `at`; returns it if it is a message for the Socket.IO
    /// layer.
    pub fn on_packet(&mut self, packet: Packet, at: Instant) -> Option<Packet> {
        let outputs = self.client.on_packet(packet, self.since_epoch(at));
        self.apply(outputs)
    }

    /// Sends a packet after everything sent before it (buffered until the handshake).
    pub fn send(&mut self, packet: Packet) {
        let outputs = self.client.send(packet);
        self.apply(outputs);
    }

    /// Holds writes back, so that packets sent meanwhile leave together on
    /// [`Engine::resume`] (one POST for a batch, when polling).
    pub fn pause(&mut self) {
        self.client.pause();
    }

    /// Writes again what [`Engine::pause`] held back.
    pub fn resume(&mut self) {
        let outputs = self.client.resume();
        self.apply(outputs);
    }

    /// The packets to write now, in one write; report [`Engine::written`] once they
    /// are out.
    pub fn take_write(&mut self) -> Option<Vec<Packet>> {
        self.write.take()
    }

    /// The last write taken is out.
    pub fn written(&mut self) {
        let outputs = self.client.on_written();
        self.apply(outputs);
    }

    /// The client closes: what waits is written first, the close packet last.
    pub fn close(&mut self) {
        let outputs = self.client.close_by_client();
        self.apply(outputs);
    }

    /// The transport ended under the connection.
    pub fn on_transport_close(&mut self) {
        let outputs = self.client.on_transport_close(false);
        self.apply(outputs);
    }

    /// When [`Engine::poll`] has something to do: a server silent until then is gone.
    pub fn deadline(&self) -> Option<Instant> {
        self.client.deadline().map(|d| self.epoch + d)
    }

    /// Advances the engine's clock to `at`.
    pub fn poll(&mut self, at: Instant) {
        let outputs = self.client.poll(self.since_epoch(at));
        self.apply(outputs);
    }

    /// An error once the connection is over ("transport close" when the server closed
    /// it, "ping timeout" when it went silent).
    pub fn check(&self) -> Result<(), String> {
        match &self.closed {
            None => Ok(()),
            Some(reason) => Err(format!("Engine.IO connection closed: {reason}")),
        }
    }

    fn since_epoch(&self, at: Instant) -> std::time::Duration {
        at.saturating_duration_since(self.epoch)
    }

    fn fail(&mut self, reason: String) {
        self.closed.get_or_insert(reason);
        self.on_transport_close();
    }

    /// Keeps what the driver must act on; returns a message for the Socket.IO layer.
    fn apply(&mut self, outputs: Vec<EngineOutput>) -> Option<Packet> {
        let mut message = None;
        for output in outputs {
            match output {
                // The client keeps the handshake.
                EngineOutput::Open(_) => {}
                EngineOutput::Write(packets) => {
                    self.write.get_or_insert_with(Vec::new).extend(packets)
                }
                EngineOutput::Message(packet) => message = Some(packet),
                EngineOutput::Closed(reason) => {
                    self.closed.get_or_insert_with(|| reason.to_string());
                }
            }
        }
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OPEN: &[u8] =
        br#"0{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}"#;

    #[test]
    fn answers_pings_and_hands_messages_over() {
        let mut engine = Engine::new();
        let at = Instant::now();
        // Sent before the handshake: written once it is in.
        engine.send(Packet::Message("0".into()));
        assert_eq!(engine.take_write(), None);
        assert_eq!(engine.on_frame(Message::Text(OPEN), at), None);
        assert_eq!(engine.open_packet().map(|h| h.sid.as_str()), Some("s"));
        assert_eq!(engine.take_write(), Some(vec![Packet::Message("0".into())]));
        engine.written();
        assert_eq!(engine.on_frame(Message::Text(b"2"), at), None);
        assert_eq!(engine.take_write(), Some(vec![Packet::Pong(String::new())]));
        engine.written();
        assert_eq!(
            engine.on_frame(Message::Text(b"40"), at),
            Some(Packet::Message("0".into()))
        );
        assert_eq!(
            engine.on_frame(Message::Binary(&[1, 2]), at),
            Some(Packet::Binary(vec![1, 2].into()))
        );
        assert!(engine.check().is_ok());
    }

    #[test]
    fn a_silent_server_times_out() {
        let mut engine = Engine::new();
        let at = Instant::now();
        engine.on_frame(Message::Text(OPEN), at);
        let deadline = engine.deadline().expect("open");
        assert!(deadline >= at + Duration::from_millis(500));
        engine.poll(deadline - Duration::from_millis(1));
        assert!(engine.check().is_ok());
        engine.poll(deadline);
        assert!(engine.check().unwrap_err().contains("ping timeout"));
        assert_eq!(engine.deadline(), None);
    }

    #[test]
    fn a_close_packet_or_garbage_ends_it() {
        let mut engine = Engine::new();
        let at = Instant::now();
        engine.on_frame(Message::Text(OPEN), at);
        engine.on_frame(Message::Text(b"1"), at);
        assert!(engine.check().unwrap_err().contains("transport close"));
        let mut engine = Engine::new();
        engine.on_frame(Message::Text(b"9"), at);
        assert!(engine.check().unwrap_err().contains("bad Engine.IO packet"));
    }

    #[test]
    fn a_client_close_writes_the_close_packet_last() {
        let mut engine = Engine::new();
        engine.on_frame(Message::Text(OPEN), Instant::now());
        engine.pause();
        engine.send(Packet::Message("2a".into()));
        engine.send(Packet::Message("2b".into()));
        assert_eq!(engine.take_write(), None);
        engine.resume();
        let both = vec![Packet::Message("2a".into()), Packet::Message("2b".into())];
        assert_eq!(engine.take_write(), Some(both));
        engine.close();
        engine.written();
        assert_eq!(engine.take_write(), Some(vec![Packet::Close]));
        assert!(engine.check().unwrap_err().contains("forced close"));
    }
}
