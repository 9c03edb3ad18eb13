"""Server-side faults: backends of the pool killed while busy or idle, and a server restart
under load. The pool reports the loss of the connections in use and replaces every lost
connection."""

from __future__ import annotations

import asyncio
import time

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster
from tests.pg.pool_support import (
    app_name,
    server_pids,
    settle,
    settle_sessions,
    terminate_app_backends,
    terminate_backends,
)

# How a call learns that the server ended its session: the server's own FATAL error (such as
# AdminShutdownError, a ConnectionLostError), or the socket closing under it.
LOST = (ferrule.ConnectionLostError, ferrule.ConnectionClosedError)


async def test_idle_connections_killed_are_replaced(pg_dsn: str, pg_cluster: PgCluster) -> None:
    app = app_name("killidle")
    async with ferrule.create_pool(pg_dsn, min_size=4, max_size=4, application_name=app) as pool:
        before = await asyncio.to_thread(server_pids, pg_cluster, app)
        assert len(before) == 4
        await asyncio.to_thread(terminate_backends, pg_cluster, before)
        # A call sent at the very moment the server hangs up fails with the server's error;
        # once the hang-up has arrived, nobody is handed a dead connection.
        await asyncio.sleep(0.1)
        results = await asyncio.gather(*(pool.fetchval("SELECT $1::int4", i) for i in range(40)))
        assert results == list(range(40))
        assert await settle(lambda: pool.get_size() == 4 and pool.get_idle_size() == 4)
        after = await asyncio.to_thread(server_pids, pg_cluster, app)
        assert len(after) == 4 and not before & after
        assert pool.stats()["closed_broken"] == 4


async def test_busy_connections_killed_fail_fast_and_are_replaced(
    pg_dsn: str, pg_cluster: PgCluster
) -> None:
    app = app_name("killbusy")
    async with ferrule.create_pool(pg_dsn, min_size=3, max_size=3, application_name=app) as pool:
        held = await pool.acquire()
        try:
            busy = [asyncio.ensure_future(pool.execute("SELECT pg_sleep(30)")) for _ in range(2)]
            in_held = asyncio.ensure_future(held.execute("SELECT pg_sleep(30)"))
            await asyncio.sleep(0.2)
            pids = await asyncio.to_thread(server_pids, pg_cluster, app)
            assert await asyncio.to_thread(terminate_app_backends, pg_cluster, app) == 3
            killed_at = time.monotonic()
            for task in [*busy, in_held]:
                with pytest.raises(LOST):
                    await asyncio.wait_for(task, 5)
            # The calls fail as soon as the server hangs up (the figure: within 100 ms).
            noticed = time.monotonic() - killed_at
            print(f"connection loss reported {noticed * 1000:.0f} ms after the kill")
            assert noticed < 0.5
            assert held.is_closed()
            await pool.release(held)
            assert await pool.fetchval("SELECT 1") == 1
            assert await settle(lambda: pool.get_size() == 3)
            after = await asyncio.to_thread(server_pids, pg_cluster, app)
            assert len(after) == 3 and not pids & after
        finally:
            # Close would wait for a connection still held.
            await pool.release(held)


async def test_server_restart_under_load(pg_dsn: str, pg_local_cluster: PgCluster) -> None:
    app = app_name("restart")
    async with ferrule.create_pool(pg_dsn, min_size=5, max_size=10, application_name=app) as pool:
        stop = False
        ok_after_restart = 0
        restarted_at: float | None = None
        first_ok_after: float | None = None
        failures: list[type[BaseException]] = []

        async def worker(w: int) -> None:
            nonlocal ok_after_restart, first_ok_after
            while not stop:
                try:
                    assert await pool.fetchval("SELECT $1::int4", w) == w
                except ferrule.Error as exc:
                    failures.append(type(exc))
                    await asyncio.sleep(0.01)
                    continue
                if restarted_at is not None:
                    ok_after_restart += 1
                    if first_ok_after is None:
                        first_ok_after = time.monotonic()

        workers = [asyncio.ensure_future(worker(w)) for w in range(20)]
        await asyncio.sleep(0.3)
        restart_started = time.monotonic()
        await asyncio.to_thread(pg_local_cluster.restart)
        restarted_at = time.monotonic()
        assert await settle(lambda: ok_after_restart >= 100, timeout=10)
        hundred_ok = time.monotonic() - restarted_at
        stop = True
        await asyncio.wait_for(asyncio.gather(*workers), 10)

        assert first_ok_after is not None
        recovery = first_ok_after - restarted_at
        print(
            f"restart took {restarted_at - restart_started:.2f}s; first success "
            f"{recovery * 1000:.0f} ms after, 100 successes {hundred_ok * 1000:.0f} ms after; "
            f"{len(failures)} failed calls meanwhile: {sorted({f.__name__ for f in failures})}"
        )
        assert recovery < 1.0
        assert failures, "the restart should have failed some calls"
        assert all(issubclass(f, ferrule.Error) for f in failures)
        assert await settle(lambda: pool.stats()["in_use"] == 0 and pool.stats()["opening"] == 0)
        size = pool.get_size()
        assert 5 <= size <= 10
        assert await settle_sessions(pg_local_cluster, app, size) == size
