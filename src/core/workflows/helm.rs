//! The Helm CLI driver: [`HelmCli`] applies releases by running Helm's own command line.
//!
//! What it runs:
//! - an upgrade (or first install) as
//!   `helm upgrade --install RELEASE CHART --version V -f VALUES_FILE -n NS --wait --timeout Ns`
//!   (plus `--repo URL` when the chart comes from a repository URL, and `--kubeconfig` /
//!   `--kube-context` when configured), see [`HelmCli::upgrade_args`];
//! - a rollback as `helm rollback RELEASE REVISION -n NS --wait --timeout Ns`
//!   (plus `--kubeconfig` / `--kube-context`), see [`HelmCli::rollback_args`].
//!
//! The values are given as the path of the values file the workflow wrote, never on the
//! command line, so they do not show up in `ps` or in logs. Helm inherits helmdeck's
//! environment (it needs `HOME`, `KUBECONFIG`, its cache directories); the environment is
//! never logged or forwarded anywhere else.
//!
//! How it runs: stdin is closed, every stdout and stderr line is sent to the caller as it
//! arrives (invalid UTF-8 replaced, not dropped), and Helm runs in its own process group so
//! that stopping it also stops whatever it started (post-renderers, plugins). Helm is given
//! its own `--timeout`; helmdeck waits that long plus a grace period
//! ([`HelmCli::grace`], 30 s by default) and then kills the whole group.
//!
//! What it maps (to [`DriverError`]):
//! - exit 0: success;
//! - Helm not found / not executable: [`DriverError::Unavailable`], saying how to fix it
//!   (install Helm 3, or point `HELMDECK_HELM` at it);
//! - a non-zero exit: [`DriverError::Failed`] with Helm's exit code and its error message,
//!   whole (`Error: UPGRADE FAILED: …` and the lines after it, as Helm 4 writes them), or
//!   [`DriverError::NotReady`] when it says
//!   `--wait` gave up (`timed out waiting for the condition`, `context deadline exceeded`);
//! - killed by a signal (not by helmdeck): [`DriverError::Failed`] with code -1;
//! - still running after timeout + grace: killed, reaped, [`DriverError::TimedOut`].
//!
//! No Helm binary can be installed where helmdeck is developed, so this driver is tested by
//! contract (`tests/helm_driver.rs`): fake `helm` executables (shell scripts) record the
//! arguments they were given, print, sleep, hang and exit with chosen codes, and the tests
//! check the arguments, the streaming, the outcome mapping and the killing against them.

use super::driver::{
    DriverError, DriverFuture, ReleaseDriver, RollbackRequest, Stop, UpgradeRequest,
};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// The driver's name in messages and errors.
const DRIVER: &str = "helm";
/// The environment variable naming the Helm binary.
pub const HELM_ENV: &str = "HELMDECK_HELM";
/// How long Helm has, once asked to stop (SIGTERM), to mark the release failed and exit.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long helmdeck waits beyond Helm's own `--timeout` by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// After Helm exits (or is killed), how long its output may still take to drain. Output
/// written before the exit is already in the pipe; this only bounds the wait when something
/// Helm left behind keeps the pipe open.
const DRAIN: Duration = Duration::from_secs(2);
/// How often, and how long apart, a spawn that hit "Text file busy" is retried (a binary
/// that was just written or is being replaced).
const BUSY_RETRIES: u32 = 10;
const BUSY_PAUSE: Duration = Duration::from_millis(20);

/// Runs Helm's CLI. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmCli {
    binary: PathBuf,
    kubeconfig: Option<PathBuf>,
    kube_context: Option<String>,
    grace: Duration,
}

impl Default for HelmCli {
    /// `helm`, found on `PATH`.
    fn default() -> Self {
        Self::new("helm")
    }
}

