//! `/chat`: the group and private chat of the demo's chat page.
//!
//! A user joins with `auth: { name }` (unique among the connected). Events, client to
//! server: `join` / `leave` (room, ack: rooms now), `chat message` (room, text),
//! `private` (to, text), `typing` (room, bool). Server to client: `chat message`
//! ({room, from, text}), `private` ({from, to, text}), `system` (text), `online`
//! ([names]), `typing` ({room, name, typing}). Every user starts in `lobby`.
//!
//! With `--redis-url`, the chat spans every node on that Redis: names, the online list
//! and private messages come from `fetch_sockets` (each socket's `data.name`), and the
//! room broadcasts reach every node.

use sockeye_server::{json, ConnectError, Disconnect, Namespace, Socket, SocketIo, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The room every user starts in.
const LOBBY: &str = "lobby";
/// Longest name, room and message accepted, in characters.
const MAX_NAME: usize = 32;
const MAX_TEXT: usize = 2000;

/// Users connected to this node: name to socket id. One lock, held only for a map
/// operation. It settles races between two joins with one name on this node; the
/// cluster's users are asked with `fetch_sockets`.
#[derive(Default, Clone)]
struct Users(Arc<Mutex<BTreeMap<String, String>>>);

impl Users {
    fn sid_of(&self, name: &str) -> Option<String> {
        self.0.lock().expect("users lock").get(name).cloned()
    }
    /// Claims `name` for `sid`; false if someone else has it.
    fn claim(&self, name: &str, sid: &str) -> bool {
        let mut users = self.0.lock().expect("users lock");
        if users.contains_key(name) {
            return false;
        }
        users.insert(name.to_owned(), sid.to_owned());
        true
    }
    fn release(&self, name: &str, sid: &str) {
        let mut users = self.0.lock().expect("users lock");
        if users.get(name).map(String::as_str) == Some(sid) {
            users.remove(name);
        }
    }
}

/// The user's name, kept on the socket.
#[derive(Clone)]
struct Name(String);

fn name_in(auth: &Value) -> Option<String> {
    let name = auth.get("name")?.as_str()?.trim();
    (!name.is_empty() && name.chars().count() <= MAX_NAME).then(|| name.to_owned())
}

/// `text` trimmed, if it is not empty and at most `max` characters long.
fn bounded(text: &str, max: usize) -> Option<String> {
    let s = text.trim();
    (!s.is_empty() && s.chars().count() <= max).then(|| s.to_owned())
}

/// Rooms the socket is in, without its own id-room.
fn rooms_of(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket
        .rooms()
        .into_iter()
        .map(|r| r.to_string())
        .filter(|r| r != socket.id())
        .collect();
    rooms.sort();
    rooms
}

/// The users of every node, by name, with their socket ids.
async fn cluster_users(chat: &Namespace) -> BTreeMap<String, String> {
    match chat.broadcast().fetch_sockets().await {
        Ok(sockets) => sockets
            .iter()
            .filter_map(|s| {
                Some((
                    s.data().get("name")?.as_str()?.to_owned(),
                    s.id().to_owned(),
                ))
            })
            .collect(),
        // Other nodes did not answer in time: this node's users are what we know.
        Err(e) => {
            tracing::warn!(error = %e, "chat: the other nodes' users are unknown");
            chat.broadcast()
                .local()
                .sockets()
                .iter()
                .filter_map(|s| {
                    Some((
                        s.data().get("name")?.as_str()?.to_owned(),
                        s.id().to_owned(),
                    ))
                })
                .collect()
        }
    }
}

async fn announce_online(chat: &Namespace) {
    let names: Vec<String> = cluster_users(chat).await.into_keys().collect();
    chat.emit("online", json!(names)).ok();
}

/// Sets up `/chat` on `io`.
pub fn mount(io: &SocketIo) {
    let chat = io.of("/chat");
    let users = Users::default();

    let (taken, ns) = (users.clone(), chat.clone());
    chat.middleware(move |socket| {
        let (taken, chat) = (taken.clone(), ns.clone());
        async move {
            match name_in(socket.auth()) {
                None => Err(ConnectError::new("choose a name (1 to 32 characters)")),
                Some(name)
                    if taken.sid_of(&name).is_some()
                        || cluster_users(&chat).await.contains_key(&name) =>
                {
                    Err(ConnectError::new("that name is taken").with_data(json!({"name": name})))
                }
                Some(_) => Ok(()),
            }
        }
    });

    let ns = chat.clone();
    chat.on_connection(move |socket| {
        let (chat, users) = (ns.clone(), users.clone());
        async move {
            let name = name_in(socket.auth()).unwrap_or_default();
            // Two users racing for one name both pass the middleware; one wins here.
            if !users.claim(&name, socket.id()) {
                socket.emit("system", "that name was just taken").ok();
                socket.disconnect(Disconnect::Namespace);
                return;
            }
            socket.insert_extension(Name(name.clone()));
            socket.set_data(json!({"name": name.clone()}));
            socket.join(LOBBY);
            handlers(&socket, &chat, &users);
            chat.to(LOBBY)
                .emit("system", format!("{name} joined {LOBBY}"))
                .ok();
            announce_online(&chat).await;
        }
    });
}

fn handlers(socket: &Socket, chat: &Namespace, users: &Users) {
    let name = |socket: &Socket| socket.extension::<Name>().map(|n| n.0).unwrap_or_default();

    let ns = chat.clone();
    // Each event's arguments come as a tuple of the types the page sends.
    socket.on("join", move |socket, (room,): (String,)| {
        let chat = ns.clone();
        async move {
            if let Some(room) = bounded(&room, MAX_NAME) {
                if !rooms_of(&socket).contains(&room) {
                    socket.join(room.as_str());
                    let text = format!("{} joined {room}", name(&socket));
                    chat.to(room.as_str()).emit("system", text).ok();
                }
            }
            json!(rooms_of(&socket))
        }
    });

    let ns = chat.clone();
    socket.on("leave", move |socket, (room,): (String,)| {
        let chat = ns.clone();
        async move {
            if let Some(room) = bounded(&room, MAX_NAME) {
                if rooms_of(&socket).contains(&room) {
                    socket.leave(room.as_str());
                    let who = name(&socket);
                    // Whoever was typing there is not any more: no indicator left behind.
                    let typing =
                        json!({"room": room.clone(), "name": who.clone(), "typing": false});
                    chat.to(room.as_str()).emit("typing", typing).ok();
                    chat.to(room.as_str())
                        .emit("system", format!("{who} left {room}"))
                        .ok();
                }
            }
            json!(rooms_of(&socket))
        }
    });

    // To everyone in the room, the sender included: the sender's own copy is its echo.
    let ns = chat.clone();
    socket.on(
        "chat message",
        move |socket, (room, text): (String, String)| {
            let chat = ns.clone();
            async move {
                let (Some(room), Some(text)) = (bounded(&room, MAX_NAME), bounded(&text, MAX_TEXT))
                else {
                    return;
                };
                if rooms_of(&socket).contains(&room) {
                    let message =
                        json!({"room": room.clone(), "from": name(&socket), "text": text});
                    chat.to(room.as_str()).emit("chat message", message).ok();
                } else {
                    socket.emit("system", format!("join {room} first")).ok();
                }
            }
        },
    );

    // A private message goes to the user's socket (its id is a room) and back to the
    // sender; an absent user gets the sender a system notice instead.
    let ns = chat.clone();
    socket.on("private", move |socket, (to, text): (String, String)| {
        let chat = ns.clone();
        async move {
            let (Some(to), Some(text)) = (bounded(&to, MAX_NAME), bounded(&text, MAX_TEXT)) else {
                return;
            };
            let from = name(&socket);
            match cluster_users(&chat).await.remove(&to) {
                Some(sid) => {
                    let message = json!({"from": from, "to": to, "text": text});
                    chat.to(sid.as_str()).emit("private", message.clone()).ok();
                    if sid != socket.id() {
                        socket.emit("private", message).ok();
                    }
                }
                None => {
                    socket.emit("system", format!("{to} is offline")).ok();
                }
            }
        }
    });

    socket.on(
        "typing",
        move |socket, (room, typing): (String, bool)| async move {
            let Some(room) = bounded(&room, MAX_NAME) else {
                return;
            };
            if rooms_of(&socket).contains(&room) {
                let event = json!({"room": room.clone(), "name": name(&socket), "typing": typing});
                socket.to(room.as_str()).emit("typing", event).ok();
            }
        },
    );

    let (ns, directory) = (chat.clone(), users.clone());
    socket.on_disconnect(move |socket, _reason| {
        let (chat, users) = (ns.clone(), directory.clone());
        async move {
            let name = name(&socket);
            users.release(&name, socket.id());
            chat.emit("system", format!("{name} left")).ok();
            announce_online(&chat).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name_in(&json!({"name": "  ada "})), Some("ada".to_owned()));
        assert_eq!(name_in(&json!({"name": "   "})), None);
        assert_eq!(name_in(&json!({"name": "x".repeat(MAX_NAME + 1)})), None);
        assert_eq!(name_in(&json!({"name": 7})), None);
        assert_eq!(name_in(&json!({})), None);
    }

    #[test]
    fn a_name_belongs_to_one_socket_until_it_leaves() {
        let users = Users::default();
        assert!(users.claim("ada", "sid-1"));
        assert!(!users.claim("ada", "sid-2"));
        // Only the holder's departure frees the name.
        users.release("ada", "sid-2");
        assert_eq!(users.sid_of("ada").as_deref(), Some("sid-1"));
        users.release("ada", "sid-1");
        assert!(users.claim("ada", "sid-2"));
        assert_eq!(users.sid_of("ada").as_deref(), Some("sid-2"));
    }
}
