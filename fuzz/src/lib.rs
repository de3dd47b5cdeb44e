//! The checks the fuzz targets run on each input. Every decoder must answer `Ok` or
//! `Err` without panicking, and whatever it accepts must encode back to something it
//! decodes to the same thing.

pub mod server;

use bytes::Bytes;
use sockeye_protocol::engine::{self, payload};
use sockeye_protocol::socket::{self, Decoder};
use sockeye_protocol::Value;

/// Engine.IO text frames and polling records.
pub fn engine_packet(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(p) = engine::Packet::decode_text(&text) {
        assert!(!matches!(p, engine::Packet::Binary(_)));
        assert_eq!(engine::Packet::decode_text(&p.encode_text()), Ok(p));
    }
    if let Ok(p) = engine::Packet::decode_record(&text) {
        assert_eq!(engine::Packet::decode_record(&p.encode_text()), Ok(p));
    }
    let p = engine::Packet::decode_binary(Bytes::copy_from_slice(data));
    assert_eq!(
        p.encode_frame(),
        engine::packet::Frame::Binary(Bytes::copy_from_slice(data))
    );
}

/// Engine.IO polling payloads. The first byte picks the packet limit.
pub fn engine_payload(data: &[u8]) {
    let (max, rest) = match data.split_first() {
        Some((&b, rest)) => (usize::from(b % 64) + 1, rest),
        None => (16, data),
    };
    let text = String::from_utf8_lossy(rest);
    if let Ok(packets) = payload::decode(&text, max) {
        assert!(!packets.is_empty() && packets.len() <= max);
        assert_eq!(
            payload::decode(&payload::encode(&packets), max),
            Ok(packets)
        );
    }
}

/// Splits the input into the messages of one Socket.IO conversation: chunks between `0xff`
/// bytes (never part of UTF-8 text); each chunk's first byte says text (even) or binary
/// (odd). The messages go to a decoder with the default attachment bound and to one
/// with no bound at all.
pub fn socket_decoder(data: &[u8]) {
    for mut decoder in [Decoder::default(), Decoder::new(usize::MAX)] {
        for chunk in data.split(|&b| b == 0xff) {
            let (tag, body) = chunk.split_first().unwrap_or((&0, chunk));
            if tag & 1 == 0 {
                feed_text(&mut decoder, &String::from_utf8_lossy(body));
            } else {
                feed_binary(&mut decoder, Bytes::copy_from_slice(body));
            }
        }
    }
}

fn feed_text(decoder: &mut Decoder, text: &str) {
    match decoder.decode_text(Bytes::copy_from_slice(text.as_bytes())) {
        Ok(Some(p)) => {
            assert!(!decoder.is_reconstructing());
            check_socket_packet(&p);
        }
        Ok(None) => assert!(decoder.is_reconstructing()),
        Err(_) => assert!(!decoder.is_reconstructing()),
    }
}

fn feed_binary(decoder: &mut Decoder, data: Bytes) {
    let was_reconstructing = decoder.is_reconstructing();
    match decoder.decode_binary(data) {
        Ok(Some(p)) => {
            assert!(was_reconstructing && !decoder.is_reconstructing());
            check_socket_packet(&p);
        }
        Ok(None) => assert!(decoder.is_reconstructing()),
        Err(_) => assert!(!decoder.is_reconstructing()),
    }
}

/// A decoded packet encodes to messages that a fresh decoder turns into the same packet.
fn check_socket_packet(p: &socket::Packet) {
    let encoded = p.encode();
    let mut decoder = Decoder::new(usize::MAX);
    let mut result = decoder.decode_text(encoded.text.clone());
    for attachment in &encoded.attachments {
        assert_eq!(result, Ok(None));
        result = decoder.decode_binary(attachment.clone());
    }
    assert_eq!(result.as_ref(), Ok(&Some(p.clone())), "{encoded:?}");
    // Arguments the framer accepted are readable as values.
    if let socket::Packet::Event { args, .. } | socket::Packet::Ack { args, .. } = p {
        let _ = args.values();
    }
}

/// socket.io-msgpack-parser messages: whatever decodes encodes back to a message that
/// decodes to the same packet, and its arguments never panic when read.
pub fn socket_msgpack(data: &[u8]) {
    let Ok(p) = socket::msgpack::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let again = socket::msgpack::decode(socket::msgpack::encode(&p).into());
    assert_eq!(again.as_ref(), Ok(&p));
    if let socket::Packet::Event { args, .. } | socket::Packet::Ack { args, .. } = &p {
        let _ = args.values();
        let _ = args.to_parser(socket::Parser::Json);
    }
}

/// JSON into [`Value`], written back by `write_json`: it must parse to the same value
/// and match what serde's `Serialize` writes.
pub fn value_json(data: &[u8]) {
    check_json(data);
    if let std::borrow::Cow::Owned(text) = String::from_utf8_lossy(data) {
        check_json(text.as_bytes());
    }
}

fn check_json(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut out = Vec::new();
    let mut attachments = Vec::new();
    v.write_json(&mut out, &mut attachments);
    assert!(attachments.is_empty());
    let back: Value = serde_json::from_slice(&out).expect("written JSON parses");
    assert_eq!(back, v, "{}", String::from_utf8_lossy(&out));
    assert_eq!(serde_json::to_vec(&v).expect("serializes"), out);
    assert_eq!(Value::from(v.to_json()), v);
}
