"""`streams.score_api`: path parsing, the local read on fake stores, and the real views of an
app whose broker is down (off, auth, malformed parts, no owner)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from faust.types import TP
from pydantic import SecretStr

from rules.core.standing import person_score
from rules.core.state import encode_state
from rules.offline.replay import Replay
from rules.rulebook.loader import load_rulebook
from streams.app import create_app
from streams.broker import free_port
from streams.frames import partition_for
from streams.metrics import Metrics
from streams.partition import TABLES, prospect_key
from streams.score_api import MAX_DOMAIN, MAX_PERSON_KEY, ROUTED_HEADER, ScoreApi, parse_path
from streams.settings import DEFAULT_RULEBOOK, Settings
from tests.rules.builders import T0, days, make_rulebook, person, visit
from tests.streams.test_partition import DictStore

TOKEN = "score-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEYED = "keyed"
PARTITIONS = 4


@pytest.mark.parametrize(
    ("domain", "person_key", "expected"),
    [
        ("acme.com", "ana@acme.com", ("acme.com", "ana@acme.com")),
        ("WWW.Acme.COM.", " Ana@WWW.Acme.com ", ("acme.com", "ana@acme.com")),
        ("bücher.example", "id: 0031x ", ("xn--bcher-kva.example", "id:0031x")),
        ("acme.com", "id:a/b", ("acme.com", "id:a/b")),  # a CRM id may hold a slash
        ("", "ana@acme.com", "the domain is empty"),
        ("  ", "ana@acme.com", "the domain is empty"),
        ("acme.com", "", "the person key is empty"),
        ("a" * (MAX_DOMAIN + 1), "ana@acme.com", "the domain is longer than 253 characters"),
        ("acme.com", "a" * MAX_PERSON_KEY + "@x", "the person key is longer than 320 characters"),
        ("acme\x00.com", "ana@acme.com", "the domain holds a control character"),
        ("acme.com", "ana\n@acme.com", "the person key holds a control character"),
        ("acme.com|x", "ana@acme.com", "the domain holds '/' or '|'"),
        ("acme.com/x", "ana@acme.com", "the domain holds '/' or '|'"),
        ("acme.com", "id:", "the person key names no CRM id"),
        ("acme.com", "ana", "a person key is an email address or id:<CRM id>"),
        ("acme.com", "@acme.com", "a person key is an email address or id:<CRM id>"),
        ("acme.com", "ana@", "a person key is an email address or id:<CRM id>"),
    ],
)
def test_parse_path(domain: str, person_key: str, expected: Any) -> None:
    assert parse_path(domain, person_key) == expected


# -- the local read, on fake stores -----------------------------------------------------------


class _Request:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.raw_path = "/v1/accounts/x/people/y"


def _stored(r: Replay) -> dict[str, DictStore]:
    stores = {name: DictStore(name) for name in TABLES}
    for key, account in r.accounts.items():
        p = partition_for(key, PARTITIONS)
        stores["accounts"].data[(p, key.encode())] = encode_state(account)
    for key, people in r.prospects.items():
        assert key is not None
        for pk, state in people.items():
            p = partition_for(key, PARTITIONS)
            stores["prospects"].data[(p, prospect_key(key, pk))] = encode_state(state)
    return stores


def _api(r: Replay, *, owned: set[int], now: Any, recovered: bool = True) -> ScoreApi:
    app = SimpleNamespace(
        _consumer=SimpleNamespace(assignment=lambda: {TP(KEYED, p) for p in owned}),
        router=SimpleNamespace(table_metadata=lambda _name: {}),
        conf=SimpleNamespace(canonical_url="http://127.0.0.1:1"),
    )
    scorer = SimpleNamespace(
        stores=_stored(r), suppressions=SimpleNamespace(get=lambda _pk: None), rulebook=r.rulebook
    )
    return ScoreApi(
        app,
        scorer=scorer,
        tokens=(TOKEN,),
        keyed_topic=KEYED,
        partitions=PARTITIONS,
        recovered=lambda: recovered,
        clock=lambda: now,
        metrics=Metrics(),
    )


def _history() -> Replay:
    r = Replay(make_rulebook())
    who = person(seniority="vp")
    r.apply(visit("e1", T0, who=who), T0)
    r.apply(visit("e2", T0 + days(1), who=who), T0 + days(1))
    assert len(r.windows) == 1
    return r


def test_the_owner_reads_its_stores_and_answers_the_cores_score() -> None:
    r = _history()
    now = T0 + days(2)
    owner = partition_for("acme.com", PARTITIONS)
    api = _api(r, owned={owner}, now=now)
    answer = asyncio.run(api.person(_Request(AUTH), "www.acme.com", "Ana@Acme.com"))
    assert (answer.status, answer.route) == (200, "local")
    expected = person_score(
        r.rulebook, r.prospects["acme.com"]["ana@acme.com"], r.accounts["acme.com"], now
    )
    assert orjson.loads(answer.body) == orjson.loads(expected.model_dump_json())
    assert orjson.loads(answer.body)["open_window"]["window_id"] == r.windows[0].window_id
    sample = api.metrics.score_api_requests.labels("200", "local")._value.get()
    assert sample == 1


def test_unknown_people_and_accounts_are_404_without_echoing_the_key() -> None:
    r = _history()
    api = _api(r, owned=set(range(PARTITIONS)), now=T0 + days(2))
    person_missing = asyncio.run(api.person(_Request(AUTH), "acme.com", "zed@acme.com"))
    account_missing = asyncio.run(api.person(_Request(AUTH), "nowhere.example", "z@x.example"))
    assert orjson.loads(person_missing.body) == {"error": "no such person at this account is known"}
    assert orjson.loads(account_missing.body) == {"error": "no such account is known"}
    assert person_missing.status == account_missing.status == 404


def test_recovery_no_owner_and_a_routed_request_are_503_not_a_loop() -> None:
    r = _history()
    owner = partition_for("acme.com", PARTITIONS)
    recovering = _api(r, owned={owner}, now=T0, recovered=False)
    answer = asyncio.run(recovering.person(_Request(AUTH), "acme.com", "ana@acme.com"))
    assert answer.status == 503 and answer.headers == {"Retry-After": "1"}
    elsewhere = _api(r, owned=set(), now=T0)
    elsewhere.app.router = SimpleNamespace(
        table_metadata=lambda _name: {"http://127.0.0.1:2": {"accounts-changelog": [owner]}}
    )
    routed = {**AUTH, ROUTED_HEADER: "1"}  # came from a worker that thought we own it
    answer = asyncio.run(elsewhere.person(_Request(routed), "acme.com", "ana@acme.com"))
    assert (answer.status, answer.route) == (503, "none")


# -- the real views of an app that never reached its broker ----------------------------------


def _views(tmp_path: Path, token: str | None, requests: list[tuple[str, dict[str, str]]]):
    settings = Settings(
        broker_url=f"kafka://127.0.0.1:{free_port()}",  # nothing listens there
        store="memory",
        state_dir=tmp_path / "state",
        web_port=free_port(),
        score_api_token=SecretStr(token) if token else None,
    )
    app = create_app(settings, rulebook=load_rulebook(DEFAULT_RULEBOOK), metrics=Metrics())
    app.web.init_server()

    async def get_all() -> list[tuple[int, dict[str, str], Any]]:
        out = []
        async with TestClient(TestServer(app.web.web_app)) as client:
            for path, headers in requests:
                response = await client.get(path, headers=headers)
                assert response.content_type == "application/json", path
                out.append((response.status, dict(response.headers), await response.json()))
        return out

    return asyncio.run(asyncio.wait_for(get_all(), timeout=20))


PERSON = "/v1/accounts/acme-data.example/people/dana.vp@acme-data.example"


def test_without_a_token_the_api_is_off(tmp_path: Path) -> None:
    got = _views(tmp_path, None, [(PERSON, AUTH), ("/v1/openapi.json", {})])
    assert [(status, body) for status, _, body in got] == [
        (404, {"error": "not found"}),
        (404, {"error": "not found"}),
    ]


def test_auth_malformed_parts_and_no_owner(tmp_path: Path) -> None:
    long_domain = "a" * (MAX_DOMAIN + 1)
    got = _views(
        tmp_path,
        TOKEN,
        [
            (PERSON, {}),
            (PERSON, {"Authorization": "Bearer wrong"}),
            (PERSON, {"Authorization": TOKEN}),  # no scheme
            (f"/v1/accounts/{long_domain}/people/x@y.example", AUTH),
            ("/v1/accounts/a%7Cb/people/x@y.example", AUTH),
            ("/v1/accounts/%7B%7D/people/%01", AUTH),
            (PERSON, AUTH),  # well-formed, and nobody owns any partition yet
            ("/v1/openapi.json", {}),
        ],
    )
    statuses = [status for status, _, _ in got]
    assert statuses == [401, 401, 401, 400, 400, 400, 503, 200]
    assert got[0][1]["WWW-Authenticate"] == "Bearer"
    assert got[6][1]["Retry-After"] == "1"
    assert "dana" not in orjson.dumps([body for _, _, body in got[:7]]).decode()
    document = got[7][2]
    assert document["openapi"] == "3.1.0"
    operation = document["paths"]["/v1/accounts/{domain}/people/{person_key}"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PersonScore"
    }
    assert {"PersonScore", "ApiError", "WindowNow"} <= set(document["components"]["schemas"])


def test_the_clock_is_the_injected_one() -> None:
    r = _history()
    later = T0 + days(30)
    api = _api(r, owned=set(range(PARTITIONS)), now=later)
    answer = asyncio.run(api.person(_Request(AUTH), "acme.com", "ana@acme.com"))
    body = orjson.loads(answer.body)
    assert body["as_of"] == later.isoformat().replace("+00:00", "Z")
    assert body["open_window"] is None  # expired by then
    assert body["window_now"]["cooldown_until"] is None
