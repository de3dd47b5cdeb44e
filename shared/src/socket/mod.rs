//! Socket.IO v5: namespaces, events and acks on top of Engine.IO messages.
//!
//! A [`Packet`] is encoded into one text message plus one binary message per
//! attachment ([`Encoded`]). The [`Decoder`] does the reverse and holds a binary packet
//! until all its attachments have arrived. [`NamespaceConnection`] is the client's view
//! of joining a namespace.

pub mod connection;
pub mod decoder;
pub mod packet;

pub use connection::{ConnectOutcome, NamespaceConnection};
pub use decoder::{DecodeError, Decoder};
pub use packet::{Encoded, Packet, PacketType, RESERVED_EVENTS};

/// The namespace every client may join.
pub const MAIN_NAMESPACE: &str = "/";
