//! Engine.IO packets and their encoding in WebSocket frames and polling records.
//!
//! A text packet is one type digit followed by its data (`4hello`). A binary message
//! has no type digit: over WebSocket it is a binary frame as it is, and inside a
//! polling payload it is `b` followed by its base64.

use super::OpenPacket;
use base64::Engine as _;
use bytes::Bytes;

/// The kind of an Engine.IO packet, with its wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `0`: sent by the server to open the connection.
    Open,
    /// `1`: asks the other side to close.
    Close,
    /// `2`: heartbeat request (also the upgrade probe).
    Ping,
    /// `3`: heartbeat answer.
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: completes a transport upgrade.
    Upgrade,
    /// `6`: does nothing; flushes a pending long-poll during an upgrade.
    Noop,
}

impl PacketType {
    /// The wire digit.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// The whole text of a packet of this type without data (`"2"` is a ping, `"6"` a
    /// noop): static, so sending one costs no allocation.
    pub fn bare(self) -> &'static str {
        match self {
            PacketType::Open => "0",
            PacketType::Close => "1",
            PacketType::Ping => "2",
            PacketType::Pong => "3",
            PacketType::Message => "4",
            PacketType::Upgrade => "5",
            PacketType::Noop => "6",
        }
    }

    /// The type of a text packet, read from its first byte, if that is a type digit.
    pub fn of_text(text: &[u8]) -> Option<Self> {
        text.first().copied().and_then(Self::from_digit)
    }

    fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// The handshake, first packet from the server.
    Open(OpenPacket),
    /// Close the connection.
    Close,
    /// A ping, with optional data (`probe` during an upgrade).
    Ping(String),
    /// A pong, echoing the ping's data.
    Pong(String),
    /// A text message.
    Message(String),
    /// A binary message.
    Binary(Bytes),
    /// Upgrade completed.
    Upgrade,
    /// No operation.
    Noop,
}

/// Why bytes could not be decoded as an Engine.IO packet or payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Nothing at all was received where a packet was expected.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// The open packet's data is not a valid handshake.
    #[error("invalid open packet: {0}")]
    InvalidOpenPacket(String),
    /// A `b` record of a polling payload is not valid base64.
    #[error("invalid base64 in binary record")]
    InvalidBase64,
    /// A payload holds more packets than allowed.
    #[error("too many packets in payload (limit {0})")]
    TooManyPackets(usize),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Binary(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// The packet's whole text when it is static (a packet without data), so a driver
    /// can send it without encoding or allocating.
    pub fn bare_text(&self) -> Option<&'static str> {
        match self {
            Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) if !d.is_empty() => None,
            Packet::Open(_) | Packet::Binary(_) => None,
            other => Some(other.packet_type().bare()),
        }
    }

    /// Decodes a WebSocket text frame.
    pub fn decode_text(text: &str) -> Result<Packet, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
        let kind = PacketType::from_digit(first)
            .ok_or_else(|| DecodeError::UnknownType(text.chars().next().unwrap_or('?')))?;
        // The type is one ASCII byte, so index 1 is a char boundary.
        let data = &text[1..];
        Ok(match kind {
            PacketType::Open => Packet::Open(
                OpenPacket::from_json(data)
                    .map_err(|_| DecodeError::InvalidOpenPacket("not an open packet".into()))?,
            ),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(data.to_owned()),
            PacketType::Pong => Packet::Pong(data.to_owned()),
            PacketType::Message => Packet::Message(data.to_owned()),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }

    /// Decodes a WebSocket binary frame: always a binary message.
    pub fn decode_binary(data: Bytes) -> Packet {
        Packet::Binary(data)
    }

    /// Decodes one record of a polling payload (a text packet, or `b` + base64).
    pub fn decode_record(record: &str) -> Result<Packet, DecodeError> {
        match record.strip_prefix('b') {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(|data| Packet::Binary(data.into()))
                .map_err(|_| DecodeError::InvalidBase64),
            None => Packet::decode_text(record),
        }
    }

    /// Encodes a text packet as a WebSocket text frame. A binary message is encoded as
    /// a polling record here; use [`Packet::encode_frame`] to keep frames apart.
    pub fn encode_text(&self) -> String {
        let mut out = String::new();
        self.write_record(&mut out);
        out
    }

    /// Encodes the packet for WebSocket: text frames for text packets, a binary frame
    /// for a binary message.
    pub fn encode_frame(&self) -> Frame {
        match self {
            Packet::Binary(data) => Frame::Binary(data.clone()),
            other => Frame::Text(other.encode_text()),
        }
    }

    /// Appends the packet as a polling record (binary as `b` + base64).
    pub fn write_record(&self, out: &mut String) {
        out.push(self.packet_type().digit() as char);
        match self {
            Packet::Open(h) => {
                let mut json = Vec::new();
                h.write_json(&mut json);
                out.push_str(std::str::from_utf8(&json).expect("JSON text is UTF-8"));
            }
            Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => out.push_str(d),
            Packet::Binary(data) => {
                out.pop();
                out.push('b');
                base64::engine::general_purpose::STANDARD.encode_string(data, out);
            }
            Packet::Close | Packet::Upgrade | Packet::Noop => {}
        }
    }
}

