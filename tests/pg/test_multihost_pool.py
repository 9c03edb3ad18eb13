"""Pools on a multi-host DSN with target_session_attrs=read-write through a failover: the
primary stops, the standby is promoted, and the pools' broken connections are replaced by
connections to the new primary, for a pool under write load and for an idle one."""

from __future__ import annotations

import asyncio
import contextlib
import time

import ferrule
from tests.common import server_unavailable
from tests.common.pg_cluster import ClusterUnavailableError
from tests.common.pg_replica import PgReplicaPair, make_replica_pair

POOL_SIZE = 4
WRITERS = 8
# What a call may meet while there is no primary: its connection lost under it, or no host
# matching read-write to connect to.
FAILOVER_ERRORS = (
    ferrule.ConnectionLostError,
    ferrule.ConnectionClosedError,
    ferrule.ConnectionFailureError,
)


class Attempts:
    """Every write attempt: when it started, and whether it succeeded."""

    def __init__(self) -> None:
        self.log: list[tuple[float, bool]] = []
        self.written: list[tuple[float, int]] = []
        self.errors: list[BaseException] = []
        # Set by the first success of a write started after `watch_from`.
        self.watch_from = float("inf")
        self.recovered = asyncio.Event()

    def first_success_after(self, t: float) -> float | None:
        return min((s for s, ok in self.log if ok and s >= t), default=None)

    def failures_between(self, start: float, end: float) -> int:
        return sum(1 for s, ok in self.log if not ok and start <= s < end)

    def successes_between(self, start: float, end: float) -> int:
        return sum(1 for s, ok in self.log if ok and start <= s < end)


async def write_until(pool: ferrule.Pool, stop: asyncio.Event, first: int, out: Attempts) -> None:
    value = first
    while not stop.is_set():
        value += WRITERS
        started = time.monotonic()
        try:
            await pool.execute("INSERT INTO failover_pool VALUES ($1)", value, timeout=5)
        except FAILOVER_ERRORS as exc:
            out.log.append((started, False))
            out.errors.append(exc)
        else:
            out.log.append((started, True))
            out.written.append((started, value))
            if started >= out.watch_from:
                out.recovered.set()
        await asyncio.sleep(0.005)


async def pool_ports(pool: ferrule.Pool, n: int) -> set[int]:
    """The server port of `n` connections held at once."""
    held = [await pool.acquire(timeout=5) for _ in range(n)]
    try:
        return {await conn.fetchval("SELECT inet_server_port()") for conn in held}
    finally:
        for conn in held:
            await pool.release(conn)


async def test_pool_reroutes_to_the_promoted_standby() -> None:
    try:
        pair: PgReplicaPair = make_replica_pair()
    except ClusterUnavailableError as exc:
        server_unavailable(f"primary and standby unavailable: {exc}")
    try:
        dsn = pair.dsn(target_session_attrs="read-write")
        # A second pool sits idle through the failover.
        idle = await ferrule.create_pool(dsn, min_size=2, max_size=2)
        async with idle, ferrule.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:
            assert await pool_ports(pool, POOL_SIZE) == {pair.primary.port}
            assert await pool_ports(idle, 2) == {pair.primary.port}
            await pool.execute("CREATE TABLE failover_pool (v int)")
            await asyncio.to_thread(pair.wait_replayed)

            attempts, stop = Attempts(), asyncio.Event()
            writers = [
                asyncio.ensure_future(write_until(pool, stop, i, attempts)) for i in range(WRITERS)
            ]
            await asyncio.sleep(0.3)
            stopping = time.monotonic()
            await asyncio.to_thread(pair.primary.stop, "immediate")
            stopped = time.monotonic()
            await asyncio.sleep(0.5)
            promoting = time.monotonic()
            await asyncio.to_thread(pair.standby.promote)
            promoted = time.monotonic()
            attempts.watch_from = promoted
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(attempts.recovered.wait(), 10)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*writers)

            first = attempts.first_success_after(promoted)
            assert first is not None, "no write succeeded within 10 s of the promotion"
            window = first - stopping
            print(
                f"failover: writes failed for {window * 1000:.0f} ms (primary stopped in "
                f"{(stopped - stopping) * 1000:.0f} ms, standby promoted in "
                f"{(promoted - promoting) * 1000:.0f} ms); first write "
                f"{(first - promoted) * 1000:.0f} ms after the promotion; "
                f"{len(attempts.errors)} failed calls"
            )
            # Writes went through before the failover and failed while there was no primary.
            assert attempts.successes_between(0, stopping) > 0
            assert attempts.successes_between(stopped, promoting) == 0
            assert attempts.failures_between(stopped, promoting) > 0
            # The window closes right after the promotion: the next call connects again.
            assert first - promoted < 2.0
            # Bounded: after the first write on the new primary, every later one succeeds.
            assert attempts.failures_between(first + 0.5, float("inf")) == 0
            assert attempts.successes_between(first + 0.5, float("inf")) > 0
            assert all(isinstance(e, FAILOVER_ERRORS) for e in attempts.errors)

            # Every connection of the pool now reaches the promoted standby, and the writes
            # acknowledged after the promotion are there.
            assert await pool_ports(pool, POOL_SIZE) == {pair.standby.port}
            assert pool.stats()["closed_broken"] >= POOL_SIZE
            after = [v for s, v in attempts.written if s >= promoted]
            stored = await pool.fetchval(
                "SELECT count(*) FROM failover_pool WHERE v = ANY($1::int[])", after
            )
            assert stored == len(after) > 0
            assert await pool.fetchval("SELECT pg_is_in_recovery()") is False

            # The idle pool learned of its lost connections from their sockets: its first
            # call after the failover already runs on the new primary.
            assert await idle.fetchval("SELECT inet_server_port()") == pair.standby.port
            assert await pool_ports(idle, 2) == {pair.standby.port}
    finally:
        await asyncio.to_thread(pair.close)
