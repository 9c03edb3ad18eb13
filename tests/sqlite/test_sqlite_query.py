"""Queries on SQLite: result shapes, placeholders, statuses, prepared statements, cursors."""

from __future__ import annotations

import asyncio

import pytest

import ferrule
from ferrule import InterfaceError, OperationalError


async def test_fetch_shapes(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    await mem.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    rows = await mem.fetch("SELECT id, name FROM t ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
    assert rows[0]["name"] == "a"
    assert list(rows[1].keys()) == ["id", "name"]
    row = await mem.fetchrow("SELECT * FROM t WHERE id = ?", 2)
    assert row is not None and row["id"] == 2
    assert await mem.fetchrow("SELECT * FROM t WHERE id = ?", 99) is None
    assert await mem.fetchval("SELECT count(*) FROM t") == 3
    assert await mem.fetchval("SELECT id, name FROM t WHERE id = 3", column=1) == "c"
    assert await mem.fetchval("SELECT 1 WHERE 0") is None
    with pytest.raises(IndexError, match="column 5 does not exist"):
        await mem.fetchval("SELECT 1", column=5)


async def test_repeated_calls_take_the_inline_path_and_stay_correct(
    mem: ferrule.SqliteConnection,
) -> None:
    # The first run goes to the connection's thread, later ones may run inline: same answers.
    for i in range(200):
        assert await mem.fetchval("SELECT ? + 1", i) == i + 1


async def test_statuses(mem: ferrule.SqliteConnection) -> None:
    assert await mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") == "CREATE"
    assert await mem.execute("INSERT INTO t (v) VALUES (?)", "x") == "INSERT 0 1"
    assert await mem.execute("INSERT INTO t (v) VALUES ('y'), ('z')") == "INSERT 0 2"
    assert await mem.execute("UPDATE t SET v = ? WHERE id > ?", "w", 1) == "UPDATE 2"
    assert await mem.execute("DELETE FROM t WHERE id = ?", 3) == "DELETE 1"
    assert await mem.execute("SELECT * FROM t") == "SELECT 2"
    # A SELECT after a write must not report the write's count.
    assert await mem.execute("UPDATE t SET v = v WHERE 0") == "UPDATE 0"


async def test_scripts_run_every_statement(mem: ferrule.SqliteConnection) -> None:
    status = await mem.execute(
        "CREATE TABLE a (x); -- comment\nINSERT INTO a VALUES (1); INSERT INTO a VALUES (2);"
    )
    assert status == "INSERT 0 1"
    await mem.executescript("CREATE TABLE b (y); INSERT INTO b SELECT x FROM a;")
    assert await mem.fetchval("SELECT sum(y) FROM b") == 3


async def test_one_statement_per_query(mem: ferrule.SqliteConnection) -> None:
    with pytest.raises(InterfaceError, match="more than one statement"):
        await mem.fetch("SELECT 1; SELECT 2")
    with pytest.raises(InterfaceError, match="empty"):
        await mem.fetch("  -- nothing")
    # A trailing semicolon or comment is still one statement.
    assert await mem.fetchval("SELECT 7; -- done") == 7


async def test_positional_placeholders(mem: ferrule.SqliteConnection) -> None:
    assert await mem.fetchval("SELECT ? || ?", "a", "b") == "ab"
    assert tuple(await mem.fetchrow("SELECT ?2, ?1, ?2", "x", "y")) == ("y", "x", "y")
    with pytest.raises(InterfaceError, match="2 parameter"):
        await mem.fetchval("SELECT ? + ?", 1)


@pytest.mark.parametrize("sigil", [":", "@", "$"])
async def test_named_placeholders_bind_a_dict(mem: ferrule.SqliteConnection, sigil: str) -> None:
    sql = f"SELECT {sigil}a, {sigil}b, {sigil}a"
    row = await mem.fetchrow(sql, {"a": 1, "b": "two", "unused": 3})
    assert tuple(row or ()) == (1, "two", 1)
    with pytest.raises(InterfaceError, match=f"named parameter \\{sigil}b"):
        await mem.fetchrow(sql, {"a": 1})


async def test_dict_against_positional_placeholders(mem: ferrule.SqliteConnection) -> None:
    with pytest.raises(InterfaceError, match="positional"):
        await mem.fetchval("SELECT ?", {"a": 1})


async def test_values_are_never_sql(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (v TEXT)")
    evil = "x'); DROP TABLE t; --"
    await mem.execute("INSERT INTO t VALUES (?)", evil)
    assert await mem.fetchval("SELECT v FROM t") == evil


async def test_executemany_is_all_or_nothing(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(ferrule.UniqueViolationError, match="row 2"):
        await mem.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (1,)])
    assert await mem.fetchval("SELECT count(*) FROM t") == 0
    async with mem.transaction():
        await mem.execute("INSERT INTO t VALUES (10)")
        with pytest.raises(ferrule.UniqueViolationError):
            await mem.executemany("INSERT INTO t VALUES (?)", [(11,), (10,)])
        # The outer transaction keeps its own work.
        assert await mem.fetchval("SELECT count(*) FROM t") == 1
    with pytest.raises(TypeError, match="row 1"):
        await mem.executemany("INSERT INTO t VALUES (?)", [(1,), (object(),)])


async def test_prepared_statements(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (id INTEGER, at DATETIME)")
    stmt = await mem.prepare("SELECT id, at, id + :n AS next FROM t WHERE id > :n")
    assert stmt.get_query().startswith("SELECT id")
    assert stmt.get_parameters() == [":n"]
    assert stmt.get_attributes() == [("id", "INTEGER"), ("at", "DATETIME"), ("next", "")]
    await mem.executemany("INSERT INTO t (id) VALUES (?)", [(1,), (2,), (3,)])
    assert [r["next"] for r in await stmt.fetch({"n": 1})] == [3, 4]
    assert await stmt.fetchval({"n": 2}, column=2) == 5
    ins = await mem.prepare("INSERT INTO t (id) VALUES (?)")
    assert await ins.execute(9) == "INSERT 0 1"


async def test_cursor_streams_in_batches(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (i INTEGER)")
    await mem.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    seen = [r["i"] async for r in mem.cursor("SELECT i FROM t ORDER BY i", prefetch=64)]
    assert seen == list(range(1000))
    cur = await mem.cursor("SELECT i FROM t WHERE i >= ? ORDER BY i", 995)
    assert [r[0] for r in await cur.fetch(3)] == [995, 996, 997]
    assert (await cur.fetchrow() or (None,))[0] == 998
    assert [r[0] for r in await cur.fetch(10)] == [999]
    assert await cur.fetch(10) == []
    cur.close()


async def test_concurrent_calls_queue_in_order(mem: ferrule.SqliteConnection) -> None:
    await mem.execute("CREATE TABLE t (i INTEGER)")
    await asyncio.gather(*(mem.execute("INSERT INTO t VALUES (?)", i) for i in range(300)))
    assert [r[0] for r in await mem.fetch("SELECT i FROM t ORDER BY rowid")] == list(range(300))


async def test_syntax_error_is_operational_with_code(mem: ferrule.SqliteConnection) -> None:
    with pytest.raises(OperationalError) as info:
        await mem.fetch("SELEC 1")
    assert info.value.code == "SQLITE_ERROR"
    assert "syntax error" in str(info.value)
    # The connection stays usable.
    assert await mem.fetchval("SELECT 1") == 1


async def test_inline_calls_do_not_starve_other_tasks(mem: ferrule.SqliteConnection) -> None:
    ticks = 0
    stop = False

    async def other() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(other())
    await asyncio.sleep(0)
    ticks_before = ticks
    for i in range(1000):
        await mem.fetchval("SELECT ?", i)
    stop = True
    await task
    # The other task ran while the loop above awaited 1,000 quick calls.
    assert ticks - ticks_before >= 10
