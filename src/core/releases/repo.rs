//! Chart repositories: a Helm repository's `index.yaml` fetched over HTTP(S) (basic auth,
//! bearer token, a custom CA), cached on disk and revalidated with its ETag, and the
//! versions of a chart newer than the installed one, classified by semver.
//!
//! The index format is Helm's (`pkg/repo/index.go`): `apiVersion`, `entries` (chart name →
//! versions, each a `Chart.yaml` plus `urls`, `created`, `digest`), `generated`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The annotation Artifact Hub reads a chart version's changes from.
pub const CHANGES_ANNOTATION: &str = "artifacthub.io/changes";

/// Why a repository index could not be read or a chart's versions listed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("chart repository {url} cannot be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("chart repository {url} answered HTTP {status}{hint}")]
    Status {
        url: String,
        status: u16,
        hint: &'static str,
    },
    #[error("chart repository index {url} is not a valid index.yaml: {message}")]
    Malformed { url: String, message: String },
    #[error("chart {chart:?} is not in the repository {url} (it has: {available})")]
    NoSuchChart {
        chart: String,
        url: String,
        available: String,
    },
    #[error("installed chart version {version:?} is not a semantic version: {message}")]
    BadInstalledVersion { version: String, message: String },
    #[error("CA file {path}: {message}")]
    Ca { path: PathBuf, message: String },
    #[error("chart repository client: {0}")]
    Client(String),
}

/// How to authenticate to a chart repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RepoAuth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

/// Where a repository is and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoOptions {
    /// The repository URL (`https://charts.example.com/stable`) or its index.yaml.
    pub url: String,
    pub auth: RepoAuth,
    /// A PEM file of extra CA certificates (added to the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Where the index and its ETag are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    pub timeout: Duration,
}

impl RepoOptions {
    /// Options for `url` with no auth, the default cache directory and a 30 s timeout.
    pub fn new(url: impl Into<String>) -> RepoOptions {
        RepoOptions {
            url: url.into(),
            auth: RepoAuth::None,
            ca_file: None,
            cache_dir: default_cache_dir(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The URL of the index: the repository URL with `/index.yaml` unless it names a file.
    pub fn index_url(&self) -> String {
        let url = self.url.trim_end_matches('/');
        if url.ends_with(".yaml") || url.ends_with(".yml") {
            url.to_string()
        } else {
            format!("{url}/index.yaml")
        }
    }
}

/// `$XDG_CACHE_HOME/helmdeck/repos`, else `~/.cache/helmdeck/repos`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".cache"))
        })?;
    Some(base.join("helmdeck").join("repos"))
}

/// A Helm repository index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoIndex {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
}

/// One version of a chart in the index (`repo.ChartVersion`): the fields the console uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
}

impl RepoIndex {
    /// Parses an index.yaml (`url` is for the error message).
    pub fn parse(text: &[u8], url: &str) -> Result<RepoIndex, RepoError> {
        let malformed = |message: String| RepoError::Malformed {
            url: url.to_string(),
            message,
        };
        let index: RepoIndex =
            crate::core::yaml::from_slice(text).map_err(|e| malformed(e.to_string()))?;
        if index.api_version.is_empty() && index.entries.is_empty() {
            return Err(malformed(
                "no apiVersion and no entries (is this a Helm repository?)".into(),
            ));
        }
        Ok(index)
    }

    /// The versions of `chart`, or why there are none.
    pub fn chart(&self, chart: &str, url: &str) -> Result<&[IndexEntry], RepoError> {
        self.entries
            .get(chart)
            .map(Vec::as_slice)
            .ok_or_else(|| RepoError::NoSuchChart {
                chart: chart.to_string(),
                url: url.to_string(),
                available: {
                    let names: Vec<&str> =
                        self.entries.keys().map(String::as_str).take(20).collect();
                    if names.is_empty() {
                        "no charts".to_string()
                    } else {
                        names.join(", ")
                    }
                },
            })
    }
}

