"""ferrule.exceptions: the hierarchy, SQLSTATE lookup, the native error factory, pickling,
and that the generated SQLSTATE classes are current."""

from __future__ import annotations

import asyncio
import builtins
import importlib
import importlib.util
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON_DIR = ROOT / "python"
GENERATOR = ROOT / "tools" / "gen_pgerrors.py"


def _load_exceptions() -> tuple[ModuleType, bool]:
    """Return ferrule.exceptions and whether the ferrule package itself imports."""
    if str(PYTHON_DIR) not in sys.path:
        sys.path.insert(0, str(PYTHON_DIR))
    try:
        return importlib.import_module("ferrule.exceptions"), True
    except ImportError:
        # ferrule/__init__.py imports the native module; without a build, load the pure-Python
        # exceptions package on its own, under its real name so that pickling finds it.
        loaded = sys.modules.get("ferrule.exceptions")
        if loaded is not None:
            return loaded, False
        package_dir = PYTHON_DIR / "ferrule" / "exceptions"
        spec = importlib.util.spec_from_file_location(
            "ferrule.exceptions",
            package_dir / "__init__.py",
            submodule_search_locations=[str(package_dir)],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["ferrule.exceptions"] = module
        spec.loader.exec_module(module)
        return module, False


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_pgerrors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolves the module's annotations through sys.modules.
    sys.modules["gen_pgerrors"] = module
    spec.loader.exec_module(module)
    return module


fx, FERRULE_IMPORTS = _load_exceptions()
pgcodes = importlib.import_module("ferrule.exceptions._pgcodes")
gen = _load_generator()


def _errcodes_path() -> Path:
    try:
        path: Path = gen.find_errcodes()
    except FileNotFoundError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("PostgreSQL's errcodes.txt is not installed (Debian package postgresql)")
    return path


ALL_FIELDS = {
    "severity": "ERROR",
    "severity_nonlocalized": "ERROR",
    "detail": "Key (id)=(1) already exists.",
    "hint": "Pick another id.",
    "position": "42",
    "internal_position": "7",
    "internal_query": "SELECT 1",
    "where": "PL/pgSQL function f() line 3 at SQL statement",
    "schema_name": "public",
    "table_name": "users",
    "column_name": "id",
    "data_type_name": "int4",
    "constraint_name": "users_pkey",
    "file": "nbtinsert.c",
    "line": "666",
    "routine": "_bt_check_unique",
}


# --- the hierarchy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        ("Error", "Exception"),
        ("Warning", "Exception"),
        ("InterfaceError", "Error"),
        ("DatabaseError", "Error"),
        ("DataError", "DatabaseError"),
        ("OperationalError", "DatabaseError"),
        ("IntegrityError", "DatabaseError"),
        ("InternalError", "DatabaseError"),
        ("ProgrammingError", "DatabaseError"),
        ("NotSupportedError", "DatabaseError"),
        ("ConnectionLostError", "OperationalError"),
        ("ConnectionFailureError", "OperationalError"),
        ("ProtocolError", "InterfaceError"),
        ("ConnectionClosedError", "InterfaceError"),
        ("TimeoutError", "OperationalError"),
        ("PoolTimeoutError", "TimeoutError"),
        ("QueryCanceledError", "OperationalError"),
        ("AuthenticationError", "OperationalError"),
        ("TransactionRollbackError", "OperationalError"),
        ("UniqueViolationError", "IntegrityError"),
        ("ForeignKeyViolationError", "IntegrityError"),
        ("NotNullViolationError", "IntegrityError"),
        ("CheckViolationError", "IntegrityError"),
        ("DeadlockDetectedError", "TransactionRollbackError"),
        ("SerializationError", "TransactionRollbackError"),
        ("UndefinedTableError", "ProgrammingError"),
        ("InvalidPasswordError", "AuthenticationError"),
        ("InvalidAuthorizationSpecificationError", "AuthenticationError"),
        ("DivisionByZeroError", "DataError"),
        ("FeatureNotSupportedError", "NotSupportedError"),
        ("PostgresInternalError", "InternalError"),
        ("AdminShutdownError", "ConnectionLostError"),
        ("CannotConnectNowError", "ConnectionFailureError"),
        ("TooManyConnectionsError", "ConnectionFailureError"),
        ("LockNotAvailableError", "OperationalError"),
    ],
)
def test_hierarchy(child: str, parent: str) -> None:
    parent_cls = getattr(builtins, parent) if parent == "Exception" else getattr(fx, parent)
    assert issubclass(getattr(fx, child), parent_cls)


