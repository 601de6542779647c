//! The `helmdeck` command line.

use clap::{Parser, Subcommand};
use helmdeck::{cli, sandbox};
use std::io::Write;
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
    #[command(flatten)]
    console: cli::console::ConsoleArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sandbox cluster in-process and open the console on it.
    Demo {
        /// A shipped scenario (default, trouble) or a scenario YAML file.
        #[arg(long, default_value = "default")]
        scenario: String,
        /// A Kafka broker (HOST:PORT) for the Topics view instead of the simulated topics.
        #[arg(long, value_name = "HOST:PORT")]
        kafka: Option<String>,
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
        /// Grow the scenario to at least this many pods (about 100 per node), for benchmarks
        /// (at most 200,000).
        #[arg(long, value_parser = cli::sandbox_pods)]
        pods: Option<usize>,
        /// Grow the scenario to at least this many Helm releases, each of 10 revisions, for
        /// benchmarks (at most 10,000).
        #[arg(long, value_parser = cli::sandbox_releases)]
        releases: Option<usize>,
        /// Fault injection, e.g. "5xx=0.05,slow=0.1,slow-ms=1500,drop-watch=0.01";
        /// "5xx-for-ms=5000" ends the errors that long after start (an outage, then recovery).
        #[arg(long, default_value = "")]
        faults: String,
    },
    /// Scale a Deployment or StatefulSet (deploy/NAME, sts/NAME) and follow it until it converges.
    Scale(cli::scale::ScaleArgs),
    /// Create a HorizontalPodAutoscaler for a Deployment or StatefulSet.
    Autoscale(cli::scale::AutoscaleArgs),
    /// Mark a node unschedulable.
    Cordon(cli::scale::NodeArgs),
    /// Mark a node schedulable again.
    Uncordon(cli::scale::NodeArgs),
    /// Cordon a node and evict its pods, as kubectl drain does, with live progress.
    Drain(cli::scale::DrainArgs),
    /// Health roll-up of the cluster (nodes, workloads, pods, releases) and its problems.
    /// Exits 0 when nothing is failing, 1 when something is, 2 when the cluster cannot be reached.
    Status(cli::status::StatusArgs),
    /// Kafka topics, consumer groups, lag and lag status; `plan` and `create --missing`.
    /// Exits 1 when a group is STALL/STOP or not judged yet (PENDING) or a topic is offline or
    /// missing, 2 when the broker cannot be reached.
    Topics(cli::topics::TopicsArgs),
    /// A Helm release's revisions, decoded from its release Secrets. Exits 1 when a revision
    /// cannot be decoded (each is named, with what failed).
    History(cli::releases::HistoryArgs),
    /// The difference between two revisions of a release (values and manifest).
    Diff(cli::releases::DiffArgs),
    /// The chart versions a release could move to, classified patch / minor / MAJOR.
    Versions(cli::releases::VersionsArgs),
    /// Back up a release, list, show or restore its backups.
    Backup(cli::releases::BackupArgs),
    /// Upgrade a release to a chart version, guided: preflight, backup, values commit,
    /// apply, verify, rollback on failure. Exits 0 when it succeeded, 1 when it failed
    /// (rolled back or not), 2 when it stopped before changing anything.
    Upgrade(cli::upgrade::UpgradeArgs),
    /// Roll a release back to an earlier revision, with the same steps as an upgrade.
    Rollback(cli::upgrade::RollbackArgs),
    /// Re-apply the chart version and values recorded in a values-repo commit.
    Apply(cli::upgrade::ApplyArgs),
    /// Finish a change that was interrupted: verify it, or roll it back (--rollback).
    Recover(cli::upgrade::RecoverArgs),
    /// Blue/green cutover of a Deployment: start (green beside blue, verified), switch the
    /// Service to green, back to blue, finish; status. Exits 1 when a step failed or one was
    /// interrupted (status), 2 when refused before anything changed.
    Bluegreen(cli::bluegreen::BlueGreenArgs),
    /// Which chart version, app version and images each platform release runs in each
    /// environment (`environments` in the config), drift marked. Exits 1 when an environment
    /// is unreachable, 2 when the config names no environments or a context the kubeconfig lacks.
    Inventory(cli::inventory::InventoryArgs),
    /// Promote a release from one environment to the next: the chart version and values the
    /// source deployed, after its soak time, through the guided upgrade on the target (a
    /// protected target asks for the release name). Exits as upgrade does.
    Promote(cli::promote::PromoteArgs),
    /// Links to a release's dashboards (the platform's `links:` in the config), filled in.
    /// Exits 1 when none can be filled in for what was given.
    Links(cli::links::LinksArgs),
    /// The values repo: `migrate --env ENV` lays it out by environment, in one commit.
    Values(cli::values::ValuesArgs),
}

