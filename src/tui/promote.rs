//! Promotion from the inventory (`p` on a release): the chart version and values the
//! environment before the target has deployed, moved to the target through a review — the
//! chart version from → to, the images that will change, the masked values diff and the
//! upgrade's preflight, the soak of the source, the values repo's record of it — then the
//! guided upgrade on the target's context, as the wizard runs it.
//!
//! A soak that failed asks for a reason (as `--skip-soak REASON`); a protected target asks
//! for the release name typed. Both `p` and the start go through the read-only gate. The
//! work is [`crate::core::workflows::promote`]'s and the upgrade's, run off the UI thread
//! ([`Effect::PreparePromotion`], [`Effect::RunPromotion`]).

use crate::core::inventory::Inventory;
use crate::core::workflows::promote::{self, Soak, Source};
use crate::core::workflows::upgrade::{self, Event, Plan, Report, Request, Target, ValuesSource};
use crate::tui::app::{App, Effect, Msg};
use crate::tui::upgrade::RunView;
use crossterm::event::{KeyCode, KeyEvent};

/// What to promote: `release` from environment `from` to `to`, in the namespaces the
/// inventory found it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionAsk {
    pub release: String,
    pub from: String,
    pub from_namespace: String,
    pub to: String,
    pub to_namespace: String,
}

/// What the review shows, read in the background.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub ask: PromotionAsk,
    /// The target's kubeconfig context (the change runs there).
    pub to_context: String,
    /// The target asks for the release name typed.
    pub protected: bool,
    pub source: Source,
    /// The target's deployed chart version and revision.
    pub target_version: String,
    pub target_revision: i64,
    pub soak: Soak,
    /// The values repo's record of the source ([`promote::check_record`]).
    pub record: String,
    /// `deploy/router: router:3.3.0 → router:3.4.1` ([`promote::image_changes`]).
    pub images: Vec<String>,
    /// The guided upgrade of the target, prepared (its masked values diff, its preflight).
    pub plan: Box<Plan>,
}

/// What the review is asking for, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typing {
    /// Why to go ahead though the soak failed.
    Reason(String),
    /// The release name (a protected target).
    ReleaseName(String),
}

/// Where a promotion is.
#[derive(Debug, Clone, PartialEq)]
pub enum PromoteStage {
    Preparing,
    Review {
        review: Box<Review>,
        typing: Option<Typing>,
        /// The reason given for going ahead without the soak.
        skip_soak: Option<String>,
    },
    Running(Box<Plan>, RunView),
    Finished(Box<Plan>, RunView, Box<Report>),
    Error(String),
}

/// The promotion over the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionView {
    pub ask: PromotionAsk,
    /// The `(from, to)` environment pairs `t` goes through, and the one shown.
    pub pairs: Vec<PromotionAsk>,
    pub pair: usize,
    pub stage: PromoteStage,
    /// Go on despite overridable preflight failures (`f`).
    pub force: bool,
    /// Lines the review or the finished run is scrolled by.
    pub scroll: usize,
}

/// Every `(environment before, environment)` pair of `release` (index into
/// `inv.releases`) where both run it, and the one to start on: the first whose chart
/// version differs from the one before it's, else the first.
pub fn pairs(inv: &Inventory, release: usize) -> (Vec<PromotionAsk>, usize) {
    use crate::core::inventory::CellState;
    let Some(r) = inv.releases.get(release) else {
        return (Vec::new(), 0);
    };
    let mut out = Vec::new();
    let mut first_differing = None;
    for w in r.environments.windows(2) {
        let (from, to) = (&w[0], &w[1]);
        if from.state != CellState::Present || to.state != CellState::Present {
            continue;
        }
        if first_differing.is_none() && from.chart_version != to.chart_version {
            first_differing = Some(out.len());
        }
        out.push(PromotionAsk {
            release: r.release.clone(),
            from: from.environment.clone(),
            from_namespace: from.namespace.clone(),
            to: to.environment.clone(),
            to_namespace: to.namespace.clone(),
        });
    }
    (out, first_differing.unwrap_or(0))
}

