//! The real binary in a real terminal (tmux): started with its own HOME and data
//! directory, driven with keys, its screen read back.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own running `helmdeck ARGS`; killed when dropped.
pub struct Tmux {
    /// The tmux server's socket name (`tmux -L SOCKET …`).
    pub socket: String,
    home: tempfile::TempDir,
}

impl Tmux {
    /// `helmdeck ARGS` in a `width`×`height` pane.
    pub fn start(args: &str, width: u16, height: u16) -> Tmux {
        Tmux::start_with_env("", args, width, height)
    }

    /// [`Tmux::start`] with `env` (`NAME=value …`) set for the binary.
    pub fn start_with_env(env: &str, args: &str, width: u16, height: u16) -> Tmux {
        let home = tempfile::tempdir().unwrap();
        let socket = format!("helmdeck-test-{}-{}", std::process::id(), fastrand_suffix());
        let bin = env!("CARGO_BIN_EXE_helmdeck");
        let h = home.path().display();
        // After the console exits, print its exit code and whether the terminal is back in
        // canonical mode (raw mode off), then linger so the pane can be read.
        let script = format!(
            "HOME={h} XDG_CONFIG_HOME={h}/config XDG_DATA_HOME={h}/data {env} {bin} {args}; echo EXITED $?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 120"
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &script,
            ])
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Tmux { socket, home }
    }

    /// The HOME the binary runs with (its data directory is `data/helmdeck` under it).
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    /// The pane's text.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys one by one (tmux key names: `Enter`, `Escape`, `C-r`, `a`).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", k])
                .status()
                .unwrap();
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Sends one key at once, without the pause [`Tmux::keys`] leaves after each.
    pub fn key_now(&self, key: &str) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", key])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", text])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Waits until the screen satisfies `ok`, or fails showing the last screen.
    pub fn wait(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen was:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// [`Tmux::wait`] on the inventory, pressing `again` (its read-again key) whenever a
    /// read has ended with an environment unreachable (the demo's stage and prod start
    /// beside the console).
    pub fn wait_inventory(&self, what: &str, again: &str, ok: impl Fn(&str) -> bool) -> String {
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
            if s.contains("(unreachable)") && !s.contains("reading…") {
                self.keys(&[again]);
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

/// A number that differs between calls (the nanoseconds of now).
pub fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

/// The first line of `screen` holding `needle`.
pub fn line_with<'a>(screen: &'a str, needle: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(needle))
}
