//! The arguments of an event or an ack, kept as the bytes they travel as.
//!
//! A packet's arguments are framed, not parsed: decoding finds where they start and
//! end in the packet and checks that they are well formed, and nothing more. Whoever
//! wants them asks for them as their own serde types ([`Args::deserialize`]) or as
//! [`Value`]s ([`Args::values`]), and the bytes are parsed then, once. Arguments that
//! are only forwarded (an echo, a broadcast to a room) go out as the same bytes, with
//! the same attachments.
//!
//! With the default parser the bytes are a JSON array, and binary parts travel as
//! attachments that `{"_placeholder":true,"num":N}` objects stand for. With the
//! msgpack parser (feature `msgpack`) they are a msgpack array with binary inline.

use crate::json::{self, JsonError, Reader};
#[cfg(feature = "serde")]
use crate::value::ValueError;
use crate::Value;
use bytes::Bytes;
#[cfg(feature = "serde")]
use serde::de::{self, DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
#[cfg(feature = "serde")]
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
#[cfg(feature = "serde")]
use std::marker::PhantomData;

/// The wire format of Socket.IO packets: socket.io's `parser` option. Both ends of a
/// connection must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// socket.io-parser: text packets, JSON data, binary parts as attachments.
    #[default]
    Json,
    /// socket.io-msgpack-parser: each packet one binary message, msgpack data, binary
    /// inline.
    #[cfg(feature = "msgpack")]
    MsgPack,
}

/// Why arguments could not be serialized, or not read as the type asked for.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// The arguments are not what the type expects (count, or the type of one).
    #[error("arguments do not match: {0}")]
    Mismatch(String),
    /// The value could not be serialized in the parser's format.
    #[error("arguments not serializable: {0}")]
    Serialize(String),
}

#[cfg(feature = "serde")]
impl From<ValueError> for ArgsError {
    fn from(e: ValueError) -> Self {
        ArgsError::Mismatch(e.to_string())
    }
}

/// The deepest nesting accepted in a packet's data, as serde_json's own limit when it
/// builds a tree: input nested deeper is refused when the packet is framed.
pub use crate::json::MAX_DEPTH;

/// The arguments of one event or ack, serialized.
///
/// Cheap to clone: the bytes are shared. Two `Args` are equal when they hold the same
/// bytes in the same format, however they were framed. Received arguments share the
/// buffer of the message they came in: to keep arguments for long, keep what you read
/// from them (or a copy) rather than the `Args`, so that the buffer can go.
#[derive(Clone)]
pub struct Args {
    parser: Parser,
    /// One complete serialized array; the event name is its first element when
    /// `named`.
    data: Bytes,
    named: bool,
    /// Where the arguments are in `data`: JSON, the elements between the name's comma
    /// (or `[`) and the closing `]`; msgpack, the elements after the name.
    start: usize,
    end: usize,
    /// How many arguments (the msgpack array header needs it).
    count: usize,
    /// The binary parts of a JSON packet, in placeholder order.
    attachments: Vec<Bytes>,
}

impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        self.parser == other.parser
            && self.elements() == other.elements()
            && self.attachments == other.attachments
    }
}

/// Values as JSON-parser arguments (the default parser's).
impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args::from_values(Parser::Json, &values)
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Args");
        d.field("parser", &self.parser);
        match self.parser {
            Parser::Json => d.field(
                "json",
                &String::from_utf8_lossy(&self.data[self.start..self.end]),
            ),
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => d.field("msgpack", &&self.data[self.start..self.end]),
        };
        d.field("attachments", &self.attachments.len()).finish()
    }
}

impl Args {
    /// No arguments.
    pub fn empty(parser: Parser) -> Args {
        match parser {
            Parser::Json => Args::from_json_array(Bytes::from_static(b"[]"), 1, Vec::new()),
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => crate::socket::msgpack::args_of_array(Bytes::from_static(&[0x90]))
                .expect("an empty msgpack array"),
        }
    }

