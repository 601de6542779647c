//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`) and the resources they define, as
//! far as kubectl and the console meet them: a CRD is validated (its name, scope, exactly one
//! storage version, a schema per version, its printer columns) and, once stored, is
//! `NamesAccepted` and `Established` at once; its group/version is then in discovery and its
//! objects are stored, listed, watched and tabulated (`additionalPrinterColumns`) like any
//! other kind. Deleting the CRD deletes its objects (watchers see them go, then their watch
//! ends) and the resource is no longer served. Objects are not checked against the CRD's
//! OpenAPI schema, nor pruned by it.
//!
//! A defined resource's [`ResourceType`] is made when its CRD is stored and lives as long as
//! the process (`&'static`, as the built-in ones): a registry entry per CRD uid, its objects in
//! the store's table [`Storage::Custom`]`(id)`.

use super::error::ApiError;
use super::jsonpath;
use super::resources::{ResourceType, Storage};
use super::store::{Obj, Store, now_rfc3339};
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::sync::LazyLock;

/// The verbs of a custom resource, as the API server lists them.
const VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];
const PRINTER_TYPES: [&str; 5] = ["boolean", "date", "integer", "number", "string"];

/// A printer column of one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    path: Option<jsonpath::Path>,
}

#[derive(Debug)]
struct Version {
    rt: &'static ResourceType,
    served: bool,
    columns: Vec<Column>,
}

#[derive(Debug)]
struct Entry {
    crd_uid: String,
    storage: &'static ResourceType,
    versions: Vec<Version>,
    /// False once its CRD is deleted (the entry stays: handlers may still hold its types).
    live: bool,
}

static REGISTRY: LazyLock<RwLock<Vec<Entry>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// The stored version's type of a registered custom resource.
pub fn storage_type(id: u32) -> &'static ResourceType {
    REGISTRY
        .read()
        .get(id as usize)
        .map(|e| e.storage)
        .expect("a custom storage comes from the registry")
}

/// Whether a custom table is still served (its CRD not deleted).
pub fn is_live(st: Storage) -> bool {
    match st {
        Storage::Custom(id) => REGISTRY.read().get(id as usize).is_some_and(|e| e.live),
        _ => true,
    }
}

/// Whether a custom resource has the status subresource (a main update keeps status).
pub fn has_status_subresource(st: Storage) -> bool {
    storage_type(match st {
        Storage::Custom(id) => id,
        _ => return false,
    })
    .subresources
    .contains(&"status")
}

// ---------------------------------------------------------------------------------------
// What a CRD says.

struct VersionSpec {
    name: String,
    served: bool,
    storage: bool,
    status: bool,
    columns: Vec<Column>,
}

