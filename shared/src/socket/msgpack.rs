//! socket.io-msgpack-parser's wire format: each packet is one binary Engine.IO message
//! holding a msgpack map `{type, nsp, data, id}`; binary arguments are msgpack `bin`
//! values in place, so there are no attachments and no binary packet types.
//!
//! Framing reads the map and finds where the data is, without building it, with the
//! same bounds as the JSON parser (depth, and lengths that must fit in the message).
//! Absent fields are left out of the map, as notepack.io 3 leaves out `undefined` ones:
//! the official decoder refuses `nil` where it expects an absent `id` or `data`.
//!
//! socket.io-msgpack-parser 3.0 ships notepack.io 2, which writes `undefined` as the
//! extension `d4 00 00` (also as a packet's absent `data`) and an `ArrayBuffer` or typed
//! array as extension type 0. Both are read as notepack.io reads them: `undefined` is an
//! absent field, or `nil` inside the data; extension type 0 is binary. Arguments holding
//! an extension are rewritten into plain msgpack when they are read; forwarded, they
//! keep their bytes, so a typed array echoed to its sender comes back as one.

use super::args::{ArgsError, ListVisitor, MAX_DEPTH};
use super::decoder::build_with;
use super::packet::PacketType;
use super::{Args, DecodeError, Packet};
use crate::Value;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserializer, Serialize};

/// Decodes one binary message into a packet.
pub fn decode(message: Bytes) -> Result<Packet, DecodeError> {
    let mut r = Reader::new(&message);
    let entries = r.map_len()?.ok_or(DecodeError::UnknownType)?;
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    for _ in 0..entries {
        let key = r.str()?.ok_or(DecodeError::UnknownType)?;
        match key {
            "type" => kind = Some(r.integer()?.ok_or(DecodeError::UnknownType)?),
            "nsp" => {
                let ns = r
                    .str()?
                    .ok_or(DecodeError::InvalidPayload(PacketType::Connect))?;
                nsp = Some(ns.to_owned());
            }
            // notepack.io 2's `undefined`: the field is absent.
            _ if r.undefined() => r.pos += 3,
            "id" => id = Some(r.integer()?.ok_or(DecodeError::InvalidAckId)?),
            "data" => {
                let start = r.pos;
                r.skip(0)?;
                data = Some((start, r.pos));
            }
            // The official decoder ignores other keys.
            _ => r.skip(0)?,
        }
    }
    if r.pos != message.len() {
        return Err(DecodeError::InvalidJson(
            "trailing bytes after the packet".into(),
        ));
    }
    let kind = match kind {
        Some(0) => PacketType::Connect,
        Some(1) => PacketType::Disconnect,
        Some(2) => PacketType::Event,
        Some(3) => PacketType::Ack,
        Some(4) => PacketType::ConnectError,
        _ => return Err(DecodeError::UnknownType),
    };
    let namespace = nsp.ok_or(DecodeError::InvalidPayload(kind))?;
    let id = match id {
        None => None,
        Some(n) => Some(u64::try_from(n).map_err(|_| DecodeError::InvalidAckId)?),
    };
    let data = data.map(|(start, end)| message.slice(start..end));
    if matches!(kind, PacketType::Event | PacketType::Ack) {
        let data = data.ok_or(DecodeError::InvalidPayload(kind))?;
        return build_with(kind, namespace, id, None, |named| frame(kind, data, named));
    }
    let value = match data {
        None => None,
        Some(data) => Some(
            rmp_serde::from_slice::<Value>(&data).map_err(|_| DecodeError::InvalidPayload(kind))?,
        ),
    };
    build_with(kind, namespace, id, value, |_| {
        Err(DecodeError::InvalidPayload(kind))
    })
}

/// Finds the arguments in an event's or ack's data array (after the name when
/// `named`).
fn frame(
    kind: PacketType,
    data: Bytes,
    named: bool,
) -> Result<(Option<String>, Args), DecodeError> {
    let invalid = || DecodeError::InvalidPayload(kind);
    let mut r = Reader::new(&data);
    let len = r.array_len()?.ok_or_else(invalid)?;
    let name = if named {
        if len == 0 {
            return Err(invalid());
        }
        let name = match r.str()? {
            Some(name) => name.to_owned(),
            // socket.io-parser's numeric event names, as text.
            None => r.integer()?.ok_or_else(invalid)?.to_string(),
        };
        Some(name)
    } else {
        None
    };
    let start = r.pos;
    let count = len - usize::from(named);
    Ok((name, Args::from_msgpack_parts(data, named, start, count)))
}

