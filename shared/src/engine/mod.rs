//! Engine.IO v4: the transport layer under Socket.IO.
//!
//! An Engine.IO connection carries [`Packet`]s over HTTP long-polling or WebSocket.
//! Long-polling bundles several packets into one [`payload`]; WebSocket carries one
//! packet per frame. The [`Handshake`] opens the connection, and the [`heartbeat`]
//! state machines decide when to ping and when a silent peer is gone.

pub mod handshake;
pub mod heartbeat;
pub mod packet;
pub mod payload;

pub use handshake::Handshake;
pub use heartbeat::{ClientHeartbeat, HeartbeatAction, ServerHeartbeat};
pub use packet::{DecodeError, Packet, PacketType};

/// The protocol revision this crate speaks (the `EIO` query parameter).
pub const PROTOCOL: u8 = 4;
