//! `--metrics-addr`: Prometheus metrics at `GET /metrics`, on a listener of its own so
//! that they are not served on the public port.
//!
//! sockeye-server and sockeye-redis record through the `metrics` facade; this installs
//! the Prometheus recorder that receives, and renders it for each scrape.

use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;

/// The metrics endpoint, bound but not yet serving.
pub struct Endpoint {
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
}

impl Endpoint {
    /// Installs the Prometheus recorder and binds `addr` (`HOST:PORT`; port 0 picks a
    /// free one). Called before the server is built: the library's metric handles bind
    /// to the recorder installed when they are first used.
    pub async fn bind(addr: &str) -> Result<Endpoint, String> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
        Ok(Endpoint { listener, handle })
    }

    /// The address bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("local address")
    }

    /// Serves `GET /metrics` in a task of its own, for the process's life.
    pub fn serve(self) {
        let handle = self.handle;
        let app = axum::Router::new().route(
            "/metrics",
            get(move || {
                let body = handle.render();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(self.listener, app).await {
                tracing::error!(error = %e, "metrics endpoint stopped");
            }
        });
    }
}
