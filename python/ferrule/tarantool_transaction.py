"""Tarantool interactive transactions: a stream with IPROTO_BEGIN / COMMIT / ROLLBACK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferrule import _bridge
from ferrule.exceptions import InterfaceError

if TYPE_CHECKING:
    from types import TracebackType

    from ferrule._ferrule import TntConn
    from ferrule.tarantool_connection import TarantoolConnection


class TarantoolTransaction:
    """``async with conn.transaction():`` commits on success and rolls back on an error.

    The connection's calls join the transaction's stream while it is open. Nested
    transactions are refused (streams have no savepoints in IPROTO).
    """

    __slots__ = ("_conn", "_isolation", "_state", "_txn_timeout")

    def __init__(
        self, conn: TarantoolConnection, isolation: str | None, txn_timeout: float | None
    ) -> None:
        self._conn = conn
        self._isolation = isolation
        self._txn_timeout = txn_timeout
        self._state = "new"

    @property
    def _impl(self) -> TntConn:
        impl: TntConn = self._conn._impl  # type: ignore[assignment]
        return impl

    async def start(self) -> None:
        """Begin: NotSupportedError when the server lacks streams (before 2.10)."""
        if self._state != "new":
            raise InterfaceError(f"cannot start a transaction that is {self._state}")
        if self._impl.transaction_status() != "idle":
            raise InterfaceError("a transaction is already open; Tarantool has no nesting")
        conn = self._conn
        fut = self._impl.begin(self._isolation, self._txn_timeout, conn._timeout(None))
        self._state = "started"
        try:
            await _bridge.wait(conn._bridge, fut)
        except BaseException:
            self._state = "failed"
            if self._impl.transaction_status() != "idle":
                await self._end(False)
            raise

    async def _end(self, commit: bool) -> None:
        conn = self._conn
        await _bridge.wait(conn._bridge, self._impl.end(commit, conn._timeout(None)))

    async def commit(self) -> None:
        if self._state != "started":
            raise InterfaceError(f"cannot commit a transaction that is {self._state}")
        self._state = "committed"
        await self._end(True)

    async def rollback(self) -> None:
        if self._state != "started":
            raise InterfaceError(f"cannot roll back a transaction that is {self._state}")
        self._state = "rolled back"
        if not self._conn.is_closed():
            await self._end(False)

    async def __aenter__(self) -> TarantoolTransaction:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != "started":
            return
        if exc_type is None:
            await self.commit()
        else:
            await self.rollback()

    def __repr__(self) -> str:
        return f"<ferrule.TarantoolTransaction {self._state}>"
