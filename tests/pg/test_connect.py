"""Opening connections: URL DSN, keyword arguments, PG* environment variables, failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster, free_tcp_port

Connect = Callable[..., Awaitable[ferrule.PgConnection]]


async def _who(conn: ferrule.PgConnection) -> tuple[str, str]:
    row = await conn.fetchrow("SELECT current_user, current_database()")
    assert row is not None
    return row[0], row[1]


async def test_connect_with_url(pg_cluster: PgCluster, connect: Connect) -> None:
    conn = await connect(pg_cluster.dsn())
    assert isinstance(conn, ferrule.PgConnection)
    assert await _who(conn) == (pg_cluster.superuser, pg_cluster.database)
    assert not conn.is_closed()
    assert not conn.is_in_transaction()


async def test_postgres_scheme_is_accepted(pg_cluster: PgCluster, connect: Connect) -> None:
    dsn = pg_cluster.dsn().replace("postgresql://", "postgres://", 1)
    conn = await connect(dsn)
    assert await conn.fetchval("SELECT 1") == 1


async def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ferrule.InterfaceError, match="mysql"):
        await ferrule.connect("mysql://u@localhost/db")


async def test_keyword_arguments_override_the_url(
    pg_local_cluster: PgCluster, connect: Connect
) -> None:
    conn = await connect(
        "postgresql://nobody@127.0.0.1:1/nowhere",
        host=pg_local_cluster.host,
        port=pg_local_cluster.port,
        user=pg_local_cluster.superuser,
        database="postgres",
    )
    assert await _who(conn) == (pg_local_cluster.superuser, "postgres")


async def test_keyword_arguments_alone(pg_local_cluster: PgCluster) -> None:
    conn = await ferrule.pg_connection.connect(
        host=pg_local_cluster.host,
        port=pg_local_cluster.port,
        user=pg_local_cluster.superuser,
        database=pg_local_cluster.database,
    )
    try:
        assert await _who(conn) == (pg_local_cluster.superuser, pg_local_cluster.database)
    finally:
        await conn.close()


async def test_environment_variables(
    pg_local_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGHOST", pg_local_cluster.host)
    monkeypatch.setenv("PGPORT", str(pg_local_cluster.port))
    monkeypatch.setenv("PGUSER", "ferrule_md5")
    monkeypatch.setenv("PGPASSWORD", "md5pass")
    monkeypatch.setenv("PGDATABASE", pg_local_cluster.database)
    monkeypatch.setenv("PGAPPNAME", "ferrule-env-test")
    monkeypatch.setenv("PGSSLMODE", "disable")
    conn = await ferrule.connect()
    try:
        assert await _who(conn) == ("ferrule_md5", pg_local_cluster.database)
        assert await conn.fetchval("SHOW application_name") == "ferrule-env-test"
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is (
            False
        )
    finally:
        await conn.close()


async def test_url_wins_over_environment(
    pg_local_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGUSER", "ferrule_md5")
    monkeypatch.setenv("PGDATABASE", "postgres")
    conn = await ferrule.connect(pg_local_cluster.dsn())
    try:
        assert await _who(conn) == (pg_local_cluster.superuser, pg_local_cluster.database)
    finally:
        await conn.close()


async def test_passfile(
    pg_local_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    passfile = tmp_path_factory.mktemp("pgpass") / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg_local_cluster.port}:*:ferrule_scram:scrampass\n")
    passfile.chmod(0o600)
    dsn = pg_local_cluster.dsn(user="ferrule_scram", passfile=str(passfile))
    conn = await ferrule.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "ferrule_scram"
    finally:
        await conn.close()


async def test_server_settings_and_application_name(
    pg_cluster: PgCluster, connect: Connect
) -> None:
    conn = await connect(
        pg_cluster.dsn(application_name="ferrule-url-app"),
        server_settings={"search_path": "pg_catalog", "statement_timeout": "12345"},
    )
    assert await conn.fetchval("SHOW application_name") == "ferrule-url-app"
    assert await conn.fetchval("SHOW search_path") == "pg_catalog"
    assert await conn.fetchval("SHOW statement_timeout") == "12345ms"


async def test_unknown_url_parameter_is_a_server_setting(
    pg_cluster: PgCluster, connect: Connect
) -> None:
    conn = await connect(pg_cluster.dsn(work_mem="7MB"))
    assert await conn.fetchval("SHOW work_mem") == "7MB"


async def test_server_facts(pg_cluster: PgCluster, connect: Connect) -> None:
    conn = await connect(pg_cluster.dsn())
    assert conn.get_server_pid() == await conn.fetchval("SELECT pg_backend_pid()")
    num = int(await conn.fetchval("SHOW server_version_num"))
    version = conn.get_server_version()
    assert version[0] == num // 10000
    settings = conn.get_settings()
    assert settings["server_encoding"] == "UTF8"
    assert settings["client_encoding"] == "UTF8"
    assert "pid=" in repr(conn) and "idle" in repr(conn)


async def test_parameter_status_updates_settings(connect: Connect) -> None:
    conn = await connect()
    await conn.execute("SET TimeZone = 'Asia/Tokyo'")
    assert conn.get_settings()["TimeZone"] == "Asia/Tokyo"


async def test_refused_port_fails_fast() -> None:
    port = free_tcp_port()
    started = time.monotonic()
    with pytest.raises(ferrule.ConnectionFailureError):
        await ferrule.connect(f"postgresql://u@127.0.0.1:{port}/db", timeout=5)
    assert time.monotonic() - started < 2


async def test_connect_timeout_on_a_silent_server() -> None:
    # A listener that accepts and never answers: the connect timeout must fire.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(ferrule.TimeoutError):
            await ferrule.connect(
                f"postgresql://u@127.0.0.1:{port}/db?sslmode=disable", timeout=0.3
            )
        assert 0.25 < time.monotonic() - started < 1.5
    finally:
        server.close()
        await server.wait_closed()


async def test_missing_database(pg_cluster: PgCluster) -> None:
    with pytest.raises(ferrule.InvalidCatalogNameError) as info:
        await ferrule.connect(pg_cluster.dsn(database="no_such_database_here"))
    assert info.value.sqlstate == "3D000"
    assert "no_such_database_here" in str(info.value)


@pytest.mark.parametrize(
    ("dsn", "match"),
    [
        ("postgresql://u@127.0.0.1:99999/db", "out of range"),
        ("postgresql://u@127.0.0.1:abc/db", "invalid port"),
        ("postgresql://u@127.0.0.1/db?sslmode=maybe", "invalid sslmode"),
    ],
)
async def test_bad_settings_are_clear_errors(dsn: str, match: str) -> None:
    with pytest.raises(ferrule.InterfaceError, match=match):
        await ferrule.connect(dsn)


async def test_connection_as_context_manager(pg_dsn: str) -> None:
    async with await ferrule.connect(pg_dsn) as conn:
        assert await conn.fetchval("SELECT 2") == 2
    assert conn.is_closed()


async def test_unix_socket(pg_local_cluster: PgCluster) -> None:
    conn = await ferrule.connect(
        host=pg_local_cluster.socket_dir,
        port=pg_local_cluster.port,
        user=pg_local_cluster.superuser,
        database=pg_local_cluster.database,
    )
    try:
        # A unix-socket session has no client address.
        assert await conn.fetchval("SELECT inet_client_addr()") is None
    finally:
        await conn.close()


async def test_first_host_that_answers(pg_local_cluster: PgCluster, connect: Connect) -> None:
    dead = free_tcp_port()
    hosts = f"127.0.0.1:{dead},{pg_local_cluster.host}:{pg_local_cluster.port}"
    user, database = pg_local_cluster.superuser, pg_local_cluster.database
    conn = await connect(f"postgresql://{user}@{hosts}/{database}")
    assert await conn.fetchval("SELECT inet_server_port()") == pg_local_cluster.port
