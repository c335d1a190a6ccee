"""Replay a history of signals and outreach activity through the pure core, no broker.

This is the same decision path the score agent runs, with the tables replaced by dicts
keyed the same way (account key, and account key plus person key). Offline tools (rules
explain, rules diff) and the tests use it to say which windows a history opens and closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rules.core.cadence import CadenceState
from rules.core.engine import Outcome, apply_signal
from rules.core.outreach import ActivityOutcome, apply_outreach, replaced
from rules.core.state import AccountState, ProspectState
from rules.rulebook.model import Rulebook
from signals.activity import Activity
from signals.identity import person_key, signal_account_key
from signals.models import Signal
from signals.windows import WindowClosed, WindowOpened

__all__ = ["Replay", "replay"]


@dataclass
class Replay:
    """The state and windows after a replay. Mutable: call `apply` for more signals."""

    rulebook: Rulebook
    accounts: dict[str, AccountState] = field(default_factory=dict)
    # account key (None: people known by no account) -> person key -> state
    prospects: dict[str | None, dict[str, ProspectState]] = field(default_factory=dict)
    cadence: dict[str | None, dict[str, CadenceState]] = field(default_factory=dict)
    windows: list[WindowOpened] = field(default_factory=list)
    closed: list[WindowClosed] = field(default_factory=list)
    duplicates: int = 0

    def apply(self, signal: Signal, now: datetime) -> Outcome:
        account_key = signal_account_key(signal.account, signal.person)
        people = self.prospects.setdefault(account_key, {})
        outcome = apply_signal(
            self.rulebook,
            signal,
            account=self.accounts.get(account_key) if account_key else None,
            prospects=people,
            now=now,
            cadence=self.cadence.setdefault(account_key, {}),
        )
        if outcome.duplicate:
            self.duplicates += 1
            return outcome
        if outcome.account is not None:
            self.accounts[outcome.account.account_key] = outcome.account
        for pk, state in outcome.prospects.items():
            closed = replaced(people.get(pk), state, now)
            if closed is not None:
                self.closed.append(closed)
            people[pk] = state
        self.windows.extend(outcome.windows)
        return outcome

    def apply_activity(self, activity: Activity, now: datetime) -> ActivityOutcome:
        account_key = signal_account_key(activity.account, activity.person)
        pk = person_key(activity.person)
        people = self.prospects.setdefault(account_key, {})
        cadence = self.cadence.setdefault(account_key, {})
        outcome = apply_outreach(
            self.rulebook,
            activity,
            cadence=cadence.get(pk),
            prospect=people.get(pk),
            account=self.accounts.get(account_key) if account_key else None,
            now=now,
        )
        if outcome.duplicate:
            self.duplicates += 1
            return outcome
        cadence[pk] = outcome.cadence
        if outcome.prospect is not None:
            people[pk] = outcome.prospect
        if outcome.closed is not None:
            self.closed.append(outcome.closed)
        if outcome.window is not None:
            self.windows.append(outcome.window)
        return outcome


def replay(
    rulebook: Rulebook, signals: Iterable[Signal], *, clock: Callable[[], datetime]
) -> Replay:
    """Apply `signals` in the order given (the order one partition would see them)."""
    result = Replay(rulebook)
    for signal in signals:
        result.apply(signal, clock())
    return result
