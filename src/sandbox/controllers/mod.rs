//! Simulated controllers: deployments, replica sets, stateful sets and daemon sets make
//! pods; a scheduler places them; a kubelet walks them through ContainerCreating to Ready
//! (or into CrashLoopBackOff, ImagePullBackOff, OOMKilled as a scenario asks); the HPA
//! follows simulated CPU; PodDisruptionBudgets get their status; owners take their
//! dependents with them; events are recorded as a kubelet and controllers would.
//!
//! All of it is driven by the store's change feed: a change marks its owner dirty and the
//! next tick reconciles only what is dirty, so 50,000 pods cost nothing while they are steady.

pub(crate) mod endpoints;
mod events;
mod jobs;
mod kubelet;
mod namespaces;
mod nodes;
mod util;
mod workloads;

pub use util::{pdb_desired_healthy, pod_is_ready, set_node_condition};

use super::metrics::LoadModel;
use super::resources::Storage;
use super::store::{EventType, Store, WatchEvent};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::TryRecvError;

/// What goes wrong with a container whose image matches a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageFault {
    /// Runs a while, exits with code 1, restarts with back-off: CrashLoopBackOff.
    Crash,
    /// The image cannot be pulled: ErrImagePull, then ImagePullBackOff.
    PullFail,
    /// Runs a while, is OOM-killed (exit 137), restarts with back-off.
    Oom,
}

/// An image rule: images containing `image` behave as `fault`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ImageRule {
    pub image: String,
    pub fault: ImageFault,
}

/// Timings and behaviour of the simulation.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// How often the controllers run.
    pub tick_ms: u64,
    /// How long a container stays in ContainerCreating.
    pub creating_ms: u64,
    /// From running to Ready.
    pub ready_ms: u64,
    /// How long a deleted pod stays Terminating.
    pub terminate_ms: u64,
    /// How long a crashing container runs before it exits.
    pub crash_after_ms: u64,
    /// First restart back-off; it doubles up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// How often the HPA controller evaluates.
    pub hpa_every_ms: u64,
    /// Scale-down stabilisation window of the HPA.
    pub hpa_downscale_ms: u64,
    /// Record Normal events (Scheduled, Pulled, Started…); Warnings are always recorded.
    pub normal_events: bool,
    /// Images that misbehave.
    pub image_faults: Vec<ImageRule>,
    /// Images that run and are Ready, yet fail a share of their requests (`/metrics`).
    pub error_rates: Vec<crate::sandbox::traffic::ErrorRate>,
    /// Pods created per tick at most (a large scale-up spreads over ticks).
    pub burst: usize,
    /// How long the pods of a node that is not Ready tolerate it before they are evicted
    /// (Kubernetes' default toleration: 300 s).
    pub eviction_ms: u64,
    /// How long the container of a pod that does not restart (a Job's) runs before it
    /// exits 0 (the pod Succeeded, STATUS Completed).
    pub job_run_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tick_ms: 200,
            creating_ms: 1200,
            ready_ms: 1000,
            terminate_ms: 800,
            crash_after_ms: 2500,
            backoff_base_ms: 5000,
            backoff_max_ms: 60_000,
            hpa_every_ms: 5000,
            hpa_downscale_ms: 30_000,
            normal_events: true,
            image_faults: Vec::new(),
            error_rates: Vec::new(),
            burst: 2000,
            eviction_ms: 300_000,
            job_run_ms: 3000,
        }
    }
}

impl SimConfig {
    /// The fault of the first container whose image matches a rule.
    pub fn fault_for(&self, pod: &serde_json::Value) -> Option<ImageFault> {
        let containers = pod["spec"]["containers"].as_array()?;
        containers.iter().find_map(|c| {
            let image = c["image"].as_str()?;
            self.image_faults
                .iter()
                .find(|r| image.contains(&r.image))
                .map(|r| r.fault)
        })
    }
}

type Key = (String, String);

