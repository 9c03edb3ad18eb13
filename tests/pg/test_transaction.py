"""Transactions: commit, rollback on exception, isolation levels, readonly, deferrable,
nested savepoints, manual control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

import ferrule

Connect = Callable[..., Awaitable[ferrule.PgConnection]]


@pytest.fixture
async def table(conn: ferrule.PgConnection, pg_table: str) -> str:
    await conn.execute(f"CREATE TABLE {pg_table} (id int PRIMARY KEY)")
    return pg_table


async def _ids(conn: ferrule.PgConnection, table: str) -> list[int]:
    return [r[0] for r in await conn.fetch(f"SELECT id FROM {table} ORDER BY id")]


async def test_commit(conn: ferrule.PgConnection, table: str) -> None:
    async with conn.transaction() as tx:
        assert conn.is_in_transaction()
        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert "started" in repr(tx)
    assert not conn.is_in_transaction()
    assert "committed" in repr(tx)
    assert await _ids(conn, table) == [1]


async def test_rollback_on_exception(conn: ferrule.PgConnection, table: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
            raise RuntimeError("boom")
    assert not conn.is_in_transaction()
    assert await _ids(conn, table) == []


async def test_rollback_after_a_server_error(conn: ferrule.PgConnection, table: str) -> None:
    with pytest.raises(ferrule.UniqueViolationError):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert not conn.is_in_transaction()
    assert await _ids(conn, table) == []


async def test_failed_transaction_refuses_statements(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InFailedSQLTransactionError):
        async with conn.transaction():
            with pytest.raises(ferrule.DivisionByZeroError):
                await conn.execute("SELECT 1 / 0")
            assert conn._impl.transaction_status() == "failed"
            await conn.fetchval("SELECT 1")
    assert await conn.fetchval("SELECT 1") == 1


@pytest.mark.parametrize(
    ("isolation", "shown"),
    [
        ("read_uncommitted", "read uncommitted"),
        ("read_committed", "read committed"),
        ("repeatable_read", "repeatable read"),
        ("serializable", "serializable"),
    ],
)
async def test_isolation_levels(conn: ferrule.PgConnection, isolation: str, shown: str) -> None:
    async with conn.transaction(isolation=isolation):
        assert await conn.fetchval("SHOW transaction_isolation") == shown


async def test_unknown_isolation_is_refused(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="isolation must be one of"):
        conn.transaction(isolation="snapshot; DROP TABLE x")


async def test_readonly(conn: ferrule.PgConnection, table: str) -> None:
    async with conn.transaction(readonly=True):
        assert await conn.fetchval("SHOW transaction_read_only") == "on"
        with pytest.raises(ferrule.ReadOnlySQLTransactionError):
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(ferrule.InFailedSQLTransactionError):
            await conn.fetchval("SELECT 1")
        await conn.execute("ROLLBACK")
        await conn.execute("BEGIN")


async def test_serializable_readonly_deferrable(conn: ferrule.PgConnection) -> None:
    async with conn.transaction(isolation="serializable", readonly=True, deferrable=True):
        assert await conn.fetchval("SHOW transaction_deferrable") == "on"
        assert await conn.fetchval("SHOW transaction_read_only") == "on"
        assert await conn.fetchval("SHOW transaction_isolation") == "serializable"


async def test_repeatable_read_sees_a_snapshot(
    conn: ferrule.PgConnection, connect: Connect, table: str
) -> None:
    other = await connect()
    async with conn.transaction(isolation="repeatable_read"):
        assert await _ids(conn, table) == []
        await other.execute(f"INSERT INTO {table} VALUES (7)")
        assert await _ids(conn, table) == []
    assert await _ids(conn, table) == [7]


async def test_serialization_failure(
    conn: ferrule.PgConnection, connect: Connect, table: str
) -> None:
    other = await connect()
    await conn.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(ferrule.SerializationError) as info:
        async with conn.transaction(isolation="serializable"):
            await conn.fetch(f"SELECT * FROM {table}")
            await other.execute(f"UPDATE {table} SET id = 2 WHERE id = 1")
            await conn.execute(f"UPDATE {table} SET id = 3 WHERE id = 1")
    assert info.value.sqlstate == "40001"
    assert isinstance(info.value, ferrule.TransactionRollbackError)


async def test_nested_savepoints(conn: ferrule.PgConnection, table: str) -> None:
    async with conn.transaction():
        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        async with conn.transaction() as sp:
            assert "savepoint" in repr(sp)
            await conn.execute(f"INSERT INTO {table} VALUES (2)")
            with pytest.raises(ferrule.UniqueViolationError):
                async with conn.transaction():
                    await conn.execute(f"INSERT INTO {table} VALUES (3)")
                    await conn.execute(f"INSERT INTO {table} VALUES (1)")
            # The failed inner savepoint rolled back only itself.
            assert await _ids(conn, table) == [1, 2]
        with pytest.raises(LookupError):
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table} VALUES (4)")
                raise LookupError
        async with conn.transaction(), conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (5)")
    assert await _ids(conn, table) == [1, 2, 5]


async def test_nested_cannot_change_settings(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        with pytest.raises(ferrule.InterfaceError, match="nested transaction"):
            async with conn.transaction(isolation="serializable"):
                pass
        assert await conn.fetchval("SELECT 1") == 1


async def test_outer_rollback_discards_released_savepoints(
    conn: ferrule.PgConnection, table: str
) -> None:
    with pytest.raises(KeyError):
        async with conn.transaction():
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table} VALUES (1)")
            raise KeyError
    assert await _ids(conn, table) == []


async def test_manual_start_commit_rollback(conn: ferrule.PgConnection, table: str) -> None:
    tx = conn.transaction()
    await tx.start()
    await conn.execute(f"INSERT INTO {table} VALUES (1)")
    await tx.commit()
    with pytest.raises(ferrule.InterfaceError, match="committed"):
        await tx.commit()
    with pytest.raises(ferrule.InterfaceError, match="committed"):
        await tx.start()
    tx = conn.transaction()
    await tx.start()
    await conn.execute(f"INSERT INTO {table} VALUES (2)")
    await tx.rollback()
    assert await _ids(conn, table) == [1]


async def test_transaction_on_a_lost_connection(connect: Connect, pg_dsn: str) -> None:
    conn = await connect()
    with pytest.raises(ferrule.ConnectionLostError):
        async with conn.transaction():
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert conn.is_closed()
