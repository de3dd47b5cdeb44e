//! What a node's namespaces share: the queue (Redis or RabbitMQ), this node's `host_id`,
//! the bounded publish queue, and the callbacks waiting for a client's answer on another
//! node. Messages from the queue come here first and go to the namespace they name.

use crate::adapter::NamespaceAdapter;
use crate::message::{Message, Received};
use crate::{amqp_queue, redis_queue, MqError, MqOptions};
use sockeye_protocol::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// The most messages waiting to be published; past it, new ones are dropped (and counted
/// in the log) rather than grow memory while the queue is slow or away.
pub(crate) const PUBLISH_QUEUE: usize = 65_536;
/// Reconnection delays: from the first to the largest.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Which kind of queue a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `redis://`, `rediss://`, `unix://`: python-socketio's `RedisManager`.
    Redis,
    /// `amqp://`: python-socketio's `KombuManager` on RabbitMQ.
    Amqp,
}

impl Kind {
    pub(crate) fn of(url: &str) -> Result<Kind, MqError> {
        let scheme = url.split("://").next().unwrap_or_default();
        match scheme.to_ascii_lowercase().as_str() {
            "redis" | "rediss" | "unix" | "valkey" => Ok(Kind::Redis),
            "amqp" => Ok(Kind::Amqp),
            _ => Err(MqError::Scheme(scheme.to_owned())),
        }
    }
}

/// A node's link to the queue.
pub(crate) struct Link {
    pub(crate) host_id: String,
    pub(crate) ack_timeout: Duration,
    publish: mpsc::Sender<Vec<u8>>,
    dropped: AtomicU64,
    namespaces: RwLock<HashMap<String, Weak<NamespaceAdapter>>>,
    /// Our emits waiting for answers, by callback id.
    callbacks: Mutex<HashMap<u64, mpsc::UnboundedSender<Vec<Value>>>>,
    next_callback: AtomicU64,
    up: AtomicBool,
}

impl Link {
    /// Connects and subscribes now (fails when the queue cannot be reached), then keeps
    /// the link up in the background.
    pub(crate) async fn connect(url: &str, options: &MqOptions) -> Result<Arc<Link>, MqError> {
        let kind = Kind::of(url)?;
        let (link, rx) = Link::new(options, PUBLISH_QUEUE);
        match kind {
            Kind::Redis => redis_queue::start(url, &options.channel, &link, rx).await?,
            Kind::Amqp => amqp_queue::start(url, &options.channel, &link, rx).await?,
        }
        tracing::info!(url = %redacted(url), channel = %options.channel, "message queue connected");
        metrics::gauge!("sockeye_adapter_link_up").set(1.0);
        Ok(link)
    }

