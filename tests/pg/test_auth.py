"""Authentication methods: trust, md5, SCRAM-SHA-256, wrong and missing passwords."""

from __future__ import annotations

import pytest

import ferrule
from tests.common.pg_cluster import PgCluster


async def _auth_method_used(pg_cluster: PgCluster, conn: ferrule.PgConnection) -> str:
    return pg_cluster.psql(
        "SELECT auth_method FROM pg_hba_file_rules WHERE :'user' = ANY(user_name) LIMIT 1",
        user=await conn.fetchval("SELECT current_user"),
    )


async def test_trust(pg_local_cluster: PgCluster) -> None:
    conn = await ferrule.connect(pg_local_cluster.dsn(sslmode="disable"))
    try:
        assert await conn.fetchval("SELECT current_user") == pg_local_cluster.superuser
    finally:
        await conn.close()


@pytest.mark.parametrize("sslmode", ["disable", "require"])
@pytest.mark.parametrize(
    ("user", "password"), [("ferrule_md5", "md5pass"), ("ferrule_scram", "scrampass")]
)
async def test_password_methods(
    pg_local_cluster: PgCluster, user: str, password: str, sslmode: str
) -> None:
    conn = await ferrule.connect(
        pg_local_cluster.dsn(user=user, password=password, sslmode=sslmode)
    )
    try:
        assert await conn.fetchval("SELECT current_user") == user
        method = await _auth_method_used(pg_local_cluster, conn)
        assert method == ("md5" if user == "ferrule_md5" else "scram-sha-256")
    finally:
        await conn.close()


async def test_scram_stored_verifier(pg_local_cluster: PgCluster) -> None:
    # The scram role really has a SCRAM verifier, so the exchange above was SCRAM, not md5.
    stored = pg_local_cluster.psql(
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'ferrule_scram'"
    )
    assert stored.startswith("SCRAM-SHA-256$")


@pytest.mark.parametrize("user", ["ferrule_md5", "ferrule_scram"])
async def test_wrong_password(pg_local_cluster: PgCluster, user: str) -> None:
    with pytest.raises(ferrule.InvalidPasswordError) as info:
        await ferrule.connect(pg_local_cluster.dsn(user=user, password="wrong"))
    err = info.value
    assert isinstance(err, ferrule.AuthenticationError)
    assert err.sqlstate == "28P01"
    assert user in str(err)


@pytest.mark.parametrize("user", ["ferrule_md5", "ferrule_scram"])
async def test_missing_password(
    pg_local_cluster: PgCluster, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent/pgpass")
    with pytest.raises(ferrule.AuthenticationError, match="no password"):
        await ferrule.connect(pg_local_cluster.dsn(user=user))


async def test_role_that_cannot_log_in(pg_local_cluster: PgCluster) -> None:
    with pytest.raises(ferrule.InvalidAuthorizationSpecificationError, match="not permitted"):
        await ferrule.connect(pg_local_cluster.dsn(user="ferrule_nologin"))


async def test_password_with_url_special_characters(pg_local_cluster: PgCluster) -> None:
    role, password = "ferrule_odd_pw", "p@ss:w/rd?#%ü"
    pg_local_cluster.psql(
        'DROP ROLE IF EXISTS :"role"; CREATE ROLE :"role" LOGIN PASSWORD :\'pw\'',
        role=role,
        pw=password,
    )
    try:
        conn = await ferrule.connect(pg_local_cluster.dsn(user=role, password=password))
        try:
            assert await conn.fetchval("SELECT current_user") == role
        finally:
            await conn.close()
        conn = await ferrule.connect(pg_local_cluster.dsn(user=role), password=password)
        await conn.close()
    finally:
        pg_local_cluster.psql('DROP ROLE IF EXISTS :"role"', role=role)
