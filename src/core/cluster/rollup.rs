//! The health roll-up shown by the Overview and `helmdeck status`: a level per area
//! (cluster, workloads, pods, releases, topics) and the problems worth an on-call
//! engineer's attention, ranked, each pointing at the object to jump to.
//!
//! Pure: it reads a [`ClusterState`] and the current time, nothing else.

use super::model::{ClusterState, PodRow, Resource, WorkloadKind, WorkloadRow};
use crate::core::health::{HealthStatus, PodClass};
use crate::core::release::ReleaseStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How long a pod may stay Pending before it is a problem.
pub const PENDING_GRACE: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);
/// The window for "restarted recently" and recent warning events.
pub const RECENT: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);
/// Up to this many nodes with the same condition are reported one by one.
const NODES_ONE_BY_ONE: usize = 3;
/// Pod names listed in a grouped problem.
const NAMES_SHOWN: usize = 2;
/// Workloads named in a NotReady node's problem.
const NODE_PODS_SHOWN: usize = 3;
/// Longest event or pull-error message quoted as evidence.
const EVIDENCE_CHARS: usize = 160;

/// An area's or a problem's level. Ordered by severity: Healthy < Unknown < Degraded < Failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    Healthy,
    Unknown,
    Degraded,
    Failing,
}

impl Level {
    /// A distinct symbol per level, so a level is never shown by colour alone.
    pub fn glyph(self) -> &'static str {
        match self {
            Level::Healthy => "✔",
            Level::Unknown => "?",
            Level::Degraded => "▲",
            Level::Failing => "✖",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::Healthy => "Healthy",
            Level::Unknown => "Unknown",
            Level::Degraded => "Degraded",
            Level::Failing => "Failing",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The areas of the roll-up, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum AreaKind {
    Cluster,
    Workloads,
    Pods,
    Releases,
    Topics,
}

impl AreaKind {
    pub const ALL: [AreaKind; 5] = [
        AreaKind::Cluster,
        AreaKind::Workloads,
        AreaKind::Pods,
        AreaKind::Releases,
        AreaKind::Topics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AreaKind::Cluster => "Cluster",
            AreaKind::Workloads => "Workloads",
            AreaKind::Pods => "Pods",
            AreaKind::Releases => "Releases",
            AreaKind::Topics => "Topics",
        }
    }

    /// The watched resources the area is built from.
    fn sources(self) -> &'static [Resource] {
        match self {
            AreaKind::Cluster => &[Resource::Nodes],
            AreaKind::Workloads => &[
                Resource::Deployments,
                Resource::StatefulSets,
                Resource::DaemonSets,
                Resource::Hpas,
            ],
            AreaKind::Pods => &[Resource::Pods, Resource::Events],
            AreaKind::Releases => &[Resource::Releases],
            AreaKind::Topics => &[],
        }
    }
}

/// One area of the roll-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Area {
    pub area: AreaKind,
    pub level: Level,
    /// One line, e.g. `3/4 nodes ready · 1 memory pressure`.
    pub summary: String,
    pub details: Vec<String>,
}

/// What a problem points at, so the UI can jump to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TargetKind {
    Node,
    Pod,
    Workload(WorkloadKind),
    Release,
    /// A Kafka topic (namespace empty).
    Topic,
    /// A Kafka consumer group (namespace empty).
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Target {
    pub kind: TargetKind,
    /// Empty for nodes.
    pub namespace: String,
    pub name: String,
}

impl Target {
    fn node(name: &str) -> Target {
        Target {
            kind: TargetKind::Node,
            namespace: String::new(),
            name: name.to_string(),
        }
    }
}

/// Something wrong, in one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub level: Level,
    pub area: AreaKind,
    pub message: String,
    /// How many objects it covers (pods of a group, nodes…); not used for ranking, as it
    /// changes between refreshes.
    pub count: usize,
    /// Where to jump; None for problems of the console itself (a failing watch).
    pub target: Option<Target>,
}

/// The whole roll-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollup {
    /// One per [`AreaKind`], in display order.
    pub areas: Vec<Area>,
    /// Worst first, then by area and object (a stable order).
    pub problems: Vec<Problem>,
}

impl Rollup {
    /// The worst area level (Topics aside when no topic source is configured).
    pub fn level(&self) -> Level {
        self.areas
            .iter()
            .filter(|a| !(a.area == AreaKind::Topics && a.summary == TOPICS_NOT_CONFIGURED))
            .map(|a| a.level)
            .max()
            .unwrap_or(Level::Unknown)
    }

    /// True when some area is Failing.
    pub fn failing(&self) -> bool {
        self.areas.iter().any(|a| a.level == Level::Failing)
    }

    pub fn area(&self, kind: AreaKind) -> Option<&Area> {
        self.areas.iter().find(|a| a.area == kind)
    }
}

/// The Topics area's summary when no topic source is configured.
pub const TOPICS_NOT_CONFIGURED: &str = "not configured";

/// Rolls the state up into areas and ranked problems.
pub fn rollup(state: &ClusterState, now: jiff::Timestamp) -> Rollup {
    rollup_with_topics(state, None, now)
}

/// [`rollup`], with the Topics area from a topic source when one is configured.
pub fn rollup_with_topics(
    state: &ClusterState,
    topics: Option<&crate::core::topics::TopicsState>,
    now: jiff::Timestamp,
) -> Rollup {
    let mut problems = Vec::new();
    let mut areas = Vec::new();
    for kind in AreaKind::ALL {
        let mut mine = Vec::new();
        let (summary, details) = match kind {
            AreaKind::Cluster => cluster(state, now, &mut mine),
            AreaKind::Workloads => workloads(state, now, &mut mine),
            AreaKind::Pods => pods(state, now, &mut mine),
            AreaKind::Releases => releases(state, now, &mut mine),
            AreaKind::Topics => match topics {
                Some(t) => {
                    let (summary, details, found) = t.area(now.as_millisecond());
                    mine.extend(found);
                    (summary, details)
                }
                None => (TOPICS_NOT_CONFIGURED.to_string(), Vec::new()),
            },
        };
        let unsynced = source_problems(state, kind, &mut mine);
        let mut level = mine.iter().map(|p| p.level).max().unwrap_or(Level::Healthy);
        if kind == AreaKind::Pods {
            // Pods in trouble are told under their cause (workload, node), yet are this
            // area's trouble too.
            level = state
                .pods
                .values()
                .filter_map(|p| pod_problem(p, now))
                .map(|(l, _)| l)
                .fold(level, Level::max);
        }
        let topics_unknown = kind == AreaKind::Topics
            && topics.is_none_or(|t| t.snapshot.is_none() || t.error.is_some());
        if unsynced || topics_unknown {
            level = level.max(Level::Unknown);
        }
        let summary = if unsynced && summary.is_empty() {
            "not listed yet".to_string()
        } else {
            summary
        };
        areas.push(Area {
            area: kind,
            level,
            summary,
            details,
        });
        problems.extend(mine);
    }
    // A stable order: worst first, then by cause (area, then the object), never by
    // counts or texts that change between refreshes, so the list does not reorder under
    // the cursor.
    problems.sort_by(problem_order);
    Rollup { areas, problems }
}

fn problem_order(a: &Problem, b: &Problem) -> std::cmp::Ordering {
    b.level
        .cmp(&a.level)
        .then(a.area.cmp(&b.area))
        .then(a.target.cmp(&b.target))
        .then(a.message.cmp(&b.message))
}

/// Adds the releases whose backups are overdue (`backup_every` in the config) as Degraded
/// problems of the Releases area, in the roll-up's order.
pub fn add_backup_problems(
    r: &mut Rollup,
    state: &ClusterState,
    ages: &crate::core::releases::backup_store::BackupAges,
    now: jiff::Timestamp,
) {
    let found: Vec<Problem> = state
        .releases()
        .iter()
        .filter_map(|rel| {
            let why = ages.stale(&rel.namespace, &rel.name, now)?;
            Some(Problem {
                level: Level::Degraded,
                area: AreaKind::Releases,
                message: format!("release {}/{}: {why}", rel.namespace, rel.name),
                count: 1,
                target: Some(Target {
                    kind: TargetKind::Release,
                    namespace: rel.namespace.clone(),
                    name: rel.name.clone(),
                }),
            })
        })
        .collect();
    if found.is_empty() {
        return;
    }
    if let Some(area) = r.areas.iter_mut().find(|a| a.area == AreaKind::Releases) {
        area.level = area.level.max(Level::Degraded);
        area.summary.push_str(&format!(
            " · {} not backed up",
            plural(found.len(), "release", "releases")
        ));
    }
    r.problems.extend(found);
    r.problems.sort_by(problem_order);
}

