"""Transactions: @@TRANCOUNT nesting, savepoints, descriptors announced in ENVCHANGE, and
the statements (BEGIN/COMMIT/ROLLBACK/SAVE TRAN) that drive them."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from . import tokens as tk
from .errors import SqlError
from .lexer import Token

if TYPE_CHECKING:
    from .engine import SqlSession

_descriptors = itertools.count(0x1000)
ISOLATION_LEVELS = {
    1: "READ UNCOMMITTED", 2: "READ COMMITTED", 3: "REPEATABLE READ", 4: "SERIALIZABLE",
    5: "SNAPSHOT",
}  # fmt: skip


class TransactionState:
    """Mixed into SqlSession: the transaction of one session."""

    conn: Any
    out: Any

    def __init__(self) -> None:
        self.trancount = 0
        self.descriptor = bytes(8)
        self.isolation = "READ COMMITTED"
        self.savepoints: list[str] = []

    def in_transaction(self) -> bool:
        return self.trancount > 0

    def begin_tran(self) -> None:
        if self.trancount == 0:
            self.conn.execute("BEGIN")
            self.descriptor = next(_descriptors).to_bytes(8, "little")
            self.out.token(tk.envchange_bytes(tk.ENV_BEGIN_TRAN, self.descriptor, b""))
        self.trancount += 1

    def commit_tran(self) -> None:
        if self.trancount == 0:
            raise SqlError(
                3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."
            )
        self.trancount -= 1
        if self.trancount == 0:
            self.conn.execute("COMMIT")
            self.savepoints.clear()
            self.out.token(tk.envchange_bytes(tk.ENV_COMMIT_TRAN, b"", self.descriptor))
            self.descriptor = bytes(8)

    def rollback_tran(self, savepoint: str | None = None) -> None:
        if self.trancount == 0:
            raise SqlError(
                3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION."
            )
        if savepoint is not None and savepoint.lower() in self.savepoints:
            self.conn.execute(f'ROLLBACK TO "{savepoint.lower()}"')
            return
        if savepoint is not None and self.savepoints:
            raise SqlError(
                6401,
                f"Cannot roll back {savepoint}. No transaction or savepoint of "
                "that name was found.",
            )
        self.rollback_silently(notify=True)

    def save_tran(self, name: str) -> None:
        if self.trancount == 0:
            raise SqlError(
                628, "Cannot issue SAVE TRANSACTION when there is no active transaction."
            )
        self.conn.execute(f'SAVEPOINT "{name.lower()}"')
        self.savepoints.append(name.lower())

    def rollback_silently(self, notify: bool = False) -> None:
        """Roll everything back (errors that doom the transaction, resets, disconnects)."""
        if self.trancount == 0:
            return
        self.trancount = 0
        self.savepoints.clear()
        if not self.conn.getautocommit():
            self.conn.execute("ROLLBACK")
        if notify:
            self.out.token(tk.envchange_bytes(tk.ENV_ROLLBACK_TRAN, b"", self.descriptor))
        self.descriptor = bytes(8)


def _name_after(tokens: list[Token], start: int) -> str | None:
    for token in tokens[start:]:
        if token.is_kw("TRAN", "TRANSACTION", "WORK"):
            continue
        return token.name if token.kind in ("ident", "qident") else None
    return None


async def begin(session: SqlSession, tokens: list[Token]) -> None:
    if len(tokens) < 2 or not tokens[1].is_kw("TRAN", "TRANSACTION", "DISTRIBUTED"):
        raise SqlError(102, "Incorrect syntax near 'BEGIN'.", severity=15)
    session.begin_tran()
    session.out.statement_done(tk.CMD_OTHER, None)


async def commit(session: SqlSession, tokens: list[Token]) -> None:
    session.commit_tran()
    session.out.statement_done(tk.CMD_OTHER, None)


async def rollback(session: SqlSession, tokens: list[Token]) -> None:
    session.rollback_tran(_name_after(tokens, 1))
    session.out.statement_done(tk.CMD_OTHER, None)


async def save(session: SqlSession, tokens: list[Token]) -> None:
    name = _name_after(tokens, 1)
    if name is None:
        raise SqlError(102, "Incorrect syntax near 'SAVE'.", severity=15)
    session.save_tran(name)
    session.out.statement_done(tk.CMD_OTHER, None)


HANDLERS = {"BEGIN": begin, "COMMIT": commit, "ROLLBACK": rollback, "SAVE": save}
