//! The console's state and behaviour, with no I/O: keys and messages go in, effects (work
//! for the runtime to do on background tasks) come out, and `draw` renders the current
//! state. One owner of UI state; the watch layer and the tasks only send messages.

use crate::core::cluster::object::{ObjectFormat, ObjectKind};
use crate::core::cluster::{ClusterState, ClusterUpdate, Key, WorkloadKind};
use crate::core::topics::plan::PartitionLimit;
use crate::tui::keymap::{Action, KeyMap, Screen};
use crate::tui::theme::Theme;
use crate::tui::views::tables::{self, Filter, RowIndex, RowRef};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{HashMap, VecDeque};

/// Work for the runtime: every one of these runs off the UI thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Ask what scaling a workload involves (HPA, current replicas).
    PlanScale {
        kind: WorkloadKind,
        namespace: String,
        name: String,
    },
    Scale {
        kind: WorkloadKind,
        namespace: String,
        name: String,
        replicas: i32,
    },
    SetHpaRange {
        namespace: String,
        name: String,
        min: i32,
        max: i32,
    },
    Cordon(String),
    Uncordon(String),
    Drain(String),
    /// Delete a pod (asked first, named in the question).
    DeletePod {
        key: Key,
    },
    /// `kubectl rollout restart` of a workload: its pod template's `restartedAt` annotation
    /// set to now (asked first).
    Restart {
        kind: WorkloadKind,
        namespace: String,
        name: String,
    },
    /// Put a link on the clipboard: OSC 52 written through the terminal ([`crate::tui::links`]).
    CopyLink {
        url: String,
    },
    /// Read the version inventory of the configured environments, for [`App::inventory`].
    LoadInventory,
    /// Prepare the review of a promotion ([`crate::tui::promote`]); it comes back as
    /// [`Msg::PromotionPrepared`].
    PreparePromotion(crate::tui::promote::PromotionAsk),
    /// Run a reviewed promotion on the target environment's `context`; its events come
    /// back as [`Msg::ChangeEvent`].
    RunPromotion {
        context: String,
        plan: Box<crate::core::workflows::upgrade::Plan>,
    },
    /// Read a blue/green cutover (with `step`, switch or go back first), for
    /// [`App::bluegreen`].
    BlueGreen {
        namespace: String,
        workload: String,
        step: Option<crate::tui::bluegreen::BgStep>,
    },
    /// Open a link with the system's opener (`xdg-open` / `open`), detached.
    OpenLink {
        name: String,
        url: String,
    },
    /// Resolve a kind through discovery and list it as the server's Table, for
    /// [`App::resource`]; `namespace` None lists across all namespaces.
    ListResource {
        name: String,
        namespace: Option<String>,
        /// What discovery resolved the name to, once known (a refresh).
        resolved: Option<crate::core::cluster::table::ResourceRef>,
    },
    /// Fetch an object as YAML or described, for [`App::object`].
    FetchObject {
        kind: ObjectKind,
        namespace: String,
        name: String,
        format: ObjectFormat,
    },
    /// Fetch a pod in full and start its log stream.
    OpenPod {
        key: Key,
    },
    Logs {
        key: Key,
        container: Option<String>,
        previous: bool,
        /// Each line prefixed with the kubelet's timestamp (`kubectl logs --timestamps`).
        timestamps: bool,
    },
    StopLogs,
    /// Write the log shown to `file` in the dump directory of `context`
    /// ([`crate::tui::logview`]); the path written comes back as [`Msg::Done`].
    SaveLog {
        context: String,
        file: String,
        text: String,
        lines: usize,
    },
    SwitchContext(String),
    /// Fetch a release's history from its release Secrets.
    ReleaseHistory {
        namespace: String,
        name: String,
    },
    /// The chart versions a release could move to ([`crate::tui::upgrade`]).
    UpgradeVersions {
        namespace: String,
        name: String,
    },
    /// Preflight of a change (an upgrade to a version, a rollback to a revision).
    PrepareChange {
        namespace: String,
        name: String,
        target: crate::core::workflows::upgrade::Target,
        /// The topic plan of the release's platform, from the Topics data (`None`: no
        /// topic plan for it).
        topics: Option<crate::core::workflows::upgrade::TopicCheck>,
        /// Values to use instead of the current ones (edited in the wizard).
        values: Option<String>,
    },
    /// Open the values in the user's editor ($VISUAL, $EDITOR, else vi), the console
    /// suspended meanwhile; the result comes back as [`Msg::ValuesEdited`].
    EditValues {
        yaml: String,
    },
    /// Run a reviewed change; its events come back as [`Msg::ChangeEvent`].
    RunChange(Box<crate::core::workflows::upgrade::Plan>),
    /// Verify an interrupted change (its journal); the result comes back as
    /// [`Msg::Recovered`].
    RecoverVerify {
        namespace: String,
        name: String,
    },
    /// Give up an interrupted change so it can be rolled back; then the rollback's review
    /// opens ([`Msg::JournalAbandoned`]).
    RecoverRollback {
        namespace: String,
        name: String,
    },
    /// List a release's backups.
    ListBackups {
        namespace: String,
        name: String,
    },
    /// Create topics of the plan on the topic source (never forced: `refused` are the
    /// reserved names left out, for the outcome's message).
    CreateTopics {
        topics: Vec<crate::core::topics::NewTopicSpec>,
        refused: Vec<String>,
    },
}

/// What a scale dialog learned about its workload.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleInfo {
    pub current: i32,
    /// (hpa name, min, max) when an HPA manages the workload.
    pub hpa: Option<(String, i32, i32)>,
}

/// A pod's containers, as the detail screen shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub name: String,
    pub image: String,
    pub state: String,
    pub ready: bool,
    pub restarts: i32,
    pub last_termination: Option<String>,
}

/// Results coming back from the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Cluster(ClusterUpdate),
    ScalePlanned(Result<ScaleInfo, String>),
    /// A write finished: Ok(message) or Err(message).
    Done {
        what: String,
        result: Result<String, String>,
    },
    /// Progress of a long task (scale converging, drain), by task name.
    Progress {
        what: String,
        text: String,
    },
    Pod {
        key: Key,
        result: Result<Vec<ContainerInfo>, String>,
    },
    LogLines(Vec<String>),
    LogEnded(Option<String>),
    Contexts(Vec<String>),
    /// A refresh of the topic source (polled: Kafka offsets have no watch).
    Topics(crate::core::topics::TopicUpdate),
    /// A release's history, fetched for [`Effect::ReleaseHistory`].
    ReleaseHistory {
        namespace: String,
        name: String,
        result: Result<crate::core::release::ReleaseHistory, String>,
    },
    /// The deployed chart version and the newer ones, for [`Effect::UpgradeVersions`].
    UpgradeVersions {
        namespace: String,
        name: String,
        result: Result<(String, Vec<crate::core::releases::repo::VersionOffer>), String>,
    },
    /// A prepared change, for [`Effect::PrepareChange`].
    ChangePlanned(Result<Box<crate::core::workflows::upgrade::Plan>, String>),
    /// A step, output line or progress of a running change.
    ChangeEvent(crate::core::workflows::upgrade::Event),
    /// The values after the editor: `None` when unchanged, an error when the editor failed.
    ValuesEdited(Result<Option<String>, String>),
    /// The values repo's commits of a release (asked for with its history).
    ValuesLog {
        namespace: String,
        name: String,
        result: Result<Vec<crate::core::releases::values_repo::ValuesCommit>, String>,
    },
    /// What verifying an interrupted change found.
    Recovered {
        namespace: String,
        name: String,
        result: Result<crate::core::workflows::upgrade::Recovery, String>,
    },
    /// An interrupted change given up: roll back to `Ok(Ok(revision))`; `Ok(Err(why))`
    /// when nothing had been applied (closed, nothing to roll back).
    JournalAbandoned {
        namespace: String,
        name: String,
        result: Result<Result<i64, String>, String>,
    },
    /// Unfinished changes found at start-up (their journals).
    Journals(Result<Vec<crate::core::workflows::journal::Journal>, String>),
    /// When each release was last backed up, listed every minute.
    BackupAges(crate::core::releases::backup_store::BackupAges),
    /// A release's backups, for [`Effect::ListBackups`].
    Backups {
        namespace: String,
        name: String,
        result: Result<Vec<crate::core::releases::backup::BackupInfo>, String>,
    },
    /// The version inventory, for [`Effect::LoadInventory`].
    Inventory(Result<crate::core::inventory::Inventory, String>),
    /// A promotion's review, for [`Effect::PreparePromotion`].
    PromotionPrepared(Result<Box<crate::tui::promote::Review>, String>),
    /// A blue/green cutover read, for [`Effect::BlueGreen`], with the step's outcome.
    BlueGreen {
        workload: String,
        status: Result<Box<crate::core::workflows::bluegreen::Status>, String>,
        outcome: Option<Result<String, String>>,
    },
    /// A kind listed as a Table, for [`Effect::ListResource`].
    Resource {
        name: String,
        namespace: Option<String>,
        result: Result<crate::core::cluster::table::ResourceTable, String>,
    },
    /// An object as text, for [`Effect::FetchObject`].
    Object {
        kind: ObjectKind,
        namespace: String,
        name: String,
        format: ObjectFormat,
        result: Result<String, String>,
    },
    /// The outcome of [`Effect::CreateTopics`]: per topic, or an error before any.
    TopicsCreated {
        result: Result<Vec<crate::core::topics::Created>, String>,
        refused: Vec<String>,
    },
}

