//! Who is in which room: the [`Adapter`] boundary and its in-memory implementation.
//!
//! A namespace asks its adapter which sockets a broadcast reaches; the namespace then
//! hands the already-encoded frames to each of them. An adapter for several nodes
//! (Redis) implements the same trait: its membership methods answer for this node, and
//! its `remote_*` methods carry the same operation to the other nodes. The defaults of
//! the `remote_*` methods say "this node is the whole cluster".
//!
//! The boundary is complete: an [`AdapterFactory`] gets a [`NamespaceRef`] for each
//! namespace, and that handle does on this node everything another node can ask for
//! (socket.io's `broadcast`, `addSockets`, `delSockets`, `disconnectSockets`,
//! `fetchSockets`, `serverSideEmit`). A cluster adapter in a crate of its own needs
//! nothing else from this crate.

use crate::hash::{Map, Set};
use futures_util::future::{self, BoxFuture};
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// A socket id.
pub type Sid = Arc<str>;

/// A room name.
pub type Room = Arc<str>;

/// Which sockets a broadcast reaches: those in any of `rooms` (every socket when
/// `rooms` is empty), minus those in any of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means the whole namespace.
    pub rooms: Vec<Room>,
    /// Rooms whose members are left out (a socket's own id is a room, so this also
    /// excludes single sockets).
    pub except: Vec<Room>,
}

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
    /// The link between the nodes (Redis, say) is down.
    #[error("the cluster link is down: {0}")]
    Unavailable(String),
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

/// A socket's session kept for connection state recovery (socket.io's `Session`): what
/// a client that comes back, to any node, gets again.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The socket id, which the client keeps.
    pub sid: Sid,
    /// The private id the client names when it comes back.
    pub pid: Sid,
    /// Its rooms, its own id included.
    pub rooms: Vec<Room>,
    /// `socket.data`.
    pub data: Value,
}

/// A session an adapter gives back ([`Adapter::restore_session`]), with the events the
/// socket missed, in order: each `[event, ...args, offset]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    /// The session.
    pub session: Session,
    /// The missed events, each with its offset as its last element.
    pub missed: Vec<Vec<Value>>,
    /// How far the adapter read its log for `missed`: what this node delivered after
    /// that offset ([`Adapter::offset_after`]) while the socket was not registered yet
    /// is sent to it too, so that nothing falls between the missed and the live.
    pub read_to: Option<String>,
}

/// Makes the adapter of each namespace, when the namespace is created (socket.io's
/// `createAdapter()`). Give it to [`crate::Builder::adapter`].
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of `namespace`. Keep the handle: it is how the adapter does on this
    /// node what the other nodes ask for.
    fn create(&self, namespace: NamespaceRef) -> Arc<dyn Adapter>;
}

/// What a namespace does on this node alone: the local half of each cluster
/// operation, behind [`NamespaceRef`]. Implemented by the namespace; a trait so that
/// the adapter boundary does not depend on the namespace's insides.
pub(crate) trait LocalNamespace: Send + Sync {
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions);
    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Vec<BoxFuture<'static, Option<Value>>>;
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo>;
    fn server_side_emit(&self, data: Vec<Value>) -> Option<BoxFuture<'static, Value>>;
    fn broadcast_with_offset(&self, packet: &Packet, opts: &BroadcastOptions, offset: Option<&str>);
    fn recovery(&self) -> Option<Duration>;
}

/// A weak handle to a namespace, given to its adapter by [`AdapterFactory::create`].
/// Each method is the local half of a cluster operation: what this node does when
/// another node asks, on this node's sockets only, without going back through the
/// adapter's `remote_*` methods. The handle does not keep the namespace alive; once
/// the namespace is gone, every method does nothing and finds nothing.
#[derive(Clone)]
pub struct NamespaceRef {
    name: Arc<str>,
    inner: Weak<dyn LocalNamespace>,
}

impl NamespaceRef {
    pub(crate) fn new(name: &str, inner: Weak<dyn LocalNamespace>) -> NamespaceRef {
        NamespaceRef {
            name: name.into(),
            inner,
        }
    }

    /// The namespace's name (`/`, `/chat`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the namespace still exists.
    pub fn is_alive(&self) -> bool {
        self.inner.strong_count() > 0
    }

