//! `helmdeck inventory` as a user runs it, against the demo's three sandboxes (dev, stage,
//! and prod one minor chart version behind) and a fourth environment whose server accepts
//! connections and never answers.

mod common;
use common::helmdeck_at as helmdeck;
use helmdeck::sandbox::environments::{self, Environments};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// [`helmdeck`] off the test's runtime, whose threads serve the sandboxes.
async fn run(home: &Path, args: Vec<String>) -> Output {
    let home = home.to_path_buf();
    tokio::task::spawn_blocking(move || {
        helmdeck(&home, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

const CONFIG: &str = "platforms:
  - {name: mr-ee, namespace: mr-ee, release: ee}
environments:
  - {name: dev, context: helmdeck-sandbox}
  - {name: stage, context: stage}
  - {name: prod, context: prod, protected: true}
  - {name: dr, context: dr}
";

/// A server that accepts connections and never answers (kept open until the test ends).
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

/// The three sandboxes, a kubeconfig with their contexts and `dr`, and the config.
async fn setup(home: &Path) -> (Environments, tokio::task::JoinHandle<()>, String) {
    let envs = Environments::start("default", "ee").await.unwrap();
    let (silent, task) = silent_server().await;
    let mut contexts: Vec<(&str, String)> = envs.contexts().into_iter().collect();
    contexts.push(("dr", silent));
    let refs: Vec<(&str, &str)> = contexts.iter().map(|(c, u)| (*c, u.as_str())).collect();
    environments::write_kubeconfig(&home.join("kc"), &refs, "helmdeck-sandbox").unwrap();
    std::fs::write(home.join("config.yaml"), CONFIG).unwrap();
    let repo = format!("{}/charts", envs.stage.url());
    (envs, task, repo)
}

fn cell<'a>(cells: &'a Value, env: &str) -> &'a Value {
    cells
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["environment"] == env)
        .unwrap_or_else(|| panic!("no cell for {env} in {cells}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_environments_with_prod_behind_and_one_that_never_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let (envs, silent, repo) = setup(home).await;
    let kc = home.join("kc");
    let config = home.join("config.yaml");
    let args = |output: &'static str| {
        vec![
            "inventory".to_string(),
            "-o".into(),
            output.into(),
            "--config".into(),
            config.display().to_string(),
            "--kubeconfig".into(),
            kc.display().to_string(),
            "--repo".into(),
            repo.clone(),
            "--timeout".into(),
            "3s".into(),
        ]
    };
    let out = run(home, args("json")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // An unreachable environment: exit 1, the others read in full.
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap();

    let names: Vec<&str> = inv["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "stage", "prod", "dr"]);
    let dr = &inv["environments"][3];
    assert_eq!(dr["reachable"], false);
    assert!(
        dr["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 3s"),
        "{dr}"
    );
    assert_eq!(inv["environments"][2]["protected"], true);

    let ee = &inv["releases"][0];
    assert_eq!(ee["release"], "ee");
    assert_eq!(ee["chart"], "mr-ee");
    assert_eq!(ee["newest"], "2.0.0", "the newest non-pre-release version");
    let cells = &ee["environments"];
    assert_eq!(cell(cells, "stage")["chart_version"], "1.4.2");
    assert_eq!(cell(cells, "stage")["app_version"], "3.4.1");
    assert_eq!(cell(cells, "stage")["behind"], Value::Null);
    assert_eq!(cell(cells, "prod")["chart_version"], "1.3.0");
    assert_eq!(cell(cells, "prod")["revision"], 2);
    assert_eq!(cell(cells, "prod")["behind"], "stage");
    assert_eq!(cell(cells, "dr")["state"], "unreachable");

    let router = ee["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "router")
        .expect("a router row");
    assert_eq!(router["kind"], "Deployment");
    let prod = cell(&router["environments"], "prod");
    assert_eq!(prod["state"], "present");
    assert_eq!(prod["template"][0], "ghcr.io/mr-ee/router:3.3.0");
    let running = &prod["running"][0];
    assert_eq!(running["tag"], "3.3.0");
    assert_eq!(running["pods"], 2);
    assert!(
        running["digest"].as_str().unwrap().starts_with("sha256:"),
        "the digest comes from the pods' imageID: {running}"
    );
    assert_eq!(
        prod["drift"][0],
        serde_json::json!({"kind": "behind", "environment": "stage", "tag": "3.4.1"})
    );
    let stage = cell(&router["environments"], "stage");
    assert_eq!(stage["running"][0]["tag"], "3.4.1");
    assert_eq!(stage["drift"], serde_json::json!([]));
    assert_eq!(cell(&router["environments"], "dr")["state"], "unreachable");
    let forwarders = ee["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("forwarder-"))
        .count();
    assert_eq!(forwarders, 3);

    // The table says the same.
    let out = run(home, args("table")).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("prod (protected)"), "{text}");
    assert!(text.contains("dr (unreachable)"), "{text}");
    assert!(
        text.contains("mr-ee · release ee · chart mr-ee · newest 2.0.0"),
        "{text}"
    );
    assert!(text.contains("1.3.0 (rev 2) ⚠ behind stage"), "{text}");
    assert!(text.contains("3.3.0 ⚠ behind stage"), "{text}");
    assert!(
        text.contains("dr (context dr): unreachable: no answer within 3s"),
        "{text}"
    );
    two_images_in_stage(&envs, home, args("json")).await;
    silent.abort();
    envs.stop().await;
}

/// A rollout stuck half-way in stage (the new image crash-loops beside the old pods): the
/// router runs two images there, and its main tag is not the chart's appVersion.
async fn two_images_in_stage(envs: &Environments, home: &Path, args: Vec<String>) {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, Patch, PatchParams};
    let client =
        kube::Client::try_from(kube::Config::new(envs.stage.url().parse().unwrap())).unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "mr-ee");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "router", "image": "ghcr.io/mr-ee/router:3.5.1"}]}}}});
    deploys
        .patch("router", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    // Wait (up to a minute) until a pod of the new image runs beside the old ones.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let read = helmdeck::core::inventory::read::read_release(&client, "mr-ee", "ee")
            .await
            .unwrap()
            .unwrap();
        let router = read.workloads.iter().find(|w| w.name == "router").unwrap();
        if router
            .running
            .iter()
            .map(|r| &r.image)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no second image in stage: {router:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = run(home, args).await;
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap();
    let router = inv["releases"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "router")
        .unwrap();
    let stage = cell(&router["environments"], "stage");
    assert_eq!(stage["template"][0], "ghcr.io/mr-ee/router:3.5.1");
    let drift = stage["drift"].as_array().unwrap();
    assert!(
        drift.contains(
            &serde_json::json!({"kind": "two-images", "container": "router",
            "images": ["ghcr.io/mr-ee/router:3.4.1", "ghcr.io/mr-ee/router:3.5.1"]})
        ),
        "{stage}"
    );
    assert!(
        drift.contains(
            &serde_json::json!({"kind": "tag-not-app-version", "tag": "3.5.1",
            "app_version": "3.4.1"})
        ),
        "{stage}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_the_kubeconfig_lacks_is_refused_naming_the_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    environments::write_kubeconfig(
        &home.join("kc"),
        &[("stage", "http://127.0.0.1:1")],
        "stage",
    )
    .unwrap();
    let config = home.join("config.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let kc = home.join("kc");
    let out = helmdeck(
        home,
        &[
            "inventory",
            "--config",
            config.to_str().unwrap(),
            "--kubeconfig",
            kc.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("environment `dev`"), "{stderr}");
    assert!(
        stderr.contains("\"helmdeck-sandbox\" is not in the kubeconfig (contexts: stage)"),
        "{stderr}"
    );
}