/// A dialog on top of the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    Scale {
        kind: WorkloadKind,
        namespace: String,
        name: String,
        input: String,
        info: Option<ScaleInfo>,
        /// Typing into the HPA's min (false) or max (true) when an HPA manages it.
        editing_max: bool,
        max_input: String,
        error: Option<String>,
        busy: bool,
        confirm_zero: bool,
        /// Set when the replicas asked for exceed the partitions of a topic the workload
        /// consumes: enter (or y) again scales anyway, any edit clears it.
        confirm_idle: Option<PartitionLimit>,
    },
    Confirm {
        question: String,
        effect: Effect,
    },
    /// `create --missing` from the Topics screen: what will be created, and what will not.
    CreateTopics {
        /// Where (the topic source, secrets masked).
        source: String,
        platform: String,
        topics: Vec<crate::core::topics::NewTopicSpec>,
        /// Missing topics with reserved names, and the reserved name: not created.
        refused: Vec<(String, String)>,
        /// Topics of the plan whose names break Kafka's rules, and why: not created.
        invalid: Vec<(String, String)>,
    },
}

/// How keys are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Command(String),
    Filter(String),
    Help,
    Dialog(Dialog),
    /// Typing a search in the log pane.
    LogSearch(String),
}

/// A pod's detail screen.
#[derive(Debug, Clone, PartialEq)]
pub struct PodDetail {
    pub key: Key,
    pub containers: Option<Result<Vec<ContainerInfo>, String>>,
    pub container: Option<String>,
    pub logs: VecDeque<String>,
    pub follow: bool,
    pub previous: bool,
    pub search: Option<String>,
    /// Lines scrolled back from the end when not following.
    pub scroll: usize,
    pub log_error: Option<String>,
    pub log_ended: bool,
    /// Long lines wrapped (`w`) rather than cut at the pane's edge.
    pub wrap: bool,
    /// Lines carry the kubelet's timestamps (`t`).
    pub timestamps: bool,
    /// The pod's row when its containers were last fetched.
    pub seen: Option<crate::core::cluster::PodRow>,
}

/// Any kind discovery knows (`:svc`, `:cm`, `:job`, a custom resource…) listed over the
/// screen as the server's Table output; esc closes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceView {
    /// As typed after `:`.
    pub name: String,
    pub namespace: Option<String>,
    /// None until the first list arrives; kept while a refresh is under way.
    pub table: Option<Result<crate::core::cluster::table::ResourceTable, String>>,
    pub selected: usize,
    /// A list is under way.
    pub loading: bool,
    /// Seconds (ticks) since the last list arrived.
    pub age: u32,
}

/// How often the generic resource view lists again, in seconds: it has no watch (one per
/// arbitrary kind is more than an incident glance needs), so it polls while it is open.
pub const RESOURCE_REFRESH_SECS: u32 = 5;
/// How long each tick may spend decoding older release revisions (the roll-up needs only
/// each release's newest): short enough that keys still answer within 50 ms; about 800
/// small revisions a tick on a 2-core machine.
pub const RELEASE_BACKLOG_BUDGET: std::time::Duration = std::time::Duration::from_millis(25);

/// An object shown over the table with `y` (YAML) or `d` (described); esc closes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectView {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
    pub format: ObjectFormat,
    /// None while loading.
    pub text: Option<Result<String, String>>,
    /// Lines scrolled from the top.
    pub scroll: usize,
}

/// Most log lines kept in memory for one pod.
pub const MAX_LOG_LINES: usize = 10_000;

/// The backups of a release, as the Releases screen lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupsView {
    pub namespace: String,
    pub name: String,
    /// None while loading.
    pub backups: Option<Result<Vec<crate::core::releases::backup::BackupInfo>, String>>,
}

/// Where `helmdeck demo` keeps what it makes, apart from the real ones: the kubeconfig of
/// its sandbox (written while it runs), and the directory of its backups, values repo and
/// journal. The demo uses these, and the hints it shows name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPaths {
    pub kubeconfig: std::path::PathBuf,
    pub dir: std::path::PathBuf,
}

impl DemoPaths {
    /// Under the data directory (`$XDG_DATA_HOME/helmdeck`), else the temporary one.
    pub fn new() -> DemoPaths {
        let data =
            crate::config::data_dir().unwrap_or_else(|| std::env::temp_dir().join("helmdeck"));
        DemoPaths {
            kubeconfig: data.join("demo.kubeconfig"),
            dir: data.join("demo"),
        }
    }

    /// The demo's backup directory.
    pub fn backups(&self) -> std::path::PathBuf {
        self.dir.join("backups")
    }
}

impl Default for DemoPaths {
    fn default() -> Self {
        DemoPaths::new()
    }
}

/// Namespaces for a message: the first few, and how many more.
fn namespace_list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    match names.len() {
        0 => "none seen yet".to_string(),
        n if n <= SHOWN => names.join(", "),
        n => format!("{}, and {} more", names[..SHOWN].join(", "), n - SHOWN),
    }
}

