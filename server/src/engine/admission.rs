//! Who may open or use a session: the `Origin` check, the `allow_request` hook
//! (socket.io's `allowRequest`) and the `connection_error` report.
//!
//! WebSockets are not covered by CORS: a browser opens one to any site and sends that
//! site's cookies along, whatever the CORS headers say. So the server itself refuses
//! a browser request whose `Origin` the [`Cors`] setting does not allow (HTTP 403,
//! engine.io's "Forbidden", code 4), on every request of the endpoint. A request
//! without `Origin` comes from no browser page (curl, a native client) and passes.

use super::config::Cors;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// An HTTP request to the endpoint, as the admission hooks see it.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The HTTP method.
    pub method: Method,
    /// The request's path and query.
    pub uri: Uri,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The query parameters, decoded (`EIO`, `transport`, `sid` and the client's own).
    pub query: HashMap<String, String>,
    /// The peer's address, when the server was started with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub address: Option<SocketAddr>,
}

impl RequestInfo {
    /// The `Origin` header, if the request has one (browsers send it; other clients
    /// usually do not).
    pub fn origin(&self) -> Option<&str> {
        self.headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
    }

    /// The cookies of the `Cookie` headers, by name (the first of each name wins).
    pub fn cookies(&self) -> HashMap<String, String> {
        let mut cookies = HashMap::new();
        for value in self.headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((name, value)) = pair.split_once('=') {
                    cookies
                        .entry(name.trim().to_owned())
                        .or_insert_with(|| value.trim().trim_matches('"').to_owned());
                }
            }
        }
        cookies
    }

    /// One cookie's value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().remove(name)
    }

    /// The session id the request names, if any (none on a handshake).
    pub fn sid(&self) -> Option<&str> {
        self.query.get("sid").map(String::as_str)
    }
}

/// A refused request: its HTTP status and the message of its error body.
///
/// The body is engine.io's `{"code":4,"message":...}` ("Forbidden").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status of the answer (engine.io uses 403).
    pub status: StatusCode,
    /// The `message` of the error body.
    pub message: String,
}

impl Refusal {
    /// A refusal with this status and message. A status that is no error (not 4xx or
    /// 5xx) becomes 403: a refused request must not look like a successful one.
    pub fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::from_u16(status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::FORBIDDEN),
            message: message.into(),
        }
    }

    /// HTTP 403 with this message.
    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal::new(403, message)
    }
}

/// A request the endpoint refused, as the `connection_error` hook sees it (engine.io's
/// `connection_error` event).
#[derive(Debug, Clone)]
pub struct ConnectionError {
    /// engine.io's error code: 0 "Transport unknown", 1 "Session ID unknown",
    /// 2 "Bad handshake method", 3 "Bad request", 4 "Forbidden", 5 "Unsupported
    /// protocol version".
    pub code: u8,
    /// The message of the error body.
    pub message: String,
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The refused request.
    pub request: RequestInfo,
}

/// The future an `allow_request` check returns.
type AllowFuture = BoxFuture<'static, Result<(), Refusal>>;

/// The type of the `allow_request` hook, as kept in [`EngineConfig`](crate::EngineConfig).
#[derive(Clone)]
pub struct AllowRequest(pub(crate) Arc<dyn Fn(Arc<RequestInfo>) -> AllowFuture + Send + Sync>);

impl AllowRequest {
    /// Wraps an async check.
    pub fn new<F, Fut>(check: F) -> AllowRequest
    where
        F: Fn(Arc<RequestInfo>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Refusal>> + Send + 'static,
    {
        AllowRequest(Arc::new(move |req| Box::pin(check(req))))
    }
}

impl fmt::Debug for AllowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AllowRequest(..)")
    }
}

/// The type of the `connection_error` hook, as kept in
/// [`EngineConfig`](crate::EngineConfig).
#[derive(Clone)]
pub struct OnConnectionError(pub(crate) Arc<dyn Fn(&ConnectionError) + Send + Sync>);

impl OnConnectionError {
    /// Wraps a callback.
    pub fn new<F: Fn(&ConnectionError) + Send + Sync + 'static>(f: F) -> OnConnectionError {
        OnConnectionError(Arc::new(f))
    }
}

impl fmt::Debug for OnConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnConnectionError(..)")
    }
}

/// Why a request was refused: what its answer and the `connection_error` report carry.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub(crate) code: u8,
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// The `reason` label of `sockeye_handshakes_refused_total`: fixed words, never
    /// the client's input.
    pub(crate) reason: &'static str,
}

/// engine.io's code for "Forbidden".
pub(crate) const FORBIDDEN: u8 = 4;

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Rejection {
        Rejection {
            code: FORBIDDEN,
            status: r.status,
            message: r.message,
            reason: "not_allowed",
        }
    }
}

