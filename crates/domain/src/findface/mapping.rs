//! Which findface-security setting becomes which ffsec key. Most keys keep their name (the config
//! struct uses the vendor's names); the value must have the type the ffsec key has in the
//! defaults, else the key is reported as not understood.

use toml::{Table, Value as Toml};

use super::pyconf::{Value, kind};

/// Django and findface-security settings that exist in a `config.py` but have no ffsec counterpart.
const IGNORED_TOP_LEVEL: [(&str, &str); 18] = [
    ("FFSECURITY_UI_CONFIG", "web-interface settings; ffsec has no bundled web UI"),
    ("INSTALLED_APPS", "Django applications; ffsec has no plugins"),
    ("LANGUAGE_CODE", "web-interface language"),
    ("TIME_ZONE", "ffsec stores and returns UTC timestamps"),
    ("USE_TZ", "ffsec stores and returns UTC timestamps"),
    ("ALLOWED_HOSTS", "put a reverse proxy in front of gateway-api to restrict host names"),
    ("ASGI_THREADS", "set SERVER.workers instead"),
    ("LOGGING", "Django's logging dict; ffsec's is [LOGGING] FORMAT and LEVEL"),
    ("CACHES", "ffsec keeps no Django cache"),
    ("CHANNEL_LAYERS", "ffsec's WebSocket uses the RabbitMQ bus"),
    ("SESSION_COOKIE_AGE", "ffsec uses tokens, see AUTH.TOKEN_TTL_HOURS"),
    ("CORS_ORIGIN_ALLOW_ALL", "put a reverse proxy in front of gateway-api for CORS"),
    ("STATIC_URL", "ffsec serves its console at /console/, from STATIC_ROOT"),
    ("MEDIA_URL", "ffsec signs media URLs under EXTERNAL_ADDRESS"),
    ("ROOT_URLCONF", "a Django internal"),
    ("MIDDLEWARE", "a Django internal"),
    ("AUTH_PASSWORD_VALIDATORS", "a Django internal"),
    ("EMAIL_BACKEND", "ffsec sends no e-mail"),
];

/// findface-security keys inside `FFSECURITY` that ffsec does not use.
const IGNORED_FFSECURITY: [(&str, &str); 4] = [
    ("START_COUNTER", "ffsec counts no people"),
    ("SEARCH_ENGINE", "the gallery is searched in facerouter-ingest"),
    ("MAX_DOSSIER_FACES", "no per-dossier face limit"),
    ("GENETEC", "no Genetec integration"),
];

/// What became of one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written to the ffsec key `to`.
    Mapped { to: String },
    /// Known, deliberately not carried over (the reason says why).
    Ignored { reason: String },
    /// Not carried over because the key or its value could not be read as an ffsec setting.
    NotUnderstood { reason: String },
}

/// One line of the conversion report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The findface setting, dotted (`FFSECURITY.VIDEO_DETECTOR_TOKEN`).
    pub key: String,
    pub line: usize,
    pub outcome: Outcome,
}

pub(super) struct Mapper<'a> {
    pub defaults: &'a Table,
    pub out: Table,
    pub report: Vec<Entry>,
}

