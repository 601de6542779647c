//! The scheduler and the kubelet: placing pods on nodes and walking their containers
//! through ContainerCreating, running, Ready — or the failures a scenario asks for.

use super::super::resources::Storage;
use super::super::store::now_rfc3339;
use super::util::{condition, set_condition};
use super::{Controllers, ImageFault, Key, SimConfig};
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Creating,
    Starting,
    Running,
    Crashed,
    BackOff,
    PullFailed,
    PullBackOff,
    /// A container of a pod that does not restart (a Job's) is running to its end.
    Finishing,
    Terminating,
}

struct PodSim {
    stage: Stage,
    due: Instant,
    fault: Option<ImageFault>,
    failures: u32,
}

/// The kubelet's view: pods it is walking through a lifecycle, and their timers.
#[derive(Default)]
pub struct Kubelet {
    pods: HashMap<Key, PodSim>,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    unscheduled: BTreeSet<Key>,
    nodes_changed: HashSet<String>,
    /// The schedulable nodes with their pod counts, built once per tick and counted forward
    /// as pods are placed (rescanning every pod per placement is quadratic at 50,000 pods).
    pub(super) node_slots: Option<Vec<(String, usize, usize, usize)>>,
}

impl Kubelet {
    fn set(
        &mut self,
        key: Key,
        stage: Stage,
        due: Instant,
        fault: Option<ImageFault>,
        failures: u32,
    ) {
        self.timers.push(Reverse((due, key.clone())));
        self.pods.insert(
            key,
            PodSim {
                stage,
                due,
                fault,
                failures,
            },
        );
    }

    pub fn forget(&mut self, ns: &str, name: &str) {
        let key = (ns.to_string(), name.to_string());
        self.pods.remove(&key);
        self.unscheduled.remove(&key);
    }

    pub fn node_changed(&mut self, node: &str) {
        self.nodes_changed.insert(node.to_string());
    }

    /// Takes in a pod as stored; starts tracking it when it needs the kubelet.
    pub fn observe(&mut self, cfg: &SimConfig, ns: &str, name: &str, v: &Value) {
        let key = (ns.to_string(), name.to_string());
        let now = Instant::now();
        if v["metadata"].get("deletionTimestamp").is_some() {
            self.unscheduled.remove(&key);
            if self
                .pods
                .get(&key)
                .is_none_or(|p| p.stage != Stage::Terminating)
            {
                let on_node = v["spec"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty());
                let grace = v["metadata"]["deletionGracePeriodSeconds"]
                    .as_u64()
                    .unwrap_or(30);
                let wait = if on_node && grace > 0 {
                    cfg.terminate_ms.min(grace * 1000)
                } else {
                    0
                };
                self.set(
                    key,
                    Stage::Terminating,
                    now + Duration::from_millis(wait),
                    None,
                    0,
                );
            }
            return;
        }
        if v["spec"]["nodeName"].as_str().is_none_or(|n| n.is_empty()) {
            self.unscheduled.insert(key);
            return;
        }
        self.unscheduled.remove(&key);
        if self.pods.contains_key(&key) {
            return;
        }
        let fault = cfg.fault_for(v);
        let phase = v["status"]["phase"].as_str().unwrap_or("Pending");
        let has_status = v["status"]["containerStatuses"].is_array();
        match (phase, fault) {
            ("Succeeded" | "Failed", _) => {}
            ("Pending", Some(ImageFault::PullFail)) if has_status => self.set(
                key,
                Stage::PullBackOff,
                now + Duration::from_millis(cfg.backoff_base_ms),
                fault,
                1,
            ),
            ("Pending", _) if !has_status || waiting_reason(v) == Some("ContainerCreating") => self
                .set(
                    key,
                    Stage::Creating,
                    now + Duration::from_millis(cfg.creating_ms),
                    fault,
                    0,
                ),
            ("Pending" | "Running", Some(ImageFault::Crash | ImageFault::Oom)) => {
                let restarts = v["status"]["containerStatuses"][0]["restartCount"]
                    .as_u64()
                    .unwrap_or(0) as u32;
                self.set(
                    key,
                    Stage::BackOff,
                    now + Duration::from_millis(cfg.backoff_base_ms),
                    fault,
                    restarts,
                )
            }
            ("Running", None) if !super::util::pod_is_ready(v) => self.set(
                key,
                Stage::Starting,
                now + Duration::from_millis(cfg.ready_ms),
                None,
                0,
            ),
            ("Running", None) if !restarts_always(v) => self.set(
                key,
                Stage::Finishing,
                now + Duration::from_millis(cfg.job_run_ms),
                None,
                0,
            ),
            _ => {}
        }
    }
}

