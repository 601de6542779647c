//! The topic source for a Kafka-protocol broker, through librdkafka (rdkafka).
//!
//! One refresh is a handful of batched requests, never one round-trip per partition:
//! metadata (one request), log-end offsets for every partition at once (`offsets_for_times`
//! with "latest": one ListOffsets per leader broker), the group list with members (ListGroups
//! and DescribeGroups), and per group one OffsetFetch (the admin API's
//! ListConsumerGroupOffsets, which never joins the group or triggers a rebalance), all groups'
//! requests sent at once on one queue of the main client.
//!
//! The OffsetFetch carries no topic list, so the broker answers with the partitions the group
//! committed on, and nothing else: asking is as cheap at 6,000 partitions as at 6, and a group
//! that starts consuming a new topic is seen at the next refresh (within 1 refresh). A broker
//! that refuses such a request (OffsetFetch older than v2) is asked, from then on, for the
//! partitions of the topics each group is assigned or committed on, and every `DISCOVER_EVERY`
//! refreshes for every partition (there a new topic is found within `DISCOVER_EVERY`
//! refreshes, or at once when a member is assigned it).

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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Only for brokers that refuse an OffsetFetch without a topic list: every how many
/// refreshes a group is asked about every topic, to find topics it started reading (between
/// those, only its assigned and already-committed topics are asked).
pub const DISCOVER_EVERY: u64 = 12;

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

/// A Kafka-protocol broker (Kafka, Event Hubs, tansu, Redpanda…).
pub struct KafkaSource {
    conn: Connection,
    context: ErrorContext,
    client: Client,
    timeout: Duration,
    /// Topics each group had commits on at the last refresh (for the fallback).
    group_topics: Mutex<HashMap<String, BTreeSet<String>>>,
    /// The broker refused an OffsetFetch without a topic list: ask for partitions instead.
    partitions_only: AtomicBool,
    refreshes: AtomicU64,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("conn", &self.conn)
            .finish()
    }
}

/// The client settings: the connection's properties, and never a commit. No `group.id`: the
/// source reads groups' committed offsets through the admin API and never joins a group (a
/// `-X group.id=…` property still passes through, as any other).
fn config(conn: &Connection) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in conn.properties() {
        c.set(k, v);
    }
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    c.set_log_level(RDKafkaLogLevel::Warning);
    c
}

/// How long the first refresh waits for a bootstrap server to accept a TCP connection before
/// it says the brokers cannot be reached (librdkafka would retry for its whole timeout).
pub const CONNECT_PROBE: Duration = Duration::from_secs(2);

/// Tries a TCP connection to each bootstrap server (`host:port`, `PROTOCOL://host:port`, a
/// bare host on 9092 as librdkafka takes it) until one accepts, within `limit` in all. The
/// error names every server and why: `127.0.0.1:9 refused the connection (connection
/// refused)`, `kafka.example:9092: cannot resolve the host (…)`, `… did not accept a
/// connection within 2s`. A list it cannot read is left to librdkafka (Ok).
pub fn probe_bootstrap(servers: &str, limit: Duration) -> Result<(), String> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let deadline = std::time::Instant::now() + limit;
    let mut failures = Vec::new();
    for server in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let address = server.split_once("://").map_or(server, |(_, rest)| rest);
        let address = match address.rsplit_once(':') {
            _ if address.parse::<SocketAddr>().is_ok() => address.to_string(),
            Some((host, port))
                if !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok() =>
            {
                address.to_string()
            }
            None if !address.is_empty() => format!("{address}:9092"),
            // An IPv6 address without brackets, or something else librdkafka may read.
            _ => return Ok(()),
        };
        let addrs: Vec<SocketAddr> = match address.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                failures.push(format!("{address}: cannot resolve the host ({e})"));
                continue;
            }
        };
        for addr in addrs {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                failures.push(format!(
                    "{address} did not accept a connection within {limit:?}"
                ));
                break;
            }
            match std::net::TcpStream::connect_timeout(&addr, left) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    failures.push(format!(
                        "{address} refused the connection (connection refused)"
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    failures.push(format!(
                        "{address} did not accept a connection within {limit:?}"
                    ));
                }
                Err(e) => failures.push(format!("{address}: {e}")),
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        failures.dedup();
        Err(failures.join("; "))
    }
}

