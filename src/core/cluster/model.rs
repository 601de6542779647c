//! What the console knows of a cluster: compact rows built from watched objects (never the
//! objects themselves, so 50,000 pods stay small), and the state of each watch.

use crate::core::health::{Health, PodEvidence, PodStatus};
use crate::core::release::ReleaseStatus;
use std::collections::BTreeMap;
use std::time::Instant;

/// (namespace, name); namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// The owner that controls an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
}

/// One pod, as the Pods view and the roll-up need it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    pub status: PodStatus,
    pub node: String,
    pub ip: String,
    pub created: Option<jiff::Timestamp>,
    pub owner: Option<OwnerRef>,
    /// The workload (Deployment, StatefulSet, DaemonSet) behind the owner, when known from names.
    pub workload: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub containers: Vec<String>,
    pub deleting: bool,
    /// The newest unclean termination and the failure a container waits on.
    pub evidence: PodEvidence,
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub name: String,
    /// Ready condition: Some(true) Ready, Some(false) NotReady, None Unknown.
    pub ready: Option<bool>,
    pub unschedulable: bool,
    pub memory_pressure: bool,
    pub disk_pressure: bool,
    pub pid_pressure: bool,
    pub roles: Vec<String>,
    pub version: String,
    pub internal_ip: String,
    pub created: Option<jiff::Timestamp>,
    /// When the Ready condition last changed (its `lastTransitionTime`): for a NotReady
    /// node, since when it is so.
    pub ready_since: Option<jiff::Timestamp>,
    /// Allocatable CPU in millicores and memory in bytes.
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn short(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deploy",
            WorkloadKind::StatefulSet => "sts",
            WorkloadKind::DaemonSet => "ds",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// A Deployment, StatefulSet or DaemonSet.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadRow {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    pub health: Health,
    pub images: Vec<String>,
    /// spec.selector.matchLabels.
    pub selector: BTreeMap<String, String>,
    pub created: Option<jiff::Timestamp>,
    /// The Helm release that manages it (meta.helm.sh/release-name).
    pub release: Option<String>,
}

/// A HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaRow {
    pub namespace: String,
    pub name: String,
    pub target_kind: String,
    pub target_name: String,
    pub min: i32,
    pub max: i32,
    pub current: i32,
    pub desired: i32,
    pub cpu_target: Option<i32>,
    pub cpu_current: Option<i32>,
    pub health: Health,
}

/// A core/v1 Event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub namespace: String,
    pub name: String,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub object_kind: String,
    pub object_name: String,
    pub count: i32,
    pub last_seen: Option<jiff::Timestamp>,
    pub source: String,
}

/// The newest revision of a Helm release, from its release Secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRow {
    pub namespace: String,
    pub name: String,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    pub revision: i64,
    pub status: ReleaseStatus,
    pub updated: Option<jiff::Timestamp>,
    pub description: String,
    /// False when no revision of the release decodes: the row is told from the newest
    /// release Secret's labels and name, and its status is unknown.
    pub decoded: bool,
    /// The revisions that cannot be decoded: (release Secret, why), by Secret name.
    pub undecodable: Vec<(String, String)>,
}

/// One release Secret (a revision), kept small: no manifest, no values. Built from the
/// Secret's labels and name first ([`ReleaseRevision::from_secret_lazy`]); the payload is
/// decoded when the revision is the newest of its release (see [`ClusterState::apply`]) or
/// by [`ClusterState::decode_backlog`], so a launch decodes one revision per release, not
/// every revision.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRevision {
    pub secret: String,
    pub namespace: String,
    pub release: String,
    pub revision: i64,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    pub status: ReleaseStatus,
    pub updated: Option<jiff::Timestamp>,
    pub description: String,
    /// Set when the Secret could not be decoded.
    pub error: Option<String>,
    /// The Secret's `data.release` (base64 removed) while it is not decoded yet: until then chart,
    /// app version and description are empty and revision, status and release name come
    /// from the labels. `None` once decoded (or when decoding failed: see `error`).
    pub payload: Option<ReleasePayload>,
}

impl ReleaseRevision {
    /// Whether the payload has been decoded (or found undecodable).
    pub fn is_decoded(&self) -> bool {
        self.payload.is_none()
    }
}

/// A release Secret's `data.release` without Helm's base64 layer (gzip of JSON), not
/// decoded yet.
#[derive(Clone, PartialEq, Eq)]
pub struct ReleasePayload(pub std::sync::Arc<Vec<u8>>);