    /// A link whose publish queue holds `bound` messages, and that queue's receiving end.
    fn new(options: &MqOptions, bound: usize) -> (Arc<Link>, mpsc::Receiver<Vec<u8>>) {
        let (publish, rx) = mpsc::channel(bound);
        let link = Arc::new(Link {
            host_id: crate::host_id(),
            ack_timeout: options.ack_timeout,
            publish,
            dropped: AtomicU64::new(0),
            namespaces: RwLock::new(HashMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            next_callback: AtomicU64::new(1),
            up: AtomicBool::new(true),
        });
        (link, rx)
    }

    /// Queues a message; never waits. One task publishes them all, in order.
    pub(crate) fn publish(&self, payload: Vec<u8>) {
        if let Err(e) = self.publish.try_send(payload) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(dropped = n + 1, error = %e, "message queue publish queue full: message dropped");
            }
        }
    }

    /// Records whether the queue is reachable; logs each change once.
    pub(crate) fn set_up(&self, up: bool, error: Option<&dyn std::fmt::Display>) {
        if self.up.swap(up, Ordering::AcqRel) == up {
            return;
        }
        metrics::gauge!("sockeye_adapter_link_up").set(if up { 1.0 } else { 0.0 });
        if up {
            tracing::info!("message queue back: cross-node delivery resumed");
        } else {
            let error = error.map(ToString::to_string).unwrap_or_default();
            tracing::warn!(%error, "message queue lost: reconnecting (local delivery goes on; cross-node messages are dropped until then)");
        }
    }

    pub(crate) fn register(&self, adapter: &Arc<NamespaceAdapter>) {
        self.namespaces
            .write()
            .expect("namespaces lock")
            .insert(adapter.namespace().to_owned(), Arc::downgrade(adapter));
    }

    /// A new callback id, and where its answers arrive.
    pub(crate) fn callback(&self) -> (u64, mpsc::UnboundedReceiver<Vec<Value>>) {
        let id = self.next_callback.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.callbacks
            .lock()
            .expect("callbacks lock")
            .insert(id, tx);
        (id, rx)
    }

    /// Forgets a callback (its emit timed out or has its answer).
    pub(crate) fn forget_callback(&self, id: u64) {
        self.callbacks.lock().expect("callbacks lock").remove(&id);
    }

    /// A message from the queue: skipped when we sent it, or handed to its namespace.
    pub(crate) fn dispatch(&self, payload: &[u8]) {
        let Received { message, host_id } = match Message::decode(payload) {
            Ok(received) => received,
            Err(e) => {
                tracing::warn!(error = %e, bytes = payload.len(), "message queue: bad message skipped");
                return;
            }
        };
        let ours = host_id.as_deref() == Some(self.host_id.as_str());
        if let Message::Callback { id, args } = message {
            // A callback names the node it is for: ours, or another's.
            if ours {
                let callbacks = self.callbacks.lock().expect("callbacks lock");
                if let Some(tx) = callbacks.get(&id) {
                    let _ = tx.send(args);
                }
            }
            return;
        }
        if ours {
            return;
        }
        let namespace = match &message {
            Message::Emit(e) => &e.namespace,
            Message::Disconnect { namespace, .. }
            | Message::EnterRoom { namespace, .. }
            | Message::LeaveRoom { namespace, .. }
            | Message::CloseRoom { namespace, .. } => namespace,
            Message::Callback { .. } => return,
        };
        let adapter = self
            .namespaces
            .read()
            .expect("namespaces lock")
            .get(namespace.as_str())
            .and_then(Weak::upgrade);
        if let Some(adapter) = adapter {
            adapter.on_message(message, host_id.unwrap_or_default());
        }
    }
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

/// The next reconnection delay.
pub(crate) fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_queue_is_bounded_and_drops_past_it() {
        let (link, mut rx) = Link::new(&MqOptions::default(), 3);
        for i in 0..5u8 {
            link.publish(vec![i]);
        }
        assert_eq!(link.dropped.load(Ordering::Relaxed), 2);
        let mut kept = Vec::new();
        while let Ok(m) = rx.try_recv() {
            kept.push(m);
        }
        // The oldest are kept, in order: what was queued first is published first.
        assert_eq!(kept, vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn our_own_messages_are_skipped_and_callbacks_reach_their_emit() {
        let (link, _rx) = Link::new(&MqOptions::default(), 8);
        let (id, mut answers) = link.callback();
        let answer = crate::message::encode_callback(
            &link.host_id,
            &serde_json::Value::from("sid"),
            "/",
            id,
            &["yes".into()],
        );
        // For another host: not ours.
        link.dispatch(&crate::message::encode_callback(
            "someone-else",
            &serde_json::Value::from("sid"),
            "/",
            id,
            &["no".into()],
        ));
        link.dispatch(&answer);
        assert_eq!(answers.try_recv().unwrap(), vec![Value::from("yes")]);
        assert!(answers.try_recv().is_err());
        link.forget_callback(id);
        link.dispatch(&answer);
        assert!(answers.try_recv().is_err());
    }

    #[test]
    fn urls_choose_the_queue() {
        assert_eq!(Kind::of("redis://h:6379/0").unwrap(), Kind::Redis);
        assert_eq!(Kind::of("unix:///tmp/r.sock").unwrap(), Kind::Redis);
        assert_eq!(Kind::of("amqp://guest:guest@h:5672//").unwrap(), Kind::Amqp);
        assert!(matches!(Kind::of("kafka://h"), Err(MqError::Scheme(s)) if s == "kafka"));
        assert_eq!(redacted("amqp://u:secret@h//"), "amqp://***@h//");
    }
}
