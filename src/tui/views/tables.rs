//! The table screens: Nodes, Workloads, Pods, Events, Releases. Each is an index (which
//! rows, in which order — rebuilt only when the data or the filter changes) and a row
//! builder called only for the rows on screen.

use crate::core::cluster::{ClusterState, Key, Usage, WorkloadKind};
use crate::core::health::{HealthStatus, PodClass};
use crate::core::release::ReleaseStatus;
use crate::tui::format::{age, cpu, memory, percent};
use crate::tui::keymap::Screen;
use crate::tui::theme::{Role, Theme};
use ratatui::style::Style;

/// A row of one of the table screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRef {
    Node(String),
    Workload(WorkloadKind, String, String),
    Pod(Key),
    Event(Key),
    Release(Key),
}

/// What `/` narrows a table to: a substring of what the row shows (name, namespace, status,
/// node…), case-insensitive, or `label=value`; on Events, `object:KIND/NAME` or
/// `object:KIND/NAMESPACE/NAME` keeps the events of that one object (`e` sets it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Filter {
    #[default]
    None,
    Text(String),
    Label(String, String),
    /// An event's involved object: kind, namespace (None: any), name — exact.
    Object(String, Option<String>, String),
}

/// The filter `e` sets on Events for an object ([`Filter::Object`]).
pub fn object_filter(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("object:{kind}/{ns}/{name}"),
        None => format!("object:{kind}/{name}"),
    }
}

/// Whether `hay`, lowercased, contains `needle` (already lowercase), without allocating
/// when both are ASCII — the filter runs over every row at each key typed.
fn contains_folded(hay: &str, needle: &str) -> bool {
    if !(hay.is_ascii() && needle.is_ascii()) {
        return hay.to_lowercase().contains(needle);
    }
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

impl Filter {
    pub fn parse(s: &str) -> Filter {
        let s = s.trim();
        if s.is_empty() {
            return Filter::None;
        }
        if let Some(o) = s.strip_prefix("object:") {
            let parts: Vec<&str> = o.split('/').map(str::trim).collect();
            match parts[..] {
                [kind, name] if !kind.is_empty() && !name.is_empty() => {
                    return Filter::Object(kind.to_string(), None, name.to_string());
                }
                [kind, ns, name] if !kind.is_empty() && !ns.is_empty() && !name.is_empty() => {
                    return Filter::Object(
                        kind.to_string(),
                        Some(ns.to_string()),
                        name.to_string(),
                    );
                }
                _ => {}
            }
        }
        if let Some((k, v)) = s.split_once('=') {
            Filter::Label(k.trim().to_string(), v.trim().to_string())
        } else {
            Filter::Text(s.to_lowercase())
        }
    }

    fn text(&self, fields: &[&str]) -> bool {
        match self {
            Filter::None => true,
            Filter::Text(t) => fields.iter().any(|f| contains_folded(f, t)),
            Filter::Label(..) | Filter::Object(..) => false,
        }
    }

    /// Whether an event passes: its involved object under [`Filter::Object`], else its text.
    fn event(&self, e: &crate::core::cluster::EventRow) -> bool {
        match self {
            Filter::Object(kind, ns, name) => {
                e.object_kind.eq_ignore_ascii_case(kind)
                    && e.object_name == *name
                    && ns.as_ref().is_none_or(|ns| *ns == e.namespace)
            }
            _ => self.text(&[&e.object_name, &e.reason, &e.message, &e.namespace]),
        }
    }

    fn labels(&self, labels: &std::collections::BTreeMap<String, String>, fields: &[&str]) -> bool {
        match self {
            Filter::Label(k, v) => labels.get(k).is_some_and(|x| x == v),
            _ => self.text(fields),
        }
    }
}

/// How a column gives way when the terminal is narrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Always whole: as wide as its title and its widest value on screen (STATUS, CPU, MEM,
    /// AGE…); dropped, never cut, when there is no room.
    Whole,
    /// Shortens with a trailing `…` down to `min` characters (NAME, OBJECT…); never wider
    /// than its widest value.
    Shorten { min: u16 },
    /// As `Shorten`, but takes what is left only once the shortening columns have what
    /// they need (an event's MESSAGE).
    Rest { min: u16 },
}

/// A column of a table screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub title: &'static str,
    /// Which of the row's cells it shows.
    pub cell: usize,
    /// The lower, the sooner it gives way; the columns of `KEEP` are never dropped. Spare
    /// width goes to the shortening columns in the same order, the highest first.
    pub keep: u8,
    pub fit: Fit,
}

