"""Multi-host DSNs against a primary and a streaming-replication standby started by the
harness: target_session_attrs, load_balance_hosts, dead hosts, and failover."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import pytest

import ferrule
from tests.common import server_unavailable
from tests.common.pg_cluster import ClusterUnavailableError, PgCluster, free_tcp_port
from tests.common.pg_replica import PgReplicaPair, get_replica_pair, make_replica_pair


@pytest.fixture(scope="session")
def pair() -> PgReplicaPair:
    try:
        return get_replica_pair()
    except ClusterUnavailableError as exc:
        server_unavailable(f"primary and standby unavailable: {exc}")


async def server_port(dsn: str, **kwargs: object) -> int:
    conn = await ferrule.connect(dsn, **kwargs)
    try:
        port: int = await conn.fetchval("SELECT inet_server_port()")
        return port
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("attrs", "want"),
    [
        ("any", "first"),
        ("read-write", "primary"),
        ("primary", "primary"),
        ("read-only", "standby"),
        ("standby", "standby"),
        ("prefer-standby", "standby"),
    ],
)
@pytest.mark.parametrize("standby_first", [False, True])
async def test_target_session_attrs(
    pair: PgReplicaPair, attrs: str, want: str, standby_first: bool
) -> None:
    order = (pair.standby, pair.primary) if standby_first else (pair.primary, pair.standby)
    expected = {"primary": pair.primary, "standby": pair.standby, "first": order[0]}[want]
    dsn = pair.dsn(order=order, target_session_attrs=attrs)
    assert await server_port(dsn) == expected.port
    # The keyword argument does the same.
    plain = pair.dsn(order=order)
    assert await server_port(plain, target_session_attrs=attrs) == expected.port


async def test_no_matching_server_names_every_attempt(pair: PgReplicaPair) -> None:
    dsn = pair.dsn(order=(pair.standby,), target_session_attrs="read-write")
    with pytest.raises(ferrule.ConnectionFailureError) as info:
        await ferrule.connect(dsn)
    assert "target_session_attrs=read-write" in str(info.value)
    assert f"{pair.standby.port}: a standby" in str(info.value)
    # prefer-standby falls back to any server when there is no standby.
    only_primary = pair.dsn(order=(pair.primary,), target_session_attrs="prefer-standby")
    assert await server_port(only_primary) == pair.primary.port


async def test_dead_hosts_are_skipped(pair: PgReplicaPair) -> None:
    dead = PgCluster()
    dead.port = free_tcp_port()  # nobody listens there
    dsn = pair.dsn(order=(dead, pair.standby, pair.primary), target_session_attrs="primary")
    started = time.monotonic()
    assert await server_port(dsn) == pair.primary.port
    assert time.monotonic() - started < 5
    with pytest.raises(ferrule.ConnectionFailureError) as info:
        await ferrule.connect(pair.dsn(order=(dead,), target_session_attrs="standby"))
    assert f"127.0.0.1:{dead.port}" in str(info.value)


async def test_load_balance_hosts(pair: PgReplicaPair) -> None:
    random_dsn = pair.dsn(load_balance_hosts="random")
    ports = Counter([await server_port(random_dsn) for _ in range(40)])
    # Each order has probability 1/2: all 40 alike would be a 1 in 2**39 event.
    assert set(ports) == {pair.primary.port, pair.standby.port}
    in_order = pair.dsn(load_balance_hosts="disable")
    assert {await server_port(in_order) for _ in range(5)} == {pair.primary.port}
    # Balancing among the servers that match the attributes.
    rw = pair.dsn(load_balance_hosts="random", target_session_attrs="read-write")
    assert {await server_port(rw) for _ in range(10)} == {pair.primary.port}


async def test_bad_settings_are_clear_errors(
    pair: PgReplicaPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ferrule.InterfaceError, match="invalid target_session_attrs 'master'"):
        await ferrule.connect(pair.dsn(target_session_attrs="master"))
    with pytest.raises(ferrule.InterfaceError, match="invalid load_balance_hosts"):
        await ferrule.connect(pair.dsn(load_balance_hosts="yes"))
    monkeypatch.setenv("PGTARGETSESSIONATTRS", "standby")
    assert await server_port(pair.dsn()) == pair.standby.port


class OldServerProxy:
    """Forwards to a server but drops its `in_hot_standby` and `default_transaction_read_only`
    ParameterStatus messages, as a server before PostgreSQL 14 would not send them: the
    client must then ask (SHOW transaction_read_only, pg_is_in_recovery())."""

    HIDDEN = (b"in_hot_standby\0", b"default_transaction_read_only\0")

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> OldServerProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def up() -> None:
            while data := await cr.read(65536):
                sw.write(data)
            sw.close()

        async def down() -> None:
            # Backend messages: a type byte, then a length that counts itself.
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    head = await sr.readexactly(5)
                    body = await sr.readexactly(int.from_bytes(head[1:], "big") - 4)
                    if not (head[:1] == b"S" and body.startswith(self.HIDDEN)):
                        cw.write(head + body)
            cw.close()

        await asyncio.gather(up(), down(), return_exceptions=True)


@pytest.mark.parametrize(
    ("attrs", "want"),
    [
        ("read-write", "primary"),
        ("read-only", "standby"),
        ("primary", "primary"),
        ("standby", "standby"),
    ],
)
async def test_servers_without_session_parameters_are_asked(
    pair: PgReplicaPair, attrs: str, want: str
) -> None:
    async with OldServerProxy(pair.standby.port) as s, OldServerProxy(pair.primary.port) as p:
        hosts = f"127.0.0.1:{s.port},127.0.0.1:{p.port}"
        dsn = f"postgresql://ferrule@{hosts}/ferrule_test?sslmode=disable"
        conn = await ferrule.connect(dsn, target_session_attrs=attrs)
        try:
            assert "in_hot_standby" not in conn.get_settings()
            port = await conn.fetchval("SELECT inet_server_port()")
            assert port == (pair.primary if want == "primary" else pair.standby).port
        finally:
            await conn.close()


async def test_failover_reroutes_new_connections() -> None:
    try:
        pair = make_replica_pair()
    except ClusterUnavailableError as exc:
        server_unavailable(f"primary and standby unavailable: {exc}")
    try:
        dsn = pair.dsn(target_session_attrs="read-write")
        conn = await ferrule.connect(dsn)
        assert await conn.fetchval("SELECT inet_server_port()") == pair.primary.port
        await conn.execute("CREATE TABLE failover_t (v int)")
        await conn.execute("INSERT INTO failover_t VALUES (1)")
        pair.wait_replayed()
        reader = await ferrule.connect(pair.dsn(target_session_attrs="standby"))

        pair.primary.stop("immediate")
        started = time.monotonic()
        with pytest.raises(ferrule.OperationalError):
            await conn.fetchval("SELECT 1")
        assert time.monotonic() - started < 1
        # No primary: read-write finds nothing, the standby still serves reads.
        with pytest.raises(ferrule.ConnectionFailureError, match="target_session_attrs"):
            await ferrule.connect(dsn, timeout=2)
        assert await reader.fetchval("SELECT count(*) FROM failover_t") == 1

        pair.standby.promote()
        started = time.monotonic()
        conn = await ferrule.connect(dsn)
        assert time.monotonic() - started < 2
        assert await conn.fetchval("SELECT inet_server_port()") == pair.standby.port
        await conn.execute("INSERT INTO failover_t VALUES (2)")
        assert await conn.fetchval("SELECT count(*) FROM failover_t") == 2
        # The old session on the promoted server is writable too now.
        await reader.execute("INSERT INTO failover_t VALUES (3)")
        await asyncio.gather(conn.close(), reader.close())
    finally:
        pair.close()
