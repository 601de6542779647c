//! The fuzz targets: each takes one input and gives it to the project's own decoders, the
//! way the program does (nothing is decoded here; the harness only frames the input, e.g.
//! a request line in front of a sandbox body). A panic is a crash; what the decoders answer
//! is turned into [`Features`], the fuzzer's stand-in for coverage.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use helmdeck::config::Config;
use helmdeck::core::release::{self, Release};
use helmdeck::core::releases::{backup, history, repo};
use helmdeck::core::workflows::journal::Journal;
use helmdeck::core::workflows::upgrade;
use helmdeck::sandbox::api;
use helmdeck::sandbox::apply::Writer;
use helmdeck::sandbox::resources::ResourceType;
use helmdeck::sandbox::store::{Store, UpdateScope};
use helmdeck::tui::keymap::KeyMap;
use helmdeck::tui::theme::Theme;
use serde_json::Value;
use std::fmt::Display;
use std::hash::{Hash, Hasher};
use std::path::Path;

/// What an execution did, as hashes: the result's kind, the class of its error message
/// (numbers and quoted names removed), the shape of what was decoded. An input is kept in
/// the corpus when it gives a hash not seen before. True coverage (edges) needs compiler
/// instrumentation, which stable Rust does not offer to a bench; this is a proxy.
#[derive(Default)]
pub struct Features(pub Vec<u64>);

fn hash_of(parts: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl Features {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn tag(&mut self, tag: &str) {
        self.0.push(hash_of(("tag", tag)));
    }

    /// A number, by its order of magnitude.
    pub fn num(&mut self, what: &str, n: usize) {
        self.0
            .push(hash_of(("num", what, usize::BITS - n.leading_zeros())));
    }

    /// An error, by the class of its message.
    pub fn err(&mut self, what: &str, e: &dyn Display) {
        let class = message_class(&e.to_string());
        self.0.push(hash_of(("err", what, class)));
    }

    /// The shape of a decoded document: keys and types down to depth 3.
    pub fn shape(&mut self, what: &str, v: &Value) {
        fn walk(
            f: &mut Features,
            what: &str,
            key: &str,
            v: &Value,
            depth: usize,
            budget: &mut usize,
        ) {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let ty = match v {
                Value::Null => 0u8,
                Value::Bool(_) => 1,
                Value::Number(n) if n.is_i64() => 2,
                Value::Number(n) if n.is_u64() => 3,
                Value::Number(_) => 4,
                Value::String(_) => 5,
                Value::Array(_) => 6,
                Value::Object(_) => 7,
            };
            // Names as a schema has them; anything else is one "other" name.
            let key = if key.len() <= 40
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
            {
                key
            } else {
                "?"
            };
            f.0.push(hash_of(("shape", what, key, depth, ty)));
            if depth >= 3 {
                return;
            }
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        walk(f, what, k, x, depth + 1, budget);
                    }
                }
                Value::Array(a) => {
                    f.num(what, a.len());
                    for x in a.iter().take(4) {
                        walk(f, what, "[]", x, depth + 1, budget);
                    }
                }
                _ => {}
            }
        }
        let mut budget = 64;
        walk(self, what, "", v, 0, &mut budget);
    }
}

