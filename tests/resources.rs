//! `:svc`, `:cm`, `:job`, `:secret`… resolved through the sandbox's discovery and listed as
//! its Table output, as the console's generic resource view fetches them.

use helmdeck::core::cluster::table::{list, list_as, resolve};
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::Client;
use kube::api::{Api, PostParams};
mod common;
use common::tui::screen as render;

fn obj<K: serde::de::DeserializeOwned>(v: serde_json::Value) -> K {
    serde_json::from_value(v).expect("a valid object")
}

#[tokio::test(flavor = "multi_thread")]
async fn kinds_resolve_through_discovery_and_list_as_tables() -> anyhow::Result<()> {
    let sb = Sandbox::start(Options::default()).await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    let pp = PostParams::default();
    let ns = "mr-ee";
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(
            &pp,
            &obj(serde_json::json!({
                "metadata": {"name": "incident-cm"}, "data": {"a": "1", "b": "2"}
            })),
        )
        .await?;
    Api::<Service>::namespaced(client.clone(), ns)
        .create(
            &pp,
            &obj(serde_json::json!({
                "metadata": {"name": "incident-svc"},
                "spec": {"ports": [{"port": 8080, "protocol": "TCP"}], "selector": {"app": "x"}}
            })),
        )
        .await?;
    Api::<Job>::namespaced(client.clone(), ns)
        .create(
            &pp,
            &obj(serde_json::json!({
                "metadata": {"name": "incident-job"},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}]}}}
            })),
        )
        .await?;
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(
            &pp,
            &obj(serde_json::json!({
                "metadata": {"name": "incident-secret"}, "type": "Opaque",
                "stringData": {"password": "hunter2-do-not-show"}
            })),
        )
        .await?;

    // Short names, plurals, singulars and kinds all resolve.
    for (typed, plural) in [
        ("svc", "services"),
        ("cm", "configmaps"),
        ("job", "jobs"),
        ("Job", "jobs"),
        ("configmap", "configmaps"),
        ("cj", "cronjobs"),
        ("secrets", "secrets"),
        ("jobs.batch", "jobs"),
    ] {
        let r = resolve(&client, typed).await?;
        assert_eq!(r.map(|r| r.plural), Some(plural.to_string()), ":{typed}");
    }

    // In one namespace: the Table's priority-0 columns, one row per object.
    let svc = list(&client, "svc", Some(ns)).await?;
    assert_eq!(svc.columns[0], "NAME", "{:?}", svc.columns);
    assert!(
        svc.columns.contains(&"TYPE".to_string()),
        "{:?}",
        svc.columns
    );
    assert!(
        svc.columns.contains(&"AGE".to_string()),
        "{:?}",
        svc.columns
    );
    assert!(
        !svc.columns.contains(&"SELECTOR".to_string()),
        "wide only: {:?}",
        svc.columns
    );
    let row = svc
        .rows
        .iter()
        .find(|r| r[0] == "incident-svc")
        .expect("the service is listed");
    let ty = svc.columns.iter().position(|c| c == "TYPE").unwrap();
    assert_eq!(row[ty], "ClusterIP", "{row:?}");

    let cm = list(&client, "cm", Some(ns)).await?;
    assert_eq!(cm.columns, ["NAME", "DATA", "AGE"]);
    let row = cm
        .rows
        .iter()
        .find(|r| r[0] == "incident-cm")
        .expect("listed");
    assert_eq!(row[1], "2", "{row:?}");

    // Across namespaces: NAMESPACE first, from each row's metadata.
    let jobs = list(&client, "job", None).await?;
    assert_eq!(
        jobs.columns,
        [
            "NAMESPACE",
            "NAME",
            "STATUS",
            "COMPLETIONS",
            "DURATION",
            "AGE"
        ]
    );
    assert!(
        jobs.rows
            .iter()
            .any(|r| r[0] == ns && r[1] == "incident-job"),
        "{:?}",
        jobs.rows
    );

    // Secrets: the server's Table has TYPE and a DATA count, never the values.
    let secrets = list(&client, "secret", Some(ns)).await?;
    assert_eq!(secrets.columns, ["NAME", "TYPE", "DATA", "AGE"]);
    let row = secrets
        .rows
        .iter()
        .find(|r| r[0] == "incident-secret")
        .expect("listed");
    assert_eq!((row[1].as_str(), row[2].as_str()), ("Opaque", "1"));
    assert!(
        !format!("{secrets:?}").contains("hunter2"),
        "no value is shown"
    );

    // Unknown names say so.
    let err = list(&client, "nosuch", None).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("no resource named 'nosuch'"),
        "{err:#}"
    );
    sb.stop().await;
    Ok(())
}

