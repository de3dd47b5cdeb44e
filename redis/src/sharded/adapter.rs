//! One namespace's sharded adapter: the in-memory membership of this node, the room
//! channels it subscribes to (dynamic modes), and socket.io-adapter's `ClusterAdapter`
//! protocol, which carries every operation to the other nodes and answers theirs.

use super::link::Link;
use super::message::{self, Channels, Message, MessageType};
use crate::cluster::Pending;
use crate::message::{socket_info_from_value, socket_info_value};
use futures_util::future::BoxFuture;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use sockeye_server::{
    Adapter, AdapterError, BroadcastOptions, LocalAdapter, NamespaceRef, Room, Sid, SocketInfo,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The adapter of one namespace on one node.
pub(crate) struct NamespaceAdapter {
    link: Arc<Link>,
    ns: NamespaceRef,
    channels: Channels,
    local: LocalAdapter,
    pending: Mutex<HashMap<String, Pending>>,
}

impl NamespaceAdapter {
    pub(crate) fn new(link: Arc<Link>, ns: NamespaceRef) -> Arc<NamespaceAdapter> {
        let channels = Channels::new(&link.key, ns.name());
        let adapter = Arc::new(NamespaceAdapter {
            link: link.clone(),
            ns,
            channels,
            local: LocalAdapter::default(),
            pending: Mutex::new(HashMap::new()),
        });
        // A dynamic namespace's parent ("(dynamic)") is never joined: no channels.
        if adapter.namespace().starts_with('/') {
            link.register(&adapter);
        }
        adapter
    }

    pub(crate) fn namespace(&self) -> &str {
        self.ns.name()
    }

    fn publish(&self, kind: MessageType, data: Vec<(String, Value)>) {
        self.publish_to(self.channels.main.clone(), kind, data);
    }

    fn publish_to(&self, channel: String, kind: MessageType, data: Vec<(String, Value)>) {
        let bytes = message::encode(&self.link.uid, self.namespace(), kind, data);
        self.link.publish(channel, bytes);
    }

    /// A response to node `uid`'s request, on its response channel.
    fn respond(&self, uid: &str, kind: MessageType, id: &str, field: (&str, Value)) {
        let data = vec![
            ("requestId".into(), Value::String(id.to_owned())),
            (field.0.into(), field.1),
        ];
        self.publish_to(self.channels.under(uid), kind, data);
    }

    /// Whether `room` gets a channel of its own: a public room in dynamic mode (one that
    /// is not the id of a local socket, the joining one included).
    fn separate(&self, sid: &Sid, room: &str) -> bool {
        let private = room == &**sid
            || self
                .local
                .rooms_of(&Sid::from(room))
                .iter()
                .any(|r| &**r == room);
        Channels::separate(self.link.mode, private)
    }

    /// A message on one of this namespace's channels, from any node, ours included
    /// (which we skip: we did it already).
    pub(crate) fn on_message(&self, payload: &[u8]) {
        let Some(message) = Message::parse(payload) else {
            tracing::debug!(
                namespace = self.namespace(),
                "malformed sharded redis message ignored"
            );
            return;
        };
        if message.uid == self.link.uid || message.nsp != self.namespace() || !self.ns.is_alive() {
            return;
        }
        let ns = &self.ns;
        match message.kind {
            MessageType::Broadcast => match message.request_id() {
                Some(id) => self.answer_broadcast_with_ack(&message, id),
                None => {
                    if let Some(packet @ Packet::Event { .. }) = message.packet() {
                        ns.broadcast(&packet, &message.opts());
                    }
                }
            },
            MessageType::SocketsJoin => {
                cluster_request(message.kind, "in");
                ns.add_sockets(&message.opts(), &message.rooms());
            }
            MessageType::SocketsLeave => {
                cluster_request(message.kind, "in");
                ns.del_sockets(&message.opts(), &message.rooms());
            }
            MessageType::DisconnectSockets => {
                cluster_request(message.kind, "in");
                let close = matches!(message.data.get("close"), Some(Value::Bool(true)));
                ns.disconnect_sockets(&message.opts(), close);
            }
            MessageType::FetchSockets => {
                cluster_request(message.kind, "in");
                let Some(id) = message.request_id() else {
                    return;
                };
                let sockets = ns
                    .fetch_sockets(&message.opts())
                    .iter()
                    .map(socket_info_value)
                    .collect();
                self.respond(
                    &message.uid,
                    MessageType::FetchSocketsResponse,
                    &id,
                    ("sockets", Value::Array(sockets)),
                );
            }
            MessageType::ServerSideEmit => self.answer_server_side_emit(&message),
            MessageType::FetchSocketsResponse
            | MessageType::ServerSideEmitResponse
            | MessageType::BroadcastClientCount
            | MessageType::BroadcastAck => self.on_response(&message),
            // Heartbeats are for adapters that count nodes by them; this one asks Redis.
            MessageType::InitialHeartbeat | MessageType::Heartbeat | MessageType::AdapterClose => {}
        }
    }

    fn answer_server_side_emit(&self, message: &Message) {
        cluster_request(message.kind, "in");
        let Some(Value::Array(data)) = message.data.get("packet").cloned() else {
            return;
        };
        // No listener: socket.io answers nothing either, and the sender times out.
        let Some(answer) = self.ns.server_side_emit(data) else {
            return;
        };
        let Some(id) = message.request_id() else {
            tokio::spawn(answer);
            return;
        };
        let (link, channel, uid, nsp) = (
            self.link.clone(),
            self.channels.under(&message.uid),
            self.link.uid.clone(),
            self.namespace().to_owned(),
        );
        tokio::spawn(async move {
            let data = vec![
                ("requestId".into(), Value::String(id)),
                ("packet".into(), answer.await),
            ];
            link.publish(
                channel,
                message::encode(&uid, &nsp, MessageType::ServerSideEmitResponse, data),
            );
        });
    }

    /// A broadcast from another node that waits for its clients' acks: this node tells
    /// how many of its sockets it reached, then relays each one's answer.
    fn answer_broadcast_with_ack(&self, message: &Message, id: String) {
        cluster_request(message.kind, "in");
        let Some(packet @ Packet::Event { .. }) = message.packet() else {
            return;
        };
        let timeout = message
            .timeout_ms()
            .map_or(self.link.requests_timeout, Duration::from_millis);
        let answers = self
            .ns
            .broadcast_with_ack(&packet, &message.opts(), timeout);
        self.respond(
            &message.uid,
            MessageType::BroadcastClientCount,
            &id,
            ("clientCount", Value::Number((answers.len() as u64).into())),
        );
        for answer in answers {
            let (link, channel, id) = (
                self.link.clone(),
                self.channels.under(&message.uid),
                id.clone(),
            );
            let nsp = self.namespace().to_owned();
            tokio::spawn(async move {
                if let Some(answer) = answer.await {
                    let data = vec![
                        ("requestId".into(), Value::String(id)),
                        ("packet".into(), answer),
                    ];
                    link.publish(
                        channel,
                        message::encode(&link.uid, &nsp, MessageType::BroadcastAck, data),
                    );
                }
            });
        }
    }

    /// A response to one of our requests (or a late one, which we skip).
    fn on_response(&self, response: &Message) {
        let Some(id) = response.request_id() else {
            return;
        };
        let mut pending = self.pending.lock().expect("pending lock");
        let Some(request) = pending.get_mut(&id) else {
            return;
        };
        match (request.kind, response.kind) {
            (MessageType::Broadcast, MessageType::BroadcastClientCount) => {
                request.answered += 1;
                request.clients += match response.data.get("clientCount") {
                    Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
                    _ => 0,
                };
            }
            (MessageType::Broadcast, MessageType::BroadcastAck) => request
                .responses
                .push(response.data.get("packet").cloned().unwrap_or_default()),
            (MessageType::ServerSideEmit, MessageType::ServerSideEmitResponse) => {
                request.answered += 1;
                request
                    .responses
                    .push(response.data.get("packet").cloned().unwrap_or(Value::Null));
            }
            (MessageType::FetchSockets, MessageType::FetchSocketsResponse) => {
                let Some(Value::Array(sockets)) = response.data.get("sockets") else {
                    return;
                };
                request.answered += 1;
                request.responses.extend(sockets.iter().cloned());
            }
            _ => return,
        }
        if request.complete() {
            if let Some(mut request) = pending.remove(&id) {
                if let Some(done) = request.done.take() {
                    let _ = done.send(request.responses);
                }
            }
        }
    }

    /// The nodes subscribed to this namespace's channel: `PUBSUB SHARDNUMSUB` on every
    /// node of the cluster, summed (the channel's own master answers for it).
    async fn server_count_now(&self) -> Result<usize, AdapterError> {
        let mut conn = self.link.commands.clone();
        let counts: HashMap<String, i64> = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(&self.channels.main)
            .query_async(&mut conn)
            .await
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(counts.values().sum::<i64>().max(0) as usize)
    }

    /// Publishes a request to the namespace's channel and waits for one response per
    /// other node (for a broadcast with acks, also for every client they reached) or
    /// the timeout; the responses, or what came with the timeout.
    async fn request(
        self: Arc<Self>,
        kind: MessageType,
        mut data: Vec<(String, Value)>,
        timeout: Duration,
    ) -> Result<Vec<Value>, (Vec<Value>, AdapterError)> {
        let expected = match self.server_count_now().await {
            Ok(n) => n.saturating_sub(1),
            Err(e) => return Err((Vec::new(), e)),
        };
        if expected == 0 {
            return Ok(Vec::new());
        }
        let id = crate::random_id()[..16].to_owned();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(
            id.clone(),
            Pending {
                kind,
                expected,
                answered: 0,
                clients: 0,
                responses: Vec::new(),
                done: Some(tx),
            },
        );
        cluster_request(kind, "out");
        data.push(("requestId".into(), Value::String(id.clone())));
        self.publish(kind, data);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(responses)) => Ok(responses),
            _ => {
                let pending = self.pending.lock().expect("pending lock").remove(&id);
                let (received, responses) =
                    pending.map_or((0, Vec::new()), |p| (p.answered, p.responses));
                Err((responses, AdapterError::Timeout { received, expected }))
            }
        }
    }

    fn publish_request(&self, kind: MessageType, data: Vec<(String, Value)>) {
        cluster_request(kind, "out");
        self.publish(kind, data);
    }
}