/// The controllers' own state.
pub struct Controllers {
    pub(crate) store: Store,
    pub(crate) load: LoadModel,
    pub(crate) cfg: SimConfig,
    /// Owner uid → its dependents.
    children: HashMap<String, BTreeSet<(Storage, String, String)>>,
    /// Dependent → owner uid (to unlink on delete).
    owner_of: HashMap<(Storage, String, String), String>,
    /// Workload uid → where it is.
    by_uid: HashMap<String, (Storage, String, String)>,
    dirty: HashSet<(Storage, String, String)>,
    dirty_pdb_ns: HashSet<String>,
    pub(crate) kubelet: kubelet::Kubelet,
    pub(crate) events: events::Recorder,
    /// When the HPA last scaled each workload down or up, for stabilisation.
    hpa_last_scale: HashMap<Key, Instant>,
    last_hpa: Instant,
    /// Since when each node has not been Ready (the node lifecycle controller).
    not_ready_since: HashMap<String, Instant>,
    last_node_check: Instant,
    /// Whether pods are created already running (settling a scenario at start).
    pub(crate) instant: bool,
    ip_counter: u32,
    /// Objects to reconcile again later, and the Job controller's memory.
    timers: jobs::Timers,
    /// The EndpointSlice controller's state.
    slices: endpoints::EndpointSlices,
    /// The namespace controller's: the namespaces being deleted.
    ns_lifecycle: namespaces::Terminating,
}

fn workload_storage(st: Storage) -> bool {
    matches!(
        st,
        Storage::Deployments | Storage::ReplicaSets | Storage::StatefulSets | Storage::DaemonSets
    )
}

impl Controllers {
    pub fn new(store: Store, load: LoadModel, cfg: SimConfig) -> Self {
        Controllers {
            store,
            load,
            cfg,
            children: HashMap::new(),
            owner_of: HashMap::new(),
            by_uid: HashMap::new(),
            dirty: HashSet::new(),
            dirty_pdb_ns: HashSet::new(),
            kubelet: kubelet::Kubelet::default(),
            events: events::Recorder::default(),
            hpa_last_scale: HashMap::new(),
            not_ready_since: HashMap::new(),
            last_node_check: Instant::now() - Duration::from_secs(3600),
            last_hpa: Instant::now() - Duration::from_secs(3600),
            instant: false,
            ip_counter: 0,
            timers: Default::default(),
            slices: Default::default(),
            ns_lifecycle: Default::default(),
        }
    }

    pub(crate) fn next_ip(&mut self, node_index: usize) -> String {
        self.ip_counter += 1;
        format!(
            "10.{}.{}.{}",
            244 + (node_index / 250) % 10,
            node_index % 250,
            1 + self.ip_counter % 250
        )
    }

    /// Rebuilds indexes from the whole store and marks every workload dirty.
    pub fn resync(&mut self) {
        self.children.clear();
        self.owner_of.clear();
        self.by_uid.clear();
        for st in [
            Storage::Deployments,
            Storage::ReplicaSets,
            Storage::StatefulSets,
            Storage::DaemonSets,
            Storage::Pods,
            Storage::Jobs,
            Storage::CronJobs,
        ] {
            for obj in self.store.all(st) {
                let v = obj.value();
                self.index(st, &obj.namespace, &obj.name, &obj.uid, &v, false);
                if workload_storage(st) || matches!(st, Storage::Jobs | Storage::CronJobs) {
                    self.dirty
                        .insert((st, obj.namespace.clone(), obj.name.clone()));
                }
                if st == Storage::Pods {
                    self.kubelet
                        .observe(&self.cfg, &obj.namespace, &obj.name, &v);
                }
            }
        }
        for ns in self.store.all(Storage::Namespaces) {
            self.dirty_pdb_ns.insert(ns.name.clone());
        }
        self.slices.resync(&self.store);
        self.ns_lifecycle.resync(&self.store);
        // Pods on a node that is not Ready follow it (the feed that said so may predate us).
        for node in self.store.all(Storage::Nodes) {
            let ready =
                util::condition(&node.value(), "Ready").is_some_and(|c| c["status"] == "True");
            if !ready {
                self.kubelet.node_changed(&node.name);
            }
        }
    }