/// An error message with what varies between inputs taken out: only its lower-case words
/// are kept (not numbers, quoted text, names with dots or slashes), so "at line 3 column 5"
/// and "at line 9 column 1" are one class, and so are two unknown fields.
pub fn message_class(msg: &str) -> String {
    let mut out = String::with_capacity(96);
    let mut quote: Option<char> = None;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let w = word.trim_end_matches([':', ',', ';', ')', '.']);
        let w = w.trim_start_matches('(');
        if !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
        {
            out.push_str(w);
            out.push(' ');
        }
        word.clear();
    };
    for c in msg.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '`' => {
                flush(&mut word, &mut out);
                quote = Some(c);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
        if out.len() >= 96 {
            break;
        }
    }
    flush(&mut word, &mut out);
    out
}

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    /// Inputs are binary (protobuf, gzip, tar) rather than text: fewer text-token mutations.
    pub binary: bool,
    /// Tokens worth inserting, besides the YAML/JSON ones every text target gets.
    pub dict: &'static [&'static str],
    pub run: fn(&[u8], &mut Features),
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "release",
        about: "Helm release Secret codec: first byte 0 = data.release bytes as stored \
                (base64 → gzip → JSON), 1 = bytes the harness base64-encodes (JSON or gzip), \
                2 = a whole Secret as JSON → release history, rows, values, manifest masking",
        binary: false,
        dict: &[
            "H4sI",
            "\"info\"",
            "\"chart\"",
            "\"config\"",
            "\"manifest\"",
            "\"version\"",
            "\"status\"",
            "\"metadata\"",
            "\"values\"",
            "\"data\"",
            "\"release\"",
            "helm.sh/release.v1",
            "\"type\"",
            "\"labels\"",
            "\"last_deployed\"",
            "\"first_deployed\"",
            "\"deployed\"",
            "\"pending-upgrade\"",
            "kind: Secret\n",
            "stringData:\n",
            "data:\n",
            "---\n",
        ],
        run: release_target,
    },
    Target {
        name: "index",
        about: "chart repository index.yaml: parse, chart lookup, newer versions and their \
                changelogs (artifacthub.io/changes YAML)",
        binary: false,
        dict: &[
            "apiVersion: v1\n",
            "entries:\n",
            "generated:",
            "version:",
            "appVersion:",
            "annotations:",
            "artifacthub.io/changes",
            "deprecated: true",
            "urls:",
            "digest:",
            "created:",
            "- kind: ",
            "description: ",
            "1.0.0",
            "v1.2",
            "1.2.3-rc.1",
            "+build.1",
            "changelog",
        ],
        run: index_target,
    },
    Target {
        name: "values",
        about: "values YAML (-f) then --set lines after a NUL byte (parse_values, apply_set), \
                rendered masked as for the diff",
        binary: false,
        dict: &[
            "\0",
            "=",
            "image.tag=",
            "replicaCount=",
            ".",
            "password",
            "secretKey",
            "token",
            "null",
            "~",
            "true",
            "0x1F",
            "1e3",
            "image:\n  tag: ",
            "- ",
        ],
        run: values_target,
    },
    Target {
        name: "config",
        about: "the configuration file (Config::from_yaml) and its key bindings \
                (KeyMap::with_overrides)",
        binary: false,
        dict: &[
            "theme:",
            "keys:",
            "readonly:",
            "contexts:",
            "log_file:",
            "platforms:",
            "backup_dir:",
            "values_repo:",
            "namespace:",
            "release:",
            "topic_prefix:",
            "destinations:",
            "custom_topics:",
            "consumers:",
            "workload:",
            "topics:",
            "kafka:",
            "properties:",
            "password_file:",
            "password_env:",
            "screens:",
            "ctrl-",
            "alt-",
            "shift-",
            "f24",
            "esc",
            "enter",
            "scale",
            "quit",
            "drain",
            "nodes",
            "pods",
            "deploy/",
            "~/",
        ],
        run: config_target,
    },
    Target {
        name: "theme",
        about: "a theme file (Theme::from_yaml)",
        binary: false,
        dict: &[
            "fg:",
            "bg:",
            "modifiers:",
            "bold",
            "italic",
            "underlined",
            "reversed",
            "dim",
            "\"#ff00ff\"",
            "\"#fff\"",
            "red",
            "light-red",
            "indexed",
            "255",
            "256",
            "rgb",
            "header:",
            "selected:",
            "status-bad:",
        ],
        run: theme_target,
    },
    Target {
        name: "journal",
        about: "a change's journal file (Journal::from_json) and its summary",
        binary: false,
        dict: &[
            "\"operation\"",
            "\"kind\"",
            "\"upgrade\"",
            "\"rollback\"",
            "\"toVersion\"",
            "\"toRevision\"",
            "\"fromRevision\"",
            "\"started\"",
            "\"updated\"",
            "\"step\"",
            "\"backup\"",
            "\"commit\"",
            "\"holder\"",
            "\"2025-01-01T00:00:00Z\"",
            "\"-009999-01-01T00:00:00Z\"",
            "\"9999-12-31T23:59:59.999999999Z\"",
        ],
        run: journal_target,
    },
    Target {
        name: "backup",
        about: "a backup archive: first byte 0 = tar.gz as on disk (read_from), 1 = its tar \
                (read_tar, read_manifest_tar), 2 = a manifest.json the harness puts in a tar \
                with fixed files",
        binary: true,
        dict: &[
            "manifest.json",
            "SHA256SUMS",
            "\"files\"",
            "\"sha256\"",
            "\"path\"",
            "\"bytes\"",
            "\"format\"",
            "\"revision\"",
            "ustar",
            "ustar  \0",
            "../",
            "/etc/passwd",
            "release-secrets/",
            "resources/",
        ],
        run: backup_target,
    },
    Target {
        name: "sandbox_json",
        about: "sandbox create/replace with a JSON body: request line `<group/version/plural> \
                [name [status]] [strict]`, then the body (api::object_to_create / \
                object_to_update, then the store's dry run)",
        binary: false,
        dict: K8S_DICT,
        run: sandbox_json_target,
    },
    Target {
        name: "sandbox_yaml",
        about: "as sandbox_json with an application/yaml body",
        binary: false,
        dict: K8S_DICT,
        run: sandbox_yaml_target,
    },
    Target {
        name: "sandbox_protobuf",
        about: "as sandbox_json with an application/vnd.kubernetes.protobuf body",
        binary: true,
        dict: PROTOBUF_DICT,
        run: sandbox_protobuf_target,
    },
    Target {
        name: "sandbox_patch",
        about: "sandbox PATCH: request line `<merge|strategic|json> <group/version/plural> \
                <name> [status] [strict]`, then the patch (api::object_to_patch, then the \
                store's dry run)",
        binary: false,
        dict: PATCH_DICT,
        run: sandbox_patch_target,
    },
    Target {
        name: "sandbox_apply",
        about: "sandbox server-side apply: request line `<group/version/plural> <name> [force] \
                [status] [strict]`, then the YAML configuration (api::applied_configuration, \
                object_to_apply over an object other managers own, then the store's dry run)",
        binary: false,
        dict: K8S_DICT,
        run: sandbox_apply_target,
    },
];

