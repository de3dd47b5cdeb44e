//! The messages of `@socket.io/redis-adapter` 8.x and `@socket.io/redis-emitter` 5.x:
//! their channel names and their encodings.
//!
//! - Broadcasts go to `{key}#{nsp}#` (or `{key}#{nsp}#{room}#` when they target exactly
//!   one room) as MessagePack `[uid, packet, {rooms, except, flags}]`, where `packet`
//!   is socket.io-parser's object `{type, data: [event, ...args], nsp}` with binary
//!   arguments as MessagePack `bin`.
//! - Requests go to `{key}-request#{nsp}#`, responses to `{key}-response#{nsp}#`, as
//!   JSON (or MessagePack when they carry binary; a receiver tells them apart by the
//!   first byte, `{`).

use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use sockeye_server::{BroadcastOptions, Room, SocketInfo};

/// socket.io-parser's packet type of an event.
const EVENT: u64 = 2;
/// socket.io-parser's packet type of an event with binary parts.
const BINARY_EVENT: u64 = 5;

/// The request types of the adapter protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestType {
    /// Socket ids in rooms (the old `allSockets`).
    Sockets = 0,
    /// Every room.
    AllRooms = 1,
    /// `socketsJoin`.
    RemoteJoin = 2,
    /// `socketsLeave`.
    RemoteLeave = 3,
    /// `disconnectSockets`.
    RemoteDisconnect = 4,
    /// `fetchSockets`.
    RemoteFetch = 5,
    /// `serverSideEmit`.
    ServerSideEmit = 6,
    /// A broadcast that waits for the clients' acks.
    Broadcast = 7,
}

impl RequestType {
    /// The `kind` label of `sockeye_cluster_requests_total`: socket.io's own name of
    /// the operation.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RequestType::Sockets => "all_sockets",
            RequestType::AllRooms => "all_rooms",
            RequestType::RemoteJoin => "sockets_join",
            RequestType::RemoteLeave => "sockets_leave",
            RequestType::RemoteDisconnect => "disconnect_sockets",
            RequestType::RemoteFetch => "fetch_sockets",
            RequestType::ServerSideEmit => "server_side_emit",
            RequestType::Broadcast => "broadcast_with_ack",
        }
    }

    fn from_number(n: u64) -> Option<RequestType> {
        Some(match n {
            0 => RequestType::Sockets,
            1 => RequestType::AllRooms,
            2 => RequestType::RemoteJoin,
            3 => RequestType::RemoteLeave,
            4 => RequestType::RemoteDisconnect,
            5 => RequestType::RemoteFetch,
            6 => RequestType::ServerSideEmit,
            7 => RequestType::Broadcast,
            _ => return None,
        })
    }
}

/// The channels of one namespace under one key prefix.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    /// `{key}#{nsp}#`: broadcasts; subscribed as the pattern `{key}#{nsp}#*`.
    pub(crate) broadcast: String,
    /// `{key}-request#{nsp}#`.
    pub(crate) request: String,
    /// `{key}-response#{nsp}#`.
    pub(crate) response: String,
}

impl Channels {
    pub(crate) fn new(key: &str, namespace: &str) -> Channels {
        Channels {
            broadcast: format!("{key}#{namespace}#"),
            request: format!("{key}-request#{namespace}#"),
            response: format!("{key}-response#{namespace}#"),
        }
    }

    /// The response channel only `uid` listens to (`publishOnSpecificResponseChannel`).
    pub(crate) fn specific_response(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response)
    }

    /// Where a broadcast with these options is published.
    pub(crate) fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }
}

/// A broadcast another node (or an emitter) published.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Broadcast {
    pub(crate) uid: String,
    pub(crate) packet: Packet,
    pub(crate) opts: BroadcastOptions,
}

/// Encodes a broadcast as the adapter and the emitter do.
pub(crate) fn encode_broadcast(uid: &str, packet: &Packet, opts: &BroadcastOptions) -> Vec<u8> {
    encode_msgpack(&Value::Array(vec![
        Value::String(uid.to_owned()),
        packet_to_value(packet),
        options_with_flags(opts, Vec::new()),
    ]))
}