def test_warning_is_not_an_error() -> None:
    assert not issubclass(fx.Warning, fx.Error)
    assert not issubclass(fx.Error, fx.Warning)


def test_timeout_error_is_the_builtin_and_asyncio_one() -> None:
    assert issubclass(fx.TimeoutError, builtins.TimeoutError)
    assert issubclass(fx.PoolTimeoutError, asyncio.TimeoutError)

    async def slow_query() -> None:
        raise fx.TimeoutError("canceling statement due to timeout", code="57014")

    async def caller() -> str:
        try:
            await slow_query()
        except asyncio.TimeoutError as exc:
            return str(exc)
        return "not caught"

    assert asyncio.run(caller()) == "canceling statement due to timeout"


def test_classes_live_in_the_public_module() -> None:
    assert fx.UniqueViolationError.__module__ == "ferrule.exceptions"
    assert fx.UndefinedTableError.__module__ == "ferrule.exceptions"
    assert repr(fx.UniqueViolationError("x")) == "UniqueViolationError('x')"


def test_all_is_explicit_and_complete() -> None:
    names = fx.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(fx, name), name
    assert "lookup" in names and "register_backend_codes" in names
    assert "_make_error" not in names
    hand_written = set(names) - set(pgcodes.__all__)
    assert not hand_written & set(pgcodes.__all__)
    # A generated class never hides a builtin or a hand-written class.
    for name in pgcodes.__all__:
        assert not hasattr(builtins, name), name
        assert getattr(fx, name) is getattr(pgcodes, name)


# --- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("23505", "UniqueViolationError"),
        ("23503", "ForeignKeyViolationError"),
        ("23502", "NotNullViolationError"),
        ("23514", "CheckViolationError"),
        ("40P01", "DeadlockDetectedError"),
        ("40001", "SerializationError"),
        ("40000", "TransactionRollbackError"),
        ("57014", "QueryCanceledError"),
        ("42P01", "UndefinedTableError"),
        ("42p01", "UndefinedTableError"),
        ("42601", "PostgresSyntaxError"),
        ("28P01", "InvalidPasswordError"),
        ("22012", "DivisionByZeroError"),
        ("P0001", "RaiseError"),
        ("XX000", "PostgresInternalError"),
        ("08006", "PostgresConnectionFailureError"),
        ("2F002", "SQLRoutineModifyingSQLDataNotPermittedError"),
        ("38002", "ExternalRoutineModifyingSQLDataNotPermittedError"),
    ],
)
def test_lookup_exact_code(code: str, name: str) -> None:
    cls = fx.lookup(code)
    assert cls is getattr(fx, name)
    assert cls.pg_sqlstate == code.upper()


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("23999", "IntegrityError"),
        ("22ZZZ", "DataError"),
        ("42ZZZ", "ProgrammingError"),
        ("08ZZZ", "ConnectionFailureError"),
        ("28ZZZ", "AuthenticationError"),
        ("40ZZZ", "TransactionRollbackError"),
        ("57ZZZ", "OperationalError"),
        ("0AZZZ", "NotSupportedError"),
        ("XXZZZ", "InternalError"),
        ("ZZ000", "DatabaseError"),
        ("", "DatabaseError"),
        ("0", "DatabaseError"),
    ],
)
def test_lookup_falls_back_to_the_class_prefix(code: str, name: str) -> None:
    assert fx.lookup(code) is getattr(fx, name)


def test_every_declared_class_is_found_by_its_code() -> None:
    registry = importlib.import_module("ferrule.exceptions._base").SQLSTATE_CLASSES
    assert len(registry) > 200
    for code, cls in registry.items():
        assert cls.pg_sqlstate == code
        assert fx.lookup(code) is cls


def test_generated_classes_sit_under_their_sqlstate_class_parent() -> None:
    for code, cls in importlib.import_module("ferrule.exceptions._base").SQLSTATE_CLASSES.items():
        if code in gen.CODE_PARENTS:
            assert cls.__bases__[0].__name__ == gen.CODE_PARENTS[code], code
        else:
            assert issubclass(cls, fx.lookup(code[:2] + "ZZZ")), code
        if code.startswith("28"):
            assert issubclass(cls, fx.AuthenticationError)


