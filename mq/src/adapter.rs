//! One namespace's adapter: this node's membership in memory, python-socketio's pub/sub
//! methods to carry broadcasts and room changes to the other nodes, and what this node
//! does when they ask.

use crate::link::Link;
use crate::message::{encode_callback, rooms_json, Callback, Emit, Message};
use futures_util::future::{self, BoxFuture};
use sockeye_protocol::socket::{Packet, RESERVED_EVENTS};
use sockeye_protocol::Value;
use sockeye_server::{Adapter, BroadcastOptions, LocalAdapter, NamespaceRef, Room, Sid};
use std::sync::Arc;
use std::time::Duration;

/// The adapter of one namespace on one node.
pub(crate) struct NamespaceAdapter {
    link: Arc<Link>,
    ns: NamespaceRef,
    local: LocalAdapter,
}

impl NamespaceAdapter {
    pub(crate) fn new(link: Arc<Link>, ns: NamespaceRef) -> Arc<NamespaceAdapter> {
        let adapter = Arc::new(NamespaceAdapter {
            link: link.clone(),
            ns,
            local: LocalAdapter::default(),
        });
        // A dynamic namespace's parent ("(dynamic)") has no sockets of its own.
        if adapter.namespace().starts_with('/') {
            link.register(&adapter);
        }
        adapter
    }

    pub(crate) fn namespace(&self) -> &str {
        self.ns.name()
    }

    /// Whether `sid` is a socket of this node (a socket is in its own room).
    fn is_local_socket(&self, sid: &str) -> bool {
        !self.local.rooms_of(&Sid::from(sid)).is_empty()
    }

    fn publish(&self, message: &Message) {
        self.link.publish(message.encode(&self.link.host_id));
    }

    /// A message of another node (or a write-only emitter) for this namespace.
    pub(crate) fn on_message(&self, message: Message, host_id: String) {
        let one = |room: &str| BroadcastOptions {
            rooms: vec![room.into()],
            except: vec![],
        };
        match message {
            Message::Emit(emit) => self.on_emit(emit, host_id),
            Message::Disconnect { sid, .. } => {
                if self.is_local_socket(&sid) {
                    self.ns.disconnect_sockets(&one(&sid), false);
                }
            }
            Message::EnterRoom { sid, room, .. } => {
                if self.is_local_socket(&sid) {
                    self.ns.add_sockets(&one(&sid), &[room.into()]);
                }
            }
            Message::LeaveRoom { sid, room, .. } => {
                if self.is_local_socket(&sid) {
                    self.ns.del_sockets(&one(&sid), &[room.into()]);
                }
            }
            Message::CloseRoom { room, .. } => self.ns.del_sockets(&one(&room), &[room.into()]),
            Message::Callback { .. } => {}
        }
    }

    fn on_emit(&self, emit: Emit, host_id: String) {
        if RESERVED_EVENTS.contains(&emit.event.as_str()) {
            tracing::warn!(event = %emit.event, "message queue: reserved event name skipped");
            return;
        }
        let opts = BroadcastOptions {
            rooms: emit.rooms,
            except: emit.skip_sid,
        };
        let packet = Packet::event(self.namespace(), &emit.event, emit.args, None);
        let Some(Callback {
            room,
            namespace,
            id,
        }) = emit.callback
        else {
            self.ns.broadcast(&packet, &opts);
            return;
        };
        // The emitter waits for an answer: each client reached answers through a
        // `callback` message addressed to the emitter's host.
        for answer in self
            .ns
            .broadcast_with_ack(&packet, &opts, self.link.ack_timeout)
        {
            let (link, host_id, room, namespace) = (
                self.link.clone(),
                host_id.clone(),
                room.clone(),
                namespace.clone(),
            );
            tokio::spawn(async move {
                if let Some(value) = answer.await {
                    link.publish(encode_callback(&host_id, &room, &namespace, id, &[value]));
                }
            });
        }
    }
}

/// The targets of an operation: python-socketio's room methods name sids one by one, so
/// an operation on "every socket" has no message to carry it.
fn targets<'a>(opts: &'a BroadcastOptions, what: &str) -> &'a [Room] {
    if opts.rooms.is_empty() {
        tracing::warn!(
            operation = what,
            "python-socketio's queue has no message for this on every socket: other nodes left out"
        );
    }
    &opts.rooms
}

/// The newtype the factory returns (the adapter itself is shared with the link).
pub(crate) struct MqNamespace(pub(crate) Arc<NamespaceAdapter>);

impl Adapter for MqNamespace {
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
        if let Packet::Event { name, args, .. } = packet {
            self.0.publish(&Message::Emit(Emit {
                event: name.clone(),
                args: args.clone(),
                namespace: self.0.namespace().to_owned(),
                rooms: opts.rooms.clone(),
                skip_sid: opts.except.clone(),
                callback: None,
            }));
        }
    }

    /// python-socketio runs one callback per emit: an emit to one room (a sid, usually)
    /// resolves with the first answer; to more, every answer that comes within `timeout`
    /// (the protocol does not say how many clients were reached).
    fn remote_broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (Vec<Value>, bool)> {
        let Packet::Event { name, args, .. } = packet else {
            return Box::pin(future::ready((Vec::new(), true)));
        };
        let single = opts.rooms.len() == 1;
        if single && self.0.is_local_socket(&opts.rooms[0]) {
            // That socket is here, and answered here.
            return Box::pin(future::ready((Vec::new(), true)));
        }
        let link = self.0.link.clone();
        let (id, mut answers) = link.callback();
        self.0.publish(&Message::Emit(Emit {
            event: name.clone(),
            args: args.clone(),
            namespace: self.0.namespace().to_owned(),
            rooms: opts.rooms.clone(),
            skip_sid: opts.except.clone(),
            callback: Some(Callback {
                room: rooms_json(&opts.rooms),
                namespace: self.0.namespace().to_owned(),
                id,
            }),
        }));
        Box::pin(async move {
            let mut got = Vec::new();
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    args = answers.recv() => match args {
                        Some(args) => {
                            got.push(args.into_iter().next().unwrap_or_default());
                            if single {
                                break;
                            }
                        }
                        None => break,
                    },
                }
            }
            link.forget_callback(id);
            let complete = !(single && got.is_empty());
            (got, complete)
        })
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in targets(opts, "join") {
            for room in rooms {
                self.0.publish(&Message::EnterRoom {
                    sid: sid.to_string(),
                    room: room.to_string(),
                    namespace: self.0.namespace().to_owned(),
                });
            }
        }
    }

    /// `in(room).leave(room)` is python-socketio's `close_room(room)`; otherwise each
    /// target is a sid that leaves each room.
    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let namespace = self.0.namespace().to_owned();
        if opts.rooms.len() == 1 && rooms == opts.rooms.as_slice() && opts.except.is_empty() {
            self.0.publish(&Message::CloseRoom {
                room: rooms[0].to_string(),
                namespace,
            });
            return;
        }
        for sid in targets(opts, "leave") {
            for room in rooms {
                self.0.publish(&Message::LeaveRoom {
                    sid: sid.to_string(),
                    room: room.to_string(),
                    namespace: namespace.clone(),
                });
            }
        }
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, _close: bool) {
        for sid in targets(opts, "disconnect") {
            self.0.publish(&Message::Disconnect {
                sid: sid.to_string(),
                namespace: self.0.namespace().to_owned(),
            });
        }
    }
}
