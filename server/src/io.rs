//! The server: [`SocketIo`] and its [`Builder`].

use crate::adapter::AdapterFactory;
use crate::args::IntoArgs;
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::config::{Config, Cors};
use crate::connection::SocketHandler;
use crate::engine::{CloseReason, EngineIo};
use crate::error::{DisconnectReason, EmitError};
use crate::namespace::{Namespace, NsHandlers, NsInner, Registry, Shared};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A Socket.IO server. Cheap to clone: clones are handles to the same server, usable
/// from handlers, background tasks and ordinary HTTP routes.
///
/// ```no_run
/// use sockeye_server::SocketIo;
///
/// # async fn run() {
/// let io = SocketIo::new();
/// io.of("/").on_connection(|socket| async move {
///     socket.on("chat", |socket, args: sockeye_server::Args| async move {
///         socket.broadcast().emit("chat", args).ok();
///     });
/// });
/// let app = axum::Router::new().merge(io.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo {
    pub(crate) registry: Arc<Registry>,
    engine: EngineIo<SocketHandler>,
}

impl Default for SocketIo {
    fn default() -> Self {
        SocketIo::new()
    }
}

impl SocketIo {
    /// A server with the default settings.
    pub fn new() -> SocketIo {
        Builder::default().build()
    }

    /// A builder to change the settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.registry.shared.config
    }

    /// The namespace with this name, created if needed (`/` always exists).
    pub fn of(&self, name: &str) -> Namespace {
        self.registry.of(name)
    }

    /// A dynamic namespace: every name for which `matches` is true can be joined, and
    /// each such namespace is created on its first join with the middlewares and
    /// connection handler set on the returned parent.
    pub fn dynamic<F>(&self, matches: F) -> Namespace
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        let handlers = Arc::new(NsHandlers::default());
        self.registry
            .add_dynamic(Arc::new(matches), handlers.clone());
        Namespace {
            inner: NsInner::new("(dynamic)", handlers, self.registry.shared.clone()),
        }
    }

    /// Sends `event` to every socket of the main namespace.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.of("/").emit(event, args)
    }

    /// A broadcast to rooms of the main namespace.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// The number of open Engine.IO connections.
    pub fn connection_count(&self) -> usize {
        self.engine.session_count()
    }

    /// An axum `Router` serving the Socket.IO endpoint; merge it into your app.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.engine.router()
    }

    /// Graceful shutdown: every socket leaves with "server shutting down", queued
    /// packets are sent, every connection gets a close, and the future resolves once
    /// all are closed.
    pub fn close(&self) -> impl Future<Output = ()> + Send + 'static {
        for ns in self.registry.namespaces() {
            for socket in ns.sockets() {
                socket.close(DisconnectReason::ServerShuttingDown);
            }
        }
        self.engine.close_all(CloseReason::ServerShuttingDown)
    }
}

/// Settings for a [`SocketIo`], with the official server's defaults.
#[derive(Default)]
pub struct Builder {
    config: Config,
    state: http::Extensions,
    adapter: Option<Arc<dyn AdapterFactory>>,
}

