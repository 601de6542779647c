//! Recovering a change that was interrupted (the process died on the way): verified and
//! closed, or abandoned, from its journal.

use super::*;

/// What verifying an interrupted change found.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    pub journal: Journal,
    /// `revision N status (chart version)` of the release now.
    pub now: String,
    /// The change reached its target: the journal is closed and git says it succeeded.
    pub verified: bool,
    /// The change was interrupted before anything was applied: the journal is closed, the
    /// lock freed and git says nothing changed.
    pub nothing_applied: bool,
    /// What it was checked against.
    pub target: String,
}

/// Verifies the interrupted change of `namespace/release`: when the release's latest revision
/// is deployed at the change's target, the outcome is recorded (succeeded) and the journal
/// closed. `None` when there is no unfinished change.
pub async fn verify_interrupted(
    client: &kube::Client,
    settings: &Settings,
    namespace: &str,
    release: &str,
) -> Result<Option<Recovery>> {
    let Some(file) = JournalFile::resume(&settings.journal_dir, namespace, release)? else {
        return Ok(None);
    };
    let j = file.journal.clone();
    if !reached_apply(&j) {
        let now = close_before_apply(client, settings, file).await?;
        return Ok(Some(Recovery {
            target: j.operation.to_string(),
            journal: j,
            now,
            verified: false,
            nothing_applied: true,
        }));
    }
    let h = fetch::release_history(client, namespace, release).await?;
    let latest = h
        .latest()
        .ok_or_else(|| anyhow!("{namespace}/{release} has no revision"))?;
    let target = match &j.operation {
        Operation::Upgrade { to_version } => to_version.clone(),
        Operation::Rollback { to_revision } => h
            .revision(*to_revision)
            .map(|r| r.chart.metadata.version.clone())
            .unwrap_or_default(),
    };
    let verified = latest.info.status == ReleaseStatus::Deployed
        && latest.chart.metadata.version == target
        && latest.version > j.from_revision;
    let now = format!(
        "revision {} {} ({} {})",
        latest.version,
        latest.info.status,
        latest.chart.metadata.name,
        latest.chart.metadata.version
    );
    if verified {
        note_interrupted(settings, &j, Outcome::Succeeded).await?;
        file.finish()?;
    }
    Ok(Some(Recovery {
        journal: j,
        now,
        verified,
        nothing_applied: false,
        target,
    }))
}

/// Whether an interrupted change got as far as applying (the journal is written before
/// each step, so a change that stopped at lock, backup or commit applied nothing).
fn reached_apply(j: &Journal) -> bool {
    !matches!(j.step.as_str(), "lock" | "backup" | "commit")
}

/// Closes a change interrupted before it applied anything: git says so, the lock its dead
/// holder left is freed (a live holder's is left alone, and said), the journal goes.
async fn close_before_apply(
    client: &kube::Client,
    settings: &Settings,
    file: JournalFile,
) -> Result<String> {
    let j = file.journal.clone();
    note_interrupted(
        settings,
        &j,
        Outcome::Failed(format!(
            "interrupted at {} before apply; nothing changed",
            j.step
        )),
    )
    .await?;
    let lock = match ReleaseLock::acquire(
        client,
        &j.namespace,
        &j.release,
        "closing an interrupted change",
        Duration::from_secs(30),
    )
    .await
    {
        Ok(l) => {
            l.release().await;
            "the lock is free".to_string()
        }
        Err(e) => format!("the lock was left as it is: {e}"),
    };
    file.finish()?;
    Ok(format!(
        "interrupted at {} before anything was applied: nothing changed; {lock}",
        j.step
    ))
}

/// What giving up an interrupted change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Abandoned {
    pub journal: Journal,
    /// Nothing had been applied: closed, and there is nothing to roll back.
    pub nothing_applied: Option<String>,
}

/// Gives up the interrupted change of `namespace/release` before rolling it back: its
/// outcome is recorded (failed: interrupted) and the journal closed, so the rollback can
/// start. Returns the journal (its `from_revision` is where to roll back to).
pub async fn abandon_interrupted(
    client: &kube::Client,
    settings: &Settings,
    namespace: &str,
    release: &str,
) -> Result<Abandoned> {
    let file = JournalFile::resume(&settings.journal_dir, namespace, release)?
        .ok_or_else(|| anyhow!("{namespace}/{release} has no unfinished change"))?;
    let j = file.journal.clone();
    if !reached_apply(&j) {
        let why = close_before_apply(client, settings, file).await?;
        return Ok(Abandoned {
            journal: j,
            nothing_applied: Some(why),
        });
    }
    note_interrupted(
        settings,
        &j,
        Outcome::Failed(format!("interrupted at {}; rolled back afterwards", j.step)),
    )
    .await?;
    file.finish()?;
    Ok(Abandoned {
        journal: j,
        nothing_applied: None,
    })
}

async fn note_interrupted(settings: &Settings, j: &Journal, outcome: Outcome) -> Result<()> {
    let Some(commit) = j.commit.clone() else {
        return Ok(());
    };
    let path = settings.values_repo.clone();
    blocking(move || Ok(ValuesRepo::open_or_init(&path)?.record_outcome(&commit, &outcome)?)).await
}
