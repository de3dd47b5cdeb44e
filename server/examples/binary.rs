//! Binary data: `Bytes` anywhere in the arguments (top level or nested in objects and
//! arrays) travels as Socket.IO attachments, both ways, byte for byte.
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000");
//! socket.emit("checksum", new Uint8Array([1, 2, 3]), (sum) => console.log(sum)); // 6
//! socket.emit("reverse", { name: "x", data: new Uint8Array([1, 2, 3]) },
//!   (out) => console.log(new Uint8Array(out.data)));                             // 3,2,1
//! socket.on("blob", (meta, bytes) => console.log(meta, bytes.byteLength));       // on connect
//! ```
//!
//! `cargo run -p sockeye-server --example binary`

mod common;

use bytes::Bytes;
use sockeye_server::{json, Cors, SocketIo, Value};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    io.of("/").on_connection(|socket| async move {
        // Server → client: a binary argument beside a JSON one.
        let blob = Bytes::from((0..=255u8).collect::<Vec<u8>>());
        socket
            .emit("blob", (json!({"kind": "all bytes"}), blob))
            .ok();

        socket.on("checksum", |_socket, args| async move {
            let bytes = args
                .first()
                .and_then(Value::as_binary)
                .cloned()
                .unwrap_or_default();
            bytes.iter().map(|&b| u64::from(b)).sum::<u64>()
        });
        // Nested binary comes in and goes out in place.
        socket.on("reverse", |_socket, args| async move {
            let input = args.first().cloned().unwrap_or(Value::Null);
            let mut data = input
                .get("data")
                .and_then(Value::as_binary)
                .map(|b| b.to_vec())
                .unwrap_or_default();
            data.reverse();
            let name = input.get("name").cloned().unwrap_or(Value::Null);
            Value::Object(vec![
                ("name".into(), name),
                ("data".into(), Value::Binary(data.into())),
            ])
        });
    });
    common::serve(io, axum::Router::new()).await;
}
