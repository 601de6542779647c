//! The change itself: [`execute`] runs its steps (journal, lock, backup, commit, apply,
//! verify, rollback, record), reporting each as an [`Event`].

use super::*;

/// The steps of [`execute`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Lock,
    Backup,
    Commit,
    Apply,
    Verify,
    Rollback,
    Record,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Lock,
        Step::Backup,
        Step::Commit,
        Step::Apply,
        Step::Verify,
        Step::Rollback,
        Step::Record,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Lock => "lock",
            Step::Backup => "backup",
            Step::Commit => "commit",
            Step::Apply => "apply",
            Step::Verify => "verify",
            Step::Rollback => "rollback",
            Step::Record => "record",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Running(String),
    Done(String),
    Failed(String),
    Skipped(String),
}

/// A workload's rollout during apply and verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadProgress {
    pub kind: WorkloadKind,
    pub name: String,
    pub ready: i32,
    pub desired: i32,
    pub message: String,
    pub converged: bool,
}

/// What [`execute`] reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Step(Step, StepState),
    /// A line of the driver's output.
    Output(String),
    /// The workloads' rollout, whenever one changes.
    Progress(Vec<WorkloadProgress>),
    Finished(Report),
}

/// How a change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    /// Applied but failed (or timed out), and not rolled back.
    Failed(String),
    /// Failed, then rolled back to the starting revision.
    RolledBack(String),
    /// Failed, and the rollback failed too; `left` says where the release was left.
    RollbackFailed {
        failure: String,
        rollback: String,
        left: String,
    },
    /// Stopped before anything was applied.
    Aborted {
        step: Step,
        why: String,
    },
}

impl Ending {
    pub fn succeeded(&self) -> bool {
        *self == Ending::Succeeded
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Succeeded => write!(f, "succeeded"),
            Ending::Failed(w) => write!(f, "failed: {w}"),
            Ending::RolledBack(w) => write!(f, "failed and was rolled back: {w}"),
            Ending::RollbackFailed {
                failure,
                rollback,
                left,
            } => {
                write!(
                    f,
                    "failed: {failure}; the rollback failed too: {rollback}; the release is left at {left}"
                )
            }
            Ending::Aborted { step, why } => {
                write!(
                    f,
                    "stopped at {} before applying anything: {why}",
                    step.as_str()
                )
            }
        }
    }
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ending: Ending,
    pub backup: Option<PathBuf>,
    /// The values-repo commit of the change (and of the automatic rollback).
    pub commit: Option<String>,
    pub rollback_commit: Option<String>,
    /// Offered when a change failed and was not rolled back: the revision to go back to.
    pub offer_rollback_to: Option<i64>,
    /// Things worth knowing that did not stop the change (a push that failed…).
    pub warnings: Vec<String>,
}

struct Run<'a> {
    client: &'a kube::Client,
    plan: &'a Plan,
    driver: &'a dyn ReleaseDriver,
    events: UnboundedSender<Event>,
    report: Report,
}

impl Run<'_> {
    fn step(&self, step: Step, state: StepState) {
        let _ = self.events.send(Event::Step(step, state));
    }

    fn abort(&mut self, step: Step, why: String) {
        self.step(step, StepState::Failed(why.clone()));
        self.report.ending = Ending::Aborted { step, why };
    }
}

/// Runs a prepared change. Never panics on a fault; every ending is in the [`Report`]
/// (also sent as [`Event::Finished`]).
pub async fn execute(
    client: &kube::Client,
    plan: &Plan,
    driver: &dyn ReleaseDriver,
    events: UnboundedSender<Event>,
) -> Report {
    let mut run = Run {
        client,
        plan,
        driver,
        events: events.clone(),
        report: Report {
            ending: Ending::Succeeded,
            backup: None,
            commit: None,
            rollback_commit: None,
            offer_rollback_to: None,
            warnings: Vec::new(),
        },
    };
    run_steps(&mut run).await;
    let report = run.report;
    let _ = events.send(Event::Finished(report.clone()));
    report
}

