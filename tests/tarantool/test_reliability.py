"""Faults: a request timing out while others complete, schema changes under load, the server
killed and restarted (reconnect, no duplicate execution), hostile frames from a fake peer,
connect timeouts, authentication failures, unix sockets."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable

import pytest

import ferrule
from ferrule import tarantool_connection
from ferrule.tarantool_connection import TarantoolConnection
from tests.common.tarantool_server import PASSWORD, USER, TarantoolServer


async def test_timeout_while_others_complete(conn: TarantoolConnection) -> None:
    slow = asyncio.ensure_future(conn.call("sleep_for", [1.0, "slow"], timeout=0.2))
    started = time.monotonic()
    pings = await asyncio.gather(*(conn.ping() for _ in range(100)))
    assert len(pings) == 100
    with pytest.raises(ferrule.TimeoutError):
        await slow
    assert 0.15 < time.monotonic() - started < 0.6
    # The late answer is dropped; the connection goes on.
    await asyncio.sleep(1.0)
    assert await conn.call("echo", [1]) == [1]


async def test_schema_change_during_load(conn: TarantoolConnection, tnt_dsn: str, key: int) -> None:
    admin = await ferrule.connect(tnt_dsn)
    assert isinstance(admin, TarantoolConnection)
    version = conn.schema_version()
    stop = False

    async def load(worker: int) -> int:
        done = 0
        while not stop:
            await conn.replace("tester", [key + worker, "load", done])
            got = await conn.select("tester", key + worker, index="primary")
            assert got[0]["value"] == done
            done += 1
        return done

    async def churn() -> None:
        for i in range(8):
            name = f"churn_{key}_{i}"
            await admin.eval(
                "local s = box.schema.space.create(...) s:create_index('pk') return s.id", [name]
            )
            await asyncio.sleep(0.02)
            await admin.eval("box.space[...]:drop()", [name])

    workers = [asyncio.ensure_future(load(w)) for w in range(20)]
    await churn()
    stop = True
    counts = await asyncio.gather(*workers)
    assert all(c > 0 for c in counts)
    assert conn.schema_version() > version
    # A space created after connecting is found by name.
    await admin.eval("box.schema.space.create(...):create_index('pk')", [f"late_{key}"])
    assert await conn.insert(f"late_{key}", [1, "x"]) is not None
    await admin.eval("box.space[...]:drop()", [f"late_{key}"])
    await admin.close()


async def wait_for(pred: Callable[[], Awaitable[bool]], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_kill_and_restart_no_duplicate_execution(
    tnt_local: TarantoolServer, key: int
) -> None:
    conn = await ferrule.connect(tnt_local.dsn(), reconnect_delay=0.05)
    assert isinstance(conn, TarantoolConnection)
    name = f"once-{key}"
    call = asyncio.ensure_future(conn.call("count_call", [name, 3.0]))
    await asyncio.sleep(0.3)
    killed = time.monotonic()
    tnt_local.kill()
    with pytest.raises(ferrule.ConnectionLostError, match="not re-sent"):
        await call
    assert time.monotonic() - killed < 0.5
    tnt_local.start()

    async def back() -> bool:
        try:
            await conn.ping(timeout=1)
            return True
        except ferrule.Error:
            return False

    await wait_for(back, 15)
    assert conn.reconnect_count() >= 1
    # The interrupted call was never re-sent: at most the one execution the server may have
    # made durable before it died, and the next call counts exactly one more.
    (before,) = await conn.eval("local t = box.space.calls:get(...) return t and t[2] or 0", [name])
    assert before in (0, 1)
    assert await conn.call("count_call", [name]) == [before + 1]
    await conn.close()


async def test_requests_while_server_down_fail_within_their_timeout(
    tnt_local: TarantoolServer,
) -> None:
    conn = await ferrule.connect(tnt_local.dsn(), reconnect_delay=0.05)
    tnt_local.kill()
    started = time.monotonic()
    with pytest.raises(ferrule.ConnectionLostError):
        await conn.ping(timeout=0.5)
    assert time.monotonic() - started < 1.5
    tnt_local.start()
    await conn.close()


async def test_no_reconnect_closes(tnt_local: TarantoolServer) -> None:
    conn = await ferrule.connect(tnt_local.dsn(), reconnect=False)
    tnt_local.restart()
    await asyncio.sleep(0.2)
    with pytest.raises(ferrule.ConnectionLostError):
        await conn.ping()
    assert conn.is_closed()


GREETING = (
    b"Tarantool 2.6.0 (Binary) 00000000-0000-0000-0000-000000000000".ljust(63)
    + b"\n"
    + b"UIM++KN1GZ5slVLXwqrRPe5T+Sd8hPsYdSBMk6VqYoM=".ljust(63)
    + b"\n"
)


def reply(sync: int, code: int, body: bytes = b"\x80") -> bytes:
    header = b"\x82\x00\xcd" + struct.pack(">H", code) + b"\x01\xcf" + struct.pack(">Q", sync)
    payload = header + body
    return b"\xce" + struct.pack(">I", len(payload)) + payload


async def fake_peer(evil: bytes) -> tuple[asyncio.AbstractServer, int]:
    """Greets, answers IPROTO_ID with 'unknown request', then sends `evil` for the next one."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(GREETING)
        n = 0
        try:
            while True:
                head = await r.readexactly(5)
                frame = await r.readexactly(struct.unpack(">I", head[1:])[0])
                sync = frame[4]  # a small sync id is one positive fixint
                n += 1
                if n == 1:
                    w.write(reply(sync, 0x8000 | 48, b"\x81\x31\xa3unk"))
                else:
                    w.write(evil)
                    await w.drain()
                    if evil.endswith(b"CLOSE"):
                        w.close()
                        return
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("evil", "error"),
    [
        (b"\xce\xff\xff\xff\xff", ferrule.ProtocolError),  # absurd length
        (b"\xcf" + b"\xff" * 8, ferrule.ProtocolError),  # absurd 64-bit length
        (b"\xa3abc", ferrule.ProtocolError),  # length is not an integer
        (b"\xce\x00\x00\x00\x03\x91\x00\x00", ferrule.ProtocolError),  # header not a map
        (b"\xce\x00\x00\x00\x04\x81\x00\xdd\xff", ferrule.ProtocolError),  # truncated inside
        (b"\xce\x00\x00\x10\x00\x82\x00" + b"CLOSE", ferrule.ConnectionLostError),  # cut short
    ],
)
async def test_malformed_frames_give_protocol_errors(evil: bytes, error: type) -> None:
    server, port = await fake_peer(evil)
    async with server:
        conn = await ferrule.connect(
            f"tarantool://127.0.0.1:{port}", fetch_schema=False, reconnect=False
        )
        with pytest.raises(error):
            await conn.ping(timeout=5)
        assert conn.is_closed()


