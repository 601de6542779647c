//! What an on-call engineer relies on at 3 a.m. (issue #12), on ratatui's TestBackend: a help
//! that scrolls and lists only keys that act, a wizard that starts on the safe version, a
//! rollback called a rollback, `:ns` that refuses a namespace that does not exist, a jump
//! that does not leave its namespace behind, a revision mark that shows, a light theme
//! that brings its background.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use helmdeck::core::cluster::{
    Change, ClusterState, ClusterUpdate, EventRow, NodeRow, PodRow, ReleaseRevision, WorkloadKind,
    WorkloadRow,
};
use helmdeck::tui::app::{App, Effect, Mode, Msg, ScaleInfo};
use helmdeck::tui::keymap::{Action, KeyMap, Screen};
use helmdeck::tui::theme::Theme;
mod common;
use common::tui::{code, draw, fixture, key, screen as render};

/// A small cluster from the fixtures: pods, nodes, workloads of two namespaces, events and
/// the release `shop/shop`.
fn state() -> ClusterState {
    let mut s = ClusterState::default();
    let pods: Vec<PodRow> = ["running-ready", "crashloopbackoff", "oomkilled"]
        .iter()
        .map(|p| PodRow::from_pod(&fixture(&format!("pods/{p}.json"))))
        .collect();
    s.apply(ClusterUpdate::Pods(vec![Change::Reset(pods)]));
    let nodes: Vec<NodeRow> = ["ready", "notready-cordoned"]
        .iter()
        .map(|n| NodeRow::from_node(&fixture(&format!("nodes/{n}.json"))))
        .collect();
    s.apply(ClusterUpdate::Nodes(vec![Change::Reset(nodes)]));
    let deploys: Vec<WorkloadRow> = ["deployment-healthy", "deployment-degraded"]
        .iter()
        .map(|d| WorkloadRow::from_deployment(&fixture(&format!("workloads/{d}.json"))))
        .collect();
    s.apply(ClusterUpdate::Workloads(
        WorkloadKind::Deployment,
        vec![Change::Reset(deploys)],
    ));
    s.apply(ClusterUpdate::Workloads(
        WorkloadKind::DaemonSet,
        vec![Change::Reset(vec![WorkloadRow::from_daemonset(&fixture(
            "workloads/daemonset-healthy.json",
        ))])],
    ));
    let events: Vec<EventRow> = ["backoff-warning"]
        .iter()
        .map(|e| EventRow::from_event(&fixture(&format!("events/{e}.json"))))
        .collect();
    s.apply(ClusterUpdate::Events(vec![Change::Reset(events)]));
    s.apply(ClusterUpdate::Releases(vec![Change::Reset(vec![
        ReleaseRevision::from_secret(&fixture("releases/secret-shop-v3.json")),
    ])]));
    s
}

fn app_with(theme: Theme) -> App {
    let mut a = App::new(KeyMap::default(), theme, "fixture".into(), None, false);
    a.state = state();
    a.now = "2025-05-14T10:05:00Z".parse().unwrap();
    a
}

fn app() -> App {
    app_with(Theme::default())
}

fn command(a: &mut App, line: &str) -> Vec<Effect> {
    a.on_key(key(':'));
    for c in line.chars() {
        a.on_key(key(c));
    }
    a.on_key(code(KeyCode::Enter))
}

fn flash(a: &App) -> String {
    a.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default()
}

// ---- `?`: it scrolls, and lists only what acts ----

#[test]
fn help_at_80x24_reaches_the_last_key_of_the_releases_screen() {
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('?'));
    assert_eq!(a.mode, Mode::Help);
    let listed = a.keymap.bindings_for(Screen::Releases);
    let (last_key, _, last_desc) = listed.last().unwrap().clone();
    let text = render(&mut a, 80, 24);
    assert!(text.contains("Keys — Releases"), "{text}");
    // Too long for 24 lines: the title says which lines show, the last key is below.
    assert!(text.contains("of "), "{text}");
    assert!(!text.contains(last_desc), "{text}");

    // G goes to the end: the last command and the overlays' keys.
    a.on_key(key('G'));
    let text = render(&mut a, 80, 24);
    assert!(text.contains(":q"), "{text}");
    assert!(text.contains("in overlays:"), "{text}");
    for (overlay, keys) in helmdeck::tui::app::OVERLAY_KEYS {
        let line = text
            .lines()
            .find(|l| l.contains(keys))
            .unwrap_or_else(|| panic!("{keys} not shown whole:\n{text}"));
        assert!(line.contains(overlay), "{text}");
    }
    assert!(
        text.contains("p promotes the release under the cursor"),
        "{text}"
    );
    // The last key is reached scrolling back up.
    let mut seen = None;
    for _ in 0..listed.len() {
        let text = render(&mut a, 80, 24);
        if let Some(line) = text.lines().find(|l| l.contains(last_desc)) {
            seen = Some(line.to_string());
            break;
        }
        a.on_key(key('k'));
    }
    let line = seen.unwrap_or_else(|| panic!("{last_desc} not reached"));
    assert!(line.contains(&last_key), "{line}");
    // Every description is whole at 80 columns.
    for (_, _, desc) in &listed {
        a.help_scroll = 0;
        let mut seen = false;
        for _ in 0..listed.len() {
            if render(&mut a, 80, 24).contains(desc) {
                seen = true;
                break;
            }
            a.on_key(key('j'));
        }
        assert!(seen, "{desc} never shown whole at 80x24");
    }

    // g back to the top, k does not go above it, esc closes.
    a.on_key(key('g'));
    assert_eq!(a.help_scroll, 0);
    a.on_key(key('k'));
    assert_eq!(a.help_scroll, 0);
    a.on_key(code(KeyCode::PageDown));
    assert!(a.help_scroll > 0);
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.mode, Mode::Normal);
    // Opened again, it starts at the top.
    a.on_key(key('?'));
    assert_eq!(a.help_scroll, 0);
}