impl App {
    /// `p` on the inventory: the promotion of the selected release, reviewed first.
    pub(crate) fn open_promotion(&mut self) -> Vec<Effect> {
        if self.refuse_readonly("promoting") {
            return Vec::new();
        }
        let Some(view) = &self.inventory else {
            return Vec::new();
        };
        let Some(inv) = &view.inventory else {
            self.flash("the inventory is not read yet", false);
            return Vec::new();
        };
        let Some(release) = view.selected_release() else {
            self.flash("no release selected", false);
            return Vec::new();
        };
        let (pairs, pair) = pairs(inv, release);
        let Some(ask) = pairs.get(pair).cloned() else {
            self.flash(
                "nothing to promote: no two environments in a row both run this release",
                false,
            );
            return Vec::new();
        };
        self.promotion = Some(PromotionView {
            ask: ask.clone(),
            pairs,
            pair,
            stage: PromoteStage::Preparing,
            force: false,
            scroll: 0,
        });
        vec![Effect::PreparePromotion(ask)]
    }

    /// The review came back.
    pub(crate) fn on_promotion_prepared(&mut self, result: Result<Box<Review>, String>) {
        let Some(v) = &mut self.promotion else {
            return;
        };
        if v.stage != PromoteStage::Preparing {
            return;
        }
        match result {
            Ok(review) if review.ask == v.ask => {
                v.scroll = 0;
                v.stage = PromoteStage::Review {
                    review,
                    typing: None,
                    skip_soak: None,
                };
            }
            Ok(_) => {}
            Err(e) => v.stage = PromoteStage::Error(e),
        }
    }

    /// Whether a running promotion takes the change's events (else the wizard does).
    pub(crate) fn promotion_running(&self) -> bool {
        self.promotion
            .as_ref()
            .is_some_and(|v| matches!(v.stage, PromoteStage::Running(..)))
    }

    /// An event of the running promotion.
    pub(crate) fn on_promotion_event(&mut self, ev: Event) -> Vec<Effect> {
        let Some(v) = &mut self.promotion else {
            return Vec::new();
        };
        let PromoteStage::Running(plan, run) = &mut v.stage else {
            return Vec::new();
        };
        run.apply(&ev);
        let Event::Finished(report) = ev else {
            return Vec::new();
        };
        let (plan, run) = (plan.clone(), std::mem::take(run));
        let ending = report.ending.to_string();
        let ok = report.ending.succeeded();
        let text = format!(
            "promote {} {} → {}: {}",
            v.ask.release,
            v.ask.from,
            v.ask.to,
            ending.lines().next().unwrap_or_default()
        );
        v.stage = PromoteStage::Finished(plan, run, Box::new(report));
        v.scroll = 0;
        self.flash(text, !ok);
        // The inventory shows where the target is now.
        match self.inventory.as_ref() {
            Some(inv) if !inv.loading => self.open_inventory(),
            _ => Vec::new(),
        }
    }

