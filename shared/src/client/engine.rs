//! One Engine.IO connection, client side.

use crate::engine::{ClientHeartbeat, CloseReason, OpenPacket, Packet, PROBE};
use std::time::Duration;

/// What the client driver must do after feeding the [`EngineClient`].
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutput {
    /// The handshake arrived: the connection is open.
    Open(OpenPacket),
    /// Write these packets on the transport in one go (one POST when polling), then
    /// report [`EngineClient::on_written`]. No other write is under way. On polling the
    /// payload fits the handshake's `maxPayload`, unless it is one packet larger alone.
    Write(Vec<Packet>),
    /// A message for the Socket.IO layer (a `Message` or `Binary` packet).
    Message(Packet),
    /// The connection is over, for this reason ("ping timeout", "transport close", ...).
    /// After [`EngineClient::close_by_client`] ("forced close"), everything written is
    /// out, the close packet last: the transport can end.
    Closed(CloseReason),
}

/// The client's view of one Engine.IO connection, and its write buffer: what is sent
/// goes out in order, one write at a time, as engine.io-client's `writeBuffer` does.
#[derive(Debug, Clone, Default)]
pub struct EngineClient {
    handshake: Option<OpenPacket>,
    heartbeat: Option<ClientHeartbeat>,
    closed: bool,
    /// Packets sent and not yet handed to the transport.
    buffer: Vec<Packet>,
    /// A write is with the transport and not reported done yet.
    writing: bool,
    /// Writes wait: polling pauses before an upgrade.
    paused: bool,
    /// The client closes once everything sent is written.
    closing: bool,
    /// The transport is a WebSocket: one frame a packet, no payload to bound.
    websocket: bool,
}

impl EngineClient {
    /// A connection waiting for its handshake.
    pub fn new() -> Self {
        EngineClient::default()
    }

    /// The open packet, once it arrived.
    pub fn open_packet(&self) -> Option<&OpenPacket> {
        self.handshake.as_ref()
    }

