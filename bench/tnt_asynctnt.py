"""asynctnt for bench/tarantool.py."""

from __future__ import annotations

from typing import Any

import asynctnt

NAME = "asynctnt"


async def connect(host: str, port: int, user: str, password: str) -> Any:
    conn = asynctnt.Connection(host=host, port=port, username=user, password=password)
    await conn.connect()
    return conn


async def close(conn: Any) -> None:
    await conn.disconnect()


def ops(conn: Any) -> dict[str, Any]:
    return {
        "ping": lambda i: conn.ping(),
        "select": lambda i: conn.select("bench", [i % 1000 + 1]),
        "insert": lambda i: conn.insert("bench_w", [i, "x", i]),
        "call": lambda i: conn.call("bench_call", [i]),
        "eval": lambda i: conn.eval("return ...", [i]),
    }
