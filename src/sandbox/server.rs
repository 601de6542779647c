//! Starting and stopping the sandbox server, and the kubeconfig that points at it.

use super::api::{self, ApiState};
use super::faults::Faults;
use super::metrics::LoadModel;
use super::store::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running sandbox API server.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Store,
    pub load: LoadModel,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves the store.
    pub async fn start(
        listen: SocketAddr,
        store: Store,
        load: LoadModel,
        faults: Faults,
    ) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let state = ApiState {
            store: store.clone(),
            faults: Arc::new(faults.started()),
            load: load.clone(),
            pod_shapes: Default::default(),
            bookmark_every: Duration::from_secs(5),
        };
        let app = api::router(state);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, "sandbox API server listening");
        Ok(Server {
            addr,
            store,
            load,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests. Open watches end when the runtime drops them.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

/// The kubeconfig YAML for a sandbox at `url`.
pub fn kubeconfig_yaml(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: helmdeck-sandbox
  cluster:
    server: {url}
contexts:
- name: helmdeck-sandbox
  context:
    cluster: helmdeck-sandbox
    user: helmdeck-sandbox
    namespace: default
current-context: helmdeck-sandbox
users:
- name: helmdeck-sandbox
  user: {{}}
preferences: {{}}
"
    )
}

/// Writes the kubeconfig, readable by the owner only.
pub fn write_kubeconfig(path: &Path, url: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, kubeconfig_yaml(url))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
