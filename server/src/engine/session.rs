//! One Engine.IO session: its shared handle, its outbound queue, and its task.
//!
//! The session's rules (what each packet means, the heartbeat, the switch to a
//! WebSocket, how a polling client hears of a close) are the `ServerSession` state
//! machine of `sockeye-protocol`. The task here only drives it: it feeds the machine
//! what arrives and the time, and performs what the machine says, as quinn's
//! `ConnectionDriver` drives quinn-proto.

use super::gate::InputGate;
use super::outbox::{Full, Outbox};
use super::ws::{self, WebSocket};
use super::{Connection, EngineHandler, Inner};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
pub use sockeye_protocol::engine::{CloseReason, Transport};
use sockeye_protocol::engine::{Packet, PacketType, Received, ServerSession, TextFrame};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};
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
    /// The frame of an Engine.IO packet; a packet without data (a ping, a noop, a
    /// close) costs no allocation.
    pub fn packet(packet: &Packet) -> Frame {
        match packet {
            Packet::Binary(data) => Frame::Binary(data.clone()),
            other => match other.bare_text() {
                Some(text) => Frame::Text(Utf8Bytes::from_static(text)),
                None => Frame::Text(other.encode_text().into()),
            },
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

    /// Adds the frame's WebSocket messages and their bytes to the counts (a noop is
    /// never sent on a WebSocket, so it does not count).
    pub(crate) fn tally(&self, packets: &mut u64, bytes: &mut u64) {
        match self {
            Frame::Text(text) if is_noop(text) => {}
            Frame::Text(text) => {
                *packets += 1;
                *bytes += text.len() as u64;
            }
            Frame::Binary(data) => {
                *packets += 1;
                *bytes += data.len() as u64;
            }
            Frame::Group(frames) => frames.iter().for_each(|f| f.tally(packets, bytes)),
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
    text.as_str() == PacketType::Noop.bare()
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
    /// Packets from one polling POST, and the POST's answer: sent (or dropped) once
    /// the task has taken them all, which a paused input delays.
    Packets(Vec<Packet>, oneshot::Sender<()>),
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
    /// Backpressure on the client's input.
    pub(crate) gate: InputGate,
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
            gate: InputGate::default(),
        });
        (session, control_rx)
    }

    /// The transport, as the session's task last set it: a mirror of its state
    /// machine's, for the HTTP requests and handles that cannot reach the machine.
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
                crate::metrics::slow_consumer_disconnect();
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
        if self.session.is_closed() {
            return false;
        }
        let queued = self.session.outbox.push_volatile(frame);
        if !queued {
            crate::metrics::volatile_dropped();
        }
        queued
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
        s.push(PacketType::Message.digit() as char);
        s.push_str(text);
        self.send(Frame::Text(s.into()))
    }

    /// Takes no more input from the client before `until`: the session's task stops
    /// reading the WebSocket (the client's writes wait once the TCP buffers are full)
    /// or holds the polling POST it is taking packets from, unanswered. What the client
    /// sends meanwhile is neither read nor decoded. A later pause wins over an earlier
    /// one; control packets (pongs) wait in line too. Flood control pauses a
    /// connection while a socket's rate-limit bucket is empty.
    pub fn pause_input(&self, until: std::time::Instant) {
        self.session.gate.pause(std::time::Instant::now(), until);
    }

    /// How long the client's input has waited on pauses without a break: zero unless
    /// input was waiting each time a pause ended, since the first of those pauses.
    /// A client that keeps sending faster than its input is taken shows here.
    pub fn input_held_back(&self) -> Duration {
        self.session.gate.held_back(std::time::Instant::now())
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
    /// The session's rules, opened at `Duration::ZERO` of `epoch`.
    pub(crate) machine: ServerSession,
    /// When the session's clock starts.
    pub(crate) epoch: Instant,
}

