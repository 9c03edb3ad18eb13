"""SCRAM channel binding: over TLS, SCRAM-SHA-256-PLUS binds the login to the server's
certificate, so a man in the middle that terminates TLS with its own certificate (which
`sslmode=require` does not check) cannot relay a SCRAM login; md5 has no such protection."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster, make_tls_test_files

SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


class TlsMiddleman:
    """Accepts PostgreSQL's SSLRequest with its own certificate, opens TLS to the real server
    and relays the decrypted bytes both ways."""

    def __init__(self, cluster: PgCluster, cert: str, key: str) -> None:
        self.cluster = cluster
        self.client_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.client_side.load_cert_chain(cert, key)
        self.server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.server_side.check_hostname = False
        self.server_side.verify_mode = ssl.CERT_NONE
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
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.IncompleteReadError):
            if await cr.readexactly(8) != SSL_REQUEST:
                cw.close()
                return
            cw.write(b"S")
            await cw.drain()
            await cw.start_tls(self.client_side)
            sr, sw = await asyncio.open_connection(self.cluster.host, self.cluster.port)
            sw.write(SSL_REQUEST)
            await sw.drain()
            if await sr.readexactly(1) != b"S":
                cw.close()
                return
            await sw.start_tls(self.server_side)
            for reader, writer in ((cr, sw), (sr, cw)):
                task = asyncio.ensure_future(self._pump(reader, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest.fixture
async def middleman(
    pg_local_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TlsMiddleman]:
    files = make_tls_test_files(str(tmp_path_factory.mktemp("middleman")), "localhost")
    proxy = TlsMiddleman(pg_local_cluster, files.server_cert, files.server_key)
    await proxy.start()
    yield proxy
    await proxy.close()


async def test_md5_login_can_be_relayed(
    middleman: TlsMiddleman, pg_local_cluster: PgCluster
) -> None:
    # The relay works: md5 cannot tell it is talking to a middleman.
    dsn = pg_local_cluster.dsn(
        user="ferrule_md5", password="md5pass", port=middleman.port, sslmode="require"
    )
    conn = await ferrule.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "ferrule_md5"
    finally:
        await conn.close()


async def test_scram_login_cannot_be_relayed(
    middleman: TlsMiddleman, pg_local_cluster: PgCluster
) -> None:
    dsn = pg_local_cluster.dsn(
        user="ferrule_scram", password="scrampass", port=middleman.port, sslmode="require"
    )
    with pytest.raises(ferrule.InvalidAuthorizationSpecificationError, match="channel binding"):
        await ferrule.connect(dsn)


async def test_scram_over_tls_directly(pg_local_cluster: PgCluster) -> None:
    dsn = pg_local_cluster.dsn(user="ferrule_scram", password="scrampass", sslmode="require")
    conn = await ferrule.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "ferrule_scram"
    finally:
        await conn.close()
