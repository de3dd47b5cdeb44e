//! The server side of [`@socket.io/admin-ui`](https://socket.io/docs/v4/admin-ui/)
//! (socket.io's `instrument()`), behind the `admin-ui` feature: the official admin UI
//! connects to an `/admin` namespace of this server, lists every socket of every
//! namespace with its rooms, follows connections, rooms and (in development mode) every
//! event, and can make sockets emit, join, leave and disconnect.
//!
//! ```no_run
//! use sockeye_server::admin::{AdminUi, Auth, Mode};
//! use sockeye_server::{Cors, SocketIo};
//!
//! # async fn run() {
//! // The UI is a page of another origin (https://admin.socket.io, or a copy of
//! // @socket.io/admin-ui's `ui/dist` served anywhere): allow it, with credentials.
//! let io = SocketIo::builder()
//!     .cors(Cors::from_list(["https://admin.socket.io"]))
//!     .build();
//! io.instrument(
//!     AdminUi::new(Auth::basic("admin", "$2a$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"))
//!         .mode(Mode::Development),
//! )
//! .expect("a valid bcrypt hash");
//! # }
//! ```
//!
//! Clustered (a cluster adapter such as sockeye-redis), each node instruments itself:
//! the UI's events go through the `/admin` namespace's adapter, so an admin connected
//! to any node sees every node's `server_stats` and sockets, and its actions reach
//! sockets on every node.
//!
//! The protocol, as @socket.io/admin-ui 0.5.1 speaks it, is in `docs/admin-ui.md`.

mod auth;
mod events;
mod json;
mod stats;

pub use auth::Auth;

use crate::io::SocketIo;
use crate::namespace::Namespace;
use std::sync::Arc;
use std::time::Duration;

/// How much the admin UI sees (the official `mode` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every socket, room and event (`all_sockets`, `socket_connected`,
    /// `event_received`, ...): costs a message to the admins per event.
    #[default]
    Development,
    /// Server statistics only.
    Production,
}

/// The settings of the admin UI's namespace; attach them with [`SocketIo::instrument`].
#[derive(Debug, Clone)]
pub struct AdminUi {
    pub(crate) auth: Auth,
    pub(crate) namespace: String,
    pub(crate) mode: Mode,
    pub(crate) read_only: bool,
    pub(crate) server_id: Option<String>,
    pub(crate) stats_interval: Duration,
}

impl AdminUi {
    /// The admin UI at `/admin` with this authentication, in development mode.
    pub fn new(auth: Auth) -> AdminUi {
        AdminUi {
            auth,
            namespace: "/admin".to_owned(),
            mode: Mode::Development,
            read_only: false,
            server_id: None,
            stats_interval: Duration::from_secs(2),
        }
    }

    /// The namespace the UI connects to (default `/admin`; the UI's "namespace" field).
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.namespace = if name.starts_with('/') {
            name
        } else {
            format!("/{name}")
        };
        self
    }

    /// What the UI sees (default [`Mode::Development`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Refuses the UI's actions (emit, join, leave, disconnect): it only watches.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// This node's name in the UI's server list (default `hostname#pid`, so that
    /// nodes on one host stay apart).
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// How often `server_stats` is sent (default 2 s, as the official server).
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval;
        self
    }
}

/// Why [`SocketIo::instrument`] refused its settings.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The basic auth's password is not a bcrypt hash.
    #[error("the admin UI's password must be a bcrypt hash ($2a$/$2b$/$2y$...): {0}")]
    InvalidHash(String),
    /// The server is already instrumented.
    #[error("the server already has an admin UI")]
    AlreadyInstrumented,
}

impl SocketIo {
    /// Turns on the admin UI's namespace (socket.io's `instrument(io, options)`). Call it
    /// inside the tokio runtime (it starts the `server_stats` timer), once.
    pub fn instrument(&self, admin: AdminUi) -> Result<Namespace, AdminError> {
        admin.auth.check()?;
        let ns = self.of(&admin.namespace);
        let admin = Arc::new(admin);
        if admin.mode == Mode::Development {
            let observer = Arc::new(events::Verbose::new(ns.clone()));
            self.registry
                .shared
                .observer
                .set(observer)
                .map_err(|_| AdminError::AlreadyInstrumented)?;
        }
        auth::install(&ns, admin.clone());
        events::install(self, &ns, admin.clone());
        stats::start(self, &ns, &admin);
        Ok(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_that_is_not_a_bcrypt_hash_is_refused() {
        assert!(matches!(
            Auth::basic("admin", "plain").check(),
            Err(AdminError::InvalidHash(_))
        ));
        // bcryptjs.hashSync("changeit", 10), as the official docs make one.
        let hash = "$2a$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";
        assert!(Auth::basic("admin", hash).check().is_ok());
        assert!(Auth::None.check().is_ok());
    }

    #[test]
    fn hashes_verify_as_bcryptjs_checks_them() {
        let hash = Auth::hash_password("s3cret");
        assert!(hash.starts_with("$2"));
        assert!(bcrypt::verify("s3cret", &hash).unwrap());
        assert!(!bcrypt::verify("wrong", &hash).unwrap());
        // Made by bcryptjs (the official server's library): hashSync("changeit", 10).
        let bcryptjs = "$2a$10$OXBw7BaGOImDeYz7/5HBkOmQeZOtTDv7BSnV293g7jUF1WYmBJ08a";
        assert!(bcrypt::verify("changeit", bcryptjs).unwrap());
        assert!(!bcrypt::verify("changeIt", bcryptjs).unwrap());
    }
}
