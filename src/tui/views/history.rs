//! The Releases screen's history pane ([`crate::tui::history`]): the revisions of one
//! release, and below them the diff of a revision against the one before it.

use super::block;
use crate::core::release::ReleaseStatus;
use crate::core::releases::history::LineKind;
use crate::tui::app::App;
use crate::tui::format::{age, truncate};
use crate::tui::history::HistoryView;
use crate::tui::theme::Role;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

/// A status as a glyph and a word (never colour alone), with its role.
pub fn status_label(s: ReleaseStatus) -> (String, Role) {
    let (glyph, role) = match s {
        ReleaseStatus::Deployed => ("✔", Role::Ok),
        ReleaseStatus::Failed => ("✖", Role::Failing),
        s if s.is_pending() => ("◐", Role::Warning),
        _ => ("·", Role::Dim),
    };
    (format!("{glyph} {}", s.as_str()), role)
}

/// How a diff line is drawn.
pub fn diff_role(kind: LineKind) -> Role {
    match kind {
        LineKind::Header => Role::Title,
        LineKind::Hunk => Role::Progressing,
        LineKind::Added => Role::Ok,
        LineKind::Removed => Role::Failing,
        LineKind::Context => Role::Row,
    }
}

/// Draws the history pane of `view` in `area`.
pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(view) = app.release_history.clone() else {
        return;
    };
    let t = &app.theme;
    let secrets = if view.reveal {
        "secrets REVEALED (x hides)"
    } else {
        "secrets masked (x reveals)"
    };
    let rows = view.rows();
    // The revision marked with space, as the base of the next diff.
    let marked = view.marked.and_then(|m| rows.get(m)).map(|r| r.revision);
    let mark = marked.map_or(String::new(), |rev| {
        format!(" · ◆ revision {rev} marked (space clears)")
    });
    let title = format!(
        " History {}/{}{mark} · {secrets} · esc back ",
        view.namespace, view.name
    );
    let b = block(app, title);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let history = match &view.history {
        None => {
            f.render_widget(
                Paragraph::new(Span::styled(
                    "loading the release Secrets…",
                    t.style(Role::Dim),
                )),
                inner,
            );
            return;
        }
        Some(Err(e)) => {
            f.render_widget(
                Paragraph::new(Span::styled(format!("✖ {e}"), t.style(Role::Error))),
                inner,
            );
            return;
        }
        Some(Ok(h)) => h,
    };
    let errors: Vec<String> = history
        .errors
        .iter()
        .map(|e| format!("⚠ {} cannot be decoded: {}", e.secret, e.error))
        .collect();
    let table_height = (rows.len() as u16 + 1).max(2);
    let values_lines = match &view.values_log {
        None => 0,
        Some(Err(_)) => 3,
        Some(Ok(c)) => c.len().max(1) as u16 + 2,
    };
    let [note_area, table_area, diff_area] = Layout::vertical([
        Constraint::Length(errors.len().min(3) as u16),
        if view.diff.is_some() {
            Constraint::Length(table_height.min(inner.height / 3).max(2))
        } else {
            Constraint::Min(2)
        },
        if view.diff.is_some() {
            Constraint::Min(0)
        } else {
            Constraint::Length(values_lines.min(inner.height / 3))
        },
    ])
    .areas(inner);
    if !errors.is_empty() {
        let lines: Vec<Line> = errors
            .iter()
            .map(|e| Line::from(Span::styled(e.clone(), t.style(Role::Warning))))
            .collect();
        f.render_widget(Paragraph::new(lines), note_area);
    }
    let header = Row::new(
        [
            "REVISION",
            "CHART VERSION",
            "APP VERSION",
            "STATUS",
            "UPDATED",
            "DESCRIPTION",
        ]
        .map(Cell::from),
    )
    .style(t.style(Role::Header));
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            let (status, role) = status_label(r.status);
            let revision = if marked == Some(r.revision) {
                Cell::from(format!("{} ◆", r.revision)).style(t.style(Role::KeyHint))
            } else {
                Cell::from(r.revision.to_string())
            };
            Row::new(vec![
                revision,
                Cell::from(r.chart_version.clone()),
                Cell::from(r.app_version.clone()),
                Cell::from(status).style(t.style(role)),
                Cell::from(age(r.updated, app.now)),
                Cell::from(r.description.clone()),
            ])
        })
        .collect();
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(9),
            Constraint::Length(16),
            Constraint::Length(14),
            Constraint::Length(20),
            Constraint::Length(8),
            Constraint::Min(20),
        ],
    )
    .header(header)
    .row_highlight_style(t.style(Role::RowSelected))
    .highlight_symbol("▶ ");
    let mut ts = TableState::default();
    if !rows.is_empty() {
        ts.select(Some(view.selected.min(rows.len() - 1)));
    }
    f.render_stateful_widget(table, table_area, &mut ts);
    if view.diff.is_some() {
        draw_diff(f, app, &view, diff_area);
    } else {
        draw_values_log(f, app, &view, diff_area);
    }
}

