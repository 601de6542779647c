//! Acceptance tests of the sandbox: the real `helmdeck sandbox` binary, driven by the real
//! `kubectl` (and, where kubectl cannot reach a feature, by plain HTTP).
//!
//! Every test starts its own sandbox on a free port and kills it when it ends. Every wait is
//! bounded: kubectl runs under a deadline, and conditions are polled up to a limit.

mod kube_sandbox;

use kube_sandbox::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn get_lists_the_scenario_objects() {
    let sb = Sandbox::start();
    let kinds = "nodes,pods,deploy,sts,hpa,events,secrets";
    let text = sb.ok(&["get", kinds, "-A"]);
    for want in [
        "node/worker-1",
        "node/worker-4",
        "deployment.apps/router",
        "statefulset.apps/keycloak",
        "statefulset.apps/minio",
        "statefulset.apps/mysql",
        "horizontalpodautoscaler.autoscaling/migratorydata",
        "secret/sh.helm.release.v1.ee.v1",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    // Server-side tables: the columns kubectl users read, not just NAME and AGE.
    let node = row(&text, "node/worker-1").unwrap();
    assert!(node.contains(" Ready "), "{node}");
    assert!(text.contains("STATUS") && text.contains("RESTARTS") && text.contains("UP-TO-DATE"));
    let router = row(&text, "deployment.apps/router").unwrap();
    assert!(
        router.starts_with("mr-ee") && router.contains("2/2"),
        "{router}"
    );

    let all = sb.items(&["get", kinds, "-A"]);
    let of = |kind: &str| -> Vec<&Value> { all.iter().filter(|v| v["kind"] == kind).collect() };
    let nodes: BTreeSet<&str> = of("Node").iter().map(|n| name(n)).collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["worker-1", "worker-2", "worker-3", "worker-4"])
    );
    let pod_ns: BTreeSet<&str> = of("Pod")
        .iter()
        .filter_map(|p| p["metadata"]["namespace"].as_str())
        .collect();
    for ns in ["mr-ee", "iomete", "migratorydata", "kube-system"] {
        assert!(pod_ns.contains(ns), "no pods in {ns}: {pod_ns:?}");
    }
    assert!(
        of("Deployment")
            .iter()
            .any(|d| name(d) == "router" && d["metadata"]["namespace"] == "mr-ee")
    );
    let sts: BTreeSet<&str> = of("StatefulSet").iter().map(|s| name(s)).collect();
    assert_eq!(sts, BTreeSet::from(["keycloak", "minio", "mysql"]));
    let hpa = of("HorizontalPodAutoscaler");
    assert_eq!(hpa.len(), 1);
    assert_eq!(name(hpa[0]), "migratorydata");
    assert_eq!(hpa[0]["metadata"]["namespace"], "migratorydata");
    assert!(
        of("Secret")
            .iter()
            .filter(|s| s["type"] == "helm.sh/release.v1")
            .count()
            >= 9
    );
}

#[test]
fn get_pods_wide_and_as_json() {
    let sb = Sandbox::start();
    let text = sb.ok(&["get", "pods", "-o", "wide", "-n", "mr-ee"]);
    let header = text.lines().next().unwrap();
    for col in ["NAME", "READY", "STATUS", "IP", "NODE"] {
        assert!(header.contains(col), "{header}");
    }
    let routers: Vec<&str> = text.lines().filter(|l| l.starts_with("router-")).collect();
    assert_eq!(routers.len(), 2, "{text}");
    for l in routers {
        assert!(
            l.contains("1/1") && l.contains("Running") && l.contains("worker-"),
            "{l}"
        );
    }

    let pods = sb.items(&["get", "pods", "-A"]);
    assert!(pods.len() >= 20, "only {} pods", pods.len());
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Running", "{}", name(p));
        let node = p["spec"]["nodeName"].as_str().unwrap_or("");
        assert!(node.starts_with("worker-"), "{} on {node:?}", name(p));
        assert!(is_ready(p), "{} not ready", name(p));
        assert!(p["status"]["podIP"].is_string(), "{} has no IP", name(p));
    }
}

/// A `kubectl get -w` running in the background; dropping it kills it.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watch {
    /// Waits for a line that satisfies `f`.
    fn line(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if f(&l) => return l,
                Ok(_) => {}
                Err(e) => panic!("watch: no line with {what} ({e})"),
            }
        }
    }
}

