//! The console's runtime: the terminal, the event loop (keys | cluster updates | task
//! results | tick → update → draw), and the effects the app asks for, each run on a
//! background task so the UI thread never waits on the network.

use crate::core::cluster::watch::{WatchHandle, client_for, spawn_watches};
use crate::core::cluster::{ClusterUpdate, Key, WorkloadKind, actions};
use crate::tui::app::{App, ContainerInfo, Effect, Msg, ScaleInfo};
use crate::tui::keymap::KeyMap;
use crate::tui::keys::Keys;
use crate::tui::terminal::{Tui, install_panic_hook};
use crate::tui::theme::Theme;
use crate::tui::views;
use crossterm::event::Event;
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Gives freed heap back to the system now and then. glibc keeps what its per-thread arenas
/// freed (a 50,000-pod list leaves much garbage on the watch threads); without this the
/// resident size reflects the worst burst, not what the console holds.
pub struct MemoryTrimmer {
    last: std::time::Instant,
    /// Rows changed since the last trim.
    rows: usize,
}

impl Default for MemoryTrimmer {
    fn default() -> Self {
        MemoryTrimmer {
            last: std::time::Instant::now(),
            rows: 0,
        }
    }
}

impl MemoryTrimmer {
    /// Counts the rows an applied update changed ([`ClusterUpdate::rows`]).
    pub fn note(&mut self, rows: usize) {
        self.rows += rows;
    }

    /// Trims when at least 5 s passed and 20 rows changed since the last trim (a first
    /// list of 50,000 pods is one update, and leaves the most garbage).
    pub fn maybe_trim(&mut self) {
        if self.rows < 20 || self.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.rows = 0;
        self.last = std::time::Instant::now();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        tokio::task::spawn_blocking(|| {
            // SAFETY: malloc_trim only returns free pages to the kernel.
            unsafe { libc::malloc_trim(0) };
        });
    }
}

/// How the console starts.
pub struct Options {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    /// `--readonly`: every context is read-only.
    pub readonly: bool,
    pub config: crate::config::Config,
    pub theme: Theme,
    pub keymap: KeyMap,
    /// Where topics and consumer lag come from, if anywhere.
    pub topics: Option<TopicFeed>,
    /// How upgrades and rollbacks are made (driver, chart repository, timeout, directories).
    pub changes: crate::tui::changes::ChangeSettings,
    /// The screen to open at launch (`--command`), else the Overview.
    pub screen: Option<crate::tui::keymap::Screen>,
}

/// A topic source and the platform whose plan it is checked against.
pub struct TopicFeed {
    pub source: std::sync::Arc<dyn crate::core::topics::TopicSource>,
    pub platform: Option<crate::config::Platform>,
}

/// A key that follows another within this gap is taken before the next frame is drawn (a
/// person types a key every 50 ms or more; a paste or a fast typist is faster)…
const KEY_BURST_GAP: Duration = Duration::from_millis(3);
/// …for at most this long, so a stream of keys still sees frames.
const KEY_BURST_MAX: Duration = Duration::from_millis(50);

/// How often the topic source is polled. Kafka has no watch for offsets (committed offsets
/// and log-end offsets are only ever asked for), so unlike the cluster's data, which comes
/// from watches, topics are sampled; the lag status is judged over a window of samples.
pub const TOPICS_EVERY: Duration = Duration::from_secs(5);

/// Polls the topic source off the UI thread and sends each refresh to the app loop.
async fn poll_topics(
    source: std::sync::Arc<dyn crate::core::topics::TopicSource>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    use crate::core::topics::TopicUpdate;
    loop {
        let s = source.clone();
        let update = match tokio::task::spawn_blocking(move || s.snapshot()).await {
            Ok(Ok(snapshot)) => TopicUpdate::Snapshot(snapshot),
            Ok(Err(e)) => TopicUpdate::Error(e.to_string()),
            Err(e) => TopicUpdate::Error(format!("topic refresh failed: {e}")),
        };
        if tx.send(Msg::Topics(update)).is_err() {
            return;
        }
        tokio::time::sleep(TOPICS_EVERY).await;
    }
}

