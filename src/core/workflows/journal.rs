//! The journal of a change in progress: a small JSON file per release
//! (`<data dir>/journal/<namespace>.<release>.json`) written before each step of an
//! upgrade or rollback and removed when the change has ended and its outcome is recorded.
//! A journal still there at the next start means the change was interrupted (a crash, a
//! kill, a lost connection): the console and `helmdeck recover` show it and offer to
//! verify the release or roll it back to the revision it started from.
//!
//! Files are written whole to a temporary name and renamed, so a kill while writing
//! leaves the previous journal, never half of one.

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What kind of change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Operation {
    Upgrade { to_version: String },
    Rollback { to_revision: i64 },
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::Upgrade { to_version } => write!(f, "upgrade to {to_version}"),
            Operation::Rollback { to_revision } => write!(f, "rollback to revision {to_revision}"),
        }
    }
}

/// One change in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    pub release: String,
    pub namespace: String,
    pub operation: Operation,
    /// The deployed revision (and its chart version) the change started from.
    pub from_revision: i64,
    pub from_version: String,
    pub started: jiff::Timestamp,
    pub updated: jiff::Timestamp,
    /// The step reached (`backup`, `commit`, `apply`, `verify`, `rollback`, `record`).
    pub step: String,
    /// The backup taken before applying, once taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
    /// The values repo commit of the new values, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub holder: String,
}

impl Journal {
    /// Decodes a journal file's bytes (JSON, as [`JournalFile`] writes them).
    pub fn from_json(data: &[u8]) -> serde_json::Result<Journal> {
        serde_json::from_slice(data)
    }

    /// `mr-ee/ee: upgrade to 1.5.0 from revision 4 (1.4.2), stopped at apply`.
    pub fn summary(&self) -> String {
        format!(
            "{}/{}: {} from revision {} ({}), stopped at {} ({} UTC)",
            self.namespace,
            self.release,
            self.operation,
            self.from_revision,
            self.from_version,
            self.step,
            self.updated.strftime("%Y-%m-%d %H:%M:%S")
        )
    }
}

/// The journal directory: `<data dir>/journal`.
pub fn default_dir() -> Option<PathBuf> {
    crate::config::data_dir().map(|d| d.join("journal"))
}

fn file_name(namespace: &str, release: &str) -> String {
    format!("{namespace}.{release}.json")
}

/// A journal on disk, kept up to date by the workflow.
pub struct JournalFile {
    path: PathBuf,
    pub journal: Journal,
}

impl JournalFile {
    /// Starts the journal of a change. Fails when one is already there: that change did
    /// not finish, and it is recovered first.
    pub fn start(dir: &Path, journal: Journal) -> Result<JournalFile> {
        let path = dir.join(file_name(&journal.namespace, &journal.release));
        if let Some(old) = read(&path)? {
            anyhow::bail!(
                "an earlier change did not finish: {}; run `helmdeck recover {} -n {}` to verify or roll it back first",
                old.summary(),
                old.release,
                old.namespace
            );
        }
        // Owner only (0700) where made here: journals name backups and commits of values.
        crate::core::private_files::create_dir(dir)
            .with_context(|| format!("creating the journal directory {}", dir.display()))?;
        let f = JournalFile { path, journal };
        f.write()?;
        Ok(f)
    }

    /// Takes over an unfinished journal (to recover it).
    pub fn resume(dir: &Path, namespace: &str, release: &str) -> Result<Option<JournalFile>> {
        let path = dir.join(file_name(namespace, release));
        Ok(read(&path)?.map(|journal| JournalFile { path, journal }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the step about to be taken (and anything `f` changes) before taking it.
    pub fn step(&mut self, step: &str, f: impl FnOnce(&mut Journal)) -> Result<()> {
        self.journal.step = step.to_string();
        self.journal.updated = jiff::Timestamp::now();
        f(&mut self.journal);
        self.write()
    }

    fn write(&self) -> Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&self.journal)?;
        write_private(&tmp, &text)
            .with_context(|| format!("writing the journal {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing the journal {}", self.path.display()))
    }

    /// The change has ended and its outcome is recorded: the journal goes.
    pub fn finish(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.path.display())),
        }
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn read(path: &Path) -> Result<Option<Journal>> {
    match std::fs::read(path) {
        Ok(data) => Journal::from_json(&data)
            .map(Some)
            .with_context(|| format!("the journal {} is not readable", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Every unfinished change in `dir`, oldest first. Unreadable files are reported, not
/// skipped silently.
pub fn list(dir: &Path) -> Result<Vec<Journal>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for e in entries {
        let path = e?.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        if let Some(j) = read(&path)? {
            out.push(j);
        }
    }
    out.sort_by_key(|j| j.started);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> Journal {
        Journal {
            release: "ee".into(),
            namespace: "mr-ee".into(),
            operation: Operation::Upgrade {
                to_version: "1.5.0".into(),
            },
            from_revision: 4,
            from_version: "1.4.2".into(),
            started: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            step: "backup".into(),
            backup: None,
            commit: None,
            holder: "me".into(),
        }
    }

    #[test]
    fn the_journal_directory_is_made_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/journal");
        let f = JournalFile::start(&dir, journal()).unwrap();
        for d in [tmp.path().join("data"), dir.clone()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", d.display());
        }
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_unfinished_change_blocks_the_next_until_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = JournalFile::start(dir.path(), journal()).unwrap();
        f.step("apply", |j| j.commit = Some("abc".into())).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(f.path()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        drop(f); // killed: the file stays
        let err = JournalFile::start(dir.path(), journal()).err().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("stopped at apply"), "{msg}");
        assert!(msg.contains("helmdeck recover ee -n mr-ee"), "{msg}");
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].commit.as_deref(), Some("abc"));
        let resumed = JournalFile::resume(dir.path(), "mr-ee", "ee")
            .unwrap()
            .unwrap();
        resumed.finish().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        JournalFile::start(dir.path(), journal()).unwrap();
    }

    #[test]
    fn a_corrupt_journal_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mr-ee.ee.json"), b"{not json").unwrap();
        let err = list(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("not readable"), "{err:#}");
    }
}
