"""What the pool tests share: unique application names, and what the server says of them."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable

from tests.common.pg_cluster import PgCluster

_names = itertools.count(1)


def app_name(stem: str) -> str:
    """An application_name no other pool in this run uses (the pid keeps runs apart)."""
    return f"ferrule_pool_{stem}_{os.getpid()}_{next(_names)}"


def server_sessions(cluster: PgCluster, app: str) -> int:
    """Sessions the server has for `app` right now (psql over the unix socket)."""
    out = cluster.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :'app'", app=app
    )
    return int(out)


def server_pids(cluster: PgCluster, app: str) -> set[int]:
    out = cluster.psql("SELECT pid FROM pg_stat_activity WHERE application_name = :'app'", app=app)
    return {int(line) for line in out.split()}


def terminate_backends(cluster: PgCluster, pids: set[int]) -> None:
    """pg_terminate_backend on each pid (they are ints, so they go in as psql variables)."""
    for pid in pids:
        cluster.psql("SELECT pg_terminate_backend(:'pid'::int)", pid=str(pid))


def terminate_app_backends(cluster: PgCluster, app: str) -> int:
    """pg_terminate_backend on every session of `app` at once; returns how many."""
    out = cluster.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = :'app'",
        app=app,
    )
    return int(out)


async def settle(check: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> bool:
    """Polls `check` until it holds or `timeout` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)


async def settle_sessions(cluster: PgCluster, app: str, expected: int, timeout: float = 5.0) -> int:
    """Waits (a backend ends a moment after its client left) until the server has `expected`
    sessions for `app`; returns the last count seen."""
    deadline = time.monotonic() + timeout
    while True:
        count = await asyncio.to_thread(server_sessions, cluster, app)
        if count == expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)
