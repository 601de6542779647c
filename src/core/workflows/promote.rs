//! Promotion of a release from one environment to the next: what the source environment
//! runs (chart version, supplied values, images), whether it has soaked (deployed and
//! healthy long enough), and the values the target gets — the source's, except that
//! environment-specific values (`values.<env>.yaml` beside the release's `values.yaml` in
//! the values repo) are never copied across: the keys of the source's overlay keep the
//! target's own values, and the target's overlay is laid over the result.
//!
//! The change itself is the guided upgrade ([`super::upgrade`]) on the target.

use crate::core::inventory::{ReleaseRead, read::read_release};
use crate::core::release::ReleaseStatus;
use crate::core::releases::fetch::release_history;
use crate::core::releases::values_repo::ValuesRepo;
use crate::core::workflows::simulated::workload_api;
use anyhow::{Result, anyhow};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// What the source environment has deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub read: ReleaseRead,
    pub status: ReleaseStatus,
    pub deployed_at: Option<jiff::Timestamp>,
    /// The supplied values of the deployed revision (`helm get values`).
    pub values: Value,
}

/// Reads the source's deployed revision, its values and its workloads' images.
pub async fn read_source(client: &kube::Client, ns: &str, release: &str) -> Result<Source> {
    let h = release_history(client, ns, release).await?;
    let current = h
        .current()
        .ok_or_else(|| anyhow!("{ns}/{release} has no readable revision"))?;
    let read = read_release(client, ns, release)
        .await?
        .ok_or_else(|| anyhow!("no Helm release {release:?} in namespace {ns:?}"))?;
    Ok(Source {
        read,
        status: current.info.status,
        deployed_at: current.info.last_deployed,
        values: current.config.clone(),
    })
}

/// The soak check: the source's revision deployed, for at least `soak` by `now`. `Err`
/// says what is missing.
pub fn soak_check(source: &Source, soak: Duration, now: jiff::Timestamp) -> Result<String, String> {
    let rev = source.read.revision;
    if source.status != ReleaseStatus::Deployed {
        return Err(format!("revision {rev} is {}, not deployed", source.status));
    }
    let Some(at) = source.deployed_at else {
        return Err(format!("revision {rev} has no deployment time"));
    };
    let age = now.duration_since(at);
    let needed = jiff::SignedDuration::try_from(soak).unwrap_or(jiff::SignedDuration::MAX);
    let human = |d: jiff::SignedDuration| {
        let m = d.as_secs() / 60;
        if m >= 120 {
            format!("{}h{:02}m", m / 60, m % 60)
        } else {
            format!("{m}m")
        }
    };
    if age < needed {
        return Err(format!(
            "revision {rev} deployed {} ago; the soak time is {}",
            human(age),
            human(needed)
        ));
    }
    Ok(format!(
        "revision {rev} deployed {} ago (soak {})",
        human(age),
        human(needed)
    ))
}

/// The soak of the source: what the soak check found, and what stops a promotion (not
/// deployed long enough, not deployed, workloads not ready now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soak {
    pub note: String,
    pub problems: Vec<String>,
}

impl Soak {
    /// The soak line when it passed or was skipped with `skip` (its reason); `Err` with
    /// the problems when it failed and was not skipped.
    pub fn outcome(&self, skip: Option<&str>) -> Result<String, String> {
        match (skip, self.problems.is_empty()) {
            (_, true) => Ok(format!("{}; healthy", self.note)),
            (Some(reason), false) => {
                Ok(format!("skipped ({reason}): {}", self.problems.join("; ")))
            }
            (None, false) => Err(self.problems.join("; ")),
        }
    }
}

/// The soak check of `source` in environment `env` (its soak time `soak`, by `now`) and
/// the health of its workloads now.
pub async fn soak(
    client: &kube::Client,
    source: &Source,
    env: &str,
    soak: Duration,
    now: jiff::Timestamp,
) -> Soak {
    let mut problems = Vec::new();
    let note = match soak_check(source, soak, now) {
        Ok(n) => n,
        Err(e) => {
            problems.push(e.clone());
            e
        }
    };
    let unhealthy = unhealthy(client, source).await;
    if !unhealthy.is_empty() {
        problems.push(format!("not healthy in {env}: {}", unhealthy.join("; ")));
    }
    Soak { note, problems }
}

/// The commit message's reason of a promotion: the source environment and revision, why
/// the soak was skipped, and the user's own reason.
pub fn reason(from: &str, source: &Source, skip_soak: Option<&str>, why: Option<&str>) -> String {
    let mut r = format!(
        "promote from {from} revision {} ({} {})",
        source.read.revision, source.read.chart, source.read.chart_version
    );
    if let Some(skip) = skip_soak {
        r.push_str(&format!("; soak skipped: {skip}"));
    }
    if let Some(why) = why {
        r.push_str(&format!("; {why}"));
    }
    r
}

/// Where a promotion's revision came from, out of its [`reason`]: `stage revision 4 (mr-ee
/// 1.4.2)`; `None` for a change that is not a promotion.
pub fn source_of(reason: &str) -> Option<&str> {
    let first = reason.lines().next()?.split("; ").next()?;
    first.strip_prefix("promote from ")
}

