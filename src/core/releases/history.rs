//! A release's history and the difference between two revisions, from the revisions
//! decoded out of Helm's release Secrets ([`crate::core::release`]). Pure: no I/O.
//!
//! Values that look secret (`password`, `secretKey`, `token`, `accessKey`, … at any depth,
//! case-insensitive) are masked as `****` unless the caller asks to reveal them; so are
//! the `data` / `stringData` of Secrets in a manifest.

use crate::core::release::{Release, ReleaseHistory, ReleaseStatus};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a masked value is shown as.
pub const MASK: &str = "****";

/// One line of `helmdeck history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub revision: i64,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    pub status: ReleaseStatus,
    pub description: String,
    pub updated: Option<jiff::Timestamp>,
}

/// The rows of a history, in ascending revision order (the decoded version, not the
/// Secret name).
pub fn rows(history: &ReleaseHistory) -> Vec<HistoryRow> {
    let mut rows: Vec<HistoryRow> = history.revisions.iter().map(row).collect();
    rows.sort_by_key(|r| r.revision);
    rows
}

fn row(r: &Release) -> HistoryRow {
    HistoryRow {
        revision: r.version,
        chart: r.chart.metadata.name.clone(),
        chart_version: r.chart.metadata.version.clone(),
        app_version: r.chart.metadata.app_version.clone(),
        status: r.info.status,
        description: r.info.description.clone(),
        updated: r.info.last_deployed.or(r.info.first_deployed),
    }
}

// ---------------------------------------------------------------------------
// Revisions that cannot be read
// ---------------------------------------------------------------------------

/// A revision whose release Secret could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// The revision its Secret's name gives (`sh.helm.release.v1.<name>.v<N>`), when it
    /// follows Helm's naming.
    pub revision: Option<i64>,
    pub secret: String,
    /// What failed: not base64, not gzip, not a release's JSON…
    pub error: String,
}

impl Unreadable {
    /// `revision 3 (Secret sh.helm.release.v1.ee.v3)`, or the Secret alone.
    pub fn name(&self) -> String {
        match self.revision {
            Some(r) => format!("revision {r} (Secret {})", self.secret),
            None => format!("Secret {}", self.secret),
        }
    }
}

/// The revisions of a history that could not be decoded, by revision.
pub fn unreadable(history: &ReleaseHistory) -> Vec<Unreadable> {
    let mut out: Vec<Unreadable> = history
        .errors
        .iter()
        .map(|f| Unreadable {
            revision: revision_of_secret(&f.secret),
            secret: f.secret.clone(),
            error: f.error.to_string(),
        })
        .collect();
    out.sort_by(|a, b| (a.revision, &a.secret).cmp(&(b.revision, &b.secret)));
    out
}

/// The revision in a release Secret's name: `sh.helm.release.v1.ee.v12` → 12.
fn revision_of_secret(secret: &str) -> Option<i64> {
    secret
        .strip_prefix(crate::core::release::RELEASE_SECRET_PREFIX)?
        .rsplit_once(".v")
        .and_then(|(_, v)| v.parse().ok())
}

