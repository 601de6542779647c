//! The promotion over the inventory ([`crate::tui::promote`]): the review (chart version
//! from → to, soak, the values repo's record, images that will change, preflight, the
//! masked values diff), what it asks to be typed, then the change as the upgrade wizard
//! shows it.

use super::upgrade::{check_role, run_lines};
use crate::tui::format::truncate;
use crate::tui::promote::{PromoteStage, PromotionView, Review, Typing};
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// Draws `view` over `area`.
pub fn draw(f: &mut Frame, view: &PromotionView, theme: &Theme, area: Rect) {
    let ask = &view.ask;
    let hints = match &view.stage {
        PromoteStage::Preparing | PromoteStage::Error(_) if view.pairs.len() > 1 => {
            "t other environments · esc close"
        }
        PromoteStage::Preparing | PromoteStage::Error(_) => "esc close",
        PromoteStage::Review {
            typing: Some(_), ..
        } => "enter go ahead · esc back",
        PromoteStage::Review { .. } if view.pairs.len() > 1 => {
            "enter/y promote · t other environments · f force · j/k scroll · esc cancel"
        }
        PromoteStage::Review { .. } => "enter/y promote · f force · j/k scroll · esc cancel",
        PromoteStage::Running(..) => "the change ends on its own",
        PromoteStage::Finished(..) => "j/k scroll · enter/esc close",
    };
    let title = format!(
        " Promote {}: {} → {} · {hints} ",
        ask.release, ask.from, ask.to
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(title, theme.style(Role::Title)));
    f.render_widget(Clear, area);
    let inner = block.inner(area);
    f.render_widget(block.style(theme.style(Role::Background)), area);
    let width = inner.width as usize;
    let line = |text: String, role: Role| {
        Line::from(Span::styled(truncate(&text, width), theme.style(role)))
    };
    let (lines, skip) = match &view.stage {
        PromoteStage::Preparing => (
            vec![line(
                format!(
                    "reading {} in {} and {}, and preparing the change…",
                    ask.release, ask.from, ask.to
                ),
                Role::Dim,
            )],
            0,
        ),
        PromoteStage::Error(e) => (vec![line(format!("✖ {e}"), Role::Error)], 0),
        PromoteStage::Review {
            review,
            typing,
            skip_soak,
        } => {
            let mut out = Vec::new();
            if let Some(t) = typing {
                out.push(line(prompt(t, review), Role::Warning));
            }
            let body = review_lines(review, skip_soak.as_deref(), view.force, theme, width);
            let skip = view.scroll.min(body.len().saturating_sub(1));
            out.extend(body.into_iter().skip(skip));
            (out, 0)
        }
        PromoteStage::Running(plan, run) => (run_lines(plan, run, None, inner, theme), 0),
        PromoteStage::Finished(plan, run, report) => {
            let lines = run_lines(plan, run, Some(&report.ending), inner, theme);
            let skip = view.scroll.min(lines.len().saturating_sub(1));
            (lines, skip)
        }
    };
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(skip)
        .take(inner.height as usize)
        .collect();
    f.render_widget(Paragraph::new(visible), inner);
}

/// The question being typed, with what was typed so far.
fn prompt(t: &Typing, review: &Review) -> String {
    match t {
        Typing::Reason(s) => {
            format!("the soak failed: why go ahead anyway? (goes into the commit message) › {s}▏")
        }
        Typing::ReleaseName(s) => format!(
            "{} is protected: type the release name ({}) to go ahead › {s}▏",
            review.ask.to, review.ask.release
        ),
    }
}

/// The review's lines.
fn review_lines(
    r: &Review,
    skip_soak: Option<&str>,
    force: bool,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let line = |text: String, role: Role| {
        Line::from(Span::styled(truncate(&text, width), theme.style(role)))
    };
    let s = &r.source.read;
    let mut out = vec![
        line(
            format!(
                "{} ({}): chart {} {} → {} · {} revision {} → {} (now revision {})",
                r.ask.release,
                r.ask.to_namespace,
                s.chart,
                r.target_version,
                s.chart_version,
                r.ask.from,
                s.revision,
                r.ask.to,
                r.target_revision
            ),
            Role::Title,
        ),
        line(
            format!(
                "app {} in {} · values: {}'s, {}'s own (values.{}.yaml) kept",
                s.app_version, r.ask.from, r.ask.from, r.ask.to, r.ask.to
            ),
            Role::Row,
        ),
    ];
    out.push(match r.soak.outcome(skip_soak) {
        Ok(note) => line(format!("✔ soak: {note}"), Role::Ok),
        Err(problems) => line(
            format!("✖ soak: {problems} (enter asks for a reason to go ahead anyway)"),
            Role::Failing,
        ),
    });
    out.push(line(r.record.clone(), Role::Row));
    if r.protected {
        out.push(line(
            format!(
                "{} is protected: enter asks for the release name typed",
                r.ask.to
            ),
            Role::Warning,
        ));
    }
    out.push(line(
        format!(
            "force {} (f) · timeout {} s · auto-rollback on · backup, values commit and git note under {}/",
            if force { "ON" } else { "off" },
            r.plan.request.timeout.as_secs(),
            r.ask.to
        ),
        Role::KeyHint,
    ));
    out.push(line("images that will change".into(), Role::Header));
    if r.images.is_empty() {
        out.push(line("  none".into(), Role::Dim));
    }
    for i in &r.images {
        out.push(line(format!("  {i}"), Role::Row));
    }
    out.push(line("preflight".into(), Role::Header));
    for c in &r.plan.checks {
        out.push(line(
            format!("  {} {:<10} {}", c.level.glyph(), c.name, c.detail),
            check_role(c.level),
        ));
    }
    out.push(line("values (secrets shown as ****)".into(), Role::Header));
    if r.plan.values_diff.is_empty() {
        out.push(line("  unchanged".into(), Role::Dim));
    }
    for l in &r.plan.values_diff {
        out.push(line(
            format!("  {}", l.text),
            super::history::diff_role(l.kind),
        ));
    }
    out
}
