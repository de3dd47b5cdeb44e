//! A bare WebSocket client for the hot loops (echo, raw echo, fanout receivers and
//! sender): the HTTP upgrade, then text or binary frames written into one buffer and
//! parsed in place from another.
//!
//! Why not tokio-tungstenite here: with one core for a hundred connections at a million
//! messages a second, its per-message costs (a waker registered per poll, a buffer per
//! frame, a ChaCha draw per mask) made the load generator the bottleneck of the raw
//! echo. The bytes on the wire are the same; the rest of the bench (handshake-heavy
//! scenarios) keeps tungstenite.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head accepted during the upgrade.
const MAX_HEAD: usize = 16 * 1024;
/// How much room a read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// A data message as received: its payload, borrowed from the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Text(&'a [u8]),
    Binary(&'a [u8]),
}

/// A client WebSocket after the upgrade.
pub struct FrameStream {
    stream: TcpStream,
    /// Bytes received; frames not yet handed over start at `start`.
    read: Vec<u8>,
    start: usize,
    /// Frames queued by [`FrameStream::feed_text`] and [`FrameStream::feed_message`],
    /// written by [`FrameStream::flush`].
    write: Vec<u8>,
    /// xorshift state for the masks clients must apply (RFC 6455, 5.3).
    mask: u32,
}

impl FrameStream {
    /// Connects to `url` (`ws://host:port/path?query`) and upgrades.
    pub async fn connect(url: &str) -> Result<FrameStream, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("not a ws:// URL: {url}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut stream = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("connect {authority}: {e}"))?;
        // Small frames answered at once: never hold one back (as browsers do).
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        let mut read = Vec::with_capacity(READ_CHUNK);
        let head_end = loop {
            if let Some(i) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if read.len() > MAX_HEAD {
                return Err("upgrade: response head too long".into());
            }
            if stream
                .read_buf(&mut read)
                .await
                .map_err(|e| e.to_string())?
                == 0
            {
                return Err("upgrade: connection closed".into());
            }
        };
        let head = String::from_utf8_lossy(&read[..head_end]);
        if !head.starts_with("HTTP/1.1 101") {
            let status = head.lines().next().unwrap_or_default().to_owned();
            return Err(format!("upgrade refused: {status}"));
        }
        Ok(FrameStream {
            stream,
            read,
            // Frames may follow the head in the same read.
            start: head_end,
            write: Vec::with_capacity(4096),
            mask: 0x9E37_79B9 ^ (authority.len() as u32),
        })
    }

    /// Queues a text frame (masked, as from a client).
    pub fn feed_text(&mut self, payload: &[u8]) {
        self.feed(0x1, payload);
    }

    /// Queues a binary frame if `binary`, else a text frame.
    pub fn feed_message(&mut self, binary: bool, payload: &[u8]) {
        self.feed(if binary { 0x2 } else { 0x1 }, payload);
    }

    /// Writes every queued frame.
    pub async fn flush(&mut self) -> Result<(), String> {
        if !self.write.is_empty() {
            self.stream
                .write_all(&self.write)
                .await
                .map_err(|e| format!("send: {e}"))?;
            self.write.clear();
        }
        Ok(())
    }

    /// Hands every complete text frame to `on_text`, first waiting for more bytes if
    /// none is complete; returns how many data frames it read (binary frames are read
    /// and dropped). Pings are answered (with the next flush); a close frame or the end
    /// of the stream is an error.
    pub async fn read_texts(&mut self, mut on_text: impl FnMut(&[u8])) -> Result<usize, String> {
        self.read_messages(|message| {
            if let Message::Text(text) = message {
                on_text(text);
            }
        })
        .await
    }

    /// [`FrameStream::read_texts`] without waiting: 0 if nothing complete has arrived.
    pub fn try_read_texts(&mut self, mut on_text: impl FnMut(&[u8])) -> Result<usize, String> {
        self.try_read_messages(|message| {
            if let Message::Text(text) = message {
                on_text(text);
            }
        })
    }

