//! The Topics screen: topics (partitions, replication, under-replicated and offline
//! partitions, log-end, produce rate) and consumer groups (state, members, lag, status, lag
//! trend); `enter` on a topic shows its partitions and the groups reading it, `enter` on a
//! group jumps to the workload that runs it. Only the visible rows are built.

use crate::core::topics::LagStatus;
use crate::core::topics::plan::PlanState;
use crate::core::topics::state::{GroupRow, TopicRow};
use crate::tui::app::App;
use crate::tui::keymap::Screen;
use crate::tui::theme::Role;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    Topic(String),
    Group(String),
}

fn filter(app: &App) -> String {
    app.filters
        .get(&Screen::Topics)
        .cloned()
        .unwrap_or_default()
}

fn topic_rows(app: &App) -> Vec<&TopicRow> {
    let Some(t) = &app.topics else {
        return Vec::new();
    };
    let f = filter(app);
    t.topics
        .iter()
        .filter(|r| f.is_empty() || r.name.contains(&f) || r.groups.iter().any(|g| g.contains(&f)))
        .collect()
}

fn detail_groups<'a>(app: &'a App, topic: &str) -> Vec<&'a GroupRow> {
    app.topics.as_ref().map_or_else(Vec::new, |t| {
        t.groups
            .iter()
            .filter(|g| g.topics.iter().any(|x| x == topic))
            .collect()
    })
}

/// Rows the cursor moves over: topics, or in a topic's detail its groups.
pub fn row_count(app: &App) -> usize {
    match &app.topic_detail {
        Some(t) => detail_groups(app, t).len(),
        None => topic_rows(app).len(),
    }
}

pub fn selected(app: &App) -> Option<Selected> {
    let i = app.selected_index();
    match &app.topic_detail {
        Some(t) => detail_groups(app, t)
            .get(i)
            .map(|g| Selected::Group(g.name.clone())),
        None => topic_rows(app)
            .get(i)
            .map(|t| Selected::Topic(t.name.clone())),
    }
}

/// `▁▂▃▅▇` from the last `width` values, scaled to their maximum.
pub fn sparkline(values: &[i64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().copied().max().unwrap_or(0).max(1);
    tail.iter()
        .map(|v| BARS[((v.max(&0) * 7) / max).clamp(0, 7) as usize])
        .collect()
}

fn status_role(s: LagStatus) -> Role {
    match s {
        LagStatus::Ok => Role::Ok,
        LagStatus::Pending => Role::Unknown,
        LagStatus::Warn | LagStatus::Rewind => Role::Degraded,
        LagStatus::Stall | LagStatus::Stop => Role::Failing,
    }
}

fn block<'a>(app: &App, title: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.style(Role::Border))
        .title(Span::styled(title, app.theme.style(Role::Title)))
}

fn rate(r: Option<f64>) -> String {
    r.map_or("–".to_string(), |r| format!("{r:.1}"))
}

fn group_row(app: &App, g: &GroupRow) -> Row<'static> {
    let t = &app.theme;
    let lag = if g.uncommitted > 0 {
        format!("{} (+{} no commit)", g.lag, g.uncommitted)
    } else {
        g.lag.to_string()
    };
    Row::new(vec![
        Cell::from(g.name.clone()),
        Cell::from(g.state.clone()),
        Cell::from(g.members.to_string()),
        Cell::from(lag),
        Cell::from(format!("{} {}", g.status.glyph(), g.status.label()))
            .style(t.style(status_role(g.status))),
        Cell::from(sparkline(&g.trend, 24)),
        Cell::from(g.topics.join(",")),
    ])
}

const GROUP_HEADER: [&str; 7] = [
    "GROUP",
    "STATE",
    "MEMBERS",
    "LAG",
    "STATUS",
    "LAG TREND",
    "TOPICS",
];
const GROUP_WIDTHS: [Constraint; 7] = [
    Constraint::Length(28),
    Constraint::Length(12),
    Constraint::Length(7),
    Constraint::Length(18),
    Constraint::Length(10),
    Constraint::Length(24),
    Constraint::Min(10),
];

