#![allow(clippy::unwrap_used, clippy::expect_used)]
//! docs/configuration.md is exactly what the config struct renders (`config reference`), so the
//! reference can never drift from the keys, defaults and doc comments in the code.

use std::path::Path;

const REFERENCE: &str = "docs/configuration.md";

#[test]
fn configuration_reference_matches_the_config_struct() {
    let generated = domain::config::reference::render().unwrap_or_else(|e| panic!("cannot render: {e}"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(REFERENCE);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the length".to_string(), |n| format!("line {}", n + 1));
        panic!(
            "{REFERENCE} differs from the config struct (first at {first}). Regenerate it with\n  \
             cargo run -q -p gateway-api -- config reference > {REFERENCE}\nand commit the result."
        );
    }
}

#[test]
fn every_key_is_in_the_reference() {
    let generated = domain::config::reference::render().unwrap();
    let toml::Value::Table(defaults) = toml::Value::try_from(domain::Config::default()).unwrap() else {
        panic!("defaults are no table");
    };
    fn walk(table: &toml::Table, path: &mut Vec<String>, text: &str) {
        for (key, value) in table {
            path.push(key.clone());
            match value {
                toml::Value::Table(inner) => walk(inner, path, text),
                _ => {
                    let env = format!("`FFSEC_{}`", path.join("__"));
                    assert!(text.contains(&env), "{} ({env}) is missing from the reference", path.join("."));
                }
            }
            path.pop();
        }
    }
    walk(&defaults, &mut Vec::new(), &generated);
}
