//! The values git repo: every values revision of every release, one commit each, so any
//! of them can be re-applied (`helmdeck apply --from-commit SHA`).
//!
//! Layout: `<namespace>/<release>/values.yaml` (the supplied values) and
//! `<namespace>/<release>/release.yaml` (a [`ReleaseRecord`]: chart, repository, version).
//! When the config names `environments`, a change in one of them is kept under the
//! environment's name first (`<env>/<namespace>/<release>/`), so stage and prod of one
//! release have records of their own. A repository of the first layout is moved to the
//! second by [`ValuesRepo::migrate`], one commit that renames and loses nothing; until then a
//! change in an environment is refused ([`ValuesRepoError::NeedsMigration`]), as its history
//! would be split between two places. [`ValuesRepo::log`] and [`ValuesRepo::read_at`] follow
//! a release back across that commit.
//! The outcome of applying a revision (succeeded / failed: why) is a git note on its
//! commit (`refs/notes/commits`, so `git log` shows it).
//!
//! Secret-looking values are committed encrypted with age when recipients are configured
//! ([`super::values_secrets`]: `ENC[age:…]` in place of each), or in plain text only when the
//! user allowed it, which the commit message records ([`CommitSecrets`]). The files written
//! in the working tree are 0600, the directories helmdeck creates 0700.
//!
//! Works in a repository the user made with plain git: commits are built from HEAD's tree
//! plus the release's two files, so nothing else the user has staged is committed, and a
//! release file with uncommitted changes is never overwritten. The author comes from git
//! config (`user.name`, `user.email`).
//!
//! git2 blocks: call these from async code through `tokio::task::spawn_blocking`.

use super::repo::Jump;
use crate::core::private_files;
use git2::{ErrorCode, IndexEntry, IndexTime, ObjectType, Oid, Repository, Signature, Status};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File of the supplied values in a release's directory.
pub const VALUES_FILE: &str = "values.yaml";
/// File of the release record in a release's directory.
pub const RECORD_FILE: &str = "release.yaml";

/// Why the values repo refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ValuesRepoError {
    #[error(
        "{path} in the values repo {repo} has uncommitted changes; commit or discard them first (git -C {repo} status)"
    )]
    Dirty { repo: PathBuf, path: String },
    #[error("values repo {repo}: {what} not found: {message}")]
    NotFound {
        repo: PathBuf,
        what: String,
        message: String,
    },
    #[error("values repo {repo}: {path} at {commit} is not valid: {message}")]
    Invalid {
        repo: PathBuf,
        path: String,
        commit: String,
        message: String,
    },
    #[error(
        "the values repo {repo} keeps {count} release(s) without an environment ({first}…); move them under the environment they belong to first, in one commit: helmdeck values migrate --env ENV"
    )]
    NeedsMigration {
        repo: PathBuf,
        count: usize,
        first: String,
    },
    #[error("values repo {repo}: {0}", repo = .1.display())]
    Git(git2::Error, PathBuf),
    #[error("values repo {repo}: {0}", repo = .1.display())]
    Io(std::io::Error, PathBuf),
}

/// What is needed to re-apply a revision: chart, repository, version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    pub release: String,
    pub namespace: String,
    /// The environment (`environments` in the config) the release runs in, when the
    /// change was made in one: its record is then kept under `<environment>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub chart: String,
    #[serde(default)]
    pub repository: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    /// The Helm revision this values revision became, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// A values revision to commit.
#[derive(Debug, Clone, Default)]
pub struct ValuesRevision {
    pub record: ReleaseRecord,
    /// The supplied values, as YAML text.
    pub values_yaml: String,
    /// The chart version it comes from (`None` for a first install).
    pub from_version: Option<String>,
    pub jump: Option<Jump>,
    /// Why: "upgrade", "rollback to 3", what the operator typed.
    pub reason: String,
    /// The Helm revision this rolls back to, for a rollback.
    pub rollback_to: Option<i64>,
    /// What became of the secret-looking values in `values_yaml`.
    pub secrets: CommitSecrets,
}

/// What a commit did with the secret-looking values it holds (the commit message says it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CommitSecrets {
    /// There are none.
    #[default]
    None,
    /// Encrypted with age (these paths).
    Encrypted(Vec<String>),
    /// Committed in plain text, as `--allow-plaintext-secrets` allowed (these paths).
    Plaintext(Vec<String>),
}

