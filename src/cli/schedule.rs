//! `helmdeck backup schedule --every 1h --keep 48 --to URL --image IMAGE [--namespace NS]
//! [--dry-run | --apply]`: a CronJob that runs `helmdeck backup run --all` in the cluster,
//! with its ServiceAccount, a ConfigMap naming the platforms, and the least RBAC it needs
//! ([`crate::core::releases::schedule`]). Prints the manifests (the default, and
//! `--dry-run`), or applies them server-side (`--apply`, refused under read-only).

use crate::core::releases::schedule::{self, Manifest, Schedule};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct ScheduleArgs {
    /// How often: minutes that divide an hour (15m), hours that divide a day (1h, 6h), 1d or 7d.
    #[arg(long, value_name = "PERIOD")]
    pub every: String,
    /// Backups kept per release (the newest).
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// The helmdeck image the job runs (built from the repository's Dockerfile).
    #[arg(long)]
    pub image: String,
    /// Where the CronJob, ServiceAccount and ConfigMap go (default: the context's namespace).
    #[arg(short, long, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    /// Print the manifests (the default when --apply is not given).
    #[arg(long, conflicts_with = "apply")]
    pub dry_run: bool,
    /// Create or update them in the cluster (server-side apply, field manager helmdeck).
    #[arg(long)]
    pub apply: bool,
    /// The kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
}

/// Runs the command: 0 when printed or applied, 2 when refused before anything changed (a
/// period cron cannot keep, no `--to` URL, no platforms), 1 when applying failed.
pub async fn run(a: ScheduleArgs, to: Option<&str>, config: Option<&Path>) -> Result<u8> {
    let plan = match plan(&a, to, config) {
        Ok(p) => p,
        Err(e) => {
            tell!("helmdeck: backup schedule: {e:#}; nothing changed");
            return Ok(super::EXIT_REFUSED);
        }
    };
    let manifests = plan.manifests();
    if !a.apply {
        say!("{}", schedule::to_yaml(&manifests).trim_end());
        return Ok(0);
    }
    apply(&a, &plan, &manifests).await
}

/// What will be made, from the flags and the config; checks everything it can locally.
fn plan(a: &ScheduleArgs, to: Option<&str>, config: Option<&Path>) -> Result<Schedule> {
    let every = schedule::parse_every(&a.every)?;
    let config = crate::config::Config::load(config)?;
    let to = match to {
        Some(t) => t.to_string(),
        None => anyhow::bail!(
            "--to URL is required: where the job keeps backups (s3://bucket/prefix, \
             az://container/prefix, gs://bucket/prefix)"
        ),
    };
    check_url(&to)?;
    if a.image.trim().is_empty() || a.image.contains(char::is_whitespace) {
        anyhow::bail!("--image {:?} is not an image reference", a.image);
    }
    if config.platforms.is_empty() {
        anyhow::bail!(
            "no platforms in {}: the job reads only the platforms' namespaces (a Role in each); \
             name them under `platforms:` (name, namespace, release)",
            config
                .source
                .as_deref()
                .map_or_else(|| "the config".to_string(), |p| p.display().to_string())
        );
    }
    let namespace = match &a.namespace {
        Some(ns) => ns.clone(),
        None => context_namespace(a.kubeconfig.as_deref(), a.context.as_deref())
            .unwrap_or_else(|| "default".to_string()),
    };
    Ok(Schedule {
        every,
        keep: a.keep,
        to,
        image: a.image.clone(),
        namespace,
        platforms: config
            .platforms
            .iter()
            .map(|p| (p.name.clone(), p.namespace.clone(), p.release.clone()))
            .collect(),
    })
}

/// A job's pod has no disk that outlives it: backups must go to object storage.
fn check_url(to: &str) -> Result<()> {
    match to.split_once("://") {
        Some(("file", _)) | None => anyhow::bail!(
            "--to {to:?} is a path: a job's pod loses its files when it ends; give an object \
             store URL (s3://bucket/prefix, az://container/prefix, gs://bucket/prefix)"
        ),
        Some((scheme, rest))
            if !scheme.is_empty()
                && !rest.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+') =>
        {
            Ok(())
        }
        _ => anyhow::bail!("--to {to:?} is not a URL"),
    }
}

/// The namespace of the context in effect, from the kubeconfig files alone.
fn context_namespace(kubeconfig: Option<&Path>, context: Option<&str>) -> Option<String> {
    let name = super::context_in_effect(kubeconfig, context)?;
    let kc = match kubeconfig {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok()?,
        None => kube::config::Kubeconfig::read().ok()?,
    };
    kc.contexts
        .into_iter()
        .find(|c| c.name == name)?
        .context?
        .namespace
}

async fn apply(a: &ScheduleArgs, plan: &Schedule, manifests: &[Manifest]) -> Result<u8> {
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
    let (client, context) =
        crate::core::cluster::watch::client_for(a.kubeconfig.as_deref(), a.context.as_deref())
            .await?;
    // These objects are helmdeck's by name: applied with force, as the one manager of them.
    let params = PatchParams::apply("helmdeck").force();
    for m in manifests {
        let api_version = m.object["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let plural = match m.kind() {
            "ServiceAccount" => "serviceaccounts",
            "ConfigMap" => "configmaps",
            "Role" => "roles",
            "RoleBinding" => "rolebindings",
            "CronJob" => "cronjobs",
            other => anyhow::bail!("no plural known for {other}"),
        };
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, m.kind()),
            plural,
        );
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), m.namespace(), &ar);
        let what = format!("{} {}/{}", m.kind(), m.namespace(), m.name());
        if let Err(e) = api
            .patch(m.name(), &params, &Patch::Apply(&m.object))
            .await
            .with_context(|| format!("applying {what} in context {context}"))
        {
            tell!("helmdeck: {e:#}");
            return Ok(1);
        }
        say!("applied {what}");
    }
    say!(
        "CronJob {}/{} runs every {} ({}): helmdeck {}",
        plan.namespace,
        schedule::NAME,
        plan.every.text,
        plan.every.cron,
        plan.args().join(" ")
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_must_go_to_object_storage() {
        for ok in ["s3://b/p", "az://c/p", "gs://b", "s3+http://minio:9000/b"] {
            check_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "/var/backups",
            "file:///var/backups",
            "backups",
            "://x",
            "s3://",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let err = check_url("/var/backups").unwrap_err().to_string();
        assert!(err.contains("loses its files"), "{err}");
    }
}
