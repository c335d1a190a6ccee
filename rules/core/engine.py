"""The decision core: apply one signal to the stored state and decide which windows open.

The stream agent calls `apply_signal` once per decoded signal, with the account state and
a lazy view of the prospect table for the signal's partition (the account key), then stores
what the `Outcome` says changed and publishes its windows. Pure: no I/O, no clock (`now`
is injected and only stamps `opened_at`); it does not raise on validated input.

Person-level signals (email opened, job changed, a page visit naming a person) update that
prospect; account-level signals (funding, a page visit naming only an account) update the
account and re-evaluate every known person there, in sorted person-key order.

Order independence. Scoring uses event time only, contributions are kept sorted, and the
merge of attributes keeps the newest value per field (`rules.core.merge`), so the same events in
any order give the same prospect and account states, except for the window bookkeeping
(`last_window_at`, `last_window_id`, `windows_opened`): *whether* a window opened along the
way depends on what had arrived when it was evaluated. Bounded memories (`rules.core.state`)
are the other exception, at their limits.

Matching an engagement rule reads the event's own facts (its person, account and
properties), not the merged ones, so a contribution never depends on what arrived before.
Fit reads the merged person and, when the person is at the account being applied, the
account state's account (what all its people's events said), else the prospect's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.core.cadence import CadenceState
from rules.core.champions import champion_facts
from rules.core.decide import Suppressed, evaluate_window
from rules.core.draft import DRAFT_FACT_KEYS
from rules.core.facts import facts_for
from rules.core.merge import merge_account, merge_person, merge_prospect_account
from rules.core.scoring import (
    match_engagement_rule,
    match_trigger,
    render_detail,
)
from rules.core.state import (
    MAX_PEOPLE,
    MAX_SEEN,
    AccountState,
    Contribution,
    ProspectState,
    Stamp,
    add_contribution,
    is_seen,
    remember,
)
from rules.rulebook.model import EngagementRule, Rulebook
from signals.identity import person_key, signal_account_key
from signals.models import Account, FundingAnnounced, PageVisited, Signal
from signals.windows import (
    ChampionHistory,
    WindowOpened,
)

__all__ = ["Outcome", "Suppressed", "apply_signal"]


@dataclass(frozen=True, slots=True)
class Outcome:
    duplicate: bool  # event_id already applied: nothing changed
    account: AccountState | None  # new account state to store, None = unchanged
    prospects: Mapping[str, ProspectState]  # changed prospect states by person key
    windows: tuple[WindowOpened, ...]
    suppressed: tuple[Suppressed, ...]
    rule: str | None  # engagement rule that scored the event, if any


_DUPLICATE = Outcome(
    duplicate=True, account=None, prospects={}, windows=(), suppressed=(), rule=None
)


def apply_signal(
    rulebook: Rulebook,
    signal: Signal,
    *,
    account: AccountState | None,
    prospects: Mapping[str, ProspectState],
    now: datetime,
    history: ChampionHistory | None = None,
    cadence: Mapping[str, CadenceState] | None = None,
) -> Outcome:
    """Apply one signal. `prospects` is only read with `.get`; `now` is UTC wall-clock time.

    `account` is the stored state for the signal's account key; a state for another key is
    ignored (treated as absent). `history` comes with a job change forwarded from the
    person's previous account (`rules.core.champions.depart`). `cadence` looks up what outreach
    tools reported per person key (`rules.core.cadence`); only `.get` is used.
    """
    cadence = cadence if cadence is not None else {}
    key = signal_account_key(signal.account, signal.person)
    if account is not None and account.account_key != key:
        account = None
    if isinstance(signal, FundingAnnounced) or (
        isinstance(signal, PageVisited) and signal.person is None
    ):
        assert key is not None and signal.account is not None  # the models guarantee it
        return _apply_account_signal(
            rulebook, signal, key, signal.account, account, prospects, now, cadence
        )
    return _apply_person_signal(rulebook, signal, key, account, prospects, now, history, cadence)


def _apply_person_signal(
    rulebook: Rulebook,
    signal: Signal,
    key: str | None,
    account: AccountState | None,
    prospects: Mapping[str, ProspectState],
    now: datetime,
    history: ChampionHistory | None,
    cadence: Mapping[str, CadenceState],
) -> Outcome:
    assert signal.person is not None  # person-level signals carry one
    pk = person_key(signal.person)
    at_event = signal.occurred_at
    previous = prospects.get(pk)
    if previous is not None and is_seen(previous.seen_event_ids, signal.event_id, at_event):
        # The prospect is this event's dedup marker. Its one other effect, on the account
        # (the person among its people, merged attributes), is idempotent: re-apply it, so
        # that a crash which kept the prospect but lost the account write heals on redelivery.
        touched = _touched_account(rulebook, account, key, signal, pk) if key else None
        return Outcome(
            duplicate=True,
            account=touched if touched is not None and touched != account else None,
            prospects={},
            windows=(),
            suppressed=(),
            rule=None,
        )

    facts = facts_for(signal, signal.person, signal.account) | champion_facts(history)
    rule = match_engagement_rule(rulebook, signal, facts)
    contribution = _contribution(rulebook, rule, signal, facts) if rule is not None else None
    prospect = _merged_prospect(rulebook, previous, pk, signal, contribution)

    new_account = None
    if key is not None:
        new_account = _touched_account(rulebook, account, key, signal, pk)
    state, window, suppressed = evaluate_window(
        rulebook,
        prospect,
        new_account,
        prospect.watermark or at_event,
        signal.event_id,
        now,
        cadence=cadence.get(pk),
        trigger=match_trigger(
            rulebook, signal, facts, contributions=prospect.contributions, current=contribution
        ),
        trigger_rule=rule.name if rule is not None else None,
        history=history,
    )
    return Outcome(
        duplicate=False,
        account=new_account if new_account != account else None,
        prospects={pk: state},
        windows=(window,) if window is not None else (),
        suppressed=(suppressed,) if suppressed is not None else (),
        rule=rule.name if rule is not None else None,
    )


def _apply_account_signal(
    rulebook: Rulebook,
    signal: Signal,
    key: str,
    named: Account,
    account: AccountState | None,
    prospects: Mapping[str, ProspectState],
    now: datetime,
    cadence: Mapping[str, CadenceState],
) -> Outcome:
    at_event = signal.occurred_at
    if account is not None and is_seen(account.seen_event_ids, signal.event_id, at_event):
        return _DUPLICATE
    facts = facts_for(signal, None, named)
    rule = match_engagement_rule(rulebook, signal, facts)
    contribution = _contribution(rulebook, rule, signal, facts) if rule is not None else None
    state = _touched_account(rulebook, account, key, signal, None, contribution)
    if rule is None or contribution is None:
        # Nothing scored: no one's engagement moved, so no one is re-evaluated.
        return Outcome(False, state, {}, (), (), None)

    # Everyone known at the account is assessed; the best `max_windows_per_signal` by total
    # score get a window, the first with the account rule's play (funding, say) and the
    # rest multi-threading.
    candidates: list[tuple[ProspectState, datetime, WindowOpened]] = []
    suppressed: list[Suppressed] = []
    for pk in sorted(state.people):
        prospect = prospects.get(pk)
        if prospect is None or prospect.account_key != key:
            continue  # unknown here, or moved to another account since
        at = max(prospect.watermark or at_event, at_event)
        _, window, why = evaluate_window(
            rulebook,
            prospect,
            state,
            at,
            signal.event_id,
            now,
            cadence=cadence.get(pk),
            trigger_rule=rule.name,
            play=rule.play,
        )
        if window is not None:
            candidates.append((prospect, at, window))
        if why is not None:
            suppressed.append(why)
    candidates.sort(key=lambda c: (-c[2].score.total, c[0].person_key))
    limit = rulebook.accounts.max_windows_per_signal
    changed: dict[str, ProspectState] = {}
    windows: list[WindowOpened] = []
    for rank, (prospect, at, _assessed) in enumerate(candidates):
        if rank >= limit:
            suppressed.append(Suppressed(prospect.person_key, "account_limit"))
            continue
        new, opened, _ = evaluate_window(
            rulebook,
            prospect,
            state,
            at,
            signal.event_id,
            now,
            cadence=cadence.get(prospect.person_key),
            trigger_rule=rule.name,
            play=rule.play if rank == 0 else "multi_thread",
        )
        assert opened is not None  # same inputs as the assessment above
        windows.append(opened)
        changed[prospect.person_key] = new
    return Outcome(False, state, changed, tuple(windows), tuple(suppressed), rule.name)


def _contribution(
    rulebook: Rulebook, rule: EngagementRule, signal: Signal, facts: Mapping[str, Any]
) -> Contribution:
    kept = {k: _fact_text(facts[k]) for k in DRAFT_FACT_KEYS if k in facts}
    return Contribution.model_construct(
        event_id=signal.event_id,
        signal_type=signal.type,
        rule=rule.name,
        points=rule.points,
        half_life_days=rule.half_life_days or rulebook.engagement.default_half_life_days,
        cap=rule.cap,
        cap_per_day=rule.cap_per_day,
        within_days=rule.within_days,
        occurred_at=signal.occurred_at,
        detail=render_detail(rule.detail, facts),
        play=rule.play,
        facts=kept,
    )


def _merged_prospect(
    rulebook: Rulebook,
    previous: ProspectState | None,
    pk: str,
    signal: Signal,
    contribution: Contribution | None,
) -> ProspectState:
    assert signal.person is not None
    stamp: Stamp = (signal.occurred_at, signal.event_id)
    stamps = previous.attributes_as_of if previous is not None else {}
    person, stamps = merge_person(
        previous.person if previous is not None else None, signal.person, stamps, stamp
    )
    account = previous.account if previous is not None else None
    if signal.account is not None:
        account, stamps = merge_prospect_account(account, signal.account, stamps, stamp)
    watermark = signal.occurred_at
    if previous is not None and previous.watermark is not None:
        watermark = max(watermark, previous.watermark)
    values: dict[str, Any] = {
        "person_key": pk,
        "account_key": signal_account_key(account, person),
        "person": person,
        "account": account,
        "contributions": add_contribution(
            previous.contributions if previous is not None else (),
            contribution,
            watermark,
            rulebook.engagement.horizon_days,
        ),
        "seen_event_ids": remember(
            previous.seen_event_ids if previous is not None else {},
            signal.event_id,
            signal.occurred_at,
            MAX_SEEN,
        ),
        "watermark": watermark,
        "attributes_as_of": stamps,
    }
    if previous is None:
        return ProspectState.model_construct(
            last_window_at=None, last_window_id=None, windows_opened=0, **values
        )
    return previous.model_copy(update=values)


def _touched_account(
    rulebook: Rulebook,
    state: AccountState | None,
    key: str,
    signal: Signal,
    pk: str | None,
    contribution: Contribution | None = None,
) -> AccountState:
    """The account state after `signal`: merged account, newer watermark, and either the
    person added to `people` (person-level) or the event remembered and scored (account)."""
    stamp: Stamp = (signal.occurred_at, signal.event_id)
    if state is None:
        state = AccountState.model_construct(
            account_key=key,
            account=signal.account or Account.model_construct(domain=key),
            contributions=(),
            seen_event_ids={},
            watermark=None,
            people={},
            attributes_as_of={},
        )
    update: dict[str, Any] = {}
    if signal.account is not None:
        merged, stamps = merge_account(state.account, signal.account, state.attributes_as_of, stamp)
        if stamps is not state.attributes_as_of:
            update["account"] = merged
            update["attributes_as_of"] = stamps
    watermark = state.watermark
    if watermark is None or signal.occurred_at > watermark:
        watermark = signal.occurred_at
        update["watermark"] = watermark
    if pk is not None:
        people = remember(state.people, pk, signal.occurred_at, MAX_PEOPLE)
        if people is not state.people:
            update["people"] = people
    else:
        update["seen_event_ids"] = remember(
            state.seen_event_ids, signal.event_id, signal.occurred_at, MAX_SEEN
        )
    contributions = add_contribution(
        state.contributions, contribution, watermark, rulebook.engagement.horizon_days
    )
    if contributions != state.contributions:
        update["contributions"] = contributions
    return state.model_copy(update=update) if update else state


def _fact_text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)
