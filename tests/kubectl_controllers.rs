//! The sandbox's controllers as kubectl sees them: the rolling update's arithmetic
//! (maxSurge, maxUnavailable, availability), the progress deadline, a kubelet that never
//! calls a crash-looping container ready, `logs -f --tail` without a gap, Jobs and CronJobs.
//!
//! Every test starts its own sandbox and kills it when it ends; every wait is bounded.

mod kube_sandbox;

use kube_sandbox::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn condition<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Follows a rollout of the router (after `change`) by polling the API fast, and checks at
/// every look that availability never drops below `replicas - maxUnavailable` and that no
/// more than `replicas + maxSurge` pods run. Returns the number of looks.
fn follow_rollout(sb: &Sandbox, replicas: i64, min_available: i64, max_total: i64) -> usize {
    let deploy = "/apis/apps/v1/namespaces/mr-ee/deployments/router";
    let pods = "/api/v1/namespaces/mr-ee/pods?labelSelector=app.kubernetes.io%2Fname%3Drouter";
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut looks = 0;
    let mut seen_surge = false;
    loop {
        let (code, d) = sb.http("GET", deploy, None);
        assert_eq!(code, 200);
        let (code, list) = sb.http("GET", pods, None);
        assert_eq!(code, 200);
        looks += 1;
        let live: Vec<&Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !terminating(p))
            .collect();
        let ready_pods = live.iter().filter(|p| is_ready(p)).count() as i64;
        let s = &d["status"];
        assert!(
            live.len() as i64 <= max_total,
            "{} pods run, more than {max_total}: {:?}",
            live.len(),
            names(&live.iter().map(|p| (*p).clone()).collect::<Vec<_>>())
        );
        seen_surge |= live.len() as i64 > replicas;
        assert!(
            ready_pods >= min_available,
            "only {ready_pods} ready pods (at least {min_available} wanted)"
        );
        assert!(
            int(&s["readyReplicas"]) >= min_available,
            "readyReplicas dropped to {}: {s}",
            s["readyReplicas"]
        );
        assert!(
            int(&s["availableReplicas"]) >= min_available,
            "availableReplicas dropped to {}: {s}",
            s["availableReplicas"]
        );
        let done = d["metadata"]["generation"] == s["observedGeneration"]
            && int(&s["updatedReplicas"]) == replicas
            && int(&s["replicas"]) == replicas
            && int(&s["availableReplicas"]) == replicas
            && condition(&d, "Progressing")
                .is_some_and(|c| c["reason"] == "NewReplicaSetAvailable");
        if done {
            assert!(
                seen_surge || max_total == replicas,
                "the rollout never surged"
            );
            return looks;
        }
        assert!(Instant::now() < deadline, "rollout not done: {s}");
        std::thread::sleep(Duration::from_millis(40));
    }
}

#[test]
fn rolling_update_keeps_availability_within_surge() {
    let sb = Sandbox::start();
    // 2 replicas, 25%/25%: maxSurge rounds up to 1, maxUnavailable down to 0.
    sb.ok(&[
        "set",
        "image",
        "deploy/router",
        "router=ghcr.io/mr-ee/router:3.4.2",
        "-n",
        "mr-ee",
    ]);
    let looks = follow_rollout(&sb, 2, 2, 3);
    assert!(looks > 20, "too few looks at the rollout ({looks})");
    let d = sb.json(&["get", "deploy", "router", "-n", "mr-ee"]);
    let p = condition(&d, "Progressing").unwrap();
    let rs = sb.items(&[
        "get",
        "rs",
        "-n",
        "mr-ee",
        "-l",
        "app.kubernetes.io/name=router",
    ]);
    let new_rs = rs
        .iter()
        .find(|r| r["spec"]["replicas"] == 2)
        .expect("the new replica set");
    assert_eq!(
        p["message"],
        format!(
            "ReplicaSet \"{}\" has successfully progressed.",
            name(new_rs)
        )
    );
    assert_eq!(p["status"], "True");
    let a = condition(&d, "Available").unwrap();
    assert_eq!(a["reason"], "MinimumReplicasAvailable");
    assert!(
        d["status"].get("unavailableReplicas").is_none(),
        "{}",
        d["status"]
    );

    // 4 replicas: maxSurge 1, maxUnavailable 1.
    sb.ok(&["scale", "deploy/router", "--replicas=4", "-n", "mr-ee"]);
    let out = sb.kubectl_in(
        &[
            "rollout",
            "status",
            "deploy/router",
            "-n",
            "mr-ee",
            "--timeout=60s",
        ],
        None,
        Duration::from_secs(75),
    );
    assert!(out.ok, "rollout status: {}", out.stderr);
    sb.ok(&[
        "set",
        "image",
        "deploy/router",
        "router=ghcr.io/mr-ee/router:3.4.3",
        "-n",
        "mr-ee",
    ]);
    follow_rollout(&sb, 4, 3, 5);
    sb.assert_rolled_out("deploy/router", "mr-ee");
}

