//! The socketioxide peer of Sockeye's benchmark. It follows the contract of
//! `bench/src/bin/sockeye-bench-server.rs` on namespace `/` and runs the same way:
//! the same runtime choice on one core, TCP_NODELAY, default library settings.
//!
//! - `echo` (with an ack): acks with the same argument.
//! - `broadcast` (with an ack): emits `fanout` with the same argument to every other
//!   socket of `/`, then acks.
//! - `flood` (count, payload), with an ack: emits `flood` `count` times (at most
//!   1000) to this socket, then acks.

use axum::serve::ListenerExt;
use clap::Parser;
use serde_json::Value;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;
use std::future::IntoFuture;

#[derive(Parser)]
#[command(about = "socketioxide benchmark server (echo, broadcast, flood on /)")]
struct Cli {
    /// The port on 127.0.0.1; 0 lets the OS choose.
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

const FLOOD_MAX: u64 = 1000;

fn main() {
    let one_core = std::thread::available_parallelism().map_or(true, |n| n.get() == 1);
    let mut runtime = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime
        .enable_all()
        .build()
        .expect("the tokio runtime")
        .block_on(serve());
}

async fn serve() {
    let cli = Cli::parse();
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on("echo", async |Data(arg): Data<Value>, ack: AckSender| {
            let _ = ack.send(&arg);
        });
        socket.on(
            "broadcast",
            async |socket: SocketRef, Data(arg): Data<Value>, ack: AckSender| {
                let _ = socket.broadcast().emit("fanout", &arg).await;
                let _ = ack.send(&());
            },
        );
        socket.on(
            "flood",
            async |socket: SocketRef, Data((count, payload)): Data<(u64, Value)>, ack: AckSender| {
                for _ in 0..count.min(FLOOD_MAX) {
                    if socket.emit("flood", &payload).is_err() {
                        break;
                    }
                }
                let _ = ack.send(&());
            },
        );
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
        .await
        .expect("bind 127.0.0.1");
    println!("listening on {}", listener.local_addr().expect("address"));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let serve = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .into_future();
    tokio::spawn(serve)
        .await
        .expect("serve task")
        .expect("serve");
}