struct Spec {
    group: String,
    kind: String,
    plural: String,
    singular: String,
    short_names: Vec<String>,
    categories: Vec<String>,
    namespaced: bool,
    versions: Vec<VersionSpec>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn columns_of(version: &Value) -> Vec<Column> {
    let cols = version["additionalPrinterColumns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if cols.is_empty() {
        // As the API server defaults a CRD without printer columns.
        return vec![Column {
            name: "Age".into(),
            kind: "date".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            path: jsonpath::Path::parse(".metadata.creationTimestamp").ok(),
        }];
    }
    cols.iter()
        .map(|c| Column {
            name: c["name"].as_str().unwrap_or("").to_string(),
            kind: c["type"].as_str().unwrap_or("string").to_string(),
            format: c["format"].as_str().unwrap_or("").to_string(),
            description: c["description"].as_str().unwrap_or("").to_string(),
            priority: c["priority"].as_i64().unwrap_or(0),
            path: c["jsonPath"]
                .as_str()
                .and_then(|p| jsonpath::Path::parse(p).ok()),
        })
        .collect()
}

/// The served shape of a CRD, or `None` when it cannot define a resource.
fn spec_of(crd: &Value) -> Option<Spec> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let kind = names["kind"]
        .as_str()
        .filter(|k| !k.is_empty())?
        .to_string();
    let versions: Vec<VersionSpec> = spec["versions"]
        .as_array()?
        .iter()
        .map(|v| VersionSpec {
            name: v["name"].as_str().unwrap_or("").to_string(),
            served: v["served"].as_bool().unwrap_or(false),
            storage: v["storage"].as_bool().unwrap_or(false),
            status: v["subresources"].get("status").is_some(),
            columns: columns_of(v),
        })
        .collect();
    if versions.iter().filter(|v| v.storage).count() != 1 {
        return None;
    }
    Some(Spec {
        group: spec["group"]
            .as_str()
            .filter(|g| !g.is_empty())?
            .to_string(),
        plural: names["plural"]
            .as_str()
            .filter(|p| !p.is_empty())?
            .to_string(),
        singular: names["singular"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase()),
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        namespaced: spec["scope"] != "Cluster",
        kind,
        versions,
    })
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_all(v: &[String]) -> &'static [&'static str] {
    Box::leak(
        v.iter()
            .map(|s| leak(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// The type of one version: the one already made when nothing changed (so a CRD that is
/// applied again leaks nothing), else a new one.
fn type_of(
    old: Option<&'static ResourceType>,
    s: &Spec,
    v: &VersionSpec,
    id: u32,
) -> &'static ResourceType {
    let subresources: &'static [&'static str] = if v.status { &["status"] } else { &[] };
    if let Some(old) = old
        && old.group == s.group
        && old.version == v.name
        && old.kind == s.kind
        && old.plural == s.plural
        && old.singular == s.singular
        && old.short_names.iter().eq(s.short_names.iter())
        && old.categories.iter().eq(s.categories.iter())
        && old.namespaced == s.namespaced
        && old.subresources == subresources
    {
        return old;
    }
    Box::leak(Box::new(ResourceType {
        group: leak(&s.group),
        version: leak(&v.name),
        kind: leak(&s.kind),
        plural: leak(&s.plural),
        singular: leak(&s.singular),
        short_names: leak_all(&s.short_names),
        namespaced: s.namespaced,
        verbs: VERBS,
        subresources,
        categories: leak_all(&s.categories),
        storage: Storage::Custom(id),
        fields: &[],
    }))
}

/// Registers (or updates) the resource a stored CRD defines; its table's storage, or `None`
/// when the CRD defines nothing servable. Called by the store as it commits the CRD.
pub fn register(crd_uid: &str, crd: &Value) -> Option<Storage> {
    let s = spec_of(crd)?;
    let mut reg = REGISTRY.write();
    let pos = reg.iter().position(|e| e.crd_uid == crd_uid);
    let id = pos.unwrap_or(reg.len()) as u32;
    let old_type = |name: &str| {
        pos.and_then(|p| {
            reg[p]
                .versions
                .iter()
                .find(|v| v.rt.version == name)
                .map(|v| v.rt)
        })
    };
    let versions: Vec<Version> = s
        .versions
        .iter()
        .map(|v| Version {
            rt: type_of(old_type(&v.name), &s, v, id),
            served: v.served,
            columns: v.columns.clone(),
        })
        .collect();
    let storage = versions
        .iter()
        .zip(&s.versions)
        .find(|(_, v)| v.storage)
        .map(|(t, _)| t.rt)?;
    let entry = Entry {
        crd_uid: crd_uid.to_string(),
        storage,
        versions,
        live: true,
    };
    match pos {
        Some(p) => reg[p] = entry,
        None => reg.push(entry),
    }
    Some(Storage::Custom(id))
}

/// Stops serving the resource of a deleted CRD; its table's storage, if it had one.
pub fn unregister(crd_uid: &str) -> Option<Storage> {
    let mut reg = REGISTRY.write();
    let (id, e) = reg
        .iter_mut()
        .enumerate()
        .find(|(_, e)| e.crd_uid == crd_uid)?;
    e.live = false;
    Some(Storage::Custom(id as u32))
}

// ---------------------------------------------------------------------------------------
// What is served.

/// The served versions of each CRD in the store, most preferred first.
fn served(store: &Store) -> Vec<Vec<&'static ResourceType>> {
    let uids: Vec<String> = store
        .all(Storage::Crds)
        .iter()
        .map(|o| o.uid.clone())
        .collect();
    let reg = REGISTRY.read();
    uids.iter()
        .filter_map(|uid| reg.iter().find(|e| e.live && &e.crd_uid == uid))
        .map(|e| {
            let mut vs: Vec<&'static ResourceType> = e
                .versions
                .iter()
                .filter(|v| v.served)
                .map(|v| v.rt)
                .collect();
            vs.sort_by(|a, b| version_order(a.version, b.version));
            vs
        })
        .filter(|vs| !vs.is_empty())
        .collect()
}

/// Every served custom resource type.
pub fn served_types(store: &Store) -> Vec<&'static ResourceType> {
    served(store).into_iter().flatten().collect()
}

