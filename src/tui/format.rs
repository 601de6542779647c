//! Formatting shared by the views: ages as kubectl prints them, CPU and memory.

/// An age as kubectl prints it (`duration.HumanDuration` of k8s.io/apimachinery): `90s`,
/// `2m30s`, `45m`, `3h20m`, `20h`, `5d3h`, `75d`, `2y100d`, `10y`.
pub fn age(since: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    let Some(since) = since else {
        return "<unknown>".into();
    };
    human_duration(now.as_millisecond() - since.as_millisecond())
}

pub use crate::core::duration::human_duration;

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

/// Cuts a text to `width` terminal cells between words, marking the cut with `…`: a line
/// that does not fit ends at the last whole part of those joined with ` · `, else at the
/// last whole word (trailing separators dropped), leaving room for the mark. A first word too long for the width is cut inside, as
/// [`truncate`] does.
pub fn cut_at_word(s: &str, width: usize) -> String {
    let cells = |t: &str| ratatui::text::Span::raw(t).width();
    if cells(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    // The longest prefix of whole characters that leaves a cell for `…`.
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if cells(&s[..i + c.len_utf8()]) > width - 1 {
            break;
        }
        end = i + c.len_utf8();
    }
    let prefix = &s[..end];
    // Parts joined with ` · ` (a summary) give way whole.
    if let Some(i) = s
        .match_indices(" · ")
        .map(|(i, _)| i)
        .take_while(|&i| i <= end)
        .last()
    {
        return format!("{}…", &s[..i]);
    }
    // The next character is a space: the prefix ends on a whole word.
    let whole = s[end..].starts_with(' ');
    let kept = if whole {
        prefix
    } else {
        match prefix.rfind(' ') {
            Some(i) => &prefix[..i],
            None => return truncate(s, width),
        }
    };
    let kept = kept
        .trim_end_matches([' ', '·', '—', ',', ':', '-'])
        .trim_end();
    if kept.is_empty() {
        return truncate(s, width);
    }
    format!("{kept}…")
}

/// Key hints (`a do this · b do that · …`) that fit `width` cells: whole hints only, from
/// the first, so no hint is cut.
pub fn fit_hints(hints: &str, width: usize) -> String {
    let mut out = String::new();
    for hint in hints.split(" · ") {
        let next = if out.is_empty() {
            hint.to_string()
        } else {
            format!("{out} · {hint}")
        };
        if ratatui::text::Span::raw(next.as_str()).width() > width {
            break;
        }
        out = next;
    }
    out
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
    fn cuts_between_words_and_marks_the_cut() {
        assert_eq!(
            cut_at_word("node worker-3 NotReady", 40),
            "node worker-3 NotReady"
        );
        assert_eq!(
            cut_at_word("node worker-3 NotReady (status Unknown)", 24),
            "node worker-3 NotReady…"
        );
        assert_eq!(
            cut_at_word("1 memory pressure · 1 disk pressure · 1 cordoned", 38),
            "1 memory pressure · 1 disk pressure…"
        );
        assert_eq!(cut_at_word("abc defghijk", 8), "abc…");
        assert_eq!(
            cut_at_word("2/4 available · 1 rollout in progress · 1 paused", 45),
            "2/4 available · 1 rollout in progress…"
        );
        // One long word: cut inside.
        assert_eq!(cut_at_word("abcdefghijk", 5), "abcd…");
        for w in 0..30 {
            let s = "deployment shop/web: 3/3 available — pod checkout";
            assert!(
                ratatui::text::Span::raw(cut_at_word(s, w)).width() <= w,
                "{w}"
            );
        }
    }

    #[test]
    fn hints_are_kept_whole() {
        let h = "f follow · w wrap · t timestamps · ctrl-s save";
        assert_eq!(fit_hints(h, 100), h);
        assert_eq!(fit_hints(h, 30), "f follow · w wrap");
        assert_eq!(fit_hints(h, 3), "");
    }

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
        let now = jiff::Timestamp::from_second(1_000_000_000).unwrap();
        let ago = |s: i64| Some(jiff::Timestamp::from_second(1_000_000_000 - s).unwrap());
        assert_eq!(age(ago(5), now), "5s");
        assert_eq!(age(ago(119), now), "119s");
        assert_eq!(age(ago(150), now), "2m30s");
        assert_eq!(age(ago(300), now), "5m");
        assert_eq!(age(ago(600), now), "10m");
        assert_eq!(age(ago(45 * 60), now), "45m");
        assert_eq!(age(ago(3 * 3600), now), "3h");
        assert_eq!(age(ago(3 * 3600 + 20 * 60), now), "3h20m");
        assert_eq!(age(ago(20 * 3600), now), "20h");
        assert_eq!(age(ago(5 * 86400 + 3 * 3600), now), "5d3h");
        assert_eq!(age(ago(75 * 86400), now), "75d");
        assert_eq!(age(ago((2 * 365 + 100) * 86400), now), "2y100d");
        assert_eq!(age(ago(10 * 365 * 86400), now), "10y");
        assert_eq!(age(ago(-1), now), "0s");
        assert_eq!(age(ago(-2), now), "<invalid>");
        assert_eq!(age(None, now), "<unknown>");
    }

    /// kubectl's own table: TestHumanDuration and TestHumanDurationBoundaries of
    /// k8s.io/apimachinery/pkg/util/duration.
    #[test]
    fn human_duration_matches_kubectls_test_table() {
        const MS: i64 = 1;
        const S: i64 = 1000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        const D: i64 = 24 * H;
        const Y: i64 = 365 * D;
        let table: &[(i64, &str)] = &[
            (S, "1s"),
            (70 * S, "70s"),
            (190 * S, "3m10s"),
            (70 * M, "70m"),
            (47 * H, "47h"),
            (49 * H, "2d1h"),
            ((8 * 24 + 2) * H, "8d"),
            (367 * D, "367d"),
            (2 * Y + 25 * H, "2y1d"),
            (8 * Y + 2 * H, "8y"),
            // Boundaries.
            (-2 * S, "<invalid>"),
            (-2 * S + MS, "0s"),
            (0, "0s"),
            (S - MS, "0s"),
            (2 * M - MS, "119s"),
            (2 * M, "2m"),
            (2 * M + S, "2m1s"),
            (10 * M - MS, "9m59s"),
            (10 * M, "10m"),
            (10 * M + S, "10m"),
            (3 * H - MS, "179m"),
            (3 * H, "3h"),
            (3 * H + M, "3h1m"),
            (8 * H - MS, "7h59m"),
            (8 * H, "8h"),
            (8 * H + 59 * M, "8h"),
            (2 * D - MS, "47h"),
            (2 * D, "2d"),
            (2 * D + H, "2d1h"),
            (8 * D - MS, "7d23h"),
            (8 * D, "8d"),
            (8 * D + 23 * H, "8d"),
            (2 * Y - MS, "729d"),
            (2 * Y, "2y"),
            (2 * Y + 23 * H + 59 * M, "2y"),
            (2 * Y + D - MS, "2y"),
            (2 * Y + D, "2y1d"),
            (3 * Y, "3y"),
            (7 * Y, "7y"),
            (8 * Y - MS, "7y364d"),
            (8 * Y, "8y"),
            (8 * Y + 364 * D, "8y"),
            (9 * Y, "9y"),
        ];
        for (d, want) in table {
            assert_eq!(human_duration(*d), *want, "{d} ms");
        }
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
