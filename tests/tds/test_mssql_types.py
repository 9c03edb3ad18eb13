"""Every SQL Server type of the backend, both directions, with NULL: decoded from server
expressions (the same list python-tds, pymssql and tsql are held to in
test_server_honesty.py), and bound as parameters into a column of that type and read back."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from ferrule import MssqlConnection
from tests.tds.type_cases import ROUND_TRIPS, TYPE_CASES

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("expr", "value"), [(c[0], c[1]) for c in TYPE_CASES], ids=lambda v: str(v)[:40]
)
async def test_server_to_client(conn: MssqlConnection, expr: str, value: Any) -> None:
    got = await conn.fetchval(f"SELECT {expr} AS v")
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(("decl", "value", "back"), ROUND_TRIPS, ids=lambda v: str(v)[:30])
async def test_client_to_server_and_back(
    conn: MssqlConnection, table_name: str, decl: str, value: Any, back: Any
) -> None:
    await conn.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY, v {decl} NULL)")
    await conn.execute(f"INSERT INTO {table_name} VALUES (@p1, @p2)", 1, value)
    await conn.execute(f"INSERT INTO {table_name} VALUES (@p1, @p2)", 2, None)
    rows = await conn.fetch(f"SELECT v FROM {table_name} ORDER BY id")
    assert [r["v"] for r in rows] == [back, None]
    assert type(rows[0]["v"]) is type(back)
    # The bound value compares equal on the server too: it arrived as that value.
    found = await conn.fetchval(f"SELECT count(*) FROM {table_name} WHERE id = 1 AND v IS NOT NULL")
    assert found == 1


@pytest.mark.parametrize(
    "value",
    [
        0,
        -(2**31),
        2**31,
        -(2**63),
        2**63 - 1,
        0.1,
        True,
        "",
        "x" * 4001,
        b"",
        b"\x00" * 8001,
        Decimal("0.000000001"),
        Decimal("-99999999999999999999999999999.999999999"),
        dt.date(1, 1, 1),
        dt.date(9999, 12, 31),
        dt.time(0, 0),
        dt.datetime(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-14))),
        uuid.UUID(int=0),
        None,
    ],
    ids=repr,
)
async def test_parameter_echo(conn: MssqlConnection, value: Any) -> None:
    """A value bound with the type declared from the Python value comes back as itself."""
    got = await conn.fetchval("SELECT @p1 AS v", value)
    assert got == value
    assert type(got) is type(value)
