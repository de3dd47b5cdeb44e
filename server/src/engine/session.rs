//! One Engine.IO session: its shared handle, its outbound queue, and its task.

use super::outbox::{Full, Outbox};
use super::ws::{self, WebSocket};
use super::{Connection, EngineHandler, Inner};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::{HeartbeatAction, Packet, ServerHeartbeat};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};

/// One WebSocket frame, or one record of a polling payload, ready to send.
///
/// Text frames hold a whole Engine.IO text packet (`42["ev"]`, `2`, ...). All kinds
/// are cheap to clone, so a broadcast encodes once and shares the bytes.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A text packet, type digit included.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// Frames that must stay together and in order: a binary Socket.IO packet's text
    /// followed by its attachments. Queued as one item, so concurrent senders cannot
    /// interleave with it.
    Group(Arc<[Frame]>),
}

impl Frame {
    /// The frame of an Engine.IO packet.
    pub fn packet(packet: &Packet) -> Frame {
        match packet {
            Packet::Binary(data) => Frame::Binary(data.clone()),
            other => Frame::Text(other.encode_text().into()),
        }
    }

    /// Appends the frame as polling records; `first` says whether a separator is due.
    pub(crate) fn write_records(&self, out: &mut String, first: &mut bool) {
        if let Frame::Group(frames) = self {
            for frame in frames.iter() {
                frame.write_records(out, first);
            }
            return;
        }
        if !*first {
            out.push(sockeye_protocol::engine::payload::SEPARATOR);
        }
        *first = false;
        match self {
            Frame::Text(text) => out.push_str(text.as_str()),
            Frame::Binary(data) => Packet::Binary(data.clone()).write_record(out),
            Frame::Group(_) => unreachable!("groups are flattened above"),
        }
    }

    /// Feeds the frame to a WebSocket without flushing.
    async fn feed(self, ws: &mut WebSocket) -> Result<(), WsError> {
        match self {
            Frame::Text(text) if is_noop(&text) => Ok(()),
            Frame::Text(text) => ws.feed(WsMessage::Text(text)).await,
            Frame::Binary(data) => ws.feed(WsMessage::Binary(data)).await,
            Frame::Group(frames) => {
                for frame in frames.iter() {
                    Box::pin(frame.clone().feed(ws)).await?;
                }
                Ok(())
            }
        }
    }

    /// The WebSocket messages of the frame, in order.
    fn into_messages(self, out: &mut Vec<WsMessage>) {
        match self {
            Frame::Text(text) if is_noop(&text) => {}
            Frame::Text(text) => out.push(WsMessage::Text(text)),
            Frame::Binary(data) => out.push(WsMessage::Binary(data)),
            Frame::Group(frames) => {
                for frame in frames.iter() {
                    frame.clone().into_messages(out);
                }
            }
        }
    }
}

/// A noop only ends a pending GET; it means nothing on a WebSocket, and a noop queued
/// for a poll that never came must not follow the upgrade.
fn is_noop(text: &Utf8Bytes) -> bool {
    text.as_str() == "6"
}

/// A message from the client, as the application layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (the data of a `4` packet): UTF-8, shared with the frame it
    /// arrived in rather than copied.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Why a session closed, in engine.io's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the transport or sent a close packet.
    TransportClose,
    /// The transport failed or the client sent something invalid.
    TransportError,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl CloseReason {
    /// The reason as engine.io and socket.io spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
        }
    }
}

/// The transport a session currently uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Transport {
    /// HTTP long-polling.
    Polling = 0,
    /// Polling, with a WebSocket probe under way.
    Upgrading = 1,
    /// WebSocket.
    WebSocket = 2,
}

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The outbound queue is full: the client reads too slowly. The session is being
    /// closed.
    #[error("outbound queue full")]
    QueueFull,
    /// The session is closed.
    #[error("session closed")]
    Closed,
}

