//! The admin commands (`authgate user|client|key|token|audit`).
//!
//! Every command works whether the server runs or not: it first tries the running
//! server's admin socket ([`socket`]), and when no server answers it opens the
//! database itself (redb allows one process per file, see `../shared/limits.md`).
//! Either way the same [`exec::execute`] runs and answers with data
//! ([`exec::AdminReply`]) that [`render`] turns into the printed text, so both paths
//! behave identically. Nothing prompts: passwords come from `--password-stdin` or
//! are generated.

pub mod cli;
mod dump;
mod error;
pub mod exec;
pub mod render;
pub mod rules;
pub mod socket;

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use cli::AdminCommand;
use cli::{AuditArgs, ClientCommand, DataDirArg, KeyCommand, TokenCommand, UserCommand};
pub use error::AdminError;
use exec::{Ctx, Request, UserAction};
use render::AuditFormat;

use crate::config::DatabaseUrl;
use crate::secrets::{random_token, sha256};
use crate::store::{Client, ClientChange, ClientPatch};

impl AdminCommand {
    /// Runs the command; `config` is the `--config` file (for `data_dir`).
    pub fn run(self, config: Option<&Path>) -> Result<(), AdminError> {
        match self {
            AdminCommand::User(c) => user(c, config),
            AdminCommand::Client(c) => client(c, config),
            AdminCommand::Key(c) => key(c, config),
            AdminCommand::Token(c) => token(c, config),
            AdminCommand::Audit(a) => audit(a, config),
            AdminCommand::Export(a) => dump::export(a, config),
            AdminCommand::Import(a) => dump::import(a, config),
        }
    }
}

/// Where a command acts: the data directory, and PostgreSQL when a database URL
/// is configured (then the database is the truth and the directory only holds
/// what is still local, such as key files).
struct Target {
    dir: PathBuf,
    database_url: Option<DatabaseUrl>,
}

/// Resolves `--data-dir` and `--database-url` (flag, env, config file, default).
fn data_dir(arg: &DataDirArg, config: Option<&Path>) -> Result<Target, AdminError> {
    Ok(Target {
        dir: crate::config::resolve_data_dir(arg.data_dir.clone(), config)?,
        database_url: crate::config::resolve_database_url(arg.database_url.clone(), config)?,
    })
}

