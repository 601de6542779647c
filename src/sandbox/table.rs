//! Server-side printing: the `meta.k8s.io/v1 Table` that `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns the API
//! server's printers give each resource (`pkg/printers/internalversion/printers.go`):
//! STATUS / READY / RESTARTS of pods, STATUS / ROLES of nodes, and so on; `-o wide`
//! shows the columns of priority 1. Without a Table kubectl prints only NAME and AGE.

use super::resources::{ResourceType, Storage};
use super::selector::LabelSelector;
use super::store::Obj;
use serde_json::{Value, json};
use std::collections::HashMap;

/// What a row carries besides its cells (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

/// A client's request for Tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOpts {
    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`, as asked.
    pub api_version: &'static str,
    pub include: Include,
}

/// Whether the request asks for a Table: the first media range of `Accept` that the server
/// can give decides, as the API server negotiates.
pub fn wanted(accept: &str, q: &HashMap<String, String>) -> Option<TableOpts> {
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let base = parts.next().unwrap_or("");
        let params: HashMap<&str, &str> = parts.filter_map(|p| p.split_once('=')).collect();
        if !matches!(base, "application/json" | "*/*" | "application/*" | "") {
            continue;
        }
        match (params.get("as"), params.get("g"), params.get("v")) {
            (None, _, _) => return None,
            (Some(&"Table"), Some(&"meta.k8s.io"), Some(&v @ ("v1" | "v1beta1"))) => {
                let include = match q.get("includeObject").map(String::as_str) {
                    Some("None") => Include::None,
                    Some("Object") => Include::Object,
                    _ => Include::Metadata,
                };
                let api_version = if v == "v1" {
                    "meta.k8s.io/v1"
                } else {
                    "meta.k8s.io/v1beta1"
                };
                return Some(TableOpts {
                    api_version,
                    include,
                });
            }
            _ => continue,
        }
    }
    None
}

/// A column: name, type, priority (1 = only with `-o wide`).
type Col = (&'static str, &'static str, u8);

fn columns(st: Storage) -> &'static [Col] {
    match st {
        Storage::Crds => &[("Name", "string", 0), ("Created At", "date", 0)],
        // As kube-apiserver prints RBAC objects (pkg/printers/internalversion).
        Storage::Roles => &[("Name", "string", 0), ("Created At", "date", 0)],
        Storage::RoleBindings => &[
            ("Name", "string", 0),
            ("Role", "string", 0),
            ("Age", "string", 0),
            ("Users", "string", 1),
            ("Groups", "string", 1),
            ("ServiceAccounts", "string", 1),
        ],
        // Custom resources take theirs from their CRD (`crd::column_defs`).
        Storage::Custom(_) => &[("Name", "string", 0)],
        Storage::Pods => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        Storage::Nodes => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        Storage::Deployments => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        Storage::ReplicaSets => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        Storage::StatefulSets => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ],
        Storage::DaemonSets => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        Storage::Services => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        Storage::Namespaces => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        Storage::Events => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "integer", 1),
            ("Name", "string", 1),
        ],
        Storage::Secrets => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        Storage::ConfigMaps => &[
            ("Name", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        Storage::ServiceAccounts => &[
            ("Name", "string", 0),
            ("Secrets", "integer", 0),
            ("Age", "string", 0),
        ],
        Storage::Hpas => &[
            ("Name", "string", 0),
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "integer", 0),
            ("Replicas", "integer", 0),
            ("Age", "string", 0),
        ],
        Storage::Pdbs => &[
            ("Name", "string", 0),
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
            ("Age", "string", 0),
        ],
        Storage::Jobs => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        Storage::Leases => &[
            ("Name", "string", 0),
            ("Holder", "string", 0),
            ("Age", "string", 0),
        ],
        Storage::CronJobs => &[
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        Storage::EndpointSlices => &[
            ("Name", "string", 0),
            ("AddressType", "string", 0),
            ("Ports", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
        Storage::NodeMetrics | Storage::PodMetrics => {
            &[("Name", "string", 0), ("Created At", "date", 0)]
        }
    }
}

/// A duration in seconds as kubectl prints ages (apimachinery's `duration.HumanDuration`).
pub fn human_duration(secs: i64) -> String {
    crate::core::duration::human_duration(secs.saturating_mul(1000))
}

fn since(ts: &Value, now: i64) -> String {
    match ts.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
        Some(t) => human_duration(now - t.as_second()),
        None => "<unknown>".into(),
    }
}

fn or_none(v: &Value) -> Value {
    match v.as_str() {
        Some(s) if !s.is_empty() => json!(s),
        _ => json!("<none>"),
    }
}

fn int(v: &Value) -> Value {
    json!(v.as_i64().unwrap_or(0))
}

fn containers(template_spec: &Value) -> (Value, Value) {
    let cs = template_spec["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let join = |k: &str| {
        cs.iter()
            .filter_map(|c| c[k].as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    (json!(join("name")), json!(join("image")))
}

fn selector(v: &Value) -> Value {
    let s = LabelSelector::from_json(v).to_query();
    if s.is_empty() {
        json!("<none>")
    } else {
        json!(s)
    }
}

fn pod_cells(v: &Value, age: Value, now: i64) -> Vec<Value> {
    let pod: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(v.clone()).unwrap_or_default();
    let st = crate::core::health::pod_status(&pod);
    let restarts = match st.last_restart {
        Some(t) if st.restarts > 0 => format!(
            "{} ({} ago)",
            st.restarts,
            human_duration(now - t.as_second())
        ),
        _ => st.restarts.to_string(),
    };
    vec![
        json!(st.ready_text()),
        json!(st.text),
        json!(restarts),
        age,
        or_none(&v["status"]["podIP"]),
        or_none(&v["spec"]["nodeName"]),
        or_none(&v["status"]["nominatedNodeName"]),
        json!("<none>"),
    ]
}

fn node_cells(v: &Value, age: Value) -> Vec<Value> {
    let ready = v["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let mut status = vec![match ready {
        Some(c) if c["status"] == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if v["spec"]["unschedulable"] == true {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = v["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, val)| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .or_else(|| (k == "kubernetes.io/role").then(|| val.as_str()).flatten())
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    let address = |kind: &str| {
        v["status"]["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == kind))
            .map_or(json!("<none>"), |x| or_none(&x["address"]))
    };
    let info = &v["status"]["nodeInfo"];
    vec![
        json!(status.join(",")),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        age,
        json!(info["kubeletVersion"].as_str().unwrap_or("")),
        address("InternalIP"),
        address("ExternalIP"),
        or_none(&info["osImage"]),
        or_none(&info["kernelVersion"]),
        or_none(&info["containerRuntimeVersion"]),
    ]
}

fn service_cells(v: &Value, age: Value) -> Vec<Value> {
    let spec = &v["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    let external: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            v["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    if i["ip"].is_string() {
                        &i["ip"]
                    } else {
                        &i["hostname"]
                    }
                }),
        )
        .filter_map(|x| x.as_str().map(String::from))
        .collect();
    let external = match (external.is_empty(), kind) {
        (false, _) => external.join(","),
        (true, "LoadBalancer") => "<pending>".into(),
        (true, "ExternalName") => spec["externalName"].as_str().unwrap_or("").into(),
        (true, _) => "<none>".into(),
    };
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(np) if np > 0 => format!("{}:{np}/{proto}", p["port"]),
                _ => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    let sel = spec["selector"]
        .as_object()
        .filter(|m| !m.is_empty())
        .map_or("<none>".to_string(), |m| {
            let mut kv: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
                .collect();
            kv.sort();
            kv.join(",")
        });
    vec![
        json!(kind),
        or_none(&spec["clusterIP"]),
        json!(external),
        json!(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports.join(",")
        }),
        age,
        json!(sel),
    ]
}

fn event_cells(v: &Value, now: i64) -> Vec<Value> {
    let last = if v["lastTimestamp"].is_string() {
        &v["lastTimestamp"]
    } else {
        &v["eventTime"]
    };
    let first = if v["firstTimestamp"].is_string() {
        &v["firstTimestamp"]
    } else {
        &v["eventTime"]
    };
    let io = &v["involvedObject"];
    let source = &v["source"];
    let source = match (source["component"].as_str(), source["host"].as_str()) {
        (Some(c), Some(h)) if !h.is_empty() => format!("{c}, {h}"),
        (Some(c), _) => c.to_string(),
        _ => v["reportingComponent"].as_str().unwrap_or("").to_string(),
    };
    vec![
        json!(since(last, now)),
        json!(v["type"].as_str().unwrap_or("")),
        json!(v["reason"].as_str().unwrap_or("")),
        json!(format!(
            "{}/{}",
            io["kind"].as_str().unwrap_or("").to_ascii_lowercase(),
            io["name"].as_str().unwrap_or("")
        )),
        json!(io["fieldPath"].as_str().unwrap_or("")),
        json!(source),
        json!(v["message"].as_str().unwrap_or("").trim()),
        json!(since(first, now)),
        json!(v["count"].as_i64().unwrap_or(1)),
        json!(v["metadata"]["name"].as_str().unwrap_or("")),
    ]
}

fn hpa_cells(v: &Value, age: Value) -> Vec<Value> {
    let spec = &v["spec"];
    let r = &spec["scaleTargetRef"];
    let current = v["status"]["currentMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let targets: Vec<String> = spec["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == "Resource")
        .map(|m| {
            let name = m["resource"]["name"].as_str().unwrap_or("");
            let target = &m["resource"]["target"];
            let cur = current
                .iter()
                .find(|c| c["type"] == "Resource" && c["resource"]["name"] == name)
                .map(|c| &c["resource"]["current"]);
            match target["averageUtilization"].as_i64() {
                Some(t) => {
                    let c = cur
                        .and_then(|c| c["averageUtilization"].as_i64())
                        .map_or("<unknown>".to_string(), |c| format!("{c}%"));
                    format!("{name}: {c}/{t}%")
                }
                None => {
                    let t = target["averageValue"].as_str().unwrap_or("");
                    let c = cur
                        .and_then(|c| c["averageValue"].as_str())
                        .unwrap_or("<unknown>");
                    format!("{name}: {c}/{t}")
                }
            }
        })
        .collect();
    vec![
        json!(format!(
            "{}/{}",
            r["kind"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or("")
        )),
        json!(if targets.is_empty() {
            "<none>".to_string()
        } else {
            targets.join(", ")
        }),
        json!(
            spec["minReplicas"]
                .as_i64()
                .map_or("<unset>".to_string(), |m| m.to_string())
        ),
        int(&spec["maxReplicas"]),
        int(&v["status"]["currentReplicas"]),
        age,
    ]
}

fn job_cells(v: &Value, age: Value, now: i64) -> Vec<Value> {
    let cond = |t: &str| {
        v["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
    };
    // As kubectl 1.33's printer orders them.
    let status = if cond("Complete") {
        "Complete"
    } else if cond("Failed") {
        "Failed"
    } else if v["metadata"].get("deletionTimestamp").is_some() {
        "Terminating"
    } else if cond("Suspended") {
        "Suspended"
    } else if cond("FailureTarget") {
        "FailureTarget"
    } else if cond("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let ts = |k: &str| {
        v["status"][k]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
    };
    let duration = match (ts("startTime"), ts("completionTime")) {
        (Some(s), Some(e)) => human_duration(e - s),
        (Some(s), None) => human_duration(now - s),
        _ => String::new(),
    };
    let (names, images) = containers(&v["spec"]["template"]["spec"]);
    vec![
        json!(status),
        json!(format!(
            "{}/{}",
            v["status"]["succeeded"].as_i64().unwrap_or(0),
            v["spec"]["completions"].as_i64().unwrap_or(1)
        )),
        json!(duration),
        age,
        names,
        images,
        selector(&v["spec"]["selector"]),
    ]
}

/// A RoleBinding's row: `Role/NAME`, age, then (wide) its users, groups and service
/// accounts (`NAMESPACE/NAME`), comma-separated.
fn role_binding_cells(v: &Value, age: Value) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        v["roleRef"]["kind"].as_str().unwrap_or_default(),
        v["roleRef"]["name"].as_str().unwrap_or_default()
    );
    let subjects = v["subjects"].as_array().cloned().unwrap_or_default();
    let of = |kind: &str| {
        let names: Vec<String> = subjects
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| {
                let name = s["name"].as_str().unwrap_or_default();
                match s["namespace"].as_str() {
                    Some(ns) if kind == "ServiceAccount" => format!("{ns}/{name}"),
                    _ => name.to_string(),
                }
            })
            .collect();
        json!(names.join(", "))
    };
    vec![
        json!(role),
        age,
        of("User"),
        of("Group"),
        of("ServiceAccount"),
    ]
}

fn cronjob_cells(v: &Value, age: Value, now: i64) -> Vec<Value> {
    let spec = &v["spec"];
    let (names, images) = containers(&spec["jobTemplate"]["spec"]["template"]["spec"]);
    let last = match v["status"]["lastScheduleTime"].as_str() {
        Some(_) => since(&v["status"]["lastScheduleTime"], now),
        None => "<none>".to_string(),
    };
    vec![
        json!(spec["schedule"].as_str().unwrap_or("")),
        or_none(&spec["timeZone"]),
        // As printBoolPtr gives it.
        json!(match spec["suspend"].as_bool() {
            Some(true) => "True",
            Some(false) => "False",
            None => "<unset>",
        }),
        json!(v["status"]["active"].as_array().map_or(0, |a| a.len())),
        json!(last),
        age,
        names,
        images,
        selector(&spec["jobTemplate"]["spec"]["selector"]),
    ]
}

/// The cells of one object's row.
fn cells(st: Storage, v: &Value, now: i64) -> Vec<Value> {
    let name = json!(v["metadata"]["name"].as_str().unwrap_or(""));
    let age = json!(since(&v["metadata"]["creationTimestamp"], now));
    let spec = &v["spec"];
    let status = &v["status"];
    let count_keys = |keys: &[&str]| {
        json!(
            keys.iter()
                .filter_map(|k| v[*k].as_object())
                .map(|m| m.len())
                .sum::<usize>()
        )
    };
    let rest: Vec<Value> = match st {
        Storage::Pods => pod_cells(v, age, now),
        Storage::Nodes => node_cells(v, age),
        Storage::Deployments => {
            let (names, images) = containers(&spec["template"]["spec"]);
            vec![
                json!(format!(
                    "{}/{}",
                    status["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(1)
                )),
                int(&status["updatedReplicas"]),
                int(&status["availableReplicas"]),
                age,
                names,
                images,
                selector(&spec["selector"]),
            ]
        }
        Storage::ReplicaSets => {
            let (names, images) = containers(&spec["template"]["spec"]);
            vec![
                json!(spec["replicas"].as_i64().unwrap_or(1)),
                int(&status["replicas"]),
                int(&status["readyReplicas"]),
                age,
                names,
                images,
                selector(&spec["selector"]),
            ]
        }
        Storage::StatefulSets => {
            let (names, images) = containers(&spec["template"]["spec"]);
            vec![
                json!(format!(
                    "{}/{}",
                    status["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(1)
                )),
                age,
                names,
                images,
            ]
        }
        Storage::DaemonSets => {
            let (names, images) = containers(&spec["template"]["spec"]);
            let node_selector = spec["template"]["spec"]["nodeSelector"]
                .as_object()
                .filter(|m| !m.is_empty())
                .map_or("<none>".to_string(), |m| {
                    m.iter()
                        .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                });
            vec![
                int(&status["desiredNumberScheduled"]),
                int(&status["currentNumberScheduled"]),
                int(&status["numberReady"]),
                int(&status["updatedNumberScheduled"]),
                int(&status["numberAvailable"]),
                json!(node_selector),
                age,
                names,
                images,
                selector(&spec["selector"]),
            ]
        }
        Storage::Services => service_cells(v, age),
        Storage::Namespaces => vec![json!(status["phase"].as_str().unwrap_or("")), age],
        Storage::Events => return event_cells(v, now),
        Storage::Secrets => vec![
            json!(v["type"].as_str().unwrap_or("Opaque")),
            count_keys(&["data", "stringData"]),
            age,
        ],
        Storage::ConfigMaps => vec![count_keys(&["data", "binaryData"]), age],
        Storage::ServiceAccounts => {
            vec![json!(v["secrets"].as_array().map_or(0, |s| s.len())), age]
        }
        Storage::Hpas => hpa_cells(v, age),
        Storage::Pdbs => {
            let or_na = |x: &Value| match x {
                Value::Null => json!("N/A"),
                Value::String(s) => json!(s),
                other => json!(other.to_string()),
            };
            vec![
                or_na(&spec["minAvailable"]),
                or_na(&spec["maxUnavailable"]),
                int(&status["disruptionsAllowed"]),
                age,
            ]
        }
        Storage::Jobs => job_cells(v, age, now),
        Storage::Leases => vec![or_none(&spec["holderIdentity"]), age],
        Storage::CronJobs => cronjob_cells(v, age, now),
        Storage::EndpointSlices => super::controllers::endpoints::table_cells(v, age),
        Storage::RoleBindings => role_binding_cells(v, age),
        Storage::NodeMetrics | Storage::PodMetrics | Storage::Crds | Storage::Roles => {
            vec![v["metadata"]["creationTimestamp"].clone()]
        }
        Storage::Custom(_) => Vec::new(),
    };
    let mut out = Vec::with_capacity(rest.len() + 1);
    out.push(name);
    out.extend(rest);
    out
}

fn row(rt: &ResourceType, obj: &Obj, opts: TableOpts, now: i64) -> Value {
    let v = obj.value();
    let cells = match rt.storage {
        Storage::Custom(_) => super::crd::cells(rt, &v, now),
        st => cells(st, &v, now),
    };
    let mut row = json!({"cells": cells});
    match opts.include {
        Include::None => {}
        Include::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": v["metadata"],
            })
        }
        Include::Object => {
            row["object"] = serde_json::from_slice(&super::convert::out(rt, obj)).unwrap_or(v)
        }
    }
    row
}

/// A Table of objects; `metadata` is the list's (resourceVersion, continue).
pub fn table(
    rt: &ResourceType,
    items: &[std::sync::Arc<Obj>],
    metadata: Value,
    opts: TableOpts,
) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let defs: Vec<Value> = match rt.storage {
        Storage::Custom(_) => super::crd::column_defs(rt),
        st => columns(st)
            .iter()
            .map(|(name, kind, priority)| {
                let mut c = json!({"name": name, "type": kind, "format": "", "description": "", "priority": priority});
                if *name == "Name" {
                    c["format"] = json!("name");
                }
                c
            })
            .collect(),
    };
    let rows: Vec<Value> = items.iter().map(|o| row(rt, o, opts, now)).collect();
    json!({
        "kind": "Table", "apiVersion": opts.api_version, "metadata": metadata,
        "columnDefinitions": defs, "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::store::Store;

    #[test]
    fn durations_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(10 * 3600), "10h");
        assert_eq!(human_duration(3 * 86400 + 7200), "3d2h");
        assert_eq!(human_duration(30 * 86400), "30d");
        assert_eq!(human_duration(-5), "<invalid>");
    }

    #[test]
    fn negotiates_tables_from_accept() {
        let q = HashMap::new();
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        let t = wanted(kubectl, &q).unwrap();
        assert_eq!(t.api_version, "meta.k8s.io/v1");
        assert_eq!(t.include, Include::Metadata);
        assert_eq!(wanted("application/json", &q), None);
        assert_eq!(wanted("", &q), None);
        assert_eq!(
            wanted("application/json;as=Table;v=v2;g=meta.k8s.io", &q),
            None
        );
        let q: HashMap<String, String> = [("includeObject".to_string(), "Object".to_string())]
            .into_iter()
            .collect();
        assert_eq!(wanted(kubectl, &q).unwrap().include, Include::Object);
    }

    #[test]
    fn pod_and_node_rows_carry_kubectl_columns() {
        let store = Store::new();
        store
            .create(
                Storage::Namespaces,
                "",
                json!({"metadata": {"name": "mr-ee"}}),
            )
            .unwrap();
        let pod = store
            .create(
                Storage::Pods,
                "mr-ee",
                json!({
                    "metadata": {"name": "fwd-1", "deletionTimestamp": null},
                    "spec": {"nodeName": "worker-1", "containers": [{"name": "fwd", "image": "fwd:1"}]},
                    "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{
                        "name": "fwd", "image": "fwd:1", "imageID": "", "ready": false, "restartCount": 3,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2020-01-01T00:00:00Z"}},
                    }]},
                }),
            )
            .unwrap();
        let rt = Storage::Pods.storage_type();
        let opts = TableOpts {
            api_version: "meta.k8s.io/v1",
            include: Include::Metadata,
        };
        let t = table(rt, &[pod], json!({"resourceVersion": "5"}), opts);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["columnDefinitions"][2]["name"], "Status");
        assert_eq!(t["columnDefinitions"][6]["priority"], 1);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "fwd-1");
        assert_eq!(cells[1], "0/1");
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert!(cells[3].as_str().unwrap().starts_with("3 ("), "{cells}");
        assert_eq!(cells[6], "worker-1");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "mr-ee");

        let node = store
            .create(
                Storage::Nodes,
                "",
                json!({
                    "metadata": {"name": "worker-3", "labels": {"node-role.kubernetes.io/worker": ""}},
                    "spec": {"unschedulable": true},
                    "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                               "nodeInfo": {"kubeletVersion": "v1.33.0"}},
                }),
            )
            .unwrap();
        let t = table(Storage::Nodes.storage_type(), &[node], json!({}), opts);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "NotReady,SchedulingDisabled");
        assert_eq!(cells[2], "worker");
        assert_eq!(cells[4], "v1.33.0");
    }
}