/// How often the backups' ages are listed (`backup_every`). A backup location cannot be
/// watched; one directory read or one object listing a minute.
pub const BACKUP_AGES_EVERY: Duration = Duration::from_secs(60);

/// Lists when each release was last backed up, every [`BACKUP_AGES_EVERY`].
async fn poll_backup_ages(
    location: std::path::PathBuf,
    every: Duration,
    tx: mpsc::UnboundedSender<Msg>,
) {
    use crate::core::releases::backup_store::{BackupAges, BackupStore, newest_by_release};
    let store = BackupStore::parse(&location.to_string_lossy());
    loop {
        let newest = match &store {
            Ok(s) => newest_by_release(s).await.map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        };
        if tx
            .send(Msg::BackupAges(BackupAges { every, newest }))
            .is_err()
        {
            return;
        }
        tokio::time::sleep(BACKUP_AGES_EVERY).await;
    }
}

struct Connection {
    client: kube::Client,
    _watches: WatchHandle,
    updates: mpsc::Receiver<ClusterUpdate>,
}

async fn connect(opts: &Options, context: Option<&str>) -> anyhow::Result<(Connection, String)> {
    let (client, ctx) = client_for(opts.kubeconfig.as_deref(), context).await?;
    let (tx, updates) = mpsc::channel(256);
    let watches = spawn_watches(client.clone(), opts.namespace.clone(), tx);
    Ok((
        Connection {
            client,
            _watches: watches,
            updates,
        },
        ctx,
    ))
}

/// The config the inventory reads: the console's, with the platform of the topic feed
/// (the demo's) when the config names no platform.
fn inventory_config(opts: &Options) -> crate::config::Config {
    let mut config = opts.config.clone();
    if config.platforms.is_empty()
        && let Some(p) = opts.topics.as_ref().and_then(|t| t.platform.clone())
    {
        config.platforms.push(p);
    }
    config
}

/// The context names of the kubeconfig in use.
fn context_names(path: Option<&std::path::Path>) -> Vec<String> {
    let kc = match path {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok(),
        None => kube::config::Kubeconfig::read().ok(),
    };
    kc.map(|k| k.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

/// Runs the console until the user quits. The terminal is restored on every exit.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    let (mut conn, ctx) = connect(&opts, opts.context.as_deref()).await?;
    install_panic_hook();
    let mut tui = Tui::enter()?;
    let result = event_loop(&mut tui, &opts, &mut conn, ctx).await;
    tui.exit()?;
    result
}

async fn event_loop(
    tui: &mut Tui,
    opts: &Options,
    conn: &mut Connection,
    ctx: String,
) -> anyhow::Result<()> {
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<Msg>();
    let mut console = Console::start(opts, ctx, msg_tx);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut trimmer = MemoryTrimmer::default();
    loop {
        if console.dirty {
            console.app.now = jiff::Timestamp::now();
            tui.draw(|f| views::draw(f, &mut console.app))?;
            console.dirty = false;
        }
        let input = console
            .next_input(conn, &mut msg_rx, &mut tick, &mut trimmer)
            .await?;
        if input.suspend {
            console.suspend(tui)?;
        }
        for effect in input.effects {
            console.run_effect(effect, tui, conn).await?;
        }
        if console.app.quit {
            return Ok(());
        }
    }
}

/// The console between two turns of its loop: the app, where its tasks send their
/// results, the key reader, and the tasks it started (stopped when it ends, on every path).
struct Console<'a> {
    opts: &'a Options,
    app: App,
    msg_tx: mpsc::UnboundedSender<Msg>,
    /// The key reader: paused while the terminal is handed to the shell or an editor.
    keys: Keys,
    /// The pod log being streamed.
    logs: Option<tokio::task::JoinHandle<()>>,
    /// The topic and backup pollers.
    feeds: Vec<tokio::task::JoinHandle<()>>,
    /// The screen must be drawn again.
    dirty: bool,
}

/// What one turn of the loop took in: the effects the app asks for, and whether the user
/// asked to suspend (Ctrl-Z).
struct Input {
    effects: Vec<Effect>,
    suspend: bool,
}