    /// Serializes an argument list: `list` is a tuple (or a sequence) whose elements are
    /// the arguments; `()` is no argument. Binary parts (`Bytes`, `Value::Binary`, any
    /// `serialize_bytes`) become attachments with the JSON parser.
    #[cfg(feature = "serde")]
    pub fn serialize<T: Serialize + ?Sized>(parser: Parser, list: &T) -> Result<Args, ArgsError> {
        match parser {
            Parser::Json => {
                let mut data = Vec::with_capacity(64);
                let mut attachments = Vec::new();
                write_json(&mut data, &mut attachments, list)?;
                match data.first() {
                    Some(b'[') => {}
                    // `()` serializes as `null`: no arguments.
                    _ if data == b"null" => return Ok(Args::empty(parser)),
                    _ => {
                        return Err(ArgsError::Serialize(
                            "an argument list is a tuple or a sequence".into(),
                        ))
                    }
                }
                let end = data.len() - 1;
                Ok(Args::from_json_array(data.into(), end, attachments))
            }
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => crate::socket::msgpack::serialize_args(list),
        }
    }

    /// Arguments serialized elsewhere (the browser's `JSON.stringify`): `json` is one
    /// JSON array of the arguments, binary parts as placeholders numbered in the order
    /// of `attachments`. Checked as a received packet's arguments are.
    pub fn from_json(json: Bytes, attachments: Vec<Bytes>) -> Result<Args, ArgsError> {
        let (_, mut args) = Args::frame_json(json, false).map_err(|e| match e {
            FrameError::Shape => ArgsError::Serialize("not a JSON array".into()),
            FrameError::Syntax(e) => ArgsError::Serialize(e),
        })?;
        if !attachments.is_empty() {
            args.attach(attachments).map_err(|have| {
                ArgsError::Serialize(format!("placeholder without attachment (have {have})"))
            })?;
        }
        Ok(args)
    }

    /// The arguments of a list of values.
    pub fn from_values(parser: Parser, values: &[Value]) -> Args {
        match parser {
            Parser::Json => {
                let mut data = Vec::with_capacity(64);
                let mut attachments = Vec::new();
                Value::Array(values.to_vec()).write_json(&mut data, &mut attachments);
                let end = data.len() - 1;
                Args::from_json_array(data.into(), end, attachments)
            }
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => Args::serialize(parser, values).expect("a value always serializes"),
        }
    }

    /// A JSON array `data` (`[` at 0, `]` at `end`) that holds the arguments only.
    fn from_json_array(data: Bytes, end: usize, attachments: Vec<Bytes>) -> Args {
        Args {
            parser: Parser::Json,
            data,
            named: false,
            start: 1,
            end,
            count: 0,
            attachments,
        }
    }

