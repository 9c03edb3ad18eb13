//! The figures a pool reports: a snapshot of its state and counters since it was created.

use std::time::Duration;

/// A snapshot taken under the pool's lock, so the numbers agree with each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections: idle plus in use (a connection being reset or checked is in use).
    pub size: usize,
    pub idle: usize,
    pub in_use: usize,
    /// Tasks waiting in `acquire`.
    pub waiting: usize,
    /// Connections being opened right now.
    pub opening: usize,
    /// Connections being closed right now (no longer counted in `size`).
    pub closing: usize,
    /// Successful acquisitions.
    pub acquisitions: u64,
    /// Acquisitions that ended with `ErrorKind::PoolTimeout`.
    pub timeouts: u64,
    /// Total time successful acquisitions waited.
    pub total_wait: Duration,
    /// `total_wait / acquisitions`.
    pub avg_wait: Duration,
    /// Connections opened.
    pub connects: u64,
    /// Failed attempts to open a connection.
    pub connect_errors: u64,
    /// Session resets run on released connections.
    pub resets: u64,
    /// Connections closed because they were broken or failed a check or a reset.
    pub closed_broken: u64,
}

/// The cumulative part of `PoolStats`, kept inside the pool's state.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub acquisitions: u64,
    pub timeouts: u64,
    pub total_wait: Duration,
    pub connects: u64,
    pub connect_errors: u64,
    pub resets: u64,
    pub closed_broken: u64,
}

impl Counters {
    pub fn average_wait(&self) -> Duration {
        match u32::try_from(self.acquisitions) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.total_wait / n,
            Err(_) => self.total_wait.div_f64(self.acquisitions as f64),
        }
    }
}
