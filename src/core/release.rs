//! Helm v3 release storage: the `helm.sh/release.v1` Secrets codec.
//!
//! Helm 3 stores each revision of a release as a Secret named
//! `sh.helm.release.v1.<NAME>.v<VERSION>`, of type `helm.sh/release.v1`, labelled
//! `owner=helm`, `name`, `status`, `version`, whose `data.release` holds
//! `base64(gzip(json(release)))`. The Kubernetes API adds its own base64 layer to
//! every Secret value, so on the wire the payload is base64 twice; k8s-openapi's
//! `ByteString` already removes the outer layer, and this module handles the rest
//! (Helm's `pkg/storage/driver/util.go`, `secrets.go`).
//!
//! Decoding is bounded: the inflated JSON may not exceed [`MAX_INFLATED`] bytes, so a
//! hostile or corrupt Secret cannot exhaust memory.
//!
//! The model keeps what the console needs (identity, info, chart metadata, chart
//! default values, user values, manifest). Chart templates, files and hooks are not
//! decoded, so [`encode_release`] of a decoded release is not byte-for-byte what Helm
//! stored: use it for fixtures and the sandbox, not to rewrite a real release.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer, Serialize};

/// Largest inflated release JSON accepted by [`decode_release`] (64 MiB).
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Secret type Helm 3 uses for release storage.
pub const RELEASE_SECRET_TYPE: &str = "helm.sh/release.v1";

/// Prefix of release Secret names: `sh.helm.release.v1.<NAME>.v<VERSION>`.
pub const RELEASE_SECRET_PREFIX: &str = "sh.helm.release.v1.";

/// Labels Helm manages itself on a release Secret; any other label is a custom
/// release label (`helm install --labels`, Helm ≥ 3.13).
const SYSTEM_LABELS: [&str; 6] = [
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

/// One revision of a Helm release, as Helm serialises it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Release {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub info: Info,
    #[serde(default, deserialize_with = "null_as_default")]
    pub chart: Chart,
    /// The user-supplied values (`helm get values`); `Null` when none were given.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub config: serde_json::Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifest: String,
    #[serde(default)]
    pub version: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: String,
    /// Custom labels of the release Secret (not part of Helm's JSON; Helm ≥ 3.13
    /// keeps them on the Secret only). Filled by [`release_from_secret`] and written
    /// by [`release_secret`].
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

/// `release.info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Info {
    #[serde(default, with = "helm_time")]
    pub first_deployed: Option<jiff::Timestamp>,
    #[serde(default, with = "helm_time")]
    pub last_deployed: Option<jiff::Timestamp>,
    /// Set when the release was uninstalled with `--keep-history`; Helm writes `""`
    /// otherwise.
    #[serde(default, with = "helm_time")]
    pub deleted: Option<jiff::Timestamp>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: ReleaseStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Helm's release status (`pkg/release/status.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStatus {
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    /// `unknown`, and also any status this version does not know (serde requires the
    /// catch-all to be the last variant).
    #[default]
    #[serde(other)]
    Unknown,
}

impl ReleaseStatus {
    /// The status string as Helm writes it (`pending-upgrade`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Unknown => "unknown",
            ReleaseStatus::Deployed => "deployed",
            ReleaseStatus::Uninstalled => "uninstalled",
            ReleaseStatus::Superseded => "superseded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Uninstalling => "uninstalling",
            ReleaseStatus::PendingInstall => "pending-install",
            ReleaseStatus::PendingUpgrade => "pending-upgrade",
            ReleaseStatus::PendingRollback => "pending-rollback",
        }
    }

    /// An operation is in flight (or was interrupted): install, upgrade, rollback
    /// or uninstall. Helm refuses a new operation on such a release.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            ReleaseStatus::PendingInstall
                | ReleaseStatus::PendingUpgrade
                | ReleaseStatus::PendingRollback
                | ReleaseStatus::Uninstalling
        )
    }
}

