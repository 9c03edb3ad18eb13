"""The PostgreSQL COPY workloads: a million rows in from a list of tuples, and out again.

Every library does the same work: binary COPY of three columns (int8, text, float8) into and
out of a temporary table of its own session; records come from one Python list of tuples;
COPY out goes to an in-memory sink (each library's idiomatic one: an async callable for
asyncpg and ferrule, psycopg's `async for` over the copy). Each measurement checks the row
count, and COPY out checks the exact byte count of the binary stream.

Besides the time, two CPU figures: the client's (`process_time`, every thread of the
process, ferrule's runtime threads included) and the server backend's (from
`/proc/<pid>/schedstat`, when the server runs on this machine): the backend's is the floor no
client can go below, since the server parses or produces every row itself.
"""

from __future__ import annotations

import os
from time import perf_counter, process_time
from typing import Any

from bench.common import Metric, Workload

COPY_IN_TABLE = f"bench_copy_in_{os.getpid()}"
COPY_OUT_TABLE = f"bench_copy_out_{os.getpid()}"
COLUMNS = ("a", "b", "c")
PG_TYPES = ("int8", "text", "float8")
SQL_COPY_CREATE = "CREATE TEMP TABLE {} (a int8, b text, c float8)"
SQL_COPY_OUT_EMPTY = f"TRUNCATE {COPY_OUT_TABLE}"
SQL_COPY_FILL = (
    f"INSERT INTO {COPY_OUT_TABLE} (a, b, c) "
    "SELECT i, 'name-' || i, i * 0.25 FROM generate_series(0, $1::int8 - 1) AS i"
)
SQL_COPY_IN_COUNT = f"SELECT count(*) FROM {COPY_IN_TABLE} WHERE a >= $1"
SQL_COPY_OUT_COUNT = f"SELECT count(*) FROM {COPY_OUT_TABLE} WHERE a >= $1"
SQL_BACKEND_PID = "SELECT pg_backend_pid(), $1::int4"
COPY_WORKLOADS = frozenset({"copy_in", "copy_out"})


class Unsupported(Exception):
    """The library cannot run this workload (the reason is reported instead of a number)."""


def records(n: int) -> list[tuple[int, str, float]]:
    """The rows both workloads move; COPY_OUT_TABLE is filled with the same on the server."""
    return [(i, f"name-{i}", i * 0.25) for i in range(n)]


def binary_size(n: int) -> int:
    """Bytes of the binary COPY stream of `records(n)`: header, rows, trailer."""
    # Per row: field count (2), three length words (12), int8 (8), float8 (8), the name.
    digits = sum(len(str(i)) for i in range(n))
    return 19 + n * (2 + 12 + 8 + 8 + len("name-")) + digits + 2


def backend_cpu_ms(pid: int | None) -> float | None:
    """CPU time of a server backend on this machine (from the scheduler, in ns), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return None


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"wrong result: {what}")


def _metrics() -> tuple[Metric, ...]:
    return (
        Metric("ms", "time", "ms", False, primary=True),
        Metric("rows_s", "throughput", "rows/s", True),
        Metric("cpu", "client CPU", "ms", False),
        Metric("server_cpu", "server backend CPU", "ms", False),
    )


def _figures(n: int, wall: float, cpu: float, server: float | None) -> dict[str, float]:
    out = {"ms": wall * 1e3, "rows_s": n / wall, "cpu": cpu * 1e3}
    if server is not None:
        out["server_cpu"] = server
    return out


def copy_in(n: int) -> Workload:
    data = records(n)

    async def measure(s: Any) -> dict[str, float]:
        client = s.client
        reason = client.unsupported.get("copy_in")
        if reason:
            raise Unsupported(reason)
        await client.run_script(s.conn, f"TRUNCATE {COPY_IN_TABLE}")
        before = backend_cpu_ms(s.backend_pid)
        cpu, started = process_time(), perf_counter()
        copied = await client.copy_in(s.conn, COPY_IN_TABLE, COLUMNS, PG_TYPES, data)
        wall, cpu = perf_counter() - started, process_time() - cpu
        after = backend_cpu_ms(s.backend_pid)
        _check(copied == n, f"COPY reported {copied} rows, expected {n}")
        count = await client.fetch_all(s.conn, client.placeholders(SQL_COPY_IN_COUNT), 0)
        _check(count[0][0] == n, f"{count[0][0]} rows in the table, expected {n}")
        server = after - before if before is not None and after is not None else None
        return _figures(n, wall, cpu, server)

    title = f"COPY in {n:,} rows x 3 columns (int8, text, float8) from a list of tuples"
    return Workload("copy_in", title, _metrics(), measure)


def copy_out(n: int) -> Workload:
    expected = binary_size(n)

    async def measure(s: Any) -> dict[str, float]:
        client = s.client
        reason = client.unsupported.get("copy_out")
        if reason:
            raise Unsupported(reason)
        await fill_once(client, s.conn, n)
        chunks: list[bytes] = []
        before = backend_cpu_ms(s.backend_pid)
        cpu, started = process_time(), perf_counter()
        copied = await client.copy_out(s.conn, COPY_OUT_TABLE, chunks)
        wall, cpu = perf_counter() - started, process_time() - cpu
        after = backend_cpu_ms(s.backend_pid)
        size = sum(map(len, chunks))
        _check(copied == n, f"COPY reported {copied} rows, expected {n}")
        _check(size == expected, f"{size} bytes of COPY data, expected {expected}")
        server = after - before if before is not None and after is not None else None
        return _figures(n, wall, cpu, server)

    title = f"COPY out {n:,} rows x 3 columns (binary) to an in-memory sink"
    return Workload("copy_out", title, _metrics(), measure)


async def create_tables(client: Any, conn: Any) -> None:
    """The session's COPY tables: one to copy into, one to copy out of (filled on first use)."""
    await client.run_script(conn, SQL_COPY_CREATE.format(COPY_IN_TABLE))
    await client.run_script(conn, SQL_COPY_CREATE.format(COPY_OUT_TABLE))


async def fill_once(client: Any, conn: Any, rows: int) -> None:
    """Puts `records(rows)` into the table COPY out reads, on the server, unless it is there."""
    count = await client.fetch_all(conn, client.placeholders(SQL_COPY_OUT_COUNT), 0)
    if count[0][0] == rows:
        return
    await client.run_script(conn, SQL_COPY_OUT_EMPTY)
    await client.execute(conn, client.placeholders(SQL_COPY_FILL), (rows,))
    count = await client.fetch_all(conn, client.placeholders(SQL_COPY_OUT_COUNT), 0)
    _check(count[0][0] == rows, f"{count[0][0]} rows to copy out, expected {rows}")


async def backend_pid(client: Any, conn: Any) -> int | None:
    """The session's server process, when it runs on this machine."""
    rows = await client.fetch_all(conn, client.placeholders(SQL_BACKEND_PID), 0)
    pid = int(rows[0][0])
    return pid if backend_cpu_ms(pid) is not None else None
