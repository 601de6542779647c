//! Field sets as server-side apply tracks them (structured-merge-diff's `fieldpath.Set`):
//! which fields of an object a manager owns, serialized as `FieldsV1` in
//! `metadata.managedFields`, and the three walks over objects that server-side apply needs —
//! the fields a value sets, what changed between two values, and a merge of an applied
//! configuration into a live object.
//!
//! The sandbox has no typed schema at hand, so the shape of a field is told from its name, as
//! the Kubernetes types declare it (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type`):
//! - associative lists, merged item by item by their keys: `containers`, `env`, `volumes` …
//!   by `name`; container `ports` by `containerPort` and `protocol`, service `ports` by
//!   `port` and `protocol` (protocol defaulting to TCP in the key); `volumeMounts` by
//!   `mountPath`;
//!   `conditions` by `type`; `ownerReferences` by `uid` — see [`list_keys`];
//! - sets of scalars: `finalizers`;
//! - atomic maps, owned and replaced whole: every `selector`, `nodeSelector`;
//! - every other list is atomic, every other object granular.
//!
//! A path element is kept in its `FieldsV1` spelling: `f:<field>`, `k:<key as JSON>`,
//! `v:<value as JSON>`, `i:<index>`.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A set of paths into an object, as a tree. A node is a member when the field itself is
/// owned (a leaf, a list item, an atomic value); children are the fields beneath it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

/// How a set marks map nodes. `Update` sets (computed from the change a write made) own a
/// map or object that the write created, as the API server records it (`.: {}`); `Apply`
/// sets own only its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Apply,
    Update,
}

/// Structs whose presence is never owned on its own (non-pointer fields of the Kubernetes
/// types): they appear in an update's field set only through their fields.
const VALUE_STRUCTS: &[&str] = &["metadata", "spec", "template", "strategy", "status"];

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Adds one path.
    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether anything at or under `path` is a member.
    pub fn has_under(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.has_under(rest)),
        }
    }

    /// Adds every member of `other`.
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (k, c) in &other.children {
            self.children.entry(k.clone()).or_default().union(c);
        }
    }

    /// Removes every member of `other`, dropping nodes left empty.
    pub fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (k, c) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.subtract(c);
                if mine.is_empty() {
                    self.children.remove(k);
                }
            }
        }
    }

    /// The members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = c.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Every member, as a path.
    pub fn paths(&self) -> Vec<Vec<String>> {
        fn walk(s: &FieldSet, cur: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            if s.member {
                out.push(cur.clone());
            }
            for (k, c) in &s.children {
                cur.push(k.clone());
                walk(c, cur, out);
                cur.pop();
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    /// The set as `FieldsV1` JSON (`{"f:spec": {"f:replicas": {}}}`; `.` marks a member
    /// that also has children).
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_fields_v1());
        }
        Value::Object(m)
    }

    /// Reads `FieldsV1` JSON. Anything that is not an object of objects is skipped.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut s = FieldSet::default();
        let Some(m) = v.as_object() else {
            return s;
        };
        for (k, c) in m {
            if k == "." {
                s.member = true;
                continue;
            }
            let mut child = FieldSet::from_fields_v1(c);
            if c.as_object().is_some_and(|o| o.is_empty()) {
                child.member = true;
            }
            s.children.insert(k.clone(), child);
        }
        s
    }
}

/// A path as the API server prints it in conflicts: `.spec.replicas`,
/// `.spec.template.spec.containers[name="app"].image`.
pub fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for pe in path {
        if let Some(f) = pe.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = pe.strip_prefix("k:") {
            let fields: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_else(|_| vec![k.to_string()]);
            out.push_str(&format!("[{}]", fields.join(",")));
        } else if let Some(v) = pe.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = pe.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        }
    }
    out
}

/// How a list is merged.
#[derive(Debug, Clone, PartialEq)]
enum ListKind {
    /// Items identified by these key fields.
    Map(&'static [&'static str]),
    /// Scalars, each owned on its own.
    Set,
    /// Replaced and owned whole.
    Atomic,
}

/// The keys of an associative list, by the list's field name (and, for `ports`, by whether
/// its items are a container's or a service's).
fn list_keys(field: &str, items: &[Value]) -> ListKind {
    ListKind::Map(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => &["name"],
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                &["containerPort", "protocol"]
            } else if items.iter().all(|i| i.get("port").is_some()) {
                &["port", "protocol"]
            } else {
                return ListKind::Atomic;
            }
        }
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "hostAliases" => &["ip"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        "finalizers" => return ListKind::Set,
        _ => return ListKind::Atomic,
    })
}

