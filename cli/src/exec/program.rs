//! The program `sockeye exec` runs: found once at start, started as an argv (never
//! through a shell) with the request's environment, its standard error sent to the log,
//! and ended with SIGTERM, then SIGKILL after a grace period, and always reaped.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

/// The program and its arguments, as given after `--`.
#[derive(Debug, Clone)]
pub struct Program {
    /// The file that is run (PROGRAM itself when it has a `/`, else found in PATH).
    path: PathBuf,
    /// PROGRAM as given: the program's own `argv[0]`.
    name: OsString,
    args: Vec<OsString>,
    /// How long SIGTERM has before SIGKILL.
    grace: Duration,
}

impl Program {
    /// Finds PROGRAM now, so that a typo is an error at start rather than at each
    /// connection. The error says what is wrong.
    pub fn find(argv: &[OsString], grace: Duration) -> Result<Program, String> {
        let Some((name, args)) = argv.split_first() else {
            return Err("no program given: sockeye exec [OPTIONS] -- PROGRAM [ARGS...]".into());
        };
        let shown = Path::new(name).display();
        // As a shell does: a name with a slash is a path, any other is looked up in PATH.
        let path = if name.to_string_lossy().contains('/') {
            let path = PathBuf::from(name);
            check_executable(&path).map_err(|e| format!("cannot run {shown}: {e}"))?;
            path
        } else {
            search_path(name).ok_or_else(|| format!("cannot run {shown}: not found in PATH"))?
        };
        Ok(Program {
            path,
            name: name.clone(),
            args: args.to_vec(),
            grace,
        })
    }

    /// The program as a person reads it, for the log.
    pub fn describe(&self) -> String {
        std::iter::once(&self.name)
            .chain(&self.args)
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Starts the program with `env` added to this process's environment, its three
    /// standard streams piped. `label` prefixes its standard error in the log.
    pub fn spawn(&self, env: &[(String, String)], label: &str) -> std::io::Result<Running> {
        let mut command = Command::new(&self.path);
        command
            .arg0(&self.name)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A safety net only: the normal end is `Running::end` (SIGTERM first).
            .kill_on_drop(true);
        // Headers of an earlier request must never leak in from our own environment,
        // and `Proxy:` must not become HTTP_PROXY (the "httpoxy" hole).
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HTTP_") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(log_stderr(stderr, format!("{label} pid {pid}")));
        }
        Ok(Running {
            child,
            pid,
            grace: self.grace,
        })
    }
}

/// A started program.
pub struct Running {
    /// stdin and stdout are taken by the driver; the child stays here to be reaped.
    pub child: Child,
    /// Its process id, for the log.
    pub pid: u32,
    grace: Duration,
}

impl Running {
    /// Waits for the program to exit on its own for up to the grace period (its output
    /// has ended, so it is about to), then ends it as [`Running::end`] does.
    pub async fn finish(mut self) -> ExitStatus {
        match tokio::time::timeout(self.grace, self.child.wait()).await {
            Ok(Ok(status)) => status,
            _ => self.end().await,
        }
    }

    /// Ends the program: SIGTERM, then SIGKILL if it is still running after the grace
    /// period; returns once it is reaped (no zombie is left).
    pub async fn end(mut self) -> ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on a pid we own and have not reaped (tokio reaps only in
            // `wait`/`try_wait`), so it cannot name another process.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        if let Ok(Ok(status)) = tokio::time::timeout(self.grace, self.child.wait()).await {
            return status;
        }
        tracing::info!(
            pid = self.pid,
            "still running {:?} after SIGTERM: SIGKILL",
            self.grace
        );
        self.child.start_kill().ok();
        match self.child.wait().await {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(pid = self.pid, error = %e, "cannot reap the program");
                ExitStatus::default()
            }
        }
    }
}

/// Each line the program writes to standard error, to the log with `label`.
async fn log_stderr(stderr: ChildStderr, label: String) {
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => tracing::info!("[{label}] {line}"),
            Ok(None) => return,
            // Not UTF-8, or a read error: nothing more can be read line by line.
            Err(e) => {
                tracing::info!("[{label}] stderr unreadable: {e}");
                return;
            }
        }
    }
}

fn check_executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err("not executable".into());
    }
    Ok(())
}

fn search_path(name: &std::ffi::OsStr) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| check_executable(candidate).is_ok())
}

#[cfg(test)]
mod tests {
    use super::Program;
    use std::ffi::OsString;
    use std::time::Duration;

    fn find(argv: &[&str]) -> Result<Program, String> {
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        Program::find(&argv, Duration::from_secs(1))
    }

    #[test]
    fn a_program_is_found_in_path_or_by_its_path_and_a_missing_one_is_an_error() {
        assert!(find(&["sh", "-c", "true"]).is_ok());
        assert!(find(&["/bin/sh"]).is_ok());
        let e = find(&["no-such-program-sockeye"]).unwrap_err();
        assert!(e.contains("not found in PATH"), "{e}");
        let e = find(&["/no/such/program"]).unwrap_err();
        assert!(e.contains("/no/such/program"), "{e}");
        let e = find(&["/etc/passwd"]).unwrap_err();
        assert!(e.contains("not executable"), "{e}");
        assert!(find(&[]).is_err());
    }
}
