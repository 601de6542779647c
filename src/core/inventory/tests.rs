use super::*;
use std::path::Path;

fn env(name: &str) -> EnvName {
    EnvName {
        name: name.into(),
        context: format!("ctx-{name}"),
        protected: name == "prod",
        namespace: None,
    }
}

fn running(container: &str, image: &str, pods: usize) -> RunningImage {
    RunningImage {
        container: container.into(),
        image: image.into(),
        tag: image_tag(image),
        digest: None,
        pods,
    }
}

fn release(version: &str, app: &str, router: Vec<RunningImage>) -> ReleaseRead {
    ReleaseRead {
        namespace: "mr-ee".into(),
        revision: 4,
        chart: "mr-ee".into(),
        chart_version: version.into(),
        app_version: app.into(),
        status: "deployed".into(),
        deployed_at: None,
        workloads: vec![WorkloadRead {
            kind: "Deployment".into(),
            name: "router".into(),
            template: vec![format!("ghcr.io/mr-ee/router:{app}")],
            running: router,
            error: None,
        }],
    }
}

fn refs() -> Vec<ReleaseRef> {
    vec![ReleaseRef {
        platform: "mr-ee".into(),
        namespace: "mr-ee".into(),
        release: "ee".into(),
    }]
}

#[test]
fn prod_behind_stage_two_images_and_a_foreign_tag_are_drift() {
    let envs = [env("dev"), env("stage"), env("prod")];
    let stage = release(
        "1.4.2",
        "3.4.1",
        vec![running("router", "ghcr.io/mr-ee/router:3.4.1", 2)],
    );
    let prod = release(
        "1.3.0",
        "3.3.0",
        vec![
            running("router", "ghcr.io/mr-ee/router:3.3.0", 1),
            running("router", "ghcr.io/mr-ee/router:3.3.0-hotfix", 1),
        ],
    );
    let reads = [
        EnvRead::Read(vec![Ok(None)]),
        EnvRead::Read(vec![Ok(Some(stage))]),
        EnvRead::Read(vec![Ok(Some(prod))]),
    ];
    let inv = assemble(&envs, &refs(), &reads, &[Ok(Some("2.0.0".into()))]);
    let r = &inv.releases[0];
    assert_eq!(r.newest.as_deref(), Some("2.0.0"));
    assert_eq!(r.environments[0].state, CellState::Absent);
    assert_eq!(r.environments[1].behind, None);
    assert_eq!(r.environments[2].behind.as_deref(), Some("stage"));
    let prod_router = &r.components[0].environments[2];
    assert!(prod_router.drift.contains(&Drift::Behind {
        environment: "stage".into(),
        tag: "3.4.1".into()
    }));
    assert!(
        prod_router
            .drift
            .iter()
            .any(|d| matches!(d, Drift::TwoImages { images, .. } if images.len() == 2))
    );
    // The main tag is the newest of the two: 3.3.0 ranks above its pre-release 3.3.0-hotfix.
    assert!(
        !prod_router
            .drift
            .iter()
            .any(|d| matches!(d, Drift::TagNotAppVersion { .. }))
    );
    assert!(r.components[0].environments[1].drift.is_empty());
    let grid = Grid::of(&inv);
    assert_eq!(grid.header, ["", "dev", "stage", "prod (protected)"]);
    let chart = grid.rows.iter().find(|g| g.cells[0] == "  chart").unwrap();
    assert_eq!(chart.cells[3], "1.3.0 (rev 4) ⚠ behind stage");
    assert_eq!(chart.drift, [false, false, false, true]);
}

#[test]
fn a_tag_that_is_not_the_app_version_and_an_unreachable_environment() {
    let envs = [env("stage"), env("prod")];
    let stage = release(
        "1.4.2",
        "3.4.1",
        vec![running("router", "ghcr.io/mr-ee/router:3.4.0", 2)],
    );
    let reads = [
        EnvRead::Read(vec![Ok(Some(stage))]),
        EnvRead::Unreachable("connection refused".into()),
    ];
    let inv = assemble(&envs, &refs(), &reads, &[]);
    assert!(!inv.environments[1].reachable);
    assert_eq!(
        inv.environments[1].error.as_deref(),
        Some("connection refused")
    );
    let r = &inv.releases[0];
    assert_eq!(r.environments[1].state, CellState::Unreachable);
    assert_eq!(
        r.components[0].environments[1].state,
        CellState::Unreachable
    );
    assert_eq!(
        r.components[0].environments[0].drift,
        [Drift::TagNotAppVersion {
            tag: "3.4.0".into(),
            app_version: "3.4.1".into()
        }]
    );
}

#[test]
fn image_references_give_their_tag_and_digest() {
    assert_eq!(
        image_tag("ghcr.io/mr-ee/router:3.4.1").as_deref(),
        Some("3.4.1")
    );
    assert_eq!(image_tag("localhost:5000/router").as_deref(), None);
    assert_eq!(
        image_tag("localhost:5000/router:1.0@sha256:ab").as_deref(),
        Some("1.0")
    );
    assert_eq!(
        image_digest("docker.io/x/y@sha256:00").as_deref(),
        Some("sha256:00")
    );
    assert_eq!(image_digest(""), None);
}

fn parse(yaml: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(yaml, Path::new("/etc/helmdeck/envs.yaml"))
}

#[test]
fn environments_are_read_in_order_and_checked() {
    let c = parse(
        "environments:\n  - {name: dev, context: kind-dev}\n  - {name: stage, context: aks-stage, soak: 1h}\n  - {name: prod, context: aks-prod, namespace: mr-ee-prod, protected: true}\n",
    )
    .unwrap();
    let names: Vec<&str> = c.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["dev", "stage", "prod"]);
    let prod = c.environment("prod").unwrap();
    assert!(prod.protected);
    assert_eq!(prod.namespace.as_deref(), Some("mr-ee-prod"));
    assert_eq!(prod.soak(), std::time::Duration::from_secs(30 * 60));
    assert_eq!(
        c.environment("stage").unwrap().soak(),
        std::time::Duration::from_secs(3600)
    );
    for (yaml, says) in [
        (
            "environments: [{name: a, context: x}, {name: a, context: y}]",
            "environment `a` is defined twice",
        ),
        ("environments: [{name: a, context: ''}]", "names no context"),
        (
            "environments: [{name: A_B, context: x}]",
            "environment name",
        ),
        ("environments: [{name: a, context: x, soak: soon}]", "soak"),
        ("environments: [{name: a}]", "missing field `context`"),
    ] {
        let e = parse(yaml).unwrap_err().to_string();
        assert!(e.contains("/etc/helmdeck/envs.yaml"), "{e}");
        assert!(e.contains(says), "{yaml}: {e}");
    }
}

#[tokio::test]
async fn a_context_the_kubeconfig_lacks_is_a_config_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    crate::sandbox::environments::write_kubeconfig(
        &kc,
        &[("stage", "http://127.0.0.1:1")],
        "stage",
    )
    .unwrap();
    let c = parse("environments: [{name: stage, context: stage}, {name: prod, context: aks-prod}]")
        .unwrap();
    let e = targets(&c, Some(&kc)).await.err().unwrap().to_string();
    assert!(e.contains("/etc/helmdeck/envs.yaml"), "{e}");
    assert!(e.contains("environment `prod`"), "{e}");
    assert!(e.contains("\"aks-prod\" is not in the kubeconfig"), "{e}");
    let none = targets(&parse("theme: dark").unwrap(), Some(&kc))
        .await
        .err()
        .unwrap();
    assert!(none.to_string().contains("no environments"), "{none}");
}
