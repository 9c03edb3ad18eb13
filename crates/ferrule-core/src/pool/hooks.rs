//! Code of the pool's user that runs on its connections (such as the Python `init` and
//! `reset` coroutines, which only the binding can call), for any backend's `Manager`.

use std::future::Future;
use std::pin::Pin;

use crate::Error;

pub type HookFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// The hooks a backend's manager runs on its connections of type `C`.
pub trait SessionHooks<C>: Send + Sync + 'static {
    /// Runs once on each new connection before it is lent; `None` when there is no such hook.
    fn init(&self, conn: &C) -> Option<HookFuture>;

    /// Whether `reset` replaces the built-in reset. It then runs at every release, since only
    /// the user knows what state their code leaves.
    fn has_reset(&self) -> bool;

    /// The user's reset; called only when `has_reset()`.
    fn reset(&self, conn: &C) -> HookFuture;
}