    /// The parser whose format the bytes are in.
    pub fn parser(&self) -> Parser {
        self.parser
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The binary attachments (JSON parser), in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The serialized arguments without the array around them: JSON elements separated
    /// by commas, or msgpack elements one after the other.
    pub fn elements(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// The whole serialized array these arguments came in, and whether its first
    /// element is the event name rather than an argument. A consumer with its own JSON
    /// parser (the browser) parses this and drops the name.
    pub fn array(&self) -> (&Bytes, bool) {
        (&self.data, self.named)
    }

    /// Reads the arguments as `T`, a tuple with one type per argument (`(T,)` for one,
    /// `()` for none) or a sequence (`Vec<Value>` takes them all). Arguments past the
    /// tuple's length are ignored, as a JavaScript listener ignores them.
    #[cfg(feature = "serde")]
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        let list = ListVisitor::<T> {
            skip_name: self.named,
            marker: PhantomData,
        };
        let mismatch = |e: &dyn fmt::Display| ArgsError::Mismatch(e.to_string());
        match self.parser {
            Parser::Json if self.attachments.is_empty() => {
                let mut de = serde_json::Deserializer::from_slice(&self.data);
                let value = de.deserialize_seq(list).map_err(|e| mismatch(&e))?;
                de.end().map_err(|e| mismatch(&e))?;
                Ok(value)
            }
            Parser::Json => {
                // A binary packet: the attachments go back in place of their
                // placeholders in a tree first (binary packets are the rare case), and
                // the tree, binary parts kept, is read into `T`.
                let values = self.values()?;
                let mut seq =
                    de::value::SeqDeserializer::<_, de::value::Error>::new(values.into_iter());
                T::deserialize(ArgList(&mut seq)).map_err(|e| mismatch(&e))
            }
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => crate::socket::msgpack::deserialize_list(&self.data, list),
        }
    }

    /// The arguments as values, binary parts in place.
    pub fn values(&self) -> Result<Vec<Value>, ArgsError> {
        let mut values: Vec<Value> = match self.parser {
            Parser::Json => {
                let mismatch = || ArgsError::Mismatch("a value has no Rust form".into());
                let mut r = Reader::new(&self.data[self.start..self.end]);
                let mut values = Vec::with_capacity(self.count);
                while r.peek().is_some() {
                    if !values.is_empty() && !r.eat(b',') {
                        return Err(mismatch());
                    }
                    values.push(r.value(json::MAX_DEPTH - 1).map_err(|_| mismatch())?);
                }
                values
            }
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => return self.deserialize(),
        };
        if !self.attachments.is_empty() {
            for value in &mut values {
                value.reconstruct(&self.attachments).map_err(|have| {
                    ArgsError::Mismatch(format!("placeholder without attachment (have {have})"))
                })?;
            }
        }
        Ok(values)
    }

    /// The same arguments in another parser's format (re-serialized only when the
    /// formats differ).
    pub fn to_parser(&self, parser: Parser) -> Result<Args, ArgsError> {
        if parser == self.parser {
            return Ok(self.clone());
        }
        Ok(Args::from_values(parser, &self.values()?))
    }

    /// These arguments with one more after them (connection state recovery's offset).
    #[cfg(feature = "serde")]
    pub fn appended<T: Serialize + ?Sized>(&self, arg: &T) -> Result<Args, ArgsError> {
        match self.parser {
            Parser::Json => {
                let mut data = Vec::with_capacity(self.end - self.start + 32);
                let mut attachments = self.attachments.clone();
                data.push(b'[');
                data.extend_from_slice(self.elements());
                if !self.is_empty() {
                    data.push(b',');
                }
                write_json(&mut data, &mut attachments, arg)?;
                data.push(b']');
                let end = data.len() - 1;
                Ok(Args::from_json_array(data.into(), end, attachments))
            }
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => crate::socket::msgpack::appended(self, arg),
        }
    }

    /// `[<name>,<args>]` (or `[<args>]` without a name) as JSON text, for a consumer
    /// with its own JSON parser (the browser).
    pub fn to_json_array(&self, name: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.end - self.start + 16);
        self.write_json_array(name, &mut out);
        out
    }

    /// Writes `[<name>,<args>]` (or `[<args>]` without a name) as JSON: the packet data
    /// of an event or an ack. The arguments' bytes are copied as they are.
    pub(crate) fn write_json_array(&self, name: Option<&str>, out: &mut Vec<u8>) {
        debug_assert_eq!(self.parser, Parser::Json);
        if name.is_none() && !self.named && self.start == 1 && self.end + 1 == self.data.len() {
            out.extend_from_slice(&self.data);
            return;
        }
        out.push(b'[');
        if let Some(name) = name {
            json::write_str(out, name);
            if !self.is_empty() {
                out.push(b',');
            }
        }
        out.extend_from_slice(self.elements());
        out.push(b']');
    }

    /// Frames the JSON data of an event (`named`: its first element is the event name,
    /// returned) or of an ack, announced with `attachments` attachments: checks that
    /// it is one well-formed array no deeper than [`MAX_DEPTH`], and finds where the
    /// arguments are, without building anything.
    pub(crate) fn frame_json(
        data: Bytes,
        named: bool,
    ) -> Result<(Option<String>, Args), FrameError> {
        let (name, start, end, count) = span(&data, named).map_err(|e| match e {
            // Well-formed JSON of another shape, or not JSON at all?
            JsonError::Shape if json::check(&data).is_ok() => FrameError::Shape,
            _ => FrameError::Syntax("not well-formed JSON".into()),
        })?;
        let args = Args {
            parser: Parser::Json,
            data,
            named,
            start,
            end,
            count,
            attachments: Vec::new(),
        };
        Ok((name, args))
    }

    /// Gives a framed binary packet its attachments, checking that every placeholder
    /// names one that came.
    pub(crate) fn attach(&mut self, attachments: Vec<Bytes>) -> Result<(), usize> {
        let count = attachments.len();
        self.attachments = attachments;
        if json::placeholders_valid(&self.data, count) {
            Ok(())
        } else {
            Err(count)
        }
    }