def test_every_code_of_errcodes_txt_has_its_class() -> None:
    path = _errcodes_path()
    codes = gen.parse_errcodes(path.read_text(encoding="utf-8"), str(path))
    assert codes
    for entry in codes:
        assert fx.lookup(entry.code).pg_sqlstate == entry.code, entry


def test_a_code_declared_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="23505 is already declared by UniqueViolationError"):

        class OtherUniqueError(fx.IntegrityError, code="23505"):
            pass

    with pytest.raises(ValueError, match="is not a SQLSTATE"):

        class BadCodeError(fx.IntegrityError, code="235"):
            pass

    assert fx.lookup("23505") is fx.UniqueViolationError


# --- attributes, str(), pickling --------------------------------------------------------------


def test_attributes_default_to_none() -> None:
    err = fx.DatabaseError("boom")
    assert err.message == "boom"
    assert err.args == ("boom",)
    assert err.code is None and err.backend is None and err.sqlstate is None
    for name in ALL_FIELDS:
        assert getattr(err, name) is None


def test_str_is_the_message_then_detail_and_hint_like_psql() -> None:
    assert str(fx.Error("boom")) == "boom"
    assert str(fx.Error("boom", detail="d")) == "boom\nDETAIL:  d"
    assert str(fx.Error("boom", hint="h")) == "boom\nHINT:  h"
    assert str(fx.Error("boom", hint="h", detail="d")) == "boom\nDETAIL:  d\nHINT:  h"


@pytest.fixture
def picklable() -> Iterator[None]:
    """Unpickling imports the top-level package: while the native module is missing, stand in
    a bare ``ferrule`` package for the duration of the test."""
    if FERRULE_IMPORTS or "ferrule" in sys.modules:
        yield
        return
    stub = ModuleType("ferrule")
    stub.__path__ = [str(PYTHON_DIR / "ferrule")]
    sys.modules["ferrule"] = stub
    try:
        yield
    finally:
        del sys.modules["ferrule"]


def _full_pg_error() -> Any:
    return fx._make_error("database", "postgresql", "23505", "duplicate key", dict(ALL_FIELDS))


@pytest.mark.usefixtures("picklable")
def test_pickle_round_trips_every_field() -> None:
    err = _full_pg_error()
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is fx.UniqueViolationError
    assert copy.args == err.args
    assert str(copy) == str(err)
    assert copy.code == copy.sqlstate == "23505"
    assert copy.backend == "postgresql"
    for name in ALL_FIELDS:
        assert getattr(copy, name) == getattr(err, name), name
    assert copy.as_dict() == err.as_dict()


@pytest.mark.usefixtures("picklable")
@pytest.mark.parametrize("name", [n for n in fx.__all__ if n[0].isupper()])
def test_every_class_pickles(name: str) -> None:
    cls = getattr(fx, name)
    if not issubclass(cls, fx.Error):
        assert cls is fx.Warning
        return
    err = cls("message", code="C1", backend="mssql", detail="d", position=3)
    copy = pickle.loads(pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(copy) is cls
    assert (copy.message, copy.code, copy.backend, copy.detail, copy.position) == (
        "message",
        "C1",
        "mssql",
        "d",
        3,
    )
    assert copy.sqlstate is None


def test_an_error_holds_plain_data_only() -> None:
    err = _full_pg_error()
    for value in vars(err).values():
        assert value is None or isinstance(value, (str, int)), value


# --- the factory the native module calls ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("interface", "InterfaceError"),
        ("database", "DatabaseError"),
        ("connection_lost", "ConnectionLostError"),
        ("connection_failure", "ConnectionFailureError"),
        ("protocol", "ProtocolError"),
        ("timeout", "TimeoutError"),
        ("cancelled", "QueryCanceledError"),
        ("closed", "ConnectionClosedError"),
        ("authentication", "AuthenticationError"),
        ("data", "DataError"),
        ("not_supported", "NotSupportedError"),
        ("pool_timeout", "PoolTimeoutError"),
    ],
)
def test_make_error_kinds(kind: str, name: str) -> None:
    err = fx._make_error(kind, None, None, "what happened", None)
    assert type(err) is getattr(fx, name)
    assert err.message == "what happened"
    assert err.code is None and err.backend is None


def test_make_error_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown error kind 'exploded'"):
        fx._make_error("exploded", "postgresql", None, "boom", None)


