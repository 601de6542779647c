//! Backups in object storage, end to end: the helmdeck binary backs up the sandbox's
//! releases into a real S3-protocol server — moto's server, from PyPI (`moto[server]`),
//! started here on a free port — then lists, shows and restores from the same URL.
//!
//! Without moto the test skips, unless HELMDECK_REQUIRE_MOTO is set (the test command sets
//! it and installs moto), so a missing server fails CI instead of passing it.

mod common;
mod kube_sandbox;

use helmdeck::sandbox::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, DeleteParams};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BUCKET: &str = "helmdeck-backups";
const SECRET_KEY: &str = "moto-secret-key-never-printed";

/// moto's S3 server, stopped when dropped.
struct Moto {
    _server: common::Server,
    port: u16,
}

/// One plain HTTP/1.1 request to moto (which accepts unsigned requests); the status code.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> u16 {
    common::http(port, method, path, body).0
}

/// Starts moto on a free port with a bucket, or says why it cannot.
fn start_moto() -> Result<Moto, String> {
    let py = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .ok_or("no python3")?;
    let ok = Command::new(py)
        .args(["-c", "import moto.server"])
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !ok.success() {
        return Err("moto[server] is not installed (pip install 'moto[server]')".into());
    }
    let port = common::free_port();
    let child = Command::new(py)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let moto = Moto {
        _server: common::Server(child),
        port,
    };
    kube_sandbox::wait_for("moto to listen", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    assert_eq!(http(port, "PUT", &format!("/{BUCKET}"), b""), 200);
    Ok(moto)
}

fn helmdeck(home: &Path, moto: &Moto, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        )
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "moto-access-key")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("HELMDECK_LOG", "debug")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(SECRET_KEY),
        "a credential was printed:\n{text}"
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_run_list_show_and_restore_through_s3() {
    let moto = match start_moto() {
        Ok(m) => m,
        Err(why) => {
            assert!(
                std::env::var_os("HELMDECK_REQUIRE_MOTO").is_none(),
                "HELMDECK_REQUIRE_MOTO is set but moto cannot run: {why}"
            );
            eprintln!("skipped: {why} (set HELMDECK_REQUIRE_MOTO=1 to fail instead)");
            return;
        }
    };
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let kc = home.path().join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let kc = kc.to_str().unwrap();
    let url = format!("s3://{BUCKET}/team/prod");
    let h = |args: &[&str]| helmdeck(home.path(), &moto, args);

    // Three passes of `backup run --all --keep 2`: every release each time, the third prunes.
    let run = [
        "backup",
        "run",
        "--all",
        "--to",
        &url,
        "--keep",
        "2",
        "--kubeconfig",
        kc,
    ];
    let mut outputs = Vec::new();
    for _ in 0..3 {
        let (ok, out) = tokio::task::block_in_place(|| h(&run));
        assert!(ok, "backup run failed:\n{out}");
        outputs.push(out);
    }
    let first = &outputs[0];
    let ok_lines: Vec<&str> = first.lines().filter(|l| l.starts_with("ok ")).collect();
    assert!(
        ok_lines
            .iter()
            .any(|l| l.contains("mr-ee/ee") && l.contains("revision 4")),
        "{first}"
    );
    assert!(
        ok_lines.iter().all(|l| l.contains(&format!("→ {url}/"))),
        "{first}"
    );
    assert!(!first.contains("FAILED"), "{first}");
    assert!(
        outputs[2]
            .lines()
            .filter(|l| l.starts_with("ok "))
            .all(|l| l.ends_with("(pruned 1)")),
        "the third pass keeps 2 of 3:\n{}",
        outputs[2]
    );

    // An upload cut short (an archive without its record) is not listed.
    let stray = format!("/{BUCKET}/team/prod/mr-ee_ee_20990101T000000.000Z.tar.gz");
    assert_eq!(http(moto.port, "PUT", &stray, b"partial"), 200);
    let (ok, list) =
        tokio::task::block_in_place(|| h(&["backup", "list", "ee", "-n", "mr-ee", "--to", &url]));
    assert!(ok, "{list}");
    let listed: Vec<&str> = list.lines().filter(|l| l.contains("mr-ee/ee")).collect();
    assert_eq!(listed.len(), 2, "kept 2 of 3:\n{list}");
    assert!(
        listed.iter().all(|l| l.contains("mr-ee-1.4.2 rev 4")),
        "{list}"
    );
    assert!(!list.contains("20990101"), "{list}");
    // Newest first.
    let newest = listed[0].split_whitespace().last().unwrap().to_string();
    assert!(newest.starts_with(&format!("{url}/mr-ee_ee_")), "{newest}");

    // Restore from the URL re-creates a deleted workload.
    let client = Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "mr-ee");
    deploys
        .delete("router", &DeleteParams::default())
        .await
        .unwrap();
    kube_sandbox::wait_for("router gone", Duration::from_secs(20), || {
        let d = deploys.clone();
        let gone = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async { d.get_opt("router").await })
        });
        matches!(gone, Ok(None)).then_some(())
    });
    let (ok, out) = tokio::task::block_in_place(|| {
        h(&[
            "backup",
            "restore",
            "ee",
            "-n",
            "mr-ee",
            "--to",
            &url,
            "--kubeconfig",
            kc,
        ])
    });
    assert!(ok, "{out}");
    assert!(out.contains("re-created Deployment/router"), "{out}");
    assert!(out.contains(&newest), "restored from the newest:\n{out}");
    assert!(deploys.get_opt("router").await.unwrap().is_some());

    // A damaged archive is refused before it is opened: replaced through the S3 API.
    let key = newest.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{}", moto.port))
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id("moto-access-key")
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap();
    use object_store::ObjectStoreExt;
    s3.put(&key.into(), b"not the archive".to_vec().into())
        .await
        .unwrap();
    let (ok, out) =
        tokio::task::block_in_place(|| h(&["backup", "show", "ee", "-n", "mr-ee", "--to", &url]));
    assert!(!ok, "{out}");
    assert!(out.contains("does not match its recorded SHA-256"), "{out}");
}

#[test]
fn keep_zero_and_unknown_schemes_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(["backup", "run", "--all", "--keep", "0", "--to", "s3://b/p"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--keep"), "{err}");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_helmdeck"))
        .args(["backup", "list", "--to", "ftp://host/x"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a backup location"), "{err}");
}