/// Counts a cluster request in `sockeye_cluster_requests_total{kind, direction}`: `out`
/// when this node asks the others, `in` when it answers one of theirs.
fn cluster_request(kind: MessageType, direction: &'static str) {
    metrics::counter!("sockeye_cluster_requests_total", "kind" => message::request_label(kind), "direction" => direction)
        .increment(1);
}

/// The adapter a namespace holds: an `Arc` around the shared state, so that requests
/// can outlive the call that made them.
pub(crate) struct ShardedNamespace(pub(crate) Arc<NamespaceAdapter>);

impl Adapter for ShardedNamespace {
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        let a = &self.0;
        // socket.io's "create-room": the first local socket of a public room.
        let new: Vec<&Room> = rooms
            .iter()
            .filter(|r| !a.local.has_room(r) && a.separate(sid, r))
            .collect();
        a.local.join(sid, rooms);
        for room in new {
            a.link.subscribe_room(a.channels.under(room));
        }
    }

    fn leave(&self, sid: &Sid, room: &str) {
        let a = &self.0;
        a.local.leave(sid, room);
        // socket.io's "delete-room": its last local socket left.
        if !a.local.has_room(room) && a.separate(sid, room) {
            a.link.unsubscribe_room(a.channels.under(room));
        }
    }

    fn leave_all(&self, sid: &Sid) {
        for room in self.0.local.rooms_of(sid) {
            self.leave(sid, &room);
        }
        self.0.local.leave_all(sid)
    }

    fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        self.0.local.rooms_of(sid)
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.0.local.sockets(opts)
    }

    fn for_each_socket(&self, opts: &BroadcastOptions, f: &mut dyn FnMut(&Sid)) {
        self.0.local.for_each_socket(opts, f)
    }

    fn rooms(&self) -> Vec<Room> {
        self.0.local.rooms()
    }

    fn remote_broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let a = &self.0;
        let channel = a.channels.broadcast_channel(a.link.mode, opts);
        a.publish_to(
            channel,
            MessageType::Broadcast,
            message::broadcast_data(packet, opts, None),
        );
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.publish_request(
            MessageType::SocketsJoin,
            vec![
                ("opts".into(), message::opts_value(opts)),
                message::rooms_field(rooms),
            ],
        );
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.publish_request(
            MessageType::SocketsLeave,
            vec![
                ("opts".into(), message::opts_value(opts)),
                message::rooms_field(rooms),
            ],
        );
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.0.publish_request(
            MessageType::DisconnectSockets,
            vec![
                ("opts".into(), message::opts_value(opts)),
                ("close".into(), Value::Bool(close)),
            ],
        );
    }

    fn remote_fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let timeout = self.0.link.requests_timeout;
        let request = self.0.clone().request(
            MessageType::FetchSockets,
            vec![("opts".into(), message::opts_value(opts))],
            timeout,
        );
        Box::pin(async move {
            let sockets = request.await.map_err(|(_, e)| e)?;
            Ok(sockets.iter().filter_map(socket_info_from_value).collect())
        })
    }

    /// `allRooms` is not part of the `ClusterAdapter` protocol (Node's sharded adapter
    /// has no such method), so no node could answer it.
    fn remote_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        Box::pin(futures_util::future::ready(Err(AdapterError::Unavailable(
            "allRooms is not part of the sharded adapter's protocol".into(),
        ))))
    }

    fn remote_broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        let data = message::broadcast_data(packet, opts, Some(timeout.as_millis() as u64));
        let request = self
            .0
            .clone()
            .request(MessageType::Broadcast, data, timeout);
        Box::pin(async move {
            match request.await {
                Ok(responses) => (responses, true),
                Err((responses, _)) => (responses, false),
            }
        })
    }

    fn remote_server_side_emit(&self, data: Vec<Value>) {
        self.0.publish_request(
            MessageType::ServerSideEmit,
            vec![("packet".into(), Value::Array(data))],
        );
    }

    fn remote_server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        let request = self.0.clone().request(
            MessageType::ServerSideEmit,
            vec![("packet".into(), Value::Array(data))],
            timeout,
        );
        Box::pin(async move { request.await.map_err(|(_, e)| e) })
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let this = self.0.clone();
        Box::pin(async move { this.server_count_now().await })
    }
}
