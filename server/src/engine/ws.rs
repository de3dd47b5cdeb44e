//! The WebSocket itself, under both transports' sessions: the HTTP upgrade, and the
//! closing handshake.
//!
//! A close is more than a close frame. A server that drops its socket while input is
//! still unread makes the kernel answer with a reset instead of a FIN, and a client that
//! is still sending (the rest of an oversized message, say) then often never reads the
//! close frame: it sees 1006 instead of 1009. So [`close`] sends the close frame, ends
//! its half of the TCP stream, and reads and discards the client's input until the
//! client's own close frame or the end of its stream, within bounds of time and bytes.
//! axum's `WebSocket` keeps its TCP stream to itself, which rules that out; hence the
//! upgrade here, with hyper and tokio-tungstenite as axum does it.

use super::error::EngineError;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use axum::response::Response;
use futures_util::stream::FusedStream;
use futures_util::{ready, SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};

/// A WebSocket of the server's.
pub(crate) type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// A valid WebSocket upgrade request, not answered yet.
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl Upgrade {
    /// Checks an HTTP/1.1 upgrade request (RFC 6455, section 4.2.1).
    pub(crate) fn from_parts(parts: &mut Parts) -> Result<Upgrade, EngineError> {
        let headers = &parts.headers;
        let valid = parts.version <= Version::HTTP_11
            && parts.method == axum::http::Method::GET
            && has_token(headers, header::CONNECTION, "upgrade")
            && has_token(headers, header::UPGRADE, "websocket")
            && has_token(headers, header::SEC_WEBSOCKET_VERSION, "13");
        let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
        let (true, Some(key)) = (valid, key) else {
            return Err(EngineError::BadRequest);
        };
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(EngineError::BadRequest)?;
        Ok(Upgrade { key, on_upgrade })
    }

    /// The `101 Switching Protocols` answer; `callback` gets the socket once the
    /// connection has switched.
    pub(crate) fn on_upgrade<F, Fut>(self, config: WebSocketConfig, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            // An error here means the client went away before the switch.
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let io = TokioIo::new(upgraded);
            let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            callback(ws).await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(Body::empty())
            .expect("a 101 response with valid headers")
    }
}

/// Whether a header's comma-separated list holds `token` (in any case).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The close code that answers a read error, as RFC 6455 assigns them: 1009 for a
/// message over the size limit, 1007 for text that is not UTF-8, 1002 for a broken
/// frame. A stream that just ended gets none.
pub(crate) fn close_code_of(error: &WsError) -> Option<u16> {
    match error {
        WsError::Capacity(_) => Some(CloseCode::Size.into()),
        WsError::Utf8(_) => Some(CloseCode::Invalid.into()),
        WsError::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(_) => Some(CloseCode::Protocol.into()),
        _ => None,
    }
}

/// How long a client gets, once the close frame is out, to answer it or end its stream.
const LINGER: Duration = Duration::from_secs(2);

/// The least input a close reads and discards, whatever the payload limit.
const MIN_DISCARD: usize = 4 << 20;

/// The reads of discarded input.
const DISCARD_CHUNK: usize = 8 * 1024;

/// The bounds of one close: a client that does not read, or that sends without end,
/// holds its session's task for at most `send + linger`, and makes it read at most
/// `max_discarded` bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closing {
    /// For the last frames and the close frame.
    pub(crate) send: Duration,
    /// For the client's answer, once the close frame is out.
    pub(crate) linger: Duration,
    /// How much input is read and discarded at most.
    pub(crate) max_discarded: usize,
}

impl Closing {
    /// The bounds for a server whose messages are at most `max_payload` bytes: enough
    /// input to swallow a few messages over the limit, and the rest of the one that
    /// was refused.
    pub(crate) fn new(max_payload: usize) -> Closing {
        Closing {
            send: super::session::CLOSE_GRACE,
            linger: LINGER,
            max_discarded: max_payload.saturating_mul(4).max(MIN_DISCARD),
        }
    }
}

