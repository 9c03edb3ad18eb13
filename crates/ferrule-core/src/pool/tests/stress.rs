//! Thousands of acquires and releases cut short at random points on a multi-thread runtime,
//! in real time: afterwards every connection is idle, none is lost, leaked or shared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::mock::MockManager;
use super::{chance, config, pool, random_duration, random_unit};
use crate::pool::{Pool, Recycle};

const TASKS: usize = 50;
const ROUNDS: usize = 150;

/// One user: acquire (maybe cut short), use (maybe dirty or break it), give back in one of the
/// ways a program can.
async fn user(pool: Pool<MockManager>, granted: Arc<AtomicUsize>, cut: Arc<AtomicUsize>) {
    for _ in 0..ROUNDS {
        let acquired = if chance(0.5) {
            // The future is dropped wherever it happens to be when the timer fires.
            match tokio::time::timeout(
                random_duration(Duration::from_millis(4)),
                pool.acquire(None),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => {
                    cut.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        } else {
            pool.acquire(Some(random_duration(Duration::from_millis(4))))
                .await
        };
        let Ok(conn) = acquired else { continue };
        granted.fetch_add(1, Ordering::Relaxed);
        let busy = conn.enter();
        conn.count_query();
        if chance(0.3) {
            conn.make_dirty();
        }
        if chance(0.02) {
            conn.break_it();
        }
        if chance(0.5) {
            tokio::time::sleep(random_duration(Duration::from_micros(500))).await;
        } else {
            tokio::task::yield_now().await;
        }
        drop(busy);
        let way = random_unit();
        if way < 0.35 {
            drop(conn);
        } else if way < 0.7 {
            conn.release().await;
        } else if way < 0.85 {
            let release = conn.release();
            let _ =
                tokio::time::timeout(random_duration(Duration::from_micros(300)), release).await;
        } else if way < 0.98 {
            tokio::spawn(async move { drop(conn) });
        } else {
            conn.discard();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_cancellations_never_lose_or_share_a_connection() {
    let mut cfg = config(2, 8);
    cfg.recycle = Recycle::Verified;
    cfg.check_after_idle = Duration::from_micros(200);
    cfg.max_queries = Some(40);
    cfg.max_lifetime = Some(Duration::from_millis(300));
    cfg.max_idle = Some(Duration::from_millis(100));
    let pool = pool(cfg);
    pool.manager().script.lock().random_delays = Some(Duration::from_micros(500));
    pool.start().await.unwrap();

    let granted = Arc::new(AtomicUsize::new(0));
    let cut = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        tasks.push(tokio::spawn(user(
            pool.clone(),
            granted.clone(),
            cut.clone(),
        )));
    }
    // Whole tasks are aborted at random too, and every connection is expired twice.
    for round in 0..10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let victim = (random_unit() * TASKS as f64) as usize;
        tasks[victim].abort();
        if round % 5 == 2 {
            pool.expire_connections();
        }
    }
    for task in tasks {
        let _ = task.await;
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = pool.stats();
        let quiet = s.in_use == 0 && s.opening == 0 && s.closing == 0 && s.waiting == 0;
        if quiet && pool.manager().live() == s.size {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pool never settled: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let stats = pool.stats();
    let counts = &pool.manager().counts;
    assert_eq!(stats.size, stats.idle, "{stats:?}");
    assert!(stats.size >= 2 && stats.size <= 8, "{stats:?}");
    assert_eq!(
        MockManager::count(&counts.overlaps),
        0,
        "a connection was lent twice at once"
    );
    assert_eq!(
        MockManager::count(&counts.leaked),
        0,
        "a connection was dropped unclosed"
    );
    assert_eq!(MockManager::count(&counts.double_closed), 0);
    let opened = MockManager::count(&counts.opened);
    assert_eq!(opened - MockManager::count(&counts.closed), stats.size);
    let (granted, cut) = (granted.load(Ordering::Relaxed), cut.load(Ordering::Relaxed));
    eprintln!("loans {granted}, acquires cut {cut}, {stats:?}");
    assert!(granted >= 1000, "too few loans: {granted} {stats:?}");
    assert!(
        cut + stats.timeouts as usize >= 1000,
        "too few cancellations: {cut} {stats:?}"
    );
    assert!(
        stats.resets > 0 && stats.closed_broken > 0 && opened > 8,
        "{stats:?}"
    );

    pool.close(Duration::from_secs(1)).await;
    assert_eq!(pool.manager().live(), 0);
    assert_eq!(MockManager::count(&counts.leaked), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_under_load_closes_every_connection_once() {
    for terminate in [false, true] {
        let mut cfg = config(2, 8);
        cfg.max_queries = Some(20);
        let pool = pool(cfg);
        pool.manager().script.lock().random_delays = Some(Duration::from_micros(500));
        pool.start().await.unwrap();
        let (granted, cut) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| tokio::spawn(user(pool.clone(), granted.clone(), cut.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(30)).await;
        if terminate {
            pool.terminate();
        } else {
            pool.close(Duration::from_millis(2)).await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.manager().live() > 0 || pool.stats().closing > 0 {
            assert!(std::time::Instant::now() < deadline, "{:?}", pool.stats());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let counts = &pool.manager().counts;
        assert_eq!(pool.size(), 0);
        assert_eq!(MockManager::count(&counts.leaked), 0);
        assert_eq!(MockManager::count(&counts.double_closed), 0);
        assert_eq!(MockManager::count(&counts.overlaps), 0);
        assert!(granted.load(Ordering::Relaxed) > 0);
    }
}
