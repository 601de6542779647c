//! The console's writes that involve topics, with no I/O: the partitions a consumer
//! workload's scale dialog checks replicas against, and `create --missing` from the Topics
//! screen (a confirmation listing what will be created, then [`Effect::CreateTopics`], run off
//! the UI thread, and its outcome as a status message).

use crate::core::cluster::WorkloadKind;
use crate::core::topics::plan::{
    PartitionLimit, PlanState, consumer_platform, default_replication_factor, partition_limit,
    topics_of,
};
use crate::core::topics::{Created, NewTopicSpec};
use crate::tui::app::{App, Dialog, Effect, Mode};
use crossterm::event::{KeyCode, KeyEvent};

/// The task name of a topic creation, in the task lines.
pub const CREATE_TOPICS: &str = "create topics";

/// What the console knows of one topic's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitions {
    Known(i32),
    /// The topic data covers the platform and the topic is not in it.
    Missing,
    /// No topic data of the platform (no source, not loaded yet, another platform's broker).
    Unknown,
}

/// The topics a consumer workload reads, as the scale dialog shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerReads {
    /// The platform that names the workload as a consumer.
    pub platform: String,
    pub topics: Vec<(String, Partitions)>,
}

impl ConsumerReads {
    /// The topic with the fewest partitions when `replicas` exceeds them (unknown and missing
    /// topics do not limit).
    pub fn limit(&self, workload: &str, replicas: i32) -> Option<PartitionLimit> {
        let reads: Vec<(String, Option<i32>)> = self
            .topics
            .iter()
            .map(|(t, p)| {
                let n = match p {
                    Partitions::Known(n) => Some(*n),
                    _ => None,
                };
                (t.clone(), n)
            })
            .collect();
        partition_limit(workload, &reads, replicas)
    }

    /// The fewest partitions of the topics read, when any is known.
    pub fn fewest(&self) -> Option<i32> {
        self.topics
            .iter()
            .filter_map(|(_, p)| match p {
                Partitions::Known(n) => Some(*n),
                _ => None,
            })
            .min()
    }

    /// `reads mr-ee-pinterest (3 partitions)`, `reads a (3 partitions), b (missing)`,
    /// `reads mr-ee-pinterest (partitions unknown)`.
    pub fn describe(&self) -> String {
        let list: Vec<String> = self
            .topics
            .iter()
            .map(|(t, p)| match p {
                Partitions::Known(1) => format!("{t} (1 partition)"),
                Partitions::Known(n) => format!("{t} ({n} partitions)"),
                Partitions::Missing => format!("{t} (missing)"),
                Partitions::Unknown => format!("{t} (partitions unknown)"),
            })
            .collect();
        format!("reads {}", list.join(", "))
    }
}

