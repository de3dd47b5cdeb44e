//! JSON text without a JSON library: the one reader and writer both ends use for the
//! protocol's own JSON (the handshake, CONNECT data, where an event's arguments are).
//!
//! Reading checks the syntax strictly (RFC 8259, as `JSON.parse` accepts it) and builds
//! only what is asked for: [`Reader::skip`] checks a value and builds nothing, which is
//! how a packet's arguments are framed; [`Reader::value`] builds a [`Value`]. Nesting is
//! bounded by [`MAX_DEPTH`]. Numbers keep their text (see [`crate::value::Number`]), so
//! nothing here formats or parses a float: the browser build has no float code.

use crate::value::number_from_json;
use crate::Value;
use std::borrow::Cow;

/// The deepest nesting of arrays and objects accepted (serde_json's own limit).
pub const MAX_DEPTH: usize = 128;

/// Why JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not well-formed JSON (or nested deeper than [`MAX_DEPTH`]).
    Syntax,
    /// Well-formed, but not the shape asked for.
    Shape,
}

/// A cursor over JSON text.
pub struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a [u8]) -> Self {
        Reader { text, pos: 0 }
    }

    /// The position of the next byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Skips whitespace and returns the next byte, without taking it.
    pub fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.text.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Takes `b` (after whitespace) if it is next.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    /// Checks that nothing but whitespace is left.
    pub fn end(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(JsonError::Syntax),
        }
    }

    /// After an array's `[` or an element: whether another element follows (taking
    /// the comma), or the array ends (taking the `]`).
    pub fn next_element(&mut self, first: bool) -> Result<bool, JsonError> {
        if self.eat(b']') {
            return Ok(false);
        }
        if !first {
            self.expect(b',')?;
        }
        Ok(true)
    }

    /// After an object's `{` or a member: the next key (taking the colon after it), or
    /// `None` when the object ends (taking the `}`).
    pub fn next_key(&mut self, first: bool) -> Result<Option<Cow<'a, str>>, JsonError> {
        if self.eat(b'}') {
            return Ok(None);
        }
        if !first {
            self.expect(b',')?;
        }
        let key = self.string()?;
        self.expect(b':')?;
        Ok(Some(key))
    }

    /// Checks one value, nested at most `depth` more levels, and builds nothing.
    pub fn skip(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek().ok_or(JsonError::Syntax)? {
            b'[' => {
                let depth = depth.checked_sub(1).ok_or(JsonError::Syntax)?;
                self.pos += 1;
                let mut first = true;
                while self.next_element(first)? {
                    self.skip(depth)?;
                    first = false;
                }
                Ok(())
            }
            b'{' => {
                let depth = depth.checked_sub(1).ok_or(JsonError::Syntax)?;
                self.pos += 1;
                let mut first = true;
                while self.next_raw_key(first)? {
                    self.skip(depth)?;
                    first = false;
                }
                Ok(())
            }
            b'"' => self.raw_string().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => self.literal().map(drop),
        }
    }

    /// Like [`Reader::next_key`] without decoding the key.
    fn next_raw_key(&mut self, first: bool) -> Result<bool, JsonError> {
        if self.eat(b'}') {
            return Ok(false);
        }
        if !first {
            self.expect(b',')?;
        }
        self.raw_string()?;
        self.expect(b':')?;
        Ok(true)
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self) -> Result<Value, JsonError> {
        let rest = &self.text[self.pos..];
        let (value, len) = if rest.starts_with(b"true") {
            (Value::Bool(true), 4)
        } else if rest.starts_with(b"false") {
            (Value::Bool(false), 5)
        } else if rest.starts_with(b"null") {
            (Value::Null, 4)
        } else {
            return Err(JsonError::Syntax);
        };
        self.pos += len;
        Ok(value)
    }

    /// A number's text, checked against the JSON grammar.
    pub fn number(&mut self) -> Result<&'a str, JsonError> {
        self.peek();
        let start = self.pos;
        let digits = |r: &mut Self| {
            let from = r.pos;
            while r.text.get(r.pos).is_some_and(u8::is_ascii_digit) {
                r.pos += 1;
            }
            r.pos - from
        };
        if self.text.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.text.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(JsonError::Syntax),
        }
        if self.text.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(JsonError::Syntax);
            }
        }
        if matches!(self.text.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.text.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(JsonError::Syntax);
            }
        }
        // Only ASCII was taken.
        std::str::from_utf8(&self.text[start..self.pos]).map_err(|_| JsonError::Syntax)
    }

    /// A string's raw text between its quotes, checked (escapes, no control characters,
    /// UTF-8), and whether it has escapes.
    fn raw_string(&mut self) -> Result<(&'a str, bool), JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let b = *self.text.get(self.pos).ok_or(JsonError::Syntax)?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.text.get(self.pos).ok_or(JsonError::Syntax)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            let hex = self.text.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(JsonError::Syntax);
                            }
                            self.pos += 5;
                        }
                        _ => return Err(JsonError::Syntax),
                    }
                }
                0..=0x1f => return Err(JsonError::Syntax),
                _ => {}
            }
        }
        let raw = &self.text[start..self.pos - 1];
        let raw = std::str::from_utf8(raw).map_err(|_| JsonError::Syntax)?;
        Ok((raw, escaped))
    }

    /// A string, decoded. A lone surrogate (`"\ud800"`, which `JSON.parse` keeps) has no
    /// Rust form: it is refused here, though [`Reader::skip`] accepts it.
    pub fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let (raw, escaped) = self.raw_string()?;
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let c = match chars.next() {
                Some('b') => '\u{8}',
                Some('f') => '\u{c}',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('t') => '\t',
                Some('u') => {
                    let high = hex4(&mut chars);
                    if (0xD800..0xDC00).contains(&high) {
                        if chars.next() != Some('\\') || chars.next() != Some('u') {
                            return Err(JsonError::Shape);
                        }
                        let low = hex4(&mut chars);
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(JsonError::Shape);
                        }
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code).ok_or(JsonError::Shape)?
                    } else {
                        char::from_u32(high).ok_or(JsonError::Shape)?
                    }
                }
                Some(c) => c, // '"', '\\' and '/': checked by raw_string
                None => return Err(JsonError::Syntax),
            };
            out.push(c);
        }
        Ok(Cow::Owned(out))
    }

    /// Builds one value, nested at most `depth` more levels.
    pub fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek().ok_or(JsonError::Syntax)? {
            b'[' => {
                let depth = depth.checked_sub(1).ok_or(JsonError::Syntax)?;
                self.pos += 1;
                let mut items = Vec::new();
                while self.next_element(items.is_empty())? {
                    items.push(self.value(depth)?);
                }
                Ok(Value::Array(items))
            }
            b'{' => {
                let depth = depth.checked_sub(1).ok_or(JsonError::Syntax)?;
                self.pos += 1;
                let mut entries: Vec<(String, Value)> = Vec::new();
                while let Some(key) = self.next_key(entries.is_empty())? {
                    let value = self.value(depth)?;
                    // JSON.parse keeps the last of duplicate keys, at the first's place.
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => entries.push((key.into_owned(), value)),
                    }
                }
                Ok(Value::Object(entries))
            }
            b'"' => Ok(Value::String(self.string()?.into_owned())),
            b'-' | b'0'..=b'9' => {
                let number = number_from_json(self.number()?).ok_or(JsonError::Shape)?;
                Ok(Value::Number(number))
            }
            _ => self.literal(),
        }
    }
}

fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    // raw_string checked that four hex digits follow.
    chars
        .by_ref()
        .take(4)
        .fold(0, |n, c| n * 16 + c.to_digit(16).unwrap_or(0))
}

/// Parses one whole JSON text into a [`Value`].
pub fn parse(text: &[u8]) -> Result<Value, JsonError> {
    let mut reader = Reader::new(text);
    let value = reader.value(MAX_DEPTH)?;
    reader.end()?;
    Ok(value)
}

/// Checks one whole JSON text without building anything.
pub fn check(text: &[u8]) -> Result<(), JsonError> {
    let mut reader = Reader::new(text);
    reader.skip(MAX_DEPTH)?;
    reader.end()
}

/// Whether every placeholder in the JSON text `text` (already checked) names one of
/// `count` attachments: an object whose last `_placeholder` member is `true` stands for
/// the attachment its last `num` names (a non-negative integer below `count`); any
/// other value is looked into.
pub fn placeholders_valid(text: &[u8], count: usize) -> bool {
    let mut reader = Reader::new(text);
    walk(&mut reader, count, MAX_DEPTH).is_ok_and(|w| w.valid)
}

/// What [`walk`] learnt of one value.
#[derive(Default)]
struct Walked {
    valid: bool,
    is_true: bool,
    index: Option<u64>,
}

