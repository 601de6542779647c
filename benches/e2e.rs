//! The console as a user meets it: the release binary launched in a real terminal (tmux,
//! 200×50) against `helmdeck sandbox --pods N`, timed from launch. Prints figures, asserts
//! nothing.
//!
//!     cargo bench --bench e2e                        # 1,000, 10,000 and 50,000 pods, 3 runs
//!     cargo bench --bench e2e -- --pods 10000 --runs 5 --idle 20
//!     cargo bench --bench e2e -- --pods 0 --releases 1000  # the release roll-up alone
//!
//! Per run, with the console opened on the Pods screen (`--command pods`, all namespaces):
//! - launch → header drawn: the first frame on the screen;
//! - launch → full pod list: the Pods title shows the sandbox's pod count and rows are drawn;
//! - RSS of the console 30 s after launch (`--settle`), from /proc;
//! - CPU it causes on the API server while idle: the sandbox's CPU over `--idle` seconds with
//!   the console open, less the same window measured with no console;
//! - `/` filter to one pod name → its row alone on screen, timed from the last key sent.
//!
//! Before them, the release roll-up at `--releases N` (default 1,000) releases × 10 revisions:
//! `helmdeck status` from launch to exit (and its peak RSS), and the console from launch
//! until the Releases title shows every release.
//!
//! If `kdash` is on the PATH, it is launched the same way (KUBECONFIG), timed from launch to
//! the pod count in its Pods title and its RSS, and the ratio printed.
//!
//! The screen is polled with `tmux capture-pane` (each poll takes a few ms, so times carry
//! that resolution); the tmux server is started before the clock.