/// Work handed to a session's task by the HTTP side.
pub(crate) enum Control {
    /// Packets from one polling POST.
    Packets(Vec<Packet>),
    /// The upgrade completed on this WebSocket.
    Upgrade(Box<WebSocket>),
}

/// The state a session shares between its task, its HTTP requests and its handles.
pub(crate) struct Session {
    pub(crate) sid: Arc<str>,
    /// Frames waiting for the transport.
    pub(crate) outbox: Outbox,
    /// Held by a pending polling GET, or by the task once on WebSocket; `try_lock`
    /// failing is how a second concurrent GET is detected.
    pub(crate) consumer: tokio::sync::Mutex<()>,
    /// Polling sessions only: a WebSocket session gets no POSTs and no upgrade, and
    /// the channel's first block would cost every idle socket about 1 KiB.
    pub(crate) control_tx: Option<mpsc::Sender<Control>>,
    transport: AtomicU8,
    /// Set while a polling POST is being read, to refuse a concurrent one.
    pub(crate) post_busy: AtomicBool,
    close_reason: Mutex<Option<CloseReason>>,
    close_requested: Notify,
    closed: AtomicBool,
    /// Woken once when the session has closed, for a pending polling GET.
    closed_notify: Notify,
    /// Woken when the transport changes, for a GET that arrives during an upgrade.
    transport_changed: Notify,
}

impl Session {
    pub(crate) fn new(
        sid: Arc<str>,
        queue: usize,
        transport: Transport,
    ) -> (Arc<Session>, Option<mpsc::Receiver<Control>>) {
        let (control_tx, control_rx) = if transport == Transport::Polling {
            let (tx, rx) = mpsc::channel(16);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let session = Arc::new(Session {
            sid,
            outbox: Outbox::new(queue),
            consumer: tokio::sync::Mutex::new(()),
            control_tx,
            transport: AtomicU8::new(transport as u8),
            post_busy: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            close_requested: Notify::new(),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            transport_changed: Notify::new(),
        });
        (session, control_rx)
    }

    pub(crate) fn transport(&self) -> Transport {
        match self.transport.load(Ordering::Acquire) {
            0 => Transport::Polling,
            1 => Transport::Upgrading,
            _ => Transport::WebSocket,
        }
    }

    pub(crate) fn set_transport(&self, t: Transport) {
        self.transport.store(t as u8, Ordering::Release);
        self.transport_changed.notify_waiters();
    }

    /// Waits until the transport is no longer `Upgrading`.
    pub(crate) async fn wait_upgrade_settled(&self) {
        loop {
            let changed = self.transport_changed.notified();
            if self.transport() != Transport::Upgrading {
                return;
            }
            changed.await;
        }
    }

    /// Claims the polling-to-WebSocket upgrade; false if one is under way or done.
    pub(crate) fn begin_upgrade(&self) -> bool {
        self.transport
            .compare_exchange(
                Transport::Polling as u8,
                Transport::Upgrading as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    pub(crate) fn send(&self, frame: Frame) -> Result<(), SendError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SendError::Closed);
        }
        self.outbox.push(frame).map_err(|Full| {
            if self.request_close(CloseReason::TransportError) {
                tracing::warn!(sid = %self.sid, "outbound queue full: closing slow client");
            }
            SendError::QueueFull
        })
    }

    /// Asks the task to close the session; the first reason wins. Returns whether this
    /// call was the first.
    pub(crate) fn request_close(&self, reason: CloseReason) -> bool {
        let mut slot = self.close_reason.lock().expect("close reason lock");
        if slot.is_some() {
            return false;
        }
        *slot = Some(reason);
        self.close_requested.notify_one();
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Resolves once the session has closed.
    pub(crate) async fn wait_closed(&self) {
        let notified = self.closed_notify.notified();
        if !self.is_closed() {
            notified.await;
        }
    }

    async fn close_requested(&self) -> CloseReason {
        loop {
            if let Some(reason) = *self.close_reason.lock().expect("close reason lock") {
                return reason;
            }
            self.close_requested.notified().await;
        }
    }
}

/// A handle to one Engine.IO session: send frames to it, close it. Cheap to clone.
#[derive(Clone)]
pub struct EngineSocket {
    pub(crate) session: Arc<Session>,
    pub(crate) request: Arc<crate::Handshake>,
}

impl EngineSocket {
    /// The session id.
    pub fn sid(&self) -> &str {
        &self.session.sid
    }

