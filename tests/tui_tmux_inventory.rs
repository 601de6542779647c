//! The demo's three environments in a real terminal (tmux), driven as a person would: `8`
//! shows the inventory with prod behind stage, `esc` closes it, `:inv` opens it again; real
//! `kubectl` reads the three contexts of the demo's kubeconfig. `p` promotes stage's
//! revision to prod through the review (prod is protected: the release name is typed) and
//! the demo's values repo records it under `prod/`. A blue/green cutover of `router`
//! (started with `helmdeck bluegreen start`) is switched with `s` in the `:bg` view — real
//! `kubectl` sees only green pods behind the Service — and `b` returns them to blue within a
//! second.

mod common;
use common::git;
use common::tmux::Tmux;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn eight_shows_prod_behind_stage_in_the_demo() {
    let t = Tmux::start("demo", 160, 40);
    t.wait("every watch synced", 30, |s| {
        s.contains("1:Overview") && s.contains("Cluster") && !s.contains("loading")
    });
    t.keys(&["8"]);
    // Stage and prod start beside the console: read again until they answer.
    let s = t.wait_inventory("prod behind stage", "C-r", |s| {
        s.contains("1.3.0 (rev 2) ⚠ behind stage")
    });
    assert!(s.contains("prod (protected)"), "{s}");
    assert!(
        s.contains("mr-ee · release ee · chart mr-ee · newest 2.0.0"),
        "{s}"
    );
    let router = s.lines().find(|l| l.contains("deploy/router")).unwrap();
    assert!(
        router.contains("3.4.1") && router.contains("3.3.0 ⚠ behind stage"),
        "{router}"
    );
    t.keys(&["Escape"]);
    t.wait("the inventory closed", 30, |s| !s.contains("Inventory"));
    t.keys(&[":", "i", "n", "v", "Enter"]);
    t.wait("the inventory again", 30, |s| s.contains("behind stage"));

    // Real kubectl sees the three contexts the demo wrote, prod one version behind.
    let kc = t.home().join("data/helmdeck/demo.kubeconfig");
    for (context, image) in [
        ("helmdeck-sandbox", "ghcr.io/mr-ee/router:3.4.1"),
        ("stage", "ghcr.io/mr-ee/router:3.4.1"),
        ("prod", "ghcr.io/mr-ee/router:3.3.0"),
    ] {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kc)
            .args([
                "--context",
                context,
                "get",
                "deploy",
                "router",
                "-n",
                "mr-ee",
            ])
            .args(["-o", "jsonpath={.spec.template.spec.containers[0].image}"])
            .output()
            .expect("kubectl is installed (scripts/test-all.sh installs it)");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), image, "{context}");
    }
}

/// The demo's kubeconfig, under the data directory of `t`'s HOME.
fn demo_kubeconfig(t: &Tmux) -> PathBuf {
    t.home().join("data/helmdeck/demo.kubeconfig")
}

/// Real kubectl on the demo's kubeconfig (its cache under the test's HOME).
fn kubectl(t: &Tmux, args: &[&str]) -> Command {
    let mut c = Command::new("kubectl");
    c.arg("--kubeconfig")
        .arg(demo_kubeconfig(t))
        .arg("--request-timeout=20s")
        .args(args)
        .env("HOME", t.home())
        .env_remove("KUBECONFIG");
    c
}