/// An index as fetched: parsed, and whether it came from the cache (HTTP 304).
#[derive(Debug, Clone)]
pub struct FetchedIndex {
    pub index: RepoIndex,
    pub url: String,
    /// The server said 304 Not Modified: the cached copy was used.
    pub from_cache: bool,
}

/// A client for one chart repository.
pub struct ChartRepo {
    opts: RepoOptions,
    client: reqwest::Client,
}

impl ChartRepo {
    /// Builds the HTTP client (TLS through rustls with the ring provider, the system's
    /// roots plus `ca_file`).
    pub fn new(opts: RepoOptions) -> Result<ChartRepo, RepoError> {
        // kube uses rustls with ring too; make it the process default once (an error only
        // means a provider is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("helmdeck/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &opts.ca_file {
            let ca = |message: String| RepoError::Ca {
                path: path.clone(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| ca(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca("no PEM certificate in it".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| RepoError::Client(error_chain(&e)))?;
        Ok(ChartRepo { opts, client })
    }

    pub fn options(&self) -> &RepoOptions {
        &self.opts
    }

    fn cache_paths(&self) -> Option<(PathBuf, PathBuf)> {
        let dir = self.opts.cache_dir.as_ref()?;
        let key = cache_key(&self.opts.index_url());
        Some((
            dir.join(format!("{key}.yaml")),
            dir.join(format!("{key}.etag")),
        ))
    }

    /// Fetches the index, sending the cached ETag as `If-None-Match`; a 304 reuses the
    /// cached copy, a 200 replaces it.
    pub async fn fetch_index(&self) -> Result<FetchedIndex, RepoError> {
        let url = self.opts.index_url();
        let cache = self.cache_paths();
        let cached = cache.as_ref().and_then(|(body, etag)| {
            let etag = std::fs::read_to_string(etag).ok()?;
            let body = std::fs::read(body).ok()?;
            Some((etag.trim().to_string(), body))
        });
        let mut req = self.client.get(&url);
        req = match &self.opts.auth {
            RepoAuth::None => req,
            RepoAuth::Basic { username, password } => req.basic_auth(username, Some(password)),
            RepoAuth::Bearer(token) => req.bearer_auth(token),
        };
        if let Some((etag, _)) = &cached {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let resp = req.send().await.map_err(|e| RepoError::Unreachable {
            url: url.clone(),
            message: error_chain(&e),
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED
            && let Some((_, body)) = cached
        {
            return Ok(FetchedIndex {
                index: RepoIndex::parse(&body, &url)?,
                url,
                from_cache: true,
            });
        }
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => " (unauthorised: check the username/password or token)",
                403 => " (forbidden: the credentials lack access)",
                404 => " (not found: check the repository URL)",
                _ => "",
            };
            return Err(RepoError::Status {
                url,
                status: status.as_u16(),
                hint,
            });
        }
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await.map_err(|e| RepoError::Unreachable {
            url: url.clone(),
            message: error_chain(&e),
        })?;
        let index = RepoIndex::parse(&body, &url)?;
        if let (Some((body_path, etag_path)), Some(etag)) = (cache, etag) {
            // The cache is an optimisation: failing to write it is not an error.
            if let Err(e) = write_cache(&body_path, &etag_path, &body, &etag) {
                tracing::warn!(error = %e, path = %body_path.display(), "cannot cache the chart index");
            }
        }
        Ok(FetchedIndex {
            index,
            url,
            from_cache: false,
        })
    }
}

fn write_cache(body_path: &Path, etag_path: &Path, body: &[u8], etag: &str) -> std::io::Result<()> {
    if let Some(dir) = body_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Body first, then the ETag: a torn write leaves an ETag-less body, which is refetched.
    let _ = std::fs::remove_file(etag_path);
    let tmp = body_path.with_extension("yaml.tmp");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, body_path)?;
    std::fs::write(etag_path, etag)
}

/// A file-name-safe key for a URL (hex SHA-256 prefix).
fn cache_key(url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(url.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// An error with its sources, as one line (reqwest hides the cause in `source()`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        src = s.source();
    }
    out
}

// ---------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------

/// How big a version jump is, by semver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Jump {
    Patch,
    Minor,
    Major,
}

impl Jump {
    /// Classifies `from → to` (with `to > from`). Under semver a `0.y` minor bump may
    /// break, so `0.3.1 → 0.4.0` is MAJOR.
    pub fn classify(from: &semver::Version, to: &semver::Version) -> Jump {
        if to.major != from.major || (from.major == 0 && to.minor != from.minor) {
            Jump::Major
        } else if to.minor != from.minor {
            Jump::Minor
        } else {
            Jump::Patch
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Jump::Patch => "patch",
            Jump::Minor => "minor",
            Jump::Major => "MAJOR",
        }
    }

    /// What the jump means for the operator.
    pub fn meaning(self) -> &'static str {
        match self {
            Jump::Patch => "fixes only, backwards compatible",
            Jump::Minor => "new features, backwards compatible",
            Jump::Major => "breaking changes possible; read the changelog",
        }
    }
}

/// A version of the chart the release could be upgraded to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionOffer {
    pub from: String,
    #[serde(serialize_with = "ser_display")]
    pub version: semver::Version,
    pub jump: Jump,
    pub prerelease: bool,
    pub app_version: String,
    pub deprecated: bool,
    pub created: Option<String>,
    /// The chart's changelog lines, from its `artifacthub.io/changes` annotation.
    pub changes: Vec<String>,
    pub annotations: BTreeMap<String, String>,
}