/// Runs `authgate user …`.
fn user(cmd: UserCommand, config: Option<&Path>) -> Result<(), AdminError> {
    match cmd {
        UserCommand::Add(add) => {
            let a = add.user;
            let dir = data_dir(&a.data, config)?;
            let (password, generated) = password(a.password_stdin)?;
            let password_hash = hash(&password)?;
            send(
                &dir,
                Request::UserAdd {
                    username: a.username,
                    password_hash,
                    admin: add.admin,
                },
                true,
            )?;
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::List(d) => send(&data_dir(&d, config)?, Request::UserList, false),
        UserCommand::Passwd(a) => {
            let dir = data_dir(&a.data, config)?;
            let (password, generated) = password(a.password_stdin)?;
            let password_hash = hash(&password)?;
            send(
                &dir,
                Request::UserPasswd {
                    username: a.username,
                    password_hash,
                },
                false,
            )?;
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::Admin(a) => send(
            &data_dir(&a.data, config)?,
            Request::UserRole {
                username: a.username,
                admin: !a.revoke,
            },
            false,
        ),
        UserCommand::Disable(n) => user_change(n, config, UserAction::Disable),
        UserCommand::Enable(n) => user_change(n, config, UserAction::Enable),
        UserCommand::Delete(n) => user_change(n, config, UserAction::Delete),
    }
}

fn user_change(
    n: cli::NameArg,
    config: Option<&Path>,
    action: UserAction,
) -> Result<(), AdminError> {
    send(
        &data_dir(&n.data, config)?,
        Request::UserChange {
            username: n.name,
            action,
        },
        false,
    )
}

/// Runs `authgate client …`.
fn client(cmd: ClientCommand, config: Option<&Path>) -> Result<(), AdminError> {
    let change = |n: cli::NameArg, change: ClientChange| -> Result<(), AdminError> {
        send(
            &data_dir(&n.data, config)?,
            Request::ClientChange { id: n.name, change },
            false,
        )
    };
    match cmd {
        ClientCommand::Add(a) => {
            let a = *a;
            let dir = data_dir(&a.data, config)?;
            let secret = a.confidential.then(random_token);
            let mut grant_types = words(a.grant_types.as_deref(), &a.grant_type);
            if grant_types.is_empty() && a.grant_types.is_none() && !a.confidential {
                grant_types = vec!["device_code".into(), "refresh_token".into()];
            }
            let s = &a.settings;
            let client = Client {
                secret_hash: secret.as_ref().map(|s| sha256(s.as_bytes())),
                access_ttl: a.access_token_ttl.map(|d| d.as_secs()),
                refresh_ttl: a.refresh_token_ttl.map(|d| d.as_secs()),
                created_at: crate::clock::now(),
                audiences: audiences(&a.audience, a.audiences.as_deref())?,
                dpop: a.dpop.into(),
                redirect_uris: words(None, &s.redirect_uri),
                access_token_format: s.access_token_format.map(Into::into).unwrap_or_default(),
                device_code_ttl: s.device_code_ttl.and_then(cli::Override::secs),
                poll_interval: s.poll_interval.and_then(cli::Override::secs),
                user_code_format: s.user_code_format.map(Into::into).unwrap_or_default(),
                ..Client::new(
                    a.id.clone(),
                    a.name.unwrap_or_else(|| a.id.clone()),
                    words(Some(&a.scopes), &[]),
                    grant_types,
                )
            };
            send(&dir, Request::ClientAdd { client }, true)?;
            if let Some(s) = secret {
                println!("client_secret: {s}");
            }
            Ok(())
        }
        ClientCommand::Update(u) => {
            let dir = data_dir(&u.data, config)?;
            let patch = patch_of(&u);
            send(&dir, Request::ClientUpdate { id: u.id, patch }, false)
        }
        ClientCommand::List(d) => send(&data_dir(&d, config)?, Request::ClientList, false),
        ClientCommand::Show(n) => send(
            &data_dir(&n.data, config)?,
            Request::ClientShow { id: n.name },
            false,
        ),
        ClientCommand::Disable(n) => change(n, ClientChange::Disable),
        ClientCommand::Enable(n) => change(n, ClientChange::Enable),
        ClientCommand::Delete(n) => change(n, ClientChange::Delete),
        ClientCommand::RotateSecret(n) => {
            let secret = random_token();
            change(n, ClientChange::SetSecret(sha256(secret.as_bytes())))?;
            println!("client_secret: {secret}");
            Ok(())
        }
    }
}

/// The words of `listed` then every `repeated` value, without duplicates, in order.
fn words(listed: Option<&str>, repeated: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in listed
        .unwrap_or_default()
        .split_whitespace()
        .chain(repeated.iter().map(String::as_str))
    {
        if !out.iter().any(|x| x == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// The settings `client update` names, as a patch the store applies atomically.
fn patch_of(u: &cli::ClientUpdateArgs) -> ClientPatch {
    let s = &u.settings;
    let listed = |v: &[String]| (!v.is_empty()).then(|| words(None, v));
    ClientPatch {
        name: u.name.clone(),
        scopes: u.scope.as_deref().map(|s| words(Some(s), &[])),
        grant_types: listed(&u.grant_type),
        redirect_uris: if u.no_redirect_uris {
            Some(Vec::new())
        } else {
            listed(&s.redirect_uri)
        },
        dpop: u.dpop.map(Into::into),
        access_token_format: s.access_token_format.map(Into::into),
        device_code_ttl: s.device_code_ttl.map(cli::Override::secs),
        poll_interval: s.poll_interval.map(cli::Override::secs),
        user_code_format: s.user_code_format.map(Into::into),
        access_ttl: None,
        refresh_ttl: None,
    }
}

/// Longest audience value accepted (a resource server URI).
pub(crate) const MAX_AUDIENCE_LEN: usize = 256;

/// The audiences of `client add`: every `--audience`, then the words of
/// `--audiences`, without duplicates; each must be a printable value without
/// spaces, as it goes into tokens and introspection answers verbatim.
fn audiences(repeated: &[String], listed: Option<&str>) -> Result<Vec<String>, AdminError> {
    let mut out: Vec<String> = Vec::new();
    for a in repeated
        .iter()
        .map(String::as_str)
        .chain(listed.unwrap_or_default().split_whitespace())
    {
        if a.is_empty()
            || a.len() > MAX_AUDIENCE_LEN
            || a.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AdminError::Audience(a.to_string()));
        }
        if !out.iter().any(|x| x == a) {
            out.push(a.to_string());
        }
    }
    Ok(out)
}

/// Runs `authgate key …`.
fn key(cmd: KeyCommand, config: Option<&Path>) -> Result<(), AdminError> {
    match cmd {
        KeyCommand::Rotate(d) => send(&data_dir(&d, config)?, Request::KeyRotate, true),
        KeyCommand::List(d) => send(&data_dir(&d, config)?, Request::KeyList, false),
    }
}

/// The published key ring `token verify` checks against; never creates a key.
fn published_keys(target: &Target) -> Result<crate::tokens::KeyRing, AdminError> {
    let dir = target.dir.as_path();
    let Some(url) = &target.database_url else {
        if crate::keys::key_files(dir).map_or(true, |f| f.is_empty()) {
            return Err(AdminError::NoKeys(dir.join("keys").display().to_string()));
        }
        return Ok(crate::tokens::KeyRing::load_or_create(dir)?);
    };
    runtime()?.block_on(async {
        let store = crate::bootstrap::open_backend(dir, Some(url), 2, |_| {}).await?;
        let source = crate::keys::KeySource::of(&store, dir);
        if source.list().await?.is_empty() {
            return Err(AdminError::NoKeys(
                "the database's signing_keys table".into(),
            ));
        }
        Ok(source.load().await?)
    })
}

/// Runs `authgate audit`.
fn audit(a: AuditArgs, config: Option<&Path>) -> Result<(), AdminError> {
    let now = crate::clock::now();
    let since = match a.since.as_deref().map(str::trim) {
        None => 0,
        Some(s) => match s.parse::<u64>() {
            Ok(t) if t >= 1_000_000_000 => t,
            _ => now.saturating_sub(
                crate::config::parse_duration(s)
                    .map_err(|e| AdminError::Since(s.to_string(), e))?
                    .as_secs(),
            ),
        },
    };
    let format = if a.json {
        AuditFormat::JsonLines
    } else {
        AuditFormat::Text
    };
    send_as(
        &data_dir(&a.data, config)?,
        Request::Audit {
            since,
            limit: a.limit,
        },
        false,
        format,
    )
}

/// Runs `authgate token verify`: signature, `nbf`, `exp`, against the published
/// keys (the data directory's files, or with a database URL the shared table).
fn token(cmd: TokenCommand, config: Option<&Path>) -> Result<(), AdminError> {
    let TokenCommand::Verify(a) = cmd;
    let target = data_dir(&a.data, config)?;
    let token = if a.token == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| AdminError::Stdin("token", e))?;
        s.trim().to_string()
    } else {
        a.token.trim().to_string()
    };
    let ring = published_keys(&target)?;
    let claims = ring.verify(&token).ok_or(AdminError::TokenNotOurs)?;
    let now = crate::clock::now();
    let json = serde_json::json!({
        "iss": claims.iss, "sub": claims.sub, "aud": crate::tokens::AudClaim::of(&claims.aud),
        "exp": claims.exp, "iat": claims.iat, "nbf": claims.nbf,
        "jti": claims.jti, "client_id": claims.client_id, "scope": claims.scope,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    );
    if claims.exp <= now {
        return Err(AdminError::TokenExpired(render::time_str(claims.exp)));
    }
    if claims.nbf > now + 60 {
        return Err(AdminError::TokenNotYet(render::time_str(claims.nbf)));
    }
    println!(
        "valid: signature ok, expires {}",
        render::time_str(claims.exp)
    );
    Ok(())
}

/// The password for `user add|passwd`: stdin's first line, or a generated one.
fn password(from_stdin: bool) -> Result<(String, bool), AdminError> {
    if !from_stdin {
        return Ok((random_token()[..20].to_string(), true));
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| AdminError::Stdin("password", e))?;
    let line = s.lines().next().unwrap_or("").to_string();
    if line.chars().count() < 8 {
        return Err(AdminError::ShortPassword);
    }
    Ok((line, false))
}

fn hash(password: &str) -> Result<String, AdminError> {
    Ok(crate::password::hash_blocking(password)?)
}

/// Sends `req` to the running server, or runs it on the database directly when no
/// server runs, and prints the answer. `creates`: whether the command may create a
/// missing data directory.
fn send(target: &Target, req: Request, creates: bool) -> Result<(), AdminError> {
    send_as(target, req, creates, AuditFormat::Text)
}

/// With a database URL the command runs on PostgreSQL itself (many instances
/// share it, so there is no one server to ask); otherwise through the running
/// server's socket, or on the redb file when no server runs.
fn send_as(
    target: &Target,
    req: Request,
    creates: bool,
    format: AuditFormat,
) -> Result<(), AdminError> {
    let dir = target.dir.as_path();
    let answer = match &target.database_url {
        Some(url) => on_postgres(dir, url, req)?,
        None => match socket::call(dir, &req)? {
            Some(answer) => answer,
            None => offline(dir, req, creates)?,
        },
    };
    print!("{}", render::render(&answer?, format));
    Ok(())
}

fn offline(dir: &Path, req: Request, creates: bool) -> Result<socket::Answer, AdminError> {
    if !creates && !dir.join("authgate.redb").exists() {
        return Err(AdminError::NoDatabase(dir.display().to_string()));
    }
    let store = crate::bootstrap::open_store(dir, |_| {})?;
    runtime()?.block_on(offline_on(&store, dir, req))
}

/// Runs `req` on PostgreSQL: connects (migrating a new database), does the first
/// run if no server has yet, and executes, like [`offline`] does on a redb file.
fn on_postgres(dir: &Path, url: &DatabaseUrl, req: Request) -> Result<socket::Answer, AdminError> {
    runtime()?.block_on(async {
        let store = crate::bootstrap::open_backend(dir, Some(url), 2, |_| {}).await?;
        offline_on(&store, dir, req).await
    })
}

/// The single-threaded runtime an admin command runs on.
fn runtime() -> Result<tokio::runtime::Runtime, AdminError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdminError::Runtime)
}

/// [`offline`] once the database is open: the first run if due, then the command.
async fn offline_on(
    store: &crate::store::Store,
    dir: &Path,
    req: Request,
) -> Result<socket::Answer, AdminError> {
    // A command on a fresh data directory does the first run the server would
    // have done (user `admin`, client `authgate-cli`), so starting the server later
    // doesn't skip it because a user or client already exists.
    let password = std::env::var("AUTHGATE_ADMIN_PASSWORD").ok();
    if let Some(first) = crate::bootstrap::first_run(store, crate::clock::now(), password).await? {
        match first.admin_password {
            Some(p) => eprintln!("first run: created user `admin`, password (shown once): {p}"),
            None => {
                eprintln!("first run: created user `admin` (password from AUTHGATE_ADMIN_PASSWORD)")
            }
        }
    }
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let ctx = Ctx {
        store,
        data_dir: dir,
        keys: None,
        actor: format!("cli uid={uid}"),
    };
    Ok(exec::execute(&ctx, req).await)
}
