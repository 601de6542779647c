//! The upgrade wizard on the Releases screen: pick a newer chart version (classified
//! patch / minor / MAJOR, with its changelog), review the plan (preflight checks, the
//! masked values diff, auto-rollback on or off), then follow the change step by step with
//! a progress bar per workload and the driver's output, and — when it failed and was not
//! rolled back — roll back with one key. A rollback from the history pane (`r`) goes
//! through the same review and run.
//!
//! Pure: keys and messages in, effects out ([`Effect::UpgradeVersions`],
//! [`Effect::PrepareChange`], [`Effect::RunChange`]); the work runs on the runtime's tasks.

use crate::core::releases::repo::VersionOffer;
use crate::core::workflows::upgrade::{
    Ending, Event, Plan, Report, Step, StepState, Target, WorkloadProgress,
};
use crate::tui::app::{App, Effect};
use crossterm::event::{KeyCode, KeyEvent};

/// Lines of driver output kept.
const OUTPUT_LINES: usize = 200;

/// Where the wizard is.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    LoadingVersions,
    Versions {
        current: String,
        offers: Vec<VersionOffer>,
        selected: usize,
    },
    Preparing(String),
    Review(Box<Plan>),
    Running(Box<Plan>, RunView),
    Finished(Box<Plan>, RunView, Box<Report>),
    Error(String),
}

/// What a running change has reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunView {
    /// The latest state of each step reached, in step order.
    pub steps: Vec<(Step, StepState)>,
    pub progress: Vec<WorkloadProgress>,
    pub output: Vec<String>,
}

impl RunView {
    pub(crate) fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Step(step, state) => match self.steps.iter_mut().find(|(s, _)| s == step) {
                Some(slot) => slot.1 = state.clone(),
                None => {
                    self.steps.push((*step, state.clone()));
                    self.steps.sort_by_key(|(s, _)| *s);
                }
            },
            Event::Progress(p) => self.progress = p.clone(),
            Event::Output(line) => {
                self.output.push(line.clone());
                if self.output.len() > OUTPUT_LINES {
                    self.output.drain(..self.output.len() - OUTPUT_LINES);
                }
            }
            Event::Finished(_) => {}
        }
    }
}

/// The wizard of one release.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradeWizard {
    pub namespace: String,
    pub release: String,
    pub stage: Stage,
    /// Roll back at once when the change fails (toggled with `a` in the review).
    pub auto_rollback: bool,
    /// Go on despite overridable preflight failures (toggled with `f`).
    pub force: bool,
    /// Lines the review's diff is scrolled by.
    pub scroll: usize,
    /// Values edited in the review (`e`), replacing the current ones.
    pub edited: Option<String>,
    /// The plan reviewed before an edit, shown again when the edited values are refused.
    pub before_edit: Option<Box<Plan>>,
    /// A rollback (from the history pane, or offered after a failed upgrade), not an
    /// upgrade: what the wizard's title says.
    pub rollback: bool,
}

impl UpgradeWizard {
    /// "Upgrade" or "Rollback", for the title: the plan's kind once there is one.
    pub fn kind_word(&self) -> &'static str {
        let plan = match &self.stage {
            Stage::Review(p) | Stage::Running(p, _) | Stage::Finished(p, _, _) => Some(p),
            _ => None,
        };
        let rollback = match plan {
            Some(p) => matches!(
                p.kind,
                crate::core::workflows::upgrade::Kind::Rollback { .. }
            ),
            None => self.rollback,
        };
        if rollback { "Rollback" } else { "Upgrade" }
    }
}

/// Where the version list's cursor starts: the newest stable, not deprecated version of the
/// deployed major (a patch or minor: the safe choice at 3 a.m.), else the newest stable one,
/// else the first. `offers` are newest first.
pub fn first_choice(offers: &[VersionOffer]) -> usize {
    use crate::core::releases::repo::Jump;
    offers
        .iter()
        .position(|o| !o.prerelease && !o.deprecated && o.jump != Jump::Major)
        .or_else(|| offers.iter().position(|o| !o.prerelease))
        .unwrap_or(0)
}

impl App {
    /// The topic plan of a release in `namespace`, when the Topics data has a platform
    /// there: its problems (plan and lag statuses, as the Overview counts them) and its state.
    pub(crate) fn topic_check_for(
        &self,
        namespace: &str,
    ) -> Option<crate::core::workflows::upgrade::TopicCheck> {
        let t = self.topics.as_ref()?;
        if t.platform.as_ref()?.namespace != namespace {
            return None;
        }
        let now = self.now.as_millisecond();
        Some(crate::core::workflows::upgrade::TopicCheck {
            problems: t.area(now).2.into_iter().map(|p| p.message).collect(),
            plan: t.plan.as_ref().and_then(|p| serde_json::to_value(p).ok()),
        })
    }

