"""Account-level signals and champions across partitions: 6 partitions, 2 workers.

A job change is routed to the old account's partition first (history), then to the new
one; funding and reverse-IP visits fan out to people on the account's own partition.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from signals.codec import decode_window
from streams.local import Record, produce
from tests.support import event, read_all, records_on_one_topic, wait_caught_up, wait_ready

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
PARTITIONS = 6


def _account(domain: str, **extra: object) -> dict[str, object]:
    return {"domain": domain, "industry": "software", "employees": 600, "country": "US", **extra}


def _vp(email: str, **extra: object) -> dict[str, object]:
    return {
        "email": email,
        "title": "VP Engineering",
        "seniority": "vp",
        "department": "engineering",
        **extra,
    }


def _partition(key: str) -> int:
    return DefaultPartitioner()(key.encode(), list(range(PARTITIONS)), list(range(PARTITIONS)))


def _history() -> list[dict]:
    old, fund, rip = (
        _account("oldco.example"),
        _account("fundco.example"),
        _account("ripco.example"),
    )
    at = START
    h = [
        # A champion at oldco: two pricing visits open a window there.
        event(
            "page_visited",
            "h-cara-1",
            at,
            person=_vp("cara@oldco.example"),
            account=old,
            path="/pricing",
        ),
        event(
            "page_visited",
            "h-cara-2",
            at + timedelta(hours=1),
            person=_vp("cara@oldco.example"),
            account=old,
            path="/pricing/enterprise",
        ),
        # Not a champion: one email open at another company.
        event(
            "email_opened",
            "h-nick-1",
            at,
            person={"email": "nick@quietco.example", "title": "Software Engineer"},
            account=_account("quietco.example"),
        ),
    ]
    # fundco: two engaged VPs, one engaged intern, one quiet engineer.
    for name in ("fay", "finn"):
        for i in range(3):
            h.append(
                event(
                    "email_opened",
                    f"h-{name}-{i}",
                    at + timedelta(hours=i),
                    person=_vp(f"{name}@fundco.example"),
                    account=fund,
                )
            )
    h.append(
        event(
            "email_opened",
            "h-ivy-1",
            at,
            account=fund,
            person={"email": "ivy@fundco.example", "title": "Intern", "seniority": "intern"},
        )
    )
    h.append(
        event(
            "email_opened",
            "h-eli-1",
            at,
            account=fund,
            person={"email": "eli@fundco.example", "title": "Accountant"},
        )
    )
    # ripco: an engaged VP and an engineer.
    for i in range(2):
        h.append(
            event(
                "email_opened",
                f"h-rita-{i}",
                at + timedelta(hours=i),
                person=_vp("rita@ripco.example"),
                account=rip,
            )
        )
    h.append(
        event(
            "email_opened",
            "h-ray-1",
            at,
            account=rip,
            person={"email": "ray@ripco.example", "title": "Software Engineer"},
        )
    )
    return h


def _moments() -> list[dict]:
    at = START + timedelta(days=2)
    return [
        event(
            "job_changed",
            "m-cara",
            at,
            person=_vp("cara@newco.example"),
            account=_account("newco.example", name="NewCo"),
            previous_account={"domain": "oldco.example", "name": "OldCo"},
            previous_title="Director of Engineering",
            new_title="VP Engineering",
            previous_email="cara@oldco.example",
        ),
        event(
            "job_changed",
            "m-nick",
            at,
            account=_account("newco2.example"),
            # Not a champion, and not senior: no window of any kind at the new company.
            person={"email": "nick@newco2.example", "title": "Senior Engineer"},
            previous_account={"domain": "quietco.example"},
            new_title="Senior Engineer",
            previous_email="nick@quietco.example",
        ),
        event(
            "funding_announced",
            "m-fund",
            at,
            account=_account("fundco.example"),
            round="Series B",
            amount_usd=30_000_000,
            investors=["Fund One"],
        ),
        event("page_visited", "m-rip-1", at, account=_account("ripco.example"), path="/pricing"),
    ]


def test_funding_champions_and_reverse_ip_across_partitions_and_workers(
    settings, start_worker, tmp_path
):
    assert _partition("oldco.example") != _partition("newco.example"), "pick other domains"
    settings = settings.model_copy(update={"partitions": PARTITIONS})
    first = start_worker(settings, name="a")
    wait_ready(first)
    second = start_worker(settings.model_copy(update={"state_dir": tmp_path / "state-b"}), name="b")
    wait_ready(second)

    topic = settings.topic_page_visited
    asyncio.run(produce(settings, records_on_one_topic(topic, _history())))
    wait_caught_up(settings, timeout=90)
    before = {m.value for m in read_all(settings, settings.topic_windows_opened)}

    asyncio.run(produce(settings, records_on_one_topic(topic, _moments())))
    wait_caught_up(settings, timeout=90)
    windows = [
        decode_window(m.value)
        for m in read_all(settings, settings.topic_windows_opened)
        if m.value not in before
    ]
    got = {(w.person_key, w.play, w.trigger_event_id) for w in windows}
    assert got == {
        ("cara@newco.example", "champion_moved", "m-cara"),
        ("fay@fundco.example", "funding", "m-fund"),
        ("finn@fundco.example", "multi_thread", "m-fund"),
        ("rita@ripco.example", "signal_triggered", "m-rip-1"),
    }, got
    cara = next(w for w in windows if w.person_key.startswith("cara@"))
    assert cara.champion is not None
    assert cara.champion.previous_account_key == "oldco.example"
    assert cara.champion.previous_title == "Director of Engineering"
    assert cara.champion.windows_opened == 1
    assert any("OldCo" in point for point in cara.draft.talking_points)
    assert first.alive and second.alive


def test_champions_from_the_contacts_file_and_the_contacts_topic(settings, start_worker, tmp_path):
    contacts = tmp_path / "contacts.jsonl"
    listed = {
        "event_id": "crm-1",
        "occurred_at": START.isoformat(),
        "roles": ["Champion"],
        "person": {"email": "cody@listedco.example", "title": "Director of Data"},
        "account": {"domain": "listedco.example"},
    }
    contacts.write_bytes(orjson.dumps(listed) + b"\n" + b"{not json\n")
    settings = settings.model_copy(update={"contacts_file": contacts})
    worker = start_worker(settings)
    wait_ready(worker)
    # Kept current from the topic: a contact published while the worker runs.
    live = {
        "event_id": "crm-2",
        "occurred_at": START.isoformat(),
        "roles": ["customer_contact"],
        "person": {"email": "lea@liveco.example"},
        "account": {"domain": "liveco.example"},
    }
    asyncio.run(
        produce(
            settings,
            [Record(settings.topic_crm_contacts, orjson.dumps(live), key=b"lea@liveco.example")],
        )
    )
    wait_caught_up(settings, timeout=60)

    at = START + timedelta(days=1)
    moves = [
        event(
            "job_changed",
            f"move-{who}",
            at,
            account=_account(f"{who}-new.example"),
            person=_vp(f"{who}@{who}-new.example"),
            previous_email=f"{who}@{old}",
            previous_account={"domain": old},
            new_title="VP Engineering",
        )
        for who, old in (("cody", "listedco.example"), ("lea", "liveco.example"))
    ]
    asyncio.run(produce(settings, records_on_one_topic(settings.topic_job_changed, moves)))
    wait_caught_up(settings, timeout=60)
    windows = [decode_window(m.value) for m in read_all(settings, settings.topic_windows_opened)]
    by_person = {w.person_key: w for w in windows}
    assert {k: w.play for k, w in by_person.items()} == {
        "cody@cody-new.example": "champion_moved",
        "lea@lea-new.example": "champion_moved",
    }
    assert by_person["cody@cody-new.example"].champion.evidence == ("CRM role: champion",)
    assert by_person["lea@lea-new.example"].champion.roles == ("customer_contact",)
    assert "not a CRM contact" in worker.log_path.read_text()
