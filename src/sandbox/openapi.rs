//! The OpenAPI v3 documents, as little of them as clients read: the index of group-versions
//! and, per group-version, the PATCH operation of each resource with its group-version-kind
//! and the `fieldValidation` parameter. kubectl looks for that parameter before it sends
//! objects (`kubectl apply`, `create -f`, `replace`): found, it leaves validation to the server;
//! not found (or no document at all), it refuses to send anything without `--validate=false`.
//! A `List` it checks against the OpenAPI v2 document, served without schemas: kubectl skips
//! the kinds it has no schema for, and the server validates each object as it comes.

use super::resources::{RESOURCES, ResourceType};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The protobuf media type of `/openapi/v2` (clients also ask for it with `@v1.0`, a form
/// Go cannot parse as a Content-Type).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `GET /openapi/v2`: a document without paths or definitions, in protobuf when asked (an
/// empty message) or JSON.
pub fn v2(accept: &str) -> Response {
    let (ct, body) = if accept.contains("com.github.proto-openapi.spec.v2") {
        (V2_PROTOBUF, Vec::new())
    } else {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::api::KUBE_MINOR)},
            "paths": {}, "definitions": {},
        });
        ("application/json", doc.to_string().into_bytes())
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

/// The `api/v1`, `apis/apps/v1`… paths the index lists.
fn gv_path(r: &ResourceType) -> String {
    if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}

/// `GET /openapi/v3`: where each group-version's document is.
pub fn index() -> Value {
    index_with(&[])
}

/// [`index`] with the resources CustomResourceDefinitions define.
pub fn index_with(custom: &[&'static ResourceType]) -> Value {
    let mut paths = Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| !r.is_virtual())
        .chain(custom.iter().copied())
    {
        let p = gv_path(r);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}")}),
        );
    }
    json!({ "paths": paths })
}

/// `GET /openapi/v3/<gv path>`: the document of one group-version, if served.
pub fn group_version(path: &str) -> Option<Value> {
    group_version_with(path, &[])
}

/// [`group_version`] with the resources CustomResourceDefinitions define.
pub fn group_version_with(path: &str, custom: &[&'static ResourceType]) -> Option<Value> {
    let served: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|r| !r.is_virtual())
        .chain(custom.iter().copied())
        .filter(|r| gv_path(r) == path)
        .collect();
    if served.is_empty() {
        return None;
    }
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
    let mut paths = Map::new();
    for r in served {
        let item = if r.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("/{path}/{}/{{name}}", r.plural)
        };
        paths.insert(
            item,
            json!({"patch": {
                "operationId": format!("patch{}", r.kind),
                "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
            }}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::api::KUBE_MINOR)},
        "paths": paths,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_the_patch_of_each_resource_with_field_validation() {
        let idx = index();
        assert_eq!(
            idx["paths"]["apis/apps/v1"]["serverRelativeURL"],
            "/openapi/v3/apis/apps/v1"
        );
        assert!(idx["paths"].get("apis/metrics.k8s.io/v1beta1").is_none());
        let doc = group_version("apis/apps/v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(doc["paths"].get("/apis/apps/v1/nodes/{name}").is_none());
        assert!(group_version("api/v1").unwrap()["paths"]["/api/v1/nodes/{name}"].is_object());
        assert!(group_version("apis/nope/v1").is_none());
    }
}
