//! The list `o` opens: the selection's dashboard links, filled in, over the table.

use crate::tui::links::LinksView;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws `view` centred in `area`: one line per link (name, then the URL), the cursor on
/// the chosen one, the templates not offered here (and what they need) dimmed below, and
/// the keys.
pub fn draw(f: &mut Frame, view: &LinksView, theme: &Theme, area: Rect) {
    let name_width = view
        .offer
        .links
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = Vec::new();
    for (i, link) in view.offer.links.iter().enumerate() {
        let selected = i == view.selected;
        let marker = if selected { "▶ " } else { "  " };
        let style = if selected {
            theme.style(Role::RowSelected)
        } else {
            theme.style(Role::Background)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{:<name_width$}  ", link.name), style),
            Span::styled(link.url.clone(), style),
        ]));
    }
    if !view.offer.missing.is_empty() {
        lines.push(Line::from(""));
        for m in &view.offer.missing {
            lines.push(Line::from(Span::styled(
                format!(
                    "  {} — not here: needs {{{}}}",
                    m.name,
                    m.needs.join("}, {")
                ),
                theme.style(Role::Dim),
            )));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "enter: copy (OSC 52) and open    c: copy    esc: close",
        theme.style(Role::KeyHint),
    )));
    let widest = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let w = (widest + 4).clamp(40, area.width.max(1));
    let h = lines.len() as u16 + 2;
    let title = format!(" Links — {} ", view.title);
    super::draw_overlay(f, theme, area, (w, h), title, Paragraph::new(lines));
}