/// The values the target (`release` in `ns` of environment `to`, read through `client`)
/// gets, as YAML: the source's, its overlay's keys kept at the target's values, the
/// target's overlay over them ([`promoted_values`]); empty when there are none.
pub async fn target_values(
    client: &kube::Client,
    repo: &Path,
    source: &Source,
    (from, to): (&str, &str),
    ns: &str,
    release: &str,
) -> Result<String> {
    let h = release_history(client, ns, release).await?;
    let current = h.current().map(|r| r.config.clone()).unwrap_or_default();
    let from_overlay = read_overlay(repo, &source.read.namespace, release, from)?;
    let to_overlay = read_overlay(repo, ns, release, to)?;
    let values = promoted_values(
        &source.values,
        &current,
        from_overlay.as_ref(),
        to_overlay.as_ref(),
    );
    if values.is_null() {
        return Ok(String::new());
    }
    Ok(serde_yaml::to_string(&values)?)
}

/// The source's workloads that are not ready now: `deploy/router: 1/2 ready`.
pub async fn unhealthy(client: &kube::Client, source: &Source) -> Vec<String> {
    let mut out = Vec::new();
    for w in &source.read.workloads {
        let kind = match w.kind.as_str() {
            "Deployment" => crate::core::cluster::model::WorkloadKind::Deployment,
            "StatefulSet" => crate::core::cluster::model::WorkloadKind::StatefulSet,
            _ => crate::core::cluster::model::WorkloadKind::DaemonSet,
        };
        let name = format!("{}/{}", kind.short(), w.name);
        match workload_api(client, &source.read.namespace, kind)
            .get_opt(&w.name)
            .await
        {
            Ok(Some(o)) => {
                let (ready, desired) = readiness(&o.data);
                if ready < desired {
                    out.push(format!("{name}: {ready}/{desired} ready"));
                }
            }
            Ok(None) => out.push(format!("{name}: not found")),
            Err(e) => out.push(format!("{name}: {e}")),
        }
    }
    out
}

/// `(ready, desired)` of a Deployment, StatefulSet or DaemonSet.
fn readiness(o: &Value) -> (i64, i64) {
    let s = &o["status"];
    if o["kind"] == "DaemonSet" || s.get("desiredNumberScheduled").is_some() {
        return (
            s["numberReady"].as_i64().unwrap_or(0),
            s["desiredNumberScheduled"].as_i64().unwrap_or(0),
        );
    }
    (
        s["readyReplicas"].as_i64().unwrap_or(0),
        o["spec"]["replicas"].as_i64().unwrap_or(1),
    )
}

/// The images that will change: `deploy/router: router:3.3.0 → router:3.4.1`.
pub fn image_changes(source: &ReleaseRead, target: Option<&ReleaseRead>) -> Vec<String> {
    let mut out = Vec::new();
    for w in &source.workloads {
        let before = target
            .and_then(|t| {
                t.workloads
                    .iter()
                    .find(|x| x.kind == w.kind && x.name == w.name)
            })
            .map(|x| x.template.join(", "));
        let after = w.template.join(", ");
        match before {
            Some(b) if b == after => {}
            Some(b) => out.push(format!("{}: {b} → {after}", w.name)),
            None => out.push(format!("{}: (new) {after}", w.name)),
        }
    }
    out
}

/// The values repo's record of what the source environment deployed, checked against the
/// release it runs: a line that says they agree, or how they differ (a change made outside
/// helmdeck, or none recorded). What is promoted is what the source runs either way.
pub fn check_record(repo: &Path, env: &str, release: &str, source: &Source) -> String {
    let ns = &source.read.namespace;
    let dir = ValuesRepo::release_dir(Some(env), ns, release);
    if !repo.join(".git").exists() {
        return format!(
            "values repo: none yet at {}; promoting what {env} runs",
            repo.display()
        );
    }
    let read = ValuesRepo::open_or_init(repo).and_then(|r| {
        let record = r.read_at("HEAD", Some(env), ns, release)?.0;
        let commit = r.log(Some(env), ns, release)?.into_iter().next();
        Ok((record, commit))
    });
    let (record, commit) = match read {
        Ok(found) => found,
        Err(e) => {
            return format!("values repo: no record of {dir} ({e}); promoting what {env} runs");
        }
    };
    let at = commit
        .map(|c| c.id[..c.id.len().min(8)].to_string())
        .unwrap_or_default();
    let runs = (&source.read.chart_version, source.read.revision);
    let agrees = record.version == *runs.0 && record.revision.is_none_or(|r| r == runs.1);
    if agrees {
        format!(
            "values repo: {dir} at {at} records {} {} (revision {}), as {env} runs",
            record.chart, record.version, runs.1
        )
    } else {
        format!(
            "values repo: {dir} at {at} records {} {}{}, but {env} runs {} revision {} (changed outside helmdeck?); promoting what {env} runs",
            record.chart,
            record.version,
            record
                .revision
                .map(|r| format!(" revision {r}"))
                .unwrap_or_default(),
            runs.0,
            runs.1
        )
    }
}

