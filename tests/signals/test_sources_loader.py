"""The sources file: strict, with errors at file:line:field like the rulebook's."""

from __future__ import annotations

from pathlib import Path

import pytest

from signals.sources import SourcesError, load_sources, parse_sources


def _error(text: str) -> SourcesError:
    with pytest.raises(SourcesError) as info:
        parse_sources(text, source="sources.yaml")
    return info.value


def test_a_valid_file_compiles_every_source_by_topic(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "apiVersion: followup/v1\n"
        "sources:\n"
        "  - {name: web, topic: segment.events, format: segment}\n"
        "  - {name: svc, topic: ce.events, format: cloudevents}\n"
    )
    sources = load_sources(path)
    assert sources.topics == ("segment.events", "ce.events")
    assert sources.named("svc") is sources.by_topic["ce.events"]
    assert sources.named("nope") is None and len(sources) == 2


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            "sources:\n  - name: web\n    topic: t\n    format: snowplow\n",
            4,
            "sources[0].format",
            "contract",
        ),
        (
            "sources:\n  - name: web\n    topic: t\n    format: segment\n"
            "    mapping:\n      events:\n        - {event: Demo Booked, to: demo_booked}\n",
            7,
            "sources[0].mapping.events[0].to",
            "unknown target",
        ),
        (
            "sources:\n  - name: web\n    topic: t\n    format: segment\n"
            "    mapping:\n      events:\n        - event: Email Opened\n"
            "          to: email_opened\n          properties: {headline: properties.x}\n",
            7,
            "sources[0].mapping.events[0]",
            "no properties headline",
        ),
        (
            "sources:\n  - name: web\n    topic: t\n    format: segment\n"
            "    mapping:\n      person: {emial: traits.email}\n",
            6,
            "sources[0].mapping.person.emial",
            "unknown key",
        ),
        (
            "sources:\n  - name: web\n    topic: t\n    format: segment\n"
            "    mapping:\n      event_id: 'message id'\n",
            6,
            "sources[0].mapping.event_id[0]",
            "pattern",
        ),
        (
            "sources:\n  - {name: a, topic: t, format: segment}\n"
            "  - {name: b, topic: t, format: segment}\n",
            1,
            None,
            "repeated: t",
        ),
        (
            "sources:\n  - {name: a, topic: t, format: contract, mapping: {}}\n",
            2,
            "sources[0]",
            "no mapping",
        ),
        ("sources:\n  - name: a\n    name: b\n", 3, "sources[0].name", "duplicate key"),
    ],
)
def test_errors_name_the_line_and_the_field(
    text: str, line: int, field: str | None, words: str
) -> None:
    error = _error(text)
    assert (error.line, error.field) == (line, field), str(error)
    assert words in str(error)
    assert str(error).startswith(f"sources.yaml:{line}:")


def test_every_problem_is_reported_at_once() -> None:
    error = _error(
        "sources:\n"
        "  - {name: a, topic: t, format: nope}\n"
        "  - {name: B!, topic: u, format: segment}\n"
    )
    assert [i.line for i in error.issues] == [2, 3]


def test_an_unreadable_or_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read"):
        load_sources(tmp_path / "missing.yaml")
    assert "empty" in str(_error(""))
