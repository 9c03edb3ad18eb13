//! Health: broken connections replaced, checks after idle, resets on release, lifetimes with
//! jitter, query budgets, idle shrinking, and reconnects with backoff.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::mock::MockManager;
use super::{config, pool, settle};
use crate::pool::Recycle;
use crate::ErrorKind;

#[tokio::test(start_paused = true)]
async fn broken_connection_is_replaced_on_release() {
    let pool = pool(config(2, 2));
    pool.start().await.unwrap();
    let conn = pool.acquire(None).await.unwrap();
    conn.break_it();
    drop(conn);
    settle(&pool).await;
    let stats = pool.stats();
    assert_eq!(
        (stats.size, stats.idle, stats.closed_broken, stats.connects),
        (2, 2, 1, 3)
    );
    assert_eq!(pool.manager().live(), 2);
}

#[tokio::test(start_paused = true)]
async fn on_release_runs_for_connections_kept_only() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    let releases = || MockManager::count(&pool.manager().counts.releases);
    drop(pool.acquire(None).await.unwrap());
    pool.acquire(None).await.unwrap().release().await;
    assert_eq!(releases(), 2);
    let conn = pool.acquire(None).await.unwrap();
    conn.break_it();
    drop(conn);
    settle(&pool).await;
    assert_eq!(releases(), 2);
}

