//! The admin namespace's authentication: a username and a bcrypt hash (the official
//! `auth: { type: "basic", username, password }`), or none; a session id handed out
//! at login lets the UI reconnect without the password.

use super::{AdminError, AdminUi};
use crate::error::ConnectError;
use crate::namespace::Namespace;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Who may open the admin UI.
#[derive(Clone)]
pub enum Auth {
    /// Anyone who can reach the server (the official `auth: false`).
    None,
    /// A username and the bcrypt hash of the password (`$2a$`/`$2b$`/`$2y$`, as
    /// bcryptjs and `bcrypt` make; see [`Auth::hash_password`]).
    Basic {
        /// The username the UI must send.
        username: String,
        /// The bcrypt hash of the password.
        password_hash: String,
    },
}

impl Auth {
    /// Basic auth with a username and a bcrypt hash.
    pub fn basic(username: impl Into<String>, password_hash: impl Into<String>) -> Auth {
        Auth::Basic {
            username: username.into(),
            password_hash: password_hash.into(),
        }
    }

    /// The bcrypt hash of a password, for [`Auth::Basic`] (cost 10, as bcryptjs's
    /// default). Slow by design: a fraction of a second.
    pub fn hash_password(password: &str) -> String {
        bcrypt::hash(password, 10).expect("bcrypt with a valid cost")
    }

    pub(crate) fn check(&self) -> Result<(), AdminError> {
        match self {
            Auth::None => Ok(()),
            Auth::Basic { password_hash, .. } => password_hash
                .parse::<bcrypt::HashParts>()
                .map(|_| ())
                .map_err(|e| AdminError::InvalidHash(e.to_string())),
        }
    }
}

impl std::fmt::Debug for Auth {
    // The hash stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// A session id given to a socket that logged in, sent to it as `session` once it
/// has joined (a middleware cannot emit: the socket is not connected yet).
/// The most sessions a node remembers.
const MAX_SESSIONS: usize = 1024;

#[derive(Clone)]
pub(crate) struct NewSession(pub(crate) String);

pub(crate) fn install(ns: &Namespace, admin: Arc<AdminUi>) {
    let Auth::Basic {
        username,
        password_hash,
    } = admin.auth.clone()
    else {
        return;
    };
    // Kept in memory, per node, as the official InMemoryStore: the UI falls back to
    // the password when a node does not know its session.
    let sessions: Arc<Mutex<HashSet<String>>> = Arc::default();
    ns.middleware(move |socket| {
        let (username, password_hash, sessions) =
            (username.clone(), password_hash.clone(), sessions.clone());
        async move {
            let auth = socket.auth();
            if let Some(id) = auth.get("sessionId").and_then(|v| v.as_str()) {
                if sessions.lock().expect("sessions lock").contains(id) {
                    return Ok(());
                }
            }
            let given_user = auth.get("username").and_then(|v| v.as_str());
            let password = auth
                .get("password")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            if given_user == Some(username.as_str()) {
                // bcrypt takes tens of milliseconds of CPU: off the runtime's threads.
                let matches =
                    tokio::task::spawn_blocking(move || bcrypt::verify(password, &password_hash))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or(false);
                if matches {
                    let id = crate::id::generate();
                    let mut sessions = sessions.lock().expect("sessions lock");
                    // A bound: past it every admin logs in again with the password.
                    if sessions.len() >= MAX_SESSIONS {
                        sessions.clear();
                    }
                    sessions.insert(id.clone());
                    drop(sessions);
                    socket.insert_extension(NewSession(id));
                    return Ok(());
                }
            }
            Err(ConnectError::new("invalid credentials"))
        }
    });
}