impl std::fmt::Debug for ReleasePayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReleasePayload({} bytes)", self.0.len())
    }
}

/// CPU (millicores) and memory (bytes) in use, from metrics.k8s.io.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// The resources the console watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Nodes,
    Pods,
    Deployments,
    StatefulSets,
    DaemonSets,
    Hpas,
    Events,
    Releases,
    Metrics,
}

impl Resource {
    pub const ALL: [Resource; 9] = [
        Resource::Nodes,
        Resource::Pods,
        Resource::Deployments,
        Resource::StatefulSets,
        Resource::DaemonSets,
        Resource::Hpas,
        Resource::Events,
        Resource::Releases,
        Resource::Metrics,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Resource::Nodes => "nodes",
            Resource::Pods => "pods",
            Resource::Deployments => "deployments",
            Resource::StatefulSets => "statefulsets",
            Resource::DaemonSets => "daemonsets",
            Resource::Hpas => "horizontalpodautoscalers",
            Resource::Events => "events",
            Resource::Releases => "helm releases",
            Resource::Metrics => "metrics",
        }
    }
}

/// How a watch is doing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceStatus {
    /// The first full list has arrived.
    pub synced: bool,
    /// The last error, while it lasts (cleared by the next good update).
    pub error: Option<String>,
    /// When data last arrived.
    pub updated: Option<Instant>,
}

/// A change to one kind of row.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    /// Added or modified.
    Upsert(T),
    Delete(Key),
    /// A full (re)list: replaces every row of the kind.
    Reset(Vec<T>),
    /// Part of a long (re)list, sent while the rest is still being read so that the state
    /// files it meanwhile, out of sight: nothing changes on screen until the
    /// [`Change::EndParts`] that ends the list. `first` starts a list (the parts of an
    /// earlier one that never ended are dropped).
    Part {
        first: bool,
        rows: Vec<T>,
    },
    /// The last rows of a list sent in parts: with the parts, they replace every row of the
    /// kind, as a [`Change::Reset`] of them all would.
    EndParts(Vec<T>),
}

impl<T> Change<T> {
    /// Whether the change only files a part of a list, which shows nothing yet.
    pub fn is_part(&self) -> bool {
        matches!(self, Change::Part { .. })
    }
}

/// What the watch layer sends to the state's owner.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterUpdate {
    Nodes(Vec<Change<NodeRow>>),
    Pods(Vec<Change<PodRow>>),
    Workloads(WorkloadKind, Vec<Change<WorkloadRow>>),
    Hpas(Vec<Change<HpaRow>>),
    Events(Vec<Change<EventRow>>),
    Releases(Vec<Change<ReleaseRevision>>),
    /// Usage of pods (namespace, name) and nodes (name), replacing the previous sample.
    Metrics {
        pods: BTreeMap<Key, Usage>,
        nodes: BTreeMap<String, Usage>,
    },
    /// A watch failed; it retries with back-off.
    Error(Resource, String),
}

impl ClusterUpdate {
    /// Whether the update only files parts of a list ([`Change::Part`]).
    pub fn is_parts_only(&self) -> bool {
        fn parts<T>(changes: &[Change<T>]) -> bool {
            !changes.is_empty() && changes.iter().all(Change::is_part)
        }
        match self {
            ClusterUpdate::Nodes(c) => parts(c),
            ClusterUpdate::Pods(c) => parts(c),
            ClusterUpdate::Workloads(_, c) => parts(c),
            ClusterUpdate::Hpas(c) => parts(c),
            ClusterUpdate::Events(c) => parts(c),
            ClusterUpdate::Releases(c) => parts(c),
            ClusterUpdate::Metrics { .. } | ClusterUpdate::Error(..) => false,
        }
    }

    /// How many rows the update adds, changes or removes (a re-list counts its rows).
    pub fn rows(&self) -> usize {
        fn count<T>(changes: &[Change<T>]) -> usize {
            changes
                .iter()
                .map(|c| match c {
                    Change::Reset(rows) | Change::EndParts(rows) => rows.len().max(1),
                    Change::Part { rows, .. } => rows.len(),
                    _ => 1,
                })
                .sum()
        }
        match self {
            ClusterUpdate::Nodes(c) => count(c),
            ClusterUpdate::Pods(c) => count(c),
            ClusterUpdate::Workloads(_, c) => count(c),
            ClusterUpdate::Hpas(c) => count(c),
            ClusterUpdate::Events(c) => count(c),
            ClusterUpdate::Releases(c) => count(c),
            ClusterUpdate::Metrics { pods, nodes } => pods.len() + nodes.len(),
            ClusterUpdate::Error(..) => 1,
        }
    }
}