/// Never dropped.
pub const KEEP: u8 = u8::MAX;

/// The space between two columns (ratatui's default).
pub const COLUMN_SPACING: u16 = 1;

/// The columns of a table screen, in the order shown. With one namespace selected, the
/// NAMESPACE column is left out; the Releases screen's BACKUP column shows only when the
/// backups' ages are known ([`columns_with_backups`]).
pub fn columns(screen: Screen, one_namespace: bool) -> Vec<Column> {
    columns_with_backups(screen, one_namespace, false)
}

/// [`columns`], with the Releases screen's BACKUP column when `backups`.
pub fn columns_with_backups(screen: Screen, one_namespace: bool, backups: bool) -> Vec<Column> {
    let mut cols = all_columns(screen, one_namespace);
    if !backups {
        cols.retain(|c| c.title != "BACKUP");
    }
    cols
}

fn all_columns(screen: Screen, one_namespace: bool) -> Vec<Column> {
    use Fit::{Rest, Shorten, Whole};
    let spec: &[(&'static str, u8, Fit)] = match screen {
        Screen::Nodes => &[
            ("NAME", KEEP, Shorten { min: 10 }),
            ("STATUS", KEEP, Whole),
            ("ROLES", 2, Shorten { min: 6 }),
            ("CPU", 5, Whole),
            ("CPU%", 8, Whole),
            ("MEM", 4, Whole),
            ("MEM%", 7, Whole),
            ("PODS", 3, Whole),
            ("VERSION", 1, Whole),
            ("AGE", 6, Whole),
        ],
        Screen::Workloads => &[
            ("KIND", 7, Whole),
            ("NAMESPACE", 5, Shorten { min: 8 }),
            ("NAME", KEEP, Shorten { min: 16 }),
            ("READY", KEEP, Whole),
            ("UP-TO-DATE", 1, Whole),
            ("AVAILABLE", 4, Whole),
            ("HEALTH", KEEP, Whole),
            ("HPA min/max cur→want cpu/target", 3, Whole),
            ("AGE", 6, Whole),
        ],
        Screen::Pods => &[
            ("NAMESPACE", 2, Shorten { min: 8 }),
            ("NAME", KEEP, Shorten { min: 20 }),
            ("READY", KEEP, Whole),
            ("STATUS", KEEP, Whole),
            ("RESTARTS", 6, Whole),
            ("CPU", 3, Whole),
            ("MEM", 4, Whole),
            ("NODE", 1, Shorten { min: 8 }),
            ("AGE", 5, Whole),
        ],
        Screen::Events => &[
            ("TYPE", 6, Whole),
            ("NAMESPACE", 2, Shorten { min: 8 }),
            ("REASON", KEEP, Whole),
            ("OBJECT", 7, Shorten { min: 14 }),
            ("MESSAGE", KEEP, Rest { min: 24 }),
            ("COUNT", 3, Whole),
            ("LAST SEEN", 5, Whole),
        ],
        Screen::Releases => &[
            ("NAMESPACE", 2, Shorten { min: 8 }),
            ("NAME", KEEP, Shorten { min: 10 }),
            ("CHART", 4, Shorten { min: 8 }),
            ("CHART VERSION", 6, Whole),
            ("APP VERSION", 3, Whole),
            ("REVISION", 7, Whole),
            ("STATUS", KEEP, Whole),
            ("UPDATED", 5, Whole),
            // Shown only with `backup_every` configured ([`without_backups`]).
            ("BACKUP", 6, Whole),
        ],
        _ => &[],
    };
    spec.iter()
        .enumerate()
        .filter(|(_, (title, ..))| !(one_namespace && *title == "NAMESPACE"))
        .map(|(cell, &(title, keep, fit))| Column {
            title,
            cell,
            keep,
            fit,
        })
        .collect()
}

/// The Releases screen's note on revisions that cannot be decoded: the releases that have
/// some, and the first one's Secret and reason.
pub fn undecodable_note(releases: &[crate::core::cluster::ReleaseRow]) -> Option<String> {
    let broken: Vec<_> = releases
        .iter()
        .filter(|r| !r.undecodable.is_empty())
        .collect();
    let first = broken.first()?;
    let (secret, why) = &first.undecodable[0];
    let revisions: usize = broken.iter().map(|r| r.undecodable.len()).sum();
    Some(format!(
        "⚠ {} of {} cannot be decoded — {}/{} {secret}: {why}{} (h: its history)",
        crate::tui::app::plural(revisions as i64, "revision", "revisions"),
        crate::tui::app::plural(broken.len() as i64, "release", "releases"),
        first.namespace,
        first.name,
        if revisions > 1 { ", …" } else { "" },
    ))
}

/// How many terminal cells a text takes.
pub fn text_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

/// The width of each column in `width` cells, `None` for a column dropped: a whole column
/// is as wide as its title and its widest value in `rows` (so a STATUS or a memory figure is
/// never cut); while the columns at their minimum do not fit, the column that gives way
/// first is dropped; what is left goes to the shortening columns (NAME first, a `Rest`
/// column last), each up to what its widest value needs, so at 200 columns NAME does not
/// take all the spare width.
pub fn layout(cols: &[Column], rows: &[Vec<CellText>], width: u16) -> Vec<Option<u16>> {
    let need: Vec<u16> = cols
        .iter()
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c.cell))
                .map(|t| text_width(&t.text))
                .chain([text_width(c.title)])
                .max()
                .unwrap_or(0)
                .min(u16::MAX as usize) as u16
        })
        .collect();
    let min: Vec<u16> = cols
        .iter()
        .zip(&need)
        .map(|(c, &n)| match c.fit {
            Fit::Whole => n,
            Fit::Shorten { min } | Fit::Rest { min } => min.min(n),
        })
        .collect();
    let mut kept: Vec<bool> = vec![true; cols.len()];
    let total = |kept: &[bool]| -> u32 {
        let n = kept.iter().filter(|k| **k).count() as u32;
        let sum: u32 = (0..cols.len())
            .filter(|&i| kept[i])
            .map(|i| u32::from(min[i]))
            .sum();
        sum + n.saturating_sub(1) * u32::from(COLUMN_SPACING)
    };
    while total(&kept) > u32::from(width) {
        // The kept column that gives way first; the rightmost of equals.
        let Some(drop) = (0..cols.len())
            .filter(|&i| kept[i] && cols[i].keep != KEEP)
            .min_by_key(|&i| (cols[i].keep, std::cmp::Reverse(i)))
        else {
            break;
        };
        kept[drop] = false;
    }
    let mut widths: Vec<Option<u16>> = (0..cols.len()).map(|i| kept[i].then_some(min[i])).collect();
    let mut spare = u32::from(width).saturating_sub(total(&kept));
    let mut growing: Vec<usize> = (0..cols.len())
        .filter(|&i| kept[i] && cols[i].fit != Fit::Whole)
        .collect();
    growing.sort_by_key(|&i| {
        (
            matches!(cols[i].fit, Fit::Rest { .. }),
            std::cmp::Reverse(cols[i].keep),
        )
    });
    for i in growing {
        let Some(w) = widths[i].as_mut() else {
            continue;
        };
        let more = u32::from(need[i] - *w).min(spare);
        *w += more as u16;
        spare -= more;
    }
    widths
}