#[test]
fn a_stuck_rollout_exceeds_its_progress_deadline() {
    let sb = Sandbox::start();
    sb.ok(&[
        "patch",
        "deploy/router",
        "-n",
        "mr-ee",
        "-p",
        r#"{"spec":{"progressDeadlineSeconds":5}}"#,
    ]);
    // The default scenario makes this image crash.
    sb.ok(&[
        "set",
        "image",
        "deploy/router",
        "router=ghcr.io/mr-ee/router:3.5.1",
        "-n",
        "mr-ee",
    ]);
    let d = wait_for("ProgressDeadlineExceeded", Duration::from_secs(60), || {
        let d = sb.json(&["get", "deploy", "router", "-n", "mr-ee"]);
        // Never fewer than 2 ready meanwhile (maxUnavailable rounds down to 0).
        assert!(int(&d["status"]["readyReplicas"]) >= 2, "{}", d["status"]);
        condition(&d, "Progressing")
            .is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded")
            .then_some(d)
    });
    let p = condition(&d, "Progressing").unwrap();
    assert_eq!(p["status"], "False");
    let msg = p["message"].as_str().unwrap();
    assert!(
        msg.starts_with("ReplicaSet \"router-") && msg.ends_with("\" has timed out progressing."),
        "{msg}"
    );
    // The old pods still serve: Available stays True.
    assert_eq!(condition(&d, "Available").unwrap()["status"], "True");
    assert_eq!(d["status"]["unavailableReplicas"], 1, "{}", d["status"]);
    let out = sb.kubectl_in(
        &[
            "rollout",
            "status",
            "deploy/router",
            "-n",
            "mr-ee",
            "--timeout=20s",
        ],
        None,
        Duration::from_secs(30),
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("exceeded its progress deadline"),
        "{}",
        out.stderr
    );
    // Rolling back makes progress again.
    sb.ok(&["rollout", "undo", "deploy/router", "-n", "mr-ee"]);
    let out = sb.kubectl_in(
        &[
            "rollout",
            "status",
            "deploy/router",
            "-n",
            "mr-ee",
            "--timeout=60s",
        ],
        None,
        Duration::from_secs(75),
    );
    assert!(out.ok, "rollout status after undo: {}", out.stderr);
}

const TWO_CONTAINERS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: half-broken, namespace: mr-ee}
spec:
  containers:
  - {name: router, image: "ghcr.io/mr-ee/router:3.5.1"}
  - {name: sidecar, image: "busybox:1.36"}
---
apiVersion: v1
kind: Pod
metadata: {name: nowhere, namespace: mr-ee}
spec:
  nodeName: no-such-node
  containers:
  - {name: app, image: "busybox:1.36"}
"#;

