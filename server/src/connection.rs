//! The Socket.IO side of one Engine.IO connection: decoding, namespace joins and
//! dispatch of events and acks to the right socket.

use crate::adapter::Sid;
use crate::engine::{CloseReason, Connection, EngineHandler, EngineSocket, Message};
use crate::error::DisconnectReason;
use crate::namespace::NsInner;
use crate::namespace::Registry;
use crate::socket::{ConnSockets, Socket};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use sockeye_protocol::socket::{Decoder, Packet};
use sockeye_protocol::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Makes a [`SocketConnection`] for each Engine.IO session.
pub(crate) struct SocketHandler {
    pub(crate) registry: Arc<Registry>,
}

impl EngineHandler for SocketHandler {
    type Connection = SocketConnection;

    fn on_open(&self, engine: EngineSocket) -> SocketConnection {
        let conn = SocketConnection {
            registry: self.registry.clone(),
            decoder: Decoder::with_parser(
                self.registry.shared.config.parser,
                self.registry.shared.config.max_attachments,
            ),
            sockets: Arc::new(ConnSockets::default()),
            started: Vec::new(),
            tasks: FuturesUnordered::new(),
            closing: None,
            engine,
        };
        // A connection that joins no namespace in time is closed. The timer is a task
        // of its own, aborted when the connection closes: left running, it would keep
        // the closed session's memory alive for the whole timeout, so memory would
        // grow with the connection rate.
        let timeout = self.registry.shared.config.connect_timeout;
        let (engine, sockets) = (conn.engine.clone(), conn.sockets.clone());
        *conn.sockets.join_timer.lock().expect("join timer lock") = Some(
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                if sockets
                    .by_namespace
                    .lock()
                    .expect("conn sockets lock")
                    .is_empty()
                {
                    tracing::debug!(sid = engine.sid(), "no namespace joined in time: closing");
                    engine.close(CloseReason::ForcedClose);
                }
            })
            .abort_handle(),
        );
        conn
    }
}

/// One connection's Socket.IO state, owned by its session task.
pub(crate) struct SocketConnection {
    registry: Arc<Registry>,
    engine: EngineSocket,
    decoder: Decoder,
    sockets: Arc<ConnSockets>,
    /// Handlers not yet polled, in arrival order. Most finish on their first poll
    /// (an echo, a broadcast), so they are polled once before they would cost a
    /// place in `tasks`.
    started: Vec<BoxFuture<'static, ()>>,
    /// Handlers that waited on something and are still in flight.
    tasks: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Set when the client's input closed the connection: the reason its sockets
    /// leave with. Nothing it sent after that is handled.
    closing: Option<DisconnectReason>,
}

impl SocketConnection {
    fn socket(&self, namespace: &str) -> Option<Socket> {
        self.sockets
            .by_namespace
            .lock()
            .expect("conn sockets lock")
            .get(namespace)
            .cloned()
    }

    /// Dispatches a packet by the namespace it names, as socket.io's
    /// `Client.ondecoded`: a CONNECT joins a namespace the connection is not in, any
    /// other packet goes to the connection's socket in its namespace, and everything
    /// else is an "invalid state" that closes the whole connection.
    fn on_packet(&mut self, packet: Packet) {
        let socket = self.socket(packet.namespace());
        match (packet, socket) {
            (Packet::Connect { namespace, data }, None) => self.on_connect(namespace, data),
            (Packet::Disconnect { .. }, Some(socket)) => {
                socket.close(DisconnectReason::ClientNamespaceDisconnect);
            }
            (Packet::Event { name, args, id, .. }, Some(socket)) => match socket.handler(&name) {
                Some(handler) => self.started.push(handler(socket, &name, args, id)),
                None => tracing::trace!(event = %name, "no handler"),
            },
            (Packet::Ack { args, id, .. }, Some(socket)) => socket.on_ack(id, args),
            // A CONNECT to a namespace joined already, any other packet for one not
            // joined (also one the server has just left: the client could not know
            // yet, and socket.io closes all the same), or a CONNECT_ERROR, which only
            // a server sends.
            (packet, _) => {
                tracing::info!(
                    sid = self.engine.sid(),
                    ns = packet.namespace(),
                    packet = ?packet.packet_type(),
                    "packet against the namespace state: closing"
                );
                self.close_for(
                    DisconnectReason::ForcedServerClose,
                    CloseReason::ForcedClose,
                );
            }
        }
    }

    /// Closes the connection because of what the client sent: its sockets leave with
    /// `reason`, the Engine.IO session closes with `engine_reason`.
    fn close_for(&mut self, reason: DisconnectReason, engine_reason: CloseReason) {
        self.closing = Some(reason);
        self.engine.close(engine_reason);
    }