/// The session's task: the state machine, the application's connection and the
/// transport, and the named steps that join them.
struct Driver<H: EngineHandler> {
    engine: Arc<Inner<H>>,
    session: Arc<Session>,
    machine: ServerSession,
    conn: H::Connection,
    control_rx: Option<mpsc::Receiver<Control>>,
    ws: Option<WebSocket>,
    /// Grown by the first batch, and let go when the queue runs dry: an idle socket
    /// holds no batch.
    batch: Vec<Frame>,
    /// The close code a read error calls for (RFC 6455).
    close_code: Option<u16>,
    /// The rest of a polling POST whose packets wait for a paused input.
    pending: VecDeque<Packet>,
    /// The answer of the POST whose packets are being taken.
    post_taken: Option<oneshot::Sender<()>>,
    epoch: Instant,
    /// This session in `sockeye_engine_sessions`, for as long as the task runs.
    gauge: crate::metrics::SessionGauge,
}

/// The consumer's claim on the outbound queue: held by the task once on WebSocket.
type Claim<'a> = Option<tokio::sync::MutexGuard<'a, ()>>;

/// Runs a session until it closes.
///
/// The start comes boxed because an async fn keeps its arguments beside its locals:
/// passed by value, the WebSocket and the connection would take their room twice in
/// every session's task for its whole life.
pub(crate) async fn run<H: EngineHandler>(start: Box<Start<H>>) {
    let Start {
        engine,
        session,
        control_rx,
        ws,
        conn,
        machine,
        epoch,
    } = unbox(start);
    let mut driver = Driver {
        engine,
        session: session.clone(),
        machine,
        conn,
        control_rx,
        ws,
        batch: Vec::new(),
        close_code: None,
        pending: VecDeque::new(),
        post_taken: None,
        epoch,
        gauge: crate::metrics::SessionGauge::open(session.transport() == Transport::WebSocket),
    };
    let mut outbound = if driver.ws.is_some() {
        Some(Box::pin(session.consumer.lock()).await)
    } else {
        None
    };
    let reason = driver.drive(&session, &mut outbound).await;
    driver.finish(reason, &session, outbound).await;
}