/// Whether the first bootstrap server accepts a TCP connection (within a second).
fn accepts_connections(servers: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Some(first) = servers.split(',').map(str::trim).find(|s| !s.is_empty()) else {
        return false;
    };
    let Ok(addrs) = first.to_socket_addrs() else {
        return false;
    };
    addrs.into_iter().any(|a| {
        std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(1)).is_ok()
    })
}

impl KafkaSource {
    /// Creates the client (no request is sent until the first refresh).
    pub fn new(conn: Connection, timeout: Duration) -> Result<KafkaSource, TopicError> {
        let context = ErrorContext::default();
        let client: Client = config(&conn)
            .create_with_context(context.clone())
            .map_err(|e| TopicError::Invalid(format!("Kafka settings: {e}")))?;
        Ok(KafkaSource {
            conn,
            context,
            client,
            timeout,
            partitions_only: AtomicBool::new(false),
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
            return TopicError::Auth { servers, message };
        }
        // librdkafka often reports a failed SASL or TLS handshake as a transport failure.
        // When the settings ask for one and the broker does accept connections, the
        // handshake is what failed: say so, rather than "cannot reach".
        let protocol = self
            .conn
            .get("security.protocol")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        if protocol != "PLAINTEXT" && accepts_connections(&servers) {
            let mechanism = self.conn.get("sasl.mechanism").unwrap_or("GSSAPI");
            let what_failed = if protocol.starts_with("SASL") {
                format!("the {protocol} handshake (sasl.mechanism {mechanism}) failed")
            } else {
                format!("the {protocol} handshake failed")
            };
            return TopicError::Auth {
                servers: servers.clone(),
                message: format!(
                    "the broker accepts connections, but {what_failed}: check security.protocol, sasl.mechanism and the credentials, or whether the broker offers that protocol on this port ({message})"
                ),
            };
        }
        TopicError::Unreachable { servers, message }
    }

    /// The partition count of every topic (one metadata request for all topics: asking
    /// for one topic by name could create it on a broker that auto-creates topics).
    pub fn partition_counts(&self) -> Result<BTreeMap<String, i32>, TopicError> {
        let md = self
            .client
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.failure("metadata", e))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect())
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
}

/// What to ask a group for in [`KafkaSource::list_group_offsets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Every offset the group committed (OffsetFetch with no topic list: one cheap request
    /// whatever the number of topics on the broker).
    All,
    /// Only these partitions.
    Partitions(Vec<(String, i32)>),
}

/// The committed offsets of one group, or the error the broker gave for it.
pub type GroupOffsets = Result<BTreeMap<(String, i32), i64>, String>;

