//! The few packet shapes the hot loops send and read, without a JSON codec per message.
//!
//! The load generator has one core to outrun a server on another: encoding a `Value`
//! for every emit and decoding every ack into a `Value` tree cost it about a fifth of
//! its time in the echo scenario. An emit is a template encoded once by
//! `sockeye-protocol` with its ack id spliced in; an ack or a delivery is scanned for
//! the one number the bench needs. Unit tests hold both to the protocol crate's codec.

use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use std::fmt::Write;

/// An event of the main namespace with fixed arguments, encoded once as an Engine.IO
/// message (`42["name",...]`); [`EventTemplate::with_id`] adds an ack id.
pub struct EventTemplate {
    /// The message after `42`, where the ack id goes: `["name",...]`.
    tail: String,
}

impl EventTemplate {
    /// Encodes `name` with `args` through the protocol crate.
    pub fn new(name: &str, args: Vec<Value>) -> EventTemplate {
        let text = Packet::event("/", name, args, None)
            .encode_with_prefix("4")
            .text;
        let tail = text
            .strip_prefix("42")
            .expect("an event of / encodes as 42[...]")
            .to_owned();
        EventTemplate { tail }
    }

    /// The message with ack id `id`: `42<id>["name",...]`.
    #[cfg(test)]
    pub fn with_id(&self, id: u64) -> String {
        let mut text = String::new();
        self.write_with_id(id, &mut text);
        text
    }

    /// Writes the message with ack id `id` into `out` (cleared first), so a loop can
    /// reuse one buffer.
    pub fn write_with_id(&self, id: u64, out: &mut String) {
        out.clear();
        out.push_str("42");
        let _ = write!(out, "{id}");
        out.push_str(&self.tail);
    }
}

/// The ack id of an ack to the main namespace (`43<id>[...]`); `None` for anything else.
pub fn ack_id(text: &[u8]) -> Option<u64> {
    leading_number(text.strip_prefix(b"43")?)
}

/// The value of `"t":` in the first argument of a `name` event of the main namespace
/// (`42["name",{"t":123,...}]`); `None` for anything else.
pub fn stamp_of(text: &[u8], name: &str) -> Option<u64> {
    let rest = text.strip_prefix(b"42[\"")?.strip_prefix(name.as_bytes())?;
    let rest = rest.strip_prefix(b"\",")?;
    let at = rest.windows(4).position(|w| w == b"\"t\":")?;
    leading_number(&rest[at + 4..])
}

/// The decimal number at the start of `text`, if it is followed by something.
fn leading_number(text: &[u8]) -> Option<u64> {
    let end = text.iter().position(|b| !b.is_ascii_digit())?;
    if end == 0 || end > 19 {
        return None;
    }
    Some(
        text[..end]
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_protocol::json;
    use sockeye_protocol::socket::Decoder;

    #[test]
    fn the_template_is_what_the_protocol_crate_encodes() {
        let args = vec![json!({"data": "x".repeat(52)})];
        let template = EventTemplate::new("echo", args.clone());
        for id in [0, 7, 123_456_789] {
            let expected = Packet::event("/", "echo", args.clone(), Some(id))
                .encode_with_prefix("4")
                .text;
            assert_eq!(template.with_id(id), expected);
        }
    }

    #[test]
    fn ack_ids_are_read_from_encoded_acks() {
        let ack = Packet::Ack {
            namespace: "/".into(),
            args: vec![json!({"data": "x"})],
            id: 98_765,
        };
        let text = ack.encode_with_prefix("4").text;
        assert_eq!(ack_id(text.as_bytes()), Some(98_765));
        // What else can arrive: an event, a ping, a truncated ack.
        assert_eq!(ack_id(b"42[\"echo\"]"), None);
        assert_eq!(ack_id(b"2"), None);
        assert_eq!(ack_id(b"4312"), None);
    }

    #[test]
    fn stamps_are_read_from_encoded_events() {
        let event = Packet::event(
            "/",
            "fanout",
            vec![json!({"t": 1_234_567, "data": "xx"})],
            None,
        );
        let text = event.encode_with_prefix("4").text;
        // The scan agrees with a full decode.
        let decoded = Decoder::default().decode_text(&text[1..]).unwrap();
        assert!(matches!(decoded, Some(Packet::Event { .. })));
        assert_eq!(stamp_of(text.as_bytes(), "fanout"), Some(1_234_567));
        assert_eq!(stamp_of(text.as_bytes(), "other"), None);
        assert_eq!(stamp_of(b"43[\"fanout\",{\"t\":1}]", "fanout"), None);
        assert_eq!(stamp_of(b"3", "fanout"), None);
    }
}
