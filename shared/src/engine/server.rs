//! The server's side of one Engine.IO session, without I/O.
//!
//! [`ServerSession`] holds the rules of a session once it is open: the open packet, what
//! each packet from the client means, the heartbeat, the switch to a WebSocket, and how
//! a close is told to a polling client. [`UpgradeProbe`] holds the server's side of the
//! upgrade of a polling session, which runs on the new WebSocket beside it.
//!
//! Application messages do not pass through here on their way out: a driver queues them
//! itself, and asks the session only for the control packets it must send
//! ([`ServerSession::poll_transmit`]). Time is an argument, as in [`super::heartbeat`].

use super::{CloseReason, HeartbeatAction, OpenPacket, Packet, PacketType, ServerHeartbeat, PROBE};
use bytes::Bytes;
use std::time::Duration;

/// The settings a session runs by (engine.io's option names in comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Time between the server's pings (`pingInterval`).
    pub ping_interval: Duration,
    /// Time the client has to answer a ping (`pingTimeout`).
    pub ping_timeout: Duration,
    /// Time an upgrade may take, from the WebSocket's opening to the upgrade packet
    /// (`upgradeTimeout`).
    pub upgrade_timeout: Duration,
    /// The largest payload, in bytes, of one polling request or WebSocket frame
    /// (`maxPayload`).
    pub max_payload: u64,
}

/// The transport a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Transport {
    /// HTTP long-polling.
    Polling = 0,
    /// Polling, with a WebSocket probe under way.
    Upgrading = 1,
    /// WebSocket.
    WebSocket = 2,
}

impl Transport {
    /// The transport a request names (`transport=polling` or `transport=websocket`).
    pub fn from_name(name: &str) -> Option<Transport> {
        match name {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }

    /// The protocol's name for it (an upgrading session still polls).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling | Transport::Upgrading => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    /// Whether a polling request may still be answered: not once the WebSocket took
    /// over. (During an upgrade a GET may have overtaken the client's upgrade packet;
    /// a driver lets such a GET wait for the upgrade to settle first.)
    pub fn polls(self) -> bool {
        self != Transport::WebSocket
    }
}

/// Whether `version` (the `EIO` query parameter) is the protocol revision spoken here.
pub fn is_supported_version(version: &str) -> bool {
    version.as_bytes() == [b'0' + super::PROTOCOL]
}

/// What a packet from the client means for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text message: the packet's data.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A control packet; the session took care of it.
    Control,
    /// The session is over, for this reason.
    Closed(CloseReason),
}

/// What a WebSocket text frame means (see [`ServerSession::on_text_frame`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFrame {
    /// A message: its data is the frame's text from byte `data_at` on.
    Message {
        /// Where the data starts (after the type digit).
        data_at: usize,
    },
    /// A control packet; the session took care of it.
    Control,
    /// The session is over, for this reason.
    Closed(CloseReason),
}

/// A control packet that is due ([`ServerSession::poll_transmit`]): at most one of each
/// kind is ever waiting, so a bit each holds them without a queue.
const DUE_PING: u8 = 1;
const DUE_NOOP: u8 = 2;

/// The server's side of one Engine.IO session: see the module documentation.
#[derive(Debug, Clone)]
pub struct ServerSession {
    config: SessionConfig,
    transport: Transport,
    heartbeat: ServerHeartbeat,
    closed: Option<CloseReason>,
    due: u8,
}

impl ServerSession {
    /// A session opened at `now` on `transport` (polling, or WebSocket from the start).
    /// The heartbeat counts from now, before the open packet is even sent, as
    /// engine.io's timers do.
    pub fn new(config: SessionConfig, transport: Transport, now: Duration) -> Self {
        ServerSession {
            config,
            transport,
            heartbeat: ServerHeartbeat::new(config.ping_interval, config.ping_timeout, now),
            closed: None,
            due: 0,
        }
    }

