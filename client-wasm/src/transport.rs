//! The two transports, over the browser's own WebSocket and fetch.
//!
//! A transport only moves Engine.IO packets; every decision about them is the
//! manager's, through the shared protocol state machines.

use crate::browser::fetch_with_request;
use sockeye_protocol::engine::{payload, Packet};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// What a transport reports to its owner.
pub enum TransportEvent {
    /// The transport is ready to carry packets.
    Open,
    /// A packet arrived.
    Packet(Packet),
    /// The last write is done (polling: its POST was answered).
    Written,
    /// The transport closed; `error` when it failed rather than closed cleanly.
    Close {
        /// Whether this was a failure.
        error: bool,
    },
}

/// The owner's callback.
pub type Sink = Rc<dyn Fn(TransportEvent)>;

/// A WebSocket transport.
pub struct WsTransport {
    ws: WebSocket,
    sink: Rc<RefCell<Sink>>,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl WsTransport {
    /// Opens a WebSocket to `url`.
    pub fn open(url: &str, sink: Sink) -> Result<WsTransport, JsValue> {
        let ws = WebSocket::new(url)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        // The owner may swap the sink (a probe becoming the transport); every handler
        // reads the current one, cloned out so the owner can swap it from inside.
        let sink = Rc::new(RefCell::new(sink));
        let emit = {
            let sink = sink.clone();
            move |event: TransportEvent| {
                let current = sink.borrow().clone();
                current(event)
            }
        };
        let on_open = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| emit(TransportEvent::Open))
        };
        let on_message = {
            let sink = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let data = event.unchecked_into::<MessageEvent>().data();
                let packet = if let Some(text) = data.as_string() {
                    Packet::decode_text(&text)
                } else {
                    let bytes = js_sys::Uint8Array::new(&data).to_vec();
                    Ok(Packet::decode_binary(bytes.into()))
                };
                match packet {
                    Ok(packet) => sink(TransportEvent::Packet(packet)),
                    Err(_) => sink(TransportEvent::Close { error: true }),
                }
            })
        };
        // As in engine.io-client: an error event ends the transport with an error; a
        // close without one is a plain close. (The owner ignores what follows the
        // first of the two.)
        let on_close = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                emit(TransportEvent::Close { error: false })
            })
        };
        let on_error = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| emit(TransportEvent::Close { error: true }))
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WsTransport {
            ws,
            sink,
            _handlers: [on_open, on_message, on_close, on_error],
        })
    }

    /// Sends future events to `sink` instead.
    pub fn set_sink(&self, sink: Sink) {
        *self.sink.borrow_mut() = sink;
    }

    /// Sends one packet (a binary message as a binary frame).
    pub fn send(&self, packet: &Packet) {
        let sent = match packet {
            Packet::Binary(data) => self.ws.send_with_u8_array(data),
            other => self.ws.send_with_str(&other.encode_text()),
        };
        if sent.is_err() {
            // The close event follows and reports the failure.
            let _ = self.ws.close();
        }
    }

    /// Closes the socket without reporting anything more.
    pub fn close(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// An HTTP long-polling transport over `fetch`. Clones share the transport.
#[derive(Clone)]
pub struct PollingTransport {
    state: Rc<RefCell<PollState>>,
}

struct PollState {
    url: String,
    sink: Sink,
    sid: Option<String>,
    polling: bool,
    writing: bool,
    paused: bool,
    closed: bool,
    on_paused: Option<Box<dyn FnOnce()>>,
    request_count: u64,
}

impl PollState {
    fn request_url(&mut self) -> String {
        self.request_count += 1;
        let mut url = format!("{}&t={}", self.url, self.request_count);
        if let Some(sid) = &self.sid {
            url.push_str("&sid=");
            url.push_str(sid);
        }
        url
    }
}

impl PollingTransport {
    /// Starts polling `url` (which carries `EIO` and `transport=polling`); the first
    /// GET is the handshake.
    pub fn open(url: &str, sink: Sink) -> PollingTransport {
        let state = Rc::new(RefCell::new(PollState {
            url: url.to_owned(),
            sink,
            sid: None,
            polling: false,
            writing: false,
            paused: false,
            closed: false,
            on_paused: None,
            request_count: 0,
        }));
        poll(state.clone());
        PollingTransport { state }
    }

    /// POSTs `packets` as one payload and reports [`TransportEvent::Written`] once
    /// answered. The owner writes again only after that.
    pub fn write(&self, packets: &[Packet]) {
        let url = {
            let mut st = self.state.borrow_mut();
            st.writing = true;
            st.request_url()
        };
        let body = payload::encode(packets);
        let state = self.state.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let ok = request("POST", &url, Some(&body)).await.is_ok();
            let sink = {
                let mut st = state.borrow_mut();
                st.writing = false;
                if st.closed {
                    return;
                }
                st.closed = !ok;
                st.sink.clone()
            };
            if ok {
                sink(TransportEvent::Written);
                settle_pause(&state);
            } else {
                sink(TransportEvent::Close { error: true });
            }
        });
    }

    /// Stops polling, and calls `done` once the pending GET has returned and no POST is
    /// on its way (for the upgrade: a POST still on its way when the server switches to
    /// the WebSocket would be refused, and its packets lost).
    pub fn pause(&self, done: impl FnOnce() + 'static) {
        {
            let mut st = self.state.borrow_mut();
            st.paused = true;
            st.on_paused = Some(Box::new(done));
        }
        settle_pause(&self.state);
    }

    /// Polls again after a [`PollingTransport::pause`] (the upgrade failed).
    pub fn resume(&self) {
        {
            let mut st = self.state.borrow_mut();
            st.paused = false;
            st.on_paused = None;
        }
        poll(self.state.clone());
    }

    /// Stops for good without reporting anything more (a POST on its way still goes).
    pub fn close(&self) {
        self.state.borrow_mut().closed = true;
    }
}