const K8S_DICT: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "generateName",
    "labels",
    "annotations",
    "resourceVersion",
    "managedFields",
    "ownerReferences",
    "finalizers",
    "spec",
    "status",
    "replicas",
    "selector",
    "matchLabels",
    "matchExpressions",
    "template",
    "containers",
    "initContainers",
    "image",
    "ports",
    "containerPort",
    "env",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "volumes",
    "type",
    "ClusterIP",
    "NodePort",
    "LoadBalancer",
    "clusterIP",
    "clusterIPs",
    "nodePort",
    "targetPort",
    "data",
    "stringData",
    "binaryData",
    "minReplicas",
    "maxReplicas",
    "metrics",
    "scaleTargetRef",
    "Terminating",
    "fieldsV1",
    "f:spec",
    "k:{\"name\":\"app\"}",
    "v:",
    ".:",
    "Deployment",
    "Pod",
    "Service",
    "ConfigMap",
    "Secret",
    "Namespace",
    "HorizontalPodAutoscaler",
    "apps/v1",
    "v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "1Gi",
    "100m",
    "0.5",
    "1e3",
    "-1",
];

const PATCH_DICT: &[&str] = &[
    "$patch",
    "replace",
    "delete",
    "merge",
    "$setElementOrder/containers",
    "$retainKeys",
    "$deleteFromPrimitiveList/finalizers",
    "\"op\"",
    "\"add\"",
    "\"remove\"",
    "\"replace\"",
    "\"move\"",
    "\"copy\"",
    "\"test\"",
    "\"path\"",
    "\"from\"",
    "\"value\"",
    "/spec/replicas",
    "/metadata/labels/a",
    "/-",
    "/0",
    "~1",
    "~0",
    "merge ",
    "strategic ",
    "json ",
    "apps/v1/deployments ",
    "v1/pods ",
    "v1/services ",
    "v1/configmaps ",
    "autoscaling/v1/horizontalpodautoscalers ",
    "containers",
    "name",
    "image",
    "env",
    "metadata",
    "spec",
    "template",
    "annotations",
    "unschedulable",
];

const PROTOBUF_DICT: &[&str] = &[
    "k8s\0",
    "\n",
    "\x12",
    "\x1a",
    "\"",
    "*",
    "\x08",
    "\x10",
    "\u{7f}",
    "v1",
    "apps/v1",
    "Secret",
    "ConfigMap",
    "Namespace",
    "Deployment",
    "Eviction",
    "DeleteOptions",
    "policy/v1",
    "batch/v1",
    "Job",
    "CronJob",
    "autoscaling/v2",
];

