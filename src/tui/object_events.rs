//! `e`: the events of the selected node, workload or pod (or of the pod whose log is open),
//! as k9s shows an object's events — the Events screen filtered to that involved object
//! (kind, namespace, name), newest first. The filter shows in the title as
//! `/object:KIND/NAMESPACE/NAME`; esc clears it.

use crate::tui::app::{App, Effect};
use crate::tui::keymap::Screen;
use crate::tui::views::tables::{RowRef, object_filter};

impl App {
    pub(crate) fn object_events(&mut self) -> Vec<Effect> {
        let (kind, namespace, name) = match (self.screen, &self.detail) {
            (Screen::PodDetail, Some(d)) => ("Pod", Some(d.key.0.clone()), d.key.1.clone()),
            (Screen::PodDetail, None) => return Vec::new(),
            _ => match self.selected_row() {
                // A node's events are kept in `default`: every namespace is shown.
                Some(RowRef::Node(n)) => ("Node", None, n),
                Some(RowRef::Workload(k, ns, n)) => (k.name(), Some(ns), n),
                Some(RowRef::Pod((ns, n))) => ("Pod", Some(ns), n),
                _ => return Vec::new(),
            },
        };
        self.filters.insert(
            Screen::Events,
            object_filter(kind, namespace.as_deref(), &name),
        );
        self.selected.insert(Screen::Events, 0);
        // The namespace the user had comes back when they move on.
        self.jump(Screen::Events, namespace)
    }
}
