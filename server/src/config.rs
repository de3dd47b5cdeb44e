//! Server settings, with the defaults of the official socket.io server.

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
    pub allow_request: Option<crate::engine::AllowRequest>,
    /// engine.io's `connection_error` event: called for every refused request.
    pub on_connection_error: Option<crate::engine::OnConnectionError>,
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

/// Settings of the Socket.IO layer, and of the Engine.IO layer under it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Engine.IO settings.
    pub engine: EngineConfig,
    /// A connection that joins no namespace within this time is closed.
    pub connect_timeout: Duration,
    /// How long `emit_with_ack` waits for the client's answer unless told otherwise.
    pub ack_timeout: Duration,
    /// The most binary attachments one packet may announce.
    pub max_attachments: usize,
    /// The most acks a socket may wait for at once; more fail at once.
    pub max_pending_acks: usize,
    /// Connection state recovery (`None`, the default: off).
    pub recovery: Option<Recovery>,
    /// The packet format every client of this server speaks (socket.io's `parser`
    /// option): JSON (the default) or socket.io-msgpack-parser's.
    pub parser: sockeye_protocol::socket::Parser,
    /// How many events each socket may send, all events together (`None`, the
    /// default: no limit, as socket.io). Namespaces may set their own, and limits per
    /// event ([`crate::Namespace::rate_limit`]).
    pub rate_limit: Option<crate::RateLimit>,
    /// When a socket whose packets rate limits drop is disconnected for flooding
    /// (`None`: never, the packets are only dropped). Default: more than 100 drops
    /// within 10 seconds.
    pub flood_limit: Option<crate::FloodLimit>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_millis(45_000),
            ack_timeout: Duration::from_secs(30),
            max_attachments: sockeye_protocol::socket::Decoder::DEFAULT_MAX_ATTACHMENTS,
            max_pending_acks: 1024,
            recovery: None,
            parser: sockeye_protocol::socket::Parser::Json,
            rate_limit: None,
            flood_limit: Some(crate::FloodLimit::default()),
        }
    }
}

/// Settings of connection state recovery, with socket.io's defaults.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// How long a disconnected session and the packets it misses are kept (default
    /// 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middlewares (default true).
    pub skip_middlewares: bool,
    /// The most packets kept per namespace (default 10 000).
    pub max_packets: usize,
    /// The most disconnected sessions kept per namespace (default 10 000).
    pub max_sessions: usize,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_sessions: 10_000,
        }
    }
}