/// The custom resource `plural` under `group`/`version`, if served.
pub fn find(
    store: &Store,
    group: &str,
    version: &str,
    plural: &str,
) -> Option<&'static ResourceType> {
    served_types(store)
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The stored type of a served custom resource by apiVersion and kind (scenario objects).
pub fn for_api_version(
    store: &Store,
    api_version: &str,
    kind: &str,
) -> Option<&'static ResourceType> {
    served_types(store)
        .into_iter()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

/// The groups CRDs add, each with its versions, most preferred first.
pub fn groups(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for rt in served_types(store) {
        match out.iter_mut().find(|(g, _)| g == rt.group) {
            Some((_, vs)) if vs.iter().any(|v| v == rt.version) => {}
            Some((_, vs)) => vs.push(rt.version.to_string()),
            None => out.push((rt.group.to_string(), vec![rt.version.to_string()])),
        }
    }
    for (_, vs) in &mut out {
        vs.sort_by(|a, b| version_order(a, b));
    }
    out
}

/// The APIResourceList entries of the custom resources under `group`/`version`.
pub fn resource_entries(store: &Store, group: &str, version: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for r in served_types(store)
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut e = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        out.push(e);
        if r.subresources.contains(&"status") {
            out.push(json!({
                "name": format!("{}/status", r.plural), "singularName": "",
                "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    out
}

/// Kubernetes' version order: GA before beta before alpha (higher numbers first), then
/// anything else by name.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(v: &str) -> (u8, u64, u64) {
        let Some(rest) = v.strip_prefix('v') else {
            return (0, 0, 0);
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Ok(major) = digits.parse::<u64>() else {
            return (0, 0, 0);
        };
        let tail = &rest[digits.len()..];
        let minor = |t: &str| t.parse::<u64>().ok();
        match tail {
            "" => (3, major, 0),
            t => match (t.strip_prefix("beta"), t.strip_prefix("alpha")) {
                (Some(n), _) => minor(n).map_or((0, 0, 0), |n| (2, major, n)),
                (_, Some(n)) => minor(n).map_or((0, 0, 0), |n| (1, major, n)),
                _ => (0, 0, 0),
            },
        }
    }
    key(b).cmp(&key(a)).then_with(|| a.cmp(b))
}

// ---------------------------------------------------------------------------------------
// A CRD's admission: defaults, status, validation.

fn condition(kind: &str, reason: &str, message: &str, old: Option<&Value>) -> Value {
    let since = old
        .and_then(|o| o["status"]["conditions"].as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == kind && c["status"] == "True")
        })
        .and_then(|c| c["lastTransitionTime"].as_str().map(String::from))
        .unwrap_or_else(now_rfc3339);
    json!({"type": kind, "status": "True", "reason": reason, "message": message,
           "lastTransitionTime": since})
}

/// The defaults of a CRD (`singular`, `listKind`, conversion) and the status the API server's
/// controllers give it: names accepted, established, the storage version recorded.
pub fn admit(v: &mut Value, old: Option<&Value>) {
    let Some(spec) = v.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").filter(|n| n.is_object()) {
        let kind = names["kind"].as_str().unwrap_or("").to_string();
        if names.get("singular").is_none() && !kind.is_empty() {
            names["singular"] = json!(kind.to_lowercase());
        }
        if names.get("listKind").is_none() && !kind.is_empty() {
            names["listKind"] = json!(format!("{kind}List"));
        }
    }
    if spec.get("conversion").is_none() {
        spec["conversion"] = json!({"strategy": "None"});
    }
    let names = spec["names"].clone();
    let mut stored = old
        .map(|o| strings(&o["status"]["storedVersions"]))
        .unwrap_or_default();
    if let Some(sv) = spec["versions"].as_array().and_then(|vs| {
        vs.iter()
            .find(|x| x["storage"] == true)
            .and_then(|x| x["name"].as_str())
    }) && !stored.iter().any(|s| s == sv)
    {
        stored.push(sv.to_string());
    }
    v["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found", old),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted", old),
        ],
        "storedVersions": stored,
    });
}

