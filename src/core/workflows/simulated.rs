//! The sandbox's release driver: does to the cluster what Helm does, over the Kubernetes
//! API, for charts that exist only as the sandbox repository's records (a version and the
//! images it runs). Used by the demo and the tests; on a real cluster use
//! [`super::helm::HelmCli`].
//!
//! An upgrade writes the next revision's release Secret in Helm's format as
//! `pending-upgrade`, renders the manifest (the current revision's workloads with the
//! chart version's images), patches the live workloads' images, waits for them as
//! `helm --wait` does, then marks the revision `deployed` and the one before `superseded`
//! — or, when the wait times out, marks it `failed` with Helm's message and leaves the
//! previous revision deployed. A rollback writes a new revision copying the target's
//! chart, values and manifest (`Rollback to N`) and applies that manifest the same way.

use super::driver::{
    DriverError, DriverFuture, ReleaseDriver, RollbackRequest, Stop, UpgradeRequest,
};
use crate::core::cluster::actions;
use crate::core::cluster::model::WorkloadKind;
use crate::core::release::{self, Release, ReleaseStatus};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How often a revision's status write is retried after a server error.
const STATUS_RETRIES: u32 = 5;

/// The sandbox's driver.
pub struct SimulatedHelm {
    client: kube::Client,
}

impl SimulatedHelm {
    pub fn new(client: kube::Client) -> SimulatedHelm {
        SimulatedHelm { client }
    }
}

fn other(e: impl std::fmt::Display) -> DriverError {
    DriverError::Other(e.to_string())
}

/// The API of a workload kind, untyped (the same calls serve the three kinds).
pub fn workload_api(
    client: &kube::Client,
    namespace: &str,
    kind: WorkloadKind,
) -> Api<kube::api::DynamicObject> {
    let plural = match kind {
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
    };
    let ar = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("apps", "v1", kind.name()),
        plural,
    );
    Api::namespaced_with(client.clone(), namespace, &ar)
}

/// A workload a manifest holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestWorkload {
    pub kind: WorkloadKind,
    pub name: String,
    /// (container, image).
    pub images: Vec<(String, String)>,
}

/// The Deployments, StatefulSets and DaemonSets of a rendered manifest, with their images.
pub fn manifest_workloads(manifest: &str) -> Vec<ManifestWorkload> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(manifest) {
        let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) else {
            continue;
        };
        let kind = match v["kind"].as_str() {
            Some("Deployment") => WorkloadKind::Deployment,
            Some("StatefulSet") => WorkloadKind::StatefulSet,
            Some("DaemonSet") => WorkloadKind::DaemonSet,
            _ => continue,
        };
        let Some(name) = v["metadata"]["name"].as_str() else {
            continue;
        };
        let images = v["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| {
                        Some((c["name"].as_str()?.to_string(), c["image"].as_str()?.into()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(ManifestWorkload {
            kind,
            name: name.to_string(),
            images,
        });
    }
    out
}

/// The image `workload` runs according to `images` (keyed by workload name, or by the
/// name's prefix before a `-`: `forwarder` for `forwarder-pinterest`).
pub fn image_for<'a>(images: &'a BTreeMap<String, String>, workload: &str) -> Option<&'a str> {
    images
        .get(workload)
        .or_else(|| {
            images
                .iter()
                .filter(|(k, _)| {
                    workload
                        .strip_prefix(k.as_str())
                        .is_some_and(|r| r.starts_with('-'))
                })
                .max_by_key(|(k, _)| k.len())
                .map(|(_, v)| v)
        })
        .map(String::as_str)
}

