"""JSON Schemas for the topics, generated from the models (never written by hand).

Inbound schemas (`signal.schema.json` and one per signal type) describe what a producer may
send, so they are generated in validation mode; `window_opened.schema.json` describes what we
publish, so it is generated in serialization mode. `activity.schema.json` is the feedback
contract outreach tools write to `outreach.activity` (validation mode). The committed copies
live in `signals/schemas/`; a test fails when they drift from the models. Regenerate with:

    python -m signals.schema [DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, TypeAdapter

from signals.activity import Activity
from signals.contacts import CrmContact
from signals.erasure import ErasureReceipt, ErasureRequest
from signals.models import (
    EmailOpened,
    FundingAnnounced,
    JobChanged,
    PageVisited,
    Signal,
    SignalType,
)
from signals.windows import WindowClosed, WindowOpened

__all__ = ["DEFAULT_DIR", "main", "render", "schemas", "write_schemas"]

DEFAULT_DIR: Final = Path(__file__).parent / "schemas"
_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_BY_TYPE: Final[dict[SignalType, type[BaseModel]]] = {
    SignalType.EMAIL_OPENED: EmailOpened,
    SignalType.PAGE_VISITED: PageVisited,
    SignalType.JOB_CHANGED: JobChanged,
    SignalType.FUNDING_ANNOUNCED: FundingAnnounced,
}


# The other contracts: (file name, title, model, mode). Inbound ones validate what a
# producer sends; outbound ones describe what the engine writes.
_OTHERS: Final[list[tuple[str, str, Any, Literal["validation", "serialization"]]]] = [
    ("activity.schema.json", "Activity", Activity, "validation"),
    ("crm_contact.schema.json", "CrmContact", CrmContact, "validation"),
    ("window_opened.schema.json", "WindowOpened", WindowOpened, "serialization"),
    ("window_closed.schema.json", "WindowClosed", WindowClosed, "serialization"),
    ("erasure_request.schema.json", "ErasureRequest", ErasureRequest, "validation"),
    ("erasure_receipt.schema.json", "ErasureReceipt", ErasureReceipt, "serialization"),
]


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every topic contract."""
    out: dict[str, dict[str, Any]] = {
        "signal.schema.json": _stamp(
            "signal.schema.json",
            "Signal",
            TypeAdapter(Signal).json_schema(mode="validation"),
        )
    }
    for kind, model in _BY_TYPE.items():
        name = f"{kind.value}.schema.json"
        out[name] = _stamp(name, model.__name__, model.model_json_schema(mode="validation"))
    for name, title, model, mode in _OTHERS:
        out[name] = _stamp(name, title, TypeAdapter(model).json_schema(mode=mode))
    return out


def render(schema: dict[str, Any]) -> str:
    """The exact text written to disk (stable, so the drift test can compare bytes)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path | str = DEFAULT_DIR) -> list[Path]:
    """Write every schema into `directory` (created if needed); returns the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = target / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m signals.schema [DIR]`: regenerate the schema files."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in {"-h", "--help"}):
        print("usage: python -m signals.schema [DIR]", file=sys.stderr)
        return 2
    for path in write_schemas(args[0] if args else DEFAULT_DIR):
        print(path)
    return 0


def _stamp(name: str, title: str, schema: dict[str, Any]) -> dict[str, Any]:
    # `$schema`/`$id` first so the files read well; the rest keeps pydantic's order.
    return {
        "$schema": _DIALECT,
        "$id": name,
        "title": title,
        **{k: v for k, v in schema.items() if k != "title"},
    }


if __name__ == "__main__":
    raise SystemExit(main())
