//! Verification by metrics against a real Prometheus (Debian's `prometheus` 2.42, which the
//! test command installs) scraping the sandbox's `/metrics` every second.
//!
//! An upgrade whose pods all become ready while its error rate crosses the platform's
//! threshold (chart 1.4.3 of `ee`: its router fails 8 % of requests) is rolled back, with
//! the measured values in the run's output and in the values repo's git note; an upgrade
//! whose error rate stays low (iomete-dataplane 1.0.6) passes its analysis.
//!
//! Without Prometheus the test skips, unless HELMDECK_REQUIRE_PROMETHEUS is set (the test
//! command sets it), so a missing server fails CI instead of passing it.

mod common;
mod kube_sandbox;

use helmdeck::sandbox::{Options, Sandbox};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Prometheus {
    _server: common::Server,
    port: u16,
    _data: tempfile::TempDir,
}

/// A GET over plain HTTP/1.1: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    common::http(port, "GET", path, b"")
}

/// Starts Prometheus scraping `target` (host:port) every second, or says why it cannot.
fn start_prometheus(target: &str) -> Result<Prometheus, String> {
    let bin = std::env::var("HELMDECK_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    if Command::new(&bin).arg("--version").output().is_err() {
        return Err(format!("{bin} cannot run (apt-get install prometheus)"));
    }
    let data = tempfile::tempdir().unwrap();
    let cfg = data.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: sandbox\n    static_configs: [{{targets: [\"{target}\"]}}]\n"
        ),
    )
    .unwrap();
    let port = common::free_port();
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let p = Prometheus {
        _server: common::Server(child),
        port,
        _data: data,
    };
    kube_sandbox::wait_for("Prometheus to be ready", Duration::from_secs(60), || {
        (get(port, "/-/ready").0 == 200).then_some(())
    });
    Ok(p)
}

const ERROR_RATE: &str = "sum(rate(http_requests_total{code=~\"5..\",namespace=\"NS\"}[10s])) / sum(rate(http_requests_total{namespace=\"NS\"}[10s]))";

fn config(prom_port: u16) -> String {
    let platform = |name: &str, ns: &str, release: &str| {
        format!(
            "  - name: {name}\n    namespace: {ns}\n    release: {release}\n    \
             prometheus: {{url: \"http://127.0.0.1:{prom_port}\"}}\n    analysis:\n      \
             error_rate: {{query: '{}', max: 0.01, interval: 2s, count: 5, failure_limit: 1}}\n",
            ERROR_RATE.replace("NS", ns)
        )
    };
    format!(
        "platforms:\n{}{}",
        platform("mr-ee", "mr-ee", "ee"),
        platform("iomete", "iomete", "iomete-dataplane")
    )
}

fn helmdeck(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("HELMDECK_DRIVER")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_whose_error_rate_crosses_the_threshold_is_rolled_back() {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let target = sb.url().trim_start_matches("http://").to_string();
    // The sandbox's own exposition, before any Prometheus.
    let sb_port: u16 = target.rsplit(':').next().unwrap().parse().unwrap();
    let (code, body) = get(sb_port, "/metrics");
    assert_eq!(code, 200);
    assert!(
        body.contains("# TYPE http_requests_total counter")
            && body.contains("http_requests_total{namespace=\"mr-ee\",workload=\"router\""),
        "{body}"
    );
    let prom = match start_prometheus(&target) {
        Ok(p) => p,
        Err(why) => {
            assert!(
                std::env::var_os("HELMDECK_REQUIRE_PROMETHEUS").is_none(),
                "HELMDECK_REQUIRE_PROMETHEUS is set but Prometheus cannot run: {why}"
            );
            eprintln!("skipped: {why} (set HELMDECK_REQUIRE_PROMETHEUS=1 to fail instead)");
            return;
        }
    };
    // Wait until Prometheus has a rate to give (two scrapes inside the window).
    let q = form_urlencoded::byte_serialize(ERROR_RATE.replace("NS", "mr-ee").as_bytes())
        .collect::<String>();
    kube_sandbox::wait_for(
        "an error rate in Prometheus",
        Duration::from_secs(60),
        || {
            let (_, body) = get(prom.port, &format!("/api/v1/query?query={q}"));
            body.contains("\"value\"").then_some(())
        },
    );

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let kc = home.join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let cfg = home.join("helmdeck.yaml");
    std::fs::write(&cfg, config(prom.port)).unwrap();
    let repo = format!("{}/charts", sb.url());
    let upgrade = |release: &str, ns: &str, to: &str| {
        let args = [
            "upgrade",
            release,
            "--to",
            to,
            "--repo",
            &repo,
            "--yes",
            "--auto-rollback",
            "--allow-plaintext-secrets",
            "--timeout",
            "90s",
            "-n",
            ns,
            "--driver",
            "sandbox",
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ];
        tokio::task::block_in_place(|| helmdeck(home, &args))
    };

    // Low error rate: the analysis passes and the upgrade stands.
    let (code, out) = upgrade("iomete-dataplane", "iomete", "1.0.6");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("analysis passed: error_rate ["), "{out}");

    // Ready pods, 8 % errors from the new router: the analysis fails and rolls it back.
    let (code, out) = upgrade("ee", "mr-ee", "1.4.3");
    eprintln!("{out}");
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("rolled out"),
        "the pods became ready first:\n{out}"
    );
    assert!(out.contains("analysis failed: error_rate ["), "{out}");
    assert!(out.contains("≤ 0.01"), "{out}");
    let values = home.join("data/helmdeck/values");
    let notes = common::git(&values, &["log", "--format=%s%n%N---"]);
    let note = notes
        .split("---")
        .find(|n| n.contains("1.4.2 → 1.4.3"))
        .unwrap_or_else(|| panic!("no commit of the 1.4.3 upgrade: {notes}"));
    assert!(note.contains("outcome: rolled back"), "{note}");
    assert!(
        note.contains("analysis failed: error_rate [0.0"),
        "the values measured:\n{note}"
    );
    let (_, history) = tokio::task::block_in_place(|| {
        helmdeck(
            home,
            &[
                "history",
                "ee",
                "-n",
                "mr-ee",
                "--kubeconfig",
                kc.to_str().unwrap(),
            ],
        )
    });
    let last = history
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(last.contains("1.4.2"), "rolled back to 1.4.2:\n{history}");
}
