"""Fixtures of the SQL Server tests: the TDS test server of the session and connections."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

import ferrule
from tests.common import server_unavailable
from tests.common.tds_server import TdsServer, TdsServerUnavailableError, get_tds_server

_names = itertools.count()


@pytest.fixture(scope="module")
def tds_server() -> Iterator[TdsServer]:
    """A server per test module: a stall of the test server (seen after some TLS and
    early-close sequences) then stays within one module."""
    try:
        get_tds_server()
        server = TdsServer()
        server.start()
    except TdsServerUnavailableError as exc:
        server_unavailable(f"TDS test server unavailable: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def mssql_dsn(tds_server: TdsServer) -> str:
    """The login is encrypted (the server offers TLS), the session is not."""
    return tds_server.dsn(encrypt="no")


@pytest.fixture
async def conn(mssql_dsn: str) -> AsyncIterator[ferrule.MssqlConnection]:
    c = await ferrule.connect(mssql_dsn)
    assert isinstance(c, ferrule.MssqlConnection)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def table_name() -> str:
    """A table name unique in the session (the server's database lives as long as it)."""
    return f"t_{next(_names)}"
