//! The writes the console makes: scaling (through the scale subresource), HPA ranges and
//! `autoscale`, cordon/uncordon and drain (through the eviction subresource), and following a
//! rollout until it converges.
//!
//! No terminal code: the TUI calls these on tokio tasks and the CLI from its subcommands; the
//! long ones report progress through a channel so it can be shown live. Send errors on those
//! channels are ignored: a caller that stops listening does not stop the action.

use super::model::WorkloadKind;
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

/// How often a drain retries an eviction that a PodDisruptionBudget refused.
pub const EVICTION_RETRY: Duration = Duration::from_secs(3);
/// How often a drain checks whether evicted pods are gone.
const GONE_POLL: Duration = Duration::from_secs(1);

/// Why an action did not happen (or did not finish).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The request was refused before anything was sent.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Scaling a workload that an HPA scales.
    #[error(
        "{} {namespace}/{name} is managed by HPA {} (min {}, max {}): scaling the {} would be undone by the autoscaler; edit the HPA's range instead",
        noun(*kind), hpa.name, hpa.min, hpa.max, noun(*kind)
    )]
    ManagedByHpa {
        kind: WorkloadKind,
        namespace: String,
        name: String,
        hpa: HpaRange,
    },
    /// A rollout did not converge in time.
    #[error("timed out after {} waiting for {what} to converge: {last}", secs(*timeout))]
    RolloutTimeout {
        what: String,
        timeout: Duration,
        last: String,
    },
    /// A drain found pods it must not evict; nothing was evicted (the node stays cordoned).
    #[error(
        "cannot drain {node} (it stays cordoned; nothing was evicted): {}",
        list(pods)
    )]
    DrainRefused { node: String, pods: Vec<PodIssue> },
    /// A drain ran out of time; the node stays cordoned.
    #[error(
        "drain of {node} timed out after {}; the node stays cordoned; {} pod(s) remain: {}",
        secs(*timeout), remaining.len(), list(remaining)
    )]
    DrainTimeout {
        node: String,
        timeout: Duration,
        remaining: Vec<PodIssue>,
    },
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

pub type Result<T, E = ActionError> = std::result::Result<T, E>;

fn noun(kind: WorkloadKind) -> String {
    kind.name().to_lowercase()
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64().round() as u64)
}

fn list(pods: &[PodIssue]) -> String {
    pods.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A pod and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIssue {
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

impl fmt::Display for PodIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({})", self.namespace, self.name, self.reason)
    }
}

fn api_status(e: &kube::Error) -> Option<&kube::core::Status> {
    match e {
        kube::Error::Api(s) => Some(s),
        _ => None,
    }
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    api_status(e).is_some_and(|s| s.code == code)
}

/// Maps a 404 to a `NotFound` naming the object.
fn not_found(e: kube::Error, what: impl FnOnce() -> String) -> ActionError {
    if is_code(&e, 404) {
        ActionError::NotFound(format!("{} not found", what()))
    } else {
        ActionError::Kube(e)
    }
}

/// `deploy/NAME`, `deployment/NAME`, `sts/NAME`, `statefulset.apps/NAME`, `ds/NAME`…
pub fn parse_workload_ref(s: &str) -> Result<(WorkloadKind, String)> {
    let bad = || {
        ActionError::Invalid(format!(
            "{s:?}: expected KIND/NAME, e.g. deploy/router or sts/minio"
        ))
    };
    let (kind, name) = s.split_once('/').ok_or_else(bad)?;
    if name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    let kind = match kind.to_ascii_lowercase().trim_end_matches(".apps") {
        "deploy" | "deployment" | "deployments" => WorkloadKind::Deployment,
        "sts" | "statefulset" | "statefulsets" => WorkloadKind::StatefulSet,
        "ds" | "daemonset" | "daemonsets" => WorkloadKind::DaemonSet,
        other => {
            return Err(ActionError::Invalid(format!(
                "{other:?} is not a workload kind (deploy, sts or ds)"
            )));
        }
    };
    Ok((kind, name.to_string()))
}

// ---------------------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------------------

/// An HPA's name and range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpaRange {
    pub name: String,
    pub min: i32,
    pub max: i32,
}

impl HpaRange {
    fn of(h: &HorizontalPodAutoscaler) -> HpaRange {
        let spec = h.spec.as_ref();
        HpaRange {
            name: h.metadata.name.clone().unwrap_or_default(),
            min: spec.and_then(|s| s.min_replicas).unwrap_or(1),
            max: spec.map(|s| s.max_replicas).unwrap_or(1),
        }
    }
}

/// What the UI needs to know before scaling a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePlan {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// spec.replicas now.
    pub current: i32,
    /// Ready replicas now.
    pub ready: i32,
    /// The HPA (autoscaling/v2) that scales the workload: edit its range instead.
    pub hpa: Option<HpaRange>,
}

