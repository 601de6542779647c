//! `helmdeck bluegreen` as a user runs it, against an in-process sandbox: `start` brings
//! `router-green` up beside `router` without restarting it; `switch` makes the router
//! Service's EndpointSlices hold only green's pods (read through the kube client and with
//! the real `kubectl get endpointslices`); `back` returns them to blue (polled until they
//! change; the time is printed, only the final state asserted); `finish` waits for the hold
//! (or `--now`) and scales blue to 0; every step is a commit in the values repo. Read-only
//! refuses every action that changes something; a `start` killed half-way is reported by
//! `status` with what to run, and resumes.

mod common;

use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::ListParams;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const KUBECTL: &str = "/usr/bin/kubectl";

struct Env {
    sb: Sandbox,
    home: tempfile::TempDir,
    kc: String,
    client: kube::Client,
}

async fn env() -> Env {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let kc = home.path().join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    Env {
        sb,
        kc: kc.to_str().unwrap().to_string(),
        home,
        client,
    }
}

fn helmdeck(home: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    c.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("KUBECONFIG")
        .env_remove("HELMDECK_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

impl Env {
    /// `helmdeck bluegreen ACTION deploy/router -n mr-ee --kubeconfig KC EXTRA…`.
    async fn bg(&self, action: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec![
            "bluegreen",
            action,
            "deploy/router",
            "-n",
            "mr-ee",
            "--kubeconfig",
            &self.kc,
        ];
        args.extend_from_slice(extra);
        let out: Output = tokio::time::timeout(
            Duration::from_secs(120),
            helmdeck(self.home.path(), &args).output(),
        )
        .await
        .expect("helmdeck bluegreen finishes within 120 s")
        .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        println!("$ helmdeck bluegreen {action} {extra:?}\n{stdout}{stderr}");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn kubectl_json(&self, args: &[&str]) -> serde_json::Value {
        let out = std::process::Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(&self.kc)
            .arg("--request-timeout=20s")
            .args(args)
            .args(["-o", "json"])
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs (bash scripts/test-all.sh installs it)");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// The pod names the router Service's EndpointSlices hold (ready ones), by the kube client.
async fn slice_pods(client: &kube::Client) -> BTreeSet<String> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), "mr-ee");
    let lp = ListParams::default().labels("kubernetes.io/service-name=router");
    api.list(&lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .flat_map(|s| s.endpoints)
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
        .filter_map(|e| e.target_ref.and_then(|r| r.name))
        .collect()
}

/// Live pods matching a label selector: name → IP.
async fn pods(client: &kube::Client, selector: &str) -> Vec<(String, String)> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "mr-ee");
    let mut out: Vec<(String, String)> = api
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            (
                p.metadata.name.unwrap_or_default(),
                p.status.and_then(|s| s.pod_ip).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

fn names(pods: &[(String, String)]) -> BTreeSet<String> {
    pods.iter().map(|(n, _)| n.clone()).collect()
}

/// kubectl's view of the router slices: (pod names, addresses) of the endpoints.
fn kubectl_slices(e: &Env) -> (BTreeSet<String>, BTreeSet<String>) {
    let list = e.kubectl_json(&[
        "get",
        "endpointslices",
        "-n",
        "mr-ee",
        "-l",
        "kubernetes.io/service-name=router",
    ]);
    let mut pods = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for s in list["items"].as_array().unwrap() {
        for ep in s["endpoints"].as_array().into_iter().flatten() {
            pods.insert(ep["targetRef"]["name"].as_str().unwrap_or("").to_string());
            ips.insert(ep["addresses"][0].as_str().unwrap_or("").to_string());
        }
    }
    (pods, ips)
}

async fn selector(client: &kube::Client) -> Vec<(String, String)> {
    let api: Api<Service> = Api::namespaced(client.clone(), "mr-ee");
    let svc = api.get("router").await.unwrap();
    svc.spec
        .unwrap()
        .selector
        .unwrap_or_default()
        .into_iter()
        .collect()
}

async fn deployment(client: &kube::Client, name: &str) -> Option<Deployment> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "mr-ee");
    api.get_opt(name).await.unwrap()
}

/// Polls until `f` holds, failing after `limit`.
async fn until<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_switches_the_services_endpoints_to_green_and_back_then_finishes() {
    let e = env().await;
    let c = &e.client;
    let blue_pods = pods(c, "app.kubernetes.io/name=router").await;
    assert_eq!(blue_pods.len(), 2, "{blue_pods:?}");
    let original = selector(c).await;

    // start: green beside blue, ready and verified; the Service still on blue.
    let (code, out, err) = e.bg("start", &["--image", "3.5.0"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ready and verified"), "{out}");
    let green = deployment(c, "router-green").await.expect("router-green");
    let st = green.status.unwrap();
    assert_eq!(st.ready_replicas, Some(2));
    let green_pods = pods(c, "helmdeck.io/slot=green").await;
    assert_eq!(green_pods.len(), 2, "{green_pods:?}");
    let gp: Api<Pod> = Api::namespaced(c.clone(), "mr-ee");
    for (name, _) in &green_pods {
        let p = gp.get(name).await.unwrap();
        assert_eq!(
            p.spec.unwrap().containers[0].image.as_deref(),
            Some("ghcr.io/mr-ee/router:3.5.0")
        );
    }
    // Blue was not restarted, and the Service still sends to blue's pods only.
    let blue_now = pods(c, "app.kubernetes.io/name=router,!helmdeck.io/slot").await;
    assert_eq!(blue_now, blue_pods, "blue's pods changed");
    assert_eq!(slice_pods(c).await, names(&blue_pods));

    // switch: only green's pods, through the kube client and kubectl.
    let (code, out, err) = e.bg("switch", &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("endpoints followed in"), "{out}");
    assert_eq!(slice_pods(c).await, names(&green_pods));
    let (kpods, kips) = kubectl_slices(&e);
    assert_eq!(kpods, names(&green_pods), "kubectl get endpointslices");
    let green_ips: BTreeSet<String> = green_pods.iter().map(|(_, ip)| ip.clone()).collect();
    assert_eq!(kips, green_ips, "kubectl get endpointslices: addresses");
    let (code, out, _) = e.bg("status", &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("green is active"), "{out}");
    assert!(
        out.contains("left (`back` returns to blue at once)"),
        "{out}"
    );

    // back: measured by polling the slices from the moment the command starts.
    let begun = Instant::now();
    let child = helmdeck(
        e.home.path(),
        &[
            "bluegreen",
            "back",
            "deploy/router",
            "-n",
            "mr-ee",
            "--kubeconfig",
            &e.kc,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let want = names(&blue_pods);
    until(
        "the slices hold blue's pods again",
        Duration::from_secs(30),
        || {
            let want = want.clone();
            async move { slice_pods(c).await == want }
        },
    )
    .await;
    println!(
        "back: the router Service's EndpointSlices held only blue's pods {} ms after `helmdeck bluegreen back` was started",
        begun.elapsed().as_millis()
    );
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(slice_pods(c).await, names(&blue_pods));
    let (kpods, _) = kubectl_slices(&e);
    assert_eq!(kpods, names(&blue_pods));

    // finish: the hold keeps blue until `--now`; blue then goes to 0, green serves on.
    let (code, _, _) = e.bg("switch", &[]).await;
    assert_eq!(code, 0);
    let (code, _, err) = e.bg("finish", &[]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the hold keeps blue"), "{err}");
    assert_eq!(
        deployment(c, "router")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(2)
    );
    let (code, out, err) = e.bg("finish", &["--now"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        deployment(c, "router")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(0)
    );
    until("blue's pods are gone", Duration::from_secs(60), || async {
        pods(c, "app.kubernetes.io/name=router,!helmdeck.io/slot")
            .await
            .is_empty()
    })
    .await;
    assert_eq!(slice_pods(c).await, names(&green_pods));
    let mut want_sel = original.clone();
    want_sel.push(("helmdeck.io/slot".into(), "green".into()));
    want_sel.sort();
    assert_eq!(selector(c).await, want_sel);
    let (code, out, _) = e.bg("status", &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("no blue/green cutover in progress"), "{out}");

    // Every step is a commit of the cutover's record in the values repo.
    let repo = e.home.path().join("data/helmdeck/values");
    let log = common::git(
        &repo,
        &["log", "--format=%s", "--", "mr-ee/ee/bluegreen-router.yaml"],
    );
    let steps: Vec<&str> = log
        .lines()
        .map(|l| {
            l.split("blue/green ")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        steps,
        ["finish", "switch", "back", "switch", "start"],
        "{log}"
    );
    e.sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_every_cutover_action_and_nothing_changes() {
    let e = env().await;
    let c = &e.client;
    let original = selector(c).await;
    let config = e.home.path().join("readonly.yaml");
    std::fs::write(&config, "readonly: true\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    for (action, extra) in [
        ("start", vec!["--image", "3.5.0"]),
        ("switch", vec![]),
        ("back", vec![]),
        ("finish", vec!["--now"]),
    ] {
        for how in [vec!["--readonly"], vec!["--config", config.as_str()]] {
            let mut args = extra.clone();
            args.extend(how.iter().copied());
            let (code, out, err) = e.bg(action, &args).await;
            assert_eq!(code, 2, "{action} {how:?}: {out}{err}");
            assert!(
                err.contains(&format!("bluegreen {action} refused: read-only")),
                "{action}: {err}"
            );
        }
    }
    assert!(deployment(c, "router-green").await.is_none());
    assert_eq!(selector(c).await, original);
    // status only reads.
    let (code, out, _) = e.bg("status", &["--readonly"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("no blue/green cutover in progress"), "{out}");
    e.sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_killed_half_way_is_reported_by_status_and_resumes() {
    use tokio::io::AsyncBufReadExt;
    let e = env().await;
    let c = &e.client;
    let mut child = helmdeck(
        e.home.path(),
        &[
            "bluegreen",
            "start",
            "deploy/router",
            "-n",
            "mr-ee",
            "--image",
            "3.5.0",
            "--kubeconfig",
            &e.kc,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let killed_at = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.starts_with("created deploy/router-green") {
                child.start_kill().unwrap();
                return l;
            }
        }
        panic!("start ended without creating green");
    })
    .await
    .expect("green created within 60 s");
    let _ = child.wait().await;
    println!("killed after: {killed_at}");

    let (code, out, _) = e.bg("status", &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("interrupted: `start` of deploy/router -n mr-ee stopped at"),
        "{out}"
    );
    assert!(
        out.contains(
            "run `helmdeck bluegreen start deploy/router -n mr-ee --image ghcr.io/mr-ee/router:3.5.0` to resume it"
        ),
        "{out}"
    );
    // Green never received traffic: the Service was pinned to blue before it was made.
    let blue = pods(c, "app.kubernetes.io/name=router,!helmdeck.io/slot").await;
    assert_eq!(slice_pods(c).await, names(&blue));
    // Another step is refused until it is resumed.
    let (code, _, err) = e.bg("switch", &[]).await;
    assert_eq!(code, 2, "{err}");

    let (code, out, err) = e
        .bg("start", &["--image", "ghcr.io/mr-ee/router:3.5.0"])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resuming the interrupted `start`"), "{out}");
    let (code, out, _) = e.bg("status", &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("interrupted"), "{out}");
    assert!(out.contains("green verified"), "{out}");

    // An upgrade of the release is refused while the cutover is open: it would replace the
    // pods the Service is pinned to.
    let upgrade = |home: &Path| {
        let repo = format!("{}/charts", e.sb.url());
        let args = [
            "upgrade",
            "ee",
            "--to",
            "1.5.0",
            "--repo",
            &repo,
            "--dry-run",
            "-n",
            "mr-ee",
            "--driver",
            "sandbox",
            "--kubeconfig",
            &e.kc,
        ];
        let mut c = helmdeck(home, &args);
        c.env_remove("HELMDECK_DRIVER");
        c
    };
    let out = upgrade(e.home.path()).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "preflight: bluegreen: a blue/green cutover of deploy/router is open (blue active"
        ),
        "{err}"
    );

    // Never switched: `finish` removes green and gives the Service its selector back.
    let original = vec![("app.kubernetes.io/name".to_string(), "router".to_string())];
    assert_ne!(
        selector(c).await,
        original,
        "pinned to blue during the cutover"
    );
    let (code, out, err) = e.bg("finish", &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(deployment(c, "router-green").await.is_none());
    assert_eq!(selector(c).await, original);
    assert_eq!(slice_pods(c).await, names(&blue));
    let out = upgrade(e.home.path()).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("bluegreen"), "{err}");
    e.sb.stop().await;
}
