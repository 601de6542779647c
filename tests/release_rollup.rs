//! The release roll-up decodes only what it shows: each release's newest revision (and
//! older ones only while the newer cannot be decoded); what the console and `helmdeck
//! status` show is the same as when every revision was decoded.

use helmdeck::core::cluster::rollup::{AreaKind, rollup};
use helmdeck::core::cluster::watch::spawn_watches;
use helmdeck::core::cluster::{Change, ClusterState, ClusterUpdate, ReleaseRevision, ReleaseRow};
use helmdeck::core::release::{self, Release, ReleaseStatus};
use helmdeck::core::releases::history;
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ListParams};
use std::time::{Duration, Instant};

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

/// Revision `v` of `name` in `ns`: chart `name` at version `1.v.0`, app `2.v`.
fn revision(ns: &str, name: &str, v: i64, status: ReleaseStatus) -> Release {
    let mut r = Release {
        name: name.into(),
        namespace: ns.into(),
        version: v,
        ..Default::default()
    };
    r.chart.metadata.name = format!("{name}-chart");
    r.chart.metadata.version = format!("1.{v}.0");
    r.chart.metadata.app_version = format!("2.{v}");
    r.info.status = status;
    r.info.description = format!("Upgrade to 1.{v}.0");
    r.info.last_deployed = Some(ts("2025-05-14T09:00:00Z") + jiff::SignedDuration::from_mins(v));
    r.manifest = format!("kind: ConfigMap\nmetadata:\n  name: {name}-{v}\n");
    r
}

/// Revisions 1..=n, the last `last`, the others superseded.
fn revisions(ns: &str, name: &str, n: i64, last: ReleaseStatus) -> Vec<Secret> {
    (1..=n)
        .map(|v| {
            let status = if v == n {
                last
            } else {
                ReleaseStatus::Superseded
            };
            release::release_secret(&revision(ns, name, v, status)).expect("secret")
        })
        .collect()
}

/// A release Secret whose payload is valid base64 of a broken gzip stream: only
/// decoding finds it (its labels look fine).
fn corrupt(mut secret: Secret) -> Secret {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD
        .encode([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3]);
    secret
        .data
        .as_mut()
        .expect("data")
        .insert("release".into(), ByteString(text.into_bytes()));
    secret
}

/// The state as the watch layer builds it: labels first, decoded by the state.
fn lazy_state(secrets: &[Secret]) -> ClusterState {
    let mut s = ClusterState::default();
    s.apply(ClusterUpdate::Releases(vec![Change::Reset(
        secrets
            .iter()
            .map(ReleaseRevision::from_secret_lazy)
            .collect(),
    )]));
    s
}

/// The state as it was built before: every revision decoded.
fn eager_state(secrets: &[Secret]) -> ClusterState {
    let mut s = ClusterState::default();
    s.apply(ClusterUpdate::Releases(vec![Change::Reset(
        secrets.iter().map(ReleaseRevision::from_secret).collect(),
    )]));
    s
}

fn decoded(s: &ClusterState) -> usize {
    s.revisions.values().filter(|r| r.is_decoded()).count()
}

fn release_problems(s: &ClusterState) -> Vec<String> {
    rollup(s, ts("2025-05-15T00:00:00Z"))
        .problems
        .into_iter()
        .filter(|p| p.area == AreaKind::Releases)
        .map(|p| format!("{:?} {}", p.level, p.message))
        .collect()
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[test]
fn ten_revisions_show_the_newest_and_decode_only_it() {
    let secrets = revisions("shop", "shop", 10, ReleaseStatus::Deployed);
    let s = lazy_state(&secrets);
    let rows = s.releases();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r.namespace.as_str(), r.name.as_str()), ("shop", "shop"));
    assert_eq!(r.revision, 10);
    assert_eq!(r.chart, "shop-chart");
    assert_eq!(r.chart_version, "1.10.0");
    assert_eq!(r.app_version, "2.10");
    assert_eq!(r.status, ReleaseStatus::Deployed);
    assert_eq!(r.description, "Upgrade to 1.10.0");
    assert_eq!(r.updated, Some(ts("2025-05-14T09:10:00Z")));
    assert!(r.decoded && r.undecodable.is_empty());
    assert_eq!(decoded(&s), 1, "only the newest revision is decoded");
    // The older ones are told by their labels until decoded.
    let v3 = &s.revisions[&("shop".to_string(), "sh.helm.release.v1.shop.v3".to_string())];
    assert_eq!((v3.revision, v3.status), (3, ReleaseStatus::Superseded));
    assert!(!v3.is_decoded() && v3.chart.is_empty());

    assert_eq!(rows, eager_state(&secrets).releases());

    // The History view decodes the release's Secrets when it opens: all 10, with their charts.
    let h = release::history(&secrets);
    assert_eq!(h.len(), 1);
    let lines = history::rows(&h[0]);
    let seen: Vec<(i64, String, String, ReleaseStatus)> = lines
        .iter()
        .map(|l| {
            (
                l.revision,
                l.chart.clone(),
                l.chart_version.clone(),
                l.status,
            )
        })
        .collect();
    let expected: Vec<(i64, String, String, ReleaseStatus)> = (1..=10)
        .map(|v| {
            let status = if v == 10 {
                ReleaseStatus::Deployed
            } else {
                ReleaseStatus::Superseded
            };
            (v, "shop-chart".to_string(), format!("1.{v}.0"), status)
        })
        .collect();
    assert_eq!(seen, expected);
    assert!(
        lines
            .iter()
            .all(|l| l.description.starts_with("Upgrade to 1."))
    );

    // Decoding the rest in the background changes nothing shown.
    let mut s = s;
    assert!(!s.decode_backlog(far()));
    assert_eq!(decoded(&s), 10);
    assert_eq!(s.releases(), rows);
}

