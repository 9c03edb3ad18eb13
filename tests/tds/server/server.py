"""The TDS test server: settings shared by all connections, the asyncio listener, and the
command line (`python -m tests.tds.server`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field

import apsw

from .browser import start_browser
from .connection import TdsConnection
from .database import Databases
from .prelogin import EncryptionPolicy
from .streams import server_context
from .sysviews import SessionInfo


@dataclass
class ServerState:
    databases: Databases
    default_database: str
    users: dict[str, str]
    access_tokens: dict[str, str] = field(default_factory=dict)
    encryption: EncryptionPolicy = EncryptionPolicy.UNSUPPORTED
    tls_context: object | None = None
    strict_tls_context: object | None = None
    lock_wait_seconds: float = 10.0
    sessions: dict[int, SessionInfo] = field(default_factory=dict)
    version_text: str = (
        "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) ferrule TDS test server on "
        f"SQLite {apsw.sqlite_lib_version()}"
    )


class TdsTestServer:
    """Listens on host:port and serves each client with its own TdsConnection."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str],
        databases: list[str],
        access_tokens: dict[str, str] | None = None,
        cert: str | None = None,
        key: str | None = None,
        encryption: str = "optional",
        data_dir: str | None = None,
        instance: str = "FERRULE",
        browser_port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.instance = instance
        # None: no SQL Browser; 0: a free UDP port; else that port (1434 is the real one).
        self.browser_port = browser_port
        self._browser: asyncio.DatagramTransport | None = None
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="ferrule-tds-")
        policy = EncryptionPolicy(encryption)
        tls = strict = None
        if cert and key:
            tls = server_context(cert, key, alpn=False, max_tls12=True)
            strict = server_context(cert, key, alpn=True, max_tls12=False)
        elif policy is not EncryptionPolicy.UNSUPPORTED:
            policy = EncryptionPolicy.UNSUPPORTED
        self.state = ServerState(
            databases=Databases(self.data_dir, ["master", "tempdb", *databases]),
            default_database=databases[0] if databases else "master",
            users=users,
            access_tokens=access_tokens or {},
            encryption=policy,
            tls_context=tls,
            strict_tls_context=strict,
        )
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.browser_port is not None:
            self._browser, self.browser_port = await start_browser(
                self.host, self.browser_port, self.instance, self.port
            )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await TdsConnection(self.state, reader, writer).run()
        finally:
            self._connections.discard(task)

    async def stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # The parent holds our stdin open; when it dies the pipe closes and we stop too.
    sys.stdin.buffer.read()
    loop.call_soon_threadsafe(stop.set)


def _raise_file_limit() -> None:
    # Each session holds its socket and three SQLite files (database, WAL, shared memory):
    # a few hundred concurrent connections pass the usual soft limit of 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def _serve(args: argparse.Namespace) -> None:
    users = {args.user: args.password}
    tokens = {args.access_token: args.user} if args.access_token else {}
    server = TdsTestServer(
        host=args.host,
        port=args.port,
        users=users,
        databases=args.database,
        access_tokens=tokens,
        cert=args.cert,
        key=args.key,
        encryption=args.encryption,
        instance=args.instance,
        browser_port=None if args.browser_port < 0 else args.browser_port,
        data_dir=args.data_dir,
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.watch_stdin:
        threading.Thread(target=_watch_stdin, args=(loop, stop), daemon=True).start()
    print(f"LISTENING {server.host} {server.port} {server.browser_port or 0}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The TDS (SQL Server) test server on SQLite")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="sa")
    parser.add_argument("--password", required=True)
    parser.add_argument("--database", action="append", default=None)
    parser.add_argument("--access-token", default=None)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument(
        "--encryption", default="optional", choices=[p.value for p in EncryptionPolicy]
    )
    parser.add_argument("--data-dir", help="where the databases live (default: a new temp dir)")
    parser.add_argument("--instance", default="FERRULE")
    parser.add_argument(
        "--browser-port",
        type=int,
        default=-1,
        help="UDP port of the SQL Browser (0: a free one; -1: none)",
    )
    parser.add_argument("--watch-stdin", action="store_true")
    parser.add_argument("--log-level", default=os.environ.get("TDS_SERVER_LOG", "WARNING"))
    args = parser.parse_args(argv)
    args.database = args.database or ["ferrule_test"]
    _raise_file_limit()
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    asyncio.run(_serve(args))
