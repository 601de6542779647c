//! Pods decoded with only what a row needs. A pod's JSON is mostly what the console never
//! shows (env, volumes, probes, resources, managed fields, annotations); decoding all of it
//! into k8s-openapi's `Pod` allocates for every field, which at 50,000 pods is most of the
//! time from launch to the list on screen. [`PodForRow`] reads the same JSON, skips the
//! rest (serde skips unknown fields without allocating), and holds an ordinary `Pod` with
//! just the fields [`crate::core::cluster::PodRow::from_pod`] and the pod health rules read,
//! so they work on it unchanged. [`SlimPod`], what the pod watch carries, is that pod's row,
//! made as the pod is decoded.

use crate::core::cluster::PodRow;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::ApiResource;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A pod with only its row's fields: of the metadata, the name, namespace, resource
/// version, labels, creation and deletion times and each owner's kind, name and whether it
/// controls the pod; of the spec, the node and each container's name, restart policy and
/// memory limit (the evidence beside an OOM kill); of the status, the phase, reason, IP,
/// each condition's type, status and reason, and each container's name, readiness,
/// restarts and states: whether it runs, why it waits, and its exit code, signal, reason
/// and end when it ended. Not its image, IDs or other resources, nor the times of the
/// conditions or of a container's start, whose parsing alone cost more than the rest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodForRow(pub Pod);

/// A pod as the pod watch carries it: its row, made while it is decoded, and of its
/// metadata only what the watcher reads (name, namespace, resource version). Boxed: a
/// watch event passes through half a dozen stream layers, each of which moves it, and a
/// whole `Pod` is kilobytes where a box is a pointer (launching on 10,000 pods, memmove was
/// 10–14 % of the console's profile with whole pods, 6–8 % with boxed rows).
#[derive(Clone, Debug, PartialEq)]
pub struct SlimPod(Box<PodItem>);

#[derive(Clone, Debug, PartialEq)]
struct PodItem {
    meta: ObjectMeta,
    row: PodRow,
}

impl SlimPod {
    /// The pod's row.
    pub fn row(&self) -> &PodRow {
        &self.0.row
    }

