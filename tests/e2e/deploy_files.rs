//! The deployment files are checked with what runs on this machine (no Docker engine, no cluster):
//! - docker-compose.yml by Debian's `docker-compose config` (v1.29), default and observability
//!   profile;
//! - deploy/kubernetes/ by `kubernetes-validate --strict` (PyPI; bundles the API schemas), and
//!   its probes and ports against the ConfigMap's ffsec.toml;
//! - deploy/systemd/ units by `systemd-analyze verify`;
//! - the Dockerfile: multi-stage, non-root, exposing the services' ports, the same uid as the pods;
//! - the Grafana dashboard and the Prometheus rules only name metrics (and label values) that the
//!   services' code exports, and Prometheus scrapes the ports the services listen on.
//!
//! scripts/test.sh installs the validators (`ensure_deploy_validators` in scripts/services.sh).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use domain::Config;
use domain::config::Service;

const SERVICES: [(&str, Service); 3] = [
    ("gateway-api", Service::Gateway),
    ("facerouter-ingest", Service::Ingest),
    ("webhook-dispatcher", Service::Dispatcher),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs a validator; a missing one fails the test with how to get it.
fn validator(program: &str, install: &str, args: &[&str], dir: &Path) -> std::process::Output {
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "{program} is missing ({e}); it validates the deployment files. Install it with {install} \
             (scripts/test.sh does, through ensure_deploy_validators in scripts/services.sh)"
        ),
    }
}

fn assert_success(what: &str, output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn compose_file_passes_docker_compose_config() {
    let install = "`apt-get install docker-compose`";
    let quiet = validator("docker-compose", install, &["-f", "docker-compose.yml", "config", "-q"], &repo());
    assert_success("docker-compose config -q", &quiet);
    let services = validator(
        "docker-compose",
        install,
        &["-f", "docker-compose.yml", "--profile", "observability", "config", "--services"],
        &repo(),
    );
    assert_success("docker-compose --profile observability config --services", &services);
    let listed: BTreeSet<String> = String::from_utf8_lossy(&services.stdout).lines().map(str::to_string).collect();
    for expected in [
        "postgres",
        "rabbitmq",
        "gateway-api",
        "facerouter-ingest",
        "webhook-dispatcher",
        "ingest-proxy",
        "prometheus",
        "grafana",
    ] {
        assert!(listed.contains(expected), "docker-compose.yml has no service {expected}: {listed:?}");
    }
    // The default profile leaves Prometheus and Grafana out (docker-compose 1.29 lists every
    // service under --services, so the file itself is read).
    let compose = read("docker-compose.yml");
    for optional in ["prometheus", "grafana"] {
        let block: String = compose
            .lines()
            .skip_while(|l| *l != format!("  {optional}:"))
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("   "))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(block.contains("profiles: [\"observability\"]"), "{optional} must be in the observability profile");
    }
}

fn kubernetes_files() -> Vec<PathBuf> {
    let dir = repo().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // kustomization.yaml is kustomize's file, not an API object.
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn kubernetes_manifests_pass_the_schema_check() {
    let files = kubernetes_files();
    assert!(files.len() >= 7, "deploy/kubernetes/ is incomplete: {files:?}");
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut args = vec!["--strict", "--quiet"];
    args.extend(names.iter().map(String::as_str));
    let output = validator("kubernetes-validate", "`pip install kubernetes-validate`", &args, &repo());
    assert_success("kubernetes-validate --strict", &output);
    // Every file is listed in the kustomization.
    let kustomization = read("deploy/kubernetes/kustomization.yaml");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(kustomization.contains(&format!("- {name}")), "kustomization.yaml does not list {name}");
    }
    let kinds: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    for kind in
        ["kind: Deployment", "kind: Service", "kind: ConfigMap", "kind: Secret", "kind: HorizontalPodAutoscaler"]
    {
        assert!(kinds.contains(kind), "deploy/kubernetes/ has no {kind}");
    }
}

/// The `ffsec.toml: |` block of the ConfigMap, de-indented.
fn configmap_toml() -> String {
    let text = read("deploy/kubernetes/configmap.yaml");
    let lines = text.lines().skip_while(|l| l.trim() != "ffsec.toml: |").skip(1);
    let first = lines.clone().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let indent = first.len() - first.trim_start().len();
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value after `key:` in the first line of `block` that has it (after `after`, if given).
fn yaml_value<'a>(block: &'a str, after: &str, key: &str) -> Option<&'a str> {
    let start = block.find(after)?;
    block[start..].lines().find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().trim_matches('"')))
}