fn in_ns(ns: Option<&str>, row_ns: &str) -> bool {
    ns.is_none_or(|n| n == row_ns)
}

/// Which rows a screen shows, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RowIndex {
    /// Every pod, in the state's own order: nothing to build, however many pods there are.
    AllPods(usize),
    List(Vec<RowRef>),
}

impl RowIndex {
    pub fn len(&self) -> usize {
        match self {
            RowIndex::AllPods(n) => *n,
            RowIndex::List(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows from `offset`, at most `n` of them.
    pub fn window(&self, state: &ClusterState, offset: usize, n: usize) -> Vec<RowRef> {
        match self {
            RowIndex::AllPods(_) => state
                .pods
                .keys()
                .skip(offset)
                .take(n)
                .map(|k| RowRef::Pod(k.clone()))
                .collect(),
            RowIndex::List(v) => v.iter().skip(offset).take(n).cloned().collect(),
        }
    }
}

/// Which rows a screen shows, in order.
pub fn index(screen: Screen, state: &ClusterState, filter: &Filter, ns: Option<&str>) -> RowIndex {
    index_sorted(screen, state, filter, ns, None)
}

/// A column a table can be sorted by: `o` steps through those of the screen
/// ([`SortColumn::of`]), then back to the screen's own order; `O` reverses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortColumn {
    /// A to Z (namespace breaks ties; an event's object).
    Name,
    /// Youngest first (a release's last update, an event's last sighting).
    Age,
    /// Most restarts first.
    Restarts,
    /// Most CPU first (no metrics: last).
    Cpu,
    /// Most memory first (no metrics: last).
    Memory,
    /// Problems first (not ready, failing, degraded, warnings), then by status text.
    Status,
}

impl SortColumn {
    /// As the table's title shows it.
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Name => "name",
            SortColumn::Age => "age",
            SortColumn::Restarts => "restarts",
            SortColumn::Cpu => "cpu",
            SortColumn::Memory => "mem",
            SortColumn::Status => "status",
        }
    }

    /// The columns `o` steps through on a screen, in order.
    pub fn of(screen: Screen) -> &'static [SortColumn] {
        use SortColumn::*;
        match screen {
            Screen::Nodes => &[Name, Status, Cpu, Memory, Age],
            Screen::Workloads => &[Name, Status, Age],
            Screen::Pods => &[Name, Status, Restarts, Cpu, Memory, Age],
            Screen::Events => &[Name, Status, Age],
            Screen::Releases => &[Name, Status, Age],
            _ => &[],
        }
    }
}

/// The order of a table chosen with `o` / `O`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub column: SortColumn,
    pub reverse: bool,
}

impl Sort {
    /// For the table's title: `restarts`, `name reversed`.
    pub fn label(self) -> String {
        if self.reverse {
            format!("{} reversed", self.column.label())
        } else {
            self.column.label().to_string()
        }
    }
}

/// Which rows a screen shows, in the order of `sort` (`None`: the screen's own order).
pub fn index_sorted(
    screen: Screen,
    state: &ClusterState,
    filter: &Filter,
    ns: Option<&str>,
    sort: Option<Sort>,
) -> RowIndex {
    let sort = sort.filter(|s| SortColumn::of(screen).contains(&s.column));
    if screen == Screen::Pods && *filter == Filter::None && ns.is_none() && sort.is_none() {
        return RowIndex::AllPods(state.pods.len());
    }
    let mut rows = list(screen, state, filter, ns);
    if let Some(sort) = sort {
        sort_rows(state, &mut rows, sort);
    }
    RowIndex::List(rows)
}

/// What a row sorts by: a number (lower first), then a text.
type SortKey = (i64, String);

fn youngest_first(t: Option<jiff::Timestamp>) -> i64 {
    t.map_or(i64::MAX, |t| -t.as_second())
}

fn most_first(n: Option<u64>) -> i64 {
    n.map_or(i64::MAX, |n| -(n.min(i64::MAX as u64) as i64))
}

fn sort_key(
    state: &ClusterState,
    releases: &[crate::core::cluster::ReleaseRow],
    r: &RowRef,
    column: SortColumn,
) -> SortKey {
    use SortColumn::*;
    let name = |ns: &str, name: &str| (0, format!("{name}\u{0}{ns}"));
    match r {
        RowRef::Node(n) => {
            let Some(node) = state.nodes.get(n) else {
                return (i64::MAX, n.clone());
            };
            let usage = state.node_usage.get(n);
            match column {
                Status => {
                    let bad = node.ready != Some(true)
                        || node.memory_pressure
                        || node.disk_pressure
                        || node.pid_pressure;
                    (
                        i64::from(!bad) * 2 + i64::from(!node.unschedulable),
                        n.clone(),
                    )
                }
                Cpu => (most_first(usage.map(|u| u.cpu_millis)), n.clone()),
                Memory => (most_first(usage.map(|u| u.memory_bytes)), n.clone()),
                Age => (youngest_first(node.created), n.clone()),
                _ => (0, n.clone()),
            }
        }
        RowRef::Workload(kind, ns, n) => {
            let Some(w) = state.workloads.get(&(*kind, ns.clone(), n.clone())) else {
                return (i64::MAX, n.clone());
            };
            match column {
                Status => (
                    i64::from(w.health.status == HealthStatus::Healthy),
                    w.health.status.label().to_string(),
                ),
                Age => (youngest_first(w.created), String::new()),
                _ => name(ns, n),
            }
        }
        RowRef::Pod(key) => {
            let Some(p) = state.pods.get(key) else {
                return (i64::MAX, key.1.clone());
            };
            let usage = state.pod_usage.get(key);
            match column {
                Status => (i64::from(!p.status.is_problem()), p.status.text.clone()),
                Restarts => (-i64::from(p.status.restarts), String::new()),
                Cpu => (most_first(usage.map(|u| u.cpu_millis)), String::new()),
                Memory => (most_first(usage.map(|u| u.memory_bytes)), String::new()),
                Age => (youngest_first(p.created), String::new()),
                _ => name(&key.0, &key.1),
            }
        }
        RowRef::Event(key) => {
            let Some(e) = state.events.get(key) else {
                return (i64::MAX, key.1.clone());
            };
            match column {
                Status => (i64::from(!e.warning), e.reason.clone()),
                Age => (youngest_first(e.last_seen), String::new()),
                _ => name(&e.namespace, &e.object_name),
            }
        }
        RowRef::Release(key) => {
            let Some(rel) = releases
                .iter()
                .find(|x| x.namespace == key.0 && x.name == key.1)
            else {
                return (i64::MAX, key.1.clone());
            };
            match column {
                Status => (
                    i64::from(rel.status == ReleaseStatus::Deployed),
                    rel.status.as_str().to_string(),
                ),
                Age => (youngest_first(rel.updated), String::new()),
                _ => name(&key.0, &key.1),
            }
        }
    }
}

/// Sorts the rows of a table (stable: rows that tie keep the screen's own order).
fn sort_rows(state: &ClusterState, rows: &mut Vec<RowRef>, sort: Sort) {
    let releases = if rows.iter().any(|r| matches!(r, RowRef::Release(_))) {
        state.releases()
    } else {
        Vec::new()
    };
    let mut keyed: Vec<(SortKey, RowRef)> = rows
        .drain(..)
        .map(|r| (sort_key(state, &releases, &r, sort.column), r))
        .collect();
    keyed.sort_by(|a, b| {
        if sort.reverse {
            b.0.cmp(&a.0)
        } else {
            a.0.cmp(&b.0)
        }
    });
    rows.extend(keyed.into_iter().map(|(_, r)| r));
}

fn list(screen: Screen, state: &ClusterState, filter: &Filter, ns: Option<&str>) -> Vec<RowRef> {
    match screen {
        Screen::Nodes => state
            .nodes
            .values()
            .filter(|n| {
                filter.text(&[
                    &n.name,
                    if n.ready == Some(true) {
                        "Ready"
                    } else {
                        "NotReady"
                    },
                ])
            })
            .map(|n| RowRef::Node(n.name.clone()))
            .collect(),
        Screen::Workloads => state
            .workloads
            .values()
            .filter(|w| {
                in_ns(ns, &w.namespace)
                    && filter.labels(
                        &w.selector,
                        &[&w.name, &w.namespace, w.health.status.label()],
                    )
            })
            .map(|w| RowRef::Workload(w.kind, w.namespace.clone(), w.name.clone()))
            .collect(),
        Screen::Pods => state
            .pods
            .values()
            .filter(|p| {
                in_ns(ns, &p.namespace)
                    && filter.labels(&p.labels, &[&p.name, &p.namespace, &p.node, &p.status.text])
            })
            .map(|p| RowRef::Pod((p.namespace.clone(), p.name.clone())))
            .collect(),
        Screen::Events => {
            let mut rows: Vec<_> = state
                .events
                .values()
                .filter(|e| in_ns(ns, &e.namespace) && filter.event(e))
                .collect();
            // One object's events read as its story: newest first, warnings or not.
            let story = matches!(filter, Filter::Object(..));
            rows.sort_by(|a, b| {
                let warnings_first = if story {
                    std::cmp::Ordering::Equal
                } else {
                    b.warning.cmp(&a.warning)
                };
                warnings_first.then(b.last_seen.cmp(&a.last_seen))
            });
            rows.into_iter()
                .map(|e| RowRef::Event((e.namespace.clone(), e.name.clone())))
                .collect()
        }
        Screen::Releases => state
            .releases()
            .into_iter()
            .filter(|r| in_ns(ns, &r.namespace) && filter.text(&[&r.name, &r.namespace, &r.chart]))
            .map(|r| RowRef::Release((r.namespace, r.name)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The style of a health status (colour and a modifier, never colour alone: the text says it too).
pub fn health_style(theme: &Theme, h: HealthStatus) -> Style {
    theme.style(match h {
        HealthStatus::Healthy => Role::Ok,
        HealthStatus::Progressing => Role::Progressing,
        HealthStatus::Degraded => Role::Degraded,
        HealthStatus::Suspended => Role::Suspended,
        HealthStatus::Missing | HealthStatus::Unknown => Role::Unknown,
    })
}

fn pod_style(theme: &Theme, c: PodClass) -> Style {
    theme.style(match c {
        PodClass::Running | PodClass::Succeeded => Role::Row,
        PodClass::Pending => Role::Progressing,
        PodClass::Terminating => Role::Dim,
        PodClass::Failed | PodClass::CrashLooping => Role::Failing,
        PodClass::Unknown => Role::Unknown,
    })
}

fn release_style(theme: &Theme, s: ReleaseStatus) -> Style {
    theme.style(match s {
        ReleaseStatus::Deployed => Role::Row,
        ReleaseStatus::Failed => Role::Failing,
        s if s.is_pending() => Role::Warning,
        _ => Role::Dim,
    })
}

/// What rows are built from: the state and what is derived from it once per change.
pub struct RowCtx<'a> {
    pub state: &'a ClusterState,
    pub now: jiff::Timestamp,
    pub theme: &'a Theme,
    pub pods_per_node: &'a std::collections::HashMap<String, usize>,
    pub releases: &'a [crate::core::cluster::ReleaseRow],
    /// When each release was last backed up, when known.
    pub backups: Option<&'a crate::core::releases::backup_store::BackupAges>,
}

/// The BACKUP cell of a release: the newest backup's age, `none`, or `?` when the backups
/// could not be listed; in the warning colour when overdue.
fn backup_cell(ctx: &RowCtx, namespace: &str, name: &str) -> CellText {
    let Some(ages) = ctx.backups else {
        return cell("");
    };
    let text = match &ages.newest {
        Err(_) => "?".to_string(),
        Ok(newest) => match newest.get(&(namespace.to_string(), name.to_string())) {
            Some(at) => age(Some(*at), ctx.now),
            None => "none".to_string(),
        },
    };
    let c = cell(text);
    if ages.stale(namespace, name, ctx.now).is_some() {
        c.style(ctx.theme.style(Role::Warning))
    } else {
        c
    }
}

/// Pods per node, for the Nodes screen (one allocation per node, not per pod).
pub fn pods_per_node(state: &ClusterState) -> std::collections::HashMap<String, usize> {
    let mut m: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for p in state.pods.values() {
        match m.get_mut(p.node.as_str()) {
            Some(n) => *n += 1,
            None => {
                m.insert(p.node.clone(), 1);
            }
        }
    }
    m
}

/// The text of a cell and its style: measured to lay the columns out, then drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellText {
    pub text: String,
    pub style: Style,
}

impl CellText {
    pub fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }
}

fn cell(text: impl Into<String>) -> CellText {
    CellText {
        text: text.into(),
        style: Style::default(),
    }
}

/// The cells of one row, one per column of [`columns`] (before any is left out).
pub fn row(ctx: &RowCtx, r: &RowRef) -> Vec<CellText> {
    let (state, now, theme) = (ctx.state, ctx.now, ctx.theme);
    let plain = theme.style(Role::Row);
    match r {
        RowRef::Node(name) => {
            let Some(n) = state.nodes.get(name) else {
                return vec![cell(name.clone()), cell("(gone)")];
            };
            // As kubectl prints it: anything but Ready=True is NotReady.
            let mut status = if n.ready == Some(true) {
                "Ready".to_string()
            } else {
                "NotReady".to_string()
            };
            if n.unschedulable {
                status.push_str(",SchedulingDisabled");
            }
            for (p, label) in [
                (n.memory_pressure, "MemoryPressure"),
                (n.disk_pressure, "DiskPressure"),
                (n.pid_pressure, "PIDPressure"),
            ] {
                if p {
                    status.push(',');
                    status.push_str(label);
                }
            }
            let bad =
                n.ready != Some(true) || n.memory_pressure || n.disk_pressure || n.pid_pressure;
            let glyph = if n.ready != Some(true) {
                "✖ "
            } else if bad || n.unschedulable {
                "◐ "
            } else {
                "✔ "
            };
            let usage = state.node_usage.get(name).copied();
            let pods = ctx.pods_per_node.get(name).copied().unwrap_or(0);
            let style = if n.ready != Some(true) {
                theme.style(Role::Failing)
            } else if bad {
                theme.style(Role::Warning)
            } else {
                plain
            };
            vec![
                cell(n.name.clone()),
                cell(format!("{glyph}{status}")).style(style),
                cell(n.roles.join(",")),
                cell(usage.map_or("n/a".into(), |u| cpu(u.cpu_millis))),
                cell(usage.map_or("n/a".into(), |u| percent(u.cpu_millis, n.cpu_millis))),
                cell(usage.map_or("n/a".into(), |u| memory(u.memory_bytes))),
                cell(usage.map_or("n/a".into(), |u| percent(u.memory_bytes, n.memory_bytes))),
                cell(pods.to_string()),
                cell(n.version.clone()),
                cell(age(n.created, now)),
            ]
        }
        RowRef::Workload(kind, ns, name) => {
            let Some(w) = state.workloads.get(&(*kind, ns.clone(), name.clone())) else {
                return vec![
                    cell(kind.short()),
                    cell(ns.clone()),
                    cell(name.clone()),
                    cell("(gone)"),
                ];
            };
            let hpa = state.hpa_for(*kind, ns, name).map_or(String::new(), |h| {
                format!(
                    "{}/{} {}→{} {}/{}",
                    h.min,
                    h.max,
                    h.current,
                    h.desired,
                    h.cpu_current.map_or("?".into(), |c| format!("{c}%")),
                    h.cpu_target.map_or("?".into(), |c| format!("{c}%"))
                )
            });
            vec![
                cell(kind.short()),
                cell(w.namespace.clone()),
                cell(w.name.clone()),
                cell(format!("{}/{}", w.ready, w.desired)),
                cell(w.updated.to_string()),
                cell(w.available.to_string()),
                cell(format!(
                    "{} {}",
                    w.health.status.glyph(),
                    w.health.status.label()
                ))
                .style(health_style(theme, w.health.status)),
                cell(hpa),
                cell(age(w.created, now)),
            ]
        }
        RowRef::Pod(key) => {
            let Some(p) = state.pods.get(key) else {
                return vec![
                    cell(key.0.clone()),
                    cell(key.1.clone()),
                    cell(""),
                    cell("(gone)"),
                ];
            };
            let usage: Option<Usage> = state.pod_usage.get(key).copied();
            let restarts = match p.status.last_restart {
                Some(t) if p.status.restarts > 0 => {
                    format!("{} ({} ago)", p.status.restarts, age(Some(t), now))
                }
                _ => p.status.restarts.to_string(),
            };
            vec![
                cell(p.namespace.clone()),
                cell(p.name.clone()),
                cell(p.status.ready_text()),
                cell(p.status.text.clone()).style(pod_style(theme, p.status.class)),
                cell(restarts),
                cell(usage.map_or("n/a".into(), |u| cpu(u.cpu_millis))),
                cell(usage.map_or("n/a".into(), |u| memory(u.memory_bytes))),
                cell(p.node.clone()),
                cell(age(p.created, now)),
            ]
        }
        RowRef::Event(key) => {
            let Some(e) = state.events.get(key) else {
                return vec![cell("(gone)")];
            };
            let (kind, style) = if e.warning {
                ("⚠ Warning", theme.style(Role::Warning))
            } else {
                ("  Normal", plain)
            };
            vec![
                cell(kind).style(style),
                cell(e.namespace.clone()),
                cell(e.reason.clone()),
                cell(format!(
                    "{}/{}",
                    e.object_kind.to_lowercase(),
                    e.object_name
                )),
                cell(e.message.clone()),
                cell(e.count.to_string()),
                cell(age(e.last_seen, now)),
            ]
        }
        RowRef::Release(key) => {
            let Some(r) = ctx
                .releases
                .iter()
                .find(|r| r.namespace == key.0 && r.name == key.1)
            else {
                return vec![cell(key.0.clone()), cell(key.1.clone()), cell("(gone)")];
            };
            if !r.decoded {
                // Why shows in the note above the table (and in its history, `h`).
                return vec![
                    cell(r.namespace.clone()),
                    cell(r.name.clone()),
                    cell("?"),
                    cell("?"),
                    cell("?"),
                    cell(r.revision.to_string()),
                    cell("✖ undecodable").style(theme.style(Role::Failing)),
                    cell(age(r.updated, now)),
                    backup_cell(ctx, &r.namespace, &r.name),
                ];
            }
            let glyph = match r.status {
                ReleaseStatus::Deployed => "✔",
                ReleaseStatus::Failed => "✖",
                s if s.is_pending() => "◐",
                _ => "·",
            };
            vec![
                cell(r.namespace.clone()),
                cell(r.name.clone()),
                cell(r.chart.clone()),
                cell(r.chart_version.clone()),
                cell(r.app_version.clone()),
                cell(r.revision.to_string()),
                cell(format!("{glyph} {}", r.status.as_str()))
                    .style(release_style(theme, r.status)),
                cell(age(r.updated, now)),
                backup_cell(ctx, &r.namespace, &r.name),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_filter_ignores_case_in_any_script() {
        let f = Filter::parse("Forwarder-ADOBE");
        assert!(f.text(&["ee", "forwarder-adobe-analytics-7d9f"]));
        assert!(f.text(&["FORWARDER-Adobe-x"]));
        assert!(!f.text(&["forwarder-adob", "adobe"]));
        // Non-ASCII on either side still matches case-insensitively.
        assert!(Filter::parse("ÜBER").text(&["pod-über-1"]));
        assert!(Filter::parse("uber").text(&["Überuber"]));
        assert!(!Filter::parse("ü").text(&["u"]));
    }

    fn texts(rows: &[&[&str]]) -> Vec<Vec<CellText>> {
        rows.iter()
            .map(|r| r.iter().map(|t| cell(*t)).collect())
            .collect()
    }

    fn pod_row<'a>(name: &'a str, status: &'a str) -> [&'a str; 9] {
        [
            "mr-ee",
            name,
            "0/1",
            status,
            "12 (2m30s ago)",
            "1250m",
            "2509Mi",
            "worker-3",
            "5d3h",
        ]
    }

    fn shown(cols: &[Column], widths: &[Option<u16>]) -> Vec<&'static str> {
        cols.iter()
            .zip(widths)
            .filter(|(_, w)| w.is_some())
            .map(|(c, _)| c.title)
            .collect()
    }

    #[test]
    fn a_status_is_never_cut_and_columns_give_way_by_priority() {
        let cols = columns(Screen::Pods, false);
        let rows = texts(&[
            &pod_row(
                "forwarder-pinterest-6b7f9c5d4-x2k9p",
                "CreateContainerConfigError",
            ),
            &pod_row("router-1", "Running"),
        ]);
        let total = |w: &[Option<u16>]| {
            let n = w.iter().flatten().count() as u16;
            w.iter().flatten().sum::<u16>() + (n - 1) * COLUMN_SPACING
        };
        let status = cols.iter().position(|c| c.title == "STATUS").unwrap();
        let name = cols.iter().position(|c| c.title == "NAME").unwrap();
        // 80 columns, less the borders and the selection mark.
        let w = layout(&cols, &rows, 76);
        assert_eq!(w[status], Some(26));
        assert!(total(&w) <= 76, "{w:?}");
        assert_eq!(
            shown(&cols, &w),
            ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        );
        // NAME gets what is left, shortened.
        assert_eq!(w[name], Some(76 - (5 + 26 + 14 + 4) - 4));
        // Narrower still: the essential columns stay, NAME at its minimum.
        let w = layout(&cols, &rows, 60);
        assert_eq!(shown(&cols, &w), ["NAME", "READY", "STATUS"]);
        assert_eq!(w[status], Some(26));
        // Wide: everything, NAME only as wide as its longest value, the rest left blank.
        let w = layout(&cols, &rows, 196);
        assert_eq!(shown(&cols, &w).len(), 9);
        assert_eq!(w[name], Some(35));
        assert!(total(&w) < 196);
        // With a short status there is room for the memory column at 80.
        let rows = texts(&[&pod_row("router-7d9f8c6b5-abcde", "Init:CrashLoopBackOff")]);
        let w = layout(&cols, &rows, 76);
        assert_eq!(
            shown(&cols, &w),
            ["NAME", "READY", "STATUS", "RESTARTS", "MEM", "AGE"]
        );
        assert_eq!(w[name], Some(21));
    }

    #[test]
    fn one_namespace_leaves_its_column_out_and_cells_keep_their_index() {
        let cols = columns(Screen::Pods, true);
        assert!(cols.iter().all(|c| c.title != "NAMESPACE"));
        let name = cols.iter().find(|c| c.title == "NAME").unwrap();
        assert_eq!(name.cell, 1);
        // Nodes have no namespace; every screen keeps its names and statuses.
        for screen in [
            Screen::Nodes,
            Screen::Workloads,
            Screen::Pods,
            Screen::Events,
            Screen::Releases,
        ] {
            let cols = columns(screen, false);
            assert!(cols.iter().any(|c| c.keep == KEEP), "{screen:?}");
            assert!(
                cols.iter()
                    .filter(|c| ["STATUS", "HEALTH", "CPU", "MEM", "AGE"].contains(&c.title))
                    .all(|c| c.fit == Fit::Whole),
                "{screen:?}"
            );
        }
    }

    #[test]
    fn filters_parse() {
        assert_eq!(Filter::parse(""), Filter::None);
        assert_eq!(Filter::parse("Forward"), Filter::Text("forward".into()));
        assert_eq!(
            Filter::parse("app.kubernetes.io/name=router"),
            Filter::Label("app.kubernetes.io/name".into(), "router".into())
        );
    }
}