fn poll(state: Rc<RefCell<PollState>>) {
    let url = {
        let mut st = state.borrow_mut();
        if st.closed || st.paused || st.polling {
            return;
        }
        st.polling = true;
        st.request_url()
    };
    wasm_bindgen_futures::spawn_local(async move {
        let result = request("GET", &url, None).await;
        let sink = {
            let mut st = state.borrow_mut();
            st.polling = false;
            if st.closed {
                return;
            }
            st.sink.clone()
        };
        let packets = result
            .ok()
            .and_then(|body| payload::decode(&body, usize::MAX).ok());
        let Some(packets) = packets else {
            state.borrow_mut().closed = true;
            sink(TransportEvent::Close { error: true });
            return;
        };
        for packet in packets {
            if let Packet::Open(handshake) = &packet {
                state.borrow_mut().sid = Some(handshake.sid.clone());
                sink(TransportEvent::Open);
            }
            if state.borrow().closed {
                return;
            }
            sink(TransportEvent::Packet(packet));
        }
        let paused = state.borrow().paused;
        if paused {
            settle_pause(&state);
        } else {
            poll(state);
        }
    });
}

/// Calls the pause's `done` once neither a GET nor a POST is on its way.
fn settle_pause(state: &Rc<RefCell<PollState>>) {
    let done = {
        let mut st = state.borrow_mut();
        let idle = !st.polling && !st.writing;
        if st.paused && idle {
            st.on_paused.take()
        } else {
            None
        }
    };
    if let Some(done) = done {
        done();
    }
}

/// One HTTP request; the body of a 200 answer, or an error.
async fn request(method: &str, url: &str, body: Option<&str>) -> Result<String, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    if body.is_some() {
        request
            .headers()
            .set("Content-Type", "text/plain;charset=UTF-8")?;
    }
    let response: web_sys::Response = JsFuture::from(fetch_with_request(&request))
        .await?
        .dyn_into()?;
    if response.status() != 200 {
        return Err(JsValue::from_str(&format!("HTTP {}", response.status())));
    }
    Ok(JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default())
}