async fn run_steps(run: &mut Run<'_>) {
    let plan = run.plan;
    let req = &plan.request;
    let (ns, name) = (req.namespace.as_str(), req.release.as_str());
    let blockers = plan.blockers();
    if !blockers.is_empty() {
        let why = blockers
            .iter()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ");
        run.abort(Step::Lock, format!("preflight failed: {why}"));
        return;
    }

    // Journal, then lock.
    let mut journal = match JournalFile::start(
        &req.settings.journal_dir,
        Journal {
            release: name.into(),
            namespace: ns.into(),
            operation: plan.operation(),
            from_revision: plan.current.version,
            from_version: plan.current.chart.metadata.version.clone(),
            started: jiff::Timestamp::now(),
            updated: jiff::Timestamp::now(),
            step: "lock".into(),
            backup: None,
            commit: None,
            holder: lock::holder_identity(),
        },
    ) {
        Ok(j) => j,
        Err(e) => return run.abort(Step::Lock, format!("{e:#}")),
    };
    run.step(
        Step::Lock,
        StepState::Running(format!("taking the Lease {}", lock::lease_name(name))),
    );
    let lock = match ReleaseLock::acquire(
        run.client,
        ns,
        name,
        &plan.headline(),
        Duration::from_secs(60),
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            run.abort(Step::Lock, e.to_string());
            finish_journal(run, journal);
            return;
        }
    };
    run.step(
        Step::Lock,
        StepState::Done(format!("held as {}", lock::holder_identity())),
    );

    steps_under_lock(run, &mut journal, &lock).await;
    lock.release().await;
    // The ending is recorded (or nothing was applied): the journal goes. It stays only when
    // the process dies on the way.
    finish_journal(run, journal);
}

fn finish_journal(run: &mut Run<'_>, journal: JournalFile) {
    if let Err(e) = journal.finish() {
        run.report.warnings.push(format!("{e:#}"));
    }
}

/// The change once the release's lock is held: backup, commit, apply and verify, roll back
/// on failure, record the outcome. Each step ends the change when it cannot be done safely,
/// with the reason in the report.
async fn steps_under_lock(run: &mut Run<'_>, journal: &mut JournalFile, lock: &ReleaseLock) {
    if !back_up(run, journal).await {
        return;
    }
    let Some(sha) = commit_values(run, journal).await else {
        return;
    };
    if let Some(why) = lock.lost() {
        return run.abort(
            Step::Apply,
            format!("the lock was lost before applying: {why}"),
        );
    }
    let failure = match apply_and_verify(run, journal).await {
        Applied::Aborted => return,
        Applied::NotRun(why) => return not_applied(run, &sha, why).await,
        Applied::Verified => None,
        Applied::Failed(why) => Some(why),
    };
    if let Some(why) = lock.lost() {
        // Too late to stop: the driver has applied. Say so where the outcome is read.
        run.report.warnings.push(format!(
            "the lock was lost while applying ({why}): another change of this release may have started; check its history"
        ));
    }
    handle_failure(run, journal, failure).await;
    record_outcome(run, journal, &sha).await;
}

/// Backup: nothing is applied without one. False when the change stops here.
async fn back_up(run: &mut Run<'_>, journal: &mut JournalFile) -> bool {
    let req = &run.plan.request;
    let (ns, name) = (req.namespace.as_str(), req.release.as_str());
    if let Err(e) = journal.step("backup", |_| {}) {
        run.abort(Step::Backup, format!("{e:#}"));
        return false;
    }
    run.step(
        Step::Backup,
        StepState::Running(format!("backing up {ns}/{name}")),
    );
    let extras = match req.topics.as_ref().and_then(|t| t.plan.as_ref()) {
        Some(plan) => vec![(
            "topic-plan.json".to_string(),
            serde_json::to_vec_pretty(plan).unwrap_or_default(),
        )],
        None => Vec::new(),
    };
    // `backup_dir` may be a directory or an object-storage URL.
    let store = crate::core::releases::backup_store::BackupStore::parse(
        &req.settings.backup_dir.to_string_lossy(),
    );
    let made = match store {
        Ok(store) => store.create(run.client, ns, name, extras).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(info) => {
            run.step(
                Step::Backup,
                StepState::Done(format!(
                    "revision {} ({} files) → {}",
                    info.manifest.revision,
                    info.manifest.files.len(),
                    info.path.display()
                )),
            );
            run.report.backup = Some(info.path.clone());
            let _ = journal.step("backup", |j| j.backup = Some(info.path));
            true
        }
        Err(e) => {
            run.abort(
                Step::Backup,
                format!("no backup, so nothing is applied: {e:#}"),
            );
            false
        }
    }
}

