//! The console's screens on ratatui's TestBackend, from fixtures of real objects, and its
//! behaviour as keys arrive (filter, drill-down, scale dialog, read-only, command line).

use crossterm::event::KeyCode;
use helmdeck::core::cluster::{
    Change, ClusterState, ClusterUpdate, EventRow, HpaRow, NodeRow, PodRow, ReleaseRevision,
    WorkloadKind, WorkloadRow,
};
use helmdeck::tui::app::{App, Dialog, Effect, Mode, Msg, ScaleInfo};
use helmdeck::tui::keymap::{KeyMap, Screen};
use helmdeck::tui::theme::Theme;
mod common;
use common::tui::{code, fixture, key, screen as render};

/// A cluster built from the fixtures, as the watch layer would deliver it.
fn state() -> ClusterState {
    let mut s = ClusterState::default();
    let pods = [
        "running-ready",
        "crashloopbackoff",
        "imagepullbackoff",
        "pending-unscheduled",
        "oomkilled",
        "terminating",
        "init-running",
        "completed-job",
        "evicted",
    ];
    let rows: Vec<PodRow> = pods
        .iter()
        .map(|p| PodRow::from_pod(&fixture(&format!("pods/{p}.json"))))
        .collect();
    s.apply(ClusterUpdate::Pods(vec![Change::Reset(rows)]));
    let nodes: Vec<NodeRow> = ["ready", "notready-cordoned"]
        .iter()
        .map(|n| NodeRow::from_node(&fixture(&format!("nodes/{n}.json"))))
        .collect();
    s.apply(ClusterUpdate::Nodes(vec![Change::Reset(nodes)]));
    let deploys: Vec<WorkloadRow> = [
        "deployment-healthy",
        "deployment-degraded",
        "deployment-progressing",
        "deployment-paused",
    ]
    .iter()
    .map(|d| WorkloadRow::from_deployment(&fixture(&format!("workloads/{d}.json"))))
    .collect();
    s.apply(ClusterUpdate::Workloads(
        WorkloadKind::Deployment,
        vec![Change::Reset(deploys)],
    ));
    let sts: Vec<WorkloadRow> = ["statefulset-healthy", "statefulset-progressing"]
        .iter()
        .map(|d| WorkloadRow::from_statefulset(&fixture(&format!("workloads/{d}.json"))))
        .collect();
    s.apply(ClusterUpdate::Workloads(
        WorkloadKind::StatefulSet,
        vec![Change::Reset(sts)],
    ));
    s.apply(ClusterUpdate::Workloads(
        WorkloadKind::DaemonSet,
        vec![Change::Reset(vec![WorkloadRow::from_daemonset(&fixture(
            "workloads/daemonset-healthy.json",
        ))])],
    ));
    s.apply(ClusterUpdate::Hpas(vec![Change::Reset(vec![
        HpaRow::from_hpa(&fixture("workloads/hpa.json")),
    ])]));
    let events: Vec<EventRow> = ["backoff-warning", "scheduled-series"]
        .iter()
        .map(|e| EventRow::from_event(&fixture(&format!("events/{e}.json"))))
        .collect();
    s.apply(ClusterUpdate::Events(vec![Change::Reset(events)]));
    s.apply(ClusterUpdate::Releases(vec![Change::Reset(vec![
        ReleaseRevision::from_secret(&fixture("releases/secret-shop-v3.json")),
    ])]));
    s.apply(ClusterUpdate::Metrics {
        pods: Default::default(),
        nodes: Default::default(),
    });
    s
}

fn app() -> App {
    let mut a = App::new(
        KeyMap::default(),
        Theme::default(),
        "fixture".into(),
        None,
        false,
    );
    a.state = state();
    // Fixed "now" so ages are stable in snapshots.
    a.now = "2025-05-14T10:05:00Z".parse().unwrap();
    a
}

fn type_str(a: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| a.on_key(key(c))).collect()
}

#[test]
fn every_screen_renders() {
    for (screen, k) in [
        (Screen::Overview, '1'),
        (Screen::Nodes, '2'),
        (Screen::Workloads, '3'),
        (Screen::Pods, '4'),
        (Screen::Events, '5'),
        (Screen::Releases, '6'),
        (Screen::Topics, '7'),
    ] {
        let mut a = app();
        a.on_key(key(k));
        assert_eq!(a.screen, screen);
        let text = render(&mut a, 160, 30);
        insta::assert_snapshot!(format!("screen_{screen:?}").to_lowercase(), text);
    }
}

#[test]
fn pods_show_kubectl_statuses_and_health_is_not_colour_only() {
    let mut a = app();
    a.on_key(key('4'));
    let text = render(&mut a, 160, 30);
    for status in [
        "Running",
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "Pending",
        "OOMKilled",
        "Terminating",
        "Init:1/2",
        "Completed",
        "Evicted",
    ] {
        assert!(text.contains(status), "{status} missing:\n{text}");
    }
    a.on_key(key('3'));
    let text = render(&mut a, 160, 30);
    // Health carries a glyph and a word, not only a colour.
    assert!(
        text.contains("✔ Healthy") && text.contains("✖ Degraded") && text.contains("◐ Progressing"),
        "{text}"
    );
}

#[test]
fn filter_narrows_pods_and_esc_clears_it() {
    let mut a = app();
    a.on_key(key('4'));
    let all = a.row_count();
    a.on_key(key('/'));
    type_str(&mut a, "crash");
    a.on_key(code(KeyCode::Enter));
    let rows = a.row_count();
    assert!(rows >= 1 && rows < all, "{rows} of {all}");
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("CrashLoopBackOff") && !text.contains("ImagePullBackOff"),
        "{text}"
    );
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.row_count(), all);
}

#[test]
fn label_filter_matches_labels() {
    let mut a = app();
    a.on_key(key('4'));
    let (k, v) = a
        .state
        .pods
        .values()
        .find_map(|p| p.labels.iter().next().map(|(k, v)| (k.clone(), v.clone())))
        .expect("a labelled pod");
    a.on_key(key('/'));
    type_str(&mut a, &format!("{k}={v}"));
    let want = a
        .state
        .pods
        .values()
        .filter(|p| p.labels.get(&k) == Some(&v))
        .count();
    assert_eq!(a.row_count(), want);
}

#[test]
fn enter_on_a_pod_opens_its_detail_and_asks_for_logs() {
    let mut a = app();
    a.on_key(key('4'));
    let effects = a.on_key(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::PodDetail);
    assert!(effects.iter().any(|e| matches!(e, Effect::OpenPod { .. })));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Logs {
            previous: false,
            ..
        }
    )));
    a.on_msg(Msg::LogLines(vec![
        "first line".into(),
        "second line".into(),
    ]));
    let text = render(&mut a, 120, 30);
    assert!(
        text.contains("second line") && text.contains("following"),
        "{text}"
    );
    // f pauses following; p switches to the previous container's log.
    a.on_key(key('f'));
    assert!(render(&mut a, 120, 30).contains("paused"));
    let effects = a.on_key(key('p'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Logs { previous: true, .. }))
    );
    // esc goes back and stops the log stream.
    let effects = a.on_key(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Pods);
    assert!(effects.contains(&Effect::StopLogs));
}

fn open_scale(a: &mut App, name: &str) {
    a.on_key(key('3'));
    a.on_key(key('/'));
    type_str(a, name);
    a.on_key(code(KeyCode::Enter));
    let effects = a.on_key(key('s'));
    assert!(
        matches!(effects.as_slice(), [Effect::PlanScale { .. }]),
        "{effects:?}"
    );
}

#[test]
fn scale_dialog_applies_and_keeps_input_on_failure() {
    let mut a = app();
    let name = a
        .state
        .workloads
        .values()
        .find(|w| w.kind == WorkloadKind::Deployment)
        .unwrap()
        .name
        .clone();
    open_scale(&mut a, &name);
    a.on_msg(Msg::ScalePlanned(Ok(ScaleInfo {
        current: 2,
        hpa: None,
    })));
    a.on_key(code(KeyCode::Backspace));
    let effects = type_str(&mut a, "5");
    assert!(effects.is_empty());
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::Scale { replicas: 5, .. }]),
        "{effects:?}"
    );
    // The API refuses: the dialog stays, with the error and what was typed.
    a.on_msg(Msg::Done {
        what: format!(
            "scale {}/{}",
            a.state
                .workloads
                .values()
                .find(|w| w.name == name)
                .unwrap()
                .namespace,
            name
        ),
        result: Err("forbidden: RBAC says no".into()),
    });
    match &a.mode {
        Mode::Dialog(Dialog::Scale {
            input, error, busy, ..
        }) => {
            assert_eq!(input, "5");
            assert_eq!(error.as_deref(), Some("forbidden: RBAC says no"));
            assert!(!busy);
        }
        other => panic!("dialog closed: {other:?}"),
    }
    assert!(render(&mut a, 160, 30).contains("forbidden: RBAC says no"));
}

