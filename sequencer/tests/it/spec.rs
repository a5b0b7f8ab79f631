//! The Ethereum execution-apis specification (vendored in `sequencer/tests/fixtures/execution-apis`, see its SOURCE.txt): every method's
//! result schema, with the shared component schemas, as a JSON Schema validator.

use serde_json::{Map, Value, json};
use std::{collections::HashMap, path::Path};

const SPEC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/execution-apis/src");

/// Result schemas by method name, and the components they refer to.
pub struct Spec {
    results: HashMap<String, Value>,
    components: Value,
}

fn yaml_files(dir: &Path) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap())
        .collect()
}

impl Spec {
    pub fn load() -> Self {
        let dir = Path::new(SPEC_DIR);
        let mut schemas = Map::new();
        for file in yaml_files(&dir.join("schemas")) {
            schemas.extend(file.as_object().unwrap().clone());
        }
        let mut results = HashMap::new();
        for file in yaml_files(&dir.join("eth")) {
            for method in file.as_array().unwrap() {
                let name = method["name"].as_str().unwrap().to_string();
                results.insert(name, method["result"]["schema"].clone());
            }
        }
        assert!(results.len() > 30, "the specification lists {} methods", results.len());
        Self { results, components: json!({ "schemas": schemas }) }
    }

    /// Whether the spec defines `method`.
    pub fn has(&self, method: &str) -> bool {
        self.results.contains_key(method)
    }

    /// Fails with every violation when `result` does not match `method`'s result schema.
    pub fn check(&self, method: &str, result: &Value) {
        let mut schema =
            self.results.get(method).unwrap_or_else(|| panic!("{method} is not in the spec")).clone();
        schema.as_object_mut().unwrap().insert("components".into(), self.components.clone());
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(result)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} result does not match the spec:\n{}\n{result:#}",
            errors.join("\n")
        );
    }
}

#[test]
fn the_spec_rejects_wrong_results() {
    let spec = Spec::load();
    spec.check("eth_chainId", &json!("0x539"));
    for (method, wrong) in [
        ("eth_chainId", json!("1337")),
        ("eth_getBalance", json!(5)),
        ("eth_getTransactionReceipt", json!({"status": "0x1"})),
        ("eth_getBlockByNumber", json!({"number": "0x1"})),
    ] {
        let checked = std::panic::catch_unwind(|| spec.check(method, &wrong));
        assert!(checked.is_err(), "{method} accepted {wrong}");
    }
}
