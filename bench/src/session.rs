//! One Socket.IO client session over WebSocket: the handshake, the namespace join, and
//! reading packets while answering pings. Every byte goes through `sockeye-protocol`.
//!
//! The load generator shares one core with nothing else, and must outrun the server it
//! measures: reads take every frame already received before they wait, so a caller can
//! answer a burst with one write.

use crate::frames::FrameStream;
use crate::wire::Parser;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::Packet as EnginePacket;
use sockeye_protocol::socket::{Decoder, Packet};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `url` (`ws://...`) with the load generator's settings: no
/// Nagle delay, as browsers do, and a read buffer sized for bursts of small frames
/// (tungstenite zero-fills its whole buffer before each read: 128 KiB by default).
pub async fn open_websocket(url: &str) -> Result<Ws, String> {
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| format!("connect {url}: {e}"))?;
    Ok(ws)
}

/// Ends a WebSocket the way RFC 6455 asks (section 7.1.1): the client sends its close
/// frame, and the server closes the TCP connection first. The side that closes first
/// keeps the connection in TIME_WAIT: on the client side, tens of thousands of them
/// make every new connect's port search slow, which in the `connect` scenario cost the
/// load generator more than the server's own work. Waits at most a second.
pub async fn close_websocket(mut ws: Ws) {
    if ws.close(None).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        // The server's close frame (tungstenite then reports the handshake done)...
        while let Some(Ok(_)) = ws.next().await {}
        // ...then the end of the byte stream.
        let mut scratch = [0u8; 256];
        while let Ok(n) = ws.get_mut().read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// The Socket.IO endpoint of a server given as `http://host:port`.
pub fn socketio_ws_url(url: &str) -> String {
    format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.trim_end_matches('/').replacen("http", "ws", 1)
    )
}

/// Connects a bare [`FrameStream`] to `url` (`http://host:port`) and joins `/` with
/// `parser`'s CONNECT, for the hot loops; the JSON packets are the protocol crate's, as
/// in [`Session::connect`].
pub async fn connect_frames(url: &str, parser: Parser) -> Result<FrameStream, String> {
    let mut ws = FrameStream::connect(&socketio_ws_url(url)).await?;
    let mut opened = false;
    while !opened {
        ws.read_texts(|text| opened |= text.first() == Some(&b'0'))
            .await?;
    }
    ws.feed_message(parser.binary(), &parser.join());
    ws.flush().await?;
    let mut joined = None;
    while joined.is_none() {
        ws.read_messages(|message| {
            if let Some(answer) = parser.join_answer(message) {
                joined.get_or_insert(answer);
            }
        })
        .await?;
    }
    joined.expect("set above")?;
    Ok(ws)
}

/// A connected client of the main namespace.
pub struct Session {
    ws: Ws,
    decoder: Decoder,
}

impl Session {
    /// Connects to `url` (`http://host:port`) and joins `/`.
    pub async fn connect(url: &str) -> Result<Session, String> {
        let ws = open_websocket(&socketio_ws_url(url)).await?;
        let mut session = Session {
            ws,
            decoder: Decoder::default(),
        };
        match session.next_engine().await? {
            EnginePacket::Open(_) => {}
            other => return Err(format!("expected the open packet, got {other:?}")),
        }
        session
            .send(&Packet::Connect {
                namespace: "/".into(),
                data: None,
            })
            .await?;
        match session.next().await? {
            Packet::Connect { .. } => Ok(session),
            other => Err(format!("join refused: {other:?}")),
        }
    }

    /// Closes the WebSocket (the server sees the client leave), as a browser does:
    /// the close handshake, then waiting for the server to close the TCP connection.
    pub async fn close(self) {
        close_websocket(self.ws).await;
    }

    /// Sends one Socket.IO packet (text only: the bench sends no binary).
    pub async fn send(&mut self, packet: &Packet) -> Result<(), String> {
        self.feed(packet).await?;
        self.flush().await
    }

    /// Queues a packet without flushing (send a batch, then [`Session::flush`]).
    pub async fn feed(&mut self, packet: &Packet) -> Result<(), String> {
        let text = packet.encode_with_prefix("4").text;
        self.feed_text(text).await
    }

    /// Queues a ready-made Engine.IO text message without flushing.
    pub async fn feed_text(&mut self, text: String) -> Result<(), String> {
        self.ws
            .feed(Message::Text(text.into()))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Flushes what [`Session::feed`] queued.
    pub async fn flush(&mut self) -> Result<(), String> {
        self.ws.flush().await.map_err(|e| format!("flush: {e}"))
    }

    /// The next Socket.IO packet, answering pings on the way.
    pub async fn next(&mut self) -> Result<Packet, String> {
        loop {
            let message = self.next_message().await?;
            if let Some(packet) = self.packet_of(message).await? {
                return Ok(packet);
            }
        }
    }

    /// The next Engine.IO message's text, undecoded (the `4` prefix included), for
    /// receivers that only scan it; pings are answered on the way.
    pub async fn next_text(&mut self) -> Result<Utf8Bytes, String> {
        loop {
            let message = self.next_message().await?;
            if let Some(text) = self.text_of(message).await? {
                return Ok(text);
            }
        }
    }

    /// The text of a message, after answering it if it is a ping.
    async fn text_of(&mut self, message: Message) -> Result<Option<Utf8Bytes>, String> {
        match message {
            Message::Text(text) if text.as_str() == "2" => {
                self.pong().await?;
                Ok(None)
            }
            Message::Text(text) => Ok(Some(text)),
            _ => Ok(None),
        }
    }

    /// Decodes a message into a Socket.IO packet, answering pings.
    async fn packet_of(&mut self, message: Message) -> Result<Option<Packet>, String> {
        let decoded = match decode_engine(message)? {
            Some(EnginePacket::Message(text)) => self.decoder.decode_text(text),
            Some(EnginePacket::Binary(data)) => self.decoder.decode_binary(data),
            Some(EnginePacket::Ping(_)) => {
                self.pong().await?;
                return Ok(None);
            }
            Some(EnginePacket::Close) => return Err("the server closed the session".into()),
            _ => return Ok(None),
        };
        decoded.map_err(|e| format!("bad packet: {e}"))
    }

    async fn pong(&mut self) -> Result<(), String> {
        self.ws
            .send(Message::Text(Utf8Bytes::from_static("3")))
            .await
            .map_err(|e| format!("pong: {e}"))
    }

    async fn next_engine(&mut self) -> Result<EnginePacket, String> {
        loop {
            if let Some(packet) = decode_engine(self.next_message().await?)? {
                return Ok(packet);
            }
        }
    }

    async fn next_message(&mut self) -> Result<Message, String> {
        match self.ws.next().await {
            Some(Ok(message)) => Ok(message),
            Some(Err(e)) => Err(format!("read: {e}")),
            None => Err("connection closed".into()),
        }
    }
}

/// The Engine.IO packet of a WebSocket message; `None` for control frames.
fn decode_engine(message: Message) -> Result<Option<EnginePacket>, String> {
    match message {
        Message::Text(text) => EnginePacket::decode_text(text.as_str())
            .map(Some)
            .map_err(|e| format!("bad engine packet: {e}")),
        Message::Binary(data) => Ok(Some(EnginePacket::decode_binary(data))),
        Message::Close(_) => Err("connection closed".into()),
        _ => Ok(None),
    }
}
