//! `PgManager`: how the generic pool (`ferrule_core::pool`) opens, checks, resets and closes
//! PostgreSQL connections.
//!
//! A released connection is reset only when it is dirty: inside a transaction, with requests
//! or cancellations still unanswered, or with session state the reader noticed
//! (`crate::session`). The reset is
//! `ROLLBACK` when needed, then the standard statements below; not `DISCARD ALL`, which would
//! also drop the statements ferrule keeps prepared on the connection.

use std::sync::Arc;
use std::time::Duration;

pub use ferrule_core::pool::{HookFuture, SessionHooks};
use ferrule_core::pool::{Manager, Recycle};
use ferrule_core::Error;

use crate::config::PgConfig;
use crate::conn::{CallCtl, PgConnection};
use crate::session::SessionState;

/// Clears settings, cursors, listeners, advisory locks and role changes.
const STANDARD_RESET: &str = "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; \
     SET SESSION AUTHORIZATION DEFAULT; RESET ALL; RESET ROLE;";

/// Deallocates the statements made with SQL `PREPARE` and keeps the protocol-level ones
/// (`DEALLOCATE ALL` would drop both). The names come from the server's own catalog and are
/// quoted there by `format('%I')`.
const DEALLOCATE_SQL_PREPARED: &str = "DO $ferrule$ DECLARE s text; BEGIN \
     FOR s IN SELECT name FROM pg_prepared_statements WHERE from_sql LOOP \
     EXECUTE format('DEALLOCATE %I', s); END LOOP; END $ferrule$;";

const DISCARD_TEMP: &str = "DISCARD TEMP;";

/// Bound on a `Verified` check when the connection has no connect timeout.
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool user's hooks on PostgreSQL connections.
pub type PgHooks = dyn SessionHooks<PgConnection>;

/// Opens connections with one `PgConfig`; see the module documentation for the reset rules.
pub struct PgManager {
    config: PgConfig,
    hooks: Option<Arc<PgHooks>>,
}

impl PgManager {
    pub fn new(config: PgConfig) -> PgManager {
        PgManager {
            config,
            hooks: None,
        }
    }

    pub fn with_hooks(mut self, hooks: Arc<PgHooks>) -> PgManager {
        self.hooks = Some(hooks);
        self
    }

    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    fn custom_reset(&self) -> Option<&Arc<PgHooks>> {
        self.hooks.as_ref().filter(|h| h.has_reset())
    }

    /// Runs the init hook on a fresh connection. Whatever state it leaves is the connection's
    /// baseline, so it does not count as dirt; an open transaction is still rolled back.
    async fn init(&self, conn: &PgConnection) -> Result<(), Error> {
        let Some(init) = self.hooks.as_ref().and_then(|h| h.init(conn)) else {
            return Ok(());
        };
        init.await?;
        if conn.is_closed() {
            return Err(Error::connection_lost(
                "the connection was closed during the pool's init hook",
            ));
        }
        if conn.transaction_status() != b'I' || conn.has_abandoned_requests() {
            conn.simple_query("ROLLBACK", &CallCtl::default()).await?;
        }
        conn.clear_session_state();
        Ok(())
    }

    /// The built-in reset, of the parts `state` says are needed (`SETTINGS` always runs).
    async fn standard_reset(&self, conn: &PgConnection, state: SessionState) -> Result<(), Error> {
        let ctl = CallCtl::default();
        if conn.transaction_status() != b'I' || conn.has_abandoned_requests() {
            // Queued behind any unanswered request, so it also ends what those began.
            conn.simple_query("ROLLBACK", &ctl).await?;
        }
        let mut sql = String::from(STANDARD_RESET);
        if state.contains(SessionState::PREPARED) {
            sql.push_str(DEALLOCATE_SQL_PREPARED);
        }
        if state.contains(SessionState::TEMP_OBJECTS) {
            sql.push_str(DISCARD_TEMP);
        }
        conn.simple_query(&sql, &ctl).await?;
        Ok(())
    }

    /// `Clean` recycling: every part of the reset, dirty or not.
    async fn full_reset(&self, conn: &PgConnection) -> Result<(), Error> {
        let all = SessionState::SETTINGS | SessionState::PREPARED | SessionState::TEMP_OBJECTS;
        self.standard_reset(conn, all).await?;
        conn.clear_session_state();
        Ok(())
    }
}

impl Manager for PgManager {
    type Conn = PgConnection;

    async fn connect(&self) -> Result<PgConnection, Error> {
        let conn = PgConnection::connect(&self.config).await?;
        if let Err(e) = self.init(&conn).await {
            conn.terminate();
            return Err(e);
        }
        Ok(conn)
    }

    fn is_broken(&self, conn: &PgConnection) -> bool {
        conn.is_closed()
    }

    async fn check(&self, conn: &PgConnection, mode: Recycle) -> Result<(), Error> {
        match mode {
            Recycle::Fast if conn.is_closed() => {
                Err(Error::connection_lost("the pooled connection is closed"))
            }
            Recycle::Fast => Ok(()),
            Recycle::Verified => {
                let bound = self.config.connect_timeout.unwrap_or(DEFAULT_CHECK_TIMEOUT);
                // An empty query is the cheapest round trip: EmptyQueryResponse, ReadyForQuery.
                conn.simple_query("", &CallCtl::with_timeout(Some(bound), None))
                    .await?;
                Ok(())
            }
            Recycle::Clean => self.full_reset(conn).await,
        }
    }

    fn needs_reset(&self, conn: &PgConnection) -> bool {
        self.custom_reset().is_some()
            || conn.transaction_status() != b'I'
            || !conn.session_state().is_clean()
            || conn.has_abandoned_requests()
            || conn.has_cancels_in_flight()
    }

    async fn reset(&self, conn: &PgConnection) -> Result<(), Error> {
        // A CancelRequest still on its way would cancel the reset, or the next user's query.
        conn.settle().await;
        match self.custom_reset() {
            Some(hooks) => {
                hooks.reset(conn).await?;
                // The pool's own promise holds whatever the user's reset did.
                if conn.transaction_status() != b'I' || conn.has_abandoned_requests() {
                    conn.simple_query("ROLLBACK", &CallCtl::default()).await?;
                }
            }
            None => self.standard_reset(conn, conn.session_state()).await?,
        }
        conn.clear_session_state();
        Ok(())
    }

    async fn close(&self, conn: &PgConnection, timeout: Duration) {
        // A query still running would go on in its session after the socket is gone.
        conn.cancel_running();
        if timeout.is_zero() {
            conn.terminate();
        } else {
            conn.close(timeout).await;
        }
    }
}
