//! A cluster adapter written as a third party would, with nothing but sockeye-server's
//! public API: two servers in one process, joined by a channel instead of Redis. Real
//! clients on both nodes show that every cluster operation (broadcasts to rooms with
//! `except`, broadcasts with acks, `socketsJoin`/`socketsLeave`, `disconnectSockets`,
//! `fetchSockets`, `allRooms` and `serverSideEmit` with and without acks) reaches the
//! other node through `NamespaceRef`, the local half the adapter boundary offers.

mod common;

use common::{next, start, within, Sio};
use futures_util::future::{self, BoxFuture, FutureExt};
use sockeye_protocol::socket::{Args, Packet};
use sockeye_server::{
    json, Adapter, AdapterError, AdapterFactory, BroadcastOptions, LocalAdapter, NamespaceRef,
    Room, Sid, SocketInfo, SocketIo, Value,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

// --- the example adapter ---------------------------------------------------------------

/// What one node asks of the other, for one namespace. The replies travel back on
/// channels carried in the request: this "network" is a process's memory.
enum Request {
    Broadcast(Packet, BroadcastOptions),
    BroadcastWithAck(
        Packet,
        BroadcastOptions,
        Duration,
        oneshot::Sender<Vec<Value>>,
    ),
    AddSockets(BroadcastOptions, Vec<Room>),
    DelSockets(BroadcastOptions, Vec<Room>),
    DisconnectSockets(BroadcastOptions, bool),
    FetchSockets(BroadcastOptions, oneshot::Sender<Vec<SocketInfo>>),
    AllRooms(oneshot::Sender<Vec<Room>>),
    ServerSideEmit(Vec<Value>, Option<oneshot::Sender<Value>>),
}

/// One node's end of the link: makes an adapter per namespace, sends requests to the
/// peer and carries out the peer's requests on this node's namespaces.
#[derive(Clone)]
struct ChannelNode {
    peer: mpsc::UnboundedSender<(String, Request)>,
    namespaces: Arc<Mutex<HashMap<String, Arc<ChannelAdapter>>>>,
}

impl ChannelNode {
    /// Two nodes linked to each other. Each one answers its peer from a task of its own.
    fn pair() -> (ChannelNode, ChannelNode) {
        let (to_a, inbox_a) = mpsc::unbounded_channel();
        let (to_b, inbox_b) = mpsc::unbounded_channel();
        let a = ChannelNode {
            peer: to_b,
            namespaces: Arc::default(),
        };
        let b = ChannelNode {
            peer: to_a,
            namespaces: Arc::default(),
        };
        tokio::spawn(a.clone().serve(inbox_a));
        tokio::spawn(b.clone().serve(inbox_b));
        (a, b)
    }

    /// Carries out the peer's requests, in the order they were sent.
    async fn serve(self, mut inbox: mpsc::UnboundedReceiver<(String, Request)>) {
        while let Some((namespace, request)) = inbox.recv().await {
            let adapter = self.namespaces.lock().unwrap().get(&namespace).cloned();
            let Some(adapter) = adapter else { continue };
            let ns = &adapter.ns;
            match request {
                Request::Broadcast(packet, opts) => ns.broadcast(&packet, &opts),
                Request::BroadcastWithAck(packet, opts, timeout, reply) => {
                    let answers = ns.broadcast_with_ack(&packet, &opts, timeout);
                    tokio::spawn(async move {
                        // A client that did not answer in time is left out: the
                        // requester sees fewer answers than it waited for.
                        let answers = future::join_all(answers).await;
                        reply.send(answers.into_iter().flatten().collect()).ok();
                    });
                }
                Request::AddSockets(opts, rooms) => ns.add_sockets(&opts, &rooms),
                Request::DelSockets(opts, rooms) => ns.del_sockets(&opts, &rooms),
                Request::DisconnectSockets(opts, close) => ns.disconnect_sockets(&opts, close),
                Request::FetchSockets(opts, reply) => {
                    reply.send(ns.fetch_sockets(&opts)).ok();
                }
                Request::AllRooms(reply) => {
                    reply.send(adapter.local.rooms()).ok();
                }
                Request::ServerSideEmit(data, reply) => {
                    let Some(answer) = ns.server_side_emit(data) else {
                        continue; // no listener: no answer, the sender times out
                    };
                    tokio::spawn(async move {
                        let answer = answer.await;
                        if let Some(reply) = reply {
                            reply.send(answer).ok();
                        }
                    });
                }
            }
        }
    }
}

impl AdapterFactory for ChannelNode {
    fn create(&self, ns: NamespaceRef) -> Arc<dyn Adapter> {
        let adapter = Arc::new(ChannelAdapter {
            name: ns.name().to_owned(),
            ns,
            local: LocalAdapter::default(),
            peer: self.peer.clone(),
        });
        self.namespaces
            .lock()
            .unwrap()
            .insert(adapter.name.clone(), adapter.clone());
        adapter
    }
}

/// One namespace's adapter: membership in memory, and every operation sent to the peer.
struct ChannelAdapter {
    name: String,
    ns: NamespaceRef,
    local: LocalAdapter,
    peer: mpsc::UnboundedSender<(String, Request)>,
}

/// How long a request waits for the peer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl ChannelAdapter {
    fn send(&self, request: Request) {
        self.peer.send((self.name.clone(), request)).ok();
    }

    /// Sends a request and waits for the peer's one answer.
    fn ask<T: Send + 'static>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<T, AdapterError>> {
        let (tx, rx) = oneshot::channel();
        self.send(request(tx));
        async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => Ok(answer),
                _ => Err(AdapterError::Timeout {
                    received: 0,
                    expected: 1,
                }),
            }
        }
        .boxed()
    }
}