/// "1 replica", "3 replicas".
pub fn plural(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A message shown in the status line for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

/// The table screens, in tab order.
pub const TABS: [Screen; 7] = [
    Screen::Overview,
    Screen::Nodes,
    Screen::Workloads,
    Screen::Pods,
    Screen::Events,
    Screen::Releases,
    Screen::Topics,
];

/// The `:` commands, for completion and help.
pub const COMMANDS: &[(&str, &str)] = &[
    ("overview", "the health roll-up and current problems"),
    ("nodes", "nodes"),
    ("deploy", "deployments, stateful sets and daemon sets"),
    ("workloads", "deployments, stateful sets and daemon sets"),
    ("pods", "pods"),
    ("events", "events, warnings first"),
    ("rel", "Helm releases"),
    ("topics", "Kafka topics"),
    ("ctx", "switch context: ctx NAME"),
    ("ns", "namespace: ns NAME, or ns all"),
    (
        "NAME",
        "any kind the server knows, as its Table: svc, cm, secret, job, cj, pvc, ing, crd, a custom resource",
    ),
    ("q", "quit"),
];

/// The overlays' own keys (an overlay takes the keys while it is open): listed in `?` help
/// after the commands, since no screen's keymap holds them.
pub const OVERLAY_KEYS: &[(&str, &str)] = &[
    (
        "8 / :inv",
        "p promotes the release under the cursor, ctrl-r reads it again",
    ),
    (
        "promotion",
        "enter or y promotes, t another pair of environments, f force",
    ),
    (":bg", "s switches traffic to green, b returns it to blue"),
    (
        "o (links)",
        "enter opens and copies the link, c or y copies it",
    ),
];

/// Cached index of a table screen.
struct ViewCache {
    screen: Screen,
    generation: u64,
    filter: String,
    namespace: Option<String>,
    sort: Option<tables::Sort>,
    rows: RowIndex,
}

/// The console.
pub struct App {
    pub state: ClusterState,
    pub screen: Screen,
    pub keymap: KeyMap,
    pub theme: Theme,
    pub context: String,
    pub contexts: Vec<String>,
    pub namespace: Option<String>,
    pub readonly: bool,
    pub mode: Mode,
    pub filters: HashMap<Screen, String>,
    /// The order chosen with `o` / `O`, per table screen (none: the screen's own order).
    pub sort: HashMap<Screen, tables::Sort>,
    pub selected: HashMap<Screen, usize>,
    pub detail: Option<PodDetail>,
    /// The object shown with `y` / `d` over a table, if any.
    pub object: Option<ObjectView>,
    /// The dashboard links shown with `o`, if any.
    pub links: Option<crate::tui::links::LinksView>,
    /// The version inventory (`8`, `:inv`), if open.
    pub inventory: Option<crate::tui::inventory::InventoryView>,
    /// A promotion from the inventory (`p`), if open.
    pub promotion: Option<crate::tui::promote::PromotionView>,
    /// The blue/green cutover view (`:bg`), if open.
    pub bluegreen: Option<crate::tui::bluegreen::BlueGreenView>,
    /// A kind opened with `:NAME` through discovery, if any.
    pub resource: Option<ResourceView>,
    pub flash: Option<Flash>,
    /// Long tasks and their last progress line.
    pub tasks: Vec<(String, String)>,
    pub quit: bool,
    pub now: jiff::Timestamp,
    /// Rows per page, as last drawn (for page up/down).
    pub page: usize,
    cache: Option<ViewCache>,
    derived_for: Option<(u64, Screen)>,
    pub(crate) pods_per_node: HashMap<String, usize>,
    pub(crate) releases: Vec<crate::core::cluster::ReleaseRow>,
    /// The roll-up, recomputed when the data changes or a second has passed.
    rollup: Option<(u64, i64, std::rc::Rc<crate::core::cluster::rollup::Rollup>)>,
    /// Topics and consumer lag, when a topic source is configured.
    pub topics: Option<crate::core::topics::TopicsState>,
    /// Topics view: the topic drilled into (its groups and partitions), if any.
    pub topic_detail: Option<String>,
    /// Releases view: the history pane of a release, when open.
    pub release_history: Option<crate::tui::history::HistoryView>,
    /// Releases view: the upgrade wizard, when open.
    pub upgrade: Option<crate::tui::upgrade::UpgradeWizard>,
    /// Releases view: the backups of a release, when shown.
    pub backups: Option<BackupsView>,
    /// When each release was last backed up (with `backup_every` in the config).
    pub backup_ages: Option<crate::core::releases::backup_store::BackupAges>,
    /// Changes that did not finish (found at start-up).
    pub journals: Vec<crate::core::workflows::journal::Journal>,
    /// The configured platforms (their consumers, for partition-aware scaling).
    pub platforms: Vec<crate::config::Platform>,
    /// Help overlay: lines scrolled from the top (kept within the list when drawn).
    pub help_scroll: usize,
    /// Help overlay: lines it shows at once, as last drawn (for page up/down).
    pub help_page: usize,
    /// The namespace before a jump set one (enter on a workload, a consumer group's
    /// workload, a problem), and the screen jumped to: restored when the user moves on to
    /// another screen; forgotten when the user sets one (`:ns`, `0`).
    pub(crate) jumped_from: Option<(Screen, Option<String>)>,
}

impl App {
    pub fn new(
        keymap: KeyMap,
        theme: Theme,
        context: String,
        namespace: Option<String>,
        readonly: bool,
    ) -> App {
        App {
            state: ClusterState::default(),
            screen: Screen::Overview,
            keymap,
            theme,
            context,
            contexts: Vec::new(),
            namespace,
            readonly,
            mode: Mode::Normal,
            filters: HashMap::new(),
            sort: HashMap::new(),
            selected: HashMap::new(),
            detail: None,
            object: None,
            links: None,
            inventory: None,
            promotion: None,
            bluegreen: None,
            resource: None,
            flash: None,
            tasks: Vec::new(),
            quit: false,
            now: jiff::Timestamp::now(),
            page: 20,
            cache: None,
            derived_for: None,
            pods_per_node: HashMap::new(),
            releases: Vec::new(),
            rollup: None,
            topics: None,
            topic_detail: None,
            release_history: None,
            upgrade: None,
            backups: None,
            backup_ages: None,
            journals: Vec::new(),
            platforms: Vec::new(),
            help_scroll: 0,
            help_page: 10,
            jumped_from: None,
        }
    }

    /// Brings derived data up to date with the state: once per change, and only what the
    /// current screen shows.
    pub fn refresh_derived(&mut self) {
        let key = (self.state.generation, self.screen);
        if self.derived_for != Some(key) {
            if self.screen == Screen::Nodes {
                self.pods_per_node = tables::pods_per_node(&self.state);
            }
            if self.screen == Screen::Releases {
                self.releases = self.state.releases();
            }
            self.derived_for = Some(key);
        }
    }

    fn index(&mut self) -> &RowIndex {
        let filter = self.filters.get(&self.screen).cloned().unwrap_or_default();
        let sort = self.sort.get(&self.screen).copied();
        let fresh = self.cache.as_ref().is_some_and(|c| {
            c.screen == self.screen
                && c.generation == self.state.generation
                && c.filter == filter
                && c.namespace == self.namespace
                && c.sort == sort
        });
        if !fresh {
            let rows = tables::index_sorted(
                self.screen,
                &self.state,
                &Filter::parse(&filter),
                self.namespace.as_deref(),
                sort,
            );
            self.cache = Some(ViewCache {
                screen: self.screen,
                generation: self.state.generation,
                filter,
                namespace: self.namespace.clone(),
                sort,
                rows,
            });
        }
        &self.cache.as_ref().expect("just set").rows
    }

    /// How many rows the current table screen shows (cached until data, filter or
    /// namespace change).
    pub fn row_count(&mut self) -> usize {
        self.index().len()
    }

    /// What an empty table screen says once its list has arrived: "nothing matches" only
    /// when a filter is set; else that the namespace, or the cluster, has none.
    pub fn empty_list_message(&self) -> String {
        let things = match self.screen {
            Screen::Nodes => "nodes",
            Screen::Workloads => "deployments, stateful sets or daemon sets",
            Screen::Events => "events",
            Screen::Releases => "Helm releases",
            Screen::Topics => "topics",
            _ => "pods",
        };
        match (self.filters.get(&self.screen), &self.namespace) {
            (Some(f), _) if !f.is_empty() => {
                format!("nothing matches /{f} (esc clears the filter)")
            }
            (_, Some(ns)) if self.screen != Screen::Nodes => {
                format!("no {things} in namespace {ns} (0 shows every namespace)")
            }
            _ => format!("no {things}"),
        }
    }

    /// The rows of the current table screen from `offset`, at most `n`.
    pub fn visible_rows(&mut self, offset: usize, n: usize) -> Vec<RowRef> {
        self.index();
        let c = self.cache.as_ref().expect("indexed");
        c.rows.window(&self.state, offset, n)
    }

    /// The health roll-up of the current state (cached per change and per second).
    pub fn rollup(&mut self) -> std::rc::Rc<crate::core::cluster::rollup::Rollup> {
        let sec = self.now.as_second();
        match &self.rollup {
            Some((generation, at, r))
                if *generation
                    == self.state.generation + self.topics.as_ref().map_or(0, |t| t.generation)
                    && *at == sec =>
            {
                r.clone()
            }
            _ => {
                let mut r = crate::core::cluster::rollup::rollup_with_topics(
                    &self.state,
                    self.topics.as_ref(),
                    self.now,
                );
                if let Some(ages) = &self.backup_ages {
                    crate::core::cluster::rollup::add_backup_problems(
                        &mut r,
                        &self.state,
                        ages,
                        self.now,
                    );
                }
                let r = std::rc::Rc::new(r);
                self.follow_problem(&r);
                self.rollup = Some((
                    self.state.generation + self.topics.as_ref().map_or(0, |t| t.generation),
                    sec,
                    r.clone(),
                ));
                r
            }
        }
    }

    /// Keeps the Overview cursor on the same problem when a new roll-up reorders the list:
    /// the same object and text, else the same object, else the same text.
    fn follow_problem(&mut self, new: &crate::core::cluster::rollup::Rollup) {
        let Some(old) = self.rollup.as_ref().map(|(_, _, r)| r.clone()) else {
            return;
        };
        let i = self.selected.get(&Screen::Overview).copied().unwrap_or(0);
        let Some(was) = old.problems.get(i) else {
            return;
        };
        let same_object = |p: &crate::core::cluster::rollup::Problem| {
            p.target.is_some() && p.target == was.target && p.area == was.area
        };
        let found = new
            .problems
            .iter()
            .position(|p| same_object(p) && p.message == was.message)
            .or_else(|| new.problems.iter().position(same_object))
            .or_else(|| new.problems.iter().position(|p| p.message == was.message));
        if let Some(j) = found {
            self.selected.insert(Screen::Overview, j);
        }
    }

    pub fn selected_index(&self) -> usize {
        self.selected.get(&self.screen).copied().unwrap_or(0)
    }

    /// The row under the cursor.
    pub fn selected_row(&mut self) -> Option<RowRef> {
        let i = self
            .selected_index()
            .min(self.row_count().saturating_sub(1));
        self.visible_rows(i, 1).pop()
    }

    fn move_cursor(&mut self, delta: isize) {
        let len = if self.screen == Screen::Overview {
            self.rollup().problems.len()
        } else if self.screen == Screen::Topics {
            crate::tui::views::topics::row_count(self)
        } else {
            self.row_count()
        };
        let cur = self.selected_index() as isize;
        let next = (cur + delta).clamp(0, len.saturating_sub(1) as isize) as usize;
        self.selected.insert(self.screen, next);
    }

    pub(crate) fn flash(&mut self, text: impl Into<String>, error: bool) {
        self.flash = Some(Flash {
            text: text.into(),
            error,
        });
    }

    /// Takes in a message from the runtime.
    pub fn on_msg(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Cluster(u) => {
                self.state.apply(u);
                if let Some(t) = &mut self.topics {
                    t.replan(&self.state);
                }
                // The detail screen's containers come from a GET: fetch again when the pod changed.
                if let Some(d) = &mut self.detail {
                    let row = self.state.pods.get(&d.key).cloned();
                    if row != d.seen {
                        let restarts = |r: &Option<crate::core::cluster::PodRow>| {
                            r.as_ref().map_or(0, |r| r.status.restarts)
                        };
                        let restarted = restarts(&row) > restarts(&d.seen);
                        d.seen = row;
                        let mut effects = vec![Effect::OpenPod { key: d.key.clone() }];
                        // The container the log followed exited and came back: follow the
                        // new one, marking where it starts.
                        if restarted && d.log_ended && !d.previous {
                            d.logs.push_back(format!(
                                "— the container restarted (restart {}); its new log follows —",
                                restarts(&d.seen)
                            ));
                            d.log_ended = false;
                            d.log_error = None;
                            effects.push(Effect::Logs {
                                key: d.key.clone(),
                                container: d.container.clone(),
                                previous: false,
                                timestamps: d.timestamps,
                            });
                        }
                        return effects;
                    }
                }
            }
            Msg::ScalePlanned(r) => {
                if let Mode::Dialog(Dialog::Scale {
                    info,
                    error,
                    input,
                    max_input,
                    ..
                }) = &mut self.mode
                {
                    match r {
                        Ok(i) => {
                            if input.is_empty() {
                                *input = match &i.hpa {
                                    Some((_, min, _)) => min.to_string(),
                                    None => i.current.to_string(),
                                };
                            }
                            if let Some((_, _, max)) = &i.hpa
                                && max_input.is_empty()
                            {
                                *max_input = max.to_string();
                            }
                            *info = Some(i);
                        }
                        Err(e) => *error = Some(e),
                    }
                }
            }
            Msg::Done { what, result } => {
                let dialog_open = matches!(&self.mode, Mode::Dialog(Dialog::Scale { .. }));
                match result {
                    Ok(text) => {
                        if dialog_open && what.starts_with("scale ") {
                            self.mode = Mode::Normal;
                        }
                        self.tasks.retain(|(w, _)| *w != what);
                        self.flash(text, false);
                    }
                    Err(e) => {
                        // A failed scale keeps its dialog open with the error; nothing typed is lost.
                        if let Mode::Dialog(Dialog::Scale { error, busy, .. }) = &mut self.mode {
                            *error = Some(e.clone());
                            *busy = false;
                        }
                        self.tasks.retain(|(w, _)| *w != what);
                        self.flash(format!("{what}: {e}"), true);
                    }
                }
            }
            Msg::Progress { what, text } => match self.tasks.iter_mut().find(|(w, _)| *w == what) {
                Some((_, t)) => *t = text,
                None => self.tasks.push((what, text)),
            },
            Msg::Pod { key, result } => {
                if let Some(d) = &mut self.detail
                    && d.key == key
                {
                    if d.container.is_none()
                        && let Ok(cs) = &result
                    {
                        d.container = cs.first().map(|c| c.name.clone());
                    }
                    d.containers = Some(result);
                }
            }
            Msg::LogLines(lines) => {
                if let Some(d) = &mut self.detail {
                    for l in lines {
                        if d.logs.len() == MAX_LOG_LINES {
                            d.logs.pop_front();
                        }
                        d.logs.push_back(l);
                        if !d.follow {
                            d.scroll += 1;
                        }
                    }
                }
            }
            Msg::LogEnded(err) => {
                if let Some(d) = &mut self.detail {
                    d.log_ended = true;
                    d.log_error = err;
                }
            }
            Msg::Contexts(c) => self.contexts = c,
            Msg::Topics(u) => {
                if let Some(t) = &mut self.topics {
                    t.apply(u);
                    t.replan(&self.state);
                }
            }
            Msg::ReleaseHistory {
                namespace,
                name,
                result,
            } => self.on_release_history(namespace, name, result),
            Msg::TopicsCreated { result, refused } => self.on_topics_created(result, refused),
            Msg::Resource {
                name,
                namespace,
                result,
            } => self.on_resource(name, namespace, result),
            Msg::Inventory(result) => self.on_inventory(result),
            Msg::PromotionPrepared(result) => self.on_promotion_prepared(result),
            Msg::BlueGreen {
                workload,
                status,
                outcome,
            } => self.on_bluegreen(workload, status, outcome),
            Msg::Object {
                kind,
                namespace,
                name,
                format,
                result,
            } => {
                if let Some(v) = &mut self.object
                    && (v.kind, &v.namespace, &v.name, v.format)
                        == (kind, &namespace, &name, format)
                {
                    v.text = Some(result);
                }
            }
            Msg::UpgradeVersions {
                namespace,
                name,
                result,
            } => self.on_upgrade_versions(&namespace, &name, result),
            Msg::ChangePlanned(result) => self.on_change_planned(result),
            Msg::Recovered {
                namespace,
                name,
                result,
            } => self.on_recovered(&namespace, &name, result),
            Msg::JournalAbandoned {
                namespace,
                name,
                result,
            } => return self.on_journal_abandoned(namespace, name, result),
            Msg::ValuesEdited(result) => return self.on_values_edited(result),
            Msg::ValuesLog {
                namespace,
                name,
                result,
            } => self.on_values_log(&namespace, &name, result),
            Msg::ChangeEvent(ev) if self.promotion_running() => {
                return self.on_promotion_event(ev);
            }
            Msg::ChangeEvent(ev) => return self.on_change_event(ev),
            Msg::Journals(result) => match result {
                Ok(j) => {
                    if let Some(first) = j.first() {
                        self.flash(
                            format!(
                                "unfinished change: {} — on the Releases screen V verifies it, R rolls it back (or helmdeck recover {} -n {})",
                                first.summary(),
                                first.release,
                                first.namespace
                            ),
                            true,
                        );
                    }
                    self.journals = j;
                }
                Err(e) => self.flash(format!("cannot read the journal of changes: {e}"), true),
            },
            Msg::BackupAges(ages) => {
                self.backup_ages = Some(ages);
                // The roll-up reads them: computed again.
                self.rollup = None;
            }
            Msg::Backups {
                namespace,
                name,
                result,
            } => {
                if let Some(b) = &mut self.backups
                    && b.namespace == namespace
                    && b.name == name
                {
                    b.backups = Some(result);
                }
            }
        }
        Vec::new()
    }

    fn switch(&mut self, screen: Screen) -> Vec<Effect> {
        // Moving on from where a jump led (its pod's screen is still there) gives back the
        // namespace the user had.
        if let Some((at, _)) = &self.jumped_from
            && screen != *at
            && screen != Screen::PodDetail
            && let Some((_, before)) = self.jumped_from.take()
        {
            self.namespace = before;
        }
        let mut effects = Vec::new();
        if self.screen == Screen::PodDetail && screen != Screen::PodDetail {
            self.detail = None;
            effects.push(Effect::StopLogs);
        }
        self.screen = screen;
        effects
    }

    /// A jump to `screen` showing `namespace` (enter on a workload, a consumer group's
    /// workload, a problem): the namespace before it comes back when the user moves on.
    pub(crate) fn jump(&mut self, screen: Screen, namespace: Option<String>) -> Vec<Effect> {
        let before = match self.jumped_from.take() {
            Some((_, before)) => before,
            None => self.namespace.clone(),
        };
        self.namespace = namespace;
        let effects = self.switch(screen);
        self.jumped_from = Some((screen, before));
        effects
    }

    /// The namespaces the console has seen objects in (pods, workloads, events, releases),
    /// sorted; `None` while no list has arrived yet (nothing can be told then).
    pub fn known_namespaces(&self) -> Option<Vec<String>> {
        let s = &self.state;
        if !s.sources.values().any(|st| st.synced) {
            return None;
        }
        let mut known: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        known.extend(s.pods.keys().map(|(ns, _)| ns.as_str()));
        known.extend(s.workloads.keys().map(|(_, ns, _)| ns.as_str()));
        known.extend(s.hpas.keys().map(|(ns, _)| ns.as_str()));
        known.extend(s.events.keys().map(|(ns, _)| ns.as_str()));
        known.extend(s.revisions.keys().map(|(ns, _)| ns.as_str()));
        Some(known.into_iter().map(String::from).collect())
    }

    /// Runs a `:` command line. An open resource view closes, except on `:ns`, which lists
    /// it again in the new namespace.
    pub fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let open = self.resource.take().map(|v| v.name);
        let mut effects = self.run_command_line(line);
        if let Some(name) = open
            && self.resource.is_none()
            && matches!(line.split_whitespace().next(), Some("ns" | "namespace"))
        {
            effects.extend(self.open_resource(&name));
        }
        effects
    }

    fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else {
            return Vec::new();
        };
        let arg = words.next();
        if let Some(s) = screen_named(cmd) {
            return self.switch(s);
        }
        match (cmd, arg) {
            ("q" | "quit" | "q!", _) => {
                self.quit = true;
                Vec::new()
            }
            ("ctx" | "context", Some(name)) => {
                if !self.contexts.is_empty() && !self.contexts.iter().any(|c| c == name) {
                    self.flash(
                        format!(
                            "no context named '{name}' (known: {})",
                            self.contexts.join(", ")
                        ),
                        true,
                    );
                    return Vec::new();
                }
                vec![Effect::SwitchContext(name.to_string())]
            }
            ("ctx" | "context", None) => {
                let list = if self.contexts.is_empty() {
                    self.context.clone()
                } else {
                    self.contexts.join(", ")
                };
                self.flash(
                    format!(
                        "contexts: {list} (current: {}); :ctx NAME switches",
                        self.context
                    ),
                    false,
                );
                Vec::new()
            }
            ("ns" | "namespace", Some("all" | "-A")) => {
                self.namespace = None;
                self.jumped_from = None;
                Vec::new()
            }
            ("ns" | "namespace", Some(ns)) => {
                let known = self.known_namespaces();
                if let Some(known) = known
                    && !known.iter().any(|k| k == ns)
                {
                    self.flash(
                        format!(
                            "no namespace '{ns}' in what the console sees ({}); nothing changed",
                            namespace_list(&known)
                        ),
                        true,
                    );
                    return Vec::new();
                }
                self.namespace = Some(ns.to_string());
                self.jumped_from = None;
                Vec::new()
            }
            ("ns" | "namespace", None) => {
                let known = self.known_namespaces().unwrap_or_default();
                let current = self.namespace.as_deref().unwrap_or("all");
                self.flash(
                    format!(
                        "namespaces: {} (current: {current}); :ns NAME or :ns all",
                        namespace_list(&known)
                    ),
                    false,
                );
                Vec::new()
            }
            ("inv" | "inventory", None) => self.open_inventory(),
            ("bg" | "bluegreen", None) => self.open_bluegreen(),
            (name, None)
                if name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
            {
                self.open_resource(name)
            }
            _ => {
                self.flash(format!("unknown command ':{line}' — try :pods, :nodes, :deploy, :events, :rel, :ctx"), true);
                Vec::new()
            }
        }
    }

    /// Completes a `:` command line from the known commands (and contexts after `ctx `).
    pub fn complete(&self, line: &str) -> Option<String> {
        if let Some(prefix) = line
            .strip_prefix("ns ")
            .or_else(|| line.strip_prefix("namespace "))
        {
            let cmd = &line[..line.len() - prefix.len()];
            let mut names = self.known_namespaces().unwrap_or_default();
            names.push("all".to_string());
            let m: Vec<&String> = names.iter().filter(|n| n.starts_with(prefix)).collect();
            // One match completes; several complete as far as they agree.
            let common = m.iter().skip(1).fold(m.first()?.as_str(), |acc, n| {
                let len = acc
                    .chars()
                    .zip(n.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a.len_utf8())
                    .sum();
                &acc[..len]
            });
            return (common.len() > prefix.len()).then(|| format!("{cmd}{common}"));
        }
        if let Some(prefix) = line.strip_prefix("ctx ") {
            let m: Vec<&String> = self
                .contexts
                .iter()
                .filter(|c| c.starts_with(prefix))
                .collect();
            return (m.len() == 1).then(|| format!("ctx {}", m[0]));
        }
        let m: Vec<&str> = COMMANDS
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| c.starts_with(line))
            .collect();
        match m.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }

    /// Takes in a key press.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == crossterm::event::KeyEventKind::Release {
            return Vec::new();
        }
        match self.mode.clone() {
            Mode::Command(mut line) => {
                match key.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        return self.run_command(&line);
                    }
                    KeyCode::Tab => {
                        if let Some(c) = self.complete(&line) {
                            self.mode = Mode::Command(c);
                        }
                    }
                    KeyCode::Backspace => {
                        line.pop();
                        self.mode = Mode::Command(line);
                    }
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        line.push(c);
                        self.mode = Mode::Command(line);
                    }
                    _ => {}
                }
                Vec::new()
            }
            Mode::Filter(mut text) => {
                match key.code {
                    KeyCode::Esc => {
                        self.filters.remove(&self.screen);
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Backspace => {
                        text.pop();
                        self.filters.insert(self.screen, text.clone());
                        self.mode = Mode::Filter(text);
                    }
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        text.push(c);
                        self.filters.insert(self.screen, text.clone());
                        self.selected.insert(self.screen, 0);
                        self.mode = Mode::Filter(text);
                    }
                    _ => {}
                }
                Vec::new()
            }
            Mode::LogSearch(mut text) => {
                match key.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        if let Some(d) = &mut self.detail {
                            d.search = (!text.is_empty()).then_some(text);
                        }
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Backspace => {
                        text.pop();
                        self.mode = Mode::LogSearch(text);
                    }
                    KeyCode::Char(c) => {
                        text.push(c);
                        self.mode = Mode::LogSearch(text);
                    }
                    _ => {}
                }
                Vec::new()
            }
            Mode::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.mode = Mode::Normal;
                    return Vec::new();
                }
                // The list scrolls with the keys that move the cursor.
                let page = self.help_page.max(1) as isize;
                let delta = match self.keymap.action_for(self.screen, &key) {
                    Some(Action::Up) => -1,
                    Some(Action::Down) => 1,
                    Some(Action::PageUp) => -page,
                    Some(Action::PageDown) => page,
                    Some(Action::Top) => isize::MIN / 2,
                    Some(Action::Bottom) => isize::MAX / 2,
                    Some(Action::Back | Action::Help | Action::Quit) => {
                        self.mode = Mode::Normal;
                        return Vec::new();
                    }
                    _ => 0,
                };
                // Past the end is brought back when drawn, where the height is known.
                self.help_scroll = (self.help_scroll as isize)
                    .saturating_add(delta)
                    .clamp(0, isize::MAX / 4) as usize;
                Vec::new()
            }
            Mode::Dialog(d) => self.on_dialog_key(d, key),
            Mode::Normal if self.bluegreen.is_some() => self.on_bluegreen_key(key),
            Mode::Normal if self.links.is_some() => self.on_links_key(key),
            Mode::Normal if self.promotion.is_some() => self.on_promotion_key(key),
            Mode::Normal if self.inventory.is_some() => self.on_inventory_key(key),
            Mode::Normal if self.object.is_some() => self.on_object_key(key),
            Mode::Normal if self.resource.is_some() => self.on_resource_key(key),
            Mode::Normal if self.screen == Screen::Releases && self.upgrade.is_some() => {
                self.on_upgrade_key(key)
            }
            Mode::Normal => {
                let Some(action) = self.keymap.action_for(self.screen, &key) else {
                    return Vec::new();
                };
                self.on_action(action)
            }
        }
    }

    /// `y` / `d`: the selected object, fetched, over the table.
    fn open_object(&mut self, format: ObjectFormat) -> Vec<Effect> {
        let (kind, namespace, name) = match self.selected_row() {
            Some(RowRef::Node(n)) => (ObjectKind::Node, String::new(), n),
            Some(RowRef::Workload(k, ns, n)) => (ObjectKind::from(k), ns, n),
            Some(RowRef::Pod((ns, n))) => (ObjectKind::Pod, ns, n),
            Some(RowRef::Event((ns, n))) => (ObjectKind::Event, ns, n),
            Some(RowRef::Release((ns, n))) => (ObjectKind::Release, ns, n),
            None => return Vec::new(),
        };
        self.object = Some(ObjectView {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
            format,
            text: None,
            scroll: 0,
        });
        vec![Effect::FetchObject {
            kind,
            namespace,
            name,
            format,
        }]
    }

    /// `:NAME` that is no screen or command: the kind discovery knows by that name, listed
    /// in the console's namespace (all when none is chosen). Discovery answers later; an
    /// unknown name closes the view with a message.
    fn open_resource(&mut self, name: &str) -> Vec<Effect> {
        self.resource = Some(ResourceView {
            name: name.to_string(),
            namespace: self.namespace.clone(),
            table: None,
            selected: 0,
            loading: true,
            age: 0,
        });
        vec![Effect::ListResource {
            name: name.to_string(),
            namespace: self.namespace.clone(),
            resolved: None,
        }]
    }

    fn on_resource(
        &mut self,
        name: String,
        namespace: Option<String>,
        result: Result<crate::core::cluster::table::ResourceTable, String>,
    ) {
        let Some(view) = &mut self.resource else {
            return;
        };
        if (&view.name, &view.namespace) != (&name, &namespace) {
            return;
        }
        view.loading = false;
        view.age = 0;
        match result {
            // Never listed: the name is no kind (or the server said no) — back to the screen.
            Err(e) if view.table.is_none() => {
                self.resource = None;
                self.flash(
                    format!("unknown command ':{name}' — {e}; try :pods, :svc, :cm, :job, :crd"),
                    true,
                );
            }
            result => {
                if let Ok(t) = &result {
                    view.selected = view.selected.min(t.rows.len().saturating_sub(1));
                }
                view.table = Some(result);
            }
        }
    }

    /// A second passed: older release revisions are decoded for a while (the roll-up
    /// decoded only each release's newest: this finds those that cannot be decoded); the
    /// open resource view lists again every [`RESOURCE_REFRESH_SECS`] (it has no watch).
    pub fn on_tick(&mut self) -> Vec<Effect> {
        self.state
            .decode_backlog(std::time::Instant::now() + RELEASE_BACKLOG_BUDGET);
        let Some(view) = &mut self.resource else {
            return Vec::new();
        };
        if view.loading {
            return Vec::new();
        }
        view.age += 1;
        if view.age < RESOURCE_REFRESH_SECS {
            return Vec::new();
        }
        view.loading = true;
        let resolved = match &view.table {
            Some(Ok(t)) => t.resource.clone(),
            _ => None,
        };
        vec![Effect::ListResource {
            name: view.name.clone(),
            namespace: view.namespace.clone(),
            resolved,
        }]
    }

    /// Keys while a resource list is shown: the cursor keys move, esc closes it, `q` quits.
    fn on_resource_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let action = self.keymap.action_for(self.screen, &key);
        let page = self.page.max(1);
        let Some(view) = &mut self.resource else {
            return Vec::new();
        };
        let last = match &view.table {
            Some(Ok(t)) => t.rows.len().saturating_sub(1),
            _ => 0,
        };
        match action {
            Some(Action::Up) => view.selected = view.selected.saturating_sub(1),
            Some(Action::Down) => view.selected = (view.selected + 1).min(last),
            Some(Action::PageUp) => view.selected = view.selected.saturating_sub(page),
            Some(Action::PageDown) => view.selected = (view.selected + page).min(last),
            Some(Action::Top) => view.selected = 0,
            Some(Action::Bottom) => view.selected = last,
            Some(Action::Back) => self.resource = None,
            Some(Action::Quit) => self.quit = true,
            Some(Action::CommandMode) => self.mode = Mode::Command(String::new()),
            _ => {}
        }
        Vec::new()
    }

    /// Keys while an object is shown: the cursor keys scroll it, esc (or `y` / `d` again)
    /// closes it, `q` quits.
    fn on_object_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let action = self.keymap.action_for(self.screen, &key);
        let Some(view) = &mut self.object else {
            return Vec::new();
        };
        let page = self.page.max(1);
        match action {
            Some(Action::Up) => view.scroll = view.scroll.saturating_sub(1),
            Some(Action::Down) => view.scroll += 1,
            Some(Action::PageUp) => view.scroll = view.scroll.saturating_sub(page),
            Some(Action::PageDown) => view.scroll += page,
            Some(Action::Top) => view.scroll = 0,
            // Past the end is brought back when drawn, where the height is known.
            Some(Action::Bottom) => view.scroll = usize::MAX / 2,
            Some(Action::Back | Action::Yaml | Action::Describe) => self.object = None,
            Some(Action::Quit) => self.quit = true,
            _ => {}
        }
        Vec::new()
    }

    /// `o` (next column; after the last, the screen's own order) and `O` (reverse; sorts by
    /// the first column when none is chosen). The cursor goes to the top.
    fn sort_action(&mut self, reverse: bool) {
        let columns = tables::SortColumn::of(self.screen);
        let Some(&first) = columns.first() else {
            return;
        };
        let current = self.sort.get(&self.screen).copied();
        let next = match (reverse, current) {
            (true, Some(s)) => Some(tables::Sort {
                reverse: !s.reverse,
                ..s
            }),
            (true, None) => Some(tables::Sort {
                column: first,
                reverse: true,
            }),
            (false, None) => Some(tables::Sort {
                column: first,
                reverse: false,
            }),
            (false, Some(s)) => columns
                .iter()
                .position(|c| *c == s.column)
                .and_then(|i| columns.get(i + 1))
                .map(|&column| tables::Sort {
                    column,
                    reverse: false,
                }),
        };
        match next {
            Some(s) => {
                self.sort.insert(self.screen, s);
                self.flash(format!("sorted by {}", s.label()), false);
            }
            None => {
                self.sort.remove(&self.screen);
                self.flash("the screen's own order", false);
            }
        }
        self.selected.insert(self.screen, 0);
    }

    pub(crate) fn refuse_readonly(&mut self, what: &str) -> bool {
        if self.readonly {
            self.flash(
                format!(
                    "read-only: {what} is disabled (--readonly or this context's readonly setting)"
                ),
                true,
            );
        }
        self.readonly
    }

    /// Performs an action of the key map.
    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        self.flash = None;
        if !action.acts_on(self.screen) {
            let text = match action {
                Action::Refresh => {
                    "nothing to refresh: every list is watched and shows changes as they happen"
                        .to_string()
                }
                _ => format!("'{}' is not available here", action.name()),
            };
            self.flash(text, false);
            return Vec::new();
        }
        if let Some(effects) = self.history_action(action) {
            return effects;
        }
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::Help => {
                self.mode = Mode::Help;
                self.help_scroll = 0;
                Vec::new()
            }
            Action::CommandMode => {
                self.mode = Mode::Command(String::new());
                Vec::new()
            }
            Action::FilterMode => {
                if self.screen == Screen::PodDetail {
                    self.mode = Mode::LogSearch(String::new());
                } else {
                    let cur = self.filters.get(&self.screen).cloned().unwrap_or_default();
                    self.mode = Mode::Filter(cur);
                }
                Vec::new()
            }
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-(self.page as isize)),
            Action::PageDown => self.scroll(self.page as isize),
            Action::Top => self.scroll(isize::MIN / 2),
            Action::Bottom => self.scroll(isize::MAX / 2),
            Action::Back => {
                if self.screen == Screen::PodDetail {
                    return self.switch(Screen::Pods);
                }
                if self.screen == Screen::Topics && self.topic_detail.take().is_some() {
                    return Vec::new();
                }
                if self.filters.remove(&self.screen).is_none() && self.screen != Screen::Overview {
                    return self.switch(Screen::Overview);
                }
                Vec::new()
            }
            Action::Enter => self.enter(),
            Action::NextView | Action::PrevView => {
                let cur = TABS.iter().position(|s| *s == self.screen).unwrap_or(0);
                let n = TABS.len();
                let next = if action == Action::NextView {
                    (cur + 1) % n
                } else {
                    (cur + n - 1) % n
                };
                self.switch(TABS[next])
            }
            Action::ViewOverview => self.switch(Screen::Overview),
            Action::ViewNodes => self.switch(Screen::Nodes),
            Action::ViewWorkloads => self.switch(Screen::Workloads),
            Action::ViewPods => self.switch(Screen::Pods),
            Action::ViewEvents => self.switch(Screen::Events),
            Action::ViewReleases => self.switch(Screen::Releases),
            Action::ViewTopics => self.switch(Screen::Topics),
            Action::ViewInventory => self.open_inventory(),
            Action::ToggleAllNamespaces => {
                self.namespace = None;
                self.jumped_from = None;
                self.flash("all namespaces", false);
                Vec::new()
            }
            Action::Scale => {
                if self.refuse_readonly("scaling") {
                    return Vec::new();
                }
                let Some(RowRef::Workload(kind, ns, name)) = self.selected_row() else {
                    return Vec::new();
                };
                if kind == WorkloadKind::DaemonSet {
                    self.flash(
                        "a DaemonSet runs one pod per node and cannot be scaled",
                        true,
                    );
                    return Vec::new();
                }
                self.mode = Mode::Dialog(Dialog::Scale {
                    kind,
                    namespace: ns.clone(),
                    name: name.clone(),
                    input: String::new(),
                    info: None,
                    editing_max: false,
                    max_input: String::new(),
                    error: None,
                    busy: false,
                    confirm_zero: false,
                    confirm_idle: None,
                });
                vec![Effect::PlanScale {
                    kind,
                    namespace: ns,
                    name,
                }]
            }
            Action::Cordon | Action::Uncordon | Action::Drain => {
                let what = match action {
                    Action::Cordon => "cordon",
                    Action::Uncordon => "uncordon",
                    _ => "drain",
                };
                if self.refuse_readonly(what) {
                    return Vec::new();
                }
                let Some(RowRef::Node(node)) = self.selected_row() else {
                    return Vec::new();
                };
                let (question, effect) = match action {
                    Action::Cordon => (
                        format!("Cordon {node}? New pods will not be scheduled on it."),
                        Effect::Cordon(node),
                    ),
                    Action::Uncordon => (
                        format!("Uncordon {node}? Pods may be scheduled on it again."),
                        Effect::Uncordon(node),
                    ),
                    _ => (
                        format!(
                            "Drain {node}? It is cordoned, then every pod but DaemonSet pods is evicted (PodDisruptionBudgets are honoured)."
                        ),
                        Effect::Drain(node),
                    ),
                };
                self.mode = Mode::Dialog(Dialog::Confirm { question, effect });
                Vec::new()
            }
            Action::Delete => {
                if self.refuse_readonly("deleting a pod") {
                    return Vec::new();
                }
                let Some(RowRef::Pod(key)) = self.selected_row() else {
                    return Vec::new();
                };
                let question = format!(
                    "Delete pod {}/{}? Its controller, if any, starts a new one.",
                    key.0, key.1
                );
                self.mode = Mode::Dialog(Dialog::Confirm {
                    question,
                    effect: Effect::DeletePod { key },
                });
                Vec::new()
            }
            Action::Restart => {
                if self.refuse_readonly("rollout restart") {
                    return Vec::new();
                }
                let Some(RowRef::Workload(kind, namespace, name)) = self.selected_row() else {
                    return Vec::new();
                };
                let question = format!(
                    "Rollout restart {} {namespace}/{name}? Every pod is replaced, as its update strategy says.",
                    kind.name()
                );
                self.mode = Mode::Dialog(Dialog::Confirm {
                    question,
                    effect: Effect::Restart {
                        kind,
                        namespace,
                        name,
                    },
                });
                Vec::new()
            }
            Action::SortNext | Action::SortReverse => {
                self.sort_action(action == Action::SortReverse);
                Vec::new()
            }
            Action::CreateTopics if self.screen == Screen::Topics => self.open_create_topics(),
            Action::Logs | Action::Describe if self.screen == Screen::Pods => self.enter(),
            Action::Links => self.open_links(),
            Action::Describe => self.open_object(ObjectFormat::Describe),
            Action::Yaml => self.open_object(ObjectFormat::Yaml),
            Action::Logs if self.screen == Screen::Workloads => {
                // Jump to the workload's pods.
                if let Some(RowRef::Workload(_, ns, name)) = self.selected_row() {
                    self.filters.insert(Screen::Pods, name);
                    return self.jump(Screen::Pods, Some(ns));
                }
                Vec::new()
            }
            Action::FollowToggle => {
                if let Some(d) = &mut self.detail {
                    d.follow = !d.follow;
                    if d.follow {
                        d.scroll = 0;
                    }
                }
                Vec::new()
            }
            Action::PreviousLogs => {
                let key = match (&self.screen, &mut self.detail) {
                    (Screen::PodDetail, Some(d)) => {
                        d.previous = !d.previous;
                        d.logs.clear();
                        d.scroll = 0;
                        d.log_error = None;
                        d.log_ended = false;
                        return vec![Effect::Logs {
                            key: d.key.clone(),
                            container: d.container.clone(),
                            previous: d.previous,
                            timestamps: d.timestamps,
                        }];
                    }
                    (Screen::Pods, _) => match self.selected_row() {
                        Some(RowRef::Pod(k)) => k,
                        _ => return Vec::new(),
                    },
                    _ => return Vec::new(),
                };
                let mut effects = self.open_pod(key.clone());
                if let Some(d) = &mut self.detail {
                    d.previous = true;
                }
                effects.retain(|e| !matches!(e, Effect::Logs { .. }));
                effects.push(Effect::Logs {
                    key,
                    container: None,
                    previous: true,
                    timestamps: false,
                });
                effects
            }
            Action::SearchNext | Action::SearchPrev if self.screen == Screen::PodDetail => {
                self.search_jump(action == Action::SearchNext);
                Vec::new()
            }
            Action::WrapToggle | Action::TimestampsToggle | Action::SaveLog => {
                self.log_action(action)
            }
            Action::ObjectEvents => self.object_events(),
            _ => {
                self.flash(format!("'{}' is not available here", action.name()), false);
                Vec::new()
            }
        }
    }

    /// `n` / `N` in a pod's log: the next newer (`forward`) or older line matching the
    /// search, brought to the bottom of the pane (following stops).
    fn search_jump(&mut self, forward: bool) {
        let Some(d) = &mut self.detail else {
            return;
        };
        let Some(term) = d.search.clone() else {
            self.flash("no search: / searches the log first", false);
            return;
        };
        let total = d.logs.len();
        if total == 0 {
            return;
        }
        let bottom = total - 1 - d.scroll.min(total - 1);
        let found = if forward {
            (bottom + 1..total).find(|&i| d.logs[i].contains(term.as_str()))
        } else {
            (0..bottom)
                .rev()
                .find(|&i| d.logs[i].contains(term.as_str()))
        };
        match found {
            Some(i) => {
                d.scroll = total - 1 - i;
                d.follow = false;
            }
            None => self.flash(
                format!(
                    "no {} line matches {term:?}",
                    if forward { "newer" } else { "older" }
                ),
                false,
            ),
        }
    }

    fn scroll(&mut self, delta: isize) -> Vec<Effect> {
        if self.screen == Screen::PodDetail {
            if let Some(d) = &mut self.detail {
                let max = d.logs.len();
                let s = (d.scroll as isize - delta).clamp(0, max as isize) as usize;
                d.scroll = s;
                d.follow = s == 0;
            }
            return Vec::new();
        }
        self.move_cursor(delta);
        Vec::new()
    }

    fn open_pod(&mut self, key: Key) -> Vec<Effect> {
        self.detail = Some(PodDetail {
            key: key.clone(),
            containers: None,
            container: None,
            logs: VecDeque::new(),
            follow: true,
            previous: false,
            search: None,
            scroll: 0,
            log_error: None,
            log_ended: false,
            wrap: false,
            timestamps: false,
            seen: self.state.pods.get(&key).cloned(),
        });
        self.screen = Screen::PodDetail;
        vec![
            Effect::OpenPod { key: key.clone() },
            Effect::Logs {
                key,
                container: None,
                previous: false,
                timestamps: false,
            },
        ]
    }

    /// Drills down from the selected row.
    fn enter(&mut self) -> Vec<Effect> {
        if self.screen == Screen::Overview {
            return self.jump_to_problem();
        }
        if self.screen == Screen::Topics {
            return self.enter_topics();
        }
        match self.selected_row() {
            Some(RowRef::Pod(key)) => self.open_pod(key),
            Some(RowRef::Workload(_, ns, name)) => {
                self.filters.insert(Screen::Pods, name);
                self.selected.insert(Screen::Pods, 0);
                self.jump(Screen::Pods, Some(ns))
            }
            Some(RowRef::Node(node)) => {
                self.filters.insert(Screen::Pods, node);
                self.selected.insert(Screen::Pods, 0);
                self.switch(Screen::Pods)
            }
            _ => Vec::new(),
        }
    }

    /// Topics: a topic drills down to its groups and partitions; a group to its workload.
    fn enter_topics(&mut self) -> Vec<Effect> {
        use crate::tui::views::topics::{Selected, selected};
        match selected(self) {
            Some(Selected::Topic(name)) => {
                self.topic_detail = Some(name);
                self.selected.insert(Screen::Topics, 0);
                Vec::new()
            }
            Some(Selected::Group(name)) => {
                let workload = self
                    .topics
                    .as_ref()
                    .and_then(|t| t.platform.as_ref())
                    .and_then(|p| {
                        p.consumers.iter().find_map(|c| {
                            let (_, w) = crate::core::topics::plan::parse_workload(&c.workload)?;
                            (w == name).then(|| (p.namespace.clone(), w.to_string()))
                        })
                    });
                match workload {
                    Some((ns, w)) => {
                        self.filters.insert(Screen::Workloads, w);
                        self.selected.insert(Screen::Workloads, 0);
                        self.jump(Screen::Workloads, Some(ns))
                    }
                    None => {
                        self.flash(
                            format!("no workload of the platform runs group {name}"),
                            false,
                        );
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        }
    }

    fn jump_to_problem(&mut self) -> Vec<Effect> {
        use crate::core::cluster::rollup::TargetKind;
        let r = self.rollup();
        let i = self.selected_index();
        let Some(t) = r.problems.get(i).and_then(|p| p.target.clone()) else {
            return Vec::new();
        };
        match t.kind {
            TargetKind::Node => {
                self.filters.insert(Screen::Nodes, t.name);
                self.switch(Screen::Nodes)
            }
            TargetKind::Pod => self.open_pod((t.namespace, t.name)),
            TargetKind::Workload(_) => {
                self.filters.insert(Screen::Workloads, t.name);
                self.jump(Screen::Workloads, None)
            }
            TargetKind::Release => {
                self.filters.insert(Screen::Releases, t.name);
                self.switch(Screen::Releases)
            }
            TargetKind::Topic | TargetKind::Group => {
                self.filters.insert(Screen::Topics, t.name);
                self.switch(Screen::Topics)
            }
        }
    }

    fn on_dialog_key(&mut self, dialog: Dialog, key: KeyEvent) -> Vec<Effect> {
        match dialog {
            Dialog::Confirm { effect, .. } => {
                match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        // Every confirmed effect writes: the read-only gate again, in case
                        // the context changed while the question was open.
                        if self.refuse_readonly("this change") {
                            return Vec::new();
                        }
                        let what = confirmed_task(&effect);
                        self.tasks.push((what, "starting…".into()));
                        return vec![effect];
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                        self.mode = Mode::Normal
                    }
                    _ => {}
                }
                Vec::new()
            }
            Dialog::Scale { .. } => self.on_scale_key(key),
            Dialog::CreateTopics { .. } => self.on_create_topics_key(key),
        }
    }

    /// Keys in the scale dialog. A submitted dialog stays open, busy, until the result
    /// comes back ([`Msg::Done`]); a failure keeps what was typed.
    fn on_scale_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        enum Outcome {
            Stay,
            Close,
            Submit(String, Effect),
        }
        // The partitions of the topics the workload reads, when it is a consumer.
        let reads = match &self.mode {
            Mode::Dialog(Dialog::Scale {
                kind,
                namespace,
                name,
                ..
            }) => self.consumer_reads(*kind, namespace, name),
            _ => return Vec::new(),
        };
        // Past the partitions: the first enter refuses and says why; enter (or y) again,
        // with nothing edited, scales anyway.
        let over = |replicas: i32, confirmed: &mut Option<PartitionLimit>, name: &str| {
            let limit = reads.as_ref()?.limit(name, replicas)?;
            if confirmed.as_ref() == Some(&limit) {
                return None;
            }
            *confirmed = Some(limit.clone());
            Some(limit)
        };
        let Mode::Dialog(Dialog::Scale {
            kind,
            namespace,
            name,
            input,
            info,
            editing_max,
            max_input,
            error,
            busy,
            confirm_zero,
            confirm_idle,
        }) = &mut self.mode
        else {
            return Vec::new();
        };
        let hpa = info.as_ref().and_then(|i| i.hpa.clone());
        let field = if *editing_max {
            &mut *max_input
        } else {
            &mut *input
        };
        let outcome = match key.code {
            KeyCode::Esc => Outcome::Close,
            _ if *busy => Outcome::Stay,
            KeyCode::Tab | KeyCode::BackTab if hpa.is_some() => {
                *editing_max = !*editing_max;
                Outcome::Stay
            }
            KeyCode::Backspace => {
                field.pop();
                *confirm_zero = false;
                *confirm_idle = None;
                Outcome::Stay
            }
            KeyCode::Char(c) if c.is_ascii_digit() => {
                field.push(c);
                *confirm_zero = false;
                *confirm_idle = None;
                Outcome::Stay
            }
            KeyCode::Char('y') if *confirm_zero => Outcome::Submit(
                "scaling to 0…".into(),
                Effect::Scale {
                    kind: *kind,
                    namespace: namespace.clone(),
                    name: name.clone(),
                    replicas: 0,
                },
            ),
            KeyCode::Enter | KeyCode::Char('y')
                if key.code == KeyCode::Enter || confirm_idle.is_some() =>
            {
                let parse = |s: &str| {
                    s.parse::<i32>()
                        .map_err(|_| format!("'{s}' is not a number"))
                };
                match (&hpa, parse(input)) {
                    (_, Err(e)) => {
                        *error = Some(e);
                        Outcome::Stay
                    }
                    (Some((hpa_name, _, _)), Ok(min)) => match parse(max_input) {
                        Err(e) => {
                            *error = Some(e);
                            Outcome::Stay
                        }
                        Ok(_) if min < 1 => {
                            *error = Some("an HPA's minimum must be at least 1".into());
                            Outcome::Stay
                        }
                        Ok(max) if max < min => {
                            *error = Some(format!("max ({max}) must be at least min ({min})"));
                            Outcome::Stay
                        }
                        Ok(max) if over(max, confirm_idle, name).is_some() => {
                            *error = None;
                            Outcome::Stay
                        }
                        Ok(max) => Outcome::Submit(
                            format!("setting HPA {hpa_name} to {min}–{max}…"),
                            Effect::SetHpaRange {
                                namespace: namespace.clone(),
                                name: hpa_name.clone(),
                                min,
                                max,
                            },
                        ),
                    },
                    (None, Ok(n)) if n < 0 => {
                        *error = Some("replicas cannot be negative".into());
                        Outcome::Stay
                    }
                    (None, Ok(0)) if !*confirm_zero => {
                        *confirm_zero = true;
                        *error = None;
                        Outcome::Stay
                    }
                    (None, Ok(n)) if over(n, confirm_idle, name).is_some() => {
                        *error = None;
                        Outcome::Stay
                    }
                    (None, Ok(n)) => Outcome::Submit(
                        match confirm_idle {
                            Some(l) => format!(
                                "scaling to {n} past the partitions ({} consumers idle)…",
                                l.idle()
                            ),
                            None => format!("scaling to {n}…"),
                        },
                        Effect::Scale {
                            kind: *kind,
                            namespace: namespace.clone(),
                            name: name.clone(),
                            replicas: n,
                        },
                    ),
                }
            }
            _ => Outcome::Stay,
        };
        match outcome {
            Outcome::Stay => Vec::new(),
            Outcome::Close => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            Outcome::Submit(progress, effect) => {
                *busy = true;
                *error = None;
                *confirm_zero = false;
                *confirm_idle = None;
                self.tasks
                    .push((format!("scale {namespace}/{name}"), progress));
                vec![effect]
            }
        }
    }
}

