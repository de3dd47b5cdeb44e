//! The request's details as environment variables, named as websocketd names them (CGI
//! 1.1, RFC 3875, plus websocketd's REMOTE_PORT, REQUEST_URI and UNIQUE_ID), so that a
//! program written for websocketd reads the same variables here.

use axum::http::{HeaderMap, Uri};
use std::net::SocketAddr;

/// What a request tells the program.
pub struct Request<'a> {
    /// The client's address and port.
    pub peer: Option<SocketAddr>,
    /// This server's listening address (SERVER_PORT when `Host` has no port).
    pub local: SocketAddr,
    /// Path and query as the client sent them.
    pub uri: &'a Uri,
    /// `HTTP/1.1` and the like.
    pub protocol: &'a str,
    pub headers: &'a HeaderMap,
    /// The connection's id in the log (UNIQUE_ID).
    pub id: u64,
}

/// The variables, in the order websocketd sets them; request headers last.
pub fn variables(request: &Request<'_>) -> Vec<(String, String)> {
    let (remote_addr, remote_port) = match request.peer {
        Some(peer) => (peer.ip().to_string(), peer.port().to_string()),
        None => ("unknown_host".to_owned(), String::new()),
    };
    let host = request
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let (server_name, server_port) = split_host(host, request.local);
    let path = request.uri.path();
    let query = request.uri.query().unwrap_or("");
    let request_uri = request
        .uri
        .path_and_query()
        .map_or_else(|| path.to_owned(), |pq| pq.as_str().to_owned());
    let mut env: Vec<(String, String)> = [
        (
            "SERVER_SOFTWARE",
            format!("sockeye/{}", env!("CARGO_PKG_VERSION")),
        ),
        ("REMOTE_ADDR", remote_addr.clone()),
        // No reverse lookup (websocketd's default since 0.2.9): the address itself.
        ("REMOTE_HOST", remote_addr),
        ("SERVER_NAME", server_name),
        ("SERVER_PORT", server_port),
        ("SERVER_PROTOCOL", request.protocol.to_owned()),
        ("GATEWAY_INTERFACE", "CGI/1.1".to_owned()),
        ("REQUEST_METHOD", "GET".to_owned()),
        // One program serves every path, as websocketd without --dir: SCRIPT_NAME is
        // `/` and PATH_INFO the whole path.
        ("SCRIPT_NAME", "/".to_owned()),
        ("PATH_INFO", path.to_owned()),
        ("PATH_TRANSLATED", path.to_owned()),
        ("QUERY_STRING", query.to_owned()),
        // Set empty, so that none leaks in from our own environment.
        ("AUTH_TYPE", String::new()),
        ("CONTENT_LENGTH", String::new()),
        ("CONTENT_TYPE", String::new()),
        ("REMOTE_IDENT", String::new()),
        ("REMOTE_USER", String::new()),
        ("UNIQUE_ID", request.id.to_string()),
        ("REMOTE_PORT", remote_port),
        ("REQUEST_URI", request_uri),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(headers(request.headers));
    env
}

/// Each request header as `HTTP_NAME` (upper case, `-` as `_`); a header sent several
/// times is one variable, its values joined by `, `. `Proxy` is left out: as
/// HTTP_PROXY it would point the program's HTTP clients at the client's proxy.
fn headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in headers.keys() {
        if name.as_str() == "proxy" {
            continue;
        }
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| clean(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let key = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        out.push((key, values.join(", ")));
    }
    out
}

/// A value on one line (an environment variable holds no newline a program expects).
fn clean(value: &str) -> String {
    value.replace(['\r', '\n'], " ").trim().to_owned()
}

/// `Host: name:port` as SERVER_NAME and SERVER_PORT; without a port, the port this
/// server listens on.
fn split_host(host: &str, local: SocketAddr) -> (String, String) {
    let port = local.port().to_string();
    if host.is_empty() {
        return (local.ip().to_string(), port);
    }
    // `[::1]:8080`, `[::1]`, `name:8080`, `name`.
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').map_or(port, str::to_owned);
            return (ip.to_owned(), port);
        }
    }
    match host.rsplit_once(':') {
        Some((name, p)) if !name.contains(':') => (name.to_owned(), p.to_owned()),
        _ => (host.to_owned(), port),
    }
}

#[cfg(test)]
mod tests {
    use super::{variables, Request};
    use axum::http::{HeaderMap, HeaderValue, Uri};

    #[test]
    fn the_request_becomes_websocketds_variables() {
        let uri: Uri = "/somedir/x?name=me&msg=hello%20world".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com:9000"));
        headers.insert("x-custom-thing", HeaderValue::from_static("a"));
        headers.append("x-custom-thing", HeaderValue::from_static("b"));
        headers.insert("proxy", HeaderValue::from_static("http://evil/"));
        let env = variables(&Request {
            peer: Some("10.0.0.7:52696".parse().unwrap()),
            local: "127.0.0.1:8080".parse().unwrap(),
            uri: &uri,
            protocol: "HTTP/1.1",
            headers: &headers,
            id: 12,
        });
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("REMOTE_ADDR"), Some("10.0.0.7"));
        assert_eq!(get("REMOTE_PORT"), Some("52696"));
        assert_eq!(get("QUERY_STRING"), Some("name=me&msg=hello%20world"));
        assert_eq!(
            get("REQUEST_URI"),
            Some("/somedir/x?name=me&msg=hello%20world")
        );
        assert_eq!(get("SCRIPT_NAME"), Some("/"));
        assert_eq!(get("PATH_INFO"), Some("/somedir/x"));
        assert_eq!(get("SERVER_NAME"), Some("example.com"));
        assert_eq!(get("SERVER_PORT"), Some("9000"));
        assert_eq!(get("UNIQUE_ID"), Some("12"));
        assert_eq!(get("HTTP_X_CUSTOM_THING"), Some("a, b"));
        assert_eq!(get("HTTP_PROXY"), None);
    }

    #[test]
    fn the_host_header_splits_into_name_and_port() {
        let local = "127.0.0.1:8080".parse().unwrap();
        let split = |h: &str| super::split_host(h, local);
        assert_eq!(split("a.b"), ("a.b".into(), "8080".into()));
        assert_eq!(split("[::1]:3000"), ("::1".into(), "3000".into()));
        assert_eq!(split("[::1]"), ("::1".into(), "8080".into()));
        assert_eq!(split(""), ("127.0.0.1".into(), "8080".into()));
    }
}
