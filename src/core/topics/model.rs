//! What a topic source reports in one refresh: topics with their partitions and log-end
//! offsets, consumer groups with their members and committed offsets.

use serde::Serialize;
use std::collections::BTreeMap;

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionMeta {
    pub id: i32,
    /// The leader broker; -1 when the partition is offline.
    pub leader: i32,
    pub replicas: usize,
    /// In-sync replicas.
    pub isr: usize,
    /// The log-end offset (high watermark); None when it could not be read.
    pub log_end: Option<i64>,
}

impl PartitionMeta {
    pub fn offline(&self) -> bool {
        self.leader < 0
    }
    pub fn under_replicated(&self) -> bool {
        self.isr < self.replicas
    }
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicMeta {
    pub name: String,
    pub partitions: Vec<PartitionMeta>,
    /// An error the broker gave for the topic (e.g. deleted while listed).
    pub error: Option<String>,
}

impl TopicMeta {
    /// The replication factor: the replicas of the first partition.
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas)
    }
    pub fn under_replicated(&self) -> usize {
        self.partitions
            .iter()
            .filter(|p| p.under_replicated())
            .count()
    }
    pub fn offline(&self) -> usize {
        self.partitions.iter().filter(|p| p.offline()).count()
    }
    /// The sum of the partitions' log-end offsets (those that could be read).
    pub fn log_end(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.log_end).sum()
    }
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMeta {
    pub name: String,
    /// Stable, Empty, PreparingRebalance, CompletingRebalance, Dead…
    pub state: String,
    pub members: usize,
    /// Partitions assigned to members: topic → partitions.
    pub assigned: BTreeMap<String, Vec<i32>>,
    /// Committed offsets: (topic, partition) → offset. Partitions without a commit are absent.
    pub committed: BTreeMap<(String, i32), i64>,
}

impl GroupMeta {
    /// The topics the group reads: assigned or committed.
    pub fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.assigned.keys().cloned().collect();
        for (topic, _) in self.committed.keys() {
            if !t.contains(topic) {
                t.push(topic.clone());
            }
        }
        t.sort();
        t
    }
}

/// Everything one refresh saw.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Snapshot {
    /// When it was taken (Unix milliseconds).
    pub at_ms: i64,
    pub topics: BTreeMap<String, TopicMeta>,
    pub groups: BTreeMap<String, GroupMeta>,
    /// How many brokers answered the metadata request.
    pub brokers: usize,
    /// What the source could not do (an API the broker lacks), said rather than failed.
    pub notes: Vec<String>,
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}