#[test]
fn scaling_to_zero_needs_confirmation() {
    let mut a = app();
    let name = a
        .state
        .workloads
        .values()
        .find(|w| w.kind == WorkloadKind::Deployment)
        .unwrap()
        .name
        .clone();
    open_scale(&mut a, &name);
    a.on_msg(Msg::ScalePlanned(Ok(ScaleInfo {
        current: 2,
        hpa: None,
    })));
    a.on_key(code(KeyCode::Backspace));
    type_str(&mut a, "0");
    assert!(
        a.on_key(code(KeyCode::Enter)).is_empty(),
        "0 must be confirmed first"
    );
    assert!(render(&mut a, 160, 30).contains("to 0?"));
    let effects = a.on_key(key('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Scale { replicas: 0, .. }]),
        "{effects:?}"
    );
}

#[test]
fn a_workload_under_an_hpa_is_scaled_through_the_hpa() {
    let mut a = app();
    let name = a
        .state
        .workloads
        .values()
        .find(|w| w.kind == WorkloadKind::Deployment)
        .unwrap()
        .name
        .clone();
    open_scale(&mut a, &name);
    a.on_msg(Msg::ScalePlanned(Ok(ScaleInfo {
        current: 3,
        hpa: Some(("web".into(), 2, 5)),
    })));
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("Managed by HPA web") && text.contains("edit the HPA"),
        "{text}"
    );
    // min 3 (typed over 2), tab, max 4.
    a.on_key(code(KeyCode::Backspace));
    type_str(&mut a, "3");
    a.on_key(code(KeyCode::Tab));
    a.on_key(code(KeyCode::Backspace));
    type_str(&mut a, "4");
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::SetHpaRange { min: 3, max: 4, .. }]
        ),
        "{effects:?}"
    );
}

#[test]
fn readonly_refuses_writes_where_they_would_be() {
    let mut a = app();
    a.readonly = true;
    a.on_key(key('3'));
    assert!(a.on_key(key('s')).is_empty());
    assert!(matches!(a.mode, Mode::Normal));
    assert!(render(&mut a, 160, 30).contains("read-only: scaling is disabled"));
    a.on_key(key('2'));
    a.on_key(key('d'));
    assert!(
        matches!(a.mode, Mode::Normal),
        "no drain confirmation in read-only mode"
    );
    assert!(render(&mut a, 160, 30).contains("[READ-ONLY]"));
}

#[test]
fn drain_asks_first() {
    let mut a = app();
    a.on_key(key('2'));
    a.on_key(key('d'));
    assert!(render(&mut a, 160, 30).contains("Drain"));
    let effects = a.on_key(key('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Drain(_)]),
        "{effects:?}"
    );
}

#[test]
fn command_line_switches_screens_with_completion() {
    let mut a = app();
    a.on_key(key(':'));
    type_str(&mut a, "po");
    a.on_key(code(KeyCode::Tab));
    assert_eq!(a.mode, Mode::Command("pods".into()));
    a.on_key(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Pods);
    a.on_key(key(':'));
    type_str(&mut a, "rel");
    a.on_key(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Releases);
    a.on_key(key(':'));
    type_str(&mut a, "bogus");
    // Not a screen: asked of discovery, which knows no such kind.
    assert_eq!(
        a.on_key(code(KeyCode::Enter)),
        vec![Effect::ListResource {
            name: "bogus".into(),
            namespace: None,
            resolved: None
        }]
    );
    a.on_msg(Msg::Resource {
        name: "bogus".into(),
        namespace: None,
        result: Err("the server has no resource named 'bogus'".into()),
    });
    assert!(a.resource.is_none());
    assert!(render(&mut a, 160, 30).contains("unknown command"));
}

#[test]
fn help_lists_the_keys_of_the_current_screen() {
    let mut a = app();
    a.on_key(key('2'));
    a.on_key(key('?'));
    let text = render(&mut a, 160, 40);
    assert!(text.contains("Keys — Nodes"), "{text}");
    assert!(text.contains("cordon") || text.contains("Cordon"), "{text}");
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn a_failing_watch_is_said_in_its_pane_with_the_data_kept() {
    let mut a = app();
    a.on_key(key('4'));
    let before = a.row_count();
    a.on_msg(Msg::Cluster(ClusterUpdate::Error(
        helmdeck::core::cluster::Resource::Pods,
        "connection refused".into(),
    )));
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("pods watch failing: connection refused"),
        "{text}"
    );
    assert_eq!(a.row_count(), before, "the last known pods stay on screen");
}

#[test]
fn overview_cursor_walks_the_problems_and_enter_jumps() {
    let mut a = app();
    let problems = a.rollup().problems.clone();
    assert!(problems.len() >= 2);
    a.on_key(key('j'));
    assert_eq!(a.selected_index(), 1);
    let target = problems[1].target.clone().expect("a target");
    a.on_key(code(KeyCode::Enter));
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains(&target.name),
        "jumped to {}:\n{text}",
        target.name
    );
}

#[test]
fn ctx_switches_only_to_a_known_context() {
    let mut a = app();
    a.contexts = vec!["fixture".into(), "prod".into()];
    a.on_key(key(':'));
    type_str(&mut a, "ctx pr");
    a.on_key(code(KeyCode::Tab));
    assert_eq!(a.mode, Mode::Command("ctx prod".into()));
    let effects = a.on_key(code(KeyCode::Enter));
    assert_eq!(effects, vec![Effect::SwitchContext("prod".into())]);
    a.on_key(key(':'));
    type_str(&mut a, "ctx nope");
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    assert!(render(&mut a, 160, 30).contains("no context named 'nope'"));
}

/// A revision of the fixture release `shop/shop`.
fn shop_revision(
    version: i64,
    chart_version: &str,
    status: helmdeck::core::release::ReleaseStatus,
    replicas: i64,
) -> helmdeck::core::release::Release {
    use helmdeck::core::release::{Chart, ChartMetadata, Info, Release};
    Release {
        name: "shop".into(),
        namespace: "shop".into(),
        version,
        info: Info {
            last_deployed: Some("2025-05-14T09:00:00Z".parse().unwrap()),
            description: format!("Upgrade to {chart_version}"),
            status,
            ..Default::default()
        },
        chart: Chart {
            metadata: ChartMetadata {
                name: "shop".into(),
                version: chart_version.into(),
                app_version: format!("app-{chart_version}"),
                ..Default::default()
            },
            ..Default::default()
        },
        config: serde_json::json!({"replicas": replicas, "db": {"password": "hunter2"}}),
        manifest: format!("kind: Deployment\nimage: shop:{chart_version}\n"),
        ..Default::default()
    }
}

fn shop_history() -> helmdeck::core::release::ReleaseHistory {
    use helmdeck::core::release::{ReleaseHistory, ReleaseStatus};
    ReleaseHistory {
        name: "shop".into(),
        namespace: "shop".into(),
        revisions: vec![
            shop_revision(1, "2.2.0", ReleaseStatus::Superseded, 1),
            shop_revision(2, "2.3.0", ReleaseStatus::Failed, 2),
            shop_revision(3, "2.3.1", ReleaseStatus::Deployed, 3),
        ],
        errors: Vec::new(),
    }
}

/// The Releases screen with the history of `shop/shop` open and loaded.
fn app_with_history() -> App {
    let mut a = app();
    a.on_key(key('6'));
    let effects = a.on_key(key('h'));
    assert_eq!(
        effects,
        vec![Effect::ReleaseHistory {
            namespace: "shop".into(),
            name: "shop".into()
        }]
    );
    a.on_msg(Msg::ReleaseHistory {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(shop_history()),
    });
    a
}

#[test]
fn release_history_is_fetched_by_an_effect_and_shows_every_revision() {
    let mut a = app();
    a.on_key(key('6'));
    // Enter opens it too; until the fetch answers, the pane says it is loading.
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::ReleaseHistory { name, .. }] if name == "shop"));
    let text = render(&mut a, 160, 30);
    assert!(text.contains("loading the release Secrets"), "{text}");
    // An answer for another release is ignored.
    a.on_msg(Msg::ReleaseHistory {
        namespace: "other".into(),
        name: "shop".into(),
        result: Err("nope".into()),
    });
    assert!(render(&mut a, 160, 30).contains("loading the release Secrets"));

    let mut a = app_with_history();
    let text = render(&mut a, 160, 30);
    for want in [
        "History shop/shop",
        "secrets masked",
        "2.2.0",
        "app-2.3.0",
        "✖ failed",
        "✔ deployed",
        "· superseded",
        "Upgrade to 2.3.1",
        "65m",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    insta::assert_snapshot!("release_history", text);
    // esc goes back to the releases.
    a.on_key(code(KeyCode::Esc));
    assert!(a.release_history.is_none());
    assert_eq!(a.screen, Screen::Releases);
    assert!(render(&mut a, 160, 30).contains("Releases (1)"));
}

#[test]
fn release_history_fetch_error_is_shown() {
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('h'));
    a.on_msg(Msg::ReleaseHistory {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Err("listing the release Secrets of shop/shop: forbidden".into()),
    });
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("✖ listing the release Secrets of shop/shop: forbidden"),
        "{text}"
    );
}

