//! Turning Rust values into event arguments, and handler results into acks.

use bytes::Bytes;
use sockeye_protocol::Value;

/// Something that can be the argument list of an emit.
///
/// One value is one argument (`"hi"`, `json!({...})`, `Bytes`); a tuple is several;
/// a `Vec<Value>` is the list itself; `()` is no argument at all.
pub trait IntoArgs {
    /// The arguments, in order.
    fn into_args(self) -> Vec<Value>;
}

/// What an event handler returns: an ack for the client's callback, or nothing.
///
/// `()` sends no ack. Anything that is [`IntoArgs`] is sent as the ack's arguments when
/// the client asked for one.
pub trait IntoAck {
    /// The ack's arguments, if there is an ack.
    fn into_ack(self) -> Option<Vec<Value>>;
}

impl IntoArgs for () {
    fn into_args(self) -> Vec<Value> {
        Vec::new()
    }
}

impl IntoAck for () {
    fn into_ack(self) -> Option<Vec<Value>> {
        None
    }
}

impl IntoArgs for Vec<Value> {
    fn into_args(self) -> Vec<Value> {
        self
    }
}

macro_rules! single {
    ($($t:ty),*) => {$(
        impl IntoArgs for $t {
            fn into_args(self) -> Vec<Value> {
                vec![Value::from(self)]
            }
        }
    )*};
}
single!(Value, &str, String, Bytes, bool, i32, i64, u32, u64, f64);

macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: Into<Value>),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
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
            fn into_ack(self) -> Option<Vec<Value>> {
                Some(self.into_args())
            }
        }
    )*};
}
ack_from_args!(
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

macro_rules! ack_tuple {
    ($($name:ident),+) => {
        impl<$($name: Into<Value>),+> IntoAck for ($($name,)+) {
            fn into_ack(self) -> Option<Vec<Value>> {
                Some(self.into_args())
            }
        }
    };
}
ack_tuple!(A);
ack_tuple!(A, B);
ack_tuple!(A, B, C);
ack_tuple!(A, B, C, D);

impl<T: IntoArgs> IntoAck for Option<T> {
    /// `None` sends no ack.
    fn into_ack(self) -> Option<Vec<Value>> {
        self.map(IntoArgs::into_args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_protocol::json;

    #[test]
    fn shapes_of_arguments() {
        assert_eq!(().into_args(), vec![]);
        assert_eq!("a".into_args(), vec![json!("a")]);
        assert_eq!(("a", 1).into_args(), vec![json!("a"), json!(1)]);
        assert_eq!(json!([1, 2]).into_args(), vec![json!([1, 2])]);
        assert_eq!(
            vec![json!(1), json!(2)].into_args(),
            vec![json!(1), json!(2)]
        );
        assert_eq!(().into_ack(), None);
        assert_eq!(Some("x").into_ack(), Some(vec![json!("x")]));
        assert_eq!(None::<String>.into_ack(), None);
    }
}
