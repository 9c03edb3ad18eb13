"""The SQL Server pool's session reset (the RESETCONNECTION flag on the next request, an open
transaction rolled back at once) and its hooks, against the TDS test server, whose reset is
checked first at the protocol level."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import ferrule
from tests.common.tds_server import TdsServer
from tests.tds.raw_client import RawClient, all_headers
from tests.tds.server import tokens as tk
from tests.tds.server.packets import (
    SQL_BATCH,
    STATUS_RESET_CONNECTION,
    STATUS_RESET_CONNECTION_SKIP_TRAN,
)

INVALID_OBJECT = 208


@pytest.mark.parametrize(
    "flag", [STATUS_RESET_CONNECTION, STATUS_RESET_CONNECTION_SKIP_TRAN], ids=["reset", "skiptran"]
)
def test_server_honours_the_reset_flags(tds_server: TdsServer, flag: int) -> None:
    """The test server resets the session on either status bit of a request's first packet
    (SKIPTRAN keeps the open transaction): the pool's reset tests below mean something."""
    raw = RawClient(tds_server.host, tds_server.port)
    try:
        assert raw.login(tds_server.user, tds_server.password, tds_server.database).of("loginack")
        table = f"#flag_{uuid.uuid4().hex[:8]}"
        raw.batch(f"CREATE TABLE {table} (id int); BEGIN TRAN; SET NOCOUNT ON")
        raw.send(
            SQL_BATCH, all_headers(raw.descriptor) + "SELECT @@TRANCOUNT AS n".encode("utf-16-le"),
            flag,
        )  # fmt: skip
        response = raw.response()
        kinds = [kind for kind, _new, _old in response.of("envchange")]
        if flag == STATUS_RESET_CONNECTION:
            assert kinds == [tk.ENV_RESET_ACK, tk.ENV_ROLLBACK_TRAN]
            assert response.rows == [[0]]
        else:
            assert kinds == [tk.ENV_RESET_ACK]
            assert response.rows == [[1]]
        # NOCOUNT is off again: the SELECT's DONE carries its row count.
        status, count = response.dones[-1]
        assert status & tk.DONE_COUNT and count == 1
        assert raw.batch(f"SELECT * FROM {table}").errors[0][0] == INVALID_OBJECT
    finally:
        raw.close()


async def test_release_resets_the_session(mssql_dsn: str, table_name: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        await pool.execute(f"CREATE TABLE {table_name} (a int)")
        await pool.execute(f"INSERT INTO {table_name} VALUES (1)")
        async with pool.acquire() as conn:
            spid = await conn.fetchval("SELECT @@SPID")
            await conn.execute("CREATE TABLE #t (a int)")
            await conn.execute("SET NOCOUNT ON")
            assert await conn.execute(f"UPDATE {table_name} SET a = 2") == "UPDATE 0"
            await conn.execute("BEGIN TRANSACTION")
            await conn.execute(f"INSERT INTO {table_name} VALUES (3)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT @@SPID") == spid  # the same session
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT @@TRANCOUNT") == 0
            with pytest.raises(ferrule.ProgrammingError) as gone:
                await conn.fetch("SELECT * FROM #t")
            assert gone.value.code == str(INVALID_OBJECT) or "#t" in str(gone.value)
            # NOCOUNT is off again; the insert of the open transaction was rolled back.
            assert await conn.execute(f"UPDATE {table_name} SET a = a") == "UPDATE 1"
        assert [tuple(r) for r in await pool.fetch(f"SELECT a FROM {table_name}")] == [(2,)]


async def test_open_transaction_is_rolled_back_at_release(mssql_dsn: str, table_name: str) -> None:
    """The rollback does not wait for the next borrower: other sessions see the table free."""
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        await pool.execute(f"CREATE TABLE {table_name} (a int)")
        conn = await pool.acquire()
        await conn.execute("BEGIN TRANSACTION")
        await conn.execute(f"INSERT INTO {table_name} VALUES (1)")
        await pool.release(conn)
        other = await ferrule.connect(mssql_dsn)
        try:
            await other.execute(f"INSERT INTO {table_name} VALUES (2)", timeout=5)
            assert await other.fetchval(f"SELECT count(*) FROM {table_name}") == 1
        finally:
            await other.close()


async def test_one_call_queries_are_reset_too(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1) as pool:
        await pool.execute("CREATE TABLE #scratch (a int)")
        with pytest.raises(ferrule.ProgrammingError):
            await pool.fetch("SELECT * FROM #scratch")


async def test_many_dirty_releases_leave_every_connection_clean(mssql_dsn: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=3, max_size=3) as pool:
        dirty_found = 0

        async def borrow(i: int) -> None:
            nonlocal dirty_found
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT @@TRANCOUNT") != 0:
                    dirty_found += 1
                try:
                    await conn.fetch("SELECT * FROM #dirt")
                    dirty_found += 1
                except ferrule.ProgrammingError:
                    pass
                await conn.execute("CREATE TABLE #dirt (a int)")
                if i % 2:
                    await conn.execute("BEGIN TRANSACTION")

        await asyncio.gather(*(borrow(i) for i in range(60)))
        assert dirty_found == 0
        stats = pool.stats()
        assert stats["connects"] == 3 and stats["closed_broken"] == 0


@pytest.mark.parametrize("recycle", ["verified", "clean"])
async def test_recycle_modes_after_idle(mssql_dsn: str, recycle: str) -> None:
    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1, recycle=recycle) as pool:
        spid = await pool.fetchval("SELECT @@SPID")
        await asyncio.sleep(1.1)  # past check_after_idle
        assert await pool.fetchval("SELECT @@SPID") == spid
        assert pool.stats()["closed_broken"] == 0