#[test]
fn release_diff_against_the_previous_revision_masks_secrets_until_revealed() {
    let mut a = app_with_history();
    // The cursor starts on the latest revision (3); v diffs it against 2.
    assert!(a.on_key(key('v')).is_empty());
    let text = render(&mut a, 160, 40);
    for want in [
        "Diff revision 2 → 3",
        "shop-2.3.0 → shop-2.3.1",
        "-replicas: 2",
        "+replicas: 3",
        "-image: shop:2.3.0",
        "+image: shop:2.3.1",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
    // The password is unchanged, so it shows as context, masked.
    assert!(text.contains("password: '****'"), "{text}");
    a.on_key(key('x'));
    let text = render(&mut a, 160, 40);
    assert!(
        text.contains("hunter2") && text.contains("secrets REVEALED"),
        "{text}"
    );
    a.on_key(key('x'));
    assert!(!render(&mut a, 160, 40).contains("hunter2"));

    // esc closes the diff, then k moves to revision 1: nothing before it.
    a.on_key(code(KeyCode::Esc));
    assert!(a.release_history.as_ref().unwrap().diff.is_none());
    a.on_key(key('k'));
    a.on_key(key('k'));
    a.on_key(key('k'));
    a.on_key(key('v'));
    assert!(a.release_history.as_ref().unwrap().diff.is_none());
    assert!(
        a.flash
            .as_ref()
            .unwrap()
            .text
            .contains("revision 1 is the first"),
        "{:?}",
        a.flash
    );
    a.on_key(key('j'));
    a.on_key(key('v'));
    let text = render(&mut a, 160, 40);
    assert!(
        text.contains("Diff revision 1 → 2") && text.contains("+replicas: 2"),
        "{text}"
    );
}

#[test]
fn release_diff_scrolls() {
    let mut a = app_with_history();
    a.on_key(key('v'));
    let top = render(&mut a, 160, 40);
    assert!(top.contains("--- values (revision 2)"), "{top}");
    a.on_key(key('j'));
    a.on_key(key('j'));
    let text = render(&mut a, 160, 40);
    assert!(!text.contains("--- values (revision 2)"), "{text}");
    assert_eq!(
        a.release_history
            .as_ref()
            .unwrap()
            .diff
            .as_ref()
            .unwrap()
            .scroll,
        2
    );
    // Scrolling stops at the last line.
    a.on_key(key('G'));
    let d = a.release_history.as_ref().unwrap().diff.clone().unwrap();
    assert_eq!(d.scroll, d.line_count() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_history_effect_reads_the_sandbox_release_secrets() {
    use helmdeck::sandbox::{Options, Sandbox};
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let msg = helmdeck::tui::run::release_history(&client, "mr-ee".into(), "ee".into()).await;
    let Msg::ReleaseHistory { result, .. } = msg else {
        panic!("{msg:?}");
    };
    let h = result.unwrap();
    let versions: Vec<&str> = h
        .revisions
        .iter()
        .map(|r| r.chart.metadata.version.as_str())
        .collect();
    assert_eq!(versions, ["1.2.0", "1.3.0", "1.4.0", "1.4.2"]);
    // The demo's revisions differ: 2 → 4 changes the image tags.
    let d = helmdeck::core::releases::history::diff(
        h.revision(2).unwrap(),
        h.revision(4).unwrap(),
        false,
    );
    assert!(
        d.manifest
            .iter()
            .any(|l| l.text == "+      - image: ghcr.io/mr-ee/router:3.4.1"),
        "{}",
        d.to_text()
    );
    assert!(!d.to_text().contains("pina_sandbox_token"));
    // A release that does not exist is an error the pane can show.
    let msg = helmdeck::tui::run::release_history(&client, "mr-ee".into(), "nope".into()).await;
    assert!(
        matches!(&msg, Msg::ReleaseHistory { result: Err(e), .. } if e.contains("no Helm release")),
        "{msg:?}"
    );
}

// ---- Topics: the view, partition-aware scaling, create --missing ----

use helmdeck::config::{Consumer, Platform};
use helmdeck::core::topics::{
    Created, GroupMeta, LagRules, NewTopicSpec, PartitionMeta, Snapshot, TopicMeta, TopicUpdate,
    TopicsState,
};

/// A platform of the fixture namespace: `web` reads shop-main, `checkout` reads
/// shop-pinterest; google-analytics is missing; redis is a reserved destination name.
fn shop_platform() -> Platform {
    Platform {
        prometheus: None,
        analysis: Default::default(),
        name: "shop".into(),
        namespace: "shop".into(),
        links: Default::default(),
        release: Some("shop".into()),
        topic_prefix: Some("shop-".into()),
        destinations: vec![
            "pinterest".into(),
            "google-analytics".into(),
            "redis".into(),
        ],
        custom_topics: vec![],
        consumers: vec![
            Consumer {
                workload: "deploy/web".into(),
                topics: vec!["shop-main".into()],
            },
            Consumer {
                workload: "deploy/checkout".into(),
                topics: vec!["shop-pinterest".into()],
            },
        ],
        kafka: None,
    }
}

/// A refresh `step` × 5 s after 10:04:50: shop-main (6 partitions) is read by `web`, which
/// keeps up; shop-pinterest (3 partitions, one offline) by `checkout`, which stopped
/// committing and has no members.
fn shop_snapshot(step: i64) -> Snapshot {
    let base: i64 = "2025-05-14T10:04:50Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let topic = |name: &str, n: i32, end: i64, offline: Option<i32>| TopicMeta {
        name: name.into(),
        partitions: (0..n)
            .map(|id| PartitionMeta {
                id,
                leader: if Some(id) == offline { -1 } else { 1 + id % 3 },
                replicas: 3,
                isr: if Some(id) == offline { 0 } else { 3 },
                log_end: Some(end),
            })
            .collect(),
        error: None,
    };
    let main_end = 1000 + 100 * step;
    let pin_end = 500 + 30 * step;
    let web = GroupMeta {
        name: "web".into(),
        state: "Stable".into(),
        members: 3,
        assigned: [("shop-main".to_string(), (0..6).collect())].into(),
        committed: (0..6)
            .map(|p| (("shop-main".to_string(), p), main_end - 5))
            .collect(),
    };
    let checkout = GroupMeta {
        name: "checkout".into(),
        state: "Empty".into(),
        members: 0,
        assigned: Default::default(),
        committed: (0..3)
            .map(|p| (("shop-pinterest".to_string(), p), 480))
            .collect(),
    };
    Snapshot {
        at_ms: base + step * 5_000,
        topics: [
            (
                "shop-main".to_string(),
                topic("shop-main", 6, main_end, None),
            ),
            (
                "shop-pinterest".to_string(),
                topic("shop-pinterest", 3, pin_end, Some(2)),
            ),
        ]
        .into(),
        groups: [("web".to_string(), web), ("checkout".to_string(), checkout)].into(),
        brokers: 3,
        notes: vec![],
    }
}

/// The fixture cluster with the shop platform's topics loaded (three refreshes).
fn topics_app(platform: Platform) -> App {
    let mut a = app();
    a.platforms = vec![platform.clone()];
    a.topics = Some(TopicsState::new(
        "kafka at broker:9092".into(),
        Some(platform),
        LagRules::default(),
    ));
    for step in 0..3 {
        a.on_msg(Msg::Topics(TopicUpdate::Snapshot(shop_snapshot(step))));
    }
    a
}

#[test]
fn topics_view_and_topic_drill_down_render() {
    let mut a = topics_app(shop_platform());
    a.on_key(key('7'));
    let text = render(&mut a, 160, 30);
    for want in [
        "Topics (2)",
        "kafka at broker:9092",
        "missing: shop-google-analytics",
        "shop-pinterest",
        "Consumer groups (2)",
        "c create missing topics",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    insta::assert_snapshot!("topics_with_data", text);
    // shop-main is first; j moves to shop-pinterest, enter drills into it.
    a.on_key(key('j'));
    a.on_key(code(KeyCode::Enter));
    assert_eq!(a.topic_detail.as_deref(), Some("shop-pinterest"));
    let text = render(&mut a, 160, 30);
    for want in [
        "shop-pinterest: 3 partitions",
        "1 offline",
        "checkout",
        "offline",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    insta::assert_snapshot!("topic_detail", text);
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.topic_detail, None);
}

/// Opens the scale dialog of deploy/checkout (3 replicas) and types `replicas`.
fn scale_checkout(a: &mut App, replicas: &str) -> Vec<Effect> {
    open_scale(a, "checkout");
    a.on_msg(Msg::ScalePlanned(Ok(ScaleInfo {
        current: 3,
        hpa: None,
    })));
    a.on_key(code(KeyCode::Backspace));
    type_str(a, replicas);
    a.on_key(code(KeyCode::Enter))
}

#[test]
fn scaling_a_consumer_past_its_partitions_is_refused_saying_why() {
    let mut a = topics_app(shop_platform());
    open_scale(&mut a, "checkout");
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("Kafka consumer (platform shop): reads shop-pinterest (3 partitions).")
            && text.contains("replicas beyond 3 would sit idle"),
        "{text}"
    );

    let mut a = topics_app(shop_platform());
    let effects = scale_checkout(&mut a, "5");
    assert!(effects.is_empty(), "refused: {effects:?}");
    match &a.mode {
        Mode::Dialog(Dialog::Scale {
            confirm_idle: Some(l),
            ..
        }) => {
            assert_eq!(
                (l.topic.as_str(), l.partitions, l.replicas, l.idle()),
                ("shop-pinterest", 3, 5, 2)
            );
        }
        other => panic!("no refusal: {other:?}"),
    }
    let text = render(&mut a, 160, 30);
    for want in [
        "✖ Refused: checkout reads shop-pinterest (3 partitions)",
        "A partition is read by one consumer of a group: the extra ones get no work.",
        "enter or y: scale anyway",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // Enter a second time overrides.
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::Scale { replicas: 5, .. }]),
        "{effects:?}"
    );

    // So does y.
    let mut a = topics_app(shop_platform());
    scale_checkout(&mut a, "5");
    let effects = a.on_key(key('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Scale { replicas: 5, .. }]),
        "{effects:?}"
    );

    // An edit withdraws the refusal; as many replicas as partitions need no override.
    let mut a = topics_app(shop_platform());
    scale_checkout(&mut a, "5");
    a.on_key(code(KeyCode::Backspace));
    assert!(
        a.on_key(key('y')).is_empty(),
        "y is no override after an edit"
    );
    type_str(&mut a, "3");
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(
        matches!(effects.as_slice(), [Effect::Scale { replicas: 3, .. }]),
        "{effects:?}"
    );
}

#[test]
fn an_hpa_maximum_past_the_partitions_is_refused_too() {
    // web reads shop-main (6 partitions) and is under an HPA.
    let mut a = topics_app(shop_platform());
    open_scale(&mut a, "web");
    a.on_msg(Msg::ScalePlanned(Ok(ScaleInfo {
        current: 3,
        hpa: Some(("web".into(), 2, 5)),
    })));
    a.on_key(code(KeyCode::Tab));
    a.on_key(code(KeyCode::Backspace));
    type_str(&mut a, "8");
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    assert!(
        render(&mut a, 160, 30).contains("web reads shop-main (6 partitions): 8 replicas"),
        "{}",
        render(&mut a, 160, 30)
    );
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::SetHpaRange { min: 2, max: 8, .. }]
        ),
        "{effects:?}"
    );
}

