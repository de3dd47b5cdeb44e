//! A raw Engine.IO / Socket.IO test client over real sockets, and a server launcher.
//!
//! Every wait is bounded by [`WAIT`]; nothing here sleeps to synchronise.
#![allow(dead_code)]

use axum::Router;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::{self as eio, payload};
use sockeye_protocol::socket::{Args, Decoder, Packet};
use sockeye_protocol::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The bound of every single wait in the tests.
pub const WAIT: Duration = Duration::from_secs(15);

/// Awaits `fut`, failing the test after [`WAIT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Serves `app` on 127.0.0.1 with a port chosen by the OS.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// Serves a Socket.IO server's router (see [`serve`]).
pub async fn start(io: &sockeye_server::SocketIo) -> SocketAddr {
    serve(Router::new().merge(io.router())).await
}

/// The next report a test's handlers sent on `rx`.
pub async fn next<T>(rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>) -> T {
    within("a report from the server", rx.recv())
        .await
        .expect("report channel open")
}

/// Like [`serve`], with the peer address available to handlers (`ConnectInfo`).
pub async fn serve_with_connect_info(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve")
    });
    addr
}

/// The endpoint's URL with `EIO=4` and extra query parameters.
pub fn http_url(addr: SocketAddr, query: &str) -> String {
    format!("http://{addr}/socket.io/?EIO=4&{query}")
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `{"code":..,"message":..}` of an Engine.IO error.
    pub fn error(&self) -> (i64, String) {
        let v: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("error body {:?} is not JSON: {e}", self.body));
        (
            v["code"].as_i64().expect("numeric code"),
            v["message"].as_str().expect("message").to_owned(),
        )
    }

    /// Asserts an Engine.IO error with this status and code.
    pub fn assert_error(&self, status: u16, code: i64) {
        assert_eq!(self.status, status, "unexpected reply {self:?}");
        assert_eq!(self.error().0, code, "unexpected reply {self:?}");
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }
}

async fn read_reply(request: reqwest::RequestBuilder) -> Reply {
    let response = within("an HTTP response", request.send())
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = within("an HTTP body", response.text())
        .await
        .expect("HTTP body");
    Reply {
        status,
        headers,
        body,
    }
}

/// A plain HTTP client for the endpoint.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub addr: SocketAddr,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http {
            client: reqwest::Client::new(),
            addr,
        }
    }

    pub async fn get(&self, query: &str) -> Reply {
        read_reply(self.client.get(http_url(self.addr, query))).await
    }

    pub async fn get_with(&self, query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(http_url(self.addr, query));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read_reply(request).await
    }

    pub async fn post(&self, query: &str, body: impl Into<reqwest::Body>) -> Reply {
        read_reply(self.client.post(http_url(self.addr, query)).body(body)).await
    }

    pub async fn request(&self, request: reqwest::RequestBuilder) -> Reply {
        read_reply(request).await
    }
}

/// One long-polling session.
#[derive(Clone)]
pub struct Polling {
    pub http: Http,
    pub sid: String,
}

impl Polling {
    /// Performs the polling handshake.
    pub async fn open(addr: SocketAddr) -> (Polling, eio::OpenPacket) {
        let http = Http::new(addr);
        let reply = http.get("transport=polling").await;
        assert_eq!(reply.status, 200, "handshake refused: {reply:?}");
        let handshake = match eio::Packet::decode_text(&reply.body) {
            Ok(eio::Packet::Open(h)) => h,
            other => panic!("not an open packet: {other:?} from {:?}", reply.body),
        };
        let sid = handshake.sid.clone();
        (Polling { http, sid }, handshake)
    }

    fn query(&self) -> String {
        format!("transport=polling&sid={}", self.sid)
    }

    pub async fn get_raw(&self) -> Reply {
        self.http.get(&self.query()).await
    }

    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> Reply {
        self.http.post(&self.query(), body).await
    }

