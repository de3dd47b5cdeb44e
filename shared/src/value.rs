//! Event arguments: JSON values that may also hold binary data.
//!
//! Socket.IO lets any argument, at any depth, be binary. On the wire the binary parts
//! travel as separate attachments and a `{"_placeholder":true,"num":N}` object stands in
//! their place; [`Value`] is the shape after the attachments are put back. Objects keep
//! their key order, so a value round-trips to the same JSON text.

use bytes::Bytes;
#[cfg(feature = "serde")]
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
#[cfg(feature = "serde")]
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A JSON number: serde_json's with the `serde` feature; without it (the browser
/// build), the number's JSON text, kept as it came, so no float code is compiled in.
#[cfg(feature = "serde")]
pub use serde_json::Number;

/// A JSON number, as its JSON text (the build without the `serde` feature).
#[cfg(not(feature = "serde"))]
#[derive(Debug, Clone, PartialEq)]
pub struct Number(Box<str>);

#[cfg(not(feature = "serde"))]
impl Number {
    /// The number, if it is a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

#[cfg(not(feature = "serde"))]
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(not(feature = "serde"))]
impl From<u64> for Number {
    fn from(n: u64) -> Self {
        let mut text = Vec::new();
        crate::json::write_u64(&mut text, n);
        Number(String::from_utf8(text).unwrap_or_default().into())
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    #[cfg(feature = "serde")]
    {
        use std::io::Write;
        let _ = write!(out, "{n}");
    }
    #[cfg(not(feature = "serde"))]
    out.extend_from_slice(n.0.as_bytes());
}

/// The number a JSON number's text (already checked) stands for; `None` when it has
/// none (serde_json refuses numbers out of `f64`'s range, such as `1e400`).
pub(crate) fn number_from_json(text: &str) -> Option<Number> {
    #[cfg(feature = "serde")]
    return serde_json::from_str(text).ok();
    #[cfg(not(feature = "serde"))]
    return Some(Number(text.into()));
}

/// A JSON value, or binary data, or a tree mixing both.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// JSON `null`.
    #[default]
    Null,
    /// JSON `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string.
    String(String),
    /// Binary data (an attachment on the wire; a `Buffer` or `ArrayBuffer` in JavaScript).
    Binary(Bytes),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object, keys in their original order.
    Object(Vec<(String, Value)>),
}

/// A [`Value`] could not be turned into the Rust type asked for.
#[cfg(feature = "serde")]
#[derive(Debug, thiserror::Error)]
#[error("value does not match the expected type: {0}")]
pub struct ValueError(#[from] serde_json::Error);

impl Value {
    /// The value under `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Whether binary data appears anywhere in this value.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Object(entries) => entries.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// Serializes any `Serialize` type into a value (without binary parts).
    #[cfg(feature = "serde")]
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
        Ok(Value::from(serde_json::to_value(value)?))
    }

    /// Deserializes this value into `T`. Binary parts are byte strings (`Bytes`,
    /// `serde_bytes`, a `Value`) or sequences of byte numbers (`Vec<u8>`).
    #[cfg(feature = "serde")]
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        T::deserialize(self.clone()).map_err(|e| ValueError(de::Error::custom(e)))
    }

    /// The JSON view of this value; binary parts become arrays of byte numbers.
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Binary(b) => b.iter().map(|&x| serde_json::Value::from(x)).collect(),
            Value::Array(items) => items.iter().map(Value::to_json).collect(),
            Value::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Writes this value as compact JSON into `out`, replacing each binary part by a
    /// placeholder and pushing its bytes onto `attachments`, in order (the same writer
    /// as every argument list's).
    pub fn write_json(&self, out: &mut Vec<u8>, attachments: &mut Vec<Bytes>) {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => write_number(out, n),
            Value::String(s) => crate::json::write_str(out, s),
            Value::Binary(b) => {
                out.extend_from_slice(br#"{"_placeholder":true,"num":"#);
                crate::json::write_u64(out, attachments.len() as u64);
                out.push(b'}');
                attachments.push(b.clone());
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_json(out, attachments);
                }
                out.push(b']');
            }
            Value::Object(entries) => {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    crate::json::write_str(out, k);
                    out.push(b':');
                    v.write_json(out, attachments);
                }
                out.push(b'}');
            }
        }
    }

    /// This value as JSON text, binary parts as placeholders (dropped).
    pub fn to_json_text(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out, &mut Vec::new());
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// Puts attachments back in place of their placeholders. Fails if a placeholder
    /// names an attachment that does not exist.
    pub(crate) fn reconstruct(&mut self, attachments: &[Bytes]) -> Result<(), usize> {
        if matches!(self.get("_placeholder"), Some(Value::Bool(true))) {
            let num = match self.get("num") {
                Some(Value::Number(n)) => n.as_u64(),
                _ => None,
            };
            return match num.and_then(|n| attachments.get(usize::try_from(n).ok()?)) {
                Some(bytes) => {
                    *self = Value::Binary(bytes.clone());
                    Ok(())
                }
                None => Err(attachments.len()),
            };
        }
        match self {
            Value::Array(items) => items
                .iter_mut()
                .try_for_each(|v| v.reconstruct(attachments)),
            Value::Object(entries) => entries
                .iter_mut()
                .try_for_each(|(_, v)| v.reconstruct(attachments)),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "serde")]
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