#[test]
fn get_watch_sees_new_pods() {
    let sb = Sandbox::start();
    let mut child = sb
        .command(&["get", "pods", "-w", "-n", "mr-ee"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let w = Watch { child, lines: rx };
    let header = w.line("the header", |l| l.starts_with("NAME"));
    assert!(header.contains("STATUS"), "{header}");
    let before: HashSet<String> = names(&router_pods(&sb)).into_iter().collect();
    assert_eq!(before.len(), 2);
    for _ in 0..2 {
        w.line("a router pod", |l| l.starts_with("router-"));
    }
    sb.ok(&["scale", "deploy/router", "--replicas=3", "-n", "mr-ee"]);
    let first = w.line("a new router pod", |l| {
        l.starts_with("router-") && !before.contains(l.split_whitespace().next().unwrap())
    });
    let new = first.split_whitespace().next().unwrap().to_string();
    // The watch follows the new pod until it is ready.
    w.line("the new pod running and ready", |l| {
        l.starts_with(&new) && l.contains("1/1") && l.contains("Running")
    });
}

#[test]
fn scale_and_rollout_status() {
    let sb = Sandbox::start();
    for n in [4, 1] {
        let replicas = format!("--replicas={n}");
        let out = sb.ok(&["scale", "deploy/router", &replicas, "-n", "mr-ee"]);
        assert!(out.contains("deployment.apps/router scaled"), "{out}");
        sb.assert_rolled_out("deploy/router", "mr-ee");
        let d = sb.json(&["get", "deploy", "router", "-n", "mr-ee"]);
        assert_eq!(d["spec"]["replicas"], n);
        // What rollout status waited for: at least n updated and available replicas.
        assert!(
            d["status"]["availableReplicas"].as_i64() >= Some(n),
            "{}",
            d["status"]
        );
        // A scale-down is reported as the replica set's pods go.
        wait_for("the deployment to report n ready replicas", WAIT, || {
            let s = &sb.json(&["get", "deploy", "router", "-n", "mr-ee"])["status"];
            [
                "replicas",
                "readyReplicas",
                "updatedReplicas",
                "availableReplicas",
            ]
            .iter()
            .all(|k| s[*k] == n)
            .then_some(())
        });
        let pods = router_pods(&sb);
        assert_eq!(pods.len(), n as usize);
        assert!(pods.iter().all(is_ready));
    }
    // Scaled-down pods go away.
    wait_for("one router pod left", WAIT, || {
        (sb.items(&[
            "get",
            "pods",
            "-n",
            "mr-ee",
            "-l",
            "app.kubernetes.io/name=router",
        ])
        .len()
            == 1)
            .then_some(())
    });
}

#[test]
fn rollout_restart_replaces_the_pods() {
    let sb = Sandbox::start();
    let old = router_pods(&sb);
    let old_names = names(&old);
    let old_hash = old[0]["metadata"]["labels"]["pod-template-hash"].clone();
    let out = sb.ok(&["rollout", "restart", "deploy/router", "-n", "mr-ee"]);
    assert!(out.contains("restarted"), "{out}");
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
    let d = sb.json(&["get", "deploy", "router", "-n", "mr-ee"]);
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    let new = wait_for("the old router pods gone", WAIT, || {
        let all = sb.items(&[
            "get",
            "pods",
            "-n",
            "mr-ee",
            "-l",
            "app.kubernetes.io/name=router",
        ]);
        (all.len() == 2 && all.iter().all(|p| !old_names.contains(name(p)))).then_some(all)
    });
    for p in &new {
        assert_ne!(p["metadata"]["labels"]["pod-template-hash"], old_hash);
        assert!(is_ready(p), "{} not ready", name(p));
    }
    let rs = sb.items(&[
        "get",
        "rs",
        "-n",
        "mr-ee",
        "-l",
        "app.kubernetes.io/name=router",
    ]);
    assert_eq!(rs.len(), 2, "the old and the new replica set");
}

#[test]
fn helm_release_secrets_decode() {
    use base64::Engine;
    let sb = Sandbox::start();
    let text = sb.ok(&["get", "secrets", "-l", "owner=helm", "-A"]);
    let ee = row(&text, "sh.helm.release.v1.ee.v4").expect("ee v4 listed");
    assert!(ee.contains("helm.sh/release.v1"), "{ee}");

    let secrets = sb.items(&["get", "secrets", "-l", "owner=helm", "-A"]);
    let got = names(&secrets);
    for v in 1..=4 {
        assert!(
            got.contains(&format!("sh.helm.release.v1.ee.v{v}")),
            "{got:?}"
        );
    }
    for v in 1..=3 {
        assert!(got.contains(&format!("sh.helm.release.v1.iomete-dataplane.v{v}")));
    }
    for v in 1..=2 {
        assert!(got.contains(&format!("sh.helm.release.v1.migratorydata.v{v}")));
    }
    assert!(secrets.iter().all(|s| s["type"] == "helm.sh/release.v1"));

    let s = secrets
        .iter()
        .find(|s| name(s) == "sh.helm.release.v1.ee.v4")
        .unwrap();
    assert_eq!(s["metadata"]["namespace"], "mr-ee");
    assert_eq!(s["metadata"]["labels"]["status"], "deployed");
    // data.release: base64 (the Secret) of base64 (Helm) of gzip of JSON.
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm = b64.decode(s["data"]["release"].as_str().unwrap()).unwrap();
    let gz = b64.decode(&helm).unwrap();
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut json)
        .unwrap();
    let rel: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rel["name"], "ee");
    assert_eq!(rel["namespace"], "mr-ee");
    assert_eq!(rel["version"], 4);
    assert_eq!(rel["chart"]["metadata"]["name"], "mr-ee");
    assert_eq!(rel["chart"]["metadata"]["version"], "1.4.2");
    assert_eq!(rel["info"]["status"], "deployed");
}

