//! Any kind the server's discovery knows (`:svc`, `:cm`, `:job`, a custom resource…), listed
//! as the server's Table output — the columns `kubectl get` shows — instead of one hand-written
//! view per kind. Secrets come as the server tabulates them: TYPE and a DATA count, no values.

use anyhow::Context as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::Client;
use serde_json::Value;

/// A resource discovery resolved a name to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl ResourceRef {
    /// The list path, in `namespace` or across all namespaces.
    fn list_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }
}

/// Whether `name` (lower-cased) names the resource: plural, singular, kind, a short name, or
/// `plural.group`.
fn names(
    list_gv: &str,
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource,
    name: &str,
) -> bool {
    let group = list_gv.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    r.name == name
        || r.singular_name == name
        || r.kind.to_lowercase() == name
        || r.short_names.iter().flatten().any(|s| s == name)
        || (!group.is_empty() && format!("{}.{group}", r.name) == name)
}

/// Resolves a name typed after `:` through discovery (the core group first, then each group's
/// preferred version); `None` when the server serves nothing of that name.
pub async fn resolve(client: &Client, name: &str) -> anyhow::Result<Option<ResourceRef>> {
    let mut lists: Vec<APIResourceList> = Vec::new();
    let core = client
        .list_core_api_versions()
        .await
        .context("discovery /api")?;
    for v in &core.versions {
        lists.push(
            client
                .list_core_api_resources(v)
                .await
                .context("discovery /api")?,
        );
    }
    let groups = client.list_api_groups().await.context("discovery /apis")?;
    for g in &groups.groups {
        let Some(gv) = g.preferred_version.as_ref().or(g.versions.first()) else {
            continue;
        };
        // A group that fails (an aggregated API down) hides only its own kinds.
        if let Ok(list) = client.list_api_group_resources(&gv.group_version).await {
            lists.push(list);
        }
    }
    Ok(resolve_in(&lists, name))
}

/// [`resolve`] over discovery lists already fetched.
pub fn resolve_in(lists: &[APIResourceList], name: &str) -> Option<ResourceRef> {
    let name = name.to_lowercase();
    lists.iter().find_map(|list| {
        list.resources
            .iter()
            .filter(|r| !r.name.contains('/') && r.verbs.iter().any(|v| v == "list"))
            .find(|r| names(&list.group_version, r, &name))
            .map(|r| {
                let (group, version) = match list.group_version.rsplit_once('/') {
                    Some((g, v)) => (g.to_string(), v.to_string()),
                    None => (String::new(), list.group_version.clone()),
                };
                ResourceRef {
                    group,
                    version,
                    kind: r.kind.clone(),
                    plural: r.name.clone(),
                    namespaced: r.namespaced,
                }
            })
    })
}

/// A listed resource as the server tabulated it: `columns` are the Table's columns of
/// priority 0 (what `kubectl get` shows without `-o wide`), preceded by NAMESPACE when listed
/// across namespaces; each row has one cell per column, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceTable {
    pub resource: Option<ResourceRef>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A Table cell as text, as kubectl prints it (`<none>` for null).
fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "<none>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A Table (`meta.k8s.io/v1`) turned into columns and rows; NAMESPACE first when `all`.
pub fn from_table(table: &Value, all: bool) -> anyhow::Result<ResourceTable> {
    let defs = table["columnDefinitions"]
        .as_array()
        .context("the server sent no Table (columnDefinitions missing)")?;
    let shown: Vec<usize> = defs
        .iter()
        .enumerate()
        .filter(|(_, d)| d["priority"].as_i64().unwrap_or(0) == 0)
        .map(|(i, _)| i)
        .collect();
    let mut columns: Vec<String> = Vec::new();
    if all {
        columns.push("NAMESPACE".into());
    }
    columns.extend(
        shown
            .iter()
            .map(|&i| defs[i]["name"].as_str().unwrap_or("").to_uppercase()),
    );
    let rows = table["rows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let cells = r["cells"].as_array().map(Vec::as_slice).unwrap_or_default();
            let mut row: Vec<String> = Vec::new();
            if all {
                row.push(
                    r["object"]["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                );
            }
            row.extend(
                shown
                    .iter()
                    .map(|&i| cells.get(i).map(cell_text).unwrap_or_default()),
            );
            row
        })
        .collect();
    Ok(ResourceTable {
        resource: None,
        columns,
        rows,
    })
}

/// Resolves `name` and lists it as a Table in `namespace` (all when `None`). An unknown
/// name is an error that says so.
pub async fn list(
    client: &Client,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<ResourceTable> {
    let Some(r) = resolve(client, name).await? else {
        anyhow::bail!("the server has no resource named '{name}'");
    };
    list_as(client, r, namespace).await
}

/// Lists a resource already resolved (a refresh: discovery is not asked again).
pub async fn list_as(
    client: &Client,
    r: ResourceRef,
    namespace: Option<&str>,
) -> anyhow::Result<ResourceTable> {
    let all = namespace.is_none() && r.namespaced;
    let req =
        axum::http::Request::get(format!("{}?includeObject=Metadata", r.list_path(namespace)))
            .header(
                axum::http::header::ACCEPT,
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )
            .body(Vec::new())?;
    let text = client
        .request_text(req)
        .await
        .with_context(|| format!("listing {}", r.plural))?;
    let table: Value = serde_json::from_str(&text).context("the Table is not JSON")?;
    let mut out = from_table(&table, all)?;
    out.resource = Some(r);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Discovery as a real server gives it for CRDs and a custom resource (the sandbox serves
    /// neither).
    fn lists() -> Vec<APIResourceList> {
        serde_json::from_value(json!([
            {"groupVersion": "v1", "resources": [
                {"name": "services", "singularName": "service", "namespaced": true, "kind": "Service",
                 "verbs": ["get", "list"], "shortNames": ["svc"]},
                {"name": "services/status", "singularName": "", "namespaced": true, "kind": "Service",
                 "verbs": ["get"]}]},
            {"groupVersion": "apiextensions.k8s.io/v1", "resources": [
                {"name": "customresourcedefinitions", "singularName": "customresourcedefinition",
                 "namespaced": false, "kind": "CustomResourceDefinition", "verbs": ["get", "list"],
                 "shortNames": ["crd", "crds"]}]},
            {"groupVersion": "example.com/v1alpha1", "resources": [
                {"name": "widgets", "singularName": "widget", "namespaced": true, "kind": "Widget",
                 "verbs": ["get", "list"]}]}
        ]))
        .unwrap()
    }

    #[test]
    fn crds_and_custom_resources_resolve_by_any_name() {
        let l = lists();
        let crd = resolve_in(&l, "crd").unwrap();
        assert_eq!(
            (crd.group.as_str(), crd.plural.as_str(), crd.namespaced),
            ("apiextensions.k8s.io", "customresourcedefinitions", false)
        );
        assert_eq!(
            crd.list_path(Some("shop")),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
        for name in ["widgets", "widget", "Widget", "widgets.example.com"] {
            let w = resolve_in(&l, name).unwrap();
            assert_eq!(
                w.list_path(Some("shop")),
                "/apis/example.com/v1alpha1/namespaces/shop/widgets"
            );
        }
        assert_eq!(
            resolve_in(&l, "svc").unwrap().list_path(None),
            "/api/v1/services"
        );
        assert_eq!(resolve_in(&l, "status"), None);
        assert_eq!(resolve_in(&l, "gadgets"), None);
    }

    #[test]
    fn tables_keep_priority_zero_columns_and_add_the_namespace() {
        let t = json!({
            "columnDefinitions": [
                {"name": "Name", "priority": 0}, {"name": "Size", "priority": 0},
                {"name": "Owner", "priority": 1}, {"name": "Age", "priority": 0}],
            "rows": [{"cells": ["a", 3, "x", "5m"],
                      "object": {"metadata": {"namespace": "shop", "name": "a"}}},
                     {"cells": ["b", null, "y", "1d"],
                      "object": {"metadata": {"namespace": "ops", "name": "b"}}}]
        });
        let all = from_table(&t, true).unwrap();
        assert_eq!(all.columns, ["NAMESPACE", "NAME", "SIZE", "AGE"]);
        assert_eq!(all.rows[0], ["shop", "a", "3", "5m"]);
        assert_eq!(all.rows[1], ["ops", "b", "<none>", "1d"]);
        let one = from_table(&t, false).unwrap();
        assert_eq!(one.columns, ["NAME", "SIZE", "AGE"]);
        assert!(from_table(&json!({"kind": "ServiceList"}), false).is_err());
    }
}