/// `data` with notepack.io's extensions rewritten as plain msgpack: `undefined` as
/// `nil`, extension type 0 (an `ArrayBuffer`) as `bin`, any other extension as
/// `[type, bin]` (what notepack.io decodes it to). Data without extensions is returned
/// as it is.
fn without_extensions(data: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, DecodeError> {
    let maybe_ext = |b: &u8| matches!(b, 0xc7..=0xc9 | 0xd4..=0xd8);
    if !data.iter().any(maybe_ext) {
        return Ok(data.into());
    }
    let mut out = Vec::with_capacity(data.len());
    let mut r = Reader::new(data);
    rewrite(&mut r, &mut out, 0)?;
    if r.pos != data.len() {
        return Err(malformed());
    }
    Ok(out.into())
}

fn rewrite(r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::InvalidJson("nested too deeply".into()));
    }
    let start = r.pos;
    if let Some(len) = r.array_len()? {
        out.extend_from_slice(&r.buf[start..r.pos]);
        return (0..len).try_for_each(|_| rewrite(r, out, depth + 1));
    }
    if let Some(len) = r.map_len()? {
        out.extend_from_slice(&r.buf[start..r.pos]);
        return (0..len * 2).try_for_each(|_| rewrite(r, out, depth + 1));
    }
    if r.undefined() {
        r.pos += 3;
        out.push(0xc0);
        return Ok(());
    }
    let m = r.peek()?;
    let (kind, len) = match m {
        0xd4..=0xd8 => {
            r.pos += 1;
            (r.take(1)?[0] as i8, 1usize << (m - 0xd4))
        }
        0xc7..=0xc9 => {
            r.pos += 1;
            let len = r.uint(1 << (m - 0xc7))?;
            (r.take(1)?[0] as i8, len)
        }
        _ => {
            r.skip(depth)?;
            out.extend_from_slice(&r.buf[start..r.pos]);
            return Ok(());
        }
    };
    let bytes = r.take(len)?;
    if kind != 0 {
        out.push(0x92);
        rmp::encode::write_sint(out, i64::from(kind)).expect("writing into a Vec cannot fail");
    }
    rmp::encode::write_bin(out, bytes).expect("writing into a Vec cannot fail");
    Ok(())
}

/// Encodes a packet into one binary message.
pub fn encode(packet: &Packet) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let (kind, namespace, id) = match packet {
        Packet::Connect { namespace, .. } => (PacketType::Connect, namespace, None),
        Packet::Disconnect { namespace } => (PacketType::Disconnect, namespace, None),
        Packet::Event { namespace, id, .. } => (PacketType::Event, namespace, *id),
        Packet::Ack { namespace, id, .. } => (PacketType::Ack, namespace, Some(*id)),
        Packet::ConnectError { namespace, .. } => (PacketType::ConnectError, namespace, None),
    };
    let data: Option<&Value> = match packet {
        Packet::Connect { data, .. } => data.as_ref(),
        Packet::ConnectError { data, .. } => Some(data),
        _ => None,
    };
    let has_data = data.is_some() || matches!(kind, PacketType::Event | PacketType::Ack);
    write_map_len(
        &mut out,
        2 + usize::from(has_data) + usize::from(id.is_some()),
    );
    write_str(&mut out, "type");
    out.push(kind as u8);
    write_str(&mut out, "nsp");
    write_str(&mut out, namespace);
    if has_data {
        write_str(&mut out, "data");
        match packet {
            Packet::Event { name, args, .. } => {
                let args = msgpack_args(args);
                write_array_len(&mut out, args.count() + 1);
                write_str(&mut out, name);
                out.extend_from_slice(args.elements());
            }
            Packet::Ack { args, .. } => {
                let args = msgpack_args(args);
                write_array_len(&mut out, args.count());
                out.extend_from_slice(args.elements());
            }
            _ => {
                let data = data.expect("has_data");
                rmp_serde::encode::write_named(&mut out, data)
                    .expect("a value always serializes into a Vec");
            }
        }
    }
    if let Some(id) = id {
        write_str(&mut out, "id");
        rmp::encode::write_uint(&mut out, id).expect("writing into a Vec cannot fail");
    }
    out
}

