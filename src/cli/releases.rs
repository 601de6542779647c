//! `helmdeck history | diff | versions | backup`: a release's revisions, the difference
//! between two of them, the chart versions it could move to, and its backups. The work is
//! in [`crate::core::releases`].

use crate::core::release::ReleaseHistory;
use crate::core::releases::backup_store::BackupStore;
use crate::core::releases::repo::{ChartRepo, RepoAuth, RepoOptions, newer_versions};
use crate::core::releases::{backup, history};
use anyhow::{Context, Result, anyhow, bail};
use std::path::PathBuf;

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Which cluster and namespace.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The release's namespace (default: the context's).
    #[arg(short, long, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    /// The kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
}

impl Target {
    pub async fn client(&self) -> Result<(kube::Client, String)> {
        let (client, _) = crate::core::cluster::watch::client_for(
            self.kubeconfig.as_deref(),
            self.context.as_deref(),
        )
        .await?;
        let ns = self
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        Ok((client, ns))
    }
}

async fn load_history(client: &kube::Client, ns: &str, name: &str) -> Result<ReleaseHistory> {
    crate::core::releases::fetch::release_history(client, ns, name).await
}

/// One line on stderr per revision of `ns/name` that could not be decoded: which revision,
/// and what failed. `prefix` says how much it matters (`warning: ` where the command does
/// not need that revision).
fn tell_unreadable(h: &ReleaseHistory, ns: &str, name: &str, prefix: &str) {
    for u in history::unreadable(h) {
        tell!(
            "helmdeck: {prefix}{ns}/{name} {} cannot be decoded: {}",
            u.name(),
            u.error
        );
    }
}

/// `helmdeck history RELEASE`.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The config file (its values_repo: the git history printed after the revisions).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub target: Target,
}

/// `helmdeck history`: exits 0 when every revision was read, 1 when one or more could not
/// be decoded (each named on stderr with what failed; the others are still listed).
pub async fn history_cmd(a: HistoryArgs) -> Result<u8> {
    let (client, ns) = a.target.client().await?;
    let h = load_history(&client, &ns, &a.release).await?;
    let code = if h.errors.is_empty() {
        0
    } else {
        tell_unreadable(&h, &ns, &a.release, "");
        tell!(
            "helmdeck: {} of the {} revisions of {ns}/{} could not be decoded",
            h.errors.len(),
            h.errors.len() + h.revisions.len(),
            a.release
        );
        1
    };
    let rows = history::rows(&h);
    if a.output == Format::Json {
        say!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(code);
    }
    say!(
        "{:<9} {:<24} {:<24} {:<11} {:<17} DESCRIPTION",
        "REVISION",
        "UPDATED",
        "CHART",
        "APP VERSION",
        "STATUS"
    );
    for r in rows {
        let updated = r
            .updated
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        say!(
            "{:<9} {:<24} {:<24} {:<11} {:<17} {}",
            r.revision,
            updated,
            format!("{}-{}", r.chart, r.chart_version),
            r.app_version,
            r.status.as_str(),
            one_line(&r.description)
        );
    }
    // The values repo's side of the story, when there is one (under the environment of
    // the context in effect, when the config names environments).
    let config = crate::config::Config::load(a.config.as_deref()).map_err(anyhow::Error::from);
    let env = config.as_ref().ok().and_then(|c| {
        super::environment_in_effect(
            c,
            a.target.kubeconfig.as_deref(),
            a.target.context.as_deref(),
            &ns,
        )
    });
    let settings = config.and_then(|c| crate::core::workflows::upgrade::Settings::from_config(&c));
    if let Ok(s) = settings
        && s.values_repo.join(".git").exists()
    {
        let repo = crate::core::releases::values_repo::ValuesRepo::open_or_init(&s.values_repo)?;
        let log = repo.log(env.as_deref(), &ns, &a.release)?;
        say!("\nvalues repo {}:", s.values_repo.display());
        if log.is_empty() {
            say!("  no commits for {ns}/{} yet", a.release);
        }
        for c in log {
            say!(
                "  {}  {}  {}",
                &c.id[..12.min(c.id.len())],
                c.summary,
                c.note
                    .as_deref()
                    .and_then(|n| n.lines().next())
                    .unwrap_or("outcome: not recorded")
            );
        }
    }
    Ok(code)
}

