//! The version inventory: for each platform release, which chart version, app version and
//! images run in each environment, with drift marked — an environment behind the one before
//! it, two images of one component in one environment, an image tag that is not the chart's
//! appVersion — and the newest chart version the chart repository offers.
//!
//! [`read`] reads the environments (concurrently, each within a timeout: an unreachable one
//! is shown as such and holds the others back no longer than that); [`assemble`] turns what
//! was read into rows and marks the drift. Nothing here draws.

pub mod read;

use crate::config::{Config, ConfigError};
use crate::core::releases::repo::{cmp_precedence, parse_version};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A platform release to inventory: where it lives unless an environment says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRef {
    pub platform: String,
    pub namespace: String,
    pub release: String,
}

/// The whole inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    pub environments: Vec<EnvStatus>,
    pub releases: Vec<ReleaseRow>,
}

/// Whether an environment could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvStatus {
    pub name: String,
    pub context: String,
    pub protected: bool,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One platform release: its state in each environment, and one row per component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseRow {
    pub platform: String,
    pub release: String,
    pub chart: Option<String>,
    /// The newest (non-pre-release) chart version the repository offers.
    pub newest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_error: Option<String>,
    /// In the order of the environments.
    pub environments: Vec<ReleaseCell>,
    pub components: Vec<ComponentRow>,
}

/// What a release cell or a component cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CellState {
    /// Read: the release is installed here (a component: it runs here).
    Present,
    /// Read: not installed here (a component: not part of the release here).
    Absent,
    /// The environment could not be reached.
    Unreachable,
    /// Reached, but reading it failed (`error` says why).
    Error,
}

/// A release in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseCell {
    pub environment: String,
    pub state: CellState,
    pub namespace: String,
    pub revision: Option<i64>,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    pub status: Option<String>,
    /// When the current revision was deployed (RFC 3339).
    pub deployed_at: Option<String>,
    /// The environment before this one, when this one runs an older chart version.
    pub behind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One component (workload) of a release, across the environments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentRow {
    /// `Deployment`, `StatefulSet`, `DaemonSet`.
    pub kind: String,
    pub name: String,
    pub environments: Vec<ComponentCell>,
}

/// A component in one environment: the images its pod template names, those its pods run,
/// and the drift found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentCell {
    pub environment: String,
    pub state: CellState,
    /// The images of the live workload's pod template.
    pub template: Vec<String>,
    /// The images its pods run (from the pods' status: image and imageID).
    pub running: Vec<RunningImage>,
    pub drift: Vec<Drift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An image some pods of a component run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RunningImage {
    pub container: String,
    pub image: String,
    pub tag: Option<String>,
    /// The digest of the image the runtime pulled (`imageID`), when it reports one.
    pub digest: Option<String>,
    pub pods: usize,
}

/// A difference worth a look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Drift {
    /// Runs an older version than the environment before it does there.
    Behind { environment: String, tag: String },
    /// A container of the component runs more than one image here (a rollout under way
    /// or stuck).
    TwoImages {
        container: String,
        images: Vec<String>,
    },
    /// The main container's tag is not the chart's appVersion.
    TagNotAppVersion { tag: String, app_version: String },
}

impl Drift {
    /// A short mark for a table cell.
    pub fn short(&self) -> String {
        match self {
            Drift::Behind { environment, .. } => format!("behind {environment}"),
            Drift::TwoImages { images, .. } => format!("{} images", images.len()),
            Drift::TagNotAppVersion { app_version, .. } => format!("≠ app {app_version}"),
        }
    }
}

/// What was read of one release in one environment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReleaseRead {
    pub namespace: String,
    pub revision: i64,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    pub status: String,
    pub deployed_at: Option<String>,
    pub workloads: Vec<WorkloadRead>,
}

/// What was read of one workload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadRead {
    pub kind: String,
    pub name: String,
    pub template: Vec<String>,
    pub running: Vec<RunningImage>,
    pub error: Option<String>,
}

