//! `TdsManager`: the pool's caretaker for SQL Server connections. A released connection is
//! reset with the RESETCONNECTION flag, set at the release and carried by its next request:
//! no extra round trip and no work at the release, except to roll back a transaction left
//! open (its locks must not wait in the pool; the rollback goes before the flag, so that no
//! request carries a descriptor the reset ended).
//!
//! The reset takes the session back to its state at login, which also undoes what the
//! pool's `init` hook did: with such a hook, the hook runs again after each reset (its first
//! request carries the flag, so it runs on the clean session).

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::pool::{Manager, Recycle, SessionHooks};
use ferrule_core::Error;

use crate::config::TdsConfig;
use crate::conn::{CallCtl, TdsConnection};

/// The pool user's hooks on SQL Server connections.
pub type TdsHooks = dyn SessionHooks<TdsConnection>;

const ROLLBACK: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION";

pub struct TdsManager {
    pub config: TdsConfig,
    hooks: Option<Arc<TdsHooks>>,
}

impl TdsManager {
    pub fn new(config: TdsConfig) -> Self {
        TdsManager {
            config,
            hooks: None,
        }
    }

    pub fn with_hooks(mut self, hooks: Arc<TdsHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Bound on the pool's own requests (checks, rollbacks).
    fn ctl(&self) -> CallCtl {
        CallCtl::with_timeout(Some(self.config.cancel_timeout * 2), None)
    }

    fn custom_reset(&self) -> Option<&Arc<TdsHooks>> {
        self.hooks.as_ref().filter(|h| h.has_reset())
    }

    /// Runs the init hook, if there is one; `Ok(false)` when there is none. A transaction it
    /// leaves open is rolled back.
    async fn init(&self, conn: &TdsConnection) -> Result<bool, Error> {
        let Some(init) = self.hooks.as_ref().and_then(|h| h.init(conn)) else {
            return Ok(false);
        };
        init.await?;
        if conn.is_closed() {
            return Err(Error::connection_lost(
                "the connection was closed during the pool's init hook",
            ));
        }
        if conn.in_transaction() {
            conn.batch(ROLLBACK, true, &self.ctl()).await?;
        }
        Ok(true)
    }

    /// The built-in reset: an open transaction is rolled back now (under its own
    /// descriptor, which the reset would make stale), the flag is set for the next request,
    /// and the init hook runs again. `verify` makes a round trip even without a hook.
    async fn reset_session(&self, conn: &TdsConnection, verify: bool) -> Result<(), Error> {
        if conn.in_transaction() {
            conn.batch(ROLLBACK, true, &self.ctl()).await?;
        }
        conn.mark_reset();
        if !self.init(conn).await? && verify {
            conn.batch("SELECT 1", true, &self.ctl()).await?;
        }
        Ok(())
    }
}

impl Manager for TdsManager {
    type Conn = TdsConnection;

    async fn connect(&self) -> Result<TdsConnection, Error> {
        let conn = TdsConnection::connect(&self.config).await?;
        if let Err(e) = self.init(&conn).await {
            conn.terminate();
            return Err(e);
        }
        Ok(conn)
    }

    fn is_broken(&self, conn: &TdsConnection) -> bool {
        conn.is_closed()
    }

    async fn check(&self, conn: &TdsConnection, mode: Recycle) -> Result<(), Error> {
        if conn.is_closed() {
            return Err(Error::closed("the connection is closed"));
        }
        match mode {
            Recycle::Fast => Ok(()),
            Recycle::Verified => conn.batch("SELECT 1", true, &self.ctl()).await.map(|_| ()),
            Recycle::Clean => self.reset_session(conn, true).await,
        }
    }

    fn on_release(&self, conn: &TdsConnection) {
        // Session state (SET options, temporary tables) cannot be seen from here, and the
        // reset costs nothing but a flag bit on the next request. An open transaction is
        // rolled back by `reset` first, before the flag is set.
        if self.custom_reset().is_none() && !conn.in_transaction() {
            conn.mark_reset();
        }
    }

    fn needs_reset(&self, conn: &TdsConnection) -> bool {
        // With an init hook, the hook runs again after the flag's reset.
        conn.in_transaction() || self.hooks.is_some()
    }

    async fn reset(&self, conn: &TdsConnection) -> Result<(), Error> {
        match self.custom_reset() {
            Some(hooks) => {
                hooks.reset(conn).await?;
                // The pool's own promise holds whatever the user's reset did.
                if conn.in_transaction() {
                    conn.batch(ROLLBACK, true, &self.ctl()).await?;
                }
                Ok(())
            }
            None => self.reset_session(conn, false).await,
        }
    }

    async fn close(&self, conn: &TdsConnection, timeout: Duration) {
        if timeout.is_zero() {
            conn.terminate();
        } else {
            conn.close(timeout).await;
        }
    }
}
