//! The console's writes (scale, HPA range, autoscale, cordon, drain) against the in-process
//! sandbox, and `helmdeck scale` as a real process against `helmdeck sandbox`.

use helmdeck::core::cluster::WorkloadKind;
use helmdeck::core::cluster::actions::{
    self, ActionError, DrainOptions, DrainProgress, DrainStep, HpaRange, Progress,
};
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

async fn start() -> anyhow::Result<(Sandbox, Client)> {
    let sb = Sandbox::start(Options::default()).await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    Ok((sb, client))
}

/// Polls `f` until it gives `Some`, for at most `limit`.
async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn drain_channel() -> (
    mpsc::Sender<DrainProgress>,
    tokio::task::JoinHandle<Vec<DrainProgress>>,
) {
    let (tx, mut rx) = mpsc::channel(1024);
    let collect = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(p) = rx.recv().await {
            all.push(p);
        }
        all
    });
    (tx, collect)
}

async fn pods_on(client: &Client, node: &str) -> anyhow::Result<Vec<Pod>> {
    let pods: Api<Pod> = Api::all(client.clone());
    Ok(pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?
        .items)
}

fn key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

fn is_daemonset_pod(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet")
}

async fn unschedulable(client: &Client, node: &str) -> anyhow::Result<bool> {
    let n = Api::<Node>::all(client.clone()).get(node).await?;
    Ok(n.spec.and_then(|s| s.unschedulable).unwrap_or(false))
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_router_to_4_converges_live() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let plan = actions::scale_plan(&client, WorkloadKind::Deployment, "mr-ee", "router").await?;
    assert_eq!((plan.current, plan.hpa.clone()), (2, None));
    assert!(plan.needs_confirmation(0));
    assert!(!plan.needs_confirmation(4));
    plan.check(4, false)?;

    let out = actions::scale(&client, WorkloadKind::Deployment, "mr-ee", "router", 4).await?;
    assert_eq!((out.previous, out.replicas), (2, 4));
    let (tx, mut rx) = mpsc::channel::<Progress>(256);
    let done = actions::watch_rollout(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "router",
        tx,
        Duration::from_secs(60),
    )
    .await?;
    assert!(done.converged);
    assert_eq!((done.ready, done.updated, done.desired), (4, 4, 4));
    let mut seen = Vec::new();
    while let Some(p) = rx.recv().await {
        seen.push(p);
    }
    // It was followed while converging, not just read at the end.
    assert!(seen.iter().any(|p| !p.converged), "{seen:?}");
    assert_eq!(seen.last(), Some(&done));

    let d = Api::<Deployment>::namespaced(client.clone(), "mr-ee")
        .get("router")
        .await?;
    assert_eq!(d.status.and_then(|s| s.ready_replicas), Some(4));
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_a_statefulset_converges_with_matching_revisions() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let out = actions::scale(&client, WorkloadKind::StatefulSet, "iomete", "minio", 3).await?;
    assert_eq!((out.previous, out.replicas), (2, 3));
    let (tx, _rx) = mpsc::channel(256);
    let done = actions::watch_rollout(
        &client,
        WorkloadKind::StatefulSet,
        "iomete",
        "minio",
        tx,
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!((done.ready, done.desired, done.converged), (3, 3, true));

    // A missing workload is named, not waited for.
    let (tx, _rx) = mpsc::channel(16);
    let err = actions::watch_rollout(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "nope",
        tx,
        Duration::from_secs(20),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ActionError::NotFound(_)), "{err}");
    let err = actions::scale(&client, WorkloadKind::Deployment, "mr-ee", "nope", 2)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("deployment mr-ee/nope not found"),
        "{err}"
    );
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_that_cannot_converge_times_out_saying_where_it_stands() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    for n in 1..=4 {
        actions::cordon(&client, &format!("worker-{n}")).await?;
    }
    actions::scale(&client, WorkloadKind::Deployment, "mr-ee", "router", 4).await?;
    let (tx, mut rx) = mpsc::channel(256);
    let err = actions::watch_rollout(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "router",
        tx,
        Duration::from_secs(4),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ActionError::RolloutTimeout { .. }), "{err}");
    assert!(
        err.to_string().contains(
            "timed out after 4s waiting for deployment mr-ee/router to converge: 2/4 ready"
        ),
        "{err}"
    );
    let mut last = None;
    while let Some(p) = rx.recv().await {
        last = Some(p);
    }
    let last: Progress = last.expect("progress was sent");
    assert_eq!((last.ready, last.desired, last.converged), (2, 4, false));
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scale_plan_reports_the_hpa_and_its_range_can_be_edited() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let plan = actions::scale_plan(
        &client,
        WorkloadKind::Deployment,
        "migratorydata",
        "migratorydata",
    )
    .await?;
    let hpa = HpaRange {
        name: "migratorydata".into(),
        min: 2,
        max: 5,
    };
    assert_eq!(plan.hpa, Some(hpa));
    let err = plan.check(4, true).unwrap_err();
    assert!(matches!(err, ActionError::ManagedByHpa { .. }));
    assert!(
        err.to_string().contains(
            "managed by HPA migratorydata (min 2, max 5): scaling the deployment would be undone by the autoscaler; edit the HPA's range instead"
        ),
        "{err}"
    );

    // Refused before sending: min > max, min < 1.
    let err = actions::set_hpa_range(&client, "migratorydata", "migratorydata", 6, 3)
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::Invalid(_)), "{err}");
    assert!(
        err.to_string()
            .contains("minimum (6) is above its maximum (3)")
    );
    let err = actions::set_hpa_range(&client, "migratorydata", "migratorydata", 0, 3)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "migratorydata");
    let spec = hpas.get("migratorydata").await?.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 5));

    let r = actions::set_hpa_range(&client, "migratorydata", "migratorydata", 3, 6).await?;
    assert_eq!((r.min, r.max), (3, 6));
    let spec = hpas.get("migratorydata").await?.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(3), 6));
    let err = actions::set_hpa_range(&client, "migratorydata", "nope", 1, 2)
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::NotFound(_)), "{err}");
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cordon_and_uncordon() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    assert!(!unschedulable(&client, "worker-3").await?);
    assert!(actions::cordon(&client, "worker-3").await?);
    assert!(unschedulable(&client, "worker-3").await?);
    assert!(!actions::cordon(&client, "worker-3").await?);
    assert!(actions::uncordon(&client, "worker-3").await?);
    assert!(!unschedulable(&client, "worker-3").await?);
    assert!(!actions::uncordon(&client, "worker-3").await?);
    let err = actions::cordon(&client, "worker-9").await.unwrap_err();
    assert!(err.to_string().contains("node worker-9 not found"), "{err}");
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_evicts_every_pod_but_daemonset_ones_and_they_come_back_elsewhere()
-> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let node = "worker-1";
    let before = pods_on(&client, node).await?;
    let expected: BTreeSet<String> = before
        .iter()
        .filter(|p| !is_daemonset_pod(p))
        .map(key)
        .collect();
    assert!(!expected.is_empty(), "no pods on {node} to drain");

    let (tx, collect) = drain_channel();
    let opts = DrainOptions {
        ignore_daemonsets: true,
        timeout: Duration::from_secs(90),
        ..Default::default()
    };
    let report = actions::drain(&client, node, opts, tx).await?;
    let progress = collect.await?;
    assert_eq!(
        report.evicted.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(report.skipped_daemonset.len(), 1, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(unschedulable(&client, node).await?);
    assert!(matches!(
        progress.first(),
        Some(DrainProgress::Cordoned { already: false, .. })
    ));
    for pod in &expected {
        for step in [DrainStep::Evicting, DrainStep::Gone] {
            assert!(
                progress.iter().any(|p| matches!(p,
                    DrainProgress::Pod { namespace, name, step: s }
                        if format!("{namespace}/{name}") == *pod && *s == step)),
                "no {step:?} for {pod}: {progress:?}"
            );
        }
    }

    // Only the DaemonSet pod is left on the node; the others are recreated elsewhere.
    let left = pods_on(&client, node).await?;
    assert!(left.iter().all(is_daemonset_pod), "{left:?}");
    let deploys: Api<Deployment> = Api::all(client.clone());
    let sets: Api<StatefulSet> = Api::all(client.clone());
    wait_for(
        Duration::from_secs(60),
        "every workload to be ready again",
        || {
            let (deploys, sets) = (deploys.clone(), sets.clone());
            async move {
                let lp = ListParams::default();
                let d_ok = deploys.list(&lp).await?.items.iter().all(|d| {
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let st = d.status.clone().unwrap_or_default();
                    st.ready_replicas.unwrap_or(0) == want && st.replicas.unwrap_or(0) == want
                });
                let s_ok = sets.list(&lp).await?.items.iter().all(|s| {
                    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let st = s.status.clone().unwrap_or_default();
                    st.ready_replicas.unwrap_or(0) == want && st.replicas == want
                });
                Ok((d_ok && s_ok).then_some(()))
            }
        },
    )
    .await?;
    let all: Api<Pod> = Api::all(client.clone());
    let pods = all.list(&ListParams::default()).await?.items;
    for p in pods.iter().filter(|p| !is_daemonset_pod(p)) {
        let on = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
        assert_ne!(
            on,
            Some(node),
            "{} was scheduled on the cordoned node",
            key(p)
        );
    }
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_refuses_daemonset_and_unmanaged_pods_before_evicting_anything() -> anyhow::Result<()>
{
    let (sb, client) = start().await?;
    let node = "worker-2";
    let uids = |pods: &[Pod]| -> BTreeSet<String> {
        pods.iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.uid.clone())
            .collect()
    };
    let before = uids(&pods_on(&client, node).await?);

    let (tx, collect) = drain_channel();
    let err = actions::drain(&client, node, DrainOptions::default(), tx)
        .await
        .unwrap_err();
    collect.await?;
    match &err {
        ActionError::DrainRefused { pods, .. } => {
            assert_eq!(pods.len(), 1, "{err}");
            assert!(pods[0].name.starts_with("node-exporter-"), "{err}");
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert!(err.to_string().contains("--ignore-daemonsets"), "{err}");
    assert!(
        unschedulable(&client, node).await?,
        "the node stays cordoned"
    );
    assert_eq!(uids(&pods_on(&client, node).await?), before);

    // A bare pod would be lost: refused even when DaemonSet pods are ignored.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "mr-ee");
    let bare: Pod = serde_json::from_value(json!({
        "metadata": {"name": "debug-shell", "namespace": "mr-ee"},
        "spec": {"nodeName": node, "containers": [{"name": "sh", "image": "busybox"}]},
    }))?;
    pods.create(&PostParams::default(), &bare).await?;
    let before = uids(&pods_on(&client, node).await?);
    let (tx, collect) = drain_channel();
    let opts = DrainOptions {
        ignore_daemonsets: true,
        timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let err = actions::drain(&client, node, opts, tx).await.unwrap_err();
    let progress = collect.await?;
    let ActionError::DrainRefused { pods: refused, .. } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(refused.len(), 1, "{err}");
    assert_eq!(refused[0].name, "debug-shell");
    assert!(
        err.to_string().contains("not managed by a controller"),
        "{err}"
    );
    assert!(
        !progress.iter().any(|p| matches!(
            p,
            DrainProgress::Pod {
                step: DrainStep::Evicting,
                ..
            }
        )),
        "{progress:?}"
    );
    assert_eq!(uids(&pods_on(&client, node).await?), before);
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disruption_budget_blocks_the_drain_until_the_timeout() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let labels = json!({"app.kubernetes.io/name": "solo"});
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "solo", "namespace": "mr-ee"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "solo", "image": "ghcr.io/mr-ee/solo:1.0"}]}},
        },
    }))?;
    Api::<Deployment>::namespaced(client.clone(), "mr-ee")
        .create(&PostParams::default(), &deploy)
        .await?;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "solo", "namespace": "mr-ee"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
    }))?;
    Api::<PodDisruptionBudget>::namespaced(client.clone(), "mr-ee")
        .create(&PostParams::default(), &pdb)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "mr-ee");
    let lp = ListParams::default().labels("app.kubernetes.io/name=solo");
    let solo = wait_for(Duration::from_secs(30), "the solo pod to be ready", || {
        let (pods, lp) = (pods.clone(), lp.clone());
        async move {
            let items = pods.list(&lp).await?.items;
            Ok(items.into_iter().find(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            }))
        }
    })
    .await?;
    let name = solo.metadata.name.clone().unwrap();
    let node = solo
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap();

    let (tx, collect) = drain_channel();
    let opts = DrainOptions {
        ignore_daemonsets: true,
        timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let err = actions::drain(&client, &node, opts, tx).await.unwrap_err();
    let progress = collect.await?;
    let ActionError::DrainTimeout { remaining, .. } = &err else {
        panic!("expected a timeout, got {err}");
    };
    let msg = err.to_string();
    assert!(
        remaining.iter().any(|p| p.name == name),
        "{name} not among the remaining pods: {msg}"
    );
    assert!(msg.contains(&format!("mr-ee/{name}")), "{msg}");
    assert!(msg.contains("disruption budget solo"), "{msg}");
    assert!(msg.contains("stays cordoned"), "{msg}");
    assert!(
        progress.iter().any(|p| matches!(p,
            DrainProgress::Pod { name: n, step: DrainStep::Blocked(why), .. }
                if *n == name && why.contains("solo"))),
        "{progress:?}"
    );
    let blocked_line = progress
        .iter()
        .map(|p| p.to_string())
        .find(|l| l.contains(&name) && l.starts_with("waiting:"))
        .unwrap();
    assert!(
        blocked_line.contains(&format!(
            "evicting mr-ee/{name} would violate the disruption budget"
        )),
        "{blocked_line}"
    );
    // Still there, untouched, and the node stays cordoned.
    let still = pods.get(&name).await?;
    assert_eq!(still.metadata.uid, solo.metadata.uid);
    assert!(still.metadata.deletion_timestamp.is_none());
    assert!(unschedulable(&client, &node).await?);
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn autoscale_creates_the_hpa_once() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let err = actions::autoscale(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "router",
        5,
        2,
        50,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ActionError::Invalid(_)), "{err}");

    let h = actions::autoscale(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "router",
        2,
        5,
        50,
    )
    .await?;
    assert_eq!(
        h,
        HpaRange {
            name: "router".into(),
            min: 2,
            max: 5
        }
    );
    let hpa = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), "mr-ee")
        .get("router")
        .await?;
    let spec = hpa.spec.unwrap();
    assert_eq!(
        (
            spec.scale_target_ref.kind.as_str(),
            spec.scale_target_ref.name.as_str()
        ),
        ("Deployment", "router")
    );
    let cpu = spec.metrics.unwrap()[0]
        .resource
        .as_ref()
        .unwrap()
        .target
        .average_utilization;
    assert_eq!(cpu, Some(50));
    let plan = actions::scale_plan(&client, WorkloadKind::Deployment, "mr-ee", "router").await?;
    assert_eq!(plan.hpa.map(|h| h.name), Some("router".into()));

    let err = actions::autoscale(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "router",
        2,
        5,
        50,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ActionError::AlreadyExists(_)), "{err}");
    assert!(err.to_string().contains("edit its range"), "{err}");

    // An HPA that has the name but targets something else: the API server's 409.
    actions::autoscale(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "forwarder-pinterest",
        1,
        2,
        80,
    )
    .await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "mr-ee");
    let mut other = hpas.get("forwarder-pinterest").await?;
    other.metadata.resource_version = None;
    other.spec.as_mut().unwrap().scale_target_ref.name = "forwarder-adobe-analytics".into();
    hpas.replace("forwarder-pinterest", &PostParams::default(), &other)
        .await?;
    let err = actions::autoscale(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "forwarder-pinterest",
        1,
        2,
        80,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ActionError::AlreadyExists(_)), "{err}");
    assert!(
        err.to_string()
            .contains("an HPA named forwarder-pinterest already exists in mr-ee"),
        "{err}"
    );

    let err = actions::autoscale(&client, WorkloadKind::Deployment, "mr-ee", "nope", 1, 2, 80)
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::NotFound(_)), "{err}");
    sb.stop().await;
    Ok(())
}

