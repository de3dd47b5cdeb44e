//! Decoding Socket.IO packets, with reassembly of binary attachments.
//!
//! A binary packet arrives as a text message announcing `N` attachments followed by
//! `N` binary messages. The [`Decoder`] keeps the partial packet until the last one is
//! in, then puts each attachment back where its placeholder stands. Only binary
//! packets have placeholders: in a plain EVENT or ACK the same object is plain data.

use super::args::{Args, FrameError};
use super::packet::{parse_header, Packet, PacketType, RESERVED_EVENTS};
use super::Parser;
use crate::Value;
use bytes::Bytes;

/// Why a message could not be decoded as (part of) a Socket.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An empty message.
    #[error("empty packet")]
    Empty,
    /// The first character is not a Socket.IO packet type.
    #[error("unknown packet type")]
    UnknownType,
    /// A binary packet's attachment count is missing, zero or malformed.
    #[error("invalid attachment count")]
    InvalidAttachmentCount,
    /// A binary packet announces more attachments than allowed.
    #[error("too many attachments (limit {0})")]
    TooManyAttachments(usize),
    /// The ack id is not a valid number.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The data is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The data is valid JSON but not what this packet type carries.
    #[error("invalid payload for {0:?}")]
    InvalidPayload(PacketType),
    /// An event uses a name reserved by the library.
    #[error("reserved event name {0:?}")]
    ReservedEvent(String),
    /// A placeholder names an attachment that does not exist.
    #[error("placeholder refers to a missing attachment (have {0})")]
    MissingAttachment(usize),
    /// A binary message arrived when no binary packet was waiting for one.
    #[error("unexpected binary message")]
    UnexpectedBinary,
    /// A text message arrived while a binary packet still waited for attachments.
    #[error("text message while reconstructing a binary packet")]
    UnexpectedText,
}

/// Turns Engine.IO messages into Socket.IO packets; one per connection and direction.
#[derive(Debug)]
pub struct Decoder {
    parser: Parser,
    max_attachments: usize,
    /// Boxed: a connection carries its decoder for its whole life, and is rarely in the
    /// middle of a binary packet.
    partial: Option<Box<Partial>>,
}

#[derive(Debug)]
struct Partial {
    packet: Packet,
    expected: usize,
    attachments: Vec<Bytes>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Decoder::DEFAULT_MAX_ATTACHMENTS)
    }
}

impl Decoder {
    /// The default bound on attachments in one packet.
    pub const DEFAULT_MAX_ATTACHMENTS: usize = 64;

    /// A JSON-parser decoder that refuses packets announcing more than
    /// `max_attachments` attachments.
    pub fn new(max_attachments: usize) -> Self {
        Decoder::with_parser(Parser::Json, max_attachments)
    }

    /// A decoder for `parser`'s format.
    pub fn with_parser(parser: Parser, max_attachments: usize) -> Self {
        Decoder {
            parser,
            max_attachments,
            partial: None,
        }
    }

    /// Whether a binary packet is waiting for more attachments.
    pub fn is_reconstructing(&self) -> bool {
        self.partial.is_some()
    }

    /// Feeds a text message (UTF-8). Returns the packet when it is complete, or `None`
    /// when it waits for attachments.
    pub fn decode_text(&mut self, text: impl Into<Bytes>) -> Result<Option<Packet>, DecodeError> {
        if self.partial.is_some() || self.parser != Parser::Json {
            // The msgpack parser sends every packet as one binary message.
            self.partial = None;
            return Err(DecodeError::UnexpectedText);
        }
        let header = parse_header(text.into(), self.max_attachments)?;
        let packet = build(header.kind, header.namespace, header.id, header.data)?;
        if !matches!(header.kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
            // Only a binary packet's placeholders stand for attachments: in a plain
            // EVENT or ACK a `{"_placeholder":true,"num":N}` object is the sender's
            // data, as socket.io-parser (`Decoder.add`) leaves it.
            return Ok(Some(packet));
        }
        self.partial = Some(Box::new(Partial {
            packet,
            expected: header.attachments,
            // The count is the peer's word: reserve no more than the default bound, or
            // a huge `max_attachments` would let one header allocate without limit.
            attachments: Vec::with_capacity(header.attachments.min(Self::DEFAULT_MAX_ATTACHMENTS)),
        }));
        Ok(None)
    }

    /// Feeds a binary message (an attachment). Returns the packet once its last
    /// attachment is in.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        #[cfg(feature = "msgpack")]
        if self.parser == Parser::MsgPack {
            return super::msgpack::decode(data).map(Some);
        }
        let partial = self.partial.as_mut().ok_or(DecodeError::UnexpectedBinary)?;
        partial.attachments.push(data);
        if partial.attachments.len() < partial.expected {
            return Ok(None);
        }
        let Partial {
            mut packet,
            attachments,
            ..
        } = *self.partial.take().expect("checked above");
        reconstruct(&mut packet, attachments)?;
        Ok(Some(packet))
    }
}

