"""Bulk load (INSERT BULK + a BULK LOAD message): every column type, NULLs, column subsets,
many packets, and clear errors that leave the connection usable."""

from __future__ import annotations

from typing import Any

import pytest

import ferrule
from ferrule import MssqlConnection
from ferrule.exceptions import NotNullViolationError, UniqueViolationError
from tests.tds.type_cases import ROUND_TRIPS

pytestmark = pytest.mark.timeout(120)

# The types bulk load refuses (NotSupportedError), as deprecated or impractical to encode.
NOT_IN_BULK = {"text", "ntext", "image", "sql_variant"}
COLUMNS = [case for case in ROUND_TRIPS if case[0] not in NOT_IN_BULK]


async def test_every_type_with_nulls(conn: MssqlConnection, table_name: str) -> None:
    decls = ", ".join(f"c{i} {decl} NULL" for i, (decl, _, _) in enumerate(COLUMNS))
    await conn.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, {decls})")
    full = (1, *(value for _, value, _ in COLUMNS))
    empty = (2, *(None for _ in COLUMNS))
    assert await conn.copy_records_to_table(table_name, records=[full, empty]) == "COPY 2"
    rows = await conn.fetch(f"SELECT * FROM {table_name} ORDER BY id")
    assert tuple(rows[0])[1:] == tuple(back for _, _, back in COLUMNS)
    assert tuple(rows[1]) == empty
    for i, (decl, _, back) in enumerate(COLUMNS):
        assert type(rows[0][f"c{i}"]) is type(back), decl


@pytest.mark.parametrize(("decl", "value", "back"), COLUMNS, ids=lambda v: str(v)[:30])
async def test_one_column_of_each_type(
    conn: MssqlConnection, table_name: str, decl: str, value: Any, back: Any
) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (v {decl} NULL)")
    await conn.copy_records_to_table(table_name, records=[(value,), (None,)])
    got = [r["v"] for r in await conn.fetch(f"SELECT v FROM {table_name}")]
    assert sorted(got, key=lambda v: v is None) == [back, None]


async def test_many_rows_span_many_packets(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int, name nvarchar(100), n bigint NULL)")
    records = [(i, f"name {i} " * 5, None if i % 7 == 0 else i * 3) for i in range(20_000)]
    assert await conn.copy_records_to_table(table_name, records=iter(records)) == "COPY 20000"
    assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 20_000
    assert await conn.fetchval(f"SELECT count(*) FROM {table_name} WHERE n IS NULL") == 2858
    assert await conn.fetchval(f"SELECT sum(id) FROM {table_name}") == sum(range(20_000))


async def test_column_subset_and_order(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(
        f"CREATE TABLE {table_name} (id int, name nvarchar(10) NULL, note varchar(10) NULL)"
    )
    await conn.copy_records_to_table(
        table_name, records=[("x", 1), ("y", 2)], columns=["name", "id"]
    )
    rows = await conn.fetch(f"SELECT id, name, note FROM {table_name} ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "x", None), (2, "y", None)]


async def test_schema_name(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int)")
    out = await conn.copy_records_to_table(table_name, records=[(5,)], schema_name="dbo")
    assert out == "COPY 1"
    assert await conn.fetchval(f"SELECT id FROM {table_name}") == 5


async def test_empty_records(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int)")
    assert await conn.copy_records_to_table(table_name, records=[]) == "COPY 0"


async def _still_usable(conn: MssqlConnection) -> None:
    assert await conn.fetchval("SELECT @p1", "ok") == "ok"
    assert not conn.is_closed()


async def test_errors_are_clear_and_leave_the_connection_usable(
    conn: MssqlConnection, table_name: str
) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int NOT NULL, name nvarchar(5) NULL)")
    with pytest.raises(ferrule.Error, match="no_such_table"):
        await conn.copy_records_to_table("no_such_table", records=[(1,)])
    await _still_usable(conn)
    with pytest.raises(ferrule.Error, match="nope"):
        await conn.copy_records_to_table(table_name, records=[(1,)], columns=["nope"])
    await _still_usable(conn)
    with pytest.raises(ferrule.InterfaceError, match="record 1 has 1 values for 2 columns"):
        await conn.copy_records_to_table(table_name, records=[(1, "a"), (2,)])
    await _still_usable(conn)
    with pytest.raises(ferrule.InterfaceError, match=r"record 0, column \"id\""):
        await conn.copy_records_to_table(table_name, records=[("not a number", "a")])
    await _still_usable(conn)
    with pytest.raises(NotNullViolationError) as null:
        await conn.copy_records_to_table(table_name, records=[(None, "a")])
    assert null.value.number == 515
    await _still_usable(conn)
    with pytest.raises(ferrule.InterfaceError, match="out of range"):
        await conn.copy_records_to_table(table_name, records=[(2**40, "a")])
    await _still_usable(conn)
    # Nothing of the refused loads arrived.
    assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 0


async def test_unique_violation_during_the_load(conn: MssqlConnection, table_name: str) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY)")
    with pytest.raises(UniqueViolationError):
        await conn.copy_records_to_table(table_name, records=[(1,), (2,), (1,)])
    await _still_usable(conn)
    assert await conn.copy_records_to_table(table_name, records=[(3,)]) == "COPY 1"


@pytest.mark.parametrize("decl", sorted(NOT_IN_BULK))
async def test_unsupported_column_types_are_refused(
    conn: MssqlConnection, table_name: str, decl: str
) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (v {decl} NULL)")
    with pytest.raises(ferrule.NotSupportedError, match=f'column "v" of type {decl}'):
        await conn.copy_records_to_table(table_name, records=[(None,)])
    await _still_usable(conn)
