//! Where backups are kept: a local directory (a path or `file:///path`), or a prefix in
//! object storage — `s3://bucket/prefix`, `az://container/prefix`, `gs://bucket/prefix` —
//! through the `object_store` crate, with credentials from each cloud's usual environment
//! (`AWS_*`, `AZURE_*`, `GOOGLE_*` variables and the files they name; never the config).
//!
//! In object storage a backup is two objects: the archive `<ns>_<release>_<time>.tar.gz`
//! (the same bytes as on disk) and, written after it, `<archive>.json` holding the archive's
//! manifest, its SHA-256 and size. Listing reads only the small `.json` objects, so an
//! upload cut short (an archive without its `.json`) is never listed; a download is checked
//! against the SHA-256 before it is opened, then every file against the manifest's.

use super::backup::{self, Backup, BackupInfo, BackupManifest};
use anyhow::{Context, Result, anyhow, bail};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place backups are kept.
#[derive(Debug, Clone)]
pub enum BackupStore {
    Dir(PathBuf),
    Remote(Remote),
}

/// A prefix in object storage.
#[derive(Debug, Clone)]
pub struct Remote {
    /// `scheme://bucket` as given (no credentials are ever part of it).
    base: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

/// `<archive>.json`: what listing reads instead of the archive.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    archive_sha256: String,
    bytes: u64,
    manifest: BackupManifest,
}

const SIDECAR: &str = ".json";

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl BackupStore {
    /// A directory path, `file:///path`, or an `s3://`, `az://`/`azure://` or `gs://` URL.
    pub fn parse(location: &str) -> Result<Self> {
        let Some((scheme, rest)) = location.split_once("://") else {
            return Ok(BackupStore::Dir(PathBuf::from(location)));
        };
        if scheme == "file" {
            if !rest.starts_with('/') {
                bail!("{location}: a file URL needs an absolute path (file:///path)");
            }
            return Ok(BackupStore::Dir(PathBuf::from(rest)));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("{location}: no bucket or container named");
        }
        let base = format!("{scheme}://{bucket}");
        let store = build(scheme, &base).with_context(|| format!("backup location {base}"))?;
        let prefix = ObjectPath::parse(prefix.trim_matches('/'))
            .map_err(|e| anyhow!("{location}: the prefix is not a valid object path: {e}"))?;
        Ok(BackupStore::Remote(Remote {
            base,
            store,
            prefix,
        }))
    }

    /// The store named by `--to`/`--dir`, else the config's `backup_dir` (a path or URL),
    /// else the data directory's `backups`.
    pub fn from_config(given: Option<&str>, config: &crate::config::Config) -> Result<Self> {
        match given {
            Some(g) => Self::parse(g),
            None => Self::parse(&backup::backup_dir(config)?.to_string_lossy()),
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            BackupStore::Dir(d) => d.display().to_string(),
            BackupStore::Remote(r) => r.url_of(&r.prefix),
        }
    }

    /// Backs up a release (see [`backup::create_with`]) into this store.
    pub async fn create(
        &self,
        client: &kube::Client,
        namespace: &str,
        release: &str,
        extras: Vec<(String, Vec<u8>)>,
    ) -> Result<BackupInfo> {
        match self {
            BackupStore::Dir(d) => backup::create_with(client, namespace, release, d, extras).await,
            BackupStore::Remote(r) => r.create(client, namespace, release, extras).await,
        }
    }

    /// The backups (of `release` in `namespace` when given), newest first.
    pub async fn list(
        &self,
        namespace: Option<&str>,
        release: Option<&str>,
    ) -> Result<Vec<BackupInfo>> {
        match self {
            BackupStore::Dir(d) => {
                let (d, ns, rel) = (
                    d.clone(),
                    namespace.map(str::to_owned),
                    release.map(str::to_owned),
                );
                tokio::task::spawn_blocking(move || backup::list(&d, ns.as_deref(), rel.as_deref()))
                    .await?
            }
            BackupStore::Remote(r) => r.list(namespace, release).await,
        }
    }

    /// Reads a backup (`which`: a file, a file name in the store, or an object's URL) and
    /// verifies it.
    pub async fn read(&self, which: &Path) -> Result<Backup> {
        match self {
            BackupStore::Dir(d) => {
                let path = if which.is_absolute() || which.exists() {
                    which.to_path_buf()
                } else {
                    d.join(which)
                };
                tokio::task::spawn_blocking(move || backup::read(&path)).await?
            }
            BackupStore::Remote(r) => r.read(which).await,
        }
    }

    /// The newest backup of `namespace/release`, read and verified.
    pub async fn newest(&self, namespace: &str, release: &str) -> Result<Backup> {
        let newest = self
            .list(Some(namespace), Some(release))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no backup of {namespace}/{release} in {}", self.describe()))?;
        self.read(&newest.path).await
    }

    /// Removes the backups of `namespace/release` beyond the newest `keep` (at least 1, so
    /// the newest is never removed); returns where the removed ones were.
    pub async fn prune(&self, namespace: &str, release: &str, keep: usize) -> Result<Vec<String>> {
        if keep == 0 {
            bail!("--keep must be at least 1: the newest backup of a release is never removed");
        }
        let list = self.list(Some(namespace), Some(release)).await?;
        let mut removed = Vec::new();
        for old in list.into_iter().skip(keep) {
            match self {
                BackupStore::Dir(_) => std::fs::remove_file(&old.path)
                    .with_context(|| format!("removing {}", old.path.display()))?,
                BackupStore::Remote(r) => r.remove(&old.path).await?,
            }
            removed.push(old.path.display().to_string());
        }
        Ok(removed)
    }
}

