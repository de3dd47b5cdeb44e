//! The JavaScript surface: `RawManager` and `RawSocket`, which the package's thin glue
//! (`js/sockeye.js`) wraps into socket.io-client's `Manager` and `Socket` classes.
//!
//! The glue keeps what JavaScript does best: listener lists, variadic arguments,
//! Promises, the manager cache, and JSON. Arguments cross as JSON text plus binary
//! attachments: the glue's `JSON.stringify` and `JSON.parse` (client-wasm/js/binary.js)
//! do the values, so the wasm has no JSON library and walks no JavaScript objects.
//! Everything about the protocol happens here.

use crate::manager::{
    AckCallback, AuthProvider, Manager, ManagerEvent, Notice, ServerAckError, Socket,
};
use crate::options::Options;
use bytes::Bytes;
use js_sys::{Array, Function, Uint8Array};
use sockeye_protocol::client::Emit;
use sockeye_protocol::socket::Args;
use sockeye_protocol::Value;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// Calls a listener, reporting (not propagating) what it throws: one faulty listener
/// must not break the client's own bookkeeping. Returns whether it answered true.
fn call(f: &Function, args: &[JsValue]) -> bool {
    let array: Array = args.iter().collect();
    match f.apply(&JsValue::NULL, &array) {
        Ok(answer) => answer.is_truthy(),
        Err(error) => {
            web_sys_report(&error);
            false
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// `reportError`, which shows an exception in the console without unwinding.
    #[wasm_bindgen(js_name = reportError)]
    fn web_sys_report(error: &JsValue);
}

/// One Engine.IO connection (see `Manager` in the glue).
#[wasm_bindgen(js_name = RawManager)]
pub struct JsManager {
    manager: Manager,
}

#[wasm_bindgen(js_class = RawManager)]
impl JsManager {
    /// A manager for `origin` with socket.io-client's options object.
    #[wasm_bindgen(constructor)]
    pub fn new(origin: &str, opts: &JsValue) -> JsManager {
        JsManager {
            manager: Manager::new(origin, Options::from_js(opts)),
        }
    }

    /// `listener(name, arg)` hears the manager's events.
    #[wasm_bindgen(js_name = setListener)]
    pub fn set_listener(&self, listener: Function) {
        self.manager.set_listener(move |event| {
            let (name, arg) = match event {
                ManagerEvent::Open => ("open", JsValue::UNDEFINED),
                ManagerEvent::Close(reason) => ("close", reason.as_str().into()),
                ManagerEvent::Error(e) => ("error", js_sys::Error::new(&e).into()),
                ManagerEvent::ReconnectAttempt(n) => ("reconnect_attempt", n.into()),
                ManagerEvent::Reconnect(n) => ("reconnect", n.into()),
                ManagerEvent::ReconnectError(e) => {
                    ("reconnect_error", js_sys::Error::new(&e).into())
                }
                ManagerEvent::ReconnectFailed => ("reconnect_failed", JsValue::UNDEFINED),
                ManagerEvent::Upgrade => ("upgrade", "websocket".into()),
            };
            call(&listener, &[name.into(), arg]);
        });
    }

    /// Applies a changed options object (reconnection settings, timeout).
    pub fn configure(&self, opts: &JsValue) {
        self.manager.set_options(Options::from_js(opts));
    }

    /// Opens the connection.
    pub fn open(&self) {
        self.manager.open();
    }

    /// Closes the connection and stops reconnecting.
    pub fn close(&self) {
        self.manager.close();
    }

    /// Drops the Engine.IO connection as a network cut would; the manager reconnects.
    #[wasm_bindgen(js_name = closeEngine)]
    pub fn close_engine(&self) {
        self.manager.close_engine();
    }

    /// The socket of `namespace` on this connection.
    pub fn socket(&self, namespace: &str) -> JsSocket {
        JsSocket {
            socket: self.manager.socket(namespace),
        }
    }

    /// "polling", "websocket", or undefined when not connected.
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> Option<String> {
        self.manager.transport().map(str::to_owned)
    }

    /// The Engine.IO session id, when connected.
    #[wasm_bindgen(getter, js_name = engineId)]
    pub fn engine_id(&self) -> Option<String> {
        self.manager.engine_id()
    }

    /// Whether a reconnection is under way.
    #[wasm_bindgen(getter)]
    pub fn reconnecting(&self) -> bool {
        self.manager.reconnecting()
    }
}

/// One namespace (see `Socket` in the glue).
#[wasm_bindgen(js_name = RawSocket)]
pub struct JsSocket {
    socket: Socket,
}

/// What `RawSocket.emit` did with the packet, for the glue's `onAnyOutgoing`.
#[repr(u32)]
enum Sent {
    /// Sent now.
    Now = 0,
    /// Buffered until the socket connects.
    Buffered = 1,
    /// Dropped (volatile while not connected).
    Dropped = 2,
}

/// The JSON array text of `args`, with the event name first when `name` is given
/// (received arguments come as the packet's array, which already has it).
fn array_text(args: &Args, name: Option<&str>) -> JsValue {
    let (data, named) = args.array();
    // Framing checked the text: JSON text is UTF-8.
    if named == name.is_some() {
        JsValue::from_str(std::str::from_utf8(data).unwrap_or_default())
    } else {
        JsValue::from_str(std::str::from_utf8(&args.to_json_array(name)).unwrap_or_default())
    }
}

/// The attachments as `ArrayBuffer`s (what socket.io-client gives in the browser), or
/// undefined when there are none.
fn attachments_to_js(args: &Args) -> JsValue {
    if args.attachments().is_empty() {
        return JsValue::UNDEFINED;
    }
    args.attachments()
        .iter()
        .map(|bytes| Uint8Array::from(bytes.as_ref()).buffer())
        .collect::<Array>()
        .into()
}

/// Arguments from the glue: a JSON array (binary parts as placeholders) and the
/// attachments (`Uint8Array`s) in placeholder order.
fn args_from_js(json: String, attachments: &Array) -> Result<Args, JsValue> {
    let attachments = attachments
        .iter()
        .map(|a| Bytes::from(Uint8Array::new(&a).to_vec()))
        .collect();
    Args::from_json(json.into_bytes().into(), attachments).map_err(|_| {
        js_sys::Error::new("sockeye: arguments must be JSON (nested at most 128 deep)").into()
    })
}

/// A run of events with neither attachments nor an ack, gathered as one JSON array of
/// their packets' arrays.
#[derive(Default)]
struct PlainEvents {
    json: Vec<u8>,
    count: usize,
}

impl PlainEvents {
    fn push(&mut self, args: &Args, name: &str) {
        self.json.push(if self.count == 0 { b'[' } else { b',' });
        let (data, named) = args.array();
        if named {
            self.json.extend_from_slice(data);
        } else {
            self.json.extend_from_slice(&args.to_json_array(Some(name)));
        }
        self.count += 1;
    }

    /// Hands the run to the listener: one event as `"event"`, several as `"events"`.
    /// Returns whether the socket left the namespace meanwhile.
    fn flush(&mut self, listener: &Function) -> bool {
        let count = std::mem::take(&mut self.count);
        if count == 0 {
            return false;
        }
        let kind = if count == 1 {
            // The one array, without the `[` that opened the run.
            self.json.remove(0);
            "event"
        } else {
            self.json.push(b']');
            "events"
        };
        // Framing checked the text: JSON text is UTF-8.
        let json = JsValue::from_str(std::str::from_utf8(&self.json).unwrap_or_default());
        self.json.clear();
        call(listener, &[kind.into(), json])
    }
}

/// Tells the listener one notice; returns whether the socket left the namespace
/// meanwhile (a "disconnect", or a listener that called `disconnect()`).
fn notify(listener: &Function, notice: Notice) -> bool {
    match notice {
        Notice::Connect => call(listener, &["connect".into()]),
        Notice::ConnectError { message, data } => {
            let data = data.map_or(JsValue::UNDEFINED, |d| d.to_json_text().into());
            call(listener, &["connect_error".into(), message.into(), data])
        }
        Notice::Disconnect(reason) => call(listener, &["disconnect".into(), reason.into()]),
        Notice::Event { name, args, ack } => {
            let ack = match ack {
                Some(responder) => Closure::once_into_js(
                    move |json: String, attachments: Array| match args_from_js(json, &attachments) {
                        Ok(args) => responder.send(args),
                        Err(error) => web_sys_report(&error),
                    },
                ),
                None => JsValue::UNDEFINED,
            };
            let json = array_text(&args, Some(&name));
            let attachments = attachments_to_js(&args);
            call(listener, &["event".into(), json, attachments, ack])
        }
    }
}

#[wasm_bindgen(js_class = RawSocket)]
impl JsSocket {
    /// `listener(kind, ...)` hears: `("connect")`, `("connect_error", message, dataJson)`,
    /// `("disconnect", reason)`, `("event", json, attachments, ack)` where `json` is the
    /// packet's array (the event name first) and `ack(json, attachments)` answers, and
    /// `("events", json)` for several events that came together with neither
    /// attachments nor an ack: `json` is the array of their packets' arrays, so the glue
    /// parses a whole polling response's events at once.
    #[wasm_bindgen(js_name = setListener)]
    pub fn set_listener(&self, listener: Function) {
        self.socket.set_listener(move |notices| {
            let mut plain = PlainEvents::default();
            // Whether a listener left the namespace (the glue's answer): the events after
            // that are held back, as socket.io-client delivers nothing after "disconnect".
            let mut left = false;
            for notice in notices {
                match notice {
                    Notice::Event {
                        name,
                        args,
                        ack: None,
                    } if args.attachments().is_empty() => {
                        if !left {
                            plain.push(&args, &name);
                        }
                    }
                    other => {
                        left |= plain.flush(&listener);
                        if !(left && matches!(other, Notice::Event { .. })) {
                            left = notify(&listener, other);
                        }
                    }
                }
            }
            plain.flush(&listener);
        });
    }

    /// Where each join's auth comes from: `provider(done)` is called at every join and
    /// answers `done(json)` with the payload's JSON text, or `done(null)` for none.
    #[wasm_bindgen(js_name = setAuth)]
    pub fn set_auth(&self, provider: Function) {
        let provider: AuthProvider = Rc::new(move |done| {
            let callback = Closure::once_into_js(move |json: Option<String>| {
                let auth = json
                    .and_then(|text| sockeye_protocol::json::parse(text.as_bytes()).ok())
                    .filter(|v| *v != Value::Null);
                done(auth);
            });
            if let Err(error) = provider.call1(&JsValue::NULL, &callback) {
                web_sys_report(&error);
            }
        });
        self.socket.set_auth(Some(provider));
    }

    /// Joins the namespace (opening the connection if needed).
    pub fn connect(&self) {
        self.socket.connect();
    }

    /// Leaves the namespace.
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Emits `name` with the arguments `json` (a JSON array, binary parts as
    /// placeholders) and their `attachments`. `callback(err, json, attachments)` gets
    /// the answer (`err` null) or an Error after `timeout_ms` or when the connection is
    /// lost first. Returns 0 when sent now, 1 when buffered until connected, 2 when
    /// dropped (volatile while not connected).
    pub fn emit(
        &self,
        name: &str,
        json: String,
        attachments: Array,
        callback: Option<Function>,
        timeout_ms: Option<f64>,
        volatile: bool,
    ) -> Result<u32, JsValue> {
        let args = args_from_js(json, &attachments)?;
        let timeout = timeout_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64));
        let ack: Option<AckCallback> = callback.map(|f| -> AckCallback {
            Box::new(move |result| match result {
                Ok(args) => {
                    let json = array_text(&args, None);
                    call(&f, &[JsValue::NULL, json, attachments_to_js(&args)]);
                }
                Err(e) => {
                    // socket.io-client's messages.
                    let message = match e {
                        ServerAckError::Timeout => "operation has timed out",
                        ServerAckError::Disconnected => "socket has been disconnected",
                    };
                    call(&f, &[js_sys::Error::new(message).into()]);
                }
            })
        });
        // The socket sends at once when connected, drops a volatile emit otherwise, and
        // buffers the rest until it connects (SocketClient::emit).
        let sent = if self.socket.connected() {
            Sent::Now
        } else if volatile {
            Sent::Dropped
        } else {
            Sent::Buffered
        };
        let how = Emit {
            ack: ack.is_some(),
            timeout,
            volatile,
        };
        self.socket.emit(name, args, how, ack);
        Ok(sent as u32)
    }

    /// The socket id while connected.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> Option<String> {
        self.socket.id()
    }

    /// Whether the socket is connected.
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.socket.connected()
    }

    /// Whether the last join recovered the session that was cut.
    #[wasm_bindgen(getter)]
    pub fn recovered(&self) -> bool {
        self.socket.recovered()
    }

    /// Whether the socket wants to be connected.
    #[wasm_bindgen(getter)]
    pub fn active(&self) -> bool {
        self.socket.active()
    }
}
