//! Triage on the live `trouble` scenario (issue #12): each problem once, under its cause,
//! with its evidence — the crash loop and the failed pull under their deployments, the
//! OOM kill under its statefulset, the pods of the NotReady node under the node.

use helmdeck::core::cluster::rollup::{AreaKind, Level, Problem, Rollup, TargetKind, rollup};
use helmdeck::core::cluster::{ClusterState, WorkloadKind};

/// Runs the trouble scenario until `ready` holds for the roll-up, or fails showing it.
async fn trouble_until(ready: impl Fn(&ClusterState, &Rollup) -> bool) -> (ClusterState, Rollup) {
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
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) => state.apply(u),
            other => {
                let r = rollup(&state, jiff::Timestamp::now());
                panic!("not there yet ({other:?}):\n{}", lines(&r).join("\n"));
            }
        }
        while let Ok(u) = rx.try_recv() {
            state.apply(u);
        }
        let r = rollup(&state, jiff::Timestamp::now());
        if ready(&state, &r) {
            return (state, r);
        }
    }
}

fn lines(r: &Rollup) -> Vec<String> {
    r.problems
        .iter()
        .map(|p| format!("{} {:?} {}", p.level, p.area, p.message))
        .collect()
}

/// The problems that mention `needle`.
fn mentioning<'a>(r: &'a Rollup, needle: &str) -> Vec<&'a Problem> {
    r.problems
        .iter()
        .filter(|p| p.message.contains(needle))
        .collect()
}

/// The faults of the scenario: (kind, workload, evidence its line must carry).
const FAULTS: [(WorkloadKind, &str, &[&str]); 3] = [
    (
        WorkloadKind::Deployment,
        "forwarder-pinterest",
        &[
            "crash-looping for ",
            "last exit Error (exit code 1)",
            "warning BackOff",
        ],
    ),
    (
        WorkloadKind::Deployment,
        "jupyter-gateway",
        &[
            "cannot pull its image for ",
            "Failed to pull image \"docker.io/iomete/jupyter-gateway:2.4.1-missing\"",
        ],
    ),
    (
        WorkloadKind::StatefulSet,
        "mysql",
        &["crash-looping for ", "last exit OOMKilled (exit code 137)"],
    ),
];

/// True when the workload's pod was placed on the NotReady node (placement varies from run
/// to run): when it never started there, the node is its cause.
fn on_worker_3(s: &ClusterState, workload: &str) -> bool {
    s.pods
        .values()
        .any(|p| p.workload.as_deref() == Some(workload) && p.node == "worker-3")
}

