//! The Job and CronJob controllers (batch/v1), as Kubernetes 1.33's: a Job runs pods from
//! its template (parallelism, completions, backoffLimit, activeDeadlineSeconds, suspend,
//! ttlSecondsAfterFinished) and reports `active`, `ready`, `terminating`, `succeeded`,
//! `failed`, the start and completion times and the conditions `SuccessCriteriaMet` then
//! `Complete`, or `FailureTarget` then `Failed`; a CronJob creates a Job
//! `<name>-<scheduled time in unix minutes>` at each time of its cron schedule (in its
//! `timeZone`), honouring `suspend`, `startingDeadlineSeconds`, `concurrencyPolicy` and the
//! history limits. Also the controllers' timers: objects looked at again after a delay
//! (a pod that becomes available after minReadySeconds, a progress deadline, a schedule).

use super::super::resources::Storage;
use super::super::store::now_rfc3339;
use super::Controllers;
use super::util::condition;
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

type ObjKey = (Storage, String, String);

/// Objects to reconcile again at a time, and what the Job controller remembers.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, ObjKey)>>,
    /// The earliest time each object is due (a later request for it is dropped).
    due: HashMap<ObjKey, Instant>,
    /// When each Job last saw a new failed pod (the pod back-off counts from it).
    job_failed_at: HashMap<(String, String), Instant>,
}

const COMPLETIONS_REACHED: &str = "CompletionsReached";
const COMPLETIONS_MESSAGE: &str = "Reached expected number of succeeded pods";
const BACKOFF_EXCEEDED: &str = "BackoffLimitExceeded";
const BACKOFF_MESSAGE: &str = "Job has reached the specified backoff limit";
const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
const DEADLINE_MESSAGE: &str = "Job was active longer than specified deadline";

fn is_terminating(v: &Value) -> bool {
    v["metadata"].get("deletionTimestamp").is_some()
}

fn is_true(v: &Value, kind: &str) -> bool {
    condition(v, kind).is_some_and(|c| c["status"] == "True")
}

/// Whether a Job has finished (Complete or Failed).
pub fn job_finished(v: &Value) -> bool {
    is_true(v, "Complete") || is_true(v, "Failed")
}

