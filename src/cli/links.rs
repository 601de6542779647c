//! `helmdeck links RELEASE [--workload W] [--pod P] [--container C] [-o json]`: the links of
//! the release's platform's dashboards (`links:` in the config), filled in. Reads only the
//! config and the kubeconfig (for `{context}`); contacts nothing.

use crate::core::links::{self, Offer, Subject};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `NAME  URL`, one per line.
    #[default]
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct LinksArgs {
    /// The Helm release (a platform's `release` in the config, or a platform's name).
    pub release: String,
    /// A workload of the release, for templates with `{workload}`.
    #[arg(long)]
    pub workload: Option<String>,
    /// A pod, for templates with `{pod}`.
    #[arg(long)]
    pub pod: Option<String>,
    /// A container of the pod, for templates with `{container}`.
    #[arg(long)]
    pub container: Option<String>,
    /// The release's namespace, when platforms in several namespaces name the release.
    #[arg(short, long, value_parser = super::namespace_name)]
    pub namespace: Option<String>,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The kubeconfig whose context fills `{context}` (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The context for `{context}` (default: the kubeconfig's current one).
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    platform: &'a str,
    namespace: &'a str,
    release: &'a str,
    #[serde(flatten)]
    offer: &'a Offer,
}

/// Runs the command: exit 0 with the links, 1 when none can be filled in for what was given.
pub fn run(a: LinksArgs) -> Result<u8> {
    let config = crate::config::Config::load(a.config.as_deref())?;
    let named = |by_release: bool| -> Vec<&crate::config::Platform> {
        config
            .platforms
            .iter()
            .filter(|p| a.namespace.as_ref().is_none_or(|ns| *ns == p.namespace))
            .filter(|p| {
                if by_release {
                    p.release.as_deref() == Some(a.release.as_str())
                } else {
                    p.name == a.release
                }
            })
            .collect()
    };
    let mut found = named(true);
    if found.is_empty() {
        found = named(false);
    }
    let platform = match found.as_slice() {
        [one] => *one,
        [] => bail!(
            "no platform in {} names release {:?}{} (platforms: {})",
            config
                .source
                .as_deref()
                .map_or_else(|| "the config".to_string(), |p| p.display().to_string()),
            a.release,
            a.namespace
                .as_ref()
                .map(|ns| format!(" in namespace {ns}"))
                .unwrap_or_default(),
            platform_list(&config.platforms)
        ),
        several => bail!(
            "release {:?} is named by platforms in several namespaces ({}): give -n NAMESPACE",
            a.release,
            several
                .iter()
                .map(|p| p.namespace.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let release = platform.release.clone().unwrap_or(a.release.clone());
    let subject = Subject {
        namespace: Some(platform.namespace.clone()),
        release: Some(release.clone()),
        workload: a.workload.clone(),
        pod: a.pod.clone(),
        container: a.container.clone(),
        platform: Some(platform.name.clone()),
        context: super::context_in_effect(a.kubeconfig.as_deref(), a.context.as_deref()),
        containers: Vec::new(),
    };
    let templates = platform.links.parse().map_err(anyhow::Error::msg)?;
    let offer = links::offer(&templates, &subject);
    print(a.output, platform, &release, &offer);
    Ok(if offer.links.is_empty() { 1 } else { 0 })
}

fn platform_list(platforms: &[crate::config::Platform]) -> String {
    if platforms.is_empty() {
        return "none".into();
    }
    platforms
        .iter()
        .map(|p| match &p.release {
            Some(r) => format!("{} (release {r} in {})", p.name, p.namespace),
            None => format!("{} (in {})", p.name, p.namespace),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(format: Format, platform: &crate::config::Platform, release: &str, offer: &Offer) {
    match format {
        Format::Json => {
            let report = Report {
                platform: &platform.name,
                namespace: &platform.namespace,
                release,
                offer,
            };
            say!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Format::Text => {
            let width = offer
                .links
                .iter()
                .map(|l| l.name.chars().count())
                .max()
                .unwrap_or(0);
            for l in &offer.links {
                say!("{:<width$}  {}", l.name, l.url);
            }
            if platform.links.is_empty() {
                tell!("platform {} has no `links:` in the config", platform.name);
            }
            for m in &offer.missing {
                tell!(
                    "{}: not filled in: needs {} (give {})",
                    m.name,
                    m.needs
                        .iter()
                        .map(|n| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    m.needs
                        .iter()
                        .map(|n| format!("--{n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
    }
}
