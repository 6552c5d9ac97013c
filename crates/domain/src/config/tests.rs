use std::io::Write;

use super::*;

fn file(text: &str) -> tempfile_path::TempFile {
    tempfile_path::TempFile::with(text)
}

/// A config file in the temp dir, removed on drop.
mod tempfile_path {
    use super::Write;

    pub struct TempFile(pub std::path::PathBuf);

    impl TempFile {
        pub fn with(text: &str) -> Self {
            let path = std::env::temp_dir().join(format!("ffsec-config-{}.toml", uuid::Uuid::now_v7()));
            std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let f = file(text);
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load(Some(&f.0), env, &Overrides::default(), Service::Gateway)
}

#[test]
fn keys_in_any_order_and_defaults_for_the_rest() {
    let config =
        load("[FFSECURITY]\nBEARD_THRESHOLD = 0.5\nIGNORE_UNMATCHED = true\nEVENTS_FEATURES = ['gender']\n", &[])
            .unwrap();
    assert!(config.ffsecurity.ignore_unmatched);
    assert_eq!(config.ffsecurity.beard_threshold, 0.5);
    assert_eq!(config.ffsecurity.confidence_threshold, 0.739);
    assert_eq!(config.server.port, 8002);
}

#[test]
fn unknown_key_names_the_key_and_the_file() {
    let f = file("[FFSECURITY]\nCONFIDENCE_TRESHOLD = 0.5\n");
    let err = Config::load(Some(&f.0), std::iter::empty(), &Overrides::default(), Service::Gateway).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("CONFIDENCE_TRESHOLD"), "{text}");
    assert!(text.contains(&f.0.display().to_string()), "{text}");
}

#[test]
fn bad_value_names_the_key() {
    let err = load("[FFSECURITY]\nCONFIDENCE_THRESHOLD = 'high'\n", &[]).unwrap_err().to_string();
    assert!(err.contains("FFSECURITY.CONFIDENCE_THRESHOLD"), "{err}");
    let err = load("[FFSECURITY]\nCONFIDENCE_THRESHOLD = 1.5\n", &[]).unwrap_err().to_string();
    assert!(err.contains("FFSECURITY.CONFIDENCE_THRESHOLD"), "{err}");
}

#[test]
fn environment_overrides_by_type() {
    let config = load(
        "",
        &[
            ("FFSEC_FFSECURITY__VIDEO_DETECTOR_TOKEN", "12345"),
            ("FFSEC_FFSECURITY__IGNORE_UNMATCHED", "yes"),
            ("FFSEC_WEBHOOKS__RETRY_DELAYS_MS", "100,200"),
            ("FFSEC_INGEST__HOST", "0.0.0.0"),
            ("FFSEC_DATABASES__DEFAULT__NAME", "other"),
        ],
    )
    .unwrap();
    assert_eq!(config.ffsecurity.video_detector_token, "12345");
    assert!(config.ffsecurity.ignore_unmatched);
    assert_eq!(config.webhooks.retry_delays_ms, vec![100, 200]);
    // A partial section keeps the rest of its own defaults.
    assert_eq!((config.ingest.host.as_str(), config.ingest.port), ("0.0.0.0", 18300));
    assert_eq!(config.databases.default.name, "other");
}

#[test]
fn unknown_or_bad_environment_variable_is_an_error() {
    let err = load("", &[("FFSEC_FFSECURITY__NOPE", "1")]).unwrap_err().to_string();
    assert!(err.contains("FFSEC_FFSECURITY__NOPE"), "{err}");
    let err = load("", &[("FFSEC_FFSECURITY__IGNORE_UNMATCHED", "maybe")]).unwrap_err().to_string();
    assert!(err.contains("FFSECURITY.IGNORE_UNMATCHED"), "{err}");
}

#[test]
fn ingest_needs_a_worker_token() {
    let f = file("");
    let err = Config::load(Some(&f.0), std::iter::empty(), &Overrides::default(), Service::Ingest).unwrap_err();
    assert!(err.to_string().contains("VIDEO_DETECTOR_TOKEN"));
}

#[test]
fn database_url_escapes_credentials() {
    let mut config = Config::default();
    config.databases.default.password = "p@ss:/w".into();
    assert_eq!(config.database_url(), "postgres://postgres:p%40ss%3A%2Fw@127.0.0.1:5432/ffsec");
}

#[test]
fn a_listed_integration_must_be_configured() {
    let err = load("INTEGRATIONS = ['video_manager']\n", &[]).unwrap_err().to_string();
    assert!(err.contains("FFSECURITY.VIDEO_MANAGER_ADDRESS") && err.contains("video_manager"), "{err}");
    let err = load("INTEGRATIONS = ['video_manager']\n[FFSECURITY]\nVIDEO_MANAGER_ADDRESS = 'vm:18810'\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("FFSECURITY.ROUTER_URL"), "{err}");
    let err = load("INTEGRATIONS = ['nonesuch']\n", &[]).unwrap_err().to_string();
    assert!(err.contains("INTEGRATIONS"), "{err}");
    let ok = "INTEGRATIONS = ['video_manager']\n[FFSECURITY]\nVIDEO_MANAGER_ADDRESS = 'vm:18810'\n\
              ROUTER_URL = '10.0.0.2:18300'\nVIDEO_DETECTOR_TOKEN = 't'\n";
    assert!(load(ok, &[]).unwrap().integration_on(Integration::VideoManager));
    // Not listed: its keys may stay empty, and nothing is switched on.
    assert!(!load("", &[]).unwrap().integration_on(Integration::VideoManager));
}

#[test]
fn genetec_needs_its_user_and_alarm() {
    let err = load("INTEGRATIONS = ['genetec']\n", &[]).unwrap_err().to_string();
    assert!(err.contains("GENETEC.USERNAME"), "{err}");
    let err = load("INTEGRATIONS = ['genetec']\n[GENETEC]\nUSERNAME = 'u'\n", &[]).unwrap_err().to_string();
    assert!(err.contains("GENETEC.ALARM"), "{err}");
    let config = load("INTEGRATIONS = ['genetec']\n[GENETEC]\nUSERNAME = 'u'\nALARM = 3\n", &[]).unwrap();
    assert!(config.integration_on(Integration::Genetec) && !config.integration_on(Integration::VideoManager));
}

#[test]
fn the_recorder_cannot_be_set_to_hold_millions_of_events() {
    assert!(load("[RABBITMQ]\nRECORDER_PREFETCH = 4096\n[FACEROUTER]\nPUBLISH_BATCH = 64\n", &[]).is_ok());
    let err = load("[RABBITMQ]\nRECORDER_PREFETCH = 1024\n[FACEROUTER]\nPUBLISH_BATCH = 1000\n", &[]).unwrap_err();
    assert!(err.to_string().contains("RABBITMQ.RECORDER_PREFETCH"), "{err}");
}

#[test]
fn packs_take_images_a_pack_range_can_name() {
    let packs = "[FACEROUTER]\nMEDIA_LAYOUT = 'packs'\n";
    assert!(load(packs, &[]).is_ok());
    let err = load(&format!("{packs}MAX_IMAGE_BYTES = 100000000\n"), &[]).unwrap_err();
    assert!(err.to_string().contains("FACEROUTER.MAX_IMAGE_BYTES"), "{err}");
    assert!(load("[FACEROUTER]\nMAX_IMAGE_BYTES = 100000000\n", &[]).is_ok(), "files take any size");
}
