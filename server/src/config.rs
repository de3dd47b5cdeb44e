//! Server settings, with the defaults of the official socket.io server.

pub use crate::engine::{Cors, EngineConfig};
use std::time::Duration;

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
    /// When a socket past its rate limits is disconnected for flooding (`None`:
    /// never, it is only paced and its packets dropped). Default: its input held back
    /// by its socket limit for 10 seconds, or more than 100 drops by event limits
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