// ---------------------------------------------------------------------------------------
// Decoders of files and payloads

fn release_target(data: &[u8], f: &mut Features) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => release_uses(release::decode_release(rest), f),
        1 => release_uses(release::decode_release(BASE64.encode(rest).as_bytes()), f),
        _ => {
            f.tag("secret");
            let secret: k8s_openapi::api::core::v1::Secret = match serde_json::from_slice(rest) {
                Ok(s) => s,
                Err(e) => return f.err("secret json", &e),
            };
            for h in release::history(std::slice::from_ref(&secret)) {
                for e in &h.errors {
                    f.err("history", &e.error);
                }
                f.num("rows", history::rows(&h).len());
                if let (Some(a), Some(b)) = (h.revisions.first(), h.revisions.last()) {
                    let d = history::diff(a, b, false);
                    f.num("diff", d.to_text().len());
                }
                for r in &h.revisions {
                    release_rendering(r, f);
                }
            }
        }
    }
}

fn release_uses(decoded: Result<Release, release::ReleaseDecodeError>, f: &mut Features) {
    match decoded {
        Err(e) => f.err("decode", &e),
        Ok(r) => {
            f.tag("decoded");
            release_rendering(&r, f);
        }
    }
}

/// What `helmdeck history` and the Releases screen make of a decoded revision.
fn release_rendering(r: &Release, f: &mut Features) {
    f.tag(r.info.status.as_str());
    f.shape("config", &r.config);
    f.num("values", history::values_yaml(&r.config, false).len());
    f.num("secret paths", history::secret_paths(&r.chart.values).len());
    f.num("manifest", history::mask_manifest(&r.manifest).len());
}

fn index_target(data: &[u8], f: &mut Features) {
    const URL: &str = "https://charts.example/index.yaml";
    let index = match repo::RepoIndex::parse(data, URL) {
        Ok(i) => i,
        Err(e) => return f.err("parse", &e),
    };
    f.tag("parsed");
    f.num("charts", index.entries.len());
    if let Err(e) = index.chart("no-such-chart", URL) {
        f.num("missing", e.to_string().len());
    }
    for (name, _) in index.entries.iter().take(4) {
        let entries = match index.chart(name, URL) {
            Ok(e) => e,
            Err(e) => return f.err("chart", &e),
        };
        let installed: Vec<&str> = ["0.0.1", "v1", "not-a-version"]
            .into_iter()
            .chain(entries.iter().take(2).map(|e| e.version.as_str()))
            .collect();
        for from in installed {
            match repo::newer_versions(entries, from, true) {
                Ok(offers) => {
                    f.num("offers", offers.len());
                    for o in offers.iter().take(8) {
                        f.tag(o.jump.as_str());
                        f.num("headline", o.headline().len());
                        f.num("changes", o.changes.len());
                    }
                }
                Err(e) => f.err("newer", &e),
            }
        }
        for e in entries.iter().take(8) {
            f.num("images", upgrade::images_of(e).len());
        }
    }
}

fn values_target(data: &[u8], f: &mut Features) {
    // The file is read as text (`read_to_string`): not UTF-8 is an error before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return f.tag("not utf-8");
    };
    let (yaml, sets) = text.split_once('\0').unwrap_or((text, ""));
    let mut values = match upgrade::parse_values(yaml, "values.yaml") {
        Ok(v) => v,
        Err(e) => return f.err("parse", &e),
    };
    f.shape("values", &values);
    // A command line gives a few `--set`s: 16 at most (each is parsed as YAML).
    for set in sets.lines().filter(|l| !l.is_empty()).take(16) {
        match upgrade::apply_set(&mut values, set) {
            Ok(()) => f.tag("set"),
            Err(e) => f.err("set", &e),
        }
    }
    f.num("rendered", history::values_yaml(&values, false).len());
}

fn config_target(data: &[u8], f: &mut Features) {
    let Ok(text) = std::str::from_utf8(data) else {
        return f.tag("not utf-8");
    };
    let config = match Config::from_yaml(text, Path::new("/fuzz/config.yaml")) {
        Ok(c) => c,
        Err(e) => return f.err("config", &e),
    };
    f.tag("parsed");
    f.num("platforms", config.platforms.len());
    f.num(
        "topics",
        config.platforms.iter().map(|p| p.topics().len()).sum(),
    );
    f.num("contexts", config.contexts.len());
    if config.is_readonly("prod") {
        f.tag("readonly");
    }
    match KeyMap::with_overrides(&config.keys) {
        Ok(_) => f.tag("keys"),
        Err(e) => f.err("keys", &e),
    }
}