fn ser_display<S: serde::Serializer>(v: &semver::Version, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl VersionOffer {
    /// "1.4.2 → 2.0.0: MAJOR — breaking changes possible; read the changelog".
    pub fn headline(&self) -> String {
        let mut line = format!(
            "{} → {}: {} — {}",
            self.from,
            self.version,
            self.jump.as_str(),
            self.jump.meaning()
        );
        if self.prerelease {
            line.push_str(" (pre-release)");
        }
        if self.deprecated {
            line.push_str(" (deprecated)");
        }
        line
    }
}

/// Parses a chart version as Helm does (Masterminds semver): a leading `v` and missing
/// minor/patch numbers are accepted (`v1.2` is 1.2.0).
pub fn parse_version(text: &str) -> Result<semver::Version, semver::Error> {
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    if let Ok(v) = semver::Version::parse(t) {
        return Ok(v);
    }
    // Pad "1" / "1.2" (before any pre-release or build suffix).
    let split = t.find(['-', '+']).unwrap_or(t.len());
    let (core, rest) = t.split_at(split);
    let dots = core.matches('.').count();
    if dots < 2 && !core.is_empty() {
        let padded = format!("{core}{}{rest}", ".0".repeat(2 - dots));
        if let Ok(v) = semver::Version::parse(&padded) {
            return Ok(v);
        }
    }
    semver::Version::parse(t)
}

/// Compares two versions by SemVer precedence (§11), which ignores build metadata (§10), as
/// Helm does: `4.12.0+hotfix.1` is not newer than `4.12.0`.
pub fn cmp_precedence(a: &semver::Version, b: &semver::Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch, &a.pre).cmp(&(b.major, b.minor, b.patch, &b.pre))
}

