//! `sockeye`: serves the demo pages in `www/` and, in the same axum Router, the
//! Socket.IO endpoint with the demo's namespaces, the `/push` route and a plain
//! WebSocket at `/ws`.

mod chat;
mod emit;
mod exec;
mod metrics;
mod push;
mod stream;
mod ws_chat;

use clap::{Parser, ValueEnum};
use sockeye_redis::{RedisAdapter, RedisStreamsAdapter, ShardedRedisAdapter};
use sockeye_server::{Cors, SocketIo};
use std::future::IntoFuture;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use tower_http::services::{ServeDir, ServeFile};

/// socket.io's Redis adapters (`--redis-adapter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RedisKind {
    /// Pub/sub, wire-compatible with `@socket.io/redis-adapter`.
    Classic,
    /// Redis Streams, wire-compatible with `@socket.io/redis-streams-adapter`.
    Streams,
    /// Sharded pub/sub on a Redis Cluster (`createShardedAdapter`).
    Sharded,
}

/// Sockeye's demo server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Join a cluster through this Redis (`redis://host:port/`): broadcasts, rooms and
    /// pushes reach the clients of every node on it, Node socket.io nodes included.
    /// With `--redis-adapter sharded`, the Redis Cluster's nodes to start from,
    /// comma-separated.
    #[arg(long, env = "SOCKEYE_REDIS_URL")]
    redis_url: Option<String>,
    /// Which of socket.io's Redis adapters the cluster runs (docs/cluster.md, "Which
    /// adapter"): `classic` (`@socket.io/redis-adapter`), `streams`
    /// (`@socket.io/redis-streams-adapter`: nothing Redis accepted is lost across a
    /// blip) or `sharded` (`createShardedAdapter`, on a Redis Cluster).
    #[arg(long, env = "SOCKEYE_REDIS_ADAPTER", value_enum, default_value_t = RedisKind::Classic, requires = "redis_url")]
    redis_adapter: RedisKind,
    /// Join a Flask-SocketIO / python-socketio cluster through its message queue
    /// (`redis://host:port/0` or `amqp://user:password@host:5672//`), as Flask-SocketIO's
    /// `message_queue` option does: broadcasts, rooms, disconnects and acks reach the
    /// clients of the Python nodes, and their workers' emits reach ours.
    #[arg(long, env = "SOCKEYE_MESSAGE_QUEUE", conflicts_with = "redis_url")]
    message_queue: Option<String>,
    /// The message queue's channel (Redis channel or RabbitMQ exchange): Flask-SocketIO's
    /// default is `flask-socketio`, python-socketio's `socketio`.
    #[arg(
        long,
        env = "SOCKEYE_MESSAGE_QUEUE_CHANNEL",
        default_value = "flask-socketio"
    )]
    message_queue_channel: String,
    /// Address to listen on.
    #[arg(long, env = "SOCKEYE_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SOCKEYE_PORT", default_value_t = 8080)]
    port: u16,
    /// Folder of static pages to serve.
    #[arg(long, env = "SOCKEYE_STATIC_DIR", default_value = "www")]
    static_dir: PathBuf,
    /// Origins allowed to connect from other sites (comma-separated, each exactly as
    /// browsers send it, e.g. `https://app.example:8443`; `*` for any). Default: only
    /// pages of this server's own host and port. A browser request from any other
    /// origin is refused with 403, WebSockets included; clients that send no `Origin`
    /// (native apps, curl) are not affected.
    #[arg(long, env = "SOCKEYE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (`HOST:PORT`; port 0 picks a
    /// free one), on a listener of their own rather than the public port.
    #[arg(long, env = "SOCKEYE_METRICS_ADDR")]
    metrics_addr: Option<String>,
    /// Turns on the admin UI's `/admin` namespace (@socket.io/admin-ui) with this login,
    /// `user:password` (the password is hashed with bcrypt at start) or `user:$2b$...`
    /// (a bcrypt hash). Allow the UI's page with `--cors-origins`; see docs/admin-ui.md.
    #[arg(long, env = "SOCKEYE_ADMIN_UI", value_name = "USER:PASSWORD")]
    admin_ui: Option<String>,
    /// Log filter, e.g. `info` or `sockeye_server=debug` (RUST_LOG also works).
    #[arg(long, env = "SOCKEYE_LOG", default_value = "info", global = true)]
    log_level: String,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Emits an event to the clients of a cluster through its Redis, with no server
    /// (like `@socket.io/redis-emitter`); each argument is JSON, or else a string.
    Emit(emit::EmitArgs),
    /// Runs PROGRAM for each WebSocket connection (websocketd's job): each line it
    /// writes is a message, each message a line on its standard input; `--emit` and
    /// `--broadcast` speak Socket.IO instead (docs/exec.md).
    Exec(exec::ExecArgs),
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| args.log_level.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
    match args.command {
        Some(Command::Emit(emit)) => std::process::exit(emit::run(emit).await),
        Some(Command::Exec(exec)) => std::process::exit(exec::run(exec).await),
        None => {}
    }

    // Before the server is built: its metrics bind to the recorder installed first.
    let metrics = match &args.metrics_addr {
        None => None,
        Some(addr) => match metrics::Endpoint::bind(addr).await {
            Ok(endpoint) => Some(endpoint),
            Err(e) => {
                eprintln!("sockeye: metrics: {e}");
                std::process::exit(1);
            }
        },
    };
    let cors = Cors::from_list(args.cors_origins.clone());
    let mut builder = SocketIo::builder().cors(cors.clone());
    let mut redis = None;
    if let Some(url) = &args.redis_url {
        let adapter = match redis_adapter(args.redis_adapter, url).await {
            Ok(adapter) => adapter,
            Err(e) => {
                eprintln!("sockeye: cannot reach Redis at {url}: {e}");
                std::process::exit(1);
            }
        };
        builder = match &adapter {
            Redis::Classic(a) => builder.adapter(a.clone()),
            Redis::Streams(a) => builder.adapter(a.clone()),
            Redis::Sharded(a) => builder.adapter(a.clone()),
        };
        redis = Some(adapter);
    }
    if let Some(url) = &args.message_queue {
        let options = sockeye_mq::MqOptions {
            channel: args.message_queue_channel.clone(),
            ..sockeye_mq::MqOptions::default()
        };
        match sockeye_mq::MqAdapter::connect_with(url, options).await {
            Ok(a) => builder = builder.adapter(a),
            Err(e) => {
                eprintln!("sockeye: cannot reach the message queue at {url}: {e}");
                std::process::exit(1);
            }
        }
    }
    let io = builder.build();
    demo_namespaces(&io);
    if let Some(login) = &args.admin_ui {
        admin_ui(&io, login);
    }
    // Listen only once the adapter hears the cluster, so nothing published meanwhile
    // is missed by the first clients.
    match &redis {
        Some(Redis::Classic(a)) => a.subscribed().await,
        Some(Redis::Streams(a)) => a.ready().await,
        Some(Redis::Sharded(a)) => a.subscribed().await,
        None => {}
    }
    check_static_dir(&args.static_dir);

    let mut app = axum::Router::new()
        .merge(io.router())
        .merge(push::routes(&io))
        .merge(ws_chat::routes(cors))
        .fallback_service(ServeDir::new(&args.static_dir));
    // The chat and streaming pages also at clean paths, as the guides name them. The push
    // and WebSocket pages keep `.html`: `/push` and `/ws` are their server routes.
    for page in ["chat", "stream"] {
        let file = args.static_dir.join(format!("{page}.html"));
        app = app.route_service(&format!("/{page}"), ServeFile::new(file));
    }
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sockeye: cannot listen on {}:{}: {e}", args.host, args.port);
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("local address");
    println!("listening on {addr}");
    println!("open {} in a browser", page_url(addr));
    if let Some(metrics) = metrics {
        // Not "listening on": the tests take that line for the server's own address.
        println!("metrics at {}metrics", page_url(metrics.local_addr()));
        metrics.serve();
    }
    let closing = io.clone();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        closing.close().await;
    });
    // Accepting on a worker, not on `main`'s own thread, saves a thread switch per
    // new connection.
    let served = tokio::spawn(serve.into_future())
        .await
        .expect("the server task");
    if let Err(e) = served {
        eprintln!("sockeye: {e}");
        std::process::exit(1);
    }
}

