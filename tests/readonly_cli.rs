//! Read-only on every command-line path: each command that writes, under `--readonly`, a
//! config's global `readonly: true` and a config whose context (the sandbox's kubeconfig
//! context) is marked readonly, exits 2 with one line naming the setting, before contacting
//! anything — and nothing changed in the sandbox. Plus the exit codes of `upgrade`,
//! `rollback`, `apply` and `scale` refusals (2: stopped before changing anything), and
//! `HELMDECK_LOG=debug` logging to stderr for the headless commands.

mod common;

use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The context `helmdeck sandbox --kubeconfig` (write_kubeconfig) names.
const SANDBOX_CONTEXT: &str = "helmdeck-sandbox";

/// A platform, so that `topics create` would have something to create (and a broker to ask).
const PLATFORM: &str = "platforms:
  - name: mr-ee
    namespace: mr-ee
    release: ee
    topic_prefix: mr-ee-
    destinations: [pinterest]
";

fn helmdeck(home: &Path, config_home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    c.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("KUBECONFIG")
        .env_remove("HELMDECK_DRIVER")
        .env_remove("HELMDECK_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn client(sb: &Sandbox) -> kube::Client {
    kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap()
}

/// What the test watches for changes.
#[derive(Debug, PartialEq)]
struct World {
    unschedulable: Vec<(String, bool)>,
    router_replicas: Option<i32>,
    hpas: BTreeSet<String>,
    pods_on_worker_3: BTreeSet<String>,
    release: (usize, i64, String, String),
}

async fn world(client: &kube::Client) -> World {
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    let mut unschedulable: Vec<(String, bool)> = nodes
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| {
            (
                n.metadata.name.unwrap_or_default(),
                n.spec.and_then(|s| s.unschedulable).unwrap_or(false),
            )
        })
        .collect();
    unschedulable.sort();
    let deploys: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), "mr-ee");
    let router_replicas = deploys
        .get("router")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.replicas);
    let hpas: kube::Api<HorizontalPodAutoscaler> = kube::Api::all(client.clone());
    let hpas = hpas
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|h| {
            format!(
                "{}/{}",
                h.metadata.namespace.unwrap_or_default(),
                h.metadata.name.unwrap_or_default()
            )
        })
        .collect();
    let pods: kube::Api<Pod> = kube::Api::all(client.clone());
    let pods_on_worker_3 = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("worker-3")
                && p.metadata.deletion_timestamp.is_none()
        })
        .map(|p| p.metadata.name.unwrap_or_default())
        .collect();
    let h = helmdeck::core::releases::fetch::release_history(client, "mr-ee", "ee")
        .await
        .unwrap();
    let latest = h.latest().unwrap();
    World {
        unschedulable,
        router_replicas,
        hpas,
        pods_on_worker_3,
        release: (
            h.revisions.len(),
            latest.version,
            latest.info.status.to_string(),
            latest.chart.metadata.version.clone(),
        ),
    }
}