#[test]
fn deleted_pod_is_replaced() {
    let sb = Sandbox::start();
    let before = router_pods(&sb);
    let victim = name(&before[0]).to_string();
    let hash = before[0]["metadata"]["labels"]["pod-template-hash"].clone();
    let out = sb.ok(&["delete", "pod", &victim, "-n", "mr-ee", "--timeout=30s"]);
    assert!(out.contains(&format!("pod \"{victim}\" deleted")), "{out}");
    // kubectl delete waits until the pod is gone.
    let err = sb.fails(&["get", "pod", &victim, "-n", "mr-ee"]);
    assert!(err.contains("NotFound"), "{err}");
    let after = wait_for("a replacement router pod ready", WAIT, || {
        let pods = router_pods(&sb);
        (pods.len() == 2 && pods.iter().all(is_ready)).then_some(pods)
    });
    let after_names = names(&after);
    assert!(!after_names.contains(&victim));
    let new: Vec<&Value> = after
        .iter()
        .filter(|p| !before.iter().any(|b| name(b) == name(p)))
        .collect();
    assert_eq!(new.len(), 1, "{after_names:?}");
    assert_eq!(new[0]["metadata"]["labels"]["pod-template-hash"], hash);
    assert_eq!(owner_kind(new[0]), "ReplicaSet");
}

#[test]
fn cordon_and_uncordon() {
    let sb = Sandbox::start();
    let out = sb.ok(&["cordon", "worker-1"]);
    assert!(out.contains("node/worker-1 cordoned"), "{out}");
    let n = sb.json(&["get", "node", "worker-1"]);
    assert_eq!(n["spec"]["unschedulable"], true);
    let text = sb.ok(&["get", "node", "worker-1"]);
    assert!(text.contains("Ready,SchedulingDisabled"), "{text}");
    let out = sb.ok(&["uncordon", "worker-1"]);
    assert!(out.contains("node/worker-1 uncordoned"), "{out}");
    let n = sb.json(&["get", "node", "worker-1"]);
    assert_ne!(n["spec"]["unschedulable"], true, "{}", n["spec"]);
}

#[test]
fn drain_moves_pods_elsewhere() {
    let sb = Sandbox::start();
    let all = sb.items(&["get", "pods", "-A"]);
    let on_node = |pods: &[Value], node: &str| -> Vec<Value> {
        pods.iter()
            .filter(|p| p["spec"]["nodeName"] == node && owner_kind(p) != "DaemonSet")
            .cloned()
            .collect()
    };
    let evicted = on_node(&all, "worker-2");
    assert!(!evicted.is_empty(), "nothing to drain on worker-2");
    let workloads = all.iter().filter(|p| owner_kind(p) != "DaemonSet").count();
    let out = sb.kubectl_in(
        &[
            "drain",
            "worker-2",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=90s",
        ],
        None,
        Duration::from_secs(100),
    );
    assert!(out.ok, "drain failed: {}", out.stderr);
    assert!(
        out.stdout.contains("node/worker-2 drained"),
        "{}",
        out.stdout
    );
    let n = sb.json(&["get", "node", "worker-2"]);
    assert_eq!(n["spec"]["unschedulable"], true);
    let left = sb.items(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        "spec.nodeName=worker-2",
    ]);
    assert!(!left.is_empty(), "the DaemonSet pod stays");
    for p in &left {
        assert_eq!(
            owner_kind(p),
            "DaemonSet",
            "{} is still on worker-2",
            name(p)
        );
    }
    // Every workload is back at full strength, on the other nodes.
    wait_for("replacement pods running elsewhere", WAIT, || {
        let pods = sb.items(&["get", "pods", "-A"]);
        let running: Vec<&Value> = pods
            .iter()
            .filter(|p| owner_kind(p) != "DaemonSet" && !terminating(p) && is_ready(p))
            .collect();
        (running.len() == workloads && running.iter().all(|p| p["spec"]["nodeName"] != "worker-2"))
            .then_some(())
    });
    let now = sb.items(&["get", "pods", "-A"]);
    for p in &evicted {
        let prefix = name(p).rsplit_once('-').map_or(name(p), |(a, _)| a);
        let sts = owner_kind(p) == "StatefulSet";
        assert!(
            now.iter().any(|q| {
                let same = if sts {
                    name(q) == name(p)
                } else {
                    name(q).starts_with(prefix) && name(q) != name(p)
                };
                same && q["spec"]["nodeName"] != "worker-2"
            }),
            "no replacement for {}",
            name(p)
        );
    }
}

