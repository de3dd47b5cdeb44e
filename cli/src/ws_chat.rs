//! `/ws`: a plain WebSocket endpoint (no Socket.IO) in the same axum Router, for pages
//! that use `new WebSocket()`. Every text message goes to every connected client, the
//! sender included (its echo), as `{"from": n, "text": ...}`.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sockeye_server::Cors;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Largest message accepted; a bigger one closes that connection (close code 1009).
const MAX_MESSAGE: usize = 4096;
/// The WebSocket close code for "message too big".
const CLOSE_TOO_BIG: u16 = 1009;
/// Messages a slow reader may fall behind before it skips ahead.
const BACKLOG: usize = 256;

#[derive(Clone)]
struct Hub {
    tx: broadcast::Sender<Arc<str>>,
    next_id: Arc<AtomicU64>,
    cors: Arc<Cors>,
}

/// The `/ws` route, open to the pages `cors` allows (as the Socket.IO endpoint).
pub fn routes(cors: Cors) -> Router {
    let hub = Hub {
        tx: broadcast::channel(BACKLOG).0,
        next_id: Arc::new(AtomicU64::new(1)),
        cors: Arc::new(cors),
    };
    Router::new().route("/ws", get(upgrade)).with_state(hub)
}

async fn upgrade(State(hub): State<Hub>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    // A browser opens a WebSocket to any site, CORS or not: the origin is checked here.
    if !hub.cors.allows(&headers) {
        tracing::info!(origin = ?headers.get("origin"), "/ws refused: origin not allowed");
        return StatusCode::FORBIDDEN.into_response();
    }
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| serve(hub, socket))
}

async fn serve(hub: Hub, mut socket: WebSocket) {
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
    let mut rx = hub.tx.subscribe();
    let hello = serde_json::json!({"from": 0, "text": format!("you are client {id}")});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let out = serde_json::json!({"from": id, "text": text.as_str()});
                    // No receivers is impossible here (we hold one), so this cannot fail.
                    hub.tx.send(out.to_string().into()).ok();
                }
                Some(Err(e)) => {
                    if is_too_big(e) {
                        // Say why, so the page can tell its user; then the connection ends.
                        let close = CloseFrame { code: CLOSE_TOO_BIG, reason: "message too big".into() };
                        socket.send(Message::Close(Some(close))).await.ok();
                    }
                    return;
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(_)) => {} // pings are answered by axum; binary is ignored
            },
            relayed = rx.recv() => match relayed {
                Ok(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Whether a WebSocket error is a message over [`MAX_MESSAGE`].
fn is_too_big(error: axum::Error) -> bool {
    matches!(
        error.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}
