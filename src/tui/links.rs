//! `o` on a workload, pod or release: the links of its platform's dashboards
//! ([`crate::core::links`]) filled in for it, in a list over the table. `enter` copies the
//! chosen one to the clipboard (OSC 52, written through the terminal) and opens it with the
//! system's opener; `c` only copies it; `esc` closes the list.

use crate::core::links::{self, Offer, Subject};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::Action;
use crate::tui::views::tables::RowRef;
use crossterm::event::{KeyCode, KeyEvent};

/// The list `o` opens.
#[derive(Debug, Clone, PartialEq)]
pub struct LinksView {
    /// What the links are for: `pod mr-ee/router-7d4b9c-x2k4q`.
    pub title: String,
    pub offer: Offer,
    pub selected: usize,
}

impl App {
    /// What is known of the selected row, for filling link templates in.
    fn link_subject(&mut self) -> Option<(String, Subject)> {
        let context = Some(self.context.clone());
        match self.selected_row()? {
            RowRef::Release((namespace, name)) => Some((
                format!("release {namespace}/{name}"),
                Subject {
                    namespace: Some(namespace),
                    release: Some(name),
                    context,
                    ..Subject::default()
                },
            )),
            RowRef::Workload(kind, namespace, name) => {
                let release = self
                    .state
                    .workloads
                    .get(&(kind, namespace.clone(), name.clone()))
                    .and_then(|w| w.release.clone());
                Some((
                    format!("{} {namespace}/{name}", kind.name()),
                    Subject {
                        namespace: Some(namespace),
                        workload: Some(name),
                        release,
                        context,
                        ..Subject::default()
                    },
                ))
            }
            RowRef::Pod(key) => {
                let pod = self.state.pods.get(&key)?;
                let release = pod.workload.as_ref().and_then(|w| {
                    self.state
                        .workloads
                        .values()
                        .find(|r| r.namespace == key.0 && &r.name == w)
                        .and_then(|r| r.release.clone())
                });
                Some((
                    format!("pod {}/{}", key.0, key.1),
                    Subject {
                        namespace: Some(key.0.clone()),
                        workload: pod.workload.clone(),
                        pod: Some(key.1.clone()),
                        containers: pod.containers.clone(),
                        release,
                        context,
                        ..Subject::default()
                    },
                ))
            }
            RowRef::Node(_) | RowRef::Event(_) => None,
        }
    }

    /// `o`: the links of the selection's platform, filled in; a message when it has none.
    pub(crate) fn open_links(&mut self) -> Vec<Effect> {
        let Some((title, subject)) = self.link_subject() else {
            return Vec::new();
        };
        let offer = links::for_subject(&self.platforms, &subject);
        if offer.links.is_empty() {
            let why = match offer.missing.first() {
                Some(m) => format!(
                    "no link fits {title}: {} needs {{{}}}",
                    m.name,
                    m.needs.join("}, {")
                ),
                None => format!(
                    "no links for {title}: no platform in the config with `links:` covers namespace {}",
                    subject.namespace.unwrap_or_default()
                ),
            };
            self.flash(why, false);
            return Vec::new();
        }
        self.links = Some(LinksView {
            title,
            offer,
            selected: 0,
        });
        Vec::new()
    }

    /// Keys while the links list is shown.
    pub(crate) fn on_links_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let action = self.keymap.action_for(self.screen, &key);
        let Some(view) = &mut self.links else {
            return Vec::new();
        };
        let last = view.offer.links.len().saturating_sub(1);
        let chosen = view.offer.links.get(view.selected).cloned();
        let (copy, open) = match key.code {
            KeyCode::Enter => (true, true),
            KeyCode::Char('c') | KeyCode::Char('y') => (true, false),
            _ => (false, false),
        };
        if let Some(link) = chosen.filter(|_| copy) {
            self.links = None;
            let mut effects = vec![Effect::CopyLink {
                url: link.url.clone(),
            }];
            let opening = if open {
                effects.push(Effect::OpenLink {
                    name: link.name.clone(),
                    url: link.url.clone(),
                });
                format!(" and opening it with {}", links::opener())
            } else {
                String::new()
            };
            self.flash(
                format!(
                    "copied {} to the clipboard (OSC 52){opening}: {}",
                    link.name, link.url
                ),
                false,
            );
            return effects;
        }
        match action {
            Some(Action::Up) => view.selected = view.selected.saturating_sub(1),
            Some(Action::Down) => view.selected = (view.selected + 1).min(last),
            Some(Action::Top) => view.selected = 0,
            Some(Action::Bottom) => view.selected = last,
            Some(Action::Back | Action::Links) => self.links = None,
            Some(Action::Quit) => self.quit = true,
            _ => {}
        }
        Vec::new()
    }
}
