//! The topic plan of a platform: which topics should exist (`<prefix>main`, one
//! `<prefix><destination>` per destination, the custom topics), how many partitions each
//! needs for the replicas that consume it, and what is missing or short. Pure: the platform,
//! live replica counts and the topics that exist go in; the plan comes out.

use super::model::NewTopicSpec;
use super::names::{kebab_case, reserved_destination, validate_topic_name};
use crate::config::Platform;
use crate::core::cluster::{ClusterState, WorkloadKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Partitions wanted per consumer replica (so a consumer can scale out without a repartition).
pub const PARTITIONS_PER_REPLICA: i32 = 3;
/// Partitions for a topic no known workload consumes.
pub const DEFAULT_PARTITIONS: i32 = 3;

/// Why a topic is in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "name")]
pub enum Origin {
    Main,
    Destination(String),
    Custom,
    /// Read by a consumer but named nowhere else.
    Consumed,
}

/// How a planned topic stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanState {
    Ok,
    Missing,
    /// Fewer partitions than consumer replicas: some consumers sit idle.
    BelowFloor,
    /// At least one partition per replica, but fewer than 3 per replica.
    BelowRecommended,
    /// The name breaks Kafka's rules.
    InvalidName(String),
    /// Named after a third-party service or delivery type; reserved unless forced.
    Reserved(String),
}

/// A consumer of a topic and its replicas now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerReplicas {
    pub workload: String,
    /// None when the workload is not found in the cluster.
    pub replicas: Option<i32>,
}

/// One topic of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTopic {
    pub name: String,
    pub origin: Origin,
    pub consumers: Vec<ConsumerReplicas>,
    /// The most replicas of any one consuming workload (each workload is its own group).
    pub replicas: i32,
    /// Hard floor: one partition per replica.
    pub floor: i32,
    /// Recommended: three partitions per replica.
    pub recommended: i32,
    /// Partitions now; None when the topic does not exist.
    pub partitions: Option<i32>,
    pub state: PlanState,
}

/// A workload with more replicas than its topic has partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdleConsumer {
    pub workload: String,
    pub topic: String,
    pub replicas: i32,
    pub partitions: i32,
    /// Replicas that get no partition.
    pub idle: i32,
}

/// The plan of one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicPlan {
    pub platform: String,
    pub topics: Vec<PlannedTopic>,
    pub idle_consumers: Vec<IdleConsumer>,
}

impl TopicPlan {
    /// Builds the plan. `replicas` gives a workload's replicas (`deploy/router` → 2);
    /// `existing` the partitions of the topics that exist.
    pub fn build(
        platform: &Platform,
        replicas: impl Fn(&str) -> Option<i32>,
        existing: &BTreeMap<String, i32>,
    ) -> TopicPlan {
        let prefix = platform.topic_prefix.as_deref().unwrap_or("");
        let mut wanted: Vec<(String, Origin)> = vec![(format!("{prefix}main"), Origin::Main)];
        for d in &platform.destinations {
            wanted.push((
                format!("{prefix}{}", kebab_case(d)),
                Origin::Destination(d.clone()),
            ));
        }
        for t in &platform.custom_topics {
            wanted.push((t.clone(), Origin::Custom));
        }
        for c in &platform.consumers {
            for t in &c.topics {
                wanted.push((t.clone(), Origin::Consumed));
            }
        }
        let mut topics: Vec<PlannedTopic> = Vec::new();
        for (name, origin) in wanted {
            if topics.iter().any(|t| t.name == name) {
                continue;
            }
            let consumers: Vec<ConsumerReplicas> = platform
                .consumers
                .iter()
                .filter(|c| c.topics.contains(&name))
                .map(|c| ConsumerReplicas {
                    workload: c.workload.clone(),
                    replicas: replicas(&c.workload),
                })
                .collect();
            let most = consumers
                .iter()
                .filter_map(|c| c.replicas)
                .max()
                .unwrap_or(0);
            let floor = most.max(1);
            let recommended = if most > 0 {
                most * PARTITIONS_PER_REPLICA
            } else {
                DEFAULT_PARTITIONS
            };
            let partitions = existing.get(&name).copied();
            let reserved = match &origin {
                Origin::Destination(d) => reserved_destination(d),
                _ => None,
            };
            let state = if let Err(e) = validate_topic_name(&name) {
                PlanState::InvalidName(e.to_string())
            } else if let (Some(r), None) = (reserved, partitions) {
                PlanState::Reserved(r.to_string())
            } else {
                match partitions {
                    None => PlanState::Missing,
                    Some(p) if p < floor => PlanState::BelowFloor,
                    Some(p) if p < recommended => PlanState::BelowRecommended,
                    Some(_) => PlanState::Ok,
                }
            };
            topics.push(PlannedTopic {
                name,
                origin,
                consumers,
                replicas: most,
                floor,
                recommended,
                partitions,
                state,
            });
        }
        let mut idle_consumers = Vec::new();
        for c in &platform.consumers {
            let Some(r) = replicas(&c.workload) else {
                continue;
            };
            for t in &c.topics {
                if let Some(&p) = existing.get(t)
                    && r > p
                {
                    idle_consumers.push(IdleConsumer {
                        workload: c.workload.clone(),
                        topic: t.clone(),
                        replicas: r,
                        partitions: p,
                        idle: r - p,
                    });
                }
            }
        }
        TopicPlan {
            platform: platform.name.clone(),
            topics,
            idle_consumers,
        }
    }

