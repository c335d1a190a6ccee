"""Declarative conditions for rulebook `when:` clauses.

A condition is data, never code. Forms:

    {field: account.industry, in: [software, saas]}
    {field: properties.path, matches: "^/pricing"}
    {field: account.employees, between: [50, 1000]}
    {all: [cond, ...]}   {any: [cond, ...]}   {not: cond}

Operators on one field: eq, ne, in, not_in, matches (case-insensitive regex, searched),
contains, ends_with, gt, gte, lt, lte, between, exists. A missing field matches only
`exists: false`, `ne` and `not_in`.

Facts are a flat mapping from dotted paths to values, built by `rules.facts`.

TODO(helper): implement the models and `evaluate`.
"""

from __future__ import annotations

from typing import Any

Condition = Any
