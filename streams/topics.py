"""Topic names, from one place. Dead-letter topics are derived from their source's name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from signals.models import SignalType
from streams.settings import Settings

__all__ = ["Topics"]


@dataclass(frozen=True, slots=True)
class Topics:
    inputs: dict[str, SignalType]  # input topic name -> the signal type it carries by default
    contacts: str
    activity: str
    keyed: str
    windows_opened: str
    windows_closed: str
    dead_letter_suffix: str
    sources: tuple[str, ...] = ()  # declared foreign source topics (signals.sources)
    suppressions: str = "followup.suppressions"  # person-level suppressions (salted keys)
    erasure: str = "privacy.erasure"  # erasure requests (signals.erasure)
    erasure_done: str = "privacy.erasure.done"  # their receipts

    @classmethod
    def from_settings(cls, settings: Settings, *, sources: Iterable[str] = ()) -> Topics:
        return cls(
            inputs={
                settings.topic_email_opened: SignalType.EMAIL_OPENED,
                settings.topic_page_visited: SignalType.PAGE_VISITED,
                settings.topic_job_changed: SignalType.JOB_CHANGED,
                settings.topic_funding_announced: SignalType.FUNDING_ANNOUNCED,
            },
            contacts=settings.topic_crm_contacts,
            activity=settings.topic_outreach_activity,
            keyed=settings.topic_keyed,
            windows_opened=settings.topic_windows_opened,
            windows_closed=settings.topic_windows_closed,
            dead_letter_suffix=settings.dead_letter_suffix,
            sources=tuple(sources),
            suppressions=settings.topic_suppressions,
            erasure=settings.topic_erasure,
            erasure_done=settings.topic_erasure_done,
        )

    def dead_letter(self, source_topic: str) -> str:
        return f"{source_topic}{self.dead_letter_suffix}"

    def sink_dead_letter(self, sink: str) -> str:
        """Where a sink puts windows it could not deliver: `<windows-opened>.<sink>.dlq`."""
        return f"{self.windows_opened}.{sink}{self.dead_letter_suffix}"

    def for_signal(self, signal_type: SignalType) -> str:
        """The input topic a signal type is produced to (the first configured for it)."""
        for name, kind in self.inputs.items():
            if kind == signal_type:
                return name
        raise KeyError(signal_type)

    @property
    def all_created(self) -> list[str]:
        """Every topic the engine expects to exist (Faust creates its changelogs itself)."""
        sources = [*self.inputs, self.contacts, self.activity, *self.sources, self.erasure]
        sources.append(self.keyed)
        names = [*sources, self.windows_opened, self.windows_closed, self.suppressions]
        names.append(self.erasure_done)
        names += [self.dead_letter(t) for t in sources]
        names += [self.sink_dead_letter(sink) for sink in ("webhook", "slack")]
        return names
