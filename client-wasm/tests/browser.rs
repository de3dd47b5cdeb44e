//! The Rust API in real Chromium against a real Sockeye server.
//!
//! `scripts/test.sh` starts the interop fixture (`tests/fixtures/src/bin/interop_fixture.rs`,
//! behaviour in `tests/js/interop/FIXTURE.md`) under `tests/js/supervisor.mjs`, which
//! can restart it, and passes both addresses at build time:
//! `SOCKEYE_TEST_URL` (the fixture) and `SOCKEYE_TEST_CONTROL` (POST /restart, /stop,
//! /start). Run: `wasm-pack test --headless --chrome client-wasm`.
//!
//! Every wait ends on an event, bounded by a generous timeout; nothing sleeps.

use serde::Deserialize;
use sockeye_client::protocol::json;
use sockeye_client::{Client, Event, Manager, Options, Request, Value};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const URL: Option<&str> = option_env!("SOCKEYE_TEST_URL");
const CONTROL: Option<&str> = option_env!("SOCKEYE_TEST_CONTROL");
/// How long any one wait may take (the machine may be loaded).
const WAIT: Duration = Duration::from_secs(15);

fn url() -> &'static str {
    URL.expect("SOCKEYE_TEST_URL must be set at build time (scripts/test.sh does)")
}

// ---- the fixture's events, as types ---------------------------------------------------

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct WelcomeData {
    id: String,
    auth: serde_json::Value,
    namespace: String,
}

struct Welcome;
impl Event for Welcome {
    const NAME: &'static str = "welcome";
    type Args = (WelcomeData,);
}

/// `echo-ack`: the server answers with the arguments it got.
struct EchoAck;
impl Event for EchoAck {
    const NAME: &'static str = "echo-ack";
    type Args = (String, u32, serde_json::Value);
}
impl Request for EchoAck {
    type Ack = (String, u32, serde_json::Value);
}

/// `echo-ack` on `/custom`: the answer starts with "custom".
struct CustomEchoAck;
impl Event for CustomEchoAck {
    const NAME: &'static str = "echo-ack";
    type Args = (String, u32);
}
impl Request for CustomEchoAck {
    type Ack = (String, String, u32);
}

struct Join;
impl Event for Join {
    const NAME: &'static str = "join";
    type Args = (String,);
}
impl Request for Join {
    type Ack = (String, String);
}

struct ToRoom;
impl Event for ToRoom {
    const NAME: &'static str = "to-room";
    type Args = (String, String);
}

struct RoomMsg;
impl Event for RoomMsg {
    const NAME: &'static str = "room-msg";
    type Args = (String, String);
}

/// `ask-client`: the server asks us `question` and acks with our answer.
struct AskClient;
impl Event for AskClient {
    const NAME: &'static str = "ask-client";
    type Args = (serde_json::Value,);
}
impl Request for AskClient {
    type Ack = (serde_json::Value,);
}

struct Question;
impl Event for Question {
    const NAME: &'static str = "question";
    type Args = (serde_json::Value,);
}
impl Request for Question {
    type Ack = (serde_json::Value,);
}

// ---- waiting -------------------------------------------------------------------------

/// Values pushed by listeners, awaited one at a time.
struct Inbox<T> {
    queue: Rc<RefCell<(VecDeque<T>, Option<Waker>)>>,
}

impl<T> Clone for Inbox<T> {
    fn clone(&self) -> Self {
        Inbox {
            queue: self.queue.clone(),
        }
    }
}

impl<T: 'static> Inbox<T> {
    fn new() -> Self {
        Inbox {
            queue: Rc::new(RefCell::new((VecDeque::new(), None))),
        }
    }

    fn push(&self, value: T) {
        let waker = {
            let mut q = self.queue.borrow_mut();
            q.0.push_back(value);
            q.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn len(&self) -> usize {
        self.queue.borrow().0.len()
    }

    /// The next value, or a panic naming `what` after [`WAIT`].
    async fn next(&self, what: &str) -> T {
        let queue = self.queue.clone();
        let next = std::future::poll_fn(move |cx: &mut Context<'_>| {
            let mut q = queue.borrow_mut();
            match q.0.pop_front() {
                Some(v) => Poll::Ready(v),
                None => {
                    q.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        });
        within(next, what).await
    }
}

/// `fut`, or a panic naming `what` after [`WAIT`].
async fn within<T>(fut: impl Future<Output = T>, what: &str) -> T {
    let mut fut = Box::pin(fut);
    let mut timer = Box::pin(sleep(WAIT));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        if let Poll::Ready(()) = Pin::new(&mut timer).poll(cx) {
            panic!("timed out after {WAIT:?} waiting for {what}");
        }
        Poll::Pending
    })
    .await
}

