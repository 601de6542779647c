//! The blue/green cutover view (`:bg`): both slots, the active one marked, the endpoints,
//! the hold left, the keys.

use crate::core::workflows::bluegreen::{self, Slot, Status};
use crate::tui::bluegreen::BlueGreenView;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// The lines of a read cutover.
fn status_lines(view: &BlueGreenView, st: &Status, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let Some(c) = &st.cutover else {
        lines.push(Line::from(format!(
            "no cutover of deploy/{} in progress: `helmdeck bluegreen start deploy/{} -n {} --image TAG`",
            view.workload, view.workload, view.namespace
        )));
        lines.push(Line::from(format!(
            "endpoints: {}",
            bluegreen::describe_endpoints(&st.endpoints)
        )));
        return lines;
    };
    let ready = |r: Option<(i32, i32)>| match r {
        Some((ready, want)) => format!("{ready}/{want} ready"),
        None => "absent".into(),
    };
    let images = |m: &std::collections::BTreeMap<String, String>| {
        m.values().cloned().collect::<Vec<_>>().join(", ")
    };
    for (slot, name, r, imgs) in [
        (Slot::Blue, &c.workload, st.blue, &c.blue_images),
        (Slot::Green, &c.green, st.green, &c.green_images),
    ] {
        let active = c.active == slot;
        let style = if active {
            theme.style(Role::Ok)
        } else {
            theme.style(Role::Dim)
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {:<6}", if active { "▶" } else { " " }, slot.to_string()),
                style,
            ),
            Span::raw(format!(
                "deploy/{name:<22} {:<10} {}{}",
                ready(r),
                images(imgs),
                if active { "   ← Service" } else { "" }
            )),
        ]));
    }
    lines.push(Line::from(format!(
        "Service {} selects {}",
        c.service,
        bluegreen::selector_text(&c.selector_for(c.active))
    )));
    lines.push(Line::from(format!(
        "endpoints: {}",
        bluegreen::describe_endpoints(&st.endpoints)
    )));
    match st.hold_left {
        Some(d) if d.is_zero() => lines.push(Line::from("hold: over")),
        Some(d) => lines.push(Line::from(format!(
            "hold: {} left (b returns to blue at once)",
            bluegreen::human(d)
        ))),
        None => {}
    }
    if let Some(Err(why)) = &c.verified {
        lines.push(Line::from(Span::styled(
            format!("green failed verification: {why}"),
            theme.style(Role::Error),
        )));
    }
    if let Some((j, todo)) = &st.interrupted {
        lines.push(Line::from(Span::styled(
            format!("interrupted: {}; {todo}", j.summary()),
            theme.style(Role::Warning),
        )));
    }
    lines
}

/// Draws `view` centred in `area`.
pub fn draw(f: &mut Frame, view: &BlueGreenView, theme: &Theme, area: Rect) {
    let mut lines: Vec<Line> = match &view.status {
        None => vec![Line::from("reading…")],
        Some(Err(e)) => vec![Line::from(Span::styled(
            e.clone(),
            theme.style(Role::Error),
        ))],
        Some(Ok(st)) => status_lines(view, st, theme),
    };
    if let Some(b) = &view.busy {
        lines.push(Line::from(Span::styled(
            b.clone(),
            theme.style(Role::Progressing),
        )));
    }
    match &view.outcome {
        Some(Ok(s)) => lines.push(Line::from(Span::styled(s.clone(), theme.style(Role::Ok)))),
        Some(Err(s)) => lines.push(Line::from(Span::styled(
            s.clone(),
            theme.style(Role::Error),
        ))),
        None => {}
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "s: switch to green    b: back to blue    ctrl-r: read again    esc: close",
        theme.style(Role::KeyHint),
    )));
    let w = area.width.saturating_sub(4).max(1);
    let h = lines.len() as u16 + 6;
    let title = format!(
        " Blue/green — deploy/{} -n {} ",
        view.workload, view.namespace
    );
    let body = Paragraph::new(lines).wrap(Wrap { trim: false });
    super::draw_overlay(f, theme, area, (w, h), title, body);
}
