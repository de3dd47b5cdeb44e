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

mod engine;
mod reconnection;
mod socket;

pub use engine::{EngineClient, EngineOutput, Probe};
pub use reconnection::Reconnection;
pub use socket::{Emit, SocketClient, SocketEvent, SocketOutput};