impl Drop for Console<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.logs.take() {
            h.abort();
        }
        for h in &self.feeds {
            h.abort();
        }
    }
}

impl<'a> Console<'a> {
    /// The app for context `ctx`, and the feeds it starts with: topics (when a topic source
    /// is configured), backup ages (when backups are scheduled) and unfinished changes.
    fn start(opts: &'a Options, ctx: String, msg_tx: mpsc::UnboundedSender<Msg>) -> Console<'a> {
        let readonly = opts.readonly || opts.config.is_readonly(&ctx);
        let namespace = opts
            .namespace
            .clone()
            .or_else(|| opts.config.context_namespace(&ctx).map(String::from));
        let mut app = App::new(
            opts.keymap.clone(),
            opts.theme.clone(),
            ctx,
            namespace,
            readonly,
        );
        app.contexts = context_names(opts.kubeconfig.as_deref());
        if let Some(screen) = opts.screen {
            app.screen = screen;
        }
        app.platforms = opts.config.platforms.clone();
        let mut feeds = Vec::new();
        if let Some(feed) = &opts.topics {
            app.topics = Some(crate::core::topics::TopicsState::new(
                feed.source.describe(),
                feed.platform.clone(),
                Default::default(),
            ));
            feeds.push(tokio::spawn(poll_topics(
                feed.source.clone(),
                msg_tx.clone(),
            )));
        }
        let _ = msg_tx.send(crate::tui::changes::journals(&opts.changes));
        let every = opts.config.backup_every.as_deref();
        let every = every.and_then(|e| crate::cli::scale::parse_duration(e).ok());
        if let (Some(every), Ok(s)) = (every, &opts.changes.settings) {
            feeds.push(tokio::spawn(poll_backup_ages(
                s.backup_dir.clone(),
                every,
                msg_tx.clone(),
            )));
        }
        Console {
            opts,
            app,
            msg_tx,
            keys: Keys::start(),
            logs: None,
            feeds,
            dirty: true,
        }
    }

    /// Waits for the next keys, cluster updates, task result or tick, and hands them to
    /// the app.
    async fn next_input(
        &mut self,
        conn: &mut Connection,
        msg_rx: &mut mpsc::UnboundedReceiver<Msg>,
        tick: &mut tokio::time::Interval,
        trimmer: &mut MemoryTrimmer,
    ) -> anyhow::Result<Input> {
        let app = &mut self.app;
        let keys = &mut self.keys;
        let mut effects = Vec::new();
        let mut suspend = false;
        tokio::select! {
            ev = keys.next() => {
                let mut ev = ev;
                let burst = std::time::Instant::now();
                loop {
                    match ev {
                        Some(Ok(Event::Key(k))) if is_suspend(&k) => suspend = true,
                        Some(Ok(Event::Key(k))) => { effects = app.on_key(k); self.dirty = true; }
                        Some(Ok(Event::Resize(..))) => self.dirty = true,
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.into()),
                        None => app.quit = true,
                    }
                    // Keys typed faster than a frame (a paste, a burst) are taken before the
                    // next one: one frame, and one filter pass, for all of them. A key that
                    // asks for an effect, or the end, is acted on first.
                    if suspend || app.quit || !effects.is_empty() || burst.elapsed() > KEY_BURST_MAX {
                        break;
                    }
                    match tokio::time::timeout(KEY_BURST_GAP, keys.next()).await {
                        Ok(next) => ev = next,
                        Err(_) => break,
                    }
                }
            },
            u = conn.updates.recv() => {
                if let Some(u) = u {
                    let mut rows = u.rows();
                    effects = app.on_msg(Msg::Cluster(u));
                    // Coalesce a burst into one frame.
                    while let Ok(u) = conn.updates.try_recv() {
                        rows += u.rows();
                        effects.extend(app.on_msg(Msg::Cluster(u)));
                    }
                    trimmer.note(rows);
                    effects.dedup();
                    self.dirty = true;
                }
            }
            Some(m) = msg_rx.recv() => { effects = app.on_msg(m); self.dirty = true; }
            _ = tick.tick() => {
                effects = app.on_tick();
                self.dirty = true;
                trimmer.maybe_trim();
            }
        }
        Ok(Input { effects, suspend })
    }

