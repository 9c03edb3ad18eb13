//! The trait a backend implements so that the pool can open, check, reset and close its
//! connections without knowing what they are.

use std::future::Future;
use std::time::Duration;

use super::config::Recycle;
use crate::Error;

/// A backend's connection factory and caretaker.
///
/// Connections are shared: the pool keeps them in an `Arc` and hands the `Arc` out, so every
/// method takes `&Self::Conn`, and `close` may be called on a connection someone still holds
/// (by `Pool::terminate`, or when `Pool::close` runs out of time). Every future returned here
/// may be dropped at any await point: the connection must then be left intact or report
/// `is_broken() == true`; the pool closes broken connections. `is_broken`, `on_release` and
/// `needs_reset` are also called from `Drop` of a `Pooled`, on any thread: they must be quick
/// and never block.
pub trait Manager: Send + Sync + 'static {
    type Conn: Send + Sync + 'static;

    /// Opens a new connection, setup and init hooks included.
    fn connect(&self) -> impl Future<Output = Result<Self::Conn, Error>> + Send;

    /// A cheap local test, no IO: is the connection known to be closed or broken?
    fn is_broken(&self, conn: &Self::Conn) -> bool;

    /// Checks a connection idle longer than `check_after_idle` before it is handed out:
    /// `Fast` may only look at local state, `Verified` makes a round trip, `Clean` resets the
    /// session fully. An error makes the pool close the connection and pick another.
    fn check(
        &self,
        conn: &Self::Conn,
        mode: Recycle,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// On release, before `needs_reset`, for a connection going back into service: clears
    /// what needs no IO, such as arming a reset that rides on the connection's next request.
    /// Called from `Drop` of a `Pooled` too: quick, and never blocking.
    fn on_release(&self, _conn: &Self::Conn) {}

    /// On release: does the session carry state (open transaction, session settings, locks,
    /// listeners) that `reset` must clear before anyone else gets the connection?
    fn needs_reset(&self, conn: &Self::Conn) -> bool;

    /// Clears the session state; an error makes the pool close the connection.
    fn reset(&self, conn: &Self::Conn) -> impl Future<Output = Result<(), Error>> + Send;

    /// Closes the connection, gracefully where the protocol allows, within `timeout`; a zero
    /// timeout asks for an immediate close without waiting for the server.
    fn close(&self, conn: &Self::Conn, timeout: Duration) -> impl Future<Output = ()> + Send;
}
