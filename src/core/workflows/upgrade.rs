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

/// Preflight: works out the change and checks it may be made. Changes nothing.
pub async fn prepare(client: &kube::Client, request: Request) -> Result<Plan> {
    let ns = request.namespace.clone();
    let name = request.release.clone();
    let h = fetch::release_history(client, &ns, &name).await?;
    let current = h
        .current()
        .cloned()
        .ok_or_else(|| anyhow!("{ns}/{name} has no readable revision"))?;
    let latest = h.latest().cloned().unwrap_or_else(|| current.clone());

    let mut checks = Vec::new();
    let target = match &request.target {
        Target::Revision(rev) => rollback_target(&h, &latest, *rev, &ns, &name)?,
        Target::Version(version) => {
            upgrade_target(&request, &h, &current, version, None, &mut checks).await?
        }
        Target::Commit(sha) => {
            let (record, text) = committed_values(&request, sha, &current).await?;
            let version = record.version.clone();
            upgrade_target(
                &request,
                &h,
                &current,
                &version,
                Some((record, text)),
                &mut checks,
            )
            .await?
        }
    };
    let from_version = &current.chart.metadata.version;
    let jump = match (
        repo::parse_version(from_version),
        repo::parse_version(&target.to_version),
    ) {
        (Ok(f), Ok(t)) if repo::cmp_precedence(&t, &f).is_gt() => Some(Jump::classify(&f, &t)),
        _ => None,
    };
    let (values_diff, plaintext_secrets) = values_checks(&request, &current, &target, &mut checks)?;
    let rollback = matches!(target.kind, Kind::Rollback { .. });
    checks.push(release_check(&latest, &current, rollback, &ns, &name));
    checks.extend(nobody_else_checks(client, &request).await);
    let workloads = manifest_workloads(&current.manifest);
    checks.push(workloads_check(client, &ns, &workloads, rollback).await);
    checks.push(nodes_check(client).await);
    checks.push(topics_check(&request));

    Ok(Plan {
        kind: target.kind,
        latest_revision: latest.version,
        latest_version: latest.chart.metadata.version.clone(),
        current,
        chart: target.chart,
        to_version: target.to_version,
        to_app_version: target.to_app_version,
        jump,
        changes: target.changes,
        values: target.values,
        values_yaml: target.values_yaml,
        values_diff,
        plaintext_secrets,
        checks,
        images: target.images,
        workloads,
        request,
    })
}

/// What a change goes to: its chart, version and values.
struct ChangeTarget {
    kind: Kind,
    to_version: String,
    to_app_version: String,
    values: Value,
    values_yaml: String,
    chart: ChartSource,
    /// The target version's changelog lines and images, where the repository has them.
    changes: Vec<String>,
    images: BTreeMap<String, String>,
}

/// A rollback to revision `rev`: its chart and values, as Helm keeps them.
fn rollback_target(
    h: &ReleaseHistory,
    latest: &Release,
    rev: i64,
    ns: &str,
    name: &str,
) -> Result<ChangeTarget> {
    let r = h.revision(rev).ok_or_else(|| {
        anyhow!(
            "{ns}/{name} has no revision {rev} (it has {})",
            h.revisions
                .iter()
                .map(|r| r.version.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    if rev == latest.version && latest.info.status == ReleaseStatus::Deployed {
        bail!("revision {rev} is the deployed revision of {ns}/{name}: nothing to roll back to");
    }
    let values = if r.config.is_null() {
        Value::Object(Default::default())
    } else {
        r.config.clone()
    };
    let values_yaml = history::values_yaml(&values, true);
    Ok(ChangeTarget {
        kind: Kind::Rollback { to_revision: rev },
        to_version: r.chart.metadata.version.clone(),
        to_app_version: r.chart.metadata.app_version.clone(),
        values,
        values_yaml,
        chart: ChartSource {
            name: r.chart.metadata.name.clone(),
            repository: String::new(),
            reference: r.chart.metadata.name.clone(),
        },
        changes: Vec::new(),
        images: BTreeMap::new(),
    })
}

/// The record and values text of commit `sha` of the values repo, which must be of the
/// chart the release runs.
async fn committed_values(
    request: &Request,
    sha: &str,
    current: &Release,
) -> Result<(ReleaseRecord, String)> {
    let (ns, name) = (&request.namespace, &request.release);
    let path = request.settings.values_repo.clone();
    let (sha2, ns2, name2) = (sha.to_string(), ns.clone(), name.clone());
    let env = request.settings.environment.clone();
    let (record, text) = blocking(move || {
        let repo = ValuesRepo::open_or_init(&path)?;
        Ok(repo.read_at(&sha2, env.as_deref(), &ns2, &name2)?)
    })
    .await?;
    if record.chart != current.chart.metadata.name {
        bail!(
            "commit {sha} records chart {}, but {ns}/{name} runs {}",
            record.chart,
            current.chart.metadata.name
        );
    }
    Ok((record, text))
}

/// An upgrade to chart version `version` of the release's chart repository, with the
/// values of `committed` (a values-repo commit's record and text) or of the request.
async fn upgrade_target(
    request: &Request,
    h: &ReleaseHistory,
    current: &Release,
    version: &str,
    committed: Option<(ReleaseRecord, String)>,
    checks: &mut Vec<Check>,
) -> Result<ChangeTarget> {
    let (ns, name) = (&request.namespace, &request.release);
    let (recorded_repo, text) = match committed {
        Some((record, text)) => (Some(record), Some(text)),
        None => (recorded(&request.settings, ns, name).await, None),
    };
    let repo_opts = match (&request.repository, &recorded_repo) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) if !r.repository.is_empty() => RepoOptions::new(&r.repository),
        _ => bail!(
            "no chart repository known for {ns}/{name}: give it with --repo URL (it is then recorded in the values repo)"
        ),
    };
    let fetched = ChartRepo::new(repo_opts)?.fetch_index().await?;
    let chart_name = current.chart.metadata.name.clone();
    let entries = fetched.index.chart(&chart_name, &fetched.url)?;
    let entry = chart_entry(request, h, current, entries, version, &fetched.url)?;
    checks.extend(version_checks(entry, version));
    let (values, values_yaml) = values_to_apply(request, text.as_deref(), current)?;
    let repository = if request.chart_reference.is_some() {
        String::new()
    } else {
        fetched
            .url
            .trim_end_matches("index.yaml")
            .trim_end_matches('/')
            .to_string()
    };
    Ok(ChangeTarget {
        kind: Kind::Upgrade,
        to_version: entry.version.clone(),
        to_app_version: entry.app_version.clone(),
        values,
        values_yaml,
        chart: ChartSource {
            name: chart_name.clone(),
            reference: request.chart_reference.clone().unwrap_or(chart_name),
            repository,
        },
        changes: repo::changes_of(&entry.annotations),
        images: images_of(entry),
    })
}

/// The repository's entry of chart version `version`. A version older than the deployed
/// one is refused (a downgrade is a rollback), naming the revision that ran it.
fn chart_entry<'a>(
    request: &Request,
    h: &ReleaseHistory,
    current: &Release,
    entries: &'a [IndexEntry],
    version: &str,
    url: &str,
) -> Result<&'a IndexEntry> {
    let name = &request.release;
    let chart_name = &current.chart.metadata.name;
    let from_version = &current.chart.metadata.version;
    let wanted = repo::parse_version(version)
        .map_err(|e| anyhow!("{version:?} is not a chart version: {e}"))?;
    let entry = entries
        .iter()
        .find(|e| repo::parse_version(&e.version).ok().as_ref() == Some(&wanted))
        .ok_or_else(|| {
            let newest = repo::newer_versions(entries, from_version, false)
                .ok()
                .and_then(|o| o.first().map(|o| o.version.to_string()))
                .unwrap_or_else(|| from_version.clone());
            anyhow!(
                "chart {chart_name} has no version {version} in {url} (newest stable: {newest}; `helmdeck versions {name}` lists them)",
            )
        })?;
    let from = repo::parse_version(from_version).ok();
    if let Some(f) = &from
        && repo::cmp_precedence(&wanted, f).is_lt()
        && matches!(request.target, Target::Version(_))
    {
        let earlier = h
            .revisions
            .iter()
            .rev()
            .find(|r| repo::parse_version(&r.chart.metadata.version).ok() == Some(wanted.clone()))
            .map(|r| {
                format!(
                    " (revision {} ran {version}: `helmdeck rollback {name} --to {}`)",
                    r.version, r.version
                )
            })
            .unwrap_or_default();
        bail!(
            "{version} is older than the deployed {from_version}: a downgrade is not an upgrade; roll back instead{earlier}"
        );
    }
    Ok(entry)
}

