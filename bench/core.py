"""The pure core's cost and state size, against history length (a benchmark, not a test).

    .venv/bin/python bench/core.py [--rulebook FILE] [--repeat 2000]

Prints, in one run on the example rulebook (or `--rulebook`):

1. the cost of `rules.core.engine.apply_signal` for one more signal of a person who already
   has 1, 100 and 1,000 prior signals inside the horizon, and the ratio of the last to the
   first (the running sums make it flat: the target is at most 1.5x);
2. the stored bytes of a typical person (20 signals over three weeks), of the worst person
   `rules.offline.worst` can construct (every text and id at its input limit, every
   person-level rule firing every day of the horizon and past it, job changes from a new
   previous account every day, more remembered ids than the state keeps inline, and the
   most outreach history the cadence keeps: `MAX_TOUCHES` touches inside its memory, the
   most vacations, replies, bounces, meetings and deal stages, and more CRM roles than a
   prospect keeps), built with ASCII text and with four-byte characters, the larger of the
   two as "worst person constructed", and of an account with 1,000 people, each next to
   its target;
3. encode and decode time per state;
4. the same worst person without outreach history, for comparison.

Times are medians of `--repeat` calls; compare the numbers of one run, not across machines.
The last line is for tools:

    core: history ratio R.RRx (target <= 1.5x); typical person B bytes; worst person W bytes; ...
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from rules.core.engine import apply_signal
from rules.core.fitcache import FitCache
from rules.core.state import decode_account, decode_prospect, encode_state
from rules.offline.replay import Replay
from rules.offline.worst import ACCOUNT, END, worst
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook
from signals.models import Signal
from signals.records import SignalRec, record_of
from streams.settings import DEFAULT_RULEBOOK

PERSON = {
    "email": "dana@acme-data.example",
    "name": "Dana Example",
    "title": "VP Engineering",
    "seniority": "vp",
    "department": "engineering",
    "timezone": "America/New_York",
}
_SIGNAL: TypeAdapter[Any] = TypeAdapter(Signal)
PAGES = ["/pricing", "/docs/kafka-connector", "/customers/acme", "/blog/streaming", "/security"]


def signal(kind: str, n: int, at: datetime, person: dict[str, Any], **props: Any) -> SignalRec:
    body: dict[str, Any] = {
        "type": kind,
        "event_id": f"{kind}-{n}",
        "occurred_at": at,
        "source": "bench",
        "person": person,
        "account": ACCOUNT,
        "properties": props,
    }
    return record_of(_SIGNAL.validate_python(body))


def history(count: int, person: dict[str, Any], days: float) -> list[SignalRec]:
    """`count` signals of one person spread over `days` before END: opens and page visits."""
    out = []
    for i in range(count):
        at = END - timedelta(days=days) + timedelta(days=days * i / max(1, count))
        if i % 3 == 0:
            out.append(signal("page_visited", i, at, person, path=PAGES[i % len(PAGES)]))
        else:
            out.append(signal("email_opened", i, at, person, subject=f"Issue {i % 7}"))
    return out


def median_us(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def cost_at(rulebook: Rulebook, prior: int, repeat: int) -> float:
    """µs for one more signal of a person with `prior` signals in the last 60 days."""
    state = Replay(rulebook)
    for sig in history(prior, PERSON, 60):
        state.apply(sig, END)
    nxt = signal("page_visited", 10**6, END + timedelta(minutes=5), PERSON, path="/docs/x")
    key = "acme-data.example"
    fits = FitCache()

    def once() -> object:
        return apply_signal(
            rulebook, nxt, account=state.accounts.get(key), view=state, now=END, fits=fits
        )

    once()  # warm the fit memo, as a running worker has it
    return median_us(once, repeat)


def typical(rulebook: Rulebook) -> tuple[Any, Any]:
    state = Replay(rulebook)
    for sig in history(20, PERSON, 21):
        state.apply(sig, END)
    return state.prospect("acme-data.example", PERSON["email"]), state.accounts["acme-data.example"]


def account_of(rulebook: Rulebook, people: int) -> Any:
    state = Replay(rulebook)
    for i in range(people):
        who = {**PERSON, "email": f"p{i}@acme-data.example", "name": f"Person {i}"}
        state.apply(signal("email_opened", i, END - timedelta(hours=i % 500), who), END)
    state.apply(
        record_of(
            _SIGNAL.validate_python(
                {
                    "type": "funding_announced",
                    "event_id": "round",
                    "occurred_at": END,
                    "source": "bench",
                    "account": ACCOUNT,
                    "properties": {"round": "Series B", "amount_usd": 40_000_000},
                }
            )
        ),
        END,
    )
    return state.accounts["acme-data.example"]


def _decoded(decode: Callable[..., object], data: bytes, state: Any) -> object:
    if decode is decode_prospect:
        return decode(data, state.person_key, state.account_key)  # its table key, in parts
    return decode(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rulebook", type=Path, default=DEFAULT_RULEBOOK)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args(argv)
    rulebook = load_rulebook(args.rulebook)
    print(f"[core] rulebook {rulebook.version} ({args.rulebook.name}), median of {args.repeat}")

    costs = {n: cost_at(rulebook, n, args.repeat) for n in (1, 100, 1000)}
    print("\napply_signal for one more signal of a person with N prior signals")
    for n, us in costs.items():
        print(f"  N = {n:>5}   {us:8.1f} us/signal")
    ratio = costs[1000] / costs[1]
    print(f"  ratio N=1000 / N=1: {ratio:.2f}x (target <= 1.5x)")

    person, account = typical(rulebook)
    ascii_ = worst(rulebook)
    wide = worst(rulebook, char="\U0001d538")  # four bytes of UTF-8 each
    heavy = max((ascii_, wide), key=lambda s: len(encode_state(s)))
    big = account_of(rulebook, 1000)
    signals_only = worst(rulebook, outreach=False)
    print("\nstored state (format version byte + MessagePack)")
    rows: list[tuple[str, Any, int | None, Callable[..., object]]] = [
        ("typical person (20 signals, 3 weeks)", person, 1024, decode_prospect),
        ("worst person constructed", heavy, 4096, decode_prospect),
        ("worst person, ASCII text", ascii_, 4096, decode_prospect),
        ("worst person, 4-byte characters", wide, 4096, decode_prospect),
        ("its account", account, None, decode_account),
        ("account of 1,000 people", big, 4096, decode_account),
        ("worst person, no outreach history", signals_only, None, decode_prospect),
    ]
    sizes = {}
    for label, state, target, decode in rows:
        data = encode_state(state)
        sizes[label] = len(data)
        enc = median_us(lambda s=state: encode_state(s), args.repeat)
        dec = median_us(lambda d=data, f=decode, s=state: _decoded(f, d, s), args.repeat)
        verdict = "" if target is None else "ok" if len(data) <= target else "OVER"
        against = f"(target <= {target}) {verdict}" if target is not None else ""
        print(
            f"  {label:<38} {len(data):>6} bytes {against:<22} "
            f"encode {enc:6.1f} us   decode {dec:6.1f} us"
        )
    print(
        f"\ncore: history ratio {ratio:.2f}x (target <= 1.5x); "
        f"typical person {sizes[rows[0][0]]} bytes; worst person {sizes[rows[1][0]]} bytes; "
        f"account of 1000 people {sizes[rows[5][0]]} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
