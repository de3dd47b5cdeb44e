//! The Rust API: a socket with typed events, for Rust/wasm apps.
//!
//! An event is a type implementing [`Event`] (its name and argument types), the same
//! type the server's handlers use, so both ends agree at compile time.
//!
//! ```no_run
//! use sockeye_client::{Client, Event, Options};
//!
//! struct Chat;
//! impl Event for Chat {
//!     const NAME: &'static str = "chat";
//!     type Args = (String, String);
//! }
//!
//! let client = Client::new("http://127.0.0.1:8080/chat", Options::default());
//! client.on::<Chat>(|(from, text)| web_sys_log(&format!("{from}: {text}")));
//! client.emit::<Chat>(("me".into(), "hello".into())).unwrap();
//! client.connect();
//! # fn web_sys_log(_: &str) {}
//! ```

use crate::browser::warn;
use crate::manager::{AckResponder, Manager, Notice, ServerAckError, Socket};
use crate::options::Options;
use sockeye_protocol::client::Emit;
use sockeye_protocol::event::{Event, Request};
use sockeye_protocol::socket::{Args, ArgsError, Parser};
use sockeye_protocol::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

type EventHandler = Rc<dyn Fn(&Args, Option<AckResponder>)>;
type ConnectErrorHandler = Rc<dyn Fn(&str, Option<&Value>)>;
type DisconnectHandler = Rc<dyn Fn(&str)>;

#[derive(Default)]
struct Handlers {
    connect: Vec<Rc<dyn Fn()>>,
    connect_error: Vec<ConnectErrorHandler>,
    disconnect: Vec<DisconnectHandler>,
    events: HashMap<String, Vec<EventHandler>>,
    /// Left the namespace since the last connect: the rest of a batch of events that
    /// came with the one being handled is not delivered (as socket.io-client).
    left: bool,
}

/// Why [`Client::emit_with_ack`] failed (the server crate's `EmitError` is why a
/// server emit did not go out).
#[derive(Debug, thiserror::Error)]
pub enum EmitWithAckError {
    /// The arguments did not serialize.
    #[error("arguments: {0}")]
    Serialize(ArgsError),
    /// No ack came.
    #[error("{0}")]
    Ack(#[from] ServerAckError),
    /// The ack's arguments did not have the expected types.
    #[error("ack: {0}")]
    Answer(ArgsError),
}

/// A socket of one namespace, with listeners registered by event type.
#[derive(Clone)]
pub struct Client {
    socket: Socket,
    handlers: Rc<RefCell<Handlers>>,
}

impl Client {
    /// A client for `url` (`http://host:port/namespace`); call [`Client::connect`]
    /// after registering listeners. Each client has its own connection; use
    /// [`Client::on_manager`] to share one between namespaces.
    pub fn new(url: &str, opts: Options) -> Client {
        let (origin, namespace) = split_url(url);
        Client::on_manager(&Manager::new(origin, opts), namespace)
    }

    /// A client for `namespace` on an existing connection.
    pub fn on_manager(manager: &Manager, namespace: &str) -> Client {
        let socket = manager.socket(namespace);
        let handlers = Rc::new(RefCell::new(Handlers::default()));
        let weak = Rc::downgrade(&handlers);
        socket.set_listener(move |notices| {
            let Some(handlers) = weak.upgrade() else {
                return;
            };
            for notice in notices {
                dispatch(&handlers, notice);
            }
        });
        Client { socket, handlers }
    }

    /// The underlying socket (id, state, raw emits).
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Sets the auth payload sent with every join.
    pub fn set_auth(&self, auth: Value) {
        self.socket
            .set_auth(Some(Rc::new(move |done| done(Some(auth.clone())))));
    }

    /// Connects (and reconnects on its own until [`Client::disconnect`]).
    pub fn connect(&self) {
        self.socket.connect();
    }

    /// Disconnects ("io client disconnect").
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Calls `f` on every `connect`.
    pub fn on_connect(&self, f: impl Fn() + 'static) {
        self.handlers.borrow_mut().connect.push(Rc::new(f));
    }

    /// Calls `f` with the message and data of every `connect_error`.
    pub fn on_connect_error(&self, f: impl Fn(&str, Option<&Value>) + 'static) {
        self.handlers.borrow_mut().connect_error.push(Rc::new(f));
    }

    /// Calls `f` with the reason of every `disconnect`.
    pub fn on_disconnect(&self, f: impl Fn(&str) + 'static) {
        self.handlers.borrow_mut().disconnect.push(Rc::new(f));
    }

    /// Calls `f` with the arguments of every `E`; arguments of the wrong types are
    /// dropped with a console warning.
    pub fn on<E: Event + 'static>(&self, f: impl Fn(E::Args) + 'static) {
        self.on_args(E::NAME, move |args, _| {
            match args.deserialize::<E::Args>() {
                Ok(args) => f(args),
                Err(e) => warn(&format!("sockeye: event {:?} ignored: {e}", E::NAME)),
            }
        });
    }

