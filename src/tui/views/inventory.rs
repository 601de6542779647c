//! The version inventory (`8`, `:inv`) over the screen: one column per environment, per
//! release its chart and app versions and one line per component, drift in the warning
//! colour, unreachable environments named with why.

use crate::core::inventory::Grid;
use crate::tui::inventory::InventoryView;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// Draws `view` over `area`.
pub fn draw(f: &mut Frame, view: &InventoryView, theme: &Theme, area: Rect) {
    let title = format!(
        " Inventory{} · j/k move · p promotes · ctrl-r reads again · esc closes ",
        if view.loading { " (reading…)" } else { "" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(title, theme.style(Role::Title)));
    f.render_widget(Clear, area);
    let inner = block.inner(area);
    f.render_widget(block.style(theme.style(Role::Background)), area);
    let lines = match &view.grid {
        None => vec![Line::from("reading the environments…")],
        Some(Err(e)) => vec![Line::from(Span::styled(
            format!("cannot read the inventory: {e}"),
            theme.style(Role::Failing),
        ))],
        Some(Ok(grid)) => {
            let mut lines = grid_lines(grid, &view.unreachable, theme, inner.width);
            let height = inner.height as usize;
            cursor_in_sight(&mut lines, view.selected, theme, height);
            lines
        }
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// Marks the cursor's line (grid line `selected`, below the header) and scrolls the lines
/// under the header so that it is in the `height` shown.
fn cursor_in_sight(lines: &mut Vec<Line<'static>>, selected: usize, theme: &Theme, height: usize) {
    if let Some(line) = lines.get_mut(selected + 1) {
        *line = std::mem::take(line).patch_style(theme.style(Role::RowSelected));
    }
    let room = height.saturating_sub(1).max(1);
    let scroll = (selected + 1).saturating_sub(room);
    if scroll > 0 && lines.len() > 1 {
        let end = (1 + scroll).min(lines.len());
        lines.drain(1..end);
    }
}

/// The grid as lines: columns as wide as their widest cell, within `width`.
fn grid_lines(
    grid: &Grid,
    unreachable: &[(String, String)],
    theme: &Theme,
    width: u16,
) -> Vec<Line<'static>> {
    let columns = grid.header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            grid.rows
                .iter()
                .filter(|r| !r.heading)
                .filter_map(|r| r.cells.get(i))
                .chain(std::iter::once(&grid.header[i]))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fits = widths.iter().sum::<usize>() + 2 * columns <= width as usize;
    let cell = |text: &str, i: usize| {
        let w = if fits {
            widths[i]
        } else {
            text.chars().count()
        };
        format!("{text:<w$}  ")
    };
    let mut lines = vec![Line::from(
        grid.header
            .iter()
            .enumerate()
            .map(|(i, h)| Span::styled(cell(h, i), theme.style(Role::Header)))
            .collect::<Vec<_>>(),
    )];
    for row in &grid.rows {
        if row.heading {
            lines.push(Line::from(Span::styled(
                row.cells[0].clone(),
                theme.style(Role::Title).add_modifier(Modifier::BOLD),
            )));
            continue;
        }
        let spans = row
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let role = match (row.drift.get(i), c.as_str()) {
                    (Some(true), _) => Role::Warning,
                    (_, "unreachable" | "error") => Role::Failing,
                    (_, "—") => Role::Dim,
                    _ => Role::Row,
                };
                Span::styled(cell(c, i), theme.style(role))
            })
            .collect::<Vec<_>>();
        lines.push(Line::from(spans));
    }
    for (name, why) in unreachable {
        lines.push(Line::from(Span::styled(
            format!("{name}: unreachable: {why}"),
            theme.style(Role::Failing),
        )));
    }
    lines
}