impl ValuesRevision {
    /// `ee (mr-ee): mr-ee 1.4.2 → 1.5.0 (minor)` and the body.
    pub fn message(&self) -> String {
        let r = &self.record;
        let change = match (&self.from_version, self.jump) {
            (Some(from), _) if self.rollback_to.is_some() => format!(
                "{from} → {} (rollback to revision {})",
                r.version,
                self.rollback_to.unwrap_or_default()
            ),
            (Some(from), Some(j)) => format!("{from} → {} ({})", r.version, j.as_str()),
            (Some(from), None) if *from == r.version => format!("{} (values only)", r.version),
            (Some(from), None) => format!("{from} → {}", r.version),
            (None, _) => format!("{} (install)", r.version),
        };
        let place = match &r.environment {
            Some(env) => format!("{env}/{}", r.namespace),
            None => r.namespace.clone(),
        };
        let mut msg = format!(
            "{} ({place}): {} {change}\n\nReason: {}\nChart: {} {}",
            r.release,
            r.chart,
            if self.reason.is_empty() {
                "-"
            } else {
                &self.reason
            },
            r.chart,
            r.version
        );
        if !r.repository.is_empty() {
            msg.push_str(&format!(" from {}", r.repository));
        }
        if let Some(rev) = r.revision {
            msg.push_str(&format!("\nRevision: {rev}"));
        }
        match &self.secrets {
            CommitSecrets::None => {}
            CommitSecrets::Encrypted(paths) => msg.push_str(&format!(
                "\nSecrets: encrypted with age: {}",
                paths.join(", ")
            )),
            CommitSecrets::Plaintext(paths) => msg.push_str(&format!(
                "\nSecrets: in plain text, allowed with --allow-plaintext-secrets: {}",
                paths.join(", ")
            )),
        }
        msg.push('\n');
        msg
    }
}

/// How applying a revision ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed(String),
    RolledBack(String),
    /// The change failed and its rollback failed too: both errors, and where the release
    /// was left (`revision 7 pending-rollback (ee 1.5.1)`), with what to do next.
    RollbackFailed {
        failure: String,
        rollback: String,
        left: String,
    },
}

impl Outcome {
    /// The git note: its first line says the outcome (`outcome: …`), the lines after it the
    /// details (a message of several lines is kept whole).
    pub fn note(&self) -> String {
        match self {
            Outcome::Succeeded => "outcome: succeeded\n".into(),
            Outcome::Failed(why) => format!("outcome: failed: {why}\n"),
            Outcome::RolledBack(why) => format!("outcome: rolled back: {why}\n"),
            Outcome::RollbackFailed {
                failure,
                rollback,
                left,
            } => format!(
                "outcome: rollback failed: the change failed and so did its rollback; release left at {left}\nchange: failed: {failure}\nrollback: failed: {rollback}\n"
            ),
        }
    }
}

/// A commit of the values repo, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesCommit {
    pub id: String,
    pub summary: String,
    pub author: String,
    pub time: i64,
    /// The git note on it (the outcome), if any.
    pub note: Option<String>,
}

/// The values git repository.
pub struct ValuesRepo {
    repo: Repository,
    root: PathBuf,
}