impl Command {
    /// What the command changes, named for the read-only gate, or `None` when it only
    /// reads. Every command that writes (to a cluster, a broker, a release, its record)
    /// goes through [`cli::refuse_if_readonly`] in `main` before it contacts anything:
    /// every command is listed here without a catch-all, so a new one must say.
    fn writes(&self) -> Option<&'static str> {
        use cli::releases::BackupCommand;
        use cli::topics::TopicsAction;
        match self {
            Command::Scale(_) => Some("scale"),
            Command::Autoscale(_) => Some("autoscale"),
            Command::Cordon(_) => Some("cordon"),
            Command::Uncordon(_) => Some("uncordon"),
            Command::Drain(_) => Some("drain"),
            // A dry run prints the plan and changes nothing.
            Command::Upgrade(a) => (!a.change.dry_run).then_some("upgrade"),
            Command::Rollback(a) => (!a.change.dry_run).then_some("rollback"),
            Command::Apply(a) => (!a.change.dry_run).then_some("apply"),
            // Verifying writes too (it closes the journal, notes the values commit and frees
            // a dead holder's Lease), as the console's `V` does: both are refused.
            Command::Recover(a) => Some(if a.rollback {
                "recover --rollback"
            } else {
                "recover"
            }),
            Command::Backup(a) => match &a.command {
                BackupCommand::Restore { .. } => Some("backup restore"),
                // `create` and `run` read the cluster and write only where backups are kept
                // (`run` also prunes there).
                BackupCommand::Create { .. } | BackupCommand::Run { .. } => None,
                BackupCommand::List { .. } => None,
                BackupCommand::Show { .. } => None,
                BackupCommand::Schedule(s) => s.apply.then_some("backup schedule --apply"),
            },
            Command::Topics(a) => match &a.action {
                Some(TopicsAction::Create(_)) => Some("topics create"),
                Some(TopicsAction::Plan) | None => None,
            },
            Command::Inventory(_) => None,
            Command::Promote(a) => (!a.change.dry_run).then_some("promote"),
            Command::Status(_) | Command::History(_) | Command::Diff(_) | Command::Versions(_) => {
                None
            }
            Command::Links(_) => None,
            Command::Values(a) => a.writes(),
            // `status` only reads; every other action changes the cluster.
            Command::Bluegreen(a) => a.writes(),
            // The console inside the demo refuses its own actions; the sandbox is the server.
            Command::Demo { .. } | Command::Sandbox { .. } => None,
        }
    }

    /// The config file and the cluster the command uses, as flags it can be given.
    fn scope<'a>(&'a mut self) -> Scope<'a> {
        use cli::releases::BackupCommand;
        let cluster = |c: &'a mut cli::scale::ClusterArgs| Scope {
            config: Some(&mut c.config),
            kubeconfig: Some(&mut c.kubeconfig),
            context: Some(&mut c.context),
        };
        let change = |c: &'a mut cli::upgrade::ChangeArgs| Scope {
            config: Some(&mut c.config),
            kubeconfig: Some(&mut c.target.kubeconfig),
            context: Some(&mut c.target.context),
        };
        let target = |config, t: Option<&'a mut cli::releases::Target>| -> Scope<'a> {
            let (kubeconfig, context) = match t {
                Some(t) => (Some(&mut t.kubeconfig), Some(&mut t.context)),
                None => (None, None),
            };
            Scope {
                config,
                kubeconfig,
                context,
            }
        };
        match self {
            Command::Scale(a) => cluster(&mut a.cluster),
            Command::Autoscale(a) => cluster(&mut a.cluster),
            Command::Cordon(a) | Command::Uncordon(a) => cluster(&mut a.cluster),
            Command::Drain(a) => cluster(&mut a.cluster),
            Command::Upgrade(a) => change(&mut a.change),
            Command::Rollback(a) => change(&mut a.change),
            Command::Apply(a) => change(&mut a.change),
            Command::Recover(a) => change(&mut a.change),
            Command::Bluegreen(a) => cluster(&mut a.step_mut().cluster),
            Command::Backup(a) => {
                let t = match &mut a.command {
                    BackupCommand::Create { target, .. }
                    | BackupCommand::Run { target, .. }
                    | BackupCommand::Show { target, .. }
                    | BackupCommand::Restore { target, .. } => Some(target),
                    // `schedule --apply` talks to its own --kubeconfig / --context.
                    BackupCommand::Schedule(s) => {
                        return Scope {
                            config: Some(&mut a.config),
                            kubeconfig: Some(&mut s.kubeconfig),
                            context: Some(&mut s.context),
                        };
                    }
                    BackupCommand::List { .. } => None,
                };
                target(Some(&mut a.config), t)
            }
            Command::Topics(a) => Scope {
                config: Some(&mut a.common.config),
                kubeconfig: Some(&mut a.common.kubeconfig),
                context: Some(&mut a.common.context),
            },
            Command::Status(a) => Scope {
                config: Some(&mut a.config),
                kubeconfig: Some(&mut a.kubeconfig),
                context: Some(&mut a.context),
            },
            Command::History(a) => target(Some(&mut a.config), Some(&mut a.target)),
            Command::Links(a) => Scope {
                config: Some(&mut a.config),
                kubeconfig: Some(&mut a.kubeconfig),
                context: Some(&mut a.context),
            },
            Command::Values(a) => Scope {
                config: Some(&mut a.config),
                kubeconfig: None,
                context: None,
            },
            Command::Diff(a) => target(None, Some(&mut a.target)),
            Command::Promote(a) => change(&mut a.change),
            Command::Inventory(a) => Scope {
                config: Some(&mut a.config),
                kubeconfig: Some(&mut a.kubeconfig),
                context: None,
            },
            Command::Versions(a) => target(None, Some(&mut a.target)),
            // The demo uses the console's flags; the sandbox's --kubeconfig is its output.
            Command::Demo { .. } | Command::Sandbox { .. } => Scope::default(),
        }
    }
}

