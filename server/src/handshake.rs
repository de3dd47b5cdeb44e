//! What the server knows of the HTTP request that opened a connection.

use axum::http::HeaderMap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

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
