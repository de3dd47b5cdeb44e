//! The local half of each cluster operation: what a namespace does on this node's
//! sockets, for a broadcast or request made here (before the adapter forwards it) and
//! for one that arrived from another node (through [`NamespaceRef`]).
//!
//! [`NamespaceRef`]: crate::adapter::NamespaceRef

use super::NsInner;
use crate::adapter::{BroadcastOptions, LocalNamespace, Room, SocketInfo};
use crate::handshake::handshake_json;
use crate::socket::{frame_of, Disconnect, Socket};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use std::time::{Duration, Instant};

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
        // With an adapter that numbers packets, those it did not number (local ones)
        // carry no offset, as socket.io's cluster adapters send them.
        let mut store = match (&self.recovery, packet) {
            (Some(store), Packet::Event { id: None, .. })
                if !volatile && !self.adapter.recovers_sessions() =>
            {
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
        self.send_to(&frame, opts, volatile);
        drop(store);
        crate::socket::hooks::notify_outgoing_all(&self.outgoing_listeners(opts), packet);
    }

    /// Whether this node's broadcasts go to the adapter alone, which numbers them and
    /// delivers them here too ([`crate::Adapter::recovers_sessions`], recovery on).
    pub(crate) fn adapter_numbers(&self) -> bool {
        self.recovery.is_some() && self.adapter.recovers_sessions()
    }

    /// Delivers a packet numbered by the adapter: `offset` as the event's last argument
    /// (none when it has no number), kept by the adapter rather than this node.
    pub(crate) fn deliver_with_offset(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        let numbered = match (packet, offset) {
            (
                Packet::Event {
                    namespace,
                    name,
                    args,
                    id: None,
                },
                Some(offset),
            ) => Packet::event(
                namespace,
                name,
                args.appended(offset).unwrap_or_else(|_| args.clone()),
                None,
            ),
            _ => packet.clone(),
        };
        let frame = frame_of(self.shared.config.parser, &numbered);
        // Kept, and sent, under the store's lock: a socket being restored is
        // registered either before (and gets it live) or after (and finds it kept).
        let mut store = match (&self.recovery, offset) {
            (Some(store), Some(_)) => Some(store.lock().expect("recovery lock")),
            _ => None,
        };
        if let (Some(store), Some(offset)) = (&mut store, offset) {
            store.keep_numbered(offset, opts, frame.clone(), Instant::now());
        }
        self.send_to(&frame, opts, false);
        drop(store);
        crate::socket::hooks::notify_outgoing_all(&self.outgoing_listeners(opts), packet);
    }

    /// The reached sockets with `on_any_outgoing` listeners: called once the locks are
    /// let go, since a listener may emit.
    fn outgoing_listeners(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        let sockets = self.sockets.read().expect("sockets lock");
        let mut listening = Vec::new();
        self.adapter.for_each_socket(opts, &mut |sid| {
            if let Some(socket) = sockets.get(sid) {
                if socket.inner.hooks.has_outgoing() {
                    listening.push(socket.clone());
                }
            }
        });
        listening
    }

    /// Hands one frame to each of this node's sockets that `opts` selects.
    fn send_to(&self, frame: &crate::engine::Frame, opts: &BroadcastOptions, volatile: bool) {
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
    }

    /// Makes this node's matching sockets join `rooms`.
    pub(crate) fn join_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let observer = self.shared.observer();
        for sid in self.adapter.sockets(opts) {
            self.adapter.join(&sid, rooms);
            if let Some(observer) = observer {
                for room in rooms {
                    observer.joined(&self.name, room, &sid);
                }
            }
        }
    }

    /// Makes this node's matching sockets leave `rooms`.
    pub(crate) fn leave_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.adapter.sockets(opts) {
            for room in rooms {
                self.adapter.leave(&sid, room);
                if let Some(observer) = self.shared.observer() {
                    observer.left(&self.name, room, &sid);
                }
            }
        }
    }

    /// Disconnects this node's matching sockets.
    pub(crate) fn disconnect_local(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.local_sockets(opts) {
            socket.disconnect(if close {
                Disconnect::Connection
            } else {
                Disconnect::Namespace
            });
        }
    }

    /// This node's matching sockets.
    pub(crate) fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
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

/// What a [`NamespaceRef`](crate::adapter::NamespaceRef) does: the methods above, for
/// an adapter.
impl LocalNamespace for NsInner {
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.deliver_local(packet, opts)
    }

    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Vec<BoxFuture<'static, Option<Value>>> {
        let Packet::Event { name, args, .. } = packet else {
            return Vec::new();
        };
        self.local_sockets(opts)
            .iter()
            .map(|socket| {
                socket
                    .timeout(timeout)
                    .emit_with_ack(name, args.clone())
                    .map(|answer| {
                        let args = answer.ok()?;
                        // An answer that does not parse is an answer all the same.
                        Some(
                            args.values()
                                .ok()
                                .and_then(|args| args.into_iter().next())
                                .unwrap_or(Value::Null),
                        )
                    })
                    .boxed()
            })
            .collect()
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.join_local(opts, rooms)
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.leave_local(opts, rooms)
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.disconnect_local(opts, close)
    }

    fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.local_socket_infos(opts)
    }

    fn server_side_emit(&self, data: Vec<Value>) -> Option<BoxFuture<'static, Value>> {
        self.server_side(data)
    }

    fn broadcast_with_offset(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        self.deliver_with_offset(packet, opts, offset)
    }

    fn recovery(&self) -> Option<Duration> {
        self.shared
            .config
            .recovery
            .as_ref()
            .map(|r| r.max_disconnection_duration)
    }
}