/// The flags of a command that say which config it reads and which cluster it talks to.
#[derive(Default)]
struct Scope<'a> {
    config: Option<&'a mut Option<PathBuf>>,
    kubeconfig: Option<&'a mut Option<PathBuf>>,
    context: Option<&'a mut Option<String>>,
}

impl Scope<'_> {
    /// `--config`, `--kubeconfig` and `--context` given before the command (`helmdeck
    /// --context prod cordon N`) count as if given after it.
    fn inherit(&mut self, top: &cli::console::ConsoleArgs) {
        fn fill<T: Clone>(slot: &mut Option<&mut Option<T>>, top: &Option<T>) {
            if let Some(slot) = slot
                && slot.is_none()
            {
                **slot = top.clone();
            }
        }
        fill(&mut self.config, &top.config);
        fill(&mut self.kubeconfig, &top.kubeconfig);
        fill(&mut self.context, &top.context);
    }

    fn sources(&self, flag: bool) -> cli::ReadonlySources<'_> {
        cli::ReadonlySources {
            flag,
            config: self.config.as_ref().and_then(|c| c.as_deref()),
            kubeconfig: self.kubeconfig.as_ref().and_then(|c| c.as_deref()),
            context: self.context.as_ref().and_then(|c| c.as_deref()),
        }
    }
}

/// Commands that only print end quietly when their reader goes away (`helmdeck history |
/// head`), as other command-line tools do. Every command that changes something (and the
/// sandbox and the console) keeps Rust's default — SIGPIPE ignored, the write's error
/// ignored by the CLI's printing macros — so a closed output never stops a change half-way.
fn prints_only(command: &Option<Command>) -> bool {
    matches!(
        command,
        Some(
            Command::History(_)
                | Command::Diff(_)
                | Command::Versions(_)
                | Command::Status(_)
                | Command::Links(_)
                | Command::Inventory(_)
        )
    )
}

