//! helmdeck: a terminal console for on-call engineers who run Helm releases and Kafka
//! topics on Kubernetes.
//!
//! Layout (see STYLE.md in the shared folder):
//! - [`core`]: domain types and rules, no terminal code (pod status, workload health, Helm releases).
//! - [`sandbox`]: an embedded Kubernetes-API-compatible server with simulated controllers.
//! - [`tui`]: the interactive console.
//! - [`config`]: the user's configuration file.

pub mod cli;
pub mod config;
pub mod core;
pub mod logging;
pub mod sandbox;
pub mod tui;
