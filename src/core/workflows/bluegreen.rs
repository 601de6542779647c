//! Blue/green cutover of one Deployment, on the safe-change machinery of upgrades (lock,
//! journal, values-repo record), in the spirit of Argo Rollouts' blueGreen strategy (an
//! active Service, a preview copy, a scale-down delay).
//!
//! The copies and the Service:
//! - **blue** is the Deployment as it runs (`router`); it is never changed until `finish`
//!   (no label is added to its template, so it is not restarted). Its pods are told apart by
//!   the `pod-template-hash` label its ReplicaSet gives them.
//! - **green** is a new Deployment beside it (`router-green`): blue's spec with the new
//!   image, and `helmdeck.io/slot: green` added to its selector and pod template labels.
//! - The **Service** that selects blue's pods keeps its selector and gets one label more:
//!   `pod-template-hash: <blue's>` while blue is active, `helmdeck.io/slot: green` while green
//!   is. Repointing it is one patch; the EndpointSlices follow the selector.
//!
//! The state of a cutover lives on the Service (annotation [`STATE_ANNOTATION`]: the
//! original selector, blue's hash, the images, the active slot, when it switched, the hold,
//! and the outcome of every step), so every operator sees the same cutover. Each step
//! ([`start`], [`switch`], [`back`], [`finish`]) takes the release's lock, writes a journal
//! (`<data dir>/journal/bluegreen/<namespace>.<workload>.json`) before each of its
//! sub-steps and removes it when the step's outcome is recorded (a commit of
//! `<namespace>/<release>/bluegreen-<workload>.yaml` in the values repo). A journal left
//! behind is an interrupted step: [`status`] says so and what to run; re-running that step
//! resumes it, `back` and `finish` take it over.

use super::diagnose;
use super::lock::{self, LockError, ReleaseLock};
use super::simulated::ManifestWorkload;
use crate::core::cluster::actions;
use crate::core::cluster::model::WorkloadKind;
use crate::core::private_files;
use crate::core::releases::values_repo::ValuesRepo;
use anyhow::{Context as _, Result, anyhow};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The label that tells green's pods (and the Service's selector while green is active).
pub const SLOT_LABEL: &str = "helmdeck.io/slot";
/// The label a Deployment's ReplicaSet gives its pods; blue's pods are selected by it.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The annotation on the Service holding the cutover ([`Cutover`] as JSON).
pub const STATE_ANNOTATION: &str = "helmdeck.io/bluegreen";
/// The annotation on the green Deployment naming its blue.
pub const GREEN_OF_ANNOTATION: &str = "helmdeck.io/bluegreen-of";
/// How long the Service's EndpointSlices may take to follow a switch.
const ENDPOINTS_WAIT: Duration = Duration::from_secs(30);
/// How often green's new pods are judged while it comes up.
const BREAKAGE_POLL: Duration = Duration::from_secs(3);

/// Which copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    Blue,
    Green,
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Slot::Blue => "blue",
            Slot::Green => "green",
        })
    }
}

/// A refusal before anything changed (the command exits 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T> {
    Err(Refused(why.into()).into())
}

/// Whether an error is a [`Refused`].
pub fn is_refusal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Refused>())
}

/// One step's outcome, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub at: jiff::Timestamp,
    pub step: String,
    pub outcome: String,
    pub by: String,
}

/// A cutover in progress, as kept on the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cutover {
    /// Blue: the Deployment as it ran.
    pub workload: String,
    pub green: String,
    pub service: String,
    /// The Helm release blue belongs to, when it does (its lock is taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The Service's selector before the cutover.
    pub original_selector: BTreeMap<String, String>,
    /// The `pod-template-hash` of blue's pods.
    pub blue_hash: String,
    pub blue_replicas: i32,
    /// container → image.
    pub blue_images: BTreeMap<String, String>,
    pub green_images: BTreeMap<String, String>,
    pub active: Slot,
    pub started: jiff::Timestamp,
    /// When green last became active (the hold runs from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched: Option<jiff::Timestamp>,
    pub hold_seconds: u64,
    /// Green passed verification (the summary), or why it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Result<String, String>>,
    #[serde(default)]
    pub log: Vec<LogEntry>,
}

impl Cutover {
    /// The Service's selector with `slot` active.
    pub fn selector_for(&self, slot: Slot) -> BTreeMap<String, String> {
        let mut s = self.original_selector.clone();
        match slot {
            Slot::Blue => s.insert(HASH_LABEL.into(), self.blue_hash.clone()),
            Slot::Green => s.insert(SLOT_LABEL.into(), "green".into()),
        };
        s
    }

    /// Time left of the hold (zero once over; the whole hold before any switch).
    pub fn hold_left(&self, now: jiff::Timestamp) -> Duration {
        let hold = Duration::from_secs(self.hold_seconds);
        match self.switched {
            None => hold,
            Some(at) => {
                let passed = now.duration_since(at).as_secs().max(0) as u64;
                hold.saturating_sub(Duration::from_secs(passed))
            }
        }
    }

    /// Which slot a pod with these labels is in (`None`: neither).
    pub fn slot_of(&self, labels: &BTreeMap<String, String>) -> Option<Slot> {
        if labels.get(SLOT_LABEL).map(String::as_str) == Some("green") {
            Some(Slot::Green)
        } else if labels.get(HASH_LABEL) == Some(&self.blue_hash) {
            Some(Slot::Blue)
        } else {
            None
        }
    }
}

/// Where things are kept and how long the hold is.
#[derive(Debug, Clone)]
pub struct Settings {
    pub journal_dir: PathBuf,
    pub values_repo: PathBuf,
    pub hold: Duration,
    /// The environment the cutover is made in: its record is kept under `<environment>/`.
    pub environment: Option<String>,
}

/// The Deployment a cutover is about.
#[derive(Debug, Clone)]
pub struct Target {
    pub namespace: String,
    pub workload: String,
    /// The Service to repoint, when blue's pods are selected by more than one.
    pub service: Option<String>,
}

impl Target {
    /// `deploy/router` → `router-green`.
    pub fn green(&self) -> String {
        format!("{}-green", self.workload)
    }

    fn display(&self) -> String {
        format!("deploy/{} -n {}", self.workload, self.namespace)
    }
}

/// What `start` puts into green.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewImage {
    /// `--image`: a tag (`3.5.0`) for the container's image, or a whole reference.
    Image {
        image: String,
        container: Option<String>,
    },
    /// `--to`: the images a chart version runs, per workload (read by the caller from the
    /// repository index).
    Images(BTreeMap<String, String>),
}

/// Progress lines for the user.
pub type Say<'a> = &'a (dyn Fn(String) + Send + Sync);

// ---------------------------------------------------------------------------------------
// Reading the cluster
// ---------------------------------------------------------------------------------------

/// Blue, its Service, the cutover and green as they are now.
struct Found {
    blue: Deployment,
    service: Service,
    cutover: Option<Cutover>,
    green: Option<Deployment>,
}

