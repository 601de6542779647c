//! Sandbox figures at scale: `cargo bench --bench sandbox`.
//!
//! Starts the embedded sandbox in-process at 50,000 pods on 500 nodes and prints:
//! the time of a first full `list pods -A` (one GET, and paginated as kubectl does it),
//! watch fan-out to 4 watchers under 5,000 pod changes per second, the sandbox's resident
//! memory, and the time to start at 1,000, 10,000 and 50,000 pods. It prints figures and
//! asserts nothing about timings.
//!
//! Environment: `BENCH_PODS` (default 50000), `BENCH_WATCH_SECS` (8), `BENCH_RATE` (5000
//! changes/s), `BENCH_WATCHERS` (4), `BENCH_SKIP_STARTS=1` skips the 1k/10k start runs.

use bytes::{Bytes, BytesMut};
use helmdeck::sandbox::resources::Storage;
use helmdeck::sandbox::store::Store;
use helmdeck::sandbox::{Options, Sandbox};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SEQ_KEY: &str = "bench.helmdeck.io/seq";
const SENT_KEY: &str = "bench.helmdeck.io/sent-ns";
const LIST_REPEATS: usize = 3;
const PAGE: usize = 500;
const BATCH_EVERY: Duration = Duration::from_millis(10);

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a name filter selects nothing here.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

// ---------------------------------------------------------------------------------------
// Machine and process figures.

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB RAM",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

#[derive(Clone, Copy)]
struct Mem {
    rss_kb: u64,
    hwm_kb: u64,
}

fn mem() -> Mem {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Mem {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// User + system CPU time of this process, in seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn min_median(xs: &[f64]) -> (f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    (v[0], v[v.len() / 2])
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client on hyper (one connection, keep-alive).

struct Conn {
    tx: SendRequest<Empty<Bytes>>,
    host: String,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn {
        tx,
        host: addr.to_string(),
    })
}

impl Conn {
    async fn get(&mut self, path: &str) -> anyhow::Result<hyper::Response<Incoming>> {
        self.tx.ready().await?;
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, &self.host)
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())?;
        let resp = self.tx.send_request(req).await?;
        anyhow::ensure!(resp.status().is_success(), "GET {path}: {}", resp.status());
        Ok(resp)
    }

    async fn get_body(&mut self, path: &str) -> anyhow::Result<Bytes> {
        let resp = self.get(path).await?;
        Ok(resp.into_body().collect().await?.to_bytes())
    }
}

#[derive(Deserialize)]
struct ListMeta {
    #[serde(rename = "resourceVersion")]
    rv: String,
    #[serde(rename = "continue", default)]
    cont: Option<String>,
}

#[derive(Deserialize)]
struct List {
    metadata: ListMeta,
    items: Vec<IgnoredAny>,
}

// ---------------------------------------------------------------------------------------
// 1. list pods -A

struct ListRun {
    bytes: usize,
    items: usize,
    pages: usize,
    ms: f64,
}

/// One GET of every pod, the whole body read; items counted after the clock stops.
async fn list_plain(addr: SocketAddr) -> anyhow::Result<ListRun> {
    let mut c = connect(addr).await?;
    let t = Instant::now();
    let body = c.get_body("/api/v1/pods").await?;
    let elapsed = t.elapsed();
    let list: List = serde_json::from_slice(&body)?;
    Ok(ListRun {
        bytes: body.len(),
        items: list.items.len(),
        pages: 1,
        ms: ms(elapsed),
    })
}

/// As kubectl and kube-rs list: limit=500 and continue until done, each page parsed.
async fn list_paged(addr: SocketAddr) -> anyhow::Result<ListRun> {
    let mut c = connect(addr).await?;
    let t = Instant::now();
    let (mut bytes, mut items, mut pages) = (0, 0, 0);
    let mut cont: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/pods?limit={PAGE}");
        if let Some(token) = &cont {
            path.push_str("&continue=");
            path.extend(form_urlencoded::byte_serialize(token.as_bytes()));
        }
        let body = c.get_body(&path).await?;
        let list: List = serde_json::from_slice(&body)?;
        bytes += body.len();
        items += list.items.len();
        pages += 1;
        cont = list.metadata.cont.filter(|c| !c.is_empty());
        if cont.is_none() {
            break;
        }
    }
    Ok(ListRun {
        bytes,
        items,
        pages,
        ms: ms(t.elapsed()),
    })
}

