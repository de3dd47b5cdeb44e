//! The server's bounds under pressure: too many connections, too many pending acks,
//! too many attachments. A client that stops reading is `memory_bound.rs`, a test
//! binary of its own, since it measures the process's memory.

mod common;

use common::{report_disconnects, start, within, Http, Polling, Sio, Ws};
use sockeye_server::{DisconnectReason, SocketIo};
use tokio::sync::mpsc::unbounded_channel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_bound_are_refused_with_503() {
    let io = SocketIo::builder().max_connections(2).build();
    let addr = start(&io).await;
    let (polling, _) = Polling::open(addr).await;
    let (_ws, _) = Ws::open(addr).await;
    // A WebSocket session is counted once its task runs, just after the open packet.
    within("two sessions", async {
        while io.connection_count() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let refused = Http::new(addr).get("EIO=4&transport=polling").await;
    refused.assert_error(503, 3);
    assert_eq!(refused.error().1, "Too many connections");
    // A WebSocket handshake is refused the same way, before the upgrade.
    let ws = tokio_tungstenite::connect_async(common::ws_url(addr, "")).await;
    match ws {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected a 503, got {:?}", other.map(|_| ())),
    }
    // Room again once a session is gone.
    polling.post_raw("1").await;
    polling.wait_gone().await;
    let (_again, _) = Polling::open(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_past_the_bound_fail_at_once() {
    let config = sockeye_server::Config {
        max_pending_acks: 2,
        ..Default::default()
    };
    let io = SocketIo::builder().config(config).build();
    let addr = start(&io).await;
    let (_client, sid) = Sio::connect(addr).await;
    let socket = io.of("/").socket(&sid).expect("socket");
    // The client never answers: two acks wait, the third is refused at once.
    let first = socket.emit_with_ack("question", 1);
    let second = socket.emit_with_ack("question", 2);
    let third = within("the refusal", socket.emit_with_ack("question", 3)).await;
    assert!(
        matches!(third, Err(sockeye_server::AckError::TooManyPending)),
        "{third:?}"
    );
    drop((first, second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_announcing_too_many_attachments_closes_its_connection() {
    let config = sockeye_server::Config {
        max_attachments: 2,
        ..Default::default()
    };
    let io = SocketIo::builder().config(config).build();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = start(&io).await;
    let (mut within_bound, _) = Sio::connect(addr).await;
    within_bound
        .ws
        .send_text(r#"452-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await;
    within_bound.ws.send_binary(&[1]).await;
    within_bound.ws.send_binary(&[2]).await;
    let (mut over, sid) = Sio::connect(addr).await;
    over.ws
        .send_text(r#"453-["e",{"_placeholder":true,"num":0}]"#)
        .await;
    over.ws.expect_closed().await;
    let (gone, reason) = within("the disconnect", reasons.recv())
        .await
        .expect("reason");
    assert_eq!((gone, reason), (sid, DisconnectReason::ParseError));
    assert_eq!(
        io.of("/").sockets().len(),
        1,
        "the packet within the bound was fine"
    );
}
