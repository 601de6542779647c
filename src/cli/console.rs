//! Starting the console: flags, config file, theme, key map, log file; and the demo, which
//! starts the sandbox in-process and opens the console on it through a kubeconfig, as any
//! cluster would be reached.

use crate::config::Config;
use crate::tui::keymap::KeyMap;
use crate::tui::run::{self, Options};
use crate::tui::theme::Theme;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The console's flags (k9s-like).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConsoleArgs {
    /// The kubeconfig to use (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Show one namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Show every namespace (the default unless the config names a namespace for the context).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Disable every action that writes.
    #[arg(long)]
    pub readonly: bool,
    /// A theme name (dark, light, high-contrast) or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
    /// The config file (default: $XDG_CONFIG_HOME/helmdeck/config.yaml).
    #[arg(long)]
    pub config: Option<PathBuf>,
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
    let theme = if Theme::no_color_requested() {
        Theme::no_color()
    } else {
        match args.theme.as_ref().or(config.theme.as_ref()) {
            Some(name) => {
                let mut dirs: Vec<PathBuf> = Vec::new();
                if let Some(d) = Config::themes_dir() {
                    dirs.push(d);
                }
                dirs.push(PathBuf::from("themes"));
                Theme::load(name, &dirs)?
            }
            None => Theme::default(),
        }
    };
    let keymap = KeyMap::with_overrides(&config.keys)?;
    Ok((config, theme, keymap))
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
    run::run(Options {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace,
        readonly: args.readonly,
        config,
        theme,
        keymap,
        topics,
    })
    .await
}

/// `helmdeck demo`: the sandbox in-process, and the console on it.
/// Topics come from the sandbox's simulation, or from the broker at `kafka`.
pub async fn demo(args: ConsoleArgs, scenario: String, kafka: Option<String>) -> Result<()> {
    let (config, theme, keymap) = prepare(&args)?;
    let sandbox = crate::sandbox::Sandbox::start(crate::sandbox::Options {
        scenario,
        ..Default::default()
    })
    .await?;
    let dir = crate::config::data_dir().unwrap_or_else(|| std::env::temp_dir().join("helmdeck"));
    let kubeconfig = dir.join("demo.kubeconfig");
    crate::sandbox::server::write_kubeconfig(&kubeconfig, &sandbox.url())?;
    tracing::info!(url = %sandbox.url(), kubeconfig = %kubeconfig.display(), "demo sandbox started");
    let platform = crate::sandbox::topics::demo_platform();
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
    let result = run::run(Options {
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
    })
    .await;
    sandbox.stop().await;
    result
}
