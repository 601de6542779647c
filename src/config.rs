//! The user's configuration file.
//!
//! Looked up as `--config FILE`, else `$XDG_CONFIG_HOME/helmdeck/config.yaml`, else
//! `~/.config/helmdeck/config.yaml`. A missing default file means the defaults; a missing file
//! given with `--config` is an error. Unknown fields are refused with their line and column, so
//! a typo never silently turns a setting off. `assets/helmdeck.sample.yaml` documents every
//! field.
//!
//! Secrets stay out of the file: a Kafka property whose name contains `password` or `secret`
//! is refused; the password comes from `password_file` or `password_env` instead.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::tui::keymap::KeyMapConfig;

/// Everything the configuration file can say. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A theme name (`dark`, `light`, `high-contrast`, or `<config dir>/themes/<name>.yaml`) or
    /// a path to a theme file.
    pub theme: Option<String>,
    /// New keys for some actions.
    pub keys: KeyMapConfig,
    /// Read-only everywhere: no scale, cordon, drain, delete, upgrade or rollback.
    pub readonly: bool,
    /// Settings per kubeconfig context.
    pub contexts: BTreeMap<String, ContextConfig>,
    /// Where the console writes its log (default: `<data dir>/helmdeck.log`).
    pub log_file: Option<PathBuf>,
    /// The platforms (a Helm release and its Kafka topics) the console knows about.
    pub platforms: Vec<Platform>,
    /// Where values are backed up before an upgrade or rollback: a directory or an
    /// object-storage URL (`s3://`, `az://`, `gs://`, `file://`).
    pub backup_dir: Option<PathBuf>,
    /// How often `helmdeck backup run` is scheduled (`1h`): the console shows each
    /// release's newest backup and ranks one older than twice this as a problem.
    pub backup_every: Option<String>,
    /// A git repository holding the history of deployed values.
    pub values_repo: Option<PathBuf>,
    /// How secret-looking values are kept in the values repo: encrypted with age.
    pub values_secrets: ValuesSecretsConfig,
    /// The environments a release is promoted through, in order (dev → stage → prod).
    pub environments: Vec<Environment>,
    /// Blue/green cutovers (`helmdeck bluegreen`): how long blue is kept after a switch.
    pub bluegreen: BlueGreenConfig,
    /// The file this configuration was read from; `None` for the built-in defaults.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `bluegreen`: the hold period after `helmdeck bluegreen switch` during which blue stays
/// scaled (`back` returns to it at once) and `finish` waits (`10m`, `1h`; default 10 minutes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlueGreenConfig {
    pub hold: Option<String>,
}

impl BlueGreenConfig {
    /// The hold period: `hold`, else 10 minutes (a value that does not parse is refused
    /// when the config is loaded).
    pub fn hold(&self) -> std::time::Duration {
        self.hold
            .as_deref()
            .and_then(|s| crate::cli::scale::parse_duration(s).ok())
            .unwrap_or(std::time::Duration::from_secs(10 * 60))
    }
}

/// Secret-looking values in the values repo (`values_secrets`): encrypted with age to
/// `recipients`; read back with the identity in `identity_file` (or `HELMDECK_AGE_IDENTITY_FILE`,
/// `HELMDECK_AGE_IDENTITY`). With no recipients, a commit of a plain-text secret is refused
/// unless `--allow-plaintext-secrets` is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValuesSecretsConfig {
    /// age recipients (`age1…`, as `age-keygen` prints them); every one can decrypt.
    pub recipients: Vec<String>,
    /// A file holding the age identity (`AGE-SECRET-KEY-1…`) that decrypts them.
    pub identity_file: Option<PathBuf>,
}

/// One environment (`environments`): a kubeconfig context, optionally a namespace. A
/// protected one asks for the release name to be typed before any change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    pub context: String,
    /// Where the platforms' releases live here, when not in each platform's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub protected: bool,
    /// How long a revision must have run here, deployed and healthy, before it is promoted
    /// to the next environment (`30m`, `2h`; default 30 minutes).
    #[serde(default)]
    pub soak: Option<String>,
}

