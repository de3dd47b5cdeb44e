//! Plain WebSocket mode (websocketd's): each connection starts the program; each line
//! it writes is a text message, each message received is a line on its standard input.
//!
//! A slow client holds the program back: a line is read from the program only once the
//! previous one has been written to the client's TCP connection, so when the client
//! stops reading, its socket buffer, then the program's pipe fill, and the program
//! blocks in its own `write` until the client reads again. Nothing piles up here.

use super::env;
use super::lines::{Line, Lines};
use super::program::Running;
use super::Shared;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::OwnedSemaphorePermit;
use tower::ServiceExt;

/// WebSocket close codes (RFC 6455 §7.4.1).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_TOO_BIG: u16 = 1009;
/// How long the client has to answer our close frame before the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Every request: a WebSocket upgrade under `--path` starts the program; anything else
/// is a static file (`--staticdir`) or 404.
pub async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    if is_websocket(&parts.headers) && parts.uri.path().starts_with(&shared.path) {
        if !shared.cors.allows(&parts.headers) {
            tracing::info!(origin = ?parts.headers.get(header::ORIGIN), "refused: origin not allowed");
            return StatusCode::FORBIDDEN.into_response();
        }
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => ws,
            Err(rejection) => return rejection.into_response(),
        };
        let Ok(permit) = shared.forks.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "refused: --max-forks {} programs are running", shared.max_forks);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many programs running\n",
            )
                .into_response();
        };
        let id = shared.next_id();
        let env = env::variables(&env::Request {
            peer: Some(peer),
            local: shared.local,
            uri: &parts.uri,
            protocol: protocol(parts.version),
            headers: &parts.headers,
            id,
        });
        let label = format!("conn {id}");
        let running = match shared.program.spawn(&env, &label) {
            Ok(running) => running,
            Err(e) => {
                tracing::error!("[{label}] cannot start {}: {e}", shared.program.describe());
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot start the program\n",
                )
                    .into_response();
            }
        };
        tracing::info!(
            "[{label}] {peer} {}: started pid {}",
            parts.uri,
            running.pid
        );
        let max_line = shared.max_line;
        let shutdown = shared.shutdown.clone();
        return ws
            .max_message_size(max_line)
            .on_upgrade(move |socket| serve(socket, running, label, max_line, shutdown, permit));
    }
    match &shared.static_dir {
        Some(dir) => tower_http::services::ServeDir::new(dir)
            .oneshot(Request::from_parts(parts, body))
            .await
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "WebSocket only (sockeye exec without --staticdir)\n",
        )
            .into_response(),
    }
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn protocol(version: axum::http::Version) -> &'static str {
    match version {
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        axum::http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// How a connection ends.
enum End {
    /// The client closed or went away.
    ClientLeft,
    /// The program's output ended.
    ProgramDone,
    /// The program wrote a line longer than `--max-line`.
    LineTooLong,
    /// The client sent a message longer than `--max-line`.
    MessageTooBig,
    /// The server is shutting down.
    Shutdown,
}

/// Whether a WebSocket error is a message over `--max-line` (tungstenite's own error
/// type, under axum's).
fn is_too_big(error: axum::Error) -> bool {
    matches!(
        error.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// One connection and its program, until either ends. The permit is its `--max-forks`
/// slot, given back once the program is reaped (and its client told).
async fn serve(
    socket: WebSocket,
    mut running: Running,
    label: String,
    max_line: usize,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let stdout = running.child.stdout.take().expect("stdout is piped");
    let mut stdin = running.child.stdin.take();
    let (mut sink, mut stream) = socket.split();
    let mut lines = Lines::new(BufReader::new(stdout), max_line);

    let to_program = async {
        while let Some(message) = stream.next().await {
            let mut line = match message {
                Ok(Message::Text(text)) => text.as_str().as_bytes().to_vec(),
                Ok(Message::Binary(bytes)) => bytes.to_vec(),
                Ok(Message::Close(_)) => return End::ClientLeft,
                Ok(_) => continue, // pings are answered by axum
                Err(e) => {
                    if is_too_big(e) {
                        return End::MessageTooBig;
                    }
                    return End::ClientLeft;
                }
            };
            line.push(b'\n');
            // A program that has closed its input no longer gets messages; the
            // connection goes on as long as it writes.
            if let Some(pipe) = stdin.as_mut() {
                if pipe.write_all(&line).await.is_err() {
                    stdin = None;
                }
            }
        }
        End::ClientLeft
    };
    let from_program = async {
        loop {
            match lines.next().await {
                Ok(Line::Text(line)) => {
                    // Waits until the frame is written: this is the backpressure.
                    if sink.send(Message::Text(line.into())).await.is_err() {
                        return End::ClientLeft;
                    }
                }
                Ok(Line::TooLong) => return End::LineTooLong,
                Ok(Line::End) | Err(_) => return End::ProgramDone,
            }
        }
    };
    let end = tokio::select! {
        end = to_program => end,
        end = from_program => end,
        _ = shutdown.wait_for(|down| *down) => End::Shutdown,
    };
    drop(lines);
    let (code, reason) = match end {
        End::ClientLeft => {
            let status = running.end().await;
            // The slot is free once the program is reaped; the log line says so after.
            drop(permit);
            tracing::info!("[{label}] client left; program ended ({status})");
            return;
        }
        End::ProgramDone => {
            let status = running.finish().await;
            tracing::info!("[{label}] program ended ({status}); closing");
            (CLOSE_NORMAL, status.to_string())
        }
        End::LineTooLong => {
            tracing::warn!(
                "[{label}] the program wrote a line longer than --max-line {max_line} bytes: \
                 closing the connection (1009) and ending the program"
            );
            let status = running.end().await;
            tracing::info!("[{label}] program ended ({status})");
            (CLOSE_TOO_BIG, "line too long".to_owned())
        }
        End::MessageTooBig => {
            tracing::warn!(
                "[{label}] the client sent a message longer than --max-line {max_line} bytes: \
                 closing the connection (1009) and ending the program"
            );
            let status = running.end().await;
            tracing::info!("[{label}] program ended ({status})");
            (CLOSE_TOO_BIG, "message too big".to_owned())
        }
        End::Shutdown => {
            let status = running.end().await;
            tracing::info!("[{label}] server shutting down; program ended ({status})");
            (CLOSE_GOING_AWAY, "server shutting down".to_owned())
        }
    };
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if sink.send(Message::Close(Some(frame))).await.is_ok() {
        // Read until the client answers, so that our close frame is not lost to a TCP
        // reset for input left unread.
        let drain = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout(CLOSE_WAIT, drain).await;
    }
    // Held until the close is sent: the server's stop waits for every permit.
    drop(permit);
}
