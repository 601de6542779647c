//! The port to a topic source: a Kafka-protocol broker ([`super::kafka::KafkaSource`]) or
//! the sandbox's simulation. Blocking calls: the caller runs them off the UI thread
//! (`tokio::task::spawn_blocking`).

use super::model::{NewTopicSpec, Snapshot};

/// Why a refresh or a change failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// No broker answered (down, unreachable, wrong address).
    #[error("cannot reach the Kafka brokers at {servers}: {message}")]
    Unreachable { servers: String, message: String },
    /// The brokers answered but refused our credentials.
    #[error("authentication failed at {servers}: {message}")]
    Auth { servers: String, message: String },
    /// A name or a setting that is wrong before anything is sent.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Other(String),
}

/// The outcome of creating one topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Created {
    pub name: String,
    /// Err(message) when the broker refused it.
    pub result: Result<(), String>,
}

/// Where topics, groups and offsets come from.
pub trait TopicSource: Send + Sync {
    /// What it is connected to, for the screen (secrets masked).
    fn describe(&self) -> String;
    /// One full refresh: metadata, log-end offsets, groups and their committed offsets.
    fn snapshot(&self) -> Result<Snapshot, TopicError>;
    /// Creates topics (never deletes anything). Names are validated before anything is sent.
    fn create_topics(&self, topics: &[NewTopicSpec]) -> Result<Vec<Created>, TopicError>;
}
