//! The few packet shapes the hot loops send and read, without a codec per message, in
//! either parser's format (`--parser`).
//!
//! The load generator has one core to outrun a server on another: encoding a `Value`
//! for every emit and decoding every ack into a `Value` tree cost it about a fifth of
//! its time in the echo scenario. An emit is a template encoded once with its ack id
//! spliced in; an ack or a delivery is scanned for the one number the bench needs.
//!
//! - JSON (socket.io-parser, the default): text messages, `42<id>["name",...]`, encoded
//!   by `sockeye-protocol`; unit tests hold the scans to its codec.
//! - msgpack (socket.io-msgpack-parser): each Socket.IO packet is one binary Engine.IO
//!   message holding a msgpack map `{type, data, nsp, id?}`: CONNECT is type 0, an
//!   event type 2 with `data` = `[name, ...args]`, an ack type 3 with `id`. Emits are
//!   written as socket.io-client writes them (`{type, data, options: {compress: true},
//!   id, nsp}`); unit tests hold them to the bytes notepack.io writes for the client.
//!
//! Nothing else is scanned or spliced: the join and its answer go through the protocol
//! crate's codecs ([`Parser::message`], [`Parser::decoder`]) and its `SocketClient`,
//! and Engine.IO's own packets (open, ping, pong, close) through its `EngineClient`
//! (`crate::engine`); they stay text in both formats.

use crate::frames::Message;
use crate::msgpack::{self, Reader};
use sockeye_protocol::engine::Packet as EnginePacket;
use sockeye_protocol::socket::{self, Decoder, Packet};
use sockeye_protocol::Value;
use std::io::Write;

/// The Socket.IO parser the load generator speaks; the server must use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Parser {
    /// socket.io-parser: text packets, JSON data.
    #[default]
    Json,
    /// socket.io-msgpack-parser: each packet one binary message, a msgpack map.
    Msgpack,
}

/// socket.io-msgpack-parser's packet types.
const EVENT: u64 = 2;
const ACK: u64 = 3;

impl Parser {
    /// The name in result lines.
    pub fn name(self) -> &'static str {
        match self {
            Parser::Json => "json",
            Parser::Msgpack => "msgpack",
        }
    }

    /// Whether packets travel as binary messages.
    pub fn binary(self) -> bool {
        self == Parser::Msgpack
    }

    /// The packet as the Engine.IO message that carries it in this format (the bench
    /// sends no binary attachments), for packets off the hot paths: joins, and the
    /// emits of the `soak` and polling clients.
    pub fn message(self, packet: &Packet) -> EnginePacket {
        match self {
            Parser::Json => EnginePacket::Message(packet.encode().text),
            Parser::Msgpack => EnginePacket::Binary(socket::msgpack::encode(packet).into()),
        }
    }

    /// A decoder for the server's packets in this format.
    pub fn decoder(self) -> Decoder {
        let parser = match self {
            Parser::Json => socket::Parser::Json,
            Parser::Msgpack => socket::Parser::MsgPack,
        };
        Decoder::with_parser(parser, Decoder::DEFAULT_MAX_ATTACHMENTS)
    }

    /// Writes the event `name` of `/` with `args` (and ack id `id`) into `out`
    /// (cleared first), as an Engine.IO message's payload.
    pub fn write_event(self, name: &str, args: Vec<Value>, id: Option<u64>, out: &mut Vec<u8>) {
        out.clear();
        match self {
            Parser::Json => out.extend_from_slice(
                self.message(&Packet::event("/", name, args.into(), id))
                    .encode_text()
                    .as_bytes(),
            ),
            Parser::Msgpack => {
                let (head, tail) = msgpack_event(name, &args, id.is_some());
                out.extend_from_slice(&head);
                if let Some(id) = id {
                    msgpack::write_uint(out, id);
                }
                out.extend_from_slice(&tail);
            }
        }
    }

    /// The ack id of an ack to the main namespace; `None` for anything else.
    pub fn ack_id(self, message: Message<'_>) -> Option<u64> {
        match (self, message) {
            (Parser::Json, Message::Text(text)) => ack_id(text),
            (Parser::Msgpack, Message::Binary(bytes)) => {
                let packet = MsgpackPacket::read(bytes)?;
                (packet.kind == ACK && packet.nsp == Some(b"/"))
                    .then_some(packet.id)
                    .flatten()
            }
            _ => None,
        }
    }

    /// The value of `t` in the first argument of a `name` event of the main namespace;
    /// `None` for anything else.
    pub fn stamp_of(self, message: Message<'_>, name: &str) -> Option<u64> {
        match (self, message) {
            (Parser::Json, Message::Text(text)) => stamp_of(text, name),
            (Parser::Msgpack, Message::Binary(bytes)) => {
                let packet = MsgpackPacket::read(bytes)?;
                if packet.kind != EVENT || packet.nsp != Some(b"/") {
                    return None;
                }
                let mut data = packet.data?;
                if data.array_len()? < 2 || data.str()? != name.as_bytes() {
                    return None;
                }
                for _ in 0..data.map_len()? {
                    if data.str()? == b"t" {
                        return data.uint();
                    }
                    data.skip()?;
                }
                None
            }
            _ => None,
        }
    }
}

