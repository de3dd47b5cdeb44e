//! The long-polling payload: packets joined by the record separator `0x1e`.

use super::packet::{DecodeError, Packet};

/// The record separator between packets of a polling payload.
pub const SEPARATOR: char = '\x1e';

/// Encodes packets as one polling payload.
pub fn encode<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> String {
    let mut out = String::new();
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        packet.write_record(&mut out);
    }
    out
}

/// Decodes a polling payload into its packets, refusing more than `max_packets`.
pub fn decode(payload: &str, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    for record in payload.split(SEPARATOR) {
        if packets.len() == max_packets {
            return Err(DecodeError::TooManyPackets(max_packets));
        }
        packets.push(Packet::decode_record(record)?);
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn the_protocol_example_round_trips() {
        let text = "4hello\x1ebAQIDBA==";
        let packets = decode(text, 16).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Message("hello".into()),
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))
            ]
        );
        assert_eq!(encode(&packets), text);
    }

    #[test]
    fn bounds_and_errors() {
        assert_eq!(decode("", 16), Err(DecodeError::Empty));
        assert_eq!(decode("4a\x1e\x1e4b", 16), Err(DecodeError::Empty));
        assert_eq!(
            decode("6\x1e6\x1e6", 2),
            Err(DecodeError::TooManyPackets(2))
        );
    }
}
