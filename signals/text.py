"""Text types for inbound fields: bounded lengths, and no characters that garble or spoof.

Every text a producer sends may end up in a window, a Slack message or a CRM note. So:

- free text (`Name`, `Label`, `Subject`, `Url`, `Technology`): control characters (C0 such
  as NUL, BEL and ESC, DEL, C1) and the bidirectional overrides that can make text read
  differently from what it is are removed (tabs and newlines become spaces); then its
  length is checked;
- identifiers (`Id`, `Source`): control characters are an error, not removed: an id must
  stay exactly what the producer sent, or dedup would merge two events;
- lists (`Technologies`, `Investors`): a bounded number of bounded texts.

A breach of a length or count limit is a validation error of type `string_too_long` or
`too_long`, which the codec turns into the dead-letter reason `limit_exceeded`. The limits
also bound the state the engine keeps per person and account.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

__all__ = [
    "Id",
    "Investors",
    "Label",
    "Name",
    "Source",
    "Subject",
    "Technologies",
    "Technology",
    "Url",
    "clean",
]

# C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value: Any) -> Any:
    """`value` without unsafe characters when it is a string (tabs and newlines become
    spaces, other controls go); anything else unchanged for the type check to judge."""
    if not isinstance(value, str) or value.isprintable():
        return value  # printable text has no control and no format (bidi) characters
    if not _UNSAFE.search(value):
        return value
    return _UNSAFE.sub(lambda m: " " if m.group() in "\t\n\r" else "", value).strip()


def _no_controls(value: str) -> str:
    if not value.isprintable() and _UNSAFE.search(value):
        raise ValueError("control characters are not allowed in an identifier")
    return value


# Limits per field (characters; lists: items). Long enough for any real value, short enough
# that the state of one person stays a few KiB.
Name = Annotated[str, Field(min_length=1, max_length=200), BeforeValidator(clean)]
Label = Annotated[str, Field(min_length=1, max_length=100), BeforeValidator(clean)]
Subject = Annotated[str, Field(min_length=1, max_length=300), BeforeValidator(clean)]
Url = Annotated[str, Field(min_length=1, max_length=2000), BeforeValidator(clean)]
Technology = Annotated[str, Field(min_length=1, max_length=64), BeforeValidator(clean)]
Technologies = Annotated[tuple[Technology, ...], Field(max_length=50)]
Investors = Annotated[tuple[Name, ...], Field(max_length=20)]
Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_controls)]
Source = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_controls)]
