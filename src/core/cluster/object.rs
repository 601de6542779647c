//! One object as text, for the console's `y` (YAML) and `d` (describe) on every kind it
//! lists: nodes, workloads, pods, events — fetched in full, `managedFields` left out — and
//! Helm releases, whose YAML is their manifest from the release Secret. Secret values are
//! masked (`data` / `stringData` of a Secret, and of the Secrets in a release's manifest;
//! a release's secret-looking values).

use crate::core::release::Release;
use crate::core::releases::history::{MASK, mask_manifest, mask_values};
use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;
use std::fmt::Write as _;

/// The kinds the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Node,
    Deployment,
    StatefulSet,
    DaemonSet,
    Pod,
    Event,
    Release,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Node => "Node",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::StatefulSet => "StatefulSet",
            ObjectKind::DaemonSet => "DaemonSet",
            ObjectKind::Pod => "Pod",
            ObjectKind::Event => "Event",
            ObjectKind::Release => "Helm release",
        }
    }
}

impl From<super::WorkloadKind> for ObjectKind {
    fn from(k: super::WorkloadKind) -> Self {
        match k {
            super::WorkloadKind::Deployment => ObjectKind::Deployment,
            super::WorkloadKind::StatefulSet => ObjectKind::StatefulSet,
            super::WorkloadKind::DaemonSet => ObjectKind::DaemonSet,
        }
    }
}

/// YAML (`kubectl get -o yaml`) or a describe (`kubectl describe`-like summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectFormat {
    Yaml,
    Describe,
}

/// An object as JSON, without what only clutters it (`managedFields`), Secret data masked.
pub fn cleaned(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    if v["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(data) = v.get_mut(field).and_then(Value::as_object_mut) {
                for value in data.values_mut() {
                    *value = Value::String(MASK.into());
                }
            }
        }
    }
    v
}

/// An object as YAML, cleaned ([`cleaned`]).
pub fn yaml_of(v: Value) -> String {
    serde_yaml::to_string(&cleaned(v)).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{:<14}{value}", format!("{name}:"));
}

fn map_lines(out: &mut String, name: &str, m: Option<&serde_json::Map<String, Value>>) {
    match m.filter(|m| !m.is_empty()) {
        None => field(out, name, "<none>"),
        Some(m) => {
            for (i, (k, v)) in m.iter().enumerate() {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                // Long annotations (last-applied-configuration) are cut.
                let v = if v.chars().count() > 120 {
                    format!("{}…", v.chars().take(120).collect::<String>())
                } else {
                    v
                };
                if i == 0 {
                    field(out, name, format!("{k}={v}"));
                } else {
                    let _ = writeln!(out, "{:<14}{k}={v}", "");
                }
            }
        }
    }
}

fn yaml_block(out: &mut String, name: &str, v: &Value) {
    let _ = writeln!(out, "{name}:");
    let text = serde_yaml::to_string(v).unwrap_or_default();
    for line in text.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// A `kubectl describe`-like summary of an object: who it is, its spec and status (as
/// YAML, conditions as a table), and the events about it, oldest first.
pub fn describe_of(v: Value, events: &[Event]) -> String {
    let v = cleaned(v);
    let mut out = String::new();
    let meta = &v["metadata"];
    field(&mut out, "Name", meta["name"].as_str().unwrap_or(""));
    if let Some(ns) = meta["namespace"].as_str() {
        field(&mut out, "Namespace", ns);
    }
    field(&mut out, "Kind", v["kind"].as_str().unwrap_or(""));
    map_lines(&mut out, "Labels", meta["labels"].as_object());
    map_lines(&mut out, "Annotations", meta["annotations"].as_object());
    field(
        &mut out,
        "Created",
        meta["creationTimestamp"].as_str().unwrap_or("<unknown>"),
    );
    if let Some(owners) = meta["ownerReferences"].as_array() {
        for o in owners {
            field(
                &mut out,
                "Controlled By",
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                ),
            );
        }
    }
    if v["kind"] == "Event" {
        for (name, key) in [
            ("Type", "type"),
            ("Reason", "reason"),
            ("Message", "message"),
            ("Count", "count"),
            ("First Seen", "firstTimestamp"),
            ("Last Seen", "lastTimestamp"),
        ] {
            if !v[key].is_null() {
                let s = v[key]
                    .as_str()
                    .map_or_else(|| v[key].to_string(), str::to_string);
                field(&mut out, name, s);
            }
        }
        let o = &v["involvedObject"];
        field(
            &mut out,
            "Object",
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            ),
        );
        return out;
    }
    if !v["spec"].is_null() {
        yaml_block(&mut out, "Spec", &v["spec"]);
    }
    let mut status = v["status"].clone();
    let conditions = status
        .as_object_mut()
        .and_then(|s| s.remove("conditions"))
        .and_then(|c| c.as_array().cloned())
        .unwrap_or_default();
    if status.as_object().is_some_and(|s| !s.is_empty()) {
        yaml_block(&mut out, "Status", &status);
    }
    if !conditions.is_empty() {
        let _ = writeln!(out, "Conditions:");
        let _ = writeln!(
            out,
            "  {:<28} {:<8} {:<28} MESSAGE",
            "TYPE", "STATUS", "REASON"
        );
        for c in &conditions {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            let _ = writeln!(
                out,
                "  {:<28} {:<8} {:<28} {}",
                s("type"),
                s("status"),
                s("reason"),
                s("message")
            );
        }
    }
    events_section(&mut out, events);
    out
}

