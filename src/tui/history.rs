//! The Releases screen's history pane: a release's revisions, decoded from its release
//! Secrets (fetched by [`Effect::ReleaseHistory`] on a background task), and the diff of a
//! revision against the one before it — or against a revision marked with space, so any
//! two can be compared. Secret-looking values are masked until revealed. From here `r`
//! rolls back to the selected revision and `u` upgrades, through the wizard
//! ([`crate::tui::upgrade`]); `b` lists the release's backups.

use crate::core::release::ReleaseHistory;
use crate::core::releases::history::{self, HistoryRow, RevisionDiff};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Action, Screen};
use crate::tui::views::tables::RowRef;

/// The history of one release, as the pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryView {
    pub namespace: String,
    pub name: String,
    /// None while loading.
    pub history: Option<Result<ReleaseHistory, String>>,
    /// The revision under the cursor (an index into the rows, ascending).
    pub selected: usize,
    /// The diff being shown, if any.
    pub diff: Option<DiffPane>,
    /// Secret-looking values shown in clear.
    pub reveal: bool,
    /// The revision marked (space) as the base of the next diff, as an index into the rows.
    pub marked: Option<usize>,
    /// The values repo's commits of this release, newest first, with their outcomes
    /// (None until read).
    pub values_log: Option<Result<Vec<crate::core::releases::values_repo::ValuesCommit>, String>>,
}

/// A diff of `to` against the revision before it.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffPane {
    pub diff: RevisionDiff,
    /// Lines scrolled from the top.
    pub scroll: usize,
}

impl DiffPane {
    /// Lines the pane shows (values, then manifest).
    pub fn line_count(&self) -> usize {
        self.diff.to_text().lines().count()
    }
}

impl HistoryView {
    /// The rows, ascending by revision (empty while loading or on error).
    pub fn rows(&self) -> Vec<HistoryRow> {
        match &self.history {
            Some(Ok(h)) => history::rows(h),
            _ => Vec::new(),
        }
    }

    /// Diffs the selected revision against the marked one, else the one before it.
    fn diff_selected(&mut self) -> Result<(), String> {
        let Some(Ok(h)) = &self.history else {
            return Err("the history is not loaded yet".into());
        };
        let rows = history::rows(h);
        let Some(to) = rows.get(self.selected) else {
            return Err("no revision selected".into());
        };
        let base = match self.marked {
            Some(m) if m != self.selected => Some(m),
            _ => self.selected.checked_sub(1),
        };
        let Some(from) = base.and_then(|i| rows.get(i)) else {
            return Err(format!(
                "revision {} is the first one: nothing before it to diff against",
                to.revision
            ));
        };
        let (Some(a), Some(b)) = (h.revision(from.revision), h.revision(to.revision)) else {
            return Err("revision not found".into());
        };
        self.diff = Some(DiffPane {
            diff: history::diff(a, b, self.reveal),
            scroll: 0,
        });
        Ok(())
    }
}

impl App {
    /// Opens the history of the selected release and asks for it to be fetched.
    pub(crate) fn open_release_history(&mut self) -> Vec<Effect> {
        let Some(RowRef::Release((namespace, name))) = self.selected_row() else {
            return Vec::new();
        };
        self.release_history = Some(HistoryView {
            namespace: namespace.clone(),
            name: name.clone(),
            history: None,
            selected: 0,
            diff: None,
            reveal: false,
            marked: None,
            values_log: None,
        });
        vec![Effect::ReleaseHistory { namespace, name }]
    }

    /// A fetched history: shown if it is still the one asked for; the cursor starts on
    /// the latest revision.
    pub(crate) fn on_release_history(
        &mut self,
        namespace: String,
        name: String,
        result: Result<ReleaseHistory, String>,
    ) {
        if let Some(v) = &mut self.release_history
            && v.namespace == namespace
            && v.name == name
        {
            v.selected = match &result {
                Ok(h) => h.revisions.len().saturating_sub(1),
                Err(_) => 0,
            };
            v.history = Some(result);
            v.diff = None;
            v.marked = None;
        }
    }

    /// The values repo's commits of a release, for the history pane.
    pub(crate) fn on_values_log(
        &mut self,
        namespace: &str,
        name: &str,
        result: Result<Vec<crate::core::releases::values_repo::ValuesCommit>, String>,
    ) {
        if let Some(v) = &mut self.release_history
            && v.namespace == namespace
            && v.name == name
        {
            v.values_log = Some(result);
        }
    }

    /// `b`: lists the backups of `namespace/name`.
    fn open_backups(&mut self, namespace: String, name: String) -> Vec<Effect> {
        self.backups = Some(crate::tui::app::BackupsView {
            namespace: namespace.clone(),
            name: name.clone(),
            backups: None,
        });
        vec![Effect::ListBackups { namespace, name }]
    }