/// Everything known of the cluster. Owned by one task (the UI loop, or `helmdeck status`).
#[derive(Debug, Default, Clone)]
pub struct ClusterState {
    pub nodes: BTreeMap<String, NodeRow>,
    pub pods: BTreeMap<Key, PodRow>,
    pub workloads: BTreeMap<(WorkloadKind, String, String), WorkloadRow>,
    pub hpas: BTreeMap<Key, HpaRow>,
    pub events: BTreeMap<Key, EventRow>,
    /// Release revisions by Secret (namespace, secret name).
    pub revisions: BTreeMap<Key, ReleaseRevision>,
    pub pod_usage: BTreeMap<Key, Usage>,
    pub node_usage: BTreeMap<String, Usage>,
    pub sources: BTreeMap<Resource, SourceStatus>,
    /// Bumped on every change, so views know when to rebuild their rows.
    pub generation: u64,
    /// Parts of lists still being read ([`Change::Part`]), by kind.
    pub staged: Staged,
}

/// The rows of lists still being read, filed as their parts came, shown when they end.
#[derive(Debug, Default, Clone)]
pub struct Staged {
    pub nodes: Option<Vec<(String, NodeRow)>>,
    pub pods: Option<Vec<(Key, PodRow)>>,
    pub workloads: BTreeMap<WorkloadKind, Option<Vec<WorkloadRow>>>,
    pub hpas: Option<Vec<(Key, HpaRow)>>,
    pub events: Option<Vec<(Key, EventRow)>>,
    pub revisions: Option<Vec<(Key, ReleaseRevision)>>,
}

/// Fewest revisions worth decoding on more than one thread (a small one takes ~30 µs).
const PARALLEL_DECODE_MIN: usize = 256;

/// Decodes revisions, on up to 4 threads when there are many (a launch decodes one per
/// release at once, when the other threads are idle).
fn decode_in_parallel(rows: &mut [&mut ReleaseRevision]) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if threads < 2 || rows.len() < PARALLEL_DECODE_MIN {
        rows.iter_mut().for_each(|r| r.decode());
        return;
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut chunks = rows.chunks_mut(chunk);
        let mine = chunks.next();
        for c in chunks {
            scope.spawn(move || c.iter_mut().for_each(|r| r.decode()));
        }
        mine.into_iter().flatten().for_each(|r| r.decode());
    });
}

fn apply<K: Ord + Clone, T: Clone>(
    map: &mut BTreeMap<K, T>,
    staged: &mut Option<Vec<(K, T)>>,
    changes: Vec<Change<T>>,
    key_of: impl Fn(&T) -> K,
    key_from: impl Fn(Key) -> K,
) {
    for c in changes {
        match c {
            Change::Upsert(row) => {
                map.insert(key_of(&row), row);
            }
            Change::Delete(k) => {
                map.remove(&key_from(k));
            }
            // Built in bulk (sorted, then filled leaf by leaf) rather than one insert at a
            // time. Of equal keys the last one stays, as inserting would leave it.
            Change::Reset(rows) => {
                *staged = None;
                *map = rows.into_iter().map(|r| (key_of(&r), r)).collect();
            }
            // Keyed while the watch reads the rest of the list, off the way to the screen;
            // the tree is built in bulk at the end, from rows a list gives in order (not
            // inserted one at a time, which leaves its nodes half full).
            Change::Part { first, rows } => {
                file_part(staged, first, rows.into_iter().map(|r| (key_of(&r), r)));
            }
            Change::EndParts(rows) => {
                let rows = rows.into_iter().map(|r| (key_of(&r), r));
                *map = whole_list(staged, rows).into_iter().collect();
            }
        }
    }
}

/// Files a part of a list in progress; a first part drops what a list that never ended left.
fn file_part<R>(staged: &mut Option<Vec<R>>, first: bool, rows: impl IntoIterator<Item = R>) {
    if first {
        *staged = None;
    }
    staged.get_or_insert_with(Vec::new).extend(rows);
}

/// A list sent in parts, whole: the parts filed, then its last rows.
fn whole_list<R>(staged: &mut Option<Vec<R>>, rows: impl IntoIterator<Item = R>) -> Vec<R> {
    let mut all = staged.take().unwrap_or_default();
    all.extend(rows);
    all
}

