//! Drawing: one function per screen, all reading the [`App`]; rows are built only for what
//! is visible.

pub mod bluegreen;
pub mod history;
pub mod inventory;
pub mod links;
pub mod promote;
pub mod tables;
pub mod topics;
pub mod upgrade;

use crate::core::cluster::rollup::Level;
use crate::core::cluster::{Resource, SourceStatus};
use crate::core::releases::backup::BackupInfo;
use crate::tui::app::{App, Dialog, Mode, TABS};
use crate::tui::format::{age, cut_at_word, fit_hints, truncate};
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
    if s == Screen::Releases
        && let Some(n) = tables::undecodable_note(&app.releases)
    {
        notes.push(n);
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Draws the whole console.
pub fn draw(f: &mut Frame, app: &mut App) {
    app.refresh_derived();
    let area = f.area();
    // The theme's background under everything (the light theme's white).
    f.render_widget(Block::new().style(app.theme.style(Role::Background)), area);
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
    if let Some(view) = &app.resource {
        draw_resource(f, view, &app.theme, body);
    }
    if app.object.is_some() {
        draw_object(f, app, body);
    }
    if let Some(view) = &app.inventory {
        inventory::draw(f, view, &app.theme, body);
    }
    if let Some(view) = &app.promotion {
        promote::draw(f, view, &app.theme, body);
    }
    if let Some(view) = &app.bluegreen {
        bluegreen::draw(f, view, &app.theme, body);
    }
    if let Some(view) = &app.links {
        links::draw(f, view, &app.theme, body);
    }
    match app.mode.clone() {
        Mode::Help => draw_help(f, app, area),
        Mode::Dialog(d) => draw_dialog(f, app, &d, area),
        _ => {}
    }
}

/// A tab's label at a width: the whole title, three letters, or only its number (the
/// current tab always keeps its whole title).
fn tab_label(i: usize, s: Screen, current: bool, level: usize) -> String {
    let title = screen_title(s);
    match level {
        _ if current => format!(" {}:{title} ", i + 1),
        0 => format!(" {}:{title} ", i + 1),
        1 => format!(" {}:{} ", i + 1, title.chars().take(3).collect::<String>()),
        _ => format!(" {} ", i + 1),
    }
}

/// The header: name, context, namespace, read-only, then the tabs. The tabs always fit:
/// when the line is too narrow they shorten (three letters, then numbers, the current tab
/// whole), and the context and namespace shorten with `…` into what is left.
fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let width = usize::from(area.width);
    let name = " helmdeck ";
    let readonly = if app.readonly { "[READ-ONLY] " } else { "" };
    let ns = app.namespace.as_deref().unwrap_or("all");
    let is_current =
        |s: Screen| s == app.screen || (app.screen == Screen::PodDetail && s == Screen::Pods);
    let tabs_width = |level: usize, current: &dyn Fn(Screen) -> bool| -> usize {
        TABS.iter()
            .enumerate()
            .map(|(i, s)| tables::text_width(&tab_label(i, *s, current(*s), level)))
            .sum()
    };
    // The width of the tabs with the widest title current: the tabs keep their form from
    // one screen to the next.
    let widest = |level: usize| -> usize {
        TABS.iter()
            .map(|c| tabs_width(level, &|s| s == *c))
            .max()
            .unwrap_or(0)
    };
    // " ctx:C " and "ns:N ": 10 cells around the two names.
    let where_full = 10 + tables::text_width(&app.context) + tables::text_width(ns);
    let fixed = tables::text_width(name) + tables::text_width(readonly);
    // The widest tabs that leave room for the context and namespace (or for 24 cells of
    // them when their names are long).
    let level = (0..3)
        .find(|&l| width >= fixed + widest(l) + where_full.min(24))
        .unwrap_or(2);
    let room = width.saturating_sub(fixed + tabs_width(level, &is_current));
    let (ctx, ns) = if where_full <= room {
        (app.context.clone(), ns.to_string())
    } else {
        // Share what is left: the namespace up to a third, the context the rest.
        let names = room.saturating_sub(10);
        let ns_w = tables::text_width(ns).min(names / 3).max(names.min(1));
        (
            truncate(&app.context, names.saturating_sub(ns_w)),
            truncate(ns, ns_w),
        )
    };
    let mut spans = vec![
        Span::styled(name, t.style(Role::Title)),
        Span::raw(format!(" ctx:{ctx} ")),
        Span::raw(format!("ns:{ns} ")),
    ];
    if app.readonly {
        spans.push(Span::styled(readonly, t.style(Role::Warning)));
    }
    for (i, s) in TABS.iter().enumerate() {
        let current = is_current(*s);
        let label = tab_label(i, *s, current, level);
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
                        "f follow · w wrap · t timestamps · ctrl-s save · p previous · / search · n/N match · e events · esc back · ? help"
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
                // Whole hints only: none is cut mid-word at 80 columns.
                let hints = fit_hints(hints, usize::from(area.width));
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
            "no backups yet: every upgrade and rollback takes one first".into(),
            Role::Dim,
        )],
        Some(Ok(list)) => {
            let mut out = vec![line(
                format!(
                    "{:<24} {:<22} {:<9} {:>6} FILE",
                    "TAKEN", "CHART", "REVISION", "FILES"
                ),
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
            out.push(line(restore_hint(&v, list), Role::Dim));
            out
        }
    };
    f.render_widget(Paragraph::new(lines), inner);
}