/// Ends a WebSocket: sends `messages`, then a close frame with `code`, then ends the
/// server's half of the stream, and reads and discards the client's input until the
/// client's close frame or the end of its stream, all within `bounds`. Only then may
/// the socket be dropped: with no input left unread, the kernel ends the connection
/// with a FIN, and the client reads everything that was sent.
///
/// Input is read while the frames go out, too: a client that is still writing (the
/// rest of a refused message) may read nothing before its write went through.
pub(crate) async fn close<S>(
    ws: &mut WebSocketStream<S>,
    messages: Vec<WsMessage>,
    code: Option<u16>,
    bounds: Closing,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut outgoing = VecDeque::from(messages);
    outgoing.push_back(WsMessage::Close(code.map(|code| CloseFrame {
        code: code.into(),
        reason: Utf8Bytes::from_static(""),
    })));
    let mut input = Discard::new(ws, bounds.max_discarded);
    let sent = tokio::time::timeout(
        bounds.send,
        std::future::poll_fn(|cx| {
            let sent = poll_send(ws, &mut outgoing, cx);
            let _ = input.poll(ws, cx);
            sent
        }),
    )
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        // The client cannot get the close frame (it does not read, or it is gone):
        // there is nothing to wait for.
        return;
    }
    let _ = tokio::time::timeout(bounds.linger, async {
        // The FIN tells a client that waits for the server to end the TCP connection
        // (as RFC 6455 asks clients to) that it may close its side now.
        let _ = std::future::poll_fn(|cx| Pin::new(ws.get_mut()).poll_shutdown(cx)).await;
        std::future::poll_fn(|cx| input.poll(ws, cx)).await;
    })
    .await;
}

/// Sends the queued messages (the close frame last) and flushes them.
fn poll_send<S>(
    ws: &mut WebSocketStream<S>,
    outgoing: &mut VecDeque<WsMessage>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), WsError>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while !outgoing.is_empty() {
        // An error here is a failed write: the client is gone.
        ready!(ws.poll_ready_unpin(cx))?;
        let message = outgoing.pop_front().expect("a queued message");
        if ws.start_send_unpin(message).is_err() {
            // The client's close frame came first: tungstenite has queued its answer,
            // and nothing else may follow it.
            outgoing.clear();
        }
    }
    ws.poll_flush_unpin(cx)
}

/// Reads and discards a closing client's input.
struct Discard {
    /// How many more bytes may be read.
    left: usize,
    /// Whether to read the TCP stream itself rather than frames.
    raw: bool,
    ended: bool,
    buffer: Vec<u8>,
}

