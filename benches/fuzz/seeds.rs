//! The seed corpus (`cargo bench --bench fuzz -- --write-seeds`): one directory per target
//! under `fuzz/corpus/`, made from the test fixtures (`tests/fixtures/`, the themes, the
//! sample configuration, the sandbox's chart catalog, the bodies the kubectl tests send)
//! and encoded by the project's own encoders where it has them (release payloads, backup
//! archives).

use super::targets::{BACKUP_FILES, NS, STORED, backup_tar};
use helmdeck::core::release::{self, Release};
use helmdeck::core::releases::backup::{self, BackupFile, BackupManifest};
use helmdeck::core::workflows::journal::{Journal, Operation};
use helmdeck::sandbox::charts::{self, Catalog};
use helmdeck::sandbox::resources::ResourceType;
use serde_json::{Value, json};
use sha2::Digest;
use std::io::{Read, Write};
use std::path::Path;

const RELEASE_JSON: &str = include_str!("../../tests/fixtures/releases/shop-v3.json");
const SECRET_JSON: &str = include_str!("../../tests/fixtures/releases/secret-shop-v3.json");

/// The index of `tests/releases_repo.rs`.
const TEST_INDEX: &str = r#"apiVersion: v1
entries:
  shop:
    - name: shop
      version: 2.0.0
      appVersion: "5.0"
      annotations:
        artifacthub.io/changes: |
          - kind: changed
            description: values.image moved to values.images.app
    - name: shop
      version: 1.5.0
      appVersion: "4.1"
    - name: shop
      version: 1.4.3
    - name: shop
      version: 1.4.2
    - name: shop
      version: 1.4.1
    - name: shop
      version: 2.1.0-beta.1
generated: "2025-05-01T10:00:00Z"
"#;

struct Writer<'a> {
    root: &'a Path,
    count: usize,
}

impl Writer<'_> {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        std::fs::write(dir.join(name), data).expect("write a seed");
        self.count += 1;
    }
}

fn with_mode(mode: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(data);
    v
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).expect("in memory");
    gz.finish().expect("in memory")
}

pub fn write_all(root: &Path) {
    let mut w = Writer { root, count: 0 };
    releases(&mut w);
    index(&mut w);
    values(&mut w);
    config(&mut w);
    themes(&mut w);
    journals(&mut w);
    backups(&mut w);
    sandbox(&mut w);
    println!("wrote {} seeds under {}", w.count, root.display());
}

fn releases(w: &mut Writer) {
    let t = "release";
    let r: Release = serde_json::from_str(RELEASE_JSON).expect("fixture release");
    let payload = release::encode_release(&r).expect("encode");
    w.put(t, "payload-shop-v3", &with_mode(0, payload.as_bytes()));
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_str(SECRET_JSON).expect("fixture secret");
    let stored = &secret.data.as_ref().expect("data")["release"].0;
    w.put(t, "payload-secret-shop-v3", &with_mode(0, stored));
    // With line breaks, as some tools write base64.
    let wrapped: Vec<u8> = payload
        .as_bytes()
        .chunks(76)
        .flat_map(|c| c.iter().copied().chain(*b"\r\n"))
        .collect();
    w.put(t, "payload-wrapped", &with_mode(0, &wrapped));
    w.put(t, "json-shop-v3", &with_mode(1, RELEASE_JSON.as_bytes()));
    w.put(
        t,
        "gzip-shop-v3",
        &with_mode(1, &gzip(RELEASE_JSON.as_bytes())),
    );
    let small = br#"{"name":"web","namespace":"shop","version":2,"info":{"status":"pending-upgrade","description":"Upgrade"},"chart":{"metadata":{"name":"web","version":"1.0.0"},"values":{"password":"x"}},"config":{"image":{"tag":"2"}},"manifest":"---\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: dg==\n"}"#;
    w.put(t, "json-small", &with_mode(1, small));
    w.put(t, "secret-shop-v3", &with_mode(2, SECRET_JSON.as_bytes()));
}

fn index(w: &mut Writer) {
    let t = "index";
    w.put(t, "test-index.yaml", TEST_INDEX.as_bytes());
    // One chart of the sandbox's index (the whole of it is 11 kB: slow to mutate).
    let mut one = Catalog::builtin().index();
    let first = one.entries.keys().next().cloned().unwrap_or_default();
    one.entries.retain(|k, _| *k == first);
    w.put(
        t,
        "one-chart.yaml",
        serde_yaml::to_string(&one).expect("yaml").as_bytes(),
    );
}

