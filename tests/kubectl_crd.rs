//! CustomResourceDefinitions and custom resources in the sandbox, driven by the real
//! `kubectl`: a CRD applied, waited for (`condition=established`), its objects applied, listed
//! with the CRD's printer columns by plural and short name, selected by label and field,
//! replaced from their own YAML, their status patched; an invalid CRD refused with the
//! server's words; the CRD deleted, and its resource and objects gone with it.

mod kube_sandbox;

use kube_sandbox::*;

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sparkapplications.sparkoperator.k8s.io
spec:
  group: sparkoperator.k8s.io
  scope: Namespaced
  names:
    kind: SparkApplication
    plural: sparkapplications
    shortNames: [sparkapp]
  versions:
  - name: v1beta2
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Status, type: string, jsonPath: .status.applicationState.state}
    - {name: Attempts, type: integer, jsonPath: .status.submissionAttempts}
    - {name: Executors, type: integer, jsonPath: .spec.executor.instances, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

fn app(name: &str, executors: u32) -> String {
    format!(
        "apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: {name}
  namespace: iomete
  labels: {{team: lakehouse}}
spec:
  type: Scala
  mode: cluster
  image: docker.io/iomete/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  executor: {{instances: {executors}, cores: 1}}
"
    )
}

/// `kubectl <args> -f -` with `manifest` on stdin, expected to succeed; gives stdout.
fn with_stdin(sb: &Sandbox, args: &[&str], manifest: &str) -> String {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-f", "-"]);
    let out = sb.kubectl_in(&all, Some(manifest), CMD_LIMIT);
    assert!(out.ok, "kubectl {args:?}: {}", out.stderr);
    out.stdout
}

/// The header and the row of `name` of a `kubectl get` table, split on runs of 2+ spaces.
fn header_and_row(table: &str, name: &str) -> (Vec<String>, Vec<String>) {
    let split = |l: &str| -> Vec<String> {
        l.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    let header = split(table.lines().next().unwrap_or(""));
    let line = row(table, name).unwrap_or_else(|| panic!("no row {name} in:\n{table}"));
    (header, split(line))
}

#[test]
fn a_crd_applied_is_established_and_its_objects_are_served_with_its_columns() {
    let sb = Sandbox::start();
    let out = with_stdin(&sb, &["apply"], CRD);
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/sparkapplications.sparkoperator.k8s.io created"),
        "{out}"
    );
    let out = sb.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=20s",
        "crd/sparkapplications.sparkoperator.k8s.io",
    ]);
    assert!(out.contains("condition met"), "{out}");
    let crd = sb.json(&["get", "crd", "sparkapplications.sparkoperator.k8s.io"]);
    assert_eq!(crd["status"]["acceptedNames"]["shortNames"][0], "sparkapp");
    assert_eq!(crd["status"]["storedVersions"][0], "v1beta2");
    assert!(
        crd["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "NamesAccepted" && c["status"] == "True"),
        "{crd}"
    );

    // Discovery names it, with its short name.
    let out = sb.ok(&["api-resources", "--api-group=sparkoperator.k8s.io"]);
    let line = row(&out, "sparkapplications").unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("sparkapp") && line.contains("SparkApplication"),
        "{out}"
    );

    let out = with_stdin(&sb, &["apply"], &app("pi", 2));
    assert!(
        out.contains("sparkapplication.sparkoperator.k8s.io/pi created"),
        "{out}"
    );
    with_stdin(&sb, &["apply"], &app("etl", 4));

    // The printer columns, by plural and by short name; priority 1 only with -o wide (in
    // the CRD's order).
    let table = sb.ok(&["get", "sparkapplications", "-n", "iomete"]);
    let (header, r) = header_and_row(&table, "pi");
    assert_eq!(header, ["NAME", "STATUS", "ATTEMPTS", "AGE"], "{table}");
    assert_eq!(
        r.len(),
        2,
        "no status yet: only NAME and AGE filled: {table}"
    );
    let wide = sb.ok(&["get", "sparkapp", "-n", "iomete", "-o", "wide"]);
    let (header, r) = header_and_row(&wide, "etl");
    assert_eq!(
        header,
        ["NAME", "STATUS", "ATTEMPTS", "EXECUTORS", "AGE"],
        "{wide}"
    );
    assert_eq!(r[1], "4", "{wide}");

    // The status subresource fills the STATUS and ATTEMPTS columns.
    sb.ok(&[
        "patch",
        "sparkapp",
        "pi",
        "-n",
        "iomete",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"applicationState":{"state":"RUNNING"},"submissionAttempts":1}}"#,
    ]);
    let table = sb.ok(&["get", "sparkapp", "-n", "iomete"]);
    let (_, r) = header_and_row(&table, "pi");
    assert_eq!(&r[..3], ["pi", "RUNNING", "1"], "{table}");

    // Labels and fields select as for other kinds.
    let names_of = |args: &[&str]| names(&sb.items(args));
    assert_eq!(
        names_of(&["get", "sparkapp", "-n", "iomete", "-l", "team=lakehouse"]).len(),
        2
    );
    assert!(names_of(&["get", "sparkapp", "-n", "iomete", "-l", "team=other"]).is_empty());
    assert_eq!(
        names_of(&[
            "get",
            "sparkapp",
            "-n",
            "iomete",
            "--field-selector",
            "metadata.name=etl"
        ])
        .into_iter()
        .collect::<Vec<_>>(),
        ["etl"]
    );

    // -o yaml round trip: replaced from its own YAML, nothing changes (generation, spec);
    // a spec change through apply bumps the generation and keeps the status.
    let yaml = sb.ok(&["get", "sparkapp", "pi", "-n", "iomete", "-o", "yaml"]);
    assert!(yaml.contains("kind: SparkApplication"), "{yaml}");
    with_stdin(&sb, &["replace"], &yaml);
    let pi = sb.json(&["get", "sparkapp", "pi", "-n", "iomete"]);
    assert_eq!(pi["metadata"]["generation"], 1, "{pi}");
    assert_eq!(pi["spec"]["executor"]["instances"], 2);
    with_stdin(&sb, &["apply"], &app("pi", 3));
    let pi = sb.json(&["get", "sparkapp", "pi", "-n", "iomete"]);
    assert_eq!(pi["metadata"]["generation"], 2, "{pi}");
    assert_eq!(pi["spec"]["executor"]["instances"], 3);
    assert_eq!(pi["status"]["applicationState"]["state"], "RUNNING");
    // And through server-side apply: a field client-side apply set conflicts, as on a real
    // server, until the apply forces it.
    let out = sb.kubectl_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&app("pi", 5)),
        CMD_LIMIT,
    );
    assert!(
        !out.ok
            && out.stderr.contains(
                "conflict with \"kubectl-client-side-apply\" using sparkoperator.k8s.io/v1beta2"
            ),
        "{out:?}"
    );
    let out = with_stdin(
        &sb,
        &["apply", "--server-side", "--force-conflicts"],
        &app("pi", 5),
    );
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(
        sb.json(&["get", "sparkapp", "pi", "-n", "iomete"])["spec"]["executor"]["instances"],
        5
    );

    // Deleting the CRD deletes its objects; the resource is no longer served.
    let out = sb.ok(&["delete", "crd", "sparkapplications.sparkoperator.k8s.io"]);
    assert!(out.contains("deleted"), "{out}");
    let err = sb.fails(&["get", "sparkapplications", "-n", "iomete"]);
    assert!(
        err.contains("(NotFound)")
            && err.contains("the server could not find the requested resource"),
        "{err}"
    );
    let (code, _) = sb.http(
        "GET",
        "/apis/sparkoperator.k8s.io/v1beta2/namespaces/iomete/sparkapplications/pi",
        None,
    );
    assert_eq!(code, 404);
    // Defined again, it starts empty.
    with_stdin(&sb, &["apply"], CRD);
    sb.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=20s",
        "crd/sparkapplications.sparkoperator.k8s.io",
    ]);
    let out = sb.kubectl(&["get", "sparkapp", "-n", "iomete"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("No resources found in iomete namespace"),
        "{out:?}"
    );
}

