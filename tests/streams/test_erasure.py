"""Erasure in the score stage (`streams.erasure`): every key of the person goes, each
partition reports to the request's home partition, and one receipt follows the last report,
however often a step is repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import orjson

from rules.core.state import ProspectState
from rules.rulebook.loader import load_rulebook
from signals.erasure import ErasureRequest
from signals.models import Person
from signals.records import PersonRec
from streams.effects import FrameWork, Handlers
from streams.erasure import Erasure, erase_body, home_key, tally_key, uncontact_body
from streams.frames import ERASE, ERASED, TICK, UNCONTACT, Entry, decode_frame, partition_for
from streams.partition import TABLES, PartitionState
from streams.settings import Settings
from streams.store import Memo
from streams.topics import Topics
from tests.streams.test_partition import DictStore

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
TOPICS = Topics.from_settings(Settings())
PARTITIONS = 3
ANA = "ana@acme.example"
REQUEST = ErasureRequest(person=Person(email=ANA, id="crm-7"), request_id="r-1", requested_at=NOW)


def _stores() -> dict[str, DictStore]:
    return {name: DictStore(name) for name in TABLES}


def _work(stores: dict[str, DictStore], partition: int) -> FrameWork:
    state = PartitionState(partition, stores, Memo(1 << 20), lambda _person: None)
    return FrameWork(state, lambda _event_time: NOW)


def _commit(work: FrameWork) -> None:
    work.state.changelog()
    work.state.commit_local({})


def _prospect(account: str, person: str, roles: tuple[str, ...] = ()) -> ProspectState:
    email = person if "@" in person else None
    return ProspectState(
        person, account, PersonRec(email=email), crm_roles=roles, crm_roles_as_of=NOW
    )


def _seed(stores: dict[str, DictStore], partition: int) -> None:
    """Ana at two accounts, by email and by CRM id, a window timer, spilled dedup records;
    Bob at the same account."""
    work = _work(stores, partition)
    state = work.state
    for prospect in (
        _prospect("acme.example", ANA, ("champion",)),
        _prospect("oldco.example", ANA),
        _prospect("acme.example", "id:crm-7"),
        _prospect("acme.example", "bob@acme.example", ("champion",)),
    ):
        state.put_prospect(prospect)
    state.add_timer(NOW + timedelta(days=3), "expire", "acme.example", ANA, "w-ana")
    state.add_timer(NOW + timedelta(days=3), "expire", "acme.example", "bob@acme.example", "w")
    stores["overflow"].data[(partition, f"acme.example|{ANA}|20420".encode())] = b"\x90"
    stores["overflow"].data[(partition, b"acme.example|20420")] = b"\x90"  # the account's
    _commit(work)


def _erase_entry() -> Entry:
    return Entry(ERASE, home_key(ANA), erase_body(REQUEST, ANA.encode()), ("privacy.erasure", 0, 9))


def _held(stores: dict[str, DictStore]) -> list[bytes]:
    return sorted(key for store in stores.values() for (_p, key) in store.data)


def test_erase_removes_every_key_of_the_person_and_reports_home() -> None:
    stores = _stores()
    _seed(stores, 1)
    work = _work(stores, 1)
    Erasure(topics=TOPICS, partitions=PARTITIONS).erase(_erase_entry(), work)

    assert sum(len(keys) for keys in work.erased.values()) == work.stats.erased_keys == 5
    changelog = work.state.changelog()
    assert len(changelog) == 5 and all(record.value is None for record in changelog)
    work.state.commit_local({})
    assert not [k for k in _held(stores) if ANA.encode() in k or b"crm-7" in k]
    assert b"acme.example|bob@acme.example" in _held(stores), "only Ana is erased"
    assert b"acme.example|20420" in _held(stores), "the account's own records stay"

    [report] = work.outputs
    assert report.topic == TOPICS.keyed
    assert report.partition == partition_for(home_key(ANA), PARTITIONS)
    [entry] = decode_frame(report.value)
    assert entry.kind == ERASED and entry.key == home_key(ANA)

    again = _work(stores, 1)  # a redelivered request finds nothing more to erase
    Erasure(topics=TOPICS, partitions=PARTITIONS).erase(_erase_entry(), again)
    assert again.stats.erased_keys == 0 and not again.state.changed


def test_a_person_created_earlier_in_the_same_frame_is_erased_too() -> None:
    stores = _stores()
    work = _work(stores, 0)
    work.state.put_prospect(_prospect("acme.example", ANA))
    Erasure(topics=TOPICS, partitions=PARTITIONS).erase(_erase_entry(), work)
    assert work.stats.erased_keys == 1
    _commit(work)
    assert _held(stores) == []


def _report(stores: dict[str, DictStore], partition: int, removed_on: int) -> Entry:
    """The report partition `partition` sends after erasing `removed_on` seeded people."""
    work = _work(stores, partition)
    for _ in range(removed_on):
        _seed(stores, partition)
    Erasure(topics=TOPICS, partitions=PARTITIONS).erase(_erase_entry(), work)
    _commit(work)
    [entry] = decode_frame(work.outputs[0].value)
    return entry


def test_the_receipt_follows_the_last_report_once_with_the_keys_of_every_partition() -> None:
    stores = _stores()
    reports = [_report(stores, p, removed_on=1 if p != 2 else 0) for p in range(PARTITIONS)]
    repeat_of_0 = _report(stores, 0, removed_on=0)  # redelivered: erases nothing this time
    home = partition_for(home_key(ANA), PARTITIONS)
    erasure = Erasure(topics=TOPICS, partitions=PARTITIONS)

    outputs = []
    for entry in (reports[0], repeat_of_0, reports[1]):
        work = _work(stores, home)
        erasure.erased(entry, work)
        _commit(work)
        outputs += work.outputs
    assert outputs == [], "no receipt before every partition reported"

    last = _work(stores, home)
    erasure.erased(reports[2], last)
    _commit(last)
    receipts = [o for o in last.outputs if o.topic == TOPICS.erasure_done]
    assert len(receipts) == 1 and receipts[0].key == b"r-1"
    receipt = orjson.loads(receipts[0].value)
    assert receipt["keys_removed"] == 10 and receipt["partitions"] == PARTITIONS
    assert ANA not in receipts[0].value.decode(), "the receipt holds no personal data"
    tombstones = {(o.topic, o.key) for o in last.outputs if o.value is None}
    assert tombstones == {
        (TOPICS.windows_opened, ANA.encode()),
        (TOPICS.windows_closed, ANA.encode()),
        (TOPICS.windows_opened, b"id:crm-7"),
        (TOPICS.windows_closed, b"id:crm-7"),
        (TOPICS.erasure, ANA.encode()),
    }
    assert last.stats.erasures_done == 1

    late = _work(stores, home)  # a report repeated after the receipt
    erasure.erased(reports[1], late)
    assert late.outputs == [] and not late.state.changed


def test_the_note_of_a_finished_request_is_dropped_by_its_timer() -> None:
    stores = _stores()
    home = partition_for(home_key(ANA), PARTITIONS)
    erasure = Erasure(topics=TOPICS, partitions=1)
    work = _work(stores, home)
    erasure.erased(_report(stores, home, removed_on=1), work)
    _commit(work)
    assert (home, tally_key("r-1")) in stores["accounts"].data

    handlers = Handlers(
        topics=TOPICS,
        rulebook=load_rulebook("rules/examples/b2b_saas.yaml"),
        partitions=1,
        max_bytes=1_000_000,
        publish_suppression=lambda *_: None,  # type: ignore[arg-type,return-value]
    )
    state = PartitionState(home, stores, Memo(1 << 20), lambda _person: None)
    later = FrameWork(state, lambda _event_time: NOW + timedelta(days=8))
    handlers.tick(Entry(TICK, ""), later)
    _commit(later)
    assert (home, tally_key("r-1")) not in stores["accounts"].data


def test_a_crm_tombstone_clears_the_contacts_roles_at_every_account() -> None:
    stores = _stores()
    _seed(stores, 0)
    erasure = Erasure(topics=TOPICS, partitions=PARTITIONS)
    work = _work(stores, 0)
    gone = Entry(UNCONTACT, home_key(ANA), uncontact_body(ANA, NOW + timedelta(hours=1)))
    erasure.uncontact(gone, work)
    _commit(work)
    state = _work(stores, 0).state
    ana = state.prospect("acme.example", ANA)
    assert ana is not None and ana.crm_roles == ()
    bob = state.prospect("acme.example", "bob@acme.example")
    assert bob is not None and bob.crm_roles == ("champion",), "only that contact"

    stale = _work(stores, 0)  # a tombstone older than the roles on file changes nothing
    _seed(stores, 0)
    erasure.uncontact(Entry(UNCONTACT, "", uncontact_body(ANA, NOW - timedelta(days=1))), stale)
    assert not stale.state.changed


def test_bodies_are_our_own_compact_bytes() -> None:
    body = erase_body(REQUEST, None)
    assert msgspec.msgpack.decode(body) == ["r-1", [ANA, "id:crm-7"], None]