#[test]
fn a_pending_or_failed_newest_revision_shows_so() {
    let mut secrets = revisions("a", "upgrading", 10, ReleaseStatus::PendingUpgrade);
    secrets.extend(revisions("a", "broken", 4, ReleaseStatus::Failed));
    let s = lazy_state(&secrets);
    let rows = s.releases();
    let status: Vec<(&str, i64, ReleaseStatus)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.revision, r.status))
        .collect();
    assert_eq!(
        status,
        vec![
            ("broken", 4, ReleaseStatus::Failed),
            ("upgrading", 10, ReleaseStatus::PendingUpgrade),
        ]
    );
    let problems = release_problems(&s);
    assert_eq!(problems, release_problems(&eager_state(&secrets)));
    assert!(
        problems
            .iter()
            .any(|p| p.contains("release broken in a failed (revision 4): Upgrade to 1.4.0")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("release upgrading in a is pending-upgrade")),
        "{problems:?}"
    );
}

#[test]
fn an_undecodable_newest_revision_falls_back_and_is_reported() {
    let mut secrets = revisions("a", "half", 10, ReleaseStatus::Deployed);
    let newest = secrets.pop().expect("v10");
    secrets.push(corrupt(newest));
    // None of this one decodes: listed from its labels, with the reasons.
    secrets.extend(
        revisions("a", "gone", 3, ReleaseStatus::Deployed)
            .into_iter()
            .map(corrupt),
    );

    let s = lazy_state(&secrets);
    let eager = eager_state(&secrets);
    assert_eq!(s.releases(), eager.releases());
    assert_eq!(release_problems(&s), release_problems(&eager));
    let rows = s.releases();
    let gone: &ReleaseRow = rows.iter().find(|r| r.name == "gone").expect("gone");
    assert!(!gone.decoded);
    assert_eq!(gone.revision, 3);
    assert_eq!(gone.undecodable.len(), 3);
    assert!(
        gone.undecodable[0].1.contains("gzip"),
        "{:?}",
        gone.undecodable
    );
    let half = rows.iter().find(|r| r.name == "half").expect("half");
    assert!(half.decoded);
    assert_eq!((half.revision, half.chart_version.as_str()), (9, "1.9.0"));
    assert_eq!(half.status, ReleaseStatus::Superseded);
    assert_eq!(
        half.undecodable
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        vec!["sh.helm.release.v1.half.v10"]
    );
    // Decoded: half's v10 and v9, gone's three; not half's v1..v8.
    assert_eq!(decoded(&s), 5);
}

#[test]
fn an_undecodable_older_revision_is_found_by_the_backlog() {
    let mut secrets = revisions("a", "old", 10, ReleaseStatus::Deployed);
    secrets[2] = corrupt(secrets[2].clone());
    let mut s = lazy_state(&secrets);
    let eager = eager_state(&secrets);
    // What the row shows is the same at once; the older revision's problem comes with
    // the backlog (the console decodes it while idle).
    assert_eq!(s.releases()[0].revision, 10);
    assert_eq!(s.releases()[0].chart_version, "1.10.0");
    let generation = s.generation;
    assert!(!s.decode_backlog(far()));
    assert!(s.generation > generation, "views rebuild");
    assert_eq!(s.releases(), eager.releases());
    assert_eq!(release_problems(&s), release_problems(&eager));
    assert!(
        release_problems(&s)
            .iter()
            .any(|p| p.contains("release old in a: 1 revision cannot be decoded")),
        "{:?}",
        release_problems(&s)
    );
}

#[test]
fn the_backlog_stops_at_its_deadline() {
    let secrets = revisions("a", "many", 10, ReleaseStatus::Deployed);
    let mut s = lazy_state(&secrets);
    assert!(s.decode_backlog(Instant::now()), "some are left");
    assert_eq!(decoded(&s), 1);
}

