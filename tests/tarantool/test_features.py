"""Streams, interactive transactions and watchers: gated on the server's IPROTO_ID features
(Tarantool 2.10+); NotSupportedError on older servers. Their encoding is covered by the
golden-byte tests in crates/ferrule-tarantool."""

from __future__ import annotations

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection

STREAMS, TRANSACTIONS, WATCHERS = 0, 1, 3


async def test_transaction(conn: TarantoolConnection, key: int) -> None:
    features = conn.get_features()
    if STREAMS in features and TRANSACTIONS in features:
        async with conn.transaction():
            await conn.replace("tester", [key, "tx"])
            assert conn.is_in_transaction()
        assert not conn.is_in_transaction()
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.replace("tester", [key + 1, "rolled back"])
                raise RuntimeError
        assert await conn.select("tester", key + 1) == []
    else:
        with pytest.raises(ferrule.NotSupportedError, match=r"2\.10"):
            async with conn.transaction():
                pass
        assert not conn.is_in_transaction()
        await conn.ping()


async def test_watch(conn: TarantoolConnection) -> None:
    if WATCHERS in conn.get_features():
        await conn.eval("box.broadcast('ferrule.key', {1, 2})")
        watcher = await conn.watch("ferrule.key")
        assert await watcher.__anext__() == [1, 2]
        await watcher.close()
    else:
        with pytest.raises(ferrule.NotSupportedError):
            await conn.watch("ferrule.key")