    /// `V` / `R` on the Releases screen while a change is unfinished: verify it, or give it
    /// up and roll back (the journal of the selected release, else the first one).
    pub(crate) fn recover_action(&mut self, rollback: bool) -> Vec<Effect> {
        if self.journals.is_empty() {
            self.flash("no unfinished change to recover", false);
            return Vec::new();
        }
        if self.refuse_readonly("recovering a change") {
            return Vec::new();
        }
        let selected = match self.selected_row() {
            Some(crate::tui::views::tables::RowRef::Release((ns, name))) => Some((ns, name)),
            _ => None,
        };
        let j = self
            .journals
            .iter()
            .find(|j| selected.as_ref() == Some(&(j.namespace.clone(), j.release.clone())))
            .unwrap_or(&self.journals[0]);
        let (namespace, name) = (j.namespace.clone(), j.release.clone());
        if rollback {
            self.flash(
                format!("giving up the interrupted change of {namespace}/{name}…"),
                false,
            );
            vec![Effect::RecoverRollback { namespace, name }]
        } else {
            self.flash(format!("verifying {namespace}/{name}…"), false);
            vec![Effect::RecoverVerify { namespace, name }]
        }
    }

    pub(crate) fn on_recovered(
        &mut self,
        namespace: &str,
        name: &str,
        result: Result<crate::core::workflows::upgrade::Recovery, String>,
    ) {
        match result {
            Ok(r) if r.nothing_applied => {
                self.journals
                    .retain(|j| !(j.namespace == namespace && j.release == name));
                self.flash(format!("closed: {namespace}/{name} {}", r.now), false);
            }
            Ok(r) if r.verified => {
                self.journals
                    .retain(|j| !(j.namespace == namespace && j.release == name));
                self.flash(
                    format!(
                        "verified: {namespace}/{name} is deployed at {} ({}); the journal is closed",
                        r.target, r.now
                    ),
                    false,
                );
            }
            Ok(r) => self.flash(
                format!(
                    "not verified: {namespace}/{name} is {}, not deployed at {}; R rolls it back to revision {}",
                    r.now, r.target, r.journal.from_revision
                ),
                true,
            ),
            Err(e) => self.flash(e, true),
        }
    }

    pub(crate) fn on_journal_abandoned(
        &mut self,
        namespace: String,
        name: String,
        result: Result<Result<i64, String>, String>,
    ) -> Vec<Effect> {
        match result {
            Ok(Ok(rev)) => {
                self.journals
                    .retain(|j| !(j.namespace == namespace && j.release == name));
                self.screen = crate::tui::keymap::Screen::Releases;
                self.open_rollback(namespace, name, rev)
            }
            Ok(Err(closed)) => {
                self.journals
                    .retain(|j| !(j.namespace == namespace && j.release == name));
                self.flash(format!("closed: {namespace}/{name} {closed}"), false);
                Vec::new()
            }
            Err(e) => {
                self.flash(e, true);
                Vec::new()
            }
        }
    }

    /// `u` on a release: opens the wizard and asks for the versions.
    pub(crate) fn open_upgrade(&mut self, namespace: String, release: String) -> Vec<Effect> {
        if self.refuse_readonly("upgrade") {
            return Vec::new();
        }
        self.upgrade = Some(UpgradeWizard {
            namespace: namespace.clone(),
            release: release.clone(),
            stage: Stage::LoadingVersions,
            auto_rollback: true,
            force: false,
            scroll: 0,
            edited: None,
            before_edit: None,
            rollback: false,
        });
        vec![Effect::UpgradeVersions {
            namespace,
            name: release,
        }]
    }

    /// `r` on a revision of the history pane: prepares the rollback to it.
    pub(crate) fn open_rollback(
        &mut self,
        namespace: String,
        release: String,
        revision: i64,
    ) -> Vec<Effect> {
        if self.refuse_readonly("rollback") {
            return Vec::new();
        }
        self.upgrade = Some(UpgradeWizard {
            namespace: namespace.clone(),
            release: release.clone(),
            stage: Stage::Preparing(format!("preparing the rollback to revision {revision}…")),
            auto_rollback: false,
            force: false,
            scroll: 0,
            edited: None,
            before_edit: None,
            rollback: true,
        });
        let topics = self.topic_check_for(&namespace);
        vec![Effect::PrepareChange {
            namespace,
            name: release,
            target: Target::Revision(revision),
            topics,
            values: None,
        }]
    }

