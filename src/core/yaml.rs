//! YAML from outside — chart repository indexes, values files, `--set` values, request
//! bodies, the configuration and themes — with its flow nesting bounded before it is parsed.
//!
//! serde_yaml parses on libyaml's scanner, whose work grows with the square of the nesting
//! of flow collections (`[`, `{`): for every token it looks again at the possible simple key
//! of every open level (`yaml_parser_stale_simple_keys`). 16,000 levels of `{a: ` (64 kB)
//! take 2 s, a few megabytes would take hours; serde_yaml's own limit (128 levels) is only
//! checked after the whole document has been scanned. The fuzz target `index` found it (a
//! 12 kB index.yaml taking 306 ms). So the nesting is measured first, in one linear pass,
//! and a document deeper than [`MAX_FLOW_DEPTH`] is refused before libyaml sees it.
//!
//! The pass follows libyaml's rules where they decide what is structure: quoted scalars
//! (which start where a token may start), comments (`#` after a space or at a line start)
//! and block scalars (`|`, `>`: the lines indented deeper than the line that opens them) are
//! skipped; every other `[` `{` opens a level and `]` `}` closes one. It is a bound, not a
//! YAML scanner: an unusual document (a `[` inside a plain scalar) may count deeper than it
//! is, which only matters past [`MAX_FLOW_DEPTH`] levels.

use serde::de::{DeserializeOwned, Error as _};

/// Deepest flow nesting accepted; serde_yaml refuses more than 128 levels of any nesting
/// anyway, so no document it would take is refused here.
pub const MAX_FLOW_DEPTH: usize = 256;

/// [`serde_yaml::from_str`] of a document whose flow nesting is within [`MAX_FLOW_DEPTH`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_yaml::Error> {
    check_flow_depth(text.as_bytes())?;
    serde_yaml::from_str(text)
}

/// [`serde_yaml::from_slice`] of a document whose flow nesting is within [`MAX_FLOW_DEPTH`].
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_yaml::Error> {
    check_flow_depth(bytes)?;
    serde_yaml::from_slice(bytes)
}

/// Refuses a document nested deeper than [`MAX_FLOW_DEPTH`] levels of `[` and `{`.
pub fn check_flow_depth(text: &[u8]) -> Result<(), serde_yaml::Error> {
    let depth = flow_depth(text, MAX_FLOW_DEPTH + 1);
    if depth > MAX_FLOW_DEPTH {
        return Err(serde_yaml::Error::custom(format!(
            "the document nests more than {MAX_FLOW_DEPTH} levels of [ ] and {{ }}"
        )));
    }
    Ok(())
}

/// The length of the line break at `i` (0: none). libyaml breaks lines at LF, CR, NEL,
/// LS and PS; a comment ends at any of them.
fn line_break(text: &[u8], i: usize) -> usize {
    match text[i..] {
        [b'\n' | b'\r', ..] => 1,
        [0xC2, 0x85, ..] => 2,
        [0xE2, 0x80, 0xA8 | 0xA9, ..] => 3,
        _ => 0,
    }
}

/// A blank (space, tab, line break) or the end at `i`.
fn blank_at(text: &[u8], i: usize) -> bool {
    i >= text.len() || matches!(text[i], b' ' | b'\t' | 0) || line_break(text, i) > 0
}

/// A blank (or the start) just before `i`.
fn blank_before(text: &[u8], i: usize) -> bool {
    let head = &text[..i];
    head.is_empty()
        || matches!(head[head.len() - 1], b' ' | b'\t' | b'\n' | b'\r')
        || head.ends_with(&[0xC2, 0x85])
        || head.ends_with(&[0xE2, 0x80, 0xA8])
        || head.ends_with(&[0xE2, 0x80, 0xA9])
}

