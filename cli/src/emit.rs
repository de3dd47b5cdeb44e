//! `sockeye emit`: one event to a cluster's clients through Redis, from the shell.
//!
//! ```sh
//! sockeye emit --redis-url redis://127.0.0.1:6379/ --namespace /chat --to lobby news '"hi"'
//! ```

use sockeye_redis::Emitter;
use sockeye_server::Value;

/// What to emit, and to whom.
#[derive(clap::Args, Debug)]
pub struct EmitArgs {
    /// The cluster's Redis.
    #[arg(long, env = "SOCKEYE_REDIS_URL")]
    redis_url: String,
    /// The namespace.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// Only the sockets in these rooms (repeat for several).
    #[arg(long)]
    to: Vec<String>,
    /// Leave out the sockets in these rooms (repeat for several).
    #[arg(long)]
    except: Vec<String>,
    /// The event name.
    event: String,
    /// Its arguments: each JSON (`'{"a":1}'`, `42`, `'"text"'`), or else a string.
    args: Vec<String>,
}

/// Emits; the process's exit code.
pub async fn run(args: EmitArgs) -> i32 {
    let emitter = match Emitter::connect(&args.redis_url).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "sockeye emit: cannot reach Redis at {}: {e}",
                args.redis_url
            );
            return 1;
        }
    };
    let values: Vec<Value> = args
        .args
        .iter()
        .map(|a| match serde_json::from_str::<serde_json::Value>(a) {
            Ok(json) => Value::from(json),
            Err(_) => Value::String(a.clone()),
        })
        .collect();
    let target = emitter
        .of(&args.namespace)
        .to(args.to.clone())
        .except(args.except.clone());
    match target.emit(&args.event, values).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sockeye emit: {e}");
            1
        }
    }
}
