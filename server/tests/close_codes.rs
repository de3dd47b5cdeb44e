//! Every close the server starts reaches the client as a close frame, followed by a
//! clean end of the TCP stream, even while the client is still sending.
//!
//! A server that drops its socket with unread input makes the kernel answer with a
//! reset instead of a FIN; a client still writing then often loses the close frame
//! (the conformance suite's `[EX4]` saw 1006 instead of 1009). So each case here keeps
//! the client sending when the server closes, and asserts the whole ending: the close
//! frame with its code, then the end of the stream without a reset.

mod common;

use common::{within, Polling, Stream, Ws};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use sockeye_protocol::engine::Packet;
use sockeye_server::engine::{
    CloseReason, Connection, EngineHandler, EngineIo, EngineSocket, Frame, Message,
};
use sockeye_server::EngineConfig;
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame as WsFrame};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Echoes every message; the message `close` makes the server close the session.
struct Echo;

struct EchoConnection(EngineSocket);

impl EngineHandler for Echo {
    type Connection = EchoConnection;
    fn on_open(&self, socket: EngineSocket) -> EchoConnection {
        EchoConnection(socket)
    }
}

impl Connection for EchoConnection {
    fn on_message(&mut self, message: Message) {
        let _ = match message {
            Message::Text(text) if text == "close".as_bytes() => {
                self.0.close(CloseReason::ForcedClose);
                Ok(())
            }
            Message::Text(text) => match std::str::from_utf8(&text) {
                Ok(text) => self.0.send_text(text),
                Err(e) => panic!("a text message that is not UTF-8: {e}"),
            },
            Message::Binary(data) => self.0.send(Frame::Binary(data)),
        };
    }
    fn on_close(&mut self, _reason: CloseReason) {}
}

const MAX_PAYLOAD: usize = 64 * 1024;

async fn start() -> (EngineIo<Echo>, SocketAddr) {
    let engine = EngineIo::new(
        EngineConfig {
            max_payload: MAX_PAYLOAD,
            ..EngineConfig::default()
        },
        Echo,
    );
    let addr = common::serve(axum::Router::new().merge(engine.router())).await;
    (engine, addr)
}

/// How the client saw the server end the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    /// A close frame with this code (`None`: no code), then the end of the stream.
    Clean(Option<u16>),
    /// A close frame, then a connection error (a reset, or a write that failed on one).
    Reset(Option<u16>, String),
    /// No close frame: the stream failed or ended first.
    NoCloseFrame(String),
}