impl<H: EngineHandler> Driver<H> {
    /// The session's clock.
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The loop: one branch per thing that can happen, each a named step; it ends once
    /// the machine has closed.
    async fn drive<'a>(&mut self, session: &'a Session, outbound: &mut Claim<'a>) -> CloseReason {
        let write_timeout = self.engine.config.ping_interval + self.engine.config.ping_timeout;
        // The loop runs once per frame in and per batch out, so what it waits on lives
        // across iterations: a close request and a timer made anew each time cost a
        // waiter registration and a timer-wheel entry per frame.
        let close_requested = session.close_requested();
        tokio::pin!(close_requested);
        let mut timer_at = self.deadline();
        let timer = tokio::time::sleep_until(timer_at);
        tokio::pin!(timer);
        loop {
            if let Some(reason) = self.machine.closed() {
                return reason;
            }
            let next = self.deadline();
            if next != timer_at {
                timer_at = next;
                timer.as_mut().reset(timer_at);
            }
            tokio::select! {
                biased;
                reason = &mut close_requested => {
                    self.machine.close(reason);
                }
                _ = &mut timer => self.on_timeout(),
                // A POST's packets are taken before the next POST (or the upgrade).
                control = recv_control(&mut self.control_rx), if self.pending.is_empty() => {
                    self.on_control(control, session, outbound).await;
                }
                n = recv_many(session, &*outbound, &mut self.batch) => {
                    self.write_batch(n, close_requested.as_mut(), write_timeout).await;
                }
                input = next_input(&mut self.ws, &self.pending, &session.gate) => {
                    self.on_input(input).await;
                }
                _ = std::future::poll_fn(|cx| self.conn.poll_work(cx)) => {}
            }
        }
    }

    /// The instant the machine next has something to do; none means a year from now.
    fn deadline(&self) -> Instant {
        let deadline = self.machine.poll_timeout();
        self.epoch + deadline.unwrap_or(Duration::from_secs(86400 * 365))
    }

    /// The machine's deadline passed: a ping may be due, or the client timed out.
    fn on_timeout(&mut self) {
        let now = self.now();
        self.machine.handle_timeout(now);
        self.transmit();
    }

    /// Queues the control packets the machine wants sent, behind what is queued.
    fn transmit(&mut self) {
        while let Some(packet) = self.machine.poll_transmit() {
            if self.session.send(Frame::packet(&packet)).is_err() {
                self.machine.close(CloseReason::TransportError);
                return;
            }
        }
    }

    /// Work from the HTTP side: a polling POST's packets, or the upgraded WebSocket.
    async fn on_control<'a>(
        &mut self,
        control: Option<Control>,
        session: &'a Session,
        outbound: &mut Claim<'a>,
    ) {
        match control {
            Some(Control::Packets(packets, taken)) => {
                self.pending.extend(packets);
                self.post_taken = Some(taken);
                self.take_pending();
            }
            Some(Control::Upgrade(socket)) => {
                // From now on GETs are refused. A GET still pending gets a noop from
                // the machine and returns, freeing the queue for the WebSocket.
                session.set_transport(Transport::WebSocket);
                let claim = session.consumer.try_lock().ok();
                self.machine.on_upgraded(claim.is_none());
                // Only the noop can be due here (a ping goes out when it falls due). A
                // full queue does not fail the upgrade: the stray GET returns with
                // what is queued anyway.
                while let Some(packet) = self.machine.poll_transmit() {
                    let _ = session.outbox.push(Frame::packet(&packet));
                }
                *outbound = Some(match claim {
                    Some(claim) => claim,
                    None => Box::pin(session.consumer.lock()).await,
                });
                self.ws = Some(*socket);
                self.gauge.upgraded();
                self.conn.on_upgrade();
                tracing::debug!(sid = %session.sid, "upgraded to websocket");
            }
            None => {
                self.machine.close(CloseReason::ForcedClose);
            }
        }
    }

    /// Takes the pending POST's packets until the input is paused; answers the POST
    /// once all are taken (or the session is over).
    fn take_pending(&mut self) {
        let now = self.now();
        while let Some(packet) = self.pending.pop_front() {
            if !self.on_packet(packet, now) {
                self.pending.clear();
                break;
            }
            if !self.pending.is_empty()
                && self
                    .session
                    .gate
                    .paused(std::time::Instant::now())
                    .is_some()
            {
                return;
            }
        }
        if let Some(taken) = self.post_taken.take() {
            let _ = taken.send(());
        }
    }

    /// Input, or the end of a pause: on WebSocket the next frame is read and every
    /// frame that is ready with it; over polling the pending POST's packets are taken.
    async fn on_input(&mut self, input: Input) {
        match input {
            Input::Frame(frame) => self.on_ws_frames(frame).await,
            Input::Resumed
                if self
                    .session
                    .gate
                    .paused(std::time::Instant::now())
                    .is_some() =>
            {
                // Paused again meanwhile (a later pause won): wait on.
            }
            Input::Resumed if self.ws.is_some() => match try_next_ws(&mut self.ws).await {
                Some(frame) => {
                    self.session.gate.resumed(true);
                    self.on_ws_frames(frame).await;
                }
                None => {
                    self.session.gate.resumed(false);
                }
            },
            Input::Resumed => {
                self.session.gate.resumed(!self.pending.is_empty());
                self.take_pending();
            }
        }
    }

    /// Hands one packet from the client to the machine, and a message on to the
    /// connection; false once the session is over.
    fn on_packet(&mut self, packet: Packet, now: Duration) -> bool {
        match self.machine.on_packet(packet, now) {
            Received::Text(text) => self.conn.on_message(Message::Text(text.into())),
            Received::Binary(data) => self.conn.on_message(Message::Binary(data)),
            Received::Control => {}
            Received::Closed(_) => return false,
        }
        true
    }

    /// Writes a batch taken from the queue to the WebSocket, with one flush.
    async fn write_batch(
        &mut self,
        n: usize,
        close_requested: Pin<&mut impl Future<Output = CloseReason>>,
        write_timeout: Duration,
    ) {
        let socket = self
            .ws
            .as_mut()
            .expect("outbound is held only with a websocket");
        if n == 0 {
            self.machine.close(CloseReason::TransportError);
            return;
        }
        // A client that stops reading blocks the write for good; a close request (its
        // queue filled up, a shutdown) must still end the session. A polite close lets
        // the write finish first, within the grace period.
        let written = {
            let write = write_all(socket, &mut self.batch);
            tokio::pin!(write);
            // Most writes finish at once; only a blocked one needs the timers, and
            // their state lives on the heap, not in every session's task.
            match futures_util::poll!(&mut write) {
                Poll::Ready(written) => written,
                Poll::Pending => {
                    let blocked =
                        blocked_write(write, close_requested, write_timeout, &self.session.sid);
                    match Box::pin(blocked).await {
                        Ok(written) => written,
                        Err(reason) => {
                            self.machine.close(reason);
                            return;
                        }
                    }
                }
            }
        };
        if written.is_err() {
            self.machine.close(CloseReason::TransportError);
            return;
        }
        if self.session.outbox.is_empty() {
            self.batch = Vec::new();
        }
    }

    /// Frames from the WebSocket: every frame that is already read, in one go, since
    /// a pass through the loop per frame costs more than the frame itself.
    async fn on_ws_frames(&mut self, first: Option<Result<WsMessage, WsError>>) {
        // One reading of the clock for the whole batch: it only dates pongs.
        let now = self.now();
        let mut incoming = Some(first);
        let mut taken = 0;
        // Counted once for the batch: one atomic add per counter, not per frame.
        let (mut packets, mut bytes) = (0, 0);
        while let Some(message) = incoming.take() {
            if let Some(Ok(m @ (WsMessage::Text(_) | WsMessage::Binary(_)))) = &message {
                packets += 1;
                bytes += m.len() as u64;
            }
            if !self.on_ws_message(message, now) {
                break;
            }
            taken += 1;
            // A paused input is left unread, however much of it is ready.
            if taken < WS_BATCH
                && self
                    .session
                    .gate
                    .paused(std::time::Instant::now())
                    .is_none()
            {
                incoming = try_next_ws(&mut self.ws).await;
                if incoming.is_none() {
                    // Nothing more is waiting: the client has caught up.
                    self.session.gate.drained();
                }
            }
        }
        crate::metrics::packets_in(packets, bytes);
    }

    /// Handles one WebSocket frame from the client; false once the session is over.
    fn on_ws_message(
        &mut self,
        message: Option<Result<WsMessage, WsError>>,
        now: Duration,
    ) -> bool {
        match message {
            Some(Ok(WsMessage::Text(text))) => match self.machine.on_text_frame(&text, now) {
                // A message, the common case, goes on as a slice of the frame.
                TextFrame::Message { data_at } => {
                    let data = Bytes::from(text).slice(data_at..);
                    self.conn.on_message(Message::Text(data));
                }
                TextFrame::Control => {}
                TextFrame::Closed(reason) => {
                    if reason == CloseReason::TransportError {
                        tracing::info!(sid = %self.session.sid, "invalid packet: closing");
                    }
                    return false;
                }
            },
            Some(Ok(WsMessage::Binary(data))) => self.conn.on_message(Message::Binary(data)),
            // Raw frames are never read.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
            Some(Ok(WsMessage::Close(_))) | None => {
                self.machine.on_transport_close(false);
                return false;
            }
            Some(Err(e)) => {
                tracing::info!(sid = %self.session.sid, error = %e, "websocket error: closing");
                self.close_code = ws::close_code_of(&e);
                self.machine.on_transport_close(true);
                return false;
            }
        }
        true
    }

    /// Ends the session: tells the client (on the transport it listens on), the
    /// connection, and the server's registry.
    async fn finish<'a>(
        mut self,
        reason: CloseReason,
        session: &'a Session,
        mut outbound: Claim<'a>,
    ) {
        tracing::debug!(sid = %session.sid, reason = reason.as_str(), "session closing");
        // A POST still waiting for its packets to be taken is answered: the rest of
        // them are dropped with the session.
        if let Some(taken) = self.post_taken.take() {
            let _ = taken.send(());
        }
        crate::traffic::session_closed(reason.as_str());
        session.request_close(reason);
        // An upgrade may have completed while the session was closing: the client now
        // listens on that WebSocket only, so the close must go there. Closing the
        // channel first makes a later upgrade fail, and `websocket::upgrade` closes its
        // socket.
        if let Some(control_rx) = self.control_rx.as_mut() {
            control_rx.close();
            while let Ok(control) = control_rx.try_recv() {
                if let Control::Upgrade(socket) = control {
                    self.ws = Some(*socket);
                    self.gauge.upgraded();
                    self.conn.on_upgrade();
                    self.machine.on_upgraded(false);
                    if outbound.is_none() {
                        outbound = session.consumer.try_lock().ok();
                    }
                }
            }
        }
        let polite = reason.is_chosen();
        // A pending GET holds the queue.
        if let Some(last) = self
            .machine
            .farewell(|| session.consumer.try_lock().is_err())
        {
            let _ = session.outbox.push(Frame::packet(&last));
        }
        session.closed.store(true, Ordering::Release);
        session.closed_notify.notify_waiters();
        self.conn.on_close(reason);
        let engine = self.engine.clone();
        let Some(mut socket) = self.ws.take() else {
            if polite {
                // Give the client a moment to collect what is queued and the close
                // packet.
                let _ = Box::pin(tokio::time::timeout(CLOSE_GRACE, async {
                    while !session.outbox.is_empty() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }))
                .await;
            }
            leave(&engine, session);
            return;
        };
        // A polite close sends what is queued first. Either way a close frame (which
        // also answers the client's own) and the closing handshake rather than a drop;
        // bounded, for a client that does not read or never ends. The session has ended
        // by then: it no longer counts, but a shutdown still waits for its handshake.
        let mut rest = Vec::new();
        if polite && outbound.is_some() {
            let mut frames = Vec::new();
            session.outbox.take(&mut frames, usize::MAX);
            for frame in frames {
                frame.into_messages(&mut rest);
            }
        }
        let _closing = engine.closing_socket();
        leave(&engine, session);
        let bounds = ws::Closing::new(engine.config.max_payload);
        Box::pin(ws::close(&mut socket, rest, self.close_code, bounds)).await;
    }
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
            if !reason.is_chosen() {
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
            crate::metrics::slow_consumer_disconnect();
            tracing::info!(%sid, "write stalled: closing");
            Err(CloseReason::TransportError)
        }
    }
}

