//! Server-side apply and `metadata.managedFields`, as the API server keeps them.
//!
//! Every write a client makes is recorded against a field manager (the request's
//! `fieldManager`, else the first word of its User-Agent, as the API server does):
//! - an update (create, replace, patch) gives its manager the fields it changed, in an
//!   `Update` entry, and takes them from every other manager — updates always win;
//! - an apply (`PATCH` with `application/apply-patch+yaml`) merges the configuration into
//!   the live object, refuses with 409 the fields whose value it would change while another
//!   manager owns them (unless `force=true`, which takes them over), makes its manager the
//!   owner of exactly the fields it applied (an `Apply` entry), and removes the fields that
//!   manager applied before but no longer does, unless another manager owns them too.
//!
//! An object that has no managed fields yet (made by the sandbox's scenario or controllers)
//! is treated, on its first apply, as owned by `before-first-apply`, as the API server does.
//! Writes by the simulated controllers are not recorded (they keep what is there).

use super::error::ApiError;
use super::fieldset::{FieldSet, Style, compare, fields_of, merge, path_string, remove_paths};
use super::store::now_rfc3339;
use serde_json::{Value, json};

/// Who writes: the manager and the API version its request used.
#[derive(Debug, Clone)]
pub struct Writer {
    pub manager: String,
    pub api_version: String,
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    set: FieldSet,
}

const APPLY: &str = "Apply";
const UPDATE: &str = "Update";

impl Entry {
    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.is_none()
    }

    /// How a conflict names the manager: `"kubectl" using apps/v1`, with the time for updates.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        s.push_str(&format!(" using {}", self.api_version));
        if self.operation == UPDATE && !self.time.is_empty() {
            s.push_str(&format!(" at {}", self.time));
        }
        s
    }

    fn to_json(&self) -> Value {
        let mut e = json!({
            "manager": self.manager, "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1", "fieldsV1": self.set.to_fields_v1(),
        });
        if !self.time.is_empty() {
            e["time"] = json!(self.time);
        }
        if let Some(sub) = &self.subresource {
            e["subresource"] = json!(sub);
        }
        e
    }
}

fn entries_of(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj["metadata"]["managedFields"].as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            Some(Entry {
                manager: e["manager"].as_str()?.to_string(),
                operation: e["operation"].as_str().unwrap_or(UPDATE).to_string(),
                api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
                time: e["time"].as_str().unwrap_or("").to_string(),
                subresource: e["subresource"].as_str().map(String::from),
                set: FieldSet::from_fields_v1(&e["fieldsV1"]),
            })
        })
        .collect()
}

/// Writes the entries into the object, in the API server's order (Apply before Update, then
/// by time and manager); none when no entry owns anything.
fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (&a.operation, &a.time, &a.manager, &a.api_version).cmp(&(
            &b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
        ))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

/// The part of an object whose fields are owned: no identity or bookkeeping, no status.
fn tracked(v: &Value) -> Value {
    let mut t = v.clone();
    if let Some(o) = t.as_object_mut() {
        for k in ["apiVersion", "kind", "status"] {
            o.remove(k);
        }
    }
    if let Some(m) = t.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for k in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            m.remove(k);
        }
        if m.is_empty() {
            t.as_object_mut().map(|o| o.remove("metadata"));
        }
    }
    t
}

/// Records a client's create or update: `new` gets the managed fields that result.
/// `old` is the stored object (`None` for a create).
pub fn record_update(old: Option<&Value>, new: &mut Value, who: &Writer) {
    record(old, new, who, None)
}

/// Records a client's write through a subresource (`scale`): the fields it changed in the
/// object, under an entry naming the subresource.
pub fn record_subresource_update(old: &Value, new: &mut Value, who: &Writer, sub: &str) {
    record(Some(old), new, who, Some(sub))
}

