//! Connection state recovery across nodes, as `@socket.io/redis-streams-adapter` keeps
//! it: a disconnected socket's session is a key (`sio:session:{pid}`, the base64 of the
//! MessagePack of `{sid, pid, rooms, data}`, expiring after `maxDisconnectionDuration`),
//! and the packets it missed are the stream's broadcast entries after the offset it
//! names (an entry id), filtered by its rooms.

use super::entry::{ClusterMessage, MessageType};
use super::link::{parse_entries, StreamsLink};
use crate::message::{encode_msgpack, from_msgpack, options_from_value, room_name, rooms_value};
use base64::Engine as _;
use sockeye_protocol::Value;
use sockeye_server::{BroadcastOptions, RestoredSession, Room, Session};

/// The most `XRANGE` calls one restoration makes, as the Node adapter: past it, a stream
/// that grows faster than it is read would keep the restoration going for ever.
const MAX_XRANGE_CALLS: usize = 100;

/// How often, and how far apart, a restoration looks for a session not stored yet:
/// about a second in all, which a client with no session left waits before it gets a
/// new one.
const SESSION_ATTEMPTS: usize = 6;
const SESSION_RETRY: std::time::Duration = std::time::Duration::from_millis(200);
/// How long a restoration waits for this node's reader to reach where it read to.
const READER_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(5);

/// A session as the Node adapter stores it.
pub(crate) fn encode(session: &Session) -> String {
    let value = Value::Object(vec![
        ("sid".into(), Value::String(session.sid.to_string())),
        ("pid".into(), Value::String(session.pid.to_string())),
        ("rooms".into(), rooms_value(&session.rooms)),
        ("data".into(), session.data.clone()),
    ]);
    base64::engine::general_purpose::STANDARD.encode(encode_msgpack(&value))
}

