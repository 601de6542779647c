//! Links to a platform's dashboards: `o` in the console (on ratatui's TestBackend, from
//! fixtures of real objects) and `helmdeck links` on the command line.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use helmdeck::config::{Config, Platform};
use helmdeck::core::cluster::{
    Change, ClusterState, ClusterUpdate, PodRow, ReleaseRevision, WorkloadKind, WorkloadRow,
};
use helmdeck::tui::app::{App, Effect};
use helmdeck::tui::keymap::{KeyMap, Screen};
use helmdeck::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::process::Command;

fn fixture<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

const LINKS: &str = "platforms:
  - name: shop
    namespace: shop
    release: shop
    links:
      grafana: https://grafana.example/d/abc?var-namespace={namespace}&var-workload={workload}
      kibana: https://kibana.example/app/discover#/?pod={pod}&c={container}
      release: https://grafana.example/d/rel?r={release}&ctx={context}
";

fn platforms() -> Vec<Platform> {
    Config::from_yaml(LINKS, Path::new("links.yaml"))
        .unwrap()
        .platforms
}

/// The shop namespace of the fixtures: a healthy Deployment `web`, its pod, its release.
fn app() -> App {
    let mut s = ClusterState::default();
    s.apply(ClusterUpdate::Pods(vec![Change::Reset(vec![
        PodRow::from_pod(&fixture("pods/running-ready.json")),
    ])]));
    s.apply(ClusterUpdate::Workloads(
        WorkloadKind::Deployment,
        vec![Change::Reset(vec![WorkloadRow::from_deployment(&fixture(
            "workloads/deployment-healthy.json",
        ))])],
    ));
    s.apply(ClusterUpdate::Releases(vec![Change::Reset(vec![
        ReleaseRevision::from_secret(&fixture("releases/secret-shop-v3.json")),
    ])]));
    let mut a = App::new(
        KeyMap::default(),
        Theme::default(),
        "prod/west".into(),
        None,
        false,
    );
    a.state = s;
    a.platforms = platforms();
    a.now = "2025-05-14T10:05:00Z".parse().unwrap();
    a
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn render(a: &mut App) -> String {
    let mut t = Terminal::new(TestBackend::new(140, 30)).unwrap();
    t.draw(|f| helmdeck::tui::views::draw(f, a)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn o_on_a_pod_lists_its_links_filled_in_and_enter_copies_and_opens_the_chosen_one() {
    let mut a = app();
    a.on_key(key('4'));
    assert_eq!(a.screen, Screen::Pods);
    assert!(a.on_key(key('o')).is_empty());
    let screen = render(&mut a);
    assert!(
        screen.contains("Links — pod shop/web-7d4b9c8f6-xk2lp"),
        "{screen}"
    );
    assert!(
        screen
            .contains("grafana  https://grafana.example/d/abc?var-namespace=shop&var-workload=web"),
        "{screen}"
    );
    assert!(
        screen.contains(
            "kibana   https://kibana.example/app/discover#/?pod=web-7d4b9c8f6-xk2lp&c=web"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("release  https://grafana.example/d/rel?r=shop&ctx=prod%2Fwest"),
        "{screen}"
    );
    // The cursor moves; enter copies the chosen link (OSC 52) and opens it.
    a.on_key(key('j'));
    let effects = a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let url = "https://kibana.example/app/discover#/?pod=web-7d4b9c8f6-xk2lp&c=web".to_string();
    assert_eq!(
        effects,
        [
            Effect::CopyLink { url: url.clone() },
            Effect::OpenLink {
                name: "kibana".into(),
                url: url.clone()
            }
        ]
    );
    assert!(a.links.is_none());
    let screen = render(&mut a);
    assert!(
        screen.contains("copied kibana to the clipboard (OSC 52)"),
        "{screen}"
    );
}

#[test]
fn a_workload_is_not_offered_what_needs_a_pod_and_a_release_only_its_own() {
    let mut a = app();
    a.on_key(key('3'));
    a.on_key(key('o'));
    let screen = render(&mut a);
    assert!(screen.contains("Links — Deployment shop/web"), "{screen}");
    assert!(
        screen
            .contains("grafana  https://grafana.example/d/abc?var-namespace=shop&var-workload=web"),
        "{screen}"
    );
    assert!(!screen.contains("https://kibana"), "{screen}");
    assert!(
        screen.contains("kibana — not here: needs {pod}, {container}"),
        "{screen}"
    );
    // `c` copies only; esc closes without anything.
    let effects = a.on_key(key('c'));
    assert!(
        matches!(effects.as_slice(), [Effect::CopyLink { .. }]),
        "{effects:?}"
    );
    a.on_key(key('o'));
    assert!(
        a.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE))
            .is_empty()
    );
    assert!(a.links.is_none());

    a.on_key(key('6'));
    a.on_key(key('o'));
    let screen = render(&mut a);
    assert!(screen.contains("Links — release shop/shop"), "{screen}");
    assert!(
        screen.contains("release  https://grafana.example/d/rel?r=shop&ctx=prod%2Fwest"),
        "{screen}"
    );
    assert!(
        screen.contains("grafana — not here: needs {workload}"),
        "{screen}"
    );

    // No platform with links in the namespace: a message, no list.
    let mut a = app();
    a.platforms.clear();
    a.on_key(key('4'));
    a.on_key(key('o'));
    assert!(a.links.is_none());
    let screen = render(&mut a);
    assert!(
        screen.contains("no links for pod shop/web-7d4b9c8f6-xk2lp"),
        "{screen}"
    );
}

/// `helmdeck links …` with a config and a kubeconfig whose current context is `prod/west`.
fn links(dir: &Path, config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let cfg = dir.join(format!("config-{}.yaml", config.len()));
    std::fs::write(&cfg, config).unwrap();
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: prod/west\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: prod/west\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .arg("links")
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .arg("--kubeconfig")
        .arg(&kc)
        .env("HOME", dir)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_prints_the_links_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = links(dir.path(), LINKS, &["shop"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out, "release  https://grafana.example/d/rel?r=shop&ctx=prod%2Fwest\n",
        "{err}"
    );
    assert!(
        err.contains("grafana: not filled in: needs {workload} (give --workload)"),
        "{err}"
    );
    assert!(
        err.contains("kibana: not filled in: needs {pod}, {container} (give --pod --container)"),
        "{err}"
    );

    let (code, out, err) = links(
        dir.path(),
        LINKS,
        &[
            "shop",
            "--workload",
            "web",
            "--pod",
            "web-1",
            "--container",
            "web",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["platform"], "shop");
    assert_eq!(v["namespace"], "shop");
    assert_eq!(v["release"], "shop");
    assert_eq!(
        v["links"],
        serde_json::json!([
            {"name": "grafana", "url": "https://grafana.example/d/abc?var-namespace=shop&var-workload=web"},
            {"name": "kibana", "url": "https://kibana.example/app/discover#/?pod=web-1&c=web"},
            {"name": "release", "url": "https://grafana.example/d/rel?r=shop&ctx=prod%2Fwest"},
        ])
    );
    assert_eq!(v["missing"], serde_json::json!([]));

    // An unknown release names the platforms there are.
    let (code, _, err) = links(dir.path(), LINKS, &["nope"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("names release \"nope\"") && err.contains("shop (release shop in shop)"),
        "{err}"
    );
    // A template with an unknown placeholder is a config error naming it.
    let bad = LINKS.replace("{pod}", "{node}");
    let (code, _, err) = links(dir.path(), &bad, &["shop"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("platform `shop`: link `kibana`: unknown placeholder `{node}`"),
        "{err}"
    );
}
