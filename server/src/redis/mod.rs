//! Several servers as one cluster through Redis, wire-compatible with
//! `@socket.io/redis-adapter` 8.x and `@socket.io/redis-emitter` 5.x (classic pub/sub).
//! Behind the crate's `redis` feature, which is off by default.
//!
//! ```no_run
//! use sockeye_server::redis::RedisAdapter;
//! use sockeye_server::SocketIo;
//!
//! # async fn run() -> Result<(), sockeye_server::redis::RedisError> {
//! let adapter = RedisAdapter::connect("redis://127.0.0.1:6379/").await?;
//! let io = SocketIo::builder().adapter(adapter.clone()).build();
//! adapter.subscribed().await; // every namespace made so far now hears the cluster
//! io.to("room").emit("news", "reaches the room's sockets on every node").ok();
//! # Ok(()) }
//! ```
//!
//! Broadcasts, `join`/`leave`/`disconnect` of a [`crate::BroadcastOperator`],
//! `fetch_sockets`, `server_side_emit` (with acks) and `all_rooms` reach every node on
//! the same Redis: Sockeye nodes and Node socket.io nodes alike. [`Emitter`] sends
//! from a process without a server.
//!
//! When Redis goes away, local delivery goes on; messages for other nodes are
//! dropped until it is back (the adapter reconnects with backoff and subscribes
//! again), and requests to other nodes fail with [`crate::AdapterError`].

mod adapter;
mod emitter;
mod link;
mod message;

pub use emitter::{Emitter, EmitterError, EmitterOperator};
pub use redis::RedisError;

use crate::remote::{AdapterFactory, NamespaceRef};
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

/// The Redis adapter: give it to [`crate::Builder::adapter`]. Cheap to clone.
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
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn crate::Adapter> {
        Arc::new(adapter::RedisNamespace(adapter::NamespaceAdapter::new(
            self.link.clone(),
            namespace,
        )))
    }
}
