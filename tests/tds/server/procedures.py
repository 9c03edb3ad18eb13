"""Procedures: CREATE PROCEDURE, EXEC, sp_executesql, sp_prepare/sp_execute/sp_prepexec/
sp_unprepare, and the test hooks (tds_test_deadlock, tds_test_raise)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import tokens as tk
from .database import Procedure
from .errors import SqlError, deadlock_error, syntax_error
from .lexer import IDENT, OP, QIDENT, VAR, Token, join, tokenize
from .parser import find_close, parse_batch, split_top
from .translate import translate
from .types import SqlType, TypeDeclarationError, parse_type
from .values import coerce

if TYPE_CHECKING:
    from .engine import SqlSession, Variable


@dataclass
class Arg:
    """One argument of a call: by name or position, a value, OUTPUT or not."""

    name: str | None  # lower case, without '@'
    value: Any
    output: bool = False
    type: SqlType | None = None
    default: bool = False
    target: Variable | None = None  # the caller's variable an OUTPUT argument writes back to


@dataclass
class CallResult:
    status: int
    outputs: dict[int, Any]  # index of the argument -> its value after the call


def parse_declarations(text: str) -> list[tuple[str, SqlType, bool, str | None]]:
    """'@a int, @b nvarchar(10) = N''x'' OUTPUT' -> [(name, type, output, default text)]."""
    tokens = tokenize(text)
    if tokens and tokens[0].text == "(" and find_close(tokens, 0) == len(tokens) - 1:
        tokens = tokens[1:-1]
    declared = []
    for item in split_top(tokens):
        if not item:
            continue
        if item[0].kind != VAR:
            raise syntax_error(f"Incorrect syntax near '{join(item)}'.")
        rest = item[1:]
        if rest and rest[0].is_kw("AS"):
            rest = rest[1:]
        output = bool(rest) and rest[-1].is_kw("OUTPUT", "OUT")
        if output:
            rest = rest[:-1]
        if rest and rest[-1].is_kw("READONLY"):
            rest = rest[:-1]
        eq = next((i for i, t in enumerate(rest) if t.kind == OP and t.text == "="), len(rest))
        default = join(rest[eq + 1 :]) if eq < len(rest) else None
        try:
            sql_type = parse_type(" ".join(t.text for t in rest[:eq]))
        except TypeDeclarationError as exc:
            raise SqlError(2715, str(exc)) from exc
        declared.append((item[0].text[1:].lower(), sql_type, output, default))
    return declared


def parse_procedure(tokens: list[Token]) -> tuple[Procedure, bool]:
    """CREATE [OR ALTER] PROC[EDURE] name params [WITH ...] AS body: (the procedure,
    whether it may replace one of the same name)."""
    i = 1
    replace = tokens[0].is_kw("ALTER")
    if tokens[1].is_kw("OR"):
        i, replace = 3, True
    i += 1  # PROC / PROCEDURE
    name_tokens = []
    while i < len(tokens) and (tokens[i].kind in (IDENT, QIDENT) or tokens[i].text == "."):
        if tokens[i].is_kw("AS", "WITH"):
            break
        name_tokens.append(tokens[i])
        i += 1
    if not name_tokens:
        raise syntax_error("Incorrect syntax near 'PROCEDURE'.")
    name = name_tokens[-1].name
    as_at = next((k for k in range(i, len(tokens)) if tokens[k].is_kw("AS")), None)
    if as_at is None:
        raise syntax_error("Incorrect syntax: CREATE PROCEDURE without AS.")
    head = tokens[i:as_at]
    with_at = next((k for k, t in enumerate(head) if t.is_kw("WITH")), len(head))
    parameters = parse_declarations(join(head[:with_at])) if head[:with_at] else []
    body = tokens[as_at + 1 :]
    parse_batch(body)  # compile errors surface at CREATE, as in SQL Server
    return Procedure(name, parameters, join(body)), replace


def create(session: SqlSession, tokens: list[Token]) -> None:
    procedure, replace = parse_procedure(tokens)
    key = procedure.name.lower()
    if key in session.database.procedures and not replace:
        raise SqlError(
            2714, f"There is already an object named '{procedure.name}' in the database.", state=3
        )
    session.database.procedures[key] = procedure
    session.database.save_procedure(session.conn, key, join(tokens))


def drop(session: SqlSession, tokens: list[Token]) -> None:
    if_exists = len(tokens) > 3 and tokens[2].is_kw("IF") and tokens[3].is_kw("EXISTS")
    name = tokens[-1].name.lower()
    session.database.forget_procedure(session.conn, name)
    if session.database.procedures.pop(name, None) is None and not if_exists:
        raise SqlError(
            3701,
            f"Cannot drop the procedure '{tokens[-1].name}', because it does "
            "not exist or you do not have permission.",
            severity=11,
        )


def _bind(
    session: SqlSession,
    declared: list[tuple[str, SqlType, bool, str | None]],
    args: list[Arg],
    what: str,
    missing_error: Any,
) -> tuple[dict[str, Variable], dict[str, int]]:
    """Variables for the declared parameters, and which argument each output came from."""
    from .engine import Variable

    by_name = {a.name: k for k, a in enumerate(args) if a.name is not None}
    positional = [k for k, a in enumerate(args) if a.name is None]
    variables: dict[str, Variable] = {}
    sources: dict[str, int] = {}
    for position, (name, sql_type, output, default) in enumerate(declared):
        k = by_name.get(name, positional[position] if position < len(positional) else None)
        arg = args[k] if k is not None else None
        if arg is None or arg.default:
            if default is None:
                raise missing_error(name)
            value = coerce(
                tokenize(default)[0].string_value
                if default.startswith(("'", "N'"))
                else None
                if default.upper() == "NULL"
                else default,
                sql_type,
            )
        else:
            value = coerce(arg.value, sql_type)
        variables[name] = Variable(sql_type, value)
        if output and k is not None and args[k].output:
            sources[name] = k
    unknown = [a.name for a in args if a.name is not None and a.name not in variables]
    if unknown:
        raise SqlError(8145, f"@{unknown[0]} is not a parameter for {what}.", severity=16, state=2)
    return variables, sources


async def _run_body(
    session: SqlSession, body: str, variables: dict[str, Variable], procedure: str
) -> int:
    from .engine import ReturnSignal

    nodes = parse_batch(tokenize(body))
    saved_variables, saved_procedure = session.variables, session.procedure
    session.variables, session.procedure = variables, procedure
    session.out.proc_depth += 1
    try:
        await session.run_nodes(nodes)
    except ReturnSignal as signal:
        return signal.status
    finally:
        session.out.proc_depth -= 1
        session.variables, session.procedure = saved_variables, saved_procedure
    return 0


async def execute_sql(
    session: SqlSession, args: list[Arg], stmt: str, declarations: str
) -> CallResult:
    declared = parse_declarations(declarations) if declarations else []

    def missing(name: str) -> SqlError:
        return SqlError(
            8178,
            f"The parameterized query '({declarations}){stmt[:60]}' expects "
            f"the parameter '@{name}', which was not supplied.",
        )

    variables, sources = _bind(session, declared, args, "sp_executesql", missing)
    status = await _run_body(session, stmt, variables, "")
    return CallResult(status, {k: variables[name].value for name, k in sources.items()})


async def describe_statement(session: SqlSession, stmt: str, declarations: str) -> None:
    """sp_prepare's metadata: SQL Server 2012 CU6 and later send the COLMETADATA of a
    single-statement batch that returns rows (as SET FMTONLY ON would), with no rows."""
    from .engine import Variable, parse_text
    from .parser import Simple
    from .statements import is_assignment_select

    nodes = parse_text(stmt)
    if len(nodes) != 1 or not isinstance(nodes[0], Simple):
        return
    tokens = nodes[0].tokens
    if not tokens or not tokens[0].is_kw("SELECT", "WITH", "INSERT", "UPDATE", "DELETE"):
        return
    tr = translate(tokens)
    if tokens[0].is_kw("SELECT") and is_assignment_select(tokens):
        return
    description = session.describe(tr.sql)
    if not description:
        return
    saved = session.variables
    session.variables = {
        name: Variable(sql_type, None)
        for name, sql_type, _output, _default in parse_declarations(declarations)
    }
    session.out.proc_depth += 1
    try:
        await session.send_rows(tr, description, iter(()))
        session.out.statement_done(tk.CMD_SELECT, None)
    finally:
        session.out.proc_depth -= 1
        session.variables = saved


def _text(arg: Arg | None, what: str) -> str:
    if arg is None or arg.value is None:
        raise SqlError(214, f"Procedure expects parameter '{what}' of type 'ntext/nchar/nvarchar'.")
    return str(arg.value)


async def call(session: SqlSession, name: str, args: list[Arg]) -> CallResult:
    key = name.lower().split(".")[-1]
    if key == "sp_executesql":
        stmt = _text(args[0] if args else None, "@statement")
        declarations = str(args[1].value or "") if len(args) > 1 else ""
        result = await execute_sql(session, args[2:], stmt, declarations)
        return CallResult(result.status, {k + 2: v for k, v in result.outputs.items()})
    if key in ("sp_prepare", "sp_prepexec"):
        if len(args) < 3:
            raise SqlError(
                201,
                f"Procedure or function '{key}' expects parameter '@stmt', which was not supplied.",
            )
        declarations, stmt = str(args[1].value or ""), _text(args[2], "@stmt")
        parse_declarations(declarations)
        handle = session.new_handle()
        session.prepared[handle] = (declarations, stmt)
        if key == "sp_prepare":
            await describe_statement(session, stmt, declarations)
            return CallResult(0, {0: handle})
        result = await execute_sql(session, args[3:], stmt, declarations)
        return CallResult(
            result.status, {0: handle, **{k + 3: v for k, v in result.outputs.items()}}
        )
    if key in ("sp_execute", "sp_unprepare"):
        handle = int(args[0].value) if args and args[0].value is not None else -1
        if handle not in session.prepared:
            raise SqlError(
                8179, f"Could not find prepared statement with handle {handle}.", state=4
            )
        if key == "sp_unprepare":
            del session.prepared[handle]
            return CallResult(0, {})
        declarations, stmt = session.prepared[handle]
        result = await execute_sql(session, args[1:], stmt, declarations)
        return CallResult(result.status, {k + 1: v for k, v in result.outputs.items()})
    if key == "tds_test_deadlock":
        session.rollback_silently(notify=True)
        raise deadlock_error(session.spid)
    if key == "tds_test_raise":
        values = [a.value for a in args] + [None] * 4
        number, message, severity, state = values[:4]
        raise SqlError(
            int(number),
            str(message or f"test error {number}"),
            severity=int(severity or 16),
            state=int(state or 1),
        )
    procedure = session.database.procedures.get(key)
    if procedure is None:
        raise SqlError(2812, f"Could not find stored procedure '{name}'.", state=62)

    def missing(param: str) -> SqlError:
        return SqlError(
            201,
            f"Procedure or function '{procedure.name}' expects parameter "
            f"'@{param}', which was not supplied.",
            state=4,
            procedure=procedure.name,
        )

    variables, sources = _bind(session, procedure.parameters, args, procedure.name, missing)
    status = await _run_body(session, procedure.body, variables, procedure.name)
    return CallResult(status, {k: variables[name].value for name, k in sources.items()})


async def exec_statement(session: SqlSession, tokens: list[Token]) -> None:
    """EXEC [@status =] proc [@p =] value [OUTPUT], ...  or  EXEC ('dynamic sql')."""
    rest = tokens[1:]
    if rest and rest[0].text == "(":
        (text,) = await session.evaluate([rest])
        session.out.proc_depth += 1
        try:
            await session.run_batch(str(text))
        finally:
            session.out.proc_depth -= 1
        return
    status_target = None
    if len(rest) > 2 and rest[0].kind == VAR and rest[1].text == "=":
        status_target = session.variables.get(rest[0].text[1:].lower())
        rest = rest[2:]
    name_end = 0
    while name_end < len(rest) and (
        rest[name_end].kind in (IDENT, QIDENT) or rest[name_end].text == "."
    ):
        name_end += 1
    if name_end == 0:
        raise syntax_error("Incorrect syntax near 'EXEC'.")
    name = rest[name_end - 1].name
    args: list[Arg] = []
    expressions: list[list[Token]] = []
    for item in split_top(rest[name_end:]) if rest[name_end:] else []:
        arg_name = None
        if len(item) > 2 and item[0].kind == VAR and item[1].text == "=":
            arg_name, item = item[0].text[1:].lower(), item[2:]
        output = bool(item) and item[-1].is_kw("OUTPUT", "OUT")
        if output:
            item = item[:-1]
        arg = Arg(arg_name, None, output, default=len(item) == 1 and item[0].is_kw("DEFAULT"))
        if output and item and item[0].kind == VAR:
            arg.target = session.variables.get(item[0].text[1:].lower())
        if not arg.default:
            expressions.append(item)
        args.append(arg)
    values = iter(await session.evaluate(expressions)) if expressions else iter(())
    for arg in args:
        if not arg.default:
            arg.value = next(values)
    result = await call(session, name, args)
    for k, value in result.outputs.items():
        target = args[k].target
        if target is not None:
            target.value = coerce(value, target.type)
    if status_target is not None:
        status_target.value = result.status
    if session.out.proc_depth == 0:
        session.out.token(tk.returnstatus(result.status))
        session.out.proc_done()
