//! The WebSocket transport: WebSocket-only sessions and the upgrade from polling.

use super::http::start_session;
use super::session::{Control, Frame, Session, Transport};
use super::ws::{self, Closing, WebSocket};
use super::{EngineHandler, Inner};
use crate::Handshake;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::Packet;
use std::sync::Arc;
use tungstenite::Message as WsMessage;

/// A WebSocket opened without a session: the handshake goes over the socket itself.
pub(crate) async fn open<H: EngineHandler>(
    inner: Arc<Inner<H>>,
    handshake: Arc<Handshake>,
    mut ws: WebSocket,
) {
    // The open packet must be the first frame, before anything the handler queues.
    let sid = crate::id::generate();
    let open = super::http::open_data(&inner, &sid, Transport::WebSocket);
    let text = Packet::Open(open).encode_text();
    if ws.send(WsMessage::Text(text.into())).await.is_err() {
        return;
    }
    start_session(
        &inner,
        sid.into(),
        handshake,
        Transport::WebSocket,
        Some(ws),
    );
}

/// The upgrade of a polling session: answer the probe, flush the pending GET, wait
/// for the upgrade packet, then hand the socket to the session's task.
pub(crate) async fn upgrade<H: EngineHandler>(
    inner: Arc<Inner<H>>,
    session: Arc<Session>,
    mut ws: WebSocket,
) {
    let done = tokio::time::timeout(inner.config.upgrade_timeout, async {
        if next_packet(&mut ws).await? != Packet::Ping("probe".into()) {
            return None;
        }
        ws.send(WsMessage::Text(
            Packet::Pong("probe".into()).encode_text().into(),
        ))
        .await
        .ok()?;
        // The client waits for its pending GET to return before it upgrades.
        session.send(Frame::packet(&Packet::Noop)).ok()?;
        loop {
            match next_packet(&mut ws).await? {
                Packet::Upgrade => {
                    // Polling ends here: a GET from now on is refused.
                    session.set_transport(Transport::WebSocket);
                    return Some(());
                }
                // A client may ping again while it waits; keep the probe alive.
                Packet::Ping(data) => {
                    ws.send(WsMessage::Text(Packet::Pong(data).encode_text().into()))
                        .await
                        .ok()?;
                }
                _ => return None,
            }
        }
    })
    .await;
    match done {
        Ok(Some(())) => {
            let Some(control) = session.control_tx.as_ref() else {
                return refuse(inner, ws).await;
            };
            if let Err(refused) = control.send(Control::Upgrade(Box::new(ws))).await {
                // The session closed meanwhile; the client listens here now, so it
                // must see the close rather than wait for a ping that never comes.
                tracing::debug!(sid = %session.sid, "session ended during upgrade");
                if let Control::Upgrade(ws) = refused.0 {
                    refuse(inner, *ws).await;
                }
            }
        }
        _ => {
            // The polling transport goes on as if nothing happened.
            tracing::debug!(sid = %session.sid, "upgrade failed");
            session.set_transport(Transport::Polling);
            refuse(inner, ws).await;
        }
    }
}

/// Closes a WebSocket that cannot join its session (one upgrade per session), with the
/// closing handshake: a close frame the client can read.
pub(crate) async fn refuse<H>(inner: Arc<Inner<H>>, mut ws: WebSocket) {
    let _closing = inner.closing_socket();
    let bounds = Closing::new(inner.config.max_payload);
    Box::pin(ws::close(&mut ws, Vec::new(), None, bounds)).await;
}

async fn next_packet(ws: &mut WebSocket) -> Option<Packet> {
    loop {
        match ws.next().await? {
            Ok(WsMessage::Text(text)) => return Packet::decode_text(&text).ok(),
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_)) => continue,
            _ => return None,
        }
    }
}