    /// The pod's row, without copying it.
    pub fn into_row(self) -> PodRow {
        self.0.row
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<Owner>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    node_name: Option<String>,
    #[serde(default)]
    containers: Vec<ContainerName>,
    init_containers: Option<Vec<ContainerName>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerName {
    name: String,
    restart_policy: Option<String>,
    resources: Option<Resources>,
}

/// Of a container's resources, the memory limit only: the evidence beside an OOM kill.
#[derive(Deserialize)]
struct Resources {
    limits: Option<Limits>,
}

#[derive(Deserialize)]
struct Limits {
    memory: Option<Quantity>,
}

impl ContainerName {
    fn into_container(self) -> Container {
        let memory = self.resources.and_then(|r| r.limits?.memory);
        Container {
            name: self.name,
            restart_policy: self.restart_policy,
            resources: memory.map(|m| ResourceRequirements {
                limits: Some(BTreeMap::from([("memory".to_string(), m)])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    phase: Option<String>,
    reason: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    conditions: Option<Vec<Condition>>,
    container_statuses: Option<Vec<ContainerRun>>,
    init_container_statuses: Option<Vec<ContainerRun>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerRun {
    name: String,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    restart_count: i32,
    started: Option<bool>,
    state: Option<State>,
    last_state: Option<State>,
}

/// An owner with what the rules read: its kind, name and whether it controls the pod (not
/// its API version or UID).
#[derive(Deserialize)]
struct Owner {
    kind: Option<String>,
    name: Option<String>,
    controller: Option<bool>,
}

impl Owner {
    fn into_reference(self) -> OwnerReference {
        OwnerReference {
            kind: self.kind.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            controller: self.controller,
            ..Default::default()
        }
    }
}

/// A container's state with what the rules read: that it runs (not since when), how it
/// ended (exit code, signal, reason and when, not its message or container ID), and why it
/// waits.
#[derive(Deserialize)]
struct State {
    running: Option<IgnoredAny>,
    terminated: Option<Terminated>,
    waiting: Option<ContainerStateWaiting>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Terminated {
    exit_code: Option<i32>,
    signal: Option<i32>,
    reason: Option<String>,
    finished_at: Option<Time>,
}

impl State {
    fn into_state(self) -> ContainerState {
        ContainerState {
            running: self.running.map(|_| ContainerStateRunning::default()),
            terminated: self.terminated.map(|t| ContainerStateTerminated {
                exit_code: t.exit_code.unwrap_or_default(),
                signal: t.signal,
                reason: t.reason,
                finished_at: t.finished_at,
                ..Default::default()
            }),
            waiting: self.waiting,
        }
    }
}

impl ContainerRun {
    fn into_status(self) -> ContainerStatus {
        ContainerStatus {
            name: self.name,
            ready: self.ready,
            restart_count: self.restart_count,
            started: self.started,
            state: self.state.map(State::into_state),
            last_state: self.last_state.map(State::into_state),
            ..Default::default()
        }
    }
}

impl Status {
    fn into_status(self) -> PodStatus {
        let runs = |v: Option<Vec<ContainerRun>>| {
            v.map(|cs| cs.into_iter().map(ContainerRun::into_status).collect())
        };
        PodStatus {
            phase: self.phase,
            reason: self.reason,
            pod_ip: self.pod_ip,
            conditions: self.conditions.map(|cs| {
                cs.into_iter()
                    .map(|c| PodCondition {
                        type_: c.type_,
                        status: c.status,
                        reason: c.reason,
                        ..Default::default()
                    })
                    .collect()
            }),
            container_statuses: runs(self.container_statuses),
            init_container_statuses: runs(self.init_container_statuses),
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    metadata: Option<Meta>,
    spec: Option<Spec>,
    status: Option<Status>,
}

impl<'de> Deserialize<'de> for PodForRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        let metadata = raw
            .metadata
            .map_or_else(ObjectMeta::default, |m| ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                resource_version: m.resource_version,
                labels: m.labels,
                owner_references: m
                    .owner_references
                    .map(|os| os.into_iter().map(Owner::into_reference).collect()),
                creation_timestamp: m.creation_timestamp,
                deletion_timestamp: m.deletion_timestamp,
                ..Default::default()
            });
        let spec = raw.spec.map(|s| PodSpec {
            node_name: s.node_name,
            containers: s
                .containers
                .into_iter()
                .map(ContainerName::into_container)
                .collect(),
            init_containers: s
                .init_containers
                .map(|cs| cs.into_iter().map(ContainerName::into_container).collect()),
            ..Default::default()
        });
        Ok(PodForRow(Pod {
            metadata,
            spec,
            status: raw.status.map(Status::into_status),
        }))
    }
}

impl From<PodForRow> for SlimPod {
    fn from(PodForRow(mut pod): PodForRow) -> SlimPod {
        let m = &mut pod.metadata;
        let meta = ObjectMeta {
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            resource_version: m.resource_version.take(),
            ..Default::default()
        };
        let row = PodRow::from_owned_pod(pod);
        SlimPod(Box::new(PodItem { meta, row }))
    }
}

/// Every fixture pod (`tests/fixtures/pods/*.json`): its path and its JSON, by path.
#[cfg(test)]
pub(crate) fn fixture_pods() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pods");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 9, "only {} fixture pods", out.len());
    out
}

impl<'de> Deserialize<'de> for SlimPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PodForRow::deserialize(d).map(SlimPod::from)
    }
}

impl kube::Resource for SlimPod {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.0.meta
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.meta
    }
}

/// A metrics.k8s.io PodMetrics or NodeMetrics with only what the console shows: the
/// object's name and namespace and the CPU and memory used (a pod's per container). Decoded
/// typed rather than as a `DynamicObject`, whose JSON tree cost the console more than the
/// pod list itself every poll at 10,000 pods.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlimMetrics {
    pub meta: ObjectMeta,
    /// Each container's usage (PodMetrics).
    pub containers: Vec<QuantityPair>,
    /// The node's usage (NodeMetrics).
    pub usage: Option<QuantityPair>,
}

/// A usage as the API sends it: quantities such as `120m` and `100Mi`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct QuantityPair {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

impl<'de> Deserialize<'de> for SlimMetrics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        struct NameOnly {
            name: Option<String>,
            namespace: Option<String>,
        }
        #[derive(Deserialize)]
        struct ContainerUsage {
            #[serde(default)]
            usage: QuantityPair,
        }
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            metadata: NameOnly,
            #[serde(default)]
            containers: Vec<ContainerUsage>,
            usage: Option<QuantityPair>,
        }
        let raw = Raw::deserialize(d)?;
        Ok(SlimMetrics {
            meta: ObjectMeta {
                name: raw.metadata.name,
                namespace: raw.metadata.namespace,
                ..Default::default()
            },
            containers: raw.containers.into_iter().map(|c| c.usage).collect(),
            usage: raw.usage,
        })
    }
}

