//! Drills of the guided change (prints figures, asserts nothing): `cargo bench --bench drills`.
//!
//! Runs N guided changes of the `ee` release (namespace `mr-ee`) against ONE sandbox started
//! in-process, through the real `helmdeck` binary (`cargo bench` builds it with the bench
//! profile: `target/release/helmdeck`, found through `CARGO_BIN_EXE_helmdeck`), each drill
//! picking at random one of:
//!
//! - **normal**: a successful change that moves the release (1.4.2 → 1.5.0 by `upgrade`, back
//!   to 1.4.2 by `rollback --to`);
//! - **sigkill**: the same change SIGKILLed at a random moment, then recovered as the README
//!   says (`helmdeck recover`, then `recover --rollback --yes` when not verified);
//! - **driver-failure** / **rollback-fails-too**: the Helm CLI driver (`--driver helm`) with
//!   `HELMDECK_HELM` pointing at a fake `helm` that fails the upgrade (`Error: UPGRADE
//!   FAILED: …`), and a variant whose rollback fails too; the fake changes nothing in the
//!   cluster, so Helm's history must not move;
//! - **crash-loop**: an upgrade to 1.5.1 (its router crash-loops) with `--auto-rollback` and
//!   the default 5-minute timeout, timed from its start to "rolled back";
//! - **api-faults**: the normal change through a second API front door on the same store that
//!   answers a share of requests with 500/503 and delays some (`DRILL_FAULTS`);
//! - **lock-held**: the Lease `helmdeck-release-ee` held by another live identity: the change
//!   is refused with exit 2 and nothing changes; the Lease is then deleted.
//!
//! After each drill it checks that the drill ended in a known state: the release's latest
//! revision deployed and none `pending-*`; no journal left; no Lease left; every values-repo
//! commit carries a git note whose outcome matches Helm's history; a backup for every change
//! that committed. A drill that fails a check is printed with why and its output's tail, and
//! counted as not in a known state (the release is then repaired so the next drill starts
//! clean, and the repair is printed).
//!
//! Environment: `DRILLS` (default 100), `DRILL_SEED` (random choices; printed),
//! `DRILL_FAULTS` (default `5xx=0.05,slow=0.1,slow-ms=500`), `DRILL_VERBOSE=1` prints every
//! drill's output.

use helmdeck::core::release::{Release, ReleaseStatus};
use helmdeck::core::releases::fetch::release_history;
use helmdeck::sandbox::faults::Faults;
use helmdeck::sandbox::server::{Server, write_kubeconfig};
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NS: &str = "mr-ee";
const RELEASE: &str = "ee";
const LEASE: &str = "helmdeck-release-ee";
/// The chart version whose router crash-loops.
const CRASHING: &str = "1.5.1";
/// A change that does not end by then is killed and reported as hung.
const HUNG: Duration = Duration::from_secs(420);

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// Drill kinds.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    Sigkill,
    DriverFailure,
    RollbackFailsToo,
    CrashLoop,
    ApiFaults,
    LockHeld,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Normal,
        Kind::Sigkill,
        Kind::DriverFailure,
        Kind::RollbackFailsToo,
        Kind::CrashLoop,
        Kind::ApiFaults,
        Kind::LockHeld,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Sigkill => "sigkill",
            Kind::DriverFailure => "driver-failure",
            Kind::RollbackFailsToo => "rollback-fails-too",
            Kind::CrashLoop => "crash-loop",
            Kind::ApiFaults => "api-faults",
            Kind::LockHeld => "lock-held",
        }
    }

    /// Picks a kind: the two driver variants share one slot, so the five drills of the brief
    /// and the normal change are equally likely.
    fn pick(rng: &mut fastrand::Rng) -> Kind {
        match rng.usize(0..6) {
            0 => Kind::Normal,
            1 => Kind::Sigkill,
            2 if rng.bool() => Kind::DriverFailure,
            2 => Kind::RollbackFailsToo,
            3 => Kind::CrashLoop,
            4 => Kind::ApiFaults,
            _ => Kind::LockHeld,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running the binary.

/// One `helmdeck` run: its exit code (`None` when killed), its stdout lines with when each
/// came, its stderr.
struct Run {
    label: String,
    code: Option<i32>,
    lines: Vec<(Duration, String)>,
    stderr: String,
    took: Duration,
    /// Killed on purpose after this long.
    killed_after: Option<Duration>,
    hung: bool,
}

impl Run {
    fn text(&self) -> String {
        let mut t: String = self.lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        t.push_str(&self.stderr);
        t
    }

    fn contains(&self, s: &str) -> bool {
        self.lines.iter().any(|(_, l)| l.contains(s)) || self.stderr.contains(s)
    }

    /// When a stdout line starting with `prefix` came.
    fn at(&self, prefix: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|(_, l)| l.starts_with(prefix))
            .map(|(t, _)| *t)
    }

    fn has(&self, prefix: &str) -> bool {
        self.at(prefix).is_some()
    }

    /// The step it was in when it was killed: the last step line it printed.
    fn last_step(&self) -> String {
        self.lines
            .iter()
            .rev()
            .find_map(|(_, l)| {
                let mut w = l.split_whitespace();
                let mark = w.next()?;
                let step = w.next()?;
                (["…", "✓", "✗", "-"].contains(&mark)
                    && [
                        "lock", "backup", "commit", "apply", "verify", "rollback", "record",
                    ]
                    .contains(&step))
                .then(|| format!("{step} {}", if mark == "…" { "running" } else { "done" }))
            })
            .unwrap_or_else(|| "preflight".into())
    }

    fn tail(&self, n: usize) -> String {
        let text = self.text();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        lines[from..]
            .iter()
            .map(|l| format!("      | {l}\n"))
            .collect()
    }

    fn summary(&self) -> String {
        let code = match (self.code, self.killed_after, self.hung) {
            (_, _, true) => "HUNG, killed".to_string(),
            (_, Some(t), _) => format!("SIGKILLed after {:.1} s", t.as_secs_f64()),
            (Some(c), _, _) => format!("exit {c}"),
            (None, _, _) => "killed by a signal".into(),
        };
        format!("{} ({code}, {:.1} s)", self.label, self.took.as_secs_f64())
    }
}

/// Which API server a change talks to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Door {
    Clean,
    Faulty,
}

