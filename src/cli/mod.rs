//! Subcommands of the `helmdeck` command line other than the console itself.
//!
//! They print through [`say!`], [`say_inline!`] and [`tell!`] instead of `println!`,
//! `print!` and `eprintln!`, which panic when the output is closed: a change must run to its
//! end and its record even when its output went to `| head` or a dropped SSH session.

/// A line on standard output; a closed or failing stdout is ignored.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Text on standard output without a newline, flushed (a prompt); failures ignored.
macro_rules! say_inline {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let _ = write!(out, $($t)*);
        let _ = out.flush();
    }};
}

/// A line on standard error; a closed or failing stderr is ignored.
macro_rules! tell {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// The value of `$r`, or return the refusal's exit code (2) from the command, having said
/// why on stderr ([`refused`]).
macro_rules! or_refuse {
    ($r:expr) => {
        match $r {
            Ok(v) => v,
            Err(e) => return Ok($crate::cli::refused(e.into())),
        }
    };
}

pub mod bluegreen;
pub mod console;
pub mod inventory;
pub mod links;
pub mod promote;
pub mod releases;
pub mod scale;
pub mod schedule;
pub mod status;
pub mod topics;
pub mod upgrade;
pub mod values;

use std::path::{Path, PathBuf};

/// Exit code of a command refused before it changed anything (read-only, an invalid
/// request, a failed preflight).
pub const EXIT_REFUSED: u8 = 2;

/// A change refused before anything changed (the cluster unreachable, no such release or
/// revision, a downgrade, invalid values YAML, a malformed `--set`, nothing to change, no
/// answer to the question): said on stderr, and [`EXIT_REFUSED`] as the contract says — not
/// 1, which means a change that was made and failed.
pub fn refused(e: anyhow::Error) -> u8 {
    tell!("helmdeck: {e:#}");
    tell!("helmdeck: nothing changed");
    EXIT_REFUSED
}

/// Whether an error is a config or theme file that cannot be used (not found, not valid YAML,
/// an unknown field or theme, a secret in plain text): found before anything was contacted or
/// changed, so the command exits [`EXIT_REFUSED`].
pub fn is_unusable_setup(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<crate::config::ConfigError>() || cause.is::<crate::tui::theme::ThemeError>()
    })
}

/// Sends a headless command's logs to stderr: `HELMDECK_LOG` (or `RUST_LOG`) sets the
/// filter, default `info`; colours only on a terminal. A closed or failing stderr is ignored,
/// as [`tell!`] ignores it: [`crate::logging::LogTarget::Stderr`] is the one implementation.
pub fn log_to_stderr() {
    let _ = crate::logging::init(crate::logging::LogTarget::Stderr);
}

/// What decides whether a write command may run: the flags and the config it was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadonlySources<'a> {
    /// `--readonly` (a global flag: accepted by every command).
    pub flag: bool,
    /// `--config` of the command, else the default config file.
    pub config: Option<&'a Path>,
    /// The kubeconfig and context the command talks to (their current context when no
    /// `--context`): a context marked `readonly: true` in the config refuses.
    pub kubeconfig: Option<&'a Path>,
    pub context: Option<&'a str>,
}

/// A write command refused before it contacted anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What was refused (`cordon`, `topics create`…).
    pub what: String,
    /// Why, naming the setting: `--readonly`, `` `readonly: true` in FILE ``, `context "prod"
    /// is marked readonly in FILE`, or the config that could not be read.
    pub why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused: {}; nothing changed", self.what, self.why)
    }
}

impl std::error::Error for Refusal {}

/// The gate every command that writes (to a cluster, a broker, a release) goes through
/// before contacting anything: refused when `--readonly` is given, when the config says
/// `readonly: true`, or when the context in effect is marked `readonly` in the config. A
/// config that cannot be read refuses too: whether writes are allowed cannot be told.
/// Reads only local files (the config and the kubeconfig).
pub fn refuse_if_readonly(what: &str, sources: &ReadonlySources<'_>) -> Result<(), Refusal> {
    let refuse = |why: String| {
        Err(Refusal {
            what: what.to_string(),
            why,
        })
    };
    let config = match crate::config::Config::load(sources.config) {
        Ok(c) => c,
        Err(e) => {
            return refuse(format!(
                "cannot tell whether writes are allowed: {e} (fix the file, or pass --config)"
            ));
        }
    };
    let file = || {
        config
            .source
            .as_deref()
            .map_or_else(|| "the config".to_string(), |p| p.display().to_string())
    };
    let mut why = Vec::new();
    if sources.flag {
        why.push("read-only by --readonly".to_string());
    }
    if config.readonly {
        why.push(format!("read-only by `readonly: true` in {}", file()));
    }
    if !config.readonly && config.contexts.values().any(|c| c.readonly) {
        let context = context_in_effect(sources.kubeconfig, sources.context);
        if let Some(ctx) = context.filter(|c| config.is_readonly(c)) {
            why.push(format!("context {ctx:?} is marked readonly in {}", file()));
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        refuse(why.join("; "))
    }
}

/// The kubeconfig context a command talks to — `context`, else the current context of the
/// kubeconfig it reads (`kubeconfig`, else KUBECONFIG, else ~/.kube/config), `in-cluster`
/// inside a pod — found as [`crate::core::cluster::watch::config_for`] finds it, from the
/// files alone (no credential plugin runs). `None` when there is none to read: the command
/// then cannot reach a cluster either.
pub fn context_in_effect(kubeconfig: Option<&Path>, context: Option<&str>) -> Option<String> {
    use kube::config::Kubeconfig;
    if let Some(c) = context {
        return Some(c.to_string());
    }
    let kc = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok()?,
        None => match Kubeconfig::from_env().ok()? {
            Some(kc) => kc,
            None => {
                let default: Option<PathBuf> = std::env::var_os("HOME")
                    .map(|h| Path::new(&h).join(".kube").join("config"))
                    .filter(|p| p.exists());
                match default {
                    Some(path) => Kubeconfig::read_from(path).ok()?,
                    None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
                        return Some("in-cluster".to_string());
                    }
                    None => return None,
                }
            }
        },
    };
    kc.current_context.filter(|c| !c.is_empty())
}

