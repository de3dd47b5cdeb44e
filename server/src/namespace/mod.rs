//! Namespaces: a name, its sockets, its adapter and its connect logic.

mod local;
mod registry;

pub(crate) use registry::Registry;

use crate::adapter::{
    Adapter, AdapterError, AdapterFactory, BroadcastOptions, LocalAdapter, LocalNamespace,
    NamespaceRef, Room, Sid,
};
use crate::args::{IntoAck, IntoArgs};
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::config::Config;
use crate::error::{ConnectError, EmitError};
use crate::hash::Map;
use crate::rate_limit::{Limits, RateLimit};
use crate::recovery::RecoveryStore;
use crate::socket::{check_event, Socket};
use futures_util::future::BoxFuture;
use sockeye_protocol::socket::Parser;
use sockeye_protocol::Value;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

pub(crate) type Middleware =
    Arc<dyn Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<'static, ()> + Send + Sync>;
/// A listener of events other nodes send with `serverSideEmit`; it resolves to its
/// answer (used when the sender asked for one).
pub(crate) type ServerSideHandler =
    Arc<dyn Fn(Vec<Value>) -> BoxFuture<'static, Value> + Send + Sync>;

/// What every namespace of a server shares: settings and application state.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) state: http::Extensions,
    /// Makes each namespace's adapter; `None` is the in-memory [`LocalAdapter`].
    pub(crate) adapter: Option<Arc<dyn AdapterFactory>>,
    /// The instrumentation that hears of every socket (set once, by the admin UI).
    pub(crate) observer: std::sync::OnceLock<Arc<dyn crate::socket::observer::SocketObserver>>,
}

impl Shared {
    pub(crate) fn observer(&self) -> Option<&dyn crate::socket::observer::SocketObserver> {
        self.observer.get().map(|o| &**o)
    }
}

/// The connect logic of a namespace; dynamic namespaces share their parent's.
#[derive(Default)]
pub(crate) struct NsHandlers {
    middlewares: RwLock<Vec<Middleware>>,
    connection: RwLock<Option<ConnectionHandler>>,
    rate_limits: RwLock<Limits>,
}

impl NsHandlers {
    pub(crate) fn middlewares(&self) -> Vec<Middleware> {
        self.middlewares.read().expect("middlewares lock").clone()
    }

    /// The rate limits a joining socket gets (`default` is the server's per-socket
    /// limit); `None` when there are none, so the socket pays nothing for them.
    pub(crate) fn limits(&self, default: Option<RateLimit>) -> Option<Arc<Limits>> {
        let limits = self.rate_limits.read().expect("rate limits lock");
        if limits.is_empty() && default.is_none() {
            return None;
        }
        let mut limits = limits.clone();
        limits.socket = limits.socket.or(default);
        Some(Arc::new(limits))
    }

    pub(crate) fn connection(&self) -> Option<ConnectionHandler> {
        self.connection
            .read()
            .expect("connection handler lock")
            .clone()
    }
}

pub(crate) struct NsInner {
    pub(crate) name: String,
    pub(crate) handlers: Arc<NsHandlers>,
    pub(crate) sockets: RwLock<Map<Sid, Socket>>,
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) server_side_handlers: RwLock<Map<String, ServerSideHandler>>,
    /// Kept packets and sessions, when connection state recovery is on.
    pub(crate) recovery: Option<Mutex<RecoveryStore>>,
    /// `sockeye_sockets{namespace}`: moved only where `sockets` gains or loses an entry.
    pub(crate) sockets_gauge: metrics::Gauge,
}

impl NsInner {
    pub(crate) fn new(name: &str, handlers: Arc<NsHandlers>, shared: Arc<Shared>) -> Arc<NsInner> {
        Arc::new_cyclic(|weak: &Weak<NsInner>| {
            let adapter: Arc<dyn Adapter> = match &shared.adapter {
                Some(factory) => {
                    let local: Weak<dyn LocalNamespace> = weak.clone();
                    factory.create(NamespaceRef::new(name, local))
                }
                None => Arc::new(LocalAdapter::default()),
            };
            NsInner {
                name: name.to_owned(),
                handlers,
                sockets: RwLock::new(Map::default()),
                adapter,
                recovery: shared
                    .config
                    .recovery
                    .clone()
                    .map(|config| Mutex::new(RecoveryStore::new(config))),
                shared,
                server_side_handlers: RwLock::new(Map::default()),
                sockets_gauge: crate::metrics::sockets(name),
            }
        })
    }

    /// Registers a socket that passed the middlewares; it joins its own room.
    pub(crate) fn insert(&self, socket: &Socket) {
        let sid = socket.inner.id.clone();
        let replaced = self
            .sockets
            .write()
            .expect("sockets lock")
            .insert(sid.clone(), socket.clone());
        if replaced.is_none() {
            self.sockets_gauge.increment(1.0);
        }
        self.adapter.join(&sid, std::slice::from_ref(&sid));
    }

    pub(crate) fn remove(&self, sid: &Sid) {
        self.adapter.leave_all(sid);
        if self
            .sockets
            .write()
            .expect("sockets lock")
            .remove(sid)
            .is_some()
        {
            self.sockets_gauge.decrement(1.0);
        }
    }
}

