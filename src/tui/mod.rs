//! The interactive console.

pub mod app;
pub mod bluegreen;
pub mod changes;
pub mod format;
pub mod history;
pub mod inventory;
pub mod keymap;
pub mod keys;
pub mod links;
pub mod logview;
pub mod object_events;
pub mod promote;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod topics;
pub mod upgrade;
pub mod views;