impl ValuesRepo {
    /// Opens the repository at `path`, or creates it (and the directory, 0700) if there is
    /// none.
    pub fn open_or_init(path: &Path) -> Result<ValuesRepo, ValuesRepoError> {
        let io = |e| ValuesRepoError::Io(e, path.to_path_buf());
        let git = |e| ValuesRepoError::Git(e, path.to_path_buf());
        let repo = match Repository::open(path) {
            Ok(r) => r,
            Err(e) if e.code() == ErrorCode::NotFound => {
                private_files::create_dir(path).map_err(io)?;
                Repository::init(path).map_err(git)?
            }
            Err(e) => return Err(git(e)),
        };
        let root = repo.workdir().map(Path::to_path_buf).ok_or_else(|| {
            git(git2::Error::from_str(
                "a bare repository has no working tree",
            ))
        })?;
        Ok(ValuesRepo { repo, root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn git(&self, e: git2::Error) -> ValuesRepoError {
        ValuesRepoError::Git(e, self.root.clone())
    }

    /// `<environment>/<namespace>/<release>`, or `<namespace>/<release>` without an
    /// environment (relative to the repository root).
    pub fn release_dir(environment: Option<&str>, namespace: &str, release: &str) -> String {
        match environment {
            Some(env) => format!("{env}/{namespace}/{release}"),
            None => format!("{namespace}/{release}"),
        }
    }

    /// HEAD's tree, `None` before the first commit.
    fn head_tree(&self) -> Result<Option<git2::Tree<'_>>, ValuesRepoError> {
        match self.repo.head() {
            Ok(h) => Ok(Some(h.peel_to_tree().map_err(|e| self.git(e))?)),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(self.git(e)),
        }
    }

    /// Refuses ([`ValuesRepoError::NeedsMigration`]) while release directories of the layout
    /// without environments are left: a record under an environment would split their history.
    pub fn check_migrated(&self) -> Result<(), ValuesRepoError> {
        let old = self.unmigrated()?;
        match old.first() {
            None => Ok(()),
            Some(first) => Err(ValuesRepoError::NeedsMigration {
                repo: self.root.clone(),
                count: old.len(),
                first: first.clone(),
            }),
        }
    }

    /// The release directories of the layout without environments at HEAD:
    /// `<namespace>/<release>` holding a `release.yaml` or a `values*.yaml`.
    pub fn unmigrated(&self) -> Result<Vec<String>, ValuesRepoError> {
        let Some(tree) = self.head_tree()? else {
            return Ok(Vec::new());
        };
        let mut dirs = Vec::new();
        for ns in tree.iter().filter(|e| e.kind() == Some(ObjectType::Tree)) {
            let Ok(ns_tree) = self.repo.find_tree(ns.id()) else {
                continue;
            };
            for rel in ns_tree
                .iter()
                .filter(|e| e.kind() == Some(ObjectType::Tree))
            {
                let Ok(rel_tree) = self.repo.find_tree(rel.id()) else {
                    continue;
                };
                let holds_record = rel_tree.iter().any(|f| {
                    f.kind() == Some(ObjectType::Blob) && f.name().is_ok_and(is_release_file)
                });
                if holds_record {
                    dirs.push(format!(
                        "{}/{}",
                        ns.name().unwrap_or_default(),
                        rel.name().unwrap_or_default()
                    ));
                }
            }
        }
        Ok(dirs)
    }

    /// The author: git config's `user.name` / `user.email`, else `helmdeck <helmdeck@localhost>`.
    fn signature(&self) -> Result<Signature<'static>, ValuesRepoError> {
        match self.repo.signature() {
            Ok(s) => Ok(s),
            Err(e) => {
                tracing::warn!(error = %e, "git config has no user.name/user.email; committing as helmdeck");
                Signature::now("helmdeck", "helmdeck@localhost").map_err(|e| self.git(e))
            }
        }
    }

    /// Fails when `rel_path` has uncommitted changes whose content is not `wanted`.
    fn check_clean(&self, rel_path: &str, wanted: &[u8]) -> Result<(), ValuesRepoError> {
        let status = match self.repo.status_file(Path::new(rel_path)) {
            Ok(s) => s,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(()),
            Err(e) => return Err(self.git(e)),
        };
        if status.is_empty() || status.contains(Status::IGNORED) {
            return Ok(());
        }
        // Left by an interrupted run with exactly what is about to be committed: fine. Its
        // encrypted values differ in ciphertext only (age encryption is randomised).
        if let Ok(there) = std::fs::read(self.root.join(rel_path))
            && (there == wanted || super::values_secrets::same_but_ciphertext(&there, wanted))
        {
            return Ok(());
        }
        Err(ValuesRepoError::Dirty {
            repo: self.root.clone(),
            path: rel_path.to_string(),
        })
    }

    /// Writes the release's values and record (0600; their directory 0700 when made here)
    /// and commits them (one commit, on HEAD's branch). Refuses when either file has
    /// uncommitted changes of someone else's. `rev.values_yaml` is committed as it is: the
    /// caller has encrypted its secrets ([`super::values_secrets::seal`]).
    pub fn commit_revision(&self, rev: &ValuesRevision) -> Result<Oid, ValuesRepoError> {
        let r = &rev.record;
        if r.environment.is_some() {
            self.check_migrated()?;
        }
        let dir = Self::release_dir(r.environment.as_deref(), &r.namespace, &r.release);
        let record_yaml =
            serde_yaml::to_string(&rev.record).map_err(|e| ValuesRepoError::Invalid {
                repo: self.root.clone(),
                path: format!("{dir}/{RECORD_FILE}"),
                commit: "(new)".into(),
                message: e.to_string(),
            })?;
        let mut values = rev.values_yaml.clone();
        if !values.is_empty() && !values.ends_with('\n') {
            values.push('\n');
        }
        let files = [
            (format!("{dir}/{VALUES_FILE}"), values.into_bytes()),
            (format!("{dir}/{RECORD_FILE}"), record_yaml.into_bytes()),
        ];
        for (path, data) in &files {
            self.check_clean(path, data)?;
        }
        let io = |e| ValuesRepoError::Io(e, self.root.clone());
        private_files::create_dir(&self.root.join(&dir)).map_err(io)?;
        for (path, data) in &files {
            private_files::write(&self.root.join(path), data).map_err(io)?;
        }

        // The tree: HEAD's, with our two files replaced — not the user's index.
        let parent = match self.repo.head() {
            Ok(h) => Some(h.peel_to_commit().map_err(|e| self.git(e))?),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
            Err(e) => return Err(self.git(e)),
        };
        let mut index = git2::Index::new().map_err(|e| self.git(e))?;
        if let Some(p) = &parent {
            index
                .read_tree(&p.tree().map_err(|e| self.git(e))?)
                .map_err(|e| self.git(e))?;
        }
        for (path, data) in &files {
            let id = self.repo.blob(data).map_err(|e| self.git(e))?;
            index
                .add(&index_entry(path, id, data.len()))
                .map_err(|e| self.git(e))?;
        }
        let tree_id = index.write_tree_to(&self.repo).map_err(|e| self.git(e))?;
        let tree = self.repo.find_tree(tree_id).map_err(|e| self.git(e))?;
        let sig = self.signature()?;
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = self
            .repo
            .commit(Some("HEAD"), &sig, &sig, &rev.message(), &tree, &parents)
            .map_err(|e| self.git(e))?;

        // Stage the two files in the real index so `git status` shows them clean.
        let mut real = self.repo.index().map_err(|e| self.git(e))?;
        for (path, _) in &files {
            real.add_path(Path::new(path)).map_err(|e| self.git(e))?;
        }
        real.write().map_err(|e| self.git(e))?;
        Ok(oid)
    }

    /// Records how applying the revision of `commit` ended, as a git note on it (an
    /// existing note is replaced).
    pub fn record_outcome(&self, commit: &str, outcome: &Outcome) -> Result<(), ValuesRepoError> {
        self.record_outcome_from(commit, outcome, None)
    }

    /// As [`Self::record_outcome`], for a promotion also naming where the revision came
    /// from (`promoted from: stage revision 4 (mr-ee 1.4.2)`).
    pub fn record_outcome_from(
        &self,
        commit: &str,
        outcome: &Outcome,
        source: Option<&str>,
    ) -> Result<(), ValuesRepoError> {
        let oid = self.resolve(commit)?;
        let sig = self.signature()?;
        let mut note = outcome.note();
        if let Some(source) = source {
            note.push_str(&format!("promoted from: {source}\n"));
        }
        self.repo
            .note(&sig, &sig, None, oid, &note, true)
            .map_err(|e| self.git(e))?;
        Ok(())
    }

    fn resolve(&self, rev: &str) -> Result<Oid, ValuesRepoError> {
        self.repo
            .revparse_single(rev)
            .and_then(|o| o.peel(ObjectType::Commit))
            .map(|o| o.id())
            .map_err(|e| ValuesRepoError::NotFound {
                repo: self.root.clone(),
                what: format!("commit {rev}"),
                message: e.message().to_string(),
            })
    }

    /// The record and the values of the release as of `commit` (a SHA, a prefix, `HEAD~2`…),
    /// for re-applying it: under `<environment>/` when given, or where the release was kept
    /// before the repository was laid out by environment, for a commit older than that.
    pub fn read_at(
        &self,
        commit: &str,
        environment: Option<&str>,
        namespace: &str,
        release: &str,
    ) -> Result<(ReleaseRecord, String), ValuesRepoError> {
        let oid = self.resolve(commit)?;
        let tree = self
            .repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| self.git(e))?;
        let mut dir = Self::release_dir(environment, namespace, release);
        if environment.is_some() && tree.get_path(Path::new(&dir)).is_err() {
            let before = Self::release_dir(None, namespace, release);
            if tree.get_path(Path::new(&before)).is_ok() {
                dir = before;
            }
        }
        let read = |file: &str| -> Result<String, ValuesRepoError> {
            let path = format!("{dir}/{file}");
            let entry = tree
                .get_path(Path::new(&path))
                .map_err(|e| ValuesRepoError::NotFound {
                    repo: self.root.clone(),
                    what: format!("{path} at {commit}"),
                    message: e.message().to_string(),
                })?;
            let blob = self.repo.find_blob(entry.id()).map_err(|e| self.git(e))?;
            String::from_utf8(blob.content().to_vec()).map_err(|e| ValuesRepoError::Invalid {
                repo: self.root.clone(),
                path,
                commit: commit.to_string(),
                message: e.to_string(),
            })
        };
        let record_text = read(RECORD_FILE)?;
        let record: ReleaseRecord =
            crate::core::yaml::from_str(&record_text).map_err(|e| ValuesRepoError::Invalid {
                repo: self.root.clone(),
                path: format!("{dir}/{RECORD_FILE}"),
                commit: commit.to_string(),
                message: e.to_string(),
            })?;
        Ok((record, read(VALUES_FILE)?))
    }