/// What is wrong with a field, as the API server words it.
struct Cause {
    field: String,
    reason: &'static str,
    detail: String,
}

fn required(field: impl Into<String>) -> Cause {
    Cause {
        field: field.into(),
        reason: "FieldValueRequired",
        detail: "Required value".into(),
    }
}

fn invalid(field: impl Into<String>, value: &str, why: &str) -> Cause {
    Cause {
        field: field.into(),
        reason: "FieldValueInvalid",
        detail: format!("Invalid value: \"{value}\": {why}"),
    }
}

fn unsupported(field: impl Into<String>, value: &str, supported: &[&str]) -> Cause {
    let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    Cause {
        field: field.into(),
        reason: "FieldValueNotSupported",
        detail: format!(
            "Unsupported value: \"{value}\": supported values: {}",
            list.join(", ")
        ),
    }
}

/// A 422 Invalid listing every cause, as the API server answers (kubectl prints the causes).
fn invalid_error(rt: &ResourceType, name: &str, causes: Vec<Cause>) -> ApiError {
    let texts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.detail))
        .collect();
    let what = if texts.len() == 1 {
        texts[0].clone()
    } else {
        format!("[{}]", texts.join(", "))
    };
    let details = json!({
        "name": name, "group": rt.group, "kind": rt.kind,
        "causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.detail, "field": c.field})).collect::<Vec<_>>(),
    });
    ApiError {
        details: Some(details),
        ..ApiError::new(
            422,
            "Invalid",
            format!("{}.{} \"{name}\" is invalid: {what}", rt.kind, rt.group),
        )
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn check_names(spec: &Value, name: &str, causes: &mut Vec<Cause>) {
    let group = spec["group"].as_str().unwrap_or("");
    if group.is_empty() {
        causes.push(required("spec.group"));
    } else if !group.contains('.') {
        causes.push(invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or("");
    if plural.is_empty() {
        causes.push(required("spec.names.plural"));
    } else if !is_dns_label(plural) {
        causes.push(invalid(
            "spec.names.plural",
            plural,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ));
    }
    if names["kind"].as_str().unwrap_or("").is_empty() {
        causes.push(required("spec.names.kind"));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match spec["scope"].as_str().unwrap_or("") {
        "Namespaced" | "Cluster" => {}
        "" => causes.push(required("spec.scope")),
        other => causes.push(unsupported("spec.scope", other, &["Cluster", "Namespaced"])),
    }
}

fn check_columns(version: &Value, at: &str, causes: &mut Vec<Cause>) {
    let Some(cols) = version["additionalPrinterColumns"].as_array() else {
        return;
    };
    for (j, c) in cols.iter().enumerate() {
        let at = format!("{at}.additionalPrinterColumns[{j}]");
        if c["name"].as_str().unwrap_or("").is_empty() {
            causes.push(required(format!("{at}.name")));
        }
        match c["type"].as_str().unwrap_or("") {
            "" => causes.push(required(format!("{at}.type"))),
            t if !PRINTER_TYPES.contains(&t) => {
                causes.push(unsupported(format!("{at}.type"), t, &PRINTER_TYPES))
            }
            _ => {}
        }
        match c["jsonPath"].as_str().unwrap_or("") {
            "" => causes.push(required(format!("{at}.jsonPath"))),
            p => {
                if let Err(e) = jsonpath::Path::parse(p) {
                    causes.push(invalid(
                        format!("{at}.jsonPath"),
                        p,
                        &format!("must be a simple json path: {e}"),
                    ));
                }
            }
        }
    }
}

fn check_versions(spec: &Value, causes: &mut Vec<Cause>) {
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(required("spec.versions"));
        return;
    }
    let names: Vec<&str> = versions
        .iter()
        .map(|v| v["name"].as_str().unwrap_or(""))
        .collect();
    if versions.iter().filter(|v| v["storage"] == true).count() != 1 {
        causes.push(invalid(
            "spec.versions",
            &names.join(", "),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        if names[i].is_empty() {
            causes.push(required(format!("{at}.name")));
        } else if names[..i].contains(&names[i]) {
            causes.push(Cause {
                field: format!("{at}.name"),
                reason: "FieldValueDuplicate",
                detail: format!("Duplicate value: \"{}\"", names[i]),
            });
        }
        if !v["schema"]["openAPIV3Schema"].is_object() {
            causes.push(Cause {
                field: format!("{at}.schema.openAPIV3Schema"),
                reason: "FieldValueRequired",
                detail: "Required value: schemas are required".into(),
            });
        }
        check_columns(v, &at, causes);
    }
}

/// A CRD's validation: its names and name, scope, versions (exactly one stored, each with a
/// schema, printer columns of a known type and a simple JSONPath). 422 Invalid listing every
/// cause, worded as the API server words them.
pub fn validate(rt: &ResourceType, v: &Value) -> Result<(), ApiError> {
    let name = v["metadata"]["name"].as_str().unwrap_or("");
    let mut causes = Vec::new();
    check_names(&v["spec"], name, &mut causes);
    check_versions(&v["spec"], &mut causes);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid_error(rt, name, causes))
    }
}

/// What an update of a CRD may not change: its scope (its objects are stored by it).
pub fn check_update(old: &Value, new: &Value) -> Result<(), ApiError> {
    let (was, now) = (&old["spec"]["scope"], &new["spec"]["scope"]);
    if was == now {
        return Ok(());
    }
    let rt = Storage::Crds.storage_type();
    let name = new["metadata"]["name"].as_str().unwrap_or("");
    let cause = invalid(
        "spec.scope",
        now.as_str().unwrap_or(""),
        "field is immutable",
    );
    Err(invalid_error(rt, name, vec![cause]))
}

// ---------------------------------------------------------------------------------------
// Custom objects as served.

/// A custom object as `rt`'s version shows it (versions convert with strategy None: only
/// the apiVersion differs).
pub fn out(rt: &ResourceType, obj: &Obj) -> bytes::Bytes {
    let stored = rt.storage.storage_type();
    if stored.version == rt.version {
        return obj.json.clone();
    }
    let mut v = obj.value();
    v["apiVersion"] = json!(rt.api_version());
    bytes::Bytes::from(v.to_string())
}

/// The printer columns of `rt`'s version.
fn columns(rt: &ResourceType) -> Vec<Column> {
    let Storage::Custom(id) = rt.storage else {
        return Vec::new();
    };
    REGISTRY
        .read()
        .get(id as usize)
        .and_then(|e| e.versions.iter().find(|v| v.rt.version == rt.version))
        .map(|v| v.columns.clone())
        .unwrap_or_default()
}

/// The Table's column definitions: Name, then the version's printer columns.
pub fn column_defs(rt: &ResourceType) -> Vec<Value> {
    let mut out = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    for c in columns(rt) {
        out.push(json!({"name": c.name, "type": c.kind, "format": c.format,
                        "description": c.description, "priority": c.priority}));
    }
    out
}

/// One cell as the API server's CRD table converter gives it: the first value the path
/// reaches, as the column's type (a `date` as an age); null when there is none.
fn cell(c: &Column, v: &Value, now: i64) -> Value {
    let Some(found) = c.path.as_ref().and_then(|p| p.find(v).first().copied()) else {
        return Value::Null;
    };
    match (c.kind.as_str(), found) {
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Null) => Value::Null,
        ("string", other) => json!(other.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => json!(n),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => json!(super::table::human_duration(now - t.as_second())),
            Err(_) => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The cells of one object's row.
pub fn cells(rt: &ResourceType, v: &Value, now: i64) -> Vec<Value> {
    let mut out = vec![json!(v["metadata"]["name"].as_str().unwrap_or(""))];
    out.extend(columns(rt).iter().map(|c| cell(c, v, now)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(name: &str, scope: &str, storage: &[bool]) -> Value {
        let versions: Vec<Value> = storage
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({"name": format!("v1beta{}", i + 1), "served": true, "storage": s,
                       "schema": {"openAPIV3Schema": {"type": "object"}}})
            })
            .collect();
        json!({"metadata": {"name": name}, "spec": {
            "group": "kafka.strimzi.io", "scope": scope,
            "names": {"kind": "KafkaTopic", "plural": "kafkatopics", "shortNames": ["kt"]},
            "versions": versions,
        }})
    }

    #[test]
    fn validation_words_each_cause_as_the_api_server() {
        let rt = Storage::Crds.storage_type();
        assert!(
            validate(
                rt,
                &crd("kafkatopics.kafka.strimzi.io", "Namespaced", &[true])
            )
            .is_ok()
        );
        let e = validate(rt, &crd("topics.kafka.strimzi.io", "Namespaced", &[true])).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "CustomResourceDefinition.apiextensions.k8s.io \"topics.kafka.strimzi.io\" is invalid: metadata.name: Invalid value: \"topics.kafka.strimzi.io\": must be spec.names.plural+\".\"+spec.group"
        );
        let e = validate(
            rt,
            &crd("kafkatopics.kafka.strimzi.io", "Global", &[true, true]),
        )
        .unwrap_err();
        assert!(e.message.contains("is invalid: [spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\", spec.versions: Invalid value: \"v1beta1, v1beta2\": must have exactly one version marked as storage version]"), "{}", e.message);
        assert_eq!(e.details.unwrap()["causes"][0]["field"], "spec.scope");
    }

    #[test]
    fn admission_accepts_the_names_and_establishes() {
        let mut v = crd("kafkatopics.kafka.strimzi.io", "Namespaced", &[false, true]);
        admit(&mut v, None);
        assert_eq!(v["spec"]["names"]["singular"], "kafkatopic");
        assert_eq!(v["spec"]["names"]["listKind"], "KafkaTopicList");
        assert_eq!(v["status"]["acceptedNames"]["shortNames"][0], "kt");
        assert_eq!(v["status"]["storedVersions"], json!(["v1beta2"]));
        let types: Vec<&str> = v["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "True")
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["NamesAccepted", "Established"]);
    }

    #[test]
    fn the_scope_cannot_change() {
        let old = crd("kafkatopics.kafka.strimzi.io", "Namespaced", &[true]);
        assert!(check_update(&old, &old).is_ok());
        let new = crd("kafkatopics.kafka.strimzi.io", "Cluster", &[true]);
        let e = check_update(&old, &new).unwrap_err();
        assert_eq!(
            e.message,
            "CustomResourceDefinition.apiextensions.k8s.io \"kafkatopics.kafka.strimzi.io\" is invalid: spec.scope: Invalid value: \"Cluster\": field is immutable"
        );
    }

    #[test]
    fn versions_in_kubernetes_order() {
        let mut vs = vec!["v1alpha1", "v2beta1", "v1", "foo", "v1beta2", "v2"];
        vs.sort_by(|a, b| version_order(a, b));
        assert_eq!(vs, ["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }
}
