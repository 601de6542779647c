//! metrics.k8s.io: simulated CPU and memory use of running pods and of nodes, as
//! metrics-server reports them (`kubectl top`), and the load model the HPA controller reads.

use super::api::ApiState;
use super::error::ApiError;
use super::resources::{ResourceType, Storage};
use super::selector::{FieldSelector, LabelSelector};
use super::store::Obj;
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// CPU utilisation (percent of the request) set per workload; others get a steady, name-derived load.
/// It carries the request error shares by image too (`/metrics`, [`super::traffic`]).
#[derive(Clone, Default)]
pub struct LoadModel(
    Arc<RwLock<HashMap<(String, String), f64>>>,
    super::traffic::Traffic,
);

impl LoadModel {
    /// The error shares of the workloads' traffic.
    pub fn traffic(&self) -> &super::traffic::Traffic {
        &self.1
    }

    /// Sets the CPU utilisation (percent of requests) of a workload's pods.
    pub fn set(&self, ns: &str, workload: &str, percent: f64) {
        self.0
            .write()
            .insert((ns.to_string(), workload.to_string()), percent);
    }

    pub fn get(&self, ns: &str, workload: &str) -> Option<f64> {
        self.0
            .read()
            .get(&(ns.to_string(), workload.to_string()))
            .copied()
    }
}

fn hash01(s: &str) -> f64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    (h.finish() % 10_000) as f64 / 10_000.0
}

/// Parses a CPU quantity to millicores ("250m", "0.5", "2").
pub fn parse_cpu_millis(q: &str) -> Option<u64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| v.round() as u64);
    }
    if let Some(n) = q.strip_suffix('n') {
        return n.parse::<f64>().ok().map(|v| (v / 1e6).round() as u64);
    }
    q.parse::<f64>().ok().map(|v| (v * 1000.0).round() as u64)
}

/// Parses a memory quantity to bytes ("128Mi", "1G", "1000k", "1e9").
pub fn parse_bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    const UNITS: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, mult) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|v| (v * mult) as u64);
        }
    }
    q.parse::<f64>().ok().map(|v| v as u64)
}

/// The workload (Deployment, StatefulSet, DaemonSet name) a pod belongs to, from its owner.
pub fn pod_workload(pod: &Value) -> Option<String> {
    let owner = pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)?;
    let name = owner["name"].as_str()?;
    if owner["kind"] == "ReplicaSet" {
        let hash = pod["metadata"]["labels"]["pod-template-hash"].as_str();
        return Some(match hash {
            Some(h) => name
                .strip_suffix(&format!("-{h}"))
                .unwrap_or(name)
                .to_string(),
            None => name.to_string(),
        });
    }
    Some(name.to_string())
}

/// CPU utilisation (percent of the request) of a pod now.
pub fn pod_cpu_percent(pod: &Value, load: &LoadModel, now_secs: f64) -> f64 {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    cpu_percent(ns, name, pod_workload(pod).as_deref(), load, now_secs)
}

fn cpu_percent(
    ns: &str,
    name: &str,
    workload: Option<&str>,
    load: &LoadModel,
    now_secs: f64,
) -> f64 {
    let wobble = (now_secs / 40.0 + hash01(name) * std::f64::consts::TAU).sin() * 3.0;
    match workload.and_then(|w| load.get(ns, w)) {
        Some(p) => (p + wobble).max(1.0),
        None => 8.0 + hash01(name) * 35.0 + wobble,
    }
}

/// What a pod's metrics are computed from, read from its JSON once per revision: parsing
/// every pod at every poll made one PodMetrics list at 50,000 pods cost the sandbox seconds
/// of CPU, where metrics-server answers from memory.
pub struct PodShape {
    /// The pod's revision this was read from (its name, namespace and labels too).
    obj: Arc<Obj>,
    running: bool,
    node: Option<String>,
    workload: Option<String>,
    /// Per container: name, CPU request (millicores), memory request (bytes).
    containers: Vec<(String, u64, u64)>,
}