/// An event as socket.io-client emits it with socket.io-msgpack-parser: the bytes
/// before the ack id and after it (with no id, the `id` key is left out and `tail`
/// holds everything after the options).
fn msgpack_event(name: &str, args: &[Value], with_id: bool) -> (Vec<u8>, Vec<u8>) {
    let mut head = Vec::with_capacity(96);
    msgpack::write_map_len(&mut head, if with_id { 5 } else { 4 });
    msgpack::write_str(&mut head, "type");
    msgpack::write_uint(&mut head, EVENT);
    msgpack::write_str(&mut head, "data");
    msgpack::write_array_len(&mut head, args.len() + 1);
    msgpack::write_str(&mut head, name);
    for arg in args {
        msgpack::write_value(&mut head, &arg.to_json());
    }
    msgpack::write_str(&mut head, "options");
    msgpack::write_value(&mut head, &serde_json::json!({"compress": true}));
    let mut tail = Vec::with_capacity(8);
    if with_id {
        msgpack::write_str(&mut head, "id");
    }
    msgpack::write_str(&mut tail, "nsp");
    msgpack::write_str(&mut tail, "/");
    (head, tail)
}

/// The fields of a msgpack packet the bench looks at.
struct MsgpackPacket<'a> {
    kind: u64,
    nsp: Option<&'a [u8]>,
    id: Option<u64>,
    /// A reader at the start of `data`.
    data: Option<Reader<'a>>,
}

impl<'a> MsgpackPacket<'a> {
    /// The packet's fields, in whatever order they come; `None` unless `bytes` is a
    /// map with an integer `type`. A nil `id` or `data` counts as absent.
    fn read(bytes: &'a [u8]) -> Option<MsgpackPacket<'a>> {
        let mut reader = Reader::new(bytes);
        let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
        for _ in 0..reader.map_len()? {
            match reader.str()? {
                b"type" => kind = Some(reader.uint()?),
                b"nsp" => nsp = Some(reader.str()?),
                b"id" if reader.nil() => {}
                b"id" => id = Some(reader.uint()?),
                b"data" => {
                    if reader.peek() != Some(0xc0) {
                        data = Some(reader);
                    }
                    reader.skip()?;
                }
                _ => reader.skip()?,
            }
        }
        Some(MsgpackPacket {
            kind: kind?,
            nsp,
            id,
            data,
        })
    }
}

/// An event of the main namespace with fixed arguments, encoded once as an Engine.IO
/// message's payload; [`EventTemplate::write_with_id`] adds an ack id.
pub struct EventTemplate {
    /// The bytes before the ack id: `42` (JSON), the map up to the `id` key (msgpack).
    head: Vec<u8>,
    /// The bytes after it: `["name",...]` (JSON), the namespace (msgpack).
    tail: Vec<u8>,
    parser: Parser,
}

impl EventTemplate {
    /// Encodes `name` with `args` (JSON through the protocol crate).
    pub fn new(parser: Parser, name: &str, args: Vec<Value>) -> EventTemplate {
        let (head, tail) = match parser {
            Parser::Json => {
                let text = parser
                    .message(&Packet::event("/", name, args.into(), None))
                    .encode_text();
                let tail = text
                    .strip_prefix("42")
                    .expect("an event of / encodes as 42[...]")
                    .as_bytes()
                    .to_vec();
                (b"42".to_vec(), tail)
            }
            Parser::Msgpack => msgpack_event(name, &args, true),
        };
        EventTemplate { head, tail, parser }
    }