#[test]
fn kubernetes_probes_and_ports_match_the_services() {
    let table: toml::Table = configmap_toml().parse().unwrap_or_else(|e| panic!("ConfigMap ffsec.toml: {e}"));
    let secret = read("deploy/kubernetes/secret.yaml");
    for (name, service) in SERVICES {
        // The pod's environment: every FFSEC_* of the Secret over the ConfigMap's file.
        let environment: Vec<(String, String)> = secret
            .lines()
            .filter_map(|l| l.trim().split_once(": "))
            .filter(|(k, _)| k.starts_with("FFSEC_"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let file = std::env::temp_dir().join(format!("ffsec-k8s-{name}-{}.toml", uuid::Uuid::now_v7()));
        std::fs::write(&file, toml::to_string(&table).unwrap()).unwrap();
        let config = Config::load(Some(&file), environment, &domain::config::Overrides::default(), service)
            .unwrap_or_else(|e| panic!("{name}: the ConfigMap + Secret do not load: {e}"));
        let _ = std::fs::remove_file(file);
        let port = config.server(service).port;
        assert_eq!(config.server(service).host, "0.0.0.0", "{name} must listen on the pod IP");

        let manifest = read(&format!("deploy/kubernetes/{name}.yaml"));
        assert_eq!(yaml_value(&manifest, "containers:", "containerPort:"), Some(port.to_string().as_str()), "{name}");
        assert_eq!(yaml_value(&manifest, "prometheus.io/port", "prometheus.io/port:"), Some(port.to_string().as_str()));
        assert_eq!(yaml_value(&manifest, "readinessProbe:", "path:"), Some("/health"), "{name} readiness");
        assert_eq!(yaml_value(&manifest, "livenessProbe:", "path:"), Some("/health/live"), "{name} liveness");
        assert!(manifest.contains(&format!("command: [\"{name}\", \"serve\"]")), "{name} runs its own binary");
        assert!(manifest.contains("value: /etc/ffsec/ffsec.toml"), "{name}: FFSEC_CONFIG");
        if service != Service::Dispatcher {
            assert!(
                manifest.contains(&format!("mountPath: {}", config.media_root.display())),
                "{name} mounts the media volume at MEDIA_ROOT"
            );
        }
    }
    let hpa = read("deploy/kubernetes/facerouter-ingest-hpa.yaml");
    assert!(hpa.contains("name: facerouter-ingest") && hpa.contains("kind: Deployment"), "the HPA scales ingest");
}

#[test]
fn systemd_units_verify() {
    let dir = std::env::temp_dir().join(format!("ffsec-units-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut units = Vec::new();
    for (name, _) in SERVICES {
        let unit = format!("ffsec-{name}.service");
        let text = read(&format!("deploy/systemd/{unit}"));
        assert!(text.contains(&format!("ExecStart=/usr/bin/{name} serve")), "{unit} runs /usr/bin/{name}");
        assert!(text.contains("Environment=FFSEC_CONFIG=/etc/ffsec/ffsec.toml"), "{unit}: FFSEC_CONFIG");
        // systemd-analyze checks that the binaries exist: point the copies at the built ones.
        let built = ffsec_tests::process::binary(name);
        std::fs::write(dir.join(&unit), text.replace(&format!("/usr/bin/{name}"), &built.display().to_string()))
            .unwrap();
        units.push(format!("./{unit}"));
    }
    let mut args = vec!["verify"];
    args.extend(units.iter().map(String::as_str));
    let output = validator("systemd-analyze", "`apt-get install systemd`", &args, &dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains("ffsec-")).collect();
    assert!(output.status.success() && complaints.is_empty(), "systemd-analyze verify: {stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Every Rust source file of the services (and domain), concatenated.
fn service_sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    for krate in ["domain", "facerouter-ingest", "gateway-api", "webhook-dispatcher"] {
        walk(&repo().join("crates").join(krate).join("src"), &mut out);
    }
    out
}

/// `name{selector}` occurrences of metrics starting with `prefix` in a PromQL expression.
fn metric_uses(expr: &str, prefix: &str) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find(prefix) {
        let preceded_by_word = at > 0 && rest[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
        let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        if preceded_by_word {
            continue;
        }
        let selector = rest.strip_prefix('{').and_then(|s| s.split_once('}')).map_or("", |(s, _)| s);
        uses.push((name, selector.to_string()));
    }
    uses
}

/// The PromQL expressions of the dashboard and of the rules.
fn monitoring_expressions() -> Vec<(String, String)> {
    let dashboard: serde_json::Value = serde_json::from_str(&read("deploy/grafana/dashboards/ffsec.json"))
        .unwrap_or_else(|e| panic!("the dashboard is not JSON: {e}"));
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            exprs.push((format!("dashboard panel {:?}", panel["title"]), expr.to_string()));
        }
    }
    assert!(exprs.len() >= 15, "the dashboard has only {} queries", exprs.len());
    // rules.yml: `expr: ...` on one line or a `|` block below it.
    let rules = read("deploy/prometheus/rules.yml");
    let lines: Vec<&str> = rules.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = line.trim().strip_prefix("expr:") else { continue };
        let indent = line.len() - line.trim_start().len();
        let expr = if value.trim() == "|" {
            lines[i + 1..]
                .iter()
                .take_while(|l| l.len() - l.trim_start().len() > indent)
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            value.to_string()
        };
        exprs.push((format!("rules.yml line {}", i + 1), expr));
    }
    exprs
}

#[test]
fn monitoring_names_only_metrics_the_services_export() {
    let sources = service_sources();
    let mut seen = BTreeSet::new();
    for (place, expr) in monitoring_expressions() {
        for (name, selector) in metric_uses(&expr, "ffsec_") {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| sources.contains(&format!("\"{b}\""))))
                .unwrap_or(&name)
                .to_string();
            assert!(sources.contains(&format!("\"{base}\"")), "{place}: no service exports {name}");
            // Exact label values (label="value") must be values the code sets.
            for matcher in selector.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                if let Some((label, value)) = matcher.split_once("=\"")
                    && !label.ends_with(['!', '~'])
                {
                    let value = value.trim_end_matches('"');
                    assert!(
                        sources.contains(&format!("\"{value}\"")),
                        "{place}: {name}{{{label}=\"{value}\"}} is never set by the code"
                    );
                }
            }
            seen.insert(base);
        }
        // RabbitMQ's own metrics (rabbitmq_prometheus, /metrics/detailed?family=queue_coarse_metrics).
        for (name, _) in metric_uses(&expr, "rabbitmq_") {
            assert!(
                ["rabbitmq_detailed_queue_messages", "rabbitmq_detailed_queue_messages_ready"].contains(&name.as_str()),
                "{place}: {name} is not a queue_coarse_metrics family metric"
            );
        }
    }
    for figure in [
        "ffsec_ingest_frames_total",
        "ffsec_ingest_accept_seconds",
        "ffsec_ingest_gallery_faces",
        "ffsec_recorder_events_total",
        "ffsec_webhook_attempts_total",
        "ffsec_webhook_queue_depth",
        "ffsec_websocket_clients",
        "ffsec_bus_up",
    ] {
        assert!(seen.contains(figure), "the dashboard and rules never show {figure}");
    }
    // The recorder backlog query uses the queue name the topology gives the recorder queue.
    assert!(
        sources.contains("format!(\"{}.recorder\", self.prefix)"),
        "the recorder queue is no longer <PREFIX>.recorder"
    );
}

