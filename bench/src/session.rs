//! Client connections on `sockeye-protocol`'s state machines: [`Link`], a bare
//! WebSocket for the hot loops, and [`Session`], a tungstenite WebSocket for the
//! scenarios that open and close many connections or cut them. Engine.IO's rules (the
//! handshake, pongs, the heartbeat deadline, close) are the `EngineClient`'s
//! (`crate::engine`); joining `/`, ack ids and session recovery are the
//! `SocketClient`'s ([`Socket`]).
//!
//! The load generator shares one core with nothing else, and must outrun the server it
//! measures: reads take every frame already received before they wait, so a caller can
//! answer a burst with one write.

use crate::engine::Engine;
use crate::frames::{FrameStream, Message};
use crate::wire::Parser;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::client::{Emit, SocketClient, SocketEvent, SocketOutput};
use sockeye_protocol::engine::packet::Frame;
use sockeye_protocol::engine::Packet as EnginePacket;
use sockeye_protocol::socket::{Args, Decoder, Packet};
use sockeye_protocol::Value;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a join may wait for the handshake and the server's answer.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);

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

/// A socket of `/`: the protocol crate's [`SocketClient`] with a decoder for its
/// parser. It outlives the connections it joins on, so that a rejoin after a cut
/// names the session and the last offset processed, as socket.io-client's does.
pub struct Socket {
    client: SocketClient,
    decoder: Decoder,
    parser: Parser,
    /// The clock of the client's ack and join timeouts.
    epoch: Instant,
    /// Whether the server's last CONNECT offered connection state recovery (a `pid`).
    offered_recovery: bool,
}

impl Socket {
    /// A socket that wants to join `/`, speaking `parser`.
    pub fn new(parser: Parser) -> Socket {
        let mut client = SocketClient::new("/");
        client.activate();
        Socket {
            client,
            decoder: parser.decoder(),
            parser,
            epoch: Instant::now(),
            offered_recovery: false,
        }
    }

    /// The CONNECT for a connection that just opened (a new decoder with it: nothing
    /// half-decoded crosses connections).
    pub fn join(&mut self) -> EnginePacket {
        self.decoder = self.parser.decoder();
        let join = self.client.join(None, self.now(), JOIN_TIMEOUT);
        self.parser.message(&join)
    }

    /// Decodes a message the engine handed over and feeds it to the socket.
    pub fn on_message(&mut self, message: EnginePacket) -> Result<Vec<SocketOutput>, String> {
        let decoded = match message {
            EnginePacket::Message(text) => self.decoder.decode_text(text),
            EnginePacket::Binary(data) => self.decoder.decode_binary(data),
            _ => return Ok(Vec::new()),
        };
        let Some(packet) = decoded.map_err(|e| format!("bad packet: {e}"))? else {
            return Ok(Vec::new());
        };
        if let Packet::Connect { data, .. } = &packet {
            self.offered_recovery = data.as_ref().is_some_and(|d| d.get("pid").is_some());
        }
        Ok(self.client.on_packet(packet))
    }

    /// Emits `name` with `args`; the message to send (none while not joined: the
    /// socket sends it on the next join) and the ack id, if one is asked for.
    pub fn emit(
        &mut self,
        name: &str,
        args: Vec<Value>,
        ack: bool,
    ) -> (Option<EnginePacket>, Option<u64>) {
        let args = match self.parser {
            Parser::Json => Args::from(args),
            Parser::Msgpack => Args::from_values(sockeye_protocol::socket::Parser::MsgPack, &args),
        };
        let how = Emit {
            ack,
            ..Emit::default()
        };
        let (packet, id) = self.client.emit(name, args, how, self.now());
        (packet.map(|p| self.parser.message(&p)), id)
    }

    /// The connection was lost (`reason`): what the socket says about it (the
    /// disconnect, the acks that will never come).
    pub fn on_connection_lost(&mut self, reason: &str) -> Vec<SocketOutput> {
        self.client.on_engine_close(reason)
    }