    /// Actions while the history pane is open on the Releases screen; None when the
    /// action is not the pane's.
    pub(crate) fn history_action(&mut self, action: Action) -> Option<Vec<Effect>> {
        if self.screen != Screen::Releases {
            return None;
        }
        if matches!(action, Action::RecoverVerify | Action::RecoverRollback) {
            return Some(self.recover_action(action == Action::RecoverRollback));
        }
        if self.backups.is_some() {
            return match action {
                Action::Back | Action::Backups => {
                    self.backups = None;
                    Some(Vec::new())
                }
                Action::Quit | Action::Help | Action::CommandMode => None,
                _ => Some(Vec::new()),
            };
        }
        if self.release_history.is_none() {
            let selected = match self.selected_row() {
                Some(RowRef::Release((namespace, name))) => Some((namespace, name)),
                _ => None,
            };
            return match action {
                Action::History | Action::Enter => Some(self.open_release_history()),
                Action::Diff | Action::RevealSecrets | Action::Mark => {
                    self.flash("open a release's history first (h or enter)", false);
                    Some(Vec::new())
                }
                Action::Upgrade => selected.map(|(ns, name)| self.open_upgrade(ns, name)),
                Action::Backups => selected.map(|(ns, name)| self.open_backups(ns, name)),
                Action::Rollback => {
                    let effects = self.open_release_history();
                    if !effects.is_empty() {
                        self.flash("choose the revision to roll back to, then press r", false);
                    }
                    Some(effects)
                }
                _ => None,
            };
        }
        if let Some(v) = &self.release_history {
            let (ns, name) = (v.namespace.clone(), v.name.clone());
            match action {
                Action::Upgrade => return Some(self.open_upgrade(ns, name)),
                Action::Backups => return Some(self.open_backups(ns, name)),
                Action::Rollback => {
                    let rev = v.rows().get(v.selected).map(|r| r.revision);
                    return Some(match rev {
                        Some(rev) => self.open_rollback(ns, name, rev),
                        None => {
                            self.flash("no revision selected", true);
                            Vec::new()
                        }
                    });
                }
                _ => {}
            }
        }
        let page = self.page as isize;
        let v = self.release_history.as_mut()?;
        let delta = match action {
            Action::Up => -1,
            Action::Down => 1,
            Action::PageUp => -page,
            Action::PageDown => page,
            Action::Top => isize::MIN / 2,
            Action::Bottom => isize::MAX / 2,
            _ => 0,
        };
        let mut flash = None;
        match action {
            _ if delta != 0 => match &mut v.diff {
                Some(d) => {
                    let max = d.line_count().saturating_sub(1) as isize;
                    d.scroll = (d.scroll as isize + delta).clamp(0, max) as usize;
                }
                None => {
                    let max = v.rows().len().saturating_sub(1) as isize;
                    v.selected = (v.selected as isize + delta).clamp(0, max) as usize;
                }
            },
            Action::Diff | Action::Enter => {
                if let Err(e) = v.diff_selected() {
                    flash = Some((e, true));
                }
            }
            Action::Mark => {
                let rows = v.rows();
                if v.marked == Some(v.selected) {
                    v.marked = None;
                    flash = Some((
                        "mark cleared: v diffs against the previous revision".into(),
                        false,
                    ));
                } else if let Some(r) = rows.get(v.selected) {
                    v.marked = Some(v.selected);
                    flash = Some((
                        format!(
                            "revision {} marked: select another and press v to diff them",
                            r.revision
                        ),
                        false,
                    ));
                }
            }
            Action::RevealSecrets => {
                v.reveal = !v.reveal;
                if let Some(d) = &v.diff {
                    let scroll = d.scroll;
                    if v.diff_selected().is_ok()
                        && let Some(d) = &mut v.diff
                    {
                        d.scroll = scroll;
                    }
                }
                flash = Some((
                    if v.reveal {
                        "secret values revealed (x hides them)".to_string()
                    } else {
                        "secret values masked as **** (x reveals them)".to_string()
                    },
                    false,
                ));
            }
            Action::History => {
                let (namespace, name) = (v.namespace.clone(), v.name.clone());
                v.history = None;
                v.diff = None;
                return Some(vec![Effect::ReleaseHistory { namespace, name }]);
            }
            Action::Back => {
                // The mark was the base of that diff: it goes with it.
                if v.diff.take().is_some() {
                    v.marked = None;
                } else {
                    self.release_history = None;
                }
            }
            _ => return None,
        }
        if let Some((text, error)) = flash {
            self.flash(text, error);
        }
        Some(Vec::new())
    }
}