const SOLO: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: solo, namespace: mr-ee}
spec:
  replicas: 1
  selector: {matchLabels: {app: solo}}
  template:
    metadata: {labels: {app: solo}}
    spec:
      containers: [{name: solo, image: nginx:1.27}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: solo, namespace: mr-ee}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: solo}}
";

#[test]
fn drain_stops_at_a_disruption_budget() {
    let sb = Sandbox::start();
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(SOLO), CMD_LIMIT);
    assert!(out.ok, "apply: {}", out.stderr);
    assert!(
        out.stdout.contains("deployment.apps/solo created"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("poddisruptionbudget.policy/solo created")
    );
    let pod = wait_for("the solo pod ready", WAIT, || {
        let pods = sb.items(&["get", "pods", "-n", "mr-ee", "-l", "app=solo"]);
        pods.into_iter().find(is_ready)
    });
    let node = pod["spec"]["nodeName"].as_str().unwrap().to_string();
    wait_for("the budget to count the pod", WAIT, || {
        let pdb = sb.json(&["get", "pdb", "solo", "-n", "mr-ee"]);
        (pdb["status"]["currentHealthy"] == 1 && pdb["status"]["disruptionsAllowed"] == 0)
            .then_some(())
    });
    let out = sb.kubectl_in(
        &[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=8s",
        ],
        None,
        Duration::from_secs(40),
    );
    assert!(!out.ok, "drain should fail: {}", out.stdout);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("disruption budget"), "{said}");
    let still = sb.json(&["get", "pod", name(&pod), "-n", "mr-ee"]);
    assert!(!terminating(&still), "the budget's only pod was evicted");
    assert!(is_ready(&still));
    assert_eq!(still["spec"]["nodeName"], node.as_str());
}

#[test]
fn top_pods_and_nodes() {
    let sb = Sandbox::start();
    let cpu = |s: &str| {
        s.strip_suffix('m')
            .is_some_and(|n| n.parse::<u64>().is_ok())
    };
    let mem = |s: &str| {
        s.strip_suffix("Mi")
            .is_some_and(|n| n.parse::<u64>().is_ok())
    };

    let text = sb.ok(&["top", "pods", "-n", "mr-ee"]);
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("CPU(cores)") && header.contains("MEMORY(bytes)"),
        "{header}"
    );
    let pods = sb.items(&[
        "get",
        "pods",
        "-n",
        "mr-ee",
        "--field-selector",
        "status.phase=Running",
    ]);
    assert!(!pods.is_empty());
    for p in &pods {
        let l = row(&text, name(p)).unwrap_or_else(|| panic!("{} missing:\n{text}", name(p)));
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert!(cpu(cols[1]) && mem(cols[2]), "{l}");
    }

    let text = sb.ok(&["top", "nodes"]);
    assert!(
        text.lines().next().unwrap().contains("CPU(cores)"),
        "{text}"
    );
    for n in ["worker-1", "worker-2", "worker-3", "worker-4"] {
        let l = row(&text, n).unwrap_or_else(|| panic!("{n} missing:\n{text}"));
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert!(
            cpu(cols[1]) && cols[2].ends_with('%') && mem(cols[3]),
            "{l}"
        );
    }
}

