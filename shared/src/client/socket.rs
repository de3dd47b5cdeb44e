//! One namespace on a client's connection: join, emit, acks, buffering.

use crate::socket::{Args, ConnectOutcome, NamespaceConnection, Packet};
use crate::Value;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// How an emit wants to be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Emit {
    /// Ask the server for an ack.
    pub ack: bool,
    /// Give up on the ack after this long (`socket.timeout(ms)`).
    pub timeout: Option<Duration>,
    /// Drop the emit instead of buffering it while not connected.
    pub volatile: bool,
}

/// Something the application hears about from a [`SocketClient`].
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// Joined the namespace, with this socket id.
    Connect {
        /// The socket id.
        sid: String,
        /// Whether the server gave back the session that was cut (connection state
        /// recovery): same id and rooms, and the missed packets come first.
        recovered: bool,
    },
    /// The server refused the join (`connect_error`).
    ConnectError {
        /// The server's message.
        message: String,
        /// The server's data, if any.
        data: Option<Value>,
    },
    /// Left the namespace, in socket.io-client's words ("io server disconnect", ...).
    Disconnect {
        /// The reason.
        reason: String,
    },
    /// An event from the server; answer with [`SocketClient::ack`] when `ack` is set.
    Event {
        /// The event name.
        name: String,
        /// Its arguments, as they came.
        args: Args,
        /// The ack id the server waits on.
        ack: Option<u64>,
    },
    /// The server answered the emit with this ack id.
    Ack {
        /// The ack id.
        id: u64,
        /// The answer's arguments, as they came.
        args: Args,
    },
    /// No answer came in time for this ack id.
    AckTimeout {
        /// The ack id.
        id: u64,
    },
    /// The connection was lost after the emit went out: its answer will never come.
    /// (socket.io-client calls an ack that has a timeout with "socket has been
    /// disconnected" and forgets one without a timeout.)
    AckDisconnected {
        /// The ack id.
        id: u64,
    },
}

/// What the driver must do after feeding a [`SocketClient`].
#[derive(Debug, Clone, PartialEq)]
pub enum SocketOutput {
    /// Send this packet.
    Send(Packet),
    /// Tell the application.
    Event(SocketEvent),
}

/// The client's state for one namespace.
#[derive(Debug, Clone)]
pub struct SocketClient {
    namespace: String,
    conn: NamespaceConnection,
    next_ack_id: u64,
    /// Acks waited on, with their deadlines (`None`: wait as long as it takes).
    pending_acks: BTreeMap<u64, Option<Duration>>,
    /// Emits made while not connected, sent on connect.
    send_buffer: VecDeque<Packet>,
    /// Whether the application wants to be connected (socket.io-client's `active`).
    active: bool,
    /// Connection state recovery: the private session id the server gave, the offset of
    /// the last event processed, and whether the last join recovered the session.
    pid: Option<String>,
    last_offset: Option<String>,
    recovered: bool,
    /// Events that arrived before the join's answer (a server replays missed packets
    /// there), delivered right after it.
    receive_buffer: Vec<SocketEvent>,
}

/// The most events held between a join and its answer; more are dropped.
pub const MAX_RECEIVE_BUFFER: usize = 65_536;

impl SocketClient {
    /// A socket for `namespace`, not connected.
    pub fn new(namespace: &str) -> Self {
        SocketClient {
            namespace: namespace.to_owned(),
            conn: NamespaceConnection::Disconnected,
            next_ack_id: 0,
            pending_acks: BTreeMap::new(),
            send_buffer: VecDeque::new(),
            active: false,
            pid: None,
            last_offset: None,
            recovered: false,
            receive_buffer: Vec::new(),
        }
    }

    /// Whether the last join recovered the session that was cut (socket.io-client's
    /// `recovered`).
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The socket id while connected.
    pub fn id(&self) -> Option<&str> {
        match &self.conn {
            NamespaceConnection::Connected { sid } => Some(sid),
            _ => None,
        }
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        matches!(self.conn, NamespaceConnection::Connected { .. })
    }

    /// Whether the application wants the socket connected (it will reconnect).
    pub fn active(&self) -> bool {
        self.active
    }

    /// Marks the socket as wanted; [`SocketClient::join`] sends the CONNECT once the
    /// connection is open.
    pub fn activate(&mut self) {
        self.active = true;
    }

    /// The connection is open: join the namespace with `auth`, within `timeout`. After
    /// a cut, the join also names the session and the last offset processed, so that a
    /// server with connection state recovery can give the session back.
    pub fn join(&mut self, auth: Option<Value>, now: Duration, timeout: Duration) -> Packet {
        self.receive_buffer.clear();
        let auth = match &self.pid {
            None => auth,
            Some(pid) => {
                let mut fields = vec![("pid".to_owned(), Value::String(pid.clone()))];
                if let Some(offset) = &self.last_offset {
                    fields.push(("offset".to_owned(), Value::String(offset.clone())));
                }
                // The application's own fields win, as in socket.io-client.
                if let Some(Value::Object(own)) = auth {
                    fields.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
                    fields.extend(own);
                }
                Some(Value::Object(fields))
            }
        };
        self.conn.connect(&self.namespace, auth, now, timeout)
    }