/// Warnings about the target version: a pre-release, or deprecated in the repository.
fn version_checks(entry: &IndexEntry, version: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    if repo::parse_version(version).is_ok_and(|v| !v.pre.is_empty()) {
        checks.push(check(
            "version",
            CheckLevel::Warn,
            format!("{version} is a pre-release"),
        ));
    }
    if entry.deprecated {
        checks.push(check(
            "version",
            CheckLevel::Warn,
            format!("{version} is deprecated in the repository"),
        ));
    }
    checks
}

/// The values an upgrade applies, and their text to commit: the committed ones (`text`),
/// else the request's (the current ones, a file or a text), decrypted in memory, with the
/// `--set`s on top.
fn values_to_apply(
    request: &Request,
    text: Option<&str>,
    current: &Release,
) -> Result<(Value, String)> {
    let (mut values, source) = match (text, &request.values) {
        (Some(t), _) => (
            parse_values(t, "the committed values")?,
            "the committed values".to_string(),
        ),
        (None, ValuesSource::Current) => (
            match &current.config {
                Value::Null => Value::Object(Default::default()),
                v => v.clone(),
            },
            String::new(),
        ),
        (None, ValuesSource::File(p)) => {
            let t =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            (
                parse_values(&t, &p.display().to_string())?,
                p.display().to_string(),
            )
        }
        (None, ValuesSource::Text(t)) => (parse_values(t, "the values")?, "the values".to_string()),
    };
    // Values encrypted in the values repo (a commit, or a values file copied from it) are
    // decrypted here, in memory; without the identity nothing is applied.
    let opened = if source.is_empty() {
        None
    } else {
        let source = match (&request.target, text) {
            (Target::Commit(sha), Some(_)) => format!("commit {sha}"),
            _ => source,
        };
        let o = values_secrets::open_with(&values, &request.settings.secrets)
            .with_context(|| format!("{source}: encrypted values"))?;
        if o.masked {
            bail!(
                "{source} holds {} value(s) encrypted with age ({}), which cannot be applied: {}",
                o.sealed.len(),
                o.sealed.join(", "),
                values_secrets::identity_missing()
            );
        }
        (!o.sealed.is_empty()).then_some(o)
    };
    if let Some(o) = &opened {
        values = o.values.clone();
    }
    for s in &request.sets {
        apply_set(&mut values, s)?;
    }
    let yaml = match (text, &request.values) {
        _ if opened.is_some() => history::values_yaml(&values, true),
        (Some(t), _) if request.sets.is_empty() => t.to_string(),
        (None, ValuesSource::File(p)) if request.sets.is_empty() => {
            std::fs::read_to_string(p).unwrap_or_default()
        }
        (None, ValuesSource::Text(t)) if request.sets.is_empty() => t.clone(),
        _ => history::values_yaml(&values, true),
    };
    Ok((values, yaml))
}

/// The values' diff (masked) and their plain-text secrets, with the checks on them: the
/// release's size, the secrets' fate; a change that changes nothing is refused.
fn values_checks(
    request: &Request,
    current: &Release,
    target: &ChangeTarget,
    checks: &mut Vec<Check>,
) -> Result<(Vec<DiffLine>, Vec<String>)> {
    let (ns, name) = (&request.namespace, &request.release);
    let values = &target.values;
    let (old_values, new_values) = history::values_yaml_pair(&current.config, values, false);
    let values_diff = summarise_diff(
        history::unified(
            &old_values,
            &new_values,
            &format!("revision {} values", current.version),
            "new values",
        ),
        &request.settings,
        ns,
        name,
    );
    if let Some(c) = release_size_check(current, values) {
        checks.push(c);
    }
    if target.kind == Kind::Upgrade
        && target.to_version == current.chart.metadata.version
        && old_values == new_values
    {
        // Compare revealed too: a changed secret is a change.
        if history::values_yaml(&current.config, true) == history::values_yaml(values, true) {
            bail!(
                "{ns}/{name} already runs {} with these values: nothing to change",
                target.to_version
            );
        }
    }
    let plaintext_secrets = history::secret_paths(values);
    if let Some(c) = secrets_check(&request.settings.secrets, &plaintext_secrets) {
        checks.push(c);
    }
    Ok((values_diff, plaintext_secrets))
}

/// The release's state: a pending revision blocks an upgrade (a rollback supersedes it).
fn release_check(
    latest: &Release,
    current: &Release,
    rollback: bool,
    ns: &str,
    name: &str,
) -> Check {
    if !latest.info.status.is_pending() {
        return check(
            "release",
            CheckLevel::Pass,
            format!(
                "revision {} {} ({} {})",
                latest.version,
                latest.info.status,
                current.chart.metadata.name,
                current.chart.metadata.version
            ),
        );
    }
    let detail = format!(
        "revision {} is {} since {}: another change is running, or one was interrupted",
        latest.version,
        latest.info.status,
        latest
            .info
            .last_deployed
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "an unknown time".into())
    );
    if rollback {
        check(
            "release",
            CheckLevel::Warn,
            format!("{detail}; the rollback supersedes it"),
        )
    } else {
        check(
            "release",
            CheckLevel::Fail,
            format!(
                "{detail}; if nobody is changing it, roll back: helmdeck rollback {name} -n {ns} --to {}",
                current.version
            ),
        )
    }
}

/// Nobody else is changing the release: its lock is free, no earlier change was left
/// unfinished, the values repo can take the record, no blue/green cutover is open.
async fn nobody_else_checks(client: &kube::Client, request: &Request) -> Vec<Check> {
    let (ns, name) = (request.namespace.as_str(), request.release.as_str());
    let mut checks = Vec::new();
    match lock::current_holder(client, ns, name).await {
        Ok(Some(h)) => checks.push(check(
            "lock",
            CheckLevel::Fail,
            format!("{ns}/{name} is being changed by {h}"),
        )),
        Ok(None) => checks.push(check("lock", CheckLevel::Pass, "free")),
        Err(e) => checks.push(check("lock", CheckLevel::Fail, format!("{e:#}"))),
    }
    match JournalFile::resume(&request.settings.journal_dir, ns, name) {
        Ok(Some(j)) => checks.push(check(
            "journal",
            CheckLevel::Fail,
            format!(
                "an earlier change did not finish: {}; recover it first (helmdeck recover {name} -n {ns})",
                j.journal.summary()
            ),
        )),
        Ok(None) => {}
        Err(e) => checks.push(check("journal", CheckLevel::Fail, format!("{e:#}"))),
    }
    // The values repo can take the record where it belongs (laid out by environment when
    // the change is made in one).
    if let Some(env) = &request.settings.environment
        && let Err(e) = values_repo_ready(&request.settings).await
    {
        checks.push(check(
            "values repo",
            CheckLevel::Fail,
            format!("cannot record under {env}/: {e:#}"),
        ));
    }
    // No blue/green cutover of its workloads is open: its Service is pinned to the pods
    // this change would replace.
    match super::bluegreen::open_cutovers(client, ns, name).await {
        Ok(open) if !open.is_empty() => checks.push(check(
            "bluegreen",
            CheckLevel::Fail,
            format!("{}; finish it first", open.join("; ")),
        )),
        Ok(_) => {}
        Err(e) => checks.push(check("bluegreen", CheckLevel::Fail, format!("{e:#}"))),
    }
    checks
}

