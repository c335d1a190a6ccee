"""The score API on real workers and the embedded broker: a scored person over HTTP, a
schemathesis run against the served OpenAPI document, and two workers where the one that
does not own the account routes the request to the one that does."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr, TypeAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rules.core.standing import person_score
from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from signals.models import Signal
from signals.person_score import PersonScore
from signals.windows import WindowOpened
from streams.local import produce, wait_until
from streams.settings import Settings
from streams.web import SERVED_ROUTES
from tests.conftest import scrape
from tests.support import (
    ICP_ACCOUNT,
    ICP_PERSON,
    expected_windows,
    hot_history,
    read_windows,
    records_on_one_topic,
    wait_ready,
)

pytestmark = pytest.mark.integration

TOKEN = "score-api-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PERSON_PATH = "/v1/accounts/{domain}/people/{person_key}"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _scored(settings: Settings) -> tuple[WindowOpened, Replay]:
    """Dana's hot history produced, the one window it opens read back, and the same history
    replayed through the pure core as the worker applies it (the event clock, one account)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=21)
    history = hot_history("api", start)
    records = records_on_one_topic(settings.topic_page_visited, history)
    (expected,) = expected_windows(settings, records)
    asyncio.run(produce(settings, records))
    (window,) = read_windows(settings, count=1)
    assert window.window_id == expected.window_id
    replay = Replay(load_rulebook(settings.rulebook))
    for body in history:
        signal = TypeAdapter(Signal).validate_python(body)
        replay.apply(signal, signal.occurred_at)
    return window, replay


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


def _person(port: int, domain: str = "WWW.Acme-Data.example") -> httpx.Response:
    # The path as a person might type it: the engine's keys are found all the same.
    return _get(port, f"/v1/accounts/{domain}/people/Dana.VP@acme-data.example", AUTH)


def _until_answered(port: int) -> httpx.Response:
    """The person's answer, waiting out 503s (the worker may still be taking partitions)."""
    answers: list[httpx.Response] = []

    def answered() -> bool:
        answers.append(_person(port))
        return answers[-1].status_code != 503

    asyncio.run(wait_until(answered, timeout=60, interval=0.5, what="a score API answer"))
    return answers[-1]


def test_a_scored_person_over_http_and_a_schemathesis_run(settings, start_worker) -> None:
    assert ("GET", PERSON_PATH) in SERVED_ROUTES
    settings = settings.model_copy(update={"score_api_token": SecretStr(TOKEN)})
    worker = start_worker(settings)
    wait_ready(worker)
    window, replay = _scored(settings)
    port = worker.web_port

    response = _until_answered(port)
    assert response.status_code == 200, response.text
    score = PersonScore.model_validate_json(response.content)
    assert (score.account_key, score.person_key) == (
        ICP_ACCOUNT["domain"],
        ICP_PERSON["email"],
    )
    assert score.open_window is not None and score.open_window.window_id == window.window_id
    assert score.window_now.blocked_by == "cooldown" and not score.window_now.would_open
    assert score.window_now.cooldown_until == window.as_of + timedelta(days=7)
    assert score.tier == window.score.fit_tier and score.fit == window.score.fit
    assert score.rulebook == window.rulebook
    # The worker's stored state is the replay's: the core scores both alike at that time.
    key = ICP_ACCOUNT["domain"]
    prospect = replay.prospects[key][ICP_PERSON["email"]]
    assert score == person_score(replay.rulebook, prospect, replay.accounts[key], score.as_of)

    assert _person(port, "nowhere.example").json() == {"error": "no such account is known"}
    missing = _get(port, "/v1/accounts/acme-data.example/people/zed@acme-data.example", AUTH)
    assert missing.status_code == 404
    assert missing.json() == {"error": "no such person at this account is known"}
    assert _get(port, "/v1/accounts/acme-data.example/people/zed@x.example").status_code == 401

    base = f"http://127.0.0.1:{port}"
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json")
    operation = schema[PERSON_PATH]["GET"]
    known = operation.Case(
        path_parameters={"domain": ICP_ACCOUNT["domain"], "person_key": ICP_PERSON["email"]}
    )
    assert known.call_and_validate(base_url=base, headers=AUTH, checks=CHECKS).status_code == 200
    statuses: set[int] = set()

    def run(mode: GenerationMode, headers: dict[str, str]) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=60,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            answer = case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
            statuses.add(answer.status_code)

        conforms()

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for headers in (AUTH, {}):
            run(mode, headers)
    # The run reached the interesting answers, not only one kind of refusal.
    assert {400, 401, 404} <= statuses and not {s for s in statuses if s >= 500}
    counted = scrape(port)
    assert re.search(
        r'followup_score_api_requests_total\{route="none",status="401"\} [1-9]', counted
    )


def test_two_workers_the_one_not_owning_the_account_routes_the_request(
    settings, start_worker, tmp_path
) -> None:
    settings = settings.model_copy(update={"score_api_token": SecretStr(TOKEN)})
    first = start_worker(settings, name="first")
    wait_ready(first)
    _scored(settings)
    second = start_worker(
        settings.model_copy(update={"state_dir": tmp_path / "second-state"}), name="second"
    )
    wait_ready(second)
    # Both ready: each holds some of the four keyed partitions, so exactly one owns the
    # account; whichever is asked, the answer is the same person.
    answers = {}
    for worker in (first, second):
        response = _until_answered(worker.web_port)
        assert response.status_code == 200, response.text
        answers[worker.web_port] = PersonScore.model_validate_json(response.content)
    a, b = answers.values()
    assert a.model_dump(exclude={"as_of", "engagement", "total", "reasons"}) == b.model_dump(
        exclude={"as_of", "engagement", "total", "reasons"}
    )
    assert a.open_window is not None and [r.event_id for r in a.reasons] == [
        r.event_id for r in b.reasons
    ]

    def routes(port: int) -> dict[str, float]:
        found = re.findall(
            r'followup_score_api_requests_total\{route="(\w+)",status="200"\} ([0-9.]+)',
            scrape(port),
        )
        return {route: float(n) for route, n in found}

    by_worker = [routes(first.web_port), routes(second.web_port)]
    forwarded = [w for w in by_worker if w.get("forwarded", 0) >= 1]
    assert len(forwarded) == 1, by_worker  # the non-owner forwarded...
    (owner,) = [w for w in by_worker if w is not forwarded[0]]
    assert owner.get("local", 0) >= 2 and owner.get("forwarded", 0) == 0  # ...the owner read