/// Reads until the close frame, then until the end of the stream. The first data
/// frame (an echo) is reported on `first_reply`.
async fn ending(
    stream: &mut SplitStream<Stream>,
    mut first_reply: Option<oneshot::Sender<()>>,
) -> Ending {
    let code = loop {
        match stream.next().await {
            Some(Ok(WsMessage::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(WsMessage::Text(_) | WsMessage::Binary(_))) => {
                if let Some(tx) = first_reply.take() {
                    let _ = tx.send(());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Ending::NoCloseFrame(e.to_string()),
            None => return Ending::NoCloseFrame("end of stream".into()),
        }
    };
    loop {
        match stream.next().await {
            None => return Ending::Clean(code),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Ending::Reset(code, e.to_string()),
        }
    }
}

/// Sends `messages` in order (a failed send ends the sending: the server may have
/// closed) while reading concurrently, and returns how the server ended the socket.
async fn send_while_reading(ws: Ws, messages: Vec<WsMessage>) -> Ending {
    send_while_reading_then(ws, messages, None).await
}

/// Like [`send_while_reading`]; the first echo is reported on `first_reply`.
async fn send_while_reading_then(
    ws: Ws,
    messages: Vec<WsMessage>,
    first_reply: Option<oneshot::Sender<()>>,
) -> Ending {
    let (mut sink, mut stream) = ws.stream.split();
    let send = async move {
        for message in messages {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        sink
    };
    let (_sink, ending) = within("the server's close", async {
        tokio::join!(send, ending(&mut stream, first_reply))
    })
    .await;
    ending
}

/// A message packet of `len` bytes.
fn text_of(len: usize) -> WsMessage {
    WsMessage::text(format!("4{}", "x".repeat(len - 1)))
}

/// `n` messages of 8 KiB that keep the client sending for a while (512 KiB for 64).
fn burst(n: usize) -> Vec<WsMessage> {
    (0..n).map(|_| text_of(8 * 1024)).collect()
}

/// `first`, then a burst.
fn then_burst(first: WsMessage) -> Vec<WsMessage> {
    let mut messages = vec![first];
    messages.extend(burst(64));
    messages
}

/// Runs `case` `rounds` times, `parallel` at once, and asserts every ending.
async fn repeat<F, Fut>(rounds: usize, parallel: usize, expected: Ending, case: F)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Ending> + Send,
{
    let mut workers = Vec::new();
    for worker in 0..parallel {
        let case = case.clone();
        let share = rounds / parallel + usize::from(worker < rounds % parallel);
        workers.push(tokio::spawn(async move {
            let mut endings = Vec::new();
            for _ in 0..share {
                endings.push(case().await);
            }
            endings
        }));
    }
    let mut wrong = std::collections::BTreeMap::<String, usize>::new();
    for worker in workers {
        for ending in worker.await.expect("worker") {
            if ending != expected {
                *wrong.entry(format!("{ending:?}")).or_default() += 1;
            }
        }
    }
    let failed: usize = wrong.values().sum();
    assert!(
        failed == 0,
        "{failed}/{rounds} endings were not {expected:?}: {wrong:#?}"
    );
}

/// The conformance suite's `[EX4]`, many times over and several at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_refused_with_1009_every_time() {
    let (_engine, addr) = start().await;
    // Eight times maxPayload: the server reads its header only, so most of it is
    // still unread when the server closes.
    repeat(200, 8, Ending::Clean(Some(1009)), move || async move {
        let (ws, _) = Ws::open(addr).await;
        send_while_reading(ws, vec![text_of(8 * MAX_PAYLOAD)]).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_by_the_server_reaches_a_client_that_is_still_sending() {
    let (_engine, addr) = start().await;
    // The handler closes the session on `close` (a close with no code, as engine.io's).
    repeat(40, 4, Ending::Clean(None), move || async move {
        let (ws, _) = Ws::open(addr).await;
        send_while_reading(ws, then_burst(WsMessage::text("4close"))).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_engine_io_packet_is_answered_with_a_close_frame() {
    let (_engine, addr) = start().await;
    repeat(40, 4, Ending::Clean(None), move || async move {
        let (ws, _) = Ws::open(addr).await;
        send_while_reading(ws, then_burst(WsMessage::text("x"))).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_is_not_utf8_is_refused_with_1007() {
    let (_engine, addr) = start().await;
    repeat(40, 4, Ending::Clean(Some(1007)), move || async move {
        let (ws, _) = Ws::open(addr).await;
        let not_utf8 = WsFrame::message(vec![b'4', 0xff, 0xfe], OpCode::Data(Data::Text), true);
        send_while_reading(ws, then_burst(WsMessage::Frame(not_utf8))).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_an_unknown_kind_is_refused_with_1002() {
    let (_engine, addr) = start().await;
    repeat(40, 4, Ending::Clean(Some(1002)), move || async move {
        let (ws, _) = Ws::open(addr).await;
        let unknown = WsFrame::message(vec![b'4'], OpCode::Data(Data::Reserved(3)), true);
        send_while_reading(ws, then_burst(WsMessage::Frame(unknown))).await
    })
    .await;
}

/// The answer to the client's close frame is a server-side close frame too (the server
/// used to drop the socket without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_by_the_client_is_answered() {
    let (_engine, addr) = start().await;
    repeat(40, 4, Ending::Clean(Some(1000)), move || async move {
        let (ws, _) = Ws::open(addr).await;
        let close = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        send_while_reading(ws, vec![WsMessage::Close(Some(close))]).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_websocket_for_a_session_is_closed_with_a_close_frame() {
    let (_engine, addr) = start().await;
    repeat(40, 4, Ending::Clean(None), move || async move {
        let (polling, _) = Polling::open(addr).await;
        let query = format!("&sid={}", polling.sid);
        // The first WebSocket claims the upgrade; the second is refused.
        let _first = Ws::connect(addr, &query).await;
        let second = Ws::connect(addr, &query).await;
        send_while_reading(second, then_burst(WsMessage::text("2probe"))).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_closes_its_websocket_with_a_close_frame() {
    let (_engine, addr) = start().await;
    repeat(40, 4, Ending::Clean(None), move || async move {
        let (polling, _) = Polling::open(addr).await;
        let ws = Ws::connect(addr, &format!("&sid={}", polling.sid)).await;
        // A message where the probe belongs.
        let ending = send_while_reading(ws, then_burst(WsMessage::text("4hello"))).await;
        // The session goes on over polling.
        polling.post(&[Packet::Message("still here".into())]).await;
        assert_eq!(
            polling.get().await,
            vec![Packet::Message("still here".into())]
        );
        ending
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_closes_every_websocket_while_its_client_sends() {
    for _ in 0..5 {
        let (engine, addr) = start().await;
        let mut clients = Vec::new();
        let mut replied = Vec::new();
        for _ in 0..4 {
            let (ws, _) = Ws::open(addr).await;
            let (tx, rx) = oneshot::channel();
            replied.push(rx);
            // 2 MiB: the clients are still sending when the shutdown begins.
            clients.push(tokio::spawn(send_while_reading_then(
                ws,
                burst(256),
                Some(tx),
            )));
        }
        for rx in replied {
            within("a first echo", rx).await.expect("an echo");
        }
        within(
            "the shutdown",
            engine.close_all(CloseReason::ServerShuttingDown),
        )
        .await;
        for client in clients {
            assert_eq!(client.await.expect("client"), Ending::Clean(None));
        }
    }
}
