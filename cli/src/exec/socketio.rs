//! Socket.IO modes: `--emit EVENT` runs the program once per socket of the namespace
//! and emits each line to that socket; `--broadcast EVENT` runs it once for the
//! server's lifetime and emits each line to every socket of the namespace. Either way,
//! the `--stdin-event` events a client emits are written to the program's standard
//! input, one line each.
//!
//! A slow client cannot hold the program back here (an emit does not wait): lines go
//! to the socket's bounded outbound queue, and a client whose queue fills is
//! disconnected by the server ("transport error"), which ends its program.

use super::env;
use super::lines::{Line, Lines};
use super::program::Running;
use super::Shared;
use sockeye_server::{Disconnect, SocketIo};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::{mpsc, oneshot};

/// Lines from clients waiting for the program's standard input; past this, the
/// clients' event handlers wait (and so does the reading of their connection).
const STDIN_BACKLOG: usize = 64;

/// What goes to standard input for an event's arguments: a single string as it is,
/// any other single argument as JSON, several arguments as a JSON array; then `\n`.
pub fn stdin_line(mut args: Vec<serde_json::Value>) -> Vec<u8> {
    let mut line = match args.len() {
        1 => match args.pop() {
            Some(serde_json::Value::String(s)) => s.into_bytes(),
            Some(other) => other.to_string().into_bytes(),
            None => Vec::new(),
        },
        _ => serde_json::Value::Array(args).to_string().into_bytes(),
    };
    line.push(b'\n');
    line
}

/// Writes what the channel brings to the program's standard input, until either ends.
async fn feed(mut stdin: ChildStdin, mut lines: mpsc::Receiver<Vec<u8>>) {
    while let Some(line) = lines.recv().await {
        if stdin.write_all(&line).await.is_err() {
            return; // the program closed its input
        }
    }
}