fn events_section(out: &mut String, events: &[Event]) {
    if events.is_empty() {
        let _ = writeln!(out, "Events:       <none>");
        return;
    }
    let _ = writeln!(out, "Events:");
    let _ = writeln!(
        out,
        "  {:<8} {:<24} {:<22} {:>5}  MESSAGE",
        "TYPE", "REASON", "LAST SEEN", "COUNT"
    );
    let mut events: Vec<&Event> = events.iter().collect();
    let seen = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(|e| seen(e));
    for e in events {
        let _ = writeln!(
            out,
            "  {:<8} {:<24} {:<22} {:>5}  {}",
            e.type_.as_deref().unwrap_or(""),
            e.reason.as_deref().unwrap_or(""),
            seen(e),
            e.count.unwrap_or(1),
            e.message.as_deref().unwrap_or("").trim()
        );
    }
}

/// A release's YAML: its manifest (the current revision's, else the latest), Secrets masked.
pub fn release_yaml(r: &Release) -> String {
    let mut out = format!(
        "# Helm release {}/{}, revision {} ({}): its manifest, Secret values masked\n",
        r.namespace, r.name, r.version, r.info.status
    );
    out.push_str(&mask_manifest(&r.manifest));
    out
}

/// A release described: revision, status, chart, times, description, notes and its user
/// values (secret-looking ones masked).
pub fn release_describe(r: &Release) -> String {
    let mut out = String::new();
    field(&mut out, "Name", &r.name);
    field(&mut out, "Namespace", &r.namespace);
    field(&mut out, "Kind", "Helm release");
    field(&mut out, "Revision", r.version);
    field(&mut out, "Status", r.info.status);
    field(
        &mut out,
        "Chart",
        format!("{}-{}", r.chart.metadata.name, r.chart.metadata.version),
    );
    let t = |t: Option<jiff::Timestamp>| t.map_or("<unknown>".to_string(), |t| t.to_string());
    field(&mut out, "First Deployed", t(r.info.first_deployed));
    field(&mut out, "Last Deployed", t(r.info.last_deployed));
    field(&mut out, "Description", &r.info.description);
    if r.config.is_null() || r.config.as_object().is_some_and(|m| m.is_empty()) {
        field(&mut out, "User Values", "<none>");
    } else {
        yaml_block(&mut out, "User Values", &mask_values(&r.config));
    }
    if let Some(notes) = r.info.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        let _ = writeln!(out, "Notes:");
        for line in notes.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

async fn get_value<K>(api: Api<K>, name: &str) -> Result<Value>
where
    K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj = api.get(name).await?;
    Ok(serde_json::to_value(obj)?)
}