    /// Delivers `packet` to this node's sockets that `opts` selects (socket.io's
    /// `Adapter.broadcast`, the in-memory part): encoded once, every target gets the
    /// same bytes. With connection state recovery on, an event without an ack id is
    /// kept and carries its offset, as a broadcast made on this node would.
    pub fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        if let Some(ns) = self.inner.upgrade() {
            ns.broadcast(packet, opts);
        }
    }

    /// Sends the event `packet` to this node's sockets that `opts` selects and waits
    /// up to `timeout` for each one's ack (socket.io's `Adapter.broadcastWithAck`).
    /// One future per socket reached, so their number is the client count; each
    /// resolves to the client's answer (its first ack argument, `null` if it had none)
    /// or to `None` when the client did not answer in time. Empty for a packet that is
    /// not an event.
    pub fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Vec<BoxFuture<'static, Option<Value>>> {
        match self.inner.upgrade() {
            Some(ns) => ns.broadcast_with_ack(packet, opts, timeout),
            None => Vec::new(),
        }
    }

    /// Makes this node's sockets that `opts` selects join `rooms` (socket.io's
    /// `addSockets`, the local half of `socketsJoin`).
    pub fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if let Some(ns) = self.inner.upgrade() {
            ns.add_sockets(opts, rooms);
        }
    }

    /// Makes this node's sockets that `opts` selects leave `rooms` (socket.io's
    /// `delSockets`, the local half of `socketsLeave`).
    pub fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if let Some(ns) = self.inner.upgrade() {
            ns.del_sockets(opts, rooms);
        }
    }

    /// Disconnects this node's sockets that `opts` selects from the namespace, or
    /// closes their whole connections with `close` (socket.io's `disconnectSockets`).
    pub fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if let Some(ns) = self.inner.upgrade() {
            ns.disconnect_sockets(opts, close);
        }
    }

    /// This node's sockets that `opts` selects, as other nodes see them (socket.io's
    /// `fetchSockets`, the local half).
    pub fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        match self.inner.upgrade() {
            Some(ns) => ns.fetch_sockets(opts),
            None => Vec::new(),
        }
    }

    /// Runs this node's server-side listener of `data[0]` (registered with
    /// [`crate::Namespace::on_server_side`]) with the other elements, as another
    /// node's `serverSideEmit` asks. The future resolves to the listener's answer,
    /// for a sender that waits for one; spawn it (or drop the answer) either way.
    /// `None` when no listener has that name: socket.io answers nothing then.
    pub fn server_side_emit(&self, data: Vec<Value>) -> Option<BoxFuture<'static, Value>> {
        self.inner.upgrade()?.server_side_emit(data)
    }

    /// Delivers `packet` to this node's sockets that `opts` selects with `offset` (the
    /// adapter's) as the event's last argument, or none; nothing is kept in this node's
    /// recovery store. For an adapter that [numbers broadcasts](Adapter::recovers_sessions).
    pub fn broadcast_with_offset(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        if let Some(ns) = self.inner.upgrade() {
            ns.broadcast_with_offset(packet, opts, offset);
        }
    }

    /// With connection state recovery on, how long a disconnected session is kept
    /// (`maxDisconnectionDuration`); `None` when recovery is off.
    pub fn recovery(&self) -> Option<Duration> {
        self.inner.upgrade()?.recovery()
    }
}

impl std::fmt::Debug for NamespaceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceRef")
            .field("name", &self.name)
            .finish()
    }
}

