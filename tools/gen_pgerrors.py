#!/usr/bin/env python3
"""Generate python/ferrule/exceptions/_pgcodes.py from PostgreSQL's errcodes.txt.

    python tools/gen_pgerrors.py [--check] [path/to/errcodes.txt]

Without a path the newest errcodes.txt installed is used (Debian ships one per server version
in /usr/share/postgresql/<version>/). With --check nothing is written: the exit status is 1 when
the committed files differ from what would be generated.

One class per error SQLSTATE, named after the code's spec name in asyncpg's style
(``undefined_table`` -> ``UndefinedTableError``), declared with ``code="..."`` so that it
registers itself. The success and warning classes (00, 01, 02) are not errors and get none.
The package's __init__.py lists the generated names in ``__all__`` between the same markers, as
literals so that type checkers see them.
"""

from __future__ import annotations

import argparse
import builtins
import difflib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "python" / "ferrule" / "exceptions" / "_pgcodes.py"
PACKAGE_INIT = OUTPUT.parent / "__init__.py"

BEGIN_MARKER = "# --- BEGIN GENERATED CODE (tools/gen_pgerrors.py) ---"
END_MARKER = "# --- END GENERATED CODE ---"

# The parent of every code of a SQLSTATE class (its first two characters); DatabaseError
# for a class not listed (a class added by a newer server).
CLASS_PARENTS: dict[str, str] = {
    "08": "ConnectionFailureError",
    "0A": "NotSupportedError",
    "20": "ProgrammingError",
    "21": "ProgrammingError",
    "22": "DataError",
    "23": "IntegrityError",
    "24": "InternalError",
    "25": "InternalError",
    "26": "ProgrammingError",
    "27": "OperationalError",
    "28": "AuthenticationError",
    "2B": "InternalError",
    "2D": "InternalError",
    "2F": "InternalError",
    "34": "ProgrammingError",
    "38": "InternalError",
    "39": "InternalError",
    "3B": "InternalError",
    "3D": "ProgrammingError",
    "3F": "ProgrammingError",
    "40": "TransactionRollbackError",
    "42": "ProgrammingError",
    "44": "ProgrammingError",
    "53": "OperationalError",
    "54": "OperationalError",
    "55": "OperationalError",
    "57": "OperationalError",
    "58": "OperationalError",
    "F0": "InternalError",
    "HV": "OperationalError",
    "P0": "InternalError",
    "XX": "InternalError",
}

# Codes whose parent is not their class's: the server ends the session with these, or
# sends them while a connection is being opened.
CODE_PARENTS: dict[str, str] = {
    "08003": "ConnectionLostError",
    "08006": "ConnectionLostError",
    "08007": "ConnectionLostError",
    "25P03": "ConnectionLostError",
    "53300": "ConnectionFailureError",
    "57P01": "ConnectionLostError",
    "57P02": "ConnectionLostError",
    "57P03": "ConnectionFailureError",
    "57P04": "ConnectionFailureError",
    "57P05": "ConnectionLostError",
}

# Codes whose class is hand-written in _shared.py because every backend raises it.
SHARED_CLASSES: dict[str, str] = {
    "23502": "NotNullViolationError",
    "23503": "ForeignKeyViolationError",
    "23505": "UniqueViolationError",
    "23514": "CheckViolationError",
    "40000": "TransactionRollbackError",
    "40001": "SerializationError",
    "40P01": "DeadlockDetectedError",
    "57014": "QueryCanceledError",
}

BASE_NAMES = (
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
)
SHARED_NAMES = (
    "AuthenticationError",
    "CheckViolationError",
    "ConnectionClosedError",
    "ConnectionFailureError",
    "ConnectionLostError",
    "DeadlockDetectedError",
    "ForeignKeyViolationError",
    "NotNullViolationError",
    "PoolTimeoutError",
    "ProtocolError",
    "QueryCanceledError",
    "SerializationError",
    "TimeoutError",
    "TransactionRollbackError",
    "UniqueViolationError",
)

# Words spelled as acronyms in class names.
ACRONYMS = {
    "fdw": "FDW",
    "io": "IO",
    "json": "JSON",
    "plpgsql": "PLPGSQL",
    "sql": "SQL",
    "sqlclient": "SQLClient",
    "sqlconnection": "SQLConnection",
    "sqlserver": "SQLServer",
    "sqlstate": "SQLState",
    "srf": "SRF",
    "xml": "XML",
}