/// A namespace (`/`, `/chat`, ...). Cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    pub(crate) inner: Arc<NsInner>,
}

impl Namespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Adds a middleware that runs when a client joins, before `on_connection`. It sees
    /// the socket (with `auth()` and `handshake()`) and may refuse the join with a
    /// [`ConnectError`], which the client receives as `connect_error`. Middlewares run
    /// in the order they were added; the first refusal wins.
    pub fn middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware: Middleware = Arc::new(move |socket| Box::pin(middleware(socket)));
        self.inner
            .handlers
            .middlewares
            .write()
            .expect("middlewares lock")
            .push(middleware);
    }

    /// Sets the handler that runs for each socket that joins; it typically registers
    /// the socket's event handlers with [`Socket::on`] before its first `.await`.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ConnectionHandler = Arc::new(move |socket| Box::pin(handler(socket)));
        *self
            .inner
            .handlers
            .connection
            .write()
            .expect("connection handler lock") = Some(handler);
    }

    /// Limits how often each socket of this namespace may send `event` (a token bucket
    /// per socket and event), on top of the socket's limit over all its events. A
    /// packet past it is dropped: see [`RateLimit`] and `docs/bounds.md`. Applies to
    /// the sockets that join after the call.
    pub fn rate_limit(&self, event: &str, limit: RateLimit) {
        self.inner
            .handlers
            .rate_limits
            .write()
            .expect("rate limits lock")
            .events
            .insert(event.to_owned(), limit);
    }

    /// Limits how many events each socket of this namespace may send, all events
    /// together, in place of the server's [`Builder::rate_limit`]: past it the
    /// connection is not read until the bucket refills. Applies to the sockets that
    /// join after the call.
    ///
    /// [`Builder::rate_limit`]: crate::Builder::rate_limit
    pub fn socket_rate_limit(&self, limit: RateLimit) {
        self.inner
            .handlers
            .rate_limits
            .write()
            .expect("rate limits lock")
            .socket = Some(limit);
    }

    /// Sends `event` to every socket of the namespace.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.broadcast().emit(event, args)
    }

    /// A broadcast to rooms.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// A broadcast to everyone but these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// A broadcast to the whole namespace, to narrow with `to` and `except`.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.inner.clone(), BroadcastOptions::default())
    }

    /// Listens to `event` sent by other nodes with [`Namespace::server_side_emit`] (or
    /// socket.io's `serverSideEmit`). What the handler returns is the answer a sender
    /// that asked for one receives (its first value; `null` for `()`).
    pub fn on_server_side<F, Fut, R>(&self, event: &str, handler: F)
    where
        F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoAck + 'static,
    {
        let handler: ServerSideHandler = Arc::new(move |args| {
            let fut = handler(args);
            Box::pin(async move {
                fut.await
                    .into_ack(Parser::Json)
                    .and_then(|args| args.ok()?.values().ok()?.into_iter().next())
                    .unwrap_or(Value::Null)
            })
        });
        self.inner
            .server_side_handlers
            .write()
            .expect("server-side handlers lock")
            .insert(event.to_owned(), handler);
    }

    /// Sends `event` to this namespace's server-side listeners on every other node
    /// (socket.io's `serverSideEmit`).
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        check_event(event)?;
        self.inner
            .adapter
            .remote_server_side_emit(server_side_data(event, args)?);
        Ok(())
    }

    /// Like [`Namespace::server_side_emit`], and resolves to one answer from each
    /// other node, or to [`AdapterError::Timeout`] when they do not all answer within
    /// `timeout`.
    pub fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        if check_event(event).is_err() {
            return Box::pin(async { Ok(Vec::new()) });
        }
        let data = match server_side_data(event, args) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(error = %e, "server-side arguments not serializable: not sent");
                return Box::pin(async { Ok(Vec::new()) });
            }
        };
        self.inner
            .adapter
            .remote_server_side_emit_with_ack(data, timeout)
    }

    /// Every room with a socket in it, on every node (socket.io's `allRooms`).
    pub async fn all_rooms(&self) -> Result<Vec<Room>, AdapterError> {
        let mut rooms = self.inner.adapter.rooms();
        for room in self.inner.adapter.remote_rooms().await? {
            if !rooms.contains(&room) {
                rooms.push(room);
            }
        }
        Ok(rooms)
    }

    /// How many nodes serve this namespace, this one included.
    pub async fn server_count(&self) -> Result<usize, AdapterError> {
        self.inner.adapter.server_count().await
    }

    /// The sockets connected to this namespace on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.inner
            .sockets
            .read()
            .expect("sockets lock")
            .values()
            .cloned()
            .collect()
    }

    /// The socket with this id, if it is connected here.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.inner
            .sockets
            .read()
            .expect("sockets lock")
            .get(id)
            .cloned()
    }
}

/// `[event, ...args]` as values: what the cluster adapters carry between nodes.
fn server_side_data(event: &str, args: impl IntoArgs) -> Result<Vec<Value>, EmitError> {
    let mut data = vec![Value::String(event.to_owned())];
    data.extend(args.into_args(Parser::Json)?.values()?);
    Ok(data)
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.inner.name)
            .finish()
    }
}
