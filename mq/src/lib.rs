//! Sockeye nodes in one cluster with Flask-SocketIO / python-socketio 5.x servers, through
//! python-socketio's message queue protocol (its `PubSubManager`): over Redis pub/sub
//! (`RedisManager`) or RabbitMQ (`KombuManager` with an `amqp://` URL).
//!
//! ```no_run
//! use sockeye_mq::{MqAdapter, MqOptions};
//! use sockeye_server::SocketIo;
//!
//! # async fn run() -> Result<(), sockeye_mq::MqError> {
//! // Flask-SocketIO's SocketIO(app, message_queue="redis://...") uses the channel
//! // "flask-socketio"; python-socketio's managers use "socketio".
//! let options = MqOptions { channel: "flask-socketio".into(), ..MqOptions::default() };
//! let adapter = MqAdapter::connect_with("redis://127.0.0.1:6379/", options).await?;
//! let io = SocketIo::builder().adapter(adapter).build();
//! io.to("room").emit("news", "reaches the room's clients on every node").ok();
//! # Ok(()) }
//! ```
//!
//! What crosses the queue is what python-socketio carries: emits to the namespace, a
//! room, rooms or a sid, with sids left out (`skip_sid`: Sockeye's `except` rooms); a
//! sid's `join`/`leave`/`disconnect` when that socket is on another node; `close_room`
//! (Sockeye's `io.in_(room).leave(room)`); and the answer of a client on another node to
//! an emit that waits for one (`callback`). [`Emitter`] sends from a process with no
//! server, as Flask-SocketIO's write-only `SocketIO(message_queue=...)` does.
//!
//! The protocol has no requests: `fetch_sockets`, `all_rooms`, `server_side_emit` and
//! `server_count` answer for this node only, and `join`/`leave`/`disconnect` of every
//! socket of the namespace reach this node only. An emit with acks to one room resolves
//! with the first answer (python-socketio calls a callback once); to more rooms, with the
//! answers that came within its timeout. Only a client's first ack argument travels back.
//!
//! When the queue goes away, local delivery goes on; messages for other nodes are
//! dropped until it is back, and the adapter reconnects by itself with backoff. At most
//! 65 536 messages wait to be published; past that, new ones are dropped and logged.
//! Messages that are not JSON, lack fields or name an unknown method are logged and
//! skipped.
#![warn(missing_docs)]

mod adapter;
mod amqp_queue;
mod emitter;
mod link;
mod message;
mod redis_queue;

pub use emitter::{Emitter, EmitterOperator};

use sockeye_server::{Adapter, AdapterFactory, EmitError, NamespaceRef};
use std::sync::Arc;
use std::time::Duration;

/// python-socketio's default channel (Flask-SocketIO's is `flask-socketio`).
pub const DEFAULT_CHANNEL: &str = "socketio";

/// Settings of the adapter.
#[derive(Debug, Clone)]
pub struct MqOptions {
    /// The Redis channel, or the RabbitMQ exchange (python-socketio's `channel`,
    /// default `socketio`; Flask-SocketIO's default is `flask-socketio`).
    pub channel: String,
    /// How long this node waits for its client's answer to another node's emit with a
    /// callback (python-socketio itself waits forever).
    pub ack_timeout: Duration,
}

impl Default for MqOptions {
    fn default() -> Self {
        MqOptions {
            channel: DEFAULT_CHANNEL.into(),
            ack_timeout: Duration::from_secs(60),
        }
    }
}

/// Why the queue could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MqError {
    /// The URL's scheme names no queue this crate speaks.
    #[error("unsupported message queue URL scheme {0:?} (redis://, rediss://, unix://, amqp://)")]
    Scheme(String),
    /// Redis refused or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// RabbitMQ refused or could not be reached.
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    /// The event or its arguments cannot be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// The adapter: give it to [`sockeye_server::Builder::adapter`]. Cheap to clone.
#[derive(Clone)]
pub struct MqAdapter {
    link: Arc<link::Link>,
}

impl MqAdapter {
    /// Connects to the queue at `url` (`redis://`, `rediss://`, `unix://`, `amqp://`) on
    /// the channel `socketio`. Fails when it cannot be reached now; once it returns, the
    /// node hears the channel.
    pub async fn connect(url: &str) -> Result<MqAdapter, MqError> {
        MqAdapter::connect_with(url, MqOptions::default()).await
    }

    /// Connects with these options.
    pub async fn connect_with(url: &str, options: MqOptions) -> Result<MqAdapter, MqError> {
        Ok(MqAdapter {
            link: link::Link::connect(url, &options).await?,
        })
    }

    /// This node's `host_id` in the protocol.
    pub fn host_id(&self) -> &str {
        &self.link.host_id
    }
}

impl AdapterFactory for MqAdapter {
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(adapter::MqNamespace(adapter::NamespaceAdapter::new(
            self.link.clone(),
            namespace,
        )))
    }
}

/// 32 random hex digits, as python-socketio's `uuid.uuid4().hex` host ids.
fn host_id() -> String {
    uuid4().replace('-', "")
}

/// A random (version 4) UUID in its text form, as kombu's queue names carry.
fn uuid4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