impl ScalePlan {
    /// Scaling to 0 stops every pod: ask first.
    pub fn needs_confirmation(&self, replicas: i32) -> bool {
        replicas == 0 && self.current != 0
    }

    /// Why the workload must not be scaled directly (an HPA would undo it).
    pub fn blocked(&self) -> Option<ActionError> {
        self.hpa.clone().map(|hpa| ActionError::ManagedByHpa {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            hpa,
        })
    }

    /// Checks a request against the plan: refused under an HPA, below 0, or to 0 unconfirmed.
    pub fn check(&self, replicas: i32, confirmed: bool) -> Result<()> {
        if let Some(e) = self.blocked() {
            return Err(e);
        }
        check_replicas(replicas)?;
        if self.needs_confirmation(replicas) && !confirmed {
            return Err(ActionError::Invalid(format!(
                "scaling {} {}/{} to 0 stops all {} of its pods; confirm to go ahead (--yes)",
                noun(self.kind),
                self.namespace,
                self.name,
                self.current
            )));
        }
        Ok(())
    }
}

fn check_replicas(replicas: i32) -> Result<()> {
    if replicas < 0 {
        return Err(ActionError::Invalid(format!(
            "replicas must be 0 or more, not {replicas}"
        )));
    }
    Ok(())
}

fn scalable(kind: WorkloadKind) -> Result<()> {
    if kind == WorkloadKind::DaemonSet {
        return Err(ActionError::Invalid(
            "a DaemonSet runs one pod per node and cannot be scaled".into(),
        ));
    }
    Ok(())
}

/// The HPA that targets a workload, if any.
pub async fn find_hpa(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
) -> Result<Option<HpaRange>> {
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns);
    let list = hpas.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .find(|h| {
            h.spec.as_ref().is_some_and(|s| {
                s.scale_target_ref.kind == kind.name() && s.scale_target_ref.name == name
            })
        })
        .map(HpaRange::of))
}

/// Current and ready replicas of a workload.
async fn replicas_of(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
) -> Result<(i32, i32)> {
    let what = || format!("{} {ns}/{name}", noun(kind));
    match kind {
        WorkloadKind::Deployment => {
            let d = Api::<Deployment>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .map_err(|e| not_found(e, what))?;
            Ok((
                d.spec.and_then(|s| s.replicas).unwrap_or(1),
                d.status.and_then(|s| s.ready_replicas).unwrap_or(0),
            ))
        }
        WorkloadKind::StatefulSet => {
            let s = Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .map_err(|e| not_found(e, what))?;
            Ok((
                s.spec.and_then(|s| s.replicas).unwrap_or(1),
                s.status.and_then(|s| s.ready_replicas).unwrap_or(0),
            ))
        }
        WorkloadKind::DaemonSet => {
            let d = Api::<DaemonSet>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .map_err(|e| not_found(e, what))?;
            let st = d.status.unwrap_or_default();
            Ok((st.desired_number_scheduled, st.number_ready))
        }
    }
}

/// What scaling a workload involves: its replicas, the HPA that scales it (if any).
pub async fn scale_plan(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
) -> Result<ScalePlan> {
    scalable(kind)?;
    let (current, ready) = replicas_of(client, kind, ns, name).await?;
    let hpa = find_hpa(client, kind, ns, name).await?;
    Ok(ScalePlan {
        kind,
        namespace: ns.to_string(),
        name: name.to_string(),
        current,
        ready,
        hpa,
    })
}

/// What a scale did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleOutcome {
    pub previous: i32,
    pub replicas: i32,
}

impl ScaleOutcome {
    pub fn changed(&self) -> bool {
        self.previous != self.replicas
    }
}

/// Sets a Deployment's or StatefulSet's replicas through the scale subresource (merge
/// patch). It does not look for an HPA: ask [`scale_plan`] first.
pub async fn scale(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    replicas: i32,
) -> Result<ScaleOutcome> {
    scalable(kind)?;
    check_replicas(replicas)?;
    async fn patch<K: Clone + DeserializeOwned + fmt::Debug>(
        api: Api<K>,
        name: &str,
        replicas: i32,
    ) -> Result<ScaleOutcome, kube::Error> {
        let before = api.get_scale(name).await?;
        let after = api
            .patch_scale(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await?;
        Ok(ScaleOutcome {
            previous: before.spec.and_then(|s| s.replicas).unwrap_or(0),
            replicas: after.spec.and_then(|s| s.replicas).unwrap_or(replicas),
        })
    }
    let r = match kind {
        WorkloadKind::Deployment => {
            patch(
                Api::<Deployment>::namespaced(client.clone(), ns),
                name,
                replicas,
            )
            .await
        }
        _ => {
            patch(
                Api::<StatefulSet>::namespaced(client.clone(), ns),
                name,
                replicas,
            )
            .await
        }
    };
    r.map_err(|e| not_found(e, || format!("{} {ns}/{name}", noun(kind))))
}

fn check_range(min: i32, max: i32) -> Result<()> {
    if min < 1 {
        return Err(ActionError::Invalid(format!(
            "the HPA's minimum must be at least 1, not {min}"
        )));
    }
    if min > max {
        return Err(ActionError::Invalid(format!(
            "the HPA's minimum ({min}) is above its maximum ({max})"
        )));
    }
    Ok(())
}

/// Sets an HPA's min and max replicas (merge patch); refuses min < 1 or min > max before
/// sending anything.
pub async fn set_hpa_range(
    client: &Client,
    ns: &str,
    hpa: &str,
    min: i32,
    max: i32,
) -> Result<HpaRange> {
    check_range(min, max)?;
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns);
    let h = api
        .patch(
            hpa,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"minReplicas": min, "maxReplicas": max}})),
        )
        .await
        .map_err(|e| not_found(e, || format!("HPA {ns}/{hpa}")))?;
    Ok(HpaRange::of(&h))
}

