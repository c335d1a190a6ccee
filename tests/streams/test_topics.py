from __future__ import annotations

from signals.models import SignalType
from streams.settings import Settings
from streams.topics import Topics


def test_dead_letter_topics_are_named_after_their_source() -> None:
    topics = Topics.from_settings(Settings(dead_letter_suffix=".dead"))
    assert topics.dead_letter("signals.page-visited") == "signals.page-visited.dead"


def test_every_input_and_internal_topic_has_a_dead_letter_topic() -> None:
    topics = Topics.from_settings(Settings())
    created = set(topics.all_created)
    for source in [*topics.inputs, topics.contacts, topics.erasure, topics.keyed]:
        assert source in created
        assert topics.dead_letter(source) in created
    assert {topics.windows_opened, topics.erasure_done} <= created


def test_input_topics_map_to_their_signal_type() -> None:
    topics = Topics.from_settings(Settings(topic_funding_announced="crm.funding"))
    assert topics.inputs["crm.funding"] is SignalType.FUNDING_ANNOUNCED
    assert topics.for_signal(SignalType.FUNDING_ANNOUNCED) == "crm.funding"