/// Room membership of one namespace's sockets.
pub trait Adapter: Send + Sync + 'static {
    /// Adds a socket to rooms.
    fn join(&self, sid: &Sid, rooms: &[Room]);
    /// Removes a socket from a room.
    fn leave(&self, sid: &Sid, room: &str);
    /// Removes a socket from every room (it disconnected).
    fn leave_all(&self, sid: &Sid);
    /// The rooms a socket is in.
    fn rooms_of(&self, sid: &Sid) -> Vec<Room>;
    /// The local sockets a broadcast with these options reaches.
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Sid>;
    /// Calls `f` with each local socket a broadcast with these options reaches. The
    /// default collects [`Adapter::sockets`]; an adapter can walk its sets instead,
    /// so that a broadcast to thousands of sockets allocates nothing.
    fn for_each_socket(&self, opts: &BroadcastOptions, f: &mut dyn FnMut(&Sid)) {
        for sid in self.sockets(opts) {
            f(&sid);
        }
    }
    /// All rooms that have at least one local socket.
    fn rooms(&self) -> Vec<Room>;

    /// Hands a broadcast to the other nodes (this node has delivered it already).
    fn remote_broadcast(&self, _packet: &Packet, _opts: &BroadcastOptions) {}
    /// Hands a broadcast that waits for acks to the other nodes and collects their
    /// clients' answers (each client's first ack argument) for up to `timeout`; the
    /// flag says whether every answer arrived.
    fn remote_broadcast_with_ack(
        &self,
        _packet: &Packet,
        _opts: &BroadcastOptions,
        _timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        Box::pin(future::ready((Vec::new(), true)))
    }
    /// Makes the matching sockets of the other nodes join `rooms` (`socketsJoin`).
    fn remote_join(&self, _opts: &BroadcastOptions, _rooms: &[Room]) {}
    /// Makes the matching sockets of the other nodes leave `rooms` (`socketsLeave`).
    fn remote_leave(&self, _opts: &BroadcastOptions, _rooms: &[Room]) {}
    /// Disconnects the matching sockets of the other nodes (`disconnectSockets`);
    /// `close` closes their whole connections.
    fn remote_disconnect(&self, _opts: &BroadcastOptions, _close: bool) {}
    /// The matching sockets of the other nodes (`fetchSockets`).
    fn remote_fetch_sockets(
        &self,
        _opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        Box::pin(future::ready(Ok(Vec::new())))
    }
    /// The rooms of the other nodes (`allRooms`).
    fn remote_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        Box::pin(future::ready(Ok(Vec::new())))
    }
    /// Sends `[event, ...args]` to the namespace's server-side listeners on the other
    /// nodes (`serverSideEmit`).
    fn remote_server_side_emit(&self, _data: Vec<Value>) {}
    /// Like [`Adapter::remote_server_side_emit`], and waits up to `timeout` for one
    /// answer from each other node.
    fn remote_server_side_emit_with_ack(
        &self,
        _data: Vec<Value>,
        _timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        Box::pin(future::ready(Ok(Vec::new())))
    }
    /// How many nodes serve this namespace, this one included.
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        Box::pin(future::ready(Ok(1)))
    }

    /// Whether this adapter keeps the sessions and numbers the broadcasts of connection
    /// state recovery itself, for every node (socket.io's `persistSession` and
    /// `restoreSession`, as the Redis Streams adapter does with its stream's ids). When
    /// it does and recovery is on, an event broadcast made on this node goes to
    /// [`Adapter::remote_broadcast`] alone: the adapter delivers it here too, once it
    /// has its offset, with [`NamespaceRef::broadcast_with_offset`]. The default (no)
    /// keeps sessions and packets in this node's memory.
    fn recovers_sessions(&self) -> bool {
        false
    }
    /// Keeps the session of a socket that left for a reason the network can cause (only
    /// called when [`Adapter::recovers_sessions`]).
    fn persist_session(&self, _session: Session) {}
    /// The session of `pid` and the events it missed after `offset`, taken (a session is
    /// given back once); `None` when it is unknown, expired, or its offset is no longer
    /// kept (only called when [`Adapter::recovers_sessions`]).
    fn restore_session(
        &self,
        _pid: &str,
        _offset: &str,
    ) -> BoxFuture<'static, Option<RestoredSession>> {
        Box::pin(future::ready(None))
    }
    /// Whether the adapter's `offset` comes after `than` in its log.
    fn offset_after(&self, _offset: &str, _than: &str) -> bool {
        false
    }
}

/// The default adapter: membership kept in this process.
#[derive(Debug, Default)]
pub struct LocalAdapter {
    state: RwLock<Membership>,
}

#[derive(Debug, Default)]
struct Membership {
    rooms: Map<Room, Set<Sid>>,
    sids: Map<Sid, Set<Room>>,
}

impl LocalAdapter {
    /// Whether a local socket is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.state
            .read()
            .expect("adapter lock")
            .rooms
            .contains_key(room)
    }
}

