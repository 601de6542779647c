//! A mutation fuzzer on stable Rust for the decoders that take untrusted bytes (see
//! `benches/fuzz/targets.rs` for the targets and README "Fuzzing").
//!
//! ```text
//! cargo bench --bench fuzz -- [--execs N] [--threads T] [--seconds S] [--total-seconds S]
//!                              [--max-len L] [--seed X] [--list] [--write-seeds]
//!                              [--replay FILE...] [TARGET...]
//! ```
//!
//! `--execs` is per target (default 100,000; `10M` and `100k` are understood); `--seconds`
//! caps each target's time, `--total-seconds` the whole run's (shared out as it goes). The
//! table at the end gives, per target: executions, crashes, executions per second, the
//! slowest input's time and size, the inputs over 100 ms and the corpus size.
//!
//! Each target starts from its seed corpus (`fuzz/corpus/<target>/`, made from the test
//! fixtures by `--write-seeds`), then mutates inputs picked from the corpus: bit flips, byte
//! insertion, deletion and replacement, interesting numbers (as bytes and as text), chunk
//! duplication, splicing of two inputs, tokens of YAML/JSON (`{`, `[`, `&a`, `*a`, `!!`…),
//! of the target and of its seeds, deep nesting and long runs. An input whose outcome shows
//! something not seen before (see `targets::Features`) joins the corpus. Stable Rust has no
//! coverage instrumentation for a bench, so this is a proxy for coverage, not coverage.
//!
//! Every execution runs under `catch_unwind` with the panic hook silenced: a panic is a
//! crash, saved with its message to `target/fuzz-crashes/<target>/`. An abort (a stack
//! overflow, an allocation failure) cannot be caught: a signal handler writes the input being
//! run to `target/fuzz-crashes/<target>/fatal-<worker>.bin` before the process dies. An
//! execution taking more than 10 ms, or longer than the slowest so far, is run again twice
//! and counted by the fastest of the three (a busy machine's pauses are not the input's);
//! over 100 ms it is saved to `target/fuzz-slow/<target>/`, the slowest of a target as
//! `slowest.bin`. One running more than 10 s stops the run (saved as `hang-<worker>.bin`).

#[path = "fuzz/seeds.rs"]
mod seeds;
#[path = "fuzz/targets.rs"]
mod targets;

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use targets::{Features, TARGETS, Target};

/// An input slower than this is flagged.
const SLOW: Duration = Duration::from_millis(100);
/// An input slower than this is timed again (so a busy machine does not flag it).
const RETIME: Duration = Duration::from_millis(10);
/// An input running longer than this stops the run.
const HANG: Duration = Duration::from_secs(10);
/// The corpus of one worker stops growing here (new finds then replace old ones).
const MAX_CORPUS: usize = 4096;
/// Stack of a worker thread: the 2 MiB of a tokio worker or `spawn_blocking` thread, where
/// the sandbox decodes request bodies.
const STACK: usize = 2 * 1024 * 1024;
const MAX_WORKERS: usize = 16;

struct Options {
    execs: u64,
    threads: usize,
    seconds: Option<f64>,
    /// A time for the whole run, shared out: each target gets what is left divided by the
    /// targets left (so time a fast target does not use goes to the slower ones).
    total_seconds: Option<f64>,
    max_len: Option<usize>,
    seed: u64,
    targets: Vec<&'static Target>,
    replay: Vec<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench fuzz -- [--execs N] [--threads T] [--seconds S] \
         [--total-seconds S] [--max-len L] [--seed X] [--list] [--write-seeds] [--replay FILE...] [TARGET...]"
    );
    std::process::exit(2)
}

fn parse_count(s: &str) -> u64 {
    let t = s.replace(['_', ','], "");
    let (num, mul) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        _ => (&t[..], 1),
    };
    num.parse::<u64>()
        .map(|n| n * mul)
        .unwrap_or_else(|_| usage())
}