fn parse_ts(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

fn owner_ref(v: &Value) -> Value {
    json!({
        "apiVersion": v["apiVersion"], "kind": v["kind"], "name": v["metadata"]["name"],
        "uid": v["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
    })
}

/// Sets a Job condition as the job controller does (lastProbeTime and lastTransitionTime
/// now when it is new or its status changes). Returns whether anything changed.
fn set_job_condition(v: &mut Value, kind: &str, status: &str, reason: &str, message: &str) -> bool {
    let now = now_rfc3339();
    if !v["status"]["conditions"].is_array() {
        v["status"]["conditions"] = json!([]);
    }
    let cs = v["status"]["conditions"].as_array_mut().expect("array");
    match cs.iter_mut().find(|c| c["type"] == kind) {
        Some(c) if c["status"] == status && c["reason"] == reason && c["message"] == message => {
            false
        }
        Some(c) => {
            if c["status"] != status {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!(status);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
            c["lastProbeTime"] = json!(now);
            true
        }
        None => {
            cs.push(json!({
                "type": kind, "status": status, "reason": reason, "message": message,
                "lastProbeTime": now, "lastTransitionTime": now,
            }));
            true
        }
    }
}

/// The defaults the API server gives a Job that the store cannot (they need its uid): the
/// generated selector and the labels that go with it, and the spec's defaults. Returns
/// whether anything was missing.
fn job_defaults(v: &mut Value, uid: &str) -> bool {
    let before = v.clone();
    let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
    let spec = &mut v["spec"];
    if !spec.is_object() {
        return false;
    }
    if spec.get("completions").is_none() && spec.get("parallelism").is_none() {
        spec["completions"] = json!(1);
    }
    for (k, d) in [
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ("manualSelector", Value::Null),
    ] {
        if spec.get(k).is_none() && !d.is_null() {
            spec[k] = d;
        }
    }
    if spec["manualSelector"] != true {
        if !spec["template"]["metadata"]["labels"].is_object() {
            spec["template"]["metadata"]["labels"] = json!({});
        }
        let labels = &mut spec["template"]["metadata"]["labels"];
        for (k, val) in [
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name.as_str()),
            ("controller-uid", uid),
            ("job-name", name.as_str()),
        ] {
            labels[k] = json!(val);
        }
        if spec["selector"].is_null() {
            spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        }
    }
    let template_labels = v["spec"]["template"]["metadata"]["labels"].clone();
    if v["metadata"]["labels"]
        .as_object()
        .is_none_or(|m| m.is_empty())
        && template_labels.is_object()
    {
        v["metadata"]["labels"] = template_labels;
    }
    *v != before
}

/// The defaults of a CronJob (SetDefaults_CronJob). Returns whether anything was missing.
fn cronjob_defaults(v: &mut Value) -> bool {
    let spec = &mut v["spec"];
    if !spec.is_object() {
        return false;
    }
    let mut changed = false;
    for (k, d) in [
        ("concurrencyPolicy", json!("Allow")),
        ("suspend", json!(false)),
        ("successfulJobsHistoryLimit", json!(3)),
        ("failedJobsHistoryLimit", json!(1)),
    ] {
        if spec.get(k).is_none_or(|x| x.is_null()) {
            spec[k] = d;
            changed = true;
        }
    }
    changed
}

impl Controllers {
    /// Reconciles `st/ns/name` again after `after` (the earliest request wins).
    pub(crate) fn requeue_after(&mut self, st: Storage, ns: &str, name: &str, after: Duration) {
        let key = (st, ns.to_string(), name.to_string());
        let at = Instant::now() + after;
        if self.timers.due.get(&key).is_some_and(|t| *t <= at) {
            return;
        }
        self.timers.due.insert(key.clone(), at);
        self.timers.heap.push(Reverse((at, key)));
    }

    /// Marks dirty what is due.
    pub(crate) fn requeue_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((t, _))) = self.timers.heap.peek() {
            if *t > now {
                break;
            }
            let Reverse((t, key)) = self.timers.heap.pop().expect("peeked");
            if self.timers.due.get(&key) == Some(&t) {
                self.timers.due.remove(&key);
                self.dirty.insert(key);
            }
        }
    }

    /// The Job controller.
    pub(crate) fn reconcile_job(&mut self, ns: &str, name: &str) {
        let Some(j) = self.store.get(Storage::Jobs, ns, name) else {
            self.timers
                .job_failed_at
                .remove(&(ns.to_string(), name.to_string()));
            return;
        };
        let mut jv = j.value();
        if is_terminating(&jv) {
            return;
        }
        if job_defaults(&mut jv.clone(), &j.uid) {
            // The generated selector and labels, as the API server would have given them at
            // creation (the generation stays: they are not a change of the user's).
            let uid = j.uid.clone();
            if let Ok(Some(obj)) = self.store.mutate(Storage::Jobs, ns, name, |v| {
                let changed = job_defaults(v, &uid);
                let g = v["metadata"]["generation"].as_i64().unwrap_or(1);
                v["metadata"]["generation"] = json!(g - 1);
                changed
            }) {
                jv = obj.value();
            }
        }
        let now = jiff::Timestamp::now().as_second();
        let key = (ns.to_string(), name.to_string());
        // Finished: only the TTL-after-finished controller has work left.
        if job_finished(&jv) {
            if let Some(ttl) = jv["spec"]["ttlSecondsAfterFinished"].as_i64() {
                let finished = parse_ts(&jv["status"]["completionTime"]).or_else(|| {
                    condition(&jv, "Failed").and_then(|c| parse_ts(&c["lastTransitionTime"]))
                });
                if let Some(f) = finished {
                    if f + ttl <= now {
                        let _ = self.store.delete(Storage::Jobs, ns, name, None);
                    } else {
                        self.requeue_after(
                            Storage::Jobs,
                            ns,
                            name,
                            Duration::from_secs((f + ttl - now) as u64 + 1),
                        );
                    }
                }
            }
            return;
        }
        let pods: Vec<Value> = self
            .children_of(&j.uid, Storage::Pods)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::Pods, ns, n))
            .map(|o| o.value())
            .collect();
        let phase = |p: &Value| p["status"]["phase"].as_str().unwrap_or("").to_string();
        let terminal = |p: &Value| matches!(phase(p).as_str(), "Succeeded" | "Failed");
        let active: Vec<&Value> = pods
            .iter()
            .filter(|p| !terminal(p) && !is_terminating(p))
            .collect();
        let terminating = pods
            .iter()
            .filter(|p| !terminal(p) && is_terminating(p))
            .count() as i64;
        let ready = active
            .iter()
            .filter(|p| super::util::pod_is_ready(p))
            .count() as i64;
        let old = &jv["status"];
        let succeeded = (pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64)
            .max(old["succeeded"].as_i64().unwrap_or(0));
        let failed = (pods.iter().filter(|p| phase(p) == "Failed").count() as i64)
            .max(old["failed"].as_i64().unwrap_or(0));
        if failed > old["failed"].as_i64().unwrap_or(0) {
            self.timers
                .job_failed_at
                .insert(key.clone(), Instant::now());
        }
        let spec = &jv["spec"];
        let suspended = spec["suspend"] == true;
        let parallelism = spec["parallelism"].as_i64().unwrap_or(1).max(0);
        let completions = spec["completions"].as_i64();
        let backoff_limit = spec["backoffLimit"].as_i64().unwrap_or(6);
        let on_failure = spec["template"]["spec"]["restartPolicy"] == "OnFailure";
        let start = parse_ts(&old["startTime"]);
        // Why it fails, if it does.
        let restarts: i64 = if on_failure {
            active
                .iter()
                .flat_map(|p| {
                    p["status"]["containerStatuses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                })
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum()
        } else {
            0
        };
        let past_backoff = failed > backoff_limit
            || (on_failure
                && if backoff_limit == 0 {
                    restarts > 0
                } else {
                    restarts >= backoff_limit
                });
        let deadline = spec["activeDeadlineSeconds"].as_i64();
        let past_deadline =
            !suspended && matches!((start, deadline), (Some(s), Some(d)) if s + d <= now);
        let failure = if is_true(&jv, "FailureTarget") {
            condition(&jv, "FailureTarget").map(|c| {
                (
                    c["reason"].as_str().unwrap_or("").to_string(),
                    c["message"].as_str().unwrap_or("").to_string(),
                )
            })
        } else if past_backoff {
            Some((BACKOFF_EXCEEDED.to_string(), BACKOFF_MESSAGE.to_string()))
        } else if past_deadline {
            Some((DEADLINE_EXCEEDED.to_string(), DEADLINE_MESSAGE.to_string()))
        } else {
            None
        };
        let success = failure.is_none()
            && (is_true(&jv, "SuccessCriteriaMet")
                || match completions {
                    Some(c) => succeeded >= c,
                    None => succeeded > 0 && active.is_empty(),
                });
        // Pods to delete (the job is done with them) or to create.
        let mut active_count = active.len() as i64;
        let mut terminating_count = terminating;
        if failure.is_some() || success || suspended {
            for p in &active {
                let n = p["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.delete_pod(ns, &n);
            }
            terminating_count += active_count;
            active_count = 0;
        } else {
            let want = match completions {
                Some(c) => parallelism.min((c - succeeded).max(0)),
                None => parallelism,
            };
            if active_count < want {
                // The pod back-off after failures: 10 s (twice the sandbox's restart back-off
                // base), doubling per failure, at most 6 minutes.
                let wait = if failed > 0 {
                    let base = self.cfg.backoff_base_ms.saturating_mul(2);
                    let ms = base.saturating_mul(1u64 << (failed - 1).clamp(0, 16));
                    Duration::from_millis(ms.min(360_000))
                } else {
                    Duration::ZERO
                };
                let since = self
                    .timers
                    .job_failed_at
                    .get(&key)
                    .map_or(Duration::MAX, |t| t.elapsed());
                if failed > 0 && since < wait {
                    self.requeue_after(Storage::Jobs, ns, name, wait - since);
                } else {
                    let n = ((want - active_count) as usize).min(self.cfg.burst);
                    for _ in 0..n {
                        self.create_pod(&jv, &jv["spec"]["template"], ns, None, &[], None);
                    }
                    active_count += n as i64;
                }
            }
        }
        if let (Some(s), Some(d), false) = (start, deadline, suspended)
            && failure.is_none()
            && !success
        {
            self.requeue_after(
                Storage::Jobs,
                ns,
                name,
                Duration::from_secs((s + d - now).max(0) as u64 + 1),
            );
        }
        let done = terminating_count == 0 && active_count == 0;
        let now_ts = now_rfc3339();
        let generation_ready = ready;
        let _ = self.store.mutate(Storage::Jobs, ns, name, |v| {
            let before = v["status"].clone();
            let mut status = json!({
                "ready": if failure.is_some() || success || suspended { 0 } else { generation_ready },
                "terminating": terminating_count,
                "uncountedTerminatedPods": {},
            });
            if active_count > 0 {
                status["active"] = json!(active_count);
            }
            if succeeded > 0 {
                status["succeeded"] = json!(succeeded);
            }
            if failed > 0 {
                status["failed"] = json!(failed);
            }
            for k in ["conditions", "startTime", "completionTime"] {
                if let Some(x) = before.get(k) {
                    status[k] = x.clone();
                }
            }
            v["status"] = status;
            if suspended {
                set_job_condition(v, "Suspended", "True", "JobSuspended", "Job suspended");
                if let Some(s) = v["status"].as_object_mut() {
                    s.remove("startTime");
                }
            } else {
                if is_true(v, "Suspended") {
                    set_job_condition(v, "Suspended", "False", "JobResumed", "Job resumed");
                }
                if v["status"].get("startTime").is_none() {
                    v["status"]["startTime"] = json!(now_ts);
                }
            }
            if let Some((reason, message)) = &failure {
                set_job_condition(v, "FailureTarget", "True", reason, message);
                if done {
                    set_job_condition(v, "Failed", "True", reason, message);
                }
            } else if success {
                set_job_condition(
                    v,
                    "SuccessCriteriaMet",
                    "True",
                    COMPLETIONS_REACHED,
                    COMPLETIONS_MESSAGE,
                );
                if done {
                    set_job_condition(v, "Complete", "True", COMPLETIONS_REACHED, COMPLETIONS_MESSAGE);
                    v["status"]["completionTime"] = json!(now_ts);
                }
            }
            v["status"] != before
        });
        if let Some(j) = self.store.get(Storage::Jobs, ns, name) {
            let v = j.value();
            if job_finished(&v) {
                self.timers.job_failed_at.remove(&key);
                let (reason, msg) = if is_true(&v, "Complete") {
                    ("Completed", "Job completed".to_string())
                } else {
                    let r = condition(&v, "Failed")
                        .and_then(|c| c["reason"].as_str())
                        .unwrap_or("BackoffLimitExceeded")
                        .to_string();
                    let m = condition(&v, "Failed")
                        .and_then(|c| c["message"].as_str())
                        .unwrap_or(BACKOFF_MESSAGE)
                        .to_string();
                    (
                        if r == DEADLINE_EXCEEDED {
                            DEADLINE_EXCEEDED
                        } else {
                            BACKOFF_EXCEEDED
                        },
                        m,
                    )
                };
                let warning = reason != "Completed";
                if warning || self.cfg.normal_events {
                    self.events.record(
                        &self.store,
                        &v,
                        warning,
                        reason,
                        &msg,
                        "job-controller",
                        None,
                    );
                }
                // The TTL, if any, counts from now.
                if v["spec"]["ttlSecondsAfterFinished"].is_i64() {
                    self.dirty
                        .insert((Storage::Jobs, ns.to_string(), name.to_string()));
                }
            }
        }
    }

    /// The CronJob controller.
    pub(crate) fn reconcile_cronjob(&mut self, ns: &str, name: &str) {
        let Some(cj) = self.store.get(Storage::CronJobs, ns, name) else {
            return;
        };
        let mut cv = cj.value();
        if cronjob_defaults(&mut cv.clone())
            && let Ok(Some(obj)) = self.store.mutate(Storage::CronJobs, ns, name, |v| {
                let changed = cronjob_defaults(v);
                let g = v["metadata"]["generation"].as_i64().unwrap_or(1);
                v["metadata"]["generation"] = json!(g - 1);
                changed
            })
        {
            cv = obj.value();
        }
        let jobs: Vec<Value> = self
            .children_of(&cj.uid, Storage::Jobs)
            .iter()
            .filter_map(|(ns, n)| self.store.get(Storage::Jobs, ns, n))
            .map(|o| o.value())
            .collect();
        let spec = cv["spec"].clone();
        let mut active: Vec<Value> = cv["status"]["active"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut last_success = cv["status"]["lastSuccessfulTime"].clone();
        let mut last_schedule = cv["status"]["lastScheduleTime"].clone();
        let uid_of = |v: &Value| v["metadata"]["uid"].as_str().unwrap_or("").to_string();
        // The active list against the Jobs as they are.
        let mut events: Vec<(bool, &str, String)> = Vec::new();
        for j in &jobs {
            let in_active = active.iter().any(|a| a["uid"] == uid_of(j).as_str());
            if in_active && job_finished(j) {
                active.retain(|a| a["uid"] != uid_of(j).as_str());
                let cond = if is_true(j, "Complete") {
                    "Complete"
                } else {
                    "Failed"
                };
                events.push((
                    false,
                    "SawCompletedJob",
                    format!(
                        "Saw completed job: {}, condition: {cond}",
                        j["metadata"]["name"].as_str().unwrap_or("")
                    ),
                ));
            }
            if is_true(j, "Complete")
                && let Some(t) = parse_ts(&j["status"]["completionTime"])
                && parse_ts(&last_success).is_none_or(|l| t > l)
            {
                last_success = j["status"]["completionTime"].clone();
            }
        }
        active.retain(|a| {
            let found = jobs.iter().any(|j| a["uid"] == uid_of(j).as_str());
            if !found {
                events.push((
                    false,
                    "MissingJob",
                    format!(
                        "Active job went missing: {}",
                        a["name"].as_str().unwrap_or("")
                    ),
                ));
            }
            found
        });
        // History: the oldest finished Jobs beyond the limits go.
        for (kind, limit) in [
            ("Complete", spec["successfulJobsHistoryLimit"].as_i64()),
            ("Failed", spec["failedJobsHistoryLimit"].as_i64()),
        ] {
            let Some(limit) = limit else { continue };
            let mut done: Vec<&Value> = jobs.iter().filter(|j| is_true(j, kind)).collect();
            let excess = done.len() as i64 - limit.max(0);
            if excess > 0 {
                done.sort_by_key(|j| {
                    (
                        parse_ts(&j["status"]["startTime"]).unwrap_or(i64::MAX),
                        j["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    )
                });
                for j in done.iter().take(excess as usize) {
                    let n = j["metadata"]["name"].as_str().unwrap_or("").to_string();
                    if self.store.delete(Storage::Jobs, ns, &n, None).is_ok() {
                        events.push((false, "SuccessfulDelete", format!("Deleted job {n}")));
                    }
                }
            }
        }
        // Scheduling.
        if !is_terminating(&cv) && spec["suspend"] != true {
            let schedule = spec["schedule"].as_str().unwrap_or("");
            let tz = match spec["timeZone"].as_str() {
                Some(z) => jiff::tz::TimeZone::get(z).map_err(|_| z.to_string()),
                None => Ok(jiff::tz::TimeZone::UTC),
            };
            match (Schedule::parse(schedule), tz) {
                (Err(e), _) => events.push((
                    true,
                    "InvalidSchedule",
                    format!("invalid schedule: {schedule} : {e}"),
                )),
                (_, Err(z)) => events.push((
                    true,
                    "UnknownTimeZone",
                    format!("invalid timeZone: \"{z}\": unknown time zone {z}"),
                )),
                (Ok(sched), Ok(tz)) => {
                    let now = jiff::Timestamp::now();
                    let earliest = parse_ts(&last_schedule)
                        .or_else(|| parse_ts(&cv["metadata"]["creationTimestamp"]))
                        .unwrap_or(now.as_second());
                    let earliest = jiff::Timestamp::from_second(earliest).unwrap_or(now);
                    // The most recent time due, after the last one scheduled.
                    let mut due = None;
                    let mut t = sched.next_after(earliest, &tz);
                    let mut n = 0;
                    while let Some(x) = t {
                        if x > now || n > 100_000 {
                            break;
                        }
                        due = Some(x);
                        t = sched.next_after(x, &tz);
                        n += 1;
                    }
                    if let Some(at) = due {
                        let late = now.as_second() - at.as_second();
                        let too_late = spec["startingDeadlineSeconds"]
                            .as_i64()
                            .is_some_and(|d| late > d);
                        let policy = spec["concurrencyPolicy"].as_str().unwrap_or("Allow");
                        if too_late {
                            events.push((
                                true,
                                "MissSchedule",
                                format!(
                                    "Missed scheduled time to start a job: {}",
                                    at.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z")
                                ),
                            ));
                        } else if policy == "Forbid" && !active.is_empty() {
                            events.push((
                                false,
                                "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
                            ));
                        } else {
                            if policy == "Replace" {
                                for a in std::mem::take(&mut active) {
                                    let n = a["name"].as_str().unwrap_or("").to_string();
                                    if self.store.delete(Storage::Jobs, ns, &n, None).is_ok() {
                                        events.push((
                                            false,
                                            "SuccessfulDelete",
                                            format!("Deleted job {n}"),
                                        ));
                                    }
                                }
                            }
                            let job_name = format!("{name}-{}", at.as_second() / 60);
                            let scheduled = if spec["timeZone"].is_string() {
                                at.to_zoned(tz.clone())
                                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                                    .to_string()
                            } else {
                                at.to_string()
                            };
                            let job = job_from_template(&cv, &job_name, &scheduled);
                            match self.store.create(Storage::Jobs, ns, job) {
                                Ok(obj) => {
                                    let jv = obj.value();
                                    self.index(Storage::Jobs, ns, &job_name, &obj.uid, &jv, false);
                                    active.push(json!({
                                        "kind": "Job", "namespace": ns, "name": job_name,
                                        "uid": obj.uid, "apiVersion": "batch/v1",
                                        "resourceVersion": obj.rv.to_string(),
                                    }));
                                    events.push((
                                        false,
                                        "SuccessfulCreate",
                                        format!("Created job {job_name}"),
                                    ));
                                    last_schedule = json!(at.to_string());
                                }
                                Err(_) => {
                                    // Created before (and perhaps already cleaned up).
                                    last_schedule = json!(at.to_string());
                                }
                            }
                        }
                    }
                    if let Some(next) = sched.next_after(now, &tz) {
                        let ms = next.as_millisecond() - jiff::Timestamp::now().as_millisecond();
                        self.requeue_after(
                            Storage::CronJobs,
                            ns,
                            name,
                            Duration::from_millis(ms.max(0) as u64 + 100),
                        );
                    }
                }
            }
        }
        for (warning, reason, msg) in events {
            if warning || self.cfg.normal_events {
                self.events.record(
                    &self.store,
                    &cv,
                    warning,
                    reason,
                    &msg,
                    "cronjob-controller",
                    None,
                );
            }
        }
        let _ = self.store.mutate(Storage::CronJobs, ns, name, |v| {
            let before = v["status"].clone();
            let mut status = json!({});
            if !active.is_empty() {
                status["active"] = json!(active);
            }
            if last_schedule.is_string() {
                status["lastScheduleTime"] = last_schedule.clone();
            }
            if last_success.is_string() {
                status["lastSuccessfulTime"] = last_success.clone();
            }
            if status == before || (before.is_null() && status == json!({})) {
                return false;
            }
            v["status"] = status;
            true
        });
    }
}

/// The Job a CronJob creates for a scheduled time (getJobFromTemplate2).
fn job_from_template(cj: &Value, name: &str, scheduled: &str) -> Value {
    let tpl = &cj["spec"]["jobTemplate"];
    let mut annotations = tpl["metadata"]["annotations"].clone();
    if !annotations.is_object() {
        annotations = json!({});
    }
    annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = json!(scheduled);
    let mut meta = json!({
        "name": name, "annotations": annotations, "ownerReferences": [owner_ref(cj)],
    });
    if tpl["metadata"]["labels"].is_object() {
        meta["labels"] = tpl["metadata"]["labels"].clone();
    }
    json!({"metadata": meta, "spec": tpl["spec"].clone()})
}

/// A cron schedule: five fields (minute hour day-of-month month day-of-week) with `*`,
/// lists, ranges, steps and names, or a descriptor (`@hourly`, `@daily`…), as the CronJob
/// controller's parser (robfig/cron's standard one) reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Day of month or of week given as `*`: then both must match, else either.
    dom_star: bool,
    dow_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(u64, bool), String> {
    let value = |s: &str| -> Result<u32, String> {
        let l = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == l) {
            return Ok(i as u32 + name_base);
        }
        s.parse::<u32>()
            .map_err(|_| format!("failed to parse int from {s}"))
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<u32>()
                        .map_err(|_| format!("failed to parse int from {s}"))?,
                ),
            ),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            if step.is_none_or(|s| s <= 1) {
                star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            // "N/step" means from N to the end.
            (v, if step.is_some() { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("end of range ({hi}) above maximum ({max}): {part}"));
        }
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(format!("step of range should be a positive number: {part}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with('@') => return Err(format!("unrecognized descriptor: {t}")),
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        let (minute, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hour, _) = field(fields[1], 0, 23, &[], 0)?;
        let (dom, dom_star) = field(fields[2], 1, 31, &[], 0)?;
        let (month, _) = field(fields[3], 1, 12, &MONTHS, 1)?;
        let (dow, dow_star) = field(fields[4], 0, 6, &DAYS, 0)?;
        Ok(Schedule {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        })
    }

    fn day_matches(&self, d: jiff::civil::DateTime) -> bool {
        let dom = self.dom & (1 << d.day()) != 0;
        let dow = self.dow & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first time of the schedule strictly after `t`, in time zone `tz`.
    pub fn next_after(
        &self,
        t: jiff::Timestamp,
        tz: &jiff::tz::TimeZone,
    ) -> Option<jiff::Timestamp> {
        use jiff::ToSpan;
        let local = tz.to_datetime(t);
        let mut d = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        // Five years of looking is enough for any valid schedule (29 February included).
        let limit = d.year() + 5;
        while d.year() <= limit {
            if self.month & (1 << d.month()) == 0 {
                d = d
                    .first_of_month()
                    .start_of_day()
                    .checked_add(1.month())
                    .ok()?;
                continue;
            }
            if !self.day_matches(d) {
                d = d.start_of_day().checked_add(1.day()).ok()?;
                continue;
            }
            if self.hour & (1 << d.hour()) == 0 {
                d = d
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minute & (1 << d.minute()) == 0 {
                d = d.checked_add(1.minute()).ok()?;
                continue;
            }
            let at = tz.to_timestamp(d).ok()?;
            if at > t {
                return Some(at);
            }
            d = d.checked_add(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn schedules_parse_as_cron_does() {
        let s = Schedule::parse("*/15 9-17 * * MON-FRI").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        // Saturday 2025-03-01 → Monday 09:00.
        assert_eq!(
            s.next_after(ts("2025-03-01T10:00:00Z"), &utc),
            Some(ts("2025-03-03T09:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2025-03-03T09:00:00Z"), &utc),
            Some(ts("2025-03-03T09:15:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2025-03-03T17:45:00Z"), &utc),
            Some(ts("2025-03-04T09:00:00Z"))
        );
        let every = Schedule::parse("*/1 * * * *").unwrap();
        assert_eq!(
            every.next_after(ts("2025-03-03T09:00:30Z"), &utc),
            Some(ts("2025-03-03T09:01:00Z"))
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(ts("2025-12-31T23:10:00Z"), &utc),
            Some(ts("2026-01-01T00:00:00Z"))
        );
        let list = Schedule::parse("5,35 0 1 jan,jul *").unwrap();
        assert_eq!(
            list.next_after(ts("2025-01-01T00:05:00Z"), &utc),
            Some(ts("2025-01-01T00:35:00Z"))
        );
        assert_eq!(
            list.next_after(ts("2025-01-01T00:35:00Z"), &utc),
            Some(ts("2025-07-01T00:05:00Z"))
        );
        // Day of month and day of week both given: either matches.
        let either = Schedule::parse("0 0 13 * 5").unwrap();
        assert_eq!(
            either.next_after(ts("2025-06-01T00:00:00Z"), &utc),
            Some(ts("2025-06-06T00:00:00Z")),
            "the first Friday comes before the 13th"
        );
        // Leap day.
        let leap = Schedule::parse("0 12 29 2 *").unwrap();
        assert_eq!(
            leap.next_after(ts("2025-03-01T00:00:00Z"), &utc),
            Some(ts("2028-02-29T12:00:00Z"))
        );
        for bad in [
            "* * * *",
            "60 * * * *",
            "* * * * * *",
            "@every 5m",
            "*/0 * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules_follow_their_time_zone() {
        let s = Schedule::parse("0 9 * * *").unwrap();
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(
            s.next_after(ts("2025-01-10T12:00:00Z"), &berlin),
            Some(ts("2025-01-11T08:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2025-07-10T12:00:00Z"), &berlin),
            Some(ts("2025-07-11T07:00:00Z"))
        );
    }

    #[test]
    fn jobs_get_their_selector_and_labels() {
        let mut j = json!({"metadata": {"name": "pi"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}});
        assert!(job_defaults(&mut j, "u-1"));
        assert_eq!(
            j["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"]["job-name"],
            "pi"
        );
        assert_eq!(
            j["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "pi"
        );
        assert_eq!(j["spec"]["completions"], 1);
        assert_eq!(j["spec"]["backoffLimit"], 6);
        assert!(!job_defaults(&mut j, "u-1"), "nothing more the second time");
        let mut cj = json!({"spec": {"schedule": "* * * * *"}});
        assert!(cronjob_defaults(&mut cj));
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    }
}
