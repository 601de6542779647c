//! Pod STATUS and workload health.
//!
//! [`pod_status`] derives the READY / STATUS / RESTARTS columns exactly the way
//! `kubectl get pods` does (kubernetes `pkg/printers/internalversion/printers.go`,
//! `printPod`), which is also what k9s shows. On top of the column text it gives a
//! coarse [`PodClass`] used for counting and colouring.
//!
//! The workload functions ([`deployment_health`], [`statefulset_health`],
//! [`daemonset_health`], [`hpa_health`]) follow Argo CD's gitops-engine
//! (`pkg/health/health_*.go`), including its messages, so that what an on-call
//! engineer reads here matches what Argo CD says about the same object.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodCondition};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------

/// Coarse class of a pod's STATUS, for counting and colouring.
///
/// The column text itself ([`PodStatus::text`]) always carries the precise reason,
/// so the UI never depends on colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PodClass {
    /// Running (possibly not ready: see [`PodStatus::is_problem`]).
    Running,
    /// Not yet running: unscheduled, gated, creating containers, initialising.
    Pending,
    /// Finished successfully (`Completed`).
    Succeeded,
    /// Broken: image pull errors, config errors, OOMKilled, Error, exit codes, evicted…
    Failed,
    /// `CrashLoopBackOff` (also `Init:CrashLoopBackOff`).
    CrashLooping,
    /// Being deleted.
    Terminating,
    /// Unknown phase, or a node lost while deleting.
    Unknown,
}

impl PodClass {
    /// A short lowercase label, e.g. for a "3 running · 1 failed" summary.
    pub fn label(self) -> &'static str {
        match self {
            PodClass::Running => "running",
            PodClass::Pending => "pending",
            PodClass::Succeeded => "succeeded",
            PodClass::Failed => "failed",
            PodClass::CrashLooping => "crashlooping",
            PodClass::Terminating => "terminating",
            PodClass::Unknown => "unknown",
        }
    }
}

/// The READY / STATUS / RESTARTS columns of a pod, as `kubectl get pods` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodStatus {
    /// The STATUS column, e.g. `Running`, `CrashLoopBackOff`, `Init:1/2`, `Terminating`.
    pub text: String,
    /// Coarse class of `text`.
    pub class: PodClass,
    /// READY column: (ready containers, containers). Restartable init containers
    /// (sidecars) count as containers, like kubectl does.
    pub ready: (u32, u32),
    /// RESTARTS column: restarts as kubectl counts them (app containers and sidecars;
    /// init containers while the pod is still initialising).
    pub restarts: u32,
    /// When the most recent restart happened (`lastState.terminated.finishedAt`),
    /// the "(5m ago)" part of kubectl's RESTARTS column.
    pub last_restart: Option<jiff::Timestamp>,
}

impl PodStatus {
    /// The READY column text, e.g. `1/2`.
    pub fn ready_text(&self) -> String {
        format!("{}/{}", self.ready.0, self.ready.1)
    }

    /// True when an on-call engineer should look at this pod: failing, crash-looping,
    /// unknown, or running with containers that are not ready (like k9s flags it).
    pub fn is_problem(&self) -> bool {
        match self.class {
            PodClass::Failed | PodClass::CrashLooping | PodClass::Unknown => true,
            PodClass::Running => self.text == "NotReady" || self.ready.0 < self.ready.1,
            PodClass::Pending | PodClass::Succeeded | PodClass::Terminating => false,
        }
    }
}

/// Class of a container's waiting reason.
fn waiting_class(reason: &str) -> PodClass {
    match reason {
        "CrashLoopBackOff" => PodClass::CrashLooping,
        "ContainerCreating" | "PodInitializing" => PodClass::Pending,
        // ErrImagePull, ImagePullBackOff, InvalidImageName, ErrImageNeverPull,
        // CreateContainerConfigError, CreateContainerError, RunContainerError, …
        _ => PodClass::Failed,
    }
}

fn phase_class(phase: &str) -> PodClass {
    match phase {
        "Running" => PodClass::Running,
        "Pending" => PodClass::Pending,
        "Succeeded" => PodClass::Succeeded,
        "Failed" => PodClass::Failed,
        _ => PodClass::Unknown,
    }
}

fn is_restartable_init_container(container: Option<&Container>) -> bool {
    container.is_some_and(|c| c.restart_policy.as_deref() == Some("Always"))
}

