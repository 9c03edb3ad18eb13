"""A thin T-SQL to SQLite translation, token by token, for the SQL the tests use.

What changes: [quoted] and #temp names, N'' strings, 0x literals, dbo. prefixes, TOP and
OFFSET/FETCH (to LIMIT), OUTPUT INSERTED.x (to RETURNING), CAST/CONVERT (to tds_cast, which
converts as SQL Server does), SQL Server functions (to Python functions registered on each
connection, see functions.py), `'a' + b` (to ||), @@variables (to bound parameters).
Variables stay `@name` parameters, lower-cased because T-SQL names ignore case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .hints import Hint, cast_type, order_by_names, select_items
from .lexer import IDENT, NUMBER, OP, QIDENT, STRING, SYSVAR, VAR, Token, join
from .parser import ParseError, find_close, split_top

# SQL Server function -> SQLite or registered function (functions.py).
FUNCTIONS = {
    "GETDATE": "tds_getdate", "CURRENT_TIMESTAMP": "tds_getdate", "SYSDATETIME": "tds_sysdatetime",
    "GETUTCDATE": "tds_getutcdate", "SYSUTCDATETIME": "tds_sysutcdatetime",
    "SYSDATETIMEOFFSET": "tds_sysdatetimeoffset", "SCOPE_IDENTITY": "last_insert_rowid",
    "ISNULL": "ifnull", "LEN": "tds_len", "DATALENGTH": "tds_datalength", "NEWID": "tds_newid",
    "CHARINDEX": "tds_charindex", "DATEADD": "tds_dateadd", "DATEDIFF": "tds_datediff",
    "DATEPART": "tds_datepart", "YEAR": "tds_year", "MONTH": "tds_month", "DAY": "tds_day",
    "OBJECT_ID": "tds_object_id", "DB_NAME": "tds_db_name", "SUBSTRING": "substr",
    "LEFT": "tds_left", "RIGHT": "tds_right", "REPLICATE": "tds_replicate", "SPACE": "tds_space",
    "CEILING": "ceil", "POWER": "pow", "ISNUMERIC": "tds_isnumeric", "ROUND": "tds_round",
    "SUSER_SNAME": "tds_user_name", "USER_NAME": "tds_user_name", "SUSER_NAME": "tds_user_name",
    "ERROR_NUMBER": "tds_error_number", "ERROR_MESSAGE": "tds_error_message",
    "ERROR_SEVERITY": "tds_error_severity", "ERROR_STATE": "tds_error_state",
    "STRING_AGG": "group_concat", "SERVERPROPERTY": "tds_serverproperty",
    "CONNECTIONPROPERTY": "tds_connectionproperty",
}  # fmt: skip
_NO_PAREN_FUNCTIONS = {"CURRENT_TIMESTAMP"}
_DATEPART_FIRST = {"DATEADD", "DATEDIFF", "DATEPART", "DATENAME"}
_TABLE_HINTS = {"NOLOCK", "ROWLOCK", "UPDLOCK", "HOLDLOCK", "TABLOCK", "READPAST", "TABLOCKX"}
_SELECT_END = {
    "FROM",
    "INTO",
    "WHERE",
    "GROUP",
    "HAVING",
    "ORDER",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "OPTION",
    "FOR",
}
_OUTPUT_END = {"VALUES", "SELECT", "DEFAULT", "WHERE", "FROM", "INTO", "EXEC", "EXECUTE"}


@dataclass
class Translation:
    sql: str
    variables: set[str] = field(default_factory=set)
    sysvars: set[str] = field(default_factory=set)
    hints: list[Hint] | None = None
    named: list[bool] | None = None
    system_views: set[str] = field(default_factory=set)
    order_by: list[str] = field(default_factory=list)


def quote_ident(name: str) -> Token:
    return Token(QIDENT, '"' + name.replace('"', '""') + '"')


def string_token(text: str) -> Token:
    return Token(STRING, "'" + text.replace("'", "''") + "'")


class _Translator:
    def __init__(self, result: Translation) -> None:
        self.result = result

    def run(self, tokens: list[Token], *, statement_level: bool) -> list[Token]:
        out: list[Token] = []
        limit: list[Token] | None = None
        offset: list[Token] | None = None
        returning: list[Token] | None = None
        i = 0
        depth = 0
        while i < len(tokens):
            token = tokens[i]
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            is_call = nxt is not None and nxt.kind == OP and nxt.text == "("
            word = token.upper
            if token.kind == OP and token.text in "()":
                depth += 1 if token.text == "(" else -1
            if (
                depth == 0
                and statement_level
                and word == "TOP"
                and out
                and out[-1].is_kw("SELECT", "DISTINCT", "ALL")
            ):
                i, limit = self._top(tokens, i + 1)
                continue
            if depth == 0 and statement_level and word == "OFFSET":
                i, offset, limit = self._offset_fetch(tokens, i + 1)
                continue
            if depth == 0 and statement_level and word == "OUTPUT":
                i, returning = self._output(tokens, i + 1)
                continue
            if word in ("CAST", "TRY_CAST") and is_call:
                i = self._cast(tokens, i, out)
                continue
            if word in ("CONVERT", "TRY_CONVERT") and is_call:
                i = self._convert(tokens, i, out)
                continue
            if (
                word == "WITH"
                and is_call
                and i + 2 < len(tokens)
                and tokens[i + 2].upper in (_TABLE_HINTS)
            ):
                i = find_close(tokens, i + 1) + 1
                continue
            if word == "COLLATE" and nxt is not None:
                i += 2
                continue
            if (
                token.kind == IDENT
                and token.upper == "SYS"
                and nxt is not None
                and nxt.text == "."
                and i + 2 < len(tokens)
            ):
                view = "sys." + tokens[i + 2].name.lower()
                self.result.system_views.add(view)
                out.append(quote_ident(view))
                i += 3
                continue
            if token.kind in (IDENT, QIDENT) and token.name.lower() == "dbo" and nxt is not None:
                if nxt.text == "." and i + 2 < len(tokens):
                    i += 2
                    continue
            if word in FUNCTIONS and (is_call or word in _NO_PAREN_FUNCTIONS):
                out.append(Token(IDENT, FUNCTIONS[word]))
                if not is_call:
                    out += [Token(OP, "("), Token(OP, ")")]
                elif word in _DATEPART_FIRST and i + 2 < len(tokens):
                    out.append(tokens[i + 1])
                    part = tokens[i + 2]
                    out.append(string_token(part.name) if part.kind in (IDENT, QIDENT) else part)
                    i += 3
                    depth += 1
                    continue
                i += 1
                continue
            out.append(self._one(tokens, i))
            i += 1
        if limit is not None:
            out += [Token(IDENT, "LIMIT"), *limit]
            if offset is not None:
                out += [Token(IDENT, "OFFSET"), *offset]
        elif offset is not None:
            out += [Token(IDENT, "LIMIT"), Token(NUMBER, "-1"), Token(IDENT, "OFFSET"), *offset]
        if returning is not None:
            out += [Token(IDENT, "RETURNING"), *returning]
        return out

    def _one(self, tokens: list[Token], i: int) -> Token:
        token = tokens[i]
        if token.kind == QIDENT:
            return quote_ident(token.name)
        if token.kind == IDENT and token.text.startswith("#"):
            return quote_ident(token.text)
        if token.kind == STRING and token.is_unicode_string:
            return Token(STRING, token.text[1:])
        if token.kind == NUMBER and token.text[:2].lower() == "0x":
            digits = token.text[2:]
            return Token(STRING, "X'" + ("0" if len(digits) % 2 else "") + digits + "'")
        if token.kind == VAR:
            self.result.variables.add(token.text[1:].lower())
            return Token(VAR, token.text.lower())
        if token.kind == SYSVAR:
            name = token.text[2:].lower()
            if name == "identity":
                return Token(IDENT, "last_insert_rowid()")
            self.result.sysvars.add(name)
            return Token(VAR, "@__" + name)
        if token.kind == OP and token.text == "+":
            prev = tokens[i - 1] if i else None
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if (prev and prev.kind == STRING) or (nxt and nxt.kind == STRING):
                return Token(OP, "||")
        return token

    def _top(self, tokens: list[Token], i: int) -> tuple[int, list[Token]]:
        if tokens[i].text == "(":
            close = find_close(tokens, i)
            limit = self.run(tokens[i : close + 1], statement_level=False)
            i = close + 1
        else:
            limit = [self._one(tokens, i)]
            i += 1
        if i < len(tokens) and tokens[i].is_kw("PERCENT"):
            raise ParseError("TOP ... PERCENT is not supported by the test server", 102)
        if i + 1 < len(tokens) and tokens[i].is_kw("WITH") and tokens[i + 1].is_kw("TIES"):
            i += 2
        return i, limit

    def _offset_fetch(self, tokens: list[Token], i: int):
        start = i
        while i < len(tokens) and not tokens[i].is_kw("ROWS", "ROW"):
            i += 1
        offset = self.run(tokens[start:i], statement_level=False)
        i += 1
        limit = None
        if i < len(tokens) and tokens[i].is_kw("FETCH"):
            i += 2  # FETCH NEXT|FIRST
            start = i
            while i < len(tokens) and not tokens[i].is_kw("ROWS", "ROW"):
                i += 1
            limit = self.run(tokens[start:i], statement_level=False)
            i += 2  # ROWS ONLY
        return i, offset, limit

    def _output(self, tokens: list[Token], i: int) -> tuple[int, list[Token]]:
        start = i
        depth = 0
        while i < len(tokens):
            token = tokens[i]
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
            elif depth == 0 and token.upper in _OUTPUT_END:
                break
            i += 1
        items = [
            t
            for j, t in enumerate(tokens[start:i])
            if not (t.is_kw("INSERTED", "DELETED") and start + j + 1 < i)
            and not (t.text == "." and j > 0 and tokens[start + j - 1].is_kw("INSERTED", "DELETED"))
        ]
        return i, self.run(items, statement_level=False)

    def _cast(self, tokens: list[Token], i: int, out: list[Token]) -> int:
        close = find_close(tokens, i + 1)
        inner = tokens[i + 2 : close]
        depth = 0
        as_at = -1
        for j, token in enumerate(inner):
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
            elif depth == 0 and token.is_kw("AS"):
                as_at = j
        if as_at < 0:
            raise ParseError("Incorrect syntax near 'CAST': expected AS.")
        target = cast_type(inner[as_at + 1 :])
        name = "tds_try_cast" if tokens[i].upper == "TRY_CAST" else "tds_cast"
        out += [Token(IDENT, name), Token(OP, "(")]
        out += self.run(inner[:as_at], statement_level=False)
        out += [Token(OP, ","), string_token(target.declaration()), Token(OP, ")")]
        return close + 1

    def _convert(self, tokens: list[Token], i: int, out: list[Token]) -> int:
        close = find_close(tokens, i + 1)
        args = split_top(tokens[i + 2 : close])
        if len(args) < 2:
            raise ParseError("The convert function requires 2 to 3 arguments.", 174)
        target = cast_type(args[0])
        name = "tds_try_cast" if tokens[i].upper == "TRY_CONVERT" else "tds_cast"
        out += [Token(IDENT, name), Token(OP, "(")]
        out += self.run(args[1], statement_level=False)
        out += [Token(OP, ","), string_token(target.declaration()), Token(OP, ")")]
        return close + 1


def translate(tokens: list[Token]) -> Translation:
    """A DML/query statement in SQLite's dialect, with the facts the executor needs.

    Cached by statement: the benchmarks repeat the same few statements many times. A
    Translation is never changed after it is made, so sharing it is safe.
    """
    return _translate(tuple(tokens))


@functools.lru_cache(maxsize=1024)
def _translate(token_tuple: tuple[Token, ...]) -> Translation:
    tokens = list(token_tuple)
    result = Translation("")
    out = _Translator(result).run(tokens, statement_level=True)
    if tokens and tokens[0].is_kw("TRUNCATE") and len(tokens) > 1 and tokens[1].is_kw("TABLE"):
        out = [Token(IDENT, "DELETE"), Token(IDENT, "FROM"), *out[2:]]
    result.sql = join(out)
    items = select_items(tokens)
    if items is not None:
        result.hints, result.named = items
    result.order_by = order_by_names(tokens)
    return result