#[test]
fn autoscale_creates_an_hpa_that_gets_status() {
    let sb = Sandbox::start();
    let out = sb.ok(&[
        "autoscale",
        "deploy/router",
        "--min",
        "2",
        "--max",
        "5",
        "--cpu-percent",
        "50",
        "-n",
        "mr-ee",
    ]);
    assert!(
        out.contains("horizontalpodautoscaler.autoscaling/router autoscaled"),
        "{out}"
    );
    let h = sb.json(&["get", "hpa.v2.autoscaling", "router", "-n", "mr-ee"]);
    assert_eq!(h["spec"]["minReplicas"], 2);
    assert_eq!(h["spec"]["maxReplicas"], 5);
    assert_eq!(h["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(h["spec"]["scaleTargetRef"]["name"], "router");
    let m = &h["spec"]["metrics"][0]["resource"];
    assert_eq!(m["name"], "cpu");
    assert_eq!(m["target"]["averageUtilization"], 50);
    let v1 = sb.json(&[
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "router",
        "-n",
        "mr-ee",
    ]);
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);

    let status = wait_for("the HPA's status", WAIT, || {
        let h = sb.json(&["get", "hpa.v2.autoscaling", "router", "-n", "mr-ee"]);
        let s = h["status"].clone();
        (s["currentReplicas"].as_i64().unwrap_or(0) >= 1 && s["currentMetrics"].is_array())
            .then_some(s)
    });
    assert!(status["desiredReplicas"].as_i64().is_some(), "{status}");
    let text = sb.ok(&["get", "hpa", "router", "-n", "mr-ee"]);
    let l = row(&text, "router").unwrap();
    assert!(
        l.contains("Deployment/router") && l.contains("%/50%"),
        "{text}"
    );
}

#[test]
fn apply_updates_and_takes_lists() {
    let sb = Sandbox::start();
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(SOLO), CMD_LIMIT);
    assert!(out.ok, "apply: {}", out.stderr);
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(SOLO), CMD_LIMIT);
    assert!(
        out.stdout.contains("deployment.apps/solo unchanged"),
        "{}",
        out.stdout
    );
    let newer = SOLO.replace("nginx:1.27", "nginx:1.28");
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(&newer), CMD_LIMIT);
    assert!(
        out.stdout.contains("deployment.apps/solo configured"),
        "{}",
        out.stdout
    );
    let out = sb.kubectl_in(
        &[
            "rollout",
            "status",
            "deploy/solo",
            "-n",
            "mr-ee",
            "--timeout=60s",
        ],
        None,
        Duration::from_secs(75),
    );
    assert!(out.ok, "rollout status: {}", out.stderr);
    wait_for("the solo pod on the new image", WAIT, || {
        let pods = sb.items(&["get", "pods", "-n", "mr-ee", "-l", "app=solo"]);
        (pods.len() == 1
            && pods[0]["spec"]["containers"][0]["image"] == "nginx:1.28"
            && is_ready(&pods[0]))
        .then_some(())
    });

    // What `kubectl get -o json` prints (a List) applies back as it is.
    let list = sb.ok(&["get", "deploy", "-n", "mr-ee", "-o", "json"]);
    let path = sb.dir.path().join("deployments.json");
    std::fs::write(&path, &list).unwrap();
    let out = sb.kubectl(&["apply", "-f", path.to_str().unwrap()]);
    assert!(out.ok, "apply of a List: {}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 5, "{}", out.stdout);

    // Fields the type does not have are refused (kubectl asks for strict validation).
    let typo = SOLO
        .split("---")
        .next()
        .unwrap()
        .replace("replicas: 1", "replica: 1");
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(&typo), CMD_LIMIT);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("strict decoding error: unknown field \"spec.replica\""),
        "{}",
        out.stderr
    );
}

#[test]
fn errors_as_kubectl_reports_them() {
    let sb = Sandbox::start();
    let err = sb.fails(&["get", "pods", "nope", "-n", "mr-ee"]);
    assert!(
        err.contains("NotFound") && err.contains("pods \"nope\" not found"),
        "{err}"
    );

    let err = sb.fails(&["get", "frobs"]);
    assert!(
        err.contains("doesn't have a resource type \"frobs\""),
        "{err}"
    );

    // A Deployment whose selector does not match its template: 422 Invalid.
    let bad = SOLO
        .split("---")
        .next()
        .unwrap()
        .replace("name: solo,", "name: bad,")
        .replace("labels: {app: solo}", "labels: {app: other}");
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(&bad), CMD_LIMIT);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains("The Deployment \"bad\" is invalid")
            && out.stderr.contains("spec.template.metadata.labels"),
        "{}",
        out.stderr
    );
    let body: Value = serde_yaml::from_str(&bad).unwrap();
    let (code, status) = sb.http(
        "POST",
        "/apis/apps/v1/namespaces/mr-ee/deployments",
        Some(("application/json", &body.to_string())),
    );
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    let err = sb.fails(&["get", "deploy", "bad", "-n", "mr-ee"]);
    assert!(err.contains("NotFound"), "{err}");

    // A stale update: 409 Conflict.
    sb.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "mr-ee",
        "--from-literal=a=1",
    ]);
    let stale = sb.ok(&["get", "configmap", "settings", "-n", "mr-ee", "-o", "json"]);
    sb.ok(&[
        "label",
        "configmap",
        "settings",
        "-n",
        "mr-ee",
        "touched=yes",
    ]);
    let path = sb.dir.path().join("stale.json");
    std::fs::write(&path, &stale).unwrap();
    let err = sb.fails(&["replace", "-f", path.to_str().unwrap()]);
    assert!(
        err.contains("Conflict") && err.contains("the object has been modified"),
        "{err}"
    );
    let (code, status) = sb.http(
        "PUT",
        "/api/v1/namespaces/mr-ee/configmaps/settings",
        Some(("application/json", &stale)),
    );
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");
    let cm = sb.json(&["get", "configmap", "settings", "-n", "mr-ee"]);
    assert_eq!(
        cm["metadata"]["labels"]["touched"], "yes",
        "the stale write lost"
    );
}

