//! `helmdeck topics`: topics, consumer groups, lag and status from a Kafka-protocol broker;
//! `topics plan` (what a platform's topics should be) and `topics create --missing`.
//!
//! Exit codes, as `helmdeck status`: 0 healthy, 1 when a group is STALL/STOP or not judged
//! yet (PENDING with lag), or a topic is offline or missing from the plan, 2 when the broker
//! cannot be reached or the config file cannot be used.

use crate::config::{Config, Platform};
use crate::core::topics::kafka::KafkaSource;
use crate::core::topics::plan::{PlanState, TopicPlan, parse_workload};
use crate::core::topics::{
    Connection, LagRules, TopicError, TopicSource, TopicUpdate, TopicsState,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub const EXIT_HEALTHY: u8 = 0;
pub const EXIT_FAILING: u8 = 1;
pub const EXIT_UNREACHABLE: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `helmdeck topics [plan|create] …`.
#[derive(clap::Args, Debug)]
pub struct TopicsArgs {
    #[command(subcommand)]
    pub action: Option<TopicsAction>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Samples taken for the lag status (a window; at least 3 to judge a trend).
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Seconds between samples.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
}

/// Connection and output flags, accepted before or after `plan`/`create`.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text, global = true)]
    pub output: Format,
    /// The broker (bootstrap.servers), instead of the platform's kafka settings.
    #[arg(long, value_name = "HOST:PORT", global = true)]
    pub kafka: Option<String>,
    /// A librdkafka property, as with kcat -X (repeatable): -X security.protocol=SASL_SSL.
    #[arg(short = 'X', value_name = "KEY=VALUE", global = true)]
    pub property: Vec<String>,
    /// The platform of the config file (default: the first with kafka settings).
    #[arg(long, global = true)]
    pub platform: Option<String>,
    /// The config file.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The kubeconfig for live replica counts (plan).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, global = true)]
    pub context: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum TopicsAction {
    /// The platform's topic plan: missing topics, partitions short of 3 per consumer replica.
    Plan,
    /// Create the plan's missing topics (never deletes or changes anything).
    Create(CreateArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Create the topics the plan says are missing (required: nothing else is created).
    #[arg(long, required = true)]
    pub missing: bool,
    /// Also create destinations named like third-party services or delivery types.
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replication factor of new topics (default: 3, or fewer when fewer brokers answer).
    #[arg(long)]
    pub replication_factor: Option<i32>,
}

/// The platform named, else the first with kafka settings, else the first.
fn pick_platform(config: &Config, name: Option<&str>) -> anyhow::Result<Option<Platform>> {
    match name {
        Some(n) => config
            .platform(n)
            .cloned()
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("no platform named `{n}` in the config file")),
        None => Ok(config
            .platforms
            .iter()
            .find(|p| p.kafka.is_some())
            .or(config.platforms.first())
            .cloned()),
    }
}

/// The connection: `--kafka`, else the platform's settings; then the `-X` properties.
pub fn connection(
    kafka: Option<&str>,
    properties: &[String],
    platform: Option<&Platform>,
) -> anyhow::Result<Connection> {
    let mut conn = match (kafka, platform.and_then(|p| p.kafka.as_ref())) {
        (Some(servers), _) => Connection::bootstrap(servers),
        (None, Some(k)) => Connection::from_config(k)?,
        (None, None)
            if properties
                .iter()
                .any(|p| p.starts_with("bootstrap.servers=")) =>
        {
            Connection::default()
        }
        (None, None) => anyhow::bail!(
            "no Kafka connection: give --kafka HOST:PORT (or -X bootstrap.servers=…), or set \
             kafka.properties of a platform in the config file"
        ),
    };
    conn.apply_overrides(properties)
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(conn)
}

/// The console's topic source: the first platform of the config with kafka settings.
pub fn feed_from_config(config: &Config) -> anyhow::Result<Option<crate::tui::run::TopicFeed>> {
    let Some(platform) = config.platforms.iter().find(|p| p.kafka.is_some()) else {
        return Ok(None);
    };
    let conn = connection(None, &[], Some(platform))?;
    let source = KafkaSource::new(conn, Duration::from_secs(10))?;
    Ok(Some(crate::tui::run::TopicFeed {
        source: Arc::new(source),
        platform: Some(platform.clone()),
    }))
}

/// Runs `helmdeck topics …`.
pub async fn run(args: TopicsArgs) -> ExitCode {
    match topics(args).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tell!("helmdeck topics: {e:#}");
            let unreachable = e.downcast_ref::<TopicError>().is_some_and(|e| {
                matches!(e, TopicError::Unreachable { .. } | TopicError::Auth { .. })
            });
            ExitCode::from(if super::is_unusable_setup(&e) {
                super::EXIT_REFUSED
            } else if unreachable {
                EXIT_UNREACHABLE
            } else {
                EXIT_FAILING
            })
        }
    }
}