/// What a history holds, for a message about a revision it lacks: `revisions 1, 2, 4;
/// revision 3 could not be decoded`, or `no revision that could be decoded (revisions 1, 2
/// could not be)`.
pub fn revisions_summary(history: &ReleaseHistory) -> String {
    let join = |v: Vec<String>| v.join(", ");
    let readable = join(
        history
            .revisions
            .iter()
            .map(|r| r.version.to_string())
            .collect(),
    );
    let bad = unreadable(history);
    let bad_names = join(
        bad.iter()
            .map(|u| {
                u.revision
                    .map_or_else(|| u.secret.clone(), |r| r.to_string())
            })
            .collect(),
    );
    match (readable.is_empty(), bad.len()) {
        (false, 0) => format!("it has revisions {readable}"),
        (false, _) => format!("it has revisions {readable}; {bad_names} could not be decoded"),
        (true, 0) => "it has no revision".to_string(),
        (true, _) => format!("none of its revisions could be decoded ({bad_names})"),
    }
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

/// Words that make a key secret once `-`/`_` are removed and it is lower-cased.
const SECRET_WORDS: [&str; 10] = [
    "password",
    "passwd",
    "secret",
    "token",
    "accesskey",
    "apikey",
    "privatekey",
    "credential",
    "connectionstring",
    "sharedaccesskey",
];

/// Whether a values key names something secret: `password`, `saslPassword`, `secretKey`,
/// `apiSecret`, `authToken`, `accessKey`, `api_key`, `private-key`… (case-insensitive).
/// Keys that only name where a secret is kept (`existingSecret`, `secretName`,
/// `passwordSecretRef`) are not.
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| *c != '-' && *c != '_' && *c != '.')
        .flat_map(char::to_lowercase)
        .collect();
    if k.starts_with("existing")
        || k.ends_with("name")
        || k.ends_with("ref")
        || k.ends_with("keyref")
    {
        return false;
    }
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// The values with every secret-looking value replaced by [`MASK`] (a secret key's whole
/// subtree is masked leaf by leaf, so its shape still shows).
pub fn mask_values(v: &Value) -> Value {
    fn mask_all(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), mask_all(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(mask_all).collect()),
            Value::Null => Value::Null,
            _ => Value::String(MASK.into()),
        }
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) {
                        mask_all(v)
                    } else {
                        mask_values(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask_values).collect()),
        other => other.clone(),
    }
}

/// What a masked secret shows in the newer of two revisions when its value changed: a
/// masked diff hides the value, not the change.
pub const MASK_CHANGED: &str = "**** (changed)";

/// Both values masked as [`mask_values`] does, except that a secret leaf whose value differs
/// between them shows as [`MASK_CHANGED`] in `b` (so a diff of the two says it changed;
/// an unchanged one stays `****` on both sides).
pub fn mask_values_pair(a: &Value, b: &Value) -> (Value, Value) {
    fn mark(a: Option<&Value>, b: &Value, secret: bool) -> Value {
        match b {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let under = a.and_then(|a| a.get(k));
                        (k.clone(), mark(under, v, secret || is_secret_key(k)))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| mark(a.and_then(|a| a.get(i)), v, secret))
                    .collect(),
            ),
            Value::Null => Value::Null,
            leaf if secret => match a {
                Some(old) if old != leaf && !old.is_null() => Value::String(MASK_CHANGED.into()),
                _ => Value::String(MASK.into()),
            },
            leaf => leaf.clone(),
        }
    }
    (mask_values(a), mark(Some(a), b, false))
}

/// Both values as YAML (`{}` when none), masked as [`mask_values_pair`] unless `reveal`.
pub fn values_yaml_pair(a: &Value, b: &Value, reveal: bool) -> (String, String) {
    if reveal {
        return (values_yaml(a, true), values_yaml(b, true));
    }
    let (ma, mb) = mask_values_pair(a, b);
    (values_yaml(&ma, true), values_yaml(&mb, true))
}