fn labels_of(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn cutover_of(svc: &Service) -> Option<Result<Cutover>> {
    let text = svc.metadata.annotations.as_ref()?.get(STATE_ANNOTATION)?;
    Some(serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "the annotation {STATE_ANNOTATION} of Service {} is not readable: {e}",
            svc.metadata.name.as_deref().unwrap_or("")
        )
    }))
}

fn selector_of(svc: &Service) -> BTreeMap<String, String> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

async fn find(client: &kube::Client, t: &Target) -> Result<Found> {
    let ns = &t.namespace;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    if t.workload.ends_with("-green") {
        let blue = t.workload.trim_end_matches("-green");
        return refuse(format!(
            "{} is a green copy; name its blue: deploy/{blue}",
            t.display()
        ));
    }
    let Some(blue) = deployments.get_opt(&t.workload).await? else {
        return refuse(format!("deployment {ns}/{} not found", t.workload));
    };
    let green = deployments.get_opt(&t.green()).await?;
    let list = services.list(&ListParams::default()).await?.items;
    // A cutover in progress names its Service.
    for svc in &list {
        if let Some(c) = cutover_of(svc) {
            let c = c?;
            if c.workload == t.workload {
                return Ok(Found {
                    blue,
                    service: svc.clone(),
                    cutover: Some(c),
                    green,
                });
            }
        }
    }
    // Blue's pod labels, and green's slot label: after a finished cutover that promoted
    // green, the Service selects green's pods.
    let mut labels = labels_of(&blue);
    labels.insert(SLOT_LABEL.into(), "green".into());
    let selecting: Vec<&Service> = list
        .iter()
        .filter(|s| {
            let sel = selector_of(s);
            !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .filter(|s| t.service.is_none() || s.metadata.name == t.service)
        .collect();
    let service = match selecting.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return refuse(match &t.service {
                Some(s) => format!(
                    "Service {ns}/{s} does not select the pods of {}",
                    t.display()
                ),
                None => format!(
                    "no Service selects the pods of {}: nothing to switch",
                    t.display()
                ),
            });
        }
        many => {
            let names: Vec<&str> = many
                .iter()
                .filter_map(|s| s.metadata.name.as_deref())
                .collect();
            return refuse(format!(
                "{} Services select the pods of {} ({}): name one with --service",
                many.len(),
                t.display(),
                names.join(", ")
            ));
        }
    };
    Ok(Found {
        blue,
        service,
        cutover: None,
        green,
    })
}

/// The Helm release a Deployment belongs to, when it does.
fn release_of(d: &Deployment) -> Option<String> {
    let m = &d.metadata;
    m.annotations
        .as_ref()
        .and_then(|a| a.get("meta.helm.sh/release-name"))
        .or_else(|| {
            m.labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/instance"))
        })
        .cloned()
}

