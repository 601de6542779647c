//! Why a change's new pods are not coming up, said in the terms an on-call engineer uses:
//! which pods, their STATUS as kubectl shows it, the container's exit code or OOM kill with
//! its memory limit, the last lines of the crashing container's log, the newest Warning
//! events — and whether that is clearly broken, so the change can be judged failed at once
//! instead of waiting out its timeout.
//!
//! [`judge`] is the rule, a pure function of the objects (tested on fixtures);
//! [`diagnose`] reads them from the cluster and adds logs and events.
//!
//! Clearly broken, as a pod created by the change:
//! - a container waiting in `CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`,
//!   `CreateContainerConfigError`, `CreateContainerError`, `InvalidImageName` or
//!   `RunContainerError`;
//! - a container whose last run was `OOMKilled`;
//! - a container restarted [`RESTARTS_BROKEN`] times or more;
//!
//! or a Deployment of the release whose `Progressing` condition says
//! `ProgressDeadlineExceeded`.

use super::simulated::ManifestWorkload;
use crate::core::cluster::model::WorkloadKind;
use crate::core::health::pod_status;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ContainerStatus, Event as K8sEvent, Pod};
use kube::Api;
use std::collections::BTreeMap;

/// Restarts of one container that count as broken even between crash-loop back-offs.
pub const RESTARTS_BROKEN: i32 = 3;

/// Container waiting reasons that do not get better by waiting.
const BROKEN_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

/// How many broken pods get their log read and are named in full.
const NAMED: usize = 5;

/// One broken pod of the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenPod {
    pub pod: String,
    pub container: String,
    /// STATUS as `kubectl get pods` shows it.
    pub status: String,
    /// `exit code 1, 4 restarts`, `OOMKilled (exit code 137; memory limit 64Mi)`, the
    /// waiting message of an image that cannot be pulled…
    pub detail: String,
    /// The last lines of the container's log (of its previous run when it restarted).
    pub last_log: Vec<String>,
    /// The newest Warning event about the pod: `BackOff: Back-off restarting failed container`.
    pub warning: Option<String>,
}

/// What is wrong with a change's rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    pub broken: Vec<BrokenPod>,
    /// `deploy/router: ReplicaSet "router-abc" has timed out progressing.`
    pub stalled: Vec<String>,
}

impl Diagnosis {
    /// Whether the change is clearly broken.
    pub fn is_broken(&self) -> bool {
        !self.broken.is_empty() || !self.stalled.is_empty()
    }