/// One environment as read: unreachable (why), or per release: installed, absent
/// (`Ok(None)`), or failed to read (why).
#[derive(Debug, Clone, PartialEq)]
pub enum EnvRead {
    Unreachable(String),
    Read(Vec<Result<Option<ReleaseRead>, String>>),
}

/// An environment, as the inventory names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvName {
    pub name: String,
    pub context: String,
    pub protected: bool,
    pub namespace: Option<String>,
}

/// The environments of `config`, in order, each with a client for its context. The
/// environments must be configured, and each context must be in the kubeconfig: otherwise a
/// [`ConfigError`] naming the config file (the command exits 2 before contacting anything).
/// A client that cannot be built makes its environment unreachable, not an error.
pub async fn targets(
    config: &Config,
    kubeconfig: Option<&Path>,
) -> Result<Vec<read::EnvTarget>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: config
            .source
            .clone()
            .unwrap_or_else(|| PathBuf::from("(no config file)")),
        message,
    };
    if config.environments.is_empty() {
        return Err(invalid(
            "no environments: add `environments: [{name: stage, context: CONTEXT}, …]`".into(),
        ));
    }
    let mut out = Vec::new();
    for e in &config.environments {
        let (kc, _) = crate::core::cluster::watch::config_for(kubeconfig, Some(&e.context))
            .await
            .map_err(|err| invalid(format!("environment `{}`: {err:#}", e.name)))?;
        out.push(read::EnvTarget {
            env: EnvName {
                name: e.name.clone(),
                context: e.context.clone(),
                protected: e.protected,
                namespace: e.namespace.clone(),
            },
            client: kube::Client::try_from(kc).map_err(|err| err.to_string()),
        });
    }
    Ok(out)
}

/// The platform releases of `config` (platforms that name a release), or a [`ConfigError`]
/// when there is none.
pub fn platform_releases(config: &Config) -> Result<Vec<ReleaseRef>, ConfigError> {
    let refs: Vec<ReleaseRef> = config
        .platforms
        .iter()
        .filter_map(|p| {
            Some(ReleaseRef {
                platform: p.name.clone(),
                namespace: p.namespace.clone(),
                release: p.release.clone()?,
            })
        })
        .collect();
    if refs.is_empty() {
        return Err(ConfigError::Invalid {
            path: config
                .source
                .clone()
                .unwrap_or_else(|| PathBuf::from("(no config file)")),
            message: "no platform names a release: add `platforms: [{name, namespace, release}]`"
                .into(),
        });
    }
    Ok(refs)
}

/// The inventory from what was read: `reads[i]` is environment `envs[i]`; `newest[j]` the
/// repository's newest version of release `refs[j]`'s chart, or why it is unknown.
pub fn assemble(
    envs: &[EnvName],
    refs: &[ReleaseRef],
    reads: &[EnvRead],
    newest: &[Result<Option<String>, String>],
) -> Inventory {
    let environments = envs
        .iter()
        .zip(reads)
        .map(|(e, r)| EnvStatus {
            name: e.name.clone(),
            context: e.context.clone(),
            protected: e.protected,
            reachable: !matches!(r, EnvRead::Unreachable(_)),
            error: match r {
                EnvRead::Unreachable(why) => Some(why.clone()),
                EnvRead::Read(_) => None,
            },
        })
        .collect();
    let releases = refs
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let at: Vec<Option<&ReleaseRead>> = reads
                .iter()
                .map(|read| match read {
                    EnvRead::Read(rs) => rs
                        .get(j)
                        .and_then(|x| x.as_ref().ok())
                        .and_then(|x| x.as_ref()),
                    EnvRead::Unreachable(_) => None,
                })
                .collect();
            let (newest, newest_error) = match newest.get(j) {
                Some(Ok(v)) => (v.clone(), None),
                Some(Err(e)) => (None, Some(e.clone())),
                None => (None, None),
            };
            ReleaseRow {
                platform: r.platform.clone(),
                release: r.release.clone(),
                chart: at.iter().flatten().map(|x| x.chart.clone()).next(),
                newest,
                newest_error,
                environments: release_cells(envs, r, reads, j, &at),
                components: component_rows(envs, &at, reads),
            }
        })
        .collect();
    Inventory {
        environments,
        releases,
    }
}