    /// Arguments framed by the msgpack codec.
    #[cfg(feature = "msgpack")]
    pub(crate) fn from_msgpack_parts(data: Bytes, named: bool, start: usize, count: usize) -> Args {
        Args {
            parser: Parser::MsgPack,
            end: data.len(),
            data,
            named,
            start,
            count,
            attachments: Vec::new(),
        }
    }

    /// How many arguments, for the msgpack array header.
    #[cfg(feature = "msgpack")]
    pub(crate) fn count(&self) -> usize {
        self.count
    }
}

/// What went wrong when framing a packet's data.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// Not well-formed (or too deep).
    Syntax(String),
    /// Well formed, but not the shape the packet type carries.
    Shape,
}

/// Where the parts of an event's or ack's JSON array are: the event name (when
/// `named`), the range of the arguments (empty, just before the `]`, when none), and
/// how many arguments there are. Checks the whole text; builds nothing but the name.
fn span(data: &[u8], named: bool) -> Result<(Option<String>, usize, usize, usize), JsonError> {
    let mut r = Reader::new(data);
    if !r.eat(b'[') {
        return Err(JsonError::Shape);
    }
    let mut first = true;
    let name = if named {
        if !r.next_element(true)? {
            return Err(JsonError::Shape);
        }
        first = false;
        // socket.io-parser takes a number as a name too; it arrives as its text.
        Some(match r.peek() {
            Some(b'"') => r.string()?.into_owned(),
            Some(b'-' | b'0'..=b'9') => r.number()?.to_owned(),
            _ => return Err(JsonError::Shape),
        })
    } else {
        None
    };
    let (mut range, mut count) = (None::<(usize, usize)>, 0);
    while r.next_element(first)? {
        r.peek();
        let start = r.pos();
        r.skip(MAX_DEPTH - 1)?;
        range = Some((range.map_or(start, |(s, _)| s), r.pos()));
        count += 1;
        first = false;
    }
    r.end()?;
    let (start, end) = range.unwrap_or((data.len() - 1, data.len() - 1));
    Ok((name, start, end, count))
}

#[cfg(feature = "serde")]
/// Reads an argument array (skipping the event name first) as `T`.
pub(crate) struct ListVisitor<T> {
    pub(crate) skip_name: bool,
    pub(crate) marker: PhantomData<T>,
}

#[cfg(feature = "serde")]
impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an argument list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        if self.skip_name {
            seq.next_element::<IgnoredAny>()?;
        }
        let value = T::deserialize(ArgList(&mut seq))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(value)
    }
}

#[cfg(feature = "serde")]
/// The arguments as a deserializer that only a list type can read: a struct or a map
/// asked of it is an error, not the arguments taken field by field.
struct ArgList<'a, A>(&'a mut A);

#[cfg(feature = "serde")]
impl<'de, A: SeqAccess<'de>> Deserializer<'de> for ArgList<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_seq(self.0)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, A::Error> {
        Err(not_a_list())
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, A::Error> {
        Err(not_a_list())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit_struct newtype_struct seq tuple
        tuple_struct enum identifier
    }
}

#[cfg(feature = "serde")]
fn not_a_list<E: de::Error>() -> E {
    E::custom("the arguments are a list: read them as a tuple, `(T,)` for one argument")
}

#[cfg(feature = "serde")]
/// serde_json output where each byte string is a placeholder and its bytes an
/// attachment: the JSON side of the placeholder rule.
struct PlaceholderFormatter<'a> {
    attachments: &'a mut Vec<Bytes>,
}

#[cfg(feature = "serde")]
impl serde_json::ser::Formatter for PlaceholderFormatter<'_> {
    fn write_byte_array<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> std::io::Result<()> {
        write!(
            writer,
            "{{\"_placeholder\":true,\"num\":{}}}",
            self.attachments.len()
        )?;
        self.attachments.push(Bytes::copy_from_slice(value));
        Ok(())
    }
}

#[cfg(feature = "serde")]
/// Writes `value` as compact JSON, binary parts as placeholders pushed to
/// `attachments`.
pub(crate) fn write_json<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
    value: &T,
) -> Result<(), ArgsError> {
    let mut ser = serde_json::Serializer::with_formatter(out, PlaceholderFormatter { attachments });
    value
        .serialize(&mut ser)
        .map_err(|e| ArgsError::Serialize(e.to_string()))
}