impl Environment {
    /// The soak time: `soak`, else 30 minutes.
    pub fn soak(&self) -> std::time::Duration {
        self.soak
            .as_deref()
            .and_then(|s| crate::cli::scale::parse_duration(s).ok())
            .unwrap_or(std::time::Duration::from_secs(30 * 60))
    }
}

/// Settings for one kubeconfig context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    /// Read-only in this context (the global `readonly: true` cannot be relaxed here).
    pub readonly: bool,
    /// The namespace to start in.
    pub namespace: Option<String>,
}

/// A platform: one Helm release in one namespace, and the Kafka topics its workloads use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub name: String,
    pub namespace: String,
    /// The Helm release name.
    #[serde(default)]
    pub release: Option<String>,
    /// Prefix of the platform's topics (`mr-ee-` → `mr-ee-main`, `mr-ee-pinterest`…).
    #[serde(default)]
    pub topic_prefix: Option<String>,
    /// Destinations; each has a topic `<topic_prefix><destination>`.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// Topics outside the prefix scheme.
    #[serde(default)]
    pub custom_topics: Vec<String>,
    /// Which workload consumes which topics.
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    #[serde(default)]
    pub kafka: Option<KafkaConfig>,
    /// Links to the platform's dashboards: name → URL template with `{namespace}`,
    /// `{release}`, `{workload}`, `{pod}`, `{container}`, `{platform}`, `{context}`
    /// ([`crate::core::links`]); `o` in the console, `helmdeck links`.
    #[serde(default)]
    pub links: crate::core::links::Links,
    /// The Prometheus an upgrade's `analysis` queries.
    #[serde(default)]
    pub prometheus: Option<crate::core::workflows::analysis::PrometheusConfig>,
    /// Queries with thresholds evaluated during an upgrade's verification, by name
    /// ([`crate::core::workflows::analysis`]); a failed one rolls the change back.
    #[serde(default)]
    pub analysis: BTreeMap<String, crate::core::workflows::analysis::MetricCheck>,
}

/// A workload and the topics it reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// `<kind>/<name>`, as kubectl writes it: `deploy/forwarder-pinterest`.
    pub workload: String,
    #[serde(default)]
    pub topics: Vec<String>,
}

/// How to reach the platform's Kafka cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// librdkafka properties, as with `kcat -X`: `bootstrap.servers`, `security.protocol`…
    #[serde(deserialize_with = "string_map")]
    pub properties: BTreeMap<String, String>,
    /// A file holding the password (`sasl.password`); trailing newlines are ignored.
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password (`sasl.password`).
    pub password_env: Option<String>,
}

impl KafkaConfig {
    /// The password from `password_file` or `password_env`, if either is set.
    pub fn password(&self) -> anyhow::Result<Option<String>> {
        use anyhow::Context as _;
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read Kafka password file {}", path.display()))?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
        }
        if let Some(var) = &self.password_env {
            let value = std::env::var(var).with_context(|| {
                format!("environment variable {var} (Kafka password_env) is not set")
            })?;
            return Ok(Some(value));
        }
        Ok(None)
    }

    /// The properties to give librdkafka: `properties`, plus `sasl.password` from
    /// `password_file` or `password_env`.
    pub fn client_properties(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut properties = self.properties.clone();
        if let Some(password) = self.password()? {
            properties.insert("sasl.password".to_string(), password);
        }
        Ok(properties)
    }
}

/// Property values may be written as YAML numbers or booleans (`session.timeout.ms: 6000`).
fn string_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        String(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let map = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Scalar::String(s) => s,
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (key, value)
        })
        .collect())
}

/// Where a YAML file (the config, a theme) is wrong and what is wrong there, in words of
/// helmdeck's own: `line 2 column 1: unknown field (expected one of `theme`, …)`. Nothing of
/// the file is quoted — serde's messages quote the offending value (`helmdeck --theme
/// /etc/passwd` printed the whole file) — only what the schema expects, which is helmdeck's.
pub fn yaml_problem(text: &str, error: &serde_yaml::Error) -> String {
    let at = error
        .location()
        .map(|l| format!("line {} column {}: ", l.line(), l.column()))
        .unwrap_or_default();
    format!("{at}{}", yaml_problem_kind(text, &error.to_string()))
}

