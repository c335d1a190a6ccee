"""Field-condition operators: argument types, preparation and the per-operator checks.

`prepare` turns an operator's validated argument into the form its check wants (casefolded
values, a compiled regex, a tuple of suffixes) once, at load time; `APPLY` maps each name
in `OPERATORS` to a check of (fact value, prepared argument) that never raises on odd fact
values. The condition models live in `rules.rulebook.conditions`.

`matches` patterns are compiled with RE2 (google-re2), which runs in time linear in the
input: a rulebook pattern such as `(a+)+$` cannot stall a worker on a crafted page path, as
Python's backtracking `re` would. RE2 has no backreferences or lookaround; `compile_pattern`
raises `re2.error` for those, which the rulebook loader reports with file, line and field.
Each pattern remembers its last `_MATCH_MEMO` answers: page paths repeat, and a memo hit
costs a tenth of an RE2 call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

import re2
from pydantic import PlainValidator

__all__ = ["APPLY", "OPERATORS", "Number", "Pattern", "Scalar", "compile_pattern", "prepare"]

_MATCH_MEMO = 4096

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


def _op_matches(value: Any, arg: Pattern) -> bool:
    return isinstance(value, str) and arg(value)


class Pattern:
    """A case-insensitive RE2 search, memoised; equal to another for the same pattern."""

    __slots__ = ("_search", "pattern")

    def __init__(self, pattern: str) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False  # the loader reports the error; RE2 would print to stderr
        compiled = re2.compile(pattern, options)
        self.pattern = pattern
        self._search = lru_cache(maxsize=_MATCH_MEMO)(
            lambda value: compiled.search(value) is not None
        )

    def __call__(self, value: str) -> bool:
        return bool(self._search(value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


def compile_pattern(pattern: str) -> Pattern:
    """Compile a `matches` pattern. Raises `re2.error` if RE2 cannot compile it
    (backreferences, lookaround, too large)."""
    return Pattern(pattern)


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
        return compile_pattern(arg)
    if op == "ends_with":
        return tuple(s.casefold() for s in ((arg,) if isinstance(arg, str) else arg))
    return arg
