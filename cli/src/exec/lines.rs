//! A program's output cut into lines, each at most a bound long: `read_until` would
//! grow its buffer without limit on a program that never writes a newline.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What one read gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, without its `\n` (and without a `\r` before it). Bytes that are not
    /// UTF-8 are replaced (U+FFFD): a WebSocket text message must be UTF-8.
    Text(String),
    /// The line went past the bound; what was read of it is dropped.
    TooLong,
    /// The output ended (the last line, if it had no newline, came before this).
    End,
}

/// Reads lines of at most `max` bytes from `reader`.
pub struct Lines<R> {
    reader: R,
    max: usize,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// Lines of at most `max` bytes (the newline not counted).
    pub fn new(reader: R, max: usize) -> Self {
        Lines {
            reader,
            max,
            buf: Vec::new(),
        }
    }

    /// The next line. After [`Line::TooLong`] the caller stops reading: the rest of the
    /// long line would come as a line of its own.
    pub async fn next(&mut self) -> std::io::Result<Line> {
        self.buf.clear();
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                if self.buf.is_empty() {
                    return Ok(Line::End);
                }
                return Ok(Line::Text(self.take()));
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i)),
                None => (available, None),
            };
            if self.buf.len() + chunk.len() > self.max {
                return Ok(Line::TooLong);
            }
            self.buf.extend_from_slice(chunk);
            let used = found.map_or(chunk.len(), |i| i + 1);
            self.reader.consume(used);
            if found.is_some() {
                return Ok(Line::Text(self.take()));
            }
        }
    }

    /// Drops the rest of a line that was [`Line::TooLong`], up to and with its newline,
    /// so that reading can go on with the next line.
    pub async fn skip_rest(&mut self) -> std::io::Result<()> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(());
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.reader.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = available.len();
                    self.reader.consume(n);
                }
            }
        }
    }

    fn take(&mut self) -> String {
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{Line, Lines};

    async fn all(input: &[u8], max: usize) -> Vec<Line> {
        let mut lines = Lines::new(input, max);
        let mut out = Vec::new();
        loop {
            let line = lines.next().await.unwrap();
            let stop = line == Line::End || line == Line::TooLong;
            out.push(line);
            if stop {
                return out;
            }
        }
    }

    fn text(s: &str) -> Line {
        Line::Text(s.to_owned())
    }

    #[tokio::test]
    async fn lines_come_without_their_newline_and_the_last_without_one_too() {
        assert_eq!(
            all(b"1\r\n\n2\nlast", 10).await,
            vec![text("1"), text(""), text("2"), text("last"), Line::End]
        );
    }

    #[tokio::test]
    async fn a_line_past_the_bound_is_too_long_and_one_at_it_is_not() {
        assert_eq!(
            all(b"abcd\nabcde\n", 4).await,
            vec![text("abcd"), Line::TooLong]
        );
        assert_eq!(all(b"abcdefgh", 4).await, vec![Line::TooLong]);
    }

    #[tokio::test]
    async fn after_a_long_line_reading_goes_on_with_the_next() {
        let mut lines = Lines::new(&b"abcdefgh\nok\n"[..], 4);
        assert_eq!(lines.next().await.unwrap(), Line::TooLong);
        lines.skip_rest().await.unwrap();
        assert_eq!(lines.next().await.unwrap(), text("ok"));
    }

    #[tokio::test]
    async fn bytes_that_are_not_utf8_are_replaced() {
        assert_eq!(
            all(b"a\xffb\n", 10).await,
            vec![text("a\u{fffd}b"), Line::End]
        );
    }
}
