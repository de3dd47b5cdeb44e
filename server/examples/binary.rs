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
use serde::{Deserialize, Serialize};
use sockeye_server::{json, Cors, SocketIo};

/// A named file, its bytes nested in an object: `{ name, data }`.
#[derive(Deserialize, Serialize)]
struct File {
    name: String,
    data: Bytes,
}

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    io.of("/").on_connection(|socket| async move {
        // Server → client: a binary argument beside a JSON one.
        let blob = Bytes::from((0..=255u8).collect::<Vec<u8>>());
        socket
            .emit("blob", (json!({"kind": "all bytes"}), blob))
            .ok();

        // A binary argument arrives as `Bytes`.
        socket.on("checksum", |_socket, (bytes,): (Bytes,)| async move {
            bytes.iter().map(|&b| u64::from(b)).sum::<u64>()
        });
        // Nested binary comes in and goes out in place: `Bytes` fields of serde types.
        socket.on("reverse", |_socket, (file,): (File,)| async move {
            let mut data = file.data.to_vec();
            data.reverse();
            (File {
                name: file.name,
                data: data.into(),
            },)
        });
    });
    common::serve(io, axum::Router::new()).await;
}
