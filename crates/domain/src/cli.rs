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
