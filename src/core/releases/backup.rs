//! Backups of a Helm release: a timestamped `tar.gz` holding the release's supplied values,
//! all its Helm release Secrets and the manifests of the objects it owns (label
//! `app.kubernetes.io/instance` or annotation `meta.helm.sh/release-name`), with a
//! `manifest.json` and `SHA256SUMS`. Files are readable by the owner only (0600).
//!
//! Restore re-creates what is missing and never deletes or overwrites anything.

use crate::core::release;
use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The archive's format version.
pub const FORMAT: u32 = 1;
/// Largest total size read back from an archive (a bound against decompression bombs).
pub const MAX_ARCHIVE_CONTENT: u64 = 512 * 1024 * 1024;

/// The kinds a release's objects are looked for in: (group, version, kind, plural).
pub const OWNED_KINDS: &[(&str, &str, &str, &str)] = &[
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "DaemonSet", "daemonsets"),
    ("", "v1", "Service", "services"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("", "v1", "ServiceAccount", "serviceaccounts"),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    ),
    ("batch", "v1", "Job", "jobs"),
];

/// `manifest.json`: what a backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupManifest {
    pub format: u32,
    pub release: String,
    pub namespace: String,
    pub created: jiff::Timestamp,
    pub helmdeck_version: String,
    pub chart: String,
    pub chart_version: String,
    /// The current revision when the backup was taken.
    pub revision: i64,
    pub files: Vec<BackupFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A backup on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub manifest: BackupManifest,
}

/// A backup read back and verified.
#[derive(Debug, Clone)]
pub struct Backup {
    pub info: BackupInfo,
    /// (path in the archive, content), in the manifest's order.
    pub files: Vec<(String, Vec<u8>)>,
}

