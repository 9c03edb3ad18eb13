"""executemany: pipelined, all-or-nothing, errors name the row."""

from __future__ import annotations

import time

import pytest

import ferrule


@pytest.fixture
async def table(conn: ferrule.PgConnection, pg_table: str) -> str:
    await conn.execute(f"CREATE TABLE {pg_table} (id int PRIMARY KEY, v text NOT NULL)")
    return pg_table


async def test_inserts_every_row(conn: ferrule.PgConnection, table: str) -> None:
    rows = [(i, f"v{i}") for i in range(1000)]
    assert await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows) is None
    got = await conn.fetch(f"SELECT id, v FROM {table} ORDER BY id")
    assert [tuple(r) for r in got] == rows


async def test_accepts_any_iterable(conn: ferrule.PgConnection, table: str) -> None:
    await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", ((i, str(i)) for i in range(3)))
    await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [[10, "a"], [11, "b"]])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 5


async def test_empty_is_a_no_op(conn: ferrule.PgConnection, table: str) -> None:
    await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_is_pipelined(conn: ferrule.PgConnection, table: str) -> None:
    # 5,000 rows in one round trip take far less than 5,000 sequential calls would.
    rows = [(i, "x") for i in range(5000)]
    started = time.perf_counter()
    await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert time.perf_counter() - started < 2.0
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 5000


async def test_server_error_applies_nothing_and_names_the_row(
    conn: ferrule.PgConnection, table: str
) -> None:
    rows = [(1, "a"), (2, "b"), (3, "c"), (2, "dup"), (5, "e")]
    with pytest.raises(ferrule.UniqueViolationError) as info:
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert "row 3" in str(info.value)
    assert info.value.constraint_name == f"{table}_pkey"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert not conn.is_in_transaction()


async def test_not_null_error_names_the_row(conn: ferrule.PgConnection, table: str) -> None:
    with pytest.raises(ferrule.NotNullViolationError, match="row 1") as info:
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, None)])
    assert info.value.column_name == "v"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_encoding_error_names_the_row(conn: ferrule.PgConnection, table: str) -> None:
    with pytest.raises(ferrule.DataError, match=r"row 2: invalid argument \$1"):
        await conn.executemany(
            f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, "b"), (2**40, "c")]
        )
    with pytest.raises(TypeError, match=r"row 1: invalid argument \$2"):
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, object())])
    with pytest.raises(ferrule.InterfaceError, match="row 0: the query expects 2 arguments"):
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1,)])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_inside_a_transaction(conn: ferrule.PgConnection, table: str) -> None:
    async with conn.transaction():
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, "b")])
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2
    with pytest.raises(ferrule.UniqueViolationError):
        async with conn.transaction():
            await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(3, "c")])
            await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "again")])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2


async def test_update_many(conn: ferrule.PgConnection, table: str) -> None:
    await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(i, "old") for i in range(10)])
    await conn.executemany(
        f"UPDATE {table} SET v = $2 WHERE id = $1", [(i, "new") for i in range(5)]
    )
    assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE v = 'new'") == 5


async def test_prepared_statement_executemany(conn: ferrule.PgConnection, table: str) -> None:
    stmt = await conn.prepare(f"INSERT INTO {table} VALUES ($1, $2)")
    await stmt.executemany([(1, "a"), (2, "b")])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2
