//! `config import-findface` through the real binaries: the seed's config.py converts, the TOML it
//! writes passes `config check` in every service, and malformed input fails naming the line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SEED_CONFIG: &str = "crates/domain/src/findface/testdata/seed_config.py";

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// Runs `<binary> <args>` with no FFSEC_* variables from our environment.
fn run(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    let mut command = Command::new(ffsec_tests::process::binary(name));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FFSEC_")) {
        command.env_remove(key);
    }
    command.args(args).output().unwrap()
}

fn temp(ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ffsec-findface-{}.{ext}", uuid::Uuid::now_v7()))
}

#[test]
fn findface_config_converts_and_passes_config_check() {
    let output_file = temp("toml");
    let output = run(
        "gateway-api",
        &[
            "config".as_ref(),
            "import-findface".as_ref(),
            repo_path(SEED_CONFIG).as_os_str(),
            "--output".as_ref(),
            output_file.as_os_str(),
        ],
    );
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "import-findface failed: {report}");
    for expected in [
        "seed_config.py:28: FFSECURITY.VIDEO_DETECTOR_TOKEN: mapped to FFSECURITY.VIDEO_DETECTOR_TOKEN",
        "seed_config.py:47: UVICORN_SETTINGS.port: mapped to SERVER.port",
        "seed_config.py:67: INSTALLED_APPS.append(ffsecurity_genetec): ignored",
    ] {
        assert!(report.contains(expected), "the report lacks {expected:?}:\n{report}");
    }
    for name in ["gateway-api", "facerouter-ingest", "webhook-dispatcher"] {
        let check = run(name, &["--config".as_ref(), output_file.as_os_str(), "config".as_ref(), "check".as_ref()]);
        assert!(check.status.success(), "{name} config check: {}", String::from_utf8_lossy(&check.stderr));
    }
    let written = std::fs::read_to_string(&output_file).unwrap();
    assert!(written.contains("VIDEO_DETECTOR_TOKEN = \"381b0f4a20495227d04185ab02f5085f\""), "{written}");
    let _ = std::fs::remove_file(output_file);
}

#[test]
fn findface_import_reports_syntax_errors_and_unknown_keys_with_lines() {
    let input = temp("py");
    std::fs::write(
        &input,
        "DEBUG = False\nFFSECURITY = {\n    'EVENTS_MAX_AGE': 30\n    'IGNORE_UNMATCHED': True,\n}\n",
    )
    .unwrap();
    let output = run("gateway-api", &["config".as_ref(), "import-findface".as_ref(), input.as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}:4: expected \"}}\" or \",\"", input.display())), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing is written on a syntax error");

    std::fs::write(&input, "DEBUG = False\nFFSECURITY = {'EVENTS_MAX_AGE': 30, 'COLOUR': 'red'}\nZ = 1\n").unwrap();
    let output = run("gateway-api", &["config".as_ref(), "import-findface".as_ref(), input.as_os_str()]);
    assert_eq!(output.status.code(), Some(2), "not understood settings exit with 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(":2: FFSECURITY.COLOUR: NOT UNDERSTOOD"), "{stderr}");
    assert!(stderr.contains(":3: Z: NOT UNDERSTOOD"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("EVENTS_MAX_AGE = 30"), "the understood settings are still written: {stdout}");
    let _ = std::fs::remove_file(input);
}
