"""The PostgreSQL workloads: the same SQL and the same data for every library.

Each workload times only the library calls; checking the answer, truncating tables and the
garbage collection between measurements happen outside the timed region.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter, perf_counter_ns, process_time
from typing import Any

from bench import pg_copy
from bench.common import Log, Metric, Results, Workload, percentile, run_rounds
from bench.pg_asyncpg import AsyncpgClient
from bench.pg_ferrule import FerruleClient
from bench.pg_psqlpy import PsqlpyClient
from bench.pg_psycopg import PsycopgClient

CLIENTS = {c.name: c for c in (FerruleClient, AsyncpgClient, PsqlpyClient, PsycopgClient)}
PEERS = ("asyncpg", "psqlpy", "psycopg")
POOL_SIZE = 10
SLEEP_SECONDS = 0.1

SQL_SELECT1 = "SELECT 1"
SQL_2COL = "SELECT i, 'name-' || i FROM generate_series(1, $1::int4) AS i"
SQL_10COL = """\
SELECT i AS int4_col,
       i::int8 * 1000003 AS int8_col,
       i / 7.0::float8 AS float8_col,
       (i / 7.0)::numeric(12, 4) AS numeric_col,
       'row ' || i AS text_col,
       i % 2 = 0 AS bool_col,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' AS timestamptz_col,
       date '2024-01-01' + i AS date_col,
       md5(i::text)::uuid AS uuid_col,
       decode(md5(i::text), 'hex') AS bytea_col
FROM generate_series(1, $1::int4) AS i"""
SQL_SHORT = "SELECT $1::int4"
SQL_SLEEP = "SELECT pg_sleep($1::float8)"
SQL_SERVER_VERSION = "SELECT current_setting($1)"

# One table per process, so two runs against one FERRULE_PG_DSN server do not collide.
MANY_TABLE = f"bench_many_{os.getpid()}"
MIXED_TABLE = f"bench_mixed_{os.getpid()}"
SQL_MANY_CREATE = f"CREATE TEMP TABLE {MANY_TABLE} (a int8, b text, c float8)"
SQL_MANY_INSERT = f"INSERT INTO {MANY_TABLE} (a, b, c) VALUES ($1, $2, $3)"
SQL_MANY_COUNT = f"SELECT count(*) FROM {MANY_TABLE} WHERE a >= $1"
SQL_MIXED_CREATE = f"CREATE UNLOGGED TABLE IF NOT EXISTS {MIXED_TABLE} (k int4, v text)"
SQL_MIXED_INSERT = f"INSERT INTO {MIXED_TABLE} (k, v) VALUES ($1, $2)"
SQL_MIXED_COUNT = f"SELECT count(*) FROM {MIXED_TABLE} WHERE k >= $1"
SQL_MIXED_DROP = f"DROP TABLE IF EXISTS {MIXED_TABLE}"

WORKLOADS = (
    "select1",
    "fetch_2col",
    "fetch_10col",
    "executemany",
    "pool_concurrent",
    "pool_web",
    "pool_mixed",
    "copy_in",
    "copy_out",
)
POOL_WORKLOADS = frozenset({"pool_concurrent", "pool_web", "pool_mixed"})


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does; `quick()` is a smoke run of the same code paths."""

    select1: int = 5_000
    rows_2col: int = 100_000
    rows_10col: int = 10_000
    many_rows: int = 10_000
    pool_tasks: int = 100
    pool_queries: int = 50
    web_requests: int = 500
    mixed_reads: int = 400
    mixed_sleeps: int = 20
    mixed_writes: int = 100
    copy_rows: int = 1_000_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            select1=500,
            rows_2col=10_000,
            rows_10col=1_000,
            many_rows=1_000,
            pool_queries=5,
            web_requests=100,
            mixed_reads=80,
            mixed_sleeps=4,
            mixed_writes=20,
            copy_rows=20_000,
        )


@dataclass
class Session:
    """One library's connection and pool, opened once per event loop and reused by rounds."""

    client: Any
    conn: Any = None
    pool: Any = None
    # The server process of `conn` when it runs on this machine (its CPU time is measured).
    backend_pid: int | None = None

    @property
    def name(self) -> str:
        return str(self.client.name)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"wrong result: {what}")


def _ms(ns: float) -> float:
    return ns / 1e6


def select1(sizes: Sizes) -> Workload:
    n = sizes.select1

    async def measure(s: Session) -> dict[str, float]:
        latencies = [0] * n
        cpu, started = process_time(), perf_counter()
        await s.client.select_loop(s.conn, SQL_SELECT1, n, latencies)
        wall, cpu = perf_counter() - started, process_time() - cpu
        latencies.sort()
        return {
            "qps": n / wall,
            "p50": percentile(latencies, 0.50) / 1e3,
            "p99": percentile(latencies, 0.99) / 1e3,
            "cpu": cpu / n * 1e6,
        }

    metrics = (
        Metric("qps", "throughput", "queries/s", True, primary=True),
        Metric("p50", "p50 latency", "us", False),
        Metric("p99", "p99 latency", "us", False),
        Metric("cpu", "client CPU", "us/query", False),
    )
    return Workload("select1", f"{n:,} sequential SELECT 1, one connection", metrics, measure)


