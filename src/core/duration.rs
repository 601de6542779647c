//! Durations as people read them, in kubectl's words.

/// A duration in milliseconds as kubectl's `duration.HumanDuration` prints it: two units
/// while the larger is small (under 10m, 8h, 8d, 8y: `2m30s`, `3h20m`, `5d3h`, `2y100d`,
/// the smaller left out when 0), one unit otherwise. Less than two seconds in the future is
/// `0s` (kubectl tolerates that much clock skew); further is `<invalid>`.
pub fn human_duration(millis: i64) -> String {
    // Go's int(d.Seconds()) truncates toward zero, as `/` does.
    let seconds = millis / 1000;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let two = |big: i64, a: &str, small: i64, b: &str| {
        if small == 0 {
            format!("{big}{a}")
        } else {
            format!("{big}{a}{small}{b}")
        }
    };
    let minutes = seconds / 60;
    if minutes < 10 {
        return two(minutes, "m", seconds % 60, "s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        two(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        two(hours / 24, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        two(hours / 24 / 365, "y", (hours / 24) % 365, "d")
    } else {
        format!("{}y", hours / 24 / 365)
    }
}
