//! The HTTP face of the sandbox: discovery, CRUD, watch, patch, the scale, eviction, status
//! and log subresources, and metrics.k8s.io — answered as a kube-apiserver would.

use super::error::ApiError;
use super::faults::Faults;
use super::patch::{self, PatchType};
use super::resources::{self, RESOURCES, ResourceType, Storage};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{EventType, Obj, Store, UpdateScope, WatchEvent, now_rfc3339};
use super::table::{self, TableOpts};
use super::{apply, convert, defaults, logs, metrics, protobuf};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The largest request body taken, as the API server caps it (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// The Kubernetes version the sandbox reports.
pub const KUBE_MINOR: &str = "33";

/// What every request handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub faults: Arc<Faults>,
    pub load: metrics::LoadModel,
    /// What each pod's metrics are computed from, kept between metrics requests.
    pub pod_shapes: metrics::PodShapes,
    /// How often idle watches get a BOOKMARK when they asked for bookmarks.
    pub bookmark_every: Duration,
}

/// The router serving the whole API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/charts/index.yaml",
            axum::routing::get(super::charts::index),
        )
        .route("/charts/{file}", axum::routing::get(super::charts::archive))
        .route("/metrics", axum::routing::get(super::traffic::metrics))
        .route(
            "/charts/{chart}/{file}",
            axum::routing::get(super::charts::version),
        )
        .fallback(handle)
        .with_state(state)
}

fn json_response(code: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A 200 with the given content type.
fn response_as(content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// What a read's client asked the answer to be: the server's Table, or (for the kinds the
/// sandbox encodes, Pods and Secrets) protobuf, else JSON.
#[derive(Clone, Copy)]
struct Wants {
    table: Option<TableOpts>,
    protobuf: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, self.status().to_string())
    }
}

fn ok_json(v: &Value) -> Response {
    json_response(StatusCode::OK, v.to_string())
}

type Query = HashMap<String, String>;

/// Where the request's User-Agent, as a field manager name, is kept among the query's
/// parameters (a name no client sends).
const UA_MANAGER: &str = "\u{0}user-agent-manager";

/// The field manager of a request without `fieldManager`: its User-Agent up to the first
/// `/`, at most 128 characters, as the API server names it.
fn manager_from_user_agent(ua: &str) -> String {
    let name = ua.split('/').next().unwrap_or("").trim();
    name.chars().filter(|c| !c.is_control()).take(128).collect()
}

/// Who a write is recorded against.
fn writer(rt: &ResourceType, q: &Query) -> apply::Writer {
    let manager = q
        .get("fieldManager")
        .or_else(|| q.get(UA_MANAGER))
        .filter(|m| !m.is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    apply::Writer {
        manager,
        api_version: rt.api_version(),
    }
}

/// The stored object as JSON.
fn value_of(obj: &Obj) -> Result<Value, ApiError> {
    serde_json::from_slice(&obj.json).map_err(ApiError::internal)
}

fn parse_query(uri: &Uri) -> Query {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn flag(q: &Query, k: &str) -> bool {
    matches!(q.get(k).map(|s| s.as_str()), Some("true" | "1"))
}

async fn handle(
    State(s): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let mut q = parse_query(&uri);
    if let Some(ua) = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        q.insert(UA_MANAGER.into(), manager_from_user_agent(ua));
    }
    let is_api = path.starts_with("/api");
    if is_api && let Some(err) = s.faults.before_request().await {
        return err.into_response();
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::too_large(MAX_BODY).into_response(),
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::debug!(%method, %uri, "request");
    match route(&s, &method, &path, &q, &ct, accept, body).await {
        Ok(r) => r,
        Err(e) => {
            if e.code >= 500 {
                tracing::warn!(%method, %uri, error = %e, "request failed");
            }
            e.into_response()
        }
    }
}

async fn route(
    s: &ApiState,
    method: &Method,
    path: &str,
    q: &Query,
    ct: &str,
    accept: &str,
    body: Bytes,
) -> Result<Response, ApiError> {
    let wants = Wants {
        table: table::wanted(accept, q),
        protobuf: protobuf::preferred(accept),
    };
    let segs: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Ok(ok_json(&json!({
            "major": "1", "minor": KUBE_MINOR,
            "gitVersion": format!("v1.{KUBE_MINOR}.0-helmdeck-sandbox"),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64",
            "emulationMajor": "1", "emulationMinor": KUBE_MINOR,
            "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
        }))),
        ["healthz"] | ["livez"] | ["readyz"] => Ok((StatusCode::OK, "ok").into_response()),
        ["api"] => Ok(ok_json(&json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        }))),
        ["apis"] => Ok(ok_json(&group_list(&s.store))),
        ["api", "v1"] => Ok(ok_json(&resource_list("", "v1"))),
        ["apis", g] => {
            let groups = all_groups(&s.store);
            let Some((g, versions)) = groups.iter().find(|(name, _)| name == g) else {
                return Err(ApiError::no_route(path));
            };
            let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
            Ok(ok_json(&api_group(g, &versions)))
        }
        ["apis", g, v] => {
            let mut list = resource_list(g, v);
            let custom = super::crd::resource_entries(&s.store, g, v);
            if !RESOURCES.iter().any(|r| r.group == *g && r.version == *v) && custom.is_empty() {
                return Err(ApiError::no_route(path));
            }
            if let Some(rs) = list["resources"].as_array_mut() {
                rs.extend(custom);
            }
            Ok(ok_json(&list))
        }
        ["openapi", "v2"] => Ok(super::openapi::v2(accept)),
        ["openapi", "v3"] => Ok(ok_json(&super::openapi::index_with(
            &super::crd::served_types(&s.store),
        ))),
        ["openapi", "v3", gv @ ..] => {
            super::openapi::group_version_with(&gv.join("/"), &super::crd::served_types(&s.store))
                .map(|doc| ok_json(&doc))
                .ok_or_else(|| ApiError::no_route(path))
        }
        ["api", "v1", rest @ ..] => {
            resource(s, method, "", "v1", rest, q, ct, body, path, wants).await
        }
        ["apis", g, v, rest @ ..] => {
            resource(s, method, g, v, rest, q, ct, body, path, wants).await
        }
        _ => Err(ApiError::no_route(path)),
    }
}

