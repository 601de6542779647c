//! `helmdeck upgrade | rollback | apply | recover`: the guided change of a Helm release
//! from the command line. Prints the plan (jump, changelog, checks, values diff), asks
//! before changing anything (unless --yes), then follows the steps live. The work is in
//! [`crate::core::workflows::upgrade`].

use super::releases::{RepoAuthArgs, Target as ClusterTarget};
use crate::core::releases::history::LineKind;
use crate::core::workflows::driver::{DriverKind, ReleaseDriver};
use crate::core::workflows::upgrade::{
    self, CheckLevel, Ending, Event, Plan, Request, Settings, StepState, Target, ValuesSource,
};
use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// What every change command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ChangeArgs {
    /// Do not ask before changing anything.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long the release's resources may take to become ready (Helm's --timeout).
    #[arg(long, default_value = "5m", value_parser = super::scale::parse_duration)]
    pub timeout: Duration,
    /// Go on despite preflight failures that can be overridden (unhealthy workloads).
    #[arg(long)]
    pub force: bool,
    /// Why (goes into the values repo's commit message).
    #[arg(long)]
    pub reason: Option<String>,
    /// Commit secret-looking values to the values repo in plain text when it has no age
    /// recipients (values_secrets.recipients), instead of refusing; the commit message
    /// records it.
    #[arg(long)]
    pub allow_plaintext_secrets: bool,
    /// The release driver.
    #[arg(long, value_enum, env = "HELMDECK_DRIVER", default_value_t = DriverKind::Helm)]
    pub driver: DriverKind,
    /// The config file (backup_dir, values_repo, values_secrets).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub target: ClusterTarget,
}

/// `helmdeck upgrade RELEASE --to VERSION`.
#[derive(clap::Args, Debug)]
pub struct UpgradeArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    /// The chart version to move to.
    #[arg(long)]
    pub to: String,
    /// A values file (replaces the current values; without it they are kept).
    #[arg(short = 'f', long = "values")]
    pub values: Option<PathBuf>,
    /// Set a value over the values: key.path=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Roll back at once when the upgrade fails or times out.
    #[arg(long)]
    pub auto_rollback: bool,
    /// The chart repository URL (default: the one recorded in the values repo).
    #[arg(long)]
    pub repo: Option<String>,
    /// The chart reference Helm is given instead of --repo (`iomete/iomete-dataplane`).
    #[arg(long)]
    pub chart: Option<String>,
    #[command(flatten)]
    pub auth: RepoAuthArgs,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// `helmdeck rollback RELEASE [--to REV]`.
#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    /// The revision to go back to (default: the one before the deployed revision).
    #[arg(long)]
    pub to: Option<i64>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// `helmdeck apply RELEASE --from-commit SHA`.
#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    /// A values-repo commit: its chart version and values are applied.
    #[arg(long)]
    pub from_commit: String,
    /// Roll back at once when it fails.
    #[arg(long)]
    pub auto_rollback: bool,
    /// The chart repository URL (default: the one recorded in the commit).
    #[arg(long)]
    pub repo: Option<String>,
    #[command(flatten)]
    pub auth: RepoAuthArgs,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// `helmdeck recover RELEASE`.
#[derive(clap::Args, Debug)]
pub struct RecoverArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    /// Roll back to the revision the interrupted change started from (default: verify
    /// the release and close the journal when it is healthy).
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub change: ChangeArgs,
}

pub(crate) struct Context {
    pub(crate) config: crate::config::Config,
    pub(crate) client: kube::Client,
    pub(crate) namespace: String,
    pub(crate) settings: Settings,
    driver: Box<dyn ReleaseDriver>,
}

pub(crate) async fn context(c: &ChangeArgs) -> Result<Context> {
    let (client, namespace) = c.target.client().await?;
    let config = crate::config::Config::load(c.config.as_deref())?;
    let mut settings = Settings::from_config(&config)?;
    settings.secrets.allow_plaintext = c.allow_plaintext_secrets;
    settings.environment = super::environment_in_effect(
        &config,
        c.target.kubeconfig.as_deref(),
        c.target.context.as_deref(),
        &namespace,
    );
    let driver = c.driver.make(
        &client,
        c.target.kubeconfig.clone(),
        c.target.context.clone(),
    );
    Ok(Context {
        config,
        client,
        namespace,
        settings,
        driver,
    })
}

pub(crate) fn request(ctx: &Context, c: &ChangeArgs, release: &str, target: Target) -> Request {
    Request {
        release: release.to_string(),
        namespace: ctx.namespace.clone(),
        target,
        values: ValuesSource::Current,
        sets: Vec::new(),
        repository: None,
        chart_reference: None,
        timeout: c.timeout,
        auto_rollback: false,
        force: c.force,
        reason: c.reason.clone().unwrap_or_default(),
        topics: None,
        settings: ctx.settings.clone(),
    }
}

