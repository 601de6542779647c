//! Consumer lag status, judged over a sliding window of offset samples the way Burrow judges
//! it (not from one sample). Pure: samples in, a status out.
//!
//! Kafka's OffsetFetch does not say when an offset was committed, so "stopped committing"
//! is judged from what the samples show: the committed offset has not moved for the whole
//! window while there is lag, and nobody is in the group to commit (or the topic moved on
//! past it).

use serde::Serialize;

/// How a consumer group (or one of its partitions) keeps up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LagStatus {
    /// Keeping up: lag was zero at some point in the window, or it is not growing.
    Ok,
    /// Not enough samples yet to judge (or no committed offset at all).
    Pending,
    /// Committing, but the lag grew across the whole window.
    Warn,
    /// A committed offset went back.
    Rewind,
    /// Lag > 0 and the committed offset did not move over the window, with consumers
    /// present: they are stuck.
    Stall,
    /// Lag > 0 and no commit over the window while nobody consumes, or while the topic
    /// moved on: the group stopped.
    Stop,
}

impl LagStatus {
    /// A distinct symbol, so a status is never shown by colour alone.
    pub fn glyph(self) -> &'static str {
        match self {
            LagStatus::Ok => "✔",
            LagStatus::Pending => "…",
            LagStatus::Warn => "▲",
            LagStatus::Rewind => "↺",
            LagStatus::Stall => "■",
            LagStatus::Stop => "✖",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LagStatus::Ok => "OK",
            LagStatus::Pending => "PENDING",
            LagStatus::Warn => "WARN",
            LagStatus::Rewind => "REWIND",
            LagStatus::Stall => "STALL",
            LagStatus::Stop => "STOP",
        }
    }

    /// STALL and STOP mean events are not being delivered.
    pub fn is_error(self) -> bool {
        matches!(self, LagStatus::Stall | LagStatus::Stop)
    }
}

impl std::fmt::Display for LagStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One sample of one partition for one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPoint {
    /// Unix milliseconds of the sample.
    pub at_ms: i64,
    /// The group's committed offset; None when the group has no commit there.
    pub committed: Option<i64>,
    /// The partition's log-end offset (high watermark).
    pub log_end: i64,
}

impl OffsetPoint {
    /// log-end − committed, never negative; None without a commit.
    pub fn lag(&self) -> Option<i64> {
        self.committed.map(|c| (self.log_end - c).max(0))
    }
}

/// How long a window is and when it can be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagRules {
    /// Samples kept per partition.
    pub window: usize,
    /// Samples needed before anything but OK (lag 0) is said.
    pub min_samples: usize,
}

impl Default for LagRules {
    fn default() -> Self {
        LagRules {
            window: 10,
            min_samples: 3,
        }
    }
}

/// Judges one partition from its window of samples, oldest first. `members` is how many
/// consumers are in the group now.
pub fn evaluate(window: &[OffsetPoint], members: usize, rules: &LagRules) -> LagStatus {
    let Some(last) = window.last() else {
        return LagStatus::Pending;
    };
    // Only the samples with a commit count; a partition never committed is "no commit".
    let committed: Vec<(i64, i64, i64)> = window
        .iter()
        .filter_map(|p| Some((p.at_ms, p.committed?, p.lag()?)))
        .collect();
    if last.committed.is_none() || committed.is_empty() {
        return LagStatus::Pending;
    }
    // A committed offset that goes back is a rewind, however many samples there are.
    if committed.windows(2).any(|w| w[1].1 < w[0].1) {
        return LagStatus::Rewind;
    }
    let last_lag = committed.last().map_or(0, |c| c.2);
    // Burrow's first rule: a zero lag anywhere in the window means the consumer caught up.
    if committed.iter().any(|c| c.2 == 0) {
        return LagStatus::Ok;
    }
    if committed.len() < rules.min_samples.max(2) {
        return LagStatus::Pending;
    }
    let first = committed[0];
    let offsets_moved = committed.iter().any(|c| c.1 != first.1);
    if !offsets_moved && last_lag > 0 {
        let topic_moved = window.first().is_some_and(|f| last.log_end > f.log_end);
        // Nobody there to commit, or the topic moves on without them: stopped. Consumers
        // present on a quiet topic with the offset stuck: stalled.
        return if members == 0 || topic_moved {
            LagStatus::Stop
        } else {
            LagStatus::Stall
        };
    }
    // Committing, but lag never shrank and ended higher: falling behind.
    let growing = committed.windows(2).all(|w| w[1].2 >= w[0].2) && last_lag > first.2;
    if growing {
        return LagStatus::Warn;
    }
    LagStatus::Ok
}