    /// Keys while the promotion is open.
    pub(crate) fn on_promotion_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(mut v) = self.promotion.take() else {
            return Vec::new();
        };
        let mut close = false;
        let mut effects = Vec::new();
        match &mut v.stage {
            PromoteStage::Preparing | PromoteStage::Error(_) => match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => close = true,
                KeyCode::Char('t') => effects = next_pair(&mut v),
                _ => {}
            },
            PromoteStage::Review {
                typing: Some(_), ..
            } => {
                effects = self.on_promotion_typing(&mut v, key);
            }
            PromoteStage::Review { .. } => match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('n') => {
                    close = true;
                    self.flash("nothing changed", false);
                }
                KeyCode::Up | KeyCode::Char('k') => v.scroll = v.scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => v.scroll += 1,
                KeyCode::PageUp => v.scroll = v.scroll.saturating_sub(10),
                KeyCode::PageDown => v.scroll += 10,
                KeyCode::Char('f') => v.force = !v.force,
                KeyCode::Char('t') => effects = next_pair(&mut v),
                KeyCode::Enter | KeyCode::Char('y') => effects = self.promotion_go(&mut v),
                _ => {}
            },
            PromoteStage::Running(plan, _) => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('q')) {
                    self.flash(
                        format!(
                            "the promotion is running and ends on its own (timeout {} s)",
                            plan.request.timeout.as_secs()
                        ),
                        false,
                    );
                }
            }
            PromoteStage::Finished(..) => match key.code {
                KeyCode::Up | KeyCode::Char('k') => v.scroll = v.scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => v.scroll += 1,
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => close = true,
                _ => {}
            },
        }
        if !close {
            self.promotion = Some(v);
        }
        effects
    }

    /// A key while the review asks for a reason or the release name.
    fn on_promotion_typing(&mut self, v: &mut PromotionView, key: KeyEvent) -> Vec<Effect> {
        let PromoteStage::Review {
            review,
            typing: typing @ Some(_),
            skip_soak,
        } = &mut v.stage
        else {
            return Vec::new();
        };
        let input = match typing.as_mut().expect("typing") {
            Typing::Reason(s) | Typing::ReleaseName(s) => s,
        };
        match key.code {
            KeyCode::Esc => {
                *typing = None;
                self.flash("nothing changed", false);
                Vec::new()
            }
            KeyCode::Backspace => {
                input.pop();
                Vec::new()
            }
            KeyCode::Char(c) => {
                input.push(c);
                Vec::new()
            }
            KeyCode::Enter => match typing.take().expect("typing") {
                Typing::Reason(r) if r.trim().is_empty() => {
                    *typing = Some(Typing::Reason(r));
                    self.flash("a reason is needed to go ahead without the soak", true);
                    Vec::new()
                }
                Typing::Reason(r) => {
                    *skip_soak = Some(r.trim().to_string());
                    self.promotion_go(v)
                }
                Typing::ReleaseName(typed) if typed.trim() == review.ask.release => {
                    let ask = review.ask.clone();
                    self.promotion_start(v, &ask)
                }
                Typing::ReleaseName(typed) => {
                    self.flash(
                        format!(
                            "{typed:?} is not the release name {:?}: nothing changed",
                            review.ask.release
                        ),
                        true,
                    );
                    Vec::new()
                }
            },
            _ => Vec::new(),
        }
    }

    /// Enter in the review: the soak's reason asked for when it failed, then the release
    /// name when the target is protected, then the change.
    fn promotion_go(&mut self, v: &mut PromotionView) -> Vec<Effect> {
        let PromoteStage::Review {
            review,
            typing,
            skip_soak,
        } = &mut v.stage
        else {
            return Vec::new();
        };
        if review.soak.outcome(skip_soak.as_deref()).is_err() {
            *typing = Some(Typing::Reason(String::new()));
            return Vec::new();
        }
        if review.protected {
            *typing = Some(Typing::ReleaseName(String::new()));
            return Vec::new();
        }
        let ask = review.ask.clone();
        self.promotion_start(v, &ask)
    }

    /// Starts the reviewed change (the read-only gate and the preflight's blockers first).
    fn promotion_start(&mut self, v: &mut PromotionView, ask: &PromotionAsk) -> Vec<Effect> {
        if self.refuse_readonly("promoting") {
            return Vec::new();
        }
        let PromoteStage::Review {
            review, skip_soak, ..
        } = &v.stage
        else {
            return Vec::new();
        };
        let mut plan = review.plan.clone();
        plan.request.force = v.force;
        plan.request.reason =
            promote::reason(&ask.from, &review.source, skip_soak.as_deref(), None);
        let blockers = plan.blockers();
        if !blockers.is_empty() {
            let overridable = blockers.iter().all(|c| c.overridable);
            let text = format!(
                "cannot start: {}{}",
                blockers
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect::<Vec<_>>()
                    .join("; "),
                if overridable { " (f forces it)" } else { "" }
            );
            self.flash(text, true);
            return Vec::new();
        }
        let context = review.to_context.clone();
        v.stage = PromoteStage::Running(plan.clone(), RunView::default());
        v.scroll = 0;
        vec![Effect::RunPromotion { context, plan }]
    }
}

/// `t`: the next pair of environments, prepared.
fn next_pair(v: &mut PromotionView) -> Vec<Effect> {
    if v.pairs.len() < 2 {
        return Vec::new();
    }
    v.pair = (v.pair + 1) % v.pairs.len();
    v.ask = v.pairs[v.pair].clone();
    v.stage = PromoteStage::Preparing;
    v.scroll = 0;
    vec![Effect::PreparePromotion(v.ask.clone())]
}

/// How the runtime reaches the environments and makes the change.
pub struct Runtime<'a> {
    pub config: &'a crate::config::Config,
    pub kubeconfig: Option<&'a std::path::Path>,
    /// `--readonly`: every context is read-only.
    pub readonly: bool,
    pub changes: &'a crate::tui::changes::ChangeSettings,
}

/// [`Effect::PreparePromotion`]: the review, as [`Msg::PromotionPrepared`].
pub async fn prepare(rt: Runtime<'_>, ask: PromotionAsk) -> Msg {
    Msg::PromotionPrepared(
        review(rt, ask)
            .await
            .map(Box::new)
            .map_err(|e| format!("{e:#}")),
    )
}

