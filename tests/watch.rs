//! The watch layer and the roll-up against the in-process sandbox, and `helmdeck status`
//! as a real process against `helmdeck sandbox`.

use helmdeck::core::cluster::rollup::{AreaKind, Level, Problem, Rollup, TargetKind, rollup};
use helmdeck::core::cluster::watch::{WatchHandle, spawn_watches};
use helmdeck::core::cluster::{Change, ClusterState, ClusterUpdate, Resource, WorkloadKind};
use helmdeck::core::release::ReleaseStatus;
use helmdeck::sandbox::resources::Storage;
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

async fn start(scenario: &str, pods: Option<usize>) -> anyhow::Result<(Sandbox, Client)> {
    let sb = Sandbox::start(Options {
        scenario: scenario.into(),
        pods,
        ..Default::default()
    })
    .await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    Ok((sb, client))
}

/// A state fed by the watches, as the UI loop would own it.
struct Watched {
    state: ClusterState,
    rx: mpsc::Receiver<ClusterUpdate>,
    _watches: WatchHandle,
}

impl Watched {
    fn start(client: Client, namespace: Option<&str>) -> Watched {
        let (tx, rx) = mpsc::channel(64);
        let watches = spawn_watches(client, namespace.map(String::from), tx);
        Watched {
            state: ClusterState::default(),
            rx,
            _watches: watches,
        }
    }

    /// Applies updates until `done` holds, for at most `limit`.
    async fn until(
        &mut self,
        limit: Duration,
        what: &str,
        done: impl Fn(&ClusterState) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&self.state) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(u)) => self.state.apply(u),
                Ok(None) => anyhow::bail!("the watches stopped while waiting for {what}"),
                Err(_) => anyhow::bail!(
                    "timed out after {limit:?} waiting for {what}; sources: {:?}",
                    self.state.sources
                ),
            }
        }
        Ok(())
    }

    async fn synced(&mut self) -> anyhow::Result<()> {
        self.until(Duration::from_secs(20), "the first lists", |s| s.synced())
            .await
    }
}

fn store_pods(sb: &Sandbox, namespace: Option<&str>) -> BTreeSet<(String, String)> {
    sb.store
        .all(Storage::Pods)
        .iter()
        .filter(|o| namespace.is_none_or(|ns| o.namespace == ns))
        .map(|o| (o.namespace.clone(), o.name.clone()))
        .collect()
}