async fn topics(args: TopicsArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    let config = Config::load(c.config.as_deref())?;
    let platform = pick_platform(&config, c.platform.as_deref())?;
    let conn = connection(c.kafka.as_deref(), &c.property, platform.as_ref())?;
    let source: Arc<dyn TopicSource> = Arc::new(KafkaSource::new(conn, Duration::from_secs(10))?);
    let needs_platform = || {
        platform.clone().ok_or_else(|| {
            anyhow::anyhow!("no platform: the config file names none (see --config, --platform)")
        })
    };
    match &args.action {
        None => {
            let samples = args.samples.max(1);
            let rules = LagRules {
                window: samples,
                min_samples: samples.min(3),
            };
            let mut state = TopicsState::new(source.describe(), platform.clone(), rules);
            for i in 0..samples {
                if i > 0 {
                    tokio::time::sleep(Duration::from_secs_f64(args.interval.max(0.0))).await;
                }
                let s = blocking(&source, |s| s.snapshot()).await?;
                state.apply(TopicUpdate::Snapshot(s));
            }
            if let Some(p) = &platform {
                let replicas = live_replicas(c, p).await;
                state.plan = Some(plan_from(&state, p, &replicas));
            }
            match c.output {
                Format::Json => say!("{}", topics_json(&state)),
                Format::Text => say_inline!("{}", render_topics(&state)),
            }
            // A group not judged yet is not healthy either: say why, and exit 1.
            for g in state.unjudged() {
                tell!(
                    "helmdeck topics: group {} is PENDING: a partition lags and too few of the \
                     {samples} samples had a commit to judge it (--samples 3 or more judge a trend)",
                    g.name,
                );
            }
            Ok(if state.failing() || state.unjudged().next().is_some() {
                EXIT_FAILING
            } else {
                EXIT_HEALTHY
            })
        }
        Some(TopicsAction::Plan) => {
            let p = needs_platform()?;
            let plan = current_plan(&source, c, &p).await?;
            match c.output {
                Format::Json => say!("{}", serde_json::to_string_pretty(&plan)?),
                Format::Text => say_inline!("{}", render_plan(&plan)),
            }
            Ok(if plan.has_problems() {
                EXIT_FAILING
            } else {
                EXIT_HEALTHY
            })
        }
        Some(TopicsAction::Create(create)) => {
            let p = needs_platform()?;
            let snapshot = blocking(&source, |s| s.snapshot()).await?;
            let plan = {
                let mut st = TopicsState::new(String::new(), Some(p.clone()), LagRules::default());
                st.apply(TopicUpdate::Snapshot(snapshot.clone()));
                plan_from(&st, &p, &live_replicas(c, &p).await)
            };
            let rf = create
                .replication_factor
                .unwrap_or_else(|| (snapshot.brokers as i32).clamp(1, 3));
            let mut skipped = Vec::new();
            for t in &plan.topics {
                if let (PlanState::Reserved(r), false) = (&t.state, create.force) {
                    tell!(
                        "skipping {}: `{r}` names a third-party service or delivery type, reserved \
                         for built-in destinations (--force creates it anyway)",
                        t.name
                    );
                    skipped.push(t.name.clone());
                }
                if let PlanState::InvalidName(e) = &t.state {
                    tell!("skipping {}: {e}", t.name);
                    skipped.push(t.name.clone());
                }
            }
            let todo = plan.to_create(create.force, rf);
            if todo.is_empty() {
                // Never "every topic exists" when some were left out.
                if skipped.is_empty() {
                    say!("Nothing to create: every topic of the plan exists.");
                    return Ok(EXIT_HEALTHY);
                }
                say!(
                    "Nothing created; not created (see above): {}",
                    skipped.join(", ")
                );
                return Ok(EXIT_FAILING);
            }
            say!("To create on {}:", source.describe());
            for t in &todo {
                say!(
                    "  {}  ({} partitions, replication factor {})",
                    t.name,
                    t.partitions,
                    t.replication_factor
                );
            }
            if !create.yes && !confirm("Create these topics? [y/N] ")? {
                say!("Nothing created.");
                return Ok(EXIT_FAILING);
            }
            let created = blocking(&source, move |s| s.create_topics(&todo)).await?;
            let mut failed = false;
            for c in &created {
                match &c.result {
                    Ok(()) => say!("✔ created {}", c.name),
                    Err(e) => {
                        failed = true;
                        say!("✖ {}: {e}", c.name)
                    }
                }
            }
            for name in &skipped {
                say!("- not created: {name} (see above)");
            }
            Ok(if failed { EXIT_FAILING } else { EXIT_HEALTHY })
        }
    }
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    say_inline!("{question}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Runs a blocking source call off the async runtime.
pub async fn blocking<T: Send + 'static>(
    source: &Arc<dyn TopicSource>,
    f: impl FnOnce(&dyn TopicSource) -> Result<T, TopicError> + Send + 'static,
) -> anyhow::Result<T> {
    let s = source.clone();
    Ok(tokio::task::spawn_blocking(move || f(s.as_ref())).await??)
}

async fn current_plan(
    source: &Arc<dyn TopicSource>,
    c: &CommonArgs,
    p: &Platform,
) -> anyhow::Result<TopicPlan> {
    let snapshot = blocking(source, |s| s.snapshot()).await?;
    let mut st = TopicsState::new(String::new(), Some(p.clone()), LagRules::default());
    st.apply(TopicUpdate::Snapshot(snapshot));
    Ok(plan_from(&st, p, &live_replicas(c, p).await))
}

fn plan_from(st: &TopicsState, p: &Platform, replicas: &BTreeMap<String, i32>) -> TopicPlan {
    let existing: BTreeMap<String, i32> = st
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions as i32))
        .collect();
    TopicPlan::build(p, |w| replicas.get(w).copied(), &existing)
}

