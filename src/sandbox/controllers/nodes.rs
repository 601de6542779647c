//! The node lifecycle controller, as Kubernetes' does it: a node that is not Ready gets the
//! `node.kubernetes.io/unreachable` (Ready Unknown) or `node.kubernetes.io/not-ready`
//! (Ready False) taints, NoSchedule and NoExecute; once its pods have tolerated that for
//! `eviction_ms` (Kubernetes' default toleration is 300 s) they are marked for deletion
//! (event `TaintManagerEviction`), so their controllers create replacements on the nodes
//! that are Ready. The evicted pods stay Terminating while their node's kubelet cannot
//! confirm it, as on a real cluster, and go once the node is back. DaemonSet pods tolerate
//! both taints without limit and stay. A node that is Ready again loses the taints.

use super::Controllers;
use super::util::condition;
use crate::sandbox::resources::Storage;
use crate::sandbox::selector::{FieldSelector, LabelSelector};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How often nodes are looked at.
const EVERY: Duration = Duration::from_secs(1);

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const NOT_READY: &str = "node.kubernetes.io/not-ready";

impl Controllers {
    /// Taints nodes that are not Ready, untaints those that are, and evicts the pods of
    /// nodes that have been not Ready for longer than `eviction_ms`.
    pub(crate) fn node_lifecycle(&mut self) {
        if self.last_node_check.elapsed() < EVERY {
            return;
        }
        self.last_node_check = Instant::now();
        let eviction = Duration::from_millis(self.cfg.eviction_ms);
        for node in self.store.all(Storage::Nodes) {
            let v = node.value();
            let ready = condition(&v, "Ready").map(|c| c["status"].as_str().unwrap_or(""));
            let taint = match ready {
                Some("True") => None,
                Some("False") => Some(NOT_READY),
                _ => Some(UNREACHABLE),
            };
            let _ = self
                .store
                .mutate(Storage::Nodes, "", &node.name, |n| set_taints(n, taint));
            match taint {
                None => {
                    self.not_ready_since.remove(&node.name);
                }
                Some(_) => {
                    let since = *self
                        .not_ready_since
                        .entry(node.name.clone())
                        .or_insert_with(Instant::now);
                    if since.elapsed() >= eviction {
                        self.evict_pods_of(&node.name);
                    }
                }
            }
        }
    }

    fn evict_pods_of(&mut self, node: &str) {
        for p in self.pods_on_node(node) {
            let v = p.value();
            if v["metadata"].get("deletionTimestamp").is_some() || owned_by_daemonset(&v) {
                continue;
            }
            let marked = self
                .store
                .mutate(Storage::Pods, &p.namespace, &p.name, |v| {
                    if v["metadata"].get("deletionTimestamp").is_some() {
                        return false;
                    }
                    v["metadata"]["deletionTimestamp"] =
                        json!(crate::sandbox::store::now_rfc3339());
                    v["metadata"]["deletionGracePeriodSeconds"] = json!(30);
                    true
                });
            if matches!(marked, Ok(Some(_))) {
                let message = format!("Marking for deletion Pod {}/{}", p.namespace, p.name);
                self.events.record(
                    &self.store,
                    &v,
                    false,
                    "TaintManagerEviction",
                    &message,
                    "taint-eviction-controller",
                    None,
                );
            }
        }
    }

    /// The pods bound to `node`.
    pub(crate) fn pods_on_node(
        &self,
        node: &str,
    ) -> Vec<std::sync::Arc<crate::sandbox::store::Obj>> {
        let pods = Storage::Pods.storage_type();
        let Ok(fields) = FieldSelector::parse(&format!("spec.nodeName={node}"), pods) else {
            return Vec::new();
        };
        self.store
            .list(
                Storage::Pods,
                None,
                &LabelSelector::default(),
                &fields,
                None,
                None,
            )
            .items
    }

    /// Whether the kubelet of `node` can act (its node is Ready).
    pub(crate) fn node_is_ready(&self, node: &str) -> bool {
        self.store
            .get(Storage::Nodes, "", node)
            .is_some_and(|n| condition(&n.value(), "Ready").is_some_and(|c| c["status"] == "True"))
    }
}

fn owned_by_daemonset(v: &Value) -> bool {
    v["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|o| o.iter().any(|r| r["kind"] == "DaemonSet"))
}

/// Sets the node's lifecycle taints to `taint` (NoSchedule and NoExecute), or removes them;
/// other taints are kept. Returns whether anything changed.
fn set_taints(n: &mut Value, taint: Option<&str>) -> bool {
    let existing: Vec<Value> = n["spec"]["taints"].as_array().cloned().unwrap_or_default();
    let mut kept: Vec<Value> = existing
        .iter()
        .filter(|t| t["key"] != UNREACHABLE && t["key"] != NOT_READY)
        .cloned()
        .collect();
    if let Some(key) = taint {
        for effect in ["NoSchedule", "NoExecute"] {
            let old = existing
                .iter()
                .find(|t| t["key"] == key && t["effect"] == effect);
            kept.push(match old {
                Some(t) => t.clone(),
                None => {
                    let mut t = json!({"key": key, "effect": effect});
                    if effect == "NoExecute" {
                        t["timeAdded"] = json!(crate::sandbox::store::now_rfc3339());
                    }
                    t
                }
            });
        }
    }
    if kept == existing {
        return false;
    }
    if kept.is_empty() {
        if let Some(spec) = n["spec"].as_object_mut() {
            spec.remove("taints");
        }
    } else {
        n["spec"]["taints"] = Value::Array(kept);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_taints_replace_each_other_and_keep_the_users() {
        let mut n = json!({"spec": {"taints": [{"key": "dedicated", "value": "kafka", "effect": "NoSchedule"}]}});
        assert!(set_taints(&mut n, Some(UNREACHABLE)));
        let keys: Vec<&str> = n["spec"]["taints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["dedicated", UNREACHABLE, UNREACHABLE]);
        assert!(
            !set_taints(&mut n, Some(UNREACHABLE)),
            "no change the second time"
        );
        assert!(set_taints(&mut n, Some(NOT_READY)));
        assert!(n.to_string().contains(NOT_READY) && !n.to_string().contains(UNREACHABLE));
        assert!(set_taints(&mut n, None));
        assert_eq!(n["spec"]["taints"].as_array().unwrap().len(), 1);
        let mut bare = json!({"spec": {}});
        assert!(!set_taints(&mut bare, None));
        assert!(bare["spec"].get("taints").is_none());
    }
}
