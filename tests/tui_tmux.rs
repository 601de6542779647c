//! The real binary in a real terminal (tmux), driven as a person would: keys in, screen out.
//! `helmdeck demo` opens on the sandbox; a filter narrows the pods; a drill-down shows a
//! pod's logs; a scale converges; `q` quits and the terminal is restored.

mod common;
use common::git;
use common::tmux::{Tmux, fastrand_suffix, line_with};

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_filter_logs_scale_and_quit() {
    let t = Tmux::start("demo", 170, 45);
    t.wait("the overview", 30, |s| {
        s.contains("Problems") && s.contains("Cluster")
    });
    t.wait("every watch synced", 30, |s| !s.contains("loading"));

    // A filter narrows the pods.
    t.keys(&["4"]);
    t.wait("the pods screen", 10, |s| {
        s.contains("Pods (") && s.contains("forwarder-")
    });
    t.keys(&["/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    let s = t.wait("only router pods", 10, |s| {
        s.contains("/router") && s.contains("router-") && !s.contains("forwarder-")
    });
    assert!(s.contains("Pods (2)"), "{s}");

    // Drill down: the pod's containers, events and log.
    t.keys(&["Enter"]);
    t.wait("the router pod's log", 20, |s| {
        s.contains("Logs [router]") && s.contains("INFO")
    });
    t.keys(&["Escape"]);
    t.wait("back on pods", 10, |s| s.contains("Pods (2)"));

    // Scale router from 2 to 3 and watch it converge.
    t.keys(&["3"]);
    t.keys(&["/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    t.wait("the router deployment", 10, |s| s.contains("Workloads (1)"));
    t.keys(&["s"]);
    t.wait("the scale dialog", 10, |s| {
        s.contains("Currently 2 replicas")
    });
    t.keys(&["BSpace"]);
    t.type_text("3");
    t.keys(&["Enter"]);
    t.wait("router at 3/3", 40, |s| {
        line_with(s, " router ").is_some_and(|l| l.contains("3/3"))
    });

    // q quits and the terminal is restored.
    t.keys(&["q"]);
    let s = t.wait("the exit", 15, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");
    let canon = t.wait("the terminal mode", 5, |s| {
        s.lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
    });
    assert!(
        canon.lines().any(|l| l.trim() == "icanon"),
        "raw mode left on:\n{canon}"
    );
}

#[test]
fn trouble_shows_in_the_overview_and_jumps_to_the_object() {
    let t = Tmux::start("demo --scenario trouble", 170, 45);
    let s = t.wait("the crash loop among the problems", 40, |s| {
        s.contains("forwarder-pinterest") && s.contains("NotReady")
    });
    assert!(s.contains("✖ Failing"), "{s}");
    // The first problem is the NotReady node: enter jumps to it on the Nodes screen. (The
    // cursor stays on the problem it was on while the list grows and reorders: `g` goes
    // to the first.)
    t.keys(&["g", "Enter"]);
    t.wait("the node screen filtered to the node", 10, |s| {
        s.contains("Nodes (1)") && s.contains("worker-3") && s.contains("NotReady")
    });
    t.keys(&["q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED 0"));
}

/// Issue 12: the console's flags after `demo` (they used to stop it with "unexpected
/// argument"), and the light theme painting its own white background, as the terminal
/// receives it.
#[test]
fn demo_takes_the_console_flags_after_it_and_the_light_theme_brings_its_background() {
    let t = Tmux::start("demo --theme light -c rel --readonly -n mr-ee", 120, 30);
    let s = t.wait("the releases screen", 30, |s| {
        s.contains("Releases (") && s.contains("ns:mr-ee") && s.contains("ee")
    });
    assert!(s.contains("READ-ONLY"), "{s}");
    let out = Command::new("tmux")
        .args(["-L", &t.socket, "capture-pane", "-p", "-e"])
        .output()
        .unwrap();
    let coloured = String::from_utf8_lossy(&out.stdout);
    assert!(
        coloured.contains("48;2;255;255;255"),
        "no white background in:\n{coloured}"
    );
    // `?` there: the help scrolls to the last key of the Releases screen.
    t.keys(&["?"]);
    t.wait("the help", 10, |s| s.contains("Keys — Releases"));
    t.keys(&["G"]);
    t.wait("the last key", 10, |s| s.contains("7  Kafka topics"));
    t.keys(&["Escape", "q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED 0"));
}

#[test]
fn no_kubeconfig_is_a_clear_error_not_a_garbled_terminal() {
    let t = Tmux::start("--kubeconfig /nonexistent/kubeconfig", 120, 20);
    let s = t.wait("the exit", 20, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 1"), "{s}");
    assert!(
        s.contains("kubeconfig"),
        "the error names the kubeconfig:\n{s}"
    );
    let canon = t.wait("the terminal mode", 5, |s| {
        s.lines()
            .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
    });
    assert!(canon.lines().any(|l| l.trim() == "icanon"), "{canon}");
}

/// Issue 5's demo, as a user would: a minor upgrade, then the crash-looping version with
/// auto-rollback, then the history and a diff of two revisions; the values repo afterwards
/// passes `git fsck` and its log shows every revision with its outcome.
#[test]
fn demo_upgrade_crash_looping_rollback_history_and_diff() {
    let t = Tmux::start("demo --upgrade-timeout 15s", 170, 50);
    t.wait("every watch synced", 30, |s| {
        s.contains("Problems") && !s.contains("loading")
    });
    t.keys(&["6", "/"]);
    t.type_text("mr-ee");
    t.keys(&["Enter"]);
    t.wait("the ee release", 10, |s| s.contains("Releases (1)"));

    // A minor upgrade.
    t.keys(&["u"]);
    let s = t.wait("the versions", 20, |s| {
        s.contains("choose a version") && s.contains("1.5.0")
    });
    assert!(s.contains("deployed: 1.4.2"), "{s}");
    // The cursor starts on the newest version of the deployed major, never on the MAJOR.
    assert!(
        line_with(&s, "▶").is_some_and(|l| l.contains("1.5.1") && l.contains("minor")),
        "the newest version of the same major first:\n{s}"
    );
    t.keys(&["Down"]);
    t.wait("1.5.0 chosen", 5, |s| {
        line_with(s, "▶").is_some_and(|l| l.contains("1.5.0"))
    });
    t.keys(&["Enter"]);
    let s = t.wait("the review", 20, |s| {
        s.contains("· review ·") && s.contains("preflight")
    });
    assert!(s.contains("1.4.2 → 1.5.0: minor"), "{s}");
    assert!(s.contains("✓ workloads"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait("the upgrade to finish", 60, |s| {
        s.contains("✔ succeeded") || s.contains("✖ ")
    });
    assert!(
        s.contains("✔ verify") && s.contains("revision 5 deployed"),
        "{s}"
    );
    assert!(
        line_with(&s, "deploy router").is_some_and(|l| l.contains("2/2 ready")),
        "{s}"
    );

    // The crash-looping patch, with auto-rollback (on by default).
    t.keys(&["Enter", "u"]);
    t.wait("the versions", 20, |s| {
        s.contains("choose a version") && s.contains("deployed: 1.5.0")
    });
    t.wait("1.5.1 chosen", 5, |s| {
        line_with(s, "▶").is_some_and(|l| l.contains("1.5.1"))
    });
    t.keys(&["Enter"]);
    let s = t.wait("the review", 20, |s| s.contains("· review ·"));
    assert!(s.contains("auto-rollback ON"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait("the failed upgrade to roll back", 90, |s| {
        s.contains("failed and was rolled back") || s.contains("✔ succeeded")
    });
    assert!(s.contains("✖ apply") && s.contains("✔ rollback"), "{s}");

    // The history: the failed revision and the rollback.
    t.keys(&["Enter", "h"]);
    let s = t.wait("the history", 20, |s| {
        s.contains("History mr-ee/ee") && s.contains("Rollback to 5")
    });
    assert!(
        line_with(&s, "1.5.1").is_some_and(|l| l.contains("failed")),
        "{s}"
    );
    assert!(
        line_with(&s, "Rollback to 5").is_some_and(|l| l.contains("deployed")),
        "{s}"
    );

    // Diff two revisions that are not neighbours: mark 4, then diff 6 against it.
    t.keys(&["k", "k", "k", "Space"]);
    t.wait("revision 4 marked", 5, |s| s.contains("revision 4 marked"));
    t.keys(&["j", "j", "v"]);
    let s = t.wait("the diff", 10, |s| s.contains("Diff revision 4 → 6"));
    assert!(s.contains("+") && s.contains("router:3.5.1"), "{s}");

    t.keys(&["Escape", "Escape", "q"]);
    let s = t.wait("the exit", 15, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");

    // The values repo: sound, and every revision with its outcome, kept under the console's
    // environment (dev).
    let repo = t.home().join("data/helmdeck/demo/values");
    git(&repo, &["fsck", "--strict"]);
    assert!(git(&repo, &["show", "HEAD:dev/mr-ee/ee/release.yaml"]).contains("environment: dev"));
    let log = git(&repo, &["log", "--format=%s|%N"]);
    let entries: Vec<&str> = log
        .split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(entries.len(), 3, "{log}");
    assert!(
        entries[0].starts_with(
            "ee (dev/mr-ee): mr-ee 1.5.1 → 1.5.0 (rollback to revision 5)|outcome: succeeded"
        ),
        "{log}"
    );
    assert!(
        entries[1].starts_with("ee (dev/mr-ee): mr-ee 1.5.0 → 1.5.1 (patch)|outcome: rolled back"),
        "{log}"
    );
    assert!(
        entries[2].starts_with("ee (dev/mr-ee): mr-ee 1.4.2 → 1.5.0 (minor)|outcome: succeeded"),
        "{log}"
    );
}

/// `e` in the wizard's review opens the values in $EDITOR (here a script standing in for a
/// person): an edit shows in the values diff; invalid YAML is refused with its line and
/// column and the review stays; the terminal comes back after each edit.
#[test]
fn demo_edit_values_in_the_wizard() {
    let scripts = tempfile::tempdir().unwrap();
    let edit = scripts.path().join("edit");
    // First run: raise the router's replicas. Second run: break the YAML.
    std::fs::write(
        &edit,
        format!(
            "#!/bin/sh\nif [ -e {m} ]; then printf 'router: [\\n' > \"$1\"; else touch {m}; sed -i 's/replicas: 2/replicas: 3/' \"$1\"; fi\n",
            m = scripts.path().join("ran").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&edit, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t = Tmux::start_with_env(&format!("EDITOR={}", edit.display()), "demo", 170, 50);
    t.wait("every watch synced", 30, |s| {
        s.contains("Problems") && !s.contains("loading")
    });
    t.keys(&["6", "/"]);
    t.type_text("mr-ee");
    t.keys(&["Enter"]);
    t.wait("the ee release", 10, |s| s.contains("Releases (1)"));
    t.keys(&["u"]);
    t.wait("the versions", 20, |s| s.contains("choose a version"));
    t.keys(&["Down", "Down", "Enter"]);
    let s = t.wait("the review", 20, |s| s.contains("· review ·"));
    assert!(s.contains("e edit values"), "{s}");
    t.keys(&["e"]);
    let s = t.wait("the edited values in the diff", 20, |s| {
        s.contains("· review ·") && s.contains("+  replicas: 3")
    });
    assert!(s.contains("-  replicas: 2"), "{s}");
    t.keys(&["e"]);
    let s = t.wait("the refusal", 20, |s| s.contains("invalid YAML"));
    assert!(s.contains("line ") && s.contains("column"), "{s}");
    assert!(s.contains("· review ·"), "the review stays:\n{s}");
    t.keys(&["Escape", "q"]);
    let s = t.wait("the exit", 15, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");
}

/// Ctrl-Z hands the terminal back to the shell (the job is stopped, the screen restored);
/// `fg` brings the console back, redrawn and answering keys.
#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_resumes() {
    let home = tempfile::tempdir().unwrap();
    let socket = format!(
        "helmdeck-test-z-{}-{}",
        std::process::id(),
        fastrand_suffix()
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap()
    };
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait = |what: &str, ok: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    assert!(
        tmux(&[
            "new-session",
            "-d",
            "-x",
            "150",
            "-y",
            "40",
            "bash --norc --noprofile -i"
        ])
        .status
        .success()
    );
    let h = home.path().display();
    let cmd = format!(
        "HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data {} demo",
        env!("CARGO_BIN_EXE_helmdeck")
    );
    tmux(&["send-keys", &cmd, "Enter"]);
    wait("the overview", &|s| {
        s.contains("Problems") && !s.contains("loading")
    });
    tmux(&["send-keys", "C-z"]);
    let s = wait("the shell", &|s| s.contains("Stopped"));
    assert!(
        !s.contains("Problems"),
        "the console's screen is gone:\n{s}"
    );
    tmux(&["send-keys", "fg", "Enter"]);
    wait("the console again", &|s| s.contains("Problems"));
    tmux(&["send-keys", "2"]);
    wait("keys answered", &|s| s.contains("Nodes (4)"));
    tmux(&["send-keys", "q"]);
    // Typed only once the shell has its prompt back: keys sent while the console is still
    // ending are read by it, not by the shell.
    wait("the shell's prompt", &|s| {
        !s.contains("Problems")
            && s.lines()
                .rfind(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_end().ends_with('#') || l.trim_end().ends_with('$'))
    });
    tmux(&["send-keys", "echo EXIT=$?", "Enter"]);
    wait("the exit", &|s| s.contains("EXIT=0"));
    tmux(&["kill-server"]);
}

/// Issue #12's k9s moves against the sandbox: delete a pod (asked, naming it), rollout
/// restart a deployment (asked; the annotation shows in its YAML), sort, and read-only
/// refusing both.
#[test]
fn delete_a_pod_restart_a_deployment_sort_and_read_only_refuses() {
    let t = Tmux::start("demo", 170, 45);
    t.wait("every watch synced", 40, |s| {
        s.contains("Cluster") && !s.contains("loading")
    });
    t.keys(&["4", "/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    let s = t.wait("the router pods", 15, |s| {
        s.contains("Pods (2)") && s.contains("router-")
    });
    let victim = s
        .split_whitespace()
        .find(|w| w.starts_with("router-"))
        .unwrap()
        .to_string();
    // The cursor is on the first row: the first router pod on screen.
    t.keys(&["g", "C-d"]);
    let s = t.wait("the delete question", 10, |s| {
        s.contains("Delete pod mr-ee/")
    });
    let named = line_with(&s, "Delete pod mr-ee/").unwrap();
    assert!(named.contains(&victim), "asks about {victim}: {named}");
    t.keys(&["y"]);
    t.wait("the pod deleted and replaced", 60, |s| {
        s.contains(&format!("pod mr-ee/{victim} deleted"))
    });
    t.wait("two router pods again, without it", 60, |s| {
        // (the status line still says it was deleted)
        s.contains("Pods (2)") && !s.lines().any(|l| l.starts_with('│') && l.contains(&victim))
    });

    // Sort: the title says by what.
    t.keys(&[">"]);
    t.wait("sorted by name", 10, |s| s.contains("sort:name"));
    t.keys(&["<"]);
    t.wait("reversed", 10, |s| s.contains("sort:name reversed"));

    // Rollout restart of the router deployment; its YAML then has the annotation.
    t.keys(&["3", "/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    t.wait("the router deployment", 10, |s| s.contains("Workloads (1)"));
    t.keys(&["r"]);
    t.wait("the restart question", 10, |s| {
        s.contains("Rollout restart Deployment mr-ee/router?")
    });
    t.keys(&["y"]);
    t.wait("restarted", 60, |s| {
        s.contains("restarted at") || s.contains("rolled out")
    });
    t.keys(&["y"]);
    t.wait("the YAML", 15, |s| {
        s.contains("Deployment mr-ee/router — YAML") && s.contains("kind: Deployment")
    });
    // The annotation is in the pod template, further down: page until it shows.
    let mut found = false;
    for _ in 0..8 {
        if t.screen().contains("kubectl.kubernetes.io/restartedAt") {
            found = true;
            break;
        }
        t.keys(&["C-f"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(found, "no restartedAt in the YAML:\n{}", t.screen());
    t.keys(&["Escape", "d"]);
    t.wait("the description", 15, |s| {
        s.contains("— describe") && s.contains("Name:") && s.contains("router")
    });
    t.keys(&["Escape", "q"]);
    let s = t.wait("the exit", 15, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");

    // Read-only: both refused, saying why.
    let t = Tmux::start("demo --readonly", 170, 45);
    t.wait("every watch synced", 40, |s| {
        s.contains("Cluster") && !s.contains("loading")
    });
    t.keys(&["4", "C-d"]);
    t.wait("delete refused", 10, |s| {
        s.contains("read-only: deleting a pod")
    });
    t.keys(&["3", "r"]);
    t.wait("restart refused", 10, |s| {
        s.contains("read-only: rollout restart")
    });
    t.keys(&["q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED"));
}

/// Issue 12: `:svc`, `:job`, `:kt` (a custom resource), `:crd` open kinds through the demo
/// sandbox's discovery as its Table output; esc goes back; an unknown name says so.
#[test]
fn other_kinds_open_by_name_through_discovery() {
    let t = Tmux::start("demo", 170, 45);
    t.wait("the overview", 40, |s| s.contains("Overview"));
    t.type_text(":svc");
    t.keys(&["Enter"]);
    let s = t.wait("the services", 15, |s| {
        s.contains("services (") && s.contains("CLUSTER-IP")
    });
    assert!(s.contains("NAMESPACE"), "{s}");
    t.keys(&["Escape"]);
    t.wait("the services closed", 10, |s| !s.contains("CLUSTER-IP"));
    t.type_text(":job");
    t.keys(&["Enter"]);
    t.wait("the jobs", 15, |s| {
        s.contains("jobs (") && s.contains("COMPLETIONS")
    });
    // The demo's custom resources: Strimzi's KafkaTopics with their CRD's printer columns,
    // and the CRDs themselves.
    t.type_text(":kt");
    t.keys(&["Enter"]);
    let s = t.wait("the kafka topics", 15, |s| {
        s.contains("kafkatopics (") && s.contains("REPLICATION FACTOR")
    });
    let row = line_with(&s, "mr-ee-main").unwrap_or_else(|| panic!("{s}"));
    let cells: Vec<&str> = row
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|c| !c.is_empty())
        .collect();
    assert!(
        cells
            .windows(5)
            .any(|w| w == ["mr-ee-main", "mr-ee", "6", "3", "True"]),
        "{s}"
    );
    t.type_text(":crd");
    t.keys(&["Enter"]);
    t.wait("the CRDs", 15, |s| {
        s.contains("customresourcedefinitions (")
            && s.contains("CREATED AT")
            && s.contains("kafkatopics.kafka.strimzi.io")
    });
    t.type_text(":nosuch");
    t.keys(&["Enter"]);
    t.wait("the unknown name said", 15, |s| {
        s.contains("unknown command ':nosuch'") && !s.contains("COMPLETIONS")
    });
    t.keys(&["q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED"));
}

/// Issue 12: on a pod's log, `t` asks the sandbox for the kubelet's timestamps, `w` wraps,
/// `ctrl-s` saves the log shown under the dump directory and names the file, which holds the
/// lines the pane showed (stamped) and is its owner's alone; `e` opens the pod's events.
#[test]
fn log_timestamps_wrap_save_and_the_pods_events() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tmux::start("demo", 200, 45);
    t.wait("the overview", 40, |s| s.contains("Overview"));
    t.wait("every watch synced", 30, |s| !s.contains("loading"));
    t.keys(&["4", "/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    t.wait("only router pods", 15, |s| {
        s.contains("/router") && s.contains("Pods (2)")
    });
    t.keys(&["Enter"]);
    t.wait("the router pod's log", 20, |s| {
        s.contains("Logs [router]") && s.contains("INFO")
    });
    let stamped = |s: &str| s.lines().any(|l| l.contains(".000000000Z "));
    assert!(!stamped(&t.screen()));
    t.keys(&["t"]);
    t.wait("the kubelet's timestamps", 20, |s| {
        s.contains("timestamps") && s.lines().filter(|l| l.contains(".000000000Z ")).count() >= 3
    });
    t.keys(&["w"]);
    t.wait("the pane wrapping", 10, |s| s.contains("following, wrap"));
    t.keys(&["C-s"]);
    let s = t.wait("the saved file named", 15, |s| {
        s.contains("saved ") && s.contains(".log")
    });
    let status = line_with(&s, "saved ").unwrap();
    let path = status.split(" to ").nth(1).unwrap().trim();
    assert!(
        path.starts_with(&format!("{}/data/helmdeck/dumps/", t.home().display()))
            && path.ends_with(".log")
            && path.contains("mr-ee_router-"),
        "{status}"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let n: usize = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(text.lines().count(), n, "{status}");
    assert!(
        n > 0 && text.lines().all(|l| l.contains(".000000000Z ")),
        "{text}"
    );
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // `e`: the pod's events, filtered to it.
    t.keys(&["e"]);
    let s = t.wait("the pod's events", 15, |s| {
        s.contains("Events (") && s.contains("/object:Pod/mr-ee/router-")
    });
    assert!(!s.contains("forwarder-"), "{s}");
    t.keys(&["q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED 0"));
}

/// `o` on the demo: the platform's Grafana and Kibana links filled in for the selected pod
/// (Kibana, which needs `{pod}`, is not offered on a workload); `c` copies one with OSC 52
/// (tmux, with `set-clipboard on`, takes it into its paste buffer) and `enter` hands one to
/// the system's opener (here an `xdg-open` of the test's that writes down what it got).
#[test]
fn o_lists_the_dashboard_links_copies_one_and_opens_one() {
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened");
    let opener = bin.path().join("xdg-open");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > {}\n", opened.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = format!("PATH={}:/usr/bin:/bin", bin.path().display());
    let t = Tmux::start_with_env(&env, "demo", 200, 45);
    let set = Command::new("tmux")
        .args(["-L", &t.socket, "set", "-g", "set-clipboard", "on"])
        .status()
        .unwrap();
    assert!(set.success());
    t.wait("every watch synced", 40, |s| {
        s.contains("Problems") && !s.contains("loading")
    });

    // A workload: Grafana (namespace and workload); Kibana needs a pod.
    t.keys(&["3", "/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    t.wait("the router deployment", 10, |s| s.contains("/router"));
    t.keys(&["o"]);
    let s = t.wait("the workload's links", 10, |s| {
        s.contains("Links — Deployment")
    });
    assert!(
        s.contains(
            "https://grafana.example/d/helmdeck/workloads?var-namespace=mr-ee&var-workload=router"
        ),
        "{s}"
    );
    assert!(s.contains("kibana — not here: needs {pod}"), "{s}");
    t.keys(&["Escape"]);

    // A pod: both, filled in; `c` copies Kibana's through OSC 52.
    t.keys(&["4", "/"]);
    t.type_text("router");
    t.keys(&["Enter"]);
    t.wait("the router pods", 10, |s| s.contains("Pods (2)"));
    t.keys(&["o"]);
    let s = t.wait("the pod's links", 10, |s| {
        s.contains("Links — pod mr-ee/router-")
    });
    let kibana = line_with(&s, "kibana").unwrap();
    let url = kibana[kibana.find("https://").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('│')
        .to_string();
    assert!(
        url.starts_with("https://kibana.example/app/discover#/?_a=(query:(language:kuery,query:'kubernetes.namespace:mr-ee%20and%20kubernetes.pod.name:router-"),
        "{s}"
    );
    t.keys(&["j", "c"]);
    t.wait("the copy said", 10, |s| {
        s.contains("copied kibana to the clipboard")
    });
    let buffer = || {
        let out = Command::new("tmux")
            .args(["-L", &t.socket, "show-buffer"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while buffer() != url && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(buffer(), url, "tmux's paste buffer holds the copied link");

    // `enter` on Grafana copies it and hands it to the opener, detached.
    t.keys(&["o", "Enter"]);
    t.wait("the opener's answer", 15, |s| {
        s.contains("opened grafana with xdg-open")
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !opened.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(150));
    }
    let got = std::fs::read_to_string(&opened).unwrap();
    assert!(
        got.starts_with(
            "https://grafana.example/d/helmdeck/workloads?var-namespace=mr-ee&var-workload=router"
        ),
        "{got}"
    );
    t.keys(&["q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED 0"));
}

/// Issue 12: in the trouble scenario, the OOM-killed database's problem names the container's
/// memory limit (from the sandbox pod's `resources.limits.memory`), and the NotReady node
/// says for how long (its Ready condition's last transition).
#[test]
fn trouble_evidence_names_the_memory_limit_and_how_long_a_node_is_down() {
    let t = Tmux::start("demo --scenario trouble", 300, 60);
    let s = t.wait("the OOM kill with the memory limit", 120, |s| {
        s.lines()
            .any(|l| l.contains("last exit OOMKilled") && l.contains("memory limit "))
    });
    let oom = line_with(&s, "last exit OOMKilled").unwrap();
    assert!(oom.contains("mysql"), "{oom}");
    t.wait("the NotReady node, for how long", 30, |s| {
        s.lines()
            .any(|l| l.contains("node worker-3 NotReady") && l.contains(") for "))
    });
    t.keys(&["q"]);
    t.wait("the exit", 15, |s| s.contains("EXITED 0"));
}
