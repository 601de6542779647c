//! `helmdeck bluegreen start | switch | back | finish | status DEPLOYMENT`: the blue/green
//! cutover of one Deployment from the command line, with progress lines. The work is in
//! [`crate::core::workflows::bluegreen`].

use crate::core::cluster::WorkloadKind;
use crate::core::cluster::actions;
use crate::core::workflows::bluegreen::{self, NewImage, Outcome, Settings, Target};
use anyhow::Result;
use std::time::Duration;

/// `helmdeck bluegreen ACTION`.
#[derive(clap::Args, Debug)]
pub struct BlueGreenArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Create the green copy beside blue with a new image, wait until it is ready and
    /// verify it; the Service stays on blue.
    Start(StartArgs),
    /// Repoint the Service to green at once.
    Switch(StepArgs),
    /// Repoint the Service to blue at once (while blue is still scaled).
    Back(StepArgs),
    /// Green active: scale blue to 0 once the hold is over. Blue active: remove green.
    Finish(FinishArgs),
    /// Which slot is active, both copies' readiness, the endpoints, the hold left, and an
    /// interrupted step with what to run.
    Status(StepArgs),
}

/// What every bluegreen action takes.
#[derive(clap::Args, Debug, Clone)]
pub struct StepArgs {
    /// The Deployment (blue): deploy/NAME.
    pub workload: String,
    /// The namespace (default: the context's).
    #[arg(short, long, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    /// The Service to repoint, when several select the Deployment's pods.
    #[arg(long)]
    pub service: Option<String>,
    #[command(flatten)]
    pub cluster: super::scale::ClusterArgs,
}

/// `helmdeck bluegreen start`.
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// Green's image: a tag for the container's image (3.5.0) or a whole reference.
    #[arg(long, required_unless_present = "to", conflicts_with = "to")]
    pub image: Option<String>,
    /// Green runs the image a chart version names for this workload (from the chart
    /// repository's index; charts are not rendered).
    #[arg(long, value_name = "CHART-VERSION")]
    pub to: Option<String>,
    /// The chart repository for --to (default: the one recorded in the values repo).
    #[arg(long)]
    pub repo: Option<String>,
    /// The container whose image --image sets (default: the one named like the Deployment,
    /// or the only one).
    #[arg(long)]
    pub container: Option<String>,
    /// How long green may take to become ready, e.g. 90s, 5m.
    #[arg(long, default_value = "5m", value_parser = super::scale::parse_duration)]
    pub timeout: Duration,
}

/// `helmdeck bluegreen finish`.
#[derive(clap::Args, Debug)]
pub struct FinishArgs {
    #[command(flatten)]
    pub step: StepArgs,
    /// Do not wait for the hold to end.
    #[arg(long)]
    pub now: bool,
}

impl BlueGreenArgs {
    /// What the action changes, for the read-only gate (`None`: `status` only reads).
    pub fn writes(&self) -> Option<&'static str> {
        match &self.action {
            Action::Start(_) => Some("bluegreen start"),
            Action::Switch(_) => Some("bluegreen switch"),
            Action::Back(_) => Some("bluegreen back"),
            Action::Finish(_) => Some("bluegreen finish"),
            Action::Status(_) => None,
        }
    }

    /// The flags naming the config and the cluster.
    pub fn step_mut(&mut self) -> &mut StepArgs {
        match &mut self.action {
            Action::Start(a) => &mut a.step,
            Action::Finish(a) => &mut a.step,
            Action::Switch(a) | Action::Back(a) | Action::Status(a) => a,
        }
    }
}

struct Context {
    client: kube::Client,
    target: Target,
    settings: Settings,
    config: crate::config::Config,
}

async fn context(a: &StepArgs) -> Result<Context> {
    let (kind, name) = actions::parse_workload_ref(&a.workload)?;
    if kind != WorkloadKind::Deployment {
        return Err(bluegreen::Refused(format!(
            "{}: blue/green cuts over Deployments only (deploy/NAME)",
            a.workload
        ))
        .into());
    }
    let config = crate::config::Config::load(a.cluster.config.as_deref())?;
    let (client, _) = crate::core::cluster::watch::client_for(
        a.cluster.kubeconfig.as_deref(),
        a.cluster.context.as_deref(),
    )
    .await?;
    let namespace = a
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let data = crate::config::data_dir()
        .ok_or_else(|| anyhow::anyhow!("no data directory for the journal: set HOME"))?;
    let values_repo = config
        .values_repo
        .clone()
        .unwrap_or_else(|| data.join("values"));
    let environment = super::environment_in_effect(
        &config,
        a.cluster.kubeconfig.as_deref(),
        a.cluster.context.as_deref(),
        &namespace,
    );
    Ok(Context {
        client,
        target: Target {
            namespace,
            workload: name,
            service: a.service.clone(),
        },
        settings: Settings {
            journal_dir: data.join("journal"),
            values_repo,
            hold: config.bluegreen.hold(),
            environment,
        },
        config,
    })
}

