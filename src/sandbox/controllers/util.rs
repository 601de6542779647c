//! Simulated controllers.

use serde_json::Value;

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
