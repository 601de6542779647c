//! Topics against a real Kafka-protocol broker (tansu, started per test on a free port):
//! metadata, log-end offsets, consumer groups and lag, the plan and `create --missing`,
//! lag statuses over time, and names refused before anything is sent.

use helmdeck::config::{Consumer, Platform};
use helmdeck::core::topics::kafka::KafkaSource;
use helmdeck::core::topics::tansu::Tansu;
use helmdeck::core::topics::{
    Connection, LagRules, LagStatus, NewTopicSpec, TopicError, TopicPlan, TopicSource, TopicUpdate,
    TopicsState,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

fn source(broker: &Tansu) -> KafkaSource {
    KafkaSource::new(Connection::bootstrap(&broker.addr), TIMEOUT).unwrap()
}

fn create(src: &KafkaSource, name: &str, partitions: i32) {
    let r = src
        .create_topics(&[NewTopicSpec {
            name: name.into(),
            partitions,
            replication_factor: 1,
        }])
        .unwrap();
    assert_eq!(r[0].result, Ok(()), "{r:?}");
}

/// Produces `n` records to one partition, one record per batch (tansu gives one offset
/// per batch).
fn produce(broker: &Tansu, topic: &str, partition: i32, n: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    for i in 0..n {
        let payload = format!("event {i}");
        p.send(
            BaseRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(&payload),
        )
        .map_err(|(e, _)| e)
        .unwrap();
        p.flush(TIMEOUT).unwrap();
    }
}

/// Commits `offset` for `group` without joining it.
fn commit(broker: &Tansu, group: &str, topic: &str, partition: i32, offset: i64) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
}

#[test]
fn topics_offsets_groups_and_lag() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "orders", 3);
    produce(&broker, "orders", 0, 10);
    produce(&broker, "orders", 1, 2);
    commit(&broker, "billing", "orders", 0, 4);

    let s = src.snapshot().unwrap();
    let t = &s.topics["orders"];
    assert_eq!(t.partitions.len(), 3);
    assert_eq!(t.replication_factor(), 1);
    assert_eq!(t.offline(), 0);
    assert_eq!(t.partitions[0].log_end, Some(10));
    assert_eq!(t.partitions[1].log_end, Some(2));
    assert_eq!(t.partitions[2].log_end, Some(0));
    let g = s.groups.get("billing").expect("the group is listed");
    assert_eq!(g.committed.get(&("orders".to_string(), 0)), Some(&4));
    assert_eq!(g.committed.get(&("orders".to_string(), 1)), None);

    let mut state = TopicsState::new(src.describe(), None, LagRules::default());
    state.apply(TopicUpdate::Snapshot(s));
    let g = state.groups.iter().find(|g| g.name == "billing").unwrap();
    assert_eq!(g.lag, 6);
    assert_eq!(
        g.uncommitted, 2,
        "partitions without a commit are said, not zero"
    );
    let p1 = g.partitions.iter().find(|p| p.partition == 1).unwrap();
    assert_eq!((p1.committed, p1.lag), (None, None));
    let row = state.topics.iter().find(|t| t.name == "orders").unwrap();
    assert_eq!(row.log_end, 12);
    assert_eq!(row.groups, ["billing"]);
}

