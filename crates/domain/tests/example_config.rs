#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The configuration files shipped in deploy/ and docker-compose.yml stay in step with the real
//! config struct and loader:
//! - deploy/ffsec.example.toml loads, sets every key, and its values are the built-in defaults;
//! - deploy/docker/ffsec.compose.toml loads and is set up for containers;
//! - every `FFSEC_*` variable in docker-compose.yml names a real key, each service's environment
//!   loads on top of the compose config, and the healthcheck / published ports are the ports the
//!   services listen on; ingest is reached through ingest-proxy, which forwards to that port.
//!   (No YAML crate in the workspace: docker-compose.yml is read as text.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use domain::Config;
use domain::config::{ConfigError, LogFormat, Overrides, Service};

const EXAMPLE: &str = "deploy/ffsec.example.toml";
const COMPOSE_CONFIG: &str = "deploy/docker/ffsec.compose.toml";
const COMPOSE: &str = "docker-compose.yml";
const INGEST_PROXY: &str = "deploy/docker/ingest-proxy.conf";

/// The ffsec services in docker-compose.yml: service name (= binary name) and the listener it uses.
const SERVICES: [(&str, Service); 3] = [
    ("gateway-api", Service::Gateway),
    ("facerouter-ingest", Service::Ingest),
    ("webhook-dispatcher", Service::Dispatcher),
];

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

fn read(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn load(relative: &str, environment: Vec<(String, String)>, service: Service) -> Result<Config, ConfigError> {
    Config::load(Some(&repo_path(relative)), environment, &Overrides::default(), service)
}

fn load_file(relative: &str) -> Config {
    Config::load(Some(&repo_path(relative)), std::iter::empty(), &Overrides::default(), Service::Gateway)
        .unwrap_or_else(|e| panic!("{relative} does not load: {e}"))
}

/// Dotted paths of every leaf key in a TOML table.
fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => leaf_keys(inner, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn example_config_loads_and_documents_the_defaults() {
    let config = load_file(EXAMPLE);
    assert_eq!(config, Config::default(), "{EXAMPLE} must show the built-in defaults");
    for (_, service) in SERVICES {
        assert!(load(EXAMPLE, worker_token(service), service).is_ok());
    }
}

#[test]
fn example_config_sets_every_key() {
    let written: toml::Table = read(EXAMPLE).parse().unwrap();
    let toml::Value::Table(defaults) = toml::Value::try_from(Config::default()).unwrap() else {
        panic!("the defaults do not serialise to a table");
    };
    let mut in_example = BTreeSet::new();
    leaf_keys(&written, "", &mut in_example);
    let mut in_struct = BTreeSet::new();
    leaf_keys(&defaults, "", &mut in_struct);
    let missing: Vec<_> = in_struct.difference(&in_example).collect();
    assert!(missing.is_empty(), "{EXAMPLE} does not document these keys: {missing:?}");
    let extra: Vec<_> = in_example.difference(&in_struct).collect();
    assert!(extra.is_empty(), "{EXAMPLE} has keys the config does not know: {extra:?}");
}

#[test]
fn compose_config_loads_and_is_set_up_for_containers() {
    let config = load_file(COMPOSE_CONFIG);
    assert_eq!(config.databases.default.host, "postgres");
    assert!(config.rabbitmq.url.contains("@rabbitmq:5672/"), "RABBITMQ.URL is {}", config.rabbitmq.url);
    assert_eq!(config.media_root, Path::new("/var/lib/ffsec/uploads"));
    assert_eq!(config.logging.format, LogFormat::Json);
    let defaults = Config::default();
    for (name, service) in SERVICES {
        let server = config.server(service);
        assert_eq!(server.host, "0.0.0.0", "{name} must listen on all interfaces inside its container");
        assert_eq!(server.port, defaults.server(service).port, "{name} keeps its usual port");
        assert!(load(COMPOSE_CONFIG, worker_token(service), service).is_ok());
    }
}

/// `${VAR:-default}` / `${VAR-default}` become the default, `${VAR}` the empty string and `$$` a
/// dollar sign, as docker compose does when VAR is unset.
fn interpolate(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').unwrap_or_else(|| panic!("unclosed ${{ in {raw:?}"));
            let expression = &body[..end];
            let default = expression.split_once(":-").or_else(|| expression.split_once('-')).map_or("", |(_, d)| d);
            out.push_str(default);
            rest = &body[end + 1..];
        } else {
            panic!("write ${{VAR}} rather than $VAR in docker-compose.yml: {raw:?}");
        }
    }
    out.push_str(rest);
    out
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|v| v.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Every `FFSEC_*` name outside comments.
fn ffsec_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| !is_comment(l)) {
        let mut rest = line;
        while let Some(at) = rest.find("FFSEC_") {
            let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            rest = &rest[at + name.len()..];
            names.insert(name);
        }
    }
    names
}

/// `FFSEC_X: value` entries (environment in mapping form), values interpolated.
fn ffsec_assignments(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !is_comment(l))
        .filter_map(|line| {
            let (key, value) = line.trim().split_once(':')?;
            key.starts_with("FFSEC_").then(|| (key.to_string(), interpolate(unquote(value))))
        })
        .collect()
}

