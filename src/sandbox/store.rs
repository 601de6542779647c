//! The sandbox's object store: every object as JSON bytes with a few parsed fields, one
//! resourceVersion counter across the whole store, and a bounded history per table from
//! which watches resume (410 Gone once it has moved past them).

use super::error::ApiError;
use super::resources::{ResourceType, Storage};
use super::selector::{FieldSelector, LabelSelector};
use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// How many past events each table keeps for watches that resume.
pub const HISTORY_PER_TABLE: usize = 20_000;
/// Capacity of each table's live channel; a watcher further behind is closed and must resume.
pub const CHANNEL_CAPACITY: usize = 32_768;

/// A stored object: its JSON and the fields that lists, selectors and watches need.
#[derive(Debug)]
pub struct Obj {
    pub json: Bytes,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub rv: u64,
    pub labels: BTreeMap<String, String>,
    /// Values of the resource's indexed fields (for field selectors), by field path.
    pub fields: Vec<(&'static str, String)>,
    /// A Pod's or a Secret's protobuf message (no envelope), made when it is written, as the
    /// API server's watch cache keeps each object's encoding: for the clients that prefer
    /// protobuf. None for other kinds and for an object the tables cannot carry (it is
    /// served as JSON).
    pub pb: Option<Bytes>,
}

impl Obj {
    /// Parses the stored JSON.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).expect("stored objects are valid JSON")
    }

