//! Reading the inventory from the environments: each environment's clusters concurrently,
//! each within a timeout, and the chart repository's index beside them.

use super::{
    EnvName, EnvRead, Inventory, ReleaseRead, ReleaseRef, RunningImage, WorkloadRead, assemble,
    image_digest, image_tag,
};
use crate::core::release::{self, RELEASE_SECRET_TYPE};
use crate::core::releases::repo::{
    ChartRepo, FetchedIndex, RepoOptions, cmp_precedence, parse_version,
};
use crate::core::workflows::simulated::{manifest_workloads, workload_api};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::time::Duration;

/// An environment to read: its name and a client for its context, or why there is none.
pub struct EnvTarget {
    pub env: EnvName,
    pub client: Result<kube::Client, String>,
}

/// The inventory `config` describes: its platform releases in its environments, the
/// newest chart version asked of `repo`, else of the repository each release's last change
/// recorded in the values repo.
pub async fn from_config(
    config: &crate::config::Config,
    kubeconfig: Option<&std::path::Path>,
    repo: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Inventory> {
    use crate::core::workflows::upgrade::{Settings, repository_for};
    let refs = super::platform_releases(config)?;
    let targets = super::targets(config, kubeconfig).await?;
    let settings = Settings::from_config(config).ok();
    let mut repos = Vec::new();
    for r in &refs {
        let configured = repo.map(RepoOptions::new);
        repos.push(match &settings {
            Some(s) => repository_for(s, &r.namespace, &r.release, configured)
                .await
                .ok(),
            None => configured,
        });
    }
    Ok(collect(targets, &refs, repos, timeout).await)
}

/// Reads every environment at once (each within `timeout`) and, beside them, the chart
/// repository of each release (`repos[j]` for `refs[j]`, `None` when unknown), and
/// assembles the inventory.
pub async fn collect(
    targets: Vec<EnvTarget>,
    refs: &[ReleaseRef],
    repos: Vec<Option<RepoOptions>>,
    timeout: Duration,
) -> Inventory {
    let envs: Vec<EnvName> = targets.iter().map(|t| t.env.clone()).collect();
    let reads = futures::future::join_all(
        targets
            .into_iter()
            .map(|t| read_within(t, refs.to_vec(), timeout)),
    );
    let indexes = futures::future::join_all(repos.into_iter().map(|r| fetch_within(r, timeout)));
    let (reads, indexes) = tokio::join!(reads, indexes);
    let mut inventory = assemble(&envs, refs, &reads, &[]);
    for (row, index) in inventory.releases.iter_mut().zip(&indexes) {
        let (newest, error) = newest_of(index.as_ref(), row.chart.as_deref());
        row.newest = newest;
        row.newest_error = error;
    }
    inventory
}

/// One environment, or unreachable when it gives no answer within `timeout`.
async fn read_within(t: EnvTarget, refs: Vec<ReleaseRef>, timeout: Duration) -> EnvRead {
    let client = match t.client {
        Err(why) => return EnvRead::Unreachable(why),
        Ok(c) => c,
    };
    match tokio::time::timeout(timeout, read_env(client, &t.env, &refs)).await {
        Ok(read) => read,
        Err(_) => EnvRead::Unreachable(format!("no answer within {}s", timeout.as_secs_f64())),
    }
}

/// A chart repository's index, or why there is none, within `timeout`.
async fn fetch_within(
    repo: Option<RepoOptions>,
    timeout: Duration,
) -> Option<Result<FetchedIndex, String>> {
    let opts = repo?;
    let fetch = async { ChartRepo::new(opts)?.fetch_index().await };
    Some(match tokio::time::timeout(timeout, fetch).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "the chart repository gave no answer within {}s",
            timeout.as_secs_f64()
        )),
    })
}

