//! `y` (YAML) and `d` (describe) of every kind the console lists, fetched from the in-process
//! sandbox as the console's runtime fetches them.

use helmdeck::core::cluster::object::{ObjectFormat, ObjectKind, fetch_text};
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret};
use kube::Client;
use kube::api::{Api, ListParams};

fn named<K: kube::Resource>(items: &[K]) -> (String, String) {
    let first = items.first().expect("the sandbox has one");
    (
        first.meta().namespace.clone().unwrap_or_default(),
        first.meta().name.clone().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_shows_as_yaml_and_described() -> anyhow::Result<()> {
    let sb = Sandbox::start(Options::default()).await?;
    let client = Client::try_from(kube::Config::new(sb.url().parse()?))?;
    let lp = ListParams::default();
    let node = named(&Api::<Node>::all(client.clone()).list(&lp).await?.items);
    let pod = named(
        &Api::<Pod>::namespaced(client.clone(), "mr-ee")
            .list(&lp)
            .await?
            .items,
    );
    let ds = named(&Api::<DaemonSet>::all(client.clone()).list(&lp).await?.items);
    let release_secrets = Api::<Secret>::all(client.clone())
        .list(&ListParams::default().labels("owner=helm"))
        .await?
        .items;
    let release = {
        let s = release_secrets.first().expect("a Helm release");
        (
            s.metadata.namespace.clone().unwrap_or_default(),
            s.metadata.labels.as_ref().unwrap()["name"].clone(),
        )
    };
    let mut objects = vec![
        (ObjectKind::Node, node),
        (ObjectKind::Deployment, ("mr-ee".into(), "router".into())),
        (ObjectKind::StatefulSet, ("iomete".into(), "minio".into())),
        (ObjectKind::DaemonSet, ds),
        (ObjectKind::Pod, pod),
        (ObjectKind::Release, release),
    ];
    // Events come as the controllers work.
    let events = Api::<Event>::all(client.clone()).list(&lp).await?.items;
    if !events.is_empty() {
        objects.push((ObjectKind::Event, named(&events)));
    }
    for (kind, (ns, name)) in objects {
        let yaml = fetch_text(&client, kind, &ns, &name, ObjectFormat::Yaml).await?;
        let described = fetch_text(&client, kind, &ns, &name, ObjectFormat::Describe).await?;
        assert!(!yaml.contains("managedFields"), "{kind:?}: {yaml}");
        if kind == ObjectKind::Release {
            assert!(yaml.contains("# Source:"), "the manifest: {yaml}");
            assert!(described.contains("Revision:"), "{described}");
        } else {
            assert!(yaml.contains(&format!("name: {name}")), "{kind:?}: {yaml}");
            assert!(
                yaml.contains(&format!("kind: {}", kind.name())),
                "{kind:?}: {yaml}"
            );
        }
        assert!(
            described.starts_with(&format!("Name:         {name}\n")),
            "{kind:?}: {described}"
        );
    }
    let err = fetch_text(
        &client,
        ObjectKind::Deployment,
        "mr-ee",
        "nope",
        ObjectFormat::Yaml,
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("mr-ee/nope"), "{err:#}");
    sb.stop().await;
    Ok(())
}