fn atomic_map(field: &str) -> bool {
    matches!(field, "selector" | "nodeSelector")
}

/// The `k:` element of a list item, or `None` when the item lacks a key field (the list is
/// then treated as atomic). `protocol` defaults to TCP, as the schema's default says.
fn item_key(item: &Value, keys: &[&str]) -> Option<String> {
    // Keys sorted, as Go's encoder writes a map.
    let mut m = BTreeMap::new();
    for k in keys {
        let v = match item.get(*k) {
            Some(v) if !v.is_null() => v.clone(),
            _ if *k == "protocol" => json!("TCP"),
            _ => return None,
        };
        m.insert(*k, v);
    }
    let fields: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String((*k).to_string())))
        .collect();
    Some(format!("k:{{{}}}", fields.join(",")))
}

fn list_kind_of(field: &str, items: &[Value]) -> ListKind {
    match list_keys(field, items) {
        ListKind::Map(keys) if items.iter().all(|i| item_key(i, keys).is_some()) => {
            ListKind::Map(keys)
        }
        ListKind::Map(_) => ListKind::Atomic,
        other => other,
    }
}

/// Whether a value is owned whole (a leaf of the field tree).
fn is_leaf(field: &str, v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty() || atomic_map(field),
        Value::Array(items) => list_kind_of(field, items) == ListKind::Atomic,
        _ => true,
    }
}

/// The fields a value sets, below `path`.
pub fn fields_of(v: &Value, style: Style) -> FieldSet {
    let mut set = FieldSet::default();
    collect(v, "", &mut Vec::new(), style, &mut set);
    set
}

