"""Rows as Python classes: `record_class=` (a Record subclass) and `as_class=` (any class
called with the columns as keyword arguments: dataclasses, named tuples, pydantic models)."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import pytest
import pytest_asyncio

import ferrule
from ferrule._rowclass import takes_columns_in_order

QUERY = "SELECT g AS id, 'n' || g AS name FROM generate_series(1, $1::int) g"


@pytest_asyncio.fixture
async def conn(pg_dsn: str) -> AsyncIterator[ferrule.PgConnection]:
    c = await ferrule.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


class AttrRecord(ferrule.Record):
    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class SlotRecord(ferrule.Record):
    __slots__ = ()


@dataclasses.dataclass
class Item:
    id: int
    name: str


@dataclasses.dataclass(slots=True, frozen=True)
class FrozenItem:
    id: int
    name: str


class ItemTuple(NamedTuple):
    id: int
    name: str


async def test_record_class_on_every_fetch(conn: ferrule.PgConnection) -> None:
    rows = await conn.fetch(QUERY, 3, record_class=AttrRecord)
    assert [type(r) for r in rows] == [AttrRecord] * 3
    assert [r.id for r in rows] == [1, 2, 3]
    assert rows[0]["name"] == "n1" and rows[0][1] == "n1" and isinstance(rows[0], ferrule.Record)
    assert repr(rows[0]) == "<AttrRecord id=1 name='n1'>"
    assert rows[0] == (1, "n1")
    row = await conn.fetchrow(QUERY, 1, record_class=AttrRecord)
    assert type(row) is AttrRecord and row.name == "n1"
    assert await conn.fetchrow(QUERY, 0, record_class=AttrRecord) is None
    stmt = await conn.prepare(QUERY)
    assert [type(r) for r in await stmt.fetch(2, record_class=SlotRecord)] == [SlotRecord] * 2
    assert type(await stmt.fetchrow(2, record_class=SlotRecord)) is SlotRecord
    plain = await conn.fetch(QUERY, 1, record_class=ferrule.Record)
    assert type(plain[0]) is ferrule.Record


async def test_record_class_over_a_streamed_result(conn: ferrule.PgConnection) -> None:
    # Large results arrive in batches decoded while the rest streams in.
    rows = await conn.fetch(QUERY, 20_000, record_class=SlotRecord)
    assert len(rows) == 20_000 and all(type(r) is SlotRecord for r in rows)
    assert rows[-1]["id"] == 20_000


async def test_gc_tracking_of_record_subclasses(conn: ferrule.PgConnection) -> None:
    slot = await conn.fetchrow(QUERY, 1, record_class=SlotRecord)
    with_dict = await conn.fetchrow(QUERY, 1, record_class=AttrRecord)
    # Atomic values and no __dict__: nothing can form a cycle, as with plain Records.
    assert not gc.is_tracked(slot)
    assert gc.is_tracked(with_dict)
    with_dict.extra = [with_dict]  # type: ignore[attr-defined]
    del with_dict
    gc.collect()


async def test_bad_record_classes(conn: ferrule.PgConnection) -> None:
    class WithInit(ferrule.Record):
        def __init__(self) -> None:
            pass

    class WithNew(ferrule.Record):
        def __new__(cls) -> WithNew:
            raise AssertionError

    for cls in (WithInit, WithNew):
        with pytest.raises(ferrule.InterfaceError, match="must not define __new__ or __init__"):
            await conn.fetch(QUERY, 1, record_class=cls)
    with pytest.raises(ferrule.InterfaceError, match=r"subclass of ferrule\.Record"):
        await conn.fetch(QUERY, 1, record_class=dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="created by queries"):
        SlotRecord()
    with pytest.raises(ValueError, match="not both"):
        await conn.fetch(QUERY, 1, record_class=SlotRecord, as_class=Item)
    assert await conn.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("cls", [Item, FrozenItem, ItemTuple])
async def test_as_class(conn: ferrule.PgConnection, cls: Any) -> None:
    rows = await conn.fetch(QUERY, 3, as_class=cls)
    assert rows == [cls(1, "n1"), cls(2, "n2"), cls(3, "n3")]
    assert await conn.fetchrow(QUERY, 1, as_class=cls) == cls(1, "n1")
    assert await conn.fetchrow(QUERY, 0, as_class=cls) is None
    stmt = await conn.prepare(QUERY)
    assert await stmt.fetch(1, as_class=cls) == [cls(1, "n1")]


async def test_as_class_fields_in_another_order(conn: ferrule.PgConnection) -> None:
    @dataclasses.dataclass
    class Reversed:
        name: str
        id: int
        extra: int = 7

    # Columns not in the class's order: keyword arguments, each to its field.
    assert await conn.fetchrow(QUERY, 1, as_class=Reversed) == Reversed("n1", 1, 7)


def test_positional_only_when_equivalent() -> None:
    @dataclasses.dataclass
    class WithDefault:
        id: int
        name: str
        extra: int = 0

    @dataclasses.dataclass(kw_only=True)
    class KeywordOnly:
        id: int
        name: str

    cols = ("id", "name")
    assert takes_columns_in_order(Item, cols)
    assert takes_columns_in_order(ItemTuple, cols)
    assert takes_columns_in_order(WithDefault, cols)
    assert not takes_columns_in_order(Item, ("name", "id"))
    assert not takes_columns_in_order(Item, ("id",))
    assert not takes_columns_in_order(KeywordOnly, cols)
    assert not takes_columns_in_order(lambda **kw: kw, cols)
    assert not takes_columns_in_order(dict, cols)


async def test_as_class_with_any_callable(conn: ferrule.PgConnection) -> None:
    rows = await conn.fetch(QUERY, 2, as_class=lambda **cols: cols)
    assert rows == [{"id": 1, "name": "n1"}, {"id": 2, "name": "n2"}]
    many = await conn.fetch(QUERY, 10_000, as_class=Item)
    assert len(many) == 10_000 and many[-1] == Item(10_000, "n10000")


async def test_as_class_with_pydantic(conn: ferrule.PgConnection) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Model(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        id: int
        name: str

    rows = await conn.fetch(QUERY, 2, as_class=Model)
    assert rows == [Model(id=1, name="n1"), Model(id=2, name="n2")]


async def test_as_class_errors_name_the_problem(conn: ferrule.PgConnection) -> None:
    @dataclasses.dataclass
    class OnlyId:
        id: int

    with pytest.raises(TypeError, match="name"):
        await conn.fetch(QUERY, 1, as_class=OnlyId)
    # Duplicate column names cannot both be keyword arguments.
    with pytest.raises(TypeError, match="distinct column names"):
        await conn.fetch("SELECT 1 AS id, 2 AS id", as_class=lambda **kw: kw)
    assert await conn.fetchval("SELECT 1") == 1


async def test_cursors_build_the_requested_class(conn: ferrule.PgConnection) -> None:
    async with conn.transaction():
        rows = [r async for r in conn.cursor(QUERY, 5, prefetch=2, as_class=Item)]
        assert rows == [Item(i, f"n{i}") for i in range(1, 6)]
        cur = await conn.cursor(QUERY, 4, record_class=AttrRecord)
        first = await cur.fetchrow()
        assert isinstance(first, AttrRecord) and first.name == "n1"
        rest = await cur.fetch(10)
        assert [type(r) for r in rest] == [AttrRecord] * 3
        stmt = await conn.prepare(QUERY)
        assert [r async for r in stmt.cursor(2, as_class=ItemTuple)] == [
            ItemTuple(1, "n1"),
            ItemTuple(2, "n2"),
        ]
        async with conn.scroll_cursor(QUERY, 3, as_class=Item) as scroll:
            assert await scroll.last() == Item(3, "n3")
            assert await scroll.fetch_backward(2) == [Item(2, "n2"), Item(1, "n1")]


async def test_cursor_refuses_a_bad_record_class(conn: ferrule.PgConnection) -> None:
    with pytest.raises(ferrule.InterfaceError, match="record_class"):
        conn.cursor(QUERY, 1, record_class=dict)  # type: ignore[arg-type]
