//! The messages of `@socket.io/redis-streams-adapter` 0.3: socket.io-adapter's
//! `ClusterAdapter` messages `{uid, nsp, type, data}`, carried two ways.
//!
//! - What must reach every node, even one that reads late (broadcasts without acks,
//!   socketsJoin, socketsLeave, disconnectSockets), is an entry of the stream (`XADD
//!   socket.io MAXLEN ~ 10000 * uid .. nsp .. type "3" data ..`): `type` is the number
//!   as text, `data` the JSON text of the message's data, or, when that data holds
//!   binary, the base64 of its MessagePack (a reader tells them apart by the first
//!   character, `{`).
//! - What only matters now (broadcasts with acks, serverSideEmit, fetchSockets) and
//!   every response is MessagePack of the whole message, published on
//!   `{prefix}#{nsp}#` (requests) or `{prefix}#{nsp}#{requester uid}#` (responses).

use crate::message::{
    decode_body, encode_msgpack, from_msgpack, packet_from_value, packet_to_value,
};
use base64::Engine as _;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;

pub(crate) use crate::cluster::MessageType;

/// The `kind` label of `sockeye_cluster_requests_total`, as the classic adapter's.
pub(crate) fn request_label(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Broadcast => "broadcast",
        MessageType::SocketsJoin => "sockets_join",
        MessageType::SocketsLeave => "sockets_leave",
        MessageType::DisconnectSockets => "disconnect_sockets",
        MessageType::FetchSockets | MessageType::FetchSocketsResponse => "fetch_sockets",
        MessageType::ServerSideEmit | MessageType::ServerSideEmitResponse => "server_side_emit",
        MessageType::BroadcastClientCount | MessageType::BroadcastAck => "broadcast_with_ack",
        MessageType::InitialHeartbeat | MessageType::Heartbeat | MessageType::AdapterClose => {
            "other"
        }
    }
}

/// The types whose data the Node adapter sends as MessagePack when it holds binary.
fn may_contain_binary(kind: MessageType) -> bool {
    matches!(
        kind,
        MessageType::Broadcast
            | MessageType::FetchSocketsResponse
            | MessageType::ServerSideEmit
            | MessageType::ServerSideEmitResponse
            | MessageType::BroadcastAck
    )
}

/// One cluster message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterMessage {
    /// The sender's uid (`emitter` for an emitter).
    pub(crate) uid: String,
    /// The namespace it is about.
    pub(crate) nsp: String,
    pub(crate) kind: MessageType,
    /// `{packet, opts, requestId?, rooms?, close?, ...}`, by type.
    pub(crate) data: Value,
}

impl ClusterMessage {
    /// Whether it travels by pub/sub (only those listening now need it) rather than
    /// in the stream: the Node adapter's `isEphemeral`.
    pub(crate) fn is_ephemeral(&self) -> bool {
        match self.kind {
            MessageType::Broadcast => self.data.get("requestId").is_some(),
            MessageType::ServerSideEmit | MessageType::FetchSockets => true,
            _ => false,
        }
    }

    /// The fields of its stream entry, in the Node adapter's order.
    pub(crate) fn to_fields(&self) -> Vec<(&'static str, String)> {
        let data = if may_contain_binary(self.kind) && self.data.has_binary() {
            base64::engine::general_purpose::STANDARD.encode(encode_msgpack(&self.data))
        } else {
            self.data.to_json().to_string()
        };
        vec![
            ("uid", self.uid.clone()),
            ("nsp", self.nsp.clone()),
            ("type", (self.kind as u64).to_string()),
            ("data", data),
        ]
    }

