//! `authgate`: the binary. Parses the command line and hands over; the server's parts
//! are modules of the `authgate_server` library (see the README's architecture section).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use authgate_server::{AdminCommand, ServeArgs, apply_file, print_config, serve};

/// What `authgate --version` prints after the name: the release, the commit and
/// the build date (stamped by `build.rs`), so a bug report names the exact build.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AUTHGATE_GIT_COMMIT"),
    ", built ",
    env!("AUTHGATE_BUILD_DATE"),
    ")"
);

/// AuthGate: an OAuth 2.0 Device Authorization Grant (RFC 8628) server.
///
/// With no subcommand, `authgate` serves on its defaults.
#[derive(Parser, Debug)]
#[command(name = "authgate", version = VERSION, about, long_about = None)]
struct Cli {
    /// TOML configuration file; flags and `AUTHGATE_*` variables override it.
    #[arg(long, global = true, env = "AUTHGATE_CONFIG")]
    config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print the effective configuration (flags, environment, `--config` file and
    /// defaults merged; secrets redacted) and check it, without starting.
    Config(ServeArgs),
    /// `user`, `client`, `key`, `token`, `audit`.
    #[command(flatten)]
    Admin(AdminCommand),
}

/// Any failure of a subcommand: printed after `authgate: `, exit status 1.
type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let file = cli.config.as_deref();
    let sub = matches.subcommand().map(|(_, m)| m);
    // Flags, then AUTHGATE_* variables, then the --config file, then defaults.
    let with_file =
        |mut args: ServeArgs| apply_file(&mut args, sub, file).map(|sources| (args, sources));
    let run = |args: ServeArgs| -> Result<(), Failure> {
        let (args, _) = with_file(args)?;
        Ok(serve(args)?)
    };
    let result: Result<(), Failure> = match cli.command {
        None => run(ServeArgs::default()),
        Some(Command::Serve(args)) => run(args),
        Some(Command::Config(args)) => with_file(args)
            .and_then(|(a, s)| print_config(&a, &s))
            .map_err(Into::into),
        Some(Command::Admin(c)) => c.run(file).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authgate: {e}");
            ExitCode::FAILURE
        }
    }
}
