//! What the console knows of the topics: the last snapshot, a sliding window of offset
//! samples per group and partition (for the lag status), a lag trend per group, produce
//! rates from log-end deltas, and the topic plan. Owned by one task (the UI loop, or
//! `helmdeck topics`); refreshes arrive as [`TopicUpdate`]s.

use super::lag::{LagRules, LagStatus, OffsetPoint, evaluate, worst};
use super::model::Snapshot;
use super::plan::{PlanState, TopicPlan, replicas_in};
use crate::config::Platform;
use crate::core::cluster::ClusterState;
use crate::core::cluster::rollup::{AreaKind, Level, Problem, Target, TargetKind};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Lag samples kept per group for the trend (at 5 s a sample, the last 10 minutes).
pub const TREND_SAMPLES: usize = 120;

/// What a refresh brings.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicUpdate {
    Snapshot(Snapshot),
    /// The refresh failed; the last data stays, with its age.
    Error(String),
}

/// One topic as the Topics view and `helmdeck topics` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicRow {
    pub name: String,
    pub partitions: usize,
    pub replication_factor: usize,
    pub under_replicated: usize,
    pub offline: usize,
    pub log_end: i64,
    /// Messages per second from the log-end delta since the previous sample.
    pub rate: Option<f64>,
    /// Groups reading it.
    pub groups: Vec<String>,
    pub error: Option<String>,
}

/// One partition of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub log_end: Option<i64>,
    /// None: the group never committed here (shown as such, not as zero).
    pub committed: Option<i64>,
    pub lag: Option<i64>,
    pub status: LagStatus,
}

/// One consumer group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub name: String,
    pub state: String,
    pub members: usize,
    pub topics: Vec<String>,
    /// Sum of the lag of the partitions with a commit.
    pub lag: i64,
    /// Partitions without a commit.
    pub uncommitted: usize,
    pub status: LagStatus,
    pub partitions: Vec<PartitionLag>,
    /// Total lag per sample, oldest first.
    pub trend: Vec<i64>,
}

/// The topics and groups, derived from the samples.
#[derive(Debug, Default)]
pub struct TopicsState {
    /// What the data comes from (secrets masked).
    pub source: String,
    pub platform: Option<Platform>,
    pub snapshot: Option<Snapshot>,
    pub error: Option<String>,
    /// When the last good snapshot was taken (Unix ms).
    pub updated_ms: Option<i64>,
    /// Bumped on every change.
    pub generation: u64,
    pub rules: LagRules,
    pub topics: Vec<TopicRow>,
    pub groups: Vec<GroupRow>,
    pub plan: Option<TopicPlan>,
    windows: HashMap<(String, String, i32), VecDeque<OffsetPoint>>,
    trends: HashMap<String, VecDeque<i64>>,
    previous_end: HashMap<String, (i64, i64)>,
}

impl TopicsState {
    pub fn new(source: String, platform: Option<Platform>, rules: LagRules) -> TopicsState {
        TopicsState {
            source,
            platform,
            rules,
            ..TopicsState::default()
        }
    }

    /// Takes in one refresh.
    pub fn apply(&mut self, update: TopicUpdate) {
        self.generation += 1;
        match update {
            TopicUpdate::Error(e) => self.error = Some(e),
            TopicUpdate::Snapshot(s) => {
                self.error = None;
                self.updated_ms = Some(s.at_ms);
                self.derive(&s);
                self.snapshot = Some(s);
            }
        }
    }