/// A timer future, used only to bound waits.
async fn sleep(d: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global: web_sys::Window = js_sys::global().unchecked_into();
        let _ = global
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, d.as_millis() as i32);
    });
    let _ = JsFuture::from(promise).await;
}

/// POSTs to the supervisor: `restart`, `stop` or `start`; returns when it is done.
async fn control(action: &str) {
    let base = CONTROL.expect("SOCKEYE_TEST_CONTROL must be set at build time");
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let request =
        web_sys::Request::new_with_str_and_init(&format!("{base}/{action}"), &init).unwrap();
    let global: web_sys::Window = js_sys::global().unchecked_into();
    let response = within(JsFuture::from(global.fetch_with_request(&request)), action)
        .await
        .expect("control request");
    let response: web_sys::Response = response.unchecked_into();
    assert_eq!(response.status(), 200, "control {action}");
}

// ---- set-up --------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Mode {
    WebSocket,
    Polling,
    Upgrade,
}

const MODES: [Mode; 3] = [Mode::WebSocket, Mode::Polling, Mode::Upgrade];

fn options(mode: Mode) -> Options {
    let defaults = Options::default();
    Options {
        transports: match mode {
            Mode::WebSocket => vec!["websocket".into()],
            Mode::Polling => vec!["polling".into()],
            Mode::Upgrade => vec!["polling".into(), "websocket".into()],
        },
        upgrade: !matches!(mode, Mode::Polling),
        backoff: sockeye_client::protocol::Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(500),
            ..defaults.backoff
        },
        ..defaults
    }
}

/// A client with inboxes for its lifecycle and the welcome.
struct Probe {
    client: Client,
    connects: Inbox<()>,
    disconnects: Inbox<String>,
    errors: Inbox<(String, Option<Value>)>,
    welcomes: Inbox<WelcomeData>,
}

fn probe(client: Client) -> Probe {
    let p = Probe {
        client,
        connects: Inbox::new(),
        disconnects: Inbox::new(),
        errors: Inbox::new(),
        welcomes: Inbox::new(),
    };
    let inbox = p.connects.clone();
    p.client.on_connect(move || inbox.push(()));
    let inbox = p.disconnects.clone();
    p.client
        .on_disconnect(move |reason| inbox.push(reason.to_owned()));
    let inbox = p.errors.clone();
    p.client
        .on_connect_error(move |message, data| inbox.push((message.to_owned(), data.cloned())));
    let inbox = p.welcomes.clone();
    p.client.on::<Welcome>(move |(w,)| inbox.push(w));
    p
}

/// A connected client of `namespace`, past its welcome.
async fn connected(mode: Mode, namespace: &str) -> Probe {
    let p = probe(Client::new(&format!("{}{namespace}", url()), options(mode)));
    p.client.connect();
    p.connects.next("connect").await;
    p.welcomes.next("welcome").await;
    p
}

/// Waits until the transport is the one `mode` ends on.
async fn settled(p: &Probe, mode: Mode) {
    let manager = p.client.socket().manager().clone();
    let want = match mode {
        Mode::Polling => "polling",
        _ => "websocket",
    };
    let engine = Inbox::new();
    let inbox = engine.clone();
    if manager.transport() != Some(want) {
        // The upgrade is announced on the manager.
        manager.set_listener(move |event| inbox.push(event));
        loop {
            let event = engine.next("the upgrade").await;
            if event == sockeye_client::ManagerEvent::Upgrade {
                break;
            }
        }
    }
    assert_eq!(manager.transport(), Some(want), "{mode:?}");
}

// ---- scenarios -----------------------------------------------------------------------

#[wasm_bindgen_test]
async fn connects_in_every_transport_mode() {
    for mode in MODES {
        let p = connected(mode, "/").await;
        settled(&p, mode).await;
        let id = p.client.socket().id().expect("an id once connected");
        let welcome = p.welcomes.len();
        assert_eq!(welcome, 0);
        assert!(p.client.socket().connected());
        p.client.disconnect();
        assert_eq!(
            p.disconnects.next("disconnect").await,
            "io client disconnect"
        );
        assert!(!p.client.socket().active());
        assert!(!id.is_empty());
    }
}

