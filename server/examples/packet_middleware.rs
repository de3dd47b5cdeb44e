//! Packet middlewares and catch-all listeners (socket.io's `socket.use`, `socket.onAny`
//! and `socket.onAnyOutgoing`): every event a client sends passes through the
//! middlewares, in order, before its handler. Here a guest may not send `admin:`
//! events; the refusal goes to the socket's error handler (socket.io's
//! `socket.on("error")`), which tells the client. The catch-alls log the traffic.
//!
//! ```js
//! const guest = io("http://127.0.0.1:3000", { auth: { role: "guest" } });
//! guest.on("refused", (message, event) => console.log(message, event)); // "admin only" "admin:reset"
//! guest.emit("admin:reset", (ack) => console.log(ack));                  // never called
//! guest.emit("say", "hello", (ack) => console.log(ack));                 // "you said hello"
//! const admin = io("http://127.0.0.1:3000", { auth: { role: "admin" }, forceNew: true });
//! admin.emit("admin:reset", (ack) => console.log(ack));                  // "reset done"
//! ```
//!
//! `cargo run -p sockeye-server --example packet_middleware`

mod common;

use sockeye_server::{Cors, EventPacket, MiddlewareError, SocketIo};

#[tokio::main]
async fn main() {
    let io = SocketIo::builder().cors(Cors::Any).build();
    io.of("/").on_connection(|socket| async move {
        // Catch-alls: every event received (refused ones too: they run before the
        // middlewares) and every event sent, broadcasts included.
        socket.on_any(|socket, event, args| eprintln!("{} -> {event} {args:?}", socket.id()));
        socket.on_any_outgoing(|socket, event, args| {
            eprintln!("{} <- {event} {args:?}", socket.id())
        });

        // The middleware sees each packet; `Ok(packet)` passes it on, `Err` drops it.
        socket.middleware(|socket, packet: EventPacket| async move {
            let admin = socket.auth().get("role").and_then(|r| r.as_str()) == Some("admin");
            if packet.event().starts_with("admin:") && !admin {
                let event = packet.event().to_owned();
                return Err(MiddlewareError::new("admin only").with_data(event));
            }
            Ok(packet)
        });
        // As in socket.io, the client is told nothing unless the error handler says so
        // (or disconnects it).
        socket.on_error(|socket, error: MiddlewareError| async move {
            let event = error.data.unwrap_or_default();
            socket.emit("refused", (error.message, event)).ok();
        });

        socket.on("say", |_socket, (text,): (String,)| async move {
            format!("you said {text}")
        });
        socket.on("admin:reset", |_socket, ()| async { "reset done" });
    });
    common::serve(io, axum::Router::new()).await;
}