/// Runs the console's `:` command line and, as the runtime would, its list effects against
/// the sandbox, feeding the answers back.
async fn command(a: &mut helmdeck::tui::app::App, client: &Client, line: &str) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    a.on_key(KeyEvent::new(KeyCode::Char(':'), KeyModifiers::NONE));
    for c in line.chars() {
        a.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let effects = a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    run(a, client, effects).await;
}

/// Runs list effects as the runtime does and feeds their answers to the console.
async fn run(
    a: &mut helmdeck::tui::app::App,
    client: &Client,
    effects: Vec<helmdeck::tui::app::Effect>,
) {
    use helmdeck::tui::app::{Effect, Msg};
    for e in effects {
        let Effect::ListResource {
            name,
            namespace,
            resolved,
        } = e
        else {
            panic!("unexpected effect {e:?}");
        };
        let result = match resolved {
            Some(r) => list_as(client, r, namespace.as_deref()).await,
            None => list(client, &name, namespace.as_deref()).await,
        }
        .map_err(|e| format!("{e:#}"));
        a.on_msg(Msg::Resource {
            name,
            namespace,
            result,
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_opens_kinds_by_name_and_says_when_none_is_known() -> anyhow::Result<()> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use helmdeck::tui::app::{App, Effect};
    let sb = Sandbox::start(Options::default()).await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    Api::<ConfigMap>::namespaced(client.clone(), "mr-ee")
        .create(
            &PostParams::default(),
            &obj(serde_json::json!({"metadata": {"name": "incident-cm"}, "data": {"k": "v"}})),
        )
        .await?;
    let mut a = App::new(
        helmdeck::tui::keymap::KeyMap::default(),
        helmdeck::tui::theme::Theme::default(),
        "sandbox".into(),
        None,
        false,
    );
    command(&mut a, &client, "cm").await;
    let screen = render(&mut a, 160, 30);
    assert!(screen.contains("configmaps"), "{screen}");
    assert!(screen.contains("all namespaces"), "{screen}");
    assert!(
        screen.contains("NAMESPACE") && screen.contains("DATA"),
        "{screen}"
    );
    assert!(screen.contains("incident-cm"), "{screen}");

    // It lists again every few seconds while open, without asking discovery again.
    let mut refresh = Vec::new();
    for _ in 0..helmdeck::tui::app::RESOURCE_REFRESH_SECS {
        refresh.extend(a.on_tick());
    }
    let resolved = resolve(&client, "cm").await?;
    assert!(resolved.is_some());
    assert_eq!(
        refresh,
        vec![Effect::ListResource {
            name: "cm".into(),
            namespace: None,
            resolved
        }]
    );
    // The refresh's answer replaces the rows.
    Api::<ConfigMap>::namespaced(client.clone(), "mr-ee")
        .create(
            &PostParams::default(),
            &obj(serde_json::json!({"metadata": {"name": "second-cm"}})),
        )
        .await?;
    run(&mut a, &client, refresh).await;
    assert!(render(&mut a, 160, 30).contains("second-cm"));

    // `:ns` lists it again in that namespace; esc goes back.
    command(&mut a, &client, "ns mr-ee").await;
    let screen = render(&mut a, 160, 30);
    assert!(
        screen.contains("configmaps") && screen.contains("mr-ee"),
        "{screen}"
    );
    assert!(!screen.contains("NAMESPACE"), "{screen}");
    a.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(a.resource.is_none());

    command(&mut a, &client, "svc").await;
    assert!(render(&mut a, 160, 30).contains("services"));
    command(&mut a, &client, "job").await;
    let screen = render(&mut a, 160, 30);
    assert!(screen.contains("COMPLETIONS"), "{screen}");

    command(&mut a, &client, "nosuch").await;
    assert!(a.resource.is_none());
    let screen = render(&mut a, 160, 30);
    assert!(screen.contains("unknown command ':nosuch'"), "{screen}");
    sb.stop().await;
    Ok(())
}

/// Issue 12: a custom resource, defined by a CRD through the kube client, resolves by short
/// name and lists with the printer columns the server's Table offers; the console opens it
/// (`:kt`, `:crd`) with those columns; deleting the CRD ends its watches and its listing.
#[tokio::test(flavor = "multi_thread")]
async fn custom_resources_list_with_their_crds_printer_columns() -> anyhow::Result<()> {
    use futures::StreamExt;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, WatchEvent, WatchParams,
    };
    let sb = Sandbox::start(Options::default()).await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    let pp = PostParams::default();

    // The scenario's KafkaTopics: `kt` resolves; the Table's columns are the CRD's.
    let kt = resolve(&client, "kt").await?.expect("kt resolves");
    assert_eq!(
        (kt.group.as_str(), kt.version.as_str(), kt.plural.as_str()),
        ("kafka.strimzi.io", "v1beta2", "kafkatopics")
    );
    let topics = list(&client, "kt", Some("mr-ee")).await?;
    assert_eq!(
        topics.columns,
        [
            "NAME",
            "CLUSTER",
            "PARTITIONS",
            "REPLICATION FACTOR",
            "READY"
        ]
    );
    let main = topics
        .rows
        .iter()
        .find(|r| r[0] == "mr-ee-main")
        .expect("listed");
    assert_eq!(main[1..], ["mr-ee", "6", "3", "True"]);
    let crds = list(&client, "crd", None).await?;
    assert_eq!(crds.columns, ["NAME", "CREATED AT"]);
    assert!(
        crds.rows
            .iter()
            .any(|r| r[0] == "kafkatopics.kafka.strimzi.io")
    );

    // A CRD of our own, cluster-scoped, with no printer columns: NAME and the default AGE.
    let crds_api = Api::<CustomResourceDefinition>::all(client.clone());
    crds_api
        .create(
            &pp,
            &obj(serde_json::json!({
                "metadata": {"name": "tenants.iomete.com"},
                "spec": {"group": "iomete.com", "scope": "Cluster",
                    "names": {"kind": "Tenant", "plural": "tenants", "shortNames": ["tn"]},
                    "versions": [{"name": "v1", "served": true, "storage": true,
                        "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            })),
        )
        .await?;
    let crd = crds_api.get("tenants.iomete.com").await?;
    let established = crd
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True");
    assert!(established);
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("iomete.com", "v1", "Tenant"),
        "tenants",
    );
    let tenants = Api::<DynamicObject>::all_with(client.clone(), &ar);
    let mut events = tenants.watch(&WatchParams::default(), "0").await?.boxed();
    let mut acme: DynamicObject = obj(serde_json::json!({
        "apiVersion": "iomete.com/v1", "kind": "Tenant",
        "metadata": {"name": "acme", "labels": {"tier": "gold"}}, "spec": {"plan": "gold"},
    }));
    acme = tenants.create(&pp, &acme).await?;
    assert_eq!(acme.metadata.generation, Some(1));
    let rv = acme
        .metadata
        .resource_version
        .clone()
        .expect("a resourceVersion");
    assert!(rv.parse::<u64>().is_ok(), "{rv}");
    match events.next().await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("acme")),
        other => panic!("expected ADDED acme, got {other:?}"),
    }
    let listed = tenants
        .list(&kube::api::ListParams::default().labels("tier=gold"))
        .await?;
    assert_eq!(listed.items.len(), 1);
    let t = list(&client, "tn", None).await?;
    assert_eq!(t.columns, ["NAME", "AGE"]);
    assert_eq!(t.rows[0][0], "acme");

    // The console opens both with the server's columns.
    let mut a = helmdeck::tui::app::App::new(
        helmdeck::tui::keymap::KeyMap::default(),
        helmdeck::tui::theme::Theme::default(),
        "sandbox".into(),
        None,
        false,
    );
    command(&mut a, &client, "kt").await;
    let screen = render(&mut a, 160, 30);
    assert!(screen.contains("kafkatopics"), "{screen}");
    assert!(
        screen.contains("REPLICATION FACTOR") && screen.contains("mr-ee-google-analytics"),
        "{screen}"
    );
    command(&mut a, &client, "crd").await;
    let screen = render(&mut a, 160, 30);
    assert!(
        screen.contains("CREATED AT") && screen.contains("tenants.iomete.com"),
        "{screen}"
    );

    // Deleting the CRD deletes its objects (the watch sees it go, then ends); no longer served.
    crds_api
        .delete("tenants.iomete.com", &DeleteParams::default())
        .await?;
    match events.next().await {
        Some(Ok(WatchEvent::Deleted(o))) => assert_eq!(o.metadata.name.as_deref(), Some("acme")),
        other => panic!("expected DELETED acme, got {other:?}"),
    }
    assert!(events.next().await.is_none(), "the watch ends");
    let err = tenants.get("acme").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref e) if e.code == 404),
        "{err}"
    );
    assert_eq!(resolve(&client, "tn").await?, None);
    sb.stop().await;
    Ok(())
}
