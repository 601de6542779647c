//! Logging through `tracing`: to a file, or to stderr for headless subcommands.
//! Never onto the screen the TUI draws.

use std::path::Path;
use tracing_subscriber::EnvFilter;

/// Where log lines go.
pub enum LogTarget<'a> {
    /// Standard error: for subcommands that draw no TUI (`sandbox`, `status`).
    Stderr,
    /// Append to a file: for the TUI, whose screen must stay clean.
    File(&'a Path),
}

/// Installs the global subscriber. `HELMDECK_LOG` (or `RUST_LOG`) sets the filter; default `info`.
pub fn init(target: LogTarget<'_>) -> anyhow::Result<()> {
    let filter = std::env::var("HELMDECK_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(EnvFilter::new)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match target {
        LogTarget::Stderr => {
            let _ = builder.with_writer(std::io::stderr).try_init();
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