fn has_condition(conditions: &[PodCondition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

fn last_termination(status: &ContainerStatus) -> Option<jiff::Timestamp> {
    status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref())
        .map(|t| t.0)
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Derives a pod's READY / STATUS / RESTARTS exactly as kubectl's `printPod` does.
pub fn pod_status(pod: &Pod) -> PodStatus {
    let empty_status = Default::default();
    let status = pod.status.as_ref().unwrap_or(&empty_status);
    let (init_specs, container_specs): (&[Container], &[Container]) = match pod.spec.as_ref() {
        Some(spec) => (
            spec.init_containers.as_deref().unwrap_or_default(),
            &spec.containers,
        ),
        None => (&[], &[]),
    };
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let init_statuses = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let statuses = status.container_statuses.as_deref().unwrap_or_default();

    let phase = status.phase.as_deref().unwrap_or_default();
    let status_reason = status.reason.as_deref().unwrap_or_default();

    let mut reason = phase.to_string();
    let mut class = phase_class(phase);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".to_string();
        class = PodClass::Pending;
    }

    let init_spec = |name: &str| init_specs.iter().find(|c| c.name == name);
    let sidecars = init_specs
        .iter()
        .filter(|c| is_restartable_init_container(Some(c)))
        .count();
    let total = u32::try_from(container_specs.len() + sidecars).unwrap_or(u32::MAX);

    let mut ready = 0u32;
    let mut restarts = 0u32;
    let mut last_restart: Option<jiff::Timestamp> = None;
    let mut sidecar_restarts = 0u32;
    let mut sidecar_last_restart: Option<jiff::Timestamp> = None;

    let mut initializing = false;
    for (i, cs) in init_statuses.iter().enumerate() {
        let restartable = is_restartable_init_container(init_spec(&cs.name));
        restarts += count(cs.restart_count);
        let terminated_at = last_termination(cs);
        last_restart = last_restart.max(terminated_at);
        if restartable {
            sidecar_restarts += count(cs.restart_count);
            sidecar_last_restart = sidecar_last_restart.max(terminated_at);
        }

        let state = cs.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting_reason = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref())
            .unwrap_or_default();

        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if restartable && cs.started == Some(true) {
            if cs.ready {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            // Initialisation failed.
            let t_reason = t.reason.as_deref().unwrap_or_default();
            reason = if !t_reason.is_empty() {
                format!("Init:{t_reason}")
            } else if t.signal.unwrap_or(0) != 0 {
                format!("Init:Signal:{}", t.signal.unwrap_or(0))
            } else {
                format!("Init:ExitCode:{}", t.exit_code)
            };
            class = PodClass::Failed;
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
            class = waiting_class(waiting_reason);
        } else {
            reason = format!("Init:{}/{}", i, init_specs.len());
            class = PodClass::Pending;
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        for cs in statuses.iter().rev() {
            restarts += count(cs.restart_count);
            last_restart = last_restart.max(last_termination(cs));

            let state = cs.state.as_ref();
            let waiting_reason = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .unwrap_or_default();
            let terminated = state.and_then(|s| s.terminated.as_ref());
            let running = state.is_some_and(|s| s.running.is_some());

            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
                class = waiting_class(waiting_reason);
            } else if let Some(t) = terminated {
                let t_reason = t.reason.as_deref().unwrap_or_default();
                if !t_reason.is_empty() {
                    reason = t_reason.to_string();
                    class = if t_reason == "Completed" {
                        PodClass::Succeeded
                    } else {
                        PodClass::Failed
                    };
                } else if t.signal.unwrap_or(0) != 0 {
                    reason = format!("Signal:{}", t.signal.unwrap_or(0));
                    class = PodClass::Failed;
                } else {
                    reason = format!("ExitCode:{}", t.exit_code);
                    class = if t.exit_code == 0 {
                        PodClass::Succeeded
                    } else {
                        PodClass::Failed
                    };
                }
            } else if cs.ready && running {
                has_running = true;
                ready += 1;
            }
        }

        // kubectl: back to "Running" if a container still runs after another completed.
        if reason == "Completed" && has_running {
            reason = if has_condition(conditions, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
            class = PodClass::Running;
        }
    }

    let deleting = pod.metadata.deletion_timestamp.is_some();
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
        class = PodClass::Unknown;
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
        class = PodClass::Terminating;
    }

    PodStatus {
        text: reason,
        class,
        ready: (ready, total),
        restarts,
        last_restart,
    }
}

/// The newest termination of one of a pod's containers (`state.terminated`, else
/// `lastState.terminated`): what killed it, the evidence behind a restart or a crash loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub container: String,
    /// `OOMKilled`, `Error`, `Completed`, or empty.
    pub reason: String,
    pub exit_code: i32,
    /// The signal that killed it, 0 when none.
    pub signal: i32,
    pub finished: Option<jiff::Timestamp>,
    /// The container's memory limit as its spec writes it (`512Mi`), if it has one: beside
    /// an OOM kill, what it ran into.
    pub memory_limit: Option<String>,
}