/// The built-in groups, then those CustomResourceDefinitions add.
fn all_groups(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = resources::groups()
        .into_iter()
        .map(|(g, vs)| (g.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect();
    for (g, vs) in super::crd::groups(store) {
        if !out.iter().any(|(name, _)| *name == g) {
            out.push((g, vs));
        }
    }
    out
}

fn group_list(store: &Store) -> Value {
    let groups: Vec<Value> = all_groups(store)
        .iter()
        .map(|(g, versions)| {
            let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
            api_group(g, &versions)
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// A resource served under `g`/`v`: a built-in one, or one a CustomResourceDefinition defines.
fn find_type(s: &ApiState, g: &str, v: &str, plural: &str) -> Option<&'static ResourceType> {
    ResourceType::find(g, v, plural).or_else(|| super::crd::find(&s.store, g, v, plural))
}

fn api_group(g: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": g,
        "versions": vs, "preferredVersion": vs[0],
    })
}

fn resource_list(g: &str, v: &str) -> Value {
    let mut out = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == g && r.version == v) {
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
        for sub in r.subresources {
            let (kind, group, version, verbs): (&str, &str, &str, &[&str]) = match *sub {
                "scale" => ("Scale", "autoscaling", "v1", &["get", "patch", "update"]),
                "eviction" => ("Eviction", "policy", "v1", &["create"]),
                "log" => ("Pod", "", "v1", &["get"]),
                _ => (r.kind, r.group, r.version, &["get", "patch", "update"]),
            };
            let mut e = json!({
                "name": format!("{}/{}", r.plural, sub), "singularName": "",
                "namespaced": r.namespaced, "kind": kind, "verbs": verbs,
            });
            if *sub == "scale" || *sub == "eviction" {
                e["group"] = json!(group);
                e["version"] = json!(version);
            }
            out.push(e);
        }
    }
    let gv = if g.is_empty() {
        v.to_string()
    } else {
        format!("{g}/{v}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out})
}

/// Parses a request body: JSON, or YAML as the API server also takes.
fn parse_body(ct: &str, body: &[u8]) -> Result<Value, ApiError> {
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        }),
        super::protobuf::CONTENT_TYPE => super::protobuf::decode(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the YAML body is not UTF-8"))?;
            crate::core::yaml::from_str(text).map_err(|e| {
                ApiError::bad_request(format!("the YAML body could not be decoded: {e}"))
            })
        }
        _ => Err(ApiError::unsupported_media_type(ct)),
    }
}

