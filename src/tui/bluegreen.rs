//! The blue/green cutover view over the Workloads screen (`:bg` on a Deployment): the two
//! slots with their images and readiness, which one the Service selects, its endpoints and
//! the hold left; `s` switches to green, `b` goes back to blue — both through the read-only
//! gate — `ctrl-r` reads again, `esc` closes. The work is
//! [`crate::core::workflows::bluegreen`]'s, run off the UI thread.

use crate::core::cluster::WorkloadKind;
use crate::core::workflows::bluegreen::{self, Settings, Status, Target};
use crate::tui::app::{App, Effect, Msg};
use crate::tui::views::tables::RowRef;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A step asked for from the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BgStep {
    Switch,
    Back,
}

/// The view: the Deployment, its cutover as last read, the step under way and the last
/// step's outcome.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlueGreenView {
    pub namespace: String,
    pub workload: String,
    pub status: Option<Result<Status, String>>,
    pub busy: Option<String>,
    pub outcome: Option<Result<String, String>>,
}

impl App {
    /// `:bg`: the cutover of the selected Deployment (Workloads screen).
    pub fn open_bluegreen(&mut self) -> Vec<Effect> {
        let Some(RowRef::Workload(kind, namespace, workload)) = self.selected_row() else {
            self.flash("`:bg` works on a Deployment of the Workloads screen", false);
            return Vec::new();
        };
        if kind != WorkloadKind::Deployment {
            self.flash("blue/green cuts over Deployments only", false);
            return Vec::new();
        }
        self.bluegreen = Some(BlueGreenView {
            namespace: namespace.clone(),
            workload: workload.clone(),
            busy: Some("reading…".into()),
            ..Default::default()
        });
        vec![Effect::BlueGreen {
            namespace,
            workload,
            step: None,
        }]
    }

    /// A read (and maybe a step) came back.
    pub fn on_bluegreen(
        &mut self,
        workload: String,
        status: Result<Box<Status>, String>,
        outcome: Option<Result<String, String>>,
    ) {
        let Some(view) = &mut self.bluegreen else {
            return;
        };
        if view.workload != workload {
            return;
        }
        view.status = Some(status.map(|s| *s));
        view.busy = None;
        if outcome.is_some() {
            view.outcome = outcome;
        }
    }

    /// Keys while the view is open.
    pub fn on_bluegreen_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(view) = &self.bluegreen else {
            return Vec::new();
        };
        let (namespace, workload) = (view.namespace.clone(), view.workload.clone());
        let idle = view.busy.is_none();
        let step = match key.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                self.bluegreen = None;
                return Vec::new();
            }
            KeyCode::Char('r') if key.modifiers.contains(KeyModifiers::CONTROL) => None,
            KeyCode::Char('s') => Some(BgStep::Switch),
            KeyCode::Char('b') => Some(BgStep::Back),
            _ => return Vec::new(),
        };
        if let Some(s) = step {
            let what = match s {
                BgStep::Switch => "blue/green switch",
                BgStep::Back => "blue/green back",
            };
            if self.refuse_readonly(what) {
                return Vec::new();
            }
        }
        if !idle {
            return Vec::new();
        }
        if let Some(view) = &mut self.bluegreen {
            view.busy = Some(match step {
                Some(BgStep::Switch) => "switching to green…".into(),
                Some(BgStep::Back) => "going back to blue…".into(),
                None => "reading…".into(),
            });
        }
        vec![Effect::BlueGreen {
            namespace,
            workload,
            step,
        }]
    }
}