    /// A GET that must succeed; its payload decoded.
    pub async fn get(&self) -> Vec<eio::Packet> {
        let reply = self.get_raw().await;
        assert_eq!(reply.status, 200, "GET failed: {reply:?}");
        payload::decode(&reply.body, usize::MAX)
            .unwrap_or_else(|e| panic!("bad payload {:?}: {e}", reply.body))
    }

    /// A POST of these packets that must succeed.
    pub async fn post(&self, packets: &[eio::Packet]) {
        let reply = self.post_raw(payload::encode(packets)).await;
        assert_eq!(reply.status, 200, "POST failed: {reply:?}");
        assert_eq!(reply.body, "ok");
    }

    /// Polls until the server no longer knows the session (400, code 1). A GET that is
    /// answered while the session closes must carry only pings, noops or the close.
    pub async fn wait_gone(&self) {
        loop {
            let reply = self.get_raw().await;
            if reply.status == 400 {
                reply.assert_error(400, 1);
                return;
            }
            assert_eq!(reply.status, 200, "unexpected reply {reply:?}");
        }
    }

    /// Posts a Socket.IO packet (text and attachments).
    pub async fn post_sio(&self, packet: &Packet) {
        let encoded = packet.encode();
        let mut packets = vec![eio::Packet::Message(encoded.text)];
        packets.extend(encoded.attachments.into_iter().map(eio::Packet::Binary));
        self.post(&packets).await;
    }
}

/// Feeds Engine.IO packets of a polling payload to a Socket.IO decoder.
pub fn decode_sio(decoder: &mut Decoder, packets: Vec<eio::Packet>) -> Vec<Packet> {
    let mut out = Vec::new();
    for packet in packets {
        let decoded = match packet {
            eio::Packet::Message(text) => decoder.decode_text(text),
            eio::Packet::Binary(data) => decoder.decode_binary(data),
            _ => continue,
        };
        if let Some(p) = decoded.expect("valid Socket.IO packet from the server") {
            out.push(p);
        }
    }
    out
}

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The WebSocket URL of the endpoint with extra query parameters.
pub fn ws_url(addr: SocketAddr, query: &str) -> String {
    format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{query}")
}

/// A raw WebSocket to the endpoint.
pub struct Ws {
    pub stream: Stream,
}

/// What reading a WebSocket gave.
#[derive(Debug)]
pub enum Read {
    Text(String),
    Binary(bytes::Bytes),
    /// A close frame.
    CloseFrame,
    /// The end of the stream, or a connection error, without a close frame.
    Closed,
}

impl Ws {
    /// Connects; `query` is appended to the URL (e.g. `&sid=...`).
    pub async fn connect(addr: SocketAddr, query: &str) -> Ws {
        Self::connect_with(addr, query, &[]).await
    }

    /// Connects with extra request headers.
    pub async fn connect_with(addr: SocketAddr, query: &str, headers: &[(&str, &str)]) -> Ws {
        let mut request = ws_url(addr, query)
            .into_client_request()
            .expect("ws request");
        for (name, value) in headers {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        let (stream, _) = within(
            "the WebSocket handshake",
            tokio_tungstenite::connect_async(request),
        )
        .await
        .expect("WebSocket connect");
        Ws { stream }
    }

    /// Connects with a tiny TCP receive buffer, for a client that will stop reading.
    pub async fn connect_small_buffer(addr: SocketAddr) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = within("a TCP connect", socket.connect(addr))
            .await
            .expect("connect");
        let (stream, _) = within(
            "the WebSocket handshake",
            tokio_tungstenite::client_async(ws_url(addr, ""), MaybeTlsStream::Plain(tcp)),
        )
        .await
        .expect("WebSocket connect");
        Ws { stream }
    }

    /// A WebSocket-only session: connects and reads the open packet.
    pub async fn open(addr: SocketAddr) -> (Ws, eio::OpenPacket) {
        let mut ws = Ws::connect(addr, "").await;
        let handshake = match ws.recv().await {
            eio::Packet::Open(h) => h,
            other => panic!("first frame is not an open packet: {other:?}"),
        };
        (ws, handshake)
    }