    /// Notes the offset an event carries last (when recovery is on), and passes it on.
    fn deliver(&mut self, event: SocketEvent) -> SocketOutput {
        if let (Some(_), SocketEvent::Event { args, .. }) = (&self.pid, &event) {
            if let Some(Value::String(offset)) = args.values().ok().and_then(|mut v| v.pop()) {
                self.last_offset = Some(offset);
            }
        }
        SocketOutput::Event(event)
    }

    /// Emits `name`. Returns the packet to send now (none when buffered or dropped)
    /// and the ack id when an ack was asked for.
    pub fn emit(
        &mut self,
        name: &str,
        args: Args,
        how: Emit,
        now: Duration,
    ) -> (Option<Packet>, Option<u64>) {
        if how.volatile && !self.connected() {
            return (None, None);
        }
        let id = how.ack.then(|| {
            let id = self.next_ack_id;
            self.next_ack_id += 1;
            self.pending_acks.insert(id, how.timeout.map(|t| now + t));
            id
        });
        let packet = Packet::event(&self.namespace, name, args, id);
        if self.connected() {
            (Some(packet), id)
        } else {
            self.send_buffer.push_back(packet);
            (None, id)
        }
    }

    /// The ack answering the server's event `id`.
    pub fn ack(&self, id: u64, args: Args) -> Packet {
        Packet::Ack {
            namespace: self.namespace.clone(),
            args,
            id,
        }
    }

    /// Feeds a packet for this namespace.
    pub fn on_packet(&mut self, packet: Packet) -> Vec<SocketOutput> {
        let mut out = Vec::new();
        let pid = match &packet {
            Packet::Connect {
                data: Some(data), ..
            } => data.get("pid").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        if let Some(outcome) = self.conn.on_packet(&packet) {
            match outcome {
                ConnectOutcome::Connected(sid) => {
                    self.recovered = pid.is_some() && pid == self.pid;
                    self.pid = pid;
                    if !self.recovered {
                        self.last_offset = None;
                    }
                    // socket.io-client's order: buffered events, buffered emits, then
                    // `connect`.
                    for event in std::mem::take(&mut self.receive_buffer) {
                        let delivered = self.deliver(event);
                        out.push(delivered);
                    }
                    out.extend(self.send_buffer.drain(..).map(SocketOutput::Send));
                    out.push(SocketOutput::Event(SocketEvent::Connect {
                        sid,
                        recovered: self.recovered,
                    }));
                }
                ConnectOutcome::Refused { message, data } => {
                    self.active = false;
                    out.push(SocketOutput::Event(SocketEvent::ConnectError {
                        message,
                        data,
                    }));
                }
                ConnectOutcome::ServerDisconnect => {
                    self.active = false;
                    out.extend(self.lost("io server disconnect"));
                }
                ConnectOutcome::TimedOut => {}
            }
            return out;
        }
        match packet {
            Packet::Event { name, args, id, .. } if self.connected() => {
                let delivered = self.deliver(SocketEvent::Event {
                    name,
                    args,
                    ack: id,
                });
                out.push(delivered);
            }
            Packet::Event { name, args, id, .. }
                if matches!(self.conn, NamespaceConnection::Connecting { .. })
                    && self.receive_buffer.len() < MAX_RECEIVE_BUFFER =>
            {
                self.receive_buffer.push(SocketEvent::Event {
                    name,
                    args,
                    ack: id,
                });
            }
            Packet::Ack { id, args, .. } if self.pending_acks.remove(&id).is_some() => {
                out.push(SocketOutput::Event(SocketEvent::Ack { id, args }));
            }
            _ => {}
        }
        out
    }

    /// The application disconnects: the DISCONNECT to send if connected, and the
    /// `disconnect` event.
    pub fn disconnect(&mut self) -> Vec<SocketOutput> {
        self.active = false;
        self.send_buffer.clear();
        let mut out = Vec::new();
        if self.connected() {
            out.push(SocketOutput::Send(Packet::Disconnect {
                namespace: self.namespace.clone(),
            }));
            out.extend(self.lost("io client disconnect"));
        } else {
            self.conn.on_close();
        }
        out
    }

    /// The Engine.IO connection closed for `reason`; the socket stays active and
    /// rejoins when the connection comes back.
    pub fn on_engine_close(&mut self, reason: &str) -> Vec<SocketOutput> {
        if self.connected() {
            self.lost(reason)
        } else {
            self.conn.on_close();
            Vec::new()
        }
    }

    fn lost(&mut self, reason: &str) -> Vec<SocketOutput> {
        self.conn.on_close();
        // Acks of emits that went out on the lost connection never come; emits still in
        // the send buffer go out on the next connection and keep theirs.
        let buffered: Vec<u64> = self
            .send_buffer
            .iter()
            .filter_map(|p| match p {
                Packet::Event { id: Some(id), .. } => Some(*id),
                _ => None,
            })
            .collect();
        let mut out = vec![SocketOutput::Event(SocketEvent::Disconnect {
            reason: reason.to_owned(),
        })];
        let lost: Vec<u64> = self
            .pending_acks
            .keys()
            .filter(|id| !buffered.contains(id))
            .copied()
            .collect();
        for id in lost {
            self.pending_acks.remove(&id);
            out.push(SocketOutput::Event(SocketEvent::AckDisconnected { id }));
        }
        out
    }

    /// The next time [`SocketClient::poll`] has something to do.
    pub fn deadline(&self) -> Option<Duration> {
        let acks = self.pending_acks.values().flatten().min().copied();
        match (acks, self.conn.deadline()) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        }
    }

