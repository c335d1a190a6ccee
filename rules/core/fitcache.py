"""Fit answers, remembered: an explicit, bounded memo the caller owns and passes in.

Fit depends only on who the person and the account are, which rarely change, yet every
evaluation asks for it. The stream glue keeps one `FitCache` per worker and hands it to the
core; offline tools and tests pass none (or their own).

An answer is keyed by the rulebook's content hash (a reloaded rulebook never reuses an old
answer) and by only the person and account fields the fit section reads (its conditions and
its detail templates): people with the same title at the same account share one answer, so
nearly every lookup hits, and a key is a few short values, cheap to hash. Least recently
used entries go first when it is full, one at a time. In front of it, the last `_SEEN`
records asked about are known by identity (the engine hands back the very records of an
unchanged state), cleared all at once when full: only a shortcut, the answers are the
same. Not thread-safe (one event loop uses
it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from rules.core.facts import ACCOUNT_FACT_FIELDS, PERSON_FACT_FIELDS, facts_for
from rules.core.scoring import fit, placeholders
from rules.rulebook.conditions import fields_read
from rules.rulebook.model import Disqualifier, Rulebook
from signals.records import AccountRec, PersonRec
from signals.windows import FitReason

__all__ = ["FitCache", "FitResult", "fit_inputs", "fit_of"]

_SEEN = 8192  # records remembered by identity (kept alive by it: a small bound)

FitResult = tuple[float, tuple[FitReason, ...], str, Disqualifier | None]
"""(points, matched fit rules, tier, first disqualifier that holds)."""


class FitCache:
    def __init__(self, maxsize: int = 50_000) -> None:
        if maxsize < 1:
            raise ValueError("a fit cache needs room for at least one answer")
        self.maxsize = maxsize
        self._answers: OrderedDict[tuple[Any, ...], FitResult] = OrderedDict()
        self._inputs: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}
        self._seen: dict[tuple[int, int], tuple[PersonRec, AccountRec | None, str, FitResult]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, rulebook: Rulebook, person: PersonRec, account: AccountRec | None) -> FitResult:
        digest = rulebook.hash
        # The same records come back while a person's state is unchanged (a merge that
        # changes nothing keeps them): known by identity, no key to build.
        seen = self._seen.get((id(person), id(account)))
        if seen is not None and seen[0] is person and seen[1] is account and seen[2] == digest:
            self.hits += 1
            return seen[3]
        answer = self._get(digest, rulebook, person, account)
        if len(self._seen) >= _SEEN:
            self._seen.clear()
        self._seen[(id(person), id(account))] = (person, account, digest, answer)
        return answer

    def _get(
        self, digest: str, rulebook: Rulebook, person: PersonRec, account: AccountRec | None
    ) -> FitResult:
        inputs = self._inputs.get(digest)
        if inputs is None:
            inputs = self._inputs[digest] = _getters(*fit_inputs(rulebook))
        of_person, of_account = inputs
        key = (digest, of_person(person), of_account(account) if account is not None else None)
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


def fit_inputs(rulebook: Rulebook) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The person and account facts the rulebook's fit section can read, as their names
    under `person.` and `account.` (see `rules.core.facts`)."""
    section = rulebook.fit
    keys: set[str] = set()
    for d in section.disqualify:
        keys |= fields_read(d.when)
    for r in section.rules:
        keys |= fields_read(r.when) | placeholders(r.detail)
    person = {k.partition(".")[2] for k in keys if k.startswith("person.")}
    account = {k.partition(".")[2] for k in keys if k.startswith("account.")}
    return tuple(sorted(person)), tuple(sorted(account))


def _getters(
    person: tuple[str, ...], account: tuple[str, ...]
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Functions from a record to a key at least as specific as the facts named: the
    fields themselves (the email's domain part for `email_domain`, whose fact derives from
    it alone; the domain as given for `account.domain`, normalised from it alone)."""
    fields = [n for n in person if n in PERSON_FACT_FIELDS]
    plain = attrgetter(*fields) if fields else None
    whole, domain = "email" in person, "email_domain" in person

    def of_person(rec: PersonRec) -> Any:
        email = rec.email
        return (
            plain(rec) if plain is not None else None,
            email.lower() if whole and email else None,
            email.rpartition("@")[2] if domain and email else None,
        )

    named = [n for n in account if n == "domain" or n in ACCOUNT_FACT_FIELDS]
    of_account = attrgetter(*named) if named else (lambda _rec: ())
    return of_person, of_account


def fit_of(
    rulebook: Rulebook, person: PersonRec, account: AccountRec | None, cache: FitCache | None
) -> FitResult:
    """Fit of a person at an account, through `cache` when one is given."""
    if cache is not None:
        return cache.get(rulebook, person, account)
    return fit(rulebook, facts_for(None, person, account))
