//! The cluster as the console sees it: watches (kube-rs watchers, never re-listing loops)
//! turned into compact rows, owned by one task, and rolled up into health and problems.

pub mod actions;
pub mod convert;
pub mod model;
pub mod object;
pub mod pb;
mod pb_watch;
pub mod rollup;
pub mod slim;
pub mod table;
pub mod watch;

pub use model::*;
