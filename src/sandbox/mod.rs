//! The embedded sandbox cluster: a Kubernetes-API-compatible server on 127.0.0.1 with
//! simulated controllers, Helm release Secrets and a scenario of the platforms we serve.

pub mod api;
pub mod apply;
pub mod charts;
pub mod controllers;
pub mod convert;
pub mod crd;
pub mod defaults;
pub mod environments;
pub mod error;
pub mod faults;
pub mod fieldset;
pub mod jsonpath;
pub mod logs;
pub mod metrics;
pub mod openapi;
pub mod patch;
pub mod protobuf;
mod protobuf_schema;
pub mod resources;
pub mod scenario;
pub mod selector;
pub mod server;
pub mod store;
pub mod table;
pub mod topics;
pub mod traffic;

use std::net::SocketAddr;

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// A shipped scenario name or a YAML file.
    pub scenario: String,
    /// Grow the scenario to at least this many pods (benchmarks).
    pub pods: Option<usize>,
    /// Grow the scenario to at least this many Helm releases of 10 revisions (benchmarks).
    pub releases: Option<usize>,
    pub faults: faults::Faults,
    /// Releases to run one minor chart version behind the scenario (the demo's prod).
    pub behind: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            scenario: "default".into(),
            pods: None,
            releases: None,
            faults: faults::Faults::default(),
            behind: Vec::new(),
        }
    }
}

/// A running sandbox: the API server and the simulated controllers behind it.
pub struct Sandbox {
    pub server: server::Server,
    pub store: store::Store,
    controllers: tokio::task::JoinHandle<()>,
}

impl Sandbox {
    /// Loads the scenario, settles it (pods already running), starts the controllers and
    /// the server. Needs a multi-threaded tokio runtime.
    pub async fn start(opts: Options) -> anyhow::Result<Sandbox> {
        let mut sc = scenario::Scenario::load(&opts.scenario)?;
        if let Some(p) = opts.pods {
            sc.grow(p);
        }
        if let Some(r) = opts.releases {
            sc.grow_releases(r, 10);
        }
        for release in &opts.behind {
            environments::one_minor_behind(&mut sc, release);
        }
        let store = store::Store::new();
        let load = metrics::LoadModel::default();
        let cfg = sc.sim.clone();
        load.traffic().set_from(&cfg);
        let st = store.clone();
        let ld = load.clone();
        let ctrl =
            tokio::task::spawn_blocking(move || -> anyhow::Result<controllers::Controllers> {
                let mut feed = st.changes();
                sc.populate(&st, &ld)?;
                let mut c = controllers::Controllers::new(st.clone(), ld, cfg);
                c.settle(&mut feed, 50);
                sc.apply_node_state(&st);
                Ok(c)
            })
            .await??;
        let controllers = tokio::spawn(ctrl.run());
        let server = server::Server::start(opts.listen, store.clone(), load, opts.faults).await?;
        Ok(Sandbox {
            server,
            store,
            controllers,
        })
    }

    /// The API server's URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stops the server and the controllers.
    pub async fn stop(self) {
        self.controllers.abort();
        self.server.stop().await;
    }
}