/// The name of the environment (`environments` in the config) a command works in: the one
/// naming the context in effect ([`context_in_effect`]) and `namespace`.
pub fn environment_in_effect(
    config: &crate::config::Config,
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    namespace: &str,
) -> Option<String> {
    if config.environments.is_empty() {
        return None;
    }
    let context = context_in_effect(kubeconfig, context)?;
    config
        .environment_of(&context, namespace)
        .map(|e| e.name.clone())
}

/// Most releases `helmdeck sandbox --releases` grows to.
pub const MAX_SANDBOX_RELEASES: usize = 10_000;

/// `--releases N` of `helmdeck sandbox`.
pub fn sandbox_releases(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of releases"))?;
    if n > MAX_SANDBOX_RELEASES {
        return Err(format!(
            "{n} releases is more than the sandbox grows to (at most {MAX_SANDBOX_RELEASES})"
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_gate_names_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let kc = write(
            dir.path(),
            "kc",
            &crate::sandbox::server::kubeconfig_yaml("http://127.0.0.1:1"),
        );
        let plain = write(dir.path(), "plain.yaml", "theme: dark\n");
        let global = write(dir.path(), "global.yaml", "readonly: true\n");
        let ctx = write(
            dir.path(),
            "ctx.yaml",
            "contexts:\n  helmdeck-sandbox: { readonly: true }\n  other: { readonly: false }\n",
        );
        let bad = write(dir.path(), "bad.yaml", "read_only: true\n");
        let gate = |flag, config: &Path, context: Option<&str>| {
            refuse_if_readonly(
                "cordon",
                &ReadonlySources {
                    flag,
                    config: Some(config),
                    kubeconfig: Some(&kc),
                    context,
                },
            )
        };
        assert_eq!(gate(false, &plain, None), Ok(()));
        let r = gate(true, &plain, None).unwrap_err();
        assert_eq!(
            r.to_string(),
            "cordon refused: read-only by --readonly; nothing changed"
        );
        let r = gate(false, &global, None).unwrap_err().to_string();
        assert!(
            r.contains(&format!("`readonly: true` in {}", global.display())),
            "{r}"
        );
        // The kubeconfig's current context, or --context.
        let r = gate(false, &ctx, None).unwrap_err().to_string();
        assert!(
            r.contains(&format!(
                "context \"helmdeck-sandbox\" is marked readonly in {}",
                ctx.display()
            )),
            "{r}"
        );
        assert_eq!(gate(false, &ctx, Some("other")), Ok(()));
        assert!(gate(false, &ctx, Some("helmdeck-sandbox")).is_err());
        // A config that cannot be read refuses: whether writes are allowed is unknown.
        let r = gate(false, &bad, None).unwrap_err().to_string();
        assert!(r.contains("cannot tell whether writes are allowed"), "{r}");
        assert!(r.contains("line 1 column 1: unknown field"), "{r}");
    }
}

/// A release name as Helm accepts it (a DNS-1123 subdomain of at most 53 characters),
/// checked before any request: `helmdeck upgrade 'ee;rm' …` is refused in one line.
pub fn release_name(s: &str) -> Result<String, String> {
    dns1123(s, 53, true).map_err(|why| format!("not a release name: {why}"))
}

/// A namespace name (a DNS-1123 label of at most 63 characters), checked before any request.
pub fn namespace_name(s: &str) -> Result<String, String> {
    dns1123(s, 63, false).map_err(|why| format!("not a namespace name: {why}"))
}

fn dns1123(s: &str, max: usize, dots: bool) -> Result<String, String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = !s.is_empty()
        && s.len() <= max
        && if dots {
            s.split('.').all(label_ok)
        } else {
            label_ok(s)
        };
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} must be at most {max} lowercase letters, digits{} and '-', starting and ending with a letter or digit",
            if dots { ", '.'" } else { "" }
        ))
    }
}

/// The most pods `helmdeck sandbox --pods` grows a scenario to (about 8 KB each in memory:
/// 200,000 pods take about 2 GB).
pub const MAX_SANDBOX_PODS: usize = 200_000;

/// `--pods N`, refused past [`MAX_SANDBOX_PODS`] with a clear message.
pub fn sandbox_pods(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of pods"))?;
    if n > MAX_SANDBOX_PODS {
        return Err(format!(
            "{n} pods is more than the sandbox grows to (at most {MAX_SANDBOX_PODS}, about 2 GB of memory)"
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_are_checked_as_kubernetes_and_helm_check_them() {
        assert!(release_name("ee").is_ok());
        assert!(release_name("iomete-dataplane.v2").is_ok());
        for bad in ["", "Ee", "ee;rm", "-ee", "ee-", "a..b", &"x".repeat(54)] {
            assert!(release_name(bad).is_err(), "{bad}");
        }
        assert!(namespace_name("mr-ee").is_ok());
        assert!(namespace_name("mr.ee").is_err());
        assert!(namespace_name(&"x".repeat(64)).is_err());
        assert_eq!(sandbox_pods("50000"), Ok(50_000));
        assert!(
            sandbox_pods("1000000000")
                .unwrap_err()
                .contains("at most 200000")
        );
        assert!(sandbox_pods("many").is_err());
    }
}