struct ListFigures {
    plain: Vec<ListRun>,
    paged: Vec<ListRun>,
}

async fn bench_lists(addr: SocketAddr) -> anyhow::Result<ListFigures> {
    println!("\n## 1. First full `list pods -A`");
    let mut plain = Vec::new();
    let mut paged = Vec::new();
    for i in 1..=LIST_REPEATS {
        let r = list_plain(addr).await?;
        println!(
            "  GET /api/v1/pods            run {i}: {:>7} items  {:>9.1} MB  {:>8.1} ms",
            r.items,
            r.bytes as f64 / 1e6,
            r.ms
        );
        plain.push(r);
    }
    for i in 1..=LIST_REPEATS {
        let r = list_paged(addr).await?;
        println!(
            "  GET ?limit={PAGE}+continue      run {i}: {:>7} items  {:>9.1} MB  {:>8.1} ms  ({} pages)",
            r.items,
            r.bytes as f64 / 1e6,
            r.ms,
            r.pages
        );
        paged.push(r);
    }
    for (name, runs) in [("one GET", &plain), ("paginated", &paged)] {
        let (min, med) = min_median(&runs.iter().map(|r| r.ms).collect::<Vec<_>>());
        println!("  {name:<10} min {min:.1} ms, median {med:.1} ms");
    }
    Ok(ListFigures { plain, paged })
}

// ---------------------------------------------------------------------------------------
// 2. Watch fan-out

#[derive(Deserialize)]
struct WatchMeta {
    #[serde(rename = "resourceVersion", default)]
    rv: String,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct WatchObj {
    metadata: WatchMeta,
}

#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    kind: String,
    object: WatchObj,
}

#[derive(Default)]
struct WatchStats {
    events: u64,
    bench_events: u64,
    distinct: u64,
    duplicates: u64,
    out_of_order: u64,
    errors: u64,
    closed_early: bool,
    max_rv_lag: u64,
    /// Arrival delays of bench events, in microseconds.
    delays_us: Vec<u32>,
    /// The largest delay in each second of the run (by arrival time).
    max_delay_per_sec: Vec<u32>,
    first_at: Option<Duration>,
    last_at: Option<Duration>,
    drained_at: Option<Duration>,
}

struct WatchShared {
    epoch: Instant,
    /// Bench changes committed so far; final once `driving` is false.
    sent: AtomicU64,
    driving: AtomicBool,
    /// Give up waiting for the rest after this (ms since epoch; 0: not yet set).
    drain_deadline_ms: AtomicU64,
}

