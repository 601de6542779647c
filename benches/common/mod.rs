//! What several benchmarks share: the machine's description, a sandbox child process, and
//! a process's CPU time and resident memory read from /proc.
#![allow(dead_code)] // each benchmark uses its own part of this module

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// "2 cores, AMD EPYC …, 24 GiB".
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cores} cores, {cpu}, {mem:.0} GiB")
}

/// A `helmdeck sandbox` child process, killed on drop.
pub struct Sandbox {
    pub child: Child,
    pub url: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `helmdeck sandbox --pods N` and waits until it listens. With `kubeconfig`, it
/// also writes a kubeconfig there.
pub fn start_sandbox(pods: usize, kubeconfig: Option<&std::path::Path>) -> Sandbox {
    start_sandbox_with(&["--pods", &pods.to_string()], kubeconfig)
}

/// Starts `helmdeck sandbox` with `grow` (`--pods N`, `--releases N`) and waits until it
/// listens. With `kubeconfig`, it also writes a kubeconfig there.
pub fn start_sandbox_with(grow: &[&str], kubeconfig: Option<&std::path::Path>) -> Sandbox {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    cmd.args(["sandbox", "--listen", "127.0.0.1:0"]).args(grow);
    if let Some(kc) = kubeconfig {
        cmd.arg("--kubeconfig").arg(kc);
    }
    let mut child = cmd
        .env("HELMDECK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("helmdeck sandbox starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("sandbox output").expect("line");
        if let Some(u) = line.strip_prefix("sandbox listening on ") {
            break u.trim().to_string();
        }
    };
    Sandbox { child, url }
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Resident memory of a process in MB (0 when it is gone).
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Waits until a process has settled (under 0.1 core for a whole second, at most two
/// minutes), so what follows is not measured against its start-up.
pub fn wait_quiet(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = cpu_secs(pid);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let now = cpu_secs(pid);
        if now - last < 0.1 {
            return;
        }
        last = now;
    }
}

/// The median (the upper one of an even count); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}
