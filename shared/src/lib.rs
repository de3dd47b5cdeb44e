//! The Socket.IO v5 protocol over Engine.IO v4, without I/O.
//!
//! This crate is the one implementation of Sockeye's wire format. It has no sockets, no
//! clock and no runtime: bytes and timestamps go in, and packets to send, events to
//! deliver and the next deadline come out. The `sockeye-server` crate drives it with
//! tokio; the `sockeye-client` crate drives it in the browser. Both therefore agree on
//! every rule of the protocol by construction.
//!
//! The nouns, layer by layer:
//! - [`engine`]: Engine.IO packets, the long-polling payload, the open packet, the
//!   close reasons, the heartbeat state machines, and the server's session state
//!   machine (transport, upgrade probe, heartbeat, close).
//! - [`socket`]: Socket.IO packets, binary attachments (placeholders), the packet
//!   decoder that reassembles them, and the namespace-connection state machine.
//! - [`Value`]: a JSON value that may also hold binary data, which is what event
//!   arguments are.
//! - [`client`]: the client's own rules (handshake, pings, joins, acks, buffering,
//!   reconnection), shared by every client driver.
//! - [`event`]: typed events (a Rust type naming an event and its arguments), shared
//!   by server handlers and client listeners.
//! - [`Backoff`]: the reconnection delay rule shared by every client.
//! - [`json`]: the protocol's own JSON (open packet, CONNECT data, framing arguments),
//!   read and written without a JSON library.
//!
//! Feature `serde` (default): typed arguments, [`event`], and `Value` as a serde type.
//! Without it (the browser build) arguments stay JSON text for the platform to parse.
#![warn(missing_docs)]

pub mod backoff;
pub mod client;
pub mod engine;
#[cfg(feature = "serde")]
pub mod event;
pub mod json;
pub mod socket;
pub mod value;

pub use backoff::Backoff;
pub use value::Value;
