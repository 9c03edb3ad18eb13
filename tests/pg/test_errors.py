"""Server errors: PEP 249 classes, SQLSTATE leaves, every server field as an attribute."""

from __future__ import annotations

import pickle

import pytest

import ferrule


@pytest.fixture
async def tables(conn: ferrule.PgConnection, pg_table: str) -> str:
    await conn.execute(
        f"""CREATE TABLE {pg_table} (
            id int CONSTRAINT {pg_table}_pk PRIMARY KEY,
            qty int NOT NULL CONSTRAINT {pg_table}_qty_positive CHECK (qty > 0)
        );
        CREATE TABLE {pg_table}_child (
            parent int CONSTRAINT {pg_table}_fk REFERENCES {pg_table} (id)
        )"""
    )
    await conn.execute(f"INSERT INTO {pg_table} VALUES (1, 1)")
    return pg_table


async def test_unique_violation_fields(conn: ferrule.PgConnection, tables: str) -> None:
    with pytest.raises(ferrule.UniqueViolationError) as info:
        await conn.execute(f"INSERT INTO {tables} VALUES ($1, $2)", 1, 5)
    err = info.value
    assert isinstance(err, ferrule.IntegrityError)
    assert isinstance(err, ferrule.DatabaseError) and isinstance(err, ferrule.Error)
    assert err.sqlstate == err.code == "23505"
    assert err.backend == "postgresql"
    assert err.constraint_name == f"{tables}_pk"
    assert err.table_name == tables
    assert err.schema_name == "public"
    assert err.detail == "Key (id)=(1) already exists."
    assert err.severity == "ERROR" and err.severity_nonlocalized == "ERROR"
    assert err.message.startswith("duplicate key value violates unique constraint")
    assert err.routine and err.file and err.line
    assert "DETAIL:  Key (id)=(1) already exists." in str(err)


async def test_not_null_fields(conn: ferrule.PgConnection, tables: str) -> None:
    with pytest.raises(ferrule.NotNullViolationError) as info:
        await conn.execute(f"INSERT INTO {tables} VALUES ($1, $2)", 2, None)
    assert info.value.sqlstate == "23502"
    assert info.value.column_name == "qty"
    assert info.value.table_name == tables


async def test_check_and_foreign_key(conn: ferrule.PgConnection, tables: str) -> None:
    with pytest.raises(ferrule.CheckViolationError) as check:
        await conn.execute(f"INSERT INTO {tables} VALUES (2, -1)")
    assert check.value.constraint_name == f"{tables}_qty_positive"
    with pytest.raises(ferrule.ForeignKeyViolationError) as fk:
        await conn.execute(f"INSERT INTO {tables}_child VALUES (99)")
    assert fk.value.constraint_name == f"{tables}_fk"
    assert fk.value.table_name == f"{tables}_child"


async def test_syntax_error_position(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.PostgresSyntaxError) as info:
        await conn.fetch("SELECT 1 FROM WHERE x")
    err = info.value
    assert isinstance(err, ferrule.ProgrammingError)
    assert err.sqlstate == "42601"
    assert err.position == 15


async def test_hint_and_data_type(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.UndefinedFunctionError) as info:
        await conn.fetchval("SELECT no_such_function($1::int)", 1)
    assert info.value.hint and "No function matches" in info.value.hint
    with pytest.raises(ferrule.UndefinedColumnError) as col:
        await conn.fetchval("SELECT nope FROM pg_class")
    assert col.value.position == 8


async def test_raise_with_every_field(conn: ferrule.PgConnection) -> None:
    await conn.execute(
        """CREATE OR REPLACE FUNCTION pg_temp.fail() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = '22012', MESSAGE = 'custom message',
                DETAIL = 'custom detail', HINT = 'custom hint', COLUMN = 'col',
                CONSTRAINT = 'cons', DATATYPE = 'dtype', TABLE = 'tbl', SCHEMA = 'sch';
        END $$"""
    )
    with pytest.raises(ferrule.DivisionByZeroError) as info:
        await conn.execute("SELECT pg_temp.fail()")
    err = info.value
    assert isinstance(err, ferrule.DataError)
    assert (err.message, err.detail, err.hint) == ("custom message", "custom detail", "custom hint")
    assert (err.column_name, err.constraint_name, err.data_type_name) == ("col", "cons", "dtype")
    assert (err.table_name, err.schema_name) == ("tbl", "sch")
    assert err.where and "PL/pgSQL function" in err.where


async def test_internal_query_and_position(conn: ferrule.PgConnection) -> None:
    await conn.execute(
        """CREATE OR REPLACE FUNCTION pg_temp.bad() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN RETURN (SELECT nope FROM pg_class LIMIT 1); END $$"""
    )
    with pytest.raises(ferrule.UndefinedColumnError) as info:
        await conn.fetchval("SELECT pg_temp.bad()")
    assert info.value.internal_query == "(SELECT nope FROM pg_class LIMIT 1)"
    assert info.value.internal_position == 9


async def test_custom_sqlstate_falls_back_to_its_class(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.IntegrityError) as info:
        await conn.execute("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '23999'; END $$")
    assert info.value.sqlstate == "23999"
    assert type(info.value) is not ferrule.UniqueViolationError


async def test_lookup_matches_raised_class(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.Error) as info:
        await conn.fetchval("SELECT 1 / 0")
    assert type(info.value) is ferrule.exceptions.lookup("22012")


async def test_errors_pickle(conn: ferrule.PgConnection, tables: str) -> None:
    with pytest.raises(ferrule.UniqueViolationError) as info:
        await conn.execute(f"INSERT INTO {tables} VALUES (1, 1)")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is ferrule.UniqueViolationError
    assert (copy.sqlstate, copy.constraint_name, copy.detail) == (
        "23505",
        f"{tables}_pk",
        info.value.detail,
    )


async def test_deadlock(conn: ferrule.PgConnection, pg_dsn: str, tables: str) -> None:
    import asyncio

    other = await ferrule.connect(pg_dsn)
    try:
        await conn.execute(f"INSERT INTO {tables} VALUES (2, 2)")
        await conn.execute("BEGIN")
        await other.execute("BEGIN")
        await conn.execute(f"UPDATE {tables} SET qty = 10 WHERE id = 1")
        await other.execute(f"UPDATE {tables} SET qty = 10 WHERE id = 2")
        results = await asyncio.gather(
            conn.execute(f"UPDATE {tables} SET qty = 11 WHERE id = 2"),
            other.execute(f"UPDATE {tables} SET qty = 11 WHERE id = 1"),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1
        assert isinstance(errors[0], ferrule.DeadlockDetectedError)
        assert errors[0].sqlstate == "40P01"
    finally:
        await conn.execute("ROLLBACK")
        await other.execute("ROLLBACK")
        await other.close()


async def test_client_side_errors_have_no_sqlstate(conn: ferrule.PgConnection) -> None:
    # A value that cannot be bound is a DataError raised by ferrule, not by the server.
    with pytest.raises(ferrule.DataError) as bad_value:
        await conn.fetchval("SELECT $1::int", 2**40)
    assert bad_value.value.sqlstate is None
    # Misuse of the API is an InterfaceError, which is no DatabaseError.
    with pytest.raises(ferrule.InterfaceError) as misuse:
        await conn.fetchval("SELECT $1::int")
    assert not isinstance(misuse.value, ferrule.DatabaseError)
    assert misuse.value.sqlstate is None
