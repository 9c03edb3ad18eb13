"""Timeouts and cancellation: on time, stopped on the server, the connection kept in sync."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster
from tests.pg.helpers import backend_state, wait_until

Connect = Callable[..., Awaitable[ferrule.PgConnection]]


async def _server_idle(cluster: PgCluster, pid: int) -> bool:
    return await asyncio.to_thread(backend_state, cluster, pid) in ("idle", "idle in transaction")


async def _assert_stopped_on_server(cluster: PgCluster, pid: int) -> None:
    # The server answered the cancellation before the call returned, so this holds at once;
    # the short wait only absorbs the statistics collector's own update.
    assert await wait_until(lambda: _server_idle(cluster, pid), timeout=1.0), (
        f"backend {pid} is still {backend_state(cluster, pid)!r}"
    )


async def test_timeout_on_time_and_stopped_on_the_server(
    pg_cluster: PgCluster, conn: ferrule.PgConnection
) -> None:
    pid = conn.get_server_pid()
    elapsed = []
    for _ in range(5):
        started = time.monotonic()
        with pytest.raises(ferrule.TimeoutError) as info:
            await conn.fetchval("SELECT pg_sleep(10)", timeout=0.2)
        elapsed.append(time.monotonic() - started)
        assert isinstance(info.value, TimeoutError)  # also the built-in / asyncio one
        await _assert_stopped_on_server(pg_cluster, pid)
        assert await conn.fetchval("SELECT 'usable'") == "usable"
    assert min(elapsed) >= 0.2
    assert statistics.median(elapsed) <= 0.25, elapsed
    assert max(elapsed) < 0.5, elapsed


async def test_timeout_keeps_the_transaction_usable_only_after_rollback(
    conn: ferrule.PgConnection,
) -> None:
    async with conn.transaction():
        with pytest.raises(ferrule.TimeoutError):
            await conn.execute("SELECT pg_sleep(10)", timeout=0.1)
        # The cancelled statement failed the transaction, as any error would.
        assert conn._impl.transaction_status() == "failed"
        with pytest.raises(ferrule.InFailedSQLTransactionError):
            await conn.fetchval("SELECT 1")
    assert await conn.fetchval("SELECT 1") == 1


async def test_command_timeout(connect: Connect, pg_cluster: PgCluster) -> None:
    conn = await connect(command_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ferrule.TimeoutError):
        await conn.fetch("SELECT pg_sleep(10)")
    assert time.monotonic() - started < 0.5
    await _assert_stopped_on_server(pg_cluster, conn.get_server_pid())
    # A call's own timeout wins over the connection's.
    assert await conn.fetchval("SELECT 1 FROM pg_sleep(0.4)", timeout=2) == 1
    with pytest.raises(ferrule.TimeoutError):
        await conn.execute("SELECT pg_sleep(10)", timeout=0.1)


@pytest.mark.parametrize("method", ["fetch", "fetchrow", "fetchval", "execute", "executemany"])
async def test_every_call_takes_a_timeout(conn: ferrule.PgConnection, method: str) -> None:
    started = time.monotonic()
    with pytest.raises(ferrule.TimeoutError):
        if method == "executemany":
            await conn.executemany("SELECT pg_sleep($1)", [(0.0,), (10.0,)], timeout=0.1)
        else:
            await getattr(conn, method)("SELECT pg_sleep($1)", 10.0, timeout=0.1)
    assert time.monotonic() - started < 0.5
    assert await conn.fetchval("SELECT 5") == 5


async def test_cursor_and_prepared_timeouts(conn: ferrule.PgConnection) -> None:
    stmt = await conn.prepare("SELECT pg_sleep($1)")
    with pytest.raises(ferrule.TimeoutError):
        await stmt.fetchval(10.0, timeout=0.1)
    async with conn.transaction():
        cur = await conn.cursor(
            "SELECT g, pg_sleep(CASE WHEN g > 1 THEN 10 ELSE 0 END) FROM generate_series(1, 3) g"
        )
        with pytest.raises(ferrule.TimeoutError):
            await cur.fetch(2, timeout=0.1)
    assert await conn.fetchval("SELECT 6") == 6


async def test_cancelled_task_returns_quickly(
    pg_cluster: PgCluster, conn: ferrule.PgConnection
) -> None:
    task = asyncio.create_task(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    # The same connection runs a query inside a transaction right away.
    async with conn.transaction():
        assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
    await _assert_stopped_on_server(pg_cluster, conn.get_server_pid())


async def test_wait_for_cancels_on_the_server(
    pg_cluster: PgCluster, conn: ferrule.PgConnection
) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(conn.fetchval("SELECT pg_sleep(10)"), 0.2)
    await _assert_stopped_on_server(pg_cluster, conn.get_server_pid())
    assert await conn.fetchval("SELECT 8") == 8


async def test_timeout_of_a_queued_call(conn: ferrule.PgConnection) -> None:
    # The second call waits behind the first and times out before it is run; the first is
    # not disturbed and later calls get their own results.
    slow = asyncio.create_task(conn.fetchval("SELECT 1 FROM pg_sleep(0.5)"))
    await asyncio.sleep(0.05)
    with pytest.raises(ferrule.TimeoutError):
        await conn.fetchval("SELECT 2", timeout=0.1)
    assert await slow == 1
    assert [await conn.fetchval("SELECT $1::int", i) for i in range(20)] == list(range(20))


async def test_server_statement_timeout_is_query_canceled(conn: ferrule.PgConnection) -> None:
    await conn.execute("SET statement_timeout = '100ms'")
    with pytest.raises(ferrule.QueryCanceledError) as info:
        await conn.fetchval("SELECT pg_sleep(5)")
    assert info.value.sqlstate == "57014"
    assert not isinstance(info.value, ferrule.TimeoutError)
    await conn.execute("RESET statement_timeout")


async def test_cancel_from_another_session(conn: ferrule.PgConnection, connect: Connect) -> None:
    admin = await connect()
    task = asyncio.create_task(conn.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.2)
    assert await admin.fetchval("SELECT pg_cancel_backend($1)", conn.get_server_pid()) is True
    with pytest.raises(ferrule.QueryCanceledError):
        await task
    assert await conn.fetchval("SELECT 9") == 9


async def test_random_cancellations_leave_the_connection_in_sync(
    conn: ferrule.PgConnection,
) -> None:
    rng = random.Random(20240601)

    async def query(i: int) -> int:
        sleep = rng.choice([0, 0, 0, 0.001, 0.005])
        value = await conn.fetchval("SELECT $1::int FROM pg_sleep($2)", i, sleep)
        assert value == i
        return value  # type: ignore[no-any-return]

    cancelled = spurious = completed = 0
    for _round in range(10):
        tasks = [asyncio.create_task(query(i)) for i in range(100)]
        await asyncio.sleep(rng.uniform(0, 0.02))
        victims = set(rng.sample(range(100), 30))
        for i in victims:
            tasks[i].cancel()
            await asyncio.sleep(rng.choice([0, 0, 0.0005]))
        for i, outcome in enumerate(await asyncio.gather(*tasks, return_exceptions=True)):
            if isinstance(outcome, asyncio.CancelledError):
                assert i in victims
                cancelled += 1
            elif isinstance(outcome, ferrule.QueryCanceledError):
                # A CancelRequest is aimed at the query the server runs at that moment; one
                # that arrives just after it finished can stop its successor (a protocol race).
                spurious += 1
            else:
                assert outcome == i, f"task {i} got {outcome!r}"
                completed += 1
        # A cancelled call still queued on the wire is cancelled when it reaches the server;
        # one that finished first leaves a CancelRequest in flight for a few ms, which could
        # stop whatever runs next. Let those settle, then check: every later result is right.
        await asyncio.sleep(0.05)
        got = await asyncio.gather(*(conn.fetchval("SELECT $1::int * 2", j) for j in range(50)))
        assert got == [j * 2 for j in range(50)]
    assert not conn.is_closed()
    assert cancelled > 0 and completed > 0
    assert spurious <= cancelled


async def test_cancelled_executemany_applies_nothing(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (id int)")
    rows = [(i, 0.0 if i < 5 else 10.0) for i in range(10)]
    task = asyncio.create_task(
        conn.executemany(f"INSERT INTO {pg_table} SELECT $1 FROM pg_sleep($2)", rows)
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 0
