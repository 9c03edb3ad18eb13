"""Transactions: ``async with conn.transaction():``; nested blocks are savepoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferrule.exceptions import InterfaceError

if TYPE_CHECKING:
    from types import TracebackType

    from ferrule.connection import Connection

# Isolation levels by name; the connection maps each to fixed SQL, so nothing the caller
# passes is ever pasted into a statement.
_ISOLATION = ("read_uncommitted", "read_committed", "repeatable_read", "serializable")


class Transaction:
    """A transaction or, when one is already open on the connection, a savepoint."""

    __slots__ = ("_conn", "_deferrable", "_isolation", "_mode", "_readonly", "_savepoint", "_state")

    def __init__(
        self,
        conn: Connection,
        isolation: str | None,
        readonly: bool,
        deferrable: bool,
        mode: str | None = None,
    ) -> None:
        if isolation is not None and isolation not in _ISOLATION:
            raise InterfaceError(
                f"isolation must be one of {', '.join(sorted(_ISOLATION))}, not {isolation!r}"
            )
        self._conn = conn
        self._isolation = isolation
        self._readonly = readonly
        self._deferrable = deferrable
        self._mode = mode
        self._savepoint: str | None = None
        self._state = "new"

    async def start(self) -> None:
        """Begin the transaction (or set the savepoint)."""
        if self._state != "new":
            raise InterfaceError(f"cannot start a transaction that is {self._state}")
        conn = self._conn
        if conn._tx_depth > 0:
            if self._isolation or self._readonly or self._deferrable or self._mode:
                raise InterfaceError(
                    "a nested transaction cannot change isolation, readonly, deferrable or mode"
                )
            self._savepoint = f"ferrule_sp_{conn._tx_depth}"
            await conn.execute(conn._sql_savepoint(self._savepoint))
        else:
            if self._mode is None:
                sql = conn._sql_begin(self._isolation, self._readonly, self._deferrable)
            else:
                sql = conn._sql_begin_mode(
                    self._isolation, self._readonly, self._deferrable, self._mode
                )
            await conn.execute(sql)
        conn._tx_depth += 1
        self._state = "started"

    def _finish(self) -> None:
        if self._state != "started":
            raise InterfaceError(f"cannot end a transaction that is {self._state}")
        self._state = "ending"
        self._conn._tx_depth -= 1

    async def commit(self) -> None:
        """Commit (or release the savepoint)."""
        self._finish()
        try:
            if self._savepoint:
                await self._conn.execute(self._conn._sql_release(self._savepoint))
            else:
                await self._conn.execute("COMMIT")
        finally:
            self._state = "committed"

    async def rollback(self) -> None:
        """Roll back (to the savepoint, for a nested block)."""
        self._finish()
        try:
            if self._savepoint:
                await self._conn.execute(self._conn._sql_rollback_to(self._savepoint))
            elif self._conn._rollback_needed():
                await self._conn.execute("ROLLBACK")
        finally:
            self._state = "rolled back"

    async def __aenter__(self) -> Transaction:
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
        kind = f"savepoint {self._savepoint}" if self._savepoint else "transaction"
        return f"<ferrule.Transaction {kind} {self._state}>"