/// The task a confirmed effect starts, as its [`Msg::Done`] names it.
fn confirmed_task(effect: &Effect) -> String {
    match effect {
        Effect::Drain(n) => format!("drain {n}"),
        Effect::Cordon(n) => format!("cordon {n}"),
        Effect::Uncordon(n) => format!("uncordon {n}"),
        Effect::DeletePod { key } => format!("delete pod {}/{}", key.0, key.1),
        Effect::Restart {
            namespace, name, ..
        } => format!("restart {namespace}/{name}"),
        _ => "task".into(),
    }
}

/// The screen a `:` command (or `--command` at launch) names: `pods`, `po`, `deploy`, `rel`…
pub fn screen_named(name: &str) -> Option<Screen> {
    match name {
        "overview" | "o" | "home" => Some(Screen::Overview),
        "nodes" | "node" | "no" => Some(Screen::Nodes),
        "deploy" | "deployments" | "sts" | "statefulsets" | "ds" | "workloads" | "wl" => {
            Some(Screen::Workloads)
        }
        "pods" | "pod" | "po" => Some(Screen::Pods),
        "events" | "ev" => Some(Screen::Events),
        "rel" | "releases" | "helm" => Some(Screen::Releases),
        "topics" | "topic" => Some(Screen::Topics),
        _ => None,
    }
}
