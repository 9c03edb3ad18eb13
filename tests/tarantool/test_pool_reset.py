"""What a Tarantool connection may carry back to the pool, and its reset: an interactive
transaction left open (streams, Tarantool 2.10+), watchers (2.10+), and calls still pushing
messages; then the pool's hooks. Features the server lacks are gated on its IPROTO_ID
features, as in test_features.py."""

from __future__ import annotations

import asyncio

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection

STREAMS, TRANSACTIONS, WATCHERS = 0, 1, 3
SLOW_PUSHES = "box.session.push('first') require('fiber').sleep(...) return 'done'"


async def session_id(conn: TarantoolConnection) -> int:
    (sid,) = await conn.eval("return box.session.id()")
    return int(sid)


async def test_clean_release_costs_no_reset(tnt_dsn: str, key: int) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        for _ in range(3):
            async with pool.acquire() as conn:
                await conn.replace("tester", [key, "clean"])
                it = await conn.call("push_messages", [1], push_subscribe=True)
                assert [m async for m in it] == [[1, "message 1"]]
        assert pool.stats()["resets"] == 0


async def test_open_transaction_is_rolled_back(tnt_dsn: str, key: int) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            features = conn.get_features()
            if not (STREAMS in features and TRANSACTIONS in features):
                with pytest.raises(ferrule.NotSupportedError, match=r"2\.10"):
                    await conn.transaction().start()
                assert not conn.is_in_transaction()
                pytest.skip("the server has no streams (Tarantool 2.10+)")
            sid = await session_id(conn)
            await conn.transaction().start()
            await conn.replace("tester", [key, "uncommitted"])
            assert conn.is_in_transaction()
        assert pool.stats()["resets"] == 1
        async with pool.acquire() as conn:
            assert await session_id(conn) == sid
            assert not conn.is_in_transaction()
            assert await conn.select("tester", key) == []
            # The connection takes new transactions as usual.
            async with conn.transaction():
                await conn.replace("tester", [key, "committed"])
        assert await pool.fetchval('SELECT "name" FROM "tester" WHERE "id" = ?', key) == (
            "committed"
        )


async def test_watchers_are_unregistered(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            if WATCHERS not in conn.get_features():
                with pytest.raises(ferrule.NotSupportedError):
                    await conn.watch("ferrule.pool")
                pytest.skip("the server has no watchers (Tarantool 2.10+)")
            await conn.eval("box.broadcast('ferrule.pool', 1)")
            watcher = await conn.watch("ferrule.pool")
            assert await watcher.__anext__() == 1
        assert pool.stats()["resets"] == 1
        with pytest.raises(ferrule.ConnectionClosedError):
            await watcher.__anext__()


async def test_pushing_call_is_cut_off(tnt_dsn: str) -> None:
    """A call still pushing messages when its connection goes back stops delivering to its
    old caller, and its late answer reaches nobody."""
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            sid = await session_id(conn)
            it = await conn.eval(SLOW_PUSHES, [0.3], push_subscribe=True)
            assert await it.__anext__() == "first"
        assert pool.stats()["resets"] == 1
        with pytest.raises(ferrule.ConnectionClosedError, match="back to the pool"):
            await it.__anext__()
        async with pool.acquire() as conn:
            assert await session_id(conn) == sid
            await asyncio.sleep(0.4)  # the abandoned call answers meanwhile
            assert await conn.call("echo", ["after"]) == ["after"]
        assert pool.stats()["closed_broken"] == 0


async def test_many_dirty_releases_leave_every_connection_clean(tnt_dsn: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=3, max_size=3) as pool:

        async def borrow(i: int) -> None:
            async with pool.acquire() as conn:
                if i % 2:
                    it = await conn.eval(SLOW_PUSHES, [0.05], push_subscribe=True)
                    await it.__anext__()

        await asyncio.gather(*(borrow(i) for i in range(40)))
        conns = [await pool.acquire() for _ in range(3)]
        try:
            for conn in conns:
                assert await conn.call("echo", [1]) == [1]
        finally:
            for conn in conns:
                await pool.release(conn)
        stats = pool.stats()
        assert stats["resets"] == 20 and stats["closed_broken"] == 0 and stats["connects"] == 3


@pytest.mark.parametrize("recycle", ["verified", "clean"])
async def test_recycle_modes_after_idle(tnt_dsn: str, recycle: str) -> None:
    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1, recycle=recycle) as pool:
        async with pool.acquire() as conn:
            sid = await session_id(conn)
        await asyncio.sleep(1.1)  # past check_after_idle
        async with pool.acquire() as conn:
            assert await session_id(conn) == sid
        assert pool.stats()["closed_broken"] == 0


async def test_init_hook_runs_once_per_connection(tnt_dsn: str) -> None:
    inits: list[int] = []

    async def init(conn: ferrule.Connection) -> None:
        assert isinstance(conn, TarantoolConnection)
        inits.append(await session_id(conn))
        await conn.eval("box.session.storage.greeting = 'made by init'")

    async with ferrule.create_pool(tnt_dsn, min_size=2, max_size=3, init=init) as pool:
        assert len(inits) == 2
        for _ in range(4):
            async with pool.acquire() as conn:
                assert await conn.eval("return box.session.storage.greeting") == ["made by init"]
        assert len(inits) == 2


async def test_reset_hook_runs_at_each_release(tnt_dsn: str) -> None:
    resets: list[int] = []

    async def reset(conn: ferrule.Connection) -> None:
        assert isinstance(conn, TarantoolConnection)
        resets.append(await session_id(conn))
        await conn.eval("box.session.storage.scratch = nil")

    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1, reset=reset) as pool:
        async with pool.acquire() as conn:
            await conn.eval("box.session.storage.scratch = 'left over'")
        async with pool.acquire() as conn:
            assert await conn.eval("return box.session.storage.scratch") == [None]
        assert len(resets) == 2 and pool.stats()["resets"] == 2


async def test_setup_hook_runs_at_each_acquire(tnt_dsn: str) -> None:
    setups = 0

    async def setup(conn: ferrule.Connection) -> None:
        nonlocal setups
        setups += 1

    async with ferrule.create_pool(tnt_dsn, min_size=1, max_size=1, setup=setup) as pool:
        for i in range(3):
            assert await pool.fetchval("SELECT ?", i) == i
        assert setups == 3
