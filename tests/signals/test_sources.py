"""`adapt`: Segment, RudderStack and CloudEvents payloads (shaped per the public specs) to the
contract, unmapped events dropped by rule, broken ones rejected without values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from signals.activity import Bounced, OptedOut
from signals.codec import Rejected
from signals.contacts import CrmContact, keep_roles_on_file
from signals.models import EmailOpened, FundingAnnounced, PageVisited
from signals.sources import Unmapped, adapt, parse_sources
from signals.sources.examples import (
    cloudevent_binary,
    cloudevent_from_contract,
    rudderstack_from_segment,
    segment_from_contract,
    segment_identify,
    segment_page,
    segment_track,
)
from tests.support import ICP_ACCOUNT, ICP_PERSON, event

AT = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
SOURCES = parse_sources(
    """
sources:
  - {name: web, topic: segment.events, format: segment}
  - {name: rudder, topic: rudder.events, format: rudderstack}
  - {name: services, topic: ce.events, format: cloudevents}
  - {name: extra, topic: contract.events, format: contract, signal_type: page_visited}
"""
)
WEB, RUDDER, CE = SOURCES.named("web"), SOURCES.named("rudder"), SOURCES.named("services")
assert WEB is not None and RUDDER is not None and CE is not None


def _adapt(body: Any, source: Any = WEB, headers: Any = None) -> Any:
    raw = body if isinstance(body, bytes | None) else orjson.dumps(body)
    return adapt(source.topic, None, raw, headers, source, max_bytes=100_000)


def test_a_segment_page_view_becomes_page_visited_with_person_and_account() -> None:
    got = _adapt(segment_page("m-1", AT, path="/pricing", person=ICP_PERSON, account=ICP_ACCOUNT))
    assert isinstance(got, PageVisited)
    assert (got.event_id, got.occurred_at, got.source) == ("m-1", AT, "web")
    assert got.properties.path == "/pricing"
    assert got.person is not None and got.person.email == ICP_PERSON["email"]
    assert got.person.title == "VP Engineering" and got.person.timezone == "America/New_York"
    assert got.account is not None and got.account.domain == "acme-data.example"
    assert (got.account.employees, got.account.industry) == (400, "software")


def test_segment_email_opened_follows_the_email_spec() -> None:
    body = segment_track(
        "Email Opened",
        "m-2",
        AT,
        person=ICP_PERSON,
        properties={"email_id": "18vzF7u3z", "email_subject": "Benchmarks", "campaign_id": "123"},
    )
    got = _adapt(body)
    assert isinstance(got, EmailOpened)
    assert got.properties.subject == "Benchmarks" and got.properties.email_id == "18vzF7u3z"
    assert got.properties.campaign_id == "123"


@pytest.mark.parametrize(
    ("name", "model"),
    [("Email Bounced", Bounced), ("Unsubscribed", OptedOut), ("Email Marked as Spam", OptedOut)],
)
def test_email_spec_feedback_events_become_outreach_activity(name: str, model: type) -> None:
    assert isinstance(_adapt(segment_track(name, "m-3", AT, person=ICP_PERSON)), model)


def test_the_segment_timestamp_wins_over_the_client_clock() -> None:
    body = segment_page("m-4", AT, path="/", person=ICP_PERSON)
    assert _adapt(body).occurred_at == AT
    del body["timestamp"]
    assert _adapt(body).occurred_at < AT  # originalTimestamp (client clock) is the fallback


def test_rudderstack_sends_the_same_spec() -> None:
    body = rudderstack_from_segment(
        segment_page("r-1", AT, path="/pricing", person=ICP_PERSON, account=ICP_ACCOUNT)
    )
    got = _adapt(body, RUDDER)
    assert isinstance(got, PageVisited) and got.source == "rudder" and got.event_id == "r-1"
    del body["timestamp"]  # an SDK payload before the server adds it
    assert _adapt(body, RUDDER).occurred_at.isoformat() == body["originalTimestamp"].replace(
        "Z", "+00:00"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (segment_track("Button Clicked", "u-1", AT, person=ICP_PERSON), "event"),
        ({**segment_page("u-2", AT, path="/", person=ICP_PERSON), "type": "screen"}, "call"),
        ({"type": "group", "groupId": "acme-data.example", "messageId": "u-3"}, "call"),
        ({"type": "alias", "previousId": "a", "userId": "b", "messageId": "u-4"}, "call"),
        (segment_page("u-5", AT, path="/pricing", person=None), "anonymous"),
        (segment_identify("u-6", AT, person={"email": "sam@gmail.com"}), "no_account"),
    ],
)
def test_events_the_mapping_does_not_cover_are_unmapped_not_errors(
    body: dict[str, Any], reason: str
) -> None:
    got = _adapt(body)
    assert isinstance(got, Unmapped) and got.reason == reason


def test_an_anonymous_visit_at_a_known_account_counts_for_the_account() -> None:
    got = _adapt(segment_page("a-1", AT, path="/pricing", person=None, account=ICP_ACCOUNT))
    assert isinstance(got, PageVisited) and got.person is None
    assert got.account is not None and got.account.domain == "acme-data.example"


def test_an_opaque_group_id_is_skipped_and_a_domain_shaped_one_used() -> None:
    body = segment_page("g-1", AT, path="/", person=None)
    body["context"]["groupId"] = "acct_42"
    assert isinstance(_adapt(body), Unmapped)
    body["context"]["groupId"] = "www.Globex.example"
    got = _adapt(body)
    assert got.account is not None and got.account.domain == "globex.example"


@pytest.mark.parametrize(
    ("mutate", "reason", "field"),
    [
        (lambda b: b.pop("type"), "unmapped", "type"),
        (lambda b: b.update(type="purchase"), "unmapped", "type"),
        (lambda b: b.pop("event"), "invalid", "event"),
        (lambda b: b.pop("messageId"), "invalid", "event_id"),
        (lambda b: (b.pop("timestamp"), b.pop("originalTimestamp")), "invalid", "occurred_at"),
        (lambda b: b["context"]["traits"].update(email="not-an-email"), "invalid", "person.email"),
    ],
)
def test_a_record_that_claims_the_format_but_breaks_it_is_rejected(
    mutate: Any, reason: str, field: str
) -> None:
    body = segment_track("Email Opened", "b-1", AT, person=ICP_PERSON)
    mutate(body)
    got = _adapt(body)
    assert isinstance(got, Rejected) and got.reason == reason
    assert field in got.detail
    assert "dana" not in got.detail and "not-an-email" not in got.detail  # no values


def test_transport_failures_keep_the_codec_reasons() -> None:
    assert _adapt(None).reason == "tombstone"
    assert _adapt(b"[1, 2]").reason == "not_object"
    assert _adapt(b"x" * 100_001).reason == "oversized"


def test_identify_becomes_a_crm_contact_that_states_no_roles() -> None:
    person = {**ICP_PERSON, "id": "user-7", "title": "CTO"}
    got = _adapt(segment_identify("i-1", AT, person=person, account=ICP_ACCOUNT))
    assert isinstance(got, CrmContact)
    assert got.person.title == "CTO" and got.person.id == "user-7"
    assert got.account.domain == "acme-data.example"
    assert got.roles is None
    assert keep_roles_on_file(got, ("champion",)).roles == ("champion",)
    # Without a company, a work email places the person at its domain.
    got = _adapt(segment_identify("i-2", AT, person={"email": "kim@globex.example"}))
    assert isinstance(got, CrmContact) and got.account.domain == "globex.example"


FUNDING = event(
    "funding_announced",
    "fund-1",
    AT,
    account=ICP_ACCOUNT,
    round="Series B",
    amount_usd=40_000_000,
)


def test_a_structured_cloudevent_maps_like_the_contract_event() -> None:
    body = cloudevent_from_contract(FUNDING, source="/crm/funding")
    got = _adapt(body, CE, headers=[("content-type", b"application/cloudevents+json")])
    assert isinstance(got, FundingAnnounced)
    assert got.event_id == "/crm/funding#fund-1" and got.occurred_at == AT
    assert got.properties.round == "Series B" and got.properties.amount_usd == 40_000_000


def test_a_binary_cloudevent_maps_to_the_same_record() -> None:
    headers, value = cloudevent_binary(FUNDING, source="/crm/funding")
    got = _adapt(value, CE, headers=headers)
    structured = _adapt(cloudevent_from_contract(FUNDING, source="/crm/funding"), CE)
    assert got == structured


@pytest.mark.parametrize("missing", ["ce_id", "ce_time", "ce_source", "ce_type"])
def test_a_binary_cloudevent_without_a_required_attribute_is_invalid(missing: str) -> None:
    headers, value = cloudevent_binary(FUNDING, source="/crm/funding")
    got = _adapt(value, CE, headers=[h for h in headers if h[0] != missing])
    assert isinstance(got, Rejected) and got.reason == "invalid"
    # id/source/type: the CloudEvent is broken; time: the mapping has no event time.
    assert missing.removeprefix("ce_") in got.detail or "occurred_at" in got.detail


def test_cloudevents_edge_cases() -> None:
    headers, value = cloudevent_binary(FUNDING, source="/crm/funding")
    bad_time = [(k, b"yesterday" if k == "ce_time" else v) for k, v in headers]
    assert _adapt(value, CE, headers=bad_time).reason == "invalid"
    other = [(k, b"com.example.other" if k == "ce_type" else v) for k, v in headers]
    assert isinstance(_adapt(value, CE, headers=other), Unmapped)
    assert _adapt({"hello": "world"}, CE).reason == "unmapped"  # neither mode
    assert _adapt(b"not json", CE).reason == "not_json"


def test_a_contract_source_decodes_the_contract_with_its_default_type() -> None:
    extra = SOURCES.named("extra")
    body = event("page_visited", "c-1", AT, person=ICP_PERSON, path="/pricing")
    del body["type"]
    assert isinstance(_adapt(body, extra), PageVisited)


def test_amendments_add_rules_before_the_preset_and_can_drop_events() -> None:
    sources = parse_sources(
        """
