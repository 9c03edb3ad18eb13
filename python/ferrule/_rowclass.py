"""Checks of the row classes a query can build (``record_class=``)."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ferrule._ferrule import Record
from ferrule.exceptions import InterfaceError


def check_record_class(cls: type[Record] | None) -> type[Record] | None:
    """``cls`` when it is a usable ``record_class``: a Record subclass whose instances the
    driver can create (it defines neither ``__new__`` nor ``__init__``)."""
    if cls is None:
        return None
    if not (isinstance(cls, type) and issubclass(cls, Record)):
        raise InterfaceError(f"record_class must be a subclass of ferrule.Record, not {cls!r}")
    for klass in cls.__mro__:
        if klass is Record:
            break
        if "__new__" in vars(klass) or "__init__" in vars(klass):
            raise InterfaceError(
                f"record_class {cls.__qualname__} must not define __new__ or __init__: "
                "records are created by the driver"
            )
    return cls


def takes_columns_in_order(cls: Any, names: tuple[str, ...]) -> bool:
    """Whether ``as_class=cls`` can take a row's columns positionally with the same effect
    as by keyword: its first parameters are named as the columns, in order, and can be
    given by position, and any others have defaults (dataclasses and named tuples whose
    fields are the columns). A positional call costs about half a keyword call. Asked once
    per batch of rows, answered from a cache."""
    try:
        return _takes_columns_in_order(cls, names)
    except TypeError:  # an unhashable callable: keyword arguments, always right
        return False


_BY_POSITION = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@functools.lru_cache(maxsize=256)
def _takes_columns_in_order(cls: Any, names: tuple[str, ...]) -> bool:
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return False
    head, rest = params[: len(names)], params[len(names) :]
    if tuple(p.name for p in head) != names or any(p.kind not in _BY_POSITION for p in head):
        return False
    return all(
        p.default is not inspect.Parameter.empty
        or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in rest
    )
