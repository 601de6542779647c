//! The demo's three environments in a real terminal (tmux), driven as a person would: `8`
//! shows the inventory with prod behind stage, `esc` closes it, `:inv` opens it again; real
//! `kubectl` reads the three contexts of the demo's kubeconfig.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    home: tempfile::TempDir,
}

impl Tmux {
    fn start(args: &str) -> Tmux {
        let home = tempfile::tempdir().unwrap();
        let socket = format!("helmdeck-inv-{}", std::process::id());
        let h = home.path().display();
        let script = format!(
            "HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data {} {args}; sleep 120",
            env!("CARGO_BIN_EXE_helmdeck")
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "160", "-y", "40", &script])
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Tmux { socket, home }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", k])
                .status()
                .unwrap();
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Waits until the screen satisfies `ok`, pressing `again` (if any) when a read has
    /// ended with an environment unreachable, or fails showing the last screen.
    fn wait(&self, what: &str, again: Option<&str>, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen was:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(500));
            if let Some(k) = again
                && s.contains("(unreachable)")
                && !s.contains("reading…")
            {
                self.keys(&[k]);
            }
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn eight_shows_prod_behind_stage_in_the_demo() {
    let t = Tmux::start("demo");
    t.wait("every watch synced", None, |s| {
        s.contains("1:Overview") && s.contains("Cluster") && !s.contains("loading")
    });
    t.keys(&["8"]);
    // Stage and prod start beside the console: read again until they answer.
    let s = t.wait("prod behind stage", Some("C-r"), |s| {
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
    t.wait("the inventory closed", None, |s| !s.contains("Inventory"));
    t.keys(&[":", "i", "n", "v", "Enter"]);
    t.wait("the inventory again", None, |s| s.contains("behind stage"));

    // Real kubectl sees the three contexts the demo wrote, prod one version behind.
    let kc = t.home.path().join("data/helmdeck/demo.kubeconfig");
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
