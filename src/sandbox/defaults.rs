//! What a kube-apiserver does to an object on its way into storage, besides validating it:
//! the defaults of each type (`SetDefaults_*` of `pkg/apis/*/v1/defaults.go`), the
//! mutations of the registry strategies (a Secret's `stringData`, a Namespace's status and
//! finalizer, a new Pod's status) and of the admission plugins a cluster runs
//! (NamespaceLifecycle, DefaultTolerationSeconds, Priority), and the Service allocators:
//! cluster IPs from 10.96.0.0/12, node ports from 30000–32767.
//!
//! [`apply`] is pure. [`admit_create`] and [`admit_update`] are what a client's request goes
//! through (the API calls them); [`before_create`] is what every stored object goes through,
//! the simulated controllers' and the scenario's too (the store calls it). The addresses and
//! ports in use are read from the stored Services: there is no second record to keep in step.

use super::error::ApiError;
use super::resources::Storage;
use super::store::{Store, now_rfc3339};
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// The service CIDR: 10.96.0.0/12.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
const CIDR_BASE: u32 = 0x0A60_0000;
const CIDR_SIZE: u32 = 1 << 20;
/// Dynamic allocations come from above the static band (the first 256 addresses), as the
/// API server's allocator prefers; 10.96.0.1 is the `kubernetes` Service's.
const DYNAMIC_IP_OFFSET: u32 = 256;
/// The node port range.
pub const NODE_PORT_MIN: i64 = 30000;
pub const NODE_PORT_MAX: i64 = 32767;
/// Dynamic node ports come from above the static band (the first 86 ports).
const DYNAMIC_PORT_MIN: i64 = 30086;

/// Namespaces that may not be deleted (NamespaceLifecycle's immortal namespaces).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// How long pods tolerate a node that is not ready or unreachable (DefaultTolerationSeconds).
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

// ---------------------------------------------------------------------------------------
// Small JSON helpers: they never panic on a malformed body (validation answers for it).

/// Sets `key` when it is missing or null.
fn default(v: &mut Value, key: &str, val: Value) {
    if let Some(m) = v.as_object_mut() {
        match m.get(key) {
            None | Some(Value::Null) => {
                m.insert(key.to_string(), val);
            }
            _ => {}
        }
    }
}

/// The object under `key`, created when missing or null; `None` when it is something else.
fn child<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let m = v.as_object_mut()?;
    let c = m.entry(key.to_string()).or_insert(Value::Null);
    if c.is_null() {
        *c = Value::Object(Map::new());
    }
    c.is_object().then_some(c)
}

/// The object under `key` if there is one.
fn existing<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    v.get_mut(key).filter(|c| c.is_object())
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(|x| x.as_str()).unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// The pure defaults.

/// Fills in the defaults of an object of a table, as the API server does on create
/// (`old` = `None`) and on update (`old` = the stored object, whose allocated and
/// immutable values the new one keeps when it omits them).
pub fn apply(st: Storage, v: &mut Value, old: Option<&Value>) {
    if !v.is_object() {
        return;
    }
    match st {
        Storage::Secrets => secret(v),
        Storage::Crds => super::crd::admit(v, old),
        Storage::Namespaces => namespace(v, old),
        Storage::Services => service(v, old),
        Storage::Pods => pod(v),
        Storage::Deployments => {
            if let Some(spec) = existing(v, "spec") {
                default(spec, "replicas", json!(1));
                default(spec, "revisionHistoryLimit", json!(10));
                default(spec, "progressDeadlineSeconds", json!(600));
                if let Some(strategy) = child(spec, "strategy") {
                    default(strategy, "type", json!("RollingUpdate"));
                    if strategy["type"] == "RollingUpdate"
                        && let Some(ru) = child(strategy, "rollingUpdate")
                    {
                        default(ru, "maxSurge", json!("25%"));
                        default(ru, "maxUnavailable", json!("25%"));
                    }
                }
            }
            template(v, false);
        }
        Storage::ReplicaSets => {
            if let Some(spec) = existing(v, "spec") {
                default(spec, "replicas", json!(1));
            }
            template(v, false);
        }
        Storage::StatefulSets => {
            if let Some(spec) = existing(v, "spec") {
                default(spec, "replicas", json!(1));
                default(spec, "podManagementPolicy", json!("OrderedReady"));
                default(spec, "revisionHistoryLimit", json!(10));
                if let Some(us) = child(spec, "updateStrategy") {
                    default(us, "type", json!("RollingUpdate"));
                    if us["type"] == "RollingUpdate"
                        && let Some(ru) = child(us, "rollingUpdate")
                    {
                        default(ru, "partition", json!(0));
                    }
                }
                if let Some(p) = child(spec, "persistentVolumeClaimRetentionPolicy") {
                    default(p, "whenDeleted", json!("Retain"));
                    default(p, "whenScaled", json!("Retain"));
                }
            }
            template(v, false);
        }
        Storage::DaemonSets => {
            if let Some(spec) = existing(v, "spec") {
                default(spec, "revisionHistoryLimit", json!(10));
                if let Some(us) = child(spec, "updateStrategy") {
                    default(us, "type", json!("RollingUpdate"));
                    if us["type"] == "RollingUpdate"
                        && let Some(ru) = child(us, "rollingUpdate")
                    {
                        default(ru, "maxUnavailable", json!(1));
                        default(ru, "maxSurge", json!(0));
                    }
                }
            }
            template(v, false);
        }
        Storage::Jobs => template(v, true),
        _ => {}
    }
}