    /// Whether the last join got the cut session back.
    pub fn recovered(&self) -> bool {
        self.client.recovered()
    }

    /// Whether the server's last CONNECT offered connection state recovery.
    pub fn offered_recovery(&self) -> bool {
        self.offered_recovery
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }
}

/// Whether these outputs of a [`Socket`] say it joined (what else they hold goes to
/// `kept`); an error if the server refused the join.
pub fn joined(outputs: Vec<SocketOutput>, kept: &mut Vec<SocketOutput>) -> Result<bool, String> {
    let mut connected = false;
    for output in outputs {
        match output {
            SocketOutput::Event(SocketEvent::Connect { .. }) => connected = true,
            SocketOutput::Event(SocketEvent::ConnectError { message, .. }) => {
                return Err(format!("join refused: {message}"))
            }
            other => kept.push(other),
        }
    }
    Ok(connected)
}

/// Writes the engine's pending write into a bare WebSocket's buffer. A buffer goes out
/// whole and in order before anything queued after it, so what is in it counts as
/// written.
fn write_engine(engine: &mut Engine, stream: &mut FrameStream) {
    while let Some(packets) = engine.take_write() {
        for packet in &packets {
            match packet.encode_frame() {
                Frame::Text(text) => stream.feed_text(text.as_bytes()),
                Frame::Binary(data) => stream.feed_message(true, &data),
            }
        }
        engine.written();
    }
}

/// A bare [`FrameStream`] joined to `/`, for the hot loops: they write their emits
/// straight into it and recognize their acks or deliveries themselves (see `wire`);
/// every other message goes to the [`Engine`].
pub struct Link {
    stream: FrameStream,
    engine: Engine,
}

impl Link {
    /// Connects to `url` (`http://host:port`) and joins `/` with `parser`.
    pub async fn connect(url: &str, parser: Parser) -> Result<Link, String> {
        let stream = FrameStream::connect(&socketio_ws_url(url)).await?;
        let mut link = Link {
            stream,
            engine: Engine::new(),
        };
        let mut socket = Socket::new(parser);
        // The engine holds it until the handshake is in.
        link.engine.send(socket.join());
        let join = async {
            let mut kept = Vec::new();
            loop {
                let mut inbox = Vec::new();
                link.read_with(|_, _| false, |message| inbox.push(message))
                    .await?;
                link.flush().await?;
                for message in inbox {
                    if joined(socket.on_message(message)?, &mut kept)? {
                        return Ok::<_, String>(());
                    }
                }
            }
        };
        tokio::time::timeout(JOIN_TIMEOUT, join)
            .await
            .map_err(|_| "no answer to the join".to_string())??;
        Ok(link)
    }

    /// Queues a Socket.IO message (binary if `binary`) without flushing.
    pub fn feed_message(&mut self, binary: bool, payload: &[u8]) {
        self.stream.feed_message(binary, payload);
    }

    /// Writes what was queued: the caller's messages and the engine's (pongs).
    pub async fn flush(&mut self) -> Result<(), String> {
        self.stream.flush().await
    }

