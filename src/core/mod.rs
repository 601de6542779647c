//! Domain types and rules. Nothing here draws on a terminal.

pub mod cluster;
pub mod duration;
pub mod health;
pub mod inventory;
pub mod links;
pub mod private_files;
pub mod release;
pub mod releases;
pub mod topics;
pub mod workflows;
pub mod yaml;
