"""No input makes a stored person larger than 4 KiB (rules.core.budget), and holding them
to it changes no decision: only the reasons a window quotes are shed."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.core import dayset
from rules.core.budget import MAX_PROSPECT_BYTES, stored_roles, stored_stage
from rules.core.state import (
    MAX_SEEN_INLINE,
    Engagement,
    Notable,
    ProspectState,
    Seen,
    Stamps,
    decode_prospect,
    encode_state,
)
from rules.offline.worst import worst
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook
from signals.records import PersonRec

EXAMPLE = Path(__file__).parents[3] / "rules" / "examples" / "b2b_saas.yaml"
WIDE = "\U0001d538"  # four bytes of UTF-8, with no case
T0 = datetime(2026, 11, 1, tzinfo=UTC)
ANA = PersonRec(email="ana@acme.com", name="Ana")

# One to four bytes of UTF-8, with and without case, one whose upper case is two letters.
CHARS = st.sampled_from(["x", "é", "Ä", "€", "ß", "Ж", "中", "ǅ", WIDE, "\U00010400"])


@cache
def _rulebook() -> Rulebook:
    return load_rulebook(EXAMPLE)


@cache
def _worst(char: str, outreach: bool) -> ProspectState:
    return worst(_rulebook(), char=char, outreach=outreach)


def _without_notable(state: ProspectState) -> ProspectState:
    return msgspec.structs.replace(
        state, engagement=msgspec.structs.replace(state.engagement, notable=())
    )


def _round_trip(state: ProspectState) -> tuple[bytes, ProspectState]:
    data = encode_state(state)
    return data, decode_prospect(data, state.person_key, state.account_key)


@settings(max_examples=12, deadline=None)
@given(char=CHARS, outreach=st.booleans())
def test_the_worst_history_of_any_text_stores_at_most_4_kib(char: str, outreach: bool) -> None:
    """Texts and ids at their limits in any width, every rule firing every day, the most
    outreach history: at most 4 KiB, and what came back decides as the state did."""
    state = _worst(char, outreach)
    data, back = _round_trip(state)
    assert len(data) <= MAX_PROSPECT_BYTES
    assert _without_notable(back) == _without_notable(state)  # sums, ids, cadence, person
    kept, held = back.engagement.notable, state.engagement.notable
    assert kept[: len(kept) - 1] == held[: len(kept) - 1]  # the highest-ranked, in order
    assert kept, "the worst person constructed still keeps a reason"


def test_every_part_at_its_bound_at_once_fits_without_dropping_decision_data() -> None:
    """The by-design bounds add up: the worst engine-built sums and cadence, with the most
    remembered ids, stamps, roles, the longest stage and person, fit with room for a
    reason; the encoder sheds only kept contributions."""
    state = _worst(WIDE, True)
    upper = "\U00010400"  # four bytes, with case: an email kept as given, not as its key
    person = msgspec.structs.replace(state.person, email=upper * 29 + "@acme-data.example")
    assert state.cadence is not None
    stuffed = msgspec.structs.replace(
        state,
        person=person,
        seen=Seen(
            ids=bytes(range(256)) * (2 * MAX_SEEN_INLINE * 8 // 256),
            spilled=dayset.of(list(range(20_000, 20_090))),
        ),
        stamps=Stamps(tuple((1.7e9 + i / 7, 2**62 + i) for i in range(7)), bytes(range(7))),
        crm_roles=stored_roles(tuple(f"{i:02}{WIDE * 12}" for i in range(40))),
        cadence=msgspec.structs.replace(state.cadence, deal_stage=stored_stage(WIDE * 50)),
        departed_at=state.watermark,
        crm_roles_as_of=state.watermark,
        last_window_id="w_" + "f" * 24,
        open_window_id="w_" + "e" * 24,
        windows_opened=2**31,
    )
    assert len(encode_state(_without_notable(stuffed))) <= MAX_PROSPECT_BYTES - 200
    data, back = _round_trip(stuffed)
    assert len(data) <= MAX_PROSPECT_BYTES and back.engagement.notable


def _notable(n: int, text: str) -> Notable:
    return Notable(f"e{n}", 1, "pricing-page", T0, 10 - n, 3, text, ((0, text),))


def test_the_encoder_sheds_the_lowest_ranked_contributions_first() -> None:
    notable = tuple(_notable(n, "p" * 600) for n in range(5))
    state = ProspectState("ana@acme.com", "acme.com", ANA, Engagement(notable=notable))
    data, back = _round_trip(state)
    assert len(data) <= MAX_PROSPECT_BYTES
    assert back.engagement.notable == notable[:3]
    small = msgspec.structs.replace(state, engagement=Engagement(notable=notable[:2]))
    assert _round_trip(small)[1] == small  # under the bound: nothing shed


def test_the_last_contribution_loses_its_facts_before_it_goes() -> None:
    big = _notable(0, "p" * 3000)
    state = ProspectState("ana@acme.com", "acme.com", ANA, Engagement(notable=(big,)))
    _, back = _round_trip(state)
    assert back.engagement.notable == (msgspec.structs.replace(big, facts=(), detail=big.rule),)
