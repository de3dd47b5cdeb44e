//! Emitting to a cluster's clients from a process with no server (a worker, a cron
//! job), as `@socket.io/redis-emitter` and Flask-SocketIO's write-only message queue do.

use super::message::{self, opts_field, rooms_value, Channels, RequestType};
use redis::aio::ConnectionManager;
use redis::RedisError;
use sockeye_protocol::socket::{Packet, Parser, RESERVED_EVENTS};
use sockeye_protocol::Value;
use sockeye_server::{BroadcastOptions, EmitError, IntoArgs, IntoRooms};

/// The uid the emitter's messages carry, as `@socket.io/redis-emitter`'s do.
const UID: &str = "emitter";

/// A connection to a cluster's Redis for emitting. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use sockeye_redis::Emitter;
/// let emitter = Emitter::connect("redis://127.0.0.1:6379/").await?;
/// emitter.of("/chat").to("lobby").emit("news", "hello from a worker").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Emitter {
    conn: ConnectionManager,
    key: String,
}

impl Emitter {
    /// Connects to Redis, with the default channel prefix `socket.io`.
    pub async fn connect(url: &str) -> Result<Emitter, RedisError> {
        Emitter::connect_with_key(url, "socket.io").await
    }

    /// Connects to Redis, with the channel prefix the servers use (their `key`).
    pub async fn connect_with_key(url: &str, key: &str) -> Result<Emitter, RedisError> {
        let conn = redis::Client::open(url)?.get_connection_manager().await?;
        Ok(Emitter {
            conn,
            key: key.to_owned(),
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
            channels: Channels::new(&self.key, &namespace),
            namespace,
            opts: BroadcastOptions::default(),
        }
    }
}

/// The sockets of one namespace an emit reaches: narrow with `to` and `except`.
#[derive(Clone)]
pub struct EmitterOperator {
    emitter: Emitter,
    namespace: String,
    channels: Channels,
    opts: BroadcastOptions,
}

/// Why an emitter's message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum EmitterError {
    /// The event or its arguments cannot be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// Redis refused or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
}

impl EmitterOperator {
    /// Adds target rooms.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.rooms.extend(rooms.into_rooms());
        self
    }

    /// Leaves out the sockets in these rooms.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.except.extend(rooms.into_rooms());
        self
    }

    /// Sends `event` to every target socket on every node; resolves once Redis has it.
    pub async fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitterError> {
        check_event(event)?;
        let args = args.into_args(Parser::Json).map_err(EmitError::from)?;
        let packet = Packet::event(&self.namespace, event, args, None);
        let payload = message::encode_broadcast(UID, &packet, &self.opts);
        self.publish(self.channels.broadcast_channel(&self.opts), payload)
            .await
    }

    /// Makes the target sockets join rooms (`socketsJoin`).
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), EmitterError> {
        let fields = vec![
            opts_field(&self.opts),
            ("rooms".into(), rooms_value(&rooms.into_rooms())),
        ];
        self.request(RequestType::RemoteJoin, fields).await
    }

    /// Makes the target sockets leave rooms (`socketsLeave`).
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), EmitterError> {
        let fields = vec![
            opts_field(&self.opts),
            ("rooms".into(), rooms_value(&rooms.into_rooms())),
        ];
        self.request(RequestType::RemoteLeave, fields).await
    }

    /// Disconnects the target sockets (`close`: their whole connections).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        let fields = vec![opts_field(&self.opts), ("close".into(), Value::Bool(close))];
        self.request(RequestType::RemoteDisconnect, fields).await
    }

    /// Sends `event` to the namespace's server-side listeners on every node.
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<(), EmitterError> {
        check_event(event)?;
        let mut data = vec![Value::String(event.to_owned())];
        let args = args
            .into_args(Parser::Json)
            .and_then(|args| args.values())
            .map_err(EmitError::from)?;
        data.extend(args);
        self.request(
            RequestType::ServerSideEmit,
            vec![("data".into(), Value::Array(data))],
        )
        .await
    }

    async fn request(
        &self,
        kind: RequestType,
        fields: Vec<(String, Value)>,
    ) -> Result<(), EmitterError> {
        let payload = message::request(UID, None, kind, fields);
        self.publish(self.channels.request.clone(), payload).await
    }

    async fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), EmitterError> {
        let mut conn = self.emitter.conn.clone();
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }
}

/// socket.io's names of its own events (`connect`, `disconnect`, ...) cannot be emitted.
fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}
