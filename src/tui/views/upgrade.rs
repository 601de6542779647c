//! The upgrade wizard ([`crate::tui::upgrade`]): versions to pick from, the plan to
//! review, the change as it runs (steps, a progress bar per workload, the driver's output)
//! and how it ended.

use super::block;
use crate::core::workflows::upgrade::{CheckLevel, Ending, Plan, StepState};
use crate::tui::app::App;
use crate::tui::format::{truncate, wrap};
use crate::tui::theme::Role;
use crate::tui::upgrade::{RunView, Stage, UpgradeWizard};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the wizard in `area`.
pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(w) = app.upgrade.clone() else {
        return;
    };
    let (title, hints) = match &w.stage {
        Stage::LoadingVersions | Stage::Preparing(_) => ("", "esc close"),
        Stage::Versions { .. } => ("choose a version", "↑↓ choose · enter review · esc close"),
        Stage::Review(plan) if plan.kind != crate::core::workflows::upgrade::Kind::Upgrade => (
            "review",
            "enter/y start · a auto-rollback · f force · j/k scroll · esc cancel",
        ),
        Stage::Review(_) => (
            "review",
            "enter/y start · e edit values · a auto-rollback · f force · j/k scroll · esc cancel",
        ),
        Stage::Running(..) => ("running", "the change ends on its own"),
        Stage::Finished(_, _, r) if r.offer_rollback_to.is_some() => {
            ("finished", "r roll back · j/k scroll · enter/esc close")
        }
        Stage::Finished(..) => ("finished", "j/k scroll · enter/esc close"),
        Stage::Error(_) => ("", "esc close"),
    };
    let b = block(
        app,
        format!(
            " {} {}/{}{}{} · {hints} ",
            w.kind_word(),
            w.namespace,
            w.release,
            if title.is_empty() { "" } else { " · " },
            title
        ),
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let width = inner.width as usize;
    let t = app.theme.clone();
    let line =
        |text: String, role: Role| Line::from(Span::styled(truncate(&text, width), t.style(role)));
    let lines: Vec<Line> = match &w.stage {
        Stage::LoadingVersions => vec![line("reading the chart repository…".into(), Role::Dim)],
        Stage::Preparing(what) => vec![line(what.clone(), Role::Dim)],
        Stage::Error(e) => vec![line(format!("✖ {e}"), Role::Error)],
        Stage::Versions {
            current,
            offers,
            selected,
        } => {
            let mut out = vec![line(format!("deployed: {current}"), Role::Title)];
            if offers.is_empty() {
                out.push(line(
                    "up to date: no newer version in the repository".into(),
                    Role::Ok,
                ));
            }
            for (i, o) in offers.iter().enumerate() {
                let role = match o.jump {
                    _ if i == *selected => Role::RowSelected,
                    crate::core::releases::repo::Jump::Major => Role::Warning,
                    _ => Role::Row,
                };
                let mark = if i == *selected { "▶ " } else { "  " };
                out.push(line(
                    format!(
                        "{mark}{:<14} {:<6} app {:<12} {}{}",
                        o.version.to_string(),
                        o.jump.as_str(),
                        o.app_version,
                        o.created.as_deref().unwrap_or("").get(..10).unwrap_or(""),
                        if o.prerelease { "  pre-release" } else { "" }
                    ),
                    role,
                ));
                if i == *selected {
                    out.push(line(format!("    {}", o.headline()), Role::Dim));
                    for c in &o.changes {
                        out.push(line(format!("    - {c}"), Role::Dim));
                    }
                }
            }
            out
        }
        Stage::Review(plan) => review_lines(plan, &w, width, &t),
        Stage::Running(plan, run) => run_lines(plan, run, None, inner, &t),
        Stage::Finished(plan, run, report) => run_lines(plan, run, Some(&report.ending), inner, &t),
    };
    let skip = match &w.stage {
        Stage::Review(_) | Stage::Finished(..) => w.scroll.min(lines.len().saturating_sub(1)),
        Stage::Running(..) => 0,
        _ => 0,
    };
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(skip)
        .take(inner.height as usize)
        .collect();
    f.render_widget(Paragraph::new(visible), inner);
}

pub(crate) fn check_role(level: CheckLevel) -> Role {
    match level {
        CheckLevel::Pass => Role::Ok,
        CheckLevel::Warn => Role::Warning,
        CheckLevel::Fail => Role::Failing,
    }
}

