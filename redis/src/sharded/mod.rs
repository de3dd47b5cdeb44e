//! The sharded pub/sub adapter for a Redis Cluster (Redis 7 `SPUBLISH`/`SSUBSCRIBE`),
//! wire-compatible with `createShardedAdapter` of `@socket.io/redis-adapter` 8.3: Sockeye
//! and Node socket.io nodes share one cluster.
//!
//! ```no_run
//! use sockeye_redis::ShardedRedisAdapter;
//! use sockeye_server::SocketIo;
//!
//! # async fn run() -> Result<(), sockeye_redis::RedisError> {
//! let adapter = ShardedRedisAdapter::connect(&["redis://127.0.0.1:7000/"]).await?;
//! let io = SocketIo::builder().adapter(adapter.clone()).build();
//! adapter.subscribed().await;
//! io.to("room").emit("news", "reaches the room's sockets on every node").ok();
//! # Ok(()) }
//! ```
//!
//! Each namespace has one sharded channel (so one master carries it), plus, in the
//! default dynamic mode, one per room that has a local socket: a broadcast to one room
//! reaches only the nodes that have it, and the rooms spread over the masters. The
//! client follows the cluster's redirections and, when a master goes away and comes
//! back (or fails over), subscribes there again by itself; meanwhile the slots of the
//! other masters keep working. `allRooms` is not part of this protocol.

mod adapter;
mod link;
mod message;

pub use message::SubscriptionMode;

use sockeye_server::{Adapter, AdapterFactory, NamespaceRef};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the sharded adapter, with the defaults of `createShardedAdapter`.
#[derive(Debug, Clone)]
pub struct ShardedOptions {
    /// The prefix of every channel (`channelPrefix`, default `socket.io`).
    pub key: String,
    /// Which rooms get a channel of their own (`subscriptionMode`, default dynamic).
    pub subscription_mode: SubscriptionMode,
    /// How long a request to the other nodes (fetch_sockets, server-side emits with
    /// acks) waits for their answers (default 5 s, socket.io's).
    pub requests_timeout: Duration,
}

impl Default for ShardedOptions {
    fn default() -> Self {
        ShardedOptions {
            key: "socket.io".into(),
            subscription_mode: SubscriptionMode::default(),
            requests_timeout: Duration::from_secs(5),
        }
    }
}

/// The sharded adapter: give it to [`sockeye_server::Builder::adapter`]. Cheap to clone.
#[derive(Clone)]
pub struct ShardedRedisAdapter {
    link: Arc<link::Link>,
}

impl ShardedRedisAdapter {
    /// Connects to a Redis Cluster through any of its nodes (`redis://host:port/`)
    /// with the default options. Fails when none can be reached now.
    pub async fn connect(seeds: &[&str]) -> Result<ShardedRedisAdapter, crate::RedisError> {
        ShardedRedisAdapter::connect_with(seeds, ShardedOptions::default()).await
    }

    /// Connects with these options.
    pub async fn connect_with(
        seeds: &[&str],
        options: ShardedOptions,
    ) -> Result<ShardedRedisAdapter, crate::RedisError> {
        let link = link::Link::connect(
            seeds,
            options.key,
            options.requests_timeout,
            options.subscription_mode,
        )
        .await?;
        Ok(ShardedRedisAdapter { link })
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

impl AdapterFactory for ShardedRedisAdapter {
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(adapter::ShardedNamespace(adapter::NamespaceAdapter::new(
            self.link.clone(),
            namespace,
        )))
    }
}
