//! The pods/log subresource: simulated container output, deterministic for a container's
//! run, with the crash that ended the previous run, `follow`, `tailLines`, `sinceSeconds`,
//! `timestamps` and `previous` as the kubelet serves them.

use super::api::ApiState;
use super::error::ApiError;
use super::resources::Storage;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Seconds between two simulated log lines.
pub const LINE_EVERY: i64 = 2;
/// The most lines one answer replays.
const MAX_LINES: i64 = 5_000;

fn messages(container: &str) -> &'static [&'static str] {
    let c = container.to_ascii_lowercase();
    if c.contains("forwarder") {
        &[
            "INFO  delivered batch of {n} events to destination in {ms}ms",
            "INFO  committed offsets partition={p} offset={o}",
            "DEBUG destination responded 200 OK",
        ]
    } else if c.contains("router") {
        &[
            "INFO  routed {n} events from mr-ee-main",
            "INFO  consumer group rebalanced: {p} partitions assigned",
            "INFO  health check ok",
        ]
    } else if c.contains("spark") {
        &[
            "INFO  SparkContext: running job {n}",
            "INFO  TaskSetManager: finished task {p}.0 in stage {n}.0 ({ms} ms)",
        ]
    } else if c.contains("keycloak") {
        &[
            "INFO  [org.keycloak.events] type=LOGIN, realm=iomete, clientId=console",
            "INFO  [io.quarkus] health ok",
        ]
    } else if c.contains("mysql") {
        &[
            "[Note] InnoDB: page cleaner: {ms}ms intended loop took {n}ms",
            "[Note] Aborted connection {n} to db",
        ]
    } else if c.contains("minio") {
        &[
            "API: PutObject bucket=lakehouse object=part-{n}.parquet {ms}ms",
            "API: GetObject bucket=lakehouse {ms}ms",
        ]
    } else {
        &[
            "INFO  handled {n} requests",
            "INFO  health check ok",
            "DEBUG cache hit ratio 0.{p}",
        ]
    }
}

fn line_at(container: &str, seed: u64, i: i64) -> String {
    let ms = messages(container);
    let k = (seed.wrapping_mul(31).wrapping_add(i as u64 * 7919)) as usize;
    ms[k % ms.len()]
        .replace("{n}", &(10 + (k % 490)).to_string())
        .replace("{ms}", &(3 + (k % 97)).to_string())
        .replace("{p}", &(k % 6).to_string())
        .replace("{o}", &(1000 + i * 13).to_string())
}

fn crash_lines(container: &str, reason: &str, exit_code: i64) -> Vec<String> {
    if reason == "OOMKilled" {
        vec![
            format!("WARN  {container}: heap usage above 95%"),
            "ERROR allocation failed: out of memory".to_string(),
        ]
    } else {
        vec![
            "ERROR failed to connect to broker mr-ee-kafka:9092: connection refused".to_string(),
            format!("FATAL {container}: giving up after 3 attempts; exiting with code {exit_code}"),
        ]
    }
}

fn ts(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn parse_ts(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

fn seed(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    })
}

/// How many lines a run that started at `start` has written by `end` (line i is written
/// at `start + i * LINE_EVERY`).
fn written_by(start: i64, end: i64) -> i64 {
    if end < start {
        0
    } else {
        (end - start) / LINE_EVERY + 1
    }
}

