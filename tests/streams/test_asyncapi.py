"""The AsyncAPI document: valid AsyncAPI 3.0 (vendored schema), complete, and committed."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from streams.asyncapi import DEFAULT_PATH, asyncapi, render, write_asyncapi
from streams.settings import Settings
from streams.topics import Topics

VENDORED = Path(__file__).resolve().parent.parent / "vendor" / "asyncapi" / "3.0.0.json"
DOCUMENT = json.loads(render(asyncapi()))
VALIDATOR = Draft7Validator(json.loads(VENDORED.read_text()))


def test_the_vendored_schema_is_the_one_its_readme_names() -> None:
    digest = hashlib.sha256(VENDORED.read_bytes()).hexdigest()
    assert digest in (VENDORED.parent / "README.md").read_text()


def test_the_document_is_valid_asyncapi_3() -> None:
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in VALIDATOR.iter_errors(DOCUMENT)]
    assert errors == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["channels"]["windowsOpened"].update(address=5),
        lambda d: d["channels"]["windowsOpened"]["bindings"]["kafka"].update(partitions="4"),
        lambda d: d["components"]["schemas"]["Person"].update(type="strin"),
        lambda d: d["operations"]["sendWindowsOpened"].update(action="publish"),
    ],
)
def test_the_validator_sees_deep_into_the_document(mutate: Any) -> None:
    broken = copy.deepcopy(DOCUMENT)
    mutate(broken)
    assert list(VALIDATOR.iter_errors(broken)), "the schema must reject this"


def test_every_topic_has_a_channel_with_kafka_bindings() -> None:
    topics = Topics.from_settings(Settings())
    addresses = {c["address"] for c in DOCUMENT["channels"].values()}
    for topic in [*topics.inputs, topics.contacts, topics.activity, topics.windows_opened]:
        assert topic in addresses
    assert topics.windows_closed in addresses
    assert "{sourceTopic}.dlq" in addresses
    assert f"{topics.windows_opened}.{{sink}}.dlq" in addresses
    for channel in DOCUMENT["channels"].values():
        assert channel["bindings"]["kafka"]["partitions"] == Settings().partitions
    for message in DOCUMENT["components"]["messages"].values():
        assert message["bindings"]["kafka"]["key"]["description"]
        assert message["examples"], message["name"]


def test_dead_letters_document_their_headers_and_examples_match_the_models() -> None:
    messages = DOCUMENT["components"]["messages"]
    headers = messages["DeadLetter"]["headers"]["properties"]
    assert {"followup.error.reason", "followup.error.detail", "followup.source.offset"} <= set(
        headers
    )
    assert "followup.delivery.status" in messages["UndeliveredWindow"]["headers"]["properties"]
    from signals.windows import WindowOpened

    WindowOpened.model_validate(messages["WindowOpened"]["examples"][0]["payload"])


def test_the_committed_document_matches_the_generator(tmp_path: Path) -> None:
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(asyncapi()), (
        "asyncapi.json drifted from the models; run: followup schemas"
    )
    assert write_asyncapi(tmp_path / "a.json").read_text() == DEFAULT_PATH.read_text()
