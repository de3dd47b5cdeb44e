//! One namespace's Redis adapter: the in-memory membership of this node, plus the
//! adapter protocol that carries every operation to the other nodes and answers theirs.

use super::link::Link;
use super::message::{
    self, decode_body, encode_body, opts_field, rooms_value, socket_info_from_value,
    socket_info_value, Channels, Request, RequestType,
};
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

/// Response types of a broadcast with acks: how many clients a node reached, and one
/// client's answer.
const BROADCAST_CLIENT_COUNT: u64 = 8;
const BROADCAST_ACK: u64 = 9;

/// A request of ours waiting for the other nodes' responses.
struct Pending {
    kind: RequestType,
    /// Nodes that should answer, and nodes that have.
    expected: usize,
    answered: usize,
    /// For a broadcast with acks: the clients the answering nodes reached.
    clients: usize,
    responses: Vec<Value>,
    done: Option<oneshot::Sender<Vec<Value>>>,
}

impl Pending {
    fn new(kind: RequestType, expected: usize, done: oneshot::Sender<Vec<Value>>) -> Pending {
        Pending {
            kind,
            expected,
            answered: 0,
            clients: 0,
            responses: Vec::new(),
            done: Some(done),
        }
    }

    fn complete(&self) -> bool {
        self.answered >= self.expected
            && (self.kind != RequestType::Broadcast || self.responses.len() >= self.clients)
    }
}

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

    /// A broadcast from another node (or an emitter) on `{key}#{nsp}#[room#]`.
    pub(crate) fn on_broadcast(&self, room: Option<&str>, payload: &[u8]) {
        // Broadcasts to one room come on that room's channel: skip rooms we lack.
        if let Some(room) = room.filter(|r| !r.is_empty()) {
            if !self.local.has_room(room) {
                return;
            }
        }
        let Some(broadcast) = message::decode_broadcast(payload) else {
            tracing::debug!(
                namespace = self.namespace(),
                "malformed redis broadcast ignored"
            );
            return;
        };
        if broadcast.uid == self.link.uid || broadcast.packet.namespace() != self.namespace() {
            return;
        }
        self.ns.broadcast(&broadcast.packet, &broadcast.opts);
    }

    /// A request from any node, ours included (which we skip: we did it already).
    pub(crate) fn on_request(&self, payload: &[u8]) {
        let Some(request) = Request::parse(payload) else {
            tracing::debug!(
                namespace = self.namespace(),
                "malformed redis request ignored"
            );
            return;
        };
        if request.uid.as_deref() == Some(self.link.uid.as_str()) {
            return;
        }
        if !self.ns.is_alive() {
            // The namespace is gone: nothing here to act on or to answer for.
            return;
        }
        cluster_request(request.kind, "in");
        let ns = &self.ns;
        let id = request.request_id.clone();
        let respond = |fields: Vec<(String, Value)>| {
            let Some(id) = &id else { return };
            let mut body = vec![("requestId".to_owned(), Value::String(id.clone()))];
            body.extend(fields);
            self.link.publish(
                self.channels.response.clone(),
                encode_body(&Value::Object(body)),
            );
        };
        match request.kind {
            RequestType::Sockets => {
                let opts = BroadcastOptions {
                    rooms: request.rooms(),
                    except: vec![],
                };
                let ids = self.local.sockets(&opts);
                respond(vec![("sockets".into(), rooms_value(&ids))]);
            }
            RequestType::AllRooms => {
                respond(vec![("rooms".into(), rooms_value(&self.local.rooms()))]);
            }
            RequestType::RemoteJoin => ns.add_sockets(&request.opts(), &request.rooms()),
            RequestType::RemoteLeave => ns.del_sockets(&request.opts(), &request.rooms()),
            RequestType::RemoteDisconnect => {
                let close = matches!(request.body.get("close"), Some(Value::Bool(true)));
                ns.disconnect_sockets(&request.opts(), close);
            }
            RequestType::RemoteFetch => {
                let sockets = ns
                    .fetch_sockets(&request.opts())
                    .iter()
                    .map(socket_info_value)
                    .collect();
                respond(vec![("sockets".into(), Value::Array(sockets))]);
            }
            RequestType::ServerSideEmit => {
                let data = match request.body.get("data") {
                    Some(Value::Array(data)) => data.clone(),
                    _ => return,
                };
                let Some(answer) = ns.server_side_emit(data) else {
                    // No listener: socket.io answers nothing either, and the sender
                    // times out.
                    return;
                };
                let Some(id) = id else {
                    tokio::spawn(answer);
                    return;
                };
                let link = self.link.clone();
                let channel = self.channels.response.clone();
                tokio::spawn(async move {
                    let data = answer.await;
                    let body = Value::Object(vec![
                        (
                            "type".into(),
                            Value::Number((RequestType::ServerSideEmit as u64).into()),
                        ),
                        ("requestId".into(), Value::String(id)),
                        ("data".into(), data),
                    ]);
                    link.publish(channel, encode_body(&body));
                });
            }
            RequestType::Broadcast => self.answer_broadcast_with_ack(&request),
        }
    }

    /// A broadcast from another node that waits for its clients' acks (socket.io's
    /// `io.timeout(t).emit(event, ..., callback)`): this node tells how many of its
    /// sockets it reached, then relays each one's answer (its first argument).
    fn answer_broadcast_with_ack(&self, request: &Request) {
        let Some(id) = request.request_id.clone() else {
            return;
        };
        let Some(packet @ Packet::Event { .. }) = request
            .body
            .get("packet")
            .cloned()
            .and_then(message::packet_from_value)
        else {
            return;
        };
        let timeout = request
            .body
            .get("opts")
            .and_then(|o| o.get("flags"))
            .and_then(|f| f.get("timeout"))
            .and_then(|t| match t {
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .map_or(self.link.requests_timeout, Duration::from_millis);
        let answers = self
            .ns
            .broadcast_with_ack(&packet, &request.opts(), timeout);
        let reply = |kind: u64, field: (&str, Value)| {
            encode_body(&Value::Object(vec![
                ("type".into(), Value::Number(kind.into())),
                ("requestId".into(), Value::String(id.clone())),
                (field.0.into(), field.1),
            ]))
        };
        self.link.publish(
            self.channels.response.clone(),
            reply(
                BROADCAST_CLIENT_COUNT,
                ("clientCount", Value::Number((answers.len() as u64).into())),
            ),
        );
        for answer in answers {
            let (link, channel, id) = (
                self.link.clone(),
                self.channels.response.clone(),
                id.clone(),
            );
            tokio::spawn(async move {
                if let Some(answer) = answer.await {
                    let body = Value::Object(vec![
                        ("type".into(), Value::Number(BROADCAST_ACK.into())),
                        ("requestId".into(), Value::String(id)),
                        ("packet".into(), answer),
                    ]);
                    // socket.io sends acks as MessagePack, whatever they hold.
                    link.publish(channel, message::encode_msgpack(&body));
                }
            });
        }
    }

    /// A response to one of our requests (or to another node's, which we skip).
    pub(crate) fn on_response(&self, payload: &[u8]) {
        let Some(response) = decode_body(payload) else {
            return;
        };
        let Some(id) = response.get("requestId").and_then(Value::as_str) else {
            return;
        };
        let mut pending = self.pending.lock().expect("pending lock");
        let Some(request) = pending.get_mut(id) else {
            return;
        };
        let part = match request.kind {
            RequestType::RemoteFetch | RequestType::Sockets => response.get("sockets"),
            RequestType::AllRooms => response.get("rooms"),
            _ => response.get("data"),
        };
        let kind = response.get("type").and_then(|t| match t {
            Value::Number(n) => n.as_u64(),
            _ => None,
        });
        match (request.kind, part) {
            (RequestType::Broadcast, _) => match kind {
                Some(BROADCAST_CLIENT_COUNT) => {
                    request.answered += 1;
                    request.clients += response
                        .get("clientCount")
                        .and_then(|c| match c {
                            Value::Number(n) => n.as_u64(),
                            _ => None,
                        })
                        .unwrap_or(0) as usize;
                }
                Some(BROADCAST_ACK) => request
                    .responses
                    .push(response.get("packet").cloned().unwrap_or_default()),
                _ => return,
            },
            (RequestType::ServerSideEmit, part) => {
                request.responses.push(part.cloned().unwrap_or(Value::Null));
                request.answered += 1;
            }
            (_, Some(Value::Array(items))) => {
                request.responses.extend(items.iter().cloned());
                request.answered += 1;
            }
            // socket.io ignores a response without its list; so do we.
            _ => return,
        }
        if request.complete() {
            if let Some(request) = pending.remove(id) {
                if let Some(done) = request.done {
                    let _ = done.send(request.responses);
                }
            }
        }
    }

    /// Publishes a request and waits for `expected` responses or the timeout.
    fn request(
        self: &Arc<Self>,
        kind: RequestType,
        fields: Vec<(String, Value)>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        let this = self.clone();
        Box::pin(async move {
            let expected = this.server_count_now().await?.saturating_sub(1);
            if expected == 0 {
                return Ok(Vec::new());
            }
            let id = crate::random_id()[..12].to_owned();
            let (tx, rx) = oneshot::channel();
            this.pending
                .lock()
                .expect("pending lock")
                .insert(id.clone(), Pending::new(kind, expected, tx));
            cluster_request(kind, "out");
            this.link.publish(
                this.channels.request.clone(),
                message::request(&this.link.uid, Some(&id), kind, fields),
            );
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

    /// Publishes a broadcast that waits for the clients' acks on the other nodes; the
    /// answers that arrived within `timeout`, and whether they are all of them.
    fn broadcast_with_ack(
        self: &Arc<Self>,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        let this = self.clone();
        let body =
            message::broadcast_request(&self.link.uid, packet, opts, timeout.as_millis() as u64);
        Box::pin(async move {
            let expected = match this.server_count_now().await {
                Ok(n) => n.saturating_sub(1),
                Err(_) => return (Vec::new(), false),
            };
            if expected == 0 {
                return (Vec::new(), true);
            }
            let (id, body) = body;
            let (tx, rx) = oneshot::channel();
            this.pending.lock().expect("pending lock").insert(
                id.clone(),
                Pending::new(RequestType::Broadcast, expected, tx),
            );
            cluster_request(RequestType::Broadcast, "out");
            this.link.publish(this.channels.request.clone(), body);
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(responses)) => (responses, true),
                _ => {
                    let pending = this.pending.lock().expect("pending lock").remove(&id);
                    (pending.map(|p| p.responses).unwrap_or_default(), false)
                }
            }
        })
    }

    /// The nodes subscribed to this namespace's request channel (PUBSUB NUMSUB).
    async fn server_count_now(&self) -> Result<usize, AdapterError> {
        let mut conn = self.link.commands.clone();
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&self.channels.request)
            .query_async(&mut conn)
            .await
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(count)
    }

    fn publish_request(&self, kind: RequestType, fields: Vec<(String, Value)>) {
        cluster_request(kind, "out");
        self.link.publish(
            self.channels.request.clone(),
            message::request(&self.link.uid, None, kind, fields),
        );
    }
}

/// Counts a cluster request in `sockeye_cluster_requests_total{kind, direction}`: `out`
/// when this node asks the others, `in` when it answers one of theirs.
fn cluster_request(kind: RequestType, direction: &'static str) {
    metrics::counter!("sockeye_cluster_requests_total", "kind" => kind.name(), "direction" => direction)
        .increment(1);
}

/// The adapter a namespace holds: an `Arc` around the shared state, so that requests
/// can outlive the call that made them.
pub(crate) struct RedisNamespace(pub(crate) Arc<NamespaceAdapter>);

impl Adapter for RedisNamespace {
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
        let a = &self.0;
        a.link.publish(
            a.channels.broadcast_channel(opts),
            message::encode_broadcast(&a.link.uid, packet, opts),
        );
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.publish_request(
            RequestType::RemoteJoin,
            vec![opts_field(opts), ("rooms".into(), rooms_value(rooms))],
        );
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.publish_request(
            RequestType::RemoteLeave,
            vec![opts_field(opts), ("rooms".into(), rooms_value(rooms))],
        );
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.0.publish_request(
            RequestType::RemoteDisconnect,
            vec![opts_field(opts), ("close".into(), Value::Bool(close))],
        );
    }

    fn remote_fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let timeout = self.0.link.requests_timeout;
        let request = self
            .0
            .request(RequestType::RemoteFetch, vec![opts_field(opts)], timeout);
        Box::pin(async move {
            Ok(request
                .await?
                .iter()
                .filter_map(socket_info_from_value)
                .collect())
        })
    }

    fn remote_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let timeout = self.0.link.requests_timeout;
        let request = self.0.request(RequestType::AllRooms, vec![], timeout);
        Box::pin(async move {
            Ok(request
                .await?
                .iter()
                .filter_map(message::room_name)
                .collect())
        })
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
        self.0.publish_request(
            RequestType::ServerSideEmit,
            vec![("data".into(), Value::Array(data))],
        );
    }

    fn remote_server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        self.0.request(
            RequestType::ServerSideEmit,
            vec![("data".into(), Value::Array(data))],
            timeout,
        )
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let this = self.0.clone();
        Box::pin(async move { this.server_count_now().await })
    }
}