/// A text of several lines (Helm 4's errors are) on one table row: its lines joined with
/// ` ⏎ `, nothing dropped.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ⏎ ")
}

/// `helmdeck diff RELEASE REV1 REV2`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    pub from: i64,
    pub to: i64,
    /// Show values that look secret (masked as **** otherwise).
    #[arg(long)]
    pub reveal: bool,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    #[command(flatten)]
    pub target: Target,
}

pub async fn diff_cmd(a: DiffArgs) -> Result<()> {
    let (client, ns) = a.target.client().await?;
    let h = load_history(&client, &ns, &a.release).await?;
    let unreadable = history::unreadable(&h);
    let get = |v: i64| {
        if let Some(r) = h.revision(v) {
            return Ok(r);
        }
        match unreadable.iter().find(|u| u.revision == Some(v)) {
            Some(u) => Err(anyhow!(
                "{ns}/{} {} cannot be decoded: {}",
                a.release,
                u.name(),
                u.error
            )),
            None => Err(anyhow!(
                "{ns}/{} has no revision {v}: {}",
                a.release,
                history::revisions_summary(&h)
            )),
        }
    };
    let (from, to) = (get(a.from)?, get(a.to)?);
    for u in unreadable.iter() {
        tell!(
            "helmdeck: warning: {ns}/{} {} cannot be decoded: {}",
            a.release,
            u.name(),
            u.error
        );
    }
    let d = history::diff(from, to, a.reveal);
    if a.output == Format::Json {
        say!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        say_inline!("{}", d.to_text());
        if d.masked {
            say!("(values that look secret are shown as ****; --reveal shows them)");
        }
    }
    Ok(())
}

/// How to authenticate to a chart repository.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RepoAuthArgs {
    /// Basic-auth user for the repository.
    #[arg(long, env = "HELMDECK_REPO_USERNAME")]
    pub username: Option<String>,
    /// Basic-auth password for the repository.
    #[arg(long, env = "HELMDECK_REPO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Bearer token for the repository.
    #[arg(
        long,
        env = "HELMDECK_REPO_TOKEN",
        hide_env_values = true,
        conflicts_with = "username"
    )]
    pub token: Option<String>,
    /// Extra CA certificates (PEM) to trust for the repository.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

impl RepoAuthArgs {
    /// The repository options for `url` with these credentials.
    pub fn options(&self, url: &str) -> RepoOptions {
        let mut opts = RepoOptions::new(url);
        opts.ca_file = self.ca_file.clone();
        opts.auth = match (&self.token, &self.username) {
            (Some(t), _) => RepoAuth::Bearer(t.clone()),
            (None, Some(u)) => RepoAuth::Basic {
                username: u.clone(),
                password: self.password.clone().unwrap_or_default(),
            },
            (None, None) => RepoAuth::None,
        };
        opts
    }
}

/// `helmdeck versions RELEASE --repo URL`.
#[derive(clap::Args, Debug)]
pub struct VersionsArgs {
    #[arg(value_parser = super::release_name)]
    pub release: String,
    /// The chart repository (its URL or its index.yaml).
    #[arg(long)]
    pub repo: String,
    /// Include pre-releases (1.5.0-rc.1).
    #[arg(long)]
    pub pre: bool,
    #[command(flatten)]
    pub auth: RepoAuthArgs,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    #[command(flatten)]
    pub target: Target,
}

