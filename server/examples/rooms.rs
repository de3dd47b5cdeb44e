//! Rooms: a socket joins and leaves named rooms; an emit to a room reaches its members
//! (with `io.to`, the sender too; with `socket.to`, everyone but the sender).
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.emit("join", "kitchen", (rooms) => console.log(rooms));      // ["kitchen"]
//! socket.emit("say", "kitchen", "dinner is ready");                   // everyone in the room
//! socket.emit("whisper", "kitchen", "not you");                       // the room, not me
//! socket.on("said", (room, text) => console.log(room, text));
//! ```
//!
//! `cargo run -p sockeye-server --example rooms`

mod common;

use sockeye_server::{Cors, SocketIo};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    let ns = io.of("/");
    let room_emitter = ns.clone();
    ns.on_connection(move |socket| {
        let ns = room_emitter.clone();
        async move {
            // One argument, the room: a one-element tuple.
            socket.on("join", |socket, (room,): (String,)| async move {
                socket.join(room);
                rooms(&socket)
            });
            socket.on("leave", |socket, (room,): (String,)| async move {
                socket.leave(room);
                rooms(&socket)
            });
            // The namespace's emit to a room includes the sender if it is a member.
            socket.on("say", move |_socket, (room, text): (String, String)| {
                let ns = ns.clone();
                async move {
                    ns.to(room.as_str()).emit("said", (room, text)).ok();
                }
            });
            // The socket's emit to a room leaves the sender out.
            socket.on(
                "whisper",
                |socket, (room, text): (String, String)| async move {
                    socket.to(room.as_str()).emit("said", (room, text)).ok();
                },
            );
        }
    });
    common::serve(io, axum::Router::new()).await;
}

/// The rooms a socket joined, without the room named after its own id: the ack's one
/// argument, a list.
fn rooms(socket: &sockeye_server::Socket) -> (Vec<String>,) {
    let mut rooms: Vec<String> = socket
        .rooms()
        .into_iter()
        .map(|r| r.to_string())
        .filter(|r| r != socket.id())
        .collect();
    rooms.sort();
    (rooms,)
}
