"""Connecting: encryption modes (TDS 7.4 TLS in PRELOGIN, TDS 8.0 strict), certificate checks,
SQL and access-token authentication, the SQL Browser for named instances."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import ferrule
from ferrule.exceptions import AuthenticationError, ConnectionFailureError
from tests.common.tds_server import TdsServer, TdsServerUnavailableError

pytestmark = pytest.mark.timeout(60)


async def _roundtrip(dsn: str, **kwargs: object) -> ferrule.MssqlConnection:
    conn = await ferrule.connect(dsn, **kwargs)
    assert isinstance(conn, ferrule.MssqlConnection)
    assert await conn.fetchval("SELECT @p1 + 1", 41) == 42
    return conn


@pytest.mark.parametrize(
    ("params", "encrypted"),
    [
        ({"encrypt": "disable"}, False),
        ({"encrypt": "no"}, False),
        ({"encrypt": "yes", "trust_server_certificate": "yes"}, True),
    ],
)
async def test_encryption_modes(tds_server: TdsServer, params: dict[str, str], encrypted: bool):
    conn = await _roundtrip(tds_server.dsn(**params))
    assert conn.is_encrypted() is encrypted
    assert conn.get_server_version()[0] >= 11
    await conn.close()


@pytest.fixture
def own_server() -> Iterator[TdsServer]:
    """A server of the test's own: a client that aborts a TLS handshake has been seen to
    stall the test server, which must not take the session's server down with it."""
    server = TdsServer()
    try:
        server.start()
    except TdsServerUnavailableError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def tds_server(own_server: TdsServer) -> TdsServer:
    """Each connect test gets a fresh server (see own_server)."""
    return own_server


@pytest.mark.parametrize("mode", ["yes", "strict"])
async def test_verified_tls(own_server: TdsServer, mode: str) -> None:
    dsn = own_server.dsn(encrypt=mode, ca_file=own_server.tls_ca, host="localhost")
    conn = await _roundtrip(dsn, timeout=5)
    assert conn.is_encrypted()
    await conn.close()


@pytest.mark.parametrize("mode", ["yes", "strict"])
async def test_wrong_certificate_is_rejected(own_server: TdsServer, mode: str) -> None:
    dsn = own_server.dsn(encrypt=mode, ca_file=own_server.tls_other_ca, host="localhost")
    with pytest.raises(ConnectionFailureError, match=r"certificate|UnknownIssuer"):
        await ferrule.connect(dsn, timeout=5)


async def test_strict_refuses_trust_server_certificate(tds_server: TdsServer) -> None:
    with pytest.raises(ferrule.InterfaceError, match="strict"):
        await ferrule.connect(tds_server.dsn(encrypt="strict", trust_server_certificate="yes"))


async def test_wrong_password(tds_server: TdsServer) -> None:
    with pytest.raises(AuthenticationError) as info:
        await ferrule.connect(tds_server.dsn(password="wrong", encrypt="no"))
    err = info.value
    assert (err.code, err.number, err.backend) == ("18456", 18456, "mssql")
    assert err.class_ == 14 and err.state is not None


async def test_access_token(tds_server: TdsServer) -> None:
    dsn = tds_server.dsn(encrypt="no", access_token=tds_server.access_token)
    conn = await _roundtrip(dsn)
    await conn.close()
    with pytest.raises(AuthenticationError):
        await ferrule.connect(tds_server.dsn(encrypt="no", access_token="not-the-token"))


async def test_ado_net_form(tds_server: TdsServer) -> None:
    dsn = (
        f"Server={tds_server.host},{tds_server.port};Database={tds_server.database};"
        f"UID={tds_server.user};PWD={{{tds_server.password}}};Encrypt=no;"
        "Application Name=ferrule tests;Connect Timeout=5;ApplicationIntent=ReadWrite"
    )
    conn = await _roundtrip(dsn)
    assert conn.get_database() == tds_server.database
    await conn.close()


async def test_unknown_database(tds_server: TdsServer) -> None:
    with pytest.raises(ferrule.Error) as info:
        await ferrule.connect(tds_server.dsn(database="no_such_db", encrypt="no"))
    assert info.value.code in ("4060", "18456")


async def test_connect_timeout() -> None:
    # A listener that never answers PRELOGIN.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ferrule.TimeoutError):
            await ferrule.connect(f"mssql://sa:x@127.0.0.1:{port}/db", timeout=0.3)
    finally:
        server.close()


class _Browser(asyncio.DatagramProtocol):
    """A SQL Browser answering for one instance."""

    def __init__(self, instance: str, port: int) -> None:
        self.instance, self.port = instance, port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data[:1] != b"\x04" or data[1:-1].decode().upper() != self.instance:
            return
        text = f"ServerName;H;InstanceName;{self.instance};IsClustered;No;tcp;{self.port};;"
        body = text.encode()
        self.transport.sendto(b"\x05" + len(body).to_bytes(2, "little") + body, addr)  # type: ignore[attr-defined]


async def test_named_instance_through_the_browser(tds_server: TdsServer) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Browser("FERRULE", tds_server.port), local_addr=("127.0.0.1", 0)
    )
    browser_port = transport.get_extra_info("sockname")[1]
    try:
        dsn = (
            f"Server={tds_server.host}\\ferrule;Database={tds_server.database};"
            f"UID={tds_server.user};PWD={{{tds_server.password}}};Encrypt=no"
        )
        conn = await _roundtrip(dsn, browser_port=browser_port)
        await conn.close()
        bad = dsn.replace("\\ferrule", "\\other")
        with pytest.raises(ConnectionFailureError, match="Browser"):
            await ferrule.connect(bad, browser_port=browser_port, timeout=10)
    finally:
        transport.close()