/// The release's cell in each environment, `behind` set where the chart version is older
/// than in the nearest environment before it that has the release.
fn release_cells(
    envs: &[EnvName],
    r: &ReleaseRef,
    reads: &[EnvRead],
    j: usize,
    at: &[Option<&ReleaseRead>],
) -> Vec<ReleaseCell> {
    envs.iter()
        .enumerate()
        .map(|(i, e)| {
            let namespace = e.namespace.clone().unwrap_or_else(|| r.namespace.clone());
            let mut cell = ReleaseCell {
                environment: e.name.clone(),
                state: CellState::Absent,
                namespace,
                revision: None,
                chart_version: None,
                app_version: None,
                status: None,
                deployed_at: None,
                behind: None,
                error: None,
            };
            match (&reads[i], at[i]) {
                (EnvRead::Unreachable(_), _) => cell.state = CellState::Unreachable,
                (EnvRead::Read(rs), None) => {
                    if let Some(Err(e)) = rs.get(j) {
                        cell.state = CellState::Error;
                        cell.error = Some(e.clone());
                    }
                }
                (EnvRead::Read(_), Some(x)) => {
                    cell.state = CellState::Present;
                    cell.namespace = x.namespace.clone();
                    cell.revision = Some(x.revision);
                    cell.chart_version = Some(x.chart_version.clone());
                    cell.app_version = Some(x.app_version.clone());
                    cell.status = Some(x.status.clone());
                    cell.deployed_at = x.deployed_at.clone();
                    cell.behind = previous(at, i).and_then(|(p, prev)| {
                        older(&x.chart_version, &prev.chart_version).then(|| envs[p].name.clone())
                    });
                }
            }
            cell
        })
        .collect()
}

/// The nearest environment before `i` that has the release: its index and what was read.
fn previous<'a>(at: &[Option<&'a ReleaseRead>], i: usize) -> Option<(usize, &'a ReleaseRead)> {
    (0..i).rev().find_map(|p| at[p].map(|x| (p, x)))
}

/// Whether version `a` is older than `b` (both semver; anything else is not compared).
fn older(a: &str, b: &str) -> bool {
    match (parse_version(a), parse_version(b)) {
        (Ok(a), Ok(b)) => cmp_precedence(&a, &b).is_lt(),
        _ => false,
    }
}

/// One row per component: every workload any environment's release holds, in the order
/// first met.
fn component_rows(
    envs: &[EnvName],
    at: &[Option<&ReleaseRead>],
    reads: &[EnvRead],
) -> Vec<ComponentRow> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for w in at.iter().flatten().flat_map(|x| &x.workloads) {
        let key = (w.kind.clone(), w.name.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .map(|(kind, name)| {
            let environments = envs
                .iter()
                .enumerate()
                .map(|(i, _)| component_cell(envs, &reads[i], at, i, (&kind, &name)))
                .collect();
            ComponentRow {
                kind,
                name,
                environments,
            }
        })
        .collect()
}

fn find<'a>(x: Option<&'a ReleaseRead>, kind: &str, name: &str) -> Option<&'a WorkloadRead> {
    x?.workloads
        .iter()
        .find(|w| w.kind == kind && w.name == name)
}