/// The backup directory: the config's `backup_dir`, else `<data dir>/backups`.
pub fn backup_dir(config: &crate::config::Config) -> Result<PathBuf> {
    if let Some(d) = &config.backup_dir {
        return Ok(d.clone());
    }
    crate::config::data_dir()
        .map(|d| d.join("backups"))
        .ok_or_else(|| anyhow!("no backup directory: set backup_dir in the config, or HOME"))
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn api_resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Whether `obj` belongs to the release (and is not a controller's child, such as a pod).
fn owned_by(obj: &Value, release: &str, namespace: &str) -> bool {
    let meta = &obj["metadata"];
    if meta["ownerReferences"]
        .as_array()
        .is_some_and(|o| !o.is_empty())
    {
        return false;
    }
    let by_label = meta["labels"]["app.kubernetes.io/instance"].as_str() == Some(release);
    let ann = &meta["annotations"];
    let by_annotation = ann["meta.helm.sh/release-name"].as_str() == Some(release)
        && ann["meta.helm.sh/release-namespace"]
            .as_str()
            .is_none_or(|ns| ns == namespace);
    by_label || by_annotation
}

/// What the API server fills in, removed so the object can be created again.
fn strip_server_fields(obj: &mut Value) {
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(k);
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
}

/// Takes a backup of `release` in `namespace` into `dir`.
pub async fn create(
    client: &kube::Client,
    namespace: &str,
    release_name: &str,
    dir: &Path,
) -> Result<BackupInfo> {
    create_with(client, namespace, release_name, dir, Vec::new()).await
}

/// [`create`], with more files (path in the archive, content) — the topic plan's state
/// (`topic-plan.json`) when the release's platform has one.
pub async fn create_with(
    client: &kube::Client,
    namespace: &str,
    release_name: &str,
    dir: &Path,
    extras: Vec<(String, Vec<u8>)>,
) -> Result<BackupInfo> {
    // The release Secrets.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("owner=helm,name={release_name}"));
    let mut release_secrets = secrets
        .list(&lp)
        .await
        .with_context(|| format!("listing the release Secrets of {namespace}/{release_name}"))?
        .items;
    release_secrets.retain(|s| s.type_.as_deref() == Some(release::RELEASE_SECRET_TYPE));
    if release_secrets.is_empty() {
        bail!("no Helm release {release_name:?} in namespace {namespace:?} (no release Secrets)");
    }
    let histories = release::history(&release_secrets);
    let history = histories
        .iter()
        .find(|h| h.name == release_name)
        .ok_or_else(|| anyhow!("the release Secrets of {release_name} cannot be decoded"))?;
    let current = history
        .current()
        .ok_or_else(|| anyhow!("no revision of {release_name} can be decoded"))?;

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let values = if current.config.is_null() {
        "{}\n".to_string()
    } else {
        serde_yaml::to_string(&current.config)?
    };
    files.push(("values.yaml".into(), values.into_bytes()));
    release_secrets.sort_by_key(|s| s.metadata.name.clone());
    for s in &release_secrets {
        let mut v = serde_json::to_value(s)?;
        v["apiVersion"] = "v1".into();
        v["kind"] = "Secret".into();
        strip_server_fields(&mut v);
        let name = s.metadata.name.clone().unwrap_or_default();
        files.push((
            format!("release-secrets/{name}.json"),
            serde_json::to_vec_pretty(&v)?,
        ));
    }
    for (group, version, kind, plural) in OWNED_KINDS {
        let ar = api_resource(group, version, kind, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            // A kind this cluster does not serve holds nothing of the release.
            Err(kube::Error::Api(s)) if s.code == 404 => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {plural} in {namespace}")),
        };
        for obj in list.items {
            let mut v = serde_json::to_value(&obj)?;
            if !owned_by(&v, release_name, namespace)
                || v["type"].as_str() == Some(release::RELEASE_SECRET_TYPE)
            {
                continue;
            }
            v["apiVersion"] = ar.api_version.clone().into();
            v["kind"] = (*kind).into();
            strip_server_fields(&mut v);
            let name = obj.metadata.name.clone().unwrap_or_default();
            files.push((
                format!("resources/{kind}/{name}.json"),
                serde_json::to_vec_pretty(&v)?,
            ));
        }
    }

    files.extend(extras);
    let created = jiff::Timestamp::now();
    let manifest = BackupManifest {
        format: FORMAT,
        release: release_name.to_string(),
        namespace: namespace.to_string(),
        created,
        helmdeck_version: env!("CARGO_PKG_VERSION").to_string(),
        chart: current.chart.metadata.name.clone(),
        chart_version: current.chart.metadata.version.clone(),
        revision: current.version,
        files: files
            .iter()
            .map(|(p, d)| BackupFile {
                path: p.clone(),
                sha256: sha256_hex(d),
                bytes: d.len() as u64,
            })
            .collect(),
    };
    let file_name = format!(
        "{namespace}_{release_name}_{}.tar.gz",
        created.strftime("%Y%m%dT%H%M%S%.3fZ")
    );
    let path = dir.join(file_name);
    let dir = dir.to_path_buf();
    let info = BackupInfo {
        path: path.clone(),
        manifest: manifest.clone(),
    };
    tokio::task::spawn_blocking(move || write_archive(&dir, &path, &manifest, &files)).await??;
    Ok(info)
}

/// Writes a backup archive at `path` in `dir` (created, owner only): `manifest.json`,
/// `SHA256SUMS`, then `files`; written to a temporary name and renamed.
pub fn write_archive(
    dir: &Path,
    path: &Path,
    manifest: &BackupManifest,
    files: &[(String, Vec<u8>)],
) -> Result<()> {
    // Every directory made here is 0700, parents too.
    crate::core::private_files::create_dir(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The directory holds secrets too: owner only (best effort on a shared dir).
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let tmp = path.with_extension("partial");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mtime = manifest.created.as_second().max(0) as u64;
    let mut add = |name: &str, data: &[u8]| -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data)
    };
    add("manifest.json", &serde_json::to_vec_pretty(manifest)?)?;
    let sums: String = manifest
        .files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    add("SHA256SUMS", sums.as_bytes())?;
    for (name, data) in files {
        add(name, data)?;
    }
    let gz = tar.into_inner()?;
    let file = gz.finish()?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Reads a backup and verifies every file against the manifest's checksums.
pub fn read(path: &Path) -> Result<Backup> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    read_from(file, path)
}

/// Reads a backup archive (`tar.gz`) from `gz`; `path` names it in errors and in the result.
pub fn read_from(gz: impl Read, path: &Path) -> Result<Backup> {
    let tar = flate2::read::GzDecoder::new(gz).take(MAX_ARCHIVE_CONTENT);
    read_tar(tar, path)
}

/// Reads the (already uncompressed) tar of a backup archive and verifies every file against
/// the manifest's checksums.
pub fn read_tar(tar: impl Read, path: &Path) -> Result<Backup> {
    let mut archive = tar::Archive::new(tar);
    let mut manifest: Option<BackupManifest> = None;
    let mut contents: std::collections::HashMap<String, Vec<u8>> = Default::default();
    for entry in archive
        .entries()
        .with_context(|| format!("{} is not a backup archive", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("{} is damaged", path.display()))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("{}: reading {name}", path.display()))?;
        if name == "manifest.json" {
            manifest = Some(
                serde_json::from_slice(&data)
                    .with_context(|| format!("{}: manifest.json is invalid", path.display()))?,
            );
        } else {
            contents.insert(name, data);
        }
    }
    let manifest = manifest.ok_or_else(|| anyhow!("{} has no manifest.json", path.display()))?;
    let mut files = Vec::new();
    for f in &manifest.files {
        let data = contents
            .remove(&f.path)
            .ok_or_else(|| anyhow!("{}: {} is missing", path.display(), f.path))?;
        if sha256_hex(&data) != f.sha256 {
            bail!(
                "{}: {} does not match its checksum (the backup is damaged)",
                path.display(),
                f.path
            );
        }
        files.push((f.path.clone(), data));
    }
    Ok(Backup {
        info: BackupInfo {
            path: path.to_path_buf(),
            manifest,
        },
        files,
    })
}