/// The reason a change's commit gives: the user's, else what the change is.
fn change_reason(plan: &Plan) -> String {
    let req = &plan.request;
    if !req.reason.is_empty() {
        return req.reason.clone();
    }
    match plan.kind {
        Kind::Upgrade => match &req.target {
            Target::Commit(sha) => format!("apply values of commit {sha}"),
            _ => "upgrade".to_string(),
        },
        Kind::Rollback { to_revision } => format!("rollback to revision {to_revision}"),
    }
}

/// Commits the values revision before applying. Its commit, or None when the change stops
/// here.
async fn commit_values(run: &mut Run<'_>, journal: &mut JournalFile) -> Option<String> {
    let plan = run.plan;
    if let Err(e) = journal.step("commit", |_| {}) {
        run.abort(Step::Commit, format!("{e:#}"));
        return None;
    }
    run.step(
        Step::Commit,
        StepState::Running("committing the values revision".into()),
    );
    let rollback_to = match plan.kind {
        Kind::Rollback { to_revision } => Some(to_revision),
        Kind::Upgrade => None,
    };
    let committed = commit(
        plan,
        CommitOf {
            revision: plan.latest_revision + 1,
            from: match plan.kind {
                Kind::Rollback { .. } => &plan.latest_version,
                Kind::Upgrade => &plan.current.chart.metadata.version,
            },
            version: &plan.to_version,
            values: &plan.values,
            values_yaml: &plan.values_yaml,
            reason: &change_reason(plan),
            rollback_to,
        },
    )
    .await;
    match committed {
        Ok(sha) => {
            run.step(
                Step::Commit,
                StepState::Done(format!(
                    "{} in {}",
                    &sha[..12.min(sha.len())],
                    plan.request.settings.values_repo.display()
                )),
            );
            let _ = journal.step("commit", |j| j.commit = Some(sha.clone()));
            run.report.commit = Some(sha.clone());
            Some(sha)
        }
        Err(e) => {
            run.abort(Step::Commit, format!("{e:#}"));
            None
        }
    }
}

/// What became of the apply.
enum Applied {
    /// Applied and verified.
    Verified,
    /// Applied (or partly), then it failed or was not verified: why.
    Failed(String),
    /// The driver never ran: nothing was applied.
    NotRun(String),
    /// The change stopped before the apply (its reason is in the report).
    Aborted,
}

/// Applies the change, following the workloads, then verifies it. A watchdog stops an
/// upgrade whose new pods are clearly broken, without waiting out the timeout.
async fn apply_and_verify(run: &mut Run<'_>, journal: &mut JournalFile) -> Applied {
    let plan = run.plan;
    let req = &plan.request;
    if let Err(e) = journal.step("apply", |_| {}) {
        run.abort(Step::Apply, format!("{e:#}"));
        return Applied::Aborted;
    }
    let started = jiff::Timestamp::now();
    // Pods carry whole seconds: those made in the second the change started count as new.
    let since = jiff::Timestamp::from_second(started.as_second()).unwrap_or(started);
    let follower = follow_workloads(
        run.client,
        &req.namespace,
        &plan.workloads,
        req.timeout,
        run.events.clone(),
    );
    let (stop_tx, stop) = Stop::channel();
    let watchdog = matches!(plan.kind, Kind::Upgrade).then(|| {
        watch_for_breakage(
            run.client,
            &req.namespace,
            &plan.workloads,
            since,
            req.timeout,
            stop_tx,
        )
    });
    run.step(
        Step::Apply,
        StepState::Running(format!("{} via {}", plan.headline(), run.driver.name())),
    );
    let applied = match apply(run, &plan.kind, stop.clone()).await {
        Ok(()) => {
            run.step(
                Step::Apply,
                StepState::Done(format!("{} reported success", run.driver.name())),
            );
            let _ = journal.step("verify", |_| {});
            match verify_with_analysis(run, &stop, started, since).await {
                None => Applied::Verified,
                Some(why) => Applied::Failed(why),
            }
        }
        Err(DriverError::Unavailable(why)) => Applied::NotRun(why),
        Err(e) => {
            let why = match e {
                DriverError::Stopped(why) => why,
                e => with_diagnosis(run.client, plan, since, e.to_string()).await,
            };
            run.step(Step::Apply, StepState::Failed(why.clone()));
            run.step(
                Step::Verify,
                StepState::Skipped("the apply failed: nothing to verify".into()),
            );
            Applied::Failed(why)
        }
    };
    follower.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    applied
}

