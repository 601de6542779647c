//! The `helmdeck` command line.

use clap::{Parser, Subcommand};
use helmdeck::sandbox;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "helmdeck",
    version,
    about = "A terminal console for Helm releases and Kafka topics on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sandbox cluster in-process, with the trouble-free default scenario, and
    /// show how to reach it.
    Demo {
        /// A shipped scenario (default, trouble) or a scenario YAML file.
        #[arg(long, default_value = "default")]
        scenario: String,
    },
    /// Run the sandbox cluster: a Kubernetes-API-compatible server with simulated controllers.
    Sandbox {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Where to write a kubeconfig that points at the sandbox.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// A shipped scenario (default, trouble) or a scenario YAML file.
        #[arg(long, default_value = "default")]
        scenario: String,
        /// Grow the scenario to at least this many pods (about 100 per node), for benchmarks.
        #[arg(long)]
        pods: Option<usize>,
        /// Fault injection, e.g. "5xx=0.05,slow=0.1,slow-ms=1500,drop-watch=0.01".
        #[arg(long, default_value = "")]
        faults: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = rt.block_on(async {
        match cli.command {
            Some(Command::Sandbox {
                listen,
                kubeconfig,
                scenario,
                pods,
                faults,
            }) => run_sandbox(listen, kubeconfig, scenario, pods, &faults).await,
            Some(Command::Demo { scenario }) => run_demo(scenario).await,
            None => Err(anyhow::anyhow!(
                "the console is not built yet; try `helmdeck sandbox`"
            )),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("helmdeck: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run_sandbox(
    listen: SocketAddr,
    kubeconfig: Option<PathBuf>,
    scenario: String,
    pods: Option<usize>,
    faults: &str,
) -> anyhow::Result<()> {
    helmdeck::logging::init(helmdeck::logging::LogTarget::Stderr)?;
    let faults =
        sandbox::faults::Faults::parse(faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let sb = sandbox::Sandbox::start(sandbox::Options {
        listen,
        scenario,
        pods,
        faults,
    })
    .await?;
    if let Some(path) = &kubeconfig {
        sandbox::server::write_kubeconfig(path, &sb.url())?;
    }
    println!("sandbox listening on {}", sb.url());
    if let Some(path) = &kubeconfig {
        println!("try: kubectl --kubeconfig {} get pods -A", path.display());
    }
    wait_for_signal().await;
    sb.stop().await;
    Ok(())
}

async fn run_demo(scenario: String) -> anyhow::Result<()> {
    let dir = helmdeck::config::data_dir()
        .unwrap_or_else(|| std::env::temp_dir().join("helmdeck"));
    let kubeconfig = dir.join("demo.kubeconfig");
    run_sandbox(
        "127.0.0.1:0".parse().expect("address"),
        Some(kubeconfig),
        scenario,
        None,
        "",
    )
    .await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
