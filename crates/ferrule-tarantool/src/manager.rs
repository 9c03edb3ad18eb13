//! `TntManager`: how the generic pool (`ferrule_core::pool`) opens, checks, resets and closes
//! Tarantool connections.
//!
//! A Tarantool session keeps no settings a user could change, so a released connection is
//! dirty only when it holds what `session_state.rs` lists: an interactive transaction that
//! may be open, watchers, or calls still pushing messages. The reset rolls back, unwatches
//! and stops those deliveries; a clean release costs nothing.

use std::sync::Arc;
use std::time::Duration;

use ferrule_core::pool::{Manager, Recycle, SessionHooks};
use ferrule_core::Error;

use crate::config::TntConfig;
use crate::conn::{CallCtl, TntConnection};

/// The pool user's hooks on Tarantool connections.
pub type TntHooks = dyn SessionHooks<TntConnection>;

/// Bound on a `Verified` check and on the pool's own requests when connecting has no bound.
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TntManager {
    config: TntConfig,
    hooks: Option<Arc<TntHooks>>,
}

impl TntManager {
    pub fn new(config: TntConfig) -> Self {
        TntManager {
            config,
            hooks: None,
        }
    }

    pub fn with_hooks(mut self, hooks: Arc<TntHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    pub fn config(&self) -> &TntConfig {
        &self.config
    }

    fn ctl(&self) -> CallCtl {
        let bound = self.config.connect_timeout.unwrap_or(DEFAULT_CHECK_TIMEOUT);
        CallCtl::with_timeout(Some(bound), None)
    }

    fn custom_reset(&self) -> Option<&Arc<TntHooks>> {
        self.hooks.as_ref().filter(|h| h.has_reset())
    }

    /// Runs the init hook on a fresh connection; transactions, watchers and pushing calls it
    /// leaves do not outlast it.
    async fn init(&self, conn: &TntConnection) -> Result<(), Error> {
        let Some(init) = self.hooks.as_ref().and_then(|h| h.init(conn)) else {
            return Ok(());
        };
        init.await?;
        if conn.is_closed() {
            return Err(Error::connection_lost(
                "the connection was closed during the pool's init hook",
            ));
        }
        conn.clear_session_state(&self.ctl()).await
    }
}

impl Manager for TntManager {
    type Conn = TntConnection;

    async fn connect(&self) -> Result<TntConnection, Error> {
        let conn = TntConnection::connect(self.config.clone()).await?;
        if let Err(e) = self.init(&conn).await {
            conn.close();
            return Err(e);
        }
        Ok(conn)
    }

    fn is_broken(&self, conn: &TntConnection) -> bool {
        conn.is_closed()
    }

    async fn check(&self, conn: &TntConnection, mode: Recycle) -> Result<(), Error> {
        if conn.is_closed() {
            return Err(Error::connection_lost("the pooled connection is closed"));
        }
        match mode {
            Recycle::Fast => Ok(()),
            Recycle::Verified => conn.ping(&self.ctl()).await,
            Recycle::Clean => {
                conn.clear_session_state(&self.ctl()).await?;
                conn.ping(&self.ctl()).await
            }
        }
    }

    fn needs_reset(&self, conn: &TntConnection) -> bool {
        self.custom_reset().is_some() || conn.has_session_state()
    }

    async fn reset(&self, conn: &TntConnection) -> Result<(), Error> {
        if let Some(hooks) = self.custom_reset() {
            hooks.reset(conn).await?;
        }
        // The pool's own promise holds whatever the user's reset did.
        conn.clear_session_state(&self.ctl()).await
    }

    async fn close(&self, conn: &TntConnection, timeout: Duration) {
        if timeout.is_zero() {
            conn.close();
        } else {
            conn.close_within(timeout).await;
        }
    }
}
