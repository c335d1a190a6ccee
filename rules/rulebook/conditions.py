"""Declarative conditions for rulebook `when:` clauses.

A condition is data, never code. Forms:

    {field: account.industry, in: [software, saas]}
    {field: properties.path, matches: "^/pricing"}
    {field: account.employees, between: [50, 1000]}
    {all: [cond, ...]}   {any: [cond, ...]}   {not: cond}

Operators on one field (exactly one per condition):

- eq, ne, in, not_in: equality; strings compare case-insensitively (casefold). Booleans
  equal only booleans, so `eq: 1` never matches `true`.
- matches: a regular expression in RE2 syntax (linear time; no backreferences or
  lookaround), case-insensitive, searched anywhere, strings only.
- contains: a substring of a string (case-insensitive) or a member of a list.
- ends_with: a suffix or a list of suffixes, case-insensitive, strings only.
- gt, gte, lt, lte, between ([lo, hi], inclusive): numbers only; a fact that is not a
  number never matches.
- exists: `true` if the fact is present (not null), `false` if it is missing.

A missing (null) fact matches only `exists: false`, `ne` and `not_in`. `all: []` is true and
`any: []` is false. Conditions nest at most `MAX_DEPTH` levels.

Facts are a flat mapping from dotted paths to values, built by `rules.core.facts`. Fields must
start with one of `FIELD_ROOTS` so a typo such as `acount.industry` is a load error rather
than a rule that silently never matches.

Everything is checked when the rulebook is validated (a bad regex is a load error); the
runtime calls `evaluate` once per rule per event, and it never raises on odd fact values: a
value of the wrong type simply does not match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Annotated, Any, ClassVar

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from rules.rulebook.operators import APPLY, OPERATORS, Number, Scalar, compile_pattern, prepare

__all__ = [
    "CONDITION_TAGS",
    "FIELD_ROOTS",
    "MAX_DEPTH",
    "MAX_PATTERN_LENGTH",
    "OPERATORS",
    "AllCondition",
    "AnyCondition",
    "Condition",
    "FieldCondition",
    "NotCondition",
    "Predicate",
    "evaluate",
    "fields_read",
]

Predicate = Callable[[Mapping[str, Any]], bool]

MAX_DEPTH = 10
MAX_PATTERN_LENGTH = 500
FIELD_ROOTS = frozenset({"account", "champion", "person", "properties", "source", "type"})
# Pydantic puts the union tag into error locations; the loader strips these when it maps
# an error back to a YAML line and a dotted field path.
CONDITION_TAGS = frozenset({"field-condition", "all-condition", "any-condition", "not-condition"})

_STRICT = ConfigDict(frozen=True, extra="forbid")
_FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$"
_MAX_ITEMS = 10_000
_Suffix = Annotated[str, Field(min_length=1, max_length=253)]


# ------------------------------------------------------------------- models


class FieldCondition(BaseModel):
    """One fact compared by one operator, e.g. `{field: account.industry, in: [saas]}`."""

    # The schema cannot say "exactly one operator" directly; two keys (field + one) can.
    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"minProperties": 2, "maxProperties": 2}
    )

    field: Annotated[str, Field(min_length=1, max_length=200, pattern=_FIELD_PATTERN)] = Field(
        description="Dotted path of a fact, e.g. account.industry or properties.path."
    )
    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: Annotated[tuple[Scalar, ...], Field(min_length=1, max_length=_MAX_ITEMS)] | None = Field(
        default=None, alias="in"
    )
    not_in: Annotated[tuple[Scalar, ...], Field(min_length=1, max_length=_MAX_ITEMS)] | None = None
    matches: Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_LENGTH)] | None = Field(
        default=None, description="Case-insensitive regular expression, searched anywhere."
    )
    contains: Scalar | None = None
    ends_with: (
        _Suffix | Annotated[tuple[_Suffix, ...], Field(min_length=1, max_length=_MAX_ITEMS)] | None
    ) = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    between: tuple[Number, Number] | None = Field(
        default=None, description="[lo, hi], both inclusive."
    )
    exists: bool | None = None

    _op: str = PrivateAttr(default="")
    _arg: Any = PrivateAttr(default=None)

    _KEYS: ClassVar[frozenset[str]] = frozenset(OPERATORS) | {"field"}

    @model_validator(mode="before")
    @classmethod
    def _one_operator(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        field = data.get("field")
        where = f" for field {field!r}" if isinstance(field, str) else ""
        expected = ", ".join(OPERATORS)
        unknown = [k for k in data if k not in cls._KEYS]
        if unknown:
            raise ValueError(f"unknown operator {unknown[0]!r}{where}; expected one of {expected}")
        ops = [k for k in data if k != "field"]
        if not ops:
            raise ValueError(f"no operator{where}; add one of {expected}")
        if len(ops) > 1:
            raise ValueError(
                f"{len(ops)} operators ({', '.join(ops)}){where}; use exactly one per "
                "condition and combine conditions with all/any"
            )
        if data[ops[0]] is None:
            raise ValueError(
                f"operator {ops[0]!r}{where} needs a value; to test for a missing field "
                "use exists: false"
            )
        return data

    @field_validator("field")
    @classmethod
    def _known_root(cls, value: str) -> str:
        root = value.split(".", 1)[0]
        if root not in FIELD_ROOTS:
            raise ValueError(
                f"unknown field {value!r}: a field starts with one of "
                f"{', '.join(sorted(FIELD_ROOTS))}"
            )
        return value

    @field_validator("matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value)
            except re2.error as exc:
                why = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                raise ValueError(
                    f"invalid regular expression {value!r} (RE2 syntax: no backreferences or "
                    f"lookaround): {why}"
                ) from None
        return value

    @field_validator("between")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError("between needs [lo, hi] with lo <= hi")
        return value

    def model_post_init(self, context: Any, /) -> None:
        for op in OPERATORS:
            arg = getattr(self, "in_" if op == "in" else op)
            if arg is not None:
                self._op = op
                self._arg = prepare(op, arg)
                return

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only the field and its one operator: dumping gives back the form a person wrote.
        return {k: v for k, v in handler(self).items() if v is not None}

    def __repr_args__(self) -> Any:
        return [(k, v) for k, v in super().__repr_args__() if v is not None]

    @property
    def operator(self) -> str:
        return self._op

    @property
    def depth(self) -> int:
        return 1

    @cached_property
    def predicate(self) -> Predicate:
        """This condition compiled to a plain function of the facts (built once, then cached)."""
        field, arg, apply = self.field, self._arg, APPLY[self._op]
        when_missing = self._op in ("ne", "not_in") or (self._op == "exists" and not arg)

        def check(facts: Mapping[str, Any]) -> bool:
            value = facts.get(field)
            return when_missing if value is None else apply(value, arg)

        return check

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return self.predicate(facts)


class _Compound(BaseModel):
    model_config = _STRICT

    _depth: int = PrivateAttr(default=1)

    def _children(self) -> tuple[Condition, ...]:
        raise NotImplementedError

    @property
    def depth(self) -> int:
        return self._depth

    def model_post_init(self, context: Any, /) -> None:
        self._depth = 1 + max((c.depth for c in self._children()), default=0)
        if self._depth > MAX_DEPTH:
            raise ValueError(f"conditions nest more than {MAX_DEPTH} levels deep")


_Conditions = Annotated[tuple["Condition", ...], Field(max_length=100)]


class AllCondition(_Compound):
    """True when every condition is true; `all: []` is true."""

    all: _Conditions

    def _children(self) -> tuple[Condition, ...]:
        return self.all

    @cached_property
    def predicate(self) -> Predicate:
        checks = tuple(c.predicate for c in self.all)
        return lambda facts: all(check(facts) for check in checks)

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return self.predicate(facts)


class AnyCondition(_Compound):
    """True when at least one condition is true; `any: []` is false."""

    any: _Conditions

    def _children(self) -> tuple[Condition, ...]:
        return self.any

    @cached_property
    def predicate(self) -> Predicate:
        checks = tuple(c.predicate for c in self.any)
        return lambda facts: any(check(facts) for check in checks)

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return self.predicate(facts)


class NotCondition(_Compound):
    """True when the inner condition is false."""

    not_: Condition = Field(alias="not")

    def _children(self) -> tuple[Condition, ...]:
        return (self.not_,)

    @cached_property
    def predicate(self) -> Predicate:
        check = self.not_.predicate
        return lambda facts: not check(facts)

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return self.predicate(facts)


_TAG_BY_KEY = {
    "field": "field-condition",
    "all": "all-condition",
    "any": "any-condition",
    "not": "not-condition",
}
_TAG_BY_CLASS: dict[type[BaseModel], str] = {
    FieldCondition: "field-condition",
    AllCondition: "all-condition",
    AnyCondition: "any-condition",
    NotCondition: "not-condition",
}


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return _TAG_BY_CLASS.get(type(value))
    if isinstance(value, Mapping):
        tags = [tag for key, tag in _TAG_BY_KEY.items() if key in value]
        if len(tags) == 1:
            return tags[0]
    return None


Condition = Annotated[
    Annotated[FieldCondition, Tag("field-condition")]
    | Annotated[AllCondition, Tag("all-condition")]
    | Annotated[AnyCondition, Tag("any-condition")]
    | Annotated[NotCondition, Tag("not-condition")],
    Discriminator(
        _condition_tag,
        custom_error_type="invalid_condition",
        custom_error_message=(
            "a condition is a mapping with exactly one of 'field', 'all', 'any' or 'not'"
        ),
    ),
]

for _model in (AllCondition, AnyCondition, NotCondition):
    _model.model_rebuild()


def evaluate(condition: Condition | None, facts: Mapping[str, Any]) -> bool:
    """Whether `facts` satisfy `condition`; no condition (None) is always true.

    Called per event by the scoring engine. Pure; never raises for odd fact values.
    """
    return True if condition is None else condition.predicate(facts)


def fields_read(condition: Condition | None) -> frozenset[str]:
    """The fact keys `condition` reads (its `field`s, nested ones included)."""
    if condition is None:
        return frozenset()
    if isinstance(condition, FieldCondition):
        return frozenset((condition.field,))
    assert isinstance(condition, _Compound)
    return frozenset().union(*(fields_read(c) for c in condition._children()))