fn theme_target(data: &[u8], f: &mut Features) {
    let Ok(text) = std::str::from_utf8(data) else {
        return f.tag("not utf-8");
    };
    match Theme::from_yaml(text, "fuzz.yaml") {
        Ok(_) => f.tag("theme"),
        Err(e) => f.err("theme", &e),
    }
}

fn journal_target(data: &[u8], f: &mut Features) {
    match Journal::from_json(data) {
        Ok(j) => {
            f.tag("journal");
            f.num("step", j.step.len());
            f.num("summary", j.summary().len());
        }
        Err(e) => f.err("journal", &e),
    }
}

/// The files a mode-2 backup input's manifest is put beside (the seeds' manifests list
/// them with their checksums).
pub const BACKUP_FILES: &[(&str, &str)] = &[
    ("values.yaml", "replicaCount: 2\nimage:\n  tag: \"1.4.2\"\n"),
    (
        "release-secrets/sh.helm.release.v1.shop.v3.json",
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"sh.helm.release.v1.shop.v3","labels":{"owner":"helm","name":"shop","version":"3","status":"deployed"}},"type":"helm.sh/release.v1","data":{"release":"SDRzSUFBQUFBQUFDLzZ0V3lrdk1UVld5VWlyT3lDOVEwZ0h6aWdzU2s1R0V5bEtMaWpQejg1U3NqSFdVTXZQUzhwV3NxcFdLU3hKTFNvdUJhbEpTQzNMeUsxTlRsR3ByQVp3ckhMZExBQUFB"}}"#,
    ),
    (
        "resources/apps-v1-Deployment-web.json",
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app.kubernetes.io/instance":"shop"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}"#,
    ),
];

/// A tar holding `manifest` as `manifest.json`, then [`BACKUP_FILES`], as a backup holds them.
pub fn backup_tar(manifest: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::with_capacity(16 * 1024));
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data).expect("in memory");
    };
    add("manifest.json", manifest);
    for (name, data) in BACKUP_FILES {
        add(name, data.as_bytes());
    }
    tar.into_inner().expect("in memory")
}

fn backup_target(data: &[u8], f: &mut Features) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let origin = Path::new("/fuzz/shop_web_20250101T000000.000Z.tar.gz");
    let (read, manifest) = match mode % 3 {
        0 => (
            backup::read_from(rest, origin),
            backup::read_manifest_tar(flate2::read::GzDecoder::new(rest)),
        ),
        1 => (
            backup::read_tar(rest, origin),
            backup::read_manifest_tar(rest),
        ),
        _ => {
            let tar = backup_tar(rest);
            (
                backup::read_tar(&tar[..], origin),
                backup::read_manifest_tar(&tar[..]),
            )
        }
    };
    match read {
        Ok(b) => {
            f.tag("read");
            f.num("files", b.files.len());
        }
        Err(e) => f.err("read", &format!("{e:#}")),
    }
    match manifest {
        Ok(m) => f.num("manifest files", m.files.len()),
        Err(e) => f.err("manifest", &format!("{e:#}")),
    }
}

// ---------------------------------------------------------------------------------------
// The sandbox's request bodies

/// The namespace the sandbox targets write into.
pub const NS: &str = "shop";

/// Objects the sandbox targets' store holds (replaced, patched and applied over), from the
/// test fixtures, moved to [`NS`].
pub const STORED: &[&str] = &[
    include_str!("../../tests/fixtures/workloads/deployment-healthy.json"),
    include_str!("../../tests/fixtures/workloads/deployment-degraded.json"),
    include_str!("../../tests/fixtures/workloads/statefulset-healthy.json"),
    include_str!("../../tests/fixtures/workloads/daemonset-healthy.json"),
    include_str!("../../tests/fixtures/workloads/hpa.json"),
    include_str!("../../tests/fixtures/pods/running-ready.json"),
    include_str!("../../tests/fixtures/pods/crashloopbackoff.json"),
    include_str!("../../tests/fixtures/nodes/ready.json"),
    include_str!("../../tests/fixtures/releases/secret-shop-v3.json"),
    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web-config","namespace":"shop"},"data":{"a":"1","b":""}}"#,
    r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}"#,
];

