"""Statements that are not queries: DECLARE, SET, PRINT, RAISERROR, THROW, WAITFOR, USE,
EXEC, RETURN, BREAK/CONTINUE, and the SELECT that assigns variables."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from . import procedures
from . import tokens as tk
from .errors import SqlError, syntax_error
from .lexer import IDENT, OP, QIDENT, VAR, Token, join
from .parser import split_top
from .translate import translate
from .types import TypeDeclarationError, parse_type
from .values import coerce

if TYPE_CHECKING:
    from .engine import SqlSession

_ON_OFF_OPTIONS = {"NOCOUNT": "nocount", "XACT_ABORT": "xact_abort"}
_DELAY = re.compile(r"^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,3}))?)?\s*$")
_PRINTF = re.compile(r"%[-+ 0#]*\d*(?:\.\d+)?(?:h|l|I64)?([dius xXo%])")


def _done(session: SqlSession) -> None:
    session.out.statement_done(tk.CMD_OTHER, None)


async def declare(session: SqlSession, tokens: list[Token]) -> None:
    from .engine import Variable

    for item in split_top(tokens[1:]):
        if not item or item[0].kind != VAR:
            raise syntax_error(f"Incorrect syntax near '{join(item)}'.")
        name = item[0].text[1:].lower()
        rest = item[1:]
        if rest and rest[0].is_kw("AS"):
            rest = rest[1:]
        if rest and rest[0].is_kw("TABLE", "CURSOR"):
            raise SqlError(102, "table variables and cursors are not supported by the test server")
        eq = next((i for i, t in enumerate(rest) if t.text == "=" and t.kind == OP), len(rest))
        try:
            sql_type = parse_type(" ".join(t.text for t in rest[:eq]))
        except TypeDeclarationError as exc:
            raise SqlError(2715, str(exc)) from exc
        value = None
        if eq < len(rest):
            (value,) = await session.evaluate([rest[eq + 1 :]])
            value = coerce(value, sql_type)
        session.variables[name] = Variable(sql_type, value)


async def set_statement(session: SqlSession, tokens: list[Token]) -> None:
    if len(tokens) > 1 and tokens[1].kind == VAR:
        await _assign(session, tokens)
        return
    words = [t.upper for t in tokens[1:3]]
    if words and words[0] in _ON_OFF_OPTIONS:
        setattr(session, _ON_OFF_OPTIONS[words[0]], len(words) > 1 and words[1] == "ON")
    elif words[:2] == ["TRANSACTION", "ISOLATION"]:
        session.isolation = " ".join(t.upper for t in tokens[4:])
    elif words and words[0] == "LOCK_TIMEOUT" and len(tokens) > 2:
        (value,) = await session.evaluate([tokens[2:]])
        session.lock_timeout_ms = int(value)
    # Other SET options (ANSI_NULLS, TEXTSIZE, DATEFORMAT, ...) are accepted and change nothing.
    _done(session)


async def _assign(session: SqlSession, tokens: list[Token]) -> None:
    name = tokens[1].text[1:].lower()
    variable = session.variables.get(name)
    if variable is None:
        raise SqlError(137, f'Must declare the scalar variable "@{name}".', severity=15, state=2)
    operator = tokens[2].text if len(tokens) > 2 else ""
    expression = tokens[3:]
    if operator in ("+=", "-=", "*=", "/="):
        expression = [
            tokens[1],
            Token(OP, operator[0]),
            Token(OP, "("),
            *expression,
            Token(OP, ")"),
        ]
    elif operator != "=":
        raise syntax_error(f"Incorrect syntax near '{operator}'.")
    (value,) = await session.evaluate([expression])
    variable.value = coerce(value, variable.type)


def is_assignment_select(tokens: list[Token]) -> bool:
    return len(tokens) > 3 and tokens[1].kind == VAR and tokens[2].text in ("=", "+=")


async def assignment_select(session: SqlSession, tokens: list[Token]) -> None:
    """SELECT @a = x, @b = y FROM ...: each row assigns; the last row wins."""
    from_at = len(tokens)
    depth = 0
    for i, token in enumerate(tokens):
        depth += 1 if token.text == "(" else -1 if token.text == ")" else 0
        if depth == 0 and token.is_kw("FROM", "WHERE", "ORDER", "GROUP"):
            from_at = i
            break
    targets = []
    query: list[Token] = [Token(IDENT, "SELECT")]
    for k, item in enumerate(split_top(tokens[1:from_at])):
        if len(item) < 3 or item[0].kind != VAR or item[1].text != "=":
            raise SqlError(
                141,
                "A SELECT statement that assigns a value to a variable must "
                "not be combined with data-retrieval operations.",
                severity=15,
            )
        name = item[0].text[1:].lower()
        if name not in session.variables:
            raise SqlError(137, f'Must declare the scalar variable "@{name}".', severity=15)
        targets.append(session.variables[name])
        if k:
            query.append(Token(OP, ","))
        query += item[2:]
    tr = translate([*query, *tokens[from_at:]])
    cursor = await session.sqlite(tr.sql, session.bindings(tr))
    count = 0
    for row in session._rows(cursor, tr.sql):
        count += 1
        for variable, value in zip(targets, row):
            variable.value = coerce(value, variable.type)
    session.last_rowcount = count
    session.out.statement_done(tk.CMD_SELECT, None if session.nocount else count)


def _format(message: str, args: list[Any]) -> str:
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) == "%":
            return "%"
        value = next(values, None)
        return "(null)" if value is None else str(value)

    return _PRINTF.sub(substitute, message)


async def print_statement(session: SqlSession, tokens: list[Token]) -> None:
    (value,) = await session.evaluate([tokens[1:]])
    session.out.info(0, "" if value is None else str(value), 1, 0)


async def raiserror(session: SqlSession, tokens: list[Token]) -> None:
    body = tokens[1:]
    with_at = next((i for i, t in enumerate(body) if t.is_kw("WITH")), len(body))
    body = body[:with_at]
    if body and body[0].text == "(" and body[-1].text == ")":
        body = body[1:-1]
    args = split_top(body)
    if len(args) < 3:
        raise syntax_error("Incorrect syntax near 'RAISERROR'.")
    values = await session.evaluate(args)
    message, severity, state = values[0], int(values[1]), int(values[2])
    number = 50000
    if isinstance(message, int):
        number, message = message, f"Error {message}, severity {severity}, state {state} was "
        message += "raised, but no message with that error number was found in sys.messages."
    text = _format(str(message), values[3:])
    if severity <= 10:
        session.out.info(number, text, state, severity)
        return
    raise SqlError(number, text, severity=min(severity, 25), state=state)


async def throw(session: SqlSession, tokens: list[Token]) -> None:
    if len(tokens) == 1:
        if session.current_error is None:
            raise SqlError(
                10704,
                "To rethrow an error, a THROW statement must be used inside a CATCH block.",
                severity=15,
            )
        number, severity, state, message = session.current_error
        raise SqlError(number, message, severity=severity, state=state, aborts_batch=True)
    args = split_top(tokens[1:])
    if len(args) != 3:
        raise syntax_error("Incorrect syntax near 'THROW'.")
    number, message, state = await session.evaluate(args)
    if int(number) < 50000:
        raise SqlError(
            35100,
            f"Error number {number} in the THROW statement is outside the "
            "valid range. Specify an error number in the valid range of 50000 to "
            "2147483647.",
        )
    raise SqlError(int(number), str(message), severity=16, state=int(state), aborts_batch=True)


async def waitfor(session: SqlSession, tokens: list[Token]) -> None:
    if len(tokens) < 3 or not tokens[1].is_kw("DELAY", "TIME"):
        raise syntax_error("Incorrect syntax near 'WAITFOR'.")
    (value,) = await session.evaluate([tokens[2:]])
    match = _DELAY.match(str(value))
    if not match:
        raise SqlError(
            148, f"Incorrect time syntax in time string '{value}' used with WAITFOR.", severity=15
        )
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    fraction = int((match.group(4) or "0").ljust(3, "0")) / 1000
    delay = hours * 3600 + minutes * 60 + seconds + fraction
    if tokens[1].is_kw("TIME"):
        import datetime as dt

        now = dt.datetime.now()
        target = now.replace(hour=hours, minute=minutes, second=seconds, microsecond=0)
        delay = (target - now).total_seconds() % 86400
    await asyncio.sleep(delay)
    _done(session)


async def use(session: SqlSession, tokens: list[Token]) -> None:
    if len(tokens) != 2:
        raise syntax_error("Incorrect syntax near 'USE'.")
    database = session.server.databases.get(tokens[1].name)
    if database is None:
        raise SqlError(
            911,
            f"Database '{tokens[1].name}' does not exist. Make sure that the "
            "name is entered correctly.",
        )
    session.use_database(database)
    _done(session)


def create_database(session: SqlSession, tokens: list[Token]) -> None:
    if len(tokens) != 3 or tokens[2].kind not in (IDENT, QIDENT):
        raise syntax_error("Incorrect syntax near 'DATABASE'.")
    try:
        session.server.databases.create(tokens[2].name)
    except KeyError:
        raise SqlError(
            1801, f"Database '{tokens[2].name}' already exists. Choose a different database name."
        ) from None
    except ValueError as exc:
        raise SqlError(102, str(exc), severity=15) from exc
    _done(session)


async def kill(session: SqlSession, tokens: list[Token]) -> None:
    """KILL <session id>: cut that connection, as a DBA would (tests of lost connections)."""
    if len(tokens) != 2 or not tokens[1].text.isdigit():
        raise syntax_error("Incorrect syntax near 'KILL'.")
    target = int(tokens[1].text)
    if target == session.spid:
        raise SqlError(6104, "Cannot use KILL to kill your own process.")
    victim = session.server.sessions.get(target)
    if victim is None or victim.kill is None:
        raise SqlError(6106, f"Process ID {target} is not an active process ID.")
    victim.kill()
    # Return once the victim is gone, so a test that counts sessions next sees it gone.
    for _ in range(400):
        if target not in session.server.sessions:
            break
        await asyncio.sleep(0.005)
    _done(session)


async def execute(session: SqlSession, tokens: list[Token]) -> None:
    await procedures.exec_statement(session, tokens)


async def return_statement(session: SqlSession, tokens: list[Token]) -> None:
    from .engine import ReturnSignal

    status = 0
    if len(tokens) > 1:
        (value,) = await session.evaluate([tokens[1:]])
        status = int(value) if value is not None else 0
    raise ReturnSignal(status)


async def loop_control(session: SqlSession, tokens: list[Token]) -> None:
    from .engine import LoopSignal

    raise LoopSignal(tokens[0].upper)


async def create_procedure(session: SqlSession, tokens: list[Token]) -> None:
    procedures.create(session, tokens)
    _done(session)


async def drop_procedure(session: SqlSession, tokens: list[Token]) -> None:
    procedures.drop(session, tokens)
    _done(session)


HANDLERS = {
    "DECLARE": declare, "SET": set_statement, "PRINT": print_statement, "RAISERROR": raiserror,
    "THROW": throw, "WAITFOR": waitfor, "USE": use, "EXEC": execute, "EXECUTE": execute,
    "RETURN": return_statement, "BREAK": loop_control, "CONTINUE": loop_control, "KILL": kill,
}  # fmt: skip