    /// Pushes HEAD's branch and the outcome notes (`refs/notes/commits`) to the remote
    /// `origin`, when the repository has one: `Ok(Some(url))` when pushed, `Ok(None)` when
    /// there is no remote. Credentials come from the SSH agent or git's credential helper.
    pub fn push(&self) -> anyhow::Result<Option<String>> {
        let mut remote = match self.repo.find_remote("origin") {
            Ok(r) => r,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(self.git(e).into()),
        };
        let head = self.repo.head().map_err(|e| self.git(e))?;
        let branch = head
            .name()
            .ok()
            .filter(|n| n.starts_with("refs/heads/"))
            .ok_or_else(|| anyhow::anyhow!("HEAD is not on a branch; nothing pushed"))?
            .to_string();
        let mut refspecs = vec![format!("{branch}:{branch}")];
        if self.repo.find_reference("refs/notes/commits").is_ok() {
            refspecs.push("refs/notes/commits:refs/notes/commits".to_string());
        }
        let config = self.repo.config().ok();
        let mut attempts = 0;
        let rejected = std::cell::RefCell::new(Vec::new());
        let mut cb = git2::RemoteCallbacks::new();
        cb.credentials(move |url, username, allowed| {
            attempts += 1;
            if attempts > 3 {
                return Err(git2::Error::from_str(
                    "authentication failed (tried the SSH agent and git's credential helper)",
                ));
            }
            if allowed.contains(git2::CredentialType::SSH_KEY)
                && let Some(user) = username
            {
                return git2::Cred::ssh_key_from_agent(user);
            }
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
                && let Some(c) = &config
            {
                return git2::Cred::credential_helper(c, url, username);
            }
            git2::Cred::default()
        });
        cb.push_update_reference(|name, status| {
            if let Some(s) = status {
                rejected.borrow_mut().push(format!("{name}: {s}"));
            }
            Ok(())
        });
        let mut opts = git2::PushOptions::new();
        opts.remote_callbacks(cb);
        remote.push(&refspecs, Some(&mut opts)).map_err(|e| {
            if e.code() == ErrorCode::NotFastForward {
                anyhow::anyhow!(
                    "the remote has commits this values repo does not (someone else pushed); nothing was overwritten: pull them in (git -C {} pull --rebase) and push again",
                    self.root.display()
                )
            } else {
                anyhow::Error::new(self.git(e))
            }
        })?;
        drop(opts);
        let rejected = rejected.into_inner();
        if !rejected.is_empty() {
            anyhow::bail!("the remote refused: {}", rejected.join("; "));
        }
        Ok(Some(remote.url().unwrap_or("origin").to_string()))
    }

