"""Byte budgets: why no input can make a stored person larger than `MAX_PROSPECT_BYTES`.

The contract limits texts in characters, and one character can take four bytes of UTF-8,
so the contract alone lets one person's text store four times what ASCII would. What the
state keeps of a producer's text is therefore budgeted in UTF-8 bytes here, each text cut
at a character boundary; everything else a person stores is bounded by design (rule sums
by rules x days, remembered ids by `MAX_SEEN_INLINE`, touches by `MAX_TOUCHES`, vacations
by `MAX_VACATIONS`, times and fingerprints by their fixed size), and the encoder enforces
the whole: `rules.core.state.encode_state` drops the lowest-ranked kept contributions (the
reasons a window quotes, never read by a decision) until a prospect fits.

The budgets, applied when a value enters the state (`stored_person` before every merge,
`stored_stage`, `stored_roles`), so the rules read the same value in memory as from the
store, and an event that repeats a value compares equal to what is held:

- the person's display texts, `PERSON_BYTES` each (name, title, seniority, department),
  cut with an ellipsis (`clip`): a fit condition reads the kept start;
- the person's CRM id, `PERSON_BYTES["id"]`: a longer one is cited by its start, `~` and
  12 hex digits of its hash (`cite`), so two long ids still differ and the same id always
  cites the same; an email over `PERSON_BYTES["email"]` is kept as its person key (which
  the encoder leaves out: the table key says it), i.e. lowercase;
- a deal stage, `MAX_STAGE_BYTES`, cited like an id (the rulebook's won and lost stages
  compare whole, and a cited stage matches none of them);
- CRM roles: each cited at `MAX_ROLE_BYTES`, and as many as fit `MAX_ROLES_BYTES`, the
  shortest first (so the most roles survive), sorted.

The time zone needs no budget: the contract accepts only IANA names (ASCII, at most 64).
ASCII text at the contract's limits fits these budgets except the longest names, titles
and labels (200 and 100 characters), which lose their end. Pure.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from signals.identity import email_key
from signals.records import PersonRec

__all__ = [
    "MAX_PROSPECT_BYTES",
    "MAX_ROLES_BYTES",
    "MAX_ROLE_BYTES",
    "MAX_STAGE_BYTES",
    "PERSON_BYTES",
    "cite",
    "clip",
    "head",
    "size",
    "stored_person",
    "stored_roles",
    "stored_stage",
]

MAX_PROSPECT_BYTES: Final = 4096  # a whole stored prospect, format byte included
PERSON_BYTES: Final = {
    "email": 128,
    "id": 64,
    "name": 96,
    "title": 128,
    "seniority": 48,
    "department": 48,
}
MAX_STAGE_BYTES: Final = 64
MAX_ROLE_BYTES: Final = 32
MAX_ROLES_BYTES: Final = 128
_DIGEST_HEX: Final = 12
_MARK: Final = "…"
_DISPLAY: Final = ("name", "title", "seniority", "department")


def size(text: str) -> int:
    """Bytes of `text` in UTF-8."""
    return len(text.encode())


def head(text: str, limit: int) -> str:
    """The longest start of `text` of at most `limit` bytes (whole characters only)."""
    return text.encode()[: max(0, limit)].decode("utf-8", "ignore")


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` bytes of UTF-8, an ellipsis marking a cut."""
    if size(text) <= limit:
        return text
    mark = _MARK if limit >= size(_MARK) else ""
    return head(text, limit - size(mark)) + mark


def cite(text: str, limit: int) -> str:
    """An identifier in at most `limit` bytes (`limit` > 13): itself when it fits, else its
    start, `~` and 12 hex digits of its hash: stable, and distinct for distinct ids."""
    if size(text) <= limit:
        return text
    digest = hashlib.blake2b(text.encode(), digest_size=_DIGEST_HEX // 2).hexdigest()
    return head(text, limit - 1 - _DIGEST_HEX) + "~" + digest


def stored_person(rec: PersonRec) -> PersonRec:
    """`rec` as the state keeps it: every text within its budget (see the module). The
    same record when nothing is over budget (the common case: no copy)."""
    update: dict[str, str] = {}
    for name in _DISPLAY:
        value = getattr(rec, name)
        if value is not None and len(value) * 4 > PERSON_BYTES[name]:
            kept = clip(value, PERSON_BYTES[name])
            if kept != value:
                update[name] = kept
    if rec.id is not None and len(rec.id) * 4 > PERSON_BYTES["id"]:
        kept = cite(rec.id, PERSON_BYTES["id"])
        if kept != rec.id:
            update["id"] = kept
    if rec.email and size(rec.email) > PERSON_BYTES["email"]:
        update["email"] = email_key(rec.email)
    return msgspec.structs.replace(rec, **update) if update else rec


def stored_stage(stage: str) -> str:
    """A deal stage as the cadence keeps it (`MAX_STAGE_BYTES`, cited)."""
    return cite(stage, MAX_STAGE_BYTES)


def stored_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """CRM roles as a prospect keeps them: each cited at `MAX_ROLE_BYTES`, the shortest
    first while they fit `MAX_ROLES_BYTES` in all (as stored), sorted."""
    cited = sorted({cite(r, MAX_ROLE_BYTES) for r in roles}, key=lambda r: (size(r), r))
    kept, used = [], 0
    for role in cited:
        used += size(role) + 2  # MessagePack's string header, at most 2 bytes here
        if used > MAX_ROLES_BYTES:
            break
        kept.append(role)
    return tuple(sorted(kept))
