//! `helmdeck backup schedule`: the manifests that run `helmdeck backup run` in the cluster
//! on a schedule — a CronJob, its ServiceAccount, a ConfigMap holding the platforms it backs
//! up, and the least RBAC it needs (a Role and RoleBinding in each platform namespace).
//!
//! Pure: the manifests are built here as JSON values and printed or applied by the CLI.

use anyhow::{Result, bail};
use serde_json::{Value, json};

/// How often, as a 5-field cron schedule that runs evenly spaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Every {
    /// As given: `1h`.
    pub text: String,
    /// `0 * * * *`.
    pub cron: String,
    /// The period in minutes.
    pub minutes: u32,
}

/// Parses `--every`: minutes that divide an hour (`15m`), hours that divide a day (`6h`),
/// `1d` or `7d`. cron cannot run anything else evenly: `*/45` in the minute field runs at
/// :00 and :45 (15 minutes apart), `*/5` in the hour field at 20:00 then 00:00, and a
/// day-of-month step restarts every month — those are refused, saying what works.
pub fn parse_every(text: &str) -> Result<Every> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let Ok(n) = number.parse::<u32>() else {
        bail!("--every {text:?}: expected a number and a unit, like 15m, 1h, 6h or 1d");
    };
    if n == 0 {
        bail!("--every {text:?}: the period must be more than zero");
    }
    let minutes = match unit {
        "m" | "min" => n,
        "h" => n.saturating_mul(60),
        "d" => n.saturating_mul(24 * 60),
        other => bail!("--every {text:?}: unknown unit {other:?} (use m, h or d: 15m, 1h, 1d)"),
    };
    let cron = match minutes {
        1 => "* * * * *".to_string(),
        m if m < 60 && 60 % m == 0 => format!("*/{m} * * * *"),
        60 => "0 * * * *".to_string(),
        m if m < 1440 && m % 60 == 0 && 1440 % m == 0 => format!("0 */{} * * *", m / 60),
        1440 => "0 0 * * *".to_string(),
        10080 => "0 0 * * 0".to_string(),
        _ => bail!(
            "--every {text:?}: cron cannot run that evenly (its steps restart every hour, day \
             or month); use minutes that divide an hour (1m 2m 3m 4m 5m 6m 10m 12m 15m 20m \
             30m), hours that divide a day (1h 2h 3h 4h 6h 8h 12h), 1d or 7d"
        ),
    };
    Ok(Every {
        text: t.to_string(),
        cron,
        minutes,
    })
}

/// What `backup schedule` makes.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub every: Every,
    /// Backups kept per release.
    pub keep: u32,
    /// Where backups go (a URL: `s3://…`, `az://…`, `gs://…`).
    pub to: String,
    pub image: String,
    /// Where the CronJob, its ServiceAccount and ConfigMap live.
    pub namespace: String,
    /// The platforms backed up: (name, namespace, release).
    pub platforms: Vec<(String, String, Option<String>)>,
}

/// The name of every object made (one schedule per namespace).
pub const NAME: &str = "helmdeck-backup";
/// The Secret the job takes its object-storage credentials from, as environment variables
/// (`AWS_ACCESS_KEY_ID`…, `AZURE_STORAGE_ACCOUNT_NAME`…, `GOOGLE_APPLICATION_CREDENTIALS`);
/// optional, so workload identity works without it.
pub const CREDENTIALS_SECRET: &str = "helmdeck-backup-credentials";
/// Where the ConfigMap's config is mounted in the job's pod.
pub const CONFIG_PATH: &str = "/etc/helmdeck/config.yaml";

/// One manifest and the comment printed above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub comment: Option<String>,
    pub object: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    pub fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
}

fn labels() -> Value {
    json!({
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/managed-by": "helmdeck",
    })
}

fn meta(name: &str, namespace: &str) -> Value {
    json!({ "name": name, "namespace": namespace, "labels": labels() })
}