#[test]
fn a_consumer_that_stops_committing_warns_then_stops_and_recovers() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "clicks", 1);
    let mut state = TopicsState::new(
        src.describe(),
        None,
        LagRules {
            window: 3,
            min_samples: 3,
        },
    );
    let sample = |state: &mut TopicsState| {
        state.apply(TopicUpdate::Snapshot(src.snapshot().unwrap()));
        state
            .groups
            .iter()
            .find(|g| g.name == "forwarder")
            .map(|g| g.status)
    };
    // Producing 3 per sample, consuming 1: lag keeps growing.
    let mut committed = 0;
    let mut seen = Vec::new();
    for _ in 0..4 {
        produce(&broker, "clicks", 0, 3);
        committed += 1;
        commit(&broker, "forwarder", "clicks", 0, committed);
        seen.push(sample(&mut state));
    }
    assert_eq!(seen.last(), Some(&Some(LagStatus::Warn)), "{seen:?}");
    // Stops committing while events keep coming.
    let mut seen = Vec::new();
    for _ in 0..4 {
        produce(&broker, "clicks", 0, 2);
        seen.push(sample(&mut state));
    }
    assert_eq!(seen.last(), Some(&Some(LagStatus::Stop)), "{seen:?}");
    assert!(state.failing());
    // Catches up.
    let end = state
        .topics
        .iter()
        .find(|t| t.name == "clicks")
        .unwrap()
        .log_end;
    commit(&broker, "forwarder", "clicks", 0, end);
    assert_eq!(sample(&mut state), Some(LagStatus::Ok));
    assert!(!state.failing());
}

fn platform() -> Platform {
    Platform {
        prometheus: None,
        analysis: Default::default(),
        name: "shop".into(),
        namespace: "shop".into(),
        links: Default::default(),
        release: None,
        topic_prefix: Some("shop-".into()),
        destinations: vec![
            "Google Analytics".into(),
            "pinterest".into(),
            "redis".into(),
        ],
        custom_topics: vec!["audit".into()],
        consumers: vec![Consumer {
            workload: "deploy/router".into(),
            topics: vec!["shop-main".into()],
        }],
        kafka: None,
    }
}

#[test]
fn the_plan_and_create_missing_against_the_broker() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "shop-main", 2);
    create(&src, "unrelated", 1);
    let existing = |src: &KafkaSource| -> BTreeMap<String, i32> {
        src.snapshot()
            .unwrap()
            .topics
            .values()
            .map(|t| (t.name.clone(), t.partitions.len() as i32))
            .collect()
    };
    let replicas = |w: &str| (w == "deploy/router").then_some(2);
    let plan = TopicPlan::build(&platform(), replicas, &existing(&src));
    let missing: Vec<&str> = plan.missing().map(|t| t.name.as_str()).collect();
    assert_eq!(
        missing,
        ["shop-google-analytics", "shop-pinterest", "audit"]
    );
    assert_eq!(plan.idle_consumers.len(), 0, "2 partitions for 2 replicas");

    let created = src.create_topics(&plan.to_create(false, 1)).unwrap();
    assert!(created.iter().all(|c| c.result.is_ok()), "{created:?}");
    let after = existing(&src);
    assert_eq!(after["shop-pinterest"], 3);
    assert!(
        !after.contains_key("shop-redis"),
        "reserved without --force"
    );
    assert_eq!(after["unrelated"], 1, "nothing else is touched");
    assert_eq!(after["shop-main"], 2, "an existing topic is never changed");
    let plan = TopicPlan::build(&platform(), replicas, &after);
    assert_eq!(plan.missing().count(), 0);
    // Forced: the reserved destination too.
    let created = src.create_topics(&plan.to_create(true, 1)).unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].name, "shop-redis");
    // Creating what exists is refused by the broker, per topic.
    let again = src
        .create_topics(&[NewTopicSpec {
            name: "shop-main".into(),
            partitions: 3,
            replication_factor: 1,
        }])
        .unwrap();
    assert!(again[0].result.is_err(), "{again:?}");
    assert_eq!(existing(&src)["shop-main"], 2);
}

#[test]
fn invalid_names_are_refused_before_anything_is_sent() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    for bad in ["bad name", "..", "a/b", &"x".repeat(250)] {
        let err = src
            .create_topics(&[
                NewTopicSpec {
                    name: "fine".into(),
                    partitions: 1,
                    replication_factor: 1,
                },
                NewTopicSpec {
                    name: bad.into(),
                    partitions: 1,
                    replication_factor: 1,
                },
            ])
            .unwrap_err();
        assert!(matches!(err, TopicError::Invalid(_)), "{err}");
    }
    // The valid one of the batch was not sent either.
    assert!(!src.snapshot().unwrap().topics.contains_key("fine"));
}

