"""The SQL Server type of each result column, as far as the T-SQL text tells it.

SQLite reports a declared type only for plain table columns; for `CAST(x AS date)`, `@p1`,
`GETDATE()` or `COUNT(*)` the type comes from the text, as SQL Server derives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexer import IDENT, NUMBER, OP, QIDENT, STRING, SYSVAR, VAR, Token, join
from .parser import ParseError, find_close, split_top
from .types import SqlType, TypeDeclarationError, parse_type


@dataclass(frozen=True)
class VarRef:
    name: str


@dataclass(frozen=True)
class ColumnRef:
    table: str
    column: str


@dataclass(frozen=True)
class Aggregate:
    function: str
    argument: Hint


Hint = SqlType | VarRef | ColumnRef | Aggregate | None

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
_FUNCTION_TYPES = {
    "GETDATE": "datetime", "CURRENT_TIMESTAMP": "datetime", "GETUTCDATE": "datetime",
    "SYSDATETIME": "datetime2(7)", "SYSUTCDATETIME": "datetime2(7)",
    "SYSDATETIMEOFFSET": "datetimeoffset(7)", "SCOPE_IDENTITY": "numeric(38,0)",
    "COUNT": "int", "COUNT_BIG": "bigint", "NEWID": "uniqueidentifier", "LEN": "int",
    "DATALENGTH": "int", "CHARINDEX": "int", "DATEDIFF": "int", "DATEPART": "int", "YEAR": "int",
    "MONTH": "int", "DAY": "int", "DB_NAME": "nvarchar(128)", "OBJECT_ID": "int",
    "SUSER_SNAME": "nvarchar(128)", "USER_NAME": "nvarchar(128)", "SUSER_NAME": "nvarchar(128)",
    "ERROR_NUMBER": "int", "ERROR_MESSAGE": "nvarchar(4000)", "ERROR_SEVERITY": "int",
    "ERROR_STATE": "int", "ISNUMERIC": "int", "SPACE": "varchar(8000)",
    "SERVERPROPERTY": "sql_variant", "CONNECTIONPROPERTY": "sql_variant",
}  # fmt: skip
_SYSVAR_TYPES = {
    "rowcount": "int", "trancount": "int", "error": "int", "spid": "smallint",
    "version": "nvarchar(300)", "servername": "nvarchar(128)", "identity": "numeric(38,0)",
    "fetch_status": "int", "language": "nvarchar(128)", "max_precision": "tinyint",
}  # fmt: skip
_FIRST_ARGUMENT = {
    "ISNULL",
    "COALESCE",
    "UPPER",
    "LOWER",
    "LTRIM",
    "RTRIM",
    "TRIM",
    "REPLACE",
    "SUBSTRING",
    "LEFT",
    "RIGHT",
    "ABS",
    "ROUND",
    "NULLIF",
    "REPLICATE",
}


def cast_type(type_tokens: list[Token]) -> SqlType:
    try:
        return parse_type(" ".join(t.text for t in type_tokens), default_length=30)
    except TypeDeclarationError as exc:
        raise ParseError(f"Type {join(type_tokens)} is not a defined system type.", 243) from exc


def literal_type(token: Token) -> SqlType | None:
    if token.kind == STRING:
        length = max(1, len(token.string_value))
        if token.is_unicode_string:
            return SqlType("nvarchar", length if length <= 4000 else -1)
        return SqlType("varchar", length if length <= 8000 else -1)
    if token.kind != NUMBER:
        return None
    text = token.text.lower()
    if text.startswith("0x"):
        return SqlType("varbinary", max(1, (len(text) - 1) // 2))
    if "e" in text:
        return SqlType("float")
    if "." in text:
        whole, _, fraction = text.partition(".")
        digits = len(whole.lstrip("0")) + len(fraction)
        return SqlType("numeric", precision=max(digits, 1), scale=len(fraction))
    value = int(text)
    if value < 2**31:
        return SqlType("int")
    if value < 2**63:
        return SqlType("bigint")
    return SqlType("numeric", precision=len(text), scale=0)


def expression_hint(tokens: list[Token]) -> Hint:
    if not tokens:
        return None
    if len(tokens) == 1:
        token = tokens[0]
        if token.kind == VAR:
            return VarRef(token.text[1:].lower())
        if token.kind == SYSVAR:
            name = _SYSVAR_TYPES.get(token.text[2:].lower())
            return parse_type(name) if name else None
        if token.kind in (IDENT, QIDENT) and token.upper in _FUNCTION_TYPES:
            return parse_type(_FUNCTION_TYPES[token.upper])
        return literal_type(token)
    if len(tokens) == 2 and tokens[0].text in "-+" and tokens[1].kind == NUMBER:
        return literal_type(tokens[1])
    if tokens[0].text == "(" and find_close(tokens, 0) == len(tokens) - 1:
        inner = tokens[1:-1]
        if inner and inner[0].is_kw("SELECT"):
            hints = select_hints(inner)
            return hints[0] if hints else None
        return expression_hint(inner)
    if (
        tokens[0].kind == IDENT
        and tokens[1].text == "("
        and find_close(tokens, 1) == len(tokens) - 1
    ):
        return _call_hint(tokens[0].upper, tokens[2:-1])
    return None


def _call_hint(name: str, inner: list[Token]) -> Hint:
    if name in ("CAST", "TRY_CAST"):
        parts = [i for i, t in enumerate(inner) if t.is_kw("AS")]
        return cast_type(inner[parts[-1] + 1 :]) if parts else None
    args = split_top(inner)
    if name in ("CONVERT", "TRY_CONVERT"):
        return cast_type(args[0])
    if name in _FUNCTION_TYPES:
        return parse_type(_FUNCTION_TYPES[name])
    if name in _FIRST_ARGUMENT:
        return expression_hint(args[0])
    if name == "DATEADD" and len(args) == 3:
        return expression_hint(args[2])
    if name in ("MIN", "MAX", "SUM", "AVG"):
        argument = args[0]
        if argument and argument[0].is_kw("DISTINCT", "ALL"):
            argument = argument[1:]
        return Aggregate(name, _column_or_expression(argument))
    return None


def _column_or_expression(tokens: list[Token]) -> Hint:
    names = [t for t in tokens if t.text != "."]
    if names and all(t.kind in (IDENT, QIDENT) for t in names) and len(names) <= 2:
        table = names[0].name if len(names) == 2 else ""
        return ColumnRef(table, names[-1].name)
    return expression_hint(tokens)


def _strip_alias(item: list[Token]) -> list[Token]:
    if len(item) > 2 and item[-2].is_kw("AS"):
        return item[:-2]
    if len(item) > 1 and item[-1].kind in (IDENT, QIDENT, STRING) and item[-2].text != ".":
        prev = item[-2]
        if prev.kind != OP or prev.text == ")":
            return item[:-1]
    return item


def select_hints(tokens: list[Token]) -> list[Hint] | None:
    """One hint per result column of the statement, or None when they cannot be lined up."""
    found = select_items(tokens)
    return None if found is None else found[0]


def select_items(tokens: list[Token]) -> tuple[list[Hint], list[bool]] | None:
    """(a hint per result column, whether SQL Server names the column), or None when the
    columns cannot be lined up with the text (a `*`)."""
    if tokens and tokens[0].is_kw("INSERT", "UPDATE", "DELETE"):
        hints = _output_hints(tokens)
        return None if hints is None else (hints, [True] * len(hints))
    depth = 0
    start = -1
    for i, token in enumerate(tokens):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth == 0 and token.is_kw("SELECT"):
            start = i + 1
            break
    if start < 0:
        return None
    while start < len(tokens) and tokens[start].is_kw("DISTINCT", "ALL"):
        start += 1
    if start < len(tokens) and tokens[start].is_kw("TOP"):
        start += 1
        if start < len(tokens) and tokens[start].text == "(":
            start = find_close(tokens, start) + 1
        else:
            start += 1
        while start < len(tokens) and tokens[start].is_kw("PERCENT", "WITH", "TIES"):
            start += 1
    end = start
    depth = 0
    while end < len(tokens):
        token = tokens[end]
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth == 0 and (token.upper in _SELECT_END or token.text == ";"):
            break
        end += 1
    hints: list[Hint] = []
    named: list[bool] = []
    for item in split_top(tokens[start:end]):
        if not item or item[-1].text == "*":
            return None
        if len(item) > 2 and item[0].kind == VAR and item[1].text == "=":
            item = item[2:]
        expression = _strip_alias(item)
        hints.append(expression_hint(expression))
        plain_column = all(t.kind in (IDENT, QIDENT) or t.text == "." for t in expression)
        named.append(len(expression) < len(item) or plain_column)
    return hints, named


def _output_hints(tokens: list[Token]) -> list[Hint] | None:
    table = ""
    for i, token in enumerate(tokens[:-1]):
        if token.is_kw("INTO", "UPDATE", "FROM") or (i == 0 and token.is_kw("DELETE")):
            following = tokens[i + 1]
            if following.kind in (IDENT, QIDENT) and not following.is_kw("FROM", "TOP"):
                table = following.name
                if i + 3 < len(tokens) and tokens[i + 2].text == ".":
                    table = tokens[i + 3].name
                break
    for i, token in enumerate(tokens):
        if token.is_kw("OUTPUT"):
            end = i + 1
            depth = 0
            while end < len(tokens):
                t = tokens[end]
                depth += 1 if t.text == "(" else -1 if t.text == ")" else 0
                if depth == 0 and t.upper in _OUTPUT_END:
                    break
                end += 1
            hints: list[Hint] = []
            for item in split_top(tokens[i + 1 : end]):
                item = _strip_alias(item)
                if item and item[-1].text == "*":
                    return None
                if len(item) == 3 and item[0].is_kw("INSERTED", "DELETED"):
                    hints.append(ColumnRef(table, item[2].name))
                else:
                    hints.append(expression_hint(item))
            return hints
    return None


def order_by_names(tokens: list[Token]) -> list[str]:
    depth = 0
    for i, token in enumerate(tokens):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth == 0 and token.is_kw("ORDER") and i + 1 < len(tokens):
            names = []
            for item in split_top(tokens[i + 2 :]):
                words = [t for t in item if not t.is_kw("ASC", "DESC")]
                if words and words[-1].kind in (IDENT, QIDENT) and len(words) in (1, 3):
                    names.append(words[-1].name.lower())
                else:
                    break
            return names
    return []