impl App {
    /// When a configured platform (or the topic feed's) names `kind/name` in `namespace` as
    /// a consumer: the topics it reads, with their partitions from the topic data the app
    /// holds (the Topics view's).
    pub fn consumer_reads(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> Option<ConsumerReads> {
        let feed = self.topics.as_ref();
        let (platform, topics) = consumer_platform(&self.platforms, namespace, kind, name)
            .or_else(|| {
                let p = feed?.platform.as_ref()?;
                let t = topics_of(p, kind, name);
                (p.namespace == namespace && !t.is_empty()).then_some((p, t))
            })?;
        // Loaded topic data of this platform's broker: a topic not in it is missing.
        let data = feed.filter(|t| t.snapshot.is_some());
        let covers = data
            .and_then(|t| t.platform.as_ref())
            .is_some_and(|p| p.name == platform.name);
        let topics = topics
            .into_iter()
            .map(|t| {
                let row = data.and_then(|d| d.topics.iter().find(|r| r.name == t));
                let p = match row {
                    Some(r) if r.error.is_none() => Partitions::Known(r.partitions as i32),
                    Some(_) => Partitions::Unknown,
                    None if covers => Partitions::Missing,
                    None => Partitions::Unknown,
                };
                (t.to_string(), p)
            })
            .collect();
        Some(ConsumerReads {
            platform: platform.name.clone(),
            topics,
        })
    }

    /// `create-topics` on the Topics screen: a confirmation listing the plan's missing topics
    /// (reserved names are listed as refused: the console never forces them).
    pub(crate) fn open_create_topics(&mut self) -> Vec<Effect> {
        if self.refuse_readonly("creating topics") {
            return Vec::new();
        }
        let Some(ts) = &self.topics else {
            self.flash(
                "no topic source: configure a platform's kafka settings (see assets/helmdeck.sample.yaml)",
                true,
            );
            return Vec::new();
        };
        if ts.platform.is_none() {
            self.flash(
                "no topic plan: name a platform (prefix, destinations, consumers) in the config",
                true,
            );
            return Vec::new();
        }
        let (Some(snapshot), Some(plan)) = (&ts.snapshot, &ts.plan) else {
            let text = format!(
                "the topics of {} are not known yet: wait for the first refresh",
                ts.source
            );
            self.flash(text, true);
            return Vec::new();
        };
        if self.tasks.iter().any(|(w, _)| w == CREATE_TOPICS) {
            self.flash("already creating topics: wait for the outcome", false);
            return Vec::new();
        }
        let topics = plan.to_create(false, default_replication_factor(snapshot.brokers));
        let refused: Vec<(String, String)> = plan
            .topics
            .iter()
            .filter_map(|t| match &t.state {
                PlanState::Reserved(r) => Some((t.name.clone(), r.clone())),
                _ => None,
            })
            .collect();
        let invalid: Vec<(String, String)> = plan
            .topics
            .iter()
            .filter_map(|t| match &t.state {
                PlanState::InvalidName(e) => Some((t.name.clone(), e.clone())),
                _ => None,
            })
            .collect();
        if topics.is_empty() {
            let mut text = format!(
                "Nothing to create: no topic of the plan of {} is missing",
                plan.platform
            );
            if !refused.is_empty() {
                text = format!(
                    "Nothing to create from the console: the missing topics have reserved names ({}); {}",
                    names(&refused),
                    FORCE_HINT
                );
            }
            self.flash(text, false);
            return Vec::new();
        }
        self.mode = Mode::Dialog(Dialog::CreateTopics {
            source: ts.source.clone(),
            platform: plan.platform.clone(),
            topics,
            refused,
            invalid,
        });
        Vec::new()
    }

    /// Keys in the create-topics confirmation: y/enter creates, n/esc cancels.
    pub(crate) fn on_create_topics_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Mode::Dialog(Dialog::CreateTopics {
            topics, refused, ..
        }) = &self.mode
        else {
            return Vec::new();
        };
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                let effect = Effect::CreateTopics {
                    topics: topics.clone(),
                    refused: refused.iter().map(|(n, _)| n.clone()).collect(),
                };
                let progress = format!(
                    "creating {}…",
                    topics
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.mode = Mode::Normal;
                self.tasks.push((CREATE_TOPICS.into(), progress));
                vec![effect]
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.flash("Nothing created.", false);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The outcome of [`Effect::CreateTopics`], as a status message: what was created, what
    /// the broker refused and why, and the reserved names that were not asked for.
    pub(crate) fn on_topics_created(
        &mut self,
        result: Result<Vec<Created>, String>,
        refused: Vec<String>,
    ) {
        self.tasks.retain(|(w, _)| w != CREATE_TOPICS);
        let mut parts = Vec::new();
        let mut error = false;
        match result {
            Err(e) => {
                error = true;
                parts.push(format!("✖ creating topics failed: {e}"));
            }
            Ok(created) => {
                let ok: Vec<&str> = created
                    .iter()
                    .filter(|c| c.result.is_ok())
                    .map(|c| c.name.as_str())
                    .collect();
                let failed: Vec<String> = created
                    .iter()
                    .filter_map(|c| match &c.result {
                        Err(e) => Some(format!("{} ({e})", c.name)),
                        Ok(()) => None,
                    })
                    .collect();
                if !ok.is_empty() {
                    parts.push(format!("✔ created {}", ok.join(", ")));
                }
                if !failed.is_empty() {
                    error = true;
                    parts.push(format!("✖ not created: {}", failed.join(", ")));
                }
                if created.is_empty() {
                    parts.push("nothing created".into());
                }
            }
        }
        if !refused.is_empty() {
            parts.push(format!(
                "refused (reserved names): {}; {FORCE_HINT}",
                refused.join(", ")
            ));
        }
        self.flash(parts.join(" · "), error);
    }
}

/// How reserved names can still be created: from the shell, forced.
pub const FORCE_HINT: &str = "only `helmdeck topics create --missing --force` creates them";

fn names(list: &[(String, String)]) -> String {
    list.iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of the create-topics confirmation: name, partitions, replication factor.
pub fn describe_new_topic(t: &NewTopicSpec) -> String {
    format!(
        "{}  ({} partition{}, replication factor {})",
        t.name,
        t.partitions,
        if t.partitions == 1 { "" } else { "s" },
        t.replication_factor
    )
}
