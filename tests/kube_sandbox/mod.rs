//! Helpers for tests that drive a real `helmdeck sandbox` with the real `kubectl` (and plain
//! HTTP where kubectl cannot reach a feature). Each test binary that uses them says
//! `mod kube_sandbox;`; not every binary uses every helper.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KUBECTL: &str = "/usr/bin/kubectl";
/// How long a plain kubectl command may take.
pub const CMD_LIMIT: Duration = Duration::from_secs(45);
/// How long a condition may take to come true.
pub const WAIT: Duration = Duration::from_secs(30);

/// What a finished command said.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command with an optional stdin, killing it past `limit`.
pub fn run(mut cmd: Command, stdin: Option<&str>, limit: Duration) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn command");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(input.as_bytes()).expect("write stdin");
    }
    let out = read_all(child.stdout.take().expect("stdout"));
    let err = read_all(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {limit:?}; stderr: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        ok: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Reads a pipe to its end on a thread (so a chatty command never blocks on a full pipe).
pub fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Polls `f` until it gives a value, failing the test after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A running `helmdeck sandbox`; dropping it kills the process.
pub struct Sandbox {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub addr: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    pub fn start() -> Sandbox {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let stdout_path = dir.path().join("sandbox.out");
        let stdout = std::fs::File::create(&stdout_path).expect("stdout file");
        let stderr = std::fs::File::create(dir.path().join("sandbox.err")).expect("stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
            .args(["sandbox", "--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start helmdeck sandbox");
        let mut sb = Sandbox {
            child,
            dir,
            kubeconfig,
            addr: String::new(),
        };
        let prefix = "sandbox listening on http://";
        sb.addr = wait_for("the sandbox to listen", WAIT, || {
            if let Ok(Some(status)) = sb.child.try_wait() {
                panic!(
                    "the sandbox exited ({status}): {}",
                    std::fs::read_to_string(sb.dir.path().join("sandbox.err")).unwrap_or_default()
                );
            }
            let text = std::fs::read_to_string(&stdout_path).ok()?;
            let line = text.lines().find(|l| l.starts_with(prefix))?;
            sb.kubeconfig
                .exists()
                .then(|| line[prefix.len()..].trim().to_string())
        });
        sb
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(KUBECTL);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(args)
            .env_remove("KUBECONFIG");
        cmd
    }

    /// Runs kubectl; every request is bounded by `--request-timeout`.
    pub fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_in(args, None, CMD_LIMIT)
    }

    pub fn kubectl_in(&self, args: &[&str], stdin: Option<&str>, limit: Duration) -> Out {
        let mut all = vec!["--request-timeout=20s"];
        all.extend_from_slice(args);
        run(self.command(&all), stdin, limit)
    }

    /// `kubectl rollout status WHAT -n NS` completes (within 60 s) and says so.
    pub fn assert_rolled_out(&self, what: &str, ns: &str) {
        let out = self.kubectl_in(
            &["rollout", "status", what, "-n", ns, "--timeout=60s"],
            None,
            Duration::from_secs(75),
        );
        assert!(out.ok, "rollout status: {}", out.stderr);
        assert!(
            out.stdout.contains("successfully rolled out"),
            "{}",
            out.stdout
        );
    }

    /// Runs kubectl and expects success; gives stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.ok, "kubectl {args:?} failed: {}", out.stderr);
        out.stdout
    }

    /// Runs kubectl and expects failure; gives stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.ok,
            "kubectl {args:?} should fail, said: {}",
            out.stdout
        );
        out.stderr
    }

    /// Runs kubectl with `-o json` and parses what it prints.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-o", "json"]);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
    }

    /// The items of a list.
    pub fn items(&self, args: &[&str]) -> Vec<Value> {
        self.json(args)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// One plain HTTP/1.1 request: (status, body).
    pub fn http(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (ct, body) = body.unwrap_or(("application/json", ""));
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let (code, body) = read_response(&mut r);
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (code, v)
    }

    /// Sends `n` requests down one connection (pipelined) and checks every answer is 200.
    pub fn http_many(&self, n: usize, request: impl Fn(usize) -> String + Send + 'static) {
        let s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let mut buf = std::io::BufWriter::new(&mut w);
            for i in 0..n {
                buf.write_all(request(i).as_bytes()).unwrap();
            }
            buf.flush().unwrap();
        });
        let mut r = BufReader::new(s);
        for i in 0..n {
            let (code, body) = read_response(&mut r);
            assert_eq!(code, 200, "request {i}: {}", String::from_utf8_lossy(&body));
        }
        writer.join().unwrap();
    }
}

/// Reads one HTTP/1.1 response with a Content-Length (or up to the end).
pub fn read_response(r: &mut impl BufRead) -> (u16, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut len = None;
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body).expect("body");
        }
        None => {
            r.read_to_end(&mut body).expect("body");
        }
    }
    (code, body)
}

pub fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

pub fn names(items: &[Value]) -> BTreeSet<String> {
    items.iter().map(|v| name(v).to_string()).collect()
}

pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

pub fn terminating(v: &Value) -> bool {
    v["metadata"].get("deletionTimestamp").is_some()
}

pub fn owner_kind(pod: &Value) -> &str {
    pod["metadata"]["ownerReferences"][0]["kind"]
        .as_str()
        .unwrap_or("")
}

/// The router's pods that are not being deleted.
pub fn router_pods(sb: &Sandbox) -> Vec<Value> {
    sb.items(&[
        "get",
        "pods",
        "-n",
        "mr-ee",
        "-l",
        "app.kubernetes.io/name=router",
    ])
    .into_iter()
    .filter(|p| !terminating(p))
    .collect()
}

/// The first line of a table that starts with `name` (after an optional namespace).
pub fn row<'a>(table: &'a str, name: &str) -> Option<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().take(2).any(|w| w == name))
}