impl Schedule {
    /// The platform namespaces, sorted, each once.
    pub fn namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = self.platforms.iter().map(|(_, ns, _)| ns.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The command the job runs.
    pub fn args(&self) -> Vec<String> {
        [
            "backup",
            "run",
            "--all",
            "--to",
            &self.to,
            "--keep",
            &self.keep.to_string(),
            "--config",
            CONFIG_PATH,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Every manifest, in the order they can be applied.
    pub fn manifests(&self) -> Vec<Manifest> {
        let mut out = vec![
            Manifest {
                comment: Some(
                    "The identity the backup job runs as; it can read only what the Roles below grant."
                        .into(),
                ),
                object: json!({
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": meta(NAME, &self.namespace),
                }),
            },
            self.config_map(),
        ];
        for ns in self.namespaces() {
            out.push(self.role(&ns));
            out.push(Manifest {
                comment: None,
                object: json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": meta(NAME, &ns),
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": NAME,
                    },
                    "subjects": [{
                        "kind": "ServiceAccount",
                        "name": NAME,
                        "namespace": self.namespace,
                    }],
                }),
            });
        }
        out.push(self.cron_job());
        out
    }

    /// The platforms `backup run --all` covers, as a config file of their names, namespaces
    /// and releases only (no Kafka settings, no credentials).
    fn config_map(&self) -> Manifest {
        let platforms: Vec<Value> = self
            .platforms
            .iter()
            .map(|(name, ns, release)| {
                let mut p = json!({ "name": name, "namespace": ns });
                if let Some(r) = release {
                    p["release"] = json!(r);
                }
                p
            })
            .collect();
        let config = serde_yaml::to_string(&json!({ "platforms": platforms })).unwrap_or_default();
        Manifest {
            comment: Some(
                "The platforms `helmdeck backup run --all` backs up (names, namespaces and releases only)."
                    .into(),
            ),
            object: json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta(&format!("{NAME}-config"), &self.namespace),
                "data": { "config.yaml": config },
            }),
        }
    }

    /// Read access to what a backup reads in `ns`: its release Secrets and the objects the
    /// release owns ([`super::backup::OWNED_KINDS`]), get and list only.
    fn role(&self, ns: &str) -> Manifest {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (group, _, _, plural) in super::backup::OWNED_KINDS {
            match groups.iter_mut().find(|(g, _)| g == group) {
                Some((_, plurals)) => plurals.push(plural),
                None => groups.push((group, vec![plural])),
            }
        }
        let rules: Vec<Value> = groups
            .into_iter()
            .map(|(group, plurals)| {
                json!({ "apiGroups": [group], "resources": plurals, "verbs": ["get", "list"] })
            })
            .collect();
        Manifest {
            comment: Some(format!(
                "Read-only, in {ns}: release Secrets and the objects a release owns.\n\
                 RBAC cannot narrow a rule to Secrets of one type (helm.sh/release.v1) or to a \
                 label: this\nRole reads every Secret in {ns}. helmdeck backs up only the \
                 release's Secrets and those it owns."
            )),
            object: json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta(NAME, ns),
                "rules": rules,
            }),
        }
    }

    fn cron_job(&self) -> Manifest {
        let container = json!({
            "name": "backup",
            "image": self.image,
            "command": ["helmdeck"],
            "args": self.args(),
            "env": [
                { "name": "HOME", "value": "/tmp" },
                { "name": "XDG_DATA_HOME", "value": "/tmp/data" },
            ],
            "envFrom": [{ "secretRef": { "name": CREDENTIALS_SECRET, "optional": true } }],
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "capabilities": { "drop": ["ALL"] },
            },
            "volumeMounts": [
                { "name": "config", "mountPath": "/etc/helmdeck", "readOnly": true },
                { "name": "tmp", "mountPath": "/tmp" },
            ],
        });
        let pod = json!({
            "serviceAccountName": NAME,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "containers": [container],
            "volumes": [
                { "name": "config", "configMap": { "name": format!("{NAME}-config") } },
                { "name": "tmp", "emptyDir": {} },
            ],
        });
        Manifest {
            comment: Some(format!(
                "Every {} ({}): `helmdeck {}`.\nCredentials for the object store come from the \
                 Secret {CREDENTIALS_SECRET} (optional) as environment variables.",
                self.every.text,
                self.every.cron,
                self.args().join(" ")
            )),
            object: json!({
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": meta(NAME, &self.namespace),
                "spec": {
                    "schedule": self.every.cron,
                    "concurrencyPolicy": "Forbid",
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "jobTemplate": {
                        "metadata": { "labels": labels() },
                        "spec": {
                            "backoffLimit": 1,
                            "template": {
                                "metadata": { "labels": labels() },
                                "spec": pod,
                            },
                        },
                    },
                },
            }),
        }
    }
}

