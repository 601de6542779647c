//! The EndpointSlice controller: for every Service with a selector, one slice
//! `<service>-<suffix>` (labelled `kubernetes.io/service-name` and managed by
//! `endpointslice-controller.k8s.io`, owned by the Service) listing the pods the selector
//! matches that have an IP and are not being deleted, with their readiness. A change to a
//! pod or to the Service marks it dirty; the next tick rewrites its slice if it changed, so
//! repointing a Service's selector moves its endpoints within a tick.

use super::super::resources::Storage;
use super::super::selector::{FieldSelector, LabelSelector};
use super::super::store::{EventType, Store, WatchEvent};
use super::Controllers;
use super::util::pod_is_ready;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// The controller's state: the selectors of the Services, by namespace, and the Services
/// whose slice may be stale.
#[derive(Default)]
pub struct EndpointSlices {
    selectors: HashMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    dirty: HashSet<(String, String)>,
}

fn selector_of(svc: &Value) -> Option<BTreeMap<String, String>> {
    if svc["spec"]["type"] == "ExternalName" {
        return None;
    }
    let sel: BTreeMap<String, String> = svc["spec"]["selector"]
        .as_object()?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    (!sel.is_empty()).then_some(sel)
}

fn matches(sel: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

impl EndpointSlices {
    /// Rebuilds the selectors from the store and marks every Service dirty (and those of
    /// managed slices, whose Service may be gone).
    pub fn resync(&mut self, store: &Store) {
        self.selectors.clear();
        for svc in store.all(Storage::Services) {
            let v = svc.value();
            if let Some(sel) = selector_of(&v) {
                self.selectors
                    .entry(svc.namespace.clone())
                    .or_default()
                    .insert(svc.name.clone(), sel);
            }
            self.dirty.insert((svc.namespace.clone(), svc.name.clone()));
        }
        for slice in store.all(Storage::EndpointSlices) {
            if slice.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY)
                && let Some(svc) = slice.labels.get(SERVICE_NAME_LABEL)
            {
                self.dirty.insert((slice.namespace.clone(), svc.clone()));
            }
        }
    }

    /// Takes in one change from the store's feed.
    pub fn observe(&mut self, e: &WatchEvent) {
        let obj = &e.obj;
        match e.storage {
            Storage::Services => {
                let sel = if e.kind == EventType::Deleted {
                    None
                } else {
                    selector_of(&obj.value())
                };
                let in_ns = self.selectors.entry(obj.namespace.clone()).or_default();
                match sel {
                    Some(sel) => {
                        in_ns.insert(obj.name.clone(), sel);
                    }
                    None => {
                        in_ns.remove(&obj.name);
                    }
                }
                self.dirty.insert((obj.namespace.clone(), obj.name.clone()));
            }
            Storage::Pods => {
                let Some(services) = self.selectors.get(&obj.namespace) else {
                    return;
                };
                for (name, sel) in services {
                    if matches(sel, &obj.labels)
                        || e.prev.as_ref().is_some_and(|p| matches(sel, &p.labels))
                    {
                        self.dirty.insert((obj.namespace.clone(), name.clone()));
                    }
                }
            }
            Storage::EndpointSlices => {
                // Someone else's change to a managed slice (or its deletion) is undone.
                if obj.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY)
                    && let Some(svc) = obj.labels.get(SERVICE_NAME_LABEL)
                {
                    self.dirty.insert((obj.namespace.clone(), svc.clone()));
                }
            }
            _ => {}
        }
    }
}

/// The slice's `ports`: each Service port with its target port resolved (a named target
/// port against the pods' container ports; unresolved, it is left out).
fn slice_ports(svc: &Value, pods: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
        let port = match &p["targetPort"] {
            Value::Number(n) => n.as_i64(),
            Value::String(name) if !name.is_empty() => name.parse::<i64>().ok().or_else(|| {
                pods.iter().find_map(|pod| {
                    pod["spec"]["containers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                        .find(|cp| cp["name"] == name.as_str())
                        .and_then(|cp| cp["containerPort"].as_i64())
                })
            }),
            _ => p["port"].as_i64(),
        };
        let Some(port) = port else {
            continue;
        };
        let mut e = json!({
            "name": p["name"].as_str().unwrap_or(""),
            "port": port,
            "protocol": p["protocol"].as_str().unwrap_or("TCP"),
        });
        if let Some(a) = p.get("appProtocol").filter(|a| a.is_string()) {
            e["appProtocol"] = a.clone();
        }
        out.push(e);
    }
    out
}