/// Creates an autoscaling/v2 HPA named after the workload, targeting `cpu_percent` average
/// CPU utilisation. Refuses when an HPA already scales the workload or has its name.
pub async fn autoscale(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    min: i32,
    max: i32,
    cpu_percent: i32,
) -> Result<HpaRange> {
    scalable(kind)?;
    check_range(min, max)?;
    if cpu_percent < 1 {
        return Err(ActionError::Invalid(format!(
            "the CPU target must be a percentage above 0, not {cpu_percent}"
        )));
    }
    replicas_of(client, kind, ns, name).await?;
    if let Some(h) = find_hpa(client, kind, ns, name).await? {
        return Err(ActionError::AlreadyExists(format!(
            "{} {ns}/{name} is already autoscaled by HPA {} (min {}, max {}); edit its range instead",
            noun(kind),
            h.name,
            h.min,
            h.max
        )));
    }
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind.name(), "name": name},
            "minReplicas": min,
            "maxReplicas": max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": cpu_percent}}}],
        },
    }))
    .map_err(|e| ActionError::Invalid(format!("building the HPA: {e}")))?;
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns);
    match api.create(&PostParams::default(), &hpa).await {
        Ok(h) => Ok(HpaRange::of(&h)),
        Err(e) if is_code(&e, 409) => Err(ActionError::AlreadyExists(format!(
            "an HPA named {name} already exists in {ns}; edit its range instead of creating another"
        ))),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Rollout
// ---------------------------------------------------------------------------------------

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub ready: i32,
    pub updated: i32,
    pub desired: i32,
    pub message: String,
    /// The rollout has converged.
    pub converged: bool,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ready, {} updated: {}",
            self.ready, self.desired, self.updated, self.message
        )
    }
}

/// The counts `kubectl rollout status` looks at, from any workload kind.
struct Counts {
    generation: i64,
    observed: i64,
    desired: i32,
    /// Pods (not terminating) the controller counts.
    total: i32,
    updated: i32,
    ready: i32,
    available: i32,
    /// StatefulSets: currentRevision == updateRevision.
    revisions_match: bool,
}

fn progress_of(c: Counts) -> Progress {
    let message = if c.observed < c.generation {
        "waiting for the controller to observe the change".to_string()
    } else if c.updated < c.desired {
        format!("{} of {} replicas updated", c.updated, c.desired)
    } else if c.total > c.updated {
        format!("{} old replica(s) pending termination", c.total - c.updated)
    } else if c.total > c.desired {
        format!(
            "{} extra replica(s) pending termination",
            c.total - c.desired
        )
    } else if c.ready < c.desired || c.available < c.desired {
        format!(
            "{} of {} updated replicas ready",
            c.ready.min(c.available),
            c.desired
        )
    } else if !c.revisions_match {
        "waiting for the revision to be recorded".to_string()
    } else {
        "rolled out".to_string()
    };
    let converged = c.observed >= c.generation
        && c.updated == c.desired
        && c.total == c.desired
        && c.ready == c.desired
        && c.available >= c.desired
        && c.revisions_match;
    Progress {
        ready: c.ready,
        updated: c.updated,
        desired: c.desired,
        message,
        converged,
    }
}

trait Rollout:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + fmt::Debug
    + Send
    + Sync
    + 'static
{
    fn counts(&self) -> Counts;
}

fn generation(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.generation.unwrap_or(0)
}

impl Rollout for Deployment {
    fn counts(&self) -> Counts {
        let st = self.status.clone().unwrap_or_default();
        Counts {
            generation: generation(&self.metadata),
            observed: st.observed_generation.unwrap_or(0),
            desired: self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            total: st.replicas.unwrap_or(0),
            updated: st.updated_replicas.unwrap_or(0),
            ready: st.ready_replicas.unwrap_or(0),
            available: st.available_replicas.unwrap_or(0),
            revisions_match: true,
        }
    }
}