#[test]
fn logs_current_and_previous() {
    let sb = Sandbox::start();
    // One line every two seconds since the container started: wait for a full tail.
    let lines = wait_for("five log lines", WAIT, || {
        let text = sb.ok(&["logs", "deploy/router", "-n", "mr-ee", "--tail=5"]);
        let lines: Vec<String> = text.lines().map(String::from).collect();
        assert!(lines.len() <= 5, "--tail=5 gave {} lines", lines.len());
        (lines.len() == 5).then_some(lines)
    });
    for l in &lines {
        assert!(l.contains("INFO") || l.contains("DEBUG"), "{l}");
    }
    let pod = name(&router_pods(&sb)[0]).to_string();
    let err = sb.fails(&["logs", "-p", &pod, "-n", "mr-ee"]);
    assert!(err.contains("previous terminated container"), "{err}");
}

/// `kubectl logs --timestamps` (issue 12: the console's `t` asks the same): each line starts
/// with the kubelet's RFC 3339 timestamp with nanoseconds, in UTC, then a space; the line
/// itself follows unchanged.
#[test]
fn logs_with_timestamps_as_the_kubelet_stamps_them() {
    let sb = Sandbox::start();
    let args = [
        "logs",
        "deploy/router",
        "-n",
        "mr-ee",
        "--tail=3",
        "--timestamps",
    ];
    let lines = wait_for("three stamped log lines", WAIT, || {
        let text = sb.ok(&args);
        let lines: Vec<String> = text.lines().map(String::from).collect();
        (lines.len() == 3).then_some(lines)
    });
    for l in &lines {
        let (stamp, rest) = l.split_once(' ').unwrap_or_else(|| panic!("{l}"));
        assert_eq!(stamp.len(), "2026-01-02T03:04:05.000000000Z".len(), "{l}");
        assert!(stamp.ends_with('Z'), "{l}");
        let at: jiff::Timestamp = stamp.parse().unwrap_or_else(|e| panic!("{l}: {e}"));
        // The simulated program prints its own time first: the same second.
        let own: jiff::Timestamp = rest.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(at.as_second(), own.as_second(), "{l}");
        assert!(rest.contains("INFO") || rest.contains("DEBUG"), "{l}");
    }
    let plain = sb.ok(&["logs", "deploy/router", "-n", "mr-ee", "--tail=3"]);
    assert!(!plain.contains(".000000000Z"), "{plain}");
}