/// What kind of problem a serde_yaml message names, without what it quotes of the file.
fn yaml_problem_kind(text: &str, message: &str) -> String {
    // serde's messages put what was found first (the file's content) and what was expected
    // last, after ", expected " (the schema's words).
    let expected = |what: &str| match message.rsplit_once(", expected ") {
        Some((_, wanted)) => {
            let wanted = wanted.split(" at line ").next().unwrap_or(wanted);
            let wanted = if what.starts_with("unknown") && !is_name_list(wanted) {
                // `unknown field `…`, there are no fields`: the ", expected " found was in
                // the file's own text.
                return what.to_string();
            } else if wanted.starts_with("struct ") {
                "a map of settings"
            } else if wanted.starts_with("enum ") {
                "one of the accepted values"
            } else {
                wanted
            };
            format!("{what} (expected {wanted})")
        }
        None => what.to_string(),
    };
    // A field named by the schema: `missing field `namespace``.
    let schema_field = |marker: &str, what: &str| {
        let name = message
            .split_once(marker)
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name)
            .filter(|n| {
                n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        match name {
            Some(n) => format!("{what} `{n}`"),
            None => what.to_string(),
        }
    };
    if message.contains("unknown field `") {
        expected("unknown field")
    } else if message.contains("unknown variant `") {
        expected("unknown name")
    } else if message.contains("invalid type: ") {
        expected("wrong type")
    } else if message.contains("invalid value: ") {
        expected("invalid value")
    } else if message.contains("invalid length ") {
        expected("wrong number of items")
    } else if message.contains("missing field `") {
        schema_field("missing field `", "missing field")
    } else if message.contains("duplicate field `") {
        schema_field("duplicate field `", "field given twice")
    } else if crate::core::yaml::from_str::<serde_yaml::Value>(text).is_err() {
        "not valid YAML".to_string()
    } else {
        "a value helmdeck does not accept".to_string()
    }
}

/// Whether `text` is a list of names as serde writes what it expected: `` `a` ``, `` `a` or
/// `b` ``, `` one of `a`, `b`, `c` ``.
fn is_name_list(text: &str) -> bool {
    let list = text.strip_prefix("one of ").unwrap_or(text);
    let parts: Vec<&str> = list.split('`').collect();
    parts.len() >= 3
        && parts.len() % 2 == 1
        && parts.iter().enumerate().all(|(i, part)| {
            if i % 2 == 1 {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            } else if i == 0 || i == parts.len() - 1 {
                part.is_empty()
            } else {
                matches!(*part, ", " | " or ")
            }
        })
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {} not found", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not valid YAML, or a field that does not exist: where, and what is wrong there, in
    /// words of helmdeck's own ([`yaml_problem`]) — never the file's content.
    #[error("invalid config file {}: {problem}", path.display())]
    Parse { path: PathBuf, problem: String },
    #[error(
        "config file {}: platform `{platform}` has the Kafka property `{key}` in plain text; \
         remove it and put the secret in a file named by `password_file` or in an environment \
         variable named by `password_env`",
        path.display()
    )]
    PlaintextSecret {
        path: PathBuf,
        platform: String,
        key: String,
    },
    #[error("config file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Loads the configuration: `explicit` (from `--config`) if given, else the default file if
    /// it exists, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_from(explicit, Config::default_path().as_deref())
    }

    fn load_from(explicit: Option<&Path>, default: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(path) = explicit {
            return Config::load_file(path);
        }
        match default {
            Some(path) if path.exists() => Config::load_file(path),
            _ => Ok(Config::default()),
        }
    }

    /// `<config dir>/config.yaml`.
    pub fn default_path() -> Option<PathBuf> {
        config_dir().map(|dir| dir.join("config.yaml"))
    }

    /// Reads one configuration file.
    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Config::from_yaml(&text, path)
    }

    /// Parses configuration YAML; `path` names the file in error messages and becomes
    /// [`Config::source`].
    pub fn from_yaml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let is_blank = text.lines().all(|line| {
            let line = line.trim();
            line.is_empty() || line.starts_with('#')
        });
        let mut config: Config = if is_blank {
            Config::default()
        } else {
            crate::core::yaml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                problem: yaml_problem(text, &e),
            })?
        };
        config.validate(path)?;
        config.expand_home(home_dir().as_deref());
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        crate::core::releases::values_secrets::parse_recipients(&self.values_secrets.recipients)
            .map_err(|e| invalid(format!("values_secrets.recipients: {e}")))?;
        self.validate_environments()
            .map_err(|e| invalid(format!("environments: {e}")))?;
        if let Some(every) = &self.backup_every {
            crate::cli::scale::parse_duration(every)
                .map_err(|e| invalid(format!("backup_every: {e}")))?;
        }
        if let Some(hold) = &self.bluegreen.hold {
            crate::cli::scale::parse_duration(hold)
                .map_err(|e| invalid(format!("bluegreen.hold: {e}")))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for platform in &self.platforms {
            if !names.insert(platform.name.as_str()) {
                return Err(invalid(format!(
                    "platform `{}` is defined twice",
                    platform.name
                )));
            }
            for (name, check) in &platform.analysis {
                check
                    .validate(name)
                    .map_err(|e| invalid(format!("platform `{}`: {e}", platform.name)))?;
            }
            if !platform.analysis.is_empty() && platform.prometheus.is_none() {
                return Err(invalid(format!(
                    "platform `{}`: analysis needs prometheus: {{url: …}}",
                    platform.name
                )));
            }
            for consumer in &platform.consumers {
                let well_formed = consumer
                    .workload
                    .split_once('/')
                    .is_some_and(|(kind, name)| {
                        !kind.is_empty() && !name.is_empty() && !name.contains('/')
                    });
                if !well_formed {
                    return Err(invalid(format!(
                        "platform `{}`: consumer workload `{}` must be <kind>/<name>, like \
                         deploy/forwarder-pinterest",
                        platform.name, consumer.workload
                    )));
                }
            }
            platform
                .links
                .parse()
                .map_err(|e| invalid(format!("platform `{}`: {e}", platform.name)))?;
            let Some(kafka) = &platform.kafka else {
                continue;
            };
            if let Some(key) = kafka.properties.keys().find(|key| {
                let key = key.to_ascii_lowercase();
                key.contains("password") || key.contains("secret")
            }) {
                return Err(ConfigError::PlaintextSecret {
                    path: path.to_path_buf(),
                    platform: platform.name.clone(),
                    key: key.clone(),
                });
            }
            if kafka.password_file.is_some() && kafka.password_env.is_some() {
                return Err(invalid(format!(
                    "platform `{}`: set either kafka.password_file or kafka.password_env, not both",
                    platform.name
                )));
            }
        }
        Ok(())
    }

    /// Environments: named once each, a name and a context given, a soak time that parses.
    fn validate_environments(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for env in &self.environments {
            crate::cli::namespace_name(&env.name).map_err(|e| format!("environment name: {e}"))?;
            if !names.insert(env.name.as_str()) {
                return Err(format!("environment `{}` is defined twice", env.name));
            }
            if env.context.trim().is_empty() {
                return Err(format!("environment `{}` names no context", env.name));
            }
            if let Some(ns) = &env.namespace {
                crate::cli::namespace_name(ns)
                    .map_err(|e| format!("environment `{}`: {e}", env.name))?;
            }
            if let Some(soak) = &env.soak {
                crate::cli::scale::parse_duration(soak)
                    .map_err(|e| format!("environment `{}`: soak: {e}", env.name))?;
            }
        }
        Ok(())
    }

    /// The environment named `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The environment a change through kubeconfig context `context` in `namespace` is
    /// made in: the one naming that context and namespace, else the one naming the context
    /// without a namespace, else the only one naming the context. `None` when no
    /// environment names it (the change is then recorded without an environment).
    pub fn environment_of(&self, context: &str, namespace: &str) -> Option<&Environment> {
        let here: Vec<&Environment> = self
            .environments
            .iter()
            .filter(|e| e.context == context)
            .collect();
        let named = |ns: Option<&str>| here.iter().find(|e| e.namespace.as_deref() == ns);
        named(Some(namespace))
            .or_else(|| named(None))
            .or_else(|| (here.len() == 1).then(|| &here[0]))
            .copied()
    }

    /// Replaces a leading `~/` in paths with the home directory.
    fn expand_home(&mut self, home: Option<&Path>) {
        let Some(home) = home else {
            return;
        };
        let expand = |path: &mut PathBuf| {
            if let Ok(rest) = path.strip_prefix("~") {
                *path = home.join(rest);
            }
        };
        for path in [
            &mut self.log_file,
            &mut self.backup_dir,
            &mut self.values_repo,
            &mut self.values_secrets.identity_file,
        ]
        .into_iter()
        .flatten()
        {
            expand(path);
        }
        for platform in &mut self.platforms {
            if let Some(path) = platform
                .kafka
                .as_mut()
                .and_then(|kafka| kafka.password_file.as_mut())
            {
                expand(path);
            }
        }
    }

    /// Whether changes are forbidden in `context`: the global `readonly`, or the context's own.
    pub fn is_readonly(&self, context: &str) -> bool {
        self.readonly || self.contexts.get(context).is_some_and(|c| c.readonly)
    }

    /// The namespace configured for `context`, if any.
    pub fn context_namespace(&self, context: &str) -> Option<&str> {
        self.contexts.get(context)?.namespace.as_deref()
    }

    /// The platform named `name`.
    pub fn platform(&self, name: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.name == name)
    }

    /// Where user themes live: `<config dir>/themes`.
    pub fn themes_dir() -> Option<PathBuf> {
        config_dir().map(|dir| dir.join("themes"))
    }
}

