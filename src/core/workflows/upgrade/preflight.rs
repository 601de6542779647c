//! Preflight: [`prepare`] reads the release, chooses the target and its values, and
//! checks that the change can be made, with no side effect.

use super::*;

/// Preflight: works out the change and checks it may be made. Changes nothing.
pub async fn prepare(client: &kube::Client, request: Request) -> Result<Plan> {
    let ns = request.namespace.clone();
    let name = request.release.clone();
    let h = fetch::release_history(client, &ns, &name).await?;
    let current = h
        .current()
        .cloned()
        .ok_or_else(|| anyhow!("{ns}/{name} has no readable revision"))?;
    let latest = h.latest().cloned().unwrap_or_else(|| current.clone());

    let mut checks = Vec::new();
    let target = match &request.target {
        Target::Revision(rev) => rollback_target(&h, &latest, *rev, &ns, &name)?,
        Target::Version(version) => {
            upgrade_target(&request, &h, &current, version, None, &mut checks).await?
        }
        Target::Commit(sha) => {
            let (record, text) = committed_values(&request, sha, &current).await?;
            let version = record.version.clone();
            upgrade_target(
                &request,
                &h,
                &current,
                &version,
                Some((record, text)),
                &mut checks,
            )
            .await?
        }
    };
    let from_version = &current.chart.metadata.version;
    let jump = match (
        repo::parse_version(from_version),
        repo::parse_version(&target.to_version),
    ) {
        (Ok(f), Ok(t)) if repo::cmp_precedence(&t, &f).is_gt() => Some(Jump::classify(&f, &t)),
        _ => None,
    };
    let (values_diff, plaintext_secrets) = values_checks(&request, &current, &target, &mut checks)?;
    let rollback = matches!(target.kind, Kind::Rollback { .. });
    checks.push(release_check(&latest, &current, rollback, &ns, &name));
    checks.extend(nobody_else_checks(client, &request).await);
    let workloads = manifest_workloads(&current.manifest);
    checks.push(workloads_check(client, &ns, &workloads, rollback).await);
    checks.push(nodes_check(client).await);
    checks.push(topics_check(&request));

    Ok(Plan {
        kind: target.kind,
        latest_revision: latest.version,
        latest_version: latest.chart.metadata.version.clone(),
        current,
        chart: target.chart,
        to_version: target.to_version,
        to_app_version: target.to_app_version,
        jump,
        changes: target.changes,
        values: target.values,
        values_yaml: target.values_yaml,
        values_diff,
        plaintext_secrets,
        checks,
        images: target.images,
        workloads,
        request,
    })
}

/// What a change goes to: its chart, version and values.
struct ChangeTarget {
    kind: Kind,
    to_version: String,
    to_app_version: String,
    values: Value,
    values_yaml: String,
    chart: ChartSource,
    /// The target version's changelog lines and images, where the repository has them.
    changes: Vec<String>,
    images: BTreeMap<String, String>,
}