/// Every workload of the release is ready: an upgrade on unready ones fails unless forced,
/// a rollback is only warned.
async fn workloads_check(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    rollback: bool,
) -> Check {
    let mut unhealthy = Vec::new();
    for w in workloads {
        match workload_ready(client, ns, w).await {
            Ok((ready, desired)) if ready < desired => unhealthy.push(format!(
                "{} {} {ready}/{desired} ready",
                w.kind.short(),
                w.name
            )),
            Ok(_) => {}
            Err(e) => unhealthy.push(format!("{} {}: {e:#}", w.kind.short(), w.name)),
        }
    }
    if unhealthy.is_empty() {
        check(
            "workloads",
            CheckLevel::Pass,
            format!("{} workload(s) ready", workloads.len()),
        )
    } else if rollback {
        check("workloads", CheckLevel::Warn, unhealthy.join("; "))
    } else {
        Check {
            overridable: true,
            ..check(
                "workloads",
                CheckLevel::Fail,
                format!("{} (--force goes on anyway)", unhealthy.join("; ")),
            )
        }
    }
}

/// The topic plan, when one is configured, holds.
fn topics_check(request: &Request) -> Check {
    match request.topics.as_ref().map(|t| &t.problems) {
        None => check("topics", CheckLevel::Pass, "no topic plan configured"),
        Some(p) if p.is_empty() => check("topics", CheckLevel::Pass, "plan holds"),
        Some(p) => check("topics", CheckLevel::Warn, p.join("; ")),
    }
}

/// What the values repo will do with the secret-looking values (`paths`): encrypt them
/// (pass), commit them in plain text as `--allow-plaintext-secrets` allowed (warn), or
/// refuse (fail, not overridable by `--force`): nothing is changed then.
fn secrets_check(secrets: &ValuesSecrets, paths: &[String]) -> Option<Check> {
    let list = paths.join(", ");
    Some(match secrets.disposition(paths) {
        Disposition::Nothing => return None,
        Disposition::Encrypt => check(
            "secrets",
            CheckLevel::Pass,
            format!(
                "{} secret value(s) committed encrypted with age to {} recipient(s): {list}",
                paths.len(),
                secrets.recipients.len()
            ),
        ),
        Disposition::Plaintext => check(
            "secrets",
            CheckLevel::Warn,
            format!(
                "plain-text secrets committed to the values repo as they are (--allow-plaintext-secrets): {list}"
            ),
        ),
        Disposition::Refuse => check(
            "secrets",
            CheckLevel::Fail,
            format!(
                "plain-text secrets in the values: {list}; the values repo has no age recipients to encrypt them to: set values_secrets.recipients in the config, or pass --allow-plaintext-secrets to commit them as they are"
            ),
        ),
    })
}

/// (ready, desired) of a workload, read untyped: Deployments and StatefulSets count
/// `readyReplicas` of `spec.replicas`, DaemonSets `numberReady` of `desiredNumberScheduled`.
/// The most a Secret holds: the API server refuses more (Helm keeps a release, compressed,
/// in one Secret).
pub const RELEASE_LIMIT: usize = 1024 * 1024;

/// Refuses values that would make the release larger than its Secret can hold: the size of
/// the release Helm would store (the current revision with these values, encoded as Helm
/// encodes it), against [`RELEASE_LIMIT`].
fn release_size_check(current: &Release, values: &Value) -> Option<Check> {
    let mut next = current.clone();
    next.config = values.clone();
    let secret = crate::core::release::release_secret(&next).ok()?;
    let size: usize = secret.data.as_ref()?.values().map(|b| b.0.len()).sum();
    (size > RELEASE_LIMIT).then(|| {
        check(
            "size",
            CheckLevel::Fail,
            format!(
                "the release would take about {} in its Secret (chart, manifest and these values, compressed as Helm stores them); a Secret holds at most {}: make the values smaller",
                mib(size),
                mib(RELEASE_LIMIT)
            ),
        )
    })
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The most lines of a values diff shown; a longer one is summarised.
pub const DIFF_SHOWN: usize = 200;

/// A diff longer than [`DIFF_SHOWN`] lines: its first lines, then a line with the counts and
/// the file that holds all of it (masked, as shown; 0600, beside the journal).
fn summarise_diff(
    lines: Vec<DiffLine>,
    settings: &Settings,
    ns: &str,
    name: &str,
) -> Vec<DiffLine> {
    if lines.len() <= DIFF_SHOWN {
        return lines;
    }
    let added = lines.iter().filter(|l| l.kind == LineKind::Added).count();
    let removed = lines.iter().filter(|l| l.kind == LineKind::Removed).count();
    let dir = settings
        .journal_dir
        .parent()
        .map(|d| d.join("diffs"))
        .unwrap_or_else(|| settings.journal_dir.join("diffs"));
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S");
    let path = dir.join(format!("{ns}.{name}.{stamp}.diff"));
    let text: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    let where_ = match crate::core::private_files::create_dir(&dir)
        .and_then(|()| write_private(&path, text.as_bytes()))
    {
        Ok(()) => format!("the whole diff is in {}", path.display()),
        Err(e) => format!(
            "the whole diff could not be written to {}: {e}",
            path.display()
        ),
    };
    let more = lines.len() - DIFF_SHOWN;
    let mut shown: Vec<DiffLine> = lines.into_iter().take(DIFF_SHOWN).collect();
    shown.push(DiffLine {
        kind: LineKind::Header,
        text: format!("… {more} more lines ({added} added, {removed} removed in all); {where_}"),
    });
    shown
}

async fn workload_ready(
    client: &kube::Client,
    ns: &str,
    w: &ManifestWorkload,
) -> Result<(i32, i32)> {
    let obj = super::simulated::workload_api(client, ns, w.kind)
        .get(&w.name)
        .await?;
    let n = |v: &Value| v.as_i64().map(|n| n as i32);
    let (status, spec) = (&obj.data["status"], &obj.data["spec"]);
    Ok(match w.kind {
        WorkloadKind::DaemonSet => (
            n(&status["numberReady"]).unwrap_or(0),
            n(&status["desiredNumberScheduled"]).unwrap_or(0),
        ),
        _ => (
            n(&status["readyReplicas"]).unwrap_or(0),
            n(&spec["replicas"]).unwrap_or(1),
        ),
    })
}

async fn nodes_check(client: &kube::Client) -> Check {
    use k8s_openapi::api::core::v1::Node;
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    match api.list(&Default::default()).await {
        Ok(list) => {
            let not_ready: Vec<String> = list
                .items
                .iter()
                .filter(|n| {
                    !n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        })
                })
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            if not_ready.is_empty() {
                check(
                    "nodes",
                    CheckLevel::Pass,
                    format!("{} node(s) ready", list.items.len()),
                )
            } else {
                check(
                    "nodes",
                    CheckLevel::Warn,
                    format!("not ready: {}", not_ready.join(", ")),
                )
            }
        }
        Err(e) => check("nodes", CheckLevel::Warn, format!("cannot list nodes: {e}")),
    }
}

// ---------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------

/// The steps of [`execute`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Lock,
    Backup,
    Commit,
    Apply,
    Verify,
    Rollback,
    Record,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Lock,
        Step::Backup,
        Step::Commit,
        Step::Apply,
        Step::Verify,
        Step::Rollback,
        Step::Record,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Lock => "lock",
            Step::Backup => "backup",
            Step::Commit => "commit",
            Step::Apply => "apply",
            Step::Verify => "verify",
            Step::Rollback => "rollback",
            Step::Record => "record",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Running(String),
    Done(String),
    Failed(String),
    Skipped(String),
}

/// A workload's rollout during apply and verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadProgress {
    pub kind: WorkloadKind,
    pub name: String,
    pub ready: i32,
    pub desired: i32,
    pub message: String,
    pub converged: bool,
}

/// What [`execute`] reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Step(Step, StepState),
    /// A line of the driver's output.
    Output(String),
    /// The workloads' rollout, whenever one changes.
    Progress(Vec<WorkloadProgress>),
    Finished(Report),
}

/// How a change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    /// Applied but failed (or timed out), and not rolled back.
    Failed(String),
    /// Failed, then rolled back to the starting revision.
    RolledBack(String),
    /// Failed, and the rollback failed too; `left` says where the release was left.
    RollbackFailed {
        failure: String,
        rollback: String,
        left: String,
    },
    /// Stopped before anything was applied.
    Aborted {
        step: Step,
        why: String,
    },
}

