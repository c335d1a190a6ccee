"""Load a rulebook from YAML, with errors that point at the line to fix.

`load_rulebook` is called at worker start-up and by `followup rules check`; it either returns
a validated, frozen `Rulebook` or raises `RulebookError` naming the file, the line, the
dotted field (`engagement.rules[2].when.matches`) and what is wrong. Nothing is guessed: a
YAML syntax error, a duplicate mapping key, an unknown key or operator, a bad regex and a
value of the wrong type are all load errors, all reported together.

YAML is read with safe-load semantics (plain data only, no Python objects). To map a
validation error back to a line, the file is composed into a node tree first and the error's
location is walked through it.

The JSON Schema in `rules/schemas/rulebook.schema.json` is generated from the model by
`write_rulebook_schema` (editors use it for completion); never edit it by hand.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rules.rulebook.conditions import CONDITION_TAGS
from rules.rulebook.model import Rulebook
from signals.models import SignalType

__all__ = [
    "SCHEMA_PATH",
    "Issue",
    "RulebookError",
    "compose_yaml",
    "error_message",
    "load_rulebook",
    "locate",
    "parse_rulebook",
    "rulebook_json_schema",
    "summarise",
    "write_json_schema",
    "write_rulebook_schema",
    "yaml_json_schema",
]

SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "rulebook.schema.json"
_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a rulebook file."""

    line: int | None
    field: str | None
    message: str

    def render(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else path
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class RulebookError(Exception):
    """A rulebook that cannot be loaded.

    `line` (1-based) and `field` (dotted, e.g. `engagement.rules[2].when.matches`) locate the
    first problem by line; `issues` holds every problem found, and `message` lists the
    further ones after the first, so `str()` reads `rules.yaml:14: field: what is wrong`.
    """

    def __init__(
        self,
        path: str,
        line: int | None,
        field: str | None,
        message: str,
        issues: tuple[Issue, ...] = (),
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.issues = issues or (Issue(line, field, message),)
        self.message = message + "".join(f"\n{issue.render(path)}" for issue in self.issues[1:])
        super().__init__(Issue(line, field, self.message).render(path))


# ----------------------------------------------------------------------- YAML


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the base class reports it
                if first is not None:
                    raise _DuplicateKeyError(key, first + 1, key_node)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    def __init__(self, key: Any, first_line: int, key_node: yaml.Node) -> None:
        super().__init__(
            problem=f"duplicate key {key!r} (first on line {first_line})",
            problem_mark=key_node.start_mark,
        )
        self.key_node = key_node


def _path_to(root: yaml.Node, target: yaml.Node) -> str | None:
    """The dotted field of the mapping key `target`, found by walking the tree."""
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, field = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = f"{field}.{key_node.value}" if field else str(key_node.value)
                if key_node is target:
                    return child
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{field}[{i}]") for i, item in enumerate(node.value))
    return None


def compose_yaml(text: str, source: str) -> tuple[yaml.Node, Any]:
    loader = _StrictSafeLoader(text)
    node: yaml.Node | None = None
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
        if node is None or data is None:
            raise RulebookError(source, None, None, "the file is empty")
        return node, data
    except _DuplicateKeyError as exc:
        field = _path_to(node, exc.key_node) if node is not None else None
        line = exc.key_node.start_mark.line + 1
        raise RulebookError(source, line, field, exc.problem or "duplicate key") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise RulebookError(source, line, None, f"YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise RulebookError(source, None, None, f"YAML: {exc}") from None
    finally:
        loader.dispose()


# ---------------------------------------------------------- error locations


def locate(root: yaml.Node, loc: tuple[int | str, ...]) -> tuple[int, str]:
    """Walk a pydantic error location through the YAML tree: (1-based line, dotted field)."""
    node: yaml.Node | None = root
    line = root.start_mark.line + 1
    field = ""
    for part in loc:
        if part in CONDITION_TAGS or part == "[key]":
            continue
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                node = None
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                node = None
        else:
            node = None
    return line, field


def error_message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (not part of followup/v1)"
    msg = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if kind not in ("missing", "value_error") and (
        isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 60)
    ):
        msg += f" (got {value!r})"
    return msg


def _issues(exc: ValidationError, root: yaml.Node) -> tuple[Issue, ...]:
    issues = []
    for error in exc.errors(include_url=False):
        line, field = locate(root, error["loc"])
        issues.append(Issue(line, field or None, error_message(error)))
    return tuple(sorted(issues, key=lambda i: i.line if i.line is not None else 0))


# --------------------------------------------------------------------- public


def parse_rulebook(text: str, source: str = "<string>") -> Rulebook:
    """Validate YAML text as a rulebook; `source` names it in errors. Raises RulebookError."""
    root, data = compose_yaml(text, source)
    try:
        return Rulebook.model_validate(data)
    except ValidationError as exc:
        issues = _issues(exc, root)
        first = issues[0]
        raise RulebookError(source, first.line, first.field, first.message, issues) from None


def load_rulebook(path: str | Path) -> Rulebook:
    """Read and validate a rulebook file. Raises RulebookError (also when it cannot be read)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(str(path), None, None, f"cannot read the file: {exc}") from None
    return parse_rulebook(text, source=str(path))


def yaml_json_schema(model: type[BaseModel], schema_id: str) -> dict[str, Any]:
    """The JSON Schema of a YAML file's model (keys by alias, e.g. `apiVersion`, `in`)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": _JSON_SCHEMA_DIALECT, "$id": schema_id, **schema}


def write_json_schema(path: str | Path, schema: dict[str, Any]) -> Path:
    """Write a generated schema file (tests check the committed ones are current)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return path


def rulebook_json_schema() -> dict[str, Any]:
    return yaml_json_schema(Rulebook, "followup/v1/rulebook")


def write_rulebook_schema(path: str | Path = SCHEMA_PATH) -> Path:
    return write_json_schema(path, rulebook_json_schema())


def _num(value: float) -> str:
    return f"{value:g}"


def summarise(rulebook: Rulebook) -> str:
    """A few lines for `followup rules check`: what the rulebook contains, and its hash."""
    fit, engagement, windows = rulebook.fit, rulebook.engagement, rulebook.windows
    per_signal = Counter(rule.signal for rule in engagement.rules)
    signals = ", ".join(f"{t.value} {per_signal[t]}" for t in SignalType if per_signal[t])
    tiers = " ".join(f"{tier}>={_num(points)}" for tier, points in sorted(fit.tiers.items()))
    title = f" ({rulebook.name})" if rulebook.name else ""
    return "\n".join(
        [
            f"rulebook {rulebook.version}{title} {rulebook.api_version} hash {rulebook.hash}",
            f"  fit: {len(fit.rules)} rules, {len(fit.disqualify)} disqualifiers, tiers {tiers}",
            f"  engagement: {len(engagement.rules)} rules ({signals or 'none'}), default "
            f"half-life {_num(engagement.default_half_life_days)} d, horizon "
            f"{_num(engagement.horizon_days)} d",
            f"  windows: threshold {_num(windows.threshold)}, cooldown "
            f"{_num(windows.cooldown_days)} d, expire after {_num(windows.expire_after_hours)} h",
        ]
    )
