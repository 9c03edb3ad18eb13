"""Online backup to a file and to another connection, while the source stays in use."""

from __future__ import annotations

from pathlib import Path

import pytest

import ferrule


async def test_backup_to_a_file(conn: ferrule.SqliteConnection, tmp_path: Path) -> None:
    await conn.execute("CREATE TABLE t (i INTEGER, pad BLOB)")
    await conn.executemany("INSERT INTO t VALUES (?, randomblob(500))", [(i,) for i in range(2000)])
    target = tmp_path / "copy.db"
    await conn.backup(target)
    copy = await ferrule.connect(f"sqlite:///{target}")
    try:
        assert await copy.fetchval("SELECT count(*) FROM t") == 2000
        assert await copy.fetchval("PRAGMA integrity_check") == "ok"
    finally:
        await copy.close()
    # The source is still usable afterwards.
    assert await conn.execute("INSERT INTO t VALUES (1, NULL)") == "INSERT 0 1"


async def test_backup_into_another_connection(conn: ferrule.SqliteConnection) -> None:
    await conn.execute("CREATE TABLE t (v TEXT)")
    await conn.execute("INSERT INTO t VALUES (?)", "kept")
    mem = await ferrule.connect("sqlite://:memory:")
    try:
        await mem.execute("CREATE TABLE old (x)")
        await conn.backup(mem)
        assert await mem.fetchval("SELECT v FROM t") == "kept"
        assert await mem.fetchval("SELECT count(*) FROM sqlite_master WHERE name = 'old'") == 0
    finally:
        await mem.close()


async def test_backup_bad_targets(conn: ferrule.SqliteConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="into itself"):
        await conn.backup(conn)
    with pytest.raises(ferrule.InterfaceError, match="path or a SqliteConnection"):
        await conn.backup(42)  # type: ignore[arg-type]
