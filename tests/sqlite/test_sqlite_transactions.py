"""Transactions on SQLite: lock modes, savepoints, rollback, and the errors SQLite raises."""

from __future__ import annotations

import pytest

import ferrule
from ferrule import InterfaceError


async def test_commit_and_rollback(conn: ferrule.SqliteConnection) -> None:
    await conn.execute("CREATE TABLE t (i INTEGER)")
    async with conn.transaction():
        await conn.execute("INSERT INTO t VALUES (1)")
        assert conn.is_in_transaction()
    assert not conn.is_in_transaction()
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            await conn.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
    assert await conn.fetchval("SELECT group_concat(i) FROM t") == "1"


@pytest.mark.parametrize("mode", ["deferred", "immediate", "exclusive"])
async def test_modes(conn: ferrule.SqliteConnection, db_url: str, mode: str) -> None:
    await conn.execute("CREATE TABLE t (i INTEGER)")
    other = await ferrule.connect(db_url, busy_timeout=0)
    try:
        async with conn.transaction(mode=mode):
            if mode == "deferred":
                # No lock is taken until the first statement: another writer is not blocked.
                await other.execute("INSERT INTO t VALUES (0)")
            else:
                with pytest.raises(ferrule.OperationalError, match="locked") as info:
                    await other.execute("INSERT INTO t VALUES (0)")
                assert info.value.code == "SQLITE_BUSY"
            await conn.execute("INSERT INTO t VALUES (1)")
    finally:
        await other.close()


async def test_default_mode_from_connect(db_url: str) -> None:
    conn = await ferrule.connect(db_url, transaction_mode="immediate")
    try:
        assert conn._sql_begin(None, False, False) == "BEGIN IMMEDIATE"
        assert conn._sql_begin_mode(None, False, False, "exclusive") == "BEGIN EXCLUSIVE"
    finally:
        await conn.close()


async def test_bad_transaction_options(mem: ferrule.SqliteConnection) -> None:
    with pytest.raises(InterfaceError, match="not one of this backend's modes"):
        mem.transaction(mode="later")
    with pytest.raises(InterfaceError, match="always serializable"):
        async with mem.transaction(isolation="read_committed"):
            pass
    with pytest.raises(InterfaceError, match="READ ONLY"):
        async with mem.transaction(readonly=True):
            pass
    assert not mem.is_in_transaction()


async def test_nested_blocks_are_savepoints(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (i INTEGER)")
    async with mem.transaction():
        await mem.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError):
            async with mem.transaction():
                await mem.execute("INSERT INTO t VALUES (2)")
                raise ValueError
        async with mem.transaction():
            await mem.execute("INSERT INTO t VALUES (3)")
    assert await mem.fetchval("SELECT group_concat(i) FROM t") == "1,3"


async def test_constraint_errors_map_to_shared_classes(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("PRAGMA foreign_keys = ON")
    await mem.executescript(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL, "
        "c INTEGER CHECK (c > 0));"
        "CREATE TABLE k (pid INTEGER REFERENCES p(id));"
        "INSERT INTO p VALUES (1, 'a', 'x', 1);"
    )
    cases = [
        (
            "INSERT INTO p VALUES (2, 'a', 'x', 1)",
            ferrule.UniqueViolationError,
            "SQLITE_CONSTRAINT_UNIQUE",
        ),
        (
            "INSERT INTO p VALUES (1, 'b', 'x', 1)",
            ferrule.UniqueViolationError,
            "SQLITE_CONSTRAINT_PRIMARYKEY",
        ),
        (
            "INSERT INTO p VALUES (3, 'c', NULL, 1)",
            ferrule.NotNullViolationError,
            "SQLITE_CONSTRAINT_NOTNULL",
        ),
        (
            "INSERT INTO p VALUES (4, 'd', 'x', 0)",
            ferrule.CheckViolationError,
            "SQLITE_CONSTRAINT_CHECK",
        ),
        (
            "INSERT INTO k VALUES (99)",
            ferrule.ForeignKeyViolationError,
            "SQLITE_CONSTRAINT_FOREIGNKEY",
        ),
    ]
    for sql, cls, code in cases:
        with pytest.raises(cls) as info:
            await mem.execute(sql)
        assert info.value.code == code
        assert isinstance(info.value, ferrule.IntegrityError)
