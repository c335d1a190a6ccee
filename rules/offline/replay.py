"""Replay a history of signals, outreach activity and CRM contacts through the pure core.

The same decision path the score agent runs, with its tables replaced by dicts keyed the
same way (account key; account key and person key; overflow records by owner and day;
person-level suppressions), and the same routing: a job change is applied first at the
person's previous account (`rules.core.champions.depart`), then at the new one with the
history it found. Offline tools (`rules explain`, `rules diff`, `rules report`), the chaos
verifier and the tests use it to say which windows a history opens and closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.core.champions import apply_contact, depart, previous_person_key
from rules.core.dedup import Spill
from rules.core.engine import Outcome, apply_signal, prospect_owner
from rules.core.fitcache import FitCache
from rules.core.outreach import ActivityOutcome, apply_outreach, replaced
from rules.core.state import AccountState, ProspectState, Suppression
from rules.rulebook.model import Rulebook
from signals.activity import Activity
from signals.contacts import CrmContact
from signals.identity import account_key, person_key, signal_account_key
from signals.models import SignalType
from signals.records import SignalRec, record_of
from signals.windows import ChampionHistory, WindowClosed, WindowOpened

__all__ = ["Replay", "replay"]


@dataclass
class Replay:
    """The state and windows after a replay. Mutable: call `apply` for more records.

    It is the engine's `StateView` of its own tables."""

    rulebook: Rulebook
    fits: FitCache | None = None
    accounts: dict[str, AccountState] = field(default_factory=dict)
    # account key (None: people known by no account) -> person key -> state
    prospects: dict[str | None, dict[str, ProspectState]] = field(default_factory=dict)
    spilled: dict[tuple[str, int], frozenset[int]] = field(default_factory=dict)
    suppressions: dict[str, Suppression] = field(default_factory=dict)  # by person key
    windows: list[WindowOpened] = field(default_factory=list)
    closed: list[WindowClosed] = field(default_factory=list)
    duplicates: int = 0
    too_late: int = 0

    # -- StateView ----------------------------------------------------------------------

    def prospect(self, account_key: str | None, person_key: str) -> ProspectState | None:
        return self.prospects.get(account_key, {}).get(person_key)

    def people(self, account_key: str) -> Iterable[ProspectState]:
        return list(self.prospects.get(account_key, {}).values())

    def overflow(self, owner: str, day: int) -> frozenset[int]:
        return self.spilled.get((owner, day), frozenset())

    def suppression(self, person_key: str) -> Suppression | None:
        return self.suppressions.get(person_key)

    # -- applying records ---------------------------------------------------------------

    def apply(self, signal: Any, now: datetime) -> Outcome:
        """Apply one signal (a record or a validated model) as the stream would."""
        rec = record_of(signal)
        history = self._departure(rec) if _moves_accounts(rec) else None
        key = signal_account_key(rec.account, rec.person)
        outcome = apply_signal(
            self.rulebook,
            rec,
            account=self.accounts.get(key) if key else None,
            view=self,
            now=now,
            history=history,
            fits=self.fits,
        )
        if outcome.verdict == "duplicate":
            self.duplicates += 1
        elif outcome.verdict == "too_late":
            self.too_late += 1
        if outcome.account is not None:
            self.accounts[outcome.account.account_key] = outcome.account
        people = self.prospects.setdefault(key, {})
        for pk, state in outcome.prospects.items():
            closed = replaced(people.get(pk), state, now)
            if closed is not None:
                self.closed.append(closed)
            people[pk] = state
        for owner, spill in outcome.spills:
            self._spill(owner, spill)
        self.windows.extend(outcome.windows)
        return outcome

    def apply_activity(self, activity: Activity, now: datetime) -> ActivityOutcome:
        key = signal_account_key(activity.account, activity.person)
        pk = person_key(activity.person)
        people = self.prospects.setdefault(key, {})
        owner = prospect_owner(key, pk)
        outcome = apply_outreach(
            self.rulebook,
            activity,
            prospect=people.get(pk),
            account=self.accounts.get(key) if key else None,
            now=now,
            suppression=self.suppressions.get(pk),
            overflow=lambda day: self.overflow(owner, day),
            fits=self.fits,
        )
        if outcome.verdict == "duplicate":
            self.duplicates += 1
        elif outcome.verdict == "too_late":
            self.too_late += 1
        if outcome.prospect is not None:
            people[pk] = outcome.prospect
        if outcome.suppression is not None:
            self.suppressions[pk] = outcome.suppression
        for spill in outcome.spills:
            self._spill(owner, spill)
        if outcome.closed is not None:
            self.closed.append(outcome.closed)
        if outcome.window is not None:
            self.windows.append(outcome.window)
        return outcome

    def apply_contact(self, contact: CrmContact) -> None:
        key = account_key(contact.account.domain)
        pk = person_key(contact.person)
        account, prospect = apply_contact(
            contact, account=self.accounts.get(key), prospect=self.prospect(key, pk)
        )
        if account is not None:
            self.accounts[key] = account
        if prospect is not None:
            self.prospects.setdefault(key, {})[pk] = prospect

    def _departure(self, rec: SignalRec) -> ChampionHistory:
        old = account_key(rec.properties.previous_account.domain)  # type: ignore[union-attr]
        pk = previous_person_key(rec)
        left = depart(
            self.rulebook, rec, account=self.accounts.get(old), prospect=self.prospect(old, pk)
        )
        if left.prospect is not None:
            self.prospects.setdefault(old, {})[pk] = left.prospect
        return left.history

    def _spill(self, owner: str, spill: Spill) -> None:
        if spill.drop:
            self.spilled.pop((owner, spill.day), None)
        else:
            held = self.spilled.get((owner, spill.day), frozenset())
            self.spilled[(owner, spill.day)] = held | frozenset(spill.fingerprints)


def _moves_accounts(rec: SignalRec) -> bool:
    """A job change naming a previous account other than the new one (routed through both)."""
    if rec.type != SignalType.JOB_CHANGED:
        return False
    previous = getattr(rec.properties, "previous_account", None)
    if previous is None:
        return False
    return account_key(previous.domain) != signal_account_key(rec.account, rec.person)


def replay(
    rulebook: Rulebook,
    signals: Iterable[Any],
    *,
    clock: Callable[[], datetime],
    fits: FitCache | None = None,
) -> Replay:
    """Apply `signals` in the order given (the order one partition would see them)."""
    result = Replay(rulebook, fits=fits)
    for signal in signals:
        result.apply(signal, clock())
    return result
