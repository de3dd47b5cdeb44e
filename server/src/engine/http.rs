//! The Engine.IO HTTP endpoint: request validation and the polling transport.

use super::admission::{ConnectionError, Rejection, RequestInfo};
use super::error::EngineError;
use super::session::{self, Control, EngineSocket, Session, Transport};
use super::ws;
use super::{websocket, EngineHandler, Inner};
use crate::Handshake;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use sockeye_protocol::engine::{is_supported_version, payload, ServerSession, SessionConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tungstenite::protocol::WebSocketConfig;

/// The WebSocket read buffer per socket: a few typical frames, grown on demand.
const WS_READ_BUFFER: usize = 2048;

/// How long a GET that arrives during an upgrade waits for the upgrade to settle.
const UPGRADE_POLL_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// How many packets one polling POST may carry.
const MAX_PACKETS_PER_POST: usize = 4096;

pub(crate) fn router<H: EngineHandler, S: Clone + Send + Sync + 'static>(
    inner: Arc<Inner<H>>,
) -> axum::Router<S> {
    let path = inner.config.path.trim_end_matches('/').to_owned();
    let cors = inner.config.cors.layer();
    let handler = move |req: Request| handle(inner.clone(), req);
    let route = any(handler);
    let router = if path.is_empty() {
        axum::Router::new().route("/", route)
    } else {
        axum::Router::new()
            .route(&path, route.clone())
            .route(&format!("{path}/"), route)
    };
    router.layer(cors)
}

async fn handle<H: EngineHandler>(inner: Arc<Inner<H>>, req: Request) -> Response {
    // The report needs the request, which `dispatch` consumes: a copy, only when
    // someone listens.
    let report = inner.config.on_connection_error.clone().map(|hook| {
        let (parts, ()) = request_parts(&req).into_parts();
        let query = parse_query(parts.uri.query().unwrap_or(""));
        (hook, request_info(&parts, query))
    });
    match dispatch(inner, req).await {
        Ok(response) => response,
        Err(rejection) => {
            crate::metrics::handshake_refused(rejection.reason);
            if let Some((hook, request)) = report {
                (hook.0)(&ConnectionError {
                    code: rejection.code,
                    message: rejection.message.clone(),
                    status: rejection.status,
                    request,
                });
            }
            rejection.into_response()
        }
    }
}

/// The method, URI, headers and extensions the reports need, without the body.
fn request_parts(req: &Request) -> axum::http::Request<()> {
    let mut copy = axum::http::Request::new(());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    if let Some(ci) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        copy.extensions_mut().insert(*ci);
    }
    copy
}

fn request_info(parts: &axum::http::request::Parts, query: HashMap<String, String>) -> RequestInfo {
    RequestInfo {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        headers: parts.headers.clone(),
        query,
        address: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0),
    }
}

/// Runs the `allow_request` hook, if any, on a handshake or upgrade request.
async fn allow<H>(
    inner: &Inner<H>,
    parts: &axum::http::request::Parts,
    query: &HashMap<String, String>,
) -> Result<(), Rejection> {
    let Some(check) = &inner.config.allow_request else {
        return Ok(());
    };
    let request = Arc::new(request_info(parts, query.clone()));
    (check.0)(request).await.map_err(|refusal| {
        tracing::debug!(message = %refusal.message, "request refused by allow_request");
        refusal.into()
    })
}