impl Termination {
    /// `OOMKilled (exit code 137)`, `Error (exit code 1)`, `signal 9 (exit code 137)`.
    pub fn describe(&self) -> String {
        let what = if !self.reason.is_empty() {
            self.reason.clone()
        } else if self.signal != 0 {
            format!("signal {}", self.signal)
        } else {
            "exited".to_string()
        };
        let mut out = format!("{what} (exit code {}", self.exit_code);
        if self.signal != 0 && !self.reason.is_empty() {
            out.push_str(&format!(", signal {}", self.signal));
        }
        out.push(')');
        out
    }
}

/// Why a pod's containers are not running, beside its STATUS: the newest unclean
/// termination and the message of a container waiting on a failure (the pull error…).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodEvidence {
    pub termination: Option<Termination>,
    /// `state.waiting.message` of a container waiting for a reason other than creation.
    pub waiting: Option<String>,
}

/// `resources.limits.memory` of the pod's container (app or init) named `container`.
fn memory_limit(pod: &Pod, container: &str) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let c = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)?;
    let limit = c.resources.as_ref()?.limits.as_ref()?.get("memory")?;
    Some(limit.0.clone())
}

/// The [`PodEvidence`] of a pod, from its init and app container statuses.
pub fn pod_evidence(pod: &Pod) -> PodEvidence {
    let Some(status) = pod.status.as_ref() else {
        return PodEvidence::default();
    };
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    let mut out = PodEvidence::default();
    for cs in all {
        let states = [cs.state.as_ref(), cs.last_state.as_ref()];
        for t in states
            .into_iter()
            .flatten()
            .filter_map(|s| s.terminated.as_ref())
        {
            if t.exit_code == 0 && t.signal.unwrap_or(0) == 0 {
                continue;
            }
            let finished = t.finished_at.as_ref().map(|f| f.0);
            if out
                .termination
                .as_ref()
                .is_some_and(|o| o.finished >= finished)
            {
                continue;
            }
            out.termination = Some(Termination {
                container: cs.name.clone(),
                reason: t.reason.clone().unwrap_or_default(),
                exit_code: t.exit_code,
                signal: t.signal.unwrap_or(0),
                finished,
                memory_limit: memory_limit(pod, &cs.name),
            });
        }
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
        if let Some(w) = waiting
            && out.waiting.is_none()
            && !matches!(
                w.reason.as_deref(),
                None | Some("ContainerCreating" | "PodInitializing")
            )
            && let Some(m) = w.message.as_deref().filter(|m| !m.is_empty())
        {
            out.waiting = Some(m.to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

/// Health of a workload, with Argo CD's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    Healthy,
    Progressing,
    Degraded,
    Suspended,
    Missing,
    Unknown,
}

impl HealthStatus {
    /// A distinct symbol per status, so health is never shown by colour alone.
    pub fn glyph(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "✔",
            HealthStatus::Progressing => "◐",
            HealthStatus::Degraded => "✖",
            HealthStatus::Suspended => "‖",
            HealthStatus::Missing => "∅",
            HealthStatus::Unknown => "?",
        }
    }

    /// The status name as Argo CD prints it.
    pub fn label(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Missing => "Missing",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Argo CD's ordering (`IsWorse`): Healthy < Suspended < Progressing < Missing
    /// < Degraded < Unknown. Useful to aggregate the health of a release.
    pub fn severity(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Suspended => 1,
            HealthStatus::Progressing => 2,
            HealthStatus::Missing => 3,
            HealthStatus::Degraded => 4,
            HealthStatus::Unknown => 5,
        }
    }

    /// True when `self` is worse than `other` in Argo CD's ordering.
    pub fn is_worse_than(self, other: HealthStatus) -> bool {
        self.severity() > other.severity()
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A health status with Argo CD's explanatory message (empty when Healthy says nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub message: String,
}

impl Health {
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Health {
            status,
            message: message.into(),
        }
    }

    fn healthy() -> Self {
        Health::new(HealthStatus::Healthy, "")
    }

    fn progressing(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Progressing, message)
    }
}

/// Deployment health (gitops-engine `getAppsv1DeploymentHealth`).
pub fn deployment_health(deployment: &Deployment) -> Health {
    let spec = deployment.spec.as_ref();
    if spec.and_then(|s| s.paused).unwrap_or(false) {
        return Health::new(HealthStatus::Suspended, "Deployment is paused");
    }
    let generation = deployment.metadata.generation.unwrap_or(0);
    let empty = Default::default();
    let status = deployment.status.as_ref().unwrap_or(&empty);
    if generation > status.observed_generation.unwrap_or(0) {
        return Health::progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }

    let progress_deadline_exceeded = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Progressing")
        .is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if progress_deadline_exceeded {
        let name = deployment.metadata.name.as_deref().unwrap_or_default();
        return Health::new(
            HealthStatus::Degraded,
            format!("Deployment {name:?} exceeded its progress deadline"),
        );
    }

    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if let Some(desired) = spec.and_then(|s| s.replicas)
        && updated < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Health::healthy()
}

/// StatefulSet health (gitops-engine `getAppsv1StatefulSetHealth`).
pub fn statefulset_health(sts: &StatefulSet) -> Health {
    let generation = sts.metadata.generation.unwrap_or(0);
    let empty = Default::default();
    let status = sts.status.as_ref().unwrap_or(&empty);
    let observed = status.observed_generation.unwrap_or(0);
    if observed == 0 || generation > observed {
        return Health::progressing("Waiting for statefulset spec update to be observed...");
    }

    let spec = sts.spec.as_ref();
    let desired = spec.and_then(|s| s.replicas);
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if let Some(desired) = desired
        && ready < desired
    {
        return Health::progressing(format!(
            "Waiting for {} pods to be ready...",
            desired - ready
        ));
    }

    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    let strategy_type = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or_default();
    if strategy_type == "RollingUpdate"
        && let Some(rolling) = strategy.and_then(|s| s.rolling_update.as_ref())
    {
        if let (Some(desired), Some(partition)) = (desired, rolling.partition) {
            let target = desired - partition;
            if updated < target {
                return Health::progressing(format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {target} new pods have been updated..."
                ));
            }
        }
        return Health::new(
            HealthStatus::Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        );
    }
    if strategy_type == "OnDelete" {
        return Health::new(
            HealthStatus::Healthy,
            format!("statefulset has {ready} ready pods ({updated} updated)"),
        );
    }

    let update_revision = status.update_revision.as_deref().unwrap_or_default();
    let current_revision = status.current_revision.as_deref().unwrap_or_default();
    if update_revision != current_revision {
        return Health::progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        ));
    }
    Health::new(
        HealthStatus::Healthy,
        format!(
            "statefulset rolling update complete {} pods at revision {current_revision}...",
            status.current_replicas.unwrap_or(0)
        ),
    )
}