/// Exit code of a change: 0 succeeded, 1 failed (rolled back or not), 2 stopped before
/// applying anything.
fn exit_code(ending: &Ending) -> u8 {
    match ending {
        Ending::Succeeded => 0,
        Ending::Aborted { .. } => super::EXIT_REFUSED,
        _ => 1,
    }
}

pub async fn upgrade_cmd(a: UpgradeArgs) -> Result<u8> {
    let ctx = or_refuse!(context(&a.change).await);
    let mut req = request(&ctx, &a.change, &a.release, Target::Version(a.to.clone()));
    req.values = a
        .values
        .clone()
        .map_or(ValuesSource::Current, ValuesSource::File);
    req.sets = a.sets.clone();
    req.repository = a.repo.as_deref().map(|r| a.auth.options(r));
    req.chart_reference = a.chart.clone();
    req.auto_rollback = a.auto_rollback;
    run(&ctx, &a.change, req).await
}

pub async fn apply_cmd(a: ApplyArgs) -> Result<u8> {
    let ctx = or_refuse!(context(&a.change).await);
    let mut req = request(
        &ctx,
        &a.change,
        &a.release,
        Target::Commit(a.from_commit.clone()),
    );
    req.repository = a.repo.as_deref().map(|r| a.auth.options(r));
    req.auto_rollback = a.auto_rollback;
    run(&ctx, &a.change, req).await
}

pub async fn rollback_cmd(a: RollbackArgs) -> Result<u8> {
    let ctx = or_refuse!(context(&a.change).await);
    let to = match a.to {
        Some(r) => r,
        None => or_refuse!(previous_revision(&ctx, &a.release).await),
    };
    let req = request(&ctx, &a.change, &a.release, Target::Revision(to));
    run(&ctx, &a.change, req).await
}

/// The revision before the deployed one that was itself deployed (superseded), as
/// `helm rollback` without a revision picks.
async fn previous_revision(ctx: &Context, release: &str) -> Result<i64> {
    let h =
        crate::core::releases::fetch::release_history(&ctx.client, &ctx.namespace, release).await?;
    let current = h.current().map(|r| r.version).unwrap_or(i64::MAX);
    h.revisions
        .iter()
        .rev()
        .filter(|r| r.version < current)
        .find(|r| {
            r.info.status == crate::core::release::ReleaseStatus::Superseded
                || r.info.status == crate::core::release::ReleaseStatus::Deployed
        })
        .map(|r| r.version)
        .ok_or_else(|| {
            anyhow!(
                "{}/{release} has no earlier revision to roll back to",
                ctx.namespace
            )
        })
}

pub async fn recover_cmd(a: RecoverArgs) -> Result<u8> {
    let ctx = or_refuse!(context(&a.change).await);
    let ns = ctx.namespace.clone();
    let Some(r) = upgrade::verify_interrupted(&ctx.client, &ctx.settings, &ns, &a.release).await?
    else {
        say!("{ns}/{}: no unfinished change", a.release);
        return Ok(0);
    };
    let j = &r.journal;
    say!("unfinished: {}", j.summary());
    if let Some(b) = &j.backup {
        say!("  backup: {}", b.display());
    }
    if let Some(c) = &j.commit {
        say!("  values commit: {c}");
    }
    say!("  now: {}", r.now);
    if r.nothing_applied {
        say!("closed: the journal is closed and the values commit noted");
        return Ok(0);
    }
    if r.verified {
        say!(
            "verified: the release is deployed at {}; the journal is closed",
            r.target
        );
        return Ok(0);
    }
    if !a.rollback {
        say!(
            "not verified: the release is not deployed at {}; roll it back with `helmdeck recover {} -n {ns} --rollback`",
            r.target,
            a.release
        );
        return Ok(1);
    }
    if !a.change.yes
        && !or_refuse!(confirm(&format!(
            "roll {ns}/{} back to revision {}?",
            a.release, j.from_revision
        )))
    {
        say!("nothing changed");
        return Ok(super::EXIT_REFUSED);
    }
    let j = upgrade::abandon_interrupted(&ctx.client, &ctx.settings, &ns, &a.release)
        .await?
        .journal;
    let mut change = a.change.clone();
    change.yes = true;
    let req = request(&ctx, &change, &a.release, Target::Revision(j.from_revision));
    run(&ctx, &change, req).await
}

fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} — not asked: stdin is not a terminal; pass --yes to go ahead");
    }
    say_inline!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Prints the plan the way the wizard shows it.