#[test]
fn help_lists_no_key_that_answers_not_available_here() {
    let descs = |screen: Screen| -> Vec<&'static str> {
        KeyMap::default()
            .bindings_for(screen)
            .into_iter()
            .map(|(_, _, d)| d)
            .collect()
    };
    // What the issue saw listed where it does nothing.
    for screen in [
        Screen::Nodes,
        Screen::Releases,
        Screen::Overview,
        Screen::Topics,
    ] {
        let listed = descs(screen);
        for gone in ["Refresh", "Delete the selection"] {
            assert!(!listed.contains(&gone), "{gone} listed on {screen}");
        }
        // Every kind listed is described (`i` on nodes, where `d` drains); nothing on the
        // Overview or Topics is.
        assert_eq!(
            listed.contains(&"Describe the selection"),
            matches!(screen, Screen::Nodes | Screen::Releases),
            "{screen}"
        );
    }
    assert!(!descs(Screen::PodDetail).contains(&"Show/hide secret values"));
    assert!(descs(Screen::Releases).contains(&"Show/hide secret values"));
    assert!(descs(Screen::Pods).contains(&"Describe the selection"));
    assert!(descs(Screen::Nodes).contains(&"Drain the node"));

    // On every screen, every listed action acts; every other one says it is not available.
    for screen in Screen::ALL {
        let listed: Vec<Action> = KeyMap::default()
            .bindings_for(screen)
            .into_iter()
            .map(|(_, a, _)| a)
            .collect();
        for action in Action::ALL {
            let mut a = app();
            a.screen = screen;
            a.on_action(action);
            let said = flash(&a);
            let unavailable = said.contains("not available here") || said.contains("nothing to");
            if listed.contains(&action) {
                assert!(
                    !unavailable,
                    "{action} is listed on {screen} but says {said:?}"
                );
            } else {
                assert!(
                    unavailable || action == Action::Help,
                    "{action} acts on {screen} ({said:?}) but help does not list it"
                );
            }
        }
    }
}

// ---- The upgrade wizard ----

fn offers(versions: &[&str], current: &str) -> Vec<helmdeck::core::releases::repo::VersionOffer> {
    use helmdeck::core::releases::repo::{IndexEntry, newer_versions};
    let entries: Vec<IndexEntry> = versions
        .iter()
        .map(|v| IndexEntry {
            name: "shop".into(),
            version: v.to_string(),
            app_version: format!("app-{v}"),
            ..Default::default()
        })
        .collect();
    newer_versions(&entries, current, true).unwrap()
}

#[test]
fn the_wizard_starts_on_the_newest_version_of_the_deployed_major() {
    use helmdeck::tui::upgrade::first_choice;
    let chosen = |versions: &[&str], current: &str| {
        let o = offers(versions, current);
        o[first_choice(&o)].version.to_string()
    };
    // A MAJOR and a pre-release above: the newest minor of 2.x.
    assert_eq!(
        chosen(&["2.3.1", "2.3.2", "2.4.0", "3.0.0", "3.1.0-rc.1"], "2.3.1"),
        "2.4.0"
    );
    // Only a patch of the same major.
    assert_eq!(chosen(&["2.3.1", "2.3.2", "4.0.0"], "2.3.1"), "2.3.2");
    // Nothing but MAJORs: the newest stable one.
    assert_eq!(chosen(&["2.3.1", "3.0.0", "3.1.0"], "2.3.1"), "3.1.0");

    // Through the console: the cursor line is 2.4.0, and enter prepares 2.4.0.
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('u'));
    a.on_msg(Msg::UpgradeVersions {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok((
            "2.3.1".into(),
            offers(&["2.3.1", "2.3.2", "2.4.0", "3.0.0"], "2.3.1"),
        )),
    });
    let text = render(&mut a, 140, 30);
    let cursor = text.lines().find(|l| l.contains('▶')).unwrap();
    assert!(cursor.contains("2.4.0"), "{text}");
    let effects = a.on_key(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::PrepareChange { target: helmdeck::core::workflows::upgrade::Target::Version(v), .. }] if v == "2.4.0"),
        "{effects:?}"
    );
}

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
        config: serde_json::json!({"replicas": replicas}),
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
            shop_revision(2, "2.3.0", ReleaseStatus::Superseded, 2),
            shop_revision(3, "2.3.1", ReleaseStatus::Deployed, 3),
        ],
        errors: Vec::new(),
    }
}

fn app_with_history() -> App {
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('h'));
    a.on_msg(Msg::ReleaseHistory {
        namespace: "shop".into(),
        name: "shop".into(),
        result: Ok(shop_history()),
    });
    a
}