impl Rollout for StatefulSet {
    fn counts(&self) -> Counts {
        let st = self.status.clone().unwrap_or_default();
        Counts {
            generation: generation(&self.metadata),
            observed: st.observed_generation.unwrap_or(0),
            desired: self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            total: st.replicas,
            updated: st.updated_replicas.unwrap_or(0),
            ready: st.ready_replicas.unwrap_or(0),
            available: st.available_replicas.unwrap_or(0),
            revisions_match: st.current_revision.is_some()
                && st.current_revision == st.update_revision,
        }
    }
}

impl Rollout for DaemonSet {
    fn counts(&self) -> Counts {
        let st = self.status.clone().unwrap_or_default();
        Counts {
            generation: generation(&self.metadata),
            observed: st.observed_generation.unwrap_or(0),
            desired: st.desired_number_scheduled,
            total: st.current_number_scheduled,
            updated: st.updated_number_scheduled.unwrap_or(0),
            ready: st.number_ready,
            available: st.number_available.unwrap_or(0),
            revisions_match: true,
        }
    }
}

/// Follows a workload (a watch on that one object) and sends its [`Progress`] whenever it
/// changes, until the rollout converges (returns the last progress) or `timeout` passes.
pub async fn watch_rollout(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    tx: Sender<Progress>,
    timeout: Duration,
) -> Result<Progress> {
    follow_kind(client, kind, ns, name, tx, timeout, true).await
}

/// Like [`watch_rollout`], but goes on past convergence (a rollout that later degrades, a
/// crash loop, shows), until `timeout` passes or the receiver is gone.
pub async fn watch_progress(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    tx: Sender<Progress>,
    timeout: Duration,
) -> Result<Progress> {
    follow_kind(client, kind, ns, name, tx, timeout, false).await
}

async fn follow_kind(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    tx: Sender<Progress>,
    timeout: Duration,
    until_converged: bool,
) -> Result<Progress> {
    match kind {
        WorkloadKind::Deployment => {
            follow::<Deployment>(client, kind, ns, name, tx, timeout, until_converged).await
        }
        WorkloadKind::StatefulSet => {
            follow::<StatefulSet>(client, kind, ns, name, tx, timeout, until_converged).await
        }
        WorkloadKind::DaemonSet => {
            follow::<DaemonSet>(client, kind, ns, name, tx, timeout, until_converged).await
        }
    }
}

async fn follow<K: Rollout>(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
    tx: Sender<Progress>,
    timeout: Duration,
    until_converged: bool,
) -> Result<Progress> {
    let what = format!("{} {ns}/{name}", noun(kind));
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher::watcher(api, cfg).default_backoff());
    let deadline = Instant::now() + timeout;
    let mut last: Option<Progress> = None;
    // What the caller was last told (an interruption notice, or `last`).
    let mut shown: Option<Progress> = None;
    let mut last_error: Option<String> = None;
    let mut seen_in_init = false;
    loop {
        let ev = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                let last = match (&last, &last_error) {
                    (_, Some(e)) => format!("the watch failed: {e}"),
                    (Some(p), None) => p.to_string(),
                    (None, None) => "nothing heard from the API server".to_string(),
                };
                return Err(ActionError::RolloutTimeout {
                    what,
                    timeout,
                    last,
                });
            }
            Ok(None) => {
                return Err(ActionError::Invalid(format!(
                    "the watch on {what} ended unexpectedly"
                )));
            }
            Ok(Some(Err(e))) => {
                // The watcher retries with back-off; say so while it does.
                let e = e.to_string();
                if last_error.as_ref() != Some(&e) {
                    let p = last.clone().unwrap_or(Progress {
                        ready: 0,
                        updated: 0,
                        desired: 0,
                        message: String::new(),
                        converged: false,
                    });
                    let p = Progress {
                        message: format!("watch interrupted ({e}); retrying"),
                        ..p
                    };
                    let _ = tx.send(p.clone()).await;
                    shown = Some(p);
                }
                last_error = Some(e);
                continue;
            }
            Ok(Some(Ok(ev))) => ev,
        };
        last_error = None;
        let obj = match ev {
            Event::Init => {
                seen_in_init = false;
                continue;
            }
            Event::InitDone => {
                if !seen_in_init {
                    return Err(ActionError::NotFound(if last.is_none() {
                        format!("{what} not found")
                    } else {
                        format!("{what} was deleted while rolling out")
                    }));
                }
                continue;
            }
            Event::Delete(_) => {
                return Err(ActionError::NotFound(format!(
                    "{what} was deleted while rolling out"
                )));
            }
            Event::InitApply(o) => {
                seen_in_init = true;
                o
            }
            Event::Apply(o) => o,
        };
        let p = progress_of(obj.counts());
        if shown.as_ref() != Some(&p) {
            let _ = tx.send(p.clone()).await;
            shown = Some(p.clone());
        }
        if (p.converged && until_converged) || tx.is_closed() {
            return Ok(p);
        }
        last = Some(p);
    }
}