#[test]
fn unknown_partitions_are_said_and_do_not_block_scaling() {
    // The config names checkout as a consumer, but no topic data is loaded.
    let mut a = app();
    a.platforms = vec![shop_platform()];
    open_scale(&mut a, "checkout");
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("reads shop-pinterest (partitions unknown).")
            && text.contains("replicas are not checked"),
        "{text}"
    );
    let mut a = app();
    a.platforms = vec![shop_platform()];
    let effects = scale_checkout(&mut a, "5");
    assert!(
        matches!(effects.as_slice(), [Effect::Scale { replicas: 5, .. }]),
        "{effects:?}"
    );
}

#[test]
fn create_missing_topics_lists_them_and_y_emits_the_effect() {
    let mut a = topics_app(shop_platform());
    a.on_key(key('7'));
    assert!(a.on_key(key('c')).is_empty(), "nothing before confirming");
    let Mode::Dialog(Dialog::CreateTopics {
        topics, refused, ..
    }) = &a.mode
    else {
        panic!("no confirmation: {:?}", a.mode);
    };
    let want = vec![NewTopicSpec {
        name: "shop-google-analytics".into(),
        partitions: 3,
        replication_factor: 3,
    }];
    assert_eq!(topics, &want);
    assert_eq!(refused, &[("shop-redis".to_string(), "redis".to_string())]);
    let text = render(&mut a, 160, 30);
    for want in [
        "Create the missing topics of platform shop on kafka at broker:9092",
        "+ shop-google-analytics  (3 partitions, replication factor 3)",
        "Not created — reserved names",
        "✖ shop-redis",
        "y / enter: create    n / esc: cancel",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let effects = a.on_key(key('y'));
    assert_eq!(
        effects,
        vec![Effect::CreateTopics {
            topics: want,
            refused: vec!["shop-redis".into()],
        }]
    );
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.tasks.iter().any(|(w, _)| w == "create topics"));
    // The outcome is a status message.
    a.on_msg(Msg::TopicsCreated {
        result: Ok(vec![Created {
            name: "shop-google-analytics".into(),
            result: Ok(()),
        }]),
        refused: vec!["shop-redis".into()],
    });
    assert!(a.tasks.is_empty());
    let flash = a.flash.clone().unwrap();
    assert!(!flash.error);
    assert!(
        flash.text.contains("✔ created shop-google-analytics")
            && flash.text.contains("refused (reserved names): shop-redis"),
        "{flash:?}"
    );
    // A broker's refusal is an error message naming the topic and why.
    a.on_msg(Msg::TopicsCreated {
        result: Ok(vec![Created {
            name: "shop-google-analytics".into(),
            result: Err("Topic already exists".into()),
        }]),
        refused: vec![],
    });
    let flash = a.flash.clone().unwrap();
    assert!(
        flash.error
            && flash
                .text
                .contains("shop-google-analytics (Topic already exists)")
    );
}