/// Secret: `stringData` is merged into `data` (base64; it wins for the same key) and never
/// stored; `type` defaults to Opaque.
fn secret(v: &mut Value) {
    default(v, "type", json!("Opaque"));
    let Some(string_data) = v.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    let Value::Object(sd) = string_data else {
        return;
    };
    if sd.is_empty() {
        return;
    }
    let Some(data) = child(v, "data") else {
        return;
    };
    for (k, x) in sd {
        let text = match x {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        data[k.as_str()] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// Namespace: the `kubernetes.io/metadata.name` label, the `kubernetes` finalizer and
/// phase Active on create; on update its spec and status stay as stored.
fn namespace(v: &mut Value, old: Option<&Value>) {
    let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
    if !name.is_empty()
        && let Some(meta) = child(v, "metadata")
        && let Some(labels) = child(meta, "labels")
    {
        labels["kubernetes.io/metadata.name"] = json!(name);
    }
    match old {
        Some(old) => {
            match old.get("spec") {
                Some(s) => v["spec"] = s.clone(),
                None => {
                    if let Some(m) = v.as_object_mut() {
                        m.remove("spec");
                    }
                }
            }
            if let Some(s) = old.get("status") {
                v["status"] = s.clone();
            }
        }
        None => {
            if let Some(spec) = child(v, "spec") {
                match spec.get_mut("finalizers").and_then(Value::as_array_mut) {
                    Some(list) => {
                        if !list.iter().any(|f| f == "kubernetes") {
                            list.push(json!("kubernetes"));
                        }
                    }
                    None => spec["finalizers"] = json!(["kubernetes"]),
                }
            }
            v["status"] = json!({"phase": "Active"});
        }
    }
}

fn service_type(spec: &Value) -> &str {
    spec["type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or("ClusterIP")
}

fn needs_cluster_ip(spec: &Value) -> bool {
    service_type(spec) != "ExternalName"
}

fn needs_node_ports(spec: &Value) -> bool {
    match service_type(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec["allocateLoadBalancerNodePorts"] != false,
        _ => false,
    }
}

fn needs_health_check_port(spec: &Value) -> bool {
    service_type(spec) == "LoadBalancer" && spec["externalTrafficPolicy"] == "Local"
}

fn node_port(p: &Value) -> i64 {
    p["nodePort"].as_i64().unwrap_or(0)
}

fn cluster_ip(spec: &Value) -> &str {
    match spec["clusterIP"].as_str().filter(|s| !s.is_empty()) {
        Some(ip) => ip,
        None => spec["clusterIPs"][0].as_str().unwrap_or(""),
    }
}

/// Service: type, session affinity, traffic policies, port protocols and target ports,
/// the IP family fields; on update the allocated values the body omits are kept
/// (`patchAllocatedValues`) and those its new type no longer uses are dropped.
fn service(v: &mut Value, old: Option<&Value>) {
    if old.is_none() {
        default(v, "status", json!({"loadBalancer": {}}));
    }
    let Some(spec) = child(v, "spec") else {
        return;
    };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let ty = service_type(spec).to_string();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter(|p| p.is_object()) {
            default(p, "protocol", json!("TCP"));
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset && let Some(port) = p.get("port").cloned() {
                p["targetPort"] = port;
            }
        }
    }
    if ty != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "NodePort" || ty == "LoadBalancer" {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if let Some(old) = old {
        let old_spec = &old["spec"];
        patch_allocated(spec, old_spec);
        drop_type_dependent(spec, old_spec);
    }
    if ty != "ExternalName" {
        let ip = spec["clusterIP"].as_str().unwrap_or("").to_string();
        let ips_empty = spec["clusterIPs"].as_array().is_none_or(|a| a.is_empty());
        if !ip.is_empty() && ips_empty {
            spec["clusterIPs"] = json!([ip]);
        } else if ip.is_empty() && !ips_empty {
            spec["clusterIP"] = spec["clusterIPs"][0].clone();
        }
        default(spec, "ipFamilies", json!(["IPv4"]));
        let headless_without_selector =
            cluster_ip(spec) == "None" && spec["selector"].as_object().is_none_or(|m| m.is_empty());
        default(
            spec,
            "ipFamilyPolicy",
            json!(if headless_without_selector {
                "RequireDualStack"
            } else {
                "SingleStack"
            }),
        );
    }
}

/// Keeps the cluster IPs and node ports a Service was given when an update omits them
/// (`kubectl apply` and `replace` send what the user wrote, not what was allocated).
fn patch_allocated(spec: &mut Value, old: &Value) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if spec["clusterIP"].as_str().is_none_or(|s| s.is_empty())
            && let Some(ip) = old["clusterIP"].as_str().filter(|s| !s.is_empty())
        {
            spec["clusterIP"] = json!(ip);
        }
        if spec["clusterIPs"].as_array().is_none_or(|a| a.is_empty())
            && let Some(ips) = old["clusterIPs"].as_array().filter(|a| !a.is_empty())
        {
            spec["clusterIPs"] = json!(ips);
        }
    }
    if needs_node_ports(old) && needs_node_ports(spec) {
        let old_ports = old["ports"].as_array().cloned().unwrap_or_default();
        let old_used: HashSet<i64> = old_ports.iter().map(node_port).filter(|n| *n > 0).collect();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            let new_used: HashSet<i64> = ports.iter().map(node_port).filter(|n| *n > 0).collect();
            let used: HashSet<i64> = old_used.intersection(&new_used).copied().collect();
            for p in ports.iter_mut().filter(|p| p.is_object()) {
                if node_port(p) != 0 {
                    continue;
                }
                let name = str_of(p, "name").to_string();
                if let Some(np) = old_ports
                    .iter()
                    .find(|o| str_of(o, "name") == name)
                    .map(node_port)
                    .filter(|n| *n > 0 && !used.contains(n))
                {
                    p["nodePort"] = json!(np);
                }
            }
        }
    }
    if needs_health_check_port(old)
        && needs_health_check_port(spec)
        && spec["healthCheckNodePort"].as_i64().unwrap_or(0) == 0
        && let Some(p) = old["healthCheckNodePort"].as_i64().filter(|p| *p > 0)
    {
        spec["healthCheckNodePort"] = json!(p);
    }
}

/// Drops what the old type allocated and the new one does not use, when the update carries
/// it unchanged (`dropTypeDependentFields`): NodePort → ClusterIP releases the node ports.
fn drop_type_dependent(spec: &mut Value, old: &Value) {
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    let ty = m
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("ClusterIP")
        .to_string();
    if ty == "ExternalName" {
        let same = m.get("clusterIP") == old.get("clusterIP")
            || m.get("clusterIP").is_none_or(|x| x.is_null() || x == "");
        if same {
            for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                m.remove(k);
            }
        }
    }
    let node_ports = ty == "NodePort"
        || (ty == "LoadBalancer" && m.get("allocateLoadBalancerNodePorts") != Some(&json!(false)));
    if !node_ports && let Some(Value::Array(ports)) = m.get_mut("ports") {
        let old_ports = old["ports"].as_array().cloned().unwrap_or_default();
        let same = ports.len() == old_ports.len()
            && ports
                .iter()
                .zip(&old_ports)
                .all(|(a, b)| node_port(a) == node_port(b));
        if same {
            for p in ports.iter_mut().filter_map(|p| p.as_object_mut()) {
                p.remove("nodePort");
            }
        }
    }
    let lb_local = ty == "LoadBalancer"
        && m.get("externalTrafficPolicy").and_then(|x| x.as_str()) == Some("Local");
    if !lb_local && m.get("healthCheckNodePort") == old.get("healthCheckNodePort") {
        m.remove("healthCheckNodePort");
    }
    let external = ty == "NodePort"
        || ty == "LoadBalancer"
        || m.get("externalIPs")
            .and_then(|x| x.as_array())
            .is_some_and(|a| !a.is_empty());
    if !external && m.get("externalTrafficPolicy") == old.get("externalTrafficPolicy") {
        m.remove("externalTrafficPolicy");
    }
    if ty != "LoadBalancer"
        && m.get("allocateLoadBalancerNodePorts") == old.get("allocateLoadBalancerNodePorts")
    {
        m.remove("allocateLoadBalancerNodePorts");
    }
}

