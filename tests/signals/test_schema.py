from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from signals.models import SignalType
from signals.sample import generate
from signals.schema import DEFAULT_DIR, main, render, schemas

SCHEMAS = schemas()


def test_every_contract_has_a_schema() -> None:
    expected = {
        "signal.schema.json",
        "activity.schema.json",
        "crm_contact.schema.json",
        "window_opened.schema.json",
        "window_closed.schema.json",
        "erasure_request.schema.json",
        "erasure_receipt.schema.json",
    }
    expected |= {f"{kind.value}.schema.json" for kind in SignalType}
    assert set(SCHEMAS) == expected
    for name, schema in SCHEMAS.items():
        assert schema["$id"] == name
        assert schema["title"]
        assert schema["$schema"].startswith("https://json-schema.org/")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = DEFAULT_DIR / name
    assert committed.exists(), f"run: python -m signals.schema  ({name} missing)"
    assert committed.read_text(encoding="utf-8") == render(SCHEMAS[name]), (
        f"{name} drifted from the models; run: python -m signals.schema"
    )


def test_no_stale_schema_files() -> None:
    assert {p.name for p in DEFAULT_DIR.glob("*.json")} == set(SCHEMAS)


def test_main_writes_into_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == set(SCHEMAS)
    assert str(tmp_path) in capsys.readouterr().out
    assert main(["a", "b"]) == 2


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    return schema["$defs"][ref.rsplit("/", 1)[1]]


def test_signal_schema_structurally_accepts_sample_events() -> None:
    """Without a JSON Schema validator: each sample event names its variant and has its keys."""
    schema = SCHEMAS["signal.schema.json"]
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {kind.value for kind in SignalType}
    events = generate(3, people=40, accounts=8, days=5, end=datetime(2024, 5, 14, tzinfo=UTC))
    seen = set()
    for kind, raw in events:
        event = orjson.loads(raw)
        variant = _resolve(schema, {"$ref": mapping[event["type"]]})
        assert set(variant["required"]) <= set(event)
        assert set(event) <= set(variant["properties"])
        for key in ("person", "account"):
            if key in event:
                options = variant["properties"][key].get("anyOf", [variant["properties"][key]])
                model = next(_resolve(schema, o) for o in options if "$ref" in o)
                assert set(model.get("required", [])) <= set(event[key])
                assert set(event[key]) <= set(model["properties"])
        seen.add(kind)
    assert seen >= {"email_opened", "page_visited"}
