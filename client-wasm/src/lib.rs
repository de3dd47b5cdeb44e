//! Sockeye's browser client, in wasm: socket.io-client's API for JavaScript pages
//! (through the package's glue, `js/sockeye.js`) and typed events for Rust/wasm apps.
//!
//! Every packet goes through `sockeye-protocol`, the same crate the server uses; the
//! client's rules (handshake, heartbeat, joins, acks, buffering, reconnection backoff)
//! are its shared state machines. What this crate adds is the browser I/O:
//! - [`transport`]: WebSocket and long-polling over the browser's own APIs,
//! - [`manager`]: drives the shared `ManagerClient` (every rule of one connection and
//!   its namespaces) with the transports, one timer and the listeners,
//! - `typed` (feature `typed`): the Rust API (`Client`, typed events),
//! - `js`: the JavaScript API the glue wraps.

mod browser;
mod js;
pub mod manager;
mod options;
pub mod transport;
#[cfg(feature = "typed")]
pub mod typed;

pub use manager::{AckResponder, Manager, ManagerEvent, Notice, ServerAckError, Socket};
pub use options::Options;
pub use sockeye_protocol as protocol;
#[cfg(feature = "typed")]
pub use sockeye_protocol::event::{Event, Request};
pub use sockeye_protocol::socket::{Args, ArgsError};
pub use sockeye_protocol::Value;
#[cfg(feature = "typed")]
pub use typed::{Client, EmitWithAckError};