#[wasm_bindgen_test]
async fn auth_is_sent_and_a_refusal_reported() {
    for mode in MODES {
        let p = probe(Client::new(url(), options(mode)));
        p.client.set_auth(json!({"token": "ok", "n": 1}));
        p.client.connect();
        let welcome = p.welcomes.next("welcome").await;
        assert_eq!(welcome.auth, serde_json::json!({"token": "ok", "n": 1}));
        assert_eq!(welcome.namespace, "/");
        assert_eq!(Some(welcome.id), p.client.socket().id());
        p.client.disconnect();

        let p = probe(Client::new(url(), options(mode)));
        p.client.set_auth(json!({"token": "reject"}));
        p.client.connect();
        let (message, data) = p.errors.next("connect_error").await;
        assert_eq!(message, "not authorized");
        assert_eq!(data, Some(json!({"code": 42, "reason": "bad token"})));
        assert!(
            !p.client.socket().active(),
            "a refused socket does not retry"
        );
    }
}

#[wasm_bindgen_test]
async fn acks_both_ways() {
    for mode in MODES {
        let p = connected(mode, "/").await;
        let answer = p
            .client
            .emit_with_ack::<EchoAck>(("one".into(), 2, serde_json::json!({"three": [3]})), None);
        let answer = within(answer, "the echo-ack answer").await.unwrap();
        assert_eq!(answer, ("one".into(), 2, serde_json::json!({"three": [3]})));

        // The server asks; our listener answers; the server acks what we said.
        p.client
            .on_request::<Question>(|(payload,)| (serde_json::json!({"got": payload}),));
        let asked = p
            .client
            .emit_with_ack::<AskClient>((serde_json::json!("ping?"),), None);
        let (result,) = within(asked, "the ask-client answer").await.unwrap();
        assert_eq!(
            result,
            serde_json::json!({"answer": {"got": "ping?"}}),
            "{mode:?}"
        );
        p.client.disconnect();
    }
}

#[wasm_bindgen_test]
async fn binary_both_ways() {
    for mode in MODES {
        let p = connected(mode, "/").await;
        let blob = Value::Binary(vec![0u8, 1, 2, 255].into());
        let nested = json!({"a": [1, {"b": "c"}]});
        let nested = match nested {
            Value::Object(mut entries) => {
                entries.push(("bin".into(), Value::Binary(vec![9u8; 1000].into())));
                Value::Object(entries)
            }
            _ => unreachable!(),
        };
        // Up: an ack carries the same values back, so the server read the attachments.
        let acks = Inbox::new();
        let inbox = acks.clone();
        p.client.socket().emit(
            "echo-ack",
            vec![blob.clone(), nested.clone()],
            Default::default(),
            Some(Box::new(move |result| inbox.push(result))),
        );
        let back = acks.next("the binary ack").await.unwrap();
        assert_eq!(
            back.values().unwrap(),
            vec![blob.clone(), nested.clone()],
            "{mode:?}"
        );

        // Down: the server emits binary to us (`echo` sends the arguments back).
        let echoes = Inbox::new();
        let inbox = echoes.clone();
        p.client.on_raw("echo", move |args, _| inbox.push(args));
        p.client
            .socket()
            .emit("echo", vec![nested.clone()], Default::default(), None);
        assert_eq!(echoes.next("the binary echo").await, vec![nested]);
        p.client.disconnect();
    }
}

#[wasm_bindgen_test]
async fn two_clients_in_a_room_see_each_others_broadcasts() {
    for mode in MODES {
        let a = connected(mode, "/").await;
        let b = connected(mode, "/").await;
        let room = format!("room-{mode:?}");
        for p in [&a, &b] {
            let joined = p.client.emit_with_ack::<Join>((room.clone(),), None);
            let joined = within(joined, "the join ack").await.unwrap();
            assert_eq!(joined, ("joined".into(), room.clone()));
        }
        let heard_a = Inbox::new();
        let heard_b = Inbox::new();
        let inbox = heard_a.clone();
        a.client.on::<RoomMsg>(move |m| inbox.push(m));
        let inbox = heard_b.clone();
        b.client.on::<RoomMsg>(move |m| inbox.push(m));
        a.client
            .emit::<ToRoom>((room.clone(), "from a".into()))
            .unwrap();
        b.client
            .emit::<ToRoom>((room.clone(), "from b".into()))
            .unwrap();
        // Each sees both, in the order the server sent them.
        for heard in [&heard_a, &heard_b] {
            let first = heard.next("the first room message").await;
            let second = heard.next("the second room message").await;
            let mut texts = [first.1, second.1];
            texts.sort();
            assert_eq!(texts, ["from a".to_string(), "from b".to_string()]);
            assert_eq!(first.0, room);
        }
        a.client.disconnect();
        b.client.disconnect();
    }
}

