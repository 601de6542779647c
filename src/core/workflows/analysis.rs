//! Verification by metrics: a platform's `analysis` queries, evaluated against its
//! Prometheus during an upgrade's verify step, as Argo Rollouts' AnalysisTemplate with its
//! Prometheus provider does — `count` measurements `interval` apart, the analysis failing
//! once more than `failure_limit` of them are outside the thresholds. A query that returns
//! nothing is an inconclusive measurement; an analysis with no conclusive measurement at
//! all fails (it was asked for, and nothing vouched for the change), as does one that cannot
//! reach Prometheus `error_limit` times in a row.
//!
//! ```yaml
//! platforms:
//!   - name: mr-ee
//!     namespace: mr-ee
//!     prometheus: {url: "http://prometheus:9090", headers: {X-Scope-OrgID: team-a}}
//!     analysis:
//!       error_rate:
//!         query: sum(rate(http_requests_total{code=~"5..",namespace="mr-ee"}[1m])) / sum(rate(http_requests_total{namespace="mr-ee"}[1m]))
//!         max: 0.01
//!         interval: 10s   # default 10s
//!         count: 6        # default 6
//!         failure_limit: 0
//! ```

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A threshold: a float compared by its bits, so configs stay `Eq`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub struct Threshold(pub f64);

impl PartialEq for Threshold {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Threshold {}

/// `prometheus:` of a platform. Header values may carry credentials: they are sent, never
/// printed or logged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// One query of `analysis:` with its thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricCheck {
    /// PromQL returning one number (a scalar, or a vector whose first sample is taken).
    pub query: String,
    /// Passes when the value is at most this.
    #[serde(default)]
    pub max: Option<Threshold>,
    /// Passes when the value is at least this.
    #[serde(default)]
    pub min: Option<Threshold>,
    /// Between measurements (`10s`, `1m`).
    #[serde(default)]
    pub interval: Option<String>,
    /// How many measurements.
    #[serde(default)]
    pub count: Option<u32>,
    /// How many measurements may fail before the analysis does.
    #[serde(default)]
    pub failure_limit: Option<u32>,
    /// How many errors in a row (Prometheus unreachable, a bad query) fail it.
    #[serde(default)]
    pub error_limit: Option<u32>,
}

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_COUNT: u32 = 6;
const DEFAULT_ERROR_LIMIT: u32 = 4;

impl MetricCheck {
    fn interval(&self) -> Duration {
        self.interval
            .as_deref()
            .and_then(|s| crate::cli::scale::parse_duration(s).ok())
            .unwrap_or(DEFAULT_INTERVAL)
    }

    /// What a value is checked against, for messages: `≤ 0.01`, `≥ 5`, `≥ 1 and ≤ 9`.
    fn bounds(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("≥ {} and ≤ {}", lo.0, hi.0),
            (Some(lo), None) => format!("≥ {}", lo.0),
            (None, Some(hi)) => format!("≤ {}", hi.0),
            (None, None) => "any value".into(),
        }
    }

    fn passes(&self, v: f64) -> bool {
        self.max.is_none_or(|m| v <= m.0) && self.min.is_none_or(|m| v >= m.0)
    }

    /// Config errors, named.
    pub fn validate(&self, name: &str) -> Result<()> {
        if self.query.trim().is_empty() {
            bail!("analysis {name}: query is empty");
        }
        if self.max.is_none() && self.min.is_none() {
            bail!("analysis {name}: give max, min or both");
        }
        if let Some(i) = &self.interval {
            crate::cli::scale::parse_duration(i)
                .map_err(|e| anyhow!("analysis {name}: interval {e}"))?;
        }
        if self.count == Some(0) {
            bail!("analysis {name}: count must be at least 1");
        }
        Ok(())
    }
}

/// The analysis of one platform's release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseAnalysis {
    pub namespace: String,
    /// The platform's release; `None`: every release in the namespace.
    pub release: Option<String>,
    pub prometheus: PrometheusConfig,
    pub checks: BTreeMap<String, MetricCheck>,
}

/// The analyses the config names, by platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analyses(pub Vec<ReleaseAnalysis>);

