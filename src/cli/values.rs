//! `helmdeck values migrate --env ENV [--dry-run]`: lays the values repo out by environment
//! (`<env>/<namespace>/<release>/`), in one commit that renames and loses nothing
//! ([`ValuesRepo::migrate`]). Reads the config (its `values_repo` and `environments`);
//! contacts no cluster.

use crate::core::releases::values_repo::ValuesRepo;
use anyhow::{Result, anyhow, bail};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ValuesArgs {
    #[command(subcommand)]
    pub command: ValuesCommand,
    /// The config file (its `values_repo` and `environments`).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ValuesCommand {
    /// Move every release kept without an environment (`<namespace>/<release>/`) under the
    /// environment it runs in (`<env>/<namespace>/<release>/`), in one commit; each overlay
    /// `values.<env>.yaml` goes under its own environment. Exits 0 when moved or nothing
    /// was left to move, 2 when refused (nothing changed).
    Migrate {
        /// The environment (`environments` in the config) today's records belong to.
        #[arg(long = "env", value_name = "ENV")]
        environment: String,
        /// Print what would move and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

impl ValuesArgs {
    /// What it changes, for the read-only gate.
    pub fn writes(&self) -> Option<&'static str> {
        match &self.command {
            ValuesCommand::Migrate { dry_run: false, .. } => Some("values migrate"),
            ValuesCommand::Migrate { dry_run: true, .. } => None,
        }
    }
}

pub fn run(a: ValuesArgs) -> Result<u8> {
    match migrate(&a) {
        Ok(()) => Ok(0),
        Err(e) => Ok(super::refused(e)),
    }
}

fn migrate(a: &ValuesArgs) -> Result<()> {
    let ValuesCommand::Migrate {
        environment,
        dry_run,
    } = &a.command;
    let config = crate::config::Config::load(a.config.as_deref())?;
    let names: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    if !names.contains(environment) {
        bail!(
            "no environment `{environment}` in the config (environments: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    let settings = crate::core::workflows::upgrade::Settings::from_config(&config)?;
    let root = settings.values_repo;
    if !root.join(".git").exists() {
        say!("values repo {}: none yet; nothing to move", root.display());
        return Ok(());
    }
    let repo = ValuesRepo::open_or_init(&root)?;
    let left = repo.unmigrated()?;
    if left.is_empty() {
        say!(
            "values repo {}: already laid out by environment; nothing to move",
            root.display()
        );
        return Ok(());
    }
    if *dry_run {
        say!(
            "values repo {}: would move {} release(s) under {environment}/ in one commit:",
            root.display(),
            left.len()
        );
        for dir in &left {
            say!("    {dir}/ → {environment}/{dir}/");
        }
        return Ok(());
    }
    let done = repo
        .migrate(environment, &names)?
        .ok_or_else(|| anyhow!("nothing was moved"))?;
    say!(
        "values repo {}: {} release(s) moved under {environment}/ in commit {}",
        root.display(),
        done.releases.len(),
        &done.commit[..done.commit.len().min(12)]
    );
    for (from, to) in &done.files {
        say!("    {from} → {to}");
    }
    Ok(())
}
