//! One Socket.IO client session over Engine.IO long-polling, as the official client
//! runs it: one GET pending at all times, and a POST for what it has to send (all its
//! queued packets in one payload). Every payload goes through `sockeye-protocol`.
//!
//! A session holds two HTTP/1.1 keep-alive connections, one for the pending GET and one
//! for POSTs, as a browser tab does.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use sockeye_protocol::engine::{payload, Packet as EnginePacket};
use sockeye_protocol::socket::{Decoder, Packet};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

/// The most packets one GET may carry back (the server's own bound is larger).
const MAX_PACKETS: usize = 100_000;

/// A joined client of `/` over long-polling. Packets from the server arrive through
/// [`PollingSession::next`], read by a task that keeps one GET pending.
pub struct PollingSession {
    /// The POST connection: one POST at a time, as the protocol requires (the reader's
    /// pongs go through it too).
    posting: Arc<Mutex<Connection>>,
    endpoint: Uri,
    incoming: mpsc::UnboundedReceiver<Result<Packet, String>>,
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
        let mut getting = Connection::open(authority).await?;
        let open = getting.get(&Uri::from_static(base)).await?;
        let sid = match open.as_slice() {
            [EnginePacket::Open(handshake)] => handshake.sid.clone(),
            other => return Err(format!("expected the open packet, got {other:?}")),
        };
        let endpoint: Uri = format!("{base}&sid={sid}")
            .parse()
            .map_err(|e| format!("session URI: {e}"))?;
        let posting = Arc::new(Mutex::new(Connection::open(authority).await?));
        let (tx, incoming) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(getting, endpoint.clone(), posting.clone(), tx));
        let mut session = PollingSession {
            posting,
            endpoint,
            incoming,
            reader,
        };
        session
            .post(&[Packet::Connect {
                namespace: "/".into(),
                data: None,
            }])
            .await?;
        match session.next().await? {
            Packet::Connect { .. } => Ok(session),
            other => Err(format!("join refused: {other:?}")),
        }
    }

    /// The next packet from the server.
    pub async fn next(&mut self) -> Result<Packet, String> {
        self.incoming
            .recv()
            .await
            .unwrap_or_else(|| Err("the session ended".into()))
    }

    /// The next packet if one has arrived; `None` rather than wait.
    pub fn try_next(&mut self) -> Result<Option<Packet>, String> {
        match self.incoming.try_recv() {
            Ok(packet) => packet.map(Some),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err("the session ended".into()),
        }
    }

    /// Sends packets in one POST.
    pub async fn post(&self, packets: &[Packet]) -> Result<(), String> {
        let engine: Vec<EnginePacket> = packets
            .iter()
            .map(|p| EnginePacket::Message(p.encode().text))
            .collect();
        let body = payload::encode(&engine);
        self.posting.lock().await.post(&self.endpoint, body).await
    }

    /// Leaves: a close packet, as the official client sends.
    pub async fn close(self) {
        let _ = self
            .posting
            .lock()
            .await
            .post(&self.endpoint, "1".to_owned())
            .await;
        self.reader.abort();
    }
}

/// Keeps one GET pending and hands over what each one brings.
async fn read_loop(
    mut getting: Connection,
    endpoint: Uri,
    posting: Arc<Mutex<Connection>>,
    tx: mpsc::UnboundedSender<Result<Packet, String>>,
) {
    let mut decoder = Decoder::default();
    loop {
        let packets = match getting.get(&endpoint).await {
            Ok(packets) => packets,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        for packet in packets {
            let decoded = match packet {
                EnginePacket::Message(text) => decoder.decode_text(text),
                EnginePacket::Binary(data) => decoder.decode_binary(data),
                EnginePacket::Ping(_) => {
                    let pong = posting.lock().await.post(&endpoint, "3".to_owned()).await;
                    if let Err(e) = pong {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    continue;
                }
                EnginePacket::Close => {
                    let _ = tx.send(Err("the server closed the session".into()));
                    return;
                }
                _ => continue,
            };
            match decoded {
                Ok(Some(packet)) => {
                    if tx.send(Ok(packet)).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = tx.send(Err(format!("bad packet: {e}")));
                    return;
                }
            }
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
