"""Load the sources file (`FOLLOWUP_SOURCES`) with errors that point at the line to fix.

Called once at start-up by the worker and the HTTP ingest; returns a `SourceSet` or raises
`SourcesError` naming the file, the line and the dotted field (`sources[1].mapping.events[0].to`),
like the rulebook loader. It reuses the rulebook loader's YAML machinery (strict safe-load
with duplicate-key detection, error location through the node tree), which is pure: YAML
and pydantic only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from rules.rulebook.loader import Issue, RulebookError, compose_yaml, error_message, locate
from signals.sources.adapt import CompiledSource, compile_source
from signals.sources.model import SourcesFile

__all__ = ["SourceSet", "SourcesError", "load_sources", "parse_sources"]


class SourcesError(RulebookError):
    """A sources file that cannot be used; `str()` reads `sources.yaml:14: field: problem`."""


@dataclass(frozen=True, slots=True)
class SourceSet:
    """The declared sources, by topic and by name."""

    by_topic: dict[str, CompiledSource]

    @classmethod
    def empty(cls) -> SourceSet:
        return cls({})

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self.by_topic)

    def named(self, name: str) -> CompiledSource | None:
        return next((s for s in self.by_topic.values() if s.name == name), None)

    def __iter__(self) -> Iterator[CompiledSource]:
        return iter(self.by_topic.values())

    def __len__(self) -> int:
        return len(self.by_topic)


def parse_sources(text: str, source: str = "<string>") -> SourceSet:
    """Validate YAML text as a sources file; `source` names it in errors."""
    try:
        root, data = compose_yaml(text, source)
    except RulebookError as exc:
        raise SourcesError(exc.path, exc.line, exc.field, exc.message) from None
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors(include_url=False):
            line, field = locate(root, error["loc"])
            issues.append(Issue(line, field or None, error_message(error)))
        issues.sort(key=lambda i: i.line if i.line is not None else 0)
        first = issues[0]
        raise SourcesError(source, first.line, first.field, first.message, tuple(issues)) from None
    return SourceSet({s.topic: compile_source(s) for s in parsed.sources})


def load_sources(path: str | Path) -> SourceSet:
    """Read and validate a sources file. Raises SourcesError (also when it cannot be read)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(str(path), None, None, f"cannot read the file: {exc}") from None
    return parse_sources(text, source=str(path))