    /// Whether the connection is open (handshake in, not closed or closing).
    pub fn is_open(&self) -> bool {
        self.handshake.is_some() && !self.closed && !self.closing
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
            Packet::Close => self.close(CloseReason::TransportClose),
            // A closing connection only finishes its writes.
            _ if self.closing => Vec::new(),
            Packet::Open(handshake) => {
                self.heartbeat = Some(ClientHeartbeat::new(
                    Duration::from_millis(handshake.ping_interval),
                    Duration::from_millis(handshake.ping_timeout),
                    now,
                ));
                self.handshake = Some(handshake.clone());
                let mut out = vec![EngineOutput::Open(handshake)];
                out.extend(self.flush());
                out
            }
            Packet::Ping(data) => self.send(Packet::Pong(data)),
            Packet::Message(_) | Packet::Binary(_) if self.handshake.is_some() => {
                vec![EngineOutput::Message(packet)]
            }
            Packet::Message(_) | Packet::Binary(_) => self.close(CloseReason::ParseError),
            Packet::Pong(_) | Packet::Upgrade | Packet::Noop => Vec::new(),
        }
    }

    /// Sends a packet: it goes out after every packet sent before it. Dropped once the
    /// connection is closing or closed.
    pub fn send(&mut self, packet: Packet) -> Vec<EngineOutput> {
        if self.closed || self.closing {
            return Vec::new();
        }
        self.buffer.push(packet);
        self.flush()
    }

    /// The transport finished the last [`EngineOutput::Write`].
    pub fn on_written(&mut self) -> Vec<EngineOutput> {
        self.writing = false;
        self.flush()
    }

    /// Holds writes back (polling pauses for an upgrade; the WebSocket takes over).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Writes again, on whichever transport is now in use.
    pub fn resume(&mut self) -> Vec<EngineOutput> {
        self.paused = false;
        self.flush()
    }

    /// The transport is now a WebSocket (opened first, or upgraded to): writes are no
    /// longer split to fit `maxPayload`, which bounds each frame, not a batch.
    pub fn use_websocket(&mut self) {
        self.websocket = true;
    }

    /// The transport failed or closed under the client.
    pub fn on_transport_close(&mut self, error: bool) -> Vec<EngineOutput> {
        self.close(if error {
            CloseReason::TransportError
        } else {
            CloseReason::TransportClose
        })
    }

    /// The application closes the connection (engine.io-client's `close()`). Nothing
    /// sent is lost: what waits, or is being written, goes out first; the close packet
    /// follows in a write of its own, once the others are done (a server may act on a
    /// close packet before the packets that came with it: the official one does, and
    /// its peers then see "transport close" instead of a DISCONNECT). An upgrade under
    /// way is given up, so the rest goes out on polling. Not yet open: just closed.
    pub fn close_by_client(&mut self) -> Vec<EngineOutput> {
        if self.closed || self.closing {
            return Vec::new();
        }
        if self.handshake.is_none() {
            return self.close(CloseReason::ForcedClose);
        }
        self.closing = true;
        self.paused = false;
        self.flush()
    }

    /// When [`EngineClient::poll`] has something to do.
    pub fn deadline(&self) -> Option<Duration> {
        match (&self.heartbeat, self.closed) {
            (Some(hb), false) => Some(hb.deadline()),
            _ => None,
        }
    }

    /// Advances the clock: a server silent for too long is gone ("ping timeout"); a
    /// close that cannot finish its writes by then ends too.
    pub fn poll(&mut self, now: Duration) -> Vec<EngineOutput> {
        match &self.heartbeat {
            Some(hb) if !self.closed && hb.is_expired(now) => self.close(CloseReason::PingTimeout),
            _ => Vec::new(),
        }
    }

    /// Hands the transport what waits, when it can take it; when closing and all is
    /// written, the close packet.
    fn flush(&mut self) -> Vec<EngineOutput> {
        if self.closed || self.writing || self.paused || self.handshake.is_none() {
            return Vec::new();
        }
        if !self.buffer.is_empty() {
            self.writing = true;
            let n = self.batch_len();
            return vec![EngineOutput::Write(self.buffer.drain(..n).collect())];
        }
        if self.closing {
            self.closed = true;
            return vec![
                EngineOutput::Write(vec![Packet::Close]),
                EngineOutput::Closed(CloseReason::ForcedClose),
            ];
        }
        Vec::new()
    }

    /// How many waiting packets the next write takes: on polling, as many as fit one
    /// payload of `maxPayload` bytes (records and separators; 0: no bound), at least
    /// one, as engine.io-client's `_getWritablePackets` does, lest the server answer 413.
    fn batch_len(&self) -> usize {
        let max = self.handshake.as_ref().map_or(0, |h| h.max_payload);
        if self.websocket || max == 0 {
            return self.buffer.len();
        }
        let mut size = 0;
        for (i, packet) in self.buffer.iter().enumerate() {
            size += record_len(packet) + u64::from(i > 0);
            if i > 0 && size > max {
                return i;
            }
        }
        self.buffer.len()
    }

    fn close(&mut self, reason: CloseReason) -> Vec<EngineOutput> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        self.buffer.clear();
        vec![EngineOutput::Closed(reason)]
    }
}

/// The bytes of a packet's polling record (binary as `b` + base64).
fn record_len(packet: &Packet) -> u64 {
    let len = match packet {
        Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => 1 + d.len(),
        Packet::Binary(data) => 1 + data.len().div_ceil(3) * 4,
        other => other.encode_text().len(),
    };
    len as u64
}

/// The upgrade probe on a new WebSocket: send `2probe`, expect `3probe`; then the
/// driver pauses polling and sends `5` over the WebSocket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probe;

impl Probe {
    /// The packet that starts the probe.
    pub fn start() -> Packet {
        Packet::Ping(PROBE.into())
    }

