//! The Redis Streams adapter, wire-compatible with `@socket.io/redis-streams-adapter`
//! 0.3: broadcasts and room changes are entries of one Redis stream that every node
//! reads, so a node whose link to Redis blips reads what it missed once it is back;
//! requests that only matter now (fetchSockets, serverSideEmit, broadcasts with acks)
//! and their responses go by pub/sub, as the Node adapter sends them.
//!
//! ```no_run
//! use sockeye_redis::RedisStreamsAdapter;
//! use sockeye_server::SocketIo;
//!
//! # async fn run() -> Result<(), sockeye_redis::RedisError> {
//! let io = SocketIo::builder().adapter(RedisStreamsAdapter::connect("redis://127.0.0.1:6379/").await?).build();
//! io.to("room").emit("news", "reaches the room's sockets on every node").ok();
//! # Ok(()) }
//! ```

mod adapter;
mod emitter;
mod entry;
mod link;
mod session;

pub use emitter::{StreamsEmitter, StreamsEmitterOperator};

use redis::RedisError;
use sockeye_server::{Adapter, AdapterFactory, NamespaceRef};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the streams adapter, with the defaults of
/// `@socket.io/redis-streams-adapter` (its option names in parentheses).
#[derive(Debug, Clone)]
pub struct StreamsOptions {
    /// The stream every node reads and writes (`streamName`, default `socket.io`).
    pub stream_name: String,
    /// The prefix of the pub/sub channels (`channelPrefix`, default `socket.io`).
    pub channel_prefix: String,
    /// The stream is trimmed to about this many entries on each write (`maxLen`,
    /// default 10 000): a node away for longer than that many entries misses the
    /// oldest ones, and a session older than them cannot be recovered.
    pub max_len: u64,
    /// The most entries one `XREAD` returns (`readCount`, default 100).
    pub read_count: u64,
    /// How long one `XREAD` blocks waiting for entries (`blockTimeInMs`, default 5 s).
    pub block_time: Duration,
    /// The prefix of the keys that hold the sessions of connection state recovery
    /// (`sessionKeyPrefix`, default `sio:session:`).
    pub session_key_prefix: String,
    /// How long a request to the other nodes (fetchSockets, serverSideEmit) waits for
    /// their answers (socket.io's default 5 s).
    pub requests_timeout: Duration,
}

impl Default for StreamsOptions {
    fn default() -> Self {
        StreamsOptions {
            stream_name: "socket.io".into(),
            channel_prefix: "socket.io".into(),
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_secs(5),
            session_key_prefix: "sio:session:".into(),
            requests_timeout: Duration::from_secs(5),
        }
    }
}

/// The Redis Streams adapter: give it to [`sockeye_server::Builder::adapter`]. Cheap
/// to clone.
#[derive(Clone)]
pub struct RedisStreamsAdapter {
    link: Arc<link::StreamsLink>,
}

impl RedisStreamsAdapter {
    /// Connects to Redis (`redis://host:port/db`, or `unix:///path`) with the default
    /// options. Fails when Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<RedisStreamsAdapter, RedisError> {
        RedisStreamsAdapter::connect_with(url, StreamsOptions::default()).await
    }

    /// Connects with these options.
    pub async fn connect_with(
        url: &str,
        options: StreamsOptions,
    ) -> Result<RedisStreamsAdapter, RedisError> {
        let link = link::StreamsLink::connect(url, options).await?;
        Ok(RedisStreamsAdapter { link })
    }

    /// Resolves once the stream is being read and the channels of every namespace
    /// created so far are subscribed, so that nothing the other nodes send from now on
    /// is missed.
    pub async fn ready(&self) {
        self.link.ready().await
    }

    /// Resolves once everything this node has written so far (broadcasts, the sessions
    /// of sockets that left) has gone to Redis: call it after
    /// [`sockeye_server::SocketIo::close`] so that the sessions a shutdown keeps are
    /// stored before the process exits.
    pub async fn flushed(&self) {
        self.link.flushed().await
    }

    /// This node's id in the adapter protocol.
    pub fn uid(&self) -> &str {
        &self.link.uid
    }
}

impl AdapterFactory for RedisStreamsAdapter {
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(adapter::StreamsAdapterOf(adapter::StreamsNamespace::new(
            self.link.clone(),
            namespace,
        )))
    }
}