    fn derive(&mut self, s: &Snapshot) {
        let at = s.at_ms;
        let mut topic_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        let mut groups = Vec::with_capacity(s.groups.len());
        for g in s.groups.values() {
            let topics = g.topics();
            let mut partitions = Vec::new();
            for t in &topics {
                topic_groups
                    .entry(t.clone())
                    .or_default()
                    .push(g.name.clone());
                let Some(meta) = s.topics.get(t) else {
                    continue;
                };
                for p in &meta.partitions {
                    let committed = g.committed.get(&(t.clone(), p.id)).copied();
                    let key = (g.name.clone(), t.clone(), p.id);
                    let window = self.windows.entry(key.clone()).or_default();
                    if let Some(log_end) = p.log_end {
                        window.push_back(OffsetPoint {
                            at_ms: at,
                            committed,
                            log_end,
                        });
                        while window.len() > self.rules.window {
                            window.pop_front();
                        }
                    }
                    let points = window.make_contiguous();
                    let status = evaluate(points, g.members, &self.rules);
                    seen.insert(key);
                    let lag = match (p.log_end, committed) {
                        (Some(e), Some(c)) => Some((e - c).max(0)),
                        _ => None,
                    };
                    partitions.push(PartitionLag {
                        topic: t.clone(),
                        partition: p.id,
                        log_end: p.log_end,
                        committed,
                        lag,
                        status,
                    });
                }
            }
            let lag: i64 = partitions.iter().filter_map(|p| p.lag).sum();
            let uncommitted = partitions.iter().filter(|p| p.committed.is_none()).count();
            // Partitions the group never committed on are shown as such, not judged.
            let status = worst(
                partitions
                    .iter()
                    .filter(|p| p.committed.is_some())
                    .map(|p| p.status),
            );
            let trend = self.trends.entry(g.name.clone()).or_default();
            trend.push_back(lag);
            while trend.len() > TREND_SAMPLES {
                trend.pop_front();
            }
            groups.push(GroupRow {
                name: g.name.clone(),
                state: g.state.clone(),
                members: g.members,
                topics,
                lag,
                uncommitted,
                status,
                partitions,
                trend: trend.iter().copied().collect(),
            });
        }
        self.windows.retain(|k, _| seen.contains(k));
        self.trends.retain(|k, _| s.groups.contains_key(k));
        let mut topics = Vec::with_capacity(s.topics.len());
        for t in s.topics.values() {
            let end = t.log_end();
            let rate = self.previous_end.get(&t.name).and_then(|(prev_at, prev)| {
                let dt = (at - prev_at) as f64 / 1000.0;
                (dt > 0.0).then(|| ((end - prev).max(0)) as f64 / dt)
            });
            topics.push(TopicRow {
                name: t.name.clone(),
                partitions: t.partitions.len(),
                replication_factor: t.replication_factor(),
                under_replicated: t.under_replicated(),
                offline: t.offline(),
                log_end: end,
                rate,
                groups: topic_groups.remove(&t.name).unwrap_or_default(),
                error: t.error.clone(),
            });
        }
        self.previous_end = s
            .topics
            .values()
            .map(|t| (t.name.clone(), (at, t.log_end())))
            .collect();
        self.topics = topics;
        self.groups = groups;
    }

    /// Recomputes the plan from the platform, live replicas and the topics that exist.
    pub fn replan(&mut self, cluster: &ClusterState) {
        let Some(platform) = &self.platform else {
            return;
        };
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        let existing: BTreeMap<String, i32> = snapshot
            .topics
            .values()
            .filter(|t| t.error.is_none())
            .map(|t| (t.name.clone(), t.partitions.len() as i32))
            .collect();
        let plan = TopicPlan::build(
            platform,
            |w| replicas_in(cluster, &platform.namespace, w),
            &existing,
        );
        if self.plan.as_ref() != Some(&plan) {
            self.plan = Some(plan);
            self.generation += 1;
        }
    }