impl From<super::EngineError> for Rejection {
    fn from(e: super::EngineError) -> Rejection {
        Rejection {
            code: e.code(),
            status: e.status(),
            message: e.to_string(),
            reason: e.reason(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

impl Cors {
    /// Whether a request with these headers may use the endpoint: no `Origin`, or an
    /// `Origin` this setting allows.
    ///
    /// - [`Cors::Any`]: every origin.
    /// - [`Cors::Origins`]: the exact serialized origin (`https://example.com:8443`) is in
    ///   the list.
    /// - [`Cors::SameOrigin`]: the origin's host and port equal the `Host` header's
    ///   (a missing port is the scheme's default: 80 for http, 443 for https). The
    ///   scheme is not compared: behind a TLS-terminating proxy the server cannot tell
    ///   which one the page used, and host and port already name the site.
    ///
    /// `Origin: null` (sandboxed frames, `file:` pages, some redirects) is allowed by
    /// [`Cors::Any`] only.
    ///
    /// The endpoint applies it to each of its requests; an application's own WebSocket
    /// routes can apply it too.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        match self {
            Cors::Any => true,
            Cors::Origins(list) => origin
                .to_str()
                .is_ok_and(|o| list.iter().any(|allowed| allowed == o)),
            Cors::SameOrigin => same_origin(origin, headers.get(header::HOST)),
        }
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host and port of `host`.
fn same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(|h| h.to_str())) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    match (
        host_and_port(authority, default_port),
        host_and_port(host, default_port),
    ) {
        (Some(a), Some(b)) => a.0.eq_ignore_ascii_case(b.0) && a.1 == b.1,
        _ => false,
    }
}

/// Splits `host[:port]` (an IPv6 host in brackets), the port defaulting to `default`.
fn host_and_port(authority: &str, default: u16) -> Option<(&str, u16)> {
    // An origin is only scheme, host and port: anything more (a path, user info) is
    // not a serialized origin, and not trusted.
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return None;
    }
    let port_start = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => Some(i),
        _ => None,
    };
    match port_start {
        Some(i) => Some((&authority[..i], authority[i + 1..].parse().ok()?)),
        None => Some((authority, default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        let same = Cors::SameOrigin;
        assert!(same.allows(&headers(None, "a.test:8080")));
        assert!(same.allows(&headers(Some("http://a.test:8080"), "a.test:8080")));
        assert!(same.allows(&headers(Some("https://A.test"), "a.test")));
        assert!(same.allows(&headers(Some("http://a.test"), "a.test:80")));
        assert!(same.allows(&headers(Some("http://[::1]:3000"), "[::1]:3000")));
        assert!(!same.allows(&headers(Some("http://a.test:8081"), "a.test:8080")));
        assert!(!same.allows(&headers(Some("https://evil.example"), "a.test:8080")));
        assert!(!same.allows(&headers(Some("http://a.test.evil"), "a.test")));
        assert!(!same.allows(&headers(Some("null"), "a.test")));
        assert!(!same.allows(&headers(Some("http://a.test"), "a.test:443")));
        assert!(!same.allows(&headers(Some("http://x@a.test"), "a.test")));
        assert!(!same.allows(&headers(Some("ftp://a.test"), "a.test")));
    }

    #[test]
    fn a_list_compares_the_exact_origin() {
        let list = Cors::Origins(vec!["https://a.test".into()]);
        assert!(list.allows(&headers(None, "b.test")));
        assert!(list.allows(&headers(Some("https://a.test"), "b.test")));
        assert!(!list.allows(&headers(Some("http://a.test"), "b.test")));
        assert!(!list.allows(&headers(Some("https://a.test:444"), "b.test")));
        assert!(!list.allows(&headers(Some("null"), "b.test")));
        assert!(Cors::Any.allows(&headers(Some("null"), "b.test")));
    }

    #[test]
    fn a_refusal_is_always_an_error_status() {
        assert_eq!(Refusal::new(401, "x").status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            Refusal::new(503, "x").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(Refusal::new(200, "x").status, StatusCode::FORBIDDEN);
        assert_eq!(Refusal::new(99, "x").status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn parses_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; b = \"two\";c"),
        );
        let req = RequestInfo {
            method: Method::GET,
            uri: Uri::from_static("/"),
            headers: h,
            query: HashMap::new(),
            address: None,
        };
        assert_eq!(req.cookie("a").as_deref(), Some("1"));
        assert_eq!(req.cookie("b").as_deref(), Some("two"));
        assert_eq!(req.cookie("c"), None);
    }
}
