//! Helpers shared by the integration tests.

pub mod tmux;
pub mod tui;

use std::path::Path;
use std::process::Command;

/// Runs the real git CLI in `repo` (without the machine's system config) and returns its
/// standard output; fails the test, showing git's output, when git fails.
#[allow(dead_code)]
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the helmdeck binary as a user whose home is `home` (its data and config under it),
/// with no kubeconfig, driver or log level from the test's environment and nothing on
/// standard input.
#[allow(dead_code)]
pub fn helmdeck_at(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("KUBECONFIG")
        .env_remove("HELMDECK_DRIVER")
        .env_remove("HELMDECK_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A free TCP port on 127.0.0.1 (bound, then released for a server to take).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process the test started, killed and reaped when dropped.
#[allow(dead_code)]
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One plain HTTP/1.1 request to 127.0.0.1:`port`: (status, body); status 0 when nothing
/// answers.
#[allow(dead_code)]
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (code, body.to_string())
}
