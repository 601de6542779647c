//! The interactive console.

pub mod app;
pub mod changes;
pub mod format;
pub mod history;
pub mod keymap;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod topics;
pub mod upgrade;
pub mod views;
