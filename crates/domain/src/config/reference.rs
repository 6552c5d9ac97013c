//! `docs/configuration.md`, rendered from the config struct: key names and nesting from serde,
//! defaults from [`Config::default`], descriptions from the fields' doc comments (through the
//! utoipa schema derived on every config type). `config reference` prints it; a test fails when the
//! committed file differs, so the reference cannot drift from the code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value as Json;
use utoipa::{PartialSchema, ToSchema};

use super::{Config, ConfigError, ENV_PREFIX, defaults_tree};

const HEADER: &str = "\
# Configuration reference

<!-- Generated from the config struct (crates/domain/src/config.rs, config/ingest.rs) by
     `gateway-api config reference`; do not edit by hand. Regenerate with
       cargo run -q -p gateway-api -- config reference > docs/configuration.md
     (a test in crates/domain fails while this file and the struct differ). -->

One TOML file configures every ffsec service; `deploy/ffsec.example.toml` is a commented example
with every key, `deploy/docker/ffsec.compose.toml` the one docker-compose mounts. Key names follow
findface-security's `config.py` (`config import-findface` converts one, see the operator guide).

Each value is taken from, in rising order: the built-in default below, the file
(`--config FILE` or `FFSEC_CONFIG`), the environment variable in the third column, and the
command-line flags `--host`, `--port`, `--database-name`, `--rabbitmq-url`, `--bus-prefix`,
`--media-root` and `--log-format`. An environment variable is read as the key's type: booleans as
`true`/`false`/`1`/`0`/`yes`/`no`, lists as a TOML array (`[1000, 5000]`) or comma-separated
(`gender,age`). An unknown key in the file or an unknown `FFSEC_*` variable stops start-up with a
message naming it; `<service> --config FILE config check` validates without starting.
";

/// The markdown reference.
pub fn render() -> Result<String, ConfigError> {
    let defaults = defaults_tree()?;
    let mut schemas: BTreeMap<String, Json> = BTreeMap::new();
    let mut collected = Vec::new();
    Config::schemas(&mut collected);
    collected.push((Config::name().into_owned(), Config::schema()));
    for (name, schema) in collected {
        let json = serde_json::to_value(&schema).map_err(|e| ConfigError::Internal(e.to_string()))?;
        schemas.insert(name, json);
    }
    let root = schemas.get("Config").cloned().ok_or_else(|| ConfigError::Internal("no Config schema".into()))?;
    let mut out = String::from(HEADER);
    let mut sections = Vec::new();
    section(&mut out, &mut sections, &schemas, &root, &defaults, &[], None)?;
    for (path, schema, table, description) in sections {
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        section(&mut out, &mut Vec::new(), &schemas, &schema, &table, &segments, description.as_deref())?;
        // Nested sections (DATABASES.default) are rendered right after their parent.
        let mut nested = Vec::new();
        collect_nested(&schemas, &schema, &table, &path, &mut nested);
        for (path, schema, table, description) in nested {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            section(&mut out, &mut Vec::new(), &schemas, &schema, &table, &segments, description.as_deref())?;
        }
    }
    Ok(out)
}

type Pending = (Vec<String>, Json, toml::Table, Option<String>);

fn collect_nested(
    schemas: &BTreeMap<String, Json>,
    schema: &Json,
    table: &toml::Table,
    path: &[String],
    out: &mut Vec<Pending>,
) {
    for (key, value) in table {
        if let toml::Value::Table(inner) = value
            && let Some(property) = schema.pointer(&format!("/properties/{key}"))
            && let Some(target) = resolve(schemas, property)
        {
            let mut nested = path.to_vec();
            nested.push(key.clone());
            out.push((nested, target.clone(), inner.clone(), description(property).or_else(|| description(target))));
        }
    }
}

/// Writes the table of leaf keys of one section; sub-tables of the root go to `pending`.
fn section(
    out: &mut String,
    pending: &mut Vec<Pending>,
    schemas: &BTreeMap<String, Json>,
    schema: &Json,
    table: &toml::Table,
    path: &[&str],
    about: Option<&str>,
) -> Result<(), ConfigError> {
    let title = if path.is_empty() { "Top level".to_string() } else { format!("[{}]", path.join(".")) };
    let _ = write!(out, "\n## {title}\n\n");
    if let Some(about) = about {
        let _ = write!(out, "{}\n\n", one_line(about));
    }
    let mut rows = String::new();
    for (key, value) in table {
        let property = schema
            .pointer(&format!("/properties/{}", key.replace('~', "~0").replace('/', "~1")))
            .ok_or_else(|| ConfigError::Internal(format!("no schema for {}", dotted(path, key))))?;
        if let toml::Value::Table(inner) = value {
            if path.is_empty() {
                let target = resolve(schemas, property)
                    .ok_or_else(|| ConfigError::Internal(format!("no schema for section {key}")))?;
                let about = description(property).or_else(|| description(target));
                pending.push((vec![key.clone()], target.clone(), inner.clone(), about));
            }
            continue;
        }
        let text = description(property).ok_or_else(|| {
            ConfigError::Internal(format!(
                "{} has no doc comment: add a /// line to its field (docs/configuration.md is generated from them)",
                dotted(path, key)
            ))
        })?;
        let allowed = allowed_values(schemas, property).map(|v| format!(" One of: {v}.")).unwrap_or_default();
        let env = format!("{ENV_PREFIX}{}", path.iter().copied().chain([key.as_str()]).collect::<Vec<_>>().join("__"));
        let _ = writeln!(rows, "| `{key}` | `{}` | `{env}` | {}{allowed} |", cell(&value.to_string()), cell(&text));
    }
    // A section of sub-tables only (DATABASES) gets its heading, not an empty table.
    if rows.is_empty() {
        out.truncate(out.trim_end().len());
        out.push('\n');
    } else {
        out.push_str("| Key | Default | Environment variable | Description |\n|---|---|---|---|\n");
        out.push_str(&rows);
    }
    Ok(())
}

fn dotted(path: &[&str], key: &str) -> String {
    path.iter().copied().chain([key]).collect::<Vec<_>>().join(".")
}

/// The schema a property points at (`$ref`, possibly wrapped in allOf/oneOf by utoipa).
fn resolve<'a>(schemas: &'a BTreeMap<String, Json>, property: &Json) -> Option<&'a Json> {
    let reference = find_ref(property)?;
    schemas.get(reference.rsplit('/').next()?)
}

fn find_ref(value: &Json) -> Option<&str> {
    match value {
        Json::Object(map) => {
            if let Some(Json::String(r)) = map.get("$ref") {
                return Some(r);
            }
            map.values().find_map(find_ref)
        }
        Json::Array(items) => items.iter().find_map(find_ref),
        _ => None,
    }
}

/// For enum-typed keys (or lists of them): the accepted spellings.
fn allowed_values(schemas: &BTreeMap<String, Json>, property: &Json) -> Option<String> {
    let target = resolve(schemas, property)?;
    let values = target.get("enum")?.as_array()?;
    Some(values.iter().filter_map(Json::as_str).map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "))
}

/// The doc comment: on the property itself, or (for a field of a config type) on the `$ref` that
/// utoipa wraps in a oneOf.
fn description(schema: &Json) -> Option<String> {
    let own = schema.get("description").and_then(Json::as_str).map(one_line).filter(|s| !s.is_empty());
    own.or_else(|| {
        ["oneOf", "allOf"]
            .iter()
            .filter_map(|k| schema.get(*k).and_then(Json::as_array))
            .flatten()
            .find_map(description)
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Markdown table cells: a `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