/// Verifies an applied change: the release's status, the rollout and Warning events, then
/// the platform's metrics when it names an analysis. Why it failed, or None.
async fn verify_with_analysis(
    run: &mut Run<'_>,
    stop: &Stop,
    started: jiff::Timestamp,
    since: jiff::Timestamp,
) -> Option<String> {
    let plan = run.plan;
    let req = &plan.request;
    run.step(
        Step::Verify,
        StepState::Running("release status, rollout, Warning events".into()),
    );
    let verified = tokio::select! {
        v = verify(run.client, plan, started, req.timeout) => v,
        why = stop.requested() => Err(why),
    };
    let analysis = req
        .settings
        .analyses
        .for_release(&req.namespace, &req.release);
    let verified = match (verified, analysis) {
        (Ok(summary), Some(analysis)) => {
            run.step(
                Step::Verify,
                StepState::Running(format!("{summary}; analysis: first measurement")),
            );
            let mut progress = |line: String| run.step(Step::Verify, StepState::Running(line));
            let analysed = tokio::select! {
                a = crate::core::workflows::analysis::run(analysis, &mut progress) => a,
                why = stop.requested() => Err(why),
            };
            analysed.map(|a| format!("{summary}; {a}"))
        }
        (v, _) => v,
    };
    match verified {
        Ok(summary) => {
            run.step(Step::Verify, StepState::Done(summary));
            None
        }
        Err(why) => {
            let why = with_diagnosis(run.client, plan, since, why).await;
            run.step(Step::Verify, StepState::Failed(why.clone()));
            Some(why)
        }
    }
}

/// The driver never ran: nothing was applied, so there is nothing to roll back; the
/// commit's note says so.
async fn not_applied(run: &mut Run<'_>, sha: &str, why: String) {
    run.step(Step::Apply, StepState::Failed(why.clone()));
    run.step(
        Step::Verify,
        StepState::Skipped("nothing was applied".into()),
    );
    run.step(
        Step::Rollback,
        StepState::Skipped("nothing was applied".into()),
    );
    run.report.ending = Ending::Aborted {
        step: Step::Apply,
        why: why.clone(),
    };
    let outcome = Outcome::Failed(format!("not applied: {why}"));
    match record(&run.plan.request, sha, outcome).await {
        Ok(_) => run.step(
            Step::Record,
            StepState::Done("git note: not applied".into()),
        ),
        Err(e) => run.step(Step::Record, StepState::Failed(format!("{e:#}"))),
    }
}

/// Sets the ending: a success, or on failure a rollback at once, or one offered.
async fn handle_failure(run: &mut Run<'_>, journal: &mut JournalFile, failure: Option<String>) {
    let plan = run.plan;
    let rollback_target = plan.current.version;
    match failure {
        None => {
            run.step(Step::Rollback, StepState::Skipped("not needed".into()));
            run.report.ending = Ending::Succeeded;
        }
        Some(why) if matches!(plan.kind, Kind::Rollback { .. }) => {
            run.step(
                Step::Rollback,
                StepState::Skipped("this was the rollback".into()),
            );
            run.report.ending = Ending::Failed(why);
        }
        Some(why) if !plan.request.auto_rollback => {
            run.step(
                Step::Rollback,
                StepState::Skipped(format!("offered: roll back to revision {rollback_target}")),
            );
            run.report.offer_rollback_to = Some(rollback_target);
            run.report.ending = Ending::Failed(why);
        }
        Some(why) => roll_back(run, journal, why).await,
    }
}

