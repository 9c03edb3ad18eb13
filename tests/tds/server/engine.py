"""A session's SQL: runs batches on SQLite, sends result sets, keeps variables and state."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

from . import ddl, functions, statements, sysviews, transactions
from . import tokens as tk
from .database import Database
from .errors import SqlError, deadlock_error, from_sqlite, lock_timeout_error, syntax_error
from .lexer import IDENT, OP, LexError, Token, tokenize
from .parser import Block, CreateProcedure, If, ParseError, Simple, TryCatch, While, parse_batch
from .responder import Responder
from .resultsets import ResultSets
from .translate import Translation, translate
from .types import SqlType
from .values import ConversionError

if TYPE_CHECKING:
    from .server import ServerState

SQLITE_BUSY_SNAPSHOT = 517
_MAX_LOOP = 1_000_000


@dataclass
class Variable:
    type: SqlType
    value: Any


class ReturnSignal(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class LoopSignal(Exception):
    def __init__(self, kind: str) -> None:
        self.kind = kind


class BatchAborted(Exception):
    """A batch-aborting error was reported; the rest of the batch does not run."""


@functools.lru_cache(maxsize=512)
def parse_text(text: str) -> list[Any]:
    """A batch's statements (cached: nodes are never changed once parsed)."""
    return parse_batch(tokenize(text))


