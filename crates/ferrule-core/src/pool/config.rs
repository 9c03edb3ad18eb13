//! Pool settings, their validation, and the per-connection lifetime jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Error;

/// How a connection that sat idle longer than `check_after_idle` is checked before hand-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recycle {
    /// Only the local `is_broken` test: no round trip.
    #[default]
    Fast,
    /// One round trip to the server.
    Verified,
    /// A full session reset, as if the connection were new.
    Clean,
}

impl Recycle {
    /// The name used in DSNs and by the Python API.
    pub fn name(self) -> &'static str {
        match self {
            Recycle::Fast => "fast",
            Recycle::Verified => "verified",
            Recycle::Clean => "clean",
        }
    }
}

impl FromStr for Recycle {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "fast" => Ok(Recycle::Fast),
            "verified" => Ok(Recycle::Verified),
            "clean" => Ok(Recycle::Clean),
            _ => Err(Error::interface(format!(
                "recycle: expected 'fast', 'verified' or 'clean', got {s:?}"
            ))),
        }
    }
}

/// Everything a pool can be told. `PoolConfig::default()` gives sane values for a small
/// service; the Python layer fills it from `create_pool` arguments.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Connections opened by `start` and kept open (replaced in the background when lost).
    pub min_size: usize,
    /// Upper bound of open connections, in use or idle.
    pub max_size: usize,
    /// A connection is replaced at release once it has run this many queries.
    pub max_queries: Option<u64>,
    /// A connection is replaced once it is this old, give or take 10% drawn per connection.
    pub max_lifetime: Option<Duration>,
    /// Idle connections above `min_size` are closed after being idle this long.
    pub max_idle: Option<Duration>,
    /// Used by `acquire(None)`; `None` here means wait for as long as it takes.
    pub acquire_timeout: Option<Duration>,
    /// The check run on a connection idle longer than `check_after_idle` before hand-out.
    pub recycle: Recycle,
    /// Idle time after which `recycle` runs before hand-out; `is_broken` runs every time.
    pub check_after_idle: Duration,
    /// Bound on the graceful close of one connection.
    pub close_timeout: Duration,
    /// Bound on the reset of a released connection; past it the connection is closed.
    pub reset_timeout: Duration,
    /// First delay before a background reconnect after a failed connect; doubled per failure.
    pub backoff_initial: Duration,
    /// Cap of the reconnect delay.
    pub backoff_max: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            min_size: 1,
            max_size: 10,
            max_queries: None,
            max_lifetime: None,
            max_idle: Some(Duration::from_secs(300)),
            acquire_timeout: None,
            recycle: Recycle::Fast,
            check_after_idle: Duration::from_secs(1),
            close_timeout: Duration::from_secs(2),
            reset_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
        }
    }
}

impl PoolConfig {
    /// Rejects settings that cannot work, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_size == 0 {
            return Err(Error::interface("max_size must be at least 1, got 0"));
        }
        if self.min_size > self.max_size {
            return Err(Error::interface(format!(
                "min_size ({}) must not exceed max_size ({})",
                self.min_size, self.max_size
            )));
        }
        if self.max_queries == Some(0) {
            return Err(Error::interface(
                "max_queries must be at least 1 (or None), got 0",
            ));
        }
        let positive = [
            ("max_lifetime", self.max_lifetime),
            ("max_idle", self.max_idle),
            ("backoff_initial", Some(self.backoff_initial)),
        ];
        for (name, value) in positive {
            if value == Some(Duration::ZERO) {
                return Err(Error::interface(format!(
                    "{name} must be greater than zero"
                )));
            }
        }
        if self.backoff_max < self.backoff_initial {
            return Err(Error::interface(format!(
                "backoff_max ({:?}) must not be below backoff_initial ({:?})",
                self.backoff_max, self.backoff_initial
            )));
        }
        Ok(())
    }

    /// The lifetime of one new connection: `max_lifetime` scaled by a factor in [0.9, 1.1) so
    /// that connections opened together do not all expire together.
    pub(super) fn jittered_lifetime(&self) -> Option<Duration> {
        self.max_lifetime
            .map(|life| life.mul_f64(0.9 + 0.2 * unit_random()))
    }

    /// How often idle connections are looked at: fine enough to honour `max_idle` and the
    /// shortest jittered lifetime, never more often than every 10 ms.
    pub(super) fn maintenance_period(&self) -> Duration {
        let mut period = Duration::from_secs(1);
        if let Some(idle) = self.max_idle {
            period = period.min(idle / 2);
        }
        if let Some(life) = self.max_lifetime {
            period = period.min(life / 4);
        }
        period.max(Duration::from_millis(10))
    }

    /// The delay after `delay` in the reconnect backoff.
    pub(super) fn next_backoff(&self, delay: Duration) -> Duration {
        delay.saturating_mul(2).min(self.backoff_max)
    }
}

/// A uniform number in [0, 1). Jitter needs no cryptographic quality, only independence
/// between connections, which the randomly keyed std hasher over a counter gives.
fn unit_random() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