#[tokio::test(start_paused = true)]
async fn broken_idle_connection_is_replaced_in_the_background() {
    let pool = pool(config(2, 2));
    pool.start().await.unwrap();
    let victim = pool.manager().flags(1);
    victim.broken.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    settle(&pool).await;
    assert!(victim.closed.load(Ordering::Relaxed));
    let stats = pool.stats();
    assert_eq!(
        (stats.size, stats.idle, stats.closed_broken, stats.connects),
        (2, 2, 1, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn broken_idle_connection_is_never_handed_out() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    pool.manager()
        .flags(1)
        .broken
        .store(true, Ordering::Relaxed);
    let conn = pool.acquire(None).await.unwrap();
    assert_eq!(conn.conn().id(), 2);
    assert_eq!(pool.stats().closed_broken, 1);
}

#[tokio::test(start_paused = true)]
async fn connection_idle_too_long_is_checked_before_hand_out() {
    let mut cfg = config(1, 1);
    cfg.recycle = Recycle::Verified;
    cfg.check_after_idle = Duration::from_secs(10);
    let pool = pool(cfg);
    pool.start().await.unwrap();
    let checks = || MockManager::count(&pool.manager().counts.checks);

    pool.acquire(None).await.unwrap().release().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    pool.acquire(None).await.unwrap().release().await;
    assert_eq!(checks(), 0);
    tokio::time::sleep(Duration::from_secs(11)).await;
    pool.acquire(None).await.unwrap().release().await;
    assert_eq!(checks(), 1);
}

#[tokio::test(start_paused = true)]
async fn failed_check_replaces_the_connection_and_the_waiter_gets_another() {
    let mut cfg = config(1, 2);
    cfg.check_after_idle = Duration::from_secs(1);
    let pool = pool(cfg);
    pool.start().await.unwrap();
    pool.manager().script.lock().fail_next_checks = 1;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let conn = pool.acquire(None).await.unwrap();
    assert_eq!(conn.conn().id(), 2);
    drop(conn);
    settle(&pool).await;
    assert_eq!(
        (
            pool.size(),
            pool.stats().closed_broken,
            pool.manager().live()
        ),
        (1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn check_cut_by_the_acquire_timeout_keeps_the_connection() {
    let mut cfg = config(1, 1);
    cfg.check_after_idle = Duration::from_secs(1);
    let pool = pool(cfg);
    pool.start().await.unwrap();
    pool.manager().script.lock().check_delay = Duration::from_secs(5);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = Instant::now();
    let err = pool
        .acquire(Some(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, start.elapsed()),
        (ErrorKind::PoolTimeout, Duration::from_secs(1))
    );
    assert_eq!((pool.size(), pool.idle_size()), (1, 1));
    // Not marked good by the cut check: the next taker checks it again.
    pool.manager().script.lock().check_delay = Duration::ZERO;
    let before = MockManager::count(&pool.manager().counts.checks);
    drop(pool.acquire(None).await.unwrap());
    assert_eq!(
        MockManager::count(&pool.manager().counts.checks),
        before + 1
    );
}

#[tokio::test(start_paused = true)]
async fn dirty_connection_is_reset_before_anyone_gets_it() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    pool.manager().script.lock().reset_delay = Duration::from_millis(100);
    let conn = pool.acquire(None).await.unwrap();
    let id = conn.pool_id();
    conn.make_dirty();
    let released = Instant::now();
    drop(conn);
    let stats = pool.stats();
    assert_eq!(
        (stats.idle, stats.in_use),
        (0, 1),
        "a connection being reset is not idle"
    );
    let again = pool.acquire(None).await.unwrap();
    assert_eq!(released.elapsed(), Duration::from_millis(100));
    assert_eq!(again.pool_id(), id);
    assert!(!again.flags.dirty.load(Ordering::Relaxed));
    assert_eq!(pool.stats().resets, 1);
}

#[tokio::test(start_paused = true)]
async fn clean_connection_is_not_reset() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    for _ in 0..10 {
        pool.acquire(None).await.unwrap().release().await;
    }
    assert_eq!(pool.stats().resets, 0);
}

#[tokio::test(start_paused = true)]
async fn release_waits_for_the_reset() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    pool.manager().script.lock().reset_delay = Duration::from_millis(70);
    let conn = pool.acquire(None).await.unwrap();
    conn.make_dirty();
    let start = Instant::now();
    conn.release().await;
    assert_eq!(start.elapsed(), Duration::from_millis(70));
    assert_eq!(pool.idle_size(), 1);
}

#[tokio::test(start_paused = true)]
async fn failed_reset_closes_and_replaces_the_connection() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    pool.manager().script.lock().fail_resets = true;
    let conn = pool.acquire(None).await.unwrap();
    conn.make_dirty();
    conn.release().await;
    settle(&pool).await;
    let stats = pool.stats();
    assert_eq!(
        (stats.size, stats.idle, stats.closed_broken, stats.connects),
        (1, 1, 1, 2)
    );
    assert_eq!(pool.manager().live(), 1);
}

#[tokio::test(start_paused = true)]
async fn max_queries_replaces_the_connection_at_release() {
    let mut cfg = config(1, 1);
    cfg.max_queries = Some(3);
    let pool = pool(cfg);
    pool.start().await.unwrap();
    let conn = pool.acquire(None).await.unwrap();
    let id = conn.pool_id();
    conn.count_queries(2);
    conn.release().await;
    let conn = pool.acquire(None).await.unwrap();
    assert_eq!((conn.pool_id(), conn.query_count()), (id, 2));
    conn.count_query();
    conn.release().await;
    settle(&pool).await;
    let conn = pool.acquire(None).await.unwrap();
    assert_ne!(conn.pool_id(), id);
    assert_eq!((conn.query_count(), pool.manager().live()), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn max_lifetime_is_jittered_per_connection() {
    let mut cfg = config(20, 20);
    cfg.max_lifetime = Some(Duration::from_secs(100));
    let pool = pool(cfg);
    let start = Instant::now();
    pool.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(89)).await;
    assert_eq!(
        MockManager::count(&pool.manager().counts.opened),
        20,
        "none before 90 s"
    );
    tokio::time::sleep(Duration::from_secs(23)).await;
    settle(&pool).await;
    assert_eq!(
        MockManager::count(&pool.manager().counts.closed),
        20,
        "all by 110 s"
    );
    assert_eq!((pool.size(), pool.manager().live()), (20, 20));
    let closes: Vec<Duration> = pool
        .manager()
        .script
        .lock()
        .close_times
        .iter()
        .map(|t| *t - start)
        .collect();
    assert!(closes
        .iter()
        .all(|d| *d >= Duration::from_secs(90) && *d <= Duration::from_secs(111)));
    let mut distinct = closes.clone();
    distinct.dedup();
    assert!(distinct.len() >= 5, "expiries bunched together: {closes:?}");
}

#[tokio::test(start_paused = true)]
async fn idle_connections_above_min_size_are_closed() {
    let mut cfg = config(1, 4);
    cfg.max_idle = Some(Duration::from_secs(10));
    let pool = pool(cfg);
    pool.start().await.unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.acquire(None).await.unwrap());
    }
    drop(held);
    assert_eq!(pool.size(), 4);
    tokio::time::sleep(Duration::from_secs(12)).await;
    settle(&pool).await;
    assert_eq!((pool.size(), pool.manager().live()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn failed_connects_are_retried_with_capped_exponential_backoff() {
    let mut cfg = config(1, 2);
    cfg.backoff_initial = Duration::from_millis(100);
    cfg.backoff_max = Duration::from_millis(800);
    let pool = pool(cfg);
    pool.manager().script.lock().refuse_connects = true;
    let start = Instant::now();
    let err = pool.start().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ConnectionLost);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let at: Vec<u64> = pool
        .manager()
        .script
        .lock()
        .connect_times
        .iter()
        .map(|t| (*t - start).as_millis() as u64)
        .collect();
    assert_eq!(at, [0, 100, 300, 700, 1500, 2300]);
    assert_eq!(pool.stats().connect_errors, 6);

    pool.manager().script.lock().refuse_connects = false;
    tokio::time::sleep(Duration::from_millis(800)).await;
    settle(&pool).await;
    assert_eq!((pool.size(), pool.stats().connects), (1, 1));
    // Healthy again: no further attempts.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(pool.manager().script.lock().connect_times.len(), 7);
}

#[tokio::test(start_paused = true)]
async fn waiter_fails_fast_while_the_server_refuses() {
    let pool = pool(config(0, 2));
    pool.manager().script.lock().refuse_connects = true;
    let start = Instant::now();
    let err = pool
        .acquire(Some(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, start.elapsed()),
        (ErrorKind::ConnectionLost, Duration::ZERO)
    );
}
