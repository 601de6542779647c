//! Starting the console: flags, config file, theme, key map, log file; and the demo, which
//! starts the sandbox in-process and opens the console on it through a kubeconfig, as any
//! cluster would be reached.

use crate::config::Config;
use crate::core::workflows::driver::DriverKind;
use crate::core::workflows::upgrade::Settings;
use crate::tui::changes::ChangeSettings;
use crate::tui::keymap::{KeyMap, Screen};
use crate::tui::run::{self, Options};
use crate::tui::theme::Theme;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The console's flags (k9s-like). Those the demo and the commands share are global: they
/// may come after the command too (`helmdeck demo --theme light -n shop`). `--kubeconfig`
/// and `--context` are not: `helmdeck sandbox --kubeconfig F` is where the sandbox *writes*
/// one, and a global flag's value reaches every command that has a flag of its name.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConsoleArgs {
    /// The kubeconfig to use (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Show one namespace.
    #[arg(short = 'n', long, global = true, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    /// Show every namespace (the default unless the config names a namespace for the context).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Refuse every change: the console's actions and every command that writes (scale,
    /// cordon, drain, upgrade, rollback, topics create…), which then exit 2.
    #[arg(long, global = true)]
    pub readonly: bool,
    /// A theme name (dark, light, high-contrast) or a theme file.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// The config file (default: $XDG_CONFIG_HOME/helmdeck/config.yaml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The release driver for upgrades and rollbacks (the demo always uses the sandbox's).
    #[arg(long, value_enum, env = "HELMDECK_DRIVER", default_value_t = DriverKind::Helm)]
    pub driver: DriverKind,
    /// The chart repository upgrades are offered from (default: the one recorded in the
    /// values repo by a release's last change; the demo uses the sandbox's).
    #[arg(long, value_name = "URL")]
    pub chart_repo: Option<String>,
    /// How long an upgrade or rollback may take to become ready (default 5m; 60s in the demo).
    #[arg(long, global = true, value_parser = crate::cli::scale::parse_duration)]
    pub upgrade_timeout: Option<std::time::Duration>,
    /// The screen to open at launch, named as `:` names it (as k9s's `-c`): overview, nodes,
    /// deploy, pods, events, rel, topics.
    #[arg(short = 'c', long, global = true, value_name = "SCREEN", value_parser = screen_arg)]
    pub command: Option<Screen>,
}

/// `--command NAME`: a screen, or a one-line error listing the names.
fn screen_arg(name: &str) -> Result<Screen, String> {
    crate::tui::app::screen_named(name).ok_or_else(|| {
        format!("no screen named {name:?}: overview, nodes, deploy, pods, events, rel, topics")
    })
}

/// How the console makes changes, from the flags and the config.
fn change_settings(
    args: &ConsoleArgs,
    config: &Config,
    driver: DriverKind,
    chart_repo: Option<String>,
    timeout: std::time::Duration,
    demo_dir: Option<PathBuf>,
) -> ChangeSettings {
    let settings = match demo_dir {
        // The demo keeps its values repo, backups and journal apart from the real ones, and
        // encrypts the values repo's secrets to a key of its own (made on first use).
        Some(d) => crate::core::releases::values_secrets::ValuesSecrets::demo(&d)
            .map(|secrets| Settings {
                environment: None,
                analyses: crate::core::workflows::analysis::Analyses::from_config(config),
                backup_dir: d.join("backups"),
                values_repo: d.join("values"),
                journal_dir: d.join("journal"),
                secrets,
            })
            .map_err(|e| format!("{e:#}")),
        None => Settings::from_config(config).map_err(|e| format!("{e:#}")),
    };
    let mut changes = ChangeSettings {
        driver,
        chart_repo,
        timeout: args.upgrade_timeout.unwrap_or(timeout),
        settings,
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    in_environment(&mut changes, config, args.namespace.as_deref());
    changes
}

/// The console's changes are recorded under the environment of its context (and namespace,
/// when it watches one), when the config names environments.
fn in_environment(changes: &mut ChangeSettings, config: &Config, namespace: Option<&str>) {
    let env = super::environment_in_effect(
        config,
        changes.kubeconfig.as_deref(),
        changes.context.as_deref(),
        namespace.unwrap_or_default(),
    );
    if let Ok(s) = changes.settings.as_mut() {
        s.environment = env;
    }
}

/// Loads config, theme and key map, and sends logs to a file (never onto the screen).
fn prepare(args: &ConsoleArgs) -> Result<(Config, Theme, KeyMap)> {
    let config = Config::load(args.config.as_deref())?;
    let log = config
        .log_file
        .clone()
        .or_else(|| crate::config::data_dir().map(|d| d.join("helmdeck.log")))
        .unwrap_or_else(|| std::env::temp_dir().join("helmdeck.log"));
    crate::logging::init(crate::logging::LogTarget::File(&log))
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    // The theme asked for is loaded even under NO_COLOR: a name that does not exist or a file
    // that is not a theme is an error there too, not something found out later.
    let theme = match args.theme.as_ref().or(config.theme.as_ref()) {
        Some(name) => {
            let mut dirs: Vec<PathBuf> = Vec::new();
            if let Some(d) = Config::themes_dir() {
                dirs.push(d);
            }
            dirs.push(PathBuf::from("themes"));
            Theme::load(name, &dirs)?
        }
        None => Theme::default(),
    };
    let theme = if Theme::no_color_requested() {
        Theme::no_color()
    } else {
        theme
    };
    let keymap = KeyMap::with_overrides(&config.keys)?;
    Ok((config, theme, keymap))
}

/// A demo values repo of an earlier version, kept without environments, holds what was
/// changed in the demo's console, i.e. its dev sandbox: it moves under `dev/` (one commit).
fn migrate_demo_values(repo: &Path, config: &Config) {
    if !repo.join(".git").exists() {
        return;
    }
    let Some(dev) = config.environment_of(crate::sandbox::environments::DEV_CONTEXT, "") else {
        return;
    };
    let names: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    let moved = crate::core::releases::values_repo::ValuesRepo::open_or_init(repo)
        .and_then(|r| r.migrate(&dev.name, &names));
    match moved {
        Ok(Some(m)) => {
            tracing::info!(commit = %m.commit, releases = m.releases.len(), "the demo's values repo laid out by environment")
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "the demo's values repo could not be laid out by environment")
        }
    }
}