impl KafkaSource {
    /// Committed offsets of many groups at once: one ListConsumerGroupOffsets (OffsetFetch)
    /// per group, all sent together on one admin queue of the main client, so no consumer is
    /// created per group and no group is joined. Partitions without a commit are left out.
    pub fn list_group_offsets(&self, requests: &[(String, Wanted)]) -> Vec<(String, GroupOffsets)> {
        use rdkafka::bindings as rd;
        use std::ffi::{CStr, CString};
        let rk = self.client.client().native_ptr();
        let mut out: Vec<(String, GroupOffsets)> = Vec::with_capacity(requests.len());
        if requests.is_empty() {
            return out;
        }
        let text = |p: *const std::ffi::c_char| -> String {
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: librdkafka returns NUL-terminated strings that live as long as
                // the event they come from, which is still alive here.
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        let timeout_ms = self.timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: every handle created here is destroyed before returning; `rk` stays valid
        // for as long as `self.client` does.
        unsafe {
            let queue = rd::rd_kafka_queue_new(rk);
            let options = rd::rd_kafka_AdminOptions_new(
                rk,
                rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            );
            let mut errstr = [0 as std::ffi::c_char; 256];
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options,
                timeout_ms,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            let mut sent = 0usize;
            for (group, wanted) in requests {
                let Ok(cgroup) = CString::new(group.as_str()) else {
                    out.push((group.clone(), Err("group name contains NUL".into())));
                    continue;
                };
                let tpl = match wanted {
                    Wanted::All => None,
                    Wanted::Partitions(ps) => {
                        if ps.is_empty() {
                            out.push((group.clone(), Ok(BTreeMap::new())));
                            continue;
                        }
                        let mut tpl = TopicPartitionList::with_capacity(ps.len());
                        for (t, p) in ps {
                            tpl.add_partition(t, *p);
                        }
                        Some(tpl)
                    }
                };
                let mut req = rd::rd_kafka_ListConsumerGroupOffsets_new(
                    cgroup.as_ptr(),
                    tpl.as_ref()
                        .map_or(std::ptr::null(), |t| t.ptr() as *const _),
                );
                rd::rd_kafka_ListConsumerGroupOffsets(rk, &mut req, 1, options, queue);
                rd::rd_kafka_ListConsumerGroupOffsets_destroy(req);
                sent += 1;
            }
            let deadline = std::time::Instant::now() + self.timeout + Duration::from_secs(1);
            let mut answered = std::collections::HashSet::new();
            while answered.len() < sent {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let ev = rd::rd_kafka_queue_poll(queue, left.as_millis().min(1000) as i32);
                if ev.is_null() {
                    continue;
                }
                let result = rd::rd_kafka_event_ListConsumerGroupOffsets_result(ev);
                let failed = rd::rd_kafka_event_error(ev)
                    != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR;
                if result.is_null() || failed {
                    // A request-level failure names no group: it is reported below as
                    // unanswered for whichever group it was.
                    tracing::debug!(
                        error = text(rd::rd_kafka_event_error_string(ev)),
                        "list group offsets"
                    );
                    rd::rd_kafka_event_destroy(ev);
                    continue;
                }
                let mut n = 0usize;
                let groups = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut n);
                for i in 0..n {
                    let g = *groups.add(i);
                    let name = text(rd::rd_kafka_group_result_name(g));
                    let err = rd::rd_kafka_group_result_error(g);
                    let r = if !err.is_null() {
                        Err(text(rd::rd_kafka_error_string(err)))
                    } else {
                        let mut offsets = BTreeMap::new();
                        let parts = rd::rd_kafka_group_result_partitions(g);
                        if !parts.is_null() {
                            let parts = &*parts;
                            for j in 0..parts.cnt.max(0) as usize {
                                let e = &*parts.elems.add(j);
                                if e.err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                                    && e.offset >= 0
                                {
                                    offsets.insert((text(e.topic), e.partition), e.offset);
                                }
                            }
                        }
                        Ok(offsets)
                    };
                    answered.insert(name.clone());
                    out.push((name, r));
                }
                rd::rd_kafka_event_destroy(ev);
            }
            rd::rd_kafka_AdminOptions_destroy(options);
            rd::rd_kafka_queue_destroy(queue);
            for (group, wanted) in requests {
                let skipped = matches!(wanted, Wanted::Partitions(p) if p.is_empty());
                if !skipped && !answered.contains(group) && !out.iter().any(|(g, _)| g == group) {
                    out.push((group.clone(), Err("no answer in time".into())));
                }
            }
        }
        out
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
        // Before the first request: a closed port or an unknown host is said at once, not
        // after librdkafka has retried for the whole timeout.
        let configured = self
            .conn
            .get("bootstrap.servers")
            .or_else(|| self.conn.get("metadata.broker.list"));
        if round == 0
            && let Some(servers) = configured
            && let Err(message) = probe_bootstrap(servers, CONNECT_PROBE.min(self.timeout))
        {
            // Asked again at the next refresh.
            self.refreshes.store(0, Ordering::Relaxed);
            return Err(TopicError::Unreachable {
                servers: servers.to_string(),
                message,
            });
        }
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
        // Committed offsets: one request per group, all at once.
        let names: Vec<String> = groups.keys().cloned().collect();
        let mut results = Vec::new();
        let mut refused = false;
        if !self.partitions_only.load(Ordering::Relaxed) {
            let requests: Vec<(String, Wanted)> =
                names.iter().map(|g| (g.clone(), Wanted::All)).collect();
            results = self.list_group_offsets(&requests);
            refused = !results.is_empty() && results.iter().all(|(_, r)| r.is_err());
        }
        if refused || self.partitions_only.load(Ordering::Relaxed) {
            let known = self.group_topics.lock().clone();
            let requests: Vec<(String, Wanted)> = names
                .iter()
                .map(|g| {
                    let mut w: BTreeSet<&String> = groups[g].assigned.keys().collect();
                    match known.get(g) {
                        Some(k) if !round.is_multiple_of(DISCOVER_EVERY) => w.extend(k),
                        _ => w.extend(topics.keys()),
                    }
                    let partitions = w
                        .into_iter()
                        .filter_map(|t| topics.get(t))
                        .flat_map(|m| m.partitions.iter().map(|p| (m.name.clone(), p.id)))
                        .collect();
                    (g.clone(), Wanted::Partitions(partitions))
                })
                .collect();
            results = self.list_group_offsets(&requests);
            if refused && results.iter().any(|(_, r)| r.is_ok()) {
                tracing::debug!("OffsetFetch without topics refused; asking for partitions");
                self.partitions_only.store(true, Ordering::Relaxed);
            }
        }
        let mut failures = Vec::new();
        let mut group_topics = HashMap::new();
        for (name, r) in results {
            match r {
                Ok(mut c) => {
                    // Commits on topics deleted since are not shown.
                    c.retain(|(t, _), _| topics.contains_key(t));
                    group_topics.insert(
                        name.clone(),
                        c.keys().map(|(t, _)| t.clone()).collect::<BTreeSet<_>>(),
                    );
                    if let Some(g) = groups.get_mut(&name) {
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
        let admin: AdminClient<ErrorContext> = config(&self.conn)
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

    /// A port nobody listens on (bound, then let go).
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn a_closed_port_is_said_at_once() {
        let port = closed_port();
        let started = std::time::Instant::now();
        let err = probe_bootstrap(&format!("127.0.0.1:{port}"), CONNECT_PROBE).unwrap_err();
        assert_eq!(
            err,
            format!("127.0.0.1:{port} refused the connection (connection refused)")
        );
        // Every server is named; the protocol prefix is not part of the address.
        let other = closed_port();
        let err = probe_bootstrap(
            &format!("PLAINTEXT://127.0.0.1:{port}, 127.0.0.1:{other}"),
            CONNECT_PROBE,
        )
        .unwrap_err();
        assert!(
            err.contains(&format!("127.0.0.1:{port} refused"))
                && err.contains(&format!("127.0.0.1:{other} refused")),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        // One server that answers is enough.
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = open.local_addr().unwrap().port();
        assert_eq!(
            probe_bootstrap(&format!("127.0.0.1:{port},127.0.0.1:{open}"), CONNECT_PROBE),
            Ok(())
        );
        // What it cannot read is left to librdkafka.
        assert_eq!(probe_bootstrap("::1", CONNECT_PROBE), Ok(()));

        // The source's first refresh says so within the probe's time, not the timeout's.
        let source = KafkaSource::new(
            Connection::bootstrap(&format!("127.0.0.1:{port}")),
            Duration::from_secs(10),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let err = source.snapshot().unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{err}");
        assert!(
            matches!(&err, TopicError::Unreachable { message, .. } if message.contains("connection refused")),
            "{err}"
        );
    }

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
