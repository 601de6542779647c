//! The namespace controller: a namespace marked for deletion (Terminating) has its contents
//! deleted — pods on a node gracefully, as their owners would — and is removed once nothing
//! is left in it. It stays Terminating for at least [`MIN_TERMINATING`], so that a client
//! (`kubectl delete ns --wait=false`, then `get`) sees it as a cluster shows it.

use super::super::resources::Storage;
use super::super::selector::{FieldSelector, LabelSelector};
use super::super::store::{EventType, Store, WatchEvent};
use super::Controllers;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a namespace stays Terminating at the least.
pub const MIN_TERMINATING: Duration = Duration::from_millis(1500);

/// The namespaces being deleted, with when the controller first saw them so.
#[derive(Default)]
pub struct Terminating {
    since: HashMap<String, Instant>,
}

fn is_terminating(v: &serde_json::Value) -> bool {
    v["metadata"].get("deletionTimestamp").is_some()
}

impl Terminating {
    pub fn resync(&mut self, store: &Store) {
        let now = Instant::now();
        let live: Vec<String> = store
            .all(Storage::Namespaces)
            .iter()
            .filter(|o| is_terminating(&o.value()))
            .map(|o| o.name.clone())
            .collect();
        self.since.retain(|n, _| live.contains(n));
        for n in live {
            self.since.entry(n).or_insert(now);
        }
    }

    pub fn observe(&mut self, e: &WatchEvent) {
        if e.storage != Storage::Namespaces {
            return;
        }
        let name = &e.obj.name;
        if e.kind == EventType::Deleted {
            self.since.remove(name);
        } else if is_terminating(&e.obj.value()) {
            self.since.entry(name.clone()).or_insert_with(Instant::now);
        }
    }
}

impl Controllers {
    /// Deletes what is left in each Terminating namespace; removes the empty ones.
    pub(crate) fn reconcile_namespaces(&mut self) {
        if self.ns_lifecycle.since.is_empty() {
            return;
        }
        let all = LabelSelector::default();
        let no_fields = FieldSelector::default();
        let namespaces: Vec<(String, Instant)> = self
            .ns_lifecycle
            .since
            .iter()
            .map(|(n, t)| (n.clone(), *t))
            .collect();
        for (ns, since) in namespaces {
            let mut left = 0usize;
            for st in self.store.tables() {
                if !st.storage_type().namespaced {
                    continue;
                }
                let items = self
                    .store
                    .list(st, Some(&ns), &all, &no_fields, None, None)
                    .items;
                left += items.len();
                for o in items {
                    if st == Storage::Pods {
                        self.delete_pod(&o.namespace, &o.name);
                    } else {
                        let _ = self.store.delete(st, &o.namespace, &o.name, None);
                    }
                }
            }
            if left == 0 && since.elapsed() >= MIN_TERMINATING {
                let _ = self.store.delete(Storage::Namespaces, "", &ns, None);
                self.ns_lifecycle.since.remove(&ns);
            }
        }
    }
}
