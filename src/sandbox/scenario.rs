//! Scenarios: the cluster the sandbox starts with, as data (assets/scenarios/*.yaml).

use super::controllers::SimConfig;
use super::resources::Storage;
use super::store::Store;
use crate::core::release::{self, ChartMetadata, Info, Release, ReleaseStatus};
use anyhow::{Context, Result, anyhow};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The scenarios shipped inside the binary (so `helmdeck demo` works on a bare machine).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "default",
        include_str!("../../assets/scenarios/default.yaml"),
    ),
    (
        "trouble",
        include_str!("../../assets/scenarios/trouble.yaml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub sim: SimConfig,
    pub nodes: Nodes,
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub releases: Vec<ReleaseSpec>,
    /// Manifests created as given, in order, after the namespaces and workloads:
    /// CustomResourceDefinitions and their objects, or any built-in kind.
    #[serde(default)]
    pub objects: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nodes {
    pub count: usize,
    #[serde(default = "default_prefix")]
    pub prefix: String,
    #[serde(default = "default_cpu")]
    pub cpu: String,
    #[serde(default = "default_memory")]
    pub memory: String,
    #[serde(default = "default_pods")]
    pub pods: u32,
    /// Conditions to set after start, by node name: e.g. `{Ready: "False", MemoryPressure: "True"}`.
    #[serde(default)]
    pub conditions: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub cordoned: Vec<String>,
}

fn default_prefix() -> String {
    "worker-".into()
}
fn default_cpu() -> String {
    "8".into()
}
fn default_memory() -> String {
    "32Gi".into()
}
fn default_pods() -> u32 {
    110
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    pub name: String,
    #[serde(default)]
    pub workloads: Vec<Workload>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Deployment, StatefulSet or DaemonSet.
    pub kind: String,
    pub name: String,
    #[serde(default = "one")]
    pub replicas: i64,
    pub image: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "default_req_cpu")]
    pub cpu: String,
    #[serde(default = "default_req_mem")]
    pub memory: String,
    /// The Helm release that owns it (labels and annotations as Helm sets them).
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub pdb: Option<Pdb>,
    #[serde(default)]
    pub hpa: Option<Hpa>,
    /// CPU use in percent of the request (what the HPA sees).
    #[serde(default)]
    pub load: Option<f64>,
    #[serde(default)]
    pub port: Option<u16>,
}

