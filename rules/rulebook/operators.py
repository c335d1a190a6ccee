"""Field-condition operators: argument types, preparation and the per-operator checks.

`prepare` turns an operator's validated argument into the form its check wants (casefolded
values, a compiled regex, a tuple of suffixes) once, at load time; `APPLY` maps each name
in `OPERATORS` to a check of (fact value, prepared argument) that never raises on odd fact
values. The condition models live in `rules.rulebook.conditions`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import PlainValidator

__all__ = ["APPLY", "OPERATORS", "Number", "Scalar", "prepare"]

OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "matches",
    "contains",
    "ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "exists",
)


# ---------------------------------------------------------------- value types


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return value
    raise ValueError("expected a single string, number or boolean")


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    return value


Scalar = Annotated[
    str | int | float | bool, PlainValidator(_scalar, json_schema_input_type=str | float | bool)
]
Number = Annotated[int | float, PlainValidator(_number, json_schema_input_type=float)]


def _fold(value: Any) -> Any:
    """Normalise a value for equality: casefold strings, keep booleans apart from numbers."""
    if isinstance(value, str):
        return ("s", value.casefold())
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    return ("o", value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ------------------------------------------------------ operator implementations
# Each takes (fact value, prepared argument); the fact value is never None here.


def _op_eq(value: Any, arg: Any) -> bool:
    try:
        return _fold(value) == arg
    except TypeError:
        return False


def _op_ne(value: Any, arg: Any) -> bool:
    return not _op_eq(value, arg)


def _op_in(value: Any, arg: frozenset[Any]) -> bool:
    try:
        return _fold(value) in arg
    except TypeError:  # unhashable fact, e.g. a list
        return False


def _op_not_in(value: Any, arg: frozenset[Any]) -> bool:
    return not _op_in(value, arg)


def _op_matches(value: Any, arg: re.Pattern[str]) -> bool:
    return isinstance(value, str) and arg.search(value) is not None


def _op_contains(value: Any, arg: Any) -> bool:
    if isinstance(value, str):
        return arg[0] == "s" and arg[1] in value.casefold()
    if isinstance(value, list | tuple | set | frozenset):
        return any(_op_eq(item, arg) for item in value)
    return False


def _op_ends_with(value: Any, arg: tuple[str, ...]) -> bool:
    return isinstance(value, str) and value.casefold().endswith(arg)


def _op_gt(value: Any, arg: float) -> bool:
    return _is_number(value) and value > arg


def _op_gte(value: Any, arg: float) -> bool:
    return _is_number(value) and value >= arg


def _op_lt(value: Any, arg: float) -> bool:
    return _is_number(value) and value < arg


def _op_lte(value: Any, arg: float) -> bool:
    return _is_number(value) and value <= arg


def _op_between(value: Any, arg: tuple[float, float]) -> bool:
    return _is_number(value) and arg[0] <= value <= arg[1]


def _op_exists(value: Any, arg: bool) -> bool:
    return arg  # value is present (not None) here


APPLY: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _op_eq,
    "ne": _op_ne,
    "in": _op_in,
    "not_in": _op_not_in,
    "matches": _op_matches,
    "contains": _op_contains,
    "ends_with": _op_ends_with,
    "gt": _op_gt,
    "gte": _op_gte,
    "lt": _op_lt,
    "lte": _op_lte,
    "between": _op_between,
    "exists": _op_exists,
}


def prepare(op: str, arg: Any) -> Any:
    if op in ("eq", "ne", "contains"):
        return _fold(arg)
    if op in ("in", "not_in"):
        return frozenset(_fold(item) for item in arg)
    if op == "matches":
        return re.compile(arg, re.IGNORECASE)
    if op == "ends_with":
        return tuple(s.casefold() for s in ((arg,) if isinstance(arg, str) else arg))
    return arg