fn review_lines<'a>(
    plan: &Plan,
    w: &UpgradeWizard,
    width: usize,
    t: &crate::tui::theme::Theme,
) -> Vec<Line<'a>> {
    let line =
        |text: String, role: Role| Line::from(Span::styled(truncate(&text, width), t.style(role)));
    let mut out = vec![line(plan.headline(), Role::Title)];
    for c in &plan.changes {
        out.push(line(format!("  - {c}"), Role::Row));
    }
    out.push(line(
        format!(
            "auto-rollback {} (a) · force {} (f) · timeout {} s · backup, values commit and git note on every run",
            if w.auto_rollback { "ON" } else { "off" },
            if w.force { "ON" } else { "off" },
            plan.request.timeout.as_secs()
        ),
        Role::KeyHint,
    ));
    out.push(line("preflight".into(), Role::Header));
    for c in &plan.checks {
        out.push(line(
            format!("  {} {:<10} {}", c.level.glyph(), c.name, c.detail),
            check_role(c.level),
        ));
    }
    out.push(line("values (secrets shown as ****)".into(), Role::Header));
    if plan.values_diff.is_empty() {
        out.push(line("  unchanged".into(), Role::Dim));
    }
    for l in &plan.values_diff {
        out.push(line(
            format!("  {}", l.text),
            super::history::diff_role(l.kind),
        ));
    }
    out
}

/// `[██████░░░░]`.
fn bar(ready: i32, desired: i32, cells: usize) -> String {
    let filled = if desired <= 0 {
        0
    } else {
        ((ready.clamp(0, desired) as usize) * cells) / desired as usize
    };
    format!("[{}{}]", "█".repeat(filled), "░".repeat(cells - filled))
}

pub(crate) fn run_lines<'a>(
    plan: &Plan,
    run: &RunView,
    ending: Option<&Ending>,
    area: Rect,
    t: &crate::tui::theme::Theme,
) -> Vec<Line<'a>> {
    let width = area.width as usize;
    let line =
        |text: String, role: Role| Line::from(Span::styled(truncate(&text, width), t.style(role)));
    // Every line of a text, wrapped: a failure's cause is read whole, never cut.
    let wrapped = |text: String, role: Role, indent: usize| -> Vec<Line<'a>> {
        wrap(&text, width, indent)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, t.style(role))))
            .collect()
    };
    let mut out = vec![line(plan.headline(), Role::Title)];
    for (step, state) in &run.steps {
        let (glyph, text, role) = match state {
            StepState::Running(s) => ("◐", s, Role::Progressing),
            StepState::Done(s) => ("✔", s, Role::Ok),
            StepState::Failed(s) => ("✖", s, Role::Failing),
            StepState::Skipped(s) => ("·", s, Role::Dim),
        };
        let text = format!("{glyph} {:<9} {text}", step.as_str());
        match state {
            StepState::Failed(_) => out.extend(wrapped(text, role, 12)),
            _ => out.push(line(text, role)),
        }
    }
    if !run.progress.is_empty() {
        out.push(line("workloads".into(), Role::Header));
        // Kinds (deploy, sts) and names padded to the longest, so the bars line up.
        let kind_w = run.progress.iter().map(|p| p.kind.short().len()).max();
        let name_w = run.progress.iter().map(|p| p.name.chars().count()).max();
        let (kind_w, name_w) = (kind_w.unwrap_or(0), name_w.unwrap_or(0).min(40));
        for p in &run.progress {
            let role = if p.converged {
                Role::Ok
            } else if p.ready < p.desired {
                Role::Degraded
            } else {
                Role::Progressing
            };
            out.push(line(
                format!(
                    "  {:<kind_w$} {:<name_w$} {} {}/{} ready  {}",
                    p.kind.short(),
                    truncate(&p.name, name_w),
                    bar(p.ready, p.desired, 10),
                    p.ready,
                    p.desired,
                    p.message
                ),
                role,
            ));
        }
    }
    if let Some(e) = ending {
        let role = match e {
            Ending::Succeeded => Role::Ok,
            Ending::RolledBack(_) | Ending::Aborted { .. } => Role::Warning,
            _ => Role::Failing,
        };
        // Its first line; the details are with the step that failed, above.
        let ending = e.to_string();
        let first = ending.lines().next().unwrap_or_default();
        out.extend(wrapped(
            format!("{} {first}", if e.succeeded() { "✔" } else { "✖" }),
            role,
            2,
        ));
    }
    // While it runs, the driver's output fills what is left, newest last; once it has
    // finished, all of it (the view scrolls).
    let room = match ending {
        Some(_) => usize::MAX,
        None => (area.height as usize).saturating_sub(out.len() + 1),
    };
    if room > 0 && !run.output.is_empty() {
        out.push(line("output".into(), Role::Header));
        let from = run.output.len().saturating_sub(room.saturating_sub(1));
        for l in &run.output[from..] {
            out.push(line(format!("  │ {l}"), Role::Dim));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bars_fill_by_ready_over_desired() {
        assert_eq!(super::bar(1, 2, 10), "[█████░░░░░]");
        assert_eq!(super::bar(3, 2, 4), "[████]");
        assert_eq!(super::bar(0, 0, 4), "[░░░░]");
    }
}