fn reconstruct(packet: &mut Packet, attachments: Vec<Bytes>) -> Result<(), DecodeError> {
    match packet {
        Packet::Event { args, .. } | Packet::Ack { args, .. } => args
            .attach(attachments)
            .map_err(DecodeError::MissingAttachment),
        _ => Ok(()),
    }
}

fn parse_json(kind: PacketType, data: &[u8]) -> Result<Option<Value>, DecodeError> {
    if data.is_empty() {
        return Ok(None);
    }
    crate::json::parse(data).map(Some).map_err(|e| match e {
        crate::json::JsonError::Shape => DecodeError::InvalidPayload(kind),
        crate::json::JsonError::Syntax => DecodeError::InvalidJson("not well-formed".into()),
    })
}

fn frame_args(
    kind: PacketType,
    data: Bytes,
    named: bool,
) -> Result<(Option<String>, Args), DecodeError> {
    if data.is_empty() {
        return Err(DecodeError::InvalidPayload(kind));
    }
    Args::frame_json(data, named).map_err(|e| match e {
        FrameError::Shape => DecodeError::InvalidPayload(kind),
        FrameError::Syntax(e) => DecodeError::InvalidJson(e),
    })
}

/// Builds a packet from its parts, checking the data each type carries (shared by the
/// parsers: `frame` frames an event's or ack's data in the parser's format).
pub(crate) fn build_with(
    kind: PacketType,
    namespace: String,
    id: Option<u64>,
    data: Option<Value>,
    frame: impl FnOnce(bool) -> Result<(Option<String>, Args), DecodeError>,
) -> Result<Packet, DecodeError> {
    let invalid = || DecodeError::InvalidPayload(kind);
    Ok(match kind {
        PacketType::Connect => match data {
            None | Some(Value::Object(_)) if id.is_none() => Packet::Connect { namespace, data },
            _ => return Err(invalid()),
        },
        PacketType::Disconnect => match data {
            None if id.is_none() => Packet::Disconnect { namespace },
            _ => return Err(invalid()),
        },
        PacketType::Event | PacketType::BinaryEvent => {
            let (Some(name), args) = frame(true)? else {
                return Err(invalid());
            };
            if RESERVED_EVENTS.contains(&name.as_str()) {
                return Err(DecodeError::ReservedEvent(name));
            }
            Packet::Event {
                namespace,
                name,
                args,
                id,
            }
        }
        PacketType::Ack | PacketType::BinaryAck => {
            let Some(id) = id else {
                return Err(invalid());
            };
            let (_, args) = frame(false)?;
            Packet::Ack {
                namespace,
                args,
                id,
            }
        }
        PacketType::ConnectError => match data {
            Some(data @ (Value::Object(_) | Value::String(_))) if id.is_none() => {
                Packet::ConnectError { namespace, data }
            }
            _ => return Err(invalid()),
        },
    })
}

