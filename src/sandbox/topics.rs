//! Simulated Kafka topics and consumer groups for the demo, so the Topics view works with
//! no broker. Fed by the sandbox's pod states: each consumer workload of the platform is a
//! consumer group whose members are its ready pods; while a forwarder crash-loops nobody
//! commits and its lag grows, and once it recovers the group drains the backlog.

use super::resources::Storage;
use super::store::Store;
use crate::config::{Consumer, Platform};
use crate::core::topics::model::{GroupMeta, NewTopicSpec, PartitionMeta, Snapshot, TopicMeta};
use crate::core::topics::names::validate_topic_name;
use crate::core::topics::plan::{PARTITIONS_PER_REPLICA, parse_workload};
use crate::core::topics::{Created, TopicError, TopicSource};
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// Events per second produced into the platform's main topic, and into each destination.
pub const MAIN_RATE: f64 = 40.0;
pub const DESTINATION_RATE: f64 = 12.0;
/// Events per second one ready consumer pod handles (above the produce rate, so a
/// recovered group drains its backlog).
pub const POD_CAPACITY: f64 = 60.0;

/// The default scenario's mr-ee platform, as the sample config describes it.
pub fn demo_platform() -> Platform {
    let destinations = ["google-analytics", "adobe-analytics", "pinterest"];
    let mut consumers = vec![Consumer {
        workload: "deploy/router".into(),
        topics: vec!["mr-ee-main".into()],
    }];
    for d in destinations {
        consumers.push(Consumer {
            workload: format!("deploy/forwarder-{d}"),
            topics: vec![format!("mr-ee-{d}")],
        });
    }
    Platform {
prometheus: None,
analysis: Default::default(),
        name: "mr-ee".into(),
        namespace: "mr-ee".into(),
        release: Some("ee".into()),
        topic_prefix: Some("mr-ee-".into()),
        destinations: destinations.iter().map(|d| d.to_string()).collect(),
        custom_topics: vec![],
        consumers,
        kafka: None,
        // What `o` offers in the demo: dashboards of a made-up Grafana and Kibana.
        links: crate::core::links::Links(vec![
            (
                "grafana".into(),
                "https://grafana.example/d/helmdeck/workloads?var-namespace={namespace}&var-workload={workload}".into(),
            ),
            (
                "kibana".into(),
                "https://kibana.example/app/discover#/?_a=(query:(language:kuery,query:'kubernetes.namespace:{namespace}%20and%20kubernetes.pod.name:{pod}'))".into(),
            ),
        ]),
    }
}

struct SimPartition {
    log_end: f64,
    committed: BTreeMap<String, f64>,
}

struct SimTopic {
    rate: f64,
    partitions: Vec<SimPartition>,
}

struct Sim {
    topics: BTreeMap<String, SimTopic>,
    /// group → (topics, members now)
    groups: BTreeMap<String, (Vec<String>, usize)>,
    last_ms: Option<i64>,
}

/// Where the simulation learns how many consumers are ready.
enum Members {
    /// Ready pods of each consumer workload in the sandbox.
    Sandbox {
        store: Store,
        namespace: String,
        consumers: Vec<Consumer>,
    },
    /// Every group has this many members (benchmarks).
    Fixed(usize),
}

/// A [`TopicSource`] simulated in-process.
pub struct SimulatedTopics {
    sim: Mutex<Sim>,
    members: Members,
    describe: String,
}