    /// Ctrl-Z: the shell gets the terminal back until `fg`; no key reader meanwhile.
    fn suspend(&mut self, tui: &mut Tui) -> anyhow::Result<()> {
        self.keys.pause();
        let suspended = tui.suspend();
        self.keys.resume();
        suspended?;
        self.dirty = true;
        Ok(())
    }

    /// Does what the app asked for: on the terminal or the connection when the effect needs
    /// them, else on a background task whose result comes back as a message.
    async fn run_effect(
        &mut self,
        effect: Effect,
        tui: &mut Tui,
        conn: &mut Connection,
    ) -> anyhow::Result<()> {
        match effect {
            Effect::SwitchContext(name) => self.switch_context(conn, name).await,
            Effect::EditValues { yaml } => self.edit_values(tui, &yaml)?,
            Effect::CopyLink { url } => self.copy_link(tui, &url),
            Effect::StopLogs => {
                if let Some(h) = self.logs.take() {
                    h.abort();
                }
            }
            Effect::Logs {
                key,
                container,
                previous,
                timestamps,
            } => {
                if let Some(h) = self.logs.take() {
                    h.abort();
                }
                self.logs = Some(tokio::spawn(stream_logs(
                    conn.client.clone(),
                    key,
                    LogParams {
                        container,
                        follow: !previous,
                        previous,
                        timestamps,
                        tail_lines: Some(500),
                        ..Default::default()
                    },
                    self.msg_tx.clone(),
                )));
            }
            other => spawn_effect(other, self.opts, &conn.client, &self.msg_tx),
        }
        Ok(())
    }

    /// Connects to context `name`: the app starts over on its overview, or stays where it
    /// was and says why it could not.
    async fn switch_context(&mut self, conn: &mut Connection, name: String) {
        match connect(self.opts, Some(&name)).await {
            Ok((c, ctx)) => {
                *conn = c;
                let app = &mut self.app;
                app.state = Default::default();
                app.readonly = self.opts.readonly || self.opts.config.is_readonly(&ctx);
                app.context = ctx;
                app.detail = None;
                app.screen = crate::tui::keymap::Screen::Overview;
            }
            Err(e) => {
                let _ = self.msg_tx.send(Msg::Done {
                    what: format!("switch to {name}"),
                    result: Err(format!("{e:#}")),
                });
            }
        }
    }

    /// The editor gets the terminal: no key reader, the screen restored.
    fn edit_values(&mut self, tui: &mut Tui, yaml: &str) -> anyhow::Result<()> {
        self.keys.pause();
        let result = match tui.exit() {
            Ok(()) => crate::tui::changes::edit_in_editor(yaml),
            Err(e) => Err(format!("cannot hand the terminal to the editor: {e}")),
        };
        let resumed = tui.resume();
        self.keys.resume();
        resumed?;
        self.dirty = true;
        let _ = self.msg_tx.send(Msg::ValuesEdited(result));
        Ok(())
    }

    /// Copies a link with OSC 52, through the backend, between frames: never mixed into a
    /// drawn frame.
    fn copy_link(&mut self, tui: &mut Tui, url: &str) {
        use std::io::Write as _;
        let backend = tui.backend_mut();
        let written = backend
            .write_all(crate::core::links::osc52(url).as_bytes())
            .and_then(|()| backend.flush());
        if let Err(e) = written {
            let _ = self.msg_tx.send(Msg::Done {
                what: "copy the link".into(),
                result: Err(e.to_string()),
            });
        }
    }
}

/// Runs `work` on a background task and sends its message back to the loop.
fn reply(tx: &mpsc::UnboundedSender<Msg>, work: impl Future<Output = Msg> + Send + 'static) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let _ = tx.send(work.await);
    });
}