fn workload_problem<'a>(r: &'a Rollup, kind: WorkloadKind, name: &str) -> Option<&'a Problem> {
    r.problems.iter().find(|p| {
        p.target
            .as_ref()
            .is_some_and(|t| t.kind == TargetKind::Workload(kind) && t.name == name)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trouble_scenario_shows_each_problem_once_under_its_cause_with_its_evidence() {
    let (state, r) = trouble_until(|s, r| {
        s.sources.values().all(|x| x.synced || x.error.is_some())
            && r.problems.iter().any(|p| p.message.contains("pods on it"))
            && FAULTS.iter().all(
                |(kind, name, evidence)| match workload_problem(r, *kind, name) {
                    Some(p) => evidence.iter().all(|e| p.message.contains(e)),
                    None => on_worker_3(s, name),
                },
            )
    })
    .await;
    let all = lines(&r).join("\n");
    println!("{all}");

    // Each fault once, under its workload, with its evidence (the last termination, the
    // pull error) — or under the NotReady node when its pod was placed there.
    for (kind, name, evidence) in FAULTS {
        let about = mentioning(&r, name);
        if workload_problem(&r, kind, name).is_none() {
            assert!(on_worker_3(&state, name), "{name} is not told:\n{all}");
            assert!(
                about
                    .iter()
                    .all(|p| p.message.starts_with("node worker-3 NotReady")),
                "{name} is told under worker-3:\n{all}"
            );
            continue;
        }
        assert_eq!(about.len(), 1, "{name} once:\n{all}");
        let p = about[0];
        assert_eq!(p.area, AreaKind::Workloads, "{all}");
        assert_eq!(p.level, Level::Failing, "{all}");
        assert_eq!(p.target.as_ref().unwrap().kind, TargetKind::Workload(kind));
        for e in evidence {
            assert!(p.message.contains(e), "{name} without {e:?}:\n{all}");
        }
    }

    // The NotReady node names the workloads it takes down; they have no line of their own
    // (a fault of its own — a crash loop, a pull failure — placed there is its own cause,
    // told under its workload as checked above).
    let node = mentioning(&r, "worker-3 NotReady");
    assert_eq!(node.len(), 1, "{all}");
    assert_eq!(node[0].target.as_ref().unwrap().kind, TargetKind::Node);
    let on_node: Vec<&str> = state
        .pods
        .values()
        .filter(|p| p.node == "worker-3")
        .filter_map(|p| p.workload.as_deref())
        .filter(|w| !FAULTS.iter().any(|(_, name, _)| name == w))
        .collect();
    assert!(!on_node.is_empty(), "{all}");
    for w in on_node {
        let lines_about = r
            .problems
            .iter()
            .filter(|p| p.area != AreaKind::Cluster && p.message.contains(&format!("/{w}")))
            .count();
        assert_eq!(lines_about, 0, "{w} is told under worker-3:\n{all}");
    }

    // No pod of a workload is a line of its own.
    for p in r.problems.iter().filter(|p| p.area == AreaKind::Pods) {
        assert!(
            p.target.as_ref().is_none_or(|t| t.kind != TargetKind::Pod)
                || !state
                    .pods
                    .values()
                    .any(|x| x.name == p.target.as_ref().unwrap().name && x.workload.is_some()),
            "a pod line for a workload's pod: {}\n{all}",
            p.message
        );
    }
}

// ---- The Overview cursor stays on its problem when the list reorders ----

fn node(name: &str, ready: Option<bool>) -> helmdeck::core::cluster::NodeRow {
    helmdeck::core::cluster::NodeRow {
        name: name.into(),
        ready,
        unschedulable: false,
        memory_pressure: false,
        disk_pressure: false,
        pid_pressure: false,
        roles: vec!["worker".into()],
        version: "v1.33.1".into(),
        internal_ip: "10.0.0.1".into(),
        created: None,
        ready_since: None,
        cpu_millis: 8000,
        memory_bytes: 32 << 30,
    }
}

fn deployment(name: &str, available: i32) -> helmdeck::core::cluster::WorkloadRow {
    use helmdeck::core::health::{Health, HealthStatus};
    helmdeck::core::cluster::WorkloadRow {
        kind: WorkloadKind::Deployment,
        namespace: "shop".into(),
        name: name.into(),
        desired: 2,
        ready: available,
        updated: 2,
        available,
        health: Health::new(HealthStatus::Healthy, ""),
        images: vec![],
        selector: Default::default(),
        created: None,
        release: None,
    }
}

#[test]
fn the_overview_cursor_follows_its_problem_when_the_list_reorders() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use helmdeck::tui::app::App;
    use helmdeck::tui::keymap::{KeyMap, Screen};
    use helmdeck::tui::theme::Theme;
    let mut a = App::new(
        KeyMap::default(),
        Theme::default(),
        "fixture".into(),
        None,
        false,
    );
    let mut s = ClusterState::default();
    s.nodes
        .insert("worker-4".into(), node("worker-4", Some(false)));
    for w in ["api", "web"] {
        s.workloads.insert(
            (WorkloadKind::Deployment, "shop".into(), w.into()),
            deployment(w, 1),
        );
    }
    a.state = s;
    a.now = jiff::Timestamp::now();
    assert_eq!(a.screen, Screen::Overview);
    let order = |a: &mut App| -> Vec<String> {
        a.rollup()
            .problems
            .iter()
            .filter(|p| p.target.is_some())
            .map(|p| p.target.as_ref().unwrap().name.clone())
            .collect()
    };
    assert_eq!(order(&mut a)[..3], ["worker-4", "api", "web"]);
    for _ in 0..2 {
        a.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
    }
    let on = |a: &mut App| {
        let i = a.selected_index();
        a.rollup().problems[i].target.as_ref().unwrap().name.clone()
    };
    assert_eq!(on(&mut a), "web");
    // A new problem sorts before it: the cursor moves with web, not onto api.
    a.state
        .nodes
        .insert("worker-1".into(), node("worker-1", Some(false)));
    a.state.generation += 1;
    assert_eq!(order(&mut a)[..4], ["worker-1", "worker-4", "api", "web"]);
    assert_eq!(on(&mut a), "web");
    // Its problem gone, the cursor stays where it was.
    a.state.workloads.retain(|(_, _, n), _| n != "web");
    a.state.generation += 1;
    assert!(a.selected_index() < a.rollup().problems.len());
}

// ---- The same, as a person sees it: the real binary in tmux ----

/// The Overview's problem lines on screen that mention `needle`.
fn screen_lines<'a>(screen: &'a str, needle: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|l| l.contains(needle) && (l.contains("Failing") || l.contains("Degraded")))
        .collect()
}

#[test]
fn in_tmux_the_trouble_overview_shows_each_problem_once_under_its_cause() {
    use std::process::Command;
    use std::time::{Duration, Instant};
    let home = tempfile::tempdir().unwrap();
    let socket = format!("helmdeck-triage-{}", std::process::id());
    let h = home.path().display();
    let bin = env!("CARGO_BIN_EXE_helmdeck");
    let script = format!(
        "HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data {bin} demo --scenario trouble; sleep 60"
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux runs")
    };
    assert!(
        tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "300",
            "-y",
            "40",
            &script
        ])
        .status
        .success()
    );
    struct Kill<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            (self.0)(&["kill-server"]);
        }
    }
    let _kill = Kill(&tmux);
    let deadline = Instant::now() + Duration::from_secs(90);
    let screen = loop {
        let s = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
        let evidenced = |name: &str, e: &str| screen_lines(&s, name).iter().any(|l| l.contains(e));
        if s.contains("pods on it")
            && evidenced("forwarder-pinterest", "last exit Error (exit code 1)")
            && (evidenced("jupyter-gateway", "Failed to pull image")
                || evidenced("worker-3", "jupyter-gateway"))
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the trouble never showed; the screen was:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The crash loop: once, on its deployment's line, with the last termination.
    let crash = screen_lines(&screen, "forwarder-pinterest");
    assert_eq!(crash.len(), 1, "{screen}");
    assert!(
        crash[0].contains("deployment mr-ee/forwarder-pinterest")
            && crash[0].contains("crash-looping for "),
        "{screen}"
    );
    // The NotReady node names the pods it takes down, on one line.
    let node = screen_lines(&screen, "node worker-3 NotReady");
    assert_eq!(node.len(), 1, "{screen}");
    assert!(node[0].contains("pods on it, unavailable: "), "{screen}");
    // No pod of a workload has a line of its own.
    assert!(
        !screen.lines().any(|l| l.contains("Failing    pod ")),
        "{screen}"
    );
}
