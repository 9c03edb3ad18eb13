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


class LatencyProxy:
    """Forwards 127.0.0.1:<port> to `target`, delaying every chunk by `delay` seconds in each
    direction (order kept): a network with a round trip of 2 * `delay`."""

    def __init__(self, target_host: str, target_port: int, delay: float) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            sr, sw = await asyncio.open_connection(*self.target)
        except OSError:
            cw.close()
            return
        for reader, writer in ((cr, sw), (sr, cw)):
            queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
            for job in (self._read(reader, queue), self._write(writer, queue)):
                task = asyncio.ensure_future(job)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _read(
        self, reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + self.delay, data))
            if not data:
                return

    async def _write(
        self, writer: asyncio.StreamWriter, queue: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
