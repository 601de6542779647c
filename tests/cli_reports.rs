//! What the commands report when what they read is wrong (issue #13): a release whose
//! revisions cannot be decoded (`history` exits 1 naming each revision and what failed;
//! `diff` says which revisions exist and which could not be decoded), and a config or theme
//! file that cannot be used (reported by line and column without a word of its content,
//! exit 2 — an unknown theme too, even under NO_COLOR).

use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished `helmdeck` said.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with a private home, killing it past 30 s (`code` is then None).
fn helmdeck(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env_remove("NO_COLOR")
        .env_remove("HELMDECK_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let read = |r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut r = r;
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A release Secret as Helm labels it, with `data` as given.
fn release_secret(release: &str, revision: i64, data: Option<&[u8]>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("sh.helm.release.v1.{release}.v{revision}")),
            namespace: Some("mr-ee".into()),
            labels: Some(BTreeMap::from([
                ("owner".to_string(), "helm".to_string()),
                ("name".to_string(), release.to_string()),
                ("version".to_string(), revision.to_string()),
                ("status".to_string(), "superseded".to_string()),
            ])),
            ..Default::default()
        },
        type_: Some("helm.sh/release.v1".into()),
        data: data.map(|d| BTreeMap::from([("release".to_string(), ByteString(d.to_vec()))])),
        ..Default::default()
    }
}

/// A sandbox, a private directory holding a kubeconfig for it (the path as text), and a
/// client of it.
async fn sandbox() -> (Sandbox, tempfile::TempDir, String, kube::Client) {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kc = tmp.path().join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap().to_string();
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    (sb, tmp, kc, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_revisions_are_named_by_history_and_diff() {
    let (sb, tmp, kc, client) = sandbox().await;
    let secrets: Api<Secret> = Api::namespaced(client, "mr-ee");
    // `ee` gets a revision 9 that is not base64; `broken` has only revisions that cannot
    // be decoded: 1 is base64 of something that is not gzip, 2 has no payload at all.
    let not_gzip = b"H4sIAAAAAAAA/wBhZCBkYXRh"; // base64 of a gzip header, then junk
    for s in [
        release_secret("ee", 9, Some(b"not base64 at all!")),
        release_secret("broken", 1, Some(not_gzip)),
        release_secret("broken", 2, None),
    ] {
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let home = tmp.path().to_path_buf();
    let run = move |args: Vec<String>| {
        let home = home.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            helmdeck(&home, &args, &[])
        })
    };
    let args = |a: &[&str]| -> Vec<String> {
        a.iter()
            .map(|s| s.to_string())
            .chain([
                "-n".into(),
                "mr-ee".into(),
                "--kubeconfig".into(),
                kc.clone(),
            ])
            .collect()
    };

    // history: the readable revisions are listed, the unreadable one is named with what
    // failed, and the exit code says something is wrong.
    let r = run(args(&["history", "ee"])).await.unwrap();
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("REVISION") && r.stdout.contains("mr-ee-"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains(
            "mr-ee/ee revision 9 (Secret sh.helm.release.v1.ee.v9) cannot be decoded: \
             release payload is not valid base64"
        ),
        "{}",
        r.stderr
    );
    let r = run(args(&["history", "ee", "-o", "json"])).await.unwrap();
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert!(!rows.as_array().unwrap().is_empty());

    let r = run(args(&["history", "broken"])).await.unwrap();
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("revision 1 (Secret sh.helm.release.v1.broken.v1) cannot be decoded: release payload is not valid gzip")
            && r.stderr.contains("revision 2 (Secret sh.helm.release.v1.broken.v2) cannot be decoded: secret has no data.release")
            && r.stderr.contains("2 of the 2 revisions of mr-ee/broken could not be decoded"),
        "{}",
        r.stderr
    );

    // diff: a revision that cannot be decoded is named as such, with what failed; one that
    // does not exist is answered with what exists and what could not be decoded.
    let r = run(args(&["diff", "broken", "1", "2"])).await.unwrap();
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "mr-ee/broken revision 1 (Secret sh.helm.release.v1.broken.v1) cannot be decoded: \
             release payload is not valid gzip"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("it has )"), "{}", r.stderr);
    let r = run(args(&["diff", "broken", "3", "4"])).await.unwrap();
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "mr-ee/broken has no revision 3: none of its revisions could be decoded (1, 2)"
        ),
        "{}",
        r.stderr
    );
    let r = run(args(&["diff", "ee", "1", "7"])).await.unwrap();
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("mr-ee/ee has no revision 7: it has revisions 1, ")
            && r.stderr.contains("; 9 could not be decoded"),
        "{}",
        r.stderr
    );
    // Two readable revisions still diff, with a warning about the other.
    let r = run(args(&["diff", "ee", "1", "2"])).await.unwrap();
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: mr-ee/ee revision 9"),
        "{}",
        r.stderr
    );
    sb.stop().await;
}

/// What a file must never be echoed as: every line of the "secret" file below.
const SECRET_FILE: &str = "root:x:0:0:root:/root:/bin/bash\n\
                           deploy:x:1000:1000:token-hunter2:/home/deploy:/bin/sh\n";

