"""Fit answers, remembered: an explicit, bounded memo the caller owns and passes in.

Fit depends only on who the person and the account are, which rarely change, yet every
evaluation asks for it. The stream glue keeps one `FitCache` per worker and hands it to the
core; offline tools and tests pass none (or their own). Keys carry the rulebook's content
hash, so a reloaded rulebook never reuses an old answer. Least recently used entries go
first when it is full, one at a time. Not thread-safe (one event loop uses it).
"""

from __future__ import annotations

from collections import OrderedDict

from rules.core.facts import facts_for
from rules.core.scoring import fit
from rules.rulebook.model import Disqualifier, Rulebook
from signals.records import AccountRec, PersonRec
from signals.windows import FitReason

__all__ = ["FitCache", "FitResult", "fit_of"]

FitResult = tuple[float, tuple[FitReason, ...], str, Disqualifier | None]
"""(points, matched fit rules, tier, first disqualifier that holds)."""


class FitCache:
    def __init__(self, maxsize: int = 50_000) -> None:
        if maxsize < 1:
            raise ValueError("a fit cache needs room for at least one answer")
        self.maxsize = maxsize
        self._answers: OrderedDict[tuple[str, PersonRec, AccountRec | None], FitResult] = (
            OrderedDict()
        )
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, rulebook: Rulebook, person: PersonRec, account: AccountRec | None) -> FitResult:
        key = (rulebook.hash, person, account)
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
            self.hits += 1
            return answer
        self.misses += 1
        answer = fit(rulebook, facts_for(None, person, account))
        self._answers[key] = answer
        if len(self._answers) > self.maxsize:
            self._answers.popitem(last=False)
        return answer


def fit_of(
    rulebook: Rulebook, person: PersonRec, account: AccountRec | None, cache: FitCache | None
) -> FitResult:
    """Fit of a person at an account, through `cache` when one is given."""
    if cache is not None:
        return cache.get(rulebook, person, account)
    return fit(rulebook, facts_for(None, person, account))
