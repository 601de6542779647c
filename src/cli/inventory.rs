//! `helmdeck inventory`: which chart version, app version and images each platform release
//! runs in each environment (`environments` in the config), with drift marked and the
//! newest chart version the repository offers. The work is in [`crate::core::inventory`].
//!
//! Exit codes: 0 when every environment was read, 1 when one is unreachable or a release
//! could not be read there, 2 when the config cannot be used (no environments, a context
//! the kubeconfig lacks).

use crate::config::Config;
use crate::core::inventory::{self, CellState, Grid, Inventory};
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// `helmdeck inventory [-o json|table]`.
#[derive(clap::Args, Debug)]
pub struct InventoryArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// The config file (its `environments` and `platforms`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The kubeconfig holding the environments' contexts (default: KUBECONFIG, then
    /// ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The chart repository to ask for the newest version (default: the one recorded in the
    /// values repo by each release's last change).
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// How long an environment may take to answer before it is shown as unreachable.
    #[arg(long, default_value = "5s", value_parser = super::scale::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(a: InventoryArgs) -> Result<u8> {
    let config = Config::load(a.config.as_deref())?;
    let inv = inventory::read::from_config(
        &config,
        a.kubeconfig.as_deref(),
        a.repo.as_deref(),
        a.timeout,
    )
    .await?;
    match a.output {
        Format::Json => say!("{}", serde_json::to_string_pretty(&inv)?),
        Format::Table => print_table(&inv),
    }
    let incomplete = inv.environments.iter().any(|e| !e.reachable)
        || inv
            .releases
            .iter()
            .any(|r| r.environments.iter().any(|c| c.state == CellState::Error));
    Ok(u8::from(incomplete))
}

/// The grid in aligned columns, then why each unreachable environment is.
fn print_table(inv: &Inventory) {
    let grid = Grid::of(inv);
    let width = |i: usize| {
        grid.rows
            .iter()
            .filter(|r| !r.heading)
            .map(|r| r.cells.get(i).map_or(0, |c| c.chars().count()))
            .chain(std::iter::once(grid.header[i].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..grid.header.len()).map(width).collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    say!("{}", line(&grid.header));
    for row in &grid.rows {
        if row.heading {
            say!("{}", row.cells[0]);
        } else {
            say!("{}", line(&row.cells));
        }
    }
    for e in inv.environments.iter().filter(|e| !e.reachable) {
        say!(
            "{} (context {}): unreachable: {}",
            e.name,
            e.context,
            e.error.as_deref().unwrap_or("-")
        );
    }
}
