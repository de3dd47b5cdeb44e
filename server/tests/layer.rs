//! `SocketIo::layer`: a real client reaches Sockeye through the layer over both
//! transports, and the routes of the router it wraps still answer.

mod common;

use axum::routing::get;
use axum::Router;
use common::{serve, within, Http, Polling, Sio};
use sockeye_protocol::socket::Packet;
use sockeye_server::{SocketIo, Value};
use std::net::SocketAddr;

/// An app with one route of its own and the Socket.IO endpoint as a layer; `/` acks
/// `echo` with its arguments.
async fn app() -> SocketAddr {
    let io = SocketIo::new();
    io.of("/").on_connection(|socket| async move {
        socket.on("echo", |_, args: Vec<Value>| async move { args });
    });
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .layer(io.layer());
    serve(app).await
}

#[tokio::test]
async fn websocket_through_the_layer() {
    let addr = app().await;
    let (mut client, _sid) = within("connect", Sio::connect(addr)).await;
    let answer = client.call("echo", vec!["hi".into()], 1).await;
    assert_eq!(answer, vec![Value::from("hi")]);
}

#[tokio::test]
async fn polling_through_the_layer() {
    let addr = app().await;
    let (polling, _) = within("handshake", Polling::open(addr)).await;
    polling
        .post_sio(&Packet::Connect {
            namespace: "/".into(),
            data: None,
        })
        .await;
    let mut decoder = Default::default();
    let packets = common::decode_sio(&mut decoder, polling.get().await);
    assert!(
        matches!(packets.as_slice(), [Packet::Connect { namespace, data: Some(_) }] if namespace == "/"),
        "CONNECT answered with {packets:?}"
    );
}

#[tokio::test]
async fn the_inner_routes_still_answer() {
    let addr = app().await;
    let http = Http::new(addr);
    let health = http
        .request(http.client.get(format!("http://{addr}/health")))
        .await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let missing = http
        .request(http.client.get(format!("http://{addr}/nowhere")))
        .await;
    assert_eq!(
        missing.status, 404,
        "what the router does not route stays a 404"
    );
    // The endpoint without its trailing slash is the endpoint too.
    let handshake = http
        .request(
            http.client
                .get(format!("http://{addr}/socket.io?EIO=4&transport=polling")),
        )
        .await;
    assert_eq!(handshake.status, 200);
    assert!(handshake.body.starts_with('0'), "{handshake:?}");
}