    /// Reads every message already received, waiting for one if none has arrived: each
    /// goes to `on_data` with the time of the read, and the ones it does not take
    /// (returns false) to the engine. The engine's Socket.IO messages are dropped: the
    /// bench servers send the hot loops nothing but what they take. Returns the time of
    /// the read; an error once the connection is over. Cancel-safe.
    pub async fn read(
        &mut self,
        on_data: impl FnMut(Message<'_>, Instant) -> bool,
    ) -> Result<Instant, String> {
        self.read_with(on_data, |_| {}).await
    }

    /// When the server must have pinged by, or the connection is lost.
    pub fn deadline(&self) -> Option<Instant> {
        self.engine.deadline()
    }

    /// Advances the engine's clock; an error once the connection is over ("ping
    /// timeout" past [`Link::deadline`]).
    pub fn poll(&mut self, at: Instant) -> Result<(), String> {
        self.engine.poll(at);
        self.engine.check()
    }

    /// Closes the WebSocket (the server sees the client leave, as when a browser tab
    /// closes: no Engine.IO close packet, which would cost the server a message the
    /// bench does not count).
    pub async fn close(self) {
        self.stream.close().await;
    }

    async fn read_with(
        &mut self,
        mut on_data: impl FnMut(Message<'_>, Instant) -> bool,
        mut on_message: impl FnMut(EnginePacket),
    ) -> Result<Instant, String> {
        let Link { stream, engine } = self;
        let mut read_at = None;
        let mut handle = |message: Message<'_>| {
            // One clock reading per burst: its messages were all there when it was read.
            let at = *read_at.get_or_insert_with(Instant::now);
            if !on_data(message, at) {
                if let Some(message) = engine.on_frame(message, at) {
                    on_message(message);
                }
            }
        };
        stream.read_messages(&mut handle).await?;
        stream.try_read_messages(&mut handle)?;
        let at = read_at.unwrap_or_else(Instant::now);
        engine.poll(at);
        write_engine(engine, stream);
        engine.check()?;
        Ok(at)
    }
}

/// What [`Session::read`] got: a WebSocket message (or its end), or nothing by the
/// heartbeat deadline.
pub struct Incoming(Option<Option<Result<tungstenite::Message, tungstenite::Error>>>);

/// A tungstenite WebSocket joined to `/`, for the scenarios that open, hold and cut
/// connections (`connect`, `idle`, `soak`): every message goes through the [`Engine`]
/// and the caller's [`Socket`].
pub struct Session {
    ws: Ws,
    engine: Engine,
}

impl Session {
    /// Connects to `url` (`http://host:port`) and joins `/` with a socket of its own.
    pub async fn connect(url: &str) -> Result<Session, String> {
        let (session, _) = Session::open(url, &mut Socket::new(Parser::Json)).await?;
        Ok(session)
    }

    /// Connects to `url` and joins `/` with `socket` (which asks for its cut session
    /// back, if it had one); also returns what the socket said besides the join (the
    /// events a recovered session replays with it).
    pub async fn open(
        url: &str,
        socket: &mut Socket,
    ) -> Result<(Session, Vec<SocketOutput>), String> {
        let ws = open_websocket(&socketio_ws_url(url)).await?;
        let mut session = Session {
            ws,
            engine: Engine::new(),
        };
        // The engine holds it until the handshake is in.
        session.engine.send(socket.join());
        let join = async {
            let mut kept = Vec::new();
            loop {
                let message = session.next_message().await?;
                if joined(socket.on_message(message)?, &mut kept)? {
                    return Ok::<_, String>(kept);
                }
            }
        };
        let kept = tokio::time::timeout(JOIN_TIMEOUT, join)
            .await
            .map_err(|_| "no answer to the join".to_string())??;
        let mut outputs = Vec::with_capacity(kept.len());
        for output in kept {
            match output {
                SocketOutput::Send(packet) => session.send(socket.parser.message(&packet)).await?,
                event => outputs.push(event),
            }
        }
        Ok((session, outputs))
    }

    /// Closes the WebSocket (the server sees the client leave), as a browser does:
    /// the close handshake, then waiting for the server to close the TCP connection.
    pub async fn close(self) {
        close_websocket(self.ws).await;
    }

    /// Sends a message after everything sent before it.
    pub async fn send(&mut self, message: EnginePacket) -> Result<(), String> {
        self.engine.send(message);
        self.write().await
    }

    /// The next message for the Socket.IO layer; Engine.IO's own packets are handled
    /// on the way (pongs written). An error once the connection is over: closed by the
    /// server, or silent past the heartbeat deadline ("ping timeout"). Not cancel-safe:
    /// to race reading against something else, race [`Session::read`] and pass what it
    /// read to [`Session::handle`].
    pub async fn next_message(&mut self) -> Result<EnginePacket, String> {
        loop {
            let read = self.read().await;
            if let Some(message) = self.handle(read).await? {
                return Ok(message);
            }
        }
    }

