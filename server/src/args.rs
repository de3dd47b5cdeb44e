//! Turning Rust values into event arguments, and handler results into acks.
//!
//! Arguments are serialized once, in the server's parser's format, when they are
//! emitted; a broadcast hands the same bytes to every recipient.

use bytes::Bytes;
use serde::Serialize;
use sockeye_protocol::socket::{Args, ArgsError, Parser};
use sockeye_protocol::Value;

/// Something that can be the argument list of an emit.
///
/// One value is one argument (`"hi"`, `json!({...})`, `Bytes`); a tuple of serde types
/// is several, one per element (`("lobby", my_struct)`, `(my_struct,)` for one);
/// `Vec<Value>` is the list itself; `()` is no argument at all; and received
/// [`Args`] are forwarded as the bytes they came as.
pub trait IntoArgs {
    /// The arguments, serialized for `parser`.
    fn into_args(self, parser: Parser) -> Result<Args, ArgsError>;
}

/// What an event handler returns: an ack for the client's callback, or nothing.
///
/// `()` sends no ack, and so does `None`. Anything that is [`IntoArgs`] is sent as the
/// ack's arguments when the client asked for one.
pub trait IntoAck {
    /// The ack's arguments, if there is an ack.
    fn into_ack(self, parser: Parser) -> Option<Result<Args, ArgsError>>;
}

impl IntoArgs for Args {
    fn into_args(self, parser: Parser) -> Result<Args, ArgsError> {
        if self.parser() == parser {
            return Ok(self);
        }
        self.to_parser(parser)
    }
}

impl IntoArgs for () {
    fn into_args(self, parser: Parser) -> Result<Args, ArgsError> {
        Ok(Args::empty(parser))
    }
}

impl IntoAck for () {
    fn into_ack(self, _: Parser) -> Option<Result<Args, ArgsError>> {
        None
    }
}

impl IntoArgs for Vec<Value> {
    fn into_args(self, parser: Parser) -> Result<Args, ArgsError> {
        Ok(Args::from_values(parser, &self))
    }
}

macro_rules! single {
    ($($t:ty),*) => {$(
        impl IntoArgs for $t {
            fn into_args(self, parser: Parser) -> Result<Args, ArgsError> {
                Args::serialize(parser, &(self,))
            }
        }
    )*};
}
single!(Value, &str, String, Bytes, bool, i32, i64, u32, u64, f64);

macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: Serialize),+> IntoArgs for ($($name,)+) {
            fn into_args(self, parser: Parser) -> Result<Args, ArgsError> {
                Args::serialize(parser, &self)
            }
        }
        impl<$($name: Serialize),+> IntoAck for ($($name,)+) {
            fn into_ack(self, parser: Parser) -> Option<Result<Args, ArgsError>> {
                Some(self.into_args(parser))
            }
        }
    };
}
tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);

macro_rules! ack_from_args {
    ($($t:ty),*) => {$(
        impl IntoAck for $t {
            fn into_ack(self, parser: Parser) -> Option<Result<Args, ArgsError>> {
                Some(self.into_args(parser))
            }
        }
    )*};
}
ack_from_args!(
    Args,
    Vec<Value>,
    Value,
    &str,
    String,
    Bytes,
    bool,
    i32,
    i64,
    u32,
    u64,
    f64
);

impl<T: IntoArgs> IntoAck for Option<T> {
    /// `None` sends no ack.
    fn into_ack(self, parser: Parser) -> Option<Result<Args, ArgsError>> {
        self.map(|args| args.into_args(parser))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_protocol::json;

    fn json_of(args: impl IntoArgs) -> String {
        let args = args.into_args(Parser::Json).unwrap();
        String::from_utf8(args.elements().to_vec()).unwrap()
    }

    #[test]
    fn shapes_of_arguments() {
        assert_eq!(json_of(()), "");
        assert_eq!(json_of("a"), r#""a""#);
        assert_eq!(json_of(("a", 1)), r#""a",1"#);
        assert_eq!(json_of(json!([1, 2])), "[1,2]");
        assert_eq!(json_of(vec![json!(1), json!(2)]), "1,2");
        assert_eq!(json_of((vec![1, 2],)), "[1,2]");
        assert!(().into_ack(Parser::Json).is_none());
        assert!(Some("x").into_ack(Parser::Json).is_some());
        assert!(None::<String>.into_ack(Parser::Json).is_none());
    }
}