/// Draws the Topics screen.
pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(ts) = &app.topics else {
        let text = "No topic source: configure a platform's kafka settings (see assets/helmdeck.sample.yaml), \
                    or run `helmdeck demo` for simulated topics (`helmdeck demo --kafka HOST:PORT` for a broker).";
        f.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .block(block(app, " Topics ".into())),
            area,
        );
        return;
    };
    let t = &app.theme;
    // The note: where data comes from, and what is wrong with it (with its age).
    let mut note = vec![Span::styled(ts.source.clone(), t.style(Role::Dim))];
    let now_ms = app.now.as_millisecond();
    if let Some(e) = &ts.error {
        let age = ts.updated_ms.map_or("no data yet".to_string(), |u| {
            format!("data {}s old", ((now_ms - u) / 1000).max(0))
        });
        note = vec![Span::styled(
            format!("⚠ {e} ({age})"),
            t.style(Role::Warning),
        )];
    } else if ts.snapshot.is_none() {
        note.push(Span::styled("  … loading", t.style(Role::Dim)));
    }
    let plan_line = ts.plan.as_ref().and_then(|p| {
        let missing: Vec<&str> = p
            .topics
            .iter()
            .filter(|t| t.state == PlanState::Missing)
            .map(|t| t.name.as_str())
            .collect();
        let short: Vec<&str> = p
            .topics
            .iter()
            .filter(|t| t.state == PlanState::BelowFloor)
            .map(|t| t.name.as_str())
            .collect();
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing: {}", missing.join(", ")));
        }
        if !short.is_empty() {
            parts.push(format!(
                "fewer partitions than consumer replicas: {}",
                short.join(", ")
            ));
        }
        for i in &p.idle_consumers {
            parts.push(format!("{} has {} idle replicas", i.workload, i.idle));
        }
        (!parts.is_empty()).then(|| format!("plan of {}: {}", p.platform, parts.join(" · ")))
    });
    let selected = app.selected_index();
    let mut page = app.page;
    match app.topic_detail.clone() {
        None => {
            let rows = topic_rows(app);
            let total = rows.len();
            let f_text = filter(app);
            let title = if f_text.is_empty() {
                format!(" Topics ({total}) ")
            } else {
                format!(" Topics ({total}) /{f_text} ")
            };
            let groups_h = (ts.groups.len() as u16 + 3).min(area.height / 2).max(4);
            let [top, bottom] =
                Layout::vertical([Constraint::Min(5), Constraint::Length(groups_h)]).areas(area);
            let b = block(app, title);
            let inner = b.inner(top);
            f.render_widget(b, top);
            let note_h = 1 + u16::from(plan_line.is_some());
            let [note_area, table_area] =
                Layout::vertical([Constraint::Length(note_h), Constraint::Min(1)]).areas(inner);
            let mut lines = vec![Line::from(note)];
            if let Some(p) = plan_line {
                lines.push(Line::from(Span::styled(
                    format!("✖ {p}"),
                    t.style(Role::Failing),
                )));
            }
            f.render_widget(Paragraph::new(lines), note_area);
            let visible = table_area.height.saturating_sub(1) as usize;
            page = visible.max(1);
            let sel = selected.min(total.saturating_sub(1));
            let offset = sel.saturating_sub(visible.saturating_sub(1));
            let body: Vec<Row> = rows
                .iter()
                .skip(offset)
                .take(visible)
                .map(|r| {
                    let health = if r.offline > 0 {
                        t.style(Role::Failing)
                    } else if r.under_replicated > 0 {
                        t.style(Role::Degraded)
                    } else {
                        ratatui::style::Style::default()
                    };
                    Row::new(vec![
                        Cell::from(r.name.clone()),
                        Cell::from(r.partitions.to_string()),
                        Cell::from(r.replication_factor.to_string()),
                        Cell::from(r.under_replicated.to_string()).style(health),
                        Cell::from(r.offline.to_string()).style(health),
                        Cell::from(r.log_end.to_string()),
                        Cell::from(rate(r.rate)),
                        Cell::from(r.groups.join(",")),
                    ])
                })
                .collect();
            let header = Row::new([
                "TOPIC",
                "PARTITIONS",
                "RF",
                "UNDER-REPL",
                "OFFLINE",
                "LOG-END",
                "MSG/S",
                "GROUPS",
            ])
            .style(t.style(Role::Header));
            let widths = [
                Constraint::Min(24),
                Constraint::Length(10),
                Constraint::Length(3),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(12),
                Constraint::Length(8),
                Constraint::Min(10),
            ];
            let table = Table::new(body, widths)
                .header(header)
                .row_highlight_style(t.style(Role::RowSelected))
                .highlight_symbol("▶ ");
            let mut state = TableState::default();
            if total > 0 {
                state.select(Some(sel - offset));
            }
            f.render_stateful_widget(table, table_area, &mut state);
            let visible_groups = groups_h.saturating_sub(3) as usize;
            let groups: Vec<Row> = ts
                .groups
                .iter()
                .take(visible_groups)
                .map(|g| group_row(app, g))
                .collect();
            let header = Row::new(GROUP_HEADER).style(t.style(Role::Header));
            f.render_widget(
                Table::new(groups, GROUP_WIDTHS).header(header).block(block(
                    app,
                    format!(
                        " Consumer groups ({}) — enter on a topic: its partitions ",
                        ts.groups.len()
                    ),
                )),
                bottom,
            );
        }
        Some(topic) => {
            let groups = detail_groups(app, &topic);
            let row = ts.topics.iter().find(|r| r.name == topic);
            let title = match row {
                Some(r) => format!(
                    " {topic}: {} partitions · RF {} · {} under-replicated · {} offline · {} msg/s — esc back ",
                    r.partitions,
                    r.replication_factor,
                    r.under_replicated,
                    r.offline,
                    rate(r.rate)
                ),
                None => format!(" {topic}: gone (deleted while viewed?) — esc back "),
            };
            let groups_h = (groups.len() as u16 + 3).clamp(4, area.height / 2);
            let [top, bottom] =
                Layout::vertical([Constraint::Length(groups_h), Constraint::Min(4)]).areas(area);
            let sel = selected.min(groups.len().saturating_sub(1));
            let rows: Vec<Row> = groups.iter().map(|g| group_row(app, g)).collect();
            let mut state = TableState::default();
            if !groups.is_empty() {
                state.select(Some(sel));
            }
            let header = Row::new(GROUP_HEADER).style(t.style(Role::Header));
            f.render_stateful_widget(
                Table::new(rows, GROUP_WIDTHS)
                    .header(header)
                    .block(block(app, title))
                    .row_highlight_style(t.style(Role::RowSelected))
                    .highlight_symbol("▶ "),
                top,
                &mut state,
            );
            // Partitions: log-end, and each group's committed offset and lag.
            let mut rows = Vec::new();
            let partitions = ts
                .snapshot
                .as_ref()
                .and_then(|s| s.topics.get(&topic))
                .map(|m| m.partitions.clone())
                .unwrap_or_default();
            let visible = bottom.height.saturating_sub(3) as usize;
            'outer: for p in &partitions {
                let mut any = false;
                for g in &groups {
                    if let Some(pl) = g
                        .partitions
                        .iter()
                        .find(|x| x.topic == topic && x.partition == p.id)
                    {
                        any = true;
                        rows.push(Row::new(vec![
                            Cell::from(p.id.to_string()),
                            Cell::from(if p.offline() {
                                "offline".to_string()
                            } else {
                                p.leader.to_string()
                            }),
                            Cell::from(format!("{}/{}", p.isr, p.replicas)),
                            Cell::from(p.log_end.map_or("–".into(), |e| e.to_string())),
                            Cell::from(g.name.clone()),
                            Cell::from(pl.committed.map_or("no commit".into(), |c| c.to_string())),
                            Cell::from(pl.lag.map_or("–".into(), |l| l.to_string())),
                            Cell::from(format!("{} {}", pl.status.glyph(), pl.status.label()))
                                .style(t.style(status_role(pl.status))),
                        ]));
                        if rows.len() >= visible {
                            break 'outer;
                        }
                    }
                }
                if !any {
                    rows.push(Row::new(vec![
                        Cell::from(p.id.to_string()),
                        Cell::from(if p.offline() {
                            "offline".to_string()
                        } else {
                            p.leader.to_string()
                        }),
                        Cell::from(format!("{}/{}", p.isr, p.replicas)),
                        Cell::from(p.log_end.map_or("–".into(), |e| e.to_string())),
                        Cell::from("(no group)"),
                    ]));
                    if rows.len() >= visible {
                        break;
                    }
                }
            }
            let header = Row::new([
                "PARTITION",
                "LEADER",
                "ISR",
                "LOG-END",
                "GROUP",
                "COMMITTED",
                "LAG",
                "STATUS",
            ])
            .style(t.style(Role::Header));
            let widths = [
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(12),
                Constraint::Length(28),
                Constraint::Length(12),
                Constraint::Length(10),
                Constraint::Min(10),
            ];
            f.render_widget(
                Table::new(rows, widths).header(header).block(block(
                    app,
                    " Partitions — enter on a group: its workload ".into(),
                )),
                bottom,
            );
        }
    }
    app.page = page;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(sparkline(&[0, 7, 14], 10), "▁▄█");
        assert_eq!(sparkline(&[5, 5], 10), "██");
        assert_eq!(sparkline(&[0, 0], 10), "▁▁");
        assert_eq!(sparkline(&[1, 2, 3, 4], 2), "▆█");
        assert_eq!(sparkline(&[], 5), "");
    }
}