/// `helmdeck sandbox --kubeconfig F` as a child process, killed on drop.
struct SandboxProcess {
    child: tokio::process::Child,
    kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SandboxProcess {
    async fn start() -> anyhow::Result<SandboxProcess> {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"))
            .arg("sandbox")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("sandbox listening on") {
                    return Ok::<bool, std::io::Error>(true);
                }
            }
            Ok(false)
        })
        .await;
        anyhow::ensure!(
            matches!(listening, Ok(Ok(true))),
            "the sandbox did not start: {listening:?}"
        );
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SandboxProcess {
            child,
            kubeconfig,
            _dir: dir,
        })
    }

    async fn helmdeck(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .kill_on_drop(true)
            .output();
        Ok(tokio::time::timeout(Duration::from_secs(120), out).await??)
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scale_command_converges_and_refuses_a_workload_under_an_hpa() -> anyhow::Result<()> {
    let sb = SandboxProcess::start().await?;
    let out = sb
        .helmdeck(&[
            "scale",
            "deploy/router",
            "3",
            "-n",
            "mr-ee",
            "--timeout",
            "90s",
        ])
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("deployment mr-ee/router scaled from 2 to 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("deployment mr-ee/router converged: 3/3 ready"),
        "{stdout}"
    );

    let out = sb
        .helmdeck(&["scale", "deploy/migratorydata", "4", "-n", "migratorydata"])
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("managed by HPA migratorydata (min 2, max 5)")
            && stderr.contains("edit the HPA's range instead"),
        "{stderr}"
    );

    let out = sb
        .helmdeck(&["scale", "deploy/router", "0", "-n", "mr-ee"])
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--yes"), "{stderr}");

    let out = sb.helmdeck(&["cordon", "worker-4"]).await?;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "node worker-4 cordoned\n"
    );
    let out = sb.helmdeck(&["uncordon", "worker-4"]).await?;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "node worker-4 uncordoned\n"
    );

    let out = sb
        .helmdeck(&[
            "drain",
            "worker-4",
            "--ignore-daemonsets",
            "--timeout",
            "90s",
        ])
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"node worker-4 cordoned"), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skipping kube-system/node-exporter-")),
        "{stdout}"
    );
    assert!(lines.iter().any(|l| l.starts_with("evicting ")), "{stdout}");
    assert!(lines.iter().any(|l| l.ends_with(" gone")), "{stdout}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("node worker-4 drained: ")),
        "{stdout}"
    );
    sb.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_pod_removes_it_and_its_controller_replaces_it() -> anyhow::Result<()> {
    let (sb, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "mr-ee");
    let router = |p: &Pod| {
        p.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("router-"))
            && p.metadata.deletion_timestamp.is_none()
    };
    let before = wait_for(Duration::from_secs(30), "two router pods", || {
        let pods = pods.clone();
        async move {
            let l = pods.list(&ListParams::default()).await?.items;
            let r: Vec<Pod> = l.into_iter().filter(router).collect();
            Ok((r.len() == 2).then_some(r))
        }
    })
    .await?;
    let victim = before[0].metadata.name.clone().unwrap();
    let uid = before[0].metadata.uid.clone();
    actions::delete_pod(&client, "mr-ee", &victim).await?;
    wait_for(Duration::from_secs(60), "the deleted pod gone", || {
        let (pods, victim, uid) = (pods.clone(), victim.clone(), uid.clone());
        async move {
            let gone = match pods.get_opt(&victim).await? {
                None => true,
                // A controller may reuse a StatefulSet-style name; a Deployment's never does.
                Some(p) => p.metadata.uid != uid && uid.is_some(),
            };
            Ok(gone.then_some(()))
        }
    })
    .await?;
    // The ReplicaSet makes a new one.
    wait_for(Duration::from_secs(60), "two router pods again", || {
        let pods = pods.clone();
        async move {
            let l = pods.list(&ListParams::default()).await?.items;
            Ok((l.iter().filter(|p| router(p)).count() == 2).then_some(()))
        }
    })
    .await?;

    let err = actions::delete_pod(&client, "mr-ee", "nope")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("pod mr-ee/nope not found"),
        "{err}"
    );
    sb.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn rollout_restart_sets_restarted_at_on_every_kind_of_workload() -> anyhow::Result<()> {
    use k8s_openapi::api::apps::v1::DaemonSet;
    let (sb, client) = start().await?;
    let restarted_at = |annotations: Option<std::collections::BTreeMap<String, String>>| {
        annotations.and_then(|a| a.get(actions::RESTARTED_AT).cloned())
    };
    let started = jiff::Timestamp::now().as_second();
    let check = |at: &str, set: Option<String>| {
        assert_eq!(set.as_deref(), Some(at));
        let t: jiff::Timestamp = at.parse().unwrap();
        assert!(t.as_second() >= started - 1, "{at}");
        assert!(
            at.ends_with('Z') && !at.contains('.'),
            "RFC 3339 in seconds: {at}"
        );
    };

    let at = actions::rollout_restart(&client, WorkloadKind::Deployment, "mr-ee", "router").await?;
    let d = Api::<Deployment>::namespaced(client.clone(), "mr-ee")
        .get("router")
        .await?;
    check(
        &at,
        restarted_at(
            d.spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations),
        ),
    );
    // The controller rolls the pods: the rollout converges again.
    let (tx, _rx) = mpsc::channel(256);
    let done = actions::watch_rollout(
        &client,
        WorkloadKind::Deployment,
        "mr-ee",
        "router",
        tx,
        Duration::from_secs(60),
    )
    .await?;
    assert!(done.converged);

    let at =
        actions::rollout_restart(&client, WorkloadKind::StatefulSet, "iomete", "minio").await?;
    let s = Api::<StatefulSet>::namespaced(client.clone(), "iomete")
        .get("minio")
        .await?;
    check(
        &at,
        restarted_at(
            s.spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations),
        ),
    );

    let ds = Api::<DaemonSet>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let first = ds.first().expect("the sandbox runs a DaemonSet");
    let (ns, name) = (
        first.metadata.namespace.clone().unwrap(),
        first.metadata.name.clone().unwrap(),
    );
    let at = actions::rollout_restart(&client, WorkloadKind::DaemonSet, &ns, &name).await?;
    let d = Api::<DaemonSet>::namespaced(client.clone(), &ns)
        .get(&name)
        .await?;
    check(
        &at,
        restarted_at(
            d.spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations),
        ),
    );

    let err = actions::rollout_restart(&client, WorkloadKind::Deployment, "mr-ee", "nope")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("deployment mr-ee/nope not found"),
        "{err}"
    );
    sb.stop().await;
    Ok(())
}
