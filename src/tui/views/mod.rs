//! Drawing: one function per screen, all reading the [`App`]; rows are built only for what
//! is visible.

pub mod history;
pub mod tables;
pub mod topics;
pub mod upgrade;

use crate::core::cluster::rollup::Level;
use crate::core::cluster::{Resource, SourceStatus};
use crate::tui::app::{App, Dialog, Mode, TABS};
use crate::tui::format::{age, truncate};
use crate::tui::keymap::Screen;
use crate::tui::theme::Role;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

fn screen_title(s: Screen) -> &'static str {
    match s {
        Screen::Overview => "Overview",
        Screen::Nodes => "Nodes",
        Screen::Workloads => "Workloads",
        Screen::Pods => "Pods",
        Screen::PodDetail => "Pod",
        Screen::Events => "Events",
        Screen::Releases => "Releases",
        Screen::Topics => "Topics",
    }
}

/// The watches a screen's data comes from.
fn sources(s: Screen) -> &'static [Resource] {
    match s {
        Screen::Nodes => &[Resource::Nodes],
        Screen::Workloads => &[
            Resource::Deployments,
            Resource::StatefulSets,
            Resource::DaemonSets,
            Resource::Hpas,
        ],
        Screen::Pods | Screen::PodDetail => &[Resource::Pods],
        Screen::Events => &[Resource::Events],
        Screen::Releases => &[Resource::Releases],
        Screen::Overview => &[
            Resource::Nodes,
            Resource::Pods,
            Resource::Deployments,
            Resource::Releases,
        ],
        Screen::Topics => &[],
    }
}

