//! `authgate`: the binary. Parses the command line and hands over; the server's parts
//! are modules of the `authgate_server` library (see the README's architecture section).

use authgate_server::{bootstrap, clock, config, http, password, polls, secrets, store, tokens};

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use authgate_server::state::{AppState, Settings, Throttles};
use config::{Cli, ClientAddArgs, ClientCommand, Command, DataDirArg, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(ServeArgs::default()),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Client(ClientCommand::Add(args))) => client_add(args),
        Some(Command::Client(ClientCommand::List(args))) => client_list(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    init_logs(&args.log_format);
    if let Some(url) = &args.base_url {
        config::validate_base_url(url).map_err(|e| format!("--base-url: {e}"))?;
    }
    let store = bootstrap::open_store(&args.data_dir, |b| {
        tracing::trace!(size = b.size, micros = b.commit_micros, "group commit");
    })
    .map_err(|e| e.to_string())?;
    let keys = tokens::KeyRing::load_or_create(&args.data_dir).map_err(|e| e.to_string())?;
    let first = bootstrap::first_run(&store, clock::now()).map_err(|e| e.to_string())?;
    let csrf_key: [u8; 32] = store
        .meta_secret_blocking("csrf_key", secrets::random_bytes::<32>().to_vec())
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "corrupt csrf_key in the database".to_string())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        let base_url = match &args.base_url {
            Some(url) => config::validate_base_url(url)?,
            None => config::default_base_url(bound),
        };
        if let Some(first) = first {
            print_first_run(&first, &base_url);
        }
        let settings = Settings {
            audience: base_url.clone(),
            secure_cookies: base_url.starts_with("https://"),
            base_url,
            device_code_ttl: args.device_code_ttl.as_secs(),
            poll_interval: args.poll_interval,
            access_ttl: args.access_token_ttl.as_secs(),
            refresh_ttl: args.refresh_token_ttl.as_secs(),
            session_ttl: args.session_ttl.as_secs(),
        };
        let state = Arc::new(AppState {
            store,
            keys,
            settings,
            polls: polls::PollTracker::default(),
            csrf_key,
            passwords: password::Passwords::new(2),
            throttles: Throttles::default(),
        });
        tokio::spawn(sweeper(state.clone()));
        tracing::info!(base_url = %state.settings.base_url, kid = state.keys.signing_kid(), "serving");
        println!("listening on http://{bound}");
        http::serve::run(listener, state).await;
        Ok::<(), String>(())
    })
}

fn print_first_run(first: &bootstrap::FirstRun, base_url: &str) {
    println!(
        "AuthGate first run: created user `admin` and public client `{}`.",
        bootstrap::CLI_CLIENT_ID
    );
    match &first.admin_password {
        Some(p) => println!("  admin password (shown once): {p}"),
        None => println!("  admin password: taken from AUTHGATE_ADMIN_PASSWORD"),
    }
    println!(
        "  try it: curl -d client_id={} {base_url}/oauth/device/code",
        bootstrap::CLI_CLIENT_ID
    );
}

/// Removes expired records every minute, and forgets idle poll state.
async fn sweeper(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match state.store.sweep(clock::now()).await {
            Ok(stats) => tracing::debug!(?stats, "swept"),
            Err(e) => tracing::warn!("sweep failed: {e}"),
        }
        let idle = Duration::from_secs(state.settings.device_code_ttl + 60);
        state.polls.prune(Instant::now(), idle);
    }
}

fn client_add(args: ClientAddArgs) -> Result<(), String> {
    let store = bootstrap::open_store(&args.data.data_dir, |_| {}).map_err(|e| e.to_string())?;
    let secret = args.confidential.then(secrets::random_token);
    let grant_types = match &args.grant_types {
        Some(g) => g.split_whitespace().map(str::to_string).collect(),
        None if args.confidential => vec![],
        None => vec!["device_code".into(), "refresh_token".into()],
    };
    for g in &grant_types {
        if g != "device_code" && g != "refresh_token" {
            return Err(format!(
                "unknown grant type `{g}` (use device_code, refresh_token)"
            ));
        }
    }
    let client = store::Client {
        id: args.id.clone(),
        name: args.name.unwrap_or_else(|| args.id.clone()),
        secret_hash: secret.as_ref().map(|s| secrets::sha256(s.as_bytes())),
        scopes: args.scopes.split_whitespace().map(str::to_string).collect(),
        grant_types,
        disabled: false,
        access_ttl: None,
        refresh_ttl: None,
        created_at: clock::now(),
    };
    if !store
        .add_client_blocking(client)
        .map_err(|e| e.to_string())?
    {
        return Err(format!("a client `{}` already exists", args.id));
    }
    println!("client_id: {}", args.id);
    if let Some(s) = secret {
        println!("client_secret: {s}");
    }
    Ok(())
}

fn client_list(args: DataDirArg) -> Result<(), String> {
    let store = bootstrap::open_store(&args.data_dir, |_| {}).map_err(|e| e.to_string())?;
    for c in store.clients().map_err(|e| e.to_string())? {
        let kind = if c.secret_hash.is_some() {
            "confidential"
        } else {
            "public"
        };
        println!("{}\t{}\t{}\t{}", c.id, kind, c.scopes.join(" "), c.name);
    }
    Ok(())
}