    /// Whether the server's answer passes the probe.
    pub fn passed(answer: &Packet) -> bool {
        matches!(answer, Packet::Pong(data) if data == PROBE)
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

    fn handshake() -> OpenPacket {
        OpenPacket {
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
        assert_eq!(
            out,
            vec![EngineOutput::Write(vec![Packet::Pong(String::new())])]
        );
        assert_eq!(c.deadline(), Some(ms(800)));
        assert!(c.poll(ms(799)).is_empty());
        assert_eq!(
            c.poll(ms(800)),
            vec![EngineOutput::Closed(CloseReason::PingTimeout)]
        );
        assert!(c.poll(ms(900)).is_empty());
        assert!(!c.is_open());
    }

    #[test]
    fn messages_and_close() {
        let mut c = EngineClient::new();
        assert_eq!(
            c.on_packet(Packet::Message("0".into()), ms(0)),
            vec![EngineOutput::Closed(CloseReason::ParseError)]
        );
        let mut c = EngineClient::new();
        c.on_packet(Packet::Open(handshake()), ms(0));
        assert_eq!(
            c.on_packet(Packet::Message("2[\"a\"]".into()), ms(1)),
            vec![EngineOutput::Message(Packet::Message("2[\"a\"]".into()))]
        );
        assert_eq!(
            c.on_packet(Packet::Close, ms(2)),
            vec![EngineOutput::Closed(CloseReason::TransportClose)]
        );
        assert!(c.on_transport_close(true).is_empty());
    }

    fn open() -> EngineClient {
        let mut c = EngineClient::new();
        c.on_packet(Packet::Open(handshake()), ms(0));
        c
    }

    fn msg(text: &str) -> Packet {
        Packet::Message(text.into())
    }

    fn write(packets: Vec<Packet>) -> Vec<EngineOutput> {
        vec![EngineOutput::Write(packets)]
    }

    fn closing_write() -> Vec<EngineOutput> {
        vec![
            EngineOutput::Write(vec![Packet::Close]),
            EngineOutput::Closed(CloseReason::ForcedClose),
        ]
    }

    #[test]
    fn client_close_sends_close_once() {
        let mut c = open();
        assert_eq!(c.close_by_client(), closing_write());
        assert!(c.close_by_client().is_empty());
        assert!(!c.is_open());
        // Not open yet: nothing to tell the server.
        let mut c = EngineClient::new();
        assert_eq!(
            c.close_by_client(),
            vec![EngineOutput::Closed(CloseReason::ForcedClose)]
        );
    }

    #[test]
    fn one_write_at_a_time_in_order() {
        let mut c = EngineClient::new();
        // Before the handshake, sends wait; it flushes them.
        assert!(c.send(msg("40")).is_empty());
        let out = c.on_packet(Packet::Open(handshake()), ms(0));
        assert_eq!(out[1..], write(vec![msg("40")]));
        assert!(c.send(msg("2a")).is_empty());
        assert!(c.on_packet(Packet::Ping(String::new()), ms(1)).is_empty());
        assert_eq!(
            c.on_written(),
            write(vec![msg("2a"), Packet::Pong(String::new())])
        );
        assert!(c.on_written().is_empty());
        assert_eq!(c.send(msg("2b")), write(vec![msg("2b")]));
    }

    #[test]
    fn close_waits_for_the_write_under_way_and_sends_close_alone() {
        let mut c = open();
        assert_eq!(c.send(msg("2a")), write(vec![msg("2a")]));
        // Written while "2a" is on its way: waits, then goes before the close packet,
        // which gets a write of its own.
        assert!(c.send(msg("41")).is_empty());
        assert!(c.close_by_client().is_empty());
        assert!(!c.is_open());
        assert!(c.send(msg("2late")).is_empty(), "closing: dropped");
        // What the server sends meanwhile is not the application's any more.
        assert!(c.on_packet(msg("2x"), ms(1)).is_empty());
        assert!(c.on_packet(Packet::Ping(String::new()), ms(1)).is_empty());
        assert_eq!(c.on_written(), write(vec![msg("41")]));
        assert_eq!(c.on_written(), closing_write());
        assert!(c.on_written().is_empty());
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn close_while_paused_for_an_upgrade_writes_what_waits() {
        let mut c = open();
        c.pause();
        assert!(c.send(msg("2a")).is_empty());
        assert!(c.send(msg("41")).is_empty());
        assert_eq!(c.close_by_client(), write(vec![msg("2a"), msg("41")]));
        assert_eq!(c.on_written(), closing_write());
    }

    #[test]
    fn pause_holds_writes_until_resume() {
        let mut c = open();
        c.pause();
        assert!(c.send(msg("2a")).is_empty());
        assert!(c.on_written().is_empty());
        assert_eq!(c.resume(), write(vec![msg("2a")]));
    }

    #[test]
    fn a_close_that_cannot_finish_ends_with_the_heartbeat() {
        let mut c = open();
        c.send(msg("2a"));
        assert!(c.close_by_client().is_empty());
        assert_eq!(c.deadline(), Some(ms(500)));
        assert_eq!(
            c.poll(ms(500)),
            vec![EngineOutput::Closed(CloseReason::PingTimeout)]
        );
        assert!(c.on_written().is_empty());
        // The server's close packet ends it too.
        let mut c = open();
        c.send(msg("2a"));
        c.close_by_client();
        assert_eq!(
            c.on_packet(Packet::Close, ms(1)),
            vec![EngineOutput::Closed(CloseReason::TransportClose)]
        );
    }

    /// Every write until none is left, each reported done at once.
    fn drain(c: &mut EngineClient, first: Vec<EngineOutput>) -> Vec<Vec<Packet>> {
        let mut batches = Vec::new();
        let mut out = first;
        while let Some(EngineOutput::Write(packets)) = out.pop() {
            batches.push(packets);
            out = c.on_written();
        }
        batches
    }

    #[test]
    fn polling_writes_fit_max_payload() {
        // A backlog sent while offline, larger than maxPayload (1000) in all.
        let mut c = EngineClient::new();
        let mut sent = Vec::new();
        for i in 0..30 {
            let packet = if i % 7 == 3 {
                Packet::Binary(vec![i as u8; 70].into())
            } else {
                msg(&format!("2[\"e\",{i:0>90}]"))
            };
            assert!(c.send(packet.clone()).is_empty());
            sent.push(packet);
        }
        let out = c.on_packet(Packet::Open(handshake()), ms(0));
        let batches = drain(&mut c, out[1..].to_vec());
        assert!(
            batches.len() > 1,
            "one POST of {} packets",
            batches[0].len()
        );
        for (i, batch) in batches.iter().enumerate() {
            let size = crate::engine::payload::encode(batch).len();
            assert!(size <= 1000, "POST {i} has {size} bytes");
            // Each POST takes as many as fit.
            if let Some(next) = batches.get(i + 1) {
                let more = crate::engine::payload::encode(batch.iter().chain(&next[..1]));
                assert!(more.len() > 1000);
            }
        }
        assert_eq!(batches.concat(), sent, "in order, nothing lost");
    }

    #[test]
    fn a_packet_over_max_payload_goes_alone() {
        let mut c = open();
        c.pause();
        let big = msg(&"x".repeat(1500));
        for packet in [msg("2a"), big.clone(), msg("2b")] {
            assert!(c.send(packet).is_empty());
        }
        let out = c.resume();
        let batches = drain(&mut c, out);
        assert_eq!(batches, vec![vec![msg("2a")], vec![big], vec![msg("2b")]]);
    }

    #[test]
    fn websocket_writes_are_not_split() {
        let mut c = open();
        c.use_websocket();
        c.pause();
        let backlog: Vec<_> = (0..20).map(|_| msg(&"y".repeat(100))).collect();
        for packet in &backlog {
            assert!(c.send(packet.clone()).is_empty());
        }
        assert_eq!(c.resume(), write(backlog));
    }

    #[test]
    fn probe_packets() {
        assert_eq!(Probe::start().encode_text(), "2probe");
        assert!(Probe::passed(&Packet::Pong("probe".into())));
        assert!(!Probe::passed(&Packet::Pong(String::new())));
        assert_eq!(Probe::finish().encode_text(), "5");
    }
}