    /// The HTTP request that opened the session.
    pub fn handshake(&self) -> &Arc<crate::Handshake> {
        &self.request
    }

    /// The transport in use now.
    pub fn transport(&self) -> Transport {
        self.session.transport()
    }

    /// Queues a frame. A full queue means the client does not keep up: the session is
    /// closed ("transport error") rather than let memory grow.
    pub fn send(&self, frame: Frame) -> Result<(), SendError> {
        self.session.send(frame)
    }

    /// Queues a frame the client may miss: dropped (`false`) when the client already
    /// has a backlog, never a reason to close it.
    pub fn send_volatile(&self, frame: Frame) -> bool {
        !self.session.is_closed() && self.session.outbox.push_volatile(frame)
    }

    /// Queues frames ahead of everything else and past the queue's bound (a recovered
    /// session's join answer and replay). Fails only when the session has closed.
    pub fn send_first(&self, frames: Vec<Frame>) -> Result<(), SendError> {
        if self.session.is_closed() {
            return Err(SendError::Closed);
        }
        self.session.outbox.push_first(frames);
        Ok(())
    }

    /// Queues a text message (the Engine.IO `4` packet with this data).
    pub fn send_text(&self, text: &str) -> Result<(), SendError> {
        let mut s = String::with_capacity(text.len() + 1);
        s.push('4');
        s.push_str(text);
        self.send(Frame::Text(s.into()))
    }

    /// Closes the session after what is queued has been sent.
    pub fn close(&self, reason: CloseReason) {
        self.session.request_close(reason);
    }

