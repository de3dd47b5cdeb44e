//! What the admin namespace says and does: `config`, `session` and `all_sockets` to
//! an admin that joins; the actions it may send (`emit`, `join`, `leave`,
//! `_disconnect`); and, in development mode, every socket's lifecycle and events.

use super::auth::NewSession;
use super::json::{local_socket, now, socket_json};
use super::{AdminUi, Mode};
use crate::error::DisconnectReason;
use crate::io::SocketIo;
use crate::namespace::Namespace;
use crate::socket::observer::SocketObserver;
use crate::socket::Socket;
use crate::BroadcastOperator;
use serde_json::{json, Value as Json};
use sockeye_protocol::Value;
use std::sync::{Arc, Weak};

/// The features the UI turns its buttons on by (the official `Feature` names). The
/// `M*` ones say that an action may target a room (`filter`) rather than one id.
fn features(admin: &AdminUi) -> Vec<&'static str> {
    let mut features = Vec::new();
    if !admin.read_only {
        features.extend([
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]);
    }
    features.push("AGGREGATED_EVENTS");
    if admin.mode == Mode::Development {
        features.push("ALL_EVENTS");
    }
    features
}

pub(super) fn install(io: &SocketIo, ns: &Namespace, admin: Arc<AdminUi>) {
    let registry = Arc::downgrade(&io.registry);
    ns.on_connection(move |socket| {
        let (admin, registry) = (admin.clone(), registry.clone());
        async move {
            if !admin.read_only {
                actions(&socket, registry.clone());
            }
            if let Some(NewSession(id)) = socket.remove_extension::<NewSession>() {
                socket.emit("session", id).ok();
            }
            socket
                .emit(
                    "config",
                    (json!({ "supportedFeatures": features(&admin) }),),
                )
                .ok();
            if admin.mode == Mode::Development {
                let sockets = all_sockets(&registry).await;
                socket.emit("all_sockets", (sockets,)).ok();
            }
        }
    });
}

/// Every socket of every namespace, on every node (through each adapter's
/// `fetch_sockets`); a node that does not answer leaves its sockets out.
async fn all_sockets(registry: &Weak<crate::namespace::Registry>) -> Vec<Json> {
    let Some(registry) = registry.upgrade() else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for ns in registry.namespaces() {
        let found = match ns.broadcast().fetch_sockets().await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(ns = ns.name(), error = %e, "admin UI: fetch_sockets failed");
                continue;
            }
        };
        for remote in found {
            all.push(match ns.socket(remote.id()) {
                Some(local) => local_socket(&local),
                None => socket_json(remote.info(), ns.name(), None, None),
            });
        }
    }
    all
}

/// The UI's actions. Each names a namespace and either a socket id or a room
/// (`filter`); through the namespace's adapter, so they reach every node.
fn actions(socket: &Socket, registry: Weak<crate::namespace::Registry>) {
    let target = move |nsp: &Json, filter: Option<&Json>| -> Option<BroadcastOperator> {
        let registry = registry.upgrade()?;
        // Only namespaces that exist: an admin's typo must not create one.
        let ns = registry.lookup(nsp.as_str()?)?;
        let ns = Namespace { inner: ns };
        Some(match filter.and_then(Json::as_str) {
            Some(room) if !room.is_empty() => ns.to(room.to_owned()),
            _ => ns.broadcast(),
        })
    };
    let target = Arc::new(target);
    let t = target.clone();
    // ("emit", nsp, filter, event, ...args)
    socket.on("emit", move |_, args: Vec<Value>| {
        let t = t.clone();
        async move {
            let json: Vec<Json> = args
                .iter()
                .map(|v| serde_json::to_value(v).unwrap_or(Json::Null))
                .collect();
            let (Some(op), Some(event)) = (
                json.first().and_then(|nsp| t(nsp, json.get(1))),
                json.get(2).and_then(Json::as_str),
            ) else {
                return;
            };
            op.emit(event, args[3..].to_vec()).ok();
        }
    });
    for (event, join) in [("join", true), ("leave", false)] {
        let t = target.clone();
        // ("join" | "leave", nsp, room, filter)
        socket.on(event, move |_, args: Vec<Json>| {
            let t = t.clone();
            async move {
                let (Some(op), Some(room)) = (
                    args.first().and_then(|nsp| t(nsp, args.get(2))),
                    args.get(1).and_then(Json::as_str),
                ) else {
                    return;
                };
                if join {
                    op.join(room.to_owned());
                } else {
                    op.leave(room.to_owned());
                }
            }
        });
    }
    let t = target;
    // ("_disconnect", nsp, close, filter)
    socket.on("_disconnect", move |_, args: Vec<Json>| {
        let t = t.clone();
        async move {
            let close = args.get(1).and_then(Json::as_bool).unwrap_or(false);
            if let Some(op) = args.first().and_then(|nsp| t(nsp, args.get(2))) {
                op.disconnect_sockets(close);
            }
        }
    });
}

/// Development mode: tells the admins of every socket's connect, disconnect, rooms and
/// events, in every namespace (the admin namespace's own events excepted).
pub(super) struct Verbose {
    admin: Namespace,
}

impl Verbose {
    pub(super) fn new(admin: Namespace) -> Verbose {
        Verbose { admin }
    }

    fn tell(&self, event: &str, args: Vec<Json>) {
        let args: Vec<Value> = args
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        // Through the adapter: the admins connected to other nodes hear it too.
        self.admin.emit(event, args).ok();
    }
}

fn args_json(args: &crate::Args) -> Vec<Json> {
    args.values()
        .map(|values| {
            values
                .iter()
                .map(|v| serde_json::to_value(v).unwrap_or(Json::Null))
                .collect()
        })
        .unwrap_or_default()
}

impl SocketObserver for Verbose {
    fn connected(&self, socket: &Socket) {
        self.tell("socket_connected", vec![local_socket(socket), now()]);
        if socket.namespace() == self.admin.name() {
            return;
        }
        let admin = self.admin.clone();
        socket.on_any(move |socket, event, args| {
            let mut all = vec![Json::String(event.to_owned())];
            all.extend(args_json(args));
            let args = vec![
                json!(socket.namespace()),
                json!(socket.id()),
                Json::Array(all),
                now(),
            ];
            Verbose {
                admin: admin.clone(),
            }
            .tell("event_received", args);
        });
        let admin = self.admin.clone();
        socket.on_any_outgoing(move |socket, event, args| {
            let mut all = vec![Json::String(event.to_owned())];
            all.extend(args_json(args));
            let args = vec![
                json!(socket.namespace()),
                json!(socket.id()),
                Json::Array(all),
                now(),
            ];
            Verbose {
                admin: admin.clone(),
            }
            .tell("event_sent", args);
        });
    }

    fn disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        self.tell(
            "socket_disconnected",
            vec![
                json!(socket.namespace()),
                json!(socket.id()),
                json!(reason.as_str()),
                now(),
            ],
        );
    }

    fn joined(&self, ns: &str, room: &str, sid: &str) {
        self.tell(
            "room_joined",
            vec![json!(ns), json!(room), json!(sid), now()],
        );
    }

    fn left(&self, ns: &str, room: &str, sid: &str) {
        self.tell("room_left", vec![json!(ns), json!(room), json!(sid), now()]);
    }

    fn upgraded(&self, socket: &Socket) {
        self.tell(
            "socket_updated",
            vec![json!({
                "id": socket.id(),
                "nsp": socket.namespace(),
                "transport": "websocket",
            })],
        );
    }
}