#[test]
fn an_invalid_crd_is_refused_with_the_servers_causes() {
    let sb = Sandbox::start();
    let bad = CRD
        .replace(
            "name: sparkapplications.sparkoperator.k8s.io",
            "name: sparkapps.sparkoperator.k8s.io",
        )
        .replace("scope: Namespaced", "scope: Global")
        .replace("storage: true", "storage: false");
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(&bad), CMD_LIMIT);
    assert!(!out.ok, "{}", out.stdout);
    for want in [
        "The CustomResourceDefinition \"sparkapps.sparkoperator.k8s.io\" is invalid:",
        "* metadata.name: Invalid value: \"sparkapps.sparkoperator.k8s.io\": must be spec.names.plural+\".\"+spec.group",
        "* spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
        "* spec.versions: Invalid value: \"v1beta2\": must have exactly one version marked as storage version",
    ] {
        assert!(out.stderr.contains(want), "{want}\n{}", out.stderr);
    }
    // Nothing was stored, nothing is served.
    assert!(
        sb.fails(&["get", "crd", "sparkapps.sparkoperator.k8s.io"])
            .contains("NotFound")
    );
    let out = sb.kubectl(&["get", "sparkapp", "-A"]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the server doesn't have a resource type \"sparkapp\""),
        "{}",
        out.stderr
    );
    // A stored CRD's scope cannot change.
    let out = sb.kubectl_in(&["apply", "-f", "-"], Some(CRD), CMD_LIMIT);
    assert!(out.ok, "{}", out.stderr);
    let out = sb.kubectl_in(
        &["apply", "-f", "-"],
        Some(&CRD.replace("scope: Namespaced", "scope: Cluster")),
        CMD_LIMIT,
    );
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "The CustomResourceDefinition \"sparkapplications.sparkoperator.k8s.io\" is invalid: spec.scope: Invalid value: \"Cluster\": field is immutable"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn the_scenarios_kafka_topics_list_with_strimzis_columns() {
    let sb = Sandbox::start();
    let crds = sb.ok(&["get", "crd"]);
    let (header, r) = header_and_row(&crds, "kafkatopics.kafka.strimzi.io");
    assert_eq!(header, ["NAME", "CREATED AT"], "{crds}");
    assert!(r[1].ends_with('Z'), "{crds}");
    let table = sb.ok(&["get", "kt", "-n", "mr-ee"]);
    let (header, r) = header_and_row(&table, "mr-ee-main");
    assert_eq!(
        header,
        [
            "NAME",
            "CLUSTER",
            "PARTITIONS",
            "REPLICATION FACTOR",
            "READY"
        ],
        "{table}"
    );
    assert_eq!(r, ["mr-ee-main", "mr-ee", "6", "3", "True"], "{table}");
    // Discovery: the group with both served versions, the newer preferred; each version's
    // list with the resource, its short name and category, and its status subresource.
    let (code, apis) = sb.http("GET", "/apis", None);
    assert_eq!(code, 200);
    let group = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "kafka.strimzi.io")
        .cloned()
        .unwrap_or_else(|| panic!("{apis}"));
    assert_eq!(group["preferredVersion"]["version"], "v1beta2", "{group}");
    let versions: Vec<&str> = group["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1beta2", "v1beta1"]);
    let (code, list) = sb.http("GET", "/apis/kafka.strimzi.io/v1beta1", None);
    assert_eq!(code, 200);
    let names: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kafkatopics", "kafkatopics/status"]);
    assert_eq!(list["resources"][0]["shortNames"][0], "kt");
    assert_eq!(list["resources"][0]["categories"][0], "strimzi");
    // The older served version shows the same objects under its apiVersion.
    let old = sb.json(&[
        "get",
        "kafkatopics.v1beta1.kafka.strimzi.io",
        "mr-ee-main",
        "-n",
        "mr-ee",
    ]);
    assert_eq!(old["apiVersion"], "kafka.strimzi.io/v1beta1");
    assert_eq!(old["spec"]["partitions"], 6);
    // Its category lists them too.
    let out = sb.ok(&["get", "strimzi", "-n", "mr-ee"]);
    assert!(
        out.contains("REPLICATION FACTOR") && row(&out, "mr-ee-pinterest").is_some(),
        "{out}"
    );
    // Deleting their namespace deletes them, as any namespaced object.
    sb.ok(&["delete", "ns", "mr-ee", "--wait=false"]);
    wait_for("mr-ee's KafkaTopics deleted", WAIT, || {
        let out = sb.kubectl(&["get", "kt", "-A"]);
        (out.ok && !out.stdout.contains("mr-ee-main")).then_some(())
    });
}