fn options() -> Options {
    let mut o = Options {
        execs: 100_000,
        threads: 1,
        seconds: None,
        total_seconds: None,
        max_len: None,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        targets: Vec::new(),
        replay: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    let mut replaying = false;
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--bench" => {}
            "--execs" | "-n" => o.execs = parse_count(&value()),
            "--threads" | "-j" => {
                o.threads = value().parse().unwrap_or_else(|_| usage());
                o.threads = o.threads.clamp(1, MAX_WORKERS);
            }
            "--seconds" => o.seconds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--total-seconds" => {
                o.total_seconds = Some(value().parse().unwrap_or_else(|_| usage()))
            }
            "--max-len" => o.max_len = Some(value().parse().unwrap_or_else(|_| usage())),
            "--seed" => o.seed = value().parse().unwrap_or_else(|_| usage()),
            "--list" => {
                for t in TARGETS {
                    println!("{:<18} {}", t.name, t.about);
                }
                std::process::exit(0)
            }
            "--write-seeds" => {
                seeds::write_all(&corpus_root());
                std::process::exit(0)
            }
            "--replay" => replaying = true,
            "-h" | "--help" => usage(),
            name if !name.starts_with('-') => match TARGETS.iter().find(|t| t.name == name) {
                Some(t) => o.targets.push(t),
                None if replaying => o.replay.push(PathBuf::from(name)),
                None => {
                    eprintln!("no target {name:?}; --list shows them");
                    std::process::exit(2)
                }
            },
            _ => usage(),
        }
    }
    if o.targets.is_empty() {
        o.targets = TARGETS.iter().collect();
    }
    o
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_root() -> PathBuf {
    root().join("fuzz").join("corpus")
}

fn crash_dir(t: &Target) -> PathBuf {
    root().join("target").join("fuzz-crashes").join(t.name)
}

fn slow_dir(t: &Target) -> PathBuf {
    root().join("target").join("fuzz-slow").join(t.name)
}

fn load_seeds(t: &Target) -> Vec<Vec<u8>> {
    let dir = corpus_root().join(t.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if seeds.is_empty() {
        eprintln!(
            "{}: no seeds in {} (cargo bench --bench fuzz -- --write-seeds)",
            t.name,
            dir.display()
        );
        vec![Vec::new()]
    } else {
        seeds
    }
}

// ---------------------------------------------------------------------------------------
// Crash capture

thread_local! {
    static PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Keeps the message and place of a panic for the report instead of printing it.
fn silence_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // A panic in a dependency (serde_json's `Index`) is placed by the project's frame
        // that led to it.
        let ours = std::backtrace::Backtrace::force_capture()
            .to_string()
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("at "))
            .find(|l| l.contains("src/") && !l.contains("/.cargo/") && !l.starts_with("/rustc/"))
            .map(|l| format!(" (from {l})"))
            .unwrap_or_default();
        PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg} at {at}{ours}")));
    }));
}

/// What the signal handler and the watchdog see of a worker: the input it runs, where to
/// write it, since when it runs it.
struct Slot {
    input: AtomicPtr<u8>,
    len: AtomicUsize,
    fatal_path: AtomicPtr<libc::c_char>,
    hang_path: AtomicPtr<libc::c_char>,
    started_ns: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    input: AtomicPtr::new(std::ptr::null_mut()),
    len: AtomicUsize::new(0),
    fatal_path: AtomicPtr::new(std::ptr::null_mut()),
    hang_path: AtomicPtr::new(std::ptr::null_mut()),
    started_ns: AtomicU64::new(0),
};
static SLOTS: [Slot; MAX_WORKERS] = [EMPTY_SLOT; MAX_WORKERS];

fn c_path(p: &Path) -> *mut libc::c_char {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("no NUL in a path");
    c.into_raw()
}

/// Writes `len` bytes at `ptr` to `path`, with async-signal-safe calls only.
unsafe fn write_raw(path: *const libc::c_char, ptr: *const u8, len: usize) -> bool {
    if path.is_null() {
        return false;
    }
    unsafe {
        let fd = libc::open(path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644);
        if fd < 0 {
            return false;
        }
        let mut off = 0;
        while off < len {
            let n = libc::write(fd, ptr.add(off).cast(), len - off);
            if n <= 0 {
                break;
            }
            off += n as usize;
        }
        libc::close(fd);
    }
    true
}