fn one() -> i64 {
    1
}
fn default_req_cpu() -> String {
    "100m".into()
}
fn default_req_mem() -> String {
    "128Mi".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pdb {
    #[serde(default)]
    pub min_available: Option<Value>,
    #[serde(default)]
    pub max_unavailable: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hpa {
    pub min: i64,
    pub max: i64,
    pub cpu: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSpec {
    pub name: String,
    pub namespace: String,
    pub chart: String,
    #[serde(default)]
    pub description: String,
    pub revisions: Vec<Revision>,
    /// A copy made by [`Scenario::grow_releases`] renders the manifest of this release.
    #[serde(skip)]
    pub copy_of: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    pub version: String,
    pub app_version: String,
    pub status: ReleaseStatus,
    #[serde(default)]
    pub description: Option<String>,
    /// Days before now that it was deployed.
    pub days_ago: f64,
    #[serde(default)]
    pub values: Value,
}

impl Scenario {
    /// A shipped scenario by name, or a YAML file by path.
    pub fn load(name_or_path: &str) -> Result<Scenario> {
        let text = match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, text)) => text.to_string(),
            None => std::fs::read_to_string(name_or_path).with_context(|| {
                format!(
                    "no scenario named '{name_or_path}' (shipped: {}) and no such file",
                    BUILTIN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        };
        serde_yaml::from_str(&text)
            .with_context(|| format!("scenario '{name_or_path}' is not valid"))
    }

    /// Grows the scenario to at least `pods` pods on at least `pods / 100` nodes (benchmarks).
    pub fn grow(&mut self, pods: usize) {
        let have: i64 = self
            .namespaces
            .iter()
            .flat_map(|n| &n.workloads)
            .map(|w| if w.kind == "DaemonSet" { 0 } else { w.replicas })
            .sum();
        let nodes = pods.div_ceil(100).max(self.nodes.count);
        self.nodes.count = nodes;
        self.nodes.pods = self.nodes.pods.max(120);
        let daemon_pods = self
            .namespaces
            .iter()
            .flat_map(|n| &n.workloads)
            .filter(|w| w.kind == "DaemonSet")
            .count()
            * nodes;
        let mut missing = pods as i64 - have - daemon_pods as i64;
        let mut i = 0;
        while missing > 0 {
            let ns = format!("bench-{:03}", i / 20);
            if self.namespaces.last().is_none_or(|n| n.name != ns) {
                self.namespaces.push(Namespace {
                    name: ns,
                    workloads: Vec::new(),
                });
            }
            let replicas = missing.min(50);
            self.namespaces
                .last_mut()
                .expect("pushed")
                .workloads
                .push(Workload {
                    kind: "Deployment".into(),
                    name: format!("svc-{i:04}"),
                    replicas,
                    image: "ghcr.io/helmdeck/bench-app:1.0.0".into(),
                    labels: BTreeMap::new(),
                    cpu: "50m".into(),
                    memory: "64Mi".into(),
                    release: None,
                    pdb: None,
                    hpa: None,
                    load: None,
                    port: None,
                });
            missing -= replicas;
            i += 1;
        }
    }

    /// Adds copies of the scenario's releases until there are at least `releases`, each with
    /// `revisions` revisions (the last deployed, the others superseded), in namespaces of 50
    /// releases (benchmarks: the release roll-up at 1,000 releases × 10 revisions). A copy
    /// renders the manifest of the release it copies, so its Secrets are of a real size.
    pub fn grow_releases(&mut self, releases: usize, revisions: usize) {
        let originals = self.releases.len();
        if originals == 0 || revisions == 0 {
            return;
        }
        let mut i = 0;
        while self.releases.len() < releases {
            let orig = &self.releases[i % originals];
            let mut revs: Vec<Revision> = (0..revisions)
                .map(|k| {
                    let mut r = orig.revisions[k % orig.revisions.len()].clone();
                    r.status = ReleaseStatus::Superseded;
                    r.description = None;
                    r.days_ago = (revisions - k) as f64;
                    r
                })
                .collect();
            if let Some(last) = revs.last_mut() {
                last.status = ReleaseStatus::Deployed;
            }
            let copy = ReleaseSpec {
                name: format!("{}-{i:04}", orig.name),
                namespace: format!("bench-rel-{:02}", i / 50),
                chart: orig.chart.clone(),
                description: orig.description.clone(),
                revisions: revs,
                copy_of: Some(orig.copy_of.clone().unwrap_or_else(|| orig.name.clone())),
            };
            self.releases.push(copy);
            i += 1;
        }
    }

    /// Creates every object of the scenario in the store (nodes, namespaces, workloads,
    /// HPAs, PDBs, Helm release Secrets). Pods come from the controllers.
    pub fn populate(&self, store: &Store, load: &super::metrics::LoadModel) -> Result<()> {
        let e = |e: super::error::ApiError| anyhow!("{e}");
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            store.create(Storage::Namespaces, "", json!({"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})).map_err(e)?;
        }
        let zones = ["a", "b", "c"];
        for i in 1..=self.nodes.count {
            let name = format!("{}{}", self.nodes.prefix, i);
            let zone = format!("europe-west1-{}", zones[i % zones.len()]);
            let node = node_json(&name, &zone, &self.nodes, i);
            store.create(Storage::Nodes, "", node).map_err(e)?;
        }
        for ns in &self.namespaces {
            if store.get(Storage::Namespaces, "", &ns.name).is_none() {
                store.create(Storage::Namespaces, "", json!({"metadata": {"name": ns.name, "labels": {"kubernetes.io/metadata.name": ns.name}}})).map_err(e)?;
            }
            for w in &ns.workloads {
                let (st, obj) = workload_json(&ns.name, w)?;
                store.create(st, &ns.name, obj).map_err(e)?;
                if let Some(p) = &w.pdb {
                    let mut spec =
                        json!({"selector": {"matchLabels": {"app.kubernetes.io/name": w.name}}});
                    if let Some(m) = &p.min_available {
                        spec["minAvailable"] = m.clone();
                    }
                    if let Some(m) = &p.max_unavailable {
                        spec["maxUnavailable"] = m.clone();
                    }
                    store.create(Storage::Pdbs, &ns.name, json!({"metadata": {"name": w.name, "labels": helm_labels(w)}, "spec": spec})).map_err(e)?;
                }
                if let Some(h) = &w.hpa {
                    store.create(Storage::Hpas, &ns.name, json!({
                        "metadata": {"name": w.name, "labels": helm_labels(w)},
                        "spec": {
                            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": w.kind, "name": w.name},
                            "minReplicas": h.min, "maxReplicas": h.max,
                            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": h.cpu}}}],
                        },
                    })).map_err(e)?;
                }
                if let Some(l) = w.load {
                    load.set(&ns.name, &w.name, l);
                }
                if let Some(port) = w.port {
                    store.create(Storage::Services, &ns.name, json!({
                        "metadata": {"name": w.name, "labels": helm_labels(w)},
                        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": w.name},
                                 "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}]},
                    })).map_err(e)?;
                }
            }
        }
        for r in &self.releases {
            if store.get(Storage::Namespaces, "", &r.namespace).is_none() {
                store.create(Storage::Namespaces, "", json!({"metadata": {"name": r.namespace, "labels": {"kubernetes.io/metadata.name": r.namespace}}})).map_err(e)?;
            }
            self.populate_release(store, r)?;
        }
        for o in &self.objects {
            create_object(store, o)?;
        }
        Ok(())
    }

    fn populate_release(&self, store: &Store, r: &ReleaseSpec) -> Result<()> {
        let now = jiff::Timestamp::now();
        let first = r.revisions.first().map(|v| v.days_ago).unwrap_or(0.0);
        let at = |days: f64| {
            now.checked_sub(jiff::SignedDuration::from_secs_f64(days * 86400.0))
                .ok()
        };
        for (i, rev) in r.revisions.iter().enumerate() {
            let version = i as i64 + 1;
            let description =
                rev.description
                    .clone()
                    .unwrap_or_else(|| match (version, rev.status) {
                        (1, _) => "Install complete".to_string(),
                        (_, ReleaseStatus::Failed) => {
                            format!("Upgrade \"{}\" failed: context deadline exceeded", r.name)
                        }
                        (_, s) if s.is_pending() => "Preparing upgrade".to_string(),
                        _ => "Upgrade complete".to_string(),
                    });
            let rel = Release {
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                version,
                info: Info {
                    first_deployed: at(first),
                    last_deployed: at(rev.days_ago),
                    deleted: None,
                    description,
                    status: rev.status,
                    notes: None,
                },
                chart: release::Chart {
                    metadata: ChartMetadata {
                        name: r.chart.clone(),
                        version: rev.version.clone(),
                        app_version: rev.app_version.clone(),
                        description: r.description.clone(),
                        api_version: "v2".into(),
                        chart_type: "application".into(),
                        ..Default::default()
                    },
                    values: Value::Null,
                },
                config: rev.values.clone(),
                manifest: self.manifest_of(r, i),
                labels: BTreeMap::new(),
            };
            let secret = release::release_secret(&rel)?;
            let v = serde_json::to_value(&secret)?;
            store
                .create(Storage::Secrets, &r.namespace, v)
                .map_err(|e| anyhow!("release {} v{version}: {e}", r.name))?;
        }
        Ok(())
    }

    /// The rendered manifest of revision `index` of a release: the workloads it owns, as
    /// YAML documents. The last revision runs the images the scenario deploys; an earlier
    /// one runs the images the chart repository (assets/charts/repository.yaml) lists for
    /// its chart version, where it lists them.
    fn manifest_of(&self, r: &ReleaseSpec, index: usize) -> String {
        let release = r.copy_of.as_deref().unwrap_or(&r.name);
        let last = index + 1 == r.revisions.len();
        let catalog = super::charts::Catalog::builtin();
        let mut out = String::new();
        for ns in &self.namespaces {
            for w in ns
                .workloads
                .iter()
                .filter(|w| w.release.as_deref() == Some(release))
            {
                let image = match r.revisions.get(index) {
                    Some(rev) if !last => catalog
                        .image_for(&r.chart, &rev.version, &w.name)
                        .unwrap_or(&w.image),
                    _ => &w.image,
                };
                let w = Workload {
                    image: image.to_string(),
                    ..w.clone()
                };
                if let Ok((_, mut v)) = workload_json(&ns.name, &w) {
                    v["apiVersion"] = json!("apps/v1");
                    v["kind"] = json!(w.kind);
                    out.push_str(&format!(
                        "---\n# Source: {release}/templates/{}.yaml\n",
                        w.name
                    ));
                    out.push_str(&serde_yaml::to_string(&v).unwrap_or_default());
                }
            }
        }
        out
    }

    /// Applies the node conditions and cordons the scenario asks for (after settling).
    pub fn apply_node_state(&self, store: &Store) {
        for (node, conds) in &self.nodes.conditions {
            let _ = store.mutate(Storage::Nodes, "", node, |v| {
                for (kind, status) in conds {
                    let (reason, message) = match (kind.as_str(), status.as_str()) {
                        ("Ready", "True") => ("KubeletReady", "kubelet is posting ready status"),
                        ("Ready", _) => {
                            ("NodeStatusUnknown", "Kubelet stopped posting node status.")
                        }
                        ("MemoryPressure", "True") => (
                            "KubeletHasInsufficientMemory",
                            "kubelet has insufficient memory available",
                        ),
                        ("DiskPressure", "True") => {
                            ("KubeletHasDiskPressure", "kubelet has disk pressure")
                        }
                        ("PIDPressure", "True") => (
                            "KubeletHasInsufficientPID",
                            "kubelet has insufficient PID available",
                        ),
                        _ => (
                            "KubeletHasSufficientResources",
                            "kubelet has sufficient resources",
                        ),
                    };
                    super::controllers::set_node_condition(v, kind, status, reason, message);
                }
                true
            });
        }
        for node in &self.nodes.cordoned {
            let _ = store.mutate(Storage::Nodes, "", node, |v| {
                v["spec"]["unschedulable"] = json!(true);
                true
            });
        }
    }
}

/// One of the scenario's `objects`: its apiVersion and kind name a built-in resource (as
/// stored) or one a CRD created before it defines; a CRD is validated as the server would.
fn create_object(store: &Store, o: &Value) -> Result<()> {
    let api_version = o["apiVersion"].as_str().unwrap_or("");
    let kind = o["kind"].as_str().unwrap_or("");
    let name = o["metadata"]["name"].as_str().unwrap_or("");
    let rt = super::resources::ResourceType::for_kind(kind)
        .filter(|r| r.api_version() == api_version && !r.is_virtual())
        .or_else(|| super::crd::for_api_version(store, api_version, kind))
        .ok_or_else(|| {
            anyhow!("scenario object {kind} {name}: no resource {api_version} {kind} is served")
        })?;
    if rt.storage == Storage::Crds {
        super::crd::validate(rt, o).map_err(|e| anyhow!("scenario object {kind} {name}: {e}"))?;
    }
    let ns = o["metadata"]["namespace"].as_str().unwrap_or("default");
    store
        .create(rt.storage, ns, o.clone())
        .map_err(|e| anyhow!("scenario object {kind} {name}: {e}"))?;
    Ok(())
}

fn helm_labels(w: &Workload) -> Value {
    let mut labels = json!({"app.kubernetes.io/name": w.name});
    if let Some(r) = &w.release {
        labels["app.kubernetes.io/instance"] = json!(r);
        labels["app.kubernetes.io/managed-by"] = json!("Helm");
    }
    for (k, v) in &w.labels {
        labels[k] = json!(v);
    }
    labels
}

fn workload_json(ns: &str, w: &Workload) -> Result<(Storage, Value)> {
    let st = match w.kind.as_str() {
        "Deployment" => Storage::Deployments,
        "StatefulSet" => Storage::StatefulSets,
        "DaemonSet" => Storage::DaemonSets,
        other => {
            return Err(anyhow!(
                "workload {}: unknown kind '{other}' (Deployment, StatefulSet, DaemonSet)",
                w.name
            ));
        }
    };
    let labels = helm_labels(w);
    let mut container = json!({
        "name": w.name, "image": w.image, "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": w.cpu, "memory": w.memory}, "limits": {"memory": w.memory}},
    });
    if let Some(p) = w.port {
        container["ports"] = json!([{"name": "http", "containerPort": p, "protocol": "TCP"}]);
    }
    let mut meta = json!({"name": w.name, "namespace": ns, "labels": labels});
    if let Some(r) = &w.release {
        meta["annotations"] =
            json!({"meta.helm.sh/release-name": r, "meta.helm.sh/release-namespace": ns});
    }
    let mut spec = json!({
        "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
    });
    match st {
        Storage::Deployments => {
            spec["replicas"] = json!(w.replicas);
            spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
            spec["progressDeadlineSeconds"] = json!(600);
            spec["revisionHistoryLimit"] = json!(10);
        }
        Storage::StatefulSets => {
            spec["replicas"] = json!(w.replicas);
            spec["serviceName"] = json!(w.name);
            spec["podManagementPolicy"] = json!("OrderedReady");
            spec["updateStrategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
        }
        _ => {
            spec["template"]["spec"]["tolerations"] = json!([{"operator": "Exists"}]);
            spec["updateStrategy"] = json!({"type": "RollingUpdate"});
        }
    }
    Ok((st, json!({"metadata": meta, "spec": spec})))
}

fn node_json(name: &str, zone: &str, n: &Nodes, i: usize) -> Value {
    let now = super::store::now_rfc3339();
    let cond = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "n2-standard-8", "topology.kubernetes.io/zone": zone,
            "node-role.kubernetes.io/worker": "",
        }},
        "spec": {"podCIDR": format!("10.244.{}.0/24", i % 250), "providerID": format!("sandbox://{name}")},
        "status": {
            "capacity": {"cpu": n.cpu, "memory": n.memory, "pods": n.pods.to_string(), "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": n.cpu, "memory": n.memory, "pods": n.pods.to_string(), "ephemeral-storage": "95Gi"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": format!("192.168.{}.{}", i / 250, 10 + i % 250)}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": format!("v1.{}.0", super::api::KUBE_MINOR), "kubeProxyVersion": "",
                "containerRuntimeVersion": "containerd://2.0.0", "osImage": "helmdeck sandbox",
                "kernelVersion": "6.1.0", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": "", "systemUUID": "", "bootID": "",
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_revision_has_its_own_values_and_the_images_of_its_chart_version() {
        for (name, _) in BUILTIN {
            let sc = Scenario::load(name).unwrap();
            for r in &sc.releases {
                for (i, pair) in r.revisions.windows(2).enumerate() {
                    assert_ne!(
                        pair[0].values,
                        pair[1].values,
                        "{name}: {} revisions {} and {} have the same values",
                        r.name,
                        i + 1,
                        i + 2
                    );
                }
                let last = r.revisions.len() - 1;
                for ns in &sc.namespaces {
                    for w in ns
                        .workloads
                        .iter()
                        .filter(|w| w.release.as_deref() == Some(r.name.as_str()))
                    {
                        // The last revision runs what the scenario deploys.
                        assert!(
                            sc.manifest_of(r, last)
                                .contains(&format!("image: {}\n", w.image)),
                            "{name}: {} last revision lacks {}",
                            r.name,
                            w.image
                        );
                    }
                }
            }
            let ee = sc.releases.iter().find(|r| r.name == "ee").unwrap();
            assert!(
                sc.manifest_of(ee, 1)
                    .contains("image: ghcr.io/mr-ee/router:3.3.0\n")
            );
            assert_ne!(sc.manifest_of(ee, 1), sc.manifest_of(ee, 3), "{name}");
        }
    }
}
