//! Connection state recovery (socket.io 4.6's `connectionStateRecovery`): every event
//! packet a namespace sends without an ack carries an offset as its last argument and is
//! kept for a while; a socket that leaves for a reason the network can cause is kept
//! too. A client that comes back within the allowed time with its private id (`pid`)
//! and the last offset it processed gets its id, rooms and data again, and every packet
//! it missed, in order.
//!
//! Memory is bounded: at most [`Recovery::max_packets`] packets per namespace and
//! [`Recovery::max_sessions`] sessions, none older than
//! [`Recovery::max_disconnection_duration`]; past a bound, the oldest go first (their
//! clients then get a fresh session, as when the time is up).

use crate::adapter::{BroadcastOptions, Room, Sid};
use crate::config::Recovery;
use crate::engine::Frame;
use crate::hash::Map;
use sockeye_protocol::Value;
use std::collections::VecDeque;
use std::time::Instant;

/// A socket that left and may come back.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) sid: Sid,
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: Value,
    left_at: Instant,
}

/// A session given back, with the frames it missed.
pub(crate) struct Restored {
    pub(crate) session: Session,
    pub(crate) missed: Vec<Frame>,
}

struct Stored {
    offset: u64,
    opts: BroadcastOptions,
    frame: Frame,
    sent_at: Instant,
}

/// One namespace's kept packets and sessions.
pub(crate) struct RecoveryStore {
    config: Recovery,
    next_offset: u64,
    packets: VecDeque<Stored>,
    sessions: Map<Sid, Session>,
    /// Pids in the order their sessions left, for the oldest-first bound.
    order: VecDeque<Sid>,
    /// The socket id of each connected socket, by pid: a client that comes back before
    /// the server has seen its old connection die takes the session over from it.
    live: Map<Sid, Sid>,
    /// The packets numbered by an adapter that keeps sessions, as delivered here (in
    /// its log's order): what a socket restored from the log needs of what came after
    /// the log was read and before the socket was registered.
    numbered: VecDeque<Numbered>,
}

struct Numbered {
    offset: String,
    opts: BroadcastOptions,
    frame: Frame,
    sent_at: Instant,
}

impl RecoveryStore {
    pub(crate) fn new(config: Recovery) -> RecoveryStore {
        RecoveryStore {
            config,
            // Offsets of one process differ from another's: a client that comes back
            // to a restarted server is not matched against the wrong packets.
            next_offset: u64::from(rand::random::<u32>()) << 20,
            packets: VecDeque::new(),
            sessions: Map::default(),
            order: VecDeque::new(),
            live: Map::default(),
            numbered: VecDeque::new(),
        }
    }

    /// Keeps a packet an adapter numbered, as it is delivered here.
    pub(crate) fn keep_numbered(
        &mut self,
        offset: &str,
        opts: &BroadcastOptions,
        frame: Frame,
        now: Instant,
    ) {
        let max = self.config.max_disconnection_duration;
        while self
            .numbered
            .front()
            .is_some_and(|p| now.duration_since(p.sent_at) > max)
        {
            self.numbered.pop_front();
        }
        if self.numbered.len() >= self.config.max_packets {
            self.numbered.pop_front();
        }
        self.numbered.push_back(Numbered {
            offset: offset.to_owned(),
            opts: opts.clone(),
            frame,
            sent_at: now,
        });
    }

    /// The numbered packets delivered here whose offset `after` says come later, that a
    /// socket in `rooms` was a target of.
    pub(crate) fn numbered_after(
        &self,
        rooms: &[Room],
        after: impl Fn(&str) -> bool,
    ) -> Vec<Frame> {
        self.numbered
            .iter()
            .filter(|p| after(&p.offset) && includes(rooms, &p.opts))
            .map(|p| p.frame.clone())
            .collect()
    }

    /// A socket with this pid has joined.
    pub(crate) fn joined(&mut self, pid: &Sid, sid: &Sid) {
        self.live.insert(pid.clone(), sid.clone());
    }