/// A Pod: its spec's defaults, `enableServiceLinks`, requests from limits, the priority
/// and preemption policy (Priority admission), the tolerations of a not-ready or
/// unreachable node for 300 s (DefaultTolerationSeconds), the service account.
fn pod(v: &mut Value) {
    let Some(spec) = existing(v, "spec") else {
        return;
    };
    pod_spec(spec, false);
    default(spec, "enableServiceLinks", json!(true));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter(|c| c.is_object()) {
                requests_from_limits(c);
            }
        }
    }
    let class_priority = match str_of(spec, "priorityClassName") {
        "system-node-critical" => 2_000_001_000,
        "system-cluster-critical" => 2_000_000_000,
        _ => 0,
    };
    default(spec, "priority", json!(class_priority));
    default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    default(spec, "serviceAccountName", json!("default"));
    let sa = spec["serviceAccountName"].clone();
    default(spec, "serviceAccount", sa);
    default_tolerations(spec);
}

fn requests_from_limits(c: &mut Value) {
    let Some(limits) = c["resources"]["limits"].as_object().cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    let Some(res) = child(c, "resources") else {
        return;
    };
    let Some(req) = child(res, "requests") else {
        return;
    };
    for (k, q) in limits {
        default(req, &k, q);
    }
}

fn default_tolerations(spec: &mut Value) {
    const NOT_READY: &str = "node.kubernetes.io/not-ready";
    const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
    let tolerates = |list: &[Value], key: &str| {
        list.iter().any(|t| {
            let k = str_of(t, "key");
            let e = str_of(t, "effect");
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        })
    };
    let list = spec["tolerations"].as_array().cloned().unwrap_or_default();
    if !spec["tolerations"].is_array() && !spec["tolerations"].is_null() {
        return;
    }
    let mut add = Vec::new();
    for key in [NOT_READY, UNREACHABLE] {
        if !tolerates(&list, key) {
            add.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}),
            );
        }
    }
    if add.is_empty() {
        return;
    }
    let mut all = list;
    all.extend(add);
    spec["tolerations"] = Value::Array(all);
}

/// The pod template of a workload (`spec.template.spec`).
fn template(v: &mut Value, job: bool) {
    if let Some(spec) = existing(v, "spec")
        && let Some(t) = existing(spec, "template")
        && let Some(ps) = existing(t, "spec")
    {
        pod_spec(ps, job);
    }
}