# The abbreviations errcodes.txt uses in macro names, spelled out to tell apart codes that
# share a spec name (``modifying_sql_data_not_permitted`` is both 2F002 and 38002).
MACRO_PREFIXES = {
    "ERRCODE_E_R_I_E_": "ExternalRoutineInvocation",
    "ERRCODE_E_R_E_": "ExternalRoutine",
    "ERRCODE_S_R_E_": "SQLRoutine",
}

# Names a generated class may not take: Python's builtins and ferrule's hand-written classes.
RESERVED_NAMES = frozenset(dir(builtins)) | frozenset(BASE_NAMES) | frozenset(SHARED_NAMES)

_SECTION_RE = re.compile(r"^Section: Class (?P<prefix>[0-9A-Z]{2}) - (?P<title>.+)$")
_ENTRY_RE = re.compile(
    r"^(?P<code>[0-9A-Z]{5})\s+(?P<kind>[EWS])\s+(?P<macro>ERRCODE_\w+)(?:\s+(?P<spec>\w+))?\s*$"
)


@dataclass(frozen=True)
class ErrorCode:
    code: str
    macro: str
    spec_name: str
    section: str


class GenerationError(Exception):
    """errcodes.txt or the package is not in the shape this generator expects."""


def parse_errcodes(text: str, source: str) -> list[ErrorCode]:
    """Return the error codes (kind E, with a spec name) in file order."""
    codes: list[ErrorCode] = []
    section = ""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SECTION_RE.match(line)
        if match:
            section = f"Class {match['prefix']} - {match['title']}"
            continue
        match = _ENTRY_RE.match(line)
        if match is None:
            raise GenerationError(f"{source}:{lineno}: unrecognised line: {line!r}")
        # Lines without a spec name are aliases of a code listed under its own name.
        if match["kind"] != "E" or match["spec"] is None:
            continue
        codes.append(ErrorCode(match["code"], match["macro"], match["spec"], section))
    return codes


def camel_case(spec_name: str) -> str:
    return "".join(ACRONYMS.get(word, word.capitalize()) for word in spec_name.split("_"))


def class_name(entry: ErrorCode, shared_spec_name: bool) -> str:
    name = camel_case(entry.spec_name)
    if shared_spec_name:
        for macro_prefix, words in MACRO_PREFIXES.items():
            if entry.macro.startswith(macro_prefix):
                name = words + name
                break
    if name.endswith("Exception"):
        name = name[: -len("Exception")] + "Error"
    elif not name.endswith("Error"):
        name += "Error"
    if name in RESERVED_NAMES:
        name = "Postgres" + name
    return name


def parent_name(code: str) -> str:
    return CODE_PARENTS.get(code) or CLASS_PARENTS.get(code[:2], "DatabaseError")


def render_class(name: str, parent: str, entry: ErrorCode) -> list[str]:
    header = f'class {name}({parent}, code="{entry.code}"):'
    if len(header) > 100:
        header = f'class {name}(\n    {parent}, code="{entry.code}"\n):'
    return ["", "", header, f'    """SQLSTATE {entry.code}: {entry.spec_name}."""']