#[test]
fn create_missing_topics_cancels_refuses_read_only_and_says_when_nothing_is_missing() {
    for cancel in [key('n'), code(KeyCode::Esc)] {
        let mut a = topics_app(shop_platform());
        a.on_key(key('7'));
        a.on_key(key('c'));
        assert!(matches!(a.mode, Mode::Dialog(Dialog::CreateTopics { .. })));
        assert!(a.on_key(cancel).is_empty());
        assert_eq!(a.mode, Mode::Normal);
        assert!(a.tasks.is_empty());
    }

    let mut a = topics_app(shop_platform());
    a.readonly = true;
    a.on_key(key('7'));
    assert!(a.on_key(key('c')).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    assert!(render(&mut a, 160, 30).contains("read-only: creating topics is disabled"));

    let mut p = shop_platform();
    p.destinations = vec!["pinterest".into()];
    let mut a = topics_app(p);
    a.on_key(key('7'));
    assert!(a.on_key(key('c')).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    assert!(
        render(&mut a, 160, 30)
            .contains("Nothing to create: no topic of the plan of shop is missing")
    );

    // The help of the Topics screen lists the key.
    a.on_key(key('?'));
    let text = render(&mut a, 160, 40);
    assert!(text.contains("Create the plan's missing topics"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_create_topics_effect_creates_on_the_simulated_source() {
    use helmdeck::sandbox::topics::SimulatedTopics;
    let source = std::sync::Arc::new(SimulatedTopics::synthetic(1, 3, 0));
    let spec = |name: &str| NewTopicSpec {
        name: name.into(),
        partitions: 3,
        replication_factor: 3,
    };
    let msgs = helmdeck::tui::run::create_topics(
        source,
        vec![spec("shop-google-analytics"), spec("topic-0000")],
        vec!["shop-redis".into()],
    )
    .await;
    let [
        Msg::TopicsCreated { result, refused },
        Msg::Topics(TopicUpdate::Snapshot(s)),
    ] = msgs.as_slice()
    else {
        panic!("{msgs:?}");
    };
    assert_eq!(refused, &["shop-redis".to_string()]);
    assert_eq!(
        result.as_ref().unwrap(),
        &vec![
            Created {
                name: "shop-google-analytics".into(),
                result: Ok(()),
            },
            Created {
                name: "topic-0000".into(),
                result: Err("topic already exists".into()),
            },
        ]
    );
    assert_eq!(s.topics["shop-google-analytics"].partitions.len(), 3);
}

// ---------------------------------------------------------------------------------------
// The upgrade wizard, rollback from the history, diff of any two revisions, backups
// ---------------------------------------------------------------------------------------

fn offers() -> Vec<helmdeck::core::releases::repo::VersionOffer> {
    use helmdeck::core::releases::repo::{IndexEntry, newer_versions};
    let entry = |v: &str| IndexEntry {
        name: "shop".into(),
        version: v.into(),
        app_version: format!("app-{v}"),
        ..Default::default()
    };
    let entries: Vec<IndexEntry> = ["2.3.1", "2.3.2", "2.4.0", "3.0.0", "3.1.0-rc.1"]
        .into_iter()
        .map(entry)
        .collect();
    newer_versions(&entries, "2.3.1", true).unwrap()
}

fn plan(
    checks: Vec<helmdeck::core::workflows::upgrade::Check>,
) -> helmdeck::core::workflows::upgrade::Plan {
    use helmdeck::core::release::ReleaseStatus;
    use helmdeck::core::releases::history::unified;
    use helmdeck::core::releases::repo::Jump;
    use helmdeck::core::workflows::driver::ChartSource;
    use helmdeck::core::workflows::upgrade::{Kind, Plan, Request, Settings, Target, ValuesSource};
    Plan {
        request: Request {
            release: "shop".into(),
            namespace: "shop".into(),
            target: Target::Version("2.4.0".into()),
            values: ValuesSource::Current,
            sets: vec![],
            repository: None,
            chart_reference: None,
            timeout: std::time::Duration::from_secs(60),
            auto_rollback: false,
            force: false,
            reason: String::new(),
            topics: None,
            settings: Settings {
                environment: None,
                analyses: Default::default(),
                backup_dir: "/b".into(),
                values_repo: "/v".into(),
                journal_dir: "/j".into(),
                secrets: Default::default(),
            },
        },
        kind: Kind::Upgrade,
        current: shop_revision(3, "2.3.1", ReleaseStatus::Deployed, 3),
        latest_revision: 3,
        latest_version: "2.3.1".into(),
        chart: ChartSource {
            name: "shop".into(),
            repository: "http://charts".into(),
            reference: "shop".into(),
        },
        to_version: "2.4.0".into(),
        to_app_version: "app-2.4.0".into(),
        jump: Some(Jump::Minor),
        changes: vec!["added: checkout v2".into()],
        values: serde_json::json!({"replicas": 4}),
        values_yaml: "replicas: 4\n".into(),
        values_diff: unified(
            "replicas: 3\n",
            "replicas: 4\n",
            "revision 3 values",
            "new values",
        ),
        plaintext_secrets: vec![],
        checks,
        images: Default::default(),
        workloads: vec![],
    }
}

fn pass(name: &str) -> helmdeck::core::workflows::upgrade::Check {
    helmdeck::core::workflows::upgrade::Check {
        name: name.into(),
        level: helmdeck::core::workflows::upgrade::CheckLevel::Pass,
        detail: "fine".into(),
        overridable: false,
    }
}

#[test]
fn upgrade_wizard_picks_a_version_reviews_and_runs_with_progress() {
    use helmdeck::core::cluster::WorkloadKind;
    use helmdeck::core::workflows::upgrade::{
        Ending, Event, Report, Step, StepState, Target, WorkloadProgress,
    };
    let mut a = app();
    a.on_key(key('6'));
    let effects = a.on_key(key('u'));
    assert_eq!(
        effects,
        vec![Effect::UpgradeVersions {
            namespace: "shop".into(),
            name: "shop".into()
        }]
    );
    assert!(render(&mut a, 140, 30).contains("reading the chart repository"));
    a.on_msg(Msg::UpgradeVersions {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(("2.3.1".into(), offers())),
    });
    let text = render(&mut a, 140, 30);
    // Newest first, pre-release marked, the cursor on the newest stable version of the
    // deployed major (2.4.0, not the MAJOR 3.0.0 above it).
    assert!(text.contains("deployed: 2.3.1"), "{text}");
    assert!(
        text.contains("3.1.0-rc.1") && text.contains("pre-release"),
        "{text}"
    );
    let cursor = text.lines().find(|l| l.contains('▶')).unwrap();
    assert!(
        cursor.contains("2.4.0") && cursor.contains("minor"),
        "{text}"
    );
    assert!(text.contains("2.3.1 → 2.4.0: minor"), "{text}");
    // The MAJOR is one key away.
    a.on_key(code(KeyCode::Up));
    let text = render(&mut a, 140, 30);
    assert!(
        text.contains("2.3.1 → 3.0.0: MAJOR — breaking changes possible"),
        "{text}"
    );
    a.on_key(code(KeyCode::Down));
    let effects = a.on_key(code(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::PrepareChange {
            namespace: "shop".into(),
            name: "shop".into(),
            target: Target::Version("2.4.0".into()),
            topics: None,
            values: None
        }]
    );

    // The review: headline, changelog, checks, the values diff.
    a.on_msg(Msg::ChangePlanned(Ok(Box::new(plan(vec![
        pass("release"),
        pass("lock"),
    ])))));
    let text = render(&mut a, 140, 30);
    for want in [
        "shop (shop): shop 2.3.1 → 2.4.0: minor — new features, backwards compatible",
        "added: checkout v2",
        "auto-rollback ON (a)",
        "✓ release",
        "-replicas: 3",
        "+replicas: 4",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    insta::assert_snapshot!("upgrade_review", text);
    a.on_key(key('a'));
    assert!(render(&mut a, 140, 30).contains("auto-rollback off (a)"));
    let effects = a.on_key(code(KeyCode::Enter));
    let [Effect::RunChange(p)] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert!(!p.request.auto_rollback);

    // Running: steps, progress bars, output.
    for ev in [
        Event::Step(Step::Lock, StepState::Done("held".into())),
        Event::Step(
            Step::Backup,
            StepState::Done("revision 3 → /b/x.tar.gz".into()),
        ),
        Event::Step(Step::Apply, StepState::Running("via helm".into())),
        Event::Output("Release \"shop\" has been upgraded.".into()),
        Event::Progress(vec![WorkloadProgress {
            kind: WorkloadKind::Deployment,
            name: "checkout".into(),
            ready: 1,
            desired: 2,
            message: "1 of 2 updated replicas ready".into(),
            converged: false,
        }]),
    ] {
        a.on_msg(Msg::ChangeEvent(ev));
    }
    let text = render(&mut a, 140, 30);
    for want in [
        "running",
        "✔ lock",
        "✔ backup",
        "◐ apply",
        "checkout",
        "[█████░░░░░] 1/2 ready",
        "has been upgraded",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // It cannot be closed half-way.
    a.on_key(code(KeyCode::Esc));
    assert!(a.upgrade.is_some());
    assert!(a.flash.as_ref().unwrap().text.contains("ends on its own"));

    // It failed; a rollback is offered and r prepares it.
    a.on_msg(Msg::ChangeEvent(Event::Finished(Report {
        ending: Ending::Failed("checkout 1/2 ready".into()),
        backup: None,
        commit: None,
        rollback_commit: None,
        offer_rollback_to: Some(3),
        warnings: vec![],
    })));
    let text = render(&mut a, 140, 30);
    assert!(
        text.contains("r roll back") && text.contains("✖ failed: checkout 1/2 ready"),
        "{text}"
    );
    assert!(a.flash.as_ref().unwrap().error);
    let effects = a.on_key(key('r'));
    assert_eq!(
        effects,
        vec![Effect::PrepareChange {
            namespace: "shop".into(),
            name: "shop".into(),
            target: Target::Revision(3),
            topics: None,
            values: None
        }]
    );
}

#[test]
fn a_blocked_plan_does_not_start_and_force_overrides_only_what_it_may() {
    use helmdeck::core::workflows::upgrade::{Check, CheckLevel};
    let fail = |name: &str, overridable: bool| Check {
        name: name.into(),
        level: CheckLevel::Fail,
        detail: format!("{name} is not right"),
        overridable,
    };
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('u'));
    a.on_msg(Msg::UpgradeVersions {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(("2.3.1".into(), offers())),
    });
    a.on_key(code(KeyCode::Enter));
    a.on_msg(Msg::ChangePlanned(Ok(Box::new(plan(vec![fail(
        "workloads",
        true,
    )])))));
    assert!(render(&mut a, 140, 30).contains("✗ workloads"));
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    let f = a.flash.clone().unwrap();
    assert!(
        f.error && f.text.contains("workloads is not right") && f.text.contains("f forces it"),
        "{f:?}"
    );
    a.on_key(key('f'));
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::RunChange(p)] if p.request.force));

    // A lock held elsewhere is never overridden.
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('u'));
    a.on_msg(Msg::UpgradeVersions {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(("2.3.1".into(), offers())),
    });
    a.on_key(code(KeyCode::Enter));
    a.on_msg(Msg::ChangePlanned(Ok(Box::new(plan(vec![fail(
        "lock", false,
    )])))));
    a.on_key(key('f'));
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    assert!(!a.flash.clone().unwrap().text.contains("f forces it"));
    // esc cancels: nothing changed.
    a.on_key(code(KeyCode::Esc));
    assert!(a.upgrade.is_none());
    assert_eq!(a.flash.clone().unwrap().text, "nothing changed");
}

#[test]
fn upgrade_and_rollback_are_refused_read_only() {
    let mut a = app();
    a.readonly = true;
    a.on_key(key('6'));
    assert!(a.on_key(key('u')).is_empty());
    assert!(a.flash.clone().unwrap().text.contains("read-only: upgrade"));
    assert!(a.upgrade.is_none());
}

#[test]
fn rollback_from_the_history_and_a_diff_of_any_two_revisions() {
    use helmdeck::core::workflows::upgrade::Target;
    let mut a = app_with_history();
    // Mark revision 1, move to 3, diff them.
    a.on_key(code(KeyCode::Up));
    a.on_key(code(KeyCode::Up));
    a.on_key(key(' '));
    assert!(a.flash.clone().unwrap().text.contains("revision 1 marked"));
    a.on_key(code(KeyCode::Down));
    a.on_key(code(KeyCode::Down));
    a.on_key(key('v'));
    let text = render(&mut a, 160, 40);
    assert!(text.contains("Diff revision 1 → 3"), "{text}");
    assert!(
        text.contains("+image: shop:2.3.1") && text.contains("-image: shop:2.2.0"),
        "{text}"
    );
    a.on_key(code(KeyCode::Esc));
    // r rolls back to the selected revision, through the review.
    a.on_key(code(KeyCode::Up));
    let effects = a.on_key(key('r'));
    assert_eq!(
        effects,
        vec![Effect::PrepareChange {
            namespace: "shop".into(),
            name: "shop".into(),
            target: Target::Revision(2),
            topics: None,
            values: None
        }]
    );
    assert!(render(&mut a, 160, 40).contains("preparing the rollback to revision 2"));
}

#[test]
fn backups_are_listed_and_unfinished_changes_are_shown() {
    use helmdeck::core::releases::backup::{BackupInfo, BackupManifest};
    use helmdeck::core::workflows::journal::{Journal, Operation};
    let mut a = app();
    a.on_key(key('6'));
    let effects = a.on_key(key('b'));
    assert_eq!(
        effects,
        vec![Effect::ListBackups {
            namespace: "shop".into(),
            name: "shop".into()
        }]
    );
    a.on_msg(Msg::Backups {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(vec![BackupInfo {
            path: "/backups/shop_shop_20250514T090000Z.tar.gz".into(),
            manifest: BackupManifest {
                format: 1,
                release: "shop".into(),
                namespace: "shop".into(),
                created: "2025-05-14T09:00:00Z".parse().unwrap(),
                helmdeck_version: "0.1.0".into(),
                chart: "shop".into(),
                chart_version: "2.3.1".into(),
                revision: 3,
                files: vec![],
            },
        }]),
    });
    let text = render(&mut a, 160, 20);
    assert!(text.contains("Backups of shop/shop"), "{text}");
    assert!(
        text.contains("2025-05-14 09:00:00 UTC")
            && text.contains("shop-2.3.1")
            && text.contains("shop_shop_20250514T090000Z.tar.gz"),
        "{text}"
    );
    a.on_key(code(KeyCode::Esc));
    assert!(a.backups.is_none());

    a.on_msg(Msg::Journals(Ok(vec![Journal {
        release: "shop".into(),
        namespace: "shop".into(),
        operation: Operation::Upgrade {
            to_version: "2.4.0".into(),
        },
        from_revision: 3,
        from_version: "2.3.1".into(),
        started: "2025-05-14T09:00:00Z".parse().unwrap(),
        updated: "2025-05-14T09:01:00Z".parse().unwrap(),
        step: "apply".into(),
        backup: None,
        commit: None,
        holder: "me".into(),
    }])));
    assert!(
        a.flash
            .clone()
            .unwrap()
            .text
            .contains("helmdeck recover shop -n shop")
    );
    let text = render(&mut a, 160, 20);
    assert!(
        text.contains(
            "⚠ unfinished: shop/shop: upgrade to 2.4.0 from revision 3 (2.3.1), stopped at apply"
        ),
        "{text}"
    );
}

#[test]
fn the_history_shows_the_values_repo_commits_with_their_outcomes() {
    use helmdeck::core::releases::values_repo::ValuesCommit;
    let mut a = app_with_history();
    let commit = |id: &str, summary: &str, note: Option<&str>| ValuesCommit {
        id: id.into(),
        summary: summary.into(),
        author: "Ada".into(),
        time: 1_747_213_200,
        note: note.map(str::to_string),
    };
    a.on_msg(Msg::ValuesLog {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(vec![
            commit(
                "1111111122",
                "shop (shop): shop 2.3.0 → 2.3.1 (patch)",
                Some("outcome: succeeded"),
            ),
            commit(
                "2222222233",
                "shop (shop): shop 2.2.0 → 2.3.0 (minor)",
                Some("outcome: rolled back: 1/2 ready"),
            ),
        ]),
    });
    let text = render(&mut a, 160, 30);
    assert!(text.contains("VALUES REPO"), "{text}");
    assert!(
        text.contains(
            "11111111 2025-05-14 09:00 shop (shop): shop 2.3.0 → 2.3.1 (patch) · outcome: succeeded"
        ),
        "{text}"
    );
    assert!(text.contains("outcome: rolled back: 1/2 ready"), "{text}");
    // Another release's log is not shown here.
    let mut b = app_with_history();
    b.on_msg(Msg::ValuesLog {
        namespace: "other".into(),
        name: "shop".into(),
        result: Ok(vec![commit("3333333344", "elsewhere", None)]),
    });
    assert!(!render(&mut b, 160, 30).contains("VALUES REPO"));
}

#[test]
fn values_edited_in_the_review_are_prepared_again_and_bad_ones_keep_the_review() {
    use helmdeck::core::workflows::upgrade::Target;
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('u'));
    a.on_msg(Msg::UpgradeVersions {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(("2.3.1".into(), offers())),
    });
    a.on_key(code(KeyCode::Down));
    a.on_key(code(KeyCode::Enter));
    a.on_msg(Msg::ChangePlanned(Ok(Box::new(plan(vec![pass(
        "release",
    )])))));
    // e opens the editor on the plan's values.
    assert_eq!(
        a.on_key(key('e')),
        vec![Effect::EditValues {
            yaml: "replicas: 4\n".into()
        }]
    );
    // Nothing changed in the editor: the review stays as it was.
    assert!(a.on_msg(Msg::ValuesEdited(Ok(None))).is_empty());
    assert_eq!(a.flash.clone().unwrap().text, "values unchanged");
    // Edited: prepared again with the new values.
    let effects = a.on_msg(Msg::ValuesEdited(Ok(Some("replicas: [\n".into()))));
    assert_eq!(
        effects,
        vec![Effect::PrepareChange {
            namespace: "shop".into(),
            name: "shop".into(),
            target: Target::Version("2.4.0".into()),
            topics: None,
            values: Some("replicas: [\n".into())
        }]
    );
    // Refused (invalid YAML): back to the review, with why; e opens the bad text again.
    a.on_msg(Msg::ChangePlanned(Err(
        "the values: invalid YAML: line 2, column 1: did not find expected node content".into(),
    )));
    let text = render(&mut a, 140, 30);
    assert!(text.contains("· review ·"), "{text}");
    let f = a.flash.clone().unwrap();
    assert!(
        f.error && f.text.contains("line 2, column 1") && f.text.contains("e edits them again"),
        "{f:?}"
    );
    assert_eq!(
        a.on_key(key('e')),
        vec![Effect::EditValues {
            yaml: "replicas: [\n".into()
        }]
    );
    // The editor failing is said, and nothing else happens.
    assert!(
        a.on_msg(Msg::ValuesEdited(Err(
            "cannot run the editor \"nope\"".into()
        )))
        .is_empty()
    );
    assert!(
        a.flash
            .clone()
            .unwrap()
            .text
            .contains("cannot run the editor")
    );
}

#[test]
fn n_and_shift_n_jump_between_log_lines_matching_the_search() {
    let mut a = app();
    a.on_key(key('4'));
    a.on_key(code(KeyCode::Enter));
    let mut lines: Vec<String> = (0..100).map(|i| format!("line {i} ok")).collect();
    lines[20] = "line 20 ERROR timeout".into();
    lines[60] = "line 60 ERROR refused".into();
    a.on_msg(Msg::LogLines(lines));
    a.on_key(key('/'));
    type_str(&mut a, "ERROR");
    a.on_key(code(KeyCode::Enter));
    // The pane is 10 lines tall: at the end, neither match shows.
    let text = render(&mut a, 120, 30);
    assert!(!text.contains("ERROR refused"), "{text}");
    // N: the newest older match comes to the bottom, following stops.
    a.on_key(key('N'));
    let text = render(&mut a, 120, 30);
    assert!(
        text.contains("line 60 ERROR refused") && text.contains("paused"),
        "{text}"
    );
    assert!(
        !text.contains("line 61 ok"),
        "the match is the bottom line:\n{text}"
    );
    a.on_key(key('N'));
    assert!(render(&mut a, 120, 30).contains("line 20 ERROR timeout"));
    // No older match: said, and the view stays.
    a.on_key(key('N'));
    assert!(
        a.flash
            .clone()
            .unwrap()
            .text
            .contains("no older line matches \"ERROR\"")
    );
    assert!(render(&mut a, 120, 30).contains("line 20 ERROR timeout"));
    // n goes back to the newer one.
    a.on_key(key('n'));
    assert!(render(&mut a, 120, 30).contains("line 60 ERROR refused"));
    a.on_key(key('n'));
    assert!(
        a.flash
            .clone()
            .unwrap()
            .text
            .contains("no newer line matches")
    );
}

#[test]
fn a_log_that_ended_is_followed_again_when_the_container_restarts() {
    let mut a = app();
    a.on_key(key('4'));
    a.on_key(code(KeyCode::Enter));
    let key_of = a.detail.as_ref().unwrap().key.clone();
    let mut row = a.state.pods.get(&key_of).cloned().unwrap();
    a.on_msg(Msg::LogLines(vec![
        "serving".into(),
        "fatal: out of memory".into(),
    ]));
    a.on_msg(Msg::LogEnded(None));
    assert!(render(&mut a, 160, 30).contains("it is followed again when the container restarts"));
    // The watch reports the restart: the new container's log is asked for, after a marker.
    row.status.restarts += 1;
    let effects = a.on_msg(Msg::Cluster(ClusterUpdate::Pods(vec![Change::Upsert(
        row.clone(),
    )])));
    assert!(
        effects.contains(&Effect::Logs {
            key: key_of.clone(),
            container: None,
            previous: false,
            timestamps: false
        }),
        "{effects:?}"
    );
    let d = a.detail.as_ref().unwrap();
    assert!(!d.log_ended);
    assert!(
        d.logs.back().unwrap().contains("the container restarted"),
        "{:?}",
        d.logs
    );
    // Another change without a restart does not reopen it.
    row.status.text = "Running".into();
    let effects = a.on_msg(Msg::Cluster(ClusterUpdate::Pods(vec![Change::Upsert(row)])));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Logs { .. })),
        "{effects:?}"
    );
}