    /// The commits that touched the release's directory, newest first, with their notes.
    /// Under an environment, the history goes on past the commit that laid the repository
    /// out by environment, with the commits of the directory the release came from.
    pub fn log(
        &self,
        environment: Option<&str>,
        namespace: &str,
        release: &str,
    ) -> Result<Vec<ValuesCommit>, ValuesRepoError> {
        let mut dir = Self::release_dir(environment, namespace, release);
        let legacy = Self::release_dir(None, namespace, release);
        let mut walk = self.repo.revwalk().map_err(|e| self.git(e))?;
        match walk.push_head() {
            Ok(()) => {}
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(self.git(e)),
        }
        let entry = |tree: Option<&git2::Tree<'_>>, path: &str| {
            tree.and_then(|t| t.get_path(Path::new(path)).ok())
                .map(|e| e.id())
        };
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| self.git(e))?;
            let c = self.repo.find_commit(oid).map_err(|e| self.git(e))?;
            let tree = c.tree().ok();
            let parent_tree = c.parent(0).ok().and_then(|p| p.tree().ok());
            let here = entry(tree.as_ref(), &dir);
            let before = entry(parent_tree.as_ref(), &dir);
            if here.is_none() || here == before {
                continue;
            }
            // The commit that moved the release's record here from the layout without
            // environments: older commits kept it there.
            if before.is_none() && dir != legacy {
                let record =
                    |t: Option<&git2::Tree<'_>>, d: &str| entry(t, &format!("{d}/{RECORD_FILE}"));
                if let Some(moved) = record(tree.as_ref(), &dir)
                    && record(parent_tree.as_ref(), &legacy) == Some(moved)
                {
                    dir = legacy.clone();
                }
            }
            out.push(ValuesCommit {
                id: oid.to_string(),
                summary: c.summary().ok().flatten().unwrap_or_default().to_string(),
                author: c.author().name().unwrap_or_default().to_string(),
                time: c.time().seconds(),
                note: self
                    .repo
                    .find_note(None, oid)
                    .ok()
                    .and_then(|n| n.message().ok().map(|m| m.trim_end().to_string())),
            });
        }
        Ok(out)
    }

    /// Lays the repository out by environment, in one commit: every release directory of
    /// the first layout ([`Self::unmigrated`]) moves under `target` (the environment its
    /// releases run in), except each overlay `values.<env>.yaml` of an environment in
    /// `environments`, which moves under that environment's own directory. Files keep their
    /// content, so git sees renames (`git log --follow`). `Ok(None)` when there is nothing to
    /// move. Refuses, changing nothing, when a file to move has uncommitted changes or its
    /// new place is taken.
    pub fn migrate(
        &self,
        target: &str,
        environments: &[String],
    ) -> Result<Option<Migration>, ValuesRepoError> {
        let dirs = self.unmigrated()?;
        let Some(tree) = self.head_tree()? else {
            return Ok(None);
        };
        if dirs.is_empty() {
            return Ok(None);
        }
        let moves = self.planned_moves(&tree, &dirs, target, environments)?;
        let oid = self.commit_moves(&tree, &moves, &migration_message(target, &dirs, &moves))?;
        self.move_in_work_tree(&moves)?;
        Ok(Some(Migration {
            commit: oid.to_string(),
            releases: dirs,
            files: moves.into_iter().map(|m| (m.from, m.to)).collect(),
        }))
    }

    /// Where each file of `dirs` goes, checked: clean in the working tree, its new place free.
    fn planned_moves(
        &self,
        tree: &git2::Tree<'_>,
        dirs: &[String],
        target: &str,
        environments: &[String],
    ) -> Result<Vec<Move>, ValuesRepoError> {
        let mut moves = Vec::new();
        for dir in dirs {
            let sub = tree
                .get_path(Path::new(dir))
                .and_then(|e| self.repo.find_tree(e.id()))
                .map_err(|e| self.git(e))?;
            let mut files = Vec::new();
            sub.walk(git2::TreeWalkMode::PreOrder, |root, e| {
                if e.kind() == Some(ObjectType::Blob) {
                    files.push((
                        format!("{root}{}", e.name().unwrap_or_default()),
                        e.id(),
                        e.filemode(),
                    ));
                }
                git2::TreeWalkResult::Ok
            })
            .map_err(|e| self.git(e))?;
            for (name, id, mode) in files {
                let env = overlay_environment(&name)
                    .filter(|e| environments.iter().any(|x| x == e))
                    .unwrap_or(target);
                let from = format!("{dir}/{name}");
                let to = format!("{env}/{dir}/{name}");
                if tree.get_path(Path::new(&to)).is_ok() {
                    return Err(ValuesRepoError::Invalid {
                        repo: self.root.clone(),
                        path: to,
                        commit: "HEAD".into(),
                        message: format!(
                            "{from} cannot move there: the place is taken; nothing was moved"
                        ),
                    });
                }
                let data = self
                    .repo
                    .find_blob(id)
                    .map_err(|e| self.git(e))?
                    .content()
                    .to_vec();
                self.check_clean(&from, &data)?;
                moves.push(Move {
                    from,
                    to,
                    id,
                    mode,
                    size: data.len(),
                });
            }
        }
        Ok(moves)
    }

    /// One commit on HEAD: HEAD's tree with each file moved.
    fn commit_moves(
        &self,
        tree: &git2::Tree<'_>,
        moves: &[Move],
        message: &str,
    ) -> Result<Oid, ValuesRepoError> {
        let git = |e| self.git(e);
        let mut index = git2::Index::new().map_err(git)?;
        index.read_tree(tree).map_err(git)?;
        for m in moves {
            index.remove_path(Path::new(&m.from)).map_err(git)?;
            let mut entry = index_entry(&m.to, m.id, m.size);
            entry.mode = m.mode as u32;
            index.add(&entry).map_err(git)?;
        }
        let tree_id = index.write_tree_to(&self.repo).map_err(git)?;
        let new_tree = self.repo.find_tree(tree_id).map_err(git)?;
        let parent = self
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(git)?;
        let sig = self.signature()?;
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &new_tree, &[&parent])
            .map_err(git)
    }

    /// The working tree and the index follow the commit: each file moved (0600, its new
    /// directories 0700), the emptied directories removed.
    fn move_in_work_tree(&self, moves: &[Move]) -> Result<(), ValuesRepoError> {
        let io = |e| ValuesRepoError::Io(e, self.root.clone());
        let mut real = self.repo.index().map_err(|e| self.git(e))?;
        for m in moves {
            let (from, to) = (self.root.join(&m.from), self.root.join(&m.to));
            if let Some(parent) = to.parent() {
                private_files::create_dir(parent).map_err(io)?;
            }
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                // Not checked out (a sparse or fresh working tree): write it from git.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let blob = self.repo.find_blob(m.id).map_err(|e| self.git(e))?;
                    private_files::write(&to, blob.content()).map_err(io)?;
                }
                Err(e) => return Err(io(e)),
            }
            let _ = real.remove_path(Path::new(&m.from));
            real.add_path(Path::new(&m.to)).map_err(|e| self.git(e))?;
            // Emptied directories go: the release's, then its namespace's.
            let mut dir = from.parent();
            while let Some(d) = dir.filter(|d| *d != self.root) {
                if std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        real.write().map_err(|e| self.git(e))?;
        Ok(())
    }
}