/// The defaults of a pod spec (a Pod's or a template's). A Job's restartPolicy is the
/// user's to give (Never or OnFailure).
fn pod_spec(spec: &mut Value, job: bool) {
    if !job {
        default(spec, "restartPolicy", json!("Always"));
    }
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter(|c| c.is_object()) {
                container(c);
            }
        }
    }
    if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for vol in vols.iter_mut().filter(|x| x.is_object()) {
            for src in ["configMap", "secret", "downwardAPI", "projected"] {
                if let Some(s) = existing(vol, src) {
                    default(s, "defaultMode", json!(420));
                }
            }
        }
    }
}

/// The image pull policy a container defaults to: Always for `:latest` or no tag,
/// IfNotPresent otherwise (a digest without a tag included).
pub fn pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = match last.split_once(':') {
        Some((_, t)) => t,
        None if digest => "",
        None => "latest",
    };
    if tag == "latest" {
        "Always"
    } else {
        "IfNotPresent"
    }
}

fn container(c: &mut Value) {
    let image = str_of(c, "image").to_string();
    default(c, "imagePullPolicy", json!(pull_policy(&image)));
    default(
        c,
        "terminationMessagePath",
        json!("/dev/termination-message"),
    );
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter(|p| p.is_object()) {
            default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, probe) {
            default(p, "timeoutSeconds", json!(1));
            default(p, "periodSeconds", json!(10));
            default(p, "successThreshold", json!(1));
            default(p, "failureThreshold", json!(3));
            if let Some(h) = existing(p, "httpGet") {
                default(h, "path", json!("/"));
                default(h, "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env.iter_mut() {
            if let Some(vf) = existing(e, "valueFrom")
                && let Some(f) = existing(vf, "fieldRef")
            {
                default(f, "apiVersion", json!("v1"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pod QoS class.

/// A resource quantity as a number (`100m` → 0.1, `1Gi` → 1073741824).
pub fn quantity(q: &Value) -> Option<f64> {
    if let Some(n) = q.as_f64() {
        return Some(n);
    }
    let s = q.as_str()?.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(n * mult)
}

/// The QoS class of a pod (`GetPodQOS`): BestEffort without any cpu or memory request or
/// limit, Guaranteed when every container limits both and requests what it limits,
/// Burstable otherwise. Requests default to limits first.
pub fn qos_class(pod: &Value) -> &'static str {
    use std::collections::BTreeMap;
    let mut requests: BTreeMap<&str, f64> = BTreeMap::new();
    let mut limits: BTreeMap<&str, f64> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|l| pod["spec"][*l].as_array())
        .flatten();
    for c in containers {
        let res = &c["resources"];
        let mut limited = HashSet::new();
        for name in ["cpu", "memory"] {
            let lim = res["limits"]
                .get(name)
                .and_then(quantity)
                .filter(|q| *q > 0.0);
            let req = res["requests"]
                .get(name)
                .and_then(quantity)
                .filter(|q| *q > 0.0)
                .or(lim);
            if let Some(r) = req {
                *requests.entry(name).or_default() += r;
            }
            if let Some(l) = lim {
                *limits.entry(name).or_default() += l;
                limited.insert(name);
            }
        }
        if limited.len() < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests
            .iter()
            .all(|(k, r)| limits.get(k).is_some_and(|l| (l - r).abs() < 1e-9))
    {
        return "Guaranteed";
    }
    "Burstable"
}

// ---------------------------------------------------------------------------------------
// Allocation and admission: these read the store.

fn ip_to_u32(ip: Ipv4Addr) -> u32 {
    u32::from(ip)
}

fn in_cidr(ip: u32) -> bool {
    ip > CIDR_BASE && ip < CIDR_BASE + CIDR_SIZE - 1
}

/// The cluster IPs and node ports the stored Services hold, but the one named.
fn in_use(store: &Store, ns: &str, name: &str) -> (HashSet<u32>, HashSet<i64>) {
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    for o in store.all(Storage::Services) {
        if o.namespace == ns && o.name == name {
            continue;
        }
        let v = o.value();
        let spec = &v["spec"];
        let mut all_ips: Vec<&str> = spec["clusterIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str())
            .collect();
        all_ips.extend(spec["clusterIP"].as_str());
        for ip in all_ips {
            if let Ok(a) = ip.parse::<Ipv4Addr>() {
                ips.insert(ip_to_u32(a));
            }
        }
        for p in spec["ports"].as_array().into_iter().flatten() {
            let np = node_port(p);
            if np > 0 {
                ports.insert(np);
            }
        }
        if let Some(h) = spec["healthCheckNodePort"].as_i64().filter(|h| *h > 0) {
            ports.insert(h);
        }
    }
    (ips, ports)
}

fn random_free<T: Copy + Eq + std::hash::Hash>(
    used: &HashSet<T>,
    pick: impl Fn() -> T,
    all: impl Iterator<Item = T>,
) -> Option<T> {
    for _ in 0..64 {
        let c = pick();
        if !used.contains(&c) {
            return Some(c);
        }
    }
    all.into_iter().find(|c| !used.contains(c))
}

fn invalid(name: &str, why: String) -> ApiError {
    ApiError::invalid(Storage::Services.storage_type(), name, &why)
}

/// Gives a Service its cluster IP and node ports. `strict` (a client's request) refuses an
/// address or port in use or out of range, and a changed cluster IP; otherwise (the
/// scenario, the controllers) what is given is kept as it is and only what is missing is
/// allocated.
pub fn allocate(
    store: &Store,
    ns: &str,
    v: &mut Value,
    old: Option<&Value>,
    strict: bool,
) -> Result<(), ApiError> {
    let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
    let Some(spec) = existing(v, "spec") else {
        return Ok(());
    };
    let old_spec = old.map(|o| &o["spec"]).filter(|s| s.is_object());
    if strict
        && let Some(os) = old_spec
        && needs_cluster_ip(os)
        && needs_cluster_ip(spec)
    {
        let was = cluster_ip(os);
        let now = cluster_ip(spec);
        let ips_changed = spec["clusterIPs"][0].as_str().is_some_and(|x| x != was);
        if !was.is_empty() && (now != was || ips_changed) {
            let shown = if now.is_empty() {
                spec["clusterIPs"][0].as_str().unwrap_or("")
            } else {
                now
            };
            return Err(invalid(
                &name,
                format!(
                    "spec.clusterIPs[0]: Invalid value: [\"{shown}\"]: may not change once set"
                ),
            ));
        }
    }
    let (used_ips, used_ports) = if needs_cluster_ip(spec) || needs_node_ports(spec) {
        in_use(store, ns, &name)
    } else {
        (HashSet::new(), HashSet::new())
    };
    if needs_cluster_ip(spec) {
        let requested = cluster_ip(spec).to_string();
        let kept = old_spec.is_some_and(|os| cluster_ip(os) == requested);
        let ip = match requested.as_str() {
            "None" => "None".to_string(),
            "" => {
                let lo = CIDR_BASE + DYNAMIC_IP_OFFSET;
                let hi = CIDR_BASE + CIDR_SIZE - 2;
                let got = random_free(&used_ips, || fastrand::u32(lo..=hi), lo..=hi)
                    .ok_or_else(|| {
                        invalid(
                            &name,
                            "spec.clusterIPs: Internal error: failed to allocate a serviceIP: range is full".into(),
                        )
                    })?;
                Ipv4Addr::from(got).to_string()
            }
            given if kept || !strict => given.to_string(),
            given => {
                let Ok(addr) = given.parse::<Ipv4Addr>() else {
                    return Err(invalid(
                        &name,
                        format!(
                            "spec.clusterIPs[0]: Invalid value: \"{given}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
                        ),
                    ));
                };
                let n = ip_to_u32(addr);
                if !in_cidr(n) {
                    return Err(invalid(
                        &name,
                        format!(
                            "spec.clusterIPs: Invalid value: [\"{given}\"]: failed to allocate IP {given}: the provided IP ({given}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"
                        ),
                    ));
                }
                if used_ips.contains(&n) {
                    return Err(invalid(
                        &name,
                        format!(
                            "spec.clusterIPs: Invalid value: [\"{given}\"]: failed to allocate IP {given}: provided IP is already allocated"
                        ),
                    ));
                }
                given.to_string()
            }
        };
        spec["clusterIP"] = json!(ip);
        spec["clusterIPs"] = json!([ip]);
    }
    let old_ports: HashSet<i64> = old_spec
        .map(|os| {
            os["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(node_port)
                .chain(os["healthCheckNodePort"].as_i64())
                .filter(|n| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    let mut taken = used_ports;
    let pick = || fastrand::i64(DYNAMIC_PORT_MIN..=NODE_PORT_MAX);
    let check = |field: String, np: i64, taken: &HashSet<i64>| -> Result<(), ApiError> {
        if !strict || old_ports.contains(&np) {
            return Ok(());
        }
        if !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&np) {
            return Err(invalid(
                &name,
                format!(
                    "{field}: Invalid value: {np}: provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"
                ),
            ));
        }
        if taken.contains(&np) {
            return Err(invalid(
                &name,
                format!("{field}: Invalid value: {np}: provided port is already allocated"),
            ));
        }
        Ok(())
    };
    let full = || {
        invalid(
            &name,
            "spec.ports: Internal error: failed to allocate a nodePort: range is full".into(),
        )
    };
    if needs_node_ports(spec) {
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate().filter(|(_, p)| p.is_object()) {
                let np = node_port(p);
                let np = if np != 0 {
                    check(format!("spec.ports[{i}].nodePort"), np, &taken)?;
                    np
                } else {
                    random_free(&taken, pick, DYNAMIC_PORT_MIN..=NODE_PORT_MAX).ok_or_else(full)?
                };
                taken.insert(np);
                p["nodePort"] = json!(np);
            }
        }
    } else if strict {
        let ty = service_type(spec).to_string();
        if let Some(i) = spec["ports"]
            .as_array()
            .and_then(|ps| ps.iter().position(|p| node_port(p) != 0))
        {
            return Err(invalid(
                &name,
                format!(
                    "spec.ports[{i}].nodePort: Forbidden: may not be used when `type` is '{ty}'"
                ),
            ));
        }
    }
    if needs_health_check_port(spec) {
        let h = spec["healthCheckNodePort"].as_i64().unwrap_or(0);
        let h = if h != 0 {
            check("spec.healthCheckNodePort".into(), h, &taken)?;
            h
        } else {
            random_free(&taken, pick, DYNAMIC_PORT_MIN..=NODE_PORT_MAX).ok_or_else(full)?
        };
        spec["healthCheckNodePort"] = json!(h);
    }
    Ok(())
}

/// Whether a namespace is being deleted.
fn terminating(store: &Store, ns: &str) -> bool {
    store.get(Storage::Namespaces, "", ns).is_some_and(|o| {
        let v = o.value();
        v["metadata"].get("deletionTimestamp").is_some() || v["status"]["phase"] == "Terminating"
    })
}

fn forbidden(st: Storage, name: &str, why: String) -> ApiError {
    let rt = st.storage_type();
    let qualified = if rt.group.is_empty() {
        rt.plural.to_string()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    };
    let mut details = json!({"name": name, "kind": rt.plural});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    ApiError {
        details: Some(details),
        ..ApiError::new(
            403,
            "Forbidden",
            format!("{qualified} \"{name}\" is forbidden: {why}"),
        )
    }
}

/// What a client's create goes through: NamespaceLifecycle (no new content in a namespace
/// being deleted), the defaults, a new Pod's status (Pending, with its QoS class; what
/// the body says is ignored), a Service's allocations.
pub fn admit_create(store: &Store, st: Storage, ns: &str, v: &mut Value) -> Result<(), ApiError> {
    if !v.is_object() {
        return Ok(());
    }
    if st.storage_type().namespaced && !ns.is_empty() && terminating(store, ns) {
        let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
        let mut e = forbidden(
            st,
            &name,
            format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        );
        if let Some(d) = e.details.as_mut() {
            d["causes"] = json!([{"reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]);
        }
        return Err(e);
    }
    match st {
        Storage::Pods => v["status"] = json!({"phase": "Pending"}),
        Storage::Services => v["status"] = json!({"loadBalancer": {}}),
        _ => {}
    }
    apply(st, v, None);
    match st {
        Storage::Pods => v["status"]["qosClass"] = json!(qos_class(v)),
        Storage::Services => allocate(store, ns, v, None, true)?,
        _ => {}
    }
    Ok(())
}

/// What a client's update (PUT or PATCH, after the patch) goes through: the defaults, with
/// the stored object's allocated and immutable values kept; a Service's allocations.
pub fn admit_update(
    store: &Store,
    st: Storage,
    ns: &str,
    name: &str,
    v: &mut Value,
) -> Result<(), ApiError> {
    if !v.is_object() {
        return Ok(());
    }
    let key_ns = if st.storage_type().namespaced { ns } else { "" };
    let Some(old) = store.get(st, key_ns, name) else {
        // The update answers 404.
        return Ok(());
    };
    let oldv = old.value();
    apply(st, v, Some(&oldv));
    if st == Storage::Services {
        allocate(store, ns, v, Some(&oldv), true)?;
    }
    if st == Storage::Crds {
        super::crd::check_update(&oldv, v)?;
    }
    Ok(())
}

/// What every object the store creates goes through, the scenario's and the controllers'
/// included: the defaults, the QoS class of a pod that carries a status, a Service's
/// allocations (what is given is kept as given).
pub fn before_create(store: &Store, st: Storage, ns: &str, v: &mut Value) {
    if !v.is_object() {
        return;
    }
    apply(st, v, None);
    match st {
        Storage::Pods if v["status"].get("qosClass").is_some() => {
            v["status"]["qosClass"] = json!(qos_class(v));
        }
        Storage::Services => {
            let _ = allocate(store, ns, v, None, false);
        }
        _ => {}
    }
}

/// A client's DELETE of a namespace: refused for the immortal ones; otherwise it is marked
/// for deletion (deletionTimestamp, phase Terminating) and answered as it is now. The
/// namespace controller deletes its contents and then the namespace.
pub fn begin_namespace_delete(
    store: &Store,
    name: &str,
    uid: Option<&str>,
) -> Result<Value, ApiError> {
    let rt = Storage::Namespaces.storage_type();
    if IMMORTAL_NAMESPACES.contains(&name) {
        return Err(forbidden(
            Storage::Namespaces,
            name,
            "this namespace may not be deleted".into(),
        ));
    }
    let cur = store
        .get(Storage::Namespaces, "", name)
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    if let Some(uid) = uid
        && uid != cur.uid
    {
        return Err(ApiError::conflict(
            rt,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                cur.uid
            ),
        ));
    }
    let obj = store.mutate(Storage::Namespaces, "", name, |v| {
        if v["metadata"].get("deletionTimestamp").is_some() {
            return false;
        }
        v["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        v["status"]["phase"] = json!("Terminating");
        true
    })?;
    Ok(obj.unwrap_or(cur).value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_data_is_merged_into_data_and_dropped() {
        let mut s = json!({"metadata": {"name": "s"}, "data": {"a": "eA==", "k": "b2xk"},
                           "stringData": {"k": "v", "n": "new"}});
        apply(Storage::Secrets, &mut s, None);
        assert_eq!(s["type"], "Opaque");
        assert!(s.get("stringData").is_none());
        assert_eq!(s["data"], json!({"a": "eA==", "k": "dg==", "n": "bmV3"}));
        let mut t = json!({"type": "kubernetes.io/tls", "stringData": {"x": "y"}});
        apply(Storage::Secrets, &mut t, None);
        assert_eq!(t["type"], "kubernetes.io/tls");
        assert_eq!(t["data"]["x"], "eQ==");
    }

    #[test]
    fn namespace_gets_its_label_finalizer_and_phase() {
        let mut n = json!({"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "x"}},
                           "status": {"phase": "Terminating"}});
        apply(Storage::Namespaces, &mut n, None);
        assert_eq!(
            n["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        assert_eq!(n["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(n["status"]["phase"], "Active");
        // On update the spec and status stay; the label cannot go.
        let old = n.clone();
        let mut upd =
            json!({"metadata": {"name": "team", "labels": {"a": "b"}}, "spec": {"finalizers": []}});
        apply(Storage::Namespaces, &mut upd, Some(&old));
        assert_eq!(
            upd["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        assert_eq!(upd["metadata"]["labels"]["a"], "b");
        assert_eq!(upd["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(upd["status"]["phase"], "Active");
    }

    #[test]
    fn service_defaults_and_kept_allocations() {
        let mut s = json!({"metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"name": "m", "port": 9090, "targetPort": "metrics"}]}});
        apply(Storage::Services, &mut s, None);
        let spec = &s["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][1]["targetPort"], "metrics");
        assert!(spec.get("externalTrafficPolicy").is_none());
        assert_eq!(s["status"], json!({"loadBalancer": {}}));

        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.4.4", "clusterIPs": ["10.96.4.4"],
            "ports": [{"name": "http", "port": 80, "nodePort": 31000}]}});
        let mut upd = json!({"metadata": {"name": "web"},
            "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
        apply(Storage::Services, &mut upd, Some(&old));
        assert_eq!(upd["spec"]["clusterIP"], "10.96.4.4");
        assert_eq!(upd["spec"]["clusterIPs"], json!(["10.96.4.4"]));
        assert_eq!(upd["spec"]["ports"][0]["nodePort"], 31000);
        assert_eq!(upd["spec"]["externalTrafficPolicy"], "Cluster");
        // NodePort → ClusterIP with the node port carried along: released.
        let mut back = json!({"spec": {"type": "ClusterIP", "externalTrafficPolicy": "Cluster",
            "ports": [{"name": "http", "port": 80, "nodePort": 31000}]}});
        apply(Storage::Services, &mut back, Some(&upd));
        assert!(back["spec"]["ports"][0].get("nodePort").is_none());
        assert!(back["spec"].get("externalTrafficPolicy").is_none());
        assert_eq!(back["spec"]["clusterIP"], "10.96.4.4");

        let mut headless = json!({"spec": {"clusterIP": "None", "ports": [{"port": 5432}]}});
        apply(Storage::Services, &mut headless, None);
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
    }

    #[test]
    fn workload_and_pod_template_defaults() {
        let mut d = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]},
                                    {"name": "d", "image": "reg:5000/x/y:1.2"}]}}}});
        apply(Storage::Deployments, &mut d, None);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let ps = &spec["template"]["spec"];
        assert_eq!(ps["restartPolicy"], "Always");
        assert_eq!(ps["terminationGracePeriodSeconds"], 30);
        assert_eq!(ps["dnsPolicy"], "ClusterFirst");
        assert_eq!(ps["schedulerName"], "default-scheduler");
        assert_eq!(ps["securityContext"], json!({}));
        assert!(ps.get("enableServiceLinks").is_none());
        assert!(ps.get("tolerations").is_none());
        let c = &ps["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-message");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["resources"], json!({}));
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(ps["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert!(!d.to_string().contains("null"), "no empty fields made: {d}");
        let again = d.clone();
        apply(Storage::Deployments, &mut d, None);
        assert_eq!(d, again, "defaulting twice changes nothing");

        let mut r = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply(Storage::Deployments, &mut r, None);
        assert!(r["spec"]["strategy"].get("rollingUpdate").is_none());

        let mut s = json!({"spec": {"template": {"spec": {"containers": []}}}});
        apply(Storage::StatefulSets, &mut s, None);
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let mut ds = json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}});
        apply(Storage::DaemonSets, &mut ds, None);
        assert_eq!(
            ds["spec"]["updateStrategy"]["rollingUpdate"],
            json!({"maxUnavailable": 1, "maxSurge": 0})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);

        let mut job =
            json!({"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}});
        apply(Storage::Jobs, &mut job, None);
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
        let mut job2 = json!({"spec": {"template": {"spec": {"containers": []}}}});
        apply(Storage::Jobs, &mut job2, None);
        assert!(
            job2["spec"]["template"]["spec"]
                .get("restartPolicy")
                .is_none()
        );
    }

    #[test]
    fn pods_get_priority_tolerations_and_their_qos_class() {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}});
        apply(Storage::Pods, &mut p, None);
        let spec = &p["spec"];
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(spec["serviceAccountName"], "default");
        let tols = spec["tolerations"].as_array().unwrap();
        assert_eq!(tols.len(), 2);
        assert_eq!(tols[0]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(tols[1]["key"], "node.kubernetes.io/unreachable");
        assert_eq!(tols[1]["tolerationSeconds"], 300);
        assert_eq!(qos_class(&p), "BestEffort");
        assert!(!p.to_string().contains("null"), "no empty fields made: {p}");
        let mut svc = json!({"spec": {"clusterIP": "None"}});
        apply(Storage::Services, &mut svc, None);
        assert!(!svc.to_string().contains("null"), "{svc}");
        // A pod that tolerates everything gets no more.
        let mut ds = json!({"spec": {"tolerations": [{"operator": "Exists"}], "containers": []}});
        apply(Storage::Pods, &mut ds, None);
        assert_eq!(ds["spec"]["tolerations"].as_array().unwrap().len(), 1);

        let burst = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "100m"}}}]}});
        assert_eq!(qos_class(&burst), "Burstable");
        let mut g = json!({"spec": {"containers": [{"name": "c", "image": "x",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        apply(Storage::Pods, &mut g, None);
        assert_eq!(
            g["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "1"
        );
        assert_eq!(qos_class(&g), "Guaranteed");
        let g2 = json!({"spec": {"containers": [{"resources": {
            "requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g2), "Guaranteed");
        let b2 = json!({"spec": {"containers": [{"resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&b2), "Burstable");
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/app"), "Always");
        assert_eq!(pull_policy("localhost:5000/app:2"), "IfNotPresent");
        assert_eq!(pull_policy("app@sha256:abcd"), "IfNotPresent");
    }

    #[test]
    fn services_get_free_addresses_and_ports() {
        let store = Store::new();
        store
            .create(Storage::Namespaces, "", json!({"metadata": {"name": "a"}}))
            .unwrap();
        let mut taken = json!({"metadata": {"name": "one"}, "spec": {"type": "NodePort",
            "clusterIP": "10.96.0.50", "ports": [{"port": 80, "nodePort": 30080}]}});
        admit_create(&store, Storage::Services, "a", &mut taken).unwrap();
        store.create(Storage::Services, "a", taken.clone()).unwrap();
        assert_eq!(taken["spec"]["clusterIPs"], json!(["10.96.0.50"]));

        let mut dup = json!({"metadata": {"name": "two"}, "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80}]}});
        let e = admit_create(&store, Storage::Services, "a", &mut dup).unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains("provided IP is already allocated"),
            "{}",
            e.message
        );
        let mut out = json!({"metadata": {"name": "two"}, "spec": {"clusterIP": "10.0.0.5", "ports": [{"port": 80}]}});
        let e = admit_create(&store, Storage::Services, "a", &mut out).unwrap_err();
        assert!(
            e.message.contains("not in the valid range"),
            "{}",
            e.message
        );
        let mut np = json!({"metadata": {"name": "two"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}});
        let e = admit_create(&store, Storage::Services, "a", &mut np).unwrap_err();
        assert!(
            e.message.contains(
                "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
            ),
            "{}",
            e.message
        );

        let mut fresh = json!({"metadata": {"name": "two"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"name": "b", "port": 81}]}});
        admit_create(&store, Storage::Services, "a", &mut fresh).unwrap();
        let ip: Ipv4Addr = fresh["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(in_cidr(u32::from(ip)) && ip.to_string() != "10.96.0.50");
        let p0 = fresh["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
        let p1 = fresh["spec"]["ports"][1]["nodePort"].as_i64().unwrap();
        assert!((NODE_PORT_MIN..=NODE_PORT_MAX).contains(&p0) && p0 != p1 && p0 != 30080);
        assert_eq!(fresh["spec"]["allocateLoadBalancerNodePorts"], true);
        store.create(Storage::Services, "a", fresh.clone()).unwrap();

        // An update keeps what was allocated and refuses a new address.
        let mut upd = json!({"metadata": {"name": "two"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"name": "b", "port": 81}]}});
        admit_update(&store, Storage::Services, "a", "two", &mut upd).unwrap();
        assert_eq!(upd["spec"]["clusterIP"], fresh["spec"]["clusterIP"]);
        assert_eq!(upd["spec"]["ports"][1]["nodePort"], p1);
        let mut moved = upd.clone();
        moved["spec"]["clusterIP"] = json!("10.96.9.9");
        let e = admit_update(&store, Storage::Services, "a", "two", &mut moved).unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains("may not change once set"),
            "{}",
            e.message
        );

        // The scenario's services are given addresses too.
        let mut internal = json!({"metadata": {"name": "three"}, "spec": {"ports": [{"port": 1}]}});
        before_create(&store, Storage::Services, "a", &mut internal);
        assert!(
            internal["spec"]["clusterIP"]
                .as_str()
                .unwrap()
                .starts_with("10.")
        );
    }

    #[test]
    fn a_terminating_namespace_takes_nothing_new() {
        let store = Store::new();
        store
            .create(
                Storage::Namespaces,
                "",
                json!({"metadata": {"name": "gone"}}),
            )
            .unwrap();
        let ns = begin_namespace_delete(&store, "gone", None).unwrap();
        assert_eq!(ns["status"]["phase"], "Terminating");
        assert!(ns["metadata"]["deletionTimestamp"].is_string());
        let mut cm = json!({"metadata": {"name": "x"}});
        let e = admit_create(&store, Storage::ConfigMaps, "gone", &mut cm).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(e.reason, "Forbidden");
        assert_eq!(
            e.message,
            "configmaps \"x\" is forbidden: unable to create new content in namespace gone because it is being terminated"
        );
        let e = begin_namespace_delete(&store, "default", None).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "namespaces \"default\" is forbidden: this namespace may not be deleted"
        );
    }

    #[test]
    fn a_pod_posted_with_a_status_starts_pending() {
        let store = Store::new();
        store
            .create(Storage::Namespaces, "", json!({"metadata": {"name": "a"}}))
            .unwrap();
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1",
            "resources": {"requests": {"cpu": "1"}}}]}, "status": {"phase": "Running", "podIP": "1.2.3.4"}});
        admit_create(&store, Storage::Pods, "a", &mut p).unwrap();
        assert_eq!(
            p["status"],
            json!({"phase": "Pending", "qosClass": "Burstable"})
        );
    }
}