/// A stored session; `None` for anything else.
pub(crate) fn decode(text: &[u8]) -> Option<Session> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let value = from_msgpack(rmpv::decode::read_value(&mut &bytes[..]).ok()?);
    let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
    let rooms = match value.get("rooms") {
        Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
        _ => Vec::new(),
    };
    Some(Session {
        sid: text("sid")?.as_str().into(),
        pid: text("pid")?.as_str().into(),
        rooms,
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// Whether `offset` is a stream entry id (`<ms>-<seq>`).
fn is_entry_id(offset: &str) -> bool {
    let mut parts = offset.split('-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// The id right after `offset` (exclusive ranges came only with Redis 6.2).
fn next_id(offset: &str) -> String {
    let (ms, seq) = offset.split_once('-').unwrap_or((offset, "0"));
    format!("{ms}-{}", seq.parse::<u64>().unwrap_or(0).saturating_add(1))
}

/// Whether a socket in `rooms` was a target of a broadcast with `opts`.
fn includes(rooms: &[Room], opts: &BroadcastOptions) -> bool {
    let included = opts.rooms.is_empty() || rooms.iter().any(|r| opts.rooms.contains(r));
    included && !rooms.iter().any(|r| opts.except.contains(r))
}

/// Takes the session of `pid` and reads what it missed after `offset` in `namespace`.
pub(crate) async fn restore(
    link: &StreamsLink,
    namespace: &str,
    pid: &str,
    offset: &str,
) -> Result<Option<RestoredSession>, redis::RedisError> {
    if !is_entry_id(offset) {
        return Ok(None);
    }
    let stream = &link.options.stream_name;
    let key = format!("{}{pid}", link.options.session_key_prefix);
    let mut conn = link.commands.clone();
    // A session this node kept is queued behind its other writes: let them out first.
    link.flushed().await;
    let mut raw = None;
    for attempt in 0..SESSION_ATTEMPTS {
        if attempt > 0 {
            // The node the client left may not have stored it yet: it may not have
            // seen the connection die, or its write may be waiting on a paused Redis
            // behind this read.
            tokio::time::sleep(SESSION_RETRY).await;
        }
        // GET and DEL in one transaction: a session is given back once (GETDEL is 6.2+).
        let (found,): (Option<Vec<u8>>,) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&key)
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .query_async(&mut conn)
            .await?;
        if found.is_some() {
            raw = found;
            break;
        }
    }
    let at_offset: redis::Value = redis::cmd("XRANGE")
        .arg(stream)
        .arg(offset)
        .arg(offset)
        .query_async(&mut conn)
        .await?;
    // The offset's entry must still be in the stream: otherwise some of what followed
    // it may be trimmed away, and a partial replay would be a silent loss.
    let (Some(raw), false) = (raw, parse_entries(&at_offset).is_empty()) else {
        return Ok(None);
    };
    let Some(session) = decode(&raw) else {
        return Ok(None);
    };
    let mut missed = Vec::new();
    let mut cursor = offset.to_owned();
    for _ in 0..MAX_XRANGE_CALLS {
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(stream)
            .arg(next_id(&cursor))
            .arg("+")
            .query_async(&mut conn)
            .await?;
        let entries = parse_entries(&reply);
        if entries.is_empty() {
            break;
        }
        for (id, fields) in entries {
            if let Some(message) = ClusterMessage::from_fields(&fields) {
                if message.nsp == namespace && message.kind == MessageType::Broadcast {
                    let opts = message
                        .data
                        .get("opts")
                        .map(options_from_value)
                        .unwrap_or_default();
                    let data = message.data.get("packet").and_then(|p| p.get("data"));
                    if let (Some(Value::Array(data)), true) =
                        (data, includes(&session.rooms, &opts))
                    {
                        let mut data = data.clone();
                        data.push(Value::String(id.clone()));
                        missed.push(data);
                    }
                }
            }
            cursor = id;
        }
    }
    // What came after `cursor` reaches this node's sockets through the reader: wait
    // until it has handed `cursor` over, so that the socket gets each packet once,
    // either here or from what this node delivered since ([`RestoredSession::read_to`]).
    let mut read = link.read.subscribe();
    let caught_up =
        read.wait_for(|last| last.as_deref().is_some_and(|last| !id_after(&cursor, last)));
    if tokio::time::timeout(READER_CATCH_UP, caught_up)
        .await
        .is_err()
    {
        tracing::debug!(cursor, "stream reader behind a restoration: going on");
    }
    Ok(Some(RestoredSession {
        session,
        missed,
        read_to: Some(cursor),
    }))
}

/// Whether entry id `a` comes after `b` (`<ms>-<seq>`, compared as numbers).
pub(crate) fn id_after(a: &str, b: &str) -> bool {
    fn parts(id: &str) -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }
    parts(a) > parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_round_trips_and_garbage_is_none() {
        let session = Session {
            sid: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "r".into()],
            data: Value::from(serde_json::json!({"user": "u"})),
        };
        assert_eq!(decode(encode(&session).as_bytes()), Some(session));
        assert!(decode(b"!!").is_none());
        assert!(decode(b"AAAA").is_none());
    }

    #[test]
    fn offsets_are_entry_ids() {
        assert!(is_entry_id("1700000000000-0"));
        for bad in ["", "1-", "-1", "1-2-3", "abc-1", "7"] {
            assert!(!is_entry_id(bad), "{bad}");
        }
        assert_eq!(next_id("5-9"), "5-10");
        assert!(id_after("10-0", "9-5"));
        assert!(id_after("9-10", "9-9"));
        assert!(!id_after("9-9", "9-9"));
    }

    #[test]
    fn rooms_and_exceptions_select_the_missed_packets() {
        let rooms: Vec<Room> = vec!["s".into(), "a".into()];
        let opts = |to: &[&str], except: &[&str]| BroadcastOptions {
            rooms: to.iter().map(|&r| r.into()).collect(),
            except: except.iter().map(|&r| r.into()).collect(),
        };
        assert!(includes(&rooms, &opts(&[], &[])));
        assert!(includes(&rooms, &opts(&["a"], &[])));
        assert!(!includes(&rooms, &opts(&["b"], &[])));
        assert!(!includes(&rooms, &opts(&[], &["a"])));
    }
}