    /// The groups reading `topic`.
    pub fn groups_of<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a GroupRow> + 'a {
        self.groups
            .iter()
            .filter(move |g| g.topics.iter().any(|t| t == topic))
    }

    /// The Topics area of the roll-up: summary, details and problems.
    pub fn area(&self, now_ms: i64) -> (String, Vec<String>, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut details = vec![format!("source: {}", self.source)];
        let problem = |level, message: String, count, target| Problem {
            level,
            area: AreaKind::Topics,
            message,
            count,
            target,
        };
        let topic_target = |name: &str| {
            Some(Target {
                kind: TargetKind::Topic,
                namespace: String::new(),
                name: name.to_string(),
            })
        };
        if let Some(e) = &self.error {
            let age = self.updated_ms.map_or("no data yet".to_string(), |t| {
                format!("data {}s old", ((now_ms - t) / 1000).max(0))
            });
            problems.push(problem(
                if self.snapshot.is_some() {
                    Level::Degraded
                } else {
                    Level::Unknown
                },
                format!("topics refresh failing: {e} ({age})"),
                1,
                None,
            ));
        }
        let Some(s) = &self.snapshot else {
            return ("no data yet".to_string(), details, problems);
        };
        details.extend(s.notes.iter().cloned());
        for t in &self.topics {
            if t.offline > 0 {
                problems.push(problem(
                    Level::Failing,
                    format!(
                        "topic {}: {} of {} partitions offline",
                        t.name, t.offline, t.partitions
                    ),
                    t.offline,
                    topic_target(&t.name),
                ));
            }
            if t.under_replicated > 0 {
                problems.push(problem(
                    Level::Degraded,
                    format!(
                        "topic {}: {} partitions under-replicated",
                        t.name, t.under_replicated
                    ),
                    t.under_replicated,
                    topic_target(&t.name),
                ));
            }
        }
        let mut counts: BTreeMap<LagStatus, usize> = BTreeMap::new();
        for g in &self.groups {
            *counts.entry(g.status).or_default() += 1;
            let level = match g.status {
                LagStatus::Stall | LagStatus::Stop => Level::Failing,
                LagStatus::Warn | LagStatus::Rewind => Level::Degraded,
                _ => continue,
            };
            problems.push(problem(
                level,
                format!(
                    "consumer group {} {} (lag {} on {})",
                    g.name,
                    g.status.label(),
                    g.lag,
                    g.topics.join(", ")
                ),
                1,
                Some(Target {
                    kind: TargetKind::Group,
                    namespace: String::new(),
                    name: g.name.clone(),
                }),
            ));
        }
        if let Some(plan) = &self.plan {
            for t in &plan.topics {
                let (level, what) = match &t.state {
                    PlanState::Missing => (Level::Failing, "missing".to_string()),
                    PlanState::BelowFloor => (
                        Level::Degraded,
                        format!(
                            "{} partitions for {} consumer replicas",
                            t.partitions.unwrap_or(0),
                            t.replicas
                        ),
                    ),
                    PlanState::InvalidName(e) => (Level::Degraded, e.clone()),
                    _ => continue,
                };
                problems.push(problem(
                    level,
                    format!("topic {} {what} (plan of {})", t.name, plan.platform),
                    1,
                    topic_target(&t.name),
                ));
            }
            for i in &plan.idle_consumers {
                details.push(format!(
                    "{}: {} of {} replicas idle ({} partitions in {})",
                    i.workload, i.idle, i.replicas, i.partitions, i.topic
                ));
            }
        }
        let total_lag: i64 = self.groups.iter().map(|g| g.lag).sum();
        let statuses: Vec<String> = counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.label()))
            .collect();
        let summary = format!(
            "{} topics · {} groups{} · lag {total_lag}",
            self.topics.len(),
            self.groups.len(),
            if statuses.is_empty() {
                String::new()
            } else {
                format!(": {}", statuses.join(" · "))
            }
        );
        (summary, details, problems)
    }

    /// Groups not judged yet: PENDING although they committed on some partition (a lagging
    /// partition with fewer samples than the rules need). A group that never committed at
    /// all is not among them: there is nothing to judge.
    pub fn unjudged(&self) -> impl Iterator<Item = &GroupRow> {
        self.groups.iter().filter(|g| {
            g.status == LagStatus::Pending && g.partitions.iter().any(|p| p.committed.is_some())
        })
    }

    /// True when a group is STALL/STOP, or a topic is offline or missing from the plan.
    pub fn failing(&self) -> bool {
        self.groups.iter().any(|g| g.status.is_error())
            || self.topics.iter().any(|t| t.offline > 0)
            || self
                .plan
                .as_ref()
                .is_some_and(|p| p.missing().next().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::topics::model::{GroupMeta, PartitionMeta, TopicMeta};

    fn snapshot(at_s: i64, log_end: i64, committed: Option<i64>, members: usize) -> Snapshot {
        let topic = TopicMeta {
            name: "t".into(),
            partitions: vec![PartitionMeta {
                id: 0,
                leader: 1,
                replicas: 1,
                isr: 1,
                log_end: Some(log_end),
            }],
            error: None,
        };
        let mut group = GroupMeta {
            name: "g".into(),
            state: if members > 0 { "Stable" } else { "Empty" }.into(),
            members,
            assigned: BTreeMap::new(),
            committed: BTreeMap::new(),
        };
        match committed {
            Some(c) => {
                group.committed.insert(("t".into(), 0), c);
            }
            None => {
                group.assigned.insert("t".into(), vec![0]);
            }
        }
        Snapshot {
            at_ms: at_s * 1000,
            topics: BTreeMap::from([("t".into(), topic)]),
            groups: BTreeMap::from([("g".into(), group)]),
            brokers: 1,
            notes: vec![],
        }
    }

    #[test]
    fn lag_status_rate_and_trend_over_samples() {
        let mut st = TopicsState::new(
            "test".into(),
            None,
            LagRules {
                window: 3,
                min_samples: 3,
            },
        );
        // Falling behind while committing: WARN once three samples are in.
        for (i, (end, c)) in [(100, 90), (150, 100), (200, 110)].into_iter().enumerate() {
            st.apply(TopicUpdate::Snapshot(snapshot(
                i as i64 * 5,
                end,
                Some(c),
                1,
            )));
        }
        assert_eq!(st.groups[0].status, LagStatus::Warn);
        assert_eq!(st.groups[0].lag, 90);
        assert_eq!(st.groups[0].trend, [10, 50, 90]);
        assert_eq!(st.topics[0].rate, Some(10.0));
        assert_eq!(st.topics[0].groups, ["g"]);
        // Stops committing and leaves the group: STOP once the window holds no commit move.
        for (i, end) in [250, 300, 350].into_iter().enumerate() {
            st.apply(TopicUpdate::Snapshot(snapshot(
                15 + i as i64 * 5,
                end,
                Some(110),
                0,
            )));
        }
        assert_eq!(st.groups[0].status, LagStatus::Stop);
        assert!(st.failing());
        let (summary, _, problems) = st.area(40_000);
        assert_eq!(summary, "1 topics · 1 groups: 1 STOP · lag 240");
        assert_eq!(problems[0].level, Level::Failing);
        assert!(
            problems[0].message.contains("consumer group g STOP"),
            "{problems:?}"
        );
        // Catches up: OK.
        st.apply(TopicUpdate::Snapshot(snapshot(35, 350, Some(350), 1)));
        assert_eq!(st.groups[0].status, LagStatus::Ok);
        assert!(!st.failing());
        // A failed refresh keeps the data and says how old it is.
        st.apply(TopicUpdate::Error("broker down".into()));
        assert_eq!(st.groups.len(), 1);
        let (_, _, problems) = st.area(45_000);
        assert_eq!(
            problems[0].message,
            "topics refresh failing: broker down (data 10s old)"
        );
        assert_eq!(problems[0].level, Level::Degraded);
    }

    /// `helmdeck topics --samples 1`: one partition caught up, one lagging (not judged from
    /// one sample), one never committed on. The group is PENDING, not OK; without the
    /// lagging partition it is OK — the partition never committed on is left aside.
    #[test]
    fn a_group_with_a_partition_not_judged_yet_is_not_ok() {
        let one_sample = LagRules {
            window: 1,
            min_samples: 1,
        };
        let snapshot = |lagging: Option<i64>| {
            let mut s = snapshot(0, 100, Some(100), 1);
            let topic = s.topics.get_mut("t").unwrap();
            for id in [1, 2] {
                let mut p = topic.partitions[0].clone();
                p.id = id;
                topic.partitions.push(p);
            }
            let g = s.groups.get_mut("g").unwrap();
            if let Some(c) = lagging {
                g.committed.insert(("t".into(), 1), c);
            }
            s
        };
        let mut st = TopicsState::new("test".into(), None, one_sample);
        st.apply(TopicUpdate::Snapshot(snapshot(Some(40))));
        let g = &st.groups[0];
        let statuses: Vec<LagStatus> = g.partitions.iter().map(|p| p.status).collect();
        assert_eq!(
            statuses,
            [LagStatus::Ok, LagStatus::Pending, LagStatus::Pending]
        );
        assert_eq!(g.uncommitted, 1);
        assert_eq!(g.status, LagStatus::Pending);
        assert_eq!(st.unjudged().count(), 1);
        let (summary, _, _) = st.area(0);
        assert!(summary.contains("1 PENDING"), "{summary}");

        let mut st = TopicsState::new("test".into(), None, one_sample);
        st.apply(TopicUpdate::Snapshot(snapshot(None)));
        assert_eq!(st.groups[0].uncommitted, 2);
        assert_eq!(st.groups[0].status, LagStatus::Ok);
        assert_eq!(st.unjudged().count(), 0);
    }

    #[test]
    fn a_partition_without_commit_is_shown_as_such() {
        let mut st = TopicsState::new("test".into(), None, LagRules::default());
        st.apply(TopicUpdate::Snapshot(snapshot(0, 100, None, 1)));
        let g = &st.groups[0];
        assert_eq!(g.uncommitted, 1);
        assert_eq!(g.partitions[0].committed, None);
        assert_eq!(g.partitions[0].lag, None);
        assert_eq!(g.lag, 0);
        assert_eq!(g.status, LagStatus::Pending);
        // Never committed: nothing to judge, not "not judged yet".
        assert_eq!(st.unjudged().count(), 0);
    }
}