/// The automatic rollback to the revision the change started from: its values are
/// committed first (a rollback is a revision too), then it is applied and its commit's
/// note records how it went.
async fn roll_back(run: &mut Run<'_>, journal: &mut JournalFile, why: String) {
    let plan = run.plan;
    let req = &plan.request;
    let (ns, name) = (req.namespace.as_str(), req.release.as_str());
    let rollback_target = plan.current.version;
    let _ = journal.step("rollback", |_| {});
    run.step(
        Step::Rollback,
        StepState::Running(format!("rolling back to revision {rollback_target}")),
    );
    let from_values = history::values_yaml(&plan.current.config, true);
    let rb_commit = commit(
        plan,
        CommitOf {
            revision: plan.latest_revision + 2,
            from: &plan.to_version,
            version: &plan.current.chart.metadata.version,
            values: &plan.current.config,
            values_yaml: &from_values,
            reason: &format!("automatic rollback to revision {rollback_target}: {why}"),
            rollback_to: Some(rollback_target),
        },
    )
    .await;
    match &rb_commit {
        Ok(sha) => run.report.rollback_commit = Some(sha.clone()),
        Err(e) => run
            .report
            .warnings
            .push(format!("the rollback's values were not committed: {e:#}")),
    }
    let follower = follow_workloads(
        run.client,
        ns,
        &plan.workloads,
        req.timeout,
        run.events.clone(),
    );
    let rb = apply(
        run,
        &Kind::Rollback {
            to_revision: rollback_target,
        },
        Stop::never(),
    )
    .await;
    follower.abort();
    match rb {
        Ok(()) => {
            run.step(
                Step::Rollback,
                StepState::Done(format!(
                    "back on the chart of revision {rollback_target} ({})",
                    plan.current.chart.metadata.version
                )),
            );
            run.report.ending = Ending::RolledBack(why);
        }
        Err(e) => {
            run.step(Step::Rollback, StepState::Failed(e.to_string()));
            let left = release_state(run.client, ns, name).await;
            run.report.ending = Ending::RollbackFailed {
                failure: why,
                rollback: e.to_string(),
                left: format!(
                    "{left}; next: `helmdeck rollback {name} -n {ns} --to {rollback_target}` once the cause is fixed"
                ),
            };
        }
    }
    if let Some(rb_sha) = &run.report.rollback_commit {
        let outcome = match &run.report.ending {
            Ending::RollbackFailed { rollback, left, .. } => {
                Outcome::Failed(format!("{rollback}\nrelease left at {left}"))
            }
            _ => Outcome::Succeeded,
        };
        if let Err(e) = record(req, rb_sha, outcome).await {
            run.report.warnings.push(format!("{e:#}"));
        }
    }
}

/// The git note an ending gives the change's commit.
fn outcome_of(ending: &Ending) -> Outcome {
    match ending {
        Ending::Succeeded => Outcome::Succeeded,
        Ending::Failed(w) => Outcome::Failed(w.clone()),
        Ending::RolledBack(w) => Outcome::RolledBack(w.clone()),
        Ending::RollbackFailed {
            failure,
            rollback,
            left,
        } => Outcome::RollbackFailed {
            failure: failure.clone(),
            rollback: rollback.clone(),
            left: left.clone(),
        },
        Ending::Aborted { why, .. } => Outcome::Failed(why.clone()),
    }
}

/// Records the outcome in git as a note on the change's commit, then pushes.
async fn record_outcome(run: &mut Run<'_>, journal: &mut JournalFile, sha: &str) {
    let _ = journal.step("record", |_| {});
    let outcome = outcome_of(&run.report.ending);
    run.step(
        Step::Record,
        StepState::Running("recording the outcome".into()),
    );
    match record(&run.plan.request, sha, outcome.clone()).await {
        Ok(pushed) => {
            // The outcome's first line; its details were shown with the step that failed.
            let mut msg = format!(
                "git note on {}: {}",
                &sha[..12.min(sha.len())],
                outcome.note().lines().next().unwrap_or_default()
            );
            match pushed {
                Ok(Some(remote)) => msg.push_str(&format!("; pushed to {remote}")),
                Ok(None) => {}
                Err(e) => run
                    .report
                    .warnings
                    .push(format!("the values repo was not pushed: {e:#}")),
            }
            run.step(Step::Record, StepState::Done(msg));
        }
        Err(e) => {
            run.step(Step::Record, StepState::Failed(format!("{e:#}")));
            run.report
                .warnings
                .push(format!("the outcome was not recorded in git: {e:#}"));
        }
    }
}

/// Where a release stands now: `revision 7 pending-rollback (ee 1.5.1)`, or why that is not
/// known.
async fn release_state(client: &kube::Client, ns: &str, name: &str) -> String {
    match fetch::release_history(client, ns, name).await {
        Ok(h) => match h.latest() {
            Some(r) => format!(
                "revision {} {} ({} {})",
                r.version, r.info.status, r.chart.metadata.name, r.chart.metadata.version
            ),
            None => "no revision".into(),
        },
        Err(e) => format!("an unknown state (its history could not be read: {e:#})"),
    }
}

/// How often the new pods are judged while a change applies and verifies.
const BREAKAGE_POLL: Duration = Duration::from_secs(3);

