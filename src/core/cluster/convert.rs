//! Pure conversions from Kubernetes objects to the compact rows of [`super::model`].
//!
//! Every function takes the object by reference and never fails: a field that is missing
//! becomes an empty string, zero or `None`, so one odd object can never stop a watch.

use super::model::{
    EventRow, HpaRow, Key, NodeRow, OwnerRef, PodRow, ReleasePayload, ReleaseRevision, Usage,
    WorkloadKind, WorkloadRow,
};
use super::slim::{QuantityPair, SlimMetrics};
use crate::core::health;
use crate::core::release::{self, RELEASE_SECRET_PREFIX, ReleaseStatus};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Node, Pod, PodTemplateSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

/// The annotation Helm puts on every object it manages.
pub const HELM_RELEASE_ANNOTATION: &str = "meta.helm.sh/release-name";

fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// The (namespace, name) key of an object; namespace is empty for cluster-scoped ones.
pub fn key_of(meta: &ObjectMeta) -> Key {
    (namespace_of(meta), name_of(meta))
}

fn created(meta: &ObjectMeta) -> Option<jiff::Timestamp> {
    meta.creation_timestamp.as_ref().map(|t| t.0)
}

fn helm_release(meta: &ObjectMeta) -> Option<String> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(HELM_RELEASE_ANNOTATION))
        .filter(|r| !r.is_empty())
        .cloned()
}

fn template_images(template: Option<&PodTemplateSpec>) -> Vec<String> {
    template
        .and_then(|t| t.spec.as_ref())
        .map(|s| {
            s.containers
                .iter()
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The workload behind a pod's owner: a ReplicaSet `name-<pod-template-hash>` belongs to
/// Deployment `name`; StatefulSets and DaemonSets own their pods directly. Anything else
/// (Jobs, bare ReplicaSets, operators' custom resources) has no workload row.
pub fn pod_workload(
    owner: &OwnerReference,
    labels: &BTreeMap<String, String>,
) -> Option<(WorkloadKind, String)> {
    match owner.kind.as_str() {
        "ReplicaSet" => {
            let hash = labels.get("pod-template-hash").filter(|h| !h.is_empty())?;
            let base = owner.name.strip_suffix(hash.as_str())?.strip_suffix('-')?;
            (!base.is_empty()).then(|| (WorkloadKind::Deployment, base.to_string()))
        }
        "StatefulSet" => Some((WorkloadKind::StatefulSet, owner.name.clone())),
        "DaemonSet" => Some((WorkloadKind::DaemonSet, owner.name.clone())),
        _ => None,
    }
}

impl PodRow {
    pub fn from_pod(pod: &Pod) -> PodRow {
        PodRow::from_owned_pod(pod.clone())
    }

    /// The row of a pod that is not needed after it: its strings move into the row rather
    /// than being copied (the pod watch decodes each pod for its row alone, and copying
    /// its labels, names and containers was a tenth of that decoding's time).
    pub fn from_owned_pod(pod: Pod) -> PodRow {
        let status = health::pod_status(&pod);
        let evidence = health::pod_evidence(&pod);
        let Pod {
            metadata,
            spec,
            status: pod_status,
        } = pod;
        let labels = metadata.labels.unwrap_or_default();
        let owner = metadata.owner_references.and_then(|mut owners| {
            let at = owners.iter().position(|o| o.controller == Some(true));
            (!owners.is_empty()).then(|| owners.swap_remove(at.unwrap_or(0)))
        });
        let workload = owner
            .as_ref()
            .and_then(|o| pod_workload(o, &labels))
            .map(|(_, name)| name);
        let (node, containers) = spec.map_or_else(Default::default, |mut s| {
            // Not `into_iter().map(..).collect()`, which would keep the containers'
            // buffer (kilobytes each) to hold the names in.
            let names = s.containers.iter_mut().map(|c| std::mem::take(&mut c.name));
            (s.node_name.unwrap_or_default(), names.collect())
        });
        PodRow {
            namespace: metadata.namespace.unwrap_or_default(),
            name: metadata.name.unwrap_or_default(),
            status,
            node,
            ip: pod_status.and_then(|s| s.pod_ip).unwrap_or_default(),
            created: metadata.creation_timestamp.map(|t| t.0),
            owner: owner.map(|o| OwnerRef {
                kind: o.kind,
                name: o.name,
            }),
            workload,
            labels,
            containers,
            deleting: metadata.deletion_timestamp.is_some(),
            evidence,
        }
    }

    /// The kind of [`PodRow::workload`], from the owner's kind.
    pub fn workload_kind(&self) -> Option<WorkloadKind> {
        self.workload.as_ref()?;
        match self.owner.as_ref()?.kind.as_str() {
            "ReplicaSet" => Some(WorkloadKind::Deployment),
            "StatefulSet" => Some(WorkloadKind::StatefulSet),
            "DaemonSet" => Some(WorkloadKind::DaemonSet),
            _ => None,
        }
    }
}

impl NodeRow {
    pub fn from_node(node: &Node) -> NodeRow {
        let meta = &node.metadata;
        let status = node.status.as_ref();
        let conditions = status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let condition = |type_: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == type_)
                .map(|c| c.status.as_str())
        };
        let ready = match condition("Ready") {
            Some("True") => Some(true),
            Some("False") => Some(false),
            _ => None,
        };
        let mut roles: Vec<String> = meta
            .labels
            .iter()
            .flatten()
            .filter_map(|(k, v)| {
                if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                    (!role.is_empty()).then(|| role.to_string())
                } else if k == "kubernetes.io/role" && !v.is_empty() {
                    Some(v.clone())
                } else {
                    None
                }
            })
            .collect();
        roles.sort();
        roles.dedup();
        let resources = status
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .cloned()
            .unwrap_or_default();
        NodeRow {
            name: name_of(meta),
            ready,
            unschedulable: node
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false),
            memory_pressure: condition("MemoryPressure") == Some("True"),
            disk_pressure: condition("DiskPressure") == Some("True"),
            pid_pressure: condition("PIDPressure") == Some("True"),
            roles,
            version: status
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.clone())
                .unwrap_or_default(),
            internal_ip: status
                .and_then(|s| s.addresses.as_deref())
                .unwrap_or_default()
                .iter()
                .find(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
                .unwrap_or_default(),
            created: created(meta),
            ready_since: conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| t.0),
            cpu_millis: resources
                .get("cpu")
                .and_then(|q| cpu_millis(&q.0))
                .unwrap_or(0),
            memory_bytes: resources
                .get("memory")
                .and_then(|q| memory_bytes(&q.0))
                .unwrap_or(0),
        }
    }
}

