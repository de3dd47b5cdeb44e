//! The node's connection to a Redis Cluster: redis-rs's cluster client, which follows
//! `MOVED`/`ASK`, refreshes the slot map, reconnects to a node that went away (RESP3
//! tells it at once) and subscribes there again to the sharded channels it had.
//!
//! Three tasks share it: the publisher (`SPUBLISH`, one message after the other, so
//! order is kept; dropped when Redis is away, as the classic adapter does), the
//! subscriber (`SSUBSCRIBE`/`SUNSUBSCRIBE` in the order asked, retried with backoff
//! until the owning master confirms), and the reader of the push messages, which
//! hands each `smessage` to the namespace its channel names.

use super::adapter::NamespaceAdapter;
use super::message::{Channels, SubscriptionMode};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The most messages waiting for the publisher; past it, new ones are dropped (and
/// counted in the log) rather than grow memory while Redis is slow or away.
const PUBLISH_QUEUE: usize = crate::link::PUBLISH_QUEUE;
/// Delays between attempts at a subscription that failed: from the first to the largest.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// A change of the node's subscriptions, made in the order asked.
enum Change {
    /// A namespace's channel and response channel; counted by `subscribed()`.
    Namespace(String),
    /// A room's channel.
    Subscribe(String),
    /// A room's channel, once its last local socket left.
    Unsubscribe(String),
}

/// What the node shares among its namespaces' adapters.
pub(crate) struct Link {
    pub(crate) key: String,
    pub(crate) uid: String,
    pub(crate) requests_timeout: Duration,
    pub(crate) mode: SubscriptionMode,
    /// For requests that need an answer from Redis itself (PUBSUB SHARDNUMSUB).
    pub(crate) commands: ClusterConnection,
    publish: mpsc::Sender<(String, Vec<u8>)>,
    publish_up: AtomicBool,
    dropped: AtomicU64,
    changes: mpsc::UnboundedSender<Change>,
    namespaces: RwLock<HashMap<String, Weak<NamespaceAdapter>>>,
    /// How many namespaces have asked to be subscribed, and how many are.
    wanted: AtomicU64,
    subscribed: watch::Sender<u64>,
}

impl Link {
    /// Connects to the cluster through any of its `seeds`; fails when none answers now.
    pub(crate) async fn connect(
        seeds: &[&str],
        key: String,
        requests_timeout: Duration,
        mode: SubscriptionMode,
    ) -> Result<Arc<Link>, redis::RedisError> {
        let (push_tx, push_rx) = mpsc::unbounded_channel::<PushInfo>();
        let client = ClusterClientBuilder::new(seeds.to_vec())
            // RESP3: pushes carry the sharded messages, and tell the client at once
            // when a node's connection drops, so it reconnects and subscribes again.
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(push_tx)
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(5))
            .retries(3)
            .build()?;
        let commands = client.get_async_connection().await?;
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            key,
            uid: crate::random_id()[..16].to_owned(),
            requests_timeout,
            mode,
            commands: commands.clone(),
            publish,
            publish_up: AtomicBool::new(true),
            dropped: AtomicU64::new(0),
            changes,
            namespaces: RwLock::new(HashMap::new()),
            wanted: AtomicU64::new(0),
            subscribed: watch::channel(0).0,
        });
        tokio::spawn(publisher_task(
            Arc::downgrade(&link),
            commands.clone(),
            publish_rx,
        ));
        tokio::spawn(subscriber_task(Arc::downgrade(&link), commands, changes_rx));
        tokio::spawn(reader_task(Arc::downgrade(&link), push_rx));
        tracing::info!(seeds = seeds.len(), "sharded redis adapter connected");
        metrics::gauge!("sockeye_adapter_link_up").set(1.0);
        Ok(link)
    }

    /// Queues a message for `SPUBLISH`; never waits. Order is kept: one task
    /// publishes them all.
    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) {
        if let Err(e) = self.publish.try_send((channel, payload)) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(dropped = n + 1, error = %e, "redis publish queue full: message dropped");
            }
        }
    }

    /// Registers a namespace's adapter and subscribes to its channels.
    pub(crate) fn register(&self, adapter: &Arc<NamespaceAdapter>) {
        let name = adapter.namespace().to_owned();
        self.namespaces
            .write()
            .expect("namespaces lock")
            .insert(name.clone(), Arc::downgrade(adapter));
        self.wanted.fetch_add(1, Ordering::AcqRel);
        let _ = self.changes.send(Change::Namespace(name));
    }

    /// Subscribes to a room's channel (its first local socket joined).
    pub(crate) fn subscribe_room(&self, channel: String) {
        let _ = self.changes.send(Change::Subscribe(channel));
    }

    /// Unsubscribes from a room's channel (its last local socket left).
    pub(crate) fn unsubscribe_room(&self, channel: String) {
        let _ = self.changes.send(Change::Unsubscribe(channel));
    }

    /// Resolves once every namespace registered so far is subscribed.
    pub(crate) async fn subscribed(&self) {
        let wanted = self.wanted.load(Ordering::Acquire);
        let mut rx = self.subscribed.subscribe();
        let _ = rx.wait_for(|&n| n >= wanted).await;
    }

    /// Hands a message to the namespace its channel (`{key}#{nsp}#...`) names.
    fn dispatch(&self, channel: &[u8], payload: &[u8]) {
        let Ok(channel) = std::str::from_utf8(channel) else {
            return;
        };
        let Some(rest) = channel
            .strip_prefix(self.key.as_str())
            .and_then(|r| r.strip_prefix('#'))
        else {
            return;
        };
        let Some((namespace, _)) = rest.split_once('#') else {
            return;
        };
        let adapter = self
            .namespaces
            .read()
            .expect("namespaces lock")
            .get(namespace)
            .and_then(Weak::upgrade);
        if let Some(adapter) = adapter {
            adapter.on_message(payload);
        }
    }

    fn set_publish_up(&self, up: bool, error: Option<&redis::RedisError>) {
        if self.publish_up.swap(up, Ordering::AcqRel) == up {
            return;
        }
        metrics::gauge!("sockeye_adapter_link_up").set(if up { 1.0 } else { 0.0 });
        match error {
            None => tracing::info!("redis cluster publisher back: cross-node delivery resumed"),
            Some(e) => {
                tracing::warn!(error = %e, "redis cluster publish failed: cross-node messages are dropped until it is back (local delivery goes on)")
            }
        }
    }
}