/// The mark of the selected row of a table.
const HIGHLIGHT_SYMBOL: &str = "▶ ";
const HIGHLIGHT_SYMBOL_WIDTH: u16 = 2;

/// The command that restores one of `list` from a shell: naming the directory the backups
/// were listed from, and in the demo its sandbox's kubeconfig — never the defaults, which
/// are another directory and another cluster.
pub fn restore_hint(v: &crate::tui::app::BackupsView, list: &[BackupInfo]) -> String {
    let dir = list.first().and_then(|b| b.path.parent());
    let demo = crate::tui::app::DemoPaths::new();
    let mut command = format!("helmdeck backup restore {} -n {}", v.name, v.namespace);
    if let Some(dir) = dir {
        command.push_str(&format!(" --dir {}", dir.display()));
        if dir == demo.backups() {
            command.push_str(&format!(" --kubeconfig {}", demo.kubeconfig.display()));
        }
    }
    format!("restore: {command} [--file FILE] (re-creates what is missing, never deletes)")
}

fn draw_table(f: &mut Frame, app: &mut App, area: Rect) {
    let screen = app.screen;
    let cols =
        tables::columns_with_backups(screen, app.namespace.is_some(), app.backup_ages.is_some());
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
    if let Some(sort) = app.sort.get(&screen)
        && tables::SortColumn::of(screen).contains(&sort.column)
    {
        title.push_str(&format!(" sort:{}", sort.label()));
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
        backups: app.backup_ages.as_ref(),
    };
    let cells: Vec<Vec<tables::CellText>> = rows_ref.iter().map(|r| tables::row(&ctx, r)).collect();
    // The selection mark ("▶ ") takes its width from the table's.
    let width = table_area.width.saturating_sub(HIGHLIGHT_SYMBOL_WIDTH);
    let widths = tables::layout(&cols, &cells, width);
    let shown: Vec<(usize, u16)> = widths
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.map(|w| (i, w)))
        .collect();
    let fit = |text: &str, w: u16| {
        if tables::text_width(text) > usize::from(w) {
            truncate(text, usize::from(w))
        } else {
            text.to_string()
        }
    };
    let rows: Vec<Row> = cells
        .iter()
        .map(|r| {
            Row::new(shown.iter().map(|&(i, w)| match r.get(cols[i].cell) {
                Some(c) => Cell::from(fit(&c.text, w)).style(c.style),
                None => Cell::from(""),
            }))
        })
        .collect();
    let header = Row::new(
        shown
            .iter()
            .map(|&(i, w)| Cell::from(fit(cols[i].title, w))),
    )
    .style(app.theme.style(Role::Header));
    let constraints: Vec<Constraint> = shown.iter().map(|&(_, w)| Constraint::Length(w)).collect();
    let table = Table::new(rows, constraints)
        .header(header)
        .column_spacing(tables::COLUMN_SPACING)
        .row_highlight_style(app.theme.style(Role::RowSelected))
        .highlight_symbol(HIGHLIGHT_SYMBOL);
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
            app.empty_list_message()
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
    // Glyph, level and area names take 25 cells with the borders; the summary the rest,
    // cut between words.
    let summary_width = usize::from(top.width.saturating_sub(25));
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
                Span::raw(cut_at_word(&a.summary, summary_width)),
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
    // The selected problem in full when its line is cut: the evidence is in its tail.
    let message_width = bottom.width.saturating_sub(2 + 2 + 12 + 1) as usize;
    let full = r
        .problems
        .get(selected)
        .map(|p| p.message.as_str())
        .filter(|m| m.chars().count() > message_width && bottom.height >= 12);
    let bottom = match full {
        Some(m) => {
            let inner = bottom.width.saturating_sub(2).max(1) as usize;
            let lines = m.chars().count().div_ceil(inner).clamp(1, 4) as u16;
            let [list, detail] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(lines + 2)]).areas(bottom);
            f.render_widget(
                Paragraph::new(m.to_string())
                    .wrap(Wrap { trim: true })
                    .block(block(app, " Selected ".to_string())),
                detail,
            );
            list
        }
        None => bottom,
    };
    let t = &app.theme;
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
                Cell::from(cut_at_word(&p.message, message_width)),
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
    let inner_w = l_area.width.saturating_sub(2) as usize;
    let total = d.logs.len();
    let end = total.saturating_sub(d.scroll);
    let start = end.saturating_sub(inner_h);
    let matches = |l: &str| d.search.as_ref().is_some_and(|s| l.contains(s.as_str()));
    let rows: Vec<(&str, bool)> = if d.wrap {
        crate::tui::logview::last_rows(
            d.logs.range(..end).map(String::as_str),
            inner_w,
            inner_h,
            matches,
        )
    } else {
        d.logs
            .range(start..end)
            .map(|l| (l.as_str(), matches(l)))
            .collect()
    };
    let mut lines: Vec<Line> = rows
        .into_iter()
        .map(|(l, found)| {
            if found {
                Line::from(Span::styled(
                    l.to_string(),
                    t.style(Role::Filter).add_modifier(Modifier::BOLD),
                ))
            } else {
                Line::from(l.to_string())
            }
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
        " Logs{}{} — {}{}{}{} ",
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
        if d.wrap { ", wrap" } else { "" },
        if d.timestamps { ", timestamps" } else { "" },
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

/// Draws `body` as an overlay: a box of `w`×`h` (at most `area`) centred over `area`, cleared
/// beneath, bordered and titled `title`, in the dialogs' colours.
fn draw_overlay(
    f: &mut Frame,
    theme: &crate::tui::theme::Theme,
    area: Rect,
    (w, h): (u16, u16),
    title: String,
    body: Paragraph,
) {
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    f.render_widget(
        body.style(theme.style(Role::Dialog)).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style(Role::Border))
                .title(Span::styled(title, theme.style(Role::Title))),
        ),
        r,
    );
}

