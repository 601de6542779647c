//! The guided upgrade and rollback against an in-process sandbox: the kube client over
//! HTTP, the sandbox's release driver writing Helm's release Secrets, the chart
//! repository over HTTP, the values repo checked with the git CLI.

mod common;
use common::git;

use helmdeck::core::release::ReleaseStatus;
use helmdeck::core::releases::fetch::release_history;
use helmdeck::core::releases::repo::RepoOptions;
use helmdeck::core::releases::values_secrets::ValuesSecrets;
use helmdeck::core::workflows::journal::{Journal, JournalFile, Operation};
use helmdeck::core::workflows::lock::ReleaseLock;
use helmdeck::core::workflows::simulated::SimulatedHelm;
use helmdeck::core::workflows::upgrade::{
    self, CheckLevel, Ending, Event, Request, Settings, Step, StepState, Target, ValuesSource,
};
use helmdeck::sandbox::{Options, Sandbox};
use kube::Client;
use std::time::Duration;

struct Env {
    sb: Sandbox,
    client: Client,
    _tmp: tempfile::TempDir,
    settings: Settings,
}

async fn env() -> Env {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let client = Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let settings = Settings {
        environment: None,
        analyses: Default::default(),
        backup_dir: tmp.path().join("backups"),
        values_repo: tmp.path().join("values"),
        journal_dir: tmp.path().join("journal"),
        // The scenario's values hold a plain-text secret (global.kafka.saslPassword); these
        // tests are about the steps, so it is committed as it is (tests/values_secrets.rs
        // covers encryption and refusal).
        secrets: ValuesSecrets {
            allow_plaintext: true,
            ..Default::default()
        },
    };
    Env {
        sb,
        client,
        _tmp: tmp,
        settings,
    }
}

impl Env {
    fn request(&self, target: Target) -> Request {
        Request {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            target,
            values: ValuesSource::Current,
            sets: Vec::new(),
            repository: Some(RepoOptions::new(format!("{}/charts", self.sb.url()))),
            chart_reference: None,
            timeout: Duration::from_secs(20),
            auto_rollback: false,
            force: false,
            reason: String::new(),
            topics: None,
            settings: self.settings.clone(),
        }
    }

    async fn run(&self, req: Request) -> (upgrade::Report, Vec<Event>) {
        let plan = upgrade::prepare(&self.client, req).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let driver = SimulatedHelm::new(self.client.clone());
        let report = upgrade::execute(&self.client, &plan, &driver, tx).await;
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (report, events)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minor_upgrade_then_crash_looping_version_rolls_back_and_git_records_both() {
    let e = env().await;

    // A minor upgrade with a value changed on the way.
    let mut req = e.request(Target::Version("1.5.0".into()));
    req.sets = vec!["router.maxInFlight=64".into()];
    let plan = upgrade::prepare(&e.client, req.clone()).await.unwrap();
    assert!(
        plan.headline().contains("1.4.2 → 1.5.0: minor"),
        "{}",
        plan.headline()
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.contains("Pinterest conversions API v5"))
    );
    assert!(
        plan.values_diff
            .iter()
            .any(|l| l.text.contains("maxInFlight: 64")),
        "{:?}",
        plan.values_diff
    );
    // Secrets are masked in the diff and flagged.
    assert!(
        !plan
            .values_diff
            .iter()
            .any(|l| l.text.contains("pina_sandbox_token"))
    );
    assert!(
        plan.plaintext_secrets
            .iter()
            .any(|p| p == "global.kafka.saslPassword")
    );
    assert!(plan.blockers().is_empty(), "{:?}", plan.checks);

    let (report, events) = e.run(req).await;
    assert_eq!(report.ending, Ending::Succeeded, "{events:?}");
    let steps: Vec<Step> = events
        .iter()
        .filter_map(|ev| match ev {
            Event::Step(s, StepState::Done(_)) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            Step::Lock,
            Step::Backup,
            Step::Commit,
            Step::Apply,
            Step::Verify,
            Step::Record
        ]
    );
    assert!(events.iter().any(|ev| matches!(ev, Event::Progress(ws) if ws.iter().any(|w| w.name == "router" && w.converged))));
    assert!(report.backup.as_ref().unwrap().exists());
    let h = release_history(&e.client, "mr-ee", "ee").await.unwrap();
    let latest = h.latest().unwrap();
    assert_eq!(
        (
            latest.version,
            latest.info.status,
            latest.chart.metadata.version.as_str()
        ),
        (5, ReleaseStatus::Deployed, "1.5.0")
    );
    assert_eq!(
        h.revision(4).unwrap().info.status,
        ReleaseStatus::Superseded
    );
    assert_eq!(latest.config["router"]["maxInFlight"], 64);
    // The live workloads run the chart version's images.
    let router: k8s_openapi::api::apps::v1::Deployment =
        kube::Api::namespaced(e.client.clone(), "mr-ee")
            .get("router")
            .await
            .unwrap();
    let image = router.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("ghcr.io/mr-ee/router:3.5.0"));
    // The lock is given back.
    assert!(
        helmdeck::core::workflows::lock::current_holder(&e.client, "mr-ee", "ee")
            .await
            .unwrap()
            .is_none()
    );