    fn index(
        &mut self,
        st: Storage,
        ns: &str,
        name: &str,
        uid: &str,
        v: &serde_json::Value,
        deleted: bool,
    ) {
        let key = (st, ns.to_string(), name.to_string());
        if workload_storage(st) || matches!(st, Storage::Jobs | Storage::CronJobs) {
            if deleted {
                self.by_uid.remove(uid);
            } else {
                self.by_uid.insert(uid.to_string(), key.clone());
            }
        }
        if deleted {
            if let Some(owner) = self.owner_of.remove(&key)
                && let Some(set) = self.children.get_mut(&owner)
            {
                set.remove(&key);
            }
        } else if let Some(owner) = util::controller_uid(v) {
            self.owner_of.insert(key.clone(), owner.to_string());
            self.children
                .entry(owner.to_string())
                .or_default()
                .insert(key);
        }
    }

    /// The dependents of an owner, of one kind.
    pub(crate) fn children_of(&self, uid: &str, st: Storage) -> Vec<(String, String)> {
        self.children
            .get(uid)
            .map(|set| {
                set.iter()
                    .filter(|(s, _, _)| *s == st)
                    .map(|(_, ns, n)| (ns.clone(), n.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn mark_owner_dirty(&mut self, v: &serde_json::Value) {
        if let Some(uid) = util::controller_uid(v)
            && let Some(key) = self.by_uid.get(uid).cloned()
        {
            // The replica set's own owner, from the index rather than by parsing it.
            if key.0 == Storage::ReplicaSets
                && let Some(d) = self
                    .owner_of
                    .get(&key)
                    .and_then(|u| self.by_uid.get(u))
                    .cloned()
            {
                self.dirty.insert(d);
            }
            self.dirty.insert(key);
        }
    }

    /// Takes in one change from the store's feed.
    fn observe(&mut self, e: &WatchEvent) {
        self.slices.observe(e);
        self.ns_lifecycle.observe(e);
        let st = e.storage;
        let obj = &e.obj;
        let interesting = matches!(
            st,
            Storage::Deployments
                | Storage::ReplicaSets
                | Storage::StatefulSets
                | Storage::DaemonSets
                | Storage::Pods
                | Storage::Nodes
                | Storage::Pdbs
                | Storage::Jobs
                | Storage::CronJobs
        );
        if !interesting {
            return;
        }
        let v = obj.value();
        let deleted = e.kind == EventType::Deleted;
        self.index(st, &obj.namespace, &obj.name, &obj.uid, &v, deleted);
        match st {
            Storage::Pods => {
                // A change its owner and budgets cannot see (an annotation, a container's
                // status) leaves them alone.
                let relevant = e.kind != EventType::Modified
                    || match (&e.prev, util::PodSlim::parse(&obj.json)) {
                        (Some(prev), Some(now)) => util::PodSlim::parse(&prev.json) != Some(now),
                        _ => true,
                    };
                if relevant {
                    self.mark_owner_dirty(&v);
                    self.dirty_pdb_ns.insert(obj.namespace.clone());
                }
                if deleted {
                    self.kubelet.forget(&obj.namespace, &obj.name);
                } else {
                    self.kubelet
                        .observe(&self.cfg, &obj.namespace, &obj.name, &v);
                }
            }
            Storage::Nodes => {
                for (s, ns, n) in self
                    .by_uid
                    .values()
                    .filter(|(s, _, _)| *s == Storage::DaemonSets)
                    .cloned()
                    .collect::<Vec<_>>()
                {
                    self.dirty.insert((s, ns, n));
                }
                self.kubelet.node_changed(&obj.name);
            }
            Storage::Pdbs => {
                self.dirty_pdb_ns.insert(obj.namespace.clone());
            }
            _ => {
                if deleted {
                    self.collect_garbage(&obj.uid);
                    if st == Storage::Jobs {
                        // Its CronJob sees it gone.
                        self.mark_owner_dirty(&v);
                    }
                } else {
                    self.dirty
                        .insert((st, obj.namespace.clone(), obj.name.clone()));
                    if matches!(st, Storage::ReplicaSets | Storage::Jobs) {
                        self.mark_owner_dirty(&v);
                    }
                }
            }
        }
    }

    /// Deletes the dependents of a deleted owner (background propagation).
    fn collect_garbage(&mut self, uid: &str) {
        let Some(deps) = self.children.remove(uid) else {
            return;
        };
        for (st, ns, name) in deps {
            self.owner_of.remove(&(st, ns.clone(), name.clone()));
            if st == Storage::Pods {
                self.delete_pod(&ns, &name);
            } else {
                let _ = self.store.delete(st, &ns, &name, None);
            }
        }
    }

    /// Deletes a pod as its controller would: gracefully when it runs on a node.
    pub(crate) fn delete_pod(&mut self, ns: &str, name: &str) {
        let Some(pod) = self.store.get(Storage::Pods, ns, name) else {
            return;
        };
        if pod.field("spec.nodeName").is_none_or(|n| n.is_empty()) {
            let _ = self.store.delete(Storage::Pods, ns, name, None);
            return;
        }
        let _ = self.store.mutate(Storage::Pods, ns, name, |v| {
            if v["metadata"].get("deletionTimestamp").is_some() {
                return false;
            }
            v["metadata"]["deletionTimestamp"] = serde_json::json!(super::store::now_rfc3339());
            v["metadata"]["deletionGracePeriodSeconds"] = serde_json::json!(30);
            true
        });
    }

    /// One round: take in changes, reconcile what is dirty, run the kubelet's timers.
    pub fn tick(&mut self, feed: &mut tokio::sync::broadcast::Receiver<Arc<WatchEvent>>) {
        self.kubelet.node_slots = None;
        loop {
            match feed.try_recv() {
                Ok(e) => self.observe(&e),
                Err(TryRecvError::Lagged(_)) => {
                    self.resync();
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
            }
        }
        self.requeue_due();
        let dirty: Vec<_> = self.dirty.drain().collect();
        let mut order = dirty;
        // Deployments before replica sets before pods, so one tick carries a change through.
        order.sort_by_key(|(st, _, _)| match st {
            Storage::Deployments => 0,
            Storage::ReplicaSets => 1,
            _ => 2,
        });
        for (st, ns, name) in order {
            match st {
                Storage::Deployments => self.reconcile_deployment(&ns, &name),
                Storage::ReplicaSets => self.reconcile_replicaset(&ns, &name),
                Storage::StatefulSets => self.reconcile_statefulset(&ns, &name),
                Storage::DaemonSets => self.reconcile_daemonset(&ns, &name),
                Storage::Jobs => self.reconcile_job(&ns, &name),
                Storage::CronJobs => self.reconcile_cronjob(&ns, &name),
                _ => {}
            }
        }
        self.node_lifecycle();
        self.schedule_pending();
        self.run_kubelet();
        self.reconcile_endpoint_slices();
        self.reconcile_namespaces();
        let pdb_ns: Vec<String> = self.dirty_pdb_ns.drain().collect();
        for ns in pdb_ns {
            self.reconcile_pdbs(&ns);
        }
        if self.last_hpa.elapsed() >= Duration::from_millis(self.cfg.hpa_every_ms) {
            self.last_hpa = Instant::now();
            self.reconcile_hpas();
        }
        self.events.sweep(&self.store);
    }

    /// Runs ticks until nothing is left to do (or `max` rounds), creating pods already
    /// running: how a scenario starts in a settled state.
    pub fn settle(
        &mut self,
        feed: &mut tokio::sync::broadcast::Receiver<Arc<WatchEvent>>,
        max: usize,
    ) {
        self.instant = true;
        self.resync();
        for _ in 0..max {
            self.tick(feed);
            if self.dirty.is_empty() && feed.is_empty() {
                break;
            }
        }
        self.instant = false;
        // The HPAs look at the settled pods, not at the empty cluster of the first tick.
        self.reconcile_hpas();
        self.last_hpa = Instant::now();
    }

    /// Runs forever, ticking.
    pub async fn run(mut self) {
        let mut feed = self.store.changes();
        self.resync();
        let mut interval = tokio::time::interval(Duration::from_millis(self.cfg.tick_ms));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let t = tokio::task::block_in_place(|| {
                let start = Instant::now();
                self.tick(&mut feed);
                start.elapsed()
            });
            if t > Duration::from_millis(500) {
                tracing::debug!(ms = t.as_millis() as u64, "slow controller tick");
            }
        }
    }
}
