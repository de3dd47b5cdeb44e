//! Why an Engine.IO connection closed, in the protocol's own words.

use std::fmt;

/// Why an Engine.IO connection closed. Both ends use it: the server's session and the
/// client's engine report the same reasons, spelled as engine.io and socket.io spell
/// them (the `reason` of the `close` and `disconnect` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer closed the transport, or sent a close packet ("transport close").
    TransportClose,
    /// The transport failed, or the peer sent something the transport cannot carry
    /// ("transport error").
    TransportError,
    /// The heartbeat went unanswered in time ("ping timeout").
    PingTimeout,
    /// This end chose to close ("forced close").
    ForcedClose,
    /// The peer sent a packet that cannot be read ("parse error").
    ParseError,
    /// The server is shutting down ("server shutting down").
    ServerShuttingDown,
}

impl CloseReason {
    /// The reason as engine.io and socket.io spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ParseError => "parse error",
            CloseReason::ServerShuttingDown => "server shutting down",
        }
    }

    /// Whether the closing end chose to close, and so sends what it has queued first
    /// (a polite close) rather than dropping it.
    pub fn is_chosen(self) -> bool {
        matches!(
            self,
            CloseReason::ForcedClose | CloseReason::ServerShuttingDown
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
