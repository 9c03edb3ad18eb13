"""The TDS test server harness (tests/common/tds_server.py): start, stop, DSNs, refusals."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest

from tests.common import server_unavailable
from tests.common.tds_server import TdsServer, TdsServerUnavailableError, get_tds_server
from tests.tds.raw_client import RawClient


@pytest.fixture(scope="module")
def server() -> TdsServer:
    try:
        return get_tds_server()
    except TdsServerUnavailableError as exc:
        server_unavailable(f"TDS test server unavailable: {exc}")


def test_dsn_names_the_server(server: TdsServer) -> None:
    parts = urlsplit(server.dsn(encrypt="strict"))
    assert (parts.scheme, parts.hostname, parts.port) == ("mssql", "127.0.0.1", server.port)
    assert (unquote(parts.username or ""), unquote(parts.password or "")) == (
        server.user,
        server.password,
    )
    assert parts.path == "/ferrule_test" and parts.query == "encrypt=strict"
    assert urlsplit(server.dsn(host="localhost")).hostname == "localhost"
    ado = server.ado_dsn(Encrypt="yes")
    assert ado.startswith(f"Server=127.0.0.1,{server.port};Database=ferrule_test;UID=sa;")
    assert ado.endswith(";Encrypt=yes;")


@pytest.fixture
def own_server() -> Iterator[TdsServer]:
    try:
        started = TdsServer(encryption="required")
        started.start()
    except TdsServerUnavailableError as exc:
        server_unavailable(f"TDS test server unavailable: {exc}")
    yield started
    started.close()


def test_stop_and_start_keep_the_port_and_the_data(own_server: TdsServer) -> None:
    port = own_server.port
    raw = RawClient(own_server.host, own_server.port, strict_ca=own_server.tls_ca)
    raw.login(own_server.user, own_server.password, own_server.database)
    raw.batch("CREATE TABLE kept (id bigint IDENTITY(1,1) PRIMARY KEY, v nvarchar(10))")
    raw.batch("INSERT INTO kept (v) VALUES (N'a')")
    raw.batch("CREATE PROCEDURE kept_proc @x int AS SELECT @x + 1 AS y")
    raw.close()
    own_server.stop()
    with pytest.raises(OSError):
        socket.create_connection((own_server.host, port), timeout=2).close()
    own_server.start()
    assert own_server.port == port
    raw = RawClient(own_server.host, own_server.port, strict_ca=own_server.tls_ca)
    assert raw.login(own_server.user, own_server.password, own_server.database).of("loginack")
    assert raw.batch("SELECT id, v FROM kept").rows == [[1, "a"]]
    assert raw.batch("EXEC kept_proc 41").rows == [[42]]
    raw.close()


def test_required_encryption_refuses_plain_clients(own_server: TdsServer) -> None:
    pytds = pytest.importorskip("pytds")
    with pytest.raises(Exception):  # noqa: B017 - python-tds raises its own kinds
        pytds.connect(dsn=own_server.host, port=own_server.port, user=own_server.user,
                      password=own_server.password, database=own_server.database,
                      disable_connect_retry=True, login_timeout=5)  # fmt: skip
    with pytds.connect(dsn=own_server.tls_server_name, port=own_server.port,
                       user=own_server.user, password=own_server.password,
                       database=own_server.database, cafile=own_server.tls_ca,
                       disable_connect_retry=True, login_timeout=5) as conn:  # fmt: skip
        with conn.cursor() as cursor:
            cursor.execute("SELECT encrypt_option FROM sys.dm_exec_connections "
                           "WHERE session_id = @@SPID")  # fmt: skip
            assert cursor.fetchall() == [("TRUE",)]


def test_sql_browser_tells_the_instance_port(server: TdsServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(b"\x04" + server.instance.lower().encode() + b"\x00",
                   (server.host, server.browser_port))  # fmt: skip
        reply, _ = udp.recvfrom(4096)
    assert reply[0] == 0x05
    text = reply[3 : 3 + int.from_bytes(reply[1:3], "little")].decode()
    fields = text.rstrip(";").split(";")
    record = dict(zip(fields[::2], fields[1::2]))
    assert record["InstanceName"] == server.instance
    assert record["tcp"] == str(server.port)