/// Secret-looking values at any depth, as dotted paths (`global.kafka.saslPassword`), for
/// warning before plain-text secrets are committed.
pub fn secret_paths(v: &Value) -> Vec<String> {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if is_secret_key(k) && !v.is_null() {
                        out.push(p);
                    } else {
                        walk(v, &p, out);
                    }
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// The supplied values as YAML (`{}` when none), masked unless `reveal`.
pub fn values_yaml(values: &Value, reveal: bool) -> String {
    if values.is_null() || values.as_object().is_some_and(|m| m.is_empty()) {
        return "{}\n".into();
    }
    let v = if reveal {
        values.clone()
    } else {
        mask_values(values)
    };
    serde_yaml::to_string(&v).unwrap_or_else(|e| format!("# cannot render values: {e}\n"))
}

/// A manifest with the `data` / `stringData` values of its Secrets masked (line by line,
/// so the rest of the text is untouched).
pub fn mask_manifest(manifest: &str) -> String {
    mask_manifest_against(manifest, None)
}

/// Both manifests masked; a Secret's value that differs between them shows as
/// [`MASK_CHANGED`] in `b`.
pub fn mask_manifest_pair(a: &str, b: &str) -> (String, String) {
    let before = secret_values(a);
    (mask_manifest(a), mask_manifest_against(b, Some(&before)))
}

/// (Secret name, key) → value of the Secrets' `data` / `stringData` in a manifest.
fn secret_values(manifest: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for doc in split_documents(manifest) {
        let name = secret_name(doc);
        let mut in_data = false;
        for line in doc.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_end();
            if indent == 0 && !trimmed.is_empty() {
                in_data = trimmed == "data:" || trimmed == "stringData:";
            } else if in_data && let Some((key, rest)) = trimmed.split_once(':') {
                out.insert(
                    (name.clone(), key.trim().to_string()),
                    rest.trim().to_string(),
                );
            }
        }
    }
    out
}

/// The `metadata.name` of a Secret document ("" when it is not one or has none).
fn secret_name(doc: &str) -> String {
    if !doc.lines().any(|l| l.trim_end() == "kind: Secret") {
        return String::new();
    }
    let mut in_meta = false;
    for line in doc.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            in_meta = line.trim_end() == "metadata:";
        } else if in_meta
            && indent == 2
            && let Some(name) = line.trim().strip_prefix("name:")
        {
            return name.trim().trim_matches(['"', '\'']).to_string();
        }
    }
    String::new()
}

fn mask_manifest_against(
    manifest: &str,
    before: Option<&BTreeMap<(String, String), String>>,
) -> String {
    let mut out = String::with_capacity(manifest.len());
    for doc in split_documents(manifest) {
        let name = secret_name(doc);
        let is_secret = doc.lines().any(|l| l.trim_end() == "kind: Secret");
        if !is_secret {
            out.push_str(doc);
            continue;
        }
        let mut in_data = false;
        for line in doc.split_inclusive('\n') {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_end();
            if indent == 0 && !trimmed.is_empty() {
                in_data = trimmed == "data:" || trimmed == "stringData:";
                out.push_str(line);
            } else if in_data
                && let Some((key, rest)) = trimmed.split_once(':')
                && !rest.trim().is_empty()
            {
                let changed = before
                    .and_then(|b| b.get(&(name.clone(), key.trim().to_string())))
                    .is_some_and(|old| old != rest.trim());
                out.push_str(key);
                out.push_str(": ");
                out.push_str(if changed { MASK_CHANGED } else { MASK });
                out.push('\n');
            } else {
                out.push_str(line);
            }
        }
    }
    out
}

/// Splits a multi-document YAML text at `---` lines, keeping the separators.
fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > start && line.trim_end() == "---" {
            docs.push(&text[start..pos]);
            start = pos;
        }
        pos += line.len();
    }
    if start < text.len() {
        docs.push(&text[start..]);
    }
    docs
}

// ---------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------

/// What a line of a unified diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// `--- a` / `+++ b`.
    Header,
    /// `@@ -1,3 +1,4 @@`.
    Hunk,
    Context,
    Added,
    Removed,
}

/// One line of a unified diff, with its `+`/`-`/` ` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub kind: LineKind,
    pub text: String,
}

/// The difference between two revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionDiff {
    pub from: i64,
    pub to: i64,
    /// `chart-1.4.2 → chart-1.5.0`, when the chart or its version changed.
    pub chart: Option<String>,
    pub values: Vec<DiffLine>,
    pub manifest: Vec<DiffLine>,
    /// Secrets were masked.
    pub masked: bool,
}

