//! The defaults and admission of a kube-apiserver, and EndpointSlices, as the real `kubectl`
//! sees them against the sandbox: what `kubectl get -o yaml` shows on a real cluster.

mod kube_sandbox;

use kube_sandbox::*;
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn in_service_cidr(ip: &str) -> bool {
    let Ok(a) = ip.parse::<Ipv4Addr>() else {
        return false;
    };
    let n = u32::from(a);
    (0x0A60_0000..0x0A70_0000).contains(&n)
}

fn apply(sb: &Sandbox, yaml: &str) {
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(yaml), CMD_LIMIT);
    assert!(out.ok, "apply failed: {}\n{yaml}", out.stderr);
}

#[test]
fn secrets_store_string_data_as_base64_data() {
    let sb = Sandbox::start();
    sb.ok(&["create", "secret", "generic", "s", "--from-literal=k=v"]);
    let s = sb.json(&["get", "secret", "s"]);
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["data"]["k"], "dg==");
    assert!(s.get("stringData").is_none(), "{s}");

    apply(
        &sb,
        "apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
data: {k: b2xk, keep: a2VlcA==}
stringData: {k: new, user: admin}
",
    );
    let s = sb.json(&["get", "secret", "creds"]);
    assert_eq!(s["type"], "Opaque");
    assert_eq!(
        s["data"],
        json!({"k": "bmV3", "keep": "a2VlcA==", "user": "YWRtaW4="})
    );
    assert!(s.get("stringData").is_none(), "{s}");
    // An update through kubectl apply (a patch) merges too.
    apply(
        &sb,
        "apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
data: {k: b2xk, keep: a2VlcA==}
stringData: {k: newer, user: root}
",
    );
    let s = sb.json(&["get", "secret", "creds"]);
    assert_eq!(s["data"]["k"], "bmV3ZXI=");
    assert_eq!(s["data"]["user"], "cm9vdA==");
    assert!(s.get("stringData").is_none(), "{s}");
    let table = sb.ok(&["get", "secret", "creds"]);
    assert!(
        row(&table, "creds").is_some_and(|r| r.contains("Opaque") && r.contains(" 3 ")),
        "{table}"
    );
}

#[test]
fn services_get_defaults_cluster_ips_and_node_ports() {
    let sb = Sandbox::start();
    sb.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    let s = sb.json(&["get", "svc", "web"]);
    let spec = &s["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    let ip = spec["clusterIP"].as_str().unwrap().to_string();
    assert!(in_service_cidr(&ip), "{ip}");
    assert_eq!(spec["clusterIPs"], json!([ip]));
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["targetPort"], 8080);
    assert!(spec.get("externalTrafficPolicy").is_none());
    assert_eq!(s["status"], json!({"loadBalancer": {}}));
    let table = sb.ok(&["get", "svc", "web"]);
    assert!(
        row(&table, "web").is_some_and(|r| r.contains(&ip)),
        "{table}"
    );

    // kubectl expose: another address.
    sb.ok(&[
        "expose",
        "deployment",
        "router",
        "-n",
        "mr-ee",
        "--port=80",
        "--target-port=8080",
        "--name=router-ext",
    ]);
    let e = sb.json(&["get", "svc", "router-ext", "-n", "mr-ee"]);
    let ip2 = e["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(in_service_cidr(&ip2) && ip2 != ip, "{ip2} {ip}");

    // kubectl apply: targetPort from port; a second apply keeps the allocated address.
    let applied = "apiVersion: v1
kind: Service
metadata: {name: api, namespace: default, labels: {tier: LABEL}}
spec:
  selector: {app: api}
  ports: [{name: http, port: 9000}]
";
    apply(&sb, &applied.replace("LABEL", "one"));
    let a = sb.json(&["get", "svc", "api"]);
    let ip3 = a["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(in_service_cidr(&ip3) && ip3 != ip && ip3 != ip2);
    assert_eq!(a["spec"]["ports"][0]["targetPort"], 9000);
    apply(&sb, &applied.replace("LABEL", "two"));
    let a = sb.json(&["get", "svc", "api"]);
    assert_eq!(a["metadata"]["labels"]["tier"], "two");
    assert_eq!(a["spec"]["clusterIP"], ip3.as_str());
    // kubectl replace sends a body without the address: kept as well.
    let mut body = a.clone();
    body["spec"].as_object_mut().unwrap().remove("clusterIP");
    body["spec"].as_object_mut().unwrap().remove("clusterIPs");
    let out = sb.kubectl_in(&["replace", "-f", "-"], Some(&body.to_string()), CMD_LIMIT);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        sb.json(&["get", "svc", "api"])["spec"]["clusterIP"],
        ip3.as_str()
    );

    // The address cannot change; one in use cannot be taken; a free one can.
    let err = sb.fails(&[
        "patch",
        "svc",
        "api",
        "--type=merge",
        "-p",
        r#"{"spec":{"clusterIP":"10.96.200.200","clusterIPs":["10.96.200.200"]}}"#,
    ]);
    assert!(
        err.contains("is invalid") && err.contains("may not change once set"),
        "{err}"
    );
    let taken = format!(
        "apiVersion: v1
kind: Service
metadata: {{name: copy, namespace: default}}
spec:
  clusterIP: {ip}
  ports: [{{port: 80}}]
"
    );
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(&taken), CMD_LIMIT);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("provided IP is already allocated"),
        "{}",
        out.stderr
    );
    apply(&sb, &taken.replace(&ip, "10.96.77.77"));
    assert_eq!(
        sb.json(&["get", "svc", "copy"])["spec"]["clusterIP"],
        "10.96.77.77"
    );
    // Headless stays headless.
    apply(
        &sb,
        "apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
",
    );
    let h = sb.json(&["get", "svc", "db"]);
    assert_eq!(h["spec"]["clusterIP"], "None");
    assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));

    // NodePort: a port in range, the external traffic policy.
    sb.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"]);
    let n = sb.json(&["get", "svc", "np"]);
    let np = n["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np), "{np}");
    assert_eq!(n["spec"]["externalTrafficPolicy"], "Cluster");
    assert!(in_service_cidr(n["spec"]["clusterIP"].as_str().unwrap()));
    let table = sb.ok(&["get", "svc", "np"]);
    assert!(
        row(&table, "np").is_some_and(|r| r.contains(&format!("80:{np}/TCP"))),
        "{table}"
    );
    let dup = format!(
        "apiVersion: v1
kind: Service
metadata: {{name: np2, namespace: default}}
spec:
  type: NodePort
  ports: [{{port: 80, nodePort: {np}}}]
"
    );
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(&dup), CMD_LIMIT);
    assert!(
        !out.ok && out.stderr.contains("provided port is already allocated"),
        "{}",
        out.stderr
    );
}