/// Runs the action; the exit code: 0 done, 1 failed (recorded), 2 refused before anything
/// changed.
pub async fn run(a: BlueGreenArgs) -> Result<u8> {
    let result = match a.action {
        Action::Start(s) => start(s).await,
        Action::Switch(s) => step(s, "switch").await,
        Action::Back(s) => step(s, "back").await,
        Action::Finish(f) => finish(f).await,
        Action::Status(s) => status(s).await,
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) if bluegreen::is_refusal(&e) || super::is_unusable_setup(&e) => {
            Ok(super::refused(e))
        }
        Err(e) => Err(e),
    }
}

fn say_line(line: String) {
    say!("{line}");
}

fn ended(o: &Outcome) -> u8 {
    if o.succeeded {
        say!("{}", o.summary);
        0
    } else {
        tell!("helmdeck: {}", o.summary);
        1
    }
}

async fn start(s: StartArgs) -> Result<u8> {
    let ctx = context(&s.step).await?;
    let wanted = match (&s.image, &s.to) {
        (Some(image), _) => NewImage::Image {
            image: image.clone(),
            container: s.container.clone(),
        },
        (None, Some(version)) => {
            let settings = crate::core::workflows::upgrade::Settings::from_config(&ctx.config)?;
            let repo = s
                .repo
                .as_deref()
                .map(crate::core::releases::repo::RepoOptions::new);
            let images =
                bluegreen::chart_version_images(&ctx.client, &settings, &ctx.target, version, repo)
                    .await?;
            NewImage::Images(images)
        }
        (None, None) => unreachable!("clap requires --image or --to"),
    };
    let o = bluegreen::start(
        &ctx.client,
        &ctx.settings,
        &ctx.target,
        &wanted,
        s.timeout,
        &say_line,
    )
    .await?;
    let code = ended(&o);
    if o.succeeded {
        say!(
            "next: `helmdeck bluegreen switch deploy/{} -n {}`",
            ctx.target.workload,
            ctx.target.namespace
        );
    }
    Ok(code)
}

async fn step(s: StepArgs, what: &str) -> Result<u8> {
    let ctx = context(&s).await?;
    let (client, settings, t) = (&ctx.client, &ctx.settings, &ctx.target);
    let o = if what == "switch" {
        bluegreen::switch(client, settings, t, &say_line).await?
    } else {
        bluegreen::back(client, settings, t, &say_line).await?
    };
    if let Some(took) = o.took {
        say!(
            "endpoints followed in {} ms: {}",
            took.as_millis(),
            bluegreen::describe_endpoints(&o.endpoints)
        );
    }
    Ok(ended(&o))
}

async fn finish(f: FinishArgs) -> Result<u8> {
    let ctx = context(&f.step).await?;
    let o = bluegreen::finish(&ctx.client, &ctx.settings, &ctx.target, f.now, &say_line).await?;
    Ok(ended(&o))
}

async fn status(s: StepArgs) -> Result<u8> {
    let ctx = context(&s).await?;
    let st = bluegreen::status(&ctx.client, &ctx.settings, &ctx.target).await?;
    let t = &ctx.target;
    let ready = |r: Option<(i32, i32)>| match r {
        Some((ready, want)) => format!("{ready}/{want} ready"),
        None => "absent".to_string(),
    };
    match &st.cutover {
        None => say!(
            "deploy/{} -n {}: no blue/green cutover in progress",
            t.workload,
            t.namespace
        ),
        Some(c) => {
            say!(
                "deploy/{} -n {}: {} is active (Service {} selects {})",
                t.workload,
                t.namespace,
                c.active,
                c.service,
                bluegreen::selector_text(&c.selector_for(c.active))
            );
            let images = |m: &std::collections::BTreeMap<String, String>| {
                m.values().cloned().collect::<Vec<_>>().join(", ")
            };
            say!(
                "  blue   deploy/{:<24} {:<10} {}",
                c.workload,
                ready(st.blue),
                images(&c.blue_images)
            );
            say!(
                "  green  deploy/{:<24} {:<10} {}",
                c.green,
                ready(st.green),
                images(&c.green_images)
            );
            match &c.verified {
                Some(Ok(v)) => say!("  green verified: {v}"),
                Some(Err(why)) => say!("  green FAILED verification: {why}"),
                None => say!("  green not verified yet"),
            }
            match st.hold_left {
                Some(d) if d.is_zero() => say!("  hold: over; `finish` scales blue down"),
                Some(d) => say!(
                    "  hold: {} left (`back` returns to blue at once)",
                    bluegreen::human(d)
                ),
                None => {}
            }
        }
    }
    say!(
        "  endpoints: {}",
        bluegreen::describe_endpoints(&st.endpoints)
    );
    if let Some((j, todo)) = &st.interrupted {
        say!("interrupted: {}", j.summary());
        say!("  {todo}");
        return Ok(1);
    }
    Ok(0)
}