pub async fn versions_cmd(a: VersionsArgs) -> Result<()> {
    let (client, ns) = a.target.client().await?;
    let h = load_history(&client, &ns, &a.release).await?;
    tell_unreadable(&h, &ns, &a.release, "warning: ");
    let current = h.current().ok_or_else(|| {
        anyhow!(
            "{ns}/{}: no current revision: {}",
            a.release,
            history::revisions_summary(&h)
        )
    })?;
    let chart = &current.chart.metadata;
    let fetched = ChartRepo::new(a.auth.options(&a.repo))?
        .fetch_index()
        .await?;
    let entries = fetched.index.chart(&chart.name, &fetched.url)?;
    let offers = newer_versions(entries, &chart.version, a.pre)?;
    if a.output == Format::Json {
        say!("{}", serde_json::to_string_pretty(&offers)?);
        return Ok(());
    }
    say!(
        "{ns}/{}: chart {} {} (revision {}){}",
        a.release,
        chart.name,
        chart.version,
        current.version,
        if fetched.from_cache {
            " — index unchanged (cached)"
        } else {
            ""
        }
    );
    if offers.is_empty() {
        say!(
            "up to date: no newer version{}",
            if a.pre {
                ""
            } else {
                " (--pre includes pre-releases)"
            }
        );
    }
    for o in &offers {
        say!("{}", o.headline());
        for c in &o.changes {
            say!("    - {c}");
        }
    }
    Ok(())
}