impl Platform {
    /// Every topic of the platform: `<topic_prefix><destination>` for each destination, then
    /// the custom topics, then any other topic a consumer reads; without duplicates.
    pub fn topics(&self) -> Vec<String> {
        let prefix = self.topic_prefix.as_deref().unwrap_or("");
        let mut topics: Vec<String> = Vec::new();
        let candidates = self
            .destinations
            .iter()
            .map(|d| format!("{prefix}{d}"))
            .chain(self.custom_topics.iter().cloned())
            .chain(self.consumers.iter().flat_map(|c| c.topics.iter().cloned()));
        for topic in candidates {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        topics
    }
}

/// helmdeck's configuration directory: `$XDG_CONFIG_HOME/helmdeck`, else
/// `~/.config/helmdeck`.
pub fn config_dir() -> Option<PathBuf> {
    xdg_dir(|var| std::env::var_os(var), "XDG_CONFIG_HOME", ".config")
}

/// helmdeck's data directory (logs, backups): `$XDG_DATA_HOME/helmdeck`, else
/// `~/.local/share/helmdeck`.
pub fn data_dir() -> Option<PathBuf> {
    xdg_dir(|var| std::env::var_os(var), "XDG_DATA_HOME", ".local/share")
}

fn home_dir() -> Option<PathBuf> {
    non_empty_absolute(std::env::var_os("HOME"))
}

fn non_empty_absolute(value: Option<OsString>) -> Option<PathBuf> {
    let path = PathBuf::from(value?);
    // The XDG spec says relative paths are invalid and must be ignored.
    path.is_absolute().then_some(path)
}

fn xdg_dir(
    env: impl Fn(&str) -> Option<OsString>,
    xdg_var: &str,
    home_fallback: &str,
) -> Option<PathBuf> {
    let base = non_empty_absolute(env(xdg_var))
        .or_else(|| non_empty_absolute(env("HOME")).map(|home| home.join(home_fallback)))?;
    Some(base.join("helmdeck"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::{Action, KeySpec, Screen};

    fn sample_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/helmdeck.sample.yaml")
    }

    fn parse(yaml: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(yaml, Path::new("/etc/helmdeck/test.yaml"))
    }

    /// A change is recorded under the environment of its context: told apart by namespace
    /// when environments share a context, none when no environment names the context.
    #[test]
    fn the_environment_of_a_context_and_namespace() {
        let config = parse(
            "environments:
  - {name: qa, context: shared, namespace: qa}
  - {name: uat, context: shared, namespace: uat}
  - {name: prod, context: aks-prod}
",
        )
        .unwrap();
        let of = |ctx, ns| config.environment_of(ctx, ns).map(|e| e.name.as_str());
        assert_eq!(of("shared", "uat"), Some("uat"));
        assert_eq!(of("shared", "qa"), Some("qa"));
        assert_eq!(of("shared", "other"), None, "two could be meant");
        assert_eq!(of("aks-prod", "mr-ee"), Some("prod"));
        assert_eq!(of("kind-dev", "mr-ee"), None);
    }

    #[test]
    fn the_sample_file_parses_with_the_expected_values() {
        let config = Config::load(Some(&sample_path())).unwrap();
        assert_eq!(config.source.as_deref(), Some(sample_path().as_path()));
        assert_eq!(config.theme.as_deref(), Some("dark"));
        assert!(!config.readonly);
        assert!(config.is_readonly("prod"));
        assert!(!config.is_readonly("staging"));
        assert!(!config.is_readonly("some-other-context"));
        assert_eq!(config.context_namespace("prod"), Some("mr-ee"));

        let scale = &config.keys.0[&Action::Scale];
        assert_eq!(
            scale.keys,
            vec![KeySpec::parse("s").unwrap(), KeySpec::parse("S").unwrap()]
        );
        let drain = &config.keys.0[&Action::Drain];
        assert_eq!(drain.screens, Some(vec![Screen::Nodes]));
        crate::tui::keymap::KeyMap::with_overrides(&config.keys).unwrap();

        let p = config.platform("mr-ee").unwrap();
        assert_eq!(p.namespace, "mr-ee");
        assert_eq!(p.release.as_deref(), Some("ee"));
        assert_eq!(p.topic_prefix.as_deref(), Some("mr-ee-"));
        assert_eq!(
            p.destinations,
            ["google-analytics", "adobe-analytics", "pinterest"]
        );
        for dest in &p.destinations {
            let consumer = p
                .consumers
                .iter()
                .find(|c| c.workload == format!("deploy/forwarder-{dest}"))
                .unwrap_or_else(|| panic!("no forwarder for {dest}"));
            assert_eq!(consumer.topics, [format!("mr-ee-{dest}")]);
        }
        let routers = p
            .consumers
            .iter()
            .filter(|c| c.workload.contains("router"))
            .collect::<Vec<_>>();
        assert!(!routers.is_empty());
        assert!(routers.iter().all(|c| c.topics == ["mr-ee-main"]));
        assert!(p.topics().contains(&"mr-ee-main".to_string()));
        assert!(p.topics().contains(&"mr-ee-pinterest".to_string()));

        let kafka = p.kafka.as_ref().unwrap();
        assert_eq!(
            kafka.properties["bootstrap.servers"],
            "NAMESPACE.servicebus.windows.net:9093"
        );
        assert_eq!(kafka.properties["security.protocol"], "SASL_SSL");
        assert_eq!(kafka.properties["sasl.mechanism"], "PLAIN");
        assert_eq!(kafka.properties["sasl.username"], "$ConnectionString");
        assert!(kafka.password_env.is_some());
        assert!(kafka.password_file.is_none());

        for path in [&config.log_file, &config.backup_dir, &config.values_repo] {
            let path = path.as_ref().expect("the sample sets every path");
            assert!(!path.starts_with("~"), "{} not expanded", path.display());
        }
    }

    #[test]
    fn an_unknown_field_is_reported_with_its_location() {
        let err = parse("theme: dark\nread_only: true\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Parse { .. }));
        // Where, and what the file may say there (helmdeck's words), not what it does say.
        assert!(text.contains("line 2 column 1: unknown field"), "{text}");
        assert!(text.contains("`readonly`"), "{text}");
        assert!(!text.contains("read_only"), "{text}");
        assert!(text.contains("/etc/helmdeck/test.yaml"), "{text}");

        let err = parse("platforms:\n  - name: a\n    namespace: a\n    topicprefix: a-\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4 column 5: unknown field") && err.contains("`topic_prefix`"),
            "{err}"
        );
        assert!(!err.contains("topicprefix"), "{err}");

        let err = parse("keys:\n  scael: [S]\n").unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("unknown name"),
            "{err}"
        );
        assert!(!err.contains("scael"), "{err}");
    }

    /// A file that is not a config — a password file, a key, a syntax error — is reported by
    /// line and column with a description of helmdeck's own, never with the file's content.
    #[test]
    fn an_invalid_file_is_reported_without_its_content() {
        let cases = [
            (
                "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:hunter2:/usr/sbin\n",
                "line 1 column 1: wrong type (expected a map of settings)",
            ),
            (
                "theme: dark\nreadonly: hunter2\n",
                "line 2 column 11: wrong type (expected a boolean)",
            ),
            ("theme: \"hunter2\n", "line 2 column 1: not valid YAML"),
            (
                "platforms:\n  - namespace: hunter2\n",
                "line 2 column 5: missing field `name`",
            ),
            (
                "contexts:\n  hunter2: { readonly: true, readonly: false }\n",
                "line 2",
            ),
            (
                "hunter2, expected `x`: 1\n",
                "line 1 column 1: unknown field",
            ),
        ];
        for (yaml, wanted) in cases {
            let err = parse(yaml).unwrap_err().to_string();
            assert!(err.contains(wanted), "{yaml:?} → {err}");
            assert!(!err.contains("hunter2"), "{yaml:?} echoed: {err}");
        }
    }

    #[test]
    fn values_secrets_take_age_recipients_and_an_identity_file() {
        let key = age::x25519::Identity::generate().to_public().to_string();
        let config = parse(&format!(
            "values_secrets:\n  recipients: [{key}]\n  identity_file: /keys/helmdeck.txt\n"
        ))
        .unwrap();
        assert_eq!(config.values_secrets.recipients, [key]);
        assert_eq!(
            config.values_secrets.identity_file.as_deref(),
            Some(Path::new("/keys/helmdeck.txt"))
        );
        let err = parse("values_secrets:\n  recipients: [age1notakey]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("values_secrets.recipients") && err.contains("age1notakey"),
            "{err}"
        );
        let err = parse("values_secrets:\n  recipient: []\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("recipient") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_plaintext_kafka_secret_is_refused() {
        for key in [
            "sasl.password",
            "ssl.key.password",
            "sasl.oauthbearer.client.secret",
        ] {
            let yaml = format!(
                "platforms:\n  - name: p\n    namespace: p\n    kafka:\n      properties:\n        \
                 bootstrap.servers: b:9093\n        {key}: hunter2\n"
            );
            let err = parse(&yaml).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, ConfigError::PlaintextSecret { .. }), "{text}");
            assert!(text.contains(key), "{text}");
            assert!(
                text.contains("password_file") && text.contains("password_env"),
                "{text}"
            );
            assert!(
                !text.contains("hunter2"),
                "the secret must not be echoed: {text}"
            );
        }
    }