fn record(old: Option<&Value>, new: &mut Value, who: &Writer, sub: Option<&str>) {
    let mut entries = old.map(entries_of).unwrap_or_default();
    let old_t = old.map(tracked).unwrap_or_else(|| json!({}));
    let (changed, removed) = compare(&old_t, &tracked(new), Style::Update);
    if !changed.is_empty() || !removed.is_empty() {
        for e in &mut entries {
            e.set.subtract(&changed);
            e.set.subtract(&removed);
        }
        let same = |e: &&mut Entry| {
            e.manager == who.manager && e.operation == UPDATE && e.subresource.as_deref() == sub
        };
        match entries.iter_mut().find(same) {
            Some(e) => {
                e.set.union(&changed);
                e.time = now_rfc3339();
                e.api_version = who.api_version.clone();
            }
            None => entries.push(Entry {
                manager: who.manager.clone(),
                operation: UPDATE.into(),
                api_version: who.api_version.clone(),
                time: now_rfc3339(),
                subresource: sub.map(String::from),
                set: changed,
            }),
        }
    }
    write_entries(new, entries);
}

/// Applies a configuration to the live object (`None`: it does not exist yet) and gives the
/// object to store, with its managed fields; 409 listing the conflicts when another manager
/// owns a field the configuration would change and `force` is not set.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    who: &Writer,
    force: bool,
) -> Result<Value, ApiError> {
    let live_v = live.cloned().unwrap_or_else(|| json!({}));
    let mut entries = entries_of(&live_v);
    if live.is_some() && entries.is_empty() {
        entries.push(Entry {
            manager: "before-first-apply".into(),
            operation: UPDATE.into(),
            api_version: who.api_version.clone(),
            time: String::new(),
            subresource: None,
            set: fields_of(&tracked(&live_v), Style::Update),
        });
    }
    let applied = fields_of(&tracked(config), Style::Apply);
    let mut merged = merge(&live_v, config);
    let (changed, _) = compare(&tracked(&live_v), &tracked(&merged), Style::Apply);

    // Conflicts: fields this apply changes that another manager owns.
    let mine = |e: &Entry| e.manager == who.manager;
    let conflicts: Vec<(String, String)> = entries
        .iter()
        .filter(|e| !mine(e))
        .flat_map(|e| {
            let d = e.describe();
            e.set
                .intersection(&changed)
                .paths()
                .into_iter()
                .map(move |p| (d.clone(), path_string(&p)))
        })
        .collect();
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_error(&conflicts));
        }
        for e in entries.iter_mut().filter(|e| !mine(e)) {
            e.set.subtract(&changed);
        }
    }

    // Fields this manager applied before and no longer does, owned by nobody else: removed.
    let before = entries
        .iter()
        .find(|e| e.is(&who.manager, APPLY))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let mut dropped = before.clone();
    dropped.subtract(&applied);
    let mut others = FieldSet::default();
    for e in entries.iter().filter(|e| !e.is(&who.manager, APPLY)) {
        others.union(&e.set);
    }
    let to_remove: Vec<Vec<String>> = dropped
        .paths()
        .into_iter()
        .filter(|p| !others.has_under(p))
        .collect();
    remove_paths(&mut merged, &to_remove);

    let object_changed = tracked(&merged) != tracked(&live_v);
    match entries.iter_mut().find(|e| e.is(&who.manager, APPLY)) {
        Some(e) => {
            if object_changed || e.set != applied {
                e.time = now_rfc3339();
                e.api_version = who.api_version.clone();
            }
            e.set = applied;
        }
        None => entries.push(Entry {
            manager: who.manager.clone(),
            operation: APPLY.into(),
            api_version: who.api_version.clone(),
            time: now_rfc3339(),
            subresource: None,
            set: applied,
        }),
    }
    write_entries(&mut merged, entries);
    Ok(merged)
}