/// `(namespace, release, taken)` from a backup archive's name
/// (`<namespace>_<release>_<YYYYmmddTHHMMSS.fffZ>.tar.gz`; Kubernetes names hold no `_`).
pub fn parse_archive_name(name: &str) -> Option<(String, String, jiff::Timestamp)> {
    let stem = name.strip_suffix(".tar.gz")?;
    let mut parts = stem.splitn(3, '_');
    let (ns, release, when) = (parts.next()?, parts.next()?, parts.next()?);
    let taken = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S%.fZ", when)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp();
    Some((ns.to_string(), release.to_string(), taken))
}

/// When each release was last backed up, from the archives' names alone (one directory
/// read or one object listing; nothing is downloaded). In object storage only backups
/// whose record was written count.
pub async fn newest_by_release(
    store: &BackupStore,
) -> Result<std::collections::BTreeMap<(String, String), jiff::Timestamp>> {
    let names: Vec<String> = match store {
        BackupStore::Dir(d) => match std::fs::read_dir(d) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
        },
        BackupStore::Remote(r) => r.archive_names().await?,
    };
    let mut newest = std::collections::BTreeMap::new();
    for (ns, release, taken) in names.iter().filter_map(|n| parse_archive_name(n)) {
        let e = newest.entry((ns, release)).or_insert(taken);
        if taken > *e {
            *e = taken;
        }
    }
    Ok(newest)
}

/// When each release was last backed up, as the console keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupAges {
    /// The schedule (`backup_every`).
    pub every: std::time::Duration,
    /// The newest backup of each (namespace, release); or why they could not be listed.
    pub newest:
        std::result::Result<std::collections::BTreeMap<(String, String), jiff::Timestamp>, String>,
}

impl BackupAges {
    /// Why `namespace/release` counts as not backed up: no backup, or its newest is older
    /// than twice the schedule (`None` when it is fresh, or when the ages are unknown).
    pub fn stale(&self, namespace: &str, release: &str, now: jiff::Timestamp) -> Option<String> {
        let newest = self.newest.as_ref().ok()?;
        let every = crate::core::duration::human_duration(self.every.as_millis() as i64);
        match newest.get(&(namespace.to_string(), release.to_string())) {
            None => Some(format!("no backup (backups every {every})")),
            Some(at) => {
                let age = (now.as_second() - at.as_second()).max(0);
                (age > 2 * self.every.as_secs() as i64).then(|| {
                    format!(
                        "newest backup {} old (backups every {every})",
                        crate::core::duration::human_duration(age * 1000)
                    )
                })
            }
        }
    }
}