def render(codes: list[ErrorCode]) -> tuple[str, list[str]]:
    """Return the text of _pgcodes.py and the names of the classes it declares."""
    spec_name_uses: dict[str, int] = {}
    for entry in codes:
        spec_name_uses[entry.spec_name] = spec_name_uses.get(entry.spec_name, 0) + 1

    body: list[str] = []
    generated: list[str] = []
    used_parents: set[str] = {"Error", "DatabaseError"}
    prefixes: dict[str, str] = {}
    section = ""
    seen_codes: set[str] = set()
    for entry in codes:
        if entry.code in seen_codes:
            raise GenerationError(f"SQLSTATE {entry.code} is listed twice with a spec name")
        seen_codes.add(entry.code)
        prefix = entry.code[:2]
        prefixes.setdefault(prefix, CLASS_PARENTS.get(prefix, "DatabaseError"))
        if entry.section != section:
            section = entry.section
            body += ["", "", f"# {section}"]
        shared = SHARED_CLASSES.get(entry.code)
        if shared is not None:
            note = f"# {entry.code} {entry.spec_name}: {shared}, in _shared.py (every backend)"
            body += [note] if body[-1].startswith("# ") else ["", "", note]
            continue
        name = class_name(entry, spec_name_uses[entry.spec_name] > 1)
        if name in generated:
            raise GenerationError(f"SQLSTATE {entry.code}: class name {name} is taken")
        parent = parent_name(entry.code)
        used_parents.add(parent)
        generated.append(name)
        body += render_class(name, parent, entry)
    used_parents.update(prefixes.values())

    lines = [
        "# GENERATED FILE: do not edit by hand.",
        "# Written by tools/gen_pgerrors.py from PostgreSQL's errcodes.txt. Regenerate with",
        "#     python tools/gen_pgerrors.py [path/to/errcodes.txt]",
        "# and check that it is current with `python tools/gen_pgerrors.py --check`.",
        '"""PostgreSQL SQLSTATE codes, one exception class each."""',
        "",
        BEGIN_MARKER,
        "",
    ]
    for module, names in (("._base", BASE_NAMES), ("._shared", SHARED_NAMES)):
        imported = sorted((n for n in names if n in used_parents), key=str.lower)
        lines.append(f"from {module} import (")
        lines += [f"    {n}," for n in imported]
        lines.append(")")
    lines += ["", "__all__ = ["]
    lines += [f'    "{n}",' for n in sorted(generated)]
    lines += [
        "]",
        "",
        "#: The parent class of each SQLSTATE class (the code's first two characters).",
        "SQLSTATE_CLASS_PARENTS: dict[str, type[Error]] = {",
    ]
    lines += [f'    "{prefix}": {parent},' for prefix, parent in prefixes.items()]
    lines.append("}")
    lines += body
    lines += ["", "", END_MARKER, ""]
    return "\n".join(lines), sorted(generated)


def splice_package_init(init_text: str, names: list[str]) -> str:
    """Return the package's __init__.py with ``names`` added to ``__all__`` between markers."""
    begin = init_text.find(BEGIN_MARKER)
    end = init_text.find(END_MARKER)
    if begin < 0 or end < begin:
        raise GenerationError(
            f"{PACKAGE_INIT}: the markers {BEGIN_MARKER!r} and {END_MARKER!r} are missing"
        )
    block = [BEGIN_MARKER, "__all__ += ["]
    block += [f'    "{n}",' for n in names]
    block += ["]", ""]
    return init_text[:begin] + "\n".join(block) + init_text[end:]


def find_errcodes() -> Path:
    """Return the errcodes.txt of the newest PostgreSQL installed."""
    candidates = list(Path("/usr/share/postgresql").glob("*/errcodes.txt"))
    try:
        sharedir = subprocess.run(
            ["pg_config", "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sharedir = ""
    if sharedir and (Path(sharedir) / "errcodes.txt").is_file():
        candidates.append(Path(sharedir) / "errcodes.txt")
    if not candidates:
        raise FileNotFoundError(
            "errcodes.txt not found in /usr/share/postgresql/*/ nor in `pg_config --sharedir`: "
            "install PostgreSQL (Debian: apt-get install postgresql) or pass its path"
        )

    def version(path: Path) -> tuple[int, ...]:
        digits = re.findall(r"\d+", path.parent.name)
        return tuple(int(d) for d in digits)

    return max(candidates, key=lambda p: (version(p), str(p)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("errcodes", nargs="?", type=Path, help="path to errcodes.txt")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed files are not what would be generated",
    )
    args = parser.parse_args(argv)
    try:
        source: Path = args.errcodes or find_errcodes()
        module, names = render(parse_errcodes(source.read_text(encoding="utf-8"), str(source)))
        init = splice_package_init(PACKAGE_INIT.read_text(encoding="utf-8"), names)
    except (OSError, GenerationError) as exc:
        print(f"gen_pgerrors: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, text in ((OUTPUT, module), (PACKAGE_INIT, init)):
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if args.check:
            sys.stderr.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{path.relative_to(ROOT)} (committed)",
                    tofile=f"{path.relative_to(ROOT)} (from {source})",
                )
            )
        else:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(
            f"gen_pgerrors: {', '.join(map(str, stale))} out of date with {source}; "
            "run python tools/gen_pgerrors.py",
            file=sys.stderr,
        )
        return 1
    done = "up to date" if args.check or not stale else f"wrote {', '.join(map(str, stale))}"
    print(f"gen_pgerrors: {done} ({source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
