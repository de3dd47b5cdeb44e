//! The shapes the admin UI reads: a socket as the official `serialize()` makes it,
//! and dates as JSON makes a JavaScript `Date` (ISO 8601, UTC, milliseconds).

use crate::adapter::SocketInfo;
use crate::engine::Transport;
use crate::socket::Socket;
use serde_json::{json, Value as Json};
use std::time::{SystemTime, UNIX_EPOCH};

/// A socket of this node, with its client id and transport.
pub(crate) fn local_socket(socket: &Socket) -> Json {
    let info = SocketInfo {
        id: socket.inner.id.clone(),
        rooms: socket.rooms(),
        handshake: crate::handshake::handshake_json(socket.handshake(), socket.auth(), false),
        data: socket.data(),
    };
    let transport = match socket.transport() {
        Transport::WebSocket => "websocket",
        _ => "polling",
    };
    let client_id: String = socket.engine_sid().chars().take(12).collect();
    socket_json(&info, socket.namespace(), Some(&client_id), Some(transport))
}

/// A socket as `fetchSockets` found it, maybe on another node.
pub(crate) fn socket_json(
    info: &SocketInfo,
    nsp: &str,
    client_id: Option<&str>,
    transport: Option<&str>,
) -> Json {
    let mut handshake = serde_json::to_value(&info.handshake).unwrap_or(Json::Null);
    if let Json::Object(map) = &mut handshake {
        // As the official server: the credentials stay on the server.
        map.remove("auth");
        let forwarded = ["cf-connecting-ip", "x-forwarded-for"]
            .iter()
            .find_map(|h| map.get("headers")?.get(*h)?.as_str().map(str::to_owned));
        if let Some(address) = forwarded {
            map.insert("address".into(), Json::String(address));
        }
    }
    let rooms: Vec<&str> = info.rooms.iter().map(|r| &**r).collect();
    json!({
        "id": &*info.id,
        // Another node's socket: its engine id and transport do not travel with
        // fetchSockets; the UI shows them empty.
        "clientId": client_id.unwrap_or_default(),
        "transport": transport.unwrap_or_default(),
        "nsp": nsp,
        "data": serde_json::to_value(&info.data).unwrap_or(Json::Null),
        "handshake": handshake,
        "rooms": rooms,
    })
}

/// Now, as `JSON.stringify(new Date())` writes it.
pub(crate) fn now() -> Json {
    Json::String(iso_date(SystemTime::now()))
}

pub(crate) fn iso_date(time: SystemTime) -> String {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = crate::handshake::civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_as_javascript_writes_them() {
        let at = |ms| iso_date(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        // new Date(1764748800123).toISOString()
        assert_eq!(at(1_764_748_800_123), "2025-12-03T08:00:00.123Z");
        // A leap day: new Date(951782400000).toISOString()
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
