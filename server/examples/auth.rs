//! Auth on connect: a middleware reads the client's `auth` payload and refuses the
//! connection with a message and data that the client sees in `connect_error`.
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000", { auth: { token: "let-me-in" } });
//! socket.on("connect", () => socket.emit("whoami", (user) => console.log(user)));
//! const bad = io("http://127.0.0.1:3000", { auth: { token: "nope" }, forceNew: true });
//! bad.on("connect_error", (err) => console.log(err.message, err.data)); // "invalid token" { code: 401 }
//! ```
//!
//! `cargo run -p sockeye-server --example auth`

mod common;

use sockeye_server::{json, ConnectError, Cors, SocketIo};

/// The one token this example accepts, and the user it stands for.
const TOKEN: &str = "let-me-in";
const USER: &str = "ada";

#[derive(Clone)]
struct User(String);

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    let ns = io.of("/");
    ns.middleware(|socket| async move {
        match socket.auth().get("token").and_then(|t| t.as_str()) {
            Some(TOKEN) => {
                // What the middleware learns stays with the socket.
                socket.insert_extension(User(USER.into()));
                Ok(())
            }
            Some(_) => Err(ConnectError::new("invalid token").with_data(json!({"code": 401}))),
            None => Err(ConnectError::new("token required").with_data(json!({"code": 400}))),
        }
    });
    ns.on_connection(|socket| async move {
        socket.on("whoami", |socket, (): ()| async move {
            socket.extension::<User>().map(|u| u.0).unwrap_or_default()
        });
    });
    common::serve(io, axum::Router::new()).await;
}