/// The workloads' changes: as [`apply`]'s, for one kind at a time (a kind's list replaces
/// that kind's rows only).
fn apply_workloads(
    workloads: &mut BTreeMap<(WorkloadKind, String, String), WorkloadRow>,
    staged: &mut BTreeMap<WorkloadKind, Option<Vec<WorkloadRow>>>,
    kind: WorkloadKind,
    changes: Vec<Change<WorkloadRow>>,
) {
    for change in changes {
        match change {
            Change::Upsert(row) => {
                workloads.insert((row.kind, row.namespace.clone(), row.name.clone()), row);
            }
            Change::Delete((ns, name)) => {
                workloads.remove(&(kind, ns, name));
            }
            Change::Part { first, rows } => file_part(staged.entry(kind).or_default(), first, rows),
            Change::Reset(rows) => {
                staged.remove(&kind);
                reset_workloads(workloads, kind, rows);
            }
            Change::EndParts(rows) => {
                let all = whole_list(staged.entry(kind).or_default(), rows);
                staged.remove(&kind);
                reset_workloads(workloads, kind, all);
            }
        }
    }
}

/// Replaces the workloads of one kind (the others stay) with `rows`.
fn reset_workloads(
    workloads: &mut BTreeMap<(WorkloadKind, String, String), WorkloadRow>,
    kind: WorkloadKind,
    rows: Vec<WorkloadRow>,
) {
    workloads.retain(|k, _| k.0 != kind);
    for row in rows {
        workloads.insert((row.kind, row.namespace.clone(), row.name.clone()), row);
    }
}

impl ClusterState {
    /// Takes in one update from the watch layer.
    pub fn apply(&mut self, update: ClusterUpdate) {
        // Parts of a list change nothing in sight, and a kind is not listed until its list
        // ends: neither the generation nor the source moves for them.
        let parts_only = update.is_parts_only();
        if !parts_only {
            self.generation += 1;
        }
        let now = Some(Instant::now());
        let staged = &mut self.staged;
        let resource = match update {
            ClusterUpdate::Nodes(c) => {
                apply(
                    &mut self.nodes,
                    &mut staged.nodes,
                    c,
                    |r| r.name.clone(),
                    |k| k.1,
                );
                Resource::Nodes
            }
            ClusterUpdate::Pods(c) => {
                apply(
                    &mut self.pods,
                    &mut staged.pods,
                    c,
                    |r| (r.namespace.clone(), r.name.clone()),
                    |k| k,
                );
                Resource::Pods
            }
            ClusterUpdate::Workloads(kind, c) => {
                apply_workloads(&mut self.workloads, &mut staged.workloads, kind, c);
                match kind {
                    WorkloadKind::Deployment => Resource::Deployments,
                    WorkloadKind::StatefulSet => Resource::StatefulSets,
                    WorkloadKind::DaemonSet => Resource::DaemonSets,
                }
            }
            ClusterUpdate::Hpas(c) => {
                apply(
                    &mut self.hpas,
                    &mut staged.hpas,
                    c,
                    |r| (r.namespace.clone(), r.name.clone()),
                    |k| k,
                );
                Resource::Hpas
            }
            ClusterUpdate::Events(c) => {
                apply(
                    &mut self.events,
                    &mut staged.events,
                    c,
                    |r| (r.namespace.clone(), r.name.clone()),
                    |k| k,
                );
                Resource::Events
            }
            ClusterUpdate::Releases(c) => {
                apply(
                    &mut self.revisions,
                    &mut staged.revisions,
                    c,
                    |r| (r.namespace.clone(), r.secret.clone()),
                    |k| k,
                );
                // A part changes no release in sight: nothing new to decode.
                if !parts_only {
                    self.decode_current_revisions();
                }
                Resource::Releases
            }
            ClusterUpdate::Metrics { pods, nodes } => {
                self.pod_usage = pods;
                self.node_usage = nodes;
                Resource::Metrics
            }
            ClusterUpdate::Error(r, message) => {
                let s = self.sources.entry(r).or_default();
                s.error = Some(message);
                return;
            }
        };
        if parts_only {
            return;
        }
        let s = self.sources.entry(resource).or_default();
        s.synced = true;
        s.error = None;
        s.updated = now;
    }