#[test]
fn trouble_scenario_shows_the_incidents() {
    let sb = Sandbox::start_with(&["--scenario", "trouble"]);
    let first =
        |pods: Vec<Value>, prefix: &str| pods.into_iter().find(|p| name(p).starts_with(prefix));
    let crash = wait_for(
        "forwarder-pinterest in CrashLoopBackOff",
        Duration::from_secs(40),
        || {
            let p = first(
                sb.items(&["get", "pods", "-n", "mr-ee"]),
                "forwarder-pinterest-",
            )?;
            let cs = &p["status"]["containerStatuses"][0];
            (cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
                && cs["restartCount"].as_i64().unwrap_or(0) >= 1)
                .then_some(p)
        },
    );
    let crash_name = name(&crash).to_string();
    let text = sb.ok(&["get", "pods", "-n", "mr-ee"]);
    let l = row(&text, &crash_name).unwrap();
    assert!(l.contains("0/1"), "{l}");

    // Restarts climb.
    let restarts = crash["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap();
    wait_for("another restart", Duration::from_secs(40), || {
        let p = sb.json(&["get", "pod", &crash_name, "-n", "mr-ee"]);
        (p["status"]["containerStatuses"][0]["restartCount"].as_i64()? > restarts).then_some(())
    });

    wait_for("jupyter-gateway failing to pull", WAIT, || {
        let p = first(
            sb.items(&["get", "pods", "-n", "iomete"]),
            "jupyter-gateway-",
        )?;
        let reason = p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str()?;
        matches!(reason, "ErrImagePull" | "ImagePullBackOff").then_some(())
    });
    let text = sb.ok(&["get", "pods", "-n", "iomete"]);
    let l = text
        .lines()
        .find(|l| l.starts_with("jupyter-gateway-"))
        .unwrap_or_else(|| panic!("no jupyter-gateway pod:\n{text}"));
    assert!(
        l.contains("ErrImagePull") || l.contains("ImagePullBackOff"),
        "{l}"
    );

    let text = sb.ok(&["get", "nodes"]);
    assert!(
        row(&text, "worker-3").unwrap().contains("NotReady"),
        "{text}"
    );
    assert!(
        row(&text, "worker-1").unwrap().contains(" Ready "),
        "{text}"
    );
    let n = sb.json(&["get", "node", "worker-3"]);
    let ready = n["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_ne!(ready["status"], "True");

    let events = wait_for("BackOff and Failed warnings", WAIT, || {
        let evs = sb.items(&["get", "events", "-A", "--field-selector", "type=Warning"]);
        let reasons: HashSet<&str> = evs.iter().filter_map(|e| e["reason"].as_str()).collect();
        (reasons.contains("BackOff") && reasons.contains("Failed")).then_some(evs.clone())
    });
    assert!(events.iter().all(|e| e["type"] == "Warning"));
    let text = sb.ok(&["get", "events", "-A", "--field-selector", "type=Warning"]);
    assert!(text.contains(&format!("pod/{crash_name}")), "{text}");

    let out = sb.ok(&["logs", "-p", &crash_name, "-n", "mr-ee"]);
    assert!(out.contains("exiting with code 1"), "{out}");
}

#[test]
fn list_pages_follow_the_continue_token() {
    let sb = Sandbox::start();
    let total = sb.items(&["get", "pods", "-A"]).len();
    let mut seen = Vec::new();
    let mut token = String::new();
    for page in 0.. {
        assert!(page < 20, "too many pages");
        let path = if token.is_empty() {
            "/api/v1/pods?limit=5".to_string()
        } else {
            format!("/api/v1/pods?limit=5&continue={token}")
        };
        let v: Value = serde_json::from_str(&sb.ok(&["get", "--raw", &path])).unwrap();
        let items = v["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        for p in items {
            seen.push(format!("{}/{}", p["metadata"]["namespace"], name(p)));
        }
        match v["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => {
                assert_eq!(items.len(), 5);
                // Optional in the API; when given, something must remain.
                if let Some(r) = v["metadata"]["remainingItemCount"].as_i64() {
                    assert!(r > 0, "{}", v["metadata"]);
                }
                token = t.to_string();
            }
            _ => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "pages overlap: {seen:?}");
    assert_eq!(seen.len(), total);
}

#[test]
fn watch_from_a_compacted_version_is_expired() {
    let sb = Sandbox::start();
    sb.ok(&[
        "create",
        "configmap",
        "churn",
        "-n",
        "default",
        "--from-literal=n=0",
    ]);
    // Push the configmaps' history past what the store keeps.
    let host = sb.addr.clone();
    sb.http_many(20_100, move |i| {
        let body = format!("{{\"data\":{{\"n\":\"{}\"}}}}", i + 1);
        format!(
            "PATCH /api/v1/namespaces/default/configmaps/churn HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/merge-patch+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    let text = sb.ok(&[
        "get",
        "--raw",
        "/api/v1/configmaps?watch=true&resourceVersion=1&timeoutSeconds=2",
    ]);
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "ERROR", "{text}");
    assert_eq!(first["object"]["code"], 410);
    assert_eq!(first["object"]["reason"], "Expired");
    // A watch from the current version works.
    let rv =
        sb.json(&["get", "configmap", "churn", "-n", "default"])["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
    assert_eq!(
        sb.json(&["get", "configmap", "churn", "-n", "default"])["data"]["n"],
        "20100"
    );
    let path = format!("/api/v1/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1");
    let text = sb.ok(&["get", "--raw", &path]);
    assert!(!text.contains("\"ERROR\""), "{text}");
}

#[test]
fn label_and_field_selectors() {
    let sb = Sandbox::start();
    let app = |p: &Value| {
        p["metadata"]["labels"]["app.kubernetes.io/name"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let pods = sb.items(&[
        "get",
        "pods",
        "-A",
        "-l",
        "app.kubernetes.io/name in (router,minio)",
    ]);
    assert_eq!(pods.len(), 4, "{:?}", names(&pods));
    assert!(
        pods.iter()
            .all(|p| ["router", "minio"].contains(&app(p).as_str()))
    );

    let pods = sb.items(&[
        "get",
        "pods",
        "-A",
        "-l",
        "app.kubernetes.io/name notin (router,minio),app.kubernetes.io/instance",
    ]);
    assert!(!pods.is_empty());
    for p in &pods {
        assert!(
            !["router", "minio"].contains(&app(p).as_str()),
            "{}",
            name(p)
        );
        assert!(p["metadata"]["labels"]["app.kubernetes.io/instance"].is_string());
    }

    let pods = sb.items(&["get", "pods", "-A", "-l", "!app.kubernetes.io/instance"]);
    assert!(!pods.is_empty());
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["namespace"] == "kube-system")
    );

    let all = sb.items(&["get", "pods", "-A"]);
    let on_1 = sb.items(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        "spec.nodeName=worker-1",
    ]);
    assert!(!on_1.is_empty());
    assert!(on_1.iter().all(|p| p["spec"]["nodeName"] == "worker-1"));
    assert_eq!(
        on_1.len(),
        all.iter()
            .filter(|p| p["spec"]["nodeName"] == "worker-1")
            .count()
    );
    let running = sb.items(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        "status.phase=Running",
    ]);
    assert_eq!(running.len(), all.len());
    let other = sb.items(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        "status.phase!=Running,spec.nodeName=worker-1",
    ]);
    assert!(other.is_empty());
    let err = sb.fails(&["get", "pods", "-A", "--field-selector", "spec.frob=1"]);
    assert!(
        err.contains("BadRequest") || err.contains("field label not supported"),
        "{err}"
    );
}

