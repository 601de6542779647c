//! Logging through `tracing`: to a file, or to stderr for headless subcommands.
//! Never onto the screen the TUI draws.

use std::path::Path;
use tracing_subscriber::EnvFilter;

/// Where log lines go.
pub enum LogTarget<'a> {
    /// Standard error: for subcommands that draw no TUI (`sandbox`, `status`, `upgrade`…).
    /// Colours only on a terminal; a closed or failing stderr is ignored (see [`QuietStderr`]).
    Stderr,
    /// Append to a file: for the TUI, whose screen must stay clean.
    File(&'a Path),
}

/// Installs the global subscriber. `HELMDECK_LOG` (or `RUST_LOG`) sets the filter; default `info`.
///
/// A failed write is never reported through `eprintln!` (tracing-subscriber's default): that
/// panics on a closed stderr — it took a change down with it (`helmdeck upgrade … 2>&1 |
/// head -1` stopped at its commit) — and would draw over the console's screen.
pub fn init(target: LogTarget<'_>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = std::env::var("HELMDECK_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(EnvFilter::new)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .log_internal_errors(false);
    match target {
        LogTarget::Stderr => {
            let _ = builder
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(|| QuietStderr)
                .try_init();
        }
        LogTarget::File(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let _ = builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        }
    }
    Ok(())
}

/// Standard error whose failures are ignored, as the CLI's `tell!` ignores them: a log line
/// that cannot be written is dropped, and whatever was running goes on.
pub struct QuietStderr;

impl std::io::Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};

    /// Set in the child process the test below starts (this test binary again).
    const CHILD: &str = "HELMDECK_LOGGING_TEST_CHILD";

    /// Logging to a standard error whose reader has gone (a closed pipe) neither panics nor
    /// stops the process: the child logs after its stderr was closed and still reports on
    /// stdout. tracing-subscriber's own stderr writer reports the failed write with
    /// `eprintln!`, which panics there.
    #[test]
    fn logging_to_a_closed_stderr_goes_on() {
        if std::env::var_os(CHILD).is_some() {
            super::init(super::LogTarget::Stderr).unwrap();
            // Wait until the parent closed the read end of our stderr.
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).unwrap();
            for i in 0..20 {
                tracing::warn!(i, "a log line nobody reads");
            }
            let mut out = std::io::stdout();
            let _ = writeln!(out, "still running after logging");
            let _ = out.flush();
            return;
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "logging::tests::logging_to_a_closed_stderr_goes_on",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("HELMDECK_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "go").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("still running after logging"),
            "{:?}: {stdout}",
            out.status
        );
    }
}