/// What is wrong with a screen's data, if anything, and how old what is shown is.
fn source_note(app: &App, s: Screen) -> Option<String> {
    let mut notes = Vec::new();
    for r in sources(s) {
        let st: SourceStatus = app.state.sources.get(r).cloned().unwrap_or_default();
        if let Some(e) = &st.error {
            let data_age = st.updated.map_or("no data yet".to_string(), |t| {
                format!("data {}s old", t.elapsed().as_secs())
            });
            notes.push(format!("⚠ {} watch failing: {e} ({data_age})", r.name()));
        } else if !st.synced {
            notes.push(format!("… loading {}", r.name()));
        }
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Draws the whole console.
pub fn draw(f: &mut Frame, app: &mut App) {
    app.refresh_derived();
    let area = f.area();
    let task_lines = app.tasks.len().min(3) as u16;
    let [header, body, tasks, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(task_lines),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, app, header);
    match app.screen {
        Screen::Overview => draw_overview(f, app, body),
        Screen::PodDetail => draw_pod_detail(f, app, body),
        Screen::Topics => draw_topics(f, app, body),
        Screen::Releases => {
            let body = journal_banner(f, app, body);
            if app.upgrade.is_some() {
                upgrade::draw(f, app, body)
            } else if app.backups.is_some() {
                draw_backups(f, app, body)
            } else if app.release_history.is_some() {
                history::draw(f, app, body)
            } else {
                draw_table(f, app, body)
            }
        }
        _ => draw_table(f, app, body),
    }
    if task_lines > 0 {
        let lines: Vec<Line> = app
            .tasks
            .iter()
            .take(3)
            .map(|(what, text)| {
                Line::from(vec![
                    Span::styled(format!("⟳ {what}: "), app.theme.style(Role::Progressing)),
                    Span::raw(text.clone()),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), tasks);
    }
    draw_status(f, app, status);
    match app.mode.clone() {
        Mode::Help => draw_help(f, app, area),
        Mode::Dialog(d) => draw_dialog(f, app, &d, area),
        _ => {}
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(" helmdeck ", t.style(Role::Title)),
        Span::raw(format!(" ctx:{} ", app.context)),
        Span::raw(format!("ns:{} ", app.namespace.as_deref().unwrap_or("all"))),
    ];
    if app.readonly {
        spans.push(Span::styled("[READ-ONLY] ", t.style(Role::Warning)));
    }
    for (i, s) in TABS.iter().enumerate() {
        let label = format!(" {}:{} ", i + 1, screen_title(*s));
        let current = *s == app.screen || (app.screen == Screen::PodDetail && *s == Screen::Pods);
        let style = if current {
            t.style(Role::RowSelected)
        } else {
            t.style(Role::Dim)
        };
        spans.push(Span::styled(label, style));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(t.style(Role::StatusBar)),
        area,
    );
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let line = match &app.mode {
        Mode::Command(s) => Line::from(vec![
            Span::styled(format!(":{s}"), t.style(Role::CommandLine)),
            Span::styled("█", t.style(Role::CommandLine)),
        ]),
        Mode::Filter(s) => Line::from(vec![
            Span::styled(format!("/{s}"), t.style(Role::Filter)),
            Span::styled(
                "█  (substring, or label=value; enter keeps, esc clears)",
                t.style(Role::Dim),
            ),
        ]),
        Mode::LogSearch(s) => Line::from(Span::styled(
            format!("search logs: {s}█"),
            t.style(Role::Filter),
        )),
        _ => match &app.flash {
            Some(fl) => Line::from(Span::styled(
                fl.text.clone(),
                t.style(if fl.error { Role::Error } else { Role::Ok }),
            )),
            None => {
                let hints = match app.screen {
                    Screen::Overview => "enter jump · : command · / filter · ? help · q quit",
                    Screen::Workloads => {
                        "s scale · enter pods · / filter · : command · ? help · q quit"
                    }
                    Screen::Nodes => {
                        "c cordon · u uncordon · d drain · enter pods · ? help · q quit"
                    }
                    Screen::Pods => {
                        "enter logs · p previous logs · / filter · 0 all ns · ? help · q quit"
                    }
                    Screen::PodDetail => {
                        "f follow · p previous · / search · n/N next/previous match · j/k scroll · esc back · ? help"
                    }
                    Screen::Topics if app.topic_detail.is_some() => {
                        "enter on a group: its workload · c create missing topics · esc back · ? help"
                    }
                    Screen::Topics => {
                        "enter partitions and groups · c create missing topics · / filter · ? help · q quit"
                    }
                    Screen::Releases if app.upgrade.is_some() => {
                        "see the wizard's title for its keys"
                    }
                    Screen::Releases if app.backups.is_some() => "esc back",
                    Screen::Releases => match &app.release_history {
                        Some(h) if h.diff.is_some() => {
                            "j/k scroll · x show/hide secrets · esc back to the history · ? help"
                        }
                        Some(_) => {
                            "v diff (with the previous, or the one marked with space) · r roll back to it · u upgrade · b backups · x secrets · esc back"
                        }
                        None => {
                            "h/enter history · u upgrade · r rollback · b backups · / filter · ? help · q quit"
                        }
                    },
                    _ => "/ filter · : command · ? help · q quit",
                };
                Line::from(Span::styled(hints, t.style(Role::KeyHint)))
            }
        },
    };
    f.render_widget(Paragraph::new(line), area);
}

fn block<'a>(app: &App, title: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.style(Role::Border))
        .title(Span::styled(title, app.theme.style(Role::Title)))
}

/// Unfinished changes (journals) above the Releases screen, with what can be done; returns
/// the area left.
fn journal_banner(f: &mut Frame, app: &App, area: Rect) -> Rect {
    if app.journals.is_empty() || area.height < 6 {
        return area;
    }
    let n = app.journals.len().min(3) as u16;
    let [banner, rest] = Layout::vertical([Constraint::Length(n), Constraint::Min(0)]).areas(area);
    let width = banner.width as usize;
    let lines: Vec<Line> = app
        .journals
        .iter()
        .take(3)
        .map(|j| {
            Line::from(Span::styled(
                truncate(
                    &format!(
                        "⚠ unfinished: {} — V verifies it, R rolls it back (helmdeck recover {} -n {} [--rollback])",
                        j.summary(),
                        j.release,
                        j.namespace
                    ),
                    width,
                ),
                app.theme.style(Role::Warning),
            ))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), banner);
    rest
}

/// The backups of a release, newest first.
fn draw_backups(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(v) = app.backups.clone() else {
        return;
    };
    let t = &app.theme;
    let b = block(
        app,
        format!(" Backups of {}/{} · esc back ", v.namespace, v.name),
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let width = inner.width as usize;
    let line =
        |text: String, role: Role| Line::from(Span::styled(truncate(&text, width), t.style(role)));
    let lines: Vec<Line> = match &v.backups {
        None => vec![line("reading the backup directory…".into(), Role::Dim)],
        Some(Err(e)) => vec![line(format!("✖ {e}"), Role::Error)],
        Some(Ok(list)) if list.is_empty() => vec![line(
            "no backups yet: every upgrade and rollback takes one first (helmdeck backup create makes one by hand)".into(),
            Role::Dim,
        )],
        Some(Ok(list)) => {
            let mut out = vec![line(
                format!("{:<24} {:<22} {:<9} {:>6} FILE", "TAKEN", "CHART", "REVISION", "FILES"),
                Role::Header,
            )];
            for b in list {
                let m = &b.manifest;
                out.push(line(
                    format!(
                        "{:<24} {:<22} {:<9} {:>6} {}",
                        m.created.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
                        format!("{}-{}", m.chart, m.chart_version),
                        m.revision,
                        m.files.len(),
                        b.path.display()
                    ),
                    Role::Row,
                ));
            }
            out.push(line(
                format!("restore: helmdeck backup restore {} -n {} [--file FILE] (re-creates what is missing, never deletes)", v.name, v.namespace),
                Role::Dim,
            ));
            out
        }
    };
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_table(f: &mut Frame, app: &mut App, area: Rect) {
    let screen = app.screen;
    let cols = tables::columns(screen);
    let total = app.row_count();
    let filter = app.filters.get(&screen).cloned().unwrap_or_default();
    let mut title = format!(" {} ({total})", screen_title(screen));
    if !filter.is_empty() {
        title.push_str(&format!(" /{filter}"));
    }
    if let Some(ns) = &app.namespace
        && screen != Screen::Nodes
    {
        title.push_str(&format!(" ns:{ns}"));
    }
    title.push(' ');
    let note = source_note(app, screen);
    let b = block(app, title);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [note_area, table_area] = Layout::vertical([
        Constraint::Length(u16::from(note.is_some())),
        Constraint::Min(1),
    ])
    .areas(inner);
    if let Some(n) = note {
        f.render_widget(
            Paragraph::new(Span::styled(n, app.theme.style(Role::Warning))),
            note_area,
        );
    }
    let visible = table_area.height.saturating_sub(1) as usize;
    app.page = visible.max(1);
    let selected = app.selected_index().min(total.saturating_sub(1));
    // Only the rows on screen are built.
    let offset = selected.saturating_sub(visible.saturating_sub(1));
    let rows_ref = app.visible_rows(offset, visible);
    let ctx = tables::RowCtx {
        state: &app.state,
        now: app.now,
        theme: &app.theme,
        pods_per_node: &app.pods_per_node,
        releases: &app.releases,
    };
    let rows: Vec<Row> = rows_ref.iter().map(|r| tables::row(&ctx, r)).collect();
    let header =
        Row::new(cols.iter().map(|(h, _)| Cell::from(*h))).style(app.theme.style(Role::Header));
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| *w).collect();
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(app.theme.style(Role::RowSelected))
        .highlight_symbol("▶ ");
    let mut ts = TableState::default();
    if total > 0 {
        ts.select(Some(selected - offset));
    }
    f.render_stateful_widget(table, table_area, &mut ts);
    if total == 0 {
        let msg = if app
            .state
            .sources
            .get(&sources(screen)[0])
            .is_some_and(|s| s.synced)
        {
            "nothing matches".to_string()
        } else {
            "waiting for the first list…".to_string()
        };
        let y = table_area.y + 1;
        if y < table_area.bottom() {
            f.render_widget(
                Paragraph::new(Span::styled(msg, app.theme.style(Role::Dim))),
                Rect {
                    y,
                    height: 1,
                    ..table_area
                },
            );
        }
    }
}

fn level_role(l: Level) -> Role {
    match l {
        Level::Healthy => Role::Ok,
        Level::Degraded => Role::Degraded,
        Level::Failing => Role::Failing,
        Level::Unknown => Role::Unknown,
    }
}

fn draw_overview(f: &mut Frame, app: &mut App, area: Rect) {
    let r = app.rollup();
    let area_lines = r.areas.len() as u16 + 2;
    let [top, bottom] =
        Layout::vertical([Constraint::Length(area_lines), Constraint::Min(3)]).areas(area);
    let t = &app.theme;
    let lines: Vec<Line> = r
        .areas
        .iter()
        .map(|a| {
            Line::from(vec![
                Span::styled(
                    format!(" {} {:<9}", a.level.glyph(), a.level.label()),
                    t.style(level_role(a.level)),
                ),
                Span::styled(format!(" {:<10}", a.area.name()), t.style(Role::Header)),
                Span::raw(a.summary.clone()),
            ])
        })
        .collect();
    let note = source_note(app, Screen::Overview)
        .map(|n| format!(" {n} "))
        .unwrap_or_default();
    f.render_widget(
        Paragraph::new(lines).block(block(app, format!(" Health {note}"))),
        top,
    );
    let selected = app.selected_index().min(r.problems.len().saturating_sub(1));
    let visible = bottom.height.saturating_sub(2) as usize;
    app.page = visible.max(1);
    let offset = selected.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = r
        .problems
        .iter()
        .skip(offset)
        .take(visible)
        .map(|p| {
            Row::new(vec![
                Cell::from(format!("{} {}", p.level.glyph(), p.level.label()))
                    .style(t.style(level_role(p.level))),
                Cell::from(p.message.clone()),
            ])
        })
        .collect();
    let title = if r.problems.is_empty() {
        " Problems: none — all healthy ".to_string()
    } else {
        format!(
            " Problems ({}) — enter jumps to the object ",
            r.problems.len()
        )
    };
    let table = Table::new(rows, [Constraint::Length(12), Constraint::Min(20)])
        .block(block(app, title))
        .row_highlight_style(t.style(Role::RowSelected))
        .highlight_symbol("▶ ");
    let mut ts = TableState::default();
    if !r.problems.is_empty() {
        ts.select(Some(selected - offset));
    }
    f.render_stateful_widget(table, bottom, &mut ts);
}

fn draw_topics(f: &mut Frame, app: &mut App, area: Rect) {
    topics::draw(f, app, area);
}

fn draw_pod_detail(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(d) = app.detail.clone() else {
        return;
    };
    let t = &app.theme;
    let row = app.state.pods.get(&d.key).cloned();
    let head = match &row {
        Some(p) => format!(
            " {}/{}  {}  ready {}  restarts {}  node {}  ip {}  age {} ",
            p.namespace,
            p.name,
            p.status.text,
            p.status.ready_text(),
            p.status.restarts,
            p.node,
            p.ip,
            age(p.created, app.now)
        ),
        None => format!(" {}/{} — the pod is gone ", d.key.0, d.key.1),
    };
    let containers: Vec<Row> = match &d.containers {
        None => vec![Row::new(vec![Cell::from("loading…")])],
        Some(Err(e)) => vec![Row::new(vec![
            Cell::from(format!("⚠ {e}")).style(t.style(Role::Error)),
        ])],
        Some(Ok(cs)) => cs
            .iter()
            .map(|c| {
                Row::new(vec![
                    Cell::from(if Some(&c.name) == d.container.as_ref() {
                        format!("▸ {}", c.name)
                    } else {
                        format!("  {}", c.name)
                    }),
                    Cell::from(c.image.clone()),
                    Cell::from(c.state.clone()),
                    Cell::from(if c.ready {
                        "✔ ready"
                    } else {
                        "✖ not ready"
                    }),
                    Cell::from(c.restarts.to_string()),
                    Cell::from(c.last_termination.clone().unwrap_or_default()),
                ])
            })
            .collect(),
    };
    let events: Vec<Line> = {
        let mut evs: Vec<_> = app
            .state
            .events
            .values()
            .filter(|e| e.namespace == d.key.0 && e.object_name == d.key.1)
            .collect();
        evs.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        evs.iter()
            .take(4)
            .map(|e| {
                let style = if e.warning {
                    t.style(Role::Warning)
                } else {
                    t.style(Role::Dim)
                };
                Line::from(Span::styled(
                    format!(
                        "{} {} ×{} {} — {}",
                        if e.warning { "⚠" } else { "·" },
                        age(e.last_seen, app.now),
                        e.count,
                        e.reason,
                        e.message
                    ),
                    style,
                ))
            })
            .collect()
    };
    let c_height = (containers.len() as u16 + 3).min(8);
    let e_height = (events.len() as u16).max(1) + 2;
    let [c_area, e_area, l_area] = Layout::vertical([
        Constraint::Length(c_height),
        Constraint::Length(e_height),
        Constraint::Min(3),
    ])
    .areas(area);
    let widths = [
        Constraint::Length(22),
        Constraint::Min(20),
        Constraint::Length(24),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(22),
    ];
    let header = Row::new([
        "CONTAINER",
        "IMAGE",
        "STATE",
        "READY",
        "RESTARTS",
        "LAST TERMINATION",
    ])
    .style(t.style(Role::Header));
    f.render_widget(
        Table::new(containers, widths)
            .header(header)
            .block(block(app, head)),
        c_area,
    );
    let events = if events.is_empty() {
        vec![Line::from(Span::styled(
            "no recent events",
            t.style(Role::Dim),
        ))]
    } else {
        events
    };
    f.render_widget(
        Paragraph::new(events).block(block(app, " Events ".into())),
        e_area,
    );
    // Logs: only the visible window is laid out.
    let inner_h = l_area.height.saturating_sub(2) as usize;
    let total = d.logs.len();
    let end = total.saturating_sub(d.scroll);
    let start = end.saturating_sub(inner_h);
    let mut lines: Vec<Line> = d
        .logs
        .range(start..end)
        .map(|l| match &d.search {
            Some(s) if l.contains(s.as_str()) => Line::from(Span::styled(
                l.clone(),
                t.style(Role::Filter).add_modifier(Modifier::BOLD),
            )),
            _ => Line::from(l.clone()),
        })
        .collect();
    if let Some(e) = &d.log_error {
        lines.push(Line::from(Span::styled(
            format!("⚠ {e}"),
            t.style(Role::Error),
        )));
    }
    if d.log_ended && d.log_error.is_none() && total > 0 {
        lines.push(Line::from(Span::styled(
            "— log stream ended (the container exited); it is followed again when the container restarts; p shows the previous container's log —",
            t.style(Role::Dim),
        )));
    }
    if total == 0 && d.log_error.is_none() {
        lines.push(Line::from(Span::styled(
            if d.log_ended {
                "no log lines"
            } else {
                "waiting for logs…"
            },
            t.style(Role::Dim),
        )));
    }
    let mode = format!(
        " Logs{}{} — {}{} ",
        d.container
            .as_ref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default(),
        if d.previous {
            " (previous container)"
        } else {
            ""
        },
        if d.follow { "following" } else { "paused" },
        d.search
            .as_ref()
            .map(|s| format!(", search: {s}"))
            .unwrap_or_default()
    );
    f.render_widget(Paragraph::new(lines).block(block(app, mode)), l_area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(f: &mut Frame, app: &App, area: Rect) {
    let bindings = app.keymap.bindings_for(app.screen);
    let mut lines: Vec<Line> = bindings
        .iter()
        .map(|(key, _, desc)| {
            Line::from(vec![
                Span::styled(format!("{key:>12}  "), app.theme.style(Role::KeyHint)),
                Span::raw(desc.to_string()),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "commands:",
        app.theme.style(Role::Header),
    )));
    for (c, d) in crate::tui::app::COMMANDS {
        lines.push(Line::from(format!("{:>12}  {d}", format!(":{c}"))));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, 70, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(block(
                app,
                format!(" Keys — {} (esc closes) ", screen_title(app.screen)),
            ))
            .style(app.theme.style(Role::Dialog)),
        r,
    );
}

fn draw_dialog(f: &mut Frame, app: &App, d: &Dialog, area: Rect) {
    let t = &app.theme;
    let (title, mut lines) = match d {
        Dialog::Confirm { question, .. } => (
            " Confirm ".to_string(),
            vec![
                Line::from(question.clone()),
                Line::from(""),
                Line::from(Span::styled(
                    "y / enter: yes    n / esc: no",
                    t.style(Role::KeyHint),
                )),
            ],
        ),
        Dialog::Scale {
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
        } => {
            let mut lines = Vec::new();
            // A consumer of topics: the partitions its replicas share.
            if let Some(r) = app.consumer_reads(*kind, namespace, name) {
                lines.push(Line::from(format!(
                    "Kafka consumer (platform {}): {}.",
                    r.platform,
                    r.describe()
                )));
                lines.push(Line::from(Span::styled(
                    match r.fewest() {
                        Some(p) => format!(
                            "One consumer per partition: replicas beyond {p} would sit idle."
                        ),
                        None => {
                            "Partitions unknown: replicas are not checked against them.".to_string()
                        }
                    },
                    t.style(Role::Dim),
                )));
            }
            match info {
                None => lines.push(Line::from(Span::styled(
                    "reading the workload…",
                    t.style(Role::Dim),
                ))),
                Some(i) => match &i.hpa {
                    Some((hpa, min, max)) => {
                        lines.push(Line::from(format!(
                            "Managed by HPA {hpa} (min {min}, max {max}; {} running).",
                            i.current
                        )));
                        lines.push(Line::from(Span::styled("Scaling the workload itself would be undone by the autoscaler: edit the HPA's range instead.", t.style(Role::Warning))));
                        let cur = |on: bool| {
                            if on {
                                Style::default().add_modifier(Modifier::REVERSED)
                            } else {
                                Style::default()
                            }
                        };
                        lines.push(Line::from(vec![
                            Span::raw("min: "),
                            Span::styled(format!("{input:<4}"), cur(!editing_max)),
                            Span::raw("   max: "),
                            Span::styled(format!("{max_input:<4}"), cur(*editing_max)),
                            Span::styled("   (tab switches)", t.style(Role::Dim)),
                        ]));
                    }
                    None => {
                        lines.push(Line::from(format!("Currently {} replicas.", i.current)));
                        lines.push(Line::from(vec![
                            Span::raw("replicas: "),
                            Span::styled(format!("{input}█"), t.style(Role::CommandLine)),
                        ]));
                    }
                },
            }
            if *confirm_zero {
                lines.push(Line::from(Span::styled(format!("Scale {namespace}/{name} to 0? Every pod stops. y: yes, any other key: edit"), t.style(Role::Warning))));
            }
            if let Some(l) = confirm_idle {
                lines.push(Line::from(Span::styled(
                    format!("✖ Refused: {}.", l.reason()),
                    t.style(Role::Error),
                )));
                lines.push(Line::from(Span::styled(
                    "A partition is read by one consumer of a group: the extra ones get no work.",
                    t.style(Role::Warning),
                )));
            }
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(
                    format!("✖ {e}"),
                    t.style(Role::Error),
                )));
            }
            if *busy {
                lines.push(Line::from(Span::styled(
                    "applying…",
                    t.style(Role::Progressing),
                )));
            }
            lines.push(Line::from(Span::styled(
                if confirm_idle.is_some() {
                    "enter or y: scale anyway    any other key: edit    esc: cancel"
                } else {
                    "enter: apply    esc: cancel"
                },
                t.style(Role::KeyHint),
            )));
            (
                format!(" Scale {} {namespace}/{name} ", kind.short()),
                lines,
            )
        }
        Dialog::CreateTopics {
            source,
            platform,
            topics,
            refused,
            invalid,
        } => {
            let mut lines = vec![Line::from(format!(
                "Create the missing topics of platform {platform} on {source}:"
            ))];
            for tp in topics {
                lines.push(Line::from(format!(
                    "  + {}",
                    crate::tui::topics::describe_new_topic(tp)
                )));
            }
            if !refused.is_empty() {
                lines.push(Line::from(Span::styled(
                    "Not created — reserved names (third-party services or delivery types):",
                    t.style(Role::Warning),
                )));
                for (n, r) in refused {
                    lines.push(Line::from(format!("  ✖ {n}  (`{r}`)")));
                }
                lines.push(Line::from(Span::styled(
                    format!("  {}", crate::tui::topics::FORCE_HINT),
                    t.style(Role::Dim),
                )));
            }
            if !invalid.is_empty() {
                lines.push(Line::from(Span::styled(
                    "Not created — invalid names:",
                    t.style(Role::Warning),
                )));
                for (n, e) in invalid {
                    lines.push(Line::from(format!("  ✖ {n}: {e}")));
                }
            }
            lines.push(Line::from(Span::styled(
                "Nothing existing is changed or deleted.",
                t.style(Role::Dim),
            )));
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                "y / enter: create    n / esc: cancel",
                t.style(Role::KeyHint),
            )));
            (" Create missing topics ".to_string(), lines)
        }
    };
    if app.readonly {
        lines.insert(
            0,
            Line::from(Span::styled("read-only", t.style(Role::Warning))),
        );
    }
    // Lines wrap: count the rows they take in the dialog's width (78 inside its border).
    let inner = area.width.min(80).saturating_sub(2).max(1) as usize;
    let h = lines
        .iter()
        .map(|l| l.width().div_ceil(inner).max(1) as u16)
        .sum::<u16>()
        + 2;
    let r = centered(area, 80, h);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(block(app, title))
            .style(t.style(Role::Dialog)),
        r,
    );
}
