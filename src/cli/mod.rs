//! Subcommands of the `helmdeck` command line other than the console itself.

pub mod console;
pub mod releases;
pub mod scale;
pub mod status;
pub mod topics;
pub mod upgrade;