    /// The open packet for session `sid`: the first packet the client gets. A polling
    /// session offers the upgrade to WebSocket; a WebSocket one offers nothing.
    pub fn open_packet(&self, sid: &str) -> Packet {
        Packet::Open(OpenPacket {
            sid: sid.to_owned(),
            upgrades: if self.transport == Transport::WebSocket {
                Vec::new()
            } else {
                vec![Transport::WebSocket.name().to_owned()]
            },
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
            max_payload: self.config.max_payload,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Why the session closed, once it has.
    pub fn closed(&self) -> Option<CloseReason> {
        self.closed
    }

    /// A packet from the client (a polling payload's, or a WebSocket frame's), at `now`.
    pub fn on_packet(&mut self, packet: Packet, now: Duration) -> Received {
        if let Some(reason) = self.closed {
            return Received::Closed(reason);
        }
        match packet {
            Packet::Message(text) => Received::Text(text),
            Packet::Binary(data) => Received::Binary(data),
            Packet::Pong(_) => {
                self.heartbeat.on_pong(now);
                Received::Control
            }
            Packet::Close => Received::Closed(self.end(CloseReason::TransportClose)),
            // Only the server opens; and in Engine.IO v4 only the server pings (a
            // client's ping is the upgrade probe, which goes to the `UpgradeProbe`).
            Packet::Open(_) | Packet::Ping(_) => {
                Received::Closed(self.end(CloseReason::TransportError))
            }
            // An upgrade packet is the probe's; a noop means nothing.
            Packet::Upgrade | Packet::Noop => Received::Control,
        }
    }

    /// A WebSocket text frame, at `now`. A message, the common case, is not decoded or
    /// copied: its data is a slice of the frame.
    pub fn on_text_frame(&mut self, text: &str, now: Duration) -> TextFrame {
        if let Some(reason) = self.closed {
            return TextFrame::Closed(reason);
        }
        if PacketType::of_text(text.as_bytes()) == Some(PacketType::Message) {
            return TextFrame::Message { data_at: 1 };
        }
        let packet = match Packet::decode_text(text) {
            Ok(packet) => packet,
            // engine.io closes a WebSocket whose frame is no packet as a transport
            // error (the client's view of it, not a parse error of ours).
            Err(_) => return TextFrame::Closed(self.end(CloseReason::TransportError)),
        };
        match self.on_packet(packet, now) {
            Received::Closed(reason) => TextFrame::Closed(reason),
            // Decoded from text: never binary; and a message was caught above.
            Received::Text(_) | Received::Binary(_) | Received::Control => TextFrame::Control,
        }
    }

    /// The transport ended under the session: closed by the client, or failed.
    pub fn on_transport_close(&mut self, error: bool) -> CloseReason {
        self.end(if error {
            CloseReason::TransportError
        } else {
            CloseReason::TransportClose
        })
    }

    /// Starts the upgrade of a polling session; false if one is under way or done.
    pub fn begin_upgrade(&mut self) -> bool {
        if self.transport != Transport::Polling || self.closed.is_some() {
            return false;
        }
        self.transport = Transport::Upgrading;
        true
    }

    /// The upgrade failed: the session goes on polling as if nothing happened.
    pub fn on_upgrade_failed(&mut self) {
        if self.transport == Transport::Upgrading {
            self.transport = Transport::Polling;
        }
    }

    /// The WebSocket took over (the upgrade packet arrived). A GET still pending (an
    /// official client has none by now) gets a noop and returns, freeing the queue for
    /// the WebSocket.
    pub fn on_upgraded(&mut self, poll_pending: bool) {
        self.transport = Transport::WebSocket;
        self.due &= !DUE_NOOP;
        if poll_pending {
            self.due |= DUE_NOOP;
        }
    }

    /// Closes the session for `reason`, unless it closed already; the reason it closed
    /// for.
    pub fn close(&mut self, reason: CloseReason) -> CloseReason {
        self.end(reason)
    }

    /// When [`ServerSession::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.closed {
            None => self.heartbeat.deadline(),
            Some(_) => None,
        }
    }

    /// Advances the clock to `now`: a ping may be due ([`ServerSession::poll_transmit`]),
    /// or the client did not answer the last one in time ("ping timeout").
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.closed.is_some() {
            return;
        }
        match self.heartbeat.poll(now) {
            HeartbeatAction::SendPing => self.due |= DUE_PING,
            HeartbeatAction::TimedOut => {
                self.end(CloseReason::PingTimeout);
            }
            HeartbeatAction::Wait => {}
        }
    }

    /// The next control packet to send, queued after what waits for the transport.
    /// A noop is only ever due on polling: it means nothing on a WebSocket.
    pub fn poll_transmit(&mut self) -> Option<Packet> {
        if self.due & DUE_NOOP != 0 {
            self.due &= !DUE_NOOP;
            return Some(Packet::Noop);
        }
        if self.due & DUE_PING != 0 {
            self.due &= !DUE_PING;
            return Some(Packet::Ping(String::new()));
        }
        None
    }