    /// The message with ack id `id`.
    #[cfg(test)]
    pub fn with_id(&self, id: u64) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_with_id(id, &mut out);
        out
    }

    /// Writes the message with ack id `id` into `out` (cleared first), so a loop can
    /// reuse one buffer.
    pub fn write_with_id(&self, id: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        match self.parser {
            Parser::Json => {
                let _ = write!(out, "{id}");
            }
            Parser::Msgpack => msgpack::write_uint(out, id),
        }
        out.extend_from_slice(&self.tail);
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
    use sockeye_protocol::engine::PacketType as EnginePacketType;
    use sockeye_protocol::json;
    use sockeye_protocol::socket::Decoder;

    #[test]
    fn the_template_is_what_the_protocol_crate_encodes() {
        let args = vec![json!({"data": "x".repeat(52)})];
        let template = EventTemplate::new(Parser::Json, "echo", args.clone());
        let mut written = Vec::new();
        for id in [0, 7, 123_456_789] {
            let expected = Packet::event("/", "echo", args.clone().into(), Some(id))
                .encode_with_prefix(EnginePacketType::Message.bare())
                .text;
            assert_eq!(template.with_id(id), expected.as_bytes());
            Parser::Json.write_event("echo", args.clone(), Some(id), &mut written);
            assert_eq!(written, expected.as_bytes());
        }
        // The join socket.io-client sends to /: `40`, as an Engine.IO message.
        let join = Packet::Connect {
            namespace: "/".into(),
            data: None,
        };
        assert_eq!(Parser::Json.message(&join).encode_text(), "40");
    }

    #[test]
    fn ack_ids_are_read_from_encoded_acks() {
        let ack = Packet::Ack {
            namespace: "/".into(),
            args: vec![json!({"data": "x"})].into(),
            id: 98_765,
        };
        let text = ack
            .encode_with_prefix(EnginePacketType::Message.bare())
            .text;
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
            vec![json!({"t": 1_234_567, "data": "xx"})].into(),
            None,
        );
        let text = event
            .encode_with_prefix(EnginePacketType::Message.bare())
            .text;
        // The scan agrees with a full decode.
        let decoded = Decoder::default()
            .decode_text(text[1..].to_owned())
            .unwrap();
        assert!(matches!(decoded, Some(Packet::Event { .. })));
        assert_eq!(stamp_of(text.as_bytes(), "fanout"), Some(1_234_567));
        assert_eq!(stamp_of(text.as_bytes(), "other"), None);
        assert_eq!(stamp_of(b"43[\"fanout\",{\"t\":1}]", "fanout"), None);
        assert_eq!(stamp_of(b"3", "fanout"), None);
    }

