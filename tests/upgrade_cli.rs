//! `helmdeck upgrade | recover` as a user runs them, against an in-process sandbox: an
//! upgrade killed half-way leaves its backup, its values commit and a journal; the next
//! change is refused until `helmdeck recover` rolls it back.

mod common;
use common::git;

use helmdeck::core::release::ReleaseStatus;
use helmdeck::sandbox::{Options, Sandbox};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn helmdeck(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    c.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("HELMDECK_DRIVER");
    c
}

/// A sandbox in this process and a private HOME for helmdeck: (sandbox, home, kubeconfig
/// path, chart repository URL).
async fn sandbox_home() -> (Sandbox, tempfile::TempDir, String, String) {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kc = tmp.path().join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let repo = format!("{}/charts", sb.url());
    (sb, tmp, kc.to_str().unwrap().to_string(), repo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upgrade_leaves_a_journal_and_recover_rolls_it_back() {
    let (sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    // The scenario's values hold a plain-text secret; committed as it is here
    // (tests/values_secrets.rs covers encryption and refusal).
    let common = [
        "-n",
        "mr-ee",
        "--driver",
        "sandbox",
        "--kubeconfig",
        kc.as_str(),
        "--allow-plaintext-secrets",
    ];

    // Start the crash-looping upgrade and kill it while it applies.
    let mut args = vec![
        "upgrade",
        "ee",
        "--to",
        "1.5.1",
        "--repo",
        &repo,
        "--yes",
        "--timeout",
        "60s",
    ];
    args.extend(common);
    let mut child = helmdeck(home, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            let done = line.contains("pending-upgrade");
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    })
    .await
    .unwrap();
    assert!(seen.iter().any(|l| l.contains("✓ backup")), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("✓ commit")), "{seen:?}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Left behind: the backup, the values commit and the journal at "apply".
    let data = home.join("data/helmdeck");
    let backups: Vec<_> = std::fs::read_dir(data.join("backups")).unwrap().collect();
    assert_eq!(backups.len(), 1);
    let journal = std::fs::read_to_string(data.join("journal/mr-ee.ee.json")).unwrap();
    assert!(journal.contains("\"step\": \"apply\""), "{journal}");
    let values = data.join("values");
    assert!(git(&values, &["log", "--format=%s"]).contains("1.4.2 → 1.5.1 (minor)"));

    // The next change is refused until the interrupted one is recovered.
    let mut args = vec!["upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes"];
    args.extend(common);
    let out = helmdeck(home, &args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("stopped at apply") && text.contains("helmdeck recover ee -n mr-ee"),
        "{text}"
    );

    // recover without --rollback: the release is not at 1.5.1 deployed, so not verified.
    let mut args = vec!["recover", "ee"];
    args.extend(common);
    let out = helmdeck(home, &args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "unfinished: mr-ee/ee: upgrade to 1.5.1 from revision 4 (1.4.2), stopped at apply"
        ),
        "{text}"
    );
    assert!(
        text.contains("pending-upgrade") && text.contains("not verified"),
        "{text}"
    );

    // recover --rollback: back to revision 4's chart, even though the killed process's lock
    // has not expired (its holder is gone).
    let started = Instant::now();
    let mut args = vec!["recover", "ee", "--rollback", "--yes", "--timeout", "40s"];
    args.extend(common);
    let out = helmdeck(home, &args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(55),
        "waited out the dead holder's lock"
    );
    assert!(!data.join("journal/mr-ee.ee.json").exists());

    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let h = helmdeck::core::releases::fetch::release_history(&client, "mr-ee", "ee")
        .await
        .unwrap();
    let latest = h.latest().unwrap();
    assert_eq!(
        (
            latest.info.status,
            latest.chart.metadata.version.as_str(),
            latest.info.description.as_str()
        ),
        (ReleaseStatus::Deployed, "1.4.2", "Rollback to 4")
    );
    assert!(!h.revisions.iter().any(|r| r.info.status.is_pending()));
    let log = git(&values, &["log", "--format=%s|%N"]);
    assert!(
        log.contains("(rollback to revision 4)|outcome: succeeded"),
        "{log}"
    );
    assert!(
        log.contains("1.4.2 → 1.5.1 (minor)|outcome: failed: interrupted at apply"),
        "{log}"
    );
    git(&values, &["fsck", "--strict"]);
}

/// A change killed before it applied anything (here: at its values commit, its holder gone,
/// its Lease left behind) is closed by `helmdeck recover`: nothing to verify or roll back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_interrupted_before_apply_is_closed_by_recover() {
    use k8s_openapi::api::coordination::v1::Lease;
    let (sb, tmp, kc, _repo) = sandbox_home().await;
    let home = tmp.path();
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();

    // What a helmdeck killed at "commit" leaves: its journal and its Lease (held by a pid
    // that no longer runs).
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let me = helmdeck::core::workflows::lock::holder_identity();
    let holder = format!(
        "{} (helmdeck, pid {dead_pid})",
        me.split(" (helmdeck").next().unwrap()
    );
    let journal_dir = home.join("data/helmdeck/journal");
    std::fs::create_dir_all(&journal_dir).unwrap();
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
        step: "commit".into(),
        backup: None,
        commit: None,
        holder: holder.clone(),
    };
    let path = journal_dir.join("mr-ee.ee.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&journal).unwrap()).unwrap();
    let leases: kube::Api<Lease> = kube::Api::namespaced(client.clone(), "mr-ee");
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "helmdeck-release-ee", "namespace": "mr-ee"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600,
                 "acquireTime": "2026-11-30T01:00:00.000000Z",
                 "renewTime": "2026-11-30T01:00:00.000000Z"},
    }))
    .unwrap();
    leases
        .create(&kube::api::PostParams::default(), &lease)
        .await
        .unwrap();

    let out = helmdeck(
        home,
        &["recover", "ee", "-n", "mr-ee", "--kubeconfig", kc.as_str()],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "interrupted at commit before anything was applied: nothing changed; the lock is free"
        ),
        "{text}"
    );
    assert!(!path.exists(), "the journal is still there");
    assert!(
        leases
            .get_opt("helmdeck-release-ee")
            .await
            .unwrap()
            .is_none(),
        "the dead holder's Lease is still there"
    );
    // The next change is not blocked.
    let out = helmdeck(
        home,
        &["recover", "ee", "-n", "mr-ee", "--kubeconfig", kc.as_str()],
    )
    .output()
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no unfinished change"));
}

