//! The node's connection to a Redis Cluster: redis-rs's cluster client, which follows
//! `MOVED`/`ASK`, refreshes the slot map, reconnects to a node that went away (RESP3
//! tells it at once) and subscribes there again to the sharded channels it had.
//!
//! Three tasks share it: the publisher (`SPUBLISH`, one message after the other, so
//! order is kept; dropped when Redis is away, as the classic adapter does), the
//! subscriber (`SSUBSCRIBE`/`SUNSUBSCRIBE` in the order asked, each channel retried
//! with backoff until its master confirms, and every channel again, one by one, after
//! a node's connection dropped), and the reader of the push messages, which
//! hands each `smessage` to the namespace its channel names.

use super::adapter::NamespaceAdapter;
use super::message::{Channels, SubscriptionMode};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind};
use std::collections::{BTreeSet, HashMap, HashSet};
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
    /// Every channel again: a node's connection dropped.
    Resubscribe,
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

/// The subscriber's state: every channel the node wants, and those whose last attempt
/// failed (retried on a timer, each on its own so that a master that is away holds up
/// only its own channels).
#[derive(Default)]
struct Subscriptions {
    wanted: HashSet<String>,
    failed: BTreeSet<String>,
    /// Namespaces whose channels failed: counted by `subscribed()` once they succeed.
    failed_namespaces: BTreeSet<String>,
}

async fn subscriber_task(
    link: Weak<Link>,
    mut conn: ClusterConnection,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    let mut state = Subscriptions::default();
    let mut delay = RETRY_MIN;
    loop {
        let retrying = !state.failed.is_empty() || !state.failed_namespaces.is_empty();
        let change = tokio::select! {
            change = changes.recv() => match change {
                Some(change) => Some(change),
                None => return,
            },
            () = tokio::time::sleep(delay), if retrying => None,
        };
        let Some(link) = link.upgrade() else { return };
        match change {
            Some(Change::Namespace(name)) => {
                let channels = Channels::new(&link.key, &name);
                state.wanted.insert(channels.main.clone());
                state.wanted.insert(channels.under(&link.uid));
                if subscribe_namespace(&mut conn, &link, &name).await {
                    link.subscribed.send_modify(|n| *n += 1);
                } else {
                    state.failed_namespaces.insert(name);
                }
            }
            Some(Change::Subscribe(channel)) => {
                state.wanted.insert(channel.clone());
                state.failed.remove(&channel);
                if !ssubscribe(&mut conn, &channel).await {
                    state.failed.insert(channel);
                }
            }
            Some(Change::Unsubscribe(channel)) => {
                state.wanted.remove(&channel);
                state.failed.remove(&channel);
                // A master that is away has dropped the subscription already.
                let _ = conn.sunsubscribe(&channel).await;
            }
            Some(Change::Resubscribe) => {
                // redis-rs subscribes a reconnected node again in one SSUBSCRIBE of all its
                // channels, which Redis refuses (CROSSSLOT) when they hash to several slots:
                // so do it again here, one channel at a time.
                state.failed.extend(state.wanted.iter().cloned());
                delay = RETRY_MIN;
            }
            None => {
                let mut ok = true;
                for name in std::mem::take(&mut state.failed_namespaces) {
                    if subscribe_namespace(&mut conn, &link, &name).await {
                        link.subscribed.send_modify(|n| *n += 1);
                    } else {
                        ok = false;
                        state.failed_namespaces.insert(name);
                    }
                }
                for channel in std::mem::take(&mut state.failed) {
                    if !ssubscribe(&mut conn, &channel).await {
                        ok = false;
                        state.failed.insert(channel);
                    }
                }
                delay = if ok {
                    RETRY_MIN
                } else {
                    (delay * 2).min(RETRY_MAX)
                };
            }
        }
    }
}

/// SSUBSCRIBE to a namespace's channel and to this node's response channel.
async fn subscribe_namespace(conn: &mut ClusterConnection, link: &Link, name: &str) -> bool {
    let channels = Channels::new(&link.key, name);
    ssubscribe(conn, &channels.main).await && ssubscribe(conn, &channels.under(&link.uid)).await
}

/// SSUBSCRIBE to one channel; whether its master confirmed.
async fn ssubscribe(conn: &mut ClusterConnection, channel: &str) -> bool {
    match conn.ssubscribe(channel).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(channel, error = %e, "redis cluster SSUBSCRIBE failed: retrying");
            false
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
                tracing::warn!("a redis cluster node's connection dropped: reconnecting (its messages are missed until then)");
                let _ = link.changes.send(Change::Resubscribe);
            }
            _ => {}
        }
    }
}
