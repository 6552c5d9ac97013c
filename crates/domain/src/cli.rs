//! Command-line pieces every service binary shares: the config flags and `config check`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{CONFIG_PATH_ENV, Config, ConfigError, LogFormat, Overrides, Service};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// The TOML config file (also FFSEC_CONFIG); without one, built-in defaults and FFSEC_* apply.
    #[arg(long, short = 'c', env = CONFIG_PATH_ENV, global = true)]
    pub config: Option<PathBuf>,
    /// Listen address of this service.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Listen port of this service.
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// PostgreSQL database name (DATABASES.default.NAME).
    #[arg(long, global = true)]
    pub database_name: Option<String>,
    /// RABBITMQ.URL
    #[arg(long, global = true)]
    pub rabbitmq_url: Option<String>,
    /// RABBITMQ.PREFIX: every exchange and queue name starts with it.
    #[arg(long, global = true)]
    pub bus_prefix: Option<String>,
    /// MEDIA_ROOT
    #[arg(long, global = true)]
    pub media_root: Option<PathBuf>,
    /// LOGGING.FORMAT: human or json.
    #[arg(long, global = true, value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ConfigCommand {
    /// Validate the config (file, environment and flags) and exit non-zero on error.
    Check,
    /// Print the configuration reference (markdown; docs/configuration.md is this output).
    Reference,
    /// Convert a findface-security config.py into ffsec TOML and report what became of each
    /// setting. Exit status: 0 all mapped or ignored, 2 some settings not understood (the TOML is
    /// still written), 1 a syntax error or a result that does not pass `config check`.
    ImportFindface {
        /// The findface-security settings file, e.g. /etc/ffsecurity/config.py.
        input: PathBuf,
        /// Where to write the TOML (default: standard output). The report goes to standard error.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw {
        "human" => Ok(LogFormat::Human),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("unknown log format {other:?} (human or json)")),
    }
}

impl ConfigArgs {
    pub fn load(&self, service: Service) -> Result<Config, ConfigError> {
        let overrides = Overrides {
            host: self.host.clone(),
            port: self.port,
            database_url_name: self.database_name.clone(),
            rabbitmq_url: self.rabbitmq_url.clone(),
            bus_prefix: self.bus_prefix.clone(),
            media_root: self.media_root.clone(),
            log_format: self.log_format,
        };
        Config::load(self.config.as_deref(), std::env::vars(), &overrides, service)
    }

    /// `<service> config <command>`.
    pub fn run(&self, command: &ConfigCommand, service: Service) -> ExitCode {
        match command {
            ConfigCommand::Check => self.check(service),
            ConfigCommand::Reference => match crate::config::reference::render() {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            },
            ConfigCommand::ImportFindface { input, output } => import_findface(input, output.as_deref(), service),
        }
    }

    /// `<service> config check`.
    pub fn check(&self, service: Service) -> ExitCode {
        match self.load(service) {
            Ok(_) => {
                let source = self.config.as_ref().map_or("built-in defaults".into(), |p| p.display().to_string());
                println!("config OK: {source}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("config error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Binds the service's configured address.
pub fn bind(config: &Config, service: Service) -> std::io::Result<TcpListener> {
    let server = config.server(service);
    TcpListener::bind((server.host.as_str(), server.port))
}

/// The usual `main`: load the config, set up logging, bind, build a multi-thread runtime and run
/// the service until SIGTERM / ctrl-c.
pub fn serve<F, Fut>(args: &ConfigArgs, service: Service, run: F) -> ExitCode
where
    F: FnOnce(TcpListener, Config, tokio_util::sync::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = match args.load(service) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("config error: {e}");
            return ExitCode::FAILURE;
        }
    };
    crate::telemetry::init(&config.logging);
    if !config.ffsecurity.ntls_http_url.trim().is_empty() {
        // ffsec is open source and asks no licence server; the key stays valid so a FindFace
        // settings block loads unchanged.
        tracing::warn!("FFSECURITY.NTLS_HTTP_URL is set but ignored: ffsec needs no licence server");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = bind(&config, service)?;
        run(listener, config, crate::shutdown::on_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "service stopped with an error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `<service> config import-findface FILE [-o OUT]`.
fn import_findface(input: &std::path::Path, output: Option<&std::path::Path>, service: Service) -> ExitCode {
    let file = input.display().to_string();
    let source = match std::fs::read_to_string(input) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: cannot read {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let conversion = match crate::findface::convert(&source) {
        Ok(conversion) => conversion,
        Err(e) => {
            eprintln!("error: {file}:{}: {}", e.line, e.message);
            return ExitCode::FAILURE;
        }
    };
    for line in conversion.report_lines(&file) {
        eprintln!("{line}");
    }
    if let Err(e) = conversion.check(&file, service) {
        eprintln!("error: the converted settings do not pass `config check`: {e}");
        return ExitCode::FAILURE;
    }
    let text = match conversion.render(&file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot write TOML: {e}");
            return ExitCode::FAILURE;
        }
    };
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    if conversion.complete() {
        ExitCode::SUCCESS
    } else {
        eprintln!("some settings were not understood (NOT UNDERSTOOD above): set them by hand");
        ExitCode::from(2)
    }
}
