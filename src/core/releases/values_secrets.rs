//! Secret-looking values in the values repo, encrypted with age (age-encryption.org).
//!
//! What is committed: `values.yaml` keeps its shape and every value that is not secret; the
//! value of each secret-looking key ([`history::is_secret_key`], its whole subtree, as
//! [`history::secret_paths`] finds them) becomes one string `ENC[age:BASE64]`, where BASE64 is
//! a standard age file (the binary format, base64 on one line) encrypted to every configured
//! recipient. Its plaintext is the value itself for a string, and the value's JSON for
//! anything else (`ENC[age,json:BASE64]`), so the `age` command line reads it:
//! `printf %s BASE64 | base64 -d | age -d -i key.txt`. Each value is its own age file, so a
//! diff of the repo shows which secret changed and nothing of what it is.
//!
//! Read back, a sealed value is opened in memory with the identity — every one found of
//! `HELMDECK_AGE_IDENTITY` (the key itself), `HELMDECK_AGE_IDENTITY_FILE` and
//! `values_secrets.identity_file` in the config is tried; without any it stays masked
//! ([`MASK`]) and the reader says the identity is missing. Nothing decrypted is written to
//! disk here.

use super::history::{self, MASK};
use crate::core::private_files;
use age::secrecy::ExposeSecret as _;
use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

/// An age identity (`AGE-SECRET-KEY-1…`, one or more lines of an identity file).
pub const IDENTITY_ENV: &str = "HELMDECK_AGE_IDENTITY";
/// A file holding age identities (as `age-keygen` writes them).
pub const IDENTITY_FILE_ENV: &str = "HELMDECK_AGE_IDENTITY_FILE";

/// A sealed string value.
const STRING_PREFIX: &str = "ENC[age:";
/// A sealed value of any other kind (number, boolean, mapping, list), as JSON.
const JSON_PREFIX: &str = "ENC[age,json:";

/// What to do with secret-looking values when a values revision is committed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValuesSecrets {
    /// age recipients (`age1…`) they are encrypted to; none configured when empty.
    pub recipients: Vec<String>,
    /// The identity file named in the config (`values_secrets.identity_file`).
    pub identity_file: Option<PathBuf>,
    /// `--allow-plaintext-secrets`: with no recipients, commit them as they are (the commit
    /// message says so) instead of refusing.
    pub allow_plaintext: bool,
}

/// What a commit does with the secret-looking values it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// There are none.
    Nothing,
    /// Encrypted to the recipients.
    Encrypt,
    /// Committed as they are, as the user asked.
    Plaintext,
    /// Refused: no recipients, and plain text not allowed.
    Refuse,
}

impl ValuesSecrets {
    /// What committing values with `secret_paths` does.
    pub fn disposition(&self, secret_paths: &[String]) -> Disposition {
        if secret_paths.is_empty() {
            Disposition::Nothing
        } else if !self.recipients.is_empty() {
            Disposition::Encrypt
        } else if self.allow_plaintext {
            Disposition::Plaintext
        } else {
            Disposition::Refuse
        }
    }

    /// The demo's: an identity made on first use in `dir/age-identity.txt` (0600), whose
    /// recipient the demo's values repo encrypts to.
    pub fn demo(dir: &Path) -> Result<ValuesSecrets> {
        let path = dir.join("age-identity.txt");
        if !path.exists() {
            private_files::create_dir(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            let id = age::x25519::Identity::generate();
            let text = format!(
                "# helmdeck demo: the values repo's secrets are encrypted to this key\n# public key: {}\n{}\n",
                id.to_public(),
                id.to_string().expose_secret()
            );
            private_files::write(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let identity = Identity::from_file(&path)?;
        Ok(ValuesSecrets {
            recipients: identity.recipients(),
            identity_file: Some(path),
            allow_plaintext: false,
        })
    }
}

/// Parses age recipients (`age1…`); the error names the one that is not.
pub fn parse_recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    list.iter()
        .map(|r| {
            age::x25519::Recipient::from_str(r.trim())
                .map_err(|e| anyhow!("{r:?} is not an age recipient (age1…): {e}"))
        })
        .collect()
}

/// The age identities that open sealed values. Its `Debug` shows where they came from,
/// never the keys.
pub struct Identity {
    keys: Vec<age::x25519::Identity>,
    /// Where the keys came from, for messages.
    pub source: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Identity({} key(s) from {})",
            self.keys.len(),
            self.source
        )
    }
}

