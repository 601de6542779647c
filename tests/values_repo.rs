//! The values git repo (git2), checked with the real git CLI.

use helmdeck::core::releases::repo::Jump;
use helmdeck::core::releases::values_repo::{
    Outcome, ReleaseRecord, ValuesRepo, ValuesRepoError, ValuesRevision,
};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
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

fn revision(
    version: &str,
    from: Option<&str>,
    jump: Option<Jump>,
    values: &str,
    reason: &str,
) -> ValuesRevision {
    ValuesRevision {
        record: ReleaseRecord {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            environment: None,
            chart: "mr-ee".into(),
            repository: "http://127.0.0.1:1234/charts".into(),
            version: version.into(),
            app_version: String::new(),
            revision: None,
        },
        values_yaml: values.into(),
        from_version: from.map(str::to_string),
        jump,
        reason: reason.into(),
        rollback_to: None,
        secrets: Default::default(),
    }
}

#[test]
fn commits_notes_and_reads_back_in_a_repo_made_with_plain_git() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Ada Oncall"]);
    git(dir, &["config", "user.email", "ada@example.com"]);
    std::fs::write(dir.join("README.md"), "values of our releases\n").unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "start"]);
    // Something the user staged but did not commit: helmdeck must not commit it.
    std::fs::write(dir.join("notes.txt"), "wip\n").unwrap();
    git(dir, &["add", "notes.txt"]);

    let repo = ValuesRepo::open_or_init(dir).unwrap();
    let first = repo
        .commit_revision(&revision(
            "1.4.2",
            Some("1.4.2"),
            None,
            "router:\n  replicas: 2\n",
            "baseline",
        ))
        .unwrap();
    repo.record_outcome(&first.to_string(), &Outcome::Succeeded)
        .unwrap();
    let second = repo
        .commit_revision(&revision(
            "1.5.0",
            Some("1.4.2"),
            Some(Jump::Minor),
            "router:\n  replicas: 3\n",
            "upgrade for Pinterest v5",
        ))
        .unwrap();
    repo.record_outcome(
        &second.to_string()[..10],
        &Outcome::Failed("router: CrashLoopBackOff after 300s".into()),
    )
    .unwrap();

    git(dir, &["fsck", "--strict", "--no-progress"]);
    let log = git(dir, &["log", "--format=%an <%ae>|%s|%N"]);
    let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        [
            "Ada Oncall <ada@example.com>|ee (mr-ee): mr-ee 1.4.2 → 1.5.0 (minor)|outcome: failed: router: CrashLoopBackOff after 300s",
            "Ada Oncall <ada@example.com>|ee (mr-ee): mr-ee 1.4.2 (values only)|outcome: succeeded",
            "Ada Oncall <ada@example.com>|start|",
        ]
    );
    let body = git(dir, &["show", "-s", "--format=%b", "HEAD"]);
    assert!(body.contains("Reason: upgrade for Pinterest v5"), "{body}");
    assert!(
        body.contains("Chart: mr-ee 1.5.0 from http://127.0.0.1:1234/charts"),
        "{body}"
    );
    assert_eq!(
        git(dir, &["show", "HEAD:mr-ee/ee/values.yaml"]),
        "router:\n  replicas: 3\n"
    );
    assert!(git(dir, &["show", "HEAD:mr-ee/ee/release.yaml"]).contains("version: 1.5.0"));
    // The user's staged file is still staged, not committed; our files are clean.
    assert_eq!(git(dir, &["status", "--porcelain"]), "A  notes.txt\n");
    assert!(git(dir, &["show", "--stat", "--format=", "HEAD"]).contains("mr-ee/ee/values.yaml"));
    assert!(!git(dir, &["show", "--stat", "--format=", "HEAD"]).contains("notes.txt"));

    // Reading back any commit, for apply --from-commit.
    let (record, values) = repo
        .read_at(&first.to_string(), None, "mr-ee", "ee")
        .unwrap();
    assert_eq!(record.version, "1.4.2");
    assert_eq!(record.repository, "http://127.0.0.1:1234/charts");
    assert_eq!(values, "router:\n  replicas: 2\n");
    let err = repo
        .read_at(&first.to_string(), None, "mr-ee", "other")
        .unwrap_err();
    assert!(
        err.to_string().contains("mr-ee/other/release.yaml"),
        "{err}"
    );
    let err = repo
        .read_at("0123456789abcdef", None, "mr-ee", "ee")
        .unwrap_err();
    assert!(matches!(err, ValuesRepoError::NotFound { .. }), "{err}");

    let history = repo.log(None, "mr-ee", "ee").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id, second.to_string());
    assert_eq!(
        history[0].note.as_deref(),
        Some("outcome: failed: router: CrashLoopBackOff after 300s")
    );
}