    /// One line: `2 new pods broken: forwarder-x CrashLoopBackOff (exit code 1, 3 restarts), …`.
    pub fn headline(&self) -> String {
        let mut parts = Vec::new();
        if !self.broken.is_empty() {
            let pods: Vec<String> = self
                .broken
                .iter()
                .take(NAMED)
                .map(|b| format!("{} {} ({})", b.pod, b.status, b.detail))
                .collect();
            let more = self.broken.len().saturating_sub(NAMED);
            parts.push(format!(
                "{} new pod{} broken: {}{}",
                self.broken.len(),
                if self.broken.len() == 1 { "" } else { "s" },
                pods.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        parts.extend(self.stalled.iter().cloned());
        parts.join("; ")
    }

    /// The headline, then per pod its last log lines and newest Warning event.
    pub fn details(&self) -> String {
        let mut lines = vec![self.headline()];
        for b in self.broken.iter().take(NAMED) {
            if let Some(w) = &b.warning {
                lines.push(format!("  {}: Warning {w}", b.pod));
            }
            if !b.last_log.is_empty() {
                lines.push(format!("  {} [{}] last log lines:", b.pod, b.container));
                lines.extend(b.last_log.iter().map(|l| format!("    {l}")));
            }
        }
        lines.join("\n")
    }
}

/// Whether a pod belongs to one of the release's workloads (by the names their controllers
/// give pods: `<deployment>-<hash>-<id>`, `<statefulset>-<ordinal>`, `<daemonset>-<id>`).
fn belongs(pod: &str, workloads: &[ManifestWorkload]) -> bool {
    workloads.iter().any(|w| {
        pod.strip_prefix(w.name.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// What is broken about one container, if anything.
fn broken_container(c: &ContainerStatus, memory_limit: Option<&str>) -> Option<(String, String)> {
    let restarts = c.restart_count;
    let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let exit = last.map(|t| {
        let mut e = format!("exit code {}", t.exit_code);
        if let Some(sig) = t.signal {
            e.push_str(&format!(", signal {sig}"));
        }
        e
    });
    let restarts_text = format!("{restarts} restart{}", if restarts == 1 { "" } else { "s" });
    if let Some(t) = last
        && t.reason.as_deref() == Some("OOMKilled")
    {
        let limit = memory_limit
            .map(|l| format!("; memory limit {l}"))
            .unwrap_or_else(|| "; no memory limit".into());
        return Some((
            "OOMKilled".into(),
            format!(
                "OOMKilled ({}{limit}), {restarts_text}",
                exit.unwrap_or_default()
            ),
        ));
    }
    if let Some(w) = waiting
        && let Some(reason) = w.reason.as_deref()
        && BROKEN_WAITING.contains(&reason)
    {
        let detail = match (reason, &exit) {
            ("CrashLoopBackOff", Some(e)) => format!("{e}, {restarts_text}"),
            _ => w
                .message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or(restarts_text),
        };
        return Some((reason.to_string(), detail));
    }
    if restarts >= RESTARTS_BROKEN {
        let detail = match exit {
            Some(e) => format!("{e}, {restarts_text}"),
            None => restarts_text,
        };
        return Some(("restarting".into(), detail));
    }
    None
}

/// The rule: the new pods (created at or after `since`) of the release's workloads that are
/// clearly broken, and its Deployments past their progress deadline. Logs and events are
/// left empty (see [`diagnose`]).
pub fn judge(
    pods: &[Pod],
    deployments: &[Deployment],
    workloads: &[ManifestWorkload],
    since: jiff::Timestamp,
) -> Diagnosis {
    let mut broken = Vec::new();
    for p in pods {
        let name = p.metadata.name.clone().unwrap_or_default();
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if !belongs(&name, workloads)
            || created.is_none_or(|c| c < since)
            || p.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let status = p.status.clone().unwrap_or_default();
        let limits: BTreeMap<String, String> = p
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .filter_map(|c| {
                let mem = c.resources.as_ref()?.limits.as_ref()?.get("memory")?;
                Some((c.name.clone(), mem.0.clone()))
            })
            .collect();
        let containers = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        if let Some((c, (_, detail))) = containers
            .filter_map(|c| {
                broken_container(c, limits.get(&c.name).map(String::as_str)).map(|b| (c, b))
            })
            .next()
        {
            broken.push(BrokenPod {
                pod: name,
                container: c.name.clone(),
                status: pod_status(p).text,
                detail,
                last_log: Vec::new(),
                warning: None,
            });
        }
    }
    let stalled = deployments
        .iter()
        .filter(|d| {
            let name = d.metadata.name.as_deref().unwrap_or("");
            workloads
                .iter()
                .any(|w| w.kind == WorkloadKind::Deployment && w.name == name)
        })
        .filter_map(|d| {
            let cond = d
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "Progressing")?;
            (cond.reason.as_deref() == Some("ProgressDeadlineExceeded")).then(|| {
                format!(
                    "deploy/{}: {}",
                    d.metadata.name.as_deref().unwrap_or(""),
                    cond.message
                        .as_deref()
                        .unwrap_or("ProgressDeadlineExceeded")
                )
            })
        })
        .collect();
    Diagnosis { broken, stalled }
}

/// Reads the release's pods and Deployments in `ns`, judges them ([`judge`]), then adds the
/// last log lines and the newest Warning event of the first broken pods. A read that fails
/// gives an empty diagnosis (nothing known to be broken).
pub async fn diagnose(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    since: jiff::Timestamp,
) -> Diagnosis {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let (Ok(p), Ok(d)) = (
        pods.list(&Default::default()).await,
        deployments.list(&Default::default()).await,
    ) else {
        return Diagnosis::default();
    };
    let mut diagnosis = judge(&p.items, &d.items, workloads, since);
    if diagnosis.broken.is_empty() {
        return diagnosis;
    }
    let warnings = newest_warnings(client, ns).await;
    for b in diagnosis.broken.iter_mut().take(NAMED) {
        b.warning = warnings.get(&b.pod).cloned();
        b.last_log = last_log(&pods, &b.pod, &b.container).await;
    }
    diagnosis
}

/// The last lines of a container's log: of its previous run when there was one (a crash
/// loop's current container has not written anything yet), else of the current.
async fn last_log(pods: &Api<Pod>, pod: &str, container: &str) -> Vec<String> {
    for previous in [true, false] {
        let params = kube::api::LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: Some(3),
            ..Default::default()
        };
        if let Ok(text) = pods.logs(pod, &params).await {
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from)
                .collect();
            if !lines.is_empty() {
                return lines;
            }
        }
    }
    Vec::new()
}

/// The newest Warning event per object name: `Reason: message`.
async fn newest_warnings(client: &kube::Client, ns: &str) -> BTreeMap<String, String> {
    let api: Api<K8sEvent> = Api::namespaced(client.clone(), ns);
    let Ok(list) = api.list(&Default::default()).await else {
        return BTreeMap::new();
    };
    let mut newest: BTreeMap<String, (jiff::Timestamp, String)> = BTreeMap::new();
    for e in list.items {
        if e.type_.as_deref() != Some("Warning") {
            continue;
        }
        let Some(obj) = e.involved_object.name.clone() else {
            continue;
        };
        let at = e
            .last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let text = format!(
            "{}: {}",
            e.reason.unwrap_or_default(),
            e.message.unwrap_or_default().trim()
        );
        if newest.get(&obj).is_none_or(|(t, _)| *t <= at) {
            newest.insert(obj, (at, text));
        }
    }
    newest.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workloads() -> Vec<ManifestWorkload> {
        vec![ManifestWorkload {
            kind: WorkloadKind::Deployment,
            name: "forwarder".into(),
            images: Vec::new(),
        }]
    }

    fn pod(name: &str, created: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"containers": [{"name": "app", "image": "x",
                "resources": {"limits": {"memory": "64Mi"}}}]},
            "status": status,
        }))
        .unwrap()
    }

