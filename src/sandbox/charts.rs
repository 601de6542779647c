//! The sandbox's chart repository, as data (assets/charts/repository.yaml): served as a
//! Helm repository at `/charts/index.yaml` (with an ETag, answering `If-None-Match` with
//! 304), each version's chart archive at `/charts/<chart>-<version>.tgz` (what the index's
//! `urls` and `digest` name), each version's record at `/charts/<chart>/<version>.yaml`;
//! and the images a chart version runs, for the sandbox's release driver.
//!
//! The archives are real Helm charts (apiVersion v2), built in memory, byte for byte the
//! same on every run (fixed mtimes, owners and modes), so their digests are stable: a
//! `Chart.yaml`, a `values.yaml`, and one template per workload the default scenario gives
//! the chart's release (the `ee` release of `mr-ee`: a router and a forwarder per
//! destination), each running the image that version lists under `images:` — the
//! crash-looping versions' included — and the scenario's image where the version lists
//! none. A workload's replicas are `<workload>.replicas` in the values (the scenario's
//! count by default), so `router.replicas` of the `ee` release's values takes effect.

use crate::core::releases::repo::{CHANGES_ANNOTATION, IndexEntry, RepoIndex};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The repository shipped inside the binary.
pub const BUILTIN: &str = include_str!("../../assets/charts/repository.yaml");

/// Annotation on each index entry listing the images of that version (`workload=image,…`).
pub use crate::core::workflows::upgrade::IMAGES_ANNOTATION;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub charts: BTreeMap<String, ChartSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    #[serde(default)]
    pub description: String,
    pub versions: Vec<VersionSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    pub version: String,
    pub app_version: String,
    pub created: String,
    /// Workload (or workload-name prefix before `-`) → image.
    #[serde(default)]
    pub images: BTreeMap<String, String>,
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub kind: String,
    pub description: String,
}

impl Catalog {
    pub fn parse(text: &str) -> anyhow::Result<Catalog> {
        Ok(serde_yaml::from_str(text)?)
    }

    /// The shipped catalog.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
            Catalog::parse(BUILTIN).expect("assets/charts/repository.yaml is valid")
        });
        &CATALOG
    }

    pub fn version(&self, chart: &str, version: &str) -> Option<&VersionSpec> {
        self.charts
            .get(chart)?
            .versions
            .iter()
            .find(|v| v.version == version)
    }

    /// The image `workload` runs in `chart` at `version`: the entry named after the
    /// workload, else the one whose name is the workload's prefix (`forwarder` for
    /// `forwarder-pinterest`).
    pub fn image_for(&self, chart: &str, version: &str, workload: &str) -> Option<&str> {
        Self::image_in(&self.version(chart, version)?.images, workload)
    }

    /// The image `workload` runs according to a version's `images` (see [`Catalog::image_for`]).
    pub fn image_in<'a>(images: &'a BTreeMap<String, String>, workload: &str) -> Option<&'a str> {
        images
            .get(workload)
            .or_else(|| {
                images
                    .iter()
                    .find(|(k, _)| {
                        workload
                            .strip_prefix(k.as_str())
                            .is_some_and(|r| r.starts_with('-'))
                    })
                    .map(|(_, img)| img)
            })
            .map(String::as_str)
    }

    /// The Helm repository index of the catalog.
    pub fn index(&self) -> RepoIndex {
        use sha2::Digest;
        let entries = self
            .charts
            .iter()
            .map(|(name, c)| {
                let versions = c
                    .versions
                    .iter()
                    .rev()
                    .map(|v| {
                        let mut annotations = BTreeMap::new();
                        if !v.changes.is_empty() {
                            annotations.insert(
                                CHANGES_ANNOTATION.to_string(),
                                serde_yaml::to_string(&v.changes).unwrap_or_default(),
                            );
                        }
                        annotations.insert(
                            IMAGES_ANNOTATION.to_string(),
                            v.images
                                .iter()
                                .map(|(k, i)| format!("{k}={i}"))
                                .collect::<Vec<_>>()
                                .join(","),
                        );
                        let digest = sha2::Sha256::digest(chart_archive(name, c, v));
                        IndexEntry {
                            name: name.clone(),
                            version: v.version.clone(),
                            app_version: v.app_version.clone(),
                            description: c.description.clone(),
                            annotations,
                            urls: vec![format!("{name}-{}.tgz", v.version)],
                            created: Some(v.created.clone()),
                            digest: digest.iter().map(|b| format!("{b:02x}")).collect(),
                            deprecated: false,
                        }
                    })
                    .collect();
                (name.clone(), versions)
            })
            .collect();
        RepoIndex {
            api_version: "v1".into(),
            entries,
            generated: Some("2025-06-20T09:00:00Z".into()),
        }
    }
}