pub fn print_plan(plan: &Plan) {
    say!("{}", plan.headline());
    for c in &plan.changes {
        say!("    - {c}");
    }
    say!("preflight:");
    for c in &plan.checks {
        say!("  {} {:<10} {}", c.level.glyph(), c.name, c.detail);
    }
    if plan.values_diff.is_empty() {
        say!("values: unchanged");
    } else {
        say!("values (secrets shown as ****):");
        for l in &plan.values_diff {
            let sign = match l.kind {
                LineKind::Added => "+",
                LineKind::Removed => "-",
                LineKind::Header => "",
                _ => " ",
            };
            say!("  {sign}{}", l.text);
        }
    }
}

async fn run(ctx: &Context, c: &ChangeArgs, req: Request) -> Result<u8> {
    run_gated(ctx, c, req, None).await
}

/// A question asked instead of "go ahead?", even under `--yes` (a protected environment's
/// typed release name); `Ok(false)` or an error changes nothing.
pub(crate) type Gate<'a> = &'a dyn Fn() -> Result<bool>;

/// [`run`], with `gate` asked before anything changes when given.
pub(crate) async fn run_gated(
    ctx: &Context,
    c: &ChangeArgs,
    mut req: Request,
    gate: Option<Gate<'_>>,
) -> Result<u8> {
    req.topics = super::topics::topic_check(
        &ctx.config,
        c.target.kubeconfig.clone(),
        c.target.context.clone(),
        &req.namespace,
        &req.release,
    )
    .await;
    let plan = or_refuse!(upgrade::prepare(&ctx.client, req).await);
    print_plan(&plan);
    let blockers = plan.blockers();
    if !blockers.is_empty() {
        for b in &blockers {
            tell!("helmdeck: preflight: {}: {}", b.name, b.detail);
        }
        tell!("helmdeck: nothing changed");
        return Ok(super::EXIT_REFUSED);
    }
    if c.dry_run {
        say!("dry run: nothing changed");
        return Ok(0);
    }
    let go = match gate {
        Some(gate) => or_refuse!(gate()),
        None => c.yes || or_refuse!(confirm("go ahead?")),
    };
    if !go {
        say!("nothing changed");
        return Ok(super::EXIT_REFUSED);
    }
    let report = follow(ctx, &plan).await;
    if let Some(rev) = report.offer_rollback_to {
        if !c.yes
            && std::io::stdin().is_terminal()
            && confirm(&format!("roll back to revision {rev}?"))?
        {
            let mut change = c.clone();
            change.yes = true;
            let req = request(ctx, &change, &plan.request.release, Target::Revision(rev));
            let rb = upgrade::prepare(&ctx.client, req).await?;
            print_plan(&rb);
            if !rb.blockers().is_empty() {
                tell!(
                    "helmdeck: the rollback cannot start: {}",
                    rb.blockers()
                        .iter()
                        .map(|b| b.detail.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                return Ok(1);
            }
            follow(ctx, &rb).await;
        } else {
            say!(
                "to roll back: helmdeck rollback {} -n {} --to {rev}",
                plan.request.release,
                plan.request.namespace
            );
        }
    }
    Ok(exit_code(&report.ending))
}

/// Runs the plan, printing its events as they come.
async fn follow(ctx: &Context, plan: &Plan) -> upgrade::Report {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        let mut shown: BTreeMap<String, String> = BTreeMap::new();
        while let Some(ev) = rx.recv().await {
            match ev {
                Event::Step(step, state) => {
                    let (mark, text) = match &state {
                        StepState::Running(t) => ("…", t),
                        StepState::Done(t) => (CheckLevel::Pass.glyph(), t),
                        StepState::Failed(t) => (CheckLevel::Fail.glyph(), t),
                        StepState::Skipped(t) => ("-", t),
                    };
                    say!("{mark} {:<8} {text}", step.as_str());
                }
                Event::Output(line) => say!("  | {line}"),
                Event::Progress(ws) => {
                    for w in ws {
                        let line = format!("{}/{} ready: {}", w.ready, w.desired, w.message);
                        let key = format!("{} {}", w.kind.short(), w.name);
                        if shown.get(&key) != Some(&line) {
                            say!("    {key} {line}");
                            shown.insert(key, line);
                        }
                    }
                }
                Event::Finished(r) => {
                    say!(
                        "{}: {}",
                        if r.ending.succeeded() {
                            "done"
                        } else {
                            "ended"
                        },
                        r.ending
                    );
                    for w in &r.warnings {
                        say!("warning: {w}");
                    }
                }
            }
            let _ = std::io::stdout().flush();
        }
    });
    let report = upgrade::execute(&ctx.client, plan, ctx.driver.as_ref(), tx).await;
    let _ = printer.await;
    report
}
