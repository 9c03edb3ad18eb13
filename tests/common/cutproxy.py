"""An asyncio TCP proxy that forwards to a server and cuts the connection after the server
has sent a chosen number of bytes: for "connection cut at byte N" tests of every backend."""

from __future__ import annotations

import asyncio
import contextlib


class CutProxy:
    """Forwards 127.0.0.1:<port> to ``target``; each new connection is cut after the server
    has sent ``cut_at`` bytes to the client (None: never)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.cut_at: int | None = None
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        limit = self.cut_at
        try:
            sr, sw = await asyncio.open_connection(*self.target)
        except OSError:
            cw.close()
            return

        async def pump(
            r: asyncio.StreamReader, w: asyncio.StreamWriter, budget: int | None
        ) -> None:
            sent = 0
            try:
                while True:
                    data = await r.read(65536)
                    if not data:
                        break
                    if budget is not None and sent + len(data) >= budget:
                        w.write(data[: budget - sent])
                        await w.drain()
                        break
                    sent += len(data)
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for writer in (cw, sw):
                    with contextlib.suppress(Exception):
                        writer.transport.abort()

        up = asyncio.ensure_future(pump(cr, sw, None))
        down = asyncio.ensure_future(pump(sr, cw, limit))
        for t in (up, down):
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        await asyncio.gather(up, down, return_exceptions=True)
