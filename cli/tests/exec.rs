//! `sockeye exec` in plain WebSocket mode, the built binary run as a person runs it: the
//! tutorial's counting script, `cat` as an echo (one process per client, ended and reaped
//! when its client leaves), the request's environment, and the bad cases: a program
//! that does not exist, one that exits at once, a 10 MB line, a client's message past
//! `--max-line`, `--max-forks`, a program that ignores SIGTERM, a client that stops
//! reading (backpressure), and the server's own stop.
//!
//! Every wait is for an event (a message, a close, a log line, a pid gone from /proc)
//! with a generous deadline; where no event exists (a process gone, a program paused),
//! the state is polled every few milliseconds until it holds.

use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any one wait may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/exec")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `sockeye exec`, killed when the test ends (passing or not); its output is kept.
struct Server {
    child: Child,
    /// `HOST:PORT`.
    addr: String,
    /// Every line it printed (the log goes to standard output).
    output: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `sockeye exec --port 0 ARGS...`, once it says where it listens.
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["exec", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sockeye exec");
        let stdout = child.stdout.take().expect("stdout");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let kept = output.clone();
        // Read to the end, so that the server never writes into a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = addr_tx.send(addr.to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let addr = addr_rx
            .recv_timeout(DEADLINE)
            .expect("sockeye exec printed no address");
        Server {
            child,
            addr,
            output,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    async fn connect(&self, path: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(self.url(path))
            .await
            .expect("WebSocket handshake");
        ws
    }

    /// Waits until a line of the log contains `needle`.
    fn wait_log(&self, needle: &str) {
        let start = Instant::now();
        loop {
            if self
                .output
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the log never said {needle:?}:\n{}",
                self.output.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What a connection receives until it is closed: the text messages and the close frame.
async fn until_close(ws: &mut Ws) -> (Vec<String>, Option<CloseFrame>) {
    let mut texts = Vec::new();
    loop {
        match next(ws).await {
            Some(Message::Text(t)) => texts.push(t.to_string()),
            Some(Message::Close(frame)) => return (texts, frame),
            Some(_) => {}
            None => return (texts, None),
        }
    }
}

/// The next frame, within the deadline.
async fn next(ws: &mut Ws) -> Option<Message> {
    match tokio::time::timeout(DEADLINE, ws.next()).await {
        Ok(Some(Ok(message))) => Some(message),
        Ok(Some(Err(_))) | Ok(None) => None,
        Err(_) => panic!("nothing arrived within {DEADLINE:?}"),
    }
}

async fn next_text(ws: &mut Ws) -> String {
    match next(ws).await {
        Some(Message::Text(t)) => t.to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Closes the connection from the client's side and waits for the server's answer.
async fn leave(mut ws: Ws) {
    ws.close(None).await.expect("send close");
    while let Some(Ok(_)) = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("the server answers the close")
    {}
}

/// Whether process `pid` exists (a zombie too: it is gone only once reaped).
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until process `pid` is gone: ended and reaped by its parent, `sockeye`.
fn wait_gone(pid: u32) {
    let start = Instant::now();
    while exists(pid) {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            start.elapsed() < DEADLINE,
            "process {pid} is still there (stat: {state})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sh -c 'echo $$; exec cat'`: an echo that first says its own pid.
const CAT: [&str; 3] = ["sh", "-c", "echo $$; exec cat"];

fn with_program<'a>(options: &[&'a str], program: &[&'a str]) -> Vec<&'a str> {
    let mut args = options.to_vec();
    args.push("--");
    args.extend_from_slice(program);
    args
}

#[tokio::test]
async fn the_tutorials_script_counts_to_ten_then_the_connection_closes_normally() {
    let script = root().join("examples/exec/count.py");
    let server = Server::start(&["--", "python3", script.to_str().unwrap()]);
    let mut ws = server.connect("/").await;
    let (texts, close) = until_close(&mut ws).await;
    let expected: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    assert_eq!(texts, expected);
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1000, "{close:?}");
}

#[tokio::test]
async fn cat_echoes_in_order_each_client_has_its_own_process_ended_when_it_leaves() {
    let server = Server::start(&with_program(&[], &CAT));
    let mut a = server.connect("/").await;
    let pid_a: u32 = next_text(&mut a).await.parse().expect("a pid");
    let mut b = server.connect("/").await;
    let pid_b: u32 = next_text(&mut b).await.parse().expect("a pid");
    assert_ne!(pid_a, pid_b, "a second client gets its own process");

    let words = ["one", "two", "three", "four", "five"];
    for w in words {
        a.send(Message::Text(w.into())).await.unwrap();
    }
    b.send(Message::Text("b's own".into())).await.unwrap();
    for w in words {
        assert_eq!(next_text(&mut a).await, w);
    }
    assert_eq!(next_text(&mut b).await, "b's own");

    // A leaves: its cat is ended and reaped, b's goes on.
    leave(a).await;
    wait_gone(pid_a);
    assert!(exists(pid_b));
    b.send(Message::Text("still here".into())).await.unwrap();
    assert_eq!(next_text(&mut b).await, "still here");
    leave(b).await;
    wait_gone(pid_b);
}

#[tokio::test]
async fn a_program_that_ignores_sigterm_gets_sigkill_after_the_grace_period() {
    // The ignored SIGTERM is inherited through exec.
    let stubborn = ["sh", "-c", "trap '' TERM; echo $$; exec sleep 1000"];
    let server = Server::start(&with_program(&["--kill-grace", "0.5"], &stubborn));
    let mut ws = server.connect("/").await;
    let pid: u32 = next_text(&mut ws).await.parse().expect("a pid");
    leave(ws).await;
    wait_gone(pid);
    server.wait_log("after SIGTERM: SIGKILL");
}

#[tokio::test]
async fn standard_error_goes_to_the_log_prefixed_by_the_connection() {
    let server = Server::start(&["--", "sh", "-c", "echo $$; echo oops >&2; read line"]);
    let mut ws = server.connect("/").await;
    let pid: u32 = next_text(&mut ws).await.parse().expect("a pid");
    server.wait_log(&format!("[conn 1 pid {pid}] oops"));
    leave(ws).await;
}

#[tokio::test]
async fn the_program_sees_the_request_in_its_environment() {
    let server = Server::start(&["--", &fixture("env.sh")]);
    let mut request = server
        .url("/some/where?name=me&msg=hello%20world")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("x-sockeye-test", "yes, really".parse().unwrap());
    request
        .headers_mut()
        .insert("proxy", "http://attacker.example/".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let local = match ws.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap(),
        _ => unreachable!("plain TCP"),
    };
    let (lines, close) = until_close(&mut ws).await;
    let port = server.addr.rsplit(':').next().unwrap();
    let expected = vec![
        "QUERY_STRING=name=me&msg=hello%20world".to_owned(),
        format!("REMOTE_ADDR={}", local.ip()),
        format!("REMOTE_PORT={}", local.port()),
        "PATH_INFO=/some/where".to_owned(),
        "SCRIPT_NAME=/".to_owned(),
        "REQUEST_URI=/some/where?name=me&msg=hello%20world".to_owned(),
        "REQUEST_METHOD=GET".to_owned(),
        format!("SERVER_PORT={port}"),
        format!("SERVER_SOFTWARE=sockeye/{}", env!("CARGO_PKG_VERSION")),
        "UNIQUE_ID=1".to_owned(),
        "HTTP_X_SOCKEYE_TEST=yes, really".to_owned(),
        "HTTP_PROXY unset".to_owned(),
    ];
    assert_eq!(lines, expected);
    assert_eq!(u16::from(close.expect("close").code), 1000);
}

/// Runs `sockeye exec --port 0 -- PROGRAM` to its end (killed, and the test failed, if
/// it is still running after the deadline): exit status and standard error.
fn run_to_end(program: &str) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .args(["exec", "--port", "0", "--", program])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockeye exec");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sockeye exec -- {program} is still running: it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().unwrap())
}

#[test]
fn a_program_that_does_not_exist_is_an_error_at_start() {
    let (status, stderr) = run_to_end("/no/such/program");
    assert!(!status.success());
    assert!(
        stderr.contains("cannot run /no/such/program"),
        "stderr: {stderr}"
    );
    let (status, stderr) = run_to_end("no-such-program-sockeye-test");
    assert!(!status.success());
    assert!(
        stderr.contains("no-such-program-sockeye-test: not found in PATH"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn a_program_that_exits_at_once_closes_the_connection_normally() {
    let server = Server::start(&["--", "true"]);
    let mut ws = server.connect("/").await;
    let (texts, close) = until_close(&mut ws).await;
    assert!(texts.is_empty(), "{texts:?}");
    assert_eq!(u16::from(close.expect("close").code), 1000);

    let server = Server::start(&["--", "sh", "-c", "echo bye; exit 3"]);
    let mut ws = server.connect("/").await;
    let (texts, close) = until_close(&mut ws).await;
    assert_eq!(texts, ["bye"]);
    let close = close.expect("close");
    assert_eq!(u16::from(close.code), 1000);
    assert!(close.reason.contains('3'), "{close:?}");
}

#[tokio::test]
async fn a_10_mb_line_closes_the_connection_with_1009_and_ends_the_program() {
    let server = Server::start(&["--", "python3", &fixture("long_line.py")]);
    let mut ws = server.connect("/").await;
    let pid: u32 = next_text(&mut ws).await.parse().expect("a pid");
    let (texts, close) = until_close(&mut ws).await;
    assert_eq!(texts, ["before"], "nothing after the long line arrives");
    let close = close.expect("close");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    assert_eq!(close.reason.as_str(), "line too long");
    server.wait_log("longer than --max-line 1048576 bytes: closing the connection");
    wait_gone(pid);
}

#[tokio::test]
async fn a_message_past_max_line_closes_the_connection_with_1009_and_ends_the_program() {
    let server = Server::start(&with_program(&["--max-line", "1000"], &CAT));
    let mut ws = server.connect("/").await;
    let pid: u32 = next_text(&mut ws).await.parse().expect("a pid");
    ws.send(Message::Text("x".repeat(1000).into()))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut ws).await.len(),
        1000,
        "a message at the bound passes"
    );
    ws.send(Message::Text("x".repeat(1001).into()))
        .await
        .unwrap();
    let (texts, close) = until_close(&mut ws).await;
    assert!(texts.is_empty(), "{texts:?}");
    let close = close.expect("close");
    assert_eq!(u16::from(close.code), 1009, "{close:?}");
    assert_eq!(close.reason.as_str(), "message too big");
    wait_gone(pid);
}

#[tokio::test]
async fn past_max_forks_a_connection_is_refused_with_503() {
    let server = Server::start(&with_program(&["--max-forks", "1"], &CAT));
    let mut a = server.connect("/").await;
    let pid: u32 = next_text(&mut a).await.parse().expect("a pid");
    match tokio_tungstenite::connect_async(server.url("/")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503)
        }
        other => panic!("expected HTTP 503, got {:?}", other.map(|(_, r)| r)),
    }
    server.wait_log("refused: --max-forks 1 programs are running");
    // Once a's program is reaped its slot is free again (the log says so after).
    leave(a).await;
    wait_gone(pid);
    server.wait_log("client left; program ended");
    let mut c = server.connect("/").await;
    let _pid_c: u32 = next_text(&mut c).await.parse().expect("a pid");
    c.send(Message::Text("hi".into())).await.unwrap();
    assert_eq!(next_text(&mut c).await, "hi");
}

#[tokio::test]
async fn when_the_server_stops_each_client_gets_1001_and_each_program_is_ended() {
    let mut server = Server::start(&with_program(&[], &CAT));
    let mut ws = server.connect("/").await;
    let pid: u32 = next_text(&mut ws).await.parse().expect("a pid");
    let kill = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let (_, close) = until_close(&mut ws).await;
    assert_eq!(u16::from(close.expect("close").code), 1001);
    wait_gone(pid);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

/// Bytes process `pid` has written so far (`wchar` of /proc/PID/io).
fn written(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/PID/io");
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("wchar")
}

#[tokio::test]
async fn a_client_that_stops_reading_pauses_the_program_and_loses_nothing() {
    const LINES: usize = 40_000;
    let lines = LINES.to_string();
    let server = Server::start(&["--", "python3", &fixture("flood.py"), &lines]);
    let mut ws = server.connect("/").await;
    let pid: u32 = next_text(&mut ws).await.parse().expect("a pid");
    // The client reads nothing now. The program writes until the TCP buffers and its
    // pipe are full, then blocks: its count of written bytes stops moving, far short of
    // the 40 MB it has to write, and it is still running.
    let total = (LINES * 1010) as u64;
    let start = Instant::now();
    let mut last = written(pid);
    let mut still = 0;
    while still < 5 {
        assert!(start.elapsed() < DEADLINE * 2, "the program never paused");
        std::thread::sleep(Duration::from_millis(200));
        let now = written(pid);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    assert!(
        last < total / 2,
        "the program wrote {last} of {total} bytes without a reader: nothing held it back"
    );
    eprintln!("paused after {last} of {total} bytes");
    assert!(exists(pid), "the program is paused, not ended");
    // Reading again: every line, in order, then a normal close.
    let (texts, close) = until_close(&mut ws).await;
    assert_eq!(texts.len(), LINES);
    for (i, text) in texts.iter().enumerate() {
        assert!(
            text.starts_with(&format!("{i:08} ")),
            "line {i}: {}",
            &text[..20]
        );
    }
    assert_eq!(u16::from(close.expect("close").code), 1000);
}
