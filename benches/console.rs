//! Console benchmark: prints figures, asserts nothing.
//!
//!     cargo bench --bench console
//!
//! Against a sandbox child process (`helmdeck sandbox --pods N`) at N = 1,000, 10,000 and
//! 50,000 pods, through the same kube client and watch layer the console uses:
//! - time from start to a complete first screen (every watch synced, the Pods view drawn);
//! - frame render time of the Pods view at 200×60 (TestBackend), with the row index cached
//!   and right after a data change (index rebuilt);
//! - watch events absorbed per second while keys still answer (latency of a key press to
//!   the end of the frame that shows it), under churn from scaling workloads up and down;
//! - resident memory of the console side (this process; the sandbox is another process).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use helmdeck::core::cluster::{Change, ClusterUpdate, watch::spawn_watches};
use helmdeck::tui::app::{App, Msg};
use helmdeck::tui::keymap::KeyMap;
use helmdeck::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

mod common;
use common::{machine, median, start_sandbox, wait_quiet};

/// Resident memory of this process (the console side; the sandbox is another process).
fn rss_mb() -> f64 {
    common::rss_mb(std::process::id())
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn pod_changes(u: &ClusterUpdate) -> usize {
    match u {
        ClusterUpdate::Pods(cs) => cs
            .iter()
            .map(|c| match c {
                Change::Reset(rows) => rows.len(),
                _ => 1,
            })
            .sum(),
        _ => 0,
    }
}

struct Figures {
    pods: usize,
    first_screen_ms: f64,
    frame_cached_ms: f64,
    frame_cached_p99_ms: f64,
    frame_rebuild_ms: f64,
    events_per_s: f64,
    key_p50_ms: f64,
    key_p99_ms: f64,
    key_max_ms: f64,
    rss_mb: f64,
}

async fn run(pods: usize) -> Figures {
    let sb = start_sandbox(pods, None);
    wait_quiet(sb.child.id());
    let client = kube::Client::try_from(kube::Config::new(sb.url.parse().unwrap())).unwrap();
    // Complete first screen: every watch synced and the Pods view drawn.
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let _watches = spawn_watches(client.clone(), None, tx);
    let mut app = App::new(
        KeyMap::default(),
        Theme::default(),
        "bench".into(),
        None,
        false,
    );
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    app.on_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE));
    let mut synced_at: Vec<(helmdeck::core::cluster::Resource, f64)> = Vec::new();
    while !app.state.synced() {
        let Some(u) = rx.recv().await else { break };
        app.on_msg(Msg::Cluster(u));
        for (r, s) in &app.state.sources {
            if s.synced && !synced_at.iter().any(|(x, _)| x == r) {
                synced_at.push((*r, start.elapsed().as_secs_f64() * 1000.0));
            }
        }
    }
    let rss_synced = rss_mb();
    let stages: Vec<String> = synced_at
        .iter()
        .map(|(r, ms)| format!("{} {ms:.0} ms", r.name()))
        .collect();
    println!("pods={pods}: watches synced — {}", stages.join(", "));
    term.draw(|f| helmdeck::tui::views::draw(f, &mut app))
        .unwrap();
    let first_screen_ms = start.elapsed().as_secs_f64() * 1000.0;
    assert!(
        app.state.pods.len() >= pods,
        "{} pods seen of {pods}",
        app.state.pods.len()
    );

    // Frames with the index cached (no data change between frames).
    let mut cached = Vec::new();
    for i in 0..200 {
        app.on_key(KeyEvent::new(
            KeyCode::Char(if i % 2 == 0 { 'j' } else { 'k' }),
            KeyModifiers::NONE,
        ));
        let t = Instant::now();
        term.draw(|f| helmdeck::tui::views::draw(f, &mut app))
            .unwrap();
        cached.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Frames right after a data change: the row index is rebuilt.
    let mut rebuild = Vec::new();
    for _ in 0..20 {
        app.state.generation += 1;
        let t = Instant::now();
        term.draw(|f| helmdeck::tui::views::draw(f, &mut app))
            .unwrap();
        rebuild.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    // Churn: scale bench workloads down and up while keys arrive every 50 ms.
    let churn = tokio::spawn({
        let client = client.clone();
        async move {
            use k8s_openapi::api::apps::v1::Deployment;
            let targets: Vec<(String, String)> = (0..20)
                .map(|i| (format!("bench-{:03}", i / 20), format!("svc-{i:04}")))
                .collect();
            let mut up = false;
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                for (ns, name) in &targets {
                    let api: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), ns);
                    let patch = serde_json::json!({"spec": {"replicas": if up { 50 } else { 0 }}});
                    let _ = api
                        .patch_scale(
                            name,
                            &kube::api::PatchParams::default(),
                            &kube::api::Patch::Merge(&patch),
                        )
                        .await;
                }
                up = !up;
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
        }
    });
    let mut events = 0usize;
    let mut latencies = Vec::new();
    let mut keys = tokio::time::interval(Duration::from_millis(50));
    let window = Instant::now();
    let mut trimmer = helmdeck::tui::run::MemoryTrimmer::default();
    while window.elapsed() < Duration::from_secs(10) {
        tokio::select! {
            Some(u) = rx.recv() => {
                events += pod_changes(&u);
                let mut rows = u.rows();
                app.on_msg(Msg::Cluster(u));
                while let Ok(u) = rx.try_recv() {
                    events += pod_changes(&u);
                    rows += u.rows();
                    app.on_msg(Msg::Cluster(u));
                }
                trimmer.note(rows);
                term.draw(|f| helmdeck::tui::views::draw(f, &mut app)).unwrap();
            }
            at = keys.tick() => {
                trimmer.maybe_trim();
                app.on_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
                term.draw(|f| helmdeck::tui::views::draw(f, &mut app)).unwrap();
                latencies.push(at.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let secs = window.elapsed().as_secs_f64();
    let _ = churn.await;
    // As the console's loop does: a tick after the burst gives freed heap back.
    tokio::time::sleep(Duration::from_secs(1)).await;
    trimmer.maybe_trim();
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "pods={pods}: RSS after the first screen {rss_synced:.0} MB; after churn ({} pods, {} events held) {:.0} MB",
        app.state.pods.len(),
        app.state.events.len(),
        rss_mb()
    );
    Figures {
        pods,
        first_screen_ms,
        frame_cached_ms: median(&mut cached),
        frame_cached_p99_ms: pct(&mut cached, 0.99),
        frame_rebuild_ms: median(&mut rebuild),
        events_per_s: events as f64 / secs,
        key_p50_ms: pct(&mut latencies, 0.5),
        key_p99_ms: pct(&mut latencies, 0.99),
        key_max_ms: pct(&mut latencies, 1.0),
        rss_mb: rss_mb(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("console benchmark on {}", machine());
    let sizes: Vec<usize> = std::env::var("HELMDECK_BENCH_PODS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 50_000]);
    let mut all = Vec::new();
    for n in sizes {
        let f = rt.block_on(run(n));
        println!(
            "pods={:>6}  first screen {:>7.0} ms  frame {:.2} ms (p99 {:.2}, after a change {:.2})  churn {:>6.0} pod events/s, key→frame p50 {:.1} ms p99 {:.1} ms max {:.1} ms  RSS {:.0} MB",
            f.pods,
            f.first_screen_ms,
            f.frame_cached_ms,
            f.frame_cached_p99_ms,
            f.frame_rebuild_ms,
            f.events_per_s,
            f.key_p50_ms,
            f.key_p99_ms,
            f.key_max_ms,
            f.rss_mb
        );
        all.push(f);
    }
    println!(
        "\n| pods | first screen | Pods frame 200×60 (cached / after change) | pod events absorbed | key → frame p99 (max) | console RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for f in &all {
        println!(
            "| {} | {:.0} ms | {:.2} ms / {:.2} ms | {:.0}/s | {:.1} ms ({:.1} ms) | {:.0} MB |",
            f.pods,
            f.first_screen_ms,
            f.frame_cached_ms,
            f.frame_rebuild_ms,
            f.events_per_s,
            f.key_p99_ms,
            f.key_max_ms,
            f.rss_mb
        );
    }
    println!(
        "targets: first screen < 500 ms at 10,000 and < 2 s at 50,000; frame < 5 ms at 50,000; keys within 50 ms; RSS < 150 MB at 50,000"
    );
}
