"""The SQL Server pool against the TDS test server: creating it (URL and ADO.NET forms), the
one-call queries, lending, reuse, max_size, acquire timeouts, cancellation while waiting and
while running, broken connections replaced, stats and close. Session resets and hooks are in
test_pool_reset.py."""

from __future__ import annotations

import asyncio
import time

import pytest

import ferrule
from tests.common.tds_server import TdsServer

LOST = (ferrule.ConnectionLostError, ferrule.ConnectionClosedError)


async def settle(check: object, timeout: float = 5.0) -> bool:
    """Polls the callable `check` until it holds or `timeout` passes."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_create_pool_url_and_ado_forms(mssql_dsn: str, tds_server: TdsServer) -> None:
    pool = await ferrule.create_pool(mssql_dsn, min_size=2, max_size=4)
    try:
        assert isinstance(pool, ferrule.Pool)
        assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
        assert await pool.fetchval("SELECT 1") == 1
        assert "size=2" in repr(pool)
    finally:
        await pool.close()
    assert pool.is_closing()

    ado = tds_server.ado_dsn(Encrypt="no")
    async with ferrule.create_pool(ado, min_size=1, max_size=2) as pool:
        assert await pool.fetchval("SELECT @p1 + 1", 41) == 42
        async with pool.acquire() as conn:
            assert isinstance(conn, ferrule.MssqlPoolConnection)
            assert conn.get_database() == tds_server.database


async def test_one_call_queries(mssql_dsn: str, table_name: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=3) as pool:
        await pool.execute(f"CREATE TABLE {table_name} (a int PRIMARY KEY, b nvarchar(10))")
        assert await pool.execute(f"INSERT INTO {table_name} VALUES (@p1, @p2)", 1, "x") == (
            "INSERT 0 1"
        )
        await pool.executemany(f"INSERT INTO {table_name} VALUES (@p1, @p2)", [(2, "y"), (3, "z")])
        rows = await pool.fetch(f"SELECT a, b FROM {table_name} ORDER BY a")
        assert [tuple(r) for r in rows] == [(1, "x"), (2, "y"), (3, "z")]
        row = await pool.fetchrow(f"SELECT b FROM {table_name} WHERE a = @p1", 2)
        assert row is not None and row["b"] == "y"
        assert await pool.fetchrow(f"SELECT b FROM {table_name} WHERE a = @p1", 9) is None
        assert await pool.fetchval("SELECT 1, 2", column=1) == 2
        assert await pool.fetchval("SELECT @name", {"name": "by name"}) == "by name"
        with pytest.raises(ferrule.UniqueViolationError):
            await pool.execute(f"INSERT INTO {table_name} VALUES (@p1, @p2)", 1, "again")
        # executemany is all or nothing.
        with pytest.raises(ferrule.UniqueViolationError):
            await pool.executemany(
                f"INSERT INTO {table_name} VALUES (@p1, @p2)", [(4, "new"), (1, "dup")]
            )
        assert await pool.fetchval(f"SELECT count(*) FROM {table_name}") == 3
        # A failed call gives its connection back like any other.
        assert pool.stats()["in_use"] == 0


async def test_acquire_context_and_awaitable(mssql_dsn: str, table_name: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            assert isinstance(conn, ferrule.PoolConnection)
            assert isinstance(conn, ferrule.MssqlConnection)
            assert pool.get_idle_size() == 0
            await conn.execute(f"CREATE TABLE {table_name} (a int)")
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table_name} VALUES (@p1)", 7)
                assert conn.is_in_transaction()
            stmt = await conn.prepare(f"SELECT a * 2 FROM {table_name} WHERE a = @p1")
            assert await stmt.fetchval(7) == 14
            cursor_rows = [r async for r in conn.cursor(f"SELECT a FROM {table_name}")]
            assert [r[0] for r in cursor_rows] == [7]
            await conn.execute(
                f"CREATE PROCEDURE {table_name}_twice @x int, @y int OUTPUT AS "
                "BEGIN SET @y = @x * 2 END"
            )
            result = await conn.callproc(f"{table_name}_twice", x=21, y=ferrule.Output("int"))
            assert result.output == {"y": 42}
            assert await conn.copy_records_to_table(table_name, records=[(8,), (9,)]) == "COPY 2"
            assert conn.get_server_version()[0] > 0
        assert conn.is_released()
        assert pool.get_idle_size() == 1

        conn = await pool.acquire(timeout=1.0)
        assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 3
        await pool.release(conn)
        await pool.release(conn)  # a second release does nothing
        assert pool.get_idle_size() == pool.get_size()


async def test_released_connection_refuses_use(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            stmt = await conn.prepare("SELECT @p1")
        assert conn.is_closed()
        assert "released" in repr(conn)
        for call in (
            lambda: conn.fetch("SELECT 1"),
            lambda: conn.execute("SELECT 1"),
            lambda: conn.executemany("SELECT @p1", [(1,)]),
            lambda: stmt.fetchval(1),
            lambda: conn.callproc("no_such_procedure"),
        ):
            with pytest.raises(ferrule.ConnectionClosedError, match="released"):
                await call()
        with pytest.raises(ferrule.ConnectionClosedError):
            conn.get_database()


async def test_connections_are_reused(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        spids = {await pool.fetchval("SELECT @@SPID") for _ in range(10)}
        for _ in range(3):
            async with pool.acquire() as conn:
                spids.add(await conn.fetchval("SELECT @@SPID"))
        assert len(spids) == 1
        assert pool.stats()["connects"] == 1


async def test_max_size_bounds_the_connections(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=0, max_size=3) as pool:
        peak = 0

        async def one() -> int:
            nonlocal peak
            spid: int = await pool.fetchval("WAITFOR DELAY '00:00:00.050'; SELECT @@SPID")
            peak = max(peak, pool.stats()["in_use"])
            return spid

        spids = await asyncio.gather(*(one() for _ in range(30)))
        assert len(set(spids)) <= 3
        assert pool.get_size() <= 3 and peak <= 3
        stats = pool.stats()
        assert stats["connects"] <= 3 and stats["acquisitions"] == 30


async def test_acquire_timeout(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire():
            started = time.monotonic()
            with pytest.raises(ferrule.PoolTimeoutError, match="size 1 of max 1"):
                await pool.acquire(timeout=0.3)
            assert 0.25 <= time.monotonic() - started < 1.5
            # A one-call query's timeout counts its wait for a connection.
            with pytest.raises(ferrule.PoolTimeoutError):
                await pool.fetchval("SELECT 1", timeout=0.2)
        assert pool.stats()["timeouts"] == 2
        assert await pool.fetchval("SELECT 1") == 1
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1, acquire_timeout=0.2) as pool:
        async with pool.acquire():
            with pytest.raises(ferrule.PoolTimeoutError):
                await pool.execute("SELECT 1")


async def test_waiters_are_served_in_order(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        order: list[int] = []
        held = await pool.acquire()

        async def waiter(i: int) -> None:
            async with pool.acquire():
                order.append(i)

        tasks = []
        for i in range(5):
            tasks.append(asyncio.ensure_future(waiter(i)))
            await asyncio.sleep(0.02)
        await pool.release(held)
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3, 4]


async def test_cancelled_while_waiting_keeps_nothing(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        held = await pool.acquire()
        waiting = [asyncio.ensure_future(pool.acquire()) for _ in range(3)]
        one_call = asyncio.ensure_future(pool.fetchval("SELECT 1"))
        await asyncio.sleep(0.1)
        assert pool.stats()["waiting"] == 4
        for task in [*waiting, one_call]:
            task.cancel()
        await asyncio.gather(*waiting, one_call, return_exceptions=True)
        assert await settle(lambda: pool.stats()["waiting"] == 0)
        await pool.release(held)
        assert pool.get_idle_size() == 1
        assert await pool.fetchval("SELECT 2", timeout=2) == 2
        assert pool.stats()["closed_broken"] == 0


async def test_cancelled_while_running_keeps_the_connection(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        spid = await pool.fetchval("SELECT @@SPID")
        # The one-call query: the running batch is cancelled (ATTENTION) on the server.
        task = asyncio.ensure_future(pool.execute("WAITFOR DELAY '00:00:05'"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pool.fetchval("SELECT @@SPID", timeout=2) == spid
        assert time.monotonic() - started < 2
        # A call on a lent connection, likewise; its timeout cancels it the same way.
        async with pool.acquire() as conn:
            task = asyncio.ensure_future(conn.execute("WAITFOR DELAY '00:00:05'"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(ferrule.TimeoutError):
                await conn.execute("WAITFOR DELAY '00:00:05'", timeout=0.2)
            assert await conn.fetchval("SELECT @@SPID") == spid
        stats = pool.stats()
        assert stats["connects"] == 1 and stats["closed_broken"] == 0 and stats["in_use"] == 0


async def test_lent_connection_closed_or_terminated_is_replaced(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=2, max_size=2) as pool:
        async with pool.acquire() as conn:
            first = await conn.fetchval("SELECT @@SPID")
            await conn.close()
        assert conn.is_closed()
        conn = await pool.acquire()
        second = await conn.fetchval("SELECT @@SPID")
        conn.terminate()
        assert conn.is_closed() and conn.is_released()
        assert await settle(lambda: pool.get_size() == 2 and pool.get_idle_size() == 2)
        spids = set()
        async with pool.acquire() as a, pool.acquire() as b:
            spids = {await a.fetchval("SELECT @@SPID"), await b.fetchval("SELECT @@SPID")}
        assert not spids & {first, second}


async def test_killed_connections_are_replaced(mssql_dsn: str) -> None:
    """KILL from another session: a busy connection fails fast, idle ones are noticed
    before anyone is handed them, and the pool opens replacements."""
    killer = await ferrule.connect(mssql_dsn)
    try:
        async with ferrule.create_pool(mssql_dsn, min_size=3, max_size=3) as pool:
            async with pool.acquire() as a, pool.acquire() as b, pool.acquire() as c:
                spids = [await x.fetchval("SELECT @@SPID") for x in (a, b, c)]
                busy = asyncio.ensure_future(a.execute("WAITFOR DELAY '00:00:30'"))
                await asyncio.sleep(0.1)
                await killer.execute(f"KILL {int(spids[0])}")
                with pytest.raises(LOST):
                    await asyncio.wait_for(busy, 5)
            for spid in spids[1:]:
                await killer.execute(f"KILL {int(spid)}")
            # The hang-ups reach the idle connections before they are lent again.
            assert await settle(lambda: pool.stats()["closed_broken"] == 3)
            results = await asyncio.gather(*(pool.fetchval("SELECT @@SPID") for _ in range(9)))
            assert not set(results) & set(spids)
            assert await settle(lambda: pool.get_size() == 3 and pool.get_idle_size() == 3)
    finally:
        await killer.close()


async def test_stats(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=2) as pool:
        for i in range(5):
            await pool.fetchval("SELECT @p1", i)
        stats = pool.stats()
        assert stats["acquisitions"] == 5
        assert stats["size"] == 1 and stats["idle"] == 1 and stats["in_use"] == 0
        assert stats["waiting"] == 0 and stats["timeouts"] == 0 and stats["connects"] == 1
        # Releases outside a transaction only arm the flag that the next request carries.
        assert stats["resets"] == 0
        assert set(stats) == set(ferrule.PoolStats.__annotations__)


async def test_close_waits_then_closes(mssql_dsn: str) -> None:
    pool = await ferrule.create_pool(mssql_dsn, min_size=2, max_size=2)
    conn = await pool.acquire()
    closing = asyncio.ensure_future(pool.close(timeout=5))
    await asyncio.sleep(0.1)
    assert not closing.done() and pool.is_closing()
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.fetchval("SELECT 1")
    assert await conn.fetchval("SELECT 3") == 3  # the loan still works until released
    await conn.release()
    await asyncio.wait_for(closing, 5)
    assert pool.get_size() == 0

    pool = await ferrule.create_pool(mssql_dsn, min_size=1, max_size=1)
    conn = await pool.acquire()
    started = time.monotonic()
    await pool.close(timeout=0.2)
    assert time.monotonic() - started < 2
    with pytest.raises(LOST):
        await conn.fetchval("SELECT 1")
    await conn.release()


async def test_terminate(mssql_dsn: str) -> None:
    pool = await ferrule.create_pool(mssql_dsn, min_size=2, max_size=2)
    conn = await pool.acquire()
    pool.terminate()
    assert pool.is_closing()
    with pytest.raises(LOST):
        await conn.fetchval("SELECT 1")
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.acquire()