impl PodShape {
    fn read(obj: &Arc<Obj>) -> PodShape {
        let pod = obj.value();
        let containers = pod["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        let requests = &c["resources"]["requests"];
                        (
                            c["name"].as_str().unwrap_or("").to_string(),
                            requests["cpu"]
                                .as_str()
                                .and_then(parse_cpu_millis)
                                .unwrap_or(100),
                            requests["memory"]
                                .as_str()
                                .and_then(parse_bytes)
                                .unwrap_or(128 * 1048576),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        PodShape {
            obj: obj.clone(),
            running: pod["status"]["phase"] == "Running"
                && pod["metadata"].get("deletionTimestamp").is_none(),
            node: pod["spec"]["nodeName"].as_str().map(String::from),
            workload: pod_workload(&pod),
            containers,
        }
    }

    /// Per container: (name, CPU millicores, memory bytes) now.
    fn usage(&self, load: &LoadModel, now_secs: f64) -> Vec<(&str, u64, u64)> {
        let pct = cpu_percent(
            &self.obj.namespace,
            &self.obj.name,
            self.workload.as_deref(),
            load,
            now_secs,
        );
        self.containers
            .iter()
            .map(|(cname, req_cpu, req_mem)| {
                let cpu = ((*req_cpu as f64) * pct / 100.0).max(1.0) as u64;
                let mem_frac = 0.35 + hash01(&format!("{}/{cname}", self.obj.name)) * 0.45;
                (cname.as_str(), cpu, (*req_mem as f64 * mem_frac) as u64)
            })
            .collect()
    }
}

/// The shapes of the pods last asked about, by namespace and name.
#[derive(Clone, Default)]
pub struct PodShapes(Arc<parking_lot::Mutex<ShapesByPod>>);

type ShapesByPod = HashMap<(String, String), Arc<PodShape>>;

impl PodShapes {
    /// The shapes of these pods, read again only for pods changed since; shapes of pods no
    /// longer listed are forgotten when the list is of every pod.
    fn of(&self, pods: &[Arc<Obj>], every_pod: bool) -> Vec<Arc<PodShape>> {
        let mut cache = self.0.lock();
        let mut kept = HashMap::with_capacity(if every_pod { pods.len() } else { 0 });
        let shapes = pods
            .iter()
            .map(|o| {
                let key = (o.namespace.clone(), o.name.clone());
                let shape = match cache.get(&key) {
                    Some(s) if s.obj.rv == o.rv => s.clone(),
                    _ => Arc::new(PodShape::read(o)),
                };
                if every_pod {
                    kept.insert(key, shape.clone());
                } else {
                    cache.insert(key, shape.clone());
                }
                shape
            })
            .collect();
        if every_pod {
            *cache = kept;
        }
        shapes
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One PodMetrics as metrics-server writes it, serialized without building a JSON tree (a
/// list of 50,000 of them is answered in one go).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMetrics<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: MetricsMeta<'a>,
    timestamp: &'a str,
    window: &'static str,
    containers: Vec<ContainerMetrics<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricsMeta<'a> {
    name: &'a str,
    namespace: &'a str,
    creation_timestamp: &'a str,
    labels: &'a std::collections::BTreeMap<String, String>,
}

#[derive(serde::Serialize)]
struct ContainerMetrics<'a> {
    name: &'a str,
    usage: Usage,
}

#[derive(serde::Serialize)]
struct Usage {
    cpu: String,
    memory: String,
}

fn pod_metrics<'a>(pod: &'a PodShape, load: &LoadModel, now: f64, ts: &'a str) -> PodMetrics<'a> {
    PodMetrics {
        kind: "PodMetrics",
        api_version: "metrics.k8s.io/v1beta1",
        metadata: MetricsMeta {
            name: &pod.obj.name,
            namespace: &pod.obj.namespace,
            creation_timestamp: ts,
            labels: &pod.obj.labels,
        },
        timestamp: ts,
        window: "15s",
        containers: pod
            .usage(load, now)
            .into_iter()
            .map(|(name, cpu, mem)| ContainerMetrics {
                name,
                usage: Usage {
                    cpu: format!("{}n", cpu * 1_000_000),
                    memory: format!("{}Ki", mem / 1024),
                },
            })
            .collect(),
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMetricsList<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: serde_json::Map<String, Value>,
    items: Vec<PodMetrics<'a>>,
}

fn to_json(v: &impl serde::Serialize) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(ApiError::internal)
}

/// Serves NodeMetrics and PodMetrics (get and list), as JSON text.
pub fn serve(
    s: &ApiState,
    rt: &ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<String, ApiError> {
    let now = now_secs();
    let ts = super::store::now_rfc3339();
    let all = LabelSelector::default();
    let nofields = FieldSelector::default();
    match rt.storage {
        Storage::PodMetrics => {
            let pods: Vec<Arc<Obj>> = match name {
                Some(n) => vec![
                    s.store
                        .get(Storage::Pods, ns.unwrap_or(""), n)
                        .ok_or_else(|| ApiError::not_found(rt, n))?,
                ],
                None => {
                    s.store
                        .list(Storage::Pods, ns, &all, &nofields, None, None)
                        .items
                }
            };
            let every_pod = name.is_none() && ns.is_none();
            let shapes = s.pod_shapes.of(&pods, every_pod);
            let items: Vec<PodMetrics> = shapes
                .iter()
                .filter(|p| p.running)
                .map(|p| pod_metrics(p, &s.load, now, &ts))
                .collect();
            if let Some(n) = name {
                return items
                    .first()
                    .ok_or_else(|| ApiError::not_found(rt, n))
                    .and_then(to_json);
            }
            to_json(&PodMetricsList {
                kind: "PodMetricsList",
                api_version: "metrics.k8s.io/v1beta1",
                metadata: Default::default(),
                items,
            })
        }
        _ => {
            let nodes: Vec<Value> = match name {
                Some(n) => vec![
                    s.store
                        .get(Storage::Nodes, "", n)
                        .ok_or_else(|| ApiError::not_found(rt, n))?
                        .value(),
                ],
                None => s
                    .store
                    .all(Storage::Nodes)
                    .iter()
                    .map(|o| o.value())
                    .collect(),
            };
            let mut per_node: HashMap<&str, (u64, u64)> = HashMap::new();
            let shapes = s.pod_shapes.of(&s.store.all(Storage::Pods), true);
            for p in &shapes {
                let Some(node) = p.node.as_deref() else {
                    continue;
                };
                if !p.running {
                    continue;
                }
                let e = per_node.entry(node).or_default();
                for (_, cpu, mem) in p.usage(&s.load, now) {
                    e.0 += cpu;
                    e.1 += mem;
                }
            }
            let items: Vec<Value> = nodes
                .iter()
                .filter(|n| {
                    n["status"]["conditions"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
                })
                .map(|n| {
                    let nname = n["metadata"]["name"].as_str().unwrap_or("");
                    let (cpu, mem) = per_node.get(nname).copied().unwrap_or_default();
                    let cpu = cpu + 120 + (hash01(nname) * 80.0) as u64;
                    let mem = mem + 900 * 1048576 + (hash01(nname) * 300.0) as u64 * 1048576;
                    json!({
                        "kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {"name": nname, "creationTimestamp": ts, "labels": n["metadata"]["labels"]},
                        "timestamp": ts, "window": "20s",
                        "usage": {"cpu": format!("{}n", cpu * 1_000_000), "memory": format!("{}Ki", mem / 1024)},
                    })
                })
                .collect();
            if let Some(n) = name {
                return items
                    .first()
                    .ok_or_else(|| ApiError::not_found(rt, n))
                    .and_then(to_json);
            }
            to_json(
                &json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, rv: u64, cpu: &str) -> Arc<Obj> {
        let v = json!({
            "metadata": {"name": name, "namespace": "ee", "labels": {"app": "a"}},
            "spec": {"nodeName": "worker-1", "containers": [
                {"name": "app", "resources": {"requests": {"cpu": cpu, "memory": "100Mi"}}}]},
            "status": {"phase": "Running"},
        });
        Arc::new(Obj {
            json: serde_json::to_vec(&v).unwrap().into(),
            namespace: "ee".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            rv,
            labels: [("app".to_string(), "a".to_string())].into(),
            fields: Vec::new(),
            pb: None,
        })
    }

    #[test]
    fn a_pod_is_read_once_per_revision() {
        let shapes = PodShapes::default();
        let (a, b) = (pod("a", 1, "100m"), pod("b", 2, "200m"));
        let first = shapes.of(&[a.clone(), b.clone()], true);
        assert_eq!(
            first[1].containers,
            vec![("app".into(), 200, 100 * 1048576)]
        );
        assert!(first[0].running);
        assert_eq!(first[0].node.as_deref(), Some("worker-1"));
        // Unchanged pods: the same shapes, not read again.
        let again = shapes.of(&[a.clone(), b], true);
        assert!(Arc::ptr_eq(&first[0], &again[0]) && Arc::ptr_eq(&first[1], &again[1]));
        // A new revision is read again; a pod no longer listed is forgotten.
        let a2 = pod("a", 3, "300m");
        let third = shapes.of(std::slice::from_ref(&a2), true);
        assert_eq!(third[0].containers[0].1, 300);
        assert_eq!(shapes.0.lock().len(), 1);
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu_millis("250m"), Some(250));
        assert_eq!(parse_cpu_millis("0.5"), Some(500));
        assert_eq!(parse_cpu_millis("2"), Some(2000));
        assert_eq!(parse_bytes("128Mi"), Some(128 * 1048576));
        assert_eq!(parse_bytes("1G"), Some(1_000_000_000));
        assert_eq!(parse_bytes("junk"), None);
    }

    #[test]
    fn workload_of_a_replicaset_pod() {
        let pod = json!({"metadata": {"labels": {"pod-template-hash": "7d9f8"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "router-7d9f8", "controller": true}]}});
        assert_eq!(pod_workload(&pod).as_deref(), Some("router"));
    }
}
