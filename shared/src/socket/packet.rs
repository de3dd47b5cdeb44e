//! Socket.IO packets and their text encoding.
//!
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, for example
//! `2/chat,12["message","hi"]`. The namespace is written only when it is not `/`.

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
        /// The arguments, binary parts included.
        args: Vec<Value>,
        /// The ack id, when the sender waits for an answer.
        id: Option<u64>,
    },
    /// The answer to the event with the same `id`.
    Ack {
        /// The namespace.
        namespace: String,
        /// The answer's arguments, binary parts included.
        args: Vec<Value>,
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
    pub fn event(namespace: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
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
            Packet::Event { args, .. } if args.iter().any(Value::has_binary) => {
                PacketType::BinaryEvent
            }
            Packet::Event { .. } => PacketType::Event,
            Packet::Ack { args, .. } if args.iter().any(Value::has_binary) => PacketType::BinaryAck,
            Packet::Ack { .. } => PacketType::Ack,
            Packet::ConnectError { .. } => PacketType::ConnectError,
        }
    }

    /// Encodes the packet; `prefix` is written first (the Engine.IO message digit `4`
    /// when the text goes straight into a frame, or nothing).
    pub fn encode_with_prefix(&self, prefix: &str) -> Encoded {
        let mut body = Vec::with_capacity(64);
        let mut attachments = Vec::new();
        let (namespace, id) = match self {
            // Only events and acks carry attachments; binary elsewhere is written as a
            // JSON array of bytes so the packet stays decodable.
            Packet::Connect { namespace, data } => {
                if let Some(data) = data {
                    write_plain_json(data, &mut body);
                }
                (namespace, None)
            }
            Packet::Disconnect { namespace } => (namespace, None),
            Packet::Event {
                namespace,
                name,
                args,
                id,
            } => {
                body.push(b'[');
                Value::String(name.clone()).write_json(&mut body, &mut attachments);
                for arg in args {
                    body.push(b',');
                    arg.write_json(&mut body, &mut attachments);
                }
                body.push(b']');
                (namespace, *id)
            }
            Packet::Ack {
                namespace,
                args,
                id,
            } => {
                write_array(args, &mut body, &mut attachments);
                (namespace, Some(*id))
            }
            Packet::ConnectError { namespace, data } => {
                write_plain_json(data, &mut body);
                (namespace, None)
            }
        };
        // The attachments just written decide between the plain and the binary type.
        let kind = match self {
            Packet::Event { .. } if !attachments.is_empty() => PacketType::BinaryEvent,
            Packet::Event { .. } => PacketType::Event,
            Packet::Ack { .. } if !attachments.is_empty() => PacketType::BinaryAck,
            Packet::Ack { .. } => PacketType::Ack,
            other => other.packet_type(),
        };
        let mut text = String::with_capacity(prefix.len() + body.len() + namespace.len() + 24);
        text.push_str(prefix);
        text.push((b'0' + kind as u8) as char);
        if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
            text.push_str(&attachments.len().to_string());
            text.push('-');
        }
        if namespace != "/" {
            text.push_str(namespace);
            text.push(',');
        }
        if let Some(id) = id {
            text.push_str(&id.to_string());
        }
        // `body` holds JSON written from valid UTF-8 strings only.
        text.push_str(std::str::from_utf8(&body).expect("JSON output is UTF-8"));
        Encoded { text, attachments }
    }

    /// Encodes the packet into its text message and attachments.
    pub fn encode(&self) -> Encoded {
        self.encode_with_prefix("")
    }
}

fn write_plain_json(value: &Value, out: &mut Vec<u8>) {
    if value.has_binary() {
        serde_json::to_writer(out, &value.to_json()).expect("writing JSON into a Vec cannot fail");
    } else {
        value.write_json(out, &mut Vec::new());
    }
}

fn write_array(items: &[Value], out: &mut Vec<u8>, attachments: &mut Vec<Bytes>) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write_json(out, attachments);
    }
    out.push(b']');
}

/// The parts of a packet's text header, before its JSON data is interpreted.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub kind: PacketType,
    pub attachments: usize,
    pub namespace: &'a str,
    pub id: Option<u64>,
    pub data: &'a str,
}

/// Splits a packet's text into its header fields. `max_attachments` bounds the count a
/// binary packet may announce.
pub(crate) fn parse_header(
    text: &str,
    max_attachments: usize,
) -> Result<Header<'_>, super::DecodeError> {
    use super::DecodeError;
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(DecodeError::Empty)?;
    let kind = PacketType::from_digit(first).ok_or(DecodeError::UnknownType)?;
    let mut i = 1;
    let mut attachments = 0;
    if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i >= bytes.len() || bytes[i] != b'-' {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        attachments = text[start..i]
            .parse::<usize>()
            .map_err(|_| DecodeError::InvalidAttachmentCount)?;
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
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        namespace = &text[start..i];
        if i < bytes.len() {
            i += 1; // the comma
        }
    }
    let mut id = None;
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        id = Some(
            text[start..i]
                .parse::<u64>()
                .map_err(|_| DecodeError::InvalidAckId)?,
        );
    }
    Ok(Header {
        kind,
        attachments,
        namespace,
        id,
        data: &text[i..],
    })
}

#[cfg(test)]
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
            text(&Packet::event("/", "foo", vec![], None)),
            r#"2["foo"]"#
        );
        assert_eq!(
            text(&Packet::event("/admin", "bar", vec![], Some(12))),
            r#"2/admin,12["bar"]"#
        );
        assert_eq!(
            text(&Packet::Ack {
                namespace: "/admin".into(),
                args: vec![json!("bar")],
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
            vec![Value::Binary(Bytes::from_static(&[1, 2, 3, 4]))],
            None,
        );
        let e = p.encode();
        assert_eq!(e.text, r#"51-["baz",{"_placeholder":true,"num":0}]"#);
        assert_eq!(e.attachments, vec![Bytes::from_static(&[1, 2, 3, 4])]);
        let a = Packet::Ack {
            namespace: "/admin".into(),
            args: vec![Value::Binary(Bytes::from_static(&[3]))],
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
            Packet::event("/", "a", vec![json!(1)], None)
                .encode_with_prefix("4")
                .text,
            r#"42["a",1]"#
        );
    }
}
