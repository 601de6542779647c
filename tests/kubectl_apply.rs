//! Server-side apply, managed fields, `dryRun=All` and `kubectl diff` against the sandbox,
//! driven by the real `kubectl`: what `kubectl apply --server-side` (and Helm 4, Flux, Argo
//! CD) expect of an API server.

mod kube_sandbox;

use kube_sandbox::*;
use serde_json::Value;

fn deployment(name: &str, replicas: u32, image: &str, labels: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: mr-ee
  labels:
{labels}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 8080
"
    )
}

/// `kubectl <args> -f -` with `manifest` on stdin.
fn with_stdin(sb: &Sandbox, args: &[&str], manifest: &str) -> Out {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-f", "-"]);
    sb.kubectl_in(&all, Some(manifest), CMD_LIMIT)
}

fn get(sb: &Sandbox, what: &str) -> Value {
    sb.json(&["get", what, "-n", "mr-ee", "--show-managed-fields"])
}

/// The (manager, operation) pairs of an object's managed fields.
fn managers(v: &Value) -> Vec<(String, String)> {
    v["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn owner_of<'a>(v: &'a Value, manager: &str) -> &'a Value {
    v["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == manager))
        .map(|e| &e["fieldsV1"])
        .unwrap_or(&Value::Null)
}

#[test]
fn server_side_apply_creates_updates_and_removes_what_it_no_longer_applies() {
    let sb = Sandbox::start();
    let labels = "    app: api\n    team: payments";
    let out = with_stdin(
        &sb,
        &["apply", "--server-side"],
        &deployment("api", 2, "nginx:1.27", labels),
    );
    assert!(out.ok, "apply: {}", out.stderr);
    assert!(
        out.stdout
            .contains("deployment.apps/api serverside-applied"),
        "{}",
        out.stdout
    );
    let d = get(&sb, "deploy/api");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(managers(&d), vec![("kubectl".into(), "Apply".into())]);
    let owned = owner_of(&d, "kubectl");
    assert_eq!(owned["f:spec"]["f:replicas"], serde_json::json!({}));
    assert!(
        owned["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:ports"]
            ["k:{\"containerPort\":8080,\"protocol\":\"TCP\"}"]
            .is_object(),
        "{owned}"
    );
    // The controllers run it: pods come up.
    wait_for("api's pods ready", WAIT, || {
        let d = get(&sb, "deploy/api");
        (d["status"]["readyReplicas"] == 2).then_some(())
    });

    // Re-applied without the `team` label and with a new image: the label is removed, the
    // image rolled; re-applying the same again changes nothing (no new resourceVersion).
    let out = with_stdin(
        &sb,
        &["apply", "--server-side"],
        &deployment("api", 2, "nginx:1.28", "    app: api"),
    );
    assert!(out.ok, "re-apply: {}", out.stderr);
    let d = get(&sb, "deploy/api");
    assert!(d["metadata"]["labels"].get("team").is_none(), "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    let out = with_stdin(
        &sb,
        &["apply", "--server-side"],
        &deployment("api", 2, "nginx:1.28", "    app: api"),
    );
    assert!(out.ok, "{}", out.stderr);
    let again = get(&sb, "deploy/api");
    // (The controllers write status meanwhile: compare what an apply would change.)
    assert_eq!(again["metadata"]["generation"], d["metadata"]["generation"]);
    assert_eq!(
        again["metadata"]["managedFields"], d["metadata"]["managedFields"],
        "a no-op apply touched the managed fields"
    );
}

#[test]
fn conflicts_are_reported_as_a_real_server_reports_them_and_force_takes_over() {
    let sb = Sandbox::start();
    let m = deployment("api", 2, "nginx:1.27", "    app: api");
    let out = with_stdin(&sb, &["apply", "--server-side"], &m);
    assert!(out.ok, "{}", out.stderr);

    // Another manager applying the same values shares them: no conflict.
    let out = with_stdin(&sb, &["apply", "--server-side", "--field-manager=ci"], &m);
    assert!(out.ok, "shared apply: {}", out.stderr);

    // A third one changing replicas conflicts with both; kubectl prints the server's words.
    let scaled = deployment("api", 5, "nginx:1.27", "    app: api");
    let out = with_stdin(
        &sb,
        &["apply", "--server-side", "--field-manager=ops"],
        &scaled,
    );
    assert!(!out.ok, "a conflicting apply succeeded: {}", out.stdout);
    assert!(
        out.stderr
            .contains("Apply failed with 2 conflicts: conflicts with \"ci\" using apps/v1:")
            && out
                .stderr
                .contains("conflicts with \"kubectl\" using apps/v1:")
            && out.stderr.contains("- .spec.replicas"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--force-conflicts"), "{}", out.stderr);
    assert_eq!(get(&sb, "deploy/api")["spec"]["replicas"], 2);

    // Forced: ops owns replicas now, the others lost it.
    let out = with_stdin(
        &sb,
        &[
            "apply",
            "--server-side",
            "--field-manager=ops",
            "--force-conflicts",
        ],
        &scaled,
    );
    assert!(out.ok, "forced: {}", out.stderr);
    let d = get(&sb, "deploy/api");
    assert_eq!(d["spec"]["replicas"], 5);
    assert!(owner_of(&d, "ops")["f:spec"].get("f:replicas").is_some());
    assert!(
        owner_of(&d, "kubectl")["f:spec"]
            .get("f:replicas")
            .is_none()
    );

    // An update (kubectl scale, recorded under its User-Agent's name and the subresource)
    // takes the field from the applier: the applier's next apply conflicts.
    sb.ok(&["scale", "deploy/api", "-n", "mr-ee", "--replicas=3"]);
    let out = with_stdin(
        &sb,
        &["apply", "--server-side", "--field-manager=ops"],
        &scaled,
    );
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1 at "),
        "{}",
        out.stderr
    );
}

#[test]
fn client_side_then_server_side_apply_and_scenario_objects() {
    let sb = Sandbox::start();
    // kubectl's client-side apply records its manager too.
    let out = with_stdin(
        &sb,
        &["apply"],
        &deployment("csa", 1, "nginx:1.27", "    app: csa"),
    );
    assert!(out.ok, "{}", out.stderr);
    let d = get(&sb, "deploy/csa");
    assert!(
        managers(&d).contains(&("kubectl-client-side-apply".into(), "Update".into())),
        "{:?}",
        managers(&d)
    );
    let out = with_stdin(
        &sb,
        &["apply", "--server-side"],
        &deployment("csa", 4, "nginx:1.27", "    app: csa"),
    );
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("conflict with \"kubectl-client-side-apply\" using apps/v1"),
        "{}",
        out.stderr
    );

    // An object with no managed fields yet (the scenario's) is owned "before-first-apply".
    let router = get(&sb, "deploy/router");
    let image = router["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: router\n  namespace: mr-ee\nspec:\n  replicas: 7\n";
    let out = with_stdin(&sb, &["apply", "--server-side"], patch);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("\"before-first-apply\""),
        "{}",
        out.stderr
    );
    let out = with_stdin(&sb, &["apply", "--server-side", "--force-conflicts"], patch);
    assert!(out.ok, "{}", out.stderr);
    let router = get(&sb, "deploy/router");
    assert_eq!(router["spec"]["replicas"], 7);
    // What the apply did not name is kept.
    assert_eq!(
        router["spec"]["template"]["spec"]["containers"][0]["image"],
        image.as_str()
    );
}

#[test]
fn dry_run_changes_nothing_and_kubectl_diff_shows_the_change() {
    let sb = Sandbox::start();
    let m = deployment("api", 2, "nginx:1.27", "    app: api");
    // A server-side dry run of a create: answered, nothing stored.
    let out = with_stdin(&sb, &["apply", "--server-side", "--dry-run=server"], &m);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("serverside-applied (server dry run)"),
        "{}",
        out.stdout
    );
    assert!(!sb.kubectl(&["get", "deploy/api", "-n", "mr-ee"]).ok);
    let out = sb.kubectl(&[
        "create",
        "deployment",
        "dry",
        "-n",
        "mr-ee",
        "--image=nginx",
        "--dry-run=server",
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert!(!sb.kubectl(&["get", "deploy/dry", "-n", "mr-ee"]).ok);

    let out = with_stdin(&sb, &["apply", "--server-side"], &m);
    assert!(out.ok, "{}", out.stderr);
    let generation = get(&sb, "deploy/api")["metadata"]["generation"].clone();
    // The same through kubectl's client-side apply, for `kubectl diff` without --server-side
    // (which diffs against the last-applied annotation that only client-side apply writes).
    let csa = deployment("csa", 2, "nginx:1.27", "    app: csa");
    let out = with_stdin(&sb, &["apply"], &csa);
    assert!(out.ok, "{}", out.stderr);

    // Nothing to change: kubectl diff prints nothing and exits 0.
    for (mode, manifest) in [(&["diff", "--server-side"][..], &m), (&["diff"][..], &csa)] {
        let out = with_stdin(&sb, mode, manifest);
        assert!(
            out.ok,
            "{mode:?} of an unchanged object: {}{}",
            out.stdout, out.stderr
        );
        assert_eq!(out.stdout, "", "{mode:?}");
    }
    // A change: diff shows it (exit 1, the diff program's "differences found").
    let changed = deployment("api", 3, "nginx:1.28", "    app: api");
    let csa_changed = deployment("csa", 3, "nginx:1.28", "    app: csa");
    for (mode, manifest) in [
        (&["diff", "--server-side"][..], &changed),
        (&["diff"][..], &csa_changed),
    ] {
        let out = with_stdin(&sb, mode, manifest);
        assert!(!out.ok, "{mode:?} found no difference: {}", out.stderr);
        assert!(
            out.stdout.contains("-  replicas: 2") && out.stdout.contains("+  replicas: 3"),
            "{mode:?}: {}",
            out.stdout
        );
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with('+') && l.ends_with("image: nginx:1.28")),
            "{}",
            out.stdout
        );
    }
    // Server-side dry runs of apply, patch, scale and delete leave the object as it was.
    let out = with_stdin(
        &sb,
        &["apply", "--server-side", "--dry-run=server"],
        &changed,
    );
    assert!(out.ok, "{}", out.stderr);
    let out = sb.kubectl(&[
        "patch",
        "deploy/api",
        "-n",
        "mr-ee",
        "--dry-run=server",
        "-p",
        r#"{"spec":{"replicas":9}}"#,
    ]);
    assert!(out.ok, "{}", out.stderr);
    let out = sb.kubectl(&["delete", "deploy/api", "-n", "mr-ee", "--dry-run=server"]);
    assert!(out.ok, "{}", out.stderr);
    let d = get(&sb, "deploy/api");
    assert_eq!(d["metadata"]["generation"], generation);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
}

#[test]
fn apply_without_a_field_manager_is_refused() {
    let sb = Sandbox::start();
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#;
    let (code, status) = sb.http(
        "PATCH",
        "/api/v1/namespaces/mr-ee/configmaps/c",
        Some(("application/apply-patch+yaml", body)),
    );
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .contains("fieldManager: Required value"),
        "{status}"
    );
    let (code, cm) = sb.http(
        "PATCH",
        "/api/v1/namespaces/mr-ee/configmaps/c?fieldManager=test",
        Some(("application/apply-patch+yaml", body)),
    );
    assert_eq!(code, 201, "{cm}");
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(cm["metadata"]["managedFields"][0]["manager"], "test");
}