// ---------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------

async fn set_unschedulable(client: &Client, node: &str, on: bool) -> Result<bool> {
    let api: Api<Node> = Api::all(client.clone());
    let n = api
        .get(node)
        .await
        .map_err(|e| not_found(e, || format!("node {node}")))?;
    let now = n.spec.and_then(|s| s.unschedulable).unwrap_or(false);
    if now == on {
        return Ok(false);
    }
    let value = if on { json!(true) } else { json!(null) };
    api.patch(
        node,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"unschedulable": value}})),
    )
    .await
    .map_err(|e| not_found(e, || format!("node {node}")))?;
    Ok(true)
}

/// Marks a node unschedulable. Returns false when it already was.
pub async fn cordon(client: &Client, node: &str) -> Result<bool> {
    set_unschedulable(client, node, true).await
}

/// Marks a node schedulable again. Returns false when it already was.
pub async fn uncordon(client: &Client, node: &str) -> Result<bool> {
    set_unschedulable(client, node, false).await
}

/// Deletes a pod, with its own termination grace period (as `kubectl delete pod`); its
/// controller, if any, makes a new one.
pub async fn delete_pod(client: &Client, ns: &str, name: &str) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| not_found(e, || format!("pod {ns}/{name}")))?;
    Ok(())
}

/// The annotation `kubectl rollout restart` sets on a workload's pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The merge patch of a rollout restart at `at`: the pod template's `restartedAt`
/// annotation, so the controller rolls every pod (as `kubectl rollout restart`).
pub fn restart_patch(at: jiff::Timestamp) -> serde_json::Value {
    let at = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}})
}

/// `kubectl rollout restart` of a Deployment, StatefulSet or DaemonSet: sets the pod
/// template's `restartedAt` annotation to now (RFC 3339, UTC). Returns the time set.
pub async fn rollout_restart(
    client: &Client,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
) -> Result<String> {
    let patch = restart_patch(jiff::Timestamp::now());
    let at = patch["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
        .as_str()
        .unwrap_or_default()
        .to_string();
    async fn apply<K: Clone + DeserializeOwned + fmt::Debug>(
        api: Api<K>,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<(), kube::Error> {
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(|_| ())
    }
    let r = match kind {
        WorkloadKind::Deployment => {
            apply(
                Api::<Deployment>::namespaced(client.clone(), ns),
                name,
                &patch,
            )
            .await
        }
        WorkloadKind::StatefulSet => {
            apply(
                Api::<StatefulSet>::namespaced(client.clone(), ns),
                name,
                &patch,
            )
            .await
        }
        WorkloadKind::DaemonSet => {
            apply(
                Api::<DaemonSet>::namespaced(client.clone(), ns),
                name,
                &patch,
            )
            .await
        }
    };
    r.map_err(|e| not_found(e, || format!("{} {ns}/{name}", noun(kind))))?;
    Ok(at)
}

/// How to drain a node (the `kubectl drain` flags that matter here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainOptions {
    /// Skip DaemonSet pods instead of refusing to drain.
    pub ignore_daemonsets: bool,
    /// Evict pods with emptyDir volumes (their data is lost) instead of refusing.
    pub delete_emptydir_data: bool,
    /// For the whole drain: evictions (retried while a disruption budget forbids them) and
    /// waiting for the pods to be gone.
    pub timeout: Duration,
    /// Overrides each pod's termination grace period.
    pub grace_period: Option<i64>,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            ignore_daemonsets: false,
            delete_emptydir_data: false,
            timeout: Duration::from_secs(300),
            grace_period: None,
        }
    }
}

/// What happens to one pod during a drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainStep {
    /// Left alone (a DaemonSet pod with `ignore_daemonsets`, a mirror pod).
    Skipped(String),
    Evicting,
    /// The eviction was accepted; the pod is terminating.
    Evicted,
    /// The eviction was refused (a disruption budget); retried until the timeout.
    Blocked(String),
    /// The pod is gone (or replaced by a new pod of the same name).
    Gone,
    /// The eviction failed for another reason; not retried.
    Failed(String),
}

/// A drain's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainProgress {
    /// The node was cordoned (`already`: it was cordoned before).
    Cordoned { node: String, already: bool },
    Pod {
        namespace: String,
        name: String,
        step: DrainStep,
    },
}