fn router_slice(sb: &Sandbox) -> Value {
    let slices = sb.items(&[
        "get",
        "endpointslices",
        "-n",
        "mr-ee",
        "-l",
        "kubernetes.io/service-name=router",
    ]);
    assert_eq!(slices.len(), 1, "{slices:?}");
    slices[0].clone()
}

/// The addresses of the router Service's slice, by plain HTTP (quicker than kubectl).
fn slice_addresses(sb: &Sandbox) -> Vec<String> {
    let (code, list) = sb.http(
        "GET",
        "/apis/discovery.k8s.io/v1/namespaces/mr-ee/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Drouter",
        None,
    );
    assert_eq!(code, 200, "{list}");
    let mut out: Vec<String> = list["items"][0]["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["addresses"][0].as_str().map(String::from))
        .collect();
    out.sort();
    out
}

fn pod_ips(sb: &Sandbox, selector: &str) -> Vec<String> {
    let mut ips: Vec<String> = sb
        .items(&["get", "pods", "-n", "mr-ee", "-l", selector])
        .iter()
        .filter(|p| !terminating(p))
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect();
    ips.sort();
    ips
}

#[test]
fn endpoint_slices_follow_the_pods_of_a_service() {
    let sb = Sandbox::start();
    let table = sb.ok(&["get", "endpointslices", "-n", "mr-ee"]);
    assert!(
        table.contains("NAME") && table.contains("ADDRESSTYPE") && table.contains("ENDPOINTS"),
        "{table}"
    );
    let line = table
        .lines()
        .find(|l| l.starts_with("router-"))
        .unwrap_or_else(|| panic!("no router slice in:\n{table}"));
    assert!(line.contains("IPv4") && line.contains("8080"), "{line}");

    let slice = router_slice(&sb);
    let meta = &slice["metadata"];
    assert!(meta["name"].as_str().unwrap().starts_with("router-"));
    assert_eq!(
        meta["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(meta["ownerReferences"][0]["kind"], "Service");
    assert_eq!(meta["ownerReferences"][0]["name"], "router");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    let routers = router_pods(&sb);
    assert_eq!(routers.len(), 2);
    let eps = slice["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 2, "{eps:?}");
    for e in eps {
        let pod = routers
            .iter()
            .find(|p| p["metadata"]["name"] == e["targetRef"]["name"])
            .unwrap_or_else(|| panic!("{e} is no router pod"));
        assert_eq!(e["addresses"][0], pod["status"]["podIP"]);
        assert_eq!(e["conditions"]["ready"], true);
        assert_eq!(e["conditions"]["serving"], true);
        assert_eq!(e["conditions"]["terminating"], false);
        assert_eq!(e["nodeName"], pod["spec"]["nodeName"]);
        assert_eq!(e["targetRef"]["kind"], "Pod");
        assert_eq!(e["targetRef"]["uid"], pod["metadata"]["uid"]);
    }
    let blue = pod_ips(&sb, "app.kubernetes.io/name=router");
    assert_eq!(slice_addresses(&sb), blue);

    // Blue/green: a second deployment, then the Service repointed at it.
    sb.ok(&[
        "create",
        "deployment",
        "router-green",
        "-n",
        "mr-ee",
        "--image=ghcr.io/mr-ee/router:3.4.2",
        "--replicas=2",
        "--port=8080",
    ]);
    wait_for("the green pods to be ready", WAIT, || {
        let pods: Vec<Value> = sb
            .items(&["get", "pods", "-n", "mr-ee", "-l", "app=router-green"])
            .into_iter()
            .filter(|p| !terminating(p))
            .collect();
        (pods.len() == 2 && pods.iter().all(is_ready)).then_some(())
    });
    let green = pod_ips(&sb, "app=router-green");
    sb.ok(&[
        "patch",
        "svc",
        "router",
        "-n",
        "mr-ee",
        "--type=merge",
        "-p",
        r#"{"spec":{"selector":{"app.kubernetes.io/name":null,"app":"router-green"}}}"#,
    ]);
    let start = Instant::now();
    wait_for("the slice to move to green", WAIT, || {
        (slice_addresses(&sb) == green).then_some(())
    });
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    // And back.
    sb.ok(&[
        "patch",
        "svc",
        "router",
        "-n",
        "mr-ee",
        "--type=merge",
        "-p",
        r#"{"spec":{"selector":{"app":null,"app.kubernetes.io/name":"router"}}}"#,
    ]);
    wait_for("the slice to move back to blue", WAIT, || {
        (slice_addresses(&sb) == blue).then_some(())
    });

    // A pod being deleted leaves the slice.
    let victim = router_pods(&sb)[0].clone();
    let victim_ip = victim["status"]["podIP"].as_str().unwrap().to_string();
    sb.ok(&[
        "delete",
        "pod",
        name(&victim),
        "-n",
        "mr-ee",
        "--wait=false",
    ]);
    wait_for("the deleted pod to leave the slice", WAIT, || {
        (!slice_addresses(&sb).contains(&victim_ip)).then_some(())
    });
    // Its replacement joins once it has an address.
    wait_for("the replacement to join", WAIT, || {
        let now = slice_addresses(&sb);
        let live = pod_ips(&sb, "app.kubernetes.io/name=router");
        (now.len() == 2 && now == live).then_some(())
    });

    // The slice goes with its Service.
    sb.ok(&["delete", "svc", "router", "-n", "mr-ee"]);
    wait_for("the slice to go with the service", WAIT, || {
        sb.items(&[
            "get",
            "endpointslices",
            "-n",
            "mr-ee",
            "-l",
            "kubernetes.io/service-name=router",
        ])
        .is_empty()
        .then_some(())
    });
}

#[test]
fn workloads_show_the_defaults_of_a_real_cluster() {
    let sb = Sandbox::start();
    sb.ok(&["create", "deployment", "web", "--image=nginx"]);
    let d = sb.json(&["get", "deploy", "web"]);
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    let ps = &spec["template"]["spec"];
    assert_eq!(ps["restartPolicy"], "Always");
    assert_eq!(ps["terminationGracePeriodSeconds"], 30);
    assert_eq!(ps["dnsPolicy"], "ClusterFirst");
    assert_eq!(ps["schedulerName"], "default-scheduler");
    assert_eq!(ps["securityContext"], json!({}));
    let c = &ps["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-message");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["resources"], json!({}));
    let yaml = sb.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(yaml.contains("maxSurge: 25%"), "{yaml}");

    // Its pod: the pod-only defaults and admission.
    let pod = wait_for("the web pod", WAIT, || {
        sb.items(&["get", "pods", "-l", "app=web"])
            .into_iter()
            .next()
    });
    let ps = &pod["spec"];
    assert_eq!(ps["enableServiceLinks"], true);
    assert_eq!(ps["priority"], 0);
    assert_eq!(ps["preemptionPolicy"], "PreemptLowerPriority");
    let tols = ps["tolerations"].as_array().unwrap();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let t = tols
            .iter()
            .find(|t| t["key"] == key)
            .unwrap_or_else(|| panic!("no toleration of {key}: {tols:?}"));
        assert_eq!(
            t,
            &json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
        );
    }
    assert_eq!(tols.len(), 2, "{tols:?}");
    assert_eq!(pod["status"]["qosClass"], "BestEffort");

    apply(
        &sb,
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: 'postgres:16', ports: [{containerPort: 5432}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: 'agent:latest'}]
",
    );
    let s = sb.json(&["get", "sts", "db"]);
    assert_eq!(s["spec"]["replicas"], 1);
    assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        s["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(s["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(
        s["spec"]["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    let c = &s["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    let ds = sb.json(&["get", "ds", "agent"]);
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );

    // The scenario's workloads have them too.
    let r = sb.json(&["get", "deploy", "router", "-n", "mr-ee"]);
    assert_eq!(
        r["spec"]["template"]["spec"]["schedulerName"],
        "default-scheduler"
    );
    assert_eq!(
        r["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"],
        "File"
    );
}

#[test]
fn namespaces_are_labelled_and_terminate_before_they_go() {
    let sb = Sandbox::start();
    sb.ok(&["create", "namespace", "team"]);
    let ns = sb.json(&["get", "ns", "team"]);
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team"
    );
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    // The label cannot be removed or changed.
    sb.ok(&["label", "ns", "team", "kubernetes.io/metadata.name-"]);
    sb.ok(&[
        "label",
        "ns",
        "team",
        "kubernetes.io/metadata.name=other",
        "--overwrite",
    ]);
    let ns = sb.json(&["get", "ns", "team"]);
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team"
    );
    // A status in the body is not taken.
    apply(
        &sb,
        "apiVersion: v1
kind: Namespace
metadata: {name: other}
status: {phase: Terminating}
",
    );
    assert_eq!(
        sb.json(&["get", "ns", "other"])["status"]["phase"],
        "Active"
    );

    sb.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team",
        "--from-literal=a=b",
    ]);
    sb.ok(&[
        "create",
        "deployment",
        "app",
        "-n",
        "team",
        "--image=nginx:1.27",
    ]);
    wait_for("the app pod to run", WAIT, || {
        sb.items(&["get", "pods", "-n", "team"])
            .iter()
            .any(is_ready)
            .then_some(())
    });

    sb.ok(&["delete", "ns", "team", "--wait=false"]);
    let ns = sb.json(&["get", "ns", "team"]);
    assert_eq!(ns["status"]["phase"], "Terminating", "{ns}");
    assert!(ns["metadata"]["deletionTimestamp"].is_string());
    let table = sb.ok(&["get", "ns", "team"]);
    assert!(
        row(&table, "team").is_some_and(|r| r.contains("Terminating")),
        "{table}"
    );
    let err = sb.fails(&["create", "configmap", "late", "-n", "team"]);
    assert!(
        err.contains(
            "configmaps \"late\" is forbidden: unable to create new content in namespace team because it is being terminated"
        ),
        "{err}"
    );
    let (code, body) = sb.http(
        "POST",
        "/api/v1/namespaces/team/configmaps",
        Some(("application/json", r#"{"metadata":{"name":"late"}}"#)),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");

    wait_for("the namespace to go", WAIT, || {
        let out = sb.kubectl(&["get", "ns", "team"]);
        (!out.ok && out.stderr.contains("NotFound")).then_some(())
    });
    assert!(sb.items(&["get", "all", "-n", "team"]).is_empty());
    let (_, cms) = sb.http("GET", "/api/v1/namespaces/team/configmaps", None);
    assert_eq!(cms["items"], json!([]));

    // kubectl delete waits for the namespace to go, and does.
    sb.ok(&["delete", "ns", "other", "--timeout=30s"]);
    assert!(!sb.kubectl(&["get", "ns", "other"]).ok);

    let err = sb.fails(&["delete", "ns", "default"]);
    assert!(err.contains("this namespace may not be deleted"), "{err}");
}

#[test]
fn a_pod_posted_with_a_status_starts_pending() {
    let sb = Sandbox::start();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "solo", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}]},
        "status": {"phase": "Running", "podIP": "1.2.3.4", "qosClass": "BestEffort"},
    });
    let (code, created) = sb.http(
        "POST",
        "/api/v1/namespaces/default/pods",
        Some(("application/json", &pod.to_string())),
    );
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );
    let c = &created["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "100m", "memory": "64Mi"})
    );
    // The scheduler and the kubelet take it from there.
    wait_for("the pod to run", WAIT, || {
        let p = sb.json(&["get", "pod", "solo"]);
        (p["status"]["phase"] == "Running" && p["status"]["podIP"] != "1.2.3.4").then_some(())
    });
    assert_eq!(
        sb.json(&["get", "pod", "solo"])["status"]["qosClass"],
        "Guaranteed"
    );
}
