//! What the fuzz targets (`cargo bench --bench fuzz`, README "Fuzzing") found, kept as tests:
//! each input that crashed a decoder or ran too long is answered with an error, at once.
//! Every file under `fuzz/regressions/<target>/` is also run through its target — the
//! bench's own harness — and must not panic.

#[allow(dead_code)]
#[path = "../benches/fuzz/targets.rs"]
mod targets;

use helmdeck::core::releases::repo::RepoIndex;
use helmdeck::core::workflows::upgrade;
use helmdeck::sandbox::api;
use helmdeck::sandbox::patch::{self, PatchType};
use helmdeck::sandbox::resources::ResourceType;
use serde_json::json;
use std::time::{Duration, Instant};

/// A server-side apply whose `metadata` is a string or a list panicked in the handler
/// (`config["metadata"]["name"] = …` indexes into it); the API server answers 400.
#[test]
fn an_applied_configuration_whose_metadata_is_not_a_mapping_is_refused() {
    let rt = ResourceType::for_kind("Deployment").unwrap();
    for body in [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: web\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n- name: web\n",
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":7}",
    ] {
        let err = api::applied_configuration(rt, "web", false, body.as_bytes()).unwrap_err();
        assert_eq!(err.code, 400, "{body}: {err}");
        assert!(err.message.contains("metadata"), "{err}");
    }
    // A configuration without metadata still gets the name of the URL.
    let ok =
        api::applied_configuration(rt, "web", false, b"apiVersion: apps/v1\nkind: Deployment\n")
            .unwrap();
    assert_eq!(ok["metadata"]["name"], "web");
}

/// json-patch's `patch` undoes the operations applied before a failing one and panics
/// (`unreachable!`) when the undo fails: here a `move` removes what the `copy` before it
/// made, then fails to add it. The sandbox patches a copy instead, with nothing to undo.
#[test]
fn a_json_patch_failing_after_a_copy_is_refused_not_a_panic() {
    let doc = json!({"metadata": {"name": "web", "annotations": {}}});
    let p = br#"[{"op":"copy","from":"/metadata/name","path":"/metadata/annotations/n"},
                 {"op":"move","from":"/metadata/annotations/n","path":"/metadata/nope/m"}]"#;
    let err = patch::apply(&doc, p, PatchType::Json).unwrap_err();
    assert_eq!(err.code, 422, "{err}");
    // The same through the handler's step, against the fuzz target's stored objects.
    let mut f = targets::Features::default();
    (targets::TARGETS.iter().find(|t| t.name == "sandbox_patch").unwrap().run)(
        b"json apps/v1/deployments web\n[{\"op\":\"copy\",\"from\":\"/metadata/name\",\"path\":\"/metadata/annotations/n\"},{\"op\":\"move\",\"from\":\"/metadata/annotations/n\",\"path\":\"/metadata/x/m\"}]",
        &mut f,
    );
}

/// libyaml's scanner takes time in the square of the nesting of `[` and `{`: 12 kB of them
/// took 306 ms in an index.yaml, 64 kB took seconds. Such documents are refused before
/// they are scanned, by every decoder of outside YAML.
#[test]
fn deep_flow_nesting_is_refused_before_it_is_scanned() {
    let deep = format!("apiVersion: v1\nentries: {}", "{a: ".repeat(20_000));
    let deep_list = format!("apiVersion: v1\nentries:\n  {}", "[".repeat(20_000));
    let started = Instant::now();
    for text in [&deep, &deep_list] {
        let err = RepoIndex::parse(text.as_bytes(), "https://x/index.yaml").unwrap_err();
        assert!(err.to_string().contains("nests more than"), "{err}");
        let err = upgrade::parse_values(text, "values.yaml").unwrap_err();
        assert!(format!("{err:#}").contains("nests more than"), "{err:#}");
        // The configuration and themes word their errors themselves ("not valid YAML").
        assert!(helmdeck::config::Config::from_yaml(text, std::path::Path::new("c.yaml")).is_err());
        assert!(helmdeck::tui::theme::Theme::from_yaml(text, "t.yaml").is_err());
        let rt = ResourceType::for_kind("ConfigMap").unwrap();
        let err = api::applied_configuration(rt, "x", false, text.as_bytes()).unwrap_err();
        assert_eq!(err.code, 400, "{err}");
        assert!(err.message.contains("nests more than"), "{err}");
    }
    // libyaml ends a comment at a CR (or NEL, LS, PS) as at a LF: nesting after one is
    // counted (the fuzz target `theme` found 1,914 levels hidden behind `# …\r`).
    for br in ["\r", "\u{85}", "\u{2028}"] {
        let hidden = format!("# note{br}{}", "{a: ".repeat(20_000));
        let err = upgrade::parse_values(&hidden, "values.yaml").unwrap_err();
        assert!(
            format!("{err:#}").contains("nests more than"),
            "{br:?}: {err:#}"
        );
    }
    // `--set` values are YAML too.
    let mut values = json!({});
    upgrade::apply_set(&mut values, &format!("a={}", "[".repeat(20_000))).unwrap();
    assert!(values["a"].is_string());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// Every input saved under `fuzz/regressions/<target>/` runs through its target without a
/// panic, in well under the fuzzer's 100 ms budget (allowing for an unoptimised build).
#[test]
fn every_saved_regression_input_runs_through_its_target() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut ran = 0;
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let target = targets::TARGETS
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no fuzz target {name}"));
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let data = std::fs::read(file.path()).unwrap();
            let mut f = targets::Features::default();
            let t0 = Instant::now();
            (target.run)(&data, &mut f);
            let took = t0.elapsed();
            assert!(
                took < Duration::from_secs(2),
                "{}: {took:?}",
                file.path().display()
            );
            ran += 1;
        }
    }
    assert!(ran >= 5, "{ran} inputs");
}