/// How many WebSocket frames one pass of the session loop takes at most, so that
/// one busy client cannot hold off its own outbound queue for long.
const WS_BATCH: usize = 64;

/// The next frame if one is ready now, without waiting.
async fn try_next_ws(ws: &mut Option<WebSocket>) -> Option<Option<Result<WsMessage, WsError>>> {
    let ws = ws.as_mut()?;
    std::future::poll_fn(|cx| match ws.poll_next_unpin(cx) {
        Poll::Ready(message) => Poll::Ready(Some(message)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
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

/// What the session's task read, or that the input's pause has ended.
enum Input {
    /// The next WebSocket frame (none: the stream ended).
    Frame(Option<Result<WsMessage, WsError>>),
    /// The pause has ended (or was over already): take what is waiting.
    Resumed,
}

/// The next WebSocket frame, or the end of the input's pause; a polling session with
/// no POST pending waits for its control channel instead.
async fn next_input(
    ws: &mut Option<WebSocket>,
    pending: &VecDeque<Packet>,
    gate: &InputGate,
) -> Input {
    if ws.is_none() && pending.is_empty() {
        return std::future::pending().await;
    }
    if let Some(until) = gate.paused(std::time::Instant::now()) {
        tokio::time::sleep_until(Instant::from_std(until)).await;
        return Input::Resumed;
    }
    match ws {
        Some(ws) => Input::Frame(ws.next().await),
        None => Input::Resumed,
    }
}

/// Writes a batch of frames with one flush.
async fn write_all(ws: &mut WebSocket, batch: &mut Vec<Frame>) -> Result<(), WsError> {
    let (mut packets, mut bytes) = (0, 0);
    for frame in batch.iter() {
        frame.tally(&mut packets, &mut bytes);
    }
    crate::metrics::packets_out(packets, bytes);
    for frame in batch.drain(..) {
        frame.feed(ws).await?;
    }
    ws.flush().await
}
