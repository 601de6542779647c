//! The values repo laid out by environment (`<env>/<namespace>/<release>/`) and the move of
//! a repository of the first layout to it (`helmdeck values migrate --env ENV`): one commit,
//! renames only, nothing lost, history followed — checked with the real git CLI.

use helmdeck::core::releases::values_repo::{
    ReleaseRecord, ValuesRepo, ValuesRepoError, ValuesRevision,
};
mod common;
use common::{git, helmdeck_at as helmdeck};
use std::path::Path;
use std::process::Output;

fn revision(env: Option<&str>, version: &str, values: &str) -> ValuesRevision {
    ValuesRevision {
        record: ReleaseRecord {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            environment: env.map(str::to_string),
            chart: "mr-ee".into(),
            version: version.into(),
            ..Default::default()
        },
        values_yaml: values.into(),
        from_version: Some("1.4.0".into()),
        jump: None,
        reason: "upgrade".into(),
        rollback_to: None,
        secrets: Default::default(),
    }
}

fn envs() -> Vec<String> {
    ["dev", "stage", "prod"].map(String::from).to_vec()
}

/// A repository of the first layout: two revisions of mr-ee/ee, an overlay per environment
/// (committed by hand, as users keep them), and a file of the user's at the root.
fn first_layout(dir: &Path) -> (ValuesRepo, Vec<String>) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Ada Oncall"]);
    git(dir, &["config", "user.email", "ada@example.com"]);
    std::fs::write(dir.join("README.md"), "values of our releases\n").unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "start"]);
    let repo = ValuesRepo::open_or_init(dir).unwrap();
    let a = repo
        .commit_revision(&revision(None, "1.4.1", "router:\n  replicas: 2\n"))
        .unwrap();
    std::fs::write(dir.join("mr-ee/ee/values.stage.yaml"), "debug: true\n").unwrap();
    std::fs::write(
        dir.join("mr-ee/ee/values.prod.yaml"),
        "router: {replicas: 4}\n",
    )
    .unwrap();
    git(dir, &["add", "mr-ee/ee"]);
    git(dir, &["commit", "-q", "-m", "overlays of stage and prod"]);
    let b = repo
        .commit_revision(&revision(None, "1.4.2", "router:\n  replicas: 3\n"))
        .unwrap();
    (repo, vec![a.to_string(), b.to_string()])
}

#[test]
fn each_environment_keeps_its_own_record_of_a_release() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = ValuesRepo::open_or_init(dir).unwrap();
    let stage = repo
        .commit_revision(&revision(Some("stage"), "1.4.2", "a: stage\n"))
        .unwrap();
    repo.commit_revision(&revision(Some("prod"), "1.3.0", "a: prod\n"))
        .unwrap();

    assert_eq!(
        git(dir, &["show", "HEAD:stage/mr-ee/ee/values.yaml"]),
        "a: stage\n"
    );
    assert_eq!(
        git(dir, &["show", "HEAD:prod/mr-ee/ee/values.yaml"]),
        "a: prod\n"
    );
    assert!(
        git(dir, &["log", "-1", "--format=%s"]).starts_with("ee (prod/mr-ee): mr-ee 1.4.0 → 1.3.0")
    );
    let stage_log = repo.log(Some("stage"), "mr-ee", "ee").unwrap();
    assert_eq!(stage_log.len(), 1);
    assert_eq!(stage_log[0].id, stage.to_string());
    let (record, values) = repo.read_at("HEAD", Some("stage"), "mr-ee", "ee").unwrap();
    assert_eq!(
        (record.version.as_str(), record.environment.as_deref()),
        ("1.4.2", Some("stage"))
    );
    assert_eq!(values, "a: stage\n");
    assert!(repo.unmigrated().unwrap().is_empty());
    git(dir, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn the_first_layout_moves_under_an_environment_in_one_commit_that_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (repo, commits) = first_layout(dir);
    let before = git(dir, &["rev-parse", "HEAD"]);

    // A change in an environment is refused until then, and writes nothing.
    let err = repo
        .commit_revision(&revision(Some("prod"), "1.5.0", "a: 1\n"))
        .unwrap_err();
    assert!(
        matches!(err, ValuesRepoError::NeedsMigration { count: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("helmdeck values migrate --env ENV"),
        "{err}"
    );
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), before);
    assert!(!dir.join("prod").exists());
    // Without an environment, the first layout goes on as it was.
    assert_eq!(repo.unmigrated().unwrap(), ["mr-ee/ee"]);

    let moved = repo.migrate("prod", &envs()).unwrap().expect("moved");
    assert_eq!(moved.releases, ["mr-ee/ee"]);

    // One commit on the old HEAD, of renames only (100 % similar), nothing else.
    assert_eq!(git(dir, &["rev-parse", "HEAD~1"]), before);
    let renames = git(dir, &["show", "-M", "--name-status", "--format=", "HEAD"]);
    let mut lines: Vec<&str> = renames.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "R100\tmr-ee/ee/release.yaml\tprod/mr-ee/ee/release.yaml",
            "R100\tmr-ee/ee/values.prod.yaml\tprod/mr-ee/ee/values.prod.yaml",
            "R100\tmr-ee/ee/values.stage.yaml\tstage/mr-ee/ee/values.stage.yaml",
            "R100\tmr-ee/ee/values.yaml\tprod/mr-ee/ee/values.yaml",
        ],
        "{renames}"
    );
    let message = git(dir, &["log", "-1", "--format=%B"]);
    assert!(
        message
            .starts_with("values repo: laid out by environment (1 release(s) moved under prod/)"),
        "{message}"
    );
    // The working tree follows, clean; the user's file stays where it was.
    assert_eq!(git(dir, &["status", "--porcelain"]), "");
    assert!(dir.join("README.md").exists() && !dir.join("mr-ee").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("prod/mr-ee/ee/values.yaml")).unwrap(),
        "router:\n  replicas: 3\n"
    );
    git(dir, &["fsck", "--strict", "--no-progress"]);

    // git follows the history across the move; so do the console's and `history`'s log
    // and re-applying an older commit.
    let follow = git(
        dir,
        &[
            "log",
            "--follow",
            "--format=%H",
            "--",
            "prod/mr-ee/ee/values.yaml",
        ],
    );
    let follow: Vec<&str> = follow.lines().collect();
    assert_eq!(
        follow.len(),
        3,
        "the move and the two revisions: {follow:?}"
    );
    assert_eq!(&follow[1..], [commits[1].as_str(), commits[0].as_str()]);
    let log = repo.log(Some("prod"), "mr-ee", "ee").unwrap();
    let ids: Vec<&str> = log.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        4,
        "the move, the revisions and the overlays' commit"
    );
    assert_eq!(ids[0], moved.commit);
    assert!(ids.contains(&commits[0].as_str()) && ids.contains(&commits[1].as_str()));
    // stage only got its overlay: prod's earlier history is not stage's.
    let stage_log = repo.log(Some("stage"), "mr-ee", "ee").unwrap();
    assert_eq!(stage_log.len(), 1, "{stage_log:?}");
    let (old, _) = repo
        .read_at(&commits[0], Some("prod"), "mr-ee", "ee")
        .unwrap();
    assert_eq!(old.version, "1.4.1");

    // Now a change in prod is recorded beside what was moved; a second move has nothing to do.
    repo.commit_revision(&revision(Some("prod"), "1.5.0", "a: 1\n"))
        .unwrap();
    assert!(git(dir, &["show", "HEAD:prod/mr-ee/ee/release.yaml"]).contains("environment: prod"));
    assert_eq!(repo.migrate("prod", &envs()).unwrap(), None);
}