impl Adapter for LocalAdapter {
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        let mut m = self.state.write().expect("adapter lock");
        for room in rooms {
            m.rooms.entry(room.clone()).or_default().insert(sid.clone());
            m.sids.entry(sid.clone()).or_default().insert(room.clone());
        }
    }

    fn leave(&self, sid: &Sid, room: &str) {
        let mut m = self.state.write().expect("adapter lock");
        if let Some(members) = m.rooms.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                m.rooms.remove(room);
            }
        }
        if let Some(rooms) = m.sids.get_mut(sid) {
            rooms.remove(room);
        }
    }

    fn leave_all(&self, sid: &Sid) {
        let mut m = self.state.write().expect("adapter lock");
        let Some(rooms) = m.sids.remove(sid) else {
            return;
        };
        for room in rooms {
            if let Some(members) = m.rooms.get_mut(&room) {
                members.remove(sid);
                if members.is_empty() {
                    m.rooms.remove(&room);
                }
            }
        }
    }

    fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        let m = self.state.read().expect("adapter lock");
        m.sids
            .get(sid)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let m = self.state.read().expect("adapter lock");
        let excluded = |sid: &Sid| {
            opts.except.iter().any(|room| {
                m.rooms
                    .get(room)
                    .is_some_and(|members| members.contains(sid))
            })
        };
        if opts.rooms.is_empty() {
            return m.sids.keys().filter(|s| !excluded(s)).cloned().collect();
        }
        let mut seen = Set::default();
        opts.rooms
            .iter()
            .filter_map(|room| m.rooms.get(room))
            .flatten()
            .filter(|sid| !excluded(sid) && seen.insert((*sid).clone()))
            .cloned()
            .collect()
    }

    fn for_each_socket(&self, opts: &BroadcastOptions, f: &mut dyn FnMut(&Sid)) {
        let m = self.state.read().expect("adapter lock");
        let excluded = |sid: &Sid| {
            opts.except.iter().any(|room| {
                m.rooms
                    .get(room)
                    .is_some_and(|members| members.contains(sid))
            })
        };
        match opts.rooms.as_slice() {
            [] => m.sids.keys().filter(|s| !excluded(s)).for_each(f),
            // One room cannot name a socket twice: no need to track who has been seen.
            [room] => {
                if let Some(members) = m.rooms.get(room) {
                    members.iter().filter(|s| !excluded(s)).for_each(f);
                }
            }
            _ => self.sockets(opts).iter().for_each(f),
        }
    }

    fn rooms(&self) -> Vec<Room> {
        let m = self.state.read().expect("adapter lock");
        m.rooms.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    fn sorted(mut v: Vec<Sid>) -> Vec<Sid> {
        v.sort();
        v
    }

    #[test]
    fn rooms_and_exceptions() {
        let a = LocalAdapter::default();
        for s in ["a", "b", "c"] {
            a.join(&r(s), &[r(s)]);
        }
        a.join(&r("a"), &[r("red"), r("blue")]);
        a.join(&r("b"), &[r("red")]);
        a.join(&r("c"), &[r("blue")]);
        let opts = |rooms: &[&str], except: &[&str]| BroadcastOptions {
            rooms: rooms.iter().map(|s| r(s)).collect(),
            except: except.iter().map(|s| r(s)).collect(),
        };
        assert_eq!(
            sorted(a.sockets(&opts(&[], &[]))),
            vec![r("a"), r("b"), r("c")]
        );
        assert_eq!(
            sorted(a.sockets(&opts(&["red"], &[]))),
            vec![r("a"), r("b")]
        );
        assert_eq!(
            sorted(a.sockets(&opts(&["red", "blue"], &[]))),
            vec![r("a"), r("b"), r("c")]
        );
        assert_eq!(
            sorted(a.sockets(&opts(&["red", "blue"], &["b"]))),
            vec![r("a"), r("c")]
        );
        assert_eq!(sorted(a.sockets(&opts(&[], &["blue"]))), vec![r("b")]);
        // The walk reaches the same sockets as the list.
        for (rooms, except) in [
            (&[][..], &[][..]),
            (&["red"][..], &["a"][..]),
            (&["red", "blue"][..], &["b"][..]),
            (&["nobody"][..], &[][..]),
        ] {
            let o = opts(rooms, except);
            let mut walked = Vec::new();
            a.for_each_socket(&o, &mut |sid| walked.push(sid.clone()));
            assert_eq!(
                sorted(walked),
                sorted(a.sockets(&o)),
                "{rooms:?} {except:?}"
            );
        }
        a.leave(&r("a"), "red");
        assert_eq!(sorted(a.sockets(&opts(&["red"], &[]))), vec![r("b")]);
        a.leave_all(&r("b"));
        assert!(a.sockets(&opts(&["red"], &[])).is_empty());
        assert!(!a.rooms().contains(&r("red")));
        assert_eq!(sorted(a.rooms_of(&r("a"))), vec![r("a"), r("blue")]);
    }
}