/// An environment's overlay in the values repo, beside the environment's own record:
/// `<repo>/<env>/<ns>/<release>/values.<env>.yaml`, `None` when there is none.
pub fn read_overlay(repo: &Path, ns: &str, release: &str, env: &str) -> Result<Option<Value>> {
    let path = repo
        .join(ValuesRepo::release_dir(Some(env), ns, release))
        .join(format!("values.{env}.yaml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => crate::core::yaml::from_str::<Value>(&text)
            .map(Some)
            .map_err(|e| anyhow!("{}: not valid YAML: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// The values the target gets: the source's deployed values, where every key of the
/// source's overlay keeps the target's current value (or is left out when the target has
/// none), with the target's overlay laid over.
pub fn promoted_values(
    source: &Value,
    target_current: &Value,
    source_overlay: Option<&Value>,
    target_overlay: Option<&Value>,
) -> Value {
    let mut out = source.clone();
    if let Some(overlay) = source_overlay {
        let mut paths = Vec::new();
        leaves(overlay, &mut Vec::new(), &mut paths);
        for path in paths {
            match lookup(target_current, &path) {
                Some(v) => set(&mut out, &path, v.clone()),
                None => remove(&mut out, &path),
            }
        }
    }
    if let Some(overlay) = target_overlay {
        merge(&mut out, overlay);
    }
    out
}

fn leaves(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                at.push(k.clone());
                leaves(child, at, out);
                at.pop();
            }
        }
        _ => out.push(at.clone()),
    }
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.as_object()?.get(k))
}

fn set(v: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *v = value;
        return;
    };
    let mut at = v;
    for k in parents {
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        at = at
            .as_object_mut()
            .expect("made an object")
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    if !at.is_object() {
        *at = Value::Object(Default::default());
    }
    at.as_object_mut()
        .expect("made an object")
        .insert(last.clone(), value);
}

fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = v;
    for k in parents {
        match at.as_object_mut().and_then(|m| m.get_mut(k)) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(m) = at.as_object_mut() {
        m.remove(last);
    }
}

/// Lays `over` over `base`, maps merged key by key (as Helm merges values files).
fn merge(base: &mut Value, over: &Value) {
    match (base.as_object_mut(), over.as_object()) {
        (Some(b), Some(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *base = over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_values_are_never_copied_across() {
        let stage = json!({"image": {"tag": "3.4.1"}, "router": {"replicas": 2},
            "destinations": {"adobe": {"reportSuite": "rs-stage"}}, "stageOnly": {"debug": true}});
        let prod = json!({"image": {"tag": "3.3.0"}, "router": {"replicas": 4},
            "destinations": {"adobe": {"reportSuite": "rs-prod"}}});
        let stage_overlay = json!({"destinations": {"adobe": {"reportSuite": "rs-stage"}},
            "stageOnly": {"debug": true}});
        let prod_overlay = json!({"router": {"replicas": 4}});
        let out = promoted_values(&stage, &prod, Some(&stage_overlay), Some(&prod_overlay));
        assert_eq!(
            out,
            json!({"image": {"tag": "3.4.1"}, "router": {"replicas": 4},
                "destinations": {"adobe": {"reportSuite": "rs-prod"}}, "stageOnly": {}})
        );
        // No overlays: the source's values as they are.
        assert_eq!(promoted_values(&stage, &prod, None, None), stage);
    }

    #[test]
    fn a_promotions_source_is_read_back_from_its_reason() {
        let source = Source {
            read: ReleaseRead {
                revision: 4,
                chart: "mr-ee".into(),
                chart_version: "1.4.2".into(),
                ..Default::default()
            },
            status: ReleaseStatus::Deployed,
            deployed_at: None,
            values: Value::Null,
        };
        let r = reason("stage", &source, Some("hotfix; really"), Some("ticket 7"));
        assert_eq!(source_of(&r), Some("stage revision 4 (mr-ee 1.4.2)"));
        assert_eq!(source_of("upgrade for Pinterest v5"), None);
        assert_eq!(source_of(""), None);
    }

    #[test]
    fn the_soak_check_needs_a_deployed_revision_old_enough() {
        let now: jiff::Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let mut s = Source {
            read: ReleaseRead {
                revision: 4,
                ..Default::default()
            },
            status: ReleaseStatus::Deployed,
            deployed_at: Some("2026-01-01T11:00:00Z".parse().unwrap()),
            values: Value::Null,
        };
        let soak = Duration::from_secs(30 * 60);
        assert_eq!(
            soak_check(&s, soak, now),
            Ok("revision 4 deployed 60m ago (soak 30m)".into())
        );
        assert_eq!(
            soak_check(&s, Duration::from_secs(3 * 3600), now),
            Err("revision 4 deployed 60m ago; the soak time is 3h00m".into())
        );
        s.status = ReleaseStatus::Failed;
        assert!(
            soak_check(&s, soak, now)
                .unwrap_err()
                .contains("not deployed")
        );
    }
}
