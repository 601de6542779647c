//! The guided upgrade and rollback of a Helm release, as an explicit state machine:
//!
//! 1. [`prepare`] — preflight, with no side effect: the release and its revisions, the
//!    target (a chart version from the repository, an earlier revision, or a values-repo
//!    commit), the new values (invalid YAML refused with line and column, `--set` applied,
//!    values encrypted in the values repo decrypted in memory, secret-looking values to be
//!    encrypted with age — or refused without recipients, unless allowed in plain text),
//!    the values diff, and the checks (not pending, nobody holds the lock, no unfinished
//!    change, workloads and nodes healthy, topic plan).
//! 2. [`execute`] — the change, reporting each step as an [`Event`]: journal, lock (a
//!    Lease), backup (nothing is applied without one), commit of the values revision to
//!    the values repo, apply through a [`ReleaseDriver`] with its output streamed and the
//!    workloads' progress followed, verify (release status, rollout, new Warning events),
//!    and on failure a rollback to the revision it started from (at once with
//!    `auto_rollback`, else offered in the [`Report`]); then the outcome as a git note on
//!    the commit, a push when the values repo has a remote, and the journal removed.
//!
//! Every step that changes something is recorded before it is taken (the journal), and
//! nothing already backed up or committed is removed on failure.
//!
//! Here are the request, the plan and what both steps share; `preflight.rs` holds
//! [`prepare`], `steps.rs` holds [`execute`], and `recover.rs` closes a change the process
//! did not finish ([`verify_interrupted`], [`abandon_interrupted`]).

use super::diagnose;
use super::driver::{
    ChartSource, DriverError, ReleaseDriver, RollbackRequest, Stop, StopSender, UpgradeRequest,
};
use super::journal::{Journal, JournalFile, Operation};
use super::lock::{self, ReleaseLock};
use super::simulated::{ManifestWorkload, manifest_workloads};
use crate::core::cluster::actions;
use crate::core::cluster::model::WorkloadKind;
use crate::core::release::{Release, ReleaseHistory, ReleaseStatus};
use crate::core::releases::history::{self, DiffLine, LineKind};
use crate::core::releases::repo::{self, ChartRepo, IndexEntry, Jump, RepoOptions};
use crate::core::releases::values_repo::{
    CommitSecrets, Outcome, ReleaseRecord, ValuesRepo, ValuesRevision,
};
use crate::core::releases::values_secrets::{self, Disposition, ValuesSecrets};
use crate::core::releases::{backup, fetch};
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

mod preflight;
mod recover;
mod steps;

pub use preflight::{DIFF_SHOWN, RELEASE_LIMIT, prepare};
pub use recover::{Abandoned, Recovery, abandon_interrupted, verify_interrupted};
pub use steps::{Ending, Event, Report, Step, StepState, WorkloadProgress, execute};

/// Annotation on a repository index entry listing the images of that version
/// (`workload=image,…`); the sandbox's repository carries it, for [`super::simulated`].
pub const IMAGES_ANNOTATION: &str = "sandbox.helmdeck.io/images";

/// What to move the release to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A chart version from the repository.
    Version(String),
    /// An earlier revision (a rollback).
    Revision(i64),
    /// The chart version and values recorded in a values-repo commit.
    Commit(String),
}

/// Where the new values come from (upgrades only; a rollback takes the revision's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ValuesSource {
    /// The current revision's supplied values (as `--reuse-values`).
    #[default]
    Current,
    /// A values file (`-f`), which replaces them.
    File(PathBuf),
    /// Values as text.
    Text(String),
}

/// Where things are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub backup_dir: PathBuf,
    pub values_repo: PathBuf,
    pub journal_dir: PathBuf,
    /// What becomes of secret-looking values in the values repo: encrypted to the
    /// configured age recipients, refused without them, or (`--allow-plaintext-secrets`)
    /// committed as they are.
    pub secrets: ValuesSecrets,
    /// The platforms' metric analyses, run in the verify step of their releases' changes.
    pub analyses: super::analysis::Analyses,
    /// The environment the change is made in (`environments` in the config, found from the
    /// kubeconfig context): its values-repo record is kept under `<environment>/`.
    pub environment: Option<String>,
}