class SqlSession(ResultSets, transactions.TransactionState):
    def __init__(self, server: ServerState, database: Database, user: str, spid: int) -> None:
        super().__init__()
        self.server = server
        self.user = user
        self.spid = spid
        self.database = database
        self.database_name = database.name
        self.conn = self._connect(database)
        self.variables: dict[str, Variable] = {}
        self.nocount = False
        self.xact_abort = False
        self.lock_timeout_ms = -1
        self.last_rowcount = 0
        self.last_error = 0
        self.current_error: tuple[int, int, int, str] | None = None
        self.try_depth = 0
        self.procedure = ""
        self.prepared: dict[int, tuple[str, str]] = {}
        self._next_handle = 1
        self.bulk: Any = None
        self._responder: Responder | None = None

    # -- plumbing ----------------------------------------------------------------------------

    def _connect(self, database: Database) -> apsw.Connection:
        conn = database.connect()
        functions.register(conn, self)
        return conn

    @property
    def out(self) -> Responder:
        assert self._responder is not None, "no request is running"
        return self._responder

    def begin_request(self, responder: Responder) -> None:
        self._responder = responder

    def close(self) -> None:
        self.conn.close()

    def new_handle(self) -> int:
        handle = self._next_handle
        self._next_handle += 1
        return handle

    def use_database(self, database: Database) -> None:
        if self.trancount:
            raise SqlError(226, "USE statement not allowed within multi-statement transaction.")
        old = self.database_name
        self.conn.close()
        self.database = database
        self.database_name = database.name
        self.conn = self._connect(database)
        self.out.token(tk.envchange_text(tk.ENV_DATABASE, database.name, old))
        self.out.info(5701, f"Changed database context to '{database.name}'.", 2, 0)

    def reset(self, *, keep_transaction: bool = False) -> None:
        """RESETCONNECTION: roll back, forget variables, options and prepared statements."""
        if not keep_transaction:
            self.rollback_silently(notify=True)
        self.nocount = False
        self.xact_abort = False
        self.lock_timeout_ms = -1
        self.prepared.clear()
        self.variables = {}
        for (name,) in list(
            self.conn.execute("SELECT name FROM temp.sqlite_master WHERE type = 'table'")
        ):
            self.conn.execute(f'DROP TABLE temp."{name}"')

    # -- SQLite -------------------------------------------------------------------------------

    async def sqlite(self, sql: str, bindings: dict[str, Any] | None = None) -> apsw.Cursor:
        """Run one statement; wait (without blocking the loop) while another session writes."""
        deadline: float | None = None
        while True:
            cursor = self.conn.cursor()
            try:
                cursor.execute(sql, bindings or {})
                return cursor
            except apsw.BusyError as exc:
                if self.trancount and exc.extendedresult == SQLITE_BUSY_SNAPSHOT:
                    raise deadlock_error(self.spid) from exc
                now = time.monotonic()
                if deadline is None:
                    wait = self.lock_timeout_ms if self.lock_timeout_ms >= 0 else None
                    deadline = now + (
                        wait / 1000 if wait is not None else self.server.lock_wait_seconds
                    )
                if now >= deadline:
                    raise lock_timeout_error() from exc
                await asyncio.sleep(0.003)
            except ConversionError as exc:
                raise SqlError(exc.number, str(exc)) from exc
            except apsw.Error as exc:
                raise self.sqlite_error(exc, sql) from exc

    def sqlite_error(self, exc: apsw.Error, sql: str) -> SqlError:
        return from_sqlite(exc, sql, self.database_name, self.database.unique_indexes(self.conn))

    def _rows(self, cursor: apsw.Cursor, sql: str) -> Iterator[tuple[Any, ...]]:
        try:
            yield from cursor
        except ConversionError as exc:
            raise SqlError(exc.number, str(exc)) from exc
        except apsw.Error as exc:
            raise self.sqlite_error(exc, sql) from exc

    def bindings(self, tr: Translation) -> dict[str, Any]:
        for view in tr.system_views:
            if view not in sysviews.VIEWS:
                raise SqlError(208, f"Invalid object name '{view}'.")
            sysviews.refresh(self.conn, view, list(self.server.sessions.values()))
        values: dict[str, Any] = {}
        for name in tr.variables:
            variable = self.variables.get(name)
            if variable is None:
                raise SqlError(
                    137,
                    f'Must declare the scalar variable "@{name}".',
                    severity=15,
                    state=2,
                    aborts_batch=True,
                )
            values[name] = variable.value
        for name in tr.sysvars:
            values["__" + name] = self.system_variable(name)
        return values

    def system_variable(self, name: str) -> Any:
        known = {
            "rowcount": self.last_rowcount,
            "trancount": self.trancount,
            "error": self.last_error,
            "spid": self.spid,
            "version": self.server.version_text,
            "servername": tk.SERVER_NAME,
            "language": "us_english",
            "max_precision": 38,
            "fetch_status": -1,
            "procid": 0,
            "nestlevel": self.out.proc_depth,
            "textsize": 2147483647,
        }
        if name not in known:
            raise SqlError(137, f'Must declare the scalar variable "@@{name}".', severity=15)
        return known[name]

    async def evaluate(self, expressions: Sequence[list[Token]]) -> list[Any]:
        """The values of T-SQL expressions (one SELECT, no FROM unless they hold subqueries)."""
        tokens: list[Token] = [Token(IDENT, "SELECT")]
        for i, expression in enumerate(expressions):
            if i:
                tokens.append(Token(OP, ","))
            tokens += expression
        tr = translate(tokens)
        cursor = await self.sqlite(tr.sql, self.bindings(tr))
        rows = list(self._rows(cursor, tr.sql))
        return list(rows[0]) if rows else [None] * len(expressions)

    async def condition(self, tokens: list[Token]) -> bool:
        wrapped = [Token(IDENT, "CASE"), Token(IDENT, "WHEN"), *tokens, Token(IDENT, "THEN")]
        wrapped += [Token("number", "1"), Token(IDENT, "ELSE"), Token("number", "0")]
        (value,) = await self.evaluate([[*wrapped, Token(IDENT, "END")]])
        return bool(value)

    # -- batches and control flow ----------------------------------------------------------------

    async def run_batch(self, text: str, variables: dict[str, Variable] | None = None) -> None:
        try:
            nodes = parse_text(text)
        except (LexError, ParseError) as exc:
            number = getattr(exc, "number", 102)
            self.out.error(syntax_error(str(exc), number))
            self.out.statement_done(tk.CMD_OTHER, None, error=True)
            return
        saved = self.variables
        self.variables = variables if variables is not None else {}
        try:
            await self.run_nodes(nodes)
        except BatchAborted:
            pass
        finally:
            self.variables = saved

    async def run_nodes(self, nodes: Sequence[Any]) -> None:
        for node in nodes:
            await self.run_node(node)

    async def run_node(self, node: Any) -> None:
        if isinstance(node, Simple):
            await self.run_statement(node)
        elif isinstance(node, Block):
            await self.run_nodes(node.body)
        elif isinstance(node, If):
            branch = node.then if await self._guarded_condition(node.condition) else node.otherwise
            if branch is not None:
                await self.run_node(branch)
        elif isinstance(node, While):
            for _ in range(_MAX_LOOP):
                if not await self._guarded_condition(node.condition):
                    break
                try:
                    await self.run_node(node.body)
                except LoopSignal as signal:
                    if signal.kind == "BREAK":
                        break
        elif isinstance(node, TryCatch):
            self.try_depth += 1
            try:
                await self.run_nodes(node.body.body)
            except SqlError as err:
                self.try_depth -= 1
                self.current_error = (err.number, err.severity, err.state, err.message)
                try:
                    await self.run_nodes(node.handler.body)
                finally:
                    self.try_depth += 1
            finally:
                self.try_depth -= 1
        elif isinstance(node, CreateProcedure):
            await self._guard(statements.create_procedure(self, node.tokens))

    async def _guarded_condition(self, tokens: list[Token]) -> bool:
        result: list[bool] = []

        async def check() -> None:
            result.append(await self.condition(tokens))

        await self._guard(check())
        return bool(result and result[0])

    async def run_statement(self, statement: Simple) -> None:
        await self._guard(self.dispatch(statement))

    async def _guard(self, work: Any) -> None:
        """Run one statement; report its error the way SQL Server does."""
        try:
            await work
        except ConversionError as exc:
            await self._failed(SqlError(exc.number, str(exc)))
        except ParseError as exc:
            await self._failed(syntax_error(str(exc), exc.number))
        except SqlError as err:
            await self._failed(err)

    async def _failed(self, err: SqlError) -> None:
        self.last_error = err.number
        if self.try_depth:
            raise err
        if not err.procedure and self.procedure:
            err.procedure = self.procedure
        self.out.error(err)
        self.out.statement_done(tk.CMD_OTHER, None, error=True)
        if err.number == 1205 or (self.xact_abort and err.severity > 10):
            self.rollback_silently(notify=True)
        if err.aborts_batch or (self.xact_abort and err.severity > 10):
            raise BatchAborted

    async def dispatch(self, statement: Simple) -> None:
        tokens = statement.tokens
        word = statement.keyword
        info = self.server.sessions.get(self.spid)
        if info is not None:
            info.command = word
            info.start_time = dt.datetime.now().isoformat(" ")[:23]
        second = tokens[1].upper if len(tokens) > 1 else ""
        if word == "SELECT" and statements.is_assignment_select(tokens):
            await statements.assignment_select(self, tokens)
        elif word in ("SELECT", "WITH", "UPDATE", "DELETE", "MERGE", "TRUNCATE"):
            await self.query(tokens)
        elif word == "INSERT" and second == "BULK":
            from . import bulk

            bulk.start(self, tokens)
        elif word == "INSERT":
            await self.query(tokens)
        elif word == "CREATE" and second in (
            "TABLE",
            "INDEX",
            "UNIQUE",
            "CLUSTERED",
            "NONCLUSTERED",
            "VIEW",
            "DATABASE",
        ):
            await self.create(tokens, second)
        elif word in ("DROP", "ALTER") and second in ("PROC", "PROCEDURE"):
            await statements.drop_procedure(self, tokens)
        elif word == "ALTER" and second == "TABLE" and any(t.is_kw("ADD") for t in tokens):
            await self.ddl(ddl.add_column(tokens))
        elif word in ("DROP", "ALTER"):
            await self.ddl(translate(self._drop_index(tokens)).sql)
        elif word in statements.HANDLERS:
            await statements.HANDLERS[word](self, tokens)
        elif word in transactions.HANDLERS:
            await transactions.HANDLERS[word](self, tokens)
        else:
            raise syntax_error(f"Incorrect syntax near '{tokens[0].text}'.")

    @staticmethod
    def _drop_index(tokens: list[Token]) -> list[Token]:
        # DROP INDEX ix ON t -> DROP INDEX ix
        if len(tokens) > 3 and tokens[1].is_kw("INDEX"):
            on = next((i for i, t in enumerate(tokens) if t.is_kw("ON")), len(tokens))
            return tokens[:on]
        return tokens

    async def ddl(self, sql: str) -> None:
        cursor = await self.sqlite(sql)
        cursor.close()
        self.out.statement_done(tk.CMD_OTHER, None)

    async def create(self, tokens: list[Token], second: str) -> None:
        if second == "TABLE":
            td = ddl.create_table(tokens)
            await self.ddl(td.sql)
            for column, sql_type in td.identities.items():
                self.database.save_identity(self.conn, td.table, column, sql_type)
            if td.identities and td.identity_seed != 1:
                schema = "temp" if td.temporary else "main"
                await self.sqlite(
                    f"INSERT INTO {schema}.sqlite_sequence (name, seq) VALUES (@t, @s)",
                    {"t": td.table, "s": td.identity_seed - 1},
                )
        elif second == "DATABASE":
            statements.create_database(self, tokens)
        elif second == "VIEW":
            await self.ddl(translate(tokens).sql)
        else:
            await self.ddl(ddl.create_index(tokens))
