//! `helmdeck promote RELEASE --from stage --to prod`: the chart version and values the
//! source environment has deployed, moved to the target through the guided upgrade
//! (preflight, lock, backup, values commit, apply, verify, rollback). Before it: the source
//! must have soaked (its revision deployed and its workloads ready for the source
//! environment's `soak`, default 30 minutes) unless `--skip-soak REASON`; the target's
//! environment-specific values are kept ([`crate::core::workflows::promote`]); a protected
//! target asks for the release name to be typed.
//!
//! Exit codes as `helmdeck upgrade`: 0 promoted, 1 the change failed, 2 refused before
//! anything changed.

use super::releases::RepoAuthArgs;
use super::upgrade::{ChangeArgs, Gate, context, request, run_gated};
use crate::config::{Config, ConfigError, Environment};
use crate::core::inventory::read::read_release;
use crate::core::workflows::promote::{self, Source};
use crate::core::workflows::upgrade::{Target, ValuesSource};
use anyhow::{Result, anyhow, bail};
use std::io::{BufRead, IsTerminal};

/// `helmdeck promote RELEASE --from ENV --to ENV`.
#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    /// The environment whose deployed revision is promoted (`environments` in the config).
    #[arg(long)]
    pub from: String,
    /// The environment it goes to.
    #[arg(long)]
    pub to: String,
    /// Go ahead although the source's revision has not been deployed and healthy for its
    /// soak time; the reason goes into the commit message.
    #[arg(long, value_name = "REASON")]
    pub skip_soak: Option<String>,
    /// The release name, typed ahead: what a protected target asks for (for scripts).
    #[arg(long, value_name = "RELEASE")]
    pub confirm: Option<String>,
    /// The chart repository URL (default: the one recorded in the values repo).
    #[arg(long)]
    pub repo: Option<String>,
    #[command(flatten)]
    pub auth: RepoAuthArgs,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// The two environments, from the config: named there, and not the same one.
fn environments(config: &Config, a: &PromoteArgs) -> Result<(Environment, Environment)> {
    let invalid = |message: String| ConfigError::Invalid {
        path: config
            .source
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("(no config file)")),
        message,
    };
    let names = || {
        let n: Vec<&str> = config
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        if n.is_empty() {
            "none configured".to_string()
        } else {
            n.join(", ")
        }
    };
    let find = |name: &str| {
        config.environment(name).cloned().ok_or_else(|| {
            invalid(format!(
                "no environment `{name}` (environments: {})",
                names()
            ))
        })
    };
    let (from, to) = (find(&a.from)?, find(&a.to)?);
    if from.name == to.name {
        bail!("--from and --to are both `{}`", from.name);
    }
    if a.change.target.context.is_some() {
        bail!(
            "promote reaches the environments through their contexts in the config; drop --context"
        );
    }
    Ok((from, to))
}

/// The release's namespace in `env`: `-n`, else the environment's, else its platform's.
fn namespace_in(config: &Config, env: &Environment, a: &PromoteArgs) -> Result<String> {
    a.change
        .target
        .namespace
        .clone()
        .or_else(|| env.namespace.clone())
        .or_else(|| {
            config
                .platforms
                .iter()
                .find(|p| p.release.as_deref() == Some(&a.release))
                .map(|p| p.namespace.clone())
        })
        .ok_or_else(|| {
            anyhow!(
                "which namespace is {} in? pass -n NAMESPACE (or name it in the environment or a platform)",
                a.release
            )
        })
}