fn msgpack_args(args: &Args) -> Args {
    args.to_parser(super::Parser::MsgPack)
        .unwrap_or_else(|_| Args::empty(super::Parser::MsgPack))
}

/// Serializes an argument list (a tuple or a sequence) as msgpack.
pub(crate) fn serialize_args<T: Serialize + ?Sized>(list: &T) -> Result<Args, ArgsError> {
    let data = rmp_serde::to_vec_named(list).map_err(|e| ArgsError::Serialize(e.to_string()))?;
    // `()` serializes as nil: no arguments.
    if data == [0xc0] {
        return Ok(Args::empty(super::Parser::MsgPack));
    }
    args_of_array(data.into())
}

/// `args` with `arg` after them.
pub(crate) fn appended<T: Serialize + ?Sized>(args: &Args, arg: &T) -> Result<Args, ArgsError> {
    let mut data = Vec::with_capacity(args.elements().len() + 32);
    write_array_len(&mut data, args.count() + 1);
    data.extend_from_slice(args.elements());
    rmp_serde::encode::write_named(&mut data, arg)
        .map_err(|e| ArgsError::Serialize(e.to_string()))?;
    args_of_array(data.into())
}

/// Arguments held in a serialized msgpack array.
pub(crate) fn args_of_array(data: Bytes) -> Result<Args, ArgsError> {
    let mut r = Reader::new(&data);
    let not_a_list = || ArgsError::Serialize("an argument list is a tuple or a sequence".into());
    let count = r
        .array_len()
        .map_err(|_| not_a_list())?
        .ok_or_else(not_a_list)?;
    let start = r.pos;
    Ok(Args::from_msgpack_parts(data, false, start, count))
}

/// Reads a serialized array with `visitor`.
pub(crate) fn deserialize_list<T: DeserializeOwned>(
    data: &[u8],
    visitor: ListVisitor<T>,
) -> Result<T, ArgsError> {
    let data = without_extensions(data).map_err(|e| ArgsError::Mismatch(e.to_string()))?;
    let mut de = rmp_serde::Deserializer::from_read_ref(&data);
    de.deserialize_seq(visitor)
        .map_err(|e| ArgsError::Mismatch(e.to_string()))
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    rmp::encode::write_str(out, s).expect("writing into a Vec cannot fail");
}

fn write_map_len(out: &mut Vec<u8>, len: usize) {
    rmp::encode::write_map_len(out, len as u32).expect("writing into a Vec cannot fail");
}

fn write_array_len(out: &mut Vec<u8>, len: usize) {
    rmp::encode::write_array_len(out, len as u32).expect("writing into a Vec cannot fail");
}