/// Whether a pod's containers are restarted whatever their exit (restartPolicy Always, as
/// every workload but a Job's has); a Job's run to their end.
fn restarts_always(v: &Value) -> bool {
    v["spec"]["restartPolicy"]
        .as_str()
        .is_none_or(|p| p == "Always")
}

/// The names of a pod's containers whose image a scenario's rule makes misbehave.
fn faulty_containers(cfg: &SimConfig, v: &Value) -> HashSet<String> {
    v["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| {
                    let image = c["image"].as_str().unwrap_or("");
                    cfg.image_faults.iter().any(|r| image.contains(&r.image))
                })
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets the pod's ContainersReady and Ready conditions from its containers, as the kubelet
/// does: Ready only when every container is ready; a pod that has finished is not ready
/// (PodCompleted, PodFailed).
fn sync_ready(v: &mut Value) {
    let unready: Vec<String> = v["status"]["containerStatuses"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["ready"] != true)
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let phase = v["status"]["phase"].as_str().unwrap_or("").to_string();
    let (status, reason, message) = match phase.as_str() {
        "Succeeded" => ("False", "PodCompleted", String::new()),
        "Failed" => ("False", "PodFailed", String::new()),
        _ if unready.is_empty() => ("True", "", String::new()),
        _ => (
            "False",
            "ContainersNotReady",
            format!("containers with unready status: [{}]", unready.join(" ")),
        ),
    };
    set_condition(v, "ContainersReady", status, reason, &message);
    set_condition(v, "Ready", status, reason, &message);
}