    /// Hands every complete data frame, text or binary, to `on_message`, first waiting
    /// for more bytes if none is complete; returns how many it handed. Pings are
    /// answered (with the next flush); a close frame or the end of the stream is an
    /// error. Cancel-safe: a read cancelled while it waits loses nothing.
    pub async fn read_messages(
        &mut self,
        mut on_message: impl FnMut(Message<'_>),
    ) -> Result<usize, String> {
        loop {
            let handed = self.parse(&mut on_message)?;
            if handed > 0 {
                return Ok(handed);
            }
            self.fill().await?;
        }
    }

    /// [`FrameStream::read_messages`] without waiting: 0 if nothing complete has
    /// arrived.
    pub fn try_read_messages(
        &mut self,
        mut on_message: impl FnMut(Message<'_>),
    ) -> Result<usize, String> {
        let handed = self.parse(&mut on_message)?;
        if handed > 0 {
            return Ok(handed);
        }
        match self.try_fill() {
            Ok(true) => self.parse(&mut on_message),
            Ok(false) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Closes as RFC 6455 asks: a close frame, then the server closes the TCP
    /// connection first (see `session::close_websocket` for why). Waits at most a second.
    pub async fn close(mut self) {
        self.feed(0x8, &[]);
        if self.flush().await.is_err() {
            return;
        }
        let mut scratch = [0u8; 1024];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while let Ok(n) = self.stream.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }

    fn feed(&mut self, opcode: u8, payload: &[u8]) {
        let out = &mut self.write;
        out.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let key = self.mask.to_be_bytes();
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
    }

    /// Reads what the socket has, waiting for at least one byte.
    async fn fill(&mut self) -> Result<(), String> {
        self.compact();
        match self.stream.read_buf(&mut self.read).await {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Reads what the socket has without waiting; whether anything came.
    fn try_fill(&mut self) -> Result<bool, String> {
        self.compact();
        match self.stream.try_read_buf(&mut self.read) {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Drops the bytes already handed over, and makes room for a read.
    fn compact(&mut self) {
        if self.start == self.read.len() {
            self.read.clear();
            self.start = 0;
        } else if self.start > 0 && self.read.capacity() - self.read.len() < READ_CHUNK / 2 {
            self.read.drain(..self.start);
            self.start = 0;
        }
        self.read.reserve(READ_CHUNK);
    }

    /// Hands over the complete frames at `start`; how many data frames.
    fn parse(&mut self, on_message: &mut impl FnMut(Message<'_>)) -> Result<usize, String> {
        let mut handed = 0;
        while let Some((opcode, fin, payload)) = frame_at(&self.read[self.start..])? {
            let (begin, end) = (self.start + payload.start, self.start + payload.end);
            self.start = end;
            match opcode {
                0x1 if fin => {
                    on_message(Message::Text(&self.read[begin..end]));
                    handed += 1;
                }
                0x2 if fin => {
                    on_message(Message::Binary(&self.read[begin..end]));
                    handed += 1;
                }
                0x0..=0x2 => return Err("fragmented messages are not expected".into()),
                0xA => {}
                0x8 => return Err("the server closed the WebSocket".into()),
                0x9 => {
                    let ping = self.read[begin..end].to_vec();
                    self.feed(0xA, &ping);
                }
                other => return Err(format!("unknown opcode {other}")),
            }
        }
        Ok(handed)
    }
}

/// The frame at the start of `bytes` if it is complete: opcode, FIN, payload range.
fn frame_at(bytes: &[u8]) -> Result<Option<(u8, bool, std::ops::Range<usize>)>, String> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    if bytes[1] & 0x80 != 0 {
        return Err("the server masked a frame".into());
    }
    let (len, head) = match bytes[1] & 0x7F {
        126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
        127 if bytes.len() >= 10 => {
            let len = u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes"));
            (usize::try_from(len).map_err(|_| "frame too long")?, 10)
        }
        126 | 127 => return Ok(None),
        n => (usize::from(n), 2),
    };
    if bytes.len() < head + len {
        return Ok(None);
    }
    Ok(Some((
        bytes[0] & 0x0F,
        bytes[0] & 0x80 != 0,
        head..head + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_only_when_complete() {
        // Short, 16-bit and 64-bit lengths, as a server writes them (unmasked).
        let mut bytes = vec![0x81, 3, b'a', b'b', b'c'];
        bytes.extend([0x81, 126, 0x01, 0x00]);
        bytes.extend(vec![b'x'; 256]);
        assert_eq!(frame_at(&bytes).unwrap(), Some((1, true, 2..5)));
        assert_eq!(frame_at(&bytes[5..]).unwrap(), Some((1, true, 4..260)));
        assert_eq!(frame_at(&bytes[5..100]).unwrap(), None);
        assert_eq!(frame_at(&bytes[..1]).unwrap(), None);
        let mut long = vec![0x82, 127];
        long.extend(70_000u64.to_be_bytes());
        long.extend(vec![0; 70_000]);
        assert_eq!(frame_at(&long).unwrap(), Some((2, true, 10..70_010)));
        assert!(frame_at(&[0x81, 0x83, 0, 0, 0, 0]).is_err());
    }

    #[tokio::test]
    async fn talks_to_a_tungstenite_server() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Echoes texts and binaries; after the tenth, a ping and then a last text.
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let mut seen = 0;
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    seen += 1;
                    ws.send(message).await.unwrap();
                    if seen == 10 {
                        ws.send(Message::Ping(vec![7].into())).await.unwrap();
                        ws.send(Message::text("done")).await.unwrap();
                    }
                } else if let Message::Pong(data) = message {
                    assert_eq!(&data[..], &[7]);
                    return true;
                }
            }
            false
        });
        let mut client = FrameStream::connect(&format!("ws://{addr}/"))
            .await
            .unwrap();
        let long = "y".repeat(300);
        for i in 0..10 {
            let text = if i == 5 {
                long.clone()
            } else {
                format!("m{i}")
            };
            // The fourth goes as a binary message.
            client.feed_message(i == 3, text.as_bytes());
        }
        client.flush().await.unwrap();
        let mut echoed = Vec::new();
        while echoed.last().map(|(_, t): &(bool, String)| t.as_str()) != Some("done") {
            client
                .read_messages(|m| {
                    let (binary, bytes) = match m {
                        super::Message::Text(t) => (false, t),
                        super::Message::Binary(b) => (true, b),
                    };
                    echoed.push((binary, String::from_utf8(bytes.to_vec()).unwrap()));
                })
                .await
                .unwrap();
        }
        assert_eq!(echoed[0], (false, "m0".to_owned()));
        assert_eq!(echoed[3], (true, "m3".to_owned()));
        assert_eq!(echoed[5], (false, long));
        assert_eq!(echoed[9], (false, "m9".to_owned()));
        // The ping came before "done": its pong goes out with the next flush.
        assert!(!client.write.is_empty());
        client.flush().await.unwrap();
        assert!(server.await.unwrap());
    }
}