#[test]
fn an_unreachable_broker_is_said() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let src = KafkaSource::new(
        Connection::bootstrap(&format!("127.0.0.1:{port}")),
        Duration::from_secs(2),
    )
    .unwrap();
    let err = src.snapshot().unwrap_err();
    assert!(matches!(err, TopicError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_includes_topic_health_and_counts_its_problems() {
    use helmdeck::cli::status::{exit_code, sample_topics};
    use helmdeck::core::cluster::ClusterState;
    use helmdeck::core::cluster::rollup::{AreaKind, Level, rollup_with_topics};
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "shop-main", 3);
    produce(&broker, "shop-main", 0, 5);
    // A group with no member that committed behind the log end and never moves: STOP.
    commit(&broker, "archiver", "shop-main", 0, 1);
    let src: std::sync::Arc<dyn TopicSource> = std::sync::Arc::new(src);
    let mut topics = sample_topics(src, Some(platform()), 3, Duration::ZERO).await;
    topics.replan(&ClusterState::default());
    let now = jiff::Timestamp::now();
    let r = rollup_with_topics(&ClusterState::default(), Some(&topics), now);
    let area = r.area(AreaKind::Topics).unwrap();
    assert_eq!(area.level, Level::Failing, "{area:?}");
    let topic_problems: Vec<&str> = r
        .problems
        .iter()
        .filter(|p| p.area == AreaKind::Topics)
        .map(|p| p.message.as_str())
        .collect();
    assert!(
        topic_problems.iter().any(|m| m.contains("archiver")),
        "{topic_problems:?}"
    );
    assert!(
        topic_problems.iter().any(|m| m.contains("shop-pinterest")),
        "a topic missing from the plan is a problem: {topic_problems:?}"
    );
    assert_eq!(exit_code(&r), 1);

    // The same cluster with no topic source: the topic problems are not counted.
    let without = rollup_with_topics(&ClusterState::default(), None, now);
    assert!(without.problems.iter().all(|p| p.area != AreaKind::Topics));
    assert_eq!(exit_code(&without), 0, "{:?}", without.problems);
}

#[test]
fn a_group_that_starts_reading_a_new_topic_is_seen_at_the_next_refresh() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "first", 2);
    create(&src, "second", 2);
    commit(&broker, "reader", "first", 1, 0);
    let s = src.snapshot().unwrap();
    let committed: Vec<_> = s.groups["reader"].committed.keys().cloned().collect();
    assert_eq!(committed, [("first".to_string(), 1)]);
    commit(&broker, "reader", "second", 0, 0);
    let s = src.snapshot().unwrap();
    let committed: Vec<_> = s.groups["reader"].committed.keys().cloned().collect();
    assert_eq!(
        committed,
        [("first".to_string(), 1), ("second".to_string(), 0)]
    );
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn a_failed_sasl_handshake_is_said_as_such_not_as_unreachable() {
    // tansu offers no SASL on its plaintext listener: the handshake fails as it would with
    // refused credentials, and the message says what to check. The password never shows.
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let mut conn = Connection::bootstrap(&broker.addr);
    conn.set("security.protocol", "SASL_PLAINTEXT");
    conn.set("sasl.mechanism", "PLAIN");
    conn.set("sasl.username", "$ConnectionString");
    conn.set(
        "sasl.password",
        "Endpoint=sb://x/;SharedAccessKey=s3cr3t-value",
    );
    let src = KafkaSource::new(conn, Duration::from_secs(3)).unwrap();
    let err = src.snapshot().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TopicError::Auth { .. }), "{text}");
    assert!(
        text.contains("SASL_PLAINTEXT handshake (sasl.mechanism PLAIN) failed")
            && text.contains("check security.protocol, sasl.mechanism and the credentials"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!src.describe().contains("s3cr3t"), "{}", src.describe());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_preflight_reads_the_topic_plan_of_the_releases_platform() {
    use helmdeck::config::{Config, KafkaConfig};
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "mr-ee-main", 3);
    let platform = Platform {
        prometheus: None,
        analysis: Default::default(),
        name: "mr-ee".into(),
        namespace: "mr-ee".into(),
        links: Default::default(),
        release: Some("ee".into()),
        topic_prefix: Some("mr-ee-".into()),
        destinations: vec!["pinterest".into()],
        custom_topics: vec![],
        consumers: vec![],
        kafka: Some(KafkaConfig {
            properties: BTreeMap::from([("bootstrap.servers".to_string(), broker.addr.clone())]),
            ..Default::default()
        }),
    };
    let config = Config {
        platforms: vec![platform],
        ..Default::default()
    };
    let check = helmdeck::cli::topics::topic_check(&config, None, None, "mr-ee", "ee")
        .await
        .expect("the platform names the release");
    assert!(
        check.problems.iter().any(|p| p.contains("mr-ee-pinterest")),
        "{:?}",
        check.problems
    );
    let plan = check.plan.expect("the plan's state").to_string();
    assert!(
        plan.contains("mr-ee-main") && plan.contains("mr-ee-pinterest"),
        "{plan}"
    );
    // Another release has no topic plan.
    assert!(
        helmdeck::cli::topics::topic_check(&config, None, None, "mr-ee", "other")
            .await
            .is_none()
    );
}