/// The keys of the current screen (only those that act there) and the `:` commands. Taller
/// than the terminal, it scrolls (j/k, pgup/pgdn, g/G) and says which lines it shows.
/// `:svc`, `:cm`, `:job`, a custom resource…: the server's Table columns of the kind, over
/// the screen; each column as wide as its widest visible cell, the last one taking the rest.
pub fn draw_resource(
    f: &mut Frame,
    view: &crate::tui::app::ResourceView,
    theme: &crate::tui::theme::Theme,
    area: Rect,
) {
    let kind = match &view.table {
        Some(Ok(t)) => t
            .resource
            .as_ref()
            .map_or(view.name.clone(), |r| r.plural.clone()),
        _ => view.name.clone(),
    };
    let scope = view.namespace.as_deref().unwrap_or("all namespaces");
    let count = match &view.table {
        Some(Ok(t)) => format!(" ({})", t.rows.len()),
        _ => String::new(),
    };
    let title = format!(" {kind}{count} — {scope} · esc closes ");
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(title, theme.style(Role::Title)));
    f.render_widget(Clear, area);
    let inner = block.inner(area);
    f.render_widget(block.style(theme.style(Role::Background)), area);
    let table = match &view.table {
        None => {
            f.render_widget(Paragraph::new("loading…"), inner);
            return;
        }
        Some(Err(e)) => {
            f.render_widget(
                Paragraph::new(Span::styled(
                    format!("cannot list {kind}: {e}"),
                    theme.style(Role::Failing),
                ))
                .wrap(Wrap { trim: false }),
                inner,
            );
            return;
        }
        Some(Ok(t)) => t,
    };
    let shown = (inner.height.saturating_sub(1) as usize).max(1);
    let selected = view.selected.min(table.rows.len().saturating_sub(1));
    let offset = (selected + 1).saturating_sub(shown);
    let visible = &table.rows[offset.min(table.rows.len())..(offset + shown).min(table.rows.len())];
    let widths: Vec<Constraint> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = visible
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0);
            if i + 1 == table.columns.len() {
                Constraint::Min(w as u16)
            } else {
                Constraint::Length(w.min(60) as u16)
            }
        })
        .collect();
    let header = Row::new(table.columns.iter().map(|c| Cell::from(c.clone())))
        .style(theme.style(Role::Header));
    let rows: Vec<Row> = visible
        .iter()
        .map(|r| Row::new(r.iter().map(|c| Cell::from(c.clone()))))
        .collect();
    let widget = Table::new(rows, widths)
        .header(header)
        .column_spacing(tables::COLUMN_SPACING)
        .row_highlight_style(theme.style(Role::RowSelected))
        .highlight_symbol(HIGHLIGHT_SYMBOL);
    let mut ts = TableState::default();
    if !table.rows.is_empty() {
        ts.select(Some(selected - offset));
    }
    f.render_stateful_widget(widget, inner, &mut ts);
    if table.rows.is_empty() && inner.height > 1 {
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("no {kind} in {scope}"),
                theme.style(Role::Dim),
            )),
            Rect {
                y: inner.y + 1,
                height: 1,
                ..inner
            },
        );
    }
}