@pytest.mark.parametrize(
    ("kind", "code", "name"),
    [
        ("database", "23505", "UniqueViolationError"),
        ("database", "42P01", "UndefinedTableError"),
        ("database", "57014", "QueryCanceledError"),
        ("database", "23ZZZ", "IntegrityError"),
        ("database", None, "DatabaseError"),
        ("timeout", "57014", "TimeoutError"),
        ("cancelled", "57014", "QueryCanceledError"),
        ("cancelled", None, "QueryCanceledError"),
        ("authentication", "28P01", "InvalidPasswordError"),
        ("authentication", "42501", "AuthenticationError"),
        ("connection_lost", "57P01", "AdminShutdownError"),
        ("connection_failure", "57P03", "CannotConnectNowError"),
        ("connection_failure", "53300", "TooManyConnectionsError"),
        ("protocol", "08P01", "ProtocolError"),
    ],
)
def test_make_error_postgresql(kind: str, code: str | None, name: str) -> None:
    err = fx._make_error(kind, "postgresql", code, "m", None)
    assert type(err) is getattr(fx, name)
    assert err.code == code and err.sqlstate == code


def test_make_error_fields() -> None:
    err = _full_pg_error()
    assert err.position == 42 and err.internal_position == 7
    assert err.line == "666"
    assert err.constraint_name == "users_pkey" and err.table_name == "users"
    assert (
        str(err) == "duplicate key\nDETAIL:  Key (id)=(1) already exists.\nHINT:  Pick another id."
    )


def test_make_error_takes_the_code_from_the_sqlstate_field() -> None:
    err = fx._make_error("database", "postgresql", None, "m", {"sqlstate": "40P01"})
    assert type(err) is fx.DeadlockDetectedError
    assert err.code == "40P01"


def test_make_error_ignores_unknown_fields_and_odd_positions() -> None:
    err = fx._make_error(
        "database", "postgresql", "XX000", "m", {"brand_new_field": "x", "position": "near 3"}
    )
    assert type(err) is fx.PostgresInternalError
    assert err.position is None
    assert not hasattr(err, "brand_new_field")


@pytest.mark.parametrize(
    ("backend", "code", "name"),
    [
        ("mssql", "2627", "UniqueViolationError"),
        ("mssql", "2601", "UniqueViolationError"),
        ("mssql", "547", "ForeignKeyViolationError"),
        ("mssql", "515", "NotNullViolationError"),
        ("mssql", "1205", "DeadlockDetectedError"),
        ("mssql", "18456", "AuthenticationError"),
        ("mssql", "208", "ProgrammingError"),
        ("mssql", "99999", "DatabaseError"),
        ("sqlite", "SQLITE_CONSTRAINT_UNIQUE", "UniqueViolationError"),
        ("sqlite", "SQLITE_CONSTRAINT_PRIMARYKEY", "UniqueViolationError"),
        ("sqlite", "SQLITE_CONSTRAINT_FOREIGNKEY", "ForeignKeyViolationError"),
        ("sqlite", "SQLITE_CONSTRAINT_NOTNULL", "NotNullViolationError"),
        ("sqlite", "SQLITE_CONSTRAINT_CHECK", "CheckViolationError"),
        ("sqlite", "SQLITE_CONSTRAINT_TRIGGER", "IntegrityError"),
        ("sqlite", "SQLITE_BUSY_TIMEOUT", "OperationalError"),
        ("sqlite", "SQLITE_INTERRUPT", "QueryCanceledError"),
        ("sqlite", "SQLITE_MISUSE", "InterfaceError"),
        ("sqlite", "NOT_A_CODE", "DatabaseError"),
        ("tarantool", "3", "UniqueViolationError"),
        ("tarantool", "97", "SerializationError"),
        ("tarantool", "47", "AuthenticationError"),
        ("tarantool", "9999", "DatabaseError"),
        ("unknown-backend", "1", "DatabaseError"),
    ],
)
def test_make_error_other_backends_keep_the_native_code(backend: str, code: str, name: str) -> None:
    err = fx._make_error("database", backend, code, "m", None)
    assert type(err) is getattr(fx, name)
    assert err.code == code
    assert err.backend == backend
    assert err.sqlstate is None


