//! The three patch types the API server takes: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and strategic merge patch for the fields clients patch (lists merged by key:
//! containers, env, ports, volumes, conditions…, with `$patch: delete|replace` directives).

use super::error::ApiError;
use serde_json::{Map, Value};

/// The patch format named by the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    /// Server-side apply (`application/apply-patch+yaml`): see [`super::apply`].
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            _ => Err(ApiError::unsupported_media_type(ct)),
        }
    }
}

/// Applies a patch to a document.
pub fn apply(doc: &Value, patch: &[u8], kind: PatchType) -> Result<Value, ApiError> {
    let mut out = doc.clone();
    match kind {
        PatchType::Apply => {
            return Err(ApiError::unsupported_media_type(
                "application/apply-patch+yaml (an apply is not a patch of this kind)",
            ));
        }
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            // `out` is a copy, dropped on an error: nothing to undo. (json-patch's own
            // undo, in `json_patch::patch`, panics on some failed patches; the fuzz target
            // `sandbox_patch` found one: a `copy`, then a `move` that fails.)
            json_patch::patch_unsafe(&mut out, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchType::Merge => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(&mut out, &p);
        }
        PatchType::Strategic => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            strategic_merge(&mut out, &p, "");
        }
    }
    Ok(out)
}

/// The merge key of a list field, by the field's name (as the Kubernetes types declare it).
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "addresses" => "type",
        "taints" => "key",
        _ => return None,
    })
}

fn strategic_merge(target: &mut Value, patch: &Value, field: &str) {
    let Some(pobj) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if pobj.get("$patch").and_then(|p| p.as_str()) == Some("replace") {
        let mut p = pobj.clone();
        p.remove("$patch");
        *target = Value::Object(p);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let tobj = target.as_object_mut().expect("object");
    for (k, pv) in pobj {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(name) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (tobj.get_mut(name), pv.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            tobj.remove(k);
            continue;
        }
        match (tobj.get_mut(k), pv) {
            (Some(tv @ Value::Object(_)), Value::Object(_)) => strategic_merge(tv, pv, k),
            (Some(Value::Array(tl)), Value::Array(pl)) => match merge_key(k) {
                Some(key) => merge_list(tl, pl, key),
                None => *tobj.get_mut(k).expect("present") = pv.clone(),
            },
            _ => {
                let mut fresh = Value::Null;
                strategic_merge_into_new(&mut fresh, pv, k);
                tobj.insert(k.clone(), fresh);
            }
        }
    }
    let _ = field;
}

/// A value with no counterpart in the target: directives removed.
fn strategic_merge_into_new(target: &mut Value, patch: &Value, field: &str) {
    match patch {
        Value::Object(_) => strategic_merge(target, patch, field),
        Value::Array(items) => {
            *target = Value::Array(
                items
                    .iter()
                    .filter(|i| i.get("$patch").and_then(|p| p.as_str()) != Some("delete"))
                    .map(|i| {
                        let mut v = Value::Null;
                        strategic_merge_into_new(&mut v, i, "");
                        v
                    })
                    .collect(),
            )
        }
        other => *target = other.clone(),
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], key: &str) {
    for item in patch {
        let Some(kv) = item.get(key) else {
            target.push(item.clone());
            continue;
        };
        let pos = target.iter().position(|t| t.get(key) == Some(kv));
        let directive = item.get("$patch").and_then(|p| p.as_str());
        match (pos, directive) {
            (Some(i), Some("delete")) => {
                target.remove(i);
            }
            (None, Some("delete")) => {}
            (Some(i), _) => strategic_merge(&mut target[i], item, ""),
            (None, _) => {
                let mut v = Value::Null;
                strategic_merge_into_new(&mut v, item, "");
                target.push(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_sets_an_image_by_container_name() {
        let doc = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "s:1"}]}}}});
        let patch =
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:2"}]}}}}"#;
        let out = apply(&doc, patch, PatchType::Strategic).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "app:2");
        assert_eq!(cs[1]["image"], "s:1");
        // A merge patch replaces the whole list instead.
        let out = apply(&doc, patch, PatchType::Merge).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn strategic_merge_deletes_and_adds_list_items() {
        let doc = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]});
        let patch = br#"{"env":[{"name":"A","$patch":"delete"},{"name":"C","value":"3"}]}"#;
        let out = apply(&doc, patch, PatchType::Strategic).unwrap();
        assert_eq!(
            out,
            json!({"env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]})
        );
    }

    #[test]
    fn strategic_merge_cordon_and_annotations() {
        let doc = json!({"metadata": {"annotations": {"a": "1"}}, "spec": {}});
        let patch =
            br#"{"metadata":{"annotations":{"b":"2","a":null}},"spec":{"unschedulable":true}}"#;
        let out = apply(&doc, patch, PatchType::Strategic).unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"annotations": {"b": "2"}}, "spec": {"unschedulable": true}})
        );
    }

    #[test]
    fn json_patch_and_errors() {
        let doc = json!({"spec": {"replicas": 1}});
        let out = apply(
            &doc,
            br#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
            PatchType::Json,
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], 4);
        let e = apply(
            &doc,
            br#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
            PatchType::Json,
        )
        .unwrap_err();
        assert_eq!(e.code, 422);
        let e = apply(&doc, b"{not json", PatchType::Merge).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            PatchType::from_content_type("text/plain").unwrap_err().code,
            415
        );
    }
}