#[test]
fn prometheus_scrapes_the_ports_the_services_listen_on() {
    let prometheus = read("deploy/prometheus/prometheus.yml");
    let defaults = Config::default();
    for (name, service) in SERVICES {
        let port = yaml_value(&prometheus, &format!("job_name: {name}"), "port:");
        assert_eq!(port, Some(defaults.server(service).port.to_string().as_str()), "scrape port of {name}");
    }
    let compose = read("docker-compose.yml");
    for mounted in [
        "./deploy/prometheus/prometheus.yml:",
        "./deploy/prometheus/rules.yml:",
        "./deploy/grafana/dashboards:",
        "./deploy/grafana/provisioning:",
    ] {
        assert!(compose.contains(mounted), "docker-compose.yml does not mount {mounted}");
    }
    assert!(prometheus.contains("/etc/prometheus/rules.yml"), "prometheus.yml loads the rules");
}

#[test]
fn the_image_matches_the_deployments() {
    let dockerfile = read("Dockerfile");
    let stages = dockerfile.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 3, "the Dockerfile must be multi-stage (recipe, builder, runtime)");
    assert!(dockerfile.contains("USER 10001:10001"), "the runtime image must run as the unprivileged uid 10001");
    let defaults = Config::default();
    let expose = dockerfile.lines().find(|l| l.starts_with("EXPOSE ")).unwrap_or_default();
    for (name, service) in SERVICES {
        let port = defaults.server(service).port.to_string();
        assert!(expose.split_whitespace().any(|p| p == port), "the image must EXPOSE {name}'s port {port}");
        assert!(dockerfile.contains(&format!("target/release/{name}")), "the image must hold {name}");
    }
    // The Kubernetes pods run as the image's user, so the media volume is writable (fsGroup).
    for (name, _) in SERVICES {
        let manifest = read(&format!("deploy/kubernetes/{name}.yaml"));
        assert!(manifest.contains("runAsUser: 10001") && manifest.contains("fsGroup: 10001"), "{name} pod user");
    }
}