/// The parts every workload kind shares; the counts and health are the kind's own.
struct WorkloadParts<'a> {
    kind: WorkloadKind,
    meta: &'a ObjectMeta,
    template: Option<&'a PodTemplateSpec>,
    selector: Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    /// desired, ready, updated, available.
    counts: (i32, i32, i32, i32),
    health: health::Health,
}

impl WorkloadRow {
    fn from_parts(p: WorkloadParts) -> WorkloadRow {
        let (desired, ready, updated, available) = p.counts;
        WorkloadRow {
            kind: p.kind,
            namespace: namespace_of(p.meta),
            name: name_of(p.meta),
            desired,
            ready,
            updated,
            available,
            health: p.health,
            images: template_images(p.template),
            selector: p
                .selector
                .and_then(|s| s.match_labels.clone())
                .unwrap_or_default(),
            created: created(p.meta),
            release: helm_release(p.meta),
        }
    }

    pub fn from_deployment(d: &Deployment) -> WorkloadRow {
        let spec = d.spec.as_ref();
        let status = d.status.as_ref();
        WorkloadRow::from_parts(WorkloadParts {
            kind: WorkloadKind::Deployment,
            meta: &d.metadata,
            template: spec.map(|s| &s.template),
            selector: spec.map(|s| &s.selector),
            counts: (
                spec.and_then(|s| s.replicas).unwrap_or(1),
                status.and_then(|s| s.ready_replicas).unwrap_or(0),
                status.and_then(|s| s.updated_replicas).unwrap_or(0),
                status.and_then(|s| s.available_replicas).unwrap_or(0),
            ),
            health: health::deployment_health(d),
        })
    }

