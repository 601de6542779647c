//! The topic source for a Kafka-protocol broker, through librdkafka (rdkafka).
//!
//! One refresh is a handful of batched requests, never one round-trip per partition:
//! metadata (one request), log-end offsets for every partition at once (`offsets_for_times`
//! with "latest": one ListOffsets per leader broker), the group list with members (ListGroups
//! and DescribeGroups), and per group one OffsetFetch for the partitions of the topics it
//! reads, through a consumer that carries the group's id but never subscribes (so it never
//! joins the group or triggers a rebalance). Those consumers are kept between refreshes and
//! queried from a few threads at once.

use super::connection::Connection;
use super::model::{GroupMeta, NewTopicSpec, PartitionMeta, Snapshot, TopicMeta};
use super::names::validate_topic_name;
use super::source::{Created, TopicError, TopicSource};
use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Every how many refreshes a group is asked about every topic, to find topics it started
/// reading (between those, only its assigned and already-committed topics are asked).
pub const DISCOVER_EVERY: u64 = 12;
/// Threads asking groups for their committed offsets at once.
pub const GROUP_THREADS: usize = 8;

/// Keeps the last error librdkafka reported (authentication failures arrive this way).
#[derive(Default, Clone)]
pub struct ErrorContext {
    last: Arc<Mutex<Option<String>>>,
}

impl ClientContext for ErrorContext {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, reason, "kafka client error");
        *self.last.lock() = Some(reason.to_string());
    }
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(?level, fac, log_message, "librdkafka");
    }
}
impl ConsumerContext for ErrorContext {}

type Client = BaseConsumer<ErrorContext>;
/// Committed offsets of one group, by its index, as the threads report them.
type GroupResults = Vec<(usize, Result<BTreeMap<(String, i32), i64>, TopicError>)>;

/// A Kafka-protocol broker (Kafka, Event Hubs, tansu, Redpanda…).
pub struct KafkaSource {
    conn: Connection,
    context: ErrorContext,
    client: Client,
    timeout: Duration,
    groups: Mutex<HashMap<String, Arc<Client>>>,
    /// Topics each group had commits on at the last refresh.
    group_topics: Mutex<HashMap<String, BTreeSet<String>>>,
    refreshes: AtomicU64,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("conn", &self.conn)
            .finish()
    }
}

fn config(conn: &Connection, context_group: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in conn.properties() {
        c.set(k, v);
    }
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    if let Some(g) = context_group {
        c.set("group.id", g);
    }
    c.set_log_level(RDKafkaLogLevel::Warning);
    c
}

