//! Pods decoded with only what a row needs. A pod's JSON is mostly what the console never
//! shows (env, volumes, probes, resources, managed fields, annotations); decoding all of it
//! into k8s-openapi's `Pod` allocates for every field, which at 50,000 pods is most of the
//! time from launch to the list on screen. [`SlimPod`] reads the same JSON, skips the rest
//! (serde skips unknown fields without allocating), and holds an ordinary `Pod` with just
//! the fields [`crate::core::cluster::PodRow::from_pod`] and the pod health rules read, so
//! they work on it unchanged.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A pod with only its row's fields: metadata without managed fields or annotations; of the
/// spec, the node and each container's name and restart policy; the whole status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlimPod(pub Pod);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
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
}

impl ContainerName {
    fn into_container(self) -> Container {
        Container {
            name: self.name,
            restart_policy: self.restart_policy,
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    metadata: Option<Meta>,
    spec: Option<Spec>,
    status: Option<PodStatus>,
}

impl<'de> Deserialize<'de> for SlimPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        let metadata = raw
            .metadata
            .map_or_else(ObjectMeta::default, |m| ObjectMeta {
                name: m.name,
                generate_name: m.generate_name,
                namespace: m.namespace,
                uid: m.uid,
                resource_version: m.resource_version,
                labels: m.labels,
                owner_references: m.owner_references,
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
        Ok(SlimPod(Pod {
            metadata,
            spec,
            status: raw.status,
        }))
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
        &self.0.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::PodRow;

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
        assert_eq!(PodRow::from_pod(&slim.0), PodRow::from_pod(&whole));
        let row = PodRow::from_pod(&slim.0);
        assert_eq!(row.node, "worker-1");
        assert_eq!(row.workload.as_deref(), Some("forwarder"));
        assert_eq!(row.containers, vec!["app".to_string()]);
    }

    #[test]
    fn a_slim_pod_keeps_none_of_what_the_row_never_reads() {
        let slim: SlimPod = serde_json::from_str(POD).unwrap();
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
    }
}