#[test]
fn a_move_over_uncommitted_changes_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (repo, _) = first_layout(dir);
    let before = git(dir, &["rev-parse", "HEAD"]);
    std::fs::write(dir.join("mr-ee/ee/values.yaml"), "edited: by hand\n").unwrap();
    let err = repo.migrate("prod", &envs()).unwrap_err();
    assert!(matches!(err, ValuesRepoError::Dirty { .. }), "{err}");
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), before);
    assert_eq!(
        std::fs::read_to_string(dir.join("mr-ee/ee/values.yaml")).unwrap(),
        "edited: by hand\n"
    );
    assert!(!dir.join("prod").exists());
}

#[test]
fn values_migrate_from_the_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let dir = home.join("values");
    std::fs::create_dir(&dir).unwrap();
    first_layout(&dir);
    let cfg = home.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "values_repo: {}\nenvironments:\n  - {{name: stage, context: stage}}\n  - {{name: prod, context: prod}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let before = git(&dir, &["rev-parse", "HEAD"]);
    let text = |o: &Output| {
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    };

    // An environment the config does not name; read-only: refused, nothing changed.
    let out = helmdeck(home, &["values", "migrate", "--env", "qa", "--config", cfg]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no environment `qa` in the config (environments: stage, prod)"),
        "{}",
        text(&out)
    );
    let out = helmdeck(
        home,
        &[
            "--readonly",
            "values",
            "migrate",
            "--env",
            "prod",
            "--config",
            cfg,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("values migrate refused"),
        "{}",
        text(&out)
    );
    // A dry run says what would move.
    let out = helmdeck(
        home,
        &[
            "values",
            "migrate",
            "--env",
            "prod",
            "--dry-run",
            "--config",
            cfg,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("mr-ee/ee/ → prod/mr-ee/ee/"),
        "{}",
        text(&out)
    );
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), before);

    let out = helmdeck(
        home,
        &["values", "migrate", "--env", "prod", "--config", cfg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 release(s) moved under prod/ in commit")
            && text(&out).contains("mr-ee/ee/values.stage.yaml → stage/mr-ee/ee/values.stage.yaml"),
        "{}",
        text(&out)
    );
    assert_eq!(git(&dir, &["rev-parse", "HEAD~1"]), before);
    let out = helmdeck(
        home,
        &["values", "migrate", "--env", "prod", "--config", cfg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to move"), "{}", text(&out));
}
