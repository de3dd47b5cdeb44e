//! `sockeye exec`: any program's standard output as a WebSocket, websocketd's job.
//!
//! ```sh
//! sockeye exec --port 8080 -- python3 count.py
//! ```
//!
//! Each WebSocket connection starts the program ([`program`]) with the request's
//! details in its environment ([`env`]); its output is cut into bounded lines
//! ([`lines`]). Plain WebSocket mode is [`websocket`]; `--emit` and `--broadcast`
//! (Socket.IO) are [`socketio`]. docs/exec.md is the guide.

mod env;
mod lines;
mod program;
mod socketio;
mod websocket;

use program::Program;
use sockeye_server::{Cors, SocketIo};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// `sockeye exec [OPTIONS] -- PROGRAM [ARGS...]`.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// Address to listen on.
    #[arg(long, env = "SOCKEYE_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SOCKEYE_PORT", default_value_t = 8080)]
    port: u16,
    /// WebSocket connections to paths that start with this one run the program (the
    /// default, `/`, is every path, as in websocketd). Plain WebSocket mode only.
    #[arg(long, default_value = "/")]
    path: String,
    /// Serve the files of this folder (`GET /` is its index.html), so that a page and
    /// its program are one command.
    #[arg(long, visible_alias = "static-dir", value_name = "DIR")]
    staticdir: Option<PathBuf>,
    /// Socket.IO mode: one program per socket of `--namespace`; each line it writes is
    /// emitted to that socket as EVENT with the line as its argument.
    #[arg(long, value_name = "EVENT", conflicts_with = "broadcast")]
    emit: Option<String>,
    /// Socket.IO mode: ONE program for the server's lifetime; each line it writes is
    /// emitted as EVENT to every socket of `--namespace`. The server stops when it ends.
    #[arg(long, value_name = "EVENT")]
    broadcast: Option<String>,
    /// The Socket.IO namespace of `--emit` / `--broadcast`.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// The event whose arguments a client emits to the program's standard input, one
    /// line each (default: the `--emit` / `--broadcast` EVENT itself).
    #[arg(long, value_name = "EVENT")]
    stdin_event: Option<String>,
    /// The most programs running at once; a connection beyond it is refused with HTTP
    /// 503 (Socket.IO: its handshake).
    #[arg(long, default_value_t = 128)]
    max_forks: usize,
    /// The longest line (bytes) a program may write, and the largest message a client
    /// may send. A longer line closes that connection with code 1009 (`--emit`: the
    /// socket is disconnected; `--broadcast`: the line is dropped), with a log line.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_line: usize,
    /// Seconds a program has to exit after SIGTERM before it gets SIGKILL.
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    kill_grace: f64,
    /// Origins allowed to connect from other sites (comma-separated, `*` for any).
    /// Default: only pages of this server's own host and port (and clients that send no
    /// `Origin`).
    #[arg(long, env = "SOCKEYE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// The program and its arguments, after `--`. Run as they are, never by a shell.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM"
    )]
    command: Vec<OsString>,
}