fn values(w: &mut Writer) {
    let t = "values";
    for (name, chart) in &Catalog::builtin().charts {
        let Some(v) = chart.versions.last() else {
            continue;
        };
        for (path, text) in charts::chart_files(name, chart, v) {
            if path.ends_with("values.yaml") {
                w.put(t, &format!("{name}-values.yaml"), text.as_bytes());
                let with_sets = format!(
                    "{text}\0image.tag=1.5.0\nreplicaCount=3\nglobal.debug=true\nnothing=null\na..b=1\n"
                );
                w.put(t, &format!("{name}-values-and-sets"), with_sets.as_bytes());
            }
        }
    }
    let r: Release = serde_json::from_str(RELEASE_JSON).expect("fixture release");
    let config = serde_yaml::to_string(&r.config).expect("yaml");
    w.put(t, "shop-v3-config.yaml", config.as_bytes());
    let chart = serde_yaml::to_string(&r.chart.values).expect("yaml");
    w.put(t, "shop-v3-chart-values.yaml", chart.as_bytes());
    w.put(t, "sets-only", b"\0a.b.c=1\nx=\ny=0x10\nz=~\n");
}

fn config(w: &mut Writer) {
    let t = "config";
    let sample = include_str!("../../assets/helmdeck.sample.yaml");
    w.put(t, "sample.yaml", sample.as_bytes());
    let bare: String = sample
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{}\n", l.split(" #").next().unwrap_or(l).trim_end()))
        .collect();
    w.put(t, "sample-bare.yaml", bare.as_bytes());
    w.put(
        t,
        "keys.yaml",
        b"keys:\n  quit: [q, ctrl-c]\n  scale: {keys: [s], screens: [workloads, pods]}\n  delete: []\n  refresh: ctrl-l\n",
    );
    w.put(
        t,
        "readonly.yaml",
        b"readonly: true\ncontexts:\n  prod: {readonly: true, namespace: mr-ee}\n",
    );
}

fn themes(w: &mut Writer) {
    let t = "theme";
    w.put(t, "dark.yaml", include_bytes!("../../themes/dark.yaml"));
    w.put(t, "light.yaml", include_bytes!("../../themes/light.yaml"));
    w.put(
        t,
        "high-contrast.yaml",
        include_bytes!("../../themes/high-contrast.yaml"),
    );
}

fn journals(w: &mut Writer) {
    let t = "journal";
    let mut j = Journal {
        release: "ee".into(),
        namespace: "mr-ee".into(),
        operation: Operation::Upgrade {
            to_version: "1.5.0".into(),
        },
        from_revision: 4,
        from_version: "1.4.2".into(),
        started: jiff::Timestamp::UNIX_EPOCH,
        updated: jiff::Timestamp::from_second(1_750_000_000).expect("a time"),
        step: "apply".into(),
        backup: Some("/home/me/.local/share/helmdeck/backups/mr-ee_ee.tar.gz".into()),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        holder: "me@laptop".into(),
    };
    w.put(
        t,
        "upgrade.json",
        &serde_json::to_vec_pretty(&j).expect("json"),
    );
    j.operation = Operation::Rollback { to_revision: 3 };
    j.step = "verify".into();
    j.backup = None;
    j.commit = None;
    w.put(t, "rollback.json", &serde_json::to_vec(&j).expect("json"));
}