#[allow(clippy::too_many_arguments)]
async fn resource(
    s: &ApiState,
    method: &Method,
    g: &str,
    v: &str,
    segs: &[&str],
    q: &Query,
    ct: &str,
    body: Bytes,
    path: &str,
    wants: Wants,
) -> Result<Response, ApiError> {
    // /namespaces/NS/<plural>/... or /<plural>/...
    let (ns, rest): (Option<&str>, &[&str]) = if segs.len() >= 3
        && segs[0] == "namespaces"
        && find_type(s, g, v, segs[2]).is_some_and(|r| r.namespaced)
    {
        (Some(segs[1]), &segs[2..])
    } else {
        (None, segs)
    };
    if rest.is_empty() || rest.len() > 3 {
        return Err(ApiError::no_route(path));
    }
    let Some(rt) = find_type(s, g, v, rest[0]) else {
        return Err(ApiError::no_route(path));
    };
    let name = rest.get(1).copied();
    let sub = rest.get(2).copied();
    if (!rt.namespaced && ns.is_some()) || (rt.namespaced && ns.is_none() && name.is_some()) {
        return Err(ApiError::no_route(path));
    }
    if let Some(sub) = sub
        && !rt.subresources.contains(&sub)
    {
        return Err(ApiError::no_route(path));
    }
    if rt.is_virtual() {
        if method != Method::GET {
            return Err(ApiError::method_not_allowed(format!(
                "{} is read-only",
                rt.plural
            )));
        }
        // Computing usage reads every pod: off the async workers, so watches keep flowing.
        let (s, ns, name) = (s.clone(), ns.map(String::from), name.map(String::from));
        return tokio::task::spawn_blocking(move || {
            metrics::serve(&s, rt, ns.as_deref(), name.as_deref())
        })
        .await
        .map_err(ApiError::internal)?
        .map(|body| json_response(StatusCode::OK, body));
    }
    let ns_key = ns.unwrap_or("");
    match (method.clone(), name, sub) {
        (Method::GET, None, None) => {
            if flag(q, "watch") {
                watch(s, rt, ns, q, wants)
            } else {
                list(s, rt, ns, q, wants)
            }
        }
        (Method::GET, Some(n), None | Some("status")) => {
            let obj = s
                .store
                .get(rt.storage, ns_key, n)
                .ok_or_else(|| ApiError::not_found(rt, n))?;
            if let Some(t) = wants.table {
                let meta = json!({"resourceVersion": obj.rv.to_string()});
                return Ok(ok_json(&table::table(rt, &[obj], meta, t)));
            }
            if wants.protobuf
                && let Some(pb) = &obj.pb
            {
                let body = protobuf::envelope(&rt.api_version(), rt.kind, pb);
                return Ok(response_as(protobuf::CONTENT_TYPE, body));
            }
            Ok(json_response(StatusCode::OK, convert::out(rt, &obj)))
        }
        (Method::GET, Some(n), Some("scale")) => {
            let obj = s
                .store
                .get(rt.storage, ns_key, n)
                .ok_or_else(|| ApiError::not_found(rt, n))?;
            Ok(ok_json(&scale_of(&obj.value())))
        }
        (Method::GET, Some(n), Some("log")) => logs::serve(s, ns_key, n, q).await,
        (Method::POST, None, None) => {
            let v = object_to_create(
                &s.store,
                rt,
                ns_key,
                ct,
                &body,
                strict_fields(q),
                &writer(rt, q),
            )?;
            let obj = s
                .store
                .create_with(rt.storage, ns_key, v, flag_dry_run(q))?;
            Ok(json_response(StatusCode::CREATED, convert::out(rt, &obj)))
        }
        (Method::POST, Some(n), Some("eviction")) => evict(s, ns_key, n),
        (Method::PUT, Some(n), None | Some("status")) => {
            let scope = if sub == Some("status") {
                UpdateScope::Status
            } else {
                UpdateScope::Main
            };
            let v = object_to_update(
                &s.store,
                rt,
                ns_key,
                n,
                scope,
                ct,
                &body,
                strict_fields(q),
                &writer(rt, q),
            )?;
            let obj = s
                .store
                .update_with(rt.storage, ns_key, n, v, scope, flag_dry_run(q))?;
            Ok(json_response(StatusCode::OK, convert::out(rt, &obj)))
        }
        (Method::PATCH, Some(n), None | Some("status"))
            if PatchType::from_content_type(ct) == Ok(PatchType::Apply) =>
        {
            server_side_apply(s, rt, ns_key, n, sub, q, &body)
        }
        (Method::PATCH, Some(n), None | Some("status")) => {
            let scope = if sub == Some("status") {
                UpdateScope::Status
            } else {
                UpdateScope::Main
            };
            let curv = object_to_patch(
                &s.store,
                rt,
                ns_key,
                n,
                scope,
                ct,
                &body,
                strict_fields(q),
                &writer(rt, q),
            )?;
            let obj = s
                .store
                .update_with(rt.storage, ns_key, n, curv, scope, flag_dry_run(q))?;
            Ok(json_response(StatusCode::OK, convert::out(rt, &obj)))
        }
        (Method::PUT | Method::PATCH, Some(n), Some("scale")) => {
            let cur = s
                .store
                .get(rt.storage, ns_key, n)
                .ok_or_else(|| ApiError::not_found(rt, n))?;
            let scale = scale_of(&cur.value());
            let new_scale = if *method == Method::PUT {
                parse_body(ct, &body)?
            } else {
                patch::apply(&scale, &body, PatchType::from_content_type(ct)?)?
            };
            if let Some(rv) = new_scale["metadata"]["resourceVersion"].as_str()
                && !rv.is_empty()
                && rv != cur.rv.to_string()
            {
                return Err(ApiError::conflict(
                    rt,
                    n,
                    "the object has been modified; please apply your changes to the latest version and try again",
                ));
            }
            let Some(replicas) = new_scale["spec"]["replicas"].as_i64() else {
                return Err(ApiError::invalid(rt, n, "spec.replicas: Required value"));
            };
            if replicas < 0 {
                return Err(ApiError::invalid(
                    rt,
                    n,
                    &format!(
                        "spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
                    ),
                ));
            }
            if flag_dry_run(q) {
                let mut would = cur.value();
                would["spec"]["replicas"] = json!(replicas);
                return Ok(ok_json(&scale_of(&would)));
            }
            let who = writer(rt, q);
            let obj = s
                .store
                .mutate(rt.storage, ns_key, n, |v| {
                    if v["spec"]["replicas"].as_i64() == Some(replicas) {
                        return false;
                    }
                    let old = v.clone();
                    v["spec"]["replicas"] = json!(replicas);
                    apply::record_subresource_update(&old, v, &who, "scale");
                    true
                })?
                .unwrap_or(cur);
            Ok(ok_json(&scale_of(&obj.value())))
        }
        (Method::DELETE, Some(n), None) => delete(s, rt, ns_key, n, q, ct, &body),
        (Method::DELETE, None, None) => {
            let labels = LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))?;
            let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s), rt)?;
            let page = s.store.list(rt.storage, ns, &labels, &fields, None, None);
            let mut items = Vec::new();
            for obj in page.items {
                if let Ok(v) = delete_one(s, rt, &obj.namespace, &obj.name, q, &Value::Null) {
                    items.push(v);
                }
            }
            Ok(ok_json(&json!({
                "kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": s.store.current_rv().to_string()}, "items": items,
            })))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {path})"
        ))),
    }
}

