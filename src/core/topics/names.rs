//! Topic names: Kafka's rules, kebab-case destinations, and the destination names reserved
//! for built-in destinations to come.

/// Kafka refuses longer names (249, so `<name>-<partition>` directories fit in 255).
pub const MAX_TOPIC_NAME: usize = 249;

/// Why a topic name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    #[error("a topic name cannot be empty")]
    Empty,
    #[error("topic name `{0}` is not allowed (`.` and `..` are reserved)")]
    Dots(String),
    #[error("topic name `{name}…` is {len} characters long; Kafka allows at most 249")]
    TooLong { name: String, len: usize },
    #[error(
        "topic name `{name}` has {what}; Kafka allows only ASCII letters, digits, `.`, `_` and `-`"
    )]
    BadCharacter { name: String, what: String },
}

/// Checks a topic name against Kafka's rules: only `[a-zA-Z0-9._-]`, at most 249 characters,
/// not `.` or `..`. Done before anything is sent to a broker.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Dots(name.to_string()));
    }
    let len = name.chars().count();
    if len > MAX_TOPIC_NAME {
        return Err(TopicNameError::TooLong {
            name: name.chars().take(40).collect(),
            len,
        });
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        let what = if c.is_whitespace() {
            "a space".to_string()
        } else {
            format!("the character `{c}`")
        };
        return Err(TopicNameError::BadCharacter {
            name: name.to_string(),
            what,
        });
    }
    Ok(())
}

/// `Google Analytics`, `google_analytics`, `GoogleAnalytics` → `google-analytics`.
pub fn kebab_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            if boundary && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        prev = Some(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Destination names that name a third-party service or a delivery type rather than a
/// destination of the platform. They are reserved for built-in destinations to come, so a
/// topic named after them is refused unless forced.
pub const RESERVED_DESTINATIONS: &[&str] = &[
    // Delivery types.
    "webhook",
    "webhooks",
    "http",
    "https",
    "grpc",
    "sftp",
    "ftp",
    "email",
    "smtp",
    "file",
    "stdout",
    "log",
    // Queues and streams.
    "kafka",
    "amazon-kinesis",
    "kinesis",
    "amazon-sqs",
    "sqs",
    "amazon-sns",
    "sns",
    "amazon-eventbridge",
    "eventbridge",
    "amazon-firehose",
    "firehose",
    "azure-event-hubs",
    "event-hubs",
    "eventhubs",
    "azure-service-bus",
    "service-bus",
    "google-pubsub",
    "pubsub",
    "rabbitmq",
    "amqp",
    "mqtt",
    "nats",
    "pulsar",
    "redpanda",
    // Storage and databases.
    "redis",
    "s3",
    "amazon-s3",
    "gcs",
    "google-cloud-storage",
    "azure-blob",
    "azure-blob-storage",
    "minio",
    "postgres",
    "postgresql",
    "mysql",
    "mongodb",
    "elasticsearch",
    "opensearch",
    "clickhouse",
    "dynamodb",
    "cassandra",
    // Warehouses.
    "bigquery",
    "google-bigquery",
    "snowflake",
    "redshift",
    "amazon-redshift",
    "databricks",
    "iceberg",
];

/// The reserved name `destination` matches (after kebab-casing), if any.
pub fn reserved_destination(destination: &str) -> Option<&'static str> {
    // Compared without dashes, so `BigQuery` (big-query) and `AmazonKinesis` match too.
    let name = kebab_case(destination).replace('-', "");
    RESERVED_DESTINATIONS
        .iter()
        .copied()
        .find(|r| r.replace('-', "") == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_naming_rules() {
        for ok in ["mr-ee-main", "a", "A.b_c-9", &"x".repeat(249)] {
            assert_eq!(validate_topic_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert!(matches!(
            validate_topic_name("."),
            Err(TopicNameError::Dots(_))
        ));
        assert!(matches!(
            validate_topic_name(".."),
            Err(TopicNameError::Dots(_))
        ));
        // `...` is a legal name.
        assert_eq!(validate_topic_name("..."), Ok(()));
        let long = "x".repeat(250);
        let err = validate_topic_name(&long).unwrap_err();
        assert!(err.to_string().contains("250 characters"), "{err}");
        let err = validate_topic_name("mr-ee main").unwrap_err().to_string();
        assert!(err.contains("a space"), "{err}");
        let err = validate_topic_name("mr-ee/main").unwrap_err().to_string();
        assert!(err.contains("`/`"), "{err}");
        assert!(validate_topic_name("tópico").is_err());
    }

    #[test]
    fn kebab_case_destinations() {
        assert_eq!(kebab_case("google-analytics"), "google-analytics");
        assert_eq!(kebab_case("Google Analytics"), "google-analytics");
        assert_eq!(kebab_case("google_analytics"), "google-analytics");
        assert_eq!(kebab_case("GoogleAnalytics"), "google-analytics");
        assert_eq!(kebab_case("  Pinterest  "), "pinterest");
        assert_eq!(kebab_case("adobe--analytics!"), "adobe-analytics");
        assert_eq!(kebab_case("ga4"), "ga4");
    }

    #[test]
    fn reserved_destinations() {
        assert_eq!(
            reserved_destination("Amazon Kinesis"),
            Some("amazon-kinesis")
        );
        assert_eq!(reserved_destination("redis"), Some("redis"));
        assert_eq!(reserved_destination("S3"), Some("s3"));
        assert_eq!(reserved_destination("webhook"), Some("webhook"));
        assert_eq!(reserved_destination("BigQuery"), Some("bigquery"));
        assert_eq!(reserved_destination("pinterest"), None);
        assert_eq!(reserved_destination("google-analytics"), None);
    }
}
