//! The WebSocket transport: WebSocket-only sessions and the upgrade from polling.

use super::http::{new_machine, start_session};
use super::session::{Control, Frame, Session, Transport};
use super::ws::{self, Closing, WebSocket};
use super::{EngineHandler, Inner};
use crate::Handshake;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::{Packet, ProbeStep, UpgradeProbe};
use std::sync::Arc;
use std::time::Duration;
use tungstenite::Message as WsMessage;

/// A WebSocket opened without a session: the handshake goes over the socket itself.
pub(crate) async fn open<H: EngineHandler>(
    inner: Arc<Inner<H>>,
    handshake: Arc<Handshake>,
    mut ws: WebSocket,
) {
    // The open packet must be the first frame, before anything the handler queues.
    let sid = crate::id::generate();
    let machine = new_machine(&inner, Transport::WebSocket);
    let text = machine.open_packet(&sid).encode_text();
    crate::metrics::packets_out(1, text.len() as u64);
    if ws.send(WsMessage::Text(text.into())).await.is_err() {
        return;
    }
    start_session(&inner, sid.into(), handshake, machine, Some(ws));
}

/// The upgrade of a polling session: answer the probe, flush the pending GET, wait
/// for the upgrade packet, then hand the socket to the session's task.
pub(crate) async fn upgrade<H: EngineHandler>(
    inner: Arc<Inner<H>>,
    session: Arc<Session>,
    mut ws: WebSocket,
) {
    // The probe's rules are the protocol crate's; this task only carries its packets.
    let mut probe = UpgradeProbe::new(inner.config.upgrade_timeout, Duration::ZERO);
    let deadline = tokio::time::Instant::now() + probe.deadline();
    let done = tokio::time::timeout_at(deadline, async {
        loop {
            match probe.on_packet(next_packet(&mut ws).await) {
                ProbeStep::Answer(answer) => send(&mut ws, &answer).await?,
                ProbeStep::Probed { answer, flush } => {
                    send(&mut ws, &answer).await?;
                    session.send(Frame::packet(&flush)).ok()?;
                }
                ProbeStep::Upgraded => {
                    // Polling ends here: a GET from now on is refused.
                    session.set_transport(Transport::WebSocket);
                    return Some(());
                }
                ProbeStep::Failed => return None,
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

/// Sends one packet on the WebSocket; `None` if it failed.
async fn send(ws: &mut WebSocket, packet: &Packet) -> Option<()> {
    ws.send(WsMessage::Text(packet.encode_text().into()))
        .await
        .ok()
}

/// The next packet on the WebSocket; `None` when the frame is no text packet, or the
/// socket ended.
async fn next_packet(ws: &mut WebSocket) -> Option<Packet> {
    loop {
        match ws.next().await? {
            Ok(WsMessage::Text(text)) => return Packet::decode_text(&text).ok(),
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_)) => continue,
            _ => return None,
        }
    }
}
