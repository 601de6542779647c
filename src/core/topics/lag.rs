//! Consumer lag status, judged over a sliding window of offset samples the way Burrow judges
//! it (not from one sample). Pure: samples in, a status out.
//!
//! The rules follow Burrow's evaluator (linkedin/Burrow `core/internal/evaluator/caching.go`,
//! and its wiki's "Consumer Lag Evaluation Rules"), in its order, with the differences the
//! README's Topics section lists. The main one: Burrow's window holds the group's commits with
//! their commit times; Kafka's OffsetFetch says neither when an offset was committed nor
//! whether it was committed again, so helmdeck's window holds samples it took itself, and
//! "still committing" is told from whether the group has members.
use serde::Serialize;

/// How a consumer group (or one of its partitions) keeps up. Ordered from best to worst: a
/// group's status is the greatest of its partitions' ([`worst`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LagStatus {
    /// Keeping up: lag was zero at some point in the window, or it is not growing.
    Ok,
    /// Not judged: lag and too few samples yet to say (or no committed offset at all). Not OK.
    Pending,
    /// Committing, but the lag grew across the whole window.
    Warn,
    /// A committed offset went back, and has not come back to where it was.
    Rewind,
    /// Lag > 0 and the committed offset did not move over the window, with consumers
    /// present: they are stuck.
    Stall,
    /// Lag > 0 and the committed offset did not move over the window, with nobody in the
    /// group to commit: the group stopped.
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
/// consumers are in the group now. In order, as Burrow checks:
///
/// 1. no commit in the last sample: PENDING (a partition never committed; the group's status
///    leaves it aside, see [`worst`]);
/// 2. lag 0 now: OK (Burrow: "if the current lag is zero, the partition is never in error");
/// 3. a committed offset went back and has not since come back to where it was: REWIND
///    (a rewind the consumer recovered from is judged by the rules below, as in Burrow);
/// 4. lag 0 in any sample of the window: OK (Burrow's rule 1);
/// 5. fewer committed samples than `min_samples` (at least 2): PENDING — not judged yet;
/// 6. the committed offset never moved: STALL while the group has members (they are there to
///    commit, and commit the same offset: Burrow's STALL, whether or not the topic's head
///    moves), STOP when it has none (nobody commits: Burrow's STOP);
/// 7. lag grew over the window and never shrank between two samples: WARN;
/// 8. otherwise OK.
pub fn evaluate(window: &[OffsetPoint], members: usize, rules: &LagRules) -> LagStatus {
    let Some(last) = window.last() else {
        return LagStatus::Pending;
    };
    // Only the samples with a commit count; a partition never committed is "no commit".
    let committed: Vec<(i64, i64, i64)> = window
        .iter()
        .filter_map(|p| Some((p.at_ms, p.committed?, p.lag()?)))
        .collect();
    let (Some(last_lag), Some(&first)) = (last.lag(), committed.first()) else {
        return LagStatus::Pending;
    };
    if last_lag == 0 {
        return LagStatus::Ok;
    }
    if rewound_without_recovery(&committed) {
        return LagStatus::Rewind;
    }
    if committed.iter().any(|c| c.2 == 0) {
        return LagStatus::Ok;
    }
    if committed.len() < rules.min_samples.max(2) {
        return LagStatus::Pending;
    }
    if committed.iter().all(|c| c.1 == first.1) {
        return if members == 0 {
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

/// Burrow's rewind rule: the first time a committed offset goes back, and no later commit
/// reaches the offset it went back from.
fn rewound_without_recovery(committed: &[(i64, i64, i64)]) -> bool {
    let Some(at) = committed.windows(2).position(|w| w[1].1 < w[0].1) else {
        return false;
    };
    let before = committed[at].1;
    !committed[at + 1..].iter().any(|c| c.1 >= before)
}

/// The status of a group: the worst of its partitions' — a partition not judged yet
/// (PENDING) counts as worse than OK, so a group is OK only when every partition it committed
/// on is. Partitions it never committed on are left out by the caller (they are shown as
/// such); a group with nothing else is PENDING.
pub fn worst(statuses: impl IntoIterator<Item = LagStatus>) -> LagStatus {
    statuses.into_iter().max().unwrap_or(LagStatus::Pending)
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
        // Burrow: a consumer committing the same offset while the topic's head moves is
        // STALL. Members present are the consumer there to commit: STALL too.
        let win = w(&[(Some(10), 20), (Some(10), 30), (Some(10), 40)]);
        assert_eq!(evaluate(&win, 2, &R), LagStatus::Stall);
        // Nobody there to commit while the topic moves on: STOP.
        assert_eq!(evaluate(&win, 0, &R), LagStatus::Stop);
        // Stuck after having been caught up within the window: OK (Burrow's rule 1 and its
        // "recent lag zero" exception to STOP).
        let win = w(&[(Some(10), 10), (Some(10), 30), (Some(10), 40)]);
        assert_eq!(evaluate(&win, 0, &R), LagStatus::Ok);
    }

    #[test]
    fn a_commit_going_back_is_rewind() {
        let win = w(&[(Some(10), 20), (Some(5), 20)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Rewind);
        // Caught up before going back (Burrow issue #714): still a rewind while behind.
        let win = w(&[
            (Some(10), 10),
            (Some(20), 20),
            (Some(30), 30),
            (Some(20), 40),
        ]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Rewind);
        // Going back with lag zero now: OK, as in Burrow.
        let win = w(&[(Some(30), 35), (Some(20), 40), (Some(40), 40)]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
    }

    #[test]
    fn a_rewind_recovered_from_is_judged_by_the_other_rules() {
        // Back to the offset it went back from (30): no longer REWIND; a zero lag in the
        // window makes it OK (Burrow issue #714's second table).
        let win = w(&[
            (Some(20), 20),
            (Some(30), 30),
            (Some(20), 40),
            (Some(30), 45),
        ]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Ok);
        // Recovered, but the lag grows without ever shrinking: WARN.
        let win = w(&[
            (Some(20), 25),
            (Some(10), 25),
            (Some(20), 40),
            (Some(25), 50),
        ]);
        assert_eq!(evaluate(&win, 1, &R), LagStatus::Warn);
        // Not yet back to 30: REWIND.
        let win = w(&[
            (Some(20), 25),
            (Some(30), 35),
            (Some(10), 40),
            (Some(29), 45),
        ]);
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
        // A partition not judged yet is not OK: neither is its group.
        assert_eq!(worst([Ok, Pending]), Pending);
        assert_eq!(worst([Pending, Ok, Ok]), Pending);
        assert_eq!(worst([Pending, Warn]), Warn);
        assert_eq!(worst([Pending, Pending]), Pending);
        assert_eq!(worst([Warn, Stop, Stall]), Stop);
        assert_eq!(worst([]), Pending);
        assert!(Stop.is_error() && Stall.is_error() && !Warn.is_error());
    }
}