impl Identity {
    /// Parses identity-file text: one `AGE-SECRET-KEY-1…` a line, `#` comments and blank
    /// lines ignored. An error gives the line number, never the line.
    pub fn parse(text: &str, source: &str) -> Result<Identity> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = age::x25519::Identity::from_str(line).map_err(|e| {
                anyhow!(
                    "{source}, line {}: not an age identity (AGE-SECRET-KEY-1…): {e}",
                    i + 1
                )
            })?;
            keys.push(key);
        }
        if keys.is_empty() {
            bail!("{source} holds no age identity (AGE-SECRET-KEY-1…)");
        }
        Ok(Identity {
            keys,
            source: source.to_string(),
        })
    }

    /// Reads an identity file.
    pub fn from_file(path: &Path) -> Result<Identity> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the age identity file {}", path.display()))?;
        Identity::parse(&text, &path.display().to_string())
    }

    /// Every identity found: `$HELMDECK_AGE_IDENTITY`, the file `$HELMDECK_AGE_IDENTITY_FILE`
    /// names, and the config's `identity_file`; `None` when none is set.
    pub fn load(secrets: &ValuesSecrets) -> Result<Option<Identity>> {
        let mut found: Vec<Identity> = Vec::new();
        if let Some(text) = std::env::var(IDENTITY_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            found.push(Identity::parse(&text, &format!("${IDENTITY_ENV}"))?);
        }
        if let Some(path) = std::env::var_os(IDENTITY_FILE_ENV).filter(|p| !p.is_empty()) {
            found.push(Identity::from_file(Path::new(&path)).with_context(|| {
                format!("{IDENTITY_FILE_ENV} names {}", Path::new(&path).display())
            })?);
        }
        if let Some(path) = &secrets.identity_file {
            found.push(Identity::from_file(path)?);
        }
        Ok(found.into_iter().reduce(|mut a, b| {
            a.keys.extend(b.keys);
            a.source = format!("{} and {}", a.source, b.source);
            a
        }))
    }

    /// The recipients of these identities (`age1…`).
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }
}

/// What to say when sealed values cannot be opened for want of an identity.
pub fn identity_missing() -> String {
    format!(
        "the age identity is missing: set {IDENTITY_FILE_ENV} to a file holding it (or {IDENTITY_ENV} to the key, or values_secrets.identity_file in the config)"
    )
}

/// Whether a string is a sealed value.
pub fn is_sealed(s: &str) -> bool {
    (s.starts_with(STRING_PREFIX) || s.starts_with(JSON_PREFIX)) && s.ends_with(']')
}

/// `values` with the value of every secret-looking key encrypted to `recipients` (a value
/// already sealed is kept as it is).
pub fn seal(values: &Value, recipients: &[age::x25519::Recipient]) -> Result<Value> {
    if recipients.is_empty() {
        bail!("no age recipients to encrypt the secrets to");
    }
    Ok(match values {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let v = if history::is_secret_key(k) && !v.is_null() {
                    seal_one(v, recipients)?
                } else {
                    seal(v, recipients)?
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| seal(v, recipients))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

fn seal_one(v: &Value, recipients: &[age::x25519::Recipient]) -> Result<Value> {
    let (prefix, plain) = match v {
        Value::String(s) if is_sealed(s) => return Ok(v.clone()),
        Value::String(s) => (STRING_PREFIX, s.as_bytes().to_vec()),
        other => (JSON_PREFIX, serde_json::to_vec(other)?),
    };
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| anyhow!("cannot encrypt to the age recipients: {e}"))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = encryptor.wrap_output(&mut out)?;
    w.write_all(&plain)?;
    w.finish()?;
    Ok(Value::String(format!(
        "{prefix}{}]",
        base64::engine::general_purpose::STANDARD.encode(out)
    )))
}

/// Values read back from the repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The values: sealed ones decrypted, or [`MASK`]ed when there was no identity.
    pub values: Value,
    /// Where sealed values were (`global.kafka.saslPassword`).
    pub sealed: Vec<String>,
    /// The sealed values are masked: no identity was found.
    pub masked: bool,
}

impl Opened {
    /// What a reader says of them: nothing when none were sealed; masked, and why, without
    /// an identity.
    pub fn note(&self) -> Option<String> {
        if self.sealed.is_empty() {
            None
        } else if self.masked {
            Some(format!(
                "{} encrypted value(s) shown as {MASK} ({}): {}",
                self.sealed.len(),
                self.sealed.join(", "),
                identity_missing()
            ))
        } else {
            Some(format!(
                "{} encrypted value(s) decrypted in memory ({})",
                self.sealed.len(),
                self.sealed.join(", ")
            ))
        }
    }
}

/// Opens the sealed values in `values` with `identity` (masks them without one).
pub fn open(values: &Value, identity: Option<&Identity>) -> Result<Opened> {
    fn walk(
        v: &Value,
        path: &str,
        id: Option<&Identity>,
        sealed: &mut Vec<String>,
    ) -> Result<Value> {
        Ok(match v {
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.insert(k.clone(), walk(v, &p, id, sealed)?);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| walk(v, &format!("{path}[{i}]"), id, sealed))
                    .collect::<Result<_>>()?,
            ),
            Value::String(s) if is_sealed(s) => {
                sealed.push(path.to_string());
                match id {
                    Some(id) => open_one(s, id, path)?,
                    None => Value::String(MASK.into()),
                }
            }
            other => other.clone(),
        })
    }
    let mut sealed = Vec::new();
    let values = walk(values, "", identity, &mut sealed)?;
    Ok(Opened {
        masked: identity.is_none() && !sealed.is_empty(),
        values,
        sealed,
    })
}