// ---------------------------------------------------------------------------------------
// The bench's world: one sandbox, two front doors, one private HOME.

struct World {
    rt: tokio::runtime::Runtime,
    _sandbox: Sandbox,
    _faulty: Server,
    client: kube::Client,
    bin: PathBuf,
    _tmp: tempfile::TempDir,
    home: PathBuf,
    kubeconfig: String,
    kubeconfig_faulty: String,
    repo: String,
    helm_fails: PathBuf,
    helm_fails_both: PathBuf,
    /// Mean duration of the normal changes so far: the window a SIGKILL falls in.
    moves: Vec<Duration>,
}

/// What was there before a drill.
struct Before {
    latest: i64,
    latest_status: ReleaseStatus,
    start_version: String,
    commits: BTreeSet<String>,
    backups: BTreeSet<PathBuf>,
}

/// How a drill's changes show in Helm's history.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Through the sandbox driver: the notes must match Helm's history.
    Helm,
    /// The fake `helm` applied nothing: Helm's history must not move.
    FakeDriver,
    /// Refused before changing anything: no commit, no backup, no revision.
    Nothing,
}

/// A drill's runs and what it found wrong on the way.
struct Drill {
    kind: Kind,
    runs: Vec<Run>,
    expect: Expect,
    problems: Vec<String>,
    /// What it did, in a few words (for the log line).
    what: String,
}

impl World {
    fn data(&self) -> PathBuf {
        self.home.join("data/helmdeck")
    }

    fn values(&self) -> PathBuf {
        self.data().join("values")
    }

    fn helmdeck(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env_remove("HELMDECK_DRIVER")
            .env_remove("HELMDECK_HELM")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `helmdeck ARGS`, killing it with SIGKILL after `kill_after` when given.
    fn run(
        &self,
        label: &str,
        args: &[String],
        envs: &[(&str, &Path)],
        kill_after: Option<Duration>,
    ) -> Run {
        let mut cmd = self.helmdeck(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn helmdeck");
        let out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => lines.push((started.elapsed(), l)),
                    Err(_) => break,
                }
            }
            lines
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = kill_after.unwrap_or(HUNG).min(HUNG);
        let mut killed_after = None;
        let mut hung = false;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break Some(s);
            }
            if started.elapsed() >= deadline {
                // std's kill is SIGKILL on Unix.
                let _ = child.kill();
                let _ = child.wait();
                if kill_after.is_some_and(|k| k <= HUNG) {
                    killed_after = Some(started.elapsed());
                } else {
                    hung = true;
                }
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = started.elapsed();
        Run {
            label: label.to_string(),
            code: status.and_then(|s| s.code()),
            lines: reader.join().unwrap_or_default(),
            stderr: err_reader.join().unwrap_or_default(),
            took,
            killed_after,
            hung,
        }
    }

