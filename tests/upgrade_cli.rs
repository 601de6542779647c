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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upgrade_leaves_a_journal_and_recover_rolls_it_back() {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let kc = home.join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let repo = format!("{}/charts", sb.url());
    let common = [
        "-n",
        "mr-ee",
        "--driver",
        "sandbox",
        "--kubeconfig",
        kc.as_str(),
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
