"""Tokens of T-SQL text: strings, identifiers, variables, numbers, operators, comments."""

from __future__ import annotations

import re
from dataclasses import dataclass

WS, COMMENT, STRING, IDENT, QIDENT, VAR, SYSVAR, NUMBER, OP = (
    "ws", "comment", "string", "ident", "qident", "var", "sysvar", "number", "op",
)  # fmt: skip

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>[Nn]?'(?:[^']|'')*')
  | (?P<qident>\[(?:[^\]]|\]\])*\]|"(?:[^"]|"")*")
  | (?P<sysvar>@@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<var>@[A-Za-z_0-9#$@][A-Za-z0-9_#$@]*)
  | (?P<number>0x[0-9A-Fa-f]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_#][A-Za-z0-9_#$]*)
  | (?P<op><>|!=|>=|<=|!<|!>|\|\||\+=|-=|\*=|/=|::|[-+*/%=<>(),.;~&|^!:?{}])
    """,
    re.VERBOSE | re.DOTALL,
)


class LexError(ValueError):
    """Text that cannot be tokenised (an unclosed quote, a stray character)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == IDENT else ""

    def is_kw(self, *words: str) -> bool:
        return self.kind == IDENT and self.text.upper() in words

    @property
    def name(self) -> str:
        """An identifier's name without brackets or quotes."""
        if self.kind == QIDENT:
            inner = self.text[1:-1]
            return inner.replace("]]", "]") if self.text[0] == "[" else inner.replace('""', '"')
        return self.text

    @property
    def string_value(self) -> str:
        body = self.text[1:] if self.text[0] in "Nn" else self.text
        return body[1:-1].replace("''", "'")

    @property
    def is_unicode_string(self) -> bool:
        return self.kind == STRING and self.text[0] in "Nn"


def tokenize(text: str, *, keep_trivia: bool = False) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "'[\"":
                raise LexError(
                    f"Unclosed quotation mark after the character string {text[pos:]!r}."
                )
            if text.startswith("/*", pos):
                raise LexError("Missing end comment mark '*/'.")
            raise LexError(f"Incorrect syntax near '{text[pos]}'.")
        kind = match.lastgroup or OP
        if keep_trivia or kind not in (WS, COMMENT):
            tokens.append(Token(kind, match.group()))
        pos = match.end()
    return tokens


def join(tokens: list[Token]) -> str:
    """Tokens back to text, a space between words so nothing fuses."""
    out: list[str] = []
    prev: Token | None = None
    for token in tokens:
        if prev is not None and not (token.text in ",.)" or prev.text in ".(" or token.text == "("):
            out.append(" ")
        elif prev is not None and token.text == "(" and prev.kind not in (IDENT, QIDENT):
            out.append(" ")
        out.append(token.text)
        prev = token
    return "".join(out)
