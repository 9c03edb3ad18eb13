"""ferrule's Tarantool client for bench/tarantool.py."""

from __future__ import annotations

from typing import Any

import ferrule

NAME = "ferrule"


async def connect(host: str, port: int, user: str, password: str) -> Any:
    return await ferrule.connect(f"tarantool://{user}:{password}@{host}:{port}")


async def close(conn: Any) -> None:
    await conn.close()


def ops(conn: Any) -> dict[str, Any]:
    """One awaitable per request kind, each taking the request number."""
    return {
        "ping": lambda i: conn.ping(),
        "select": lambda i: conn.select("bench", i % 1000 + 1),
        "insert": lambda i: conn.insert("bench_w", [i, "x", i]),
        "call": lambda i: conn.call("bench_call", [i]),
        "eval": lambda i: conn.eval("return ...", [i]),
    }