fn plan(
    kind: helmdeck::core::workflows::upgrade::Kind,
) -> helmdeck::core::workflows::upgrade::Plan {
    use helmdeck::core::release::ReleaseStatus;
    use helmdeck::core::workflows::driver::ChartSource;
    use helmdeck::core::workflows::upgrade::{Plan, Request, Settings, Target, ValuesSource};
    Plan {
        request: Request {
            release: "shop".into(),
            namespace: "shop".into(),
            target: Target::Revision(2),
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
        kind,
        current: shop_revision(3, "2.3.1", ReleaseStatus::Deployed, 3),
        latest_revision: 3,
        latest_version: "2.3.1".into(),
        chart: ChartSource {
            name: "shop".into(),
            repository: "http://charts".into(),
            reference: "shop".into(),
        },
        to_version: "2.3.0".into(),
        to_app_version: "app-2.3.0".into(),
        jump: None,
        changes: vec![],
        values: serde_json::json!({"replicas": 3}),
        values_yaml: "replicas: 3\n".into(),
        values_diff: vec![],
        plaintext_secrets: vec![],
        checks: vec![],
        images: Default::default(),
        workloads: vec![],
    }
}

#[test]
fn a_rollback_is_titled_a_rollback_from_preparing_to_its_end() {
    use helmdeck::core::workflows::upgrade::Kind;
    let mut a = app_with_history();
    a.on_key(code(KeyCode::Up));
    a.on_key(key('r'));
    let text = render(&mut a, 140, 30);
    assert!(text.contains(" Rollback shop/shop"), "{text}");
    assert!(!text.contains("Upgrade shop/shop"), "{text}");
    a.on_msg(Msg::ChangePlanned(Ok(Box::new(plan(Kind::Rollback {
        to_revision: 2,
    })))));
    let text = render(&mut a, 140, 30);
    assert!(text.contains(" Rollback shop/shop · review"), "{text}");
    assert!(!text.contains("Upgrade shop/shop"), "{text}");
    // An upgrade is still titled an upgrade.
    let mut a = app();
    a.on_key(key('6'));
    a.on_key(key('u'));
    assert!(render(&mut a, 140, 30).contains(" Upgrade shop/shop"));
}

#[test]
fn the_bars_of_deployments_and_statefulsets_line_up() {
    use helmdeck::core::workflows::upgrade::{Kind, WorkloadProgress};
    use helmdeck::tui::upgrade::{RunView, Stage, UpgradeWizard};
    let mut a = app();
    a.on_key(key('6'));
    let progress = |kind, name: &str, ready| WorkloadProgress {
        kind,
        name: name.into(),
        ready,
        desired: 2,
        message: String::new(),
        converged: ready == 2,
    };
    a.upgrade = Some(UpgradeWizard {
        namespace: "shop".into(),
        release: "shop".into(),
        stage: Stage::Running(
            Box::new(plan(Kind::Upgrade)),
            RunView {
                progress: vec![
                    progress(WorkloadKind::Deployment, "checkout", 1),
                    progress(WorkloadKind::StatefulSet, "db", 2),
                    progress(WorkloadKind::Deployment, "a-much-longer-name-than-that", 0),
                ],
                ..Default::default()
            },
        ),
        auto_rollback: true,
        force: false,
        scroll: 0,
        edited: None,
        before_edit: None,
        rollback: false,
    });
    let text = render(&mut a, 140, 30);
    let columns: Vec<usize> = text
        .lines()
        .filter(|l| l.contains("ready"))
        .map(|l| l.chars().position(|c| c == '[').unwrap())
        .collect();
    assert_eq!(columns.len(), 3, "{text}");
    assert!(columns.iter().all(|c| *c == columns[0]), "{text}");
}

// ---- Words ----

#[test]
fn one_replica_is_one_replica() {
    let mut a = app();
    a.on_key(key('3'));
    // The first deployment (sorted), whichever it is.
    a.on_key(key('s'));
    a.on_msg(Msg::ScalePlanned(Ok(ScaleInfo {
        current: 1,
        hpa: None,
    })));
    let text = render(&mut a, 160, 30);
    assert!(text.contains("Currently 1 replica."), "{text}");
    assert!(!text.contains("1 replicas"), "{text}");
    assert_eq!(
        helmdeck::tui::app::plural(3, "replica", "replicas"),
        "3 replicas"
    );
    assert_eq!(
        helmdeck::tui::app::plural(0, "replica", "replicas"),
        "0 replicas"
    );
}

#[test]
fn an_empty_list_says_nothing_matches_only_under_a_filter() {
    let mut a = app();
    a.on_key(key('4'));
    a.state = ClusterState::default();
    assert_eq!(a.empty_list_message(), "no pods");
    a.namespace = Some("shop".into());
    assert_eq!(
        a.empty_list_message(),
        "no pods in namespace shop (0 shows every namespace)"
    );
    a.filters.insert(Screen::Pods, "zzz".into());
    assert_eq!(
        a.empty_list_message(),
        "nothing matches /zzz (esc clears the filter)"
    );
    a.on_key(key('2'));
    assert_eq!(a.empty_list_message(), "no nodes");
}

#[test]
fn the_demo_backups_hint_names_the_demo_directory_and_cluster() {
    use helmdeck::core::releases::backup::{BackupInfo, BackupManifest};
    use helmdeck::tui::app::{BackupsView, DemoPaths};
    use helmdeck::tui::views::restore_hint;
    let info = |dir: &std::path::Path| BackupInfo {
        path: dir.join("shop_shop_20250514T090000Z.tar.gz"),
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
    };
    let v = BackupsView {
        namespace: "shop".into(),
        name: "shop".into(),
        backups: None,
    };
    let demo = DemoPaths::new();
    let hint = restore_hint(&v, &[info(&demo.backups())]);
    assert!(
        hint.contains(&format!("--dir {}", demo.backups().display()))
            && hint.contains(&format!("--kubeconfig {}", demo.kubeconfig.display())),
        "{hint}"
    );
    let hint = restore_hint(&v, &[info(std::path::Path::new("/srv/backups"))]);
    assert!(hint.contains("--dir /srv/backups"), "{hint}");
    assert!(!hint.contains("--kubeconfig"), "{hint}");
}

// ---- Namespaces ----

#[test]
fn ns_refuses_a_namespace_that_does_not_exist_and_completes_those_that_do() {
    let mut a = app();
    a.on_key(key('4'));
    command(&mut a, "ns nosuch");
    assert_eq!(a.namespace, None, "nothing changed");
    let said = flash(&a);
    assert!(
        said.contains("no namespace 'nosuch'") && said.contains("shop"),
        "{said}"
    );
    assert!(a.flash.as_ref().unwrap().error);
    assert!(render(&mut a, 160, 30).contains("no namespace 'nosuch'"));

    command(&mut a, "ns shop");
    assert_eq!(a.namespace.as_deref(), Some("shop"));
    command(&mut a, "ns all");
    assert_eq!(a.namespace, None);

    // tab completes a namespace, and as far as several agree.
    assert_eq!(a.complete("ns sh").as_deref(), Some("ns shop"));
    assert_eq!(a.complete("ns mon").as_deref(), Some("ns monitoring"));
    assert_eq!(a.complete("ns a").as_deref(), Some("ns all"));
    assert_eq!(a.complete("ns zz"), None);
    a.on_key(key(':'));
    for c in "ns sh".chars() {
        a.on_key(key(c));
    }
    a.on_key(code(KeyCode::Tab));
    assert_eq!(a.mode, Mode::Command("ns shop".into()));
    a.on_key(code(KeyCode::Esc));

    // Before any list arrived nothing can be told: accepted.
    let mut fresh = App::new(KeyMap::default(), Theme::default(), "x".into(), None, false);
    command(&mut fresh, "ns later");
    assert_eq!(fresh.namespace.as_deref(), Some("later"));
}

#[test]
fn a_namespace_set_by_a_jump_is_given_back_when_the_user_moves_on() {
    let mut a = app();
    a.on_key(key('3'));
    // Down to a deployment of shop, then enter: its pods, in its namespace.
    while !matches!(
        a.selected_row(),
        Some(helmdeck::tui::views::tables::RowRef::Workload(
            WorkloadKind::Deployment,
            _,
            _
        ))
    ) {
        a.on_key(key('j'));
    }
    a.on_key(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Pods);
    assert_eq!(a.namespace.as_deref(), Some("shop"));
    // A pod's own screen and back keep it.
    a.on_key(code(KeyCode::Enter));
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Pods);
    assert_eq!(a.namespace.as_deref(), Some("shop"));
    // Moving on gives back "all namespaces".
    a.on_key(key('5'));
    assert_eq!(a.namespace, None);

    // A namespace the user chose is theirs: a jump gives it back, not "all".
    command(&mut a, "ns monitoring");
    a.on_key(key('3'));
    a.on_key(key('g'));
    while !matches!(
        a.selected_row(),
        Some(helmdeck::tui::views::tables::RowRef::Workload(_, ns, _)) if ns == "monitoring"
    ) {
        a.on_key(key('j'));
    }
    a.on_key(code(KeyCode::Enter));
    a.on_key(key('2'));
    assert_eq!(a.namespace.as_deref(), Some("monitoring"));

    // Choosing one after the jump keeps it.
    command(&mut a, "ns all");
    a.on_key(key('3'));
    a.on_key(key('g'));
    while !matches!(
        a.selected_row(),
        Some(helmdeck::tui::views::tables::RowRef::Workload(
            WorkloadKind::Deployment,
            _,
            _
        ))
    ) {
        a.on_key(key('j'));
    }
    a.on_key(code(KeyCode::Enter));
    command(&mut a, "ns shop");
    a.on_key(key('5'));
    assert_eq!(a.namespace.as_deref(), Some("shop"));
}