def fetch(name: str, sql: str, n: int, columns: int, title: str) -> Workload:
    async def measure(s: Session) -> dict[str, float]:
        query = s.client.placeholders(sql)
        started = perf_counter()
        rows = await s.client.fetch_all(s.conn, query, n)
        wall = perf_counter() - started
        _check(len(rows) == n, f"{len(rows)} rows, expected {n}")
        last = tuple(rows[-1])
        _check(len(last) == columns and last[0] == n, f"last row {last!r}")
        return {"ms": wall * 1e3, "rows_s": n / wall}

    metrics = (
        Metric("ms", "time", "ms", False, primary=True),
        Metric("rows_s", "throughput", "rows/s", True),
    )
    return Workload(name, title, metrics, measure)


def executemany(sizes: Sizes) -> Workload:
    n = sizes.many_rows
    data = [(i, f"name-{i}", i * 0.25) for i in range(n)]

    async def measure(s: Session) -> dict[str, float]:
        insert = s.client.placeholders(SQL_MANY_INSERT)
        await s.client.run_script(s.conn, f"TRUNCATE {MANY_TABLE}")
        started = perf_counter()
        await s.client.executemany(s.conn, insert, data)
        wall = perf_counter() - started
        count = await s.client.fetch_all(s.conn, s.client.placeholders(SQL_MANY_COUNT), 0)
        _check(count[0][0] == n, f"{count[0][0]} rows inserted, expected {n}")
        return {"ms": wall * 1e3, "rows_s": n / wall}

    metrics = (
        Metric("ms", "time", "ms", False, primary=True),
        Metric("rows_s", "throughput", "rows/s", True),
    )
    title = f"executemany {n:,} rows x 3 columns (int8, text, float8)"
    return Workload("executemany", title, metrics, measure)


def pool_concurrent(sizes: Sizes) -> Workload:
    tasks, per_task = sizes.pool_tasks, sizes.pool_queries
    total = tasks * per_task

    async def measure(s: Session) -> dict[str, float]:
        query = s.client.placeholders(SQL_SHORT)
        loops = [s.client.pool_loop(s.pool, query, i, per_task) for i in range(tasks)]
        cpu, started = process_time(), perf_counter()
        await asyncio.gather(*loops)
        wall, cpu = perf_counter() - started, process_time() - cpu
        return {"qps": total / wall, "cpu": cpu / total * 1e6}

    metrics = (
        Metric("qps", "throughput", "queries/s", True, primary=True),
        Metric("cpu", "client CPU", "us/query", False),
    )
    title = f"{tasks} tasks x {per_task} queries, {POOL_SIZE} pooled connections"
    return Workload("pool_concurrent", title, metrics, measure)


def pool_web(sizes: Sizes) -> Workload:
    n = sizes.web_requests

    async def measure(s: Session) -> dict[str, float]:
        query = s.client.placeholders(SQL_SHORT)
        fetchval, pool = s.client.pool_fetchval, s.pool
        latencies = [0] * n

        async def request(i: int) -> Any:
            started = perf_counter_ns()
            value = await fetchval(pool, query, i)
            latencies[i] = perf_counter_ns() - started
            return value

        started = perf_counter()
        answers = await asyncio.gather(*(request(i) for i in range(n)))
        wall = perf_counter() - started
        _check(list(answers) == list(range(n)), "answers out of place")
        latencies.sort()
        return {
            "rps": n / wall,
            "p50": _ms(percentile(latencies, 0.50)),
            "p99": _ms(percentile(latencies, 0.99)),
        }

    metrics = (
        Metric("rps", "throughput", "requests/s", True, primary=True),
        Metric("p50", "p50 latency", "ms", False),
        Metric("p99", "p99 latency", "ms", False),
    )
    title = f"web server: {n} concurrent requests, one query each, pool of {POOL_SIZE}"
    return Workload("pool_web", title, metrics, measure)


def pool_mixed(sizes: Sizes) -> Workload:
    kinds = ["read"] * sizes.mixed_reads + ["sleep"] * sizes.mixed_sleeps
    kinds += ["write"] * sizes.mixed_writes
    # A fixed shuffle: every library gets the same interleaving of reads, sleeps and writes.
    random.Random(20240601).shuffle(kinds)

    async def measure(s: Session) -> dict[str, float]:
        client, pool = s.client, s.pool
        read, sleep = client.placeholders(SQL_SHORT), client.placeholders(SQL_SLEEP)
        write = client.placeholders(SQL_MIXED_INSERT)
        await client.run_script(s.conn, f"TRUNCATE {MIXED_TABLE}")
        read_latencies: list[int] = []

        async def operation(i: int, kind: str) -> None:
            if kind == "read":
                started = perf_counter_ns()
                await client.pool_fetchval(pool, read, i)
                read_latencies.append(perf_counter_ns() - started)
            elif kind == "sleep":
                await client.pool_execute(pool, sleep, (SLEEP_SECONDS,))
            else:
                await client.pool_execute(pool, write, (i, f"value-{i}"))

        started = perf_counter()
        await asyncio.gather(*(operation(i, kind) for i, kind in enumerate(kinds)))
        wall = perf_counter() - started
        count = await client.fetch_all(s.conn, client.placeholders(SQL_MIXED_COUNT), 0)
        _check(count[0][0] == sizes.mixed_writes, f"{count[0][0]} rows written")
        read_latencies.sort()
        return {"ops": len(kinds) / wall, "read_p99": _ms(percentile(read_latencies, 0.99))}

    metrics = (
        Metric("ops", "throughput", "ops/s", True, primary=True),
        Metric("read_p99", "read p99 latency", "ms", False),
    )
    title = (
        f"mixed: {sizes.mixed_reads} reads, {sizes.mixed_sleeps} pg_sleep({SLEEP_SECONDS}), "
        f"{sizes.mixed_writes} inserts at once, pool of {POOL_SIZE}"
    )
    return Workload("pool_mixed", title, metrics, measure)