    /// Advances the clock: ack timeouts, and a join that got no answer ("timeout").
    pub fn poll(&mut self, now: Duration) -> Vec<SocketOutput> {
        let mut out = Vec::new();
        let expired: Vec<u64> = self
            .pending_acks
            .iter()
            .filter(|(_, deadline)| deadline.is_some_and(|d| now >= d))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.pending_acks.remove(&id);
            out.push(SocketOutput::Event(SocketEvent::AckTimeout { id }));
        }
        if let Some(ConnectOutcome::TimedOut) = self.conn.poll(now) {
            out.push(SocketOutput::Event(SocketEvent::ConnectError {
                message: "timeout".into(),
                data: None,
            }));
        }
        out
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::json;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn connected(ns: &str) -> SocketClient {
        let mut s = SocketClient::new(ns);
        s.activate();
        s.join(None, ms(0), ms(1000));
        s.on_packet(Packet::Connect {
            namespace: ns.into(),
            data: Some(json!({"sid": "abc"})),
        });
        s
    }

    #[test]
    fn buffers_emits_until_connected_and_drops_volatile() {
        let mut s = SocketClient::new("/chat");
        s.activate();
        let (now, id) = s.emit("a", vec![json!(1)].into(), Emit::default(), ms(0));
        assert_eq!((now, id), (None, None));
        let volatile = Emit {
            volatile: true,
            ..Emit::default()
        };
        assert_eq!(s.emit("v", vec![].into(), volatile, ms(0)), (None, None));
        let join = s.join(Some(json!({"t": 1})), ms(0), ms(1000));
        assert_eq!(join.encode().text, r#"0/chat,{"t":1}"#);
        let out = s.on_packet(Packet::Connect {
            namespace: "/chat".into(),
            data: Some(json!({"sid": "abc"})),
        });
        assert_eq!(
            out,
            vec![
                SocketOutput::Send(Packet::event("/chat", "a", vec![json!(1)].into(), None)),
                SocketOutput::Event(SocketEvent::Connect {
                    sid: "abc".into(),
                    recovered: false
                }),
            ]
        );
        assert_eq!(s.id(), Some("abc"));
        let (now, _) = s.emit("v", vec![].into(), volatile, ms(0));
        assert!(now.is_some());
    }

    #[test]
    fn acks_are_matched_and_time_out() {
        let mut s = connected("/");
        let with_timeout = Emit {
            ack: true,
            timeout: Some(ms(100)),
            ..Emit::default()
        };
        let (p, id0) = s.emit("q", vec![].into(), with_timeout, ms(0));
        assert_eq!(p.unwrap().encode().text, r#"20["q"]"#);
        let (_, id1) = s.emit("q", vec![].into(), with_timeout, ms(0));
        assert_eq!((id0, id1), (Some(0), Some(1)));
        assert_eq!(s.deadline(), Some(ms(100)));
        let out = s.on_packet(Packet::Ack {
            namespace: "/".into(),
            args: vec![json!("yes")].into(),
            id: 0,
        });
        assert_eq!(
            out,
            vec![SocketOutput::Event(SocketEvent::Ack {
                id: 0,
                args: vec![json!("yes")].into()
            })]
        );
        assert_eq!(
            s.poll(ms(100)),
            vec![SocketOutput::Event(SocketEvent::AckTimeout { id: 1 })]
        );
        // A late answer is ignored.
        let late = s.on_packet(Packet::Ack {
            namespace: "/".into(),
            args: vec![].into(),
            id: 1,
        });
        assert!(late.is_empty());
    }

    #[test]
    fn events_and_disconnect_reasons() {
        let mut s = connected("/");
        let out = s.on_packet(Packet::event("/", "hi", vec![json!(1)].into(), Some(7)));
        assert_eq!(
            out,
            vec![SocketOutput::Event(SocketEvent::Event {
                name: "hi".into(),
                args: vec![json!(1)].into(),
                ack: Some(7)
            })]
        );
        assert_eq!(
            s.ack(7, vec![json!("ok")].into()).encode().text,
            r#"37["ok"]"#
        );
        let out = s.on_packet(Packet::Disconnect {
            namespace: "/".into(),
        });
        assert_eq!(
            out,
            vec![SocketOutput::Event(SocketEvent::Disconnect {
                reason: "io server disconnect".into()
            })]
        );
        assert!(!s.active());

        let mut s = connected("/");
        let (_, sent) = s.emit(
            "q",
            vec![].into(),
            Emit {
                ack: true,
                ..Emit::default()
            },
            ms(0),
        );
        assert_eq!(
            s.on_engine_close("transport close")[1],
            SocketOutput::Event(SocketEvent::AckDisconnected { id: sent.unwrap() })
        );

        let mut s = connected("/");
        assert_eq!(
            s.on_engine_close("transport close"),
            vec![SocketOutput::Event(SocketEvent::Disconnect {
                reason: "transport close".into()
            })]
        );
        assert!(s.active());

        let mut s = connected("/");
        let out = s.disconnect();
        assert_eq!(
            out[0].clone(),
            SocketOutput::Send(Packet::Disconnect {
                namespace: "/".into()
            })
        );
        assert!(!s.active());
    }

    #[test]
    fn a_cut_session_is_claimed_back_with_its_last_offset() {
        let mut s = SocketClient::new("/");
        s.activate();
        s.join(Some(json!({"token": "t"})), ms(0), ms(1000));
        s.on_packet(Packet::Connect {
            namespace: "/".into(),
            data: Some(json!({"sid": "s1", "pid": "p1"})),
        });
        assert!(!s.recovered());
        let event = |n: i64, offset: &str| Packet::Event {
            namespace: "/".into(),
            name: "tick".into(),
            args: vec![json!(n), json!(offset)].into(),
            id: None,
        };
        s.on_packet(event(1, "a1"));
        s.on_engine_close("transport close");
        // The rejoin names the session and the last offset, beside the app's auth.
        let join = s.join(Some(json!({"token": "t"})), ms(10), ms(1000));
        assert_eq!(
            join,
            Packet::Connect {
                namespace: "/".into(),
                data: Some(json!({"pid": "p1", "offset": "a1", "token": "t"})),
            }
        );
        // A server that replays before it answers (Node's order): held, then delivered
        // ahead of `connect`.
        assert!(s.on_packet(event(2, "a2")).is_empty());
        let out = s.on_packet(Packet::Connect {
            namespace: "/".into(),
            data: Some(json!({"sid": "s1", "pid": "p1"})),
        });
        assert_eq!(
            out,
            vec![
                SocketOutput::Event(SocketEvent::Event {
                    name: "tick".into(),
                    args: vec![json!(2), json!("a2")].into(),
                    ack: None,
                }),
                SocketOutput::Event(SocketEvent::Connect {
                    sid: "s1".into(),
                    recovered: true
                }),
            ]
        );
        assert!(s.recovered());
        s.on_packet(event(3, "a3"));
        s.on_engine_close("transport close");
        let join = s.join(None, ms(20), ms(1000));
        assert_eq!(
            join,
            Packet::Connect {
                namespace: "/".into(),
                data: Some(json!({"pid": "p1", "offset": "a3"})),
            }
        );
        // A fresh session: not recovered, and its offsets start over.
        s.on_packet(Packet::Connect {
            namespace: "/".into(),
            data: Some(json!({"sid": "s2", "pid": "p2"})),
        });
        assert!(!s.recovered());
    }

    #[test]
    fn refused_and_timed_out_joins() {
        let mut s = SocketClient::new("/");
        s.activate();
        s.join(None, ms(0), ms(1000));
        let out = s.on_packet(Packet::ConnectError {
            namespace: "/".into(),
            data: json!({"message": "no", "data": {"code": 1}}),
        });
        assert_eq!(
            out,
            vec![SocketOutput::Event(SocketEvent::ConnectError {
                message: "no".into(),
                data: Some(json!({"code": 1}))
            })]
        );
        assert!(!s.active());
        let mut s = SocketClient::new("/");
        s.join(None, ms(0), ms(1000));
        assert_eq!(
            s.poll(ms(1000)),
            vec![SocketOutput::Event(SocketEvent::ConnectError {
                message: "timeout".into(),
                data: None
            })]
        );
    }
}