impl Discard {
    fn new<S>(ws: &WebSocketStream<S>, max: usize) -> Discard
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        Discard {
            left: max,
            // After a read error tungstenite reads no more, and what follows is not a
            // frame it could parse (the rest of an oversized one): the stream is read
            // raw then.
            raw: ws.is_terminated(),
            ended: false,
            buffer: Vec::new(),
        }
    }

    /// Ready once the input has ended: the client's close frame (tungstenite ends the
    /// stream after it), the end of the stream, an error, or the byte bound.
    fn poll<S>(&mut self, ws: &mut WebSocketStream<S>, cx: &mut Context<'_>) -> Poll<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        while !self.ended {
            if self.left == 0 {
                self.ended = true;
            } else if !self.raw {
                match ready!(ws.poll_next_unpin(cx)) {
                    // A frame costs its header too, so that empty ones count.
                    Some(Ok(message)) => self.left = self.left.saturating_sub(message.len() + 2),
                    Some(Err(_)) => self.raw = true,
                    None => self.ended = true,
                }
            } else {
                if self.buffer.is_empty() {
                    self.buffer = vec![0; DISCARD_CHUNK];
                }
                let mut buffer = ReadBuf::new(&mut self.buffer);
                match ready!(Pin::new(ws.get_mut()).poll_read(cx, &mut buffer)) {
                    Ok(()) if buffer.filled().is_empty() => self.ended = true,
                    Ok(()) => self.left = self.left.saturating_sub(buffer.filled().len()),
                    Err(_) => self.ended = true,
                }
            }
        }
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    const LIMIT: usize = 1024;

    /// A server and a client WebSocket joined in memory; the server refuses messages
    /// over `LIMIT`.
    async fn pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (server, client) = tokio::io::duplex(16 * 1024);
        let config = WebSocketConfig::default()
            .max_message_size(Some(LIMIT))
            .max_frame_size(Some(LIMIT));
        let server = WebSocketStream::from_raw_socket(server, Role::Server, Some(config)).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (server, client)
    }

    /// Fails a test that would otherwise hang.
    async fn soon<F: Future>(fut: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(15), fut)
            .await
            .expect("done in time")
    }

    fn bounds() -> Closing {
        Closing {
            send: Duration::from_secs(10),
            linger: Duration::from_secs(10),
            max_discarded: 1 << 20,
        }
    }

    /// What the client reads: the close frame's code (`None`: no code), then whether
    /// the stream ended cleanly.
    async fn client_ending<St>(client: &mut St) -> (Option<u16>, bool)
    where
        St: futures_util::Stream<Item = Result<WsMessage, WsError>> + Unpin,
    {
        let code = loop {
            match client.next().await {
                Some(Ok(WsMessage::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        };
        (code, client.next().await.is_none())
    }

    #[test]
    fn read_errors_get_the_close_codes_of_rfc_6455() {
        use tungstenite::error::{CapacityError, ProtocolError};
        let too_big = CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        };
        assert_eq!(close_code_of(&WsError::Capacity(too_big)), Some(1009));
        assert_eq!(close_code_of(&WsError::Utf8("bad".into())), Some(1007));
        let unmasked = WsError::Protocol(ProtocolError::UnmaskedFrameFromClient);
        assert_eq!(close_code_of(&unmasked), Some(1002));
        let ended = WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert_eq!(close_code_of(&ended), None);
        assert_eq!(close_code_of(&WsError::ConnectionClosed), None);
    }

    #[tokio::test]
    async fn an_oversized_message_is_refused_with_1009_and_the_rest_is_read() {
        let (mut server, client) = pair().await;
        let server_side = async {
            let error = match server.next().await {
                Some(Err(e)) => e,
                other => panic!("expected a size error, got {other:?}"),
            };
            close(&mut server, Vec::new(), close_code_of(&error), bounds()).await;
        };
        let client_side = async move {
            let (mut tx, mut rx) = client.split();
            // The message is far larger than the pipe: the client's write goes through
            // only if the server reads on after the refusal.
            let big = WsMessage::text("x".repeat(256 * 1024));
            let (sent, ending) = tokio::join!(tx.send(big), client_ending(&mut rx));
            sent.expect("the write goes through");
            ending
        };
        let ((), ending) = soon(async { tokio::join!(server_side, client_side) }).await;
        assert_eq!(ending, (Some(1009), true));
    }

    #[tokio::test]
    async fn queued_messages_go_before_the_close_frame_and_the_close_waits_for_the_answer() {
        let (mut server, mut client) = pair().await;
        let server_side = close(&mut server, vec![WsMessage::text("4last")], None, bounds());
        let client_side = async {
            assert_eq!(
                client.next().await.unwrap().unwrap(),
                WsMessage::text("4last")
            );
            // Reading on answers the close frame, and the server's FIN ends the stream.
            client_ending(&mut client).await
        };
        let ((), ending) = soon(async { tokio::join!(server_side, client_side) }).await;
        assert_eq!(ending, (None, true));
    }

    #[tokio::test]
    async fn a_client_that_sends_without_end_is_read_only_so_far() {
        let (mut server, client) = pair().await;
        let mut raw = client.into_inner();
        let flood = async move {
            // Masked binary frames of 512 bytes, forever.
            let mut frame = vec![0x82, 0x80 | 126, 0x02, 0x00, 0, 0, 0, 0];
            frame.extend(std::iter::repeat_n(0u8, 512));
            while raw.write_all(&frame).await.is_ok() {}
        };
        let limited = Closing {
            max_discarded: 64 * 1024,
            ..bounds()
        };
        soon(async {
            tokio::select! {
                () = close(&mut server, Vec::new(), None, limited) => {}
                () = flood => panic!("the flood ended first"),
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_client_that_never_answers_or_never_reads_is_given_up_on() {
        let quick = Closing {
            send: Duration::from_millis(100),
            linger: Duration::from_millis(100),
            ..bounds()
        };
        // The close frame goes out, but the client neither answers nor ends its stream.
        let (mut server, _client) = pair().await;
        soon(close(&mut server, Vec::new(), None, quick)).await;
        // The client reads nothing, and what is queued does not fit in the pipe.
        let (mut server, client) = pair().await;
        let big = WsMessage::text("4".repeat(64 * 1024));
        soon(close(&mut server, vec![big], None, quick)).await;
        let mut raw = client.into_inner();
        let mut first = [0u8; 1];
        raw.read_exact(&mut first)
            .await
            .expect("what fit in the pipe");
    }

    #[test]
    fn upgrade_headers_are_token_lists_in_any_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(has_token(&headers, header::CONNECTION, "upgrade"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!has_token(&headers, header::CONNECTION, "upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocketx"));
        assert!(!has_token(&headers, header::UPGRADE, "websocket"));
    }
}