/// The topic plan of the platform whose release is `namespace/release` (a platform of the
/// config with kafka settings), for an upgrade's preflight and backup: `None` when no
/// platform names that release; a problem saying so when the broker cannot be read.
pub async fn topic_check(
    config: &Config,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    namespace: &str,
    release: &str,
) -> Option<crate::core::workflows::upgrade::TopicCheck> {
    use crate::core::workflows::upgrade::TopicCheck;
    let p = config.platforms.iter().find(|p| {
        p.namespace == namespace && p.release.as_deref() == Some(release) && p.kafka.is_some()
    })?;
    let unreadable = |e: String| TopicCheck {
        problems: vec![format!(
            "the topics of platform {} cannot be read: {e}",
            p.name
        )],
        plan: None,
    };
    let source: Arc<dyn TopicSource> = match connection(None, &[], Some(p))
        .and_then(|c| Ok(KafkaSource::new(c, Duration::from_secs(10))?))
    {
        Ok(s) => Arc::new(s),
        Err(e) => return Some(unreadable(format!("{e:#}"))),
    };
    let snapshot = match blocking(&source, |s| s.snapshot()).await {
        Ok(s) => s,
        Err(e) => return Some(unreadable(format!("{e:#}"))),
    };
    let mut st = TopicsState::new(String::new(), Some(p.clone()), LagRules::default());
    st.apply(TopicUpdate::Snapshot(snapshot));
    let common = CommonArgs {
        output: Format::Text,
        kafka: None,
        property: Vec::new(),
        platform: None,
        config: None,
        kubeconfig,
        context,
    };
    let plan = plan_from(&st, p, &live_replicas(&common, p).await);
    st.plan = Some(plan.clone());
    let now = jiff::Timestamp::now().as_millisecond();
    Some(TopicCheck {
        problems: st.area(now).2.into_iter().map(|p| p.message).collect(),
        plan: serde_json::to_value(&plan).ok(),
    })
}