    // The crash-looping patch, with auto-rollback.
    let mut req = e.request(Target::Version("1.5.1".into()));
    req.auto_rollback = true;
    let (report, events) = e.run(req).await;
    let Ending::RolledBack(why) = &report.ending else {
        panic!("{:?} {events:?}", report.ending)
    };
    // Judged failed as soon as the new pods crash-looped, with the cause named.
    assert!(why.contains("CrashLoopBackOff (exit code 1,"), "{why}");
    assert!(report.rollback_commit.is_some());
    let h = release_history(&e.client, "mr-ee", "ee").await.unwrap();
    let statuses: Vec<(i64, ReleaseStatus, String)> = h
        .revisions
        .iter()
        .skip(4)
        .map(|r| (r.version, r.info.status, r.chart.metadata.version.clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            (5, ReleaseStatus::Superseded, "1.5.0".to_string()),
            (6, ReleaseStatus::Failed, "1.5.1".to_string()),
            (7, ReleaseStatus::Deployed, "1.5.0".to_string()),
        ]
    );
    assert_eq!(h.revision(7).unwrap().info.description, "Rollback to 5");

    // git: every revision with its outcome, and a sound repository.
    let repo = &e.settings.values_repo;
    git(repo, &["fsck", "--strict"]);
    let log = git(repo, &["log", "--format=%s|%N"]);
    let entries: Vec<&str> = log
        .split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(entries.len(), 3, "{log}");
    assert!(
        entries[0].starts_with(
            "ee (mr-ee): mr-ee 1.5.1 → 1.5.0 (rollback to revision 5)|outcome: succeeded"
        ),
        "{log}"
    );
    assert!(
        entries[1].starts_with(
            "ee (mr-ee): mr-ee 1.5.0 → 1.5.1 (patch)|outcome: rolled back: judged failed without waiting out the 20 s timeout: 4 new pods broken: "
        ) && entries[1].contains("CrashLoopBackOff (exit code 1,"),
        "{log}"
    );
    assert!(
        entries[2].starts_with("ee (mr-ee): mr-ee 1.4.2 → 1.5.0 (minor)|outcome: succeeded"),
        "{log}"
    );
    let show = git(repo, &["show", "HEAD~1:mr-ee/ee/release.yaml"]);
    assert!(
        show.contains("version: 1.5.1") && show.contains("revision: 6"),
        "{show}"
    );
    assert!(git(repo, &["status", "--porcelain"]).is_empty());

