//! The Socket.IO endpoint as a tower [`Layer`]: requests for the endpoint's path are
//! served by Sockeye, every other request goes on to the service the layer wraps.
//!
//! [`SocketIo::router`] is the other way in (merge a router); the layer is for an app that
//! is already a service, or that wants the endpoint in front of its own routes:
//!
//! ```
//! use axum::{routing::get, Router};
//! use sockeye_server::SocketIo;
//!
//! let io = SocketIo::new();
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(io.layer());
//! ```

use crate::SocketIo;
use axum::body::HttpBody;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::Request;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

impl SocketIo {
    /// A tower [`Layer`] that serves this server's endpoint (the configured
    /// [`path`](crate::EngineConfig::path), `/socket.io/` by default: Engine.IO long-polling,
    /// WebSocket upgrades and CORS preflights) and passes every other request to the
    /// service it wraps, like merging [`SocketIo::router`] into that service.
    ///
    /// `Router::layer` wraps each route (and the fallback) of an axum router, so the
    /// endpoint answers whether or not the router has a route at its path.
    pub fn layer(&self) -> SocketIoLayer {
        SocketIoLayer {
            endpoint: self.router(),
            path: endpoint_path(&self.config().engine.path).into(),
        }
    }
}

/// The path the endpoint's router serves (and the same with a trailing slash): the
/// configured path without its trailing slashes, or `/` when nothing is left.
fn endpoint_path(configured: &str) -> String {
    match configured.trim_end_matches('/') {
        "" => "/".to_owned(),
        path => path.to_owned(),
    }
}

/// A tower [`Layer`] putting a [`SocketIo`] endpoint in front of a service; made by
/// [`SocketIo::layer`].
#[derive(Clone)]
pub struct SocketIoLayer {
    endpoint: axum::Router,
    path: Arc<str>,
}

impl<S> Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> SocketIoService<S> {
        SocketIoService {
            endpoint: self.endpoint.clone(),
            path: self.path.clone(),
            inner,
        }
    }
}

/// The service of a [`SocketIoLayer`]: Sockeye's endpoint at its path, `S` everywhere
/// else.
#[derive(Clone)]
pub struct SocketIoService<S> {
    endpoint: axum::Router,
    path: Arc<str>,
    inner: S,
}

impl<S> SocketIoService<S> {
    /// Whether `path` is the endpoint's, matched the way its router matches it.
    fn is_endpoint(&self, path: &str) -> bool {
        let endpoint = &*self.path;
        path == endpoint
            || (endpoint != "/"
                && path.len() == endpoint.len() + 1
                && path.starts_with(endpoint)
                && path.ends_with('/'))
    }
}

impl<S, B> Service<Request<B>> for SocketIoService<S>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        // The endpoint's router is always ready, so readiness is the inner service's.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if self.is_endpoint(request.uri().path()) {
            let answer = self.endpoint.clone().call(request);
            Box::pin(async move {
                let answer: Result<Response, Infallible> = answer.await;
                Ok(answer.unwrap_or_else(|never| match never {}))
            })
        } else {
            let answer = self.inner.call(request);
            Box::pin(async move { answer.await.map(IntoResponse::into_response) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(path: &str) -> SocketIoService<()> {
        SocketIoService {
            endpoint: axum::Router::new(),
            path: endpoint_path(path).into(),
            inner: (),
        }
    }

    #[test]
    fn matches_the_path_with_or_without_its_trailing_slash() {
        let s = service("/socket.io/");
        assert!(s.is_endpoint("/socket.io"));
        assert!(s.is_endpoint("/socket.io/"));
        assert!(!s.is_endpoint("/socket.io/x"));
        assert!(!s.is_endpoint("/socket.iox"));
        assert!(!s.is_endpoint("/socket.io//"));
        assert!(!s.is_endpoint("/"));
        let root = service("/");
        assert!(root.is_endpoint("/"));
        assert!(!root.is_endpoint("/x"));
    }
}
