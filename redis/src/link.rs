//! The node's two Redis connections: one that publishes, in order, and one that
//! subscribes to every namespace's channels. Both outlive Redis outages: the publisher
//! drops what it cannot send (local delivery never waits for Redis), the subscriber
//! reconnects with backoff and subscribes again; each change of state is logged once.

use super::adapter::NamespaceAdapter;
use super::message::Channels;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, PubSubSink};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The most messages waiting for the publisher; past it, new ones are dropped (and
/// counted in the log) rather than grow memory while Redis is slow or away.
pub(crate) const PUBLISH_QUEUE: usize = 65_536;
/// The most messages sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 256;
/// Reconnection delays of the subscriber: from the first to the largest.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// One message for Redis.
pub(crate) struct Publish {
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
}

/// What the node shares among its namespaces' adapters.
pub(crate) struct Link {
    pub(crate) key: String,
    pub(crate) uid: String,
    pub(crate) requests_timeout: Duration,
    /// For requests that need an answer from Redis itself (PUBSUB NUMSUB).
    pub(crate) commands: ConnectionManager,
    publish: mpsc::Sender<Publish>,
    publish_up: AtomicBool,
    /// Whether the subscriber is connected and subscribed; with `publish_up`, what
    /// `sockeye_adapter_link_up` says.
    subscribe_up: AtomicBool,
    dropped: AtomicU64,
    namespaces: RwLock<HashMap<String, Weak<NamespaceAdapter>>>,
    subscribe: mpsc::UnboundedSender<String>,
    /// How many namespaces have asked to be subscribed, and how many are.
    wanted: AtomicU64,
    subscribed: watch::Sender<u64>,
}

impl Link {
    /// Connects both connections; fails when Redis cannot be reached now.
    pub(crate) async fn connect(
        url: &str,
        key: String,
        requests_timeout: Duration,
    ) -> Result<Arc<Link>, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let commands = client
            .get_connection_manager_with_config(config.clone())
            .await?;
        let publisher = client.get_connection_manager_with_config(config).await?;
        let pubsub = client.get_async_pubsub().await?;
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            key,
            uid: crate::random_id()[..6].to_owned(),
            requests_timeout,
            commands,
            publish,
            publish_up: AtomicBool::new(true),
            subscribe_up: AtomicBool::new(true),
            dropped: AtomicU64::new(0),
            namespaces: RwLock::new(HashMap::new()),
            subscribe,
            wanted: AtomicU64::new(0),
            subscribed: watch::channel(0).0,
        });
        tokio::spawn(publisher_task(Arc::downgrade(&link), publisher, publish_rx));
        tokio::spawn(subscriber_task(
            Arc::downgrade(&link),
            client,
            pubsub,
            subscribe_rx,
        ));
        tracing::info!(url = %redacted(url), "redis adapter connected");
        link.report_state();
        Ok(link)
    }

    /// Sets `sockeye_adapter_link_up{uid}`: 1 while both connections are up, 0 while
    /// either is lost (cross-node messages are dropped or missed then). One series per
    /// link, by the node's uid: a process with several links (several adapters) must
    /// not have one link's state overwrite another's.
    fn report_state(&self) {
        let up =
            self.publish_up.load(Ordering::Acquire) && self.subscribe_up.load(Ordering::Acquire);
        metrics::gauge!("sockeye_adapter_link_up", "uid" => self.uid.clone()).set(if up {
            1.0
        } else {
            0.0
        });
    }

    /// Records a change of the subscriber's state.
    fn set_subscribe_up(&self, up: bool) {
        self.subscribe_up.store(up, Ordering::Release);
        self.report_state();
    }

    /// Queues a message; never waits. Order is kept: one task publishes them all.
    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) {
        if let Err(e) = self.publish.try_send(Publish { channel, payload }) {
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
        let _ = self.subscribe.send(name);
    }

    /// Resolves once every namespace registered so far is subscribed.
    pub(crate) async fn subscribed(&self) {
        let wanted = self.wanted.load(Ordering::Acquire);
        let mut rx = self.subscribed.subscribe();
        let _ = rx.wait_for(|&n| n >= wanted).await;
    }

    fn adapter(&self, namespace: &str) -> Option<Arc<NamespaceAdapter>> {
        self.namespaces
            .read()
            .expect("namespaces lock")
            .get(namespace)
            .and_then(Weak::upgrade)
    }

    fn names(&self) -> Vec<String> {
        self.namespaces
            .read()
            .expect("namespaces lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Hands a message to the namespace its channel names.
    fn dispatch(&self, channel: &str, payload: &[u8]) {
        let key = &self.key;
        let (kind, rest) = if let Some(rest) = channel.strip_prefix(&format!("{key}-request#")) {
            (Kind::Request, rest)
        } else if let Some(rest) = channel.strip_prefix(&format!("{key}-response#")) {
            (Kind::Response, rest)
        } else if let Some(rest) = channel.strip_prefix(&format!("{key}#")) {
            (Kind::Broadcast, rest)
        } else {
            return;
        };
        let Some((namespace, tail)) = rest.split_once('#') else {
            return;
        };
        let Some(adapter) = self.adapter(namespace) else {
            return;
        };
        match kind {
            Kind::Broadcast => adapter.on_broadcast(tail.strip_suffix('#'), payload),
            Kind::Request => adapter.on_request(payload),
            Kind::Response => adapter.on_response(payload),
        }
    }
}

enum Kind {
    Broadcast,
    Request,
    Response,
}

/// A URL without its password, for logs.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn publisher_task(
    link: Weak<Link>,
    mut conn: ConnectionManager,
    mut rx: mpsc::Receiver<Publish>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while rx.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let Some(link) = link.upgrade() else { return };
        let mut pipe = redis::pipe();
        for message in batch.drain(..) {
            pipe.publish(message.channel, message.payload).ignore();
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => {
                if !link.publish_up.swap(true, Ordering::AcqRel) {
                    link.report_state();
                    tracing::info!("redis publisher reconnected: cross-node delivery resumed");
                }
            }
            Err(e) => {
                if link.publish_up.swap(false, Ordering::AcqRel) {
                    link.report_state();
                    tracing::warn!(error = %e, "redis publisher lost: cross-node messages are dropped until it is back (local delivery goes on)");
                }
            }
        }
    }
}

