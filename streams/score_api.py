"""The score API on the worker's web port: a person's live score, asked over HTTP.

    GET /v1/accounts/{domain}/people/{person_key}   `signals.person_score.PersonScore`
    GET /v1/openapi.json                             the OpenAPI 3.1 document (`streams.openapi`)

**Off** unless `FOLLOWUP_SCORE_API_TOKEN` or `FOLLOWUP_SCORE_API_TOKEN_FILE` names a token:
both paths answer 404 then, as any unknown path does. **Auth**: `Authorization: Bearer
<token>`, compared in constant time; 401 otherwise (the document needs no token: it holds
no data). **Path parts** are keyed as the engine keys them (`signals.identity`: the domain
normalised, an email lowercased, `id:<crm id>` as given); a part that is empty, too long,
holds a control character, or a domain with `/` or `|`, gets 400. Every error is an
`ApiError` JSON body that never repeats a person key (emails are personal data; nothing here
logs one either).

**Routing.** An account lives on the keyed partition `streams.frames.partition_for` gives
its key (what the router uses), so the worker that owns that partition holds the state. A
worker that does not own it asks `app.router.table_metadata` which worker does (the
assignment every member receives) and forwards the request there, token and all, marked
with `X-Followup-Routed`; a routed request is never forwarded again, so two workers that
disagree during a rebalance answer 503 instead of passing it back and forth. Faust's
`table_route` is not used: it hashes the raw path segment (not the normalised account key)
with the partitioner of Faust's own producer, which never sends to our changelogs and may
hold no metadata for them, and it keeps no header of the answer. 503 with `Retry-After`
while the partition has no owner, is recovering, or its owner does not answer.

**Read-only.** The state is read from the local stores through a `PartitionState` whose memo
keeps nothing, so a request never writes a table, a memo or the changelog, and never calls the
broker. "Now" is the injected clock (`streams.clock`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from faust.types import TP
from yarl import URL

from rules.core.standing import person_score
from rules.core.state import StateFormatError
from signals.identity import account_key, email_key
from streams.clock import Clock
from streams.errors import ConfigurationError
from streams.frames import partition_for
from streams.ingest.server import bearer_ok
from streams.metrics import Metrics
from streams.partition import PartitionState
from streams.settings import Settings, secret_values
from streams.store import Memo

__all__ = [
    "MAX_DOMAIN",
    "MAX_PERSON_KEY",
    "OPENAPI_PATH",
    "PERSON_PATH",
    "ROUTED_HEADER",
    "Answer",
    "ScoreApi",
    "parse_path",
    "score_api_tokens",
]

log = logging.getLogger(__name__)

PERSON_PATH = "/v1/accounts/{domain}/people/{person_key}"
OPENAPI_PATH = "/v1/openapi.json"
ROUTED_HEADER = "X-Followup-Routed"
MAX_DOMAIN = 253  # the longest DNS name
MAX_PERSON_KEY = 320  # an email address's local part and domain at their longest
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    """One response: status, JSON body, extra headers; `route` says who answered."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    route: str = "local"  # local, forwarded, none (refused before any state was read)


_RETRY = {"Retry-After": "1"}


def _error(
    status: int, text: str, route: str = "none", headers: dict[str, str] | None = None
) -> Answer:
    return Answer(status, orjson.dumps({"error": text}), dict(headers or {}), route)


def score_api_tokens(settings: Settings) -> tuple[str, ...]:
    """The accepted bearer tokens; none: the API is off. Read at start-up. Raises
    `ConfigurationError` when the token file cannot be read."""
    try:
        return secret_values(settings.score_api_token, settings.score_api_token_file)
    except OSError as exc:
        raise ConfigurationError(f"cannot read FOLLOWUP_SCORE_API_TOKEN_FILE: {exc}") from exc


def parse_path(domain: str, person: str) -> tuple[str, str] | str:
    """(account key, person key) as the engine keys them, or why the parts are malformed."""
    for name, text, limit in (
        ("domain", domain, MAX_DOMAIN),
        ("person key", person, MAX_PERSON_KEY),
    ):
        if not text.strip():
            return f"the {name} is empty"
        if len(text) > limit:
            return f"the {name} is longer than {limit} characters"
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            return f"the {name} holds a control character"
    if "/" in domain or "|" in domain:
        return "the domain holds '/' or '|'"
    key = account_key(domain)
    if not key:
        return "the domain is empty"
    person = person.strip()
    if person.startswith("id:"):
        crm_id = person[3:].strip()
        return (key, f"id:{crm_id}") if crm_id else "the person key names no CRM id"
    local, at, host = person.rpartition("@")
    if not at or not local or not host:
        return "a person key is an email address or id:<CRM id>"
    return key, email_key(person)