/// The manager that applied the stored Deployment `web` (so an apply by another conflicts).
pub const OTHER_MANAGER: &str = "helm";

fn sandbox_store() -> Store {
    let store = Store::new();
    let ns_rt = ResourceType::for_kind("Namespace").expect("namespaces are served");
    for ns in [NS, "default"] {
        let _ = store.create(
            ns_rt.storage,
            "",
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    for text in STORED {
        let mut v: Value = serde_json::from_str(text).expect("fixture JSON");
        let rt = ResourceType::for_kind(v["kind"].as_str().unwrap_or("")).expect("served kind");
        let ns = if rt.namespaced { NS } else { "" };
        if rt.namespaced {
            v["metadata"]["namespace"] = NS.into();
        }
        if let Some(m) = v["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let _ = store.create(rt.storage, ns, v);
    }
    // The Deployment `web`, applied once by another manager.
    let rt = ResourceType::for_kind("Deployment").expect("deployments are served");
    let config = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"team": "payments"}},
        "spec": {"replicas": 3},
    });
    let who = Writer {
        manager: OTHER_MANAGER.into(),
        api_version: "apps/v1".into(),
    };
    let cur = store.get(rt.storage, NS, "web");
    if let Ok(merged) = api::object_to_apply(
        &store,
        rt,
        NS,
        "web",
        cur.as_deref(),
        &config,
        &who,
        true,
        false,
    ) {
        let _ = store.update(rt.storage, NS, "web", merged, UpdateScope::Main);
    }
    store
}

thread_local! {
    static STORE: Store = sandbox_store();
}

/// A sandbox target's input: its request line, split in words, and the body after it.
struct Request<'a> {
    words: Vec<&'a str>,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    fn parse(data: &'a [u8]) -> Option<Request<'a>> {
        let nl = data.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&data[..nl]).ok()?;
        Some(Request {
            words: line.split_ascii_whitespace().collect(),
            body: &data[nl + 1..],
        })
    }

    fn flag(&self, w: &str) -> bool {
        self.words.contains(&w)
    }

    /// The name and subresource words (those that are not flags), after `skip` words.
    fn name_sub(&self, skip: usize) -> (Option<&'a str>, Option<&'a str>) {
        let mut rest = self
            .words
            .iter()
            .skip(skip)
            .copied()
            .filter(|w| !matches!(*w, "strict" | "force"));
        (rest.next(), rest.next())
    }
}

/// `apps/v1/deployments` or `v1/pods` → the served resource, as the API's router finds it
/// (subresources and virtual resources as it refuses them).
fn resource(path: &str, sub: Option<&str>) -> Option<&'static ResourceType> {
    let parts: Vec<&str> = path.split('/').collect();
    let (g, v, plural) = match parts.as_slice() {
        [v, p] => ("", *v, *p),
        [g, v, p] => (*g, *v, *p),
        _ => return None,
    };
    let rt = ResourceType::find(g, v, plural)?;
    if rt.is_virtual() || sub.is_some_and(|s| s != "status" || !rt.subresources.contains(&s)) {
        return None;
    }
    Some(rt)
}

fn writer(rt: &ResourceType, manager: &str) -> Writer {
    Writer {
        manager: manager.into(),
        api_version: rt.api_version(),
    }
}

fn api_result(
    what: &str,
    r: Result<Value, helmdeck::sandbox::error::ApiError>,
    f: &mut Features,
) -> Option<Value> {
    match r {
        Ok(v) => {
            f.tag(what);
            f.shape(what, &v);
            Some(v)
        }
        Err(e) => {
            f.0.push(hash_of((what, e.code)));
            f.err(what, &e.message);
            None
        }
    }
}

