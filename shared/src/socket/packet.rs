//! Socket.IO packets and their text encoding.
//!
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, for example
//! `2/chat,12["message","hi"]`. The namespace is written only when it is not `/`.

use super::args::Args;
use crate::Value;
use bytes::Bytes;

/// The kind of a Socket.IO packet, with its wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `0`: join a namespace (client) or accept the join (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event.
    Event,
    /// `3`: the answer to an event that asked for one.
    Ack,
    /// `4`: the server refuses a join.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an ack with binary attachments.
    BinaryAck,
}

impl PacketType {
    fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }
}

/// Event names a client may not use: the library emits these itself.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// One Socket.IO packet, with its binary parts in place.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Join `namespace`; from a client it may carry an `auth` object, from the server
    /// `{"sid": ...}`.
    Connect {
        /// The namespace.
        namespace: String,
        /// The auth payload (client) or the socket id object (server).
        data: Option<Value>,
    },
    /// Leave `namespace`.
    Disconnect {
        /// The namespace.
        namespace: String,
    },
    /// An event: a name and its arguments, asking for an ack when `id` is set.
    Event {
        /// The namespace.
        namespace: String,
        /// The event name.
        name: String,
        /// The arguments, as they travel.
        args: Args,
        /// The ack id, when the sender waits for an answer.
        id: Option<u64>,
    },
    /// The answer to the event with the same `id`.
    Ack {
        /// The namespace.
        namespace: String,
        /// The answer's arguments, as they travel.
        args: Args,
        /// The id of the event being answered.
        id: u64,
    },
    /// The server refused to let the client join `namespace`.
    ConnectError {
        /// The namespace.
        namespace: String,
        /// `{"message": ..., "data": ...}` (or a bare string from old servers).
        data: Value,
    },
}

/// A packet ready for Engine.IO: one text message, then one binary message per
/// attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The text message.
    pub text: String,
    /// The binary attachments, in placeholder order.
    pub attachments: Vec<Bytes>,
}

impl Packet {
    /// Builds an event packet.
    pub fn event(namespace: &str, name: &str, args: Args, id: Option<u64>) -> Packet {
        Packet::Event {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            args,
            id,
        }
    }

    /// The packet's namespace.
    pub fn namespace(&self) -> &str {
        match self {
            Packet::Connect { namespace, .. }
            | Packet::Disconnect { namespace }
            | Packet::Event { namespace, .. }
            | Packet::Ack { namespace, .. }
            | Packet::ConnectError { namespace, .. } => namespace,
        }
    }