/// Server-side apply: `PATCH` with `application/apply-patch+yaml`, creating the object when
/// it does not exist (see [`apply`] for the ownership rules).
fn server_side_apply(
    s: &ApiState,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    q: &Query,
    body: &[u8],
) -> Result<Response, ApiError> {
    let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    };
    let who = apply::Writer {
        manager: manager.clone(),
        api_version: rt.api_version(),
    };
    let force = flag(q, "force");
    let status_only = sub == Some("status");
    let config = applied_configuration(rt, name, status_only, body)?;
    // Another write between the read and the update answers 409 on the resourceVersion:
    // read again and re-apply, as the API server retries.
    for _ in 0..5 {
        let cur = s.store.get(rt.storage, ns, name);
        let merged = object_to_apply(
            &s.store,
            rt,
            ns,
            name,
            cur.as_deref(),
            &config,
            &who,
            force,
            strict_fields(q),
        )?;
        let dry = flag_dry_run(q);
        if cur.is_none() {
            if status_only {
                return Err(ApiError::not_found(rt, name));
            }
            let obj = s.store.create_with(rt.storage, ns, merged, dry)?;
            return Ok(json_response(StatusCode::CREATED, convert::out(rt, &obj)));
        }
        let scope = if status_only {
            UpdateScope::Status
        } else {
            UpdateScope::Main
        };
        match s
            .store
            .update_with(rt.storage, ns, name, merged, scope, dry)
        {
            Err(e) if e.code == 409 && config["metadata"].get("resourceVersion").is_none() => {
                continue;
            }
            r => return r.map(|obj| json_response(StatusCode::OK, convert::out(rt, &obj))),
        }
    }
    Err(ApiError::conflict(
        rt,
        name,
        "the object kept changing while it was applied; try again",
    ))
}

// The steps a request's body goes through before the store takes it, one function per kind
// of write. The handler calls them; so do the fuzz targets (`benches/fuzz.rs`), which is why
// they are public and take no HTTP types.

/// A create (`POST`): the body decoded (JSON, YAML or protobuf by `ct`), its kind checked,
/// brought to the stored version, admitted (defaults, allocations), validated (`strict`:
/// unknown fields refused) and its managed fields recorded for `who`.
pub fn object_to_create(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    ct: &str,
    body: &[u8],
    strict: bool,
    who: &apply::Writer,
) -> Result<Value, ApiError> {
    let mut v = parse_body(ct, body)?;
    check_kind(rt, &v)?;
    convert::into_storage(rt, &mut v);
    defaults::admit_create(store, rt.storage, ns, &mut v)?;
    validate(rt, &v, strict)?;
    apply::record_update(None, &mut v, who);
    Ok(v)
}

/// A replace (`PUT`) of `name`: as [`object_to_create`], admitted against the stored object,
/// and for the main resource its managed fields recorded against the stored ones.
#[allow(clippy::too_many_arguments)]
pub fn object_to_update(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    scope: UpdateScope,
    ct: &str,
    body: &[u8],
    strict: bool,
    who: &apply::Writer,
) -> Result<Value, ApiError> {
    let mut v = parse_body(ct, body)?;
    check_kind(rt, &v)?;
    convert::into_storage(rt, &mut v);
    defaults::admit_update(store, rt.storage, ns, name, &mut v)?;
    validate(rt, &v, strict)?;
    if scope == UpdateScope::Main
        && let Some(cur) = store.get(rt.storage, ns, name)
    {
        apply::record_update(Some(&value_of(&cur)?), &mut v, who);
    }
    Ok(v)
}

/// A patch (`PATCH`, merge, JSON or strategic by `ct`) of the stored `name`: the patched
/// object, admitted, validated and with its managed fields recorded.
#[allow(clippy::too_many_arguments)]
pub fn object_to_patch(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    scope: UpdateScope,
    ct: &str,
    body: &[u8],
    strict: bool,
    who: &apply::Writer,
) -> Result<Value, ApiError> {
    let kind = PatchType::from_content_type(ct)?;
    let cur = store
        .get(rt.storage, ns, name)
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    let mut curv: Value =
        serde_json::from_slice(&convert::out(rt, &cur)).map_err(ApiError::internal)?;
    // A patch that names no resourceVersion applies to the version read here.
    // A resourceVersion left in the patched object is checked against the stored
    // one by the update (409 if it moved).
    let stored = value_of(&cur)?;
    curv = patch::apply(&curv, body, kind)?;
    convert::into_storage(rt, &mut curv);
    defaults::admit_update(store, rt.storage, ns, name, &mut curv)?;
    validate(rt, &curv, strict)?;
    if scope == UpdateScope::Main {
        apply::record_update(Some(&stored), &mut curv, who);
    }
    Ok(curv)
}

