"""CREATE TABLE / ALTER TABLE ADD / CREATE INDEX in SQLite's dialect.

Column types keep their SQL Server declaration as SQLite's declared type, so queries can
report them, with three adjustments: `(max)` becomes `_MAX` (SQLite wants numbers there),
decimal and money columns become TEXT-affinity `_TEXT` types compared through the
TDS_NUMERIC collation (exact digits, numeric order), date/time columns compare through
TDS_TEMPORAL (by instant, whatever the text's precision), string columns through NOCASE,
and an IDENTITY column becomes
SQLite's INTEGER PRIMARY KEY AUTOINCREMENT (its real type is remembered in `identities`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lexer import IDENT, NUMBER, OP, Token, join
from .parser import ParseError, find_close, split_top
from .translate import Translation, _Translator, quote_ident
from .types import MAX, SqlType, TypeDeclarationError, parse_type

_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "INDEX"}
_DROP_WORDS = {"CLUSTERED", "NONCLUSTERED", "ROWGUIDCOL", "SPARSE"}
_EXACT_NUMERIC = {"decimal", "numeric", "money", "smallmoney"}
_TEXT_TYPES = {"char", "varchar", "nchar", "nvarchar", "text", "ntext"}
_TEMPORAL_TYPES = {"date", "time", "datetime", "datetime2", "smalldatetime", "datetimeoffset"}


@dataclass
class TableDefinition:
    sql: str
    table: str
    identities: dict[str, SqlType] = field(default_factory=dict)
    identity_seed: int = 1
    temporary: bool = False


def sqlite_decltype(t: SqlType) -> str:
    text = t.declaration().replace("(max)", "_max").upper()
    if t.name in _EXACT_NUMERIC:
        head, paren, rest = text.partition("(")
        text = f"{head}_TEXT{paren}{rest}"
    elif t.name == "sql_variant":
        text = "SQL_VARIANT_BLOB"
    return text


def type_from_decltype(decltype: str) -> SqlType | None:
    text = decltype.lower().replace("_max", "(max)").replace("_text", "")
    text = text.replace("sql_variant_blob", "sql_variant")
    try:
        return parse_type(text)
    except TypeDeclarationError:
        return None


def _column_type(tokens: list[Token], i: int) -> tuple[SqlType, int]:
    """The type starting at tokens[i] and the index after it."""
    j = i + 1
    while j < len(tokens) and tokens[j].is_kw("PRECISION", "VARYING", "CHARACTER", "CHAR"):
        j += 1
    if j < len(tokens) and tokens[j].text == "(":
        j = find_close(tokens, j) + 1
    text = " ".join(t.text for t in tokens[i:j])
    try:
        return parse_type(text), j
    except TypeDeclarationError as exc:
        raise ParseError(str(exc), 2715) from exc


def _column(tokens: list[Token], translator: _Translator, table_pk: list[str], td: TableDefinition):
    name = tokens[0]
    sql_type, i = _column_type(tokens, 1)
    rest = tokens[i:]
    out = [quote_ident(name.name)]
    identity = any(t.is_kw("IDENTITY") for t in rest)
    if identity:
        td.identities[name.name.lower()] = sql_type
        k = next(k for k, t in enumerate(rest) if t.is_kw("IDENTITY"))
        if k + 1 < len(rest) and rest[k + 1].text == "(":
            close = find_close(rest, k + 1)
            args = split_top(rest[k + 2 : close])
            if args and args[0] and args[0][-1].kind == NUMBER:
                td.identity_seed = int(join(args[0]))
            rest = rest[:k] + rest[close + 1 :]
        else:
            rest = rest[:k] + rest[k + 1 :]
        words = [t for t in rest if not t.is_kw("PRIMARY", "KEY", "NOT", "NULL", *_DROP_WORDS)]
        if table_pk and [c.lower() for c in table_pk] != [name.name.lower()]:
            raise ParseError("the test server needs an IDENTITY column to be the primary key")
        out += [Token(IDENT, "INTEGER"), Token(IDENT, "PRIMARY"), Token(IDENT, "KEY")]
        out += [Token(IDENT, "AUTOINCREMENT")]
        out += translator.run(words, statement_level=False)
        return out
    out.append(Token(IDENT, sqlite_decltype(sql_type)))
    if sql_type.name in _EXACT_NUMERIC:
        out += [Token(IDENT, "COLLATE"), Token(IDENT, "TDS_NUMERIC")]
    elif sql_type.name in _TEXT_TYPES or sql_type.name == "uniqueidentifier":
        # SQL Server's default collation ignores case (SQLite's NOCASE: ASCII letters only).
        out += [Token(IDENT, "COLLATE"), Token(IDENT, "NOCASE")]
    elif sql_type.name in _TEMPORAL_TYPES:
        # '2024-01-02 03:04:05.1' and '...05.1000000' are the same instant.
        out += [Token(IDENT, "COLLATE"), Token(IDENT, "TDS_TEMPORAL")]
    words = [t for t in rest if not t.is_kw(*_DROP_WORDS)]
    out += translator.run(words, statement_level=False)
    return out


def _primary_key_columns(element: list[Token]) -> list[str]:
    for i, token in enumerate(element):
        if token.is_kw("PRIMARY") and i + 1 < len(element) and element[i + 1].is_kw("KEY"):
            j = i + 2
            while j < len(element) and element[j].text != "(":
                j += 1
            if j < len(element):
                close = find_close(element, j)
                return [p[0].name for p in split_top(element[j + 1 : close]) if p]
    return []


def create_table(tokens: list[Token]) -> TableDefinition:
    """CREATE TABLE name (columns, constraints) in SQLite's dialect."""
    name_at = 2
    name = tokens[name_at]
    while name_at + 2 < len(tokens) and tokens[name_at + 1].text == ".":
        name_at += 2
        name = tokens[name_at]
    open_at = name_at + 1
    if open_at >= len(tokens) or tokens[open_at].text != "(":
        raise ParseError(f"Incorrect syntax near '{name.text}'.")
    close = find_close(tokens, open_at)
    if close + 1 < len(tokens) and not tokens[close + 1].is_kw("ON", "WITH", "TEXTIMAGE_ON"):
        raise ParseError(f"Incorrect syntax near '{tokens[close + 1].text}'.")
    elements = split_top(tokens[open_at + 1 : close])
    temporary = name.text.startswith("#")
    td = TableDefinition("", name.name, temporary=temporary)
    translator = _Translator(Translation(""))
    table_pk: list[str] = []
    for element in elements:
        if element and element[0].upper in _TABLE_CONSTRAINTS:
            table_pk = table_pk or _primary_key_columns(element)
    pieces: list[list[Token]] = []
    for element in elements:
        if not element:
            raise ParseError("Incorrect syntax near ','.")
        if element[0].upper in _TABLE_CONSTRAINTS:
            if td.identities and _primary_key_columns(element):
                continue  # the identity column is SQLite's INTEGER PRIMARY KEY already
            words = [t for t in element if not t.is_kw(*_DROP_WORDS)]
            pieces.append(translator.run(words, statement_level=False))
        else:
            pieces.append(_column(element, translator, table_pk, td))
    if td.identities and table_pk:
        pieces = [p for p in pieces if not (p and p[0].is_kw("PRIMARY"))]
    head = [Token(IDENT, "CREATE")]
    if temporary:
        head.append(Token(IDENT, "TEMP"))
    head += [Token(IDENT, "TABLE"), quote_ident(name.name), Token(OP, "(")]
    body: list[Token] = []
    for k, piece in enumerate(pieces):
        if k:
            body.append(Token(OP, ","))
        body += piece
    td.sql = join([*head, *body, Token(OP, ")")])
    return td


def add_column(tokens: list[Token]) -> str:
    """ALTER TABLE t ADD col type ... -> ALTER TABLE t ADD COLUMN ..."""
    at = next(i for i, t in enumerate(tokens) if t.is_kw("ADD"))
    translator = _Translator(Translation(""))
    head = translator.run(tokens[:at], statement_level=False)
    column = tokens[at + 1 :]
    if column and column[0].is_kw("COLUMN"):
        column = column[1:]
    td = TableDefinition("", "")
    pieces = _column(column, translator, [], td)
    return join([*head, Token(IDENT, "ADD"), Token(IDENT, "COLUMN"), *pieces])


def create_index(tokens: list[Token]) -> str:
    words = [t for t in tokens if not t.is_kw(*_DROP_WORDS)]
    translator = _Translator(Translation(""))
    on_at = next((i for i, t in enumerate(words) if t.is_kw("ON")), len(words))
    out = translator.run(words, statement_level=False)
    if any(t.is_kw("WITH") for t in words[on_at:]):
        cut = next(i for i, t in enumerate(out) if t.is_kw("WITH"))
        out = out[:cut]
    return join(out)


__all__ = ["MAX", "TableDefinition", "add_column", "create_index", "create_table"]