fn die_quietly_on_broken_pipe() {
    // SAFETY: restoring the default disposition of one signal at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The console and `status`, which read the cluster through its watches, run them on one
/// worker thread (beside the main thread, which draws the console): the watches and their
/// HTTP connections then share it, and a chunk of a list wakes no other thread. With a
/// worker per core (same binary, alternating launches on 2 cores), a 10,000-pod list reached
/// the screen in 0.27–0.30 s instead of 0.22–0.24 s, and `status` on 1,000 releases took
/// 0.20–0.29 s instead of 0.15–0.16 s. Every other command gets a worker per core.
fn runtime_for(command: Option<&Command>) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(command, None | Some(Command::Status(_))) {
        builder.worker_threads(1);
    }
    builder.enable_all().build().expect("tokio runtime")
}

fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
    if prints_only(&cli.command) {
        die_quietly_on_broken_pipe();
    }
    if let Some(command) = &mut cli.command {
        // Headless commands log to stderr (HELMDECK_LOG=debug for more); the console and
        // the demo log to a file, never onto the screen.
        if !matches!(command, Command::Demo { .. }) {
            cli::log_to_stderr();
        }
        let mut scope = command.scope();
        scope.inherit(&cli.console);
        if let Some(what) = command.writes() {
            let scope = command.scope();
            if let Err(refusal) =
                cli::refuse_if_readonly(what, &scope.sources(cli.console.readonly))
            {
                let _ = writeln!(std::io::stderr(), "helmdeck: {refusal}");
                return std::process::ExitCode::from(cli::EXIT_REFUSED);
            }
        }
    }
    let rt = runtime_for(cli.command.as_ref());
    // Commands with their own exit codes set this.
    let mut exit_code = None;
    let result = rt.block_on(async {
        match cli.command {
            Some(Command::Sandbox {
                listen,
                kubeconfig,
                scenario,
                pods,
                releases,
                faults,
            }) => {
                let grow = Grow { pods, releases };
                run_sandbox(listen, kubeconfig, scenario, grow, &faults).await
            }
            Some(Command::Demo { scenario, kafka }) => {
                cli::console::demo(cli.console, scenario, kafka).await
            }
            Some(Command::Topics(a)) => {
                exit_code = Some(cli::topics::run(a).await);
                Ok(())
            }
            Some(Command::History(a)) => code(&mut exit_code, cli::releases::history_cmd(a).await),
            Some(Command::Diff(a)) => cli::releases::diff_cmd(a).await,
            Some(Command::Links(a)) => code(&mut exit_code, cli::links::run(a)),
            Some(Command::Values(a)) => code(&mut exit_code, cli::values::run(a)),
            Some(Command::Versions(a)) => cli::releases::versions_cmd(a).await,
            Some(Command::Backup(cli::releases::BackupArgs {
                command: cli::releases::BackupCommand::Schedule(s),
                dir,
                config,
                ..
            })) => code(
                &mut exit_code,
                cli::schedule::run(s, dir.as_deref(), config.as_deref()).await,
            ),
            Some(Command::Backup(a)) => cli::releases::backup_cmd(a).await,
            Some(Command::Upgrade(a)) => code(&mut exit_code, cli::upgrade::upgrade_cmd(a).await),
            Some(Command::Rollback(a)) => code(&mut exit_code, cli::upgrade::rollback_cmd(a).await),
            Some(Command::Apply(a)) => code(&mut exit_code, cli::upgrade::apply_cmd(a).await),
            Some(Command::Recover(a)) => code(&mut exit_code, cli::upgrade::recover_cmd(a).await),
            Some(Command::Bluegreen(a)) => code(&mut exit_code, cli::bluegreen::run(a).await),
            Some(Command::Scale(a)) => code(&mut exit_code, cli::scale::scale(a).await),
            Some(Command::Autoscale(a)) => cli::scale::autoscale(a).await,
            Some(Command::Cordon(a)) => cli::scale::cordon(a).await,
            Some(Command::Uncordon(a)) => cli::scale::uncordon(a).await,
            Some(Command::Drain(a)) => cli::scale::drain(a).await,
            Some(Command::Inventory(a)) => code(&mut exit_code, cli::inventory::run(a).await),
            Some(Command::Promote(a)) => code(&mut exit_code, cli::promote::promote_cmd(a).await),
            Some(Command::Status(a)) => {
                exit_code = Some(cli::status::run(a).await);
                Ok(())
            }
            None => cli::console::run(cli.console).await,
        }
    });
    match result {
        Ok(()) => exit_code.unwrap_or(std::process::ExitCode::SUCCESS),
        Err(e) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "helmdeck: {e:#}");
            if cli::is_unusable_setup(&e) {
                std::process::ExitCode::from(cli::EXIT_REFUSED)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// Keeps a command's own exit code.
fn code(
    slot: &mut Option<std::process::ExitCode>,
    result: anyhow::Result<u8>,
) -> anyhow::Result<()> {
    *slot = Some(std::process::ExitCode::from(result?));
    Ok(())
}

/// How far `helmdeck sandbox --pods N --releases M` grows its scenario.
struct Grow {
    pods: Option<usize>,
    releases: Option<usize>,
}

async fn run_sandbox(
    listen: SocketAddr,
    kubeconfig: Option<PathBuf>,
    scenario: String,
    grow: Grow,
    faults: &str,
) -> anyhow::Result<()> {
    let faults =
        sandbox::faults::Faults::parse(faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let sb = sandbox::Sandbox::start(sandbox::Options {
        listen,
        scenario,
        pods: grow.pods,
        releases: grow.releases,
        faults,
        ..Default::default()
    })
    .await?;
    if let Some(path) = &kubeconfig {
        sandbox::server::write_kubeconfig(path, &sb.url())?;
    }
    // A reader that went away (a closed pipe) must not stop the sandbox: ignore write errors.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "sandbox listening on {}", sb.url());
    if let Some(path) = &kubeconfig {
        let _ = writeln!(
            out,
            "try: kubectl --kubeconfig {} get pods -A",
            path.display()
        );
    }
    let _ = out.flush();
    wait_for_signal().await;
    sb.stop().await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("helmdeck").chain(args.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `helmdeck demo --theme light` used to stop at "unexpected argument '--theme'".
    #[test]
    fn console_flags_may_follow_the_demo() {
        let cli = parse("demo --theme light --readonly -n shop -c rel --config c.yaml").unwrap();
        assert!(matches!(cli.command, Some(Command::Demo { .. })));
        assert_eq!(cli.console.theme.as_deref(), Some("light"));
        assert!(cli.console.readonly);
        assert_eq!(cli.console.namespace.as_deref(), Some("shop"));
        assert_eq!(
            cli.console.command,
            Some(helmdeck::tui::keymap::Screen::Releases)
        );
        assert_eq!(cli.console.config, Some(PathBuf::from("c.yaml")));
        let cli = parse("demo --scenario trouble -A").unwrap();
        assert!(cli.console.all_namespaces);
        // Before the command, as before.
        let cli = parse("--theme light -n shop demo").unwrap();
        assert_eq!(cli.console.theme.as_deref(), Some("light"));
        assert_eq!(cli.console.namespace.as_deref(), Some("shop"));
        // Still checked where they are given.
        assert!(parse("demo -n Not_A_Namespace").is_err());
        assert!(parse("demo -c nosuch").is_err());
    }

    /// Every command parses with the global flags after it, and `--readonly` after a command
    /// that writes refuses it.
    #[test]
    fn every_command_takes_the_global_flags_after_it() {
        for argv in [
            "demo",
            "sandbox",
            "scale deploy/router 3",
            "autoscale deploy/router --min 2 --max 5 --cpu-percent 50",
            "cordon node-1",
            "uncordon node-1",
            "drain node-1 --ignore-daemonsets",
            "status",
            "topics",
            "topics plan",
            "history ee",
            "diff ee 1 2",
            "versions ee --repo http://charts.example",
            "backup list",
            "backup create ee",
            "backup show ee",
            "backup restore ee",
            "upgrade ee --to 1.5.0",
            "apply ee --from-commit abc123",
            "rollback ee --to 1",
            "recover ee",
            "bluegreen start deploy/router --image 3.5.0",
            "bluegreen switch deploy/router",
            "bluegreen status deploy/router -n mr-ee",
            "links ee --pod p",
            "inventory -o json",
            "promote ee --from stage --to prod --confirm ee",
            "backup schedule --every 1h --image i --to s3://b --apply",
        ] {
            let cli = parse(&format!("{argv} --readonly --theme light --config c.yaml"))
                .unwrap_or_else(|e| panic!("{argv}: {e}"));
            assert!(cli.console.readonly, "{argv}");
            assert_eq!(cli.console.theme.as_deref(), Some("light"), "{argv}");
            parse(&format!("--readonly {argv}")).unwrap_or_else(|e| panic!("{argv}: {e}"));
        }
        let mut cli = parse("cordon node-1 --readonly").unwrap();
        let command = cli.command.as_mut().unwrap();
        assert_eq!(command.writes(), Some("cordon"));
        let scope = command.scope();
        assert!(scope.sources(cli.console.readonly).flag);
        let mut cli = parse("promote ee --from stage --to prod").unwrap();
        assert_eq!(cli.command.as_mut().unwrap().writes(), Some("promote"));
        let mut cli = parse("promote ee --from stage --to prod --dry-run").unwrap();
        assert_eq!(cli.command.as_mut().unwrap().writes(), None);
        let mut cli = parse("inventory").unwrap();
        assert_eq!(cli.command.as_mut().unwrap().writes(), None);
    }

    /// A global flag reaches the command's own flag of that name, before or after it.
    #[test]
    fn a_namespace_before_the_command_is_the_commands() {
        for argv in [
            "-n shop scale deploy/router 3",
            "scale deploy/router 3 -n shop",
        ] {
            match parse(argv).unwrap().command {
                Some(Command::Scale(a)) => assert_eq!(a.namespace.as_deref(), Some("shop")),
                _ => panic!("{argv}: not scale"),
            }
        }
        match parse("--config c.yaml status").unwrap().command {
            Some(Command::Status(a)) => assert_eq!(a.config, Some(PathBuf::from("c.yaml"))),
            _ => panic!("not status"),
        }
    }

    /// The command `backup schedule`'s CronJob runs is one this command line takes.
    #[test]
    fn the_scheduled_job_runs_a_command_that_parses() {
        use helmdeck::cli::releases::BackupCommand;
        let plan = helmdeck::core::releases::schedule::Schedule {
            every: helmdeck::core::releases::schedule::parse_every("1h").unwrap(),
            keep: 7,
            to: "s3://b/p".into(),
            image: "i:1".into(),
            namespace: "helmdeck".into(),
            platforms: vec![("mr-ee".into(), "mr-ee".into(), Some("ee".into()))],
        };
        let argv = std::iter::once("helmdeck".to_string()).chain(plan.args());
        let cli = Cli::try_parse_from(argv).unwrap();
        match cli.command {
            Some(Command::Backup(a)) => {
                assert_eq!(a.dir.as_deref(), Some("s3://b/p"));
                assert_eq!(
                    a.config,
                    Some(PathBuf::from(
                        helmdeck::core::releases::schedule::CONFIG_PATH
                    ))
                );
                assert!(
                    matches!(
                        a.command,
                        BackupCommand::Run {
                            all: true,
                            keep: 7,
                            ..
                        }
                    ),
                    "{:?}",
                    a.command
                );
            }
            _ => panic!("not backup"),
        }
    }

    /// `--kubeconfig` is not global: before `sandbox` it must never become the file the
    /// sandbox writes its own kubeconfig to.
    #[test]
    fn the_console_kubeconfig_never_becomes_the_sandbox_output() {
        match parse("--kubeconfig /home/me/.kube/config sandbox")
            .unwrap()
            .command
        {
            Some(Command::Sandbox { kubeconfig, .. }) => assert_eq!(kubeconfig, None),
            _ => panic!("not sandbox"),
        }
    }
}