#[test]
fn a_file_that_is_not_a_theme_is_refused_without_its_content() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("passwd");
    std::fs::write(&file, SECRET_FILE).unwrap();
    let r = helmdeck(tmp.path(), &["--theme", file.to_str().unwrap()], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "helmdeck: invalid theme {}: line 1 column 1: wrong type (expected a map)",
            file.display()
        )
    );
    // The real one, when there is one.
    if Path::new("/etc/passwd").exists() {
        let r = helmdeck(tmp.path(), &["--theme", "/etc/passwd"], &[]);
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(r.stderr.contains("line 1 column 1"), "{}", r.stderr);
        assert!(!r.stderr.contains("root:"), "{}", r.stderr);
    }
    // A theme file whose values are wrong: where, and what a colour is, not the value.
    let theme = tmp.path().join("mine.yaml");
    std::fs::write(&theme, "title: { fg: hunter2 }\n").unwrap();
    let r = helmdeck(tmp.path(), &["--theme", theme.to_str().unwrap()], &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("line 1 column 14: invalid value (expected a colour name"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[test]
fn an_unknown_theme_is_an_error_even_under_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let r = helmdeck(tmp.path(), &["--theme", "solarised"], env);
        assert_eq!(r.code, Some(2), "{env:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("theme `solarised` not found")
                && r.stderr
                    .contains("built-in themes (dark, light, high-contrast)"),
            "{env:?}: {}",
            r.stderr
        );
    }
    // Named by the config file instead: the same.
    let config = tmp.path().join("config.yaml");
    std::fs::write(&config, "theme: solarised\n").unwrap();
    let r = helmdeck(
        tmp.path(),
        &["--config", config.to_str().unwrap()],
        &[("NO_COLOR", "1")],
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("theme `solarised` not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_file_that_is_not_a_config_is_refused_without_its_content() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("passwd");
    std::fs::write(&config, SECRET_FILE).unwrap();
    let config = config.to_str().unwrap();
    let typo = tmp.path().join("typo.yaml");
    std::fs::write(&typo, "theme: dark\napi_token: hunter2\n").unwrap();
    let typo = typo.to_str().unwrap();
    for (args, wanted) in [
        (
            vec!["--config", config],
            "line 1 column 1: wrong type (expected a map of settings)",
        ),
        (
            vec!["backup", "list", "--config", config],
            "line 1 column 1: wrong type",
        ),
        (
            vec!["topics", "--kafka", "127.0.0.1:9", "--config", config],
            "line 1 column 1: wrong type",
        ),
        (
            vec!["--config", typo],
            "line 2 column 1: unknown field (expected one of `theme`,",
        ),
    ] {
        let r = helmdeck(tmp.path(), &args, &[]);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(wanted), "{args:?}: {}", r.stderr);
        for line in SECRET_FILE.lines() {
            assert!(!r.stderr.contains(line), "{args:?} echoed: {}", r.stderr);
        }
        assert!(
            !r.stderr.contains("hunter2") && !r.stderr.contains("api_token"),
            "{args:?} echoed: {}",
            r.stderr
        );
    }
}

/// `helmdeck status` judges each release by its newest readable revision; an older one
/// whose payload is not gzip is only unzipped, and so reported, with `--all-revisions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_all_revisions_reports_an_older_revision_that_cannot_be_decoded() {
    let (_sb, tmp, kc, client) = sandbox().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "mr-ee");
    // `old`: revision 2 is ee's current release under another name, revision 1 only looks
    // like one (base64 of a gzip header, then junk).
    let h = helmdeck::core::releases::fetch::release_history(&client, "mr-ee", "ee")
        .await
        .unwrap();
    let mut newest = h.current().unwrap().clone();
    newest.name = "old".into();
    newest.version = 2;
    let not_gzip = b"H4sIAAAAAAAA/wBhZCBkYXRh";
    for s in [
        release_secret("old", 1, Some(not_gzip)),
        helmdeck::core::release::release_secret(&newest).unwrap(),
    ] {
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let home = tmp.path().to_path_buf();
    let status = move |extra: &'static [&'static str]| {
        let (home, kc) = (home.clone(), kc.clone());
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["status", "-n", "mr-ee", "--kubeconfig", &kc];
            args.extend(extra);
            helmdeck(&home, &args, &[])
        })
    };
    let told = "release old in mr-ee: 1 revision cannot be decoded (sh.helm.release.v1.old.v1";
    let releases = |out: &str| {
        let line = out
            .lines()
            .find(|l| l.contains("Releases"))
            .unwrap_or_default();
        line.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string()
    };
    let quick = status(&[]).await.unwrap();
    assert!(!quick.stdout.contains(told), "{}", quick.stdout);
    assert_eq!(releases(&quick.stdout), "Healthy", "{}", quick.stdout);
    let all = status(&["--all-revisions"]).await.unwrap();
    assert!(all.stdout.contains(told), "{}{}", all.stdout, all.stderr);
    assert_eq!(releases(&all.stdout), "Degraded", "{}", all.stdout);
}