impl Ending {
    pub fn succeeded(&self) -> bool {
        *self == Ending::Succeeded
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Succeeded => write!(f, "succeeded"),
            Ending::Failed(w) => write!(f, "failed: {w}"),
            Ending::RolledBack(w) => write!(f, "failed and was rolled back: {w}"),
            Ending::RollbackFailed {
                failure,
                rollback,
                left,
            } => {
                write!(
                    f,
                    "failed: {failure}; the rollback failed too: {rollback}; the release is left at {left}"
                )
            }
            Ending::Aborted { step, why } => {
                write!(
                    f,
                    "stopped at {} before applying anything: {why}",
                    step.as_str()
                )
            }
        }
    }
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ending: Ending,
    pub backup: Option<PathBuf>,
    /// The values-repo commit of the change (and of the automatic rollback).
    pub commit: Option<String>,
    pub rollback_commit: Option<String>,
    /// Offered when a change failed and was not rolled back: the revision to go back to.
    pub offer_rollback_to: Option<i64>,
    /// Things worth knowing that did not stop the change (a push that failed…).
    pub warnings: Vec<String>,
}

struct Run<'a> {
    client: &'a kube::Client,
    plan: &'a Plan,
    driver: &'a dyn ReleaseDriver,
    events: UnboundedSender<Event>,
    report: Report,
}

impl Run<'_> {
    fn step(&self, step: Step, state: StepState) {
        let _ = self.events.send(Event::Step(step, state));
    }

    fn abort(&mut self, step: Step, why: String) {
        self.step(step, StepState::Failed(why.clone()));
        self.report.ending = Ending::Aborted { step, why };
    }
}

/// Runs a prepared change. Never panics on a fault; every ending is in the [`Report`]
/// (also sent as [`Event::Finished`]).
pub async fn execute(
    client: &kube::Client,
    plan: &Plan,
    driver: &dyn ReleaseDriver,
    events: UnboundedSender<Event>,
) -> Report {
    let mut run = Run {
        client,
        plan,
        driver,
        events: events.clone(),
        report: Report {
            ending: Ending::Succeeded,
            backup: None,
            commit: None,
            rollback_commit: None,
            offer_rollback_to: None,
            warnings: Vec::new(),
        },
    };
    run_steps(&mut run).await;
    let report = run.report;
    let _ = events.send(Event::Finished(report.clone()));
    report
}

async fn run_steps(run: &mut Run<'_>) {
    let plan = run.plan;
    let req = &plan.request;
    let (ns, name) = (req.namespace.as_str(), req.release.as_str());
    let blockers = plan.blockers();
    if !blockers.is_empty() {
        let why = blockers
            .iter()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ");
        run.abort(Step::Lock, format!("preflight failed: {why}"));
        return;
    }

    // Journal, then lock.
    let mut journal = match JournalFile::start(
        &req.settings.journal_dir,
        Journal {
            release: name.into(),
            namespace: ns.into(),
            operation: plan.operation(),
            from_revision: plan.current.version,
            from_version: plan.current.chart.metadata.version.clone(),
            started: jiff::Timestamp::now(),
            updated: jiff::Timestamp::now(),
            step: "lock".into(),
            backup: None,
            commit: None,
            holder: lock::holder_identity(),
        },
    ) {
        Ok(j) => j,
        Err(e) => return run.abort(Step::Lock, format!("{e:#}")),
    };
    run.step(
        Step::Lock,
        StepState::Running(format!("taking the Lease {}", lock::lease_name(name))),
    );
    let lock = match ReleaseLock::acquire(
        run.client,
        ns,
        name,
        &plan.headline(),
        Duration::from_secs(60),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            run.abort(Step::Lock, e.to_string());
            finish_journal(run, journal);
            return;
        }
    };
    run.step(
        Step::Lock,
        StepState::Done(format!("held as {}", lock::holder_identity())),
    );

    steps_under_lock(run, &mut journal, &lock).await;
    lock.release().await;
    // The ending is recorded (or nothing was applied): the journal goes. It stays only when
    // the process dies on the way.
    finish_journal(run, journal);
}

fn finish_journal(run: &mut Run<'_>, journal: JournalFile) {
    if let Err(e) = journal.finish() {
        run.report.warnings.push(format!("{e:#}"));
    }
}

/// The change once the release's lock is held: backup, commit, apply and verify, roll back
/// on failure, record the outcome. Each step ends the change when it cannot be done safely,
/// with the reason in the report.
async fn steps_under_lock(run: &mut Run<'_>, journal: &mut JournalFile, lock: &ReleaseLock) {
    if !back_up(run, journal).await {
        return;
    }
    let Some(sha) = commit_values(run, journal).await else {
        return;
    };
    if let Some(why) = lock.lost() {
        return run.abort(
            Step::Apply,
            format!("the lock was lost before applying: {why}"),
        );
    }
    let failure = match apply_and_verify(run, journal).await {
        Applied::Aborted => return,
        Applied::NotRun(why) => return not_applied(run, &sha, why).await,
        Applied::Verified => None,
        Applied::Failed(why) => Some(why),
    };
    if let Some(why) = lock.lost() {
        // Too late to stop: the driver has applied. Say so where the outcome is read.
        run.report.warnings.push(format!(
            "the lock was lost while applying ({why}): another change of this release may have started; check its history"
        ));
    }
    handle_failure(run, journal, failure).await;
    record_outcome(run, journal, &sha).await;
}

/// Backup: nothing is applied without one. False when the change stops here.
async fn back_up(run: &mut Run<'_>, journal: &mut JournalFile) -> bool {
    let req = &run.plan.request;
    let (ns, name) = (req.namespace.as_str(), req.release.as_str());
    if let Err(e) = journal.step("backup", |_| {}) {
        run.abort(Step::Backup, format!("{e:#}"));
        return false;
    }
    run.step(
        Step::Backup,
        StepState::Running(format!("backing up {ns}/{name}")),
    );
    let extras = match req.topics.as_ref().and_then(|t| t.plan.as_ref()) {
        Some(plan) => vec![(
            "topic-plan.json".to_string(),
            serde_json::to_vec_pretty(plan).unwrap_or_default(),
        )],
        None => Vec::new(),
    };
    // `backup_dir` may be a directory or an object-storage URL.
    let store = crate::core::releases::backup_store::BackupStore::parse(
        &req.settings.backup_dir.to_string_lossy(),
    );
    let made = match store {
        Ok(store) => store.create(run.client, ns, name, extras).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(info) => {
            run.step(
                Step::Backup,
                StepState::Done(format!(
                    "revision {} ({} files) → {}",
                    info.manifest.revision,
                    info.manifest.files.len(),
                    info.path.display()
                )),
            );
            run.report.backup = Some(info.path.clone());
            let _ = journal.step("backup", |j| j.backup = Some(info.path));
            true
        }
        Err(e) => {
            run.abort(
                Step::Backup,
                format!("no backup, so nothing is applied: {e:#}"),
            );
            false
        }
    }
}

/// The reason a change's commit gives: the user's, else what the change is.
fn change_reason(plan: &Plan) -> String {
    let req = &plan.request;
    if !req.reason.is_empty() {
        return req.reason.clone();
    }
    match plan.kind {
        Kind::Upgrade => match &req.target {
            Target::Commit(sha) => format!("apply values of commit {sha}"),
            _ => "upgrade".to_string(),
        },
        Kind::Rollback { to_revision } => format!("rollback to revision {to_revision}"),
    }
}

