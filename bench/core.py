"""The pure core's cost and state size, against history length (a benchmark, not a test).

    .venv/bin/python bench/core.py [--rulebook FILE] [--repeat 2000]

Prints, in one run on the example rulebook (or `--rulebook`):

1. the cost of `rules.core.engine.apply_signal` for one more signal of a person who already
   has 1, 100 and 1,000 prior signals inside the horizon, and the ratio of the last to the
   first (the running sums make it flat: the target is at most 1.5x);
2. the stored bytes of a typical person (20 signals over three weeks), of the worst person
   this script can construct (`worst`: every text and id at its input limit, every
   person-level rule firing every day of the horizon and past it, job changes from a new
   previous account every day, more remembered ids than the state keeps inline, and the
   most outreach history the cadence keeps: `MAX_TOUCHES` touches inside its memory, the
   most vacations, replies, bounces, meetings and deal stages), and of an account with
   1,000 people, each next to its target;
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from rules.core.cadence import MAX_TOUCHES, MAX_VACATIONS
from rules.core.engine import apply_signal
from rules.core.fitcache import FitCache
from rules.core.state import decode_account, decode_prospect, encode_state
from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from rules.rulebook.model import Rulebook
from signals.activity import Activity
from signals.identity import person_key
from signals.models import Person, Signal
from signals.records import SignalRec, record_of
from streams.settings import DEFAULT_RULEBOOK

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ACCOUNT = {
    "domain": "acme-data.example",
    "name": "Acme Data",
    "industry": "software",
    "employees": 400,
    "country": "US",
    "technologies": ["kafka", "dbt", "snowflake"],
}
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


LONGEST = {  # every field at its input limit (signals.models); ASCII, see README Limits
    "email": ("d" * 300) + "@acme-data.example",
    "id": "i" * 128,
    "name": "N" * 200,
    "title": "T" * 200,
    "seniority": "S" * 100,
    "department": "D" * 100,
    "timezone": "America/Argentina/ComodRivadavia",
}
_ACTIVITY: TypeAdapter[Any] = TypeAdapter(Activity)


def _longest_id(n: int) -> str:
    return f"e{n}-".ljust(128, "x")  # event ids at their limit: kept contributions cite them


def worst(rulebook: Rulebook, *, outreach: bool = True) -> Any:
    """The largest person this script can make from a history (an adversarial builder).

    Every text and id at its input limit; for every day of the horizon and five past it,
    two rounds of a pricing, a docs and an other page view (the three page rules, each
    path and title at its limit) and an email open, and a job change into the account from
    a new previous account, alternating senior and other titles (both job rules); so more
    ids than the state keeps inline, and every per-day and per-period slot filled.
    With `outreach`, the most the cadence keeps on top (`_outreach`)."""
    horizon = int(rulebook.engagement.horizon_days)
    state = Replay(rulebook)
    n = 0

    def send(kind: str, at: datetime, **props: Any) -> None:
        nonlocal n
        body = {
            "type": kind,
            "event_id": _longest_id(n),
            "occurred_at": at,
            "source": "s" * 100,
            "person": LONGEST,
            "account": ACCOUNT,
            "properties": props,
        }
        state.apply(record_of(_SIGNAL.validate_python(body)), END)
        n += 1

    for day in range(horizon + 5):
        start = END - timedelta(days=horizon + 5 - day)
        for hour in (9, 14):
            at = start + timedelta(hours=hour)
            for page in ("/pricing/" + "p" * 1990, "/docs/" + "d" * 1994, "/" + "x" * 1999):
                send("page_visited", at, path=page, title="P" * 200)
            send("email_opened", at, subject="S" * 300)
        title = ("VP " if day % 2 else "Engineer ") + "t" * 190
        previous = {"domain": f"old{day}-" + "o" * 230 + ".example", "name": "O" * 200}
        send(
            "job_changed",
            start + timedelta(hours=11),
            new_title=title,
            previous_title="Q" * 200,
            previous_account=previous,
        )
    if outreach:
        _outreach(state)
    return state.prospect("acme-data.example", person_key(Person.model_validate(LONGEST)))


def _outreach(state: Replay) -> None:
    """`MAX_TOUCHES` touches (every id at its limit) over the last 50 days, inside the
    cadence memory, with a reply, a bounce and a deal stage (at its limit) after every
    tenth, a booked and a held meeting after every twentieth, and `MAX_VACATIONS` distinct
    out-of-office spans at their longest."""
    n = 0

    def send(type_: str, at: datetime, **props: Any) -> None:
        nonlocal n
        body = {
            "type": type_,
            "event_id": _longest_id(10**6 + n),
            "occurred_at": at,
            "source": "s" * 100,
            "person": LONGEST,
            "account": ACCOUNT,
            "properties": props,
        }
        state.apply_activity(_ACTIVITY.validate_python(body), END)
        n += 1

    start = END - timedelta(days=50)
    for i in range(MAX_TOUCHES):
        at = start + timedelta(hours=12 * i)
        channel = ("email", "linkedin", "phone", "sms")[i % 4]
        send("touch_sent", at, channel=channel, play="no_response", window_id="w" * 128)
        if i % 10 == 9:
            send("replied", at + timedelta(hours=1), channel="email", window_id="w" * 128)
            send("bounced", at + timedelta(hours=2), channel="email")
            send("deal_stage_changed", at + timedelta(hours=3), stage="s" * 49 + str(i % 10))
        if i % 20 == 19:
            meeting = at + timedelta(days=2)
            send("meeting_booked", at + timedelta(hours=4), meeting_at=meeting.isoformat())
            send("meeting_held", at + timedelta(hours=5), meeting_id="m" * 128, kind="k" * 50)
    for i in range(MAX_VACATIONS):
        first = (start + timedelta(days=2 * i)).date()
        send("out_of_office", start + timedelta(days=2 * i), until=first + timedelta(days=300))


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
    heavy = worst(rulebook)
    big = account_of(rulebook, 1000)
    signals_only = worst(rulebook, outreach=False)
    print("\nstored state (format version byte + MessagePack)")
    rows: list[tuple[str, Any, int | None, Callable[..., object]]] = [
        ("typical person (20 signals, 3 weeks)", person, 1024, decode_prospect),
        ("worst person constructed", heavy, 4096, decode_prospect),
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
        f"account of 1000 people {sizes[rows[3][0]]} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