/// Judges the change's new pods every [`BREAKAGE_POLL`] while it applies and verifies;
/// when one stays broken on two judgements in a row (or a Deployment is past its progress
/// deadline), asks the driver to stop, with the diagnosis as the reason.
fn watch_for_breakage(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    since: jiff::Timestamp,
    timeout: Duration,
    stop: StopSender,
) -> tokio::task::JoinHandle<()> {
    let (client, ns, workloads) = (client.clone(), ns.to_string(), workloads.to_vec());
    tokio::spawn(async move {
        let mut before: BTreeSet<String> = BTreeSet::new();
        loop {
            tokio::time::sleep(BREAKAGE_POLL).await;
            let d = diagnose::diagnose(&client, &ns, &workloads, since).await;
            let now: BTreeSet<String> = d.broken.iter().map(|b| b.pod.clone()).collect();
            if !d.stalled.is_empty() || now.intersection(&before).next().is_some() {
                stop.stop(format!(
                    "judged failed without waiting out the {} s timeout: {}",
                    timeout.as_secs(),
                    d.details()
                ));
                return;
            }
            before = now;
        }
    })
}

/// A failure, with what is wrong with the new pods when something is.
async fn with_diagnosis(
    client: &kube::Client,
    plan: &Plan,
    since: jiff::Timestamp,
    why: String,
) -> String {
    let d = diagnose::diagnose(client, &plan.request.namespace, &plan.workloads, since).await;
    if d.is_broken() {
        format!("{why}\n{}", d.details())
    } else {
        why
    }
}

async fn apply(run: &Run<'_>, kind: &Kind, stop: Stop) -> Result<(), DriverError> {
    let plan = run.plan;
    let req = &plan.request;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let events = run.events.clone();
    let forward = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            let _ = events.send(Event::Output(line));
        }
    });
    let result = match kind {
        Kind::Upgrade => {
            // The values file given to the driver: private, removed afterwards.
            let dir = match tempfile::Builder::new()
                .prefix("helmdeck-values-")
                .tempdir()
            {
                Ok(d) => d,
                Err(e) => {
                    return Err(DriverError::Other(format!(
                        "cannot write the values file: {e}"
                    )));
                }
            };
            let file = dir.path().join("values.yaml");
            if let Err(e) = write_private(&file, plan.values_yaml.as_bytes()) {
                return Err(DriverError::Other(format!(
                    "cannot write {}: {e}",
                    file.display()
                )));
            }
            let ureq = UpgradeRequest {
                release: req.release.clone(),
                namespace: req.namespace.clone(),
                chart: plan.chart.clone(),
                version: plan.to_version.clone(),
                values_file: file,
                values: plan.values.clone(),
                timeout: req.timeout,
                images: plan.images.clone(),
                app_version: plan.to_app_version.clone(),
                stop,
            };
            run.driver.upgrade(&ureq, tx).await
        }
        Kind::Rollback { to_revision } => {
            let rreq = RollbackRequest {
                release: req.release.clone(),
                namespace: req.namespace.clone(),
                revision: *to_revision,
                timeout: req.timeout,
            };
            run.driver.rollback(&rreq, tx).await
        }
    };
    let _ = forward.await;
    result
}

/// What a values commit records.
struct CommitOf<'a> {
    revision: i64,
    from: &'a str,
    version: &'a str,
    /// The values, parsed: their secret-looking ones are encrypted (or refused).
    values: &'a Value,
    values_yaml: &'a str,
    reason: &'a str,
    rollback_to: Option<i64>,
}

/// The values text to commit and what became of its secrets, as the settings say: encrypted
/// with age (the text is then the values as YAML with each secret sealed), committed as
/// they are, or refused — so no path of the workflow commits a plain-text secret unasked.
fn values_to_commit(
    secrets: &ValuesSecrets,
    values: &Value,
    values_yaml: &str,
) -> Result<(String, CommitSecrets)> {
    let paths = history::secret_paths(values);
    match secrets.disposition(&paths) {
        Disposition::Nothing => Ok((values_yaml.to_string(), CommitSecrets::None)),
        Disposition::Plaintext => Ok((values_yaml.to_string(), CommitSecrets::Plaintext(paths))),
        Disposition::Encrypt => {
            let recipients = values_secrets::parse_recipients(&secrets.recipients)?;
            let sealed = values_secrets::seal(values, &recipients)?;
            let text = serde_yaml::to_string(&sealed)
                .map_err(|e| anyhow!("cannot write the encrypted values: {e}"))?;
            Ok((text, CommitSecrets::Encrypted(paths)))
        }
        Disposition::Refuse => bail!(
            "plain-text secrets in the values ({}) and no age recipients to encrypt them to: not committed (set values_secrets.recipients in the config, or pass --allow-plaintext-secrets)",
            paths.join(", ")
        ),
    }
}