    fn on_connect(&mut self, namespace: String, auth: Option<Value>) {
        let Some(ns) = self.registry.lookup(&namespace) else {
            let refusal = Packet::ConnectError {
                namespace,
                data: sockeye_protocol::json!({"message": "Invalid namespace"}),
            };
            let _ = self.engine.send(crate::socket::frame_of(
                self.registry.shared.config.parser,
                &refusal,
            ));
            return;
        };
        let auth = auth.unwrap_or(Value::Object(Vec::new()));
        if ns.adapter_numbers() {
            if let Some((pid, offset)) = recovery_claim(&auth) {
                // The adapter keeps the sessions, for every node: ask it.
                let restore = ns.adapter.restore_session(&pid, &offset);
                let (engine, sockets) = (self.engine.clone(), self.sockets.clone());
                self.started.push(Box::pin(async move {
                    let restored = restore.await;
                    let claim = restored
                        .as_ref()
                        .map(|r| (r.session.sid.clone(), r.session.pid.clone()));
                    let socket = Socket::new(
                        ns.clone(),
                        engine.clone(),
                        auth,
                        Arc::downgrade(&sockets),
                        claim,
                    );
                    connect(ns, socket, sockets, engine, Recovering::Adapter(restored)).await
                }));
                return;
            }
        }
        // A client coming back names its private id and the last offset it processed.
        let claim = ns.recovery.as_ref().and_then(|store| {
            let pid = auth.get("pid")?.as_str()?.to_owned();
            let offset = auth.get("offset")?.as_str()?.to_owned();
            // Its old connection may not be known dead yet (a cut the server has not
            // read): that socket leaves now, as lost, and its session is kept.
            let stale = store.lock().expect("recovery lock").live(&pid);
            if let Some(old) = stale.and_then(|sid| ns.sockets.read().expect("sockets lock").get(&sid).cloned()) {
                tracing::debug!(sid = %old.id(), "session claimed from a new connection: the old one is dropped");
                old.close(DisconnectReason::TransportClose);
                old.close_transport();
            }
            let sid = store.lock().expect("recovery lock").peek(
                &pid,
                &offset,
                std::time::Instant::now(),
            )?;
            Some((sid, pid, offset))
        });
        let socket = Socket::new(
            ns.clone(),
            self.engine.clone(),
            auth,
            Arc::downgrade(&self.sockets),
            claim
                .as_ref()
                .map(|(sid, pid, _)| (sid.clone(), Sid::from(pid.as_str()))),
        );
        let recovering = match claim {
            Some((_, _, offset)) => Recovering::Local(offset),
            None => Recovering::No,
        };
        self.started.push(Box::pin(connect(
            ns,
            socket,
            self.sockets.clone(),
            self.engine.clone(),
            recovering,
        )));
    }
}

/// The private id and last offset a client coming back names in its auth.
fn recovery_claim(auth: &Value) -> Option<(String, String)> {
    let pid = auth.get("pid")?.as_str()?.to_owned();
    let offset = auth.get("offset")?.as_str()?.to_owned();
    Some((pid, offset))
}

/// Where a joining socket's session comes from.
enum Recovering {
    /// A new session.
    No,
    /// This node's recovery store, from this offset.
    Local(String),
    /// The adapter, which gave it back (or not).
    Adapter(Option<crate::adapter::RestoredSession>),
}

/// Runs the middlewares, then registers the socket, answers CONNECT and runs the
/// connection handler. `recovering` says where a recovered session comes from.
async fn connect(
    ns: Arc<NsInner>,
    socket: Socket,
    sockets: Arc<ConnSockets>,
    engine: EngineSocket,
    recovering: Recovering,
) {
    let skip = socket.recovered()
        && ns
            .shared
            .config
            .recovery
            .as_ref()
            .is_some_and(|r| r.skip_middlewares);
    let middlewares = if skip {
        Vec::new()
    } else {
        ns.handlers.middlewares()
    };
    for middleware in middlewares {
        let outcome =
            match std::panic::catch_unwind(AssertUnwindSafe(|| middleware(socket.clone()))) {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
        let Ok(outcome) = outcome else {
            tracing::error!(ns = %ns.name, "a middleware panicked: the connection is closed");
            engine.close(CloseReason::ForcedClose);
            return;
        };
        if let Err(refusal) = outcome {
            tracing::debug!(ns = %ns.name, message = %refusal.message, "join refused");
            let packet = Packet::ConnectError {
                namespace: ns.name.clone(),
                data: refusal.to_value(),
            };
            let _ = engine.send(crate::socket::frame_of(ns.shared.config.parser, &packet));
            return;
        }
    }
    if engine.is_closed() {
        return;
    }
    {
        // A second CONNECT that arrived while this one was in its middlewares (not
        // joined yet, so no invalid state) must not replace it: the replaced socket
        // would never be closed. (socket.io makes a second socket here.)
        let mut joined = sockets.by_namespace.lock().expect("conn sockets lock");
        if joined.contains_key(&ns.name) {
            tracing::debug!(ns = %ns.name, "namespace joined twice: ignored");
            return;
        }
        joined.insert(ns.name.clone(), socket.clone());
    }
    sockets.stop_join_timer();
    let sent = register(&ns, &socket, &engine, recovering);
    if !sent {
        socket.close(DisconnectReason::TransportError);
        return;
    }
    if let Some(observer) = ns.shared.observer() {
        observer.connected(&socket);
    }
    if let Some(handler) = ns.handlers.connection() {
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| handler(socket.clone())));
        let finished = match run {
            Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await.is_ok(),
            Err(_) => false,
        };
        if !finished {
            socket.close_after_panic("connection");
        }
    }
}

