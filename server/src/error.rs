//! The errors and reasons of the Socket.IO layer.

use crate::engine::{CloseReason, SendError};
use sockeye_protocol::Value;

/// A refusal of a namespace join, sent to the client as CONNECT_ERROR.
///
/// The client's `connect_error` handler gets an `Error` whose `message` is
/// [`ConnectError::message`] and whose `data` is [`ConnectError::data`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// The message the client sees.
    pub message: String,
    /// Extra data for the client.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data for the client.
    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = Some(data.into());
        self
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut entries = vec![("message".to_owned(), Value::String(self.message.clone()))];
        if let Some(data) = &self.data {
            entries.push(("data".to_owned(), data.clone()));
        }
        Value::Object(entries)
    }
}

/// Why an emit did not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The event name is one the library reserves (`connect`, `disconnect`, ...).
    #[error("{0:?} is a reserved event name")]
    ReservedEvent(String),
    /// The socket is disconnected.
    #[error("socket disconnected")]
    Disconnected,
    /// The client does not read fast enough; its connection is being closed.
    #[error("the client's outbound queue is full")]
    QueueFull,
    /// A typed event's arguments did not serialize (the serde error's message).
    #[error("arguments: {0}")]
    Arguments(String),
}

impl From<sockeye_protocol::socket::ArgsError> for EmitError {
    fn from(e: sockeye_protocol::socket::ArgsError) -> Self {
        EmitError::Arguments(e.to_string())
    }
}

impl From<SendError> for EmitError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::QueueFull => EmitError::QueueFull,
            SendError::Closed => EmitError::Disconnected,
        }
    }
}

/// Why an emit that waited for the client's ack got none. (The browser client's
/// `ServerAckError` is the other direction: the server's ack to a client emit.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No answer within the timeout.
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("socket disconnected before the ack")]
    Disconnected,
    /// The socket already waits for as many acks as allowed.
    #[error("too many acks pending")]
    TooManyPending,
    /// The emit itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// Why a socket left its namespace, in socket.io's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection was closed by the client or lost.
    TransportClose,
    /// The connection failed (including a slow client whose queue filled).
    TransportError,
    /// The client did not answer pings.
    PingTimeout,
    /// The server closed the connection.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client sent a packet that could not be decoded.
    ParseError,
    /// The client left the namespace (`socket.disconnect()` on its side).
    ClientNamespaceDisconnect,
    /// The server removed the socket (`socket.disconnect()`).
    ServerNamespaceDisconnect,
    /// The client sent a packet against the namespace state (a CONNECT to a namespace
    /// it is in, another packet for one it is not in, or a CONNECT_ERROR), and the
    /// server closed the whole connection: socket.io's "invalid state".
    ForcedServerClose,
    /// The client kept sending past its rate limits (see [`crate::FloodLimit`]) and the
    /// server removed the socket; the client sees "io server disconnect".
    Flooding,
}

impl DisconnectReason {
    /// Whether the network (or the server) ended the socket rather than either side
    /// choosing to: connection state recovery keeps such a session for its return.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportClose
                | DisconnectReason::TransportError
                | DisconnectReason::PingTimeout
                | DisconnectReason::ForcedClose
                | DisconnectReason::ServerShuttingDown
                | DisconnectReason::ForcedServerClose
        )
    }

    /// The reason as socket.io spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::Flooding => "flooding",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
            CloseReason::ParseError => DisconnectReason::ParseError,
        }
    }
}

/// A broadcast with acks in which some reached client did not answer in time; the
/// answers that did arrive (socket.io's `err` with its partial `responses`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("operation has timed out ({} answers arrived)", responses.len())]
pub struct BroadcastTimeout {
    /// The answers that arrived (each client's first ack argument).
    pub responses: Vec<sockeye_protocol::Value>,
}
