"""Stored state: our own versioned bytes, read back without validation, and read back by
the next version too (committed fixtures of every format version)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rules.core import dayset
from rules.core.state import (
    FACT_KEYS,
    FORMAT_VERSION,
    KNOWN_VERSIONS,
    PLAYS,
    SIGNAL_TYPES,
    AccountState,
    CadenceState,
    DaySum,
    Engagement,
    Notable,
    Period,
    ProspectState,
    RuleSum,
    Seen,
    Stamps,
    StateFormatError,
    Suppression,
    day_number,
    decode_account,
    decode_prospect,
    decode_suppression,
    encode_state,
    fingerprint,
    suppression_key,
)
from rules.core.touches import Touch, pack
from signals.records import AccountRec, PersonRec

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"


def _fp48(kind: str, source: str, event_id: str) -> bytes:
    return fingerprint(kind, source, event_id).to_bytes(8, "big")[2:]


def prospect(version: int = FORMAT_VERSION) -> ProspectState:
    """A prospect with every part of the state filled in (the fixture's content), as the
    format `version` could hold it (format 1 had no folded periods)."""
    fp = fingerprint("signal", "web", "e1")
    periods = (Period(20146, 3.5, 2, 1),) if version >= 2 else ()
    return ProspectState(
        person_key="ana@acme.com",
        account_key="acme.com",
        person=PersonRec(email="ana@acme.com", name="Ana", timezone="Europe/Berlin"),
        engagement=Engagement(
            sums=(
                RuleSum(
                    rule="pricing_visit",
                    half_life_days=3,
                    within_days=None,
                    capped_per_day=True,
                    cap=60,
                    play_code=PLAYS.index("signal_triggered"),
                    newest=T0.timestamp(),
                    days=(DaySum(20150, 26.7, 25, 40),),
                    recent=(T0.timestamp(),),
                    value=26.7 + (3.5 * 2 ** (-4 / 3) if periods else 0.0),
                    anchor=20150,
                    periods=periods,
                ),
            ),
            notable=(
                Notable(
                    "e1",
                    SIGNAL_TYPES.index("page_visited"),
                    "pricing_visit",
                    T0,
                    25,
                    3,
                    "Visited /pricing",
                    ((FACT_KEYS.index("properties.path"), "/pricing"),),
                ),
            ),
            last_positive=T0,
        ),
        seen=Seen(
            ids=(20150).to_bytes(2, "big") + fp.to_bytes(8, "big")[2:],
            spilled=dayset.of([20149]),
        ),
        watermark=T0,
        stamps=Stamps(table=((T0.timestamp(), fp),), index=bytes([0, 255, 0])),
        last_window_at=T0,
        last_window_id="w_1",
        windows_opened=1,
        crm_roles=("champion",),
        crm_roles_as_of=T0,
        open_window_id="w_1",
        open_window_expires_at=T0,
        cadence=CadenceState(
            touches=pack(Touch(T0, "email", "signal_triggered")),
            replied_at=T0,
            vacation_days=((day_number(date(2025, 3, 10)), day_number(date(2025, 3, 14))),),
        ),
    )


def account() -> AccountState:
    return AccountState(
        account_key="acme.com",
        account=AccountRec("acme.com", "Acme", "software", 400, "US", ("kafka", "dbt")),
        seen=Seen(
            ids=(20150).to_bytes(2, "big")
            + fingerprint("signal", "news", "f1").to_bytes(8, "big")[2:]
        ),
        watermark=T0,
    )


def _decode_ana(data: bytes) -> ProspectState:
    return decode_prospect(data, "ana@acme.com", "acme.com")


@pytest.mark.parametrize(
    ("state", "decode"),
    [(prospect(), _decode_ana), (account(), decode_account)],
    ids=["prospect", "account"],
)
def test_bytes_round_trip_and_carry_the_format_version(state: object, decode: object) -> None:
    data = encode_state(state)  # type: ignore[arg-type]
    assert data[0] == FORMAT_VERSION
    again = decode(data)  # type: ignore[operator]
    assert again == state
    assert encode_state(again) == data


def test_equal_states_give_equal_bytes() -> None:
    assert encode_state(prospect()) == encode_state(prospect())


@pytest.mark.parametrize(
    "data",
    [b"", b"\x09" + encode_state(prospect())[1:], b"\x01\xc1", b'{"person_key": 1}'],
    ids=["empty", "unknown-version", "not-msgpack", "json"],
)
def test_foreign_bytes_are_a_format_error(data: bytes) -> None:
    with pytest.raises(StateFormatError):
        _decode_ana(data)


@pytest.mark.parametrize(
    ("name", "expected", "decode"),
    [("prospect", prospect, _decode_ana), ("account", lambda _: account(), decode_account)],
)
def test_every_committed_format_version_still_decodes(
    name: str, expected: Any, decode: Any
) -> None:
    """Fixtures were written by the version that introduced each format. A change to the
    state that breaks them needs a new FORMAT_VERSION and a reader for the old one."""
    versions = {
        int(p.name.split(".v")[1].split(".")[0]): p for p in FIXTURES.glob(f"{name}.v*.bin")
    }
    assert sorted(versions) == sorted(KNOWN_VERSIONS), f"a fixture per version for {name}"
    for version, path in versions.items():
        data = path.read_bytes()
        assert data[0] == version
        assert decode(data) == expected(version), path.name


def test_a_format_1_state_is_read_as_the_current_format_and_written_as_it() -> None:
    """Convert on read: the spilled days become a dayset; the next write is format 4."""
    old = _decode_ana((FIXTURES / "prospect.v1.bin").read_bytes())
    assert dayset.days(old.seen.spilled) == [20149]
    assert old.engagement.sums[0].periods == ()
    data = encode_state(old)
    assert data[0] == FORMAT_VERSION == 4
    assert _decode_ana(data) == old


def test_a_format_2_cadence_is_read_packed() -> None:
    """Touches lose their ids, vacations become day numbers, and an event id that ordered
    a booking or a deal stage becomes fingerprint 0 (its source was never stored)."""
    data = (FIXTURES / "prospect.v2.bin").read_bytes()
    raw = msgspec.msgpack.decode(data[1:])
    cadence = raw[15]
    assert cadence[0] == [[T0, "t1", "email", "signal_triggered", "w_1", True]]  # v2's
    cadence[0].insert(0, [T0, "t0", "sms", "breakup", None, False])
    cadence[4:9] = [[T0, "m1"], None, None, "open", [T0, "d1"]]
    old = _decode_ana(b"\x02" + msgspec.msgpack.encode(raw))
    assert old.cadence is not None
    assert old.cadence.touches == pack(Touch(T0, "email", "signal_triggered")) + pack(
        Touch(T0, "sms", "breakup", value_touch=False)
    )
    assert old.cadence.vacations == ((date(2025, 3, 10), date(2025, 3, 14)),)
    assert old.cadence.meeting_booked == (T0, 0)
    assert (old.cadence.deal_stage, old.cadence.deal_stage_as_of) == ("open", (T0, 0))
    assert _decode_ana(encode_state(old)) == old


def test_a_format_3_prospect_keeps_its_account_key_and_is_written_without_it() -> None:
    """Format 3 held the account key whole; format 4 leaves it to the table key."""
    data = (FIXTURES / "prospect.v3.bin").read_bytes()
    old = decode_prospect(data, "ana@acme.com", None)  # what it holds wins over the caller
    assert old.account_key == "acme.com" and old == prospect(3)
    again = encode_state(old)
    assert again[0] == 4 and b"acme.com" not in again.replace(b"ana@acme.com", b"")
    assert _decode_ana(again) == old
    assert len(again) < len(data)
    keyless = msgspec.structs.replace(old, account_key=None)
    assert decode_prospect(encode_state(keyless), "ana@acme.com", None) == keyless


@pytest.mark.parametrize(
    ("key", "email", "stored"),
    [
        ("ana@acme.com", "ana@acme.com", False),  # the key: left out, put back
        ("ana@acme.com", "Ana@ACME.com", True),  # as given differs from the key: kept
        ("id:crm-7", "", True),  # an empty email of a person keyed by id stays empty
        ("id:crm-7", None, False),
    ],
)
def test_the_email_is_stored_only_where_the_key_does_not_say_it(
    key: str, email: str | None, stored: bool
) -> None:
    state = ProspectState(key, "acme.com", PersonRec(email=email, id="crm-7", name="Ana"))
    data = encode_state(state)
    assert decode_prospect(data, key, "acme.com") == state
    assert (b"Ana@ACME.com" in data or b"ana@acme.com" in data) == (stored and bool(email))


def test_a_newer_writer_with_an_added_field_is_still_readable() -> None:
    """Rollback: fields are only ever added at the end, so an older reader skips them."""

    class NewerSeen(msgspec.Struct, array_like=True, frozen=True):
        ids: bytes = b""
        spilled: bytes = b""
        added_later: str = "x"

    newer = prospect()
    data = bytearray(encode_state(newer))
    raw_seen = msgspec.msgpack.encode(NewerSeen(newer.seen.ids, newer.seen.spilled))
    old_seen = msgspec.msgpack.encode(newer.seen)
    data = bytearray(bytes(data).replace(old_seen, raw_seen, 1))
    assert _decode_ana(bytes(data)) == newer


def test_states_are_frozen() -> None:
    with pytest.raises(AttributeError):
        prospect().windows_opened = 2  # type: ignore[misc]


def test_fingerprint_keys_on_source_and_kind_as_well_as_id() -> None:
    a = fingerprint("signal", "esp", "evt-1001")
    assert a == fingerprint("signal", "esp", "evt-1001")
    assert a != fingerprint("signal", "crm", "evt-1001")
    assert a != fingerprint("activity", "esp", "evt-1001")
    assert 0 <= a < 2**63


def test_suppression_key_holds_no_personal_data_and_depends_on_the_salt() -> None:
    key = suppression_key("ana@acme.com", "salt-1")
    assert "ana" not in key and "acme" not in key
    assert key == suppression_key("ana@acme.com", "salt-1")
    assert key != suppression_key("ana@acme.com", "salt-2")
    assert key != suppression_key("bo@acme.com", "salt-1")


def test_suppression_round_trip() -> None:
    s = Suppression(opted_out_at=T0, bounced=(("email", T0),), replied_at=T0)
    assert decode_suppression(encode_state(s)) == s
    assert s.bounced_on("email") == T0 and s.bounced_on("phone") is None