/// Serves `GET .../pods/NAME/log`.
pub async fn serve(
    s: &ApiState,
    ns: &str,
    name: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let pods = Storage::Pods.storage_type();
    let pod = s
        .store
        .get(Storage::Pods, ns, name)
        .ok_or_else(|| ApiError::not_found(pods, name))?
        .value();
    let names: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) => c.clone(),
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    if !names.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == container.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    let previous = matches!(q.get("previous").map(|s| s.as_str()), Some("true" | "1"));
    let now = jiff::Timestamp::now().as_second();
    let run_seed = seed(&format!(
        "{ns}/{name}/{container}/{}",
        status["restartCount"]
    ));
    // (start, end, trailer): the run whose output is shown.
    let (start, end, trailer, live) = if previous {
        let t = &status["lastState"]["terminated"];
        if t.is_null() {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        let start = parse_ts(&t["startedAt"]).unwrap_or(now - 30);
        let end = parse_ts(&t["finishedAt"]).unwrap_or(now);
        let reason = t["reason"].as_str().unwrap_or("Error");
        (
            start,
            end,
            crash_lines(&container, reason, t["exitCode"].as_i64().unwrap_or(1)),
            false,
        )
    } else if let Some(r) = status["state"].get("running") {
        (
            parse_ts(&r["startedAt"]).unwrap_or(now),
            now,
            Vec::new(),
            true,
        )
    } else if let Some(t) = status["state"].get("terminated") {
        let start = parse_ts(&t["startedAt"]).unwrap_or(now - 30);
        let end = parse_ts(&t["finishedAt"]).unwrap_or(now);
        let reason = t["reason"].as_str().unwrap_or("Error");
        let trailer = if reason == "Completed" {
            vec!["INFO  done".to_string()]
        } else {
            crash_lines(&container, reason, t["exitCode"].as_i64().unwrap_or(1))
        };
        (start, end, trailer, false)
    } else {
        let waiting = status["state"]["waiting"]["reason"]
            .as_str()
            .unwrap_or("ContainerCreating");
        let last = &status["lastState"]["terminated"];
        if waiting == "CrashLoopBackOff" && !last.is_null() {
            // The kubelet serves the last run's output while the container backs off.
            let start = parse_ts(&last["startedAt"]).unwrap_or(now - 30);
            let end = parse_ts(&last["finishedAt"]).unwrap_or(now);
            let reason = last["reason"].as_str().unwrap_or("Error");
            (
                start,
                end,
                crash_lines(&container, reason, last["exitCode"].as_i64().unwrap_or(1)),
                false,
            )
        } else {
            return Err(ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: {waiting}"
            )));
        }
    };
    let timestamps = matches!(q.get("timestamps").map(|s| s.as_str()), Some("true" | "1"));
    let since = q
        .get("sinceSeconds")
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| now - s)
        .or_else(|| {
            q.get("sinceTime")
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| t.as_second())
        });
    let mut lines: Vec<(i64, String)> = Vec::new();
    // The lines written by `end`: line i is written at start + i * LINE_EVERY, so the line
    // due at `end` itself is written. A follow goes on from the line after the last of
    // these, so the tail and the follow meet with no gap and no repeat.
    let written = written_by(start, end);
    let count = written.clamp(0, MAX_LINES);
    let first = written - count;
    let c = container.clone();
    for i in first..first + count {
        let t = start + i * LINE_EVERY;
        lines.push((t, format!("{} {}", ts(t), line_at(&c, run_seed, i))));
    }
    for l in trailer {
        let t = end.max(start);
        lines.push((t, format!("{} {l}", ts(t))));
    }
    if let Some(since) = since {
        lines.retain(|(t, _)| *t >= since);
    }
    if let Some(n) = q.get("tailLines").and_then(|s| s.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let render = move |t: i64, l: &str| -> String {
        if timestamps {
            format!("{}.000000000Z {l}\n", ts(t).trim_end_matches('Z'))
        } else {
            format!("{l}\n")
        }
    };
    let initial: String = lines.iter().map(|(t, l)| render(*t, l)).collect();
    let follow = matches!(q.get("follow").map(|s| s.as_str()), Some("true" | "1"));
    let mut resp = if follow && live {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
        let store = s.store.clone();
        let (ns, name) = (ns.to_string(), name.to_string());
        tokio::spawn(async move {
            if tx.send(Ok(Bytes::from(initial))).await.is_err() {
                return;
            }
            // The index of the next line to write: the first that the answer above lacks.
            let mut i = written;
            loop {
                let next_at = start + i * LINE_EVERY;
                let wait = (next_at - jiff::Timestamp::now().as_second()).max(0) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(wait).max(Duration::from_millis(200))) => {}
                    _ = tx.closed() => return,
                }
                let alive = store
                    .get(Storage::Pods, &ns, &name)
                    .is_some_and(|p| p.field("status.phase") == Some("Running"));
                if !alive {
                    return;
                }
                let line = format!("{} {}", ts(next_at), line_at(&c, run_seed, i));
                i += 1;
                if tx
                    .send(Ok(Bytes::from(render(next_at, &line))))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Response::new(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    } else {
        Response::new(Body::from(initial))
    };
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}