// ---- The revision mark ----

#[test]
fn the_marked_revision_shows_and_goes_with_its_diff() {
    let mut a = app_with_history();
    a.on_key(code(KeyCode::Up));
    a.on_key(code(KeyCode::Up));
    a.on_key(key(' '));
    let text = render(&mut a, 160, 40);
    assert!(text.contains("1 ◆"), "{text}");
    assert!(text.contains("◆ revision 1 marked"), "{text}");
    a.on_key(code(KeyCode::Down));
    a.on_key(code(KeyCode::Down));
    a.on_key(key('v'));
    assert!(render(&mut a, 160, 40).contains("Diff revision 1 → 3"));
    // Closing the diff drops the mark: the next v diffs against the previous revision.
    a.on_key(code(KeyCode::Esc));
    let text = render(&mut a, 160, 40);
    assert!(!text.contains('◆'), "{text}");
    a.on_key(key('v'));
    assert!(render(&mut a, 160, 40).contains("Diff revision 2 → 3"));
}

// ---- Themes ----

#[test]
fn the_light_theme_paints_its_background_everywhere() {
    use ratatui::style::Color;
    let mut a = app_with(Theme::builtin("light").unwrap().unwrap());
    a.on_key(key('4'));
    let buf = draw(&mut a, 80, 24);
    let white = Color::Rgb(0xFF, 0xFF, 0xFF);
    // Blank cells far from any text, and a border's.
    assert_eq!(buf[(79, 20)].bg, white);
    assert_eq!(buf[(40, 20)].bg, white);
    assert_eq!(buf[(0, 10)].bg, white);
    assert_eq!(buf[(40, 20)].fg, Color::Rgb(0x24, 0x29, 0x2F));
    // The dark theme keeps the terminal's own background.
    let mut a = app();
    a.on_key(key('4'));
    let buf = draw(&mut a, 80, 24);
    assert_eq!(buf[(79, 20)].bg, Color::Reset);
}

// ---- Delete a pod, rollout restart, sort (k9s moves) ----

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn select(
    a: &mut App,
    screen: Screen,
    row: impl Fn(&helmdeck::tui::views::tables::RowRef) -> bool,
) {
    a.screen = screen;
    let n = a.row_count();
    let at = a
        .visible_rows(0, n)
        .iter()
        .position(row)
        .expect("the row is listed");
    a.selected.insert(screen, at);
}

fn confirm_question(a: &App) -> String {
    match &a.mode {
        Mode::Dialog(helmdeck::tui::app::Dialog::Confirm { question, .. }) => question.clone(),
        other => panic!("no confirmation open: {other:?}"),
    }
}

