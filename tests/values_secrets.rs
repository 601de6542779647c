//! Issue 13: no plain-text secrets in the values repo. `helmdeck upgrade` as a user runs it,
//! against an in-process sandbox with a private HOME: a canary secret committed with age
//! recipients configured is nowhere in the repo's git history (read with the real `git`),
//! and is readable with the age identity (the age crate, and the real `age` command line
//! when it is installed); without recipients the commit is refused before anything changes,
//! unless `--allow-plaintext-secrets`, which the commit message records; the files written
//! are 0600 and the directories made 0700.

mod common;
use common::git;

use age::secrecy::ExposeSecret as _;
use base64::Engine as _;
use helmdeck::core::releases::fetch::release_history;
use helmdeck::sandbox::{Options, Sandbox};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CANARY: &str = "canary-7f3a9c-do-not-leak";
/// The secrets the sandbox's mr-ee release already has (its scenario's values).
const SCENARIO_SECRETS: [&str; 3] = [
    "c2FuZGJveC1ub3QtYS1yZWFsLWtleQ",
    "pina_sandbox_token",
    "sandbox-api-secret",
];

fn helmdeck(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helmdeck"));
    c.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("HELMDECK_DRIVER")
        .env_remove("HELMDECK_AGE_IDENTITY")
        .env_remove("HELMDECK_AGE_IDENTITY_FILE");
    c
}

