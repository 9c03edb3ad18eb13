"""call and eval, errors with their code, and pushed messages (IPROTO_CHUNK)."""

from __future__ import annotations

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection


async def test_call_returns_all_results(conn: TarantoolConnection) -> None:
    assert await conn.call("echo", [1, "two", [3]]) == [1, "two", [3]]
    assert await conn.call("echo") == []


async def test_eval(conn: TarantoolConnection) -> None:
    assert await conn.eval("return ...", [1, 2]) == [1, 2]
    assert await conn.eval("return box.info.version:sub(1, 1)") == ["2"]


async def test_box_error_keeps_code_and_message(conn: TarantoolConnection) -> None:
    with pytest.raises(ferrule.DatabaseError) as info:
        await conn.call("raise_error", ["custom failure"])
    assert info.value.code == "42"
    assert "custom failure" in str(info.value)


async def test_lua_error_and_missing_function(conn: TarantoolConnection) -> None:
    with pytest.raises(ferrule.DatabaseError, match="boom"):
        await conn.eval("error('boom')")
    with pytest.raises(ferrule.ProgrammingError) as info:
        await conn.call("no_such_function")
    assert info.value.code == "33"


async def test_pushes_arrive_before_the_result(conn: TarantoolConnection) -> None:
    it = await conn.call("push_messages", [3], push_subscribe=True)
    messages = [m async for m in it]
    assert messages == [[1, "message 1"], [2, "message 2"], [3, "message 3"]]
    assert it.result == ["pushed 3"]


async def test_pushes_with_eval_and_error(conn: TarantoolConnection) -> None:
    it = await conn.eval("box.session.push('hi') error('late')", push_subscribe=True)
    got = []
    with pytest.raises(ferrule.DatabaseError, match="late"):
        async for m in it:
            got.append(m)
    assert got == ["hi"]


async def test_call_without_pushes_ignores_them(conn: TarantoolConnection) -> None:
    assert await conn.call("push_messages", [2]) == ["pushed 2"]