    /// Answers every `E` with what `f` returns.
    pub fn on_request<E: Request + 'static>(&self, f: impl Fn(E::Args) -> E::Ack + 'static) {
        self.on_args(E::NAME, move |args, ack| {
            match args.deserialize::<E::Args>() {
                Ok(args) => {
                    let answer = Args::serialize(Parser::Json, &f(args));
                    match (ack, answer) {
                        (Some(ack), Ok(answer)) => ack.send(answer),
                        (_, Err(e)) => {
                            warn(&format!("sockeye: ack of {:?} not sent: {e}", E::NAME))
                        }
                        (None, Ok(_)) => {}
                    }
                }
                Err(e) => warn(&format!("sockeye: event {:?} ignored: {e}", E::NAME)),
            }
        });
    }

    /// Calls `f` with the raw arguments of every `name`, and the ack when the server
    /// asked for one.
    pub fn on_raw(&self, name: &str, f: impl Fn(Vec<Value>, Option<AckResponder>) + 'static) {
        let event = name.to_owned();
        self.on_args(name, move |args, ack| {
            if let Some(args) = values_or_warn(args, || format!("event {event:?}")) {
                f(args, ack);
            }
        });
    }

    /// Calls `f` with the arguments of every `name` as they came.
    fn on_args(&self, name: &str, f: impl Fn(&Args, Option<AckResponder>) + 'static) {
        self.handlers
            .borrow_mut()
            .events
            .entry(name.to_owned())
            .or_default()
            .push(Rc::new(f));
    }

    /// Emits `E` (buffered until connected).
    pub fn emit<E: Event>(&self, args: E::Args) -> Result<(), ArgsError> {
        let args = Args::serialize(Parser::Json, &args)?;
        self.socket.emit(E::NAME, args, Emit::default(), None);
        Ok(())
    }

    /// Emits `E` only if connected now (socket.io-client's `volatile`).
    pub fn emit_volatile<E: Event>(&self, args: E::Args) -> Result<(), ArgsError> {
        let args = Args::serialize(Parser::Json, &args)?;
        let how = Emit {
            volatile: true,
            ..Emit::default()
        };
        self.socket.emit(E::NAME, args, how, None);
        Ok(())
    }

    /// Emits `E` and waits for its ack, for at most `timeout` (or the `ackTimeout`
    /// option; forever if neither is set).
    pub fn emit_with_ack<E: Request + 'static>(
        &self,
        args: E::Args,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<E::Ack, EmitWithAckError>> {
        let slot = Rc::new(RefCell::new(Oneshot::default()));
        match Args::serialize(Parser::Json, &args) {
            Err(e) => slot.borrow_mut().value = Some(Err(EmitWithAckError::Serialize(e))),
            Ok(args) => {
                let how = Emit {
                    timeout: timeout.or(self.socket.manager().options().ack_timeout),
                    ..Emit::default()
                };
                let answer = slot.clone();
                let callback = Box::new(move |result: Result<Args, ServerAckError>| {
                    let result = result.map_err(EmitWithAckError::from).and_then(|args| {
                        args.deserialize::<E::Ack>()
                            .map_err(EmitWithAckError::Answer)
                    });
                    let waker = {
                        let mut slot = answer.borrow_mut();
                        slot.value = Some(result);
                        slot.waker.take()
                    };
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                });
                self.socket.emit(E::NAME, args, how, Some(callback));
            }
        }
        AckFuture { slot }
    }
}

fn dispatch(handlers: &RefCell<Handlers>, notice: Notice) {
    // Clone the handler lists out, so a handler may register more.
    match notice {
        Notice::Connect => {
            handlers.borrow_mut().left = false;
            let list = handlers.borrow().connect.clone();
            list.iter().for_each(|f| f());
        }
        Notice::ConnectError { message, data } => {
            let list = handlers.borrow().connect_error.clone();
            list.iter().for_each(|f| f(&message, data.as_ref()));
        }
        Notice::Disconnect(reason) => {
            handlers.borrow_mut().left = true;
            let list = handlers.borrow().disconnect.clone();
            list.iter().for_each(|f| f(&reason));
        }
        Notice::Event { name, args, ack } => {
            if handlers.borrow().left {
                return;
            }
            let list = handlers.borrow().events.get(&name).cloned();
            let Some(list) = list else { return };
            // The ack goes to the first handler; an ack is answered once.
            let mut ack = ack;
            for f in list {
                f(&args, ack.take());
            }
        }
    }
}

/// Splits `http://host:port/namespace` into the origin and the namespace.
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) if url.len() > after_scheme + i + 1 => {
            let cut = after_scheme + i;
            let ns = url[cut..].split(['?', '#']).next().unwrap_or("/");
            (&url[..cut], ns)
        }
        Some(i) => (&url[..after_scheme + i], "/"),
        None => (url, "/"),
    }
}

/// A value handed from a callback to a future.
struct Oneshot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

impl<T> Default for Oneshot<T> {
    fn default() -> Self {
        Oneshot {
            value: None,
            waker: None,
        }
    }
}

/// Resolves with the ack (see [`Client::emit_with_ack`]).
struct AckFuture<T> {
    slot: Rc<RefCell<Oneshot<Result<T, EmitWithAckError>>>>,
}

impl<T> Future for AckFuture<T> {
    type Output = Result<T, EmitWithAckError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Reads the arguments of an event or an ack from the server as values. Arguments that
/// do not read are a malformed packet from the server: logged with `what` (the packet
/// they came in), and `None`, so the packet is dropped.
fn values_or_warn(args: &Args, what: impl FnOnce() -> String) -> Option<Vec<Value>> {
    match args.values() {
        Ok(values) => Some(values),
        Err(e) => {
            warn(&format!("sockeye: {} dropped: {e}", what()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_origin_and_namespace() {
        assert_eq!(split_url("http://h:1"), ("http://h:1", "/"));
        assert_eq!(split_url("http://h:1/"), ("http://h:1", "/"));
        assert_eq!(split_url("http://h:1/chat"), ("http://h:1", "/chat"));
        assert_eq!(split_url("http://h:1/chat?x=1"), ("http://h:1", "/chat"));
    }
}