/// Registers a socket that may join: answers CONNECT (with its private id when
/// recovery is on), and for a recovered session restores its rooms and data and sends
/// what it missed. Whether every frame was queued.
fn register(ns: &NsInner, socket: &Socket, engine: &EngineSocket, recovering: Recovering) -> bool {
    // A recovering socket is registered under the store's lock: no packet can be sent
    // between the missed ones it gets and the live ones it is now in line for.
    let mut store = ns
        .recovery
        .as_ref()
        .map(|store| store.lock().expect("recovery lock"));
    let restored = match (&mut store, recovering, &socket.inner.pid) {
        (Some(store), Recovering::Local(offset), Some(pid)) if socket.recovered() => store
            .restore(pid, &offset, std::time::Instant::now())
            .map(|r| (r.session.rooms, r.session.data, r.missed)),
        (store, Recovering::Adapter(Some(r)), _) if socket.recovered() => {
            let parser = ns.shared.config.parser;
            let mut missed: Vec<_> = r
                .missed
                .into_iter()
                .filter_map(|mut data| {
                    let Some(Value::String(event)) = data.first().cloned() else {
                        return None;
                    };
                    data.remove(0);
                    let packet = Packet::event(&ns.name, &event, data.into(), None);
                    Some(crate::socket::frame_of(parser, &packet))
                })
                .collect();
            // What this node delivered after the adapter read its log.
            if let (Some(store), Some(read_to)) = (store, &r.read_to) {
                missed.extend(store.numbered_after(&r.session.rooms, |offset| {
                    ns.adapter.offset_after(offset, read_to)
                }));
            }
            Some((r.session.rooms, r.session.data, missed))
        }
        _ => None,
    };
    if socket.recovered() && restored.is_none() {
        socket.not_recovered();
    }
    socket.mark_connected();
    ns.insert(socket);
    if let (Some(store), Some(pid)) = (&mut store, &socket.inner.pid) {
        store.joined(pid, &socket.inner.id);
    }
    let mut accept = vec![("sid".into(), Value::String(socket.id().to_owned()))];
    if let Some(pid) = &socket.inner.pid {
        accept.push(("pid".into(), Value::String(pid.to_string())));
    }
    let accept = Packet::Connect {
        namespace: ns.name.clone(),
        data: Some(Value::Object(accept)),
    };
    let accept = crate::socket::frame_of(ns.shared.config.parser, &accept);
    let sent = match restored {
        None => engine.send(accept).is_ok(),
        Some((rooms, data, missed)) => {
            ns.adapter.join(&socket.inner.id, &rooms);
            socket.set_data(data);
            tracing::debug!(sid = %socket.id(), ns = %ns.name, missed = missed.len(), "session recovered");
            // Past the queue's bound: a client back from a long cut has more to catch
            // up on than a live queue may hold, and must not be dropped for it.
            let mut frames = Vec::with_capacity(1 + missed.len());
            frames.push(accept);
            frames.extend(missed);
            engine.send_first(frames).is_ok()
        }
    };
    sent
}

impl Connection for SocketConnection {
    fn on_message(&mut self, message: Message) {
        // engine.io drops what a closing socket receives; so does Sockeye, e.g. the
        // rest of a polling body.
        if self.closing.is_some() {
            return;
        }
        let decoded = match message {
            Message::Text(text) => self.decoder.decode_text(text),
            Message::Binary(data) => self.decoder.decode_binary(data),
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(e) => {
                tracing::info!(sid = self.engine.sid(), error = %e, "invalid Socket.IO packet: closing");
                self.close_for(DisconnectReason::ParseError, CloseReason::TransportError);
            }
        }
    }

    fn on_close(&mut self, reason: CloseReason) {
        let reason = self
            .closing
            .unwrap_or_else(|| DisconnectReason::from(reason));
        self.sockets.close_all(reason);
        self.sockets.stop_join_timer();
        // Handlers still in flight finish on their own; the connection is gone.
        let mut tasks = std::mem::take(&mut self.tasks);
        tasks.extend(self.started.drain(..));
        if !tasks.is_empty() {
            tokio::spawn(tasks.for_each(|()| async {}));
        }
    }

    fn on_upgrade(&mut self) {
        let sockets: Vec<Socket> = self
            .sockets
            .by_namespace
            .lock()
            .expect("conn sockets lock")
            .values()
            .cloned()
            .collect();
        for socket in &sockets {
            if let Some(observer) = socket.inner.ns.shared.observer() {
                observer.upgraded(socket);
            }
        }
    }

    fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut finished = 0;
        for mut handler in self.started.drain(..) {
            match handler.as_mut().poll(cx) {
                Poll::Ready(()) => finished += 1,
                Poll::Pending => self.tasks.push(handler),
            }
        }
        while let Poll::Ready(Some(())) = self.tasks.poll_next_unpin(cx) {
            finished += 1;
        }
        // Finished handlers may have queued acks: `Ready` sends the session round its
        // loop to write them now, rather than after a trip through the run queue.
        if finished > 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