/// `helmdeck backup create|run|list|show|restore`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
    /// Where backups are kept: a directory, file:///path, s3://bucket/prefix,
    /// az://container/prefix or gs://bucket/prefix (default: backup_dir in the config, else
    /// ~/.local/share/helmdeck/backups). Credentials come from each cloud's environment.
    #[arg(long, visible_alias = "to", global = true, value_name = "DIR|URL")]
    pub dir: Option<String>,
    /// The config file.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum BackupCommand {
    /// Back up a release: values, Helm release Secrets, the manifests of what it owns.
    Create {
        release: String,
        #[command(flatten)]
        target: Target,
    },
    /// One pass for cron: back up a release (or --all), then keep only the newest --keep of
    /// each. One line per release; exits 1 when any failed.
    Run {
        /// The release (or --all).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        release: Option<String>,
        /// Every Helm release: in --namespace when given, else in the config's platforms'
        /// namespaces, else in every namespace.
        #[arg(long)]
        all: bool,
        /// How many backups of each release to keep (the newest; at least 1).
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
        #[command(flatten)]
        target: Target,
    },
    /// List backups (of a release, of a namespace, or all), newest first.
    List {
        release: Option<String>,
        /// Only this namespace's.
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// What a backup holds, with its checksums verified (the newest unless --file).
    Show {
        release: String,
        /// A backup's file, name or URL (default: the newest).
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Re-create what is missing from a backup (the newest unless --file); never deletes.
    Restore {
        release: String,
        /// A backup's file, name or URL (default: the newest).
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// A CronJob that runs `backup run --all` in the cluster on a schedule, its
    /// ServiceAccount and least RBAC: printed (--dry-run), or applied (--apply).
    Schedule(super::schedule::ScheduleArgs),
}

/// The backup asked for (`--file`) or the newest of the release, read and verified.
async fn pick(
    store: &BackupStore,
    ns: &str,
    release: &str,
    file: Option<PathBuf>,
) -> Result<backup::Backup> {
    match file {
        Some(f) => store.read(&f).await,
        None => store.newest(ns, release).await,
    }
}

/// The releases `backup run --all` covers: (namespace, name), sorted.
async fn releases_to_back_up(
    client: &kube::Client,
    namespace: Option<&str>,
    config: &crate::config::Config,
) -> Result<Vec<(String, String)>> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, ListParams};
    let apis: Vec<Api<Secret>> = match namespace {
        Some(ns) => vec![Api::namespaced(client.clone(), ns)],
        None if !config.platforms.is_empty() => {
            let mut nss: Vec<&str> = config
                .platforms
                .iter()
                .map(|p| p.namespace.as_str())
                .collect();
            nss.sort();
            nss.dedup();
            nss.into_iter()
                .map(|ns| Api::namespaced(client.clone(), ns))
                .collect()
        }
        None => vec![Api::all(client.clone())],
    };
    let lp = ListParams::default().labels("owner=helm");
    let mut out = std::collections::BTreeSet::new();
    for api in apis {
        for s in api
            .list_metadata(&lp)
            .await
            .context("listing Helm release Secrets")?
            .items
        {
            let ns = s.metadata.namespace.clone().unwrap_or_default();
            if let Some(name) = s.metadata.labels.as_ref().and_then(|l| l.get("name")) {
                out.insert((ns, name.clone()));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// `backup run`: each release backed up then pruned; a failure of one does not stop the rest.
async fn backup_run(
    store: &BackupStore,
    config: &crate::config::Config,
    release: Option<String>,
    keep: u32,
    target: Target,
) -> Result<()> {
    let (client, default_ns) = target.client().await?;
    let releases = match release {
        Some(r) => vec![(default_ns, r)],
        None => releases_to_back_up(&client, target.namespace.as_deref(), config).await?,
    };
    if releases.is_empty() {
        say!("no Helm releases found to back up");
        return Ok(());
    }
    let mut failed = 0;
    for (ns, name) in &releases {
        let outcome = async {
            let info = store.create(&client, ns, name, Vec::new()).await?;
            let pruned = store.prune(ns, name, keep as usize).await?;
            anyhow::Ok((info, pruned))
        }
        .await;
        match outcome {
            Ok((info, pruned)) => say!(
                "ok      {ns}/{name}  revision {}  {} files  → {}  (pruned {})",
                info.manifest.revision,
                info.manifest.files.len(),
                info.path.display(),
                pruned.len()
            ),
            Err(e) => {
                failed += 1;
                say!("FAILED  {ns}/{name}  {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} backups failed", releases.len());
    }
    Ok(())
}

pub async fn backup_cmd(a: BackupArgs) -> Result<()> {
    let config = crate::config::Config::load(a.config.as_deref())?;
    let store = BackupStore::from_config(a.dir.as_deref(), &config)?;
    match a.command {
        BackupCommand::Create { release, target } => {
            let (client, ns) = target.client().await?;
            let info = store.create(&client, &ns, &release, Vec::new()).await?;
            say!(
                "backed up {ns}/{release} (revision {}, {} files) to {}",
                info.manifest.revision,
                info.manifest.files.len(),
                info.path.display()
            );
        }
        BackupCommand::Run {
            release,
            all: _,
            keep,
            target,
        } => backup_run(&store, &config, release, keep, target).await?,
        BackupCommand::List { release, namespace } => {
            let list = store.list(namespace.as_deref(), release.as_deref()).await?;
            if list.is_empty() {
                say!("no backups in {}", store.describe());
            }
            for b in list {
                let m = &b.manifest;
                say!(
                    "{}  {}/{}  {}-{} rev {}  {}",
                    m.created.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    m.namespace,
                    m.release,
                    m.chart,
                    m.chart_version,
                    m.revision,
                    b.path.display()
                );
            }
        }
        BackupCommand::Show {
            release,
            file,
            target,
        } => {
            let ns = target.namespace.clone().unwrap_or_else(|| "default".into());
            let b = pick(&store, &ns, &release, file).await?;
            let m = &b.info.manifest;
            say!("{} (checksums verified)", b.info.path.display());
            say!(
                "{}/{}: {}-{} revision {}, taken {} by helmdeck {}",
                m.namespace,
                m.release,
                m.chart,
                m.chart_version,
                m.revision,
                m.created,
                m.helmdeck_version
            );
            for f in &m.files {
                say!("  {:>9}  {}  {}", f.bytes, &f.sha256[..12], f.path);
            }
        }
        BackupCommand::Restore {
            release,
            file,
            target,
        } => {
            let (client, ns) = target.client().await?;
            let b = pick(&store, &ns, &release, file).await?;
            if b.info.manifest.namespace != ns || b.info.manifest.release != release {
                bail!(
                    "{} is a backup of {}/{}, not {ns}/{release}",
                    b.info.path.display(),
                    b.info.manifest.namespace,
                    b.info.manifest.release
                );
            }
            let report = backup::restore(&client, &b).await?;
            for c in &report.created {
                say!("re-created {c}");
            }
            say!(
                "restored {ns}/{release} from {}: {} re-created, {} already present (left as they are)",
                b.info.path.display(),
                report.created.len(),
                report.present.len()
            );
        }
        // `main` runs it before this (for its exit code); here for any other caller.
        BackupCommand::Schedule(s) => {
            let code = super::schedule::run(s, a.dir.as_deref(), a.config.as_deref()).await?;
            if code != 0 {
                bail!("backup schedule did not complete (exit code {code})");
            }
        }
    }
    Ok(())
}
