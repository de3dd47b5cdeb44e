//! What crosses nodes: how an adapter is made for a namespace, the sockets other nodes
//! report, and the local half of every cluster operation (what this node does when
//! another node asks).

use crate::adapter::{Adapter, BroadcastOptions, Room, Sid};
use crate::args::IntoArgs;
use crate::error::EmitError;
use crate::handshake::Handshake;
use crate::namespace::NsInner;
use crate::socket::frame_of;
use futures_util::future::BoxFuture;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use std::sync::{Arc, Weak};
use std::time::{Instant, UNIX_EPOCH};

/// A cluster operation that could not complete.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AdapterError {
    /// Not every node answered in time.
    #[error("timeout reached: only {received} responses received out of {expected}")]
    Timeout {
        /// Answers that arrived.
        received: usize,
        /// Answers expected (one per other node).
        expected: usize,
    },
    /// The link between the nodes (Redis) is down.
    #[error("the cluster link is down: {0}")]
    Unavailable(String),
}

/// Makes the adapter of each namespace, when the namespace is created (socket.io's
/// `createAdapter()`).
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of `namespace`.
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn Adapter>;
}

/// A weak handle to a namespace, given to its adapter: the adapter uses it to do on
/// this node what other nodes ask for, without keeping the namespace alive.
#[derive(Clone)]
pub struct NamespaceRef {
    pub(crate) name: Arc<str>,
    // Read by the adapters of this crate (Redis), which a build without them lacks.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) inner: Weak<NsInner>,
}

impl NamespaceRef {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn upgrade(&self) -> Option<Arc<NsInner>> {
        self.inner.upgrade()
    }
}

/// A socket as a node describes it to other nodes (`fetchSockets`): its id, rooms,
/// handshake and `data`, in socket.io's JSON shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketInfo {
    /// The socket id.
    pub id: Sid,
    /// Its rooms, its own id included.
    pub rooms: Vec<Room>,
    /// `socket.handshake`: `headers`, `time`, `address`, `xdomain`, `secure`,
    /// `issued`, `url`, `query`, `auth`.
    pub handshake: Value,
    /// `socket.data`: what the application stored with [`crate::Socket::set_data`].
    pub data: Value,
}

/// A socket of any node, from [`crate::BroadcastOperator::fetch_sockets`]: what it is,
/// and the operations socket.io's `RemoteSocket` offers, carried out wherever the
/// socket is connected.
#[derive(Clone)]
pub struct RemoteSocket {
    info: SocketInfo,
    ns: Arc<NsInner>,
}

impl RemoteSocket {
    pub(crate) fn new(info: SocketInfo, ns: Arc<NsInner>) -> RemoteSocket {
        RemoteSocket { info, ns }
    }

    /// The socket id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Its rooms when it was fetched.
    pub fn rooms(&self) -> &[Room] {
        &self.info.rooms
    }

    /// Its handshake, in socket.io's JSON shape.
    pub fn handshake(&self) -> &Value {
        &self.info.handshake
    }

    /// Its `data`.
    pub fn data(&self) -> &Value {
        &self.info.data
    }

    /// All of the above.
    pub fn info(&self) -> &SocketInfo {
        &self.info
    }

    fn target(&self) -> crate::BroadcastOperator {
        crate::BroadcastOperator::new(
            self.ns.clone(),
            BroadcastOptions {
                rooms: vec![self.info.id.clone()],
                except: vec![],
            },
        )
    }

    /// Sends `event` to this socket, on whichever node it is.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.target().emit(event, args)
    }

    /// Makes the socket join rooms.
    pub fn join(&self, rooms: impl crate::IntoRooms) {
        self.target().join(rooms)
    }

    /// Makes the socket leave rooms.
    pub fn leave(&self, rooms: impl crate::IntoRooms) {
        self.target().leave(rooms)
    }

    /// Disconnects the socket (`close` closes its whole connection).
    pub fn disconnect(&self, close: bool) {
        self.target().disconnect_sockets(close)
    }
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.info.fmt(f)
    }
}