    fn common(&self, door: Door) -> Vec<String> {
        let kc = match door {
            Door::Clean => &self.kubeconfig,
            Door::Faulty => &self.kubeconfig_faulty,
        };
        ["-n", NS, "--kubeconfig", kc.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn history(&self) -> Result<Vec<Release>, String> {
        let mut last = String::new();
        for _ in 0..3 {
            match self.rt.block_on(release_history(&self.client, NS, RELEASE)) {
                Ok(h) => return Ok(h.revisions),
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last)
    }

    /// The change that moves the release: an upgrade to 1.5.0 from 1.4.2, else a rollback to
    /// the latest revision that ran 1.4.2. With `auto_rollback` for the upgrade.
    fn move_args(&self, door: Door, auto_rollback: bool) -> (Vec<String>, String) {
        let h = self.history().unwrap_or_default();
        let current = h
            .iter()
            .rev()
            .find(|r| r.info.status == ReleaseStatus::Deployed)
            .map(|r| r.chart.metadata.version.clone())
            .unwrap_or_default();
        let back_to = h
            .iter()
            .rev()
            .find(|r| {
                r.chart.metadata.version == "1.4.2"
                    && matches!(
                        r.info.status,
                        ReleaseStatus::Superseded | ReleaseStatus::Deployed
                    )
            })
            .map(|r| r.version);
        let mut args: Vec<String>;
        let what;
        match back_to {
            Some(rev) if current != "1.4.2" => {
                args = vec![
                    "rollback".into(),
                    RELEASE.into(),
                    "--to".into(),
                    rev.to_string(),
                ];
                what = format!("rollback {current} → revision {rev} (1.4.2)");
            }
            _ => {
                args = vec![
                    "upgrade".into(),
                    RELEASE.into(),
                    "--to".into(),
                    "1.5.0".into(),
                    "--repo".into(),
                    self.repo.clone(),
                ];
                if auto_rollback {
                    args.push("--auto-rollback".into());
                }
                what = format!("upgrade {current} → 1.5.0");
            }
        }
        args.extend(
            ["--yes", "--timeout", "60s", "--driver", "sandbox"]
                .iter()
                .map(|s| s.to_string()),
        );
        args.extend(self.common(door));
        (args, what)
    }

    fn current_version(&self) -> String {
        self.history()
            .unwrap_or_default()
            .iter()
            .rev()
            .find(|r| r.info.status == ReleaseStatus::Deployed)
            .map(|r| r.chart.metadata.version.clone())
            .unwrap_or_default()
    }

    // -----------------------------------------------------------------------------------
    // The drills: one function each.

    /// A successful change that moves the release.
    fn drill_normal(&mut self) -> Drill {
        let (args, what) = self.move_args(Door::Clean, true);
        let run = self.run("change", &args, &[], None);
        let mut problems = Vec::new();
        if run.code != Some(0) {
            problems.push(format!("the change did not succeed: {}", run.summary()));
        } else {
            self.moves.push(run.took);
        }
        Drill {
            kind: Kind::Normal,
            runs: vec![run],
            expect: Expect::Helm,
            problems,
            what,
        }
    }

    /// The change SIGKILLed at a random moment, then recovered as the README says.
    fn drill_sigkill(&mut self, rng: &mut fastrand::Rng) -> Drill {
        let (args, what) = self.move_args(Door::Clean, false);
        let window = self.mean_move().mul_f64(1.2);
        let at = window.mul_f64(rng.f64());
        let killed = self.run("change", &args, &[], Some(at));
        let mut runs = Vec::new();
        let what = match killed.killed_after {
            Some(t) => format!(
                "{what}, SIGKILL at {:.2} s ({})",
                t.as_secs_f64(),
                killed.last_step()
            ),
            None => format!(
                "{what}, ended before the SIGKILL at {:.2} s",
                at.as_secs_f64()
            ),
        };
        runs.push(killed);
        let mut problems = Vec::new();
        let mut recover = vec!["recover".to_string(), RELEASE.into()];
        recover.extend(["--driver".into(), "sandbox".into()]);
        recover.extend(self.common(Door::Clean));
        let verify = self.run("recover", &recover, &[], None);
        let not_verified = verify.code == Some(1) && verify.contains("not verified");
        if !(verify.code == Some(0) || not_verified) {
            problems.push(format!("recover: {}", verify.summary()));
        }
        runs.push(verify);
        if not_verified {
            let mut rb = recover.clone();
            rb.extend(["--rollback", "--yes", "--timeout", "60s"].map(String::from));
            let rolled = self.run("recover --rollback", &rb, &[], None);
            if rolled.code != Some(0) {
                problems.push(format!("recover --rollback: {}", rolled.summary()));
            }
            runs.push(rolled);
        }
        Drill {
            kind: Kind::Sigkill,
            runs,
            expect: Expect::Helm,
            problems,
            what,
        }
    }

    /// The Helm CLI driver fails the upgrade (and, `rollback_fails`, the rollback too).
    fn drill_driver(&mut self, rollback_fails: bool) -> Drill {
        let to = if self.current_version() == "1.4.2" {
            "1.5.0"
        } else {
            CRASHING
        };
        let mut args: Vec<String> = [
            "upgrade",
            RELEASE,
            "--to",
            to,
            "--repo",
            self.repo.as_str(),
            "--yes",
            "--auto-rollback",
            "--timeout",
            "20s",
            "--driver",
            "helm",
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.common(Door::Clean));
        let helm = if rollback_fails {
            self.helm_fails_both.clone()
        } else {
            self.helm_fails.clone()
        };
        let run = self.run("change", &args, &[("HELMDECK_HELM", &helm)], None);
        let mut problems = Vec::new();
        if run.code != Some(1) {
            problems.push(format!("expected exit 1: {}", run.summary()));
        }
        if !run.contains("UPGRADE FAILED") {
            problems.push("Helm's error is not shown".into());
        }
        if rollback_fails && !run.contains("the rollback failed too") {
            problems.push("the failed rollback is not said".into());
        }
        if !rollback_fails && !run.contains("rolled back") {
            problems.push("the rollback is not said".into());
        }
        Drill {
            kind: if rollback_fails {
                Kind::RollbackFailsToo
            } else {
                Kind::DriverFailure
            },
            runs: vec![run],
            expect: Expect::FakeDriver,
            problems,
            what: format!("upgrade → {to} via a failing helm"),
        }
    }

    /// The crash-looping version, default timeout, auto-rollback: timed to "rolled back".
    fn drill_crash_loop(&mut self, rolled_back: &mut Vec<Duration>) -> Drill {
        let from = self.current_version();
        let mut args: Vec<String> = [
            "upgrade",
            RELEASE,
            "--to",
            CRASHING,
            "--repo",
            self.repo.as_str(),
            "--yes",
            "--auto-rollback",
            "--driver",
            "sandbox",
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.common(Door::Clean));
        let run = self.run("change", &args, &[], None);
        let mut problems = Vec::new();
        if run.code != Some(1) {
            problems.push(format!("expected exit 1: {}", run.summary()));
        }
        let what = match run.at("✓ rollback") {
            Some(t) => {
                rolled_back.push(t);
                format!(
                    "upgrade {from} → {CRASHING}: rolled back {:.1} s after the start",
                    t.as_secs_f64()
                )
            }
            None => {
                problems.push("never rolled back".into());
                format!("upgrade {from} → {CRASHING}: NOT rolled back")
            }
        };
        if !run.contains("judged failed without waiting out the 300 s timeout") {
            problems.push("not judged failed before the timeout".into());
        }
        Drill {
            kind: Kind::CrashLoop,
            runs: vec![run],
            expect: Expect::Helm,
            problems,
            what,
        }
    }

    /// The normal change through the faulty front door.
    fn drill_api_faults(&mut self) -> Drill {
        let (args, what) = self.move_args(Door::Faulty, true);
        let run = self.run("change", &args, &[], None);
        let what = format!("{what} through API faults: {}", ending_of(&run));
        Drill {
            kind: Kind::ApiFaults,
            runs: vec![run],
            expect: Expect::Helm,
            problems: Vec::new(),
            what,
        }
    }

    /// Another live holder has the lock: refused with exit 2, nothing changed.
    fn drill_lock_held(&mut self) -> Drill {
        let mut problems = Vec::new();
        let leases: kube::Api<Lease> = kube::Api::namespaced(self.client.clone(), NS);
        let now = jiff::Timestamp::now().to_string();
        let lease: Lease = serde_json::from_value(serde_json::json!({
            "metadata": {"name": LEASE, "namespace": NS,
                         "annotations": {"helmdeck.io/operation": "upgrade by the drills' other operator"}},
            "spec": {"holderIdentity": "oncall@elsewhere.example (helmdeck, pid 4242)",
                     "leaseDurationSeconds": 3600, "acquireTime": now, "renewTime": now},
        }))
        .expect("a Lease");
        if let Err(e) = self
            .rt
            .block_on(leases.create(&kube::api::PostParams::default(), &lease))
        {
            problems.push(format!("could not create the other holder's Lease: {e}"));
        }
        let (args, what) = self.move_args(Door::Clean, true);
        let run = self.run("change", &args, &[], None);
        if run.code != Some(2) {
            problems.push(format!("expected a refusal (exit 2): {}", run.summary()));
        }
        if !run.contains("oncall@elsewhere.example") {
            problems.push("the refusal does not name the holder".into());
        }
        if let Err(e) = self.rt.block_on(leases.delete(LEASE, &Default::default())) {
            problems.push(format!("could not delete the other holder's Lease: {e}"));
        }
        Drill {
            kind: Kind::LockHeld,
            runs: vec![run],
            expect: Expect::Nothing,
            problems,
            what: format!("{what} while oncall@elsewhere holds the lock"),
        }
    }

    fn mean_move(&self) -> Duration {
        if self.moves.is_empty() {
            Duration::from_secs(6)
        } else {
            self.moves.iter().sum::<Duration>() / self.moves.len() as u32
        }
    }

    // -----------------------------------------------------------------------------------
    // Between drills.

    /// Waits until the release's workloads are ready again (a crash loop rolled back takes a
    /// moment), so the next drill's preflight passes. Returns how long it waited, or why not.
    fn settle(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let deps: kube::Api<Deployment> = kube::Api::namespaced(self.client.clone(), NS);
        let sts: kube::Api<StatefulSet> = kube::Api::namespaced(self.client.clone(), NS);
        let mut last = String::new();
        while started.elapsed() < Duration::from_secs(120) {
            let r = self.rt.block_on(async {
                let mut not_ready = Vec::new();
                for d in deps.list(&Default::default()).await?.items {
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let st = d.status.unwrap_or_default();
                    if st.ready_replicas.unwrap_or(0) < want
                        || st.updated_replicas.unwrap_or(0) < want
                    {
                        not_ready.push(d.metadata.name.unwrap_or_default());
                    }
                }
                for s in sts.list(&Default::default()).await?.items {
                    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let st = s.status.unwrap_or_default();
                    if st.ready_replicas.unwrap_or(0) < want {
                        not_ready.push(s.metadata.name.unwrap_or_default());
                    }
                }
                Ok::<_, kube::Error>(not_ready)
            });
            match r {
                Ok(v) if v.is_empty() => return Ok(started.elapsed()),
                Ok(v) => last = format!("not ready: {}", v.join(", ")),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(last)
    }

    fn before(&self) -> Before {
        let h = self.history().unwrap_or_default();
        let latest = h.last();
        Before {
            latest: latest.map_or(0, |r| r.version),
            latest_status: latest.map_or(ReleaseStatus::Unknown, |r| r.info.status),
            start_version: h
                .iter()
                .rev()
                .find(|r| r.info.status == ReleaseStatus::Deployed)
                .map(|r| r.chart.metadata.version.clone())
                .unwrap_or_default(),
            commits: self.notes().into_keys().collect(),
            backups: self.backups(),
        }
    }

    fn git(&self, args: &[&str]) -> Option<String> {
        let values = self.values();
        if !values.join(".git").exists() {
            return None;
        }
        let out = Command::new("git")
            .arg("-C")
            .arg(&values)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every values-repo commit and its git note (empty when it has none).
    fn notes(&self) -> BTreeMap<String, String> {
        let Some(log) = self.git(&["log", "--format=%H%x1f%N%x1e"]) else {
            return BTreeMap::new();
        };
        log.split('\x1e')
            .filter_map(|rec| {
                let (sha, note) = rec.trim().split_once('\x1f')?;
                Some((sha.trim().to_string(), note.trim().to_string()))
            })
            .collect()
    }

    /// The chart version and Helm revision a values commit records.
    fn recorded(&self, sha: &str) -> (String, Option<i64>) {
        let text = self
            .git(&["show", &format!("{sha}:{NS}/{RELEASE}/release.yaml")])
            .unwrap_or_default();
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_default();
        (
            v["version"].as_str().unwrap_or_default().to_string(),
            v["revision"].as_i64(),
        )
    }

    fn backups(&self) -> BTreeSet<PathBuf> {
        std::fs::read_dir(self.data().join("backups"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    fn journals(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.data().join("journal"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn lease_holder(&self) -> Result<Option<String>, String> {
        let leases: kube::Api<Lease> = kube::Api::namespaced(self.client.clone(), NS);
        self.rt
            .block_on(leases.get_opt(LEASE))
            .map(|l| {
                l.map(|l| {
                    l.spec
                        .and_then(|s| s.holder_identity)
                        .unwrap_or_else(|| "nobody".into())
                })
            })
            .map_err(|e| e.to_string())
    }

    // -----------------------------------------------------------------------------------
    // The checks after each drill.

    fn check(&self, before: &Before, drill: &Drill) -> Vec<String> {
        let mut problems = drill.problems.clone();
        let h = match self.history() {
            Ok(h) => h,
            Err(e) => {
                problems.push(format!("Helm's history cannot be read: {e}"));
                Vec::new()
            }
        };
        let rev = |n: i64| h.iter().find(|r| r.version == n);
        let show = |r: &Release| {
            format!(
                "revision {} {} ({})",
                r.version, r.info.status, r.chart.metadata.version
            )
        };

        // The release: latest deployed, nothing pending.
        match h.last() {
            Some(l) if l.info.status == ReleaseStatus::Deployed => {}
            Some(l) => problems.push(format!("the latest is {}", show(l))),
            None => problems.push("the release has no revision".into()),
        }
        for r in h.iter().filter(|r| r.info.status.is_pending()) {
            problems.push(format!("{} is left pending", show(r)));
        }

        // No journal, no Lease.
        for j in self.journals() {
            let text = std::fs::read_to_string(&j).unwrap_or_default();
            let step = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["step"].as_str().map(String::from))
                .unwrap_or_default();
            problems.push(format!(
                "journal left: {} (stopped at {step})",
                j.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        match self.lease_holder() {
            Ok(None) => {}
            Ok(Some(holder)) => problems.push(format!("Lease {LEASE} left, held by {holder}")),
            Err(e) => problems.push(format!("the Lease cannot be read: {e}")),
        }

        // Every commit noted; the new ones' outcomes match Helm's history.
        let notes = self.notes();
        for (sha, note) in &notes {
            if note.is_empty() {
                problems.push(format!("commit {} has no git note", &sha[..12]));
            }
        }
        let new: Vec<(&String, &String)> = notes
            .iter()
            .filter(|(sha, _)| !before.commits.contains(*sha))
            .collect();
        let created: Vec<&Release> = h.iter().filter(|r| r.version > before.latest).collect();
        match drill.expect {
            Expect::Nothing | Expect::FakeDriver => {
                let latest = h.last().map_or(0, |r| r.version);
                let status = h.last().map_or(ReleaseStatus::Unknown, |r| r.info.status);
                if (latest, status) != (before.latest, before.latest_status) {
                    problems.push(format!(
                        "Helm's history moved though nothing was applied: was revision {} {}, now {}",
                        before.latest,
                        before.latest_status,
                        h.last().map(show).unwrap_or_default()
                    ));
                }
            }
            Expect::Helm => {}
        }
        if drill.expect == Expect::Nothing && !new.is_empty() {
            problems.push(format!("{} values commit(s) though refused", new.len()));
        }
        if drill.expect == Expect::FakeDriver {
            let outcomes: Vec<&str> = new
                .iter()
                .map(|(_, n)| n.lines().next().unwrap_or_default())
                .collect();
            let want: &[&str] = if drill.kind == Kind::RollbackFailsToo {
                &["outcome: rollback failed", "outcome: failed"]
            } else {
                &["outcome: rolled back", "outcome: succeeded"]
            };
            for w in want {
                if !outcomes.iter().any(|o| o.starts_with(w)) {
                    problems.push(format!("no new commit noted `{w}…`: {outcomes:?}"));
                }
            }
        }
        if drill.expect == Expect::Helm {
            for (sha, note) in &new {
                let outcome = note.lines().next().unwrap_or_default();
                let (version, revision) = self.recorded(sha);
                let short = &sha[..12];
                let at_version: Vec<&&Release> = created
                    .iter()
                    .filter(|r| r.chart.metadata.version == version)
                    .collect();
                let good = |r: &&&Release| {
                    matches!(
                        r.info.status,
                        ReleaseStatus::Deployed | ReleaseStatus::Superseded
                    )
                };
                if outcome == "outcome: succeeded" {
                    // A deployed or superseded revision of this drill runs that version
                    // (the recorded number itself, or — when a revision fell out — another).
                    if !at_version.iter().any(good) {
                        problems.push(format!(
                            "{short} says succeeded at {version} (revision {revision:?}) but no new revision at {version} was deployed: {}",
                            created.iter().map(|r| show(r)).collect::<Vec<_>>().join(", ")
                        ));
                    }
                } else if outcome.starts_with("outcome: rolled back") {
                    // The target's revision, if it was made, failed (or was superseded when
                    // only the verification failed), and a later one is back on the start
                    // version.
                    if let Some(r) = revision.and_then(rev)
                        && r.chart.metadata.version == version
                        && r.info.status == ReleaseStatus::Deployed
                    {
                        problems.push(format!(
                            "{short} says rolled back but {} is still deployed",
                            show(r)
                        ));
                    }
                    let back = created.iter().any(|r| {
                        r.chart.metadata.version == before.start_version
                            && matches!(
                                r.info.status,
                                ReleaseStatus::Deployed | ReleaseStatus::Superseded
                            )
                    });
                    if !back {
                        problems.push(format!(
                            "{short} says rolled back but no new revision is back on {}: {}",
                            before.start_version,
                            created
                                .iter()
                                .map(|r| show(r))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                } else if outcome.contains("before apply; nothing changed")
                    || outcome.starts_with("outcome: failed: not applied")
                {
                    if let Some(r) = at_version.first()
                        && drill.kind == Kind::Sigkill
                    {
                        problems.push(format!(
                            "{short} says nothing was applied but {} was made",
                            show(r)
                        ));
                    }
                } else if outcome.starts_with("outcome: failed: interrupted at") {
                    // Rolled back afterwards by recover: the release is back where it started.
                    match h.last() {
                        Some(l) if l.chart.metadata.version == before.start_version => {}
                        Some(l) => problems.push(format!(
                            "{short} says interrupted and rolled back afterwards, but the latest is {}",
                            show(l)
                        )),
                        None => {}
                    }
                } else if outcome.starts_with("outcome: failed")
                    || outcome.starts_with("outcome: rollback failed")
                {
                    // Failed (and not rolled back) or its rollback failed too: the release
                    // state checked above is what counts; such an ending is worth seeing.
                    if drill.kind != Kind::ApiFaults {
                        problems.push(format!("{short}: unexpected {outcome}"));
                    }
                } else if !note.is_empty() {
                    problems.push(format!("{short}: unknown note: {outcome}"));
                }
            }
        }

        // Backups: every change that committed had one, and every backup named exists.
        let now = self.backups();
        for b in before.backups.difference(&now) {
            problems.push(format!("backup removed: {}", b.display()));
        }
        for run in &drill.runs {
            for (_, l) in &run.lines {
                let named = l
                    .strip_prefix("✓ backup")
                    .and_then(|r| r.rsplit_once(" → "))
                    .map(|(_, p)| p)
                    .or_else(|| l.trim_start().strip_prefix("backup: "));
                if let Some(p) = named
                    && !Path::new(p.trim()).exists()
                {
                    problems.push(format!("{}: backup {p} does not exist", run.label));
                }
            }
            if run.has("✓ commit") && !run.has("✓ backup") {
                problems.push(format!("{}: committed without a backup", run.label));
            }
        }
        let made = now.difference(&before.backups).count();
        let backed_up = drill.runs.iter().filter(|r| r.has("✓ backup")).count();
        if made < backed_up {
            problems.push(format!(
                "{backed_up} change(s) reported a backup, {made} new backup file(s)"
            ));
        }
        if drill.expect == Expect::Nothing && made > 0 {
            problems.push(format!("{made} backup(s) though refused"));
        }
        problems
    }

    /// Brings the release back to a known state after a drill that did not end in one, so the
    /// next drill starts clean. Says what it did.
    fn repair(&self) -> Vec<String> {
        let mut did = Vec::new();
        if !self.journals().is_empty() {
            let mut args = vec!["recover".to_string(), RELEASE.into()];
            args.extend(["--driver".into(), "sandbox".into()]);
            args.extend(self.common(Door::Clean));
            let r = self.run("repair: recover", &args, &[], None);
            did.push(r.summary());
            if r.code == Some(1) {
                args.extend(["--rollback", "--yes", "--timeout", "60s"].map(String::from));
                did.push(
                    self.run("repair: recover --rollback", &args, &[], None)
                        .summary(),
                );
            }
        }
        if let Ok(Some(holder)) = self.lease_holder() {
            let leases: kube::Api<Lease> = kube::Api::namespaced(self.client.clone(), NS);
            let _ = self.rt.block_on(leases.delete(LEASE, &Default::default()));
            did.push(format!("deleted the Lease held by {holder}"));
        }
        let h = self.history().unwrap_or_default();
        let bad = h
            .last()
            .is_some_and(|l| l.info.status != ReleaseStatus::Deployed)
            || h.iter().any(|r| r.info.status.is_pending());
        if bad {
            // Back to the last revision that was deployed or superseded.
            if let Some(good) = h.iter().rev().find(|r| {
                matches!(
                    r.info.status,
                    ReleaseStatus::Deployed | ReleaseStatus::Superseded
                )
            }) {
                let to = good.version.to_string();
                let mut args: Vec<String> = [
                    "rollback",
                    RELEASE,
                    "--to",
                    to.as_str(),
                    "--yes",
                    "--force",
                    "--timeout",
                    "60s",
                    "--driver",
                    "sandbox",
                ]
                .map(String::from)
                .to_vec();
                args.extend(self.common(Door::Clean));
                did.push(self.run("repair: rollback", &args, &[], None).summary());
            }
        }
        did
    }
}

/// How a change ended, from its last lines.
fn ending_of(run: &Run) -> String {
    let last = run
        .lines
        .iter()
        .rev()
        .find(|(_, l)| l.starts_with("done:") || l.starts_with("ended:"))
        .map(|(_, l)| l.clone())
        .or_else(|| run.stderr.lines().last().map(String::from))
        .unwrap_or_default();
    let mut first: String = last
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(110)
        .collect();
    if first.len() < last.len() {
        first.push('…');
    }
    format!(
        "{} — {first}",
        run.code.map_or("killed".into(), |c| format!("exit {c}"))
    )
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs (nproc), {model}")
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write the fake helm");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn setup(faults: Faults) -> World {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_helmdeck"));
    if !bin.exists() {
        eprintln!(
            "drills: {} is missing; run `cargo build --release` (or `cargo bench --bench drills`, which builds it)",
            bin.display()
        );
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let sandbox = rt
        .block_on(Sandbox::start(Options::default()))
        .expect("the sandbox starts");
    // A second front door on the same store and controllers, misbehaving.
    let faulty = rt
        .block_on(Server::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            sandbox.store.clone(),
            sandbox.server.load.clone(),
            faults,
        ))
        .expect("the faulty front door starts");
    let client = {
        let _guard = rt.enter();
        kube::Client::try_from(kube::Config::new(sandbox.url().parse().expect("a URL")))
            .expect("a client")
    };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let home = tmp.path().to_path_buf();
    let kc = home.join("kubeconfig");
    write_kubeconfig(&kc, &sandbox.url()).expect("kubeconfig");
    let kc_faulty = home.join("kubeconfig-faulty");
    write_kubeconfig(&kc_faulty, &faulty.url()).expect("kubeconfig");
    let helm_fails = home.join("helm-fails");
    write_script(
        &helm_fails,
        "#!/bin/sh\ncase \"$1\" in\n\
         upgrade) echo 'Error: UPGRADE FAILED: resource Deployment/mr-ee/router not ready. status: InProgress, message: Updated: 1/2' >&2\n\
         echo 'context deadline exceeded' >&2; exit 1;;\n\
         rollback) echo 'Rollback was a success! Happy Helming!'; exit 0;;\n\
         esac\nexit 3\n",
    );
    let helm_fails_both = home.join("helm-fails-both");
    write_script(
        &helm_fails_both,
        "#!/bin/sh\ncase \"$1\" in\n\
         upgrade) echo 'Error: UPGRADE FAILED: resource Deployment/mr-ee/router not ready. status: InProgress, message: Updated: 1/2' >&2\n\
         echo 'context deadline exceeded' >&2; exit 1;;\n\
         rollback) echo 'Error: ROLLBACK FAILED: another operation (install/upgrade/rollback) is in progress' >&2; exit 1;;\n\
         esac\nexit 3\n",
    );
    World {
        repo: format!("{}/charts", sandbox.url()),
        rt,
        _sandbox: sandbox,
        _faulty: faulty,
        client,
        bin,
        _tmp: tmp,
        home,
        kubeconfig: kc.to_string_lossy().into_owned(),
        kubeconfig_faulty: kc_faulty.to_string_lossy().into_owned(),
        helm_fails,
        helm_fails_both,
        moves: Vec::new(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it: the
    // drills take minutes, so they only run as a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        println!("drills: run `cargo bench --bench drills` (skipped outside `cargo bench`)");
        return;
    }
    let drills: usize = env_or("DRILLS", 100);
    let seed: u64 = env_or(
        "DRILL_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007),
    );
    let fault_spec =
        std::env::var("DRILL_FAULTS").unwrap_or_else(|_| "5xx=0.05,slow=0.1,slow-ms=500".into());
    let faults = Faults::parse(&fault_spec).unwrap_or_else(|e| {
        eprintln!("drills: DRILL_FAULTS: {e}");
        std::process::exit(2)
    });
    let verbose = std::env::var("DRILL_VERBOSE").is_ok_and(|v| v == "1");
    let mut rng = fastrand::Rng::with_seed(seed);

    let started = Instant::now();
    let mut w = setup(faults);
    println!(
        "drills: {drills} guided changes of {NS}/{RELEASE}, seed {seed} (DRILL_SEED={seed} repeats the choices), API faults {fault_spec}"
    );
    println!("  binary {}", w.bin.display());

    let mut by_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    let mut rolled_back: Vec<Duration> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut settle_waits = Duration::ZERO;
    for i in 1..=drills {
        if let Err(why) = w.settle() {
            println!("  (before drill {i}: the workloads did not settle in 120 s: {why})");
        }
        let kind = Kind::pick(&mut rng);
        let before = w.before();
        let t = Instant::now();
        let drill = match kind {
            Kind::Normal => w.drill_normal(),
            Kind::Sigkill => w.drill_sigkill(&mut rng),
            Kind::DriverFailure => w.drill_driver(false),
            Kind::RollbackFailsToo => w.drill_driver(true),
            Kind::CrashLoop => w.drill_crash_loop(&mut rolled_back),
            Kind::ApiFaults => w.drill_api_faults(),
            Kind::LockHeld => w.drill_lock_held(),
        };
        let took = t.elapsed();
        let problems = w.check(&before, &drill);
        let entry = by_kind.entry(kind).or_default();
        entry.0 += 1;
        let known = problems.is_empty();
        if known {
            entry.1 += 1;
        }
        println!(
            "{i:>4} {:<18} {:>5.1} s  {}  {}",
            kind.name(),
            took.as_secs_f64(),
            if known { "known" } else { "UNKNOWN" },
            drill.what
        );
        if verbose {
            for r in &drill.runs {
                println!("      {}", r.summary());
                print!("{}", r.tail(usize::MAX));
            }
        }
        if !known {
            for p in &problems {
                println!("      ✗ {p}");
            }
            for r in &drill.runs {
                println!("      {} — its last lines:", r.summary());
                print!("{}", r.tail(14));
            }
            for d in w.repair() {
                println!("      repaired: {d}");
            }
            unknown.push(format!(
                "drill {i} ({}): {}",
                kind.name(),
                problems.join("; ")
            ));
        }
        if let Ok(waited) = w.settle() {
            settle_waits += waited;
        }
    }

    let total = started.elapsed();
    let known: usize = by_kind.values().map(|(_, k)| k).sum();
    println!();
    println!(
        "Drills of the guided change, measured by `cargo bench --bench drills` (seed {seed}):"
    );
    println!("  drills run: {drills}");
    for kind in Kind::ALL {
        if let Some((n, k)) = by_kind.get(&kind) {
            println!("    {:<20} {n:>4}  ({k} in a known state)", kind.name());
        }
    }
    println!("  ended in a known state: {known} of {drills}");
    if rolled_back.is_empty() {
        println!("  crash-looping upgrade, start → rolled back: no such drill ran");
    } else {
        let mean = rolled_back.iter().sum::<Duration>() / rolled_back.len() as u32;
        let max = rolled_back.iter().max().copied().unwrap_or_default();
        println!(
            "  crash-looping upgrade (default 300 s timeout), start → rolled back: mean {:.1} s, max {:.1} s over {} drills",
            mean.as_secs_f64(),
            max.as_secs_f64(),
            rolled_back.len()
        );
    }
    println!(
        "  total time: {:.0} s (of which {:.0} s waiting for workloads to settle between drills)",
        total.as_secs_f64(),
        settle_waits.as_secs_f64()
    );
    println!("  machine: {}", machine());
    if !unknown.is_empty() {
        println!("  not in a known state:");
        for u in &unknown {
            println!("    {u}");
        }
    }
}