/// A rollback to revision `rev`: its chart and values, as Helm keeps them.
fn rollback_target(
    h: &ReleaseHistory,
    latest: &Release,
    rev: i64,
    ns: &str,
    name: &str,
) -> Result<ChangeTarget> {
    let r = h.revision(rev).ok_or_else(|| {
        anyhow!(
            "{ns}/{name} has no revision {rev} (it has {})",
            h.revisions
                .iter()
                .map(|r| r.version.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    if rev == latest.version && latest.info.status == ReleaseStatus::Deployed {
        bail!("revision {rev} is the deployed revision of {ns}/{name}: nothing to roll back to");
    }
    let values = if r.config.is_null() {
        Value::Object(Default::default())
    } else {
        r.config.clone()
    };
    let values_yaml = history::values_yaml(&values, true);
    Ok(ChangeTarget {
        kind: Kind::Rollback { to_revision: rev },
        to_version: r.chart.metadata.version.clone(),
        to_app_version: r.chart.metadata.app_version.clone(),
        values,
        values_yaml,
        chart: ChartSource {
            name: r.chart.metadata.name.clone(),
            repository: String::new(),
            reference: r.chart.metadata.name.clone(),
        },
        changes: Vec::new(),
        images: BTreeMap::new(),
    })
}

/// The record and values text of commit `sha` of the values repo, which must be of the
/// chart the release runs.
async fn committed_values(
    request: &Request,
    sha: &str,
    current: &Release,
) -> Result<(ReleaseRecord, String)> {
    let (ns, name) = (&request.namespace, &request.release);
    let path = request.settings.values_repo.clone();
    let (sha2, ns2, name2) = (sha.to_string(), ns.clone(), name.clone());
    let env = request.settings.environment.clone();
    let (record, text) = blocking(move || {
        let repo = ValuesRepo::open_or_init(&path)?;
        Ok(repo.read_at(&sha2, env.as_deref(), &ns2, &name2)?)
    })
    .await?;
    if record.chart != current.chart.metadata.name {
        bail!(
            "commit {sha} records chart {}, but {ns}/{name} runs {}",
            record.chart,
            current.chart.metadata.name
        );
    }
    Ok((record, text))
}

/// An upgrade to chart version `version` of the release's chart repository, with the
/// values of `committed` (a values-repo commit's record and text) or of the request.
async fn upgrade_target(
    request: &Request,
    h: &ReleaseHistory,
    current: &Release,
    version: &str,
    committed: Option<(ReleaseRecord, String)>,
    checks: &mut Vec<Check>,
) -> Result<ChangeTarget> {
    let (ns, name) = (&request.namespace, &request.release);
    let (recorded_repo, text) = match committed {
        Some((record, text)) => (Some(record), Some(text)),
        None => (recorded(&request.settings, ns, name).await, None),
    };
    let repo_opts = match (&request.repository, &recorded_repo) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) if !r.repository.is_empty() => RepoOptions::new(&r.repository),
        _ => bail!(
            "no chart repository known for {ns}/{name}: give it with --repo URL (it is then recorded in the values repo)"
        ),
    };
    let fetched = ChartRepo::new(repo_opts)?.fetch_index().await?;
    let chart_name = current.chart.metadata.name.clone();
    let entries = fetched.index.chart(&chart_name, &fetched.url)?;
    let entry = chart_entry(request, h, current, entries, version, &fetched.url)?;
    checks.extend(version_checks(entry, version));
    let (values, values_yaml) = values_to_apply(request, text.as_deref(), current)?;
    let repository = if request.chart_reference.is_some() {
        String::new()
    } else {
        fetched
            .url
            .trim_end_matches("index.yaml")
            .trim_end_matches('/')
            .to_string()
    };
    Ok(ChangeTarget {
        kind: Kind::Upgrade,
        to_version: entry.version.clone(),
        to_app_version: entry.app_version.clone(),
        values,
        values_yaml,
        chart: ChartSource {
            name: chart_name.clone(),
            reference: request.chart_reference.clone().unwrap_or(chart_name),
            repository,
        },
        changes: repo::changes_of(&entry.annotations),
        images: images_of(entry),
    })
}

/// The repository's entry of chart version `version`. A version older than the deployed
/// one is refused (a downgrade is a rollback), naming the revision that ran it.
fn chart_entry<'a>(
    request: &Request,
    h: &ReleaseHistory,
    current: &Release,
    entries: &'a [IndexEntry],
    version: &str,
    url: &str,
) -> Result<&'a IndexEntry> {
    let name = &request.release;
    let chart_name = &current.chart.metadata.name;
    let from_version = &current.chart.metadata.version;
    let wanted = repo::parse_version(version)
        .map_err(|e| anyhow!("{version:?} is not a chart version: {e}"))?;
    let entry = entries
        .iter()
        .find(|e| repo::parse_version(&e.version).ok().as_ref() == Some(&wanted))
        .ok_or_else(|| {
            let newest = repo::newer_versions(entries, from_version, false)
                .ok()
                .and_then(|o| o.first().map(|o| o.version.to_string()))
                .unwrap_or_else(|| from_version.clone());
            anyhow!(
                "chart {chart_name} has no version {version} in {url} (newest stable: {newest}; `helmdeck versions {name}` lists them)",
            )
        })?;
    let from = repo::parse_version(from_version).ok();
    if let Some(f) = &from
        && repo::cmp_precedence(&wanted, f).is_lt()
        && matches!(request.target, Target::Version(_))
    {
        let earlier = h
            .revisions
            .iter()
            .rev()
            .find(|r| repo::parse_version(&r.chart.metadata.version).ok() == Some(wanted.clone()))
            .map(|r| {
                format!(
                    " (revision {} ran {version}: `helmdeck rollback {name} --to {}`)",
                    r.version, r.version
                )
            })
            .unwrap_or_default();
        bail!(
            "{version} is older than the deployed {from_version}: a downgrade is not an upgrade; roll back instead{earlier}"
        );
    }
    Ok(entry)
}