fn state_pods(s: &ClusterState) -> BTreeSet<(String, String)> {
    s.pods.keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn default_scenario_syncs() -> anyhow::Result<()> {
    let (sb, client) = start("default", None).await?;
    let mut w = Watched::start(client, None);
    w.synced().await?;
    // The watch layer mirrors the store (the controllers may still be settling).
    let expected = store_pods(&sb, None);
    assert!(
        expected.len() >= 20,
        "{} pods in the scenario",
        expected.len()
    );
    w.until(Duration::from_secs(15), "the pods of the store", |s| {
        state_pods(s) == store_pods(&sb, None)
    })
    .await?;
    let s = &w.state;

    let nodes: Vec<&str> = s.nodes.keys().map(String::as_str).collect();
    assert_eq!(nodes, vec!["worker-1", "worker-2", "worker-3", "worker-4"]);
    assert!(s.nodes.values().all(|n| n.ready == Some(true)));
    assert!(s.nodes.values().all(|n| n.cpu_millis == 8000));

    let count = |k: WorkloadKind| s.workloads.keys().filter(|w| w.0 == k).count();
    assert_eq!(count(WorkloadKind::Deployment), 9);
    assert_eq!(count(WorkloadKind::StatefulSet), 3);
    assert_eq!(count(WorkloadKind::DaemonSet), 1);
    let router = &s.workloads[&(WorkloadKind::Deployment, "mr-ee".into(), "router".into())];
    assert_eq!(router.desired, 2);
    assert_eq!(router.release.as_deref(), Some("ee"));
    let minio = &s.workloads[&(WorkloadKind::StatefulSet, "iomete".into(), "minio".into())];
    assert_eq!(minio.desired, 2);
    let exporter = &s.workloads[&(
        WorkloadKind::DaemonSet,
        "kube-system".into(),
        "node-exporter".into(),
    )];
    assert_eq!(exporter.desired, 4);

    // Every pod of a workload knows it.
    for p in s.pods.values().filter(|p| p.namespace == "mr-ee") {
        let kind = p.workload_kind().expect("a workload kind");
        let name = p.workload.clone().expect("a workload");
        assert!(
            s.workloads
                .contains_key(&(kind, p.namespace.clone(), name.clone())),
            "{}: no workload {kind:?} {name}",
            p.name
        );
    }

    let hpa = s
        .hpa_for(WorkloadKind::Deployment, "migratorydata", "migratorydata")
        .expect("the migratorydata HPA");
    assert_eq!((hpa.min, hpa.max), (2, 5));

    assert_eq!(s.revisions.len(), 4 + 3 + 2);
    assert!(s.revisions.values().all(|r| r.error.is_none()));
    let releases: Vec<(String, String, i64, ReleaseStatus)> = s
        .releases()
        .into_iter()
        .map(|r| (r.namespace, r.name, r.revision, r.status))
        .collect();
    assert_eq!(
        releases,
        vec![
            (
                "iomete".into(),
                "iomete-dataplane".into(),
                3,
                ReleaseStatus::Deployed
            ),
            (
                "migratorydata".into(),
                "migratorydata".into(),
                2,
                ReleaseStatus::Deployed
            ),
            ("mr-ee".into(), "ee".into(), 4, ReleaseStatus::Deployed),
        ]
    );

    // Metrics are polled, not watched.
    w.until(Duration::from_secs(15), "metrics", |s| {
        !s.pod_usage.is_empty() && !s.node_usage.is_empty()
    })
    .await?;
    assert!(w.state.pod_usage.values().any(|u| u.cpu_millis > 0));
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_changes_show_up() -> anyhow::Result<()> {
    let (sb, client) = start("default", None).await?;
    let mut w = Watched::start(client.clone(), Some("mr-ee"));
    w.synced().await?;
    // Namespaced: only mr-ee's pods, workloads and releases; nodes stay cluster-wide.
    assert!(!w.state.pods.is_empty());
    assert!(w.state.pods.keys().all(|k| k.0 == "mr-ee"));
    assert!(w.state.workloads.keys().all(|k| k.1 == "mr-ee"));
    assert!(w.state.revisions.keys().all(|k| k.0 == "mr-ee"));
    assert_eq!(w.state.nodes.len(), 4);

    let victim = w
        .state
        .pods
        .values()
        .find(|p| p.workload.as_deref() == Some("router"))
        .expect("a router pod")
        .name
        .clone();
    let pods: Api<Pod> = Api::namespaced(client, "mr-ee");

    // A modification is an upsert.
    let patch = serde_json::json!({"metadata": {"labels": {"helmdeck-test": "touched"}}});
    pods.patch(&victim, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let key = ("mr-ee".to_string(), victim.clone());
    w.until(Duration::from_secs(10), "the label", |s| {
        s.pods
            .get(&key)
            .is_some_and(|p| p.labels.get("helmdeck-test").map(String::as_str) == Some("touched"))
    })
    .await?;

    // A deletion removes the row; the ReplicaSet's replacement appears.
    let before: BTreeSet<String> = w
        .state
        .pods
        .values()
        .filter(|p| p.workload.as_deref() == Some("router"))
        .map(|p| p.name.clone())
        .collect();
    pods.delete(&victim, &DeleteParams::default()).await?;
    w.until(Duration::from_secs(20), "the pod to go", |s| {
        !s.pods.contains_key(&key)
    })
    .await?;
    w.until(Duration::from_secs(20), "a replacement router pod", |s| {
        s.pods
            .values()
            .any(|p| p.workload.as_deref() == Some("router") && !before.contains(&p.name))
    })
    .await?;
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_initial_list_comes_in_parts_and_shows_once_whole() -> anyhow::Result<()> {
    let (sb, client) = start("default", Some(5000)).await?;
    let expected = store_pods(&sb, None);
    assert!(expected.len() >= 5000, "{} pods", expected.len());
    let (tx, mut rx) = mpsc::channel(64);
    let _watches = spawn_watches(client, None, tx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut state = ClusterState::default();
    let mut parts = Vec::new();
    loop {
        let update = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) => u,
            other => anyhow::bail!("the list did not end: {other:?}"),
        };
        let ClusterUpdate::Pods(changes) = &update else {
            state.apply(update);
            continue;
        };
        let [change] = &changes[..] else {
            anyhow::bail!("one change an update while listing, got {}", changes.len())
        };
        match change {
            Change::Part { first, rows } => parts.push((*first, rows.len())),
            Change::EndParts(_) => {
                state.apply(update);
                break;
            }
            other => anyhow::bail!("a part or the end of the parts, got {other:?}"),
        }
        state.apply(update);
        // Out of sight until the list ends: no pods, and the source not yet listed.
        assert!(state.pods.is_empty());
        assert!(!state.sources.get(&Resource::Pods).is_some_and(|s| s.synced));
    }
    let firsts: Vec<bool> = parts.iter().map(|p| p.0).collect();
    assert!(parts.len() >= 2, "{parts:?}");
    assert!(firsts[0] && !firsts[1..].iter().any(|f| *f), "{firsts:?}");
    assert_eq!(state_pods(&state), expected, "the whole list, once");
    assert!(state.sources[&Resource::Pods].synced);
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn watches_survive_server_errors_and_dropped_watches() -> anyhow::Result<()> {
    // An outage: for its first 5 s the server fails 70 % of requests, so every feed's first
    // requests almost surely fail; watches are dropped all along. The errors have an end so
    // that the time to recover has a bound: kube's backoff (0.8 s doubling, up to twice that
    // with jitter) lets a feed fail at most 3 times in 5 s and retries within 6.4 s after.
    // With errors that never end, a feed that fails 6 times in a row waits past a minute
    // (as one CI run of this test did, when half of all requests failed).
    let sb = Sandbox::start(Options {
        faults: helmdeck::sandbox::faults::Faults::parse("5xx=0.7,5xx-for-ms=5000,drop-watch=0.05")
            .map_err(anyhow::Error::msg)?,
        ..Default::default()
    })
    .await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    let (tx, mut rx) = mpsc::channel(64);
    let _watches = spawn_watches(client, None, tx);
    let mut state = ClusterState::default();
    let mut errors = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    // Until the faults have shown, and the state has caught up with the store anyway.
    while !(state.synced() && !errors.is_empty() && state_pods(&state) == store_pods(&sb, None)) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(u)) => {
                if let ClusterUpdate::Error(r, m) = &u {
                    errors.push((*r, m.clone()));
                }
                state.apply(u);
            }
            other => {
                let (have, want) = (state_pods(&state), store_pods(&sb, None));
                let missing: Vec<_> = want.iter().filter(|p| !have.contains(p)).collect();
                let extra: Vec<_> = have.iter().filter(|p| !want.contains(p)).collect();
                anyhow::bail!(
                    "not synced through the faults: {other:?}; {} errors; pods missing {missing:?}, extra {extra:?}; sources {:?}",
                    errors.len(),
                    state.sources
                )
            }
        }
    }
    assert!(
        errors.iter().any(|(_, m)| m.starts_with("server error 50")),
        "{errors:?}"
    );
    assert_eq!(state.nodes.len(), 4);
    sb.stop().await;
    Ok(())
}

fn find(r: &Rollup, pred: impl Fn(&Problem) -> bool) -> Option<&Problem> {
    r.problems.iter().find(|p| pred(p))
}

fn trouble_seen(r: &Rollup) -> bool {
    crash_loop(r).is_some() && image_pull(r).is_some()
}

fn crash_loop(r: &Rollup) -> Option<&Problem> {
    find(r, |p| {
        // Under its deployment (issue #12), with the pod's crash loop as evidence.
        p.area == AreaKind::Workloads
            && p.level == Level::Failing
            && p.message.contains("crash-looping")
            && p.message.contains("forwarder-pinterest")
    })
}

fn image_pull(r: &Rollup) -> Option<&Problem> {
    find(r, |p| {
        p.area == AreaKind::Workloads
            && p.level == Level::Failing
            && p.message.contains("jupyter-gateway")
            && p.message.contains("cannot pull its image")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn trouble_rollup_reports_the_incidents() -> anyhow::Result<()> {
    let (sb, client) = start("trouble", None).await?;
    let mut w = Watched::start(client, None);
    w.synced().await?;
    // The crash loop needs a crash and a back-off first.
    w.until(Duration::from_secs(60), "the crash loop", |s| {
        trouble_seen(&rollup(s, jiff::Timestamp::now()))
    })
    .await?;
    let r = rollup(&w.state, jiff::Timestamp::now());
    let messages: Vec<&str> = r.problems.iter().map(|p| p.message.as_str()).collect();

    let crash = crash_loop(&r).expect("crash loop");
    let target = crash.target.as_ref().expect("a target");
    assert_eq!(target.namespace, "mr-ee");
    assert!(target.name.starts_with("forwarder-pinterest"), "{target:?}");
    assert!(
        matches!(
            target.kind,
            TargetKind::Pod | TargetKind::Workload(WorkloadKind::Deployment)
        ),
        "{target:?}"
    );
    assert!(image_pull(&r).is_some(), "{messages:#?}");

    let node = find(&r, |p| p.message.starts_with("node worker-3 NotReady")).expect("worker-3");
    assert_eq!(node.level, Level::Failing);
    assert_eq!(
        node.target.as_ref().map(|t| (t.kind, t.name.as_str())),
        Some((TargetKind::Node, "worker-3"))
    );
    assert!(
        messages.contains(&"node worker-2 has MemoryPressure"),
        "{messages:#?}"
    );

    let pending = find(&r, |p| {
        p.message
            .starts_with("release iomete-dataplane in iomete is pending-upgrade")
    })
    .expect("the pending release");
    assert_eq!(
        pending
            .target
            .as_ref()
            .map(|t| (t.kind, t.namespace.as_str(), t.name.as_str())),
        Some((TargetKind::Release, "iomete", "iomete-dataplane"))
    );
    assert!(
        find(&r, |p| p.message.starts_with(
            "deployment mr-ee/forwarder-pinterest Progressing: 0/1 available"
        ))
        .is_some(),
        "{messages:#?}"
    );

    let level = |a: AreaKind| r.area(a).map(|a| a.level);
    assert_eq!(level(AreaKind::Cluster), Some(Level::Failing));
    assert_eq!(level(AreaKind::Pods), Some(Level::Failing));
    assert_eq!(level(AreaKind::Releases), Some(Level::Degraded));
    assert_eq!(level(AreaKind::Topics), Some(Level::Unknown));
    assert!(r.failing());
    // Worst first.
    assert!(r.problems.windows(2).all(|w| w[0].level >= w[1].level));
    sb.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------
// `helmdeck status`, the real binary
// ---------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_helmdeck");

/// A `helmdeck sandbox` child process, killed on drop.
struct SandboxProcess {
    child: Child,
    /// Kept open: the sandbox prints more, and a closed pipe would kill it.
    stdout: BufReader<std::process::ChildStdout>,
}

impl SandboxProcess {
    fn start(scenario: &str, kubeconfig: &Path) -> anyhow::Result<SandboxProcess> {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--scenario", scenario, "--kubeconfig"])
            .arg(kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut guard = SandboxProcess {
            child,
            stdout: BufReader::new(stdout),
        };
        let mut line = String::new();
        guard.stdout.read_line(&mut line)?;
        if !line.starts_with("sandbox listening on") {
            let _ = guard.child.kill();
            anyhow::bail!("unexpected sandbox output: {line:?}");
        }
        Ok(guard)
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct StatusRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn status(args: &[&str], kubeconfig: &Path) -> anyhow::Result<StatusRun> {
    let out = Command::new(BIN)
        .arg("status")
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()?;
    Ok(StatusRun {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout)?,
        stderr: String::from_utf8(out.stderr)?,
    })
}

/// Runs `helmdeck status -o json` until `done` holds on its output, for at most `limit`.
fn status_until(
    kubeconfig: &Path,
    limit: Duration,
    what: &str,
    done: impl Fn(&StatusRun, &serde_json::Value) -> bool,
) -> anyhow::Result<(StatusRun, serde_json::Value)> {
    let deadline = Instant::now() + limit;
    loop {
        let run = status(&["-o", "json"], kubeconfig)?;
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).map_err(|e| {
            anyhow::anyhow!(
                "status -o json gave no JSON ({e}): {}{}",
                run.stdout,
                run.stderr
            )
        })?;
        if done(&run, &json) {
            return Ok((run, json));
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {limit:?} waiting for {what}; last exit {:?}: {json:#}",
                run.code
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn messages(json: &serde_json::Value) -> Vec<String> {
    json["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["message"].as_str().map(String::from))
        .collect()
}

#[test]
fn status_reports_trouble_and_exits_1() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let _sandbox = SandboxProcess::start("trouble", &kubeconfig)?;
    let (run, json) = status_until(
        &kubeconfig,
        Duration::from_secs(60),
        "the crash loop",
        |_, j| {
            messages(j)
                .iter()
                .any(|m| m.contains("crash-looping") && m.contains("forwarder-pinterest"))
        },
    )?;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let m = messages(&json);
    assert!(
        m.iter()
            .any(|m| m.contains("jupyter-gateway") && m.contains("cannot pull its image")),
        "{m:#?}"
    );
    assert!(
        m.iter().any(|m| m.starts_with("node worker-3 NotReady")),
        "{m:#?}"
    );
    assert!(
        m.iter()
            .any(|m| m.starts_with("release iomete-dataplane in iomete is pending-upgrade")),
        "{m:#?}"
    );
    let areas: Vec<(&str, &str)> = json["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| {
            (
                a["area"].as_str().unwrap_or(""),
                a["level"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(areas.contains(&("Cluster", "Failing")), "{areas:?}");
    assert!(areas.contains(&("Pods", "Failing")), "{areas:?}");
    let node = json["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .find(|p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("node worker-3"))
        })
        .expect("worker-3");
    assert_eq!(node["target"]["kind"], "Node");
    assert_eq!(node["target"]["name"], "worker-3");

    // The text report says the same, with glyphs.
    let text = status(&[], &kubeconfig)?;
    assert_eq!(text.code, Some(1));
    assert!(
        text.stdout
            .starts_with("✖ Failing · context helmdeck-sandbox · all namespaces\n"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("✖ Cluster"), "{}", text.stdout);
    assert!(
        text.stdout.contains("✖ node worker-3 NotReady"),
        "{}",
        text.stdout
    );

    // Namespaced: iomete's trouble only (the cluster's nodes still count).
    let ns = status(&["-o", "json", "-n", "iomete"], &kubeconfig)?;
    let json: serde_json::Value = serde_json::from_str(&ns.stdout)?;
    let m = messages(&json);
    assert!(!m.iter().any(|m| m.contains("mr-ee")), "{m:#?}");
    assert!(m.iter().any(|m| m.contains("iomete-dataplane")), "{m:#?}");
    Ok(())
}

#[test]
fn status_exits_0_on_a_healthy_cluster() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let _sandbox = SandboxProcess::start("default", &kubeconfig)?;
    let (run, json) = status_until(&kubeconfig, Duration::from_secs(60), "exit 0", |r, _| {
        r.code == Some(0)
    })?;
    let levels: Vec<&str> = json["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .filter_map(|a| a["level"].as_str())
        .collect();
    assert!(!levels.contains(&"Failing"), "{levels:?}");
    assert_eq!(json["areas"][0]["summary"], "4/4 nodes ready");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    Ok(())
}

#[test]
fn status_on_an_unreachable_cluster_exits_2() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    helmdeck::sandbox::server::write_kubeconfig(&kubeconfig, &format!("http://127.0.0.1:{port}"))?;
    let started = Instant::now();
    let run = status(&["-o", "json"], &kubeconfig)?;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!(
            "cannot reach the cluster at http://127.0.0.1:{port}/"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Connection refused"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

    // No kubeconfig anywhere.
    let out = Command::new(BIN)
        .arg("status")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", dir.path())
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(stderr.contains("no kubeconfig found"), "{stderr}");
    Ok(())
}

/// The console reads pods in protobuf, as client-go's typed clients do (it is what the API
/// server sends those clients), and every row is what the pod's JSON makes.
#[tokio::test(flavor = "multi_thread")]
async fn pods_come_in_protobuf_and_make_the_rows_of_their_json() -> anyhow::Result<()> {
    use axum::http::{Request, header};
    use helmdeck::core::cluster::slim::SlimPod;
    use helmdeck::sandbox::protobuf::{Mode, encode_pod};
    let (sb, client) = start("trouble", None).await?;

    // A client that prefers protobuf gets a protobuf watch; one that asks JSON gets JSON.
    for (accept, answer) in [
        (
            "application/vnd.kubernetes.protobuf, application/json",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ),
        ("application/json", "application/json"),
    ] {
        let request = Request::get(
            "/api/v1/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true\
             &resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
        )
        .header(header::ACCEPT, accept)
        .body(kube::client::Body::empty())?;
        let response = client.send(request).await?;
        assert_eq!(response.headers()[header::CONTENT_TYPE], answer, "{accept}");
    }

    // Every pod the sandbox holds is encoded whole: no field its tables lack.
    for o in sb.store.all(Storage::Pods) {
        let v: serde_json::Value = serde_json::from_slice(&o.json)?;
        if let Err(e) = encode_pod(&v, Mode::Strict) {
            anyhow::bail!(
                "{}/{}: {} is not in the protobuf tables",
                o.namespace,
                o.name,
                e.0
            );
        }
    }

    // The rows the watch made equal the rows of the stored pods' JSON. The simulated
    // kubelet keeps changing pods, so compare once the watch has caught up.
    let mut w = Watched::start(client, None);
    w.synced().await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        while let Ok(Some(u)) = tokio::time::timeout(Duration::from_millis(300), w.rx.recv()).await
        {
            w.state.apply(u);
        }
        let mut expected = std::collections::BTreeMap::new();
        for o in sb.store.all(Storage::Pods) {
            let row = serde_json::from_slice::<SlimPod>(&o.json)?.into_row();
            expected.insert((o.namespace.clone(), o.name.clone()), row);
        }
        if w.state.pods == expected {
            break;
        }
        if Instant::now() > deadline {
            let differ: Vec<_> = expected
                .iter()
                .filter(|(k, row)| w.state.pods.get(*k) != Some(row))
                .map(|(k, _)| k)
                .collect();
            anyhow::bail!("rows differ from the JSON's for {differ:?}");
        }
    }
    assert!(w.state.pods.len() >= 10, "{} pods", w.state.pods.len());
    sb.stop().await;
    Ok(())
}

/// The console reads release Secrets in protobuf too (their data as bytes, not base64), and
/// every revision is what the Secret's JSON makes: release, revision, status, time, and
/// once decoded, chart, versions and description.
#[tokio::test(flavor = "multi_thread")]
async fn release_secrets_come_in_protobuf_and_make_the_revisions_of_their_json()
-> anyhow::Result<()> {
    use axum::http::{Request, header};
    use helmdeck::core::cluster::ReleaseRevision;
    use helmdeck::sandbox::protobuf::{Mode, encode};
    use k8s_openapi::api::core::v1::Secret;
    let (sb, client) = start("trouble", None).await?;

    let request = Request::get(
        "/api/v1/secrets?labelSelector=owner%3Dhelm&watch=true&sendInitialEvents=true\
         &allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    .header(
        header::ACCEPT,
        "application/vnd.kubernetes.protobuf, application/json",
    )
    .body(kube::client::Body::empty())?;
    let response = client.send(request).await?;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/vnd.kubernetes.protobuf;stream=watch"
    );

    let mut expected = std::collections::BTreeMap::new();
    for o in sb.store.all(Storage::Secrets) {
        let v: serde_json::Value = serde_json::from_slice(&o.json)?;
        if let Err(e) = encode("v1", "Secret", &v, Mode::Strict) {
            anyhow::bail!(
                "{}/{}: {} is not in the protobuf tables",
                o.namespace,
                o.name,
                e.0
            );
        }
        let secret: Secret = serde_json::from_value(v)?;
        if secret.metadata.labels.as_ref().and_then(|l| l.get("owner")) == Some(&"helm".into()) {
            let mut revision = ReleaseRevision::from_secret_lazy(&secret);
            revision.decode();
            expected.insert((o.namespace.clone(), o.name.clone()), revision);
        }
    }
    assert!(expected.len() >= 3, "{} release Secrets", expected.len());

    let mut w = Watched::start(client, None);
    w.synced().await?;
    let read: std::collections::BTreeMap<_, _> = w
        .state
        .revisions
        .iter()
        .map(|(k, r)| {
            let mut r = r.clone();
            r.decode();
            (k.clone(), r)
        })
        .collect();
    assert_eq!(read, expected);
    sb.stop().await;
    Ok(())
}