#[cfg(feature = "serde")]
macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(n.into())
            }
        }
    )*};
}
#[cfg(feature = "serde")]
from_number!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

#[cfg(feature = "serde")]
impl From<f64> for Value {
    /// Non-finite numbers become `null`, as `JSON.stringify` makes them.
    fn from(n: f64) -> Self {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A vector becomes an array; for binary data use `Value::Binary` or `Bytes`.
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a [`Value`] from JSON syntax, like `serde_json::json!`.
#[cfg(feature = "serde")]
#[macro_export]
macro_rules! json {
    ($($tt:tt)+) => {
        $crate::Value::from(::serde_json::json!($($tt)+))
    };
}

#[cfg(feature = "serde")]
impl Serialize for Value {
    /// Binary parts are byte strings: placeholders and attachments in a packet's
    /// arguments, msgpack binary with the msgpack parser, arrays of byte numbers in
    /// plain JSON.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Binary(b) => serializer.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(feature = "serde")]
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(feature = "serde")]
struct ValueVisitor;

#[cfg(feature = "serde")]
impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            // JSON.parse keeps the last of duplicate keys, at the first key's position.
            match entries.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => entries.push((k, v)),
            }
        }
        Ok(Value::Object(entries))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::copy_from_slice(b)))
    }
    fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(b.into()))
    }
}

/// A value is itself a deserializer, so that a tree with binary parts reads into serde
/// types with the binary kept: a byte string to `deserialize_any`, a sequence of byte
/// numbers to `deserialize_seq`.
#[cfg(feature = "serde")]
impl<'de> Deserializer<'de> for Value {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use de::value::{MapDeserializer, SeqDeserializer};
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Binary(b) => visitor.visit_byte_buf(b.to_vec()),
            Value::Array(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            Value::Object(entries) => visitor.visit_map(MapDeserializer::new(entries.into_iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Value::Binary(b) => visitor.visit_seq(de::value::SeqDeserializer::new(b.into_iter())),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Value::String(s) => visitor.visit_enum(de::IntoDeserializer::into_deserializer(s)),
            Value::Object(mut entries) if entries.len() == 1 => {
                let (variant, value) = entries.pop().expect("one entry");
                visitor.visit_enum(de::value::MapAccessDeserializer::new(
                    de::value::MapDeserializer::new(std::iter::once((variant, value))),
                ))
            }
            _ => Err(de::Error::custom("expected an enum")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(feature = "serde")]
impl<'de> de::IntoDeserializer<'de, de::value::Error> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;

    #[test]
    fn writes_compact_json_in_key_order() {
        let v: Value =
            serde_json::from_str(r#"{ "b": 1, "a": [true, null, "x\"y"], "c": 1.5 }"#).unwrap();
        let mut out = Vec::new();
        let mut att = Vec::new();
        v.write_json(&mut out, &mut att);
        assert_eq!(out, br#"{"b":1,"a":[true,null,"x\"y"],"c":1.5}"#);
        assert!(att.is_empty());
    }

    #[test]
    fn binary_becomes_placeholders_and_back() {
        let v = Value::Array(vec![
            Value::from("ev"),
            Value::Binary(Bytes::from_static(b"\x01\x02")),
            Value::Object(vec![(
                "k".into(),
                Value::Binary(Bytes::from_static(b"\x03")),
            )]),
        ]);
        let mut out = Vec::new();
        let mut att = Vec::new();
        v.write_json(&mut out, &mut att);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"["ev",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]"#
        );
        let mut back: Value = serde_json::from_slice(&out).unwrap();
        back.reconstruct(&att).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn placeholder_out_of_range_is_an_error() {
        let mut v: Value = serde_json::from_str(r#"[{"_placeholder":true,"num":3}]"#).unwrap();
        assert!(v.reconstruct(&[Bytes::new()]).is_err());
        let mut v: Value = serde_json::from_str(r#"[{"_placeholder":true,"num":-1}]"#).unwrap();
        assert!(v.reconstruct(&[Bytes::new()]).is_err());
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let v: Value = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v, json!({"a": 3, "b": 2}));
    }

    #[test]
    fn deserializes_into_rust_types() {
        #[derive(Deserialize, PartialEq, Debug)]
        struct Msg {
            text: String,
            n: u32,
        }
        let v = json!({"text": "hi", "n": 3});
        assert_eq!(
            v.deserialize::<Msg>().unwrap(),
            Msg {
                text: "hi".into(),
                n: 3
            }
        );
        assert!(json!("nope").deserialize::<Msg>().is_err());
    }
}
