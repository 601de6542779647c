//! Subcommands of the `helmdeck` command line other than the console itself.

pub mod console;
pub mod scale;
pub mod status;
pub mod topics;
