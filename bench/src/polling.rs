//! One Socket.IO client session over Engine.IO long-polling, as the official client
//! runs it: one GET pending at all times, and a POST for what it has to send (all its
//! queued packets in one payload). Engine.IO's rules (the handshake, pongs, one POST at
//! a time within `maxPayload`, the close packet) are the `EngineClient`'s
//! (`crate::engine`), the join is the `SocketClient`'s, and every payload goes through
//! `sockeye-protocol`.
//!
//! A session holds two HTTP/1.1 keep-alive connections, one for the pending GET and one
//! for POSTs, as a browser tab does.

use crate::engine::Engine;
use crate::session::{joined, Socket};
use crate::wire::Parser;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use sockeye_protocol::engine::{payload, Packet as EnginePacket};
use sockeye_protocol::socket::{Decoder, Packet};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The most packets one GET may carry back (the server's own bound is larger).
const MAX_PACKETS: usize = 100_000;
/// How long the join may wait for its answer.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);

/// A joined client of `/` over long-polling. Packets from the server arrive through
/// [`PollingSession::next`], read by a task that keeps one GET pending; the engine
/// answers its pings on the way.
pub struct PollingSession {
    /// The POST connection: the engine hands out one write at a time.
    posting: Connection,
    endpoint: Uri,
    engine: Engine,
    decoder: Decoder,
    /// The GETs' payloads, as the reader task received them.
    incoming: mpsc::UnboundedReceiver<Result<Vec<EnginePacket>, String>>,
    /// Socket.IO packets decoded and not yet handed over.
    ready: VecDeque<Packet>,
    reader: tokio::task::JoinHandle<()>,
}

impl PollingSession {
    /// Opens a session at `url` (`http://host:port`) and joins `/`.
    pub async fn connect(url: &str) -> Result<PollingSession, String> {
        let authority = url
            .trim_end_matches('/')
            .strip_prefix("http://")
            .ok_or_else(|| format!("not an http:// URL: {url}"))?;
        let base = "/socket.io/?EIO=4&transport=polling";
        let mut engine = Engine::new();
        let mut socket = Socket::new(Parser::Json);
        // The engine holds it until the handshake is in.
        engine.send(socket.join());
        let mut getting = Connection::open(authority).await?;
        for packet in getting.get(&Uri::from_static(base)).await? {
            engine.on_packet(packet, Instant::now());
        }
        engine.check()?;
        let sid = match engine.open_packet() {
            Some(handshake) => handshake.sid.clone(),
            None => return Err("expected the open packet".into()),
        };
        let endpoint: Uri = format!("{base}&sid={sid}")
            .parse()
            .map_err(|e| format!("session URI: {e}"))?;
        let posting = Connection::open(authority).await?;
        let (tx, incoming) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(getting, endpoint.clone(), tx));
        let mut session = PollingSession {
            posting,
            endpoint,
            engine,
            decoder: Decoder::default(),
            incoming,
            ready: VecDeque::new(),
            reader,
        };
        session.write().await?;
        let join = async {
            let mut kept = Vec::new();
            loop {
                let message = session.next_message().await?;
                if joined(socket.on_message(message)?, &mut kept)? {
                    return Ok::<_, String>(());
                }
            }
        };
        tokio::time::timeout(JOIN_TIMEOUT, join)
            .await
            .map_err(|_| "no answer to the join".to_string())??;
        Ok(session)
    }

    /// The next packet from the server.
    pub async fn next(&mut self) -> Result<Packet, String> {
        loop {
            if let Some(packet) = self.ready.pop_front() {
                return Ok(packet);
            }
            let message = self.next_message().await?;
            self.decode(message)?;
        }
    }

    /// The next packet if one has arrived; `None` rather than wait for a GET.
    pub async fn try_next(&mut self) -> Result<Option<Packet>, String> {
        loop {
            if let Some(packet) = self.ready.pop_front() {
                return Ok(Some(packet));
            }
            match self.incoming.try_recv() {
                Ok(payload) => {
                    for message in self.on_payload(payload).await? {
                        self.decode(message)?;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return Ok(None),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    return Err("the session ended".into())
                }
            }
        }
    }

    /// Sends packets in one POST (after any write under way).
    pub async fn post(&mut self, packets: &[Packet]) -> Result<(), String> {
        // Held back while the batch is queued, so that it leaves as one payload.
        self.engine.pause();
        for packet in packets {
            self.engine
                .send(EnginePacket::Message(packet.encode().text));
        }
        self.engine.resume();
        self.write().await
    }

    /// Leaves: the engine's close packet, as the official client sends.
    pub async fn close(mut self) {
        self.engine.close();
        let _ = self.write().await;
        self.reader.abort();
    }

    /// The next message for the Socket.IO layer, the engine's packets handled on the
    /// way. An error once the session is over (closed, or silent past the heartbeat
    /// deadline: "ping timeout").
    async fn next_message(&mut self) -> Result<EnginePacket, String> {
        loop {
            let payload = match self.engine.deadline() {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline.into(), self.incoming.recv()).await {
                        Ok(payload) => payload,
                        Err(_) => {
                            self.engine.poll(Instant::now());
                            self.engine.check()?;
                            continue;
                        }
                    }
                }
                None => self.incoming.recv().await,
            };
            let payload = payload.unwrap_or_else(|| Err("the session ended".into()));
            let mut messages = self.on_payload(payload).await?.into_iter();
            if let Some(first) = messages.next() {
                // The rest of the payload waits, decoded, for the next calls.
                for message in messages {
                    self.decode(message)?;
                }
                return Ok(first);
            }
        }
    }

    /// Feeds a GET's packets to the engine and posts what it answers; the messages for
    /// the Socket.IO layer.
    async fn on_payload(
        &mut self,
        payload: Result<Vec<EnginePacket>, String>,
    ) -> Result<Vec<EnginePacket>, String> {
        let at = Instant::now();
        let messages = payload?
            .into_iter()
            .filter_map(|packet| self.engine.on_packet(packet, at))
            .collect();
        self.engine.poll(at);
        self.write().await?;
        self.engine.check()?;
        Ok(messages)
    }

    fn decode(&mut self, message: EnginePacket) -> Result<(), String> {
        let decoded = match message {
            EnginePacket::Message(text) => self.decoder.decode_text(text),
            EnginePacket::Binary(data) => self.decoder.decode_binary(data),
            _ => return Ok(()),
        };
        if let Some(packet) = decoded.map_err(|e| format!("bad packet: {e}"))? {
            self.ready.push_back(packet);
        }
        Ok(())
    }

    /// POSTs what the engine hands out, one write at a time.
    async fn write(&mut self) -> Result<(), String> {
        while let Some(packets) = self.engine.take_write() {
            self.posting
                .post(&self.endpoint, payload::encode(&packets))
                .await?;
            self.engine.written();
        }
        Ok(())
    }
}

