//! Server push: an ordinary HTTP route, `/push`, emits `dcenter` to every page connected
//! to the `/dcenter` namespace, as the tutorial's background data center does. POST takes
//! any JSON body; GET takes the query string (`/push?message=hi`) and sends it as an object.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use sockeye_server::{SocketIo, Value};
use std::collections::BTreeMap;

/// The namespace and event of the push page.
pub const NAMESPACE: &str = "/dcenter";
pub const EVENT: &str = "dcenter";

/// Sets up `/dcenter` on `io` and returns the `/push` routes.
pub fn routes(io: &SocketIo) -> Router {
    // The namespace exists before anyone connects, so pages can join it.
    io.of(NAMESPACE).on_connection(|_socket| async {});
    Router::new()
        .route("/push", get(push_query).post(push_json))
        .with_state(io.clone())
}

async fn push_json(
    State(io): State<SocketIo>,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    push(&io, Value::from(body))
}

async fn push_query(
    State(io): State<SocketIo>,
    Query(query): Query<BTreeMap<String, String>>,
) -> (StatusCode, Json<serde_json::Value>) {
    push(&io, Value::from(json_of(query)))
}

fn json_of(query: BTreeMap<String, String>) -> serde_json::Value {
    query
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn push(io: &SocketIo, data: Value) -> (StatusCode, Json<serde_json::Value>) {
    let ns = io.of(NAMESPACE);
    let receivers = ns.sockets().len();
    match ns.emit(EVENT, data) {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({"ok": true, "receivers": receivers})),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"ok": false, "error": e.to_string()})),
        ),
    }
}
