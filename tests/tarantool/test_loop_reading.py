"""Replies read on the event loop's thread while requests go out one at a time, and the
hand-over to the reader task as soon as they overlap: answers matched by sync id across the
switches, timeouts, cancellation, pushes, schema changes, a server killed or a connection cut
mid-reply, and no descriptor or loop registration left behind."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import time

import pytest

import ferrule
from ferrule.tarantool_connection import TarantoolConnection
from tests.common.cutproxy import CutProxy
from tests.common.tarantool_server import PASSWORD, USER, TarantoolServer


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def connect(dsn: str, **options: object) -> TarantoolConnection:
    conn = await ferrule.connect(dsn, **options)  # type: ignore[arg-type]
    assert isinstance(conn, TarantoolConnection)
    return conn


async def test_sequential_and_overlapping_requests_alternate(
    conn: TarantoolConnection, key: int
) -> None:
    for phase in range(3):
        for i in range(100):
            assert await conn.call("echo", [phase, i]) == [phase, i]
        await conn.replace("tester", [key + phase, "seq", phase])
        assert (await conn.select("tester", key + phase))[0]["value"] == phase
        got = await asyncio.gather(*(conn.call("echo", [phase, i]) for i in range(200)))
        assert got == [[phase, i] for i in range(200)]
        # The first lone request after a burst still gets its own answer.
        assert await conn.eval("return ...", [phase]) == [phase]


async def test_random_mix_keeps_every_answer_with_its_request(conn: TarantoolConnection) -> None:
    rng = random.Random(7)

    async def one(tag: list[int]) -> None:
        r = rng.random()
        if r < 0.1:
            with pytest.raises(ferrule.TimeoutError):
                await conn.call("sleep_for", [0.02, tag], timeout=0.005)
        elif r < 0.2:
            task = asyncio.ensure_future(conn.call("echo", tag))
            await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                assert await task == tag
        else:
            assert await conn.call("echo", tag) == tag

    for round_ in range(60):
        if rng.random() < 0.5:
            for i in range(rng.randint(1, 30)):
                await one([round_, i])
        else:
            await asyncio.gather(*(one([round_, i]) for i in range(rng.randint(2, 60))))
    await asyncio.sleep(0.05)
    for i in range(20):
        assert await conn.call("echo", [i]) == [i]


async def test_the_loop_watches_the_socket_of_sequential_requests(
    conn: TarantoolConnection,
) -> None:
    loop = asyncio.get_running_loop()
    selector = getattr(loop, "_selector", None)
    if selector is None:
        pytest.skip("the loop does not show its registered readers")
    before = set(selector.get_map())
    for _ in range(5):
        await conn.ping()
    assert len(set(selector.get_map()) - before) == 1


async def test_a_lone_request_times_out_and_the_late_answer_is_dropped(
    conn: TarantoolConnection,
) -> None:
    for i in range(20):
        assert await conn.call("echo", [i]) == [i]
    started = time.monotonic()
    with pytest.raises(ferrule.TimeoutError):
        await conn.call("sleep_for", [0.4, "late"], timeout=0.1)
    assert 0.05 < time.monotonic() - started < 0.35
    for i in range(20):
        assert await conn.call("echo", [i]) == [i]
    await asyncio.sleep(0.45)
    for i in range(20):
        assert await conn.call("echo", [i]) == [i]


async def test_a_cancelled_lone_request_leaves_the_connection_in_step(
    conn: TarantoolConnection,
) -> None:
    for _ in range(20):
        await conn.ping()
    task = asyncio.ensure_future(conn.call("sleep_for", [0.3, "cancelled"]))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await conn.call("echo", ["next"]) == ["next"]
    await asyncio.sleep(0.35)
    for i in range(20):
        assert await conn.call("echo", [i]) == [i]


async def test_pushes_and_runtime_requests_between_lone_requests(
    conn: TarantoolConnection, key: int
) -> None:
    for round_ in range(3):
        for _ in range(10):
            await conn.ping()
        it = await conn.call("push_messages", [3], push_subscribe=True)
        assert [m async for m in it] == [[1, "message 1"], [2, "message 2"], [3, "message 3"]]
        assert it.result == ["pushed 3"]
        # update() runs on the runtime: its answer must not wait for the loop.
        await conn.replace("tester", [key, "u", 0])
        updated = await conn.update("tester", key, [["=", "value", round_]])
        assert updated is not None and updated["value"] == round_
        assert await conn.call("echo", [round_]) == [round_]


async def test_lone_requests_alongside_a_slow_runtime_request(conn: TarantoolConnection) -> None:
    for _ in range(10):
        await conn.ping()
    # A call with pushes runs on the runtime.
    it = await conn.call("sleep_for", [0.3, "slow"], push_subscribe=True)
    slow = asyncio.ensure_future(it.__anext__())
    for i in range(50):
        assert await conn.call("echo", [i]) == [i]
    with pytest.raises(StopAsyncIteration):
        await slow
    assert it.result == ["slow"]
    for i in range(10):
        assert await conn.call("echo", [i]) == [i]


async def test_schema_change_between_lone_requests(
    conn: TarantoolConnection, tnt_dsn: str, key: int
) -> None:
    admin = await connect(tnt_dsn)
    name = f"seq_{key}"
    await admin.eval("box.schema.space.create(...):create_index('pk')", [name])
    for i in range(10):
        assert (await conn.insert(name, [i, "a"]))[0] == i
    version = conn.schema_version()
    # Recreated: same name, another id; the cached id is refused as stale and re-resolved.
    await admin.eval("box.space[...]:drop()", [name])
    await admin.eval(
        "local s = box.schema.space.create(...) s:create_index('pk') s:create_index('other')",
        [name],
    )
    for i in range(10):
        assert (await conn.insert(name, [i, "b"]))[1] == "b"
    assert len(await conn.select(name)) == 10
    assert conn.schema_version() > version
    await admin.eval("box.space[...]:drop()", [name])
    await admin.close()


async def test_large_answers_read_on_the_loop(conn: TarantoolConnection) -> None:
    for size in (10, 70_000, 1 << 20, 3 << 20, 5):
        for _ in range(3):
            (text,) = await conn.eval("return string.rep('x', ...)", [size])
            assert len(text) == size


async def test_server_killed_during_a_lone_request(tnt_local: TarantoolServer) -> None:
    conn = await connect(tnt_local.dsn(), reconnect_delay=0.05)
    for _ in range(20):
        await conn.ping()
    call = asyncio.ensure_future(conn.call("sleep_for", [3.0, "never"]))
    await asyncio.sleep(0.2)
    killed = time.monotonic()
    tnt_local.kill()
    with pytest.raises(ferrule.ConnectionLostError, match="not re-sent"):
        await call
    assert time.monotonic() - killed < 0.5
    tnt_local.start()
    deadline = time.monotonic() + 15
    while True:
        try:
            await conn.ping(timeout=1)
            break
        except ferrule.Error:
            assert time.monotonic() < deadline, "no reconnection"
            await asyncio.sleep(0.05)
    assert conn.reconnect_count() >= 1
    for i in range(50):
        assert await conn.call("echo", [i]) == [i]
    await conn.close()


async def test_connection_cut_inside_lone_answers(tnt_local: TarantoolServer) -> None:
    proxy = CutProxy(tnt_local.host, tnt_local.port)
    await proxy.start()
    try:
        # The handshake without a schema fits in the first 300 bytes; cuts after it land in
        # the answers to lone calls.
        for cut in range(300, 900, 13):
            proxy.cut_at = cut
            conn = await connect(
                f"tarantool://{USER}:{PASSWORD}@127.0.0.1:{proxy.port}",
                fetch_schema=False,
                reconnect=False,
            )
            started = time.monotonic()
            with pytest.raises(ferrule.ConnectionLostError):
                for i in range(100):
                    assert await conn.call("echo", [i, "v" * 20], timeout=5) == [i, "v" * 20]
            assert time.monotonic() - started < 2
            assert conn.is_closed()
    finally:
        await proxy.close()


async def test_no_descriptor_or_registration_left_behind(tnt_dsn: str) -> None:
    loop = asyncio.get_running_loop()
    selector = getattr(loop, "_selector", None)
    registered = len(selector.get_map()) if selector is not None else 0
    # A first connection opens what the process keeps (the bridge's eventfd, the runtime).
    await (await connect(tnt_dsn)).close()
    before = open_fds()
    for n in range(30):
        conn = await connect(tnt_dsn)
        for _ in range(5):
            await conn.ping()
        if n % 3 == 0:
            await conn.close()
        elif n % 3 == 1:
            conn.terminate()
        else:
            del conn
            gc.collect()
    await asyncio.sleep(0.2)
    gc.collect()
    await asyncio.sleep(0.1)
    assert open_fds() <= before + 2
    if selector is not None:
        assert len(selector.get_map()) <= registered + 1
