"""How a record travels on the internal keyed topic, named by one header.

    (no header)   a signal, keyed by its account: score it there
    contact       a CRM contact, keyed by its account: record its roles there
    activity      what an outreach tool did, keyed by the person's account: cadence there
    tick          sent by each worker to its own partitions: close windows past expiry
    departure     a job change, keyed by the PREVIOUS account: read the person's history
                  there, then forward it as `arrival`
    arrival       that job change, keyed by the NEW account, with the history in the
                  `followup.champion` header: score it there

A job change spans two accounts on two partitions, possibly on two workers; routing it
through both partitions in turn is how the new account learns the history at the old one
without any worker reading another's tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signals.identity import account_key, partition_key, signal_account_key
from signals.models import JobChanged, Signal

__all__ = [
    "ACTIVITY",
    "ARRIVAL",
    "CHAMPION_HEADER",
    "CONTACT",
    "DEPARTURE",
    "ROUTE_HEADER",
    "TICK",
    "header",
    "route_signal",
]

ROUTE_HEADER = "followup.route"
CHAMPION_HEADER = "followup.champion"
CONTACT = b"contact"
ACTIVITY = b"activity"
TICK = b"tick"
DEPARTURE = b"departure"
ARRIVAL = b"arrival"


def route_signal(signal: Signal) -> tuple[str, bytes | None]:
    """The key and route for a validated signal on the keyed topic."""
    if isinstance(signal, JobChanged) and signal.properties.previous_account is not None:
        old = account_key(signal.properties.previous_account.domain)
        if old != signal_account_key(signal.account, signal.person):
            return old, DEPARTURE
    return partition_key(signal.account, signal.person), None


def header(headers: Any, name: str) -> bytes | None:
    """One header's value from a message's headers (a list of pairs or a mapping)."""
    if not headers:
        return None
    if isinstance(headers, Mapping):
        value = headers.get(name)
        return value if isinstance(value, bytes) or value is None else str(value).encode()
    for key, value in headers:
        if key == name:
            return value if isinstance(value, bytes) else str(value).encode()
    return None