async fn commit(plan: &Plan, c: CommitOf<'_>) -> Result<String> {
    let CommitOf {
        revision,
        from,
        version,
        values,
        values_yaml,
        reason,
        rollback_to,
    } = c;
    let req = &plan.request;
    let (values_yaml, secrets) = values_to_commit(&req.settings.secrets, values, values_yaml)?;
    let rev = ValuesRevision {
        record: ReleaseRecord {
            release: req.release.clone(),
            namespace: req.namespace.clone(),
            environment: req.settings.environment.clone(),
            chart: plan.chart.name.clone(),
            repository: if plan.chart.repository.is_empty() {
                req.repository
                    .as_ref()
                    .map(|r| r.url.clone())
                    .unwrap_or_default()
            } else {
                plan.chart.repository.clone()
            },
            version: version.to_string(),
            app_version: String::new(),
            revision: Some(revision),
        },
        values_yaml,
        from_version: Some(from.to_string()),
        rollback_to,
        secrets,
        jump: match (repo::parse_version(from), repo::parse_version(version)) {
            (Ok(f), Ok(t)) if t > f => Some(Jump::classify(&f, &t)),
            _ => None,
        },
        reason: format!("{reason}\nAuthor: {}", lock::holder_identity()),
    };
    let path = req.settings.values_repo.clone();
    let recorded = plan.chart.repository.clone();
    blocking(move || {
        let repo = ValuesRepo::open_or_init(&path)?;
        let mut rev = rev;
        if rev.record.repository.is_empty() {
            rev.record.repository = recorded;
        }
        Ok(repo.commit_revision(&rev)?.to_string())
    })
    .await
}

/// Notes the outcome on `sha` (and, for a promotion, where it came from) and pushes when
/// the repo has a remote: `Ok(Ok(Some(remote)))` when pushed, `Ok(Err(_))` when the push
/// failed (the note is kept locally).
async fn record(req: &Request, sha: &str, outcome: Outcome) -> Result<Result<Option<String>>> {
    let path = req.settings.values_repo.clone();
    let sha = sha.to_string();
    let source = crate::core::workflows::promote::source_of(&req.reason).map(str::to_string);
    blocking(move || {
        let repo = ValuesRepo::open_or_init(&path)?;
        repo.record_outcome_from(&sha, &outcome, source.as_deref())?;
        Ok(repo.push())
    })
    .await
}

/// Follows the workloads' rollouts and reports them as [`Event::Progress`] until aborted.
fn follow_workloads(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    timeout: Duration,
    events: UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    let ns = ns.to_string();
    let workloads = workloads.to_vec();
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, actions::Progress)>(64);
        let mut state: Vec<WorkloadProgress> = workloads
            .iter()
            .map(|w| WorkloadProgress {
                kind: w.kind,
                name: w.name.clone(),
                ready: 0,
                desired: 0,
                message: "waiting".into(),
                converged: false,
            })
            .collect();
        let mut tasks = Vec::new();
        for (i, w) in workloads.into_iter().enumerate() {
            let (client, ns, tx) = (client.clone(), ns.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let (ptx, mut prx) = tokio::sync::mpsc::channel(16);
                let fwd = tokio::spawn(async move {
                    while let Some(p) = prx.recv().await {
                        if tx.send((i, p)).await.is_err() {
                            break;
                        }
                    }
                });
                // One watch, followed past convergence: a rollout that later degrades
                // (a crash loop) shows.
                let _ = actions::watch_progress(
                    &client,
                    w.kind,
                    &ns,
                    &w.name,
                    ptx,
                    timeout * 3 + Duration::from_secs(60),
                )
                .await;
                fwd.abort();
            }));
        }
        drop(tx);
        struct AbortAll(Vec<tokio::task::JoinHandle<()>>);
        impl Drop for AbortAll {
            fn drop(&mut self) {
                for t in &self.0 {
                    t.abort();
                }
            }
        }
        let _guard = AbortAll(tasks);
        while let Some((i, p)) = rx.recv().await {
            if let Some(s) = state.get_mut(i) {
                s.ready = p.ready;
                s.desired = p.desired;
                s.message = p.message;
                s.converged = p.converged;
            }
            if events.send(Event::Progress(state.clone())).is_err() {
                break;
            }
        }
    })
}

