//! Domain types and rules. Nothing here draws on a terminal.

pub mod health;
pub mod release;