impl Settings {
    /// From the config: `backup_dir`, `values_repo` (default `<data dir>/values`),
    /// `values_secrets`, and `<data dir>/journal`; no environment (the caller knows the
    /// context and sets it).
    pub fn from_config(config: &crate::config::Config) -> Result<Settings> {
        let data = crate::config::data_dir();
        Ok(Settings {
            environment: None,
            analyses: super::analysis::Analyses::from_config(config),
            secrets: ValuesSecrets {
                recipients: config.values_secrets.recipients.clone(),
                identity_file: config.values_secrets.identity_file.clone(),
                allow_plaintext: false,
            },
            backup_dir: backup::backup_dir(config)?,
            values_repo: match (&config.values_repo, &data) {
                (Some(p), _) => p.clone(),
                (None, Some(d)) => d.join("values"),
                (None, None) => bail!("no values repo: set values_repo in the config, or HOME"),
            },
            journal_dir: data
                .map(|d| d.join("journal"))
                .ok_or_else(|| anyhow!("no data directory for the journal: set HOME"))?,
        })
    }
}

/// A change asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub release: String,
    pub namespace: String,
    pub target: Target,
    pub values: ValuesSource,
    /// `--set key.path=value`, applied over the values.
    pub sets: Vec<String>,
    /// The chart repository; when `None`, the one recorded in the values repo for this
    /// release (from its last upgrade) is used.
    pub repository: Option<RepoOptions>,
    /// Chart reference for Helm when the repository is not given as `--repo`
    /// (`iomete/iomete-dataplane`, `oci://…`).
    pub chart_reference: Option<String>,
    pub timeout: Duration,
    pub auto_rollback: bool,
    /// Go on despite checks that can be overridden (unhealthy workloads).
    pub force: bool,
    /// Why, for the commit message.
    pub reason: String,
    /// The topic plan of the release's platform, found by the caller (`None`: no topic
    /// plan configured): its problems are a preflight check, its state goes into the backup.
    pub topics: Option<TopicCheck>,
    pub settings: Settings,
}

/// The topic plan of a release's platform, as the caller found it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicCheck {
    /// Missing topics, partitions short, lagging or stopped consumers: one line each.
    pub problems: Vec<String>,
    /// The plan's state (topics, partitions, consumers), kept in the backup as
    /// `topic-plan.json`.
    pub plan: Option<Value>,
}

/// How a preflight check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckLevel {
    Pass,
    Warn,
    Fail,
}

impl CheckLevel {
    pub fn glyph(self) -> &'static str {
        match self {
            CheckLevel::Pass => "✓",
            CheckLevel::Warn => "!",
            CheckLevel::Fail => "✗",
        }
    }
}

/// One preflight check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub level: CheckLevel,
    pub detail: String,
    /// A failure `--force` may override.
    pub overridable: bool,
}

fn check(name: &str, level: CheckLevel, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        level,
        detail: detail.into(),
        overridable: false,
    }
}

/// What kind of change a plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Upgrade,
    Rollback { to_revision: i64 },
}

/// A prepared change: what will happen, and whether it may.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub request: Request,
    pub kind: Kind,
    /// The deployed revision the change starts from.
    pub current: Release,
    /// The highest revision number so far, and its chart version.
    pub latest_revision: i64,
    pub latest_version: String,
    pub chart: ChartSource,
    pub to_version: String,
    pub to_app_version: String,
    /// `None` when the version does not change, or for a downgrade (a rollback).
    pub jump: Option<Jump>,
    /// Changelog lines of the target version, where the repository has them.
    pub changes: Vec<String>,
    pub values: Value,
    pub values_yaml: String,
    /// Masked unified diff of the supplied values, current → new.
    pub values_diff: Vec<DiffLine>,
    /// Secret-looking keys with plain-text values in the new values (committed encrypted
    /// when the values repo has age recipients; see [`Settings::secrets`]).
    pub plaintext_secrets: Vec<String>,
    pub checks: Vec<Check>,
    /// Images per workload of the target version, where the repository says.
    pub images: BTreeMap<String, String>,
    /// The workloads the release runs (from its manifest).
    pub workloads: Vec<ManifestWorkload>,
}

impl Plan {
    /// `ee (mr-ee): mr-ee 1.4.2 → 1.5.0: minor — new features, backwards compatible`.
    pub fn headline(&self) -> String {
        let from = &self.current.chart.metadata.version;
        let what = match (&self.kind, self.jump) {
            (Kind::Rollback { to_revision }, _) => format!(
                "rollback from revision {} ({}) to revision {to_revision} ({})",
                self.latest_revision, self.latest_version, self.to_version
            ),
            (Kind::Upgrade, Some(j)) => format!(
                "{from} → {}: {} — {}",
                self.to_version,
                j.as_str(),
                j.meaning()
            ),
            (Kind::Upgrade, None) => format!("{from} → {} (values only)", self.to_version),
        };
        format!(
            "{} ({}): {} {what}",
            self.request.release, self.request.namespace, self.chart.name
        )
    }

