//! Simulated controllers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The parts of a pod that its owner's controller and PodDisruptionBudgets look at: name,
/// labels, owner, creation and deletion times, node, phase and conditions. Parsing only
/// these is several times cheaper than parsing the whole pod, which counts when a reconcile
/// reads every pod of a workload and 50,000 pods change.
#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSlim {
    metadata: SlimMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<SlimSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<SlimStatus>,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
struct SlimMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_references: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation_timestamp: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_timestamp: Option<Value>,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
struct SlimSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    node_name: Option<Value>,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
struct SlimStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<Vec<SlimCondition>>,
}

#[derive(Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
struct SlimCondition {
    #[serde(rename = "type")]
    kind: Value,
    status: Value,
    /// When it last changed (a pod is available `minReadySeconds` after it became Ready).
    #[serde(rename = "lastTransitionTime", skip_serializing_if = "Option::is_none")]
    last_transition_time: Option<Value>,
}

impl PodSlim {
    /// Parses the slim view of a stored pod's JSON.
    pub fn parse(json: &[u8]) -> Option<PodSlim> {
        serde_json::from_slice(json).ok()
    }

    /// The slim view of a stored pod as JSON (the whole pod if it does not parse slim).
    pub fn value_of(json: &[u8]) -> Value {
        PodSlim::parse(json)
            .and_then(|p| serde_json::to_value(p).ok())
            .unwrap_or_else(|| serde_json::from_slice(json).unwrap_or(Value::Null))
    }
}

/// Whether a pod's Ready condition is True.
pub fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// How many healthy pods a PodDisruptionBudget requires out of `expected`.
pub fn pdb_desired_healthy(pdb: &Value, expected: i64) -> i64 {
    fn resolve(v: &Value, total: i64, round_up: bool) -> Option<i64> {
        if let Some(n) = v.as_i64() {
            return Some(n);
        }
        let pct: f64 = v.as_str()?.strip_suffix('%')?.parse().ok()?;
        let x = pct * total as f64 / 100.0;
        Some(if round_up { x.ceil() } else { x.floor() } as i64)
    }
    let spec = &pdb["spec"];
    if let Some(min) = spec
        .get("minAvailable")
        .and_then(|m| resolve(m, expected, true))
    {
        return min;
    }
    if let Some(max) = spec
        .get("maxUnavailable")
        .and_then(|m| resolve(m, expected, true))
    {
        return (expected - max).max(0);
    }
    expected
}

/// The replicas an HPA wants for a target at `current` replicas, from the CPU utilisation
/// (percent of the request) of its ready pods, as the HPA's replica calculator decides: no
/// change within a 10% tolerance, and pods without metrics (`missing`: not ready yet) count
/// as at 100% of the request on a scale-down and at 0% on a scale-up, so a drain or a
/// rollout does not make it shrink or grow the target.
pub fn hpa_desired_replicas(current: i64, ready_utils: &[f64], missing: usize, target: i64) -> i64 {
    const TOLERANCE: f64 = 0.1;
    if ready_utils.is_empty() || target <= 0 {
        return current;
    }
    let target = target as f64;
    let ratio = ready_utils.iter().sum::<f64>() / ready_utils.len() as f64 / target;
    if (ratio - 1.0).abs() <= TOLERANCE {
        return current;
    }
    if missing == 0 {
        return (ratio * ready_utils.len() as f64).ceil() as i64;
    }
    let fallback = if ratio < 1.0 { target.max(100.0) } else { 0.0 };
    let n = (ready_utils.len() + missing) as f64;
    let new_ratio = (ready_utils.iter().sum::<f64>() + fallback * missing as f64) / n / target;
    if (new_ratio - 1.0).abs() <= TOLERANCE || (ratio < 1.0) != (new_ratio < 1.0) {
        return current;
    }
    let new = (new_ratio * n).ceil() as i64;
    if (new_ratio < 1.0 && new > current) || (new_ratio > 1.0 && new < current) {
        return current;
    }
    new
}