/// Opens the sealed values in `values` with the identity [`Identity::load`] finds, read only
/// when there is something sealed.
pub fn open_with(values: &Value, secrets: &ValuesSecrets) -> Result<Opened> {
    if !contains_sealed(values) {
        return Ok(Opened {
            values: values.clone(),
            sealed: Vec::new(),
            masked: false,
        });
    }
    let identity = Identity::load(secrets)?;
    open(values, identity.as_ref())
}

fn contains_sealed(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(contains_sealed),
        Value::Array(a) => a.iter().any(contains_sealed),
        Value::String(s) => is_sealed(s),
        _ => false,
    }
}

fn open_one(s: &str, id: &Identity, path: &str) -> Result<Value> {
    let (json, body) = match s.strip_prefix(JSON_PREFIX) {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix(STRING_PREFIX).unwrap_or(s)),
    };
    let body = body.strip_suffix(']').unwrap_or(body);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| anyhow!("{path}: the encrypted value is not base64: {e}"))?;
    let decryptor =
        age::Decryptor::new(&bytes[..]).map_err(|e| anyhow!("{path}: not an age file: {e}"))?;
    let mut reader = decryptor
        .decrypt(id.keys.iter().map(|k| k as &dyn age::Identity))
        .map_err(|e| {
            anyhow!(
                "{path}: cannot decrypt with the age identity from {}: {e}",
                id.source
            )
        })?;
    let mut plain = Vec::new();
    reader
        .read_to_end(&mut plain)
        .map_err(|e| anyhow!("{path}: cannot decrypt: {e}"))?;
    if json {
        serde_json::from_slice(&plain).map_err(|e| anyhow!("{path}: decrypted, but not JSON: {e}"))
    } else {
        String::from_utf8(plain)
            .map(Value::String)
            .map_err(|_| anyhow!("{path}: decrypted, but not UTF-8 text"))
    }
}