/// Decodes a published broadcast; `None` for anything that is not one (logged by the
/// caller), so that garbage on the channel cannot harm the node.
pub(crate) fn decode_broadcast(bytes: &[u8]) -> Option<Broadcast> {
    let value = rmpv::decode::read_value(&mut &bytes[..]).ok()?;
    let rmpv::Value::Array(mut parts) = value else {
        return None;
    };
    if parts.len() < 2 {
        return None;
    }
    let opts = if parts.len() > 2 {
        options_from_value(&from_msgpack(parts.remove(2)))
    } else {
        BroadcastOptions::default()
    };
    let packet = from_msgpack(parts.remove(1));
    let uid = match from_msgpack(parts.remove(0)) {
        Value::String(uid) => uid,
        _ => String::new(),
    };
    Some(Broadcast {
        uid,
        packet: packet_from_value(packet)?,
        opts,
    })
}

/// socket.io-parser's packet object, as an event packet of ours.
pub(crate) fn packet_from_value(packet: Value) -> Option<Packet> {
    let Value::Object(fields) = packet else {
        return None;
    };
    let mut kind = None;
    let mut data = None;
    let mut namespace = "/".to_owned();
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("type", Value::Number(n)) => kind = n.as_u64(),
            ("data", Value::Array(items)) => data = Some(items),
            ("nsp", Value::String(nsp)) => namespace = nsp,
            _ => {}
        }
    }
    if !matches!(kind, Some(EVENT | BINARY_EVENT)) {
        return None;
    }
    let mut data = data?.into_iter();
    let Some(Value::String(name)) = data.next() else {
        return None;
    };
    let args: Vec<Value> = data.collect();
    Some(Packet::event(&namespace, &name, args.into(), None))
}

/// A broadcast that waits for acks, as a request: MessagePack `{uid, requestId, type: 7,
/// packet, opts: {rooms, except, flags: {timeout}}}`; its request id and body.
pub(crate) fn broadcast_request(
    uid: &str,
    packet: &Packet,
    opts: &BroadcastOptions,
    timeout_ms: u64,
) -> (String, Vec<u8>) {
    let id = crate::random_id()[..12].to_owned();
    let flags = vec![("timeout".into(), Value::Number(timeout_ms.into()))];
    let body = Value::Object(vec![
        ("uid".into(), Value::String(uid.to_owned())),
        ("requestId".into(), Value::String(id.clone())),
        (
            "type".into(),
            Value::Number((RequestType::Broadcast as u64).into()),
        ),
        ("packet".into(), packet_to_value(packet)),
        ("opts".into(), options_with_flags(opts, flags)),
    ]);
    (id, encode_msgpack(&body))
}

/// Our event packet as socket.io-parser's packet object.
pub(crate) fn packet_to_value(packet: &Packet) -> Value {
    let (namespace, data) = match packet {
        Packet::Event {
            namespace,
            name,
            args,
            ..
        } => {
            let mut data = vec![Value::String(name.clone())];
            data.extend(args.values().unwrap_or_default());
            (namespace.as_str(), data)
        }
        other => (other.namespace(), Vec::new()),
    };
    Value::Object(vec![
        ("type".into(), Value::Number(EVENT.into())),
        ("data".into(), Value::Array(data)),
        ("nsp".into(), Value::String(namespace.to_owned())),
    ])
}

/// `{rooms, except, flags}`, the options of a broadcast on the wire.
pub(crate) fn options_with_flags(opts: &BroadcastOptions, flags: Vec<(String, Value)>) -> Value {
    Value::Object(vec![
        ("rooms".into(), rooms_value(&opts.rooms)),
        ("except".into(), rooms_value(&opts.except)),
        ("flags".into(), Value::Object(flags)),
    ])
}

/// The `{rooms, except}` object of a broadcast or a request. Node allows numbers as
/// room names; they arrive here as their decimal text.
pub(crate) fn options_from_value(opts: &Value) -> BroadcastOptions {
    let rooms = |key: &str| -> Vec<Room> {
        match opts.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
            _ => Vec::new(),
        }
    };
    BroadcastOptions {
        rooms: rooms("rooms"),
        except: rooms("except"),
    }
}

fn options_to_value(opts: &BroadcastOptions) -> Value {
    Value::Object(vec![
        ("rooms".into(), rooms_value(&opts.rooms)),
        ("except".into(), rooms_value(&opts.except)),
    ])
}

pub(crate) fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::String(r.to_string())).collect())
}

pub(crate) fn room_name(value: &Value) -> Option<Room> {
    match value {
        Value::String(s) => Some(Room::from(s.as_str())),
        Value::Number(n) => Some(Room::from(n.to_string().as_str())),
        _ => None,
    }
}

/// A request or response body: JSON, or MessagePack when it does not start with `{`.
pub(crate) fn decode_body(bytes: &[u8]) -> Option<Value> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .map(Value::from)
    } else {
        rmpv::decode::read_value(&mut &bytes[..])
            .ok()
            .map(from_msgpack)
    }
}

