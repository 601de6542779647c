//! Contract tests of the Helm CLI driver ([`HelmCli`]).
//!
//! No Helm binary can be installed where these run, so each test writes a fake `helm` (a
//! `#!/bin/sh` script in a temporary directory) that records the arguments it was given,
//! one per line, prints, sleeps, hangs or exits as real Helm would in the case under test;
//! the test then checks what the driver passed, streamed and reported. Every wait is bounded.

use helmdeck::core::workflows::driver::{
    ChartSource, DriverError, ReleaseDriver, RollbackRequest, UpgradeRequest,
};
use helmdeck::core::workflows::helm::HelmCli;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::sync::mpsc;

/// The longest any single driver call may take in these tests.
const LIMIT: Duration = Duration::from_secs(10);

/// A fake `helm` in its own temporary directory.
struct Fake {
    dir: TempDir,
    binary: PathBuf,
}

impl Fake {
    /// Writes a fake `helm` that records its arguments to `argv` and then runs `body`.
    /// `$DIR` in `body` is the fake's directory.
    fn new(body: &str) -> Self {
        Self::with_mode(body, 0o755)
    }

    fn with_mode(body: &str, mode: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("helm");
        let script = format!(
            "#!/bin/sh\nDIR='{}'\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$DIR/argv\"\n{body}\n",
            dir.path().display()
        );
        std::fs::write(&binary, script).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(mode)).unwrap();
        Self { dir, binary }
    }

    fn helm(&self) -> HelmCli {
        HelmCli::new(&self.binary)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The arguments the fake was given, one per line.
    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("argv"))
            .expect("the fake helm recorded no arguments")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A pid the fake wrote to `name`.
    fn pid(&self, name: &str) -> i32 {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|e| panic!("the fake helm wrote no {name}: {e}"))
            .trim()
            .parse()
            .unwrap()
    }
}

fn upgrade_request(values_file: &Path, repository: &str, reference: &str) -> UpgradeRequest {
    UpgradeRequest {
        release: "dataplane".into(),
        namespace: "iomete".into(),
        chart: ChartSource {
            name: "iomete-dataplane".into(),
            repository: repository.into(),
            reference: reference.into(),
        },
        version: "3.4.1".into(),
        values_file: values_file.to_path_buf(),
        values: serde_json::json!({"replicas": 2}),
        timeout: Duration::from_secs(300),
        images: BTreeMap::new(),
        app_version: "3.4.1".into(),
        stop: helmdeck::core::workflows::driver::Stop::never(),
    }
}

/// Runs an upgrade to completion (bounded), returning its result and every line streamed.
async fn run_upgrade(
    helm: &HelmCli,
    req: &UpgradeRequest,
) -> (Result<(), DriverError>, Vec<String>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = tokio::time::timeout(LIMIT, helm.upgrade(req, tx))
        .await
        .expect("the driver did not return in time");
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push(line);
    }
    (result, lines)
}

/// Whether a process is gone: no such process, or a zombie (dead, only not yet reaped by
/// whichever ancestor inherited it).
fn gone(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            // The state follows the command name, which is in parentheses.
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(true)
}

/// Waits (up to 3 s) for a process to be gone.
async fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gone(pid)
}

#[tokio::test]
async fn upgrade_passes_exactly_the_documented_arguments() {
    let fake = Fake::new("exit 0");
    let values = fake.path("values.yaml");
    std::fs::write(&values, "replicas: 2\n").unwrap();
    let values_arg = values.to_str().unwrap().to_owned();

    // From a repository URL, against a chosen kubeconfig and context.
    let helm = fake
        .helm()
        .kubeconfig(Some("/home/oncall/.kube/prod".into()))
        .kube_context(Some("prod-eu-1".into()));
    let req = upgrade_request(
        &values,
        "https://charts.example.com/iomete",
        "iomete-dataplane",
    );
    let (result, _) = run_upgrade(&helm, &req).await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        fake.argv(),
        [
            "upgrade",
            "--install",
            "dataplane",
            "iomete-dataplane",
            "--version",
            "3.4.1",
            "-f",
            &values_arg,
            "-n",
            "iomete",
            "--wait",
            "--timeout",
            "300s",
            "--repo",
            "https://charts.example.com/iomete",
            "--kubeconfig",
            "/home/oncall/.kube/prod",
            "--kube-context",
            "prod-eu-1",
        ]
    );
    assert_eq!(fake.argv(), helm.upgrade_args(&req));

    // From a repository Helm already knows, with Helm's default kubeconfig and context.
    let helm = fake.helm();
    let req = upgrade_request(&values, "", "iomete/iomete-dataplane");
    let (result, _) = run_upgrade(&helm, &req).await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        fake.argv(),
        [
            "upgrade",
            "--install",
            "dataplane",
            "iomete/iomete-dataplane",
            "--version",
            "3.4.1",
            "-f",
            &values_arg,
            "-n",
            "iomete",
            "--wait",
            "--timeout",
            "300s",
        ]
    );
}