#[wasm_bindgen_test]
async fn two_namespaces_share_one_connection() {
    for mode in MODES {
        let manager = Manager::new(url(), options(mode));
        let root = probe(Client::on_manager(&manager, "/"));
        let custom = probe(Client::on_manager(&manager, "/custom"));
        root.client.connect();
        custom.client.connect();
        let w1 = root.welcomes.next("welcome on /").await;
        let w2 = custom.welcomes.next("welcome on /custom").await;
        assert_eq!(
            (w1.namespace.as_str(), w2.namespace.as_str()),
            ("/", "/custom")
        );
        assert_ne!(w1.id, w2.id);
        let engine = manager.engine_id().expect("one engine connection");
        // Both namespaces answer over the same connection.
        let answer = custom
            .client
            .emit_with_ack::<CustomEchoAck>(("x".into(), 1), None);
        let answer = within(answer, "the /custom ack").await.unwrap();
        assert_eq!(answer, ("custom".into(), "x".into(), 1));
        let answer = root
            .client
            .emit_with_ack::<EchoAck>(("y".into(), 2, serde_json::Value::Null), None);
        let answer = within(answer, "the / ack").await.unwrap();
        assert_eq!(answer, ("y".into(), 2, serde_json::Value::Null));
        assert_eq!(manager.engine_id(), Some(engine));
        root.client.disconnect();
        assert!(manager.engine_id().is_some(), "/custom still uses it");
        custom.client.disconnect();
        assert_eq!(
            custom.disconnects.next("disconnect").await,
            "io client disconnect"
        );
    }
}

#[wasm_bindgen_test]
async fn emits_are_buffered_until_connected_and_volatile_ones_dropped() {
    let p = probe(Client::new(url(), options(Mode::Upgrade)));
    let echoes = Inbox::new();
    let inbox = echoes.clone();
    p.client.on_raw("echo", move |args, _| inbox.push(args));
    // Before connecting: buffered, then sent in order on connect.
    p.client
        .socket()
        .emit("echo", vec![json!("first")], Default::default(), None);
    let volatile = sockeye_client::protocol::client::Emit {
        volatile: true,
        ..Default::default()
    };
    p.client
        .socket()
        .emit("echo", vec![json!("volatile")], volatile, None);
    p.client
        .socket()
        .emit("echo", vec![json!("second")], Default::default(), None);
    p.client.connect();
    assert_eq!(echoes.next("first echo").await, vec![json!("first")]);
    assert_eq!(echoes.next("second echo").await, vec![json!("second")]);
    // A marker emitted after proves the volatile one is not merely late.
    p.client
        .socket()
        .emit("echo", vec![json!("marker")], Default::default(), None);
    assert_eq!(echoes.next("marker echo").await, vec![json!("marker")]);
    p.client.disconnect();
}

#[wasm_bindgen_test]
async fn reconnects_after_a_server_restart_and_sends_what_was_buffered() {
    for mode in MODES {
        let p = connected(mode, "/").await;
        settled(&p, mode).await;
        let first = p.client.socket().id().unwrap();
        let echoes = Inbox::new();
        let inbox = echoes.clone();
        p.client.on_raw("echo", move |args, _| inbox.push(args));

        control("stop").await;
        let reason = p.disconnects.next("disconnect").await;
        assert!(
            reason == "transport close" || reason == "transport error",
            "{mode:?}: {reason}"
        );
        assert!(p.client.socket().active(), "still wants to reconnect");
        // Emitted while the server is down: buffered, sent after the reconnection.
        p.client
            .socket()
            .emit("echo", vec![json!("while down")], Default::default(), None);
        control("start").await;
        p.connects.next("reconnect").await;
        p.welcomes.next("welcome after the restart").await;
        assert_ne!(p.client.socket().id().unwrap(), first);
        assert_eq!(
            echoes.next("the buffered echo").await,
            vec![json!("while down")]
        );

        control("restart").await;
        p.disconnects.next("disconnect on restart").await;
        p.connects.next("connect after restart").await;
        settled(&p, mode).await;
        p.client.disconnect();
    }
}

#[wasm_bindgen_test]
async fn a_silent_server_is_noticed_by_the_heartbeat() {
    for mode in [Mode::WebSocket, Mode::Polling] {
        let p = connected(mode, "/").await;
        // The fixture stops answering but its connections stay open: only the client's
        // own ping timeout (pingInterval 300 ms + pingTimeout 400 ms) can tell.
        control("freeze").await;
        let reason = p.disconnects.next("disconnect on ping timeout").await;
        control("thaw").await;
        assert_eq!(reason, "ping timeout", "{mode:?}");
        p.connects.next("reconnect after the thaw").await;
        p.client.disconnect();
    }
}