impl KafkaSource {
    /// Creates the client (no request is sent until the first refresh).
    pub fn new(conn: Connection, timeout: Duration) -> Result<KafkaSource, TopicError> {
        let context = ErrorContext::default();
        let client: Client = config(&conn, None)
            .create_with_context(context.clone())
            .map_err(|e| TopicError::Invalid(format!("Kafka settings: {e}")))?;
        Ok(KafkaSource {
            conn,
            context,
            client,
            timeout,
            groups: Mutex::new(HashMap::new()),
            group_topics: Mutex::new(HashMap::new()),
            refreshes: AtomicU64::new(0),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Turns a client error into what a user should read: unreachable, or refused
    /// credentials, with what librdkafka last said.
    fn failure(&self, what: &str, e: KafkaError) -> TopicError {
        let last = self.context.last.lock().clone();
        let message = match &last {
            Some(l) => format!("{what}: {e} ({l})"),
            None => format!("{what}: {e}"),
        };
        let servers = self.conn.servers().to_string();
        let auth = last.as_deref().unwrap_or("").to_ascii_lowercase();
        if auth.contains("sasl")
            || auth.contains("authentication")
            || auth.contains("ssl handshake")
        {
            TopicError::Auth { servers, message }
        } else {
            TopicError::Unreachable { servers, message }
        }
    }

    fn group_client(&self, group: &str) -> Result<Arc<Client>, TopicError> {
        if let Some(c) = self.groups.lock().get(group) {
            return Ok(c.clone());
        }
        let c: Client = config(&self.conn, Some(group))
            .create_with_context(self.context.clone())
            .map_err(|e| TopicError::Other(format!("consumer for group {group}: {e}")))?;
        let c = Arc::new(c);
        self.groups.lock().insert(group.to_string(), c.clone());
        Ok(c)
    }

    /// The log-end offset of every partition, in one batched request per leader.
    pub fn log_ends(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<HashMap<(String, i32), i64>, KafkaError> {
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for (t, p) in partitions {
            tpl.add_partition_offset(t, *p, Offset::End)?;
        }
        let out = self.client.offsets_for_times(tpl, self.timeout)?;
        Ok(out
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect())
    }

    /// The same, one `fetch_watermarks` round-trip per partition (for comparison in the
    /// benchmark only).
    pub fn log_ends_one_by_one(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<HashMap<(String, i32), i64>, KafkaError> {
        let mut out = HashMap::new();
        for (t, p) in partitions {
            let (_, high) = self.client.fetch_watermarks(t, *p, self.timeout)?;
            out.insert((t.clone(), *p), high);
        }
        Ok(out)
    }

    fn committed(
        &self,
        group: &str,
        topics: &BTreeMap<String, TopicMeta>,
        wanted: &BTreeSet<String>,
    ) -> Result<BTreeMap<(String, i32), i64>, TopicError> {
        let client = self.group_client(group)?;
        let mut tpl = TopicPartitionList::new();
        for t in wanted {
            if let Some(meta) = topics.get(t) {
                for p in &meta.partitions {
                    tpl.add_partition(t, p.id);
                }
            }
        }
        if tpl.count() == 0 {
            return Ok(BTreeMap::new());
        }
        let out = client
            .committed_offsets(tpl, self.timeout)
            .map_err(|e| self.failure(&format!("committed offsets of {group}"), e))?;
        Ok(out
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) if o >= 0 => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect())
    }
}

/// Decodes a consumer-protocol assignment: topic → partitions.
pub fn decode_assignment(bytes: &[u8]) -> BTreeMap<String, Vec<i32>> {
    fn take<const N: usize>(b: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = b.split_at_checked(N)?;
        *b = rest;
        head.try_into().ok()
    }
    let mut out = BTreeMap::new();
    let mut b = bytes;
    let parse = |b: &mut &[u8], out: &mut BTreeMap<String, Vec<i32>>| -> Option<()> {
        let _version = i16::from_be_bytes(take::<2>(b)?);
        let topics = i32::from_be_bytes(take::<4>(b)?);
        for _ in 0..topics.max(0) {
            let len = i16::from_be_bytes(take::<2>(b)?).max(0) as usize;
            let (name, rest) = b.split_at_checked(len)?;
            *b = rest;
            let name = String::from_utf8_lossy(name).into_owned();
            let n = i32::from_be_bytes(take::<4>(b)?);
            let mut parts = Vec::new();
            for _ in 0..n.max(0) {
                parts.push(i32::from_be_bytes(take::<4>(b)?));
            }
            out.insert(name, parts);
        }
        Some(())
    };
    let _ = parse(&mut b, &mut out);
    out
}

impl TopicSource for KafkaSource {
    fn describe(&self) -> String {
        format!("kafka {}", self.conn.summary())
    }

    fn snapshot(&self) -> Result<Snapshot, TopicError> {
        let round = self.refreshes.fetch_add(1, Ordering::Relaxed);
        *self.context.last.lock() = None;
        let md = self
            .client
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.failure("metadata", e))?;
        let mut notes = Vec::new();
        let mut topics: BTreeMap<String, TopicMeta> = BTreeMap::new();
        let mut all_partitions = Vec::new();
        for t in md.topics() {
            if t.name().starts_with("__") {
                continue;
            }
            let partitions: Vec<PartitionMeta> = t
                .partitions()
                .iter()
                .map(|p| PartitionMeta {
                    id: p.id(),
                    leader: if p.error().is_some() { -1 } else { p.leader() },
                    replicas: p.replicas().len(),
                    isr: p.isr().len(),
                    log_end: None,
                })
                .collect();
            for p in &partitions {
                all_partitions.push((t.name().to_string(), p.id));
            }
            topics.insert(
                t.name().to_string(),
                TopicMeta {
                    name: t.name().to_string(),
                    partitions,
                    error: t.error().map(|e| format!("{e:?}")),
                },
            );
        }
        match self.log_ends(&all_partitions) {
            Ok(ends) => {
                for t in topics.values_mut() {
                    for p in &mut t.partitions {
                        p.log_end = ends.get(&(t.name.clone(), p.id)).copied();
                    }
                }
            }
            Err(e) if all_partitions.is_empty() => tracing::debug!(%e, "no partitions"),
            Err(e) => return Err(self.failure("log-end offsets", e)),
        }
        let mut groups = BTreeMap::new();
        match self.client.fetch_group_list(None, self.timeout) {
            Ok(list) => {
                for g in list.groups() {
                    if !(g.protocol_type() == "consumer" || g.protocol_type().is_empty()) {
                        continue;
                    }
                    let mut assigned: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                    for m in g.members() {
                        for (t, ps) in decode_assignment(m.assignment().unwrap_or_default()) {
                            assigned.entry(t).or_default().extend(ps);
                        }
                    }
                    groups.insert(
                        g.name().to_string(),
                        GroupMeta {
                            name: g.name().to_string(),
                            state: g.state().to_string(),
                            members: g.members().len(),
                            assigned,
                            committed: BTreeMap::new(),
                        },
                    );
                }
            }
            Err(e) => notes.push(format!("the broker does not list consumer groups: {e}")),
        }
        // Committed offsets, a few groups at a time.
        let names: Vec<String> = groups.keys().cloned().collect();
        let known = self.group_topics.lock().clone();
        let all_topics: BTreeSet<String> = topics.keys().cloned().collect();
        let wanted: Vec<BTreeSet<String>> = names
            .iter()
            .map(|g| {
                let mut w: BTreeSet<String> = groups[g].assigned.keys().cloned().collect();
                match known.get(g) {
                    Some(k) if !round.is_multiple_of(DISCOVER_EVERY) => w.extend(k.iter().cloned()),
                    _ => w.extend(all_topics.iter().cloned()),
                }
                w
            })
            .collect();
        let next = AtomicUsize::new(0);
        let results: Mutex<GroupResults> = Mutex::new(Vec::with_capacity(names.len()));
        std::thread::scope(|scope| {
            for _ in 0..GROUP_THREADS.min(names.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(g) = names.get(i) else {
                            break;
                        };
                        let r = self.committed(g, &topics, &wanted[i]);
                        results.lock().push((i, r));
                    }
                });
            }
        });
        let mut failures = Vec::new();
        let mut group_topics = HashMap::new();
        for (i, r) in results.into_inner() {
            let name = &names[i];
            match r {
                Ok(c) => {
                    group_topics.insert(
                        name.clone(),
                        c.keys().map(|(t, _)| t.clone()).collect::<BTreeSet<_>>(),
                    );
                    if let Some(g) = groups.get_mut(name) {
                        g.committed = c;
                    }
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        if !failures.is_empty() {
            notes.push(format!(
                "committed offsets unavailable for {} groups ({})",
                failures.len(),
                failures.first().cloned().unwrap_or_default()
            ));
        }
        *self.group_topics.lock() = group_topics;
        // Forget consumers of groups that are gone.
        self.groups.lock().retain(|g, _| groups.contains_key(g));
        Ok(Snapshot {
            at_ms: jiff::Timestamp::now().as_millisecond(),
            topics,
            groups,
            brokers: md.brokers().len(),
            notes,
        })
    }

    fn create_topics(&self, specs: &[NewTopicSpec]) -> Result<Vec<Created>, TopicError> {
        for s in specs {
            validate_topic_name(&s.name).map_err(|e| TopicError::Invalid(e.to_string()))?;
            if s.partitions < 1 {
                return Err(TopicError::Invalid(format!(
                    "topic {}: at least one partition is needed",
                    s.name
                )));
            }
        }
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let admin: AdminClient<ErrorContext> = config(&self.conn, None)
            .create_with_context(self.context.clone())
            .map_err(|e| TopicError::Invalid(format!("Kafka settings: {e}")))?;
        let new: Vec<NewTopic> = specs
            .iter()
            .map(|s| {
                NewTopic::new(
                    &s.name,
                    s.partitions,
                    TopicReplication::Fixed(s.replication_factor),
                )
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(self.timeout));
        let results = futures::executor::block_on(admin.create_topics(&new, &opts))
            .map_err(|e| self.failure("create topics", e))?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                Ok(name) => Created {
                    name,
                    result: Ok(()),
                },
                Err((name, code)) => Created {
                    name,
                    result: Err(code.to_string()),
                },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_decode() {
        let mut b = vec![0, 0, 0, 0, 0, 2];
        for (t, ps) in [("a", vec![0i32, 2]), ("bb", vec![1])] {
            b.extend((t.len() as i16).to_be_bytes());
            b.extend(t.as_bytes());
            b.extend((ps.len() as i32).to_be_bytes());
            for p in ps {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend(0i32.to_be_bytes());
        let a = decode_assignment(&b);
        assert_eq!(a["a"], [0, 2]);
        assert_eq!(a["bb"], [1]);
        // Truncated or empty input gives what could be read, never a panic.
        assert!(decode_assignment(&[]).is_empty());
        assert_eq!(decode_assignment(&b[..12]).len(), 0);
    }
}
