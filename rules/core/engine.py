"""The decision core: apply one signal to the stored state and decide which windows open.

The stream glue calls `apply_signal` once per signal record, on the partition that owns the
signal's account, with the account's state and a `StateView` of that partition's other
state; it stores what the `Outcome` says changed and publishes its windows. Pure: no I/O,
no clock (`now` is injected); it does not raise on validated input.

Person-level signals (email opened, job changed, a page visit naming a person) update that
prospect; account-level signals (funding, a page visit naming only an account) update the
account and assess every person stored under it (fan-out).

Verdicts, checked first:

- `too_late`: the event's UTC day is `horizon_days` or more before the state's reference
  (its watermark, or `now` when later): it can no longer count. Not a duplicate.
- `duplicate`: its fingerprint (`rules.core.state.fingerprint`: kind, source, event id)
  was applied before. Nothing changes, except that a person-level duplicate re-applies its
  idempotent effect on the account (merged attributes), which heals a crash that kept the
  prospect but lost the account write.

Order independence: scoring uses event time only, the sums and the merged attributes do
not depend on arrival order, so the same events in any order give the same prospect and
account states, except for the window bookkeeping (*whether* a window opened depends on
what had arrived when it was evaluated).

Matching an engagement rule reads the event's own facts (its person, account and
properties), not the merged ones, so a contribution never depends on what arrived before.
Fit reads the merged person and the account state's account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol

import msgspec

from rules.core import engagement as eng
from rules.core.assessment import screen, surely_below
from rules.core.cadence import merge_suppressions
from rules.core.champions import champion_facts, previous_person_key
from rules.core.contribution import contribution_of
from rules.core.decide import Suppressed, TriggerRef, assess, evaluation_time, open_window
from rules.core.dedup import Overflow, Spill, is_too_late, prune_seen, remember, seen_before
from rules.core.facts import event_reads, facts_for
from rules.core.fitcache import FitCache
from rules.core.merge import merge_account, merge_person
from rules.core.scoring import match_engagement_rule, match_trigger
from rules.core.state import (
    AccountState,
    ProspectState,
    Stamp,
    Suppression,
    fingerprint,
)
from rules.rulebook.model import Rulebook
from signals.identity import person_key, signal_account_key
from signals.models import SignalType
from signals.records import AccountRec, SignalRec, record_of
from signals.windows import ChampionHistory, WindowOpened

__all__ = [
    "Outcome",
    "StateView",
    "Suppressed",
    "Verdict",
    "account_owner",
    "apply_signal",
    "prospect_owner",
]

Verdict = Literal["applied", "duplicate", "too_late"]


class StateView(Protocol):
    """What the engine may read of a partition besides the signal's account state."""

    def prospect(self, account_key: str | None, person_key: str) -> ProspectState | None: ...

    def people(self, account_key: str) -> Iterable[ProspectState]:
        """Every prospect stored under the account (fan-out), in any order."""
        ...

    def overflow(self, owner: str, day: int) -> frozenset[int]:
        """Fingerprints spilled for one state and day (`rules.core.dedup`)."""
        ...

    def suppression(self, person_key: str) -> Suppression | None:
        """What follows the person from every account (opt-out, bounces, replies)."""
        ...


