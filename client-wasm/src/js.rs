//! The JavaScript surface: `RawManager` and `RawSocket`, which the package's thin glue
//! (`js/sockeye.js`) wraps into socket.io-client's `Manager` and `Socket` classes.
//!
//! The glue keeps only what JavaScript does best: listener lists, variadic arguments,
//! Promises and the manager cache. Everything about the protocol happens here.

use crate::convert::{args_to_array, from_value, to_value, values_or_warn};
use crate::manager::{AckCallback, AuthProvider, Manager, ManagerEvent, Notice, Socket};
use crate::options::Options;
use js_sys::{Array, Function};
use sockeye_protocol::client::Emit;
use sockeye_protocol::Value;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// Calls a listener, reporting (not propagating) what it throws: one faulty listener
/// must not break the client's own bookkeeping.
fn call(f: &Function, args: &[JsValue]) {
    let array: Array = args.iter().collect();
    if let Err(error) = f.apply(&JsValue::NULL, &array) {
        web_sys_report(&error);
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
                ManagerEvent::Close(reason) => ("close", reason.into()),
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

#[wasm_bindgen(js_class = RawSocket)]
impl JsSocket {
    /// `listener(kind, ...)` hears: `("connect")`, `("connect_error", message, data)`,
    /// `("disconnect", reason)`, `("event", name, args, ack?)` where `ack(argsArray)`
    /// answers the server.
    #[wasm_bindgen(js_name = setListener)]
    pub fn set_listener(&self, listener: Function) {
        self.socket.set_listener(move |notice| match notice {
            Notice::Connect => call(&listener, &["connect".into()]),
            Notice::ConnectError { message, data } => {
                let data = data.as_ref().map(from_value).unwrap_or(JsValue::UNDEFINED);
                call(&listener, &["connect_error".into(), message.into(), data]);
            }
            Notice::Disconnect(reason) => call(&listener, &["disconnect".into(), reason.into()]),
            Notice::Event { name, args, ack } => {
                let Some(args) = values_or_warn(&args, || format!("event {name:?}")) else {
                    return;
                };
                let ack = match ack {
                    Some(responder) => Closure::once_into_js(move |args: JsValue| {
                        let args: Vec<Value> = Array::from(&args)
                            .iter()
                            .map(|arg| to_value(&arg).unwrap_or(Value::Null))
                            .collect();
                        responder.send(args);
                    }),
                    None => JsValue::UNDEFINED,
                };
                let args = args_to_array(&args).into();
                call(&listener, &["event".into(), name.into(), args, ack]);
            }
        });
    }

    /// The join's auth: an object, or a function given a callback; null for none.
    /// Read again at every join.
    #[wasm_bindgen(js_name = setAuth)]
    pub fn set_auth(&self, auth: JsValue) {
        let provider: Option<AuthProvider> = if auth.is_function() {
            let auth: Function = auth.into();
            Some(Rc::new(move |done| {
                let callback = Closure::once_into_js(move |data: JsValue| {
                    done(to_value(&data).ok().filter(|v| *v != Value::Null));
                });
                if let Err(error) = auth.call1(&JsValue::NULL, &callback) {
                    web_sys_report(&error);
                }
            }))
        } else if auth.is_object() {
            Some(Rc::new(move |done| done(to_value(&auth).ok())))
        } else {
            None
        };
        self.socket.set_auth(provider);
    }

    /// Joins the namespace (opening the connection if needed).
    pub fn connect(&self) {
        self.socket.connect();
    }

    /// Leaves the namespace.
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Emits `name` with `args`. `ack(err, argsArray)` gets the answer (`err` null),
    /// or an Error after `timeout_ms` or when the connection is lost first.
    pub fn emit(
        &self,
        name: &str,
        args: Array,
        ack: Option<Function>,
        timeout_ms: Option<f64>,
        volatile: bool,
    ) -> Result<(), JsValue> {
        let args = args
            .iter()
            .map(|a| to_value(&a))
            .collect::<Result<Vec<Value>, _>>()?;
        let timeout = timeout_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64));
        let ack: Option<AckCallback> = ack.map(|f| -> AckCallback {
            let event = name.to_owned();
            Box::new(move |result| match result {
                Ok(args) => {
                    if let Some(args) = values_or_warn(&args, || format!("ack of {event:?}")) {
                        call(&f, &[JsValue::NULL, args_to_array(&args).into()]);
                    }
                }
                Err(e) => {
                    let error = js_sys::Error::new(&e.to_string());
                    call(&f, &[error.into(), Array::new().into()]);
                }
            })
        });
        let how = Emit {
            ack: ack.is_some(),
            timeout,
            volatile,
        };
        self.socket.emit(name, args, how, ack);
        Ok(())
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