#[cfg(feature = "serde")]
/// What an event handler takes as its arguments: any list type (`(String, u32)`,
/// `Vec<Value>`, `()`), read once from the packet's bytes, or [`Args`] itself to keep
/// them unparsed (to forward them).
pub trait FromArgs: Sized {
    /// Reads the arguments.
    fn from_args(args: Args) -> Result<Self, ArgsError>;
}

#[cfg(feature = "serde")]
impl<T: DeserializeOwned> FromArgs for T {
    fn from_args(args: Args) -> Result<Self, ArgsError> {
        args.deserialize()
    }
}

#[cfg(feature = "serde")]
impl FromArgs for Args {
    fn from_args(args: Args) -> Result<Self, ArgsError> {
        Ok(args)
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::json;

    fn frame(text: &str) -> (Option<String>, Args) {
        Args::frame_json(Bytes::copy_from_slice(text.as_bytes()), true).unwrap()
    }

    #[test]
    fn frames_without_parsing_and_reads_on_demand() {
        let (name, args) = frame(r#"[ "say" , "lobby", {"n": 1.5} ]"#);
        assert_eq!(name.as_deref(), Some("say"));
        assert_eq!(args.elements(), br#""lobby", {"n": 1.5}"#);
        let (room, body): (String, Value) = args.deserialize().unwrap();
        assert_eq!((room.as_str(), body), ("lobby", json!({"n": 1.5})));
        assert_eq!(
            args.values().unwrap(),
            vec![json!("lobby"), json!({"n": 1.5})]
        );
        let mut out = Vec::new();
        args.write_json_array(Some("relay"), &mut out);
        assert_eq!(out, br#"["relay","lobby", {"n": 1.5}]"#);
        let mut out = Vec::new();
        args.write_json_array(None, &mut out);
        assert_eq!(out, br#"["lobby", {"n": 1.5}]"#);
    }

    #[test]
    fn arguments_serialized_elsewhere() {
        let args = Args::from_json(
            Bytes::from_static(br#"[1,{"_placeholder":true,"num":0}]"#),
            vec![Bytes::from_static(b"z")],
        )
        .unwrap();
        assert_eq!(
            args.values().unwrap(),
            vec![json!(1), Value::Binary(Bytes::from_static(b"z"))]
        );
        assert!(Args::from_json(Bytes::from_static(b"{}"), vec![]).is_err());
        assert!(Args::from_json(Bytes::from_static(b"[1"), vec![]).is_err());
        let missing = Bytes::from_static(br#"[{"_placeholder":true,"num":1}]"#);
        assert!(Args::from_json(missing, vec![Bytes::new()]).is_err());
    }

    #[test]
    fn no_arguments() {
        let (name, args) = frame(r#"["ping"]"#);
        assert_eq!(name.as_deref(), Some("ping"));
        assert!(args.is_empty());
        args.deserialize::<()>().unwrap();
        assert_eq!(args.deserialize::<Vec<Value>>().unwrap(), vec![]);
        let mut out = Vec::new();
        args.write_json_array(Some("pong"), &mut out);
        assert_eq!(out, br#"["pong"]"#);
        let empty = Args::empty(Parser::Json);
        assert!(empty.is_empty());
        let mut out = Vec::new();
        empty.write_json_array(Some("x"), &mut out);
        assert_eq!(out, br#"["x"]"#);
    }

    #[test]
    fn numeric_names_and_bad_shapes() {
        assert_eq!(frame("[42,1]").0.as_deref(), Some("42"));
        let shape = |t: &str| Args::frame_json(Bytes::copy_from_slice(t.as_bytes()), true);
        assert!(matches!(shape("[]"), Err(FrameError::Shape)));
        assert!(matches!(shape("[null]"), Err(FrameError::Shape)));
        assert!(matches!(shape("{}"), Err(FrameError::Shape)));
        assert!(matches!(shape(r#"["a""#), Err(FrameError::Syntax(_))));
        assert!(matches!(shape(r#"["a"] x"#), Err(FrameError::Syntax(_))));
        assert!(matches!(shape(r#"["a",]"#), Err(FrameError::Syntax(_))));
        let deep = format!(r#"["a",{}{}]"#, "[".repeat(200), "]".repeat(200));
        assert!(matches!(shape(&deep), Err(FrameError::Syntax(_))));
        // Brackets inside strings are not nesting.
        let text = format!(r#"["a","{}"]"#, "[".repeat(200));
        assert!(shape(&text).is_ok());
    }

    #[test]
    fn tuples_read_the_list_and_ignore_extras() {
        let (_, args) = frame(r#"["e",1,"a",[true],"extra"]"#);
        let back: (u32, String, Vec<bool>) = args.deserialize().unwrap();
        assert_eq!(back, (1, "a".into(), vec![true]));
        assert!(args.deserialize::<(u32, u32)>().is_err());
        let (_, one) = frame(r#"["e",1]"#);
        assert!(one.deserialize::<(u32, u32)>().is_err());
        assert_eq!(one.deserialize::<(u8,)>().unwrap(), (1,));
    }

    #[test]
    fn a_struct_is_not_the_argument_list() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Msg {
            text: String,
        }
        let (_, args) = frame(r#"["e","hi"]"#);
        let err = args.deserialize::<Msg>().unwrap_err().to_string();
        assert!(err.contains("(T,)"), "{err}");
        let (_, args) = frame(r#"["e",{"text":"hi"}]"#);
        assert_eq!(args.deserialize::<(Msg,)>().unwrap().0.text, "hi");
    }

    /// The walk that checks a binary packet's placeholders agrees with the tree's rule
    /// (`Value::reconstruct`) without building the tree.
    #[test]
    fn placeholder_walk_follows_the_tree_rule() {
        let cases = [
            (r#"["a",{"_placeholder":true,"num":0}]"#, true),
            (r#"["a",{"_placeholder":true,"num":1}]"#, false),
            (r#"["a",{"_placeholder":true,"num":-1}]"#, false),
            (r#"["a",{"_placeholder":true,"num":0.0}]"#, false),
            (r#"["a",{"_placeholder":true}]"#, false),
            (r#"["a",{"num":0,"_placeholder":true}]"#, true),
            (r#"["a",{"_placeholder":true,"num":5,"num":0}]"#, true),
            (
                r#"["a",{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}]"#,
                true,
            ),
            (
                r#"["a",{"_placeholder":false,"x":{"_placeholder":true,"num":9}}]"#,
                false,
            ),
            (r#"["a",[[{"_placeholder":true,"num":3}]]]"#, false),
            (r#"["a",{"_placeholder":"yes","num":9}]"#, true),
        ];
        for (text, valid) in cases {
            let (_, mut args) = frame(text);
            let walked = args.attach(vec![Bytes::from_static(b"x")]).is_ok();
            let mut tree: Value = serde_json::from_str(text).unwrap();
            let rebuilt = tree.reconstruct(&[Bytes::from_static(b"x")]).is_ok();
            assert_eq!((walked, rebuilt), (valid, valid), "{text}");
        }
    }

    #[test]
    fn serializes_tuples_with_binary_as_attachments() {
        let args = Args::serialize(
            Parser::Json,
            &("a", Bytes::from_static(b"\x01\x02"), json!({"k": 1})),
        )
        .unwrap();
        assert_eq!(
            args.elements(),
            br#""a",{"_placeholder":true,"num":0},{"k":1}"#
        );
        assert_eq!(args.attachments(), &[Bytes::from_static(b"\x01\x02")]);
        let values = args.values().unwrap();
        assert_eq!(values[1], Value::Binary(Bytes::from_static(b"\x01\x02")));
        let (_, bin, _): (String, Bytes, Value) = args.deserialize().unwrap();
        assert_eq!(bin, Bytes::from_static(b"\x01\x02"));
        // Values read from a binary packet keep their binary parts, as do byte vectors.
        let (_, bin, _): (String, Value, Value) = args.deserialize().unwrap();
        assert_eq!(bin, Value::Binary(Bytes::from_static(b"\x01\x02")));
        let all: Vec<Value> = args.deserialize().unwrap();
        assert_eq!(all, values);
        let (_, bytes): (String, Vec<u8>) = args.deserialize().unwrap();
        assert_eq!(bytes, vec![1, 2]);
        let none = Args::serialize(Parser::Json, &()).unwrap();
        assert!(none.is_empty());
        assert!(Args::serialize(Parser::Json, &"x").is_err());
        let listed = Args::from_values(Parser::Json, &[json!(1), json!("b")]);
        assert_eq!(listed.elements(), br#"1,"b""#);
    }
}