    /// Waits for the next WebSocket message, or for the heartbeat deadline. Cancel-safe.
    pub async fn read(&mut self) -> Incoming {
        Incoming(match self.engine.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), self.ws.next())
                .await
                .ok(),
            None => Some(self.ws.next().await),
        })
    }

    /// Feeds what [`Session::read`] got to the engine and writes what it answers: the
    /// message for the Socket.IO layer, if it was one.
    pub async fn handle(&mut self, read: Incoming) -> Result<Option<EnginePacket>, String> {
        let at = Instant::now();
        let message = match read.0 {
            // The heartbeat deadline passed with nothing read.
            None => None,
            Some(Some(Ok(tungstenite::Message::Text(text)))) => {
                self.engine.on_frame(Message::Text(text.as_bytes()), at)
            }
            Some(Some(Ok(tungstenite::Message::Binary(data)))) => {
                self.engine.on_packet(EnginePacket::decode_binary(data), at)
            }
            Some(Some(Ok(tungstenite::Message::Close(_)))) | Some(None) => {
                return Err("connection closed".into())
            }
            Some(Some(Ok(_))) => None,
            Some(Some(Err(e))) => return Err(format!("read: {e}")),
        };
        self.engine.poll(at);
        self.write().await?;
        self.engine.check()?;
        Ok(message)
    }

    /// Writes what the engine hands out, one write at a time.
    async fn write(&mut self) -> Result<(), String> {
        while let Some(packets) = self.engine.take_write() {
            for packet in packets {
                let frame = match packet.encode_frame() {
                    Frame::Text(text) => tungstenite::Message::Text(Utf8Bytes::from(text)),
                    Frame::Binary(data) => tungstenite::Message::Binary(data),
                };
                self.ws
                    .feed(frame)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
            }
            self.ws.flush().await.map_err(|e| format!("send: {e}"))?;
            self.engine.written();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_protocol::json;

    #[test]
    fn a_socket_joins_and_rejoins_with_its_session() {
        let mut socket = Socket::new(Parser::Json);
        assert_eq!(socket.join(), EnginePacket::Message("0".into()));
        let outputs = socket
            .on_message(EnginePacket::Message(r#"0{"sid":"a","pid":"p"}"#.into()))
            .unwrap();
        let mut kept = Vec::new();
        assert_eq!(joined(outputs, &mut kept), Ok(true));
        assert!(socket.offered_recovery() && !socket.recovered());
        // An event carries its offset last; an acked emit waits for its answer.
        socket
            .on_message(EnginePacket::Message(
                r#"2["fanout",{"seq":0},"o1"]"#.into(),
            ))
            .unwrap();
        let (emit, id) = socket.emit("echo", vec![json!(7)], true);
        assert_eq!(emit, Some(EnginePacket::Message(r#"20["echo",7]"#.into())));
        assert_eq!(id, Some(0));
        // Cut: the ack is lost, and the rejoin names the session and the offset.
        let lost = socket.on_connection_lost("transport close");
        assert!(lost.contains(&SocketOutput::Event(SocketEvent::AckDisconnected { id: 0 })));
        assert_eq!(
            socket.join(),
            EnginePacket::Message(r#"0{"pid":"p","offset":"o1"}"#.into())
        );
        let outputs = socket
            .on_message(EnginePacket::Message(r#"0{"sid":"a","pid":"p"}"#.into()))
            .unwrap();
        assert_eq!(joined(outputs, &mut kept), Ok(true));
        assert!(socket.recovered());
        // A refusal is an error.
        let mut socket = Socket::new(Parser::Json);
        socket.join();
        let refused = socket.on_message(EnginePacket::Message(r#"4{"message":"no"}"#.into()));
        assert!(joined(refused.unwrap(), &mut kept).is_err());
    }
}