    pub fn missing(&self) -> impl Iterator<Item = &PlannedTopic> {
        self.topics.iter().filter(|t| t.state == PlanState::Missing)
    }

    /// True when a topic is missing or below the floor, or a name is invalid.
    pub fn has_problems(&self) -> bool {
        self.topics.iter().any(|t| {
            matches!(
                t.state,
                PlanState::Missing | PlanState::BelowFloor | PlanState::InvalidName(_)
            )
        })
    }

    /// What `create --missing` creates: the missing topics with their recommended
    /// partitions, and the reserved ones only when forced. Never anything that exists.
    pub fn to_create(&self, force: bool, replication_factor: i32) -> Vec<NewTopicSpec> {
        self.topics
            .iter()
            .filter(|t| t.partitions.is_none())
            .filter(|t| match t.state {
                PlanState::Missing => true,
                PlanState::Reserved(_) => force,
                _ => false,
            })
            .map(|t| NewTopicSpec {
                name: t.name.clone(),
                partitions: t.recommended,
                replication_factor,
            })
            .collect()
    }
}

/// The replication factor of new topics when none is given: 3, or fewer when fewer brokers
/// answer (a topic cannot have more replicas than brokers).
pub fn default_replication_factor(brokers: usize) -> i32 {
    (brokers.min(3) as i32).max(1)
}

/// `deploy/router`, `deployment/router`, `sts/db` → (kind, name).
pub fn parse_workload(workload: &str) -> Option<(WorkloadKind, &str)> {
    let (kind, name) = workload.split_once('/')?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "deploy" | "deployment" | "deployments" | "deployment.apps" => WorkloadKind::Deployment,
        "sts" | "statefulset" | "statefulsets" | "statefulset.apps" => WorkloadKind::StatefulSet,
        "ds" | "daemonset" | "daemonsets" | "daemonset.apps" => WorkloadKind::DaemonSet,
        _ => return None,
    };
    Some((kind, name))
}

/// A workload's desired replicas in `namespace`, from the watched cluster.
pub fn replicas_in(state: &ClusterState, namespace: &str, workload: &str) -> Option<i32> {
    let (kind, name) = parse_workload(workload)?;
    state
        .workloads
        .get(&(kind, namespace.to_string(), name.to_string()))
        .map(|w| w.desired)
}

/// The topics a workload reads, by the platform's `consumers`.
pub fn topics_of<'a>(platform: &'a Platform, kind: WorkloadKind, name: &str) -> Vec<&'a str> {
    platform
        .consumers
        .iter()
        .filter(|c| parse_workload(&c.workload) == Some((kind, name)))
        .flat_map(|c| c.topics.iter().map(String::as_str))
        .collect()
}

/// Why a consumer workload should not be scaled to some replica count: the topic it reads
/// with the fewest partitions has fewer than the replicas, so some consumers would sit idle
/// (a partition is read by one consumer of a group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLimit {
    pub workload: String,
    pub topic: String,
    pub partitions: i32,
    pub replicas: i32,
}

impl PartitionLimit {
    /// Consumers that would get no partition.
    pub fn idle(&self) -> i32 {
        self.replicas - self.partitions
    }

    /// Why, without how to override it ("forwarder-pinterest reads mr-ee-pinterest (3
    /// partitions): 4 replicas would leave 1 consumer idle").
    pub fn reason(&self) -> String {
        let idle = self.idle();
        format!(
            "{} reads {} ({} partition{}): {} replicas would leave {idle} consumer{} idle",
            self.workload,
            self.topic,
            self.partitions,
            if self.partitions == 1 { "" } else { "s" },
            self.replicas,
            if idle == 1 { "" } else { "s" },
        )
    }
}

impl std::fmt::Display for PartitionLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; --force to scale anyway", self.reason())
    }
}