/// `helmdeck topics create --missing` never says every topic exists when it left some out:
/// with only a reserved destination missing, it lists it as not created and exits 1.
#[test]
fn create_missing_lists_what_it_did_not_create() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    for t in [
        "shop-main",
        "shop-google-analytics",
        "shop-pinterest",
        "audit",
    ] {
        create(&src, t, 3);
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("helmdeck.yaml");
    std::fs::write(
        &config,
        "platforms:\n  - name: shop\n    namespace: shop\n    topic_prefix: shop-\n    \
         destinations: [Google Analytics, pinterest, redis]\n    custom_topics: [audit]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args([
            "topics",
            "create",
            "--missing",
            "--platform",
            "shop",
            "--yes",
        ])
        .args(["--kafka", &broker.addr, "--config"])
        .arg(&config)
        .env("HOME", tmp.path())
        .env("KUBECONFIG", tmp.path().join("none"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains("every topic of the plan exists"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Nothing created; not created (see above): shop-redis"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("skipping shop-redis"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
}

/// `helmdeck topics --kafka HOST:PORT` against a closed port says so within about 2 s
/// (librdkafka alone retried for the whole 10 s timeout), naming the port and that it
/// refused the connection; exit 2, as for any broker that cannot be reached.
#[test]
fn a_closed_port_is_said_at_once_by_the_command() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(["topics", "--kafka", &format!("127.0.0.1:{port}")])
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path())
        .env("KUBECONFIG", tmp.path().join("none"))
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "127.0.0.1:{port} refused the connection (connection refused)"
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}: {stderr}");
}

/// `--samples 1`: a partition that lags cannot be judged from one sample (PENDING), and a
/// group with such a partition is not OK: it reads PENDING and the command exits 1, saying
/// why. The group's other partition, caught up, is OK.
#[test]
fn a_group_not_judged_yet_is_pending_and_exits_1() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let src = source(&broker);
    create(&src, "clicks", 2);
    produce(&broker, "clicks", 0, 4);
    produce(&broker, "clicks", 1, 4);
    commit(&broker, "billing", "clicks", 0, 4);
    commit(&broker, "billing", "clicks", 1, 1);
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(["topics", "--kafka", &broker.addr, "--samples", "1"])
        .args(["-o", "json"])
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path())
        .env("KUBECONFIG", tmp.path().join("none"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let group = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "billing")
        .unwrap_or_else(|| panic!("{stdout}"));
    let statuses: Vec<&str> = group["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Ok", "Pending"], "{stdout}");
    assert_eq!(group["status"], "Pending", "{stdout}");
    assert!(
        stderr.contains("group billing is PENDING: a partition lags"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
}
