//! One Socket.IO client session over WebSocket: the handshake, the namespace join, and
//! reading packets while answering pings. Every byte goes through `sockeye-protocol`.

use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::Packet as EnginePacket;
use sockeye_protocol::socket::{Decoder, Packet};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected client of the main namespace.
pub struct Session {
    ws: Ws,
    decoder: Decoder,
}

impl Session {
    /// Connects to `url` (`http://host:port`) and joins `/`.
    pub async fn connect(url: &str) -> Result<Session, String> {
        let ws_url = format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            url.trim_end_matches('/').replacen("http", "ws", 1)
        );
        let (ws, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .map_err(|e| format!("connect {ws_url}: {e}"))?;
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

    /// Closes the WebSocket (the server sees the client leave).
    pub async fn close(mut self) {
        self.ws.close(None).await.ok();
    }

    /// Sends one Socket.IO packet (text only: the bench sends no binary).
    pub async fn send(&mut self, packet: &Packet) -> Result<(), String> {
        let text = packet.encode_with_prefix("4").text;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Queues a packet without flushing (send a batch, then [`Session::flush`]).
    pub async fn feed(&mut self, packet: &Packet) -> Result<(), String> {
        let text = packet.encode_with_prefix("4").text;
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
            let decoded = match self.next_engine().await? {
                EnginePacket::Message(text) => self.decoder.decode_text(&text),
                EnginePacket::Binary(data) => self.decoder.decode_binary(data),
                EnginePacket::Ping(data) => {
                    let pong = EnginePacket::Pong(data).encode_text();
                    self.ws
                        .send(Message::Text(pong.into()))
                        .await
                        .map_err(|e| format!("pong: {e}"))?;
                    continue;
                }
                EnginePacket::Close => return Err("the server closed the session".into()),
                _ => continue,
            };
            match decoded {
                Ok(Some(packet)) => return Ok(packet),
                Ok(None) => continue,
                Err(e) => return Err(format!("bad packet: {e}")),
            }
        }
    }

    async fn next_engine(&mut self) -> Result<EnginePacket, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return EnginePacket::decode_text(text.as_str())
                        .map_err(|e| format!("bad engine packet: {e}"))
                }
                Some(Ok(Message::Binary(data))) => return Ok(EnginePacket::decode_binary(data)),
                Some(Ok(Message::Close(_))) | None => return Err("connection closed".into()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }
}
