//! The sandbox's node lifecycle, through the kube client over HTTP: a node that stops being
//! Ready is tainted, its pods are evicted after their toleration and replaced on the nodes
//! that are Ready; the evicted pods stay Terminating until the node is back.

use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use std::time::{Duration, Instant};

async fn eventually<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn on_node<'a>(pods: &'a [Pod], node: &str) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .collect()
}

fn daemon(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .as_ref()
        .is_some_and(|o| o.iter().any(|r| r.kind == "DaemonSet"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_node_that_is_not_ready_are_evicted_and_replaced() {
    // The trouble scenario (worker-3's Ready is Unknown), with a 3 s toleration.
    let text = include_str!("../assets/scenarios/trouble.yaml").replacen(
        "sim:\n",
        "sim:\n  eviction_ms: 3000\n",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trouble-fast.yaml");
    std::fs::write(&path, text).unwrap();
    let sb = Sandbox::start(Options {
        scenario: path.to_str().unwrap().into(),
        ..Options::default()
    })
    .await
    .unwrap();
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());

    // Tainted as Kubernetes taints an unreachable node.
    eventually("worker-3's taints", 10, async || {
        let n = nodes.get("worker-3").await.ok()?;
        let taints = n.spec?.taints?;
        let effects: Vec<String> = taints
            .iter()
            .filter(|t| t.key == "node.kubernetes.io/unreachable")
            .map(|t| t.effect.clone())
            .collect();
        (effects == ["NoSchedule", "NoExecute"]).then_some(())
    })
    .await;
    let before = pods.list(&ListParams::default()).await.unwrap().items;
    let evictable: Vec<String> = on_node(&before, "worker-3")
        .into_iter()
        .filter(|p| !daemon(p))
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert!(!evictable.is_empty(), "the scenario runs pods on worker-3");

    // After the toleration: every pod there but the DaemonSet's is Terminating, and stays so.
    let all = eventually("the evictions", 20, async || {
        let all = pods.list(&ListParams::default()).await.ok()?.items;
        on_node(&all, "worker-3")
            .iter()
            .filter(|p| !daemon(p))
            .all(|p| p.metadata.deletion_timestamp.is_some())
            .then_some(all)
    })
    .await;
    assert!(
        on_node(&all, "worker-3")
            .iter()
            .filter(|p| daemon(p))
            .all(|p| p.metadata.deletion_timestamp.is_none()),
        "DaemonSet pods tolerate it"
    );
    let events: Api<Event> = Api::all(client.clone());
    let evs = events.list(&ListParams::default()).await.unwrap().items;
    assert!(evs.iter().any(|e| {
        e.reason.as_deref() == Some("TaintManagerEviction")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains(&evictable[0]))
    }));

    // Their controllers replace them on Ready nodes.
    eventually("replacements elsewhere", 20, async || {
        let all = pods.list(&ListParams::default()).await.ok()?.items;
        let router = |p: &&Pod| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("coredns-"))
        };
        let live_elsewhere = all
            .iter()
            .filter(router)
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some("worker-3"))
            .count();
        (live_elsewhere >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still: Vec<String> = on_node(
        &pods.list(&ListParams::default()).await.unwrap().items,
        "worker-3",
    )
    .iter()
    .filter(|p| p.metadata.deletion_timestamp.is_some())
    .map(|p| p.metadata.uid.clone().unwrap())
    .collect();
    assert!(
        !still.is_empty(),
        "evicted pods stay Terminating while the node is down"
    );

    // The node comes back: taints go, the evicted pods are finally removed.
    let ready = serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}});
    nodes
        .patch_status("worker-3", &PatchParams::default(), &Patch::Merge(&ready))
        .await
        .unwrap();
    eventually(
        "the node untainted and the evicted pods gone",
        20,
        async || {
            let n = nodes.get("worker-3").await.ok()?;
            let tainted = n
                .spec?
                .taints
                .unwrap_or_default()
                .iter()
                .any(|t| t.key.starts_with("node.kubernetes.io/"));
            let all = pods.list(&ListParams::default()).await.ok()?.items;
            // By uid: a StatefulSet's replacement has the same name.
            let gone = still
                .iter()
                .all(|uid| all.iter().all(|p| p.metadata.uid.as_ref() != Some(uid)));
            (!tainted && gone).then_some(())
        },
    )
    .await;
}