fn backups(w: &mut Writer) {
    let t = "backup";
    let manifest = BackupManifest {
        format: backup::FORMAT,
        release: "shop".into(),
        namespace: "shop".into(),
        created: jiff::Timestamp::from_second(1_750_000_000).expect("a time"),
        helmdeck_version: env!("CARGO_PKG_VERSION").into(),
        chart: "shop".into(),
        chart_version: "1.4.2".into(),
        revision: 3,
        files: BACKUP_FILES
            .iter()
            .map(|(path, data)| BackupFile {
                path: path.to_string(),
                sha256: sha2::Sha256::digest(data.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                bytes: data.len() as u64,
            })
            .collect(),
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest).expect("json");
    w.put(t, "manifest.json", &with_mode(2, &manifest_json));
    // The real writer's archive.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("shop_shop_20250615T150000.000Z.tar.gz");
    let files: Vec<(String, Vec<u8>)> = BACKUP_FILES
        .iter()
        .map(|(p, d)| (p.to_string(), d.as_bytes().to_vec()))
        .collect();
    backup::write_archive(dir.path(), &path, &manifest, &files).expect("write a backup");
    let gz = std::fs::read(&path).expect("read the backup");
    w.put(t, "archive.tar.gz", &with_mode(0, &gz));
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .expect("gunzip");
    w.put(t, "archive.tar", &with_mode(1, &tar));
    // The harness's own framing of a manifest, as a tar.
    w.put(t, "framed.tar", &with_mode(1, &backup_tar(&manifest_json)));
}

/// `apps/v1/deployments` for a kind.
fn resource_path(kind: &str) -> String {
    let rt = ResourceType::for_kind(kind).expect("served kind");
    format!("{}/{}", rt.api_version(), rt.plural)
}

fn framed(line: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{line}\n").into_bytes();
    v.extend_from_slice(body);
    v
}

fn sandbox(w: &mut Writer) {
    for (i, text) in STORED.iter().enumerate() {
        let mut v: Value = serde_json::from_str(text).expect("fixture JSON");
        let kind = v["kind"].as_str().unwrap_or("").to_string();
        let rt = ResourceType::for_kind(&kind).expect("served kind");
        let path = resource_path(&kind);
        let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
        if rt.namespaced {
            v["metadata"]["namespace"] = json!(NS);
        }
        let lower = kind.to_lowercase();
        // A replace of the stored object, as it is, then a create of a new one.
        let put = serde_json::to_vec(&v).expect("json");
        w.put(
            "sandbox_json",
            &format!("{i:02}-put-{lower}"),
            &framed(&format!("{path} {name} strict"), &put),
        );
        if let Some(m) = v["metadata"].as_object_mut() {
            m.insert("name".into(), json!(format!("{name}-new")));
            m.remove("resourceVersion");
            m.remove("uid");
        }
        let post = serde_json::to_vec(&v).expect("json");
        w.put(
            "sandbox_json",
            &format!("{i:02}-post-{lower}"),
            &framed(&format!("{path} strict"), &post),
        );
        let yaml = serde_yaml::to_string(&v).expect("yaml");
        w.put(
            "sandbox_yaml",
            &format!("{i:02}-post-{lower}"),
            &framed(&format!("{path} strict"), yaml.as_bytes()),
        );
    }
    w.put(
        "sandbox_json",
        "status-put-deployment",
        &framed(
            "apps/v1/deployments web status",
            br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"x"}]}}},"status":{"replicas":9}}"#,
        ),
    );
    w.put(
        "sandbox_json",
        "hpa-v1",
        &framed(
            "autoscaling/v1/horizontalpodautoscalers",
            br#"{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h1"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web","apiVersion":"apps/v1"},"minReplicas":2,"maxReplicas":5,"targetCPUUtilizationPercentage":80}}"#,
        ),
    );
    w.put(
        "sandbox_json",
        "generate-name",
        &framed(
            "v1/configmaps",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"cm-"},"data":{"k":"v"}}"#,
        ),
    );
    sandbox_yaml_from_tests(w);
    sandbox_protobuf(w);
    sandbox_patches(w);
    sandbox_applies(w);
}