    /// Parses the stored JSON into a typed object.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.json)
    }

    /// The value of an indexed field, or of metadata.name / metadata.namespace.
    pub fn field(&self, path: &str) -> Option<&str> {
        match path {
            "metadata.name" => Some(&self.name),
            "metadata.namespace" => Some(&self.namespace),
            _ => self
                .fields
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// A Pod's protobuf message ([`Obj::pb`]).
fn protobuf_of(rt: &ResourceType, v: &Value) -> Option<Bytes> {
    use super::protobuf::{Mode, encode, serves};
    if !rt.group.is_empty() {
        return None;
    }
    let api_version = rt.api_version();
    if !serves(&api_version, rt.kind) {
        return None;
    }
    match encode(&api_version, rt.kind, v, Mode::Lenient) {
        Ok(b) => Some(Bytes::from(b)),
        Err(e) => {
            tracing::warn!(kind = rt.kind, field = %e.0, "an object cannot be encoded in protobuf: served as JSON");
            None
        }
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches send it.
#[derive(Debug)]
pub struct WatchEvent {
    pub storage: Storage,
    pub kind: EventType,
    pub rv: u64,
    pub obj: Arc<Obj>,
    /// The object before this change (for MODIFIED), so selector watches can tell
    /// an object that stopped matching from one that changed.
    pub prev: Option<Arc<Obj>>,
}

struct Table {
    objects: BTreeMap<(String, String), Arc<Obj>>,
    history: VecDeque<Arc<WatchEvent>>,
    /// The newest resourceVersion dropped from history: watches from before it get 410.
    compacted: u64,
    tx: broadcast::Sender<Arc<WatchEvent>>,
}

struct Inner {
    rv: u64,
    tables: HashMap<Storage, Table>,
}

/// A list answer.
pub struct ListPage {
    pub items: Vec<Arc<Obj>>,
    pub rv: u64,
    /// The key to continue after, when the limit cut the list.
    pub continue_after: Option<(String, String)>,
    pub remaining: Option<u64>,
}

/// What a watch starts with: events it must replay, then the live channel.
pub struct Subscription {
    pub replay: Vec<Arc<WatchEvent>>,
    pub rx: broadcast::Receiver<Arc<WatchEvent>>,
    pub rv: u64,
}

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateScope {
    /// A client's update of the main resource: status is kept as stored.
    Main,
    /// A client's update of the status subresource: only status changes.
    Status,
    /// The simulated controllers: everything as given.
    Internal,
}

/// The sandbox's store. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Store {
    inner: Arc<RwLock<Inner>>,
    changes: broadcast::Sender<Arc<WatchEvent>>,
    uid_counter: Arc<AtomicU64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn has_generation(st: Storage) -> bool {
    matches!(
        st,
        Storage::Deployments
            | Storage::ReplicaSets
            | Storage::StatefulSets
            | Storage::DaemonSets
            | Storage::Hpas
            | Storage::Pdbs
            | Storage::Jobs
            | Storage::CronJobs
            | Storage::Pods
            | Storage::Crds
            | Storage::Custom(_)
    )
}

fn has_status(st: Storage) -> bool {
    match st {
        // A CRD's status is the server's own (recomputed on every write, see `crd::admit`).
        Storage::Crds => return false,
        Storage::Custom(_) => return super::crd::has_status_subresource(st),
        _ => {}
    }
    !matches!(
        st,
        Storage::ConfigMaps
            | Storage::Secrets
            | Storage::Events
            | Storage::ServiceAccounts
            | Storage::Leases
            | Storage::Roles
            | Storage::RoleBindings
    )
}

/// The current time as Kubernetes writes it (RFC 3339, seconds).
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn field_value(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Table {
    fn new() -> Table {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Table {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            tx,
        }
    }
}

impl Store {
    pub fn new() -> Self {
        let mut tables = HashMap::new();
        for st in Storage::TABLES {
            tables.insert(st, Table::new());
        }
        let (changes, _) = broadcast::channel(CHANNEL_CAPACITY);
        Store {
            inner: Arc::new(RwLock::new(Inner { rv: 1, tables })),
            changes,
            uid_counter: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The newest resourceVersion in the store.
    pub fn current_rv(&self) -> u64 {
        self.inner.read().rv
    }

    /// Every change in every table, for the simulated controllers.
    pub fn changes(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.changes.subscribe()
    }

    fn new_uid(&self) -> String {
        let n = self.uid_counter.fetch_add(1, Ordering::Relaxed);
        let r = fastrand::u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            (r & 0xfff) as u16,
            (n >> 48) as u16 & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }

    /// One object.
    pub fn get(&self, st: Storage, ns: &str, name: &str) -> Option<Arc<Obj>> {
        self.inner
            .read()
            .tables
            .get(&st)?
            .objects
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every table, the built-in ones and those of CustomResourceDefinitions, in order.
    pub fn tables(&self) -> Vec<Storage> {
        let mut out: Vec<Storage> = self.inner.read().tables.keys().copied().collect();
        out.sort();
        out
    }

    /// How many objects a table holds.
    pub fn count(&self, st: Storage) -> usize {
        self.inner
            .read()
            .tables
            .get(&st)
            .map_or(0, |t| t.objects.len())
    }

    /// Lists a table, optionally in one namespace, filtered, from after a key, up to a limit.
    pub fn list(
        &self,
        st: Storage,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        limit: Option<usize>,
        after: Option<(String, String)>,
    ) -> ListPage {
        use std::ops::Bound;
        let inner = self.inner.read();
        let table = &inner.tables[&st];
        let lower = match (&after, ns) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut continue_after = None;
        let remaining = None;
        let mut iter = table.objects.range((lower, Bound::Unbounded));
        for (key, obj) in iter.by_ref() {
            if let Some(ns) = ns
                && key.0 != ns
            {
                break;
            }
            if !labels.matches(&obj.labels) || !fields.matches(obj) {
                continue;
            }
            items.push(obj.clone());
            if let Some(limit) = limit
                && items.len() >= limit
            {
                continue_after = Some(key.clone());
                break;
            }
        }
        if continue_after.is_some() {
            // Only whether anything is left: counting the rest would make a paged list of
            // N objects cost N²/limit (remainingItemCount is optional in the API).
            let more = iter
                .take_while(|(k, _)| ns.is_none_or(|ns| k.0 == ns))
                .any(|(_, o)| labels.matches(&o.labels) && fields.matches(o));
            if !more {
                continue_after = None;
            }
        }
        ListPage {
            items,
            rv: inner.rv,
            continue_after,
            remaining,
        }
    }

    /// Every object of a table (for controllers), unfiltered.
    pub fn all(&self, st: Storage) -> Vec<Arc<Obj>> {
        self.inner.read().tables[&st]
            .objects
            .values()
            .cloned()
            .collect()
    }

    /// Starts a watch: the events after `from_rv` still in history, then the live channel.
    /// `None` starts from now. Fails with 410 Gone when history no longer reaches `from_rv`.
    pub fn subscribe(&self, st: Storage, from_rv: Option<u64>) -> Result<Subscription, ApiError> {
        let inner = self.inner.read();
        let table = &inner.tables[&st];
        let rx = table.tx.subscribe();
        let replay = match from_rv {
            None => Vec::new(),
            Some(rv) => {
                if rv < table.compacted {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {} ({})",
                        rv, table.compacted
                    )));
                }
                let start = table.history.partition_point(|e| e.rv <= rv);
                table.history.iter().skip(start).cloned().collect()
            }
        };
        Ok(Subscription {
            replay,
            rx,
            rv: inner.rv,
        })
    }

    /// Lists and subscribes in one step, so no change falls between the two.
    pub fn list_and_subscribe(
        &self,
        st: Storage,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> (Vec<Arc<Obj>>, Subscription) {
        let inner = self.inner.read();
        let table = &inner.tables[&st];
        let rx = table.tx.subscribe();
        let items = table
            .objects
            .values()
            .filter(|o| ns.is_none_or(|ns| o.namespace == ns))
            .filter(|o| labels.matches(&o.labels) && fields.matches(o))
            .cloned()
            .collect();
        (
            items,
            Subscription {
                replay: Vec::new(),
                rx,
                rv: inner.rv,
            },
        )
    }

    fn index(&self, rt: &ResourceType, v: &Value, rv: u64, json: Bytes) -> Result<Obj, ApiError> {
        let meta = v.get("metadata").cloned().unwrap_or(Value::Null);
        let labels = meta
            .get("labels")
            .and_then(|l| l.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let fields = rt
            .fields
            .iter()
            .filter_map(|f| field_value(v, f).map(|val| (*f, val)))
            .collect();
        Ok(Obj {
            json,
            namespace: get_str(&meta, &["namespace"]).unwrap_or("").to_string(),
            name: get_str(&meta, &["name"]).unwrap_or("").to_string(),
            uid: get_str(&meta, &["uid"]).unwrap_or("").to_string(),
            rv,
            labels,
            fields,
            pb: protobuf_of(rt, v),
        })
    }

    /// Writes a change and tells the watches; `dry` only builds what would be stored.
    fn commit(
        &self,
        inner: &mut Inner,
        st: Storage,
        kind: EventType,
        mut v: Value,
        dry: bool,
    ) -> Result<Arc<Obj>, ApiError> {
        let rt = st.storage_type();
        if let Some(o) = v.as_object_mut() {
            o.insert("apiVersion".into(), Value::String(rt.api_version()));
            o.insert("kind".into(), Value::String(rt.kind.to_string()));
        }
        if dry {
            // What the write would store, written nowhere: the resourceVersion stays the
            // stored one (none for a create), as the API server answers `dryRun=All`.
            let rv = match kind {
                EventType::Added => {
                    if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                        meta.remove("resourceVersion");
                    }
                    0
                }
                _ => get_str(&v, &["metadata", "resourceVersion"])
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0),
            };
            let json = Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?);
            return Ok(Arc::new(self.index(rt, &v, rv, json)?));
        }
        inner.rv += 1;
        let rv = inner.rv;
        if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let json = Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?);
        let obj = Arc::new(self.index(rt, &v, rv, json)?);
        let table = inner.tables.get_mut(&st).expect("table");
        let key = (obj.namespace.clone(), obj.name.clone());
        let prev = match kind {
            EventType::Modified => table.objects.get(&key).cloned(),
            _ => None,
        };
        match kind {
            EventType::Deleted => {
                table.objects.remove(&key);
            }
            _ => {
                table.objects.insert(key, obj.clone());
            }
        }
        let event = Arc::new(WatchEvent {
            storage: st,
            kind,
            rv,
            obj: obj.clone(),
            prev,
        });
        table.history.push_back(event.clone());
        while table.history.len() > HISTORY_PER_TABLE {
            if let Some(old) = table.history.pop_front() {
                table.compacted = old.rv;
            }
        }
        let _ = table.tx.send(event.clone());
        let _ = self.changes.send(event);
        if st == Storage::Crds {
            self.crd_committed(inner, kind, &obj);
        }
        Ok(obj)
    }

    /// A stored CRD's resource is served from its own table; a deleted one's objects are
    /// deleted (watchers see each go) and its watches end.
    fn crd_committed(&self, inner: &mut Inner, kind: EventType, crd: &Obj) {
        if kind != EventType::Deleted {
            if let Some(st) = super::crd::register(&crd.uid, &crd.value()) {
                inner.tables.entry(st).or_insert_with(Table::new);
            }
            return;
        }
        let Some(st) = super::crd::unregister(&crd.uid) else {
            return;
        };
        let objects: Vec<Arc<Obj>> = inner
            .tables
            .get(&st)
            .map(|t| t.objects.values().cloned().collect())
            .unwrap_or_default();
        for o in objects {
            let _ = self.commit(inner, st, EventType::Deleted, o.value(), false);
        }
        if let Some(t) = inner.tables.get_mut(&st) {
            // A new channel: the old one's receivers see it closed.
            t.tx = broadcast::channel(CHANNEL_CAPACITY).0;
        }
    }

    /// Creates an object: fills uid, creationTimestamp, generation, a name from generateName.
    pub fn create(&self, st: Storage, ns: &str, v: Value) -> Result<Arc<Obj>, ApiError> {
        self.create_with(st, ns, v, false)
    }

    /// [`Store::create`], or with `dry` every check and default of it without storing.
    pub fn create_with(
        &self,
        st: Storage,
        ns: &str,
        mut v: Value,
        dry: bool,
    ) -> Result<Arc<Obj>, ApiError> {
        let rt = st.storage_type();
        if !v.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        super::defaults::before_create(self, st, ns, &mut v);
        let meta = v
            .as_object_mut()
            .expect("object")
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(meta) = meta.as_object_mut() else {
            return Err(ApiError::bad_request("metadata must be an object"));
        };
        if rt.namespaced {
            match meta.get("namespace").and_then(|n| n.as_str()) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::bad_request(format!(
                        "the namespace of the provided object ({given}) does not match the namespace sent on the request ({ns})"
                    )));
                }
                _ => {
                    meta.insert("namespace".into(), Value::String(ns.to_string()));
                }
            }
        } else {
            meta.remove("namespace");
        }
        let mut name = meta
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        let mut inner = self.inner.write();
        if name.is_empty() {
            let Some(prefix) = meta.get("generateName").and_then(|n| n.as_str()) else {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            };
            let table = &inner.tables[&st];
            loop {
                let candidate = format!("{prefix}{}", random_suffix());
                if !table
                    .objects
                    .contains_key(&(ns.to_string(), candidate.clone()))
                {
                    name = candidate;
                    break;
                }
            }
            meta.insert("name".into(), Value::String(name.clone()));
        }
        validate_name(rt, &name)?;
        if !super::crd::is_live(st) {
            // Its CRD was deleted since the request found the resource.
            return Err(ApiError::not_found(rt, &name));
        }
        let key_ns = if rt.namespaced { ns } else { "" };
        if rt.namespaced && st != Storage::Events {
            let ns_exists = inner.tables[&Storage::Namespaces]
                .objects
                .contains_key(&(String::new(), ns.to_string()));
            if !ns_exists {
                return Err(ApiError::not_found_in_ns(
                    Storage::Namespaces.storage_type(),
                    ns,
                ));
            }
        }
        if inner.tables[&st]
            .objects
            .contains_key(&(key_ns.to_string(), name.clone()))
        {
            return Err(ApiError::already_exists(rt, &name));
        }
        meta.insert("uid".into(), Value::String(self.new_uid()));
        meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
        if has_generation(st) {
            meta.insert("generation".into(), json!(1));
        }
        meta.remove("deletionTimestamp");
        if st == Storage::Namespaces && v.get("status").is_none() {
            v["status"] = json!({"phase": "Active"});
        }
        self.commit(&mut inner, st, EventType::Added, v, dry)
    }

    /// Replaces an object. A resourceVersion in the body must match the stored one (409).
    pub fn update(
        &self,
        st: Storage,
        ns: &str,
        name: &str,
        v: Value,
        scope: UpdateScope,
    ) -> Result<Arc<Obj>, ApiError> {
        self.update_with(st, ns, name, v, scope, false)
    }

    /// [`Store::update`], or with `dry` every check of it without storing.
    pub fn update_with(
        &self,
        st: Storage,
        ns: &str,
        name: &str,
        mut v: Value,
        scope: UpdateScope,
        dry: bool,
    ) -> Result<Arc<Obj>, ApiError> {
        let rt = st.storage_type();
        let key_ns = if rt.namespaced { ns } else { "" };
        let mut inner = self.inner.write();
        let Some(old) = inner.tables[&st]
            .objects
            .get(&(key_ns.to_string(), name.to_string()))
            .cloned()
        else {
            return Err(ApiError::not_found(rt, name));
        };
        if !v.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        let given_name = get_str(&v, &["metadata", "name"]).unwrap_or(name);
        if given_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(given) = get_str(&v, &["metadata", "resourceVersion"])
            && !given.is_empty()
            && given != old.rv.to_string()
        {
            return Err(ApiError::conflict(
                rt,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let oldv = old.value();
        match scope {
            UpdateScope::Main if has_status(st) => match oldv.get("status") {
                Some(s) => v["status"] = s.clone(),
                None => {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("status");
                    }
                }
            },
            UpdateScope::Status => {
                let status = v.get("status").cloned();
                let mut merged = oldv.clone();
                match status {
                    Some(s) => merged["status"] = s,
                    None => {
                        if let Some(o) = merged.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
                if let Some(m) = v.get("metadata").cloned() {
                    for k in ["labels", "annotations"] {
                        if let Some(x) = m.get(k) {
                            merged["metadata"][k] = x.clone();
                        }
                    }
                }
                v = merged;
            }
            _ => {}
        }
        // Identity and bookkeeping fields stay as stored.
        for k in ["uid", "creationTimestamp", "namespace", "name"] {
            match oldv["metadata"].get(k) {
                Some(x) => v["metadata"][k] = x.clone(),
                None => {
                    if let Some(m) = v["metadata"].as_object_mut() {
                        m.remove(k);
                    }
                }
            }
        }
        if scope != UpdateScope::Internal {
            match oldv["metadata"].get("deletionTimestamp") {
                Some(x) => v["metadata"]["deletionTimestamp"] = x.clone(),
                None => {
                    if let Some(m) = v["metadata"].as_object_mut() {
                        m.remove("deletionTimestamp");
                    }
                }
            }
        }
        if has_generation(st) {
            let old_gen = oldv["metadata"]["generation"].as_i64().unwrap_or(1);
            let spec_changed = oldv.get("spec") != v.get("spec");
            let new_gen = if spec_changed && scope != UpdateScope::Status {
                old_gen + 1
            } else {
                old_gen
            };
            v["metadata"]["generation"] = json!(new_gen);
        }
        if v == oldv_with_rv_stripped(&oldv, &v) {
            return Ok(old);
        }
        if dry {
            v["metadata"]["resourceVersion"] = json!(old.rv.to_string());
        }
        self.commit(&mut inner, st, EventType::Modified, v, dry)
    }

    /// Read-modify-write of one object under the store's lock, for the simulated controllers.
    /// The closure returns whether it changed anything; unchanged objects are not written.
    pub fn mutate(
        &self,
        st: Storage,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value) -> bool,
    ) -> Result<Option<Arc<Obj>>, ApiError> {
        let rt = st.storage_type();
        let key_ns = if rt.namespaced { ns } else { "" };
        let mut inner = self.inner.write();
        let Some(old) = inner.tables[&st]
            .objects
            .get(&(key_ns.to_string(), name.to_string()))
            .cloned()
        else {
            return Err(ApiError::not_found(rt, name));
        };
        let mut v = old.value();
        let old_spec = v.get("spec").cloned();
        if !f(&mut v) {
            return Ok(None);
        }
        if has_generation(st) && v.get("spec") != old_spec.as_ref() {
            let g = v["metadata"]["generation"].as_i64().unwrap_or(1);
            v["metadata"]["generation"] = json!(g + 1);
        }
        self.commit(&mut inner, st, EventType::Modified, v, false)
            .map(Some)
    }

    /// Removes an object at once. `uid`, when given, must match (a precondition).
    pub fn delete(
        &self,
        st: Storage,
        ns: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Arc<Obj>, ApiError> {
        let rt = st.storage_type();
        let key_ns = if rt.namespaced { ns } else { "" };
        let mut inner = self.inner.write();
        let Some(old) = inner.tables[&st]
            .objects
            .get(&(key_ns.to_string(), name.to_string()))
            .cloned()
        else {
            return Err(ApiError::not_found(rt, name));
        };
        if let Some(uid) = uid
            && uid != old.uid
        {
            return Err(ApiError::conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old.uid
                ),
            ));
        }
        let v = old.value();
        self.commit(&mut inner, st, EventType::Deleted, v, false)
    }
}

/// The old object as it would compare to the new one (resourceVersion aside).
fn oldv_with_rv_stripped(oldv: &Value, newv: &Value) -> Value {
    let mut o = oldv.clone();
    o["metadata"]["resourceVersion"] = newv["metadata"]
        .get("resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    if newv["metadata"].get("resourceVersion").is_none()
        && let Some(m) = o["metadata"].as_object_mut()
    {
        m.remove("resourceVersion");
    }
    o
}

/// Five characters as Kubernetes uses for generated names (no vowels, no 0/1/3).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// Checks a name as a DNS subdomain (RFC 1123), as the API server does for most resources.
fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            rt,
            name,
            &format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        ))
    }
}