/// Starts an effect that needs neither the terminal nor the loop: each runs on its own
/// task and reports through `tx`.
fn spawn_effect(
    effect: Effect,
    opts: &Options,
    client: &kube::Client,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let (client, cs) = (client.clone(), opts.changes.clone());
    match effect {
        Effect::BlueGreen {
            namespace,
            workload,
            step,
        } => {
            let hold = opts.config.bluegreen.hold();
            let settings = cs
                .settings
                .map(|s| crate::core::workflows::bluegreen::Settings {
                    journal_dir: s.journal_dir,
                    values_repo: s.values_repo,
                    hold,
                    environment: s.environment,
                });
            start_bluegreen(client, settings, namespace, workload, step, tx);
        }
        Effect::LoadInventory => {
            tokio::spawn(crate::tui::inventory::load(
                inventory_config(opts),
                opts.kubeconfig.clone(),
                cs.chart_repo,
                tx.clone(),
            ));
        }
        Effect::UpgradeVersions { namespace, name } => reply(tx, async move {
            crate::tui::changes::versions(&client, &cs, namespace, name).await
        }),
        Effect::PrepareChange {
            namespace,
            name,
            target,
            topics,
            values,
        } => reply(tx, async move {
            crate::tui::changes::prepare(&client, &cs, namespace, name, target, topics, values)
                .await
        }),
        Effect::RecoverVerify { namespace, name } => reply(tx, async move {
            crate::tui::changes::recover_verify(&client, &cs, namespace, name).await
        }),
        Effect::RecoverRollback { namespace, name } => reply(tx, async move {
            crate::tui::changes::recover_abandon(&client, &cs, namespace, name).await
        }),
        Effect::PreparePromotion(ask) => {
            let config = inventory_config(opts);
            let (kubeconfig, readonly) = (opts.kubeconfig.clone(), opts.readonly);
            reply(tx, async move {
                let rt = crate::tui::promote::Runtime {
                    config: &config,
                    kubeconfig: kubeconfig.as_deref(),
                    readonly,
                    changes: &cs,
                };
                crate::tui::promote::prepare(rt, ask).await
            });
        }
        Effect::RunPromotion { context, plan } => {
            tokio::spawn(crate::tui::promote::run(
                opts.kubeconfig.clone(),
                cs,
                context,
                plan,
                tx.clone(),
            ));
        }
        Effect::RunChange(plan) => {
            tokio::spawn(crate::tui::changes::run(client, cs, plan, tx.clone()));
        }
        Effect::ReleaseHistory { namespace, name } => {
            let (ns, n) = (namespace.clone(), name.clone());
            reply(tx, async move { release_history(&client, ns, n).await });
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(crate::tui::changes::values_log(&cs, namespace, name));
            });
        }
        Effect::ListBackups { namespace, name } => reply(tx, async move {
            crate::tui::changes::backups(&cs, namespace, name).await
        }),
        Effect::CreateTopics { topics, refused } => create_topics_in(opts, topics, refused, tx),
        other => {
            tokio::spawn(execute(other, client, tx.clone()));
        }
    }
}

/// Starts a blue/green step of `workload` (the console's `:bg`).
fn start_bluegreen(
    client: kube::Client,
    settings: Result<crate::core::workflows::bluegreen::Settings, String>,
    namespace: String,
    workload: String,
    step: Option<crate::tui::bluegreen::BgStep>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let target = crate::core::workflows::bluegreen::Target {
        namespace,
        workload,
        service: None,
    };
    tokio::spawn(crate::tui::bluegreen::run(
        client,
        settings,
        target,
        step,
        tx.clone(),
    ));
}

/// Creates topics through the console's topic source, each result a message; without a
/// source, says so.
fn create_topics_in(
    opts: &Options,
    topics: Vec<crate::core::topics::NewTopicSpec>,
    refused: Vec<String>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    match &opts.topics {
        Some(feed) => {
            let (source, tx) = (feed.source.clone(), tx.clone());
            tokio::spawn(async move {
                for m in create_topics(source, topics, refused).await {
                    let _ = tx.send(m);
                }
            });
        }
        None => {
            let _ = tx.send(Msg::TopicsCreated {
                result: Err("no topic source".into()),
                refused,
            });
        }
    }
}

