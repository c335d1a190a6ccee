"""PartitionBatch: one decode per key per batch, one write per changed key."""

from __future__ import annotations

from rules.core.dedup import Spill
from rules.core.state import AccountState, ProspectState, decode_account
from signals.records import AccountRec, PersonRec
from streams.table_batch import PartitionBatch, prospect_table_key


class CountingTable(dict):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.sets = 0

    def get(self, key, default=None):  # type: ignore[no-untyped-def, override]
        self.gets += 1
        return super().get(key, default)

    def __setitem__(self, key, value) -> None:  # type: ignore[no-untyped-def]
        self.sets += 1
        super().__setitem__(key, value)


def _account(key: str) -> AccountState:
    return AccountState(account_key=key, account=AccountRec(domain=key))


def test_reads_each_key_once_and_writes_each_changed_key_once() -> None:
    accounts, prospects = CountingTable(), CountingTable()
    batch = PartitionBatch(accounts, prospects, CountingTable(), CountingTable())
    assert batch.account("a.example") is None
    assert batch.account("a.example") is None
    assert accounts.gets == 1
    for _ in range(3):
        batch.put_account("a.example", _account("a.example"))
    assert accounts.sets == 0  # nothing written before flush
    assert batch.flush() == 1
    assert accounts.sets == 1
    assert decode_account(accounts[b"a.example"]).account_key == "a.example"
    assert batch.flush() == 0  # flushed keys are clean


def test_prospect_keys_are_scoped_by_account() -> None:
    assert prospect_table_key("a.example", "p@a.example") == b"a.example|p@a.example"
    assert prospect_table_key(None, "id:7") == b"|id:7"


def test_people_of_an_account_include_this_batchs_new_ones() -> None:
    prospects = CountingTable()
    batch = PartitionBatch(CountingTable(), prospects, CountingTable(), CountingTable())
    ana = ProspectState("ana@a.example", "a.example", PersonRec(email="ana@a.example"))
    batch.put_prospect("a.example", "ana@a.example", ana)
    batch.put_prospect("b.example", "bo@b.example", ana)
    assert batch.people("a.example") == [ana]
    batch.flush()
    assert batch.people("a.example") == [ana] and len(prospects) == 2


def test_overflow_records_merge_and_drop() -> None:
    overflow = CountingTable()
    batch = PartitionBatch(CountingTable(), CountingTable(), overflow, CountingTable())
    batch.put_overflow("a|p", Spill(20000, (3, 1)))
    batch.put_overflow("a|p", Spill(20000, (2,)))
    assert batch.overflow("a|p", 20000) == {1, 2, 3}
    batch.flush()
    assert batch.overflow("a|p", 20000) == {1, 2, 3} and len(overflow) == 1
    batch.put_overflow("a|p", Spill(20000, drop=True))
    assert batch.overflow("a|p", 20000) == frozenset()
    batch.flush()
    assert len(overflow) == 0


def test_expiry_index_returns_only_due_entries_of_its_partition() -> None:
    from datetime import UTC, datetime, timedelta

    index = CountingTable()
    batch = PartitionBatch(CountingTable(), CountingTable(), CountingTable(), index)
    noon = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    batch.index_expiry(1, noon, "a.example", "p@a.example", "w_1")
    batch.index_expiry(1, noon + timedelta(hours=1), None, "id:9", "w_2")
    batch.index_expiry(2, noon, "b.example", "q@b.example", "w_3")
    assert batch.due_expiries(1, noon) == []  # nothing is visible before flush
    batch.flush_effects()
    due = batch.due_expiries(1, noon)
    assert [(a, p, w) for _, a, p, w in due] == [("a.example", "p@a.example", "w_1")]
    later = batch.due_expiries(1, noon + timedelta(hours=2))
    assert {w for *_, w in later} == {"w_1", "w_2"}
    assert later[-1][1] is None  # a person known by no account
    batch.unindex_expiry(due[0][0])
    batch.flush_markers()
    assert {w for *_, w in batch.due_expiries(1, noon + timedelta(hours=2))} == {"w_2"}


def test_state_memo_spares_the_decode_in_later_batches_until_cleared() -> None:
    from streams.table_batch import StateMemo

    accounts, memo = CountingTable(), StateMemo(limit=10)
    first = PartitionBatch(accounts, CountingTable(), CountingTable(), CountingTable(), memo)
    first.put_account("a.example", _account("a.example"))
    first.flush()
    second = PartitionBatch(accounts, CountingTable(), CountingTable(), CountingTable(), memo)
    assert second.account("a.example") == _account("a.example")
    assert accounts.gets == 0, "the memo answered; the table was not read"
    memo.clear()  # a rebalance
    third = PartitionBatch(accounts, CountingTable(), CountingTable(), CountingTable(), memo)
    assert third.account("a.example") == _account("a.example")
    assert accounts.gets == 1