impl Builder {
    /// All settings at once.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The endpoint's HTTP path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.engine.path = path.into();
        self
    }

    /// Time between pings (default 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.config.engine.ping_interval = d;
        self
    }

    /// Time allowed for a pong (default 20 s).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.config.engine.ping_timeout = d;
        self
    }

    /// Largest accepted message or polling body, in bytes (default 1 000 000).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.engine.max_payload = bytes;
        self
    }

    /// Bound of each connection's outbound queue, in frames (default 4096).
    pub fn max_buffered_frames(mut self, frames: usize) -> Self {
        self.config.engine.max_buffered_frames = frames;
        self
    }

    /// The most connections at once (default 100 000); more are refused with 503.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.engine.max_connections = connections;
        self
    }

    /// Which browser origins may connect (default: same origin only).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.engine.cors = cors;
        self
    }

    /// socket.io's `allowRequest`: an async check of every handshake and upgrade
    /// request (headers, cookies, query, peer address) before a session exists.
    /// `Err(Refusal::new(status, message))` answers with that status and engine.io's
    /// "Forbidden" body (`{"code":4,"message":...}`).
    ///
    /// ```
    /// use sockeye_server::{Refusal, SocketIo};
    ///
    /// let io = SocketIo::builder()
    ///     .allow_request(|req| async move {
    ///         match req.cookie("session") {
    ///             Some(_) => Ok(()),
    ///             None => Err(Refusal::new(401, "log in first")),
    ///         }
    ///     })
    ///     .build();
    /// ```
    pub fn allow_request<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(Arc<crate::RequestInfo>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), crate::Refusal>> + Send + 'static,
    {
        self.config.engine.allow_request = Some(crate::engine::AllowRequest::new(check));
        self
    }

    /// engine.io's `connection_error` event: `f` sees the code, message and request
    /// of every request the endpoint refuses (a forbidden origin, an `allow_request`
    /// refusal, an unknown transport or session, a bad method, request or protocol
    /// version, too many connections).
    pub fn on_connection_error<F>(mut self, f: F) -> Self
    where
        F: Fn(&crate::ConnectionError) + Send + Sync + 'static,
    {
        self.config.engine.on_connection_error = Some(crate::engine::OnConnectionError::new(f));
        self
    }

    /// Time a connection has to join a namespace (default 45 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// Default timeout of `emit_with_ack` (default 30 s).
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.config.ack_timeout = d;
        self
    }

    /// Sets the packet format (socket.io's `parser` option): one per server, and every
    /// client must use the same (socket.io-msgpack-parser for [`Parser::MsgPack`]).
    ///
    /// [`Parser::MsgPack`]: sockeye_protocol::socket::Parser::MsgPack
    pub fn parser(mut self, parser: sockeye_protocol::socket::Parser) -> Self {
        self.config.parser = parser;
        self
    }

    /// Turns on connection state recovery (socket.io's `connectionStateRecovery`):
    /// packets carry offsets, and a client that reconnects in time gets its id, rooms,
    /// data and missed packets back.
    pub fn connection_state_recovery(mut self, recovery: crate::Recovery) -> Self {
        self.config.recovery = Some(recovery);
        self
    }

    /// Limits how many events each socket may send, all events together: a token
    /// bucket per socket (default: none). Past it the connection is not read until the
    /// bucket refills: the client is slowed to the rate, nothing is dropped. See
    /// [`crate::RateLimit`] and `docs/bounds.md` for what the client sees.
    pub fn rate_limit(mut self, limit: crate::RateLimit) -> Self {
        self.config.rate_limit = Some(limit);
        self
    }

    /// When a socket that keeps sending past its rate limits is disconnected (default:
    /// its input held back for 10 s, or more than 100 drops by event limits within
    /// 10 s; `None`: never).
    pub fn flood_limit(mut self, limit: Option<crate::FloodLimit>) -> Self {
        self.config.flood_limit = limit;
        self
    }

    /// Shared application state, read in handlers with [`crate::Socket::state`].
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, state: T) -> Self {
        self.state.insert(state);
        self
    }

    /// The adapter every namespace gets, such as the Redis adapter that makes several
    /// servers one cluster (default: the in-memory [`crate::LocalAdapter`]).
    pub fn adapter(mut self, factory: impl AdapterFactory) -> Self {
        self.adapter = Some(Arc::new(factory));
        self
    }

    /// Builds the server.
    pub fn build(self) -> SocketIo {
        let shared = Arc::new(Shared {
            config: self.config.clone(),
            state: self.state,
            adapter: self.adapter,
            observer: std::sync::OnceLock::new(),
        });
        let registry = Arc::new(Registry::new(shared));
        registry.of("/");
        let engine = EngineIo::new(
            self.config.engine,
            SocketHandler {
                registry: registry.clone(),
            },
        );
        SocketIo { registry, engine }
    }
}