def test_make_error_refines_a_kind_with_a_backend_code() -> None:
    err = fx._make_error("authentication", "mssql", "18456", "Login failed for user 'sa'.", None)
    assert type(err) is fx.AuthenticationError and err.code == "18456"
    # A code whose class is not of the kind's family does not override the kind.
    err = fx._make_error("timeout", "sqlite", "SQLITE_INTERRUPT", "interrupted", None)
    assert type(err) is fx.TimeoutError


def test_register_backend_codes() -> None:
    class RowLockedError(fx.OperationalError):
        pass

    fx.register_backend_codes("testdb", {"LOCKED": RowLockedError, "DUP": fx.UniqueViolationError})
    assert type(fx._make_error("database", "testdb", "LOCKED", "m", None)) is RowLockedError
    assert type(fx._make_error("database", "testdb", "DUP", "m", None)) is fx.UniqueViolationError
    fx.register_backend_codes("testdb", {"LOCKED": fx.OperationalError})
    assert type(fx._make_error("database", "testdb", "LOCKED", "m", None)) is fx.OperationalError


@pytest.mark.parametrize(
    ("backend", "codes", "error"),
    [
        ("postgresql", {"23505": "UniqueViolationError"}, ValueError),
        ("", {"1": "DatabaseError"}, ValueError),
        ("testdb", {"": "DatabaseError"}, ValueError),
        ("testdb", {"1": "ValueError"}, TypeError),
    ],
)
def test_register_backend_codes_rejects_bad_input(
    backend: str, codes: dict[str, str], error: type[Exception]
) -> None:
    resolved = {
        code: getattr(builtins, name, None) or getattr(fx, name) for code, name in codes.items()
    }
    with pytest.raises(error, match="register_backend_codes"):
        fx.register_backend_codes(backend, resolved)


# --- the generator ----------------------------------------------------------------------------


def _run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, check=False
    )


def test_generated_file_is_current() -> None:
    path = _errcodes_path()
    result = _run_generator("--check", str(path))
    assert result.returncode == 0, result.stderr


def test_generated_file_has_header_and_markers() -> None:
    text = Path(pgcodes.__file__).read_text(encoding="utf-8")
    assert text.startswith("# GENERATED FILE: do not edit by hand.")
    assert "tools/gen_pgerrors.py" in text.splitlines()[1]
    assert text.count(gen.BEGIN_MARKER) == 1 and text.count(gen.END_MARKER) == 1
    assert text.index(gen.BEGIN_MARKER) < text.index("\nclass ") < text.index(gen.END_MARKER)


def test_check_fails_when_errcodes_differs(tmp_path: Path) -> None:
    errcodes = tmp_path / "errcodes.txt"
    errcodes.write_text(
        "Section: Class 23 - Integrity Constraint Violation\n"
        "23505    E    ERRCODE_UNIQUE_VIOLATION          unique_violation\n",
        encoding="utf-8",
    )
    generated = [Path(pgcodes.__file__), Path(fx.__file__)]
    before = [path.read_bytes() for path in generated]
    result = _run_generator("--check", str(errcodes))
    assert result.returncode == 1
    assert "out of date" in result.stderr
    assert [path.read_bytes() for path in generated] == before


def test_generator_reports_a_malformed_errcodes(tmp_path: Path) -> None:
    errcodes = tmp_path / "errcodes.txt"
    errcodes.write_text("Section: Class 23 - X\nthis is not an entry\n", encoding="utf-8")
    result = _run_generator("--check", str(errcodes))
    assert result.returncode == 2
    assert f"{errcodes}:2: unrecognised line" in result.stderr
    missing = _run_generator("--check", str(tmp_path / "absent.txt"))
    assert missing.returncode == 2 and "absent.txt" in missing.stderr


def test_class_names_follow_asyncpg_style() -> None:
    entry = gen.ErrorCode("42P01", "ERRCODE_UNDEFINED_TABLE", "undefined_table", "Class 42")
    assert gen.class_name(entry, shared_spec_name=False) == "UndefinedTableError"
    entry = gen.ErrorCode("58030", "ERRCODE_IO_ERROR", "io_error", "Class 58")
    assert gen.class_name(entry, shared_spec_name=False) == "PostgresIOError"
    entry = gen.ErrorCode("0F000", "ERRCODE_LOCATOR_EXCEPTION", "locator_exception", "Class 0F")
    assert gen.class_name(entry, shared_spec_name=False) == "LocatorError"