/// The ready pods of `workload` (`deploy/NAME`) in `namespace`.
fn ready_pods(store: &Store, namespace: &str, workload: &str) -> usize {
    let Some((_, name)) = parse_workload(workload) else {
        return 0;
    };
    let prefix = format!("{name}-");
    store
        .all(Storage::Pods)
        .iter()
        .filter(|p| p.namespace == namespace)
        .filter(|p| {
            // <name>-<replicaset hash>-<suffix>: exactly two more dashed parts.
            p.name
                .strip_prefix(&prefix)
                .is_some_and(|rest| rest.split('-').count() == 2)
        })
        .filter(|p| {
            let v = p.value();
            v["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .count()
}

impl SimulatedTopics {
    /// The platform's topics in the sandbox: `<prefix>main` and one per destination, with 3
    /// partitions per consumer replica, and a group per consumer workload.
    pub fn for_sandbox(store: Store, platform: &Platform) -> SimulatedTopics {
        let prefix = platform.topic_prefix.clone().unwrap_or_default();
        let replicas = |topic: &str| -> usize {
            platform
                .consumers
                .iter()
                .filter(|c| c.topics.iter().any(|t| t == topic))
                .map(|c| ready_pods(&store, &platform.namespace, &c.workload))
                .max()
                .unwrap_or(1)
                .max(1)
        };
        let mut topics = BTreeMap::new();
        for t in platform
            .topics()
            .into_iter()
            .chain([format!("{prefix}main")])
        {
            let rate = if t.ends_with("main") {
                MAIN_RATE
            } else {
                DESTINATION_RATE
            };
            let n = replicas(&t) * PARTITIONS_PER_REPLICA as usize;
            topics.entry(t).or_insert_with(|| SimTopic {
                rate,
                partitions: (0..n)
                    .map(|_| SimPartition {
                        log_end: 1000.0,
                        committed: BTreeMap::new(),
                    })
                    .collect(),
            });
        }
        let mut groups = BTreeMap::new();
        for c in &platform.consumers {
            let name =
                parse_workload(&c.workload).map_or(c.workload.clone(), |(_, n)| n.to_string());
            for t in &c.topics {
                if let Some(topic) = topics.get_mut(t) {
                    for p in &mut topic.partitions {
                        p.committed.insert(name.clone(), p.log_end);
                    }
                }
            }
            groups.insert(name, (c.topics.clone(), 0));
        }
        SimulatedTopics {
            sim: Mutex::new(Sim {
                topics,
                groups,
                last_ms: None,
            }),
            members: Members::Sandbox {
                store,
                namespace: platform.namespace.clone(),
                consumers: platform.consumers.clone(),
            },
            describe: format!("simulated topics of platform {} (sandbox)", platform.name),
        }
    }

    /// `topics` topics of `partitions` partitions and `groups` groups (each reading one
    /// topic, every member ready), for benchmarks.
    pub fn synthetic(topics: usize, partitions: usize, groups: usize) -> SimulatedTopics {
        let names: Vec<String> = (0..topics).map(|i| format!("topic-{i:04}")).collect();
        let mut sim_groups = BTreeMap::new();
        for g in 0..groups {
            sim_groups.insert(
                format!("group-{g:03}"),
                (vec![names[g % topics.max(1)].clone()], 0),
            );
        }
        let mut sim_topics = BTreeMap::new();
        for n in &names {
            let readers: Vec<&String> = sim_groups
                .iter()
                .filter(|(_, (ts, _))| ts.contains(n))
                .map(|(g, _)| g)
                .collect();
            sim_topics.insert(
                n.clone(),
                SimTopic {
                    rate: DESTINATION_RATE,
                    partitions: (0..partitions)
                        .map(|_| SimPartition {
                            log_end: 100.0,
                            committed: readers.iter().map(|g| ((*g).clone(), 100.0)).collect(),
                        })
                        .collect(),
                },
            );
        }
        SimulatedTopics {
            sim: Mutex::new(Sim {
                topics: sim_topics,
                groups: sim_groups,
                last_ms: None,
            }),
            members: Members::Fixed(2),
            describe: format!(
                "simulated: {topics} topics × {partitions} partitions, {groups} groups"
            ),
        }
    }

    fn members(&self, group: &str) -> usize {
        match &self.members {
            Members::Fixed(n) => *n,
            Members::Sandbox {
                store,
                namespace,
                consumers,
            } => consumers
                .iter()
                .find(|c| parse_workload(&c.workload).is_some_and(|(_, n)| n == group))
                .map_or(0, |c| ready_pods(store, namespace, &c.workload)),
        }
    }
}

impl TopicSource for SimulatedTopics {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn snapshot(&self) -> Result<Snapshot, TopicError> {
        let now = jiff::Timestamp::now().as_millisecond();
        let names: Vec<String> = self.sim.lock().groups.keys().cloned().collect();
        let members: BTreeMap<String, usize> =
            names.iter().map(|g| (g.clone(), self.members(g))).collect();
        let mut sim = self.sim.lock();
        let dt = sim
            .last_ms
            .map_or(0.0, |t| ((now - t).max(0)) as f64 / 1000.0);
        sim.last_ms = Some(now);
        for (g, (_, m)) in sim.groups.iter_mut() {
            *m = members[g];
        }
        let groups_now = sim.groups.clone();
        for t in sim.topics.values_mut() {
            let per_partition = t.rate / t.partitions.len().max(1) as f64;
            let n = t.partitions.len().max(1) as f64;
            for p in &mut t.partitions {
                p.log_end += per_partition * dt;
                for (g, c) in p.committed.iter_mut() {
                    let m = groups_now.get(g).map_or(0, |(_, m)| *m) as f64;
                    let capacity = m * POD_CAPACITY / n * dt;
                    *c = (*c + capacity).min(p.log_end);
                }
            }
        }
        let topics = sim
            .topics
            .iter()
            .map(|(name, t)| {
                let partitions = t
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| PartitionMeta {
                        id: i as i32,
                        leader: 1,
                        replicas: 3,
                        isr: 3,
                        log_end: Some(p.log_end as i64),
                    })
                    .collect();
                (
                    name.clone(),
                    TopicMeta {
                        name: name.clone(),
                        partitions,
                        error: None,
                    },
                )
            })
            .collect();
        let mut groups = BTreeMap::new();
        for (g, (topics, m)) in &sim.groups {
            let mut committed = BTreeMap::new();
            let mut assigned = BTreeMap::new();
            for t in topics {
                if let Some(st) = sim.topics.get(t) {
                    for (i, p) in st.partitions.iter().enumerate() {
                        if let Some(c) = p.committed.get(g) {
                            committed.insert((t.clone(), i as i32), *c as i64);
                        }
                    }
                    if *m > 0 {
                        assigned.insert(t.clone(), (0..st.partitions.len() as i32).collect());
                    }
                }
            }
            groups.insert(
                g.clone(),
                GroupMeta {
                    name: g.clone(),
                    state: if *m > 0 { "Stable" } else { "Empty" }.into(),
                    members: *m,
                    assigned,
                    committed,
                },
            );
        }
        Ok(Snapshot {
            at_ms: now,
            topics,
            groups,
            brokers: 3,
            notes: vec![],
        })
    }

    fn create_topics(&self, specs: &[NewTopicSpec]) -> Result<Vec<Created>, TopicError> {
        for s in specs {
            validate_topic_name(&s.name).map_err(|e| TopicError::Invalid(e.to_string()))?;
        }
        let mut sim = self.sim.lock();
        Ok(specs
            .iter()
            .map(|s| {
                let result = if sim.topics.contains_key(&s.name) {
                    Err("topic already exists".to_string())
                } else {
                    sim.topics.insert(
                        s.name.clone(),
                        SimTopic {
                            rate: DESTINATION_RATE,
                            partitions: (0..s.partitions.max(1))
                                .map(|_| SimPartition {
                                    log_end: 0.0,
                                    committed: BTreeMap::new(),
                                })
                                .collect(),
                        },
                    );
                    Ok(())
                };
                Created {
                    name: s.name.clone(),
                    result,
                }
            })
            .collect())
    }
}