    /// A stream entry's fields as a message; `None` for anything else (an entry of
    /// another program, garbage), which the reader skips.
    pub(crate) fn from_fields(fields: &[(String, Vec<u8>)]) -> Option<ClusterMessage> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
        };
        let text = |name: &str| field(name).and_then(|v| std::str::from_utf8(v).ok());
        // 1, 2 and 13 are the heartbeats of ClusterAdapterWithHeartbeat, which this adapter
        // (like the Node one) neither sends nor needs.
        let kind = MessageType::from_number(text("type")?.trim().parse().ok()?)
            .filter(|kind| !kind.is_heartbeat())?;
        let data = match field("data") {
            None | Some(b"") => Value::Null,
            Some(bytes) if bytes.first() == Some(&b'{') => decode_body(bytes)?,
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                from_msgpack(rmpv::decode::read_value(&mut &bytes[..]).ok()?)
            }
        };
        Some(ClusterMessage {
            uid: text("uid").unwrap_or_default().to_owned(),
            nsp: text("nsp")?.to_owned(),
            kind,
            data,
        })
    }

    /// The message as MessagePack, for pub/sub.
    pub(crate) fn to_msgpack(&self) -> Vec<u8> {
        encode_msgpack(&Value::Object(vec![
            ("type".into(), Value::Number((self.kind as u64).into())),
            ("data".into(), self.data.clone()),
            ("uid".into(), Value::String(self.uid.clone())),
            ("nsp".into(), Value::String(self.nsp.clone())),
        ]))
    }

    /// A published message; `None` for garbage.
    pub(crate) fn from_msgpack(bytes: &[u8]) -> Option<ClusterMessage> {
        let value = from_msgpack(rmpv::decode::read_value(&mut &bytes[..]).ok()?);
        let kind = match value.get("type")? {
            Value::Number(n) => {
                MessageType::from_number(n.as_u64()?).filter(|kind| !kind.is_heartbeat())?
            }
            _ => return None,
        };
        let text = |key: &str| match value.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Some(ClusterMessage {
            uid: text("uid").unwrap_or_default(),
            nsp: text("nsp")?,
            kind,
            data: value.get("data").cloned().unwrap_or(Value::Null),
        })
    }

    /// The data's `requestId`, as text.
    pub(crate) fn request_id(&self) -> Option<String> {
        match self.data.get("requestId")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// A packet as the Node adapter puts it in a message: `{type, data}`, without `nsp`
/// (the message names the namespace).
pub(crate) fn packet_value(packet: &Packet) -> Value {
    match packet_to_value(packet) {
        Value::Object(fields) => {
            Value::Object(fields.into_iter().filter(|(k, _)| k != "nsp").collect())
        }
        other => other,
    }
}

/// The event packet of a message's `packet` field, in the message's namespace.
pub(crate) fn packet_of(data: &Value, namespace: &str) -> Option<Packet> {
    let Some(Value::Object(mut fields)) = data.get("packet").cloned() else {
        return None;
    };
    fields.retain(|(k, _)| k != "nsp");
    fields.push(("nsp".into(), Value::String(namespace.to_owned())));
    packet_from_value(Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn message(kind: MessageType, data: serde_json::Value) -> ClusterMessage {
        ClusterMessage {
            uid: "0123456789abcdef".into(),
            nsp: "/".into(),
            kind,
            data: Value::from(data),
        }
    }

    fn as_entry(fields: Vec<(&'static str, String)>) -> Vec<(String, Vec<u8>)> {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_bytes()))
            .collect()
    }

    #[test]
    fn a_broadcast_entry_is_json_text_with_the_type_as_text() {
        let m = message(
            MessageType::Broadcast,
            serde_json::json!({"packet": {"type": 2, "data": ["ev", 1], "nsp": "/"},
                "opts": {"rooms": ["r"], "except": [], "flags": {}}}),
        );
        let fields = m.to_fields();
        assert_eq!(fields[2], ("type", "3".to_owned()));
        assert!(fields[3].1.starts_with('{'));
        assert!(!m.is_ephemeral());
        assert_eq!(ClusterMessage::from_fields(&as_entry(fields)), Some(m));
    }

    #[test]
    fn binary_data_is_base64_messagepack_and_round_trips() {
        let mut m = message(
            MessageType::Broadcast,
            serde_json::json!({"opts": {"rooms": [], "except": []}}),
        );
        if let Value::Object(fields) = &mut m.data {
            fields.push((
                "packet".into(),
                Value::Array(vec![Value::from(Bytes::from_static(b"\x00\x01"))]),
            ));
        }
        let fields = m.to_fields();
        assert!(!fields[3].1.starts_with('{'));
        assert_eq!(ClusterMessage::from_fields(&as_entry(fields)), Some(m));
    }

    /// What the Node adapter writes for `io.to("r").emit("ev", 1)`, as redis-cli shows.
    #[test]
    fn reads_a_node_entry() {
        let entry = as_entry(vec![
            ("uid", "5c2a8bd5e1b1f4b2".into()),
            ("nsp", "/".into()),
            ("type", "3".into()),
            (
                "data",
                r#"{"packet":{"type":2,"data":["ev",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}"#.into(),
            ),
        ]);
        let m = ClusterMessage::from_fields(&entry).expect("decodes");
        assert_eq!(m.kind, MessageType::Broadcast);
        assert_eq!(m.uid, "5c2a8bd5e1b1f4b2");
        assert!(m.data.get("packet").is_some());
    }

    #[test]
    fn packets_travel_without_their_namespace_and_arrive_in_the_messages() {
        let packet = Packet::event("/chat", "ev", vec![Value::from(1)].into(), None);
        let value = packet_value(&packet);
        assert!(value.get("nsp").is_none());
        let data = Value::Object(vec![("packet".into(), value)]);
        assert_eq!(packet_of(&data, "/chat"), Some(packet));
        assert!(packet_of(&Value::Null, "/").is_none());
    }

    #[test]
    fn pubsub_messages_round_trip_and_garbage_is_refused() {
        let m = message(
            MessageType::FetchSockets,
            serde_json::json!({"requestId": "abc", "opts": {"rooms": ["r"], "except": []}}),
        );
        assert!(m.is_ephemeral());
        assert_eq!(m.request_id().as_deref(), Some("abc"));
        assert_eq!(ClusterMessage::from_msgpack(&m.to_msgpack()), Some(m));
        for bytes in [&b""[..], b"\xc1", b"\x93\x01\x02\x03", b"{}"] {
            assert!(ClusterMessage::from_msgpack(bytes).is_none(), "{bytes:?}");
        }
        for entry in [
            vec![],
            as_entry(vec![("nsp", "/".into()), ("type", "99".into())]),
            as_entry(vec![
                ("nsp", "/".into()),
                ("type", "3".into()),
                ("data", "!!".into()),
            ]),
            as_entry(vec![("type", "3".into()), ("data", "{}".into())]),
        ] {
            assert!(ClusterMessage::from_fields(&entry).is_none(), "{entry:?}");
        }
    }
}