/// A condition of an object's status by type.
pub fn condition<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Sets a status condition, keeping lastTransitionTime when the status does not change.
/// Returns whether anything changed.
pub fn set_condition(v: &mut Value, kind: &str, status: &str, reason: &str, message: &str) -> bool {
    let now = super::super::store::now_rfc3339();
    if !v["status"]["conditions"].is_array() {
        v["status"]["conditions"] = Value::Array(Vec::new());
    }
    let conds = v["status"]["conditions"].as_array_mut().expect("array");
    match conds.iter_mut().find(|c| c["type"] == kind) {
        Some(c) => {
            if c["status"] == status && c["reason"] == reason && c["message"] == message {
                return false;
            }
            if c["status"] != status {
                c["lastTransitionTime"] = Value::String(now.clone());
            }
            c["status"] = Value::String(status.into());
            c["reason"] = Value::String(reason.into());
            c["message"] = Value::String(message.into());
            if c.get("lastUpdateTime").is_some() {
                c["lastUpdateTime"] = Value::String(now);
            }
            true
        }
        None => {
            conds.push(serde_json::json!({
                "type": kind, "status": status, "reason": reason, "message": message,
                "lastTransitionTime": now,
            }));
            true
        }
    }
}

/// The uid of an object's controlling owner.
pub fn controller_uid(v: &Value) -> Option<&str> {
    v["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)?["uid"]
        .as_str()
}

/// Resolves an int-or-percent against a total (as maxSurge/maxUnavailable are).
pub fn int_or_percent(v: &Value, total: i64, round_up: bool, default: &str) -> i64 {
    if let Some(n) = v.as_i64() {
        return n;
    }
    let s = v.as_str().unwrap_or(default);
    match s.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
        Some(p) => {
            let x = p * total as f64 / 100.0;
            if round_up {
                x.ceil() as i64
            } else {
                x.floor() as i64
            }
        }
        None => s.parse().unwrap_or(0),
    }
}

/// A short, stable hash of a JSON value, as a pod-template-hash label.
pub fn template_hash(v: &Value) -> String {
    let text = v.to_string();
    let mut h: u64 = 1469598103934665603;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(1099511628211);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

/// Sets a node condition (with heartbeat time), keeping the transition time when unchanged.
pub fn set_node_condition(v: &mut Value, kind: &str, status: &str, reason: &str, message: &str) {
    set_condition(v, kind, status, reason, message);
    if let Some(cs) = v["status"]["conditions"].as_array_mut() {
        for c in cs.iter_mut().filter(|c| c["type"] == kind) {
            c["lastHeartbeatTime"] = Value::String(super::super::store::now_rfc3339());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_follows_utilisation_outside_the_tolerance() {
        // 3 pods at ~42% of a 50% target: within reach of 3, stays.
        assert_eq!(hpa_desired_replicas(3, &[42.0, 41.0, 44.0], 0, 50), 3);
        // Idle: scales down; busy: scales up.
        assert_eq!(hpa_desired_replicas(4, &[10.0; 4], 0, 50), 1);
        assert_eq!(hpa_desired_replicas(2, &[100.0, 100.0], 0, 50), 4);
        // Within 10% of the target: no change.
        assert_eq!(hpa_desired_replicas(3, &[52.0; 3], 0, 50), 3);
        // No metrics at all: no change.
        assert_eq!(hpa_desired_replicas(3, &[], 3, 50), 3);
    }

    #[test]
    fn hpa_does_not_shrink_while_a_pod_is_replaced() {
        // One of three pods evicted and not ready again: two ready at 42% would say 2, but
        // the missing pod counts as 100% on a scale-down, which turns the ratio: stay at 3.
        assert_eq!(hpa_desired_replicas(3, &[42.0, 42.0], 1, 50), 3);
        // A real scale-down still happens with a pod missing.
        assert_eq!(hpa_desired_replicas(10, &[5.0; 9], 1, 50), 3);
        // On a scale-up the missing pod counts as 0%.
        assert_eq!(hpa_desired_replicas(3, &[90.0, 90.0], 1, 50), 4);
    }
}