/// The newest non-pre-release version of `chart` in the index, or why it is unknown.
fn newest_of(
    index: Option<&Result<FetchedIndex, String>>,
    chart: Option<&str>,
) -> (Option<String>, Option<String>) {
    let (Some(index), Some(chart)) = (index, chart) else {
        return (None, None);
    };
    let fetched = match index {
        Ok(f) => f,
        Err(e) => return (None, Some(e.clone())),
    };
    match fetched.index.chart(chart, &fetched.url) {
        Ok(entries) => (
            entries
                .iter()
                .filter_map(|e| parse_version(&e.version).ok().map(|v| (v, &e.version)))
                .filter(|(v, _)| v.pre.is_empty())
                .max_by(|a, b| cmp_precedence(&a.0, &b.0))
                .map(|(_, s)| s.clone()),
            None,
        ),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// One environment: reachable at all (the server's version), then each release.
pub async fn read_env(client: kube::Client, env: &EnvName, refs: &[ReleaseRef]) -> EnvRead {
    if let Err(e) = client.apiserver_version().await {
        return EnvRead::Unreachable(crate::core::cluster::watch::error_chain(&e));
    }
    let reads = futures::future::join_all(refs.iter().map(|r| {
        let ns = env.namespace.clone().unwrap_or_else(|| r.namespace.clone());
        let client = client.clone();
        async move {
            read_release(&client, &ns, &r.release)
                .await
                .map_err(|e| format!("{e:#}"))
        }
    }))
    .await;
    EnvRead::Read(reads)
}

/// A release's current revision and its workloads, or `None` when it is not installed.
pub async fn read_release(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<Option<ReleaseRead>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("owner=helm,name={name}"));
    let mut secrets = api.list(&lp).await?.items;
    secrets.retain(|s| s.type_.as_deref() == Some(RELEASE_SECRET_TYPE));
    let Some(history) = release::history(&secrets)
        .into_iter()
        .find(|h| h.name == name)
    else {
        return Ok(None);
    };
    let Some(current) = history.current() else {
        return Ok(None);
    };
    let mut workloads = Vec::new();
    for w in manifest_workloads(&current.manifest) {
        workloads.push(read_workload(client, ns, &w).await);
    }
    let meta = &current.chart.metadata;
    Ok(Some(ReleaseRead {
        namespace: ns.to_string(),
        revision: current.version,
        chart: meta.name.clone(),
        chart_version: meta.version.clone(),
        app_version: meta.app_version.clone(),
        status: current.info.status.as_str().to_string(),
        deployed_at: current.info.last_deployed.map(|t| t.to_string()),
        workloads,
    }))
}

/// The live workload's template images and what its pods run.
async fn read_workload(
    client: &kube::Client,
    ns: &str,
    w: &crate::core::workflows::simulated::ManifestWorkload,
) -> WorkloadRead {
    let mut out = WorkloadRead {
        kind: w.kind.name().to_string(),
        name: w.name.clone(),
        template: w.images.iter().map(|(_, i)| i.clone()).collect(),
        ..Default::default()
    };
    let live = match workload_api(client, ns, w.kind).get_opt(&w.name).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            out.error = Some(format!("{} {} not found", w.kind.short(), w.name));
            return out;
        }
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let spec = &live.data["spec"];
    out.template = container_images(&spec["template"]["spec"]);
    let Some(selector) = match_labels(&spec["selector"]) else {
        return out;
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    match pods.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => out.running = running_images(&list.items),
        Err(e) => out.error = Some(format!("listing its pods: {e}")),
    }
    out
}

fn container_images(pod_spec: &Value) -> Vec<String> {
    pod_spec["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["image"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `a=1,b=2` from a selector's `matchLabels`; `None` when it has none.
fn match_labels(selector: &Value) -> Option<String> {
    let labels = selector["matchLabels"].as_object()?;
    (!labels.is_empty()).then(|| {
        labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The images the pods run, counted: from each container's status (image, imageID), or
/// from the pod's spec while a container has no status yet. Deleted pods are left out.
pub fn running_images(pods: &[Pod]) -> Vec<RunningImage> {
    let mut seen: std::collections::BTreeMap<(String, String, Option<String>), usize> =
        Default::default();
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        let containers = pod
            .spec
            .as_ref()
            .map(|s| s.containers.clone())
            .unwrap_or_default();
        for c in &containers {
            let status = statuses.iter().find(|s| s.name == c.name);
            let image = status
                .map(|s| s.image.clone())
                .filter(|i| !i.is_empty())
                .or_else(|| c.image.clone())
                .unwrap_or_default();
            let digest = status.and_then(|s| image_digest(&s.image_id));
            *seen.entry((c.name.clone(), image, digest)).or_default() += 1;
        }
    }
    seen.into_iter()
        .map(|((container, image, digest), pods)| RunningImage {
            tag: image_tag(&image),
            container,
            image,
            digest,
            pods,
        })
        .collect()
}