/// The versions of a chart newer than `installed`, newest first. Pre-releases only when
/// `include_prerelease`; never a version lower than or equal to the installed one;
/// versions that are not semver are skipped.
pub fn newer_versions(
    entries: &[IndexEntry],
    installed: &str,
    include_prerelease: bool,
) -> Result<Vec<VersionOffer>, RepoError> {
    let from = parse_version(installed).map_err(|e| RepoError::BadInstalledVersion {
        version: installed.to_string(),
        message: e.to_string(),
    })?;
    let mut offers: Vec<VersionOffer> = entries
        .iter()
        .filter_map(|e| {
            let v = parse_version(&e.version).ok()?;
            if cmp_precedence(&v, &from).is_le() || (!v.pre.is_empty() && !include_prerelease) {
                return None;
            }
            Some(VersionOffer {
                from: installed.to_string(),
                jump: Jump::classify(&from, &v),
                prerelease: !v.pre.is_empty(),
                version: v,
                app_version: e.app_version.clone(),
                deprecated: e.deprecated,
                created: e.created.clone(),
                changes: changes_of(&e.annotations),
                annotations: e.annotations.clone(),
            })
        })
        .collect();
    // Newest first; builds of one version (equal precedence) are offered once.
    offers.sort_by(|a, b| cmp_precedence(&b.version, &a.version));
    offers.dedup_by(|a, b| cmp_precedence(&a.version, &b.version).is_eq());
    Ok(offers)
}