extern "C" fn on_fatal_signal(_sig: libc::c_int) {
    const MSG: &[u8] = b"\nfuzz: fatal signal; the inputs being run were written to target/fuzz-crashes/<target>/fatal-<worker>.bin\n";
    for slot in &SLOTS {
        let ptr = slot.input.load(Ordering::Acquire);
        if !ptr.is_null() {
            let len = slot.len.load(Ordering::Acquire);
            unsafe { write_raw(slot.fatal_path.load(Ordering::Acquire), ptr, len) };
        }
    }
    unsafe { libc::write(2, MSG.as_ptr().cast(), MSG.len()) };
    // Returning lets abort() go on (it resets the handler and raises again); for the other
    // signals the default action is restored by SA_RESETHAND and the fault repeats.
}

fn install_fatal_handlers() {
    for sig in [libc::SIGABRT, libc::SIGILL, libc::SIGFPE] {
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fatal_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_ONSTACK | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn nanos_since(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

/// Stops the process when an execution runs longer than [`HANG`], with its input saved.
fn watchdog(epoch: Instant, done: Arc<AtomicBool>) {
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let now = nanos_since(epoch);
        for (i, slot) in SLOTS.iter().enumerate() {
            let started = slot.started_ns.load(Ordering::Acquire);
            if started == 0 || now.saturating_sub(started) < HANG.as_nanos() as u64 {
                continue;
            }
            let ptr = slot.input.load(Ordering::Acquire);
            if !ptr.is_null() {
                // The worker is stuck in the target, reading this input: it stays as it is.
                unsafe {
                    write_raw(
                        slot.hang_path.load(Ordering::Acquire),
                        ptr,
                        slot.len.load(Ordering::Acquire),
                    )
                };
            }
            eprintln!(
                "\nfuzz: worker {i} has run one input for more than {} s: a hang; its input is in \
                 target/fuzz-crashes/<target>/hang-{i}.bin",
                HANG.as_secs()
            );
            std::process::exit(3);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mutation

const INTERESTING_8: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\n', b'"', b'\'', b':', b'\\', b' ', b'\t', b'\r', b'-', b'#',
];
const INTERESTING_32: &[u32] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "127",
    "128",
    "255",
    "256",
    "-129",
    "32767",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e309",
    "1e-400",
    "0.1",
    "1.0",
    "NaN",
    ".nan",
    ".inf",
    "-.inf",
    "0x7f",
    "0o17",
    "0b1",
    "1_000",
    "00",
    "010",
    "99999999999999999999999999999999",
];
/// Tokens of YAML and JSON every text target gets.
const SYNTAX: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n- ",
    "\"",
    "'",
    "\\",
    "\\u0000",
    "\\ud800",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!!map ",
    "!!seq ",
    "!!null ",
    "!!float ",
    "!!bool ",
    "!<tag:yaml.org,2002:str> ",
    "!custom ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n",
    "#",
    "~",
    "null",
    "true",
    "false",
    "yes",
    "no",
    "\t",
    "\r\n",
    "\u{feff}",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "é",
    "\u{1F600}",
    "{\"a\":",
    "[[",
    "{}",
    "[]",
    "\"\"",
    "''",
];
/// Openers for deep nesting.
const NESTING: &[&str] = &[
    "[", "{\"a\":", "{a: ", "- ", "a:\n ", "[{", "*a ", "&a [", "? ",
];

struct Mutator {
    rng: fastrand::Rng,
    dict: Vec<Vec<u8>>,
    binary: bool,
    max_len: usize,
}

impl Mutator {
    fn pos(&mut self, data: &[u8]) -> usize {
        self.rng.usize(..=data.len())
    }

    fn index(&mut self, data: &[u8]) -> Option<usize> {
        (!data.is_empty()).then(|| self.rng.usize(..data.len()))
    }

    fn range(&mut self, data: &[u8], max: usize) -> Option<(usize, usize)> {
        let start = self.index(data)?;
        let len = self.rng.usize(1..=max.min(data.len() - start).max(1));
        Some((start, (start + len).min(data.len())))
    }

    /// A run length, mostly short, sometimes long.
    fn run_len(&mut self) -> usize {
        match self.rng.u8(..8) {
            0 => self.rng.usize(256..=self.max_len.max(257)),
            1..=2 => self.rng.usize(16..256),
            _ => self.rng.usize(1..16),
        }
    }

    fn insert(&mut self, data: &mut Vec<u8>, at: usize, bytes: &[u8]) {
        let room = self.max_len.saturating_sub(data.len());
        let bytes = &bytes[..bytes.len().min(room)];
        data.splice(at..at, bytes.iter().copied());
    }

    /// One mutation; `other` is another corpus input to splice with.
    fn mutate_once(&mut self, data: &mut Vec<u8>, other: &[u8]) {
        let ops = if self.binary { 15 } else { 19 };
        match self.rng.u8(..ops) {
            0 => {
                if let Some(i) = self.index(data) {
                    data[i] ^= 1 << self.rng.u8(..8);
                }
            }
            1 => {
                if let Some(i) = self.index(data) {
                    data[i] = self.rng.u8(..);
                }
            }
            2 => {
                if let Some(i) = self.index(data) {
                    data[i] = INTERESTING_8[self.rng.usize(..INTERESTING_8.len())];
                }
            }
            3 => {
                let v = INTERESTING_32[self.rng.usize(..INTERESTING_32.len())];
                let width = [1usize, 2, 4][self.rng.usize(..3)];
                let bytes = if self.rng.bool() {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                if data.len() >= width {
                    let i = self.rng.usize(..=data.len() - width);
                    data[i..i + width].copy_from_slice(&bytes[..width]);
                }
            }
            4 => {
                let n = self.rng.usize(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.u8(..)).collect();
                let at = self.pos(data);
                self.insert(data, at, &bytes);
            }
            5 => {
                let max = if self.rng.u8(..8) == 0 {
                    data.len()
                } else {
                    16
                };
                if let Some((a, b)) = self.range(data, max) {
                    data.drain(a..b);
                }
            }
            6 => {
                // Chunk duplication.
                if let Some((a, b)) = self.range(data, 256) {
                    let chunk = data[a..b].to_vec();
                    let at = self.pos(data);
                    let times = if self.rng.u8(..4) == 0 {
                        self.rng.usize(2..64)
                    } else {
                        1
                    };
                    for _ in 0..times {
                        self.insert(data, at, &chunk);
                    }
                }
            }
            7 => {
                // Chunk copied over another place.
                if let Some((a, b)) = self.range(data, 64) {
                    let chunk = data[a..b].to_vec();
                    let at = self.rng.usize(..=data.len() - chunk.len());
                    data[at..at + chunk.len()].copy_from_slice(&chunk);
                }
            }
            8 => {
                // Splice: a head of this input and a tail of the other, or a piece inserted.
                if !other.is_empty() {
                    let cut = self.pos(data);
                    let from = self.rng.usize(..other.len());
                    if self.rng.bool() {
                        data.truncate(cut);
                        let tail = other[from..].to_vec();
                        self.insert(data, cut, &tail);
                    } else {
                        let end = (from + self.rng.usize(1..=64)).min(other.len());
                        let piece = other[from..end].to_vec();
                        self.insert(data, cut, &piece);
                    }
                }
            }
            9 => {
                if !self.dict.is_empty() {
                    let tok = self.dict[self.rng.usize(..self.dict.len())].clone();
                    let at = self.pos(data);
                    self.insert(data, at, &tok);
                }
            }
            10 => {
                // A dictionary token over what is there.
                if !self.dict.is_empty() && !data.is_empty() {
                    let tok = self.dict[self.rng.usize(..self.dict.len())].clone();
                    let at = self.rng.usize(..data.len());
                    let end = (at + tok.len()).min(data.len());
                    data.splice(at..end, tok);
                }
            }
            11 => {
                // Long run of one byte.
                let byte =
                    [b'a', b' ', b'\n', b'\\', b'"', b'0', 0xff, 0x80, 0][self.rng.usize(..9)];
                let n = self.run_len();
                let at = self.pos(data);
                self.insert(data, at, &vec![byte; n]);
            }
            12 => {
                // Deep nesting.
                let opener = NESTING[self.rng.usize(..NESTING.len())].as_bytes();
                let depth = match self.rng.u8(..4) {
                    0 => self.rng.usize(100..2000),
                    _ => self.rng.usize(2..130),
                };
                let at = self.pos(data);
                let nest: Vec<u8> = opener
                    .iter()
                    .copied()
                    .cycle()
                    .take(opener.len() * depth)
                    .collect();
                self.insert(data, at, &nest);
            }
            13 => {
                if data.len() > 1 {
                    let cut = self.rng.usize(..data.len());
                    data.truncate(cut);
                }
            }
            14 => {
                if let (Some(a), Some(b)) = (self.index(data), self.index(data)) {
                    data.swap(a, b);
                }
            }
            15 => {
                // A number in the text replaced by an interesting one.
                let digits: Vec<usize> = data
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_digit())
                    .map(|(i, _)| i)
                    .collect();
                let num = INTERESTING_NUMBERS[self.rng.usize(..INTERESTING_NUMBERS.len())];
                if digits.is_empty() {
                    let at = self.pos(data);
                    self.insert(data, at, num.as_bytes());
                } else {
                    let start = digits[self.rng.usize(..digits.len())];
                    let mut end = start;
                    while end < data.len() && (data[end].is_ascii_digit() || data[end] == b'.') {
                        end += 1;
                    }
                    data.splice(start..end, num.bytes());
                }
            }
            16 => {
                let tok = SYNTAX[self.rng.usize(..SYNTAX.len())].as_bytes();
                let at = self.pos(data);
                self.insert(data, at, tok);
            }
            17 => {
                // Line operations: delete, duplicate or move one line (YAML's structure).
                let lines: Vec<usize> = std::iter::once(0)
                    .chain(
                        data.iter()
                            .enumerate()
                            .filter(|(_, b)| **b == b'\n')
                            .map(|(i, _)| i + 1),
                    )
                    .filter(|&i| i < data.len())
                    .collect();
                if lines.is_empty() {
                    return;
                }
                let start = lines[self.rng.usize(..lines.len())];
                let end = data[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |p| start + p + 1);
                let line = data[start..end].to_vec();
                match self.rng.u8(..3) {
                    0 => {
                        data.drain(start..end);
                    }
                    1 => self.insert(data, start, &line),
                    _ => {
                        data.drain(start..end);
                        let to = lines[self.rng.usize(..lines.len())].min(data.len());
                        self.insert(data, to, &line);
                    }
                }
            }
            _ => {
                // Indentation changed at a line start.
                let starts: Vec<usize> = data
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1)
                    .collect();
                if let Some(&s) = starts.get(self.rng.usize(..starts.len().max(1))) {
                    if self.rng.bool() {
                        let n = self.rng.usize(1..=4);
                        self.insert(data, s, &b"    "[..n]);
                    } else if data.get(s) == Some(&b' ') {
                        data.remove(s);
                    }
                }
            }
        }
    }

    fn mutate(&mut self, data: &mut Vec<u8>, other: &[u8]) {
        let n = 1 << self.rng.u32(..4);
        for _ in 0..n {
            self.mutate_once(data, other);
        }
        data.truncate(self.max_len);
    }
}

/// Words and punctuation runs of the seeds, as tokens to insert.
fn seed_tokens(seeds: &[Vec<u8>], binary: bool) -> Vec<Vec<u8>> {
    let mut set = HashSet::new();
    for s in seeds {
        let mut start = None;
        for (i, &b) in s.iter().chain(std::iter::once(&0u8)).enumerate() {
            let word = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'$');
            match (word, start) {
                (true, None) => start = Some(i),
                (false, Some(st)) => {
                    if (2..=40).contains(&(i - st)) {
                        set.insert(s[st..i].to_vec());
                    }
                    start = None;
                }
                _ => {}
            }
        }
        if binary {
            // Short byte strings of the binary seeds (protobuf keys and lengths).
            for w in s.windows(2).step_by(3).take(200) {
                set.insert(w.to_vec());
            }
        }
    }
    let mut v: Vec<Vec<u8>> = set.into_iter().collect();
    v.sort();
    v.truncate(2000);
    v
}