/// The slice's endpoint for a pod, if it has an IP and is not being deleted.
fn endpoint(
    pod: &Value,
    publish_not_ready: bool,
    zones: &HashMap<String, String>,
) -> Option<Value> {
    if pod["metadata"].get("deletionTimestamp").is_some() {
        return None;
    }
    let ip = pod["status"]["podIP"].as_str().filter(|s| !s.is_empty())?;
    let ready = publish_not_ready || pod_is_ready(pod);
    let mut e = json!({
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": ready, "terminating": false},
        "targetRef": {
            "kind": "Pod",
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "uid": pod["metadata"]["uid"],
        },
    });
    if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|s| !s.is_empty()) {
        e["nodeName"] = json!(node);
        if let Some(z) = zones.get(node) {
            e["zone"] = json!(z);
        }
    }
    Some(e)
}

/// The labels of a Service's slice: the Service's own, and the controller's.
fn slice_labels(svc: &Value, name: &str) -> Value {
    let mut labels = svc["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_else(Map::new);
    labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
    if svc["spec"]["clusterIP"] == "None" {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    Value::Object(labels)
}

impl Controllers {
    /// Brings the slices of the dirty Services up to date.
    pub(crate) fn reconcile_endpoint_slices(&mut self) {
        if self.slices.dirty.is_empty() {
            return;
        }
        let dirty: Vec<(String, String)> = self.slices.dirty.drain().collect();
        let zones: HashMap<String, String> = self
            .store
            .all(Storage::Nodes)
            .iter()
            .filter_map(|n| {
                n.labels
                    .get("topology.kubernetes.io/zone")
                    .map(|z| (n.name.clone(), z.clone()))
            })
            .collect();
        for (ns, name) in dirty {
            self.reconcile_slice(&ns, &name, &zones);
        }
    }

    fn reconcile_slice(&mut self, ns: &str, name: &str, zones: &HashMap<String, String>) {
        let no_fields = FieldSelector::default();
        let managed = LabelSelector::from_json(&json!({"matchLabels": {
            SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY,
        }}));
        let mut existing = self
            .store
            .list(
                Storage::EndpointSlices,
                Some(ns),
                &managed,
                &no_fields,
                None,
                None,
            )
            .items;
        let svc = self
            .store
            .get(Storage::Services, ns, name)
            .map(|o| (o.uid.clone(), o.value()));
        let Some((uid, svc)) = svc.filter(|(_, v)| selector_of(v).is_some()) else {
            for s in existing {
                let _ = self
                    .store
                    .delete(Storage::EndpointSlices, ns, &s.name, None);
            }
            return;
        };
        let sel = LabelSelector::from_json(&json!({"matchLabels": svc["spec"]["selector"]}));
        let mut pods: Vec<Value> = self
            .store
            .list(Storage::Pods, Some(ns), &sel, &no_fields, None, None)
            .items
            .iter()
            .map(|o| o.value())
            .collect();
        pods.sort_by(|a, b| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        });
        let publish = svc["spec"]["publishNotReadyAddresses"] == true;
        let endpoints: Vec<Value> = pods
            .iter()
            .filter_map(|p| endpoint(p, publish, zones))
            .collect();
        let ports = slice_ports(&svc, &pods);
        let labels = slice_labels(&svc, name);
        let owner = json!([{
            "apiVersion": "v1", "kind": "Service", "name": name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true,
        }]);
        // Keep the oldest slice; any other is surplus.
        existing.sort_by_key(|s| s.rv);
        let keep = if existing.is_empty() {
            None
        } else {
            Some(existing.remove(0))
        };
        for s in existing {
            let _ = self
                .store
                .delete(Storage::EndpointSlices, ns, &s.name, None);
        }
        match keep {
            None => {
                let slice = json!({
                    "metadata": {
                        "generateName": format!("{name}-"), "namespace": ns,
                        "labels": labels, "ownerReferences": owner,
                    },
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": ports,
                });
                if let Err(e) = self.store.create(Storage::EndpointSlices, ns, slice) {
                    tracing::debug!(error = %e, "endpoint slice not created");
                }
            }
            Some(s) => {
                let _ = self
                    .store
                    .mutate(Storage::EndpointSlices, ns, &s.name, |v| {
                        let same = v["addressType"] == "IPv4"
                            && v["endpoints"] == json!(endpoints)
                            && v["ports"] == json!(ports)
                            && v["metadata"]["labels"] == labels
                            && v["metadata"]["ownerReferences"] == owner;
                        if same {
                            return false;
                        }
                        v["addressType"] = json!("IPv4");
                        v["endpoints"] = json!(endpoints);
                        v["ports"] = json!(ports);
                        v["metadata"]["labels"] = labels;
                        v["metadata"]["ownerReferences"] = owner;
                        true
                    });
            }
        }
    }
}

/// The cells of a slice's row after its name, as kubectl prints them: ADDRESSTYPE, PORTS,
/// ENDPOINTS (three at most, then `+ N more...`; `<unset>` for none), AGE.
pub fn table_cells(v: &Value, age: Value) -> Vec<Value> {
    fn list_with_more(list: Vec<String>, count: usize) -> String {
        const MAX: usize = 3;
        let shown = list.into_iter().take(MAX).collect::<Vec<_>>().join(",");
        if count > MAX {
            format!("{shown} + {} more...", count - MAX)
        } else if shown.is_empty() {
            "<unset>".into()
        } else {
            shown
        }
    }
    let ports: Vec<String> = v["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".into(),
        })
        .collect();
    let port_count = ports.len();
    let addresses: Vec<String> = v["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    let address_count = addresses.len();
    vec![
        json!(v["addressType"].as_str().unwrap_or("")),
        json!(list_with_more(ports, port_count)),
        json!(list_with_more(addresses, address_count)),
        age,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_print_as_kubectl_prints_slices() {
        let v = json!({"addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
                          {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]}, {"addresses": ["10.0.0.5"]}]});
        let cells = table_cells(&v, json!("5m"));
        assert_eq!(cells[0], "IPv4");
        assert_eq!(cells[1], "8080");
        assert_eq!(cells[2], "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...");
        let empty = json!({"addressType": "IPv4", "ports": null, "endpoints": []});
        let cells = table_cells(&empty, json!("1s"));
        assert_eq!(cells[1], "<unset>");
        assert_eq!(cells[2], "<unset>");
    }

    #[test]
    fn ports_resolve_named_target_ports_against_the_pods() {
        let svc = json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
            {"port": 9090, "targetPort": 9091, "protocol": "UDP"},
            {"name": "none", "port": 1, "targetPort": "missing"},
        ]}});
        let pods = vec![
            json!({"spec": {"containers": [{"ports": [{"name": "web", "containerPort": 8080}]}]}}),
        ];
        let ports = slice_ports(&svc, &pods);
        assert_eq!(
            ports,
            vec![
                json!({"name": "http", "port": 8080, "protocol": "TCP"}),
                json!({"name": "", "port": 9091, "protocol": "UDP"}),
            ]
        );
    }

    #[test]
    fn endpoints_carry_readiness_and_skip_pods_without_ip_or_being_deleted() {
        let zones = HashMap::from([("n1".to_string(), "z1".to_string())]);
        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"nodeName": "n1"},
            "status": {"podIP": "10.1.1.1", "conditions": [{"type": "Ready", "status": "False"}]}});
        let e = endpoint(&pod, false, &zones).unwrap();
        assert_eq!(
            e,
            json!({"addresses": ["10.1.1.1"], "conditions": {"ready": false, "serving": false, "terminating": false},
                   "nodeName": "n1", "zone": "z1",
                   "targetRef": {"kind": "Pod", "name": "p", "namespace": "ns", "uid": "u"}})
        );
        assert_eq!(
            endpoint(&pod, true, &zones).unwrap()["conditions"]["ready"],
            true
        );
        let mut gone = pod.clone();
        gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(endpoint(&gone, false, &zones).is_none());
        let mut no_ip = pod.clone();
        no_ip["status"] = json!({});
        assert!(endpoint(&no_ip, false, &zones).is_none());
    }
}
