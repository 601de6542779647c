//! metrics.k8s.io: simulated CPU and memory use of running pods and of nodes, as
//! metrics-server reports them (`kubectl top`), and the load model the HPA controller reads.

use super::api::ApiState;
use super::error::ApiError;
use super::resources::{ResourceType, Storage};
use super::selector::{FieldSelector, LabelSelector};
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// CPU utilisation (percent of the request) set per workload; others get a steady, name-derived load.
#[derive(Clone, Default)]
pub struct LoadModel(Arc<RwLock<HashMap<(String, String), f64>>>);

impl LoadModel {
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
    let wobble = (now_secs / 40.0 + hash01(name) * std::f64::consts::TAU).sin() * 3.0;
    match pod_workload(pod).and_then(|w| load.get(ns, &w)) {
        Some(p) => (p + wobble).max(1.0),
        None => 8.0 + hash01(name) * 35.0 + wobble,
    }
}

/// Per container: (name, CPU millicores, memory bytes) of a running pod.
pub fn pod_usage(pod: &Value, load: &LoadModel, now_secs: f64) -> Vec<(String, u64, u64)> {
    let pct = pod_cpu_percent(pod, load, now_secs);
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let cname = c["name"].as_str().unwrap_or("").to_string();
                    let req_cpu = c["resources"]["requests"]["cpu"]
                        .as_str()
                        .and_then(parse_cpu_millis)
                        .unwrap_or(100);
                    let req_mem = c["resources"]["requests"]["memory"]
                        .as_str()
                        .and_then(parse_bytes)
                        .unwrap_or(128 * 1048576);
                    let cpu = ((req_cpu as f64) * pct / 100.0).max(1.0) as u64;
                    let mem_frac = 0.35 + hash01(&format!("{name}/{cname}")) * 0.45;
                    (cname, cpu, (req_mem as f64 * mem_frac) as u64)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && pod["metadata"].get("deletionTimestamp").is_none()
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn pod_metrics(pod: &Value, load: &LoadModel, now: f64, ts: &str) -> Value {
    let containers: Vec<Value> = pod_usage(pod, load, now)
        .into_iter()
        .map(|(name, cpu, mem)| {
            json!({"name": name, "usage": {"cpu": format!("{}n", cpu * 1_000_000), "memory": format!("{}Ki", mem / 1024)}})
        })
        .collect();
    json!({
        "kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"],
            "creationTimestamp": ts, "labels": pod["metadata"]["labels"],
        },
        "timestamp": ts, "window": "15s", "containers": containers,
    })
}

/// Serves NodeMetrics and PodMetrics (get and list).
pub fn serve(
    s: &ApiState,
    rt: &ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<Value, ApiError> {
    let now = now_secs();
    let ts = super::store::now_rfc3339();
    let all = LabelSelector::default();
    let nofields = FieldSelector::default();
    match rt.storage {
        Storage::PodMetrics => {
            let pods: Vec<Value> = match name {
                Some(n) => vec![
                    s.store
                        .get(Storage::Pods, ns.unwrap_or(""), n)
                        .ok_or_else(|| ApiError::not_found(rt, n))?
                        .value(),
                ],
                None => s
                    .store
                    .list(Storage::Pods, ns, &all, &nofields, None, None)
                    .items
                    .iter()
                    .map(|o| o.value())
                    .collect(),
            };
            let items: Vec<Value> = pods
                .iter()
                .filter(|p| is_running(p))
                .map(|p| pod_metrics(p, &s.load, now, &ts))
                .collect();
            if let Some(n) = name {
                return items
                    .into_iter()
                    .next()
                    .ok_or_else(|| ApiError::not_found(rt, n));
            }
            Ok(
                json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
            )
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
            let mut per_node: HashMap<String, (u64, u64)> = HashMap::new();
            for p in s.store.all(Storage::Pods) {
                let Some(node) = p.field("spec.nodeName").map(String::from) else {
                    continue;
                };
                if p.field("status.phase") != Some("Running") {
                    continue;
                }
                let pv = p.value();
                let e = per_node.entry(node).or_default();
                for (_, cpu, mem) in pod_usage(&pv, &s.load, now) {
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
                    .into_iter()
                    .next()
                    .ok_or_else(|| ApiError::not_found(rt, n));
            }
            Ok(
                json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
