//! The limit of the benchmark: a plain WebSocket echo with no Socket.IO framing. Every
//! text or binary message goes straight back to its sender; a burst of messages read
//! together is answered with one write. Same harness as the Socket.IO servers: one-core
//! runtime, TCP_NODELAY, `--port 0` prints `listening on ADDR`, serves until SIGTERM.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use std::task::Poll;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Parser)]
#[command(about = "A raw WebSocket echo server, the upper limit of the benchmark")]
struct Cli {
    /// The port on 127.0.0.1; 0 lets the OS choose.
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

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
    let listener = TcpListener::bind(("127.0.0.1", cli.port))
        .await
        .expect("bind 127.0.0.1");
    println!("listening on {}", listener.local_addr().expect("address"));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    tokio::spawn(echo(tcp));
                }
                Err(e) => eprintln!("accept: {e}"),
            },
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
        }
    }
}

async fn echo(tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    // Small reads: tungstenite zero-fills its whole read buffer before each read.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    while let Some(Ok(first)) = ws.next().await {
        let mut message = Some(first);
        while let Some(m) = message.take() {
            if (m.is_text() || m.is_binary()) && ws.feed(m).await.is_err() {
                return;
            }
            message = match futures_util::poll!(ws.next()) {
                Poll::Ready(Some(Ok(next))) => Some(next),
                Poll::Ready(_) => return,
                Poll::Pending => None,
            };
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}