#[test]
fn watch_changes_decode_the_new_newest_revision() {
    let secrets = revisions("a", "app", 10, ReleaseStatus::Deployed);
    let mut s = lazy_state(&secrets);

    // An upgrade: revision 11 arrives (and Helm relabels 10 as superseded).
    let v11 = release::release_secret(&revision("a", "app", 11, ReleaseStatus::Deployed))
        .expect("secret");
    let v10 = release::release_secret(&revision("a", "app", 10, ReleaseStatus::Superseded))
        .expect("secret");
    s.apply(ClusterUpdate::Releases(vec![
        Change::Upsert(ReleaseRevision::from_secret_lazy(&v11)),
        Change::Upsert(ReleaseRevision::from_secret_lazy(&v10)),
    ]));
    let row = &s.releases()[0];
    assert_eq!((row.revision, row.chart_version.as_str()), (11, "1.11.0"));
    assert_eq!(row.status, ReleaseStatus::Deployed);

    // Someone deletes revisions 11 and 10: 9, never decoded so far, is shown.
    s.apply(ClusterUpdate::Releases(vec![
        Change::Delete(("a".into(), "sh.helm.release.v1.app.v11".into())),
        Change::Delete(("a".into(), "sh.helm.release.v1.app.v10".into())),
    ]));
    let row = &s.releases()[0];
    assert_eq!((row.revision, row.chart_version.as_str()), (9, "1.9.0"));
    assert_eq!(row.description, "Upgrade to 1.9.0");
    assert_eq!(row.status, ReleaseStatus::Superseded);
}

#[test]
fn lazy_rows_match_eager_ones_for_odd_secrets() {
    let base =
        release::release_secret(&revision("x", "odd", 2, ReleaseStatus::Deployed)).expect("secret");
    let mut not_helm = base.clone();
    not_helm.type_ = Some("Opaque".into());
    not_helm.metadata.name = Some("sh.helm.release.v1.odd.v3".into());
    let mut no_payload = base.clone();
    no_payload.data = None;
    no_payload.metadata.name = Some("sh.helm.release.v1.odd.v4".into());
    let mut bad_base64 = base.clone();
    bad_base64
        .data
        .as_mut()
        .expect("data")
        .insert("release".into(), ByteString(b"not base64!".to_vec()));
    bad_base64.metadata.name = Some("sh.helm.release.v1.odd.v5".into());
    let secrets = vec![base, not_helm, no_payload, bad_base64, Secret::default()];
    for secret in &secrets {
        let mut lazy = ReleaseRevision::from_secret_lazy(secret);
        lazy.decode();
        assert_eq!(lazy, ReleaseRevision::from_secret(secret));
    }
    let s = lazy_state(&secrets);
    let eager = eager_state(&secrets);
    assert_eq!(s.releases(), eager.releases());
    assert_eq!(release_problems(&s), release_problems(&eager));
}

/// Through the real watch layer against the sandbox's 10-revision releases: the rows are
/// those of every revision decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_layer_shows_each_release_newest_revision() -> anyhow::Result<()> {
    let sb = Sandbox::start(Options {
        releases: Some(60),
        ..Default::default()
    })
    .await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    let secrets = Api::<Secret>::all(client.clone())
        .list(&ListParams::default().labels("owner=helm"))
        .await?
        .items;
    assert!(secrets.len() >= 500, "{} release Secrets", secrets.len());
    let eager = eager_state(&secrets);

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let watches = spawn_watches(client, None, tx);
    let mut s = ClusterState::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while s.releases().len() < eager.releases().len() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) => s.apply(u),
            _ => anyhow::bail!("the releases did not arrive"),
        }
    }
    watches.stop().await;
    let rows = s.releases();
    assert!(rows.len() >= 60);
    assert_eq!(rows, eager.releases());
    assert_eq!(release_problems(&s), release_problems(&eager));
    assert!(
        decoded(&s) <= rows.len() + 5,
        "{} decoded for {} releases",
        decoded(&s),
        rows.len()
    );
    sb.stop().await;
    Ok(())
}

#[test]
fn many_releases_decode_as_one_by_one() {
    // Enough releases for the newest revisions to be decoded on several threads.
    let mut secrets = Vec::new();
    for i in 0..400 {
        let last = match i % 4 {
            0 => ReleaseStatus::Failed,
            1 => ReleaseStatus::PendingUpgrade,
            _ => ReleaseStatus::Deployed,
        };
        let mut revs = revisions("many", &format!("app-{i:03}"), 3, last);
        if i % 7 == 0 {
            let newest = revs.pop().expect("v3");
            revs.push(corrupt(newest));
        }
        secrets.extend(revs);
    }
    let s = lazy_state(&secrets);
    let eager = eager_state(&secrets);
    assert_eq!(s.releases().len(), 400);
    assert_eq!(s.releases(), eager.releases());
    assert_eq!(release_problems(&s), release_problems(&eager));
    // The newest of each, and the one below each corrupt newest.
    assert_eq!(decoded(&s), 400 + 400usize.div_ceil(7));
}