/// The fixed modification time of every file in the archives (2025-01-01T00:00:00Z).
const ARCHIVE_MTIME: u64 = 1_735_689_600;

/// The workloads the default scenario gives the release of `chart`, in scenario order.
fn chart_workloads(chart: &str) -> Vec<crate::sandbox::scenario::Workload> {
    let Ok(sc) = crate::sandbox::scenario::Scenario::load("default") else {
        return Vec::new();
    };
    let releases: Vec<&str> = sc
        .releases
        .iter()
        .filter(|r| r.chart == chart)
        .map(|r| r.name.as_str())
        .collect();
    sc.namespaces
        .iter()
        .flat_map(|ns| ns.workloads.iter())
        .filter(|w| w.release.as_deref().is_some_and(|r| releases.contains(&r)))
        .cloned()
        .collect()
}

/// The files of `chart` at version `v`, as Helm lays them out (`<chart>/Chart.yaml`, …).
pub fn chart_files(name: &str, chart: &ChartSpec, v: &VersionSpec) -> Vec<(String, String)> {
    let workloads = chart_workloads(name);
    let mut files = Vec::new();
    let mut meta = format!(
        "apiVersion: v2\nname: {name}\nversion: {}\nappVersion: {}\ntype: application\n",
        v.version,
        yaml_scalar(&v.app_version)
    );
    if !chart.description.is_empty() {
        meta.push_str(&format!(
            "description: {}\n",
            yaml_scalar(&chart.description)
        ));
    }
    files.push((format!("{name}/Chart.yaml"), meta));
    let mut values = format!(
        "# Default values of {name} {} (the helmdeck sandbox's chart repository).\n",
        v.version
    );
    for w in &workloads {
        values.push_str(&format!("{}:\n  replicas: {}\n", w.name, w.replicas));
    }
    files.push((format!("{name}/values.yaml"), values));
    for w in &workloads {
        let image = Catalog::image_in(&v.images, &w.name).unwrap_or(&w.image);
        files.push((
            format!("{name}/templates/{}.yaml", w.name),
            workload_template(w, image),
        ));
    }
    files
}

/// A YAML scalar, quoted when it would not read back as the same string.
fn yaml_scalar(s: &str) -> String {
    match serde_yaml::from_str::<serde_yaml::Value>(s) {
        Ok(serde_yaml::Value::String(back)) if back == s && !s.contains(": ") => s.to_string(),
        _ => serde_json::to_string(s).unwrap_or_default(),
    }
}

/// The template of one workload: the object the scenario creates (scenario.rs,
/// `workload_json`), with the release's name and the replicas from the values.
fn workload_template(w: &crate::sandbox::scenario::Workload, image: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut labels = format!(
        "    app.kubernetes.io/name: {}\n    app.kubernetes.io/instance: {{{{ .Release.Name }}}}\n    app.kubernetes.io/managed-by: {{{{ .Release.Service }}}}\n",
        q(&w.name)
    );
    for (k, v) in &w.labels {
        labels.push_str(&format!("    {}: {}\n", q(k), q(v)));
    }
    let pod_labels = labels.replace("\n    ", "\n        ");
    let pod_labels = format!("    {pod_labels}");
    let mut out = format!(
        "# {kind} {name}: image {image}\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {qname}\n  labels:\n{labels}spec:\n",
        kind = w.kind,
        name = w.name,
        qname = q(&w.name),
    );
    let replicas = format!(
        "  replicas: {{{{ (index .Values {} | default dict).replicas | default {} }}}}\n",
        q(&w.name),
        w.replicas
    );
    match w.kind.as_str() {
        "Deployment" => {
            out.push_str(&replicas);
            out.push_str("  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 25%\n  progressDeadlineSeconds: 600\n  revisionHistoryLimit: 10\n");
        }
        "StatefulSet" => {
            out.push_str(&replicas);
            out.push_str(&format!(
                "  serviceName: {}\n  podManagementPolicy: OrderedReady\n  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      partition: 0\n",
                q(&w.name)
            ));
        }
        _ => out.push_str("  updateStrategy:\n    type: RollingUpdate\n"),
    }
    out.push_str(&format!(
        "  selector:\n    matchLabels:\n      app.kubernetes.io/name: {}\n  template:\n    metadata:\n      labels:\n{pod_labels}    spec:\n",
        q(&w.name)
    ));
    if w.kind == "DaemonSet" {
        out.push_str("      tolerations:\n        - operator: Exists\n");
    }
    out.push_str(&format!(
        "      containers:\n        - name: {}\n          image: {}\n          imagePullPolicy: IfNotPresent\n          resources:\n            requests:\n              cpu: {}\n              memory: {}\n            limits:\n              memory: {}\n",
        q(&w.name),
        q(image),
        q(&w.cpu),
        q(&w.memory),
        q(&w.memory)
    ));
    if let Some(p) = w.port {
        out.push_str(&format!(
            "          ports:\n            - name: http\n              containerPort: {p}\n              protocol: TCP\n"
        ));
    }
    out
}

