//! Broadcasts: one encoding of a packet, handed to every socket an adapter picks.

use crate::adapter::{BroadcastOptions, Room};
use crate::args::IntoArgs;
use crate::error::EmitError;
use crate::namespace::NsInner;
use crate::remote::{AdapterError, RemoteSocket};
use crate::socket::{check_event, Socket};
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

/// A set of target sockets in one namespace, on every node of a cluster unless
/// [`local`](Self::local): narrow it with [`to`](Self::to) and [`except`](Self::except),
/// then [`emit`](Self::emit) or act on the sockets.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<NsInner>,
    opts: BroadcastOptions,
    local: bool,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NsInner>, opts: BroadcastOptions) -> Self {
        BroadcastOperator {
            ns,
            opts,
            local: false,
        }
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

    /// Keeps the operation on this node (socket.io's `local` flag).
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The options this operator stands for.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Sends `event` to every target socket. The packet is encoded once; each local
    /// socket gets the same bytes, and the adapter forwards it to the other nodes. A
    /// target whose queue is full is disconnected and the others still receive it.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        check_event(event)?;
        let packet = Packet::event(&self.ns.name, event, args.into_args(), None);
        self.ns.deliver_local(&packet, &self.opts);
        if !self.local {
            self.ns.adapter.remote_broadcast(&packet, &self.opts);
        }
        Ok(())
    }

    /// The target sockets connected to this node, as live [`Socket`]s.
    pub fn sockets(&self) -> Vec<Socket> {
        self.ns.local_sockets(&self.opts)
    }

    /// The target sockets of every node (`fetchSockets`): their ids, rooms, handshakes
    /// and data, with the operations of socket.io's `RemoteSocket`.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let mut infos = self.ns.local_socket_infos(&self.opts);
        if !self.local {
            infos.extend(self.ns.adapter.remote_fetch_sockets(&self.opts).await?);
        }
        Ok(infos
            .into_iter()
            .map(|info| RemoteSocket::new(info, self.ns.clone()))
            .collect())
    }

    /// Makes every target socket join rooms (`socketsJoin`).
    pub fn join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        self.ns.join_local(&self.opts, &rooms);
        if !self.local {
            self.ns.adapter.remote_join(&self.opts, &rooms);
        }
    }

    /// Makes every target socket leave rooms (`socketsLeave`).
    pub fn leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        self.ns.leave_local(&self.opts, &rooms);
        if !self.local {
            self.ns.adapter.remote_leave(&self.opts, &rooms);
        }
    }

    /// Disconnects every target socket from the namespace (`disconnectSockets`).
    pub fn disconnect(&self) {
        self.disconnect_sockets(false)
    }

    /// Disconnects every target socket; `close` closes their whole connections
    /// (`disconnectSockets(true)`).
    pub fn disconnect_sockets(&self, close: bool) {
        self.ns.disconnect_local(&self.opts, close);
        if !self.local {
            self.ns.adapter.remote_disconnect(&self.opts, close);
        }
    }
}
