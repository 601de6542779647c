//! Formatting shared by the views: ages as kubectl prints them, CPU and memory.

/// An age as kubectl prints it: 45s, 12m, 5h, 3d, 2y.
pub fn age(since: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    let Some(since) = since else {
        return "<unknown>".into();
    };
    let secs = (now.as_second() - since.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 365 * 86400 => format!("{}d", s / 86400),
        s => format!("{}y", s / (365 * 86400)),
    }
}

/// Millicores as `kubectl top` prints them.
pub fn cpu(millis: u64) -> String {
    format!("{millis}m")
}

/// Bytes as `kubectl top` prints them (Mi).
pub fn memory(bytes: u64) -> String {
    format!("{}Mi", bytes / (1024 * 1024))
}

/// A percentage of a total, or "n/a".
pub fn percent(part: u64, total: u64) -> String {
    match (part * 100).checked_div(total) {
        Some(p) => format!("{p}%"),
        None => "n/a".into(),
    }
}

/// Cuts a string to `width` characters, marking the cut with an ellipsis.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else if width == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(width - 1).collect();
        out.push('…');
        out
    }
}

/// Breaks a text into lines of at most `width` characters: at its own line breaks, then at
/// spaces (a word longer than a line is split). Nothing is dropped; a line's own leading
/// spaces are kept on its continuations, and every line after the first is indented by
/// `indent` more.
pub fn wrap(s: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for (i, para) in s.lines().enumerate() {
        let lead = para.len() - para.trim_start_matches(' ').len();
        let first = (if i == 0 { 0 } else { indent }) + lead;
        let next = " ".repeat((indent + lead).min(width - 1));
        let mut cur = " ".repeat(first.min(width - 1));
        let mut fresh = true;
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let len = cur.chars().count();
            if !fresh && len + 1 + word.chars().count() > width {
                out.push(std::mem::replace(&mut cur, next.clone()));
                fresh = true;
            }
            if !fresh {
                cur.push(' ');
            }
            let mut rest: Vec<char> = word.chars().collect();
            while cur.chars().count() + rest.len() > width {
                let room = width.saturating_sub(cur.chars().count());
                cur.extend(rest.drain(..room.min(rest.len())));
                out.push(std::mem::replace(&mut cur, next.clone()));
            }
            cur.extend(rest);
            fresh = false;
        }
        out.push(cur);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_line() {
        assert_eq!(
            wrap(
                "judged failed: pod-a CrashLoopBackOff\n  pod-a last log",
                16,
                2
            ),
            vec![
                "judged failed:",
                "  pod-a",
                "  CrashLoopBackO",
                "  ff",
                "    pod-a last",
                "    log"
            ]
        );
        assert_eq!(wrap("abcdefghij", 4, 0), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10, 0), vec![""]);
    }

    #[test]
    fn ages_like_kubectl() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let ago = |s: i64| Some(jiff::Timestamp::from_second(1_000_000 - s).unwrap());
        assert_eq!(age(ago(5), now), "5s");
        assert_eq!(age(ago(119), now), "119s");
        assert_eq!(age(ago(600), now), "10m");
        assert_eq!(age(ago(3 * 3600), now), "3h");
        assert_eq!(age(ago(3 * 86400), now), "3d");
        assert_eq!(age(None, now), "<unknown>");
    }

    #[test]
    fn sizes_and_cuts() {
        assert_eq!(cpu(250), "250m");
        assert_eq!(memory(128 * 1024 * 1024), "128Mi");
        assert_eq!(percent(1, 4), "25%");
        assert_eq!(percent(1, 0), "n/a");
        assert_eq!(truncate("forwarder-pinterest", 10), "forwarder…");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
