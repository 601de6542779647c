//! Conversion between served versions of one stored resource: HorizontalPodAutoscaler is
//! stored as autoscaling/v2 and also served as autoscaling/v1.

use super::resources::{ResourceType, Storage};
use super::store::Obj;
use bytes::Bytes;
use serde_json::{Value, json};

fn is_hpa_v1(rt: &ResourceType) -> bool {
    rt.storage == Storage::Hpas && rt.version == "v1"
}

/// The object as the requested version shows it.
pub fn out(rt: &ResourceType, obj: &Obj) -> Bytes {
    if let Storage::Custom(_) = rt.storage {
        return super::crd::out(rt, obj);
    }
    if !is_hpa_v1(rt) {
        return obj.json.clone();
    }
    let v = obj.value();
    Bytes::from(hpa_v2_to_v1(&v).to_string())
}

/// Brings a body of the requested version to the stored version.
pub fn into_storage(rt: &ResourceType, v: &mut Value) {
    if is_hpa_v1(rt) {
        *v = hpa_v1_to_v2(v);
    }
}

fn cpu_target(v2: &Value) -> Option<i64> {
    v2["spec"]["metrics"].as_array()?.iter().find_map(|m| {
        (m["type"] == "Resource" && m["resource"]["name"] == "cpu")
            .then(|| m["resource"]["target"]["averageUtilization"].as_i64())
            .flatten()
    })
}

/// autoscaling/v2 → v1.
pub fn hpa_v2_to_v1(v2: &Value) -> Value {
    let mut spec = json!({
        "scaleTargetRef": v2["spec"]["scaleTargetRef"],
        "maxReplicas": v2["spec"]["maxReplicas"],
    });
    if let Some(min) = v2["spec"].get("minReplicas") {
        spec["minReplicas"] = min.clone();
    }
    if let Some(t) = cpu_target(v2) {
        spec["targetCPUUtilizationPercentage"] = json!(t);
    }
    let st = &v2["status"];
    let mut status = json!({
        "currentReplicas": st["currentReplicas"].as_i64().unwrap_or(0),
        "desiredReplicas": st["desiredReplicas"].as_i64().unwrap_or(0),
    });
    for k in ["observedGeneration", "lastScaleTime"] {
        if let Some(x) = st.get(k) {
            status[k] = x.clone();
        }
    }
    if let Some(cur) = st["currentMetrics"].as_array().and_then(|ms| {
        ms.iter().find_map(|m| {
            (m["type"] == "Resource" && m["resource"]["name"] == "cpu")
                .then(|| m["resource"]["current"]["averageUtilization"].as_i64())
                .flatten()
        })
    }) {
        status["currentCPUUtilizationPercentage"] = json!(cur);
    }
    let mut meta = v2["metadata"].clone();
    if let Some(conds) = st.get("conditions") {
        meta["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] =
            json!(conds.to_string());
    }
    json!({
        "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1",
        "metadata": meta, "spec": spec, "status": status,
    })
}

/// autoscaling/v1 → v2.
pub fn hpa_v1_to_v2(v1: &Value) -> Value {
    let mut spec = json!({
        "scaleTargetRef": v1["spec"]["scaleTargetRef"],
        "maxReplicas": v1["spec"]["maxReplicas"],
    });
    if let Some(min) = v1["spec"].get("minReplicas") {
        spec["minReplicas"] = min.clone();
    }
    let target = v1["spec"]["targetCPUUtilizationPercentage"]
        .as_i64()
        .unwrap_or(80);
    spec["metrics"] = json!([{
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
    }]);
    let mut out = json!({
        "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
        "metadata": v1["metadata"], "spec": spec,
    });
    if let Some(st) = v1.get("status") {
        let mut status = json!({
            "currentReplicas": st["currentReplicas"].as_i64().unwrap_or(0),
            "desiredReplicas": st["desiredReplicas"].as_i64().unwrap_or(0),
        });
        if let Some(c) = st["currentCPUUtilizationPercentage"].as_i64() {
            status["currentMetrics"] = json!([{
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": c}},
            }]);
        }
        out["status"] = status;
    }
    if let Some(m) = out["metadata"]["annotations"].as_object_mut() {
        m.remove("autoscaling.alpha.kubernetes.io/conditions");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_between_versions() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "md", "namespace": "migratorydata"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "md"},
                     "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
        });
        let v2 = hpa_v1_to_v2(&v1);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        let back = hpa_v2_to_v1(&v2);
        assert_eq!(back["spec"], v1["spec"]);
    }
}
