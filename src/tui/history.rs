//! The Releases screen's history pane: a release's revisions, decoded from its release
//! Secrets (fetched by [`Effect::ReleaseHistory`] on a background task), and the diff of a
//! revision against the one before it. Secret-looking values are masked until revealed.

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

    /// Diffs the selected revision against the one before it.
    fn diff_selected(&mut self) -> Result<(), String> {
        let Some(Ok(h)) = &self.history else {
            return Err("the history is not loaded yet".into());
        };
        let rows = history::rows(h);
        let Some(to) = rows.get(self.selected) else {
            return Err("no revision selected".into());
        };
        let Some(from) = self.selected.checked_sub(1).and_then(|i| rows.get(i)) else {
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
        }
    }

    /// Actions while the history pane is open on the Releases screen; None when the
    /// action is not the pane's.
    pub(crate) fn history_action(&mut self, action: Action) -> Option<Vec<Effect>> {
        if self.screen != Screen::Releases {
            return None;
        }
        if self.release_history.is_none() {
            return match action {
                Action::History | Action::Enter => Some(self.open_release_history()),
                Action::Diff | Action::RevealSecrets => {
                    self.flash("open a release's history first (h or enter)", false);
                    Some(Vec::new())
                }
                _ => None,
            };
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
                if v.diff.take().is_none() {
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
