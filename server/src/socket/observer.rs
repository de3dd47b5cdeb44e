//! A server-wide view of socket lifecycles, for instrumentation (the admin UI): every
//! socket's connect and disconnect and every room join and leave, in every namespace.
//! Application code uses the per-namespace and per-socket handlers instead.

use crate::error::DisconnectReason;
use crate::socket::Socket;

/// Hears of every socket of a server. Called on the connection's task or in the caller
/// of `join`/`leave`: an implementation must not block (spawn anything that waits).
pub(crate) trait SocketObserver: Send + Sync + 'static {
    /// `socket` joined its namespace (after the middlewares, before `on_connection`).
    fn connected(&self, socket: &Socket);
    /// `socket` left its namespace.
    fn disconnected(&self, socket: &Socket, reason: DisconnectReason);
    /// The socket `sid` of namespace `ns` joined `room`.
    fn joined(&self, ns: &str, room: &str, sid: &str);
    /// The socket `sid` of namespace `ns` left `room`.
    fn left(&self, ns: &str, room: &str, sid: &str);
    /// `socket`'s connection moved from polling to WebSocket.
    fn upgraded(&self, _socket: &Socket) {}
}