#[test]
fn refuses_to_commit_over_uncommitted_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("values");
    let repo = ValuesRepo::open_or_init(&dir).unwrap();
    git(&dir, &["config", "user.name", "Ada"]);
    git(&dir, &["config", "user.email", "ada@example.com"]);
    repo.commit_revision(&revision("1.4.2", None, None, "a: 1\n", "install"))
        .unwrap();
    std::fs::write(dir.join("mr-ee/ee/values.yaml"), "a: 2 # edited by hand\n").unwrap();
    let err = repo
        .commit_revision(&revision(
            "1.4.3",
            Some("1.4.2"),
            Some(Jump::Patch),
            "a: 3\n",
            "upgrade",
        ))
        .unwrap_err();
    assert!(matches!(err, ValuesRepoError::Dirty { .. }), "{err}");
    assert!(err.to_string().contains("mr-ee/ee/values.yaml"), "{err}");
    assert!(err.to_string().contains("uncommitted changes"), "{err}");
    // Nothing was overwritten or committed.
    assert_eq!(
        std::fs::read_to_string(dir.join("mr-ee/ee/values.yaml")).unwrap(),
        "a: 2 # edited by hand\n"
    );
    assert_eq!(git(&dir, &["rev-list", "--count", "HEAD"]).trim(), "1");
    // Another release's files are independent.
    let mut other = revision(
        "6.0.15",
        Some("6.0.14"),
        Some(Jump::Patch),
        "b: 1\n",
        "upgrade",
    );
    other.record.release = "migratorydata".into();
    other.record.namespace = "migratorydata".into();
    repo.commit_revision(&other).unwrap();
    git(&dir, &["fsck", "--strict", "--no-progress"]);
    assert_eq!(
        git(&dir, &["status", "--porcelain"]),
        " M mr-ee/ee/values.yaml\n"
    );
}

#[test]
fn pushes_commits_and_outcome_notes_to_the_remote_when_there_is_one() {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    let dir = tmp.path().join("values");
    std::fs::create_dir_all(&dir).unwrap();
    git(
        tmp.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "Ada Oncall"]);
    git(&dir, &["config", "user.email", "ada@example.com"]);

    let repo = ValuesRepo::open_or_init(&dir).unwrap();
    let c = repo
        .commit_revision(&revision(
            "1.5.0",
            Some("1.4.2"),
            Some(Jump::Minor),
            "a: 1\n",
            "upgrade",
        ))
        .unwrap();
    repo.record_outcome(&c.to_string(), &Outcome::Succeeded)
        .unwrap();
    // No remote: nothing to push, and that is not an error.
    assert_eq!(repo.push().unwrap(), None);

    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let pushed = repo.push().unwrap().expect("pushed");
    assert_eq!(pushed, remote.to_str().unwrap());
    let log = git(&remote, &["log", "--format=%H %s|%N", "main"]);
    assert!(log.starts_with(&c.to_string()), "{log}");
    assert!(
        log.contains("1.4.2 → 1.5.0 (minor)|outcome: succeeded"),
        "{log}"
    );
    git(&remote, &["fsck", "--strict"]);

    // A remote that moved on is refused, not overwritten.
    let other = tmp.path().join("other");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    git(&other, &["config", "user.name", "Bo"]);
    git(&other, &["config", "user.email", "bo@example.com"]);
    std::fs::write(other.join("x"), "x\n").unwrap();
    git(&other, &["add", "x"]);
    git(&other, &["commit", "-q", "-m", "someone else"]);
    git(&other, &["push", "-q", "origin", "main"]);
    repo.commit_revision(&revision(
        "1.5.1",
        Some("1.5.0"),
        Some(Jump::Patch),
        "a: 2\n",
        "upgrade",
    ))
    .unwrap();
    let err = repo.push().unwrap_err().to_string();
    assert!(
        err.contains("someone else pushed") && err.contains("pull --rebase"),
        "{err}"
    );
    assert!(git(&remote, &["log", "--format=%s", "main"]).starts_with("someone else"));
}