impl Mapper<'_> {
    fn push(&mut self, key: &str, line: usize, outcome: Outcome) {
        self.report.push(Entry { key: key.to_string(), line, outcome });
    }

    fn not_understood(&mut self, key: &str, line: usize, reason: impl Into<String>) {
        self.push(key, line, Outcome::NotUnderstood { reason: reason.into() });
    }

    /// A top-level `NAME = value`.
    pub fn top_level(&mut self, name: &str, value: &Value, line: usize) {
        if let Some((_, reason)) = IGNORED_TOP_LEVEL.iter().find(|(k, _)| *k == name) {
            self.push(name, line, Outcome::Ignored { reason: (*reason).to_string() });
            return;
        }
        match name {
            "DATABASES" => self.databases(value, line),
            // findface-security 4.x names gateway's listener UVICORN_SETTINGS; ffsec calls it SERVER.
            "UVICORN_SETTINGS" | "SERVER" => self.section(name, "SERVER", value, line, &[]),
            "FFSECURITY" => self.section(name, "FFSECURITY", value, line, &IGNORED_FFSECURITY),
            _ => match self.defaults.get(name) {
                Some(Toml::Table(_)) => self.section(name, name, value, line, &[]),
                Some(template) => {
                    let template = template.clone();
                    self.leaf(name, &[name], &template, value, line);
                }
                None => self.not_understood(name, line, "no ffsec setting of this name"),
            },
        }
    }

    /// `DATABASES = {'default': {...}, ...}`: ffsec uses the default alias only.
    fn databases(&mut self, value: &Value, line: usize) {
        let Value::Dict(aliases) = value else {
            self.not_understood("DATABASES", line, format!("expected a dict, found {}", kind(value)));
            return;
        };
        for (alias, settings, alias_line) in aliases {
            let key = format!("DATABASES.{alias}");
            if alias == "default" {
                self.section(
                    &key,
                    "DATABASES.default",
                    settings,
                    *alias_line,
                    &[
                        ("OPTIONS", "driver options are not passed on; use HOST, PORT, USER, PASSWORD"),
                        ("CONN_MAX_AGE", "ffsec keeps a pool, see POOL_SIZE"),
                        ("ATOMIC_REQUESTS", "a Django internal"),
                        ("TEST", "a Django internal"),
                    ],
                );
            } else {
                self.push(
                    &key,
                    *alias_line,
                    Outcome::Ignored { reason: "ffsec uses the 'default' database only".into() },
                );
            }
        }
    }

    /// A dict whose keys are the leaves of the ffsec table `target` (dotted).
    fn section(&mut self, from: &str, target: &str, value: &Value, line: usize, ignored: &[(&str, &str)]) {
        let Value::Dict(entries) = value else {
            self.not_understood(from, line, format!("expected a dict, found {}", kind(value)));
            return;
        };
        let path: Vec<&str> = target.split('.').collect();
        let Some(Toml::Table(defaults)) = lookup(self.defaults, &path).cloned() else {
            self.not_understood(from, line, format!("no ffsec section {target}"));
            return;
        };
        for (name, item, item_line) in entries {
            let key = format!("{from}.{name}");
            if let Some((_, reason)) = ignored.iter().find(|(k, _)| k == name) {
                self.push(&key, *item_line, Outcome::Ignored { reason: (*reason).to_string() });
                continue;
            }
            let Some(template) = defaults.get(name) else {
                self.not_understood(&key, *item_line, format!("no ffsec setting {target}.{name}"));
                continue;
            };
            let mut leaf_path = path.clone();
            leaf_path.push(name);
            if template.is_table() {
                self.not_understood(&key, *item_line, "a nested table; write it by hand");
                continue;
            }
            let template = template.clone();
            self.leaf(&key, &leaf_path, &template, item, *item_line);
        }
    }

    fn leaf(&mut self, key: &str, path: &[&str], template: &Toml, value: &Value, line: usize) {
        let to = path.join(".");
        // An empty value means "not set" in the vendor's file; where ffsec's default is not empty
        // (EXTERNAL_ADDRESS, PORT, ...) the default is the better reading of it.
        let empty = matches!(value, Value::Str(s) if s.is_empty()) && template.as_str() != Some("");
        if matches!(value, Value::None) || empty {
            self.push(key, line, Outcome::Ignored { reason: format!("empty; {to} keeps its default") });
            return;
        }
        match convert(template, value) {
            Ok(converted) => {
                insert(&mut self.out, path, converted);
                self.push(key, line, Outcome::Mapped { to });
            }
            Err(reason) => self.not_understood(key, line, reason),
        }
    }
}

fn lookup<'a>(table: &'a Table, path: &[&str]) -> Option<&'a Toml> {
    let (first, rest) = path.split_first()?;
    let value = table.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    lookup(value.as_table()?, rest)
}

fn insert(table: &mut Table, path: &[&str], value: Toml) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = table;
    for key in parents {
        let entry = node.entry((*key).to_string()).or_insert_with(|| Toml::Table(Table::new()));
        let Toml::Table(inner) = entry else { return };
        node = inner;
    }
    node.insert((*last).to_string(), value);
}

/// The Python value as the TOML type of the ffsec key (`template` is its default).
fn convert(template: &Toml, value: &Value) -> Result<Toml, String> {
    let wanted = template.type_str();
    match (template, value) {
        (_, Value::Opaque(what)) => Err(format!("{what} cannot be evaluated without Python; write the value")),
        (Toml::String(_), Value::Str(s)) => Ok(Toml::String(s.clone())),
        (Toml::Boolean(_), Value::Bool(b)) => Ok(Toml::Boolean(*b)),
        (Toml::Integer(_), Value::Int(n)) => Ok(Toml::Integer(*n)),
        // PORT is often written as a string in Django settings.
        (Toml::Integer(_), Value::Str(s)) => {
            s.trim().parse().map(Toml::Integer).map_err(|_| format!("expected an integer, found the string {s:?}"))
        }
        (Toml::Float(_), Value::Float(f)) => Ok(Toml::Float(*f)),
        (Toml::Float(_), Value::Int(n)) => Ok(Toml::Float(*n as f64)),
        (Toml::Array(items), Value::List(values)) => {
            let item_template = items.first().cloned().unwrap_or(Toml::String(String::new()));
            values.iter().map(|v| convert(&item_template, v)).collect::<Result<Vec<_>, _>>().map(Toml::Array)
        }
        (_, other) => Err(format!("expected {wanted}, found {}", kind(other))),
    }
}
