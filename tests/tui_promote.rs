//! `p` on the console's inventory (ratatui's TestBackend): the promotion of the selected
//! release from the environment before the target, through a review — prod behind stage's
//! chart version, the images that will change, the soak, the values repo's record — then a
//! reason for the failed soak and the protected target's release name typed, and the guided
//! upgrade run on prod's context: prod ends at stage's version and the values repo records
//! it under `prod/`. Read-only refuses `p` and the start.
//!
//! The effects the app asks for are run here as the console's runtime runs them
//! ([`helmdeck::tui::promote::prepare`], [`helmdeck::tui::promote::run`]), against the
//! demo's three sandboxes.

mod common;
use common::git;
use common::tui::{code, key, screen};

use crossterm::event::KeyCode;
use helmdeck::config::{Config, Platform};
use helmdeck::core::inventory::{
    EnvName, EnvRead, Inventory, ReleaseRead, ReleaseRef, WorkloadRead, assemble,
};
use helmdeck::core::releases::values_secrets::ValuesSecrets;
use helmdeck::core::workflows::driver::DriverKind;
use helmdeck::core::workflows::upgrade::{Event, Settings};
use helmdeck::sandbox::environments::{Environments, demo_environments};
use helmdeck::tui::app::{App, Effect, Msg};
use helmdeck::tui::changes::ChangeSettings;
use helmdeck::tui::keymap::KeyMap;
use helmdeck::tui::promote::{PromoteStage, PromotionAsk, Runtime};
use helmdeck::tui::theme::Theme;
use std::path::Path;
use std::time::Duration;

fn app(readonly: bool) -> App {
    App::new(
        KeyMap::default(),
        Theme::default(),
        "helmdeck-sandbox".into(),
        None,
        readonly,
    )
}

/// The demo's config: its three environments (stage's soak `soak`) and its platform.
fn config(soak: Option<&str>) -> Config {
    let mut config = Config {
        environments: demo_environments(),
        ..Default::default()
    };
    config.environments[1].soak = soak.map(String::from);
    let platform: Platform =
        serde_yaml::from_str("{name: mr-ee, namespace: mr-ee, release: ee}").unwrap();
    config.platforms.push(platform);
    config
}

fn change_settings(home: &Path, kubeconfig: &Path, chart_repo: String) -> ChangeSettings {
    ChangeSettings {
        driver: DriverKind::Sandbox,
        chart_repo: Some(chart_repo),
        timeout: Duration::from_secs(60),
        settings: Ok(Settings {
            backup_dir: home.join("backups"),
            values_repo: home.join("values"),
            journal_dir: home.join("journal"),
            secrets: ValuesSecrets {
                allow_plaintext: true,
                ..Default::default()
            },
            analyses: Default::default(),
            // The console's own context (dev); the promotion records under prod.
            environment: Some("dev".into()),
        }),
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    }
}

