//! The sandbox's chart repository, as data (assets/charts/repository.yaml): served as a
//! Helm repository at `/charts/index.yaml` (with an ETag, answering `If-None-Match` with
//! 304), each version's record at `/charts/<chart>/<version>.yaml`; and the images a
//! chart version runs, for the sandbox's release driver.

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
        let v = self.version(chart, version)?;
        v.images
            .get(workload)
            .or_else(|| {
                v.images
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
                        let digest = sha2::Sha256::digest(format!("{name}-{}", v.version));
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
}
