//! A Socket.IO v5 server for axum and tokio, wire-compatible with the official clients.
//!
//! Build a [`SocketIo`], give its namespaces middlewares and connection handlers, and
//! merge [`SocketIo::router`] into an axum `Router`:
//!
//! ```no_run
//! use sockeye_server::{Args, ConnectError, SocketIo};
//! use sockeye_protocol::json;
//!
//! #[derive(serde::Deserialize)]
//! struct Message {
//!     text: String,
//! }
//!
//! # async fn run() {
//! let io = SocketIo::new();
//! let chat = io.of("/chat");
//! chat.middleware(|socket| async move {
//!     match socket.auth().get("token").and_then(|t| t.as_str()) {
//!         Some("secret") => Ok(()),
//!         _ => Err(ConnectError::new("not authorized").with_data(json!({"code": 42}))),
//!     }
//! });
//! chat.on_connection(|socket| async move {
//!     // The arguments come as the handler's own types: a tuple, one per argument.
//!     socket.on("join", |socket, (room,): (String,)| async move {
//!         socket.join(room.as_str());
//!         ("joined", room) // the ack the client's callback receives
//!     });
//!     // Any serde type: parsed once, straight from the packet's bytes.
//!     socket.on("say", |socket, (room, message): (String, Message)| async move {
//!         socket.to(room).emit("say", (message.text,)).ok();
//!     });
//!     // `Args` keeps the arguments as they came: forwarded without being parsed.
//!     socket.on("relay", |socket, args: Args| async move {
//!         socket.broadcast().emit("relay", args).ok();
//!     });
//! });
//! let app = axum::Router::new().merge(io.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! Arguments that do not fit a handler's types are a bad packet: the connection is
//! closed with "parse error", as socket.io closes one whose packet it cannot decode.
//! `Vec<Value>` takes any arguments as dynamic values. An emit takes one value
//! (`"hi"`, `json!(..)`, `Bytes`), a tuple of serde types (one argument each), or
//! received [`Args`]; binary parts (`Bytes`) travel as attachments. The packet format
//! is JSON unless [`Builder::parser`] picks socket.io-msgpack-parser's.
//!
//! Instead of merging the router, [`SocketIo::layer`] puts the endpoint in front of any
//! service as a tower layer: `Router::new().route(..).layer(io.layer())`.
//!
//! The layers, from the wire up:
//! - [`engine`]: Engine.IO sessions over polling and WebSocket (usable on its own).
//! - [`Socket`], [`Namespace`], [`BroadcastOperator`]: the Socket.IO API.
//! - [`Adapter`]: which sockets a broadcast reaches (in memory by default). The
//!   [`adapter`] boundary is public and complete: a cluster adapter is a crate of its
//!   own (Redis: `sockeye-redis`) that reaches this node's sockets through
//!   [`NamespaceRef`].
//!
//! Every queue has a bound (see [`config`]); a client that cannot keep up is
//! disconnected rather than allowed to grow the server's memory.
#![warn(missing_docs)]

pub mod adapter;
#[cfg(feature = "admin-ui")]
pub mod admin;
mod args;
mod broadcast;
pub mod config;
mod connection;
pub mod engine;
mod error;
mod handshake;
mod hash;
mod id;
mod io;
mod layer;
mod metrics;
mod namespace;
mod rate_limit;
mod recovery;
mod socket;
mod traffic;

pub use adapter::{
    Adapter, AdapterError, AdapterFactory, BroadcastOptions, LocalAdapter, NamespaceRef,
    RestoredSession, Room, Session, Sid, SocketInfo,
};
pub use args::{IntoAck, IntoArgs};
pub use broadcast::{BroadcastOperator, IntoRooms, RemoteSocket};
pub use config::{Config, Cors, EngineConfig, Recovery};
pub use engine::{ConnectionError, Refusal, RequestInfo};
pub use error::{AckError, BroadcastTimeout, ConnectError, DisconnectReason, EmitError};
pub use handshake::Handshake;
pub use io::{Builder, SocketIo};
pub use layer::{SocketIoLayer, SocketIoService};
pub use namespace::Namespace;
pub use rate_limit::{FloodLimit, RateLimit};
pub use socket::hooks::{EventPacket, ListenerId, MiddlewareError};
pub use socket::{Disconnect, Socket, TimeoutSocket};
pub use sockeye_protocol::socket::{Args, ArgsError, Parser};
pub use sockeye_protocol::{json, Value};