/// What [`ValuesRepo::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub commit: String,
    /// The release directories moved (`<namespace>/<release>`).
    pub releases: Vec<String>,
    /// Each file, from and to.
    pub files: Vec<(String, String)>,
}

/// One file of a migration.
struct Move {
    from: String,
    to: String,
    id: Oid,
    mode: i32,
    size: usize,
}

/// `values.yaml`, `release.yaml`, an overlay `values.<env>.yaml` or a blue/green record
/// `bluegreen-<workload>.yaml`.
fn is_release_file(name: &str) -> bool {
    name == RECORD_FILE
        || ((name.starts_with("values") || name.starts_with("bluegreen-"))
            && name.ends_with(".yaml"))
}

/// `stage` of `values.stage.yaml`.
fn overlay_environment(name: &str) -> Option<&str> {
    name.strip_prefix("values.")?
        .strip_suffix(".yaml")
        .filter(|e| !e.is_empty() && !e.contains('/'))
}

/// The migration's commit message: what moved where.
fn migration_message(target: &str, dirs: &[String], moves: &[Move]) -> String {
    let mut msg = format!(
        "values repo: laid out by environment ({} release(s) moved under {target}/)\n\n\
         Each release directory <namespace>/<release>/ moved to <environment>/<namespace>/<release>/,\n\
         its files unchanged (git log --follow shows their history). Releases: {}.\n",
        dirs.len(),
        dirs.join(", ")
    );
    let overlays: Vec<String> = moves
        .iter()
        .filter(|m| !m.to.starts_with(&format!("{target}/")))
        .map(|m| format!("{} → {}", m.from, m.to))
        .collect();
    if !overlays.is_empty() {
        msg.push_str(&format!(
            "Environment overlays moved under their environment: {}.\n",
            overlays.join(", ")
        ));
    }
    msg
}

