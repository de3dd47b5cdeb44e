//! What the server knows of the HTTP request that opened a connection.

use axum::http::HeaderMap;
use sockeye_protocol::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The HTTP request that opened an Engine.IO session (socket.io's `socket.handshake`).
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The request headers (cookies, user agent, forwarded addresses, ...).
    pub headers: HeaderMap,
    /// The query parameters, decoded.
    pub query: HashMap<String, String>,
    /// The peer address, when the server was started with connect info
    /// (`into_make_service_with_connect_info::<SocketAddr>()`).
    pub address: Option<SocketAddr>,
    /// The request URL (path and query).
    pub url: String,
    /// When the request arrived.
    pub issued: SystemTime,
}

/// socket.io's `socket.handshake` for a handshake of ours.
pub(crate) fn handshake_json(handshake: &Handshake, auth: &Value, secure: bool) -> Value {
    let headers = handshake
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_owned(),
                Value::String(value.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let query = handshake
        .query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let issued = handshake
        .issued
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Value::Object(vec![
        ("headers".into(), Value::Object(headers)),
        ("time".into(), Value::String(http_date(issued))),
        (
            "address".into(),
            Value::String(
                handshake
                    .address
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
            ),
        ),
        (
            "xdomain".into(),
            Value::Bool(handshake.headers.contains_key("origin")),
        ),
        ("secure".into(), Value::Bool(secure)),
        ("issued".into(), Value::Number(issued.into())),
        ("url".into(), Value::String(handshake.url.clone())),
        ("query".into(), Value::Object(query)),
        ("auth".into(), auth.clone()),
    ])
}

/// The (year, month 1–12, day 1–31) of a day counted from 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm): the dates of socket.io's JSON shapes, here and in the admin UI.
pub(crate) fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A date as JavaScript's `Date.prototype.toString` would not bother to: the RFC 7231
/// form, which is what `new Date(...)` parses back.
fn http_date(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let (year, month, day) = civil_date(days as i64);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::http_date;

    #[test]
    fn dates_read_like_rfc_7231() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_764_619_200_000),
            "Mon, 01 Dec 2025 20:00:00 GMT"
        );
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
