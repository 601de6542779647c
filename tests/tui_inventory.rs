//! The inventory over the console (`8`, `:inv`) on ratatui's TestBackend: opened by its
//! key and its command, read in the background, drawn with drift in the warning colour and
//! unreachable environments named, closed with esc.

mod common;
use common::tui::{code, draw, key, text};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use helmdeck::core::inventory::{
    EnvName, EnvRead, Inventory, ReleaseRead, ReleaseRef, RunningImage, WorkloadRead, assemble,
};
use helmdeck::tui::app::{App, Effect, Msg};
use helmdeck::tui::keymap::KeyMap;
use helmdeck::tui::theme::{Role, Theme};
use ratatui::buffer::Buffer;

fn release(version: &str, app: &str) -> ReleaseRead {
    ReleaseRead {
        namespace: "mr-ee".into(),
        revision: if version == "1.3.0" { 2 } else { 4 },
        chart: "mr-ee".into(),
        chart_version: version.into(),
        app_version: app.into(),
        status: "deployed".into(),
        deployed_at: None,
        workloads: vec![WorkloadRead {
            kind: "Deployment".into(),
            name: "router".into(),
            template: vec![format!("ghcr.io/mr-ee/router:{app}")],
            running: vec![RunningImage {
                container: "router".into(),
                image: format!("ghcr.io/mr-ee/router:{app}"),
                tag: Some(app.into()),
                digest: None,
                pods: 2,
            }],
            error: None,
        }],
    }
}

/// What the demo shows: dev and stage at 1.4.2, prod at 1.3.0, and a standby that
/// gives no answer.
fn inventory() -> Inventory {
    let env = |name: &str| EnvName {
        name: name.into(),
        context: name.into(),
        protected: name == "prod",
        namespace: None,
    };
    assemble(
        &[env("dev"), env("stage"), env("prod"), env("dr")],
        &[ReleaseRef {
            platform: "mr-ee".into(),
            namespace: "mr-ee".into(),
            release: "ee".into(),
        }],
        &[
            EnvRead::Read(vec![Ok(Some(release("1.4.2", "3.4.1")))]),
            EnvRead::Read(vec![Ok(Some(release("1.4.2", "3.4.1")))]),
            EnvRead::Read(vec![Ok(Some(release("1.3.0", "3.3.0")))]),
            EnvRead::Unreachable("no answer within 5s".into()),
        ],
        &[Ok(Some("2.0.0".into()))],
    )
}

fn app() -> App {
    App::new(
        KeyMap::default(),
        Theme::default(),
        "helmdeck-sandbox".into(),
        None,
        false,
    )
}

#[test]
fn eight_reads_the_inventory_and_draws_it_with_drift_marked() {
    let mut a = app();
    let effects = a.on_key(key('8'));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::LoadInventory)),
        "{effects:?}"
    );
    let screen = text(&draw(&mut a, 130, 30));
    assert!(screen.contains("Inventory (reading…)"), "{screen}");
    // One read at a time: ctrl-r while it runs starts no second one.
    let again = a.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert!(again.is_empty(), "{again:?}");
    assert!(screen.contains("reading the environments…"), "{screen}");

    a.on_msg(Msg::Inventory(Ok(inventory())));
    let buf = draw(&mut a, 130, 30);
    let screen = text(&buf);
    for expected in [
        "dev",
        "stage",
        "prod (protected)",
        "dr (unreachable)",
        "mr-ee · release ee · chart mr-ee · newest 2.0.0",
        "1.3.0 (rev 2) ⚠ behind stage",
        "3.3.0 ⚠ behind stage",
        "deploy/router",
        "dr: unreachable: no answer within 5s",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
    }
    // The drift is in the warning colour; the cell of the same row in stage is not.
    let warning = Theme::default().style(Role::Warning).fg;
    let (x, y) = find(&buf, "1.3.0 (rev 2)").unwrap();
    assert_eq!(buf[(x, y)].fg, warning.unwrap());
    let (x, y) = find(&buf, "1.4.2 (rev 4)").unwrap();
    assert_ne!(Some(buf[(x, y)].fg), warning);

    a.on_key(code(KeyCode::Esc));
    assert!(a.inventory.is_none());
    assert!(!text(&draw(&mut a, 130, 30)).contains("Inventory"));
}

#[test]
fn colon_inv_opens_it_and_a_failure_says_why() {
    let mut a = app();
    let mut effects = a.on_key(key(':'));
    for c in "inv".chars() {
        effects.extend(a.on_key(key(c)));
    }
    effects.extend(a.on_key(code(KeyCode::Enter)));
    assert!(effects.iter().any(|e| matches!(e, Effect::LoadInventory)));
    a.on_msg(Msg::Inventory(Err(
        "config file /x.yaml: no environments: add `environments: …`".into(),
    )));
    let screen = text(&draw(&mut a, 130, 20));
    assert!(
        screen.contains("cannot read the inventory: config file /x.yaml: no environments"),
        "{screen}"
    );
    // ctrl-r reads again.
    let again = a.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    assert!(again.iter().any(|e| matches!(e, Effect::LoadInventory)));
}

/// Where `needle` starts in the buffer.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let first = needle.chars().next()?.to_string();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            if buf[(x, y)].symbol() != first {
                continue;
            }
            let rest: String = (x..buf.area.width)
                .take(needle.chars().count())
                .map(|xx| buf[(xx, y)].symbol().to_string())
                .collect();
            if rest == needle {
                return Some((x, y));
            }
        }
    }
    None
}
