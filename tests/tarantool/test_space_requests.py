"""Every space request against the real server: select, insert, replace, update, upsert,
delete, by space and index name or id, with Records named by the space format."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection


async def test_ping(conn: TarantoolConnection) -> None:
    await conn.ping()
    assert conn.get_server_version() >= (2, 0, 0)


async def test_insert_returns_record_by_index_and_name(conn: TarantoolConnection, key: int) -> None:
    rec = await conn.insert("tester", [key, "alice", {"tags": [1, 2]}])
    assert rec[0] == key and rec["id"] == key
    assert rec["name"] == "alice"
    assert rec["value"] == {"tags": [1, 2]}
    assert list(rec.keys()) == ["id", "name", "value"]


async def test_insert_duplicate_is_unique_violation(conn: TarantoolConnection, key: int) -> None:
    await conn.insert("tester", [key, "a"])
    with pytest.raises(ferrule.UniqueViolationError) as info:
        await conn.insert("tester", [key, "b"])
    assert info.value.code == "3"
    assert "Duplicate key" in str(info.value)
    assert info.value.backend == "tarantool"


async def test_select_by_key_index_iterator_limit_offset(
    conn: TarantoolConnection, key: int
) -> None:
    for i in range(5):
        await conn.replace("tester", [key + i, f"sel{key}", i])
    assert [r["id"] for r in await conn.select("tester", key)] == [key]
    got = await conn.select("tester", key, iterator="GE", limit=3, offset=1)
    assert [r["id"] for r in got] == [key + 1, key + 2, key + 3]
    by_name = await conn.select("tester", f"sel{key}", index="by_name")
    assert sorted(r["id"] for r in by_name) == [key + i for i in range(5)]
    by_id = await conn.select(conn.spaces()["tester"]["id"], [key], index=0)
    assert by_id[0]["name"] == f"sel{key}"
    assert await conn.select("tester", key + 999) == []


async def test_replace_update_upsert_delete(conn: TarantoolConnection, key: int) -> None:
    await conn.replace("tester", [key, "v1", 1])
    rec = await conn.replace("tester", [key, "v2", 1])
    assert rec["name"] == "v2"
    rec = await conn.update("tester", key, [["=", "name", "v3"], ["+", 2, 10]])
    assert rec is not None and (rec["name"], rec["value"]) == ("v3", 11)
    assert await conn.update("tester", key + 1, [["=", 1, "x"]]) is None
    await conn.upsert("tester", [key + 1, "new", 0], [["+", "value", 1]])
    await conn.upsert("tester", [key + 1, "new", 0], [["+", "value", 1]])
    (got,) = await conn.select("tester", key + 1)
    assert got["value"] == 1
    deleted = await conn.delete("tester", key)
    assert deleted is not None and deleted["name"] == "v3"
    assert await conn.delete("tester", key) is None


async def test_space_without_format_names_fields_by_position(
    conn: TarantoolConnection, key: int
) -> None:
    rec = await conn.replace("noformat", [key, "x", 3.5])
    assert rec[1] == "x" and rec["2"] == 3.5
    assert list(rec.keys()) == ["0", "1", "2"]


async def test_extension_types_round_trip(conn: TarantoolConnection, key: int) -> None:
    values = [Decimal("-12.3400"), Decimal("1E+3"), uuid.uuid4(), b"\x00\xff", None, True, -(2**63)]
    rec = await conn.replace("tester", [key, "ext", values])
    assert rec["value"] == values
    echoed = await conn.call("echo", [2**64 - 1, 1.5, "ü", {"k": [1]}])
    assert echoed == [2**64 - 1, 1.5, "ü", {"k": [1]}]


async def test_unknown_space_and_index(conn: TarantoolConnection) -> None:
    with pytest.raises(ferrule.DatabaseError) as info:
        await conn.select("no_such_space")
    assert info.value.code == "36"
    with pytest.raises(ferrule.DatabaseError):
        await conn.select("tester", 1, index="no_such_index")


async def test_bad_arguments_are_clear(conn: TarantoolConnection) -> None:
    with pytest.raises(TypeError, match="tuple"):
        await conn.insert("tester", "not a tuple")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iterator"):
        await conn.select("tester", 1, iterator="SIDEWAYS")
    with pytest.raises(TypeError, match="cannot encode"):
        await conn.call("echo", [object()])


async def test_concurrent_requests_on_one_connection(conn: TarantoolConnection, key: int) -> None:
    import asyncio

    results = await asyncio.gather(
        *(conn.replace("tester", [key + i, "c", i]) for i in range(200)),
        *(conn.ping() for _ in range(200)),
    )
    assert [r["value"] for r in results[:200]] == list(range(200))
