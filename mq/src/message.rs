//! python-socketio's pub/sub messages (`socketio/pubsub_manager.py`, 5.x): one JSON object
//! per message, its `method` saying what to do, and the sender's `host_id` so that a
//! node skips what it published itself.
//!
//! ```text
//! {"method":"emit","event":"chat","data":[...],"binary":false,"namespace":"/",
//!  "room":null,"skip_sid":null,"callback":null,"host_id":"<32 hex>"}
//! {"method":"disconnect","sid":"...","namespace":"/","host_id":"..."}
//! {"method":"enter_room"|"leave_room","sid":"...","room":"...","namespace":"/","host_id":"..."}
//! {"method":"close_room","room":"...","namespace":"/","host_id":"..."}
//! {"method":"callback","host_id":"<the emitter's>","sid":"...","namespace":"/","id":1,"args":[...]}
//! ```
//!
//! `data` is the list of an event's arguments. With binary parts (`"binary": true`) it is
//! `[<arguments with {"_placeholder":true,"num":N}>, "<base64 of part 0>", ...]`, as
//! python-socketio's `Packet.deconstruct_binary` lays them out. `room` and `skip_sid` are
//! a string, a list of strings, or `null`. `callback` is `[room, namespace, id]`: the node
//! that holds the target socket relays the client's answer as a `callback` message
//! addressed to the emitter's `host_id`.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value as Json};
use sockeye_protocol::socket::{Args, Parser};
use sockeye_protocol::Value;
use sockeye_server::Room;

/// An event to deliver (`emit`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Emit {
    pub(crate) event: String,
    pub(crate) args: Args,
    pub(crate) namespace: String,
    /// Target rooms; empty means the whole namespace.
    pub(crate) rooms: Vec<Room>,
    /// Sids left out.
    pub(crate) skip_sid: Vec<Room>,
    /// `[room, namespace, id]` when the emitter waits for the client's answer.
    pub(crate) callback: Option<Callback>,
}

/// Where a client's answer goes back to: the emitter's own `room`, `namespace` and id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Callback {
    pub(crate) room: Json,
    pub(crate) namespace: String,
    pub(crate) id: u64,
}

/// One message on the channel.
// A message lives for one dispatch: boxing the emit would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Message {
    Emit(Emit),
    Disconnect {
        sid: String,
        namespace: String,
    },
    EnterRoom {
        sid: String,
        room: String,
        namespace: String,
    },
    LeaveRoom {
        sid: String,
        room: String,
        namespace: String,
    },
    CloseRoom {
        room: String,
        namespace: String,
    },
    /// A client's answer, for the node whose `host_id` the message carries.
    Callback {
        id: u64,
        args: Vec<Value>,
    },
}

/// A message and its sender.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Received {
    pub(crate) message: Message,
    /// The publisher (for `callback`, the node the answer is for).
    pub(crate) host_id: Option<String>,
}

/// Why a message on the channel was skipped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum MessageError {
    #[error("not a JSON object")]
    NotJson,
    #[error("no method")]
    NoMethod,
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    #[error("field {0:?} missing or of the wrong type")]
    Field(&'static str),
    #[error("event data: {0}")]
    Data(String),
}

impl Message {
    /// The JSON text python-socketio publishes for this message.
    pub(crate) fn encode(&self, host_id: &str) -> Vec<u8> {
        let body = match self {
            Message::Emit(emit) => {
                let (data, binary) = encode_args(&emit.args);
                json!({
                    "method": "emit",
                    "event": emit.event,
                    "data": data,
                    "binary": binary,
                    "namespace": emit.namespace,
                    "room": rooms_json(&emit.rooms),
                    "skip_sid": match emit.skip_sid.as_slice() {
                        [] => Json::Null,
                        [one] => Json::from(&**one),
                        many => many.iter().map(|s| Json::from(&**s)).collect(),
                    },
                    "callback": emit.callback.as_ref().map(|c| json!([c.room, c.namespace, c.id])),
                    "host_id": host_id,
                })
            }
            Message::Disconnect { sid, namespace } => json!({
                "method": "disconnect", "sid": sid, "namespace": namespace, "host_id": host_id,
            }),
            Message::EnterRoom {
                sid,
                room,
                namespace,
            } => json!({
                "method": "enter_room", "sid": sid, "room": room, "namespace": namespace,
                "host_id": host_id,
            }),
            Message::LeaveRoom {
                sid,
                room,
                namespace,
            } => json!({
                "method": "leave_room", "sid": sid, "room": room, "namespace": namespace,
                "host_id": host_id,
            }),
            Message::CloseRoom { room, namespace } => json!({
                "method": "close_room", "room": room, "namespace": namespace, "host_id": host_id,
            }),
            Message::Callback { .. } => unreachable!("callbacks are encoded by encode_callback"),
        };
        serde_json::to_vec(&body).expect("JSON always serializes")
    }

