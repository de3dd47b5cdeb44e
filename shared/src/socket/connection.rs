//! Joining a namespace, as the client sees it: send CONNECT, then wait for CONNECT
//! (accepted, with the socket id) or CONNECT_ERROR (refused), within a deadline.

use super::packet::Packet;
use crate::Value;
use std::time::Duration;

/// The state of one namespace on one Engine.IO connection, client side.
#[derive(Debug, Clone, PartialEq)]
pub enum NamespaceConnection {
    /// Not joined, and not trying.
    Disconnected,
    /// CONNECT sent; the answer is due by `deadline`.
    Connecting {
        /// When the attempt counts as failed.
        deadline: Duration,
    },
    /// Joined, with the socket id the server gave.
    Connected {
        /// The socket id (not the Engine.IO session id).
        sid: String,
    },
}

/// What an answer from the server (or the clock) meant for a join.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectOutcome {
    /// The server accepted; this is the socket id.
    Connected(String),
    /// The server refused, with its message and optional data.
    Refused {
        /// The reason given by the server.
        message: String,
        /// Any extra data the server attached.
        data: Option<Value>,
    },
    /// No answer before the deadline.
    TimedOut,
    /// The server ended the joined session ("io server disconnect").
    ServerDisconnect,
}

impl NamespaceConnection {
    /// Starts joining `namespace` at `now`: returns the CONNECT packet to send.
    pub fn connect(
        &mut self,
        namespace: &str,
        auth: Option<Value>,
        now: Duration,
        timeout: Duration,
    ) -> Packet {
        *self = NamespaceConnection::Connecting {
            deadline: now + timeout,
        };
        Packet::Connect {
            namespace: namespace.to_owned(),
            data: auth,
        }
    }

    /// The time by which something must happen, if any.
    pub fn deadline(&self) -> Option<Duration> {
        match self {
            NamespaceConnection::Connecting { deadline } => Some(*deadline),
            _ => None,
        }
    }

    /// Advances the clock; a join without an answer by its deadline fails.
    pub fn poll(&mut self, now: Duration) -> Option<ConnectOutcome> {
        match self {
            NamespaceConnection::Connecting { deadline } if now >= *deadline => {
                *self = NamespaceConnection::Disconnected;
                Some(ConnectOutcome::TimedOut)
            }
            _ => None,
        }
    }

    /// Feeds a CONNECT, CONNECT_ERROR or DISCONNECT packet for this namespace. Other
    /// packets change nothing and return `None`.
    pub fn on_packet(&mut self, packet: &Packet) -> Option<ConnectOutcome> {
        match (&*self, packet) {
            (NamespaceConnection::Connecting { .. }, Packet::Connect { data, .. }) => {
                let sid = data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)?
                    .to_owned();
                *self = NamespaceConnection::Connected { sid: sid.clone() };
                Some(ConnectOutcome::Connected(sid))
            }
            (NamespaceConnection::Connecting { .. }, Packet::ConnectError { data, .. }) => {
                *self = NamespaceConnection::Disconnected;
                Some(match data {
                    Value::String(message) => ConnectOutcome::Refused {
                        message: message.clone(),
                        data: None,
                    },
                    other => ConnectOutcome::Refused {
                        message: other
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        data: other.get("data").cloned(),
                    },
                })
            }
            (NamespaceConnection::Connected { .. }, Packet::Disconnect { .. }) => {
                *self = NamespaceConnection::Disconnected;
                Some(ConnectOutcome::ServerDisconnect)
            }
            _ => None,
        }
    }

    /// The transport closed: every namespace is disconnected.
    pub fn on_close(&mut self) {
        *self = NamespaceConnection::Disconnected;
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::json;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn accepted_join() {
        let mut c = NamespaceConnection::Disconnected;
        let p = c.connect("/chat", Some(json!({"token": "x"})), ms(0), ms(1000));
        assert_eq!(p.encode().text, r#"0/chat,{"token":"x"}"#);
        assert_eq!(c.deadline(), Some(ms(1000)));
        let out = c.on_packet(&Packet::Connect {
            namespace: "/chat".into(),
            data: Some(json!({"sid": "abc"})),
        });
        assert_eq!(out, Some(ConnectOutcome::Connected("abc".into())));
        assert_eq!(c.deadline(), None);
        assert_eq!(
            c.on_packet(&Packet::Disconnect {
                namespace: "/chat".into()
            }),
            Some(ConnectOutcome::ServerDisconnect)
        );
    }

    #[test]
    fn refused_join_carries_message_and_data() {
        let mut c = NamespaceConnection::Disconnected;
        c.connect("/", None, ms(0), ms(1000));
        let out = c.on_packet(&Packet::ConnectError {
            namespace: "/".into(),
            data: json!({"message": "nope", "data": {"code": 3}}),
        });
        assert_eq!(
            out,
            Some(ConnectOutcome::Refused {
                message: "nope".into(),
                data: Some(json!({"code": 3}))
            })
        );
        assert_eq!(c, NamespaceConnection::Disconnected);
    }

    #[test]
    fn join_times_out() {
        let mut c = NamespaceConnection::Disconnected;
        c.connect("/", None, ms(0), ms(1000));
        assert_eq!(c.poll(ms(999)), None);
        assert_eq!(c.poll(ms(1000)), Some(ConnectOutcome::TimedOut));
        assert_eq!(c.poll(ms(2000)), None);
    }
}
