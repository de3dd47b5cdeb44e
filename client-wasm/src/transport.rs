//! The two transports, over the browser's own WebSocket and fetch.
//!
//! A transport only moves Engine.IO packets and reports what happens to it
//! ([`TransportEvent`]); every decision about them is the shared manager's
//! (`sockeye_protocol::client::ManagerClient`).

use crate::browser::fetch_with_request;
use sockeye_protocol::client::polling_request_url;
pub use sockeye_protocol::client::TransportEvent;
use sockeye_protocol::engine::{payload, Packet};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// The owner's callback: the events that happened together (the packets of one polling
/// response; otherwise one event), in order. Taking them as one batch lets the owner
/// hand the application everything a response brought in one call.
pub type Sink = Rc<dyn Fn(&mut dyn Iterator<Item = TransportEvent>)>;

/// Reports one event.
fn report(sink: &Sink, event: TransportEvent) {
    sink(&mut std::iter::once(event));
}

/// A WebSocket transport.
pub struct WsTransport {
    ws: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl WsTransport {
    /// Opens a WebSocket to `url`.
    pub fn open(url: &str, sink: Sink) -> Result<WsTransport, JsValue> {
        let ws = WebSocket::new(url)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let emit = move |event: TransportEvent| report(&sink, event);
        let on_open = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| emit(TransportEvent::Opened))
        };
        let on_message = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let data = event.unchecked_into::<MessageEvent>().data();
                let packet = if let Some(text) = data.as_string() {
                    Packet::decode_text(&text)
                } else {
                    let bytes = js_sys::Uint8Array::new(&data).to_vec();
                    Ok(Packet::decode_binary(bytes.into()))
                };
                match packet {
                    Ok(packet) => emit(TransportEvent::Packet(packet)),
                    Err(_) => emit(TransportEvent::Closed { error: true }),
                }
            })
        };
        // As in engine.io-client: an error event ends the transport with an error; a
        // close without one is a plain close. (The owner ignores what follows the
        // first of the two.)
        let on_close = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                emit(TransportEvent::Closed { error: false })
            })
        };
        let on_error = {
            let emit = emit.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                emit(TransportEvent::Closed { error: true })
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WsTransport {
            ws,
            _handlers: [on_open, on_message, on_close, on_error],
        })
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
    /// A pause waits to be reported as [`TransportEvent::Paused`].
    pausing: bool,
    closed: bool,
    request_count: u64,
}

impl PollState {
    fn request_url(&mut self) -> String {
        self.request_count += 1;
        polling_request_url(&self.url, self.request_count, self.sid.as_deref())
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
            pausing: false,
            closed: false,
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
                report(&sink, TransportEvent::Written);
                settle_pause(&state);
            } else {
                report(&sink, TransportEvent::Closed { error: true });
            }
        });
    }

    /// Stops polling, and reports [`TransportEvent::Paused`] once the pending GET has
    /// returned and no POST is on its way (for the upgrade: a POST still on its way when
    /// the server switches to the WebSocket would be refused, and its packets lost).
    /// The report may come before this returns.
    pub fn pause(&self) {
        {
            let mut st = self.state.borrow_mut();
            st.paused = true;
            st.pausing = true;
        }
        settle_pause(&self.state);
    }

    /// Polls again after a [`PollingTransport::pause`] (the upgrade failed).
    pub fn resume(&self) {
        {
            let mut st = self.state.borrow_mut();
            st.paused = false;
            st.pausing = false;
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
            report(&sink, TransportEvent::Closed { error: true });
            return;
        };
        // The response's packets go to the owner as one batch, read lazily: each one is
        // handled before the next is looked at, so a packet that closes the transport
        // (the owner calls `close`) ends the batch.
        let mut events = packets.into_iter().flat_map(|packet| {
            let opened = match &packet {
                Packet::Open(handshake) => {
                    state.borrow_mut().sid = Some(handshake.sid.clone());
                    Some(TransportEvent::Opened)
                }
                _ => None,
            };
            opened.into_iter().chain([TransportEvent::Packet(packet)])
        });
        let mut open = std::iter::from_fn(|| {
            if state.borrow().closed {
                return None;
            }
            events.next()
        });
        sink(&mut open);
        if state.borrow().closed {
            return;
        }
        let paused = state.borrow().paused;
        if paused {
            settle_pause(&state);
        } else {
            poll(state);
        }
    });
}

/// Reports a pause done once neither a GET nor a POST is on its way.
fn settle_pause(state: &Rc<RefCell<PollState>>) {
    let sink = {
        let mut st = state.borrow_mut();
        let idle = !st.polling && !st.writing;
        if st.paused && st.pausing && idle && !st.closed {
            st.pausing = false;
            Some(st.sink.clone())
        } else {
            None
        }
    };
    if let Some(sink) = sink {
        report(&sink, TransportEvent::Paused);
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
