"""The query API: fetch, fetchrow, fetchval, execute, argument binding and its errors."""

from __future__ import annotations

import pytest

import ferrule


async def test_fetch_returns_records(conn: ferrule.PgConnection) -> None:
    rows = await conn.fetch("SELECT g AS n, g * 2 AS twice FROM generate_series(1, 3) g")
    assert [tuple(r) for r in rows] == [(1, 2), (2, 4), (3, 6)]
    assert all(isinstance(r, ferrule.Record) for r in rows)


async def test_fetch_empty(conn: ferrule.PgConnection) -> None:
    assert await conn.fetch("SELECT 1 WHERE false") == []


async def test_fetchrow(conn: ferrule.PgConnection) -> None:
    row = await conn.fetchrow("SELECT g FROM generate_series(5, 9) g ORDER BY g")
    assert row is not None and row["g"] == 5
    assert await conn.fetchrow("SELECT 1 WHERE false") is None


async def test_first_row_calls_still_run_the_whole_statement(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    # fetchrow/fetchval read one row, but a data-modifying statement always runs to the end.
    await conn.execute(f"CREATE TABLE {pg_table} (a int)")
    row = await conn.fetchrow(f"INSERT INTO {pg_table} SELECT generate_series(1, 5) RETURNING a")
    assert row is not None and row["a"] == 1
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 5
    deleted = await conn.fetchval(f"WITH d AS (DELETE FROM {pg_table} RETURNING a) SELECT a FROM d")
    assert deleted in range(1, 6)
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 0


async def test_fetchval_and_column(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT 1, 2, 3") == 1
    assert await conn.fetchval("SELECT 1, 2, 3", column=2) == 3
    assert await conn.fetchval("SELECT 1 WHERE false") is None
    assert await conn.fetchval("SELECT NULL") is None


async def test_fetchval_bad_column(conn: ferrule.PgConnection) -> None:
    with pytest.raises(IndexError, match="column 5 does not exist"):
        await conn.fetchval("SELECT 1, 2", column=5)
    with pytest.raises(ValueError, match="column"):
        await conn.fetchval("SELECT 1", column=-1)
    assert await conn.fetchval("SELECT 7") == 7


async def test_execute_returns_the_status(conn: ferrule.PgConnection, pg_table: str) -> None:
    assert await conn.execute(f"CREATE TABLE {pg_table} (id int PRIMARY KEY, v text)") == (
        "CREATE TABLE"
    )
    assert await conn.execute(f"INSERT INTO {pg_table} VALUES ($1, $2)", 1, "a") == "INSERT 0 1"
    status = await conn.execute(
        f"INSERT INTO {pg_table} SELECT g, 'x' FROM generate_series(2, 5) g"
    )
    assert status == "INSERT 0 4"
    assert await conn.execute(f"UPDATE {pg_table} SET v = $1 WHERE id > $2", "y", 2) == "UPDATE 3"
    assert await conn.execute(f"DELETE FROM {pg_table} WHERE id = $1", 99) == "DELETE 0"
    assert await conn.execute(f"SELECT * FROM {pg_table}") == "SELECT 5"


async def test_execute_script_runs_several_statements(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    status = await conn.execute(
        f"CREATE TABLE {pg_table} (id int); INSERT INTO {pg_table} VALUES (1), (2);"
        f" UPDATE {pg_table} SET id = id + 10"
    )
    assert status == "UPDATE 2"
    assert await conn.fetchval(f"SELECT sum(id) FROM {pg_table}") == 23


async def test_execute_script_error_rolls_back_the_whole_script(
    conn: ferrule.PgConnection, pg_table: str
) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (id int)")
    with pytest.raises(ferrule.DivisionByZeroError):
        await conn.execute(f"INSERT INTO {pg_table} VALUES (1); SELECT 1 / 0")
    assert await conn.fetchval(f"SELECT count(*) FROM {pg_table}") == 0
    assert not conn.is_in_transaction()


async def test_empty_query(conn: ferrule.PgConnection) -> None:
    assert await conn.execute("") == ""
    assert await conn.fetch("") == []


async def test_arguments_are_bound_not_pasted(conn: ferrule.PgConnection, pg_table: str) -> None:
    await conn.execute(f"CREATE TABLE {pg_table} (v text)")
    evil = f"x'); DROP TABLE {pg_table}; --"
    await conn.execute(f"INSERT INTO {pg_table} VALUES ($1)", evil)
    assert await conn.fetchval(f"SELECT v FROM {pg_table}") == evil
    assert await conn.fetchval("SELECT $1::text", "$1 $$ $2") == "$1 $$ $2"


async def test_argument_count_mismatch(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="expects 2 arguments, 1 was passed"):
        await conn.fetchval("SELECT $1::int + $2::int", 1)
    with pytest.raises(ferrule.InterfaceError, match="expects 0 arguments, 1 was passed"):
        await conn.fetch("SELECT 1", 1)
    assert await conn.fetchval("SELECT $1::int + $2::int", 1, 2) == 3


async def test_unbindable_argument_names_the_placeholder(conn: ferrule.PgConnection) -> None:
    with pytest.raises(
        TypeError, match=r"invalid argument \$2: cannot bind a value of type object"
    ):
        await conn.fetchval("SELECT $1::int, $2::text", 1, object())


async def test_wrong_type_for_the_parameter(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.DataError, match=r"\$1 \(integer\).*str cannot be sent"):
        await conn.fetchval("SELECT $1::int", "12")
    with pytest.raises(ferrule.DataError, match=r"\$2 \(date\)"):
        await conn.fetchval("SELECT $1::int, $2::date", 1, 5)
    assert await conn.fetchval("SELECT $1::int", 12) == 12


async def test_untyped_parameter_is_text(conn: ferrule.PgConnection) -> None:
    assert await conn.fetchval("SELECT $1", "plain") == "plain"
    assert await conn.fetchval("SELECT $1", None) is None


async def test_server_error_keeps_the_connection(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.UndefinedTableError):
        await conn.fetch("SELECT * FROM no_such_table_anywhere")
    with pytest.raises(ferrule.PostgresSyntaxError):
        await conn.execute("SELEKT 1")
    assert await conn.fetchval("SELECT 'still fine'") == "still fine"


async def test_copy_is_refused_clearly(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="COPY TO STDOUT"):
        await conn.execute("COPY (SELECT 1) TO STDOUT")
    with pytest.raises(ferrule.Error):
        await conn.execute("CREATE TEMP TABLE copy_in (a int); COPY copy_in FROM STDIN")
    assert await conn.fetchval("SELECT 1") == 1


async def test_notices_do_not_disturb_results(conn: ferrule.PgConnection) -> None:
    status = await conn.execute("DO $$ BEGIN RAISE NOTICE 'hello'; END $$")
    assert status == "DO"
    assert await conn.fetchval("SELECT 3") == 3


async def test_large_result(conn: ferrule.PgConnection) -> None:
    rows = await conn.fetch("SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g")
    assert len(rows) == 50000
    assert rows[-1][0] == 50000 and rows[123][1] == "x" * 100


async def test_large_argument(conn: ferrule.PgConnection) -> None:
    big = "é" * 3_000_000
    assert await conn.fetchval("SELECT length($1::text)", big) == 3_000_000
    blob = bytes(range(256)) * 40000
    assert await conn.fetchval("SELECT $1::bytea", blob) == blob


async def test_many_parameters(conn: ferrule.PgConnection) -> None:
    n = 1000
    sql = "SELECT " + " + ".join(f"${i}::int" for i in range(1, n + 1))
    assert await conn.fetchval(sql, *range(n)) == sum(range(n))


async def test_negative_timeout_is_refused(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await conn.fetchval("SELECT 1", timeout=-1)
