//! Emitting to a streams cluster's clients from a process with no server: the same
//! stream entries (and, for serverSideEmit, the same published message) a node of
//! `@socket.io/redis-streams-adapter` writes, with the uid `emitter`, as
//! `@socket.io/redis-emitter` signs its messages.

use super::entry::{packet_value, ClusterMessage, MessageType};
use super::StreamsOptions;
use crate::message::{options_with_flags, rooms_value};
use crate::EmitterError;
use redis::aio::ConnectionManager;
use redis::RedisError;
use sockeye_protocol::socket::{Packet, Parser, RESERVED_EVENTS};
use sockeye_protocol::Value;
use sockeye_server::{BroadcastOptions, EmitError, IntoArgs, IntoRooms};

/// The uid the emitter's messages carry.
const UID: &str = "emitter";

/// A connection to a streams cluster's Redis for emitting. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use sockeye_redis::StreamsEmitter;
/// let emitter = StreamsEmitter::connect("redis://127.0.0.1:6379/").await?;
/// emitter.of("/chat").to("lobby").emit("news", "hello from a worker").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StreamsEmitter {
    conn: ConnectionManager,
    options: StreamsOptions,
}

impl StreamsEmitter {
    /// Connects to Redis, with the default stream and channel names.
    pub async fn connect(url: &str) -> Result<StreamsEmitter, RedisError> {
        StreamsEmitter::connect_with(url, StreamsOptions::default()).await
    }

    /// Connects with the options the servers use (`stream_name`, `channel_prefix`,
    /// `max_len`).
    pub async fn connect_with(
        url: &str,
        options: StreamsOptions,
    ) -> Result<StreamsEmitter, RedisError> {
        let conn = redis::Client::open(url)?.get_connection_manager().await?;
        Ok(StreamsEmitter { conn, options })
    }

    /// Targets a namespace (`/` for the main one).
    pub fn of(&self, namespace: &str) -> StreamsEmitterOperator {
        let namespace = if namespace.starts_with('/') {
            namespace.to_owned()
        } else {
            format!("/{namespace}")
        };
        StreamsEmitterOperator {
            emitter: self.clone(),
            namespace,
            opts: BroadcastOptions::default(),
        }
    }
}

/// The sockets of one namespace an emit reaches: narrow with `to` and `except`.
#[derive(Clone)]
pub struct StreamsEmitterOperator {
    emitter: StreamsEmitter,
    namespace: String,
    opts: BroadcastOptions,
}

impl StreamsEmitterOperator {
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

    /// Sends `event` to every target socket on every node; resolves with the stream
    /// entry's id once Redis has it.
    pub async fn emit(&self, event: &str, args: impl IntoArgs) -> Result<String, EmitterError> {
        check_event(event)?;
        let args = args.into_args(Parser::Json).map_err(EmitError::from)?;
        let packet = Packet::event(&self.namespace, event, args, None);
        self.add(
            MessageType::Broadcast,
            vec![("packet".into(), packet_value(&packet)), self.opts()],
        )
        .await
    }

    /// Makes the target sockets join rooms (`socketsJoin`).
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<String, EmitterError> {
        let rooms = rooms_value(&rooms.into_rooms());
        self.add(
            MessageType::SocketsJoin,
            vec![self.opts(), ("rooms".into(), rooms)],
        )
        .await
    }

    /// Makes the target sockets leave rooms (`socketsLeave`).
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<String, EmitterError> {
        let rooms = rooms_value(&rooms.into_rooms());
        self.add(
            MessageType::SocketsLeave,
            vec![self.opts(), ("rooms".into(), rooms)],
        )
        .await
    }

    /// Disconnects the target sockets (`close`: their whole connections).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<String, EmitterError> {
        self.add(
            MessageType::DisconnectSockets,
            vec![self.opts(), ("close".into(), Value::Bool(close))],
        )
        .await
    }

    /// Sends `event` to the namespace's server-side listeners on every node (published,
    /// as the nodes send it: only the nodes listening now hear it).
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<(), EmitterError> {
        check_event(event)?;
        let mut packet = vec![Value::String(event.to_owned())];
        let args = args
            .into_args(Parser::Json)
            .and_then(|args| args.values())
            .map_err(EmitError::from)?;
        packet.extend(args);
        let message = self.message(
            MessageType::ServerSideEmit,
            vec![("packet".into(), Value::Array(packet))],
        );
        let channel = format!(
            "{}#{}#",
            self.emitter.options.channel_prefix, self.namespace
        );
        let mut conn = self.emitter.conn.clone();
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message.to_msgpack())
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    fn opts(&self) -> (String, Value) {
        ("opts".into(), options_with_flags(&self.opts, Vec::new()))
    }

    fn message(&self, kind: MessageType, data: Vec<(String, Value)>) -> ClusterMessage {
        ClusterMessage {
            uid: UID.into(),
            nsp: self.namespace.clone(),
            kind,
            data: Value::Object(data),
        }
    }

    /// `XADD`s the message as a node does; the entry's id.
    async fn add(
        &self,
        kind: MessageType,
        data: Vec<(String, Value)>,
    ) -> Result<String, EmitterError> {
        let options = &self.emitter.options;
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&options.stream_name)
            .arg("MAXLEN")
            .arg("~")
            .arg(options.max_len)
            .arg("*");
        for (field, value) in self.message(kind, data).to_fields() {
            cmd.arg(field).arg(value);
        }
        let mut conn = self.emitter.conn.clone();
        Ok(cmd.query_async::<String>(&mut conn).await?)
    }
}

/// socket.io's names of its own events (`connect`, `disconnect`, ...) cannot be emitted.
fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}