impl kube::Resource for SlimMetrics {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::convert::key_of;

    /// A pod as the API server sends it, with much the row never reads.
    const POD: &str = r#"{
      "apiVersion": "v1", "kind": "Pod",
      "metadata": {
        "name": "forwarder-7d9f-abcde", "generateName": "forwarder-7d9f-",
        "namespace": "ee", "uid": "u-1", "resourceVersion": "42",
        "creationTimestamp": "2026-11-30T04:00:00Z",
        "labels": {"app": "forwarder", "pod-template-hash": "7d9f"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "x"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "name": "forwarder-7d9f", "uid": "rs-1", "controller": true}],
        "managedFields": [{"manager": "kubelet", "operation": "Update",
          "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]
      },
      "spec": {
        "nodeName": "worker-1",
        "initContainers": [
          {"name": "init", "image": "busybox"},
          {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
        ],
        "containers": [{"name": "app", "image": "forwarder:1.2",
          "env": [{"name": "A", "value": "b"}],
          "resources": {"limits": {"memory": "256Mi"}},
          "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}],
        "volumes": [{"name": "v", "emptyDir": {}}]
      },
      "status": {
        "phase": "Running", "podIP": "10.0.0.7",
        "conditions": [{"type": "Ready", "status": "True"}],
        "initContainerStatuses": [
          {"name": "init", "ready": true, "restartCount": 0, "image": "busybox", "imageID": "",
           "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
          {"name": "proxy", "ready": true, "restartCount": 0, "image": "envoy", "imageID": "",
           "started": true, "state": {"running": {}}}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 3,
          "image": "forwarder:1.2", "imageID": "", "state": {"running": {}}}]
      }
    }"#;

    #[test]
    fn a_slim_pod_makes_the_same_row_as_the_whole_pod() {
        let whole: Pod = serde_json::from_str(POD).unwrap();
        let slim: SlimPod = serde_json::from_str(POD).unwrap();
        assert_eq!(slim.row(), &PodRow::from_pod(&whole));
        let row = slim.into_row();
        assert_eq!(row.node, "worker-1");
        assert_eq!(row.workload.as_deref(), Some("forwarder"));
        assert_eq!(row.containers, vec!["app".to_string()]);
    }

    #[test]
    fn every_fixture_pod_makes_the_same_row_slim_as_whole() {
        for (path, text) in fixture_pods() {
            let whole: Pod = serde_json::from_str(&text).unwrap();
            let slim: SlimPod = serde_json::from_str(&text).unwrap();
            assert_eq!(slim.row(), &PodRow::from_pod(&whole), "{path}");
        }
    }

    #[test]
    fn a_slim_pod_keeps_none_of_what_the_row_never_reads() {
        let slim: PodForRow = serde_json::from_str(POD).unwrap();
        assert!(slim.0.metadata.managed_fields.is_none());
        assert!(slim.0.metadata.annotations.is_none());
        let spec = slim.0.spec.unwrap();
        assert!(spec.volumes.is_none());
        assert!(spec.containers[0].env.is_none());
        assert_eq!(
            spec.init_containers.unwrap()[1].restart_policy.as_deref(),
            Some("Always")
        );
    }

    #[test]
    fn a_slim_pod_lists_and_watches_as_a_pod() {
        use kube::Resource;
        assert_eq!(
            SlimPod::url_path(&(), Some("ee")),
            Pod::url_path(&(), Some("ee"))
        );
        assert_eq!(SlimPod::url_path(&(), None), Pod::url_path(&(), None));
        let event: kube::api::WatchEvent<SlimPod> =
            serde_json::from_str(&format!(r#"{{"type": "MODIFIED", "object": {POD}}}"#)).unwrap();
        let kube::api::WatchEvent::Modified(p) = event else {
            panic!("a MODIFIED event")
        };
        assert_eq!(p.meta().resource_version.as_deref(), Some("42"));
        assert_eq!(
            key_of(p.meta()),
            ("ee".into(), "forwarder-7d9f-abcde".into())
        );
        assert_eq!(p.into_row().name, "forwarder-7d9f-abcde");
    }
}