/// The argument of the runtime stage's `COPY` into `destination`: `(from stage or "", source)`.
fn copy_into<'a>(dockerfile: &'a str, destination: &str) -> Option<(&'a str, &'a str)> {
    dockerfile.lines().find_map(|line| {
        let words: Vec<&str> = line.strip_prefix("COPY ")?.split_whitespace().collect();
        let (last, rest) = words.split_last()?;
        if last.trim_end_matches('/') != destination.trim_end_matches('/') {
            return None;
        }
        let from = rest.iter().find_map(|w| w.strip_prefix("--from=")).unwrap_or("");
        Some((from, *rest.last()?))
    })
}

#[test]
fn the_image_ships_the_recognizer_and_its_config_points_at_it() {
    let dockerfile = read("Dockerfile");
    // A stage of its own makes the files with the set-up step every other install uses
    // (scripts/services.sh: pinned, hash-checked wheels, the fp32 conversion).
    let stage: String = dockerfile
        .lines()
        .skip_while(|l| !(l.starts_with("FROM ") && l.ends_with(" AS face-models")))
        .take_while(|l| !l.starts_with("# ----"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!stage.is_empty(), "the Dockerfile has no face-models stage");
    for needed in
        ["COPY scripts/services.sh", "COPY scripts/recognizer", "source scripts/services.sh", "ensure_face_models"]
    {
        assert!(stage.contains(needed), "the face-models stage must run the pinned set-up step: no {needed:?}");
    }
    for file in [domain::recognizer::DETECTOR_FILE, domain::recognizer::EMBEDDER_FILE, "libonnxruntime.so"] {
        assert!(stage.contains(&format!("/{file}")), "the face-models stage must keep {file}");
    }
    // Those files land at MODEL_DIR of the config the image ships, for both services that recognise.
    let models = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY --from=face-models /out/ "))
        .map(|d| PathBuf::from(d.trim().trim_end_matches('/')))
        .next()
        .expect("the runtime image must COPY --from=face-models /out/ <MODEL_DIR>");
    let (from, image_config) = copy_into(&dockerfile, "/etc/ffsec/ffsec.toml").expect("the image ships a config");
    assert_eq!(from, "", "the image's config comes from the repository");
    // The same file docker-compose mounts; the ConfigMap is the pods' file.
    let k8s = std::env::temp_dir().join(format!("ffsec-k8s-recognizer-{}.toml", uuid::Uuid::now_v7()));
    std::fs::write(&k8s, configmap_toml()).unwrap();
    for (what, file) in [(image_config.to_string(), repo().join(image_config)), ("the ConfigMap".into(), k8s.clone())] {
        for service in [Service::Gateway, Service::Ingest] {
            let token = ("FFSEC_FFSECURITY__VIDEO_DETECTOR_TOKEN".to_string(), "t".to_string());
            let config = Config::load(Some(&file), [token], &domain::config::Overrides::default(), service)
                .unwrap_or_else(|e| panic!("{what} does not load: {e}"));
            assert_eq!(config.recognizer.model_dir(), models, "{what}: RECOGNIZER.MODEL_DIR");
            assert_eq!(config.recognizer.ort_dylib_path(), models.join("libonnxruntime.so"), "{what}: ORT_DYLIB_PATH");
        }
    }
    let _ = std::fs::remove_file(k8s);
    // Mounted volumes must not hide the files.
    for manifest in ["facerouter-ingest", "gateway-api"].map(|n| read(&format!("deploy/kubernetes/{n}.yaml"))) {
        assert!(!manifest.contains(&format!("mountPath: {}", models.display())), "a volume hides {}", models.display());
    }
}