/// Checks scaling the consumer `workload` (its name, for the message) to `replicas`
/// against the partitions of the topics it reads (`None`: unknown, e.g. a missing topic,
/// which does not limit). Returns the limit of the topic with the fewest partitions when
/// `replicas` exceeds it; scaling to fewer or as many replicas as partitions is fine.
pub fn partition_limit(
    workload: &str,
    reads: &[(String, Option<i32>)],
    replicas: i32,
) -> Option<PartitionLimit> {
    let (topic, partitions) = reads
        .iter()
        .filter_map(|(t, p)| Some((t, (*p)?)))
        .min_by_key(|(t, p)| (*p, t.as_str()))?;
    (replicas > partitions).then(|| PartitionLimit {
        workload: workload.to_string(),
        topic: topic.clone(),
        partitions,
        replicas,
    })
}

/// The platform of the config that names `kind/name` in `namespace` as a consumer, with the
/// topics it reads; None when no platform does.
pub fn consumer_platform<'a>(
    platforms: &'a [Platform],
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Option<(&'a Platform, Vec<&'a str>)> {
    platforms
        .iter()
        .filter(|p| p.namespace == namespace)
        .map(|p| (p, topics_of(p, kind, name)))
        .find(|(_, t)| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Consumer;

    fn platform() -> Platform {
        Platform {
            prometheus: None,
            analysis: Default::default(),
            name: "mr-ee".into(),
            namespace: "mr-ee".into(),
            links: Default::default(),
            release: Some("ee".into()),
            topic_prefix: Some("mr-ee-".into()),
            destinations: vec!["Google Analytics".into(), "pinterest".into()],
            custom_topics: vec!["audit".into()],
            consumers: vec![
                Consumer {
                    workload: "deploy/router".into(),
                    topics: vec!["mr-ee-main".into()],
                },
                Consumer {
                    workload: "deploy/forwarder-google-analytics".into(),
                    topics: vec!["mr-ee-google-analytics".into()],
                },
                Consumer {
                    workload: "deploy/forwarder-pinterest".into(),
                    topics: vec!["mr-ee-pinterest".into()],
                },
            ],
            kafka: None,
        }
    }

    fn replicas(w: &str) -> Option<i32> {
        match w {
            "deploy/router" => Some(2),
            "deploy/forwarder-google-analytics" => Some(4),
            "deploy/forwarder-pinterest" => Some(1),
            _ => None,
        }
    }

    #[test]
    fn expected_topics_partitions_and_states() {
        let existing = BTreeMap::from([
            ("mr-ee-main".to_string(), 6),
            ("mr-ee-google-analytics".to_string(), 2),
        ]);
        let plan = TopicPlan::build(&platform(), replicas, &existing);
        let names: Vec<&str> = plan.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mr-ee-main",
                "mr-ee-google-analytics",
                "mr-ee-pinterest",
                "audit"
            ]
        );
        let main = &plan.topics[0];
        assert_eq!((main.replicas, main.floor, main.recommended), (2, 2, 6));
        assert_eq!(main.state, PlanState::Ok);
        let ga = &plan.topics[1];
        assert_eq!(ga.origin, Origin::Destination("Google Analytics".into()));
        assert_eq!((ga.floor, ga.recommended), (4, 12));
        assert_eq!(ga.state, PlanState::BelowFloor);
        assert_eq!(plan.topics[2].state, PlanState::Missing);
        assert_eq!(plan.topics[2].recommended, 3);
        // Nobody consumes `audit`: the default partitions, floor 1.
        assert_eq!(plan.topics[3].state, PlanState::Missing);
        assert_eq!((plan.topics[3].floor, plan.topics[3].recommended), (1, 3));
        assert_eq!(
            plan.idle_consumers,
            [IdleConsumer {
                workload: "deploy/forwarder-google-analytics".into(),
                topic: "mr-ee-google-analytics".into(),
                replicas: 4,
                partitions: 2,
                idle: 2
            }]
        );
        assert!(plan.has_problems());
        let create = plan.to_create(false, 1);
        assert_eq!(
            create
                .iter()
                .map(|t| (t.name.as_str(), t.partitions))
                .collect::<Vec<_>>(),
            [("mr-ee-pinterest", 3), ("audit", 3)]
        );
    }

    #[test]
    fn between_floor_and_three_per_replica() {
        let existing = BTreeMap::from([
            ("mr-ee-main".to_string(), 3),
            ("mr-ee-google-analytics".to_string(), 12),
            ("mr-ee-pinterest".to_string(), 3),
            ("audit".to_string(), 1),
        ]);
        let plan = TopicPlan::build(&platform(), replicas, &existing);
        assert_eq!(plan.topics[0].state, PlanState::BelowRecommended);
        assert_eq!(plan.topics[1].state, PlanState::Ok);
        assert_eq!(plan.topics[3].state, PlanState::BelowRecommended);
        assert!(!plan.has_problems());
        assert!(plan.idle_consumers.is_empty());
        assert!(
            plan.to_create(true, 3).is_empty(),
            "never touches what exists"
        );
    }

    #[test]
    fn reserved_destinations_need_force_and_bad_names_are_refused() {
        let mut p = platform();
        p.destinations = vec!["Amazon Kinesis".into(), "redis".into(), "pinterest".into()];
        p.custom_topics = vec!["bad name".into()];
        let plan = TopicPlan::build(&p, replicas, &BTreeMap::new());
        let state = |n: &str| {
            plan.topics
                .iter()
                .find(|t| t.name == n)
                .unwrap()
                .state
                .clone()
        };
        assert_eq!(
            state("mr-ee-amazon-kinesis"),
            PlanState::Reserved("amazon-kinesis".into())
        );
        assert_eq!(state("mr-ee-redis"), PlanState::Reserved("redis".into()));
        assert!(matches!(state("bad name"), PlanState::InvalidName(m) if m.contains("a space")));
        let names = |v: Vec<NewTopicSpec>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(plan.to_create(false, 1)),
            ["mr-ee-main", "mr-ee-pinterest", "mr-ee-google-analytics"]
        );
        assert_eq!(
            names(plan.to_create(true, 1)),
            [
                "mr-ee-main",
                "mr-ee-amazon-kinesis",
                "mr-ee-redis",
                "mr-ee-pinterest",
                "mr-ee-google-analytics"
            ]
        );
    }

    #[test]
    fn replication_factor_follows_the_brokers_up_to_three() {
        assert_eq!(default_replication_factor(0), 1);
        assert_eq!(default_replication_factor(1), 1);
        assert_eq!(default_replication_factor(2), 2);
        assert_eq!(default_replication_factor(5), 3);
    }

    #[test]
    fn workload_references() {
        assert_eq!(
            parse_workload("deploy/router"),
            Some((WorkloadKind::Deployment, "router"))
        );
        assert_eq!(
            parse_workload("StatefulSet/db"),
            Some((WorkloadKind::StatefulSet, "db"))
        );
        assert_eq!(parse_workload("cronjob/x"), None);
        assert_eq!(
            topics_of(&platform(), WorkloadKind::Deployment, "router"),
            ["mr-ee-main"]
        );
    }

    #[test]
    fn scaling_a_consumer_past_its_partitions_is_limited() {
        let reads = vec![
            ("mr-ee-main".to_string(), Some(12)),
            ("mr-ee-pinterest".to_string(), Some(3)),
            ("mr-ee-gone".to_string(), None),
        ];
        assert_eq!(partition_limit("forwarder-pinterest", &reads, 3), None);
        assert_eq!(partition_limit("forwarder-pinterest", &reads, 1), None);
        let limit = partition_limit("forwarder-pinterest", &reads, 4).unwrap();
        assert_eq!(
            (limit.topic.as_str(), limit.partitions),
            ("mr-ee-pinterest", 3)
        );
        assert_eq!(
            limit.to_string(),
            "forwarder-pinterest reads mr-ee-pinterest (3 partitions): 4 replicas would leave \
             1 consumer idle; --force to scale anyway"
        );
        let limit = partition_limit("router", &reads[..1], 14).unwrap();
        assert_eq!(limit.idle(), 2);
        assert!(
            limit.to_string().contains("leave 2 consumers idle"),
            "{limit}"
        );
        assert_eq!(
            limit.reason(),
            "router reads mr-ee-main (12 partitions): 14 replicas would leave 2 consumers idle"
        );
        // Unknown partition counts do not limit.
        assert_eq!(partition_limit("x", &reads[2..], 50), None);
        assert_eq!(partition_limit("x", &[], 50), None);
    }

    #[test]
    fn the_platform_naming_a_consumer_is_found() {
        let platforms = [platform()];
        let (p, topics) =
            consumer_platform(&platforms, "mr-ee", WorkloadKind::Deployment, "router").unwrap();
        assert_eq!((p.name.as_str(), topics), ("mr-ee", vec!["mr-ee-main"]));
        assert!(
            consumer_platform(&platforms, "other", WorkloadKind::Deployment, "router").is_none()
        );
        assert!(
            consumer_platform(&platforms, "mr-ee", WorkloadKind::StatefulSet, "router").is_none()
        );
    }
}