/// Warnings about the target version: a pre-release, or deprecated in the repository.
fn version_checks(entry: &IndexEntry, version: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    if repo::parse_version(version).is_ok_and(|v| !v.pre.is_empty()) {
        checks.push(check(
            "version",
            CheckLevel::Warn,
            format!("{version} is a pre-release"),
        ));
    }
    if entry.deprecated {
        checks.push(check(
            "version",
            CheckLevel::Warn,
            format!("{version} is deprecated in the repository"),
        ));
    }
    checks
}

/// The values an upgrade applies, and their text to commit: the committed ones (`text`),
/// else the request's (the current ones, a file or a text), decrypted in memory, with the
/// `--set`s on top.
fn values_to_apply(
    request: &Request,
    text: Option<&str>,
    current: &Release,
) -> Result<(Value, String)> {
    let (mut values, source) = match (text, &request.values) {
        (Some(t), _) => (
            parse_values(t, "the committed values")?,
            "the committed values".to_string(),
        ),
        (None, ValuesSource::Current) => (
            match &current.config {
                Value::Null => Value::Object(Default::default()),
                v => v.clone(),
            },
            String::new(),
        ),
        (None, ValuesSource::File(p)) => {
            let t =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            (
                parse_values(&t, &p.display().to_string())?,
                p.display().to_string(),
            )
        }
        (None, ValuesSource::Text(t)) => (parse_values(t, "the values")?, "the values".to_string()),
    };
    // Values encrypted in the values repo (a commit, or a values file copied from it) are
    // decrypted here, in memory; without the identity nothing is applied.
    let opened = if source.is_empty() {
        None
    } else {
        let source = match (&request.target, text) {
            (Target::Commit(sha), Some(_)) => format!("commit {sha}"),
            _ => source,
        };
        let o = values_secrets::open_with(&values, &request.settings.secrets)
            .with_context(|| format!("{source}: encrypted values"))?;
        if o.masked {
            bail!(
                "{source} holds {} value(s) encrypted with age ({}), which cannot be applied: {}",
                o.sealed.len(),
                o.sealed.join(", "),
                values_secrets::identity_missing()
            );
        }
        (!o.sealed.is_empty()).then_some(o)
    };
    if let Some(o) = &opened {
        values = o.values.clone();
    }
    for s in &request.sets {
        apply_set(&mut values, s)?;
    }
    let yaml = match (text, &request.values) {
        _ if opened.is_some() => history::values_yaml(&values, true),
        (Some(t), _) if request.sets.is_empty() => t.to_string(),
        (None, ValuesSource::File(p)) if request.sets.is_empty() => {
            std::fs::read_to_string(p).unwrap_or_default()
        }
        (None, ValuesSource::Text(t)) if request.sets.is_empty() => t.clone(),
        _ => history::values_yaml(&values, true),
    };
    Ok((values, yaml))
}

/// The values' diff (masked) and their plain-text secrets, with the checks on them: the
/// release's size, the secrets' fate; a change that changes nothing is refused.
fn values_checks(
    request: &Request,
    current: &Release,
    target: &ChangeTarget,
    checks: &mut Vec<Check>,
) -> Result<(Vec<DiffLine>, Vec<String>)> {
    let (ns, name) = (&request.namespace, &request.release);
    let values = &target.values;
    let (old_values, new_values) = history::values_yaml_pair(&current.config, values, false);
    let values_diff = summarise_diff(
        history::unified(
            &old_values,
            &new_values,
            &format!("revision {} values", current.version),
            "new values",
        ),
        &request.settings,
        ns,
        name,
    );
    if let Some(c) = release_size_check(current, values) {
        checks.push(c);
    }
    if target.kind == Kind::Upgrade
        && target.to_version == current.chart.metadata.version
        && old_values == new_values
    {
        // Compare revealed too: a changed secret is a change.
        if history::values_yaml(&current.config, true) == history::values_yaml(values, true) {
            bail!(
                "{ns}/{name} already runs {} with these values: nothing to change",
                target.to_version
            );
        }
    }
    let plaintext_secrets = history::secret_paths(values);
    if let Some(c) = secrets_check(&request.settings.secrets, &plaintext_secrets) {
        checks.push(c);
    }
    Ok((values_diff, plaintext_secrets))
}

