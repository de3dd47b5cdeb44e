//! Typed events: an event is a Rust type that names itself and its arguments, so the
//! server's handlers and the client's listeners agree on both at compile time.
//!
//! The arguments are a tuple of serde types, one per argument; both ends serialize
//! and read them through [`Args`](crate::socket::Args), the same path as every other
//! event.
//!
//! ```
//! use sockeye_protocol::event::Event;
//! use sockeye_protocol::socket::{Args, Parser};
//!
//! /// `chat message` with the room and the text.
//! struct ChatMessage;
//! impl Event for ChatMessage {
//!     const NAME: &'static str = "chat message";
//!     type Args = (String, String);
//! }
//!
//! let sent = Args::serialize(Parser::Json, &("lobby", "hi")).unwrap();
//! let (room, text): <ChatMessage as Event>::Args = sent.deserialize().unwrap();
//! assert_eq!((room.as_str(), text.as_str()), ("lobby", "hi"));
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A named event and the types of its arguments.
pub trait Event {
    /// The event's name on the wire.
    const NAME: &'static str;
    /// The arguments, as a tuple of serde types (`()` for none, `(T,)` for one).
    type Args: Serialize + DeserializeOwned;
}

/// An event whose receiver answers with an ack of a known type.
pub trait Request: Event {
    /// The ack's arguments, as a tuple of serde types.
    type Ack: Serialize + DeserializeOwned;
}