    pub(crate) fn on_upgrade_versions(
        &mut self,
        namespace: &str,
        name: &str,
        result: Result<(String, Vec<VersionOffer>), String>,
    ) {
        let Some(w) = self.upgrade.as_mut() else {
            return;
        };
        if w.namespace != namespace || w.release != name || w.stage != Stage::LoadingVersions {
            return;
        }
        w.stage = match result {
            Ok((current, offers)) => Stage::Versions {
                selected: first_choice(&offers),
                current,
                offers,
            },
            Err(e) => Stage::Error(e),
        };
    }

    pub(crate) fn on_change_planned(&mut self, result: Result<Box<Plan>, String>) {
        let Some(w) = self.upgrade.as_mut() else {
            return;
        };
        if !matches!(w.stage, Stage::Preparing(_)) {
            return;
        }
        w.scroll = 0;
        match (result, w.before_edit.take()) {
            (Ok(plan), _) => w.stage = Stage::Review(plan),
            // Edited values that cannot be used: back to the review, with why.
            (Err(e), Some(previous)) => {
                w.stage = Stage::Review(previous);
                self.flash(format!("{e} — e edits them again, esc cancels"), true);
            }
            (Err(e), None) => w.stage = Stage::Error(e),
        }
    }

    /// The values came back from the editor: prepared again with them (unchanged values
    /// leave the review as it is).
    pub(crate) fn on_values_edited(
        &mut self,
        result: Result<Option<String>, String>,
    ) -> Vec<Effect> {
        let topics = self
            .upgrade
            .as_ref()
            .and_then(|w| self.topic_check_for(&w.namespace));
        let Some(w) = self.upgrade.as_mut() else {
            return Vec::new();
        };
        let Stage::Review(plan) = &w.stage else {
            return Vec::new();
        };
        match result {
            Err(e) => {
                self.flash(e, true);
                Vec::new()
            }
            Ok(None) => {
                self.flash("values unchanged", false);
                Vec::new()
            }
            Ok(Some(text)) => {
                let target = plan.request.target.clone();
                w.before_edit = Some(plan.clone());
                w.edited = Some(text.clone());
                w.stage = Stage::Preparing("preflight with the edited values…".into());
                vec![Effect::PrepareChange {
                    namespace: w.namespace.clone(),
                    name: w.release.clone(),
                    target,
                    topics,
                    values: Some(text),
                }]
            }
        }
    }

    pub(crate) fn on_change_event(&mut self, ev: Event) -> Vec<Effect> {
        let Some(w) = self.upgrade.as_mut() else {
            return Vec::new();
        };
        let stage = std::mem::replace(&mut w.stage, Stage::LoadingVersions);
        w.stage = match stage {
            Stage::Running(plan, mut run) => {
                run.apply(&ev);
                match ev {
                    Event::Finished(report) => {
                        // The ending's first line; its details are in the run view.
                        let ending = report.ending.to_string();
                        let text = format!(
                            "{}: {}",
                            plan.headline(),
                            ending.lines().next().unwrap_or_default()
                        );
                        let ok = report.ending.succeeded();
                        w.stage = Stage::Finished(plan, run, Box::new(report));
                        w.scroll = 0;
                        self.flash(text, !ok);
                        // The history pane, if open, shows the new revisions.
                        return self.refresh_open_history();
                    }
                    _ => Stage::Running(plan, run),
                }
            }
            other => other,
        };
        Vec::new()
    }

    fn refresh_open_history(&mut self) -> Vec<Effect> {
        match &mut self.release_history {
            Some(v) => {
                v.history = None;
                v.diff = None;
                vec![Effect::ReleaseHistory {
                    namespace: v.namespace.clone(),
                    name: v.name.clone(),
                }]
            }
            None => Vec::new(),
        }
    }