/// `--emit EVENT`: one program per socket of `namespace`.
pub fn mount_emit(
    io: &SocketIo,
    shared: Arc<Shared>,
    namespace: &str,
    event: String,
    stdin_event: String,
) {
    io.of(namespace).on_connection(move |socket| {
        let shared = shared.clone();
        let event = event.clone();
        let stdin_event = stdin_event.clone();
        async move {
            let Ok(permit) = shared.forks.clone().try_acquire_owned() else {
                tracing::warn!(sid = %socket.id(), "refused: --max-forks {} programs are running", shared.max_forks);
                socket.disconnect(Disconnect::Namespace);
                return;
            };
            let id = shared.next_id();
            let label = format!("conn {id} sid {}", socket.id());
            let handshake = socket.handshake();
            let uri = handshake.url.parse().unwrap_or_default();
            let env = env::variables(&env::Request {
                peer: handshake.address,
                local: shared.local,
                uri: &uri,
                protocol: "HTTP/1.1",
                headers: &handshake.headers,
                id,
            });
            let mut running = match shared.program.spawn(&env, &label) {
                Ok(running) => running,
                Err(e) => {
                    tracing::error!("[{label}] cannot start {}: {e}", shared.program.describe());
                    socket.disconnect(Disconnect::Namespace);
                    return;
                }
            };
            tracing::info!("[{label}] started pid {}", running.pid);
            let (to_stdin, from_clients) = mpsc::channel(STDIN_BACKLOG);
            if let Some(stdin) = running.child.stdin.take() {
                tokio::spawn(feed(stdin, from_clients));
            }
            socket.on(&stdin_event, move |_, args: Vec<serde_json::Value>| {
                let to_stdin = to_stdin.clone();
                async move {
                    // The program may have ended; its line is dropped then.
                    let _ = to_stdin.send(stdin_line(args)).await;
                }
            });
            let (left_tx, left) = oneshot::channel();
            let left_tx = Mutex::new(Some(left_tx));
            socket.on_disconnect(move |_, reason| {
                if let Some(tx) = left_tx.lock().expect("left lock").take() {
                    let _ = tx.send(reason);
                }
                async {}
            });
            let max_line = shared.max_line;
            tokio::spawn(async move {
                let _permit = permit;
                let stdout = running.child.stdout.take().expect("stdout is piped");
                let mut lines = Lines::new(BufReader::new(stdout), max_line);
                let mut left = left;
                loop {
                    tokio::select! {
                        reason = &mut left => {
                            let status = running.end().await;
                            tracing::info!("[{label}] socket left ({reason:?}); program ended ({status})");
                            return;
                        }
                        line = lines.next() => match line {
                            Ok(Line::Text(line)) => {
                                if socket.emit(&event, line).is_err() && !socket.connected() {
                                    let status = running.end().await;
                                    tracing::info!("[{label}] socket gone; program ended ({status})");
                                    return;
                                }
                            }
                            Ok(Line::TooLong) => {
                                tracing::warn!(
                                    "[{label}] the program wrote a line longer than --max-line \
                                     {max_line} bytes: disconnecting the socket and ending the program"
                                );
                                socket.disconnect(Disconnect::Namespace);
                                let status = running.end().await;
                                tracing::info!("[{label}] program ended ({status})");
                                return;
                            }
                            Ok(Line::End) | Err(_) => {
                                let status = running.finish().await;
                                tracing::info!("[{label}] program ended ({status}); disconnecting the socket");
                                socket.disconnect(Disconnect::Namespace);
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// `--broadcast EVENT`: the one program, started now; each line goes to every socket of
/// `namespace`. Resolves with its exit status when it ends (the server then stops).
pub fn start_broadcast(
    io: &SocketIo,
    shared: Arc<Shared>,
    namespace: &str,
    event: String,
    stdin_event: String,
) -> std::io::Result<oneshot::Receiver<ExitStatus>> {
    let env = [
        (
            "SERVER_SOFTWARE".to_owned(),
            format!("sockeye/{}", env!("CARGO_PKG_VERSION")),
        ),
        ("GATEWAY_INTERFACE".to_owned(), "CGI/1.1".to_owned()),
    ];
    let label = "broadcast".to_owned();
    let mut running: Running = shared.program.spawn(&env, &label)?;
    tracing::info!("[{label}] started pid {}", running.pid);
    let (to_stdin, from_clients) = mpsc::channel(STDIN_BACKLOG);
    if let Some(stdin) = running.child.stdin.take() {
        tokio::spawn(feed(stdin, from_clients));
    }
    io.of(namespace).on_connection(move |socket| {
        let to_stdin = to_stdin.clone();
        let stdin_event = stdin_event.clone();
        async move {
            socket.on(&stdin_event, move |_, args: Vec<serde_json::Value>| {
                let to_stdin = to_stdin.clone();
                async move {
                    let _ = to_stdin.send(stdin_line(args)).await;
                }
            });
        }
    });
    let ns = io.of(namespace);
    let max_line = shared.max_line;
    let (done_tx, done) = oneshot::channel();
    let stdout = running.child.stdout.take().expect("stdout is piped");
    tokio::spawn(async move {
        let mut lines = Lines::new(BufReader::new(stdout), max_line);
        loop {
            match lines.next().await {
                Ok(Line::Text(line)) => {
                    if let Err(e) = ns.emit(&event, line) {
                        tracing::warn!("[{label}] broadcast failed: {e}");
                    }
                }
                // One long line cannot close every socket: it is dropped.
                Ok(Line::TooLong) => {
                    tracing::warn!(
                        "[{label}] the program wrote a line longer than --max-line {max_line} \
                         bytes: line dropped"
                    );
                    if lines.skip_rest().await.is_err() {
                        break;
                    }
                }
                Ok(Line::End) | Err(_) => break,
            }
        }
        let status = running.finish().await;
        tracing::info!("[{label}] program ended ({status})");
        let _ = done_tx.send(status);
    });
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::stdin_line;
    use serde_json::json;

    #[test]
    fn an_events_arguments_become_one_line() {
        assert_eq!(stdin_line(vec![json!("hi")]), b"hi\n");
        assert_eq!(stdin_line(vec![json!({"a": 1})]), b"{\"a\":1}\n");
        assert_eq!(stdin_line(vec![json!(1), json!("b")]), b"[1,\"b\"]\n");
        assert_eq!(stdin_line(vec![]), b"[]\n");
    }
}
