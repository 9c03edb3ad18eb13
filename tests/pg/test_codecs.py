"""User codecs: set_type_codec for extension, built-in and enum types."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ferrule


@pytest.fixture
async def conn(pg_dsn: str) -> Any:
    c = await ferrule.connect(pg_dsn)
    yield c
    await c.close()


def parse_point(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.strip("()").split(","))


async def test_a_user_codec_replaces_ferrules_own(conn: Any) -> None:
    assert await conn.fetchval("SELECT '(1,2)'::point") == ferrule.Point(1.0, 2.0)
    await conn.set_type_codec("point", decoder=parse_point, encoder=lambda p: f"({p[0]},{p[1]})")
    assert await conn.fetchval("SELECT '(1,2)'::point") == (1.0, 2.0)
    assert await conn.fetchval("SELECT $1::point", (3, 4)) == (3.0, 4.0)
    rows = await conn.fetch("SELECT p FROM unnest(ARRAY[$1::point, NULL]) p", (5, 6))
    assert [r[0] for r in rows] == [(5.0, 6.0), None]
    stmt = await conn.prepare("SELECT $1::point")
    assert await stmt.fetchval((7, 8)) == (7.0, 8.0)


async def test_builtin_type_codec_and_reset(conn: Any) -> None:
    await conn.set_type_codec(
        "json",
        schema="pg_catalog",
        decoder=lambda s: ("mine", json.loads(s)),
        encoder=json.dumps,
    )
    assert await conn.fetchval("SELECT '{\"a\": 1}'::json") == ("mine", {"a": 1})
    assert await conn.fetchval("SELECT $1::json", {"b": 2}) == ("mine", {"b": 2})
    await conn.reset_type_codec("json", schema="pg_catalog")
    assert await conn.fetchval("SELECT '{\"a\": 1}'::json") == {"a": 1}


async def test_executemany_applies_encoders(conn: Any) -> None:
    await conn.execute("CREATE TEMP TABLE pts (p point)")
    await conn.set_type_codec("point", decoder=parse_point, encoder=lambda p: f"({p[0]},{p[1]})")
    await conn.executemany("INSERT INTO pts VALUES ($1)", [((1, 1),), ((2, 2),), (None,)])
    rows = await conn.fetch("SELECT p FROM pts ORDER BY p[0] NULLS LAST")
    assert [r["p"] for r in rows] == [(1.0, 1.0), (2.0, 2.0), None]


async def test_unknown_type_name_is_a_clear_error(conn: Any) -> None:
    with pytest.raises(ferrule.InterfaceError, match="unknown type"):
        await conn.set_type_codec("no_such_type", decoder=str)
    with pytest.raises(ferrule.InterfaceError, match="format must be"):
        await conn.set_type_codec("point", decoder=str, format="tuple")