async fn watcher(
    addr: SocketAddr,
    rv: String,
    store: Store,
    shared: Arc<WatchShared>,
    capacity: usize,
) -> anyhow::Result<WatchStats> {
    let mut c = connect(addr).await?;
    let resp = c
        .get(&format!("/api/v1/pods?watch=true&resourceVersion={rv}"))
        .await?;
    let mut body = resp.into_body();
    let mut seen = vec![0u64; capacity.div_ceil(64)];
    let mut st = WatchStats::default();
    let mut buf = BytesMut::new();
    let mut last_rv: u64 = rv.parse().unwrap_or(0);
    let mut check = tokio::time::interval(Duration::from_millis(100));
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = check.tick() => {
                // Every change seen (the driver has stopped), or given up waiting.
                if !shared.driving.load(Ordering::Acquire)
                    && st.distinct >= shared.sent.load(Ordering::Acquire)
                {
                    st.drained_at = st.last_at;
                    break;
                }
                let deadline = shared.drain_deadline_ms.load(Ordering::Acquire);
                if deadline > 0 && shared.epoch.elapsed().as_millis() as u64 >= deadline {
                    break;
                }
                continue;
            }
        };
        let Some(frame) = frame else {
            st.closed_early = true;
            break;
        };
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line = buf.split_to(nl + 1);
            let now = shared.epoch.elapsed();
            let ev: WatchLine = serde_json::from_slice(&line[..line.len() - 1])?;
            st.events += 1;
            if ev.kind == "ERROR" {
                st.errors += 1;
                continue;
            }
            let erv: u64 = ev.object.metadata.rv.parse().unwrap_or(0);
            if erv <= last_rv {
                st.out_of_order += 1;
            }
            last_rv = last_rv.max(erv);
            st.max_rv_lag = st.max_rv_lag.max(store.current_rv().saturating_sub(erv));
            let ann = ev.object.metadata.annotations.unwrap_or_default();
            let (Some(seq), Some(sent)) = (
                ann.get(SEQ_KEY).and_then(|s| s.parse::<usize>().ok()),
                ann.get(SENT_KEY).and_then(|s| s.parse::<u64>().ok()),
            ) else {
                continue;
            };
            st.bench_events += 1;
            st.first_at.get_or_insert(now);
            st.last_at = Some(now);
            let delay_us = (now.as_nanos() as u64).saturating_sub(sent) / 1000;
            let delay_us = delay_us.min(u32::MAX as u64) as u32;
            st.delays_us.push(delay_us);
            let sec = now.as_secs() as usize;
            if st.max_delay_per_sec.len() <= sec {
                st.max_delay_per_sec.resize(sec + 1, 0);
            }
            st.max_delay_per_sec[sec] = st.max_delay_per_sec[sec].max(delay_us);
            if seq < capacity {
                let (w, b) = (seq / 64, seq % 64);
                if seen[w] & (1 << b) != 0 {
                    st.duplicates += 1;
                } else {
                    seen[w] |= 1 << b;
                    st.distinct += 1;
                }
            }
        }
        if !shared.driving.load(Ordering::Acquire)
            && st.distinct >= shared.sent.load(Ordering::Acquire)
        {
            st.drained_at = st.last_at;
            break;
        }
        if buf.len() > 64 << 20 {
            anyhow::bail!("a watch line over 64 MB");
        }
    }
    Ok(st)
}

struct DriverStats {
    sent: u64,
    failed: u64,
    secs: f64,
    late_batches: u64,
    busy: Duration,
    started_at: Duration,
    ended_at: Duration,
}

