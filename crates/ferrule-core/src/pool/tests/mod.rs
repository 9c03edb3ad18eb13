//! Pool tests on a mock backend: paused time where the test is about logic and exact timing,
//! real time and a multi-thread runtime where it is about races.

mod acquire;
mod health;
mod lifecycle;
mod mock;
mod stress;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use super::{Pool, PoolConfig};
use mock::MockManager;

/// A test pool: no idle closing, no health checks unless a test asks for them.
fn config(min_size: usize, max_size: usize) -> PoolConfig {
    PoolConfig {
        min_size,
        max_size,
        max_idle: None,
        check_after_idle: Duration::from_secs(3600),
        ..PoolConfig::default()
    }
}

fn pool(config: PoolConfig) -> Pool<MockManager> {
    Pool::new(MockManager::default(), config).expect("valid config")
}

/// Waits until background work is done: no opens, closes or loans in flight.
async fn settle(pool: &Pool<MockManager>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = pool.stats();
        if s.opening == 0 && s.closing == 0 && s.in_use == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pool never settled: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Polls a future once, to put it in the waiters' queue without waiting for it.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// A uniform number in [0, 1), from a per-thread xorshift seeded differently per thread.
fn random_unit() -> f64 {
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    thread_local! {
        static STATE: Cell<u64> = Cell::new(SEED.fetch_add(0x6A09_E667_F3BC_C909, Ordering::Relaxed) | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn chance(p: f64) -> bool {
    random_unit() < p
}

fn random_duration(max: Duration) -> Duration {
    max.mul_f64(random_unit())
}
