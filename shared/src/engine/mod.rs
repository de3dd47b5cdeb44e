//! Engine.IO v4: the transport layer under Socket.IO.
//!
//! An Engine.IO connection carries [`Packet`]s over HTTP long-polling or WebSocket.
//! Long-polling bundles several packets into one [`payload`]; WebSocket carries one
//! packet per frame. The [`OpenPacket`] opens the connection, the [`heartbeat`] state
//! machines decide when to ping and when a silent peer is gone, and [`ServerSession`]
//! holds the server's rules of a session (the client's are in [`crate::client`]). Both
//! ends close for one of the [`CloseReason`]s.

pub mod close;
pub mod heartbeat;
pub mod open;
pub mod packet;
pub mod payload;
pub mod server;

pub use close::CloseReason;
pub use heartbeat::{ClientHeartbeat, HeartbeatAction, ServerHeartbeat};
pub use open::OpenPacket;
pub use packet::{DecodeError, Packet, PacketType};
pub use server::{
    is_supported_version, ProbeStep, Received, ServerSession, SessionConfig, TextFrame, Transport,
    UpgradeProbe,
};

/// The protocol revision this crate speaks (the `EIO` query parameter).
pub const PROTOCOL: u8 = 4;

/// The data of the ping and pong that probe a new WebSocket during an upgrade
/// (`2probe`, `3probe`).
pub const PROBE: &str = "probe";
