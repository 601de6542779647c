//! `/metrics`: the HTTP traffic of the simulated workloads in Prometheus' text format, so a
//! real Prometheus scraping the sandbox gives an upgrade's analysis something true to query.
//!
//! Every running pod of a workload serves a steady number of requests a second (10–30,
//! fixed per pod) from its start time on; a share of them fail with a 500: the share the
//! scenario's `sim.error_rates` gives the pod's image (a version that is Ready yet serves
//! errors), half for an image `sim.image_faults` makes crash or be OOM-killed (the errors
//! come before the pod fails), else one in a thousand. The counters are computed from the
//! pod's start time, so each series only grows:
//!
//! ```text
//! http_requests_total{namespace="mr-ee",workload="router",pod="router-…",code="200"} 4123
//! http_requests_total{namespace="mr-ee",workload="router",pod="router-…",code="500"} 4
//! ```

use super::api::ApiState;
use super::controllers::{ImageFault, SimConfig};
use super::resources::Storage;
use super::selector::{FieldSelector, LabelSelector};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use parking_lot::RwLock;
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::Arc;

/// A share of requests failing for pods running an image containing `image`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorRate {
    pub image: String,
    /// 0.0–1.0.
    pub rate: f64,
}

/// The share of failing requests of a crash-looping or OOM-killed image while it runs.
const FAULTY_RATE: f64 = 0.5;
/// The share of failing requests of every other image.
const BASELINE_RATE: f64 = 0.001;

/// The error shares by image, shared between the scenario and the server.
#[derive(Debug, Clone, Default)]
pub struct Traffic(Arc<RwLock<Vec<ErrorRate>>>);

impl Traffic {
    /// The shares the simulation's config gives: its `error_rates`, then its faulty images.
    pub fn set_from(&self, sim: &SimConfig) {
        let mut rules = sim.error_rates.clone();
        rules.extend(
            sim.image_faults
                .iter()
                .filter(|r| matches!(r.fault, ImageFault::Crash | ImageFault::Oom))
                .map(|r| ErrorRate {
                    image: r.image.clone(),
                    rate: FAULTY_RATE,
                }),
        );
        *self.0.write() = rules;
    }

    fn rate_of(&self, image: &str) -> f64 {
        self.0
            .read()
            .iter()
            .find(|r| image.contains(&r.image))
            .map_or(BASELINE_RATE, |r| r.rate.clamp(0.0, 1.0))
    }
}

/// A pod's steady request rate, 10–30 a second, fixed by its name.
fn requests_per_second(pod: &str) -> f64 {
    let h = pod.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    10.0 + (h % 2001) as f64 / 100.0
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<ApiState>) -> Response {
    let body = render(&s, jiff::Timestamp::now());
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

fn render(s: &ApiState, now: jiff::Timestamp) -> String {
    let pods = s
        .store
        .list(
            Storage::Pods,
            None,
            &LabelSelector::default(),
            &FieldSelector::default(),
            None,
            None,
        )
        .items;
    let mut out = String::from(
        "# HELP http_requests_total HTTP requests served by the sandbox's simulated workloads.\n\
         # TYPE http_requests_total counter\n",
    );
    for obj in pods {
        let pod = obj.value();
        if pod["status"]["phase"] != "Running" {
            continue;
        }
        let Some(started) = pod["status"]["startTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            continue;
        };
        let Some(workload) = super::metrics::pod_workload(&pod) else {
            continue;
        };
        let image = pod["spec"]["containers"][0]["image"].as_str().unwrap_or("");
        let secs = (now.as_millisecond() - started.as_millisecond()).max(0) as f64 / 1000.0;
        let total = requests_per_second(&obj.name) * secs;
        let errors = (total * s.load.traffic().rate_of(image)).floor();
        let ok = (total - errors).floor();
        for (code, n) in [("200", ok), ("500", errors)] {
            let _ = writeln!(
                out,
                "http_requests_total{{namespace=\"{}\",workload=\"{workload}\",pod=\"{}\",code=\"{code}\"}} {n}",
                obj.namespace, obj.name
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_by_image() {
        let t = Traffic::default();
        let sim = SimConfig {
            error_rates: vec![ErrorRate {
                image: "router:3.4.2".into(),
                rate: 0.08,
            }],
            image_faults: vec![super::super::controllers::ImageRule {
                image: "router:3.5.1".into(),
                fault: ImageFault::Crash,
            }],
            ..SimConfig::default()
        };
        t.set_from(&sim);
        assert_eq!(t.rate_of("ghcr.io/mr-ee/router:3.4.2"), 0.08);
        assert_eq!(t.rate_of("ghcr.io/mr-ee/router:3.5.1"), FAULTY_RATE);
        assert_eq!(t.rate_of("ghcr.io/mr-ee/router:3.4.1"), BASELINE_RATE);
        let r = requests_per_second("router-abc");
        assert!((10.0..=30.0).contains(&r), "{r}");
        assert_eq!(r, requests_per_second("router-abc"));
    }
}
