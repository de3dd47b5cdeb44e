//! Emitting to the clients of a cluster from a process with no server, as Flask-SocketIO's
//! `SocketIO(message_queue=...)` without an app (python-socketio's write-only manager)
//! does: the same messages, so Flask-SocketIO nodes and Sockeye nodes both deliver them.

use crate::amqp_queue::Publisher;
use crate::link::Kind;
use crate::message::{Emit, Message};
use crate::{MqError, DEFAULT_CHANNEL};
use redis::aio::ConnectionManager;
use sockeye_protocol::socket::{Parser, RESERVED_EVENTS};
use sockeye_server::{BroadcastOptions, EmitError, IntoArgs, IntoRooms};
use std::sync::Arc;
use tokio::sync::Mutex;

/// A write-only connection to the queue. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), sockeye_mq::MqError> {
/// use sockeye_mq::Emitter;
/// let emitter = Emitter::connect_with("amqp://guest:guest@127.0.0.1:5672/%2f", "flask-socketio").await?;
/// emitter.of("/").to("lobby").emit("news", "hello from a worker").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Emitter {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    channel: String,
    host_id: String,
    backend: Backend,
}

enum Backend {
    Redis(ConnectionManager),
    /// Opened again after a failure.
    Amqp(Mutex<Option<Box<Publisher>>>),
}

impl Emitter {
    /// Connects to the queue at `url` (`redis://`, `unix://`, `amqp://`), on python-socketio's
    /// default channel `socketio`.
    pub async fn connect(url: &str) -> Result<Emitter, MqError> {
        Emitter::connect_with(url, DEFAULT_CHANNEL).await
    }

    /// Connects on `channel` (Flask-SocketIO's default is `flask-socketio`).
    pub async fn connect_with(url: &str, channel: &str) -> Result<Emitter, MqError> {
        let backend = match Kind::of(url)? {
            Kind::Redis => {
                Backend::Redis(redis::Client::open(url)?.get_connection_manager().await?)
            }
            Kind::Amqp => Backend::Amqp(Mutex::new(Some(Box::new(
                Publisher::open(url, channel).await?,
            )))),
        };
        Ok(Emitter {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                channel: channel.to_owned(),
                host_id: crate::host_id(),
                backend,
            }),
        })
    }

    /// Targets a namespace (`/` for the main one).
    pub fn of(&self, namespace: &str) -> EmitterOperator {
        let namespace = if namespace.starts_with('/') {
            namespace.to_owned()
        } else {
            format!("/{namespace}")
        };
        EmitterOperator {
            emitter: self.clone(),
            namespace,
            opts: BroadcastOptions::default(),
        }
    }

    async fn publish(&self, message: &Message) -> Result<(), MqError> {
        let payload = message.encode(&self.inner.host_id);
        match &self.inner.backend {
            Backend::Redis(conn) => {
                let mut conn = conn.clone();
                crate::redis_queue::publish_now(&mut conn, &self.inner.channel, payload).await
            }
            Backend::Amqp(publisher) => {
                let mut publisher = publisher.lock().await;
                // One attempt on the open connection, one on a new one.
                if let Some(p) = publisher.as_ref() {
                    if p.publish(&payload).await.is_ok() {
                        return Ok(());
                    }
                }
                *publisher = None;
                let p = Publisher::open(&self.inner.url, &self.inner.channel).await?;
                p.publish(&payload).await?;
                *publisher = Some(Box::new(p));
                Ok(())
            }
        }
    }
}

/// The sockets of one namespace an emit reaches: narrow with `to` and `skip_sid`.
#[derive(Clone)]
pub struct EmitterOperator {
    emitter: Emitter,
    namespace: String,
    opts: BroadcastOptions,
}

impl EmitterOperator {
    /// Adds target rooms (a sid is a room).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.rooms.extend(rooms.into_rooms());
        self
    }

    /// Leaves these sockets out (python-socketio's `skip_sid`).
    pub fn skip_sid(mut self, sids: impl IntoRooms) -> Self {
        self.opts.except.extend(sids.into_rooms());
        self
    }

    /// Sends `event` to every target socket on every node; resolves once the queue has it.
    pub async fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), MqError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedEvent(event.to_owned()).into());
        }
        let args = args.into_args(Parser::Json).map_err(EmitError::from)?;
        self.emitter
            .publish(&Message::Emit(Emit {
                event: event.to_owned(),
                args,
                namespace: self.namespace.clone(),
                rooms: self.opts.rooms.clone(),
                skip_sid: self.opts.except.clone(),
                callback: None,
            }))
            .await
    }

    /// Makes the socket `sid` join `room`, on whichever node it is.
    pub async fn enter_room(&self, sid: &str, room: &str) -> Result<(), MqError> {
        self.emitter
            .publish(&Message::EnterRoom {
                sid: sid.to_owned(),
                room: room.to_owned(),
                namespace: self.namespace.clone(),
            })
            .await
    }

    /// Makes the socket `sid` leave `room`, on whichever node it is.
    pub async fn leave_room(&self, sid: &str, room: &str) -> Result<(), MqError> {
        self.emitter
            .publish(&Message::LeaveRoom {
                sid: sid.to_owned(),
                room: room.to_owned(),
                namespace: self.namespace.clone(),
            })
            .await
    }

    /// Makes every socket in `room` leave it, on every node.
    pub async fn close_room(&self, room: &str) -> Result<(), MqError> {
        self.emitter
            .publish(&Message::CloseRoom {
                room: room.to_owned(),
                namespace: self.namespace.clone(),
            })
            .await
    }

    /// Disconnects the socket `sid` from the namespace, on whichever node it is.
    pub async fn disconnect(&self, sid: &str) -> Result<(), MqError> {
        self.emitter
            .publish(&Message::Disconnect {
                sid: sid.to_owned(),
                namespace: self.namespace.clone(),
            })
            .await
    }
}