    pub fn from_statefulset(s: &StatefulSet) -> WorkloadRow {
        let spec = s.spec.as_ref();
        let status = s.status.as_ref();
        WorkloadRow::from_parts(WorkloadParts {
            kind: WorkloadKind::StatefulSet,
            meta: &s.metadata,
            template: spec.map(|s| &s.template),
            selector: spec.map(|s| &s.selector),
            counts: (
                spec.and_then(|s| s.replicas).unwrap_or(1),
                status.and_then(|s| s.ready_replicas).unwrap_or(0),
                status.and_then(|s| s.updated_replicas).unwrap_or(0),
                status.and_then(|s| s.available_replicas).unwrap_or(0),
            ),
            health: health::statefulset_health(s),
        })
    }

    pub fn from_daemonset(d: &DaemonSet) -> WorkloadRow {
        let spec = d.spec.as_ref();
        let status = d.status.as_ref();
        WorkloadRow::from_parts(WorkloadParts {
            kind: WorkloadKind::DaemonSet,
            meta: &d.metadata,
            template: spec.map(|s| &s.template),
            selector: spec.map(|s| &s.selector),
            counts: (
                status.map(|s| s.desired_number_scheduled).unwrap_or(0),
                status.map(|s| s.number_ready).unwrap_or(0),
                status.and_then(|s| s.updated_number_scheduled).unwrap_or(0),
                status.and_then(|s| s.number_available).unwrap_or(0),
            ),
            health: health::daemonset_health(d),
        })
    }
}

impl HpaRow {
    pub fn from_hpa(hpa: &HorizontalPodAutoscaler) -> HpaRow {
        let meta = &hpa.metadata;
        let spec = hpa.spec.as_ref();
        let status = hpa.status.as_ref();
        let cpu_target = spec
            .and_then(|s| s.metrics.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.resource.as_ref())
            .find(|r| r.name == "cpu")
            .and_then(|r| r.target.average_utilization);
        let cpu_current = status
            .and_then(|s| s.current_metrics.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.resource.as_ref())
            .find(|r| r.name == "cpu")
            .and_then(|r| r.current.average_utilization);
        HpaRow {
            namespace: namespace_of(meta),
            name: name_of(meta),
            target_kind: spec
                .map(|s| s.scale_target_ref.kind.clone())
                .unwrap_or_default(),
            target_name: spec
                .map(|s| s.scale_target_ref.name.clone())
                .unwrap_or_default(),
            min: spec.and_then(|s| s.min_replicas).unwrap_or(1),
            max: spec.map(|s| s.max_replicas).unwrap_or(0),
            current: status.and_then(|s| s.current_replicas).unwrap_or(0),
            desired: status.map(|s| s.desired_replicas).unwrap_or(0),
            cpu_target,
            cpu_current,
            health: health::hpa_health(hpa),
        }
    }
}

impl EventRow {
    pub fn from_event(e: &Event) -> EventRow {
        let meta = &e.metadata;
        let series = e.series.as_ref();
        let last_seen = series
            .and_then(|s| s.last_observed_time.as_ref())
            .map(|t| t.0)
            .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
            .or_else(|| created(meta));
        let source = e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .filter(|c| !c.is_empty())
            .or_else(|| e.reporting_component.clone())
            .unwrap_or_default();
        EventRow {
            namespace: namespace_of(meta),
            name: name_of(meta),
            warning: e.type_.as_deref() == Some("Warning"),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            object_kind: e.involved_object.kind.clone().unwrap_or_default(),
            object_name: e.involved_object.name.clone().unwrap_or_default(),
            count: series.and_then(|s| s.count).or(e.count).unwrap_or(1).max(1),
            last_seen,
            source,
        }
    }
}

/// `sh.helm.release.v1.<name>.v<N>` → (`name`, N).
fn parse_release_secret_name(secret: &str) -> Option<(String, i64)> {
    let (name, version) = secret
        .strip_prefix(RELEASE_SECRET_PREFIX)?
        .rsplit_once(".v")?;
    let version = version.parse().ok()?;
    (!name.is_empty()).then(|| (name.to_string(), version))
}