fn component_cell(
    envs: &[EnvName],
    read: &EnvRead,
    at: &[Option<&ReleaseRead>],
    i: usize,
    (kind, name): (&str, &str),
) -> ComponentCell {
    let mut cell = ComponentCell {
        environment: envs[i].name.clone(),
        state: CellState::Absent,
        template: Vec::new(),
        running: Vec::new(),
        drift: Vec::new(),
        error: None,
    };
    if matches!(read, EnvRead::Unreachable(_)) {
        cell.state = CellState::Unreachable;
        return cell;
    }
    let Some(w) = find(at[i], kind, name) else {
        return cell;
    };
    cell.state = if w.error.is_some() {
        CellState::Error
    } else {
        CellState::Present
    };
    cell.error = w.error.clone();
    cell.template = w.template.clone();
    cell.running = w.running.clone();
    let app_version = at[i].map(|x| x.app_version.as_str()).unwrap_or_default();
    let before = (0..i)
        .rev()
        .find_map(|p| find(at[p], kind, name).map(|pw| (p, pw)));
    cell.drift = drift_of(
        w,
        app_version,
        before.map(|(p, pw)| (envs[p].name.as_str(), pw)),
    );
    cell
}

/// The drift of one component in one environment, against the environment before it.
fn drift_of(
    w: &WorkloadRead,
    app_version: &str,
    before: Option<(&str, &WorkloadRead)>,
) -> Vec<Drift> {
    let mut drift = Vec::new();
    let main = main_tag(w);
    if let Some((environment, pw)) = before
        && let (Some(tag), Some(prev_tag)) = (&main, main_tag(pw))
        && older(tag, &prev_tag)
    {
        drift.push(Drift::Behind {
            environment: environment.to_string(),
            tag: prev_tag,
        });
    }
    let mut containers: Vec<&str> = w.running.iter().map(|r| r.container.as_str()).collect();
    containers.dedup();
    for c in containers {
        let mut images: Vec<String> = w
            .running
            .iter()
            .filter(|r| r.container == c)
            .map(|r| r.image.clone())
            .collect();
        images.sort();
        images.dedup();
        if images.len() > 1 {
            drift.push(Drift::TwoImages {
                container: c.to_string(),
                images,
            });
        }
    }
    if let Some(tag) = main
        && !app_version.is_empty()
        && tag.trim_start_matches('v') != app_version.trim_start_matches('v')
    {
        drift.push(Drift::TagNotAppVersion {
            tag,
            app_version: app_version.to_string(),
        });
    }
    drift
}

/// The tag the main (first) container runs: the pods' newest-looking one, else the
/// template's.
fn main_tag(w: &WorkloadRead) -> Option<String> {
    let first = w.running.first().map(|r| r.container.clone());
    let from_pods = w
        .running
        .iter()
        .filter(|r| Some(&r.container) == first.as_ref())
        .filter_map(|r| r.tag.clone())
        .max_by(|a, b| match (parse_version(a), parse_version(b)) {
            (Ok(a), Ok(b)) => cmp_precedence(&a, &b),
            _ => a.cmp(b),
        });
    from_pods.or_else(|| w.template.first().and_then(|i| image_tag(i)))
}

/// The tag of an image reference (`repo/name:tag@sha256:…` → `tag`), if it has one.
pub fn image_tag(image: &str) -> Option<String> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split_once(':').map(|(_, t)| t.to_string())
}

/// The digest of an `imageID` (`docker.io/x@sha256:…` → `sha256:…`), if it names one.
pub fn image_digest(image_id: &str) -> Option<String> {
    image_id
        .split_once('@')
        .map(|(_, d)| d.to_string())
        .filter(|d| !d.is_empty())
}

/// The inventory as a grid of text, one column per environment, for the table and the
/// console: per release a heading line, its chart and app versions, then one line per
/// component. A cell that shows drift says so and is marked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grid {
    /// `""` then the environments (`prod (protected)`, `stage (unreachable)`).
    pub header: Vec<String>,
    pub rows: Vec<GridRow>,
}

/// A line of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GridRow {
    /// A release's heading: its cells are empty but the first.
    pub heading: bool,
    pub cells: Vec<String>,
    /// Per cell: drift found there.
    pub drift: Vec<bool>,
    /// The release it belongs to (`refs` index) and, for a component, its `kind/name`.
    pub release: usize,
    pub component: Option<String>,
}