    #[test]
    fn only_one_password_source() {
        let err = parse(
            "platforms:\n  - name: p\n    namespace: p\n    kafka:\n      password_file: /x\n      \
             password_env: X\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn kafka_password_comes_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "Endpoint=sb://x/;SharedAccessKey=abc\n").unwrap();
        let kafka = KafkaConfig {
            properties: BTreeMap::from([("sasl.username".into(), "$ConnectionString".into())]),
            password_file: Some(secret),
            password_env: None,
        };
        let props = kafka.client_properties().unwrap();
        assert_eq!(
            props["sasl.password"],
            "Endpoint=sb://x/;SharedAccessKey=abc"
        );
        assert_eq!(props["sasl.username"], "$ConnectionString");
    }

    #[test]
    fn property_values_may_be_numbers_or_booleans() {
        let config = parse(
            "platforms:\n  - name: p\n    namespace: p\n    kafka:\n      properties:\n        \
             session.timeout.ms: 6000\n        enable.auto.commit: false\n",
        )
        .unwrap();
        let props = &config.platforms[0].kafka.as_ref().unwrap().properties;
        assert_eq!(props["session.timeout.ms"], "6000");
        assert_eq!(props["enable.auto.commit"], "false");
    }

    #[test]
    fn a_malformed_consumer_workload_is_refused() {
        let err = parse(
            "platforms:\n  - name: p\n    namespace: p\n    consumers:\n      - workload: forwarder\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`forwarder`") && err.contains("<kind>/<name>"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_explicit_file_is_an_error_but_a_missing_default_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml");
        let err = Config::load_from(Some(&missing), None).unwrap_err();
        assert!(matches!(err, ConfigError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("nope.yaml"));

        let config = Config::load_from(None, Some(&missing)).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(Config::load_from(None, None).unwrap(), Config::default());

        let present = dir.path().join("config.yaml");
        std::fs::write(&present, "readonly: true\n").unwrap();
        let config = Config::load_from(None, Some(&present)).unwrap();
        assert!(config.is_readonly("anything"));
        // An explicit file wins over the default one.
        let explicit = dir.path().join("other.yaml");
        std::fs::write(&explicit, "# nothing set\n").unwrap();
        let config = Config::load_from(Some(&explicit), Some(&present)).unwrap();
        assert!(!config.readonly);
        assert_eq!(config.source.as_deref(), Some(explicit.as_path()));
    }

    #[test]
    fn empty_sections_are_defaults() {
        let config = parse("theme:\nkeys:\ncontexts:\nplatforms:\n").unwrap();
        assert_eq!(
            config,
            Config {
                source: config.source.clone(),
                ..Config::default()
            }
        );
    }

    #[test]
    fn global_readonly_cannot_be_relaxed_per_context() {
        let config = parse("readonly: true\ncontexts:\n  dev: { readonly: false }\n").unwrap();
        assert!(config.is_readonly("dev"));
    }

    #[test]
    fn home_is_expanded_in_paths() {
        let mut config = Config {
            log_file: Some("~/logs/helmdeck.log".into()),
            backup_dir: Some("/abs/backups".into()),
            platforms: vec![Platform {
                prometheus: None,
                analysis: Default::default(),
                name: "p".into(),
                namespace: "p".into(),
                release: None,
                topic_prefix: None,
                destinations: vec![],
                custom_topics: vec![],
                consumers: vec![],
                links: Default::default(),
                kafka: Some(KafkaConfig {
                    password_file: Some("~/.secrets/p".into()),
                    ..KafkaConfig::default()
                }),
            }],
            ..Config::default()
        };
        config.expand_home(Some(Path::new("/home/op")));
        assert_eq!(config.log_file, Some("/home/op/logs/helmdeck.log".into()));
        assert_eq!(config.backup_dir, Some("/abs/backups".into()));
        assert_eq!(
            config.platforms[0].kafka.as_ref().unwrap().password_file,
            Some("/home/op/.secrets/p".into())
        );
    }

    #[test]
    fn xdg_directories() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| OsString::from(*v))
            }
        };
        assert_eq!(
            xdg_dir(
                env(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/op")]),
                "XDG_CONFIG_HOME",
                ".config"
            ),
            Some("/xdg/helmdeck".into())
        );
        assert_eq!(
            xdg_dir(env(&[("HOME", "/home/op")]), "XDG_CONFIG_HOME", ".config"),
            Some("/home/op/.config/helmdeck".into())
        );
        // Empty or relative XDG values are ignored, as the spec says.
        assert_eq!(
            xdg_dir(
                env(&[("XDG_DATA_HOME", ""), ("HOME", "/home/op")]),
                "XDG_DATA_HOME",
                ".local/share"
            ),
            Some("/home/op/.local/share/helmdeck".into())
        );
        assert_eq!(
            xdg_dir(
                env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/home/op")]),
                "XDG_DATA_HOME",
                ".local/share"
            ),
            Some("/home/op/.local/share/helmdeck".into())
        );
        assert_eq!(xdg_dir(env(&[]), "XDG_DATA_HOME", ".local/share"), None);
    }
}
