"""Real windows for sink tests: one opened by the pure core on `hot_history`, copied under
other ids (and, on request, other people) with an expiry in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import orjson

from rules.offline.replay import replay
from rules.rulebook.loader import load_rulebook
from signals.codec import Rejected, decode_signal
from signals.windows import WindowOpened
from streams.settings import DEFAULT_RULEBOOK
from tests.support import hot_history


@lru_cache(maxsize=1)
def _opened() -> WindowOpened:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    signals = []
    for body in hot_history("sink", start):
        decoded = decode_signal(orjson.dumps(body), default_type=None, max_bytes=10**6)
        assert not isinstance(decoded, Rejected)
        signals.append(decoded)
    result = replay(load_rulebook(DEFAULT_RULEBOOK), signals, clock=lambda: datetime.now(UTC))
    assert result.windows, "hot_history must open a window"
    return result.windows[0]


def sample_window(window_id: str, *, person_key: str | None = None) -> WindowOpened:
    window = _opened()
    draft = window.draft.model_copy(update={"expires_at": datetime.now(UTC) + timedelta(days=2)})
    return window.model_copy(
        update={
            "window_id": window_id,
            "person_key": person_key or window.person_key,
            "draft": draft,
        }
    )
