//! The client side of the protocol, without I/O: what a Socket.IO client decides on
//! its own, so every client driver (the wasm browser client, a native client, the load
//! generator) applies the same rules.
//!
//! - [`EngineClient`]: one Engine.IO connection as the client sees it: the handshake,
//!   answering pings, noticing a silent server ("ping timeout"), the upgrade probe, and
//!   the write buffer (one write at a time; a close that loses nothing sent before it).
//! - [`SocketClient`]: one namespace on that connection: joining, ack ids and their
//!   timeouts, buffering emits made while not connected.
//! - [`Reconnection`]: when to try again after the connection is lost.
//! - [`ManagerClient`]: the connection and the namespaces multiplexed on it, over
//!   transports the driver opens on its word: which transport, the upgrade (probe,
//!   pause polling, switch or fall back), joins, the open timeout, reconnection and its
//!   events, a client close that loses nothing, and the one deadline of them all.

mod engine;
mod manager;
mod reconnection;
mod socket;

pub use engine::{EngineClient, EngineOutput, Probe};
pub use manager::{
    encode_uri_component, engine_url, http_origin, polling_request_url, ManagerClient,
    ManagerConfig, ManagerEvent, ManagerOutput, TransportEvent, TransportId, TransportKind,
};
pub use reconnection::Reconnection;
pub use socket::{Emit, SocketClient, SocketEvent, SocketOutput};