/// Keeps one GET pending and hands over what each one brings.
async fn read_loop(
    mut getting: Connection,
    endpoint: Uri,
    tx: mpsc::UnboundedSender<Result<Vec<EnginePacket>, String>>,
) {
    loop {
        let payload = getting.get(&endpoint).await;
        let failed = payload.is_err();
        if tx.send(payload).is_err() || failed {
            return;
        }
    }
}

/// One HTTP/1.1 keep-alive connection to the server.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    async fn open(authority: &str) -> Result<Connection, String> {
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("connect {authority}: {e}"))?;
        // Requests are small and answered at once: never hold one back (as browsers).
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        // The connection's I/O runs beside the requests; it ends when `sender` drops.
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            authority: authority.to_owned(),
        })
    }

    /// A GET's payload, decoded into Engine.IO packets.
    async fn get(&mut self, uri: &Uri) -> Result<Vec<EnginePacket>, String> {
        let body = self
            .request(Method::GET, uri, Bytes::new())
            .await
            .map_err(|e| format!("GET: {e}"))?;
        let text = std::str::from_utf8(&body).map_err(|e| format!("GET payload: {e}"))?;
        payload::decode(text, MAX_PACKETS).map_err(|e| format!("GET payload: {e}"))
    }

    /// A POST of a text payload.
    async fn post(&mut self, uri: &Uri, body: String) -> Result<(), String> {
        self.request(Method::POST, uri, Bytes::from(body))
            .await
            .map(drop)
            .map_err(|e| format!("POST: {e}"))
    }

    async fn request(&mut self, method: Method, uri: &Uri, body: Bytes) -> Result<Bytes, String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let request = Request::builder()
            .method(method)
            .uri(uri.clone())
            .header(HOST, self.authority.as_str())
            .header(CONTENT_TYPE, "text/plain;charset=UTF-8")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    }
}