fn index_entry(path: &str, id: Oid, size: usize) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: size as u32,
        id,
        flags: (path.len().min(0xfff)) as u16,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::releases::values_secrets;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn revision(values_yaml: String, secrets: CommitSecrets) -> ValuesRevision {
        ValuesRevision {
            record: ReleaseRecord {
                release: "ee".into(),
                namespace: "mr-ee".into(),
                chart: "mr-ee".into(),
                version: "1.5.0".into(),
                ..Default::default()
            },
            values_yaml,
            from_version: Some("1.4.2".into()),
            jump: None,
            reason: "upgrade".into(),
            rollback_to: None,
            secrets,
        }
    }

    #[test]
    fn files_are_owner_only_and_the_repo_directory_too_when_made_here() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("values");
        let repo = ValuesRepo::open_or_init(&root).unwrap();
        repo.commit_revision(&revision("a: 1\n".into(), CommitSecrets::None))
            .unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("mr-ee")), 0o700);
        assert_eq!(mode(&root.join("mr-ee/ee")), 0o700);
        assert_eq!(mode(&root.join("mr-ee/ee/values.yaml")), 0o600);
        assert_eq!(mode(&root.join("mr-ee/ee/release.yaml")), 0o600);

        // A file left 0644 by an earlier version becomes 0600 when next written.
        let values = root.join("mr-ee/ee/values.yaml");
        std::fs::set_permissions(&values, std::fs::Permissions::from_mode(0o644)).unwrap();
        repo.commit_revision(&revision("a: 2\n".into(), CommitSecrets::None))
            .unwrap();
        assert_eq!(mode(&values), 0o600);
    }

    #[test]
    fn the_commit_message_says_what_became_of_the_secrets() {
        let none = revision(String::new(), CommitSecrets::None).message();
        assert!(!none.contains("Secrets:"), "{none}");
        let plain = revision(
            String::new(),
            CommitSecrets::Plaintext(vec!["global.kafka.saslPassword".into()]),
        )
        .message();
        assert!(
            plain.contains(
                "\nSecrets: in plain text, allowed with --allow-plaintext-secrets: global.kafka.saslPassword\n"
            ),
            "{plain}"
        );
        let enc = revision(
            String::new(),
            CommitSecrets::Encrypted(vec!["a.password".into(), "b.token".into()]),
        )
        .message();
        assert!(
            enc.contains("\nSecrets: encrypted with age: a.password, b.token\n"),
            "{enc}"
        );
    }

    /// An interrupted run left the same values, encrypted: sealing them again gives other
    /// ciphertext, and that is not someone else's change. A hand edit still is.
    #[test]
    fn an_encrypted_leftover_of_the_same_values_is_not_a_dirty_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("values");
        let repo = ValuesRepo::open_or_init(&root).unwrap();
        repo.commit_revision(&revision("a: 1\n".into(), CommitSecrets::None))
            .unwrap();
        let key = age::x25519::Identity::generate();
        let recipients = vec![key.to_public()];
        let values = serde_json::json!({"a": 2, "db": {"password": "hunter2"}});
        let sealed =
            || serde_yaml::to_string(&values_secrets::seal(&values, &recipients).unwrap()).unwrap();
        let file = root.join("mr-ee/ee/values.yaml");
        std::fs::write(&file, sealed()).unwrap();
        let secrets = CommitSecrets::Encrypted(vec!["db.password".into()]);
        repo.commit_revision(&revision(sealed(), secrets.clone()))
            .unwrap();

        std::fs::write(&file, sealed().replace("a: 2", "a: 3")).unwrap();
        let err = repo
            .commit_revision(&revision(sealed(), secrets))
            .unwrap_err();
        assert!(matches!(err, ValuesRepoError::Dirty { .. }), "{err}");
    }
}