async def test_connect_timeout_on_a_silent_server() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read()  # until the client gives up
        w.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        started = time.monotonic()
        with pytest.raises(ferrule.TimeoutError):
            await ferrule.connect(f"tarantool://127.0.0.1:{port}", timeout=0.3)
        assert time.monotonic() - started < 1.0


async def test_connect_refused() -> None:
    with pytest.raises(ferrule.ConnectionFailureError):
        await ferrule.connect("tarantool://127.0.0.1:1")


async def test_wrong_password_and_guest(tnt_server: TarantoolServer) -> None:
    with pytest.raises(ferrule.AuthenticationError) as info:
        await ferrule.connect(tnt_server.dsn(password="wrong"))
    assert info.value.code == "47"
    guest = await ferrule.connect(tnt_server.dsn(user=None))
    assert await guest.call("echo", [1]) == [1]  # type: ignore[attr-defined]
    await guest.close()


async def test_unix_socket() -> None:
    server = TarantoolServer(listen="unix")
    try:
        server.start()
    except Exception as exc:
        pytest.skip(f"cannot start a second server: {exc}")
    try:
        conn = await ferrule.connect(server.dsn())
        assert isinstance(conn, TarantoolConnection)
        await conn.ping()
        assert (await conn.select("bench", 1))[0]["name"] == "name1"
        await conn.close()
        conn = await tarantool_connection.connect(
            unix_path=server.socket_path, user=USER, password=PASSWORD
        )
        await conn.close()
    finally:
        server.close()