    /// The next data frame, or `Closed`.
    pub async fn read(&mut self) -> Read {
        within("a WebSocket frame", async {
            loop {
                match self.stream.next().await {
                    Some(Ok(WsMessage::Text(text))) => return Read::Text(text.as_str().to_owned()),
                    Some(Ok(WsMessage::Binary(data))) => return Read::Binary(data),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
                    Some(Ok(WsMessage::Close(_))) => return Read::CloseFrame,
                    Some(Err(_)) | None => return Read::Closed,
                }
            }
        })
        .await
    }

    /// The next Engine.IO packet; fails if the socket closed.
    pub async fn recv(&mut self) -> eio::Packet {
        match self.read().await {
            Read::Text(text) => eio::Packet::decode_text(&text)
                .unwrap_or_else(|e| panic!("bad Engine.IO frame {text:?}: {e}")),
            Read::Binary(data) => eio::Packet::Binary(data),
            Read::Closed | Read::CloseFrame => panic!("the WebSocket closed"),
        }
    }

    /// Reads until the socket closes; returns the data frames read before.
    pub async fn expect_closed(&mut self) -> Vec<Read> {
        let mut seen = Vec::new();
        loop {
            match self.read().await {
                Read::Closed | Read::CloseFrame => return seen,
                other => seen.push(other),
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        within("a WebSocket send", self.stream.send(WsMessage::text(text)))
            .await
            .expect("send text");
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        within(
            "a WebSocket send",
            self.stream
                .send(WsMessage::Binary(bytes::Bytes::copy_from_slice(data))),
        )
        .await
        .expect("send binary");
    }

    pub async fn send_packet(&mut self, packet: &eio::Packet) {
        match packet {
            eio::Packet::Binary(data) => self.send_binary(data).await,
            other => self.send_text(&other.encode_text()).await,
        }
    }

    /// Closes the WebSocket from the client side.
    pub async fn close(&mut self) {
        within("a WebSocket close", self.stream.close(None))
            .await
            .expect("close");
    }
}

/// A Socket.IO client over a WebSocket-only session.
pub struct Sio {
    pub ws: Ws,
    pub handshake: eio::OpenPacket,
    decoder: Decoder,
    /// Whether pings are answered (on by default).
    pub answer_pings: bool,
    /// How many pings were seen.
    pub pings: usize,
}

impl Sio {
    /// Opens a session (no namespace joined yet).
    pub async fn open(addr: SocketAddr) -> Sio {
        let (ws, handshake) = Ws::open(addr).await;
        Sio::from_ws(ws, handshake)
    }

    /// Wraps a raw WebSocket whose first frame (the open packet) was not read yet.
    pub async fn from_fresh_ws(mut ws: Ws) -> Sio {
        let handshake = match ws.recv().await {
            eio::Packet::Open(h) => h,
            other => panic!("first frame is not an open packet: {other:?}"),
        };
        Sio::from_ws(ws, handshake)
    }

    pub fn from_ws(ws: Ws, handshake: eio::OpenPacket) -> Sio {
        Sio {
            ws,
            handshake,
            decoder: Decoder::default(),
            answer_pings: true,
            pings: 0,
        }
    }

    /// Opens a session and joins `/`; returns the client and its socket id.
    pub async fn connect(addr: SocketAddr) -> (Sio, String) {
        let mut client = Sio::open(addr).await;
        let sid = client.join("/", None).await;
        (client, sid)
    }

    /// Joins a namespace and expects the CONNECT answer; returns the socket id.
    pub async fn join(&mut self, namespace: &str, auth: Option<Value>) -> String {
        match self.try_join(namespace, auth).await {
            Packet::Connect {
                namespace: ns,
                data: Some(data),
            } if ns == namespace => data
                .get("sid")
                .and_then(Value::as_str)
                .expect("CONNECT carries a sid")
                .to_owned(),
            other => panic!("join of {namespace} answered with {other:?}"),
        }
    }

    /// Sends CONNECT and returns the answer, whatever it is.
    pub async fn try_join(&mut self, namespace: &str, auth: Option<Value>) -> Packet {
        self.send(&Packet::Connect {
            namespace: namespace.to_owned(),
            data: auth,
        })
        .await;
        self.recv().await
    }

    /// Sends a Socket.IO packet: its text, then its attachments.
    pub async fn send(&mut self, packet: &Packet) {
        let encoded = packet.encode_with_prefix("4");
        self.ws.send_text(&encoded.text).await;
        for attachment in encoded.attachments {
            self.ws.send_binary(&attachment).await;
        }
    }

    /// Emits an event to the main namespace.
    pub async fn emit(&mut self, event: &str, args: Vec<Value>, id: Option<u64>) {
        let args = Args::from(args);
        self.emit_args(event, args, id).await;
    }

    /// Emits an event with arguments already serialized.
    pub async fn emit_args(&mut self, event: &str, args: Args, id: Option<u64>) {
        self.send(&Packet::event("/", event, args, id)).await;
    }

    /// Emits an event and returns the arguments of its ack, as values.
    pub async fn call(&mut self, event: &str, args: Vec<Value>, id: u64) -> Vec<Value> {
        let args = Args::from(args);
        values(self.call_args(event, args, id).await)
    }

    /// Emits an event and returns the arguments of its ack as they came.
    pub async fn call_args(&mut self, event: &str, args: Args, id: u64) -> Args {
        self.emit_args(event, args, Some(id)).await;
        match self.recv().await {
            Packet::Ack { id: got, args, .. } if got == id => args,
            other => panic!("expected ack {id} of {event}, got {other:?}"),
        }
    }

    /// The next Socket.IO packet; pings are answered (or skipped) on the way.
    pub async fn recv(&mut self) -> Packet {
        loop {
            let decoded = match self.ws.recv().await {
                eio::Packet::Ping(data) => {
                    self.pings += 1;
                    if self.answer_pings {
                        self.ws.send_packet(&eio::Packet::Pong(data)).await;
                    }
                    continue;
                }
                eio::Packet::Message(text) => self.decoder.decode_text(text),
                eio::Packet::Binary(data) => self.decoder.decode_binary(data),
                other => panic!("unexpected Engine.IO packet {other:?}"),
            };
            if let Some(packet) = decoded.expect("valid Socket.IO packet from the server") {
                return packet;
            }
        }
    }

    /// The next packet, which must be an event; its name, arguments (as values) and
    /// ack id.
    pub async fn recv_event(&mut self) -> (String, Vec<Value>, Option<u64>) {
        let (name, args, id) = self.recv_event_args().await;
        (name, values(args), id)
    }

    /// The next packet, which must be an event; its name, arguments as they came and
    /// ack id.
    pub async fn recv_event_args(&mut self) -> (String, Args, Option<u64>) {
        match self.recv().await {
            Packet::Event { name, args, id, .. } => (name, args, id),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The next packet, which must be this event; its arguments.
    pub async fn expect_event(&mut self, event: &str) -> Vec<Value> {
        let (name, args, _) = self.recv_event().await;
        assert_eq!(name, event, "unexpected event with args {args:?}");
        args
    }
}

/// Received arguments as values; fails the test when they cannot be read.
pub fn values(args: Args) -> Vec<Value> {
    args.values()
        .unwrap_or_else(|e| panic!("arguments {args:?} are not values: {e}"))
}

/// Reports each socket's disconnect reason (with its id) on the channel.
/// (Every socket of `/` also answers `echo` with its arguments.)
pub fn report_disconnects(
    io: &sockeye_server::SocketIo,
    tx: tokio::sync::mpsc::UnboundedSender<(String, sockeye_server::DisconnectReason)>,
) {
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            socket.on("echo", |_socket, args: Args| async move { args });
            report_disconnect(&socket, tx);
        }
    });
}

/// Reports the socket's disconnect reason, with its id, on the channel.
pub fn report_disconnect(
    socket: &sockeye_server::Socket,
    tx: tokio::sync::mpsc::UnboundedSender<(String, sockeye_server::DisconnectReason)>,
) {
    socket.on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            tx.send((socket.id().to_owned(), reason)).ok();
        }
    });
}