impl fmt::Display for DrainProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainProgress::Cordoned { node, already } => {
                if *already {
                    write!(f, "node {node} already cordoned")
                } else {
                    write!(f, "node {node} cordoned")
                }
            }
            DrainProgress::Pod {
                namespace,
                name,
                step,
            } => match step {
                DrainStep::Skipped(why) => write!(f, "skipping {namespace}/{name}: {why}"),
                DrainStep::Evicting => write!(f, "evicting {namespace}/{name}"),
                DrainStep::Evicted => write!(f, "evicted {namespace}/{name}; terminating"),
                DrainStep::Blocked(why) => write!(
                    f,
                    "waiting: evicting {namespace}/{name} would violate the disruption budget ({why}); retrying every {}",
                    secs(EVICTION_RETRY)
                ),
                DrainStep::Gone => write!(f, "{namespace}/{name} gone"),
                DrainStep::Failed(why) => write!(f, "evicting {namespace}/{name} failed: {why}"),
            },
        }
    }
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub node: String,
    /// namespace/name of every pod evicted and gone.
    pub evicted: Vec<String>,
    /// namespace/name of the DaemonSet pods left on the node.
    pub skipped_daemonset: Vec<String>,
    /// Evictions that failed (other than for a disruption budget).
    pub failures: Vec<PodIssue>,
}

fn controller_kind(p: &Pod) -> Option<&str> {
    p.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.kind.as_str())
}

fn finished(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Like kubectl's drain filters: Ok(None) evict, Ok(Some(why)) skip, Err(why) refuse.
fn classify(p: &Pod, opts: &DrainOptions) -> std::result::Result<Option<String>, String> {
    let mirror = p
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    if mirror {
        return Ok(Some("a static (mirror) pod".into()));
    }
    match controller_kind(p) {
        Some("DaemonSet") => {
            return if opts.ignore_daemonsets {
                Ok(Some("managed by a DaemonSet".into()))
            } else {
                Err(
                    "managed by a DaemonSet; ignore DaemonSet pods to drain (--ignore-daemonsets)"
                        .into(),
                )
            };
        }
        None if !finished(p) => {
            return Err("not managed by a controller: evicting it would lose it for good".into());
        }
        _ => {}
    }
    let empty_dir = p
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|vs| vs.iter().any(|v| v.empty_dir.is_some()));
    if empty_dir && !finished(p) && !opts.delete_emptydir_data {
        return Err(
            "has emptyDir data that eviction deletes; allow it to drain (--delete-emptydir-data)"
                .into(),
        );
    }
    Ok(None)
}

enum PodEnd {
    Gone,
    Failed(String),
    /// Still there at the deadline, and why.
    Remains(String),
}

/// Drains a node as `kubectl drain` does: cordons it, refuses (before evicting anything) pods
/// that would be lost, evicts the rest through the eviction subresource (retrying while a
/// disruption budget forbids it) and waits for them to be gone. The node stays cordoned.
pub async fn drain(
    client: &Client,
    node: &str,
    opts: DrainOptions,
    tx: Sender<DrainProgress>,
) -> Result<DrainReport> {
    let deadline = Instant::now() + opts.timeout;
    let changed = cordon(client, node).await?;
    let _ = tx
        .send(DrainProgress::Cordoned {
            node: node.to_string(),
            already: !changed,
        })
        .await;
    let all: Api<Pod> = Api::all(client.clone());
    let pods = all
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?
        .items;
    let mut report = DrainReport {
        node: node.to_string(),
        ..Default::default()
    };
    let mut refused = Vec::new();
    let mut to_evict = Vec::new();
    for p in pods {
        let namespace = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        match classify(&p, &opts) {
            Err(reason) => refused.push(PodIssue {
                namespace,
                name,
                reason,
            }),
            Ok(Some(why)) => {
                if controller_kind(&p) == Some("DaemonSet") {
                    report.skipped_daemonset.push(format!("{namespace}/{name}"));
                }
                let _ = tx
                    .send(DrainProgress::Pod {
                        namespace,
                        name,
                        step: DrainStep::Skipped(why),
                    })
                    .await;
            }
            Ok(None) => to_evict.push((namespace, name, p.metadata.uid.clone())),
        }
    }
    if !refused.is_empty() {
        return Err(ActionError::DrainRefused {
            node: node.to_string(),
            pods: refused,
        });
    }
    let ends = futures::future::join_all(to_evict.iter().map(|(ns, name, uid)| {
        evict_and_wait(client, ns, name, uid.as_deref(), &opts, deadline, &tx)
    }))
    .await;
    let mut remaining = Vec::new();
    for ((namespace, name, _), end) in to_evict.into_iter().zip(ends) {
        match end {
            PodEnd::Gone => report.evicted.push(format!("{namespace}/{name}")),
            PodEnd::Failed(reason) => report.failures.push(PodIssue {
                namespace,
                name,
                reason,
            }),
            PodEnd::Remains(reason) => remaining.push(PodIssue {
                namespace,
                name,
                reason,
            }),
        }
    }
    if !remaining.is_empty() {
        return Err(ActionError::DrainTimeout {
            node: node.to_string(),
            timeout: opts.timeout,
            remaining,
        });
    }
    Ok(report)
}