    /// The packet's type as it goes on the wire (binary types when attachments exist).
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect { .. } => PacketType::Connect,
            Packet::Disconnect { .. } => PacketType::Disconnect,
            Packet::Event { args, .. } if !args.attachments().is_empty() => PacketType::BinaryEvent,
            Packet::Event { .. } => PacketType::Event,
            Packet::Ack { args, .. } if !args.attachments().is_empty() => PacketType::BinaryAck,
            Packet::Ack { .. } => PacketType::Ack,
            Packet::ConnectError { .. } => PacketType::ConnectError,
        }
    }

    /// Encodes the packet with the JSON parser; `prefix` is written first (the
    /// Engine.IO message digit `4` when the text goes straight into a frame, or
    /// nothing). Arguments in another parser's format are converted first.
    pub fn encode_with_prefix(&self, prefix: &str) -> Encoded {
        fn json_args(args: &Args) -> std::borrow::Cow<'_, Args> {
            match args.parser() {
                super::Parser::Json => std::borrow::Cow::Borrowed(args),
                #[cfg(feature = "msgpack")]
                _ => std::borrow::Cow::Owned(
                    args.to_parser(super::Parser::Json)
                        .unwrap_or_else(|_| Args::empty(super::Parser::Json)),
                ),
            }
        }
        let (namespace, id, args) = match self {
            Packet::Event {
                namespace,
                args,
                id,
                ..
            } => (namespace, *id, Some(json_args(args))),
            Packet::Ack {
                namespace,
                args,
                id,
                ..
            } => (namespace, Some(*id), Some(json_args(args))),
            Packet::Connect { namespace, .. }
            | Packet::Disconnect { namespace }
            | Packet::ConnectError { namespace, .. } => (namespace, None, None),
        };
        let attachments = args
            .as_ref()
            .map_or_else(Vec::new, |a| a.attachments().to_vec());
        let kind = match self.packet_type() {
            PacketType::Event | PacketType::BinaryEvent if !attachments.is_empty() => {
                PacketType::BinaryEvent
            }
            PacketType::Ack | PacketType::BinaryAck if !attachments.is_empty() => {
                PacketType::BinaryAck
            }
            PacketType::BinaryEvent => PacketType::Event,
            PacketType::BinaryAck => PacketType::Ack,
            other => other,
        };
        let size_hint = args.as_ref().map_or(16, |a| a.elements().len() + 16);
        let mut text = Vec::with_capacity(prefix.len() + namespace.len() + size_hint + 24);
        text.extend_from_slice(prefix.as_bytes());
        text.push(b'0' + kind as u8);
        if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
            crate::json::write_u64(&mut text, attachments.len() as u64);
            text.push(b'-');
        }
        if namespace != "/" {
            text.extend_from_slice(namespace.as_bytes());
            text.push(b',');
        }
        if let Some(id) = id {
            crate::json::write_u64(&mut text, id);
        }
        match (self, &args) {
            (Packet::Event { name, .. }, Some(args)) => {
                args.write_json_array(Some(name), &mut text)
            }
            (_, Some(args)) => args.write_json_array(None, &mut text),
            // Only events and acks carry attachments; binary elsewhere is written as a
            // JSON array of bytes so the packet stays decodable.
            (
                Packet::Connect {
                    data: Some(data), ..
                },
                None,
            )
            | (Packet::ConnectError { data, .. }, None) => write_plain_json(data, &mut text),
            _ => {}
        }
        // Written from Rust strings, and from argument bytes checked when they were
        // framed or serialized.
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Encoded { text, attachments }
    }

    /// Encodes the packet into its text message and attachments.
    pub fn encode(&self) -> Encoded {
        self.encode_with_prefix("")
    }
}

/// Writes data outside events and acks: binary parts as arrays of byte numbers.
fn write_plain_json(value: &Value, out: &mut Vec<u8>) {
    fn plain(value: &Value) -> Value {
        match value {
            Value::Binary(bytes) => Value::Array(
                bytes
                    .iter()
                    .map(|&b| Value::Number(u64::from(b).into()))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(plain).collect()),
            Value::Object(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
            }
            other => other.clone(),
        }
    }
    if value.has_binary() {
        plain(value).write_json(out, &mut Vec::new());
    } else {
        value.write_json(out, &mut Vec::new());
    }
}

/// The parts of a packet's text header, before its JSON data is interpreted.
#[derive(Debug)]
pub(crate) struct Header {
    pub kind: PacketType,
    pub attachments: usize,
    pub namespace: String,
    pub id: Option<u64>,
    pub data: Bytes,
}