impl Adapter for ChannelAdapter {
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        self.local.join(sid, rooms)
    }

    fn leave(&self, sid: &Sid, room: &str) {
        self.local.leave(sid, room)
    }

    fn leave_all(&self, sid: &Sid) {
        self.local.leave_all(sid)
    }

    fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        self.local.rooms_of(sid)
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.local.sockets(opts)
    }

    fn rooms(&self) -> Vec<Room> {
        self.local.rooms()
    }

    fn remote_broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.send(Request::Broadcast(packet.clone(), opts.clone()));
    }

    fn remote_broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        let (packet, opts) = (packet.clone(), opts.clone());
        // The peer answers once every client has answered or timed out: a little more
        // than `timeout` after the request.
        let answers = self.ask(
            move |reply| Request::BroadcastWithAck(packet, opts, timeout, reply),
            timeout * 2,
        );
        async move {
            match answers.await {
                Ok(answers) => (answers, true),
                Err(_) => (Vec::new(), false),
            }
        }
        .boxed()
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.send(Request::AddSockets(opts.clone(), rooms.to_vec()));
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.send(Request::DelSockets(opts.clone(), rooms.to_vec()));
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.send(Request::DisconnectSockets(opts.clone(), close));
    }

    fn remote_fetch_sockets(
        &self,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let opts = opts.clone();
        self.ask(
            move |reply| Request::FetchSockets(opts, reply),
            REQUEST_TIMEOUT,
        )
    }

    fn remote_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        self.ask(Request::AllRooms, REQUEST_TIMEOUT)
    }

    fn remote_server_side_emit(&self, data: Vec<Value>) {
        self.send(Request::ServerSideEmit(data, None));
    }

    fn remote_server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Value>, AdapterError>> {
        let answer = self.ask(
            move |reply| Request::ServerSideEmit(data, Some(reply)),
            timeout,
        );
        async move { Ok(vec![answer.await?]) }.boxed()
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        future::ready(Ok(2)).boxed()
    }
}

// --- the test ----------------------------------------------------------------------------

