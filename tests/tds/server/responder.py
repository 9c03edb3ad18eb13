"""Writes one response: tokens in order, DONE_MORE set right, rows streamed in packets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import tokens as tk
from .encoders import row_encoder
from .errors import SqlError
from .packets import ResponseWriter

# Rows between two sends of the full packets collected so far.
_ROWS_PER_FLUSH = 64


class Responder:
    """Holds back each statement's DONE until the next token shows whether more follow."""

    def __init__(self, writer: ResponseWriter, in_transaction: Callable[[], bool]) -> None:
        self.writer = writer
        self._pending_done: tuple[int, int, int, int] | None = None
        self._in_transaction = in_transaction
        self.proc_depth = 0
        self.error_seen = False

    def _emit(self, token: bytes) -> None:
        if self._pending_done is not None:
            kind, status, cmd, rows = self._pending_done
            self._pending_done = None
            self.writer.add(tk.done(kind, status | tk.DONE_MORE, cmd, rows))
        self.writer.add(token)

    def token(self, token: bytes) -> None:
        self._emit(token)

    def statement_done(self, cmd: int, rows: int | None, *, error: bool = False) -> None:
        """The end of one statement: DONE in a batch, DONEINPROC inside a procedure."""
        kind = tk.DONEINPROC if self.proc_depth else tk.DONE
        status = tk.DONE_COUNT if rows is not None else 0
        if error:
            status |= tk.DONE_ERROR
        if self._in_transaction():
            status |= tk.DONE_INXACT
        self._emit(b"")
        self._pending_done = (kind, status, cmd, rows or 0)

    def error(self, err: SqlError) -> None:
        self.error_seen = True
        self._emit(
            tk.error(err.number, err.state, err.severity, err.message, err.procedure, err.line)
        )

    def info(self, number: int, text: str, state: int = 1, severity: int = 0) -> None:
        self._emit(tk.info(number, state, severity, text))

    async def result_set(
        self, columns: Sequence[tk.Column], rows: Iterable[Sequence[Any]], order: Sequence[int]
    ) -> int:
        self._emit(tk.colmetadata(columns))
        if order:
            self.writer.add(tk.order(order))
        encode = row_encoder([c.type for c in columns])
        add = self.writer.add
        count = 0
        for values in rows:
            add(encode(values))
            count += 1
            if count % _ROWS_PER_FLUSH == 0:
                await self.writer.flush_full()
        return count

    def proc_done(self, status: int = 0) -> None:
        """DONEPROC: the end of one RPC call."""
        if self._in_transaction():
            status |= tk.DONE_INXACT
        self._emit(b"")
        self._pending_done = (tk.DONEPROC, status, tk.CMD_EXECUTE, 0)

    async def finish(self, *, attention: bool = False, final_kind: int = tk.DONE) -> None:
        """Close the response with a `final_kind` token (DONE after a batch, DONEPROC after
        RPCs); an attention acknowledgement takes its place when the client cancelled."""
        if attention:
            self._emit(b"")
            self.writer.add(tk.done(tk.DONE, tk.DONE_ATTN))
        elif self._pending_done is not None and self._pending_done[0] != final_kind:
            self._emit(b"")
            self.writer.add(tk.done(final_kind, tk.DONE_ERROR if self.error_seen else 0))
        elif self._pending_done is not None:
            kind, status, cmd, rows = self._pending_done
            self._pending_done = None
            if self.error_seen and kind == tk.DONE:
                status |= tk.DONE_ERROR
            self.writer.add(tk.done(kind, status, cmd, rows))
        else:
            status = tk.DONE_ERROR if self.error_seen else 0
            self.writer.add(
                tk.done(tk.DONE, status | (tk.DONE_INXACT if self._in_transaction() else 0))
            )
        await self.writer.finish()
