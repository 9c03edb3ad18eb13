"""Helpers shared by the PostgreSQL tests (imported as `tests.pg.helpers`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from tests.common.pg_cluster import PgCluster


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> bool:
    """Polls `predicate` every 20 ms until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)


def backend_state(cluster: PgCluster, pid: int) -> str:
    """The `state` of server process `pid` in pg_stat_activity ('' when it is gone)."""
    return cluster.psql(
        "SELECT coalesce(state, '') FROM pg_stat_activity WHERE pid = :'pid'", pid=str(pid)
    )


def rss_bytes() -> int:
    """This process's resident set size, from /proc."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
