//! `helmdeck promote ee --from stage --to prod` as a user runs it, against the demo's
//! sandboxes (prod one minor chart version behind stage): refused under read-only, without
//! the protected environment's typed release name, and before the soak time; then promoted
//! through the guided upgrade, with prod's environment-specific values kept and the values
//! repo's commit naming the source environment and revision.

mod common;
use common::{git, helmdeck_at};

use helmdeck::sandbox::environments::Environments;
use serde_json::Value;
use std::path::Path;

/// [`helmdeck`] off the test's runtime, whose threads serve the sandboxes.
async fn run(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let home = home.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        helmdeck_at(&home, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

fn config(home: &Path, extra: &str) -> String {
    format!(
        "values_repo: {home}/values
backup_dir: {home}/backups
platforms:
  - {{name: mr-ee, namespace: mr-ee, release: ee}}
environments:
  - {{name: dev, context: helmdeck-sandbox}}
  - {{name: stage, context: stage{extra}}}
  - {{name: prod, context: prod, protected: true}}
",
        home = home.display()
    )
}

/// stage's record of its revision 4 (mr-ee 1.4.2), committed as an upgrade in stage would.
fn record_stage(root: &Path) {
    use helmdeck::core::releases::values_repo::{ReleaseRecord, ValuesRepo, ValuesRevision};
    let repo = ValuesRepo::open_or_init(root).unwrap();
    repo.commit_revision(&ValuesRevision {
        record: ReleaseRecord {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            environment: Some("stage".into()),
            chart: "mr-ee".into(),
            version: "1.4.2".into(),
            revision: Some(4),
            ..Default::default()
        },
        values_yaml: "image:\n  tag: 3.4.1\n".into(),
        from_version: Some("1.4.1".into()),
        jump: None,
        reason: "upgrade".into(),
        rollback_to: None,
        secrets: Default::default(),
    })
    .unwrap();
}

/// The supplied values and chart version of prod's current ee revision.
async fn prod_release(envs: &Environments) -> (i64, String, Value) {
    let client =
        kube::Client::try_from(kube::Config::new(envs.prod.url().parse().unwrap())).unwrap();
    let h = helmdeck::core::releases::fetch::release_history(&client, "mr-ee", "ee")
        .await
        .unwrap();
    let c = h.current().unwrap();
    (
        c.version,
        c.chart.metadata.version.clone(),
        c.config.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_is_promoted_to_prod_through_the_guided_upgrade() {
    let envs = Environments::start("default", "ee").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let kc = home.join("kc");
    envs.write_kubeconfig(&kc).unwrap();
    let kc = kc.display().to_string();
    let cfg = home.join("config.yaml");
    std::fs::write(&cfg, config(home, "")).unwrap();
    let cfg = cfg.display().to_string();
    let repo = format!("{}/charts", envs.prod.url());
    // stage's record in the values repo, as stage's own upgrade left it.
    record_stage(&home.join("values"));
    // Environment-specific values beside each environment's record: stage's report suite
    // is stage's own; prod runs three routers.
    for (env, text) in [
        (
            "stage",
            "destinations:\n  adobe-analytics:\n    reportSuite: sandboxrs-prod\n",
        ),
        ("prod", "router:\n  replicas: 3\n"),
    ] {
        let dir = home.join("values").join(env).join("mr-ee/ee");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("values.{env}.yaml")), text).unwrap();
    }
    let base = [
        "promote",
        "ee",
        "--from",
        "stage",
        "--to",
        "prod",
        "--config",
        &cfg,
        "--kubeconfig",
        &kc,
        "--driver",
        "sandbox",
        "--repo",
        &repo,
        "--allow-plaintext-secrets",
        "--timeout",
        "60s",
        "--yes",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };

    // Read-only: refused before anything is contacted.
    let (code, text) = run(home, &with(&["--confirm", "ee", "--readonly"])).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("promote refused: read-only by --readonly"),
        "{text}"
    );
    // prod's own context marked read-only in the config refuses too.
    let ro = home.join("ro.yaml");
    std::fs::write(
        &ro,
        config(home, "") + "contexts:\n  prod: {readonly: true}\n",
    )
    .unwrap();
    let ro = ro.display().to_string();
    let mut args = with(&["--confirm", "ee"]);
    let at = args.iter().position(|a| *a == cfg.as_str()).unwrap();
    args[at] = &ro;
    let (code, text) = run(home, &args).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(&format!("context \"prod\" is marked readonly in {ro}")),
        "{text}"
    );

    // Protected: --yes is not enough; the release name must be typed.
    let (code, text) = run(home, &with(&[])).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("prod is protected: type the release name to go ahead")
            && text.contains("pass --confirm ee"),
        "{text}"
    );
    let (code, text) = run(home, &with(&["--confirm", "e"])).await;
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(prod_release(&envs).await.1, "1.3.0", "nothing changed");

    // Not soaked: stage's revision 4 was deployed 3 days ago; a soak of 1000h refuses.
    let long = home.join("long.yaml");
    std::fs::write(&long, config(home, ", soak: 1000h")).unwrap();
    let long = long.display().to_string();
    let mut args = with(&["--confirm", "ee"]);
    args[at] = &long;
    let (code, text) = run(home, &args).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("preflight: soak: revision 4 deployed 72h")
            && text.contains("the soak time is 1000h00m"),
        "{text}"
    );

    // A dry run shows the promotion and changes nothing, read-only or not.
    let (code, text) = run(home, &with(&["--dry-run", "--readonly"])).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("images that will change:") && text.contains("dry run: nothing changed"),
        "{text}"
    );
    assert_eq!(prod_release(&envs).await.1, "1.3.0", "nothing changed");

    // Promoted.
    let (code, text) = run(home, &with(&["--confirm", "ee"])).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(
            "promote ee: stage revision 4 (mr-ee 1.4.2, app 3.4.1) → prod (revision 2, mr-ee 1.3.0)"
        ),
        "{text}"
    );
    assert!(
        text.contains("router: ghcr.io/mr-ee/router:3.3.0 → ghcr.io/mr-ee/router:3.4.1"),
        "{text}"
    );
    assert!(text.contains("soak: revision 4 deployed 72h"), "{text}");
    assert!(
        text.contains("values repo: stage/mr-ee/ee at ")
            && text.contains("records mr-ee 1.4.2 (revision 4), as stage runs"),
        "{text}"
    );
    for secret in [
        "sandbox-api-secret",
        "pina_sandbox_token",
        "c2FuZGJveC1ub3QtYS1yZWFsLWtleQ",
    ] {
        assert!(!text.contains(secret), "{secret} shown:\n{text}");
    }
    let (revision, version, values) = prod_release(&envs).await;
    assert_eq!((revision, version.as_str()), (3, "1.4.2"));
    assert_eq!(values["image"]["tag"], "3.4.1", "stage's values");
    assert_eq!(
        values["destinations"]["adobe-analytics"]["reportSuite"], "sandboxrs",
        "stage's own value is not copied across: {values}"
    );
    assert_eq!(values["router"]["replicas"], 3, "prod's overlay: {values}");
    let vr = home.join("values");
    let log = git(&vr, &["log", "-1", "--format=%B"]);
    assert!(
        log.contains("Reason: promote from stage revision 4 (mr-ee 1.4.2)")
            && log.starts_with("ee (prod/mr-ee): mr-ee 1.3.0 → 1.4.2"),
        "{log}"
    );
    let note = git(&vr, &["notes", "show", "HEAD"]);
    assert_eq!(
        note, "outcome: succeeded\npromoted from: stage revision 4 (mr-ee 1.4.2)\n",
        "the note names the source too"
    );
    // The promotion is prod's record; stage's is left as it was.
    let touched = git(&vr, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        touched.lines().collect::<Vec<_>>(),
        ["prod/mr-ee/ee/release.yaml", "prod/mr-ee/ee/values.yaml"],
        "{touched}"
    );
    let prod_record = git(&vr, &["show", "HEAD:prod/mr-ee/ee/release.yaml"]);
    assert!(
        prod_record.contains("environment: prod") && prod_record.contains("version: 1.4.2"),
        "{prod_record}"
    );
    let stage_record = git(&vr, &["show", "HEAD:stage/mr-ee/ee/release.yaml"]);
    assert!(
        stage_record.contains("environment: stage") && stage_record.contains("revision: 4"),
        "{stage_record}"
    );

    // `history` through each context shows that environment's record.
    for (context, shows, not) in [
        (
            "prod",
            "ee (prod/mr-ee): mr-ee 1.3.0 → 1.4.2",
            "ee (stage/mr-ee)",
        ),
        (
            "stage",
            "ee (stage/mr-ee): mr-ee 1.4.1 → 1.4.2",
            "ee (prod/mr-ee)",
        ),
    ] {
        let (code, text) = run(
            home,
            &[
                "history",
                "ee",
                "-n",
                "mr-ee",
                "--context",
                context,
                "--config",
                &cfg,
                "--kubeconfig",
                &kc,
            ],
        )
        .await;
        assert_eq!(code, Some(0), "{text}");
        let values = &text[text.find("values repo").expect("the values repo's part")..];
        assert!(
            values.contains(shows) && !values.contains(not),
            "{context}: {values}"
        );
    }

    // The inventory no longer shows prod behind.
    let (code, text) = run(
        home,
        &[
            "inventory",
            "-o",
            "json",
            "--config",
            &cfg,
            "--kubeconfig",
            &kc,
            "--repo",
            &repo,
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{text}");
    let inv: Value = serde_json::from_str(&text).unwrap();
    let prod = &inv["releases"][0]["environments"][2];
    assert_eq!(prod["chart_version"], "1.4.2");
    assert_eq!(prod["behind"], Value::Null);
    envs.stop().await;
}
