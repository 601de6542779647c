//! The runtime side of the upgrade wizard and the Releases screen's extras: reading the
//! chart versions, preparing a change, running it (its events become messages), listing a
//! release's backups and the unfinished changes. Everything here runs on background tasks.

use crate::core::releases::repo::RepoOptions;
use crate::core::workflows::driver::DriverKind;
use crate::core::workflows::upgrade::{self, Plan, Request, Settings, Target, ValuesSource};
use crate::tui::app::Msg;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// How the console makes changes.
#[derive(Debug, Clone)]
pub struct ChangeSettings {
    pub driver: DriverKind,
    /// The chart repository (the demo's is the sandbox's); else the values repo's record.
    pub chart_repo: Option<String>,
    pub timeout: Duration,
    /// Where backups, the values repo and the journal are (an error when there is no
    /// data directory: shown when a change is attempted).
    pub settings: Result<Settings, String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl ChangeSettings {
    fn settings(&self) -> Result<&Settings, String> {
        self.settings.as_ref().map_err(Clone::clone)
    }

    fn repo(&self) -> Option<RepoOptions> {
        self.chart_repo.as_deref().map(RepoOptions::new)
    }
}

/// [`crate::tui::app::Effect::UpgradeVersions`].
pub async fn versions(
    client: &kube::Client,
    cs: &ChangeSettings,
    namespace: String,
    name: String,
) -> Msg {
    let result = match cs.settings() {
        Ok(s) => upgrade::chart_versions(client, s, &namespace, &name, cs.repo())
            .await
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(e),
    };
    Msg::UpgradeVersions {
        namespace,
        name,
        result,
    }
}

/// [`crate::tui::app::Effect::PrepareChange`].
pub async fn prepare(
    client: &kube::Client,
    cs: &ChangeSettings,
    namespace: String,
    name: String,
    target: Target,
    topics: Option<crate::core::workflows::upgrade::TopicCheck>,
    values: Option<String>,
) -> Msg {
    let settings = match cs.settings() {
        Ok(s) => s.clone(),
        Err(e) => return Msg::ChangePlanned(Err(e)),
    };
    let req = Request {
        release: name,
        namespace,
        target,
        values: values.map_or(ValuesSource::Current, ValuesSource::Text),
        sets: Vec::new(),
        repository: cs.repo(),
        chart_reference: None,
        timeout: cs.timeout,
        auto_rollback: false,
        force: false,
        reason: "from the console".into(),
        topics,
        settings,
    };
    Msg::ChangePlanned(
        upgrade::prepare(client, req)
            .await
            .map(Box::new)
            .map_err(|e| format!("{e:#}")),
    )
}

/// [`crate::tui::app::Effect::RunChange`]: every event of the change as a message.
pub async fn run(
    client: kube::Client,
    cs: ChangeSettings,
    plan: Box<Plan>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let driver = cs
        .driver
        .make(&client, cs.kubeconfig.clone(), cs.context.clone());
    let (etx, mut erx) = mpsc::unbounded_channel();
    let forward = tokio::spawn(async move {
        while let Some(ev) = erx.recv().await {
            if tx.send(Msg::ChangeEvent(ev)).is_err() {
                break;
            }
        }
    });
    upgrade::execute(&client, &plan, driver.as_ref(), etx).await;
    let _ = forward.await;
}

/// The unfinished changes (journals) at start-up.
pub fn journals(cs: &ChangeSettings) -> Msg {
    let result = match cs.settings() {
        Ok(s) => {
            crate::core::workflows::journal::list(&s.journal_dir).map_err(|e| format!("{e:#}"))
        }
        Err(e) => Err(e),
    };
    Msg::Journals(result)
}

/// The backups of a release, newest first (`backup_dir` may be a directory or a URL).
pub async fn backups(cs: &ChangeSettings, namespace: String, name: String) -> Msg {
    use crate::core::releases::backup_store::BackupStore;
    let result = match cs.settings() {
        Ok(s) => match BackupStore::parse(&s.backup_dir.to_string_lossy()) {
            Ok(store) => store
                .list(Some(&namespace), Some(&name))
                .await
                .map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        },
        Err(e) => Err(e),
    };
    Msg::Backups {
        namespace,
        name,
        result,
    }
}

/// The values repo's commits of a release, newest first (empty when there is no repo yet).
pub fn values_log(cs: &ChangeSettings, namespace: String, name: String) -> Msg {
    let result = match cs.settings() {
        Ok(s) if !s.values_repo.join(".git").exists() => Ok(Vec::new()),
        Ok(s) => crate::core::releases::values_repo::ValuesRepo::open_or_init(&s.values_repo)
            .and_then(|r| r.log(s.environment.as_deref(), &namespace, &name))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    Msg::ValuesLog {
        namespace,
        name,
        result,
    }
}

/// Opens `yaml` in the user's editor ($VISUAL, else $EDITOR, else vi) in a private
/// temporary file (0600, removed afterwards): the edited text, `None` when unchanged.
/// Blocks until the editor exits; the caller has given it the terminal.
pub fn edit_in_editor(yaml: &str) -> Result<Option<String>, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let dir = tempfile::Builder::new()
        .prefix("helmdeck-edit-")
        .tempdir()
        .map_err(|e| format!("cannot make a file to edit: {e}"))?;
    let path = dir.path().join("values.yaml");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(yaml.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(words)
        .arg(&path)
        .status()
        .map_err(|e| format!("cannot run the editor {editor:?} ($VISUAL / $EDITOR): {e}"))?;
    if !status.success() {
        return Err(format!(
            "the editor {editor:?} exited with {status}: values unchanged"
        ));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {} back: {e}", path.display()))?;
    Ok((text != yaml).then_some(text))
}

/// [`crate::tui::app::Effect::RecoverVerify`].
pub async fn recover_verify(
    client: &kube::Client,
    cs: &ChangeSettings,
    namespace: String,
    name: String,
) -> Msg {
    let result = match cs.settings() {
        Ok(s) => upgrade::verify_interrupted(client, s, &namespace, &name)
            .await
            .map_err(|e| format!("{e:#}"))
            .and_then(|r| r.ok_or_else(|| format!("{namespace}/{name} has no unfinished change"))),
        Err(e) => Err(e),
    };
    Msg::Recovered {
        namespace,
        name,
        result,
    }
}

/// [`crate::tui::app::Effect::RecoverRollback`].
pub async fn recover_abandon(
    client: &kube::Client,
    cs: &ChangeSettings,
    namespace: String,
    name: String,
) -> Msg {
    let result = match cs.settings() {
        Ok(s) => upgrade::abandon_interrupted(client, s, &namespace, &name)
            .await
            .map(|a| match a.nothing_applied {
                Some(closed) => Err(closed),
                None => Ok(a.journal.from_revision),
            })
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(e),
    };
    Msg::JournalAbandoned {
        namespace,
        name,
        result,
    }
}