/// The `.tgz` of `chart` at version `v`: a gzipped tar of [`chart_files`], deterministic.
pub fn chart_archive(name: &str, chart: &ChartSpec, v: &VersionSpec) -> Vec<u8> {
    let gz = flate2::GzBuilder::new()
        .mtime(ARCHIVE_MTIME as u32)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, text) in chart_files(name, chart, v) {
        let mut header = tar::Header::new_ustar();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(ARCHIVE_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        // Writes the path (and the checksum) into the header; in-memory, cannot fail
        // for these short relative paths.
        let _ = tar.append_data(&mut header, &path, text.as_bytes());
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_default()
}

/// Every archive the repository serves, by file name (`mr-ee-1.5.0.tgz`), built once.
fn served_archives() -> &'static BTreeMap<String, Vec<u8>> {
    static ARCHIVES: LazyLock<BTreeMap<String, Vec<u8>>> = LazyLock::new(|| {
        let cat = Catalog::builtin();
        cat.charts
            .iter()
            .flat_map(|(name, c)| {
                c.versions.iter().map(move |v| {
                    (
                        format!("{name}-{}.tgz", v.version),
                        chart_archive(name, c, v),
                    )
                })
            })
            .collect()
    });
    &ARCHIVES
}

/// `GET /charts/<chart>-<version>.tgz`: the chart archive.
pub async fn archive(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match served_archives().get(&file) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/gzip")], bytes.clone()).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no chart archive {file}\n")).into_response(),
    }
}

/// The index YAML and its ETag, computed once.
fn served_index() -> &'static (String, String) {
    static INDEX: LazyLock<(String, String)> = LazyLock::new(|| {
        use sha2::Digest;
        let text = serde_yaml::to_string(&Catalog::builtin().index()).unwrap_or_default();
        let digest = sha2::Sha256::digest(text.as_bytes());
        let etag = format!(
            "\"{}\"",
            digest[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        (text, etag)
    });
    &INDEX
}

/// `GET /charts/index.yaml`.
pub async fn index(headers: HeaderMap) -> Response {
    let (text, etag) = served_index();
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.clone())]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/x-yaml".to_string()),
            (header::ETAG, etag.clone()),
        ],
        text.clone(),
    )
        .into_response()
}