async def test_init_hook_runs_again_after_each_reset(mssql_dsn: str) -> None:
    """The reset takes the session back to its login state, init's work included: init runs
    again, on the clean session."""
    inits: list[int] = []

    async def init(conn: ferrule.Connection) -> None:
        assert isinstance(conn, ferrule.MssqlConnection)
        inits.append(await conn.fetchval("SELECT @@SPID"))
        await conn.execute("CREATE TABLE #from_init (v nvarchar(20))")
        await conn.execute("INSERT INTO #from_init VALUES (N'made by init')")

    async with ferrule.create_pool(mssql_dsn, min_size=2, max_size=2, init=init) as pool:
        assert len(inits) == 2
        for _ in range(3):
            assert await pool.fetchval("SELECT v FROM #from_init") == "made by init"
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO #from_init VALUES (N'left by a user')")
        for _ in range(4):
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM #from_init") == 1
        assert len(inits) > 2 and set(inits) == set(inits[:2])


async def test_init_hook_failure_fails_create_pool(mssql_dsn: str) -> None:
    async def init(conn: ferrule.Connection) -> None:
        raise RuntimeError("init refused")

    with pytest.raises(RuntimeError, match="init refused"):
        await ferrule.create_pool(mssql_dsn, min_size=1, max_size=1, init=init)


async def test_reset_hook_replaces_the_flag(mssql_dsn: str, table_name: str) -> None:
    resets: list[int] = []

    async def reset(conn: ferrule.Connection) -> None:
        resets.append(await conn.fetchval("SELECT @@SPID"))
        await conn.execute("SET NOCOUNT OFF")

    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1, reset=reset) as pool:
        await pool.execute(f"CREATE TABLE {table_name} (a int)")
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE #kept (a int)")
            await conn.execute("BEGIN TRANSACTION")
            await conn.execute(f"INSERT INTO {table_name} VALUES (1)")
        async with pool.acquire() as conn:
            # The user's reset ran instead of RESETCONNECTION: the temp table stays, but the
            # pool still rolled back the transaction the hook left open.
            assert await conn.fetch("SELECT * FROM #kept") == []
            assert not conn.is_in_transaction()
            assert await conn.fetchval(f"SELECT count(*) FROM {table_name}") == 0
        assert len(resets) >= 2


async def test_setup_hook_runs_at_each_acquire(mssql_dsn: str) -> None:
    setups = 0

    async def setup(conn: ferrule.Connection) -> None:
        nonlocal setups
        setups += 1
        await conn.execute("CREATE TABLE #per_loan (a int)")

    async with ferrule.create_pool(mssql_dsn, min_size=1, max_size=1, setup=setup) as pool:
        for _ in range(3):
            assert await pool.fetch("SELECT * FROM #per_loan") == []
        assert setups == 3