/// Bodies as the kubectl tests send them (`tests/kubectl_defaults.rs`, `tests/kubectl_apply.rs`).
fn sandbox_yaml_from_tests(w: &mut Writer) {
    let t = "sandbox_yaml";
    w.put(
        t,
        "secret-stringdata",
        &framed("v1/secrets strict", b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\ntype: Opaque\n"),
    );
    w.put(
        t,
        "service-nodeport",
        &framed("v1/services strict", b"apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  type: NodePort\n  selector: {app: api}\n  ports:\n  - port: 80\n    targetPort: http\n    nodePort: 30080\n"),
    );
    w.put(
        t,
        "namespace",
        &framed(
            "v1/namespaces",
            b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels: {team: a}\n",
        ),
    );
    w.put(
        t,
        "deployment-anchors",
        &framed(
            "apps/v1/deployments strict",
            DEPLOYMENT_YAML_ANCHORS.as_bytes(),
        ),
    );
}

const DEPLOYMENT_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
    team: payments
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
";

const DEPLOYMENT_YAML_ANCHORS: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: &labels {app: api}
spec:
  replicas: 1
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
    spec:
      containers:
      - &c
        name: api
        image: nginx:1.27
        env: [{name: A, value: \"1\"}]
        resources: {limits: {cpu: 500m, memory: 128Mi}}
";

// A protobuf encoder for the seeds only (the sandbox decodes; nothing here does).
fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn pb_bytes(num: u32, payload: &[u8], out: &mut Vec<u8>) {
    varint(((num as u64) << 3) | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

fn pb_int(num: u32, v: u64, out: &mut Vec<u8>) {
    varint((num as u64) << 3, out);
    varint(v, out);
}

fn pb_msg(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    build(&mut v);
    v
}

fn pb_map_entry(k: &str, v: &[u8]) -> Vec<u8> {
    pb_msg(|m| {
        pb_bytes(1, k.as_bytes(), m);
        pb_bytes(2, v, m);
    })
}

fn pb_meta(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    pb_msg(|m| {
        pb_bytes(1, name.as_bytes(), m);
        pb_bytes(3, NS.as_bytes(), m);
        for (k, v) in labels {
            pb_bytes(11, &pb_map_entry(k, v.as_bytes()), m);
        }
    })
}

fn pb_envelope(api_version: &str, kind: &str, object: &[u8]) -> Vec<u8> {
    let mut body = b"k8s\0".to_vec();
    let tm = pb_msg(|m| {
        pb_bytes(1, api_version.as_bytes(), m);
        pb_bytes(2, kind.as_bytes(), m);
    });
    pb_bytes(1, &tm, &mut body);
    pb_bytes(2, object, &mut body);
    body
}

fn sandbox_protobuf(w: &mut Writer) {
    let t = "sandbox_protobuf";
    let ns = pb_msg(|m| {
        pb_bytes(1, &pb_msg(|x| pb_bytes(1, b"team-b", x)), m);
    });
    w.put(
        t,
        "namespace",
        &framed("v1/namespaces", &pb_envelope("v1", "Namespace", &ns)),
    );
    let cm = pb_msg(|m| {
        pb_bytes(1, &pb_meta("settings", &[("app", "web")]), m);
        pb_bytes(2, &pb_map_entry("a", b"1"), m);
        pb_bytes(3, &pb_map_entry("bin", b"\x00\xff"), m);
    });
    w.put(
        t,
        "configmap",
        &framed("v1/configmaps strict", &pb_envelope("v1", "ConfigMap", &cm)),
    );
    let secret = pb_msg(|m| {
        pb_bytes(1, &pb_meta("creds", &[]), m);
        pb_bytes(2, &pb_map_entry("password", b"s3cr\xff"), m);
        pb_bytes(3, b"Opaque", m);
        pb_bytes(4, &pb_map_entry("note", b""), m);
    });
    w.put(
        t,
        "secret",
        &framed("v1/secrets strict", &pb_envelope("v1", "Secret", &secret)),
    );
    let qty = |s: &str| pb_msg(|m| pb_bytes(1, s.as_bytes(), m));
    let container = pb_msg(|m| {
        pb_bytes(1, b"web", m);
        pb_bytes(2, b"nginx:1.27", m);
        pb_bytes(6, &pb_msg(|p| pb_int(3, 8080, p)), m);
        pb_bytes(
            7,
            &pb_msg(|e| {
                pb_bytes(1, b"A", e);
                pb_bytes(2, b"1", e);
            }),
            m,
        );
        pb_bytes(
            8,
            &pb_msg(|r| pb_bytes(1, &pb_map_entry("cpu", &qty("100m")), r)),
            m,
        );
    });
    let template = pb_msg(|m| {
        pb_bytes(1, &pb_meta("", &[("app", "web")]), m);
        pb_bytes(2, &pb_msg(|s| pb_bytes(2, &container, s)), m);
    });
    let selector = pb_msg(|m| pb_bytes(1, &pb_map_entry("app", b"web"), m));
    let deploy = pb_msg(|m| {
        pb_bytes(1, &pb_meta("web-pb", &[("app", "web")]), m);
        pb_bytes(
            2,
            &pb_msg(|s| {
                pb_int(1, 2, s);
                pb_bytes(2, &selector, s);
                pb_bytes(3, &template, s);
            }),
            m,
        );
    });
    let deploy_body = pb_envelope("apps/v1", "Deployment", &deploy);
    w.put(
        t,
        "deployment",
        &framed("apps/v1/deployments strict", &deploy_body),
    );
    let deploy_web = pb_msg(|m| {
        pb_bytes(1, &pb_meta("web", &[("app", "web")]), m);
        pb_bytes(
            2,
            &pb_msg(|s| {
                pb_int(1, 4, s);
                pb_bytes(2, &selector, s);
                pb_bytes(3, &template, s);
            }),
            m,
        );
    });
    w.put(
        t,
        "deployment-put",
        &framed(
            "apps/v1/deployments web",
            &pb_envelope("apps/v1", "Deployment", &deploy_web),
        ),
    );
    let svc = pb_msg(|m| {
        pb_bytes(1, &pb_meta("api", &[]), m);
        pb_bytes(
            2,
            &pb_msg(|s| {
                pb_bytes(
                    1,
                    &pb_msg(|p| {
                        pb_int(3, 80, p);
                        pb_bytes(
                            4,
                            &pb_msg(|i| {
                                pb_int(1, 1, i);
                                pb_bytes(3, b"http", i);
                            }),
                            p,
                        );
                    }),
                    s,
                );
                pb_bytes(2, &pb_map_entry("app", b"api"), s);
                pb_bytes(4, b"NodePort", s);
            }),
            m,
        );
    });
    w.put(
        t,
        "service",
        &framed("v1/services strict", &pb_envelope("v1", "Service", &svc)),
    );
    let hpa = pb_msg(|m| {
        pb_bytes(1, &pb_meta("web-hpa", &[]), m);
        pb_bytes(
            2,
            &pb_msg(|s| {
                pb_bytes(
                    1,
                    &pb_msg(|x| {
                        pb_bytes(1, b"Deployment", x);
                        pb_bytes(2, b"web", x);
                        pb_bytes(3, b"apps/v1", x);
                    }),
                    s,
                );
                pb_int(2, 1, s);
                pb_int(3, 5, s);
                pb_bytes(
                    4,
                    &pb_msg(|ms| {
                        pb_bytes(1, b"Resource", ms);
                        pb_bytes(
                            4,
                            &pb_msg(|r| {
                                pb_bytes(1, b"cpu", r);
                                pb_bytes(
                                    2,
                                    &pb_msg(|tg| {
                                        pb_bytes(1, b"Utilization", tg);
                                        pb_int(4, 80, tg);
                                    }),
                                    r,
                                );
                            }),
                            ms,
                        );
                    }),
                    s,
                );
            }),
            m,
        );
    });
    w.put(
        t,
        "hpa-v2",
        &framed(
            "autoscaling/v2/horizontalpodautoscalers",
            &pb_envelope("autoscaling/v2", "HorizontalPodAutoscaler", &hpa),
        ),
    );
    let job_spec = pb_msg(|s| {
        pb_int(7, 2, s);
        pb_bytes(
            6,
            &pb_msg(|tm| {
                pb_bytes(
                    2,
                    &pb_msg(|ps| {
                        pb_bytes(2, &container, ps);
                        pb_bytes(3, b"Never", ps);
                    }),
                    tm,
                );
            }),
            s,
        );
    });
    let job = pb_msg(|m| {
        pb_bytes(1, &pb_meta("once", &[]), m);
        pb_bytes(2, &job_spec, m);
    });
    w.put(
        t,
        "job",
        &framed("batch/v1/jobs", &pb_envelope("batch/v1", "Job", &job)),
    );
    let cron = pb_msg(|m| {
        pb_bytes(1, &pb_meta("nightly", &[]), m);
        pb_bytes(
            2,
            &pb_msg(|s| {
                pb_bytes(1, b"0 3 * * *", s);
                pb_bytes(5, &pb_msg(|jt| pb_bytes(2, &job_spec, jt)), s);
            }),
            m,
        );
    });
    w.put(
        t,
        "cronjob",
        &framed(
            "batch/v1/cronjobs",
            &pb_envelope("batch/v1", "CronJob", &cron),
        ),
    );
    let eviction = pb_msg(|m| {
        pb_bytes(1, &pb_meta("web-1", &[]), m);
        pb_bytes(
            2,
            &pb_msg(|d| {
                pb_int(1, 0, d);
                pb_bytes(5, b"All", d);
            }),
            m,
        );
    });
    w.put(
        t,
        "eviction",
        &framed("v1/pods", &pb_envelope("policy/v1", "Eviction", &eviction)),
    );
}

fn sandbox_patches(w: &mut Writer) {
    let t = "sandbox_patch";
    let seeds: &[(&str, &str, &str)] = &[
        (
            "set-image",
            "strategic apps/v1/deployments web strict",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#,
        ),
        (
            "restart",
            "strategic apps/v1/deployments web",
            r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-06-15T15:00:00Z"}}}}}"#,
        ),
        (
            "env-delete",
            "strategic apps/v1/deployments checkout",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"checkout","env":[{"name":"A","$patch":"delete"},{"name":"B","value":"2"}]}]}}}}"#,
        ),
        (
            "set-element-order",
            "strategic apps/v1/deployments web",
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"name":"web","ports":[{"containerPort":9090}]}]}}}}"#,
        ),
        (
            "retain-replace",
            "strategic apps/v1/deployments web",
            r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null},"selector":{"$patch":"replace","matchLabels":{"app":"web"}}}}"#,
        ),
        (
            "finalizers",
            "strategic v1/configmaps web-config",
            r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"],"finalizers":["a"],"labels":{"a":"b","c":null}}}"#,
        ),
        (
            "cordon",
            "strategic v1/nodes worker-0",
            r#"{"spec":{"unschedulable":true}}"#,
        ),
        (
            "pod-status",
            "strategic v1/pods web-7d4b9c8f6-xk2lp status",
            r#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#,
        ),
        (
            "scale-merge",
            "merge apps/v1/deployments web strict",
            r#"{"spec":{"replicas":3}}"#,
        ),
        (
            "annotate-merge",
            "merge apps/v1/deployments web",
            r#"{"metadata":{"annotations":{"note":"x","deployment.kubernetes.io/revision":null}}}"#,
        ),
        (
            "hpa-merge",
            "merge autoscaling/v2/horizontalpodautoscalers web",
            r#"{"spec":{"minReplicas":2,"maxReplicas":8}}"#,
        ),
        (
            "hpa-v1-merge",
            "merge autoscaling/v1/horizontalpodautoscalers web",
            r#"{"spec":{"targetCPUUtilizationPercentage":70}}"#,
        ),
        (
            "service-merge",
            "merge v1/services web",
            r#"{"spec":{"type":"ClusterIP","ports":[{"port":81}]}}"#,
        ),
        (
            "json-replace",
            "json apps/v1/deployments web strict",
            r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
        ),
        (
            "json-ops",
            "json apps/v1/deployments web",
            r#"[{"op":"test","path":"/metadata/name","value":"web"},{"op":"add","path":"/metadata/labels/x","value":"y"},{"op":"remove","path":"/metadata/labels/x"},{"op":"copy","from":"/metadata/name","path":"/metadata/annotations/n"},{"op":"move","from":"/metadata/annotations/n","path":"/metadata/annotations/m"}]"#,
        ),
        (
            "json-array",
            "json apps/v1/deployments web",
            r#"[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"side","image":"busybox"}},{"op":"remove","path":"/spec/template/spec/containers/0"}]"#,
        ),
        (
            "json-secret",
            "json v1/secrets sh.helm.release.v1.shop.v3",
            r#"[{"op":"replace","path":"/metadata/labels/status","value":"superseded"}]"#,
        ),
    ];
    for (name, line, body) in seeds {
        w.put(t, name, &framed(line, body.as_bytes()));
    }
}