    /// Decodes, for every release, its revisions from the newest down until one decodes
    /// (what [`ClusterState::releases`] shows), and no others: older revisions keep only
    /// what their labels tell until [`ClusterState::decode_backlog`] reaches them.
    fn decode_current_revisions(&mut self) {
        loop {
            let wanted: std::collections::BTreeSet<Key> =
                self.current_undecoded().into_iter().collect();
            if wanted.is_empty() {
                return;
            }
            let mut rows: Vec<&mut ReleaseRevision> = self
                .revisions
                .iter_mut()
                .filter(|(k, _)| wanted.contains(*k))
                .map(|(_, r)| r)
                .collect();
            decode_in_parallel(&mut rows);
        }
    }

    /// Per release, the newest revision not decoded yet when no decoded revision is newer:
    /// the revisions the release's row may come from.
    fn current_undecoded(&self) -> Vec<Key> {
        /// The newest decoded revision, and the newest undecoded one with its key.
        type Newest<'a> = (Option<i64>, Option<(i64, &'a Key)>);
        let mut newest: BTreeMap<(&str, &str), Newest> = BTreeMap::new();
        for (k, r) in &self.revisions {
            let e = newest
                .entry((r.namespace.as_str(), r.release.as_str()))
                .or_default();
            if !r.is_decoded() {
                if e.1.is_none_or(|(v, _)| v < r.revision) {
                    e.1 = Some((r.revision, k));
                }
            } else if r.error.is_none() && e.0.is_none_or(|v| v < r.revision) {
                e.0 = Some(r.revision);
            }
        }
        newest
            .into_values()
            .filter_map(|(decoded, undecoded)| {
                let (v, k) = undecoded?;
                decoded.is_none_or(|d| d < v).then(|| k.clone())
            })
            .collect()
    }

    /// Decodes older revisions (which the roll-up does not show, but whose decoding may
    /// fail: a problem it reports) until none is left or `deadline` passes. True when some
    /// are left. The console calls it while idle; `helmdeck status` does not.
    pub fn decode_backlog(&mut self, deadline: Instant) -> bool {
        let mut failed = false;
        let mut left = false;
        for r in self.revisions.values_mut().filter(|r| !r.is_decoded()) {
            if Instant::now() >= deadline {
                left = true;
                break;
            }
            r.decode();
            failed |= r.error.is_some();
        }
        if failed {
            self.generation += 1;
            // A release's row may now come from another revision.
            self.decode_current_revisions();
        }
        left
    }

    /// Every Helm release with its newest revision (by decoded revision number).
    pub fn releases(&self) -> Vec<ReleaseRow> {
        let mut latest: BTreeMap<Key, &ReleaseRevision> = BTreeMap::new();
        let mut broken: BTreeMap<Key, Vec<&ReleaseRevision>> = BTreeMap::new();
        for r in self.revisions.values() {
            let k = (r.namespace.clone(), r.release.clone());
            if !r.is_decoded() {
                // Older than a decoded revision (see decode_current_revisions).
                continue;
            } else if r.error.is_some() {
                broken.entry(k).or_default().push(r);
            } else if latest.get(&k).is_none_or(|cur| cur.revision < r.revision) {
                latest.insert(k, r);
            }
        }
        // A release none of whose revisions decode is still listed, from its newest Secret.
        for (k, revs) in &broken {
            if let Some(newest) = revs.iter().max_by_key(|r| r.revision) {
                latest.entry(k.clone()).or_insert(newest);
            }
        }
        latest
            .into_iter()
            .map(|(k, r)| ReleaseRow {
                decoded: r.error.is_none(),
                undecodable: broken.get(&k).map_or_else(Vec::new, |revs| {
                    let mut v: Vec<(String, String)> = revs
                        .iter()
                        .map(|r| (r.secret.clone(), r.error.clone().unwrap_or_default()))
                        .collect();
                    v.sort();
                    v
                }),
                namespace: r.namespace.clone(),
                name: r.release.clone(),
                chart: r.chart.clone(),
                chart_version: r.chart_version.clone(),
                app_version: r.app_version.clone(),
                revision: r.revision,
                status: r.status,
                updated: r.updated,
                description: r.description.clone(),
            })
            .collect()
    }

    /// The HPA that scales a workload, if any.
    pub fn hpa_for(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Option<&HpaRow> {
        self.hpas.values().find(|h| {
            h.namespace == namespace && h.target_name == name && h.target_kind == kind.name()
        })
    }

    /// Whether every watched resource (metrics aside) has had its first full list.
    pub fn synced(&self) -> bool {
        Resource::ALL
            .iter()
            .filter(|r| **r != Resource::Metrics)
            .all(|r| self.sources.get(r).is_some_and(|s| s.synced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_replaces_everything_and_keeps_the_last_of_equal_keys() {
        let row = |k: &str, v: i32| (k.to_string(), v);
        let mut map = BTreeMap::from([("old".to_string(), row("old", 0))]);
        let rows = vec![row("b", 1), row("a", 2), row("b", 3)];
        apply(
            &mut map,
            &mut None,
            vec![Change::Reset(rows)],
            |r: &(String, i32)| r.0.clone(),
            |k| k.1,
        );
        let expected = BTreeMap::from([
            ("a".to_string(), row("a", 2)),
            ("b".to_string(), row("b", 3)),
        ]);
        assert_eq!(map, expected);
    }

    fn pod(name: &str) -> PodRow {
        crate::core::cluster::PodRow::from_owned_pod(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "ns"},
                "status": {"phase": "Running"}
            }))
            .unwrap(),
        )
    }

    fn names(state: &ClusterState) -> Vec<&str> {
        state.pods.values().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn a_list_in_parts_shows_nothing_until_it_ends_then_all_of_it() {
        let mut state = ClusterState::default();
        state.apply(ClusterUpdate::Pods(vec![Change::Reset(vec![pod("old")])]));
        let (generation, updated) = (state.generation, state.sources[&Resource::Pods].updated);
        for (first, rows) in [(true, vec![pod("a"), pod("b")]), (false, vec![pod("c")])] {
            let part = ClusterUpdate::Pods(vec![Change::Part { first, rows }]);
            assert!(part.is_parts_only());
            state.apply(part);
            assert_eq!(names(&state), ["old"], "a part shows nothing");
            assert_eq!(state.generation, generation, "nor redraws anything");
            assert_eq!(state.sources[&Resource::Pods].updated, updated);
        }
        state.apply(ClusterUpdate::Pods(vec![Change::EndParts(vec![pod("d")])]));
        assert_eq!(names(&state), ["a", "b", "c", "d"]);
        assert!(state.generation > generation);
        assert!(state.staged.pods.is_none(), "nothing left staged");
    }

    #[test]
    fn a_list_that_never_ended_leaves_nothing_in_the_next() {
        let mut state = ClusterState::default();
        let part = |first, name| {
            ClusterUpdate::Pods(vec![Change::Part {
                first,
                rows: vec![pod(name)],
            }])
        };
        // Parts of a list whose watch failed, then a list short enough to come whole.
        state.apply(part(true, "stale"));
        state.apply(ClusterUpdate::Pods(vec![Change::Reset(vec![pod("x")])]));
        assert_eq!(names(&state), ["x"]);
        // Parts again, then a list in parts anew.
        state.apply(part(true, "stale"));
        state.apply(part(true, "y"));
        state.apply(ClusterUpdate::Pods(vec![Change::EndParts(vec![pod("z")])]));
        assert_eq!(names(&state), ["y", "z"]);
    }

    #[test]
    fn workloads_in_parts_replace_their_kind_only() {
        let workload = |kind, name: &str| WorkloadRow {
            kind,
            namespace: "ns".into(),
            name: name.into(),
            desired: 1,
            ready: 1,
            updated: 1,
            available: 1,
            health: crate::core::health::Health::new(
                crate::core::health::HealthStatus::Healthy,
                "",
            ),
            images: Vec::new(),
            selector: BTreeMap::new(),
            created: None,
            release: None,
        };
        let mut state = ClusterState::default();
        state.apply(ClusterUpdate::Workloads(
            WorkloadKind::StatefulSet,
            vec![Change::Reset(vec![workload(
                WorkloadKind::StatefulSet,
                "db",
            )])],
        ));
        let deploy = |name| workload(WorkloadKind::Deployment, name);
        state.apply(ClusterUpdate::Workloads(
            WorkloadKind::Deployment,
            vec![Change::Part {
                first: true,
                rows: vec![deploy("a")],
            }],
        ));
        assert_eq!(state.workloads.len(), 1, "a part shows nothing");
        state.apply(ClusterUpdate::Workloads(
            WorkloadKind::Deployment,
            vec![Change::EndParts(vec![deploy("b")])],
        ));
        let names: Vec<_> = state.workloads.keys().map(|k| k.2.as_str()).collect();
        assert_eq!(names, ["a", "b", "db"]);
    }
}