/// Encodes a request or response as the adapter does: JSON, unless it carries binary.
pub(crate) fn encode_body(value: &Value) -> Vec<u8> {
    if value.has_binary() {
        encode_msgpack(value)
    } else {
        serde_json::to_vec(&value.to_json()).expect("JSON of a Value")
    }
}

/// Encodes a value as MessagePack.
pub(crate) fn encode_msgpack(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &to_msgpack(value)).expect("writing to a Vec cannot fail");
    out
}

/// A request, as read from its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) kind: RequestType,
    pub(crate) uid: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) body: Value,
}

impl Request {
    pub(crate) fn parse(bytes: &[u8]) -> Option<Request> {
        let body = decode_body(bytes)?;
        let kind = match body.get("type") {
            Some(Value::Number(n)) => RequestType::from_number(n.as_u64()?)?,
            _ => return None,
        };
        let text = |key: &str| match body.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Some(Request {
            kind,
            uid: text("uid"),
            request_id: text("requestId"),
            body,
        })
    }

    /// The request's `opts` as broadcast options.
    pub(crate) fn opts(&self) -> BroadcastOptions {
        self.body
            .get("opts")
            .map(options_from_value)
            .unwrap_or_default()
    }

    /// The request's `rooms` (socketsJoin, socketsLeave, the old allSockets).
    pub(crate) fn rooms(&self) -> Vec<Room> {
        match self.body.get("rooms") {
            Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
            Some(one) => room_name(one).into_iter().collect(),
            None => Vec::new(),
        }
    }
}

/// Builds a request body: `{uid, requestId?, type, ...fields}`.
pub(crate) fn request(
    uid: &str,
    request_id: Option<&str>,
    kind: RequestType,
    fields: Vec<(String, Value)>,
) -> Vec<u8> {
    let mut body = vec![("uid".to_owned(), Value::String(uid.to_owned()))];
    if let Some(id) = request_id {
        body.push(("requestId".into(), Value::String(id.to_owned())));
    }
    body.push(("type".into(), Value::Number((kind as u64).into())));
    body.extend(fields);
    encode_body(&Value::Object(body))
}

/// The `opts` field of a request.
pub(crate) fn opts_field(opts: &BroadcastOptions) -> (String, Value) {
    ("opts".into(), options_to_value(opts))
}

/// One socket in a `fetchSockets` response, as socket.io's nodes describe it.
pub(crate) fn socket_info_value(info: &SocketInfo) -> Value {
    Value::Object(vec![
        ("id".into(), Value::String(info.id.to_string())),
        ("handshake".into(), info.handshake.clone()),
        ("rooms".into(), rooms_value(&info.rooms)),
        ("data".into(), info.data.clone()),
    ])
}

