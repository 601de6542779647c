//! The sandbox's simulated topics: fed by its pod states, so a crash-looping forwarder's
//! group stops and its lag grows, and once the forwarder recovers the group drains.

use helmdeck::core::topics::{LagRules, LagStatus, TopicSource, TopicUpdate, TopicsState};
use helmdeck::sandbox::topics::{SimulatedTopics, demo_platform};
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use std::time::Duration;

fn group<'a>(st: &'a TopicsState, name: &str) -> &'a helmdeck::core::topics::state::GroupRow {
    st.groups.iter().find(|g| g.name == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_forwarder_stops_its_group_and_drains_after_recovery() {
    let sb = Sandbox::start(Options {
        scenario: "trouble".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let platform = demo_platform();
    let source = SimulatedTopics::for_sandbox(sb.store.clone(), &platform);
    let mut st = TopicsState::new(
        source.describe(),
        Some(platform),
        LagRules {
            window: 3,
            min_samples: 3,
        },
    );
    // The trouble scenario's NotReady node would stall whichever forwarders it happens to
    // host: bring it back so only the crash-looping forwarder is in trouble.
    sb.store
        .mutate(
            helmdeck::sandbox::resources::Storage::Nodes,
            "",
            "worker-3",
            |v| {
                helmdeck::sandbox::controllers::set_node_condition(
                    v,
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                );
                true
            },
        )
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let first = loop {
        let snap = source.snapshot().unwrap();
        let healthy = [
            "forwarder-google-analytics",
            "forwarder-adobe-analytics",
            "router",
        ]
        .iter()
        .all(|g| snap.groups[*g].members > 0);
        if healthy && snap.groups["router"].members == 2 {
            break snap;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the healthy forwarders never became ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Router: 2 replicas → 6 partitions; a forwarder: 1 replica → 3.
    assert_eq!(first.topics["mr-ee-main"].partitions.len(), 6);
    assert_eq!(first.topics["mr-ee-google-analytics"].partitions.len(), 3);
    assert_eq!(first.topics["mr-ee-pinterest"].partitions.len(), 3);
    assert_eq!(first.groups["router"].members, 2);
    assert_eq!(
        first.groups["forwarder-pinterest"].members, 0,
        "crash-looping"
    );
    st.apply(TopicUpdate::Snapshot(first));
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        st.apply(TopicUpdate::Snapshot(source.snapshot().unwrap()));
    }
    let pinterest = group(&st, "forwarder-pinterest");
    assert_eq!(pinterest.status, LagStatus::Stop, "{pinterest:?}");
    assert!(pinterest.lag > 0);
    assert!(
        pinterest.trend.windows(2).all(|w| w[1] >= w[0]),
        "{:?}",
        pinterest.trend
    );
    assert_eq!(
        group(&st, "forwarder-google-analytics").status,
        LagStatus::Ok
    );

    // Roll the forwarder back to a working image: it becomes ready and drains.
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let api: Api<Deployment> = Api::namespaced(client, "mr-ee");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "forwarder-pinterest", "image": "ghcr.io/mr-ee/forwarder:3.4.1"}
    ]}}}});
    let name = "forwarder-pinterest";
    let current: Deployment = api.get(name).await.unwrap();
    let container = current.spec.unwrap().template.spec.unwrap().containers[0]
        .name
        .clone();
    let mut patch = patch;
    patch["spec"]["template"]["spec"]["containers"][0]["name"] = container.into();
    api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        st.apply(TopicUpdate::Snapshot(source.snapshot().unwrap()));
        let g = group(&st, "forwarder-pinterest");
        statuses.push((g.members, g.lag, g.status));
        if g.status == LagStatus::Ok && g.lag == 0 {
            break;
        }
    }
    let g = group(&st, "forwarder-pinterest");
    assert_eq!((g.status, g.lag), (LagStatus::Ok, 0), "{statuses:?}");
    assert_eq!(g.members, 1);
    sb.stop().await;
}
