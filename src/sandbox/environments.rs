//! The demo's three environments: `dev` (the sandbox the console opens on, context
//! `helmdeck-sandbox`), `stage` and `prod`, each a sandbox of its own on its own port, all
//! in one process and one kubeconfig. Stage runs the scenario as it is; prod runs the
//! platform release one minor chart version behind stage, so the inventory has drift to
//! show and a promotion has something to move.

use super::charts::Catalog;
use super::scenario::Scenario;
use super::{Options, Sandbox};
use crate::config::Environment;
use crate::core::release::ReleaseStatus;
use crate::core::releases::repo::parse_version;
use std::path::Path;

/// The context of the sandbox the console opens on (dev).
pub const DEV_CONTEXT: &str = "helmdeck-sandbox";
/// The context of the stage sandbox.
pub const STAGE_CONTEXT: &str = "stage";
/// The context of the prod sandbox.
pub const PROD_CONTEXT: &str = "prod";

/// Moves `release` of the scenario one minor chart version back: its revisions of the
/// deployed `major.minor` (and any later) are dropped, the one before becomes the deployed
/// revision, and its workloads run the images the chart repository lists for that version.
/// `false` when the scenario has no such release or no earlier minor version.
pub fn one_minor_behind(sc: &mut Scenario, release: &str) -> bool {
    let Some(r) = sc.releases.iter_mut().find(|r| r.name == release) else {
        return false;
    };
    let Some(deployed) = r
        .revisions
        .last()
        .and_then(|v| parse_version(&v.version).ok())
    else {
        return false;
    };
    let minor_of = |v: &str| parse_version(v).ok().map(|v| (v.major, v.minor));
    let earlier = r
        .revisions
        .iter()
        .rposition(|v| minor_of(&v.version).is_some_and(|m| m < (deployed.major, deployed.minor)));
    let Some(keep) = earlier else {
        return false;
    };
    r.revisions.truncate(keep + 1);
    let last = r.revisions.last_mut().expect("kept one");
    last.status = ReleaseStatus::Deployed;
    let (chart, version) = (r.chart.clone(), last.version.clone());
    let catalog = Catalog::builtin();
    for w in sc
        .namespaces
        .iter_mut()
        .flat_map(|ns| ns.workloads.iter_mut())
        .filter(|w| w.release.as_deref() == Some(release))
    {
        if let Some(image) = catalog.image_for(&chart, &version, &w.name) {
            w.image = image.to_string();
        }
    }
    true
}

/// The three sandboxes of the demo.
pub struct Environments {
    pub dev: Sandbox,
    pub stage: Sandbox,
    pub prod: Sandbox,
}

impl Environments {
    /// Starts the three sandboxes at once: dev and stage with `scenario` as it is, prod with
    /// `behind` (the platform release) one minor chart version back.
    pub async fn start(scenario: &str, behind: &str) -> anyhow::Result<Environments> {
        let opts = |behind: Vec<String>| Options {
            scenario: scenario.to_string(),
            behind,
            ..Options::default()
        };
        let (dev, stage, prod) = tokio::try_join!(
            Sandbox::start(opts(Vec::new())),
            Sandbox::start(opts(Vec::new())),
            Sandbox::start(opts(vec![behind.to_string()])),
        )?;
        Ok(Environments { dev, stage, prod })
    }

    /// `(context, server URL)` of each, dev first.
    pub fn contexts(&self) -> [(&'static str, String); 3] {
        [
            (DEV_CONTEXT, self.dev.url()),
            (STAGE_CONTEXT, self.stage.url()),
            (PROD_CONTEXT, self.prod.url()),
        ]
    }

    /// Writes a kubeconfig with the three contexts (dev current), readable by the owner only.
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        let contexts = self.contexts();
        let refs: Vec<(&str, &str)> = contexts.iter().map(|(c, u)| (*c, u.as_str())).collect();
        write_kubeconfig(path, &refs, DEV_CONTEXT)
    }

    /// Stops the three.
    pub async fn stop(self) {
        tokio::join!(self.dev.stop(), self.stage.stop(), self.prod.stop());
    }
}

/// The demo's three sandboxes, dev first: the console opens as soon as dev serves, while
/// stage and prod start beside it on ports chosen beforehand, so the kubeconfig names all
/// three at once and `helmdeck demo` starts as fast as with one sandbox. Until they serve,
/// the inventory shows them unreachable.
pub struct DemoEnvironments {
    pub dev: Sandbox,
    stage_url: String,
    prod_url: String,
    rest: tokio::task::JoinHandle<anyhow::Result<(Sandbox, Sandbox)>>,
}