/// The `pod-template-hash` of a rolled-out Deployment's pods (refused while it rolls out).
async fn rolled_out_hash(client: &kube::Client, ns: &str, d: &Deployment) -> Result<String> {
    let name = d.metadata.name.clone().unwrap_or_default();
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.clone().unwrap_or_default();
    let gen_seen = st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    let ready = st.ready_replicas.unwrap_or(0);
    if want == 0 {
        return refuse(format!(
            "deploy/{name} is scaled to 0: there is no blue to keep"
        ));
    }
    if !gen_seen || updated != want || st.replicas.unwrap_or(0) != want || ready != want {
        return refuse(format!(
            "deploy/{name} is not rolled out ({ready}/{want} ready, {updated} updated): wait for it first"
        ));
    }
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let rses: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let revision = |r: &ReplicaSet| -> i64 {
        r.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let newest = rses
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|r| {
            r.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .max_by_key(revision);
    newest
        .and_then(|r| r.metadata.labels.and_then(|l| l.get(HASH_LABEL).cloned()))
        .ok_or_else(|| anyhow!("deploy/{name} has no ReplicaSet with a {HASH_LABEL} label"))
}

fn images_of(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// `ghcr.io/mr-ee/router:3.4.1` with tag `3.5.0` → `ghcr.io/mr-ee/router:3.5.0`; a whole
/// reference (with `/`, `:` or `@`) is taken as it is.
pub fn with_tag(image: &str, tag: &str) -> String {
    if tag.contains('/') || tag.contains(':') || tag.contains('@') {
        return tag.to_string();
    }
    let repo = image.split('@').next().unwrap_or(image);
    let last_slash = repo.rfind('/').map_or(0, |i| i + 1);
    let repo = match repo[last_slash..].rfind(':') {
        Some(i) => &repo[..last_slash + i],
        None => repo,
    };
    format!("{repo}:{tag}")
}

/// The images green runs: container → image, only the containers that change.
fn new_images(
    blue: &BTreeMap<String, String>,
    workload: &str,
    wanted: &NewImage,
) -> Result<BTreeMap<String, String>> {
    let mut out = blue.clone();
    match wanted {
        NewImage::Image { image, container } => {
            if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
                return refuse(format!("{image:?} is not an image or a tag"));
            }
            let name = match container {
                Some(c) if blue.contains_key(c) => c.clone(),
                Some(c) => {
                    return refuse(format!(
                        "deploy/{workload} has no container {c:?} (containers: {})",
                        blue.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                None if blue.contains_key(workload) => workload.to_string(),
                None if blue.len() == 1 => blue.keys().next().cloned().unwrap_or_default(),
                None => {
                    return refuse(format!(
                        "deploy/{workload} has {} containers ({}): name one with --container",
                        blue.len(),
                        blue.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            };
            let old = blue.get(&name).cloned().unwrap_or_default();
            out.insert(name, with_tag(&old, image));
        }
        NewImage::Images(by_workload) => {
            let Some(image) = by_workload.get(workload) else {
                return refuse(format!(
                    "that chart version names no image for {workload} (it names: {})",
                    by_workload.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            };
            let name = if blue.contains_key(workload) {
                workload.to_string()
            } else if blue.len() == 1 {
                blue.keys().next().cloned().unwrap_or_default()
            } else {
                return refuse(format!(
                    "deploy/{workload} has no container named {workload} to give {image}"
                ));
            };
            out.insert(name, image.clone());
        }
    }
    if &out == blue {
        return refuse(format!(
            "deploy/{workload} already runs {}: nothing to cut over to",
            out.values().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(out)
}

/// Green: blue's spec with the new images, the slot label in its selector and pod template,
/// no Helm ownership annotations.
pub fn green_of(
    blue: &Deployment,
    green: &str,
    images: &BTreeMap<String, String>,
) -> Result<Deployment> {
    let blue_name = blue.metadata.name.clone().unwrap_or_default();
    let mut spec = blue
        .spec
        .clone()
        .ok_or_else(|| anyhow!("deploy/{blue_name} has no spec"))?;
    spec.selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(SLOT_LABEL.into(), "green".into());
    let meta = spec.template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(SLOT_LABEL.into(), "green".into());
    if let Some(pod) = spec.template.spec.as_mut() {
        for c in &mut pod.containers {
            if let Some(i) = images.get(&c.name) {
                c.image = Some(i.clone());
            }
        }
    }
    let mut labels = blue.metadata.labels.clone().unwrap_or_default();
    labels.insert("app.kubernetes.io/managed-by".into(), "helmdeck".into());
    labels.insert(SLOT_LABEL.into(), "green".into());
    Ok(Deployment {
        metadata: kube::api::ObjectMeta {
            name: Some(green.to_string()),
            namespace: blue.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(GREEN_OF_ANNOTATION.into(), blue_name)])),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    })
}

// ---------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------

/// One address of the Service's EndpointSlices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub pod: String,
    pub ip: String,
    pub ready: bool,
    pub slot: Option<Slot>,
}

/// The addresses the Service's EndpointSlices hold now, with the slot of each pod.
pub async fn endpoints(
    client: &kube::Client,
    ns: &str,
    service: &str,
    cutover: Option<&Cutover>,
) -> Result<Vec<Endpoint>> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
    let slices = slices
        .list(&lp)
        .await
        .context("reading the Service's EndpointSlices")?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods: BTreeMap<String, BTreeMap<String, String>> = pods
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|p| {
            (
                p.metadata.name.unwrap_or_default(),
                p.metadata.labels.unwrap_or_default(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for s in slices.items {
        for e in s.endpoints {
            let pod = e
                .target_ref
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_default();
            let slot = cutover.and_then(|c| pods.get(&pod).and_then(|l| c.slot_of(l)));
            out.push(Endpoint {
                ip: e.addresses.first().cloned().unwrap_or_default(),
                ready: e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true),
                pod,
                slot,
            });
        }
    }
    out.sort_by(|a, b| a.pod.cmp(&b.pod));
    Ok(out)
}

/// Polls the EndpointSlices until every ready address is a pod of `slot` (and there is
/// one); gives them and how long it took.
async fn await_endpoints(
    client: &kube::Client,
    ns: &str,
    c: &Cutover,
    slot: Slot,
) -> Result<(Vec<Endpoint>, Duration)> {
    let begun = Instant::now();
    loop {
        let eps = endpoints(client, ns, &c.service, Some(c)).await?;
        let ready: Vec<&Endpoint> = eps.iter().filter(|e| e.ready).collect();
        if !ready.is_empty() && ready.iter().all(|e| e.slot == Some(slot)) {
            return Ok((eps, begun.elapsed()));
        }
        if begun.elapsed() > ENDPOINTS_WAIT {
            return Err(anyhow!(
                "the Service {} still holds {} after {} s",
                c.service,
                describe_endpoints(&eps),
                ENDPOINTS_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `router-abc (10.244.1.5, blue), …`.
pub fn describe_endpoints(eps: &[Endpoint]) -> String {
    if eps.is_empty() {
        return "no endpoints".into();
    }
    eps.iter()
        .map(|e| {
            let mut s = format!("{} ({}", e.pod, e.ip);
            if let Some(slot) = e.slot {
                s.push_str(&format!(", {slot}"));
            }
            if !e.ready {
                s.push_str(", not ready");
            }
            s.push(')');
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// Journal, lock, record
// ---------------------------------------------------------------------------------------

/// A cutover step in progress, on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepJournal {
    pub namespace: String,
    pub workload: String,
    /// `start`, `switch`, `back`, `finish`.
    pub operation: String,
    /// The sub-step reached.
    pub step: String,
    /// For `start`: the new images (to resume with).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    pub started: jiff::Timestamp,
    pub updated: jiff::Timestamp,
    pub holder: String,
}

impl StepJournal {
    /// `switch stopped at select (2026-11-30 12:01:02 UTC, ada@host (helmdeck, pid 7))`.
    pub fn summary(&self) -> String {
        format!(
            "`{}` of deploy/{} -n {} stopped at {} ({} UTC, {})",
            self.operation,
            self.workload,
            self.namespace,
            self.step,
            self.updated.strftime("%Y-%m-%d %H:%M:%S"),
            self.holder
        )
    }
}

fn journal_path(dir: &Path, ns: &str, workload: &str) -> PathBuf {
    dir.join("bluegreen").join(format!("{ns}.{workload}.json"))
}

/// The journal of an interrupted step of this cutover, if one was left behind.
pub fn interrupted(dir: &Path, ns: &str, workload: &str) -> Result<Option<StepJournal>> {
    let path = journal_path(dir, ns, workload);
    match std::fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .with_context(|| format!("the journal {} is not readable", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

struct Journal {
    path: PathBuf,
    j: StepJournal,
}

impl Journal {
    /// Opens the journal of `operation`. An interrupted step of another operation refuses,
    /// except for `back` and `finish`, which take it over.
    fn open(dir: &Path, t: &Target, operation: &str, say: Say<'_>) -> Result<Journal> {
        let path = journal_path(dir, &t.namespace, &t.workload);
        let now = jiff::Timestamp::now();
        let mut j = StepJournal {
            namespace: t.namespace.clone(),
            workload: t.workload.clone(),
            operation: operation.into(),
            step: "begin".into(),
            images: BTreeMap::new(),
            started: now,
            updated: now,
            holder: lock::holder_identity(),
        };
        if let Some(old) = interrupted(dir, &t.namespace, &t.workload)? {
            if old.operation == operation {
                say(format!("resuming the interrupted {}", old.summary()));
                j.images = old.images;
            } else if operation == "back" || operation == "finish" {
                say(format!("taking over the interrupted {}", old.summary()));
            } else {
                return refuse(format!(
                    "an earlier step did not finish: {}; run `helmdeck bluegreen status {}` for what to run",
                    old.summary(),
                    t.display()
                ));
            }
        }
        let parent = path.parent().unwrap_or(dir);
        private_files::create_dir(parent)
            .with_context(|| format!("creating the journal directory {}", parent.display()))?;
        let f = Journal { path, j };
        f.write()?;
        Ok(f)
    }

    fn step(&mut self, step: &str) -> Result<()> {
        self.j.step = step.into();
        self.j.updated = jiff::Timestamp::now();
        self.write()
    }

    fn write(&self) -> Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        private_files::write(&tmp, &serde_json::to_vec_pretty(&self.j)?)
            .with_context(|| format!("writing the journal {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing the journal {}", self.path.display()))
    }

    fn close(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// The lock of blue's release (or, outside a release, of the workload itself).
async fn take_lock(
    client: &kube::Client,
    ns: &str,
    blue: &Deployment,
    what: &str,
) -> Result<ReleaseLock> {
    let name = blue.metadata.name.clone().unwrap_or_default();
    let lock_name = release_of(blue).unwrap_or_else(|| format!("bluegreen-{name}"));
    let op = format!("bluegreen {what} deploy/{name}");
    match ReleaseLock::acquire(client, ns, &lock_name, &op, Duration::from_secs(60)).await {
        Ok(l) => Ok(l),
        Err(e @ LockError::Held { .. }) => refuse(e.to_string()),
        Err(e) => Err(e.into()),
    }
}

/// Takes the lock, then opens the journal (giving the lock back when the journal refuses).
async fn begin(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    blue: &Deployment,
    op: &str,
    say: Say<'_>,
) -> Result<(Journal, ReleaseLock)> {
    let lock = take_lock(client, &t.namespace, blue, op).await?;
    match Journal::open(&settings.journal_dir, t, op, say) {
        Ok(j) => Ok((j, lock)),
        Err(e) => {
            lock.release().await;
            Err(e)
        }
    }
}

/// The file of a cutover's record in the values repo.
pub fn record_path(c: &Cutover, environment: Option<&str>, ns: &str) -> String {
    let release = c.release.clone().unwrap_or_else(|| c.workload.clone());
    format!(
        "{}/bluegreen-{}.yaml",
        ValuesRepo::release_dir(environment, ns, &release),
        c.workload
    )
}

/// Commits the cutover (with its log) to the values repo: one commit per step, so `git log`
/// of the file is the cutover's history. Gives the commit.
async fn record(settings: &Settings, ns: &str, c: &Cutover, headline: &str) -> Result<String> {
    let path = settings.values_repo.clone();
    let file = record_path(c, settings.environment.as_deref(), ns);
    let in_environment = settings.environment.is_some();
    let text = serde_yaml::to_string(c)?;
    let message = format!(
        "{} ({ns}): blue/green {headline}\n\nAuthor: {}",
        c.workload,
        lock::holder_identity()
    );
    tokio::task::spawn_blocking(move || {
        commit_file(&path, &file, text.as_bytes(), &message, in_environment)
    })
    .await
    .map_err(|e| anyhow!("a background task failed: {e}"))?
}

fn commit_file(
    root: &Path,
    file: &str,
    data: &[u8],
    message: &str,
    in_environment: bool,
) -> Result<String> {
    let vr = ValuesRepo::open_or_init(root)?;
    // As a values commit: under an environment only once the repository is laid out so.
    if in_environment {
        vr.check_migrated()?;
    }
    let repo = git2::Repository::open(root)?;
    let full = root.join(file);
    if let Some(dir) = full.parent() {
        private_files::create_dir(dir)?;
    }
    private_files::write(&full, data)?;
    let parent = match repo.head() {
        Ok(h) => Some(h.peel_to_commit()?),
        Err(_) => None,
    };
    let mut index = git2::Index::new()?;
    if let Some(p) = &parent {
        index.read_tree(&p.tree()?)?;
    }
    let id = repo.blob(data)?;
    index.add(&git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: data.len() as u32,
        id,
        flags: (file.len().min(0xfff)) as u16,
        flags_extended: 0,
        path: file.as_bytes().to_vec(),
    })?;
    let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
    let sig = repo
        .signature()
        .or_else(|_| git2::Signature::now("helmdeck", "helmdeck@localhost"))?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?;
    let mut real = repo.index()?;
    real.add_path(Path::new(file))?;
    real.write()?;
    if let Err(e) = vr.push() {
        tracing::warn!(error = %e, "pushing the values repo failed; the commit is kept locally");
    }
    Ok(oid.to_string())
}

// ---------------------------------------------------------------------------------------
// Changing the Service
// ---------------------------------------------------------------------------------------

/// Sets the Service's selector and cutover annotation in one patch (`None`: the cutover is
/// over, the annotation goes).
async fn patch_service(
    client: &kube::Client,
    ns: &str,
    svc: &Service,
    selector: &BTreeMap<String, String>,
    cutover: Option<&Cutover>,
) -> Result<Service> {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut sel = serde_json::Map::new();
    for k in selector_of(svc).keys() {
        if !selector.contains_key(k) {
            sel.insert(k.clone(), serde_json::Value::Null);
        }
    }
    for (k, v) in selector {
        sel.insert(k.clone(), json!(v));
    }
    let state = match cutover {
        Some(c) => json!(serde_json::to_string(c)?),
        None => serde_json::Value::Null,
    };
    let patch = json!({
        "metadata": {"annotations": {STATE_ANNOTATION: state}},
        "spec": {"selector": sel},
    });
    let api: Api<Service> = Api::namespaced(client.clone(), ns);
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("repointing Service {ns}/{name}"))
}

/// Appends a step's outcome to the cutover's log.
fn log(c: &mut Cutover, step: &str, outcome: impl Into<String>) {
    c.log.push(LogEntry {
        at: jiff::Timestamp::now(),
        step: step.into(),
        outcome: outcome.into(),
        by: lock::holder_identity(),
    });
}

// ---------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------

/// How a step ended: what to say, and whether it succeeded (a failed verification is
/// recorded, and the command exits 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub succeeded: bool,
    pub summary: String,
    /// The values-repo commit of the record.
    pub commit: Option<String>,
    /// The endpoints after a switch, and how long the slices took to follow.
    pub endpoints: Vec<Endpoint>,
    pub took: Option<Duration>,
}

/// Records the step (values repo), closes the journal and gives the lock back.
async fn close(
    settings: &Settings,
    ns: &str,
    c: &Cutover,
    headline: &str,
    journal: Journal,
    lock: ReleaseLock,
    say: Say<'_>,
) -> Option<String> {
    let commit = match record(settings, ns, c, headline).await {
        Ok(sha) => {
            say(format!(
                "recorded in the values repo: {}",
                &sha[..sha.len().min(12)]
            ));
            Some(sha)
        }
        Err(e) => {
            say(format!("warning: not recorded in the values repo: {e:#}"));
            None
        }
    };
    if let Err(e) = journal.close() {
        say(format!("warning: {e:#}"));
    }
    lock.release().await;
    commit
}

/// Preflight of `start`, changing nothing: the cutover to begin (or the one to restart with
/// a new image while blue is active) and green's images.
async fn plan_start(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    found: &Found,
    wanted: &NewImage,
) -> Result<(Cutover, BTreeMap<String, String>)> {
    let ns = &t.namespace;
    if let Some(c) = &found.cutover
        && c.active == Slot::Green
    {
        return refuse(format!(
            "green is active for {}: `back` or `finish` it before starting another",
            t.display()
        ));
    }
    let blue_images = images_of(&found.blue);
    let images = new_images(&blue_images, &t.workload, wanted)?;
    let c = match found.cutover.clone() {
        Some(mut c) => {
            c.green_images = images.clone();
            c.verified = None;
            c
        }
        None => Cutover {
            workload: t.workload.clone(),
            green: t.green(),
            service: found.service.metadata.name.clone().unwrap_or_default(),
            release: release_of(&found.blue),
            original_selector: selector_of(&found.service),
            blue_hash: rolled_out_hash(client, ns, &found.blue).await?,
            blue_replicas: found
                .blue
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1),
            blue_images,
            green_images: images.clone(),
            active: Slot::Blue,
            started: jiff::Timestamp::now(),
            switched: None,
            hold_seconds: settings.hold.as_secs(),
            verified: None,
            log: Vec::new(),
        },
    };
    if let Some(g) = &found.green
        && g.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(GREEN_OF_ANNOTATION))
            != Some(&t.workload)
    {
        return refuse(format!(
            "deployment {ns}/{} exists and is not a green copy made by helmdeck: not touched",
            t.green()
        ));
    }
    Ok((c, images))
}

/// `start`: green beside blue with the new image, ready and verified; the Service stays on
/// blue (pinned to blue's pods first, so green's pods never receive traffic early).
pub async fn start(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    wanted: &NewImage,
    timeout: Duration,
    say: Say<'_>,
) -> Result<Outcome> {
    let ns = &t.namespace;
    let found = find(client, t).await?;
    let (mut c, images) = plan_start(client, settings, t, &found, wanted).await?;
    let (mut journal, lock) = begin(client, settings, t, &found.blue, "start", say).await?;
    journal.j.images = images.clone();
    journal.step("pin")?;
    patch_service(
        client,
        ns,
        &found.service,
        &c.selector_for(Slot::Blue),
        Some(&c),
    )
    .await?;
    say(format!(
        "Service {} pinned to blue's pods ({HASH_LABEL}={})",
        c.service, c.blue_hash
    ));
    journal.step("create")?;
    // Creation times have whole seconds: a pod made within this second is new too.
    let since = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 1)?;
    create_green(client, ns, &found.blue, &c, &images, say).await?;
    journal.step("wait")?;
    let verdict = wait_green(client, ns, &c, since, timeout, say).await;
    journal.step("record")?;
    let succeeded = verdict.is_ok();
    let headline = match &verdict {
        Ok(s) => format!("start: green {} ready and verified: {s}", c.green),
        Err(why) => format!("start: green {} failed verification: {why}", c.green),
    };
    log(&mut c, "start", headline.clone());
    c.verified = Some(verdict);
    patch_service(
        client,
        ns,
        &found.service,
        &c.selector_for(Slot::Blue),
        Some(&c),
    )
    .await?;
    let commit = close(settings, ns, &c, &headline, journal, lock, say).await;
    Ok(Outcome {
        succeeded,
        summary: headline,
        commit,
        endpoints: Vec::new(),
        took: None,
    })
}

/// Creates green, or (when it exists from an earlier start) sets its images.
async fn create_green(
    client: &kube::Client,
    ns: &str,
    blue: &Deployment,
    c: &Cutover,
    images: &BTreeMap<String, String>,
    say: Say<'_>,
) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let green = green_of(blue, &c.green, images)?;
    let shown = images.values().cloned().collect::<Vec<_>>().join(", ");
    match api.get_opt(&c.green).await? {
        None => {
            api.create(&PostParams::default(), &green)
                .await
                .with_context(|| format!("creating deploy/{}", c.green))?;
            say(format!("created deploy/{} running {shown}", c.green));
        }
        Some(_) => {
            let patch = json!({"spec": {
                "replicas": green.spec.as_ref().and_then(|s| s.replicas),
                "template": green.spec.as_ref().map(|s| &s.template),
            }});
            api.patch(&c.green, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .with_context(|| format!("updating deploy/{}", c.green))?;
            say(format!("deploy/{} set to run {shown}", c.green));
        }
    }
    Ok(())
}

/// Waits for green to roll out (progress printed), judging its new pods every few seconds
/// as an upgrade does (a crash loop, a pull error, an OOM kill fail it at once), then
/// verifies it: rolled out, nothing broken, its pods run the new images, new Warning events
/// counted.
async fn wait_green(
    client: &kube::Client,
    ns: &str,
    c: &Cutover,
    since: jiff::Timestamp,
    timeout: Duration,
    say: Say<'_>,
) -> std::result::Result<String, String> {
    let workloads = [ManifestWorkload {
        kind: WorkloadKind::Deployment,
        name: c.green.clone(),
        images: c.green_images.clone().into_iter().collect(),
    }];
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let rollout =
        actions::watch_rollout(client, WorkloadKind::Deployment, ns, &c.green, tx, timeout);
    let mut rollout = std::pin::pin!(rollout);
    let mut broken_before = std::collections::BTreeSet::new();
    let mut tick = tokio::time::interval(BREAKAGE_POLL);
    tick.tick().await;
    let result = loop {
        tokio::select! {
            r = &mut rollout => break r.map_err(|e| format!("deploy/{}: {e}", c.green)),
            Some(p) = rx.recv() => say(format!("deploy/{}: {p}", c.green)),
            _ = tick.tick() => {
                let d = diagnose::diagnose(client, ns, &workloads, since).await;
                let now: std::collections::BTreeSet<String> =
                    d.broken.iter().map(|b| b.pod.clone()).collect();
                if !d.stalled.is_empty() || now.intersection(&broken_before).next().is_some() {
                    return Err(format!("judged failed without waiting out the timeout: {}", d.details()));
                }
                broken_before = now;
            }
        }
    };
    while let Ok(p) = rx.try_recv() {
        say(format!("deploy/{}: {p}", c.green));
    }
    let progress = result?;
    let d = diagnose::diagnose(client, ns, &workloads, since).await;
    if d.is_broken() {
        return Err(d.details());
    }
    verify_pods(client, ns, c, since)
        .await
        .map(|extra| format!("{}/{} ready{extra}", progress.ready, progress.desired))
}

/// Green's pods run the new images; new Warning events about them are counted.
async fn verify_pods(
    client: &kube::Client,
    ns: &str,
    c: &Cutover,
    since: jiff::Timestamp,
) -> std::result::Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("{SLOT_LABEL}=green"));
    let list = pods
        .list(&lp)
        .await
        .map_err(|e| format!("cannot read green's pods: {e}"))?;
    for p in list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        for ct in p.spec.iter().flat_map(|s| &s.containers) {
            let want = c.green_images.get(&ct.name);
            if want.is_some() && ct.image.as_ref() != want {
                return Err(format!(
                    "pod {} runs {} in {}, not {}",
                    p.metadata.name.as_deref().unwrap_or(""),
                    ct.image.as_deref().unwrap_or("no image"),
                    ct.name,
                    want.map(String::as_str).unwrap_or("")
                ));
            }
        }
    }
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    let mut warnings: BTreeMap<String, i32> = BTreeMap::new();
    if let Ok(list) = events.list(&ListParams::default()).await {
        for e in list
            .items
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
        {
            let at = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or(e.event_time.as_ref().map(|t| t.0));
            let about = e.involved_object.name.as_deref().unwrap_or("");
            if at.is_some_and(|t| t >= since) && about.starts_with(&format!("{}-", c.green)) {
                *warnings.entry(e.reason.unwrap_or_default()).or_default() += e.count.unwrap_or(1);
            }
        }
    }
    let images = c
        .green_images
        .values()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    Ok(if warnings.is_empty() {
        format!(" on {images}, no new Warning events")
    } else {
        let w: Vec<String> = warnings.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
        format!(" on {images}; new Warning events: {}", w.join(", "))
    })
}

/// The cutover of `t`, refused when there is none.
async fn in_progress(client: &kube::Client, t: &Target) -> Result<(Found, Cutover)> {
    let found = find(client, t).await?;
    match found.cutover.clone() {
        Some(c) => Ok((found, c)),
        None => refuse(format!(
            "no blue/green cutover of {} in progress (start one with `helmdeck bluegreen start {} --image TAG`)",
            t.display(),
            t.display()
        )),
    }
}

/// Ready pods of a Deployment (`None`: it does not exist) and its desired replicas.
async fn readiness(client: &kube::Client, ns: &str, name: &str) -> Result<Option<(i32, i32)>> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    Ok(api.get_opt(name).await?.map(|d| {
        (
            d.status.and_then(|s| s.ready_replicas).unwrap_or(0),
            d.spec.and_then(|s| s.replicas).unwrap_or(1),
        )
    }))
}

/// `switch`: the Service's selector to green at once; the endpoints it then holds.
pub async fn switch(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    say: Say<'_>,
) -> Result<Outcome> {
    let (found, c) = in_progress(client, t).await?;
    match &c.verified {
        Some(Ok(_)) => {}
        Some(Err(why)) => {
            return refuse(format!(
                "green did not pass verification ({why}): `start` again with another image, or `finish` to remove it"
            ));
        }
        None => {
            return refuse(
                "green has not been verified yet: let `start` finish (run it again to resume)",
            );
        }
    }
    let (ready, want) = readiness(client, &t.namespace, &c.green)
        .await?
        .ok_or_else(|| Refused(format!("deploy/{} is gone", c.green)))?;
    if ready < want || want == 0 {
        return refuse(format!(
            "green has {ready}/{want} ready pods: not switching to it"
        ));
    }
    repoint(client, settings, t, found, c, Slot::Green, say).await
}

/// `back`: the Service's selector to blue at once, while blue is still scaled.
pub async fn back(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    say: Say<'_>,
) -> Result<Outcome> {
    let (found, c) = in_progress(client, t).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let mut sel: Vec<String> = c
        .selector_for(Slot::Blue)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    sel.sort();
    let ready_blue = pods
        .list(&ListParams::default().labels(&sel.join(",")))
        .await?
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && pod_ready(p))
        .count();
    if ready_blue == 0 {
        return refuse(format!(
            "blue (deploy/{}) has no ready pod with {HASH_LABEL}={}: nothing to go back to",
            c.workload, c.blue_hash
        ));
    }
    if c.active == Slot::Green && c.hold_left(jiff::Timestamp::now()).is_zero() {
        say("note: the hold is over; blue is still scaled, so going back".into());
    }
    repoint(client, settings, t, found, c, Slot::Blue, say).await
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Points the Service at `slot`, waits until its EndpointSlices hold only that slot's pods,
/// records it.
async fn repoint(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    found: Found,
    mut c: Cutover,
    slot: Slot,
    say: Say<'_>,
) -> Result<Outcome> {
    let ns = &t.namespace;
    let op = match slot {
        Slot::Green => "switch",
        Slot::Blue => "back",
    };
    let (mut journal, lock) = begin(client, settings, t, &found.blue, op, say).await?;
    journal.step("select")?;
    let was = c.active;
    c.active = slot;
    if slot == Slot::Green && was != Slot::Green {
        c.switched = Some(jiff::Timestamp::now());
    }
    let begun = Instant::now();
    patch_service(client, ns, &found.service, &c.selector_for(slot), Some(&c)).await?;
    say(format!(
        "Service {} now selects {slot} ({})",
        c.service,
        selector_text(&c.selector_for(slot))
    ));
    journal.step("endpoints")?;
    let waited = await_endpoints(client, ns, &c, slot).await;
    let took = begun.elapsed();
    journal.step("record")?;
    let (succeeded, headline, eps) = match waited {
        Ok((eps, _)) => (
            true,
            format!(
                "{op}: {slot} active; the Service's endpoints held only {slot} pods after {} ms: {}",
                took.as_millis(),
                describe_endpoints(&eps)
            ),
            eps,
        ),
        Err(e) => (
            false,
            format!("{op}: {slot} selected, but {e:#}"),
            Vec::new(),
        ),
    };
    log(&mut c, op, headline.clone());
    patch_service(client, ns, &found.service, &c.selector_for(slot), Some(&c)).await?;
    let commit = close(settings, ns, &c, &headline, journal, lock, say).await;
    Ok(Outcome {
        succeeded,
        summary: headline,
        commit,
        endpoints: eps,
        took: Some(took),
    })
}

/// `a=b,c=d`.
pub fn selector_text(s: &BTreeMap<String, String>) -> String {
    s.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `finish`: with green active, blue is scaled to 0 once the hold is over (`now`: at once)
/// and green serves on; with blue active, green is removed and the Service's selector
/// restored. The cutover's annotation goes; the outcome is recorded.
pub async fn finish(
    client: &kube::Client,
    settings: &Settings,
    t: &Target,
    now: bool,
    say: Say<'_>,
) -> Result<Outcome> {
    let ns = &t.namespace;
    let found = match in_progress(client, t).await {
        Ok(f) => f,
        Err(e) if is_refusal(&e) => {
            // A start interrupted before it changed anything left only its journal.
            if let Some(j) = interrupted(&settings.journal_dir, ns, &t.workload)? {
                let path = journal_path(&settings.journal_dir, ns, &t.workload);
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
                let summary = format!(
                    "closed the interrupted {}: nothing had changed",
                    j.summary()
                );
                return Ok(Outcome {
                    succeeded: true,
                    summary,
                    commit: None,
                    endpoints: Vec::new(),
                    took: None,
                });
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let (found, mut c) = found;
    let left = c.hold_left(jiff::Timestamp::now());
    // A finish that was interrupted had already passed the hold (or was given --now).
    let resuming = interrupted(&settings.journal_dir, ns, &t.workload)?
        .is_some_and(|j| j.operation == "finish");
    if c.active == Slot::Green && !left.is_zero() && !now && !resuming {
        return refuse(format!(
            "the hold keeps blue for {} more (until {} UTC; `back` returns to it at once): run `finish` then, or `finish --now`",
            human(left),
            (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(left.as_secs() as i64))
                .strftime("%H:%M:%S")
        ));
    }
    let (mut journal, lock) = begin(client, settings, t, &found.blue, "finish", say).await?;
    let headline = match c.active {
        Slot::Green => promote(client, ns, &found, &c, &mut journal, say).await?,
        Slot::Blue => abandon(client, ns, &found, &c, &mut journal, say).await?,
    };
    journal.step("record")?;
    log(&mut c, "finish", headline.clone());
    let commit = close(settings, ns, &c, &headline, journal, lock, say).await;
    Ok(Outcome {
        succeeded: true,
        summary: headline,
        commit,
        endpoints: Vec::new(),
        took: None,
    })
}

/// Green stays: blue scaled to 0, the annotation removed (the selector stays on green).
async fn promote(
    client: &kube::Client,
    ns: &str,
    found: &Found,
    c: &Cutover,
    journal: &mut Journal,
    say: Say<'_>,
) -> Result<String> {
    journal.step("scale-down")?;
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    api.patch(
        &c.workload,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .with_context(|| format!("scaling deploy/{} to 0", c.workload))?;
    say(format!(
        "deploy/{} (blue) scaled to 0 (was {})",
        c.workload, c.blue_replicas
    ));
    journal.step("unmark")?;
    patch_service(
        client,
        ns,
        &found.service,
        &c.selector_for(Slot::Green),
        None,
    )
    .await?;
    Ok(format!(
        "finish: green deploy/{} serves ({}); blue deploy/{} scaled to 0 (was {})",
        c.green,
        c.green_images
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        c.workload,
        c.blue_replicas
    ))
}

/// Blue stays: green removed, then the Service's original selector restored.
async fn abandon(
    client: &kube::Client,
    ns: &str,
    found: &Found,
    c: &Cutover,
    journal: &mut Journal,
    say: Say<'_>,
) -> Result<String> {
    journal.step("remove-green")?;
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    match api.delete(&c.green, &DeleteParams::foreground()).await {
        Ok(_) => say(format!("deploy/{} (green) deleted", c.green)),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(anyhow!(e).context(format!("deleting deploy/{}", c.green))),
    }
    // The original selector matches green's pods too: restore it once they are gone.
    journal.step("await-green-gone")?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("{SLOT_LABEL}=green"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pods.list(&lp).await?.items.is_empty() {
        if Instant::now() > deadline {
            say(
                "green's pods are still terminating after 120 s; the Service stays pinned to blue"
                    .into(),
            );
            return Ok(format!(
                "finish: green deploy/{} removed; blue deploy/{} serves",
                c.green, c.workload
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    journal.step("restore-selector")?;
    patch_service(client, ns, &found.service, &c.original_selector, None).await?;
    say(format!(
        "Service {} selector restored ({})",
        c.service,
        selector_text(&c.original_selector)
    ));
    Ok(format!(
        "finish: blue deploy/{} kept ({}); green deploy/{} removed",
        c.workload,
        c.blue_images
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        c.green
    ))
}

/// `7m 12s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m {s}s"),
    }
}

// ---------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------

/// Where a cutover stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub cutover: Option<Cutover>,
    /// Blue's and green's (ready, desired); `None` when the Deployment does not exist.
    pub blue: Option<(i32, i32)>,
    pub green: Option<(i32, i32)>,
    pub endpoints: Vec<Endpoint>,
    pub hold_left: Option<Duration>,
    /// An interrupted step, and what to run.
    pub interrupted: Option<(StepJournal, String)>,
}

/// Reads the cutover, both copies' readiness, the endpoints and the local journal.
pub async fn status(client: &kube::Client, settings: &Settings, t: &Target) -> Result<Status> {
    let ns = &t.namespace;
    let found = find(client, t).await?;
    let c = found.cutover.clone();
    let blue = readiness(client, ns, &t.workload).await?;
    let green = readiness(client, ns, &t.green()).await?;
    let service = found.service.metadata.name.clone().unwrap_or_default();
    let endpoints = endpoints(client, ns, &service, c.as_ref()).await?;
    let hold_left = c
        .as_ref()
        .filter(|c| c.active == Slot::Green)
        .map(|c| c.hold_left(jiff::Timestamp::now()));
    let interrupted = interrupted(&settings.journal_dir, ns, &t.workload)?.map(|j| {
        let todo = what_to_run(&j, c.as_ref(), t);
        (j, todo)
    });
    Ok(Status {
        cutover: c,
        blue,
        green,
        endpoints,
        hold_left,
        interrupted,
    })
}

/// What to run after an interrupted step.
fn what_to_run(j: &StepJournal, c: Option<&Cutover>, t: &Target) -> String {
    let w = t.display();
    let active = c.map_or("nothing changed yet".to_string(), |c| {
        format!("{} is active", c.active)
    });
    let resume = match j.operation.as_str() {
        "start" => {
            let images = j.images.values().cloned().collect::<Vec<_>>();
            format!(
                "`helmdeck bluegreen start {w} --image {}` to resume it, or `helmdeck bluegreen finish {w} --now` to remove green",
                images.first().cloned().unwrap_or_else(|| "TAG".into())
            )
        }
        "switch" => format!(
            "`helmdeck bluegreen switch {w}` to finish switching, or `helmdeck bluegreen back {w}` to return to blue"
        ),
        "back" => format!("`helmdeck bluegreen back {w}` to finish going back"),
        _ => format!("`helmdeck bluegreen finish {w}` to finish it"),
    };
    format!("{active}; run {resume}")
}

/// `--to CHART-VERSION`: the images that chart version runs, per workload, as the chart
/// repository's index lists them (the `sandbox.helmdeck.io/images` annotation of the entry,
/// which the sandbox's repository carries). A chart whose index entry does not list its
/// images is refused: rendering the chart to find its pod templates is not done here.
pub async fn chart_version_images(
    client: &kube::Client,
    settings: &super::upgrade::Settings,
    t: &Target,
    version: &str,
    repo: Option<crate::core::releases::repo::RepoOptions>,
) -> Result<BTreeMap<String, String>> {
    use crate::core::releases::repo::ChartRepo;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &t.namespace);
    let Some(blue) = deployments.get_opt(&t.workload).await? else {
        return refuse(format!(
            "deployment {}/{} not found",
            t.namespace, t.workload
        ));
    };
    let Some(release) = release_of(&blue) else {
        return refuse(format!(
            "{} belongs to no Helm release: give --image instead of --to",
            t.display()
        ));
    };
    let h = crate::core::releases::fetch::release_history(client, &t.namespace, &release).await?;
    let chart = h
        .current()
        .map(|r| r.chart.metadata.name.clone())
        .ok_or_else(|| anyhow!("{}/{release} has no readable revision", t.namespace))?;
    let opts = super::upgrade::repository_for(settings, &t.namespace, &release, repo)
        .await
        .map_err(|e| Refused(format!("{e:#}")))?;
    let fetched = ChartRepo::new(opts)?.fetch_index().await?;
    let entries = fetched.index.chart(&chart, &fetched.url)?;
    let Some(entry) = entries.iter().find(|e| e.version == version) else {
        return refuse(format!("the repository has no {chart} {version}"));
    };
    let images = super::upgrade::images_of(entry);
    if images.is_empty() {
        return refuse(format!(
            "the index entry of {chart} {version} does not list its images, and helmdeck does not render charts for blue/green: give --image TAG"
        ));
    }
    Ok(images)
}

/// The cutovers open on workloads of `release` in `ns`, described with what to run: an
/// upgrade or rollback of the release is refused while one is (it would replace the pods
/// the Service is pinned to).
pub async fn open_cutovers(client: &kube::Client, ns: &str, release: &str) -> Result<Vec<String>> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let mut out = Vec::new();
    for svc in services.list(&ListParams::default()).await?.items {
        if let Some(Ok(c)) = cutover_of(&svc)
            && c.release.as_deref() == Some(release)
        {
            out.push(format!(
                "a blue/green cutover of deploy/{} is open ({} active; `helmdeck bluegreen finish deploy/{} -n {ns}`)",
                c.workload, c.active, c.workload
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blue() -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "router", "namespace": "mr-ee",
                "labels": {"app.kubernetes.io/name": "router", "app.kubernetes.io/managed-by": "Helm"},
                "annotations": {"meta.helm.sh/release-name": "ee"}},
            "spec": {"replicas": 2,
                "selector": {"matchLabels": {"app.kubernetes.io/name": "router"}},
                "template": {"metadata": {"labels": {"app.kubernetes.io/name": "router"}},
                    "spec": {"containers": [
                        {"name": "router", "image": "ghcr.io/mr-ee/router:3.4.1"},
                        {"name": "sidecar", "image": "envoy:1.30"}]}}}
        }))
        .unwrap()
    }

    fn cutover() -> Cutover {
        Cutover {
            workload: "router".into(),
            green: "router-green".into(),
            service: "router".into(),
            release: Some("ee".into()),
            original_selector: BTreeMap::from([("app.kubernetes.io/name".into(), "router".into())]),
            blue_hash: "abc".into(),
            blue_replicas: 2,
            blue_images: BTreeMap::new(),
            green_images: BTreeMap::new(),
            active: Slot::Blue,
            started: jiff::Timestamp::UNIX_EPOCH,
            switched: None,
            hold_seconds: 600,
            verified: None,
            log: Vec::new(),
        }
    }

    #[test]
    fn a_tag_replaces_the_tag_and_a_reference_the_image() {
        assert_eq!(
            with_tag("ghcr.io/mr-ee/router:3.4.1", "3.5.0"),
            "ghcr.io/mr-ee/router:3.5.0"
        );
        assert_eq!(
            with_tag("localhost:5000/router", "2"),
            "localhost:5000/router:2"
        );
        assert_eq!(with_tag("router@sha256:00", "2"), "router:2");
        assert_eq!(
            with_tag("router:1", "quay.io/x/router:9"),
            "quay.io/x/router:9"
        );
    }

    #[test]
    fn green_is_blue_with_the_new_image_and_the_slot_label() {
        let blue = blue();
        let images = new_images(
            &images_of(&blue),
            "router",
            &NewImage::Image {
                image: "3.5.0".into(),
                container: None,
            },
        )
        .unwrap();
        assert_eq!(images["router"], "ghcr.io/mr-ee/router:3.5.0");
        assert_eq!(images["sidecar"], "envoy:1.30");
        let g = green_of(&blue, "router-green", &images).unwrap();
        let spec = g.spec.as_ref().unwrap();
        let sel = spec.selector.match_labels.as_ref().unwrap();
        assert_eq!(sel[SLOT_LABEL], "green");
        assert_eq!(sel["app.kubernetes.io/name"], "router");
        let tpl = spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert_eq!(tpl[SLOT_LABEL], "green");
        assert_eq!(spec.replicas, Some(2));
        let meta = &g.metadata;
        assert_eq!(
            meta.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "helmdeck"
        );
        let ann = meta.annotations.as_ref().unwrap();
        assert_eq!(ann[GREEN_OF_ANNOTATION], "router");
        assert!(
            !ann.contains_key("meta.helm.sh/release-name"),
            "green is not Helm's"
        );
        // Bad input is refused in words.
        for (wanted, says) in [
            (
                NewImage::Image {
                    image: "3.4.1".into(),
                    container: None,
                },
                "already runs",
            ),
            (
                NewImage::Image {
                    image: "a b".into(),
                    container: None,
                },
                "not an image",
            ),
            (
                NewImage::Image {
                    image: "1".into(),
                    container: Some("db".into()),
                },
                "no container \"db\"",
            ),
            (
                NewImage::Images(BTreeMap::from([("forwarder".into(), "f:1".into())])),
                "names no image for router",
            ),
        ] {
            let e = new_images(&images_of(&blue), "router", &wanted).unwrap_err();
            assert!(is_refusal(&e) && e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn the_selector_tells_the_slots_apart_and_the_hold_runs_from_the_switch() {
        let mut c = cutover();
        let blue = c.selector_for(Slot::Blue);
        assert_eq!(blue[HASH_LABEL], "abc");
        assert!(!blue.contains_key(SLOT_LABEL));
        let green = c.selector_for(Slot::Green);
        assert_eq!(green[SLOT_LABEL], "green");
        assert!(!green.contains_key(HASH_LABEL));
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(c.slot_of(&labels(&[(HASH_LABEL, "abc")])), Some(Slot::Blue));
        assert_eq!(
            c.slot_of(&labels(&[(HASH_LABEL, "zz"), (SLOT_LABEL, "green")])),
            Some(Slot::Green)
        );
        assert_eq!(c.slot_of(&labels(&[(HASH_LABEL, "old")])), None);
        let now = jiff::Timestamp::now();
        assert_eq!(c.hold_left(now), Duration::from_secs(600));
        c.switched = Some(now - jiff::SignedDuration::from_secs(240));
        let left = c.hold_left(now).as_secs();
        assert!((359..=360).contains(&left), "{left}");
        c.switched = Some(now - jiff::SignedDuration::from_secs(3600));
        assert!(c.hold_left(now).is_zero());
        assert_eq!(human(Duration::from_secs(432)), "7m 12s");
        // The state survives the annotation.
        let back: Cutover = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn an_interrupted_step_refuses_others_but_back_and_finish_take_it_over() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target {
            namespace: "mr-ee".into(),
            workload: "router".into(),
            service: None,
        };
        let quiet = |_: String| {};
        let mut j = Journal::open(dir.path(), &t, "start", &quiet).unwrap();
        j.j.images = BTreeMap::from([("router".into(), "r:2".into())]);
        j.step("wait").unwrap();
        drop(j); // killed
        let left = interrupted(dir.path(), "mr-ee", "router").unwrap().unwrap();
        assert_eq!(
            (left.operation.as_str(), left.step.as_str()),
            ("start", "wait")
        );
        let e = Journal::open(dir.path(), &t, "switch", &quiet)
            .err()
            .unwrap();
        assert!(
            is_refusal(&e) && e.to_string().contains("stopped at wait"),
            "{e}"
        );
        let todo = what_to_run(&left, None, &t);
        assert!(
            todo.contains("bluegreen start deploy/router -n mr-ee --image r:2"),
            "{todo}"
        );
        // Resuming keeps the images; finishing takes over and closes it.
        let j = Journal::open(dir.path(), &t, "start", &quiet).unwrap();
        assert_eq!(j.j.images["router"], "r:2");
        let j = Journal::open(dir.path(), &t, "finish", &quiet).unwrap();
        j.close().unwrap();
        assert!(
            interrupted(dir.path(), "mr-ee", "router")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_hold_comes_from_the_config_and_a_bad_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.yaml");
        std::fs::write(&ok, "bluegreen:\n  hold: 2m\n").unwrap();
        let c = crate::config::Config::load(Some(&ok)).unwrap();
        assert_eq!(c.bluegreen.hold(), Duration::from_secs(120));
        assert_eq!(
            crate::config::Config::default().bluegreen.hold(),
            Duration::from_secs(600)
        );
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "bluegreen:\n  hold: soon\n").unwrap();
        let e = crate::config::Config::load(Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bluegreen.hold"), "{e}");
    }
}