/// The release's state: a pending revision blocks an upgrade (a rollback supersedes it).
fn release_check(
    latest: &Release,
    current: &Release,
    rollback: bool,
    ns: &str,
    name: &str,
) -> Check {
    if !latest.info.status.is_pending() {
        return check(
            "release",
            CheckLevel::Pass,
            format!(
                "revision {} {} ({} {})",
                latest.version,
                latest.info.status,
                current.chart.metadata.name,
                current.chart.metadata.version
            ),
        );
    }
    let detail = format!(
        "revision {} is {} since {}: another change is running, or one was interrupted",
        latest.version,
        latest.info.status,
        latest
            .info
            .last_deployed
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "an unknown time".into())
    );
    if rollback {
        check(
            "release",
            CheckLevel::Warn,
            format!("{detail}; the rollback supersedes it"),
        )
    } else {
        check(
            "release",
            CheckLevel::Fail,
            format!(
                "{detail}; if nobody is changing it, roll back: helmdeck rollback {name} -n {ns} --to {}",
                current.version
            ),
        )
    }
}

/// Nobody else is changing the release: its lock is free, no earlier change was left
/// unfinished, the values repo can take the record, no blue/green cutover is open.
async fn nobody_else_checks(client: &kube::Client, request: &Request) -> Vec<Check> {
    let (ns, name) = (request.namespace.as_str(), request.release.as_str());
    let mut checks = Vec::new();
    match lock::current_holder(client, ns, name).await {
        Ok(Some(h)) => checks.push(check(
            "lock",
            CheckLevel::Fail,
            format!("{ns}/{name} is being changed by {h}"),
        )),
        Ok(None) => checks.push(check("lock", CheckLevel::Pass, "free")),
        Err(e) => checks.push(check("lock", CheckLevel::Fail, format!("{e:#}"))),
    }
    match JournalFile::resume(&request.settings.journal_dir, ns, name) {
        Ok(Some(j)) => checks.push(check(
            "journal",
            CheckLevel::Fail,
            format!(
                "an earlier change did not finish: {}; recover it first (helmdeck recover {name} -n {ns})",
                j.journal.summary()
            ),
        )),
        Ok(None) => {}
        Err(e) => checks.push(check("journal", CheckLevel::Fail, format!("{e:#}"))),
    }
    // The values repo can take the record where it belongs (laid out by environment when
    // the change is made in one).
    if let Some(env) = &request.settings.environment
        && let Err(e) = values_repo_ready(&request.settings).await
    {
        checks.push(check(
            "values repo",
            CheckLevel::Fail,
            format!("cannot record under {env}/: {e:#}"),
        ));
    }
    // No blue/green cutover of its workloads is open: its Service is pinned to the pods
    // this change would replace.
    match crate::core::workflows::bluegreen::open_cutovers(client, ns, name).await {
        Ok(open) if !open.is_empty() => checks.push(check(
            "bluegreen",
            CheckLevel::Fail,
            format!("{}; finish it first", open.join("; ")),
        )),
        Ok(_) => {}
        Err(e) => checks.push(check("bluegreen", CheckLevel::Fail, format!("{e:#}"))),
    }
    checks
}

/// Every workload of the release is ready: an upgrade on unready ones fails unless forced,
/// a rollback is only warned.
async fn workloads_check(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    rollback: bool,
) -> Check {
    let mut unhealthy = Vec::new();
    for w in workloads {
        match workload_ready(client, ns, w).await {
            Ok((ready, desired)) if ready < desired => unhealthy.push(format!(
                "{} {} {ready}/{desired} ready",
                w.kind.short(),
                w.name
            )),
            Ok(_) => {}
            Err(e) => unhealthy.push(format!("{} {}: {e:#}", w.kind.short(), w.name)),
        }
    }
    if unhealthy.is_empty() {
        check(
            "workloads",
            CheckLevel::Pass,
            format!("{} workload(s) ready", workloads.len()),
        )
    } else if rollback {
        check("workloads", CheckLevel::Warn, unhealthy.join("; "))
    } else {
        Check {
            overridable: true,
            ..check(
                "workloads",
                CheckLevel::Fail,
                format!("{} (--force goes on anyway)", unhealthy.join("; ")),
            )
        }
    }
}