/// The demo's namespaces: `/` echoes (with an ack), then the pages' own.
fn demo_namespaces(io: &SocketIo) {
    io.of("/").on_connection(|socket| async move {
        // The arguments go back as they came, unparsed.
        socket.on("echo", |_, args: sockeye_server::Args| async move { args });
    });
    chat::mount(io);
    stream::mount(io);
}

/// `--admin-ui user:password`: the admin UI's namespace with basic auth.
fn admin_ui(io: &SocketIo, login: &str) {
    use sockeye_server::admin::{AdminUi, Auth};
    let Some((user, password)) = login.split_once(':') else {
        eprintln!("sockeye: --admin-ui takes user:password");
        std::process::exit(2);
    };
    // A bcrypt hash is taken as it is, so that the password need not be on the
    // command line; anything else is the password itself.
    let hash = if password.starts_with("$2") {
        password.to_owned()
    } else {
        Auth::hash_password(password)
    };
    if let Err(e) = io.instrument(AdminUi::new(Auth::basic(user, hash))) {
        eprintln!("sockeye: --admin-ui: {e}");
        std::process::exit(2);
    }
    println!("admin UI: namespace /admin, user {user:?} (see docs/admin-ui.md)");
}

/// Warns when the pages or the client package they import are missing: the server still
/// runs (Socket.IO, `/push` and `/ws` work without them), but a browser would see 404s.
fn check_static_dir(dir: &std::path::Path) {
    if !dir.join("index.html").is_file() {
        tracing::warn!(
            "no index.html in {}: pass --static-dir <repo>/www to serve the demo pages",
            dir.display()
        );
    } else if !dir.join("pkg").join("sockeye.js").is_file() {
        tracing::warn!(
            "no pkg/sockeye.js in {}: the pages need the client package \
             (bash scripts/build-client.sh web {}/pkg)",
            dir.display(),
            dir.display()
        );
    }
}