/// The backups in `dir` (of `release` in `namespace` when given), newest first. Files
/// that are not readable backups are skipped.
pub fn list(
    dir: &Path,
    namespace: Option<&str>,
    release_name: Option<&str>,
) -> Result<Vec<BackupInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if !path.to_string_lossy().ends_with(".tar.gz") {
            continue;
        }
        let Ok(manifest) = read_manifest(&path) else {
            continue;
        };
        if namespace.is_some_and(|n| n != manifest.namespace)
            || release_name.is_some_and(|r| r != manifest.release)
        {
            continue;
        }
        out.push(BackupInfo { path, manifest });
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.manifest.created));
    Ok(out)
}

/// The manifest alone (the archive's first entry).
fn read_manifest(path: &Path) -> Result<BackupManifest> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path)?);
    read_manifest_tar(gz)
}

/// The manifest alone from the (already uncompressed) tar of a backup archive: its first
/// entry, which must be `manifest.json`.
pub fn read_manifest_tar(tar: impl Read) -> Result<BackupManifest> {
    let mut archive = tar::Archive::new(tar);
    let mut entry = archive
        .entries()?
        .next()
        .ok_or_else(|| anyhow!("empty archive"))??;
    if entry.path()?.as_os_str() != "manifest.json" {
        bail!("not a helmdeck backup");
    }
    let mut data = Vec::new();
    (&mut entry).take(16 << 20).read_to_end(&mut data)?;
    Ok(serde_json::from_slice(&data)?)
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// `Kind/name` of what was re-created.
    pub created: Vec<String>,
    /// `Kind/name` of what was already there (left untouched).
    pub present: Vec<String>,
}

/// Re-creates, in the backup's namespace, every object of the backup that is missing
/// (release Secrets first). Never deletes or changes what exists.
pub async fn restore(client: &kube::Client, backup: &Backup) -> Result<RestoreReport> {
    let ns = &backup.info.manifest.namespace;
    let mut report = RestoreReport::default();
    for (path, data) in &backup.files {
        if !(path.starts_with("release-secrets/") || path.starts_with("resources/")) {
            continue;
        }
        let mut obj: Value =
            serde_json::from_slice(data).with_context(|| format!("{path} in the backup"))?;
        strip_server_fields(&mut obj);
        obj["metadata"]["namespace"] = ns.clone().into();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (group, version, _, plural) = OWNED_KINDS
            .iter()
            .find(|(_, _, k, _)| *k == kind)
            .ok_or_else(|| anyhow!("{path}: kind {kind:?} cannot be restored"))?;
        let ar = api_resource(group, version, &kind, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let label = format!("{kind}/{name}");
        if api
            .get_opt(&name)
            .await
            .with_context(|| format!("reading {label}"))?
            .is_some()
        {
            report.present.push(label);
            continue;
        }
        let dyn_obj: DynamicObject = serde_json::from_value(obj)?;
        match api.create(&PostParams::default(), &dyn_obj).await {
            Ok(_) => report.created.push(label),
            // Created meanwhile by someone else: present, untouched.
            Err(kube::Error::Api(s)) if s.code == 409 => report.present.push(label),
            Err(e) => return Err(e).with_context(|| format!("re-creating {label}")),
        }
    }
    Ok(report)
}