    /// Parses a message; JSON text that holds a JSON string is unwrapped once more (kombu
    /// serializes the text python-socketio hands it as a JSON string).
    pub(crate) fn decode(payload: &[u8]) -> Result<Received, MessageError> {
        let mut json: Json = serde_json::from_slice(payload).map_err(|_| MessageError::NotJson)?;
        if let Json::String(text) = &json {
            json = serde_json::from_str(text).map_err(|_| MessageError::NotJson)?;
        }
        let Json::Object(map) = json else {
            return Err(MessageError::NotJson);
        };
        let host_id = map.get("host_id").and_then(Json::as_str).map(str::to_owned);
        let method = map
            .get("method")
            .and_then(Json::as_str)
            .ok_or(MessageError::NoMethod)?;
        let string = |key: &'static str| {
            map.get(key)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or(MessageError::Field(key))
        };
        // python-socketio reads a missing namespace as `/` everywhere but in `emit`.
        let namespace = map
            .get("namespace")
            .and_then(Json::as_str)
            .unwrap_or("/")
            .to_owned();
        let message = match method {
            "emit" => Message::Emit(decode_emit(&map, namespace)?),
            "disconnect" => Message::Disconnect {
                sid: string("sid")?,
                namespace,
            },
            "enter_room" => Message::EnterRoom {
                sid: string("sid")?,
                room: string("room")?,
                namespace,
            },
            "leave_room" => Message::LeaveRoom {
                sid: string("sid")?,
                room: string("room")?,
                namespace,
            },
            "close_room" => Message::CloseRoom {
                room: string("room")?,
                namespace,
            },
            "callback" => Message::Callback {
                id: map
                    .get("id")
                    .and_then(Json::as_u64)
                    .ok_or(MessageError::Field("id"))?,
                args: match map.get("args") {
                    Some(Json::Array(args)) => args.iter().cloned().map(Value::from).collect(),
                    _ => return Err(MessageError::Field("args")),
                },
            },
            other => return Err(MessageError::UnknownMethod(other.to_owned())),
        };
        Ok(Received { message, host_id })
    }
}

/// A `callback` message: the answer `args` of a client, for the node `host_id`.
pub(crate) fn encode_callback(
    host_id: &str,
    sid: &Json,
    namespace: &str,
    id: u64,
    args: &[Value],
) -> Vec<u8> {
    let args: Vec<Json> = args.iter().map(Value::to_json).collect();
    let body = json!({
        "method": "callback", "host_id": host_id, "sid": sid, "namespace": namespace,
        "id": id, "args": args,
    });
    serde_json::to_vec(&body).expect("JSON always serializes")
}

/// `room` as python-socketio writes it: `null` for the whole namespace, a string for one
/// room, a list for several.
pub(crate) fn rooms_json(rooms: &[Room]) -> Json {
    match rooms {
        [] => Json::Null,
        [one] => Json::from(&**one),
        many => many.iter().map(|s| Json::from(&**s)).collect(),
    }
}

fn decode_emit(map: &Map<String, Json>, namespace: String) -> Result<Emit, MessageError> {
    let event = map
        .get("event")
        .and_then(Json::as_str)
        .ok_or(MessageError::Field("event"))?
        .to_owned();
    let binary = matches!(map.get("binary"), Some(Json::Bool(true)));
    let data = map.get("data").cloned().unwrap_or(Json::Null);
    let args = decode_args(data, binary)?;
    let callback = match map.get("callback") {
        Some(Json::Array(c)) if c.len() == 3 => Some(Callback {
            room: c[0].clone(),
            namespace: c[1].as_str().unwrap_or("/").to_owned(),
            id: c[2].as_u64().ok_or(MessageError::Field("callback"))?,
        }),
        _ => None,
    };
    Ok(Emit {
        event,
        args,
        namespace,
        rooms: names(map.get("room"), "room")?,
        skip_sid: names(map.get("skip_sid"), "skip_sid")?,
        callback,
    })
}

/// A string, a list of strings, or nothing.
fn names(value: Option<&Json>, key: &'static str) -> Result<Vec<Room>, MessageError> {
    match value {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::String(s)) => Ok(vec![s.as_str().into()]),
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(Room::from).ok_or(MessageError::Field(key)))
            .collect(),
        Some(_) => Err(MessageError::Field(key)),
    }
}