/// The worst of several partition statuses: a group is as bad as its worst partition,
/// partitions never committed aside.
pub fn worst(statuses: impl IntoIterator<Item = LagStatus>) -> LagStatus {
    statuses
        .into_iter()
        .fold(None, |acc: Option<LagStatus>, s| {
            Some(match acc {
                None => s,
                Some(LagStatus::Pending) => s,
                Some(a) if s == LagStatus::Pending => a,
                Some(a) => a.max(s),
            })
        })
        .unwrap_or(LagStatus::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(points: &[(Option<i64>, i64)]) -> Vec<OffsetPoint> {
        points
            .iter()
            .enumerate()
            .map(|(i, (c, e))| OffsetPoint {
                at_ms: i as i64 * 5_000,
                committed: *c,
                log_end: *e,
            })
            .collect()
    }

    const R: LagRules = LagRules {
        window: 10,
        min_samples: 3,
    };

    #[test]
    fn caught_up_is_ok() {
        let win = w(&[(Some(10), 10), (Some(20), 25), (Some(30), 40)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
        // A steady small lag, committed offsets moving: OK.
        let win = w(&[
            (Some(10), 15),
            (Some(20), 25),
            (Some(30), 35),
            (Some(40), 45),
        ]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
        // Lag shrinking: OK.
        let win = w(&[(Some(10), 50), (Some(30), 60), (Some(50), 65)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
    }

    #[test]
    fn growing_lag_is_warn() {
        let win = w(&[
            (Some(10), 15),
            (Some(12), 25),
            (Some(14), 35),
            (Some(16), 45),
        ]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Warn);
        // Growing, but one sample shrank: not "keeps growing".
        let win = w(&[
            (Some(10), 15),
            (Some(12), 25),
            (Some(24), 26),
            (Some(26), 45),
        ]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
    }

    #[test]
    fn no_commit_movement_with_lag_is_stall_or_stop() {
        // Consumers present, topic quiet, offset stuck with lag: STALL.
        let win = w(&[(Some(10), 20), (Some(10), 20), (Some(10), 20)]);
        assert_eq!(evaluate(&win, 2, &R), LagStatus::Stall);
        // Nobody in the group: STOP.
        assert_eq!(evaluate(&win, 0, &R), LagStatus::Stop);
        // The topic moves on and the group does not commit: STOP.
        let win = w(&[(Some(10), 20), (Some(10), 30), (Some(10), 40)]);
        assert_eq!(evaluate(&win, 2, &R), LagStatus::Stop);
        assert_eq!(evaluate(&win, 0, &R), LagStatus::Stop);
    }

    #[test]
    fn a_commit_going_back_is_rewind() {
        let win = w(&[(Some(10), 20), (Some(5), 20)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Rewind);
    }

    #[test]
    fn too_few_samples_or_no_commit_is_pending() {
        assert_eq!(evaluate(&[], 1, &R), LagStatus::Pending);
        let win = w(&[(Some(10), 20), (Some(10), 20)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Pending);
        // Lag zero is OK from one sample.
        let win = w(&[(Some(20), 20)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
        let win = w(&[(None, 20), (None, 30), (None, 40)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Pending);
        // Committed only lately: judged on the committed samples.
        let win = w(&[(None, 20), (Some(5), 30), (Some(5), 40)]);
        assert_eq!(evaluate(&win, 0, &R), LagStatus::Pending);
    }

    #[test]
    fn lag_is_never_negative() {
        let p = OffsetPoint {
            at_ms: 0,
            committed: Some(30),
            log_end: 20,
        };
        assert_eq!(p.lag(), Some(0));
        let p = OffsetPoint {
            committed: None,
            ..p
        };
        assert_eq!(p.lag(), None);
    }

    #[test]
    fn the_worst_partition_decides() {
        use LagStatus::*;
        assert_eq!(worst([Ok, Warn, Ok]), Warn);
        assert_eq!(worst([Ok, Pending]), Ok);
        assert_eq!(worst([Pending, Pending]), Pending);
        assert_eq!(worst([Warn, Stop, Stall]), Stop);
        assert_eq!(worst([]), Pending);
        assert!(Stop.is_error() && Stall.is_error() && !Warn.is_error());
    }
}