impl Grid {
    pub fn of(inv: &Inventory) -> Grid {
        let mut header = vec![String::new()];
        for e in &inv.environments {
            header.push(match (e.reachable, e.protected) {
                (false, _) => format!("{} (unreachable)", e.name),
                (true, true) => format!("{} (protected)", e.name),
                (true, false) => e.name.clone(),
            });
        }
        let mut rows = Vec::new();
        for (j, r) in inv.releases.iter().enumerate() {
            rows.push(release_heading(j, r));
            rows.push(release_line(j, r, "chart", |c| {
                c.chart_version.as_ref().map(|v| match c.revision {
                    Some(rev) => format!("{v} (rev {rev})"),
                    None => v.clone(),
                })
            }));
            rows.push(release_line(j, r, "app", |c| c.app_version.clone()));
            for comp in &r.components {
                rows.push(component_line(j, comp));
            }
        }
        Grid { header, rows }
    }
}

fn release_heading(j: usize, r: &ReleaseRow) -> GridRow {
    let mut text = format!("{} · release {}", r.platform, r.release);
    if let Some(chart) = &r.chart {
        text.push_str(&format!(" · chart {chart}"));
    }
    match (&r.newest, &r.newest_error) {
        (Some(v), _) => text.push_str(&format!(" · newest {v}")),
        (None, Some(e)) => text.push_str(&format!(" · newest unknown: {e}")),
        (None, None) => {}
    }
    let n = r.environments.len() + 1;
    let mut cells = vec![String::new(); n];
    cells[0] = text;
    GridRow {
        heading: true,
        cells,
        drift: vec![false; n],
        release: j,
        component: None,
    }
}

fn state_text(state: CellState) -> Option<&'static str> {
    match state {
        CellState::Present => None,
        CellState::Absent => Some("—"),
        CellState::Unreachable => Some("unreachable"),
        CellState::Error => Some("error"),
    }
}

fn release_line(
    j: usize,
    r: &ReleaseRow,
    label: &str,
    value: impl Fn(&ReleaseCell) -> Option<String>,
) -> GridRow {
    let mut cells = vec![format!("  {label}")];
    let mut drift = vec![false];
    for c in &r.environments {
        let behind = label == "chart" && c.behind.is_some();
        let text = match state_text(c.state) {
            Some(s) => s.to_string(),
            None => value(c).unwrap_or_default(),
        };
        cells.push(match (&c.behind, behind) {
            (Some(env), true) => format!("{text} ⚠ behind {env}"),
            _ => text,
        });
        drift.push(behind);
    }
    GridRow {
        heading: false,
        cells,
        drift,
        release: j,
        component: None,
    }
}

fn component_line(j: usize, comp: &ComponentRow) -> GridRow {
    let short = match comp.kind.as_str() {
        "Deployment" => "deploy",
        "StatefulSet" => "sts",
        "DaemonSet" => "ds",
        other => other,
    };
    let key = format!("{short}/{}", comp.name);
    let mut cells = vec![format!("  {key}")];
    let mut drift = vec![false];
    for c in &comp.environments {
        let text = match state_text(c.state) {
            Some(s) => s.to_string(),
            None => {
                let mut tags: Vec<String> = c
                    .running
                    .iter()
                    .map(|r| r.tag.clone().unwrap_or_else(|| r.image.clone()))
                    .collect();
                tags.dedup();
                if tags.is_empty() {
                    "no pods".to_string()
                } else {
                    tags.join(" + ")
                }
            }
        };
        let marks: Vec<String> = c.drift.iter().map(Drift::short).collect();
        cells.push(if marks.is_empty() {
            text
        } else {
            format!("{text} ⚠ {}", marks.join(", "))
        });
        drift.push(!c.drift.is_empty());
    }
    GridRow {
        heading: false,
        cells,
        drift,
        release: j,
        component: Some(key),
    }
}

#[cfg(test)]
mod tests;