/// Ctrl-Z (raw mode delivers it as a key, not as SIGTSTP).
fn is_suspend(k: &crossterm::event::KeyEvent) -> bool {
    k.kind == crossterm::event::KeyEventKind::Press
        && k.code == crossterm::event::KeyCode::Char('z')
        && k.modifiers
            .contains(crossterm::event::KeyModifiers::CONTROL)
}

/// Streams a container's log into the app, in batches.
async fn stream_logs(
    client: kube::Client,
    key: Key,
    params: LogParams,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let api: Api<Pod> = Api::namespaced(client, &key.0);
    let stream = match api.log_stream(&key.1, &params).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Msg::LogEnded(Some(kube_message(&e))));
            return;
        }
    };
    let mut lines = stream.lines();
    let mut batch = Vec::new();
    let mut flush = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            l = lines.next() => match l {
                Some(Ok(line)) => batch.push(line),
                Some(Err(e)) => {
                    let _ = tx.send(Msg::LogLines(std::mem::take(&mut batch)));
                    let _ = tx.send(Msg::LogEnded(Some(e.to_string())));
                    return;
                }
                None => {
                    let _ = tx.send(Msg::LogLines(std::mem::take(&mut batch)));
                    let _ = tx.send(Msg::LogEnded(None));
                    return;
                }
            },
            _ = flush.tick() => {
                if !batch.is_empty() && tx.send(Msg::LogLines(std::mem::take(&mut batch))).is_err() {
                    return;
                }
            }
        }
    }
}

/// The message a user should see for a kube error.
pub fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

fn containers_of(pod: &Pod) -> Vec<ContainerInfo> {
    let spec = pod.spec.clone().unwrap_or_default();
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    spec.containers
        .iter()
        .map(|c| {
            let st = statuses.iter().find(|s| s.name == c.name);
            let state = st
                .and_then(|s| s.state.as_ref())
                .map_or("unknown".to_string(), |s| {
                    if let Some(w) = &s.waiting {
                        format!("Waiting: {}", w.reason.clone().unwrap_or_default())
                    } else if let Some(t) = &s.terminated {
                        format!(
                            "Terminated: {} ({})",
                            t.reason.clone().unwrap_or_default(),
                            t.exit_code
                        )
                    } else if s.running.is_some() {
                        "Running".to_string()
                    } else {
                        "unknown".to_string()
                    }
                });
            let last = st
                .and_then(|s| s.last_state.as_ref())
                .and_then(|l| l.terminated.as_ref())
                .map(|t| {
                    format!(
                        "{} (exit {})",
                        t.reason.clone().unwrap_or_default(),
                        t.exit_code
                    )
                });
            ContainerInfo {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                state,
                ready: st.is_some_and(|s| s.ready),
                restarts: st.map_or(0, |s| s.restart_count),
                last_termination: last,
            }
        })
        .collect()
}

/// What [`Effect::ReleaseHistory`] reports: the release's history from its release Secrets.
pub async fn release_history(client: &kube::Client, namespace: String, name: String) -> Msg {
    let result = crate::core::releases::fetch::release_history(client, &namespace, &name)
        .await
        .map_err(|e| format!("{e:#}"));
    Msg::ReleaseHistory {
        namespace,
        name,
        result,
    }
}

/// What [`Effect::CreateTopics`] reports: the outcome per topic (the same
/// [`TopicSource::create_topics`](crate::core::topics::TopicSource::create_topics) that
/// `helmdeck topics create --missing` calls, on a blocking thread), then, when anything was
/// created, a fresh snapshot so the Topics view shows it without waiting for the next poll.
pub async fn create_topics(
    source: std::sync::Arc<dyn crate::core::topics::TopicSource>,
    topics: Vec<crate::core::topics::NewTopicSpec>,
    refused: Vec<String>,
) -> Vec<Msg> {
    use crate::core::topics::TopicUpdate;
    let s = source.clone();
    let result = match tokio::task::spawn_blocking(move || s.create_topics(&topics)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the creating task failed: {e}")),
    };
    let created = result
        .as_ref()
        .is_ok_and(|c| c.iter().any(|c| c.result.is_ok()));
    let mut msgs = vec![Msg::TopicsCreated { result, refused }];
    if created
        && let Ok(Ok(snapshot)) = tokio::task::spawn_blocking(move || source.snapshot()).await
    {
        msgs.push(Msg::Topics(TopicUpdate::Snapshot(snapshot)));
    }
    msgs
}