/// Whether two values files hold the same values apart from the ciphertext of their sealed
/// ones (age encryption is randomised: the same values sealed twice differ). Both must hold
/// sealed values; a file that does not parse is never the same.
pub fn same_but_ciphertext(a: &[u8], b: &[u8]) -> bool {
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
            Value::String(s) if s.starts_with(JSON_PREFIX) && is_sealed(s) => {
                Value::String(JSON_PREFIX.into())
            }
            Value::String(s) if is_sealed(s) => Value::String(STRING_PREFIX.into()),
            other => other.clone(),
        }
    }
    let parse = |t: &[u8]| serde_yaml::from_slice::<Value>(t).ok();
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => contains_sealed(&a) && contains_sealed(&b) && shape(&a) == shape(&b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> (Identity, Vec<age::x25519::Recipient>) {
        let k = age::x25519::Identity::generate();
        let r = k.to_public();
        (
            Identity {
                keys: vec![k],
                source: "a test key".into(),
            },
            vec![r],
        )
    }

    fn values() -> Value {
        json!({
            "global": {"kafka": {"saslPassword": "canary-s3cret", "brokers": "b:9093"}},
            "minio": {"accessKey": "AKIA", "port": 9000, "existingSecret": "minio-creds"},
            "api": {"token": 12345, "credentials": {"user": "u", "pass": "p"}},
            "users": [{"name": "a", "password": "pw-a"}],
            "empty": {"password": null}
        })
    }

    #[test]
    fn seals_every_secret_and_nothing_else_and_opens_them_with_the_identity() {
        let (id, recipients) = key();
        let v = values();
        let sealed = seal(&v, &recipients).unwrap();
        let text = serde_yaml::to_string(&sealed).unwrap();
        for secret in ["canary-s3cret", "AKIA", "12345", "pw-a", "\"pass\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // What is not secret stays readable; a null secret stays null.
        assert_eq!(sealed["global"]["kafka"]["brokers"], "b:9093");
        assert_eq!(sealed["minio"]["existingSecret"], "minio-creds");
        assert_eq!(sealed["minio"]["port"], 9000);
        assert_eq!(sealed["users"][0]["name"], "a");
        assert_eq!(sealed["empty"]["password"], Value::Null);
        let s = sealed["global"]["kafka"]["saslPassword"].as_str().unwrap();
        assert!(s.starts_with("ENC[age:") && is_sealed(s), "{s}");
        let j = sealed["api"]["credentials"].as_str().unwrap();
        assert!(j.starts_with("ENC[age,json:"), "{j}");

        let opened = open(&sealed, Some(&id)).unwrap();
        assert_eq!(opened.values, v);
        assert!(!opened.masked);
        assert_eq!(
            opened.sealed,
            [
                "api.credentials",
                "api.token",
                "global.kafka.saslPassword",
                "minio.accessKey",
                "users[0].password"
            ]
        );
        assert!(opened.note().unwrap().contains("decrypted in memory"));
        // Sealing what is sealed changes nothing.
        assert_eq!(seal(&sealed, &recipients).unwrap(), sealed);
    }

    #[test]
    fn without_the_identity_sealed_values_are_masked_and_the_reader_says_why() {
        let (_, recipients) = key();
        let sealed = seal(&values(), &recipients).unwrap();
        let opened = open(&sealed, None).unwrap();
        assert!(opened.masked);
        assert_eq!(opened.values["global"]["kafka"]["saslPassword"], MASK);
        assert_eq!(opened.values["api"]["credentials"], MASK);
        assert_eq!(opened.values["global"]["kafka"]["brokers"], "b:9093");
        let note = opened.note().unwrap();
        assert!(note.contains("identity is missing"), "{note}");
        assert!(note.contains(IDENTITY_FILE_ENV), "{note}");
    }

    #[test]
    fn another_identity_cannot_open_them() {
        let (_, recipients) = key();
        let (other, _) = key();
        let sealed = seal(&values(), &recipients).unwrap();
        let err = open(&sealed, Some(&other)).unwrap_err().to_string();
        assert!(err.contains("cannot decrypt"), "{err}");
        assert!(!err.contains("canary"), "{err}");
    }

    #[test]
    fn every_recipient_can_open_them() {
        let (a, ra) = key();
        let (b, rb) = key();
        let both: Vec<_> = ra.into_iter().chain(rb).collect();
        let sealed = seal(&values(), &both).unwrap();
        assert_eq!(open(&sealed, Some(&a)).unwrap().values, values());
        assert_eq!(open(&sealed, Some(&b)).unwrap().values, values());
    }

    #[test]
    fn identity_files_and_recipients_parse_and_errors_never_show_a_key() {
        let k = age::x25519::Identity::generate();
        let secret = k.to_string().expose_secret().to_string();
        let text = format!(
            "# created: today\n# public key: {}\n\n{secret}\n",
            k.to_public()
        );
        let id = Identity::parse(&text, "key.txt").unwrap();
        assert_eq!(id.recipients(), [k.to_public().to_string()]);
        assert!(!format!("{id:?}").contains(&secret));

        let broken = format!("{}x\n", &secret[..secret.len() - 1]);
        let err = Identity::parse(&broken, "key.txt").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains(&secret[20..]), "{err}");
        assert!(Identity::parse("# nothing\n", "empty.txt").is_err());

        assert!(parse_recipients(&[k.to_public().to_string()]).is_ok());
        let err = parse_recipients(&["age1nope".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("age1nope"), "{err}");
    }

    #[test]
    fn what_to_do_with_secrets() {
        let paths = vec!["a.password".to_string()];
        let mut s = ValuesSecrets::default();
        assert_eq!(s.disposition(&[]), Disposition::Nothing);
        assert_eq!(s.disposition(&paths), Disposition::Refuse);
        s.allow_plaintext = true;
        assert_eq!(s.disposition(&paths), Disposition::Plaintext);
        s.recipients = vec!["age1…".into()];
        assert_eq!(s.disposition(&paths), Disposition::Encrypt);
    }

    #[test]
    fn the_same_values_sealed_twice_differ_only_in_ciphertext() {
        let (_, recipients) = key();
        let yaml = |v: &Value| serde_yaml::to_string(&seal(v, &recipients).unwrap()).unwrap();
        let (a, b) = (yaml(&values()), yaml(&values()));
        assert_ne!(a, b);
        assert!(same_but_ciphertext(a.as_bytes(), b.as_bytes()));
        let mut other = values();
        other["minio"]["port"] = json!(9001);
        assert!(!same_but_ciphertext(a.as_bytes(), yaml(&other).as_bytes()));
        assert!(!same_but_ciphertext(b"a: 1\n", b"a: 1\n"));
    }

    #[test]
    fn the_demo_makes_its_key_once_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let first = ValuesSecrets::demo(&dir).unwrap();
        let again = ValuesSecrets::demo(&dir).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.recipients.len(), 1);
        let file = first.identity_file.clone().unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let id = Identity::from_file(&file).unwrap();
        let recipients = parse_recipients(&first.recipients).unwrap();
        let sealed = seal(&values(), &recipients).unwrap();
        assert_eq!(open(&sealed, Some(&id)).unwrap().values, values());
    }
}