#[test]
fn an_unfinished_change_is_verified_with_v_or_rolled_back_with_r() {
    use helmdeck::core::workflows::journal::{Journal, Operation};
    use helmdeck::core::workflows::upgrade::{Recovery, Target};
    let journal = Journal {
        release: "shop".into(),
        namespace: "shop".into(),
        operation: Operation::Upgrade {
            to_version: "2.4.0".into(),
        },
        from_revision: 3,
        from_version: "2.3.1".into(),
        started: "2025-05-14T09:00:00Z".parse().unwrap(),
        updated: "2025-05-14T09:01:00Z".parse().unwrap(),
        step: "apply".into(),
        backup: None,
        commit: None,
        holder: "me".into(),
    };
    let mut a = app();
    a.on_key(key('6'));
    // Nothing unfinished: said so.
    assert!(a.on_key(key('V')).is_empty());
    assert!(
        a.flash
            .clone()
            .unwrap()
            .text
            .contains("no unfinished change")
    );
    a.on_msg(Msg::Journals(Ok(vec![journal.clone()])));
    assert!(render(&mut a, 160, 20).contains("V verifies it, R rolls it back"));
    assert_eq!(
        a.on_key(key('V')),
        vec![Effect::RecoverVerify {
            namespace: "shop".into(),
            name: "shop".into()
        }]
    );
    // Not at its target: the banner stays and R is suggested.
    let recovery = |verified| Recovery {
        journal: journal.clone(),
        now: "revision 4 pending-upgrade (shop 2.4.0)".into(),
        verified,
        nothing_applied: false,
        target: "2.4.0".into(),
    };
    a.on_msg(Msg::Recovered {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(recovery(false)),
    });
    assert!(
        a.flash
            .clone()
            .unwrap()
            .text
            .contains("R rolls it back to revision 3")
    );
    assert_eq!(a.journals.len(), 1);
    // R gives it up, then the rollback to where it started is prepared for review.
    assert_eq!(
        a.on_key(key('R')),
        vec![Effect::RecoverRollback {
            namespace: "shop".into(),
            name: "shop".into()
        }]
    );
    let effects = a.on_msg(Msg::JournalAbandoned {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(Ok(3)),
    });
    assert_eq!(
        effects,
        vec![Effect::PrepareChange {
            namespace: "shop".into(),
            name: "shop".into(),
            target: Target::Revision(3),
            topics: None,
            values: None
        }]
    );
    assert!(a.journals.is_empty());
    // A verified one closes its banner.
    let mut b = app();
    b.on_key(key('6'));
    b.on_msg(Msg::Journals(Ok(vec![journal.clone()])));
    b.on_msg(Msg::Recovered {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(recovery(true)),
    });
    assert!(b.journals.is_empty());
    assert!(b.flash.clone().unwrap().text.starts_with("verified"));
    assert!(!render(&mut b, 160, 20).contains("unfinished"));
}

