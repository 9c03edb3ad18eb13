//! The one tokio runtime that owns every socket and runs every protocol exchange.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime, created on first use.
///
/// Two worker threads: the event-loop thread is the third busy thread on a typical 2-4 core
/// machine, and protocol work per query is small next to Python object creation.
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let workers = std::env::var("FERRULE_WORKER_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(2);
        Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("ferrule-io")
            .enable_all()
            .build()
            .expect("cannot start the ferrule tokio runtime")
    })
}
