//! Broadcasts: one encoding of a packet, handed to every socket an adapter picks.

use crate::adapter::{BroadcastOptions, Room};
use crate::args::IntoArgs;
use crate::error::EmitError;
use crate::namespace::NsInner;
use crate::socket::{check_event, frame_of, Socket};
use sockeye_protocol::socket::Packet;
use std::sync::Arc;

/// Room names accepted by `to`, `except` and `join`: one name or several.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// A set of target sockets in one namespace: narrow it with [`to`](Self::to) and
/// [`except`](Self::except), then [`emit`](Self::emit) or act on the sockets.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<NsInner>,
    opts: BroadcastOptions,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NsInner>, opts: BroadcastOptions) -> Self {
        BroadcastOperator { ns, opts }
    }

    /// Adds target rooms (a socket in any of them is reached).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.rooms.extend(rooms.into_rooms());
        self
    }

    /// Leaves out the sockets in these rooms.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.except.extend(rooms.into_rooms());
        self
    }

    /// The options this operator stands for.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Sends `event` to every target socket. The packet is encoded once; each socket
    /// gets the same bytes. A target whose queue is full is disconnected and the
    /// others still receive the packet.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        check_event(event)?;
        let frame = frame_of(&Packet::event(&self.ns.name, event, args.into_args(), None));
        let sockets = self.ns.sockets.read().expect("sockets lock");
        self.ns.adapter.for_each_socket(&self.opts, &mut |sid| {
            if let Some(socket) = sockets.get(sid) {
                if let Err(e) = socket.inner.engine.send(frame.clone()) {
                    tracing::debug!(%sid, error = %e, "broadcast not delivered");
                }
            }
        });
        Ok(())
    }

    /// The target sockets (socket.io's `fetchSockets` on one node).
    pub fn sockets(&self) -> Vec<Socket> {
        let targets = self.ns.adapter.sockets(&self.opts);
        let sockets = self.ns.sockets.read().expect("sockets lock");
        targets
            .iter()
            .filter_map(|sid| sockets.get(sid).cloned())
            .collect()
    }

    /// Makes every target socket join rooms (`socketsJoin`).
    pub fn join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for sid in self.ns.adapter.sockets(&self.opts) {
            self.ns.adapter.join(&sid, &rooms);
        }
    }

    /// Makes every target socket leave a room (`socketsLeave`).
    pub fn leave(&self, room: &str) {
        for sid in self.ns.adapter.sockets(&self.opts) {
            self.ns.adapter.leave(&sid, room);
        }
    }

    /// Disconnects every target socket (`disconnectSockets`).
    pub fn disconnect(&self) {
        for socket in self.sockets() {
            socket.disconnect();
        }
    }
}
