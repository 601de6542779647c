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

impl Controllers {
    /// A pod from a template, owned by `owner`; running at once when settling.
    fn create_pod(
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
    fn pods_of(&self, uid: &str) -> Vec<Value> {
        self.children_of(uid, Storage::Pods)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::Pods, ns, n))
            .map(|o| PodSlim::value_of(&o.json))
            .collect()
    }

    /// How many of an owner's pods are live (not terminating), and how many of those ready.
    fn live_and_ready(&self, uid: &str) -> (i64, i64) {
        let pods = self.pods_of(uid);
        let live: Vec<&Value> = pods.iter().filter(|p| !is_terminating(p)).collect();
        let ready = live.iter().filter(|p| pod_is_ready(p)).count();
        (live.len() as i64, ready as i64)
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
        let pods: Vec<Value> = self
            .pods_of(&rs.uid)
            .into_iter()
            .filter(|p| !is_terminating(p))
            .collect();
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
        let generation = rsv["metadata"]["generation"].clone();
        let count = pods.len() as i64;
        let _ = self.store.mutate(Storage::ReplicaSets, ns, name, |v| {
            let status = json!({
                "replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready,
                "availableReplicas": ready, "observedGeneration": generation,
            });
            if v["status"] == status {
                return false;
            }
            v["status"] = status;
            true
        });
    }

    pub(crate) fn reconcile_deployment(&mut self, ns: &str, name: &str) {
        let Some(d) = self.store.get(Storage::Deployments, ns, name) else {
            return;
        };
        let dv = d.value();
        let want = replicas(&dv);
        let template = dv["spec"]["template"].clone();
        let hash = template_hash(&template);
        let mut rses: Vec<Value> = self
            .children_of(&d.uid, Storage::ReplicaSets)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::ReplicaSets, ns, n))
            .map(|o| o.value())
            .collect();
        let revision_of = |v: &Value| -> i64 {
            v["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0)
        };
        let max_rev = rses.iter().map(revision_of).max().unwrap_or(0);
        let new_name = format!("{name}-{hash}");
        let new_idx = rses
            .iter()
            .position(|r| r["metadata"]["labels"]["pod-template-hash"] == hash.as_str());
        let paused = dv["spec"]["paused"] == true;
        if new_idx.is_none() && !paused {
            let mut tpl = template.clone();
            if !tpl["metadata"]["labels"].is_object() {
                tpl["metadata"]["labels"] = json!({});
            }
            tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = dv["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = tpl["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            let rs = json!({
                "metadata": {
                    "name": new_name, "namespace": ns, "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": (max_rev + 1).to_string(),
                                    "deployment.kubernetes.io/desired-replicas": want.to_string()},
                    "ownerReferences": [owner_ref(&dv)],
                },
                "spec": {"replicas": 0, "selector": selector, "template": tpl},
            });
            match self.store.create(Storage::ReplicaSets, ns, rs) {
                Ok(obj) => {
                    let v = obj.value();
                    self.index(Storage::ReplicaSets, ns, &new_name, &obj.uid, &v, false);
                    rses.push(v);
                }
                Err(e) => tracing::debug!(error = %e, "replica set not created"),
            }
        }
        let Some(new_idx) = rses
            .iter()
            .position(|r| r["metadata"]["labels"]["pod-template-hash"] == hash.as_str())
        else {
            return;
        };
        let new_rs_name = rses[new_idx]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        // Live and ready pods per replica set, counted once (the pods do not change here).
        let counts: HashMap<String, (i64, i64)> = rses
            .iter()
            .map(|r| {
                let uid = r["metadata"]["uid"].as_str().unwrap_or("");
                (uid.to_string(), self.live_and_ready(uid))
            })
            .collect();
        let count_of = |c: &Controllers, v: &Value| -> (i64, i64) {
            let uid = v["metadata"]["uid"].as_str().unwrap_or("");
            counts
                .get(uid)
                .copied()
                .unwrap_or_else(|| c.live_and_ready(uid))
        };
        let ready_of = |c: &Controllers, v: &Value| -> i64 { count_of(c, v).1 };
        let strategy = &dv["spec"]["strategy"];
        let recreate = strategy["type"] == "Recreate";
        let mut surge = int_or_percent(&strategy["rollingUpdate"]["maxSurge"], want, true, "25%");
        let mut unavailable = int_or_percent(
            &strategy["rollingUpdate"]["maxUnavailable"],
            want,
            false,
            "25%",
        );
        if surge == 0 && unavailable == 0 {
            unavailable = 1;
        }
        if recreate {
            surge = 0;
        }
        let old: Vec<usize> = (0..rses.len()).filter(|i| *i != new_idx).collect();
        let old_total: i64 = old.iter().map(|i| replicas(&rses[*i])).sum();
        let new_spec = replicas(&rses[new_idx]);
        let mut targets: Vec<(String, i64)> = Vec::new();
        if !paused {
            if recreate {
                for i in &old {
                    targets.push((
                        rses[*i]["metadata"]["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        0,
                    ));
                }
                let old_pods: usize = old
                    .iter()
                    .map(|i| {
                        self.pods_of(rses[*i]["metadata"]["uid"].as_str().unwrap_or(""))
                            .len()
                    })
                    .sum();
                if old_pods == 0 {
                    targets.push((new_rs_name.clone(), want));
                }
            } else {
                // Scale up the new set within maxSurge.
                let new_target = if new_spec > want {
                    want
                } else {
                    let room = (want + surge - old_total - new_spec).max(0);
                    (new_spec + room).min(want)
                };
                targets.push((new_rs_name.clone(), new_target));
                // Scale down old sets within maxUnavailable.
                let min_available = want - unavailable;
                let total_ready: i64 = rses.iter().map(|r| ready_of(self, r)).sum();
                let mut can_remove = (total_ready - min_available).max(0);
                // Old pods that are not ready can always go.
                for i in &old {
                    let r = &rses[*i];
                    let spec = replicas(r);
                    let unready = (spec - ready_of(self, r)).max(0);
                    let mut target = spec - unready;
                    let cut = can_remove.min(target);
                    target -= cut;
                    can_remove -= cut;
                    targets.push((
                        r["metadata"]["name"].as_str().unwrap_or("").to_string(),
                        target.max(0),
                    ));
                }
            }
        }
        for (rs_name, target) in targets {
            let _ = self.store.mutate(Storage::ReplicaSets, ns, &rs_name, |v| {
                let mut changed = false;
                if replicas(v) != target {
                    v["spec"]["replicas"] = json!(target);
                    changed = true;
                }
                let desired = want.to_string();
                if v["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"]
                    != desired.as_str()
                {
                    v["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                        json!(desired);
                    changed = true;
                }
                changed
            });
        }
        // Status.
        let rses: Vec<Value> = self
            .children_of(&d.uid, Storage::ReplicaSets)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::ReplicaSets, ns, n))
            .map(|o| o.value())
            .collect();
        let total: i64 = rses.iter().map(|r| count_of(self, r).0).sum();
        let ready: i64 = rses.iter().map(|r| ready_of(self, r)).sum();
        let new_rs = rses
            .iter()
            .find(|r| r["metadata"]["labels"]["pod-template-hash"] == hash.as_str());
        let updated = new_rs.map(|r| count_of(self, r).0).unwrap_or(0);
        let revision = new_rs
            .map(|r| r["metadata"]["annotations"]["deployment.kubernetes.io/revision"].clone())
            .unwrap_or(json!("1"));
        let complete = updated == want && total == want && ready == want;
        let generation = dv["metadata"]["generation"].clone();
        let deadline = dv["spec"]["progressDeadlineSeconds"]
            .as_i64()
            .unwrap_or(600);
        let _ = self.store.mutate(Storage::Deployments, ns, name, |v| {
            let original = v.clone();
            let before = v["status"].clone();
            let old_counts = (
                before["replicas"].as_i64(),
                before["updatedReplicas"].as_i64(),
                before["readyReplicas"].as_i64(),
            );
            let mut status = json!({
                "observedGeneration": generation, "replicas": total, "updatedReplicas": updated,
                "readyReplicas": ready, "availableReplicas": ready,
            });
            if want - ready > 0 {
                status["unavailableReplicas"] = json!(want - ready);
            }
            if let Some(c) = before.get("conditions") {
                status["conditions"] = c.clone();
            }
            v["status"] = status;
            v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = revision.clone();
            let available = ready >= want - unavailable;
            if available {
                set_condition(
                    v,
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                );
            } else {
                set_condition(
                    v,
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                );
            }
            let progressed = old_counts != (Some(total), Some(updated), Some(ready));
            let now = now_rfc3339();
            if paused {
                set_condition(
                    v,
                    "Progressing",
                    "Unknown",
                    "DeploymentPaused",
                    "Deployment is paused",
                );
            } else if complete {
                set_condition(
                    v,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{new_rs_name}\" has successfully progressed."),
                );
            } else {
                let last_update = condition(v, "Progressing").and_then(|c| {
                    c["lastUpdateTime"]
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                });
                let stalled = !progressed
                    && last_update.is_some_and(|t| {
                        jiff::Timestamp::now().as_second() - t.as_second() > deadline
                    });
                if stalled {
                    set_condition(
                        v,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        &format!("ReplicaSet \"{new_rs_name}\" has timed out progressing."),
                    );
                } else if condition(v, "Progressing")
                    .is_none_or(|c| c["reason"] != "ProgressDeadlineExceeded" || progressed)
                {
                    set_condition(
                        v,
                        "Progressing",
                        "True",
                        "ReplicaSetUpdated",
                        &format!("ReplicaSet \"{new_rs_name}\" is progressing."),
                    );
                }
            }
            if (progressed
                || condition(v, "Progressing").is_some_and(|c| c.get("lastUpdateTime").is_none()))
                && let Some(cs) = v["status"]["conditions"].as_array_mut()
            {
                for c in cs {
                    if c["type"] == "Progressing" || c.get("lastUpdateTime").is_none() {
                        c["lastUpdateTime"] = json!(now);
                    }
                }
            }
            *v != original
        });
    }

    pub(crate) fn reconcile_statefulset(&mut self, ns: &str, name: &str) {
        let Some(s) = self.store.get(Storage::StatefulSets, ns, name) else {
            return;
        };
        let sv = s.value();
        let want = replicas(&sv);
        let revision = format!("{name}-{}", template_hash(&sv["spec"]["template"]));
        let parallel = sv["spec"]["podManagementPolicy"] == "Parallel" || self.instant;
        let pods: Vec<Value> = self.pods_of(&s.uid);
        let ordinal = |p: &Value| -> i64 {
            p["metadata"]["name"]
                .as_str()
                .and_then(|n| n.rsplit('-').next())
                .and_then(|o| o.parse().ok())
                .unwrap_or(-1)
        };
        let by_ord = |o: i64| pods.iter().find(|p| ordinal(p) == o);
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
        // Scale down from the highest ordinal, one at a time unless parallel.
        let mut extra: Vec<&Value> = pods
            .iter()
            .filter(|p| ordinal(p) >= want && !is_terminating(p))
            .collect();
        extra.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));
        for p in extra.iter().take(if parallel { usize::MAX } else { 1 }) {
            let n = p["metadata"]["name"].as_str().unwrap_or("").to_string();
            self.delete_pod(ns, &n);
        }
        // Rolling update: replace the highest-ordinal outdated pod once all are ready.
        let all_ready =
            pods.len() as i64 >= want && pods.iter().all(|p| pod_is_ready(p) && !is_terminating(p));
        if all_ready {
            let mut outdated: Vec<&Value> = pods
                .iter()
                .filter(|p| {
                    p["metadata"]["labels"]["controller-revision-hash"] != revision.as_str()
                        && ordinal(p) < want
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
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
        let updated = pods
            .iter()
            .filter(|p| p["metadata"]["labels"]["controller-revision-hash"] == revision.as_str())
            .count() as i64;
        let generation = sv["metadata"]["generation"].clone();
        let count = pods.len() as i64;
        let _ = self.store.mutate(Storage::StatefulSets, ns, name, |v| {
            let current_rev = if updated == count && count == want { revision.clone() } else {
                v["status"]["currentRevision"].as_str().unwrap_or(&revision).to_string()
            };
            let status = json!({
                "observedGeneration": generation, "replicas": count, "readyReplicas": ready,
                "availableReplicas": ready, "currentReplicas": if current_rev == revision { updated } else { count - updated },
                "updatedReplicas": updated, "currentRevision": current_rev, "updateRevision": revision,
                "collisionCount": 0,
            });
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