fn build(
    kind: PacketType,
    namespace: String,
    id: Option<u64>,
    data: Bytes,
) -> Result<Packet, DecodeError> {
    let carries_args = matches!(
        kind,
        PacketType::Event | PacketType::BinaryEvent | PacketType::Ack | PacketType::BinaryAck
    );
    if carries_args {
        return build_with(kind, namespace, id, None, |named| {
            frame_args(kind, data, named)
        });
    }
    let data = parse_json(kind, &data)?;
    build_with(kind, namespace, id, data, |_| {
        Err(DecodeError::InvalidPayload(kind))
    })
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::json;

    fn decode(text: &str) -> Result<Option<Packet>, DecodeError> {
        Decoder::default().decode_text(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn decodes_the_protocol_examples() {
        assert_eq!(
            decode("0").unwrap(),
            Some(Packet::Connect {
                namespace: "/".into(),
                data: None
            })
        );
        assert_eq!(
            decode(r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#).unwrap(),
            Some(Packet::Connect {
                namespace: "/admin".into(),
                data: Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"}))
            })
        );
        assert_eq!(
            decode("1/admin,").unwrap(),
            Some(Packet::Disconnect {
                namespace: "/admin".into()
            })
        );
        assert_eq!(
            decode(r#"2/admin,12["bar"]"#).unwrap(),
            Some(Packet::event("/admin", "bar", vec![].into(), Some(12)))
        );
        assert_eq!(
            decode(r#"3/admin,13["bar"]"#).unwrap(),
            Some(Packet::Ack {
                namespace: "/admin".into(),
                args: vec![json!("bar")].into(),
                id: 13
            })
        );
        assert_eq!(
            decode(r#"4{"message":"Not authorized"}"#).unwrap(),
            Some(Packet::ConnectError {
                namespace: "/".into(),
                data: json!({"message": "Not authorized"})
            })
        );
        assert_eq!(
            decode("1").unwrap(),
            Some(Packet::Disconnect {
                namespace: "/".into()
            })
        );
    }

    #[test]
    fn reassembles_binary_packets() {
        let mut d = Decoder::default();
        assert_eq!(
            d.decode_text(r#"52-/admin,7["baz",{"_placeholder":true,"num":1},{"a":{"_placeholder":true,"num":0}}]"#)
                .unwrap(),
            None
        );
        assert!(d.is_reconstructing());
        assert_eq!(d.decode_binary(Bytes::from_static(b"A")).unwrap(), None);
        let p = d.decode_binary(Bytes::from_static(b"B")).unwrap().unwrap();
        let Packet::Event {
            namespace,
            name,
            args,
            id,
        } = p
        else {
            panic!("not an event: {p:?}")
        };
        assert_eq!(
            (namespace.as_str(), name.as_str(), id),
            ("/admin", "baz", Some(7))
        );
        // A forwarder gets the bytes and attachments as they came; a reader gets each
        // attachment where its placeholder stood.
        assert_eq!(
            args.attachments(),
            &[Bytes::from_static(b"A"), Bytes::from_static(b"B")]
        );
        assert_eq!(
            args.values().unwrap(),
            vec![
                Value::Binary(Bytes::from_static(b"B")),
                Value::Object(vec![("a".into(), Value::Binary(Bytes::from_static(b"A")))]),
            ]
        );
        assert!(!d.is_reconstructing());
    }

    /// socket.io-parser reconstructs only BINARY_EVENT and BINARY_ACK: in a plain EVENT
    /// or ACK a placeholder-shaped object is the sender's data, whatever its `num`.
    #[test]
    fn placeholders_in_plain_packets_are_data() {
        let placeholder = json!({"_placeholder": true, "num": 0});
        assert_eq!(
            decode(r#"2["a",{"_placeholder":true,"num":0}]"#).unwrap(),
            Some(Packet::event(
                "/",
                "a",
                vec![placeholder.clone()].into(),
                None
            ))
        );
        assert_eq!(
            decode(r#"3/admin,4[{"k":[{"_placeholder":true,"num":7}]}]"#).unwrap(),
            Some(Packet::Ack {
                namespace: "/admin".into(),
                args: vec![json!({"k": [{"_placeholder": true, "num": 7}]})].into(),
                id: 4
            })
        );
        // Such a packet encodes back to the same plain packet.
        let event = Packet::event("/", "a", vec![placeholder].into(), Some(1));
        let encoded = event.encode();
        assert_eq!(encoded.text, r#"21["a",{"_placeholder":true,"num":0}]"#);
        assert!(encoded.attachments.is_empty());
        assert_eq!(decode(&encoded.text).unwrap(), Some(event));
    }

    #[test]
    fn rejects_malformed_packets() {
        use DecodeError::*;
        assert_eq!(decode(""), Err(Empty));
        assert_eq!(decode("7"), Err(UnknownType));
        assert_eq!(decode("5-[\"a\"]"), Err(InvalidAttachmentCount));
        assert_eq!(decode("51[\"a\"]"), Err(InvalidAttachmentCount));
        assert_eq!(decode("5999-[\"a\"]"), Err(TooManyAttachments(64)));
        assert_eq!(decode("299999999999999999999[\"a\"]"), Err(InvalidAckId));
        assert!(matches!(decode("2[\"a\""), Err(InvalidJson(_))));
        assert_eq!(decode("2{}"), Err(InvalidPayload(PacketType::Event)));
        assert_eq!(decode("2[]"), Err(InvalidPayload(PacketType::Event)));
        assert_eq!(decode("2[null]"), Err(InvalidPayload(PacketType::Event)));
        assert_eq!(
            decode("2[\"connect\"]"),
            Err(ReservedEvent("connect".into()))
        );
        assert_eq!(decode("3[\"a\"]"), Err(InvalidPayload(PacketType::Ack)));
        assert_eq!(decode("0\"x\""), Err(InvalidPayload(PacketType::Connect)));
        assert_eq!(decode("1{}"), Err(InvalidPayload(PacketType::Disconnect)));
        assert_eq!(decode("4[]"), Err(InvalidPayload(PacketType::ConnectError)));
        // A binary packet announces at least one attachment (socket.io-parser:
        // "Illegal attachments"), and each placeholder names one that came.
        assert_eq!(decode(r#"50-["a"]"#), Err(InvalidAttachmentCount));
        assert_eq!(
            decode(r#"60-1[{"_placeholder":true,"num":0}]"#),
            Err(InvalidAttachmentCount)
        );
        let mut d = Decoder::default();
        d.decode_text(r#"51-["a",{"_placeholder":true,"num":1}]"#)
            .unwrap();
        assert_eq!(d.decode_binary(Bytes::new()), Err(MissingAttachment(1)));
        assert!(!d.is_reconstructing());
        let mut d = Decoder::default();
        assert_eq!(d.decode_binary(Bytes::new()), Err(UnexpectedBinary));
        d.decode_text(r#"51-["a",{"_placeholder":true,"num":0}]"#)
            .unwrap();
        assert_eq!(d.decode_text("2[\"b\"]"), Err(UnexpectedText));
        assert!(!d.is_reconstructing());
    }
}
