//! Admission: the server refuses browser requests from origins it does not allow (on
//! both transports and on the upgrade), `allow_request` refuses what the application
//! refuses, and `on_connection_error` hears of every refusal. WebSockets are not
//! covered by CORS, so these checks are the only thing between a hostile page and a
//! session that carries the user's cookies.

mod common;

use common::{within, Http, Polling, Ws};
use sockeye_protocol::engine::Packet;
use sockeye_server::{Builder, ConnectionError, Cors, Refusal, SocketIo};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const EVIL: &str = "https://evil.example";

async fn start(builder: Builder) -> (SocketIo, SocketAddr) {
    let io = builder.build();
    let addr = common::serve_with_connect_info(axum::Router::new().merge(io.router())).await;
    (io, addr)
}

/// The page origin a browser on the server's own address sends.
fn own_origin(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A WebSocket handshake with these headers: `Ok(socket)` if the server switched
/// protocols, else the refusal's status and body.
async fn ws_attempt(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, (u16, String)> {
    let mut request = common::ws_url(addr, query)
        .into_client_request()
        .expect("ws request");
    for (name, value) in headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    match within(
        "the WebSocket handshake",
        tokio_tungstenite::connect_async(request),
    )
    .await
    {
        Ok((stream, _)) => Ok(Ws { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            Err((
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
        Err(e) => panic!("WebSocket handshake: {e}"),
    }
}

fn assert_forbidden(refused: Result<Ws, (u16, String)>) {
    match refused {
        Err((status, body)) => {
            assert_eq!(status, 403, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
            assert_eq!(v["code"], 4, "{body}");
            assert_eq!(v["message"], "Forbidden", "{body}");
        }
        Ok(_) => panic!("the WebSocket was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_refuses_other_sites_on_polling() {
    let (io, addr) = start(SocketIo::builder()).await;
    let http = Http::new(addr);
    http.get_with("transport=polling", &[("Origin", EVIL)])
        .await
        .assert_error(403, 4);
    http.get_with("transport=polling", &[("Origin", "null")])
        .await
        .assert_error(403, 4);
    // Same host, another port: another origin.
    let other_port = format!("http://127.0.0.1:{}", addr.port() + 1);
    http.get_with("transport=polling", &[("Origin", &other_port)])
        .await
        .assert_error(403, 4);
    assert_eq!(io.connection_count(), 0);

    // The page's own origin, and a client that sends none, get a session.
    let own = own_origin(addr);
    let reply = http
        .get_with("transport=polling", &[("Origin", own.as_str())])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let (polling, _) = Polling::open(addr).await;

    // A hostile page that learned the sid can neither read nor write the session: a
    // text/plain POST needs no CORS preflight, so the server must check it.
    let query = format!("transport=polling&sid={}", polling.sid);
    http.get_with(&query, &[("Origin", EVIL)])
        .await
        .assert_error(403, 4);
    let forged_post = http
        .client
        .post(common::http_url(addr, &query))
        .header("Origin", EVIL)
        .body("41");
    http.request(forged_post).await.assert_error(403, 4);
    // The session is untouched: its owner still polls and posts.
    polling.post(&[Packet::Message("0".into())]).await;
    match polling.get().await.as_slice() {
        [Packet::Message(m)] => assert!(m.starts_with("0{\"sid\":"), "{m:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_refuses_other_sites_on_websocket() {
    let (io, addr) = start(SocketIo::builder()).await;
    assert_forbidden(ws_attempt(addr, "", &[("Origin", EVIL)]).await);
    assert_forbidden(ws_attempt(addr, "", &[("Origin", "null")]).await);
    assert_eq!(io.connection_count(), 0);

    let own = own_origin(addr);
    let mut ws = ws_attempt(addr, "", &[("Origin", own.as_str())])
        .await
        .expect("own origin accepted");
    assert!(matches!(ws.recv().await, Packet::Open(_)));
    let mut ws = ws_attempt(addr, "", &[]).await.expect("no origin accepted");
    assert!(matches!(ws.recv().await, Packet::Open(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_origin_cannot_upgrade_a_session() {
    let (_io, addr) = start(SocketIo::builder()).await;
    let (polling, _) = Polling::open(addr).await;
    let query = format!("&sid={}", polling.sid);
    assert_forbidden(ws_attempt(addr, &query, &[("Origin", EVIL)]).await);
    // The session still polls, and its own upgrade still works.
    polling.post(&[Packet::Message("0".into())]).await;
    assert_eq!(polling.get().await.len(), 1);
    let own = own_origin(addr);
    let mut ws = ws_attempt(addr, &query, &[("Origin", own.as_str())])
        .await
        .expect("own upgrade accepted");
    ws.send_text("2probe").await;
    assert_eq!(ws.recv().await, Packet::Pong("probe".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_list_compares_exact_origins() {
    let allowed = "http://allowed.test:8443";
    let (_io, addr) = start(SocketIo::builder().cors(Cors::Origins(vec![allowed.into()]))).await;
    let http = Http::new(addr);
    let reply = http
        .get_with("transport=polling", &[("Origin", allowed)])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let mut ws = ws_attempt(addr, "", &[("Origin", allowed)])
        .await
        .expect("listed origin accepted");
    assert!(matches!(ws.recv().await, Packet::Open(_)));
    for refused in [
        EVIL,
        "null",
        "https://allowed.test:8443",
        "http://allowed.test",
    ] {
        http.get_with("transport=polling", &[("Origin", refused)])
            .await
            .assert_error(403, 4);
        assert_forbidden(ws_attempt(addr, "", &[("Origin", refused)]).await);
    }
    // The server's own origin is not in the list: the list is the whole rule.
    let own = own_origin(addr);
    http.get_with("transport=polling", &[("Origin", own.as_str())])
        .await
        .assert_error(403, 4);
    // No Origin: not a browser page.
    assert_eq!(http.get("transport=polling").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_origin_allows_every_site() {
    let (_io, addr) = start(SocketIo::builder().cors(Cors::Any)).await;
    let http = Http::new(addr);
    for origin in [EVIL, "null"] {
        let reply = http
            .get_with("transport=polling", &[("Origin", origin)])
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let mut ws = ws_attempt(addr, "", &[("Origin", origin)])
            .await
            .expect("accepted");
        assert!(matches!(ws.recv().await, Packet::Open(_)));
    }
}

/// What `allow_request` saw: cookie, query parameter, whether a sid was named, address.
type Seen = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<SocketAddr>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_request_sees_the_request_and_refuses_with_its_status() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let builder = SocketIo::builder().allow_request({
        let seen = seen.clone();
        move |req| {
            let seen = seen.clone();
            async move {
                let token = req.cookie("token");
                seen.lock().unwrap().push((
                    token.clone(),
                    req.query.get("app").cloned(),
                    req.sid().map(str::to_owned),
                    req.address,
                ));
                match token.as_deref() {
                    Some("good") => Ok(()),
                    _ => Err(Refusal::new(401, "no valid token")),
                }
            }
        }
    });
    let (io, addr) = start(builder).await;
    let http = Http::new(addr);

    let reply = http
        .get_with("transport=polling&app=x", &[("Cookie", "a=1; token=bad")])
        .await;
    reply.assert_error(401, 4);
    assert_eq!(reply.error().1, "no valid token");
    match ws_attempt(addr, "&app=y", &[]).await {
        Err((401, body)) => assert!(body.contains("no valid token"), "{body}"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("the WebSocket was accepted"),
    }
    assert_eq!(io.connection_count(), 0);

    let good = [("Cookie", "token=good")];
    let reply = http.get_with("transport=polling&app=z", &good).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let sid = match Packet::decode_text(&reply.body) {
        Ok(Packet::Open(open)) => open.sid,
        other => panic!("{other:?}"),
    };
    // Polling with a sid is no handshake: the hook is not asked again.
    let query = format!("transport=polling&sid={sid}");
    let post = http
        .client
        .post(common::http_url(addr, &query))
        .header("Cookie", "token=good")
        .body("40");
    let reply = http.request(post).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = http.get_with(&query, &good).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The upgrade is asked, and refused without the cookie.
    match ws_attempt(addr, &format!("&sid={sid}"), &[]).await {
        Err((401, _)) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    let mut ws = ws_attempt(addr, &format!("&sid={sid}"), &good)
        .await
        .expect("upgrade with the cookie accepted");
    ws.send_text("2probe").await;
    assert_eq!(ws.recv().await, Packet::Pong("probe".into()));

    let seen = seen.lock().unwrap().clone();
    let summary: Vec<_> = seen
        .iter()
        .map(|(token, app, sid, _)| (token.as_deref(), app.as_deref(), sid.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("bad"), Some("x"), false),
            (None, Some("y"), false),
            (Some("good"), Some("z"), false),
            (None, None, true),
            (Some("good"), None, true),
        ]
    );
    for (_, _, _, address) in &seen {
        assert!(address.is_some_and(|a| a.ip().is_loopback()), "{address:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_error_hears_of_every_refusal() {
    let errors: Arc<Mutex<Vec<(u8, String, u16)>>> = Arc::default();
    let builder = SocketIo::builder()
        .allow_request(|req| async move {
            if req.query.contains_key("deny") {
                Err(Refusal::forbidden("denied by the app"))
            } else {
                Ok(())
            }
        })
        .on_connection_error({
            let errors = errors.clone();
            move |e: &ConnectionError| {
                errors
                    .lock()
                    .unwrap()
                    .push((e.code, e.message.clone(), e.status.as_u16()));
                if e.code == 4 && e.message == "Forbidden" {
                    assert_eq!(e.request.origin(), Some(EVIL));
                }
            }
        });
    let (_io, addr) = start(builder).await;
    let http = Http::new(addr);
    http.get("transport=carrier-pigeon").await;
    http.get("transport=polling&sid=nope").await;
    http.post("transport=polling", "").await;
    http.post("transport=websocket", "").await;
    http.get_with("transport=polling&sid=nope", &[("Origin", EVIL)])
        .await;
    http.get("transport=polling&deny").await;
    http.request(
        http.client
            .get(format!("http://{addr}/socket.io/?EIO=3&transport=polling")),
    )
    .await;
    let _ = ws_attempt(addr, "", &[("Origin", EVIL)]).await;
    // An accepted request is no error.
    assert_eq!(http.get("transport=polling").await.status, 200);

    let errors = errors.lock().unwrap().clone();
    let expected: Vec<(u8, String, u16)> = [
        (0, "Transport unknown", 400),
        (1, "Session ID unknown", 400),
        (2, "Bad handshake method", 400),
        (3, "Bad request", 400),
        (4, "Forbidden", 403),
        (4, "denied by the app", 403),
        (5, "Unsupported protocol version", 400),
        (4, "Forbidden", 403),
    ]
    .into_iter()
    .map(|(c, m, s)| (c, m.to_owned(), s))
    .collect();
    assert_eq!(errors, expected);
}
