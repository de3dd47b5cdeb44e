//! Several sockeye-server nodes as one cluster through Redis, wire-compatible with
//! `@socket.io/redis-adapter` 8.x and `@socket.io/redis-emitter` 5.x (classic pub/sub).
//!
//! ```no_run
//! use sockeye_redis::RedisAdapter;
//! use sockeye_server::SocketIo;
//!
//! # async fn run() -> Result<(), sockeye_redis::RedisError> {
//! let adapter = RedisAdapter::connect("redis://127.0.0.1:6379/").await?;
//! let io = SocketIo::builder().adapter(adapter.clone()).build();
//! adapter.subscribed().await; // every namespace made so far now hears the cluster
//! io.to("room").emit("news", "reaches the room's sockets on every node").ok();
//! # Ok(()) }
//! ```
//!
//! Broadcasts, `join`/`leave`/`disconnect` of a [`sockeye_server::BroadcastOperator`],
//! `fetch_sockets`, `server_side_emit` (with acks) and `all_rooms` reach every node on
//! the same Redis: Sockeye nodes and Node socket.io nodes alike. [`Emitter`] sends
//! from a process without a server.
//!
//! When Redis goes away, local delivery goes on; messages for other nodes are
//! dropped until it is back (the adapter reconnects with backoff and subscribes
//! again), and requests to other nodes fail with [`sockeye_server::AdapterError`].
//!
//! The crate uses nothing of sockeye-server but its public adapter API: a
//! [`sockeye_server::AdapterFactory`] that gets a [`sockeye_server::NamespaceRef`] for
//! each namespace, through which it does on this node what the other nodes ask.
#![warn(missing_docs)]

mod adapter;
mod cluster;
mod emitter;
mod link;
mod message;
mod sharded;
mod streams;

/// A new random id: 20 URL-safe characters, as socket.io's request ids and uids are.
fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..64)] as char)
        .collect()
}

pub use emitter::{Emitter, EmitterError, EmitterOperator};
pub use redis::RedisError;
pub use sharded::{ShardedOptions, ShardedRedisAdapter, SubscriptionMode};
pub use streams::{RedisStreamsAdapter, StreamsEmitter, StreamsEmitterOperator, StreamsOptions};

use sockeye_server::{Adapter, AdapterFactory, NamespaceRef};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the Redis adapter, with the defaults of `@socket.io/redis-adapter`.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The prefix of every channel (`key`, default `socket.io`).
    pub key: String,
    /// How long a request to the other nodes (fetch_sockets, all_rooms) waits for
    /// their answers (`requestsTimeout`, default 5 s).
    pub requests_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            key: "socket.io".into(),
            requests_timeout: Duration::from_secs(5),
        }
    }
}

/// The Redis adapter: give it to [`sockeye_server::Builder::adapter`]. Cheap to clone.
#[derive(Clone)]
pub struct RedisAdapter {
    link: Arc<link::Link>,
}

impl RedisAdapter {
    /// Connects to Redis (`redis://host:port/db`) with the default options. Fails when
    /// Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<RedisAdapter, RedisError> {
        RedisAdapter::connect_with(url, RedisOptions::default()).await
    }

    /// Connects with these options.
    pub async fn connect_with(
        url: &str,
        options: RedisOptions,
    ) -> Result<RedisAdapter, RedisError> {
        let link = link::Link::connect(url, options.key, options.requests_timeout).await?;
        Ok(RedisAdapter { link })
    }

    /// Resolves once the channels of every namespace created so far are subscribed,
    /// so that nothing the other nodes publish from now on is missed.
    pub async fn subscribed(&self) {
        self.link.subscribed().await
    }

    /// This node's id in the adapter protocol.
    pub fn uid(&self) -> &str {
        &self.link.uid
    }
}

impl AdapterFactory for RedisAdapter {
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(adapter::RedisNamespace(adapter::NamespaceAdapter::new(
            self.link.clone(),
            namespace,
        )))
    }
}