/// The object store for `scheme`, configured from the environment.
fn build(scheme: &str, base: &str) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::AmazonS3Builder;
    use object_store::azure::MicrosoftAzureBuilder;
    use object_store::gcp::GoogleCloudStorageBuilder;
    // The chart repositories' TLS uses ring; so does object storage over https.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(match scheme {
        "s3" | "s3a" => Arc::new(AmazonS3Builder::from_env().with_url(base).build()?),
        "az" | "azure" | "abfs" | "abfss" => {
            Arc::new(MicrosoftAzureBuilder::from_env().with_url(base).build()?)
        }
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(base)
                .build()?,
        ),
        other => bail!(
            "{other}:// is not a backup location helmdeck knows: use a directory, file:///path, s3://, az:// or gs://"
        ),
    })
}

impl Remote {
    fn url_of(&self, key: &ObjectPath) -> String {
        if key.as_ref().is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, key)
        }
    }

    /// The object a backup's `path` names: an URL of this store, or a bare file name.
    fn key_of(&self, which: &Path) -> Result<ObjectPath> {
        let s = which.to_string_lossy();
        if let Some(key) = s.strip_prefix(&format!("{}/", self.base)) {
            return ObjectPath::parse(key).map_err(|e| anyhow!("{s}: {e}"));
        }
        if s.contains("://") {
            bail!("{s} is not in {}", self.base);
        }
        let name = which
            .file_name()
            .ok_or_else(|| anyhow!("{s} names no backup"))?
            .to_string_lossy();
        Ok(self.prefix.clone().join(name.as_ref()))
    }

    async fn create(
        &self,
        client: &kube::Client,
        namespace: &str,
        release: &str,
        extras: Vec<(String, Vec<u8>)>,
    ) -> Result<BackupInfo> {
        // The archive is made exactly as on disk, in a private temporary directory.
        let tmp = tempfile::tempdir().context("a temporary directory for the archive")?;
        let local = backup::create_with(client, namespace, release, tmp.path(), extras).await?;
        let data = tokio::fs::read(&local.path).await?;
        let name = local
            .path
            .file_name()
            .ok_or_else(|| anyhow!("the archive has no name"))?
            .to_string_lossy()
            .into_owned();
        let key = self.prefix.clone().join(name.as_str());
        let sidecar = Sidecar {
            archive_sha256: sha256_hex(&data),
            bytes: data.len() as u64,
            manifest: local.manifest.clone(),
        };
        self.store
            .put(&key, PutPayload::from(data))
            .await
            .with_context(|| format!("uploading {}", self.url_of(&key)))?;
        let side_key = ObjectPath::from(format!("{key}{SIDECAR}"));
        self.store
            .put(
                &side_key,
                PutPayload::from(serde_json::to_vec_pretty(&sidecar)?),
            )
            .await
            .with_context(|| format!("uploading {}", self.url_of(&side_key)))?;
        Ok(BackupInfo {
            path: PathBuf::from(self.url_of(&key)),
            manifest: local.manifest,
        })
    }

    async fn sidecar(&self, key: &ObjectPath) -> Result<Sidecar> {
        let side_key = ObjectPath::from(format!("{key}{SIDECAR}"));
        let data = self
            .store
            .get(&side_key)
            .await
            .with_context(|| format!("reading {}", self.url_of(&side_key)))?
            .bytes()
            .await?;
        serde_json::from_slice(&data)
            .with_context(|| format!("{} is not a helmdeck backup record", self.url_of(&side_key)))
    }

    /// The archives directly under the prefix whose record was written (one listing; nothing
    /// is downloaded).
    async fn archive_names(&self) -> Result<Vec<String>> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let metas: Vec<_> = self
            .store
            .list(prefix)
            .try_collect()
            .await
            .with_context(|| format!("listing {}", self.url_of(&self.prefix)))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let archive = m.location.filename()?.strip_suffix(SIDECAR)?;
                let direct = m.location.prefix_match(&self.prefix)?.count() == 1;
                (direct && archive.ends_with(".tar.gz")).then(|| archive.to_string())
            })
            .collect())
    }

    async fn list(
        &self,
        namespace: Option<&str>,
        release: Option<&str>,
    ) -> Result<Vec<BackupInfo>> {
        // Only the release asked about (a cheap filter by name before reading any record).
        let wanted = |name: &str| match (namespace, release) {
            (Some(ns), Some(r)) => name.starts_with(&format!("{ns}_{r}_")),
            (Some(ns), None) => name.starts_with(&format!("{ns}_")),
            _ => true,
        };
        let keys: Vec<ObjectPath> = self
            .archive_names()
            .await?
            .into_iter()
            .filter(|name| wanted(name))
            .map(|name| self.prefix.clone().join(name.as_str()))
            .collect();
        let found: Vec<Option<BackupInfo>> = futures::stream::iter(keys)
            .map(|key| async move {
                // A record that cannot be read is skipped, as unreadable files in a directory are.
                let side = self.sidecar(&key).await.ok()?;
                Some(BackupInfo {
                    path: PathBuf::from(self.url_of(&key)),
                    manifest: side.manifest,
                })
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut out: Vec<BackupInfo> = found
            .into_iter()
            .flatten()
            .filter(|b| {
                namespace.is_none_or(|n| n == b.manifest.namespace)
                    && release.is_none_or(|r| r == b.manifest.release)
            })
            .collect();
        out.sort_by_key(|b| std::cmp::Reverse(b.manifest.created));
        Ok(out)
    }

    async fn read(&self, which: &Path) -> Result<Backup> {
        let key = self.key_of(which)?;
        let url = self.url_of(&key);
        let side = self.sidecar(&key).await?;
        let data = self
            .store
            .get(&key)
            .await
            .with_context(|| format!("downloading {url}"))?
            .bytes()
            .await
            .with_context(|| format!("downloading {url}"))?;
        if data.len() as u64 != side.bytes || sha256_hex(&data) != side.archive_sha256 {
            bail!(
                "{url} does not match its recorded SHA-256 ({} bytes downloaded, {} recorded): the backup is damaged or was replaced",
                data.len(),
                side.bytes
            );
        }
        let path = PathBuf::from(&url);
        tokio::task::spawn_blocking(move || backup::read_from(&data[..], &path)).await?
    }

    async fn remove(&self, which: &Path) -> Result<()> {
        let key = self.key_of(which)?;
        // The record first: a backup half removed is no longer listed.
        let side_key = ObjectPath::from(format!("{key}{SIDECAR}"));
        self.store
            .delete(&side_key)
            .await
            .with_context(|| format!("removing {}", self.url_of(&side_key)))?;
        self.store
            .delete(&key)
            .await
            .with_context(|| format!("removing {}", self.url_of(&key)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_parse() {
        let (ns, rel, at) = parse_archive_name("mr-ee_ee_20261130T120102.345Z.tar.gz").unwrap();
        assert_eq!((ns.as_str(), rel.as_str()), ("mr-ee", "ee"));
        assert_eq!(at.to_string(), "2026-11-30T12:01:02.345Z");
        assert!(parse_archive_name("mr-ee_ee_garbage.tar.gz").is_none());
        assert!(parse_archive_name("notes.txt").is_none());
    }

    #[test]
    fn locations_parse() {
        assert!(
            matches!(BackupStore::parse("/var/backups").unwrap(), BackupStore::Dir(d) if d == Path::new("/var/backups"))
        );
        assert!(
            matches!(BackupStore::parse("file:///srv/b").unwrap(), BackupStore::Dir(d) if d == Path::new("/srv/b"))
        );
        let err = BackupStore::parse("file://relative")
            .unwrap_err()
            .to_string();
        assert!(err.contains("absolute path"), "{err}");
        let err = BackupStore::parse("ftp://host/x").unwrap_err();
        assert!(
            format!("{err:#}").contains("not a backup location"),
            "{err:#}"
        );
        let err = BackupStore::parse("s3:///prefix").unwrap_err().to_string();
        assert!(err.contains("no bucket"), "{err}");
    }
}