#[tokio::test]
async fn rollback_passes_exactly_the_documented_arguments() {
    let fake = Fake::new("echo 'Rollback was a success! Happy Helming!'");
    let req = RollbackRequest {
        release: "dataplane".into(),
        namespace: "iomete".into(),
        revision: 41,
        timeout: Duration::from_secs(120),
    };

    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = tokio::time::timeout(LIMIT, fake.helm().rollback(&req, tx))
        .await
        .unwrap();
    assert_eq!(result, Ok(()));
    assert_eq!(
        fake.argv(),
        [
            "rollback",
            "dataplane",
            "41",
            "-n",
            "iomete",
            "--wait",
            "--timeout",
            "120s"
        ]
    );
    assert_eq!(
        rx.try_recv().as_deref(),
        Ok("Rollback was a success! Happy Helming!")
    );

    let helm = fake
        .helm()
        .kubeconfig(Some("/etc/kube/config".into()))
        .kube_context(Some("staging".into()));
    let (tx, _rx) = mpsc::unbounded_channel();
    let result = tokio::time::timeout(LIMIT, helm.rollback(&req, tx))
        .await
        .unwrap();
    assert_eq!(result, Ok(()));
    assert_eq!(
        fake.argv(),
        [
            "rollback",
            "dataplane",
            "41",
            "-n",
            "iomete",
            "--wait",
            "--timeout",
            "120s",
            "--kubeconfig",
            "/etc/kube/config",
            "--kube-context",
            "staging",
        ]
    );
}

