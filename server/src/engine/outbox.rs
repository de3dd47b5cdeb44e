//! A session's outbound queue: frames waiting for the transport, bounded.
//!
//! Many producers (handlers, broadcasts, the heartbeat) push; one consumer at a time
//! (a pending polling GET, or the session's task once on WebSocket) takes them in
//! batches. It holds no memory while empty: an idle socket costs a few words here,
//! where a channel would keep its first block of slots (about 1.3 KiB) for life.

use super::session::Frame;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll};

/// How many slots a drained queue may keep for the next burst; more is given back.
/// A broadcast burst of a few dozen frames reuses its slots instead of growing the
/// queue anew each time; one of hundreds does not pin that memory.
const KEEP: usize = 32;

/// The queue is at its bound.
#[derive(Debug)]
pub(crate) struct Full;

/// A bounded multi-producer queue of frames with one consumer at a time.
pub(crate) struct Outbox {
    frames: Mutex<Queues>,
    bound: usize,
    /// The consumer waiting for frames, if any.
    consumer: AtomicWaker,
}

/// The frames waiting: a recovered session's replay goes out first and does not count
/// against the bound (its frames are the recovery store's, shared, and bounded there);
/// everything else is bounded.
#[derive(Default)]
struct Queues {
    first: VecDeque<Frame>,
    frames: VecDeque<Frame>,
}

impl Outbox {
    /// An empty queue that holds at most `bound` frames.
    pub(crate) fn new(bound: usize) -> Outbox {
        Outbox {
            frames: Mutex::new(Queues::default()),
            bound: bound.max(1),
            consumer: AtomicWaker::new(),
        }
    }

    /// Queues a frame, unless the queue is full.
    pub(crate) fn push(&self, frame: Frame) -> Result<(), Full> {
        {
            let mut queues = self.frames.lock().expect("outbox lock");
            if queues.frames.len() >= self.bound {
                return Err(Full);
            }
            queues.frames.push_back(frame);
        }
        self.consumer.wake();
        Ok(())
    }

    /// Queues frames to go out before everything else, past the bound: a recovered
    /// session's join answer and the packets it missed (at most the recovery store's
    /// bound), which a client back from a long cut must not be dropped for.
    pub(crate) fn push_first(&self, frames: impl IntoIterator<Item = Frame>) {
        self.frames
            .lock()
            .expect("outbox lock")
            .first
            .extend(frames);
        self.consumer.wake();
    }

    /// Queues a frame the client may miss (volatile): only while fewer than a
    /// sixteenth of the bound are waiting, so that under backpressure volatile frames
    /// go first and the client is disconnected only for what it must get. Whether it
    /// was queued.
    pub(crate) fn push_volatile(&self, frame: Frame) -> bool {
        {
            let mut queues = self.frames.lock().expect("outbox lock");
            if queues.first.len() + queues.frames.len() >= (self.bound / 16).max(1) {
                return false;
            }
            queues.frames.push_back(frame);
        }
        self.consumer.wake();
        true
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        let queues = self.frames.lock().expect("outbox lock");
        queues.first.is_empty() && queues.frames.is_empty()
    }

    /// Moves up to `limit` frames into `batch` (the replay first); how many.
    pub(crate) fn take(&self, batch: &mut Vec<Frame>, limit: usize) -> usize {
        let mut guard = self.frames.lock().expect("outbox lock");
        let queues = &mut *guard;
        let mut n = 0;
        for queue in [&mut queues.first, &mut queues.frames] {
            let k = queue.len().min(limit - n);
            batch.extend(queue.drain(..k));
            n += k;
            if queue.is_empty() && queue.capacity() > KEEP {
                *queue = VecDeque::new();
            }
        }
        n
    }

    /// Waits for frames and moves up to `limit` of them into `batch`. Only the
    /// current consumer may call it (the session's receive lock says who that is).
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        batch: &mut Vec<Frame>,
        limit: usize,
    ) -> Poll<usize> {
        let n = self.take(batch, limit);
        if n > 0 {
            return Poll::Ready(n);
        }
        self.consumer.register(cx.waker());
        // A frame pushed between the first look and the registration woke nobody.
        match self.take(batch, limit) {
            0 => Poll::Pending,
            n => Poll::Ready(n),
        }
    }

    /// [`Outbox::poll_take`] as a future.
    pub(crate) async fn take_many(&self, batch: &mut Vec<Frame>, limit: usize) -> usize {
        std::future::poll_fn(|cx| self.poll_take(cx, batch, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::Utf8Bytes;

    fn text(s: &'static str) -> Frame {
        Frame::Text(Utf8Bytes::from_static(s))
    }

    #[test]
    fn bounded_in_order_and_empty_when_drained() {
        let outbox = Outbox::new(3);
        for s in ["a", "b", "c"] {
            outbox.push(text(s)).unwrap();
        }
        assert!(outbox.push(text("d")).is_err());
        let mut batch = Vec::new();
        assert_eq!(outbox.take(&mut batch, 2), 2);
        assert_eq!(outbox.take(&mut batch, 10), 1);
        let got: Vec<&str> = batch
            .iter()
            .map(|f| match f {
                Frame::Text(t) => t.as_str(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, ["a", "b", "c"]);
        assert!(outbox.is_empty());
        assert_eq!(outbox.take(&mut batch, 10), 0);
    }

    #[test]
    fn a_drained_queue_gives_back_a_large_buffer() {
        let outbox = Outbox::new(1000);
        for _ in 0..100 {
            outbox.push(text("x")).unwrap();
        }
        outbox.take(&mut Vec::new(), 1000);
        assert_eq!(outbox.frames.lock().unwrap().frames.capacity(), 0);
    }

    #[test]
    fn a_replay_goes_first_and_past_the_bound() {
        let outbox = Outbox::new(2);
        outbox.push(text("live")).unwrap();
        outbox.push_first([text("connect"), text("m1"), text("m2"), text("m3")]);
        // The bound still holds for what is not a replay.
        outbox.push(text("live2")).unwrap();
        assert!(outbox.push(text("live3")).is_err());
        let mut batch = Vec::new();
        assert_eq!(outbox.take(&mut batch, 3), 3);
        assert_eq!(outbox.take(&mut batch, 10), 3);
        let got: Vec<&str> = batch
            .iter()
            .map(|f| match f {
                Frame::Text(t) => t.as_str(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, ["connect", "m1", "m2", "m3", "live", "live2"]);
    }

    #[tokio::test]
    async fn a_waiting_consumer_is_woken_by_a_push() {
        let outbox = std::sync::Arc::new(Outbox::new(10));
        let consumer = tokio::spawn({
            let outbox = outbox.clone();
            async move {
                let mut batch = Vec::new();
                outbox.take_many(&mut batch, 10).await
            }
        });
        tokio::task::yield_now().await;
        outbox.push(text("a")).unwrap();
        assert_eq!(consumer.await.unwrap(), 1);
    }
}