    /// What a polling client is sent last, once the session has closed: it learns of
    /// the close from a GET. A GET pending now gets the close packet, or a noop when
    /// the client asked for the close itself, as engine.io answers. Without one, a close
    /// the server chose keeps the close packet queued for the client's next GET; any
    /// other close just ends, and that GET finds no session. Nothing on a WebSocket,
    /// which has a close frame of its own. `poll_pending` is asked only when it matters.
    pub fn farewell(&self, poll_pending: impl FnOnce() -> bool) -> Option<Packet> {
        let reason = self.closed?;
        if !self.transport.polls() || !(reason.is_chosen() || poll_pending()) {
            return None;
        }
        Some(if reason == CloseReason::TransportClose {
            Packet::Noop
        } else {
            Packet::Close
        })
    }

    fn end(&mut self, reason: CloseReason) -> CloseReason {
        *self.closed.get_or_insert(reason)
    }
}

/// The server's side of the upgrade of a polling session, on the new WebSocket: the
/// client's `2probe` is answered with `3probe`, polling is flushed with a noop, and the
/// client's upgrade packet completes it, all within the upgrade timeout.
#[derive(Debug, Clone)]
pub struct UpgradeProbe {
    state: ProbeState,
    deadline: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeState {
    /// Waiting for the client's `2probe`.
    Probing,
    /// Probed; waiting for the upgrade packet.
    Probed,
    /// Done, one way or the other.
    Over,
}

/// What the driver of an [`UpgradeProbe`] must do.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeStep {
    /// Send this packet on the WebSocket (a pong to a ping while the client waits).
    Answer(Packet),
    /// The probe passed: send `answer` on the WebSocket, then queue `flush` on polling:
    /// the client waits for its pending GET to return before it sends the upgrade.
    Probed {
        /// The answer to the probe (`3probe`).
        answer: Packet,
        /// The noop that ends the pending GET.
        flush: Packet,
    },
    /// The upgrade packet arrived: the WebSocket is the session's transport now.
    Upgraded,
    /// The upgrade failed: close the WebSocket; the session goes on polling.
    Failed,
}

impl UpgradeProbe {
    /// A probe whose WebSocket opened at `now`.
    pub fn new(upgrade_timeout: Duration, now: Duration) -> Self {
        UpgradeProbe {
            state: ProbeState::Probing,
            deadline: now + upgrade_timeout,
        }
    }

    /// When the upgrade fails if it is not done.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A frame from the WebSocket: `None` when it is no text packet.
    pub fn on_packet(&mut self, packet: Option<Packet>) -> ProbeStep {
        let step = match (self.state, packet) {
            (ProbeState::Probing, Some(Packet::Ping(data))) if data == PROBE => {
                self.state = ProbeState::Probed;
                return ProbeStep::Probed {
                    answer: Packet::Pong(data),
                    flush: Packet::Noop,
                };
            }
            (ProbeState::Probed, Some(Packet::Upgrade)) => ProbeStep::Upgraded,
            // A client may ping again while it waits; keep the probe alive.
            (ProbeState::Probed, Some(Packet::Ping(data))) => {
                return ProbeStep::Answer(Packet::Pong(data));
            }
            _ => ProbeStep::Failed,
        };
        self.state = ProbeState::Over;
        step
    }