/// The changelog lines of a chart version: `artifacthub.io/changes` is YAML, either a list
/// of strings or a list of `{kind, description}`; any other `*changelog*` annotation is
/// taken as text.
pub fn changes_of(annotations: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(text) = annotations.get(CHANGES_ANNOTATION) {
        match crate::core::yaml::from_str::<serde_yaml::Value>(text) {
            Ok(serde_yaml::Value::Sequence(items)) => {
                for item in items {
                    match item {
                        serde_yaml::Value::String(s) => out.push(s),
                        serde_yaml::Value::Mapping(m) => {
                            let get = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("");
                            let (kind, desc) = (get("kind"), get("description"));
                            out.push(if kind.is_empty() {
                                desc.to_string()
                            } else {
                                format!("{kind}: {desc}")
                            });
                        }
                        other => out.push(
                            serde_yaml::to_string(&other)
                                .unwrap_or_default()
                                .trim()
                                .to_string(),
                        ),
                    }
                }
            }
            _ => out.extend(
                text.lines()
                    .map(str::to_string)
                    .filter(|l| !l.trim().is_empty()),
            ),
        }
    }
    for (k, v) in annotations {
        if k != CHANGES_ANNOTATION && k.to_ascii_lowercase().contains("changelog") {
            out.push(format!("{k}: {v}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str) -> IndexEntry {
        IndexEntry {
            name: "shop".into(),
            version: version.into(),
            ..Default::default()
        }
    }

    fn versions(offers: &[VersionOffer]) -> Vec<String> {
        offers.iter().map(|o| o.version.to_string()).collect()
    }

    #[test]
    fn classifies_and_never_offers_a_downgrade() {
        let entries: Vec<IndexEntry> = [
            "1.4.1",
            "1.4.2",
            "1.4.3",
            "1.5.0",
            "2.0.0",
            "2.1.0-rc.1",
            "1.3.9",
            "not-semver",
            "v1.6",
        ]
        .into_iter()
        .map(entry)
        .collect();
        let offers = newer_versions(&entries, "1.4.2", false).unwrap();
        assert_eq!(versions(&offers), ["2.0.0", "1.6.0", "1.5.0", "1.4.3"]);
        let jumps: Vec<Jump> = offers.iter().map(|o| o.jump).collect();
        assert_eq!(jumps, [Jump::Major, Jump::Minor, Jump::Minor, Jump::Patch]);
        assert_eq!(
            offers[0].headline(),
            "1.4.2 → 2.0.0: MAJOR — breaking changes possible; read the changelog"
        );
        assert_eq!(
            offers[3].headline(),
            "1.4.2 → 1.4.3: patch — fixes only, backwards compatible"
        );

        let with_pre = newer_versions(&entries, "1.4.2", true).unwrap();
        assert_eq!(with_pre[0].version.to_string(), "2.1.0-rc.1");
        assert!(with_pre[0].prerelease);
        assert!(with_pre[0].headline().ends_with("(pre-release)"));

        // Installed is the newest: nothing to offer.
        assert!(newer_versions(&entries, "2.0.0", false).unwrap().is_empty());
        // A release candidate installed: its final release is newer.
        let from_rc = newer_versions(&entries, "2.0.0-rc.2", false).unwrap();
        assert_eq!(versions(&from_rc), ["2.0.0"]);
    }

    #[test]
    fn build_metadata_takes_no_part_in_precedence() {
        let offers = newer_versions(
            &[
                entry("4.12.0+hotfix.1"),
                entry("4.12.1+build.7"),
                entry("4.12.1+build.8"),
                entry("4.12.0"),
            ],
            "4.12.0",
            false,
        )
        .unwrap();
        // Not newer than what runs; two builds of 4.12.1 offered once.
        assert_eq!(offers.len(), 1, "{:?}", versions(&offers));
        assert_eq!(offers[0].version.major, 4);
        assert_eq!((offers[0].version.minor, offers[0].version.patch), (12, 1));
        let v = |t: &str| parse_version(t).unwrap();
        assert!(cmp_precedence(&v("1.0.0+a"), &v("1.0.0+b")).is_eq());
        assert!(cmp_precedence(&v("1.0.0-rc.1"), &v("1.0.0")).is_lt());
    }

    #[test]
    fn zero_major_minor_bump_is_major() {
        let from = parse_version("0.3.1").unwrap();
        assert_eq!(
            Jump::classify(&from, &parse_version("0.4.0").unwrap()),
            Jump::Major
        );
        assert_eq!(
            Jump::classify(&from, &parse_version("0.3.2").unwrap()),
            Jump::Patch
        );
    }

    #[test]
    fn bad_installed_version() {
        let err = newer_versions(&[entry("1.0.0")], "latest", false).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"latest\" is not a semantic version"),
            "{err}"
        );
    }

    #[test]
    fn changes_from_annotations() {
        let mut a = BTreeMap::new();
        a.insert(
            CHANGES_ANNOTATION.to_string(),
            "- kind: changed\n  description: Router needs Kafka 3.7\n- kind: fixed\n  description: Retry on 503\n".to_string(),
        );
        assert_eq!(
            changes_of(&a),
            ["changed: Router needs Kafka 3.7", "fixed: Retry on 503"]
        );
        a.insert(
            CHANGES_ANNOTATION.to_string(),
            "- Add HPA\n- Drop v1 API\n".to_string(),
        );
        a.insert(
            "example.com/changelog".into(),
            "https://example.com/CHANGELOG.md".into(),
        );
        assert_eq!(
            changes_of(&a),
            [
                "Add HPA",
                "Drop v1 API",
                "example.com/changelog: https://example.com/CHANGELOG.md"
            ]
        );
    }

    #[test]
    fn malformed_index() {
        let err = RepoIndex::parse(b"entries: [unclosed", "http://x/index.yaml").unwrap_err();
        assert!(matches!(err, RepoError::Malformed { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("http://x/index.yaml is not a valid index.yaml")
        );
        let err = RepoIndex::parse(b"hello: world\n", "http://x/index.yaml").unwrap_err();
        assert!(
            err.to_string().contains("is this a Helm repository"),
            "{err}"
        );
        let idx = RepoIndex::parse(b"apiVersion: v1\nentries:\n  a: []\n", "u").unwrap();
        let err = idx.chart("shop", "u").unwrap_err();
        assert!(err.to_string().contains("it has: a"), "{err}");
    }

    #[test]
    fn index_url() {
        assert_eq!(
            RepoOptions::new("http://h/charts/").index_url(),
            "http://h/charts/index.yaml"
        );
        assert_eq!(
            RepoOptions::new("http://h/x/index.yaml").index_url(),
            "http://h/x/index.yaml"
        );
    }
}