/// The configuration of a server-side apply of `name`: the YAML (or JSON) body decoded, its
/// kind, apiVersion and name checked, brought to the stored version, its status dropped
/// unless the status subresource is applied.
pub fn applied_configuration(
    rt: &ResourceType,
    name: &str,
    status_only: bool,
    body: &[u8],
) -> Result<Value, ApiError> {
    let mut config = parse_body("application/yaml", body)?;
    check_kind(rt, &config)?;
    for k in ["apiVersion", "kind"] {
        if config
            .get(k)
            .and_then(|v| v.as_str())
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "{k} must be set in an applied configuration"
            )));
        }
    }
    // `metadata: [..]` or `metadata: x` cannot be an ObjectMeta (the API server answers 400
    // too); indexing into it below would panic.
    if !config["metadata"].is_object() && !config["metadata"].is_null() {
        return Err(ApiError::bad_request(
            "metadata of an applied configuration must be an object",
        ));
    }
    match config["metadata"]["name"].as_str() {
        Some(given) if given != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        _ => config["metadata"]["name"] = json!(name),
    }
    convert::into_storage(rt, &mut config);
    if !status_only && let Some(o) = config.as_object_mut() {
        o.remove("status");
    }
    Ok(config)
}

/// A server-side apply of `config` (from [`applied_configuration`]) by `who` over `cur`
/// (`None`: the object does not exist yet): the merged object with its managed fields,
/// admitted and validated, holding the stored resourceVersion unless the configuration
/// names one; 409 on conflicts unless `force`.
#[allow(clippy::too_many_arguments)]
pub fn object_to_apply(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    cur: Option<&Obj>,
    config: &Value,
    who: &apply::Writer,
    force: bool,
    strict: bool,
) -> Result<Value, ApiError> {
    let live = cur.map(value_of).transpose()?;
    let mut merged = apply::apply(live.as_ref(), config, who, force)?;
    match cur {
        None => defaults::admit_create(store, rt.storage, ns, &mut merged)?,
        Some(_) => defaults::admit_update(store, rt.storage, ns, name, &mut merged)?,
    }
    validate(rt, &merged, strict)?;
    if let Some(cur) = cur
        && config["metadata"].get("resourceVersion").is_none()
    {
        merged["metadata"]["resourceVersion"] = json!(cur.rv.to_string());
    }
    Ok(merged)
}

fn strict_fields(q: &Query) -> bool {
    q.get("fieldValidation").is_some_and(|f| f == "Strict")
}

fn flag_dry_run(q: &Query) -> bool {
    q.get("dryRun").is_some_and(|d| d == "All")
}

fn check_kind(rt: &ResourceType, v: &Value) -> Result<(), ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    if let Some(kind) = v.get("kind").and_then(|k| k.as_str())
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the body ({kind}) does not match the resource ({})",
            rt.kind
        )));
    }
    Ok(())
}

