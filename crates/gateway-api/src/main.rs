use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::cli::{ConfigArgs, ConfigCommand, serve};
use domain::config::Service;

/// gateway-api: REST and WebSocket API, recorder, media.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin user, or reset its password if it exists.
    CreateAdmin {
        #[arg(long)]
        username: String,
        /// The password; read from the ADMIN_PASSWORD environment variable when omitted, so it
        /// need not appear in the process list.
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Delete events older than --age days (matched and unmatched alike), with their images.
    #[command(name = "cleanup_events")]
    CleanupEvents {
        #[arg(long)]
        age: u32,
    },
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI document (the one served at /api/openapi.json) and exit.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config, Service::Gateway, gateway_api::run),
        Command::Config(command) => cli.config.run(&command, Service::Gateway),
        Command::Openapi => match serde_json::to_string_pretty(&gateway_api::openapi::document()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot render the OpenAPI document: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Migrate => one_shot(&cli.config, |config| async move {
            let pool = domain::db::pool(&config)?;
            let applied = domain::db::run_migrations(&pool).await?;
            println!("{applied} migrations applied");
            Ok(())
        }),
        Command::CleanupEvents { age } => one_shot(&cli.config, |config| async move {
            let pool = domain::db::pool(&config)?;
            let media = domain::media::from_config(&config)?;
            let purged =
                gateway_api::retention::purge(&pool, media.as_ref(), (age, age), config.retention.batch).await?;
            println!("{} events and {} image files deleted", purged.events, purged.files);
            Ok(())
        }),
        Command::CreateAdmin { username, password } => one_shot(&cli.config, |config| async move {
            let pool = domain::db::pool(&config)?;
            domain::db::run_migrations(&pool).await?;
            gateway_api::admin::create_or_reset(&pool, &username, &password).await?;
            println!("admin user {username} ready");
            Ok(())
        }),
    }
}

fn one_shot<F, Fut>(args: &ConfigArgs, job: F) -> ExitCode
where
    F: FnOnce(domain::Config) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = match args.load(Service::Gateway) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("config error: {e}");
            return ExitCode::FAILURE;
        }
    };
    domain::telemetry::init(&config.logging);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(job(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
