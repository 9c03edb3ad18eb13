"""record_class= and as_class= on SQL Server: the shared Connection turns the backend's
Records into the caller's classes in one native call (ferrule._ferrule.rows_as)."""

from __future__ import annotations

import dataclasses
from typing import Any

import ferrule


class AttrRecord(ferrule.Record):
    __slots__ = ()


@dataclasses.dataclass
class Item:
    id: int
    name: str


@dataclasses.dataclass
class ByName:
    name: str
    id: int


SQL = "SELECT 1 AS id, 'a' AS name UNION ALL SELECT 2, 'b'"


async def test_row_classes(conn: Any) -> None:
    rows = await conn.fetch(SQL, record_class=AttrRecord)
    assert [type(r) for r in rows] == [AttrRecord, AttrRecord]
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    assert await conn.fetch(SQL, as_class=Item) == [Item(1, "a"), Item(2, "b")]
    assert await conn.fetch(SQL, as_class=ByName) == [ByName("a", 1), ByName("b", 2)]
    assert await conn.fetchrow(SQL, as_class=Item) == Item(1, "a")
    assert await conn.fetchrow("SELECT 1 AS id WHERE 1 = 0", as_class=Item) is None
    assert type(await conn.fetchrow(SQL, record_class=AttrRecord)) is AttrRecord