impl std::fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `release.chart`. Templates, files, schema and lock are not decoded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Chart {
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ChartMetadata,
    /// The chart's default values (`values.yaml`); `Null` when absent.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub values: serde_json::Value,
}

/// `Chart.yaml`, as stored in the release (`release.chart.metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub app_version: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// `v1` (Helm 2 charts) or `v2`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// `application` or `library`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub chart_type: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub kube_version: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub home: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub icon: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub keywords: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub maintainers: Vec<Maintainer>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dependencies: Vec<ChartDependency>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub deprecated: bool,
}

/// A chart maintainer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Maintainer {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A dependency declared in `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChartDependency {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub version: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Go's encoding/json writes `null` for nil slices, maps and pointers: read it as the default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Helm's `pkg/time.Time`: RFC 3339 (any offset, up to nanoseconds); the zero time is
/// written as `""`. `""`, `null`, a missing field and Go's zero time
/// (`0001-01-01T00:00:00Z`) all read as `None`; `None` is written as `""`.
mod helm_time {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<jiff::Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(ts) => serializer.collect_str(ts),
            None => serializer.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<jiff::Timestamp>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        if text.is_empty() {
            return Ok(None);
        }
        let ts: jiff::Timestamp = text
            .parse()
            .map_err(|e| serde::de::Error::custom(format!("invalid timestamp {text:?}: {e}")))?;
        // Go's zero time.Time, written by encoders that do not use Helm's wrapper.
        if ts.as_second() == -62_135_596_800 {
            return Ok(None);
        }
        Ok(Some(ts))
    }
}

// ---------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------

/// Why a release payload or Secret could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseDecodeError {
    #[error("release payload is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("release payload is not valid gzip: {0}")]
    Gzip(String),
    #[error("release payload inflates to more than {limit} bytes (possible decompression bomb)")]
    TooLarge { limit: u64 },
    #[error("release JSON is invalid: {0}")]
    Json(String),
    #[error("secret is of type {found:?}, not a Helm release ({RELEASE_SECRET_TYPE})")]
    NotAReleaseSecret { found: Option<String> },
    #[error("secret has no data.release")]
    MissingPayload,
}

/// Encodes a release as Helm does: JSON → gzip (best compression) → base64.
///
/// The result is the text Helm puts in the Secret's `data.release` (before the
/// Kubernetes API's own base64 layer).
pub fn encode_release(release: &Release) -> anyhow::Result<String> {
    let json = serde_json::to_vec(release)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json)?;
    let compressed = gz.finish()?;
    Ok(BASE64.encode(compressed))
}

/// Decodes the bytes of a release Secret's `data.release` (as found in
/// `Secret.data`, i.e. after the API's base64 layer): base64 → gunzip (bounded by
/// [`MAX_INFLATED`]) → JSON. Uncompressed JSON payloads (old Helm 3 releases) are
/// accepted, as Helm does.
pub fn decode_release(payload: &[u8]) -> Result<Release, ReleaseDecodeError> {
    decode_release_bytes(&unbase64_payload(payload)?)
}

/// Removes Helm's base64 layer of a release payload (as [`decode_release`] does first):
/// the gzip (or, from old Helm 3 releases, JSON) bytes for [`decode_release_bytes`].
pub fn unbase64_payload(payload: &[u8]) -> Result<Vec<u8>, ReleaseDecodeError> {
    // Go's base64 decoder skips CR and LF; do the same.
    let compact: Vec<u8>;
    let text = if memchr::memchr2(b'\r', b'\n', payload).is_some() {
        compact = payload
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect();
        &compact[..]
    } else {
        payload
    };
    Ok(BASE64.decode(text)?)
}

/// Decodes a release payload without its base64 layer ([`unbase64_payload`]): gunzip
/// (bounded by [`MAX_INFLATED`]) → JSON.
pub fn decode_release_bytes(raw: &[u8]) -> Result<Release, ReleaseDecodeError> {
    let inflated: Vec<u8>;
    let json = if raw.starts_with(&GZIP_MAGIC) {
        inflated = inflate_bounded(raw, MAX_INFLATED)?;
        &inflated[..]
    } else {
        raw
    };
    serde_json::from_slice(json).map_err(|e| ReleaseDecodeError::Json(e.to_string()))
}