/// `manifest` with each workload's containers running the chart version's images.
pub fn render(manifest: &str, images: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for doc in manifest.split("\n---").map(|d| d.trim_start_matches("---")) {
        if doc.trim().is_empty() {
            continue;
        }
        let (comments, body): (Vec<&str>, Vec<&str>) =
            doc.lines().partition(|l| l.trim_start().starts_with('#'));
        let body = body.join("\n");
        let mut v: Value = match serde_yaml::from_str(&body) {
            Ok(v) => v,
            Err(_) => {
                out.push_str("---");
                out.push_str(doc);
                out.push('\n');
                continue;
            }
        };
        if let Some(name) = v["metadata"]["name"].as_str().map(str::to_string)
            && let Some(image) = image_for(images, &name)
            && let Some(cs) = v["spec"]["template"]["spec"]["containers"].as_array_mut()
        {
            for c in cs {
                c["image"] = json!(image);
            }
        }
        out.push_str("---\n");
        for c in comments.iter().filter(|c| !c.trim().is_empty()) {
            out.push_str(c.trim_start());
            out.push('\n');
        }
        out.push_str(&serde_yaml::to_string(&v).unwrap_or_default());
    }
    out
}

impl SimulatedHelm {
    /// Writes a release Secret: creates a new revision, or updates a revision's status.
    async fn write(&self, rel: &Release, create: bool) -> Result<(), DriverError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &rel.namespace);
        let secret = release::release_secret(rel).map_err(other)?;
        if create {
            api.create(&PostParams::default(), &secret)
                .await
                .map_err(|e| match e {
                    kube::Error::Api(s) if s.code == 409 => DriverError::Failed {
                        driver: "sandbox".into(),
                        code: 1,
                        message: "another operation (install/upgrade/rollback) is in progress"
                            .into(),
                    },
                    e => other(e),
                })?;
        } else {
            let name = release::release_secret_name(&rel.name, rel.version);
            let patch = json!({
                "metadata": {"labels": {"status": rel.info.status.as_str()}},
                "data": secret.data,
            });
            // Marking a revision deployed, failed or superseded is idempotent: a server error
            // is retried, so one lost request does not leave the release pending.
            let mut attempt = 0;
            loop {
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => break,
                    Err(kube::Error::Api(s)) if s.code >= 500 && attempt < STATUS_RETRIES => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    }
                    Err(e) => return Err(other(e)),
                }
            }
        }
        Ok(())
    }

    /// Applies `manifest`'s images to the live workloads and waits until they are rolled
    /// out or `timeout` passes.
    async fn apply_and_wait(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
        out: &UnboundedSender<String>,
    ) -> Result<(), DriverError> {
        let workloads = manifest_workloads(manifest);
        for w in &workloads {
            let containers: Vec<Value> = w
                .images
                .iter()
                .map(|(c, i)| json!({"name": c, "image": i}))
                .collect();
            let patch = json!({"spec": {"template": {"spec": {"containers": containers}}}});
            let api = workload_api(&self.client, namespace, w.kind);
            let plural = format!("{}.apps", w.kind.name().to_ascii_lowercase());
            let result = api
                .patch(&w.name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await;
            result.map_err(|e| other(format!("{plural}/{}: {e}", w.name)))?;
            let _ = out.send(format!("{plural}/{} configured", w.name));
        }
        let _ = out.send(format!(
            "waiting up to {} s for {} workload(s) to be ready",
            timeout.as_secs(),
            workloads.len()
        ));
        let waits = workloads.iter().map(|w| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<actions::Progress>(16);
            let client = self.client.clone();
            async move {
                let last = std::sync::Arc::new(parking_lot::Mutex::new(None));
                let seen = last.clone();
                let keep = tokio::spawn(async move {
                    while let Some(p) = rx.recv().await {
                        *seen.lock() = Some(p);
                    }
                });
                let r =
                    actions::watch_rollout(&client, w.kind, namespace, &w.name, tx, timeout).await;
                keep.abort();
                let last = last.lock().clone();
                r.map_err(|e| match last {
                    Some(p) => format!(
                        "{} {} ({}/{} ready: {})",
                        w.kind.short(),
                        w.name,
                        p.ready,
                        p.desired,
                        p.message
                    ),
                    None => format!("{} {} ({e})", w.kind.short(), w.name),
                })
            }
        });
        let results = futures::future::join_all(waits).await;
        let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if !failed.is_empty() {
            return Err(DriverError::NotReady(format!(
                "context deadline exceeded: {} of {} workload(s) not ready: {}",
                failed.len(),
                workloads.len(),
                failed.join(", ")
            )));
        }
        Ok(())
    }

    /// The release's revisions; an upgrade refuses one that is pending (as Helm does), a
    /// rollback does not (it is how a stuck release is recovered).
    async fn history(
        &self,
        namespace: &str,
        name: &str,
        allow_pending: bool,
    ) -> Result<Vec<Release>, DriverError> {
        let h = crate::core::releases::fetch::release_history(&self.client, namespace, name)
            .await
            .map_err(|e| other(format!("{e:#}")))?;
        if let Some(p) = h
            .revisions
            .iter()
            .rev()
            .find(|r| r.info.status.is_pending() && !allow_pending)
        {
            return Err(DriverError::Failed {
                driver: "sandbox".into(),
                code: 1,
                message: format!(
                    "another operation (install/upgrade/rollback) is in progress (revision {} is {})",
                    p.version, p.info.status
                ),
            });
        }
        Ok(h.revisions)
    }

    /// Writes `next` as pending, applies its manifest, then marks it deployed (superseding
    /// the deployed ones) or failed.
    async fn run(
        &self,
        mut next: Release,
        previous: Vec<Release>,
        verb: &str,
        timeout: Duration,
        out: UnboundedSender<String>,
        stop: &Stop,
    ) -> Result<(), DriverError> {
        self.write(&next, true).await?;
        let _ = out.send(format!(
            "Release \"{}\" revision {}: {} ({}-{})",
            next.name,
            next.version,
            next.info.status,
            next.chart.metadata.name,
            next.chart.metadata.version
        ));
        // Stopped (the change judged failed): the release is marked failed, as Helm does
        // when its wait is cancelled.
        let applied = tokio::select! {
            r = self.apply_and_wait(&next.namespace, &next.manifest, timeout, &out) => r,
            why = stop.requested() => Err(DriverError::Stopped(why)),
        };
        let now = jiff::Timestamp::now();
        next.info.last_deployed = Some(now);
        match applied {
            Ok(()) => {
                // Helm supersedes every deployed revision; a rollback also the pending one
                // it recovers from.
                for mut p in previous.into_iter().filter(|p| {
                    p.info.status == ReleaseStatus::Deployed
                        || (verb == "Rollback" && p.info.status.is_pending())
                }) {
                    p.info.status = ReleaseStatus::Superseded;
                    self.write(&p, false).await?;
                }
                next.info.status = ReleaseStatus::Deployed;
                // Helm keeps "Rollback to N" on a rollback that succeeded.
                if verb != "Rollback" {
                    next.info.description = format!("{verb} complete");
                }
                self.write(&next, false).await?;
                let _ = out.send(format!(
                    "Release \"{}\" has been {}. Happy Helming!",
                    next.name,
                    if verb == "Rollback" {
                        "rolled back"
                    } else {
                        "upgraded"
                    }
                ));
                Ok(())
            }
            Err(e) => {
                // A failed rollback still supersedes the pending revision it replaced.
                if verb == "Rollback" {
                    for mut p in previous.into_iter().filter(|p| p.info.status.is_pending()) {
                        p.info.status = ReleaseStatus::Superseded;
                        self.write(&p, false).await?;
                    }
                }
                // Helm's words: the first line of the error (the details are helmdeck's).
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                next.info.status = ReleaseStatus::Failed;
                next.info.description = format!("{verb} \"{}\" failed: {first}", next.name);
                self.write(&next, false).await?;
                let _ = out.send(format!("Error: {} FAILED: {first}", verb.to_uppercase()));
                Err(e)
            }
        }
    }
}

