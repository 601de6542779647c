//! Records core/v1 Events as the kubelet and controllers do, aggregating repeats into
//! one Event whose count climbs, and expiring old ones.

use super::super::resources::Storage;
use super::super::store::{Store, now_rfc3339};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Events are kept this long, as the API server's default TTL.
const TTL_SECS: i64 = 3600;
/// And at most this many.
const MAX_EVENTS: usize = 20_000;

#[derive(Default)]
pub struct Recorder {
    /// (uid, reason, message) → event name, for aggregation.
    seen: HashMap<(String, String, String), (String, String)>,
    last_sweep: Option<Instant>,
    counter: u64,
}

impl Recorder {
    /// Records an event about `obj` (a stored object's JSON).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        store: &Store,
        obj: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        component: &str,
        host: Option<&str>,
    ) {
        let meta = &obj["metadata"];
        let uid = meta["uid"].as_str().unwrap_or("").to_string();
        let key = (uid.clone(), reason.to_string(), message.to_string());
        let now = now_rfc3339();
        if let Some((ns, name)) = self.seen.get(&key)
            && let Ok(Some(_)) = store.mutate(Storage::Events, ns, name, |e| {
                let c = e["count"].as_i64().unwrap_or(1);
                e["count"] = json!(c + 1);
                e["lastTimestamp"] = json!(now);
                true
            })
        {
            return;
        }
        let ns = meta["namespace"].as_str().unwrap_or("default");
        let ns = if ns.is_empty() { "default" } else { ns };
        self.counter += 1;
        let nanos = jiff::Timestamp::now().as_nanosecond() as u64;
        let name = format!(
            "{}.{:x}",
            meta["name"].as_str().unwrap_or("object"),
            nanos.wrapping_add(self.counter)
        );
        let mut source = json!({"component": component});
        if let Some(h) = host {
            source["host"] = json!(h);
        }
        let mut involved = json!({
            "kind": obj["kind"], "name": meta["name"], "uid": uid,
            "apiVersion": obj["apiVersion"], "resourceVersion": meta["resourceVersion"],
        });
        if let Some(n) = meta["namespace"].as_str() {
            involved["namespace"] = json!(n);
        }
        let event = json!({
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "source": source,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "type": if warning { "Warning" } else { "Normal" },
            "eventTime": null, "reportingComponent": component,
            "reportingInstance": host.unwrap_or(""),
        });
        if store.create(Storage::Events, ns, event).is_ok() {
            self.seen.insert(key, (ns.to_string(), name));
        }
    }

    /// Deletes expired events (every 30 s at most).
    pub fn sweep(&mut self, store: &Store) {
        if self
            .last_sweep
            .is_some_and(|t| t.elapsed() < Duration::from_secs(30))
        {
            return;
        }
        self.last_sweep = Some(Instant::now());
        let now = jiff::Timestamp::now().as_second();
        let mut all: Vec<(i64, String, String)> = store
            .all(Storage::Events)
            .iter()
            .map(|o| {
                let v = o.value();
                let t = v["lastTimestamp"]
                    .as_str()
                    .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                    .map_or(now, |t| t.as_second());
                (t, o.namespace.clone(), o.name.clone())
            })
            .collect();
        all.sort();
        let excess = all.len().saturating_sub(MAX_EVENTS);
        for (i, (t, ns, name)) in all.iter().enumerate() {
            if i < excess || now - t > TTL_SECS {
                let _ = store.delete(Storage::Events, ns, name, None);
            } else {
                break;
            }
        }
        self.seen
            .retain(|_, (ns, name)| store.get(Storage::Events, ns, name).is_some());
    }
}
