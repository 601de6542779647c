//! Workload controllers: Deployment (rolling update through ReplicaSets), ReplicaSet,
//! StatefulSet (ordered, rolling in reverse ordinal order), DaemonSet, and the status of
//! HorizontalPodAutoscalers and PodDisruptionBudgets.

use super::super::metrics;
use super::super::resources::Storage;
use super::super::selector::{FieldSelector, LabelSelector};
use super::super::store::now_rfc3339;
use super::Controllers;
use super::util::{
    PodSlim, condition, hpa_desired_replicas, int_or_percent, pdb_desired_healthy, pod_is_ready,
    set_condition, template_hash,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn owner_ref(v: &Value) -> Value {
    json!({
        "apiVersion": v["apiVersion"], "kind": v["kind"], "name": v["metadata"]["name"],
        "uid": v["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
    })
}

fn replicas(v: &Value) -> i64 {
    v["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn is_terminating(v: &Value) -> bool {
    v["metadata"].get("deletionTimestamp").is_some()
}

/// The counts of an owner's live pods.
#[derive(Debug, Default, Clone, Copy)]
struct PodCounts {
    live: i64,
    ready: i64,
    /// Ready for minReadySeconds.
    available: i64,
    /// Seconds until the next ready pod becomes available.
    next_available: Option<i64>,
}

/// Since when (unix seconds) a pod has been Ready, if it is.
fn ready_since(p: &Value) -> Option<i64> {
    let c = condition(p, "Ready").filter(|c| c["status"] == "True")?;
    Some(
        c["lastTransitionTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second()),
    )
}

/// maxSurge (rounded up) and maxUnavailable (rounded down) of a rolling update, of
/// `replicas`; both zero makes maxUnavailable 1 (the deployment controller's ResolveFenceposts).
pub(crate) fn rolling_limits(strategy: &Value, replicas: i64) -> (i64, i64) {
    let ru = &strategy["rollingUpdate"];
    let surge = int_or_percent(&ru["maxSurge"], replicas, true, "25%").max(0);
    let mut unavailable = int_or_percent(&ru["maxUnavailable"], replicas, false, "25%").max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// SetDeploymentCondition: nothing changes when the status and reason are the same; the
/// transition time is kept while the status is; the condition goes to the end of the list.
fn set_deployment_condition(v: &mut Value, kind: &str, status: &str, reason: &str, message: &str) {
    let now = now_rfc3339();
    let mut transition = json!(now);
    if let Some(c) = condition(v, kind) {
        if c["status"] == status && c["reason"] == reason {
            return;
        }
        if c["status"] == status {
            transition = c["lastTransitionTime"].clone();
        }
    }
    remove_condition(v, kind);
    if !v["status"]["conditions"].is_array() {
        v["status"]["conditions"] = json!([]);
    }
    if let Some(cs) = v["status"]["conditions"].as_array_mut() {
        cs.push(json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": now, "lastTransitionTime": transition,
        }));
    }
}

fn remove_condition(v: &mut Value, kind: &str) {
    if let Some(cs) = v["status"]["conditions"].as_array_mut() {
        cs.retain(|c| c["type"] != kind);
    }
}

fn condition_mut<'a>(v: &'a mut Value, kind: &str) -> Option<&'a mut Value> {
    v["status"]["conditions"]
        .as_array_mut()?
        .iter_mut()
        .find(|c| c["type"] == kind)
}

impl Controllers {
    /// A pod from a template, owned by `owner`; running at once when settling.
    pub(crate) fn create_pod(
        &mut self,
        owner: &Value,
        template: &Value,
        ns: &str,
        name: Option<String>,
        labels: &[(&str, String)],
        node: Option<(String, usize)>,
    ) {
        let mut meta = json!({
            "namespace": ns,
            "labels": template["metadata"]["labels"].clone(),
            "ownerReferences": [owner_ref(owner)],
        });
        match name {
            Some(n) => meta["name"] = json!(n),
            None => {
                meta["generateName"] = json!(format!(
                    "{}-",
                    owner["metadata"]["name"].as_str().unwrap_or("pod")
                ))
            }
        }
        if !meta["labels"].is_object() {
            meta["labels"] = json!({});
        }
        for (k, v) in labels {
            meta["labels"][*k] = json!(v);
        }
        if let Some(a) = template["metadata"].get("annotations") {
            meta["annotations"] = a.clone();
        }
        let mut spec = template["spec"].clone();
        for (k, d) in [
            ("restartPolicy", json!("Always")),
            ("terminationGracePeriodSeconds", json!(30)),
            ("dnsPolicy", json!("ClusterFirst")),
            ("schedulerName", json!("default-scheduler")),
            ("serviceAccountName", json!("default")),
        ] {
            if spec.get(k).is_none() {
                spec[k] = d;
            }
        }
        let mut pod = json!({"metadata": meta, "spec": spec, "status": {"phase": "Pending", "qosClass": "Burstable"}});
        let node = node.or_else(|| {
            if !self.instant {
                return None;
            }
            self.pick_node()
        });
        if let Some((node, idx)) = node {
            if self.instant && self.cfg.fault_for(&pod).is_none() {
                self.running_status(&mut pod, &node, idx);
            } else {
                pod["spec"]["nodeName"] = json!(node);
                let ip = self.next_ip(idx);
                pod["status"]["podIP"] = json!(ip);
                pod["status"]["hostIP"] =
                    json!(format!("192.168.{}.{}", idx / 250, 10 + idx % 250));
                set_condition(&mut pod, "PodScheduled", "True", "", "");
            }
        }
        if let Err(e) = self.store.create(Storage::Pods, ns, pod) {
            tracing::debug!(error = %e, "pod not created");
        }
    }

    /// The pods an owner controls, as their slim view (name, labels, times, node, phase,
    /// conditions: what the workload controllers read).
    pub(crate) fn pods_of(&self, uid: &str) -> Vec<Value> {
        self.children_of(uid, Storage::Pods)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::Pods, ns, n))
            .map(|o| PodSlim::value_of(&o.json))
            .collect()
    }

    /// An owner's live (not terminating) pods: (count, ready, available after
    /// `min_ready` seconds, seconds until the next ready one becomes available).
    fn pod_counts(&self, uid: &str, min_ready: i64) -> PodCounts {
        let now = jiff::Timestamp::now().as_second();
        let mut c = PodCounts::default();
        for p in self.pods_of(uid).iter().filter(|p| !is_terminating(p)) {
            c.live += 1;
            if let Some(since) = ready_since(p) {
                c.ready += 1;
                let left = since + min_ready - now;
                if min_ready == 0 || left <= 0 {
                    c.available += 1;
                } else {
                    c.next_available = Some(c.next_available.map_or(left, |n: i64| n.min(left)));
                }
            }
        }
        c
    }

    pub(crate) fn reconcile_replicaset(&mut self, ns: &str, name: &str) {
        let Some(rs) = self.store.get(Storage::ReplicaSets, ns, name) else {
            return;
        };
        let rsv = rs.value();
        let want = replicas(&rsv);
        let mut pods: Vec<Value> = self
            .pods_of(&rs.uid)
            .into_iter()
            .filter(|p| !is_terminating(p))
            .collect();
        let have = pods.len() as i64;
        if have < want {
            let n = ((want - have) as usize).min(self.cfg.burst);
            let hash = rsv["metadata"]["labels"]["pod-template-hash"]
                .as_str()
                .unwrap_or("")
                .to_string();
            for _ in 0..n {
                let labels = if hash.is_empty() {
                    vec![]
                } else {
                    vec![("pod-template-hash", hash.clone())]
                };
                self.create_pod(&rsv, &rsv["spec"]["template"], ns, None, &labels, None);
            }
            if n < (want - have) as usize {
                self.dirty
                    .insert((Storage::ReplicaSets, ns.to_string(), name.to_string()));
            }
        } else if have > want {
            // Unscheduled first, then not ready, then the newest.
            pods.sort_by_key(|p| {
                let scheduled = p["spec"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty());
                (
                    scheduled,
                    pod_is_ready(p),
                    std::cmp::Reverse(
                        p["metadata"]["creationTimestamp"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    ),
                )
            });
            for p in pods.iter().take((have - want) as usize) {
                let pn = p["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.delete_pod(ns, &pn);
            }
        }
        let min_ready = rsv["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let c = self.pod_counts(&rs.uid, min_ready);
        if let Some(secs) = c.next_available {
            // Looked at again when a ready pod has been ready for minReadySeconds.
            self.requeue_after(
                Storage::ReplicaSets,
                ns,
                name,
                Duration::from_secs(secs as u64 + 1),
            );
        }
        let generation = rsv["metadata"]["generation"].clone();
        let _ = self.store.mutate(Storage::ReplicaSets, ns, name, |v| {
            // As the API serves it: replicas always, the other counts when not zero.
            let mut status = json!({"replicas": c.live, "observedGeneration": generation});
            for (k, n) in [
                ("fullyLabeledReplicas", c.live),
                ("readyReplicas", c.ready),
                ("availableReplicas", c.available),
            ] {
                if n != 0 {
                    status[k] = json!(n);
                }
            }
            if v["status"] == status {
                return false;
            }
            v["status"] = status;
            true
        });
    }

    /// The replica sets a deployment controls.
    fn replica_sets_of(&self, uid: &str) -> Vec<Value> {
        self.children_of(uid, Storage::ReplicaSets)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::ReplicaSets, ns, n))
            .map(|o| o.value())
            .collect()
    }

    /// The deployment controller (pkg/controller/deployment): the new replica set for the
    /// template, the rolling update within maxSurge and maxUnavailable (or Recreate), the
    /// status and the Available and Progressing conditions, as the real one computes them.
    pub(crate) fn reconcile_deployment(&mut self, ns: &str, name: &str) {
        let Some(d) = self.store.get(Storage::Deployments, ns, name) else {
            return;
        };
        let dv = d.value();
        let want = replicas(&dv);
        let min_ready = dv["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let template = dv["spec"]["template"].clone();
        let hash = template_hash(&template);
        let mut rses = self.replica_sets_of(&d.uid);
        let revision_of = |v: &Value| -> i64 {
            v["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0)
        };
        let max_rev = rses.iter().map(revision_of).max().unwrap_or(0);
        let paused = dv["spec"]["paused"] == true;
        // No deadline when unset (as stored by an old client) or math.MaxInt32.
        let deadline = dv["spec"]["progressDeadlineSeconds"]
            .as_i64()
            .filter(|s| *s != i32::MAX as i64);
        // A Progressing condition that the new replica set brings (created or found).
        let mut rs_cond: Option<(&str, String)> = None;
        let find_new = |rses: &[Value]| {
            rses.iter()
                .position(|r| r["metadata"]["labels"]["pod-template-hash"] == hash.as_str())
        };
        if find_new(&rses).is_none() && !paused {
            let new_name = format!("{name}-{hash}");
            let mut tpl = template.clone();
            if !tpl["metadata"]["labels"].is_object() {
                tpl["metadata"]["labels"] = json!({});
            }
            tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = dv["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let labels = tpl["metadata"]["labels"].clone();
            let max_surge = int_or_percent(
                &dv["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
                want,
                true,
                "25%",
            );
            let rs = json!({
                "metadata": {
                    "name": new_name, "namespace": ns, "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": (max_rev + 1).to_string(),
                                    "deployment.kubernetes.io/desired-replicas": want.to_string(),
                                    "deployment.kubernetes.io/max-replicas": (want + max_surge).to_string()},
                    "ownerReferences": [owner_ref(&dv)],
                },
                "spec": {"replicas": 0, "minReadySeconds": min_ready, "selector": selector, "template": tpl},
            });
            match self.store.create(Storage::ReplicaSets, ns, rs) {
                Ok(obj) => {
                    let v = obj.value();
                    self.index(Storage::ReplicaSets, ns, &new_name, &obj.uid, &v, false);
                    rses.push(v);
                    rs_cond = Some((
                        "NewReplicaSetCreated",
                        format!("Created new replica set \"{new_name}\""),
                    ));
                    if self.cfg.normal_events {
                        self.events.record(
                            &self.store,
                            &dv,
                            false,
                            "ScalingReplicaSet",
                            &format!("Scaled up replica set {new_name} from 0 to {want}"),
                            "deployment-controller",
                            None,
                        );
                    }
                }
                Err(e) => tracing::debug!(error = %e, "replica set not created"),
            }
        }
        let new_idx = find_new(&rses);
        if let Some(i) = new_idx
            && rs_cond.is_none()
            && condition(&dv, "Progressing").is_none()
        {
            rs_cond = Some((
                "FoundNewReplicaSet",
                format!(
                    "Found new replica set \"{}\"",
                    rses[i]["metadata"]["name"].as_str().unwrap_or("")
                ),
            ));
        }
        // Per replica set: its desired replicas and its live pods' counts.
        let counts: HashMap<String, PodCounts> = rses
            .iter()
            .map(|r| {
                let uid = r["metadata"]["uid"].as_str().unwrap_or("").to_string();
                let c = self.pod_counts(&uid, min_ready);
                (uid, c)
            })
            .collect();
        let uid_of = |r: &Value| r["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let mut spec: Vec<i64> = rses.iter().map(replicas).collect();
        // Available pods that stay when a replica set is cut to its desired count (it deletes
        // the unready ones first).
        let avail = |i: usize, spec: &[i64]| -> i64 {
            counts
                .get(&uid_of(&rses[i]))
                .map_or(0, |c| c.available.min(spec[i]))
        };
        let live_total: i64 = counts.values().map(|c| c.live).sum();
        let strategy = &dv["spec"]["strategy"];
        let recreate = strategy["type"] == "Recreate";
        let (surge, unavailable) = if recreate {
            (0, 0)
        } else {
            rolling_limits(strategy, want)
        };
        // Old replica sets, oldest first (as the controller scales them down).
        let mut old: Vec<usize> = (0..rses.len()).filter(|i| Some(*i) != new_idx).collect();
        old.sort_by_key(|i| {
            (
                rses[*i]["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                revision_of(&rses[*i]),
            )
        });
        if paused {
            // A paused deployment is only scaled: its one active replica set follows.
            let active: Vec<usize> = (0..rses.len()).filter(|i| spec[*i] > 0).collect();
            match active.as_slice() {
                [one] => spec[*one] = want,
                [] => {
                    if let Some(i) = new_idx.or_else(|| old.last().copied()) {
                        spec[i] = want;
                    }
                }
                _ => {}
            }
        } else if let Some(new) = new_idx {
            if recreate {
                for i in &old {
                    spec[*i] = 0;
                }
                // The new pods start once every old pod is gone (terminating ones too).
                let old_pods: usize = old
                    .iter()
                    .map(|i| self.pods_of(&uid_of(&rses[*i])).len())
                    .sum();
                if old_pods == 0 {
                    spec[new] = want;
                }
            } else {
                // reconcileNewReplicaSet: up within maxSurge (counting the pods that still
                // run too, so a watcher never sees more than replicas + maxSurge).
                let all: i64 = spec.iter().sum();
                if spec[new] > want {
                    spec[new] = want;
                } else if spec[new] < want {
                    let max_total = want + surge;
                    let room = max_total - all.max(live_total);
                    if room > 0 {
                        spec[new] += room.min(want - spec[new]);
                    }
                }
                // reconcileOldReplicaSets: down only as far as availability allows.
                let old_total: i64 = old.iter().map(|i| spec[*i]).sum();
                if old_total > 0 {
                    let all: i64 = spec.iter().sum();
                    let min_available = want - unavailable;
                    let new_unavailable = spec[new] - avail(new, &spec);
                    let mut max_down = all - min_available - new_unavailable;
                    if max_down > 0 {
                        // cleanupUnhealthyReplicas: old pods that are not available go first.
                        for i in &old {
                            if max_down <= 0 {
                                break;
                            }
                            let unhealthy = spec[*i] - avail(*i, &spec);
                            if spec[*i] == 0 || unhealthy <= 0 {
                                continue;
                            }
                            let cut = unhealthy.min(max_down);
                            spec[*i] -= cut;
                            max_down -= cut;
                        }
                        // scaleDownOldReplicaSetsForRollingUpdate: then available ones, as far
                        // as minAvailable allows.
                        let available: i64 = (0..rses.len()).map(|i| avail(i, &spec)).sum();
                        let mut down = available - min_available;
                        for i in &old {
                            if down <= 0 {
                                break;
                            }
                            let cut = spec[*i].min(down);
                            spec[*i] -= cut;
                            down -= cut;
                        }
                    }
                }
            }
        }
        let max_replicas = (want + surge).to_string();
        for (i, r) in rses.iter().enumerate() {
            let rs_name = r["metadata"]["name"].as_str().unwrap_or("").to_string();
            let target = spec[i];
            let before = replicas(r);
            let is_new = Some(i) == new_idx;
            let changed = self.store.mutate(Storage::ReplicaSets, ns, &rs_name, |v| {
                let mut changed = false;
                if replicas(v) != target {
                    v["spec"]["replicas"] = json!(target);
                    changed = true;
                }
                if is_new && v["spec"]["minReadySeconds"].as_i64().unwrap_or(0) != min_ready {
                    v["spec"]["minReadySeconds"] = json!(min_ready);
                    changed = true;
                }
                let desired = want.to_string();
                for (k, val) in [
                    ("deployment.kubernetes.io/desired-replicas", &desired),
                    ("deployment.kubernetes.io/max-replicas", &max_replicas),
                ] {
                    if v["metadata"]["annotations"][k] != val.as_str() {
                        v["metadata"]["annotations"][k] = json!(val);
                        changed = true;
                    }
                }
                changed
            });
            if before != target
                && matches!(changed, Ok(Some(_)))
                && self.cfg.normal_events
                && !(before == 0
                    && is_new
                    && rs_cond
                        .as_ref()
                        .is_some_and(|c| c.0 == "NewReplicaSetCreated"))
            {
                let verb = if target > before { "up" } else { "down" };
                self.events.record(
                    &self.store,
                    &dv,
                    false,
                    "ScalingReplicaSet",
                    &format!("Scaled {verb} replica set {rs_name} from {before} to {target}"),
                    "deployment-controller",
                    None,
                );
            }
        }
        // Status (calculateStatus), from the pods as they are now and the new desired counts.
        let sum = |f: &dyn Fn(&PodCounts) -> i64| -> i64 {
            rses.iter()
                .filter_map(|r| counts.get(&uid_of(r)))
                .map(f)
                .sum()
        };
        let total = sum(&|c| c.live);
        let ready = sum(&|c| c.ready);
        let available = sum(&|c| c.available);
        let updated = new_idx
            .and_then(|i| counts.get(&uid_of(&rses[i])))
            .map_or(0, |c| c.live);
        let unavailable_now = (spec.iter().sum::<i64>() - available).max(0);
        let new_rs_name = new_idx.map(|i| {
            rses[i]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        });
        let revision = new_idx
            .map(|i| {
                rses[i]["metadata"]["annotations"]["deployment.kubernetes.io/revision"].clone()
            })
            .filter(|r| r.is_string());
        let generation = dv["metadata"]["generation"].as_i64().unwrap_or(1);
        let next_available = rses
            .iter()
            .filter_map(|r| counts.get(&uid_of(r)).and_then(|c| c.next_available))
            .min();
        let mut recheck: Option<i64> = next_available.map(|s| s + 1);
        let _ = self.store.mutate(Storage::Deployments, ns, name, |v| {
            let original = v.clone();
            let old_status = v["status"].clone();
            let mut status = json!({"observedGeneration": generation});
            for (k, n) in [
                ("replicas", total),
                ("updatedReplicas", updated),
                ("readyReplicas", ready),
                ("availableReplicas", available),
                ("unavailableReplicas", unavailable_now),
            ] {
                if n != 0 {
                    status[k] = json!(n);
                }
            }
            if let Some(c) = old_status.get("conditions") {
                status["conditions"] = c.clone();
            }
            if let Some(c) = old_status.get("collisionCount") {
                status["collisionCount"] = c.clone();
            }
            v["status"] = status;
            if let Some(r) = &revision {
                v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = r.clone();
            }
            let n = |s: &Value, k: &str| s[k].as_i64().unwrap_or(0);
            // The replica set's condition (getNewReplicaSet), and the paused ones.
            if let Some((reason, msg)) = &rs_cond
                && deadline.is_some()
            {
                set_deployment_condition(v, "Progressing", "True", reason, msg);
            }
            let timed_out_before = condition(v, "Progressing")
                .is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
            let paused_cond =
                condition(v, "Progressing").is_some_and(|c| c["reason"] == "DeploymentPaused");
            if !timed_out_before {
                if paused && !paused_cond {
                    set_deployment_condition(
                        v,
                        "Progressing",
                        "Unknown",
                        "DeploymentPaused",
                        "Deployment is paused",
                    );
                } else if !paused && paused_cond {
                    set_deployment_condition(
                        v,
                        "Progressing",
                        "Unknown",
                        "DeploymentResumed",
                        "Deployment is resumed",
                    );
                }
            }
            // The Available condition.
            if available >= want - unavailable {
                set_deployment_condition(
                    v,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                );
            } else {
                set_deployment_condition(
                    v,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                );
            }
            // syncRolloutStatus: progress, completion, the deadline (not while paused).
            if deadline.is_none() {
                remove_condition(v, "Progressing");
            }
            let cur_reason =
                condition(v, "Progressing").map(|c| c["reason"].as_str().unwrap_or("").to_string());
            let is_complete_deployment = n(&v["status"], "replicas")
                == n(&v["status"], "updatedReplicas")
                && cur_reason.as_deref() == Some("NewReplicaSetAvailable");
            if let (Some(deadline), Some(rs_name), false, false) =
                (deadline, &new_rs_name, is_complete_deployment, paused)
            {
                let s = v["status"].clone();
                let complete = updated == want && total == want && available == want;
                let progressing = n(&s, "updatedReplicas") > n(&old_status, "updatedReplicas")
                    || (n(&s, "replicas") - n(&s, "updatedReplicas"))
                        < (n(&old_status, "replicas") - n(&old_status, "updatedReplicas"))
                    || n(&s, "readyReplicas") > n(&old_status, "readyReplicas")
                    || n(&s, "availableReplicas") > n(&old_status, "availableReplicas");
                if complete {
                    set_deployment_condition(
                        v,
                        "Progressing",
                        "True",
                        "NewReplicaSetAvailable",
                        &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                    );
                } else if progressing {
                    // Updated with a new lastUpdateTime on every progress (the transition
                    // time kept while it stays True).
                    let kept = condition(v, "Progressing")
                        .filter(|c| c["status"] == "True")
                        .map(|c| c["lastTransitionTime"].clone());
                    remove_condition(v, "Progressing");
                    set_deployment_condition(
                        v,
                        "Progressing",
                        "True",
                        "ReplicaSetUpdated",
                        &format!("ReplicaSet \"{rs_name}\" is progressing."),
                    );
                    if let Some(t) = kept
                        && let Some(c) = condition_mut(v, "Progressing")
                    {
                        c["lastTransitionTime"] = t;
                    }
                    recheck = Some(recheck.map_or(deadline + 1, |r| r.min(deadline + 1)));
                } else if let Some(c) = condition(v, "Progressing").cloned() {
                    // DeploymentTimedOut: no progress for progressDeadlineSeconds since the
                    // condition's lastUpdateTime.
                    let reason = c["reason"].as_str().unwrap_or("");
                    if reason != "NewReplicaSetAvailable" && reason != "ProgressDeadlineExceeded" {
                        let from = c["lastUpdateTime"]
                            .as_str()
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                            .map(|t| t.as_second());
                        let now = jiff::Timestamp::now().as_second();
                        match from {
                            Some(from) if from + deadline < now => {
                                set_deployment_condition(
                                    v,
                                    "Progressing",
                                    "False",
                                    "ProgressDeadlineExceeded",
                                    &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                                );
                            }
                            Some(from) => {
                                let left = from + deadline - now + 1;
                                recheck = Some(recheck.map_or(left, |r| r.min(left)));
                            }
                            None => {}
                        }
                    }
                }
            }
            *v != original
        });
        if let Some(secs) = recheck {
            self.requeue_after(
                Storage::Deployments,
                ns,
                name,
                Duration::from_secs(secs.max(1) as u64),
            );
        }
        // cleanupDeployment: old replica sets beyond revisionHistoryLimit, once complete.
        let limit = dv["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10);
        if !paused && updated == want && total == want && available == want {
            let mut idle: Vec<&Value> = old
                .iter()
                .filter(|i| {
                    spec[**i] == 0 && counts.get(&uid_of(&rses[**i])).is_some_and(|c| c.live == 0)
                })
                .map(|i| &rses[*i])
                .collect();
            let excess = idle.len() as i64 - limit;
            if excess > 0 {
                idle.sort_by_key(|r| revision_of(r));
                for r in idle.iter().take(excess as usize) {
                    let n = r["metadata"]["name"].as_str().unwrap_or("").to_string();
                    let _ = self.store.delete(Storage::ReplicaSets, ns, &n, None);
                }
            }
        }
    }

    pub(crate) fn reconcile_statefulset(&mut self, ns: &str, name: &str) {
        let Some(s) = self.store.get(Storage::StatefulSets, ns, name) else {
            return;
        };
        let sv = s.value();
        let want = replicas(&sv);
        let revision = format!("{name}-{}", template_hash(&sv["spec"]["template"]));
        let parallel = sv["spec"]["podManagementPolicy"] == "Parallel" || self.instant;
        let on_delete = sv["spec"]["updateStrategy"]["type"] == "OnDelete";
        let partition = sv["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
            .as_i64()
            .unwrap_or(0);
        let min_ready = sv["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let pods: Vec<Value> = self.pods_of(&s.uid);
        let ordinal = |p: &Value| -> i64 {
            p["metadata"]["name"]
                .as_str()
                .and_then(|n| n.rsplit('-').next())
                .and_then(|o| o.parse().ok())
                .unwrap_or(-1)
        };
        let by_ord = |o: i64| pods.iter().find(|p| ordinal(p) == o);
        // A new pod gets the update revision, except below the partition, where a pod that is
        // recreated keeps the current revision's template (approximated by the update one
        // when no other is known).
        let mut blocked = false;
        for o in 0..want {
            match by_ord(o) {
                None => {
                    if blocked {
                        break;
                    }
                    let labels = vec![
                        ("controller-revision-hash", revision.clone()),
                        ("statefulset.kubernetes.io/pod-name", format!("{name}-{o}")),
                        ("apps.kubernetes.io/pod-index", o.to_string()),
                    ];
                    self.create_pod(
                        &sv,
                        &sv["spec"]["template"],
                        ns,
                        Some(format!("{name}-{o}")),
                        &labels,
                        None,
                    );
                    if !parallel {
                        blocked = true;
                    }
                }
                Some(p) => {
                    if !parallel && (!pod_is_ready(p) || is_terminating(p)) {
                        blocked = true;
                    }
                }
            }
        }
        // Scale down from the highest ordinal, one at a time unless parallel (and, ordered,
        // only when every other pod is ready).
        let mut extra: Vec<&Value> = pods
            .iter()
            .filter(|p| ordinal(p) >= want && !is_terminating(p))
            .collect();
        extra.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));
        let others_ok = parallel
            || pods
                .iter()
                .all(|p| ordinal(p) >= want || (pod_is_ready(p) && !is_terminating(p)));
        let terminating_extra = pods.iter().any(|p| ordinal(p) >= want && is_terminating(p));
        if others_ok && (parallel || !terminating_extra) {
            for p in extra.iter().take(if parallel { usize::MAX } else { 1 }) {
                let n = p["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.delete_pod(ns, &n);
            }
        }
        // Rolling update: once every pod is running and ready, replace the highest-ordinal
        // pod at or above the partition that is not at the update revision; one at a time.
        let all_ready =
            pods.len() as i64 >= want && pods.iter().all(|p| pod_is_ready(p) && !is_terminating(p));
        if all_ready && !on_delete {
            let mut outdated: Vec<&Value> = pods
                .iter()
                .filter(|p| {
                    p["metadata"]["labels"]["controller-revision-hash"] != revision.as_str()
                        && ordinal(p) < want
                        && ordinal(p) >= partition
                })
                .collect();
            outdated.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));
            if let Some(p) = outdated.first() {
                let n = p["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.delete_pod(ns, &n);
            }
        }
        let pods: Vec<Value> = self
            .pods_of(&s.uid)
            .into_iter()
            .filter(|p| !is_terminating(p))
            .collect();
        let c = self.pod_counts(&s.uid, min_ready);
        if let Some(secs) = c.next_available {
            self.requeue_after(
                Storage::StatefulSets,
                ns,
                name,
                Duration::from_secs(secs as u64 + 1),
            );
        }
        let rev_of = |p: &Value| {
            p["metadata"]["labels"]["controller-revision-hash"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        let updated = pods.iter().filter(|p| rev_of(p) == revision).count() as i64;
        let generation = sv["metadata"]["generation"].clone();
        let count = pods.len() as i64;
        let _ = self.store.mutate(Storage::StatefulSets, ns, name, |v| {
            let mut current_rev = v["status"]["currentRevision"]
                .as_str()
                .unwrap_or(&revision)
                .to_string();
            let mut current = pods.iter().filter(|p| rev_of(p) == current_rev).count() as i64;
            // The update is complete once every pod is updated and ready.
            if updated == count && c.ready == count && count == want {
                current_rev = revision.clone();
                current = updated;
            }
            let mut status = json!({
                "observedGeneration": generation, "replicas": count,
                "currentRevision": current_rev, "updateRevision": revision,
                "collisionCount": 0, "availableReplicas": c.available,
            });
            for (k, n) in [
                ("readyReplicas", c.ready),
                ("currentReplicas", current),
                ("updatedReplicas", updated),
            ] {
                if n != 0 {
                    status[k] = json!(n);
                }
            }
            if v["status"] == status {
                return false;
            }
            v["status"] = status;
            true
        });
    }

    pub(crate) fn reconcile_daemonset(&mut self, ns: &str, name: &str) {
        let Some(d) = self.store.get(Storage::DaemonSets, ns, name) else {
            return;
        };
        let dv = d.value();
        let hash = template_hash(&dv["spec"]["template"]);
        let nodes: Vec<(String, usize)> = self
            .store
            .all(Storage::Nodes)
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let pods = self.pods_of(&d.uid);
        let mut created = 0;
        for (node, idx) in &nodes {
            let here: Vec<&Value> = pods
                .iter()
                .filter(|p| p["spec"]["nodeName"] == node.as_str() && !is_terminating(p))
                .collect();
            if here.is_empty() && created < self.cfg.burst {
                created += 1;
                self.create_pod(
                    &dv,
                    &dv["spec"]["template"],
                    ns,
                    None,
                    &[("controller-revision-hash", hash.clone())],
                    Some((node.clone(), *idx)),
                );
            } else if let Some(p) = here
                .iter()
                .find(|p| p["metadata"]["labels"]["controller-revision-hash"] != hash.as_str())
            {
                let n = p["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.delete_pod(ns, &n);
            }
        }
        for p in pods.iter().filter(|p| {
            !nodes
                .iter()
                .any(|(n, _)| p["spec"]["nodeName"] == n.as_str())
        }) {
            let n = p["metadata"]["name"].as_str().unwrap_or("").to_string();
            self.delete_pod(ns, &n);
        }
        let pods: Vec<Value> = self
            .pods_of(&d.uid)
            .into_iter()
            .filter(|p| !is_terminating(p))
            .collect();
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
        let updated = pods
            .iter()
            .filter(|p| p["metadata"]["labels"]["controller-revision-hash"] == hash.as_str())
            .count() as i64;
        let generation = dv["metadata"]["generation"].clone();
        let desired = nodes.len() as i64;
        let current = pods.len() as i64;
        let _ = self.store.mutate(Storage::DaemonSets, ns, name, |v| {
            let status = json!({
                "currentNumberScheduled": current, "desiredNumberScheduled": desired,
                "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                "updatedNumberScheduled": updated, "observedGeneration": generation,
            });
            let mut status = status;
            if desired - ready > 0 {
                status["numberUnavailable"] = json!(desired - ready);
            }
            if v["status"] == status {
                return false;
            }
            v["status"] = status;
            true
        });
    }

    pub(crate) fn reconcile_pdbs(&mut self, ns: &str) {
        let all = LabelSelector::default();
        let nofields = FieldSelector::default();
        for pdb in self
            .store
            .list(Storage::Pdbs, Some(ns), &all, &nofields, None, None)
            .items
        {
            let pv = pdb.value();
            let sel = LabelSelector::from_json(&pv["spec"]["selector"]);
            let pods: Vec<Value> = self
                .store
                .list(Storage::Pods, Some(ns), &sel, &nofields, None, None)
                .items
                .iter()
                .map(|o| o.value())
                .filter(|p| !is_terminating(p))
                .collect();
            let expected = pods.len() as i64;
            let healthy = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
            let desired = pdb_desired_healthy(&pv, expected);
            let allowed = (healthy - desired).max(0);
            let generation = pv["metadata"]["generation"].clone();
            let _ = self.store.mutate(Storage::Pdbs, ns, &pdb.name, |v| {
                let before = v["status"].clone();
                v["status"]["currentHealthy"] = json!(healthy);
                v["status"]["desiredHealthy"] = json!(desired);
                v["status"]["expectedPods"] = json!(expected);
                v["status"]["disruptionsAllowed"] = json!(allowed);
                v["status"]["observedGeneration"] = generation;
                if allowed > 0 {
                    set_condition(v, "DisruptionAllowed", "True", "SufficientPods", "");
                } else {
                    set_condition(v, "DisruptionAllowed", "False", "InsufficientPods", "");
                }
                v["status"] != before
            });
        }
    }

    pub(crate) fn reconcile_hpas(&mut self) {
        let now_secs = jiff::Timestamp::now().as_second() as f64;
        for hpa in self.store.all(Storage::Hpas) {
            let hv = hpa.value();
            let ns = hpa.namespace.clone();
            let target = &hv["spec"]["scaleTargetRef"];
            let kind = target["kind"].as_str().unwrap_or("");
            let tname = target["name"].as_str().unwrap_or("").to_string();
            let st = match kind {
                "Deployment" => Storage::Deployments,
                "StatefulSet" => Storage::StatefulSets,
                "ReplicaSet" => Storage::ReplicaSets,
                _ => continue,
            };
            let min = hv["spec"]["minReplicas"].as_i64().unwrap_or(1);
            let max = hv["spec"]["maxReplicas"].as_i64().unwrap_or(1);
            let target_util = hv["spec"]["metrics"]
                .as_array()
                .and_then(|ms| {
                    ms.iter()
                        .find_map(|m| m["resource"]["target"]["averageUtilization"].as_i64())
                })
                .unwrap_or(80);
            let Some(wl) = self.store.get(st, &ns, &tname) else {
                let generation = hv["metadata"]["generation"].clone();
                let _ = self.store.mutate(Storage::Hpas, &ns, &hpa.name, |v| {
                    v["status"]["observedGeneration"] = generation;
                    set_condition(v, "AbleToScale", "False", "FailedGetScale", &format!("the HPA controller was unable to get the target's current scale: {} \"{tname}\" not found", st.storage_type().plural))
                });
                continue;
            };
            let wv = wl.value();
            let current = replicas(&wv);
            let sel = LabelSelector::from_json(&wv["spec"]["selector"]);
            let pods: Vec<Value> = self
                .store
                .list(
                    Storage::Pods,
                    Some(&ns),
                    &sel,
                    &FieldSelector::default(),
                    None,
                    None,
                )
                .items
                .iter()
                .map(|o| o.value())
                .filter(|p| !is_terminating(p))
                .collect();
            let (pods, unready): (Vec<Value>, Vec<Value>) =
                pods.into_iter().partition(pod_is_ready);
            let utils: Vec<f64> = pods
                .iter()
                .map(|p| metrics::pod_cpu_percent(p, &self.load, now_secs))
                .collect();
            let util = (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64);
            let desired = hpa_desired_replicas(current, &utils, unready.len(), target_util);
            let limited = desired.clamp(min, max);
            let key = (ns.clone(), tname.clone());
            let recently = self
                .hpa_last_scale
                .get(&key)
                .is_some_and(|t| t.elapsed() < Duration::from_millis(self.cfg.hpa_downscale_ms));
            let new = if limited < current && recently {
                current
            } else {
                limited
            };
            let mut scaled = false;
            if new != current && current > 0 {
                let _ = self.store.mutate(st, &ns, &tname, |v| {
                    v["spec"]["replicas"] = json!(new);
                    true
                });
                self.hpa_last_scale.insert(key, Instant::now());
                scaled = true;
                let msg = format!(
                    "New size: {new}; reason: cpu resource utilization (percentage of request) {} target",
                    if new > current { "above" } else { "below" }
                );
                self.events.record(
                    &self.store,
                    &hv,
                    false,
                    "SuccessfulRescale",
                    &msg,
                    "horizontal-pod-autoscaler",
                    None,
                );
            }
            let generation = hv["metadata"]["generation"].clone();
            let _ = self.store.mutate(Storage::Hpas, &ns, &hpa.name, |v| {
                let before = v["status"].clone();
                v["status"]["observedGeneration"] = generation;
                v["status"]["currentReplicas"] = json!(current);
                v["status"]["desiredReplicas"] = json!(new);
                if scaled {
                    v["status"]["lastScaleTime"] = json!(now_rfc3339());
                }
                match util {
                    Some(u) => {
                        v["status"]["currentMetrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": u.round() as i64}}}]);
                        set_condition(v, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)");
                    }
                    None => {
                        set_condition(v, "ScalingActive", "False", "FailedGetResourceMetric", "the HPA was unable to compute the replica count: no ready pods to take metrics from");
                    }
                }
                set_condition(v, "AbleToScale", "True", if recently { "ScaleDownStabilized" } else { "ReadyForNewScale" }, "recommended size matches current size");
                if desired > max {
                    set_condition(v, "ScalingLimited", "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count");
                } else if desired < min {
                    set_condition(v, "ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count");
                } else {
                    set_condition(v, "ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range");
                }
                // Only the metric's wobble changed: still worth a write, as the HPA reports it.
                v["status"] != before
            });
        }
    }
}