// ---------------------------------------------------------------------------------------
// The run of one target

#[derive(Default, Clone)]
struct Stats {
    execs: u64,
    crashes: u64,
    unique_crashes: usize,
    slow: u64,
    slowest: Duration,
    slowest_len: usize,
    corpus: usize,
    elapsed: Duration,
}

struct Shared {
    target: &'static Target,
    execs: AtomicU64,
    crashes: AtomicU64,
    slow: AtomicU64,
    stop: AtomicBool,
    limit: u64,
    deadline: Option<Instant>,
    crash_sigs: Mutex<HashMap<String, PathBuf>>,
    slowest: Mutex<(Duration, Vec<u8>)>,
    slowest_ns: AtomicU64,
    corpus_sizes: Mutex<Vec<usize>>,
}

fn hash_bytes(data: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// Runs one input; `Err` holds the panic's message.
fn run_one(t: &Target, data: &[u8], f: &mut Features) -> Result<(), String> {
    f.clear();
    catch_unwind(AssertUnwindSafe(|| (t.run)(data, f))).map_err(|_| {
        PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "(panic)".into())
    })
}

fn record_crash(sh: &Shared, data: &[u8], msg: &str) {
    sh.crashes.fetch_add(1, Ordering::Relaxed);
    // One file per distinct panic (message class and place).
    let sig = targets::message_class(msg);
    let mut sigs = sh.crash_sigs.lock().unwrap();
    if sigs.contains_key(&sig) {
        return;
    }
    let dir = crash_dir(sh.target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("crash-{:016x}.bin", hash_bytes(data)));
    let _ = std::fs::write(&path, data);
    let _ = std::fs::write(path.with_extension("txt"), format!("{msg}\n"));
    eprintln!(
        "\n{}: CRASH {msg}\n  input ({} bytes) saved to {}",
        sh.target.name,
        data.len(),
        path.display()
    );
    sigs.insert(sig, path);
}