async fn publisher_task(
    link: Weak<Link>,
    mut conn: ClusterConnection,
    mut rx: mpsc::Receiver<(String, Vec<u8>)>,
) {
    while let Some((channel, payload)) = rx.recv().await {
        let result = redis::cmd("SPUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async::<()>(&mut conn)
            .await;
        let Some(link) = link.upgrade() else { return };
        link.set_publish_up(result.is_ok(), result.as_ref().err());
    }
}

async fn subscriber_task(
    link: Weak<Link>,
    mut conn: ClusterConnection,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    // Changes that failed, oldest first, retried in order once the delay is over.
    let mut retry: VecDeque<Change> = VecDeque::new();
    let mut delay = RETRY_MIN;
    loop {
        let change = if retry.is_empty() {
            match changes.recv().await {
                Some(c) => c,
                None => return,
            }
        } else {
            tokio::select! {
                c = changes.recv() => match c {
                    // Behind the failed ones: order is kept.
                    Some(c) => { retry.push_back(c); continue; }
                    None => return,
                },
                () = tokio::time::sleep(delay) => retry.pop_front().expect("not empty"),
            }
        };
        let Some(current) = link.upgrade() else {
            return;
        };
        let result = match &change {
            Change::Namespace(name) => {
                let channels = Channels::new(&current.key, name);
                let response = channels.under(&current.uid);
                async {
                    conn.ssubscribe(&channels.main).await?;
                    conn.ssubscribe(&response).await
                }
                .await
            }
            Change::Subscribe(channel) => conn.ssubscribe(channel).await,
            Change::Unsubscribe(channel) => conn.sunsubscribe(channel).await,
        };
        match result {
            Ok(()) => {
                delay = RETRY_MIN;
                if let Change::Namespace(_) = change {
                    current.subscribed.send_modify(|n| *n += 1);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis cluster subscription failed: retrying");
                retry.push_front(change);
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}

async fn reader_task(link: Weak<Link>, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        let Some(link) = link.upgrade() else { return };
        match (push.kind, push.data.as_slice()) {
            (
                PushKind::SMessage,
                [redis::Value::BulkString(channel), redis::Value::BulkString(payload)],
            ) => link.dispatch(channel, payload),
            (PushKind::Disconnection, _) => {
                tracing::warn!("a redis cluster node's connection dropped: reconnecting (its messages are missed until then)")
            }
            _ => {}
        }
    }
}
