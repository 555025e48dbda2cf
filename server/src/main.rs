//! `authgate`: the binary. Parses the command line and hands over; the server's parts
//! are modules of the `authgate_server` library (see the README's architecture section).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use authgate_server::config::{self, Cli, Command, ServeArgs};
use authgate_server::{admin, run};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let file = cli.config.as_deref();
    let sub = matches.subcommand().map(|(_, m)| m);
    // Flags, then AUTHGATE_* variables, then the --config file, then defaults.
    let with_file = |mut args: ServeArgs| {
        config::apply_file(&mut args, sub, file).map(|sources| (args, sources))
    };
    let result = match cli.command {
        None => with_file(ServeArgs::default()).and_then(|(a, _)| run::serve(a)),
        Some(Command::Serve(args)) => with_file(args).and_then(|(a, _)| run::serve(a)),
        Some(Command::Config(args)) => with_file(args).and_then(|(a, s)| run::print_config(&a, &s)),
        Some(Command::User(c)) => admin::user(c, file),
        Some(Command::Client(c)) => admin::client(c, file),
        Some(Command::Key(c)) => admin::key(c, file),
        Some(Command::Token(c)) => admin::token(c, file),
        Some(Command::Audit(a)) => admin::audit(a, file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authgate: {e}");
            ExitCode::FAILURE
        }
    }
}