/// Opens the console on a cluster.
pub async fn run(args: ConsoleArgs) -> Result<()> {
    let (config, theme, keymap) = prepare(&args)?;
    let namespace = if args.all_namespaces {
        None
    } else {
        args.namespace.clone()
    };
    let topics = crate::cli::topics::feed_from_config(&config)?;
    let changes = change_settings(
        &args,
        &config,
        args.driver,
        args.chart_repo.clone(),
        std::time::Duration::from_secs(300),
        None,
    );
    run::run(Options {
        changes,
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace,
        readonly: args.readonly,
        config,
        theme,
        keymap,
        topics,
        screen: args.command,
    })
    .await
}

/// `helmdeck demo`: the sandbox in-process, and the console on it.
/// Topics come from the sandbox's simulation, or from the broker at `kafka`.
pub async fn demo(args: ConsoleArgs, scenario: String, kafka: Option<String>) -> Result<()> {
    let (mut config, theme, keymap) = prepare(&args)?;
    let platform = crate::sandbox::topics::demo_platform();
    // The demo's platform (its links for `o`, its consumers) unless the config names its own.
    if !config.platforms.iter().any(|p| p.name == platform.name) {
        config.platforms.push(platform.clone());
    }
    // dev (the console's), stage, and prod one minor version behind: one kubeconfig.
    let envs = crate::sandbox::environments::DemoEnvironments::start(
        &scenario,
        platform.release.as_deref().unwrap_or_default(),
    )
    .await?;
    if config.environments.is_empty() {
        config.environments = crate::sandbox::environments::demo_environments();
    }
    let sandbox = &envs.dev;
    let paths = crate::tui::app::DemoPaths::new();
    migrate_demo_values(&paths.dir.join("values"), &config);
    let kubeconfig = paths.kubeconfig.clone();
    envs.write_kubeconfig(&kubeconfig)?;
    tracing::info!(url = %sandbox.url(), kubeconfig = %kubeconfig.display(), "demo sandbox started");
    let source: std::sync::Arc<dyn crate::core::topics::TopicSource> = match &kafka {
        Some(servers) => std::sync::Arc::new(crate::core::topics::kafka::KafkaSource::new(
            crate::core::topics::Connection::bootstrap(servers),
            std::time::Duration::from_secs(5),
        )?),
        None => std::sync::Arc::new(crate::sandbox::topics::SimulatedTopics::for_sandbox(
            sandbox.store.clone(),
            &platform,
        )),
    };
    let mut changes = ChangeSettings {
        kubeconfig: Some(kubeconfig.clone()),
        context: None,
        ..change_settings(
            &args,
            &config,
            DriverKind::Sandbox,
            Some(format!("{}/charts", sandbox.url())),
            std::time::Duration::from_secs(60),
            Some(paths.dir.clone()),
        )
    };
    in_environment(&mut changes, &config, args.namespace.as_deref());
    let result = run::run(Options {
        changes,
        kubeconfig: Some(kubeconfig),
        context: None,
        namespace: if args.all_namespaces {
            None
        } else {
            args.namespace.clone()
        },
        readonly: args.readonly,
        config,
        theme,
        keymap,
        topics: Some(run::TopicFeed {
            source,
            platform: Some(platform),
        }),
        screen: args.command,
    })
    .await;
    envs.stop().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::releases::values_repo::{ReleaseRecord, ValuesRepo, ValuesRevision};

    fn demo_config() -> Config {
        Config {
            environments: crate::sandbox::environments::demo_environments(),
            ..Default::default()
        }
    }

    #[test]
    fn an_older_demo_values_repo_moves_under_dev_once_with_its_history() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let repo = ValuesRepo::open_or_init(dir).unwrap();
        let first = repo
            .commit_revision(&ValuesRevision {
                record: ReleaseRecord {
                    release: "ee".into(),
                    namespace: "mr-ee".into(),
                    chart: "mr-ee".into(),
                    version: "1.4.2".into(),
                    ..Default::default()
                },
                values_yaml: "router:\n  replicas: 3\n".into(),
                reason: "upgrade".into(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(repo.unmigrated().unwrap().len(), 1);

        migrate_demo_values(dir, &demo_config());
        assert!(dir.join("dev/mr-ee/ee/release.yaml").exists());
        assert!(!dir.join("mr-ee").exists());
        assert!(repo.unmigrated().unwrap().is_empty());
        let log = repo.log(Some("dev"), "mr-ee", "ee").unwrap();
        assert!(log.iter().any(|c| c.id == first.to_string()), "{log:?}");
        let moved = log.len();

        // The next start finds nothing to move and commits nothing.
        migrate_demo_values(dir, &demo_config());
        assert_eq!(repo.log(Some("dev"), "mr-ee", "ee").unwrap().len(), moved);
    }

    #[test]
    fn no_demo_values_repo_yet_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        migrate_demo_values(tmp.path(), &demo_config());
        assert!(!tmp.path().join(".git").exists());
    }
}