/// A sandbox in this process and a private HOME for helmdeck: (sandbox, home, kubeconfig
/// path, chart repository URL), as tests/upgrade_cli.rs makes them.
async fn sandbox_home() -> (Sandbox, tempfile::TempDir, String, String) {
    let sb = Sandbox::start(Options::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kc = tmp.path().join("kubeconfig");
    helmdeck::sandbox::server::write_kubeconfig(&kc, &sb.url()).unwrap();
    let repo = format!("{}/charts", sb.url());
    (sb, tmp, kc.to_str().unwrap().to_string(), repo)
}

/// Runs a change command on mr-ee/ee with the sandbox driver: (exit code, stdout + stderr).
fn change(home: &Path, kc: &str, args: &[&str], env: &[(&str, &Path)]) -> (Option<i32>, String) {
    let mut a = args.to_vec();
    a.extend(["-n", "mr-ee", "--driver", "sandbox", "--kubeconfig", kc]);
    let mut cmd = helmdeck(home, &a);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// A fresh age key: its identity file (0600, in `home`) and its recipient.
fn age_key(home: &Path) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = home.join("age-identity.txt");
    std::fs::write(
        &path,
        format!(
            "# public key: {}\n{}\n",
            id.to_public(),
            id.to_string().expose_secret()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (path, id.to_public().to_string())
}

fn write_config(home: &Path, yaml: &str) {
    let dir = home.join("config/helmdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
}

fn values_repo(home: &Path) -> PathBuf {
    home.join("data/helmdeck/values")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Everything git holds, read with the real `git`: every commit's patch over all refs
/// (notes included), every revision grepped, and every object in the object store.
fn everything_in_git(repo: &Path) -> String {
    let mut all = git(repo, &["log", "-p", "--all", "--format=%H%n%B%n%N"]);
    let revs = git(repo, &["rev-list", "--all"]);
    for rev in revs.split_whitespace() {
        all.push_str(&git(repo, &["grep", "-h", "-e", "", rev]));
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    all.push_str(&String::from_utf8_lossy(&out.stdout));
    all
}

/// Whether `git grep` finds `needle` in any revision (exit 1: nowhere).
fn git_grep_all(repo: &Path, needle: &str) -> bool {
    let revs = git(repo, &["rev-list", "--all"]);
    let mut args = vec!["grep", "-F", "-q", "-e", needle];
    args.extend(revs.split_whitespace());
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(&args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0 | 1)), "git grep: {status}");
    status.success()
}

/// The sealed value at `path` (dotted) of the values committed at `rev`.
fn sealed_at(repo: &Path, rev: &str, path: &str) -> String {
    let text = git(repo, &["show", &format!("{rev}:mr-ee/ee/values.yaml")]);
    let v: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let mut at = &v;
    for part in path.split('.') {
        at = &at[part];
    }
    let s = at
        .as_str()
        .unwrap_or_else(|| panic!("{path} in {text}"))
        .to_string();
    assert!(s.starts_with("ENC[age:") && s.ends_with(']'), "{path}: {s}");
    s
}

/// The age file inside `ENC[age:BASE64]`.
fn age_file(sealed: &str) -> Vec<u8> {
    let b64 = sealed
        .strip_prefix("ENC[age:")
        .and_then(|s| s.strip_suffix(']'))
        .unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

async fn release_revisions(sb: &Sandbox) -> (usize, serde_json::Value) {
    let client = kube::Client::try_from(kube::Config::new(sb.url().parse().unwrap())).unwrap();
    let h = release_history(&client, "mr-ee", "ee").await.unwrap();
    (h.revisions.len(), h.current().unwrap().config.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_secret_is_encrypted_in_all_of_git_and_opened_only_with_the_identity() {
    let (sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    let (identity, recipient) = age_key(home);
    write_config(
        home,
        &format!("values_secrets:\n  recipients: [{recipient}]\n"),
    );
    let set = format!("global.kafka.saslPassword={CANARY}");

    let (code, out) = change(
        home,
        &kc,
        &[
            "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes", "--set", &set,
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("secrets") && out.contains("encrypted with age"),
        "{out}"
    );
    assert!(!out.contains(CANARY), "the secret was printed: {out}");

    let vr = values_repo(home);
    let first = git(&vr, &["rev-parse", "HEAD"]).trim().to_string();
    let message = git(&vr, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("Secrets: encrypted with age: ")
            && message.contains("global.kafka.saslPassword")
            && message.contains("destinations.pinterest.accessToken"),
        "{message}"
    );

    // A second revision with another secret value, so history has more than one.
    let (code, out) = change(
        home,
        &kc,
        &[
            "upgrade",
            "ee",
            "--to",
            "1.5.0",
            "--repo",
            &repo,
            "--yes",
            "--set",
            "global.kafka.saslPassword=second-secret-value",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");

    // Nowhere in git without the identity: no patch, no revision, no object.
    let everything = everything_in_git(&vr);
    assert!(everything.contains("ENC[age:"), "nothing sealed?");
    for secret in [CANARY, "second-secret-value"]
        .into_iter()
        .chain(SCENARIO_SECRETS)
    {
        assert!(!everything.contains(secret), "{secret} is readable in git");
        assert!(!git_grep_all(&vr, secret), "git grep finds {secret}");
    }
    // What is not secret stays readable in the diffs.
    assert!(
        everything.contains("securityProtocol: SASL_SSL"),
        "{everything}"
    );

    // Files 0600, directories 0700: the repo's, the backups', the journal's.
    assert_eq!(mode(&vr), 0o700);
    assert_eq!(mode(&vr.join("mr-ee/ee")), 0o700);
    assert_eq!(mode(&vr.join("mr-ee/ee/values.yaml")), 0o600);
    assert_eq!(mode(&vr.join("mr-ee/ee/release.yaml")), 0o600);
    let backups = home.join("data/helmdeck/backups");
    assert_eq!(mode(&backups), 0o700);
    let archives: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(archives.len(), 2, "{archives:?}");
    for a in &archives {
        assert_eq!(mode(a), 0o600, "{}", a.display());
    }
    assert_eq!(mode(&home.join("data/helmdeck/journal")), 0o700);

    // Readable with the identity (the age crate, as any age implementation reads it).
    let key = std::fs::read_to_string(&identity).unwrap();
    let key: age::x25519::Identity = key.lines().last().unwrap().parse().unwrap();
    let plain = age::decrypt(
        &key,
        &age_file(&sealed_at(&vr, &first, "global.kafka.saslPassword")),
    )
    .unwrap();
    assert_eq!(plain, CANARY.as_bytes());

    // Re-applying the first commit: without the identity, refused with the reason and the
    // secret masked; nothing changed.
    let (before, _) = release_revisions(&sb).await;
    let head = git(&vr, &["rev-parse", "HEAD"]);
    let (code, out) = change(
        home,
        &kc,
        &["apply", "ee", "--from-commit", &first, "--yes"],
        &[],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("identity is missing")
            && out.contains("HELMDECK_AGE_IDENTITY_FILE")
            && out.contains("global.kafka.saslPassword")
            && out.contains("nothing changed"),
        "{out}"
    );
    assert!(!out.contains(CANARY), "{out}");
    assert_eq!(release_revisions(&sb).await.0, before);
    assert_eq!(git(&vr, &["rev-parse", "HEAD"]), head);

    // With it: decrypted in memory, applied, and committed encrypted again.
    let (code, out) = change(
        home,
        &kc,
        &["apply", "ee", "--from-commit", &first, "--yes"],
        &[("HELMDECK_AGE_IDENTITY_FILE", identity.as_path())],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(CANARY), "{out}");
    let (after, config) = release_revisions(&sb).await;
    assert_eq!(after, before + 1);
    assert_eq!(config["global"]["kafka"]["saslPassword"], CANARY);
    assert_eq!(
        config["destinations"]["pinterest"]["accessToken"],
        "pina_sandbox_token"
    );
    assert!(!everything_in_git(&vr).contains(CANARY));
    assert!(!git_grep_all(&vr, CANARY));
    // Nothing decrypted was left in the working tree.
    let tree = std::fs::read_to_string(vr.join("mr-ee/ee/values.yaml")).unwrap();
    assert!(
        !tree.contains(CANARY) && tree.contains("ENC[age:"),
        "{tree}"
    );
    git(&vr, &["fsck", "--strict"]);
    drop(sb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_recipients_a_plaintext_secret_is_refused_unless_allowed_and_recorded() {
    let (sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    let set = format!("global.kafka.saslPassword={CANARY}");
    let upgrade = [
        "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes", "--set", &set,
    ];
    let (before, _) = release_revisions(&sb).await;

    let (code, out) = change(home, &kc, &upgrade, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("plain-text secrets in the values")
            && out.contains("global.kafka.saslPassword")
            && out.contains("no age recipients")
            && out.contains("--allow-plaintext-secrets")
            && out.contains("nothing changed"),
        "{out}"
    );
    assert!(!out.contains(CANARY), "{out}");
    // Nothing changed: no revision, no commit, no backup, no journal.
    assert_eq!(release_revisions(&sb).await.0, before);
    let data = home.join("data/helmdeck");
    let vr = values_repo(home);
    assert!(
        !vr.join(".git").exists() || git(&vr, &["log", "--oneline", "--all"]).is_empty(),
        "committed"
    );
    assert!(!data.join("backups").exists());
    assert!(!data.join("journal/mr-ee.ee.json").exists());

    // --dry-run shows the same refusal.
    let mut dry = upgrade.to_vec();
    dry.push("--dry-run");
    let (code, out) = change(home, &kc, &dry, &[]);
    assert_eq!(code, Some(2), "{out}");

    // Allowed: committed as it is, and the commit message records the choice.
    let mut allowed = upgrade.to_vec();
    allowed.push("--allow-plaintext-secrets");
    let (code, out) = change(home, &kc, &allowed, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(--allow-plaintext-secrets)"), "{out}");
    assert_eq!(release_revisions(&sb).await.0, before + 1);
    let message = git(&vr, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("Secrets: in plain text, allowed with --allow-plaintext-secrets: ")
            && message.contains("global.kafka.saslPassword"),
        "{message}"
    );
    assert!(!message.contains(CANARY), "{message}");
    assert!(git_grep_all(&vr, CANARY), "the user asked for plain text");
    assert_eq!(mode(&vr.join("mr-ee/ee/values.yaml")), 0o600);
    assert_eq!(mode(&vr.join("mr-ee/ee/release.yaml")), 0o600);
    assert_eq!(mode(&vr.join("mr-ee")), 0o700);
    assert_eq!(mode(&vr), 0o700);
    for d in ["", "backups", "journal"] {
        assert_eq!(mode(&data.join(d)), 0o700, "{d}");
    }
    for a in std::fs::read_dir(data.join("backups")).unwrap() {
        assert_eq!(mode(&a.unwrap().path()), 0o600);
    }
}

/// The real `age` command line decrypts what helmdeck committed, and helmdeck decrypts what
/// `age` encrypted (a values file carrying an `ENC[age:…]` made with `age -r`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_age_command_line_reads_what_helmdeck_wrote_and_the_other_way_round() {
    if Command::new("age").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED: the age command line is not installed (apt-get install age; scripts/test-all.sh installs it)"
        );
        return;
    }
    let (sb, tmp, kc, repo) = sandbox_home().await;
    let home = tmp.path();
    let (identity, recipient) = age_key(home);
    write_config(
        home,
        &format!("values_secrets:\n  recipients: [{recipient}]\n"),
    );
    let set = format!("global.kafka.saslPassword={CANARY}");
    let (code, out) = change(
        home,
        &kc,
        &[
            "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes", "--set", &set,
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    let vr = values_repo(home);

    // age -d -i KEY, on the age file inside the committed ENC[age:…].
    let file = home.join("sasl.age");
    std::fs::write(
        &file,
        age_file(&sealed_at(&vr, "HEAD", "global.kafka.saslPassword")),
    )
    .unwrap();
    let out = Command::new("age")
        .args(["-d", "-i"])
        .arg(&identity)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), CANARY);
    // The same through base64 on the command line, as the README shows.
    let sealed = sealed_at(&vr, "HEAD", "destinations.pinterest.accessToken");
    let b64 = sealed
        .strip_prefix("ENC[age:")
        .unwrap()
        .strip_suffix(']')
        .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("printf %s \"$1\" | base64 -d | age -d -i \"$2\"")
        .arg("sh")
        .arg(b64)
        .arg(&identity)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pina_sandbox_token");

    // The other way: `age -r` encrypts a new password; helmdeck applies it from a values
    // file with the identity, and the cluster gets the plaintext.
    let mut age_enc = Command::new("age")
        .args(["-r", &recipient])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    age_enc
        .stdin
        .take()
        .unwrap()
        .write_all(b"made-by-the-age-cli")
        .unwrap();
    let enc = age_enc.wait_with_output().unwrap();
    assert!(enc.status.success());
    let marker = format!(
        "ENC[age:{}]",
        base64::engine::general_purpose::STANDARD.encode(&enc.stdout)
    );
    let values = home.join("values.yaml");
    std::fs::write(
        &values,
        format!("global:\n  kafka:\n    saslPassword: \"{marker}\"\nrouter:\n  replicas: 2\n"),
    )
    .unwrap();
    let values = values.to_str().unwrap().to_string();
    let upgrade = [
        "upgrade", "ee", "--to", "1.5.0", "--repo", &repo, "--yes", "-f", &values,
    ];
    let (code, out) = change(home, &kc, &upgrade, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("identity is missing"), "{out}");
    let (code, out) = change(
        home,
        &kc,
        &upgrade,
        &[("HELMDECK_AGE_IDENTITY_FILE", identity.as_path())],
    );
    assert_eq!(code, Some(0), "{out}");
    let (_, config) = release_revisions(&sb).await;
    assert_eq!(
        config["global"]["kafka"]["saslPassword"],
        "made-by-the-age-cli"
    );
    assert!(!git_grep_all(&vr, "made-by-the-age-cli"));
}