    /// The socket with this pid has left.
    pub(crate) fn gone(&mut self, pid: &Sid, sid: &Sid) {
        if self.live.get(pid) == Some(sid) {
            self.live.remove(pid);
        }
    }

    /// The socket still connected under `pid`, if any.
    pub(crate) fn live(&self, pid: &str) -> Option<Sid> {
        self.live.get(pid).cloned()
    }

    /// The offset the next packet gets, as it travels (a string, as socket.io's).
    pub(crate) fn next_offset(&mut self) -> (u64, String) {
        let offset = self.next_offset;
        self.next_offset += 1;
        (offset, format!("{offset:x}"))
    }

    /// Keeps a packet's frame for the sockets `opts` selects.
    pub(crate) fn keep(
        &mut self,
        offset: u64,
        opts: &BroadcastOptions,
        frame: Frame,
        now: Instant,
    ) {
        self.expire(now);
        if self.packets.len() >= self.config.max_packets {
            self.packets.pop_front();
        }
        self.packets.push_back(Stored {
            offset,
            opts: opts.clone(),
            frame,
            sent_at: now,
        });
    }

    /// Keeps a session that left for a reason the network can cause.
    pub(crate) fn persist(
        &mut self,
        sid: Sid,
        pid: Sid,
        rooms: Vec<Room>,
        data: Value,
        now: Instant,
    ) {
        self.expire(now);
        while self.sessions.len() >= self.config.max_sessions {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.sessions.remove(&oldest);
        }
        self.order.push_back(pid.clone());
        self.sessions.insert(
            pid.clone(),
            Session {
                sid,
                rooms,
                data,
                left_at: now,
            },
        );
    }

    /// The socket id of the session `pid` if [`RecoveryStore::restore`] would give it
    /// back now; changes nothing.
    pub(crate) fn peek(&self, pid: &str, offset: &str, now: Instant) -> Option<Sid> {
        let session = self.sessions.get(pid)?;
        let offset = u64::from_str_radix(offset, 16).ok()?;
        let first = self.packets.front()?.offset;
        let in_time = now.duration_since(session.left_at) <= self.config.max_disconnection_duration;
        (in_time && offset >= first && offset < self.next_offset).then(|| session.sid.clone())
    }

    /// The session of `pid` with the packets after `offset` it would have received;
    /// `None` when it is unknown, too old, or its offset is no longer kept.
    pub(crate) fn restore(&mut self, pid: &str, offset: &str, now: Instant) -> Option<Restored> {
        self.expire(now);
        let session = self.sessions.remove(pid)?;
        self.order.retain(|p| &**p != pid);
        let offset = u64::from_str_radix(offset, 16).ok()?;
        let first = self.packets.front()?.offset;
        // The offset must be one we still hold (or the last one sent, if nothing has
        // been kept since): otherwise some packets are gone, and a partial replay would
        // be a silent loss.
        if offset < first || offset >= self.next_offset {
            return None;
        }
        let missed = self
            .packets
            .iter()
            .filter(|p| p.offset > offset && includes(&session.rooms, &p.opts))
            .map(|p| p.frame.clone())
            .collect();
        Some(Restored { session, missed })
    }

    fn expire(&mut self, now: Instant) {
        let max = self.config.max_disconnection_duration;
        while self
            .packets
            .front()
            .is_some_and(|p| now.duration_since(p.sent_at) > max)
        {
            self.packets.pop_front();
        }
        while let Some(pid) = self.order.front() {
            match self.sessions.get(pid) {
                Some(s) if now.duration_since(s.left_at) <= max => break,
                Some(_) => {
                    self.sessions.remove(pid);
                    self.order.pop_front();
                }
                None => {
                    self.order.pop_front();
                }
            }
        }
    }
}