/// Commits the values revision before applying. Its commit, or None when the change stops
/// here.
async fn commit_values(run: &mut Run<'_>, journal: &mut JournalFile) -> Option<String> {
    let plan = run.plan;
    if let Err(e) = journal.step("commit", |_| {}) {
        run.abort(Step::Commit, format!("{e:#}"));
        return None;
    }
    run.step(
        Step::Commit,
        StepState::Running("committing the values revision".into()),
    );
    let rollback_to = match plan.kind {
        Kind::Rollback { to_revision } => Some(to_revision),
        Kind::Upgrade => None,
    };
    let committed = commit(
        plan,
        CommitOf {
            revision: plan.latest_revision + 1,
            from: match plan.kind {
                Kind::Rollback { .. } => &plan.latest_version,
                Kind::Upgrade => &plan.current.chart.metadata.version,
            },
            version: &plan.to_version,
            values: &plan.values,
            values_yaml: &plan.values_yaml,
            reason: &change_reason(plan),
            rollback_to,
        },
    )
    .await;
    match committed {
        Ok(sha) => {
            run.step(
                Step::Commit,
                StepState::Done(format!(
                    "{} in {}",
                    &sha[..12.min(sha.len())],
                    plan.request.settings.values_repo.display()
                )),
            );
            let _ = journal.step("commit", |j| j.commit = Some(sha.clone()));
            run.report.commit = Some(sha.clone());
            Some(sha)
        }
        Err(e) => {
            run.abort(Step::Commit, format!("{e:#}"));
            None
        }
    }
}

/// What became of the apply.
enum Applied {
    /// Applied and verified.
    Verified,
    /// Applied (or partly), then it failed or was not verified: why.
    Failed(String),
    /// The driver never ran: nothing was applied.
    NotRun(String),
    /// The change stopped before the apply (its reason is in the report).
    Aborted,
}

/// Applies the change, following the workloads, then verifies it. A watchdog stops an
/// upgrade whose new pods are clearly broken, without waiting out the timeout.
async fn apply_and_verify(run: &mut Run<'_>, journal: &mut JournalFile) -> Applied {
    let plan = run.plan;
    let req = &plan.request;
    if let Err(e) = journal.step("apply", |_| {}) {
        run.abort(Step::Apply, format!("{e:#}"));
        return Applied::Aborted;
    }
    let started = jiff::Timestamp::now();
    // Pods carry whole seconds: those made in the second the change started count as new.
    let since = jiff::Timestamp::from_second(started.as_second()).unwrap_or(started);
    let follower = follow_workloads(
        run.client,
        &req.namespace,
        &plan.workloads,
        req.timeout,
        run.events.clone(),
    );
    let (stop_tx, stop) = Stop::channel();
    let watchdog = matches!(plan.kind, Kind::Upgrade).then(|| {
        watch_for_breakage(
            run.client,
            &req.namespace,
            &plan.workloads,
            since,
            req.timeout,
            stop_tx,
        )
    });
    run.step(
        Step::Apply,
        StepState::Running(format!("{} via {}", plan.headline(), run.driver.name())),
    );
    let applied = match apply(run, &plan.kind, stop.clone()).await {
        Ok(()) => {
            run.step(
                Step::Apply,
                StepState::Done(format!("{} reported success", run.driver.name())),
            );
            let _ = journal.step("verify", |_| {});
            match verify_with_analysis(run, &stop, started, since).await {
                None => Applied::Verified,
                Some(why) => Applied::Failed(why),
            }
        }
        Err(DriverError::Unavailable(why)) => Applied::NotRun(why),
        Err(e) => {
            let why = match e {
                DriverError::Stopped(why) => why,
                e => with_diagnosis(run.client, plan, since, e.to_string()).await,
            };
            run.step(Step::Apply, StepState::Failed(why.clone()));
            run.step(
                Step::Verify,
                StepState::Skipped("the apply failed: nothing to verify".into()),
            );
            Applied::Failed(why)
        }
    };
    follower.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    applied
}

/// Verifies an applied change: the release's status, the rollout and Warning events, then
/// the platform's metrics when it names an analysis. Why it failed, or None.
async fn verify_with_analysis(
    run: &mut Run<'_>,
    stop: &Stop,
    started: jiff::Timestamp,
    since: jiff::Timestamp,
) -> Option<String> {
    let plan = run.plan;
    let req = &plan.request;
    run.step(
        Step::Verify,
        StepState::Running("release status, rollout, Warning events".into()),
    );
    let verified = tokio::select! {
        v = verify(run.client, plan, started, req.timeout) => v,
        why = stop.requested() => Err(why),
    };
    let analysis = req
        .settings
        .analyses
        .for_release(&req.namespace, &req.release);
    let verified = match (verified, analysis) {
        (Ok(summary), Some(analysis)) => {
            run.step(
                Step::Verify,
                StepState::Running(format!("{summary}; analysis: first measurement")),
            );
            let mut progress = |line: String| run.step(Step::Verify, StepState::Running(line));
            let analysed = tokio::select! {
                a = super::analysis::run(analysis, &mut progress) => a,
                why = stop.requested() => Err(why),
            };
            analysed.map(|a| format!("{summary}; {a}"))
        }
        (v, _) => v,
    };
    match verified {
        Ok(summary) => {
            run.step(Step::Verify, StepState::Done(summary));
            None
        }
        Err(why) => {
            let why = with_diagnosis(run.client, plan, since, why).await;
            run.step(Step::Verify, StepState::Failed(why.clone()));
            Some(why)
        }
    }
}

/// The driver never ran: nothing was applied, so there is nothing to roll back; the
/// commit's note says so.
async fn not_applied(run: &mut Run<'_>, sha: &str, why: String) {
    run.step(Step::Apply, StepState::Failed(why.clone()));
    run.step(
        Step::Verify,
        StepState::Skipped("nothing was applied".into()),
    );
    run.step(
        Step::Rollback,
        StepState::Skipped("nothing was applied".into()),
    );
    run.report.ending = Ending::Aborted {
        step: Step::Apply,
        why: why.clone(),
    };
    let outcome = Outcome::Failed(format!("not applied: {why}"));
    match record(&run.plan.request, sha, outcome).await {
        Ok(_) => run.step(
            Step::Record,
            StepState::Done("git note: not applied".into()),
        ),
        Err(e) => run.step(Step::Record, StepState::Failed(format!("{e:#}"))),
    }
}

/// Sets the ending: a success, or on failure a rollback at once, or one offered.
async fn handle_failure(run: &mut Run<'_>, journal: &mut JournalFile, failure: Option<String>) {
    let plan = run.plan;
    let rollback_target = plan.current.version;
    match failure {
        None => {
            run.step(Step::Rollback, StepState::Skipped("not needed".into()));
            run.report.ending = Ending::Succeeded;
        }
        Some(why) if matches!(plan.kind, Kind::Rollback { .. }) => {
            run.step(
                Step::Rollback,
                StepState::Skipped("this was the rollback".into()),
            );
            run.report.ending = Ending::Failed(why);
        }
        Some(why) if !plan.request.auto_rollback => {
            run.step(
                Step::Rollback,
                StepState::Skipped(format!("offered: roll back to revision {rollback_target}")),
            );
            run.report.offer_rollback_to = Some(rollback_target);
            run.report.ending = Ending::Failed(why);
        }
        Some(why) => roll_back(run, journal, why).await,
    }
}