impl Analyses {
    pub fn from_config(config: &crate::config::Config) -> Analyses {
        Analyses(
            config
                .platforms
                .iter()
                .filter(|p| !p.analysis.is_empty())
                .filter_map(|p| {
                    Some(ReleaseAnalysis {
                        namespace: p.namespace.clone(),
                        release: p.release.clone(),
                        prometheus: p.prometheus.clone()?,
                        checks: p.analysis.clone(),
                    })
                })
                .collect(),
        )
    }

    /// The analysis of `namespace/release`, if its platform has one.
    pub fn for_release(&self, namespace: &str, release: &str) -> Option<&ReleaseAnalysis> {
        self.0
            .iter()
            .find(|a| a.namespace == namespace && a.release.as_deref().is_none_or(|r| r == release))
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
enum Measured {
    Value(f64),
    NoData,
    Error(String),
}

/// Asks Prometheus for one number: `GET /api/v1/query`.
async fn query(http: &reqwest::Client, prom: &PrometheusConfig, q: &str) -> Result<Option<f64>> {
    let url = format!(
        "{}/api/v1/query?{}",
        prom.url.trim_end_matches('/'),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("query", q)
            .finish()
    );
    let mut req = http.get(&url);
    for (k, v) in &prom.headers {
        req = req.header(k, v);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach Prometheus at {}", prom.url))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .with_context(|| format!("reading Prometheus' answer from {}", prom.url))?;
    let body: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("Prometheus at {} answered {status} without JSON", prom.url))?;
    if body["status"] != "success" {
        bail!(
            "Prometheus refused the query ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    value_of(&body["data"])
}

/// The number in a query's `data`: a scalar, or the first sample of a vector; `None` for
/// an empty vector or NaN (a ratio of two empty rates).
fn value_of(data: &serde_json::Value) -> Result<Option<f64>> {
    let sample = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => match data["result"].as_array().and_then(|r| r.first()) {
            Some(s) => &s["value"],
            None => return Ok(None),
        },
        other => bail!(
            "the query returned a {}, not a number",
            other.unwrap_or("nothing")
        ),
    };
    let v: f64 = sample[1]
        .as_str()
        .ok_or_else(|| anyhow!("a sample without a value"))?
        .parse()
        .context("a sample that is not a number")?;
    Ok((!v.is_nan()).then_some(v))
}

/// The state of one check while the analysis runs.
struct Tally<'a> {
    name: &'a str,
    check: &'a MetricCheck,
    values: Vec<Measured>,
    failed: u32,
    errors_in_a_row: u32,
}

impl Tally<'_> {
    fn record(&mut self, m: Measured) {
        match &m {
            Measured::Value(v) if !self.check.passes(*v) => self.failed += 1,
            _ => {}
        }
        self.errors_in_a_row = match m {
            Measured::Error(_) => self.errors_in_a_row + 1,
            _ => 0,
        };
        self.values.push(m);
    }

    /// `error_rate 0.0812 (≤ 0.01: 2 of 3 failed)`.
    fn line(&self) -> String {
        let shown: Vec<String> = self
            .values
            .iter()
            .map(|m| match m {
                Measured::Value(v) => format!("{v:.4}"),
                Measured::NoData => "no data".into(),
                Measured::Error(_) => "error".into(),
            })
            .collect();
        format!(
            "{} [{}] ({}: {} of {} failed)",
            self.name,
            shown.join(", "),
            self.check.bounds(),
            self.failed,
            self.values.len()
        )
    }

    /// Why the analysis fails now, if it does.
    fn verdict(&self) -> Option<String> {
        let limit = self.check.failure_limit.unwrap_or(0);
        if self.failed > limit {
            return Some(format!(
                "analysis failed: {} — more than {limit} measurement(s) outside {}",
                self.line(),
                self.check.bounds()
            ));
        }
        if self.errors_in_a_row >= self.check.error_limit.unwrap_or(DEFAULT_ERROR_LIMIT) {
            let last = self.values.iter().rev().find_map(|m| match m {
                Measured::Error(e) => Some(e.as_str()),
                _ => None,
            });
            return Some(format!(
                "analysis failed: {}: {} errors in a row, the last: {}",
                self.name,
                self.errors_in_a_row,
                last.unwrap_or("?")
            ));
        }
        None
    }

    fn done(&self) -> bool {
        self.values.len() as u32 >= self.check.count.unwrap_or(DEFAULT_COUNT)
    }
}

/// Runs the analysis: `Ok(summary)` when every check passed, `Err(why)` with the values
/// measured when one failed or none was conclusive. `progress` is told each round.
pub async fn run(
    analysis: &ReleaseAnalysis,
    progress: &mut (dyn FnMut(String) + Send),
) -> std::result::Result<String, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("analysis: {e}"))?;
    let mut tallies: Vec<Tally> = analysis
        .checks
        .iter()
        .map(|(name, check)| Tally {
            name,
            check,
            values: Vec::new(),
            failed: 0,
            errors_in_a_row: 0,
        })
        .collect();
    let interval = tallies
        .iter()
        .map(|t| t.check.interval())
        .min()
        .unwrap_or(DEFAULT_INTERVAL);
    let mut first = true;
    while tallies.iter().any(|t| !t.done()) {
        if !first {
            tokio::time::sleep(interval).await;
        }
        first = false;
        for t in tallies.iter_mut().filter(|t| !t.done()) {
            let m = match query(&http, &analysis.prometheus, &t.check.query).await {
                Ok(Some(v)) => Measured::Value(v),
                Ok(None) => Measured::NoData,
                Err(e) => Measured::Error(format!("{e:#}")),
            };
            t.record(m);
            if let Some(why) = t.verdict() {
                return Err(why);
            }
        }
        let lines: Vec<String> = tallies.iter().map(Tally::line).collect();
        progress(format!("analysis: {}", lines.join("; ")));
    }
    let lines: Vec<String> = tallies.iter().map(Tally::line).collect();
    if let Some(t) = tallies
        .iter()
        .find(|t| !t.values.iter().any(|m| matches!(m, Measured::Value(_))))
    {
        return Err(format!(
            "analysis inconclusive: {} — no measurement had data, so nothing vouched for the change",
            t.line()
        ));
    }
    Ok(format!("analysis passed: {}", lines.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_from_prometheus_answers() {
        let vector =
            json!({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "0.0812"]}]});
        assert_eq!(value_of(&vector).unwrap(), Some(0.0812));
        let empty = json!({"resultType": "vector", "result": []});
        assert_eq!(value_of(&empty).unwrap(), None);
        let nan = json!({"resultType": "scalar", "result": [1.0, "NaN"]});
        assert_eq!(value_of(&nan).unwrap(), None);
        let matrix = json!({"resultType": "matrix", "result": []});
        assert!(
            value_of(&matrix)
                .unwrap_err()
                .to_string()
                .contains("matrix")
        );
    }

    #[test]
    fn failure_limit_and_errors_decide() {
        let check: MetricCheck =
            serde_yaml::from_str("{query: q, max: 0.01, failure_limit: 1, error_limit: 2}")
                .unwrap();
        let mut t = Tally {
            name: "error_rate",
            check: &check,
            values: Vec::new(),
            failed: 0,
            errors_in_a_row: 0,
        };
        t.record(Measured::Value(0.002));
        t.record(Measured::Value(0.05));
        assert_eq!(t.verdict(), None, "one failure is within the limit");
        t.record(Measured::Value(0.08));
        let why = t.verdict().unwrap();
        assert!(
            why.contains("0.0800") && why.contains("≤ 0.01") && why.contains("2 of 3"),
            "{why}"
        );

        let mut t = Tally {
            name: "error_rate",
            check: &check,
            values: Vec::new(),
            failed: 0,
            errors_in_a_row: 0,
        };
        t.record(Measured::Error("cannot reach Prometheus".into()));
        t.record(Measured::NoData);
        t.record(Measured::Error("cannot reach Prometheus".into()));
        assert_eq!(t.verdict(), None, "errors not in a row");
        t.record(Measured::Error("cannot reach Prometheus".into()));
        assert!(t.verdict().unwrap().contains("2 errors in a row"));
    }

    #[test]
    fn config_is_checked() {
        let c: MetricCheck = serde_yaml::from_str("{query: q}").unwrap();
        assert!(
            c.validate("x")
                .unwrap_err()
                .to_string()
                .contains("max, min")
        );
        let c: MetricCheck = serde_yaml::from_str("{query: q, max: 1, interval: soon}").unwrap();
        assert!(
            c.validate("x")
                .unwrap_err()
                .to_string()
                .contains("interval")
        );
    }
}
