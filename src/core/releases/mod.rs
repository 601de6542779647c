//! Helm releases beyond decoding ([`crate::core::release`]): chart repositories and
//! semver classification, release history and diffs, the values git repo and its encrypted
//! secrets, backups.

pub mod backup;
pub mod backup_store;
pub mod fetch;
pub mod history;
pub mod repo;
pub mod schedule;
pub mod values_repo;
pub mod values_secrets;
