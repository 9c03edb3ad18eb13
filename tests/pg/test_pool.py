"""The pool's API: creating it, the one-call queries, lending, sizes, statistics, hooks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ferrule
from ferrule.pool import _hand_back
from tests.common.pg_cluster import PgCluster
from tests.pg.pool_support import app_name, settle_sessions


async def test_create_pool_awaited_and_as_context(pg_dsn: str) -> None:
    pool = await ferrule.create_pool(pg_dsn, min_size=2, max_size=4)
    try:
        assert isinstance(pool, ferrule.Pool)
        assert pool.get_size() == 2
        assert pool.get_idle_size() == 2
        assert (pool.get_min_size(), pool.get_max_size()) == (2, 4)
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
    assert pool.is_closing()

    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=2) as pool:
        assert await pool.fetchval("SELECT $1::int4 + 1", 41) == 42
    assert pool.is_closing()


async def test_one_call_queries(pg_dsn: str, pg_table: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=3) as pool:
        rows = await pool.fetch("SELECT i, 'n' || i AS name FROM generate_series(1, $1) i", 3)
        assert [tuple(r) for r in rows] == [(1, "n1"), (2, "n2"), (3, "n3")]
        row = await pool.fetchrow("SELECT 1 AS a, 2 AS b")
        assert row is not None and row["b"] == 2
        assert await pool.fetchrow("SELECT 1 WHERE false") is None
        # A large result streams to the loop in batches while the job holds the connection.
        big = await pool.fetch("SELECT i, repeat('x', 100) FROM generate_series(1, $1) i", 50_000)
        assert len(big) == 50_000 and big[-1][0] == 50_000
        assert await pool.fetchval("SELECT 1, 2", column=1) == 2
        created = await pool.execute(f"CREATE TABLE {pg_table} (a int PRIMARY KEY, b text)")
        assert created == "CREATE TABLE"
        assert await pool.execute(f"INSERT INTO {pg_table} VALUES ($1, $2)", 1, "x") == (
            "INSERT 0 1"
        )
        await pool.executemany(f"INSERT INTO {pg_table} VALUES ($1, $2)", [(2, "y"), (3, "z")])
        assert await pool.fetchval(f"SELECT count(*) FROM {pg_table}") == 3
        with pytest.raises(ferrule.UniqueViolationError):
            await pool.execute(f"INSERT INTO {pg_table} VALUES ($1, $2)", 1, "again")
    # A failed call gives its connection back like any other.
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        with pytest.raises(ferrule.DivisionByZeroError):
            await pool.fetchval("SELECT 1 / $1::int4", 0)
        assert await pool.fetchval("SELECT 2") == 2
        assert pool.stats()["in_use"] == 0


async def test_acquire_context_and_awaitable(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            assert isinstance(conn, ferrule.PoolConnection)
            assert isinstance(conn, ferrule.PgConnection)
            assert pool.get_idle_size() == 0
            assert await conn.fetchval("SELECT 7") == 7
            async with conn.transaction():
                await conn.execute("SELECT 1")
                assert conn.is_in_transaction()
            stmt = await conn.prepare("SELECT $1::int4 * 2")
            assert await stmt.fetchval(21) == 42
            assert conn.get_server_pid() > 0
        assert conn.is_released()
        assert pool.get_idle_size() == 1

        conn = await pool.acquire(timeout=1.0)
        assert await conn.fetchval("SELECT 8") == 8
        await pool.release(conn)
        await pool.release(conn)  # a second release does nothing
        assert pool.get_idle_size() == pool.get_size()


async def test_released_connection_refuses_use(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            stmt = await conn.prepare("SELECT 1")
        assert conn.is_closed()
        assert "released" in repr(conn)
        for call in (
            lambda: conn.fetch("SELECT 1"),
            lambda: conn.execute("SELECT 1"),
            lambda: conn.executemany("SELECT $1", [(1,)]),
            lambda: stmt.fetchval(),
        ):
            with pytest.raises(ferrule.ConnectionClosedError, match="released"):
                await call()
        with pytest.raises(ferrule.ConnectionClosedError):
            conn.get_server_pid()


async def test_release_checks_ownership(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as one:
        async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as other:
            conn = await one.acquire()
            try:
                with pytest.raises(ferrule.InterfaceError, match="not acquired from this pool"):
                    await other.release(conn)
            finally:
                await one.release(conn)
        plain = await ferrule.connect(pg_dsn)
        with pytest.raises(ferrule.InterfaceError):
            await one.release(plain)  # type: ignore[arg-type]
        await plain.close()


async def test_close_and_terminate_through_a_lent_connection(
    pg_dsn: str, pg_cluster: PgCluster
) -> None:
    app = app_name("connclose")
    async with ferrule.create_pool(pg_dsn, min_size=2, max_size=2, application_name=app) as pool:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.close()
        assert conn.is_closed()
        conn = await pool.acquire()
        conn.terminate()
        assert conn.is_closed()
        pids = set()
        for _ in range(4):
            async with pool.acquire() as c:
                pids.add(c.get_server_pid())
        assert pid not in pids
        assert await settle_sessions(pg_cluster, app, 2) == 2


async def test_stats(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=2) as pool:
        for i in range(5):
            await pool.fetchval("SELECT $1::int4", i)
        stats = pool.stats()
        assert stats["acquisitions"] == 5
        assert stats["size"] == 1 and stats["idle"] == 1 and stats["in_use"] == 0
        assert stats["waiting"] == 0 and stats["timeouts"] == 0
        assert stats["connects"] == 1 and stats["resets"] == 0
        assert stats["avg_wait"] >= 0.0
        assert set(stats) == set(ferrule.PoolStats.__annotations__)
        assert "size=1" in repr(pool)


async def test_bad_options() -> None:
    with pytest.raises(ValueError, match="min_size"):
        ferrule.create_pool(min_size=5, max_size=2)
    with pytest.raises(ValueError, match="max_size"):
        ferrule.create_pool(max_size=0, min_size=0)
    with pytest.raises(ValueError, match="max_queries"):
        ferrule.create_pool(max_queries=0)
    with pytest.raises(ValueError, match="recycle"):
        ferrule.create_pool(recycle="sometimes")
    with pytest.raises(ValueError, match="max_lifetime"):
        ferrule.create_pool(max_lifetime=0)
    with pytest.raises(TypeError, match="init"):
        ferrule.create_pool(init=42)  # type: ignore[arg-type]
    with pytest.raises(ferrule.InterfaceError, match="scheme"):
        await ferrule.create_pool("mysql://x/y")


async def test_not_started_and_closed(pg_dsn: str) -> None:
    pool = ferrule.create_pool(pg_dsn, min_size=1, max_size=1)
    with pytest.raises(ferrule.InterfaceError, match="not started"):
        await pool.fetch("SELECT 1")
    assert "not started" in repr(pool)
    await pool
    await pool  # awaiting again is harmless
    await pool.close()
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.fetchval("SELECT 1")
    with pytest.raises(ferrule.ConnectionClosedError):
        await pool.acquire()


async def test_connect_failure_fails_create_pool(pg_cluster: PgCluster) -> None:
    dsn = pg_cluster.dsn(user="ferrule_nobody_here")
    with pytest.raises(ferrule.Error):
        await ferrule.create_pool(dsn, min_size=2, max_size=2, sslmode="disable")


async def test_init_runs_once_per_connection(pg_dsn: str) -> None:
    inits: list[int] = []

    async def init(conn: ferrule.Connection) -> None:
        assert isinstance(conn, ferrule.PgConnection)
        inits.append(conn.get_server_pid())
        await conn.execute("PREPARE from_init AS SELECT 'made by init'")

    async with ferrule.create_pool(pg_dsn, min_size=2, max_size=3, init=init) as pool:
        assert len(inits) == 2
        for _ in range(5):
            assert await pool.fetchval("EXECUTE from_init") == "made by init"
        async with pool.acquire() as a, pool.acquire() as b, pool.acquire() as c:
            assert {a.get_server_pid(), b.get_server_pid(), c.get_server_pid()} == set(inits)
        assert len(inits) == 3
        assert pool.stats()["connects"] == 3


async def test_init_error_is_raised(pg_dsn: str, pg_cluster: PgCluster) -> None:
    app = app_name("initerror")

    async def init(conn: ferrule.Connection) -> None:
        raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        await ferrule.create_pool(pg_dsn, min_size=2, max_size=2, init=init, application_name=app)
    assert await settle_sessions(pg_cluster, app, 0) == 0


async def test_setup_runs_at_each_acquire(pg_dsn: str) -> None:
    seen: list[Any] = []

    async def setup(conn: ferrule.Connection) -> None:
        seen.append(conn)

    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1, setup=setup) as pool:
        async with pool.acquire() as conn:
            assert seen == [conn]
        assert await pool.fetchval("SELECT 3") == 3
        assert await pool.execute("SELECT 1") == "SELECT 1"
        await pool.executemany("SELECT $1::int4", [(1,), (2,)])
        assert len(seen) == 4


async def test_setup_error_gives_the_connection_back(pg_dsn: str) -> None:
    async def setup(conn: ferrule.Connection) -> None:
        raise RuntimeError("setup failed")

    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1, setup=setup) as pool:
        for _ in range(3):
            with pytest.raises(RuntimeError, match="setup failed"):
                await pool.acquire(timeout=1.0)
        assert await settle_idle(pool, 1)


async def settle_idle(pool: ferrule.Pool, idle: int) -> bool:
    for _ in range(100):
        if pool.get_idle_size() == idle:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_reset_hook_replaces_the_builtin_reset(pg_dsn: str) -> None:
    resets: list[str] = []

    async def reset(conn: ferrule.Connection) -> None:
        resets.append(await conn.fetchval("SHOW statement_timeout"))
        await conn.execute("RESET statement_timeout")

    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1, reset=reset) as pool:
        await pool.execute("SET statement_timeout = 4321")
        assert await pool.fetchval("SHOW statement_timeout") == "0"
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
        # It runs at every release; the pool still rolls back what the hook left open.
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
        assert resets[0] == "4321ms"
        assert len(resets) == 4


async def test_reset_hook_error_replaces_the_connection(pg_dsn: str) -> None:
    async def reset(conn: ferrule.Connection) -> None:
        raise RuntimeError("reset failed")

    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1, reset=reset) as pool:
        async with pool.acquire() as conn:
            first = conn.get_server_pid()
        async with pool.acquire() as conn:
            assert conn.get_server_pid() != first
        assert pool.stats()["closed_broken"] >= 1


class _Delivered:
    released = False

    def release(self) -> None:
        self.released = True


async def test_hand_back_of_a_connection_delivered_to_a_cancelled_caller() -> None:
    loop = asyncio.get_running_loop()
    delivered: asyncio.Future[Any] = loop.create_future()
    conn = _Delivered()
    delivered.set_result(conn)
    _hand_back(delivered)
    assert conn.released
    cancelled: asyncio.Future[Any] = loop.create_future()
    cancelled.cancel()
    _hand_back(cancelled)
    failed: asyncio.Future[Any] = loop.create_future()
    failed.set_exception(RuntimeError("x"))
    _hand_back(failed)
    assert failed.exception() is not None


async def test_type_codec_lasts_for_the_loan(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            await conn.set_type_codec("int4", decoder=lambda text: f"int:{text}")
            assert await conn.fetchval("SELECT 7::int4") == "int:7"
        # The next user of the same connection reads int4 as ferrule does.
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 7::int4") == 7
        assert await pool.fetchval("SELECT 7::int4") == 7


async def test_listeners_last_for_the_loan(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        got: list[str] = []
        async with pool.acquire() as conn:
            await conn.add_listener("pool_events", lambda c, pid, ch, payload: got.append(payload))
            await conn.execute("NOTIFY pool_events, 'one'")
            for _ in range(100):
                if got:
                    break
                await asyncio.sleep(0.01)
        assert got == ["one"]
        async with pool.acquire() as conn:
            # The reset ran UNLISTEN; the old callback is no longer routed either.
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            await conn.execute("LISTEN pool_events")
            await conn.execute("NOTIFY pool_events, 'two'")
            await asyncio.sleep(0.1)
        assert got == ["one"]


async def test_lent_connection_pipeline_and_copy(pg_dsn: str, pg_table: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            first, second = await conn.pipeline([("SELECT $1::int4 AS a", (1,)), "SELECT 2 AS b"])
            assert first[0]["a"] == 1 and second[0]["b"] == 2
            await conn.execute(f"CREATE TABLE {pg_table} (a int, b text)")
            status = await conn.copy_records_to_table(pg_table, records=[(1, "x"), (2, "y")])
            assert status == "COPY 2"
        assert await pool.fetchval(f"SELECT count(*) FROM {pg_table}") == 2