/// The values repo's commits of the release, with their outcomes, below the revisions.
fn draw_values_log(f: &mut Frame, app: &App, view: &HistoryView, area: Rect) {
    let Some(log) = &view.values_log else {
        return;
    };
    if area.height < 3 {
        return;
    }
    let t = &app.theme;
    let width = area.width as usize;
    let mut lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            "VALUES REPO (one commit per revision, outcome as a git note)",
            t.style(Role::Header),
        )),
    ];
    match log {
        Err(e) => lines.push(Line::from(Span::styled(
            truncate(&format!("✖ {e}"), width),
            t.style(Role::Error),
        ))),
        Ok(commits) if commits.is_empty() => lines.push(Line::from(Span::styled(
            "no commits for this release yet: the first upgrade or rollback makes one",
            t.style(Role::Dim),
        ))),
        Ok(commits) => {
            for c in commits {
                // The outcome line; the details below it are in `git notes show`.
                let note = c
                    .note
                    .as_deref()
                    .and_then(|n| n.lines().next())
                    .unwrap_or("outcome: not recorded");
                let role = if note.contains("succeeded") {
                    Role::Ok
                } else if note.contains("rolled back") {
                    Role::Warning
                } else if note.contains("failed") {
                    Role::Failing
                } else {
                    Role::Dim
                };
                let when = jiff::Timestamp::from_second(c.time)
                    .map(|ts| ts.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{} {when} ", &c.id[..8.min(c.id.len())]),
                        t.style(Role::Dim),
                    ),
                    Span::styled(
                        truncate(&format!("{} · {note}", c.summary), width.saturating_sub(26)),
                        t.style(role),
                    ),
                ]));
            }
        }
    }
    let visible: Vec<Line> = lines.into_iter().take(area.height as usize).collect();
    f.render_widget(Paragraph::new(visible), area);
}

fn draw_diff(f: &mut Frame, app: &mut App, view: &HistoryView, area: Rect) {
    let Some(pane) = &view.diff else {
        return;
    };
    let t = &app.theme;
    let d = &pane.diff;
    let mut title = format!(" Diff revision {} → {}", d.from, d.to);
    if let Some(c) = &d.chart {
        title.push_str(&format!(" · {c}"));
    }
    title.push_str(" · j/k scroll ");
    let b = block(app, title);
    let inner = b.inner(area);
    f.render_widget(b, area);
    app.page = (inner.height as usize).max(1);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    for (what, diff_lines) in [("values", &d.values), ("manifest", &d.manifest)] {
        if diff_lines.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("{what}: no change"),
                t.style(Role::Dim),
            )));
        }
        for l in diff_lines {
            let role = diff_role(l.kind);
            lines.push(Line::from(Span::styled(
                truncate(&l.text, width),
                t.style(role),
            )));
        }
    }
    if d.masked {
        lines.push(Line::from(Span::styled(
            "(values that look secret are shown as ****; x reveals them)",
            t.style(Role::Dim),
        )));
    }
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(pane.scroll)
        .take(inner.height as usize)
        .collect();
    f.render_widget(Paragraph::new(visible), inner);
}