impl ReleaseRevision {
    /// Decodes a Helm release Secret. A Secret that cannot be decoded still becomes a row,
    /// with what its labels and name tell and `error` set.
    pub fn from_secret(secret: &Secret) -> ReleaseRevision {
        let mut r = ReleaseRevision::from_secret_lazy(secret);
        r.decode();
        r
    }

    /// What a Helm release Secret's labels and name tell (release name, revision, status),
    /// with its payload kept for [`ReleaseRevision::decode`]. A Secret that is not a
    /// release Secret or has no payload gets its `error` at once, as decoding would.
    pub fn from_secret_lazy(secret: &Secret) -> ReleaseRevision {
        let meta = &secret.metadata;
        let secret_name = name_of(meta);
        let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k));
        let from_name = parse_release_secret_name(&secret_name);
        let release = label("name")
            .filter(|n| !n.is_empty())
            .cloned()
            .or_else(|| from_name.as_ref().map(|(n, _)| n.clone()))
            .unwrap_or_else(|| secret_name.clone());
        let revision = label("version")
            .and_then(|v| v.parse().ok())
            .or(from_name.as_ref().map(|(_, v)| *v))
            .unwrap_or(0);
        let status = label("status")
            .and_then(|s| serde_json::from_value(serde_json::Value::String(s.clone())).ok())
            .unwrap_or(ReleaseStatus::Unknown);
        // Helm's base64 layer is removed now (cheap, and it halves what is kept); what
        // it wraps is gunzipped and read only when the revision is decoded.
        let (payload, error) =
            match release::release_payload(secret).and_then(release::unbase64_payload) {
                Ok(raw) => (Some(ReleasePayload(std::sync::Arc::new(raw))), None),
                Err(e) => (None, Some(e.to_string())),
            };
        ReleaseRevision {
            secret: secret_name,
            namespace: namespace_of(meta),
            release,
            revision,
            chart: String::new(),
            chart_version: String::new(),
            app_version: String::new(),
            status,
            updated: created(meta),
            description: String::new(),
            error,
            payload,
        }
    }

    /// Decodes the payload kept by [`ReleaseRevision::from_secret_lazy`], if any: fills
    /// chart, versions, status, times and description from the release, or sets `error`
    /// (the labels' fields stay).
    pub fn decode(&mut self) {
        let Some(payload) = self.payload.take() else {
            return;
        };
        match release::decode_release_bytes(&payload.0) {
            Ok(r) => {
                // Helm keys releases by the Secret's namespace; the JSON is informative.
                if !r.name.is_empty() {
                    self.release = r.name;
                }
                if r.version != 0 {
                    self.revision = r.version;
                }
                self.chart = r.chart.metadata.name;
                self.chart_version = r.chart.metadata.version;
                self.app_version = r.chart.metadata.app_version;
                self.status = r.info.status;
                self.updated = r.info.last_deployed.or(r.info.first_deployed);
                self.description = r.info.description;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------
// Quantities and metrics
// ---------------------------------------------------------------------------

/// A Kubernetes quantity (`250m`, `1.5`, `32Gi`, `1e3`, `123456789n`) as a number.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    if q.is_empty() {
        return None;
    }
    const SUFFIXES: [(&str, f64); 16] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(s, f)| q.strip_suffix(s).map(|n| (n, *f)))
        .unwrap_or((q, 1.0));
    // `E` alone is exa; `1e3` is an exponent, which f64 parsing handles.
    let value: f64 = number.parse().ok()?;
    let v = value * factor;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// CPU quantity in millicores (rounded).
pub fn cpu_millis(q: &str) -> Option<u64> {
    parse_quantity(q).map(|v| (v * 1000.0).round() as u64)
}

/// Memory quantity in bytes (rounded).
pub fn memory_bytes(q: &str) -> Option<u64> {
    parse_quantity(q).map(|v| v.round() as u64)
}

fn usage_of(usage: &QuantityPair) -> Usage {
    Usage {
        cpu_millis: usage.cpu.as_deref().and_then(cpu_millis).unwrap_or(0),
        memory_bytes: usage.memory.as_deref().and_then(memory_bytes).unwrap_or(0),
    }
}

/// Pod usage from one metrics.k8s.io PodMetrics object (the sum of its containers).
pub fn pod_metrics_usage(pod_metrics: &SlimMetrics) -> Option<(Key, Usage)> {
    let name = pod_metrics.meta.name.clone()?;
    let namespace = pod_metrics.meta.namespace.clone().unwrap_or_default();
    let mut total = Usage::default();
    for c in &pod_metrics.containers {
        let u = usage_of(c);
        total.cpu_millis += u.cpu_millis;
        total.memory_bytes += u.memory_bytes;
    }
    Some(((namespace, name), total))
}

/// Node usage from one metrics.k8s.io NodeMetrics object.
pub fn node_metrics_usage(node_metrics: &SlimMetrics) -> Option<(String, Usage)> {
    let name = node_metrics.meta.name.clone()?;
    Some((name, usage_of(node_metrics.usage.as_ref()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::health::{HealthStatus, PodClass};
    use serde::de::DeserializeOwned;
    use std::path::Path;

    fn fixture<T: DeserializeOwned>(path: &str) -> T {
        let full = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path);
        let text =
            std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn running_pod_row() {
        let row = PodRow::from_pod(&fixture("pods/running-ready.json"));
        assert_eq!(row.namespace, "shop");
        assert_eq!(row.name, "web-7d4b9c8f6-xk2lp");
        assert_eq!(row.status.text, "Running");
        assert_eq!(row.status.class, PodClass::Running);
        assert_eq!(row.node, "ip-10-0-3-17.eu-west-1.compute.internal");
        assert_eq!(row.ip, "10.0.3.142");
        assert_eq!(
            row.owner,
            Some(OwnerRef {
                kind: "ReplicaSet".into(),
                name: "web-7d4b9c8f6".into()
            })
        );
        assert_eq!(row.workload.as_deref(), Some("web"));
        assert_eq!(row.workload_kind(), Some(WorkloadKind::Deployment));
        assert_eq!(
            row.labels.get("pod-template-hash").map(String::as_str),
            Some("7d4b9c8f6")
        );
        assert!(!row.containers.is_empty());
        assert!(row.created.is_some());
        assert!(!row.deleting);
    }

    #[test]
    fn a_pods_owner_is_its_controller_else_its_first_owner() {
        let pod = |owners: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p", "namespace": "ns", "ownerReferences": owners},
                "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}
            }))
            .unwrap()
        };
        let owner = |kind: &str, name: &str, controller: bool| {
            serde_json::json!({"apiVersion": "v1", "kind": kind, "name": name,
                "uid": "u", "controller": controller})
        };
        let row = PodRow::from_owned_pod(pod(serde_json::json!([
            owner("ConfigMap", "cm", false),
            owner("StatefulSet", "db", true),
        ])));
        let db = OwnerRef {
            kind: "StatefulSet".into(),
            name: "db".into(),
        };
        assert_eq!(row.owner, Some(db));
        assert_eq!(row.workload.as_deref(), Some("db"));
        assert_eq!(row.containers, ["app", "sidecar"]);
        let row = PodRow::from_owned_pod(pod(serde_json::json!([
            owner("ConfigMap", "cm", false),
            owner("Secret", "s", false),
        ])));
        assert_eq!(row.owner.map(|o| o.name).as_deref(), Some("cm"));
        assert_eq!(
            PodRow::from_owned_pod(pod(serde_json::json!([]))).owner,
            None
        );
    }

    #[test]
    fn crashloop_and_terminating_and_job_pods() {
        let crash = PodRow::from_pod(&fixture("pods/crashloopbackoff.json"));
        assert_eq!(crash.status.text, "CrashLoopBackOff");
        assert_eq!(crash.status.class, PodClass::CrashLooping);
        assert!(crash.status.restarts > 0);
        assert!(crash.status.last_restart.is_some());

        let term = PodRow::from_pod(&fixture("pods/terminating.json"));
        assert!(term.deleting);
        assert_eq!(term.status.text, "Terminating");

        let job = PodRow::from_pod(&fixture("pods/completed-job.json"));
        assert_eq!(job.owner.as_ref().map(|o| o.kind.as_str()), Some("Job"));
        assert_eq!(job.workload, None);
        assert_eq!(job.workload_kind(), None);

        let unscheduled = PodRow::from_pod(&fixture("pods/pending-unscheduled.json"));
        assert_eq!(unscheduled.node, "");
        assert_eq!(unscheduled.ip, "");
        assert_eq!(unscheduled.status.class, PodClass::Pending);
    }

    #[test]
    fn workload_from_owner() {
        let owner = |kind: &str, name: &str| OwnerReference {
            kind: kind.into(),
            name: name.into(),
            ..Default::default()
        };
        let hash = BTreeMap::from([("pod-template-hash".to_string(), "5f6c7d8e9".to_string())]);
        assert_eq!(
            pod_workload(&owner("ReplicaSet", "forwarder-pinterest-5f6c7d8e9"), &hash),
            Some((WorkloadKind::Deployment, "forwarder-pinterest".into()))
        );
        // A ReplicaSet whose name does not end with the hash is not a Deployment's.
        assert_eq!(
            pod_workload(&owner("ReplicaSet", "standalone"), &hash),
            None
        );
        assert_eq!(
            pod_workload(&owner("ReplicaSet", "web-5f6c7d8e9"), &BTreeMap::new()),
            None
        );
        assert_eq!(
            pod_workload(&owner("StatefulSet", "mysql"), &BTreeMap::new()),
            Some((WorkloadKind::StatefulSet, "mysql".into()))
        );
        assert_eq!(
            pod_workload(&owner("DaemonSet", "node-exporter"), &BTreeMap::new()),
            Some((WorkloadKind::DaemonSet, "node-exporter".into()))
        );
        assert_eq!(
            pod_workload(&owner("Job", "migrate"), &BTreeMap::new()),
            None
        );
    }

    #[test]
    fn pod_without_anything_does_not_panic() {
        let row = PodRow::from_pod(&Pod::default());
        assert_eq!(row.name, "");
        assert_eq!(row.owner, None);
        assert!(row.containers.is_empty());
    }

    #[test]
    fn ready_node_row() {
        let row = NodeRow::from_node(&fixture("nodes/ready.json"));
        assert_eq!(row.name, "worker-0");
        assert_eq!(row.ready, Some(true));
        assert!(!row.unschedulable);
        assert!(!row.memory_pressure && !row.disk_pressure && !row.pid_pressure);
        assert_eq!(
            row.roles,
            vec!["control-plane".to_string(), "worker".to_string()]
        );
        assert_eq!(row.version, "v1.33.1");
        assert_eq!(row.internal_ip, "10.0.1.10");
        assert_eq!(row.cpu_millis, 7_910);
        assert_eq!(row.memory_bytes, 31_772_176 * 1024);
        assert_eq!(row.created, Some(ts("2025-01-10T09:00:00Z")));
    }

    #[test]
    fn not_ready_cordoned_node_row() {
        let row = NodeRow::from_node(&fixture("nodes/notready-cordoned.json"));
        assert_eq!(row.name, "worker-3");
        assert_eq!(row.ready, None, "Ready=Unknown");
        // Since when: the Ready condition's last transition.
        assert_eq!(
            row.ready_since,
            Some("2025-05-14T10:31:00Z".parse().unwrap())
        );
        assert!(row.unschedulable);
        assert!(row.memory_pressure);
        assert!(row.disk_pressure);
        assert!(!row.pid_pressure);
        assert_eq!(row.roles, vec!["worker".to_string()]);
        // Falls back to capacity when allocatable is missing.
        assert_eq!(row.cpu_millis, 4_000);
        assert_eq!(row.memory_bytes, 16 * 1024 * 1024 * 1024);

        let mut node: Node = fixture("nodes/notready-cordoned.json");
        for c in node
            .status
            .as_mut()
            .and_then(|s| s.conditions.as_mut())
            .expect("conditions")
        {
            if c.type_ == "Ready" {
                c.status = "False".into();
            }
        }
        assert_eq!(NodeRow::from_node(&node).ready, Some(false));
    }

    #[test]
    fn deployment_rows() {
        let row = WorkloadRow::from_deployment(&fixture("workloads/deployment-healthy.json"));
        assert_eq!(row.kind, WorkloadKind::Deployment);
        assert_eq!((row.namespace.as_str(), row.name.as_str()), ("shop", "web"));
        assert_eq!(
            (row.desired, row.ready, row.updated, row.available),
            (3, 3, 3, 3)
        );
        assert_eq!(row.health.status, HealthStatus::Healthy);
        assert_eq!(row.release.as_deref(), Some("shop"));
        assert!(!row.images.is_empty());
        assert!(!row.selector.is_empty());

        let row = WorkloadRow::from_deployment(&fixture("workloads/deployment-progressing.json"));
        assert_eq!(row.health.status, HealthStatus::Progressing);
        assert_eq!(row.updated, 2);

        let row = WorkloadRow::from_deployment(&fixture("workloads/deployment-degraded.json"));
        assert_eq!(row.name, "checkout");
        assert_eq!(row.health.status, HealthStatus::Degraded);

        let row = WorkloadRow::from_deployment(&fixture("workloads/deployment-paused.json"));
        assert_eq!(row.health.status, HealthStatus::Suspended);
    }

    #[test]
    fn statefulset_and_daemonset_rows() {
        let row = WorkloadRow::from_statefulset(&fixture("workloads/statefulset-healthy.json"));
        assert_eq!(row.kind, WorkloadKind::StatefulSet);
        assert_eq!(row.name, "orders-db");
        assert_eq!((row.desired, row.ready, row.available), (3, 3, 3));
        assert_eq!(row.health.status, HealthStatus::Healthy);
        assert_eq!(row.release.as_deref(), Some("shop"));

        let row = WorkloadRow::from_statefulset(&fixture("workloads/statefulset-progressing.json"));
        assert_eq!(
            (row.desired, row.ready, row.updated, row.available),
            (3, 2, 1, 2)
        );
        assert_eq!(row.health.status, HealthStatus::Progressing);

        let row = WorkloadRow::from_daemonset(&fixture("workloads/daemonset-healthy.json"));
        assert_eq!(row.kind, WorkloadKind::DaemonSet);
        assert_eq!(row.namespace, "monitoring");
        assert_eq!(
            (row.desired, row.ready, row.updated, row.available),
            (3, 3, 3, 3)
        );
        assert_eq!(row.health.status, HealthStatus::Healthy);
        assert_eq!(row.release, None);
    }

    #[test]
    fn hpa_row() {
        let row = HpaRow::from_hpa(&fixture("workloads/hpa.json"));
        assert_eq!((row.namespace.as_str(), row.name.as_str()), ("shop", "web"));
        assert_eq!(
            (row.target_kind.as_str(), row.target_name.as_str()),
            ("Deployment", "web")
        );
        assert_eq!((row.min, row.max, row.current, row.desired), (3, 10, 3, 3));
        assert_eq!(row.cpu_target, Some(70));
        assert!(row.cpu_current.is_some());
        assert_eq!(row.health.status, HealthStatus::Healthy);
    }

    #[test]
    fn event_rows() {
        let row = EventRow::from_event(&fixture("events/backoff-warning.json"));
        assert_eq!(row.namespace, "mr-ee");
        assert!(row.warning);
        assert_eq!(row.reason, "BackOff");
        assert_eq!(
            row.message,
            "Back-off restarting failed container forwarder in pod forwarder-pinterest-6b7f9c5d4-x2k9p_mr-ee(1b2c)"
        );
        assert_eq!(row.object_kind, "Pod");
        assert_eq!(row.object_name, "forwarder-pinterest-6b7f9c5d4-x2k9p");
        assert_eq!(row.count, 14);
        assert_eq!(row.last_seen, Some(ts("2025-05-14T10:42:10Z")));
        assert_eq!(row.source, "kubelet");

        let row = EventRow::from_event(&fixture("events/scheduled-series.json"));
        assert!(!row.warning);
        assert_eq!(row.count, 3, "series count wins");
        assert_eq!(row.last_seen, Some(ts("2025-05-14T10:45:00.5Z")));
        assert_eq!(
            row.source, "default-scheduler",
            "reportingComponent when no source"
        );
    }

    #[test]
    fn release_revision_from_secret() {
        let rev = ReleaseRevision::from_secret(&fixture("releases/secret-shop-v3.json"));
        assert_eq!(rev.error, None);
        assert_eq!(rev.secret, "sh.helm.release.v1.shop.v3");
        assert_eq!(rev.namespace, "shop");
        assert_eq!(rev.release, "shop");
        assert_eq!(rev.revision, 3);
        assert_eq!(rev.chart, "shop");
        assert_eq!(rev.chart_version, "2.3.1");
        assert_eq!(rev.status, ReleaseStatus::Deployed);
        assert_eq!(rev.description, "Upgrade complete");
        assert_eq!(rev.updated, Some(ts("2025-05-14T09:20:08.913442021Z")));
    }

    #[test]
    fn undecodable_secret_becomes_an_error_row() {
        let mut secret: Secret = fixture("releases/secret-shop-v3.json");
        secret.data.as_mut().expect("data").insert(
            "release".into(),
            k8s_openapi::ByteString(b"not base64 at all!".to_vec()),
        );
        let rev = ReleaseRevision::from_secret(&secret);
        let err = rev.error.as_deref().expect("an error");
        assert!(err.contains("base64"), "{err}");
        assert_eq!(rev.release, "shop");
        assert_eq!(rev.revision, 3);
        assert_eq!(rev.status, ReleaseStatus::Deployed, "from the status label");

        // No labels, no data: name and revision from the Secret name.
        let bare = Secret {
            metadata: ObjectMeta {
                name: Some("sh.helm.release.v1.my.app.v12".into()),
                namespace: Some("apps".into()),
                ..Default::default()
            },
            type_: Some(release::RELEASE_SECRET_TYPE.into()),
            ..Default::default()
        };
        let rev = ReleaseRevision::from_secret(&bare);
        assert_eq!((rev.release.as_str(), rev.revision), ("my.app", 12));
        assert_eq!(rev.status, ReleaseStatus::Unknown);
        assert!(rev.error.is_some());

        let rev = ReleaseRevision::from_secret(&Secret::default());
        assert!(rev.error.is_some());
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("250m"), Some(250));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("1.5"), Some(1500));
        assert_eq!(cpu_millis("123456789n"), Some(123));
        assert_eq!(cpu_millis("1500u"), Some(2));
        assert_eq!(memory_bytes("32Gi"), Some(32 << 30));
        assert_eq!(memory_bytes("1024Ki"), Some(1 << 20));
        assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
        assert_eq!(memory_bytes("1e3"), Some(1000));
        assert_eq!(memory_bytes("2E"), Some(2_000_000_000_000_000_000));
        assert_eq!(memory_bytes(""), None);
        assert_eq!(memory_bytes("lots"), None);
        assert_eq!(memory_bytes("-1Gi"), None);
    }

    #[test]
    fn metrics_items() {
        let pod = serde_json::json!({
            "metadata": {"name": "router-1", "namespace": "mr-ee"},
            "containers": [
                {"name": "a", "usage": {"cpu": "120m", "memory": "100Mi"}},
                {"name": "b", "usage": {"cpu": "5000000n", "memory": "1Mi"}},
            ]
        });
        let pod: SlimMetrics = serde_json::from_value(pod).unwrap();
        assert_eq!(
            pod_metrics_usage(&pod),
            Some((
                ("mr-ee".into(), "router-1".into()),
                Usage {
                    cpu_millis: 125,
                    memory_bytes: 101 << 20
                }
            ))
        );
        let node = serde_json::json!({
            "metadata": {"name": "worker-0"},
            "usage": {"cpu": "1500m", "memory": "2Gi"}
        });
        let node: SlimMetrics = serde_json::from_value(node).unwrap();
        assert_eq!(
            node_metrics_usage(&node),
            Some((
                "worker-0".into(),
                Usage {
                    cpu_millis: 1500,
                    memory_bytes: 2 << 30
                }
            ))
        );
        let empty: SlimMetrics = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(node_metrics_usage(&empty), None);
    }
}