/// Changes `rate` pods per second (an annotation carrying a sequence number and the time)
/// in batches every 10 ms, straight through the store as a controller would.
fn drive(
    store: Store,
    keys: Vec<(String, String)>,
    shared: Arc<WatchShared>,
    rate: usize,
    secs: f64,
) -> DriverStats {
    let per_batch = (rate as f64 * BATCH_EVERY.as_secs_f64()).round().max(1.0) as usize;
    let batches = (secs / BATCH_EVERY.as_secs_f64()).round() as u64;
    let start = Instant::now();
    let started_at = shared.epoch.elapsed();
    let mut st = DriverStats {
        sent: 0,
        failed: 0,
        secs: 0.0,
        late_batches: 0,
        busy: Duration::ZERO,
        started_at,
        ended_at: started_at,
    };
    let mut seq: u64 = 0;
    for i in 0..batches {
        let due = start + BATCH_EVERY * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > BATCH_EVERY {
            st.late_batches += 1;
        }
        let t = Instant::now();
        for _ in 0..per_batch {
            let (ns, name) = &keys[seq as usize % keys.len()];
            let s = seq;
            let epoch = shared.epoch;
            let r = store.mutate(Storage::Pods, ns, name, |v| {
                let ann = &mut v["metadata"]["annotations"];
                ann[SEQ_KEY] = serde_json::Value::String(s.to_string());
                ann[SENT_KEY] =
                    serde_json::Value::String((epoch.elapsed().as_nanos() as u64).to_string());
                true
            });
            match r {
                Ok(Some(_)) => {
                    seq += 1;
                    st.sent += 1;
                    shared.sent.store(st.sent, Ordering::Release);
                }
                _ => st.failed += 1,
            }
        }
        st.busy += t.elapsed();
    }
    st.secs = start.elapsed().as_secs_f64();
    st.ended_at = shared.epoch.elapsed();
    st
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct WatchFigures {
    watchers: usize,
    rate_sent: f64,
    min_rate_received: f64,
    behind: usize,
    max_rv_lag: u64,
    p99_delay_ms: f64,
    max_delay_ms: f64,
    cores: f64,
}

async fn bench_watch(sb: &Sandbox) -> anyhow::Result<WatchFigures> {
    let watchers: usize = env_or("BENCH_WATCHERS", 4);
    let rate: usize = env_or("BENCH_RATE", 5000);
    let secs: f64 = env_or("BENCH_WATCH_SECS", 8.0);
    println!(
        "\n## 2. Watch fan-out: {watchers} watchers, {rate} pod changes/s for {secs} s (batches every {} ms)",
        BATCH_EVERY.as_millis()
    );
    let addr = sb.server.addr;
    let store = sb.store.clone();
    // The resourceVersion of a list, as a client's reflector starts its watch from.
    let mut c = connect(addr).await?;
    let first: List = serde_json::from_slice(&c.get_body("/api/v1/pods?limit=1").await?)?;
    let rv = first.metadata.rv;
    let keys: Vec<(String, String)> = store
        .all(Storage::Pods)
        .iter()
        .map(|o| (o.namespace.clone(), o.name.clone()))
        .collect();
    let shared = Arc::new(WatchShared {
        epoch: Instant::now(),
        sent: AtomicU64::new(0),
        driving: AtomicBool::new(true),
        drain_deadline_ms: AtomicU64::new(0),
    });
    let capacity = (rate as f64 * secs * 1.1) as usize + 1000;
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        tasks.push(tokio::spawn(watcher(
            addr,
            rv.clone(),
            store.clone(),
            shared.clone(),
            capacity,
        )));
    }
    // Let the watches connect before the driver starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu0 = cpu_secs();
    let wall0 = Instant::now();
    let drv = {
        let (store, shared) = (store.clone(), shared.clone());
        tokio::task::spawn_blocking(move || drive(store, keys, shared, rate, secs)).await?
    };
    let cpu = cpu_secs() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    shared.driving.store(false, Ordering::Release);
    let drain_limit = Duration::from_secs(20);
    shared.drain_deadline_ms.store(
        (shared.epoch.elapsed() + drain_limit).as_millis() as u64,
        Ordering::Release,
    );
    let rate_sent = drv.sent as f64 / drv.secs;
    println!(
        "  driver: {} changes in {:.2} s = {:.0}/s ({} failed, {} batches late by > {} ms, busy {:.0}% of the time)",
        drv.sent,
        drv.secs,
        rate_sent,
        drv.failed,
        drv.late_batches,
        BATCH_EVERY.as_millis(),
        100.0 * drv.busy.as_secs_f64() / drv.secs
    );
    println!(
        "  process CPU while driving: {cpu:.1} s in {wall:.1} s = {:.2} cores",
        cpu / wall
    );
    let mut fig = WatchFigures {
        watchers,
        rate_sent,
        min_rate_received: f64::MAX,
        behind: 0,
        max_rv_lag: 0,
        p99_delay_ms: 0.0,
        max_delay_ms: 0.0,
        cores: cpu / wall,
    };
    for (i, t) in tasks.into_iter().enumerate() {
        let mut st = match t.await? {
            Ok(st) => st,
            Err(e) => {
                println!("  watcher {i}: failed: {e:#}");
                fig.behind += 1;
                continue;
            }
        };
        st.delays_us.sort_unstable();
        let missed = drv.sent.saturating_sub(st.distinct);
        // Received rate over the driver's window (first to last bench event).
        let span = match (st.first_at, st.last_at) {
            (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
            _ => drv.secs,
        };
        let received = st.bench_events as f64 / span.max(drv.secs);
        let during: Vec<u32> = st
            .max_delay_per_sec
            .iter()
            .copied()
            .skip(drv.started_at.as_secs() as usize)
            .take((drv.ended_at.as_secs() - drv.started_at.as_secs()) as usize + 1)
            .collect();
        let growing = during.len() >= 3 && {
            let first = during[0].max(during[1]) as f64;
            let last = during[during.len() - 1].max(during[during.len() - 2]) as f64;
            last > 2.0 * first && last > 250_000.0
        };
        let p50 = percentile(&st.delays_us, 0.5);
        let p99 = percentile(&st.delays_us, 0.99);
        let max = percentile(&st.delays_us, 1.0);
        let behind = missed > 0
            || st.closed_early
            || st.errors > 0
            || st.drained_at.is_none()
            || growing
            || p99 > 1000.0;
        println!(
            "  watcher {i}: {} events ({} bench), {:.0} events/s, missed {missed}, dup {}, out-of-order {}, errors {}, {}",
            st.events,
            st.bench_events,
            received,
            st.duplicates,
            st.out_of_order,
            st.errors,
            if st.closed_early {
                "STREAM CLOSED EARLY"
            } else {
                "stream open"
            }
        );
        println!(
            "             delay p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; max rv lag {}; {}",
            st.max_rv_lag,
            match st.drained_at {
                Some(d) => format!(
                    "caught up {:.0} ms after the driver stopped",
                    ms(d.saturating_sub(drv.ended_at))
                ),
                None => "NOT caught up within 20 s".into(),
            }
        );
        println!(
            "             max delay per second (ms): {}{}",
            during
                .iter()
                .map(|d| format!("{:.0}", *d as f64 / 1000.0))
                .collect::<Vec<_>>()
                .join(" "),
            if growing { "  (GROWING)" } else { "" }
        );
        if behind {
            fig.behind += 1;
        }
        fig.min_rate_received = fig.min_rate_received.min(received);
        fig.max_rv_lag = fig.max_rv_lag.max(st.max_rv_lag);
        fig.p99_delay_ms = fig.p99_delay_ms.max(p99);
        fig.max_delay_ms = fig.max_delay_ms.max(max);
    }
    if fig.min_rate_received == f64::MAX {
        fig.min_rate_received = 0.0;
    }
    println!(
        "  => {} of {watchers} watchers fell behind (missed events, closed stream, lag growing or p99 delay > 1 s)",
        fig.behind
    );
    Ok(fig)
}

// ---------------------------------------------------------------------------------------
// 3/4. Start time and memory

struct Started {
    sb: Sandbox,
    start: Duration,
    settle: Duration,
}

/// Starts a sandbox grown to `pods` pods, then waits until it is quiet: its
/// resourceVersion still and the process using under a tenth of a core, for a second (the
/// controllers have nothing left to do), at most 60 s.
async fn start(pods: usize) -> anyhow::Result<Started> {
    let t = Instant::now();
    let sb = Sandbox::start(Options {
        pods: Some(pods),
        ..Options::default()
    })
    .await?;
    let start = t.elapsed();
    let t = Instant::now();
    let mut last = (sb.store.current_rv(), cpu_secs());
    let mut quiet_since = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = (sb.store.current_rv(), cpu_secs());
        if now.0 != last.0 || now.1 - last.1 > 0.1 {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(1) {
            break;
        }
    }
    let settle = t.elapsed().saturating_sub(Duration::from_secs(1));
    Ok(Started { sb, start, settle })
}

fn pod_summary(store: &Store) -> String {
    let pods = store.all(Storage::Pods);
    let running = pods
        .iter()
        .filter(|p| p.field("status.phase") == Some("Running"))
        .count();
    format!(
        "{} pods ({} Running) on {} nodes",
        thousands(pods.len() as u64),
        thousands(running as u64),
        store.count(Storage::Nodes)
    )
}

// ---------------------------------------------------------------------------------------

async fn run() -> anyhow::Result<()> {
    let pods: usize = env_or("BENCH_PODS", 50_000);
    println!("# helmdeck sandbox bench");
    println!("machine: {}", machine());
    let base = mem();
    println!(
        "memory before start: VmRSS {:.1} MB, VmHWM {:.1} MB",
        mb(base.rss_kb),
        mb(base.hwm_kb)
    );

    println!("\n## Start at {} pods", thousands(pods as u64));
    let s = start(pods).await?;
    println!(
        "  Sandbox::start (populate + settle + serve): {:.0} ms; quiet after another {:.0} ms",
        ms(s.start),
        ms(s.settle)
    );
    println!("  {}", pod_summary(&s.sb.store));
    let settled = mem();
    println!(
        "\n## 3. Resident memory\n  after settle: VmRSS {:.1} MB (+{:.1} MB over the baseline), VmHWM {:.1} MB",
        mb(settled.rss_kb),
        mb(settled.rss_kb.saturating_sub(base.rss_kb)),
        mb(settled.hwm_kb)
    );

    let lists = bench_lists(s.sb.server.addr).await?;
    let after_lists = mem();
    println!(
        "  memory after the lists: VmRSS {:.1} MB, VmHWM {:.1} MB",
        mb(after_lists.rss_kb),
        mb(after_lists.hwm_kb)
    );

    let watch = bench_watch(&s.sb).await?;
    let after_watch = mem();
    println!(
        "  memory after the watch test: VmRSS {:.1} MB, VmHWM {:.1} MB",
        mb(after_watch.rss_kb),
        mb(after_watch.hwm_kb)
    );
    let big = (s.start, s.settle);
    s.sb.stop().await;

    println!("\n## 4. Time to start (populate + settle)");
    let mut starts = Vec::new();
    let skip = std::env::var("BENCH_SKIP_STARTS").is_ok_and(|v| v == "1");
    for n in [1_000usize, 10_000] {
        if skip || n >= pods {
            continue;
        }
        let s = start(n).await?;
        println!(
            "  {:>6} pods: start {:>7.0} ms, quiet after another {:>5.0} ms  ({})",
            thousands(n as u64),
            ms(s.start),
            ms(s.settle),
            pod_summary(&s.sb.store)
        );
        starts.push((n, s.start));
        s.sb.stop().await;
    }
    println!(
        "  {:>6} pods: start {:>7.0} ms, quiet after another {:>5.0} ms  (measured above)",
        thousands(pods as u64),
        ms(big.0),
        ms(big.1)
    );
    starts.push((pods, big.0));

    // Summary, ready to paste into the README.
    let (plain_min, plain_med) = min_median(&lists.plain.iter().map(|r| r.ms).collect::<Vec<_>>());
    let (paged_min, paged_med) = min_median(&lists.paged.iter().map(|r| r.ms).collect::<Vec<_>>());
    let plain_mb = lists.plain[0].bytes as f64 / 1e6;
    let items = lists.plain[0].items;
    let n = thousands(pods as u64);
    let nodes = pods.div_ceil(100);
    println!("\n## Summary\n");
    println!(
        "Sandbox at {n} pods on {nodes} nodes, measured by `cargo bench --bench sandbox` on {}.\n",
        machine()
    );
    println!("| Figure | Target | Measured |");
    println!("|---|---|---|");
    println!(
        "| First `list pods -A`, one GET ({} items, {plain_mb:.0} MB) | < 1 s | {plain_med:.0} ms median, {plain_min:.0} ms min |",
        thousands(items as u64)
    );
    println!(
        "| First `list pods -A`, paginated (limit={PAGE}, {} pages) | < 1 s | {paged_med:.0} ms median, {paged_min:.0} ms min |",
        lists.paged[0].pages
    );
    println!(
        "| Watch fan-out: {} watchers, {:.0} pod changes/s | none falls behind | {} behind; ≥ {:.0} events/s each; delay p99 {:.0} ms, max {:.0} ms; max rv lag {} |",
        watch.watchers,
        watch.rate_sent,
        watch.behind,
        watch.min_rate_received,
        watch.p99_delay_ms,
        watch.max_delay_ms,
        watch.max_rv_lag
    );
    println!(
        "| Resident memory at {n} pods, settled | — | {:.0} MB RSS ({:.0} MB peak) |",
        mb(settled.rss_kb),
        mb(settled.hwm_kb)
    );
    println!(
        "| Resident memory after lists and watch test | — | {:.0} MB RSS ({:.0} MB peak) |",
        mb(after_watch.rss_kb),
        mb(after_watch.hwm_kb)
    );
    println!(
        "| Start (populate + settle) | — | {} |",
        starts
            .iter()
            .map(|(n, d)| format!("{} pods {:.1} s", thousands(*n as u64), d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "\n(sandbox controllers' CPU during the watch test: {:.2} cores, all of this process)",
        watch.cores
    );
    Ok(())
}