impl DemoEnvironments {
    /// Starts dev and returns once it serves; stage and prod (with `behind` one minor chart
    /// version back) follow in the background.
    pub async fn start(scenario: &str, behind: &str) -> anyhow::Result<DemoEnvironments> {
        let opts = |listen, behind: Vec<String>| Options {
            listen,
            scenario: scenario.to_string(),
            behind,
            ..Options::default()
        };
        let dev = Sandbox::start(opts(Options::default().listen, Vec::new())).await?;
        let (stage_at, prod_at) = (free_port()?, free_port()?);
        let (stage, prod) = (
            opts(stage_at, Vec::new()),
            opts(prod_at, vec![behind.to_string()]),
        );
        let rest =
            tokio::spawn(
                async move { tokio::try_join!(Sandbox::start(stage), Sandbox::start(prod)) },
            );
        Ok(DemoEnvironments {
            dev,
            stage_url: format!("http://{stage_at}"),
            prod_url: format!("http://{prod_at}"),
            rest,
        })
    }

    /// Writes a kubeconfig with the three contexts (dev current), readable by the owner only.
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        let dev = self.dev.url();
        write_kubeconfig(
            path,
            &[
                (DEV_CONTEXT, dev.as_str()),
                (STAGE_CONTEXT, self.stage_url.as_str()),
                (PROD_CONTEXT, self.prod_url.as_str()),
            ],
            DEV_CONTEXT,
        )
    }

    /// Stops the three (stage and prod once started).
    pub async fn stop(self) {
        self.dev.stop().await;
        match self.rest.await {
            Ok(Ok((stage, prod))) => {
                tokio::join!(stage.stop(), prod.stop());
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the demo's stage and prod did not start"),
            Err(e) => tracing::warn!(error = %e, "the demo's stage and prod did not start"),
        }
    }
}

/// A free port on 127.0.0.1, as the kernel picks one (released at once for the sandbox to
/// bind).
fn free_port() -> anyhow::Result<std::net::SocketAddr> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?)
}

/// The demo's `environments:` — dev, stage, and prod (protected).
pub fn demo_environments() -> Vec<Environment> {
    let env = |name: &str, context: &str, protected| Environment {
        name: name.to_string(),
        context: context.to_string(),
        namespace: None,
        protected,
        soak: None,
    };
    vec![
        env("dev", DEV_CONTEXT, false),
        env("stage", STAGE_CONTEXT, false),
        env("prod", PROD_CONTEXT, true),
    ]
}

/// A kubeconfig with one cluster, context and (credential-less) user per `(context, url)`.
pub fn kubeconfig_yaml(contexts: &[(&str, &str)], current: &str) -> String {
    let mut clusters = String::new();
    let mut ctxs = String::new();
    let mut users = String::new();
    for (name, url) in contexts {
        clusters.push_str(&format!("- name: {name}\n  cluster:\n    server: {url}\n"));
        ctxs.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: default\n"
        ));
        users.push_str(&format!("- name: {name}\n  user: {{}}\n"));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}contexts:\n{ctxs}current-context: {current}\nusers:\n{users}preferences: {{}}\n"
    )
}

/// Writes [`kubeconfig_yaml`] to `path` (0600).
pub fn write_kubeconfig(
    path: &Path,
    contexts: &[(&str, &str)],
    current: &str,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, kubeconfig_yaml(contexts, current))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prod_runs_the_platform_one_minor_version_behind() {
        let mut sc = Scenario::load("default").unwrap();
        assert!(one_minor_behind(&mut sc, "ee"));
        let ee = sc.releases.iter().find(|r| r.name == "ee").unwrap();
        let last = ee.revisions.last().unwrap();
        assert_eq!(last.version, "1.3.0");
        assert_eq!(last.status, ReleaseStatus::Deployed);
        let router = sc
            .namespaces
            .iter()
            .flat_map(|n| &n.workloads)
            .find(|w| w.name == "router")
            .unwrap();
        assert_eq!(router.image, "ghcr.io/mr-ee/router:3.3.0");
        assert!(!one_minor_behind(&mut sc, "no-such-release"));
    }

    #[test]
    fn the_kubeconfig_names_every_context() {
        let text = kubeconfig_yaml(
            &[("helmdeck-sandbox", "http://a"), ("prod", "http://b")],
            "helmdeck-sandbox",
        );
        let kc: kube::config::Kubeconfig = serde_yaml::from_str(&text).unwrap();
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["helmdeck-sandbox", "prod"]);
        assert_eq!(kc.current_context.as_deref(), Some("helmdeck-sandbox"));
    }
}
