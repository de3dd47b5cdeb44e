//! The messages of `createShardedAdapter` (`@socket.io/redis-adapter` 8.3), which are
//! socket.io-adapter's `ClusterAdapter` messages: `{uid, nsp, type, data}`, as JSON, or
//! as MessagePack when `data` carries binary (a receiver tells them apart by the first
//! byte, `{`).
//!
//! Channels, under the prefix `{key}` (`channelPrefix`, default `socket.io`):
//! - `{key}#{nsp}#`: every message of the namespace;
//! - `{key}#{nsp}#{room}#`: a broadcast (without acks) to exactly that one room, when
//!   the subscription mode is dynamic (a room that looks like a socket id, 20
//!   characters, stays on the namespace's channel unless the mode is dynamic-private);
//! - `{key}#{nsp}#{uid}#`: the responses to node `uid`'s requests.

use crate::message::{
    encode_body, from_msgpack, options_from_value, options_with_flags, packet_from_value,
    packet_to_value, rooms_value,
};
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use sockeye_server::{BroadcastOptions, Room};

pub(crate) use crate::cluster::MessageType;

/// The `kind` label of `sockeye_cluster_requests_total`, as the classic adapter
/// names the same operations.
pub(crate) fn request_label(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Broadcast => "broadcast_with_ack",
        MessageType::SocketsJoin => "sockets_join",
        MessageType::SocketsLeave => "sockets_leave",
        MessageType::DisconnectSockets => "disconnect_sockets",
        MessageType::FetchSockets => "fetch_sockets",
        MessageType::ServerSideEmit => "server_side_emit",
        _ => "other",
    }
}

/// How a node subscribes to the rooms of its namespaces (`subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// Only the namespace's channel: every node hears every broadcast.
    Static,
    /// Also one channel per public room with a local socket (the default): a
    /// broadcast to one room reaches only the nodes that have it.
    #[default]
    Dynamic,
    /// Like `Dynamic`, and for private rooms (socket ids) too.
    DynamicPrivate,
}

/// The channels of one namespace under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    /// `{key}#{nsp}#`.
    pub(crate) main: String,
}

impl Channels {
    pub(crate) fn new(key: &str, namespace: &str) -> Channels {
        Channels {
            main: format!("{key}#{namespace}#"),
        }
    }

    /// `{key}#{nsp}#{room}#`: a room's channel; with a node's uid, its responses'.
    pub(crate) fn under(&self, room_or_uid: &str) -> String {
        format!("{}{room_or_uid}#", self.main)
    }

    /// Whether a room gets a channel of its own in `mode` (`shouldUseASeparateNamespace`,
    /// where a private room is a local socket's id).
    pub(crate) fn separate(mode: SubscriptionMode, private: bool) -> bool {
        match mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !private,
            SubscriptionMode::DynamicPrivate => true,
        }
    }

    /// Where a broadcast without acks to `opts` goes (`computeChannel`).
    pub(crate) fn broadcast_channel(
        &self,
        mode: SubscriptionMode,
        opts: &BroadcastOptions,
    ) -> String {
        match (mode, opts.rooms.as_slice()) {
            (SubscriptionMode::Dynamic, [room]) if !looks_like_a_socket_id(room) => {
                self.under(room)
            }
            (SubscriptionMode::DynamicPrivate, [room]) => self.under(room),
            _ => self.main.clone(),
        }
    }
}

/// socket.io's own test: a socket id is 20 characters.
fn looks_like_a_socket_id(room: &str) -> bool {
    room.chars().count() == 20
}

/// A message as read from a channel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) uid: String,
    pub(crate) nsp: String,
    pub(crate) kind: MessageType,
    pub(crate) data: Value,
}