impl ReleaseDriver for SimulatedHelm {
    fn name(&self) -> &str {
        "sandbox"
    }

    fn upgrade<'a>(
        &'a self,
        req: &'a UpgradeRequest,
        out: UnboundedSender<String>,
    ) -> DriverFuture<'a> {
        Box::pin(async move {
            let revisions = self.history(&req.namespace, &req.release, false).await?;
            let current = revisions
                .iter()
                .rev()
                .find(|r| r.info.status == ReleaseStatus::Deployed)
                .or(revisions.last())
                .ok_or_else(|| other(format!("{} has no revision", req.release)))?;
            let latest = revisions.iter().map(|r| r.version).max().unwrap_or(0);
            let mut chart = current.chart.clone();
            chart.metadata.version = req.version.clone();
            if !req.app_version.is_empty() {
                chart.metadata.app_version = req.app_version.clone();
            }
            let next = Release {
                name: req.release.clone(),
                namespace: req.namespace.clone(),
                version: latest + 1,
                info: release::Info {
                    first_deployed: current.info.first_deployed,
                    last_deployed: Some(jiff::Timestamp::now()),
                    deleted: None,
                    description: "Preparing upgrade".into(),
                    status: ReleaseStatus::PendingUpgrade,
                    notes: None,
                },
                chart,
                config: req.values.clone(),
                manifest: render(&current.manifest, &req.images),
                labels: current.labels.clone(),
            };
            self.run(next, revisions, "Upgrade", req.timeout, out, &req.stop)
                .await
        })
    }

    fn rollback<'a>(
        &'a self,
        req: &'a RollbackRequest,
        out: UnboundedSender<String>,
    ) -> DriverFuture<'a> {
        Box::pin(async move {
            let revisions = self.history(&req.namespace, &req.release, true).await?;
            let target = revisions
                .iter()
                .find(|r| r.version == req.revision)
                .ok_or_else(|| DriverError::Failed {
                    driver: "sandbox".into(),
                    code: 1,
                    message: format!("release: not found (no revision {})", req.revision),
                })?;
            let latest = revisions.iter().map(|r| r.version).max().unwrap_or(0);
            let mut next = target.clone();
            next.version = latest + 1;
            next.info.status = ReleaseStatus::PendingRollback;
            next.info.description = format!("Rollback to {}", req.revision);
            next.info.last_deployed = Some(jiff::Timestamp::now());
            let _ = out.send(format!(
                "Rolling back {} to revision {}",
                req.release, req.revision
            ));
            self.run(
                next,
                revisions,
                "Rollback",
                req.timeout,
                out,
                &Stop::never(),
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "---\n# Source: ee/templates/router.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: router\nspec:\n  template:\n    spec:\n      containers:\n      - name: router\n        image: ghcr.io/mr-ee/router:3.4.1\n---\n# Source: ee/templates/forwarder-pinterest.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: forwarder-pinterest\nspec:\n  template:\n    spec:\n      containers:\n      - name: forwarder-pinterest\n        image: ghcr.io/mr-ee/forwarder:3.4.1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: router\n";

    #[test]
    fn rendering_runs_the_chart_versions_images_and_keeps_the_rest() {
        let images = BTreeMap::from([
            (
                "router".to_string(),
                "ghcr.io/mr-ee/router:3.5.0".to_string(),
            ),
            (
                "forwarder".to_string(),
                "ghcr.io/mr-ee/forwarder:3.5.0".to_string(),
            ),
        ]);
        let out = render(MANIFEST, &images);
        let ws = manifest_workloads(&out);
        assert_eq!(ws.len(), 2, "{out}");
        assert_eq!(
            ws[0].images,
            vec![("router".into(), "ghcr.io/mr-ee/router:3.5.0".into())]
        );
        assert_eq!(ws[1].name, "forwarder-pinterest");
        assert_eq!(ws[1].images[0].1, "ghcr.io/mr-ee/forwarder:3.5.0");
        assert!(out.contains("# Source: ee/templates/router.yaml"), "{out}");
        assert!(out.contains("kind: Service"), "{out}");
    }

    #[test]
    fn a_version_without_images_renders_the_manifest_unchanged_in_substance() {
        let out = render(MANIFEST, &BTreeMap::new());
        assert_eq!(manifest_workloads(&out), manifest_workloads(MANIFEST));
    }
}