/// The reason a 429 gives: the disruption budget's cause when there is one.
fn blocked_reason(e: &kube::Error) -> String {
    let Some(s) = api_status(e) else {
        return e.to_string();
    };
    s.details
        .as_ref()
        .and_then(|d| d.causes.iter().find(|c| !c.message.is_empty()))
        .map(|c| c.message.clone())
        .unwrap_or_else(|| s.message.clone())
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether a label selector matches labels (a missing selector matches nothing, an empty
/// one everything, as for PodDisruptionBudgets).
fn selector_matches(sel: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = sel else {
        return false;
    };
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let have = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// The disruption budget that forbids evicting a ready pod now (its status allows no
/// disruption), as the API server would word it. Errors reading budgets are left to the
/// eviction itself.
async fn budget_block(client: &Client, pod: &Pod) -> Option<String> {
    if !pod_ready(pod) {
        return None;
    }
    let ns = pod.metadata.namespace.as_deref()?;
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns);
    let pdbs = api.list(&ListParams::default()).await.ok()?.items;
    let no_labels = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&no_labels);
    let matching: Vec<&PodDisruptionBudget> = pdbs
        .iter()
        .filter(|b| selector_matches(b.spec.as_ref().and_then(|s| s.selector.as_ref()), labels))
        .collect();
    let [pdb] = matching.as_slice() else {
        return None;
    };
    let st = pdb.status.as_ref()?;
    let current = st.observed_generation.unwrap_or(0) >= pdb.metadata.generation.unwrap_or(0);
    (current && st.disruptions_allowed <= 0).then(|| {
        format!(
            "The disruption budget {} needs {} healthy pods and has {} currently",
            pdb.metadata.name.as_deref().unwrap_or(""),
            st.desired_healthy,
            st.current_healthy
        )
    })
}

/// Evicts one pod, retrying while its disruption budget forbids it, then waits for it to be
/// gone. The budget is read before each attempt because kube clients retry a 429 on their
/// own (with a growing back-off): an eviction the budget forbids would otherwise hang
/// silently instead of being reported as blocked.
async fn evict_and_wait(
    client: &Client,
    ns: &str,
    name: &str,
    uid: Option<&str>,
    opts: &DrainOptions,
    deadline: Instant,
    tx: &Sender<DrainProgress>,
) -> PodEnd {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let send = |step: DrainStep| {
        tx.send(DrainProgress::Pod {
            namespace: ns.to_string(),
            name: name.to_string(),
            step,
        })
    };
    let ep = EvictParams {
        delete_options: opts.grace_period.map(|g| DeleteParams {
            grace_period_seconds: Some(g.max(0) as u32),
            ..Default::default()
        }),
        ..Default::default()
    };
    let remains = |blocked: &Option<String>, error: &Option<String>| {
        PodEnd::Remains(match (blocked, error) {
            (Some(why), _) => format!("eviction blocked: {why}"),
            (None, Some(e)) => format!("not evicted: {e}"),
            (None, None) => "not evicted in time".into(),
        })
    };
    let _ = send(DrainStep::Evicting).await;
    let mut blocked: Option<String> = None;
    let mut error: Option<String> = None;
    loop {
        if Instant::now() >= deadline {
            return remains(&blocked, &error);
        }
        let pod = match tokio::time::timeout_at(deadline, api.get_opt(name)).await {
            Err(_) => return remains(&blocked, &error),
            Ok(Err(e)) => {
                error = Some(e.to_string());
                tokio::time::sleep_until((Instant::now() + GONE_POLL).min(deadline)).await;
                continue;
            }
            Ok(Ok(p)) => p,
        };
        let Some(pod) = pod.filter(|p| p.metadata.uid.as_deref() == uid) else {
            let _ = send(DrainStep::Gone).await;
            return PodEnd::Gone;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            break;
        }
        let mut why = budget_block(client, &pod).await;
        if why.is_none() {
            let attempt = (Instant::now() + 2 * EVICTION_RETRY).min(deadline);
            match tokio::time::timeout_at(attempt, api.evict(name, &ep)).await {
                Ok(Ok(_)) => break,
                Ok(Err(e)) if is_code(&e, 404) => {
                    let _ = send(DrainStep::Gone).await;
                    return PodEnd::Gone;
                }
                Ok(Err(e)) if is_code(&e, 429) => why = Some(blocked_reason(&e)),
                Ok(Err(e)) => {
                    let why = blocked_reason(&e);
                    let _ = send(DrainStep::Failed(why.clone())).await;
                    return PodEnd::Failed(why);
                }
                // The client kept retrying 429s until the attempt ran out: look again.
                Err(_) => continue,
            }
        }
        if let Some(why) = why {
            if blocked.as_ref() != Some(&why) {
                let _ = send(DrainStep::Blocked(why.clone())).await;
            }
            blocked = Some(why);
            tokio::time::sleep_until((Instant::now() + EVICTION_RETRY).min(deadline)).await;
        }
    }
    let _ = send(DrainStep::Evicted).await;
    // Wait for it to be gone: 404, or a new pod of the same name.
    loop {
        let r = tokio::time::timeout_at(deadline, api.get_opt(name)).await;
        match r {
            Ok(Ok(None)) => break,
            Ok(Ok(Some(p))) if p.metadata.uid.as_deref() != uid => break,
            Ok(_) => {}
            Err(_) => return PodEnd::Remains("evicted but still terminating".into()),
        }
        if Instant::now() + GONE_POLL >= deadline {
            tokio::time::sleep_until(deadline).await;
            return PodEnd::Remains("evicted but still terminating".into());
        }
        tokio::time::sleep(GONE_POLL).await;
    }
    let _ = send(DrainStep::Gone).await;
    PodEnd::Gone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_refs_parse() {
        assert_eq!(
            parse_workload_ref("deploy/router").unwrap(),
            (WorkloadKind::Deployment, "router".to_string())
        );
        assert_eq!(
            parse_workload_ref("statefulset.apps/minio").unwrap(),
            (WorkloadKind::StatefulSet, "minio".to_string())
        );
        assert!(parse_workload_ref("router").is_err());
        assert!(parse_workload_ref("svc/router").is_err());
        assert!(parse_workload_ref("deploy/").is_err());
    }

    fn counts(observed: i64, desired: i32, total: i32, updated: i32, ready: i32) -> Counts {
        Counts {
            generation: 2,
            observed,
            desired,
            total,
            updated,
            ready,
            available: ready,
            revisions_match: true,
        }
    }

    #[test]
    fn rollout_converges_only_when_everything_matches() {
        assert!(!progress_of(counts(1, 3, 3, 3, 3)).converged);
        let p = progress_of(counts(2, 4, 3, 3, 3));
        assert!(!p.converged);
        assert_eq!(p.message, "3 of 4 replicas updated");
        let p = progress_of(counts(2, 2, 4, 2, 2));
        assert!(!p.converged);
        assert_eq!(p.message, "2 old replica(s) pending termination");
        let p = progress_of(counts(2, 4, 4, 4, 3));
        assert_eq!(p.message, "3 of 4 updated replicas ready");
        assert!(!p.converged);
        assert!(progress_of(counts(2, 4, 4, 4, 4)).converged);
        let mut c = counts(2, 1, 1, 1, 1);
        c.revisions_match = false;
        assert!(!progress_of(c).converged);
    }

    #[test]
    fn budget_selectors_match_as_the_api_server_does() {
        let labels: BTreeMap<String, String> = [("app", "router"), ("tier", "edge")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sel = |v: serde_json::Value| -> LabelSelector { serde_json::from_value(v).unwrap() };
        assert!(!selector_matches(None, &labels));
        assert!(selector_matches(Some(&sel(json!({}))), &labels));
        assert!(selector_matches(
            Some(&sel(json!({"matchLabels": {"app": "router"}}))),
            &labels
        ));
        assert!(!selector_matches(
            Some(&sel(json!({"matchLabels": {"app": "solo"}}))),
            &labels
        ));
        let expr = |op: &str, values: &[&str]| {
            sel(json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]}))
        };
        assert!(selector_matches(
            Some(&expr("In", &["edge", "core"])),
            &labels
        ));
        assert!(!selector_matches(Some(&expr("NotIn", &["edge"])), &labels));
        assert!(selector_matches(Some(&expr("Exists", &[])), &labels));
        assert!(!selector_matches(Some(&expr("DoesNotExist", &[])), &labels));
    }

    #[test]
    fn the_hpa_message_says_what_to_do() {
        let plan = ScalePlan {
            kind: WorkloadKind::Deployment,
            namespace: "migratorydata".into(),
            name: "migratorydata".into(),
            current: 3,
            ready: 3,
            hpa: Some(HpaRange {
                name: "migratorydata".into(),
                min: 2,
                max: 5,
            }),
        };
        let e = plan.check(4, true).unwrap_err().to_string();
        assert!(
            e.contains("managed by HPA migratorydata (min 2, max 5): scaling the deployment would be undone by the autoscaler; edit the HPA's range instead"),
            "{e}"
        );
        let plan = ScalePlan { hpa: None, ..plan };
        assert!(plan.check(0, false).is_err());
        assert!(plan.check(0, true).is_ok());
        assert!(plan.check(-1, true).is_err());
        assert!(plan.check(5, false).is_ok());
    }
}