/// The topic plan, when one is configured, holds.
fn topics_check(request: &Request) -> Check {
    match request.topics.as_ref().map(|t| &t.problems) {
        None => check("topics", CheckLevel::Pass, "no topic plan configured"),
        Some(p) if p.is_empty() => check("topics", CheckLevel::Pass, "plan holds"),
        Some(p) => check("topics", CheckLevel::Warn, p.join("; ")),
    }
}

/// What the values repo will do with the secret-looking values (`paths`): encrypt them
/// (pass), commit them in plain text as `--allow-plaintext-secrets` allowed (warn), or
/// refuse (fail, not overridable by `--force`): nothing is changed then.
fn secrets_check(secrets: &ValuesSecrets, paths: &[String]) -> Option<Check> {
    let list = paths.join(", ");
    Some(match secrets.disposition(paths) {
        Disposition::Nothing => return None,
        Disposition::Encrypt => check(
            "secrets",
            CheckLevel::Pass,
            format!(
                "{} secret value(s) committed encrypted with age to {} recipient(s): {list}",
                paths.len(),
                secrets.recipients.len()
            ),
        ),
        Disposition::Plaintext => check(
            "secrets",
            CheckLevel::Warn,
            format!(
                "plain-text secrets committed to the values repo as they are (--allow-plaintext-secrets): {list}"
            ),
        ),
        Disposition::Refuse => check(
            "secrets",
            CheckLevel::Fail,
            format!(
                "plain-text secrets in the values: {list}; the values repo has no age recipients to encrypt them to: set values_secrets.recipients in the config, or pass --allow-plaintext-secrets to commit them as they are"
            ),
        ),
    })
}

/// (ready, desired) of a workload, read untyped: Deployments and StatefulSets count
/// `readyReplicas` of `spec.replicas`, DaemonSets `numberReady` of `desiredNumberScheduled`.
/// The most a Secret holds: the API server refuses more (Helm keeps a release, compressed,
/// in one Secret).
pub const RELEASE_LIMIT: usize = 1024 * 1024;