fn kubectl_json(t: &Tmux, args: &[&str]) -> serde_json::Value {
    let out = kubectl(t, args)
        .args(["-o", "json"])
        .output()
        .expect("kubectl is installed (scripts/test-all.sh installs it)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn p_promotes_stage_to_prod_and_the_values_repo_records_it() {
    let t = Tmux::start("demo", 160, 45);
    t.wait("every watch synced", 30, |s| {
        s.contains("1:Overview") && s.contains("Cluster") && !s.contains("loading")
    });
    t.keys(&["8"]);
    let s = t.wait_inventory("prod behind stage", "C-r", |s| {
        s.contains("1.3.0 (rev 2) ⚠ behind stage")
    });
    assert!(
        s.contains("dev") && s.contains("stage") && s.contains("prod (protected)"),
        "{s}"
    );

    // `p` on the mr-ee release: stage → prod, reviewed.
    t.keys(&["p"]);
    let s = t.wait("the review", 30, |s| {
        s.contains("values (secrets shown as ****)")
    });
    for expected in [
        "Promote ee: stage → prod",
        "ee (mr-ee): chart mr-ee 1.3.0 → 1.4.2 · stage revision 4 → prod (now revision 2)",
        "✔ soak: revision 4 deployed",
        "values repo:",
        "router: ghcr.io/mr-ee/router:3.3.0 → ghcr.io/mr-ee/router:3.4.1",
        "prod is protected",
    ] {
        assert!(s.contains(expected), "{expected:?} missing:\n{s}");
    }
    for secret in ["sandbox-api-secret", "pina_sandbox_token"] {
        assert!(!s.contains(secret), "{secret} shown:\n{s}");
    }

    // Prod is protected: the release name is typed, then the change runs there.
    t.keys(&["Enter"]);
    t.wait("the release name asked for", 10, |s| {
        s.contains("prod is protected: type the release name (ee) to go ahead")
    });
    t.type_text("ee");
    t.keys(&["Enter"]);
    let s = t.wait("the promotion to finish", 90, |s| {
        s.contains("✔ succeeded") || s.contains("✖ ")
    });
    assert!(
        s.contains("✔ succeeded") && s.contains("promote ee stage → prod: succeeded"),
        "{s}"
    );
    // The inventory, read again, no longer shows prod behind.
    t.keys(&["Escape"]);
    let s = t.wait_inventory("prod at 1.4.2", "C-r", |s| {
        s.lines()
            .any(|l| l.contains("  chart") && l.matches("1.4.2").count() == 3)
    });
    assert!(!s.contains("behind stage"), "{s}");

    // Real kubectl: prod's router runs stage's image.
    let out = kubectl(&t, &["--context", "prod", "get", "deploy", "router"])
        .args(["-n", "mr-ee"])
        .args(["-o", "jsonpath={.spec.template.spec.containers[0].image}"])
        .output()
        .expect("kubectl is installed (scripts/test-all.sh installs it)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ghcr.io/mr-ee/router:3.4.1",
        "{out:?}"
    );

    // The demo's values repo: a commit of prod's record naming stage and its revision;
    // stage's record untouched by it.
    let repo = t.home().join("data/helmdeck/demo/values");
    let commit = git(&repo, &["log", "-1", "--format=%H", "--", "prod/mr-ee/ee/"]);
    let commit = commit.trim();
    assert!(!commit.is_empty(), "no commit touches prod/mr-ee/ee/");
    let message = git(&repo, &["log", "-1", "--format=%B", commit]);
    assert!(
        message.starts_with("ee (prod/mr-ee): mr-ee 1.3.0 → 1.4.2")
            && message.contains("promote from stage revision 4"),
        "{message}"
    );
    let touched = git(&repo, &["show", "--name-only", "--format=", commit]);
    assert!(
        !touched.is_empty() && touched.lines().all(|l| l.starts_with("prod/mr-ee/ee/")),
        "{touched}"
    );
    let stage_commits = git(&repo, &["log", "--format=%H", "--", "stage/"]);
    assert!(
        !stage_commits.lines().any(|c| c == commit),
        "the promotion touched stage's record"
    );
}

/// The pods the router Service's EndpointSlices hold (ready ones), as kubectl sees them.
fn slice_pods(list: &serde_json::Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
        .filter(|e| e["conditions"]["ready"] != false)
        .filter_map(|e| e["targetRef"]["name"].as_str().map(String::from))
        .collect()
}

/// The live pods of `selector`, as kubectl sees them.
fn pod_names(t: &Tmux, selector: &str) -> BTreeSet<String> {
    let list = kubectl_json(t, &["get", "pods", "-n", "mr-ee", "-l", selector]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect()
}

const SLICES: [&str; 6] = [
    "get",
    "endpointslices",
    "-n",
    "mr-ee",
    "-l",
    "kubernetes.io/service-name=router",
];

/// `kubectl get endpointslices -w -o json --output-watch-events` of the router Service,
/// running in the background: every time its events change which pods the slices hold,
/// the pods and when kubectl printed them. Killed when dropped.
struct SliceWatch {
    child: std::process::Child,
    seen: std::sync::mpsc::Receiver<(Instant, BTreeSet<String>)>,
}

impl SliceWatch {
    fn start(t: &Tmux) -> SliceWatch {
        let mut child = kubectl(t, &SLICES)
            .args(["-w", "-o", "json", "--output-watch-events"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl is installed (scripts/test-all.sh installs it)");
        let stdout = child.stdout.take().unwrap();
        let (tx, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut slices: std::collections::BTreeMap<String, serde_json::Value> =
                Default::default();
            let events = serde_json::Deserializer::from_reader(std::io::BufReader::new(stdout))
                .into_iter::<serde_json::Value>();
            for ev in events {
                let Ok(ev) = ev else { return };
                let at = Instant::now();
                let name = ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if ev["type"] == "DELETED" {
                    slices.remove(&name);
                } else {
                    slices.insert(name, ev["object"].clone());
                }
                let list = serde_json::json!({"items": slices.values().collect::<Vec<_>>()});
                if tx.send((at, slice_pods(&list))).is_err() {
                    return;
                }
            }
        });
        SliceWatch { child, seen }
    }

    /// Waits until the slices hold `want` only: when kubectl printed it.
    fn until(&self, want: &BTreeSet<String>) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok((at, pods)) if pods == *want => return at,
                Ok(_) => {}
                Err(e) => panic!("kubectl's watch did not show {want:?} within 20 s: {e}"),
            }
        }
    }
}

