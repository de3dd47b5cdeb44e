//! Broadcasting: to every client of a namespace, to everyone but the sender, or to
//! everyone except the members of some rooms.
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("news", (text) => console.log(text));
//! socket.emit("to-all", "hello everyone");      // all clients, me included
//! socket.emit("to-others", "hello others");     // all clients but me
//! socket.emit("mute", (ok) => console.log(ok)); // join "muted": no more "to-unmuted"
//! socket.emit("to-unmuted", "psst");            // all clients not in "muted"
//! ```
//!
//! `cargo run -p sockeye-server --example broadcast`

mod common;

use sockeye_server::{Args, Cors, SocketIo};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    let ns = io.of("/");
    let all = ns.clone();
    ns.on_connection(move |socket| {
        let ns = all.clone();
        async move {
            // `Args`: the arguments as they came, passed on without being parsed.
            let everyone = ns.clone();
            socket.on("to-all", move |_socket, args: Args| {
                let ns = everyone.clone();
                async move {
                    ns.emit("news", args).ok();
                }
            });
            socket.on("to-others", |socket, args: Args| async move {
                socket.broadcast().emit("news", args).ok();
            });
            socket.on("mute", |socket, (): ()| async move {
                socket.join("muted");
                "muted"
            });
            socket.on("to-unmuted", move |_socket, args: Args| {
                let ns = ns.clone();
                async move {
                    ns.except("muted").emit("news", args).ok();
                }
            });
        }
    });
    common::serve(io, axum::Router::new()).await;
}