/// `kubectl describe KIND NAME -n NS`, checked to have asked for protobuf and been answered
/// in it (the request and the answer, as kubectl logs them at -v=8): what it prints.
fn describe_in_protobuf(sb: &Sandbox, kind: &str, name: &str, ns: &str) -> String {
    let out = sb.kubectl(&["describe", kind, name, "-n", ns, "-v=8"]);
    assert!(out.ok, "describe: {}", out.stderr);
    for logged in [
        "Accept: application/vnd.kubernetes.protobuf,application/json",
        "Content-Type: application/vnd.kubernetes.protobuf",
    ] {
        assert!(out.stderr.contains(logged), "{logged}: {}", out.stderr);
    }
    out.stdout
}

/// The value describe prints after `label` (its first line that starts so).
fn described(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in:\n{text}"))
        .trim()
        .to_string()
}

/// Every label of `labels` (a JSON object) is shown as `key=value`.
fn assert_labels_shown(text: &str, labels: &serde_json::Value) {
    for (k, v) in labels.as_object().unwrap() {
        assert!(
            text.contains(&format!("{k}={}", v.as_str().unwrap())),
            "{k}: {text}"
        );
    }
}

/// kubectl's typed client reads a Helm release Secret in protobuf too (its data as raw
/// bytes, where JSON has base64): describe shows the type, labels and the payload's size
/// that the Secret's JSON gives.
#[test]
fn describe_reads_a_release_secret_in_protobuf() {
    use base64::Engine as _;
    let sb = Sandbox::start();
    let list = sb.json(&["get", "secrets", "-A", "-l", "owner=helm", "-o", "json"]);
    let secret = &list["items"][0];
    let text = describe_in_protobuf(
        &sb,
        "secret",
        secret["metadata"]["name"].as_str().unwrap(),
        secret["metadata"]["namespace"].as_str().unwrap(),
    );
    assert!(text.contains("helm.sh/release.v1"), "{text}");
    assert_labels_shown(&text, &secret["metadata"]["labels"]);
    let payload = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["release"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        described(&text, "release:"),
        format!("{} bytes", payload.len()),
        "{text}"
    );
}

/// kubectl's typed client (describe, logs, drain, exec) asks for pods in protobuf, and the
/// sandbox gives it protobuf as the API server does; what kubectl decodes from it is the
/// pod its JSON shows.
#[test]
fn describe_reads_a_pod_in_protobuf() {
    let sb = Sandbox::start();
    let pod = router_pods(&sb)[0].clone();
    let pod_name = name(&pod).to_string();
    let text = describe_in_protobuf(&sb, "pod", &pod_name, "mr-ee");
    let field = |label: &str| described(&text, label);
    let json = sb.json(&["get", "pod", &pod_name, "-n", "mr-ee", "-o", "json"]);
    let node = json["spec"]["nodeName"].as_str().unwrap();
    assert!(field("Node:").starts_with(&format!("{node}/")), "{text}");
    assert_eq!(field("IP:"), json["status"]["podIP"].as_str().unwrap());
    assert_eq!(field("Status:"), json["status"]["phase"].as_str().unwrap());
    let container = &json["spec"]["containers"][0];
    assert_eq!(field("Image:"), container["image"].as_str().unwrap());
    assert_eq!(
        field("Restart Count:"),
        json["status"]["containerStatuses"][0]["restartCount"].to_string()
    );
    assert_eq!(field("State:"), "Running");
    assert_eq!(
        field("Controlled By:"),
        format!(
            "ReplicaSet/{}",
            json["metadata"]["ownerReferences"][0]["name"]
                .as_str()
                .unwrap()
        )
    );
    assert_labels_shown(&text, &json["metadata"]["labels"]);
    assert!(
        text.contains("node.kubernetes.io/not-ready:NoExecute op=Exists for 300s"),
        "the tolerations with their seconds: {text}"
    );
    for c in json["status"]["conditions"].as_array().unwrap() {
        let t = c["type"].as_str().unwrap();
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(t)),
            "{t}: {text}"
        );
    }
}