/// Tells the app how an action ended: what it was, and its message or its error (with
/// causes). True when it succeeded.
fn send_done<E: std::fmt::Display>(
    tx: &mpsc::UnboundedSender<Msg>,
    what: String,
    result: Result<String, E>,
) -> bool {
    let ok = result.is_ok();
    let result = result.map_err(|e| format!("{e:#}"));
    let _ = tx.send(Msg::Done { what, result });
    ok
}

/// Runs one effect on a background task, reporting back through `tx`.
async fn execute(effect: Effect, client: kube::Client, tx: mpsc::UnboundedSender<Msg>) {
    match effect {
        Effect::OpenPod { key } => {
            let api: Api<Pod> = Api::namespaced(client, &key.0);
            let result = api
                .get(&key.1)
                .await
                .map(|p| containers_of(&p))
                .map_err(|e| kube_message(&e));
            let _ = tx.send(Msg::Pod { key, result });
        }
        Effect::PlanScale {
            kind,
            namespace,
            name,
        } => {
            let r = actions::scale_plan(&client, kind, &namespace, &name).await;
            let _ = tx.send(Msg::ScalePlanned(
                r.map(|p| ScaleInfo {
                    current: p.current,
                    hpa: p.hpa.map(|h| (h.name, h.min, h.max)),
                })
                .map_err(|e| format!("{e:#}")),
            ));
        }
        Effect::Scale {
            kind,
            namespace,
            name,
            replicas,
        } => {
            let what = format!("scale {namespace}/{name}");
            let result = actions::scale(&client, kind, &namespace, &name, replicas)
                .await
                .map(|_| format!("{namespace}/{name} scaled to {replicas}; converging…"));
            if send_done(&tx, what, result) {
                follow_rollout(client, kind, namespace, name, tx).await;
            }
        }
        Effect::SetHpaRange {
            namespace,
            name,
            min,
            max,
        } => {
            let result = actions::set_hpa_range(&client, &namespace, &name, min, max)
                .await
                .map(|_| format!("HPA {namespace}/{name} now scales between {min} and {max}"));
            send_done(&tx, format!("scale {namespace}/{name}"), result);
        }
        Effect::Cordon(node) => {
            let result = actions::cordon(&client, &node)
                .await
                .map(|_| format!("{node} cordoned"));
            send_done(&tx, format!("cordon {node}"), result);
        }
        Effect::Uncordon(node) => {
            let result = actions::uncordon(&client, &node)
                .await
                .map(|_| format!("{node} uncordoned"));
            send_done(&tx, format!("uncordon {node}"), result);
        }
        Effect::Drain(node) => drain(client, node, tx).await,
        Effect::ListResource {
            name,
            namespace,
            resolved,
        } => {
            use crate::core::cluster::table;
            let ns = namespace.as_deref();
            let result = match resolved {
                Some(r) => table::list_as(&client, r, ns).await,
                None => table::list(&client, &name, ns).await,
            }
            .map_err(|e| format!("{e:#}"));
            let _ = tx.send(Msg::Resource {
                name,
                namespace,
                result,
            });
        }
        Effect::FetchObject {
            kind,
            namespace,
            name,
            format,
        } => {
            let result =
                crate::core::cluster::object::fetch_text(&client, kind, &namespace, &name, format)
                    .await
                    .map_err(|e| format!("{e:#}"));
            let _ = tx.send(Msg::Object {
                kind,
                namespace,
                name,
                format,
                result,
            });
        }
        Effect::DeletePod { key } => {
            let (namespace, name) = key;
            let result = actions::delete_pod(&client, &namespace, &name)
                .await
                .map(|_| format!("pod {namespace}/{name} deleted"));
            send_done(&tx, format!("delete pod {namespace}/{name}"), result);
        }
        Effect::Restart {
            kind,
            namespace,
            name,
        } => {
            let what = format!("restart {namespace}/{name}");
            let result = actions::rollout_restart(&client, kind, &namespace, &name)
                .await
                .map(|at| {
                    format!(
                        "{} {namespace}/{name} restarted at {at}; rolling out…",
                        kind.name()
                    )
                });
            if send_done(&tx, what, result) {
                follow_rollout(client, kind, namespace, name, tx).await;
            }
        }
        Effect::SaveLog {
            context,
            file,
            text,
            lines,
        } => {
            let msg = tokio::task::spawn_blocking(move || {
                crate::tui::logview::run_save(&context, &file, &text, lines)
            })
            .await
            .unwrap_or_else(|e| Msg::Done {
                what: "save the log".to_string(),
                result: Err(e.to_string()),
            });
            let _ = tx.send(msg);
        }
        Effect::OpenLink { name, url } => {
            let result = tokio::task::spawn_blocking(move || crate::core::links::open(&url))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let _ = tx.send(Msg::Done {
                what: format!("open {name}"),
                result: result
                    .map(|()| format!("opened {name} with {}", crate::core::links::opener())),
            });
        }
        Effect::Logs { .. }
        | Effect::CopyLink { .. }
        | Effect::StopLogs
        | Effect::SwitchContext(_)
        | Effect::CreateTopics { .. }
        | Effect::UpgradeVersions { .. }
        | Effect::LoadInventory
        | Effect::PreparePromotion(_)
        | Effect::RunPromotion { .. }
        | Effect::BlueGreen { .. }
        | Effect::PrepareChange { .. }
        | Effect::RunChange(_)
        | Effect::RecoverVerify { .. }
        | Effect::RecoverRollback { .. }
        | Effect::EditValues { .. }
        | Effect::ReleaseHistory { .. }
        | Effect::ListBackups { .. } => {}
    }
}