/// A create or replace with a body of content type `ct`, as `POST`/`PUT` handle it.
fn sandbox_write(ct: &str, data: &[u8], f: &mut Features) {
    let Some(req) = Request::parse(data) else {
        return f.tag("no request line");
    };
    let (name, sub) = req.name_sub(1);
    let Some(rt) = req.words.first().and_then(|p| resource(p, sub)) else {
        return f.tag("no route");
    };
    let ns = if rt.namespaced { NS } else { "" };
    let strict = req.flag("strict");
    let who = writer(rt, "kubectl-create");
    STORE.with(|store| match name {
        None => {
            let v = api::object_to_create(store, rt, ns, ct, req.body, strict, &who);
            if let Some(v) = api_result("create", v, f) {
                match store.create_with(rt.storage, ns, v, true) {
                    Ok(obj) => f.num("stored", obj.json.len()),
                    Err(e) => f.err("store", &e.message),
                }
            }
        }
        Some(name) => {
            let scope = if sub == Some("status") {
                UpdateScope::Status
            } else {
                UpdateScope::Main
            };
            let v = api::object_to_update(store, rt, ns, name, scope, ct, req.body, strict, &who);
            if let Some(v) = api_result("update", v, f) {
                match store.update_with(rt.storage, ns, name, v, scope, true) {
                    Ok(obj) => f.num("stored", obj.json.len()),
                    Err(e) => f.err("store", &e.message),
                }
            }
        }
    })
}

fn sandbox_json_target(data: &[u8], f: &mut Features) {
    sandbox_write("application/json", data, f)
}

fn sandbox_yaml_target(data: &[u8], f: &mut Features) {
    sandbox_write("application/yaml", data, f)
}

fn sandbox_protobuf_target(data: &[u8], f: &mut Features) {
    sandbox_write(helmdeck::sandbox::protobuf::CONTENT_TYPE, data, f)
}

fn sandbox_patch_target(data: &[u8], f: &mut Features) {
    let Some(req) = Request::parse(data) else {
        return f.tag("no request line");
    };
    let ct = match req.words.first().copied() {
        Some("merge") => "application/merge-patch+json",
        Some("strategic") => "application/strategic-merge-patch+json",
        Some("json") => "application/json-patch+json",
        _ => "text/plain",
    };
    let (name, sub) = req.name_sub(2);
    let (Some(rt), Some(name)) = (req.words.get(1).and_then(|p| resource(p, sub)), name) else {
        return f.tag("no route");
    };
    let ns = if rt.namespaced { NS } else { "" };
    let scope = if sub == Some("status") {
        UpdateScope::Status
    } else {
        UpdateScope::Main
    };
    let who = writer(rt, "kubectl-patch");
    STORE.with(|store| {
        let v = api::object_to_patch(
            store,
            rt,
            ns,
            name,
            scope,
            ct,
            req.body,
            req.flag("strict"),
            &who,
        );
        if let Some(v) = api_result("patch", v, f) {
            match store.update_with(rt.storage, ns, name, v, scope, true) {
                Ok(obj) => f.num("stored", obj.json.len()),
                Err(e) => f.err("store", &e.message),
            }
        }
    })
}

fn sandbox_apply_target(data: &[u8], f: &mut Features) {
    let Some(req) = Request::parse(data) else {
        return f.tag("no request line");
    };
    let (name, sub) = req.name_sub(1);
    let (Some(rt), Some(name)) = (req.words.first().and_then(|p| resource(p, sub)), name) else {
        return f.tag("no route");
    };
    let ns = if rt.namespaced { NS } else { "" };
    let status_only = sub == Some("status");
    let config = match api::applied_configuration(rt, name, status_only, req.body) {
        Ok(c) => c,
        Err(e) => return f.err("configuration", &e.message),
    };
    f.shape("configuration", &config);
    let who = writer(rt, "kubectl");
    STORE.with(|store| {
        let cur = store.get(rt.storage, ns, name);
        let merged = api::object_to_apply(
            store,
            rt,
            ns,
            name,
            cur.as_deref(),
            &config,
            &who,
            req.flag("force"),
            req.flag("strict"),
        );
        let Some(merged) = api_result("apply", merged, f) else {
            return;
        };
        let stored = match cur {
            None if status_only => return f.tag("status of nothing"),
            None => store.create_with(rt.storage, ns, merged, true),
            Some(_) => {
                let scope = if status_only {
                    UpdateScope::Status
                } else {
                    UpdateScope::Main
                };
                store.update_with(rt.storage, ns, name, merged, scope, true)
            }
        };
        match stored {
            Ok(obj) => f.num("stored", obj.json.len()),
            Err(e) => f.err("store", &e.message),
        }
    })
}
