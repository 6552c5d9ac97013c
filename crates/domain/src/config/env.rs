//! `FFSEC_*` environment overrides. A variable's value is parsed as the type the key has in the
//! defaults, so `FFSEC_FFSECURITY__IGNORE_UNMATCHED=true` is a boolean and a numeric-looking token
//! stays a string.

use toml::{Table, Value};

use super::{CONFIG_PATH_ENV, ConfigError, ENV_PREFIX};

pub(super) fn apply(
    tree: &mut Table,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = super::defaults_tree()?;
    let mut vars: Vec<(String, String)> =
        environment.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX) && k != CONFIG_PATH_ENV).collect();
    // Deterministic order, so the first bad variable reported is always the same one.
    vars.sort();
    for (name, raw) in vars {
        let segments: Vec<&str> = name[ENV_PREFIX.len()..].split("__").collect();
        let (path, template) =
            resolve(&defaults, &segments).ok_or_else(|| ConfigError::UnknownEnv { variable: name.clone() })?;
        let value = parse_like(template, &raw).ok_or_else(|| ConfigError::Value {
            file: format!("environment variable {name}"),
            key: path.join("."),
            reason: format!("cannot read {raw:?} as {}", template.type_str()),
        })?;
        insert(tree, &path, value);
    }
    Ok(())
}

/// Finds the canonical key path (case-insensitive match against the defaults) and its default value.
fn resolve<'a>(defaults: &'a Table, segments: &[&str]) -> Option<(Vec<String>, &'a Value)> {
    let (first, rest) = segments.split_first()?;
    let (key, value) = defaults.iter().find(|(k, _)| k.eq_ignore_ascii_case(first))?;
    if rest.is_empty() {
        return match value {
            Value::Table(_) => None,
            leaf => Some((vec![key.clone()], leaf)),
        };
    }
    let Value::Table(inner) = value else { return None };
    let (mut path, leaf) = resolve(inner, rest)?;
    path.insert(0, key.clone());
    Some((path, leaf))
}

fn parse_like(template: &Value, raw: &str) -> Option<Value> {
    match template {
        Value::String(_) => Some(Value::String(raw.to_string())),
        Value::Boolean(_) => parse_bool(raw).map(Value::Boolean),
        Value::Integer(_) => raw.trim().parse().ok().map(Value::Integer),
        Value::Float(_) => raw.trim().parse().ok().map(Value::Float),
        Value::Array(items) => parse_array(items.first(), raw),
        Value::Datetime(_) | Value::Table(_) => None,
    }
}

/// The spellings findface clients use for booleans.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Accepts a TOML array (`[1000, 5000]`) or a comma-separated list (`gender,age`).
fn parse_array(item_template: Option<&Value>, raw: &str) -> Option<Value> {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') {
        let table: Table = format!("v = {trimmed}").parse().ok()?;
        return table.get("v").cloned();
    }
    if trimmed.is_empty() {
        return Some(Value::Array(Vec::new()));
    }
    let items = trimmed
        .split(',')
        .map(|part| match item_template {
            Some(t) => parse_like(t, part.trim()),
            None => Some(Value::String(part.trim().to_string())),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Value::Array(items))
}

fn insert(tree: &mut Table, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = tree;
    for key in parents {
        let entry = node.entry(key.clone()).or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(inner) = entry else { return };
        node = inner;
    }
    node.insert(last.clone(), value);
}