#[test]
fn deleting_a_pod_asks_naming_it_and_read_only_refuses() {
    use helmdeck::tui::views::tables::RowRef;
    let victim = ("shop".to_string(), "web-7d4b9c8f6-r5t7y".to_string());
    let mut a = app();
    select(&mut a, Screen::Pods, |r| *r == RowRef::Pod(victim.clone()));
    assert!(
        a.on_key(ctrl('d')).is_empty(),
        "nothing is deleted before the answer"
    );
    let q = confirm_question(&a);
    assert!(q.contains("Delete pod shop/web-7d4b9c8f6-r5t7y?"), "{q}");
    let screen = render(&mut a, 120, 30);
    assert!(screen.contains("shop/web-7d4b9c8f6-r5t7y"), "{screen}");
    // `n` keeps the pod.
    assert!(a.on_key(key('n')).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    a.on_key(ctrl('d'));
    assert_eq!(
        a.on_key(key('y')),
        vec![Effect::DeletePod {
            key: victim.clone()
        }]
    );
    assert!(
        a.tasks
            .iter()
            .any(|(w, _)| w == "delete pod shop/web-7d4b9c8f6-r5t7y")
    );
    a.on_msg(Msg::Done {
        what: "delete pod shop/web-7d4b9c8f6-r5t7y".into(),
        result: Ok("pod shop/web-7d4b9c8f6-r5t7y deleted".into()),
    });
    assert!(a.tasks.is_empty());
    assert_eq!(flash(&a), "pod shop/web-7d4b9c8f6-r5t7y deleted");

    // Read-only: refused with a message, no question, no effect.
    let mut ro = app();
    ro.readonly = true;
    select(&mut ro, Screen::Pods, |r| *r == RowRef::Pod(victim.clone()));
    assert!(ro.on_key(ctrl('d')).is_empty());
    assert_eq!(ro.mode, Mode::Normal);
    assert!(
        flash(&ro).starts_with("read-only: deleting a pod"),
        "{}",
        flash(&ro)
    );
    // A question opened before the context turned read-only is refused at the answer.
    let mut late = app();
    select(&mut late, Screen::Pods, |r| {
        *r == RowRef::Pod(victim.clone())
    });
    late.on_key(ctrl('d'));
    late.readonly = true;
    assert!(late.on_key(key('y')).is_empty());
    assert!(flash(&late).starts_with("read-only"), "{}", flash(&late));

    // Delete acts on pods only, and the help lists it there.
    let pods = KeyMap::default().bindings_for(Screen::Pods);
    assert!(pods.contains(&(
        "ctrl-d".into(),
        Action::Delete,
        "Delete the pod (asks first)"
    )));
    let mut w = app();
    w.screen = Screen::Workloads;
    w.on_key(ctrl('d'));
    assert_eq!(w.mode, Mode::Normal);
}

#[test]
fn rollout_restart_asks_naming_the_workload_and_read_only_refuses() {
    use helmdeck::tui::views::tables::RowRef;
    let mut a = app();
    let web = RowRef::Workload(WorkloadKind::Deployment, "shop".into(), "web".into());
    select(&mut a, Screen::Workloads, |r| *r == web);
    assert!(a.on_key(key('r')).is_empty());
    let q = confirm_question(&a);
    assert!(q.contains("Rollout restart Deployment shop/web?"), "{q}");
    assert_eq!(
        a.on_key(code(KeyCode::Enter)),
        vec![Effect::Restart {
            kind: WorkloadKind::Deployment,
            namespace: "shop".into(),
            name: "web".into(),
        }]
    );
    assert!(a.tasks.iter().any(|(w, _)| w == "restart shop/web"));

    // A DaemonSet restarts too (it cannot be scaled, but it can be restarted).
    let mut d = app();
    select(&mut d, Screen::Workloads, |r| {
        matches!(r, RowRef::Workload(WorkloadKind::DaemonSet, ..))
    });
    d.on_key(key('r'));
    assert!(confirm_question(&d).starts_with("Rollout restart DaemonSet "));
    assert!(matches!(
        d.on_key(key('y')).as_slice(),
        [Effect::Restart {
            kind: WorkloadKind::DaemonSet,
            ..
        }]
    ));

    let mut ro = app();
    ro.readonly = true;
    select(&mut ro, Screen::Workloads, |r| *r == web);
    assert!(ro.on_key(key('r')).is_empty());
    assert_eq!(ro.mode, Mode::Normal);
    assert!(
        flash(&ro).starts_with("read-only: rollout restart"),
        "{}",
        flash(&ro)
    );
    let workloads = KeyMap::default().bindings_for(Screen::Workloads);
    assert!(workloads.contains(&(
        "r".into(),
        Action::Restart,
        "Rollout restart the workload (asks first)"
    )));
    // `r` still rolls a release back on the Releases screen.
    assert_eq!(
        KeyMap::default().action_for(Screen::Releases, &key('r')),
        Some(Action::Rollback)
    );
}

fn pod_names(a: &mut App) -> Vec<String> {
    let n = a.row_count();
    a.visible_rows(0, n)
        .into_iter()
        .map(|r| match r {
            helmdeck::tui::views::tables::RowRef::Pod(k) => k.1,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn o_sorts_by_the_next_column_and_capital_o_reverses_shown_in_the_title() {
    let mut a = app();
    a.screen = Screen::Pods;
    let own = pod_names(&mut a);
    a.on_key(key('>'));
    assert_eq!(flash(&a), "sorted by name");
    let by_name = pod_names(&mut a);
    let mut sorted = by_name.clone();
    sorted.sort();
    assert_eq!(by_name, sorted);
    assert!(render(&mut a, 120, 20).contains("sort:name"));

    a.on_key(key('>')); // status: problems first
    let by_status = pod_names(&mut a);
    assert_eq!(
        by_status.last().unwrap(),
        "web-7d4b9c8f6-xk2lp",
        "{by_status:?}"
    );

    a.on_key(key('>')); // restarts: most first
    assert_eq!(
        pod_names(&mut a),
        [
            "web-7d4b9c8f6-r5t7y",
            "web-7d4b9c8f6-o0m1k",
            "web-7d4b9c8f6-xk2lp"
        ]
    );
    assert!(render(&mut a, 120, 20).contains("sort:restarts "));
    a.on_key(key('<'));
    assert_eq!(
        pod_names(&mut a),
        [
            "web-7d4b9c8f6-xk2lp",
            "web-7d4b9c8f6-o0m1k",
            "web-7d4b9c8f6-r5t7y"
        ]
    );
    assert!(render(&mut a, 120, 20).contains("sort:restarts reversed"));

    // cpu, mem, age, then back to the screen's own order.
    for _ in 0..4 {
        a.on_key(key('>'));
    }
    assert!(!a.sort.contains_key(&Screen::Pods));
    assert_eq!(flash(&a), "the screen's own order");
    assert_eq!(pod_names(&mut a), own);
    assert!(!render(&mut a, 120, 20).contains("sort:"));

    // Each screen keeps its own order; the help lists the keys where they act.
    a.screen = Screen::Workloads;
    a.on_key(key('>'));
    assert!(a.sort.contains_key(&Screen::Workloads));
    assert!(!a.sort.contains_key(&Screen::Pods));
    let help = KeyMap::default().bindings_for(Screen::Workloads);
    assert!(
        help.iter()
            .any(|(k, act, _)| k == ">" && *act == Action::SortNext)
    );
    assert!(
        help.iter()
            .any(|(k, act, _)| k == "<" && *act == Action::SortReverse)
    );
    assert!(
        !KeyMap::default()
            .bindings_for(Screen::Overview)
            .iter()
            .any(|(_, act, _)| *act == Action::SortNext)
    );
}

#[test]
fn y_and_d_show_every_kind_over_its_table_and_esc_closes() {
    use helmdeck::core::cluster::object::{ObjectFormat, ObjectKind};
    let mut a = app();
    for (screen, press, kind, format) in [
        (Screen::Nodes, 'y', ObjectKind::Node, ObjectFormat::Yaml),
        (Screen::Nodes, 'i', ObjectKind::Node, ObjectFormat::Describe),
        (
            Screen::Workloads,
            'y',
            ObjectKind::Deployment,
            ObjectFormat::Yaml,
        ),
        (
            Screen::Workloads,
            'd',
            ObjectKind::Deployment,
            ObjectFormat::Describe,
        ),
        (Screen::Pods, 'y', ObjectKind::Pod, ObjectFormat::Yaml),
        (Screen::Events, 'y', ObjectKind::Event, ObjectFormat::Yaml),
        (
            Screen::Events,
            'd',
            ObjectKind::Event,
            ObjectFormat::Describe,
        ),
        (
            Screen::Releases,
            'y',
            ObjectKind::Release,
            ObjectFormat::Yaml,
        ),
        (
            Screen::Releases,
            'd',
            ObjectKind::Release,
            ObjectFormat::Describe,
        ),
    ] {
        a.screen = screen;
        let effects = a.on_key(key(press));
        let [
            Effect::FetchObject {
                kind: k,
                namespace,
                name,
                format: f,
            },
        ] = effects.as_slice()
        else {
            panic!("{screen} {press}: {effects:?}");
        };
        assert_eq!((*k, *f), (kind, format), "{screen} {press}");
        assert!(render(&mut a, 120, 30).contains("loading…"));
        a.on_msg(Msg::Object {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
            format,
            result: Ok(format!("line one of {name}\nline two\n")),
        });
        let shown = render(&mut a, 120, 30);
        assert!(shown.contains(&format!("line one of {name}")), "{shown}");
        assert!(shown.contains("esc closes"), "{shown}");
        // Keys scroll it and do not reach the table (no tab switch, no sort).
        a.on_key(key('j'));
        a.on_key(key('>'));
        assert!(a.sort.is_empty());
        a.on_key(code(KeyCode::Esc));
        assert!(a.object.is_none(), "{screen}");
        assert_eq!(a.screen, screen);
    }
    // On pods, `d` still opens the pod's own screen.
    a.screen = Screen::Pods;
    a.on_key(key('d'));
    assert_eq!(a.screen, Screen::PodDetail);
    // Nothing to show on the Overview.
    a.screen = Screen::Overview;
    a.on_key(key('y'));
    assert!(a.object.is_none());
}

// ---- The log pane: wrap, timestamps, save (k9s's `w`, `t`, `ctrl-s`) ----

/// The pod `shop/web-7d4b9c8f6-r5t7y` opened, with `lines` in its log.
fn log_of_crashing_pod(lines: &[&str]) -> App {
    use helmdeck::tui::views::tables::RowRef;
    let mut a = app();
    let pod = ("shop".to_string(), "web-7d4b9c8f6-r5t7y".to_string());
    select(&mut a, Screen::Pods, |r| *r == RowRef::Pod(pod.clone()));
    a.on_key(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::PodDetail);
    a.on_msg(Msg::LogLines(lines.iter().map(|l| l.to_string()).collect()));
    a
}

#[test]
fn w_wraps_long_log_lines_and_cuts_them_again() {
    let long = format!("ERROR start {} the end", "x".repeat(150));
    let filler: Vec<String> = (0..40).map(|i| format!("filler {i}")).collect();
    let mut lines: Vec<&str> = filler.iter().map(String::as_str).collect();
    lines.extend(["short line", &long]);
    let mut a = log_of_crashing_pod(&lines);
    let text = render(&mut a, 100, 30);
    assert!(
        text.contains("ERROR start") && !text.contains("the end"),
        "{text}"
    );
    a.on_key(key('w'));
    let text = render(&mut a, 100, 30);
    assert!(
        text.contains("the end") && text.contains("short line"),
        "{text}"
    );
    assert!(
        text.contains("wrap"),
        "the pane's title says it wraps:\n{text}"
    );
    // The newest line is the last row of the pane even when wrapped.
    let rows: Vec<&str> = text.lines().collect();
    let end = rows.iter().position(|l| l.contains("the end")).unwrap();
    assert!(rows[end + 1].starts_with('└'), "{text}");
    a.on_key(key('w'));
    assert!(!render(&mut a, 100, 30).contains("the end"));
}

#[test]
fn t_asks_the_server_for_timestamps_and_back() {
    let mut a = log_of_crashing_pod(&["a line"]);
    let effects = a.on_key(key('t'));
    let key_of = ("shop".to_string(), "web-7d4b9c8f6-r5t7y".to_string());
    assert_eq!(
        effects,
        vec![Effect::Logs {
            key: key_of.clone(),
            container: a.detail.as_ref().unwrap().container.clone(),
            previous: false,
            timestamps: true,
        }]
    );
    // The lines without stamps are gone; the new stream brings them stamped.
    assert!(a.detail.as_ref().unwrap().logs.is_empty());
    a.on_msg(Msg::LogLines(vec![
        "2026-11-30T11:00:00.000000000Z a line".into(),
    ]));
    let text = render(&mut a, 120, 30);
    assert!(
        text.contains("timestamps") && text.contains("11:00:00.000000000Z"),
        "{text}"
    );
    let effects = a.on_key(key('t'));
    assert!(
        matches!(
            &effects[..],
            [Effect::Logs {
                timestamps: false,
                previous: false,
                ..
            }]
        ),
        "{effects:?}"
    );
    // On the previous container's log, stamps ask for the previous log again.
    a.on_key(key('p'));
    let effects = a.on_key(key('t'));
    assert!(
        matches!(
            &effects[..],
            [Effect::Logs {
                timestamps: true,
                previous: true,
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn ctrl_s_saves_the_log_shown_under_a_timestamped_name() {
    let mut a = log_of_crashing_pod(&[]);
    assert!(a.on_key(ctrl('s')).is_empty());
    assert!(flash(&a).contains("nothing to save"), "{}", flash(&a));
    a.on_msg(Msg::LogLines(vec!["one".into(), "two".into()]));
    let effects = a.on_key(ctrl('s'));
    let [
        Effect::SaveLog {
            context,
            file,
            text,
            lines,
        },
    ] = &effects[..]
    else {
        panic!("{effects:?}")
    };
    assert_eq!(context, "fixture");
    assert_eq!(text, "one\ntwo\n");
    assert_eq!(*lines, 2);
    assert!(
        file.starts_with("shop_web-7d4b9c8f6-r5t7y_") && file.ends_with("_20250514T100500Z.log"),
        "{file}"
    );
    // The outcome names the path in the status line.
    a.on_msg(Msg::Done {
        what: "save the log".into(),
        result: Ok("saved 2 log lines to /d/x.log".into()),
    });
    assert!(render(&mut a, 120, 30).contains("saved 2 log lines to /d/x.log"));
}

#[test]
fn the_log_keys_are_listed_on_the_log_screen_only() {
    let map = KeyMap::default();
    let listed = |screen| -> Vec<Action> {
        map.bindings_for(screen)
            .into_iter()
            .map(|(_, a, _)| a)
            .collect()
    };
    let log = listed(Screen::PodDetail);
    for action in [
        Action::WrapToggle,
        Action::TimestampsToggle,
        Action::SaveLog,
    ] {
        assert!(log.contains(&action), "{action} not on the log screen");
        for screen in Screen::ALL.into_iter().filter(|s| *s != Screen::PodDetail) {
            assert!(
                !listed(screen).contains(&action),
                "{action} listed on {screen}"
            );
        }
    }
    let mut a = log_of_crashing_pod(&["a line"]);
    a.on_key(key('?'));
    let text = render(&mut a, 120, 60);
    for k in ["ctrl-s", "Wrap long log lines", "timestamps"] {
        assert!(text.contains(k), "{k} missing from the help:\n{text}");
    }
    // Elsewhere the keys answer, not act.
    let mut a = app();
    a.on_key(key('4'));
    a.on_key(key('w'));
    assert!(a.flash.is_none() || !flash(&a).contains("wrap"));
}

// ---- `e`: the events of the selected object ----

fn event(ns: &str, name: &str, kind: &str, object: &str, warning: bool, at: &str) -> EventRow {
    EventRow {
        namespace: ns.into(),
        name: name.into(),
        warning,
        reason: if warning { "BackOff" } else { "Pulled" }.into(),
        message: format!("about {object}"),
        object_kind: kind.into(),
        object_name: object.into(),
        count: 1,
        last_seen: Some(at.parse().unwrap()),
        source: String::new(),
    }
}

fn event_names(a: &mut App) -> Vec<String> {
    let n = a.row_count();
    a.visible_rows(0, n)
        .into_iter()
        .map(|r| match r {
            helmdeck::tui::views::tables::RowRef::Event((_, n)) => n,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn e_opens_the_events_of_the_selected_object_newest_first() {
    use helmdeck::tui::views::tables::RowRef;
    let mut a = app();
    let pod = "web-7d4b9c8f6-r5t7y";
    a.state.apply(ClusterUpdate::Events(vec![Change::Reset(vec![
        event(
            "shop",
            "pod-old-warning",
            "Pod",
            pod,
            true,
            "2025-05-14T09:00:00Z",
        ),
        event(
            "shop",
            "pod-new-normal",
            "Pod",
            pod,
            false,
            "2025-05-14T10:00:00Z",
        ),
        event(
            "other",
            "same-name-elsewhere",
            "Pod",
            pod,
            true,
            "2025-05-14T10:01:00Z",
        ),
        event(
            "shop",
            "another-pod",
            "Pod",
            "web-7d4b9c8f6-xk2lp",
            true,
            "2025-05-14T10:02:00Z",
        ),
        event(
            "shop",
            "deploy",
            "Deployment",
            "web",
            false,
            "2025-05-14T10:03:00Z",
        ),
        event(
            "shop",
            "rs-not-deploy",
            "ReplicaSet",
            "web",
            false,
            "2025-05-14T10:04:00Z",
        ),
        event(
            "default",
            "node",
            "Node",
            "worker-3",
            true,
            "2025-05-14T10:04:00Z",
        ),
    ])]));
    // A pod: its own events, the newest first though the older is a warning.
    select(&mut a, Screen::Pods, |r| {
        *r == RowRef::Pod(("shop".into(), pod.into()))
    });
    a.on_key(key('e'));
    assert_eq!(a.screen, Screen::Events);
    assert_eq!(
        event_names(&mut a),
        vec!["pod-new-normal", "pod-old-warning"]
    );
    let text = render(&mut a, 160, 30);
    assert!(text.contains(&format!("/object:Pod/shop/{pod}")), "{text}");
    // The namespace the jump set is given back when the user moves on.
    a.on_key(key('4'));
    assert_eq!(a.namespace, None);

    // A workload: the Deployment's events, not its ReplicaSet's.
    select(&mut a, Screen::Workloads, |r| {
        *r == RowRef::Workload(WorkloadKind::Deployment, "shop".into(), "web".into())
    });
    a.on_key(key('e'));
    assert_eq!(event_names(&mut a), vec!["deploy"]);

    // A node: its events, in whatever namespace they are kept.
    select(&mut a, Screen::Nodes, |r| {
        *r == RowRef::Node("worker-3".into())
    });
    a.on_key(key('e'));
    assert_eq!(a.screen, Screen::Events);
    assert_eq!(event_names(&mut a), vec!["node"]);
    // esc clears the filter: every event again.
    a.on_key(code(KeyCode::Esc));
    assert_eq!(event_names(&mut a).len(), 7);

    // From a pod's log screen, that pod's events.
    let mut a = log_of_crashing_pod(&["a line"]);
    a.state
        .apply(ClusterUpdate::Events(vec![Change::Reset(vec![event(
            "shop",
            "mine",
            "Pod",
            pod,
            true,
            "2025-05-14T10:00:00Z",
        )])]));
    let effects = a.on_key(key('e'));
    assert!(effects.contains(&Effect::StopLogs), "{effects:?}");
    assert_eq!(event_names(&mut a), vec!["mine"]);
    // Where there is no object, `e` does nothing.
    a.on_key(key('1'));
    assert!(a.on_key(key('e')).is_empty());
    assert_eq!(a.screen, Screen::Overview);
}

// ---- Releases whose revisions cannot be decoded ----

/// A release Secret of `kafka/strimzi` whose payload is not base64.
fn undecodable_secret() -> ReleaseRevision {
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": "sh.helm.release.v1.strimzi.v2",
            "namespace": "kafka",
            "labels": {"name": "strimzi", "owner": "helm", "status": "deployed", "version": "2"},
            "creationTimestamp": "2025-05-14T09:00:00Z"
        },
        "type": "helm.sh/release.v1",
        "data": {"release": "bm90IGJhc2U2NCEh"}
    }))
    .unwrap();
    let r = ReleaseRevision::from_secret(&secret);
    assert!(r.error.is_some(), "{r:?}");
    r
}

#[test]
fn a_release_that_cannot_be_decoded_is_listed_with_the_reason_and_counted() {
    let mut a = app();
    let mut revisions: Vec<ReleaseRevision> = a.state.revisions.values().cloned().collect();
    revisions.push(undecodable_secret());
    a.state
        .apply(ClusterUpdate::Releases(vec![Change::Reset(revisions)]));
    let why = a
        .state
        .revisions
        .values()
        .find_map(|r| r.error.clone())
        .unwrap();
    a.on_key(key('6'));
    let text = render(&mut a, 160, 30);
    assert!(
        text.contains("Helm releases (2)") || text.contains("(2)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("strimzi") && !l.contains("cannot be decoded"))
        .unwrap_or_else(|| panic!("strimzi not listed:\n{text}"));
    assert!(
        row.contains("✖ undecodable") && row.contains(" 2 "),
        "{row}"
    );
    let note = text
        .lines()
        .find(|l| l.contains("cannot be decoded"))
        .unwrap_or_else(|| panic!("no reason shown:\n{text}"));
    assert!(
        note.contains("kafka/strimzi sh.helm.release.v1.strimzi.v2")
            && note.contains(&why[..why.len().min(20)]),
        "{note}"
    );
    // Still listed, and whole, at 80 columns.
    let text = render(&mut a, 80, 24);
    assert!(
        text.lines()
            .any(|l| l.contains("strimzi") && l.contains("✖ undecodable")),
        "{text}"
    );
    // The roll-up counts it and names it.
    let r = a.rollup();
    let area = r
        .area(helmdeck::core::cluster::rollup::AreaKind::Releases)
        .unwrap();
    assert!(area.summary.starts_with("2 releases:"), "{}", area.summary);
    assert!(area.summary.contains("1 undecodable"), "{}", area.summary);
    assert!(
        r.problems.iter().any(|p| p
            .message
            .contains("release strimzi in kafka: 1 revision cannot be decoded")),
        "{:?}",
        r.problems
    );
}

// ---- The Overview at 80 columns: nothing cut mid-word ----

/// `text` is `full`, or a start of it that ends between words, marked with `…`.
fn cut_between_words(text: &str, full: &str) -> bool {
    let text = text.trim_end();
    if full.starts_with(text) && text.len() == full.trim_end().len() {
        return true;
    }
    let Some(kept) = text.strip_suffix('…') else {
        return false;
    };
    full.starts_with(kept)
        && full[kept.len()..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_alphanumeric())
}

#[test]
fn the_overview_at_80_columns_cuts_no_word() {
    let mut a = app();
    let text = render(&mut a, 80, 24);
    let r = a.rollup();
    let lines: Vec<&str> = text.lines().collect();
    for area in &r.areas {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!(" {} ", area.area.name())))
            .unwrap_or_else(|| panic!("{:?} missing:\n{text}", area.area));
        let shown = line
            .trim_end_matches('│')
            .split_once(&format!(" {} ", area.area.name()))
            .unwrap()
            .1
            .trim_start();
        assert!(
            cut_between_words(shown, &area.summary),
            "{shown:?} cuts {:?}:\n{text}",
            area.summary
        );
    }
    // Every problem row shows its message whole or cut between words.
    let rows: Vec<&str> = lines
        .iter()
        .skip_while(|l| !l.contains("Problems ("))
        .filter_map(|l| {
            let label = r
                .problems
                .iter()
                .map(|p| format!("{} {}", p.level.glyph(), p.level.label()))
                .find(|label| l.contains(label.as_str()))?;
            Some(l.trim_end_matches('│').split_once(&label)?.1.trim())
        })
        .collect();
    assert_eq!(rows.len(), r.problems.len().min(a.page), "{text}");
    for shown in rows {
        assert!(
            r.problems
                .iter()
                .any(|p| cut_between_words(shown, &p.message)),
            "{shown:?} is no problem's message cut between words:\n{text}"
        );
    }
    // The key hints: whole ones only, on every screen.
    for k in ['1', '2', '3', '4', '5', '6', '7'] {
        a.on_key(key(k));
        let text = render(&mut a, 80, 24);
        let hints = text.lines().last().unwrap().trim_end();
        // A line cut by the terminal's edge fills it; whole hints leave a gap.
        assert!(hints.chars().count() < 80, "{hints:?}");
        assert!(!hints.is_empty() && !hints.ends_with('·'), "{hints:?}");
    }
}

// ---- backups: the newest of each release, and overdue ones ranked ----

#[test]
fn releases_show_their_newest_backup_and_an_overdue_one_is_a_problem() {
    use helmdeck::core::releases::backup_store::BackupAges;
    let mut a = app();
    let now = a.now;
    let hours_ago = |h: i64| now - jiff::SignedDuration::from_hours(h);
    let every = std::time::Duration::from_secs(3600);
    // Without `backup_every`, no BACKUP column and no such problem.
    a.on_key(key('6'));
    assert!(!render(&mut a, 160, 30).contains("BACKUP"));

    // Backed up 30 minutes ago: shown, not a problem.
    let fresh = now - jiff::SignedDuration::from_mins(30);
    a.on_msg(Msg::BackupAges(BackupAges {
        every,
        newest: Ok([(("shop".to_string(), "shop".to_string()), fresh)].into()),
    }));
    let text = render(&mut a, 160, 30);
    let header = text
        .lines()
        .find(|l| l.contains("BACKUP"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(header.contains("UPDATED"), "{header}");
    let row = text.lines().find(|l| l.contains(" shop ")).unwrap();
    assert!(
        row.trim_end()
            .trim_end_matches('│')
            .trim_end()
            .ends_with("30m"),
        "{row}"
    );
    assert!(
        !a.rollup()
            .problems
            .iter()
            .any(|p| p.message.contains("backup")),
        "{:?}",
        a.rollup().problems
    );

    // Three hours old with backups every hour: a problem of the Releases area, under it.
    a.on_msg(Msg::BackupAges(BackupAges {
        every,
        newest: Ok([(("shop".to_string(), "shop".to_string()), hours_ago(3))].into()),
    }));
    let r = a.rollup();
    let p = r
        .problems
        .iter()
        .find(|p| p.message.contains("backup"))
        .unwrap_or_else(|| panic!("{:?}", r.problems));
    assert_eq!(
        p.message,
        "release shop/shop: newest backup 3h old (backups every 60m)"
    );
    let area = r
        .area(helmdeck::core::cluster::rollup::AreaKind::Releases)
        .unwrap();
    assert!(
        area.summary.contains("1 release not backed up"),
        "{}",
        area.summary
    );
    assert!(area.level >= helmdeck::core::cluster::rollup::Level::Degraded);

    // Never backed up: said so; and a listing that failed is `?`, never "fresh".
    a.on_msg(Msg::BackupAges(BackupAges {
        every,
        newest: Ok(Default::default()),
    }));
    assert!(
        a.rollup()
            .problems
            .iter()
            .any(|p| p.message == "release shop/shop: no backup (backups every 60m)")
    );
    a.on_msg(Msg::BackupAges(BackupAges {
        every,
        newest: Err("listing s3://b/p: connection refused".into()),
    }));
    let text = render(&mut a, 160, 30);
    let row = text.lines().find(|l| l.contains(" shop ")).unwrap();
    assert!(
        row.trim_end()
            .trim_end_matches('│')
            .trim_end()
            .ends_with('?'),
        "{row}"
    );
}