/// Problems for the area's failing or not-yet-listed watches; true when one has not listed.
fn source_problems(state: &ClusterState, area: AreaKind, out: &mut Vec<Problem>) -> bool {
    let mut unsynced = false;
    for r in area.sources() {
        let status = state.sources.get(r);
        let synced = status.is_some_and(|s| s.synced);
        unsynced |= !synced;
        let error = status.and_then(|s| s.error.as_deref());
        let (level, message) = match (synced, error) {
            (_, Some(e)) => (
                if synced {
                    Level::Degraded
                } else {
                    Level::Unknown
                },
                format!("{} watch failing: {e}", r.name()),
            ),
            (false, None) => (Level::Unknown, format!("{} not listed yet", r.name())),
            (true, None) => continue,
        };
        out.push(Problem {
            level,
            area,
            message,
            count: 1,
            target: None,
        });
    }
    unsynced
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    (part.saturating_mul(100) + whole / 2)
        .checked_div(whole)
        .unwrap_or(0)
}

/// Human age: `45s`, `12m`, `3h`, `2d`.
pub fn age(now: jiff::Timestamp, then: jiff::Timestamp) -> String {
    let secs = now.duration_since(then).as_secs().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn names_list(names: &[&str]) -> String {
    let mut shown: Vec<&str> = names.iter().take(NAMES_SHOWN).copied().collect();
    if names.len() > NAMES_SHOWN {
        shown.push("…");
    }
    shown.join(", ")
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

/// Nodes with a condition: one problem each, or one for the lot when there are many.
/// `pods_on` says which pods the nodes take down with them (empty for conditions that do not).
fn node_problems(
    nodes: &[&str],
    level: Level,
    what: &str,
    plural_what: &str,
    pods_on: &dyn Fn(&[&str]) -> String,
    out: &mut Vec<Problem>,
) {
    if nodes.is_empty() {
        return;
    }
    if nodes.len() <= NODES_ONE_BY_ONE {
        for n in nodes {
            out.push(Problem {
                level,
                area: AreaKind::Cluster,
                message: format!("node {n} {what}{}", pods_on(&[n])),
                count: 1,
                target: Some(Target::node(n)),
            });
        }
    } else {
        out.push(Problem {
            level,
            area: AreaKind::Cluster,
            message: format!(
                "{} nodes {plural_what}: {}{}",
                nodes.len(),
                names_list(nodes),
                pods_on(nodes)
            ),
            count: nodes.len(),
            target: Some(Target::node(nodes[0])),
        });
    }
}

/// Nodes that are not Ready (NotReady or Unknown): their pods are down because of them.
fn down_nodes(state: &ClusterState) -> BTreeSet<&str> {
    state
        .nodes
        .values()
        .filter(|n| n.ready != Some(true))
        .map(|n| n.name.as_str())
        .collect()
}

/// True for a pod that a NotReady node takes down: bound to it, not finished, and with no
/// failure of its own (a crash loop or an image that cannot be pulled is its own cause,
/// wherever it runs).
fn on_down_node(p: &PodRow, down: &BTreeSet<&str>, now: jiff::Timestamp) -> bool {
    !p.node.is_empty()
        && down.contains(p.node.as_str())
        && p.status.class != PodClass::Succeeded
        && pod_problem(p, now).is_none_or(|(level, _)| level < Level::Failing)
}

/// ` · 3 pods on it: forwarder-adobe-analytics, router, …` — the pods on `nodes`, by workload.
fn pods_on_nodes(state: &ClusterState, nodes: &[&str], now: jiff::Timestamp) -> String {
    let nodes: BTreeSet<&str> = nodes.iter().copied().collect();
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut n = 0;
    for p in state.pods.values() {
        if on_down_node(p, &nodes, now) {
            n += 1;
            names.insert(p.workload.as_deref().unwrap_or(p.name.as_str()));
        }
    }
    if n == 0 {
        return String::new();
    }
    let names: Vec<&str> = names.into_iter().collect();
    let mut shown: Vec<&str> = names.iter().take(NODE_PODS_SHOWN).copied().collect();
    if names.len() > NODE_PODS_SHOWN {
        shown.push("…");
    }
    let on = if nodes.len() == 1 { "it" } else { "them" };
    format!(
        " · {} on {on}, unavailable: {}",
        plural(n, "pod", "pods"),
        shown.join(", ")
    )
}

fn cluster(
    state: &ClusterState,
    now: jiff::Timestamp,
    out: &mut Vec<Problem>,
) -> (String, Vec<String>) {
    let nodes: Vec<_> = state.nodes.values().collect();
    let total = nodes.len();
    let mut details = Vec::new();
    let names = |f: &dyn Fn(&&super::NodeRow) -> bool| -> Vec<&str> {
        nodes
            .iter()
            .filter(|n| f(n))
            .map(|n| n.name.as_str())
            .collect()
    };
    let not_ready = names(&|n| n.ready == Some(false));
    let unknown = names(&|n| n.ready.is_none());
    let memory = names(&|n| n.memory_pressure);
    let disk = names(&|n| n.disk_pressure);
    let pid = names(&|n| n.pid_pressure);
    let cordoned = names(&|n| n.unschedulable);
    let ready = total - not_ready.len() - unknown.len();

    // One node down says since when (its Ready condition's last change), as kubectl ages.
    let since = |nodes: &[&str]| match nodes {
        [one] => state
            .nodes
            .get(*one)
            .and_then(|n| n.ready_since)
            // A transition ahead of this clock (skew) says nothing true: left out.
            .map(|t| now.as_millisecond() - t.as_millisecond())
            .filter(|ms| *ms >= 0)
            .map(|ms| format!(" for {}", crate::core::duration::human_duration(ms)))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let pods_on = |nodes: &[&str]| format!("{}{}", since(nodes), pods_on_nodes(state, nodes, now));
    let none = |_: &[&str]| String::new();
    node_problems(
        &not_ready,
        Level::Failing,
        "NotReady",
        "NotReady",
        &pods_on,
        out,
    );
    node_problems(
        &unknown,
        Level::Failing,
        "NotReady (status Unknown: the kubelet stopped reporting)",
        "NotReady (status Unknown)",
        &pods_on,
        out,
    );
    node_problems(
        &memory,
        Level::Degraded,
        "has MemoryPressure",
        "have MemoryPressure",
        &none,
        out,
    );
    node_problems(
        &disk,
        Level::Degraded,
        "has DiskPressure",
        "have DiskPressure",
        &none,
        out,
    );
    node_problems(
        &pid,
        Level::Degraded,
        "has PIDPressure",
        "have PIDPressure",
        &none,
        out,
    );
    node_problems(
        &cordoned,
        Level::Degraded,
        "is cordoned (SchedulingDisabled)",
        "are cordoned (SchedulingDisabled)",
        &none,
        out,
    );

    let mut parts = vec![format!("{ready}/{total} nodes ready")];
    for (list, label) in [
        (&memory, "memory pressure"),
        (&disk, "disk pressure"),
        (&pid, "PID pressure"),
        (&cordoned, "cordoned"),
    ] {
        if !list.is_empty() {
            parts.push(format!("{} {label}", list.len()));
        }
    }
    if state
        .sources
        .get(&Resource::Nodes)
        .is_some_and(|s| s.synced)
        && total == 0
    {
        out.push(Problem {
            level: Level::Unknown,
            area: AreaKind::Cluster,
            message: "no nodes visible".into(),
            count: 1,
            target: None,
        });
    }

    // Usage against allocatable, where metrics are known.
    let (mut cpu_used, mut cpu_alloc, mut mem_used, mut mem_alloc) = (0u64, 0u64, 0u64, 0u64);
    for n in &nodes {
        if let Some(u) = state.node_usage.get(&n.name) {
            cpu_used += u.cpu_millis;
            mem_used += u.memory_bytes;
            cpu_alloc += n.cpu_millis;
            mem_alloc += n.memory_bytes;
        }
    }
    if cpu_alloc > 0 || mem_alloc > 0 {
        details.push(format!(
            "usage: CPU {}% · memory {}% of allocatable",
            percent(cpu_used, cpu_alloc),
            percent(mem_used, mem_alloc)
        ));
    }
    if let Some(e) = state
        .sources
        .get(&Resource::Metrics)
        .and_then(|s| s.error.as_deref())
    {
        details.push(format!("metrics: {e}"));
    }
    let mut versions: BTreeSet<&str> = BTreeSet::new();
    for n in &nodes {
        if !n.version.is_empty() {
            versions.insert(n.version.as_str());
        }
    }
    if !versions.is_empty() {
        details.push(format!(
            "kubelet {}",
            versions.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    (parts.join(" · "), details)
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

fn kind_word(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::DaemonSet => "daemonset",
    }
}

fn workload_target(w: &WorkloadRow) -> Target {
    Target {
        kind: TargetKind::Workload(w.kind),
        namespace: w.namespace.clone(),
        name: w.name.clone(),
    }
}

/// A pod in trouble, as the evidence of its cause's problem.
struct PodTrouble<'a> {
    pod: &'a PodRow,
    level: Level,
    /// What is wrong, in words that do not alternate between refreshes: `crash-looping`
    /// whether the container is backing off or briefly running again.
    what: String,
}

/// The newest Warning event per object, and the newest image pull error per pod.
struct Warnings<'a> {
    newest: HashMap<(&'a str, &'a str, &'a str), &'a super::EventRow>,
    pull: HashMap<(&'a str, &'a str), &'a super::EventRow>,
    /// Pod usage from metrics, for the memory beside an OOM kill.
    usage: &'a BTreeMap<super::Key, super::Usage>,
}

impl<'a> Warnings<'a> {
    fn new(state: &'a ClusterState) -> Self {
        let mut newest: HashMap<(&str, &str, &str), &super::EventRow> = HashMap::new();
        let mut pull: HashMap<(&str, &str), &super::EventRow> = HashMap::new();
        let newer = |old: Option<&&super::EventRow>, e: &super::EventRow| {
            old.is_none_or(|o| (o.last_seen, &o.name) < (e.last_seen, &e.name))
        };
        for e in state.events.values().filter(|e| e.warning) {
            let key = (
                e.namespace.as_str(),
                e.object_kind.as_str(),
                e.object_name.as_str(),
            );
            if newer(newest.get(&key), e) {
                newest.insert(key, e);
            }
            if e.object_kind == "Pod" && e.message.starts_with("Failed to pull image") {
                let key = (e.namespace.as_str(), e.object_name.as_str());
                if newer(pull.get(&key), e) {
                    pull.insert(key, e);
                }
            }
        }
        Warnings {
            newest,
            pull,
            usage: &state.pod_usage,
        }
    }

    fn newest(&self, namespace: &str, kind: &str, name: &str) -> Option<&'a super::EventRow> {
        self.newest.get(&(namespace, kind, name)).copied()
    }
}

/// `812Mi`, `1.9Gi`.
fn mebibytes(bytes: u64) -> String {
    let mi = bytes / (1 << 20);
    if mi < 1024 {
        format!("{mi}Mi")
    } else {
        format!("{:.1}Gi", bytes as f64 / f64::from(1u32 << 30))
    }
}

fn clip(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= EVIDENCE_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(EVIDENCE_CHARS - 1).collect();
    out.push('…');
    out
}

/// `pod web-1 crash-looping for 12m: last exit OOMKilled (exit code 137), 4 restarts, last
/// 2m ago; warning BackOff: back-off 40s restarting failed container…`
fn pod_evidence_text(t: &PodTrouble<'_>, warnings: &Warnings<'_>, now: jiff::Timestamp) -> String {
    let p = t.pod;
    let mut head = format!("pod {} {}", p.name, t.what);
    let lasting = matches!(p.status.class, PodClass::CrashLooping | PodClass::Pending)
        || t.what == CRASH_LOOPING
        || pull_failing(p);
    if lasting && let Some(c) = p.created {
        head.push_str(&format!(" for {}", age(now, c)));
    }
    let mut facts = Vec::new();
    if let Some(term) = &p.evidence.termination {
        let container = if p.containers.len() > 1 {
            format!("{} ", term.container)
        } else {
            String::new()
        };
        facts.push(format!("last exit {container}{}", term.describe()));
        if term.reason == "OOMKilled" {
            // What it ran into: the limit, and what it uses now.
            match &term.memory_limit {
                Some(l) => facts.push(format!("memory limit {l}")),
                None => facts.push("no memory limit".to_string()),
            }
            if let Some(u) = warnings.usage.get(&(p.namespace.clone(), p.name.clone())) {
                facts.push(format!("in use {}", mebibytes(u.memory_bytes)));
            }
        }
    }
    if p.status.restarts > 0 && p.status.class != PodClass::Pending {
        let mut r = plural(p.status.restarts as usize, "restart", "restarts");
        if let Some(at) = p.status.last_restart {
            r.push_str(&format!(", last {} ago", age(now, at)));
        }
        facts.push(r);
    }
    let pull = warnings.pull.get(&(p.namespace.as_str(), p.name.as_str()));
    if let Some(e) = pull {
        facts.push(clip(&e.message));
    } else if let Some(w) = &p.evidence.waiting
        && p.status.class != PodClass::CrashLooping
    {
        // A crash loop's waiting message only says it backs off; the termination says why.
        facts.push(clip(w));
    }
    if pull.is_none()
        && let Some(e) = warnings.newest(&p.namespace, "Pod", &p.name)
    {
        facts.push(format!("warning {}: {}", e.reason, clip(&e.message)));
    }
    if facts.is_empty() {
        head
    } else {
        format!("{head}: {}", facts.join(", "))
    }
}

/// The troubles of a group of pods: the worst one told in full, the others counted.
fn pods_evidence(
    troubles: &mut [PodTrouble<'_>],
    warnings: &Warnings<'_>,
    now: jiff::Timestamp,
) -> String {
    troubles.sort_by(|a, b| b.level.cmp(&a.level).then(a.pod.name.cmp(&b.pod.name)));
    let Some(first) = troubles.first() else {
        return String::new();
    };
    let mut out = pod_evidence_text(first, warnings, now);
    if troubles.len() > 1 {
        let mut whats: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &troubles[1..] {
            *whats.entry(t.what.as_str()).or_default() += 1;
        }
        let whats: Vec<String> = whats.iter().map(|(w, n)| format!("{n} {w}")).collect();
        out.push_str(&format!("; and {}", whats.join(", ")));
    }
    out
}

fn workloads(
    state: &ClusterState,
    now: jiff::Timestamp,
    out: &mut Vec<Problem>,
) -> (String, Vec<String>) {
    let down = down_nodes(state);
    let warnings = Warnings::new(state);
    // Each workload's pods in trouble, and whether some are on a NotReady node.
    type WorkloadKey<'a> = (WorkloadKind, &'a str, &'a str);
    let mut troubles: BTreeMap<WorkloadKey<'_>, Vec<PodTrouble<'_>>> = BTreeMap::new();
    let mut on_down: BTreeSet<WorkloadKey<'_>> = BTreeSet::new();
    for p in state.pods.values() {
        let (Some(kind), Some(w)) = (p.workload_kind(), p.workload.as_deref()) else {
            continue;
        };
        let key = (kind, p.namespace.as_str(), w);
        if on_down_node(p, &down, now) {
            on_down.insert(key);
        } else if let Some((level, what)) = pod_problem(p, now) {
            troubles.entry(key).or_default().push(PodTrouble {
                pod: p,
                level,
                what,
            });
        }
    }
    let (mut total, mut available_ok, mut rolling, mut paused, mut zero) = (0, 0, 0, 0, 0);
    let (mut replicas_available, mut replicas_desired) = (0i64, 0i64);
    for w in state.workloads.values() {
        total += 1;
        replicas_desired += i64::from(w.desired.max(0));
        replicas_available += i64::from(w.available.clamp(0, w.desired.max(0)));
        let key = (w.kind, w.namespace.as_str(), w.name.as_str());
        match w.health.status {
            HealthStatus::Progressing => rolling += 1,
            HealthStatus::Suspended => paused += 1,
            _ => {}
        }
        if w.desired <= 0 {
            zero += 1;
            available_ok += 1;
            continue;
        }
        let unavailable = w.available < w.desired;
        let degraded = w.health.status == HealthStatus::Degraded;
        if !unavailable && !degraded {
            available_ok += 1;
        }
        let mut pods = troubles.remove(&key).unwrap_or_default();
        if !degraded && pods.is_empty() && (!unavailable || on_down.contains(&key)) {
            // Healthy, or down only because of its node: told under the node.
            continue;
        }
        let mut level = if degraded || w.available <= 0 {
            Level::Failing
        } else if unavailable {
            Level::Degraded
        } else {
            Level::Healthy
        };
        level = pods.iter().map(|t| t.level).fold(level, Level::max);
        // Argo CD's word for the workload, and why.
        let word = match w.health.status {
            HealthStatus::Degraded | HealthStatus::Progressing => {
                let mut word = format!(" {}", w.health.status.label());
                if degraded && !w.health.message.is_empty() {
                    word.push_str(&format!(" ({})", w.health.message));
                }
                word
            }
            _ => String::new(),
        };
        let mut message = format!(
            "{} {}/{}{word}: {}/{} available",
            kind_word(w.kind),
            w.namespace,
            w.name,
            w.available.max(0),
            w.desired
        );
        if !pods.is_empty() {
            message.push_str(&format!(" — {}", pods_evidence(&mut pods, &warnings, now)));
        } else if let Some(e) = warnings.newest(&w.namespace, w.kind.name(), &w.name) {
            message.push_str(&format!(" — warning {}: {}", e.reason, clip(&e.message)));
        }
        if on_down.contains(&key) {
            message.push_str(" · some pods on a NotReady node");
        }
        out.push(Problem {
            level,
            area: AreaKind::Workloads,
            message,
            count: pods.len().max(1),
            target: Some(workload_target(w)),
        });
    }
    for h in state.hpas.values() {
        if h.health.status != HealthStatus::Degraded {
            continue;
        }
        let target_kind = [
            WorkloadKind::Deployment,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
        ]
        .into_iter()
        .find(|k| k.name() == h.target_kind);
        out.push(Problem {
            level: Level::Degraded,
            area: AreaKind::Workloads,
            message: format!("hpa {}/{}: {}", h.namespace, h.name, h.health.message),
            count: 1,
            target: target_kind.map(|kind| Target {
                kind: TargetKind::Workload(kind),
                namespace: h.namespace.clone(),
                name: h.target_name.clone(),
            }),
        });
    }

    let mut parts = vec![format!("{available_ok}/{total} workloads available")];
    if rolling > 0 {
        parts.push(plural(
            rolling,
            "rollout in progress",
            "rollouts in progress",
        ));
    }
    if paused > 0 {
        parts.push(format!("{paused} paused"));
    }
    let mut details = vec![format!(
        "replicas: {replicas_available}/{replicas_desired} available"
    )];
    if zero > 0 {
        details.push(format!("{zero} scaled to zero"));
    }
    let at_max: Vec<String> = state
        .hpas
        .values()
        .filter(|h| h.max > 0 && h.current >= h.max)
        .map(|h| format!("{}/{}", h.namespace, h.name))
        .collect();
    if !at_max.is_empty() {
        details.push(format!("at max replicas: {}", at_max.join(", ")));
    }
    (parts.join(" · "), details)
}

// ---------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------

/// The word for a pod that keeps crashing, whichever phase of the loop it is in.
const CRASH_LOOPING: &str = "crash-looping";

/// True for a pod whose containers keep failing: backing off now, or (between back-offs)
/// terminated or just restarted after an unclean exit. A crash-looping container is
/// `CrashLoopBackOff`, then `Running` and not ready, then `Error` or `OOMKilled`, then
/// `CrashLoopBackOff` again: all of it is one crash loop, not three problems.
fn crash_looping(p: &PodRow, now: jiff::Timestamp) -> bool {
    let job_owned = p.owner.as_ref().is_some_and(|o| o.kind == "Job");
    let recent = |t: Option<jiff::Timestamp>| t.is_some_and(|t| now.duration_since(t) <= RECENT);
    let unclean_exit_lately = p
        .evidence
        .termination
        .as_ref()
        .is_some_and(|t| recent(t.finished) || recent(p.status.last_restart));
    match p.status.class {
        PodClass::CrashLooping => true,
        PodClass::Failed => !job_owned && p.workload.is_some() && unclean_exit_lately,
        PodClass::Running => {
            unclean_exit_lately && (p.status.is_problem() || p.status.restarts >= 2)
        }
        _ => false,
    }
}

/// True for a pod waiting on an image that cannot be pulled.
fn pull_failing(p: &PodRow) -> bool {
    let text = p.status.text.trim_start_matches("Init:");
    matches!(
        text,
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull"
    )
}

/// How a pod is a problem, if it is: (level, what is wrong).
fn pod_problem(p: &PodRow, now: jiff::Timestamp) -> Option<(Level, String)> {
    let job_owned = p.owner.as_ref().is_some_and(|o| o.kind == "Job");
    if crash_looping(p, now) {
        return Some((Level::Failing, CRASH_LOOPING.to_string()));
    }
    if pull_failing(p) {
        // ErrImagePull and ImagePullBackOff alternate: one word for both.
        return Some((Level::Failing, "cannot pull its image".to_string()));
    }
    match p.status.class {
        PodClass::CrashLooping => Some((Level::Failing, p.status.text.clone())),
        // Terminal leftovers (evicted pods, failed Job attempts) do not take a service down.
        PodClass::Failed if job_owned || p.status.text == "Evicted" => {
            Some((Level::Degraded, p.status.text.clone()))
        }
        PodClass::Failed => Some((Level::Failing, p.status.text.clone())),
        PodClass::Unknown => Some((Level::Degraded, p.status.text.clone())),
        PodClass::Pending
            if p.created
                .is_some_and(|c| now.duration_since(c) > PENDING_GRACE) =>
        {
            Some((Level::Degraded, p.status.text.clone()))
        }
        PodClass::Running if p.status.is_problem() => {
            Some((Level::Degraded, "not ready".to_string()))
        }
        PodClass::Running if restarted_recently(p, now) => {
            Some((Level::Degraded, "restarted in the last 15m".to_string()))
        }
        _ => None,
    }
}

fn restarted_recently(p: &PodRow, now: jiff::Timestamp) -> bool {
    p.status.restarts > 0
        && p.status
            .last_restart
            .is_some_and(|t| now.duration_since(t) <= RECENT)
}

fn pods(
    state: &ClusterState,
    now: jiff::Timestamp,
    out: &mut Vec<Problem>,
) -> (String, Vec<String>) {
    let mut counts: HashMap<PodClass, usize> = HashMap::new();
    let mut restarted = 0;
    // (level, what, namespace, workload) → pods
    type GroupKey<'a> = (Level, String, &'a str, Option<&'a str>);
    let mut groups: BTreeMap<GroupKey<'_>, Vec<&PodRow>> = BTreeMap::new();
    let down = down_nodes(state);
    let warnings = Warnings::new(state);
    let workloads: BTreeSet<(WorkloadKind, &str, &str)> = state
        .workloads
        .keys()
        .map(|(k, ns, n)| (*k, ns.as_str(), n.as_str()))
        .collect();
    for p in state.pods.values() {
        *counts.entry(p.status.class).or_default() += 1;
        if restarted_recently(p, now) {
            restarted += 1;
        }
        // Told under their cause: the NotReady node, or the workload that owns them.
        let owned = p
            .workload_kind()
            .zip(p.workload.as_deref())
            .is_some_and(|(k, w)| workloads.contains(&(k, p.namespace.as_str(), w)));
        if owned || on_down_node(p, &down, now) {
            continue;
        }
        if let Some((level, what)) = pod_problem(p, now) {
            groups
                .entry((level, what, p.namespace.as_str(), p.workload.as_deref()))
                .or_default()
                .push(p);
        }
    }
    for ((level, what, ns, workload), pods) in groups {
        let first = pods[0];
        let (message, target) = if pods.len() == 1 {
            let trouble = PodTrouble {
                pod: first,
                level,
                what: what.clone(),
            };
            let evidence = pod_evidence_text(&trouble, &warnings, now);
            let message = format!("pod {ns}/{}", evidence.trim_start_matches("pod "));
            let target = Target {
                kind: TargetKind::Pod,
                namespace: ns.to_string(),
                name: first.name.clone(),
            };
            (message, target)
        } else {
            let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
            let message = format!("{} pods {what} in {ns}: {}", pods.len(), names_list(&names));
            let target = match (first.workload_kind(), workload) {
                (Some(kind), Some(w)) => Target {
                    kind: TargetKind::Workload(kind),
                    namespace: ns.to_string(),
                    name: w.to_string(),
                },
                _ => Target {
                    kind: TargetKind::Pod,
                    namespace: ns.to_string(),
                    name: first.name.clone(),
                },
            };
            (message, target)
        };
        out.push(Problem {
            level,
            area: AreaKind::Pods,
            message,
            count: pods.len(),
            target: Some(target),
        });
    }

    let n = |c: PodClass| counts.get(&c).copied().unwrap_or(0);
    let mut parts = vec![format!("{} running", n(PodClass::Running))];
    for (class, label) in [
        (PodClass::Pending, "pending"),
        (PodClass::Failed, "failed"),
        (PodClass::CrashLooping, "crash-looping"),
        (PodClass::Unknown, "unknown"),
    ] {
        if n(class) > 0 {
            parts.push(format!("{} {label}", n(class)));
        }
    }
    if restarted > 0 {
        parts.push(format!("{restarted} restarted in 15m"));
    }
    let mut details = vec![format!("{} pods", state.pods.len())];
    for (class, label) in [
        (PodClass::Succeeded, "completed"),
        (PodClass::Terminating, "terminating"),
    ] {
        if n(class) > 0 {
            details.push(format!("{} {label}", n(class)));
        }
    }
    let mut reasons: BTreeMap<&str, i64> = BTreeMap::new();
    for e in state.events.values().filter(|e| e.warning) {
        if e.last_seen.is_some_and(|t| now.duration_since(t) <= RECENT) {
            *reasons.entry(e.reason.as_str()).or_default() += i64::from(e.count.max(1));
        }
    }
    if !reasons.is_empty() {
        let mut top: Vec<(&str, i64)> = reasons.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let total: i64 = top.iter().map(|(_, c)| c).sum();
        let shown: Vec<String> = top
            .iter()
            .take(3)
            .map(|(r, c)| format!("{r} ×{c}"))
            .collect();
        details.push(format!(
            "{total} warning events in the last 15m: {}",
            shown.join(", ")
        ));
    }
    (parts.join(" · "), details)
}

// ---------------------------------------------------------------------------
// Releases
// ---------------------------------------------------------------------------

fn releases(
    state: &ClusterState,
    now: jiff::Timestamp,
    out: &mut Vec<Problem>,
) -> (String, Vec<String>) {
    let releases = state.releases();
    let mut by_status: BTreeMap<&'static str, usize> = BTreeMap::new();
    for r in &releases {
        if !r.decoded {
            // Counted, and told below with the revisions that cannot be decoded.
            *by_status.entry("undecodable").or_default() += 1;
            continue;
        }
        *by_status.entry(r.status.as_str()).or_default() += 1;
        let target = Some(Target {
            kind: TargetKind::Release,
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        });
        let who = format!("release {} in {}", r.name, r.namespace);
        let (level, message) = match r.status {
            ReleaseStatus::Deployed | ReleaseStatus::Uninstalled | ReleaseStatus::Superseded => {
                continue;
            }
            ReleaseStatus::Failed => {
                let mut m = format!("{who} failed (revision {})", r.revision);
                if !r.description.is_empty() {
                    m.push_str(&format!(": {}", r.description));
                }
                (Level::Failing, m)
            }
            s if s.is_pending() => {
                let mut m = format!("{who} is {s}");
                if let Some(t) = r.updated {
                    m.push_str(&format!(" (for {})", age(now, t)));
                }
                // What can be done: Helm refuses upgrades until it is resolved.
                m.push_str(&format!(
                    "; if no change is running, roll it back (r in its history, or helmdeck rollback {} -n {})",
                    r.name, r.namespace
                ));
                (Level::Degraded, m)
            }
            s => (Level::Degraded, format!("{who} has status {s}")),
        };
        out.push(Problem {
            level,
            area: AreaKind::Releases,
            message,
            count: 1,
            target,
        });
    }

    // Revisions that cannot be decoded, per release.
    let mut broken: BTreeMap<(&str, &str), Vec<&super::ReleaseRevision>> = BTreeMap::new();
    for r in state.revisions.values().filter(|r| r.error.is_some()) {
        broken
            .entry((r.namespace.as_str(), r.release.as_str()))
            .or_default()
            .push(r);
    }
    for ((ns, name), revs) in broken {
        let first = revs[0];
        out.push(Problem {
            level: Level::Degraded,
            area: AreaKind::Releases,
            message: format!(
                "release {name} in {ns}: {} cannot be decoded ({}: {})",
                plural(revs.len(), "revision", "revisions"),
                first.secret,
                first.error.as_deref().unwrap_or_default()
            ),
            count: revs.len(),
            target: Some(Target {
                kind: TargetKind::Release,
                namespace: ns.to_string(),
                name: name.to_string(),
            }),
        });
    }

    let mut parts = vec![plural(releases.len(), "release", "releases")];
    for (status, n) in &by_status {
        parts.push(format!("{n} {status}"));
    }
    let summary = if releases.is_empty() {
        "no releases".to_string()
    } else {
        format!("{}: {}", parts[0], parts[1..].join(" · "))
    };
    (summary, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::model::*;
    use crate::core::health::{Health, PodStatus};

    fn now() -> jiff::Timestamp {
        "2025-05-14T12:00:00Z".parse().expect("timestamp")
    }

    fn mins_ago(m: i64) -> jiff::Timestamp {
        now() - jiff::SignedDuration::from_mins(m)
    }

    fn synced_state() -> ClusterState {
        let mut s = ClusterState::default();
        for r in Resource::ALL {
            s.sources.insert(
                r,
                SourceStatus {
                    synced: r != Resource::Metrics,
                    ..Default::default()
                },
            );
        }
        s
    }

    fn node(name: &str) -> NodeRow {
        NodeRow {
            name: name.into(),
            ready: Some(true),
            unschedulable: false,
            memory_pressure: false,
            disk_pressure: false,
            pid_pressure: false,
            roles: vec!["worker".into()],
            version: "v1.33.1".into(),
            internal_ip: "10.0.0.1".into(),
            created: Some(mins_ago(10_000)),
            ready_since: None,
            cpu_millis: 8000,
            memory_bytes: 32 << 30,
        }
    }

    fn pod(ns: &str, name: &str, workload: &str, text: &str, class: PodClass) -> PodRow {
        PodRow {
            namespace: ns.into(),
            name: name.into(),
            status: PodStatus {
                text: text.into(),
                class,
                ready: if class == PodClass::Running {
                    (1, 1)
                } else {
                    (0, 1)
                },
                restarts: 0,
                last_restart: None,
            },
            node: "worker-0".into(),
            ip: "10.1.0.1".into(),
            created: Some(mins_ago(60)),
            owner: Some(OwnerRef {
                kind: "ReplicaSet".into(),
                name: format!("{workload}-5f6c7d8e9"),
            }),
            workload: Some(workload.into()),
            labels: Default::default(),
            containers: vec!["main".into()],
            deleting: false,
            evidence: Default::default(),
        }
    }

    fn deployment(ns: &str, name: &str, desired: i32, available: i32) -> WorkloadRow {
        WorkloadRow {
            kind: WorkloadKind::Deployment,
            namespace: ns.into(),
            name: name.into(),
            desired,
            ready: available,
            updated: desired,
            available,
            health: Health::new(HealthStatus::Healthy, ""),
            images: vec!["img:1".into()],
            selector: Default::default(),
            created: Some(mins_ago(1000)),
            release: None,
        }
    }

    fn revision(ns: &str, release: &str, revision: i64, status: ReleaseStatus) -> ReleaseRevision {
        ReleaseRevision {
            secret: format!("sh.helm.release.v1.{release}.v{revision}"),
            namespace: ns.into(),
            release: release.into(),
            revision,
            chart: release.into(),
            chart_version: "1.0.0".into(),
            app_version: "1.0.0".into(),
            status,
            updated: Some(mins_ago(30)),
            description: String::new(),
            error: None,
            payload: None,
        }
    }

    fn add_pod(s: &mut ClusterState, p: PodRow) {
        s.pods.insert((p.namespace.clone(), p.name.clone()), p);
    }

    fn add_workload(s: &mut ClusterState, w: WorkloadRow) {
        s.workloads
            .insert((w.kind, w.namespace.clone(), w.name.clone()), w);
    }

    fn add_revision(s: &mut ClusterState, r: ReleaseRevision) {
        s.revisions
            .insert((r.namespace.clone(), r.secret.clone()), r);
    }

    fn healthy_state() -> ClusterState {
        let mut s = synced_state();
        for n in ["worker-0", "worker-1"] {
            s.nodes.insert(n.into(), node(n));
        }
        add_workload(&mut s, deployment("mr-ee", "router", 2, 2));
        add_pod(
            &mut s,
            pod(
                "mr-ee",
                "router-5f6c7d8e9-aaaaa",
                "router",
                "Running",
                PodClass::Running,
            ),
        );
        add_pod(
            &mut s,
            pod(
                "mr-ee",
                "router-5f6c7d8e9-bbbbb",
                "router",
                "Running",
                PodClass::Running,
            ),
        );
        add_revision(
            &mut s,
            revision("mr-ee", "ee", 1, ReleaseStatus::Superseded),
        );
        add_revision(&mut s, revision("mr-ee", "ee", 2, ReleaseStatus::Deployed));
        s
    }

    fn messages(r: &Rollup) -> Vec<&str> {
        r.problems.iter().map(|p| p.message.as_str()).collect()
    }

    #[test]
    fn healthy_cluster() {
        let r = rollup(&healthy_state(), now());
        assert!(r.problems.is_empty(), "{:?}", messages(&r));
        let levels: Vec<_> = r.areas.iter().map(|a| (a.area, a.level)).collect();
        assert_eq!(
            levels,
            vec![
                (AreaKind::Cluster, Level::Healthy),
                (AreaKind::Workloads, Level::Healthy),
                (AreaKind::Pods, Level::Healthy),
                (AreaKind::Releases, Level::Healthy),
                (AreaKind::Topics, Level::Unknown),
            ]
        );
        assert_eq!(
            r.area(AreaKind::Cluster).unwrap().summary,
            "2/2 nodes ready"
        );
        assert_eq!(
            r.area(AreaKind::Workloads).unwrap().summary,
            "1/1 workloads available"
        );
        assert_eq!(r.area(AreaKind::Pods).unwrap().summary, "2 running");
        assert_eq!(
            r.area(AreaKind::Releases).unwrap().summary,
            "1 release: 1 deployed"
        );
        assert_eq!(r.area(AreaKind::Topics).unwrap().summary, "not configured");
        assert!(!r.failing());
        assert_eq!(r.level(), Level::Healthy);
    }

    #[test]
    fn crash_loops_are_grouped_per_workload() {
        let mut s = healthy_state();
        add_workload(&mut s, deployment("mr-ee", "forwarder-pinterest", 3, 0));
        for suffix in ["x1", "x2", "x3"] {
            add_pod(
                &mut s,
                pod(
                    "mr-ee",
                    &format!("forwarder-pinterest-5f6c7d8e9-{suffix}"),
                    "forwarder-pinterest",
                    "CrashLoopBackOff",
                    PodClass::CrashLooping,
                ),
            );
        }
        let r = rollup(&s, now());
        // One problem, under the workload, with its pods as evidence.
        assert_eq!(
            messages(&r),
            vec![
                "deployment mr-ee/forwarder-pinterest: 0/3 available — pod forwarder-pinterest-5f6c7d8e9-x1 crash-looping for 1h; and 2 crash-looping"
            ]
        );
        let first = &r.problems[0];
        assert_eq!(first.level, Level::Failing);
        assert_eq!(first.area, AreaKind::Workloads);
        assert_eq!(
            first.target,
            Some(Target {
                kind: TargetKind::Workload(WorkloadKind::Deployment),
                namespace: "mr-ee".into(),
                name: "forwarder-pinterest".into()
            })
        );
        assert_eq!(r.area(AreaKind::Pods).unwrap().level, Level::Failing);
        assert_eq!(
            r.area(AreaKind::Pods).unwrap().summary,
            "2 running · 3 crash-looping"
        );
        assert_eq!(
            r.area(AreaKind::Workloads).unwrap().summary,
            "1/2 workloads available"
        );
        assert!(r.failing());
    }

    #[test]
    fn single_pod_problem_names_the_pod_and_its_restarts() {
        let mut s = healthy_state();
        let mut p = pod("iomete", "mysql-0", "mysql", "OOMKilled", PodClass::Failed);
        p.owner = Some(OwnerRef {
            kind: "StatefulSet".into(),
            name: "mysql".into(),
        });
        p.status.restarts = 4;
        p.status.last_restart = Some(mins_ago(2));
        add_pod(&mut s, p);
        let r = rollup(&s, now());
        assert_eq!(
            messages(&r),
            vec!["pod iomete/mysql-0 OOMKilled: 4 restarts, last 2m ago"]
        );
        assert_eq!(
            r.problems[0].target,
            Some(Target {
                kind: TargetKind::Pod,
                namespace: "iomete".into(),
                name: "mysql-0".into()
            })
        );
        assert_eq!(r.problems[0].level, Level::Failing);
    }

    #[test]
    fn pending_restarts_evicted_and_not_ready_pods() {
        let mut s = healthy_state();
        // Pending for a minute: normal. Pending for an hour: a problem.
        let mut fresh = pod(
            "shop",
            "web-1",
            "web",
            "ContainerCreating",
            PodClass::Pending,
        );
        fresh.created = Some(mins_ago(1));
        add_pod(&mut s, fresh);
        add_pod(
            &mut s,
            pod("shop", "web-2", "web", "Pending", PodClass::Pending),
        );
        // Restarted 5 minutes ago, running again.
        let mut restarted = pod("shop", "api-1", "api", "Running", PodClass::Running);
        restarted.status.restarts = 2;
        restarted.status.last_restart = Some(mins_ago(5));
        add_pod(&mut s, restarted);
        // Restarted long ago: fine.
        let mut old = pod("shop", "api-2", "api", "Running", PodClass::Running);
        old.status.restarts = 9;
        old.status.last_restart = Some(mins_ago(120));
        add_pod(&mut s, old);
        add_pod(
            &mut s,
            pod("shop", "web-3", "web", "Evicted", PodClass::Failed),
        );
        let mut not_ready = pod("shop", "db-1", "db", "Running", PodClass::Running);
        not_ready.status.ready = (0, 1);
        add_pod(&mut s, not_ready);

        let r = rollup(&s, now());
        let m = messages(&r);
        assert!(m.contains(&"pod shop/web-2 Pending for 1h"), "{m:?}");
        assert!(!m.iter().any(|x| x.contains("web-1")), "{m:?}");
        assert!(
            m.contains(&"pod shop/api-1 restarted in the last 15m: 2 restarts, last 5m ago"),
            "{m:?}"
        );
        assert!(!m.iter().any(|x| x.contains("api-2")), "{m:?}");
        assert!(m.contains(&"pod shop/web-3 Evicted"), "{m:?}");
        assert!(m.contains(&"pod shop/db-1 not ready"), "{m:?}");
        assert!(r.problems.iter().all(|p| p.level == Level::Degraded));
        let pods = r.area(AreaKind::Pods).unwrap();
        assert_eq!(pods.level, Level::Degraded);
        assert_eq!(
            pods.summary,
            "5 running · 2 pending · 1 failed · 1 restarted in 15m"
        );
        assert!(!r.failing());
    }

    #[test]
    fn nodes_not_ready_pressure_and_cordoned() {
        let mut s = healthy_state();
        let mut w3 = node("worker-3");
        w3.ready = None;
        s.nodes.insert("worker-3".into(), w3);
        let mut w2 = node("worker-2");
        w2.memory_pressure = true;
        w2.unschedulable = true;
        s.nodes.insert("worker-2".into(), w2);
        let mut w4 = node("worker-4");
        w4.ready = Some(false);
        s.nodes.insert("worker-4".into(), w4);
        s.node_usage.insert(
            "worker-0".into(),
            Usage {
                cpu_millis: 2000,
                memory_bytes: 8 << 30,
            },
        );
        let r = rollup(&s, now());
        let m = messages(&r);
        assert!(m.contains(&"node worker-4 NotReady"), "{m:?}");
        assert!(
            m.contains(&"node worker-3 NotReady (status Unknown: the kubelet stopped reporting)"),
            "{m:?}"
        );
        assert!(m.contains(&"node worker-2 has MemoryPressure"), "{m:?}");
        assert!(
            m.contains(&"node worker-2 is cordoned (SchedulingDisabled)"),
            "{m:?}"
        );
        let nr = r
            .problems
            .iter()
            .find(|p| p.message == "node worker-4 NotReady")
            .unwrap();
        assert_eq!(nr.level, Level::Failing);
        assert_eq!(nr.target, Some(Target::node("worker-4")));
        let cluster = r.area(AreaKind::Cluster).unwrap();
        assert_eq!(cluster.level, Level::Failing);
        assert_eq!(
            cluster.summary,
            "3/5 nodes ready · 1 memory pressure · 1 cordoned"
        );
        assert!(
            cluster
                .details
                .contains(&"usage: CPU 25% · memory 25% of allocatable".to_string()),
            "{:?}",
            cluster.details
        );
        // Failing problems come first.
        assert_eq!(r.problems[0].level, Level::Failing);
        assert_eq!(r.problems.last().unwrap().level, Level::Degraded);
    }

    #[test]
    fn many_not_ready_nodes_are_one_problem() {
        let mut s = healthy_state();
        for i in 0..5 {
            let mut n = node(&format!("pool-{i}"));
            n.ready = Some(false);
            s.nodes.insert(n.name.clone(), n);
        }
        let r = rollup(&s, now());
        assert_eq!(messages(&r), vec!["5 nodes NotReady: pool-0, pool-1, …"]);
        assert_eq!(r.problems[0].count, 5);
    }

    #[test]
    fn workloads_partly_available_degraded_and_hpa() {
        let mut s = healthy_state();
        add_workload(&mut s, deployment("mr-ee", "router-b", 2, 1));
        let mut stuck = deployment("shop", "checkout", 3, 3);
        stuck.health = Health::new(
            HealthStatus::Degraded,
            "Deployment \"checkout\" exceeded its progress deadline",
        );
        add_workload(&mut s, stuck);
        let mut rolling = deployment("shop", "web", 3, 3);
        rolling.health = Health::new(HealthStatus::Progressing, "Waiting for rollout to finish");
        add_workload(&mut s, rolling);
        add_workload(&mut s, deployment("shop", "idle", 0, 0));
        s.hpas.insert(
            ("shop".into(), "web".into()),
            HpaRow {
                namespace: "shop".into(),
                name: "web".into(),
                target_kind: "Deployment".into(),
                target_name: "web".into(),
                min: 2,
                max: 3,
                current: 3,
                desired: 3,
                cpu_target: Some(50),
                cpu_current: None,
                health: Health::new(HealthStatus::Degraded, "unable to get metrics"),
            },
        );
        let r = rollup(&s, now());
        let m = messages(&r);
        assert_eq!(
            m,
            vec![
                "deployment shop/checkout Degraded (Deployment \"checkout\" exceeded its progress deadline): 3/3 available",
                "deployment mr-ee/router-b: 1/2 available",
                "hpa shop/web: unable to get metrics",
            ]
        );
        let hpa = &r.problems[2];
        assert_eq!(
            hpa.target,
            Some(Target {
                kind: TargetKind::Workload(WorkloadKind::Deployment),
                namespace: "shop".into(),
                name: "web".into()
            })
        );
        let w = r.area(AreaKind::Workloads).unwrap();
        assert_eq!(w.level, Level::Failing);
        assert_eq!(w.summary, "3/5 workloads available · 1 rollout in progress");
        assert!(
            w.details.contains(&"1 scaled to zero".to_string()),
            "{:?}",
            w.details
        );
        assert!(
            w.details.contains(&"at max replicas: shop/web".to_string()),
            "{:?}",
            w.details
        );
    }

    #[test]
    fn releases_failed_pending_and_undecodable() {
        let mut s = healthy_state();
        add_revision(
            &mut s,
            revision("iomete", "iomete-dataplane", 3, ReleaseStatus::Deployed),
        );
        add_revision(
            &mut s,
            revision(
                "iomete",
                "iomete-dataplane",
                4,
                ReleaseStatus::PendingUpgrade,
            ),
        );
        let mut failed = revision("shop", "shop", 7, ReleaseStatus::Failed);
        failed.description = "Upgrade \"shop\" failed: timed out waiting for the condition".into();
        add_revision(&mut s, failed);
        let mut broken = revision("shop", "shop", 8, ReleaseStatus::Unknown);
        broken.error = Some("release payload is not valid base64".into());
        add_revision(&mut s, broken);

        let r = rollup(&s, now());
        assert_eq!(
            messages(&r),
            vec![
                "release shop in shop failed (revision 7): Upgrade \"shop\" failed: timed out waiting for the condition",
                "release iomete-dataplane in iomete is pending-upgrade (for 30m); if no change is running, roll it back (r in its history, or helmdeck rollback iomete-dataplane -n iomete)",
                "release shop in shop: 1 revision cannot be decoded (sh.helm.release.v1.shop.v8: release payload is not valid base64)",
            ]
        );
        assert_eq!(r.problems[0].level, Level::Failing);
        assert_eq!(r.problems[1].level, Level::Degraded);
        assert_eq!(
            r.problems[1].target,
            Some(Target {
                kind: TargetKind::Release,
                namespace: "iomete".into(),
                name: "iomete-dataplane".into()
            })
        );
        let area = r.area(AreaKind::Releases).unwrap();
        assert_eq!(area.level, Level::Failing);
        assert_eq!(
            area.summary,
            "3 releases: 1 deployed · 1 failed · 1 pending-upgrade"
        );
    }

    #[test]
    fn a_release_none_of_whose_revisions_decode_is_listed_and_counted() {
        let mut s = healthy_state();
        let mut broken = revision("kafka", "strimzi", 2, ReleaseStatus::Unknown);
        broken.error = Some("release payload is not valid base64".into());
        add_revision(&mut s, broken);
        let rows = s.releases();
        let row = rows.iter().find(|r| r.name == "strimzi").expect("listed");
        assert!(!row.decoded);
        assert_eq!(row.revision, 2);
        assert_eq!(
            row.undecodable,
            vec![(
                "sh.helm.release.v1.strimzi.v2".to_string(),
                "release payload is not valid base64".to_string()
            )]
        );
        assert!(
            rows.iter()
                .filter(|r| r.name != "strimzi")
                .all(|r| r.decoded)
        );
        let r = rollup(&s, now());
        assert_eq!(
            messages(&r),
            vec![
                "release strimzi in kafka: 1 revision cannot be decoded (sh.helm.release.v1.strimzi.v2: release payload is not valid base64)"
            ]
        );
        let area = r.area(AreaKind::Releases).unwrap();
        assert!(
            area.summary.ends_with(" · 1 undecodable"),
            "{}",
            area.summary
        );
    }

    #[test]
    fn failing_and_unlisted_sources_are_problems() {
        let mut s = healthy_state();
        s.sources.get_mut(&Resource::Pods).unwrap().error =
            Some("cannot reach the API server: Connection refused".into());
        s.sources.remove(&Resource::Releases);
        s.sources.insert(
            Resource::Nodes,
            SourceStatus {
                synced: false,
                error: Some("forbidden: nodes is forbidden".into()),
                updated: None,
            },
        );
        s.nodes.clear();
        s.sources.insert(
            Resource::Metrics,
            SourceStatus {
                synced: false,
                error: Some("metrics.k8s.io not available".into()),
                updated: None,
            },
        );
        let r = rollup(&s, now());
        let m = messages(&r);
        assert!(
            m.contains(&"pods watch failing: cannot reach the API server: Connection refused"),
            "{m:?}"
        );
        assert!(m.contains(&"helm releases not listed yet"), "{m:?}");
        assert!(
            m.contains(&"nodes watch failing: forbidden: nodes is forbidden"),
            "{m:?}"
        );
        let pods_problem = r
            .problems
            .iter()
            .find(|p| p.message.starts_with("pods watch"))
            .unwrap();
        assert_eq!(pods_problem.level, Level::Degraded, "stale data");
        assert_eq!(pods_problem.target, None);
        assert_eq!(r.area(AreaKind::Pods).unwrap().level, Level::Degraded);
        assert_eq!(r.area(AreaKind::Releases).unwrap().level, Level::Unknown);
        assert_eq!(r.area(AreaKind::Cluster).unwrap().level, Level::Unknown);
        assert!(
            r.area(AreaKind::Cluster)
                .unwrap()
                .details
                .contains(&"metrics: metrics.k8s.io not available".to_string())
        );
        // Metrics being absent is not a problem of its own.
        assert!(!m.iter().any(|x| x.contains("metrics")), "{m:?}");
    }

    #[test]
    fn recent_warning_events_in_pod_details() {
        let mut s = healthy_state();
        for (name, reason, count, ago) in [
            ("a", "BackOff", 7, 1),
            ("b", "BackOff", 3, 2),
            ("c", "Failed", 2, 3),
            ("d", "FailedScheduling", 1, 90),
        ] {
            s.events.insert(
                ("shop".into(), name.into()),
                EventRow {
                    namespace: "shop".into(),
                    name: name.into(),
                    warning: true,
                    reason: reason.into(),
                    message: String::new(),
                    object_kind: "Pod".into(),
                    object_name: "web-1".into(),
                    count,
                    last_seen: Some(mins_ago(ago)),
                    source: "kubelet".into(),
                },
            );
        }
        let r = rollup(&s, now());
        let pods = r.area(AreaKind::Pods).unwrap();
        assert!(
            pods.details
                .contains(&"12 warning events in the last 15m: BackOff ×10, Failed ×2".to_string()),
            "{:?}",
            pods.details
        );
    }

    #[test]
    fn ranking_is_by_level_then_cause_never_by_count() {
        let mut s = healthy_state();
        add_pod(
            &mut s,
            pod("a", "one-1", "one", "ImagePullBackOff", PodClass::Failed),
        );
        for i in 0..4 {
            add_pod(
                &mut s,
                pod(
                    "b",
                    &format!("two-{i}"),
                    "two",
                    "CrashLoopBackOff",
                    PodClass::CrashLooping,
                ),
            );
        }
        add_pod(
            &mut s,
            pod("c", "three-1", "three", "Unknown", PodClass::Unknown),
        );
        let r = rollup(&s, now());
        let order: Vec<(Level, usize)> = r.problems.iter().map(|p| (p.level, p.count)).collect();
        // Pod a/one-1 before the pods of b/two: by object, not by how many.
        assert_eq!(
            order,
            vec![
                (Level::Failing, 1),
                (Level::Failing, 4),
                (Level::Degraded, 1)
            ]
        );
        // One more crash-looping pod changes a count, not the order.
        add_pod(
            &mut s,
            pod(
                "b",
                "two-9",
                "two",
                "CrashLoopBackOff",
                PodClass::CrashLooping,
            ),
        );
        let again = rollup(&s, now());
        let targets = |r: &Rollup| -> Vec<Option<Target>> {
            r.problems.iter().map(|p| p.target.clone()).collect()
        };
        assert_eq!(targets(&r), targets(&again));
    }

    // ---- Grouped by cause, with evidence (issue #12), on pod fixtures ----

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    /// A pod row from `tests/fixtures/pods/<name>.json`, edited.
    fn fixture_pod(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PodRow {
        let path = format!(
            "{}/tests/fixtures/pods/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        edit(&mut v);
        PodRow::from_pod(&serde_json::from_value(v).expect("pod"))
    }

    fn warning(
        ns: &str,
        object: &str,
        reason: &str,
        message: &str,
        at: jiff::Timestamp,
    ) -> EventRow {
        EventRow {
            namespace: ns.into(),
            name: format!("{object}.{reason}.{}", at.as_second()),
            warning: true,
            reason: reason.into(),
            message: message.into(),
            object_kind: "Pod".into(),
            object_name: object.into(),
            count: 3,
            last_seen: Some(at),
            source: "kubelet".into(),
        }
    }

    fn add_event(s: &mut ClusterState, e: EventRow) {
        s.events.insert((e.namespace.clone(), e.name.clone()), e);
    }

    /// shop/web with one replica wanted, none available, rolling out.
    fn web_rolling_out(s: &mut ClusterState) {
        let mut web = deployment("shop", "web", 1, 0);
        web.health = Health::new(
            HealthStatus::Progressing,
            "Waiting for rollout to finish: 0 of 1 updated replicas are available...",
        );
        add_workload(s, web);
    }

    fn web_target() -> Option<Target> {
        Some(Target {
            kind: TargetKind::Workload(WorkloadKind::Deployment),
            namespace: "shop".into(),
            name: "web".into(),
        })
    }

    #[test]
    fn a_crash_loop_is_evidence_under_its_workload() {
        let at = t("2025-05-14T09:45:00Z");
        let mut s = healthy_state();
        web_rolling_out(&mut s);
        add_pod(&mut s, fixture_pod("crashloopbackoff", |_| {}));
        add_event(
            &mut s,
            warning(
                "shop",
                "web-7d4b9c8f6-r5t7y",
                "BackOff",
                "Back-off restarting failed container web in pod web-7d4b9c8f6-r5t7y_shop",
                t("2025-05-14T09:44:00Z"),
            ),
        );
        let r = rollup(&s, at);
        assert_eq!(
            messages(&r),
            vec![
                "deployment shop/web Progressing: 0/1 available — pod web-7d4b9c8f6-r5t7y crash-looping for 1h: last exit Error (exit code 1), 7 restarts, last 3m ago, warning BackOff: Back-off restarting failed container web in pod web-7d4b9c8f6-r5t7y_shop"
            ]
        );
        assert_eq!(r.problems[0].level, Level::Failing);
        assert_eq!(r.problems[0].target, web_target());
        // The pod is not a second line, yet the Pods area is failing.
        assert_eq!(r.area(AreaKind::Pods).unwrap().level, Level::Failing);
    }

    #[test]
    fn an_oom_kill_shows_the_termination() {
        let at = t("2025-05-14T08:25:00Z");
        let mut s = healthy_state();
        web_rolling_out(&mut s);
        add_pod(&mut s, fixture_pod("oomkilled", |_| {}));
        s.pod_usage.insert(
            ("shop".into(), "web-7d4b9c8f6-o0m1k".into()),
            Usage {
                cpu_millis: 100,
                memory_bytes: 250 << 20,
            },
        );
        let r = rollup(&s, at);
        let m = messages(&r);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with(
                "deployment shop/web Progressing: 0/1 available — pod web-7d4b9c8f6-o0m1k crash-looping for 24m: last exit OOMKilled (exit code 137), memory limit 512Mi, in use 250Mi, 2 restarts, last 9m ago"
            ),
            "{m:?}"
        );
        assert_eq!(mebibytes(3 << 29), "1.5Gi");
    }

    #[test]
    fn an_image_that_cannot_be_pulled_names_the_pull_error() {
        let at = t("2025-05-14T09:30:00Z");
        let mut s = healthy_state();
        web_rolling_out(&mut s);
        add_pod(&mut s, fixture_pod("imagepullbackoff", |_| {}));
        let pull = "Failed to pull image \"ghcr.io/acme/web:1.4.3-rc1\": not found";
        add_event(
            &mut s,
            warning(
                "shop",
                "web-5f6c7d8e9-h3j5k",
                "Failed",
                pull,
                t("2025-05-14T09:21:00Z"),
            ),
        );
        add_event(
            &mut s,
            warning(
                "shop",
                "web-5f6c7d8e9-h3j5k",
                "Failed",
                "Error: ImagePullBackOff",
                t("2025-05-14T09:29:00Z"),
            ),
        );
        let r = rollup(&s, at);
        assert_eq!(
            messages(&r),
            vec![format!(
                "deployment shop/web Progressing: 0/1 available — pod web-5f6c7d8e9-h3j5k cannot pull its image for 9m: {pull}"
            )]
        );
        assert_eq!(r.problems[0].level, Level::Failing);
        // ErrImagePull is the same problem, in the same words.
        let mut s2 = s.clone();
        let key = ("shop".to_string(), "web-5f6c7d8e9-h3j5k".to_string());
        s2.pods.get_mut(&key).unwrap().status.text = "ErrImagePull".into();
        assert_eq!(messages(&rollup(&s2, at)), messages(&r));
    }

    #[test]
    fn pods_on_a_not_ready_node_are_told_under_the_node() {
        let mut s = healthy_state();
        let mut w3 = node("worker-3");
        w3.ready = None;
        // Down for 150 minutes: said as kubectl says ages (`150m`).
        w3.ready_since = Some(mins_ago(150));
        s.nodes.insert("worker-3".into(), w3);
        for w in ["forwarder-adobe-analytics", "forwarder-google-analytics"] {
            add_workload(&mut s, deployment("mr-ee", w, 1, 0));
            let mut p = pod(
                "mr-ee",
                &format!("{w}-5f6c7d8e9-aaaaa"),
                w,
                "Running",
                PodClass::Running,
            );
            p.status.ready = (0, 1);
            p.node = "worker-3".into();
            add_pod(&mut s, p);
        }
        let r = rollup(&s, now());
        assert_eq!(
            messages(&r),
            vec![
                "node worker-3 NotReady (status Unknown: the kubelet stopped reporting) for 150m · 2 pods on it, unavailable: forwarder-adobe-analytics, forwarder-google-analytics"
            ]
        );
        assert_eq!(r.problems[0].target, Some(Target::node("worker-3")));
    }

    /// The phases of one crash loop: backing off, running again (not ready), just crashed.
    fn crash_loop_phases() -> Vec<PodRow> {
        let running = |v: &mut serde_json::Value| {
            v["status"]["containerStatuses"][0]["state"] =
                serde_json::json!({"running": {"startedAt": "2025-05-14T09:41:13Z"}});
            v["status"]["containerStatuses"][0]["started"] = true.into();
        };
        let crashed = |v: &mut serde_json::Value| {
            v["status"]["containerStatuses"][0]["state"] = serde_json::json!({"terminated": {
                "exitCode": 1, "reason": "Error",
                "startedAt": "2025-05-14T09:41:13Z", "finishedAt": "2025-05-14T09:43:00Z"}});
        };
        vec![
            fixture_pod("crashloopbackoff", |_| {}),
            fixture_pod("crashloopbackoff", running),
            fixture_pod("crashloopbackoff", crashed),
        ]
    }

    #[test]
    fn a_crash_loop_does_not_flap_between_refreshes() {
        let at = t("2025-05-14T09:45:00Z");
        let phases = crash_loop_phases();
        let texts: Vec<&str> = phases.iter().map(|p| p.status.text.as_str()).collect();
        assert_eq!(texts, vec!["CrashLoopBackOff", "Running", "Error"]);
        let mut seen = Vec::new();
        for p in phases {
            assert_eq!(
                pod_problem(&p, at),
                Some((Level::Failing, CRASH_LOOPING.to_string())),
                "{}",
                p.status.text
            );
            let mut s = healthy_state();
            web_rolling_out(&mut s);
            add_workload(&mut s, deployment("shop", "api", 2, 1));
            add_pod(&mut s, p);
            let r = rollup(&s, at);
            seen.push(
                r.problems
                    .iter()
                    .map(|p| (p.level, p.area, p.target.clone()))
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[1], seen[2]);
        assert_eq!(seen[0][0].2, web_target());
    }

    #[test]
    fn a_workload_is_degraded_once_its_deadline_passed_and_progressing_before() {
        let at = t("2025-05-14T09:45:00Z");
        let mut s = healthy_state();
        let mut web = deployment("shop", "web", 1, 0);
        web.health = Health::new(
            HealthStatus::Degraded,
            "Deployment \"web\" exceeded its progress deadline",
        );
        add_workload(&mut s, web);
        add_pod(&mut s, fixture_pod("crashloopbackoff", |_| {}));
        let r = rollup(&s, at);
        assert!(
            r.problems[0]
                .message
                .starts_with("deployment shop/web Degraded (Deployment \"web\" exceeded its progress deadline): 0/1 available — pod web-7d4b9c8f6-r5t7y crash-looping"),
            "{:?}",
            messages(&r)
        );
    }

    #[test]
    fn levels_have_glyphs_and_labels() {
        let all = [
            Level::Healthy,
            Level::Unknown,
            Level::Degraded,
            Level::Failing,
        ];
        let glyphs: BTreeSet<&str> = all.iter().map(|l| l.glyph()).collect();
        assert_eq!(glyphs.len(), 4, "distinct glyphs");
        assert_eq!(Level::Failing.label(), "Failing");
        assert!(Level::Failing > Level::Degraded && Level::Degraded > Level::Unknown);
        let json = serde_json::to_value(rollup(&healthy_state(), now())).unwrap();
        assert_eq!(json["areas"][0]["area"], "Cluster");
        assert_eq!(json["areas"][0]["level"], "Healthy");
    }

    #[test]
    fn ages() {
        assert_eq!(
            age(now(), now() - jiff::SignedDuration::from_secs(42)),
            "42s"
        );
        assert_eq!(age(now(), mins_ago(29)), "29m");
        assert_eq!(age(now(), mins_ago(180)), "3h");
        assert_eq!(age(now(), mins_ago(3 * 1440)), "3d");
        assert_eq!(age(now(), now() + jiff::SignedDuration::from_secs(5)), "0s");
    }
}