/// An event's arguments as python-socketio lays them out: the list, or with binary parts
/// the list with placeholders followed by each part in base64.
fn encode_args(args: &Args) -> (Json, bool) {
    let json_args = args
        .to_parser(Parser::Json)
        .unwrap_or_else(|_| Args::empty(Parser::Json));
    let list: Json =
        serde_json::from_slice(&json_args.to_json_array(None)).unwrap_or(Json::Array(vec![]));
    let attachments = json_args.attachments();
    if attachments.is_empty() {
        return (list, false);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut data = vec![list];
    data.extend(attachments.iter().map(|a| Json::String(b64.encode(a))));
    (Json::Array(data), true)
}

fn decode_args(data: Json, binary: bool) -> Result<Args, MessageError> {
    let (list, attachments) = if binary {
        let Json::Array(mut parts) = data else {
            return Err(MessageError::Field("data"));
        };
        if parts.is_empty() {
            return Err(MessageError::Field("data"));
        }
        let list = parts.remove(0);
        let b64 = base64::engine::general_purpose::STANDARD;
        let attachments = parts
            .iter()
            .map(|p| {
                p.as_str()
                    .and_then(|s| b64.decode(s).ok())
                    .map(Bytes::from)
                    .ok_or(MessageError::Field("data"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        (list, attachments)
    } else {
        (data, Vec::new())
    };
    // python-socketio always sends a list; anything else is one argument.
    let list = match list {
        Json::Array(items) => Json::Array(items),
        other => Json::Array(vec![other]),
    };
    let text = serde_json::to_vec(&list).expect("JSON always serializes");
    Args::from_json(text.into(), attachments).map_err(|e| MessageError::Data(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(values: Vec<Value>) -> Args {
        Args::from_values(Parser::Json, &values)
    }

    #[test]
    fn emit_as_python_socketio_writes_it() {
        let emit = Message::Emit(Emit {
            event: "chat".into(),
            args: args(vec!["hi".into(), 2.into()]),
            namespace: "/".into(),
            rooms: vec!["lobby".into()],
            skip_sid: vec!["abc".into()],
            callback: None,
        });
        let text = String::from_utf8(emit.encode("h1")).unwrap();
        assert_eq!(
            text,
            r#"{"method":"emit","event":"chat","data":["hi",2],"binary":false,"namespace":"/","room":"lobby","skip_sid":"abc","callback":null,"host_id":"h1"}"#
        );
        let back = Message::decode(text.as_bytes()).unwrap();
        assert_eq!(back.message, emit);
        assert_eq!(back.host_id.as_deref(), Some("h1"));
    }

    #[test]
    fn binary_parts_travel_in_base64() {
        // What python-socketio 5.18 publishes for emit('file', {'name': 'a', 'body': b'\x01\x02'}).
        let text = r#"{"method": "emit", "event": "file", "data": [[{"name": "a", "body": {"_placeholder": true, "num": 0}}], "AQI="], "binary": true, "namespace": "/", "room": ["r1", "r2"], "skip_sid": null, "callback": ["r1", "/", 7], "host_id": "x"}"#;
        let Message::Emit(emit) = Message::decode(text.as_bytes()).unwrap().message else {
            panic!("not an emit")
        };
        assert_eq!(emit.rooms, vec![Room::from("r1"), Room::from("r2")]);
        assert_eq!(emit.callback.as_ref().unwrap().id, 7);
        let values = emit.args.values().unwrap();
        assert_eq!(
            values[0].get("body"),
            Some(&Value::Binary(Bytes::from_static(&[1, 2])))
        );
        // And back, the same layout.
        let again = Message::decode(&Message::Emit(emit.clone()).encode("y")).unwrap();
        assert_eq!(again.message, Message::Emit(emit));
    }

    #[test]
    fn kombu_double_encoding_is_unwrapped() {
        let inner =
            r#"{"method": "close_room", "room": "r", "namespace": "/chat", "host_id": "z"}"#;
        let outer = serde_json::to_vec(&Json::String(inner.into())).unwrap();
        assert_eq!(
            Message::decode(&outer).unwrap().message,
            Message::CloseRoom {
                room: "r".into(),
                namespace: "/chat".into()
            }
        );
    }

    #[test]
    fn bad_messages_are_refused_not_panicked_on() {
        for (text, err) in [
            (&b"\xff{garbage"[..], MessageError::NotJson),
            (b"[1,2]", MessageError::NotJson),
            (b"{}", MessageError::NoMethod),
            (
                br#"{"method":"fetch"}"#,
                MessageError::UnknownMethod("fetch".into()),
            ),
            (br#"{"method":"emit"}"#, MessageError::Field("event")),
            (
                br#"{"method":"emit","event":"e","data":[],"binary":true}"#,
                MessageError::Field("data"),
            ),
            (
                br#"{"method":"emit","event":"e","data":[[],"!!"],"binary":true}"#,
                MessageError::Field("data"),
            ),
            (
                br#"{"method":"emit","event":"e","data":[],"room":5}"#,
                MessageError::Field("room"),
            ),
            (br#"{"method":"disconnect"}"#, MessageError::Field("sid")),
            (
                br#"{"method":"callback","id":1}"#,
                MessageError::Field("args"),
            ),
        ] {
            assert_eq!(
                Message::decode(text),
                Err(err),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn callback_carries_every_answer_argument() {
        let text = encode_callback("h", &Json::from("sid1"), "/", 3, &["ok".into(), 1.into()]);
        let got = Message::decode(&text).unwrap();
        assert_eq!(got.host_id.as_deref(), Some("h"));
        assert_eq!(
            got.message,
            Message::Callback {
                id: 3,
                args: vec!["ok".into(), 1.into()]
            }
        );
    }
}