#[test]
fn an_unfinished_change_that_applied_nothing_is_closed_by_r_without_a_rollback() {
    use helmdeck::core::workflows::journal::{Journal, Operation};
    let journal = Journal {
        release: "shop".into(),
        namespace: "shop".into(),
        operation: Operation::Upgrade {
            to_version: "2.4.0".into(),
        },
        from_revision: 3,
        from_version: "2.3.1".into(),
        started: "2025-05-14T09:00:00Z".parse().unwrap(),
        updated: "2025-05-14T09:01:00Z".parse().unwrap(),
        step: "backup".into(),
        backup: None,
        commit: None,
        holder: "me".into(),
    };
    let mut a = app();
    a.on_key(key('6'));
    a.on_msg(Msg::Journals(Ok(vec![journal])));
    assert_eq!(
        a.on_key(key('R')),
        vec![Effect::RecoverRollback {
            namespace: "shop".into(),
            name: "shop".into()
        }]
    );
    let effects = a.on_msg(Msg::JournalAbandoned {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(Err(
            "interrupted at backup before anything was applied: nothing changed; the lock is free"
                .into(),
        )),
    });
    assert!(effects.is_empty(), "no rollback is prepared: {effects:?}");
    assert!(a.journals.is_empty());
    let flash = a.flash.clone().unwrap();
    assert!(!flash.error);
    assert!(
        flash
            .text
            .contains("closed: shop/shop interrupted at backup before anything was applied"),
        "{}",
        flash.text
    );
}

/// A failure's cause is read whole in the run view at 80×24: the step's text wrapped (no `…`
/// cut), every line of the diagnosis reachable with j.
#[test]
fn a_failed_change_shows_its_whole_cause_wrapped_and_scrolls() {
    use helmdeck::core::workflows::upgrade::{Ending, Event, Report, Step, StepState};
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('u'));
    a.on_msg(Msg::UpgradeVersions {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(("2.3.1".into(), offers())),
    });
    a.on_key(code(KeyCode::Down));
    a.on_key(code(KeyCode::Enter));
    a.on_msg(Msg::ChangePlanned(Ok(Box::new(plan(vec![pass(
        "release",
    )])))));
    a.on_key(code(KeyCode::Enter));
    let why = "judged failed without waiting out the 300 s timeout: 1 new pod broken: \
               checkout-7c9f-abcde CrashLoopBackOff (exit code 1, 3 restarts)\n  \
               checkout-7c9f-abcde: Warning BackOff: Back-off restarting failed container\n  \
               checkout-7c9f-abcde [checkout] last log lines:\n    \
               2026-11-30T10:00:01Z ERROR failed to connect to db:5432: connection refused\n    \
               2026-11-30T10:00:02Z FATAL checkout: giving up after 3 attempts; exiting with code 1";
    for ev in [
        Event::Step(Step::Lock, StepState::Done("held".into())),
        Event::Step(Step::Apply, StepState::Failed(why.into())),
        Event::Step(Step::Rollback, StepState::Done("back on 2.3.1".into())),
    ] {
        a.on_msg(Msg::ChangeEvent(ev));
    }
    for i in 0..30 {
        a.on_msg(Msg::ChangeEvent(Event::Output(format!("output line {i}"))));
    }
    a.on_msg(Msg::ChangeEvent(Event::Finished(Report {
        ending: Ending::RolledBack(why.into()),
        backup: None,
        commit: None,
        rollback_commit: None,
        offer_rollback_to: None,
        warnings: vec![],
    })));
    let text = render(&mut a, 80, 24);
    assert!(text.contains("j/k scroll"), "{text}");
    assert!(!text.contains('…'), "a line was cut:\n{text}");
    for want in [
        "checkout-7c9f-abcde CrashLoopBackOff (exit code 1, 3",
        "Warning BackOff: Back-off restarting failed",
        "FATAL checkout: giving up after 3",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // The rest (the ending, the output) is below: j scrolls down to it.
    assert!(!text.contains("output line 29"), "{text}");
    for _ in 0..40 {
        a.on_key(key('j'));
    }
    let text = render(&mut a, 80, 24);
    assert!(text.contains("output line 29"), "{text}");
    // The status line says the ending in one line.
    let flash = a.flash.clone().unwrap();
    assert!(!flash.text.contains('\n'), "{}", flash.text);
}

// ---- The console at every size of terminal (issue #12) ----

/// A pod from a fixture with its name, age and status changed by `edit`.
fn pod_from(
    fixture_name: &str,
    name: &str,
    created: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> PodRow {
    let mut v: serde_json::Value = fixture(&format!("pods/{fixture_name}.json"));
    v["metadata"]["name"] = name.into();
    v["metadata"]["creationTimestamp"] = created.into();
    edit(&mut v);
    PodRow::from_pod(&serde_json::from_value(v).unwrap())
}

/// The reference STATUS cases of kubectl's and k9s's printers that are long, each with the
/// STATUS kubectl prints for it.
fn reference_status_pods() -> Vec<(PodRow, &'static str)> {
    let waiting = |reason: &'static str| {
        move |v: &mut serde_json::Value| {
            v["status"]["containerStatuses"][0]["ready"] = false.into();
            v["status"]["containerStatuses"][0]["state"] =
                serde_json::json!({"waiting": {"reason": reason}});
        }
    };
    let init_waiting = |reason: &'static str| {
        move |v: &mut serde_json::Value| {
            v["status"]["initContainerStatuses"][0]["state"] =
                serde_json::json!({"waiting": {"reason": reason}});
        }
    };
    vec![
        (
            pod_from(
                "init-crashloopbackoff",
                "checkout-init-crashloop-5f7c9",
                "2025-05-14T10:47:30Z",
                |_| {},
            ),
            "Init:CrashLoopBackOff",
        ),
        (
            pod_from(
                "init-crashloopbackoff",
                "checkout-init-pull-5f7c9",
                "2025-05-09T07:50:00Z",
                init_waiting("ImagePullBackOff"),
            ),
            "Init:ImagePullBackOff",
        ),
        (
            pod_from(
                "init-crashloopbackoff",
                "checkout-init-killed-5f7c9",
                "2025-05-14T07:30:00Z",
                |v| {
                    v["status"]["initContainerStatuses"][0]["state"] =
                        serde_json::json!({"terminated": {"exitCode": 137}});
                },
            ),
            "Init:ExitCode:137",
        ),
        (
            pod_from(
                "running-ready",
                "payments-config-missing-8c4d2",
                "2025-05-14T10:05:00Z",
                waiting("CreateContainerConfigError"),
            ),
            "CreateContainerConfigError",
        ),
        (
            pod_from(
                "running-ready",
                "payments-never-pull-8c4d2",
                "2025-03-01T10:05:00Z",
                waiting("ErrImageNeverPull"),
            ),
            "ErrImageNeverPull",
        ),
        (
            pod_from(
                "running-ready",
                "payments-lost-node-8c4d2",
                "2023-01-01T00:00:00Z",
                |v| {
                    v["status"]["phase"] = "Failed".into();
                    v["status"]["containerStatuses"][0]["ready"] = false.into();
                    v["status"]["containerStatuses"][0]["state"] = serde_json::json!(
                        {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"}}
                    );
                },
            ),
            "ContainerStatusUnknown",
        ),
        (
            pod_from(
                "terminating",
                "payments-terminating-8c4d2",
                "2025-05-14T10:49:50Z",
                |_| {},
            ),
            "Terminating",
        ),
    ]
}

/// The trouble scenario's incidents from fixtures (a crash loop, an image that cannot be
/// pulled, an OOM-killed pod, a NotReady cordoned node…), the long reference STATUS cases
/// (created 2m30s, 3h20m, 45m, 5d3h… before "now"), and metrics with long figures
/// (`2509Mi`).
fn trouble_app() -> App {
    let mut a = app();
    // After the fixtures' events (the last at 10:45), so none is in the future.
    a.now = "2025-05-14T10:50:00Z".parse().unwrap();
    let mut pods: Vec<PodRow> = a.state.pods.values().cloned().collect();
    pods.extend(reference_status_pods().into_iter().map(|(p, _)| p));
    let mut usage = std::collections::BTreeMap::new();
    for (i, p) in pods.iter().enumerate() {
        usage.insert(
            (p.namespace.clone(), p.name.clone()),
            helmdeck::core::cluster::Usage {
                cpu_millis: 1250 + i as u64 * 7,
                memory_bytes: 2509 * 1024 * 1024 + i as u64,
            },
        );
    }
    let nodes = a
        .state
        .nodes
        .keys()
        .map(|n| {
            (
                n.clone(),
                helmdeck::core::cluster::Usage {
                    cpu_millis: 7350,
                    memory_bytes: 25_090 * 1024 * 1024,
                },
            )
        })
        .collect();
    a.state
        .apply(ClusterUpdate::Pods(vec![Change::Reset(pods)]));
    a.state.apply(ClusterUpdate::Metrics { pods: usage, nodes });
    a
}

/// A rendered line with the border and selection marks blanked, padded with spaces, so a
/// cell can be looked up as ` text `.
fn bare(line: &str) -> String {
    format!(" {} ", line.replace(['│', '▶'], " "))
}

/// The columns whose values are never cut (shown whole or not at all): statuses, figures
/// with their units, ages.
const WHOLE: [&str; 14] = [
    "STATUS",
    "HEALTH",
    "READY",
    "RESTARTS",
    "CPU",
    "CPU%",
    "MEM",
    "MEM%",
    "AGE",
    "LAST SEEN",
    "UPDATED",
    "COUNT",
    "REVISION",
    "REASON",
];

/// The columns a screen always shows, at any width.
fn essential(screen: Screen) -> &'static [&'static str] {
    match screen {
        Screen::Pods => &["NAME", "READY", "STATUS"],
        Screen::Nodes => &["NAME", "STATUS"],
        Screen::Workloads => &["NAME", "READY", "HEALTH"],
        Screen::Events => &["REASON", "MESSAGE"],
        Screen::Releases => &["NAME", "STATUS"],
        _ => &[],
    }
}

