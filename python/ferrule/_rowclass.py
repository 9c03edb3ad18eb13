"""Checks of the row classes a query can build (``record_class=``)."""

from __future__ import annotations

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