    /// Bytes written by notepack.io 2.2.0 (socket.io-msgpack-parser 3.0.2's encoder),
    /// `Buffer.from(require("notepack.io").encode(packet)).toString("hex")`.
    fn notepack(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `{type: 2, data: ["echo", {data: "x" × 52}], options: {compress: true}, id, nsp:
    /// "/"}`, the packet socket.io-client emits, by notepack.io.
    fn client_echo(id_hex: &str) -> Vec<u8> {
        notepack(&format!(
            "85a47479706502a46461746192a46563686f81a464617461d934{}\
             a76f7074696f6e7381a8636f6d7072657373c3a26964{id_hex}a36e7370a12f",
            "78".repeat(52)
        ))
    }

    #[test]
    fn msgpack_emits_are_what_socket_io_client_sends() {
        let args = vec![json!({"data": "x".repeat(52)})];
        let template = EventTemplate::new(Parser::Msgpack, "echo", args.clone());
        let mut written = Vec::new();
        for (id, id_hex) in [(7, "07"), (300, "cd012c"), (70_000, "ce00011170")] {
            assert_eq!(template.with_id(id), client_echo(id_hex), "{id}");
            Parser::Msgpack.write_event("echo", args.clone(), Some(id), &mut written);
            assert_eq!(written, client_echo(id_hex), "{id}");
        }
        // The CONNECT to / without auth: {type: 0, nsp: "/"} (notepack leaves the
        // undefined `data` out).
        let join = Packet::Connect {
            namespace: "/".into(),
            data: None,
        };
        assert_eq!(
            Parser::Msgpack.message(&join),
            EnginePacket::Binary(notepack("82a47479706500a36e7370a12f").into())
        );
    }

    #[test]
    fn msgpack_packets_round_trip() {
        // An emit with an ack id, read back whole: every field, and nothing after.
        let args = vec![
            json!({"t": 1_234_567, "data": "y".repeat(40)}),
            json!([1, -2, null]),
        ];
        let mut bytes = Vec::new();
        Parser::Msgpack.write_event("broadcast", args.clone(), Some(42), &mut bytes);
        let mut reader = Reader::new(&bytes);
        let decoded = reader.value().unwrap();
        assert!(reader.is_done());
        let mut data = vec![serde_json::json!("broadcast")];
        data.extend(args.iter().map(Value::to_json));
        assert_eq!(
            decoded,
            serde_json::json!({
                "type": 2, "data": data, "options": {"compress": true}, "id": 42, "nsp": "/"
            })
        );
        let packet = MsgpackPacket::read(&bytes).unwrap();
        assert_eq!(
            (packet.kind, packet.nsp, packet.id),
            (EVENT, Some(&b"/"[..]), Some(42))
        );
        // The scans find the stamp of the event, and the id once it is an ack.
        let message = Message::Binary(&bytes);
        assert_eq!(
            Parser::Msgpack.stamp_of(message, "broadcast"),
            Some(1_234_567)
        );
        assert_eq!(Parser::Msgpack.stamp_of(message, "fanout"), None);
        assert_eq!(Parser::Msgpack.ack_id(message), None);
        let mut ack = Vec::new();
        msgpack::write_value(
            &mut ack,
            &serde_json::json!({"type": 3, "data": [], "nsp": "/", "id": 42}),
        );
        assert_eq!(Parser::Msgpack.ack_id(Message::Binary(&ack)), Some(42));
        // Without an id, the key is left out.
        Parser::Msgpack.write_event("fanout", args, None, &mut bytes);
        let packet = MsgpackPacket::read(&bytes).unwrap();
        assert_eq!((packet.kind, packet.id), (EVENT, None));
        assert_eq!(
            Parser::Msgpack.stamp_of(Message::Binary(&bytes), "fanout"),
            Some(1_234_567)
        );
    }

    #[test]
    fn msgpack_answers_are_read_as_a_socket_io_server_writes_them() {
        // socket.io's ack {id, type: 3, data, nsp}, by notepack.io.
        let ack =
            notepack("84a26964ce00011170a47479706503a4646174619181a464617461a178a36e7370a12f");
        assert_eq!(Parser::Msgpack.ack_id(Message::Binary(&ack)), Some(70_000));
        // The same bytes as text, or read by the JSON parser: not an ack.
        assert_eq!(Parser::Msgpack.ack_id(Message::Text(&ack)), None);
        assert_eq!(Parser::Json.ack_id(Message::Binary(&ack)), None);
        // A broadcast {type: 2, data: ["fanout", {t, data}], nsp}.
        let event = notepack(
            "83a47479706502a46461746192a666616e6f757482a174ce0012d687a464617461a27878a36e7370a12f",
        );
        let message = Message::Binary(&event);
        assert_eq!(Parser::Msgpack.stamp_of(message, "fanout"), Some(1_234_567));
        assert_eq!(Parser::Msgpack.stamp_of(message, "fanou"), None);
        assert_eq!(Parser::Msgpack.ack_id(message), None);
        // The CONNECT answer {type: 0, data: {sid}, nsp}, and a CONNECT_ERROR, decoded
        // by the protocol crate.
        let connected = notepack("83a47479706500a46461746181a3736964a3616263a36e7370a12f");
        let decoded = Parser::Msgpack
            .decoder()
            .decode_binary(connected.into())
            .unwrap();
        assert!(
            matches!(&decoded, Some(Packet::Connect { namespace, data: Some(_) }) if namespace == "/"),
            "{decoded:?}"
        );
        let mut refused = Vec::new();
        msgpack::write_value(
            &mut refused,
            &serde_json::json!({"type": 4, "data": {"message": "no"}, "nsp": "/"}),
        );
        let decoded = Parser::Msgpack
            .decoder()
            .decode_binary(refused.into())
            .unwrap();
        assert!(
            matches!(decoded, Some(Packet::ConnectError { .. })),
            "{decoded:?}"
        );
        // Another namespace's packets, pings, and garbage are none of these.
        let mut other = Vec::new();
        msgpack::write_value(
            &mut other,
            &serde_json::json!({"type": 3, "data": [], "nsp": "/a", "id": 1}),
        );
        assert_eq!(Parser::Msgpack.ack_id(Message::Binary(&other)), None);
        assert_eq!(Parser::Msgpack.ack_id(Message::Text(b"2")), None);
        for end in 0..event.len() {
            assert_eq!(
                Parser::Msgpack.stamp_of(Message::Binary(&event[..end]), "fanout"),
                None
            );
        }
    }

    /// The server's own msgpack codec (`sockeye-protocol`'s `msgpack` feature, which
    /// the server turns on) reads what the bench writes, and writes what it reads.
    #[test]
    fn msgpack_packets_round_trip_through_the_protocol_crate() {
        use sockeye_protocol::socket::msgpack;
        let args = vec![json!({"data": "x".repeat(52)})];
        let template = EventTemplate::new(Parser::Msgpack, "echo", args.clone());
        for id in [0, 7, 300, 70_000, 5_000_000_000] {
            let decoded = msgpack::decode(template.with_id(id).into()).unwrap();
            let Packet::Event {
                namespace,
                name,
                args: decoded_args,
                id: decoded_id,
            } = decoded
            else {
                panic!("not an event: {decoded:?}");
            };
            assert_eq!(
                (namespace.as_str(), name.as_str(), decoded_id),
                ("/", "echo", Some(id))
            );
            assert_eq!(decoded_args.values().unwrap(), args);
            // The server's answer: an ack with the same arguments.
            let ack = msgpack::encode(&Packet::Ack {
                namespace: "/".into(),
                args: decoded_args,
                id,
            });
            assert_eq!(Parser::Msgpack.ack_id(Message::Binary(&ack)), Some(id));
        }
        let stamp = vec![json!({"t": 1_234_567, "data": "x".repeat(41)})];
        let mut broadcast = Vec::new();
        Parser::Msgpack.write_event("broadcast", stamp.clone(), Some(3), &mut broadcast);
        let Packet::Event { args, .. } = msgpack::decode(broadcast.into()).unwrap() else {
            panic!("not an event");
        };
        let fanout = msgpack::encode(&Packet::event("/", "fanout", args, None));
        let message = Message::Binary(&fanout);
        assert_eq!(Parser::Msgpack.stamp_of(message, "fanout"), Some(1_234_567));
    }
}