/// The automatic rollback to the revision the change started from: its values are
/// committed first (a rollback is a revision too), then it is applied and its commit's
/// note records how it went.
async fn roll_back(run: &mut Run<'_>, journal: &mut JournalFile, why: String) {
    let plan = run.plan;
    let req = &plan.request;
    let (ns, name) = (req.namespace.as_str(), req.release.as_str());
    let rollback_target = plan.current.version;
    let _ = journal.step("rollback", |_| {});
    run.step(
        Step::Rollback,
        StepState::Running(format!("rolling back to revision {rollback_target}")),
    );
    let from_values = history::values_yaml(&plan.current.config, true);
    let rb_commit = commit(
        plan,
        CommitOf {
            revision: plan.latest_revision + 2,
            from: &plan.to_version,
            version: &plan.current.chart.metadata.version,
            values: &plan.current.config,
            values_yaml: &from_values,
            reason: &format!("automatic rollback to revision {rollback_target}: {why}"),
            rollback_to: Some(rollback_target),
        },
    )
    .await;
    match &rb_commit {
        Ok(sha) => run.report.rollback_commit = Some(sha.clone()),
        Err(e) => run
            .report
            .warnings
            .push(format!("the rollback's values were not committed: {e:#}")),
    }
    let follower = follow_workloads(
        run.client,
        ns,
        &plan.workloads,
        req.timeout,
        run.events.clone(),
    );
    let rb = apply(
        run,
        &Kind::Rollback {
            to_revision: rollback_target,
        },
        Stop::never(),
    )
    .await;
    follower.abort();
    match rb {
        Ok(()) => {
            run.step(
                Step::Rollback,
                StepState::Done(format!(
                    "back on the chart of revision {rollback_target} ({})",
                    plan.current.chart.metadata.version
                )),
            );
            run.report.ending = Ending::RolledBack(why);
        }
        Err(e) => {
            run.step(Step::Rollback, StepState::Failed(e.to_string()));
            let left = release_state(run.client, ns, name).await;
            run.report.ending = Ending::RollbackFailed {
                failure: why,
                rollback: e.to_string(),
                left: format!(
                    "{left}; next: `helmdeck rollback {name} -n {ns} --to {rollback_target}` once the cause is fixed"
                ),
            };
        }
    }
    if let Some(rb_sha) = &run.report.rollback_commit {
        let outcome = match &run.report.ending {
            Ending::RollbackFailed { rollback, left, .. } => {
                Outcome::Failed(format!("{rollback}\nrelease left at {left}"))
            }
            _ => Outcome::Succeeded,
        };
        if let Err(e) = record(req, rb_sha, outcome).await {
            run.report.warnings.push(format!("{e:#}"));
        }
    }
}

/// The git note an ending gives the change's commit.
fn outcome_of(ending: &Ending) -> Outcome {
    match ending {
        Ending::Succeeded => Outcome::Succeeded,
        Ending::Failed(w) => Outcome::Failed(w.clone()),
        Ending::RolledBack(w) => Outcome::RolledBack(w.clone()),
        Ending::RollbackFailed {
            failure,
            rollback,
            left,
        } => Outcome::RollbackFailed {
            failure: failure.clone(),
            rollback: rollback.clone(),
            left: left.clone(),
        },
        Ending::Aborted { why, .. } => Outcome::Failed(why.clone()),
    }
}

/// Records the outcome in git as a note on the change's commit, then pushes.
async fn record_outcome(run: &mut Run<'_>, journal: &mut JournalFile, sha: &str) {
    let _ = journal.step("record", |_| {});
    let outcome = outcome_of(&run.report.ending);
    run.step(
        Step::Record,
        StepState::Running("recording the outcome".into()),
    );
    match record(&run.plan.request, sha, outcome.clone()).await {
        Ok(pushed) => {
            // The outcome's first line; its details were shown with the step that failed.
            let mut msg = format!(
                "git note on {}: {}",
                &sha[..12.min(sha.len())],
                outcome.note().lines().next().unwrap_or_default()
            );
            match pushed {
                Ok(Some(remote)) => msg.push_str(&format!("; pushed to {remote}")),
                Ok(None) => {}
                Err(e) => run
                    .report
                    .warnings
                    .push(format!("the values repo was not pushed: {e:#}")),
            }
            run.step(Step::Record, StepState::Done(msg));
        }
        Err(e) => {
            run.step(Step::Record, StepState::Failed(format!("{e:#}")));
            run.report
                .warnings
                .push(format!("the outcome was not recorded in git: {e:#}"));
        }
    }
}

/// Where a release stands now: `revision 7 pending-rollback (ee 1.5.1)`, or why that is not
/// known.
async fn release_state(client: &kube::Client, ns: &str, name: &str) -> String {
    match fetch::release_history(client, ns, name).await {
        Ok(h) => match h.latest() {
            Some(r) => format!(
                "revision {} {} ({} {})",
                r.version, r.info.status, r.chart.metadata.name, r.chart.metadata.version
            ),
            None => "no revision".into(),
        },
        Err(e) => format!("an unknown state (its history could not be read: {e:#})"),
    }
}

/// How often the new pods are judged while a change applies and verifies.
const BREAKAGE_POLL: Duration = Duration::from_secs(3);

/// Judges the change's new pods every [`BREAKAGE_POLL`] while it applies and verifies;
/// when one stays broken on two judgements in a row (or a Deployment is past its progress
/// deadline), asks the driver to stop, with the diagnosis as the reason.
fn watch_for_breakage(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    since: jiff::Timestamp,
    timeout: Duration,
    stop: StopSender,
) -> tokio::task::JoinHandle<()> {
    let (client, ns, workloads) = (client.clone(), ns.to_string(), workloads.to_vec());
    tokio::spawn(async move {
        let mut before: BTreeSet<String> = BTreeSet::new();
        loop {
            tokio::time::sleep(BREAKAGE_POLL).await;
            let d = diagnose::diagnose(&client, &ns, &workloads, since).await;
            let now: BTreeSet<String> = d.broken.iter().map(|b| b.pod.clone()).collect();
            if !d.stalled.is_empty() || now.intersection(&before).next().is_some() {
                stop.stop(format!(
                    "judged failed without waiting out the {} s timeout: {}",
                    timeout.as_secs(),
                    d.details()
                ));
                return;
            }
            before = now;
        }
    })
}

/// A failure, with what is wrong with the new pods when something is.
async fn with_diagnosis(
    client: &kube::Client,
    plan: &Plan,
    since: jiff::Timestamp,
    why: String,
) -> String {
    let d = diagnose::diagnose(client, &plan.request.namespace, &plan.workloads, since).await;
    if d.is_broken() {
        format!("{why}\n{}", d.details())
    } else {
        why
    }
}

async fn apply(run: &Run<'_>, kind: &Kind, stop: Stop) -> Result<(), DriverError> {
    let plan = run.plan;
    let req = &plan.request;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let events = run.events.clone();
    let forward = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            let _ = events.send(Event::Output(line));
        }
    });
    let result = match kind {
        Kind::Upgrade => {
            // The values file given to the driver: private, removed afterwards.
            let dir = match tempfile::Builder::new()
                .prefix("helmdeck-values-")
                .tempdir()
            {
                Ok(d) => d,
                Err(e) => {
                    return Err(DriverError::Other(format!(
                        "cannot write the values file: {e}"
                    )));
                }
            };
            let file = dir.path().join("values.yaml");
            if let Err(e) = write_private(&file, plan.values_yaml.as_bytes()) {
                return Err(DriverError::Other(format!(
                    "cannot write {}: {e}",
                    file.display()
                )));
            }
            let ureq = UpgradeRequest {
                release: req.release.clone(),
                namespace: req.namespace.clone(),
                chart: plan.chart.clone(),
                version: plan.to_version.clone(),
                values_file: file,
                values: plan.values.clone(),
                timeout: req.timeout,
                images: plan.images.clone(),
                app_version: plan.to_app_version.clone(),
                stop,
            };
            run.driver.upgrade(&ureq, tx).await
        }
        Kind::Rollback { to_revision } => {
            let rreq = RollbackRequest {
                release: req.release.clone(),
                namespace: req.namespace.clone(),
                revision: *to_revision,
                timeout: req.timeout,
            };
            run.driver.rollback(&rreq, tx).await
        }
    };
    let _ = forward.await;
    result
}

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

/// What a values commit records.
struct CommitOf<'a> {
    revision: i64,
    from: &'a str,
    version: &'a str,
    /// The values, parsed: their secret-looking ones are encrypted (or refused).
    values: &'a Value,
    values_yaml: &'a str,
    reason: &'a str,
    rollback_to: Option<i64>,
}

/// The values text to commit and what became of its secrets, as the settings say: encrypted
/// with age (the text is then the values as YAML with each secret sealed), committed as
/// they are, or refused — so no path of the workflow commits a plain-text secret unasked.
fn values_to_commit(
    secrets: &ValuesSecrets,
    values: &Value,
    values_yaml: &str,
) -> Result<(String, CommitSecrets)> {
    let paths = history::secret_paths(values);
    match secrets.disposition(&paths) {
        Disposition::Nothing => Ok((values_yaml.to_string(), CommitSecrets::None)),
        Disposition::Plaintext => Ok((values_yaml.to_string(), CommitSecrets::Plaintext(paths))),
        Disposition::Encrypt => {
            let recipients = values_secrets::parse_recipients(&secrets.recipients)?;
            let sealed = values_secrets::seal(values, &recipients)?;
            let text = serde_yaml::to_string(&sealed)
                .map_err(|e| anyhow!("cannot write the encrypted values: {e}"))?;
            Ok((text, CommitSecrets::Encrypted(paths)))
        }
        Disposition::Refuse => bail!(
            "plain-text secrets in the values ({}) and no age recipients to encrypt them to: not committed (set values_secrets.recipients in the config, or pass --allow-plaintext-secrets)",
            paths.join(", ")
        ),
    }
}

