//! Just enough MessagePack for socket.io-msgpack-parser's packets, by hand: a writer
//! for JSON values (what the load generator sends) and a reader that walks an encoded
//! value without building a tree (what it scans for an ack id or a time stamp).
//!
//! The writer picks the smallest encoding of each value, as notepack.io (the encoder of
//! socket.io-msgpack-parser) does; the unit tests in `wire` hold the two to the bytes
//! notepack.io 2.2 writes.

use serde_json::Value;

/// Writes `value` in its smallest encoding.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                write_uint(out, u);
            } else if let Some(i) = n.as_i64() {
                write_int(out, i);
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            write_array_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Object(map) => {
            write_map_len(out, map.len());
            for (key, item) in map {
                write_str(out, key);
                write_value(out, item);
            }
        }
    }
}

/// An unsigned integer: positive fixint, uint 8, 16, 32 or 64.
pub fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= u64::from(u8::MAX) {
        out.extend_from_slice(&[0xcc, n as u8]);
    } else if n <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A signed integer: as [`write_uint`] when not negative, else negative fixint or
/// int 8, 16, 32, 64.
fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        write_uint(out, n as u64);
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string: fixstr, str 8, 16 or 32.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= usize::from(u8::MAX) {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// An array header: fixarray, array 16 or 32.
pub fn write_array_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// A map header: fixmap, map 16 or 32.
pub fn write_map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Nesting deeper than this is refused by [`Reader::skip`] (the bench's own packets
/// nest three deep).
const MAX_DEPTH: usize = 32;

/// A cursor over encoded values. Every read returns `None` on bytes it does not
/// expect (a different type, a truncated value), after which the cursor is spent.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// The marker of the next value, without reading it.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Whether every byte has been read.
    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let taken = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(taken)
    }

    /// A big-endian unsigned number of `n` bytes (at most 8).
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        )
    }

    /// Reads a nil if one is next; whether it did.
    pub fn nil(&mut self) -> bool {
        let is_nil = self.peek() == Some(0xc0);
        self.at += usize::from(is_nil);
        is_nil
    }

    /// A map header: how many key-value pairs follow.
    pub fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => Some(self.be(2)? as usize),
            0xdf => Some(self.be(4)? as usize),
            _ => None,
        }
    }

    /// An array header: how many elements follow.
    pub fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Some(usize::from(m & 0x0f)),
            0xdc => Some(self.be(2)? as usize),
            0xdd => Some(self.be(4)? as usize),
            _ => None,
        }
    }

    /// A string's bytes.
    pub fn str(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        self.take(n)
    }

    /// A non-negative integer in any integer encoding (an encoder may pick a wider one
    /// than needed, or a signed one), or a float holding one.
    pub fn uint(&mut self) -> Option<u64> {
        let signed = |n: i64| u64::try_from(n).ok();
        let integral = |f: f64| {
            (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0)
                .then_some(f as u64)
        };
        match self.byte()? {
            m @ 0x00..=0x7f => Some(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            0xd0 => signed(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => signed(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => signed(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => signed(self.be(8)? as i64),
            0xca => integral(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => integral(f64::from_bits(self.be(8)?)),
            _ => None,
        }
    }

    /// Steps over one value, whatever it is.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (items, bytes) = match self.byte()? {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            m @ 0x80..=0x8f => (2 * usize::from(m & 0x0f), 0),
            m @ 0x90..=0x9f => (usize::from(m & 0x0f), 0),
            m @ 0xa0..=0xbf => (0, usize::from(m & 0x1f)),
            0xc4 | 0xd9 => (0, self.be(1)? as usize),
            0xc5 | 0xda => (0, self.be(2)? as usize),
            0xc6 | 0xdb => (0, self.be(4)? as usize),
            // ext: length, then a type byte and the data
            0xc7 => (0, self.be(1)? as usize + 1),
            0xc8 => (0, self.be(2)? as usize + 1),
            0xc9 => (0, self.be(4)? as usize + 1),
            0xcc | 0xd0 => (0, 1),
            0xcd | 0xd1 => (0, 2),
            0xca | 0xce | 0xd2 => (0, 4),
            0xcb | 0xcf | 0xd3 => (0, 8),
            // fixext 1, 2, 4, 8, 16: a type byte and the data
            0xd4 => (0, 2),
            0xd5 => (0, 3),
            0xd6 => (0, 5),
            0xd7 => (0, 9),
            0xd8 => (0, 17),
            0xdc => (self.be(2)? as usize, 0),
            0xdd => (self.be(4)? as usize, 0),
            0xde => (2 * self.be(2)? as usize, 0),
            0xdf => (2 * self.be(4)? as usize, 0),
            // 0xc1: never used
            _ => return None,
        };
        self.take(bytes)?;
        for _ in 0..items {
            self.skip_at(depth + 1)?;
        }
        Some(())
    }

    /// One value as JSON (binary and extension types are not expected).
    #[cfg(test)]
    pub fn value(&mut self) -> Option<Value> {
        let marker = self.peek()?;
        Some(match marker {
            0xc0 => {
                self.at += 1;
                Value::Null
            }
            0xc2 | 0xc3 => {
                self.at += 1;
                Value::Bool(marker == 0xc3)
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = self.map_len()?;
                let mut map = serde_json::Map::new();
                for _ in 0..n {
                    let key = String::from_utf8(self.str()?.to_vec()).ok()?;
                    map.insert(key, self.value()?);
                }
                Value::Object(map)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = self.array_len()?;
                Value::Array((0..n).map(|_| self.value()).collect::<Option<_>>()?)
            }
            0xa0..=0xbf | 0xd9..=0xdb => {
                Value::String(String::from_utf8(self.str()?.to_vec()).ok()?)
            }
            0xe0..=0xff => {
                self.at += 1;
                Value::from(i64::from(marker as i8))
            }
            0xcb => {
                self.at += 1;
                Value::from(f64::from_bits(self.be(8)?))
            }
            0xd0..=0xd3 => {
                let width = 1usize << (marker - 0xd0);
                self.at += 1;
                let raw = self.be(width)?;
                let shift = 64 - 8 * width as u32;
                Value::from(((raw << shift) as i64) >> shift)
            }
            _ => Value::from(self.uint()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encoded(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write_value(&mut out, value);
        out
    }

    #[test]
    fn integers_take_their_smallest_encoding_and_read_back() {
        let cases: [(u64, &[u8]); 6] = [
            (5, &[0x05]),
            (200, &[0xcc, 200]),
            (300, &[0xcd, 0x01, 0x2c]),
            (70_000, &[0xce, 0x00, 0x01, 0x11, 0x70]),
            (5_000_000_000, &[0xcf, 0, 0, 0, 1, 0x2a, 0x05, 0xf2, 0x00]),
            (127, &[0x7f]),
        ];
        for (n, bytes) in cases {
            let mut out = Vec::new();
            write_uint(&mut out, n);
            assert_eq!(out, bytes, "{n}");
            assert_eq!(Reader::new(&out).uint(), Some(n));
        }
        // Wider or signed encodings of the same number, and integral floats.
        assert_eq!(Reader::new(&[0xd3, 0, 0, 0, 0, 0, 0, 0, 9]).uint(), Some(9));
        assert_eq!(Reader::new(&[0xd0, 0xff]).uint(), None);
        let mut float = vec![0xcb];
        float.extend_from_slice(&1234.0f64.to_be_bytes());
        assert_eq!(Reader::new(&float).uint(), Some(1234));
        assert_eq!(encoded(&json!(-1)), [0xff]);
        assert_eq!(encoded(&json!(-200)), [0xd1, 0xff, 0x38]);
    }

    #[test]
    fn values_round_trip_and_skip() {
        let value = json!({
            "a": [1, -2, 300, null, true, false, 1.5, "x".repeat(40)],
            "nested": {"deep": [[[]], {}], "s": "y".repeat(300)},
            "many": (0..20).collect::<Vec<_>>(),
        });
        let bytes = encoded(&value);
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.value(), Some(value));
        assert!(reader.is_done());
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.skip(), Some(()));
        assert!(reader.is_done());
        // Truncated anywhere: never a panic, never a whole value.
        for end in 0..bytes.len() {
            assert_eq!(Reader::new(&bytes[..end]).skip(), None, "{end}");
        }
    }
}
