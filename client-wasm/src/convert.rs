//! JavaScript values to and from protocol [`Value`]s, binary parts included.
//!
//! `ArrayBuffer`s and typed arrays (at any depth) become [`Value::Binary`], so they
//! travel as Socket.IO attachments; binary that arrives becomes an `ArrayBuffer`, as
//! socket.io-client gives it in the browser.

use crate::browser::warn;
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use sockeye_protocol::socket::Args;
use sockeye_protocol::Value;
use wasm_bindgen::{JsCast, JsValue};

/// How deep a JavaScript value may nest before it is refused (cycles end here too).
const MAX_DEPTH: usize = 128;

/// Converts a JavaScript value as `JSON.stringify` would see it, keeping binary.
/// `undefined` and functions become `null` (as in an array under `JSON.stringify`).
pub fn to_value(js: &JsValue) -> Result<Value, JsValue> {
    to_value_at(js, 0)
}

fn to_value_at(js: &JsValue, depth: usize) -> Result<Value, JsValue> {
    if depth > MAX_DEPTH {
        return Err(JsValue::from_str(
            "argument nests too deeply (or is cyclic)",
        ));
    }
    if js.is_null() || js.is_undefined() || js.is_function() {
        return Ok(Value::Null);
    }
    if let Some(b) = js.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = js.as_f64() {
        return Ok(number(n));
    }
    if let Some(s) = js.as_string() {
        return Ok(Value::String(s));
    }
    if let Some(buffer) = js.dyn_ref::<ArrayBuffer>() {
        return Ok(Value::Binary(Uint8Array::new(buffer).to_vec().into()));
    }
    if ArrayBuffer::is_view(js) {
        let view: &js_sys::DataView = js.unchecked_ref();
        let bytes = Uint8Array::new_with_byte_offset_and_length(
            &view.buffer(),
            view.byte_offset() as u32,
            view.byte_length() as u32,
        );
        return Ok(Value::Binary(bytes.to_vec().into()));
    }
    if let Some(array) = js.dyn_ref::<Array>() {
        return array
            .iter()
            .map(|item| to_value_at(&item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if js.is_object() {
        // Dates and other types with toJSON serialize through it, as JSON.stringify does.
        let to_json = Reflect::get(js, &JsValue::from_str("toJSON"))?;
        if let Some(f) = to_json.dyn_ref::<js_sys::Function>() {
            return to_value_at(&f.call0(js)?, depth + 1);
        }
        let mut entries = Vec::new();
        for key in Object::keys(js.unchecked_ref::<Object>()).iter() {
            let item = Reflect::get(js, &key)?;
            // JSON.stringify leaves out undefined and function members.
            if item.is_undefined() || item.is_function() {
                continue;
            }
            let key = key.as_string().unwrap_or_default();
            entries.push((key, to_value_at(&item, depth + 1)?));
        }
        return Ok(Value::Object(entries));
    }
    // BigInt and symbols have no JSON form.
    Err(JsValue::from_str("argument cannot be serialized"))
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::Number((n as i64).into())
    } else {
        Value::from(n)
    }
}

/// Converts a protocol value into a JavaScript value (binary as `ArrayBuffer`).
pub fn from_value(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JsValue::from_str(s),
        Value::Binary(bytes) => Uint8Array::from(bytes.as_ref()).buffer().into(),
        Value::Array(items) => items.iter().map(from_value).collect::<Array>().into(),
        Value::Object(entries) => {
            let object = Object::new();
            for (k, v) in entries {
                let _ = Reflect::set(&object, &JsValue::from_str(k), &from_value(v));
            }
            object.into()
        }
    }
}

/// Converts a list of arguments into a JavaScript array.
pub fn args_to_array(args: &[Value]) -> Array {
    args.iter().map(from_value).collect()
}

/// Reads the arguments of an event or an ack from the server as values. Arguments that
/// do not read are a malformed packet from the server: logged with `what` (the packet
/// they came in), and `None`, so the packet is dropped.
pub fn values_or_warn(args: &Args, what: impl FnOnce() -> String) -> Option<Vec<Value>> {
    match args.values() {
        Ok(values) => Some(values),
        Err(e) => {
            warn(&format!("sockeye: {} dropped: {e}", what()));
            None
        }
    }
}
