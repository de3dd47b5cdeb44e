//! `server_stats`: every `stats_interval`, each node tells the admins (on every node,
//! through the adapter) its id, uptime, connection count and namespaces.

use super::AdminUi;
use crate::io::SocketIo;
use crate::namespace::Namespace;
use serde_json::json;
use std::time::Instant;

pub(super) fn start(io: &SocketIo, admin_ns: &Namespace, admin: &AdminUi) {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| "localhost".to_owned());
    // `host#pid` by default (socket.io uses it for cluster workers, the bare host name
    // otherwise): nodes of one cluster often share a host, and the UI tells servers
    // apart by this id.
    let server_id = admin
        .server_id
        .clone()
        .unwrap_or_else(|| format!("{hostname}#{}", std::process::id()));
    // The task must not keep the server alive: it holds weak handles and ends when the
    // server is dropped.
    let registry = std::sync::Arc::downgrade(&io.registry);
    let admin_ns = std::sync::Arc::downgrade(&admin_ns.inner);
    let interval = admin.stats_interval;
    let started = Instant::now();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            let (Some(registry), Some(admin_ns)) = (registry.upgrade(), admin_ns.upgrade()) else {
                return;
            };
            // Connections with a socket in some namespace (socket.io counts every
            // Engine.IO session; one that has joined no namespace yet is left out).
            let clients: std::collections::HashSet<String> = registry
                .namespaces()
                .iter()
                .flat_map(|ns| ns.sockets())
                .map(|s| s.engine_sid().to_owned())
                .collect();
            let clients = clients.len();
            let mut namespaces: Vec<_> = registry
                .namespaces()
                .iter()
                .map(|ns| json!({ "name": ns.name(), "socketsCount": ns.sockets().len() }))
                .collect();
            namespaces.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            let stats = json!({
                "serverId": server_id,
                "hostname": hostname,
                "pid": std::process::id(),
                "uptime": started.elapsed().as_secs_f64(),
                "clientsCount": clients,
                // Not counted (yet): the engine does not report its transports'
                // counts and traffic to the socket layer.
                "pollingClientsCount": 0,
                "aggregatedEvents": [],
                "namespaces": namespaces,
            });
            Namespace { inner: admin_ns }
                .emit("server_stats", (stats,))
                .ok();
        }
    });
}