/// Splits a packet's text into its header fields. `max_attachments` bounds the count a
/// binary packet may announce.
pub(crate) fn parse_header(
    text: Bytes,
    max_attachments: usize,
) -> Result<Header, super::DecodeError> {
    use super::DecodeError;
    let bytes = &text[..];
    let first = *bytes.first().ok_or(DecodeError::Empty)?;
    let kind = PacketType::from_digit(first).ok_or(DecodeError::UnknownType)?;
    let digits_from = |start: usize| {
        start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
    };
    let mut i = 1;
    let mut attachments = 0;
    if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
        let start = i;
        i = digits_from(i);
        if i == start || i >= bytes.len() || bytes[i] != b'-' {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        attachments =
            ascii_number::<usize>(&bytes[start..i]).ok_or(DecodeError::InvalidAttachmentCount)?;
        // A binary packet without attachments is refused, as socket.io-parser does
        // ("Illegal attachments"): no encoder writes one.
        if attachments == 0 {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        if attachments > max_attachments {
            return Err(DecodeError::TooManyAttachments(max_attachments));
        }
        i += 1;
    }
    let mut namespace = "/";
    if bytes.get(i) == Some(&b'/') {
        let start = i;
        i += bytes[i..].iter().take_while(|&&b| b != b',').count();
        namespace =
            std::str::from_utf8(&bytes[start..i]).map_err(|_| DecodeError::InvalidPayload(kind))?;
        if i < bytes.len() {
            i += 1; // the comma
        }
    }
    let mut id = None;
    let start = i;
    i = digits_from(i);
    if i > start {
        id = Some(ascii_number::<u64>(&bytes[start..i]).ok_or(DecodeError::InvalidAckId)?);
    }
    Ok(Header {
        kind,
        attachments,
        namespace: namespace.to_owned(),
        id,
        data: text.slice(i..),
    })
}

/// An ASCII decimal number, `None` when it overflows `T`.
fn ascii_number<T: std::str::FromStr>(digits: &[u8]) -> Option<T> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::json;

    fn text(p: &Packet) -> String {
        p.encode().text
    }

    #[test]
    fn encodes_the_protocol_examples() {
        assert_eq!(
            text(&Packet::Connect {
                namespace: "/".into(),
                data: None
            }),
            "0"
        );
        assert_eq!(
            text(&Packet::Connect {
                namespace: "/admin".into(),
                data: Some(json!({"token": "123"}))
            }),
            r#"0/admin,{"token":"123"}"#
        );
        assert_eq!(
            text(&Packet::Disconnect {
                namespace: "/admin".into()
            }),
            "1/admin,"
        );
        assert_eq!(
            text(&Packet::event("/", "foo", vec![].into(), None)),
            r#"2["foo"]"#
        );
        assert_eq!(
            text(&Packet::event("/admin", "bar", vec![].into(), Some(12))),
            r#"2/admin,12["bar"]"#
        );
        assert_eq!(
            text(&Packet::Ack {
                namespace: "/admin".into(),
                args: vec![json!("bar")].into(),
                id: 13
            }),
            r#"3/admin,13["bar"]"#
        );
        assert_eq!(
            text(&Packet::ConnectError {
                namespace: "/".into(),
                data: json!({"message": "Not authorized"})
            }),
            r#"4{"message":"Not authorized"}"#
        );
    }

    #[test]
    fn binary_event_carries_placeholders_and_attachments() {
        let p = Packet::event(
            "/",
            "baz",
            vec![Value::Binary(Bytes::from_static(&[1, 2, 3, 4]))].into(),
            None,
        );
        let e = p.encode();
        assert_eq!(e.text, r#"51-["baz",{"_placeholder":true,"num":0}]"#);
        assert_eq!(e.attachments, vec![Bytes::from_static(&[1, 2, 3, 4])]);
        let a = Packet::Ack {
            namespace: "/admin".into(),
            args: vec![Value::Binary(Bytes::from_static(&[3]))].into(),
            id: 15,
        };
        assert_eq!(
            a.encode().text,
            r#"61-/admin,15[{"_placeholder":true,"num":0}]"#
        );
    }

    #[test]
    fn binary_outside_events_and_acks_is_plain_json() {
        let p = Packet::Connect {
            namespace: "/".into(),
            data: Some(Value::Object(vec![(
                "key".into(),
                Value::Binary(Bytes::from_static(&[1, 2])),
            )])),
        };
        let e = p.encode();
        assert_eq!(e.text, r#"0{"key":[1,2]}"#);
        assert!(e.attachments.is_empty());
    }

    #[test]
    fn prefix_goes_first() {
        assert_eq!(
            Packet::event("/", "a", vec![json!(1)].into(), None)
                .encode_with_prefix("4")
                .text,
            r#"42["a",1]"#
        );
    }
}