/// From `i`, the position of the next line break (or the end).
fn end_of_line(text: &[u8], mut i: usize) -> usize {
    while i < text.len() && line_break(text, i) == 0 {
        i += 1;
    }
    i
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// The deepest nesting of flow collections in `text`, counting no further than `stop`.
pub fn flow_depth(text: &[u8], stop: usize) -> usize {
    let n = text.len();
    let (mut depth, mut deepest) = (0usize, 0usize);
    // Inside a plain scalar (else at a place where a token may start), since which column
    // of which line's indentation.
    let mut plain = false;
    let mut plain_indent = 0usize;
    // The column of the current line's start, its indentation, whether only spaces were
    // seen on it so far.
    let (mut line_start, mut indent, mut at_indent) = (0usize, 0usize, true);
    // The column a block scalar's lines must be indented beyond: the key's before `:`, the
    // `-`'s of a sequence entry.
    let (mut scalar_col, mut parent_col) = (0usize, 0usize);
    let mut i = 0;
    while i < n {
        let c = text[i];
        let lb = line_break(text, i);
        if lb > 0 {
            i += lb;
            line_start = i;
            indent = 0;
            at_indent = true;
            continue;
        }
        if c == b' ' || c == b'\t' {
            if at_indent && c == b' ' {
                indent += 1;
            }
            i += 1;
            continue;
        }
        if at_indent {
            at_indent = false;
            // A plain scalar goes on over lines indented deeper (in a flow: any line).
            if plain && depth == 0 && indent <= plain_indent {
                plain = false;
            }
        }
        let col = i - line_start;
        let next = text.get(i + 1).copied();
        let blank_next = blank_at(text, i + 1);
        if plain {
            let ends = (c == b':'
                && (blank_next || (depth > 0 && next.is_some_and(is_flow_indicator))))
                || (c == b'#' && blank_before(text, i))
                || (depth > 0 && is_flow_indicator(c));
            if !ends {
                i += 1;
                continue;
            }
            plain = false;
        }
        match c {
            b'#' => {
                // A comment, to the end of the line.
                i = end_of_line(text, i);
                continue;
            }
            b'\'' => {
                // To the closing quote; `''` is a quote inside.
                scalar_col = col;
                i += 1;
                while i < n {
                    if text[i] == b'\'' {
                        if text.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'"' => {
                // To the closing quote; `\` escapes the next character.
                scalar_col = col;
                i += 1;
                while i < n && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'|' | b'>' if depth == 0 => {
                // A block scalar: the rest of this line, then the lines indented deeper
                // than its parent, and blank lines.
                i = end_of_line(text, i);
                while i < n {
                    let line = i + line_break(text, i);
                    let mut j = line;
                    while j < n && text[j] == b' ' {
                        j += 1;
                    }
                    let blank = j >= n || line_break(text, j) > 0;
                    if !blank && j - line <= parent_col {
                        break;
                    }
                    i = end_of_line(text, j);
                }
                continue;
            }
            b'&' | b'!' | b'*' => {
                // An anchor, tag or alias: a name up to a blank or a flow indicator.
                i += 1;
                while !blank_at(text, i) && !is_flow_indicator(text[i]) {
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest >= stop {
                    return deepest;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => {}
            b':' if blank_next || depth > 0 => parent_col = scalar_col,
            b'?' if blank_next || depth > 0 => {}
            b'-' if blank_next => parent_col = col,
            _ => {
                plain = true;
                plain_indent = indent;
                scalar_col = col;
            }
        }
        i += 1;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(s: &str) -> usize {
        flow_depth(s.as_bytes(), usize::MAX)
    }

    #[test]
    fn counts_flow_levels_and_skips_scalars_comments_and_block_scalars() {
        assert_eq!(depth("a: [1, {b: [2]}]\n"), 3);
        assert_eq!(depth("a: '[[[[' # {{{{\nb: \"{{\\\"{{\"\n"), 0);
        // In a block context, a plain scalar holds brackets as text.
        assert_eq!(depth("a: it's [1]\nb: don't {x}\n"), 0);
        assert_eq!(depth("a: |\n  [[[[\n  {{{{\n\n  ]]\nb: [1]\n"), 1);
        assert_eq!(depth("- >-\n    {{{\n- {a: 1}\n"), 1);
        assert_eq!(depth("a: &x [1]\nb: *x\nc: !!seq [[2]]\n"), 2);
        assert_eq!(depth("url: http://x/{a}/[b]\n"), 0);
        assert_eq!(depth("{\"a\": [\"]]]\", {\"b\": \"}}\"}]}"), 3);
        // JSON: a value right after `:`, a `#` inside a string.
        assert_eq!(depth("{\"a\":\"x #y\",\"b\":[[[1]]]}"), 4);
        // A block scalar's lines are those indented deeper than its key.
        assert_eq!(depth("- key: |\n    {{{\n  x: [1]\n"), 1);
        // A comment ends at any of libyaml's line breaks: CR, NEL, LS, PS.
        for br in ["\r", "\u{85}", "\u{2028}", "\u{2029}"] {
            assert_eq!(depth(&format!("# x{br}[[1]]\n")), 2, "{br:?}");
            assert_eq!(depth(&format!("a: |{br}  [[{br}b: [1]")), 1, "{br:?}");
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        let deep = format!("a: {}", "{a: ".repeat(MAX_FLOW_DEPTH + 1));
        let err = from_str::<serde_yaml::Value>(&deep).unwrap_err();
        assert!(
            err.to_string().contains("nests more than 256 levels"),
            "{err}"
        );
        // Within the bound, serde_yaml decides (and refuses more than 128 levels itself).
        let ok = format!("a: {}1{}", "[".repeat(100), "]".repeat(100));
        assert!(from_str::<serde_yaml::Value>(&ok).is_ok());
    }
}