/// A cursor over msgpack bytes that reads markers and skips values, refusing any
/// length that does not fit in what is left and any nesting deeper than
/// [`MAX_DEPTH`].
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed() -> DecodeError {
    DecodeError::InvalidJson("malformed msgpack".into())
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Whether the next value is notepack.io 2's `undefined` (`d4 00 00`).
    fn undefined(&self) -> bool {
        self.buf.get(self.pos..self.pos + 3) == Some(&[0xd4, 0x00, 0x00][..])
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.buf.get(self.pos).copied().ok_or_else(malformed)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(malformed)?;
        let bytes = self.buf.get(self.pos..end).ok_or_else(malformed)?;
        self.pos = end;
        Ok(bytes)
    }

    fn uint(&mut self, size: usize) -> Result<usize, DecodeError> {
        let bytes = self.take(size)?;
        Ok(bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    }

    /// A map's entry count, or `None` (nothing read) if the next value is no map.
    fn map_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let len = match self.peek()? {
            m @ 0x80..=0x8f => {
                self.pos += 1;
                usize::from(m & 0x0f)
            }
            0xde => {
                self.pos += 1;
                self.uint(2)?
            }
            0xdf => {
                self.pos += 1;
                self.uint(4)?
            }
            _ => return Ok(None),
        };
        // Each entry takes at least two bytes.
        if len > (self.buf.len() - self.pos) / 2 {
            return Err(malformed());
        }
        Ok(Some(len))
    }

    /// An array's length, or `None` (nothing read) if the next value is no array.
    fn array_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let len = match self.peek()? {
            m @ 0x90..=0x9f => {
                self.pos += 1;
                usize::from(m & 0x0f)
            }
            0xdc => {
                self.pos += 1;
                self.uint(2)?
            }
            0xdd => {
                self.pos += 1;
                self.uint(4)?
            }
            _ => return Ok(None),
        };
        if len > self.buf.len() - self.pos {
            return Err(malformed());
        }
        Ok(Some(len))
    }

    /// A string, or `None` (nothing read) if the next value is no string.
    fn str(&mut self) -> Result<Option<&'a str>, DecodeError> {
        let len = match self.peek()? {
            m @ 0xa0..=0xbf => {
                self.pos += 1;
                usize::from(m & 0x1f)
            }
            0xd9 => {
                self.pos += 1;
                self.uint(1)?
            }
            0xda => {
                self.pos += 1;
                self.uint(2)?
            }
            0xdb => {
                self.pos += 1;
                self.uint(4)?
            }
            _ => return Ok(None),
        };
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| malformed())
    }

    /// An integer (or a float with an integral value, which JavaScript's
    /// `Number.isInteger` accepts), or `None` (nothing read) if the next value is
    /// neither.
    fn integer(&mut self) -> Result<Option<i128>, DecodeError> {
        let m = self.peek()?;
        let n = match m {
            0x00..=0x7f => {
                self.pos += 1;
                i128::from(m)
            }
            0xe0..=0xff => {
                self.pos += 1;
                i128::from(m as i8)
            }
            0xcc..=0xcf => {
                self.pos += 1;
                self.uint(1 << (m - 0xcc))? as i128
            }
            0xd0..=0xd3 => {
                self.pos += 1;
                let size = 1usize << (m - 0xd0);
                let raw = self.uint(size)? as u64;
                let shift = 64 - 8 * size as u32;
                i128::from(((raw << shift) as i64) >> shift)
            }
            0xca | 0xcb => {
                self.pos += 1;
                let f = if m == 0xca {
                    f64::from(f32::from_bits(self.uint(4)? as u32))
                } else {
                    f64::from_bits(self.uint(8)? as u64)
                };
                if f.fract() != 0.0 || !f.is_finite() || f.abs() > 9_007_199_254_740_991.0 {
                    return Ok(None);
                }
                f as i128
            }
            _ => return Ok(None),
        };
        Ok(Some(n))
    }

    /// Skips one value; `depth` is how deep it sits.
    fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidJson("nested too deeply".into()));
        }
        if let Some(len) = self.array_len()? {
            return (0..len).try_for_each(|_| self.skip(depth + 1));
        }
        if let Some(len) = self.map_len()? {
            return (0..len * 2).try_for_each(|_| self.skip(depth + 1));
        }
        let m = self.peek()?;
        self.pos += 1;
        let len = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xce | 0xd2 | 0xca => 4,
            0xcf | 0xd3 | 0xcb => 8,
            0xc4 | 0xd9 => self.uint(1)?,
            0xc5 | 0xda => self.uint(2)?,
            0xc6 | 0xdb => self.uint(4)?,
            // fixext 1, 2, 4, 8, 16: a type byte and the data.
            0xd4..=0xd8 => 1 + (1 << (m - 0xd4)),
            // ext 8, 16, 32: a length, a type byte and the data.
            0xc7 => self.uint(1)? + 1,
            0xc8 => self.uint(2)? + 1,
            0xc9 => self.uint(4)? + 1,
            // 0xc1 is never used.
            _ => return Err(malformed()),
        };
        self.take(len).map(|_| ())
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::json;
    use crate::socket::Parser;

    fn event(name: &str, args: &[Value], id: Option<u64>) -> Packet {
        Packet::event("/", name, Args::from_values(Parser::MsgPack, args), id)
    }

    #[test]
    fn round_trips_every_packet_type() {
        let packets = [
            Packet::Connect {
                namespace: "/".into(),
                data: None,
            },
            Packet::Connect {
                namespace: "/admin".into(),
                data: Some(json!({"token": "123"})),
            },
            Packet::Disconnect {
                namespace: "/admin".into(),
            },
            event(
                "hello",
                &[
                    json!(1),
                    json!("two"),
                    Value::Binary(Bytes::from_static(b"\x03")),
                ],
                None,
            ),
            event("q", &[], Some(42)),
            Packet::Ack {
                namespace: "/".into(),
                args: Args::from_values(Parser::MsgPack, &[json!({"ok": true})]),
                id: 7,
            },
            Packet::ConnectError {
                namespace: "/".into(),
                data: json!({"message": "no"}),
            },
        ];
        for packet in packets {
            let bytes = encode(&packet);
            let back = decode(bytes.into()).unwrap();
            assert_eq!(back.namespace(), packet.namespace());
            assert_eq!(back.encode().text, packet.encode().text);
        }
    }

    #[test]
    fn writes_what_notepack_writes() {
        // notepack.io's encoding of {type: 2, nsp: "/", data: ["a", 1]}.
        let bytes = encode(&event("a", &[json!(1)], None));
        assert_eq!(
            bytes,
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\x01".to_vec()
        );
        let args = match decode(bytes.into()).unwrap() {
            Packet::Event { args, .. } => args,
            other => panic!("{other:?}"),
        };
        assert_eq!(args.deserialize::<(u8,)>().unwrap(), (1,));
    }

    #[test]
    fn binary_is_inline_and_typed_reads_work() {
        let bytes = encode(&event(
            "file",
            &[
                json!("name"),
                Value::Binary(Bytes::from_static(b"\x00\xff")),
            ],
            None,
        ));
        let Packet::Event { name, args, .. } = decode(bytes.into()).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(name, "file");
        let (n, b): (String, Bytes) = args.deserialize().unwrap();
        assert_eq!((n.as_str(), &b[..]), ("name", &b"\x00\xff"[..]));
        assert_eq!(
            args.values().unwrap()[1],
            Value::Binary(Bytes::from_static(b"\x00\xff"))
        );
        // Forwarded to a JSON peer, the binary part becomes an attachment.
        let json = args.to_parser(Parser::Json).unwrap();
        assert_eq!(json.attachments().len(), 1);
    }

    /// What socket.io-msgpack-parser 3.0.2 (notepack.io 2.2) writes for a CONNECT
    /// without auth, and for `emit("x", undefined, new Uint8Array([1, 2]))`.
    #[test]
    fn reads_notepack_2_extensions() {
        let connect = b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/";
        assert_eq!(
            decode(Bytes::from_static(connect)).unwrap(),
            Packet::Connect {
                namespace: "/".into(),
                data: None
            }
        );
        let event =
            b"\x83\xa4type\x02\xa4data\x93\xa1x\xd4\x00\x00\xc7\x02\x00\x01\x02\xa3nsp\xa1/";
        let Packet::Event { args, .. } = decode(Bytes::from_static(event)).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(
            args.values().unwrap(),
            vec![Value::Null, Value::Binary(Bytes::from_static(b"\x01\x02"))]
        );
        // Forwarded, the arguments keep notepack.io's bytes: the typed array stays one.
        assert_eq!(args.elements(), b"\xd4\x00\x00\xc7\x02\x00\x01\x02");
        // Another extension type reads as notepack.io reads it: [type, bytes].
        let other = b"\x83\xa4type\x02\xa4data\x92\xa1x\xd5\x05\x01\x02\xa3nsp\xa1/";
        let Packet::Event { args, .. } = decode(Bytes::from_static(other)).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(
            args.values().unwrap(),
            vec![Value::Array(vec![
                json!(5),
                Value::Binary(Bytes::from_static(b"\x01\x02"))
            ])]
        );
    }

    #[test]
    fn appends_an_argument() {
        let args = Args::from_values(Parser::MsgPack, &[json!(1)]);
        let more = args.appended("offset").unwrap();
        assert_eq!(more.values().unwrap(), vec![json!(1), json!("offset")]);
        let json = Args::from_values(Parser::Json, &[]).appended("o").unwrap();
        assert_eq!(json.elements(), br#""o""#);
    }

    #[test]
    fn refuses_malformed_messages() {
        let bad: &[&[u8]] = &[
            b"",
            b"\x90",
            b"\x81\xa4type\x09",
            // nil id, nil data
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xc0",
            b"\x84\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xa1a\xa2id\xc0",
            // empty event, no namespace
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x90",
            b"\x82\xa4type\x02\xa4data\x91\xa1a",
            // lengths past the end, reserved marker, trailing bytes
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xdd\xff\xff\xff\xff",
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a\xc1",
            b"\x82\xa4type\x01\xa3nsp\xa1/\x00",
            // a reserved event name
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xa7connect",
        ];
        for message in bad {
            assert!(
                decode(Bytes::copy_from_slice(message)).is_err(),
                "accepted {message:?}"
            );
        }
        let mut deep = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1a".to_vec();
        deep.extend(std::iter::repeat_n(0x91, 200));
        deep.push(0xc0);
        assert!(decode(deep.into()).is_err());
    }
}
