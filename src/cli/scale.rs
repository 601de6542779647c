//! `helmdeck scale | autoscale | cordon | uncordon | drain`: the console's writes from the
//! command line, with live progress lines. The work is in [`crate::core::cluster::actions`].

use crate::core::cluster::WorkloadKind;
use crate::core::cluster::actions::{self, DrainOptions, DrainProgress, Progress};
use anyhow::bail;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Which cluster to talk to.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// The kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
    /// The config file (its read-only settings; for scale, its platforms name the
    /// consumers of topics).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl ClusterArgs {
    async fn client(&self) -> anyhow::Result<kube::Client> {
        let (client, _context) = crate::core::cluster::watch::client_for(
            self.kubeconfig.as_deref(),
            self.context.as_deref(),
        )
        .await?;
        Ok(client)
    }
}

/// `helmdeck scale KIND/NAME REPLICAS`.
#[derive(clap::Args, Debug)]
pub struct ScaleArgs {
    /// The workload: deploy/NAME or sts/NAME.
    pub workload: String,
    /// The number of replicas wanted.
    pub replicas: i32,
    /// The namespace (default: the context's).
    #[arg(short, long, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    /// Confirm scaling to 0.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to follow the rollout, e.g. 90s, 5m.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Scale a Kafka consumer past the partitions of the topics it reads (the extra
    /// consumers sit idle).
    #[arg(long)]
    pub force: bool,
    /// The broker to read partition counts from, instead of the platform's kafka settings.
    #[arg(long, value_name = "HOST:PORT")]
    pub kafka: Option<String>,
    /// A librdkafka property, as with kcat -X (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// When the config names the workload as a consumer of topics: prints the partitions of
/// the topics it reads, and refuses `replicas` past the fewest of them unless `--force`.
/// Partition counts that cannot be read are said, and do not refuse.
async fn check_partitions(
    args: &ScaleArgs,
    kind: WorkloadKind,
    ns: &str,
    name: &str,
) -> anyhow::Result<()> {
    use crate::core::topics::kafka::KafkaSource;
    use crate::core::topics::plan::{consumer_platform, partition_limit};
    let config = crate::config::Config::load(args.cluster.config.as_deref())?;
    let Some((platform, topics)) = consumer_platform(&config.platforms, ns, kind, name) else {
        return Ok(());
    };
    let topics: Vec<String> = topics.into_iter().map(str::to_string).collect();
    let counts =
        match super::topics::connection(args.kafka.as_deref(), &args.property, Some(platform)) {
            Ok(conn) => {
                let source = KafkaSource::new(conn, Duration::from_secs(10))?;
                tokio::task::spawn_blocking(move || source.partition_counts()).await?
            }
            Err(e) => Err(crate::core::topics::TopicError::Invalid(format!("{e:#}"))),
        };
    let counts = match counts {
        Ok(c) => c,
        Err(e) => {
            tell!(
                "helmdeck scale: partitions of {} unknown: {e}",
                topics.join(", ")
            );
            return Ok(());
        }
    };
    let reads: Vec<(String, Option<i32>)> = topics
        .iter()
        .map(|t| (t.clone(), counts.get(t).copied()))
        .collect();
    let listed: Vec<String> = reads
        .iter()
        .map(|(t, p)| match p {
            Some(p) => format!("{t} ({p} partitions)"),
            None => format!("{t} (missing)"),
        })
        .collect();
    say!("{} {ns}/{name} reads {}", noun(kind), listed.join(", "));
    if let Some(limit) = partition_limit(name, &reads, args.replicas) {
        if !args.force {
            bail!("{limit}");
        }
        tell!(
            "helmdeck scale: --force: {} of {} consumers will sit idle",
            limit.idle(),
            limit.replicas
        );
    }
    Ok(())
}

/// `helmdeck autoscale KIND/NAME --min --max --cpu-percent`.
#[derive(clap::Args, Debug)]
pub struct AutoscaleArgs {
    /// The workload: deploy/NAME or sts/NAME.
    pub workload: String,
    /// The fewest replicas.
    #[arg(long, default_value_t = 1)]
    pub min: i32,
    /// The most replicas.
    #[arg(long)]
    pub max: i32,
    /// The average CPU utilisation (percent of requests) to aim at.
    #[arg(long, default_value_t = 80)]
    pub cpu_percent: i32,
    /// The namespace (default: the context's).
    #[arg(short, long, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `helmdeck cordon|uncordon NODE`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    pub node: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `helmdeck drain NODE`.
#[derive(clap::Args, Debug)]
pub struct DrainArgs {
    pub node: String,
    /// Leave DaemonSet pods on the node instead of refusing to drain.
    #[arg(long)]
    pub ignore_daemonsets: bool,
    /// Evict pods with emptyDir volumes (their data is lost).
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// How long the whole drain may take, e.g. 90s, 5m.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Seconds each pod gets to terminate (default: the pod's own grace period).
    #[arg(long)]
    pub grace_period: Option<i64>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `90`, `90s`, `5m`, `1h`, `1m30s`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let bad = || format!("{s:?} is not a duration (e.g. 90s, 5m, 1h30m)");
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(bad()),
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

fn noun(kind: WorkloadKind) -> String {
    kind.name().to_lowercase()
}

/// Scales a workload (refusing one under an HPA, 0 without --yes, a consumer past its
/// partitions without --force) and prints its progress until it converges or the timeout
/// passes. Exit code 2 when it was refused before anything changed, 1 when the change or
/// its rollout failed.
pub async fn scale(args: ScaleArgs) -> anyhow::Result<u8> {
    let prepared = async {
        let (kind, name) = actions::parse_workload_ref(&args.workload)?;
        let client = args.cluster.client().await?;
        let ns = args
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let plan = actions::scale_plan(&client, kind, &ns, &name).await?;
        plan.check(args.replicas, args.yes)?;
        check_partitions(&args, kind, &ns, &name).await?;
        anyhow::Ok((kind, name, client, ns))
    };
    let (kind, name, client, ns) = or_refuse!(prepared.await);
    let out = actions::scale(&client, kind, &ns, &name, args.replicas).await?;
    if out.changed() {
        say!(
            "{} {ns}/{name} scaled from {} to {}",
            noun(kind),
            out.previous,
            out.replicas
        );
    } else {
        say!(
            "{} {ns}/{name} already has {} replicas",
            noun(kind),
            out.replicas
        );
    }
    let (tx, mut rx) = mpsc::channel::<Progress>(64);
    let print = async {
        while let Some(p) = rx.recv().await {
            say!("  {p}");
        }
    };
    let (done, ()) = tokio::join!(
        actions::watch_rollout(&client, kind, &ns, &name, tx, args.timeout),
        print
    );
    let p = done?;
    say!(
        "{} {ns}/{name} converged: {}/{} ready",
        noun(kind),
        p.ready,
        p.desired
    );
    Ok(0)
}

/// Creates an HPA for a workload.
pub async fn autoscale(args: AutoscaleArgs) -> anyhow::Result<()> {
    let (kind, name) = actions::parse_workload_ref(&args.workload)?;
    let client = args.cluster.client().await?;
    let ns = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let h = actions::autoscale(
        &client,
        kind,
        &ns,
        &name,
        args.min,
        args.max,
        args.cpu_percent,
    )
    .await?;
    say!(
        "horizontalpodautoscaler {ns}/{} created for {} {name} (min {}, max {}, cpu {}%)",
        h.name,
        noun(kind),
        h.min,
        h.max,
        args.cpu_percent
    );
    Ok(())
}

/// Marks a node unschedulable.
pub async fn cordon(args: NodeArgs) -> anyhow::Result<()> {
    let client = args.cluster.client().await?;
    if actions::cordon(&client, &args.node).await? {
        say!("node {} cordoned", args.node);
    } else {
        say!("node {} already cordoned", args.node);
    }
    Ok(())
}

/// Marks a node schedulable again.
pub async fn uncordon(args: NodeArgs) -> anyhow::Result<()> {
    let client = args.cluster.client().await?;
    if actions::uncordon(&client, &args.node).await? {
        say!("node {} uncordoned", args.node);
    } else {
        say!("node {} already schedulable", args.node);
    }
    Ok(())
}

/// Drains a node, printing each step.
pub async fn drain(args: DrainArgs) -> anyhow::Result<()> {
    let client = args.cluster.client().await?;
    let opts = DrainOptions {
        ignore_daemonsets: args.ignore_daemonsets,
        delete_emptydir_data: args.delete_emptydir_data,
        timeout: args.timeout,
        grace_period: args.grace_period,
    };
    let (tx, mut rx) = mpsc::channel::<DrainProgress>(256);
    let print = async {
        while let Some(p) = rx.recv().await {
            say!("{p}");
        }
    };
    let (done, ()) = tokio::join!(actions::drain(&client, &args.node, opts, tx), print);
    let report = done?;
    say!(
        "node {} drained: {} pod(s) evicted, {} DaemonSet pod(s) left",
        report.node,
        report.evicted.len(),
        report.skipped_daemonset.len()
    );
    if !report.failures.is_empty() {
        let list: Vec<String> = report.failures.iter().map(|f| f.to_string()).collect();
        bail!(
            "{} eviction(s) failed: {}",
            report.failures.len(),
            list.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m5").is_err());
    }
}