    /// Advances the clock: past the deadline, the upgrade has failed.
    pub fn handle_timeout(&mut self, now: Duration) -> Option<ProbeStep> {
        if self.state != ProbeState::Over && now >= self.deadline {
            self.state = ProbeState::Over;
            return Some(ProbeStep::Failed);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn config() -> SessionConfig {
        SessionConfig {
            ping_interval: ms(300),
            ping_timeout: ms(200),
            upgrade_timeout: ms(1000),
            max_payload: 1000,
        }
    }

    #[test]
    fn open_packet_offers_the_upgrade_on_polling_only() {
        let polling = ServerSession::new(config(), Transport::Polling, ms(0));
        let Packet::Open(open) = polling.open_packet("s") else {
            panic!("not an open packet");
        };
        assert_eq!(open.upgrades, ["websocket"]);
        assert_eq!((open.ping_interval, open.ping_timeout), (300, 200));
        let ws = ServerSession::new(config(), Transport::WebSocket, ms(0));
        let Packet::Open(open) = ws.open_packet("s") else {
            panic!("not an open packet");
        };
        assert!(open.upgrades.is_empty());
    }

    #[test]
    fn pings_and_times_out() {
        let mut s = ServerSession::new(config(), Transport::Polling, ms(0));
        assert_eq!(s.poll_timeout(), Some(ms(300)));
        s.handle_timeout(ms(300));
        assert_eq!(s.poll_transmit(), Some(Packet::Ping(String::new())));
        assert_eq!(s.poll_transmit(), None);
        s.handle_timeout(ms(500));
        assert_eq!(s.closed(), Some(CloseReason::PingTimeout));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn packets_from_the_client() {
        let mut s = ServerSession::new(config(), Transport::WebSocket, ms(0));
        assert_eq!(
            s.on_text_frame("42[\"a\"]", ms(1)),
            TextFrame::Message { data_at: 1 }
        );
        assert_eq!(s.on_text_frame("3", ms(1)), TextFrame::Control);
        assert_eq!(s.on_text_frame("6", ms(1)), TextFrame::Control);
        assert_eq!(
            s.on_text_frame("2", ms(1)),
            TextFrame::Closed(CloseReason::TransportError)
        );
        // The first reason stays.
        assert_eq!(
            s.on_packet(Packet::Close, ms(2)),
            Received::Closed(CloseReason::TransportError)
        );
        let mut s = ServerSession::new(config(), Transport::WebSocket, ms(0));
        assert_eq!(
            s.on_text_frame("x", ms(1)),
            TextFrame::Closed(CloseReason::TransportError)
        );
        let mut s = ServerSession::new(config(), Transport::Polling, ms(0));
        assert_eq!(
            s.on_packet(Packet::Message("hi".into()), ms(1)),
            Received::Text("hi".into())
        );
        assert_eq!(
            s.on_packet(Packet::Close, ms(1)),
            Received::Closed(CloseReason::TransportClose)
        );
    }

    #[test]
    fn the_last_poll_hears_of_the_close() {
        let closed = |reason, transport| {
            let mut s = ServerSession::new(config(), transport, ms(0));
            s.close(reason);
            s
        };
        let s = closed(CloseReason::TransportClose, Transport::Polling);
        assert_eq!(s.farewell(|| true), Some(Packet::Noop));
        assert_eq!(s.farewell(|| false), None);
        let s = closed(CloseReason::ForcedClose, Transport::Polling);
        assert_eq!(s.farewell(|| false), Some(Packet::Close));
        let s = closed(CloseReason::PingTimeout, Transport::Polling);
        assert_eq!(s.farewell(|| true), Some(Packet::Close));
        assert_eq!(s.farewell(|| false), None);
        let s = closed(CloseReason::ForcedClose, Transport::WebSocket);
        assert_eq!(s.farewell(|| true), None);
    }

    #[test]
    fn the_upgrade_probe() {
        let mut p = UpgradeProbe::new(ms(100), ms(0));
        assert_eq!(
            p.on_packet(Some(Packet::Ping(PROBE.into()))),
            ProbeStep::Probed {
                answer: Packet::Pong(PROBE.into()),
                flush: Packet::Noop,
            }
        );
        assert_eq!(
            p.on_packet(Some(Packet::Ping("x".into()))),
            ProbeStep::Answer(Packet::Pong("x".into()))
        );
        assert_eq!(p.on_packet(Some(Packet::Upgrade)), ProbeStep::Upgraded);
        assert_eq!(p.handle_timeout(ms(100)), None);

        let mut p = UpgradeProbe::new(ms(100), ms(0));
        assert_eq!(p.on_packet(Some(Packet::Upgrade)), ProbeStep::Failed);
        let mut p = UpgradeProbe::new(ms(100), ms(0));
        assert_eq!(p.handle_timeout(ms(99)), None);
        assert_eq!(p.handle_timeout(ms(100)), Some(ProbeStep::Failed));
    }

    #[test]
    fn a_poll_pending_at_the_upgrade_gets_a_noop() {
        let mut s = ServerSession::new(config(), Transport::Polling, ms(0));
        assert!(s.begin_upgrade());
        assert!(!s.begin_upgrade());
        s.on_upgraded(false);
        assert_eq!(s.transport(), Transport::WebSocket);
        assert_eq!(s.poll_transmit(), None);
        let mut s = ServerSession::new(config(), Transport::Polling, ms(0));
        s.on_upgraded(true);
        assert_eq!(s.poll_transmit(), Some(Packet::Noop));
    }

    #[test]
    fn versions() {
        assert!(is_supported_version("4"));
        assert!(!is_supported_version("3"));
        assert!(!is_supported_version("04"));
        assert!(!is_supported_version(""));
    }
}