fn worker(
    sh: &Shared,
    w: usize,
    seeds: &[Vec<u8>],
    dict: Vec<Vec<u8>>,
    max_len: usize,
    seed: u64,
    epoch: Instant,
) {
    let t = sh.target;
    let slot = &SLOTS[w];
    let mut m = Mutator {
        rng: fastrand::Rng::with_seed(seed),
        dict,
        binary: t.binary,
        max_len,
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let mut f = Features::default();
    let mut input: Vec<u8> = Vec::with_capacity(max_len + 64);
    let mut next_seed = 0;
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            break;
        }
        let n = sh.execs.fetch_add(1, Ordering::Relaxed);
        if n >= sh.limit
            || sh
                .deadline
                .is_some_and(|d| n.is_multiple_of(64) && Instant::now() >= d)
        {
            sh.execs.fetch_sub(1, Ordering::Relaxed);
            sh.stop.store(true, Ordering::Relaxed);
            break;
        }
        input.clear();
        let is_seed = next_seed < seeds.len();
        if is_seed {
            // Every seed first, as is; each stays in the corpus as a parent.
            input.extend_from_slice(&seeds[next_seed]);
            next_seed += 1;
        } else if !corpus.is_empty() {
            input.extend_from_slice(&corpus[m.rng.usize(..corpus.len())]);
            let other = &corpus[m.rng.usize(..corpus.len())];
            m.mutate(&mut input, other);
        } else {
            m.mutate(&mut input, &[]);
        }
        slot.input
            .store(input.as_ptr().cast_mut(), Ordering::Release);
        slot.len.store(input.len(), Ordering::Release);
        slot.started_ns
            .store(nanos_since(epoch).max(1), Ordering::Release);
        let t0 = Instant::now();
        let result = run_one(t, &input, &mut f);
        let mut took = t0.elapsed();
        slot.started_ns.store(0, Ordering::Release);
        if let Err(msg) = result {
            slot.input.store(std::ptr::null_mut(), Ordering::Release);
            record_crash(sh, &input, &msg);
            continue;
        }
        if took > RETIME || took.as_nanos() as u64 > sh.slowest_ns.load(Ordering::Relaxed) {
            // Timed again, the fastest of three, when it would be flagged or be the slowest
            // so far: so a burst of another process (or a page fault) is not counted.
            for _ in 0..2 {
                let t1 = Instant::now();
                let _ = run_one(t, &input, &mut f);
                took = took.min(t1.elapsed());
            }
            let mut s = sh.slowest.lock().unwrap();
            if took > s.0 {
                *s = (took, input.clone());
                sh.slowest_ns
                    .store(took.as_nanos() as u64, Ordering::Relaxed);
            }
        }
        slot.input.store(std::ptr::null_mut(), Ordering::Release);
        if took > SLOW {
            sh.slow.fetch_add(1, Ordering::Relaxed);
            let dir = slow_dir(t);
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("slow-{:016x}.bin", hash_bytes(&input)));
            let _ = std::fs::write(&path, &input);
            eprintln!(
                "\n{}: SLOW input: {:.1} ms ({} bytes), saved to {}",
                t.name,
                took.as_secs_f64() * 1e3,
                input.len(),
                path.display()
            );
        }
        let mut new = false;
        for &h in &f.0 {
            new |= seen.insert(h);
        }
        if is_seed || new || corpus.is_empty() {
            if corpus.len() < MAX_CORPUS {
                corpus.push(input.clone());
            } else {
                let i = m.rng.usize(seeds.len().min(MAX_CORPUS - 1)..MAX_CORPUS);
                corpus[i] = input.clone();
            }
        }
    }
    sh.corpus_sizes.lock().unwrap().push(corpus.len());
}

