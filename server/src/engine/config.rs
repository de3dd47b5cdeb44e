//! The Engine.IO layer's settings (re-exported by `crate::config`), with the defaults
//! of the official engine.io server. They live with the engine, which reads them, so
//! that the engine depends on nothing above it.

use axum::http::{HeaderValue, Method};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Which browser origins may call the endpoint (CORS).
#[derive(Debug, Clone, Default)]
pub enum Cors {
    /// No CORS headers: only same-origin pages (and non-browser clients) connect.
    #[default]
    SameOrigin,
    /// Any origin (`Access-Control-Allow-Origin: *`).
    Any,
    /// Only these origins, e.g. `https://example.com`.
    Origins(Vec<String>),
}

impl Cors {
    /// Parses a list as given on a command line: `*` means any origin.
    pub fn from_list<I: IntoIterator<Item = S>, S: Into<String>>(origins: I) -> Cors {
        let origins: Vec<String> = origins.into_iter().map(Into::into).collect();
        if origins.iter().any(|o| o == "*") {
            Cors::Any
        } else if origins.is_empty() {
            Cors::SameOrigin
        } else {
            Cors::Origins(origins)
        }
    }

    pub(crate) fn layer(&self) -> CorsLayer {
        let base = CorsLayer::new()
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(tower_http::cors::Any);
        match self {
            Cors::SameOrigin => CorsLayer::new(),
            Cors::Any => base.allow_origin(tower_http::cors::Any),
            // A named origin may send cookies (`withCredentials`); `*` cannot, by the
            // CORS rules browsers apply.
            Cors::Origins(list) => base
                .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
                .allow_credentials(true)
                .allow_origin(AllowOrigin::list(
                    list.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
                )),
        }
    }
}

/// Settings of the Engine.IO layer.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The HTTP path of the endpoint (`/socket.io/` by default).
    pub path: String,
    /// Time between the server's pings.
    pub ping_interval: Duration,
    /// How long the server waits for a pong before closing ("ping timeout").
    pub ping_timeout: Duration,
    /// The largest polling body or WebSocket message accepted, in bytes. Bigger input
    /// closes the session (HTTP 413 for polling).
    pub max_payload: usize,
    /// How long a WebSocket upgrade may take from probe to upgrade packet.
    pub upgrade_timeout: Duration,
    /// The bound of each session's outbound queue, in frames (one packet, or one
    /// binary attachment, is one frame). A client that lets it fill is closed with
    /// "transport error": a slow consumer never grows server memory without limit.
    pub max_buffered_frames: usize,
    /// Which browser origins may connect. The server enforces it: a request whose
    /// `Origin` it does not allow is refused with 403, WebSockets included.
    pub cors: Cors,
    /// The most Engine.IO sessions at once; a handshake beyond it gets HTTP 503
    /// ("Too many connections", code 3) and a log line.
    pub max_connections: usize,
    /// socket.io's `allowRequest`: an async check of each handshake and upgrade
    /// request, before a session exists (none by default).
    pub allow_request: Option<super::AllowRequest>,
    /// engine.io's `connection_error` event: called for every refused request.
    pub on_connection_error: Option<super::OnConnectionError>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_millis(10_000),
            max_buffered_frames: 4096,
            cors: Cors::SameOrigin,
            max_connections: 100_000,
            allow_request: None,
            on_connection_error: None,
        }
    }
}
