//! `TdsManager`: the pool's caretaker for SQL Server connections. A reused connection is
//! reset with the RESETCONNECTION flag, which rides on its next request: no extra round
//! trip, except to roll back a transaction left open (its locks must not wait in the pool).

use std::time::Duration;

use ferrule_core::pool::{Manager, Recycle};
use ferrule_core::Error;

use crate::config::TdsConfig;
use crate::conn::{CallCtl, TdsConnection};

pub struct TdsManager {
    pub config: TdsConfig,
}

impl TdsManager {
    pub fn new(config: TdsConfig) -> Self {
        TdsManager { config }
    }
}

impl Manager for TdsManager {
    type Conn = TdsConnection;

    async fn connect(&self) -> Result<TdsConnection, Error> {
        TdsConnection::connect(&self.config).await
    }

    fn is_broken(&self, conn: &TdsConnection) -> bool {
        conn.is_closed()
    }

    async fn check(&self, conn: &TdsConnection, mode: Recycle) -> Result<(), Error> {
        if conn.is_closed() {
            return Err(Error::closed("the connection is closed"));
        }
        let ctl = CallCtl::with_timeout(Some(self.config.cancel_timeout * 2), None);
        match mode {
            Recycle::Fast => Ok(()),
            Recycle::Verified => conn.batch("SELECT 1", true, &ctl).await.map(|_| ()),
            Recycle::Clean => {
                conn.mark_reset();
                conn.batch("SELECT 1", true, &ctl).await.map(|_| ())
            }
        }
    }

    fn needs_reset(&self, _conn: &TdsConnection) -> bool {
        // Session state (SET options, temporary tables) cannot be seen from here, and the
        // reset costs nothing but a flag bit on the next request.
        true
    }

    async fn reset(&self, conn: &TdsConnection) -> Result<(), Error> {
        conn.mark_reset();
        if conn.in_transaction() {
            let ctl = CallCtl::with_timeout(Some(self.config.cancel_timeout * 2), None);
            conn.batch("SELECT 1", true, &ctl).await?;
        }
        Ok(())
    }

    async fn close(&self, conn: &TdsConnection, timeout: Duration) {
        if timeout.is_zero() {
            conn.terminate();
        } else {
            conn.close(timeout).await;
        }
    }
}
