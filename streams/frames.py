"""Frames: how validated records travel on the internal keyed topic, many per Kafka record.

The router validates each input record once and appends it, as our own compact bytes, to
the frame of the keyed partition that owns its account; one Kafka record carries a whole
frame. The score agent therefore pays Faust's per-message cost once per frame, not once per
signal, and decodes each entry without validating it again (the bytes are ours).

    frame  = b"\\x01" + MessagePack [Entry, ...]
    Entry  = [kind, key, body, origin, history]

- `kind`: what the entry is (`SIGNAL`, `DEPARTURE`, `ARRIVAL`, `ACTIVITY`, `CONTACT`,
  `TICK`, `ERASE`, `ERASED`, `UNCONTACT`); a job change goes to the previous account first
  (DEPARTURE), which forwards it to the new one (ARRIVAL) with what it knew of the person
  there. An erasure request (ERASE) and a CRM contact's tombstone (UNCONTACT) concern a
  person at every account, so the router sends them to every partition (`BROADCAST`); each
  partition reports what it erased to the request's home partition (ERASED);
- `key`: the partition key (account key, or `person:<key>`);
- `body`: a signal's `signals.records.SignalRec` (MessagePack), or the contract JSON of an
  activity or a CRM contact, or `streams.erasure`'s own bytes;
- `origin`: (topic, partition, offset) of the input record, for dead letters and tracing;
- `history`: the champion history an arrival carries (JSON), else empty.

`partition_for` is Kafka's default partitioner (murmur2 of the key), so a producer that keys
input by account and the keyed topic agree on where an account lives.
"""

from __future__ import annotations

from typing import Final

import msgspec
from aiokafka.partitioner import murmur2

from signals.records import SignalRec

__all__ = [
    "ACTIVITY",
    "ARRIVAL",
    "BROADCAST",
    "CONTACT",
    "DEPARTURE",
    "ERASE",
    "ERASED",
    "FORMAT",
    "SIGNAL",
    "TICK",
    "UNCONTACT",
    "Entry",
    "FrameError",
    "Origin",
    "decode_frame",
    "decode_signal_body",
    "encode_frame",
    "encode_signal_body",
    "partition_for",
]

FORMAT: Final = 1
SIGNAL, DEPARTURE, ARRIVAL, ACTIVITY, CONTACT, TICK, ERASE, ERASED, UNCONTACT = range(9)
BROADCAST: Final = frozenset({ERASE, UNCONTACT})
"""Kinds the router appends to the frame of every keyed partition, not only the key's."""

Origin = tuple[str, int, int]
"""(topic, partition, offset) of the input record an entry came from."""


class FrameError(ValueError):
    """Bytes on the keyed topic that are not a frame of a format this version reads."""


class Entry(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    kind: int
    key: str
    body: bytes = b""
    origin: Origin = ("", -1, -1)
    history: bytes = b""


_ENCODER = msgspec.msgpack.Encoder()
_FRAME = msgspec.msgpack.Decoder(list[Entry])
_SIGNAL = msgspec.msgpack.Decoder(SignalRec)
_PREFIX: Final = bytes([FORMAT])


def encode_frame(entries: list[Entry]) -> bytes:
    return _PREFIX + _ENCODER.encode(entries)


def decode_frame(data: bytes | None) -> list[Entry]:
    """The entries of a frame. Raises `FrameError` for anything that is not one."""
    if not data or data[0] != FORMAT:
        raise FrameError(f"not a frame of format {FORMAT}")
    try:
        return _FRAME.decode(memoryview(data)[1:])
    except msgspec.DecodeError as exc:
        raise FrameError(f"broken frame: {exc}") from None


def encode_signal_body(record: SignalRec) -> bytes:
    return _ENCODER.encode(record)


def decode_signal_body(body: bytes) -> SignalRec:
    """A signal entry's record. Raises `msgspec.DecodeError` for bytes we did not write."""
    return _SIGNAL.decode(body)


def partition_for(key: str, partitions: int) -> int:
    """The keyed partition of an account (Kafka's default partitioner: murmur2)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