#[test]
fn kubelet_never_calls_a_crashing_container_ready() {
    let sb = Sandbox::start();
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(TWO_CONTAINERS), CMD_LIMIT);
    assert!(out.ok, "apply: {}", out.stderr);
    let path = "/api/v1/namespaces/mr-ee/pods/half-broken";
    let until = Instant::now() + Duration::from_secs(14);
    let mut sidecar_ready = false;
    let mut crashed = false;
    while Instant::now() < until {
        let (_, p) = sb.http("GET", path, None);
        assert!(!is_ready(&p), "the pod is Ready: {}", p["status"]);
        for c in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if c["name"] == "router" {
                assert_ne!(c["ready"], true, "the crashing container is ready: {c}");
                crashed |= c["lastState"]["terminated"].is_object()
                    || c["state"]["terminated"].is_object();
            } else {
                sidecar_ready |= c["ready"] == true;
            }
        }
        let ready = condition(&p, "Ready");
        if let Some(r) = ready
            && r["status"] == "False"
            && c_has(&p)
        {
            assert_eq!(r["reason"], "ContainersNotReady", "{r}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(crashed, "the router container never crashed");
    assert!(sidecar_ready, "the healthy container never became ready");
    let table = sb.ok(&["get", "pod", "half-broken", "-n", "mr-ee"]);
    assert!(
        row(&table, "half-broken").unwrap().contains("1/2"),
        "{table}"
    );

    // A pod bound to a node that does not exist stays Pending, unstarted.
    let p = sb.json(&["get", "pod", "nowhere", "-n", "mr-ee"]);
    assert_eq!(p["status"]["phase"], "Pending", "{}", p["status"]);
    assert!(
        p["status"]["containerStatuses"].is_null(),
        "{}",
        p["status"]
    );
    // Deleting it does not wait for a kubelet that is not there.
    sb.ok(&["delete", "pod", "nowhere", "-n", "mr-ee", "--timeout=20s"]);
}

fn c_has(p: &Value) -> bool {
    p["status"]["containerStatuses"].is_array()
}

/// The timestamp (unix seconds) that starts a simulated log line.
fn line_time(l: &str) -> i64 {
    let t = l.split_whitespace().next().unwrap_or("");
    t.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{l:?}: {e}"))
        .as_second()
}

#[test]
fn logs_follow_with_tail_has_no_gap() {
    let sb = Sandbox::start();
    let pod = name(&router_pods(&sb)[0]).to_string();
    for run in 0..3 {
        let mut child = sb
            .command(&["logs", "-f", "--tail=1", &pod, "-n", "mr-ee"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl logs -f");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while lines.len() < 4 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(e) => panic!("run {run}: only {lines:?} ({e})"),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        // One line every 2 s: the tail's line and the ones followed meet with no gap
        // and no repeat.
        for w in lines.windows(2) {
            assert_eq!(
                line_time(&w[1]) - line_time(&w[0]),
                2,
                "run {run}: a line dropped or repeated between {:?} and {:?}",
                w[0],
                w[1]
            );
        }
        std::thread::sleep(Duration::from_millis(700));
    }
}

const FAILING_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: doomed, namespace: mr-ee}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: "ghcr.io/mr-ee/router:3.5.1"}
"#;

#[test]
fn a_job_runs_to_completion_or_fails() {
    let sb = Sandbox::start();
    let out = sb.ok(&[
        "create",
        "job",
        "pi",
        "-n",
        "mr-ee",
        "--image=busybox:1.36",
        "--",
        "sh",
        "-c",
        "echo 3.14",
    ]);
    assert!(out.contains("job.batch/pi created"), "{out}");
    let out = sb.kubectl_in(
        &[
            "wait",
            "--for=condition=complete",
            "job/pi",
            "-n",
            "mr-ee",
            "--timeout=60s",
        ],
        None,
        Duration::from_secs(75),
    );
    assert!(out.ok, "wait: {} {}", out.stdout, out.stderr);
    let job = sb.json(&["get", "job", "pi", "-n", "mr-ee"]);
    let s = &job["status"];
    assert_eq!(s["succeeded"], 1, "{s}");
    assert!(s.get("active").is_none(), "{s}");
    assert_eq!(s["ready"], 0, "{s}");
    assert_eq!(s["terminating"], 0, "{s}");
    assert_eq!(s["uncountedTerminatedPods"], serde_json::json!({}), "{s}");
    assert!(
        s["startTime"].is_string() && s["completionTime"].is_string(),
        "{s}"
    );
    let kinds: Vec<&str> = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["SuccessCriteriaMet", "Complete"], "{s}");
    assert_eq!(
        condition(&job, "Complete").unwrap()["reason"],
        "CompletionsReached"
    );
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let pods = sb.items(&["get", "pods", "-n", "mr-ee", "-l", "job-name=pi"]);
    assert_eq!(pods.len(), 1);
    let p = &pods[0];
    assert_eq!(
        p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        p["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "pi"
    );
    assert_eq!(p["status"]["phase"], "Succeeded");
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    let table = sb.ok(&["get", "pods", "-n", "mr-ee", "-l", "job-name=pi"]);
    let r = row(&table, name(p)).unwrap();
    assert!(r.contains("Completed") && r.contains("0/1"), "{table}");
    let table = sb.ok(&["get", "jobs", "-n", "mr-ee"]);
    assert!(row(&table, "pi").unwrap().contains("1/1"), "{table}");

    // A Job whose pod crashes with backoffLimit 0 fails.
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(FAILING_JOB), CMD_LIMIT);
    assert!(out.ok, "apply: {}", out.stderr);
    let out = sb.kubectl_in(
        &[
            "wait",
            "--for=condition=failed",
            "job/doomed",
            "-n",
            "mr-ee",
            "--timeout=60s",
        ],
        None,
        Duration::from_secs(75),
    );
    assert!(out.ok, "wait failed: {} {}", out.stdout, out.stderr);
    let job = sb.json(&["get", "job", "doomed", "-n", "mr-ee"]);
    assert_eq!(job["status"]["failed"], 1, "{}", job["status"]);
    assert_eq!(
        condition(&job, "FailureTarget").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        condition(&job, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert!(job["status"].get("completionTime").is_none());
    let pods = sb.items(&["get", "pods", "-n", "mr-ee", "-l", "job-name=doomed"]);
    assert_eq!(pods.len(), 1, "no retry with backoffLimit 0");
    assert_eq!(pods[0]["status"]["phase"], "Failed");

    // Deleting a Job takes its pods along.
    sb.ok(&["delete", "job", "pi", "-n", "mr-ee"]);
    wait_for("the job's pods gone", WAIT, || {
        sb.items(&["get", "pods", "-n", "mr-ee", "-l", "job-name=pi"])
            .is_empty()
            .then_some(())
    });
}

#[test]
fn cronjobs_schedule_jobs_and_keep_their_history() {
    let sb = Sandbox::start();
    let out = sb.ok(&[
        "create",
        "cronjob",
        "hello",
        "-n",
        "mr-ee",
        "--image=busybox:1.36",
        "--schedule=*/1 * * * *",
        "--",
        "echo",
        "hi",
    ]);
    assert!(out.contains("cronjob.batch/hello created"), "{out}");
    let cj = sb.json(&["get", "cj", "hello", "-n", "mr-ee"]);
    let uid = cj["metadata"]["uid"].as_str().unwrap().to_string();
    let table = sb.ok(&["get", "cronjobs", "-n", "mr-ee"]);
    let header = table.lines().next().unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ],
        "{table}"
    );
    let r = row(&table, "hello").unwrap();
    assert!(
        r.contains("*/1 * * * *") && r.contains("<none>") && r.contains("False"),
        "{r}"
    );
    let cj = wait_for("the CronJob's defaults", WAIT, || {
        let cj = sb.json(&["get", "cj", "hello", "-n", "mr-ee"]);
        (cj["spec"]["successfulJobsHistoryLimit"] == 3).then_some(cj)
    });
    assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");

    // Jobs made by hand from it: owned by it, and only 3 successful ones are kept.
    for i in 0..5 {
        let n = format!("manual-{i}");
        let out = sb.ok(&["create", "job", &n, "--from=cronjob/hello", "-n", "mr-ee"]);
        assert!(out.contains(&format!("job.batch/{n} created")), "{out}");
    }
    let j = sb.json(&["get", "job", "manual-0", "-n", "mr-ee"]);
    assert_eq!(j["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
    assert_eq!(
        j["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    let out = sb.kubectl_in(
        &[
            "wait",
            "--for=condition=complete",
            "job/manual-4",
            "-n",
            "mr-ee",
            "--timeout=60s",
        ],
        None,
        Duration::from_secs(75),
    );
    assert!(out.ok, "wait: {} {}", out.stdout, out.stderr);
    let left = wait_for(
        "history cut to 3 successful jobs",
        Duration::from_secs(60),
        || {
            let jobs: Vec<Value> = sb
                .items(&["get", "jobs", "-n", "mr-ee"])
                .into_iter()
                .filter(|j| name(j).starts_with("manual-"))
                .collect();
            let all_done = jobs
                .iter()
                .all(|j| condition(j, "Complete").is_some_and(|c| c["status"] == "True"));
            (jobs.len() == 3 && all_done).then_some(jobs)
        },
    );
    // The oldest went.
    assert!(!names(&left).contains("manual-0"), "{:?}", names(&left));
    let cj = sb.json(&["get", "cj", "hello", "-n", "mr-ee"]);
    assert!(
        cj["status"]["lastSuccessfulTime"].is_string(),
        "{}",
        cj["status"]
    );

    // A scheduled run within a minute, named after its scheduled minute.
    let job = wait_for("a scheduled job", Duration::from_secs(75), || {
        sb.items(&["get", "jobs", "-n", "mr-ee"])
            .into_iter()
            .find(|j| name(j).starts_with("hello-"))
    });
    let cj = sb.json(&["get", "cj", "hello", "-n", "mr-ee"]);
    let last: jiff::Timestamp = cj["status"]["lastScheduleTime"]
        .as_str()
        .expect("lastScheduleTime")
        .parse()
        .unwrap();
    assert_eq!(last.as_second() % 60, 0);
    assert_eq!(name(&job), format!("hello-{}", last.as_second() / 60));
    assert_eq!(
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        last.to_string()
    );
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");

    // Deleting the CronJob takes its Jobs and their pods along.
    sb.ok(&["delete", "cronjob", "hello", "-n", "mr-ee"]);
    wait_for("the cronjob's jobs and pods gone", WAIT, || {
        let jobs = sb.items(&["get", "jobs", "-n", "mr-ee"]);
        let pods = sb.items(&[
            "get",
            "pods",
            "-n",
            "mr-ee",
            "-l",
            "batch.kubernetes.io/job-name",
        ]);
        (jobs.is_empty() && pods.is_empty()).then_some(())
    });
}