/// The journal an upgrade killed while it applied leaves: `recover --rollback` would roll
/// the release back and close it.
fn interrupted_journal(data: &Path) -> PathBuf {
    use helmdeck::core::workflows::journal::{Journal, Operation};
    let journal = Journal {
        release: "ee".into(),
        namespace: "mr-ee".into(),
        operation: Operation::Upgrade {
            to_version: "1.5.0".into(),
        },
        from_revision: 4,
        from_version: "1.4.2".into(),
        started: "2026-11-30T01:00:00Z".parse().unwrap(),
        updated: "2026-11-30T01:00:01Z".parse().unwrap(),
        step: "apply".into(),
        backup: None,
        commit: None,
        holder: "someone@elsewhere (helmdeck, pid 1)".into(),
    };
    write(
        &data.join("helmdeck/journal/mr-ee.ee.json"),
        &serde_json::to_string_pretty(&journal).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_command_is_refused_when_read_only_and_nothing_changes() {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let client = client(&sb);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let kc = home.join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let repo = format!("{}/charts", sb.url());
    let data = home.join("data");

    // The three ways to be read-only. (a) --readonly, the default config file allowing
    // writes; (b) the default config file ($XDG_CONFIG_HOME/helmdeck/config.yaml) with the
    // global `readonly: true`; (c) --config FILE marking the sandbox's context readonly.
    let plain_home = home.join("cfg-plain");
    write(&plain_home.join("helmdeck/config.yaml"), PLATFORM);
    let global_home = home.join("cfg-global");
    let global = write(
        &global_home.join("helmdeck/config.yaml"),
        &format!("readonly: true\n{PLATFORM}"),
    );
    let ctx_file = write(
        &home.join("ctx.yaml"),
        &format!(
            "contexts:\n  {SANDBOX_CONTEXT}:\n    readonly: true\n  other:\n    readonly: false\n{PLATFORM}"
        ),
    );
    let ctx_path = ctx_file.to_str().unwrap().to_string();
    struct Mode<'a> {
        name: &'static str,
        config_home: &'a Path,
        extra: Vec<&'a str>,
        says: String,
    }
    let modes = [
        Mode {
            name: "--readonly",
            config_home: &plain_home,
            extra: vec!["--readonly"],
            says: "read-only by --readonly".into(),
        },
        Mode {
            name: "global readonly",
            config_home: &global_home,
            extra: vec![],
            says: format!("read-only by `readonly: true` in {}", global.display()),
        },
        Mode {
            name: "readonly context",
            config_home: &plain_home,
            extra: vec!["--config", &ctx_path],
            says: format!(
                "context \"{SANDBOX_CONTEXT}\" is marked readonly in {}",
                ctx_file.display()
            ),
        },
    ];

    // Preconditions that make each command a real change: worker-2 cordoned (for
    // uncordon), an interrupted change's journal (for recover --rollback), a backup (for
    // backup restore — created under --readonly: it only writes locally, and is allowed).
    helmdeck::core::cluster::actions::cordon(&client, "worker-2")
        .await
        .unwrap();
    let journal = interrupted_journal(&data);
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    let out = helmdeck(
        home,
        &plain_home,
        &[
            "backup",
            "create",
            "ee",
            "-n",
            "mr-ee",
            "--kubeconfig",
            &kc,
            "--readonly",
        ],
    )
    .output()
    .unwrap();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(0), "backup create: {o}{e}");
    let backups = || {
        std::fs::read_dir(data.join("helmdeck/backups"))
            .unwrap()
            .count()
    };
    assert_eq!(backups(), 1);
    let before = world(&client).await;
    assert_eq!(before.release.3, "1.4.2", "{before:?}");

    let commands: Vec<(&str, Vec<&str>)> = vec![
        ("scale", vec!["scale", "deploy/router", "3", "-n", "mr-ee"]),
        (
            "autoscale",
            vec!["autoscale", "deploy/router", "--max", "5", "-n", "mr-ee"],
        ),
        ("cordon", vec!["cordon", "worker-1"]),
        ("uncordon", vec!["uncordon", "worker-2"]),
        ("drain", vec!["drain", "worker-3", "--ignore-daemonsets"]),
        (
            "upgrade",
            vec![
                "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes", "-n", "mr-ee",
                "--driver", "sandbox",
            ],
        ),
        (
            "rollback",
            vec![
                "rollback", "ee", "--to", "3", "--yes", "-n", "mr-ee", "--driver", "sandbox",
            ],
        ),
        (
            "apply",
            vec![
                "apply",
                "ee",
                "--from-commit",
                "0123456789abcdef",
                "--yes",
                "-n",
                "mr-ee",
                "--driver",
                "sandbox",
            ],
        ),
        (
            "recover --rollback",
            vec![
                "recover",
                "ee",
                "--rollback",
                "--yes",
                "-n",
                "mr-ee",
                "--driver",
                "sandbox",
            ],
        ),
        // Verifying writes too (closes the journal, notes git, frees a dead holder's lock).
        (
            "recover",
            vec!["recover", "ee", "-n", "mr-ee", "--driver", "sandbox"],
        ),
        (
            "backup restore",
            vec!["backup", "restore", "ee", "-n", "mr-ee"],
        ),
        (
            "topics create",
            vec![
                "topics",
                "create",
                "--missing",
                "--yes",
                "--platform",
                "mr-ee",
                "--kafka",
                "127.0.0.1:1",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for mode in &modes {
        for (what, args) in &commands {
            let mut args = args.clone();
            args.extend(["--kubeconfig", kc.as_str()]);
            args.extend(mode.extra.iter().copied());
            let started = Instant::now();
            let out = helmdeck(home, mode.config_home, &args).output().unwrap();
            let took = started.elapsed();
            let (stdout, stderr) = text(&out);
            let want = format!("helmdeck: {what} refused: {}; nothing changed", mode.says);
            let ok = out.status.code() == Some(2)
                && stdout.is_empty()
                && stderr.trim_end() == want
                && took < Duration::from_secs(5);
            if !ok {
                failures.push(format!(
                    "[{}] {args:?}: exit {:?} in {took:?}\n  want: {want}\n  stdout: {stdout}\n  stderr: {stderr}",
                    mode.name,
                    out.status.code()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Flags given before the command count: the config and context it is read-only by.
    let out = helmdeck(
        home,
        &plain_home,
        &[
            "--config",
            &ctx_path,
            "--kubeconfig",
            &kc,
            "cordon",
            "worker-1",
        ],
    )
    .output()
    .unwrap();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}{e}");
    assert!(e.contains("is marked readonly"), "{e}");
    // Another context of the same kubeconfig is not read-only: the refusal was the
    // context's (this one fails later, on the unknown context, without the gate's words).
    let out = helmdeck(
        home,
        &plain_home,
        &[
            "cordon",
            "worker-1",
            "--kubeconfig",
            &kc,
            "--context",
            "other",
            "--config",
            &ctx_path,
        ],
    )
    .output()
    .unwrap();
    let (o, e) = text(&out);
    assert!(!e.contains("refused"), "{o}{e}");
    assert!(e.contains("\"other\" is not in the kubeconfig"), "{o}{e}");

    // Nothing changed: nodes, replicas, HPAs, pods of the drained node, the release; the
    // interrupted change's journal as it was, no other journal, no values repo, one backup.
    let after = world(&client).await;
    assert_eq!(before, after);
    assert_eq!(
        after
            .unschedulable
            .iter()
            .filter(|(_, u)| *u)
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["worker-2"]
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), journal_text);
    assert_eq!(
        std::fs::read_dir(data.join("helmdeck/journal"))
            .unwrap()
            .count(),
        1
    );
    assert!(!data.join("helmdeck/values").exists());
    assert_eq!(backups(), 1);
}

/// Commands that only read run under --readonly (the flag is accepted by every command),
/// and so does `upgrade --dry-run`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_and_dry_runs_run_under_readonly() {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let cfg = home.join("config");
    let kc = home.join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let repo = format!("{}/charts", sb.url());
    let runs: Vec<Vec<&str>> = vec![
        vec!["status", "--readonly"],
        vec!["history", "ee", "-n", "mr-ee", "--readonly"],
        vec!["--readonly", "diff", "ee", "3", "4", "-n", "mr-ee"],
        vec![
            "versions",
            "ee",
            "-n",
            "mr-ee",
            "--repo",
            &repo,
            "--readonly",
        ],
        vec!["backup", "list", "--readonly"],
        // It reads the cluster and writes only where backups are kept (checked below).
        vec![
            "backup",
            "run",
            "ee",
            "-n",
            "mr-ee",
            "--keep",
            "2",
            "--readonly",
        ],
        vec![
            "upgrade",
            "ee",
            "--to",
            "1.5.0",
            "--repo",
            &repo,
            "-n",
            "mr-ee",
            "--dry-run",
            "--readonly",
            // The scenario's values hold a plain-text secret: refused without this.
            "--allow-plaintext-secrets",
        ],
    ];
    for args in runs {
        let mut args = args.clone();
        if args != ["backup", "list", "--readonly"] {
            args.extend(["--kubeconfig", kc.as_str()]);
        }
        let out = helmdeck(home, &cfg, &args).output().unwrap();
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {o}{e}");
        assert!(!e.contains("refused"), "{args:?}: {e}");
    }
    let backups = std::fs::read_dir(home.join("data/helmdeck/backups"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(backups >= 1, "backup run under --readonly made no backup");
}

fn release_state(h: &helmdeck::core::release::ReleaseHistory) -> (usize, i64, String) {
    let latest = h.latest().unwrap();
    (
        h.revisions.len(),
        latest.version,
        latest.chart.metadata.version.clone(),
    )
}

/// Every refusal of `upgrade`, `rollback`, `apply` and `scale` before anything changed
/// exits 2 (1 means a change was made and failed). A downgrade, invalid values YAML, a
/// malformed --set, nothing to change, an unknown revision or commit and an unanswered
/// question exited 1 before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_any_change_exit_2() {
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let client = client(&sb);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let cfg = home.join("config");
    let kc = home.join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let repo = format!("{}/charts", sb.url());
    let bad = write(&home.join("bad.yaml"), "router:\n  replicas: [1\n");
    let bad = bad.to_str().unwrap().to_string();
    let history = || helmdeck::core::releases::fetch::release_history(&client, "mr-ee", "ee");
    let before = release_state(&history().await.unwrap());
    let change = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["-n", "mr-ee", "--driver", "sandbox", "--kubeconfig", &kc]);
        let out = helmdeck(home, &cfg, &args).output().unwrap();
        let (o, e) = text(&out);
        (out.status.code(), format!("{o}{e}"))
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["upgrade", "ee", "--to", "1.4.0", "--repo", &repo, "--yes"],
            "a downgrade is not an upgrade",
        ),
        (
            vec![
                "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "-f", &bad, "--yes",
            ],
            "invalid YAML: line 3, column 1",
        ),
        (
            vec![
                "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--set", "novalue", "--yes",
            ],
            "--set novalue: expected key.path=value",
        ),
        (
            vec!["upgrade", "ee", "--to", "1.4.2", "--repo", &repo, "--yes"],
            "nothing to change",
        ),
        (
            vec!["upgrade", "ee", "--to", "9.9.9", "--repo", &repo, "--yes"],
            "has no version 9.9.9",
        ),
        // No --yes, and stdin is not a terminal: not asked, nothing changed.
        (
            vec![
                "upgrade",
                "ee",
                "--to",
                "1.5.0",
                "--repo",
                &repo,
                "--allow-plaintext-secrets",
            ],
            "pass --yes",
        ),
        // A plain-text secret and no age recipients: refused in preflight.
        (
            vec!["upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes"],
            "the values repo has no age recipients",
        ),
        (
            vec!["rollback", "ee", "--to", "99", "--yes"],
            "has no revision 99",
        ),
        (
            vec!["apply", "ee", "--from-commit", "0123456789abcdef", "--yes"],
            "nothing changed",
        ),
        (
            vec![
                "upgrade",
                "ee",
                "--to",
                "1.5.0",
                "--repo",
                &repo,
                "--readonly",
            ],
            "upgrade refused: read-only by --readonly",
        ),
    ];
    for (args, says) in &cases {
        let (code, out) = change(args);
        assert_eq!(code, Some(2), "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
        assert!(out.contains("nothing changed"), "{args:?}: {out}");
    }

    // A lock held by someone else: upgrade, rollback and apply stop at preflight.
    let leases: kube::Api<Lease> = kube::Api::namespaced(client.clone(), "mr-ee");
    let now = MicroTime(jiff::Timestamp::now());
    let lease = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some(helmdeck::core::workflows::lock::lease_name("ee")),
            namespace: Some("mr-ee".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("alice@elsewhere (helmdeck, pid 1)".into()),
            lease_duration_seconds: Some(3600),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..Default::default()
        }),
    };
    leases
        .create(&kube::api::PostParams::default(), &lease)
        .await
        .unwrap();
    for args in [
        vec!["upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes"],
        vec!["rollback", "ee", "--yes"],
    ] {
        let (code, out) = change(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}");
        assert!(
            out.contains("is being changed by alice@elsewhere"),
            "{args:?}: {out}"
        );
    }

    assert_eq!(release_state(&history().await.unwrap()), before);
    let data = home.join("data/helmdeck");
    assert!(!data.join("journal/mr-ee.ee.json").exists());
    assert!(
        !data.join("values").join(".git").exists()
            || common::git(&data.join("values"), &["log", "--oneline", "--all"]).is_empty()
    );

    // scale: under an HPA, and to 0 without --yes.
    for (args, says) in [
        (
            vec!["scale", "deploy/migratorydata", "4", "-n", "migratorydata"],
            "managed by HPA migratorydata",
        ),
        (vec!["scale", "deploy/router", "0", "-n", "mr-ee"], "--yes"),
    ] {
        let mut args = args.clone();
        args.extend(["--kubeconfig", kc.as_str()]);
        let out = helmdeck(home, &cfg, &args).output().unwrap();
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {o}{e}");
        assert!(e.contains(says) && e.contains("nothing changed"), "{e}");
    }
}

/// `HELMDECK_LOG=debug` makes the headless commands log to stderr, as the README says
/// (they logged nothing: no subscriber was installed but for `sandbox` and the console).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmdeck_log_debug_logs_to_stderr() {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let cfg = home.join("config");
    let kc = home.join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let repo = format!("{}/charts", sb.url());
    for args in [
        vec!["status", "--kubeconfig", &kc],
        vec![
            "upgrade",
            "ee",
            "--to",
            "1.5.0",
            "--repo",
            &repo,
            "-n",
            "mr-ee",
            "--dry-run",
            "--allow-plaintext-secrets",
            "--kubeconfig",
            &kc,
        ],
    ] {
        let out = helmdeck(home, &cfg, &args)
            .env("HELMDECK_LOG", "debug")
            .output()
            .unwrap();
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {o}{e}");
        assert!(e.contains("DEBUG"), "{args:?}: no debug log on stderr: {e}");
        assert!(!o.contains("DEBUG"), "{args:?}: logs on stdout: {o}");
        // Without it: nothing at debug level.
        let out = helmdeck(home, &cfg, &args).output().unwrap();
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {o}{e}");
        assert!(!e.contains("DEBUG"), "{args:?}: {e}");
        // A closed stderr stops no change (the log writer's failure panicked a task).
        // Commands that only print (status) end quietly on a closed pipe instead.
        if args[0] == "status" {
            continue;
        }
        let mut child = helmdeck(home, &cfg, &args)
            .env("HELMDECK_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let out = child.wait_with_output().unwrap();
        let (o, _) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}, stderr closed: {o}");
    }
}

/// Names and sizes that cannot be right are refused in one line, exit 2, before any request
/// (there is no cluster here at all).
#[test]
fn bad_names_and_sizes_are_refused_before_any_request() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"))
            .args(args)
            .env("HOME", tmp.path())
            .env("KUBECONFIG", tmp.path().join("none"))
            .output()
            .unwrap()
    };
    for (args, want) in [
        (
            &["upgrade", "ee;rm", "--to", "1.5.0"][..],
            "not a release name",
        ),
        (
            &["history", "ee", "-n", "Bad_NS"][..],
            "not a namespace name",
        ),
        (
            &["scale", "deploy/x", "2", "-n", "a.b"][..],
            "not a namespace name",
        ),
        (&["sandbox", "--pods", "1000000000"][..], "at most 200000"),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            err.lines()
                .next()
                .unwrap_or("")
                .starts_with("error: invalid value")
        );
    }
}