impl HelmCli {
    /// A driver running `binary` (a path, or a name looked up on `PATH`).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            kubeconfig: None,
            kube_context: None,
            grace: DEFAULT_GRACE,
        }
    }

    /// The binary named by `HELMDECK_HELM` when it is set and not empty, else `helm` on `PATH`.
    pub fn from_env() -> Self {
        match std::env::var_os(HELM_ENV) {
            Some(path) if !path.is_empty() => Self::new(path),
            _ => Self::default(),
        }
    }

    /// The kubeconfig file Helm is given (`--kubeconfig`); `None` leaves Helm to its default.
    pub fn kubeconfig(mut self, kubeconfig: Option<PathBuf>) -> Self {
        self.kubeconfig = kubeconfig;
        self
    }

    /// The kubeconfig context Helm is given (`--kube-context`); `None` for the current one.
    pub fn kube_context(mut self, context: Option<String>) -> Self {
        self.kube_context = context;
        self
    }

    /// How long helmdeck waits beyond Helm's `--timeout` before killing it (30 s by default).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The binary this driver runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The arguments of an upgrade:
    /// `upgrade --install RELEASE CHART --version V -f FILE -n NS --wait --timeout Ns`,
    /// then `--repo URL` when the chart has a repository URL, then `--kubeconfig K` and
    /// `--kube-context C` when set.
    pub fn upgrade_args(&self, req: &UpgradeRequest) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "upgrade".into(),
            "--install".into(),
            req.release.clone(),
            req.chart.reference.clone(),
            "--version".into(),
            req.version.clone(),
            "-f".into(),
            req.values_file.to_string_lossy().into_owned(),
            "-n".into(),
            req.namespace.clone(),
            "--wait".into(),
            "--timeout".into(),
            helm_duration(req.timeout),
        ];
        if !req.chart.repository.is_empty() {
            args.push("--repo".into());
            args.push(req.chart.repository.clone());
        }
        self.push_cluster_args(&mut args);
        args
    }

    /// The arguments of a rollback: `rollback RELEASE REV -n NS --wait --timeout Ns`, then
    /// `--kubeconfig K` and `--kube-context C` when set.
    pub fn rollback_args(&self, req: &RollbackRequest) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "rollback".into(),
            req.release.clone(),
            req.revision.to_string(),
            "-n".into(),
            req.namespace.clone(),
            "--wait".into(),
            "--timeout".into(),
            helm_duration(req.timeout),
        ];
        self.push_cluster_args(&mut args);
        args
    }

    fn push_cluster_args(&self, args: &mut Vec<String>) {
        if let Some(kubeconfig) = &self.kubeconfig {
            args.push("--kubeconfig".into());
            args.push(kubeconfig.to_string_lossy().into_owned());
        }
        if let Some(context) = &self.kube_context {
            args.push("--kube-context".into());
            args.push(context.clone());
        }
    }

    /// Runs Helm with `args`, streaming its output to `out`, and maps how it ended.
    /// `timeout` is the `--timeout` Helm was given; helmdeck stops it after that plus grace.
    async fn run(
        &self,
        args: Vec<String>,
        timeout: Duration,
        out: UnboundedSender<String>,
        stop: Option<&Stop>,
    ) -> Result<(), DriverError> {
        // Only the arguments are logged: paths and names, never values or the environment.
        tracing::debug!(binary = %self.binary.display(), ?args, "running helm");
        let mut child = self.spawn(&args).await?;
        let mut group = GroupGuard(child.id().and_then(|pid| i32::try_from(pid).ok()));

        let stdout = child.stdout.take().map(|s| pump(s, out.clone()));
        let stderr = child.stderr.take().map(|s| pump(s, out));

        let after = timeout + self.grace;
        let never = Stop::never();
        let stop = stop.unwrap_or(&never);
        let waited = tokio::select! {
            w = tokio::time::timeout(after, child.wait()) => w,
            why = stop.requested() => {
                // As Ctrl-C would: Helm cancels its wait and marks the release failed. What
                // does not end within the grace is killed with its group.
                tracing::info!(%why, "stopping helm");
                group.signal(libc::SIGTERM);
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    group.kill();
                }
                reap(&mut child).await;
                group.disarm();
                drain(stdout, stderr).await;
                return Err(DriverError::Stopped(why));
            }
        };
        let status = match waited {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                group.kill();
                reap(&mut child).await;
                group.disarm();
                drain(stdout, stderr).await;
                return Err(DriverError::Other(format!("could not wait for helm: {e}")));
            }
            Err(_) => {
                tracing::warn!(
                    secs = after.as_secs(),
                    "helm did not finish in time; killing it"
                );
                group.kill();
                reap(&mut child).await;
                group.disarm();
                drain(stdout, stderr).await;
                return Err(DriverError::TimedOut {
                    driver: DRIVER.into(),
                    after,
                });
            }
        };
        // Reaped: the group id may be reused from now on, so never signal it again.
        group.disarm();
        let (last_stdout, last_stderr) = drain(stdout, stderr).await;
        outcome(status, last_stderr, last_stdout)
    }

    async fn spawn(&self, args: &[String]) -> Result<Child, DriverError> {
        let mut attempt = 0;
        loop {
            let spawned = Command::new(&self.binary)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .process_group(0)
                .spawn();
            match spawned {
                Ok(child) => return Ok(child),
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(BUSY_PAUSE).await;
                }
                Err(e) => return Err(self.unavailable(&e)),
            }
        }
    }

    /// What to tell the user when Helm cannot be started.
    fn unavailable(&self, e: &io::Error) -> DriverError {
        let binary = self.binary.display();
        let on_path = if self.binary.components().count() > 1 {
            ""
        } else {
            " on PATH"
        };
        DriverError::Unavailable(match e.kind() {
            io::ErrorKind::NotFound => format!(
                "helm was not found (looked for `{binary}`{on_path}); install Helm 3, \
                 or set {HELM_ENV} to its path"
            ),
            io::ErrorKind::PermissionDenied => format!(
                "helm could not be run (`{binary}`{on_path}: permission denied); make it \
                 executable, or set {HELM_ENV} to the path of a Helm 3 binary"
            ),
            _ => format!(
                "helm could not be started (`{binary}`{on_path}): {e}; set {HELM_ENV} to \
                 the path of a Helm 3 binary"
            ),
        })
    }
}

