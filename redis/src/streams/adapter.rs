//! One namespace's streams adapter: the in-memory membership of this node, plus
//! socket.io-adapter's `ClusterAdapter` protocol that carries every operation to the
//! other nodes and answers theirs.

use super::entry::{packet_of, packet_value, ClusterMessage, MessageType};
use super::link::{Fallback, StreamsLink, Write};
use crate::cluster::Pending;
use crate::message::{
    options_from_value, options_with_flags, rooms_value, socket_info_from_value, socket_info_value,
};
use futures_util::future::BoxFuture;
use sockeye_protocol::socket::Packet;
use sockeye_protocol::Value;
use sockeye_server::{
    Adapter, AdapterError, BroadcastOptions, LocalAdapter, NamespaceRef, RestoredSession, Room,
    Session, Sid, SocketInfo,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The adapter of one namespace on one node.
pub(crate) struct StreamsNamespace {
    link: Arc<StreamsLink>,
    ns: NamespaceRef,
    pub(crate) local: LocalAdapter,
    pending: Mutex<HashMap<String, Pending>>,
}

impl StreamsNamespace {
    pub(crate) fn new(link: Arc<StreamsLink>, ns: NamespaceRef) -> Arc<StreamsNamespace> {
        let adapter = Arc::new(StreamsNamespace {
            link: link.clone(),
            ns,
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

    fn message(&self, kind: MessageType, data: Vec<(String, Value)>) -> ClusterMessage {
        ClusterMessage {
            uid: self.link.uid.clone(),
            nsp: self.namespace().to_owned(),
            kind,
            data: Value::Object(data),
        }
    }

    /// Sends a response to the node `requester`, on its private channel.
    fn respond(&self, requester: &str, kind: MessageType, data: Vec<(String, Value)>) {
        respond(&self.link, self.namespace(), requester, kind, data);
    }

    /// A message from another node (or an emitter): from the stream with its entry id
    /// as `offset`, or published.
    pub(crate) fn on_message(&self, message: ClusterMessage, offset: Option<&str>) {
        if message.nsp != self.namespace() || !self.ns.is_alive() {
            return;
        }
        let data = &message.data;
        let numbered = offset.is_some() && self.ns.recovery().is_some();
        if message.uid == self.link.uid {
            // With recovery on, this node's own broadcasts are delivered here as they
            // come back from the stream, numbered by their entry ids, in the stream's
            // order among everyone's.
            if numbered && message.kind == MessageType::Broadcast {
                if let Some(packet) = packet_of(data, self.namespace()) {
                    let opts = data.get("opts").map(options_from_value).unwrap_or_default();
                    self.ns.broadcast_with_offset(&packet, &opts, offset);
                }
            }
            return;
        }
        let opts = || data.get("opts").map(options_from_value).unwrap_or_default();
        let rooms = || match data.get("rooms") {
            Some(Value::Array(items)) => {
                items.iter().filter_map(crate::message::room_name).collect()
            }
            Some(one) => crate::message::room_name(one).into_iter().collect(),
            None => Vec::new(),
        };
        cluster_request(message.kind, "in");
        match message.kind {
            MessageType::Broadcast => {
                let Some(packet @ Packet::Event { .. }) = packet_of(data, self.namespace()) else {
                    tracing::debug!(namespace = self.namespace(), "malformed broadcast ignored");
                    return;
                };
                match message.request_id() {
                    Some(id) => self.answer_broadcast_with_ack(&message, &packet, id),
                    None if numbered => self.ns.broadcast_with_offset(&packet, &opts(), offset),
                    None => self.ns.broadcast(&packet, &opts()),
                }
            }
            MessageType::SocketsJoin => self.ns.add_sockets(&opts(), &rooms()),
            MessageType::SocketsLeave => self.ns.del_sockets(&opts(), &rooms()),
            MessageType::DisconnectSockets => {
                let close = matches!(data.get("close"), Some(Value::Bool(true)));
                self.ns.disconnect_sockets(&opts(), close);
            }
            MessageType::FetchSockets => {
                let Some(id) = message.request_id() else {
                    return;
                };
                let sockets = self
                    .ns
                    .fetch_sockets(&opts())
                    .iter()
                    .map(socket_info_value)
                    .collect();
                self.respond(
                    &message.uid,
                    MessageType::FetchSocketsResponse,
                    vec![
                        ("requestId".into(), Value::String(id)),
                        ("sockets".into(), Value::Array(sockets)),
                    ],
                );
            }
            MessageType::ServerSideEmit => {
                let Some(Value::Array(packet)) = data.get("packet").cloned() else {
                    return;
                };
                // No listener: socket.io answers nothing either, and the sender times out.
                let Some(answer) = self.ns.server_side_emit(packet) else {
                    return;
                };
                let Some(id) = message.request_id() else {
                    tokio::spawn(answer);
                    return;
                };
                let (link, nsp, requester) =
                    (self.link.clone(), self.namespace().to_owned(), message.uid);
                tokio::spawn(async move {
                    let packet = answer.await;
                    respond(
                        &link,
                        &nsp,
                        &requester,
                        MessageType::ServerSideEmitResponse,
                        vec![
                            ("requestId".into(), Value::String(id)),
                            ("packet".into(), packet),
                        ],
                    );
                });
            }
            MessageType::FetchSocketsResponse
            | MessageType::ServerSideEmitResponse
            | MessageType::BroadcastClientCount
            | MessageType::BroadcastAck => self.on_response(&message),
            // Never decoded: this adapter's entries and messages have no heartbeats.
            MessageType::InitialHeartbeat | MessageType::Heartbeat | MessageType::AdapterClose => {}
        }
    }

    /// A broadcast from another node that waits for its clients' acks: this node
    /// tells how many of its sockets it reached, then relays each one's answer.
    fn answer_broadcast_with_ack(&self, message: &ClusterMessage, packet: &Packet, id: String) {
        let opts = message.data.get("opts");
        let timeout = opts
            .and_then(|o| o.get("flags"))
            .and_then(|f| f.get("timeout"))
            .and_then(|t| match t {
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .map_or(self.link.options.requests_timeout, Duration::from_millis);
        let opts = opts.map(options_from_value).unwrap_or_default();
        let answers = self.ns.broadcast_with_ack(packet, &opts, timeout);
        self.respond(
            &message.uid,
            MessageType::BroadcastClientCount,
            vec![
                ("requestId".into(), Value::String(id.clone())),
                (
                    "clientCount".into(),
                    Value::Number((answers.len() as u64).into()),
                ),
            ],
        );
        for answer in answers {
            let (link, nsp, requester, id) = (
                self.link.clone(),
                self.namespace().to_owned(),
                message.uid.clone(),
                id.clone(),
            );
            tokio::spawn(async move {
                if let Some(answer) = answer.await {
                    respond(
                        &link,
                        &nsp,
                        &requester,
                        MessageType::BroadcastAck,
                        vec![
                            ("requestId".into(), Value::String(id)),
                            ("packet".into(), answer),
                        ],
                    );
                }
            });
        }
    }

    /// A response to one of our requests.
    fn on_response(&self, response: &ClusterMessage) {
        let Some(id) = response.request_id() else {
            return;
        };
        let data = &response.data;
        let mut pending = self.pending.lock().expect("pending lock");
        let Some(request) = pending.get_mut(&id) else {
            return;
        };
        match (request.kind, response.kind) {
            (MessageType::Broadcast, MessageType::BroadcastClientCount) => {
                request.answered += 1;
                request.clients += data
                    .get("clientCount")
                    .and_then(|c| match c {
                        Value::Number(n) => n.as_u64(),
                        _ => None,
                    })
                    .unwrap_or(0) as usize;
            }
            (MessageType::Broadcast, MessageType::BroadcastAck) => request
                .responses
                .push(data.get("packet").cloned().unwrap_or_default()),
            (MessageType::ServerSideEmit, MessageType::ServerSideEmitResponse) => {
                request
                    .responses
                    .push(data.get("packet").cloned().unwrap_or(Value::Null));
                request.answered += 1;
            }
            (MessageType::FetchSockets, MessageType::FetchSocketsResponse) => {
                let Some(Value::Array(sockets)) = data.get("sockets") else {
                    return;
                };
                request.responses.extend(sockets.iter().cloned());
                request.answered += 1;
            }
            _ => return,
        }
        if request.complete() {
            if let Some(request) = pending.remove(&id) {
                if let Some(done) = request.done {
                    let _ = done.send(request.responses);
                }
            }
        }
    }

    /// Publishes a request with a new request id and waits for the other nodes'
    /// responses: all of them, or what came within `timeout`.
    fn request(
        self: &Arc<Self>,
        kind: MessageType,
        mut data: Vec<(String, Value)>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        let this = self.clone();
        Box::pin(async move {
            let expected = this.server_count_now().await?.saturating_sub(1);
            if expected == 0 {
                return Ok(Vec::new());
            }
            let id = super::super::random_id()[..16].to_owned();
            data.push(("requestId".into(), Value::String(id.clone())));
            let (tx, rx) = oneshot::channel();
            this.pending.lock().expect("pending lock").insert(
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
            this.link.send(this.message(kind, data));
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(responses)) => Ok(responses),
                _ => {
                    let received = this
                        .pending
                        .lock()
                        .expect("pending lock")
                        .remove(&id)
                        .map_or(0, |p| p.answered);
                    Err(AdapterError::Timeout { received, expected })
                }
            }
        })
    }

    /// A broadcast that waits for the clients' acks on the other nodes: the answers
    /// that arrived within `timeout`, and whether they are all of them.
    fn broadcast_with_ack(
        self: &Arc<Self>,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        let this = self.clone();
        let flags = vec![(
            "timeout".into(),
            Value::Number((timeout.as_millis() as u64).into()),
        )];
        let mut data = vec![
            ("packet".to_owned(), packet_value(packet)),
            ("opts".to_owned(), options_with_flags(opts, flags)),
        ];
        Box::pin(async move {
            let expected = match this.server_count_now().await {
                Ok(n) => n.saturating_sub(1),
                Err(_) => return (Vec::new(), false),
            };
            if expected == 0 {
                return (Vec::new(), true);
            }
            let id = super::super::random_id()[..16].to_owned();
            data.push(("requestId".into(), Value::String(id.clone())));
            let (tx, rx) = oneshot::channel();
            this.pending.lock().expect("pending lock").insert(
                id.clone(),
                Pending {
                    kind: MessageType::Broadcast,
                    expected,
                    answered: 0,
                    clients: 0,
                    responses: Vec::new(),
                    done: Some(tx),
                },
            );
            cluster_request(MessageType::Broadcast, "out");
            this.link.send(this.message(MessageType::Broadcast, data));
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(responses)) => (responses, true),
                _ => {
                    let pending = this.pending.lock().expect("pending lock").remove(&id);
                    (pending.map(|p| p.responses).unwrap_or_default(), false)
                }
            }
        })
    }

    /// The nodes subscribed to this namespace's public channel (PUBSUB NUMSUB), as the
    /// Node adapter counts them.
    async fn server_count_now(&self) -> Result<usize, AdapterError> {
        let mut conn = self.link.commands.clone();
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(self.link.public_channel(self.namespace()))
            .query_async(&mut conn)
            .await
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(count)
    }

    /// Sends an operation that needs no answer.
    fn publish(&self, kind: MessageType, data: Vec<(String, Value)>) {
        cluster_request(kind, "out");
        self.link.send(self.message(kind, data));
    }
}

fn respond(
    link: &StreamsLink,
    namespace: &str,
    requester: &str,
    kind: MessageType,
    data: Vec<(String, Value)>,
) {
    let message = ClusterMessage {
        uid: link.uid.clone(),
        nsp: namespace.to_owned(),
        kind,
        data: Value::Object(data),
    };
    link.write(Write::Publish(
        link.private_channel(namespace, requester),
        message.to_msgpack(),
    ));
}

/// Counts a cluster message in `sockeye_cluster_requests_total{kind, direction}`.
fn cluster_request(kind: MessageType, direction: &'static str) {
    metrics::counter!("sockeye_cluster_requests_total", "kind" => super::entry::request_label(kind), "direction" => direction)
        .increment(1);
}

fn opts_data(opts: &BroadcastOptions) -> (String, Value) {
    ("opts".into(), options_with_flags(opts, Vec::new()))
}

/// The adapter a namespace holds: an `Arc` around the shared state, so that requests
/// can outlive the call that made them.
pub(crate) struct StreamsAdapterOf(pub(crate) Arc<StreamsNamespace>);

impl StreamsAdapterOf {
    fn namespace_owned(&self) -> String {
        self.0.namespace().to_owned()
    }
}

impl Adapter for StreamsAdapterOf {
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        self.0.local.join(sid, rooms)
    }

    fn leave(&self, sid: &Sid, room: &str) {
        self.0.local.leave(sid, room)
    }

    fn leave_all(&self, sid: &Sid) {
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
        let data = vec![("packet".into(), packet_value(packet)), opts_data(opts)];
        if self.0.ns.recovery().is_none() {
            self.0.publish(MessageType::Broadcast, data);
            return;
        }
        // Delivered here once read back from the stream; here without an offset if
        // Redis does not take it.
        let (ns, packet, opts) = (self.0.ns.clone(), packet.clone(), opts.clone());
        let fallback: Fallback = Box::new(move || ns.broadcast_with_offset(&packet, &opts, None));
        cluster_request(MessageType::Broadcast, "out");
        self.0.link.write(Write::Entry(
            self.0.message(MessageType::Broadcast, data),
            Some(fallback),
        ));
    }

    fn recovers_sessions(&self) -> bool {
        true
    }

    fn offset_after(&self, offset: &str, than: &str) -> bool {
        super::session::id_after(offset, than)
    }

    fn persist_session(&self, session: Session) {
        let Some(ttl) = self.0.ns.recovery() else {
            return;
        };
        let link = &self.0.link;
        let key = format!("{}{}", link.options.session_key_prefix, session.pid);
        link.write(Write::Set(
            key,
            super::session::encode(&session),
            ttl.as_millis() as u64,
        ));
    }

    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'static, Option<RestoredSession>> {
        let (link, namespace) = (self.0.link.clone(), self.namespace_owned());
        let (pid, offset) = (pid.to_owned(), offset.to_owned());
        Box::pin(async move {
            match super::session::restore(&link, &namespace, &pid, &offset).await {
                Ok(restored) => restored,
                Err(e) => {
                    tracing::debug!(error = %e, "session not restored: redis");
                    None
                }
            }
        })
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.publish(
            MessageType::SocketsJoin,
            vec![opts_data(opts), ("rooms".into(), rooms_value(rooms))],
        );
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.publish(
            MessageType::SocketsLeave,
            vec![opts_data(opts), ("rooms".into(), rooms_value(rooms))],
        );
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.0.publish(
            MessageType::DisconnectSockets,
            vec![opts_data(opts), ("close".into(), Value::Bool(close))],
        );
    }

    fn remote_fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let timeout = self.0.link.options.requests_timeout;
        let request = self
            .0
            .request(MessageType::FetchSockets, vec![opts_data(opts)], timeout);
        Box::pin(async move {
            Ok(request
                .await?
                .iter()
                .filter_map(socket_info_from_value)
                .collect())
        })
    }

    fn remote_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        // socket.io-adapter's ClusterAdapter has no allRooms request: its rooms are
        // this node's, as a Node node answers too.
        Box::pin(futures_util::future::ready(Ok(Vec::new())))
    }

    fn remote_broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        self.0.broadcast_with_ack(packet, opts, timeout)
    }

    fn remote_server_side_emit(&self, data: Vec<Value>) {
        self.0.publish(
            MessageType::ServerSideEmit,
            vec![("packet".into(), Value::Array(data))],
        );
    }

    fn remote_server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        self.0.request(
            MessageType::ServerSideEmit,
            vec![("packet".into(), Value::Array(data))],
            timeout,
        )
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let this = self.0.clone();
        Box::pin(async move { this.server_count_now().await })
    }
}
