//! `server_stats`: every `stats_interval`, each node tells the admins (on every node,
//! through the adapter) its id, uptime, Engine.IO sessions (all, and on polling),
//! traffic by second since the last `server_stats`, and namespaces.

use super::AdminUi;
use crate::io::SocketIo;
use crate::namespace::Namespace;
use serde_json::{json, Value as Json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    crate::traffic::enable();
    tokio::spawn(async move {
        // The traffic is sampled each second into buckets of a second, as the
        // official server's `EventBuffer` keys them, and sent every `interval`.
        let mut ticks = tokio::time::interval(interval.min(Duration::from_secs(1)));
        let mut aggregated: Vec<Json> = Vec::new();
        let mut last_sent: Option<Instant> = None;
        loop {
            ticks.tick().await;
            let (Some(registry), Some(admin_ns)) = (registry.upgrade(), admin_ns.upgrade()) else {
                return;
            };
            let second = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() * 1000)
                .unwrap_or_default();
            for (kind, sub_type, count) in crate::traffic::take() {
                let mut event = json!({ "timestamp": second, "type": kind, "count": count });
                if let Some(sub_type) = sub_type {
                    event["subType"] = json!(sub_type);
                }
                aggregated.push(event);
            }
            if last_sent.is_some_and(|t| t.elapsed() + Duration::from_millis(50) < interval) {
                continue;
            }
            last_sent = Some(Instant::now());
            // Every open Engine.IO session, and those still on polling (socket.io's
            // `engine.clientsCount` and the admin UI's `_pollingClientsCount`).
            let (clients, polling) = crate::traffic::sessions();
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
                "pollingClientsCount": polling,
                "aggregatedEvents": std::mem::take(&mut aggregated),
                "namespaces": namespaces,
            });
            Namespace { inner: admin_ns }
                .emit("server_stats", (stats,))
                .ok();
        }
    });
}