/// What every connection shares.
pub struct Shared {
    program: Program,
    /// One permit per running program (`--max-forks`).
    forks: Arc<Semaphore>,
    max_forks: usize,
    max_line: usize,
    path: String,
    static_dir: Option<PathBuf>,
    cors: Cors,
    /// This server's address (SERVER_PORT).
    local: SocketAddr,
    next_id: AtomicU64,
    /// Turns true when the server shuts down: every connection ends its program.
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Runs the server; the process's exit code.
pub async fn run(args: ExecArgs) -> i32 {
    let grace = match Duration::try_from_secs_f64(args.kill_grace) {
        Ok(grace) => grace,
        Err(_) => {
            eprintln!(
                "sockeye exec: --kill-grace takes seconds, not {}",
                args.kill_grace
            );
            return 2;
        }
    };
    let program = match Program::find(&args.command, grace) {
        Ok(program) => program,
        Err(e) => {
            eprintln!("sockeye exec: {e}");
            return 127;
        }
    };
    if let Some(dir) = &args.staticdir {
        if !dir.is_dir() {
            eprintln!("sockeye exec: --staticdir {}: not a folder", dir.display());
            return 2;
        }
    }
    if args.max_forks == 0 {
        eprintln!("sockeye exec: --max-forks must be at least 1");
        return 2;
    }
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "sockeye exec: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            return 1;
        }
    };
    let local = listener.local_addr().expect("local address");
    let (shutdown_tx, shutdown) = watch::channel(false);
    let cors = Cors::from_list(args.cors_origins.clone());
    let shared = Arc::new(Shared {
        program,
        forks: Arc::new(Semaphore::new(args.max_forks)),
        max_forks: args.max_forks,
        max_line: args.max_line,
        path: args.path.clone(),
        static_dir: args.staticdir.clone(),
        cors: cors.clone(),
        local,
        next_id: AtomicU64::new(1),
        shutdown,
    });

    let mut io = None;
    let mut broadcast_done = None;
    let app = if args.emit.is_none() && args.broadcast.is_none() {
        axum::Router::new()
            .fallback(websocket::entry)
            .with_state(shared.clone())
    } else {
        let mut builder = SocketIo::builder().cors(cors);
        if args.emit.is_some() {
            builder = builder.max_connections(args.max_forks);
        }
        let socket_io = builder.build();
        if let Some(event) = &args.emit {
            let stdin_event = args.stdin_event.clone().unwrap_or_else(|| event.clone());
            socketio::mount_emit(
                &socket_io,
                shared.clone(),
                &args.namespace,
                event.clone(),
                stdin_event,
            );
        } else if let Some(event) = &args.broadcast {
            let stdin_event = args.stdin_event.clone().unwrap_or_else(|| event.clone());
            match socketio::start_broadcast(
                &socket_io,
                shared.clone(),
                &args.namespace,
                event.clone(),
                stdin_event,
            ) {
                Ok(done) => broadcast_done = Some(done),
                Err(e) => {
                    eprintln!(
                        "sockeye exec: cannot start {}: {e}",
                        shared.program.describe()
                    );
                    return 1;
                }
            }
        }
        let mut app = socket_io.router();
        if let Some(dir) = &args.staticdir {
            app = app.fallback_service(tower_http::services::ServeDir::new(dir));
        }
        io = Some(socket_io);
        app
    };

    println!("listening on {local}");
    match (&args.emit, &args.broadcast) {
        (Some(event), _) => println!(
            "{}: one per Socket.IO socket of {}, each line emitted as {event:?}",
            shared.program.describe(),
            args.namespace
        ),
        (_, Some(event)) => println!(
            "{}: one for the server, each line broadcast to {} as {event:?}",
            shared.program.describe(),
            args.namespace
        ),
        _ => println!(
            "{}: one per WebSocket connection at ws://{local}{}",
            shared.program.describe(),
            args.path
        ),
    }

    let mut exit_code = 0;
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<i32>();
    if let Some(done) = broadcast_done {
        tokio::spawn(async move {
            if let Ok(status) = done.await {
                tracing::info!("the broadcast program ended ({status}): stopping the server");
                let _ = stop_tx.send(if status.success() { 0 } else { 1 });
            }
        });
    } else {
        drop(stop_tx);
    }
    let closing = io.clone();
    let (code_tx, mut code_rx) = tokio::sync::oneshot::channel::<i32>();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let code = tokio::select! {
            () = crate::shutdown_signal() => 0,
            Ok(code) = stop => code,
        };
        let _ = code_tx.send(code);
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
        if let Some(io) = closing {
            io.close().await;
        }
    });
    if let Err(e) = tokio::spawn(std::future::IntoFuture::into_future(serve))
        .await
        .expect("the server task")
    {
        eprintln!("sockeye exec: {e}");
        exit_code = 1;
    }
    if let Ok(code) = code_rx.try_recv() {
        exit_code = exit_code.max(code);
    }
    // Every program ends and is reaped before we exit: each holds a permit until then.
    let all = u32::try_from(args.max_forks).unwrap_or(u32::MAX);
    let reaped = shared.forks.acquire_many(all);
    if tokio::time::timeout(grace + Duration::from_secs(2), reaped)
        .await
        .is_err()
    {
        tracing::warn!("some programs had not ended when the server stopped");
    }
    exit_code
}
