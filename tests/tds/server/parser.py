"""T-SQL batches cut into statements, with the control flow the test SQL uses.

Statements need no semicolons in T-SQL, so a statement ends at `;` or where a keyword that
can only start a statement appears outside parentheses. IF/ELSE, WHILE, BEGIN...END and
BEGIN TRY...END TRY BEGIN CATCH...END CATCH become nodes; CREATE PROCEDURE takes the rest
of the batch, as in SQL Server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lexer import OP, Token

# Keywords that always start a statement (unless the previous token says otherwise).
_STARTERS = {
    "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "DECLARE", "WAITFOR", "RAISERROR",
    "THROW", "PRINT", "EXEC", "EXECUTE", "IF", "WHILE", "RETURN", "BEGIN", "COMMIT", "ROLLBACK",
    "SAVE", "USE", "TRUNCATE", "BREAK", "CONTINUE", "SELECT", "SET", "END", "ELSE", "KILL",
}  # fmt: skip
# After these a starter keyword belongs to the current statement (ON DELETE, THEN UPDATE...).
_GLUE = {"ON", "THEN", "FOR", "OF", "AFTER", "UNION", "ALL", "EXCEPT", "INTERSECT", "INSTEAD"}


class ParseError(ValueError):
    """Text SQL Server would reject at compile time; `number` is its error number."""

    def __init__(self, message: str, number: int = 102) -> None:
        super().__init__(message)
        self.number = number


@dataclass
class Simple:
    tokens: list[Token]

    @property
    def keyword(self) -> str:
        return self.tokens[0].upper if self.tokens else ""


@dataclass
class Block:
    body: list[Node] = field(default_factory=list)


@dataclass
class If:
    condition: list[Token]
    then: Node
    otherwise: Node | None


@dataclass
class While:
    condition: list[Token]
    body: Node


@dataclass
class TryCatch:
    body: Block
    handler: Block


@dataclass
class CreateProcedure:
    tokens: list[Token]


Node = Simple | Block | If | While | TryCatch | CreateProcedure


def parse_batch(tokens: list[Token]) -> list[Node]:
    parser = _Parser(tokens)
    nodes = []
    while not parser.at_end():
        if parser.skip_semicolons():
            continue
        nodes.append(parser.statement())
    return nodes


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def peek_kw(self, *words: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.is_kw(*words)

    def skip_semicolons(self) -> bool:
        skipped = False
        while not self.at_end() and self.tokens[self.pos].text == ";":
            self.pos += 1
            skipped = True
        return skipped

    def expect_kw(self, *words: str) -> None:
        if not self.peek_kw(*words):
            near = self.peek()
            raise ParseError(f"Incorrect syntax near '{near.text if near else 'end of batch'}'.")
        self.pos += 1

    def statement(self) -> Node:
        token = self.tokens[self.pos]
        if token.is_kw("BEGIN"):
            if self.peek_kw("TRY", offset=1):
                return self.try_catch()
            if not self.peek_kw("TRAN", "TRANSACTION", "DISTRIBUTED", offset=1):
                self.pos += 1
                return self.block("END")
        if token.is_kw("IF"):
            self.pos += 1
            condition = self.condition()
            then = self.statement()
            self.skip_semicolons()
            otherwise = None
            if self.peek_kw("ELSE"):
                self.pos += 1
                otherwise = self.statement()
            return If(condition, then, otherwise)
        if token.is_kw("WHILE"):
            self.pos += 1
            return While(self.condition(), self.statement())
        if token.is_kw("CREATE", "ALTER") and self._is_create_procedure():
            rest = self.tokens[self.pos :]
            self.pos = len(self.tokens)
            return CreateProcedure(rest)
        if token.is_kw("END", "ELSE"):
            raise ParseError(f"Incorrect syntax near the keyword '{token.text.upper()}'.", 156)
        return self.simple()

    def _is_create_procedure(self) -> bool:
        i = 1
        if self.peek_kw("OR", offset=1) and self.peek_kw("ALTER", offset=2):
            i = 3
        return self.peek_kw("PROC", "PROCEDURE", offset=i)

    def block(self, end: str) -> Block:
        body: list[Node] = []
        while True:
            if self.at_end():
                raise ParseError("Incorrect syntax near 'END': a BEGIN without its END.")
            if self.skip_semicolons():
                continue
            if self.peek_kw("END"):
                self.pos += 1
                if end != "END":
                    self.expect_kw(end)
                return Block(body)
            body.append(self.statement())

    def try_catch(self) -> TryCatch:
        self.pos += 2
        body = self.block("TRY")
        self.skip_semicolons()
        self.expect_kw("BEGIN")
        self.expect_kw("CATCH")
        return TryCatch(body, self.block("CATCH"))

    def condition(self) -> list[Token]:
        """An IF/WHILE condition: tokens up to the statement that follows it."""
        start = self.pos
        depth = 0
        while not self.at_end():
            token = self.tokens[self.pos]
            if token.kind == OP and token.text == "(":
                depth += 1
            elif token.kind == OP and token.text == ")":
                depth -= 1
            elif depth == 0 and self.pos > start and token.upper in _STARTERS:
                prev = self.tokens[self.pos - 1]
                if not prev.is_kw("NOT", "EXISTS"):
                    break
            self.pos += 1
        if self.pos == start:
            raise ParseError("Incorrect syntax near the end of an IF/WHILE condition.")
        return self.tokens[start : self.pos]

    def simple(self) -> Simple:
        start = self.pos
        first = self.tokens[start].upper
        depth = 0
        case_depth = 0
        seen: set[str] = {first}
        self.pos += 1
        while not self.at_end():
            token = self.tokens[self.pos]
            if token.kind == OP:
                if token.text == "(":
                    depth += 1
                elif token.text == ")":
                    depth -= 1
                elif token.text == ";" and depth == 0:
                    break
            elif depth == 0 and token.kind == "ident":
                word = token.upper
                if word == "CASE":
                    case_depth += 1
                elif word == "END" and case_depth:
                    case_depth -= 1
                elif word in ("END", "ELSE") and not case_depth:
                    break
                elif word in _STARTERS and not case_depth and self._starts_new(first, word, seen):
                    break
                seen.add(word)
            self.pos += 1
        return Simple(self.tokens[start : self.pos])

    def _starts_new(self, first: str, word: str, seen: set[str]) -> bool:
        prev = self.tokens[self.pos - 1]
        if prev.upper in _GLUE:
            return False
        if first in ("CREATE", "ALTER"):
            return not (word == "SELECT" and "VIEW" in seen and "SELECT" not in seen)
        if first == "MERGE":
            return word not in ("INSERT", "UPDATE", "DELETE", "SET")
        if word == "SELECT":
            if first == "INSERT":
                return "VALUES" in seen or "SELECT" in seen
            return not (first == "WITH" and "SELECT" not in seen)
        if word == "SET":
            return not (first == "UPDATE" and "SET" not in seen)
        if word in ("EXEC", "EXECUTE"):
            return first != "INSERT"
        if word in ("INSERT", "UPDATE", "DELETE"):
            return not (first == "WITH" and not seen & {"INSERT", "UPDATE", "DELETE", "SELECT"})
        if word == "DROP" and first == "IF":
            return True
        return True


def find_close(tokens: list[Token], open_index: int) -> int:
    """The index of the ')' matching the '(' at `open_index`."""
    depth = 0
    for i in range(open_index, len(tokens)):
        text = tokens[i].text if tokens[i].kind == OP else ""
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ParseError("Incorrect syntax near '('.")


def split_top(tokens: list[Token], sep: str = ",") -> list[list[Token]]:
    """`tokens` cut at `sep` outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == OP and token.text == "(":
            depth += 1
        elif token.kind == OP and token.text == ")":
            depth -= 1
        if depth == 0 and token.kind == OP and token.text == sep:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts
