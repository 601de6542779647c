//! The table screens: Nodes, Workloads, Pods, Events, Releases. Each is an index (which
//! rows, in which order — rebuilt only when the data or the filter changes) and a row
//! builder called only for the rows on screen.

use crate::core::cluster::{ClusterState, Key, Usage, WorkloadKind};
use crate::core::health::{HealthStatus, PodClass};
use crate::core::release::ReleaseStatus;
use crate::tui::format::{age, cpu, memory, percent};
use crate::tui::keymap::Screen;
use crate::tui::theme::{Role, Theme};
use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::widgets::{Cell, Row};

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
/// node…), case-insensitive, or `label=value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Filter {
    #[default]
    None,
    Text(String),
    Label(String, String),
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
            Filter::None
        } else if let Some((k, v)) = s.split_once('=') {
            Filter::Label(k.trim().to_string(), v.trim().to_string())
        } else {
            Filter::Text(s.to_lowercase())
        }
    }

    fn text(&self, fields: &[&str]) -> bool {
        match self {
            Filter::None => true,
            Filter::Text(t) => fields.iter().any(|f| contains_folded(f, t)),
            Filter::Label(..) => false,
        }
    }

    fn labels(&self, labels: &std::collections::BTreeMap<String, String>, fields: &[&str]) -> bool {
        match self {
            Filter::Label(k, v) => labels.get(k).is_some_and(|x| x == v),
            _ => self.text(fields),
        }
    }
}

/// The columns of a table screen.
pub fn columns(screen: Screen) -> Vec<(&'static str, Constraint)> {
    use Constraint::{Length, Min};
    match screen {
        Screen::Nodes => vec![
            ("NAME", Min(14)),
            ("STATUS", Length(30)),
            ("ROLES", Length(8)),
            ("CPU", Length(7)),
            ("CPU%", Length(5)),
            ("MEM", Length(8)),
            ("MEM%", Length(5)),
            ("PODS", Length(5)),
            ("VERSION", Length(9)),
            ("AGE", Length(6)),
        ],
        Screen::Workloads => vec![
            ("KIND", Length(6)),
            ("NAMESPACE", Length(14)),
            ("NAME", Min(20)),
            ("READY", Length(7)),
            ("UP-TO-DATE", Length(10)),
            ("AVAILABLE", Length(9)),
            ("HEALTH", Length(13)),
            ("HPA min/max cur→want cpu/target", Length(31)),
            ("AGE", Length(6)),
        ],
        Screen::Pods => vec![
            ("NAMESPACE", Length(14)),
            ("NAME", Min(24)),
            ("READY", Length(6)),
            ("STATUS", Length(20)),
            ("RESTARTS", Length(13)),
            ("CPU", Length(7)),
            ("MEM", Length(7)),
            ("NODE", Length(12)),
            ("AGE", Length(6)),
        ],
        Screen::Events => vec![
            ("TYPE", Length(9)),
            ("NAMESPACE", Length(14)),
            ("REASON", Length(18)),
            ("OBJECT", Length(34)),
            ("MESSAGE", Min(30)),
            ("COUNT", Length(5)),
            ("LAST SEEN", Length(9)),
        ],
        Screen::Releases => vec![
            ("NAMESPACE", Length(14)),
            ("NAME", Min(18)),
            ("CHART", Length(18)),
            ("CHART VERSION", Length(13)),
            ("APP VERSION", Length(12)),
            ("REVISION", Length(8)),
            ("STATUS", Length(20)),
            ("UPDATED", Length(8)),
        ],
        _ => Vec::new(),
    }
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
    if screen == Screen::Pods && *filter == Filter::None && ns.is_none() {
        return RowIndex::AllPods(state.pods.len());
    }
    RowIndex::List(list(screen, state, filter, ns))
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
                .filter(|e| {
                    in_ns(ns, &e.namespace)
                        && filter.text(&[&e.object_name, &e.reason, &e.message, &e.namespace])
                })
                .collect();
            rows.sort_by(|a, b| {
                b.warning
                    .cmp(&a.warning)
                    .then(b.last_seen.cmp(&a.last_seen))
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

/// The cells of one row.
pub fn row(ctx: &RowCtx, r: &RowRef) -> Row<'static> {
    let (state, now, theme) = (ctx.state, ctx.now, ctx.theme);
    let plain = theme.style(Role::Row);
    match r {
        RowRef::Node(name) => {
            let Some(n) = state.nodes.get(name) else {
                return Row::new(vec![Cell::from(name.clone()), Cell::from("(gone)")]);
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
            Row::new(vec![
                Cell::from(n.name.clone()),
                Cell::from(format!("{glyph}{status}")).style(style),
                Cell::from(n.roles.join(",")),
                Cell::from(usage.map_or("n/a".into(), |u| cpu(u.cpu_millis))),
                Cell::from(usage.map_or("n/a".into(), |u| percent(u.cpu_millis, n.cpu_millis))),
                Cell::from(usage.map_or("n/a".into(), |u| memory(u.memory_bytes))),
                Cell::from(usage.map_or("n/a".into(), |u| percent(u.memory_bytes, n.memory_bytes))),
                Cell::from(pods.to_string()),
                Cell::from(n.version.clone()),
                Cell::from(age(n.created, now)),
            ])
        }
        RowRef::Workload(kind, ns, name) => {
            let Some(w) = state.workloads.get(&(*kind, ns.clone(), name.clone())) else {
                return Row::new(vec![
                    Cell::from(kind.short()),
                    Cell::from(ns.clone()),
                    Cell::from(name.clone()),
                    Cell::from("(gone)"),
                ]);
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
            Row::new(vec![
                Cell::from(kind.short()),
                Cell::from(w.namespace.clone()),
                Cell::from(w.name.clone()),
                Cell::from(format!("{}/{}", w.ready, w.desired)),
                Cell::from(w.updated.to_string()),
                Cell::from(w.available.to_string()),
                Cell::from(format!(
                    "{} {}",
                    w.health.status.glyph(),
                    w.health.status.label()
                ))
                .style(health_style(theme, w.health.status)),
                Cell::from(hpa),
                Cell::from(age(w.created, now)),
            ])
        }
        RowRef::Pod(key) => {
            let Some(p) = state.pods.get(key) else {
                return Row::new(vec![
                    Cell::from(key.0.clone()),
                    Cell::from(key.1.clone()),
                    Cell::from(""),
                    Cell::from("(gone)"),
                ]);
            };
            let usage: Option<Usage> = state.pod_usage.get(key).copied();
            let restarts = match p.status.last_restart {
                Some(t) if p.status.restarts > 0 => {
                    format!("{} ({} ago)", p.status.restarts, age(Some(t), now))
                }
                _ => p.status.restarts.to_string(),
            };
            Row::new(vec![
                Cell::from(p.namespace.clone()),
                Cell::from(p.name.clone()),
                Cell::from(p.status.ready_text()),
                Cell::from(p.status.text.clone()).style(pod_style(theme, p.status.class)),
                Cell::from(restarts),
                Cell::from(usage.map_or("n/a".into(), |u| cpu(u.cpu_millis))),
                Cell::from(usage.map_or("n/a".into(), |u| memory(u.memory_bytes))),
                Cell::from(p.node.clone()),
                Cell::from(age(p.created, now)),
            ])
        }
        RowRef::Event(key) => {
            let Some(e) = state.events.get(key) else {
                return Row::new(vec![Cell::from("(gone)")]);
            };
            let (kind, style) = if e.warning {
                ("⚠ Warning", theme.style(Role::Warning))
            } else {
                ("  Normal", plain)
            };
            Row::new(vec![
                Cell::from(kind).style(style),
                Cell::from(e.namespace.clone()),
                Cell::from(e.reason.clone()),
                Cell::from(format!(
                    "{}/{}",
                    e.object_kind.to_lowercase(),
                    e.object_name
                )),
                Cell::from(e.message.clone()),
                Cell::from(e.count.to_string()),
                Cell::from(age(e.last_seen, now)),
            ])
        }
        RowRef::Release(key) => {
            let Some(r) = ctx
                .releases
                .iter()
                .find(|r| r.namespace == key.0 && r.name == key.1)
            else {
                return Row::new(vec![
                    Cell::from(key.0.clone()),
                    Cell::from(key.1.clone()),
                    Cell::from("(gone)"),
                ]);
            };
            let glyph = match r.status {
                ReleaseStatus::Deployed => "✔",
                ReleaseStatus::Failed => "✖",
                s if s.is_pending() => "◐",
                _ => "·",
            };
            Row::new(vec![
                Cell::from(r.namespace.clone()),
                Cell::from(r.name.clone()),
                Cell::from(r.chart.clone()),
                Cell::from(r.chart_version.clone()),
                Cell::from(r.app_version.clone()),
                Cell::from(r.revision.to_string()),
                Cell::from(format!("{glyph} {}", r.status.as_str()))
                    .style(release_style(theme, r.status)),
                Cell::from(age(r.updated, now)),
            ])
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