impl Drop for SliceWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `helmdeck bluegreen start deploy/router --image 3.5.0` on the demo's dev sandbox.
fn start_cutover(home: &Path, kubeconfig: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(["bluegreen", "start", "deploy/router", "-n", "mr-ee"])
        .args(["--image", "3.5.0", "--kubeconfig"])
        .arg(kubeconfig)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ready and verified"), "{text}");
}

#[test]
fn a_bluegreen_cutover_of_router_switches_and_b_returns_to_blue_within_a_second() {
    let t = Tmux::start("demo", 170, 45);
    t.wait("every watch synced", 30, |s| {
        s.contains("1:Overview") && s.contains("Cluster") && !s.contains("loading")
    });
    let blue = pod_names(&t, "app.kubernetes.io/name=router,!helmdeck.io/slot");
    assert_eq!(blue.len(), 2, "{blue:?}");
    start_cutover(t.home(), &demo_kubeconfig(&t));
    let green = pod_names(&t, "helmdeck.io/slot=green");
    assert_eq!(green.len(), 2, "{green:?}");
    assert_eq!(
        slice_pods(&kubectl_json(&t, &SLICES)),
        blue,
        "still on blue"
    );

    // The cutover view of router (Workloads, filtered; router sorts before router-green).
    t.keys(&["3", "/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    t.wait("router and router-green", 10, |s| {
        s.contains("Workloads (2)") && s.contains("router-green")
    });
    t.keys(&["g", ":"]);
    t.type_text("bg");
    t.keys(&["Enter"]);
    t.wait("the cutover view", 15, |s| {
        s.contains("Blue/green — deploy/router -n mr-ee") && s.contains("endpoints: router-")
    });

    // `s`: the Service's endpoints hold green's pods only.
    t.keys(&["s"]);
    t.wait("green active", 15, |s| s.contains("switch: green active"));
    assert_eq!(slice_pods(&kubectl_json(&t, &SLICES)), green);

    // `b`: back to blue, timed from the key until kubectl sees blue's pods only — through
    // a watch started beforehand (showing green now), so that kubectl's own start-up is
    // not counted.
    let watch = SliceWatch::start(&t);
    watch.until(&green);
    let sent = Instant::now();
    t.key_now("b");
    let took = watch.until(&blue).saturating_duration_since(sent);
    let s = t.wait("blue active", 15, |s| s.contains("back: blue active"));
    // The console's own figure: "… held only blue pods after 113 ms: …".
    let said = s
        .split("held only blue pods after ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or("?");
    println!(
        "b → kubectl sees only blue pods: {} ms (the console measured {said})",
        took.as_millis()
    );
    assert_eq!(
        slice_pods(&kubectl_json(&t, &SLICES)),
        blue,
        "kubectl get endpointslices"
    );
    assert!(
        took < Duration::from_secs(1),
        "back took {took:?} (the issue: within a second)"
    );
}