class Outcome(msgspec.Struct, frozen=True):
    verdict: Verdict
    account: AccountState | None = None  # new account state to store, None = unchanged
    prospects: Mapping[str, ProspectState] = msgspec.field(default_factory=dict)  # changed, by key
    windows: tuple[WindowOpened, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()
    rule: str | None = None  # engagement rule that scored the event, if any
    spills: tuple[tuple[str, Spill], ...] = ()  # (owner, overflow change) to store

    @property
    def duplicate(self) -> bool:
        return self.verdict == "duplicate"


def prospect_owner(account_key: str | None, pk: str) -> str:
    """The owner id of a prospect's overflow records (the prospect's table key)."""
    return f"{account_key or ''}|{pk}"


def account_owner(account_key: str) -> str:
    return account_key


def apply_signal(
    rulebook: Rulebook,
    signal: Any,
    *,
    account: AccountState | None,
    view: StateView,
    now: datetime,
    history: ChampionHistory | None = None,
    fits: FitCache | None = None,
) -> Outcome:
    """Apply one signal (a `SignalRec`, or a validated `signals.models` signal).

    `account` is the stored state for the signal's account key; a state for another key is
    ignored. `history` comes with a job change forwarded from the person's previous account
    (`rules.core.champions.depart`). `fits` is the caller's fit memo, if any.
    """
    rec = record_of(signal)
    key = signal_account_key(rec.account, rec.person)
    if account is not None and account.account_key != key:
        account = None
    if rec.type == SignalType.FUNDING_ANNOUNCED or (
        rec.type == SignalType.PAGE_VISITED and rec.person is None
    ):
        assert key is not None and rec.account is not None  # the models guarantee it
        return _account_signal(rulebook, rec, key, rec.account, account, view, now, fits)
    return _person_signal(rulebook, rec, key, account, view, now, history, fits)


def _person_signal(
    rulebook: Rulebook,
    signal: SignalRec,
    key: str | None,
    account: AccountState | None,
    view: StateView,
    now: datetime,
    history: ChampionHistory | None,
    fits: FitCache | None,
) -> Outcome:
    assert signal.person is not None  # person-level signals carry one
    pk = person_key(signal.person)
    horizon = rulebook.engagement.horizon_days
    previous = view.prospect(key, pk)
    owner = prospect_owner(key, pk)
    fp = fingerprint("signal", signal.source, signal.event_id)
    day = eng.day_of(signal.occurred_at)
    watermark = previous.watermark if previous is not None else None
    if is_too_late(day, eng.day_of(max(watermark or now, now)), horizon):
        return Outcome("too_late")
    if previous is not None and seen_before(previous.seen, fp, day, _overflow(view, owner)):
        touched = _touched_account(account, key, signal, fp) if key is not None else None
        return Outcome("duplicate", account=touched if touched != account else None)

    facts = facts_for(
        signal, signal.person, signal.account, reads=event_reads(rulebook, signal.type)
    )
    if history is not None:
        facts |= champion_facts(history)
    rule = match_engagement_rule(rulebook, signal, facts)
    contribution = contribution_of(rulebook, rule, signal, facts) if rule is not None else None
    new_account = _touched_account(account, key, signal, fp) if key is not None else None
    prospect, spills = _merged_prospect(rulebook, previous, key, pk, signal, fp, contribution)
    at = evaluation_time(prospect, new_account)
    trigger = match_trigger(
        rulebook, signal, facts, sums=prospect.engagement.sums, current=contribution
    )
    # Most signals stay below the threshold: unscored when caps prove it, else screened.
    window = None
    state = prospect
    suppressed: Suppressed | None = None
    first = None
    if not (
        eng.trimmed(prospect.engagement, at.timestamp(), horizon)
        and surely_below(rulebook, prospect, new_account, trigger=trigger, fits=fits)
    ):
        first = screen(rulebook, prospect, new_account, at, trigger=trigger, fits=fits)
    if first is None:
        suppressed = Suppressed(pk, "below_threshold")
    elif first[6] is not None:
        suppressed = Suppressed(pk, first[6])
        state = _trimmed(state, first[4])
    else:
        a = assess(
            rulebook,
            prospect,
            new_account,
            at,
            now,
            trigger_at=signal.occurred_at,
            cadence=prospect.cadence,
            suppression=_suppression(view, signal, pk),
            trigger=trigger,
            trigger_rule=rule.name if rule is not None else None,
            fits=fits,
            screened=first,
        )
        suppressed = a.suppressed
        if suppressed is None:
            state, window = open_window(
                rulebook,
                a,
                TriggerRef(signal.source, signal.event_id, signal.occurred_at),
                now,
                cadence=prospect.cadence,
                history=history,
            )
        state = _trimmed(state, first[4])
    return Outcome(
        "applied",
        account=new_account if new_account != account else None,
        prospects={pk: state},
        windows=(window,) if window is not None else (),
        suppressed=(suppressed,) if suppressed is not None else (),
        rule=rule.name if rule is not None else None,
        spills=tuple((owner, s) for s in spills),
    )


def _account_signal(
    rulebook: Rulebook,
    signal: SignalRec,
    key: str,
    named: AccountRec,
    account: AccountState | None,
    view: StateView,
    now: datetime,
    fits: FitCache | None,
) -> Outcome:
    horizon = rulebook.engagement.horizon_days
    fp = fingerprint("signal", signal.source, signal.event_id)
    day = eng.day_of(signal.occurred_at)
    watermark = account.watermark if account is not None else None
    if is_too_late(day, eng.day_of(max(watermark or now, now)), horizon):
        return Outcome("too_late")
    owner = account_owner(key)
    if account is not None and seen_before(account.seen, fp, day, _overflow(view, owner)):
        return Outcome("duplicate")
    facts = facts_for(signal, None, named, reads=event_reads(rulebook, signal.type))
    rule = match_engagement_rule(rulebook, signal, facts)
    contribution = contribution_of(rulebook, rule, signal, facts) if rule is not None else None
    state = _touched_account(account, key, signal, fp)
    seen, spills = remember(state.seen, fp, day)
    mark = max(state.watermark or signal.occurred_at, signal.occurred_at)
    engaged = state.engagement
    if contribution is not None:
        engaged = eng.add(engaged, contribution, recent=rulebook.recent_for(contribution.rule))
    engaged = eng.prune(engaged, mark, horizon)
    engaged = eng.trim(engaged, eng.score(engaged.sums, mark, horizon))
    seen, drops = prune_seen(seen, eng.day_of(mark), horizon)
    state = msgspec.structs.replace(state, seen=seen, watermark=mark, engagement=engaged)
    out_spills = tuple((owner, s) for s in (*spills, *drops))
    if rule is None:
        # Nothing scored: no one's engagement moved, so no one is assessed.
        return Outcome("applied", account=state, spills=out_spills)

    # Everyone at the account is assessed once; the best `max_windows_per_signal` by total
    # score get a window, the first with the account rule's play (funding, say), the rest
    # the multi-threading play with the same timing.
    trigger = TriggerRef(signal.source, signal.event_id, signal.occurred_at)
    passed = []
    suppressed: list[Suppressed] = []
    for prospect in sorted(view.people(key), key=lambda p: p.person_key):
        if prospect.departed_at is not None:
            continue  # moved to another account
        a = assess(
            rulebook,
            prospect,
            state,
            evaluation_time(prospect, state),
            now,
            trigger_at=signal.occurred_at,
            cadence=prospect.cadence,
            suppression=view.suppression(prospect.person_key),
            trigger_rule=rule.name,
            play=rule.play,
            fits=fits,
        )
        if a.suppressed is None:
            passed.append(a)
        else:
            suppressed.append(a.suppressed)
    passed.sort(key=lambda a: (-a.total, a.prospect.person_key))
    limit = rulebook.accounts.max_windows_per_signal
    changed: dict[str, ProspectState] = {}
    windows: list[WindowOpened] = []
    for rank, a in enumerate(passed):
        pk = a.prospect.person_key
        if rank >= limit:
            suppressed.append(Suppressed(pk, "account_limit"))
            continue
        new, window = open_window(
            rulebook,
            a,
            trigger,
            now,
            cadence=a.prospect.cadence,
            play=None if rank == 0 else "multi_thread",
        )
        windows.append(window)
        changed[pk] = new
    return Outcome(
        "applied", state, changed, tuple(windows), tuple(suppressed), rule.name, out_spills
    )


def _merged_prospect(
    rulebook: Rulebook,
    previous: ProspectState | None,
    key: str | None,
    pk: str,
    signal: SignalRec,
    fp: int,
    contribution: eng.Contribution | None,
) -> tuple[ProspectState, tuple[Spill, ...]]:
    assert signal.person is not None
    horizon = rulebook.engagement.horizon_days
    stamp: Stamp = (signal.occurred_at.timestamp(), fp)
    base = previous if previous is not None else ProspectState(pk, key, signal.person)
    person, stamps = merge_person(
        previous.person if previous is not None else None, signal.person, base.stamps, stamp
    )
    watermark = max(base.watermark or signal.occurred_at, signal.occurred_at)
    engaged = base.engagement
    if contribution is not None:
        engaged = eng.add(engaged, contribution, recent=rulebook.recent_for(contribution.rule))
    engaged = eng.prune(engaged, watermark, horizon)
    seen, spills = remember(base.seen, fp, eng.day_of(signal.occurred_at))
    seen, drops = prune_seen(seen, eng.day_of(watermark), horizon)
    departed = base.departed_at
    if departed is not None and signal.occurred_at > departed:
        departed = None  # active here again after a move
    state = msgspec.structs.replace(
        base,
        person=person,
        stamps=stamps,
        watermark=watermark,
        engagement=engaged,
        seen=seen,
        departed_at=departed,
    )
    return state, (*spills, *drops)


def _trimmed(state: ProspectState, scored: eng.Scored) -> ProspectState:
    """The state keeping the contributions worth most on the score just computed."""
    engagement = eng.trim(state.engagement, scored)
    if engagement is state.engagement:
        return state
    return msgspec.structs.replace(state, engagement=engagement)


def _touched_account(
    state: AccountState | None, key: str | None, signal: SignalRec, fp: int
) -> AccountState:
    """The account state after `signal` (fingerprint `fp`) merged its account attributes
    (if it names one)."""
    assert key is not None
    stamp: Stamp = (signal.occurred_at.timestamp(), fp)
    if state is None:
        state = AccountState(key, AccountRec(key))  # then merged: every field stamped
    if signal.account is None:
        return state
    # The domain is the account's identity: always its normalised key, never merged.
    incoming = signal.account
    if incoming.domain != key:
        incoming = msgspec.structs.replace(incoming, domain=key)
    merged, stamps = merge_account(state.account, incoming, state.stamps, stamp)
    if stamps is state.stamps:
        return state
    return msgspec.structs.replace(state, account=merged, stamps=stamps)


def _suppression(view: StateView, signal: SignalRec, pk: str) -> Suppression | None:
    """The person's suppression; for a job change under a new email, the old one's too."""
    current = view.suppression(pk)
    if signal.type == SignalType.JOB_CHANGED and getattr(signal.properties, "previous_email", None):
        old = previous_person_key(signal)
        if old != pk:
            current = merge_suppressions(current, view.suppression(old))
    return current


def _overflow(view: StateView, owner: str) -> Overflow:
    return lambda day: view.overflow(owner, day)
