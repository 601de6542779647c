//! The watch layer: one kube-runtime watcher per resource, turned into batched
//! [`ClusterUpdate`]s on a bounded channel. Objects are converted to rows as they arrive
//! and never kept; the owner of [`super::ClusterState`] applies the updates.
//!
//! Batching: changes of one kind are sent together at most every [`BATCH_INTERVAL`] or
//! every [`BATCH_MAX`] changes, and a full (re)list goes out as a single
//! [`Change::Reset`], so a 50,000-pod initial list is one message, not 50,000 — or, when
//! longer than [`PART_ROWS`], as [`Change::Part`]s while it is read and a
//! [`Change::EndParts`] when it ends: the state files the parts as they come, out of sight,
//! and shows the whole list at its end, as it would a reset.

use super::convert::key_of;
use super::model::{
    Change, ClusterUpdate, EventRow, HpaRow, Key, NodeRow, PodRow, ReleaseRevision, Resource,
    Usage, WorkloadKind, WorkloadRow,
};
use super::pb_watch;
use super::slim::{SlimMetrics, SlimPod};
use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Node, Secret};
use kube::api::{Api, ApiResource, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use kube::{Client, Resource as KubeResource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::error::Error as _;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longest time a change waits before it is sent.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(50);
/// Most changes in one update (a [`Change::Reset`] counts as one).
pub const BATCH_MAX: usize = 1_000;
/// Rows of a list in progress sent together as a [`Change::Part`]: the state's owner files
/// them while the rest is read, instead of all of them once the list has ended.
pub const PART_ROWS: usize = 2_000;
/// Page size of the watchers' initial lists.
pub const PAGE_SIZE: u32 = 500;
/// Release Secrets carry whole charts and manifests (up to 1 MiB each): list them in
/// smaller pages so one page cannot take hundreds of megabytes.
pub const SECRET_PAGE_SIZE: u32 = 50;
/// How often metrics.k8s.io is polled.
pub const METRICS_INTERVAL: Duration = Duration::from_secs(10);
/// Longest wait of the first metrics poll for the pod list.
pub const METRICS_FIRST_WAIT: Duration = Duration::from_secs(5);
/// How often metrics.k8s.io is polled while it is absent.
pub const METRICS_ABSENT_INTERVAL: Duration = Duration::from_secs(60);
/// The share of wall time the metrics polls may take: a poll that took `t` waits at least
/// `t × METRICS_DUTY_FACTOR` before the next: the polls take at most a twentieth of the
/// time (of the API server's and of the console's), whatever the cluster's size; a small
/// cluster is still asked every [`METRICS_INTERVAL`].
pub const METRICS_DUTY_FACTOR: u32 = 20;

/// How long to wait after a metrics poll that took `took`.
pub fn metrics_wait(took: Duration, absent: bool) -> Duration {
    let floor = if absent {
        METRICS_ABSENT_INTERVAL
    } else {
        METRICS_INTERVAL
    };
    floor.max(took * METRICS_DUTY_FACTOR)
}

/// The message sent (once) when the metrics API is not served.
pub const METRICS_ABSENT: &str = "metrics.k8s.io not available";

/// The running watch tasks; dropping it stops them.
#[derive(Debug)]
pub struct WatchHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl WatchHandle {
    /// Stops every watch now (also done on drop).
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Stops every watch and waits until none is running, so none can report (or log) a
    /// failure of a client that is going away: a headless command calls this before it
    /// returns, since the runtime's shutdown drops the client's connection worker first.
    pub async fn stop(mut self) {
        self.abort();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.abort();
    }
}

/// How one resource's objects become updates.
struct Feed<K, T> {
    resource: Resource,
    convert: fn(K) -> T,
    wrap: fn(Vec<Change<T>>) -> ClusterUpdate,
    /// Told once the first list has been sent (the pods feed tells the metrics poller).
    listed: Option<Arc<Notify>>,
}

impl<K, T> Feed<K, T> {
    fn new(
        resource: Resource,
        convert: fn(K) -> T,
        wrap: fn(Vec<Change<T>>) -> ClusterUpdate,
    ) -> Self {
        Feed {
            resource,
            convert,
            wrap,
            listed: None,
        }
    }
}

/// The pods' feed: each pod's row is made while its JSON is decoded ([`SlimPod`]).
fn pods_feed(listed: Option<Arc<Notify>>) -> Feed<SlimPod, PodRow> {
    Feed {
        listed,
        ..Feed::new(Resource::Pods, SlimPod::into_row, ClusterUpdate::Pods)
    }
}

/// Starts a watcher per resource and the metrics poller. `namespace: Some(ns)` limits
/// pods, workloads, HPAs, events and release Secrets to `ns` (nodes stay cluster-wide).
/// Must be called within a tokio runtime.
pub fn spawn_watches(
    client: Client,
    namespace: Option<String>,
    tx: Sender<ClusterUpdate>,
) -> WatchHandle {
    let ns = namespace.as_deref();
    let cfg = watcher::Config::default().page_size(PAGE_SIZE);
    // Metrics wait for the pod list: at launch they would compete with it for the API
    // server and the console (a PodMetrics list of every pod), and a usage has no row to
    // go in before it.
    let pods_listed = Arc::new(Notify::new());
    let tasks = vec![
        spawn_feed(
            Api::<Node>::all(client.clone()),
            cfg.clone(),
            Feed::new(
                Resource::Nodes,
                |n| NodeRow::from_node(&n),
                ClusterUpdate::Nodes,
            ),
            tx.clone(),
        ),
        spawn_pb_feed(
            scoped::<SlimPod>(&client, ns),
            cfg.clone(),
            pods_feed(Some(pods_listed.clone())),
            tx.clone(),
        ),
        spawn_feed(
            scoped::<Deployment>(&client, ns),
            cfg.clone(),
            Feed::new(
                Resource::Deployments,
                |o| WorkloadRow::from_deployment(&o),
                |c| ClusterUpdate::Workloads(WorkloadKind::Deployment, c),
            ),
            tx.clone(),
        ),
        spawn_feed(
            scoped::<StatefulSet>(&client, ns),
            cfg.clone(),
            Feed::new(
                Resource::StatefulSets,
                |o| WorkloadRow::from_statefulset(&o),
                |c| ClusterUpdate::Workloads(WorkloadKind::StatefulSet, c),
            ),
            tx.clone(),
        ),
        spawn_feed(
            scoped::<DaemonSet>(&client, ns),
            cfg.clone(),
            Feed::new(
                Resource::DaemonSets,
                |o| WorkloadRow::from_daemonset(&o),
                |c| ClusterUpdate::Workloads(WorkloadKind::DaemonSet, c),
            ),
            tx.clone(),
        ),
        spawn_feed(
            scoped::<HorizontalPodAutoscaler>(&client, ns),
            cfg.clone(),
            Feed::new(
                Resource::Hpas,
                |o| HpaRow::from_hpa(&o),
                ClusterUpdate::Hpas,
            ),
            tx.clone(),
        ),
        spawn_feed(
            scoped::<Event>(&client, ns),
            cfg.clone(),
            Feed::new(
                Resource::Events,
                |o| EventRow::from_event(&o),
                ClusterUpdate::Events,
            ),
            tx.clone(),
        ),
        spawn_pb_feed(
            scoped::<Secret>(&client, ns),
            watcher::Config::default()
                .page_size(SECRET_PAGE_SIZE)
                .labels("owner=helm"),
            // Labels only: the state decodes the newest revision of each release
            // (ClusterState::apply), so 10 revisions × 1,000 releases cost 1,000 decodes.
            Feed::new(
                Resource::Releases,
                |o| ReleaseRevision::from_secret_lazy(&o),
                ClusterUpdate::Releases,
            ),
            tx.clone(),
        ),
        tokio::spawn(poll_metrics(client, namespace, tx, pods_listed)),
    ];
    WatchHandle { tasks }
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: KubeResource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn spawn_feed<K, T>(
    api: Api<K>,
    cfg: watcher::Config,
    feed: Feed<K, T>,
    tx: Sender<ClusterUpdate>,
) -> JoinHandle<()>
where
    K: KubeResource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
    T: Send + 'static,
{
    tokio::spawn(run_feed(api, cfg, feed, tx))
}

/// A feed of pods or release Secrets: its streaming list read by [`pb_watch`] (in
/// protobuf when the server gives it), its paged lists, for a server without streaming
/// lists, by kube's watcher.
fn spawn_pb_feed<K, T>(
    api: Api<K>,
    cfg: watcher::Config,
    feed: Feed<K, T>,
    tx: Sender<ClusterUpdate>,
) -> JoinHandle<()>
where
    K: pb_watch::Watched + Clone + Debug + Sync,
    K::DynamicType: Default,
    T: Send + 'static,
{
    let streaming = pb_watch::watch(
        api.clone().into_client(),
        api.resource_url().to_string(),
        cfg.label_selector.clone(),
    )
    .default_backoff();
    tokio::spawn(run_listings(streaming, api, cfg, feed, tx))
}

/// Drops what the console never reads, as soon as an object arrives.
fn slim<K: KubeResource>(obj: &mut K) {
    obj.managed_fields_mut().clear();
    obj.annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Changes waiting to be sent.
struct Batch<T> {
    changes: Vec<Change<T>>,
    /// When the oldest waiting change must go out.
    due: Option<Instant>,
}

impl<T> Batch<T> {
    fn push(&mut self, change: Change<T>) {
        self.changes.push(change);
        self.due
            .get_or_insert_with(|| Instant::now() + BATCH_INTERVAL);
    }

    fn take(&mut self) -> Vec<Change<T>> {
        self.due = None;
        std::mem::take(&mut self.changes)
    }
}

async fn run_feed<K, T>(
    api: Api<K>,
    cfg: watcher::Config,
    feed: Feed<K, T>,
    tx: Sender<ClusterUpdate>,
) where
    K: KubeResource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
    T: Send + 'static,
{
    let streaming = watcher(api.clone(), cfg.clone().streaming_lists())
        .default_backoff()
        .modify(slim::<K>);
    run_listings(streaming, api, cfg, feed, tx).await
}

/// Pumps a feed's streaming list-watch, or its paged lists if the server refuses that.
async fn run_listings<S, K, T>(
    streaming: S,
    api: Api<K>,
    cfg: watcher::Config,
    feed: Feed<K, T>,
    tx: Sender<ClusterUpdate>,
) where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    K: KubeResource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
    T: Send + 'static,
{
    // A streaming list (a watch that sends the current objects first, `sendInitialEvents`)
    // lets the console read objects while the server is still writing them; paged lists
    // wait for each page. A server without it (before Kubernetes 1.27, or with the
    // WatchList feature off) refuses the request, and the feed lists in pages instead.
    if pump(streaming, &feed, &tx, Listing::Streaming).await == Ended::StreamingRefused {
        tracing::info!(
            resource = feed.resource.name(),
            "the API server refused a streaming list: listing in pages"
        );
        let paged = watcher(api, cfg).default_backoff().modify(slim::<K>);
        pump(paged, &feed, &tx, Listing::Paged).await;
    }
}

/// How a feed's watcher makes its initial list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listing {
    /// A watch with `sendInitialEvents=true`, which an older server refuses.
    Streaming,
    /// Paged list requests, then a watch.
    Paged,
}

/// Why a feed's pump returned.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The stream ended or the receiver went away.
    Done,
    /// The server refused the streaming list before anything was listed.
    StreamingRefused,
}

/// The server does not serve streaming lists: it refused the watch's parameters
/// (`sendInitialEvents`, `resourceVersionMatch`) as invalid.
fn refuses_streaming(e: &watcher::Error) -> bool {
    let code = match e {
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    code == 400 || code == 422
}

/// A (re)list in progress: its rows not yet sent, and whether parts of it have been.
struct ListInProgress<T> {
    rows: Option<Vec<T>>,
    parted: bool,
}

impl<T> Default for ListInProgress<T> {
    fn default() -> Self {
        ListInProgress {
            rows: None,
            parted: false,
        }
    }
}

/// What filing a watcher event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filed {
    /// A change went into the batch, or a list's row was kept.
    Other,
    /// A part of the list in progress went into the batch: it goes out now.
    Part,
    /// The list ended: the batch holds it whole (or its last part).
    ListEnded,
}

impl<T> ListInProgress<T> {
    /// Files one event: a list's rows are kept until it ends or a part is full; a change
    /// goes into the batch.
    fn file<K: KubeResource>(
        &mut self,
        event: watcher::Event<K>,
        feed: &Feed<K, T>,
        batch: &mut Batch<T>,
    ) -> Filed {
        match event {
            watcher::Event::Init => {
                self.rows = Some(Vec::new());
                self.parted = false;
            }
            watcher::Event::InitApply(obj) => {
                let rows = self.rows.get_or_insert_with(Vec::new);
                rows.push((feed.convert)(obj));
                if rows.len() >= PART_ROWS {
                    let rows = std::mem::take(rows);
                    let first = !std::mem::replace(&mut self.parted, true);
                    batch.push(Change::Part { first, rows });
                    return Filed::Part;
                }
            }
            watcher::Event::InitDone => {
                let rows = self.rows.take().unwrap_or_default();
                batch.push(if std::mem::take(&mut self.parted) {
                    Change::EndParts(rows)
                } else {
                    Change::Reset(rows)
                });
                return Filed::ListEnded;
            }
            watcher::Event::Apply(obj) => batch.push(Change::Upsert((feed.convert)(obj))),
            watcher::Event::Delete(obj) => batch.push(Change::Delete(key_of(obj.meta()))),
        }
        Filed::Other
    }
}

/// Turns a watcher's events into batched updates until the stream ends or the receiver
/// goes away.
async fn pump<S, K, T>(
    stream: S,
    feed: &Feed<K, T>,
    tx: &Sender<ClusterUpdate>,
    listing_by: Listing,
) -> Ended
where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    K: KubeResource + Send + 'static,
    T: Send + 'static,
{
    let mut stream = std::pin::pin!(stream);
    let mut batch = Batch {
        changes: Vec::new(),
        due: None,
    };
    let mut list = ListInProgress::default();
    // An error was sent: the next good event clears it at once.
    let mut failing = false;
    // The first list has been sent.
    let mut listed = false;
    loop {
        let far = Instant::now() + Duration::from_secs(3600);
        let next = tokio::select! {
            ev = stream.next() => ev,
            _ = tokio::time::sleep_until(batch.due.unwrap_or(far)), if batch.due.is_some() => {
                if tx.send((feed.wrap)(batch.take())).await.is_err() {
                    return Ended::Done;
                }
                continue;
            }
        };
        match next {
            None => {
                if !batch.changes.is_empty() {
                    let _ = tx.send((feed.wrap)(batch.take())).await;
                }
                return Ended::Done;
            }
            Some(Err(e)) => {
                if listing_by == Listing::Streaming && !listed && refuses_streaming(&e) {
                    return Ended::StreamingRefused;
                }
                if let Some(message) = describe_watch_error(&e) {
                    tracing::warn!(resource = feed.resource.name(), "watch failed: {message}");
                    failing = true;
                    if tx
                        .send(ClusterUpdate::Error(feed.resource, message))
                        .await
                        .is_err()
                    {
                        return Ended::Done;
                    }
                }
                continue;
            }
            Some(Ok(event)) => {
                // Data flows again: an empty update clears the error (once listed, so
                // that it cannot mark the resource synced before its first list).
                let mut flush_now = std::mem::take(&mut failing) && listed;
                let filed = list.file(event, feed, &mut batch);
                if filed == Filed::ListEnded {
                    listed = true;
                    flush_now = true;
                }
                // (A part sent does not tell the metrics poller the pods are listed.)
                if (flush_now || filed == Filed::Part || batch.changes.len() >= BATCH_MAX)
                    && tx.send((feed.wrap)(batch.take())).await.is_err()
                {
                    return Ended::Done;
                }
                if flush_now
                    && listed
                    && let Some(n) = &feed.listed
                {
                    n.notify_one();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

fn metrics_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Polls metrics.k8s.io (it cannot be watched): pods (in `namespace`, or all) and nodes.
async fn poll_metrics(
    client: Client,
    namespace: Option<String>,
    tx: Sender<ClusterUpdate>,
    pods_listed: Arc<Notify>,
) {
    let pods_ar = metrics_resource("PodMetrics", "pods");
    let nodes_ar = metrics_resource("NodeMetrics", "nodes");
    let pods_api: Api<SlimMetrics> = match &namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &pods_ar),
        None => Api::all_with(client.clone(), &pods_ar),
    };
    let nodes_api: Api<SlimMetrics> = Api::all_with(client, &nodes_ar);
    let lp = ListParams::default();
    let mut absent_reported = false;
    // The first poll waits for the pod list (or a while, should it never come).
    let _ = tokio::time::timeout(METRICS_FIRST_WAIT, pods_listed.notified()).await;
    loop {
        let asked = tokio::time::Instant::now();
        let (pods, nodes) = tokio::join!(pods_api.list(&lp), nodes_api.list(&lp));
        let took = asked.elapsed();
        let update = match pods {
            Ok(list) => {
                absent_reported = false;
                let pods: BTreeMap<Key, Usage> = list
                    .items
                    .iter()
                    .filter_map(super::convert::pod_metrics_usage)
                    .collect();
                // Node metrics may be forbidden to a namespaced user: pods alone still help.
                let nodes: BTreeMap<String, Usage> = nodes
                    .map(|l| {
                        l.items
                            .iter()
                            .filter_map(super::convert::node_metrics_usage)
                            .collect()
                    })
                    .unwrap_or_default();
                Some(ClusterUpdate::Metrics { pods, nodes })
            }
            Err(e) if api_code(&e) == Some(404) => {
                if absent_reported {
                    None
                } else {
                    absent_reported = true;
                    Some(ClusterUpdate::Error(
                        Resource::Metrics,
                        METRICS_ABSENT.into(),
                    ))
                }
            }
            Err(e) => Some(ClusterUpdate::Error(
                Resource::Metrics,
                describe_kube_error(&e),
            )),
        };
        if let Some(u) = update
            && tx.send(u).await.is_err()
        {
            return;
        }
        tokio::time::sleep(metrics_wait(took, absent_reported)).await;
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

fn describe_status(s: &kube::core::Status) -> String {
    let what = match s.code {
        401 => "unauthorized".to_string(),
        403 => "forbidden".to_string(),
        404 => "not found".to_string(),
        c if c >= 500 => format!("server error {c}"),
        0 => "error".to_string(),
        c if s.reason.is_empty() => format!("error {c}"),
        c => format!("{} ({c})", s.reason),
    };
    if s.message.is_empty() {
        what
    } else {
        format!("{what}: {}", s.message)
    }
}

/// A kube client error as one human line: the API's status, or the causes of a
/// transport error ("cannot reach the API server: … Connection refused").
pub fn describe_kube_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => describe_status(s),
        kube::Error::HyperError(_) | kube::Error::Service(_) => match e.source() {
            // The wrapper's own text only repeats its source's.
            Some(cause) => format!("cannot reach the API server: {}", error_chain(cause)),
            None => format!("cannot reach the API server: {e}"),
        },
        _ => error_chain(e),
    }
}

/// `e` and its sources joined by ": ", skipping repeated text.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            // A wrapper often repeats its source ("HyperError: …"): keep the longer one.
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// A watcher error as one line, or None for routine ones (410 Gone: the watcher re-lists).
fn describe_watch_error(e: &watcher::Error) -> Option<String> {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => Some(describe_kube_error(e)),
        watcher::Error::WatchError(s) if s.code == 410 => None,
        watcher::Error::WatchError(s) => Some(describe_status(s)),
        watcher::Error::NoResourceVersion => Some(e.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// The kube Config for a kubeconfig file (or KUBECONFIG, or ~/.kube/config) and
/// context (or the current one), with the context's name.
pub async fn config_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<(kube::Config, String)> {
    let read = |path: &Path| {
        if !path.exists() {
            anyhow::bail!("kubeconfig {} does not exist", path.display());
        }
        Kubeconfig::read_from(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read kubeconfig {}: {}",
                path.display(),
                error_chain(&e)
            )
        })
    };
    let kc = match kubeconfig {
        Some(path) => read(path)?,
        None => match Kubeconfig::from_env()
            .map_err(|e| anyhow::anyhow!("cannot read KUBECONFIG: {}", error_chain(&e)))?
        {
            Some(kc) => kc,
            None => {
                let default =
                    std::env::var_os("HOME").map(|h| Path::new(&h).join(".kube").join("config"));
                match default.filter(|p| p.exists()) {
                    Some(path) => read(&path)?,
                    None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
                        let config = kube::Config::incluster()
                            .context("no kubeconfig, and the in-cluster configuration failed")?;
                        return Ok((config, "in-cluster".into()));
                    }
                    None => anyhow::bail!(
                        "no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or pass --kubeconfig FILE"
                    ),
                }
            }
        },
    };
    let name = match context {
        Some(c) => c.to_string(),
        None => kc
            .current_context
            .clone()
            .filter(|c| !c.is_empty())
            .context("the kubeconfig has no current-context: pass --context NAME")?,
    };
    if !kc.contexts.iter().any(|c| c.name == name) {
        let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "context {name:?} is not in the kubeconfig (contexts: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let options = KubeConfigOptions {
        context: Some(name.clone()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .with_context(|| format!("cannot use context {name:?}"))?;
    // A plain-HTTP server (the sandbox's) is never reached over TLS: no trust roots to
    // load. Without this kube reads the system's certificate store when it builds the
    // client, several milliseconds of every launch before the first request.
    if config.cluster_url.scheme_str() == Some("http") && config.root_cert.is_none() {
        config.root_cert = Some(Vec::new());
    }
    Ok((config, name))
}

/// A client for a kubeconfig file (or KUBECONFIG, or ~/.kube/config) and context (or
/// the current one), with the context's name.
pub async fn client_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<(Client, String)> {
    let (config, name) = config_for(kubeconfig, context).await?;
    let client = Client::try_from(config)
        .with_context(|| format!("cannot build a client for context {name:?}"))?;
    Ok((client, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn metrics_polls_slow_down_as_they_get_costlier() {
        // A small cluster: every 10 s (every 60 s while the metrics API is absent).
        assert_eq!(
            metrics_wait(Duration::from_millis(40), false),
            METRICS_INTERVAL
        );
        assert_eq!(
            metrics_wait(Duration::from_millis(40), true),
            METRICS_ABSENT_INTERVAL
        );
        // A list that took 1.5 s waits 30 s: the polls take at most 1/20 of the time.
        assert_eq!(
            metrics_wait(Duration::from_millis(1500), false),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn status_errors_read_well() {
        let s = kube::core::Status::failure(
            "pods is forbidden: User \"dev\" cannot list resource \"pods\"",
            "Forbidden",
        )
        .with_code(403);
        assert_eq!(
            describe_status(&s),
            "forbidden: pods is forbidden: User \"dev\" cannot list resource \"pods\""
        );
        let s = kube::core::Status::failure("etcdserver: request timed out", "InternalError")
            .with_code(500);
        assert_eq!(
            describe_status(&s),
            "server error 500: etcdserver: request timed out"
        );
        let gone = watcher::Error::WatchError(Box::new(
            kube::core::Status::failure("too old resource version", "Expired").with_code(410),
        ));
        assert_eq!(describe_watch_error(&gone), None);
    }

    #[test]
    fn error_chain_skips_repeats() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "client error: {}", self.0)
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ));
        assert_eq!(error_chain(&e), "client error: Connection refused");
    }

    fn pod(name: &str) -> Pod {
        Pod {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                managed_fields: Some(vec![Default::default()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn whole_pods_feed() -> Feed<Pod, PodRow> {
        Feed::new(
            Resource::Pods,
            |p| PodRow::from_pod(&p),
            ClusterUpdate::Pods,
        )
    }

    /// A pod as the API server sends it, decoded as the pod watch decodes it.
    fn slim_pod(name: &str, phase: &str) -> SlimPod {
        serde_json::from_str(&format!(
            r#"{{"metadata": {{"name": "{name}", "namespace": "shop", "resourceVersion": "7"}},
                "spec": {{"nodeName": "n1", "containers": [{{"name": "app"}}]}},
                "status": {{"phase": {phase}}}}}"#
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn slim_pods_are_listed_in_order_and_their_changes_follow() {
        type Item = Result<watcher::Event<SlimPod>, watcher::Error>;
        let mut events: Vec<Item> = vec![Ok(watcher::Event::Init)];
        events.extend((0..300).map(|i| {
            let pod = slim_pod(&format!("p{i:03}"), r#""Running""#);
            Ok(watcher::Event::InitApply(pod))
        }));
        events.push(Ok(watcher::Event::InitDone));
        events.push(Ok(watcher::Event::Apply(slim_pod("late", r#""Pending""#))));
        events.push(Ok(watcher::Event::Delete(slim_pod("p007", r#""Running""#))));
        let stream = futures::stream::iter(events).chain(futures::stream::pending());
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task =
            tokio::spawn(
                async move { pump(stream, &pods_feed(None), &tx, Listing::Streaming).await },
            );
        let first = next(&mut rx).await;
        let [Change::Reset(rows)] = &first[..] else {
            panic!("expected one reset, got {first:?}")
        };
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let expected: Vec<String> = (0..300).map(|i| format!("p{i:03}")).collect();
        assert_eq!(names, expected);
        assert!(
            rows.iter()
                .all(|r| r.status.text == "Running" && r.node == "n1")
        );
        let later = next(&mut rx).await;
        assert!(
            matches!(&later[0], Change::Upsert(r) if r.name == "late" && r.status.text == "Pending")
        );
        assert_eq!(
            later[1],
            Change::Delete(("shop".to_string(), "p007".to_string()))
        );
        task.abort();
    }

    #[test]
    fn a_slim_pod_keeps_what_the_watcher_reads_and_its_row() {
        use kube::Resource;
        let pod = slim_pod("p1", r#""Running""#);
        assert_eq!(pod.meta().resource_version.as_deref(), Some("7"));
        assert_eq!(key_of(pod.meta()), ("shop".to_string(), "p1".to_string()));
        assert_eq!(pod.into_row().name, "p1");
    }

    async fn next(rx: &mut tokio::sync::mpsc::Receiver<ClusterUpdate>) -> Vec<Change<PodRow>> {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(ClusterUpdate::Pods(c))) => c,
            other => panic!("expected a pods update, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn long_lists_come_in_parts_and_changes_are_batched() {
        type Item = Result<watcher::Event<Pod>, watcher::Error>;
        let mut events: Vec<Item> = vec![Ok(watcher::Event::Init)];
        events.extend((0..2500).map(|i| Ok(watcher::Event::InitApply(pod(&format!("p{i}"))))));
        events.push(Ok(watcher::Event::InitDone));
        events.extend((0..2500).map(|i| Ok(watcher::Event::Apply(pod(&format!("q{i}"))))));
        events.push(Ok(watcher::Event::Delete(pod("p0"))));
        let stream = futures::stream::iter(events).chain(futures::stream::pending());
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task =
            tokio::spawn(
                async move { pump(stream, &whole_pods_feed(), &tx, Listing::Paged).await },
            );

        // 2,500 rows: a part of PART_ROWS as soon as it is read, then the end of the list.
        match &next(&mut rx).await[..] {
            [Change::Part { first: true, rows }] => {
                assert_eq!(rows.len(), PART_ROWS);
                assert_eq!(rows[0].name, "p0");
            }
            other => panic!("expected the first part, got {other:?}"),
        }
        match &next(&mut rx).await[..] {
            [Change::EndParts(rows)] => {
                assert_eq!(rows.len(), 2500 - PART_ROWS);
                assert_eq!(rows[0].name, format!("p{PART_ROWS}"));
            }
            other => panic!("expected the end of the parts, got {other:?}"),
        }
        assert_eq!(next(&mut rx).await.len(), BATCH_MAX);
        assert_eq!(next(&mut rx).await.len(), BATCH_MAX);
        // The rest goes out when the batch interval ends, although the stream is idle.
        let started = Instant::now();
        let last = next(&mut rx).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(last.len(), 501);
        assert_eq!(
            last.last(),
            Some(&Change::Delete(("shop".to_string(), "p0".to_string())))
        );
        task.abort();
    }

    #[tokio::test]
    async fn a_list_begun_again_after_a_part_ends_as_a_reset_of_its_own_rows() {
        type Item = Result<watcher::Event<Pod>, watcher::Error>;
        let mut events: Vec<Item> = vec![Ok(watcher::Event::Init)];
        events.extend((0..PART_ROWS).map(|i| Ok(watcher::Event::InitApply(pod(&format!("p{i}"))))));
        // The watch failed and lists again, this time few rows.
        events.push(Ok(watcher::Event::Init));
        events.push(Ok(watcher::Event::InitApply(pod("again"))));
        events.push(Ok(watcher::Event::InitDone));
        let stream = futures::stream::iter(events).chain(futures::stream::pending());
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task =
            tokio::spawn(
                async move { pump(stream, &whole_pods_feed(), &tx, Listing::Paged).await },
            );
        assert!(matches!(
            &next(&mut rx).await[..],
            [Change::Part { first: true, .. }]
        ));
        match &next(&mut rx).await[..] {
            [Change::Reset(rows)] => assert_eq!(rows.len(), 1),
            other => panic!("expected a reset of the new list alone, got {other:?}"),
        }
        task.abort();
    }

    #[tokio::test]
    async fn errors_are_reported_and_cleared() {
        type Item = Result<watcher::Event<Pod>, watcher::Error>;
        let events: Vec<Item> = vec![
            Err(watcher::Error::InitialListFailed(kube::Error::Api(
                Box::new(
                    kube::core::Status::failure("pods is forbidden", "Forbidden").with_code(403),
                ),
            ))),
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(pod("a"))),
            Ok(watcher::Event::InitDone),
            Err(watcher::Error::WatchError(Box::new(
                kube::core::Status::failure("too old", "Expired").with_code(410),
            ))),
            Err(watcher::Error::WatchFailed(kube::Error::Api(Box::new(
                kube::core::Status::failure("etcd timeout", "InternalError").with_code(500),
            )))),
            Ok(watcher::Event::Init),
        ];
        let stream = futures::stream::iter(events).chain(futures::stream::pending());
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task =
            tokio::spawn(
                async move { pump(stream, &whole_pods_feed(), &tx, Listing::Paged).await },
            );
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(
                tokio::time::timeout(Duration::from_secs(5), rx.recv())
                    .await
                    .expect("an update")
                    .expect("open"),
            );
        }
        assert_eq!(
            got[0],
            ClusterUpdate::Error(Resource::Pods, "forbidden: pods is forbidden".into())
        );
        assert!(
            matches!(&got[1], ClusterUpdate::Pods(c) if matches!(&c[..], [Change::Reset(r)] if r.len() == 1))
        );
        // 410 Gone is routine and not reported.
        assert_eq!(
            got[2],
            ClusterUpdate::Error(Resource::Pods, "server error 500: etcd timeout".into())
        );
        // The next good event (a re-list starting) clears the error with an empty update.
        assert_eq!(got[3], ClusterUpdate::Pods(vec![]));
        task.abort();
    }

    fn invalid(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure(
                "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
                "Invalid",
            )
            .with_code(code),
        ))
    }

    #[tokio::test]
    async fn a_server_refusing_streaming_lists_is_listed_in_pages() {
        type Item = Result<watcher::Event<Pod>, watcher::Error>;
        let refused = || -> Vec<Item> { vec![Err(watcher::Error::WatchStartFailed(invalid(422)))] };
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let stream = futures::stream::iter(refused()).chain(futures::stream::pending());
        let ended = pump(stream, &whole_pods_feed(), &tx, Listing::Streaming).await;
        assert_eq!(ended, Ended::StreamingRefused);
        // Nothing reaches the screen: the feed goes on with paged lists.
        assert!(rx.try_recv().is_err());
        // A paged list's 422 is an error like any other.
        let stream = futures::stream::iter(refused()).chain(futures::stream::pending());
        let task =
            tokio::spawn(
                async move { pump(stream, &whole_pods_feed(), &tx, Listing::Paged).await },
            );
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(
            got,
            Ok(Some(ClusterUpdate::Error(Resource::Pods, _)))
        ));
        task.abort();
    }

    #[tokio::test]
    async fn a_streaming_error_after_the_list_is_reported_not_refused() {
        type Item = Result<watcher::Event<Pod>, watcher::Error>;
        let events: Vec<Item> = vec![
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(pod("a"))),
            Ok(watcher::Event::InitDone),
            Err(watcher::Error::WatchStartFailed(invalid(400))),
        ];
        let stream = futures::stream::iter(events).chain(futures::stream::pending());
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let listed = Arc::new(Notify::new());
        let feed = Feed {
            listed: Some(listed.clone()),
            ..whole_pods_feed()
        };
        let task = tokio::spawn(async move { pump(stream, &feed, &tx, Listing::Streaming).await });
        assert!(matches!(next(&mut rx).await[..], [Change::Reset(ref r)] if r.len() == 1));
        // The metrics poller is told the pods are listed.
        tokio::time::timeout(Duration::from_secs(5), listed.notified())
            .await
            .expect("told once listed");
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(
            got,
            Ok(Some(ClusterUpdate::Error(Resource::Pods, _)))
        ));
        task.abort();
    }

    #[test]
    fn slim_drops_managed_fields() {
        let mut p = pod("a");
        p.metadata.annotations = Some(BTreeMap::from([
            (
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                "{}".to_string(),
            ),
            ("keep".to_string(), "me".to_string()),
        ]));
        slim(&mut p);
        assert_eq!(p.metadata.managed_fields, Some(vec![]));
        assert_eq!(
            p.metadata.annotations,
            Some(BTreeMap::from([("keep".to_string(), "me".to_string())]))
        );
    }

    #[tokio::test]
    async fn absent_metrics_api_is_reported_once() {
        // An API server without metrics.k8s.io: every path is 404.
        let app = axum::Router::new().fallback(|| async {
            (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "message": "the server could not find the requested resource",
                    "reason": "NotFound", "code": 404
                })),
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client =
            Client::try_from(kube::Config::new(url.parse().expect("url"))).expect("client");
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        // The pods are listed: the first poll goes at once.
        let listed = Arc::new(Notify::new());
        listed.notify_one();
        let poller = tokio::spawn(poll_metrics(client, None, tx, listed));
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an update");
        assert_eq!(
            first,
            Some(ClusterUpdate::Error(
                Resource::Metrics,
                METRICS_ABSENT.into()
            ))
        );
        // Polled slowly afterwards, and not reported again.
        assert!(
            tokio::time::timeout(Duration::from_millis(1500), rx.recv())
                .await
                .is_err()
        );
        poller.abort();
        server.abort();
    }

    #[tokio::test]
    async fn missing_kubeconfig_file_is_a_clear_error() {
        let err = config_for(Some(Path::new("/nonexistent/helmdeck/kubeconfig")), None)
            .await
            .expect_err("no such file");
        let text = format!("{err:#}");
        assert!(
            text.contains("kubeconfig /nonexistent/helmdeck/kubeconfig does not exist"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn unknown_context_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        crate::sandbox::server::write_kubeconfig(&path, "http://127.0.0.1:1").expect("write");
        let err = config_for(Some(&path), Some("prod"))
            .await
            .expect_err("unknown context");
        let text = format!("{err:#}");
        assert!(text.contains("\"prod\" is not in the kubeconfig"), "{text}");
        assert!(text.contains("helmdeck-sandbox"), "{text}");
        let (config, name) = config_for(Some(&path), None)
            .await
            .expect("current context");
        assert_eq!(name, "helmdeck-sandbox");
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:1/");
    }
}