    /// Whether the session has closed.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }
}

/// How long a polite close waits for the client: to collect the close packet (polling)
/// or to take what is queued and the close frame (WebSocket).
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a session's task starts with.
pub(crate) struct Start<H: EngineHandler> {
    pub(crate) engine: Arc<Inner<H>>,
    pub(crate) session: Arc<Session>,
    pub(crate) control_rx: Option<mpsc::Receiver<Control>>,
    /// Set for a WebSocket-only session.
    pub(crate) ws: Option<WebSocket>,
    pub(crate) conn: H::Connection,
    /// When the heartbeat starts counting.
    pub(crate) epoch: Instant,
}

/// Runs a session until it closes.
///
/// The start comes boxed because an async fn keeps its arguments beside its locals:
/// passed by value, the WebSocket and the connection would take their room twice in
/// every session's task for its whole life.
pub(crate) async fn run<H: EngineHandler>(start: Box<Start<H>>) {
    let Start {
        engine,
        session,
        mut control_rx,
        mut ws,
        mut conn,
        epoch,
    } = unbox(start);
    let config = &engine.config;
    let mut heartbeat =
        ServerHeartbeat::new(config.ping_interval, config.ping_timeout, Duration::ZERO);
    let mut outbound = if ws.is_some() {
        Some(Box::pin(session.consumer.lock()).await)
    } else {
        None
    };
    // Grown by the first batch, and let go when the queue runs dry: an idle socket
    // holds no batch.
    let mut batch = Vec::new();
    let mut close_code = None;
    let write_timeout = config.ping_interval + config.ping_timeout;
    // The loop runs once per frame in and per batch out, so what it waits on lives
    // across iterations: a close request and a ping timer made anew each time cost a
    // waiter registration and a timer-wheel entry per frame.
    let close_requested = session.close_requested();
    tokio::pin!(close_requested);
    let mut ping_at = deadline_at(epoch, heartbeat.deadline());
    let ping_timer = tokio::time::sleep_until(ping_at);
    tokio::pin!(ping_timer);
    let reason = loop {
        let next_ping = deadline_at(epoch, heartbeat.deadline());
        if next_ping != ping_at {
            ping_at = next_ping;
            ping_timer.as_mut().reset(ping_at);
        }
        tokio::select! {
            biased;
            reason = &mut close_requested => break reason,
            _ = &mut ping_timer => {
                match heartbeat.poll(epoch.elapsed()) {
                    HeartbeatAction::SendPing => {
                        if session.send(Frame::Text(Utf8Bytes::from_static("2"))).is_err() {
                            break CloseReason::TransportError;
                        }
                    }
                    HeartbeatAction::TimedOut => break CloseReason::PingTimeout,
                    HeartbeatAction::Wait => {}
                }
            }
            control = recv_control(&mut control_rx) => match control {
                Some(Control::Packets(packets)) => {
                    if let Some(reason) = packets
                        .into_iter()
                        .find_map(|p| on_packet(p, &mut heartbeat, epoch, &mut conn))
                    {
                        break reason;
                    }
                }
                Some(Control::Upgrade(socket)) => {
                    // From now on GETs are refused. An official client has no GET in
                    // flight by now; a stray one gets this noop and returns, freeing
                    // the queue for the WebSocket.
                    session.set_transport(super::Transport::WebSocket);
                    outbound = Some(match session.consumer.try_lock() {
                        Ok(claim) => claim,
                        Err(_) => {
                            let _ = session.outbox.push(Frame::packet(&Packet::Noop));
                            Box::pin(session.consumer.lock()).await
                        }
                    });
                    ws = Some(*socket);
                    tracing::debug!(sid = %session.sid, "upgraded to websocket");
                }
                None => break CloseReason::ForcedClose,
            },
            n = recv_many(&session, &outbound, &mut batch) => {
                let socket = ws.as_mut().expect("outbound is held only with a websocket");
                if n == 0 {
                    break CloseReason::TransportError;
                }
                // A client that stops reading blocks the write for good; a close
                // request (its queue filled up, a shutdown) must still end the session.
                // A polite close lets the write finish first, within the grace period.
                let written = {
                    let write = write_all(socket, &mut batch);
                    tokio::pin!(write);
                    // Most writes finish at once; only a blocked one needs the timers,
                    // and their state lives on the heap, not in every session's task.
                    match futures_util::poll!(&mut write) {
                        Poll::Ready(written) => written,
                        Poll::Pending => {
                            let blocked = blocked_write(
                                write,
                                close_requested.as_mut(),
                                write_timeout,
                                &session.sid,
                            );
                            match Box::pin(blocked).await {
                                Ok(written) => written,
                                Err(reason) => break reason,
                            }
                        }
                    }
                };
                if written.is_err() {
                    break CloseReason::TransportError;
                }
                if session.outbox.is_empty() {
                    batch = Vec::new();
                }
            }
            incoming = next_ws(&mut ws) => {
                // Take every frame that is already read in one go: a pass through
                // this loop per frame costs more than the frame itself.
                let mut incoming = Some(incoming);
                let mut taken = 0;
                let mut ended = None;
                while let Some(message) = incoming.take() {
                    if let Some(reason) =
                        on_ws_message(message, &session, &mut heartbeat, epoch, &mut conn, &mut close_code)
                    {
                        ended = Some(reason);
                        break;
                    }
                    taken += 1;
                    if taken < WS_BATCH {
                        incoming = try_next_ws(&mut ws).await;
                    }
                }
                if let Some(reason) = ended {
                    break reason;
                }
            }
            _ = std::future::poll_fn(|cx| conn.poll_work(cx)) => {}
        }
    };
    tracing::debug!(sid = %session.sid, reason = reason.as_str(), "session closing");
    session.request_close(reason);
    // An upgrade may have completed while the session was closing: the client now
    // listens on that WebSocket only, so the close must go there. Closing the channel
    // first makes a later upgrade fail, and `websocket::upgrade` closes its socket.
    if let Some(control_rx) = control_rx.as_mut() {
        control_rx.close();
        while let Ok(control) = control_rx.try_recv() {
            if let Control::Upgrade(socket) = control {
                ws = Some(*socket);
                if outbound.is_none() {
                    outbound = session.consumer.try_lock().ok();
                }
            }
        }
    }
    let polite = is_polite(reason);
    // A polling client learns of the close from a GET. A GET pending now (it holds the
    // queue) gets a close packet, or a noop when the client asked for the close itself,
    // as engine.io answers. Without one, a server-chosen close keeps the close packet
    // queued for the grace period; any other close just ends, and the next GET is 400.
    if ws.is_none() && (polite || session.consumer.try_lock().is_err()) {
        let last = if reason == CloseReason::TransportClose {
            "6"
        } else {
            "1"
        };
        let _ = session
            .outbox
            .push(Frame::Text(Utf8Bytes::from_static(last)));
    }
    session.closed.store(true, Ordering::Release);
    session.closed_notify.notify_waiters();
    conn.on_close(reason);
    let Some(mut socket) = ws else {
        if polite {
            // Give the client a moment to collect what is queued and the close packet.
            let _ = Box::pin(tokio::time::timeout(CLOSE_GRACE, async {
                while !session.outbox.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }))
            .await;
        }
        leave(&engine, &session);
        return;
    };
    // A polite close sends what is queued first. Either way a close frame (which also
    // answers the client's own) and the closing handshake rather than a drop; bounded,
    // for a client that does not read or never ends. The session has ended by then: it
    // no longer counts, but a shutdown still waits for its handshake.
    let mut rest = Vec::new();
    if polite && outbound.is_some() {
        let mut frames = Vec::new();
        session.outbox.take(&mut frames, usize::MAX);
        for frame in frames {
            frame.into_messages(&mut rest);
        }
    }
    let _closing = engine.closing_socket();
    leave(&engine, &session);
    let bounds = ws::Closing::new(config.max_payload);
    Box::pin(ws::close(&mut socket, rest, close_code, bounds)).await;
}

/// Takes an ended session out of the server's registry.
fn leave<H>(engine: &Inner<H>, session: &Session) {
    engine
        .sessions
        .write()
        .expect("sessions lock")
        .remove(&session.sid);
    engine.session_ended.notify_waiters();
}

/// Moves a value out of its box and frees the box now, not when the caller's scope
/// (here: a session's whole life) ends.
#[allow(clippy::boxed_local)] // The box is the point: it is freed on return.
fn unbox<T>(boxed: Box<T>) -> T {
    *boxed
}

/// Waits for a write that did not finish at once. `Err` ends the session: a close
/// request (a polite one after the write, within the grace period), or a peer that
/// takes no bytes for as long as a heartbeat round may last.
async fn blocked_write(
    mut write: Pin<&mut impl Future<Output = Result<(), WsError>>>,
    close_requested: Pin<&mut impl Future<Output = CloseReason>>,
    write_timeout: Duration,
    sid: &str,
) -> Result<Result<(), WsError>, CloseReason> {
    tokio::select! {
        biased;
        written = &mut write => Ok(written),
        reason = close_requested => {
            if !is_polite(reason) {
                return Err(reason);
            }
            // The close request is taken: end after the write, and send the rest of
            // the queue on the way out. A peer that does not read gets no rest.
            match tokio::time::timeout(CLOSE_GRACE, write).await {
                Ok(Ok(())) => Err(reason),
                Ok(Err(_)) | Err(_) => Err(CloseReason::TransportError),
            }
        }
        _ = tokio::time::sleep(write_timeout) => {
            tracing::info!(%sid, "write stalled: closing");
            Err(CloseReason::TransportError)
        }
    }
}

/// How many WebSocket frames one pass of the session loop takes at most, so that
/// one busy client cannot hold off its own outbound queue for long.
const WS_BATCH: usize = 64;

/// Handles one WebSocket frame from the client; `Some` ends the session.
fn on_ws_message<C: Connection>(
    message: Option<Result<WsMessage, WsError>>,
    session: &Session,
    heartbeat: &mut ServerHeartbeat,
    epoch: Instant,
    conn: &mut C,
    close_code: &mut Option<u16>,
) -> Option<CloseReason> {
    match message {
        // A message packet, the common case, goes on as a slice of the frame.
        Some(Ok(WsMessage::Text(text))) if text.as_bytes().first() == Some(&b'4') => {
            conn.on_message(Message::Text(Bytes::from(text).slice(1..)));
            None
        }
        Some(Ok(WsMessage::Text(text))) => match Packet::decode_text(&text) {
            Ok(packet) => on_packet(packet, heartbeat, epoch, conn),
            Err(e) => {
                tracing::info!(sid = %session.sid, error = %e, "invalid packet: closing");
                Some(CloseReason::TransportError)
            }
        },
        Some(Ok(WsMessage::Binary(data))) => {
            conn.on_message(Message::Binary(data));
            None
        }
        // Raw frames are never read.
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => None,
        Some(Ok(WsMessage::Close(_))) | None => Some(CloseReason::TransportClose),
        Some(Err(e)) => {
            tracing::info!(sid = %session.sid, error = %e, "websocket error: closing");
            *close_code = ws::close_code_of(&e);
            Some(CloseReason::TransportError)
        }
    }
}

/// The next frame if one is ready now, without waiting.
async fn try_next_ws(ws: &mut Option<WebSocket>) -> Option<Option<Result<WsMessage, WsError>>> {
    let ws = ws.as_mut()?;
    std::future::poll_fn(|cx| match ws.poll_next_unpin(cx) {
        Poll::Ready(message) => Poll::Ready(Some(message)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// The instant of a heartbeat deadline; none means a year from now.
fn deadline_at(epoch: Instant, deadline: Option<Duration>) -> Instant {
    epoch + deadline.unwrap_or(Duration::from_secs(86400 * 365))
}

/// Whether a close sends what is queued first (the server's own decision to close).
fn is_polite(reason: CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::ForcedClose | CloseReason::ServerShuttingDown
    )
}

/// Handles one packet from the client; `Some` ends the session.
fn on_packet<C: Connection>(
    packet: Packet,
    heartbeat: &mut ServerHeartbeat,
    epoch: Instant,
    conn: &mut C,
) -> Option<CloseReason> {
    match packet {
        Packet::Message(text) => conn.on_message(Message::Text(text.into())),
        Packet::Binary(data) => conn.on_message(Message::Binary(data)),
        Packet::Pong(_) => heartbeat.on_pong(epoch.elapsed()),
        Packet::Close => return Some(CloseReason::TransportClose),
        // Only the server opens; anything else is harmless here.
        Packet::Open(_) => return Some(CloseReason::TransportError),
        // In Engine.IO v4 only the server pings; a ping from the client is an error.
        Packet::Ping(_) => return Some(CloseReason::TransportError),
        Packet::Upgrade | Packet::Noop => {}
    }
    None
}

async fn recv_many(
    session: &Session,
    claim: &Option<tokio::sync::MutexGuard<'_, ()>>,
    batch: &mut Vec<Frame>,
) -> usize {
    match claim {
        Some(_) => session.outbox.take_many(batch, 256).await,
        None => std::future::pending().await,
    }
}

async fn recv_control(rx: &mut Option<mpsc::Receiver<Control>>) -> Option<Control> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_ws(ws: &mut Option<WebSocket>) -> Option<Result<WsMessage, WsError>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

/// Writes a batch of frames with one flush.
async fn write_all(ws: &mut WebSocket, batch: &mut Vec<Frame>) -> Result<(), WsError> {
    for frame in batch.drain(..) {
        frame.feed(ws).await?;
    }
    ws.flush().await
}