fn collect(v: &Value, field: &str, path: &mut Vec<String>, style: Style, set: &mut FieldSet) {
    if v.is_null() {
        return;
    }
    if is_leaf(field, v) {
        // The object itself (an empty configuration) is never owned.
        if !path.is_empty() {
            set.insert(path);
        }
        return;
    }
    match v {
        Value::Object(m) => {
            if style == Style::Update && !path.is_empty() && !VALUE_STRUCTS.contains(&field) {
                set.insert(path);
            }
            for (k, c) in m {
                path.push(format!("f:{k}"));
                collect(c, k, path, style, set);
                path.pop();
            }
        }
        Value::Array(items) => match list_kind_of(field, items) {
            ListKind::Map(keys) => {
                for item in items {
                    let Some(pe) = item_key(item, keys) else {
                        continue;
                    };
                    path.push(pe);
                    set.insert(path);
                    if let Some(m) = item.as_object() {
                        for (k, c) in m {
                            path.push(format!("f:{k}"));
                            collect(c, k, path, style, set);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            ListKind::Set => {
                for item in items {
                    path.push(format!("v:{item}"));
                    set.insert(path);
                    path.pop();
                }
            }
            ListKind::Atomic => set.insert(path),
        },
        _ => set.insert(path),
    }
}

/// What changed from `old` to `new`: the fields `new` sets with another value (or that
/// `old` lacks) and the fields `old` set that `new` no longer has.
pub fn compare(old: &Value, new: &Value, style: Style) -> (FieldSet, FieldSet) {
    let mut changed = FieldSet::default();
    let mut removed = FieldSet::default();
    diff(
        Some(old),
        Some(new),
        "",
        &mut Vec::new(),
        style,
        &mut changed,
        &mut removed,
    );
    (changed, removed)
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn diff(
    old: Option<&Value>,
    new: Option<&Value>,
    field: &str,
    path: &mut Vec<String>,
    style: Style,
    changed: &mut FieldSet,
    removed: &mut FieldSet,
) {
    let (old, new) = match (present(old), present(new)) {
        (None, None) => return,
        (None, Some(n)) => {
            let mut sub = FieldSet::default();
            collect(n, field, path, style, &mut sub);
            changed.union(&sub);
            return;
        }
        (Some(o), None) => {
            let mut sub = FieldSet::default();
            collect(o, field, path, Style::Update, &mut sub);
            removed.union(&sub);
            return;
        }
        (Some(o), Some(n)) => (o, n),
    };
    if old == new {
        return;
    }
    let both_granular_objects = old.is_object() && new.is_object() && !atomic_map(field);
    if !both_granular_objects
        && (is_leaf(field, new) || is_leaf(field, old) || kind_differs(old, new))
    {
        changed.insert(path);
        if !is_leaf(field, old) {
            let mut sub = FieldSet::default();
            collect(old, field, path, Style::Update, &mut sub);
            sub.member = false;
            let mut below = sub;
            below.subtract(changed);
            removed.union(&below);
        }
        return;
    }
    match (old, new) {
        (Value::Object(om), Value::Object(nm)) => {
            let keys: std::collections::BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
            for k in keys {
                path.push(format!("f:{k}"));
                diff(om.get(k), nm.get(k), k, path, style, changed, removed);
                path.pop();
            }
        }
        (Value::Array(oi), Value::Array(ni)) => match list_kind_of(field, ni) {
            ListKind::Map(keys) => {
                let index = |items: &Vec<Value>| -> BTreeMap<String, Value> {
                    items
                        .iter()
                        .filter_map(|i| item_key(i, keys).map(|k| (k, i.clone())))
                        .collect()
                };
                let (om, nm) = (index(oi), index(ni));
                let keys: std::collections::BTreeSet<&String> =
                    om.keys().chain(nm.keys()).collect();
                for k in keys {
                    path.push(k.clone());
                    match (om.get(k), nm.get(k)) {
                        (Some(o), Some(n)) if o != n => {
                            if let (Some(o), Some(n)) = (o.as_object(), n.as_object()) {
                                let ks: std::collections::BTreeSet<&String> =
                                    o.keys().chain(n.keys()).collect();
                                for f in ks {
                                    path.push(format!("f:{f}"));
                                    diff(o.get(f), n.get(f), f, path, style, changed, removed);
                                    path.pop();
                                }
                            }
                        }
                        (None, Some(n)) => {
                            let mut sub = FieldSet::default();
                            collect_item(n, path, style, &mut sub);
                            changed.union(&sub);
                        }
                        (Some(o), None) => {
                            let mut sub = FieldSet::default();
                            collect_item(o, path, Style::Update, &mut sub);
                            removed.union(&sub);
                        }
                        _ => {}
                    }
                    path.pop();
                }
            }
            ListKind::Set => {
                for n in ni.iter().filter(|n| !oi.contains(n)) {
                    path.push(format!("v:{n}"));
                    changed.insert(path);
                    path.pop();
                }
                for o in oi.iter().filter(|o| !ni.contains(o)) {
                    path.push(format!("v:{o}"));
                    removed.insert(path);
                    path.pop();
                }
            }
            ListKind::Atomic => changed.insert(path),
        },
        _ => changed.insert(path),
    }
}

fn kind_differs(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) != std::mem::discriminant(b)
}

/// The fields of one associative-list item at `path` (its key element included).
fn collect_item(item: &Value, path: &mut Vec<String>, style: Style, set: &mut FieldSet) {
    set.insert(path);
    if let Some(m) = item.as_object() {
        for (k, c) in m {
            path.push(format!("f:{k}"));
            collect(c, k, path, style, set);
            path.pop();
        }
    }
}

/// Merges an applied configuration into a live object: granular objects field by field,
/// associative lists item by item (new items appended), sets as unions; everything else —
/// scalars, atomic lists and maps — replaced. A `null` in the configuration removes the field.
pub fn merge(live: &Value, config: &Value) -> Value {
    merge_field(Some(live), config, "")
}

fn merge_field(live: Option<&Value>, config: &Value, field: &str) -> Value {
    match (live, config) {
        (Some(Value::Object(lm)), Value::Object(cm)) if !atomic_map(field) => {
            let mut out = lm.clone();
            for (k, cv) in cm {
                if cv.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = merge_field(lm.get(k), cv, k);
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Some(Value::Array(li)), Value::Array(ci)) => match list_kind_of(field, ci) {
            ListKind::Map(keys) if li.iter().all(|i| item_key(i, keys).is_some()) => {
                let mut out = li.clone();
                for item in ci {
                    let key = item_key(item, keys);
                    match out.iter().position(|l| item_key(l, keys) == key) {
                        Some(i) => out[i] = merge_field(Some(&out[i]), item, ""),
                        None => out.push(strip_nulls(item)),
                    }
                }
                Value::Array(out)
            }
            ListKind::Set => {
                let mut out = li.clone();
                for item in ci {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            _ => config.clone(),
        },
        _ => strip_nulls(config),
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, c)| !c.is_null())
                .map(|(k, c)| (k.clone(), strip_nulls(c)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// Removes the fields at `paths` from a value (a list item by its key, a set member by its
/// value). Parents left empty by a removal are kept, as the API server keeps them.
pub fn remove_paths(v: &mut Value, paths: &[Vec<String>]) {
    // Shallowest first: an item is found by its key fields, which must still be there.
    let mut paths: Vec<&Vec<String>> = paths.iter().collect();
    paths.sort_by_key(|p| p.len());
    for p in paths {
        remove_one(v, p, "");
    }
}

fn remove_one(v: &mut Value, path: &[String], field: &str) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if let Some(f) = first.strip_prefix("f:") {
        let Some(m) = v.as_object_mut() else {
            return;
        };
        if rest.is_empty() {
            m.remove(f);
        } else if let Some(c) = m.get_mut(f) {
            remove_one(c, rest, f);
        }
        return;
    }
    let Some(items) = v.as_array_mut() else {
        return;
    };
    if first.starts_with("k:") {
        let ListKind::Map(keys) = list_kind_of(field, items) else {
            return;
        };
        let Some(pos) = items
            .iter()
            .position(|i| item_key(i, keys).as_deref() == Some(first))
        else {
            return;
        };
        if rest.is_empty() {
            items.remove(pos);
        } else {
            remove_one(&mut items[pos], rest, "");
        }
    } else if let Some(val) = first.strip_prefix("v:") {
        let val: Option<Value> = serde_json::from_str(val).ok();
        items.retain(|i| Some(i) != val.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str, replicas: i64) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 80}]},
            ]}},
        }})
    }

    #[test]
    fn an_applied_deployment_owns_its_leaves_and_items() {
        let set = fields_of(&deployment("nginx:1", 2), Style::Apply);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {}, "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {},
                            }},
                        }}},
                    },
                },
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    #[test]
    fn an_update_set_owns_the_maps_it_created() {
        let set = fields_of(&deployment("nginx:1", 2), Style::Update);
        let v1 = set.to_fields_v1();
        assert_eq!(v1["f:metadata"]["f:labels"]["."], json!({}));
        assert!(v1["f:spec"].get(".").is_none());
    }

    #[test]
    fn compare_finds_changed_and_removed_fields() {
        let old = deployment("nginx:1", 2);
        let mut new = deployment("nginx:2", 2);
        new["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        let (changed, removed) = compare(&old, &new, Style::Update);
        let paths: Vec<String> = changed.paths().iter().map(|p| path_string(p)).collect();
        assert_eq!(
            paths,
            vec![".spec.template.spec.containers[name=\"web\"].image"]
        );
        let gone: Vec<String> = removed.paths().iter().map(|p| path_string(p)).collect();
        assert_eq!(gone, vec![".metadata.labels.app"]);
    }

    #[test]
    fn merge_keeps_live_items_and_fields_it_does_not_name() {
        let mut live = deployment("nginx:1", 2);
        live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar", "image": "envoy"}));
        let config = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2"}]}}}});
        let out = merge(&live, &config);
        assert_eq!(out["spec"]["replicas"], 3);
        let cs = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["image"], "nginx:2");
        assert_eq!(cs[0]["ports"][0]["containerPort"], 80);
        assert_eq!(out["spec"]["selector"], live["spec"]["selector"]);
    }

    #[test]
    fn removing_paths_drops_fields_and_items() {
        let mut v = deployment("nginx:1", 2);
        let set = fields_of(
            &json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "x"}]}}}}),
            Style::Apply,
        );
        remove_paths(&mut v, &set.paths());
        assert!(v["spec"].get("replicas").is_none());
        assert_eq!(v["spec"]["template"]["spec"]["containers"], json!([]));
    }

    #[test]
    fn an_empty_configuration_owns_nothing() {
        assert!(fields_of(&json!({}), Style::Apply).is_empty());
        assert!(
            fields_of(&json!({"metadata": {}}), Style::Apply)
                .paths()
                .len()
                == 1
        );
    }

    #[test]
    fn set_operations() {
        let a = fields_of(&json!({"a": 1, "b": {"c": 2, "d": 3}}), Style::Apply);
        let b = fields_of(&json!({"b": {"c": 9}}), Style::Apply);
        let i = a.intersection(&b);
        assert_eq!(i.paths(), vec![vec!["f:b".to_string(), "f:c".to_string()]]);
        let mut d = a.clone();
        d.subtract(&b);
        assert_eq!(d.to_fields_v1(), json!({"f:a": {}, "f:b": {"f:d": {}}}));
        assert!(a.has_under(&["f:b".to_string()]));
        assert_eq!(path_string(&["f:x".into(), "v:\"y\"".into()]), ".x[=\"y\"]");
    }
}
