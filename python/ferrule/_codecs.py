"""User codecs applied on the Python side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def encode_with(
    encoders: dict[int, Callable[[Any], Any]], oids: Sequence[int], args: Sequence[Any]
) -> tuple[Any, ...]:
    """Apply user encoders to the arguments whose parameter type has one (None stays NULL)."""
    return tuple(
        encoders[oid](arg) if arg is not None and oid in encoders else arg
        for oid, arg in zip(oids, args)
    ) + tuple(args[len(oids) :])