/// The review, in steps as `helmdeck promote` takes them: the environments from the config
/// and the target's read-only setting; the source's deployed revision and its soak; the
/// target's release and the values it gets; the values repo's record and the images; the
/// guided upgrade prepared on the target's context, recorded under the target environment.
async fn review(rt: Runtime<'_>, ask: PromotionAsk) -> anyhow::Result<Review> {
    use crate::core::cluster::watch::client_for;
    use anyhow::{anyhow, bail};
    let env = |name: &str| {
        rt.config
            .environment(name)
            .cloned()
            .ok_or_else(|| anyhow!("no environment `{name}` in the config"))
    };
    let (from, to) = (env(&ask.from)?, env(&ask.to)?);
    if rt.readonly || rt.config.is_readonly(&to.context) {
        bail!(
            "read-only: promoting to {} is disabled (--readonly or the context {}'s readonly setting)",
            to.name,
            to.context
        );
    }
    let mut settings = rt.changes.settings.clone().map_err(|e| anyhow!(e))?;
    // Recorded under the target environment, whatever else names its context.
    settings.environment = Some(to.name.clone());
    let (source_client, _) = client_for(rt.kubeconfig, Some(&from.context)).await?;
    let source = promote::read_source(&source_client, &ask.from_namespace, &ask.release).await?;
    let soak = promote::soak(
        &source_client,
        &source,
        &from.name,
        from.soak(),
        jiff::Timestamp::now(),
    )
    .await;
    let (client, _) = client_for(rt.kubeconfig, Some(&to.context)).await?;
    let target =
        crate::core::inventory::read::read_release(&client, &ask.to_namespace, &ask.release)
            .await?
            .ok_or_else(|| {
                anyhow!(
                    "{} is not installed in {} in {}: promote upgrades an installed release",
                    ask.release,
                    ask.to_namespace,
                    to.name
                )
            })?;
    let values = promote::target_values(
        &client,
        &settings.values_repo,
        &source,
        (&from.name, &to.name),
        &ask.to_namespace,
        &ask.release,
    )
    .await?;
    let record = promote::check_record(&settings.values_repo, &from.name, &ask.release, &source);
    let images = promote::image_changes(&source.read, Some(&target));
    let req = Request {
        release: ask.release.clone(),
        namespace: ask.to_namespace.clone(),
        target: Target::Version(source.read.chart_version.clone()),
        values: ValuesSource::Text(values),
        sets: Vec::new(),
        repository: rt
            .changes
            .chart_repo
            .as_deref()
            .map(crate::core::releases::repo::RepoOptions::new),
        chart_reference: None,
        timeout: rt.changes.timeout,
        auto_rollback: true,
        force: false,
        reason: promote::reason(&from.name, &source, None, None),
        topics: None,
        settings,
    };
    let plan = upgrade::prepare(&client, req).await?;
    Ok(Review {
        to_context: to.context.clone(),
        protected: to.protected,
        target_version: target.chart_version.clone(),
        target_revision: target.revision,
        source,
        soak,
        record,
        images,
        plan: Box::new(plan),
        ask,
    })
}

/// [`Effect::RunPromotion`]: the change on the target's context, its events as
/// [`Msg::ChangeEvent`].
pub async fn run(
    kubeconfig: Option<std::path::PathBuf>,
    mut changes: crate::tui::changes::ChangeSettings,
    context: String,
    plan: Box<Plan>,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
) {
    use crate::core::workflows::upgrade::{Ending, Step, StepState};
    match crate::core::cluster::watch::client_for(kubeconfig.as_deref(), Some(&context)).await {
        Ok((client, _)) => {
            changes.kubeconfig = kubeconfig;
            changes.context = Some(context);
            crate::tui::changes::run(client, changes, plan, tx).await;
        }
        Err(e) => {
            let why = format!("cannot reach the context {context}: {e:#}");
            let _ = tx.send(Msg::ChangeEvent(Event::Step(
                Step::Lock,
                StepState::Failed(why.clone()),
            )));
            let _ = tx.send(Msg::ChangeEvent(Event::Finished(Report {
                ending: Ending::Aborted {
                    step: Step::Lock,
                    why,
                },
                backup: None,
                commit: None,
                rollback_commit: None,
                offer_rollback_to: None,
                warnings: Vec::new(),
            })));
        }
    }
}
