//! Socket.IO v5: namespaces, events and acks on top of Engine.IO messages.
//!
//! A [`Packet`] is encoded into one text message plus one binary message per
//! attachment ([`Encoded`]), or with the msgpack parser into one binary message. The
//! [`Decoder`] does the reverse and holds a binary packet until all its attachments
//! have arrived. An event's or ack's arguments stay serialized ([`Args`]) until someone
//! reads them. [`NamespaceConnection`] is the client's view of joining a namespace.

pub mod args;
pub mod connection;
pub mod decoder;
#[cfg(feature = "msgpack")]
pub mod msgpack;
pub mod packet;

#[cfg(feature = "serde")]
pub use args::FromArgs;
pub use args::{Args, ArgsError, Parser};
pub use connection::{ConnectOutcome, NamespaceConnection};
pub use decoder::{DecodeError, Decoder};
pub use packet::{Encoded, Packet, PacketType, RESERVED_EVENTS};

/// The namespace every client may join.
pub const MAIN_NAMESPACE: &str = "/";