async fn dispatch<H: EngineHandler>(
    inner: Arc<Inner<H>>,
    req: Request,
) -> Result<Response, Rejection> {
    // Every request, not only the handshake: a page of another site must not reach
    // an existing session either (a text/plain POST needs no CORS preflight).
    if !inner.config.cors.allows(req.headers()) {
        let origin = req.headers().get(header::ORIGIN);
        tracing::info!(?origin, host = ?req.headers().get(header::HOST), "request refused: origin not allowed");
        return Err(EngineError::Forbidden.into());
    }
    let query = parse_query(req.uri().query().unwrap_or(""));
    if !query.get("EIO").is_some_and(|v| is_supported_version(v)) {
        return Err(EngineError::UnsupportedProtocolVersion.into());
    }
    let transport = match query.get("transport").and_then(|t| Transport::from_name(t)) {
        Some(Transport::Upgrading) | None => return Err(EngineError::UnknownTransport.into()),
        Some(transport) => transport,
    };
    let sid = query.get("sid").cloned();
    if sid.is_none() && inner.closing.load(std::sync::atomic::Ordering::Acquire) {
        return Err(EngineError::ShuttingDown.into());
    }
    if sid.is_none()
        && inner.sessions.read().expect("sessions lock").len() >= inner.config.max_connections
    {
        tracing::info!(
            max = inner.config.max_connections,
            "handshake refused: too many connections"
        );
        return Err(EngineError::TooManyConnections.into());
    }
    let (mut parts, body) = req.into_parts();

    if transport == Transport::WebSocket {
        if parts.method != Method::GET {
            return Err(EngineError::BadRequest.into());
        }
        let upgrade = ws::Upgrade::from_parts(&mut parts)?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(inner.config.max_payload))
            .max_frame_size(Some(inner.config.max_payload))
            // tungstenite zero-fills its whole read buffer before every read and keeps
            // it for the socket's life: the 128 KiB default cost a memset per frame
            // batch and 128 KiB of memory per idle socket. Larger frames still grow it.
            .read_buffer_size(WS_READ_BUFFER);
        return match sid {
            None => {
                allow(&inner, &parts, &query).await?;
                let handshake = Arc::new(handshake_of(&parts, query));
                Ok(upgrade.on_upgrade(config, move |ws| websocket::open(inner, handshake, ws)))
            }
            Some(sid) => {
                let session = lookup(&inner, &sid)?;
                allow(&inner, &parts, &query).await?;
                if !session.begin_upgrade() {
                    // engine.io accepts a second WebSocket for the session and closes
                    // it at once; the session itself is untouched.
                    return Ok(upgrade.on_upgrade(config, move |ws| websocket::refuse(inner, ws)));
                }
                Ok(upgrade.on_upgrade(config, move |ws| websocket::upgrade(inner, session, ws)))
            }
        };
    }

    let response = match (sid, &parts.method) {
        (None, &Method::GET) => {
            allow(&inner, &parts, &query).await?;
            Ok(open_polling(&inner, handshake_of(&parts, query)))
        }
        (None, _) => Err(EngineError::BadHandshakeMethod),
        // A session in its close grace still answers GETs: the client collects what
        // was queued and the close packet.
        (Some(sid), &Method::GET) => poll(&inner, registered(&inner, &sid)?).await,
        (Some(sid), &Method::POST) => post(&inner, lookup(&inner, &sid)?, body).await,
        (Some(_), _) => Err(EngineError::BadRequest),
    };
    Ok(response?)
}

fn lookup<H>(inner: &Inner<H>, sid: &str) -> Result<Arc<Session>, EngineError> {
    let session = registered(inner, sid)?;
    if session.is_closed() {
        return Err(EngineError::UnknownSid);
    }
    Ok(session)
}

/// The session with this id, closed or not, until its task has removed it.
fn registered<H>(inner: &Inner<H>, sid: &str) -> Result<Arc<Session>, EngineError> {
    inner
        .sessions
        .read()
        .expect("sessions lock")
        .get(sid)
        .cloned()
        .ok_or(EngineError::UnknownSid)
}

fn parse_query(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn handshake_of(parts: &axum::http::request::Parts, query: HashMap<String, String>) -> Handshake {
    Handshake {
        headers: owned_headers(&parts.headers),
        query,
        address: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0),
        url: parts.uri.to_string(),
        issued: std::time::SystemTime::now(),
    }
}

/// A copy of the headers in allocations of their own. hyper's header values are
/// slices of its connection read buffer (8 KiB or more), so keeping them for the
/// socket's life would keep that whole buffer alive for every socket.
fn owned_headers(headers: &axum::http::HeaderMap) -> axum::http::HeaderMap {
    let mut owned = axum::http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let Ok(mut copy) = axum::http::HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            owned.append(name.clone(), copy);
        }
    }
    owned
}

/// The state machine of a new session on `transport`, its clock starting now (at
/// `Duration::ZERO` of the epoch `start_session` takes).
pub(crate) fn new_machine<H>(inner: &Inner<H>, transport: Transport) -> ServerSession {
    let config = SessionConfig {
        ping_interval: inner.config.ping_interval,
        ping_timeout: inner.config.ping_timeout,
        upgrade_timeout: inner.config.upgrade_timeout,
        max_payload: inner.config.max_payload as u64,
    };
    ServerSession::new(config, transport, std::time::Duration::ZERO)
}

/// Registers a new session and starts its task.
pub(crate) fn start_session<H: EngineHandler>(
    inner: &Arc<Inner<H>>,
    sid: Arc<str>,
    handshake: Arc<Handshake>,
    machine: ServerSession,
    ws: Option<ws::WebSocket>,
) {
    let transport = machine.transport();
    let (session, control_rx) =
        Session::new(sid.clone(), inner.config.max_buffered_frames, transport);
    inner
        .sessions
        .write()
        .expect("sessions lock")
        .insert(sid, session.clone());
    let socket = EngineSocket {
        session: session.clone(),
        request: handshake,
    };
    let conn = inner.handler.on_open(socket);
    // The heartbeat counts from now, before the open packet is even sent, as
    // engine.io's timers do.
    let epoch = tokio::time::Instant::now();
    tokio::spawn(session::run(Box::new(session::Start {
        engine: inner.clone(),
        session,
        control_rx,
        ws,
        conn,
        machine,
        epoch,
    })));
}

fn open_polling<H: EngineHandler>(inner: &Arc<Inner<H>>, handshake: Handshake) -> Response {
    let sid = crate::id::generate();
    let machine = new_machine(inner, Transport::Polling);
    let open = machine.open_packet(&sid).encode_text();
    crate::metrics::packets_out(1, open.len() as u64);
    start_session(inner, sid.into(), Arc::new(handshake), machine, None);
    text_response(open)
}