async fn subscriber_task(
    link: Weak<Link>,
    client: redis::Client,
    first: redis::aio::PubSub,
    mut names: mpsc::UnboundedReceiver<String>,
) {
    let mut pubsub = Some(first);
    let mut backoff = BACKOFF_MIN;
    let mut was_lost = false;
    loop {
        let connection = match pubsub.take() {
            Some(p) => Ok(p),
            None => client.get_async_pubsub().await,
        };
        match connection {
            Ok(connection) => {
                let (mut sink, mut stream) = connection.split();
                let Some(current) = link.upgrade() else {
                    return;
                };
                // Names that arrived while down are in `names()` already: drain them.
                while names.try_recv().is_ok() {}
                let mut ok = true;
                for name in current.names() {
                    ok &= subscribe(&mut sink, &current, &name).await;
                }
                let count = current.wanted.load(Ordering::Acquire);
                drop(current);
                if ok {
                    backoff = BACKOFF_MIN;
                    if let Some(link) = link.upgrade() {
                        link.subscribed.send_replace(count);
                        link.set_subscribe_up(true);
                    }
                    if was_lost {
                        tracing::info!("redis subscriber reconnected: subscribed again");
                        was_lost = false;
                    }
                    loop {
                        tokio::select! {
                            message = stream.next() => {
                                let Some(message) = message else { break };
                                let Some(link) = link.upgrade() else { return };
                                link.dispatch(message.get_channel_name(), message.get_payload_bytes());
                            }
                            name = names.recv() => {
                                let Some(name) = name else { return };
                                let Some(link) = link.upgrade() else { return };
                                if !subscribe(&mut sink, &link, &name).await {
                                    break;
                                }
                                let wanted = link.wanted.load(Ordering::Acquire);
                                link.subscribed.send_if_modified(|n| {
                                    let grew = *n < wanted;
                                    *n = (*n).max(wanted);
                                    grew
                                });
                            }
                        }
                    }
                }
                if !was_lost {
                    tracing::warn!("redis subscriber lost: reconnecting (messages from other nodes are missed until then)");
                    was_lost = true;
                    if let Some(link) = link.upgrade() {
                        link.set_subscribe_up(false);
                    }
                }
            }
            Err(e) => {
                if !was_lost {
                    tracing::warn!(error = %e, "redis subscriber lost: reconnecting");
                    was_lost = true;
                    if let Some(link) = link.upgrade() {
                        link.set_subscribe_up(false);
                    }
                }
            }
        }
        if link.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Subscribes to one namespace's channels; whether Redis confirmed.
async fn subscribe(sink: &mut PubSubSink, link: &Link, namespace: &str) -> bool {
    let channels = Channels::new(&link.key, namespace);
    let pattern = format!("{}*", channels.broadcast);
    let specific = channels.specific_response(&link.uid);
    let result = async {
        sink.psubscribe(&pattern).await?;
        sink.subscribe(&[&channels.request, &channels.response, &specific])
            .await
    }
    .await;
    if let Err(e) = &result {
        tracing::debug!(namespace, error = %e, "redis subscribe failed");
    }
    result.is_ok()
}
