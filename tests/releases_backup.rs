//! Backups of a Helm release against an in-process sandbox (kube client over HTTP).

use helmdeck::core::releases::backup;
use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use std::io::Read;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_show_restore() {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let client = Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("backups");

    let info = backup::create(&client, "mr-ee", "ee", &dir).await.unwrap();
    let m = &info.manifest;
    assert_eq!(
        (m.release.as_str(), m.namespace.as_str(), m.revision),
        ("ee", "mr-ee", 4)
    );
    assert_eq!(
        (m.chart.as_str(), m.chart_version.as_str()),
        ("mr-ee", "1.4.2")
    );
    let paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths[0], "values.yaml");
    for want in [
        "release-secrets/sh.helm.release.v1.ee.v1.json",
        "release-secrets/sh.helm.release.v1.ee.v4.json",
        "resources/Deployment/router.json",
        "resources/Deployment/forwarder-pinterest.json",
        "resources/Service/router.json",
        "resources/PodDisruptionBudget/router.json",
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:?}");
    }
    // Only the release's objects: nothing of iomete, no pods or replica sets.
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("keycloak") || p.contains("ReplicaSet") || p.contains("Pod/"))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&info.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let name = info.path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("mr-ee_ee_") && name.ends_with("Z.tar.gz"),
        "{name}"
    );

    // The archive is a plain tar.gz with SHA256SUMS in sha256sum's format.
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&info.path).unwrap(),
    ));
    let mut sums = String::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == "SHA256SUMS" {
            e.read_to_string(&mut sums).unwrap();
        }
    }
    assert!(
        sums.lines()
            .any(|l| l.ends_with("  values.yaml") && l.len() == 64 + 2 + 11),
        "{sums}"
    );

    let listed = backup::list(&dir, Some("mr-ee"), Some("ee")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].manifest, info.manifest);
    assert!(backup::list(&dir, Some("iomete"), None).unwrap().is_empty());

    let read = backup::read(&info.path).unwrap();
    let values = String::from_utf8(read.files[0].1.clone()).unwrap();
    assert!(values.contains("saslPassword"), "{values}");

    // Lose a deployment and the latest release Secret; add an object the backup does not know.
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "mr-ee");
    deploys
        .delete("forwarder-pinterest", &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "mr-ee");
    secrets
        .delete("sh.helm.release.v1.ee.v4", &DeleteParams::default())
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "mr-ee");
    let extra: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "ee-extra", "labels": {"app.kubernetes.io/instance": "ee"}}
    }))
    .unwrap();
    cms.create(&PostParams::default(), &extra).await.unwrap();

    let report = backup::restore(&client, &read).await.unwrap();
    assert_eq!(
        report.created,
        [
            "Secret/sh.helm.release.v1.ee.v4",
            "Deployment/forwarder-pinterest"
        ]
    );
    assert!(report.present.contains(&"Deployment/router".to_string()));
    assert!(
        deploys
            .get_opt("forwarder-pinterest")
            .await
            .unwrap()
            .is_some()
    );
    let v4 = secrets.get("sh.helm.release.v1.ee.v4").await.unwrap();
    let decoded = helmdeck::core::release::release_from_secret(&v4).unwrap();
    assert_eq!(decoded.chart.metadata.version, "1.4.2");
    // Never deletes.
    assert!(cms.get_opt("ee-extra").await.unwrap().is_some());
    // A second restore finds everything present.
    let again = backup::restore(&client, &read).await.unwrap();
    assert!(again.created.is_empty());

    let err = backup::create(&client, "mr-ee", "nope", &dir)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no Helm release \"nope\""),
        "{err}"
    );
    sb.stop().await;
}

#[test]
fn a_damaged_backup_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // A backup whose values.yaml does not match its checksum.
    let manifest = serde_json::json!({
        "format": 1, "release": "ee", "namespace": "mr-ee", "created": "2025-05-01T10:00:00Z",
        "helmdeck_version": "0.1.0", "chart": "mr-ee", "chart_version": "1.4.2", "revision": 4,
        "files": [{"path": "values.yaml", "sha256": "0".repeat(64), "bytes": 3}],
    });
    let path = tmp.path().join("mr-ee_ee_20250501T100000.000Z.tar.gz");
    let gz =
        flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in [
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ("values.yaml", b"a: 1".to_vec()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        tar.append_data(&mut h, name, &data[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    let err = backup::read(&path).unwrap_err();
    assert!(
        err.to_string()
            .contains("values.yaml does not match its checksum"),
        "{err}"
    );
    // It is still listed (its manifest is readable), so the user can see it.
    assert_eq!(backup::list(tmp.path(), None, None).unwrap().len(), 1);

    std::fs::write(tmp.path().join("junk.tar.gz"), b"not gzip").unwrap();
    assert!(backup::read(&tmp.path().join("junk.tar.gz")).is_err());
    assert_eq!(backup::list(tmp.path(), None, None).unwrap().len(), 1);
}
