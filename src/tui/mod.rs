//! The interactive console.

pub mod keymap;
pub mod terminal;
pub mod theme;