/// Fetches an object and renders it as `format`. `namespace` is ignored for nodes.
pub async fn fetch_text(
    client: &kube::Client,
    kind: ObjectKind,
    namespace: &str,
    name: &str,
    format: ObjectFormat,
) -> Result<String> {
    let c = client.clone();
    let v = match kind {
        ObjectKind::Release => {
            let h = crate::core::releases::fetch::release_history(client, namespace, name).await?;
            let r = h
                .current()
                .or_else(|| h.latest())
                .with_context(|| format!("no revision of Helm release {namespace}/{name}"))?;
            return Ok(match format {
                ObjectFormat::Yaml => release_yaml(r),
                ObjectFormat::Describe => release_describe(r),
            });
        }
        ObjectKind::Node => get_value(Api::<Node>::all(c), name).await,
        ObjectKind::Deployment => {
            get_value(Api::<Deployment>::namespaced(c, namespace), name).await
        }
        ObjectKind::StatefulSet => {
            get_value(Api::<StatefulSet>::namespaced(c, namespace), name).await
        }
        ObjectKind::DaemonSet => get_value(Api::<DaemonSet>::namespaced(c, namespace), name).await,
        ObjectKind::Pod => get_value(Api::<Pod>::namespaced(c, namespace), name).await,
        ObjectKind::Event => get_value(Api::<Event>::namespaced(c, namespace), name).await,
    }
    .with_context(|| format!("getting {} {namespace}/{name}", kind.name()))?;
    let mut v = v;
    // Typed objects serialise without their type; say it as kubectl does.
    if v["kind"].is_null() {
        v["kind"] = Value::String(kind.name().to_string());
    }
    Ok(match format {
        ObjectFormat::Yaml => yaml_of(v),
        ObjectFormat::Describe => {
            let events = if kind == ObjectKind::Event {
                Vec::new()
            } else {
                let api: Api<Event> = if kind == ObjectKind::Node {
                    Api::all(client.clone())
                } else {
                    Api::namespaced(client.clone(), namespace)
                };
                let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
                // Events are extra: a describe without them is still a describe.
                api.list(&lp)
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| e.involved_object.kind.as_deref() == Some(kind.name()))
                    .collect()
            };
            describe_of(v, &events)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_leaves_out_managed_fields_and_masks_secret_data() {
        let y = yaml_of(json!({
            "kind": "Secret",
            "metadata": {"name": "s", "managedFields": [{"manager": "kubectl"}]},
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"token": "hunter2"},
        }));
        assert!(!y.contains("managedFields"), "{y}");
        assert!(!y.contains("aHVudGVyMg==") && !y.contains("hunter2"), "{y}");
        assert!(y.contains(MASK), "{y}");
    }

    #[test]
    fn a_release_shows_its_manifest_and_values_with_secrets_masked() {
        let r = Release {
            name: "shop".into(),
            namespace: "shop".into(),
            version: 3,
            manifest: "---\n# Source: shop/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n".into(),
            config: json!({"db": {"password": "hunter2", "host": "pg"}}),
            ..Release::default()
        };
        let y = release_yaml(&r);
        assert!(y.contains("kind: Secret") && y.contains("name: db"), "{y}");
        assert!(!y.contains("hunter2"), "{y}");
        let d = release_describe(&r);
        assert!(d.contains("Revision:     3"), "{d}");
        assert!(d.contains("host: pg") && !d.contains("hunter2"), "{d}");
    }

    #[test]
    fn describe_lists_conditions_and_events() {
        let ev: Event = serde_json::from_value(json!({
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Node", "name": "n1"},
            "type": "Warning", "reason": "NodeNotReady", "message": "kubelet stopped",
            "count": 3, "lastTimestamp": "2025-05-14T10:00:00Z",
        }))
        .unwrap();
        let d = describe_of(
            json!({
                "kind": "Node",
                "metadata": {"name": "n1", "labels": {"role": "worker"}},
                "spec": {"unschedulable": true},
                "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "down"}]},
            }),
            &[ev],
        );
        assert!(d.contains("Name:         n1"), "{d}");
        assert!(d.contains("role=worker"), "{d}");
        assert!(d.contains("unschedulable: true"), "{d}");
        assert!(d.contains("KubeletNotReady"), "{d}");
        assert!(
            d.contains("NodeNotReady") && d.contains("kubelet stopped"),
            "{d}"
        );
    }
}