/// `y` / `d`: the selected object as YAML or described, over the table; scrolls.
fn draw_object(f: &mut Frame, app: &mut App, area: Rect) {
    let theme = app.theme.clone();
    let Some(view) = &mut app.object else {
        return;
    };
    let what = match view.format {
        crate::core::cluster::object::ObjectFormat::Yaml => "YAML",
        crate::core::cluster::object::ObjectFormat::Describe => "describe",
    };
    let who = if view.namespace.is_empty() {
        view.name.clone()
    } else {
        format!("{}/{}", view.namespace, view.name)
    };
    let lines: Vec<Line> = match &view.text {
        None => vec![Line::from("loading…")],
        Some(Err(e)) => vec![Line::from(Span::styled(
            format!("cannot show {who}: {e}"),
            theme.style(Role::Failing),
        ))],
        Some(Ok(text)) => text.lines().map(|l| Line::from(l.to_string())).collect(),
    };
    let shown = (area.height.saturating_sub(2) as usize).max(1);
    view.scroll = view.scroll.min(lines.len().saturating_sub(shown));
    let from = view.scroll;
    let position = if lines.len() > shown {
        format!(
            " {}–{} of {} ·",
            from + 1,
            (from + shown).min(lines.len()),
            lines.len()
        )
    } else {
        String::new()
    };
    let title = format!(" {} {who} — {what}{position} esc closes ", view.kind.name());
    let visible: Vec<Line> = lines.into_iter().skip(from).take(shown).collect();
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(visible)
            .style(theme.style(Role::Background))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(theme.style(Role::Border))
                    .title(Span::styled(title, theme.style(Role::Title))),
            ),
        area,
    );
}

fn draw_help(f: &mut Frame, app: &mut App, area: Rect) {
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
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "in overlays:",
        app.theme.style(Role::Header),
    )));
    for (overlay, keys) in crate::tui::app::OVERLAY_KEYS {
        lines.push(Line::from(format!("{overlay:>12}  {keys}")));
    }
    let total = lines.len();
    let widest = lines.iter().map(Line::width).max().unwrap_or(0);
    let w = (widest as u16 + 4).max(50);
    let h = (total as u16 + 2).min(area.height);
    let r = centered(area, w, h);
    let shown = (r.height.saturating_sub(2) as usize).max(1);
    app.help_page = shown;
    app.help_scroll = app.help_scroll.min(total.saturating_sub(shown));
    let from = app.help_scroll;
    let position = if total > shown {
        format!(
            " {}–{} of {total} · j/k pgup/pgdn scroll ·",
            from + 1,
            (from + shown).min(total)
        )
    } else {
        String::new()
    };
    let title = format!(" Keys — {}{position} esc closes ", screen_title(app.screen));
    let visible: Vec<Line> = lines.into_iter().skip(from).take(shown).collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(visible)
            .block(block(app, title))
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
                        lines.push(Line::from(format!(
                            "Currently {}.",
                            crate::tui::app::plural(i.current, "replica", "replicas")
                        )));
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
