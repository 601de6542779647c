//! `helmdeck status`: the Overview's health roll-up, once, for scripts and quick looks.
//!
//! Exit codes: 0 when nothing is Failing, 1 when something is, 2 when the cluster cannot
//! be reached (or read at all).
//!
//! When a topic source is configured (a platform's kafka settings in the config file, or
//! `--kafka`), the Topics area and its problems are included: STALL/STOP groups, offline
//! topics and topics missing from the platform's plan make the exit code 1.

use crate::config::{Config, Platform};
use crate::core::cluster::rollup::{Rollup, rollup_with_topics};
use crate::core::cluster::watch::{config_for, describe_kube_error, spawn_watches};
use crate::core::cluster::{ClusterState, Resource};
use crate::core::topics::kafka::KafkaSource;
use crate::core::topics::{LagRules, TopicSource, TopicUpdate, TopicsState};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait for every watch's first list.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(15);
/// How long to wait for the API server to answer at all.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub const EXIT_HEALTHY: u8 = 0;
pub const EXIT_FAILING: u8 = 1;
pub const EXIT_UNREACHABLE: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `helmdeck status [-o json|text] [--kubeconfig F] [--context C] [-n NS|-A]`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
    /// Only this namespace's pods, workloads and releases (nodes stay cluster-wide).
    #[arg(short, long, conflicts_with = "all_namespaces", value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    /// Every namespace (the default).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// The broker for topic health (bootstrap.servers), instead of the platform's kafka
    /// settings.
    #[arg(long, value_name = "HOST:PORT")]
    pub kafka: Option<String>,
    /// A librdkafka property, as with kcat -X (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// The platform of the config file whose topics are judged (default: the first with
    /// kafka settings).
    #[arg(long)]
    pub platform: Option<String>,
    /// The config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Lag samples taken for the topic lag status (STALL/STOP need at least 3).
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Seconds between lag samples.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Also unzip and read every older revision of every release, so one that cannot be
    /// decoded is reported (by default each release is judged by its newest readable
    /// revision, which is much faster with many releases).
    #[arg(long)]
    pub all_revisions: bool,
}

/// A topic source and the platform whose topics it judges.
type TopicFeed = (Arc<dyn TopicSource>, Option<Platform>);