    /// The checks that stop the change (failures not overridden by `force`).
    pub fn blockers(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.level == CheckLevel::Fail && !(c.overridable && self.request.force))
            .collect()
    }

    fn operation(&self) -> Operation {
        match self.kind {
            Kind::Upgrade => Operation::Upgrade {
                to_version: self.to_version.clone(),
            },
            Kind::Rollback { to_revision } => Operation::Rollback { to_revision },
        }
    }
}

/// Parses values YAML; errors carry the line and column.
pub fn parse_values(text: &str, source: &str) -> Result<Value> {
    let v: Value = match crate::core::yaml::from_str::<Option<Value>>(text) {
        Ok(v) => v.unwrap_or(Value::Null),
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            bail!("{source}: invalid YAML: {at}{msg}");
        }
    };
    match v {
        Value::Null => Ok(Value::Object(Default::default())),
        Value::Object(_) => Ok(v),
        _ => bail!("{source}: values must be a mapping (key: value), not a single value or a list"),
    }
}

/// Applies `key.path=value` over `values` (value parsed as YAML: numbers, booleans,
/// null; anything else is a string), as `helm --set` does for plain values.
pub fn apply_set(values: &mut Value, set: &str) -> Result<()> {
    let (path, raw) = set
        .split_once('=')
        .ok_or_else(|| anyhow!("--set {set}: expected key.path=value"))?;
    if path.is_empty() || path.split('.').any(str::is_empty) {
        bail!("--set {set}: the key path has an empty part");
    }
    let value: Value = if raw.is_empty() {
        Value::String(String::new())
    } else {
        match crate::core::yaml::from_str::<Value>(raw) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
            _ => Value::String(raw.to_string()),
        }
    };
    let mut at = values;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        let map = at.as_object_mut().expect("made an object above");
        if i + 1 == parts.len() {
            map.insert(part.to_string(), value);
            return Ok(());
        }
        at = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

/// Parses the images annotation (`workload=image,…`).
pub fn images_of(entry: &IndexEntry) -> BTreeMap<String, String> {
    entry
        .annotations
        .get(IMAGES_ANNOTATION)
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow!("a background task failed: {e}"))?
}

/// Fails when a change in an environment could not be recorded: the values repo still
/// keeps releases without an environment ([`ValuesRepo::check_migrated`]).
async fn values_repo_ready(settings: &Settings) -> Result<()> {
    let path = settings.values_repo.clone();
    blocking(move || {
        if path.join(".git").exists() {
            ValuesRepo::open_or_init(&path)?.check_migrated()?;
        }
        Ok(())
    })
    .await
}

/// The chart repository and reference recorded for the release by its last values commit.
async fn recorded(settings: &Settings, ns: &str, release: &str) -> Option<ReleaseRecord> {
    let path = settings.values_repo.clone();
    let env = settings.environment.clone();
    let (ns, release) = (ns.to_string(), release.to_string());
    blocking(move || {
        if !path.join(".git").exists() {
            return Ok(None);
        }
        let repo = ValuesRepo::open_or_init(&path)?;
        Ok(repo
            .read_at("HEAD", env.as_deref(), &ns, &release)
            .ok()
            .map(|(record, _)| record))
    })
    .await
    .ok()
    .flatten()
}

/// The chart repository of a release: `configured` if given, else the one recorded in the
/// values repo by its last change.
pub async fn repository_for(
    settings: &Settings,
    namespace: &str,
    release: &str,
    configured: Option<RepoOptions>,
) -> Result<RepoOptions> {
    if let Some(c) = configured {
        return Ok(c);
    }
    match recorded(settings, namespace, release).await {
        Some(r) if !r.repository.is_empty() => Ok(RepoOptions::new(&r.repository)),
        _ => bail!(
            "no chart repository known for {namespace}/{release}: set chart_repository in the config or pass --repo"
        ),
    }
}

/// The deployed chart version of a release and the newer versions its repository offers
/// (newest first, pre-releases included and marked).
pub async fn chart_versions(
    client: &kube::Client,
    settings: &Settings,
    namespace: &str,
    release: &str,
    configured: Option<RepoOptions>,
) -> Result<(String, Vec<repo::VersionOffer>)> {
    let h = fetch::release_history(client, namespace, release).await?;
    let current = h
        .current()
        .ok_or_else(|| anyhow!("{namespace}/{release} has no readable revision"))?;
    let opts = repository_for(settings, namespace, release, configured).await?;
    let fetched = ChartRepo::new(opts)?.fetch_index().await?;
    let entries = fetched
        .index
        .chart(&current.chart.metadata.name, &fetched.url)?;
    let offers = repo::newer_versions(entries, &current.chart.metadata.version, true)?;
    Ok((current.chart.metadata.version.clone(), offers))
}

/// Writes a new file only its owner can read (values may hold secrets); an existing file
/// is not overwritten.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}