/// The manifests as one YAML stream, each with its comment, for `kubectl apply -f -`.
pub fn to_yaml(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n");
        if let Some(c) = &m.comment {
            for line in c.lines() {
                out.push_str("# ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&serde_yaml::to_string(&m.object).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_becomes_an_even_cron_schedule() {
        for (every, cron, minutes) in [
            ("1m", "* * * * *", 1),
            ("15m", "*/15 * * * *", 15),
            ("30m", "*/30 * * * *", 30),
            ("60m", "0 * * * *", 60),
            ("1h", "0 * * * *", 60),
            ("6h", "0 */6 * * *", 360),
            ("12h", "0 */12 * * *", 720),
            ("24h", "0 0 * * *", 1440),
            ("1d", "0 0 * * *", 1440),
            ("7d", "0 0 * * 0", 10080),
        ] {
            let e = parse_every(every).unwrap();
            assert_eq!((e.cron.as_str(), e.minutes), (cron, minutes), "{every}");
        }
    }

    #[test]
    fn what_cron_cannot_run_evenly_is_refused_saying_what_works() {
        for every in ["45m", "7m", "90m", "5h", "7h", "2d", "3d", "30d"] {
            let err = parse_every(every).unwrap_err().to_string();
            assert!(err.contains("cannot run that evenly"), "{every}: {err}");
            assert!(
                err.contains("15") && err.contains("6h") && err.contains("1d"),
                "{err}"
            );
        }
        for (bad, says) in [
            ("0h", "more than zero"),
            ("h", "expected a number"),
            ("1w", "unknown unit"),
            ("", "expected a number"),
            ("-1h", "expected a number"),
        ] {
            let err = parse_every(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    fn schedule() -> Schedule {
        Schedule {
            every: parse_every("1h").unwrap(),
            keep: 48,
            to: "s3://backups/helmdeck".into(),
            image: "registry.example/helmdeck:0.1.0".into(),
            namespace: "helmdeck".into(),
            platforms: vec![
                ("mr-ee".into(), "mr-ee".into(), Some("ee".into())),
                (
                    "iomete".into(),
                    "iomete".into(),
                    Some("iomete-dataplane".into()),
                ),
                ("mr-ee-canary".into(), "mr-ee".into(), None),
            ],
        }
    }

    #[test]
    fn one_role_and_binding_per_platform_namespace_reading_only() {
        let m = schedule().manifests();
        let kinds: Vec<String> = m
            .iter()
            .map(|m| format!("{} {}/{}", m.kind(), m.namespace(), m.name()))
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount helmdeck/helmdeck-backup",
                "ConfigMap helmdeck/helmdeck-backup-config",
                "Role iomete/helmdeck-backup",
                "RoleBinding iomete/helmdeck-backup",
                "Role mr-ee/helmdeck-backup",
                "RoleBinding mr-ee/helmdeck-backup",
                "CronJob helmdeck/helmdeck-backup",
            ]
        );
        let role = &m[2].object;
        for rule in role["rules"].as_array().unwrap() {
            assert_eq!(rule["verbs"], json!(["get", "list"]), "{rule}");
        }
        let core = role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["apiGroups"] == json!([""]))
            .unwrap();
        assert!(
            core["resources"]
                .as_array()
                .unwrap()
                .contains(&json!("secrets"))
        );
        assert!(
            m[2].comment
                .as_ref()
                .unwrap()
                .contains("cannot narrow a rule to Secrets of one type")
        );
        assert_eq!(m[3].object["subjects"][0]["namespace"], "helmdeck");
    }

    #[test]
    fn the_cron_job_runs_backup_run_on_the_schedule_as_non_root() {
        let m = schedule().manifests();
        let cj = &m.last().unwrap().object;
        assert_eq!(cj["spec"]["schedule"], "0 * * * *");
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Forbid");
        let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], NAME);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let c = &pod["containers"][0];
        assert_eq!(c["image"], "registry.example/helmdeck:0.1.0");
        assert_eq!(
            c["args"],
            json!([
                "backup",
                "run",
                "--all",
                "--to",
                "s3://backups/helmdeck",
                "--keep",
                "48",
                "--config",
                CONFIG_PATH
            ])
        );
        let config = m[1].object["data"]["config.yaml"].as_str().unwrap();
        let parsed = crate::config::Config::from_yaml(config, std::path::Path::new("cm")).unwrap();
        assert_eq!(parsed.platforms.len(), 3);
        assert_eq!(parsed.platforms[0].release.as_deref(), Some("ee"));
        let yaml = to_yaml(&m);
        assert_eq!(yaml.matches("\n---\n").count() + 1, m.len());
        assert!(yaml.contains("# Every 1h (0 * * * *)"), "{yaml}");
    }
}