fn waiting_reason(v: &Value) -> Option<&str> {
    v["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str()
}

fn backoff(cfg: &SimConfig, failures: u32) -> Duration {
    let ms = cfg
        .backoff_base_ms
        .saturating_mul(1u64 << failures.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(cfg.backoff_max_ms))
}

fn container_names(v: &Value) -> Vec<(String, String)> {
    v["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["image"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the status of the containers in `only` (every container when `None`) with
/// `state`, keeping restart counts and last states. The other containers of a pod that has
/// a misbehaving one run and are ready: only the misbehaving one stays unready.
fn set_containers(
    v: &mut Value,
    only: Option<&HashSet<String>>,
    state: Value,
    ready: bool,
    bump_restart: bool,
    last: Option<Value>,
) {
    let names = container_names(v);
    let old = v["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = names
        .iter()
        .map(|(name, image)| {
            let prev = old.iter().find(|c| c["name"] == name.as_str());
            if only.is_some_and(|o| !o.contains(name)) {
                return match prev {
                    Some(p) if p["state"].get("running").is_some() => {
                        let mut p = p.clone();
                        p["ready"] = json!(true);
                        p
                    }
                    _ => healthy_running(name, image, prev),
                };
            }
            let restarts = prev.and_then(|p| p["restartCount"].as_i64()).unwrap_or(0)
                + i64::from(bump_restart);
            let mut s = json!({
                "name": name, "image": image, "imageID": "", "ready": ready,
                "restartCount": restarts, "started": state.get("running").is_some(),
                "state": state,
            });
            if !image.is_empty() && state.get("waiting").is_none() {
                s["imageID"] = json!(format!(
                    "docker.io/library/{image}@sha256:{}",
                    "0".repeat(64)
                ));
                s["containerID"] = json!(format!(
                    "containerd://{}",
                    super::util::template_hash(&json!([name, restarts]))
                ));
            }
            match (&last, prev.map(|p| &p["lastState"])) {
                (Some(l), _) => s["lastState"] = l.clone(),
                (None, Some(l)) if !l.is_null() => s["lastState"] = l.clone(),
                _ => s["lastState"] = json!({}),
            }
            s
        })
        .collect();
    v["status"]["containerStatuses"] = Value::Array(statuses);
}

/// A container that runs and is ready (a healthy one beside a misbehaving one).
fn healthy_running(name: &str, image: &str, prev: Option<&Value>) -> Value {
    let restarts = prev.and_then(|p| p["restartCount"].as_i64()).unwrap_or(0);
    json!({
        "name": name, "image": image, "ready": true, "restartCount": restarts, "started": true,
        "state": {"running": {"startedAt": now_rfc3339()}}, "lastState": {},
        "imageID": format!("docker.io/library/{image}@sha256:{}", "0".repeat(64)),
        "containerID": format!("containerd://{}", super::util::template_hash(&json!([name, restarts]))),
    })
}

impl Controllers {
    /// Places unscheduled pods on the Ready, schedulable node with the fewest pods.
    pub(crate) fn schedule_pending(&mut self) {
        if self.kubelet.unscheduled.is_empty() {
            return;
        }
        let pending: Vec<Key> = self
            .kubelet
            .unscheduled
            .iter()
            .take(self.cfg.burst)
            .cloned()
            .collect();
        let total_nodes = self.store.count(Storage::Nodes);
        for (ns, name) in pending {
            let Some(pod) = self.store.get(Storage::Pods, &ns, &name) else {
                self.kubelet.unscheduled.remove(&(ns, name));
                continue;
            };
            let podv = pod.value();
            match self.pick_node() {
                Some((node, idx)) => {
                    let ip = self.next_ip(idx);
                    let r = self.store.mutate(Storage::Pods, &ns, &name, |v| {
                        v["spec"]["nodeName"] = json!(node);
                        v["status"]["hostIP"] =
                            json!(format!("192.168.{}.{}", idx / 250, 10 + idx % 250));
                        v["status"]["podIP"] = json!(ip);
                        set_condition(v, "PodScheduled", "True", "", "");
                        true
                    });
                    if r.is_ok() {
                        self.kubelet.unscheduled.remove(&(ns.clone(), name.clone()));
                        if self.cfg.normal_events {
                            self.events.record(
                                &self.store,
                                &podv,
                                false,
                                "Scheduled",
                                &format!("Successfully assigned {ns}/{name} to {node}"),
                                "default-scheduler",
                                None,
                            );
                        }
                    }
                }
                None => {
                    let msg = format!(
                        "0/{total_nodes} nodes are available: {total_nodes} node(s) were unschedulable or not ready. preemption: 0/{total_nodes} nodes are available: {total_nodes} Preemption is not helpful for scheduling."
                    );
                    let changed = self.store.mutate(Storage::Pods, &ns, &name, |v| {
                        set_condition(v, "PodScheduled", "False", "Unschedulable", &msg)
                    });
                    if let Ok(Some(_)) = changed {
                        self.events.record(
                            &self.store,
                            &podv,
                            true,
                            "FailedScheduling",
                            &msg,
                            "default-scheduler",
                            None,
                        );
                    }
                }
            }
        }
    }

    /// The node for a new pod: the Ready, schedulable node with the fewest pods and room
    /// for one more, as (name, index). Counts the pod on it.
    pub(crate) fn pick_node(&mut self) -> Option<(String, usize)> {
        if self.kubelet.node_slots.is_none() {
            self.kubelet.node_slots = Some(self.schedulable_nodes());
        }
        let slots = self.kubelet.node_slots.as_mut().expect("just built");
        let (node, count, idx, _) = slots.iter_mut().filter(|n| n.1 < n.3).min_by_key(|n| n.1)?;
        *count += 1;
        Some((node.clone(), *idx))
    }

    /// (name, pods on it, index, pod capacity) of every node a new pod may go to.
    fn schedulable_nodes(&self) -> Vec<(String, usize, usize, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for p in self.store.all(Storage::Pods) {
            if let Some(n) = p.field("spec.nodeName") {
                *counts.entry(n.to_string()).or_default() += 1;
            }
        }
        self.store
            .all(Storage::Nodes)
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let v = n.value();
                let ready = condition(&v, "Ready").is_some_and(|c| c["status"] == "True");
                let cordoned = v["spec"]["unschedulable"] == true;
                let cap = v["status"]["allocatable"]["pods"]
                    .as_str()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(110usize);
                let count = counts.get(&n.name).copied().unwrap_or(0);
                (ready && !cordoned && count < cap).then(|| (n.name.clone(), count, i, cap))
            })
            .collect()
    }

    /// Fills a new pod's status as if it had been running since its creation (settling).
    pub(crate) fn running_status(&mut self, v: &mut Value, node: &str, idx: usize) {
        v["spec"]["nodeName"] = json!(node);
        let now = now_rfc3339();
        let ip = self.next_ip(idx);
        v["status"] = json!({
            "phase": "Running", "hostIP": format!("192.168.{}.{}", idx / 250, 10 + idx % 250),
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now, "qosClass": "Burstable",
        });
        for c in [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ] {
            set_condition(v, c, "True", "", "");
        }
        set_containers(
            v,
            None,
            json!({"running": {"startedAt": now}}),
            true,
            false,
            None,
        );
    }

    /// Runs due kubelet timers and reacts to nodes that changed.
    pub(crate) fn run_kubelet(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((t, _))) = self.kubelet.timers.peek() {
            if *t > now {
                break;
            }
            let Reverse((t, key)) = self.kubelet.timers.pop().expect("peeked");
            if self.kubelet.pods.get(&key).is_some_and(|p| p.due == t) {
                due.push(key);
            }
        }
        for key in due {
            self.step_pod(key);
        }
        let nodes: Vec<String> = self.kubelet.nodes_changed.drain().collect();
        for node in nodes {
            self.node_pods_follow(&node);
        }
    }

    fn step_pod(&mut self, key: Key) {
        let Some(sim) = self.kubelet.pods.remove(&key) else {
            return;
        };
        let (ns, name) = (&key.0, &key.1);
        let Some(pod) = self.store.get(Storage::Pods, ns, name) else {
            return;
        };
        let podv = pod.value();
        let node = podv["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let node_exists = !node.is_empty() && self.store.get(Storage::Nodes, "", &node).is_some();
        let host = Some(node.as_str());
        let cfg = self.cfg.clone();
        let now = Instant::now();
        let ts = now_rfc3339();
        let names = container_names(&podv);
        let faulty = faulty_containers(&cfg, &podv);
        // The containers a fault applies to (all of them when the pod has none).
        let only = (sim.fault.is_some() && !faulty.is_empty()).then_some(&faulty);
        let (first, image) = match only {
            Some(f) => names
                .iter()
                .find(|(n, _)| f.contains(n))
                .cloned()
                .unwrap_or_default(),
            None => names.first().cloned().unwrap_or_default(),
        };
        let always = restarts_always(&podv);
        let normal = cfg.normal_events;
        let events_for = |c: &mut Controllers, warning: bool, reason: &str, msg: &str| {
            if warning || normal {
                c.events
                    .record(&c.store, &podv, warning, reason, msg, "kubelet", host);
            }
        };
        match sim.stage {
            // A pod bound to a node that does not exist has no kubelet: the pod garbage
            // collector deletes it at once when it is deleted.
            Stage::Terminating if !node_exists => {
                let _ = self.store.delete(Storage::Pods, ns, name, None);
            }
            // The kubelet of a node that is not Ready cannot confirm the pod is gone: it
            // stays Terminating until the node is back (or it is force-deleted).
            Stage::Terminating if !self.node_is_ready(&node) => {
                self.kubelet.set(
                    key.clone(),
                    Stage::Terminating,
                    now + Duration::from_secs(1),
                    None,
                    0,
                );
            }
            Stage::Terminating => {
                for (c, _) in &names {
                    events_for(self, false, "Killing", &format!("Stopping container {c}"));
                }
                let _ = self.store.delete(Storage::Pods, ns, name, None);
            }
            // No kubelet runs a pod bound to a node that does not exist: it stays Pending,
            // as on a real cluster (until it is deleted). A node of that name that appears
            // later picks it up (`node_pods_follow`).
            _ if !node_exists => {}
            Stage::Creating | Stage::PullBackOff if sim.fault == Some(ImageFault::PullFail) => {
                events_for(
                    self,
                    false,
                    "Pulling",
                    &format!("Pulling image \"{image}\""),
                );
                let msg = format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/{image}\": not found"
                );
                let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                    v["status"]["phase"] = json!("Pending");
                    set_containers(
                        v,
                        only,
                        json!({"waiting": {"reason": "ErrImagePull", "message": msg}}),
                        false,
                        false,
                        None,
                    );
                    sync_ready(v);
                    true
                });
                events_for(self, true, "Failed", &msg);
                events_for(self, true, "Failed", "Error: ErrImagePull");
                self.kubelet.set(
                    key,
                    Stage::PullFailed,
                    now + Duration::from_millis(1500),
                    sim.fault,
                    sim.failures + 1,
                );
            }
            Stage::PullFailed => {
                let msg = format!("Back-off pulling image \"{image}\"");
                let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                    set_containers(
                        v,
                        only,
                        json!({"waiting": {"reason": "ImagePullBackOff", "message": msg}}),
                        false,
                        false,
                        None,
                    );
                    sync_ready(v);
                    true
                });
                events_for(self, false, "BackOff", &msg);
                events_for(self, true, "Failed", "Error: ImagePullBackOff");
                self.kubelet.set(
                    key,
                    Stage::PullBackOff,
                    now + backoff(&cfg, sim.failures),
                    sim.fault,
                    sim.failures,
                );
            }
            Stage::Creating | Stage::BackOff | Stage::PullBackOff => {
                if sim.stage == Stage::Creating {
                    events_for(
                        self,
                        false,
                        "Pulled",
                        &format!("Successfully pulled image \"{image}\" in 812ms"),
                    );
                } else {
                    events_for(
                        self,
                        false,
                        "Pulled",
                        &format!("Container image \"{image}\" already present on machine"),
                    );
                }
                for (c, _) in &names {
                    events_for(self, false, "Created", &format!("Created container: {c}"));
                    events_for(self, false, "Started", &format!("Started container {c}"));
                }
                let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                    v["status"]["phase"] = json!("Running");
                    if v["status"].get("startTime").is_none() {
                        v["status"]["startTime"] = json!(ts);
                    }
                    // Started, not ready yet: readiness comes after `ready_ms`.
                    set_containers(
                        v,
                        only,
                        json!({"running": {"startedAt": ts}}),
                        false,
                        false,
                        None,
                    );
                    set_condition(v, "PodReadyToStartContainers", "True", "", "");
                    set_condition(v, "Initialized", "True", "", "");
                    sync_ready(v);
                    true
                });
                match sim.fault {
                    Some(ImageFault::Crash | ImageFault::Oom) => self.kubelet.set(
                        key,
                        Stage::Running,
                        now + Duration::from_millis(cfg.crash_after_ms),
                        sim.fault,
                        sim.failures,
                    ),
                    _ => self.kubelet.set(
                        key,
                        Stage::Starting,
                        now + Duration::from_millis(cfg.ready_ms),
                        None,
                        0,
                    ),
                }
            }
            Stage::Starting => {
                if self.node_is_ready(&node) {
                    let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                        // Only a container that runs becomes ready; a waiting or crashed one
                        // stays unready.
                        if let Some(cs) = v["status"]["containerStatuses"].as_array_mut() {
                            for c in cs {
                                let running = c["state"].get("running").is_some();
                                let bad = c["name"].as_str().is_some_and(|n| faulty.contains(n));
                                c["ready"] = json!(running && !bad);
                            }
                        }
                        sync_ready(v);
                        true
                    });
                }
                if !always {
                    // A Job's container runs to its end.
                    self.kubelet.set(
                        key,
                        Stage::Finishing,
                        now + Duration::from_millis(cfg.job_run_ms.saturating_sub(cfg.ready_ms)),
                        None,
                        0,
                    );
                }
            }
            Stage::Finishing => {
                let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                    if let Some(cs) = v["status"]["containerStatuses"].as_array_mut() {
                        for c in cs {
                            let started = c["state"]["running"]["startedAt"].clone();
                            let id = c["containerID"].clone();
                            c["state"] = json!({"terminated": {
                                "exitCode": 0, "reason": "Completed", "startedAt": started,
                                "finishedAt": ts, "containerID": id,
                            }});
                            c["ready"] = json!(false);
                            c["started"] = json!(false);
                        }
                    }
                    v["status"]["phase"] = json!("Succeeded");
                    sync_ready(v);
                    true
                });
            }
            Stage::Running => {
                let (reason, code) = match sim.fault {
                    Some(ImageFault::Oom) => ("OOMKilled", 137),
                    _ => ("Error", 1),
                };
                let started = podv["status"]["containerStatuses"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|c| c["name"] == first.as_str()))
                    .map(|c| c["state"]["running"]["startedAt"].clone())
                    .unwrap_or(Value::Null);
                let terminated = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ts, "containerID": format!("containerd://{}", super::util::template_hash(&json!([name, sim.failures])))}});
                let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                    set_containers(v, only, terminated.clone(), false, false, None);
                    if podv["spec"]["restartPolicy"] == "Never" {
                        // Not restarted: the pod has failed.
                        v["status"]["phase"] = json!("Failed");
                    }
                    sync_ready(v);
                    true
                });
                if podv["spec"]["restartPolicy"] != "Never" {
                    self.kubelet.set(
                        key,
                        Stage::Crashed,
                        now + Duration::from_millis(800),
                        sim.fault,
                        sim.failures,
                    );
                }
            }
            Stage::Crashed => {
                let failures = sim.failures + 1;
                let wait = backoff(&cfg, failures);
                let uid = podv["metadata"]["uid"].as_str().unwrap_or("");
                let msg = format!(
                    "back-off {}s restarting failed container={first} pod={name}_{ns}({uid})",
                    wait.as_secs()
                );
                let last = podv["status"]["containerStatuses"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|c| c["name"] == first.as_str()))
                    .map(|c| c["state"].clone())
                    .unwrap_or(Value::Null);
                let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
                    set_containers(
                        v,
                        only,
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": msg}}),
                        false,
                        true,
                        Some(last),
                    );
                    sync_ready(v);
                    true
                });
                events_for(
                    self,
                    true,
                    "BackOff",
                    &format!(
                        "Back-off restarting failed container {first} in pod {name}_{ns}({uid})"
                    ),
                );
                self.kubelet
                    .set(key, Stage::BackOff, now + wait, sim.fault, failures);
            }
        }
    }

    /// Pods follow their node: NotReady on a NotReady node, Ready again when it recovers
    /// (each container that runs ready again). A pod bound to this node before it existed
    /// is started now.
    fn node_pods_follow(&mut self, node: &str) {
        let Some(n) = self.store.get(Storage::Nodes, "", node) else {
            return;
        };
        let ready = condition(&n.value(), "Ready").is_some_and(|c| c["status"] == "True");
        for p in self.pods_on_node(node) {
            let key = (p.namespace.clone(), p.name.clone());
            if self.kubelet.pods.contains_key(&key) {
                continue;
            }
            if p.field("status.phase") == Some("Pending") {
                let cfg = self.cfg.clone();
                self.kubelet
                    .observe(&cfg, &p.namespace, &p.name, &p.value());
                continue;
            }
            let _ = self
                .store
                .mutate(Storage::Pods, &p.namespace, &p.name, |v| {
                    if v["status"]["phase"] != "Running" {
                        return false;
                    }
                    if ready {
                        let before = v.clone();
                        if let Some(cs) = v["status"]["containerStatuses"].as_array_mut() {
                            for c in cs {
                                c["ready"] = json!(c["state"].get("running").is_some());
                            }
                        }
                        sync_ready(v);
                        *v != before
                    } else {
                        set_condition(
                            v,
                            "Ready",
                            "False",
                            "NodeNotReady",
                            "the node this pod runs on is not ready",
                        )
                    }
                });
        }
    }
}
