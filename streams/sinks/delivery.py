"""One delivery with retries: POST, and on failure back off and try again, or give up.

`deliver` is called by a partition's lane in `streams.sinks.service` once per window and
sink. It returns the final `Outcome` and never raises for an HTTP failure. The policy:

- 2xx: delivered.
- 429: retried after `Retry-After` (seconds or an HTTP date) when the receiver sends one,
  else after the backoff.
- 5xx, 408, a timeout (the per-attempt `timeout` covers connect, write and read) and a
  connection error: retried after the backoff, `backoff * 2**(n-1)` capped at
  `backoff_max`, with full jitter (a random delay between zero and that) so that receivers
  coming back are not hit by every sender at once.
- any other 4xx: the receiver refuses the window itself; retrying cannot help, so the
  outcome is final at once (and the window goes to the dead-letter topic).

After `attempts` tries the outcome is final: not delivered, with the last status.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

__all__ = ["Outcome", "Policy", "backoff_delay", "deliver", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class Policy:
    attempts: int = 6
    timeout: float = 10.0
    backoff: float = 0.5
    backoff_max: float = 60.0


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    attempts: int
    status: str  # the last HTTP status code, or "timeout" / "connect_error"
    failures: tuple[str, ...]  # status class of each failed attempt: 4xx, 5xx, timeout, connect
    seconds: float


def backoff_delay(attempt: int, policy: Policy, rand: Callable[[], float]) -> float:
    """Full-jitter exponential backoff before attempt `attempt + 1` (attempt counts from 1)."""
    return rand() * min(policy.backoff_max, policy.backoff * 2 ** (attempt - 1))


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """A `Retry-After` header as seconds from `now`: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    build: Callable[[float], tuple[bytes, dict[str, str]]],
    policy: Policy,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """POST `build(now)` (body, headers; built per attempt so each is signed afresh)."""
    started = time.monotonic()
    failures: list[str] = []
    status = "none"
    for attempt in range(1, policy.attempts + 1):
        body, headers = build(clock())
        wait: float | None = None
        try:
            response = await client.post(url, content=body, headers=headers, timeout=policy.timeout)
        except httpx.TimeoutException:
            status, kind = "timeout", "timeout"
        except httpx.TransportError:
            status, kind = "connect_error", "connect"
        else:
            status = str(response.status_code)
            if 200 <= response.status_code < 300:
                return Outcome(True, attempt, status, tuple(failures), time.monotonic() - started)
            kind = f"{response.status_code // 100}xx"
            if not _retryable(response.status_code):
                failures.append(kind)
                break
            if response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"), now=clock())
        failures.append(kind)
        if attempt < policy.attempts:
            await sleep(wait if wait is not None else backoff_delay(attempt, policy, rand))
    return Outcome(False, len(failures), status, tuple(failures), time.monotonic() - started)
