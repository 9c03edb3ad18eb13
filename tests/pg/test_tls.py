"""TLS: every sslmode against the harness's test CA; `require` never falls back to plaintext."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster

SSL_OF_SESSION = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


async def _session_tls(dsn: str) -> tuple[bool, str | None]:
    conn = await ferrule.connect(dsn)
    try:
        row = await conn.fetchrow(SSL_OF_SESSION)
        assert row is not None
        return row["ssl"], row["version"]
    finally:
        await conn.close()


@pytest.fixture
def tls_cluster(pg_local_cluster: PgCluster) -> PgCluster:
    if not pg_local_cluster.ssl_ca:
        pytest.skip("the harness made no test CA")
    return pg_local_cluster


async def test_disable_is_plaintext(tls_cluster: PgCluster) -> None:
    assert await _session_tls(tls_cluster.dsn(sslmode="disable")) == (False, None)


@pytest.mark.parametrize("sslmode", ["prefer", "require"])
async def test_prefer_and_require_encrypt(tls_cluster: PgCluster, sslmode: str) -> None:
    ssl, version = await _session_tls(tls_cluster.dsn(sslmode=sslmode))
    assert ssl is True
    assert version in ("TLSv1.2", "TLSv1.3")


async def test_default_sslmode_is_prefer(tls_cluster: PgCluster) -> None:
    ssl, _ = await _session_tls(tls_cluster.dsn())
    assert ssl is True


async def test_require_does_not_check_the_certificate(tls_cluster: PgCluster) -> None:
    # libpq semantics: `require` without a root certificate encrypts but does not verify.
    ssl, _ = await _session_tls(tls_cluster.dsn(host="127.0.0.1", sslmode="require"))
    assert ssl is True


async def test_require_with_root_cert_verifies_the_chain(tls_cluster: PgCluster) -> None:
    dsn = tls_cluster.dsn(sslmode="require", sslrootcert=tls_cluster.ssl_other_ca)
    with pytest.raises(ferrule.ConnectionFailureError, match="UnknownIssuer"):
        await ferrule.connect(dsn)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_verify_ca_accepts_the_test_ca(tls_cluster: PgCluster, host: str) -> None:
    # verify-ca checks the chain only, so the IP address (not in the certificate) is fine.
    dsn = tls_cluster.dsn(host=host, sslmode="verify-ca", sslrootcert=tls_cluster.ssl_ca)
    assert (await _session_tls(dsn))[0] is True


async def test_verify_full_accepts_the_right_name(tls_cluster: PgCluster) -> None:
    dsn = tls_cluster.dsn(host="localhost", sslmode="verify-full", sslrootcert=tls_cluster.ssl_ca)
    assert (await _session_tls(dsn))[0] is True


async def test_verify_full_rejects_a_wrong_host_name(tls_cluster: PgCluster) -> None:
    # The certificate names only "localhost"; 127.0.0.1 is not in it.
    dsn = tls_cluster.dsn(host="127.0.0.1", sslmode="verify-full", sslrootcert=tls_cluster.ssl_ca)
    wrong_name = re.escape('not valid for name "127.0.0.1"')
    with pytest.raises(ferrule.ConnectionFailureError, match=wrong_name):
        await ferrule.connect(dsn)


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
async def test_verification_rejects_an_unrelated_ca(tls_cluster: PgCluster, sslmode: str) -> None:
    dsn = tls_cluster.dsn(host="localhost", sslmode=sslmode, sslrootcert=tls_cluster.ssl_other_ca)
    with pytest.raises(ferrule.ConnectionFailureError, match="UnknownIssuer"):
        await ferrule.connect(dsn)


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
async def test_verification_needs_a_root_certificate(
    tls_cluster: PgCluster, sslmode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    with pytest.raises(ferrule.ConnectionFailureError, match="sslrootcert"):
        await ferrule.connect(tls_cluster.dsn(host="localhost", sslmode=sslmode))


async def test_missing_root_cert_file(tls_cluster: PgCluster) -> None:
    dsn = tls_cluster.dsn(sslmode="verify-ca", sslrootcert="/nonexistent/root.crt")
    with pytest.raises(ferrule.ConnectionFailureError, match=re.escape("/nonexistent/root.crt")):
        await ferrule.connect(dsn)


async def test_ssl_keyword_true_means_require(tls_cluster: PgCluster) -> None:
    conn = await ferrule.connect(tls_cluster.dsn(), ssl=True)
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await conn.close()


async def test_ssl_only_role_needs_tls(tls_cluster: PgCluster) -> None:
    # pg_hba rejects ferrule_ssl without TLS and asks for SCRAM with it.
    good = tls_cluster.dsn(user="ferrule_ssl", password="sslpass", sslmode="require")
    assert (await _session_tls(good))[0] is True
    plain = tls_cluster.dsn(user="ferrule_ssl", password="sslpass", sslmode="disable")
    with pytest.raises(ferrule.InvalidAuthorizationSpecificationError, match="no encryption"):
        await ferrule.connect(plain)


async def test_cancel_travels_over_tls(tls_cluster: PgCluster) -> None:
    dsn = tls_cluster.dsn(host="localhost", sslmode="verify-full", sslrootcert=tls_cluster.ssl_ca)
    conn = await ferrule.connect(dsn)
    try:
        with pytest.raises(ferrule.TimeoutError):
            await conn.fetchval("SELECT pg_sleep(10)", timeout=0.2)
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


@pytest.fixture
def plaintext_server(tls_cluster: PgCluster) -> Iterator[PgCluster]:
    """The test server with ssl=off for the duration of a test (reload, no restart)."""
    tls_cluster.psql("ALTER SYSTEM SET ssl = off")
    tls_cluster.psql("SELECT pg_reload_conf()")
    try:
        _wait_for_ssl_setting(tls_cluster, "off")
        yield tls_cluster
    finally:
        tls_cluster.psql("ALTER SYSTEM RESET ssl")
        tls_cluster.psql("SELECT pg_reload_conf()")
        _wait_for_ssl_setting(tls_cluster, "on")


def _wait_for_ssl_setting(cluster: PgCluster, value: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while cluster.psql("SHOW ssl") != value:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not switch ssl to {value}")
        time.sleep(0.05)


@pytest.mark.parametrize("sslmode", ["require", "verify-ca", "verify-full"])
async def test_no_fallback_to_plaintext(plaintext_server: PgCluster, sslmode: str) -> None:
    dsn = plaintext_server.dsn(
        host="localhost", sslmode=sslmode, sslrootcert=plaintext_server.ssl_ca
    )
    with pytest.raises(ferrule.ConnectionFailureError, match="does not support TLS"):
        await ferrule.connect(dsn)


async def test_prefer_falls_back_when_the_server_has_no_tls(plaintext_server: PgCluster) -> None:
    assert await _session_tls(plaintext_server.dsn(sslmode="prefer")) == (False, None)