class ScoreApi:
    """The handlers' state. `app` is the Faust app (its consumer, router, HTTP client and
    canonical URL are read per request); `scorer` is the score agent's `streams.score.Scorer`
    (its stores, suppression replica and rulebook in force); `recovered` says whether the
    tables finished recovery."""

    def __init__(
        self,
        app: Any,
        *,
        scorer: Any,
        tokens: tuple[str, ...],
        keyed_topic: str,
        partitions: int,
        recovered: Callable[[], bool],
        clock: Clock,
        metrics: Metrics,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.app = app
        self.scorer = scorer
        self.tokens = tokens
        self.keyed_topic = keyed_topic
        self.partitions = partitions
        self.recovered = recovered
        self.clock = clock
        self.metrics = metrics
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    async def person(self, request: Any, domain: str, person: str) -> Answer:
        """Answer `GET PERSON_PATH`. Never raises: every outcome is an `Answer`."""
        answer = await self._person(request, domain, person)
        self.metrics.score_api_requests.labels(str(answer.status), answer.route).inc()
        return answer

    async def _person(self, request: Any, domain: str, person: str) -> Answer:
        if not self.enabled:
            return _error(404, "not found")
        if not bearer_ok(request.headers.get("Authorization"), self.tokens):
            return _error(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        parsed = parse_path(domain, person)
        if isinstance(parsed, str):
            return _error(400, parsed)
        account, person_key = parsed
        partition = partition_for(account, self.partitions)
        if self._owns(partition):
            if not self.recovered():
                return _error(503, "the account's state is recovering; retry", headers=_RETRY)
            return self._read(partition, account, person_key)
        owner = self._owner(partition)
        if request.headers.get(ROUTED_HEADER) or owner is None or self._is_me(owner):
            return _error(503, "the account's partition has no owner now; retry", headers=_RETRY)
        return await self._forward(owner, partition, request)

    def _owns(self, partition: int) -> bool:
        consumer = getattr(self.app, "_consumer", None)  # the property would create one
        if consumer is None:
            return False
        try:
            return TP(self.keyed_topic, partition) in consumer.assignment()
        except Exception:  # not started yet: owns nothing
            return False

    def _owner(self, partition: int) -> str | None:
        """The URL of the worker the group assigned the account's partition to, if any."""
        changelog = self.scorer.stores["accounts"].changelog_topic
        try:
            hosts = self.app.router.table_metadata("accounts")
        except Exception:  # no assignment received yet
            return None
        for url, topics in hosts.items():
            if partition in topics.get(changelog, ()):
                return str(url)
        return None

    def _is_me(self, url: str) -> bool:
        mine, theirs = URL(str(self.app.conf.canonical_url)), URL(url)
        return (mine.host, mine.port) == (theirs.host, theirs.port)

    def _read(self, partition: int, account: str, person_key: str) -> Answer:
        scorer = self.scorer
        state = PartitionState(partition, scorer.stores, Memo(0), scorer.suppressions.get)
        try:
            prospect = state.prospect(account, person_key)
            account_state = state.account(account)
        except StateFormatError:
            log.error("score api: a stored state of partition %d is unreadable", partition)
            return _error(500, "the stored state cannot be read", "local")
        if prospect is None:
            what = "account" if account_state is None else "person at this account"
            return _error(404, f"no such {what} is known", "local")
        scored = person_score(
            scorer.rulebook,
            prospect,
            account_state,
            self.clock(),
            suppression=state.suppression(person_key),
        )
        return Answer(200, scored.model_dump_json().encode())

    async def _forward(self, owner: str, partition: int, request: Any) -> Answer:
        target = URL(owner.rstrip("/") + request.raw_path, encoded=True)
        headers = {ROUTED_HEADER: "1", "Authorization": request.headers.get("Authorization", "")}
        try:
            async with self.app.http_client.get(
                target, headers=headers, timeout=self.timeout
            ) as response:
                body = await response.read()
                kept = {
                    name: response.headers[name]
                    for name in ("Retry-After", "WWW-Authenticate")
                    if name in response.headers
                }
                return Answer(response.status, body, kept, "forwarded")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "score api: the owner of partition %d did not answer (%s)",
                partition,
                type(exc).__name__,
            )
            return _error(503, "the account's worker did not answer; retry", headers=_RETRY)
