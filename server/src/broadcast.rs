//! Broadcasts: one encoding of a packet, handed to every socket an adapter picks.

use crate::adapter::{AdapterError, BroadcastOptions, Room, SocketInfo};
use crate::args::IntoArgs;
use crate::error::{BroadcastTimeout, EmitError};
use crate::namespace::NsInner;
use crate::socket::{check_event, Socket};
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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
    volatile: bool,
    timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NsInner>, opts: BroadcastOptions) -> Self {
        BroadcastOperator {
            ns,
            opts,
            local: false,
            volatile: false,
            timeout: None,
        }
    }

    /// Sets how long [`emit_with_ack`](Self::emit_with_ack) waits for the answers
    /// (socket.io's `timeout` flag; the configured `ack_timeout` otherwise).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
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

    /// Marks the emit volatile (socket.io's `volatile` flag): a client that already has
    /// a backlog misses it rather than queue it, and it is not kept for recovery.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
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
        let args = args.into_args(self.ns.shared.config.parser)?;
        let packet = Packet::event(&self.ns.name, event, args, None);
        if !self.local && !self.volatile && self.ns.adapter_numbers() {
            // The adapter numbers it, and delivers it here too once it has.
            self.ns.adapter.remote_broadcast(&packet, &self.opts);
            return Ok(());
        }
        self.ns.deliver_local_as(&packet, &self.opts, self.volatile);
        if !self.local {
            self.ns.adapter.remote_broadcast(&packet, &self.opts);
        }
        Ok(())
    }

    /// Sends `event` to every target socket and waits for each one's ack, at most the
    /// [`timeout`](Self::timeout) (socket.io's `io.timeout(t).emitWithAck(event)`).
    /// Resolves to each client's answer (its first ack argument), or to
    /// [`BroadcastTimeout`] with the answers that came when some did not.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> impl Future<Output = Result<Vec<Value>, BroadcastTimeout>> + Send + 'static {
        let timeout = self.timeout.unwrap_or(self.ns.shared.config.ack_timeout);
        let args = args
            .into_args(self.ns.shared.config.parser)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "broadcast arguments not serializable: sent none");
                sockeye_protocol::socket::Args::empty(self.ns.shared.config.parser)
            });
        let local: Vec<_> = self
            .ns
            .local_sockets(&self.opts)
            .iter()
            .map(|socket| socket.timeout(timeout).emit_with_ack(event, args.clone()))
            .collect();
        let remote = if self.local || check_event(event).is_err() {
            None
        } else {
            let packet = Packet::event(&self.ns.name, event, args, None);
            Some(
                self.ns
                    .adapter
                    .remote_broadcast_with_ack(&packet, &self.opts, timeout),
            )
        };
        async move {
            // Both halves at once: the other nodes' clients get the packet while this
            // node's answer.
            let remote = async move {
                match remote {
                    Some(remote) => remote.await,
                    None => (Vec::new(), true),
                }
            };
            let (local, (answers, mut complete)) =
                futures_util::future::join(futures_util::future::join_all(local), remote).await;
            // This node's sockets count their own timeouts; the other nodes' answers
            // that did not all come count once for the broadcast.
            if !complete {
                crate::metrics::ack_timeout();
            }
            let mut responses = Vec::with_capacity(local.len() + answers.len());
            for answer in local {
                match answer.map(|args| args.values()) {
                    Ok(Ok(args)) => responses.push(args.into_iter().next().unwrap_or_default()),
                    Ok(Err(_)) => responses.push(Value::Null),
                    Err(_) => complete = false,
                }
            }
            responses.extend(answers);
            if complete {
                Ok(responses)
            } else {
                Err(BroadcastTimeout { responses })
            }
        }
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

    fn target(&self) -> BroadcastOperator {
        BroadcastOperator::new(
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
    pub fn join(&self, rooms: impl IntoRooms) {
        self.target().join(rooms)
    }

    /// Makes the socket leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
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