/// A server of the two-node cluster: each socket joins the rooms its auth names and
/// keeps `{node}` as its data; `hello` is a server-side listener that answers, and
/// `notify` reports on `notified`.
fn node(
    name: &'static str,
    adapter: ChannelNode,
    notified: mpsc::UnboundedSender<(&'static str, Vec<Value>)>,
) -> SocketIo {
    let io = SocketIo::builder().adapter(adapter).build();
    let ns = io.of("/");
    ns.on_connection(move |socket| async move {
        let rooms: Vec<String> = socket
            .auth()
            .get("rooms")
            .and_then(|rooms| rooms.deserialize().ok())
            .unwrap_or_default();
        socket.join(rooms);
        socket.set_data(json!({ "node": name }));
    });
    ns.on_server_side("hello", move |args| async move {
        json!({ "node": name, "args": args })
    });
    ns.on_server_side("notify", move |args| {
        let notified = notified.clone();
        async move {
            notified.send((name, args)).ok();
        }
    });
    io
}

/// Connects a client to `/` of the server at `addr`, in `rooms`.
async fn client(addr: std::net::SocketAddr, rooms: &[&str]) -> (Sio, String) {
    let mut client = Sio::open(addr).await;
    let sid = client.join("/", Some(json!({ "rooms": rooms }))).await;
    (client, sid)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The ids of the sockets of every node that `to(room)` reaches, as `io` sees them.
async fn ids_in(io: &SocketIo, room: &str) -> Vec<String> {
    let sockets = within("fetch_sockets", io.of("/").to(room).fetch_sockets())
        .await
        .expect("the peer answers");
    sorted(sockets.iter().map(|s| s.id().to_owned()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_adapter_carries_every_operation_across_nodes() {
    let (link_a, link_b) = ChannelNode::pair();
    let (notified_tx, mut notified) = mpsc::unbounded_channel();
    let io_a = node("a", link_a, notified_tx.clone());
    let io_b = node("b", link_b, notified_tx);
    let (addr_a, addr_b) = (start(&io_a).await, start(&io_b).await);

    let (mut a1, a1_id) = client(addr_a, &["red"]).await;
    let (mut a2, a2_id) = client(addr_a, &[]).await;
    let (mut b1, b1_id) = client(addr_b, &["red"]).await;
    let (mut b2, b2_id) = client(addr_b, &["red", "muted"]).await;

    // A broadcast to a room, with `except`, reaches the room on both nodes.
    io_a.to("red")
        .except("muted")
        .emit("news", "to red")
        .unwrap();
    for c in [&mut a1, &mut b1] {
        assert_eq!(c.expect_event("news").await, vec![json!("to red")]);
    }
    // b2 (muted) and a2 (not in red) got nothing: their next event is the next one.
    io_b.emit("all", 1).unwrap();
    for c in [&mut a1, &mut a2, &mut b1, &mut b2] {
        assert_eq!(c.expect_event("all").await, vec![json!(1)]);
    }

    // fetchSockets: the sockets of both nodes, with their rooms and data.
    assert_eq!(
        ids_in(&io_a, "red").await,
        sorted(vec![a1_id.clone(), b1_id.clone(), b2_id.clone()])
    );
    let b2_seen = within("fetch_sockets", io_a.of("/").to("muted").fetch_sockets())
        .await
        .unwrap();
    assert_eq!(b2_seen.len(), 1);
    assert_eq!(b2_seen[0].id(), b2_id);
    assert_eq!(b2_seen[0].data(), &json!({ "node": "b" }));
    assert_eq!(
        sorted(b2_seen[0].rooms().to_vec()),
        sorted(vec![
            Room::from(b2_id.as_str()),
            "muted".into(),
            "red".into()
        ])
    );
    assert_eq!(
        b2_seen[0].handshake().get("auth"),
        Some(&json!({ "rooms": ["red", "muted"] }))
    );

    // socketsJoin and socketsLeave act on both nodes; allRooms sees both.
    io_a.of("/").to("red").except("muted").join("blue");
    assert_eq!(
        ids_in(&io_a, "blue").await,
        sorted(vec![a1_id.clone(), b1_id.clone()])
    );
    let rooms = within("all_rooms", io_b.of("/").all_rooms()).await.unwrap();
    for room in ["red", "blue", "muted", a2_id.as_str()] {
        assert!(rooms.contains(&Room::from(room)), "{room} in {rooms:?}");
    }
    // (Asked of the node that made the change: its request to the peer follows the
    // change on the same channel.)
    io_b.of("/").to("blue").leave("blue");
    assert!(ids_in(&io_b, "blue").await.is_empty());

    // A broadcast with acks collects the answers of both nodes' clients.
    let asked = tokio::spawn(
        io_a.of("/")
            .to("red")
            .timeout(Duration::from_secs(5))
            .emit_with_ack("ask", "q"),
    );
    for (c, name) in [(&mut a1, "a1"), (&mut b1, "b1"), (&mut b2, "b2")] {
        let (event, args, id) = c.recv_event().await;
        assert_eq!((event.as_str(), args), ("ask", vec![json!("q")]));
        c.send(&Packet::Ack {
            namespace: "/".into(),
            args: Args::from(vec![json!(name)]),
            id: id.expect("an ack id"),
        })
        .await;
    }
    let answers = within("the acks", asked).await.unwrap().expect("every ack");
    let answers: Vec<&str> = answers.iter().filter_map(Value::as_str).collect();
    assert_eq!(sorted(answers), vec!["a1", "b1", "b2"]);

    // serverSideEmit reaches the other node's listeners only, with and without acks.
    let answers = within(
        "serverSideEmit with ack",
        io_a.of("/")
            .server_side_emit_with_ack("hello", ("x",), Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert_eq!(answers, vec![json!({ "node": "b", "args": ["x"] })]);
    io_b.of("/").server_side_emit("notify", (1, 2)).unwrap();
    assert_eq!(next(&mut notified).await, ("a", vec![json!(1), json!(2)]));
    // A name with no listener gets no answer: the sender times out.
    let silent = io_a
        .of("/")
        .server_side_emit_with_ack("nobody", (), Duration::from_millis(200))
        .await;
    assert!(
        matches!(silent, Err(AdapterError::Timeout { .. })),
        "{silent:?}"
    );

    // disconnectSockets reaches the other node's sockets: b2 leaves the namespace, and
    // only b2.
    io_a.of("/").to("muted").disconnect_sockets(false);
    match b2.recv().await {
        Packet::Disconnect { namespace } => assert_eq!(namespace, "/"),
        other => panic!("expected a DISCONNECT, got {other:?}"),
    }
    assert_eq!(
        ids_in(&io_a, "red").await,
        sorted(vec![a1_id.clone(), b1_id.clone()])
    );
    assert!(io_b.of("/").socket(&b2_id).is_none());
}