pub async fn promote_cmd(a: PromoteArgs) -> Result<u8> {
    let config = or_refuse!(Config::load(a.change.config.as_deref()));
    let (from, to) = or_refuse!(environments(&config, &a));
    // The target's own context may be read-only (main's gate saw the flag and the config);
    // a dry run changes nothing and is not refused, as main's gate does not refuse it.
    if !a.change.dry_run
        && let Err(r) = super::refuse_if_readonly(
            "promote",
            &super::ReadonlySources {
                flag: false,
                config: a.change.config.as_deref(),
                kubeconfig: a.change.target.kubeconfig.as_deref(),
                context: Some(&to.context),
            },
        )
    {
        tell!("helmdeck: {r}");
        return Ok(super::EXIT_REFUSED);
    }
    let from_ns = or_refuse!(namespace_in(&config, &from, &a));
    let to_ns = or_refuse!(namespace_in(&config, &to, &a));
    let (source_client, _) = or_refuse!(
        crate::core::cluster::watch::client_for(
            a.change.target.kubeconfig.as_deref(),
            Some(&from.context)
        )
        .await
    );
    let source = or_refuse!(promote::read_source(&source_client, &from_ns, &a.release).await);
    let soak_note = or_refuse!(soak(&source_client, &source, &from, &a).await);

    let mut change = a.change.clone();
    change.target.context = Some(to.context.clone());
    change.target.namespace = Some(to_ns.clone());
    let mut ctx = or_refuse!(context(&change).await);
    // Recorded under the target environment, whatever else names its context.
    ctx.settings.environment = Some(to.name.clone());
    let target = or_refuse!(read_release(&ctx.client, &to_ns, &a.release).await).ok_or_else(|| {
        anyhow!(
            "{} is not installed in {to_ns} in {}: promote upgrades an installed release",
            a.release,
            to.name
        )
    });
    let target = or_refuse!(target);
    let values = or_refuse!(values_for(&ctx, &source, &from, &to, &to_ns, &a.release).await);

    say!(
        "promote {}: {} revision {} ({} {}, app {}) → {} (revision {}, {} {})",
        a.release,
        from.name,
        source.read.revision,
        source.read.chart,
        source.read.chart_version,
        source.read.app_version,
        to.name,
        target.revision,
        target.chart,
        target.chart_version
    );
    say!("soak: {soak_note}");
    say!(
        "{}",
        promote::check_record(&ctx.settings.values_repo, &from.name, &a.release, &source)
    );
    let images = promote::image_changes(&source.read, Some(&target));
    if images.is_empty() {
        say!("images: unchanged");
    } else {
        say!("images that will change:");
        for i in &images {
            say!("    {i}");
        }
    }

    let mut req = request(
        &ctx,
        &change,
        &a.release,
        Target::Version(source.read.chart_version.clone()),
    );
    req.values = ValuesSource::Text(values);
    req.repository = a.repo.as_deref().map(|r| a.auth.options(r));
    req.reason = reason(&a, &from, &source);
    let typed = || typed_release_name(&to.name, &a.release, a.confirm.as_deref());
    let gate: Option<Gate<'_>> = to.protected.then_some(&typed as Gate<'_>);
    run_gated(&ctx, &change, req, gate).await
}

/// The soak check and the source's health now: what was found, or why it refuses (unless
/// `--skip-soak`, whose reason is then said).
async fn soak(
    client: &kube::Client,
    source: &Source,
    from: &Environment,
    a: &PromoteArgs,
) -> Result<String> {
    promote::soak(
        client,
        source,
        &from.name,
        from.soak(),
        jiff::Timestamp::now(),
    )
    .await
    .outcome(a.skip_soak.as_deref())
    .map_err(|problems| {
        anyhow!("preflight: soak: {problems} (--skip-soak REASON goes ahead anyway)")
    })
}

/// The values the target gets, as YAML ([`promote::target_values`]).
async fn values_for(
    ctx: &super::upgrade::Context,
    source: &Source,
    from: &Environment,
    to: &Environment,
    ns: &str,
    release: &str,
) -> Result<String> {
    promote::target_values(
        &ctx.client,
        &ctx.settings.values_repo,
        source,
        (&from.name, &to.name),
        ns,
        release,
    )
    .await
}

/// The commit message's reason ([`promote::reason`]): the source environment and
/// revision, why the soak was skipped, and `--reason`.
fn reason(a: &PromoteArgs, from: &Environment, source: &Source) -> String {
    promote::reason(
        &from.name,
        source,
        a.skip_soak.as_deref(),
        a.change.reason.as_deref(),
    )
}

/// A protected environment's question: the release name typed (`--confirm NAME` ahead, or
/// at the prompt); anything else changes nothing.
pub fn typed_release_name(env: &str, release: &str, ahead: Option<&str>) -> Result<bool> {
    if let Some(typed) = ahead {
        if typed == release {
            return Ok(true);
        }
        bail!("{env} is protected: --confirm {typed:?} is not the release name {release:?}");
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{env} is protected: type the release name to go ahead — not asked: stdin is not a terminal; pass --confirm {release}"
        );
    }
    say_inline!("{env} is protected: type the release name ({release}) to go ahead: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == release)
}
