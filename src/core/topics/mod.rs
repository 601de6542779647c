//! Kafka topics, partitions and consumer lag: a topic source (a Kafka-protocol broker
//! through librdkafka, or the sandbox's simulation) → snapshots → offset samples → lag
//! status per group (a Burrow-style window) and the topic plan of a platform. No terminal
//! code here.

pub mod connection;
pub mod kafka;
pub mod lag;
pub mod model;
pub mod names;
pub mod plan;
pub mod source;
pub mod state;
pub mod tansu;

pub use connection::Connection;
pub use lag::{LagRules, LagStatus};
pub use model::{GroupMeta, NewTopicSpec, PartitionMeta, Snapshot, TopicMeta};
pub use plan::TopicPlan;
pub use source::{Created, TopicError, TopicSource};
pub use state::{TopicUpdate, TopicsState};