impl RevisionDiff {
    /// Unified-diff text (values, then manifest).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.chart {
            out.push_str(&format!("chart: {c}\n"));
        }
        for (what, lines) in [("values", &self.values), ("manifest", &self.manifest)] {
            if lines.is_empty() {
                out.push_str(&format!("{what}: no change\n"));
            }
            for l in lines {
                out.push_str(&l.text);
                out.push('\n');
            }
        }
        out
    }
}

/// Unified diff lines between two texts (3 lines of context).
pub fn unified(a: &str, b: &str, a_name: &str, b_name: &str) -> Vec<DiffLine> {
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(a, b);
    let mut out = Vec::new();
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    for hunk in unified.iter_hunks() {
        if out.is_empty() {
            out.push(DiffLine {
                kind: LineKind::Header,
                text: format!("--- {a_name}"),
            });
            out.push(DiffLine {
                kind: LineKind::Header,
                text: format!("+++ {b_name}"),
            });
        }
        out.push(DiffLine {
            kind: LineKind::Hunk,
            text: hunk.header().to_string(),
        });
        for change in hunk.iter_changes() {
            let (kind, sign) = match change.tag() {
                similar::ChangeTag::Equal => (LineKind::Context, ' '),
                similar::ChangeTag::Insert => (LineKind::Added, '+'),
                similar::ChangeTag::Delete => (LineKind::Removed, '-'),
            };
            let value = change.value();
            let text = value.strip_suffix('\n').unwrap_or(value);
            out.push(DiffLine {
                kind,
                text: format!("{sign}{text}"),
            });
        }
    }
    out
}