    // Re-applying the first upgrade's commit (from git alone: chart version, repository and
    // values) finds the release already there.
    let first = git(repo, &["rev-list", "--max-parents=0", "HEAD"])
        .trim()
        .to_string();
    let mut req = e.request(Target::Commit(first.clone()));
    req.repository = None; // recorded in the commit
    let err = upgrade::prepare(&e.client, req)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already runs 1.5.0 with these values"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_without_auto_rollback_offers_one_and_the_rollback_command_takes_it() {
    let e = env().await;
    let mut req = e.request(Target::Version("1.5.1".into()));
    req.timeout = Duration::from_secs(8);
    let (report, _) = e.run(req).await;
    assert!(
        matches!(report.ending, Ending::Failed(_)),
        "{:?}",
        report.ending
    );
    assert_eq!(report.offer_rollback_to, Some(4));
    let (report, events) = e.run(e.request(Target::Revision(4))).await;
    assert_eq!(report.ending, Ending::Succeeded, "{events:?}");
    let h = release_history(&e.client, "mr-ee", "ee").await.unwrap();
    let latest = h.latest().unwrap();
    assert_eq!(
        (
            latest.version,
            latest.info.status,
            latest.chart.metadata.version.as_str(),
            latest.info.description.as_str()
        ),
        (6, ReleaseStatus::Deployed, "1.4.2", "Rollback to 4")
    );
    let log = git(&e.settings.values_repo, &["log", "--format=%s|%N"]);
    assert!(
        log.contains("1.5.1 → 1.4.2 (rollback to revision 4)|outcome: succeeded"),
        "{log}"
    );
    assert!(
        log.contains("1.4.2 → 1.5.1 (minor)|outcome: failed"),
        "{log}"
    );

