"""Release: a connection returned dirty (transaction, settings, LISTEN, locks, cursors,
temporary tables, SQL prepared statements, roles) is reset before anyone else gets it; a
clean one is not reset at all."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable

import pytest

import ferrule
from tests.pg.pool_support import settle

# One query that shows every kind of session state the pool must clear.
SQL_SESSION = """
SELECT current_setting('statement_timeout') AS statement_timeout,
       current_setting('search_path') AS search_path,
       (SELECT count(*) FROM pg_listening_channels()) AS listening,
       (SELECT count(*) FROM pg_locks
         WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
       (SELECT count(*) FROM pg_cursors) AS cursors,
       (SELECT count(*) FROM pg_prepared_statements WHERE from_sql) AS sql_prepared,
       (SELECT count(*) FROM pg_class
         WHERE relnamespace = pg_my_temp_schema()) AS temp_objects,
       current_user::text AS current_user,
       session_user::text AS session_user,
       pg_current_xact_id_if_assigned() IS NULL AS no_xact
"""

RELEASES = int(os.environ.get("FERRULE_POOL_RELEASES", "3000"))

Dirt = Callable[[ferrule.PoolConnection], Awaitable[object]]


async def in_transaction(conn: ferrule.PoolConnection) -> None:
    await conn.execute("BEGIN")
    await conn.execute("CREATE TEMP TABLE IF NOT EXISTS tx_only (a int)")


async def in_failed_transaction(conn: ferrule.PoolConnection) -> None:
    await conn.execute("BEGIN")
    with pytest.raises(ferrule.DivisionByZeroError):
        await conn.execute("SELECT 1/0")


async def with_set(conn: ferrule.PoolConnection) -> None:
    await conn.execute("SET statement_timeout = 1234; SET search_path = pg_catalog")


async def with_set_config(conn: ferrule.PoolConnection) -> None:
    await conn.fetchval("SELECT set_config('statement_timeout', $1, false)", "4321")


async def with_listen(conn: ferrule.PoolConnection) -> None:
    await conn.execute("LISTEN pool_test_channel")


async def with_advisory_lock(conn: ferrule.PoolConnection) -> None:
    await conn.fetchval("SELECT pg_advisory_lock($1)", 4242)


async def with_cursor_held(conn: ferrule.PoolConnection) -> None:
    await conn.execute("DECLARE pool_cur CURSOR WITH HOLD FOR SELECT 1")


async def with_cursor_in_transaction(conn: ferrule.PoolConnection) -> None:
    await conn.execute("BEGIN")
    cursor = await conn.cursor("SELECT generate_series(1, 100)", prefetch=10)
    assert await cursor.fetchrow() is not None


async def with_temp_table(conn: ferrule.PoolConnection) -> None:
    await conn.execute("CREATE TEMP TABLE pool_temp (a int)")


async def with_temp_table_as(conn: ferrule.PoolConnection) -> None:
    await conn.fetch("CREATE TEMPORARY TABLE pool_temp_as AS SELECT $1::int4 AS a", 1)


async def with_sql_prepare(conn: ferrule.PoolConnection) -> None:
    await conn.execute("PREPARE pool_prep AS SELECT 1")


async def with_role(conn: ferrule.PoolConnection) -> None:
    await conn.execute("SET ROLE ferrule_md5")


async def with_session_authorization(conn: ferrule.PoolConnection) -> None:
    await conn.execute("SET SESSION AUTHORIZATION ferrule_md5")


DIRT: dict[str, Dirt] = {
    "transaction": in_transaction,
    "failed_transaction": in_failed_transaction,
    "set": with_set,
    "set_config": with_set_config,
    "listen": with_listen,
    "advisory_lock": with_advisory_lock,
    "cursor_with_hold": with_cursor_held,
    "cursor_in_transaction": with_cursor_in_transaction,
    "temp_table": with_temp_table,
    "temp_table_as": with_temp_table_as,
    "sql_prepare": with_sql_prepare,
    "role": with_role,
    "session_authorization": with_session_authorization,
}


async def assert_clean(conn: ferrule.PoolConnection, defaults: dict[str, object]) -> None:
    assert not conn.is_in_transaction()
    state = await conn.fetchrow(SQL_SESSION)
    assert state is not None
    assert dict(state.items()) == defaults


@pytest.mark.parametrize("kind", list(DIRT))
async def test_dirty_release_is_reset(pg_dsn: str, kind: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            defaults = dict((await conn.fetchrow(SQL_SESSION)).items())  # type: ignore[union-attr]
        async with pool.acquire() as conn:
            await DIRT[kind](conn)
        async with pool.acquire() as conn:
            # The same session, reset rather than replaced.
            assert conn.get_server_pid() == pid
            await assert_clean(conn, defaults)
        assert pool.stats()["resets"] == 1


async def test_dirty_one_call_query_is_reset(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        await pool.execute("SET statement_timeout = 999")
        assert await pool.fetchval("SHOW statement_timeout") == "0"
        await pool.fetchval("SELECT pg_advisory_lock($1)", 7)
        held = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert await pool.fetchval(held) == 0
        await pool.execute("BEGIN")
        assert await pool.fetchval("SELECT pg_current_xact_id_if_assigned() IS NULL")
        assert pool.stats()["resets"] == 3


async def test_clean_release_is_not_reset(pg_dsn: str, pg_table: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=2, max_size=2) as pool:
        # CREATE TABLE may have made a temporary table: that release is reset.
        await pool.execute(f"CREATE UNLOGGED TABLE {pg_table} (a int)")
        assert await settle(lambda: pool.stats()["in_use"] == 0)
        resets = pool.stats()["resets"]
        for i in range(20):
            await pool.fetchval("SELECT $1::int4", i)
            await pool.execute(f"INSERT INTO {pg_table} VALUES ($1)", i)
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetch(f"SELECT * FROM {pg_table} WHERE a = $1", i)
        assert pool.stats()["resets"] == resets


async def test_reset_keeps_ferrule_statements(pg_dsn: str) -> None:
    async with ferrule.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        cached = "SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql"
        await pool.fetchval("SELECT $1::int4", 1)
        before = await pool.fetchval(cached)
        await pool.execute("SET work_mem = '8MB'")
        assert await pool.fetchval(cached) >= before >= 1
        assert pool.stats()["resets"] == 1


async def test_many_dirty_releases_leave_every_connection_clean(pg_dsn: str) -> None:
    """Releases left dirty in a random way (FERRULE_POOL_RELEASES of them, 3,000 by
    default); every next user checks its session."""
    rng = random.Random(3)
    kinds = ["transaction", "set", "listen", "advisory_lock", "failed_transaction", None]
    async with ferrule.create_pool(pg_dsn, min_size=10, max_size=10) as pool:
        async with pool.acquire() as conn:
            defaults = dict((await conn.fetchrow(SQL_SESSION)).items())  # type: ignore[union-attr]
        plan = [rng.choice(kinds) for _ in range(RELEASES)]

        async def worker(jobs: list[str | None]) -> None:
            for kind in jobs:
                async with pool.acquire() as conn:
                    await assert_clean(conn, defaults)
                    if kind is not None:
                        await DIRT[kind](conn)

        await asyncio.gather(*(worker(plan[i::20]) for i in range(20)))
        stats = pool.stats()
        assert stats["size"] == 10 and stats["in_use"] == 0
        assert stats["closed_broken"] == 0
        for _ in range(10):
            async with pool.acquire() as conn:
                await assert_clean(conn, defaults)
