//! Pod decoding benchmark (prints figures): the protobuf frames of a streaming list of
//! `--pods N` pods (default 10,000), as `helmdeck sandbox` writes them, read stage by stage
//! as the console's pod watch reads them: the watch envelope, the pod's fields, its row,
//! the rows kept, and their drop. Median of `--runs` (default 7) passes over the same bytes.
//!
//!     cargo bench --bench decode
//!     cargo bench --bench decode -- --pods 50000 --runs 5

mod common;
use common::{machine, median, start_sandbox, wait_quiet};
use helmdeck::core::cluster::PodRow;
use helmdeck::core::cluster::pb;
use helmdeck::core::cluster::slim::SlimPod;
use std::io::{Read as _, Write as _};
use std::time::Instant;

fn main() {
    let (mut pods, mut runs) = (10_000usize, 7usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok());
        match a.as_str() {
            "--pods" => pods = value().unwrap_or(pods),
            "--runs" => runs = value().unwrap_or(runs).max(1),
            _ => {}
        }
    }
    println!("decode benchmark, {}", machine());
    let sandbox = start_sandbox(pods, None);
    wait_quiet(sandbox.child.id());
    let body = streaming_list(&sandbox.url);
    let frames = split_frames(&body);
    let objects: Vec<&[u8]> = frames.iter().filter_map(|f| pod_of(f)).collect();
    println!(
        "{} pods, {:.1} MB of frames ({} frames)",
        objects.len(),
        body.len() as f64 / 1e6,
        frames.len()
    );

    let stage = |name: &str, pass: &dyn Fn() -> usize| {
        let mut ms: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(pass());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let m = median(&mut ms);
        println!(
            "{name:<44} {m:>7.1} ms  ({:.2} µs a pod)",
            m * 1e3 / objects.len().max(1) as f64
        );
    };
    stage("envelope (event type, kind, object bytes)", &|| {
        frames.iter().filter_map(|f| pod_of(f)).count()
    });
    stage("+ the pod's fields (pb::pod), dropped", &|| {
        objects.iter().filter(|o| pb::pod(o).is_ok()).count()
    });
    stage("+ its row (SlimPod), dropped", &|| {
        objects
            .iter()
            .filter_map(|o| pb::pod(o).ok())
            .map(SlimPod::from)
            .count()
    });
    stage("+ the rows kept, then dropped", &|| rows(&objects).len());
    let mut kept = Vec::new();
    let mut drops: Vec<f64> = (0..runs)
        .map(|_| {
            kept = rows(&objects);
            let t = Instant::now();
            drop(std::mem::take(&mut kept));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    println!(
        "{:<44} {:>7.1} ms",
        "the rows' drop alone",
        median(&mut drops)
    );
}

fn rows(objects: &[&[u8]]) -> Vec<PodRow> {
    objects
        .iter()
        .filter_map(|o| pb::pod(o).ok())
        .map(|p| SlimPod::from(p).into_row())
        .collect()
}

/// The object of a frame that carries a pod.
fn pod_of(frame: &[u8]) -> Option<&[u8]> {
    let (_, object) = pb::watch_event(frame).ok()?;
    let (_, kind, raw) = pb::unwrap(object).ok()?;
    (kind == "Pod").then_some(raw)
}

/// The body of a streaming list of every pod in protobuf, read over HTTP/1.0 so the server
/// sends it unchunked and closes it when the watch's timeout ends it.
fn streaming_list(url: &str) -> Vec<u8> {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the sandbox");
    write!(
        conn,
        "GET /api/v1/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
         &allowWatchBookmarks=true&timeoutSeconds=2 HTTP/1.0\r\nHost: {addr}\r\n\
         Accept: application/vnd.kubernetes.protobuf;stream=watch\r\n\r\n"
    )
    .expect("send the request");
    let mut response = Vec::new();
    conn.read_to_end(&mut response).expect("read the response");
    let at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    assert!(
        response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response[..at])
    );
    response.split_off(at + 4)
}

/// A watch body's frames: each a 4-byte big-endian length, then that many bytes.
fn split_frames(mut body: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    while body.len() >= 4 {
        let n = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        let Some(frame) = body.get(4..4 + n) else {
            break;
        };
        frames.push(frame);
        body = &body[4 + n..];
    }
    frames
}
