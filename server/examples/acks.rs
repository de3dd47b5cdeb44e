//! Acknowledgements, both ways: the handler's return value answers the client's
//! callback, and the server can wait for the client's answer (with a timeout).
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.emit("add", 2, 40, (sum) => console.log(sum));              // 42
//! const sum = await socket.emitWithAck("add", 1, 2);                  // 3
//! socket.on("confirm", (question, answer) => answer(confirm(question)));
//! socket.emit("ask-me", (reply) => console.log(reply));               // { confirmed: true }
//! ```
//!
//! `cargo run -p sockeye-server --example acks`

mod common;

use sockeye_server::{json, Cors, SocketIo, Value};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    io.of("/").on_connection(|socket| async move {
        // Client → server: the arguments come as the handler's types (a tuple, one per
        // argument), and what the handler returns is the ack.
        socket.on("add", |_socket, (a, b): (i64, i64)| async move { a + b });
        // Server → client: wait up to 5 s for the client's answer. `()`: no arguments.
        socket.on("ask-me", |socket, (): ()| async move {
            let answer = socket
                .timeout(Duration::from_secs(5))
                .emit_with_ack("confirm", "Do you confirm?")
                .await;
            match answer {
                // The answer's arguments are read the same way: here, its first one.
                Ok(reply) => {
                    let confirmed = reply
                        .deserialize::<(Value,)>()
                        .map_or(Value::Null, |(confirmed,)| confirmed);
                    json!({ "confirmed": confirmed })
                }
                Err(e) => json!({"error": e.to_string()}),
            }
        });
    });
    common::serve(io, axum::Router::new()).await;
}