fn walk(r: &mut Reader<'_>, count: usize, depth: usize) -> Result<Walked, JsonError> {
    let plain = Walked {
        valid: true,
        ..Walked::default()
    };
    match r.peek().ok_or(JsonError::Syntax)? {
        b'[' => {
            let depth = depth.checked_sub(1).ok_or(JsonError::Syntax)?;
            r.pos += 1;
            let (mut valid, mut first) = (true, true);
            while r.next_element(first)? {
                valid &= walk(r, count, depth)?.valid;
                first = false;
            }
            Ok(Walked { valid, ..plain })
        }
        b'{' => {
            let depth = depth.checked_sub(1).ok_or(JsonError::Syntax)?;
            r.pos += 1;
            let (mut children, mut placeholder, mut num) = (true, false, None);
            let mut first = true;
            while let Some(key) = r.next_key(first)? {
                let member = walk(r, count, depth)?;
                children &= member.valid;
                match &*key {
                    "_placeholder" => placeholder = member.is_true,
                    "num" => num = member.index,
                    _ => {}
                }
                first = false;
            }
            let valid = if placeholder {
                num.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n < count))
            } else {
                children
            };
            Ok(Walked { valid, ..plain })
        }
        b'"' => r.raw_string().map(|_| plain),
        b'-' | b'0'..=b'9' => {
            let text = r.number()?;
            Ok(Walked {
                index: text.parse().ok(),
                ..plain
            })
        }
        _ => Ok(Walked {
            is_true: r.literal()? == Value::Bool(true),
            ..plain
        }),
    }
}

/// Writes `s` as a JSON string (as `JSON.stringify` escapes it).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

/// Writes an unsigned integer in decimal.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_syntax_strictly() {
        let good = [
            "0",
            "-0",
            "1.5e-3",
            "[]",
            "{}",
            r#"{"a":[1,{"b":null}],"c":"\u00e9\n"}"#,
            " [ 1 , 2 ] ",
            r#""\ud800""#,
            "1e400",
        ];
        for text in good {
            assert_eq!(check(text.as_bytes()), Ok(()), "{text}");
        }
        let bad = [
            "",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12\"",
            "tru",
            "nul",
            "[1]x",
            "'a'",
            "+1",
        ];
        for text in bad {
            assert_eq!(check(text.as_bytes()), Err(JsonError::Syntax), "{text:?}");
        }
        assert_eq!(check(b"\"\xff\""), Err(JsonError::Syntax));
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(check(ok.as_bytes()), Ok(()));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(check(deep.as_bytes()), Err(JsonError::Syntax));
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn decodes_strings() {
        let mut r = Reader::new(br#""a\"b\\c\/\n\u00e9\ud83d\ude00""#);
        assert_eq!(r.string().unwrap(), "a\"b\\c/\n\u{e9}\u{1F600}");
        assert_eq!(
            Reader::new(br#""\ud800""#).string(),
            Err(JsonError::Shape),
            "a lone surrogate has no Rust form"
        );
    }

    #[test]
    fn writes_strings_as_json_stringify() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\\n\u{1}\u{e9}");
        assert_eq!(out, b"\"a\\\"b\\\\\\n\\u0001\xc3\xa9\"");
        let mut out = Vec::new();
        write_u64(&mut out, 1234567890);
        assert_eq!(out, b"1234567890");
    }

    #[test]
    fn builds_values_keeping_the_last_duplicate() {
        let v = parse(br#"{"a":1,"b":[true,null,"x"],"a":-2.5}"#).unwrap();
        let mut out = Vec::new();
        v.write_json(&mut out, &mut Vec::new());
        assert_eq!(out, br#"{"a":-2.5,"b":[true,null,"x"]}"#);
    }

    #[test]
    fn placeholder_rule() {
        let valid = |t: &str, n| placeholders_valid(t.as_bytes(), n);
        assert!(valid(r#"[{"_placeholder":true,"num":0}]"#, 1));
        assert!(!valid(r#"[{"_placeholder":true,"num":1}]"#, 1));
        assert!(!valid(r#"[{"_placeholder":true,"num":-1}]"#, 1));
        assert!(!valid(r#"[{"_placeholder":true,"num":0.0}]"#, 1));
        assert!(!valid(r#"[{"_placeholder":true,"num":"0"}]"#, 1));
        assert!(!valid(r#"[{"_placeholder":true}]"#, 1));
        assert!(valid(r#"[{"_placeholder":false,"num":9}]"#, 0));
        assert!(valid(
            r#"[{"_placeholder":true,"num":9,"_placeholder":1}]"#,
            0
        ));
        assert!(valid(r#"{"a":[{"x":{"_placeholder":true,"num":1}}]}"#, 2));
        assert!(!valid(r#"{"a":[{"x":{"_placeholder":true,"num":2}}]}"#, 2));
    }
}