/// `GET /charts/<chart>/<version>.yaml`: the version's record (images, changes).
pub async fn version(
    axum::extract::Path((chart, file)): axum::extract::Path<(String, String)>,
) -> Response {
    let version = file.strip_suffix(".yaml").unwrap_or(&file);
    match Catalog::builtin().version(&chart, version) {
        Some(v) => (
            [(header::CONTENT_TYPE, "application/x-yaml")],
            serde_yaml::to_string(v).unwrap_or_default(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("chart {chart} has no version {version}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::releases::repo::{Jump, newer_versions};

    #[test]
    fn every_scenario_chart_offers_patch_minor_major_and_prerelease() {
        let index = Catalog::builtin().index();
        for (chart, installed) in [
            ("mr-ee", "1.4.2"),
            ("iomete-dataplane", "1.0.5"),
            ("migratorydata", "6.0.14"),
        ] {
            let entries = index.chart(chart, "sandbox").unwrap();
            let offers = newer_versions(entries, installed, true).unwrap();
            for jump in [Jump::Patch, Jump::Minor, Jump::Major] {
                assert!(
                    offers.iter().any(|o| o.jump == jump && !o.prerelease),
                    "{chart} {jump:?}"
                );
            }
            assert!(offers.iter().any(|o| o.prerelease), "{chart}");
            assert!(offers.iter().all(|o| !o.changes.is_empty()), "{chart}");
        }
    }

    #[test]
    fn crash_looping_versions_are_named_by_the_scenarios_image_faults() {
        let sc = crate::sandbox::scenario::Scenario::load("default").unwrap();
        let cat = Catalog::builtin();
        let crashing = |chart: &str, version: &str, workload: &str| {
            let image = cat.image_for(chart, version, workload).unwrap();
            let pod = serde_json::json!({"spec": {"containers": [{"image": image}]}});
            sc.sim.fault_for(&pod)
        };
        use crate::sandbox::controllers::ImageFault;
        assert_eq!(
            crashing("mr-ee", "1.5.1", "router"),
            Some(ImageFault::Crash)
        );
        assert_eq!(crashing("mr-ee", "1.5.0", "router"), None);
        assert_eq!(crashing("mr-ee", "1.5.0", "forwarder-pinterest"), None);
        assert_eq!(
            crashing("iomete-dataplane", "1.1.1", "jupyter-gateway"),
            Some(ImageFault::Crash)
        );
        assert_eq!(
            crashing("migratorydata", "6.1.1", "migratorydata"),
            Some(ImageFault::Crash)
        );
        assert_eq!(crashing("migratorydata", "6.1.0", "migratorydata"), None);
        // The installed versions run the images the scenario deploys.
        assert_eq!(
            cat.image_for("mr-ee", "1.4.2", "forwarder-pinterest"),
            Some("ghcr.io/mr-ee/forwarder:3.4.1")
        );
    }

    /// The archive's files, by path.
    fn unpack(bytes: &[u8]) -> BTreeMap<String, String> {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        tar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                assert_eq!(e.header().mtime().unwrap(), ARCHIVE_MTIME);
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                (path, text)
            })
            .collect()
    }

    #[test]
    fn every_version_is_a_real_chart_archive_named_by_the_index_with_its_digest() {
        use sha2::Digest;
        let cat = Catalog::builtin();
        let index = cat.index();
        let archives = served_archives();
        for (chart, entries) in &index.entries {
            for e in entries {
                let file = format!("{chart}-{}.tgz", e.version);
                assert_eq!(e.urls, std::slice::from_ref(&file));
                let bytes = &archives[&file];
                let digest: String = sha2::Sha256::digest(bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(e.digest, digest, "{file}");
                let files = unpack(bytes);
                let meta: serde_yaml::Value =
                    serde_yaml::from_str(&files[&format!("{chart}/Chart.yaml")]).unwrap();
                assert_eq!(meta["apiVersion"].as_str(), Some("v2"));
                assert_eq!(meta["name"].as_str(), Some(chart.as_str()));
                assert_eq!(meta["version"].as_str(), Some(e.version.as_str()));
                assert_eq!(meta["appVersion"].as_str(), Some(e.app_version.as_str()));
                assert!(files.contains_key(&format!("{chart}/values.yaml")));
                assert!(
                    files.keys().any(|f| f.contains("/templates/")),
                    "{file}: {:?}",
                    files.keys()
                );
            }
        }
        // The same bytes every time.
        let (name, c) = cat.charts.iter().next().unwrap();
        assert_eq!(
            chart_archive(name, c, &c.versions[0]),
            chart_archive(name, c, &c.versions[0])
        );
    }

    #[test]
    fn the_ee_chart_renders_a_router_and_a_forwarder_per_destination_with_the_versions_images() {
        let cat = Catalog::builtin();
        let c = &cat.charts["mr-ee"];
        let v = cat.version("mr-ee", "1.5.1").unwrap();
        let files = unpack(&chart_archive("mr-ee", c, v));
        let names: Vec<&str> = files
            .keys()
            .filter_map(|f| f.strip_prefix("mr-ee/templates/"))
            .collect();
        assert_eq!(
            names,
            [
                "forwarder-adobe-analytics.yaml",
                "forwarder-google-analytics.yaml",
                "forwarder-pinterest.yaml",
                "router.yaml"
            ]
        );
        let router = &files["mr-ee/templates/router.yaml"];
        assert!(
            router.contains("image: \"ghcr.io/mr-ee/router:3.5.1\""),
            "{router}"
        );
        assert!(router.contains("{{ .Release.Name }}"), "{router}");
        assert!(
            files["mr-ee/templates/forwarder-pinterest.yaml"]
                .contains("image: \"ghcr.io/mr-ee/forwarder:3.5.1\""),
        );
        assert!(files["mr-ee/values.yaml"].contains("router:\n  replicas: 2\n"));
    }
}