/// Checks the object decodes as its Kubernetes type and holds what that type requires.
/// `strict` (`?fieldValidation=Strict`, as kubectl sends) also refuses fields the type lacks.
fn validate(rt: &ResourceType, v: &Value, strict: bool) -> Result<(), ApiError> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
    fn decode<T: serde::de::DeserializeOwned + serde::Serialize>(
        rt: &ResourceType,
        v: &Value,
        strict: bool,
    ) -> Result<T, ApiError> {
        let t = T::deserialize(v).map_err(|e| {
            ApiError::bad_request(format!("the {} could not be decoded: {e}", rt.kind))
        })?;
        if strict {
            let known = serde_json::to_value(&t).map_err(ApiError::internal)?;
            let mut unknown = Vec::new();
            unknown_fields(v, &known, "", &mut unknown);
            if !unknown.is_empty() {
                let fields: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
                    rt.version,
                    fields.join(", "),
                    kind = rt.kind,
                )));
            }
        }
        Ok(t)
    }
    let name = v["metadata"]["name"].as_str().unwrap_or("");
    let replicas_ok = |r: Option<i32>| -> Result<(), ApiError> {
        match r {
            Some(r) if r < 0 => Err(ApiError::invalid(
                rt,
                name,
                &format!("spec.replicas: Invalid value: {r}: must be greater than or equal to 0"),
            )),
            _ => Ok(()),
        }
    };
    match rt.storage {
        Storage::Pods => {
            let p: core::Pod = decode(rt, v, strict)?;
            if p.spec.as_ref().is_none_or(|s| s.containers.is_empty()) {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    "spec.containers: Required value",
                ));
            }
        }
        Storage::Deployments => {
            let d: apps::Deployment = decode(rt, v, strict)?;
            let spec = d
                .spec
                .ok_or_else(|| ApiError::invalid(rt, name, "spec: Required value"))?;
            replicas_ok(spec.replicas)?;
            let sel = LabelSelector::from_json(&v["spec"]["selector"]);
            let labels = spec
                .template
                .metadata
                .and_then(|m| m.labels)
                .unwrap_or_default();
            if sel.is_empty() || !sel.matches(&labels) {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`",
                ));
            }
        }
        Storage::StatefulSets => {
            let d: apps::StatefulSet = decode(rt, v, strict)?;
            replicas_ok(d.spec.and_then(|s| s.replicas))?;
        }
        Storage::ReplicaSets => {
            let d: apps::ReplicaSet = decode(rt, v, strict)?;
            replicas_ok(d.spec.and_then(|s| s.replicas))?;
        }
        Storage::DaemonSets => {
            decode::<apps::DaemonSet>(rt, v, strict)?;
        }
        Storage::Nodes => {
            decode::<core::Node>(rt, v, strict)?;
        }
        Storage::Secrets => {
            decode::<core::Secret>(rt, v, strict)?;
        }
        Storage::ConfigMaps => {
            decode::<core::ConfigMap>(rt, v, strict)?;
        }
        Storage::Hpas => {
            let h: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
                decode(rt, v, strict)?;
            if let Some(spec) = h.spec
                && spec.min_replicas.unwrap_or(1) > spec.max_replicas
            {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    "spec.maxReplicas: Invalid value: must be greater than or equal to `minReplicas`",
                ));
            }
        }
        Storage::Leases => {
            decode::<k8s_openapi::api::coordination::v1::Lease>(rt, v, strict)?;
        }
        Storage::Crds => super::crd::validate(rt, v)?,
        _ => {}
    }
    Ok(())
}

/// The paths of fields in `given` that its typed round trip `known` lost: the fields its
/// type does not declare (`spec.replica`, `spec.template.spec.containers[0].imag`).
fn unknown_fields(given: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (given, known) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, gv) in g {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => unknown_fields(gv, kv, &p, out),
                    None if !gv.is_null() => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (gv, kv)) in g.iter().zip(k).enumerate() {
                unknown_fields(gv, kv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn list(
    s: &ApiState,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &Query,
    wants: Wants,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s), rt)?;
    let limit = match q.get("limit") {
        Some(l) => match l.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit: {l:?}"))),
        },
        None => None,
    };
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let page = s.store.list(rt.storage, ns, &labels, &fields, limit, after);
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some(key) = &page.continue_after {
        meta["continue"] = json!(encode_continue(page.rv, key));
        if let Some(r) = page.remaining {
            meta["remainingItemCount"] = json!(r);
        }
    }
    if let Some(t) = wants.table {
        return Ok(ok_json(&table::table(rt, &page.items, meta, t)));
    }
    let encoded: Option<Vec<&[u8]>> = wants
        .protobuf
        .then(|| page.items.iter().map(|o| o.pb.as_deref()).collect())
        .flatten();
    if let Some(items) = encoded {
        let kind = format!("{}List", rt.kind);
        let body = protobuf::list(&rt.api_version(), &kind, &meta, items.into_iter())
            .map_err(|e| ApiError::internal(format!("list metadata{}", e.0)))?;
        return Ok(response_as(protobuf::CONTENT_TYPE, body));
    }
    let mut out =
        Vec::with_capacity(page.items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            rt.kind,
            rt.api_version(),
            meta
        )
        .as_bytes(),
    );
    for (i, obj) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&convert::out(rt, obj));
    }
    out.extend_from_slice(b"]}");
    Ok(json_response(StatusCode::OK, out))
}

fn encode_continue(rv: u64, key: &(String, String)) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": [key.0, key.1]});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = v["start"].as_array().ok_or_else(bad)?;
    match (
        start.first().and_then(|x| x.as_str()),
        start.get(1).and_then(|x| x.as_str()),
    ) {
        (Some(a), Some(b)) => Ok((a.to_string(), b.to_string())),
        _ => Err(bad()),
    }
}

/// One line of a watch stream.
fn event_line(kind: &str, obj: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(obj.len() + 32);
    write_event_line(&mut out, kind, obj);
    Bytes::from(out)
}

fn write_event_line(out: &mut Vec<u8>, kind: &str, obj: &[u8]) {
    out.reserve(obj.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(obj);
    out.extend_from_slice(b"}\n");
}

/// How many bytes of a watch's initial events go out together. The API server flushes a
/// watch only when no more events are queued, so a list's events leave in large writes,
/// not one small chunk each.
const INITIAL_CHUNK: usize = 64 * 1024;

/// How a watch's events are written: JSON lines, or protobuf frames for a client that
/// prefers protobuf watching Pods.
#[derive(Clone, Copy)]
enum Framing {
    Json(Option<TableOpts>),
    Protobuf,
}

impl Framing {
    fn of(rt: &ResourceType, wants: Wants) -> Framing {
        match wants.table {
            None if wants.protobuf && protobuf::serves(&rt.api_version(), rt.kind) => {
                Framing::Protobuf
            }
            table => Framing::Json(table),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Framing::Json(_) => "application/json",
            Framing::Protobuf => protobuf::WATCH_CONTENT_TYPE,
        }
    }

    /// Appends an event for `o`: its object, or a one-row Table when the client asked for
    /// Tables. False for an object that has no protobuf encoding ([`Obj::pb`]), which ends the
    /// stream.
    fn write_event(self, rt: &ResourceType, kind: &str, o: &Arc<Obj>, out: &mut Vec<u8>) -> bool {
        match self {
            Framing::Json(Some(t)) => {
                let table = table::table(rt, std::slice::from_ref(o), json!({}), t);
                write_event_line(out, kind, table.to_string().as_bytes());
            }
            Framing::Json(None) => write_event_line(out, kind, &convert::out(rt, o)),
            Framing::Protobuf => match o.pb.as_deref() {
                Some(pb) => protobuf::write_watch_event(out, kind, &rt.api_version(), rt.kind, pb),
                None => return false,
            },
        }
        true
    }

    /// An ERROR event carrying `status`.
    fn error(self, status: &Value) -> Bytes {
        match self {
            Framing::Json(_) => event_line("ERROR", status.to_string().as_bytes()),
            Framing::Protobuf => {
                Bytes::from(protobuf::watch_frame("ERROR", &protobuf::status(status)))
            }
        }
    }

    fn bookmark(self, rt: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta});
        match self {
            Framing::Json(_) => event_line("BOOKMARK", obj.to_string().as_bytes()),
            Framing::Protobuf => {
                let raw =
                    protobuf::encode(&rt.api_version(), rt.kind, &obj, protobuf::Mode::Strict)
                        .expect("a bookmark's metadata encodes");
                let object = protobuf::envelope(&rt.api_version(), rt.kind, &raw);
                Bytes::from(protobuf::watch_frame("BOOKMARK", &object))
            }
        }
    }
}

struct WatchFilter {
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, o: &Obj) -> bool {
        self.ns.as_deref().is_none_or(|ns| o.namespace == ns)
            && self.labels.matches(&o.labels)
            && self.fields.matches(o)
    }

    /// The event this watcher sees for a change, if any (selector watches see an object
    /// that stops matching as DELETED and one that starts matching as ADDED).
    fn translate(&self, e: &WatchEvent) -> Option<&'static str> {
        let now = self.matches(&e.obj);
        match e.kind {
            EventType::Added => now.then_some("ADDED"),
            EventType::Deleted => now.then_some("DELETED"),
            EventType::Modified => {
                let before = e.prev.as_ref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
        }
    }
}

fn watch(
    s: &ApiState,
    rt: &'static ResourceType,
    ns: Option<&str>,
    q: &Query,
    wants: Wants,
) -> Result<Response, ApiError> {
    let framing = Framing::of(rt, wants);
    let filter = WatchFilter {
        ns: ns.map(String::from),
        labels: LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))?,
        fields: FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s), rt)?,
    };
    let bookmarks = flag(q, "allowWatchBookmarks");
    let send_initial = flag(q, "sendInitialEvents");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map(Duration::from_secs);
    let rv = q.get("resourceVersion").map(|s| s.as_str()).unwrap_or("");
    let (initial, sub) = if rv.is_empty() || rv == "0" || send_initial {
        let (items, sub) =
            s.store
                .list_and_subscribe(rt.storage, ns, &filter.labels, &filter.fields);
        (items, sub)
    } else {
        let from: u64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion: {rv:?}")))?;
        match s.store.subscribe(rt.storage, Some(from)) {
            Ok(sub) => (Vec::new(), sub),
            Err(gone) => {
                // As the API server does: a 200 whose one event is an ERROR carrying 410.
                let event = framing.error(&gone.status());
                return Ok(response_as(framing.content_type(), event));
            }
        }
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    let faults = s.faults.clone();
    let bookmark_every = s.bookmark_every;
    // Appends the event for a change; false when the stream must end (see
    // `Framing::write_event`).
    let write = move |kind: &str, o: &Arc<Obj>, out: &mut Vec<u8>| -> bool {
        let written = framing.write_event(rt, kind, o, out);
        if !written {
            tracing::warn!(name = %o.name, "an object without a protobuf encoding ends a watch");
        }
        written
    };
    let event = move |kind: &str, o: &Arc<Obj>| -> Option<Bytes> {
        let mut out = Vec::new();
        write(kind, o, &mut out).then(|| Bytes::from(out))
    };
    tokio::spawn(async move {
        let mut sub = sub;
        let mut last_rv = sub.rv;
        let mut chunk = Vec::with_capacity(INITIAL_CHUNK + 4096);
        for o in &initial {
            if !write("ADDED", o, &mut chunk) {
                return;
            }
            if chunk.len() >= INITIAL_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(INITIAL_CHUNK + 4096));
                if tx.send(Ok(Bytes::from(full))).await.is_err() {
                    return;
                }
            }
        }
        if send_initial {
            chunk.extend_from_slice(&framing.bookmark(rt, last_rv, true));
        }
        if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
            return;
        }
        for e in sub.replay.drain(..) {
            last_rv = e.rv;
            if let Some(kind) = filter.translate(&e) {
                let Some(e) = event(kind, &e.obj) else { return };
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut tick = tokio::time::interval(bookmark_every);
        tick.tick().await;
        loop {
            let sleep_until = deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400));
            tokio::select! {
                r = sub.rx.recv() => match r {
                    Ok(e) => {
                        last_rv = e.rv;
                        if let Some(kind) = filter.translate(&e) {
                            let Some(e) = event(kind, &e.obj) else { return };
                            if tx.send(Ok(e)).await.is_err() {
                                return;
                            }
                        }
                        if faults.drop_watch_now() {
                            tracing::debug!("fault injection: dropping a watch");
                            return;
                        }
                    }
                    // Too far behind: close; the client resumes from its last resourceVersion.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    if faults.drop_watch_now() {
                        return;
                    }
                    if bookmarks
                        && tx.send(Ok(framing.bookmark(rt, last_rv, false))).await.is_err()
                    {
                        return;
                    }
                    if tx.is_closed() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(sleep_until) => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(response_as(
        framing.content_type(),
        Body::from_stream(stream),
    ))
}

/// The autoscaling/v1 Scale of a workload.
fn scale_of(v: &Value) -> Value {
    let meta = &v["metadata"];
    let selector = LabelSelector::from_json(&v["spec"]["selector"]).to_query();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": v["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": v["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

fn delete(
    s: &ApiState,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    q: &Query,
    ct: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let opts: Value = if body.is_empty() {
        Value::Null
    } else {
        parse_body(ct, body)?
    };
    let v = delete_one(s, rt, ns, name, q, &opts)?;
    Ok(ok_json(&v))
}

/// Deletes one object. Pods on a node terminate gracefully (the kubelet removes them);
/// a namespace takes everything in it along.
fn delete_one(
    s: &ApiState,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    q: &Query,
    opts: &Value,
) -> Result<Value, ApiError> {
    let uid = opts["preconditions"]["uid"].as_str();
    let dry = flag_dry_run(q)
        || opts["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    if dry {
        // Every check, nothing deleted.
        let cur = s
            .store
            .get(rt.storage, ns, name)
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if let Some(uid) = uid
            && uid != cur.uid
        {
            return Err(ApiError::conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    cur.uid
                ),
            ));
        }
        return Ok(cur.value());
    }
    let grace = q
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse::<i64>().ok())
        .or_else(|| opts["gracePeriodSeconds"].as_i64());
    if rt.storage == Storage::Pods {
        let cur = s
            .store
            .get(Storage::Pods, ns, name)
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if let Some(uid) = uid
            && uid != cur.uid
        {
            return Err(ApiError::conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    cur.uid
                ),
            ));
        }
        let v = cur.value();
        let scheduled = v["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        if scheduled && grace != Some(0) {
            let grace = grace
                .or_else(|| v["spec"]["terminationGracePeriodSeconds"].as_i64())
                .unwrap_or(30);
            let obj = s.store.mutate(Storage::Pods, ns, name, |v| {
                if v["metadata"].get("deletionTimestamp").is_some() {
                    return false;
                }
                v["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                v["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                true
            })?;
            let obj = obj.unwrap_or(cur);
            return Ok(obj.value());
        }
    }
    if rt.storage == Storage::Namespaces {
        // Terminating first; the namespace controller empties it, then removes it.
        return defaults::begin_namespace_delete(&s.store, name, uid);
    }
    let obj = s.store.delete(rt.storage, ns, name, uid)?;
    let mut v = obj.value();
    if rt.storage != Storage::Namespaces {
        v = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": obj.uid},
        });
    }
    Ok(v)
}

/// The eviction subresource: deletes a pod unless a PodDisruptionBudget forbids it (429).
fn evict(s: &ApiState, ns: &str, name: &str) -> Result<Response, ApiError> {
    let pods = Storage::Pods.storage_type();
    let pod = s
        .store
        .get(Storage::Pods, ns, name)
        .ok_or_else(|| ApiError::not_found(pods, name))?;
    let podv = pod.value();
    let terminating = podv["metadata"].get("deletionTimestamp").is_some();
    let all = LabelSelector::default();
    let no_fields = FieldSelector::default();
    let pdbs: Vec<Value> = s
        .store
        .list(Storage::Pdbs, Some(ns), &all, &no_fields, None, None)
        .items
        .iter()
        .map(|o| o.value())
        .filter(|p| {
            let sel = LabelSelector::from_json(&p["spec"]["selector"]);
            !sel.is_empty() && sel.matches(&pod.labels)
        })
        .collect();
    if pdbs.len() > 1 {
        return Err(ApiError::internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    if let Some(pdb) = pdbs.first()
        && !terminating
        && super::controllers::pod_is_ready(&podv)
    {
        let sel = LabelSelector::from_json(&pdb["spec"]["selector"]);
        let matching: Vec<Value> = s
            .store
            .list(Storage::Pods, Some(ns), &sel, &no_fields, None, None)
            .items
            .iter()
            .map(|o| o.value())
            .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
            .collect();
        let healthy = matching
            .iter()
            .filter(|p| super::controllers::pod_is_ready(p))
            .count() as i64;
        let desired = super::controllers::pdb_desired_healthy(pdb, matching.len() as i64);
        if healthy - 1 < desired {
            let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or("");
            let mut e = ApiError::too_many_requests(format!(
                "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently"
            ));
            e.details = Some(
                json!({"causes": [{"reason": "DisruptionBudget", "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")}]}),
            );
            return Err(e);
        }
    }
    delete_one(s, pods, ns, name, &Query::new(), &Value::Null)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_validation_names_the_unknown_fields() {
        let rt = Storage::Deployments.storage_type();
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"x": ""}},
            "spec": {
                "replica": 3, "paused": null,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "imag": "nginx"}]}},
            },
        });
        assert!(validate(rt, &d, false).is_ok());
        let e = validate(rt, &d, true).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message.ends_with(
                "strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imag\""
            ),
            "{}",
            e.message
        );
        let mut ok = d.clone();
        ok["spec"].as_object_mut().unwrap().remove("replica");
        ok["spec"]["template"]["spec"]["containers"][0] = json!({"name": "web", "image": "nginx"});
        assert!(validate(rt, &ok, true).is_ok());
    }
}