impl ReleaseDriver for HelmCli {
    fn name(&self) -> &str {
        DRIVER
    }

    fn upgrade<'a>(
        &'a self,
        req: &'a UpgradeRequest,
        out: UnboundedSender<String>,
    ) -> DriverFuture<'a> {
        Box::pin(self.run(self.upgrade_args(req), req.timeout, out, Some(&req.stop)))
    }

    fn rollback<'a>(
        &'a self,
        req: &'a RollbackRequest,
        out: UnboundedSender<String>,
    ) -> DriverFuture<'a> {
        Box::pin(self.run(self.rollback_args(req), req.timeout, out, None))
    }
}

/// A duration as Helm's `--timeout` takes it: whole seconds, rounded up, at least 1.
fn helm_duration(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    format!("{}s", secs.max(1))
}

/// Maps how Helm ended, given its error message (or last line) on stderr and stdout.
fn outcome(
    status: ExitStatus,
    last_stderr: Option<String>,
    last_stdout: Option<String>,
) -> Result<(), DriverError> {
    if status.success() {
        return Ok(());
    }
    let Some(code) = status.code() else {
        let signal = status.signal().unwrap_or_default();
        return Err(DriverError::Failed {
            driver: DRIVER.into(),
            code: -1,
            message: format!("killed by signal {signal}"),
        });
    };
    let message = last_stderr
        .or(last_stdout)
        .unwrap_or_else(|| "no output".into());
    if message.contains("timed out waiting for the condition")
        || message.contains("context deadline exceeded")
    {
        return Err(DriverError::NotReady(message));
    }
    Err(DriverError::Failed {
        driver: DRIVER.into(),
        code,
        message,
    })
}

/// The most lines of one error message kept (Helm 4's run to a few: the resource that was
/// not ready, then `context deadline exceeded`).
const ERROR_LINES: usize = 20;

/// Reads `stream` line by line, sending each line to `out` as it arrives; returns Helm's
/// error message — from its last line starting with `Error:` to the end, all of it (Helm 4's
/// errors take several lines) — or else the last non-empty line.
fn pump<R>(stream: R, out: UnboundedSender<String>) -> JoinHandle<Option<String>>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        let mut last = None;
        let mut error: Vec<String> = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = String::from_utf8_lossy(line).into_owned();
            let trimmed = line.trim();
            if trimmed.starts_with("Error:") {
                error = vec![trimmed.to_owned()];
            } else if !error.is_empty() && !trimmed.is_empty() && error.len() < ERROR_LINES {
                error.push(trimmed.to_owned());
            }
            if !trimmed.is_empty() {
                last = Some(trimmed.to_owned());
            }
            // The receiver may be gone (nobody watching): the output is then dropped.
            let _ = out.send(line);
        }
        if error.is_empty() {
            last
        } else {
            Some(error.join("\n"))
        }
    })
}

/// Waits (briefly, [`DRAIN`] for both together) for the stdout and stderr readers to reach
/// the end of their streams; returns their last non-empty lines.
async fn drain(
    stdout: Option<JoinHandle<Option<String>>>,
    stderr: Option<JoinHandle<Option<String>>>,
) -> (Option<String>, Option<String>) {
    let deadline = tokio::time::Instant::now() + DRAIN;
    let finish = |reader: Option<JoinHandle<Option<String>>>| async move {
        let mut reader = reader?;
        match tokio::time::timeout_at(deadline, &mut reader).await {
            Ok(last) => last.ok().flatten(),
            Err(_) => {
                // Something Helm left behind holds the pipe open; stop listening to it.
                reader.abort();
                None
            }
        }
    };
    tokio::join!(finish(stdout), finish(stderr))
}

/// Kills Helm (if the group kill has not already) and reaps it.
async fn reap(child: &mut Child) {
    if let Err(e) = child.kill().await {
        tracing::warn!("could not reap helm: {e}");
    }
}