/// The difference from revision `a` to revision `b`: supplied values and manifest.
pub fn diff(a: &Release, b: &Release, reveal: bool) -> RevisionDiff {
    let (ma, mb) = (&a.chart.metadata, &b.chart.metadata);
    let chart = (ma.name != mb.name || ma.version != mb.version)
        .then(|| format!("{}-{} → {}-{}", ma.name, ma.version, mb.name, mb.version));
    let (values_a, values_b) = values_yaml_pair(&a.config, &b.config, reveal);
    let values = unified(
        &values_a,
        &values_b,
        &format!("values (revision {})", a.version),
        &format!("values (revision {})", b.version),
    );
    let (man_a, man_b) = if reveal {
        (a.manifest.clone(), b.manifest.clone())
    } else {
        mask_manifest_pair(&a.manifest, &b.manifest)
    };
    let manifest = unified(
        &man_a,
        &man_b,
        &format!("manifest (revision {})", a.version),
        &format!("manifest (revision {})", b.version),
    );
    RevisionDiff {
        from: a.version,
        to: b.version,
        chart,
        values,
        manifest,
        masked: !reveal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::release::{ChartMetadata, release_secret};
    use serde_json::json;

    fn rev(v: i64, chart_version: &str, config: Value, manifest: &str) -> Release {
        let mut r = Release {
            name: "ee".into(),
            namespace: "mr-ee".into(),
            version: v,
            config,
            manifest: manifest.into(),
            ..Default::default()
        };
        r.chart.metadata = ChartMetadata {
            name: "mr-ee".into(),
            version: chart_version.into(),
            app_version: "3.4.1".into(),
            ..Default::default()
        };
        r.info.status = ReleaseStatus::Superseded;
        r.info.description = format!("Upgrade {v}");
        r
    }

    #[test]
    fn undecodable_revisions_are_named_by_revision_and_cause() {
        use crate::core::release::{ReleaseDecodeError, SecretDecodeFailure};
        let failure = |secret: &str, error| SecretDecodeFailure {
            secret: secret.into(),
            error,
        };
        let mut h = ReleaseHistory {
            name: "ee".into(),
            namespace: "mr-ee".into(),
            revisions: vec![
                rev(1, "1.0.0", json!({}), ""),
                rev(4, "1.1.0", json!({}), ""),
            ],
            errors: vec![
                failure(
                    "sh.helm.release.v1.ee.v3",
                    ReleaseDecodeError::Gzip("corrupt deflate stream".into()),
                ),
                failure(
                    "sh.helm.release.v1.ee.v2",
                    ReleaseDecodeError::MissingPayload,
                ),
            ],
        };
        let bad = unreadable(&h);
        assert_eq!(
            bad.iter().map(|u| u.revision).collect::<Vec<_>>(),
            [Some(2), Some(3)]
        );
        assert_eq!(
            bad[0].name(),
            "revision 2 (Secret sh.helm.release.v1.ee.v2)"
        );
        assert_eq!(bad[0].error, "secret has no data.release");
        assert!(bad[1].error.contains("not valid gzip"), "{:?}", bad[1]);
        assert_eq!(
            revisions_summary(&h),
            "it has revisions 1, 4; 2, 3 could not be decoded"
        );
        h.revisions.clear();
        assert_eq!(
            revisions_summary(&h),
            "none of its revisions could be decoded (2, 3)"
        );
        h.errors.clear();
        assert_eq!(revisions_summary(&h), "it has no revision");
        assert_eq!(revision_of_secret("sh.helm.release.v1.a.v2.v10"), Some(10));
        assert_eq!(revision_of_secret("my-secret"), None);
    }

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "Password",
            "saslPassword",
            "secretKey",
            "apiSecret",
            "authToken",
            "accessKey",
            "access_key",
            "API-KEY",
            "rootPassword",
            "accessToken",
            "clientSecret",
            "privateKey",
            "SharedAccessKey",
            "token",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "name",
            "replicas",
            "existingSecret",
            "secretName",
            "passwordSecretRef",
            "topic",
            "keyId",
            "image",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn a_masked_diff_shows_that_a_secret_changed() {
        let a = json!({"db": {"password": "old", "user": "app"}, "token": "t"});
        let b = json!({"db": {"password": "new", "user": "app"}, "token": "t"});
        let (ya, yb) = values_yaml_pair(&a, &b, false);
        assert!(!ya.contains("old") && !yb.contains("new"), "{ya}{yb}");
        let d = unified(&ya, &yb, "a", "b");
        let changed: Vec<&str> = d
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Added | LineKind::Removed))
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(
            changed,
            ["-  password: '****'", "+  password: '**** (changed)'"]
        );
        // Unchanged: nothing to show.
        let (ya, yb) = values_yaml_pair(&a, &a, false);
        assert_eq!(ya, yb);

        let secret = |v: &str| {
            format!(
                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: {v}\n  user: YXBw\n"
            )
        };
        let (ma, mb) = mask_manifest_pair(&secret("b2xk"), &secret("bmV3"));
        assert!(mb.contains("password: **** (changed)") && mb.contains("user: ****\n"));
        assert!(!ma.contains("changed") && !mb.contains("bmV3"));
        let (ma, mb) = mask_manifest_pair(&secret("b2xk"), &secret("b2xk"));
        assert_eq!(ma, mb);
    }

    #[test]
    fn masks_nested_secrets_and_keeps_the_rest() {
        let v = json!({
            "global": {"kafka": {"saslPassword": "hunter2", "bootstrap": "k:9093"}},
            "minio": {"accessKey": "AKIA", "secretKey": "s3"},
            "auth": {"token": {"value": "t", "ttl": 3}},
            "list": [{"apiSecret": "x", "id": 1}],
            "existingSecret": "db-creds",
            "replicas": 2,
        });
        let m = mask_values(&v);
        assert_eq!(m["global"]["kafka"]["saslPassword"], json!(MASK));
        assert_eq!(m["global"]["kafka"]["bootstrap"], json!("k:9093"));
        assert_eq!(m["minio"], json!({"accessKey": MASK, "secretKey": MASK}));
        assert_eq!(m["auth"]["token"], json!({"value": MASK, "ttl": MASK}));
        assert_eq!(m["list"][0], json!({"apiSecret": MASK, "id": 1}));
        assert_eq!(m["existingSecret"], json!("db-creds"));
        assert_eq!(m["replicas"], json!(2));
        let yaml = values_yaml(&v, false);
        assert!(
            !yaml.contains("hunter2") && !yaml.contains("AKIA"),
            "{yaml}"
        );
        assert!(values_yaml(&v, true).contains("hunter2"));
        assert_eq!(
            secret_paths(&v),
            [
                "auth.token",
                "global.kafka.saslPassword",
                "list[0].apiSecret",
                "minio.accessKey",
                "minio.secretKey"
            ]
        );
    }

    #[test]
    fn masks_secret_data_in_manifests() {
        let manifest = "---\n# Source: a/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: aHVudGVyMg==\nstringData:\n  token: abc\ntype: Opaque\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  password: visible-in-configmap\n";
        let masked = mask_manifest(manifest);
        assert!(
            !masked.contains("aHVudGVyMg==") && !masked.contains("token: abc"),
            "{masked}"
        );
        assert!(
            masked.contains("  password: ****\n") && masked.contains("type: Opaque\n"),
            "{masked}"
        );
        assert!(
            masked.contains("visible-in-configmap"),
            "only Secrets are masked"
        );
        assert_eq!(masked.lines().count(), manifest.lines().count());
    }

    #[test]
    fn rows_are_ordered_by_decoded_revision() {
        let secrets: Vec<_> = [10, 2, 1, 9]
            .into_iter()
            .map(|v| release_secret(&rev(v, &format!("1.{v}.0"), Value::Null, "")).unwrap())
            .collect();
        let h = &crate::core::release::history(&secrets)[0];
        let rows = rows(h);
        let revs: Vec<i64> = rows.iter().map(|r| r.revision).collect();
        assert_eq!(revs, [1, 2, 9, 10]);
        assert_eq!(rows[3].chart_version, "1.10.0");
        assert_eq!(rows[3].description, "Upgrade 10");
        assert_eq!(rows[3].status, ReleaseStatus::Superseded);
    }

    #[test]
    fn diff_of_values_and_manifest() {
        let a = rev(
            3,
            "1.4.2",
            json!({"router": {"replicas": 2}, "kafka": {"saslPassword": "old-pw"}}),
            "kind: Deployment\nspec:\n  replicas: 2\n  image: router:3.4.1\n",
        );
        let b = rev(
            4,
            "1.5.0",
            json!({"router": {"replicas": 3}, "kafka": {"saslPassword": "new-pw"}}),
            "kind: Deployment\nspec:\n  replicas: 3\n  image: router:3.4.1\n",
        );
        let d = diff(&a, &b, false);
        assert_eq!(d.chart.as_deref(), Some("mr-ee-1.4.2 → mr-ee-1.5.0"));
        let text: Vec<&str> = d.values.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            text,
            [
                "--- values (revision 3)",
                "+++ values (revision 4)",
                "@@ -1,4 +1,4 @@",
                " kafka:",
                // The value stays hidden; that it changed does not.
                "-  saslPassword: '****'",
                "+  saslPassword: '**** (changed)'",
                " router:",
                "-  replicas: 2",
                "+  replicas: 3",
            ]
        );
        // A changed secret is not shown, masked on both sides (so no line differs).
        assert!(!d.to_text().contains("pw"));
        let revealed = diff(&a, &b, true);
        assert!(
            revealed
                .values
                .iter()
                .any(|l| l.kind == LineKind::Added && l.text == "+  saslPassword: new-pw")
        );
        let added: Vec<&str> = d
            .manifest
            .iter()
            .filter(|l| l.kind == LineKind::Added)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(added, ["+  replicas: 3"]);

        let same = diff(&a, &a, false);
        assert!(same.values.is_empty() && same.manifest.is_empty() && same.chart.is_none());
        assert!(same.to_text().contains("values: no change"));
    }
}
