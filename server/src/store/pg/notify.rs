//! Telling every instance that a client or a user changed: `NOTIFY` in the
//! changing transaction, and one listening connection per instance.
//!
//! # Sending (for every writer of clients or users)
//! Any code that inserts, updates or deletes a row of `clients` or `users` calls
//! [`notify_change`] with the same transaction, before committing:
//!
//! ```ignore
//! let tx = conn.transaction().await?;
//! tx.execute("UPDATE clients SET disabled = true WHERE id = $1", &[&id]).await?;
//! notify_change(&tx, Change::Client(&id)).await?;
//! tx.commit().await?;
//! ```
//!
//! PostgreSQL delivers a notification only when (and if) its transaction commits,
//! after the change is visible, to every listening connection, the sender's own
//! instance included: a rolled-back change tells no one, and a committed one tells
//! everyone within milliseconds. The payload is `client:<id>` or `user:<id>` on the
//! channel [`CHANNEL`].
//!
//! # Receiving
//! Each [`super::PgStore`] keeps one connection of its own (outside the pool)
//! listening on [`CHANNEL`]. A client notification evicts that client from the
//! instance's [`ClientCache`]; user notifications need nothing, since users are not
//! cached (see `super::users`). When the connection drops (a database restart, a
//! network fault) notifications may be missed, so the cache goes dark (bypassed)
//! until the listener has reconnected, with backoff, and listens again; it then
//! starts empty.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{AsyncMessage, NoTls};

use super::PgError;
use super::cache::ClientCache;

/// The notification channel every instance listens on.
pub(crate) const CHANNEL: &str = "authgate_changes";

/// PostgreSQL refuses payloads of 8,000 bytes or more; a longer one is sent as
/// "every client" instead (correct, merely less precise).
const MAX_PAYLOAD: usize = 7_999;

/// First wait before reconnecting the listener, doubled per failure up to
/// [`MAX_BACKOFF`]: a restarting database is not hammered, and recovery after it is
/// back takes at most a couple of seconds.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What changed, named by its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// The client with this `client_id` was added, changed or deleted.
    Client(&'a str),
    /// The user with this id (not login name) was added, changed or deleted.
    User(&'a str),
}

impl Change<'_> {
    /// The notification payload.
    fn payload(&self) -> String {
        let text = match self {
            Change::Client(id) => format!("client:{id}"),
            Change::User(id) => format!("user:{id}"),
        };
        if text.len() <= MAX_PAYLOAD {
            return text;
        }
        match self {
            Change::Client(_) => "client:*".into(),
            Change::User(_) => "user:*".into(),
        }
    }
}

/// What a received payload asks of this instance.
#[derive(Debug, PartialEq, Eq)]
enum Heard<'a> {
    /// Evict this client.
    Client(&'a str),
    /// Evict every client (a long id, or a payload this build does not know).
    AllClients,
    /// A user changed: nothing is cached for users.
    User,
}

fn parse(payload: &str) -> Heard<'_> {
    match payload.split_once(':') {
        Some(("client", "*")) => Heard::AllClients,
        Some(("client", id)) => Heard::Client(id),
        Some(("user", _)) => Heard::User,
        _ => Heard::AllClients,
    }
}

/// Tells every instance, once `tx` commits, that `change` happened. Call it in the
/// transaction that makes the change (see the module).
pub(crate) async fn notify_change(
    tx: &deadpool_postgres::Transaction<'_>,
    change: Change<'_>,
) -> Result<(), PgError> {
    tx.execute(
        &tx.prepare_cached("SELECT pg_notify($1, $2)").await?,
        &[&CHANNEL, &change.payload()],
    )
    .await?;
    Ok(())
}

/// The listening task of one instance; stopped when dropped (with the last clone
/// of its store).
pub(crate) struct Listener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Starts listening with its own connection to `config`, keeping `cache` in
    /// step. Runs until dropped, reconnecting after every failure.
    pub(crate) fn spawn(mut config: tokio_postgres::Config, cache: Arc<ClientCache>) -> Self {
        // A dead peer must be noticed even when nothing is being sent.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5));
        Listener {
            task: tokio::spawn(run(config, cache)),
        }
    }
}

async fn run(config: tokio_postgres::Config, cache: Arc<ClientCache>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match listen(&config, &cache).await {
            Ok(()) => {
                tracing::warn!("the change listener lost its connection; reconnecting");
                backoff = MIN_BACKOFF;
            }
            Err(e) => tracing::warn!(error = %e, "the change listener could not connect"),
        }
        cache.go_dark();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects, listens, and applies notifications until the connection ends:
/// `Ok` once it was listening, `Err` if it never got there.
async fn listen(config: &tokio_postgres::Config, cache: &ClientCache) -> Result<(), PgError> {
    let (client, mut conn) = config.connect(NoTls).await?;
    {
        let subscribe = client.batch_execute("LISTEN authgate_changes");
        tokio::pin!(subscribe);
        loop {
            tokio::select! {
                done = &mut subscribe => { done?; break; }
                message = next(&mut conn) => match message {
                    Some(Ok(m)) => apply(cache, &m),
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
            }
        }
    }
    cache.go_live();
    tracing::debug!("listening for client and user changes");
    while let Some(Ok(message)) = next(&mut conn).await {
        apply(cache, &message);
    }
    drop(client);
    Ok(())
}

/// The next message the server sends on `conn` (driving it meanwhile).
async fn next(
    conn: &mut tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
) -> Option<Result<AsyncMessage, tokio_postgres::Error>> {
    std::future::poll_fn(|cx| conn.poll_message(cx)).await
}

/// Applies one message from the listening connection to the cache.
fn apply(cache: &ClientCache, message: &AsyncMessage) {
    let AsyncMessage::Notification(n) = message else {
        return;
    };
    if n.channel() != CHANNEL {
        return;
    }
    match parse(n.payload()) {
        Heard::Client(id) => cache.evict(Some(id)),
        Heard::AllClients => cache.evict(None),
        Heard::User => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_unknown_ones_evict_everything() {
        assert_eq!(
            parse(&Change::Client("tv:1").payload()),
            Heard::Client("tv:1")
        );
        assert_eq!(parse(&Change::User("u-1").payload()), Heard::User);
        let long = "x".repeat(8_000);
        assert_eq!(parse(&Change::Client(&long).payload()), Heard::AllClients);
        assert_eq!(parse("keys:rotated"), Heard::AllClients);
        assert_eq!(parse(""), Heard::AllClients);
    }
}