/// After the driver reported success: the release's latest revision is deployed at the
/// target, its workloads are rolled out, and new Warning events are counted.
async fn verify(
    client: &kube::Client,
    plan: &Plan,
    started: jiff::Timestamp,
    timeout: Duration,
) -> std::result::Result<String, String> {
    let req = &plan.request;
    let (ns, name) = (&req.namespace, &req.release);
    let h = fetch::release_history(client, ns, name)
        .await
        .map_err(|e| format!("cannot read the release back: {e:#}"))?;
    let latest = h.latest().ok_or("the release has no revision")?;
    if latest.info.status != ReleaseStatus::Deployed {
        return Err(format!(
            "revision {} is {}: {}",
            latest.version, latest.info.status, latest.info.description
        ));
    }
    if latest.chart.metadata.version != plan.to_version {
        return Err(format!(
            "revision {} runs {}, not {}",
            latest.version, latest.chart.metadata.version, plan.to_version
        ));
    }
    let budget = timeout.min(Duration::from_secs(120));
    let waits = plan.workloads.iter().map(|w| {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        async move {
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let r = actions::watch_rollout(client, w.kind, ns, &w.name, tx, budget).await;
            drain.abort();
            r.map_err(|e| format!("{} {}: {e}", w.kind.short(), w.name))
        }
    });
    let failed: Vec<String> = futures::future::join_all(waits)
        .await
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
    if !failed.is_empty() {
        return Err(failed.join("; "));
    }
    let warnings = new_warnings(client, ns, &plan.workloads, started).await;
    let mut summary = format!(
        "revision {} deployed, {} workload(s) rolled out",
        latest.version,
        plan.workloads.len()
    );
    if !warnings.is_empty() {
        summary.push_str(&format!("; new Warning events: {}", warnings.join(", ")));
    }
    Ok(summary)
}

/// `reason ×count` of Warning events about the release's workloads (and their pods) since
/// `since`.
async fn new_warnings(
    client: &kube::Client,
    ns: &str,
    workloads: &[ManifestWorkload],
    since: jiff::Timestamp,
) -> Vec<String> {
    use k8s_openapi::api::core::v1::Event as K8sEvent;
    let api: kube::Api<K8sEvent> = kube::Api::namespaced(client.clone(), ns);
    let Ok(list) = api.list(&Default::default()).await else {
        return Vec::new();
    };
    let mut counts: BTreeMap<String, i32> = BTreeMap::new();
    for e in list.items {
        if e.type_.as_deref() != Some("Warning") {
            continue;
        }
        let at = e
            .last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0));
        if at.is_none_or(|t| t < since) {
            continue;
        }
        let obj = e.involved_object.name.as_deref().unwrap_or("");
        if !workloads.iter().any(|w| obj.starts_with(&w.name)) {
            continue;
        }
        *counts.entry(e.reason.unwrap_or_default()).or_default() += e.count.unwrap_or(1);
    }
    counts
        .into_iter()
        .map(|(r, c)| format!("{r} ×{c}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> (Value, String) {
        let v = serde_json::json!({"db": {"password": "hunter2"}, "replicas": 2});
        (v, "# ours\ndb:\n  password: hunter2\nreplicas: 2\n".into())
    }

    #[test]
    fn a_commit_encrypts_secrets_refuses_them_or_keeps_them_as_allowed() {
        let (v, yaml) = values();
        let key = age::x25519::Identity::generate();
        let mut secrets = ValuesSecrets {
            recipients: vec![key.to_public().to_string()],
            ..Default::default()
        };
        let (text, what) = values_to_commit(&secrets, &v, &yaml).unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("ENC[age:"),
            "{text}"
        );
        assert!(text.contains("replicas: 2"), "{text}");
        assert_eq!(what, CommitSecrets::Encrypted(vec!["db.password".into()]));

        secrets.recipients.clear();
        let err = values_to_commit(&secrets, &v, &yaml)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("db.password") && !err.contains("hunter2"),
            "{err}"
        );

        secrets.allow_plaintext = true;
        let (text, what) = values_to_commit(&secrets, &v, &yaml).unwrap();
        assert_eq!(text, yaml);
        assert_eq!(what, CommitSecrets::Plaintext(vec!["db.password".into()]));

        // No secrets: the text as it was given, comments and all.
        let plain = serde_json::json!({"replicas": 2});
        let (text, what) =
            values_to_commit(&ValuesSecrets::default(), &plain, "# ours\nreplicas: 2\n").unwrap();
        assert_eq!(
            (text.as_str(), what),
            ("# ours\nreplicas: 2\n", CommitSecrets::None)
        );
    }
}
