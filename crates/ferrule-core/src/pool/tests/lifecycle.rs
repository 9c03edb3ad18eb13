//! Start, close, terminate, expire, drop, and configuration errors.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::mock::MockManager;
use super::{config, pool, settle};
use crate::pool::{Pool, PoolConfig, Recycle};
use crate::ErrorKind;

fn counts(pool: &Pool<MockManager>) -> (usize, usize, usize) {
    let c = &pool.manager().counts;
    (
        MockManager::count(&c.live),
        MockManager::count(&c.double_closed),
        MockManager::count(&c.leaked),
    )
}

#[tokio::test(start_paused = true)]
async fn close_waits_for_connections_in_use() {
    let pool = pool(config(2, 2));
    pool.start().await.unwrap();
    let held = pool.acquire(None).await.unwrap();
    let closer = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.close(Duration::from_secs(10)).await;
            Instant::now()
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!closer.is_finished());
    assert_eq!(
        pool.manager().live(),
        1,
        "the idle connection is closed at once"
    );
    let err = pool.acquire(None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Closed);

    let released = Instant::now();
    drop(held);
    assert_eq!(closer.await.unwrap(), released);
    assert!(pool.is_closed());
    assert_eq!(counts(&pool), (0, 0, 0));
    assert_eq!(pool.size(), 0);
}

#[tokio::test(start_paused = true)]
async fn close_closes_connections_still_in_use_after_its_timeout() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    let held = pool.acquire(None).await.unwrap();
    let start = Instant::now();
    pool.close(Duration::from_secs(1)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert!(held.flags.closed.load(Ordering::Relaxed));
    assert_eq!(counts(&pool), (0, 0, 0));
    drop(held);
    settle(&pool).await;
    assert_eq!(
        counts(&pool),
        (0, 0, 0),
        "a late release closes nothing twice"
    );
}

#[tokio::test(start_paused = true)]
async fn close_fails_the_waiters() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    let held = pool.acquire(None).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire(None).await.map(|c| c.pool_id()) }
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let closer = tokio::spawn({
        let pool = pool.clone();
        async move { pool.close(Duration::from_secs(5)).await }
    });
    assert_eq!(waiter.await.unwrap().unwrap_err().kind, ErrorKind::Closed);
    held.release().await;
    closer.await.unwrap();
    assert_eq!(counts(&pool), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn connection_released_to_a_closing_pool_is_closed_after_its_reset() {
    let pool = pool(config(1, 1));
    pool.start().await.unwrap();
    pool.manager().script.lock().reset_delay = Duration::from_millis(50);
    let held = pool.acquire(None).await.unwrap();
    held.make_dirty();
    drop(held);
    pool.close(Duration::from_secs(5)).await;
    assert_eq!(counts(&pool), (0, 0, 0));
    assert_eq!(MockManager::count(&pool.manager().counts.resets), 1);
}

#[tokio::test(start_paused = true)]
async fn terminate_closes_everything_now() {
    let pool = pool(config(3, 3));
    pool.start().await.unwrap();
    let held = pool.acquire(None).await.unwrap();
    pool.terminate();
    settle(&pool).await;
    assert_eq!(counts(&pool), (0, 0, 0));
    assert_eq!(pool.size(), 0);
    assert_eq!(
        pool.acquire(None).await.unwrap_err().kind,
        ErrorKind::Closed
    );
    drop(held);
    settle(&pool).await;
    assert_eq!(counts(&pool), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_pool_handle_terminates_it() {
    let pool = pool(config(2, 2));
    pool.start().await.unwrap();
    let manager_counts = pool.manager().counts.clone();
    drop(pool);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(MockManager::count(&manager_counts.live), 0);
    assert_eq!(MockManager::count(&manager_counts.leaked), 0);
}

#[tokio::test(start_paused = true)]
async fn expire_connections_replaces_idle_now_and_in_use_at_release() {
    let pool = pool(config(2, 3));
    pool.start().await.unwrap();
    let held = pool.acquire(None).await.unwrap();
    let held_id = held.pool_id();
    pool.expire_connections();
    settle_opens(&pool).await;
    assert_eq!(pool.size(), 2, "the idle one is replaced");
    assert!(!held.flags.closed.load(Ordering::Relaxed));
    drop(held);
    settle(&pool).await;
    assert_eq!(
        (pool.size(), pool.idle_size(), pool.manager().live()),
        (2, 2, 2)
    );
    assert_eq!(MockManager::count(&pool.manager().counts.closed), 2);
    let a = pool.acquire(None).await.unwrap();
    let b = pool.acquire(None).await.unwrap();
    assert!(a.pool_id() > held_id && b.pool_id() > held_id);
}

async fn settle_opens(pool: &Pool<MockManager>) {
    while pool.stats().opening > 0 || pool.stats().closing > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn start_reports_the_connect_error_and_keeps_what_opened() {
    let pool = pool(config(3, 3));
    pool.manager().script.lock().fail_next_connects = 1;
    let err = pool.start().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ConnectionLost);
    assert_eq!(pool.size(), 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        pool.size(),
        3,
        "the missing one is opened in the background"
    );
}

#[test]
fn invalid_configuration_is_refused_by_name() {
    let bad = [
        (
            PoolConfig {
                min_size: 5,
                max_size: 2,
                ..PoolConfig::default()
            },
            "min_size",
        ),
        (
            PoolConfig {
                max_size: 0,
                min_size: 0,
                ..PoolConfig::default()
            },
            "max_size",
        ),
        (
            PoolConfig {
                max_queries: Some(0),
                ..PoolConfig::default()
            },
            "max_queries",
        ),
        (
            PoolConfig {
                max_lifetime: Some(Duration::ZERO),
                ..PoolConfig::default()
            },
            "max_lifetime",
        ),
    ];
    for (config, field) in bad {
        let err = Pool::new(MockManager::default(), config).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Interface);
        assert!(err.message.contains(field), "{}", err.message);
    }
}

#[test]
fn recycle_modes_parse_by_name() {
    assert_eq!("fast".parse::<Recycle>().unwrap(), Recycle::Fast);
    assert_eq!("Verified".parse::<Recycle>().unwrap(), Recycle::Verified);
    assert_eq!("clean".parse::<Recycle>().unwrap(), Recycle::Clean);
    assert_eq!(Recycle::Verified.name(), "verified");
    let err = "slow".parse::<Recycle>().unwrap_err();
    assert!(err.message.contains("slow"), "{}", err.message);
}

#[tokio::test(start_paused = true)]
async fn stats_add_up() {
    let pool = pool(config(1, 2));
    pool.start().await.unwrap();
    let a = pool.acquire(None).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move {
            let b = pool.acquire(None).await.unwrap();
            let c = pool.acquire(None).await.unwrap();
            (b, c)
        }
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let stats = pool.stats();
    assert_eq!((stats.size, stats.in_use, stats.waiting), (2, 2, 1));
    tokio::time::sleep(Duration::from_millis(99)).await;
    drop(a);
    let (b, c) = waiter.await.unwrap();
    drop((b, c));
    let stats = pool.stats();
    assert_eq!((stats.acquisitions, stats.waiting, stats.idle), (3, 0, 2));
    assert_eq!(stats.total_wait, Duration::from_millis(100));
    assert_eq!(stats.avg_wait, Duration::from_millis(100) / 3);
}
