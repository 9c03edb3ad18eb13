"""The PostgreSQL harness itself, checked with psql and asyncpg (not with ferrule)."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import time
import uuid

import asyncpg
import pytest

from tests.common.pg_cluster import (
    ExternalClusterError,
    ExternalPgCluster,
    PgCluster,
    PsqlError,
    process_alive,
)


async def _current_user(dsn: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return str(await conn.fetchval("SELECT current_user"))
    finally:
        await conn.close()


def test_psql_runs_as_superuser(pg_cluster: PgCluster) -> None:
    row = pg_cluster.psql(
        "SELECT current_user, current_database(), rolsuper FROM pg_roles "
        "WHERE rolname = current_user"
    )
    assert row == f"{pg_cluster.superuser}|{pg_cluster.database}|t"


def test_psql_binds_values_as_variables(pg_cluster: PgCluster) -> None:
    tricky = "it's; DROP TABLE x; -- $$ \\ ünï"
    assert pg_cluster.psql("SELECT :'value'", value=tricky) == tricky


def test_psql_raises_on_error(pg_cluster: PgCluster) -> None:
    with pytest.raises(PsqlError, match="no_such_table"):
        pg_cluster.psql("SELECT * FROM no_such_table")


def test_server_settings(pg_local_cluster: PgCluster) -> None:
    names = ["max_connections", "max_prepared_transactions", "fsync", "ssl", "listen_addresses"]
    shown = [pg_local_cluster.psql(f"SHOW {name}") for name in names]
    assert shown == ["300", "10", "off", "on", "127.0.0.1"]
    assert pg_local_cluster.psql("SELECT extname FROM pg_extension WHERE extname = 'hstore'")


def test_pid_is_the_postmaster(pg_local_cluster: PgCluster) -> None:
    pid = pg_local_cluster.pid()
    os.kill(pid, 0)
    assert pg_local_cluster.psql("SELECT pid = 0 FROM pg_stat_activity LIMIT 0") == ""


async def test_superuser_dsn_connects(pg_dsn: str, pg_cluster: PgCluster) -> None:
    assert await _current_user(pg_dsn) == pg_cluster.superuser


async def test_md5_role(pg_local_cluster: PgCluster) -> None:
    stored = pg_local_cluster.psql(
        "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = :'role'", role="ferrule_md5"
    )
    assert stored == "md5"
    dsn = pg_local_cluster.dsn("ferrule_md5", "md5pass", sslmode="disable")
    assert await _current_user(dsn) == "ferrule_md5"
    with pytest.raises(asyncpg.InvalidPasswordError):
        await _current_user(pg_local_cluster.dsn("ferrule_md5", "wrong", sslmode="disable"))


async def test_scram_role(pg_local_cluster: PgCluster) -> None:
    dsn = pg_local_cluster.dsn("ferrule_scram", "scrampass", sslmode="disable")
    assert await _current_user(dsn) == "ferrule_scram"
    with pytest.raises(asyncpg.InvalidPasswordError):
        await _current_user(pg_local_cluster.dsn("ferrule_scram", "wrong", sslmode="disable"))


async def test_ssl_role_over_verified_tls(pg_local_cluster: PgCluster) -> None:
    # The certificate names `localhost` only, so verify-full needs that host name.
    dsn = pg_local_cluster.dsn(
        "ferrule_ssl",
        "sslpass",
        host="localhost",
        sslmode="verify-full",
        sslrootcert=pg_local_cluster.ssl_ca,
    )
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await conn.close()


async def test_ssl_role_refused_without_tls(pg_local_cluster: PgCluster) -> None:
    dsn = pg_local_cluster.dsn("ferrule_ssl", "sslpass", sslmode="disable")
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await _current_user(dsn)


async def test_tls_rejects_an_ip_host_not_in_the_certificate(
    pg_local_cluster: PgCluster,
) -> None:
    dsn = pg_local_cluster.dsn(
        "ferrule_ssl", "sslpass", sslmode="verify-full", sslrootcert=pg_local_cluster.ssl_ca
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        await _current_user(dsn)


async def test_tls_rejects_an_unrelated_ca(pg_local_cluster: PgCluster) -> None:
    dsn = pg_local_cluster.dsn(
        "ferrule_ssl",
        "sslpass",
        host="localhost",
        sslmode="verify-ca",
        sslrootcert=pg_local_cluster.ssl_other_ca,
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        await _current_user(dsn)


async def test_nologin_role_refused(pg_local_cluster: PgCluster) -> None:
    dsn = pg_local_cluster.dsn("ferrule_nologin", sslmode="disable")
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="not permitted"):
        await _current_user(dsn)


async def test_event_loop_follows_ferrule_loop() -> None:
    loop_type = type(asyncio.get_running_loop())
    if os.environ.get("FERRULE_LOOP") == "uvloop":
        assert loop_type.__module__.startswith("uvloop")
    else:
        assert loop_type.__module__.startswith("asyncio")


def test_restart_keeps_port_and_data(pg_local_cluster: PgCluster) -> None:
    table = f"restart_{uuid.uuid4().hex[:12]}"
    pg_local_cluster.psql(
        'CREATE TABLE :"t" (v text); INSERT INTO :"t" VALUES (:\'v\')', t=table, v="kept"
    )
    port, pid = pg_local_cluster.port, pg_local_cluster.pid()
    pg_local_cluster.restart()
    assert (pg_local_cluster.port, pg_local_cluster.pid() != pid) == (port, True)
    assert pg_local_cluster.psql('SELECT v FROM :"t"', t=table) == "kept"
    pg_local_cluster.psql('DROP TABLE :"t"', t=table)


def test_external_dsn_is_rewritten() -> None:
    cluster = ExternalPgCluster("postgres://app:se%40cret@db.example:6543/shop?sslmode=require")
    assert cluster.is_external
    assert (cluster.host, cluster.port, cluster.superuser, cluster.database) == (
        "db.example",
        6543,
        "app",
        "shop",
    )
    assert cluster.dsn() == "postgres://app:se%40cret@db.example:6543/shop?sslmode=require"
    assert (
        cluster.dsn("ferrule_md5", "p w/@", "other", application_name="a b")
        == "postgres://ferrule_md5:p%20w%2F%40@db.example:6543/other"
        "?sslmode=require&application_name=a%20b"
    )
    assert cluster.dsn(host="::1") == "postgres://app:se%40cret@[::1]:6543/shop?sslmode=require"
    for control in (cluster.start, cluster.stop, cluster.restart, cluster.pid):
        with pytest.raises(ExternalClusterError, match="FERRULE_PG_DSN"):
            control()


def test_local_dsn_quotes_every_part(pg_local_cluster: PgCluster) -> None:
    dsn = pg_local_cluster.dsn("u@x", "p:w", "d b", sslmode="disable")
    port = pg_local_cluster.port
    assert dsn == f"postgresql://u%40x:p%3Aw@127.0.0.1:{port}/d%20b?sslmode=disable"
    assert (
        pg_local_cluster.dsn(host="localhost", port=1)
        == "postgresql://ferrule@localhost:1/ferrule_test"
    )


def test_start_after_the_postmaster_was_killed(pg_local_cluster: PgCluster) -> None:
    old_pid = pg_local_cluster.pid()
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_alive(old_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    pg_local_cluster.start()
    assert pg_local_cluster.pid() != old_pid
    assert pg_local_cluster.psql("SELECT 1") == "1"
