//! Driving the console on ratatui's TestBackend: keys as a person types them, the screen
//! as text.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use helmdeck::tui::app::App;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// A character key.
#[allow(dead_code)]
pub fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Any other key (Enter, Esc, arrows).
#[allow(dead_code)]
pub fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// One frame of the console, `w`×`h`.
#[allow(dead_code)]
pub fn draw(a: &mut App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| helmdeck::tui::views::draw(f, a)).unwrap();
    t.backend().buffer().clone()
}

/// A frame's text, a line per row.
#[allow(dead_code)]
pub fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// One frame of the console as text.
#[allow(dead_code)]
pub fn screen(a: &mut App, w: u16, h: u16) -> String {
    text(&draw(a, w, h))
}

/// An object of `tests/fixtures/` (a real object as the API server sends it), decoded.
#[allow(dead_code)]
pub fn fixture<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}