impl Message {
    /// Parses a message; `None` for anything else (the caller logs it), so that garbage
    /// on a channel cannot harm the node.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Message> {
        let body = if bytes.first() == Some(&b'{') {
            Value::from(serde_json::from_slice::<serde_json::Value>(bytes).ok()?)
        } else {
            from_msgpack(rmpv::decode::read_value(&mut &bytes[..]).ok()?)
        };
        let kind = match body.get("type") {
            Some(Value::Number(n)) => MessageType::from_number(n.as_u64()?)?,
            _ => return None,
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Message {
            uid: text("uid").unwrap_or_default(),
            nsp: text("nsp").unwrap_or_else(|| "/".into()),
            kind,
            data: body.get("data").cloned().unwrap_or(Value::Null),
        })
    }

    /// `data.requestId`, when there is one.
    pub(crate) fn request_id(&self) -> Option<String> {
        match self.data.get("requestId")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// `data.opts` as broadcast options.
    pub(crate) fn opts(&self) -> BroadcastOptions {
        self.data
            .get("opts")
            .map(options_from_value)
            .unwrap_or_default()
    }

    /// `data.opts.flags.timeout` in milliseconds.
    pub(crate) fn timeout_ms(&self) -> Option<u64> {
        match self.data.get("opts")?.get("flags")?.get("timeout")? {
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
            _ => None,
        }
    }

    /// `data.rooms` (socketsJoin, socketsLeave): a list, or one room.
    pub(crate) fn rooms(&self) -> Vec<Room> {
        match self.data.get("rooms") {
            Some(Value::Array(items)) => {
                items.iter().filter_map(crate::message::room_name).collect()
            }
            Some(one) => crate::message::room_name(one).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// `data.packet` as an event packet (broadcasts).
    pub(crate) fn packet(&self) -> Option<Packet> {
        packet_from_value(self.data.get("packet")?.clone())
    }
}

/// Encodes `{uid, nsp, type, data}` as the adapter does: JSON, unless it carries binary.
pub(crate) fn encode(
    uid: &str,
    nsp: &str,
    kind: MessageType,
    data: Vec<(String, Value)>,
) -> Vec<u8> {
    encode_body(&Value::Object(vec![
        ("type".into(), Value::Number((kind as u64).into())),
        ("data".into(), Value::Object(data)),
        ("uid".into(), Value::String(uid.to_owned())),
        ("nsp".into(), Value::String(nsp.to_owned())),
    ]))
}

/// The `data` of a broadcast: `{packet, opts: {rooms, except, flags}}`, with
/// `flags.timeout` (milliseconds) when it waits for acks (the request adds its
/// `requestId`).
pub(crate) fn broadcast_data(
    packet: &Packet,
    opts: &BroadcastOptions,
    ack_timeout: Option<u64>,
) -> Vec<(String, Value)> {
    let flags = match ack_timeout {
        Some(timeout) => vec![("timeout".into(), Value::Number(timeout.into()))],
        None => Vec::new(),
    };
    vec![
        ("packet".into(), packet_to_value(packet)),
        ("opts".into(), options_with_flags(opts, flags)),
    ]
}

/// The `{rooms, except, flags: {}}` options of a request.
pub(crate) fn opts_value(opts: &BroadcastOptions) -> Value {
    options_with_flags(opts, Vec::new())
}

/// The `rooms` of socketsJoin and socketsLeave.
pub(crate) fn rooms_field(rooms: &[Room]) -> (String, Value) {
    ("rooms".into(), rooms_value(rooms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_broadcast_is_json_unless_binary_and_round_trips() {
        let opts = BroadcastOptions {
            rooms: vec![Room::from("r")],
            except: vec![Room::from("x")],
        };
        let packet = Packet::event("/", "ev", vec![Value::from(1)].into(), None);
        let bytes = encode(
            "u1",
            "/",
            MessageType::Broadcast,
            broadcast_data(&packet, &opts, None),
        );
        assert_eq!(bytes[0], b'{');
        let m = Message::parse(&bytes).expect("parses");
        assert_eq!((m.uid.as_str(), m.nsp.as_str()), ("u1", "/"));
        assert_eq!(m.kind, MessageType::Broadcast);
        assert_eq!(m.packet(), Some(packet));
        assert_eq!(m.opts(), opts);
        assert_eq!(m.request_id(), None);

        let binary = Packet::event(
            "/",
            "ev",
            vec![Value::from(Bytes::from_static(b"\x01"))].into(),
            None,
        );
        let mut data = broadcast_data(&binary, &opts, Some(3000));
        data.push(("requestId".into(), Value::from("req")));
        let bytes = encode("u1", "/", MessageType::Broadcast, data);
        assert_ne!(bytes[0], b'{');
        let m = Message::parse(&bytes).expect("parses");
        assert_eq!(m.packet(), Some(binary));
        assert_eq!(m.request_id().as_deref(), Some("req"));
        assert_eq!(m.timeout_ms(), Some(3000));
    }

    /// What Node's ShardedRedisAdapter publishes for `io.to("r").emit("ev", 1)`.
    #[test]
    fn reads_what_node_publishes() {
        let json = br#"{"type":3,"data":{"packet":{"type":2,"data":["ev",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/"}"#;
        let m = Message::parse(json).expect("parses");
        assert_eq!(m.uid, "0123456789abcdef");
        assert_eq!(
            m.packet(),
            Some(Packet::event("/", "ev", vec![Value::from(1)].into(), None))
        );
        assert_eq!(m.opts().rooms, vec![Room::from("r")]);
    }

    #[test]
    fn garbage_is_not_a_message() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"{nope",
            b"[1]",
            br#"{"type":99}"#,
            b"\x93\x01\x02\x03",
        ] {
            assert!(Message::parse(bytes).is_none(), "{bytes:?}");
        }
    }

    #[test]
    fn channels_follow_the_subscription_mode() {
        let c = Channels::new("socket.io", "/chat");
        let one = |room: &str| BroadcastOptions {
            rooms: vec![Room::from(room)],
            except: vec![],
        };
        assert_eq!(c.main, "socket.io#/chat#");
        assert_eq!(
            c.broadcast_channel(SubscriptionMode::Dynamic, &one("news")),
            "socket.io#/chat#news#"
        );
        let sid = "abcdefghijklmnopqrst";
        assert_eq!(
            c.broadcast_channel(SubscriptionMode::Dynamic, &one(sid)),
            c.main
        );
        assert_eq!(
            c.broadcast_channel(SubscriptionMode::DynamicPrivate, &one(sid)),
            c.under(sid)
        );
        assert_eq!(
            c.broadcast_channel(SubscriptionMode::Static, &one("news")),
            c.main
        );
        assert_eq!(
            c.broadcast_channel(SubscriptionMode::Dynamic, &BroadcastOptions::default()),
            c.main
        );
    }
}