/// The URL a person opens. A server listening on every address (0.0.0.0 or ::) is
/// reached from this machine through loopback; the unspecified address is no URL.
fn page_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/")
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The Redis adapter `--redis-adapter` chose, connected.
enum Redis {
    Classic(RedisAdapter),
    Streams(RedisStreamsAdapter),
    Sharded(ShardedRedisAdapter),
}

/// Connects the chosen adapter; `url` is one Redis, or (sharded) the cluster's seed
/// nodes, comma-separated.
async fn redis_adapter(kind: RedisKind, url: &str) -> Result<Redis, sockeye_redis::RedisError> {
    Ok(match kind {
        RedisKind::Classic => Redis::Classic(RedisAdapter::connect(url).await?),
        RedisKind::Streams => Redis::Streams(RedisStreamsAdapter::connect(url).await?),
        RedisKind::Sharded => {
            let seeds: Vec<&str> = url.split(',').map(str::trim).collect();
            Redis::Sharded(ShardedRedisAdapter::connect(&seeds).await?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::page_url;

    #[test]
    fn the_url_to_open_is_one_a_browser_reaches() {
        assert_eq!(
            page_url("127.0.0.1:8080".parse().unwrap()),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            page_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(page_url("[::]:3000".parse().unwrap()), "http://[::1]:3000/");
        assert_eq!(
            page_url("192.168.1.5:80".parse().unwrap()),
            "http://192.168.1.5:80/"
        );
    }
}