    // `apply --from-commit` of the failed upgrade: its version and values come from git.
    let failed = git(&e.settings.values_repo, &["rev-parse", "HEAD~1"])
        .trim()
        .to_string();
    let mut req = e.request(Target::Commit(failed));
    req.repository = None;
    req.sets = vec!["router.replicas=3".into()];
    let plan = upgrade::prepare(&e.client, req).await.unwrap();
    assert_eq!(plan.to_version, "1.5.1");
    assert!(
        plan.headline().contains("1.4.2 → 1.5.1"),
        "{}",
        plan.headline()
    );
    assert_eq!(plan.values["router"]["replicas"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_why_and_change_nothing() {
    let e = env().await;
    // A version that does not exist.
    let err = upgrade::prepare(&e.client, e.request(Target::Version("9.9.9".into())))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no version 9.9.9") && err.contains("newest stable: 2.0.0"),
        "{err}"
    );
    // A downgrade is a rollback.
    let err = upgrade::prepare(&e.client, e.request(Target::Version("1.3.0".into())))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("roll back instead") && err.contains("--to 2"),
        "{err}"
    );
    // Invalid values YAML, with line and column.
    let mut req = e.request(Target::Version("1.5.0".into()));
    req.values = ValuesSource::Text("router:\n  replicas: 2\n topic: [x\n".into());
    let err = upgrade::prepare(&e.client, req)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid YAML: line 3, column"), "{err}");

    // Someone else holds the lock.
    let other = ReleaseLock::acquire(
        &e.client,
        "mr-ee",
        "ee",
        "upgrade by someone else",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let plan = upgrade::prepare(&e.client, e.request(Target::Version("1.5.0".into())))
        .await
        .unwrap();
    let lock = plan.checks.iter().find(|c| c.name == "lock").unwrap();
    assert_eq!(lock.level, CheckLevel::Fail);
    assert!(
        lock.detail.contains("upgrade by someone else"),
        "{}",
        lock.detail
    );
    let (report, _) = e.run(e.request(Target::Version("1.5.0".into()))).await;
    assert!(
        matches!(report.ending, Ending::Aborted { .. }),
        "{:?}",
        report.ending
    );
    assert!(report.backup.is_none() && report.commit.is_none());
    other.release().await;

    // An interrupted change blocks the next until recovered.
    JournalFile::start(
        &e.settings.journal_dir,
        Journal {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            operation: Operation::Upgrade {
                to_version: "1.5.0".into(),
            },
            from_revision: 4,
            from_version: "1.4.2".into(),
            started: jiff::Timestamp::now(),
            updated: jiff::Timestamp::now(),
            step: "apply".into(),
            backup: None,
            commit: None,
            holder: "a console that was killed".into(),
        },
    )
    .unwrap();
    let plan = upgrade::prepare(&e.client, e.request(Target::Version("1.5.0".into())))
        .await
        .unwrap();
    let j = plan.checks.iter().find(|c| c.name == "journal").unwrap();
    assert!(
        j.detail.contains("stopped at apply") && j.detail.contains("helmdeck recover ee"),
        "{}",
        j.detail
    );
    assert!(!plan.blockers().is_empty());

    // A change in an environment while the values repo still keeps releases without one:
    // refused in preflight (before the lock, the backup and any commit), naming the move.
    helmdeck::core::releases::values_repo::ValuesRepo::open_or_init(&e.settings.values_repo)
        .unwrap()
        .commit_revision(&helmdeck::core::releases::values_repo::ValuesRevision {
            record: helmdeck::core::releases::values_repo::ReleaseRecord {
                release: "ee".into(),
                namespace: "mr-ee".into(),
                chart: "mr-ee".into(),
                version: "1.4.2".into(),
                ..Default::default()
            },
            values_yaml: "a: 1\n".into(),
            from_version: None,
            jump: None,
            reason: "before environments".into(),
            rollback_to: None,
            secrets: Default::default(),
        })
        .unwrap();
    let mut req = e.request(Target::Version("1.5.0".into()));
    req.settings.environment = Some("prod".into());
    let plan = upgrade::prepare(&e.client, req.clone()).await.unwrap();
    let check = plan
        .checks
        .iter()
        .find(|c| c.name == "values repo")
        .unwrap();
    assert_eq!(check.level, CheckLevel::Fail);
    assert!(
        check.detail.contains("cannot record under prod/")
            && check.detail.contains("helmdeck values migrate --env ENV"),
        "{}",
        check.detail
    );
    let (report, _) = e.run(req).await;
    assert!(
        matches!(report.ending, Ending::Aborted { .. }) && report.commit.is_none(),
        "{:?}",
        report.ending
    );

    // Nothing was applied by any of it.
    let h = release_history(&e.client, "mr-ee", "ee").await.unwrap();
    assert_eq!(h.latest().unwrap().version, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_release_refuses_upgrades_and_is_recovered_by_a_rollback() {
    let sb = Sandbox::start(Options {
        scenario: "trouble".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let client = Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let pending = helmdeck::core::release::history(
        &kube::Api::<k8s_openapi::api::core::v1::Secret>::all(client.clone())
            .list(&kube::api::ListParams::default().labels("owner=helm"))
            .await
            .unwrap()
            .items,
    )
    .into_iter()
    .find(|h| h.latest().is_some_and(|r| r.info.status.is_pending()))
    .expect("the trouble scenario has a pending release");
    let (ns, name) = (pending.namespace.clone(), pending.name.clone());
    let current = pending.current().unwrap().version;
    let tmp = tempfile::tempdir().unwrap();
    let settings = Settings {
        environment: None,
        analyses: Default::default(),
        backup_dir: tmp.path().join("b"),
        values_repo: tmp.path().join("v"),
        journal_dir: tmp.path().join("j"),
        secrets: ValuesSecrets {
            allow_plaintext: true,
            ..Default::default()
        },
    };
    let base = Request {
        release: name.clone(),
        namespace: ns.clone(),
        target: Target::Version("0.0.1".into()),
        values: ValuesSource::Current,
        sets: vec![],
        repository: Some(RepoOptions::new(format!("{}/charts", sb.url()))),
        chart_reference: None,
        timeout: Duration::from_secs(20),
        auto_rollback: false,
        force: true,
        reason: String::new(),
        topics: None,
        settings,
    };
    let target = Target::Revision(current);
    let plan = upgrade::prepare(
        &client,
        Request {
            target,
            ..base.clone()
        },
    )
    .await
    .unwrap();
    let release = plan.checks.iter().find(|c| c.name == "release").unwrap();
    assert_eq!(release.level, CheckLevel::Warn, "{release:?}");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    // The trouble scenario keeps other workloads of the release broken, so the rollback may
    // itself time out; either way it supersedes the pending revision, as Helm's does.
    upgrade::execute(&client, &plan, &SimulatedHelm::new(client.clone()), tx).await;
    let h = release_history(&client, &ns, &name).await.unwrap();
    assert!(
        !h.revisions.iter().any(|r| r.info.status.is_pending()),
        "the pending revision is superseded: {:?}",
        h.revisions
            .iter()
            .map(|r| (r.version, r.info.status))
            .collect::<Vec<_>>()
    );
    let latest = h.latest().unwrap();
    assert!(latest.version > pending.latest().unwrap().version);
    assert_eq!(
        latest.chart.metadata.version,
        pending.current().unwrap().chart.metadata.version
    );

    // An upgrade is refused while a revision is pending (checked before the rollback above
    // cleared it, on a fresh sandbox of the same scenario).
    let sb2 = Sandbox::start(Options {
        scenario: "trouble".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let client2 = Client::try_from(kube::Config::new(sb2.url().parse().unwrap())).unwrap();
    let newest = pending.current().unwrap().chart.metadata.version.clone();
    let offers = helmdeck::sandbox::charts::Catalog::builtin();
    let next = offers.charts[&pending.current().unwrap().chart.metadata.name]
        .versions
        .iter()
        .map(|v| v.version.clone())
        .find(|v| {
            helmdeck::core::releases::repo::parse_version(v).unwrap()
                > helmdeck::core::releases::repo::parse_version(&newest).unwrap()
        })
        .expect("a newer version");
    let mut req = Request {
        target: Target::Version(next),
        ..base
    };
    req.repository = Some(RepoOptions::new(format!("{}/charts", sb2.url())));
    let plan = upgrade::prepare(&client2, req).await.unwrap();
    let release = plan.checks.iter().find(|c| c.name == "release").unwrap();
    assert_eq!(release.level, CheckLevel::Fail, "{release:?}");
    assert!(
        release.detail.contains("helmdeck rollback"),
        "{}",
        release.detail
    );
    assert!(
        !plan.blockers().is_empty(),
        "--force does not override a pending release"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_helm_nothing_is_applied_and_git_says_so() {
    let e = env().await;
    let plan = upgrade::prepare(&e.client, e.request(Target::Version("1.5.0".into())))
        .await
        .unwrap();
    let helm = helmdeck::core::workflows::helm::HelmCli::new("/nonexistent/helm");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = upgrade::execute(&e.client, &plan, &helm, tx).await;
    let Ending::Aborted { step, why } = &report.ending else {
        panic!("{:?}", report.ending)
    };
    assert_eq!(*step, Step::Apply);
    assert!(why.contains("HELMDECK_HELM"), "{why}");
    assert!(report.offer_rollback_to.is_none());
    // The backup and the commit are kept; the release is untouched.
    assert!(report.backup.as_ref().unwrap().exists());
    let h = release_history(&e.client, "mr-ee", "ee").await.unwrap();
    assert_eq!(h.latest().unwrap().version, 4);
    let log = git(&e.settings.values_repo, &["log", "--format=%N"]);
    assert!(log.contains("outcome: failed: not applied:"), "{log}");
    assert!(!e.settings.journal_dir.join("mr-ee.ee.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topic_plan_is_checked_and_kept_in_the_backup() {
    use helmdeck::core::workflows::upgrade::TopicCheck;
    let e = env().await;
    let mut req = e.request(Target::Version("1.4.3".into()));
    req.topics = Some(TopicCheck {
        problems: vec!["topic mr-ee-pinterest is missing".into()],
        plan: Some(serde_json::json!({"topics": [{"name": "mr-ee-main", "partitions": 6}]})),
    });
    let plan = upgrade::prepare(&e.client, req.clone()).await.unwrap();
    let topics = plan.checks.iter().find(|c| c.name == "topics").unwrap();
    assert_eq!(topics.level, CheckLevel::Warn);
    assert!(
        topics.detail.contains("mr-ee-pinterest is missing"),
        "{}",
        topics.detail
    );
    assert!(
        plan.blockers().is_empty(),
        "a topic problem warns, it does not block"
    );
    let (report, _) = e.run(req).await;
    assert_eq!(report.ending, Ending::Succeeded);
    let b = helmdeck::core::releases::backup::read(report.backup.as_ref().unwrap()).unwrap();
    let (_, data) = b
        .files
        .iter()
        .find(|(p, _)| p == "topic-plan.json")
        .expect("the topic plan is in the backup");
    let v: serde_json::Value = serde_json::from_slice(data).unwrap();
    assert_eq!(v["topics"][0]["name"], "mr-ee-main");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_change_that_reached_its_target_is_verified_and_closed() {
    use helmdeck::core::workflows::journal::{Journal, JournalFile, Operation};
    let e = env().await;
    let (report, _) = e.run(e.request(Target::Version("1.5.0".into()))).await;
    assert_eq!(report.ending, Ending::Succeeded);
    let commit = report.commit.clone().unwrap();
    // As if the process had died after applying, before recording.
    git(&e.settings.values_repo, &["notes", "remove", &commit]);
    JournalFile::start(
        &e.settings.journal_dir,
        Journal {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            operation: Operation::Upgrade {
                to_version: "1.5.0".into(),
            },
            from_revision: 4,
            from_version: "1.4.2".into(),
            started: jiff::Timestamp::now(),
            updated: jiff::Timestamp::now(),
            step: "verify".into(),
            backup: report.backup.clone(),
            commit: Some(commit.clone()),
            holder: "a console that was killed".into(),
        },
    )
    .unwrap();
    let r = upgrade::verify_interrupted(&e.client, &e.settings, "mr-ee", "ee")
        .await
        .unwrap()
        .unwrap();
    assert!(r.verified, "{r:?}");
    assert!(r.now.contains("revision 5 deployed"), "{}", r.now);
    assert!(!e.settings.journal_dir.join("mr-ee.ee.json").exists());
    let log = git(
        &e.settings.values_repo,
        &["log", "--format=%N", "-1", &commit],
    );
    assert!(log.contains("outcome: succeeded"), "{log}");
    // Nothing left to recover.
    assert!(
        upgrade::verify_interrupted(&e.client, &e.settings, "mr-ee", "ee")
            .await
            .unwrap()
            .is_none()
    );
}

/// Values a release cannot hold are refused in preflight (before any lock), with the size
/// and the limit; a long values diff is summarised, the whole of it kept in a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_values_are_refused_and_a_long_diff_is_summarised() {
    use base64::Engine;
    let e = env().await;
    // 1.5 MiB that gzip cannot shrink (random bytes, base64).
    let mut noise = vec![0u8; 1_100_000];
    for (i, b) in noise.iter_mut().enumerate() {
        *b = (fastrand::u32(..) as u8) ^ (i as u8);
    }
    let blob = base64::engine::general_purpose::STANDARD.encode(&noise);
    let mut req = e.request(Target::Version("1.5.0".into()));
    req.values = ValuesSource::Text(format!("router:\n  replicas: 2\nblob: {blob}\n"));
    let plan = upgrade::prepare(&e.client, req).await.unwrap();
    let size = plan
        .blockers()
        .into_iter()
        .find(|c| c.name == "size")
        .unwrap_or_else(|| panic!("no size check: {:?}", plan.checks));
    assert!(
        size.detail.contains("MiB in its Secret") && size.detail.contains("at most 1.00 MiB"),
        "{}",
        size.detail
    );
    // Refused before anything: no lock taken, no journal.
    let (report, _) = e.run(plan_request(&e, "1.5.0", Some(blob.clone()))).await;
    assert!(
        matches!(report.ending, upgrade::Ending::Aborted { .. }),
        "{:?}",
        report.ending
    );
    assert!(!e.settings.journal_dir.join("mr-ee.ee.json").exists());
    assert!(
        helmdeck::core::workflows::lock::current_holder(&e.client, "mr-ee", "ee")
            .await
            .unwrap()
            .is_none()
    );

    // 400 new keys: the diff shows its first lines and says where the rest is.
    let many: String = (0..400).map(|i| format!("  key{i}: value{i}\n")).collect();
    let mut req = e.request(Target::Version("1.5.0".into()));
    req.values = ValuesSource::Text(format!("router:\n  replicas: 2\nextra:\n{many}"));
    let plan = upgrade::prepare(&e.client, req).await.unwrap();
    assert_eq!(plan.values_diff.len(), upgrade::DIFF_SHOWN + 1);
    let last = &plan.values_diff.last().unwrap().text;
    assert!(
        last.contains("more lines") && last.contains("the whole diff is in "),
        "{last}"
    );
    let path = last.rsplit("the whole diff is in ").next().unwrap();
    let whole = std::fs::read_to_string(path).unwrap();
    assert!(whole.contains("+  key399: value399"), "{whole}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// A request for `version` with a `blob` of values.
fn plan_request(e: &Env, version: &str, blob: Option<String>) -> Request {
    let mut req = e.request(Target::Version(version.into()));
    if let Some(b) = blob {
        req.values = ValuesSource::Text(format!("router:\n  replicas: 2\nblob: {b}\n"));
    }
    req
}