fn run_target(t: &'static Target, o: &Options, epoch: Instant, seconds: Option<f64>) -> Stats {
    let seeds: Vec<Vec<u8>> = load_seeds(t);
    let longest = seeds.iter().map(Vec::len).max().unwrap_or(0);
    let max_len = o.max_len.unwrap_or(longest.max(1024) + 1024);
    let mut dict: Vec<Vec<u8>> = t.dict.iter().map(|s| s.as_bytes().to_vec()).collect();
    if !t.binary {
        dict.extend(SYNTAX.iter().map(|s| s.as_bytes().to_vec()));
    }
    dict.extend(seed_tokens(&seeds, t.binary));
    let sh = Shared {
        target: t,
        execs: AtomicU64::new(0),
        crashes: AtomicU64::new(0),
        slow: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        limit: o.execs,
        deadline: seconds.map(|s| Instant::now() + Duration::from_secs_f64(s.max(1.0))),
        crash_sigs: Mutex::new(HashMap::new()),
        slowest: Mutex::new((Duration::ZERO, Vec::new())),
        slowest_ns: AtomicU64::new(0),
        corpus_sizes: Mutex::new(Vec::new()),
    };
    let _ = std::fs::create_dir_all(crash_dir(t));
    for (w, slot) in SLOTS.iter().enumerate().take(o.threads) {
        let dir = crash_dir(t);
        slot.fatal_path.store(
            c_path(&dir.join(format!("fatal-{w}.bin"))),
            Ordering::Release,
        );
        slot.hang_path.store(
            c_path(&dir.join(format!("hang-{w}.bin"))),
            Ordering::Release,
        );
    }
    println!(
        "{}: {} seeds (longest {} bytes), inputs up to {} bytes, {} dictionary tokens, {} thread(s)",
        t.name,
        seeds.len(),
        longest,
        max_len,
        dict.len(),
        o.threads
    );
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..o.threads {
            let (sh, seeds, dict) = (&sh, &seeds, dict.clone());
            let seed = o
                .seed
                .wrapping_add((w as u64) << 32)
                .wrapping_add(hash_bytes(t.name.as_bytes()));
            std::thread::Builder::new()
                .name(format!("fuzz-{}-{w}", t.name))
                .stack_size(STACK)
                .spawn_scoped(scope, move || {
                    worker(sh, w, seeds, dict, max_len, seed, epoch)
                })
                .expect("spawn a worker");
        }
        // Progress every 30 s.
        let mut last = Instant::now();
        while !sh.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() >= Duration::from_secs(30) {
                last = Instant::now();
                let n = sh.execs.load(Ordering::Relaxed);
                let secs = start.elapsed().as_secs_f64();
                let slowest = sh.slowest.lock().unwrap().0;
                println!(
                    "  {}: {} execs ({:.0}/s), {} crashes, slowest {:.2} ms",
                    t.name,
                    n,
                    n as f64 / secs,
                    sh.crashes.load(Ordering::Relaxed),
                    slowest.as_secs_f64() * 1e3
                );
            }
        }
    });
    let (slowest, slowest_input) = std::mem::take(&mut *sh.slowest.lock().unwrap());
    let slowest_len = slowest_input.len();
    // The slowest input, to look at (`--replay`).
    let _ = std::fs::create_dir_all(slow_dir(t));
    let _ = std::fs::write(slow_dir(t).join("slowest.bin"), &slowest_input);
    let stats = Stats {
        execs: sh.execs.load(Ordering::Relaxed),
        crashes: sh.crashes.load(Ordering::Relaxed),
        unique_crashes: sh.crash_sigs.lock().unwrap().len(),
        slow: sh.slow.load(Ordering::Relaxed),
        slowest,
        slowest_len,
        corpus: sh.corpus_sizes.lock().unwrap().iter().sum(),
        elapsed: start.elapsed(),
    };
    println!(
        "{}: {} execs in {:.1} s ({:.0} execs/s), {} crashes ({} distinct), corpus {}, \
         slowest {:.2} ms ({} bytes), {} over {} ms",
        t.name,
        stats.execs,
        stats.elapsed.as_secs_f64(),
        stats.execs as f64 / stats.elapsed.as_secs_f64(),
        stats.crashes,
        stats.unique_crashes,
        stats.corpus,
        stats.slowest.as_secs_f64() * 1e3,
        stats.slowest_len,
        stats.slow,
        SLOW.as_millis()
    );
    stats
}