/// Runs [`Effect::BlueGreen`]: the step (when asked), then the status read, sent back as
/// [`Msg::BlueGreen`].
pub async fn run(
    client: kube::Client,
    settings: Result<Settings, String>,
    target: Target,
    step: Option<BgStep>,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
) {
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Msg::BlueGreen {
                workload: target.workload,
                status: Err(e),
                outcome: None,
            });
            return;
        }
    };
    let quiet = |_: String| {};
    let outcome = match step {
        None => None,
        Some(s) => {
            let r = match s {
                BgStep::Switch => bluegreen::switch(&client, &settings, &target, &quiet).await,
                BgStep::Back => bluegreen::back(&client, &settings, &target, &quiet).await,
            };
            Some(match r {
                Ok(o) if o.succeeded => Ok(o.summary),
                Ok(o) => Err(o.summary),
                Err(e) => Err(format!("{e:#}")),
            })
        }
    };
    let status = bluegreen::status(&client, &settings, &target)
        .await
        .map(Box::new)
        .map_err(|e| format!("{e:#}"));
    let _ = tx.send(Msg::BlueGreen {
        workload: target.workload,
        status,
        outcome,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::workflows::bluegreen::{Cutover, Endpoint, Slot};
    use crate::tui::keymap::KeyMap;
    use crate::tui::theme::Theme;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn status(active: Slot) -> Status {
        let image =
            |tag: &str| BTreeMap::from([("router".into(), format!("ghcr.io/mr-ee/router:{tag}"))]);
        let ep = |pod: &str, ip: &str, slot| Endpoint {
            pod: pod.into(),
            ip: ip.into(),
            ready: true,
            slot: Some(slot),
        };
        Status {
            cutover: Some(Cutover {
                workload: "router".into(),
                green: "router-green".into(),
                service: "router".into(),
                release: Some("ee".into()),
                original_selector: BTreeMap::from([(
                    "app.kubernetes.io/name".into(),
                    "router".into(),
                )]),
                blue_hash: "8vnpv2dbvx".into(),
                blue_replicas: 2,
                blue_images: image("3.4.1"),
                green_images: image("3.5.0"),
                active,
                started: jiff::Timestamp::UNIX_EPOCH,
                switched: None,
                hold_seconds: 600,
                verified: Some(Ok("2/2 ready".into())),
                log: Vec::new(),
            }),
            blue: Some((2, 2)),
            green: Some((2, 2)),
            endpoints: match active {
                Slot::Green => vec![ep("router-green-a", "10.244.1.23", Slot::Green)],
                Slot::Blue => vec![ep("router-8vnpv2dbvx-b", "10.244.2.16", Slot::Blue)],
            },
            hold_left: (active == Slot::Green).then(|| Duration::from_secs(432)),
            interrupted: None,
        }
    }

    fn app(readonly: bool) -> App {
        let mut a = App::new(
            KeyMap::default(),
            Theme::default(),
            "fixture".into(),
            None,
            readonly,
        );
        a.bluegreen = Some(BlueGreenView {
            namespace: "mr-ee".into(),
            workload: "router".into(),
            status: Some(Ok(status(Slot::Blue))),
            ..Default::default()
        });
        a
    }

    fn render(a: &mut App) -> String {
        let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
        t.draw(|f| crate::tui::views::draw(f, a)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_view_shows_both_slots_and_which_one_the_service_selects() {
        let mut a = app(false);
        let screen = render(&mut a);
        assert!(
            screen.contains("Blue/green — deploy/router -n mr-ee"),
            "{screen}"
        );
        assert!(screen.contains("▶ blue"), "{screen}");
        assert!(screen.contains("deploy/router-green"), "{screen}");
        assert!(screen.contains("ghcr.io/mr-ee/router:3.5.0"), "{screen}");
        assert!(
            screen.contains("router-8vnpv2dbvx-b (10.244.2.16, blue)"),
            "{screen}"
        );
        assert!(screen.contains("s: switch to green"), "{screen}");
        // A switch asked for, then its outcome and the new state come back.
        let effects = a.on_key(key('s'));
        assert_eq!(
            effects,
            vec![Effect::BlueGreen {
                namespace: "mr-ee".into(),
                workload: "router".into(),
                step: Some(BgStep::Switch)
            }]
        );
        assert!(a.on_key(key('b')).is_empty(), "one step at a time");
        assert!(render(&mut a).contains("switching to green…"));
        a.on_bluegreen(
            "router".into(),
            Ok(Box::new(status(Slot::Green))),
            Some(Ok("switch: green active".into())),
        );
        let screen = render(&mut a);
        assert!(screen.contains("▶ green"), "{screen}");
        assert!(screen.contains("hold: 7m 12s left"), "{screen}");
        assert!(
            screen.contains("router-green-a (10.244.1.23, green)"),
            "{screen}"
        );
        assert!(screen.contains("switch: green active"), "{screen}");
        assert!(!screen.contains("switching to green…"), "{screen}");
        a.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert!(a.bluegreen.is_none());
    }

    #[test]
    fn read_only_refuses_switch_and_back_but_reads() {
        let mut a = app(true);
        for c in ['s', 'b'] {
            assert!(a.on_key(key(c)).is_empty(), "{c}");
            let flash = a.flash.clone().expect("a refusal is said");
            assert!(
                flash.text.starts_with("read-only: blue/green"),
                "{}",
                flash.text
            );
        }
        assert!(a.bluegreen.as_ref().unwrap().busy.is_none());
        let read = a.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
        assert!(
            matches!(read.as_slice(), [Effect::BlueGreen { step: None, .. }]),
            "{read:?}"
        );
    }

    #[test]
    fn bg_asks_for_a_deployment_of_the_workloads_screen() {
        let mut a = App::new(
            KeyMap::default(),
            Theme::default(),
            "fixture".into(),
            None,
            false,
        );
        let effects: Vec<Effect> = ":bg".chars().flat_map(|c| a.on_key(key(c))).collect();
        assert!(effects.is_empty());
        let effects = a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(effects.is_empty(), "{effects:?}");
        assert!(a.bluegreen.is_none());
        let flash = a.flash.clone().expect("said why");
        assert!(
            flash.text.contains("Deployment of the Workloads screen"),
            "{}",
            flash.text
        );
    }
}
