//! The conformance server: the configuration the official engine.io-protocol and
//! socket.io-protocol test suites expect.
//!
//! ```text
//! cargo run -p sockeye-server --example conformance      # 127.0.0.1:3000
//! PORT=0 cargo run -p sockeye-server --example conformance  # a free port
//! ```
//!
//! - `/engine.io/`: a bare Engine.IO endpoint that echoes every message.
//! - `/socket.io/`: namespaces `/` and `/custom`; on connect it emits `auth` with the
//!   client's auth payload; `message` is answered with `message-back` and the same
//!   arguments; `message-with-ack` is acked with the same arguments.
//!
//! Both use pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, CORS for any
//! origin; the Socket.IO endpoint has a connectTimeout of 1000 ms.

use sockeye_server::engine::{
    CloseReason, Connection, EngineHandler, EngineIo, EngineSocket, Frame, Message,
};
use sockeye_server::{Args, Config, Cors, EngineConfig, SocketIo};
use std::time::Duration;

/// Echoes each message back on the same session.
struct Echo;

struct EchoConnection(EngineSocket);

impl EngineHandler for Echo {
    type Connection = EchoConnection;
    fn on_open(&self, socket: EngineSocket) -> EchoConnection {
        EchoConnection(socket)
    }
}

impl Connection for EchoConnection {
    fn on_message(&mut self, message: Message) {
        let _ = match message {
            // Text messages are UTF-8 (the engine checked them), so nothing is lost.
            Message::Text(text) => self.0.send_text(&String::from_utf8_lossy(&text)),
            Message::Binary(data) => self.0.send(Frame::Binary(data)),
        };
    }
    fn on_close(&mut self, _reason: CloseReason) {}
}

fn engine_config(path: &str) -> EngineConfig {
    EngineConfig {
        path: path.into(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        cors: Cors::Any,
        ..EngineConfig::default()
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let engine = EngineIo::new(engine_config("/engine.io/"), Echo);
    let io = SocketIo::builder()
        .config(Config {
            engine: engine_config("/socket.io/"),
            connect_timeout: Duration::from_millis(1000),
            ..Config::default()
        })
        .build();
    for name in ["/", "/custom"] {
        io.of(name).on_connection(|socket| async move {
            let _ = socket.emit("auth", socket.auth().clone());
            // The arguments are only passed on: `Args` keeps them as they came.
            socket.on("message", |socket, args: Args| async move {
                let _ = socket.emit("message-back", args);
            });
            socket.on(
                "message-with-ack",
                |_socket, args: Args| async move { args },
            );
        });
    }
    let app = axum::Router::new()
        .merge(engine.router())
        .merge(io.router());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind");
    println!(
        "listening on {}",
        listener.local_addr().expect("local addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