/// DaemonSet health (gitops-engine `getAppsv1DaemonSetHealth`).
pub fn daemonset_health(daemon: &DaemonSet) -> Health {
    let generation = daemon.metadata.generation.unwrap_or(0);
    let empty = Default::default();
    let status = daemon.status.as_ref().unwrap_or(&empty);
    if generation > status.observed_generation.unwrap_or(0) {
        return Health::progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    let on_delete = daemon
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete");
    if on_delete {
        return Health::new(
            HealthStatus::Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        );
    }
    let name = daemon.metadata.name.as_deref().unwrap_or_default();
    if updated < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."
        ));
    }
    if available < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."
        ));
    }
    Health::healthy()
}

/// HorizontalPodAutoscaler (autoscaling/v2) health, after gitops-engine's `health_hpa.go`.
///
/// Conditions `AbleToScale` (FailedGetScale, FailedUpdateScale) and `ScalingActive`
/// (FailedGetResourceMetric, InvalidSelector) mean Degraded; `AbleToScale` or
/// `ScalingLimited` with status True mean Healthy; otherwise "Waiting to Autoscale".
/// Unlike the first-match loop of older gitops-engine versions, a degraded condition
/// wins wherever it appears in the list (an HPA that can scale but cannot read its
/// metrics is Degraded, not Healthy).
pub fn hpa_health(hpa: &HorizontalPodAutoscaler) -> Health {
    const DEGRADED: [(&str, &str); 4] = [
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "InvalidSelector"),
    ];
    let conditions = hpa
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let message = |c: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition| {
        c.message.clone().unwrap_or_default()
    };
    if let Some(c) = conditions.iter().find(|c| {
        let reason = c.reason.as_deref().unwrap_or_default();
        DEGRADED.iter().any(|(t, r)| c.type_ == *t && reason == *r)
    }) {
        return Health::new(HealthStatus::Degraded, message(c));
    }
    if let Some(c) = conditions
        .iter()
        .find(|c| (c.type_ == "AbleToScale" || c.type_ == "ScalingLimited") && c.status == "True")
    {
        return Health::new(HealthStatus::Healthy, message(c));
    }
    Health::progressing("Waiting to Autoscale")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(json: &str) -> Pod {
        serde_json::from_str(json).expect("pod fixture parses")
    }

    fn pod_value(json: &str) -> serde_json::Value {
        serde_json::from_str(json).expect("fixture is JSON")
    }

    fn from_value(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("patched pod parses")
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    fn assert_pod(
        st: &PodStatus,
        text: &str,
        class: PodClass,
        ready: (u32, u32),
        restarts: u32,
        problem: bool,
    ) {
        assert_eq!(st.text, text, "text of {st:?}");
        assert_eq!(st.class, class, "class of {st:?}");
        assert_eq!(st.ready, ready, "ready of {st:?}");
        assert_eq!(st.restarts, restarts, "restarts of {st:?}");
        assert_eq!(st.is_problem(), problem, "is_problem of {st:?}");
    }

    const RUNNING_READY: &str = include_str!("../../tests/fixtures/pods/running-ready.json");
    const EVICTED: &str = include_str!("../../tests/fixtures/pods/evicted.json");

    #[test]
    fn running_ready() {
        let st = pod_status(&pod(RUNNING_READY));
        assert_pod(&st, "Running", PodClass::Running, (1, 1), 0, false);
        assert_eq!(st.last_restart, None);
        assert_eq!(st.ready_text(), "1/1");
    }

    #[test]
    fn pending_unscheduled() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/pending-unscheduled.json"
        )));
        assert_pod(&st, "Pending", PodClass::Pending, (0, 1), 0, false);
    }

    #[test]
    fn container_creating() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/container-creating.json"
        )));
        assert_pod(
            &st,
            "ContainerCreating",
            PodClass::Pending,
            (0, 1),
            0,
            false,
        );
    }

    #[test]
    fn crashloopbackoff() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/crashloopbackoff.json"
        )));
        assert_pod(
            &st,
            "CrashLoopBackOff",
            PodClass::CrashLooping,
            (0, 1),
            7,
            true,
        );
        assert_eq!(st.last_restart, Some(ts("2025-05-14T09:41:12Z")));
    }

    #[test]
    fn imagepullbackoff() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/imagepullbackoff.json"
        )));
        assert_pod(&st, "ImagePullBackOff", PodClass::Failed, (0, 1), 0, true);
    }

    #[test]
    fn errimagepull() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/errimagepull.json"
        )));
        assert_pod(&st, "ErrImagePull", PodClass::Failed, (0, 1), 0, true);
    }

    #[test]
    fn init_one_of_two_running() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/init-running.json"
        )));
        assert_pod(&st, "Init:1/2", PodClass::Pending, (0, 1), 0, false);
    }

    #[test]
    fn init_crashloopbackoff_counts_init_restarts() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/init-crashloopbackoff.json"
        )));
        assert_pod(
            &st,
            "Init:CrashLoopBackOff",
            PodClass::CrashLooping,
            (0, 1),
            4,
            true,
        );
        assert_eq!(st.last_restart, Some(ts("2025-05-14T10:02:31Z")));
    }

    #[test]
    fn terminating() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/terminating.json"
        )));
        assert_pod(&st, "Terminating", PodClass::Terminating, (1, 1), 0, false);
    }

    #[test]
    fn completed_job_pod() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/completed-job.json"
        )));
        assert_pod(&st, "Completed", PodClass::Succeeded, (0, 1), 0, false);
    }

    #[test]
    fn evicted() {
        let st = pod_status(&pod(EVICTED));
        assert_pod(&st, "Evicted", PodClass::Failed, (0, 1), 0, true);
    }

    #[test]
    fn evicted_with_terminated_container_shows_container_reason_like_kubectl() {
        let mut v = pod_value(EVICTED);
        v["status"]["containerStatuses"] = json!([{
            "containerID": "containerd://3f1c",
            "image": "ghcr.io/acme/web:1.4.2",
            "imageID": "ghcr.io/acme/web@sha256:9b1e",
            "lastState": {},
            "name": "web",
            "ready": false,
            "restartCount": 0,
            "started": false,
            "state": {"terminated": {
                "exitCode": 137, "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
                "finishedAt": null, "startedAt": null
            }}
        }]);
        let st = pod_status(&from_value(v));
        assert_pod(
            &st,
            "ContainerStatusUnknown",
            PodClass::Failed,
            (0, 1),
            0,
            true,
        );
    }

    #[test]
    fn oomkilled() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/oomkilled.json"
        )));
        assert_pod(&st, "OOMKilled", PodClass::Failed, (0, 1), 2, true);
        assert_eq!(st.last_restart, Some(ts("2025-05-14T08:15:40Z")));
    }

    #[test]
    fn error_exit_code_1() {
        let st = pod_status(&pod(include_str!("../../tests/fixtures/pods/error.json")));
        assert_pod(&st, "Error", PodClass::Failed, (0, 1), 0, true);
    }

    #[test]
    fn running_not_ready() {
        let st = pod_status(&pod(include_str!(
            "../../tests/fixtures/pods/running-not-ready.json"
        )));
        assert_pod(&st, "Running", PodClass::Running, (0, 1), 0, true);
    }

    #[test]
    fn terminated_without_reason_shows_signal_or_exit_code() {
        let mut v = pod_value(RUNNING_READY);
        v["status"]["containerStatuses"][0]["ready"] = json!(false);
        v["status"]["containerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 143, "signal": 15}});
        let st = pod_status(&from_value(v.clone()));
        assert_pod(&st, "Signal:15", PodClass::Failed, (0, 1), 0, true);

        v["status"]["containerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 2}});
        let st = pod_status(&from_value(v));
        assert_pod(&st, "ExitCode:2", PodClass::Failed, (0, 1), 0, true);
    }

    #[test]
    fn completed_sidecar_next_to_running_container_is_running_or_not_ready() {
        let mut v = pod_value(RUNNING_READY);
        v["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "migrate", "image": "ghcr.io/acme/migrate:1.4.2"}));
        v["status"]["containerStatuses"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "name": "migrate", "image": "ghcr.io/acme/migrate:1.4.2", "imageID": "",
                "ready": false, "restartCount": 0, "started": false,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}
            }));
        // The last container in the list completed, the first one runs and is ready.
        let st = pod_status(&from_value(v.clone()));
        assert_pod(&st, "Running", PodClass::Running, (1, 2), 0, true);

        // Same, but the pod's Ready condition is False: kubectl says NotReady.
        for c in v["status"]["conditions"].as_array_mut().unwrap() {
            if c["type"] == "Ready" {
                c["status"] = json!("False");
            }
        }
        let st = pod_status(&from_value(v));
        assert_pod(&st, "NotReady", PodClass::Running, (1, 2), 0, true);
    }

    #[test]
    fn scheduling_gated() {
        let mut v = pod_value(include_str!(
            "../../tests/fixtures/pods/pending-unscheduled.json"
        ));
        v["status"]["conditions"] = json!([{
            "type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
            "lastProbeTime": null, "lastTransitionTime": "2025-05-14T09:00:00Z"
        }]);
        let st = pod_status(&from_value(v));
        assert_pod(&st, "SchedulingGated", PodClass::Pending, (0, 1), 0, false);
    }

    #[test]
    fn deleted_pod_on_lost_node_is_unknown() {
        let mut v = pod_value(include_str!("../../tests/fixtures/pods/terminating.json"));
        v["status"]["reason"] = json!("NodeLost");
        let st = pod_status(&from_value(v));
        assert_pod(&st, "Unknown", PodClass::Unknown, (1, 1), 0, true);
    }

    #[test]
    fn deleted_pod_in_terminal_phase_keeps_its_status() {
        let mut v = pod_value(include_str!("../../tests/fixtures/pods/completed-job.json"));
        v["metadata"]["deletionTimestamp"] = json!("2025-05-14T11:00:00Z");
        let st = pod_status(&from_value(v));
        assert_pod(&st, "Completed", PodClass::Succeeded, (0, 1), 0, false);
    }

    #[test]
    fn restartable_init_sidecar_counts_as_container() {
        let mut v = pod_value(RUNNING_READY);
        v["spec"]["initContainers"] = json!([{
            "name": "proxy", "image": "envoyproxy/envoy:v1.30.1", "restartPolicy": "Always"
        }]);
        v["status"]["initContainerStatuses"] = json!([{
            "name": "proxy", "image": "envoyproxy/envoy:v1.30.1", "imageID": "",
            "ready": true, "restartCount": 3, "started": true,
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                "finishedAt": "2025-05-14T07:00:00Z"}},
            "state": {"running": {"startedAt": "2025-05-14T07:00:01Z"}}
        }]);
        let st = pod_status(&from_value(v));
        assert_pod(&st, "Running", PodClass::Running, (2, 2), 3, false);
        assert_eq!(st.last_restart, Some(ts("2025-05-14T07:00:00Z")));
    }

    #[test]
    fn init_container_failed_without_reason() {
        let mut v = pod_value(include_str!("../../tests/fixtures/pods/init-running.json"));
        v["status"]["initContainerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 3}});
        let st = pod_status(&from_value(v.clone()));
        assert_pod(&st, "Init:ExitCode:3", PodClass::Failed, (0, 1), 0, true);

        v["status"]["initContainerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 137, "signal": 9}});
        let st = pod_status(&from_value(v));
        assert_pod(&st, "Init:Signal:9", PodClass::Failed, (0, 1), 0, true);
    }

    #[test]
    fn pod_without_status_is_unknown() {
        let mut v = pod_value(RUNNING_READY);
        v.as_object_mut().unwrap().remove("status");
        let st = pod_status(&from_value(v));
        assert_pod(&st, "", PodClass::Unknown, (0, 1), 0, true);
    }

    // ---- workloads ----

    fn deployment(json: &str) -> Deployment {
        serde_json::from_str(json).expect("deployment fixture parses")
    }

    const DEPLOY_HEALTHY: &str =
        include_str!("../../tests/fixtures/workloads/deployment-healthy.json");

    #[test]
    fn deployment_healthy() {
        assert_eq!(
            deployment_health(&deployment(DEPLOY_HEALTHY)),
            Health::new(HealthStatus::Healthy, "")
        );
    }

    #[test]
    fn deployment_progressing() {
        let d = deployment(include_str!(
            "../../tests/fixtures/workloads/deployment-progressing.json"
        ));
        assert_eq!(
            deployment_health(&d),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for rollout to finish: 2 out of 3 new replicas have been updated..."
            )
        );
    }

    #[test]
    fn deployment_degraded() {
        let d = deployment(include_str!(
            "../../tests/fixtures/workloads/deployment-degraded.json"
        ));
        assert_eq!(
            deployment_health(&d),
            Health::new(
                HealthStatus::Degraded,
                "Deployment \"checkout\" exceeded its progress deadline"
            )
        );
    }

    #[test]
    fn deployment_paused() {
        let d = deployment(include_str!(
            "../../tests/fixtures/workloads/deployment-paused.json"
        ));
        assert_eq!(
            deployment_health(&d),
            Health::new(HealthStatus::Suspended, "Deployment is paused")
        );
    }

    #[test]
    fn deployment_rollout_steps() {
        let base: serde_json::Value = serde_json::from_str(DEPLOY_HEALTHY).unwrap();

        let mut v = base.clone();
        v["metadata"]["generation"] = json!(4);
        assert_eq!(
            deployment_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for rollout to finish: observed deployment generation less than desired generation"
            )
        );

        let mut v = base.clone();
        v["status"]["replicas"] = json!(4);
        assert_eq!(
            deployment_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for rollout to finish: 1 old replicas are pending termination..."
            )
        );

        let mut v = base;
        v["status"]["availableReplicas"] = json!(2);
        assert_eq!(
            deployment_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for rollout to finish: 2 of 3 updated replicas are available..."
            )
        );
    }

    fn statefulset(json: &str) -> StatefulSet {
        serde_json::from_str(json).expect("statefulset fixture parses")
    }

    const STS_HEALTHY: &str =
        include_str!("../../tests/fixtures/workloads/statefulset-healthy.json");

    #[test]
    fn statefulset_healthy() {
        assert_eq!(
            statefulset_health(&statefulset(STS_HEALTHY)),
            Health::new(
                HealthStatus::Healthy,
                "partitioned roll out complete: 3 new pods have been updated..."
            )
        );
    }

    #[test]
    fn statefulset_progressing() {
        let s = statefulset(include_str!(
            "../../tests/fixtures/workloads/statefulset-progressing.json"
        ));
        assert_eq!(
            statefulset_health(&s),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for 1 pods to be ready..."
            )
        );
    }

    #[test]
    fn statefulset_other_paths() {
        let base: serde_json::Value = serde_json::from_str(STS_HEALTHY).unwrap();

        let mut v = base.clone();
        v["status"]["updatedReplicas"] = json!(1);
        assert_eq!(
            statefulset_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated..."
            )
        );

        let mut v = base.clone();
        v["status"]["observedGeneration"] = json!(1);
        assert_eq!(
            statefulset_health(&serde_json::from_value(v).unwrap()).message,
            "Waiting for statefulset spec update to be observed..."
        );

        let mut v = base.clone();
        v["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        assert_eq!(
            statefulset_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Healthy,
                "statefulset has 3 ready pods (3 updated)"
            )
        );

        // No update strategy (not defaulted): compare revisions.
        let mut v = base;
        v["spec"].as_object_mut().unwrap().remove("updateStrategy");
        v["status"]["updateRevision"] = json!("orders-db-7c9d5f6b8");
        assert_eq!(
            statefulset_health(&serde_json::from_value(v.clone()).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "waiting for statefulset rolling update to complete 3 pods at revision orders-db-7c9d5f6b8..."
            )
        );
        v["status"]["currentRevision"] = json!("orders-db-7c9d5f6b8");
        assert_eq!(
            statefulset_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Healthy,
                "statefulset rolling update complete 3 pods at revision orders-db-7c9d5f6b8..."
            )
        );
    }

    #[test]
    fn daemonset_paths() {
        let base: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/workloads/daemonset-healthy.json"
        ))
        .unwrap();
        let d: DaemonSet = serde_json::from_value(base.clone()).unwrap();
        assert_eq!(daemonset_health(&d), Health::new(HealthStatus::Healthy, ""));

        let mut v = base.clone();
        v["status"]["updatedNumberScheduled"] = json!(1);
        assert_eq!(
            daemonset_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for daemon set \"node-exporter\" rollout to finish: 1 out of 3 new pods have been updated..."
            )
        );

        let mut v = base.clone();
        v["status"]["numberAvailable"] = json!(2);
        assert_eq!(
            daemonset_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Progressing,
                "Waiting for daemon set \"node-exporter\" rollout to finish: 2 of 3 updated pods are available..."
            )
        );

        let mut v = base.clone();
        v["metadata"]["generation"] = json!(9);
        assert_eq!(
            daemonset_health(&serde_json::from_value(v).unwrap()).message,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation"
        );

        let mut v = base;
        v["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        v["status"]["updatedNumberScheduled"] = json!(1);
        assert_eq!(
            daemonset_health(&serde_json::from_value(v).unwrap()),
            Health::new(
                HealthStatus::Healthy,
                "daemon set 1 out of 3 new pods have been updated"
            )
        );
    }

    const HPA: &str = include_str!("../../tests/fixtures/workloads/hpa.json");

    #[test]
    fn hpa_healthy() {
        let h: HorizontalPodAutoscaler = serde_json::from_str(HPA).unwrap();
        assert_eq!(
            hpa_health(&h),
            Health::new(
                HealthStatus::Healthy,
                "recommended size matches current size"
            )
        );
    }

    #[test]
    fn hpa_degraded_even_when_able_to_scale() {
        let mut v: serde_json::Value = serde_json::from_str(HPA).unwrap();
        v["status"]["conditions"][1] = json!({
            "type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
            "message": "the HPA was unable to compute the replica count: failed to get cpu utilization",
            "lastTransitionTime": "2025-05-14T09:00:00Z"
        });
        let h: HorizontalPodAutoscaler = serde_json::from_value(v).unwrap();
        assert_eq!(
            hpa_health(&h),
            Health::new(
                HealthStatus::Degraded,
                "the HPA was unable to compute the replica count: failed to get cpu utilization"
            )
        );
    }

    #[test]
    fn hpa_without_conditions_waits() {
        let mut v: serde_json::Value = serde_json::from_str(HPA).unwrap();
        v["status"].as_object_mut().unwrap().remove("conditions");
        let h: HorizontalPodAutoscaler = serde_json::from_value(v).unwrap();
        assert_eq!(
            hpa_health(&h),
            Health::new(HealthStatus::Progressing, "Waiting to Autoscale")
        );
    }

    #[test]
    fn glyphs_are_distinct_and_order_follows_argo() {
        let all = [
            HealthStatus::Healthy,
            HealthStatus::Progressing,
            HealthStatus::Degraded,
            HealthStatus::Suspended,
            HealthStatus::Missing,
            HealthStatus::Unknown,
        ];
        let glyphs: std::collections::HashSet<_> = all.iter().map(|s| s.glyph()).collect();
        assert_eq!(glyphs.len(), all.len());
        let labels: std::collections::HashSet<_> = all.iter().map(|s| s.label()).collect();
        assert_eq!(labels.len(), all.len());
        assert!(HealthStatus::Degraded.is_worse_than(HealthStatus::Progressing));
        assert!(HealthStatus::Progressing.is_worse_than(HealthStatus::Suspended));
        assert!(HealthStatus::Suspended.is_worse_than(HealthStatus::Healthy));
        assert!(!HealthStatus::Healthy.is_worse_than(HealthStatus::Missing));
        assert_eq!(HealthStatus::Degraded.to_string(), "Degraded");
    }
}