async fn commit(plan: &Plan, c: CommitOf<'_>) -> Result<String> {
    let CommitOf {
        revision,
        from,
        version,
        values,
        values_yaml,
        reason,
        rollback_to,
    } = c;
    let req = &plan.request;
    let (values_yaml, secrets) = values_to_commit(&req.settings.secrets, values, values_yaml)?;
    let rev = ValuesRevision {
        record: ReleaseRecord {
            release: req.release.clone(),
            namespace: req.namespace.clone(),
            environment: req.settings.environment.clone(),
            chart: plan.chart.name.clone(),
            repository: if plan.chart.repository.is_empty() {
                req.repository
                    .as_ref()
                    .map(|r| r.url.clone())
                    .unwrap_or_default()
            } else {
                plan.chart.repository.clone()
            },
            version: version.to_string(),
            app_version: String::new(),
            revision: Some(revision),
        },
        values_yaml,
        from_version: Some(from.to_string()),
        rollback_to,
        secrets,
        jump: match (repo::parse_version(from), repo::parse_version(version)) {
            (Ok(f), Ok(t)) if t > f => Some(Jump::classify(&f, &t)),
            _ => None,
        },
        reason: format!("{reason}\nAuthor: {}", lock::holder_identity()),
    };
    let path = req.settings.values_repo.clone();
    let recorded = plan.chart.repository.clone();
    blocking(move || {
        let repo = ValuesRepo::open_or_init(&path)?;
        let mut rev = rev;
        if rev.record.repository.is_empty() {
            rev.record.repository = recorded;
        }
        Ok(repo.commit_revision(&rev)?.to_string())
    })
    .await
}

/// Notes the outcome on `sha` (and, for a promotion, where it came from) and pushes when
/// the repo has a remote: `Ok(Ok(Some(remote)))` when pushed, `Ok(Err(_))` when the push
/// failed (the note is kept locally).
async fn record(req: &Request, sha: &str, outcome: Outcome) -> Result<Result<Option<String>>> {
    let path = req.settings.values_repo.clone();
    let sha = sha.to_string();
    let source = super::promote::source_of(&req.reason).map(str::to_string);
    blocking(move || {
        let repo = ValuesRepo::open_or_init(&path)?;
        repo.record_outcome_from(&sha, &outcome, source.as_deref())?;
        Ok(repo.push())
    })
    .await
}

/// Follows the workloads' rollouts and reports them as [`Event::Progress`] until aborted.
fn follow_workloads(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    timeout: Duration,
    events: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    let ns = ns.to_string();
    let workloads = workloads.to_vec();
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, actions::Progress)>(64);
        let mut state: Vec<WorkloadProgress> = workloads
            .iter()
            .map(|w| WorkloadProgress {
                kind: w.kind,
                name: w.name.clone(),
                ready: 0,
                desired: 0,
                message: "waiting".into(),
                converged: false,
            })
            .collect();
        let mut tasks = Vec::new();
        for (i, w) in workloads.into_iter().enumerate() {
            let (client, ns, tx) = (client.clone(), ns.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let (ptx, mut prx) = tokio::sync::mpsc::channel(16);
                let fwd = tokio::spawn(async move {
                    while let Some(p) = prx.recv().await {
                        if tx.send((i, p)).await.is_err() {
                            break;
                        }
                    }
                });
                // One watch, followed past convergence: a rollout that later degrades
                // (a crash loop) shows.
                let _ = actions::watch_progress(
                    &client,
                    w.kind,
                    &ns,
                    &w.name,
                    ptx,
                    timeout * 3 + Duration::from_secs(60),
                )
                .await;
                fwd.abort();
            }));
        }
        drop(tx);
        struct AbortAll(Vec<tokio::task::JoinHandle<()>>);
        impl Drop for AbortAll {
            fn drop(&mut self) {
                for t in &self.0 {
                    t.abort();
                }
            }
        }
        let _guard = AbortAll(tasks);
        while let Some((i, p)) = rx.recv().await {
            if let Some(s) = state.get_mut(i) {
                s.ready = p.ready;
                s.desired = p.desired;
                s.message = p.message;
                s.converged = p.converged;
            }
            if events.send(Event::Progress(state.clone())).is_err() {
                break;
            }
        }
    })
}

/// After the driver reported success: the release's latest revision is deployed at the
/// target, its workloads are rolled out, and new Warning events are counted.
async fn verify(
    client: &kube::Client,
    plan: &Plan,
    started: jiff::Timestamp,
    timeout: Duration,
) -> std::result::Result<String, String> {
    let req = &plan.request;
    let (ns, name) = (&req.namespace, &req.release);
    let h = fetch::release_history(client, ns, name)
        .await
        .map_err(|e| format!("cannot read the release back: {e:#}"))?;
    let latest = h.latest().ok_or("the release has no revision")?;
    if latest.info.status != ReleaseStatus::Deployed {
        return Err(format!(
            "revision {} is {}: {}",
            latest.version, latest.info.status, latest.info.description
        ));
    }
    if latest.chart.metadata.version != plan.to_version {
        return Err(format!(
            "revision {} runs {}, not {}",
            latest.version, latest.chart.metadata.version, plan.to_version
        ));
    }
    let budget = timeout.min(Duration::from_secs(120));
    let waits = plan.workloads.iter().map(|w| {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        async move {
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let r = actions::watch_rollout(client, w.kind, ns, &w.name, tx, budget).await;
            drain.abort();
            r.map_err(|e| format!("{} {}: {e}", w.kind.short(), w.name))
        }
    });
    let failed: Vec<String> = futures::future::join_all(waits)
        .await
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
    if !failed.is_empty() {
        return Err(failed.join("; "));
    }
    let warnings = new_warnings(client, ns, &plan.workloads, started).await;
    let mut summary = format!(
        "revision {} deployed, {} workload(s) rolled out",
        latest.version,
        plan.workloads.len()
    );
    if !warnings.is_empty() {
        summary.push_str(&format!("; new Warning events: {}", warnings.join(", ")));
    }
    Ok(summary)
}

