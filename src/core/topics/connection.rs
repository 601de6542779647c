//! Connection settings for a Kafka-protocol broker: any librdkafka property, as `kcat -X`
//! takes them, with the password from a file or an environment variable put into
//! `sasl.password`. Secrets are masked wherever settings are shown and never logged.

use crate::config::KafkaConfig;
use std::collections::BTreeMap;

/// What stands for a secret on screen.
pub const MASK: &str = "****";

/// Properties that are secrets: their values are never shown.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k.contains("secret") || k.ends_with(".key.pem") || k.contains("token")
}

/// librdkafka properties for one cluster.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Connection {
    properties: BTreeMap<String, String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("properties", &self.masked())
            .finish()
    }
}

impl Connection {
    /// From a platform's `kafka` settings: its properties plus the password from
    /// `password_file`/`password_env`.
    pub fn from_config(config: &KafkaConfig) -> anyhow::Result<Connection> {
        Ok(Connection {
            properties: config.client_properties()?,
        })
    }

    /// Only `bootstrap.servers`.
    pub fn bootstrap(servers: &str) -> Connection {
        let mut c = Connection::default();
        c.set("bootstrap.servers", servers);
        c
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.properties.insert(key.to_string(), value.to_string());
    }

    /// Applies `key=value` settings as `kcat -X` takes them.
    pub fn apply_overrides(&mut self, pairs: &[String]) -> Result<(), String> {
        for pair in pairs {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("-X {pair}: expected key=value"))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(format!("-X {pair}: empty property name"));
            }
            self.set(k, v);
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// `bootstrap.servers`, or `(none)`.
    pub fn servers(&self) -> &str {
        self.get("bootstrap.servers")
            .or_else(|| self.get("metadata.broker.list"))
            .unwrap_or("(none)")
    }

    /// Every property with secrets as `****`, for display.
    pub fn masked(&self) -> BTreeMap<String, String> {
        self.properties
            .iter()
            .map(|(k, v)| {
                let v = if is_secret(k) {
                    MASK.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// The raw properties, for the client only.
    pub(crate) fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// `host:port (SASL_SSL, PLAIN as $ConnectionString)` — nothing secret.
    pub fn summary(&self) -> String {
        let mut s = self.servers().to_string();
        let mut extra = Vec::new();
        if let Some(p) = self.get("security.protocol") {
            extra.push(p.to_string());
        }
        if let Some(m) = self
            .get("sasl.mechanism")
            .or_else(|| self.get("sasl.mechanisms"))
        {
            let user = self
                .get("sasl.username")
                .map(|u| format!(" as {u}"))
                .unwrap_or_default();
            extra.push(format!("{m}{user}"));
        }
        if !extra.is_empty() {
            s.push_str(&format!(" ({})", extra.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_everywhere_they_are_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "Endpoint=sb://x/;SharedAccessKey=hunter2\n").unwrap();
        let config = KafkaConfig {
            properties: BTreeMap::from([
                (
                    "bootstrap.servers".into(),
                    "ns.servicebus.windows.net:9093".into(),
                ),
                ("security.protocol".into(), "SASL_SSL".into()),
                ("sasl.mechanism".into(), "PLAIN".into()),
                ("sasl.username".into(), "$ConnectionString".into()),
            ]),
            password_file: Some(file),
            password_env: None,
        };
        let mut c = Connection::from_config(&config).unwrap();
        c.apply_overrides(&["ssl.key.password=k3y".into(), "client.id=hd".into()])
            .unwrap();
        assert_eq!(
            c.get("sasl.password"),
            Some("Endpoint=sb://x/;SharedAccessKey=hunter2")
        );
        let masked = c.masked();
        assert_eq!(masked["sasl.password"], MASK);
        assert_eq!(masked["ssl.key.password"], MASK);
        assert_eq!(masked["client.id"], "hd");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("k3y"),
            "{debug}"
        );
        assert_eq!(
            c.summary(),
            "ns.servicebus.windows.net:9093 (SASL_SSL, PLAIN as $ConnectionString)"
        );
        assert!(c.apply_overrides(&["nonsense".into()]).is_err());
        assert!(c.apply_overrides(&["=x".into()]).is_err());
    }
}
