//! The node's three Redis connections for the streams adapter: one that writes (stream
//! entries and published messages, in order), one that reads the stream (`XREAD
//! BLOCK`, a connection of its own since it blocks), and one subscribed to each
//! namespace's channels. All three outlive Redis outages: the writer drops what Redis
//! does not take (local delivery never waits for Redis), the reader and the
//! subscriber reconnect with backoff. The reader resumes after the last entry it read,
//! so the entries other nodes added meanwhile are delivered, in order, once it reads
//! again (as long as `MAXLEN` has not trimmed them).

use super::adapter::StreamsNamespace;
use super::entry::ClusterMessage;
use super::StreamsOptions;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The most writes waiting for Redis; past it, new ones are dropped (and counted in
/// the log) rather than grow memory while Redis is slow or away.
const WRITE_QUEUE: usize = 65_536;
/// The most writes sent to Redis in one pipeline.
const WRITE_BATCH: usize = 256;
/// Reconnection delays: from the first to the largest.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How much longer than its block time an `XREAD` may take before the reader calls
/// the connection dead (a paused Redis answers nothing, not an error).
const READ_GRACE: Duration = Duration::from_secs(3);

/// What to do when Redis did not take an entry: deliver it here without an offset, as
/// the Node adapter does when its `XADD` fails.
pub(crate) type Fallback = Box<dyn FnOnce() + Send>;

/// One write for Redis.
pub(crate) enum Write {
    /// `XADD {stream} MAXLEN ~ {max_len} * ...fields`.
    Entry(ClusterMessage, Option<Fallback>),
    /// `SET {key} {value} PX {ttl}`: a session of connection state recovery.
    Set(String, String, u64),
    /// Answered once every write queued before it has been sent (and answered).
    Flush(tokio::sync::oneshot::Sender<()>),
    /// `PUBLISH {channel} {payload}`.
    Publish(String, Vec<u8>),
}

/// What the node shares among its namespaces' adapters.
pub(crate) struct StreamsLink {
    pub(crate) options: StreamsOptions,
    pub(crate) uid: String,
    /// For commands that need an answer (PUBSUB NUMSUB, sessions, XRANGE).
    pub(crate) commands: ConnectionManager,
    writes: mpsc::Sender<Write>,
    dropped: AtomicU64,
    write_up: AtomicBool,
    read_up: AtomicBool,
    subscribe_up: AtomicBool,
    namespaces: RwLock<HashMap<String, Weak<StreamsNamespace>>>,
    subscribe: mpsc::UnboundedSender<String>,
    /// How many namespaces have asked to be subscribed, and how many are.
    wanted: AtomicU64,
    subscribed: watch::Sender<u64>,
    /// Whether the reader knows where it reads from (so nothing added from then on is
    /// missed).
    reading: watch::Sender<bool>,
    /// The id of the last entry the reader handed over.
    pub(crate) read: watch::Sender<Option<String>>,
}

impl StreamsLink {
    /// Opens the connections; fails when Redis cannot be reached now.
    pub(crate) async fn connect(
        url: &str,
        options: StreamsOptions,
    ) -> Result<Arc<StreamsLink>, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let commands = client
            .get_connection_manager_with_config(config.clone())
            .await?;
        // The writer waits for a paused Redis rather than call its writes lost: Redis
        // takes them once it runs again, and a write both failed here and taken there
        // would be delivered twice (once by the fallback, once from the stream).
        let writer = client
            .get_connection_manager_with_config(
                config.set_response_timeout(Some(Duration::from_secs(30))),
            )
            .await?;
        let pubsub = client.get_async_pubsub().await?;
        let (writes, writes_rx) = mpsc::channel(WRITE_QUEUE);
        let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
        let link = Arc::new(StreamsLink {
            options,
            uid: hex_uid(),
            commands,
            writes,
            dropped: AtomicU64::new(0),
            write_up: AtomicBool::new(true),
            read_up: AtomicBool::new(true),
            subscribe_up: AtomicBool::new(true),
            namespaces: RwLock::new(HashMap::new()),
            subscribe,
            wanted: AtomicU64::new(0),
            subscribed: watch::channel(0).0,
            reading: watch::channel(false).0,
            read: watch::channel(None).0,
        });
        tokio::spawn(writer_task(Arc::downgrade(&link), writer, writes_rx));
        tokio::spawn(reader_task(Arc::downgrade(&link), client.clone()));
        tokio::spawn(subscriber_task(
            Arc::downgrade(&link),
            client,
            pubsub,
            subscribe_rx,
        ));
        tracing::info!(url = %crate::link::redacted(url), stream = %link.options.stream_name, "redis streams adapter connected");
        link.report_state();
        Ok(link)
    }

    /// `{prefix}#{nsp}#`: where requests are published, and whose subscribers are the
    /// nodes.
    pub(crate) fn public_channel(&self, namespace: &str) -> String {
        format!("{}#{namespace}#", self.options.channel_prefix)
    }

    /// `{prefix}#{nsp}#{uid}#`: where the responses to node `uid`'s requests go.
    pub(crate) fn private_channel(&self, namespace: &str, uid: &str) -> String {
        format!("{}#{namespace}#{uid}#", self.options.channel_prefix)
    }

    /// Sets `sockeye_adapter_link_up`: 1 while every connection is up.
    fn report_state(&self) {
        let up = [&self.write_up, &self.read_up, &self.subscribe_up]
            .iter()
            .all(|flag| flag.load(Ordering::Acquire));
        metrics::gauge!("sockeye_adapter_link_up").set(if up { 1.0 } else { 0.0 });
    }

    fn set_up(&self, flag: &AtomicBool, up: bool) {
        flag.store(up, Ordering::Release);
        self.report_state();
    }

    /// Queues a write; never waits. Order is kept: one task writes them all.
    pub(crate) fn write(&self, write: Write) {
        if let Err(e) = self.writes.try_send(write) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() || n == 0 {
                tracing::warn!(dropped = n + 1, error = %e, "redis write queue full: message dropped");
            }
        }
    }

    /// Resolves once every write queued so far has gone to Redis (or failed).
    pub(crate) async fn flushed(&self) {
        let (done, flushed) = tokio::sync::oneshot::channel();
        // Waits for room in the queue: this one must not be dropped.
        if self.writes.send(Write::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// Sends a message the way the Node adapter does: in the stream, or published on
    /// the namespace's channel when only the nodes listening now need it.
    pub(crate) fn send(&self, message: ClusterMessage) {
        if message.is_ephemeral() {
            let channel = self.public_channel(&message.nsp);
            self.write(Write::Publish(channel, message.to_msgpack()));
        } else {
            self.write(Write::Entry(message, None));
        }
    }

    /// Registers a namespace's adapter and subscribes to its channels.
    pub(crate) fn register(&self, adapter: &Arc<StreamsNamespace>) {
        let name = adapter.namespace().to_owned();
        self.namespaces
            .write()
            .expect("namespaces lock")
            .insert(name.clone(), Arc::downgrade(adapter));
        self.wanted.fetch_add(1, Ordering::AcqRel);
        let _ = self.subscribe.send(name);
    }

    /// Resolves once the reader knows where it reads from and every namespace
    /// registered so far is subscribed.
    pub(crate) async fn ready(&self) {
        let wanted = self.wanted.load(Ordering::Acquire);
        let mut subscribed = self.subscribed.subscribe();
        let _ = subscribed.wait_for(|&n| n >= wanted).await;
        let mut reading = self.reading.subscribe();
        let _ = reading.wait_for(|&r| r).await;
    }

    fn adapter(&self, namespace: &str) -> Option<Arc<StreamsNamespace>> {
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

    /// Hands a message to its namespace; `offset` is its entry id when it came from
    /// the stream.
    fn dispatch(&self, message: ClusterMessage, offset: Option<&str>) {
        if let Some(adapter) = self.adapter(&message.nsp) {
            adapter.on_message(message, offset);
        }
    }
}

/// A new node uid: 16 hex digits, as socket.io-adapter's `randomBytes(8)`.
fn hex_uid() -> String {
    format!("{:016x}", rand::random::<u64>())
}

async fn writer_task(
    link: Weak<StreamsLink>,
    mut conn: ConnectionManager,
    mut rx: mpsc::Receiver<Write>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let Some(link) = link.upgrade() else { return };
        let mut pipe = redis::pipe();
        let mut fallbacks = Vec::new();
        let mut flushed = Vec::new();
        for write in batch.drain(..) {
            match write {
                Write::Flush(done) => flushed.push(done),
                Write::Set(key, value, ttl) => {
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(ttl)
                        .ignore();
                }
                Write::Entry(message, fallback) => {
                    fallbacks.extend(fallback);
                    let cmd = pipe
                        .cmd("XADD")
                        .arg(&link.options.stream_name)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(link.options.max_len)
                        .arg("*");
                    for (field, value) in message.to_fields() {
                        cmd.arg(field).arg(value);
                    }
                    cmd.ignore();
                }
                Write::Publish(channel, payload) => {
                    pipe.publish(channel, payload).ignore();
                }
            }
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => {
                if !link.write_up.load(Ordering::Acquire) {
                    link.set_up(&link.write_up, true);
                    tracing::info!("redis writer reconnected: cross-node messages flow again");
                }
            }
            Err(e) => {
                if link.write_up.load(Ordering::Acquire) {
                    link.set_up(&link.write_up, false);
                    tracing::warn!(error = %e, "redis writer lost: cross-node messages are dropped until it is back (local delivery goes on)");
                }
                for fallback in fallbacks {
                    fallback();
                }
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

/// One entry of an `XREAD` or `XRANGE` reply: its id and its fields.
pub(crate) type Entry = (String, Vec<(String, Vec<u8>)>);

/// The entries of an `XRANGE` reply, or of the one stream of an `XREAD` reply.
pub(crate) fn parse_entries(value: &redis::Value) -> Vec<Entry> {
    let redis::Value::Array(entries) = value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let redis::Value::Array(parts) = entry else {
                return None;
            };
            let [id, redis::Value::Array(flat)] = parts.as_slice() else {
                return None;
            };
            let id = bytes_of(id).and_then(|b| String::from_utf8(b).ok())?;
            let fields = flat
                .chunks(2)
                .filter_map(|pair| match pair {
                    [k, v] => Some((String::from_utf8(bytes_of(k)?).ok()?, bytes_of(v)?)),
                    _ => None,
                })
                .collect();
            Some((id, fields))
        })
        .collect()
}

fn bytes_of(value: &redis::Value) -> Option<Vec<u8>> {
    match value {
        redis::Value::BulkString(b) => Some(b.clone()),
        redis::Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

/// The entries of an `XREAD` reply (one stream, or nil when the block time passed).
fn parse_xread(value: &redis::Value) -> Vec<Entry> {
    let streams = match value {
        redis::Value::Array(streams) => streams.iter().collect::<Vec<_>>(),
        // RESP3 answers a map of stream name to entries.
        redis::Value::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
        _ => return Vec::new(),
    };
    streams
        .into_iter()
        .flat_map(|stream| match stream {
            redis::Value::Array(parts) if parts.len() == 2 => parse_entries(&parts[1]),
            entries @ redis::Value::Array(_) => parse_entries(entries),
            _ => Vec::new(),
        })
        .collect()
}

async fn reader_task(link: Weak<StreamsLink>, client: redis::Client) {
    // Where the reader is: the id of the last entry handed over. Unknown until the
    // first connection asks the stream's last id, which stands for the Node adapter's
    // `$` but, being an id, survives a reconnection.
    let mut last: Option<String> = None;
    let mut backoff = BACKOFF_MIN;
    let mut was_lost = false;
    loop {
        let Some((stream, count, block)) = link.upgrade().map(|l| {
            (
                l.options.stream_name.clone(),
                l.options.read_count,
                l.options.block_time,
            )
        }) else {
            return;
        };
        let mut named = link.upgrade().map(|l| l.uid.clone());
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(block + READ_GRACE));
        let failure = match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Err(e) => e,
            Ok(mut conn) => {
                'read: loop {
                    if let Some(uid) = named.take() {
                        // A name an operator (or a test) can find in CLIENT LIST.
                        let named: Result<(), _> = redis::cmd("CLIENT")
                            .arg("SETNAME")
                            .arg(format!("sockeye-streams-reader-{uid}"))
                            .query_async(&mut conn)
                            .await;
                        if let Err(e) = named {
                            break 'read e;
                        }
                    }
                    if last.is_none() {
                        let newest: Result<redis::Value, _> = redis::cmd("XREVRANGE")
                            .arg(&stream)
                            .arg("+")
                            .arg("-")
                            .arg("COUNT")
                            .arg(1)
                            .query_async(&mut conn)
                            .await;
                        match newest {
                            Ok(value) => {
                                last = Some(
                                    parse_entries(&value)
                                        .pop()
                                        .map_or_else(|| "0-0".to_owned(), |(id, _)| id),
                                );
                            }
                            Err(e) => break 'read e,
                        }
                    }
                    let Some(current) = link.upgrade() else {
                        return;
                    };
                    current.reading.send_replace(true);
                    if current.read.borrow().is_none() {
                        current.read.send_replace(last.clone());
                    }
                    if was_lost {
                        was_lost = false;
                        current.set_up(&current.read_up, true);
                        tracing::info!(after = last.as_deref(), "redis stream reader reconnected: reading on from the last entry it read");
                    }
                    drop(current);
                    backoff = BACKOFF_MIN;
                    let reply: Result<redis::Value, _> = redis::cmd("XREAD")
                        .arg("BLOCK")
                        .arg(block.as_millis() as u64)
                        .arg("COUNT")
                        .arg(count)
                        .arg("STREAMS")
                        .arg(&stream)
                        .arg(last.as_deref().unwrap_or("$"))
                        .query_async(&mut conn)
                        .await;
                    let reply = match reply {
                        Ok(reply) => reply,
                        Err(e) => break 'read e,
                    };
                    let Some(current) = link.upgrade() else {
                        return;
                    };
                    for (id, fields) in parse_xread(&reply) {
                        match ClusterMessage::from_fields(&fields) {
                            Some(message) => current.dispatch(message, Some(&id)),
                            None => tracing::debug!(
                                id,
                                "stream entry that is not a cluster message skipped"
                            ),
                        }
                        current.read.send_replace(Some(id.clone()));
                        last = Some(id);
                    }
                }
            }
        };
        if !was_lost {
            was_lost = true;
            tracing::warn!(error = %failure, "redis stream reader lost: reconnecting (entries wait in the stream)");
            if let Some(link) = link.upgrade() {
                link.set_up(&link.read_up, false);
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn subscriber_task(
    link: Weak<StreamsLink>,
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
                        link.set_up(&link.subscribe_up, true);
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
                                match ClusterMessage::from_msgpack(message.get_payload_bytes()) {
                                    Some(message) => link.dispatch(message, None),
                                    None => tracing::debug!(channel = message.get_channel_name(), "malformed cluster message ignored"),
                                }
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
                    tracing::warn!("redis subscriber lost: reconnecting (requests from other nodes are missed until then)");
                    was_lost = true;
                    if let Some(link) = link.upgrade() {
                        link.set_up(&link.subscribe_up, false);
                    }
                }
            }
            Err(e) => {
                if !was_lost {
                    tracing::warn!(error = %e, "redis subscriber lost: reconnecting");
                    was_lost = true;
                    if let Some(link) = link.upgrade() {
                        link.set_up(&link.subscribe_up, false);
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

/// Subscribes to one namespace's public and private channels; whether Redis confirmed.
async fn subscribe(sink: &mut redis::aio::PubSubSink, link: &StreamsLink, namespace: &str) -> bool {
    let public = link.public_channel(namespace);
    let private = link.private_channel(namespace, &link.uid);
    let result = sink.subscribe(&[&public, &private]).await;
    if let Err(e) = &result {
        tracing::debug!(namespace, error = %e, "redis subscribe failed");
    }
    result.is_ok()
}