/// Replicas of the platform's consumer workloads, read from the cluster; empty (with a
/// warning) when the cluster cannot be read.
async fn live_replicas(c: &CommonArgs, p: &Platform) -> BTreeMap<String, i32> {
    use crate::core::cluster::WorkloadKind;
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    let mut out = BTreeMap::new();
    if p.consumers.is_empty() {
        return out;
    }
    let client = match tokio::time::timeout(
        Duration::from_secs(5),
        crate::core::cluster::watch::client_for(c.kubeconfig.as_deref(), c.context.as_deref()),
    )
    .await
    {
        Ok(Ok((client, _))) => client,
        Ok(Err(e)) => {
            tell!("helmdeck topics: replica counts unknown (no cluster: {e:#})");
            return out;
        }
        Err(_) => {
            tell!("helmdeck topics: replica counts unknown (the cluster did not answer)");
            return out;
        }
    };
    for consumer in &p.consumers {
        let Some((kind, name)) = parse_workload(&consumer.workload) else {
            continue;
        };
        let get = async {
            match kind {
                WorkloadKind::Deployment => {
                    kube::Api::<Deployment>::namespaced(client.clone(), &p.namespace)
                        .get(name)
                        .await
                        .map(|d| d.spec.and_then(|s| s.replicas).unwrap_or(1))
                }
                WorkloadKind::StatefulSet => {
                    kube::Api::<StatefulSet>::namespaced(client.clone(), &p.namespace)
                        .get(name)
                        .await
                        .map(|d| d.spec.and_then(|s| s.replicas).unwrap_or(1))
                }
                WorkloadKind::DaemonSet => Ok(1),
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), get).await {
            Ok(Ok(r)) => {
                out.insert(consumer.workload.clone(), r);
            }
            Ok(Err(e)) => tell!(
                "helmdeck topics: replicas of {} unknown: {e}",
                consumer.workload
            ),
            Err(_) => tell!(
                "helmdeck topics: replicas of {} unknown (timeout)",
                consumer.workload
            ),
        }
    }
    out
}

/// The JSON of `helmdeck topics -o json`.
pub fn topics_json(st: &TopicsState) -> String {
    let v = serde_json::json!({
        "source": st.source,
        "topics": st.topics,
        "groups": st.groups,
        "plan": st.plan,
        "notes": st.snapshot.as_ref().map(|s| s.notes.clone()).unwrap_or_default(),
        "failing": st.failing(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The text of `helmdeck topics`.
pub fn render_topics(st: &TopicsState) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "source: {}", st.source);
    let w = st
        .topics
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "\n{:w$}  {:>10}  {:>2}  {:>10}  {:>7}  {:>12}  {:>8}  GROUPS",
        "TOPIC", "PARTITIONS", "RF", "UNDER-REPL", "OFFLINE", "LOG-END", "MSG/S"
    );
    for t in &st.topics {
        let rate = t.rate.map_or("–".to_string(), |r| format!("{r:.1}"));
        let _ = writeln!(
            out,
            "{:w$}  {:>10}  {:>2}  {:>10}  {:>7}  {:>12}  {:>8}  {}",
            t.name,
            t.partitions,
            t.replication_factor,
            t.under_replicated,
            t.offline,
            t.log_end,
            rate,
            t.groups.join(",")
        );
    }
    let gw = st
        .groups
        .iter()
        .map(|g| g.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "\n{:gw$}  {:<18}  {:>7}  {:>10}  {:<10}  TOPICS",
        "GROUP", "STATE", "MEMBERS", "LAG", "STATUS"
    );
    for g in &st.groups {
        let lag = if g.uncommitted > 0 {
            format!("{} (+{} no commit)", g.lag, g.uncommitted)
        } else {
            g.lag.to_string()
        };
        let _ = writeln!(
            out,
            "{:gw$}  {:<18}  {:>7}  {:>10}  {} {:<8}  {}",
            g.name,
            g.state,
            g.members,
            lag,
            g.status.glyph(),
            g.status.label(),
            g.topics.join(",")
        );
    }
    if let Some(plan) = &st.plan {
        out.push('\n');
        out.push_str(&render_plan(plan));
    }
    for n in st.snapshot.iter().flat_map(|s| &s.notes) {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// The text of `helmdeck topics plan`.
pub fn render_plan(plan: &TopicPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan of platform {}:", plan.platform);
    let w = plan
        .topics
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    for t in &plan.topics {
        let have = t.partitions.map_or("–".to_string(), |p| p.to_string());
        let (glyph, what) = match &t.state {
            PlanState::Ok => ("✔", "ok".to_string()),
            PlanState::Missing => ("✖", "missing".to_string()),
            PlanState::BelowFloor => (
                "✖",
                format!("below the floor of {} (1 per replica)", t.floor),
            ),
            PlanState::BelowRecommended => {
                ("▲", format!("below {} (3 per replica)", t.recommended))
            }
            PlanState::InvalidName(e) => ("✖", e.clone()),
            PlanState::Reserved(r) => (
                "▲",
                format!("`{r}` is reserved (a third-party service or delivery type); --force"),
            ),
        };
        let _ = writeln!(
            out,
            "  {glyph} {:w$}  partitions {have:>3} / want {:>3}  (consumer replicas {})  {what}",
            t.name, t.recommended, t.replicas
        );
    }
    for i in &plan.idle_consumers {
        let _ = writeln!(
            out,
            "  ▲ {}: {} of {} replicas idle ({} partitions in {})",
            i.workload, i.idle, i.replicas, i.partitions, i.topic
        );
    }
    out
}