/// Whether a socket in `rooms` was a target of a packet sent with `opts`.
fn includes(rooms: &[Room], opts: &BroadcastOptions) -> bool {
    let included = opts.rooms.is_empty() || rooms.iter().any(|r| opts.rooms.contains(r));
    included && !rooms.iter().any(|r| opts.except.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn frame(s: &str) -> Frame {
        Frame::Text(s.to_owned().into())
    }

    fn text(f: &Frame) -> String {
        match f {
            Frame::Text(t) => t.to_string(),
            _ => unreachable!("text frames only here"),
        }
    }

    fn room(s: &str) -> Room {
        Room::from(s)
    }

    fn to(rooms: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| room(r)).collect(),
            except: vec![],
        }
    }

    #[test]
    fn a_session_gets_back_what_its_rooms_missed_in_order() {
        let t0 = Instant::now();
        let mut store = RecoveryStore::new(Recovery::default());
        let (first, first_text) = store.next_offset();
        store.keep(first, &to(&["a"]), frame("1"), t0);
        store.persist(
            room("sid"),
            room("pid"),
            vec![room("sid"), room("a")],
            Value::Null,
            t0,
        );
        for (i, rooms) in [&["a"][..], &["b"], &[], &["sid"]].iter().enumerate() {
            let (n, _) = store.next_offset();
            store.keep(n, &to(rooms), frame(&format!("{}", i + 2)), t0);
        }
        let except_a = BroadcastOptions {
            rooms: vec![],
            except: vec![room("a")],
        };
        let (n, _) = store.next_offset();
        store.keep(n, &except_a, frame("6"), t0);
        let restored = store
            .restore("pid", &first_text, t0 + Duration::from_secs(1))
            .expect("restored");
        assert_eq!(&*restored.session.sid, "sid");
        let got: Vec<String> = restored.missed.iter().map(text).collect();
        assert_eq!(got, ["2", "4", "5"]);
        // A session is given back once.
        assert!(store.restore("pid", &first_text, t0).is_none());
    }

    #[test]
    fn too_late_unknown_or_evicted_offsets_are_not_recovered() {
        let t0 = Instant::now();
        let config = Recovery {
            max_packets: 2,
            ..Recovery::default()
        };
        let mut store = RecoveryStore::new(config);
        let mut offsets = Vec::new();
        for i in 0..3 {
            let (n, s) = store.next_offset();
            store.keep(n, &to(&[]), frame(&i.to_string()), t0);
            offsets.push(s);
        }
        store.persist(room("s"), room("p"), vec![room("s")], Value::Null, t0);
        // The first packet was evicted: its offset cannot be the base of a replay.
        assert!(store.restore("p", &offsets[0], t0).is_none());
        store.persist(room("s"), room("p"), vec![room("s")], Value::Null, t0);
        assert!(store.restore("p", "not hex", t0).is_none());
        store.persist(room("s"), room("p"), vec![room("s")], Value::Null, t0);
        assert_eq!(store.peek("p", &offsets[1], t0).as_deref(), Some("s"));
        let r = store.restore("p", &offsets[1], t0).expect("in time");
        assert_eq!(r.missed.iter().map(text).collect::<Vec<_>>(), ["2"]);
        // Past the allowed duration, neither the session nor the packets are kept.
        store.persist(room("s"), room("p"), vec![room("s")], Value::Null, t0);
        let late = t0 + Duration::from_secs(121);
        assert!(store.peek("p", &offsets[2], late).is_none());
        assert!(store.restore("p", &offsets[2], late).is_none());
    }

    #[test]
    fn sessions_are_bounded_oldest_first() {
        let t0 = Instant::now();
        let config = Recovery {
            max_sessions: 2,
            ..Recovery::default()
        };
        let mut store = RecoveryStore::new(config);
        let (n, s) = store.next_offset();
        store.keep(n, &to(&[]), frame("x"), t0);
        for p in ["p1", "p2", "p3"] {
            store.persist(room(p), room(p), vec![room(p)], Value::Null, t0);
        }
        assert!(store.restore("p1", &s, t0).is_none());
        assert!(store.restore("p2", &s, t0).is_some());
        assert!(store.restore("p3", &s, t0).is_some());
    }
}