def build_workloads(sizes: Sizes, names: Sequence[str]) -> list[Workload]:
    """The selected workloads, in the canonical order."""
    n2, n10 = sizes.rows_2col, sizes.rows_10col
    every = {
        "select1": lambda: select1(sizes),
        "fetch_2col": lambda: fetch(
            "fetch_2col", SQL_2COL, n2, 2, f"fetch {n2:,} rows x 2 columns (int4, text)"
        ),
        "fetch_10col": lambda: fetch(
            "fetch_10col", SQL_10COL, n10, 10, f"fetch {n10:,} rows x 10 mixed columns"
        ),
        "executemany": lambda: executemany(sizes),
        "pool_concurrent": lambda: pool_concurrent(sizes),
        "pool_web": lambda: pool_web(sizes),
        "pool_mixed": lambda: pool_mixed(sizes),
        "copy_in": lambda: pg_copy.copy_in(sizes.copy_rows),
        "copy_out": lambda: pg_copy.copy_out(sizes.copy_rows),
    }
    return [every[name]() for name in WORKLOADS if name in names]


def load_clients(names: Sequence[str]) -> tuple[list[Any], dict[str, str]]:
    """Import the selected libraries; the ones that fail are reported, not fatal."""
    loaded, missing = [], {}
    for name in names:
        client = CLIENTS[name]()
        try:
            client.load()
        except Exception as exc:
            missing[name] = f"{type(exc).__name__}: {exc}"
        else:
            loaded.append(client)
    return loaded, missing


async def open_session(client: Any, dsn: str, workloads: Sequence[Workload]) -> Session:
    names = {w.name for w in workloads}
    session = Session(client, conn=await client.connect(dsn))
    await client.run_script(session.conn, SQL_MANY_CREATE)
    if names & pg_copy.COPY_WORKLOADS:
        await pg_copy.create_tables(client, session.conn)
        session.backend_pid = await pg_copy.backend_pid(client, session.conn)
    if "pool_mixed" in names:
        await client.run_script(session.conn, SQL_MIXED_CREATE)
    if names & POOL_WORKLOADS:
        session.pool = await client.create_pool(dsn, POOL_SIZE)
    return session


async def close_session(session: Session) -> None:
    if session.pool is not None:
        await session.client.close_pool(session.pool)
    if session.conn is not None:
        await session.client.close(session.conn)


async def server_version(sessions: Sequence[Session]) -> str | None:
    """The server's version as the first library that answers reports it (peers first)."""
    for session in sorted(sessions, key=lambda s: s.name not in PEERS):
        query = session.client.placeholders(SQL_SERVER_VERSION)
        try:
            rows = await session.client.fetch_all(session.conn, query, "server_version")
            return str(rows[0][0])
        except Exception:
            continue
    return None


async def run_suite(
    loop: str,
    clients: Sequence[Any],
    dsn: str,
    workloads: Sequence[Workload],
    rounds: int,
    results: Results,
    timeout: float,
    log: Log,
) -> dict[str, str]:
    """Open every library's session, run the interleaved rounds, close; returns server info."""
    sessions: list[Session] = []
    for client in clients:
        try:
            sessions.append(await asyncio.wait_for(open_session(client, dsn, workloads), timeout))
        except Exception as exc:
            message = f"could not open a session: {type(exc).__name__}: {exc}"
            log(f"  {client.name}: {message}")
            for workload in workloads:
                results.error(loop, workload.name, client.name, message)
    info: dict[str, str] = {}
    try:
        version = await server_version(sessions)
        if version is not None:
            info["server_version"] = version
        await run_rounds(loop, workloads, sessions, rounds, results, timeout, log)
    finally:
        if sessions and any(w.name == "pool_mixed" for w in workloads):
            try:
                await sessions[0].client.run_script(sessions[0].conn, SQL_MIXED_DROP)
            except Exception as exc:
                log(f"  dropping {MIXED_TABLE} failed: {type(exc).__name__}: {exc}")
        for session in sessions:
            try:
                await asyncio.wait_for(close_session(session), timeout)
            except Exception as exc:
                log(f"  {session.name}: close failed: {type(exc).__name__}: {exc}")
    return info