sources:
  - name: web
    topic: web.events
    format: segment
    mapping:
      person: {id: [userId, anonymousId]}
      events:
        - {event: Email Opened, to: null}
        - event: Pricing Calculator Used
          to: page_visited
          properties: {path: properties.page}
      pages:
        - {path: /blog, to: null}
"""
    )
    web = sources.named("web")
    opened = segment_track("Email Opened", "x-1", AT, person=ICP_PERSON)
    assert isinstance(_adapt(opened, web), Unmapped)
    used = segment_track(
        "Pricing Calculator Used", "x-2", AT, person=ICP_PERSON, properties={"page": "/pricing"}
    )
    assert _adapt(used, web).properties.path == "/pricing"
    assert _adapt(segment_page("x-3", AT, path="/blog/post", person=ICP_PERSON), web).reason == (
        "page"
    )
    assert isinstance(
        _adapt(segment_page("x-4", AT, path="/blogs", person=ICP_PERSON), web), PageVisited
    )
    anonymous = segment_page("x-5", AT, path="/pricing", person=None)
    assert _adapt(anonymous, web).person.id == "anon-x-5"
    bounced = segment_track("Email Bounced", "x-6", AT, person=ICP_PERSON)
    assert isinstance(_adapt(bounced, web), Bounced)  # preset rules still apply


def test_segment_and_contract_shapes_agree_for_the_parity_test() -> None:
    for body in (
        event("email_opened", "p-1", AT, person=ICP_PERSON, account=ICP_ACCOUNT, subject="Hi"),
        event("page_visited", "p-2", AT, person=ICP_PERSON, account=ICP_ACCOUNT, path="/pricing"),
    ):
        got = _adapt(segment_from_contract(body))
        assert got.event_id == body["event_id"] and got.type.value == body["type"]
        assert got.person.model_dump() == {**dict.fromkeys(got.person.model_dump()), **ICP_PERSON}
