//! Topics at scale: 1,000 topics × 6 partitions and 200 consumer groups. Prints figures,
//! asserts none (targets: a full refresh of offsets and lag < 2 s, a Topics frame < 5 ms).
//!
//! - against the sandbox's simulated source: refresh (snapshot + lag evaluation) and render;
//! - against a real broker (tansu, started here; skipped with a notice when not installed):
//!   log-end offsets batched vs one round-trip per partition, the first refresh (which learns
//!   every group's committed offsets from scratch) and steady refreshes, and render.
//!
//! `cargo bench --bench topics` (HELMDECK_TANSU=/path/to/tansu for the broker part).

use helmdeck::core::topics::kafka::KafkaSource;
use helmdeck::core::topics::tansu::Tansu;
use helmdeck::core::topics::{
    Connection, LagRules, NewTopicSpec, TopicSource, TopicUpdate, TopicsState,
};
use helmdeck::sandbox::topics::SimulatedTopics;
use helmdeck::tui::app::App;
use helmdeck::tui::keymap::{KeyMap, Screen};
use helmdeck::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

const TOPICS: usize = 1000;
const PARTITIONS: usize = 6;
const GROUPS: usize = 200;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Refreshes `n` times; prints each refresh's time (snapshot + lag evaluation).
fn refresh(label: &str, source: &dyn TopicSource, state: &mut TopicsState, n: usize) {
    for i in 0..n {
        let t = Instant::now();
        let s = source.snapshot().expect("snapshot");
        let fetched = t.elapsed();
        let commits: usize = s.groups.values().map(|g| g.committed.len()).sum();
        let notes = s.notes.clone();
        state.apply(TopicUpdate::Snapshot(s));
        println!(
            "{label}: refresh {} — {} (fetch {}, lag evaluation {}) · {} topics, {} groups, {commits} committed partitions{}",
            i + 1,
            ms(t.elapsed()),
            ms(fetched),
            ms(t.elapsed() - fetched),
            state.topics.len(),
            state.groups.len(),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" · notes: {}", notes.join("; "))
            }
        );
    }
}

fn render(label: &str, state: TopicsState) {
    let mut app = App::new(
        KeyMap::default(),
        Theme::default(),
        "bench".into(),
        None,
        false,
    );
    app.topics = Some(state);
    app.screen = Screen::Topics;
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    term.draw(|f| helmdeck::tui::views::draw(f, &mut app))
        .unwrap();
    let frames = 100;
    let t = Instant::now();
    for _ in 0..frames {
        term.draw(|f| helmdeck::tui::views::draw(f, &mut app))
            .unwrap();
    }
    println!(
        "{label}: Topics view frame (200×60) — {} average over {frames}",
        ms(t.elapsed() / frames)
    );
}

fn simulated() {
    let source = SimulatedTopics::synthetic(TOPICS, PARTITIONS, GROUPS);
    let mut state = TopicsState::new(source.describe(), None, LagRules::default());
    refresh("simulated", &source, &mut state, 3);
    render("simulated", state);
}

fn broker() {
    let Some(broker) = Tansu::for_test() else {
        return;
    };
    let conn = Connection::bootstrap(&broker.addr);
    let src = KafkaSource::new(conn, Duration::from_secs(30)).unwrap();
    let t = Instant::now();
    let names: Vec<String> = (0..TOPICS).map(|i| format!("topic-{i:04}")).collect();
    for chunk in names.chunks(100) {
        let specs: Vec<NewTopicSpec> = chunk
            .iter()
            .map(|n| NewTopicSpec {
                name: n.clone(),
                partitions: PARTITIONS as i32,
                replication_factor: 1,
            })
            .collect();
        let created = src.create_topics(&specs).unwrap();
        assert!(created.iter().all(|c| c.result.is_ok()), "{created:?}");
    }
    println!(
        "broker: created {TOPICS} topics × {PARTITIONS} partitions in {}",
        ms(t.elapsed())
    );
    // Each group commits on one topic's partitions (without joining).
    let t = Instant::now();
    for g in 0..GROUPS {
        use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
        let c: BaseConsumer = rdkafka::config::ClientConfig::new()
            .set("bootstrap.servers", &broker.addr)
            .set("group.id", format!("group-{g:03}"))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = rdkafka::TopicPartitionList::new();
        for p in 0..PARTITIONS as i32 {
            tpl.add_partition_offset(&names[g % TOPICS], p, rdkafka::Offset::Offset(0))
                .unwrap();
        }
        c.commit(&tpl, CommitMode::Sync).unwrap();
    }
    println!("broker: {GROUPS} groups committed in {}", ms(t.elapsed()));

    let sample: Vec<(String, i32)> = names[..100]
        .iter()
        .flat_map(|n| (0..PARTITIONS as i32).map(move |p| (n.clone(), p)))
        .collect();
    let t = Instant::now();
    src.log_ends(&sample).unwrap();
    let batched = t.elapsed();
    let t = Instant::now();
    src.log_ends_one_by_one(&sample).unwrap();
    println!(
        "broker: log-end offsets of {} partitions — batched (offsets_for_times) {}, one fetch_watermarks per partition {}",
        sample.len(),
        ms(batched),
        ms(t.elapsed())
    );
    let mut state = TopicsState::new(src.describe(), None, LagRules::default());
    refresh("broker", &src, &mut state, 3);
    render("broker", state);
}

fn main() {
    println!(
        "topics benchmark: {TOPICS} topics × {PARTITIONS} partitions, {GROUPS} groups (targets: refresh < 2 s, frame < 5 ms)"
    );
    simulated();
    broker();
}