/// Every table row on screen shows its STATUS (and every other column of [`WHOLE`]) whole,
/// or the column is not shown at all (never STATUS); any other column is whole or ends in
/// `…`. Returns the rendered screen.
fn assert_nothing_cut(a: &mut App, w: u16, h: u16) -> String {
    use helmdeck::tui::views::tables;
    let text = render(a, w, h);
    let lines: Vec<&str> = text.lines().collect();
    let screen = a.screen;
    let cols = tables::columns(screen, a.namespace.is_some());
    let first = essential(screen)[0];
    let header = (1..lines.len())
        .find(|&y| bare(lines[y]).contains(&format!(" {first} ")))
        .unwrap_or_else(|| panic!("no table header at {w}x{h}:\n{text}"));
    let titles = bare(lines[header]);
    for title in essential(screen) {
        assert!(
            titles.contains(&format!(" {title} ")),
            "{screen:?} column {title} missing at {w}x{h}:\n{text}"
        );
    }
    let rows = a.visible_rows(0, a.page);
    assert!(!rows.is_empty(), "{text}");
    let pods_per_node = tables::pods_per_node(&a.state);
    let releases = a.state.releases();
    let ctx = tables::RowCtx {
        state: &a.state,
        now: a.now,
        theme: &a.theme,
        pods_per_node: &pods_per_node,
        releases: &releases,
        backups: None,
    };
    for (k, r) in rows.iter().enumerate() {
        let cells = tables::row(&ctx, r);
        let line = bare(lines[header + 1 + k]);
        for c in &cols {
            let value = &cells[c.cell].text;
            if value.is_empty()
                || !titles.contains(&format!(" {} ", c.title))
                || line.contains(&format!(" {value} "))
            {
                continue;
            }
            assert!(
                !WHOLE.contains(&c.title),
                "{screen:?} {} `{value}` cut at {w}x{h}:\n{text}",
                c.title
            );
            // Cut: a start of the value, then `…`.
            let chars: Vec<char> = value.chars().collect();
            let marked = (1..chars.len()).any(|n| {
                let start: String = chars[..n].iter().collect();
                line.contains(&format!(" {start}… "))
            });
            assert!(
                marked,
                "{screen:?} {} `{value}` cut without a mark at {w}x{h}:\n{text}",
                c.title
            );
        }
    }
    text
}

const SCREENS: [(Screen, char); 7] = [
    (Screen::Overview, '1'),
    (Screen::Nodes, '2'),
    (Screen::Workloads, '3'),
    (Screen::Pods, '4'),
    (Screen::Events, '5'),
    (Screen::Releases, '6'),
    (Screen::Topics, '7'),
];

#[test]
fn every_screen_of_the_trouble_data_at_80x24_and_200x50_cuts_no_status_and_no_unit() {
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        for (screen, k) in SCREENS {
            let mut a = trouble_app();
            a.on_key(key(k));
            assert_eq!(a.screen, screen);
            let text = if matches!(screen, Screen::Overview | Screen::Topics) {
                render(&mut a, w, h)
            } else {
                assert_nothing_cut(&mut a, w, h)
            };
            // The tab bar fits: every tab's number is on the first line.
            let bar = text.lines().next().unwrap();
            for i in 1..=7 {
                assert!(bar.contains(&format!(" {i}")), "tab {i} missing: {bar}");
            }
            insta::assert_snapshot!(format!("trouble_{screen:?}_{w}x{h}").to_lowercase(), text);
        }
    }
}

#[test]
fn the_long_reference_statuses_are_whole_at_80_columns() {
    let cases = reference_status_pods();
    for (pod, want) in &cases {
        assert_eq!(pod.status.text, *want, "{}", pod.name);
    }
    // All namespaces, one namespace, and filtered to the case alone.
    let mut a = trouble_app();
    a.on_key(key('4'));
    let text = assert_nothing_cut(&mut a, 80, 24);
    for (pod, want) in &cases {
        assert!(
            text.lines()
                .any(|l| bare(l).contains(&format!(" {want} ")) && l.contains(&pod.name[..12])),
            "{want} of {} cut at 80x24:\n{text}",
            pod.name
        );
    }
    let mut a = trouble_app();
    a.namespace = Some(cases[3].0.namespace.clone());
    a.on_key(key('4'));
    let text = assert_nothing_cut(&mut a, 80, 24);
    assert!(!text.contains("NAMESPACE"), "{text}");
    for (_, want) in &cases {
        let mut a = trouble_app();
        a.on_key(key('4'));
        a.on_key(key('/'));
        type_str(&mut a, want);
        a.on_key(code(KeyCode::Enter));
        let text = assert_nothing_cut(&mut a, 80, 24);
        assert!(text.contains(want), "{want}:\n{text}");
    }
}

#[test]
fn columns_give_way_by_priority_and_name_shortens_with_an_ellipsis() {
    let mut a = trouble_app();
    a.on_key(key('4'));
    let narrow = render(&mut a, 80, 24);
    let header = narrow.lines().find(|l| l.contains(" STATUS ")).unwrap();
    // The columns that matter stay; NODE gives way first.
    for title in ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] {
        assert!(
            bare(header).contains(&format!(" {title} ")),
            "{title}: {header}"
        );
    }
    assert!(!header.contains("NODE"), "{header}");
    // Some long name is shortened, with a mark.
    assert!(narrow.contains('…'), "{narrow}");
    // At 200 columns everything is shown and NAME is no wider than its longest value.
    let wide = render(&mut a, 200, 50);
    let header = wide.lines().find(|l| l.contains(" STATUS ")).unwrap();
    for title in [
        "NAMESPACE",
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "CPU",
        "MEM",
        "NODE",
        "AGE",
    ] {
        assert!(
            bare(header).contains(&format!(" {title} ")),
            "{title}: {header}"
        );
    }
    let longest = a
        .state
        .pods
        .values()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap();
    let name_at = header.find("NAME ").unwrap();
    let ready_at = header.find("READY").unwrap();
    let name_width = header[name_at..ready_at].chars().count() - 1;
    assert_eq!(name_width, longest.max(4), "{header}");
}

#[test]
fn ages_and_restarts_read_like_kubectl() {
    let mut a = trouble_app();
    a.on_key(key('4'));
    let text = render(&mut a, 200, 50);
    // Created 2m30s, 5d3h, 3h20m, 45m and 10s before "now"; the back-off event 7m50s ago.
    for age in [" 2m30s ", " 5d3h ", " 3h20m ", " 45m ", " 10s "] {
        assert!(text.contains(age), "{age}:\n{text}");
    }
    a.on_key(key('5'));
    let text = render(&mut a, 200, 50);
    assert!(text.contains(" 7m50s"), "{text}");
}

/// The trouble scenario itself, live on the in-process sandbox: once the crash loop and the
/// failed image pull show, every table screen at 80×24 and 200×50 shows every STATUS and
/// every figure whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_trouble_scenario_cuts_no_status_and_no_unit() {
    use helmdeck::core::cluster::watch::spawn_watches;
    use helmdeck::sandbox::{Options, Sandbox};
    let sb = Sandbox::start(Options {
        scenario: "trouble".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let _watches = spawn_watches(client, None, tx);
    let mut state = ClusterState::default();
    let seen = |s: &ClusterState| {
        let has = |t: &str| s.pods.values().any(|p| p.status.text.contains(t));
        has("CrashLoopBackOff") && (has("ImagePullBackOff") || has("ErrImagePull"))
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    while !seen(&state) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) => state.apply(u),
            other => panic!(
                "no crash loop and failed pull yet ({other:?}): {:?}",
                state
                    .pods
                    .values()
                    .map(|p| &p.status.text)
                    .collect::<Vec<_>>()
            ),
        }
    }
    // What has arrived meanwhile (metrics among it).
    while let Ok(u) = rx.try_recv() {
        state.apply(u);
    }
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        for (screen, k) in SCREENS {
            if matches!(screen, Screen::Overview | Screen::Topics) {
                continue;
            }
            let mut a = App::new(
                KeyMap::default(),
                Theme::default(),
                "sandbox".into(),
                None,
                false,
            );
            a.state = state.clone();
            a.now = jiff::Timestamp::now();
            a.on_key(key(k));
            assert_eq!(a.screen, screen);
            assert_nothing_cut(&mut a, w, h);
        }
    }
}

#[test]
fn the_tab_bar_fits_with_a_long_context_read_only_at_80_columns() {
    let mut a = trouble_app();
    a.context = "arn:aws:eks:eu-west-1:123456789012:cluster/platform-production".into();
    a.readonly = true;
    for (_, k) in SCREENS {
        a.on_key(key(k));
        let text = render(&mut a, 80, 24);
        let bar = text.lines().next().unwrap();
        assert!(bar.contains("[READ-ONLY]"), "{bar}");
        assert!(
            bar.contains(" ctx:arn:aws:eks") && bar.contains('…'),
            "{bar}"
        );
        for i in 1..=7 {
            assert!(bar.contains(&format!(" {i}")), "tab {i} missing: {bar}");
        }
        // The last tab is whole: its closing space fits too.
        assert!(bar.ends_with("7 ") || bar.ends_with("7:Topics "), "{bar}");
        assert_eq!(bar.chars().count(), 80, "{bar}");
    }
    // Wide enough, every tab has its whole title and the context is whole.
    let text = render(&mut a, 200, 50);
    let bar = text.lines().next().unwrap();
    assert!(bar.contains("cluster/platform-production"), "{bar}");
    assert!(
        bar.contains(" 1:Overview ") && bar.contains(" 7:Topics "),
        "{bar}"
    );
}
