"""Identity: how people and accounts are keyed, and which key partitions a signal.

- A person is keyed by normalised email (trimmed, lowercase), else by CRM id as `id:<id>`.
- An account is keyed by normalised domain: lowercase, no trailing dot, no `www.`, and
  internationalised names in their ASCII (IDNA/punycode) form.
- A person's email at a personal mailbox provider (gmail.com and the like) says nothing
  about their employer, so it never links them to an account.
- Every signal is partitioned by its account key, so that all state of one account (the
  account and the people at it) lives on one partition and one worker. A person known by no
  account is partitioned under `person:<person key>`.
"""

from __future__ import annotations

from functools import lru_cache

from signals.models import Account, Person
from signals.records import AccountRec, PersonRec

__all__ = [
    "PERSONAL_EMAIL_DOMAINS",
    "account_key",
    "email_domain",
    "email_key",
    "is_personal_domain",
    "partition_key",
    "person_key",
    "signal_account_key",
]

# The large free and ISP mailbox providers. Kept short and sorted; extend as needed.
PERSONAL_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "aol.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "googlemail.com",
        "hey.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
        "zoho.com",
    }
)


@lru_cache(maxsize=65_536)
def account_key(domain: str) -> str:
    """Normalise a domain (or a URL-ish host) to the account key.

    Cached: the scoring path asks for the same few domains many times per signal, and the
    IDNA codec is slow.
    """
    host = domain.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].rpartition("@")[2].split(":", 1)[0].rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        # Labels the IDNA codec rejects (too long, odd characters) keep their lowercase form:
        # still a stable key, just not punycode.
        return host


def email_domain(email: str) -> str:
    return account_key(email.rpartition("@")[2])


def is_personal_domain(domain: str) -> bool:
    return account_key(domain) in PERSONAL_EMAIL_DOMAINS


def email_key(email: str) -> str:
    """The person key of an email address: trimmed, lowercase, its domain normalised."""
    local, _, domain = email.strip().rpartition("@")
    return f"{local.lower()}@{email_domain(domain)}"


def person_key(person: Person | PersonRec) -> str:
    if person.email:
        return email_key(person.email)
    assert person.id is not None  # the model guarantees one of the two
    return f"id:{person.id.strip()}"


def signal_account_key(
    account: Account | AccountRec | None, person: Person | PersonRec | None
) -> str | None:
    """The account a signal belongs to: the named account, else the person's work domain."""
    if account is not None:
        return account_key(account.domain)
    if person is not None and person.email:
        domain = email_domain(person.email)
        if domain not in PERSONAL_EMAIL_DOMAINS:
            return domain
    return None


def partition_key(account: Account | AccountRec | None, person: Person | PersonRec | None) -> str:
    """The repartition key: the account key, else `person:<person key>`."""
    key = signal_account_key(account, person)
    if key is not None:
        return key
    assert person is not None  # every signal without an account has a person
    return f"person:{person_key(person)}"