/// `helmdeck upgrade … | head -1`: the output is closed after one line, and the change still
/// runs to its end and its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_whose_output_is_closed_still_completes_and_is_recorded() {
    let (sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    let script = format!(
        "\"$0\" upgrade ee --to 1.5.0 --repo {repo} --yes --allow-plaintext-secrets --timeout 60s -n mr-ee --driver sandbox --kubeconfig {kc} 2>&1 | head -1"
    );
    let started = Instant::now();
    let sh = helmdeck(home, &[]);
    let sh = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg(sh.get_program())
        .envs(sh.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = sh.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    // head is gone; helmdeck goes on: wait for its record.
    let values = home.join("data/helmdeck/values");
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    loop {
        let log = if values.join(".git").exists() {
            git(&values, &["log", "--format=%s|%N"])
        } else {
            String::new()
        };
        if log.contains("1.4.2 → 1.5.0 (minor)|outcome: succeeded") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no record of the upgrade after 120 s: {log}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let h = helmdeck::core::releases::fetch::release_history(&client, "mr-ee", "ee")
        .await
        .unwrap();
    let latest = h.latest().unwrap();
    assert_eq!(
        (latest.info.status, latest.chart.metadata.version.as_str()),
        (ReleaseStatus::Deployed, "1.5.0")
    );
    // …and it ended: no journal left.
    let journal = home.join("data/helmdeck/journal/mr-ee.ee.json");
    while journal.exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "journal left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Helm fails the upgrade (with Helm 4's error of two lines) and then the rollback too: the
/// record says so — never "rolled back" — with both errors whole and where the release was
/// left; `helmdeck history` keeps its table on one line per row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollback_is_recorded_as_failed_with_where_the_release_was_left() {
    use std::os::unix::fs::PermissionsExt;
    let (_sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    let helm = home.join("helm");
    std::fs::write(
        &helm,
        "#!/bin/sh\ncase \"$1\" in\n\
         upgrade) echo 'Error: UPGRADE FAILED: resource Deployment/mr-ee/router not ready. status: InProgress, message: Updated: 1/2' >&2\n\
         echo 'context deadline exceeded' >&2; exit 1;;\n\
         rollback) echo 'Error: ROLLBACK FAILED: another operation (install/upgrade/rollback) is in progress' >&2; exit 1;;\n\
         esac\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let args = [
        "upgrade",
        "ee",
        "--to",
        "1.5.0",
        "--repo",
        &repo,
        "--yes",
        "--allow-plaintext-secrets",
        "--auto-rollback",
        "--timeout",
        "20s",
        "-n",
        "mr-ee",
        "--driver",
        "helm",
        "--kubeconfig",
        kc.as_str(),
    ];
    let out = helmdeck(home, &args)
        .env("HELMDECK_HELM", &helm)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the rollback failed too") && !text.contains("rolled back:"),
        "{text}"
    );

    let values = home.join("data/helmdeck/values");
    let notes = git(&values, &["log", "--format=%s%n%N---"]);
    let upgrade_note = notes
        .split("---")
        .find(|n| n.contains("1.4.2 → 1.5.0"))
        .unwrap_or_else(|| panic!("no commit of the upgrade: {notes}"));
    assert!(
        upgrade_note.contains(
            "outcome: rollback failed: the change failed and so did its rollback; release left at revision 4 deployed (mr-ee 1.4.2)"
        ),
        "{upgrade_note}"
    );
    assert!(
        upgrade_note.contains(
            "change: failed: helm exited with 1: Error: UPGRADE FAILED: resource Deployment/mr-ee/router not ready. status: InProgress, message: Updated: 1/2\ncontext deadline exceeded"
        ) || upgrade_note.contains(
            "Error: UPGRADE FAILED: resource Deployment/mr-ee/router not ready. status: InProgress, message: Updated: 1/2\ncontext deadline exceeded"
        ),
        "{upgrade_note}"
    );
    assert!(
        upgrade_note.contains("rollback: failed:")
            && upgrade_note.contains("another operation (install/upgrade/rollback) is in progress"),
        "{upgrade_note}"
    );
    assert!(!notes.contains("outcome: rolled back"), "{notes}");
    git(&values, &["fsck", "--strict"]);

    // The history's table: one line per values commit, the outcome's first line.
    let out = helmdeck(
        home,
        &["history", "ee", "-n", "mr-ee", "--kubeconfig", kc.as_str()],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    let commits: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("values repo"))
        .skip(1)
        .collect();
    assert_eq!(commits.len(), 2, "{text}");
    assert!(
        commits.iter().all(|l| l.starts_with("  ")),
        "a row broke over lines: {text}"
    );
}

/// A crash-looping version with the default timeout (5 minutes): judged failed as soon as its
/// new pods are clearly broken, rolled back, and the ending names the pods, their STATUS,
/// exit code and last log line — in the output and in the git note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_upgrade_fails_fast_and_names_the_cause() {
    let (_sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    let started = Instant::now();
    let out = helmdeck(
        home,
        &[
            "upgrade",
            "ee",
            "--to",
            "1.5.1",
            "--repo",
            &repo,
            "--yes",
            "--allow-plaintext-secrets",
            "--auto-rollback",
            "-n",
            "mr-ee",
            "--driver",
            "sandbox",
            "--kubeconfig",
            kc.as_str(),
        ],
    )
    .output()
    .unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Far inside the 300 s timeout (the figure itself is measured by the drills, not here).
    assert!(took < Duration::from_secs(150), "took {took:?}: {text}");
    assert!(
        text.contains("judged failed without waiting out the 300 s timeout"),
        "{text}"
    );
    assert!(
        text.contains("CrashLoopBackOff (exit code 1,"),
        "no pod named with its STATUS and exit code: {text}"
    );
    assert!(
        text.contains("FATAL router: giving up after 3 attempts; exiting with code 1"),
        "no last log line: {text}"
    );
    assert!(text.contains("Warning BackOff: Back-off restarting failed container"));
    assert!(
        text.contains("✓ rollback back on the chart of revision 4"),
        "{text}"
    );

    let values = home.join("data/helmdeck/values");
    let notes = git(&values, &["log", "--format=%s%n%N---"]);
    let note = notes
        .split("---")
        .find(|n| n.contains("1.4.2 → 1.5.1"))
        .unwrap();
    assert!(
        note.contains(
            "outcome: rolled back: judged failed without waiting out the 300 s timeout: "
        ) && note.contains("CrashLoopBackOff")
            && note.contains("FATAL router"),
        "{note}"
    );
}