/// Refuses values that would make the release larger than its Secret can hold: the size of
/// the release Helm would store (the current revision with these values, encoded as Helm
/// encodes it), against [`RELEASE_LIMIT`].
fn release_size_check(current: &Release, values: &Value) -> Option<Check> {
    let mut next = current.clone();
    next.config = values.clone();
    let secret = crate::core::release::release_secret(&next).ok()?;
    let size: usize = secret.data.as_ref()?.values().map(|b| b.0.len()).sum();
    (size > RELEASE_LIMIT).then(|| {
        check(
            "size",
            CheckLevel::Fail,
            format!(
                "the release would take about {} in its Secret (chart, manifest and these values, compressed as Helm stores them); a Secret holds at most {}: make the values smaller",
                mib(size),
                mib(RELEASE_LIMIT)
            ),
        )
    })
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The most lines of a values diff shown; a longer one is summarised.
pub const DIFF_SHOWN: usize = 200;

/// A diff longer than [`DIFF_SHOWN`] lines: its first lines, then a line with the counts and
/// the file that holds all of it (masked, as shown; 0600, beside the journal).
fn summarise_diff(
    lines: Vec<DiffLine>,
    settings: &Settings,
    ns: &str,
    name: &str,
) -> Vec<DiffLine> {
    if lines.len() <= DIFF_SHOWN {
        return lines;
    }
    let added = lines.iter().filter(|l| l.kind == LineKind::Added).count();
    let removed = lines.iter().filter(|l| l.kind == LineKind::Removed).count();
    let dir = settings
        .journal_dir
        .parent()
        .map(|d| d.join("diffs"))
        .unwrap_or_else(|| settings.journal_dir.join("diffs"));
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S");
    let path = dir.join(format!("{ns}.{name}.{stamp}.diff"));
    let text: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    let where_ = match crate::core::private_files::create_dir(&dir)
        .and_then(|()| write_private(&path, text.as_bytes()))
    {
        Ok(()) => format!("the whole diff is in {}", path.display()),
        Err(e) => format!(
            "the whole diff could not be written to {}: {e}",
            path.display()
        ),
    };
    let more = lines.len() - DIFF_SHOWN;
    let mut shown: Vec<DiffLine> = lines.into_iter().take(DIFF_SHOWN).collect();
    shown.push(DiffLine {
        kind: LineKind::Header,
        text: format!("… {more} more lines ({added} added, {removed} removed in all); {where_}"),
    });
    shown
}

async fn workload_ready(
    client: &kube::Client,
    ns: &str,
    w: &ManifestWorkload,
) -> Result<(i32, i32)> {
    let obj = crate::core::workflows::simulated::workload_api(client, ns, w.kind)
        .get(&w.name)
        .await?;
    let n = |v: &Value| v.as_i64().map(|n| n as i32);
    let (status, spec) = (&obj.data["status"], &obj.data["spec"]);
    Ok(match w.kind {
        WorkloadKind::DaemonSet => (
            n(&status["numberReady"]).unwrap_or(0),
            n(&status["desiredNumberScheduled"]).unwrap_or(0),
        ),
        _ => (
            n(&status["readyReplicas"]).unwrap_or(0),
            n(&spec["replicas"]).unwrap_or(1),
        ),
    })
}

async fn nodes_check(client: &kube::Client) -> Check {
    use k8s_openapi::api::core::v1::Node;
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    match api.list(&Default::default()).await {
        Ok(list) => {
            let not_ready: Vec<String> = list
                .items
                .iter()
                .filter(|n| {
                    !n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        })
                })
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            if not_ready.is_empty() {
                check(
                    "nodes",
                    CheckLevel::Pass,
                    format!("{} node(s) ready", list.items.len()),
                )
            } else {
                check(
                    "nodes",
                    CheckLevel::Warn,
                    format!("not ready: {}", not_ready.join(", ")),
                )
            }
        }
        Err(e) => check("nodes", CheckLevel::Warn, format!("cannot list nodes: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pre_release_or_deprecated_target_is_warned_and_a_plain_one_is_not() {
        let entry = |version: &str, deprecated| IndexEntry {
            version: version.into(),
            deprecated,
            ..Default::default()
        };
        let details = |checks: Vec<Check>| {
            checks
                .into_iter()
                .map(|c| {
                    assert_eq!((c.name.as_str(), c.level), ("version", CheckLevel::Warn));
                    c.detail
                })
                .collect::<Vec<_>>()
        };
        assert!(version_checks(&entry("1.5.0", false), "1.5.0").is_empty());
        assert_eq!(
            details(version_checks(&entry("2.0.0-rc.1", false), "2.0.0-rc.1")),
            ["2.0.0-rc.1 is a pre-release"]
        );
        assert_eq!(
            details(version_checks(&entry("1.4.0-beta", true), "1.4.0-beta")),
            [
                "1.4.0-beta is a pre-release",
                "1.4.0-beta is deprecated in the repository"
            ]
        );
    }

    #[test]
    fn the_preflight_check_passes_warns_or_fails_as_the_secrets_will_be_committed() {
        let paths = vec!["db.password".to_string()];
        assert_eq!(secrets_check(&ValuesSecrets::default(), &[]), None);
        let refused = secrets_check(&ValuesSecrets::default(), &paths).unwrap();
        assert_eq!(refused.level, CheckLevel::Fail);
        assert!(!refused.overridable, "--force must not override it");
        assert!(refused.detail.contains("--allow-plaintext-secrets"));
        let allowed = ValuesSecrets {
            allow_plaintext: true,
            ..Default::default()
        };
        assert_eq!(
            secrets_check(&allowed, &paths).unwrap().level,
            CheckLevel::Warn
        );
        let encrypted = ValuesSecrets {
            recipients: vec!["age1…".into()],
            ..Default::default()
        };
        assert_eq!(
            secrets_check(&encrypted, &paths).unwrap().level,
            CheckLevel::Pass
        );
    }
}