    /// Keys while the wizard is open.
    pub(crate) fn on_upgrade_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(mut w) = self.upgrade.take() else {
            return Vec::new();
        };
        let topics = self.topic_check_for(&w.namespace);
        let mut effects = Vec::new();
        let mut close = false;
        let mut flash: Option<(String, bool)> = None;
        match &mut w.stage {
            Stage::LoadingVersions | Stage::Preparing(_) | Stage::Error(_) => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter) {
                    close = true;
                }
            }
            Stage::Versions {
                offers, selected, ..
            } => match key.code {
                KeyCode::Esc | KeyCode::Char('q') => close = true,
                KeyCode::Up | KeyCode::Char('k') => *selected = selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => {
                    *selected = (*selected + 1).min(offers.len().saturating_sub(1))
                }
                KeyCode::Enter => match offers.get(*selected) {
                    Some(o) => {
                        let v = o.version.to_string();
                        effects.push(Effect::PrepareChange {
                            namespace: w.namespace.clone(),
                            name: w.release.clone(),
                            target: Target::Version(v.clone()),
                            topics: topics.clone(),
                            values: None,
                        });
                        w.stage = Stage::Preparing(format!("preflight for {v}…"));
                    }
                    None => flash = Some(("no newer version to upgrade to".into(), true)),
                },
                _ => {}
            },
            Stage::Review(plan) => match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('n') => {
                    close = true;
                    flash = Some(("nothing changed".into(), false));
                }
                KeyCode::Up | KeyCode::Char('k') => w.scroll = w.scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => w.scroll += 1,
                KeyCode::PageUp => w.scroll = w.scroll.saturating_sub(10),
                KeyCode::PageDown => w.scroll += 10,
                KeyCode::Char('a') => w.auto_rollback = !w.auto_rollback,
                KeyCode::Char('e')
                    if matches!(plan.kind, crate::core::workflows::upgrade::Kind::Upgrade) =>
                {
                    effects.push(Effect::EditValues {
                        yaml: w.edited.clone().unwrap_or_else(|| plan.values_yaml.clone()),
                    });
                }
                KeyCode::Char('e') => {
                    flash = Some((
                        "a rollback applies the values of the revision it goes back to".into(),
                        false,
                    ))
                }
                KeyCode::Char('f') => w.force = !w.force,
                KeyCode::Enter | KeyCode::Char('y') => {
                    let mut plan = plan.clone();
                    plan.request.auto_rollback = w.auto_rollback;
                    plan.request.force = w.force;
                    let blockers = plan.blockers();
                    if blockers.is_empty() {
                        effects.push(Effect::RunChange(plan.clone()));
                        w.stage = Stage::Running(plan, RunView::default());
                    } else {
                        let overridable = blockers.iter().all(|c| c.overridable);
                        flash = Some((
                            format!(
                                "cannot start: {}{}",
                                blockers
                                    .iter()
                                    .map(|c| format!("{}: {}", c.name, c.detail))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                                if overridable { " (f forces it)" } else { "" }
                            ),
                            true,
                        ));
                    }
                }
                _ => {}
            },
            Stage::Running(plan, _) => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('q')) {
                    flash = Some((
                        format!(
                            "the change is running and ends on its own (timeout {} s); stopping it half-way would leave the release pending",
                            plan.request.timeout.as_secs()
                        ),
                        false,
                    ));
                }
            }
            Stage::Finished(plan, _, report) => match key.code {
                KeyCode::Char('r') => match report.offer_rollback_to {
                    Some(rev) => {
                        effects.push(Effect::PrepareChange {
                            namespace: w.namespace.clone(),
                            name: w.release.clone(),
                            target: Target::Revision(rev),
                            topics: topics.clone(),
                            values: None,
                        });
                        w.auto_rollback = false;
                        w.rollback = true;
                        w.stage =
                            Stage::Preparing(format!("preparing the rollback to revision {rev}…"));
                    }
                    None => {
                        flash = Some((
                            match &report.ending {
                                Ending::Succeeded => "it succeeded: nothing to roll back".into(),
                                _ => format!("no rollback offered for {}", plan.request.release),
                            },
                            false,
                        ))
                    }
                },
                KeyCode::Up | KeyCode::Char('k') => w.scroll = w.scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => w.scroll += 1,
                KeyCode::PageUp => w.scroll = w.scroll.saturating_sub(10),
                KeyCode::PageDown => w.scroll += 10,
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => close = true,
                _ => {}
            },
        }
        if !close {
            self.upgrade = Some(w);
        }
        if let Some((text, error)) = flash {
            self.flash(text, error);
        }
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_view_keeps_the_latest_state_per_step_in_order_and_bounds_output() {
        let mut r = RunView::default();
        r.apply(&Event::Step(Step::Backup, StepState::Running("b".into())));
        r.apply(&Event::Step(Step::Lock, StepState::Done("l".into())));
        r.apply(&Event::Step(Step::Backup, StepState::Done("b2".into())));
        assert_eq!(
            r.steps,
            vec![
                (Step::Lock, StepState::Done("l".into())),
                (Step::Backup, StepState::Done("b2".into()))
            ]
        );
        for i in 0..(OUTPUT_LINES + 5) {
            r.apply(&Event::Output(format!("line {i}")));
        }
        assert_eq!(r.output.len(), OUTPUT_LINES);
        assert_eq!(r.output[0], "line 5");
    }
}