fn sandbox_applies(w: &mut Writer) {
    let t = "sandbox_apply";
    w.put(
        t,
        "deployment-conflicts",
        &framed("apps/v1/deployments web strict", DEPLOYMENT_YAML.as_bytes()),
    );
    w.put(
        t,
        "deployment-force",
        &framed(
            "apps/v1/deployments web force strict",
            DEPLOYMENT_YAML.as_bytes(),
        ),
    );
    let api = DEPLOYMENT_YAML
        .replace("name: web", "name: api")
        .replace("app: web", "app: api")
        .replace("{app: web}", "{app: api}");
    w.put(
        t,
        "deployment-new",
        &framed("apps/v1/deployments api strict", api.as_bytes()),
    );
    w.put(
        t,
        "deployment-anchors",
        &framed(
            "apps/v1/deployments api",
            DEPLOYMENT_YAML_ANCHORS.as_bytes(),
        ),
    );
    w.put(
        t,
        "configmap",
        &framed("v1/configmaps web-config", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  a: \"2\"\n  c: \"3\"\n"),
    );
    w.put(
        t,
        "service",
        &framed("v1/services web force", b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: ClusterIP\n  selector: {app: web}\n  ports:\n  - port: 80\n    targetPort: 8080\n"),
    );
    w.put(
        t,
        "status",
        &framed("apps/v1/deployments web status", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nstatus:\n  replicas: 3\n  conditions:\n  - type: Available\n    status: \"True\"\n"),
    );
    w.put(
        t,
        "json-config",
        &framed("v1/configmaps json-cm", br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"json-cm","labels":{"a":"b"}},"data":{"k":"v"}}"#),
    );
}