/// Where topic health comes from: the connection's source and the platform, or None when
/// no topic source is configured.
fn topic_source(args: &StatusArgs) -> Result<Option<TopicFeed>, String> {
    let config = Config::load(args.config.as_deref()).map_err(|e| format!("{e:#}"))?;
    let platform = match &args.platform {
        Some(n) => Some(
            config
                .platform(n)
                .cloned()
                .ok_or_else(|| format!("no platform named `{n}` in the config file"))?,
        ),
        None => config.platforms.iter().find(|p| p.kafka.is_some()).cloned(),
    };
    let configured = args.kafka.is_some()
        || args
            .property
            .iter()
            .any(|p| p.starts_with("bootstrap.servers="))
        || platform.as_ref().is_some_and(|p| p.kafka.is_some());
    if !configured {
        return Ok(None);
    }
    let conn = super::topics::connection(args.kafka.as_deref(), &args.property, platform.as_ref())
        .map_err(|e| format!("{e:#}"))?;
    let source = KafkaSource::new(conn, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    Ok(Some((Arc::new(source), platform)))
}

/// Samples a topic source `samples` times, `interval` apart, into the state the Topics
/// area is judged from. A failed refresh is kept as the state's error (the area says so).
pub async fn sample_topics(
    source: Arc<dyn TopicSource>,
    platform: Option<Platform>,
    samples: usize,
    interval: Duration,
) -> TopicsState {
    let samples = samples.max(1);
    let rules = LagRules {
        window: samples,
        min_samples: samples.min(3),
    };
    let mut state = TopicsState::new(source.describe(), platform, rules);
    for i in 0..samples {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        let update = match super::topics::blocking(&source, |s| s.snapshot()).await {
            Ok(s) => TopicUpdate::Snapshot(s),
            Err(e) => TopicUpdate::Error(format!("{e:#}")),
        };
        state.apply(update);
    }
    state
}

/// The exit code of a roll-up.
pub fn exit_code(r: &Rollup) -> u8 {
    if r.failing() {
        EXIT_FAILING
    } else {
        EXIT_HEALTHY
    }
}

/// Runs `helmdeck status`; prints the roll-up on stdout and errors on stderr.
pub async fn run(args: StatusArgs) -> ExitCode {
    match status(&args).await {
        Ok((text, code)) => {
            say_inline!("{text}");
            ExitCode::from(code)
        }
        Err(message) => {
            tell!("helmdeck status: {message}");
            ExitCode::from(EXIT_UNREACHABLE)
        }
    }
}

/// The output and exit code, or why the cluster cannot be reached.
async fn status(args: &StatusArgs) -> Result<(String, u8), String> {
    let (config, context) = config_for(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .map_err(|e| format!("{e:#}"))?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| format!("cannot build a client for context {context:?}: {e}"))?;
    let unreachable =
        |why: String| format!("cannot reach the cluster at {server} (context {context}): {why}");
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {}s",
                PROBE_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e)) => {
            let why = describe_kube_error(&e);
            let why = why
                .strip_prefix("cannot reach the API server: ")
                .unwrap_or(&why);
            return Err(unreachable(why.to_string()));
        }
        Ok(Ok(_)) => {}
    }

    // Topic health is sampled while the cluster's watches list.
    let topics = topic_source(args)?.map(|(source, platform)| {
        tokio::spawn(sample_topics(
            source,
            platform,
            args.samples,
            Duration::from_secs_f64(args.interval.max(0.0)),
        ))
    });

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let watches = spawn_watches(client, args.namespace.clone(), tx);
    let mut state = ClusterState::default();
    let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
    while !state.synced() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(update)) => state.apply(update),
            Ok(None) | Err(_) => break,
        }
    }
    while let Ok(update) = rx.try_recv() {
        state.apply(update);
    }
    watches.stop().await;
    if args.all_revisions {
        let far = std::time::Instant::now() + Duration::from_secs(24 * 3600);
        state.decode_backlog(far);
    }

    let watched: Vec<Resource> = Resource::ALL
        .into_iter()
        .filter(|r| *r != Resource::Metrics)
        .collect();
    let missing: Vec<Resource> = watched
        .iter()
        .copied()
        .filter(|r| !state.sources.get(r).is_some_and(|s| s.synced))
        .collect();
    if missing.len() == watched.len() {
        let errors: Vec<String> = missing
            .iter()
            .filter_map(|r| {
                let e = state.sources.get(r)?.error.as_deref()?;
                Some(format!("{}: {e}", r.name()))
            })
            .collect();
        return Err(format!(
            "nothing could be listed from {server} (context {context}) within {}s{}",
            SYNC_TIMEOUT.as_secs(),
            if errors.is_empty() {
                String::new()
            } else {
                format!(": {}", errors.join("; "))
            }
        ));
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|r| r.name()).collect();
        tell!(
            "helmdeck status: not listed within {}s: {}",
            SYNC_TIMEOUT.as_secs(),
            names.join(", ")
        );
    }

    let topics = match topics {
        Some(task) => {
            let mut t = task.await.map_err(|e| format!("topic health: {e}"))?;
            t.replan(&state);
            Some(t)
        }
        None => None,
    };
    let r = rollup_with_topics(&state, topics.as_ref(), jiff::Timestamp::now());
    let code = exit_code(&r);
    let scope = match &args.namespace {
        Some(ns) => format!("namespace {ns}"),
        None => "all namespaces".to_string(),
    };
    let text = match args.output {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        Format::Text => render_text(&r, &context, &scope),
    };
    Ok((text, code))
}

/// The text report: a header, a line per area, then the problems, worst first.
pub fn render_text(r: &Rollup, context: &str, scope: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} · context {context} · {scope}",
        r.level().glyph(),
        r.level().label()
    );
    let name_width = r
        .areas
        .iter()
        .map(|a| a.area.name().len())
        .max()
        .unwrap_or(0);
    let label_width = r
        .areas
        .iter()
        .map(|a| a.level.label().len())
        .max()
        .unwrap_or(0);
    for a in &r.areas {
        let _ = writeln!(
            out,
            "{} {:name_width$}  {:label_width$}  {}",
            a.level.glyph(),
            a.area.name(),
            a.level.label(),
            a.summary
        );
    }
    if r.problems.is_empty() {
        let _ = writeln!(out, "\nNo problems.");
    } else {
        let _ = writeln!(out, "\nProblems ({}):", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(out, "  {} {}", p.level.glyph(), p.message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::rollup::{Area, AreaKind, Level, Problem};

    #[test]
    fn text_report() {
        let r = Rollup {
            areas: vec![
                Area {
                    area: AreaKind::Cluster,
                    level: Level::Failing,
                    summary: "3/4 nodes ready".into(),
                    details: vec![],
                },
                Area {
                    area: AreaKind::Topics,
                    level: Level::Unknown,
                    summary: "not configured".into(),
                    details: vec![],
                },
            ],
            problems: vec![Problem {
                level: Level::Failing,
                area: AreaKind::Cluster,
                message: "node worker-3 NotReady".into(),
                count: 1,
                target: None,
            }],
        };
        assert_eq!(
            render_text(&r, "sandbox", "all namespaces"),
            "✖ Failing · context sandbox · all namespaces\n\
             ✖ Cluster  Failing  3/4 nodes ready\n\
             ? Topics   Unknown  not configured\n\
             \n\
             Problems (1):\n  ✖ node worker-3 NotReady\n"
        );
        let healthy = Rollup {
            areas: vec![],
            problems: vec![],
        };
        assert!(render_text(&healthy, "c", "s").ends_with("\nNo problems.\n"));
    }
}
