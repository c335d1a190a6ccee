"""The memo of decoded states: bounded by (estimated) bytes, least recently used out."""

from __future__ import annotations

from streams.store import Memo


def test_the_memo_evicts_the_least_recently_used_to_stay_within_its_bytes() -> None:
    memo = Memo(max_bytes=3 * (100 * 8 + 200))  # room for three states of 100 encoded bytes
    for key in (b"a", b"b", b"c"):
        memo.put("prospects", 0, key, key.decode(), 100)
    assert memo.get("prospects", 0, b"a") == "a"  # a is now the most recent
    memo.put("prospects", 0, b"d", "d", 100)
    assert memo.get("prospects", 0, b"b") is None  # b was the least recent
    assert {memo.get("prospects", 0, k) for k in (b"a", b"c", b"d")} == {"a", "c", "d"}
    assert memo.bytes <= memo.max_bytes and len(memo) == 3


def test_the_memo_forgets_revoked_partitions_and_replaces_values() -> None:
    memo = Memo(max_bytes=10_000)
    memo.put("accounts", 0, b"x", "x0", 10)
    memo.put("accounts", 1, b"x", "x1", 10)
    memo.put("accounts", 1, b"x", "x1b", 10)
    assert memo.get("accounts", 1, b"x") == "x1b" and len(memo) == 2
    memo.forget({1})
    assert memo.get("accounts", 1, b"x") is None and memo.get("accounts", 0, b"x") == "x0"
    memo.put("accounts", 0, b"huge", "h", 10_000)  # bigger than the whole memo: not kept
    assert memo.get("accounts", 0, b"huge") is None
    memo.forget()
    assert len(memo) == 0 and memo.bytes == 0