/// The lines of one entry under `services:` (from its `  name:` line to the next entry or
/// top-level key).
fn service_block<'a>(compose: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("  {name}:");
    let mut block = Vec::new();
    let mut inside = false;
    for line in compose.lines().skip_while(|l| *l != "services:").skip(1) {
        let is_entry =
            line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') && !is_comment(line);
        let is_top_level = !line.is_empty() && !line.starts_with(' ') && !is_comment(line);
        if is_top_level {
            break;
        }
        if is_entry {
            if inside {
                break;
            }
            inside = line.trim_end() == header;
        }
        if inside {
            block.push(line);
        }
    }
    assert!(!block.is_empty(), "service {name} not found in {COMPOSE}");
    block
}

#[test]
fn compose_environment_names_real_keys() {
    let compose = read(COMPOSE);
    let names = ffsec_names(&compose);
    for expected in [
        "FFSEC_CONFIG",
        "FFSEC_RABBITMQ__URL",
        "FFSEC_DATABASES__default__PASSWORD",
        "FFSEC_FFSECURITY__VIDEO_DETECTOR_TOKEN",
    ] {
        assert!(names.contains(expected), "{COMPOSE} does not set {expected}");
    }
    let assignments = ffsec_assignments(&compose);
    for name in &names {
        let value =
            assignments.iter().find(|(key, _)| key == name).map_or_else(|| "1".to_string(), |(_, value)| value.clone());
        let result = Config::load(None, vec![(name.clone(), value.clone())], &Overrides::default(), Service::Gateway);
        if let Err(e @ ConfigError::UnknownEnv { .. }) = result {
            panic!("{COMPOSE} sets {name}, which is no configuration key: {e}");
        }
    }
}

#[test]
fn compose_services_load_and_use_the_configured_ports() {
    let compose = read(COMPOSE);
    for (name, service) in SERVICES {
        let block = service_block(&compose, name);
        let text = block.join("\n");
        let environment = ffsec_assignments(&text);

        assert!(
            text.contains(&format!("command: [\"{name}\"")),
            "{name} must run its own binary (command: [\"{name}\", ...])"
        );
        assert!(
            text.contains("./deploy/docker/ffsec.compose.toml:/etc/ffsec/ffsec.toml:ro"),
            "{name} must mount the compose config read-only at /etc/ffsec/ffsec.toml"
        );
        let config_path = environment.iter().find(|(k, _)| k == "FFSEC_CONFIG").map(|(_, v)| v.as_str());
        assert_eq!(config_path, Some("/etc/ffsec/ffsec.toml"), "{name}: FFSEC_CONFIG");

        // The service's whole environment on top of the compose config, as in the container.
        let config = load(COMPOSE_CONFIG, environment, service)
            .unwrap_or_else(|e| panic!("{name}: compose config + its environment do not load: {e}"));
        let port = config.server(service).port;

        let marker = "http://127.0.0.1:";
        let at = text.find(marker).unwrap_or_else(|| panic!("{name} has no healthcheck on {marker}<port>/health"));
        let after = &text[at + marker.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        assert!(after[digits.len()..].starts_with("/health"), "{name}: the healthcheck must call /health");
        assert_eq!(digits.parse::<u16>().ok(), Some(port), "{name}: healthcheck port vs {COMPOSE_CONFIG}");

        match service {
            Service::Gateway => {
                assert!(text.contains(&format!(":{port}\"")), "{name} must publish container port {port}");
            }
            // Ingest publishes no host port (replicas would clash when scaled); ingest-proxy does,
            // and forwards to the service name on the port ingest listens on.
            Service::Ingest => {
                assert!(!text.contains("ports:"), "{name} must not publish a port: it is scaled behind ingest-proxy");
                assert!(text.contains(&format!("- \"{port}\"")), "{name} must expose port {port}");
                let proxy = service_block(&compose, "ingest-proxy").join("\n");
                assert!(proxy.contains(&format!(":{port}\"")), "ingest-proxy must publish port {port}");
                let conf = read(INGEST_PROXY);
                assert!(
                    conf.contains(&format!("set $ingest {name}:{port};")),
                    "{INGEST_PROXY} must forward to {name}:{port}"
                );
                assert!(conf.contains(&format!("listen {port};")), "{INGEST_PROXY} must listen on {port}");
            }
            Service::Dispatcher => {}
        }
        match service {
            Service::Gateway | Service::Ingest => {
                assert!(
                    text.contains(&format!("media:{}", config.media_root.display())),
                    "{name} must mount the media volume at MEDIA_ROOT"
                );
            }
            Service::Dispatcher => {}
        }
        match service {
            Service::Ingest => assert!(!config.ffsecurity.video_detector_token.is_empty(), "ingest needs a token"),
            Service::Gateway => assert!(!config.auth.admin_username.is_empty(), "gateway creates the first admin"),
            Service::Dispatcher => {}
        }
    }
}

#[test]
fn interpolation_follows_compose() {
    assert_eq!(interpolate("${A:-x}"), "x");
    assert_eq!(interpolate("amqp://${U:-u}:${P:-p}@h/%2f"), "amqp://u:p@h/%2f");
    assert_eq!(interpolate("${A}b$$"), "b$");
    assert_eq!(interpolate("${URL:-http://h:1}"), "http://h:1");
}

/// Ingest refuses to start without a worker token, which the files leave to the environment.
fn worker_token(service: Service) -> Vec<(String, String)> {
    match service {
        Service::Ingest => vec![("FFSEC_FFSECURITY__VIDEO_DETECTOR_TOKEN".into(), "token".into())],
        _ => Vec::new(),
    }
}
