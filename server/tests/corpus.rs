//! Bad input replayed against a live server: the known-bad inputs of
//! `server/tests/corpus/` and the fuzzers' seeds (`fuzz/seeds/*/`). Each is sent by a
//! client of its own, as a WebSocket text frame, as a WebSocket binary frame and as a
//! long-polling POST body. The server must never panic; a connection that sent garbage
//! is closed with a reason (parse error or transport error; transport close for the
//! Engine.IO close packet) or, when the input happens to be valid, keeps working; and a well-behaved client is served throughout.

mod common;

use common::{report_disconnects, within, Polling, Read, Sio};
use sockeye_protocol::engine::Packet as EioPacket;
use sockeye_protocol::json;
use sockeye_server::{DisconnectReason, SocketIo};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::unbounded_channel;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<PathBuf> = vec![root.join("tests/corpus")];
    if let Ok(seeds) = std::fs::read_dir(root.join("../fuzz/seeds")) {
        dirs.extend(seeds.flatten().map(|e| e.path()));
    }
    let mut inputs = Vec::new();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files {
            let name = file
                .strip_prefix(root.join(".."))
                .unwrap_or(&file)
                .display()
                .to_string();
            inputs.push((name, std::fs::read(&file).expect("read corpus file")));
        }
    }
    assert!(inputs.len() > 20, "the corpus is missing: {}", inputs.len());
    inputs
}

/// Whether the connection still answers an echo (it may first get answers of its own,
/// or be closed).
async fn alive(client: &mut Sio) -> bool {
    client.ws.send_text(r#"4299999["echo","probe"]"#).await;
    loop {
        match client.ws.read().await {
            Read::Text(text) if text.starts_with("4399999") => return true,
            Read::Text(text) if text == "2" => client.ws.send_text("3").await,
            Read::Text(_) | Read::Binary(_) => {}
            Read::Closed | Read::CloseFrame => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_bad_inputs_close_only_the_connection_that_sent_them() {
    let io = SocketIo::new();
    let (tx, mut reasons) = unbounded_channel();
    report_disconnects(&io, tx);
    let addr = common::serve(axum::Router::new().merge(io.router())).await;
    let (mut good, _) = Sio::connect(addr).await;
    let mut closed = 0;
    let mut kept = 0;
    for (name, bytes) in inputs() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for as_binary in [false, true] {
            let (mut bad, sid) = Sio::connect(addr).await;
            if as_binary {
                bad.ws.send_binary(&bytes).await;
            } else {
                bad.ws.send_text(&text).await;
            }
            if alive(&mut bad).await {
                kept += 1;
            } else {
                closed += 1;
                // Reports of earlier clients (polling sessions closing) may come first.
                let reason = within(&format!("the disconnect of {name}"), async {
                    loop {
                        let (gone, reason) = reasons.recv().await.expect("reasons");
                        if gone == sid {
                            return reason;
                        }
                    }
                })
                .await;
                assert!(
                    matches!(
                        reason,
                        DisconnectReason::ParseError
                            | DisconnectReason::TransportError
                            // The Engine.IO close packet ("1") is a client leaving.
                            | DisconnectReason::TransportClose
                    ),
                    "{name} (binary: {as_binary}): {reason:?}"
                );
            }
            assert_eq!(
                good.call("echo", vec![json!(name.clone())], 1).await,
                vec![json!(name.clone())],
                "the good client after {name}"
            );
        }
        // Long-polling: the input as a POST body, after a join.
        let (polling, _) = Polling::open(addr).await;
        polling.post(&[EioPacket::Message("0".into())]).await;
        let _ = polling.get().await;
        let reply = polling.post_raw(bytes.clone()).await;
        assert!(
            matches!(reply.status, 200 | 400 | 413),
            "{name} over polling: {reply:?}"
        );
        assert_eq!(
            good.call("echo", vec![json!("after polling")], 2).await,
            vec![json!("after polling")],
            "the good client after {name} over polling"
        );
        // Whatever the server made of it, the session is either open or gone: close it.
        if reply.status == 200 {
            let _ = polling.post_raw("1").await;
        }
        polling.wait_gone().await;
    }
    assert!(closed > 20, "only {closed} inputs closed their connection");
    assert!(kept > 0, "no input was valid: {kept}");
    assert_eq!(io.of("/").sockets().len(), 1);
}