/// socket.io's `socket.handshake` for a handshake of ours.
pub(crate) fn handshake_json(handshake: &Handshake, auth: &Value, secure: bool) -> Value {
    let headers = handshake
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_owned(),
                Value::String(value.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let query = handshake
        .query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let issued = handshake
        .issued
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Value::Object(vec![
        ("headers".into(), Value::Object(headers)),
        ("time".into(), Value::String(http_date(issued))),
        (
            "address".into(),
            Value::String(
                handshake
                    .address
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
            ),
        ),
        (
            "xdomain".into(),
            Value::Bool(handshake.headers.contains_key("origin")),
        ),
        ("secure".into(), Value::Bool(secure)),
        ("issued".into(), Value::Number(issued.into())),
        ("url".into(), Value::String(handshake.url.clone())),
        ("query".into(), Value::Object(query)),
        ("auth".into(), auth.clone()),
    ])
}

/// A date as JavaScript's `Date.prototype.toString` would not bother to: the RFC 7231
/// form, which is what `new Date(...)` parses back.
fn http_date(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

/// The local half of each cluster operation: what this node does for a request that
/// arrived from another node (and for its own requests, before it forwards them).
impl NsInner {
    /// Delivers a packet to this node's sockets that `opts` selects: encoded once.
    /// With connection state recovery on, an event without an ack gets the next offset
    /// as its last argument and is kept; the store's lock is held until every target
    /// has the frame, so each socket sees the offsets in order.
    pub(crate) fn deliver_local(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.deliver_local_as(packet, opts, false)
    }

    /// [`NsInner::deliver_local`]; a `volatile` packet is neither kept for recovery nor
    /// queued for a client that has a backlog.
    pub(crate) fn deliver_local_as(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        volatile: bool,
    ) {
        let mut store = match (&self.recovery, packet) {
            (Some(store), Packet::Event { id: None, .. }) if !volatile => {
                Some(store.lock().expect("recovery lock"))
            }
            _ => None,
        };
        let frame = match (&mut store, packet) {
            (
                Some(store),
                Packet::Event {
                    namespace,
                    name,
                    args,
                    ..
                },
            ) => {
                let (offset, text) = store.next_offset();
                let args = args.appended(&text).unwrap_or_else(|_| args.clone());
                let frame = frame_of(
                    self.shared.config.parser,
                    &Packet::event(namespace, name, args, None),
                );
                store.keep(offset, opts, frame.clone(), Instant::now());
                frame
            }
            _ => frame_of(self.shared.config.parser, packet),
        };
        let sockets = self.sockets.read().expect("sockets lock");
        self.adapter.for_each_socket(opts, &mut |sid| {
            if let Some(socket) = sockets.get(sid) {
                if volatile {
                    if !socket.inner.engine.send_volatile(frame.clone()) {
                        tracing::trace!(%sid, "volatile packet dropped: the client has a backlog");
                    }
                } else if let Err(e) = socket.inner.engine.send(frame.clone()) {
                    tracing::debug!(%sid, error = %e, "broadcast not delivered");
                }
            }
        });
        drop(store);
    }

    /// Makes this node's matching sockets join `rooms`.
    pub(crate) fn join_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.adapter.sockets(opts) {
            self.adapter.join(&sid, rooms);
        }
    }

    /// Makes this node's matching sockets leave `rooms`.
    pub(crate) fn leave_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.adapter.sockets(opts) {
            for room in rooms {
                self.adapter.leave(&sid, room);
            }
        }
    }

    /// Disconnects this node's matching sockets.
    pub(crate) fn disconnect_local(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.local_sockets(opts) {
            socket.disconnect(if close {
                crate::Disconnect::Connection
            } else {
                crate::Disconnect::Namespace
            });
        }
    }

    /// This node's matching sockets.
    pub(crate) fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<crate::Socket> {
        let targets = self.adapter.sockets(opts);
        let sockets = self.sockets.read().expect("sockets lock");
        targets
            .iter()
            .filter_map(|sid| sockets.get(sid).cloned())
            .collect()
    }

    /// How this node's matching sockets are described to other nodes.
    pub(crate) fn local_socket_infos(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.local_sockets(opts)
            .iter()
            .map(|socket| SocketInfo {
                id: socket.inner.id.clone(),
                rooms: socket.rooms(),
                handshake: handshake_json(socket.handshake(), socket.auth(), false),
                data: socket.data(),
            })
            .collect()
    }

    /// Runs the server-side listener of `data[0]` with the other elements. The future
    /// resolves to the listener's answer (for a `serverSideEmit` with ack); `None`
    /// when there is no listener.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn server_side(&self, mut data: Vec<Value>) -> Option<BoxFuture<'static, Value>> {
        let event = match data.first() {
            Some(Value::String(event)) => event.clone(),
            _ => return None,
        };
        let handler = self
            .server_side_handlers
            .read()
            .expect("server-side handlers lock")
            .get(event.as_str())
            .cloned()?;
        data.remove(0);
        Some(handler(data))
    }
}

#[cfg(test)]
mod tests {
    use super::http_date;

    #[test]
    fn dates_read_like_rfc_7231() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_764_619_200_000),
            "Mon, 01 Dec 2025 20:00:00 GMT"
        );
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