async fn follow_rollout(
    client: kube::Client,
    kind: WorkloadKind,
    namespace: String,
    name: String,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let what = format!("rollout {namespace}/{name}");
    let (ptx, mut prx) = mpsc::channel(32);
    let watcher = tokio::spawn({
        let (client, namespace, name) = (client.clone(), namespace.clone(), name.clone());
        async move {
            actions::watch_rollout(
                &client,
                kind,
                &namespace,
                &name,
                ptx,
                Duration::from_secs(300),
            )
            .await
        }
    });
    while let Some(p) = prx.recv().await {
        let _ = tx.send(Msg::Progress {
            what: what.clone(),
            text: format!(
                "{}/{} ready, {} updated — {}",
                p.ready, p.desired, p.updated, p.message
            ),
        });
    }
    let result = match watcher.await {
        Ok(Ok(_)) => Ok(format!("{namespace}/{name} rolled out")),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(e) => Err(e.to_string()),
    };
    let _ = tx.send(Msg::Done { what, result });
}

async fn drain(client: kube::Client, node: String, tx: mpsc::UnboundedSender<Msg>) {
    let what = format!("drain {node}");
    let (ptx, mut prx) = mpsc::channel(64);
    let opts = actions::DrainOptions {
        ignore_daemonsets: true,
        delete_emptydir_data: true,
        timeout: Duration::from_secs(300),
        grace_period: None,
    };
    let task = tokio::spawn({
        let (client, node) = (client.clone(), node.clone());
        async move { actions::drain(&client, &node, opts, ptx).await }
    });
    while let Some(p) = prx.recv().await {
        let _ = tx.send(Msg::Progress {
            what: what.clone(),
            text: p.to_string(),
        });
    }
    let result = match task.await {
        Ok(Ok(report)) => Ok(format!(
            "{node} drained: {} pods evicted, {} DaemonSet pods left{}",
            report.evicted.len(),
            report.skipped_daemonset.len(),
            if report.failures.is_empty() {
                String::new()
            } else {
                format!(", {} failed", report.failures.len())
            }
        )),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(e) => Err(e.to_string()),
    };
    let _ = tx.send(Msg::Done { what, result });
}