/// A socket of a `fetchSockets` response; `None` without an id.
pub(crate) fn socket_info_from_value(value: &Value) -> Option<SocketInfo> {
    let id = value.get("id")?.as_str()?;
    let rooms = match value.get("rooms") {
        Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
        _ => Vec::new(),
    };
    Some(SocketInfo {
        id: id.into(),
        rooms,
        handshake: value.get("handshake").cloned().unwrap_or(Value::Null),
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// Our value as MessagePack, as notepack.io writes JavaScript values.
pub(crate) fn to_msgpack(value: &Value) -> rmpv::Value {
    match value {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                rmpv::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                rmpv::Value::from(u)
            } else {
                rmpv::Value::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => rmpv::Value::from(s.as_str()),
        Value::Binary(b) => rmpv::Value::Binary(b.to_vec()),
        Value::Array(items) => rmpv::Value::Array(items.iter().map(to_msgpack).collect()),
        Value::Object(fields) => rmpv::Value::Map(
            fields
                .iter()
                .map(|(k, v)| (rmpv::Value::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// MessagePack as our value: `bin` is binary, map keys become strings, extension
/// types (which notepack uses for `undefined` and dates) become `null`.
pub(crate) fn from_msgpack(value: rmpv::Value) -> Value {
    match value {
        rmpv::Value::Nil | rmpv::Value::Ext(..) => Value::Null,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Value::Number(i.into()),
            (None, Some(u)) => Value::Number(u.into()),
            _ => Value::Null,
        },
        rmpv::Value::F32(f) => Value::from(f64::from(f)),
        rmpv::Value::F64(f) => Value::from(f),
        rmpv::Value::String(s) => Value::String(s.into_str().unwrap_or_default()),
        rmpv::Value::Binary(b) => Value::Binary(b.into()),
        rmpv::Value::Array(items) => Value::Array(items.into_iter().map(from_msgpack).collect()),
        rmpv::Value::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = match from_msgpack(k) {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        other => other.to_json().to_string(),
                    };
                    (key, from_msgpack(v))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn room(s: &str) -> Room {
        Room::from(s)
    }

    #[test]
    fn a_broadcast_round_trips_with_binary() {
        let packet = Packet::event(
            "/chat",
            "news",
            vec![
                Value::from("hi"),
                Value::Object(vec![(
                    "file".into(),
                    Value::from(Bytes::from_static(b"\x01\x02")),
                )]),
                Value::from(3),
            ]
            .into(),
            None,
        );
        let opts = BroadcastOptions {
            rooms: vec![room("a")],
            except: vec![room("b")],
        };
        let bytes = encode_broadcast("abc123", &packet, &opts);
        let back = decode_broadcast(&bytes).expect("decodes");
        assert_eq!(back.uid, "abc123");
        assert_eq!(back.packet, packet);
        assert_eq!(back.opts, opts);
        let channels = Channels::new("socket.io", "/chat");
        assert_eq!(channels.broadcast_channel(&opts), "socket.io#/chat#a#");
        assert_eq!(
            channels.broadcast_channel(&BroadcastOptions::default()),
            "socket.io#/chat#"
        );
    }

    /// Bytes as notepack.io 3 writes `["emitter", {type: 2, data: ["ev", 1], nsp: "/"},
    /// {rooms: ["r"], except: [], flags: {}}]` (the emitter's format).
    #[test]
    fn reads_what_the_node_emitter_writes() {
        let mut bytes = vec![0x93, 0xa7];
        bytes.extend(b"emitter");
        bytes.extend([0x83, 0xa4]);
        bytes.extend(b"type");
        bytes.push(0x02);
        bytes.push(0xa4);
        bytes.extend(b"data");
        bytes.extend([0x92, 0xa2]);
        bytes.extend(b"ev");
        bytes.push(0x01);
        bytes.push(0xa3);
        bytes.extend(b"nsp");
        bytes.extend([0xa1, b'/']);
        bytes.extend([0x83, 0xa5]);
        bytes.extend(b"rooms");
        bytes.extend([0x91, 0xa1, b'r']);
        bytes.push(0xa6);
        bytes.extend(b"except");
        bytes.push(0x90);
        bytes.push(0xa5);
        bytes.extend(b"flags");
        bytes.push(0x80);
        let b = decode_broadcast(&bytes).expect("decodes");
        assert_eq!(b.uid, "emitter");
        assert_eq!(
            b.packet,
            Packet::event("/", "ev", vec![Value::from(1)].into(), None)
        );
        assert_eq!(b.opts.rooms, vec![room("r")]);
    }

    #[test]
    fn garbage_is_not_a_broadcast_or_a_request() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"\x93\x01\x02\x03",
            b"{not json",
            b"[1,2]",
        ] {
            assert!(decode_broadcast(bytes).is_none(), "{bytes:?}");
            assert!(Request::parse(bytes).is_none(), "{bytes:?}");
        }
    }

    #[test]
    fn requests_are_json_unless_binary() {
        let opts = BroadcastOptions {
            rooms: vec![room("r")],
            except: vec![],
        };
        let body = request(
            "u1",
            Some("req1"),
            RequestType::RemoteFetch,
            vec![opts_field(&opts)],
        );
        assert_eq!(body[0], b'{');
        let r = Request::parse(&body).expect("parses");
        assert_eq!(r.kind, RequestType::RemoteFetch);
        assert_eq!(r.uid.as_deref(), Some("u1"));
        assert_eq!(r.request_id.as_deref(), Some("req1"));
        assert_eq!(r.opts(), opts);

        let binary = request(
            "u1",
            None,
            RequestType::ServerSideEmit,
            vec![(
                "data".into(),
                Value::Array(vec![
                    Value::from("ev"),
                    Value::from(Bytes::from_static(b"x")),
                ]),
            )],
        );
        assert_ne!(binary[0], b'{');
        let r = Request::parse(&binary).expect("parses");
        assert_eq!(r.kind, RequestType::ServerSideEmit);
        assert!(r.body.get("data").is_some_and(Value::has_binary));
    }

    #[test]
    fn numeric_rooms_are_their_text() {
        let opts = options_from_value(&Value::from(serde_json::json!({
            "rooms": [42, "x"], "except": [1.5]
        })));
        assert_eq!(opts.rooms, vec![room("42"), room("x")]);
        assert_eq!(opts.except, vec![room("1.5")]);
    }
}
