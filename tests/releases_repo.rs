//! The chart repository client against a real HTTP server: auth, ETag caching, errors.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use helmdeck::core::releases::repo::{
    ChartRepo, Jump, RepoAuth, RepoError, RepoOptions, newer_versions,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const INDEX: &str = r#"apiVersion: v1
entries:
  shop:
    - name: shop
      version: 2.0.0
      appVersion: "5.0"
      annotations:
        artifacthub.io/changes: |
          - kind: changed
            description: values.image moved to values.images.app
    - name: shop
      version: 1.5.0
      appVersion: "4.1"
    - name: shop
      version: 1.4.3
    - name: shop
      version: 1.4.2
    - name: shop
      version: 1.4.1
    - name: shop
      version: 2.1.0-beta.1
generated: "2025-05-01T10:00:00Z"
"#;

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    not_modified: AtomicUsize,
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn repo_server(counters: Arc<Counters>, expect_auth: Option<&'static str>) -> Router {
    Router::new()
        .route(
            "/charts/index.yaml",
            get(move |headers: HeaderMap| {
                let counters = counters.clone();
                async move {
                    counters.requests.fetch_add(1, Ordering::SeqCst);
                    if let Some(want) = expect_auth {
                        let got = headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok());
                        if got != Some(want) {
                            return StatusCode::UNAUTHORIZED.into_response();
                        }
                    }
                    if headers
                        .get(header::IF_NONE_MATCH)
                        .and_then(|v| v.to_str().ok())
                        == Some("\"v1\"")
                    {
                        counters.not_modified.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    ([(header::ETAG, "\"v1\"")], INDEX).into_response()
                }
            }),
        )
        .route(
            "/bad/index.yaml",
            get(|| async { "apiVersion: v1\nentries: {shop: [" }),
        )
}

fn options(url: String, cache: &tempfile::TempDir) -> RepoOptions {
    let mut o = RepoOptions::new(url);
    o.cache_dir = Some(cache.path().to_path_buf());
    o
}

#[tokio::test]
async fn fetches_lists_and_revalidates_with_etag() {
    let counters = Arc::new(Counters::default());
    let base = serve(repo_server(counters.clone(), None)).await;
    let cache = tempfile::tempdir().unwrap();
    let repo = ChartRepo::new(options(format!("{base}/charts"), &cache)).unwrap();

    let first = repo.fetch_index().await.unwrap();
    assert!(!first.from_cache);
    let offers = newer_versions(
        first.index.chart("shop", &first.url).unwrap(),
        "1.4.2",
        false,
    )
    .unwrap();
    let listed: Vec<(String, Jump)> = offers
        .iter()
        .map(|o| (o.version.to_string(), o.jump))
        .collect();
    assert_eq!(
        listed,
        [
            ("2.0.0".to_string(), Jump::Major),
            ("1.5.0".to_string(), Jump::Minor),
            ("1.4.3".to_string(), Jump::Patch)
        ]
    );
    assert_eq!(
        offers[0].changes,
        ["changed: values.image moved to values.images.app"]
    );

    // A second fetch (a new client, as a new process would) sends If-None-Match and gets 304.
    let repo = ChartRepo::new(options(format!("{base}/charts"), &cache)).unwrap();
    let second = repo.fetch_index().await.unwrap();
    assert!(second.from_cache);
    assert_eq!(second.index, first.index);
    assert_eq!(counters.requests.load(Ordering::SeqCst), 2);
    assert_eq!(counters.not_modified.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn basic_auth_and_bearer_token() {
    let cache = tempfile::tempdir().unwrap();
    // "ops:s3cret" in base64.
    let base = serve(repo_server(Arc::default(), Some("Basic b3BzOnMzY3JldA=="))).await;
    let mut o = options(format!("{base}/charts/"), &cache);
    let err = ChartRepo::new(o.clone())
        .unwrap()
        .fetch_index()
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepoError::Status { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("unauthorised"), "{err}");
    o.auth = RepoAuth::Basic {
        username: "ops".into(),
        password: "s3cret".into(),
    };
    assert!(ChartRepo::new(o).unwrap().fetch_index().await.is_ok());

    let base = serve(repo_server(Arc::default(), Some("Bearer tok-123"))).await;
    let mut o = options(format!("{base}/charts"), &cache);
    o.auth = RepoAuth::Bearer("tok-123".into());
    assert!(ChartRepo::new(o).unwrap().fetch_index().await.is_ok());
}

#[tokio::test]
async fn malformed_missing_and_unreachable() {
    let cache = tempfile::tempdir().unwrap();
    let base = serve(repo_server(Arc::default(), None)).await;
    let err = ChartRepo::new(options(format!("{base}/bad"), &cache))
        .unwrap()
        .fetch_index()
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Malformed { .. }), "{err}");

    let err = ChartRepo::new(options(format!("{base}/nothing-here"), &cache))
        .unwrap()
        .fetch_index()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404 (not found"), "{err}");

    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = ChartRepo::new(options(format!("http://127.0.0.1:{port}"), &cache))
        .unwrap()
        .fetch_index()
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("cannot be reached"), "{err}");
}

#[test]
fn a_missing_ca_file_is_said() {
    let mut o = RepoOptions::new("https://charts.example.com");
    o.ca_file = Some("/nonexistent/ca.pem".into());
    let err = ChartRepo::new(o).err().expect("fails");
    assert!(
        err.to_string().contains("CA file /nonexistent/ca.pem"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_serves_a_chart_repository() {
    let sb = helmdeck::sandbox::Sandbox::start(Default::default())
        .await
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let repo = ChartRepo::new(options(format!("{}/charts", sb.url()), &cache)).unwrap();
    let fetched = repo.fetch_index().await.unwrap();
    assert!(!fetched.from_cache);
    let offers = newer_versions(
        fetched.index.chart("mr-ee", &fetched.url).unwrap(),
        "1.4.2",
        false,
    )
    .unwrap();
    let listed: Vec<String> = offers.iter().map(|o| o.headline()).collect();
    assert_eq!(
        listed,
        [
            "1.4.2 → 2.0.0: MAJOR — breaking changes possible; read the changelog",
            "1.4.2 → 1.5.1: minor — new features, backwards compatible",
            "1.4.2 → 1.5.0: minor — new features, backwards compatible",
            "1.4.2 → 1.4.3: patch — fixes only, backwards compatible",
        ]
    );
    assert!(offers[0].changes[0].contains("destinations.* moved to forwarders.*"));
    // Revalidation: the sandbox answers If-None-Match with 304.
    assert!(repo.fetch_index().await.unwrap().from_cache);
    // A version's record.
    let body = reqwest::get(format!("{}/charts/mr-ee/1.5.1.yaml", sb.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("ghcr.io/mr-ee/router:3.5.1"), "{body}");
    sb.stop().await;
}
