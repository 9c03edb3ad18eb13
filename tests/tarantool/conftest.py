"""Tarantool fixtures: the session's server (tests.common.tarantool_server) and connections."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection
from tests.common import server_unavailable
from tests.common.tarantool_server import TarantoolServer, TarantoolUnavailableError, get_server

_keys = itertools.count(1_000)


@pytest.fixture(scope="session")
def tnt_server() -> TarantoolServer:
    try:
        server = get_server()
    except TarantoolUnavailableError as exc:
        server_unavailable(f"Tarantool test server unavailable: {exc}")
    return server


@pytest.fixture
def tnt_local(tnt_server: TarantoolServer) -> TarantoolServer:
    """The server, for tests that kill or restart it; skipped against FERRULE_TNT_DSN."""
    if tnt_server.is_external:
        pytest.skip("needs the harness's own server, not FERRULE_TNT_DSN")
    tnt_server.start()
    return tnt_server


@pytest.fixture
def tnt_dsn(tnt_server: TarantoolServer) -> str:
    tnt_server.start()
    return tnt_server.dsn()


@pytest.fixture
async def conn(tnt_dsn: str) -> AsyncIterator[TarantoolConnection]:
    c = await ferrule.connect(tnt_dsn)
    assert isinstance(c, TarantoolConnection)
    yield c
    await c.close()


@pytest.fixture
def key() -> int:
    """A primary key no other test uses (the suite shares the `tester` space)."""
    return next(_keys) * 1000


@pytest.fixture
def server_version(tnt_server: TarantoolServer) -> tuple[int, ...]:
    from tests.common.tarantool_server import server_version

    if tnt_server.is_external:
        return (0,)
    return server_version()