/// `reason ×count` of Warning events about the release's workloads (and their pods) since
/// `since`.
async fn new_warnings(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    since: jiff::Timestamp,
) -> Vec<String> {
    use k8s_openapi::api::core::v1::Event as K8sEvent;
    let api: kube::Api<K8sEvent> = kube::Api::namespaced(client.clone(), ns);
    let Ok(list) = api.list(&Default::default()).await else {
        return Vec::new();
    };
    let mut counts: BTreeMap<String, i32> = BTreeMap::new();
    for e in list.items {
        if e.type_.as_deref() != Some("Warning") {
            continue;
        }
        let at = e
            .last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0));
        if at.is_none_or(|t| t < since) {
            continue;
        }
        let obj = e.involved_object.name.as_deref().unwrap_or("");
        if !workloads.iter().any(|w| obj.starts_with(&w.name)) {
            continue;
        }
        *counts.entry(e.reason.unwrap_or_default()).or_default() += e.count.unwrap_or(1);
    }
    counts
        .into_iter()
        .map(|(r, c)| format!("{r} ×{c}"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Recovering an interrupted change
// ---------------------------------------------------------------------------------------

/// What verifying an interrupted change found.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    pub journal: Journal,
    /// `revision N status (chart version)` of the release now.
    pub now: String,
    /// The change reached its target: the journal is closed and git says it succeeded.
    pub verified: bool,
    /// The change was interrupted before anything was applied: the journal is closed, the
    /// lock freed and git says nothing changed.
    pub nothing_applied: bool,
    /// What it was checked against.
    pub target: String,
}

/// Verifies the interrupted change of `namespace/release`: when the release's latest revision
/// is deployed at the change's target, the outcome is recorded (succeeded) and the journal
/// closed. `None` when there is no unfinished change.
pub async fn verify_interrupted(
    client: &kube::Client,
    settings: &Settings,
    namespace: &str,
    release: &str,
) -> Result<Option<Recovery>> {
    let Some(file) = JournalFile::resume(&settings.journal_dir, namespace, release)? else {
        return Ok(None);
    };
    let j = file.journal.clone();
    if !reached_apply(&j) {
        let now = close_before_apply(client, settings, file).await?;
        return Ok(Some(Recovery {
            target: j.operation.to_string(),
            journal: j,
            now,
            verified: false,
            nothing_applied: true,
        }));
    }
    let h = fetch::release_history(client, namespace, release).await?;
    let latest = h
        .latest()
        .ok_or_else(|| anyhow!("{namespace}/{release} has no revision"))?;
    let target = match &j.operation {
        Operation::Upgrade { to_version } => to_version.clone(),
        Operation::Rollback { to_revision } => h
            .revision(*to_revision)
            .map(|r| r.chart.metadata.version.clone())
            .unwrap_or_default(),
    };
    let verified = latest.info.status == ReleaseStatus::Deployed
        && latest.chart.metadata.version == target
        && latest.version > j.from_revision;
    let now = format!(
        "revision {} {} ({} {})",
        latest.version,
        latest.info.status,
        latest.chart.metadata.name,
        latest.chart.metadata.version
    );
    if verified {
        note_interrupted(settings, &j, Outcome::Succeeded).await?;
        file.finish()?;
    }
    Ok(Some(Recovery {
        journal: j,
        now,
        verified,
        nothing_applied: false,
        target,
    }))
}

/// Whether an interrupted change got as far as applying (the journal is written before
/// each step, so a change that stopped at lock, backup or commit applied nothing).
fn reached_apply(j: &Journal) -> bool {
    !matches!(j.step.as_str(), "lock" | "backup" | "commit")
}

/// Closes a change interrupted before it applied anything: git says so, the lock its dead
/// holder left is freed (a live holder's is left alone, and said), the journal goes.
async fn close_before_apply(
    client: &kube::Client,
    settings: &Settings,
    file: JournalFile,
) -> Result<String> {
    let j = file.journal.clone();
    note_interrupted(
        settings,
        &j,
        Outcome::Failed(format!(
            "interrupted at {} before apply; nothing changed",
            j.step
        )),
    )
    .await?;
    let lock = match ReleaseLock::acquire(
        client,
        &j.namespace,
        &j.release,
        "closing an interrupted change",
        Duration::from_secs(30),
    )
    .await
    {
        Ok(l) => {
            l.release().await;
            "the lock is free".to_string()
        }
        Err(e) => format!("the lock was left as it is: {e}"),
    };
    file.finish()?;
    Ok(format!(
        "interrupted at {} before anything was applied: nothing changed; {lock}",
        j.step
    ))
}

/// What giving up an interrupted change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Abandoned {
    pub journal: Journal,
    /// Nothing had been applied: closed, and there is nothing to roll back.
    pub nothing_applied: Option<String>,
}

/// Gives up the interrupted change of `namespace/release` before rolling it back: its
/// outcome is recorded (failed: interrupted) and the journal closed, so the rollback can
/// start. Returns the journal (its `from_revision` is where to roll back to).
pub async fn abandon_interrupted(
    client: &kube::Client,
    settings: &Settings,
    namespace: &str,
    release: &str,
) -> Result<Abandoned> {
    let file = JournalFile::resume(&settings.journal_dir, namespace, release)?
        .ok_or_else(|| anyhow!("{namespace}/{release} has no unfinished change"))?;
    let j = file.journal.clone();
    if !reached_apply(&j) {
        let why = close_before_apply(client, settings, file).await?;
        return Ok(Abandoned {
            journal: j,
            nothing_applied: Some(why),
        });
    }
    note_interrupted(
        settings,
        &j,
        Outcome::Failed(format!("interrupted at {}; rolled back afterwards", j.step)),
    )
    .await?;
    file.finish()?;
    Ok(Abandoned {
        journal: j,
        nothing_applied: None,
    })
}

async fn note_interrupted(settings: &Settings, j: &Journal, outcome: Outcome) -> Result<()> {
    let Some(commit) = j.commit.clone() else {
        return Ok(());
    };
    let path = settings.values_repo.clone();
    blocking(move || Ok(ValuesRepo::open_or_init(&path)?.record_outcome(&commit, &outcome)?)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pre_release_or_deprecated_target_is_warned_and_a_plain_one_is_not() {
        let entry = |version: &str, deprecated| IndexEntry {
            version: version.into(),
            deprecated,
            ..Default::default()
        };
        let details = |checks: Vec<Check>| {
            checks
                .into_iter()
                .map(|c| {
                    assert_eq!((c.name.as_str(), c.level), ("version", CheckLevel::Warn));
                    c.detail
                })
                .collect::<Vec<_>>()
        };
        assert!(version_checks(&entry("1.5.0", false), "1.5.0").is_empty());
        assert_eq!(
            details(version_checks(&entry("2.0.0-rc.1", false), "2.0.0-rc.1")),
            ["2.0.0-rc.1 is a pre-release"]
        );
        assert_eq!(
            details(version_checks(&entry("1.4.0-beta", true), "1.4.0-beta")),
            [
                "1.4.0-beta is a pre-release",
                "1.4.0-beta is deprecated in the repository"
            ]
        );
    }

    fn values() -> (Value, String) {
        let v = serde_json::json!({"db": {"password": "hunter2"}, "replicas": 2});
        (v, "# ours\ndb:\n  password: hunter2\nreplicas: 2\n".into())
    }

    #[test]
    fn a_commit_encrypts_secrets_refuses_them_or_keeps_them_as_allowed() {
        let (v, yaml) = values();
        let key = age::x25519::Identity::generate();
        let mut secrets = ValuesSecrets {
            recipients: vec![key.to_public().to_string()],
            ..Default::default()
        };
        let (text, what) = values_to_commit(&secrets, &v, &yaml).unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("ENC[age:"),
            "{text}"
        );
        assert!(text.contains("replicas: 2"), "{text}");
        assert_eq!(what, CommitSecrets::Encrypted(vec!["db.password".into()]));

        secrets.recipients.clear();
        let err = values_to_commit(&secrets, &v, &yaml)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("db.password") && !err.contains("hunter2"),
            "{err}"
        );

        secrets.allow_plaintext = true;
        let (text, what) = values_to_commit(&secrets, &v, &yaml).unwrap();
        assert_eq!(text, yaml);
        assert_eq!(what, CommitSecrets::Plaintext(vec!["db.password".into()]));

        // No secrets: the text as it was given, comments and all.
        let plain = serde_json::json!({"replicas": 2});
        let (text, what) =
            values_to_commit(&ValuesSecrets::default(), &plain, "# ours\nreplicas: 2\n").unwrap();
        assert_eq!(
            (text.as_str(), what),
            ("# ours\nreplicas: 2\n", CommitSecrets::None)
        );
    }

    #[test]
    fn the_preflight_check_passes_warns_or_fails_as_the_secrets_will_be_committed() {
        let paths = vec!["db.password".to_string()];
        assert_eq!(secrets_check(&ValuesSecrets::default(), &[]), None);
        let refused = secrets_check(&ValuesSecrets::default(), &paths).unwrap();
        assert_eq!(refused.level, CheckLevel::Fail);
        assert!(!refused.overridable, "--force must not override it");
        assert!(refused.detail.contains("--allow-plaintext-secrets"));
        let allowed = ValuesSecrets {
            allow_plaintext: true,
            ..Default::default()
        };
        assert_eq!(
            secrets_check(&allowed, &paths).unwrap().level,
            CheckLevel::Warn
        );
        let encrypted = ValuesSecrets {
            recipients: vec!["age1…".into()],
            ..Default::default()
        };
        assert_eq!(
            secrets_check(&encrypted, &paths).unwrap().level,
            CheckLevel::Pass
        );
    }
}
