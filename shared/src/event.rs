//! Typed events: an event is a Rust type that names itself and its arguments, so the
//! server's handlers and the client's listeners agree on both at compile time.
//!
//! ```
//! use sockeye_protocol::event::{Args, Event};
//!
//! /// `chat message` with the room and the text.
//! struct ChatMessage;
//! impl Event for ChatMessage {
//!     const NAME: &'static str = "chat message";
//!     type Args = (String, String);
//! }
//!
//! let values = ("lobby".to_string(), "hi".to_string()).into_values().unwrap();
//! let (room, text) = <ChatMessage as Event>::Args::from_values(values).unwrap();
//! assert_eq!((room.as_str(), text.as_str()), ("lobby", "hi"));
//! ```

use crate::value::ValueError;
use crate::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A named event and the types of its arguments.
pub trait Event {
    /// The event's name on the wire.
    const NAME: &'static str;
    /// The arguments, as a tuple of serde types (`()` for none).
    type Args: Args;
}

/// An event whose receiver answers with an ack of a known type.
pub trait Request: Event {
    /// The ack's arguments, as a tuple of serde types.
    type Ack: Args;
}

/// Why a list of arguments did not fit the expected types.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// An argument did not deserialize into its type.
    #[error("argument {index}: {source}")]
    Invalid {
        /// Its position.
        index: usize,
        /// What went wrong.
        source: ValueError,
    },
    /// Fewer arguments arrived than the type has.
    #[error("expected {expected} arguments, got {got}")]
    Missing {
        /// How many the type has.
        expected: usize,
        /// How many arrived.
        got: usize,
    },
}

/// A tuple of serde types that converts to and from an argument list. Extra arguments
/// are ignored on the way in, as a JavaScript listener would ignore them.
pub trait Args: Sized {
    /// The argument list.
    fn into_values(self) -> Result<Vec<Value>, ValueError>;
    /// Reads the argument list.
    fn from_values(values: Vec<Value>) -> Result<Self, ArgsError>;
}

impl Args for () {
    fn into_values(self) -> Result<Vec<Value>, ValueError> {
        Ok(Vec::new())
    }
    fn from_values(_: Vec<Value>) -> Result<Self, ArgsError> {
        Ok(())
    }
}

macro_rules! tuple_args {
    ($count:expr; $($name:ident),+) => {
        impl<$($name: Serialize + DeserializeOwned),+> Args for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_values(self) -> Result<Vec<Value>, ValueError> {
                let ($($name,)+) = self;
                Ok(vec![$(Value::from_serialize(&$name)?),+])
            }
            fn from_values(values: Vec<Value>) -> Result<Self, ArgsError> {
                if values.len() < $count {
                    return Err(ArgsError::Missing { expected: $count, got: values.len() });
                }
                let mut values = values.into_iter().enumerate();
                Ok(($({
                    let (index, value) = values.next().expect("length checked");
                    value
                        .deserialize::<$name>()
                        .map_err(|source| ArgsError::Invalid { index, source })?
                },)+))
            }
        }
    };
}
tuple_args!(1; A);
tuple_args!(2; A, B);
tuple_args!(3; A, B, C);
tuple_args!(4; A, B, C, D);
tuple_args!(5; A, B, C, D, E);
tuple_args!(6; A, B, C, D, E, F);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn tuples_round_trip_and_report_bad_input() {
        let values = (1u32, "a".to_string(), vec![true]).into_values().unwrap();
        assert_eq!(values, vec![json!(1), json!("a"), json!([true])]);
        let back = <(u32, String, Vec<bool>)>::from_values(values).unwrap();
        assert_eq!(back, (1, "a".into(), vec![true]));
        assert!(matches!(
            <(u32, u32)>::from_values(vec![json!(1)]),
            Err(ArgsError::Missing {
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            <(u32,)>::from_values(vec![json!("x")]),
            Err(ArgsError::Invalid { index: 0, .. })
        ));
        // Extra arguments are ignored.
        assert_eq!(
            <(u8,)>::from_values(vec![json!(1), json!(2)]).unwrap(),
            (1,)
        );
    }
}
