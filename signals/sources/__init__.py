"""Declared foreign sources: Segment, RudderStack and CloudEvents topics mapped to the contract.

model      the sources file's pydantic models (strict; mappings are data)
presets    the built-in mappings, and how an amendment applies
adapt      `adapt(...)`: one record -> contract record | Unmapped | Rejected
ce_binding CloudEvents over Kafka via the SDK
loader     `load_sources(path)` with file:line:field errors
"""

from signals.sources.adapt import Adapted, CompiledSource, Unmapped, adapt, compile_source
from signals.sources.loader import SourcesError, SourceSet, load_sources, parse_sources

__all__ = [
    "Adapted",
    "CompiledSource",
    "SourceSet",
    "SourcesError",
    "Unmapped",
    "adapt",
    "compile_source",
    "load_sources",
    "parse_sources",
]