/// Helm's process group, killed when the run is abandoned (the future dropped) or timed
/// out. Disarmed once Helm has been reaped, after which the id may belong to someone else.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    fn signal(&self, signal: i32) {
        if let Some(pgid) = self.0.filter(|&pgid| pgid > 0) {
            // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the
            // process group Helm leads (it was spawned with process_group(0)) and which
            // cannot have been reused, since Helm has not been reaped yet.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::workflows::driver::ChartSource;
    use std::collections::BTreeMap;

    fn upgrade(repository: &str, reference: &str) -> UpgradeRequest {
        UpgradeRequest {
            release: "dp".into(),
            namespace: "iomete".into(),
            chart: ChartSource {
                name: "iomete-dataplane".into(),
                repository: repository.into(),
                reference: reference.into(),
            },
            version: "3.4.1".into(),
            values_file: PathBuf::from("/tmp/values.yaml"),
            values: serde_json::json!({"password": "s3cret"}),
            timeout: Duration::from_secs(300),
            images: BTreeMap::new(),
            app_version: String::new(),
            stop: crate::core::workflows::driver::Stop::never(),
        }
    }

    #[test]
    fn upgrade_args_with_repository_and_cluster() {
        let helm = HelmCli::new("helm")
            .kubeconfig(Some("/home/me/.kube/prod".into()))
            .kube_context(Some("prod-eu".into()));
        let args = helm.upgrade_args(&upgrade(
            "https://charts.example.com/iomete",
            "iomete-dataplane",
        ));
        assert_eq!(
            args,
            [
                "upgrade",
                "--install",
                "dp",
                "iomete-dataplane",
                "--version",
                "3.4.1",
                "-f",
                "/tmp/values.yaml",
                "-n",
                "iomete",
                "--wait",
                "--timeout",
                "300s",
                "--repo",
                "https://charts.example.com/iomete",
                "--kubeconfig",
                "/home/me/.kube/prod",
                "--kube-context",
                "prod-eu",
            ]
        );
    }

    #[test]
    fn upgrade_args_with_known_repository_reference() {
        let args = HelmCli::default().upgrade_args(&upgrade("", "iomete/iomete-dataplane"));
        assert_eq!(
            args,
            [
                "upgrade",
                "--install",
                "dp",
                "iomete/iomete-dataplane",
                "--version",
                "3.4.1",
                "-f",
                "/tmp/values.yaml",
                "-n",
                "iomete",
                "--wait",
                "--timeout",
                "300s",
            ]
        );
    }

    #[test]
    fn upgrade_args_never_carry_values() {
        let args = HelmCli::default().upgrade_args(&upgrade("", "iomete/iomete-dataplane"));
        assert!(args.iter().all(|a| !a.contains("s3cret")));
        assert!(!args.iter().any(|a| a == "--set" || a.starts_with("--set-")));
    }

    #[test]
    fn rollback_args() {
        let req = RollbackRequest {
            release: "dp".into(),
            namespace: "iomete".into(),
            revision: 7,
            timeout: Duration::from_secs(120),
        };
        assert_eq!(
            HelmCli::default().rollback_args(&req),
            [
                "rollback",
                "dp",
                "7",
                "-n",
                "iomete",
                "--wait",
                "--timeout",
                "120s"
            ]
        );
        let helm = HelmCli::default().kube_context(Some("staging".into()));
        assert_eq!(
            helm.rollback_args(&req)[8..],
            ["--kube-context".to_string(), "staging".to_string()]
        );
    }

    #[test]
    fn timeouts_round_up_to_whole_seconds() {
        assert_eq!(helm_duration(Duration::from_secs(90)), "90s");
        assert_eq!(helm_duration(Duration::from_millis(1500)), "2s");
        assert_eq!(helm_duration(Duration::ZERO), "1s");
    }

    #[test]
    fn failure_messages_prefer_stderr_then_stdout() {
        let failed = ExitStatus::from_raw(1 << 8);
        assert_eq!(
            outcome(failed, Some("Error: boom".into()), Some("out".into())),
            Err(DriverError::Failed {
                driver: "helm".into(),
                code: 1,
                message: "Error: boom".into()
            })
        );
        assert_eq!(
            outcome(failed, None, Some("out".into())),
            Err(DriverError::Failed {
                driver: "helm".into(),
                code: 1,
                message: "out".into()
            })
        );
        assert_eq!(
            outcome(failed, None, None),
            Err(DriverError::Failed {
                driver: "helm".into(),
                code: 1,
                message: "no output".into()
            })
        );
        assert_eq!(
            outcome(
                failed,
                Some("Error: context deadline exceeded".into()),
                None
            ),
            Err(DriverError::NotReady(
                "Error: context deadline exceeded".into()
            ))
        );
        assert_eq!(
            outcome(ExitStatus::from_raw(libc::SIGTERM), None, None),
            Err(DriverError::Failed {
                driver: "helm".into(),
                code: -1,
                message: format!("killed by signal {}", libc::SIGTERM)
            })
        );
        assert_eq!(outcome(ExitStatus::from_raw(0), None, None), Ok(()));
    }
}
