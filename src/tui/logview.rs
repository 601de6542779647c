//! The log pane's own moves (issue #12), as k9s makes them: `w` wraps long lines, `t` asks
//! the API server for the kubelet's timestamps (`kubectl logs --timestamps`), `ctrl-s` saves
//! the log shown to a file under the dump directory, named with the time, and says where.
//!
//! The pane and the file take their lines from one place ([`shown`]), so the file holds
//! exactly what the pane shows — nothing the pane would hide.

use crate::tui::app::{App, Effect, Msg, PodDetail};
use crate::tui::keymap::Action;
use std::path::{Path, PathBuf};

/// The log lines the pane shows, oldest first (all of them, not only the visible window).
pub fn shown(d: &PodDetail) -> impl Iterator<Item = &str> {
    d.logs.iter().map(String::as_str)
}

/// How many terminal cells a text takes.
fn cells(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

/// The rows `line` takes in a pane `width` cells wide when wrapping: cut at the cell where
/// the next character would not fit (characters are never split; a wide one that cannot fit
/// a row of its own still gets one). An empty line is one empty row.
pub fn wrap(line: &str, width: usize) -> Vec<&str> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in line.char_indices() {
        let w = cells(&line[i..i + c.len_utf8()]);
        if used + w > width && i > start {
            rows.push(&line[start..i]);
            (start, used) = (i, 0);
        }
        used += w;
    }
    rows.push(&line[start..]);
    rows
}

/// The last `height` rows of `lines` as the pane draws them when wrapping, each with
/// whether its line is `marked` (a search match): each line cut into rows of `width` cells;
/// only the lines that reach the window are cut.
pub fn last_rows<'a>(
    lines: impl DoubleEndedIterator<Item = &'a str>,
    width: usize,
    height: usize,
    marked: impl Fn(&str) -> bool,
) -> Vec<(&'a str, bool)> {
    let mut rows: Vec<(&str, bool)> = Vec::new();
    for line in lines.rev() {
        if rows.len() >= height {
            break;
        }
        let mark = marked(line);
        rows.extend(wrap(line, width).into_iter().rev().map(|r| (r, mark)));
    }
    rows.truncate(height);
    rows.reverse();
    rows
}

/// The dump directory of a context: `$XDG_DATA_HOME/helmdeck/dumps/CONTEXT`, as k9s keeps
/// its dumps per context.
pub fn dump_dir(data_dir: &Path, context: &str) -> PathBuf {
    data_dir.join("dumps").join(safe(context))
}

/// A name that is one path component: anything but letters, digits, `-`, `_` and `.`
/// becomes `_`, and it never starts with a dot.
fn safe(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

/// The file a saved log gets: `NAMESPACE_POD_CONTAINER[-previous]_YYYYMMDDTHHMMSSZ.log`.
pub fn file_name(
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    previous: bool,
    at: jiff::Timestamp,
) -> String {
    let when = at.strftime("%Y%m%dT%H%M%SZ");
    format!(
        "{}_{}_{}{}_{when}.log",
        safe(namespace),
        safe(pod),
        safe(container.unwrap_or("log")),
        if previous { "-previous" } else { "" }
    )
}

/// Writes a log to `dir/name` (the directory made if missing; the file readable by its
/// owner only, as a log may hold what the workload printed of its secrets) and returns the
/// path written.
pub fn save(dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    crate::core::private_files::create_dir(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    crate::core::private_files::write(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

impl App {
    /// `w`, `t` and `ctrl-s` on a pod's log.
    pub(crate) fn log_action(&mut self, action: Action) -> Vec<Effect> {
        let (now, context) = (self.now, self.context.clone());
        let Some(d) = &mut self.detail else {
            return Vec::new();
        };
        match action {
            Action::WrapToggle => {
                d.wrap = !d.wrap;
                let text = if d.wrap {
                    "long log lines wrapped (w cuts them at the edge)"
                } else {
                    "long log lines cut at the edge (w wraps them)"
                };
                self.flash(text, false);
                Vec::new()
            }
            Action::TimestampsToggle => {
                // The server adds them: the log is asked for again, with or without.
                d.timestamps = !d.timestamps;
                d.logs.clear();
                d.scroll = 0;
                d.follow = true;
                d.log_error = None;
                d.log_ended = false;
                let effect = Effect::Logs {
                    key: d.key.clone(),
                    container: d.container.clone(),
                    previous: d.previous,
                    timestamps: d.timestamps,
                };
                let text = if d.timestamps {
                    "timestamps on: each line as the kubelet stamped it (t hides them)"
                } else {
                    "timestamps off (t shows them)"
                };
                self.flash(text, false);
                vec![effect]
            }
            Action::SaveLog => {
                let lines = d.logs.len();
                if lines == 0 {
                    self.flash("nothing to save: no log lines yet", false);
                    return Vec::new();
                }
                let mut text = String::new();
                for l in shown(d) {
                    text.push_str(l);
                    text.push('\n');
                }
                let file = file_name(&d.key.0, &d.key.1, d.container.as_deref(), d.previous, now);
                vec![Effect::SaveLog {
                    context,
                    file,
                    text,
                    lines,
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// Runs [`Effect::SaveLog`]: the file under the dump directory, and what to tell the user.
pub fn run_save(context: &str, file: &str, text: &str, lines: usize) -> Msg {
    let result = crate::config::data_dir()
        .ok_or_else(|| "no data directory: set XDG_DATA_HOME or HOME".to_string())
        .and_then(|data| save(&dump_dir(&data, context), file, text))
        .map(|path| {
            format!(
                "saved {} to {}",
                crate::tui::app::plural(lines as i64, "log line", "log lines"),
                path.display()
            )
        });
    Msg::Done {
        what: "save the log".to_string(),
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_cuts_at_the_width_and_never_splits_a_character() {
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("abc", 3), vec!["abc"]);
        assert_eq!(wrap("", 3), vec![""]);
        // Wide characters take two cells.
        assert_eq!(wrap("日本語です", 4), vec!["日本", "語で", "す"]);
        assert_eq!(wrap("日本", 1), vec!["日", "本"]);
        assert_eq!(wrap("abc", 0), vec!["a", "b", "c"]);
    }

    #[test]
    fn the_last_rows_end_with_the_newest_line() {
        let lines = ["one", "twotwotwo", "three"];
        let rows = |height| last_rows(lines.iter().copied(), 4, height, |l| l.starts_with("two"));
        assert_eq!(rows(3), vec![("o", true), ("thre", false), ("e", false)]);
        let all: Vec<&str> = rows(10).into_iter().map(|(r, _)| r).collect();
        assert_eq!(all, vec!["one", "twot", "wotw", "o", "thre", "e"]);
    }

    #[test]
    fn file_names_are_one_path_component_with_the_time() {
        let at: jiff::Timestamp = "2026-11-30T11:12:44Z".parse().unwrap();
        assert_eq!(
            file_name("mr-ee", "router-1", Some("router"), false, at),
            "mr-ee_router-1_router_20261130T111244Z.log"
        );
        assert_eq!(
            file_name("ns", "p", None, true, at),
            "ns_p_log-previous_20261130T111244Z.log"
        );
        assert_eq!(
            dump_dir(Path::new("/d"), "../ctx:admin@x"),
            PathBuf::from("/d/dumps/_.._ctx_admin_x")
        );
    }

    #[test]
    fn a_saved_log_is_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("dumps/ctx");
        let path = save(&dir, "a.log", "one\ntwo\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = save(&path.join("x"), "b.log", "").unwrap_err();
        assert!(err.contains("cannot create"), "{err}");
    }
}