/// The chart version of prod's deployed ee.
async fn prod_version(envs: &Environments) -> String {
    let client =
        kube::Client::try_from(kube::Config::new(envs.prod.url().parse().unwrap())).unwrap();
    let h = helmdeck::core::releases::fetch::release_history(&client, "mr-ee", "ee")
        .await
        .unwrap();
    h.current().unwrap().chart.metadata.version.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_reviews_and_promotes_stage_to_prod() {
    let envs = Environments::start("default", "ee").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let kc = home.join("kc");
    envs.write_kubeconfig(&kc).unwrap();
    // Stage's revision was deployed 72 h ago: a soak of 1000 h has not passed.
    let config = config(Some("1000h"));
    let cs = change_settings(home, &kc, format!("{}/charts", envs.prod.url()));

    let mut a = app(false);
    let effects = a.on_key(key('8'));
    assert!(effects.contains(&Effect::LoadInventory), "{effects:?}");
    let inv = helmdeck::core::inventory::read::from_config(
        &config,
        Some(&kc),
        None,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    a.on_msg(Msg::Inventory(Ok(inv)));
    let s = screen(&mut a, 150, 40);
    assert!(s.contains("1.3.0 (rev 2) ⚠ behind stage"), "{s}");

    // `p`: stage → prod (the first environment whose chart version differs from the one
    // before it), prepared in the background.
    let effects = a.on_key(key('p'));
    let ask = PromotionAsk {
        release: "ee".into(),
        from: "stage".into(),
        from_namespace: "mr-ee".into(),
        to: "prod".into(),
        to_namespace: "mr-ee".into(),
    };
    assert_eq!(effects, vec![Effect::PreparePromotion(ask.clone())]);
    assert!(screen(&mut a, 150, 40).contains("Promote ee: stage → prod"));
    let rt = Runtime {
        config: &config,
        kubeconfig: Some(&kc),
        readonly: false,
        changes: &cs,
    };
    let msg = helmdeck::tui::promote::prepare(rt, ask).await;
    a.on_msg(msg);
    let s = screen(&mut a, 150, 40);
    for expected in [
        "Promote ee: stage → prod",
        "ee (mr-ee): chart mr-ee 1.3.0 → 1.4.2 · stage revision 4 → prod (now revision 2)",
        "✖ soak: revision 4 deployed 72h",
        "the soak time is 1000h00m",
        "values repo: none yet at",
        "prod is protected: enter asks for the release name typed",
        "images that will change",
        "router: ghcr.io/mr-ee/router:3.3.0 → ghcr.io/mr-ee/router:3.4.1",
        "preflight",
        "values (secrets shown as ****)",
    ] {
        assert!(s.contains(expected), "{expected:?} missing:\n{s}");
    }
    for secret in ["sandbox-api-secret", "pina_sandbox_token"] {
        assert!(!s.contains(secret), "{secret} shown:\n{s}");
    }

    // Enter: the failed soak asks why (an empty reason is not one), then the release name;
    // a wrong name changes nothing.
    a.on_key(code(KeyCode::Enter));
    assert!(screen(&mut a, 150, 40).contains("the soak failed: why go ahead anyway?"));
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    for c in "hotfix".chars() {
        a.on_key(key(c));
    }
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    let s = screen(&mut a, 150, 40);
    assert!(
        s.contains("prod is protected: type the release name (ee) to go ahead"),
        "{s}"
    );
    a.on_key(key('e'));
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    assert!(
        a.flash
            .as_ref()
            .is_some_and(|f| f.text.contains("is not the release name")),
        "{:?}",
        a.flash
    );
    assert_eq!(prod_version(&envs).await, "1.3.0", "nothing changed");

    // Read-only by now (a context switched to one marked so): the start is refused too.
    a.readonly = true;
    a.on_key(code(KeyCode::Enter));
    for c in "ee".chars() {
        a.on_key(key(c));
    }
    assert!(a.on_key(code(KeyCode::Enter)).is_empty());
    assert!(
        a.flash
            .as_ref()
            .is_some_and(|f| f.text.contains("read-only: promoting is disabled")),
        "{:?}",
        a.flash
    );
    a.readonly = false;

    // The name typed: the change runs on prod's context.
    a.on_key(code(KeyCode::Enter));
    for c in "ee".chars() {
        a.on_key(key(c));
    }
    let effects = a.on_key(code(KeyCode::Enter));
    let [Effect::RunPromotion { context, plan }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(context, "prod");
    assert!(
        plan.request
            .reason
            .starts_with("promote from stage revision 4 (mr-ee 1.4.2); soak skipped: hotfix"),
        "{}",
        plan.request.reason
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    helmdeck::tui::promote::run(
        Some(kc.clone()),
        cs.clone(),
        context.clone(),
        plan.clone(),
        tx,
    )
    .await;
    let mut after = Vec::new();
    while let Ok(m) = rx.try_recv() {
        let done = matches!(m, Msg::ChangeEvent(Event::Finished(_)));
        after.extend(a.on_msg(m));
        if done {
            break;
        }
    }
    let view = a.promotion.as_ref().unwrap();
    let PromoteStage::Finished(_, _, report) = &view.stage else {
        panic!("{:?}", view.stage);
    };
    assert!(report.ending.succeeded(), "{:?}", report.ending);
    assert!(
        a.flash
            .as_ref()
            .is_some_and(|f| !f.error && f.text.contains("promote ee stage → prod: succeeded")),
        "{:?}",
        a.flash
    );
    // The inventory is read again to show where prod is now.
    assert!(after.contains(&Effect::LoadInventory), "{after:?}");
    let s = screen(&mut a, 150, 40);
    assert!(s.contains("✔ succeeded"), "{s}");
    assert_eq!(prod_version(&envs).await, "1.4.2");

    // The values repo records it under prod, naming the source and its revision.
    let vr = home.join("values");
    let log = git(&vr, &["log", "-1", "--format=%B"]);
    assert!(
        log.starts_with("ee (prod/mr-ee): mr-ee 1.3.0 → 1.4.2")
            && log.contains(
                "Reason: promote from stage revision 4 (mr-ee 1.4.2); soak skipped: hotfix"
            ),
        "{log}"
    );
    let touched = git(&vr, &["show", "--name-only", "--format=", "HEAD"]);
    assert!(
        touched.lines().all(|l| l.starts_with("prod/mr-ee/ee/")),
        "{touched}"
    );

    // Enter closes it; the inventory is under it.
    a.on_key(code(KeyCode::Enter));
    assert!(a.promotion.is_none());
    assert!(a.inventory.is_some());
    envs.stop().await;
}

fn release(version: &str, app: &str) -> ReleaseRead {
    ReleaseRead {
        namespace: "mr-ee".into(),
        revision: 2,
        chart: "mr-ee".into(),
        chart_version: version.into(),
        app_version: app.into(),
        status: "deployed".into(),
        deployed_at: None,
        workloads: vec![WorkloadRead {
            kind: "Deployment".into(),
            name: "router".into(),
            template: vec![format!("ghcr.io/mr-ee/router:{app}")],
            ..Default::default()
        }],
    }
}

/// dev at 1.5.0, stage and prod at 1.4.2: no drift between stage and prod.
fn inventory(versions: [&str; 3]) -> Inventory {
    let env = |name: &str| EnvName {
        name: name.into(),
        context: name.into(),
        protected: name == "prod",
        namespace: None,
    };
    assemble(
        &[env("dev"), env("stage"), env("prod")],
        &[ReleaseRef {
            platform: "mr-ee".into(),
            namespace: "mr-ee".into(),
            release: "ee".into(),
        }],
        &versions.map(|v| EnvRead::Read(vec![Ok(Some(release(v, "3.4.1")))])),
        &[Ok(None)],
    )
}

#[test]
fn read_only_refuses_p() {
    let mut a = app(true);
    a.on_key(key('8'));
    a.on_msg(Msg::Inventory(Ok(inventory(["1.4.2", "1.4.2", "1.3.0"]))));
    let effects = a.on_key(key('p'));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(a.promotion.is_none());
    let flash = a.flash.clone().unwrap();
    assert!(
        flash.error && flash.text.contains("read-only: promoting is disabled"),
        "{flash:?}"
    );
    // Writable, `p` prepares the promotion.
    a.readonly = false;
    let effects = a.on_key(key('p'));
    assert!(matches!(effects.as_slice(), [Effect::PreparePromotion(_)]));
}

#[test]
fn the_target_is_the_first_environment_behind_the_one_before_it_and_t_picks_another() {
    let mut a = app(false);
    a.on_key(key('8'));
    a.on_msg(Msg::Inventory(Ok(inventory(["1.5.0", "1.4.2", "1.4.2"]))));
    let effects = a.on_key(key('p'));
    let [Effect::PreparePromotion(ask)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!((ask.from.as_str(), ask.to.as_str()), ("dev", "stage"));
    let effects = a.on_key(key('t'));
    let [Effect::PreparePromotion(ask)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!((ask.from.as_str(), ask.to.as_str()), ("stage", "prod"));
    a.on_key(code(KeyCode::Esc));
    assert!(a.promotion.is_none() && a.inventory.is_some());
}