fn replay(o: &Options) {
    let [t] = o.targets.as_slice() else {
        eprintln!("--replay takes one TARGET and the files to run");
        std::process::exit(2)
    };
    let mut f = Features::default();
    for p in &o.replay {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let t0 = Instant::now();
        let r = run_one(t, &data, &mut f);
        let took = t0.elapsed();
        match r {
            Ok(()) => println!(
                "{}: ok in {:.3} ms ({} features)",
                p.display(),
                took.as_secs_f64() * 1e3,
                f.0.len()
            ),
            Err(msg) => println!("{}: CRASH {msg}", p.display()),
        }
    }
}

fn main() {
    let o = options();
    silence_panics();
    install_fatal_handlers();
    if !o.replay.is_empty() {
        return replay(&o);
    }
    let epoch = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let dog = {
        let done = done.clone();
        std::thread::spawn(move || watchdog(epoch, done))
    };
    println!(
        "fuzz: {} target(s), {} executions each{}, {} thread(s), seed {}",
        o.targets.len(),
        o.execs,
        o.seconds
            .map(|s| format!(" (at most {s} s)"))
            .unwrap_or_default(),
        o.threads,
        o.seed
    );
    let mut all = Vec::new();
    let run_start = Instant::now();
    for (i, t) in o.targets.iter().enumerate() {
        let share = o.total_seconds.map(|total| {
            (total - run_start.elapsed().as_secs_f64()) / (o.targets.len() - i) as f64
        });
        let seconds = match (o.seconds, share) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        all.push((t.name, run_target(t, &o, epoch, seconds)));
    }
    done.store(true, Ordering::Relaxed);
    let _ = dog.join();
    println!();
    println!(
        "| target | executions | crashes | execs/s | slowest input | inputs > 100 ms | corpus |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, s) in &all {
        println!(
            "| {name} | {} | {} | {:.0} | {:.2} ms ({} bytes) | {} | {} |",
            s.execs,
            s.crashes,
            s.execs as f64 / s.elapsed.as_secs_f64(),
            s.slowest.as_secs_f64() * 1e3,
            s.slowest_len,
            s.slow,
            s.corpus
        );
    }
    let crashes: u64 = all.iter().map(|(_, s)| s.crashes).sum();
    let slow: u64 = all.iter().map(|(_, s)| s.slow).sum();
    println!(
        "\nfuzz: {} executions in all, {crashes} crashes, {slow} inputs over {} ms",
        all.iter().map(|(_, s)| s.execs).sum::<u64>(),
        SLOW.as_millis()
    );
    if crashes > 0 {
        println!("crashing inputs: target/fuzz-crashes/<target>/");
    }
}
