//! `helmdeck backup schedule`: the CronJob, ServiceAccount, ConfigMap and RBAC it writes,
//! taken by the sandbox through the real `kubectl apply` (server dry run, then for real) and
//! created by `--apply` through helmdeck's own client (server-side apply); read-only refuses
//! `--apply`.

mod kube_sandbox;

use kube_sandbox::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const CONFIG: &str = "platforms:
  - name: mr-ee
    namespace: mr-ee
    release: ee
  - name: iomete
    namespace: iomete
    release: iomete-dataplane
";

fn config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join(format!("config-{}.yaml", text.len()));
    std::fs::write(&path, text).unwrap();
    path
}

/// What `helmdeck backup schedule` did.
struct Ran {
    code: Option<i32>,
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `helmdeck backup schedule ARGS --config CONFIG` against the sandbox.
fn schedule(sb: &Sandbox, config: &Path, args: &[&str]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    cmd.args(["backup", "schedule"])
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--kubeconfig")
        .arg(&sb.kubeconfig)
        .env("HOME", sb.dir.path())
        .env("XDG_CONFIG_HOME", sb.dir.path().join("config"))
        .env("XDG_DATA_HOME", sb.dir.path().join("data"))
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("helmdeck runs");
    Ran {
        code: out.status.code(),
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const ARGS: &[&str] = &[
    "--every",
    "6h",
    "--keep",
    "48",
    "--to",
    "s3://backups/helmdeck",
    "--image",
    "registry.example/helmdeck:0.1.0",
    "-n",
    "helmdeck",
];

#[test]
fn the_dry_run_manifests_are_taken_by_kubectl_apply_and_the_cronjob_has_the_schedule() {
    let sb = Sandbox::start();
    let cfg = config(sb.dir.path(), CONFIG);
    let mut args = ARGS.to_vec();
    args.push("--dry-run");
    let out = schedule(&sb, &cfg, &args);
    assert!(out.ok, "{}", out.stderr);
    let yaml = out.stdout;
    assert!(
        yaml.contains("RBAC cannot narrow a rule to Secrets of one type"),
        "{yaml}"
    );
    sb.ok(&["create", "namespace", "helmdeck"]);

    // The API server accepts every object, and a server dry run stores none.
    let dry = sb.kubectl_in(
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&yaml),
        CMD_LIMIT,
    );
    assert!(dry.ok, "{}\n{}", dry.stderr, yaml);
    for made in [
        "serviceaccount/helmdeck-backup created (server dry run)",
        "configmap/helmdeck-backup-config created (server dry run)",
        "role.rbac.authorization.k8s.io/helmdeck-backup created (server dry run)",
        "rolebinding.rbac.authorization.k8s.io/helmdeck-backup created (server dry run)",
        "cronjob.batch/helmdeck-backup created (server dry run)",
    ] {
        assert!(dry.stdout.contains(made), "{made}: {}", dry.stdout);
    }
    let none = sb.kubectl(&["get", "cronjobs,roles", "-n", "helmdeck"]);
    assert!(none.stdout.trim().is_empty(), "{}", none.stdout);

    // For real: the CronJob with its schedule, a Role and RoleBinding per platform namespace.
    let applied = sb.kubectl_in(&["apply", "-f", "-"], Some(&yaml), CMD_LIMIT);
    assert!(applied.ok, "{}", applied.stderr);
    let cj = sb.ok(&["get", "cronjob", "helmdeck-backup", "-n", "helmdeck"]);
    let line = row(&cj, "helmdeck-backup").unwrap_or_else(|| panic!("{cj}"));
    assert!(line.contains("0 */6 * * *"), "{cj}");
    for ns in ["mr-ee", "iomete"] {
        let rb = sb.ok(&[
            "get",
            "rolebinding",
            "helmdeck-backup",
            "-n",
            ns,
            "-o",
            "wide",
        ]);
        let line = row(&rb, "helmdeck-backup").unwrap_or_else(|| panic!("{rb}"));
        assert!(
            line.contains("Role/helmdeck-backup") && line.contains("helmdeck/helmdeck-backup"),
            "{rb}"
        );
        let role = sb.json(&["get", "role", "helmdeck-backup", "-n", ns]);
        for rule in role["rules"].as_array().unwrap() {
            assert_eq!(rule["verbs"], serde_json::json!(["get", "list"]), "{rule}");
        }
    }
    let job = sb.json(&["get", "cronjob", "helmdeck-backup", "-n", "helmdeck"]);
    let container = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        serde_json::json!([
            "backup",
            "run",
            "--all",
            "--to",
            "s3://backups/helmdeck",
            "--keep",
            "48",
            "--config",
            "/etc/helmdeck/config.yaml"
        ])
    );
    // Discovery names the RBAC kinds as a real API server does.
    let kinds = sb.ok(&["api-resources", "--api-group=rbac.authorization.k8s.io"]);
    assert!(
        row(&kinds, "roles").is_some() && row(&kinds, "rolebindings").is_some(),
        "{kinds}"
    );
}

#[test]
fn apply_creates_them_server_side_and_read_only_refuses_it() {
    let sb = Sandbox::start();
    let cfg = config(sb.dir.path(), CONFIG);
    sb.ok(&["create", "namespace", "helmdeck"]);
    let mut args = ARGS.to_vec();
    args[1] = "15m";
    args.push("--apply");
    let out = schedule(&sb, &cfg, &args);
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("applied CronJob helmdeck/helmdeck-backup")
            && out.stdout.contains("every 15m (*/15 * * * *)"),
        "{}",
        out.stdout
    );
    let cj = sb.json(&[
        "get",
        "cronjob",
        "helmdeck-backup",
        "-n",
        "helmdeck",
        "--show-managed-fields",
    ]);
    assert_eq!(cj["spec"]["schedule"], "*/15 * * * *");
    let managers: Vec<(&str, &str)> = cj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or(""),
                m["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(managers.contains(&("helmdeck", "Apply")), "{managers:?}");
    let rb = sb.ok(&["get", "rolebinding", "helmdeck-backup", "-n", "iomete"]);
    assert!(row(&rb, "helmdeck-backup").is_some(), "{rb}");

    // Read-only by flag, and by the config: refused before anything is contacted.
    args[1] = "1h";
    let mut readonly = args.clone();
    readonly.push("--readonly");
    let out = schedule(&sb, &cfg, &readonly);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("backup schedule --apply refused: read-only by --readonly"),
        "{}",
        out.stderr
    );
    let ro = config(sb.dir.path(), &format!("readonly: true\n{CONFIG}"));
    let out = schedule(&sb, &ro, &args);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("`readonly: true`"), "{}", out.stderr);
    let cj = sb.json(&["get", "cronjob", "helmdeck-backup", "-n", "helmdeck"]);
    assert_eq!(cj["spec"]["schedule"], "*/15 * * * *", "nothing changed");
    // Printing is still allowed.
    let mut print = ARGS.to_vec();
    print.extend(["--dry-run", "--readonly"]);
    let out = schedule(&sb, &ro, &print);
    assert!(
        out.ok && out.stdout.contains("kind: CronJob"),
        "{}",
        out.stderr
    );
}

#[test]
fn what_cron_cannot_keep_and_a_local_path_are_refused_clearly() {
    let sb = Sandbox::start();
    let cfg = config(sb.dir.path(), CONFIG);
    for (every, to, says) in [
        ("45m", "s3://b/p", "cron cannot run that evenly"),
        ("2d", "s3://b/p", "cron cannot run that evenly"),
        ("1h", "/var/backups", "loses its files"),
    ] {
        let out = schedule(
            &sb,
            &cfg,
            &["--every", every, "--to", to, "--image", "i:1", "--dry-run"],
        );
        assert_eq!(out.code, Some(2), "{every} {to}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{every} {to}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let empty = config(sb.dir.path(), "theme: dark\n");
    let out = schedule(
        &sb,
        &empty,
        &["--every", "1h", "--to", "s3://b", "--image", "i:1"],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("no platforms"), "{}", out.stderr);
}
