//! The options of `io(url, opts)`, read from a JavaScript object with socket.io-client's
//! names and defaults.

use js_sys::Reflect;
use sockeye_protocol::Backoff;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};

/// The options a manager and its sockets use (socket.io-client's names in comments).
#[derive(Debug, Clone)]
pub struct Options {
    /// The Engine.IO path, with a trailing slash (`path`, default `/socket.io/`).
    pub path: String,
    /// Extra query parameters of every Engine.IO request (`query`).
    pub query: Vec<(String, String)>,
    /// "polling" and/or "websocket", the first one used to open (`transports`).
    pub transports: Vec<String>,
    /// Whether to upgrade from polling to WebSocket (`upgrade`).
    pub upgrade: bool,
    /// Whether to reconnect after losing the connection (`reconnection`).
    pub reconnection: bool,
    /// Attempts before giving up, unbounded if `None` (`reconnectionAttempts`).
    pub reconnection_attempts: Option<u32>,
    /// The delays between attempts (`reconnectionDelay`, `reconnectionDelayMax`,
    /// `randomizationFactor`).
    pub backoff: Backoff,
    /// How long opening the connection, or a join, may take (`timeout`).
    pub timeout: Duration,
    /// Whether `io()` connects at once (`autoConnect`).
    pub auto_connect: bool,
    /// The default ack timeout (`ackTimeout`).
    pub ack_timeout: Option<Duration>,
    /// Always make a new manager (`forceNew`).
    pub force_new: bool,
    /// Share a manager between namespaces of one origin (`multiplex`).
    pub multiplex: bool,
}

impl Default for Options {
    /// socket.io-client's defaults.
    fn default() -> Self {
        Options {
            path: "/socket.io/".into(),
            query: Vec::new(),
            transports: vec!["polling".into(), "websocket".into()],
            upgrade: true,
            reconnection: true,
            reconnection_attempts: None,
            backoff: Backoff::default(),
            timeout: Duration::from_millis(20_000),
            auto_connect: true,
            ack_timeout: None,
            force_new: false,
            multiplex: true,
        }
    }
}

fn get(opts: &JsValue, key: &str) -> JsValue {
    if !opts.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(opts, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn millis(opts: &JsValue, key: &str) -> Option<Duration> {
    get(opts, key)
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_millis(ms as u64))
}

fn flag(opts: &JsValue, key: &str, default: bool) -> bool {
    get(opts, key).as_bool().unwrap_or(default)
}

impl Options {
    /// Reads `opts` (any JavaScript value; missing keys take the defaults).
    pub fn from_js(opts: &JsValue) -> Options {
        let defaults = Options::default();
        let path = get(opts, "path")
            .as_string()
            .map(|path| format!("{}/", path.trim_end_matches('/')))
            .unwrap_or(defaults.path);
        let query = match get(opts, "query") {
            q if q.is_object() => js_sys::Object::entries(q.unchecked_ref())
                .iter()
                .filter_map(|pair| {
                    let pair: js_sys::Array = pair.into();
                    let value = pair.get(1);
                    let value = value
                        .as_string()
                        .or_else(|| value.as_f64().map(|n| n.to_string()))
                        .or_else(|| value.as_bool().map(|b| b.to_string()))?;
                    Some((pair.get(0).as_string()?, value))
                })
                .collect(),
            _ => defaults.query,
        };
        let transports = match get(opts, "transports") {
            t if js_sys::Array::is_array(&t) => js_sys::Array::from(&t)
                .iter()
                .filter_map(|t| t.as_string())
                .filter(|t| t == "polling" || t == "websocket")
                .collect(),
            _ => defaults.transports,
        };
        let attempts = get(opts, "reconnectionAttempts")
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u32);
        let backoff = defaults.backoff;
        Options {
            path,
            query,
            transports,
            upgrade: flag(opts, "upgrade", defaults.upgrade),
            reconnection: flag(opts, "reconnection", defaults.reconnection),
            reconnection_attempts: attempts,
            backoff: Backoff {
                min: millis(opts, "reconnectionDelay").unwrap_or(backoff.min),
                max: millis(opts, "reconnectionDelayMax").unwrap_or(backoff.max),
                factor: backoff.factor,
                jitter: get(opts, "randomizationFactor")
                    .as_f64()
                    .filter(|f| (0.0..=1.0).contains(f))
                    .unwrap_or(backoff.jitter),
            },
            timeout: millis(opts, "timeout").unwrap_or(defaults.timeout),
            auto_connect: flag(opts, "autoConnect", defaults.auto_connect),
            ack_timeout: millis(opts, "ackTimeout"),
            force_new: flag(opts, "forceNew", defaults.force_new),
            multiplex: flag(opts, "multiplex", defaults.multiplex),
        }
    }
}