/// The 409 the API server answers, worded as it words it (kubectl prints the message).
fn conflict_error(conflicts: &[(String, String)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {m}"), "field": p}))
        .collect();
    let message = if let [(m, p)] = conflicts {
        format!("Apply failed with 1 conflict: conflict with {m}: {p}")
    } else {
        let mut by_manager: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (m, p) in conflicts {
            by_manager.entry(m).or_default().push(p);
        }
        let mut lines = Vec::new();
        for (m, paths) in by_manager {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError {
        details: Some(json!({"causes": causes})),
        ..ApiError::new(409, "Conflict", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(m: &str) -> Writer {
        Writer {
            manager: m.into(),
            api_version: "apps/v1".into(),
        }
    }

    fn config(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                   {"name": "web", "image": image}]}}}})
    }

    fn managers(v: &Value) -> Vec<(String, String)> {
        v["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["manager"].as_str().unwrap().to_string(),
                    e["operation"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn apply_creates_then_conflicts_with_another_manager() {
        let first = apply(None, &config(2, "nginx:1"), &who("a"), false).unwrap();
        assert_eq!(first["spec"]["replicas"], 2);
        assert_eq!(managers(&first), vec![("a".into(), "Apply".into())]);
        // The same values from another manager: shared, no conflict.
        let shared = apply(Some(&first), &config(2, "nginx:1"), &who("b"), false).unwrap();
        assert_eq!(managers(&shared).len(), 2);
        // A different value: conflict, named as the API server names it.
        let e = apply(Some(&shared), &config(3, "nginx:1"), &who("c"), false).unwrap_err();
        assert_eq!(e.code, 409);
        assert!(
            e.message
                .starts_with("Apply failed with 2 conflicts: conflicts with \"a\" using apps/v1:\n- .spec.replicas"),
            "{}",
            e.message
        );
        assert_eq!(e.details.unwrap()["causes"][0]["field"], ".spec.replicas");
        // Forced: c takes replicas from both.
        let forced = apply(Some(&shared), &config(3, "nginx:1"), &who("c"), true).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let e = apply(Some(&forced), &config(4, "nginx:1"), &who("a"), false).unwrap_err();
        assert!(e.message.contains("conflict with \"c\""), "{}", e.message);
    }

    #[test]
    fn fields_no_longer_applied_are_removed_unless_others_own_them() {
        let mut c = config(2, "nginx:1");
        c["metadata"]["labels"] = json!({"team": "x", "tier": "web"});
        let v = apply(None, &c, &who("a"), false).unwrap();
        let mut c2 = config(2, "nginx:1");
        c2["metadata"]["labels"] = json!({"tier": "web"});
        let v2 = apply(Some(&v), &c2, &who("a"), false).unwrap();
        assert_eq!(v2["metadata"]["labels"], json!({"tier": "web"}));
        // An update by someone else owns `team`; a later apply without it keeps it.
        let mut edited = v2.clone();
        edited["metadata"]["labels"]["team"] = json!("y");
        record_update(Some(&v2), &mut edited, &who("kubectl-edit"));
        let v3 = apply(Some(&edited), &c2, &who("a"), false).unwrap();
        assert_eq!(v3["metadata"]["labels"]["team"], "y");
    }

    #[test]
    fn updates_take_fields_from_appliers() {
        let v = apply(None, &config(2, "nginx:1"), &who("a"), false).unwrap();
        let mut scaled = v.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&v), &mut scaled, &who("kubectl-scale"));
        assert_eq!(
            managers(&scaled),
            vec![
                ("a".into(), "Apply".into()),
                ("kubectl-scale".into(), "Update".into())
            ]
        );
        let e = apply(Some(&scaled), &config(2, "nginx:1"), &who("a"), false).unwrap_err();
        assert!(
            e.message
                .contains("conflict with \"kubectl-scale\" using apps/v1 at "),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_object_without_managers_is_owned_before_first_apply() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u"}, "spec": {"replicas": 1}});
        let e = apply(Some(&live), &config(2, "nginx:1"), &who("a"), false).unwrap_err();
        assert!(
            e.message.contains("\"before-first-apply\""),
            "{}",
            e.message
        );
        let same = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 1}});
        assert!(apply(Some(&live), &same, &who("a"), false).is_ok());
    }

    #[test]
    fn a_no_op_update_keeps_the_entries() {
        let v = apply(None, &config(2, "nginx:1"), &who("a"), false).unwrap();
        let mut same = v.clone();
        record_update(Some(&v), &mut same, &who("b"));
        assert_eq!(same, v);
    }
}