/// A WebSocket frame's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_protocol_examples() {
        assert_eq!(
            Packet::decode_text("4hello").unwrap(),
            Packet::Message("hello".into())
        );
        assert_eq!(
            Packet::decode_text("2probe").unwrap(),
            Packet::Ping("probe".into())
        );
        assert_eq!(
            Packet::decode_text("3probe").unwrap(),
            Packet::Pong("probe".into())
        );
        assert_eq!(
            Packet::decode_text("2").unwrap(),
            Packet::Ping(String::new())
        );
        assert_eq!(Packet::decode_text("1").unwrap(), Packet::Close);
        assert_eq!(Packet::decode_text("5").unwrap(), Packet::Upgrade);
        assert_eq!(Packet::decode_text("6").unwrap(), Packet::Noop);
        let open = Packet::decode_text(
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        )
        .unwrap();
        match open {
            Packet::Open(h) => assert_eq!(h.sid, "lv_VI97HAXpY6yYWAAAC"),
            other => panic!("not open: {other:?}"),
        }
        assert_eq!(
            Packet::decode_record("bAQIDBA==").unwrap(),
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Packet::decode_text(""), Err(DecodeError::Empty));
        assert_eq!(Packet::decode_text("9"), Err(DecodeError::UnknownType('9')));
        assert_eq!(Packet::decode_text("é"), Err(DecodeError::UnknownType('é')));
        assert!(matches!(
            Packet::decode_text("0{"),
            Err(DecodeError::InvalidOpenPacket(_))
        ));
        assert_eq!(
            Packet::decode_record("b!!"),
            Err(DecodeError::InvalidBase64)
        );
    }

    #[test]
    fn encodes_records_and_frames() {
        assert_eq!(Packet::Message("hello".into()).encode_text(), "4hello");
        assert_eq!(Packet::Ping("probe".into()).encode_text(), "2probe");
        assert_eq!(Packet::Noop.encode_text(), "6");
        for packet in [Packet::Close, Packet::Ping(String::new()), Packet::Noop] {
            assert_eq!(packet.bare_text(), Some(&*packet.encode_text()));
        }
        assert_eq!(Packet::Ping("probe".into()).bare_text(), None);
        assert_eq!(PacketType::of_text(b"42[]"), Some(PacketType::Message));
        assert_eq!(PacketType::of_text(b"x"), None);
        assert_eq!(
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])).encode_text(),
            "bAQIDBA=="
        );
        assert_eq!(
            Packet::Binary(Bytes::from_static(&[1])).encode_frame(),
            Frame::Binary(Bytes::from_static(&[1]))
        );
    }
}
