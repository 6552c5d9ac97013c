use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::cli::{ConfigArgs, ConfigCommand, serve};
use domain::config::Service;

/// webhook-dispatcher: signed webhook delivery with durable retries.
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
    /// Serve (the default).
    Serve,
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config, Service::Dispatcher, webhook_dispatcher::run),
        Command::Config(command) => cli.config.run(&command, Service::Dispatcher),
    }
}
