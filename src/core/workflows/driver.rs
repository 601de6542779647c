//! Release drivers: what actually applies a chart version to the cluster.
//!
//! Two implement [`ReleaseDriver`]: [`super::helm::HelmCli`], which runs Helm's own CLI
//! (`helm upgrade --install … --wait --timeout`, `helm rollback … --wait`) on real clusters
//! and streams its output; and [`super::simulated::SimulatedHelm`], the sandbox's driver,
//! which does what Helm does to the objects (a new release Secret in Helm's format, the
//! workloads' images rolled to the chart version's, the previous revision superseded) over
//! the Kubernetes API, for the demo and the tests.
//!
//! A driver applies and waits as `helm --wait` does; the workflow verifies afterwards on
//! its own ([`super::upgrade`]).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A boxed future, so drivers can be used as `dyn ReleaseDriver`.
pub type DriverFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DriverError>> + Send + 'a>>;

/// Where the chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSource {
    /// The chart's name in its repository (`iomete-dataplane`).
    pub name: String,
    /// The repository URL (`https://charts.example.com/iomete`), given to Helm as `--repo`;
    /// empty when `reference` names a repository Helm already knows (`iomete/iomete-dataplane`)
    /// or a local path / OCI reference.
    pub repository: String,
    /// What Helm is given as CHART: the name when `repository` is set, else a reference
    /// such as `iomete/iomete-dataplane` or `oci://…`.
    pub reference: String,
}

/// An upgrade (or install) to apply.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    pub release: String,
    pub namespace: String,
    pub chart: ChartSource,
    /// The chart version (`--version`).
    pub version: String,
    /// The values file given with `-f` (the whole supplied values, written by the workflow).
    pub values_file: PathBuf,
    /// The same values, parsed.
    pub values: serde_json::Value,
    /// How long to wait for the release's resources (`--timeout`).
    pub timeout: Duration,
    /// The images the chart version runs, per workload (or workload-name prefix), where the
    /// repository says so (the sandbox's repository does). Only the simulated driver uses it.
    pub images: std::collections::BTreeMap<String, String>,
    /// The chart's app version, where the repository says so.
    pub app_version: String,
    /// Asked when the change is judged failed before the driver finished (fail fast).
    pub stop: Stop,
}

/// A rollback to apply.
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    pub release: String,
    pub namespace: String,
    /// The revision to go back to.
    pub revision: i64,
    pub timeout: Duration,
}

/// How a driver failed.
/// A request to stop a running driver at once (helmdeck judged the change failed while the
/// driver still waits for it): the driver lets the release be marked failed, as Helm does on
/// SIGTERM, and answers [`DriverError::Stopped`] with the reason.
#[derive(Debug, Clone)]
pub struct Stop(tokio::sync::watch::Receiver<Option<String>>);

/// Sends the [`Stop`] of a running driver.
#[derive(Debug)]
pub struct StopSender(tokio::sync::watch::Sender<Option<String>>);

impl Stop {
    /// A stop that never comes.
    pub fn never() -> Stop {
        Stop::channel().1
    }

    /// A stop and what sends it.
    pub fn channel() -> (StopSender, Stop) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (StopSender(tx), Stop(rx))
    }

    /// Waits until a stop is asked for and gives its reason (forever when its sender is gone
    /// without asking).
    pub async fn requested(&self) -> String {
        let mut rx = self.0.clone();
        loop {
            if let Some(why) = rx.borrow_and_update().clone() {
                return why;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl StopSender {
    /// Asks the driver to stop, saying why (the first reason wins).
    pub fn stop(&self, why: String) {
        self.0.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(why);
                true
            } else {
                false
            }
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// Stopped by helmdeck before it finished: the change was judged failed (the reason).
    #[error("{0}")]
    Stopped(String),
    /// The driver could not be started (helm not installed, not executable…).
    #[error("{0}")]
    Unavailable(String),
    /// It ran and reported failure (Helm's exit code and its last error line).
    #[error("{driver} failed (exit code {code}): {message}")]
    Failed {
        driver: String,
        code: i32,
        message: String,
    },
    /// It did not finish in time and was stopped.
    #[error("{driver} did not finish within {secs} s and was stopped", secs = .after.as_secs())]
    TimedOut { driver: String, after: Duration },
    /// The release's resources did not become ready in time (`--wait` gave up).
    #[error("{0}")]
    NotReady(String),
    /// Anything else (an API error, a decoding error), with its message.
    #[error("{0}")]
    Other(String),
}

/// Applies releases. Output lines (Helm's stdout and stderr, or the simulated driver's
/// account of what it does) are sent to `out` as they come.
pub trait ReleaseDriver: Send + Sync {
    /// A short name for messages: `helm`, `sandbox`.
    fn name(&self) -> &str;

    /// `helm upgrade --install RELEASE CHART --version V -f FILE -n NS --wait --timeout T`.
    fn upgrade<'a>(
        &'a self,
        req: &'a UpgradeRequest,
        out: UnboundedSender<String>,
    ) -> DriverFuture<'a>;

    /// `helm rollback RELEASE REVISION -n NS --wait --timeout T`.
    fn rollback<'a>(
        &'a self,
        req: &'a RollbackRequest,
        out: UnboundedSender<String>,
    ) -> DriverFuture<'a>;
}

/// Which driver applies changes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DriverKind {
    /// Helm's CLI (`helm upgrade --install … --wait`); HELMDECK_HELM names the binary.
    #[default]
    Helm,
    /// The sandbox's driver (the demo's cluster): writes Helm's release Secrets itself.
    Sandbox,
}

impl DriverKind {
    /// The driver, for a cluster reached through `client` (and, for Helm, the same
    /// kubeconfig and context).
    pub fn make(
        self,
        client: &kube::Client,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
    ) -> Box<dyn ReleaseDriver> {
        match self {
            DriverKind::Helm => Box::new(
                super::helm::HelmCli::from_env()
                    .kubeconfig(kubeconfig)
                    .kube_context(context),
            ),
            DriverKind::Sandbox => Box::new(super::simulated::SimulatedHelm::new(client.clone())),
        }
    }
}
