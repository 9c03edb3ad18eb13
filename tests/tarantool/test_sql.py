"""SQL through the common API: fetch/fetchrow/fetchval/execute, bound ? and :name parameters,
prepared statements (IPROTO_PREPARE / EXECUTE by id / UNPREPARE)."""

from __future__ import annotations

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection


async def test_fetch_shapes(conn: TarantoolConnection, key: int) -> None:
    await conn.replace("tester", [key, "sql", 7])
    rows = await conn.fetch('SELECT "id", "name" FROM "tester" WHERE "id" = ?', key)
    assert len(rows) == 1 and rows[0]["name"] == "sql" and rows[0][0] == key
    row = await conn.fetchrow('SELECT "name" AS n FROM "tester" WHERE "id" = ?', key)
    assert row is not None and row["N"] == "sql"
    assert await conn.fetchrow('SELECT 1 FROM "tester" WHERE "id" = ?', key + 500) is None
    assert await conn.fetchval("SELECT ? + 1, 'b'", 41) == 42
    assert await conn.fetchval("SELECT ? + 1, 'b'", 41, column=1) == "b"


async def test_named_parameters_and_status(conn: TarantoolConnection, key: int) -> None:
    await conn.replace("tester", [key, "named", 1])
    status = await conn.execute(
        'UPDATE "tester" SET "name" = :name WHERE "id" = :id', {"name": "renamed", "id": key}
    )
    assert status == "ROWS 1"
    assert await conn.fetchval('SELECT "name" FROM "tester" WHERE "id" = ?', key) == "renamed"
    assert await conn.execute('SELECT 1 FROM "tester" WHERE "id" = ?', key) == "SELECT 1"


async def test_values_that_look_like_sql_are_data(conn: TarantoolConnection) -> None:
    for text in ['\'; DROP TABLE "tester"; --', "a\x00b", "$$", "ü\u202e"]:
        assert await conn.fetchval("SELECT ?", text) == text


async def test_executemany(conn: TarantoolConnection, key: int) -> None:
    await conn.executemany(
        'REPLACE INTO "tester" ("id", "name") VALUES (?, ?)', [(key + i, f"m{i}") for i in range(5)]
    )
    rows = await conn.fetch(
        'SELECT "name" FROM "tester" WHERE "id" >= ? AND "id" < ?', key, key + 5
    )
    assert sorted(r[0] for r in rows) == [f"m{i}" for i in range(5)]


async def test_sql_error(conn: TarantoolConnection) -> None:
    with pytest.raises(ferrule.DatabaseError) as info:
        await conn.fetch("SELEC nonsense")
    assert info.value.code is not None


async def test_prepare_execute_unprepare(conn: TarantoolConnection, key: int) -> None:
    await conn.replace("tester", [key, "prep", 5])
    stmt = await conn.prepare('SELECT "name", "value" FROM "tester" WHERE "id" = ?')
    assert stmt.get_parameters() == [("?", "ANY")]
    assert [c[0] for c in stmt.get_attributes()] == ["name", "value"]
    for _ in range(3):
        row = await stmt.fetchrow(key)
        assert row is not None and tuple(row) == ("prep", 5)
    await stmt.close()
    with pytest.raises(ferrule.DatabaseError):
        await stmt.fetch(key)


async def test_cursor_is_not_supported(conn: TarantoolConnection) -> None:
    with pytest.raises(ferrule.NotSupportedError):
        conn.cursor("SELECT 1")