/// Gunzips `compressed`, failing once more than `limit` bytes come out.
fn inflate_bounded(compressed: &[u8], limit: u64) -> Result<Vec<u8>, ReleaseDecodeError> {
    let decoder = flate2::read::GzDecoder::new(compressed);
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(1 << 20));
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| ReleaseDecodeError::Gzip(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(ReleaseDecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// The Secret name Helm uses for a revision: `sh.helm.release.v1.<name>.v<version>`.
pub fn release_secret_name(name: &str, version: i64) -> String {
    format!("{RELEASE_SECRET_PREFIX}{name}.v{version}")
}

/// Builds the Secret Helm's Secrets driver stores for `release` (`newSecretsObject`):
/// name, namespace, type, labels (custom labels, then `name`, `owner`, `status`,
/// `version`) and `data.release`. Helm's driver also adds a `createdAt` /
/// `modifiedAt` label with the wall-clock time when it writes; that is left to the
/// caller.
pub fn release_secret(release: &Release) -> anyhow::Result<Secret> {
    let payload = encode_release(release)?;
    let mut labels: BTreeMap<String, String> = release
        .labels
        .iter()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert("name".into(), release.name.clone());
    labels.insert("owner".into(), "helm".into());
    labels.insert("status".into(), release.info.status.as_str().into());
    labels.insert("version".into(), release.version.to_string());
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(release_secret_name(&release.name, release.version)),
            namespace: (!release.namespace.is_empty()).then(|| release.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        type_: Some(RELEASE_SECRET_TYPE.into()),
        data: Some(BTreeMap::from([(
            "release".to_string(),
            ByteString(payload.into_bytes()),
        )])),
        ..Default::default()
    })
}

/// The payload of a Helm release Secret (`data.release`, for [`decode_release`]), or why
/// the Secret has none: it is not of Helm's type, or has no `data.release`.
pub fn release_payload(secret: &Secret) -> Result<&[u8], ReleaseDecodeError> {
    if secret.type_.as_deref() != Some(RELEASE_SECRET_TYPE) {
        return Err(ReleaseDecodeError::NotAReleaseSecret {
            found: secret.type_.clone(),
        });
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .map(|p| p.0.as_slice())
        .ok_or(ReleaseDecodeError::MissingPayload)
}

/// Decodes the release stored in a Helm release Secret. The Secret's custom labels
/// become [`Release::labels`]; an empty release namespace is taken from the Secret.
pub fn release_from_secret(secret: &Secret) -> Result<Release, ReleaseDecodeError> {
    let mut release = decode_release(release_payload(secret)?)?;
    if let Some(labels) = &secret.metadata.labels {
        release.labels = labels
            .iter()
            .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    if release.namespace.is_empty()
        && let Some(ns) = &secret.metadata.namespace
    {
        release.namespace = ns.clone();
    }
    Ok(release)
}

// ---------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------

/// A release Secret that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDecodeFailure {
    /// The Secret's name (`sh.helm.release.v1.<name>.v<version>`).
    pub secret: String,
    pub error: ReleaseDecodeError,
}

/// All stored revisions of one release in one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseHistory {
    pub name: String,
    pub namespace: String,
    /// Decoded revisions, in ascending `version` order.
    pub revisions: Vec<Release>,
    /// Secrets of this release that could not be decoded, by Secret name.
    pub errors: Vec<SecretDecodeFailure>,
}

impl ReleaseHistory {
    /// The highest revision.
    pub fn latest(&self) -> Option<&Release> {
        self.revisions.last()
    }

    /// The revision Helm considers current: the highest `deployed` one, else the latest.
    pub fn current(&self) -> Option<&Release> {
        self.revisions
            .iter()
            .rev()
            .find(|r| r.info.status == ReleaseStatus::Deployed)
            .or_else(|| self.latest())
    }

    /// A revision by version number.
    pub fn revision(&self, version: i64) -> Option<&Release> {
        self.revisions.iter().find(|r| r.version == version)
    }
}

/// Release name from a Secret that cannot be decoded: its `name` label, else its
/// Secret name (`sh.helm.release.v1.<name>.v<N>`), else the Secret name itself.
fn name_of_undecodable(secret: &Secret) -> String {
    if let Some(name) = secret.metadata.labels.as_ref().and_then(|l| l.get("name")) {
        return name.clone();
    }
    let secret_name = secret.metadata.name.as_deref().unwrap_or_default();
    secret_name
        .strip_prefix(RELEASE_SECRET_PREFIX)
        .and_then(|rest| rest.rsplit_once(".v"))
        .filter(|(_, v)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| secret_name.to_string())
}

/// Groups release Secrets by (namespace, release name) and orders each history by the
/// decoded `version` (so v10 comes after v9). A Secret that fails to decode is
/// reported in its release's `errors` and does not hide the others. Histories are
/// sorted by namespace, then name.
pub fn history(secrets: &[Secret]) -> Vec<ReleaseHistory> {
    let mut groups: BTreeMap<(String, String), ReleaseHistory> = BTreeMap::new();
    for secret in secrets {
        let secret_ns = secret.metadata.namespace.clone().unwrap_or_default();
        match release_from_secret(secret) {
            Ok(release) => {
                let name = if release.name.is_empty() {
                    name_of_undecodable(secret)
                } else {
                    release.name.clone()
                };
                let ns = release.namespace.clone();
                group(&mut groups, ns, name).revisions.push(release);
            }
            Err(error) => {
                let name = name_of_undecodable(secret);
                group(&mut groups, secret_ns, name)
                    .errors
                    .push(SecretDecodeFailure {
                        secret: secret.metadata.name.clone().unwrap_or_default(),
                        error,
                    });
            }
        }
    }
    groups
        .into_values()
        .map(|mut h| {
            h.revisions.sort_by_key(|r| r.version);
            h.errors.sort_by(|a, b| a.secret.cmp(&b.secret));
            h
        })
        .collect()
}

fn group(
    groups: &mut BTreeMap<(String, String), ReleaseHistory>,
    namespace: String,
    name: String,
) -> &mut ReleaseHistory {
    groups
        .entry((namespace.clone(), name.clone()))
        .or_insert_with(|| ReleaseHistory {
            name,
            namespace,
            revisions: Vec::new(),
            errors: Vec::new(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIXTURE: &str = include_str!("../../tests/fixtures/releases/shop-v3.json");
    const SECRET_FIXTURE: &str = include_str!("../../tests/fixtures/releases/secret-shop-v3.json");

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    /// What Helm's `encodeRelease` produces from a JSON document.
    fn helm_payload(json: &str) -> Vec<u8> {
        BASE64.encode(gzip(json.as_bytes())).into_bytes()
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn sample(name: &str, version: i64, status: ReleaseStatus) -> Release {
        Release {
            name: name.into(),
            namespace: "shop".into(),
            version,
            info: Info {
                first_deployed: Some(ts("2025-03-02T14:11:05Z")),
                last_deployed: Some(ts("2025-03-02T14:11:05Z")),
                deleted: None,
                description: "Install complete".into(),
                status,
                notes: None,
            },
            chart: Chart {
                metadata: ChartMetadata {
                    name: "shop".into(),
                    version: format!("2.3.{version}"),
                    app_version: "1.4.2".into(),
                    api_version: "v2".into(),
                    ..Default::default()
                },
                values: json!({"replicaCount": 1}),
            },
            config: json!({"replicaCount": 3}),
            manifest: "---\n# Source: shop/templates/service.yaml\napiVersion: v1\nkind: Service\n"
                .into(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn decodes_helm_formatted_payload() {
        let r = decode_release(&helm_payload(FIXTURE)).expect("decodes");
        assert_eq!(r.name, "shop");
        assert_eq!(r.namespace, "shop");
        assert_eq!(r.version, 3);
        assert_eq!(r.info.status, ReleaseStatus::Deployed);
        assert_eq!(r.info.description, "Upgrade complete");
        assert_eq!(r.info.deleted, None);
        // Helm writes local time with an offset and nanoseconds.
        assert_eq!(
            r.info.first_deployed,
            Some(ts("2025-03-02T14:11:05.312754109Z"))
        );
        assert_eq!(
            r.info.last_deployed,
            Some(ts("2025-05-14T09:20:08.913442021Z"))
        );
        assert!(
            r.info
                .notes
                .as_deref()
                .unwrap()
                .contains("port-forward svc/shop 8080:80")
        );
        let md = &r.chart.metadata;
        assert_eq!(md.name, "shop");
        assert_eq!(md.version, "2.3.1");
        assert_eq!(md.app_version, "1.4.3");
        assert_eq!(md.api_version, "v2");
        assert_eq!(md.chart_type, "application");
        assert_eq!(md.dependencies.len(), 1);
        assert_eq!(md.dependencies[0].name, "postgresql");
        assert_eq!(
            md.annotations
                .get("artifacthub.io/changes")
                .map(String::as_str),
            Some("- Add HPA\n")
        );
        assert_eq!(r.chart.values["image"]["tag"], json!(""));
        assert_eq!(
            r.config,
            json!({"image": {"tag": "1.4.3"}, "replicaCount": 3})
        );
        assert!(
            r.manifest
                .starts_with("---\n# Source: shop/templates/service.yaml\n")
        );
    }

    #[test]
    fn decodes_real_shaped_secret_from_api_json() {
        // The fixture is a Secret as the API server returns it: data.release is base64
        // of the base64 text of the gzip (double base64).
        let secret: Secret = serde_json::from_str(SECRET_FIXTURE).unwrap();
        let r = release_from_secret(&secret).expect("decodes");
        let expected = decode_release(&helm_payload(FIXTURE)).unwrap();
        assert_eq!(r.name, expected.name);
        assert_eq!(r.config, expected.config);
        assert_eq!(r.manifest, expected.manifest);
        assert_eq!(r.info, expected.info);
        assert_eq!(
            r.labels,
            BTreeMap::from([("team".to_string(), "payments".to_string())])
        );
    }

    #[test]
    fn round_trip() {
        let mut r = sample("shop", 4, ReleaseStatus::PendingUpgrade);
        r.info.notes = Some("Thank you for installing shop.".into());
        r.info.deleted = Some(ts("2025-05-14T11:00:00.5+02:00"));
        r.chart
            .metadata
            .annotations
            .insert("category".into(), "Commerce".into());
        let encoded = encode_release(&r).unwrap();
        let decoded = decode_release(encoded.as_bytes()).unwrap();
        assert_eq!(decoded, r);
        // And it is gzip underneath, like Helm's.
        assert!(BASE64.decode(&encoded).unwrap().starts_with(&GZIP_MAGIC));
    }

    #[test]
    fn zero_times_are_written_as_empty_strings() {
        let mut r = sample("shop", 1, ReleaseStatus::Deployed);
        r.info.first_deployed = None;
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["info"]["deleted"], json!(""));
        assert_eq!(v["info"]["first_deployed"], json!(""));
        assert_eq!(v["info"]["status"], json!("deployed"));
        assert_eq!(v["chart"]["metadata"]["appVersion"], json!("1.4.2"));
        assert_eq!(v["chart"]["metadata"]["apiVersion"], json!("v2"));
    }

    #[test]
    fn accepts_uncompressed_payload() {
        let payload = BASE64.encode(FIXTURE.as_bytes());
        let r = decode_release(payload.as_bytes()).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.chart.metadata.app_version, "1.4.3");
    }

    #[test]
    fn tolerates_line_breaks_in_base64() {
        let payload = String::from_utf8(helm_payload(FIXTURE)).unwrap();
        let wrapped: Vec<String> = payload
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let r = decode_release(wrapped.join("\r\n").as_bytes()).unwrap();
        assert_eq!(r.version, 3);
    }

    #[test]
    fn unknown_fields_missing_fields_and_nulls() {
        let json = r#"{
            "name": "minimal", "version": 2, "surprise": {"a": 1},
            "info": {"status": "some-future-status", "first_deployed": null,
                     "last_deployed": "0001-01-01T00:00:00Z", "resources": {"v1/Pod": []}},
            "chart": {"metadata": {"name": "minimal", "version": "0.1.0", "keywords": null,
                      "annotations": null}, "lock": null, "templates": null, "values": null,
                      "schema": null, "files": null},
            "config": null, "hooks": null
        }"#;
        let r = decode_release(BASE64.encode(json).as_bytes()).unwrap();
        assert_eq!(r.name, "minimal");
        assert_eq!(r.namespace, "");
        assert_eq!(r.info.status, ReleaseStatus::Unknown);
        assert_eq!(r.info.first_deployed, None);
        assert_eq!(r.info.last_deployed, None);
        assert_eq!(r.info.notes, None);
        assert!(r.chart.metadata.keywords.is_empty());
        assert!(r.config.is_null());
        assert!(r.chart.values.is_null());
        assert_eq!(r.manifest, "");
    }

    #[test]
    fn status_strings_and_pending() {
        for (s, status, pending) in [
            ("unknown", ReleaseStatus::Unknown, false),
            ("deployed", ReleaseStatus::Deployed, false),
            ("uninstalled", ReleaseStatus::Uninstalled, false),
            ("superseded", ReleaseStatus::Superseded, false),
            ("failed", ReleaseStatus::Failed, false),
            ("uninstalling", ReleaseStatus::Uninstalling, true),
            ("pending-install", ReleaseStatus::PendingInstall, true),
            ("pending-upgrade", ReleaseStatus::PendingUpgrade, true),
            ("pending-rollback", ReleaseStatus::PendingRollback, true),
        ] {
            let parsed: ReleaseStatus = serde_json::from_value(json!(s)).unwrap();
            assert_eq!(parsed, status);
            assert_eq!(serde_json::to_value(status).unwrap(), json!(s));
            assert_eq!(status.as_str(), s);
            assert_eq!(status.is_pending(), pending, "{s}");
        }
    }

    #[test]
    fn bad_base64() {
        let err = decode_release(b"not base64 at all!").unwrap_err();
        assert!(matches!(err, ReleaseDecodeError::Base64(_)), "{err:?}");
        assert!(err.to_string().contains("not valid base64"));
    }

    #[test]
    fn bad_gzip() {
        let mut bytes = GZIP_MAGIC.to_vec();
        bytes.extend_from_slice(&[0xff; 32]);
        let err = decode_release(BASE64.encode(bytes).as_bytes()).unwrap_err();
        assert!(matches!(err, ReleaseDecodeError::Gzip(_)), "{err:?}");
        assert!(err.to_string().contains("not valid gzip"));
    }

    #[test]
    fn truncated_gzip() {
        let full = gzip(FIXTURE.as_bytes());
        let cut = &full[..full.len() / 2];
        let err = decode_release(BASE64.encode(cut).as_bytes()).unwrap_err();
        assert!(matches!(err, ReleaseDecodeError::Gzip(_)), "{err:?}");
    }

    #[test]
    fn gzip_bomb_is_rejected_without_inflating_it_all() {
        // 100 MiB of zeros compresses to ~100 KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..100 {
            gz.write_all(&chunk).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let err = decode_release(BASE64.encode(&bomb).as_bytes()).unwrap_err();
        assert_eq!(
            err,
            ReleaseDecodeError::TooLarge {
                limit: MAX_INFLATED
            }
        );
        assert!(err.to_string().contains("67108864"));
    }

    #[test]
    fn inflate_stops_at_the_limit() {
        let compressed = gzip(&[b'x'; 10_000]);
        assert_eq!(inflate_bounded(&compressed, 10_000).unwrap().len(), 10_000);
        assert_eq!(
            inflate_bounded(&compressed, 9_999).unwrap_err(),
            ReleaseDecodeError::TooLarge { limit: 9_999 }
        );
    }

    #[test]
    fn bad_json() {
        let payload = BASE64.encode(gzip(b"{\"name\": \"shop\", \"version\": \"three\"}"));
        let err = decode_release(payload.as_bytes()).unwrap_err();
        assert!(matches!(err, ReleaseDecodeError::Json(_)), "{err:?}");
        assert!(err.to_string().contains("release JSON is invalid"));
    }

    #[test]
    fn secret_is_built_like_helm() {
        let mut r = sample("shop", 12, ReleaseStatus::Superseded);
        r.labels.insert("team".into(), "payments".into());
        r.labels.insert("owner".into(), "someone-else".into());
        let s = release_secret(&r).unwrap();
        assert_eq!(
            s.metadata.name.as_deref(),
            Some("sh.helm.release.v1.shop.v12")
        );
        assert_eq!(s.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(s.type_.as_deref(), Some("helm.sh/release.v1"));
        let labels = s.metadata.labels.clone().unwrap();
        assert_eq!(
            labels,
            BTreeMap::from(
                [
                    ("name", "shop"),
                    ("owner", "helm"),
                    ("status", "superseded"),
                    ("team", "payments"),
                    ("version", "12"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
            )
        );
        let data = s.data.as_ref().unwrap();
        assert_eq!(data.len(), 1);
        // data.release holds the base64 text; serialised for the API it is base64 again.
        let payload = &data["release"].0;
        assert!(BASE64.decode(payload).unwrap().starts_with(&GZIP_MAGIC));
        let api_json = serde_json::to_value(&s).unwrap();
        let outer = api_json["data"]["release"].as_str().unwrap();
        assert_eq!(BASE64.decode(outer).unwrap(), *payload);

        let back = release_from_secret(&s).unwrap();
        assert_eq!(
            back.labels,
            BTreeMap::from([("team".to_string(), "payments".to_string())])
        );
        r.labels.remove("owner");
        assert_eq!(back, r);
    }

    #[test]
    fn secret_checks() {
        let good = release_secret(&sample("shop", 1, ReleaseStatus::Deployed)).unwrap();

        let mut wrong_type = good.clone();
        wrong_type.type_ = Some("Opaque".into());
        assert_eq!(
            release_from_secret(&wrong_type).unwrap_err(),
            ReleaseDecodeError::NotAReleaseSecret {
                found: Some("Opaque".into())
            }
        );

        let mut no_data = good.clone();
        no_data.data = None;
        assert_eq!(
            release_from_secret(&no_data).unwrap_err(),
            ReleaseDecodeError::MissingPayload
        );

        let mut other_key = good;
        other_key.data = Some(BTreeMap::from([(
            "values".to_string(),
            ByteString(b"e30=".to_vec()),
        )]));
        assert_eq!(
            release_from_secret(&other_key).unwrap_err(),
            ReleaseDecodeError::MissingPayload
        );
    }

    #[test]
    fn history_orders_by_decoded_version() {
        let mut secrets: Vec<Secret> = (1..=11)
            .map(|v| {
                let status = if v == 11 {
                    ReleaseStatus::Deployed
                } else {
                    ReleaseStatus::Superseded
                };
                release_secret(&sample("shop", v, status)).unwrap()
            })
            .collect();
        // Shuffle, and sort by Secret name: "...v10" < "...v11" < "...v2".
        secrets.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        secrets.swap(0, 7);
        secrets.reverse();
        let histories = history(&secrets);
        assert_eq!(histories.len(), 1);
        let h = &histories[0];
        assert_eq!((h.name.as_str(), h.namespace.as_str()), ("shop", "shop"));
        let versions: Vec<i64> = h.revisions.iter().map(|r| r.version).collect();
        assert_eq!(versions, (1..=11).collect::<Vec<_>>());
        assert_eq!(h.latest().unwrap().version, 11);
        assert_eq!(h.current().unwrap().version, 11);
        assert_eq!(h.revision(10).unwrap().chart.metadata.version, "2.3.10");
        assert!(h.errors.is_empty());
    }

    #[test]
    fn current_is_deployed_revision_else_latest() {
        let secrets: Vec<Secret> = [
            (1, ReleaseStatus::Superseded),
            (2, ReleaseStatus::Deployed),
            (3, ReleaseStatus::Failed),
        ]
        .into_iter()
        .map(|(v, s)| release_secret(&sample("shop", v, s)).unwrap())
        .collect();
        let h = &history(&secrets)[0];
        assert_eq!(h.latest().unwrap().version, 3);
        assert_eq!(h.current().unwrap().version, 2);

        let pending = [release_secret(&sample("api", 1, ReleaseStatus::PendingInstall)).unwrap()];
        let h = &history(&pending)[0];
        assert_eq!(h.current().unwrap().version, 1);
        assert!(h.current().unwrap().info.status.is_pending());
    }

    #[test]
    fn malformed_secret_does_not_hide_the_others() {
        let mut secrets: Vec<Secret> = (1..=3)
            .map(|v| release_secret(&sample("shop", v, ReleaseStatus::Superseded)).unwrap())
            .collect();
        secrets.push(release_secret(&sample("api", 1, ReleaseStatus::Deployed)).unwrap());
        // Revision 4 of shop is corrupt.
        let mut bad = release_secret(&sample("shop", 4, ReleaseStatus::Deployed)).unwrap();
        bad.data = Some(BTreeMap::from([(
            "release".to_string(),
            ByteString(b"H4sI%%%garbage".to_vec()),
        )]));
        secrets.insert(1, bad);
        // A corrupt Secret without labels: the release name comes from the Secret name.
        let mut unlabelled = release_secret(&sample("api", 2, ReleaseStatus::Deployed)).unwrap();
        unlabelled.metadata.labels = None;
        unlabelled.data = Some(BTreeMap::from([(
            "release".to_string(),
            ByteString(BASE64.encode(b"{not json").into_bytes()),
        )]));
        secrets.push(unlabelled);

        let histories = history(&secrets);
        assert_eq!(histories.len(), 2);
        let api = &histories[0];
        assert_eq!(api.name, "api");
        assert_eq!(api.revisions.len(), 1);
        assert_eq!(api.errors.len(), 1);
        assert_eq!(api.errors[0].secret, "sh.helm.release.v1.api.v2");
        assert!(matches!(api.errors[0].error, ReleaseDecodeError::Json(_)));

        let shop = &histories[1];
        assert_eq!(shop.name, "shop");
        let versions: Vec<i64> = shop.revisions.iter().map(|r| r.version).collect();
        assert_eq!(versions, vec![1, 2, 3]);
        assert_eq!(shop.errors.len(), 1);
        assert_eq!(shop.errors[0].secret, "sh.helm.release.v1.shop.v4");
        assert!(matches!(
            shop.errors[0].error,
            ReleaseDecodeError::Base64(_)
        ));
        // With revision 4 unreadable, nothing is deployed: current falls back to latest.
        assert_eq!(shop.current().unwrap().version, 3);
    }

    #[test]
    fn same_release_name_in_two_namespaces_are_two_histories() {
        let a = sample("shop", 1, ReleaseStatus::Deployed);
        let mut b = sample("shop", 1, ReleaseStatus::Deployed);
        b.namespace = "shop-staging".into();
        let histories = history(&[release_secret(&b).unwrap(), release_secret(&a).unwrap()]);
        let keys: Vec<(&str, &str)> = histories
            .iter()
            .map(|h| (h.namespace.as_str(), h.name.as_str()))
            .collect();
        assert_eq!(keys, vec![("shop", "shop"), ("shop-staging", "shop")]);
    }
}
