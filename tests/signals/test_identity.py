from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals.identity import (
    account_key,
    email_domain,
    is_personal_domain,
    partition_key,
    person_key,
    signal_account_key,
)
from signals.models import Account, Person


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("example.io", "example.io"),
        ("Example.IO", "example.io"),
        ("  example.io \n", "example.io"),
        ("www.example.io", "example.io"),
        ("WWW.Example.io", "example.io"),
        ("example.io.", "example.io"),
        ("www.example.io.", "example.io"),
        ("https://www.example.io/pricing?x=1", "example.io"),
        ("http://example.io:8080", "example.io"),
        ("https://Example.io./path", "example.io"),
        ("https://user:pw@www.example.io/", "example.io"),
        ("app.example.io", "app.example.io"),
        ("wwwexample.io", "wwwexample.io"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("https://www.BÜCHER.example/", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_account_key(raw: str, key: str) -> None:
    assert account_key(raw) == key


def test_account_key_keeps_names_idna_rejects() -> None:
    too_long = "a" * 70 + ".example"
    assert account_key(too_long.upper()) == too_long


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("ana@Example.io", "example.io"),
        ("ana@www.example.io", "example.io"),
        ("ana@bücher.example", "xn--bcher-kva.example"),
        ("we@ird@example.io", "example.io"),
    ],
)
def test_email_domain(email: str, domain: str) -> None:
    assert email_domain(email) == domain


@pytest.mark.parametrize(
    ("domain", "personal"),
    [
        ("gmail.com", True),
        ("GMail.com.", True),
        ("www.outlook.com", True),
        ("proton.me", True),
        ("example.io", False),
        ("mail.example.io", False),
    ],
)
def test_is_personal_domain(domain: str, personal: bool) -> None:
    assert is_personal_domain(domain) is personal


@pytest.mark.parametrize(
    ("person", "key"),
    [
        (Person(email="Ana.Lopez@Example.IO"), "ana.lopez@example.io"),
        (Person(email="  ana@www.example.io  "), "ana@example.io"),
        (Person(email="ana@Bücher.example"), "ana@xn--bcher-kva.example"),
        (Person(email="ana@example.io", id="crm-1"), "ana@example.io"),
        (Person(id="crm-00042"), "id:crm-00042"),
        (Person(id="  crm-7 "), "id:crm-7"),
    ],
)
def test_person_key(person: Person, key: str) -> None:
    assert person_key(person) == key


@pytest.mark.parametrize(
    ("account", "person", "account_k", "partition"),
    [
        (Account(domain="www.Example.io"), None, "example.io", "example.io"),
        (Account(domain="example.io"), Person(email="a@other.io"), "example.io", "example.io"),
        (None, Person(email="a@Work.io"), "work.io", "work.io"),
        (None, Person(email="a@gmail.com"), None, "person:a@gmail.com"),
        (None, Person(id="crm-1"), None, "person:id:crm-1"),
        (Account(domain="example.io"), Person(email="a@gmail.com"), "example.io", "example.io"),
    ],
)
def test_signal_account_and_partition_keys(
    account: Account | None, person: Person | None, account_k: str | None, partition: str
) -> None:
    assert signal_account_key(account, person) == account_k
    assert partition_key(account, person) == partition


# "www" as a real label is left out: only one leading "www." is stripped, by design.
_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label != "www"
)


@given(st.lists(_label, min_size=2, max_size=4).map(".".join))
def test_account_key_is_idempotent(domain: str) -> None:
    key = account_key(domain)
    assert account_key(key) == key
    assert account_key(f"https://WWW.{domain.upper()}./x") == account_key(domain)