    fn since() -> jiff::Timestamp {
        "2026-11-30T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_crash_looping_new_pod_is_broken_with_its_exit_code() {
        let crashing = pod(
            "forwarder-7c9f-abcde",
            "2026-11-30T10:00:05Z",
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 2, "image": "x", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }]}),
        );
        let d = judge(&[crashing], &[], &workloads(), since());
        assert!(d.is_broken());
        assert_eq!(
            d.headline(),
            "1 new pod broken: forwarder-7c9f-abcde CrashLoopBackOff (exit code 1, 2 restarts)"
        );
    }

    #[test]
    fn an_oom_killed_pod_names_its_memory_limit() {
        let oom = pod(
            "forwarder-7c9f-fghij",
            "2026-11-30T10:00:05Z",
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 1, "image": "x", "imageID": "",
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
            }]}),
        );
        let d = judge(&[oom], &[], &workloads(), since());
        assert_eq!(
            d.broken[0].detail,
            "OOMKilled (exit code 137; memory limit 64Mi), 1 restart"
        );
    }

    #[test]
    fn old_pods_other_workloads_and_healthy_pods_are_not_judged() {
        let waiting = json!({"phase": "Pending", "containerStatuses": [{
            "name": "app", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}},
        }]});
        let old = pod("forwarder-1-aaaaa", "2026-11-30T09:00:00Z", waiting.clone());
        let other = pod("router-1-bbbbb", "2026-11-30T10:00:05Z", waiting.clone());
        let prefix_only = pod(
            "forwarders-1-ccccc",
            "2026-11-30T10:00:05Z",
            waiting.clone(),
        );
        let creating = pod(
            "forwarder-2-ddddd",
            "2026-11-30T10:00:05Z",
            json!({"phase": "Pending", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }]}),
        );
        let d = judge(
            &[old, other, prefix_only, creating],
            &[],
            &workloads(),
            since(),
        );
        assert!(!d.is_broken(), "{d:?}");
        let pulling = pod("forwarder-2-eeeee", "2026-11-30T10:00:05Z", waiting);
        let d = judge(&[pulling], &[], &workloads(), since());
        assert_eq!(
            d.headline(),
            "1 new pod broken: forwarder-2-eeeee ImagePullBackOff (Back-off pulling image \"x\")"
        );
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_is_broken() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "forwarder"},
            "status": {"conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"forwarder-7c9f\" has timed out progressing."}]},
        }))
        .unwrap();
        let diag = judge(&[], &[d], &workloads(), since());
        assert_eq!(
            diag.headline(),
            "deploy/forwarder: ReplicaSet \"forwarder-7c9f\" has timed out progressing."
        );
    }
}
