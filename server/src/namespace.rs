//! Namespaces: a name, its sockets, its adapter and its connect logic.

use crate::adapter::{Adapter, BroadcastOptions, LocalAdapter, Sid};
use crate::args::IntoArgs;
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::config::Config;
use crate::error::{ConnectError, EmitError};
use crate::hash::Map;
use crate::socket::Socket;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::sync::{Arc, RwLock};

pub(crate) type Middleware =
    Arc<dyn Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<'static, ()> + Send + Sync>;

/// What every namespace of a server shares: settings and application state.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) state: http::Extensions,
}

/// The connect logic of a namespace; dynamic namespaces share their parent's.
#[derive(Default)]
pub(crate) struct NsHandlers {
    middlewares: RwLock<Vec<Middleware>>,
    connection: RwLock<Option<ConnectionHandler>>,
}

impl NsHandlers {
    pub(crate) fn middlewares(&self) -> Vec<Middleware> {
        self.middlewares.read().expect("middlewares lock").clone()
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
}

impl NsInner {
    pub(crate) fn new(name: &str, handlers: Arc<NsHandlers>, shared: Arc<Shared>) -> Arc<NsInner> {
        Arc::new(NsInner {
            name: name.to_owned(),
            handlers,
            sockets: RwLock::new(Map::default()),
            adapter: Arc::new(LocalAdapter::default()),
            shared,
        })
    }

    /// Registers a socket that passed the middlewares; it joins its own room.
    pub(crate) fn insert(&self, socket: &Socket) {
        let sid = socket.inner.id.clone();
        self.sockets
            .write()
            .expect("sockets lock")
            .insert(sid.clone(), socket.clone());
        self.adapter.join(&sid, std::slice::from_ref(&sid));
    }

    pub(crate) fn remove(&self, sid: &Sid) {
        self.adapter.leave_all(sid);
        self.sockets.write().expect("sockets lock").remove(sid);
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

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.inner.name)
            .finish()
    }
}
