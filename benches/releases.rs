//! Releases benchmark (prints figures): list and classify the versions of a 5 MB
//! index.yaml; decode a history of 100 revisions with a 1 MiB manifest each.
//!
//!     cargo bench --bench releases

use helmdeck::core::release::{self, ChartMetadata, Release, ReleaseStatus};
use helmdeck::core::releases::history;
use helmdeck::core::releases::repo::{RepoIndex, newer_versions};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn index_yaml(target_bytes: usize) -> String {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    let mut chart = 0;
    while out.len() < target_bytes {
        let name = format!("chart-{chart:04}");
        writeln!(out, "  {name}:").unwrap();
        for major in 0..4 {
            for minor in 0..6 {
                for patch in 0..4 {
                    let pre = if patch == 3 { "-rc.1" } else { "" };
                    write!(
                        out,
                        "    - apiVersion: v2\n      name: {name}\n      version: {major}.{minor}.{patch}{pre}\n      appVersion: \"{major}.{minor}.{patch}\"\n      description: A chart for benchmarking the index parser of helmdeck\n      created: \"2025-01-{:02}T10:00:00.000000000Z\"\n      digest: {:064x}\n      urls:\n        - https://charts.example.com/{name}-{major}.{minor}.{patch}{pre}.tgz\n      annotations:\n        artifacthub.io/changes: |\n          - kind: fixed\n            description: fix {patch}\n",
                        1 + patch,
                        chart * 1000 + major * 100 + minor * 10 + patch
                    )
                    .unwrap();
                }
            }
        }
        chart += 1;
    }
    out
}

/// A rendered manifest of about `bytes` bytes: Deployments and ConfigMaps of varying names.
fn manifest(bytes: usize, rev: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.len() < bytes {
        write!(
            out,
            "---\n# Source: platform/templates/svc-{i}.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\n  labels:\n    app.kubernetes.io/instance: platform\n    app.kubernetes.io/name: svc-{i}\n    helm.sh/chart: platform-1.{rev}.0\nspec:\n  replicas: {}\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: svc-{i}\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/example/svc-{i}:1.{rev}.{}\n          env:\n            - name: KAFKA_TOPIC\n              value: events-{i}-{}\n          resources:\n            requests: {{cpu: {}m, memory: {}Mi}}\n",
            1 + i % 5,
            i % 7,
            (i * 7919) % 100_003,
            100 + i % 400,
            128 + i % 900
        )
        .unwrap();
        i += 1;
    }
    out
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.expect("runs > 0"))
}

fn main() {
    // `cargo test --all-targets` runs this unoptimised: once, and say the figures mean nothing.
    let debug = cfg!(debug_assertions);
    let runs = if debug { 1 } else { 5 };
    if debug {
        println!("(unoptimised build: run `cargo bench --bench releases` for meaningful figures)");
    }

    let yaml = index_yaml(5 * 1024 * 1024);
    let (took, offers) = time(runs, || {
        let index = RepoIndex::parse(yaml.as_bytes(), "bench").expect("parses");
        let mut n = 0;
        for entries in index.entries.values() {
            n += newer_versions(entries, "1.2.1", false)
                .expect("classifies")
                .len();
        }
        (index.entries.len(), n)
    });
    println!(
        "index.yaml: {:.1} MB, {} charts, parse + list + classify: {:.1} ms ({} offers; best of {runs}; budget 200 ms)",
        yaml.len() as f64 / 1e6,
        offers.0,
        took.as_secs_f64() * 1e3,
        offers.1,
    );

    // 100 revisions, 1 MiB manifest each, as Helm stores them (gzip + base64 in Secrets).
    let secrets: Vec<_> = (1..=100)
        .map(|v| {
            let mut r = Release {
                name: "platform".into(),
                namespace: "bench".into(),
                version: v,
                manifest: manifest(1 << 20, v as usize),
                config: serde_json::json!({"replicas": v, "kafka": {"saslPassword": "x"}}),
                ..Default::default()
            };
            r.info.status = if v == 100 {
                ReleaseStatus::Deployed
            } else {
                ReleaseStatus::Superseded
            };
            r.chart.metadata = ChartMetadata {
                name: "platform".into(),
                version: format!("1.{v}.0"),
                ..Default::default()
            };
            release::release_secret(&r).expect("encodes")
        })
        .collect();
    let stored: usize = secrets
        .iter()
        .map(|s| s.data.as_ref().map_or(0, |d| d["release"].0.len()))
        .sum();
    let (took, rows) = time(runs, || {
        let h = release::history(&secrets);
        history::rows(&h[0]).len()
    });
    println!(
        "history: {rows} revisions x 1 MiB manifest ({:.1} MB stored), decode + rows: {:.1} ms (best of {runs}; budget 300 ms)",
        stored as f64 / 1e6,
        took.as_secs_f64() * 1e3
    );
    let h = release::history(&secrets);
    let (took, lines) = time(runs, || {
        let d = history::diff(&h[0].revisions[98], &h[0].revisions[99], false);
        d.values.len() + d.manifest.len()
    });
    println!(
        "diff of two 1 MiB revisions (values + manifest, masked): {:.1} ms ({lines} lines)",
        took.as_secs_f64() * 1e3
    );
}
