"""Queries on SQL Server: bound parameters (@p1 and @name), statuses, executemany,
prepared statements, cursors, result sets, procedures, transactions, errors, queueing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ferrule
from ferrule import MssqlConnection, Output
from ferrule.exceptions import ForeignKeyViolationError, UniqueViolationError
from tests.tds.type_cases import HOSTILE

pytestmark = pytest.mark.timeout(120)


async def test_fetch_shapes(conn: MssqlConnection) -> None:
    rows = await conn.fetch("SELECT 1 AS a, N'x' AS b UNION ALL SELECT 2, N'y'")
    assert [tuple(r) for r in rows] == [(1, "x"), (2, "y")]
    assert rows[0]["b"] == "x" and list(rows[0].keys()) == ["a", "b"]
    row = await conn.fetchrow("SELECT @p1 AS v", 5)
    assert row is not None and row["v"] == 5
    assert await conn.fetchrow("SELECT 1 WHERE 1 = 0") is None
    assert await conn.fetchval("SELECT 1, 2", column=1) == 2


async def test_positional_and_named_parameters(conn: MssqlConnection) -> None:
    assert await conn.fetchval("SELECT @p1 + @p2", 40, 2) == 42
    assert await conn.fetchval("SELECT @a + @b", {"a": 1, "b": 2}) == 3
    for text in HOSTILE:
        assert await conn.fetchval("SELECT @p1", text) == text
        assert await conn.fetchval("SELECT @v", {"v": text}) == text


async def test_execute_status_and_rows(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, name nvarchar(50))")
    assert await conn.execute(f"INSERT INTO {table_name} VALUES (@p1, @p2)", 1, "a") == (
        "INSERT 0 1"
    )
    await conn.executemany(
        f"INSERT INTO {table_name} VALUES (@p1, @p2)", [(i, str(i)) for i in range(2, 12)]
    )
    assert await conn.execute(f"UPDATE {table_name} SET name = @p1 WHERE id > @p2", "z", 5) == (
        "UPDATE 6"
    )
    assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 11


async def test_executemany_is_all_or_nothing(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY)")
    with pytest.raises(UniqueViolationError):
        await conn.executemany(f"INSERT INTO {table_name} VALUES (@p1)", [(1,), (2,), (1,)])
    assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 0
    assert not conn.is_in_transaction()


async def test_prepared_statement(conn: MssqlConnection) -> None:
    stmt = await conn.prepare("SELECT @p1 * 2 AS doubled")
    assert [await stmt.fetchval(i) for i in range(5)] == [0, 2, 4, 6, 8]
    plain = await conn.prepare("SELECT 7 AS seven")
    assert (await plain.fetchrow())["seven"] == 7  # type: ignore[index]


async def test_cursor_streams_in_batches(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int)")
    await conn.copy_records_to_table(table_name, records=[(i,) for i in range(1000)])
    seen = [
        r["id"] async for r in conn.cursor(f"SELECT id FROM {table_name} ORDER BY id", prefetch=64)
    ]
    assert seen == list(range(1000))
    cur = await conn.cursor(f"SELECT id FROM {table_name} ORDER BY id")
    assert [r["id"] for r in await cur.fetch(3)] == [0, 1, 2]
    cur.close()
    # The rest of the cursor's result was cancelled: the connection answers the next call.
    assert await conn.fetchval("SELECT 5") == 5


async def test_multiple_result_sets(conn: MssqlConnection) -> None:
    sets = await conn.fetch_result_sets("SELECT 1 AS a; SELECT N'x' AS b, 2 AS c")
    assert [[tuple(r) for r in s] for s in sets] == [[(1,)], [("x", 2)]]


async def test_callproc(conn: MssqlConnection) -> None:
    await conn.execute(
        "CREATE PROCEDURE add_one @x int, @y int OUTPUT AS BEGIN "
        "SET @y = @x + 1; SELECT @x AS x; RETURN 7 END"
    )
    result = await conn.callproc("add_one", x=41, y=Output("int"))
    assert result.return_status == 7
    assert result.output == {"y": 42}
    assert [[tuple(r) for r in s] for s in result.result_sets] == [[(41,)]]


async def test_transactions(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int)")
    async with conn.transaction(isolation="serializable"):
        assert conn.is_in_transaction()
        await conn.execute(f"INSERT INTO {table_name} VALUES (@p1)", 1)
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table_name} VALUES (@p1)", 2)
                raise RuntimeError("roll back to the savepoint")
    assert not conn.is_in_transaction()
    assert [r[0] for r in await conn.fetch(f"SELECT id FROM {table_name}")] == [1]
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table_name} VALUES (@p1)", 3)
            raise RuntimeError("roll back")
    assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 1


async def test_errors_carry_server_fields(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name}_p (id int PRIMARY KEY)")
    await conn.execute(f"CREATE TABLE {table_name}_c (id int REFERENCES {table_name}_p (id))")
    await conn.execute(f"INSERT INTO {table_name}_p VALUES (1)")
    with pytest.raises(UniqueViolationError) as info:
        await conn.execute(f"INSERT INTO {table_name}_p VALUES (@p1)", 1)
    err = info.value
    assert (err.code, err.number, err.backend) == ("2627", 2627, "mssql")
    assert err.class_ == 14 and err.state is not None and err.server
    with pytest.raises(ForeignKeyViolationError) as fk:
        await conn.execute(f"INSERT INTO {table_name}_c VALUES (@p1)", 9)
    assert fk.value.number == 547
    with pytest.raises(ferrule.ProgrammingError):
        await conn.fetch("SELEC 1")
    assert await conn.fetchval("SELECT 1") == 1


async def test_concurrent_calls_queue(conn: MssqlConnection) -> None:
    results = await asyncio.gather(*(conn.fetchval("SELECT @p1", i) for i in range(200)))
    assert results == list(range(200))


async def test_concurrent_calls_run_in_call_order(conn: MssqlConnection, table_name: str) -> None:
    # Calls made in one instant run in the order they were made, whichever worker runs
    # their jobs first; executemany's rows stay together.
    await conn.execute(f"CREATE TABLE {table_name} (seq int, v int)")
    counter = iter(range(10_000))

    def call(i: int) -> Any:
        if i % 5 == 0:
            return conn.executemany(
                f"INSERT INTO {table_name} VALUES (@p1, @p2)", [(next(counter), i)] * 2
            )
        return conn.execute(f"INSERT INTO {table_name} VALUES (@p1, @p2)", next(counter), i)

    await asyncio.gather(*(call(i) for i in range(150)))
    rows = await conn.fetch(f"SELECT seq, v FROM {table_name}")
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    assert [r["v"] for r in rows] == [i for i in range(150) for _ in range(2 if i % 5 == 0 else 1)]


async def test_close_and_terminate(mssql_dsn: str) -> None:
    c = await ferrule.connect(mssql_dsn)
    await c.close()
    assert c.is_closed()
    with pytest.raises(ferrule.ConnectionClosedError):
        await c.fetchval("SELECT 1")
    c = await ferrule.connect(mssql_dsn)
    c.terminate()
    assert c.is_closed()
