//! The lock that makes pulls into one replica file take turns: an exclusive lock on
//! `<database>-info.lock`, held from reading the progress file to writing it. Several
//! processes (web workers) commonly open the same replica; without it, one could apply older
//! frames over pages another had already moved on.

use std::fs::{File, OpenOptions};
use std::sync::Arc;

use ferrule_core::{Error, Result};

pub struct SyncLock {
    file: File,
    path: String,
}

/// The lock, held until dropped (also when the pull holding it is abandoned).
pub struct Held(Arc<SyncLock>);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.file.unlock();
    }
}

impl SyncLock {
    pub fn open(db_path: &str) -> Result<SyncLock> {
        let path = format!("{db_path}-info.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::interface(format!("cannot open the replica's lock {path:?}: {e}"))
            })?;
        Ok(SyncLock { file, path })
    }

    /// Waits for the lock (off the runtime's threads). When the caller gives up waiting, the
    /// lock taken after all is let go at once.
    pub async fn hold(self: Arc<Self>) -> Result<Held> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = me.file.lock().map(|()| Held(me.clone()));
            // Unsent (the caller is gone), the `Held` is dropped here, which unlocks.
            let _ = tx.send(taken);
        });
        rx.await
            .map_err(|_| Error::interface("the replica's lock was lost"))?
            .map_err(|e| Error::interface(format!("cannot lock {:?}: {e}", self.path)))
    }
}
