//! The HTTP errors of the Engine.IO endpoint, with the codes the official server uses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why an Engine.IO HTTP request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The `transport` parameter is missing or unknown.
    #[error("Transport unknown")]
    UnknownTransport,
    /// The `sid` names no open session.
    #[error("Session ID unknown")]
    UnknownSid,
    /// A handshake must be a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// The request does not fit the session's state (for example a second GET while
    /// one is pending, or polling after an upgrade).
    #[error("Bad request")]
    BadRequest,
    /// The `EIO` parameter is missing or not 4.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
    /// The body is larger than `maxPayload`.
    #[error("Payload too large")]
    PayloadTooLarge,
    /// The server is shutting down and takes no new sessions (clients retry later,
    /// ideally against another node).
    #[error("Server shutting down")]
    ShuttingDown,
    /// The server holds `max_connections` sessions already.
    #[error("Too many connections")]
    TooManyConnections,
    /// The request's `Origin` is not allowed (HTTP 403).
    #[error("Forbidden")]
    Forbidden,
}

impl EngineError {
    /// The `reason` label of `sockeye_handshakes_refused_total` for this refusal.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            EngineError::UnknownTransport => "unknown_transport",
            EngineError::UnknownSid => "unknown_sid",
            EngineError::BadHandshakeMethod => "bad_handshake_method",
            EngineError::BadRequest => "bad_request",
            EngineError::UnsupportedProtocolVersion => "unsupported_protocol_version",
            EngineError::PayloadTooLarge => "payload_too_large",
            EngineError::ShuttingDown => "shutting_down",
            EngineError::TooManyConnections => "too_many_connections",
            EngineError::Forbidden => "origin",
        }
    }

    /// The numeric code in the JSON body, as engine.io numbers them.
    pub fn code(self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest
            | EngineError::PayloadTooLarge
            | EngineError::ShuttingDown
            | EngineError::TooManyConnections => 3,
            EngineError::Forbidden => 4,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The HTTP status of the answer.
    pub fn status(self) -> StatusCode {
        match self {
            EngineError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            EngineError::ShuttingDown | EngineError::TooManyConnections => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EngineError::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for EngineError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        (status, axum::Json(body)).into_response()
    }
}