fn text_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// A polling GET: waits for queued frames and returns them as one payload.
async fn poll<H>(inner: &Inner<H>, session: Arc<Session>) -> Result<Response, EngineError> {
    if session.transport() == Transport::Upgrading {
        // A GET can overtake the client's upgrade packet on its way in. engine.io
        // answers GETs during an upgrade within 100 ms; waiting that long lets such a
        // GET see the upgrade and be refused, as the client expects.
        let _ = tokio::time::timeout(UPGRADE_POLL_WAIT, session.wait_upgrade_settled()).await;
    }
    if !session.transport().polls() {
        return Err(EngineError::BadRequest);
    }
    let Ok(claim) = session.consumer.try_lock() else {
        tracing::info!(sid = %session.sid, "concurrent polling GET: closing");
        session.request_close(super::CloseReason::TransportError);
        session.wait_closed().await;
        return Err(EngineError::BadRequest);
    };
    // A client that gives up on its pending GET has gone away: engine.io closes the
    // session then, and so do we (the guard fires if this future is dropped).
    let cancelled = CloseOnDrop(Some(&session));
    let mut frames = Vec::new();
    let limit = inner.config.max_buffered_frames.max(1);
    tokio::select! {
        _ = session.outbox.take_many(&mut frames, limit) => {}
        _ = session.wait_closed() => {
            // The close packet, if it fit in the queue, is among these.
            session.outbox.take(&mut frames, usize::MAX);
            if frames.is_empty() {
                // Closed, and the client already has everything: the session is gone.
                cancelled.disarm();
                return Err(EngineError::UnknownSid);
            }
        }
    }
    cancelled.disarm();
    drop(claim);
    let mut body = String::new();
    let mut first = true;
    let mut packets = 0;
    for frame in &frames {
        frame.write_records(&mut body, &mut first);
        frame.tally(&mut packets, &mut 0);
    }
    crate::metrics::packets_out(packets, body.len() as u64);
    Ok(text_response(body))
}

/// Closes the session when a pending GET is dropped before it answered.
struct CloseOnDrop<'a>(Option<&'a Session>);

impl CloseOnDrop<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            tracing::debug!(sid = %session.sid, "pending GET cancelled: closing");
            session.request_close(super::CloseReason::TransportClose);
        }
    }
}

/// A polling POST: reads and decodes the payload and hands it to the session.
async fn post<H>(
    inner: &Inner<H>,
    session: Arc<Session>,
    body: Body,
) -> Result<Response, EngineError> {
    if !session.transport().polls() {
        return Err(EngineError::BadRequest);
    }
    if session.post_busy.swap(true, Ordering::AcqRel) {
        tracing::info!(sid = %session.sid, "concurrent polling POST: closing");
        session.request_close(super::CloseReason::TransportError);
        session.wait_closed().await;
        return Err(EngineError::BadRequest);
    }
    let result = read_post(inner, &session, body).await;
    session.post_busy.store(false, Ordering::Release);
    result?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "ok").into_response())
}

async fn read_post<H>(inner: &Inner<H>, session: &Session, body: Body) -> Result<(), EngineError> {
    let bytes = match axum::body::to_bytes(body, inner.config.max_payload).await {
        Ok(bytes) => bytes,
        Err(_) => {
            tracing::info!(sid = %session.sid, "polling payload over maxPayload: closing");
            session.request_close(super::CloseReason::TransportError);
            session.wait_closed().await;
            return Err(EngineError::PayloadTooLarge);
        }
    };
    let packets = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| payload::decode(text, MAX_PACKETS_PER_POST).ok());
    let Some(packets) = packets else {
        tracing::info!(sid = %session.sid, "invalid polling payload: closing");
        session.request_close(super::CloseReason::TransportError);
        // engine.io has closed the session when it answers, so the client's next request
        // finds none; answering first let a GET sent right after it wait in the closing
        // session and get its close packet (200 "1") instead of HTTP 400.
        session.wait_closed().await;
        return Err(EngineError::BadRequest);
    };
    crate::metrics::packets_in(packets.len() as u64, bytes.len() as u64);
    let Some(control) = session.control_tx.as_ref() else {
        return Err(EngineError::BadRequest);
    };
    let (taken, answer) = tokio::sync::oneshot::channel();
    control
        .send(Control::Packets(packets, taken))
        .await
        .map_err(|_| EngineError::UnknownSid)?;
    // Answered once the session's task has taken every packet: a paused input
    // (flood control) holds the client's next POST back this way. A session that
    // ends first drops the rest, as it would have unread.
    let _ = answer.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_strings() {
        let q = parse_query("EIO=4&transport=polling&t=N8hyd6w&name=a%20b+c&bad=%zz&x");
        assert_eq!(q["EIO"], "4");
        assert_eq!(q["name"], "a b c");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(q["x"], "");
    }
}