mod common;
use common::{cpu_secs, machine, median, rss_mb, start_sandbox, start_sandbox_with, wait_quiet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SOCKET: &str = "helmdeck-e2e";
const WIDTH: &str = "200";
const HEIGHT: &str = "50";

struct Args {
    pods: Vec<usize>,
    /// Releases (of 10 revisions each) for the roll-up; 0 skips it.
    releases: usize,
    runs: usize,
    idle_secs: u64,
    settle_secs: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        pods: vec![1_000, 10_000, 50_000],
        releases: 1_000,
        runs: 3,
        idle_secs: 20,
        settle_secs: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match a.as_str() {
            // `--pods 0` (or `none`) skips the pod sizes.
            "--pods" => {
                args.pods = value()
                    .split(',')
                    .filter_map(|p| p.trim().replace('_', "").parse().ok())
                    .filter(|&p| p > 0)
                    .collect()
            }
            "--releases" => args.releases = value().replace('_', "").parse().unwrap_or(0),
            "--runs" => args.runs = value().parse().unwrap_or(3).max(1),
            "--idle" => args.idle_secs = value().parse().unwrap_or(20),
            "--settle" => args.settle_secs = value().parse().unwrap_or(30),
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(SOCKET)
        .args(args)
        .output()
        .expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Polls the screen until `done` holds or `limit` passes; the time since `from` when it held.
fn wait_for(
    session: &str,
    from: Instant,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> Option<f64> {
    while from.elapsed() < limit {
        if done(&screen(session)) {
            return Some(from.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Starts `program` in a new detached session of the terminal's size; the launch instant.
fn launch(session: &str, program: &[&str]) -> Instant {
    let started = Instant::now();
    let mut args = vec![
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        WIDTH,
        "-y",
        HEIGHT,
        "--",
    ];
    args.extend_from_slice(program);
    tmux(&args);
    started
}

/// Waits until `secs` after `started`, then reads the resident memory of `pid`.
fn rss_at(pid: u32, started: Instant, secs: u64) -> f64 {
    let settle = Duration::from_secs(secs);
    if started.elapsed() < settle {
        std::thread::sleep(settle - started.elapsed());
    }
    rss_mb(pid)
}

/// The pid of the program running in a session's pane.
fn pane_pid(session: &str) -> u32 {
    tmux(&["display-message", "-p", "-t", session, "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Pods in the sandbox, and the name of one of them: what the console must show. (The
/// sandbox, like an API server may, gives no `remainingItemCount`: the pods are counted.)
fn pod_count_and_a_name(url: &str) -> (usize, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let api: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(client);
        let (mut count, mut name, mut token) = (0, String::new(), None::<String>);
        loop {
            let mut lp = kube::api::ListParams::default().limit(5_000);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page = api.list(&lp).await.expect("list pods");
            count += page.items.len();
            if let Some(p) = page.items.last() {
                name = p.metadata.name.clone().unwrap_or_default();
            }
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                return (count, name);
            }
        }
    })
}

struct Run {
    header_s: Option<f64>,
    full_s: Option<f64>,
    rss_mb: f64,
    filter_s: Option<f64>,
    idle_cpu_pct: f64,
}

/// One launch of the console, measured; the session is killed at the end.
fn run_helmdeck(
    kubeconfig: &Path,
    sandbox_pid: u32,
    total: usize,
    pod: &str,
    args: &Args,
    baseline_cpu: f64,
) -> Run {
    let session = format!("hd-{}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_helmdeck");
    let kc = kubeconfig.display().to_string();
    let started = launch(
        &session,
        &[
            "env",
            "HELMDECK_LOG=warn",
            bin,
            "--kubeconfig",
            &kc,
            "-A",
            "--command",
            "pods",
        ],
    );
    let limit = Duration::from_secs(120);
    let header_s = wait_for(&session, started, limit, |s| !s.trim().is_empty());
    let title = format!("Pods ({total})");
    let full_s = wait_for(&session, started, limit, |s| {
        s.contains(&title) && s.contains("Running")
    });
    let pid = pane_pid(&session);

    // Idle: the console open and synced, nobody touching it.
    let cpu0 = cpu_secs(sandbox_pid);
    std::thread::sleep(Duration::from_secs(args.idle_secs));
    let idle = (cpu_secs(sandbox_pid) - cpu0) / args.idle_secs as f64;
    let idle_cpu_pct = ((idle - baseline_cpu) * 100.0).max(0.0);

    let rss = rss_at(pid, started, args.settle_secs);

    tmux(&["send-keys", "-t", &session, "/"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux(&["send-keys", "-t", &session, "-l", pod]);
    let typed = Instant::now();
    let filtered = format!("Pods (1) /{pod}");
    let filter_s = wait_for(&session, typed, Duration::from_secs(30), |s| {
        s.contains(&filtered)
    });
    tmux(&["kill-session", "-t", &session]);
    Run {
        header_s,
        full_s,
        rss_mb: rss,
        filter_s,
        idle_cpu_pct,
    }
}

struct KdashRun {
    full_s: Option<f64>,
    rss_mb: f64,
}

/// One launch of kdash with the same kubeconfig: launch → the pod count in its Pods title.
fn run_kdash(kubeconfig: &Path, total: usize, args: &Args) -> KdashRun {
    let session = format!("kd-{}", std::process::id());
    let kc = format!("KUBECONFIG={}", kubeconfig.display());
    let started = launch(&session, &["env", &kc, "kdash"]);
    let count = format!("[{total}]");
    let full_s = wait_for(&session, started, Duration::from_secs(120), |s| {
        s.contains("Pods") && s.contains(&count)
    });
    let pid = pane_pid(&session);
    let rss = rss_at(pid, started, args.settle_secs);
    tmux(&["kill-session", "-t", &session]);
    KdashRun {
        full_s,
        rss_mb: rss,
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "timed out".into(), |s| format!("{s:.3} s"))
}

fn median_of(v: impl Iterator<Item = Option<f64>>) -> String {
    let mut xs: Vec<f64> = v.flatten().collect();
    if xs.is_empty() {
        return "timed out".into();
    }
    let n = xs.len();
    format!("{:.3} s (of {n})", median(&mut xs))
}

/// Runs `cmd` to its end: seconds from launch to exit, peak resident memory (MB, from
/// the kernel's accounting of that one child), exit code and standard output.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its peak memory
fn run_measured(cmd: &mut Command) -> (f64, f64, i32, String) {
    use std::io::Read;
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let mut out = String::new();
    let _ = child.stdout.take().expect("piped").read_to_string(&mut out);
    let mut status = 0;
    // SAFETY: wait4 writes only the status and the struct it is given, for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let took = started.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (took, usage.ru_maxrss as f64 / 1024.0, code, out)
}

/// The release roll-up at `releases` × 10 revisions: `helmdeck status` and the Releases
/// screen, `runs` times each.
fn rollup(releases: usize, runs: usize, dir: &Path) {
    let kubeconfig = dir.join("kubeconfig-releases");
    let sandbox = start_sandbox_with(&["--releases", &releases.to_string()], Some(&kubeconfig));
    let spid = sandbox.child.id();
    wait_quiet(spid);
    println!("\n{releases} releases × 10 revisions (release Secrets)");
    let bin = env!("CARGO_BIN_EXE_helmdeck");
    let mut status_s = Vec::new();
    let mut screen_s = Vec::new();
    for i in 0..runs {
        let (took, peak, code, text) = run_measured(
            Command::new(bin)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("status")
                .env("HELMDECK_LOG", "warn"),
        );
        let line = text.lines().find(|l| l.contains("Releases")).unwrap_or("");
        println!(
            "  status run {}: {took:.3} s, exit {code}, peak RSS {peak:.0} MB: {}",
            i + 1,
            line.trim()
        );
        status_s.push(Some(took));

        let session = format!("rel-{}", std::process::id());
        let kc = kubeconfig.display().to_string();
        let started = launch(
            &session,
            &[
                "env",
                "HELMDECK_LOG=warn",
                bin,
                "--kubeconfig",
                &kc,
                "-A",
                "--command",
                "releases",
            ],
        );
        let title = format!("Releases ({releases})");
        let shown = wait_for(&session, started, Duration::from_secs(60), |s| {
            s.contains(&title)
        });
        tmux(&["kill-session", "-t", &session]);
        println!("  Releases screen run {}: {}", i + 1, secs(shown));
        screen_s.push(shown);
        wait_quiet(spid);
    }
    println!(
        "  median: status {}, Releases screen {}",
        median_of(status_s.into_iter()),
        median_of(screen_s.into_iter())
    );
}

fn main() {
    let args = parse_args();
    let kdash = Command::new("kdash").arg("--version").output().is_ok();
    // The tmux server runs before any clock starts.
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "keep",
        "-x",
        WIDTH,
        "-y",
        HEIGHT,
        "sleep",
        "100000",
    ]);
    println!("e2e console benchmark — {}", machine());
    println!(
        "terminal: tmux {WIDTH}×{HEIGHT}; {} run(s) per size; idle window {} s; RSS at {} s; kdash: {}",
        args.runs,
        args.idle_secs,
        args.settle_secs,
        if kdash {
            "on the PATH"
        } else {
            "not on the PATH"
        }
    );
    let dir = tempfile::tempdir().expect("temp dir");
    // The roll-up first, while this process is small: the peak RSS the kernel reports for a
    // child (wait4) is at least this process's own peak, which the child shares until its
    // exec (after the 50,000-pod count below, about 100 MB).
    if args.releases > 0 {
        rollup(args.releases, args.runs, dir.path());
    }
    for &pods in &args.pods {
        let kubeconfig = dir.path().join(format!("kubeconfig-{pods}"));
        let sandbox = start_sandbox(pods, Some(&kubeconfig));
        let spid = sandbox.child.id();
        wait_quiet(spid);
        let (total, pod) = pod_count_and_a_name(&sandbox.url);
        let cpu0 = cpu_secs(spid);
        std::thread::sleep(Duration::from_secs(args.idle_secs));
        let baseline = (cpu_secs(spid) - cpu0) / args.idle_secs as f64;
        println!(
            "\n{total} pods (sandbox idle without a console: {:.1} % of a core)",
            baseline * 100.0
        );
        let mut runs = Vec::new();
        let mut kdash_runs = Vec::new();
        for i in 0..args.runs {
            let r = run_helmdeck(&kubeconfig, spid, total, &pod, &args, baseline);
            println!(
                "  helmdeck run {}: header {}, full list {}, RSS {:.0} MB, filter {}, idle API-server CPU {:.1} %",
                i + 1,
                secs(r.header_s),
                secs(r.full_s),
                r.rss_mb,
                secs(r.filter_s),
                r.idle_cpu_pct
            );
            runs.push(r);
            if kdash {
                wait_quiet(spid);
                let k = run_kdash(&kubeconfig, total, &args);
                println!(
                    "  kdash    run {}: full list {}, RSS {:.0} MB",
                    i + 1,
                    secs(k.full_s),
                    k.rss_mb
                );
                kdash_runs.push(k);
            }
            wait_quiet(spid);
        }
        let mut rss: Vec<f64> = runs.iter().map(|r| r.rss_mb).collect();
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.idle_cpu_pct).collect();
        println!(
            "  median: header {}",
            median_of(runs.iter().map(|r| r.header_s))
        );
        println!(
            "          full list {}",
            median_of(runs.iter().map(|r| r.full_s))
        );
        println!("          RSS {:.0} MB", median(&mut rss));
        println!(
            "          filter {}",
            median_of(runs.iter().map(|r| r.filter_s))
        );
        println!(
            "          idle API-server CPU {:.1} % of a core",
            median(&mut cpu)
        );
        println!("  sandbox RSS after the runs: {:.0} MB", rss_mb(spid));
        if !kdash_runs.is_empty() {
            let mut k: Vec<f64> = kdash_runs.iter().filter_map(|r| r.full_s).collect();
            let mut h: Vec<f64> = runs.iter().filter_map(|r| r.full_s).collect();
            let mut krss: Vec<f64> = kdash_runs.iter().map(|r| r.rss_mb).collect();
            if !k.is_empty() && !h.is_empty() {
                println!(
                    "  kdash: full list {:.3} s, RSS {:.0} MB; helmdeck is {:.1}× faster",
                    median(&mut k),
                    median(&mut krss),
                    median(&mut k) / median(&mut h)
                );
            }
        }
    }
    tmux(&["kill-server"]);
}
