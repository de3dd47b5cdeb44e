//! The server's HTTP and WebSocket entry points, fed by the fuzzer: one in-process
//! `SocketIo` (with an echo handler on `/`) serves every input, so state from earlier
//! inputs (sessions, half-read binary packets) is part of what is explored.
//!
//! Each input is split at its first `0xff` byte: the head is a query string for a bare
//! request to the endpoint, the tail the body of a long-polling POST and the frames of a
//! WebSocket session (text and binary). Whatever the input, every request must be
//! answered with a status the endpoint documents, no task may panic (libFuzzer's hook
//! aborts on any panic), and a well-behaved client must still be echoed afterwards.

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use sockeye_server::SocketIo;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

struct Server {
    runtime: Runtime,
    app: Router,
    addr: SocketAddr,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let io = runtime.block_on(async {
            let io = SocketIo::builder()
                .max_payload(64 * 1024)
                .ping_interval(Duration::from_millis(500))
                .ping_timeout(Duration::from_millis(500))
                .build();
            io.of("/").on_connection(|socket| async move {
                socket.on("echo", |_, args: sockeye_server::Args| async move { args });
            });
            io
        });
        let app = io.router::<()>();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let served = app.clone();
        runtime.spawn(async move { axum::serve(listener, served).await });
        Server { runtime, app, addr }
    })
}

async fn call(app: &Router, method: Method, query: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(format!("/socket.io/?{query}"))
        .body(Body::from(body))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    (status, body.to_vec())
}

/// A polling session joined to `/`; its sid.
async fn polling_session(app: &Router) -> String {
    let (status, body) = call(app, Method::GET, "EIO=4&transport=polling", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).expect("open packet is text");
    let start = text.find("\"sid\":\"").expect("sid") + 7;
    let sid = text[start..].split('"').next().expect("sid").to_owned();
    let (status, _) = call(app, Method::POST, &format!("EIO=4&transport=polling&sid={sid}"), b"40".to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    sid
}

/// One fuzz input.
pub fn server_entry(data: &[u8]) {
    let server = server();
    let (head, tail) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    server.runtime.block_on(async {
        let app = &server.app;
        // A bare request with the input as its query string.
        // Bytes a URI cannot hold are percent-encoded; `=`, `&` and `%` stay, so that
        // the fuzzer can still shape parameters (and broken escapes).
        let query: String = head
            .iter()
            .map(|&b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'=' | b'&' | b'%' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        for method in [Method::GET, Method::POST, Method::PUT] {
            let (status, _) = tokio::time::timeout(
                Duration::from_secs(5),
                call(app, method, &query, tail.to_vec()),
            )
            .await
            .unwrap_or((StatusCode::OK, Vec::new()));
            assert!(
                matches!(status.as_u16(), 200 | 204 | 400 | 403 | 404 | 405 | 413 | 503),
                "{status} for {query:?}"
            );
        }
        // The tail as the body of a polling POST to a joined session.
        let sid = polling_session(app).await;
        let (status, _) = call(app, Method::POST, &format!("EIO=4&transport=polling&sid={sid}"), tail.to_vec()).await;
        assert!(matches!(status.as_u16(), 200 | 400 | 413), "{status} for a POST body");
        let _ = call(app, Method::POST, &format!("EIO=4&transport=polling&sid={sid}"), b"1".to_vec()).await;
        // The tail's chunks as WebSocket frames of a joined session.
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        if let Ok(Ok((mut ws, _))) =
            tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(url)).await
        {
            let _ = ws.next().await;
            let _ = ws.send(Message::text("40")).await;
            for (i, chunk) in tail.split(|&b| b == 0xfe).enumerate() {
                let frame = if i % 2 == 0 {
                    Message::text(String::from_utf8_lossy(chunk).into_owned())
                } else {
                    Message::binary(chunk.to_vec())
                };
                if ws.send(frame).await.is_err() {
                    break;
                }
            }
            let _ = ws.close(None).await;
        }
        // A well-behaved client is still served.
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("a good client connects");
        let _ = ws.next().await;
        ws.send(Message::text("40")).await.expect("join");
        ws.send(Message::text(r#"421["echo","still here"]"#)).await.expect("echo");
        let answered = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    if text.starts_with("431[") {
                        return true;
                    }
                }
            }
            false
        })
        .await;
        assert_eq!(answered, Ok(true), "the good client was not echoed");
        let _ = ws.close(None).await;
    });
}