#[tokio::test]
async fn output_is_streamed_while_helm_runs() {
    let fake = Fake::new(
        r#"echo 'Release "dataplane" has been upgraded. Waiting for resources...'
sleep 2
echo 'ready.go: Deployment is not ready: iomete/spark-operator' >&2
printf 'caf\351 au lait\n'
echo 'STATUS: deployed'"#,
    );
    let values = fake.path("values.yaml");
    std::fs::write(&values, "{}\n").unwrap();
    let helm = fake.helm();
    let req = upgrade_request(&values, "", "iomete/iomete-dataplane");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut upgrade = helm.upgrade(&req, tx);
    // The first line must arrive while Helm is still running (it sleeps after printing it).
    let first = tokio::time::timeout(LIMIT, async {
        tokio::select! {
            line = rx.recv() => line,
            result = &mut upgrade => panic!("helm finished ({result:?}) before its first line arrived"),
        }
    })
    .await
    .expect("no line arrived");
    assert_eq!(
        first.as_deref(),
        Some(r#"Release "dataplane" has been upgraded. Waiting for resources..."#)
    );
    assert!(
        futures::poll!(&mut upgrade).is_pending(),
        "the first line only arrived once helm had finished"
    );

    let result = tokio::time::timeout(LIMIT, upgrade).await.unwrap();
    assert_eq!(result, Ok(()));
    let mut rest = Vec::new();
    while let Ok(line) = rx.try_recv() {
        rest.push(line);
    }
    rest.sort();
    assert_eq!(
        rest,
        [
            "STATUS: deployed",
            "caf\u{FFFD} au lait",
            "ready.go: Deployment is not ready: iomete/spark-operator",
        ]
    );
}

#[tokio::test]
async fn a_failed_upgrade_reports_helms_exit_code_and_error_line() {
    let fake = Fake::new(
        r#"echo 'Release "dataplane" exists, upgrading'
echo 'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress' >&2
echo '' >&2
exit 1"#,
    );
    let values = fake.path("values.yaml");
    std::fs::write(&values, "{}\n").unwrap();
    let (result, lines) = run_upgrade(
        &fake.helm(),
        &upgrade_request(&values, "", "iomete/iomete-dataplane"),
    )
    .await;

    match result {
        Err(DriverError::Failed {
            driver,
            code,
            message,
        }) => {
            assert_eq!(driver, "helm");
            assert_eq!(code, 1);
            assert!(
                message.contains(
                    "UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress"
                ),
                "{message}"
            );
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(lines.iter().any(|l| l.starts_with("Error: UPGRADE FAILED")));
}

#[tokio::test]
async fn helm_giving_up_waiting_is_not_ready() {
    let fake =
        Fake::new("echo 'Error: UPGRADE FAILED: timed out waiting for the condition' >&2\nexit 1");
    let values = fake.path("values.yaml");
    std::fs::write(&values, "{}\n").unwrap();
    let (result, _) = run_upgrade(
        &fake.helm(),
        &upgrade_request(&values, "", "iomete/iomete-dataplane"),
    )
    .await;
    assert_eq!(
        result,
        Err(DriverError::NotReady(
            "Error: UPGRADE FAILED: timed out waiting for the condition".into()
        ))
    );
}

#[tokio::test]
async fn a_helm_killed_by_a_signal_is_a_failure() {
    let fake = Fake::new("echo 'Waiting for resources'\nkill -9 $$");
    let values = fake.path("values.yaml");
    std::fs::write(&values, "{}\n").unwrap();
    let (result, _) = run_upgrade(
        &fake.helm(),
        &upgrade_request(&values, "", "iomete/iomete-dataplane"),
    )
    .await;
    assert_eq!(
        result,
        Err(DriverError::Failed {
            driver: "helm".into(),
            code: -1,
            message: "killed by signal 9".into()
        })
    );
}

#[tokio::test]
async fn a_hanging_helm_is_killed_with_everything_it_started() {
    let fake = Fake::new(
        r#"echo $$ > "$DIR/helm.pid"
sleep 300 &
echo $! > "$DIR/child.pid"
echo 'Waiting for resources'
sleep 300"#,
    );
    let values = fake.path("values.yaml");
    std::fs::write(&values, "{}\n").unwrap();
    let helm = fake.helm().grace(Duration::from_secs(1));
    let mut req = upgrade_request(&values, "", "iomete/iomete-dataplane");
    req.timeout = Duration::from_secs(1);

    let (result, lines) = run_upgrade(&helm, &req).await;
    assert_eq!(
        result,
        Err(DriverError::TimedOut {
            driver: "helm".into(),
            after: Duration::from_secs(2)
        })
    );
    assert!(fake.argv().ends_with(&["--timeout".into(), "1s".into()]));
    assert_eq!(lines, ["Waiting for resources"]);

    let (helm_pid, child_pid) = (fake.pid("helm.pid"), fake.pid("child.pid"));
    assert!(
        wait_gone(helm_pid).await,
        "helm ({helm_pid}) is still running"
    );
    assert!(
        wait_gone(child_pid).await,
        "the process helm started ({child_pid}) is still running"
    );
}

#[tokio::test]
async fn helm_exiting_while_its_leftovers_hold_the_output_open_does_not_hang() {
    let fake = Fake::new(
        r#"sleep 300 &
echo $! > "$DIR/child.pid"
echo 'STATUS: deployed'
exit 0"#,
    );
    let values = fake.path("values.yaml");
    std::fs::write(&values, "{}\n").unwrap();
    let (result, lines) = run_upgrade(
        &fake.helm(),
        &upgrade_request(&values, "", "iomete/iomete-dataplane"),
    )
    .await;
    // SAFETY: kill(2) on the leftover this test's fake started.
    unsafe { libc::kill(fake.pid("child.pid"), libc::SIGKILL) };
    assert_eq!(result, Ok(()));
    assert_eq!(lines, ["STATUS: deployed"]);
}

#[tokio::test]
async fn a_missing_helm_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    let req = upgrade_request(&values, "", "iomete/iomete-dataplane");

    let missing = dir.path().join("bin/helm");
    let (result, _) = run_upgrade(&HelmCli::new(&missing), &req).await;
    match result {
        Err(DriverError::Unavailable(message)) => {
            assert!(message.contains("HELMDECK_HELM"), "{message}");
            assert!(message.contains(&*missing.to_string_lossy()), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    let (result, _) = run_upgrade(&HelmCli::new("helmdeck-test-no-such-helm"), &req).await;
    match result {
        Err(DriverError::Unavailable(message)) => {
            assert!(message.contains("HELMDECK_HELM"), "{message}");
            assert!(
                message.contains("`helmdeck-test-no-such-helm` on PATH"),
                "{message}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_helm_that_is_not_executable_says_so() {
    let fake = Fake::with_mode("exit 0", 0o644);
    let values = fake.path("values.yaml");
    let (result, _) = run_upgrade(
        &fake.helm(),
        &upgrade_request(&values, "", "iomete/iomete-dataplane"),
    )
    .await;
    match result {
        Err(DriverError::Unavailable(message)) => {
            assert!(message.contains("permission denied"), "{message}");
            assert!(message.contains("HELMDECK_HELM"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn values_are_passed_as_a_file_never_on_the_command_line() {
    const SECRET: &str = "hunter2-do-not-leak";
    let fake = Fake::new(r#"cat "$DIR/values.yaml" > "$DIR/seen-values""#);
    let values = fake.path("values.yaml");
    std::fs::write(&values, format!("auth:\n  adminPassword: {SECRET}\n")).unwrap();
    let mut req = upgrade_request(
        &values,
        "https://charts.example.com/iomete",
        "iomete-dataplane",
    );
    req.values = serde_json::json!({"auth": {"adminPassword": SECRET}});

    let (result, lines) = run_upgrade(&fake.helm(), &req).await;
    assert_eq!(result, Ok(()));
    let argv = fake.argv();
    assert!(
        argv.iter().all(|arg| !arg.contains(SECRET)),
        "the values leaked into helm's arguments: {argv:?}"
    );
    assert!(
        argv.windows(2)
            .any(|w| w[0] == "-f" && w[1] == values.to_str().unwrap())
    );
    assert!(lines.iter().all(|line| !line.contains(SECRET)));
    // Helm reads them from the file.
    assert!(
        std::fs::read_to_string(fake.path("seen-values"))
            .unwrap()
            .contains(SECRET)
    );
}
